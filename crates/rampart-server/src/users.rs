//! `/api/v1/users`: user management for both providers, for IT administrators.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_core::{Email, Error, Provider, UserId, Username};
use rampart_store::{NewUser, UserPatch, UserQuery};

use crate::auth::{user_inputs, Administrator};
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    CreateUserRequest, ListUsersQuery, ResetPasswordRequest, RevokedSessions, UpdateUserRequest,
    UserPage, UserView,
};
use rampart_service::state::AppState;

fn parse_email(raw: Option<&str>) -> Result<Option<Email>, Error> {
    raw.map(Email::parse).transpose()
}

fn parse_display_name(raw: Option<String>) -> Result<Option<String>, Error> {
    match raw {
        Some(name) if name.trim().is_empty() => Ok(None),
        Some(name) => {
            rampart_core::display_text("display_name", &name, 200)?;
            Ok(Some(name))
        }
        None => Ok(None),
    }
}

/// List users, in creation order, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(ListUsersQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `limit`, `provider` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Administrator,
    Query(q): Query<ListUsersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 500").into());
    }
    let query = UserQuery {
        provider: q.provider.as_deref().map(Provider::parse).transpose()?,
        prefix: q.prefix,
        after: q
            .cursor
            .as_deref()
            .map(|c| UserId::parse(c, "cursor"))
            .transpose()?,
        limit: i64::from(limit) + 1,
    };
    let mut users = state.store.list_users(&query).await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next_cursor = if more {
        users.last().map(|u| u.id.to_string())
    } else {
        None
    };
    Ok(Json(UserPage {
        items: users.iter().map(UserView::from).collect(),
        next_cursor,
    }))
}

/// Create a user of either provider.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    request_body = CreateUserRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 409, description = "Username or e-mail taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field or password rejected", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Json(body): Json<CreateUserRequest>,
) -> Result<Response, ApiError> {
    let provider = Provider::parse(&body.provider)?;
    let username = Username::parse(&body.username)?;
    let email = parse_email(body.email.as_deref())?;
    let display_name = parse_display_name(body.display_name)?;
    if body.administrator && provider != Provider::It {
        return Err(Error::invalid("administrator", "only IT users can be administrators").into());
    }
    let mut inputs = vec![username.as_str()];
    inputs.extend(display_name.as_deref());
    inputs.extend(email.as_ref().map(Email::as_str));
    state
        .check_new_password(&body.password, &inputs, None)
        .await?;
    let password_hash = state.hash_password(&body.password).await?;
    let new = NewUser {
        provider,
        username,
        display_name,
        email,
        password_hash,
        is_admin: body.administrator,
    };
    let user = state
        .store
        .create_user(&new, state.clock.now(), &admin.audit(&state))
        .await?;
    let mut response = (StatusCode::CREATED, Json(UserView::from(&user))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/users/{}", user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One user.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _admin: Administrator,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = UserId::parse(&id, "id")?;
    let user = state
        .store
        .user(id)
        .await?
        .ok_or(Error::NotFound { what: "user" })?;
    Ok(Json(UserView::from(&user)))
}

/// Change a user's display name or e-mail.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail taken", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
    Json(body): Json<UpdateUserRequest>,
) -> Result<Json<UserView>, ApiError> {
    let id = UserId::parse(&id, "id")?;
    let patch = UserPatch {
        display_name: body.display_name.map(parse_display_name).transpose()?,
        email: body.email.map(|e| parse_email(e.as_deref())).transpose()?,
    };
    let user = state
        .store
        .update_user(id, &patch, state.clock.now(), &admin.audit(&state))
        .await?;
    Ok(Json(UserView::from(&user)))
}

fn not_self(admin: &crate::auth::Authenticated, id: UserId, what: &str) -> Result<(), ApiError> {
    if admin.user.id == id {
        return Err(
            Error::Conflict(format!("administrators cannot {what} their own account")).into(),
        );
    }
    Ok(())
}

/// Delete a user with their sessions.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cannot delete oneself", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = UserId::parse(&id, "id")?;
    not_self(&admin, id, "delete")?;
    state
        .store
        .delete_user(id, state.clock.now(), &admin.audit(&state))
        .await?;
    // The deletion is an authorization change too: apply it before answering.
    state.authz.catch_up().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disable a user: they cannot log in and every session ends.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/disable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The disabled user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cannot disable oneself", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = UserId::parse(&id, "id")?;
    not_self(&admin, id, "disable")?;
    let user = state
        .store
        .set_disabled(id, true, state.clock.now(), &admin.audit(&state))
        .await?;
    Ok(Json(UserView::from(&user)))
}

/// Enable a disabled user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/enable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The enabled user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enable(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = UserId::parse(&id, "id")?;
    let user = state
        .store
        .set_disabled(id, false, state.clock.now(), &admin.audit(&state))
        .await?;
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
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
    Json(body): Json<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let id = UserId::parse(&id, "id")?;
    let user = state
        .store
        .user(id)
        .await?
        .ok_or(Error::NotFound { what: "user" })?;
    let inputs = user_inputs(&user);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    state
        .check_new_password(&body.password, &inputs, Some(id))
        .await?;
    let hash = state.hash_password(&body.password).await?;
    state
        .store
        .set_password(
            id,
            &hash,
            state.password_policy.history,
            "user.password.reset",
            state.clock.now(),
            &admin.audit(&state),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a login lock on a user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/unlock", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = UserId::parse(&id, "id")?;
    state
        .store
        .unlock(id, state.clock.now(), &admin.audit(&state))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of a user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/revoke-sessions", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Sessions ended", body = RevokedSessions),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<RevokedSessions>, ApiError> {
    let id = UserId::parse(&id, "id")?;
    let revoked = state
        .store
        .revoke_user_sessions(id, state.clock.now(), &admin.audit(&state))
        .await?;
    Ok(Json(RevokedSessions { revoked }))
}
