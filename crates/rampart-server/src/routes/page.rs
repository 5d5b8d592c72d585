//! What every HTML page of an application shares: who is visiting, the CSRF token and the
//! CSP nonce, and the answers that are not a screen (sign-in redirect, refusals, errors).

use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine as _;
use rampart_core::Error;
use rampart_service::apps::actions::Actor;
use rampart_service::apps::screens::ScreenRef;
use rampart_service::AppState;
use subtle::ConstantTimeEq as _;

use crate::auth::{cookie, same_origin, Authenticated, RequestContext};
use crate::error::ApiError;

/// The CSRF cookie over HTTPS (`__Host-`: this host only, `Secure`, `Path=/`).
const SECURE_CSRF: &str = "__Host-rampart_csrf";
/// The CSRF cookie over plain HTTP (only where HTTPS is not enforced).
const PLAIN_CSRF: &str = "rampart_csrf";

/// Set on the router of the plain-HTTP listener when it serves the application (HTTPS not
/// enforced): where a screen that keeps `https: true` sends the browser.
#[derive(Debug, Clone)]
pub struct PlainListener {
    /// The HTTPS port.
    pub https_port: u16,
    /// The names the certificate answers for.
    pub names: crate::tls::ServedNames,
}

/// Who is visiting: the request, the session if one is valid, and the CSRF cookie.
#[derive(Debug, Clone)]
pub struct Visitor {
    context: RequestContext,
    auth: Option<Authenticated>,
    csrf: Option<String>,
    plain: Option<PlainListener>,
    /// The HTTP/2 `:authority`, for the `Origin` check where no `Host` is sent.
    authority: Option<String>,
}

impl Visitor {
    /// Whether the request came over TLS.
    pub fn https(&self) -> bool {
        self.context.https
    }

    /// The signed-in user's session, if any.
    pub fn signed_in(&self) -> Option<&Authenticated> {
        self.auth.as_ref()
    }

    /// The visitor as the runtime sees them.
    pub fn actor(&self, state: &AppState) -> Actor {
        match &self.auth {
            Some(auth) => Actor {
                caller: Some(auth.caller(state)),
                audit: auth.audit(state),
            },
            None => Actor {
                caller: None,
                audit: self.context.audit(state),
            },
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        let csrf = cookie(&parts.headers, csrf_name(context.https));
        let plain = Extension::<PlainListener>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|Extension(p)| p);
        // A session that is gone (expired, revoked, unknown) is a visitor to sign in again;
        // anything else (a cross-site state change with the cookie) is refused.
        let auth = match Authenticated::from_request_parts(parts, state).await {
            Ok(auth) => Some(auth),
            Err(e) if e.0.status == 401 => None,
            Err(e) => return Err(e),
        };
        Ok(Visitor {
            context,
            auth,
            csrf,
            plain,
            authority: parts.uri.authority().map(|a| a.as_str().to_owned()),
        })
    }
}

/// What every HTML page's response carries, whatever room serves it: the CSRF token (the
/// double-submit cookie's value, new when the visitor has none) and the CSP nonce.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// This response's CSRF token (the cookie's value).
    pub csrf: String,
    /// This response's CSP nonce.
    pub nonce: String,
    new_csrf: bool,
    https: bool,
}

impl Tokens {
    /// The tokens of a page for `visitor`: their CSRF cookie's value if they have a valid
    /// one, otherwise a new one, and a fresh nonce.
    pub fn new(visitor: &Visitor) -> Tokens {
        let (csrf, new_csrf) = match &visitor.csrf {
            Some(token) if token.len() == 43 => (token.clone(), false),
            _ => (random_token(), true),
        };
        Tokens {
            csrf,
            nonce: random_token(),
            new_csrf,
            https: visitor.https(),
        }
    }

    /// `response` with the page's headers: the CSP `csp` (which names the nonce), no caching,
    /// and the CSRF cookie when it is new.
    pub fn finish(&self, mut response: Response, csp: &str) -> Response {
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // A browser sends the page's origin with its forms only under a referrer policy
        // that lets it (`no-referrer` makes it `Origin: null`); other sites get nothing.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        if self.new_csrf {
            let cookie = if self.https {
                format!(
                    "{SECURE_CSRF}={}; Path=/; Secure; HttpOnly; SameSite=Strict",
                    self.csrf
                )
            } else {
                format!(
                    "{PLAIN_CSRF}={}; Path=/; HttpOnly; SameSite=Strict",
                    self.csrf
                )
            };
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                headers.append(header::SET_COOKIE, v);
            }
        }
        response
    }
}

