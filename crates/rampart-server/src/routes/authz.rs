//! `/api/v1/authz`: decisions (check, explain, list filter, roles of a user), reads of the
//! model and a record's grants (`rampart_service::authz::decide`), and the one write
//! endpoint for authorization data (`rampart_service::authz::acl`). `/api/v1/hierarchies/
//! rebuild`: the hierarchy rebuild (`rampart_service::authz::rebuild`), under the rules of
//! the console's Rebuild page.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::{permitted, Administrator, Authenticated};
use crate::error::{ApiError, Json, Problem};
use crate::rules;
use rampart_api::{
    AuthzModel, CheckRequest, CheckResponse, ExplainResponse, GrantsQuery, GrantsResponse,
    HierarchyRebuild, ListFilterRequest, ListFilterResponse, RolesQuery, RolesResponse,
    WriteRequest, WriteResponse,
};
use rampart_service::authz::acl;
use rampart_service::authz::decide;
use rampart_service::authz::engine::token;
use rampart_service::authz::rebuild;
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

/// An IT user who may read authorization data about others (administrators and auditors):
/// who follows a hierarchy rebuild.
#[derive(Debug, Clone)]
pub struct AuthorizationReader(pub Authenticated);

impl FromRequestParts<AppState> for AuthorizationReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::READ_AUTHORIZATION)
            .await
            .map(AuthorizationReader)
    }
}

/// An IT administrator, who may rebuild the hierarchy index.
#[derive(Debug, Clone)]
pub struct Rebuilder(pub Authenticated);

impl FromRequestParts<AppState> for Rebuilder {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::REBUILD_HIERARCHIES)
            .await
            .map(Rebuilder)
    }
}

/// Where a rebuild's status is read.
const REBUILD: &str = "/api/v1/hierarchies/rebuild";

/// Start rebuilding the hierarchy index: every node's materialised path recomputed from the
/// parent links and the wrong ones repaired (a node caught in a cycle of parent links becomes
/// a root), then the index loaded again; no grant or record changes. Runs in the background
/// on this node, one at a time across the cluster, recorded in the audit log as
/// `authz.rebuild` under the caller's name when it ends. IT administrators, after a recent
/// second factor when they have one.
#[utoipa::path(
    post, path = "/api/v1/hierarchies/rebuild", tag = "authz",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 202, description = "Started; `Location` (`/api/v1/hierarchies/rebuild`) is where its progress is read", body = HierarchyRebuild),
        (status = 403, description = "Not an IT administrator, or a recent second factor is required (`step-up-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A rebuild runs on some node; nothing was started", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rebuild_start(
    State(state): State<AppState>,
    Rebuilder(admin): Rebuilder,
) -> Result<Response, ApiError> {
    let started = rebuild::start(&state, &admin.caller(&state)).await?;
    let mut response = (StatusCode::ACCEPTED, Json(rebuild::wire(Some(&started)))).into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(REBUILD));
    Ok(response)
}

/// The cluster's current or latest hierarchy rebuild (started through this route or the
/// console, on any node): running, with the nodes checked of the total; or how it ended,
/// with what it found and did and how long it took; or abandoned, when its node stopped
/// before it ended. `state` is `none` before the first. Administrators and auditors.
#[utoipa::path(
    get, path = "/api/v1/hierarchies/rebuild", tag = "authz",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The current or latest rebuild", body = HierarchyRebuild),
        (status = 403, description = "Reading authorization data about others needs an administrator or the `auditor` IT role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rebuild_status(
    State(state): State<AppState>,
    AuthorizationReader(reader): AuthorizationReader,
) -> Result<Json<HierarchyRebuild>, ApiError> {
    let status = rebuild::status(&state, &reader.user).await?;
    Ok(Json(rebuild::wire(status.as_ref())))
}
