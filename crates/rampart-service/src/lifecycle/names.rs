//! Which application each module name belongs to.
//!
//! Module names are one namespace for the whole platform. The rule:
//!
//! - A publish under a name nobody holds registers it for the application its source
//!   declares; the publisher needs `change` on that application (see the parent module).
//! - Platform administrators **reserve** a name for an application before any module has it:
//!   only that application may then register it, by a publish or by `register_module`. The
//!   registration consumes the reservation.
//! - Administrators **transfer** a name to another application: a reservation moves, and a
//!   registered module moves with its versions, deployments and per-module overrides (the
//!   tags of the application it leaves keep naming the versions they were taken at).
//! - Administrators **release** a reservation. A registered module's name is not released:
//!   it is transferred.
//!
//! Every registration, reservation, transfer and release is a `system` audit event whose
//! `application` is the application that holds the name afterwards (for a release, the one
//! that held it), written in the change's own transaction.

use rampart_api::{ModuleNameWire, ReserveNameRequest, TransferNameRequest};
use rampart_core::{Error, Provider};
use rampart_store::{AuthzOp, ModuleName};

use crate::caller::Caller;
use crate::state::AppState;

/// Refuses anyone but a platform administrator.
fn administrator(caller: &Caller) -> Result<(), Error> {
    if caller.user.provider == Provider::It && caller.user.is_admin {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only IT administrators reserve, transfer and release module names".into(),
        ))
    }
}

fn wire(n: ModuleName) -> ModuleNameWire {
    ModuleNameWire {
        name: n.name,
        application: n.application,
        status: if n.registered {
            "registered"
        } else {
            "reserved"
        }
        .to_owned(),
        since: n.since,
    }
}

/// Applies one name operation and reads back where the name stands.
async fn write(
    state: &AppState,
    caller: &Caller,
    op: AuthzOp,
    name: &str,
) -> Result<Option<ModuleNameWire>, Error> {
    crate::authz::commit(state, &caller.audit, &[op]).await?;
    Ok(state
        .store
        .module_names()
        .await?
        .into_iter()
        .find(|n| n.name == name)
        .map(wire))
}

/// Every module name taken: reservations and registered modules, by name.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<ModuleNameWire>, Error> {
    administrator(caller)?;
    let names = state.store.module_names().await?;
    Ok(names.into_iter().map(wire).collect())
}

/// Reserves a module name for an application: only that application may register it.
pub async fn reserve(
    state: &AppState,
    caller: &Caller,
    req: ReserveNameRequest,
) -> Result<ModuleNameWire, Error> {
    administrator(caller)?;
    let op = AuthzOp::ReserveModuleName {
        name: req.name.clone(),
        app: req.application,
    };
    write(state, caller, op, &req.name)
        .await?
        .ok_or_else(|| Error::Internal(format!("reserved name `{}` not found", req.name)))
}

/// Gives module name `name` to another application; a registered module moves with it.
pub async fn transfer(
    state: &AppState,
    caller: &Caller,
    name: &str,
    req: TransferNameRequest,
) -> Result<ModuleNameWire, Error> {
    administrator(caller)?;
    let op = AuthzOp::TransferModuleName {
        name: name.to_owned(),
        app: req.application,
    };
    write(state, caller, op, name)
        .await?
        .ok_or_else(|| Error::Internal(format!("transferred name `{name}` not found")))
}

/// Releases reserved module name `name`: any application may then register it.
pub async fn release(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    administrator(caller)?;
    write(
        state,
        caller,
        AuthzOp::ReleaseModuleName {
            name: name.to_owned(),
        },
        name,
    )
    .await?;
    Ok(())
}
