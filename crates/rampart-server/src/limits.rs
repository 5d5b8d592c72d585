//! Rate limits per route class and client address (`[rate_limits]`), applied before any
//! handler runs: a client over its class's rate gets 429 problem+json with `Retry-After`,
//! and nothing else happens. The decisions are [`rampart_alerts::Limiter`]'s; this room
//! only says which class a path is in and which address a request came from (the one
//! `trusted_proxies` allows, set by the outermost middleware).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use rampart_api::Problem;
use rampart_service::alerts::{Limiter, Rate};
use rampart_service::config::{RateLimitsConfig, RATE_LIMIT_CLASSES};
use rampart_service::metrics::{Metrics, RateLimitLabels};

use crate::auth::RequestContext;
use crate::error::ApiError;

/// The node's limiters, one per limited class.
pub struct Limits {
    classes: [Option<Mutex<Limiter<IpAddr>>>; 4],
    started: Instant,
    metrics: Arc<Metrics>,
}

impl Limits {
    /// The limiters `config` asks for (it was validated when the configuration loaded; a
    /// rate that does not read is no limit).
    pub fn new(config: &RateLimitsConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        let capacity = usize::try_from(config.max_clients).unwrap_or(usize::MAX);
        let rates = config.rates().unwrap_or([None; 4]);
        Arc::new(Self {
            classes: rates.map(|r: Option<Rate>| r.map(|r| Mutex::new(Limiter::new(r, capacity)))),
            started: Instant::now(),
            metrics,
        })
    }

    /// Takes one request of `client` to `path`: `Err(seconds)` to wait when over the rate.
    fn take(&self, path: &str, client: IpAddr) -> Result<(), (usize, u64)> {
        let Some(class) = class_of(path) else {
            return Ok(());
        };
        let Some(limiter) = &self.classes[class] else {
            return Ok(());
        };
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let Ok(mut limiter) = limiter.lock() else {
            return Ok(());
        };
        limiter
            .check(&client, now)
            .map_err(|wait| (class, wait.div_ceil(1_000_000_000).max(1)))
    }
}

/// The route class of `path` (an index into [`RATE_LIMIT_CLASSES`]); `None` for what is
/// never limited (`/healthz`, `/metrics`, the OpenAPI document, the OpenID provider's
/// discovery document and keys, static assets).
pub fn class_of(path: &str) -> Option<usize> {
    const SIGN_IN: usize = 0;
    const API: usize = 1;
    const APPS: usize = 2;
    const CONSOLE: usize = 3;
    if path.starts_with("/api/v1/auth/login")
        || path.starts_with("/api/v1/auth/step-up")
        || path.starts_with("/console/login")
        || (path.starts_with("/api/v1/providers/")
            && ["/oidc/start", "/oidc/callback", "/saml/login", "/saml/acs"]
                .iter()
                .any(|end| path.ends_with(end)))
    {
        return Some(SIGN_IN);
    }
    // The OpenID provider: signing in and trading credentials for tokens are sign-ins;
    // what relying parties call with tokens in hand is API.
    if let Some(endpoint) = path.strip_prefix("/oauth2/") {
        return Some(if matches!(endpoint, "authorize" | "token" | "login") {
            SIGN_IN
        } else {
            API
        });
    }
    if let Some(rest) = path.strip_prefix("/apps/") {
        // `/apps/{environment}/{application}/login`
        let login = rest.splitn(3, '/').nth(2) == Some("login");
        return Some(if login { SIGN_IN } else { APPS });
    }
    if path == "/api/v1/openapi.json" {
        return None;
    }
    if path.starts_with("/api/") || path.starts_with("/scim/") {
        return Some(API);
    }
    if path.starts_with("/console/static/") {
        return None;
    }
    if path == "/console" || path.starts_with("/console/") {
        return Some(CONSOLE);
    }
    None
}

/// The middleware: refuses a request over its class's rate before it reaches a handler.
pub async fn limit(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.source);
    if let Some(client) = client {
        if let Err((class, wait)) = limits.take(request.uri().path(), client) {
            let name = RATE_LIMIT_CLASSES[class];
            limits
                .metrics
                .rate_limited
                .get_or_create(&RateLimitLabels { class: name })
                .inc();
            let mut problem = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("this address sent more `{name}` requests than the rate limit allows; retry after {wait} s"),
            );
            problem.retry_after = Some(wait);
            return ApiError::from(problem).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_in_their_class() {
        let cases = [
            ("/api/v1/auth/login", Some("sign_in")),
            ("/api/v1/auth/login/second-factor", Some("sign_in")),
            ("/api/v1/auth/step-up", Some("sign_in")),
            ("/api/v1/auth/step-up/passkey-challenge", Some("sign_in")),
            ("/api/v1/auth/login/passkey-challenge", Some("sign_in")),
            ("/api/v1/auth/login/passkey-discovery", Some("sign_in")),
            ("/api/v1/auth/login/passkey", Some("sign_in")),
            ("/console/login", Some("sign_in")),
            ("/console/login/code", Some("sign_in")),
            ("/api/v1/providers/corp/oidc/callback", Some("sign_in")),
            ("/api/v1/providers/corp/saml/acs", Some("sign_in")),
            ("/apps/development/sales/login", Some("sign_in")),
            ("/oauth2/authorize", Some("sign_in")),
            ("/oauth2/token", Some("sign_in")),
            ("/oauth2/login", Some("sign_in")),
            ("/oauth2/userinfo", Some("api")),
            ("/oauth2/introspect", Some("api")),
            ("/.well-known/openid-configuration", None),
            ("/apps/development/sales/Sales", Some("apps")),
            ("/apps/development/sales/api/sales-ui/Sale", Some("apps")),
            ("/api/v1/auth/me", Some("api")),
            ("/api/v1/providers/corp", Some("api")),
            ("/api/v1/users", Some("api")),
            ("/scim/v2/Users", Some("api")),
            ("/console", Some("console")),
            ("/console/users", Some("console")),
            ("/console/static/console.css", None),
            ("/api/v1/openapi.json", None),
            ("/healthz", None),
            ("/metrics", None),
            ("/consolex", None),
        ];
        for (path, class) in cases {
            assert_eq!(
                class_of(path).map(|c| RATE_LIMIT_CLASSES[c]),
                class,
                "{path}"
            );
        }
    }
}
