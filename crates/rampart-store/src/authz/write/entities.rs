//! ACL entities, their records and explicit grants.

use crate::db::Arg;

use super::super::tx::*;
use super::super::*;
use super::{remove_one, Applied, Batch};

/// Applies one operation of this family inside the batch's transaction.
pub(super) async fn apply(b: &mut Batch, op: &AuthzOp) -> Result<Applied, Error> {
    let (tx, changes, at) = b.parts();

    let (action, target, details) = match op {
        AuthzOp::PutEntity {
            name,
            public,
            owner_hierarchy,
            grants,
        } => {
            check_name("name", name)?;
            let owner = match owner_hierarchy {
                Some(hname) => {
                    let (h, kind) = hierarchy_tx(tx, hname).await?;
                    if kind != HierarchyKind::ReportsTo {
                        return Err(Error::invalid(
                            "owner_hierarchy",
                            format!("`{hname}` is a unit hierarchy; the owner rule needs a reports-to hierarchy"),
                        ));
                    }
                    Some(h)
                }
                None => None,
            };
            let existing: Option<i64> = tx
                .scalar_opt(
                    "SELECT num FROM acl_entities WHERE name = $1",
                    [name.into()],
                )
                .await?;
            let num = match existing {
                Some(n) => {
                    tx.exec(
                        "UPDATE acl_entities SET public_actions = $1, owner_hierarchy = $2, \
                             grants = $3 WHERE num = $4",
                        [
                            Arg::from(i64::from(public.bits())),
                            Arg::from(owner.map(i64::from)),
                            Arg::from(*grants),
                            n.into(),
                        ],
                    )
                    .await?;
                    n
                }
                None => {
                    let n = next_num(tx, "entity").await?;
                    tx.exec(
                        "INSERT INTO acl_entities (num, name, public_actions, \
                             owner_hierarchy, grants, created_at) VALUES ($1, $2, $3, $4, $5, \
                             $6)",
                        [
                            n.into(),
                            name.into(),
                            Arg::from(i64::from(public.bits())),
                            Arg::from(owner.map(i64::from)),
                            Arg::from(*grants),
                            at.into(),
                        ],
                    )
                    .await?;
                    n
                }
            };
            changes.push(Change::Entity {
                num: n32(num, "entity")?,
                name: name.clone(),
                public: public.bits(),
                owner,
                grants: *grants,
            });
            (
                "authz.entity.put",
                format!("entity:{name}"),
                json!({
                    "public": public.names(),
                    "owner_hierarchy": owner_hierarchy,
                    "grants": grants,
                }),
            )
        }
        AuthzOp::PutRecords { entity, records } => {
            let e = entity_tx(tx, entity).await?;
            let mut added = 0i64;
            for (key, owner) in records {
                rampart_core::Key::parse("key", key)?;
                let owner_num = match owner {
                    Some(u) => Some(i64::from(user_num_tx(tx, *u, changes).await?)),
                    None => None,
                };
                let updated = tx.exec(
                    "UPDATE acl_records SET owner_num = $1 WHERE entity_num = $2 AND record_key = \
                         $3",
                    [owner_num.into(), Arg::from(i64::from(e)), key.into()],
                ).await?;
                if updated == 0 {
                    let n = next_num(tx, &format!("record:{e}")).await?;
                    tx.exec(
                        "INSERT INTO acl_records (entity_num, record_num, record_key, \
                             owner_num) VALUES ($1, $2, $3, $4)",
                        [
                            Arg::from(i64::from(e)),
                            n.into(),
                            key.into(),
                            owner_num.into(),
                        ],
                    )
                    .await?;
                    added += 1;
                }
            }
            changes.push(Change::Records {
                entity: e,
                delta: added,
            });
            (
                "authz.records.put",
                format!("entity:{entity}"),
                json!({ "records": records.len(), "created": added }),
            )
        }
        AuthzOp::DeleteRecord { entity, key } => {
            let e = entity_tx(tx, entity).await?;
            let r = record_tx(tx, e, key).await?;
            let grants: Vec<i64> = tx
                .scalars(
                    "SELECT principal FROM acl_grants WHERE entity_num = $1 AND record_num = $2",
                    [Arg::from(i64::from(e)), Arg::from(r as i64)],
                )
                .await?;
            for p in &grants {
                changes.push(Change::Grant {
                    entity: e,
                    record: r,
                    principal: n32(*p, "principal")?,
                    actions: 0,
                });
            }
            for sql in [
                "DELETE FROM acl_grants WHERE entity_num = $1 AND record_num = $2",
                "DELETE FROM acl_records WHERE entity_num = $1 AND record_num = $2",
            ] {
                tx.exec(sql, [Arg::from(i64::from(e)), Arg::from(r as i64)])
                    .await?;
            }
            changes.push(Change::Records {
                entity: e,
                delta: -1,
            });
            (
                "authz.record.delete",
                format!("entity:{entity}/{key}"),
                json!({}),
            )
        }
        AuthzOp::AddGrant {
            entity,
            record,
            principal,
            actions,
        } => {
            if actions.is_empty() {
                return Err(Error::invalid(
                    "actions",
                    "grant at least one of read, write",
                ));
            }
            let e = entity_tx(tx, entity).await?;
            let r = record_tx(tx, e, record).await?;
            let p = principal_tx(tx, principal, changes).await?;
            tx.exec(
                "INSERT INTO acl_grants (entity_num, record_num, principal, actions, record_key) \
                 VALUES ($1, $2, $3, $4, $5)",
                [
                    i64::from(e).into(),
                    (r as i64).into(),
                    i64::from(p.raw()).into(),
                    i64::from(actions.bits()).into(),
                    record.into(),
                ],
            )
            .await
            .map_err(unique(|| {
                format!(
                    "{} already has a grant on `{record}`; remove it first to change it",
                    principal.describe()
                )
            }))?;
            changes.push(Change::Grant {
                entity: e,
                record: r,
                principal: p.raw(),
                actions: actions.bits(),
            });
            (
                "authz.grant.add",
                format!("entity:{entity}/{record}"),
                json!({ "principal": principal.describe(), "actions": actions.names() }),
            )
        }
        AuthzOp::RemoveGrant {
            entity,
            record,
            principal,
        } => {
            let e = entity_tx(tx, entity).await?;
            let r = record_tx(tx, e, record).await?;
            let p = principal_tx(tx, principal, changes).await?;
            remove_one(
                tx,
                "DELETE FROM acl_grants \
                 WHERE entity_num = $1 AND record_num = $2 AND principal = $3",
                [
                    i64::from(e).into(),
                    (r as i64).into(),
                    i64::from(p.raw()).into(),
                ],
                "principal",
                || format!("{} has no grant on `{record}`", principal.describe()),
            )
            .await?;
            changes.push(Change::Grant {
                entity: e,
                record: r,
                principal: p.raw(),
                actions: 0,
            });
            (
                "authz.grant.remove",
                format!("entity:{entity}/{record}"),
                json!({ "principal": principal.describe() }),
            )
        }
        _ => return Err(super::not_in_family(op)),
    };
    Ok(Applied::new(action, target, details))
}
