//! `/api/v1/module-names`: which application each module name belongs to.
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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_core::{Error, Provider};
use rampart_store::{AuthzOp, ModuleName};

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{ModuleNameWire, ReserveNameRequest, TransferNameRequest};
use rampart_service::state::AppState;

/// Refuses anyone but a platform administrator.
fn administrator(auth: &Authenticated) -> Result<(), Error> {
    if auth.user.provider == Provider::It && auth.user.is_admin {
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
    auth: &Authenticated,
    op: AuthzOp,
    name: &str,
) -> Result<Option<ModuleNameWire>, Error> {
    let revision = state
        .store
        .authz_write(&auth.audit(state), state.clock.now(), &[op])
        .await?;
    state.authz.after_write(revision).await?;
    Ok(state
        .store
        .module_names()
        .await?
        .into_iter()
        .find(|n| n.name == name)
        .map(wire))
}

/// Every module name taken: reservations and registered modules, by name.
#[utoipa::path(
    get, path = "/api/v1/module-names", tag = "modules",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Names, alphabetically, with their applications", body = [ModuleNameWire]),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<ModuleNameWire>>, ApiError> {
    administrator(&auth)?;
    let names = state.store.module_names().await?;
    Ok(Json(names.into_iter().map(wire).collect()))
}

/// Reserve a module name for an application: only that application may register it.
#[utoipa::path(
    post, path = "/api/v1/module-names", tag = "modules",
    request_body = ReserveNameRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Reserved", body = ModuleNameWire),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is registered or reserved already (transfer it)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a module name, or no such application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reserve(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<ReserveNameRequest>,
) -> Result<(StatusCode, Json<ModuleNameWire>), ApiError> {
    administrator(&auth)?;
    let op = AuthzOp::ReserveModuleName {
        name: req.name.clone(),
        app: req.application,
    };
    let entry = write(&state, &auth, op, &req.name)
        .await?
        .ok_or_else(|| Error::Internal(format!("reserved name `{}` not found", req.name)))?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Give a module name to another application; a registered module moves with it.
#[utoipa::path(
    post, path = "/api/v1/module-names/{name}/transfer", tag = "modules",
    params(("name" = String, Path, description = "The module name")),
    request_body = TransferNameRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Transferred", body = ModuleNameWire),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The name is neither reserved nor registered", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It belongs to that application already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Json(req): Json<TransferNameRequest>,
) -> Result<Json<ModuleNameWire>, ApiError> {
    administrator(&auth)?;
    let op = AuthzOp::TransferModuleName {
        name: name.clone(),
        app: req.application,
    };
    let entry = write(&state, &auth, op, &name)
        .await?
        .ok_or_else(|| Error::Internal(format!("transferred name `{name}` not found")))?;
    Ok(Json(entry))
}

/// Release a reserved module name: any application may then register it.
#[utoipa::path(
    delete, path = "/api/v1/module-names/{name}", tag = "modules",
    params(("name" = String, Path, description = "The module name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Released"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The name is neither reserved nor registered", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A module is registered under it (transfer it instead)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    administrator(&auth)?;
    write(
        &state,
        &auth,
        AuthzOp::ReleaseModuleName { name: name.clone() },
        &name,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
