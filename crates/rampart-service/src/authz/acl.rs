//! Authorization data written by administrators: groups, hierarchies and units, entities,
//! records and grants, applications, roles and role grants; every batch in one transaction,
//! each operation its audit event, applied to the node's index before it is acknowledged.

use rampart_api::{PrincipalWire, WriteOp};
use rampart_authz::acl::{Actions, HierarchyKind};
use rampart_authz::view::{AuthzView, PrincipalRef};
use rampart_core::{Error, UserId};
use rampart_store::{AuthzOp, NodeRef};

use crate::caller::Caller;
use crate::state::AppState;

/// Changes authorization data; all operations commit together or none does. Answers the
/// revision the change committed at. Callers are administrators (the adapters check).
pub async fn write(
    state: &AppState,
    caller: &Caller,
    operations: &[WriteOp],
) -> Result<u64, Error> {
    crate::identity::mfa::require_step_up(state, caller, "changing authorization data").await?;
    // Hierarchy kinds decide how a node is named; the view must know every hierarchy.
    super::begin_batch(state, operations.len()).await?;
    let ops: Vec<AuthzOp> = {
        let view = state.authz.view();
        let mut created: Vec<(String, HierarchyKind)> = Vec::new();
        let mut ops = Vec::with_capacity(operations.len());
        for (i, op) in operations.iter().enumerate() {
            let op = to_op((&view, &created), op, &format!("operations[{i}]"))?;
            if let AuthzOp::CreateHierarchy { name, kind } = &op {
                created.push((name.clone(), *kind));
            }
            ops.push(op);
        }
        ops
    };
    super::commit(state, &caller.audit, &ops).await
}

/// An ACL action by name: `read` or `write`.
pub fn action(raw: &str, field: &str) -> Result<Actions, Error> {
    match raw {
        "read" => Ok(Actions::READ),
        "write" => Ok(Actions::WRITE),
        _ => Err(Error::invalid(field, "must be `read` or `write`")),
    }
}

/// A set of ACL actions by name.
pub fn actions(raw: &[String], field: &str) -> Result<Actions, Error> {
    raw.iter()
        .try_fold(Actions::NONE, |acc, a| Ok(acc.union(action(a, field)?)))
}

fn user_id(raw: &str, field: &str) -> Result<UserId, Error> {
    UserId::parse(raw, field)
}

/// A principal of the API as the authorization index names it.
pub(crate) fn principal(p: &PrincipalWire, field: &str) -> Result<PrincipalRef, Error> {
    Ok(match p {
        PrincipalWire::User { id } => PrincipalRef::User(user_id(id, field)?),
        PrincipalWire::Group { name } => PrincipalRef::Group(name.clone()),
        PrincipalWire::Unit { hierarchy, unit } => PrincipalRef::Node {
            hierarchy: hierarchy.clone(),
            node: unit.clone(),
        },
    })
}

/// Hierarchy kinds by name: the view's, and those created earlier in the same batch.
type Kinds<'a> = (&'a AuthzView, &'a [(String, HierarchyKind)]);

fn node(kinds: Kinds<'_>, hierarchy: &str, raw: &str, field: &str) -> Result<NodeRef, Error> {
    // Reports-to nodes are users; unit nodes are keys. Unknown hierarchies are reported by
    // the store with the rest of the batch.
    let kind = kinds
        .1
        .iter()
        .find(|(name, _)| name == hierarchy)
        .map(|(_, k)| *k)
        .or_else(|| kinds.0.hierarchy(hierarchy).map(|(_, k)| k));
    match kind {
        Some(HierarchyKind::ReportsTo) => Ok(NodeRef::User(user_id(raw, field)?)),
        _ => Ok(NodeRef::Key(raw.to_owned())),
    }
}