/// What a page of an application needs beside its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The application.
    pub application: String,
    /// The environment.
    pub environment: String,
    /// `/apps/{environment}/{application}`.
    pub base: String,
    /// The signed-in user's name.
    pub user: Option<String>,
    /// This response's CSRF token and CSP nonce.
    pub tokens: Tokens,
    /// Where the page's forms may lead besides this site: the origin of the redirect URI of
    /// the authorization request the provider's sign-in page returns to. Browsers apply
    /// `form-action` to the redirects after a form, and signing in ends at the client.
    pub form_to: Option<String>,
}

impl Chrome {
    /// The chrome of a page of `application` in `environment` for `visitor`.
    pub fn new(
        _state: &AppState,
        visitor: &Visitor,
        environment: &str,
        application: &str,
    ) -> Chrome {
        Chrome {
            application: application.to_owned(),
            environment: environment.to_owned(),
            base: format!("/apps/{environment}/{application}"),
            user: visitor.auth.as_ref().map(|a| {
                a.user
                    .display_name
                    .clone()
                    .unwrap_or_else(|| a.user.username.clone())
            }),
            tokens: Tokens::new(visitor),
            form_to: None,
        }
    }

    /// The chrome of the OpenID provider's own sign-in page (`/oauth2/login`): Rampart's,
    /// not an application's, and without a signed-in user's sign-out button (whoever is
    /// signed in there is not one of the client's users).
    pub fn provider(visitor: &Visitor) -> Chrome {
        Chrome {
            application: "Rampart".to_owned(),
            environment: String::new(),
            base: "/oauth2".to_owned(),
            user: None,
            tokens: Tokens::new(visitor),
            form_to: None,
        }
    }

    /// This chrome, its forms allowed to lead on to `origin` (a client's redirect URI's,
    /// from [`rampart_service::idp::authorize::client_of_return`]).
    pub fn sending_to(mut self, origin: Option<String>) -> Chrome {
        self.form_to = origin;
        self
    }

    /// The CSP's `form-action` sources.
    fn form_action(&self) -> String {
        match &self.form_to {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".to_owned(),
        }
    }

    /// `response` with the page's headers: its CSP (styles only with the nonce, no script),
    /// no caching, and the CSRF cookie when it is new.
    pub fn finish(&self, response: Response) -> Response {
        let csp = format!(
            "default-src 'none'; style-src 'nonce-{}'; img-src 'self'; form-action {}; \
             frame-ancestors 'none'; base-uri 'none'",
            self.tokens.nonce,
            self.form_action()
        );
        self.tokens.finish(response, &csp)
    }

    /// As [`Chrome::finish`], for a sign-in page that offers passkeys: the passkey script
    /// too, with the nonce, calling this site only.
    pub fn finish_scripted(&self, response: Response) -> Response {
        let nonce = &self.tokens.nonce;
        let form_action = self.form_action();
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; \
             style-src 'nonce-{nonce}'; img-src 'self'; form-action {form_action}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        self.tokens.finish(response, &csp)
    }
}

/// Whether a form comes from this site: its `_csrf` field equals the visitor's CSRF cookie
/// (compared in constant time), and a browser's `Origin`, when sent, is this site.
pub fn from_this_site(
    state: &AppState,
    visitor: &Visitor,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> bool {
    let sent = fields
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.as_bytes());
    let matches = match (&visitor.csrf, sent) {
        (Some(cookie), Some(sent)) if !cookie.is_empty() => {
            bool::from(cookie.as_bytes().ct_eq(sent))
        }
        _ => false,
    };
    let origin_ok = !headers.contains_key(header::ORIGIN)
        || same_origin(
            headers,
            visitor.authority.as_deref(),
            state,
            visitor.https(),
        );
    matches && origin_ok
}

