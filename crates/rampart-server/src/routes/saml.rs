//! `/api/v1/providers/{name}/saml/…`: sign-in through a SAML 2.0 identity provider (a user
//! provider of kind `saml`), Rampart the service provider. Public: these are the steps of a
//! sign-in, before anyone is signed in.
//!
//! - `GET …/saml/metadata`: Rampart's service-provider metadata, for the identity provider.
//! - `GET …/saml/login`: the start link; a redirect to the identity provider with a signed
//!   AuthnRequest (HTTP-Redirect binding).
//! - `POST …/saml/acs`: the assertion consumer service (HTTP-POST binding): the session
//!   cookie and a redirect to the return address, or, asked for JSON, the login's answer.
//!   A refusal is a problem, or a page for a browser (`Accept: text/html`).
//!
//! Over HTTPS the start link also sets `__Host-rampart_saml_<key>` (the sign-in's secret,
//! `SameSite=None`: the identity provider's POST is cross-site), which the response must
//! come back with, so a response cannot be replayed into another person's browser to sign
//! them in as someone else.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use rampart_api::{LoginResponse, SamlAcsForm, SamlLoginQuery};
use rampart_core::Error;
use rampart_service::identity::LoginStep;
use rampart_service::providers::saml;
use rampart_service::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{session_cookie, RequestContext};
use crate::error::{ApiError, Problem};
use crate::routes::auth::user_agent;

/// The sign-in cookie's name before its key (HTTPS only: `__Host-`, `Secure`, the root
/// path, `SameSite=None` so the identity provider's cross-site POST brings it back).
const BROWSER_COOKIE: &str = "__Host-rampart_saml_";
/// How long the sign-in cookie lives, in seconds (the request's lifetime).
const BROWSER_COOKIE_SECONDS: u32 = 600;

/// The largest body the assertion consumer service reads: responses with certificates and
/// two signatures are larger than most API bodies.
const ACS_BODY_LIMIT: usize = 512 * 1024;

/// The routes, with the assertion consumer service's own body limit.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metadata))
        .routes(routes!(login))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(acs))
                .layer(DefaultBodyLimit::max(ACS_BODY_LIMIT)),
        )
}