fn to_op(view: Kinds<'_>, op: &WriteOp, at: &str) -> Result<AuthzOp, Error> {
    let f = |name: &str| format!("{at}.{name}");
    Ok(match op {
        WriteOp::CreateGroup { name, description } => AuthzOp::CreateGroup {
            name: name.clone(),
            description: description.clone(),
        },
        WriteOp::DeleteGroup { name } => AuthzOp::DeleteGroup { name: name.clone() },
        WriteOp::AddGroupMember { group, user } => AuthzOp::AddGroupMember {
            group: group.clone(),
            user: user_id(user, &f("user"))?,
        },
        WriteOp::RemoveGroupMember { group, user } => AuthzOp::RemoveGroupMember {
            group: group.clone(),
            user: user_id(user, &f("user"))?,
        },
        WriteOp::CreateHierarchy { name, kind } => AuthzOp::CreateHierarchy {
            name: name.clone(),
            kind: match kind.as_str() {
                "reports_to" => HierarchyKind::ReportsTo,
                "units" => HierarchyKind::Units,
                _ => return Err(Error::invalid(f("kind"), "must be `reports_to` or `units`")),
            },
        },
        WriteOp::DeleteHierarchy { name } => AuthzOp::DeleteHierarchy { name: name.clone() },
        WriteOp::SetParent {
            hierarchy,
            node: n,
            parent,
        } => AuthzOp::SetParent {
            hierarchy: hierarchy.clone(),
            node: node(view, hierarchy, n, &f("node"))?,
            parent: parent
                .as_deref()
                .map(|p| node(view, hierarchy, p, &f("parent")))
                .transpose()?,
        },
        WriteOp::AddUnitMember {
            hierarchy,
            unit,
            user,
        } => AuthzOp::AddUnitMember {
            hierarchy: hierarchy.clone(),
            unit: unit.clone(),
            user: user_id(user, &f("user"))?,
        },
        WriteOp::RemoveUnitMember {
            hierarchy,
            unit,
            user,
        } => AuthzOp::RemoveUnitMember {
            hierarchy: hierarchy.clone(),
            unit: unit.clone(),
            user: user_id(user, &f("user"))?,
        },
        WriteOp::PutEntity {
            name,
            public,
            owner_hierarchy,
            grants,
        } => AuthzOp::PutEntity {
            name: name.clone(),
            public: actions(public, &f("public"))?,
            owner_hierarchy: owner_hierarchy.clone(),
            grants: *grants,
        },
        WriteOp::PutRecords { entity, records } => {
            if records.is_empty() || records.len() > 1_000 {
                return Err(Error::invalid(f("records"), "give 1 to 1,000 records"));
            }
            AuthzOp::PutRecords {
                entity: entity.clone(),
                records: records
                    .iter()
                    .map(|r| {
                        Ok((
                            r.key.clone(),
                            r.owner
                                .as_deref()
                                .map(|o| user_id(o, &f("records.owner")))
                                .transpose()?,
                        ))
                    })
                    .collect::<Result<_, Error>>()?,
            }
        }
        WriteOp::DeleteRecord { entity, key } => AuthzOp::DeleteRecord {
            entity: entity.clone(),
            key: key.clone(),
        },
        WriteOp::AddGrant {
            entity,
            record,
            principal: p,
            actions: a,
        } => AuthzOp::AddGrant {
            entity: entity.clone(),
            record: record.clone(),
            principal: principal(p, &f("principal"))?,
            actions: actions(a, &f("actions"))?,
        },
        WriteOp::RemoveGrant {
            entity,
            record,
            principal: p,
        } => AuthzOp::RemoveGrant {
            entity: entity.clone(),
            record: record.clone(),
            principal: principal(p, &f("principal"))?,
        },
        WriteOp::CreateApplication { name, description } => AuthzOp::CreateApplication {
            name: name.clone(),
            description: description.clone(),
        },
        WriteOp::CreateRole {
            application,
            name,
            description,
        } => AuthzOp::CreateRole {
            app: application.clone(),
            name: name.clone(),
            description: description.clone(),
        },
        WriteOp::DeleteRole { application, name } => AuthzOp::DeleteRole {
            app: application.clone(),
            name: name.clone(),
        },
        WriteOp::GrantRole {
            application,
            role,
            principal: p,
            until,
        } => AuthzOp::GrantRole {
            app: application.clone(),
            role: role.clone(),
            principal: principal(p, &f("principal"))?,
            until: *until,
        },
        WriteOp::RevokeRole {
            application,
            role,
            principal: p,
        } => AuthzOp::RevokeRole {
            app: application.clone(),
            role: role.clone(),
            principal: principal(p, &f("principal"))?,
        },
    })
}
