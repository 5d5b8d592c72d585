//! Applications, their roles and role grants.

use crate::db::Arg;

use super::super::tx::*;
use super::super::*;
use super::{create_numbered, remove_one, Applied, Batch};

/// Applies one operation of this family inside the batch's transaction.
pub(super) async fn apply(b: &mut Batch, op: &AuthzOp) -> Result<Applied, Error> {
    let (tx, changes, at) = b.parts();

    let (action, target, details) = match op {
        AuthzOp::CreateApplication { name, description } => {
            check_name("name", name)?;
            let num = create_numbered(
                tx,
                "application",
                "INSERT INTO authz_applications (num, name, description, created_at) \
                 VALUES ($1, $2, $3, $4)",
                [name.into(), description.into(), at.into()],
                || format!("an application named `{name}` already exists"),
            )
            .await?;
            changes.push(Change::App {
                num: n32(num, "application")?,
                name: name.clone(),
            });
            (
                "authz.application.create",
                format!("application:{name}"),
                json!({}),
            )
        }
        AuthzOp::CreateRole {
            app,
            name,
            description,
        } => {
            check_name("name", name)?;
            let a = app_tx(tx, app).await?;
            let num = create_numbered(
                tx,
                "role",
                "INSERT INTO authz_app_roles (num, app_num, name, description) \
                 VALUES ($1, $2, $3, $4)",
                [a.into(), name.into(), description.into()],
                || format!("application `{app}` already has a role `{name}`"),
            )
            .await?;
            changes.push(Change::Role {
                num: n32(num, "role")?,
                app: n32(a, "application")?,
                name: name.clone(),
            });
            (
                "authz.role.create",
                format!("application:{app}/role:{name}"),
                json!({}),
            )
        }
        AuthzOp::DeleteRole { app, name } => {
            let (a, r) = role_tx(tx, app, name).await?;
            tx.exec(
                "DELETE FROM authz_role_grants WHERE role_num = $1",
                [Arg::from(i64::from(r))],
            )
            .await?;
            tx.exec(
                "DELETE FROM authz_app_roles WHERE num = $1",
                [Arg::from(i64::from(r))],
            )
            .await?;
            changes.push(Change::RoleDeleted { num: r, app: a });
            (
                "authz.role.delete",
                format!("application:{app}/role:{name}"),
                json!({}),
            )
        }
        AuthzOp::GrantRole {
            app,
            role,
            principal,
            until,
        } => {
            let (a, r) = role_tx(tx, app, role).await?;
            if matches!(principal, PrincipalRef::Node { .. }) {
                return Err(Error::invalid(
                    "principal",
                    "roles are granted to users and groups",
                ));
            }
            let p = principal_tx(tx, principal, changes).await?;
            let until_ms = until.map(to_millis);
            if until_ms.is_some_and(|u| u <= at) {
                return Err(Error::invalid(
                    "until",
                    "the end of a grant must be in the future",
                ));
            }
            // Re-granting replaces the end date, as in the index.
            tx.exec(
                "INSERT INTO authz_role_grants (role_num, principal, until, created_at) VALUES \
                     ($1, $2, $3, $4) ON CONFLICT (role_num, principal) DO UPDATE SET until = \
                     excluded.until",
                [
                    Arg::from(i64::from(r)),
                    Arg::from(i64::from(p.raw())),
                    until_ms.into(),
                    at.into(),
                ],
            )
            .await?;
            changes.push(Change::RoleGrant {
                app: a,
                role: r,
                principal: p.raw(),
                until: until_ms,
            });
            (
                "authz.role.grant",
                format!("application:{app}/role:{role}"),
                json!({ "principal": principal.describe(), "until": until_ms }),
            )
        }
        AuthzOp::RevokeRole {
            app,
            role,
            principal,
        } => {
            let (a, r) = role_tx(tx, app, role).await?;
            let p = principal_tx(tx, principal, changes).await?;
            remove_one(
                tx,
                "DELETE FROM authz_role_grants WHERE role_num = $1 AND principal = $2",
                [i64::from(r).into(), i64::from(p.raw()).into()],
                "principal",
                || format!("{} does not hold `{role}` in `{app}`", principal.describe()),
            )
            .await?;
            changes.push(Change::RoleRevoke {
                app: a,
                role: r,
                principal: p.raw(),
            });
            (
                "authz.role.revoke",
                format!("application:{app}/role:{role}"),
                json!({ "principal": principal.describe() }),
            )
        }
        _ => return Err(super::not_in_family(op)),
    };
    Ok(Applied::new(action, target, details))
}
