//! Login, logout, password change and the authenticated-principal extractor.
//!
//! Sessions are presented either as `Authorization: Bearer <token>` (API clients) or as the
//! session cookie (browsers). Cookie-authenticated requests that change state must come
//! from our own origin: the `Origin` header is required and must match (see SECURITY.md,
//! "CSRF"); `SameSite=Lax` on the cookie is the second layer.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rampart_core::{AuditContext, Error, Provider, Session, ThrottleScope, User, Username};
use rampart_identity::{ceil_secs, hash_token, SessionToken};
use rampart_store::NewSession;
use time::Duration;

use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    ChangePasswordRequest, LoginRequest, LoginResponse, LogoutQuery, MeResponse, SessionView,
    UserView,
};
use rampart_service::state::AppState;

/// Cookie name over HTTPS: the `__Host-` prefix makes browsers insist on `Secure`,
/// `Path=/` and no `Domain`, so the cookie is bound to this exact host.
pub const SECURE_COOKIE: &str = "__Host-rampart_session";
/// Cookie name when HTTPS is not enforced and the request came over plain HTTP.
pub const PLAIN_COOKIE: &str = "rampart_session";

/// Facts about the request, set by the outermost middleware.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (from `X-Request-Id` if well-formed, else generated).
    pub request_id: String,
    /// The peer address.
    pub source: Option<IpAddr>,
    /// Whether the request came over TLS.
    pub https: bool,
    /// Filled by [`Authenticated`] with the user's provider and audit context, so the
    /// outermost middleware can record an end user's access in the `access` audit stream.
    pub actor: Arc<std::sync::OnceLock<(Provider, AuditContext)>>,
}

impl RequestContext {
    /// The audit context of an anonymous request.
    pub fn audit(&self, state: &AppState) -> AuditContext {
        AuditContext {
            actor_id: None,
            actor_name: None,
            request_id: Some(self.request_id.clone()),
            source: self.source.map(|s| s.to_string()),
            node_id: state.config.node_id.clone(),
        }
    }

    /// The audit context of this request acting as `user`: a successful login is the
    /// user's own act, so its actor is the user (a failed one names the user only as
    /// target: someone else may have typed the name).
    pub fn audit_as(&self, state: &AppState, user: &User) -> AuditContext {
        AuditContext {
            actor_id: Some(user.id),
            actor_name: Some(format!("{}:{}", user.provider, user.username)),
            ..self.audit(state)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| ApiError::from(Error::Internal("request context missing".into())))
    }
}

/// How a session was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`.
    Bearer,
    /// The session cookie.
    Cookie,
}

/// An authenticated request: the user, their session, and the request's facts.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
    /// How the session was presented.
    pub via: Via,
    /// The request's facts.
    pub request: RequestContext,
}

impl Authenticated {
    /// The audit context naming this user as the actor.
    pub fn audit(&self, state: &AppState) -> AuditContext {
        AuditContext {
            actor_id: Some(self.user.id),
            actor_name: Some(format!("{}:{}", self.user.provider, self.user.username)),
            ..self.request.audit(state)
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request = RequestContext::from_request_parts(parts, state).await?;
        let (presented, via) = match bearer(&parts.headers)? {
            Some(token) => (token, Via::Bearer),
            None => match cookie(&parts.headers, cookie_name(request.https)) {
                Some(token) => (token, Via::Cookie),
                None => return Err(Error::Unauthenticated(
                    "send Authorization: Bearer <token>, or log in with POST /api/v1/auth/login",
                )
                .into()),
            },
        };
        let Some(hash) = hash_token(&presented) else {
            return Err(Error::Unauthenticated("the token is not valid").into());
        };
        let cacheable = state.store.is_exclusive();
        // Read the epoch before the row: a change committed after this read invalidates
        // what we are about to cache.
        let epoch = state.store.credentials_epoch();
        let cached = if cacheable {
            state.sessions.get(&hash, epoch)
        } else {
            None
        };
        let found = match cached {
            Some(found) => Some(found),
            None => {
                let loaded = state.store.session_by_token(&hash.0).await?;
                if let (true, Some((session, user))) = (cacheable, &loaded) {
                    state
                        .sessions
                        .put(hash, epoch, session.clone(), user.clone());
                }
                loaded
            }
        };
        let Some((session, user)) = found else {
            return Err(Error::Unauthenticated("the token is not valid").into());
        };
        let now = state.clock.now();
        let idle = Duration::minutes(state.config.session.idle_minutes.into());
        if session.revoked_at.is_some() {
            return Err(Error::Unauthenticated("the session has ended; log in again").into());
        }
        if now >= session.expires_at || now - session.last_seen_at >= idle {
            return Err(Error::Unauthenticated("the session has expired; log in again").into());
        }
        if user.disabled {
            return Err(Error::Unauthenticated("the account is disabled").into());
        }
        if via == Via::Cookie
            && !is_safe(&parts.method)
            && !same_origin(
                &parts.headers,
                parts.uri.authority().map(|a| a.as_str()),
                state,
                request.https,
            )
        {
            return Err(ApiError::from(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf-rejected",
                "Cross-site request refused",
                "a cookie-authenticated request that changes state must come from this origin \
                 (Origin header required); API clients should use a bearer token",
            )));
        }
        // Idle expiry needs the last use, but a write per request would cost more than the
        // request: record it at most once a minute.
        if now - session.last_seen_at >= Duration::minutes(1) {
            state.store.touch_session(session.id, now).await?;
            state.sessions.touch(&hash, now);
        }
        let auth = Authenticated {
            user,
            session,
            via,
            request,
        };
        let _ = auth
            .request
            .actor
            .set((auth.user.provider, auth.audit(state)));
        Ok(auth)
    }
}

