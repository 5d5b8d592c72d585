//! `/api/v1/users`: user management for both providers, for IT administrators.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::{Administrator, UserReader};
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    CreateUserRequest, ListUsersQuery, ResetPasswordRequest, RevokedSessions, UpdateUserRequest,
    UserPage, UserView,
};
use rampart_service::identity::users;
use rampart_service::state::AppState;

/// What every route on one user may answer besides its own outcomes.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes answers in the OpenAPI document; never built
enum OneUser {
    #[response(
        status = 403,
        description = "Not an IT administrator",
        content_type = "application/problem+json"
    )]
    NotAdministrator(Problem),
    #[response(
        status = 404,
        description = "No such user",
        content_type = "application/problem+json"
    )]
    NoSuchUser(Problem),
    #[response(
        status = 422,
        description = "`id` is not a user id",
        content_type = "application/problem+json"
    )]
    NotAnId(Problem),
}

/// List users, in creation order, a page at a time (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(ListUsersQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `limit`, `provider` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: UserReader,
    Query(q): Query<ListUsersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(users::list(&state, q).await?))
}

/// Create a user of either provider.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = CreateUserRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 409, description = "Username or e-mail taken, or `no_password` on a server without passkeys (no `public_origin`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field or password rejected, or neither (or both of) `password` and `no_password`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator, or `step-up-required` for an administrator: a recent second factor is needed first", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Json(body): Json<CreateUserRequest>,
) -> Result<Response, ApiError> {
    let user = users::create(&state, &admin.caller(&state), body).await?;
    let mut response = (StatusCode::CREATED, Json(UserView::from(&user))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/users/{}", user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One user (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _reader: UserReader,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(UserView::from(&users::get(&state, &id).await?)))
}

/// Change a user's display name or e-mail.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 409, description = "E-mail taken", body = Problem, content_type = "application/problem+json"),
        OneUser,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
    Json(body): Json<UpdateUserRequest>,
) -> Result<Json<UserView>, ApiError> {
    let user = users::update(&state, &admin.caller(&state), &id, body).await?;
    Ok(Json(UserView::from(&user)))
}

/// Delete a user with their sessions.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Cannot delete oneself", body = Problem, content_type = "application/problem+json"),
        OneUser,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::delete(&state, &admin.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disable a user: they cannot log in and every session ends.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/disable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The disabled user", body = UserView),
        (status = 409, description = "Cannot disable oneself", body = Problem, content_type = "application/problem+json"),
        OneUser,
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = users::set_disabled(&state, &admin.caller(&state), &id, true).await?;
    Ok(Json(UserView::from(&user)))
}

/// Enable a disabled user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/enable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The enabled user", body = UserView),
        OneUser,
    )
)]
pub async fn enable(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = users::set_disabled(&state, &admin.caller(&state), &id, false).await?;
    Ok(Json(UserView::from(&user)))
}

/// Set a new password for a user; the password policy applies and every session ends.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/reset-password", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = ResetPasswordRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Password set"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Password rejected (see `rule`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator, or `step-up-required`: a recent second factor is needed first", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
    Json(body): Json<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    users::reset_password(&state, &admin.caller(&state), &id, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a login lock on a user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/unlock", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Unlocked"),
        OneUser,
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::unlock(&state, &admin.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of a user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/revoke-sessions", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Sessions ended", body = RevokedSessions),
        OneUser,
    )
)]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = users::revoke_sessions(&state, &admin.caller(&state), &id).await?;
    Ok(Json(RevokedSessions { revoked }))
}