/// Rampart's SAML service-provider metadata for this provider: its entity id, assertion
/// consumer service (HTTP-POST) and signing certificates (every node's).
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/saml/metadata", tag = "providers", operation_id = "saml_metadata",
    params(("name" = String, Path, description = "Provider name")),
    responses(
        (status = 200, description = "The metadata (an EntityDescriptor)", body = String, content_type = "application/samlmetadata+xml"),
        (status = 404, description = "No SAML user provider of that name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn metadata(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let xml = saml::sp_metadata(&state, &name).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

/// Start signing in through a SAML identity provider: a redirect to it with a signed
/// AuthnRequest; `return` (a path on this site) is where the browser goes once signed in.
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/saml/login", tag = "providers", operation_id = "saml_login",
    params(("name" = String, Path, description = "Provider name"), SamlLoginQuery),
    responses(
        (status = 303, description = "To the identity provider (`Location`); over HTTPS with the sign-in's cookie (`__Host-rampart_saml_…`)"),
        (status = 403, description = "Sign-in through the provider is disabled, or these users must sign in through another provider", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No SAML user provider of that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`user` missing or not served by the provider, or `return` not a path on this site", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The request could not be made (the signing key)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The identity provider's metadata cannot be read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    request: RequestContext,
    Path(name): Path<String>,
    query: Result<Query<SamlLoginQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    let started = saml::begin(
        &state,
        &request.origin(&state),
        &name,
        q.user.as_deref(),
        q.return_to.as_deref(),
        request.https,
    )
    .await?;
    let location = HeaderValue::from_str(&started.url)
        .map_err(|_| Error::Internal("the identity provider's URL is not a header".into()))?;
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    if let Some((key, secret)) = &started.browser {
        let cookie = format!(
            "{BROWSER_COOKIE}{key}={secret}; Path=/; Max-Age={BROWSER_COOKIE_SECONDS}; Secure; \
             HttpOnly; SameSite=None"
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// The sign-in secrets the browser sent (HTTPS only), by cookie key.
fn browser_secrets(headers: &HeaderMap, https: bool) -> Vec<(String, String)> {
    if !https {
        return Vec::new();
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let key = name.strip_prefix(BROWSER_COOKIE)?;
            Some((key.to_owned(), value.to_owned()))
        })
        .take(32)
        .collect()
}

/// The assertion consumer service: the identity provider's response, posted by the browser.
/// Signed in: the session cookie and a redirect to the return address, or with `Accept:
/// application/json` the login's answer. Refused (every refusal is audited with the reason):
/// a problem, or with `Accept: text/html` a page.
#[utoipa::path(
    post, path = "/api/v1/providers/{name}/saml/acs", tag = "providers", operation_id = "saml_acs",
    params(("name" = String, Path, description = "Provider name")),
    request_body(content = SamlAcsForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed in (asked for JSON; or, for a browser, the sign-in page's second step when the user has a second factor or must set one up)", body = LoginResponse),
        (status = 202, description = "Asked for JSON: the user has a second factor (or must set one up); complete the pending sign-in at /api/v1/auth/login/second-factor", body = rampart_api::SecondFactorRequired),
        (status = 303, description = "Signed in: the session cookie, and the return address (`Location`)"),
        (status = 403, description = "Refused: a signature that does not verify, a replay, another audience, recipient or destination, outside its time window, a request not ours or answered before, another browser than the one that started the sign-in, a provider disabled or not the one these users must sign in through, or a disabled account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No SAML user provider of that name", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username belongs to an account the provider did not make", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`SAMLResponse` missing or not a SAML response, or `RelayState` not the return address the sign-in started with", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The identity provider's metadata cannot be read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn acs(
    State(state): State<AppState>,
    request: RequestContext,
    visitor: Result<super::page::Visitor, ApiError>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<SamlAcsForm>, FormRejection>,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants_html = accept.contains("text/html");
    let wants_json = accept.contains("application/json");
    // An unreadable form is a response that is not there: refused (and audited) as such.
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let finished = saml::acs(
        &state,
        &request.origin(&state),
        &name,
        form.saml_response.as_deref().unwrap_or(""),
        form.relay_state.as_deref(),
        &browser_secrets(&headers, request.https),
        user_agent(&headers),
    )
    .await;
    let saml::Finished {
        step,
        return_to: relay,
        browser_key,
    } = match finished {
        Ok(finished) => finished,
        Err(e) if wants_html => return refusal_page(e),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut response = match step {
        // A client of the API: the session (200) or the pending sign-in (202), as the
        // password login answers.
        step if wants_json => super::mfa::login_answer(&state, &request, step),
        LoginStep::Session(done) => {
            let mut response = match HeaderValue::from_str(&relay) {
                Ok(location) => {
                    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
                }
                Err(_) => {
                    ApiError::from(Error::Internal("a return address is not a header".into()))
                        .into_response()
                }
            };
            let cookie = session_cookie(
                done.token.secret(),
                done.lifetime.whole_seconds(),
                request.https,
            );
            if let Some(cookie) = cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        // The second factor, asked on the sign-in page of where the browser is going.
        LoginStep::SecondFactor(pending) => match visitor {
            Ok(visitor) => {
                super::sign_in::after_provider(&state, &request, &visitor, &pending, &relay).await
            }
            Err(e) if wants_html => return refusal_page_of(e),
            Err(e) => return e.into_response(),
        },
    };
    if request.https {
        let spent = format!(
            "{BROWSER_COOKIE}{browser_key}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=None"
        );
        if let Ok(v) = HeaderValue::from_str(&spent) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[derive(Template)]
#[template(
    ext = "html",
    source = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{{ title }}</title></head>\n<body><h1>{{ title }}</h1><p id=\"error\">{{ detail }}</p><p><a href=\"/\">Back to the start</a></p></body></html>\n"
)]
struct RefusalPage<'a> {
    title: &'a str,
    detail: &'a str,
}

/// A refusal as a page for the browser: the problem's title and detail, nothing more.
fn refusal_page(error: Error) -> Response {
    refusal_page_of(ApiError::from(error))
}

/// A refusal already rendered as a problem, as a page for the browser.
fn refusal_page_of(error: ApiError) -> Response {
    let problem = error.0;
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    crate::routes::page::html(
        status,
        RefusalPage {
            title: &problem.title,
            detail: &problem.detail,
        }
        .render(),
    )
}
