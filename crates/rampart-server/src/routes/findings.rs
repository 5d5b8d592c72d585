//! `/api/v1/modules/{name}/versions/{version}/findings`: the security checks' findings of a
//! module version and the acceptance of a warning. The use cases and their levels live in
//! `rampart_service::lifecycle::findings`.

use axum::extract::{Path, State};
use rampart_api::{AcceptFindingRequest, FindingWire, FindingsResponse};
use rampart_service::lifecycle::findings;
use rampart_service::AppState;

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};

/// The security findings of a module version, with their acceptances.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/versions/{version}/findings", tag = "modules",
    params(("name" = String, Path, description = "The module"), ("version" = i64, Path, description = "The version number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every finding, in key order, and how many warnings are pending", body = FindingsResponse),
        (status = 403, description = "The caller lacks `open`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`version` is not a version number", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((name, number)): Path<(String, String)>,
) -> Result<Json<FindingsResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        findings::findings(&state, &caller, &name, &number).await?,
    ))
}

/// Accept a warning of a module version, with a written justification.
#[utoipa::path(
    post, path = "/api/v1/modules/{name}/versions/{version}/findings/accept", tag = "modules",
    params(("name" = String, Path, description = "The module"), ("version" = i64, Path, description = "The version number")),
    request_body = AcceptFindingRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Accepted; recorded in the audit log", body = FindingWire),
        (status = 403, description = "The caller lacks `change`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module (or one the caller holds no level on), version or finding", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The finding is accepted already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a warning, or the justification is too short or too long", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((name, number)): Path<(String, String)>,
    Json(req): Json<AcceptFindingRequest>,
) -> Result<Json<FindingWire>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        findings::accept(&state, &caller, &name, &number, req).await?,
    ))
}