/// The refusal of a form that did not come from this site, recorded in the audit trail and
/// answered as a page.
pub async fn refused_form(
    state: &AppState,
    visitor: &Visitor,
    chrome: &Chrome,
    path: &str,
) -> Response {
    let recorded = rampart_service::apps::screens::refused_form(
        state,
        &visitor.actor(state),
        (&chrome.environment, &chrome.application, path),
        "csrf-rejected",
    )
    .await;
    if let Err(e) = recorded {
        return error_page(chrome, e, path);
    }
    foreign_form(chrome, "Open the page again and send it from there.")
}

/// The page refusing a form that did not come from this site, saying where to start
/// `again`.
pub fn foreign_form(chrome: &Chrome, again: &str) -> Response {
    message(
        chrome,
        StatusCode::FORBIDDEN,
        "Form refused",
        &format!(
            "This form did not come from this site (its security token is missing or out of \
             date). {again}"
        ),
    )
}

/// Whether a plain-HTTP request is for a screen that keeps `https: true`.
pub async fn needs_https(state: &AppState, visitor: &Visitor, at: &ScreenRef) -> bool {
    !visitor.https() && screen_wants_https(state, at).await
}

/// The redirect to HTTPS of `request` (or a refusal where this listener cannot name the
/// HTTPS one).
pub fn to_https(state: &AppState, visitor: &Visitor, request: &Request) -> Response {
    match &visitor.plain {
        Some(p) => crate::app::redirect_to_https(state, request, p.https_port, &p.names),
        None => https_refusal(),
    }
}

/// The refusal of a form sent over plain HTTP to a screen that keeps `https: true` (not
/// redirected: the browser would send the form again in the clear).
pub async fn refused_plain_form(
    state: &AppState,
    visitor: &Visitor,
    at: &ScreenRef,
) -> Option<Response> {
    (!visitor.https() && screen_wants_https(state, at).await).then(https_refusal)
}

async fn screen_wants_https(state: &AppState, at: &ScreenRef) -> bool {
    match state
        .apps
        .env(state, &at.environment, state.fence.ticket())
        .await
    {
        Ok(env) => env
            .screen(&at.application, &at.screen)
            .is_some_and(|(_, s)| s.https),
        Err(_) => false,
    }
}

fn https_refusal() -> Response {
    ApiError::from(crate::error::Problem::new(
        StatusCode::FORBIDDEN,
        "https-required",
        "HTTPS required",
        "this screen is served over HTTPS only",
    ))
    .into_response()
}

/// A `303 See Other` to a path on this site.
pub fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// A `303 See Other` to `to` that sets the session cookie (of this connection's kind) to
/// `token` for `max_age` seconds: a page's sign-in. An empty token with 0 clears it.
pub fn with_session(to: &str, token: &str, max_age: i64, https: bool) -> Response {
    let mut response = see_other(to);
    if let Some(cookie) = crate::auth::session_cookie(token, max_age, https) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The sign-in page, to come back to `here`.
pub fn sign_in(chrome: &Chrome, here: &str) -> Response {
    see_other(&format!("{}/login?return={}", chrome.base, encode(here)))
}

/// An HTML page with `status`, or a 500 if the template failed.
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            ApiError::from(Error::Internal("a page did not render".into())).into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "apps/message.html")]
struct MessagePage<'a> {
    chrome: &'a Chrome,
    heading: &'a str,
    message: &'a str,
}

/// A page saying `message`.
pub fn message(chrome: &Chrome, status: StatusCode, heading: &str, message: &str) -> Response {
    let rendered = MessagePage {
        chrome,
        heading,
        message,
    }
    .render();
    html(status, rendered)
}

/// The page of an error: sign in again for a session that is gone, otherwise the error's
/// status and its explanation (never more than the API would say).
pub fn error_page(chrome: &Chrome, error: Error, here: &str) -> Response {
    if matches!(error, Error::Unauthenticated(_)) {
        return sign_in(chrome, here);
    }
    let problem = ApiError::from(error).0;
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    message(chrome, status, &problem.title, &problem.detail)
}

/// `text` percent-encoded as a URL query component.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn csrf_name(https: bool) -> &'static str {
    if https {
        SECURE_CSRF
    } else {
        PLAIN_CSRF
    }
}

/// 32 random bytes, base64url without padding (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness no token can be trusted: an empty one matches nothing.
        return String::new();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
