//! `/api/v1/module-names`: which application each module name belongs to, over HTTP
//! (administrators only; the naming rule is in `rampart_service::lifecycle::names`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_service::lifecycle::names;
use rampart_service::AppState;

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{ModuleNameWire, ReserveNameRequest, TransferNameRequest};

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
    let caller = auth.caller(&state);
    Ok(Json(names::list(&state, &caller).await?))
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
    let caller = auth.caller(&state);
    let entry = names::reserve(&state, &caller, req).await?;
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
    let caller = auth.caller(&state);
    Ok(Json(names::transfer(&state, &caller, &name, req).await?))
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
    let caller = auth.caller(&state);
    names::release(&state, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
