//! Groups and their members.

use super::super::tx::*;
use super::super::*;
use super::{create_numbered, set_membership, Applied, Batch};

/// Applies one operation of this family inside the batch's transaction.
pub(super) async fn apply(b: &mut Batch, op: &AuthzOp) -> Result<Applied, Error> {
    let (tx, changes, at) = b.parts();

    let (action, target, details) = match op {
        AuthzOp::CreateGroup { name, description } => {
            check_name("name", name)?;
            let num = create_numbered(
                tx,
                "group",
                "INSERT INTO authz_groups (num, name, description, created_at) \
                 VALUES ($1, $2, $3, $4)",
                [name.into(), description.into(), at.into()],
                || format!("a group named `{name}` already exists"),
            )
            .await?;
            changes.push(Change::Group {
                num: n32(num, "group")?,
                name: name.clone(),
            });
            ("authz.group.create", format!("group:{name}"), json!({}))
        }
        AuthzOp::DeleteGroup { name } => {
            let num = group_tx(tx, name).await?;
            let p = i64::from(Principal::group(n32(num, "group")?).raw());
            let grants = tx
                .rows(
                    "SELECT entity_num, record_num FROM acl_grants WHERE principal = $1",
                    [p.into()],
                )
                .await?;
            for row in &grants {
                let e: i64 = row.get("entity_num")?;
                let r: i64 = row.get("record_num")?;
                changes.push(Change::Grant {
                    entity: n32(e, "entity")?,
                    record: u64::try_from(r).unwrap_or(0),
                    principal: Principal::from_raw(p as u32).raw(),
                    actions: 0,
                });
            }
            for sql in [
                "DELETE FROM acl_grants WHERE principal = $1",
                "DELETE FROM authz_role_grants WHERE principal = $1",
            ] {
                tx.exec(sql, [p.into()]).await?;
            }
            tx.exec("DELETE FROM authz_groups WHERE num = $1", [num.into()])
                .await?;
            changes.push(Change::GroupDeleted {
                num: n32(num, "group")?,
            });
            (
                "authz.group.delete",
                format!("group:{name}"),
                json!({ "grants_removed": grants.len() }),
            )
        }
        AuthzOp::AddGroupMember { group, user } | AuthzOp::RemoveGroupMember { group, user } => {
            let add = matches!(op, AuthzOp::AddGroupMember { .. });
            let g = group_tx(tx, group).await?;
            let u = user_num_tx(tx, *user, changes).await?;
            let sql = if add {
                "INSERT INTO authz_group_members (group_num, user_num) VALUES ($1, $2)"
            } else {
                "DELETE FROM authz_group_members WHERE group_num = $1 AND user_num = $2"
            };
            set_membership(
                tx,
                add,
                sql,
                [g.into(), i64::from(u).into()],
                || format!("user {user} is already a member of `{group}`"),
                || format!("user {user} is not a member of `{group}`"),
            )
            .await?;
            changes.push(Change::GroupMember {
                group: n32(g, "group")?,
                user: u,
                member: add,
            });
            (
                if add {
                    "authz.group.member.add"
                } else {
                    "authz.group.member.remove"
                },
                format!("group:{group}"),
                json!({ "user": user.to_string() }),
            )
        }
        _ => return Err(super::not_in_family(op)),
    };
    Ok(Applied::new(action, target, details))
}