/// An authenticated platform administrator.
#[derive(Debug, Clone)]
pub struct Administrator(pub Authenticated);

impl FromRequestParts<AppState> for Administrator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if auth.user.provider != Provider::It || !auth.user.is_admin {
            return Err(Error::Forbidden("only IT administrators may manage users".into()).into());
        }
        Ok(Administrator(auth))
    }
}

/// An authenticated IT user who may read the audit log: an administrator or an `auditor`.
/// Auditors can read everything in the log and change nothing.
#[derive(Debug, Clone)]
pub struct AuditReader(pub Authenticated);

impl FromRequestParts<AppState> for AuditReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if auth.user.provider == Provider::It
            && (auth.user.is_admin || is_auditor(state, &auth.user).await?)
        {
            return Ok(AuditReader(auth));
        }
        Err(
            Error::Forbidden("only IT administrators and auditors may read the audit log".into())
                .into(),
        )
    }
}

/// Whether `user` holds the `auditor` IT role (reads the audit log, changes nothing).
pub(crate) async fn is_auditor(state: &AppState, user: &User) -> Result<bool, Error> {
    Ok(state
        .store
        .it_roles_of(user.id)
        .await?
        .iter()
        .any(|r| r == "auditor"))
}

/// Whether `user` may read authorization data about others (the model, grants, explanations,
/// other users' readable records, roles and IT levels): administrators and auditors.
pub(crate) async fn reads_authorization_data(state: &AppState, user: &User) -> Result<bool, Error> {
    Ok(user.is_admin || (user.provider == Provider::It && is_auditor(state, user).await?))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn cookie_name(https: bool) -> &'static str {
    if https {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("the Authorization header is not valid"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(Error::Unauthenticated("only Authorization: Bearer <token> is accepted").into()),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether the request's `Origin` is this server: the configured public origin, or else
/// the scheme and `Host` the request itself was sent to. `Sec-Fetch-Site`, when the browser
/// sends it, must say `same-origin`.
fn same_origin(
    headers: &HeaderMap,
    authority: Option<&str>,
    state: &AppState,
    https: bool,
) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if !state.config.public_origin.is_empty() {
        return origin == state.config.public_origin;
    }
    // HTTP/1.1 sends `Host`; HTTP/2 sends `:authority`, which arrives in the URI.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority);
    let Some(host) = host else {
        return false;
    };
    let scheme = if https { "https" } else { "http" };
    origin == format!("{scheme}://{host}")
}

fn session_cookie(value: &str, max_age: i64, https: bool) -> Option<HeaderValue> {
    let text = if https {
        format!(
            "{SECURE_COOKIE}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax"
        )
    } else {
        format!("{PLAIN_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
    };
    HeaderValue::from_str(&text).ok()
}

/// Log in with a username and password.
///
/// Unknown usernames and wrong passwords get the same answer in the same time. Repeated
/// failures lock the username with exponential back-off, and slow down the source address;
/// both answer 429 with `Retry-After`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; also sets the session cookie", body = LoginResponse),
        (status = 401, description = "Invalid username or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled or password expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    request: RequestContext,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    if headers.contains_key(header::ORIGIN)
        && !same_origin(
            &headers,
            uri.authority().map(|a| a.as_str()),
            &state,
            request.https,
        )
    {
        return Err(Error::Forbidden("login from another origin is refused".into()).into());
    }
    let provider = Provider::parse(&body.provider)?;
    let username = Username::parse(&body.username)?;
    let user = verify_credentials(&state, &request, provider, &username, &body.password).await?;
    let now = state.clock.now();
    if user.disabled {
        state.metrics.login(provider.as_str(), "disabled");
        record_refusal(&state, &request, &user, "account-disabled").await?;
        return Err(Error::AccountDisabled.into());
    }
    if password_expired(&state, &user) {
        state.metrics.login(provider.as_str(), "expired");
        record_refusal(&state, &request, &user, "password-expired").await?;
        return Err(Error::PasswordExpired.into());
    }
    let token = SessionToken::generate()?;
    let absolute = Duration::hours(state.config.session.absolute_hours.into());
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    let new = NewSession {
        token_hash: token.hash().0,
        expires_at: now + absolute,
        source: request.source.map(|s| s.to_string()),
        user_agent,
    };
    let session = state
        .store
        .record_login_success(&user, &new, now, &request.audit_as(&state, &user))
        .await?;
    state.metrics.login(provider.as_str(), "ok");
    tracing::info!(user = %user.id, session = %session.id, "login");
    let body = LoginResponse {
        token: token.secret().to_owned(),
        token_type: "Bearer",
        expires_at: session.expires_at,
        idle_timeout_seconds: u64::from(state.config.session.idle_minutes) * 60,
        user: UserView::from(&user),
    };
    let mut response = Json(body).into_response();
    if let Some(cookie) = session_cookie(token.secret(), absolute.whole_seconds(), request.https) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn password_expired(state: &AppState, user: &User) -> bool {
    let days = state.config.password.max_age_days;
    days > 0 && state.clock.now() - user.password_changed_at >= Duration::days(days.into())
}

async fn record_refusal(
    state: &AppState,
    request: &RequestContext,
    user: &User,
    reason: &str,
) -> Result<(), Error> {
    let event = rampart_core::AuditEvent {
        action: "auth.login",
        target: Some(format!("user:{}", user.id)),
        outcome: rampart_core::Outcome::Failure,
        details: serde_json::json!({ "provider": user.provider.as_str(), "username": user.username, "reason": reason })
            .to_string(),
    };
    state
        .store
        .record_event(&request.audit(state), &event, state.clock.now())
        .await
}

/// Checks throttles, then the password; counts failures. Shared by login and password change.
async fn verify_credentials(
    state: &AppState,
    request: &RequestContext,
    provider: Provider,
    username: &Username,
    password: &str,
) -> Result<User, ApiError> {
    // One password check at a time per username on this node: concurrent guesses queue
    // here, so each sees the failures (and the lock) of those before it.
    let _gate = state.login_gate(provider, username.normalized()).await;
    let now = state.clock.now();
    if let Some(source) = request.source {
        if let Err(retry_after_secs) = state.address_throttle.check(source, now) {
            state
                .metrics
                .throttled
                .get_or_create(&rampart_service::metrics::ScopeLabels {
                    scope: "address".into(),
                })
                .inc();
            state.metrics.login(provider.as_str(), "throttled");
            return Err(Error::LoginThrottled {
                retry_after_secs,
                scope: ThrottleScope::SourceAddress,
            }
            .into());
        }
    }
    if let Some(until) = state
        .store
        .login_locked_until(provider, username.normalized())
        .await?
    {
        if until > now {
            state
                .metrics
                .throttled
                .get_or_create(&rampart_service::metrics::ScopeLabels {
                    scope: "account".into(),
                })
                .inc();
            state.metrics.login(provider.as_str(), "throttled");
            return Err(Error::LoginThrottled {
                retry_after_secs: ceil_secs(until - now),
                scope: ThrottleScope::Account,
            }
            .into());
        }
    }
    let found = state
        .store
        .user_credentials(provider, username.normalized())
        .await?;
    let verified = state
        .verify_password(password, found.as_ref().map(|(_, hash)| hash.as_str()))
        .await?;
    match found {
        Some((user, _)) if verified => Ok(user),
        found => {
            let reason = if found.is_some() {
                "wrong-password"
            } else {
                "unknown-user"
            };
            // An unknown "username" may be a password typed in the wrong field: the audit
            // trail gets a keyed pseudonym of it, never the text.
            let shown = if found.is_some() {
                username.as_str().to_owned()
            } else {
                format!("unknown#{}", state.pseudonyms.of(username.normalized()))
            };
            let lockout = state.lockout;
            let failure = state
                .store
                .record_login_failure(
                    provider,
                    &shown,
                    username.normalized(),
                    reason,
                    lockout.window,
                    &move |n| lockout.lock_for(n),
                    now,
                    &request.audit(state),
                )
                .await?;
            if failure.locked_until.is_some() {
                state.metrics.lockouts.inc();
                tracing::warn!(provider = %provider, failures = failure.failures, "username locked after failed logins");
            }
            if let Some(source) = request.source {
                state.address_throttle.record_failure(source, now);
            }
            state.metrics.login(provider.as_str(), "failed");
            Err(Error::InvalidCredentials.into())
        }
    }
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
    let now = state.clock.now();
    if query.all {
        state
            .store
            .revoke_user_sessions(auth.user.id, now, &auth.audit(&state))
            .await?;
    } else {
        state
            .store
            .revoke_session(&auth.session, now, &auth.audit(&state))
            .await?;
    }
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
    let provider = Provider::parse(&body.provider)?;
    let username = Username::parse(&body.username)?;
    let user = verify_credentials(
        &state,
        &request,
        provider,
        &username,
        &body.current_password,
    )
    .await?;
    if user.disabled {
        return Err(Error::AccountDisabled.into());
    }
    let inputs = user_inputs(&user);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    state
        .check_new_password(&body.new_password, &inputs, Some(user.id))
        .await?;
    let hash = state.hash_password(&body.new_password).await?;
    let ctx = request.audit_as(&state, &user);
    state
        .store
        .set_password(
            user.id,
            &hash,
            state.password_policy.history,
            "user.password.change",
            state.clock.now(),
            &ctx,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's own words, refused inside their password.
pub fn user_inputs(user: &User) -> Vec<String> {
    let mut inputs = vec![user.username.clone()];
    inputs.extend(user.display_name.clone());
    inputs.extend(user.email.clone());
    inputs
}
