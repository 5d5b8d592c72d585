//! Login, logout, password change and the authenticated-principal extractor.
//!
//! Sessions are presented either as `Authorization: Bearer <token>` (API clients) or as the
//! session cookie (browsers). Cookie-authenticated requests that change state must come
//! from our own origin: the `Origin` header is required and must match (see SECURITY.md,
//! "CSRF"); `SameSite=Lax` on the cookie is the second layer.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use rampart_core::{AuditContext, Error, Provider, Session, User};
use rampart_identity::hash_token;
use time::Duration;

use crate::error::{ApiError, Problem};
use crate::rules::{self, Rule};
use rampart_service::caller::{Caller, Origin};
use rampart_service::fence::Ticket;
use rampart_service::identity;
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
    /// When the request arrived, for the node's [`Fence`](rampart_service::fence::Fence):
    /// every decision of the request sees what other nodes committed before it.
    pub arrived: Ticket,
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

    /// The request as the service layer sees it: its source and audit context.
    pub fn origin(&self, state: &AppState) -> Origin {
        Origin {
            source: self.source,
            audit: self.audit(state),
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
    /// The caller as the service layer sees it.
    pub fn caller(&self, state: &AppState) -> Caller {
        Caller {
            user: self.user.clone(),
            audit: self.audit(state),
            arrived: self.request.arrived,
            second_factor_at: self.session.second_factor_at,
        }
    }

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
        let found = identity::sessions::lookup(state, hash, request.arrived).await?;
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
        // Idle expiry needs the last use: noted at most once a minute, written off the
        // request path (`identity::sessions::LastUse`).
        if now - session.last_seen_at >= Duration::minutes(1) {
            state.last_use.record(session.id, now);
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
        permitted(parts, state, rules::MANAGE_USERS)
            .await
            .map(Administrator)
    }
}

/// An authenticated IT user who may read users and the roles they hold: an administrator or
/// an `auditor` (who changes nothing).
#[derive(Debug, Clone)]
pub struct UserReader(pub Authenticated);

impl FromRequestParts<AppState> for UserReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::READ_USERS)
            .await
            .map(UserReader)
    }
}

/// An authenticated platform administrator, who may change user providers.
#[derive(Debug, Clone)]
pub struct ProviderAdministrator(pub Authenticated);

impl FromRequestParts<AppState> for ProviderAdministrator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::CHANGE_PROVIDERS)
            .await
            .map(ProviderAdministrator)
    }
}

/// An authenticated IT user who may read user providers and their status: an administrator
/// or an `auditor`.
#[derive(Debug, Clone)]
pub struct ProviderReader(pub Authenticated);

impl FromRequestParts<AppState> for ProviderReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::READ_PROVIDERS)
            .await
            .map(ProviderReader)
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
        permitted(parts, state, rules::READ_AUDIT_LOG)
            .await
            .map(AuditReader)
    }
}

/// The authenticated user when they may do `op`; otherwise `Forbidden` with `refusal`.
pub(crate) async fn permitted(
    parts: &mut Parts,
    state: &AppState,
    (op, refusal): Rule,
) -> Result<Authenticated, ApiError> {
    let auth = Authenticated::from_request_parts(parts, state).await?;
    if !identity::may(state, &auth.user, op).await? {
        return Err(Error::Forbidden(refusal.into()).into());
    }
    Ok(auth)
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

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
/// The host a request named, port included: `Host`, or HTTP/2's `:authority`, which
/// arrives in the URI instead; only when it is a plain `host[:port]` (letters, digits and
/// `.-:[]`), fit to write into an absolute URL.
pub(crate) fn named_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        })
}

pub(crate) fn same_origin(
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

pub(crate) fn session_cookie(value: &str, max_age: i64, https: bool) -> Option<HeaderValue> {
    let text = if https {
        format!(
            "{SECURE_COOKIE}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax"
        )
    } else {
        format!("{PLAIN_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
    };
    HeaderValue::from_str(&text).ok()
}
