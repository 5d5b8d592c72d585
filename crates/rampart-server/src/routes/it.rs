//! `/api/v1/it`: IT permissions over the module lifecycle: default IT roles, role levels per
//! environment, teams owning applications, modules, and per-user overrides.
//!
//! Who may change what: platform administrators anything; anyone else only what they hold
//! `full` on, in every environment concerned (the rule of `Permissions::check_can_grant`),
//! so nobody can give access to applications they do not administer.

use axum::extract::{Query, State};

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{ItWriteRequest, LevelQuery, LevelResponse, WriteResponse};
use rampart_service::authz::engine::token;
use rampart_service::authz::it;
use rampart_service::state::AppState;

/// Change IT permissions: all operations commit together or none does; each is an audit
/// event.
#[utoipa::path(
    post, path = "/api/v1/it/write", tag = "it",
    request_body = ItWriteRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Written; the revision token", body = WriteResponse),
        (status = 403, description = "The caller does not administer a target, or a second factor older than `[mfa] step_up_minutes` (`step-up-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An operation names something unknown or is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A duplicate, or a change the current state refuses (an environment where modules run, a name taken)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn write(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<ItWriteRequest>,
) -> Result<Json<WriteResponse>, ApiError> {
    let revision = it::write(&state, &auth.caller(&state), &req.operations).await?;
    Ok(Json(WriteResponse {
        revision: token(revision),
    }))
}

/// An IT user's effective level on a module in an environment, with the grant that decided
/// (the most specific grant wins; see `rampart_authz::it`).
#[utoipa::path(
    get, path = "/api/v1/it/level", tag = "it",
    params(LevelQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The level and why", body = LevelResponse),
        (status = 403, description = "An end user, or another user's level asked by someone who is not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown user or environment, or `user` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn level_of(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<LevelQuery>,
) -> Result<Json<LevelResponse>, ApiError> {
    Ok(Json(it::level_of(&state, &auth.caller(&state), &q).await?))
}
