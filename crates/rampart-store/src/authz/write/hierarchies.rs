//! Hierarchies, their nodes and unit members.

use crate::db::Arg;

use super::super::tx::*;
use super::super::*;
use super::{refuse_while_named, set_membership, Applied, Batch};

/// Applies one operation of this family inside the batch's transaction.
pub(super) async fn apply(b: &mut Batch, op: &AuthzOp) -> Result<Applied, Error> {
    let (tx, changes, at) = b.parts();

    let (action, target, details) = match op {
        AuthzOp::CreateHierarchy { name, kind } => {
            check_name("name", name)?;
            let num = next_num(tx, "hierarchy").await?;
            if num > i64::from(rampart_authz::acl::MAX_HIERARCHY) {
                return Err(Error::invalid("name", "too many hierarchies"));
            }
            tx.exec(
                "INSERT INTO authz_hierarchies (num, name, kind, created_at) VALUES ($1, \
                     $2, $3, $4)",
                [num.into(), name.into(), kind_name(*kind).into(), at.into()],
            )
            .await
            .map_err(unique(|| {
                format!("a hierarchy named `{name}` already exists")
            }))?;
            changes.push(Change::Hierarchy {
                num: n16(num, "hierarchy")?,
                name: name.clone(),
                kind: kind_name(*kind).into(),
            });
            (
                "authz.hierarchy.create",
                format!("hierarchy:{name}"),
                json!({ "kind": kind_name(*kind) }),
            )
        }
        AuthzOp::DeleteHierarchy { name } => {
            let (h, _) = hierarchy_tx(tx, name).await?;
            refuse_while_named(
                tx,
                "SELECT name FROM acl_entities WHERE owner_hierarchy = $1 ORDER BY name",
                i64::from(h),
                |entities| {
                    format!(
                        "hierarchy `{name}` is the owner hierarchy of {entities}: change their rules first"
                    )
                },
            )
            .await?;
            let id = HierarchyId(h);
            let (lo, hi) = (
                i64::from(Principal::node(id, 0).raw()),
                i64::from(Principal::node(id, rampart_authz::acl::MAX_NODE).raw()),
            );
            let mut granted: i64 = 0;
            for sql in [
                "SELECT COUNT(*) FROM acl_grants WHERE principal BETWEEN $1 AND $2",
                "SELECT COUNT(*) FROM authz_role_grants WHERE principal BETWEEN $1 AND $2",
            ] {
                let n: i64 = tx.scalar(sql, [lo.into(), hi.into()]).await?;
                granted += n;
            }
            if granted > 0 {
                return Err(Error::Conflict(format!(
                    "{granted} grant(s) name nodes of hierarchy `{name}`: remove them first"
                )));
            }
            let h64 = i64::from(h);
            tx.exec(
                "DELETE FROM authz_unit_members WHERE hierarchy_num = $1",
                [h64.into()],
            )
            .await?;
            let nodes = tx
                .exec(
                    "DELETE FROM authz_nodes WHERE hierarchy_num = $1",
                    [h64.into()],
                )
                .await?;
            tx.exec("DELETE FROM authz_hierarchies WHERE num = $1", [h64.into()])
                .await?;
            changes.push(Change::HierarchyDeleted { num: h });
            (
                "authz.hierarchy.delete",
                format!("hierarchy:{name}"),
                json!({ "nodes_removed": nodes }),
            )
        }
        AuthzOp::SetParent {
            hierarchy,
            node,
            parent,
        } => {
            let (h, kind) = hierarchy_tx(tx, hierarchy).await?;
            let (num, old_path) = node_tx(tx, h, kind, node, changes).await?;
            let (parent_num, new_path) = match parent {
                Some(p) => {
                    let (pn, ppath) = node_tx(tx, h, kind, p, changes).await?;
                    if ppath.starts_with(&old_path) {
                        return Err(Error::Conflict(format!(
                            "`{}` cannot be placed under `{}` in `{hierarchy}`: that would make a cycle",
                            node.describe(),
                            p.describe()
                        )));
                    }
                    (Some(pn), [&ppath[..], &segment(num)].concat())
                }
                None => (None, segment(num).to_vec()),
            };
            // Re-root the whole subtree's materialised paths in one statement
            // (SQLite's `||` makes text of two blobs: cast it back).
            let sql = match tx.kind() {
                crate::BackendKind::Sqlite => {
                    "UPDATE authz_node_paths SET path = CAST($1 || substr(path, $2) AS BLOB) \
                     WHERE hierarchy_num = $3 AND path >= $4 AND path < $5"
                }
                crate::BackendKind::Postgres => {
                    "UPDATE authz_node_paths SET path = $1 || substr(path, $2) \
                     WHERE hierarchy_num = $3 AND path >= $4 AND path < $5"
                }
            };
            let moved = tx
                .exec(
                    sql,
                    [
                        Arg::from(&new_path),
                        Arg::from(i32::try_from(old_path.len() + 1).unwrap_or(i32::MAX)),
                        Arg::from(i64::from(h)),
                        Arg::from(&old_path),
                        Arg::from(path_end(&old_path)),
                    ],
                )
                .await?;
            tx.exec(
                "UPDATE authz_nodes SET parent_num = $1 WHERE hierarchy_num = $2 AND node_num = $3",
                [
                    Arg::from(parent_num.map(i64::from)),
                    Arg::from(i64::from(h)),
                    Arg::from(i64::from(num)),
                ],
            )
            .await?;
            changes.push(Change::Node {
                hierarchy: h,
                node: num,
                key: node.describe(),
                parent: parent_num,
            });
            (
                "authz.hierarchy.set_parent",
                format!("hierarchy:{hierarchy}"),
                json!({
                    "node": node.describe(),
                    "parent": parent.as_ref().map(NodeRef::describe),
                    "subtree_size": moved,
                }),
            )
        }
        AuthzOp::AddUnitMember {
            hierarchy,
            unit,
            user,
        }
        | AuthzOp::RemoveUnitMember {
            hierarchy,
            unit,
            user,
        } => {
            let add = matches!(op, AuthzOp::AddUnitMember { .. });
            let (h, kind) = hierarchy_tx(tx, hierarchy).await?;
            if kind != HierarchyKind::Units {
                return Err(Error::invalid(
                    "hierarchy",
                    format!("`{hierarchy}` is a reports-to hierarchy: users are its nodes, set their parent instead"),
                ));
            }
            let (node, _) = node_tx(tx, h, kind, &NodeRef::Key(unit.clone()), changes).await?;
            let u = user_num_tx(tx, *user, changes).await?;
            let sql = if add {
                "INSERT INTO authz_unit_members (hierarchy_num, node_num, user_num) VALUES ($1, $2, $3)"
            } else {
                "DELETE FROM authz_unit_members WHERE hierarchy_num = $1 AND node_num = $2 AND user_num = $3"
            };
            set_membership(
                tx,
                add,
                sql,
                [
                    i64::from(h).into(),
                    i64::from(node).into(),
                    i64::from(u).into(),
                ],
                || format!("user {user} already sits in `{unit}`"),
                || format!("user {user} does not sit in `{unit}`"),
            )
            .await?;
            changes.push(Change::UnitMember {
                hierarchy: h,
                node,
                user: u,
                member: add,
            });
            (
                if add {
                    "authz.unit.member.add"
                } else {
                    "authz.unit.member.remove"
                },
                format!("hierarchy:{hierarchy}/{unit}"),
                json!({ "user": user.to_string() }),
            )
        }
        _ => return Err(super::not_in_family(op)),
    };
    Ok(Applied::new(action, target, details))
}
