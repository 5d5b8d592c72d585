//! `/api/v1/modules`, `/api/v1/applications/{app}/tags` and `/api/v1/environments`: the
//! module lifecycle over HTTP. The use cases, their permission table and the rule that the
//! level is checked before anything about the object is read live in
//! `rampart_service::lifecycle`; a caller below `reference` gets the 404 a missing object
//! gets, and 403 is only for callers who may know the object.
//!
//! Here each handler calls one use case and renders it; a `LifecycleError` becomes a
//! problem in [`crate::error`]. A deployment waiting for a second approver is a 202.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_model::Surface;
use rampart_service::lifecycle::deploy::{self, Deployed};
use rampart_service::lifecycle::{publish, requests, tags, versions};
use rampart_service::AppState;

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    DeployRequest, DeployResponse, DeploymentPage, DeploymentRequestWire, DiffQuery,
    EnvironmentWire, HistoryQuery, PublishRequest, PublishResponse, RejectRequest, RequestsQuery,
    RollbackRequest, RunningWire, StageRequest, SurfaceQuery, TagRequest, TagWire,
    VersionSourceResponse, VersionWire,
};

/// The status of a deployment's answer: 202 while it waits for a second approver.
pub(super) fn deployed_status(waiting: bool) -> StatusCode {
    if waiting {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

fn deployed(d: Deployed<DeployResponse>) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    Ok((deployed_status(d.waiting), Json(d.answer)))
}

/// Publish a version of a module.
#[utoipa::path(
    post, path = "/api/v1/modules/{name}/versions", tag = "modules",
    params(("name" = String, Path, description = "The module")),
    request_body = PublishRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Published", body = PublishResponse),
        (status = 200, description = "The same source was already published; nothing written", body = PublishResponse),
        (status = 403, description = "The caller lacks `change` (or `reference` on a dependency, or `full` to force)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller holds no level on the module (or there is none) nor on the declared application (or there is none)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It breaks deployed modules (`breaking-change`), another version came first, or the name belongs to (or is reserved for) another application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The source has errors, each with its line and column (`invalid-module`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Json(req): Json<PublishRequest>,
) -> Result<(StatusCode, Json<PublishResponse>), ApiError> {
    let caller = auth.caller(&state);
    let p = publish::publish(&state, &caller, name, req).await?;
    let status = if p.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(p.response)))
}

/// The versions of a module, newest first.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/versions", tag = "modules",
    params(("name" = String, Path, description = "The module")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Versions, newest first, with where each runs", body = [VersionWire]),
        (status = 403, description = "The caller lacks `reference`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn versions(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<VersionWire>>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(versions::versions(&state, &caller, &name).await?))
}

/// One version with its source.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/versions/{version}", tag = "modules",
    params(("name" = String, Path, description = "The module"), ("version" = i64, Path, description = "The version number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The version and its source", body = VersionSourceResponse),
        (status = 403, description = "The caller lacks `open`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`version` is not a version number", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((name, number)): Path<(String, String)>,
) -> Result<Json<VersionSourceResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(
        versions::version(&state, &caller, &name, &number).await?,
    ))
}

/// Delete a version that runs nowhere.
#[utoipa::path(
    delete, path = "/api/v1/modules/{name}/versions/{version}", tag = "modules",
    params(("name" = String, Path, description = "The module"), ("version" = i64, Path, description = "The version number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller lacks `change`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version is deployed somewhere", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`version` is not a version number", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((name, number)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.caller(&state);
    versions::delete_version(&state, &caller, &name, &number).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public surface of a version: what `reference` shows.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/surface", tag = "modules",
    params(("name" = String, Path, description = "The module"), SurfaceQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Public elements: names, signatures, descriptions; never the source", body = rampart_model::Surface),
        (status = 403, description = "The caller lacks `reference`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn surface(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Query(q): Query<SurfaceQuery>,
) -> Result<Json<Surface>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(versions::surface(&state, &caller, &name, q).await?))
}

/// The structured and line diff between two versions.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/diff", tag = "modules",
    params(("name" = String, Path, description = "The module"), DiffQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "What changed", body = rampart_model::ModuleDiff),
        (status = 403, description = "The caller lacks `open`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn diff(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<rampart_model::ModuleDiff>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(versions::diff(&state, &caller, &name, q).await?))
}

/// The JSON Schema of the module format.
#[utoipa::path(
    get, path = "/api/v1/model/schema", tag = "modules",
    responses((status = 200, description = "JSON Schema (draft 2020-12) of `rampart-module/1`", body = Object))
)]
pub async fn model_schema() -> Json<serde_json::Value> {
    Json(rampart_model::schema::json_schema())
}

