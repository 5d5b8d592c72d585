//! `/api/v1/authz`: decisions (check, explain, list filter, roles of a user), reads of the
//! model and a record's grants (`rampart_service::authz::decide`), and the one write
//! endpoint for authorization data (`rampart_service::authz::acl`).

use axum::extract::{Query, State};

use crate::auth::{Administrator, Authenticated};
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    AuthzModel, CheckRequest, CheckResponse, ExplainResponse, GrantsQuery, GrantsResponse,
    ListFilterRequest, ListFilterResponse, RolesQuery, RolesResponse, WriteRequest, WriteResponse,
};
use rampart_service::authz::acl;
use rampart_service::authz::decide;
use rampart_service::authz::engine::token;
use rampart_service::state::AppState;

/// Decide a batch of role and record checks.
#[utoipa::path(
    post, path = "/api/v1/authz/check", tag = "authz",
    request_body = CheckRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "One result per check, in order", body = CheckResponse),
        (status = 422, description = "A check names something unknown", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An end user asking about someone else", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    Ok(Json(decide::check(&state, &auth.user, &req).await?))
}

/// Decide one check and say which rule and path decided it.
#[utoipa::path(
    post, path = "/api/v1/authz/explain", tag = "authz",
    request_body = CheckRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The decision and its reason", body = ExplainResponse),
        (status = 422, description = "Not exactly one check, or it names something unknown", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Reading authorization data about others needs an administrator or the `auditor` IT role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn explain(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<CheckRequest>,
) -> Result<Json<ExplainResponse>, ApiError> {
    Ok(Json(decide::explain(&state, &auth.user, &req).await?))
}

/// The records of an entity a user may read, a page at a time, filtered inside the database.
#[utoipa::path(
    post, path = "/api/v1/authz/list-filter", tag = "authz",
    request_body = ListFilterRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of readable records in key order", body = ListFilterResponse),
        (status = 422, description = "Unknown user or entity, or a bad page size", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Reading authorization data about others needs an administrator or the `auditor` IT role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_filter(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<ListFilterRequest>,
) -> Result<Json<ListFilterResponse>, ApiError> {
    Ok(Json(decide::list_filter(&state, &auth.user, &req).await?))
}

/// The roles a user holds in an application now (directly or through groups).
#[utoipa::path(
    get, path = "/api/v1/authz/roles", tag = "authz",
    params(RolesQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Role names", body = RolesResponse),
        (status = 422, description = "Unknown user or application", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Reading authorization data about others needs an administrator or the `auditor` IT role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn roles(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<RolesQuery>,
) -> Result<Json<RolesResponse>, ApiError> {
    Ok(Json(decide::roles(&state, &auth.user, &q).await?))
}

/// Change authorization data: groups, hierarchies, units, entities, records, grants,
/// applications, roles and role grants. All operations commit together or none does; each
/// is an audit event.
#[utoipa::path(
    post, path = "/api/v1/authz/write", tag = "authz",
    request_body = WriteRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Written; the revision token", body = WriteResponse),
        (status = 403, description = "Not an IT administrator, or a second factor older than `[mfa] step_up_minutes` (`step-up-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A duplicate, or a move that would make a cycle", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An operation names something unknown or is malformed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn write(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Json(req): Json<WriteRequest>,
) -> Result<Json<WriteResponse>, ApiError> {
    let revision = acl::write(&state, &admin.caller(&state), &req.operations).await?;
    Ok(Json(WriteResponse {
        revision: token(revision),
    }))
}

/// What authorization knows, by name: applications and roles, groups, hierarchies, entities,
/// teams, modules and environments.
#[utoipa::path(
    get, path = "/api/v1/authz/model", tag = "authz",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The authorization model", body = AuthzModel),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn model(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AuthzModel>, ApiError> {
    Ok(Json(decide::model(&state, &auth.user).await?))
}

/// The explicit grants on one record.
#[utoipa::path(
    get, path = "/api/v1/authz/grants", tag = "authz",
    params(GrantsQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The record's grants", body = GrantsResponse),
        (status = 422, description = "Unknown entity or record", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn grants(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<GrantsQuery>,
) -> Result<Json<GrantsResponse>, ApiError> {
    Ok(Json(decide::grants(&state, &auth.user, &q).await?))
}
