//! Module registration and reserved module names.

use super::super::tx::*;
use super::super::*;
use super::{create_numbered, Applied, Batch};

/// Applies one operation of this family inside the batch's transaction.
pub(super) async fn apply(b: &mut Batch, op: &AuthzOp) -> Result<Applied, Error> {
    let (tx, changes, at) = b.parts();
    let application: Option<String>;
    let (action, target, details) = match op {
        AuthzOp::RegisterModule { name, app } => {
            check_name("name", name)?;
            let a = app_tx(tx, app).await?;
            let reserved: Option<i64> = tx
                .scalar_opt(
                    "SELECT app_num FROM module_names WHERE name = $1",
                    [name.into()],
                )
                .await?;
            match reserved {
                Some(r) if r != a => return Err(taken(name)),
                Some(_) => {
                    tx.exec("DELETE FROM module_names WHERE name = $1", [name.into()])
                        .await?;
                }
                None => {}
            }
            application = Some(app.clone());
            let num = create_numbered(
                tx,
                "module",
                "INSERT INTO it_modules (num, name, app_num, created_at) VALUES ($1, $2, $3, $4)",
                [name.into(), a.into(), at.into()],
                || taken_message(name),
            )
            .await?;
            changes.push(Change::Module {
                num: n32(num, "module")?,
                name: name.clone(),
                app: n32(a, "application")?,
            });
            (
                "it.module.register",
                format!("module:{name}"),
                json!({ "application": app, "reserved": reserved.is_some() }),
            )
        }
        AuthzOp::ReserveModuleName { name, app } => {
            check_module_name(name)?;
            let a = app_tx(tx, app).await?;
            if let Some((_, owner)) = registered_module(tx, name).await? {
                return Err(Error::Conflict(format!(
                    "module `{name}` is registered to application `{owner}`; transfer it instead"
                )));
            }
            tx.exec(
                "INSERT INTO module_names (name, app_num, reserved_at) VALUES ($1, $2, $3)",
                [name.into(), a.into(), at.into()],
            )
            .await
            .map_err(unique(|| {
                format!("the module name `{name}` is reserved already; transfer or release it")
            }))?;
            application = Some(app.clone());
            (
                "module.name.reserve",
                format!("module:{name}"),
                json!({ "application": app }),
            )
        }
        AuthzOp::TransferModuleName { name, app } => {
            let a = app_tx(tx, app).await?;
            let (from, registered) = if let Some((num, owner)) = registered_module(tx, name).await?
            {
                tx.exec(
                    "UPDATE it_modules SET app_num = $1 WHERE num = $2",
                    [a.into(), num.into()],
                )
                .await?;
                changes.push(Change::Module {
                    num: n32(num, "module")?,
                    name: name.clone(),
                    app: n32(a, "application")?,
                });
                (owner, true)
            } else if let Some(owner) = reserved_name(tx, name).await? {
                tx.exec(
                    "UPDATE module_names SET app_num = $1 WHERE name = $2",
                    [a.into(), name.into()],
                )
                .await?;
                (owner, false)
            } else {
                return Err(Error::NotFound {
                    what: "module name",
                });
            };
            if from == *app {
                return Err(Error::Conflict(format!(
                    "the module name `{name}` belongs to application `{app}` already"
                )));
            }
            application = Some(app.clone());
            (
                "module.name.transfer",
                format!("module:{name}"),
                json!({ "from": from, "to": app, "registered": registered }),
            )
        }
        AuthzOp::ReleaseModuleName { name } => {
            let Some(owner) = reserved_name(tx, name).await? else {
                if let Some((_, owner)) = registered_module(tx, name).await? {
                    return Err(Error::Conflict(format!(
                        "module `{name}` is registered to application `{owner}`: a name in use is transferred, not released"
                    )));
                }
                return Err(Error::NotFound {
                    what: "module name",
                });
            };
            tx.exec("DELETE FROM module_names WHERE name = $1", [name.into()])
                .await?;
            application = Some(owner.clone());
            (
                "module.name.release",
                format!("module:{name}"),
                json!({ "application": owner }),
            )
        }
        _ => return Err(super::not_in_family(op)),
    };
    Ok(Applied {
        action,
        target,
        details,
        application,
    })
}
