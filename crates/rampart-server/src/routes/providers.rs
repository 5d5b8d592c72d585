//! `/api/v1/providers`: user providers (directories that vouch for users), for IT
//! administrators to change and auditors to read.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::{
    CreateProviderRequest, ProviderList, ProviderStatusView, ProviderTestResult, ProviderView,
    SyncReport, UpdateProviderRequest,
};
use rampart_service::providers;
use rampart_service::state::AppState;

use crate::auth::{ProviderAdministrator, ProviderReader};
use crate::error::{ApiError, Json, Problem};

/// What every route on one provider may answer besides its own outcomes.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes answers in the OpenAPI document; never built
enum OneProvider {
    #[response(
        status = 403,
        description = "Not allowed: changes are for IT administrators, reading for them and auditors",
        content_type = "application/problem+json"
    )]
    NotAllowed(Problem),
    #[response(
        status = 404,
        description = "No such user provider",
        content_type = "application/problem+json"
    )]
    NoSuchProvider(Problem),
}

/// What a route that reaches the directory may answer besides its own outcomes.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes answers in the OpenAPI document; never built
enum ReachesDirectory {
    #[response(
        status = 502,
        description = "The directory refused the service account's bind, answered an error, or a sync would have disabled every user",
        content_type = "application/problem+json"
    )]
    DirectoryFailed(Problem),
    #[response(
        status = 503,
        description = "The directory cannot be reached (or its bind password's reference cannot be read)",
        content_type = "application/problem+json"
    )]
    DirectoryUnreachable(Problem),
}

/// List user providers (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/providers", tag = "providers",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every user provider, by name", body = ProviderList),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: ProviderReader,
) -> Result<Json<ProviderList>, ApiError> {
    Ok(Json(providers::list(&state).await?))
}

/// Create a user provider. Its bind password is a secret reference (`env:NAME`,
/// `file:/absolute/path`), never the password.
#[utoipa::path(
    post, path = "/api/v1/providers", tag = "providers",
    request_body = CreateProviderRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = ProviderView),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A provider of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A setting breaks a rule (`field` names it)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Json(body): Json<CreateProviderRequest>,
) -> Result<Response, ApiError> {
    let view = providers::create(&state, &admin.caller(&state), body).await?;
    let location = format!("/api/v1/providers/{}", view.name);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One user provider (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The provider", body = ProviderView),
        OneProvider,
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _reader: ProviderReader,
    Path(name): Path<String>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(providers::get(&state, &name).await?))
}

/// Change a user provider's audience or settings (`settings` replaces them whole).
#[utoipa::path(
    patch, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    request_body = UpdateProviderRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The changed provider", body = ProviderView),
        (status = 422, description = "A setting breaks a rule (`field` names it)", body = Problem, content_type = "application/problem+json"),
        OneProvider,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
    Json(body): Json<UpdateProviderRequest>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(
        providers::update(&state, &admin.caller(&state), &name, body).await?,
    ))
}

/// Delete a user provider: the users it vouched for are disabled and their sessions end.
#[utoipa::path(
    delete, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        OneProvider,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    providers::delete(&state, &admin.caller(&state), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Test a user provider: connect and bind with its service account.
#[utoipa::path(
    post, path = "/api/v1/providers/{name}/test", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Connected and bound", body = ProviderTestResult),
        OneProvider,
        ReachesDirectory,
    )
)]
pub async fn test(
    State(state): State<AppState>,
    _admin: ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<Json<ProviderTestResult>, ApiError> {
    Ok(Json(providers::test(&state, &name).await?))
}

/// Sync a user provider now: create and update profiles, disable users gone from the
/// directory and end their sessions.
#[utoipa::path(
    post, path = "/api/v1/providers/{name}/sync", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "What the run did", body = SyncReport),
        OneProvider,
        ReachesDirectory,
    )
)]
pub async fn sync(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<Json<SyncReport>, ApiError> {
    let caller = admin.caller(&state);
    Ok(Json(
        providers::sync_now(&state, &caller.audit, &name).await?,
    ))
}

/// A user provider's health: the last success and error, the last sync, its users.
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/status", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Its status", body = ProviderStatusView),
        OneProvider,
    )
)]
pub async fn status(
    State(state): State<AppState>,
    _reader: ProviderReader,
    Path(name): Path<String>,
) -> Result<Json<ProviderStatusView>, ApiError> {
    Ok(Json(providers::status(&state, &name).await?))
}
