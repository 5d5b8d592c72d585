//! `/api/v1/auth`: logging in and out, the caller, their sessions, changing one's own
//! password.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rampart_api::{
    ChangePasswordRequest, LoginRequest, LoginResponse, LogoutQuery, MeResponse, OpenSessionView,
    SessionView, SessionsResponse, UserView,
};
use rampart_core::Error;
use rampart_service::identity;
use rampart_service::state::AppState;

use crate::auth::{same_origin, session_cookie, Authenticated, RequestContext, Via};
use crate::error::{ApiError, Json, Problem};

/// Log in with a username and password.
///
/// Unknown usernames and wrong passwords get the same answer in the same time. Repeated
/// failures lock the username with exponential back-off, and slow down the source address;
/// both answer 429 with `Retry-After`. A user with a second factor, or one the `[mfa]`
/// policy requires, gets 202 and a pending token instead of a session. With
/// `user_provider`, the password is checked by
/// that directory (a bind as the user; never stored), and the local profile is made or
/// updated just in time with the roles its groups map to.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; also sets the session cookie", body = LoginResponse),
        (status = 202, description = "The password was right and a second factor must follow (`POST /api/v1/auth/login/second-factor`), or be enrolled first; no session yet", body = rampart_api::SecondFactorRequired),
        (status = 401, description = "Invalid username or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled, password expired, or a directory username Rampart cannot hold", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed request, or no such user provider for this kind of user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The directory's user has the username of a local account the provider did not make", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The user provider's directory failed (not the user's fault)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database, or the user provider's directory, is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    request: RequestContext,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    refuse_other_origin(&state, &request, &uri, &headers)?;
    let done = match &body.user_provider {
        None => {
            identity::login(
                &state,
                &request.origin(&state),
                &body.provider,
                &body.username,
                &body.password,
                user_agent(&headers),
            )
            .await?
        }
        Some(via) => {
            rampart_service::providers::login_via(
                &state,
                &request.origin(&state),
                &body.provider,
                via,
                &body.username,
                &body.password,
                user_agent(&headers),
            )
            .await?
        }
    };
    Ok(crate::routes::mfa::login_answer(&state, &request, done))
}

/// Refuses a sign-in a page of another origin sent (a browser names it in `Origin`).
pub(crate) fn refuse_other_origin(
    state: &AppState,
    request: &RequestContext,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Error> {
    if headers.contains_key(header::ORIGIN)
        && !same_origin(
            headers,
            uri.authority().map(|a| a.as_str()),
            state,
            request.https,
        )
    {
        return Err(Error::Forbidden(
            "login from another origin is refused".into(),
        ));
    }
    Ok(())
}

/// The answer to a completed sign-in: the session's token, and its cookie.
pub(crate) fn logged_in(
    state: &AppState,
    request: &RequestContext,
    done: &identity::LoggedIn,
    recovery_codes: Option<Vec<String>>,
) -> Response {
    let login = LoginResponse {
        token: done.token.secret().to_owned(),
        token_type: "Bearer".to_owned(),
        expires_at: done.session.expires_at,
        idle_timeout_seconds: u64::from(state.config.session.idle_minutes) * 60,
        user: UserView::from(&done.user),
    };
    let mut response = match recovery_codes {
        None => Json(login).into_response(),
        Some(codes) => Json(rampart_api::SecondFactorLoginResponse {
            login,
            recovery_codes: Some(codes),
        })
        .into_response(),
    };
    if let Some(cookie) = session_cookie(
        done.token.secret(),
        done.lifetime.whole_seconds(),
        request.https,
    ) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// End this session (or, with `all=true`, every session of the user) and clear the cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    params(LogoutQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<LogoutQuery>,
) -> Result<Response, ApiError> {
    identity::logout(&state, &auth.caller(&state), &auth.session, query.all).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = session_cookie("", 0, auth.request.https) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The authenticated user and session.
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(auth: Authenticated) -> Json<MeResponse> {
    let via = match auth.via {
        Via::Bearer => "bearer",
        Via::Cookie => "cookie",
    };
    Json(MeResponse {
        user: UserView::from(&auth.user),
        session: SessionView::new(&auth.session, via),
    })
}

/// The caller's open sessions, newest first, the current one marked: where they are signed
/// in, from which address and client.
#[utoipa::path(
    get, path = "/api/v1/auth/sessions", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's open sessions", body = SessionsResponse),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SessionsResponse>, ApiError> {
    let open = identity::sessions::open_of(&state, &auth.caller(&state)).await?;
    let sessions = open
        .into_iter()
        .map(|s| OpenSessionView {
            current: s.session.id == auth.session.id,
            id: s.session.id.to_string(),
            created_at: s.session.created_at,
            last_seen_at: s.session.last_seen_at,
            expires_at: s.session.expires_at,
            source: s.source,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionsResponse { sessions }))
}

/// End one of the caller's own sessions (another device's, or this one). Another user's
/// session, or one already ended, is not found.
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "Session id, from `GET /api/v1/auth/sessions`")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A cookie-authenticated request from another origin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open session of the caller has this id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    identity::sessions::end_own(&state, &auth.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change one's own password with the current one (no session needed, so an expired
/// password can be replaced). Ends every session of the user.
#[utoipa::path(
    post, path = "/api/v1/auth/change-password", tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every session of the user has ended"),
        (status = 401, description = "Invalid username or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks a rule (see `rule`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    request: RequestContext,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    identity::change_password(
        &state,
        &request.origin(&state),
        &body.provider,
        &body.username,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The client's `User-Agent`, kept with the session it opens.
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