/// Tag an application version: a snapshot of its modules' versions with release notes.
#[utoipa::path(
    post, path = "/api/v1/applications/{app}/tags", tag = "modules",
    params(("app" = String, Path, description = "The application")),
    request_body = TagRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Tagged", body = TagWire),
        (status = 403, description = "The caller lacks `change` on the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tag exists (tags are immutable)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad tag, or a module that is not the application's or has no such version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tag_application(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(app): Path<String>,
    Json(req): Json<TagRequest>,
) -> Result<(StatusCode, Json<TagWire>), ApiError> {
    let caller = auth.caller(&state);
    let t = tags::tag_application(&state, &caller, &app, req).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// An application's tags, newest first.
#[utoipa::path(
    get, path = "/api/v1/applications/{app}/tags", tag = "modules",
    params(("app" = String, Path, description = "The application")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Tags, newest first", body = [TagWire]),
        (status = 403, description = "The caller lacks `reference` on the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tags(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(app): Path<String>,
) -> Result<Json<Vec<TagWire>>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(tags::tags(&state, &caller, &app).await?))
}

/// The environments in promotion order.
#[utoipa::path(
    get, path = "/api/v1/environments", tag = "environments",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Environments, in promotion order", body = [EnvironmentWire]))
)]
pub async fn list_environments(
    State(state): State<AppState>,
    _auth: Authenticated,
) -> Result<Json<Vec<EnvironmentWire>>, ApiError> {
    Ok(Json(versions::list_environments(&state)))
}

/// What runs in an environment.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/modules", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Modules and the versions running", body = [RunningWire]),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn running(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
) -> Result<Json<Vec<RunningWire>>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(versions::running(&state, &caller, &env).await?))
}

/// The deployment history of an environment, newest first, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/deployments", tag = "environments",
    params(("env" = String, Path, description = "The environment"), HistoryQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of deployments, newest first (modules the caller may reference), with the cursor of the next page", body = DeploymentPage),
        (status = 404, description = "`module` names no module, or one the caller holds no level on", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment, a bad limit, or a cursor this API did not return", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<DeploymentPage>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(versions::history(&state, &caller, &env, q).await?))
}

/// Deploy module versions to an environment (all or none), or preview the plan.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/deployments", tag = "environments",
    params(("env" = String, Path, description = "The target environment")),
    request_body = DeployRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan, applied unless `dry_run`", body = DeployResponse),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = DeployResponse),
        (status = 403, description = "The caller lacks `deploy`, separation of duties, or a step-up environment and a second factor older than `[mfa] step_up_minutes` (`step-up-required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A module or application that does not exist, or that the caller holds no level on", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Broken references (`deployment-refused`), or the environment changed meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment or version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deploy(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Json(req): Json<DeployRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let caller = auth.caller(&state);
    deployed(deploy::deploy(&state, &caller, &env, req).await?)
}

/// Promote what runs in the environment before (or `from`) into this one.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/stage", tag = "environments",
    params(("env" = String, Path, description = "The target environment")),
    request_body = StageRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan, applied unless `dry_run`", body = DeployResponse),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = DeployResponse),
        (status = 403, description = "The caller lacks `deploy` in the target", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A named module that does not exist, or that the caller holds no level on", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Broken references, or the environment changed meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment, or nothing before it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stage(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Json(req): Json<StageRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let caller = auth.caller(&state);
    deployed(deploy::stage(&state, &caller, &env, req).await?)
}

/// Put a module back to the version it ran before its last deployment here.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/rollback", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    request_body = RollbackRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan, applied unless `dry_run`", body = DeployResponse),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = DeployResponse),
        (status = 403, description = "The caller lacks `deploy`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to roll back to, broken references, or a concurrent change", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rollback(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Json(req): Json<RollbackRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let caller = auth.caller(&state);
    deployed(deploy::rollback(&state, &caller, &env, req).await?)
}

/// Deployments waiting for (or decided by) a second approver in an environment.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/requests", tag = "environments",
    params(("env" = String, Path, description = "The environment"), RequestsQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Requests, newest first", body = [DeploymentRequestWire]),
        (status = 422, description = "No such environment or status", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn requests(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Query(q): Query<RequestsQuery>,
) -> Result<Json<Vec<DeploymentRequestWire>>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(requests::requests(&state, &caller, &env, q).await?))
}

/// Approve a pending deployment: someone other than the requester, holding `deploy` in the
/// environment (and not the author of what it deploys where separation of duties applies),
/// re-checks the plan against the environment as it is now and applies it.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/requests/{id}/approve", tag = "environments",
    params(("env" = String, Path, description = "The environment"), ("id" = i64, Path, description = "The request")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Approved and applied", body = DeployResponse),
        (status = 403, description = "The requester themself, or no `deploy`, or separation of duties", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request in this environment, or one the caller may not see (they lack `reference` there on one of its modules)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or the environment changed since the request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((env, id)): Path<(String, i64)>,
) -> Result<Json<DeployResponse>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(requests::approve(&state, &caller, env, id).await?))
}

/// Reject a pending deployment (its requester may withdraw it; others need `deploy` on
/// every module in it).
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/requests/{id}/reject", tag = "environments",
    params(("env" = String, Path, description = "The environment"), ("id" = i64, Path, description = "The request")),
    request_body = RejectRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Rejected"),
        (status = 403, description = "The caller lacks `deploy`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request in this environment, or one the caller may not see (they lack `reference` there on one of its modules)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment, or no reason given", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((env, id)): Path<(String, i64)>,
    Json(req): Json<RejectRequest>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.caller(&state);
    requests::reject(&state, &caller, &env, id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
