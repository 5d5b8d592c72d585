//! `/apps/{environment}/{application}/…` in a browser: screens as HTML, the sign-in page
//! every application of an environment shares, and signing out.
//!
//! - Pages are rendered from templates (askama, escaping everything but what a model marks
//!   `unescaped`) under a per-response CSP nonce: no inline script, styles only with the
//!   nonce, forms only to this site.
//! - Every form carries a CSRF token, checked against a `SameSite=Strict` cookie (double
//!   submit) in constant time, and a cross-site `Origin` is refused on top.
//! - One sign-in serves every application: the session is the platform's session cookie,
//!   and signing out ends it everywhere. The page's return address stays in the application
//!   (`rampart_apps::pages::return_address`).
//! - A screen that keeps `https: true` answers plain HTTP with a redirect to HTTPS (a form
//!   sent over plain HTTP is refused, never redirected), whatever `enforce_https` says.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use rampart_apps::pages::{return_address, Block, Page};
use rampart_core::{Error, Provider};
use rampart_model::format::ScreenKind;
use rampart_service::apps::screens::{self, Opened, ScreenRef, Submitted};
use rampart_service::providers::oidc::SignInOption;
use rampart_service::AppState;
use rampart_service::{identity, providers};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::apps::AccessRecorded;
use super::page::{self, Chrome, Visitor};

use crate::auth::RequestContext;
use crate::error::ApiError;

/// A screen's place in the URL.
#[derive(Debug, Deserialize)]
pub struct ScreenPath {
    environment: String,
    application: String,
    screen: String,
}

impl ScreenPath {
    fn at(&self) -> ScreenRef {
        ScreenRef {
            environment: self.environment.clone(),
            application: self.application.clone(),
            screen: self.screen.clone(),
        }
    }
}

/// An application's place in the URL.
#[derive(Debug, Deserialize)]
pub struct AppPath {
    environment: String,
    application: String,
}

#[derive(Template)]
#[template(path = "apps/screen.html")]
struct ScreenPage<'a> {
    chrome: &'a Chrome,
    page: &'a Page,
    form: bool,
    action_url: &'a str,
    record_id: Option<&'a str>,
    problem: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "apps/login.html")]
struct LoginPage<'a> {
    chrome: &'a Chrome,
    return_to: &'a str,
    problem: Option<&'a str>,
    /// A sign-in waiting for the code of the user's two-factor app (its pending token).
    pending: Option<&'a str>,
    /// Whether the password form is shown (no provider is required for end users).
    local: bool,
    /// The identity providers offered.
    options: &'a [SignInOption],
    /// The second step offers the user's passkeys, with the console's passkey script.
    passkey: bool,
    script: &'static str,
    /// The two-factor app to set up first, when the policy requires one of this user and
    /// they have none yet.
    enrolment: Option<&'a identity::mfa::Enrolment>,
}

/// The recovery codes of a two-factor app just set up at sign-in, shown once.
#[derive(Template)]
#[template(path = "apps/recovery_codes.html")]
struct CodesPage<'a> {
    chrome: &'a Chrome,
    codes: Vec<String>,
    return_to: &'a str,
}

/// Whether pending sign-in `pending` may complete with a passkey.
async fn passkey_offered(state: &AppState, pending: &str) -> bool {
    identity::mfa::pending_methods(state, pending)
        .await
        .is_ok_and(|m| m.contains(&"passkey"))
}

/// The identity providers a sign-in page offers end users, coming back to `return_to`.
async fn offered(state: &AppState, return_to: &str) -> Vec<SignInOption> {
    providers::oidc::sign_in_options(state, Provider::End, return_to)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the sign-in page's providers were not read");
            Vec::new()
        })
}

/// The fields of the sign-in form.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "return")]
    return_to: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
    /// The second step: the pending sign-in, and the app's code or a recovery code.
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    /// A passkey's answer (JSON) to the pending sign-in's challenge.
    #[serde(default)]
    passkey: String,
}

/// The sign-in form's query.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// `GET /apps/{environment}/{application}/{screen}`: the screen, as HTML.
pub async fn open(
    State(state): State<AppState>,
    Path(path): Path<ScreenPath>,
    Query(query): Query<Vec<(String, String)>>,
    visitor: Visitor,
    request: Request,
) -> Response {
    let at = path.at();
    if page::needs_https(&state, &visitor, &at).await {
        return page::to_https(&state, &visitor, &request);
    }
    let params: Map<String, Json> = query
        .into_iter()
        .map(|(k, v)| (k, Json::String(v)))
        .collect();
    let chrome = Chrome::new(&state, &visitor, &at.environment, &at.application);
    let opened = screens::open(&state, &visitor.actor(&state), &at, params, None).await;
    let here = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    recorded(chrome.finish(respond(&chrome, &at, &here, opened, None)))
}

/// `POST /apps/{environment}/{application}/{screen}`: a form of the screen sent (runs the
/// action of the button pressed).
pub async fn submit(
    State(state): State<AppState>,
    Path(path): Path<ScreenPath>,
    Query(query): Query<Vec<(String, String)>>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    // A body that is no form (none, another type) is a form without the CSRF token.
    let fields = form.map(|f| f.0).unwrap_or_default();
    let at = path.at();
    let chrome = Chrome::new(&state, &visitor, &at.environment, &at.application);
    if !page::from_this_site(&state, &visitor, &headers, &fields) {
        let path = format!("{}/{}", at.base(), at.screen);
        return recorded(chrome.finish(page::refused_form(&state, &visitor, &chrome, &path).await));
    }
    if let Some(refused) = page::refused_plain_form(&state, &visitor, &at).await {
        return chrome.finish(refused);
    }
    let mut action = String::new();
    let mut given = Map::new();
    for (k, v) in fields {
        match k.as_str() {
            "_action" => action = v,
            "_csrf" => {}
            _ => {
                given.insert(k, Json::String(v));
            }
        }
    }
    let actor = visitor.actor(&state);
    let here = match serde_urlencoded_query(&query) {
        q if q.is_empty() => format!("{}/{}", at.base(), at.screen),
        q => format!("{}/{}?{q}", at.base(), at.screen),
    };
    let answer = match screens::submit(&state, &actor, &at, &action, given.clone()).await {
        Ok(Submitted::Ran(ran)) => page::see_other(ran.redirect.as_deref().unwrap_or(&here)),
        Ok(Submitted::Refused(instead)) => respond(&chrome, &at, &here, Ok(instead), None),
        Err(problem @ (Error::InvalidInput { .. } | Error::Conflict(_))) => {
            // The form again, as it was filled, with what is wrong.
            let params = query
                .into_iter()
                .map(|(k, v)| (k, Json::String(v)))
                .collect();
            let opened = screens::open(&state, &actor, &at, params, Some(given)).await;
            let problem = ApiError::from(problem).0;
            let status = problem.status;
            let mut response = respond(&chrome, &at, &here, opened, Some(&problem.detail));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            response
        }
        Err(e) => page::error_page(&chrome, e, &here),
    };
    recorded(chrome.finish(answer))
}

#[derive(Template)]
#[template(path = "apps/home.html")]
struct HomePage<'a> {
    chrome: &'a Chrome,
    screens: &'a [(String, String)],
}

/// `GET /apps/{environment}/{application}/`: the screens the visitor may open.
pub async fn home(
    State(state): State<AppState>,
    Path(path): Path<AppPath>,
    visitor: Visitor,
) -> Response {
    let chrome = Chrome::new(&state, &visitor, &path.environment, &path.application);
    let here = format!("{}/", chrome.base);
    let found = screens::home(
        &state,
        &visitor.actor(&state),
        &path.environment,
        &path.application,
    )
    .await;
    chrome.finish(match found {
        Ok(Some(list)) => page::html(
            StatusCode::OK,
            HomePage {
                chrome: &chrome,
                screens: &list,
            }
            .render(),
        ),
        Ok(None) => page::sign_in(&chrome, &here),
        Err(e) => page::error_page(&chrome, e, &here),
    })
}

/// `GET /apps/{environment}/{application}/login`: the sign-in page.
pub async fn login_page(
    State(state): State<AppState>,
    Path(path): Path<AppPath>,
    Query(query): Query<LoginQuery>,
    visitor: Visitor,
) -> Response {
    let chrome = Chrome::new(&state, &visitor, &path.environment, &path.application);
    if let Some(missing) = no_such_application(&state, &chrome).await {
        return chrome.finish(missing);
    }
    if !visitor.https() && state.config.enforce_https {
        return chrome.finish(page::message(
            &chrome,
            StatusCode::FORBIDDEN,
            "HTTPS required",
            "sign in over HTTPS",
        ));
    }
    let return_to = return_address(query.return_to.as_deref(), &chrome.base);
    let options = offered(&state, &return_to).await;
    let html = LoginPage {
        chrome: &chrome,
        return_to: &return_to,
        problem: None,
        pending: None,
        local: state.config.sign_in.required(Provider::End).is_none(),
        options: &options,
        passkey: false,
        script: "",
        enrolment: None,
    }
    .render();
    chrome.finish(page::html(StatusCode::OK, html))
}

/// `POST /apps/{environment}/{application}/login`: signs in (as an end user) and returns
/// to where the user was going, in this application.
pub async fn login(
    State(state): State<AppState>,
    Path(path): Path<AppPath>,
    context: RequestContext,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let chrome = Chrome::new(&state, &visitor, &path.environment, &path.application);
    if let Some(missing) = no_such_application(&state, &chrome).await {
        return chrome.finish(missing);
    }
    let fields = vec![("_csrf".to_owned(), form.csrf.clone())];
    if !page::from_this_site(&state, &visitor, &headers, &fields) {
        let path = format!("{}/login", chrome.base);
        return recorded(chrome.finish(page::refused_form(&state, &visitor, &chrome, &path).await));
    }
    let return_to = return_address(Some(&form.return_to), &chrome.base);
    let origin = context.origin(&state);
    let agent = super::auth::user_agent(&headers);
    // The second step takes the code of the user's two-factor app (or a recovery code) for
    // the pending sign-in; a user the policy requires a second factor of who has none sets
    // up an app first (its first code completes the sign-in and shows the recovery codes).
    // Not JSON: `null`, refused as malformed and counted like any wrong answer.
    let answer: serde_json::Value =
        serde_json::from_str(&form.passkey).unwrap_or(serde_json::Value::Null);
    let mut recovery = None;
    let done = if form.pending.is_empty() {
        identity::login(
            &state,
            &origin,
            "end",
            &form.username,
            &form.password,
            agent,
        )
        .await
    } else {
        let factor = if !form.passkey.is_empty() {
            identity::mfa::Factor::Passkey(&answer)
        } else if form.recovery_code.is_empty() {
            identity::mfa::Factor::Code(&form.code)
        } else {
            identity::mfa::Factor::RecoveryCode(&form.recovery_code)
        };
        identity::mfa::finish_login(&state, &origin, &form.pending, factor, agent)
            .await
            .map(|done| {
                recovery = done.recovery_codes;
                identity::LoginStep::Session(Box::new(done.logged_in))
            })
    };
    let done = match done {
        Ok(identity::LoginStep::Session(done)) => Ok(done),
        Ok(identity::LoginStep::SecondFactor(pending)) => {
            let enrolment = if pending.enrol {
                match identity::mfa::enrol_pending(&state, &origin, pending.token.secret()).await {
                    Ok(e) => Some(e),
                    Err(e) => return chrome.finish(page::error_page(&chrome, e, &chrome.base)),
                }
            } else {
                None
            };
            let html = LoginPage {
                chrome: &chrome,
                return_to: &return_to,
                problem: None,
                pending: Some(pending.token.secret()),
                local: true,
                options: &[],
                passkey: pending.methods.contains(&"passkey")
                    && identity::passkeys::available(&state),
                script: crate::console::two_factor::PASSKEY_SCRIPT,
                enrolment: enrolment.as_ref(),
            }
            .render();
            return chrome.finish_scripted(page::html(StatusCode::OK, html));
        }
        Err(e) => Err(e),
    };
    // A wrong code keeps the pending sign-in: the page asks for the code again.
    let retry = matches!(
        &done,
        Err(rampart_core::Error::InvalidSecondFactor(_)
            | rampart_core::Error::LoginThrottled { .. })
    ) && !form.pending.is_empty();
    match done {
        Ok(done) => match recovery {
            // A two-factor app was set up by this sign-in: its recovery codes, once, with
            // the session already open.
            Some(codes) => {
                let html = CodesPage {
                    chrome: &chrome,
                    codes: codes.shown.iter().map(|c| c.to_string()).collect(),
                    return_to: &return_to,
                }
                .render();
                let mut response = page::html(StatusCode::OK, html);
                let lifetime = done.lifetime.whole_seconds();
                if let Some(cookie) =
                    crate::auth::session_cookie(done.token.secret(), lifetime, context.https)
                {
                    response.headers_mut().insert(header::SET_COOKIE, cookie);
                }
                chrome.finish(response)
            }
            None => chrome.finish(page::with_session(
                &return_to,
                done.token.secret(),
                done.lifetime.whole_seconds(),
                context.https,
            )),
        },
        Err(e) => {
            let problem = ApiError::from(e).0;
            let options = offered(&state, &return_to).await;
            let passkey = retry && passkey_offered(&state, &form.pending).await;
            let html = LoginPage {
                chrome: &chrome,
                return_to: &return_to,
                problem: Some(&problem.detail),
                pending: retry.then_some(form.pending.as_str()),
                local: state.config.sign_in.required(Provider::End).is_none(),
                options: &options,
                passkey,
                script: crate::console::two_factor::PASSKEY_SCRIPT,
                enrolment: None,
            }
            .render();
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut response = page::html(status, html);
            if let Some(retry) = problem.retry_after {
                if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            chrome.finish_scripted(response)
        }
    }
}

/// `POST /apps/{environment}/{application}/logout`: ends the session, in every application.
pub async fn logout(
    State(state): State<AppState>,
    Path(path): Path<AppPath>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    // A body that is no form (none, another type) is a form without the CSRF token.
    let fields = form.map(|f| f.0).unwrap_or_default();
    let chrome = Chrome::new(&state, &visitor, &path.environment, &path.application);
    if !page::from_this_site(&state, &visitor, &headers, &fields) {
        let path = format!("{}/logout", chrome.base);
        return recorded(chrome.finish(page::refused_form(&state, &visitor, &chrome, &path).await));
    }
    if let Some(auth) = visitor.signed_in() {
        if let Err(e) = identity::logout(&state, &auth.caller(&state), &auth.session, false).await {
            return chrome.finish(page::error_page(&chrome, e, &chrome.base));
        }
    }
    chrome.finish(page::with_session(
        &format!("{}/login", chrome.base),
        "",
        0,
        visitor.https(),
    ))
}

/// A 404 page when the application does not run in the environment (nobody signs in to an
/// application that is not there).
async fn no_such_application(state: &AppState, chrome: &Chrome) -> Option<Response> {
    match screens::runs(state, &chrome.environment, &chrome.application).await {
        Ok(true) => None,
        Ok(false) => Some(page::error_page(
            chrome,
            Error::NotFound {
                what: "application",
            },
            &chrome.base,
        )),
        Err(e) => Some(page::error_page(chrome, e, &chrome.base)),
    }
}

/// The answer to opening a screen.
fn respond(
    chrome: &Chrome,
    at: &ScreenRef,
    here: &str,
    opened: Result<Opened, Error>,
    problem: Option<&str>,
) -> Response {
    match opened {
        Ok(Opened::Page(page)) => {
            let action_url = format!("{}/{}", at.base(), at.screen);
            let record_id = match &page.kind {
                ScreenKind::List => None,
                _ => here.split_once('?').and_then(|(_, q)| first_value(q)),
            };
            let html = ScreenPage {
                chrome,
                form: page.kind == ScreenKind::Form,
                page: &page,
                action_url: &action_url,
                record_id: record_id.as_deref(),
                problem,
            }
            .render();
            page::html(StatusCode::OK, html)
        }
        Ok(Opened::Denied(message)) => {
            page::message(chrome, StatusCode::FORBIDDEN, "Not for you", &message)
        }
        Ok(Opened::Redirect(to)) => page::see_other(&to),
        Ok(Opened::SignIn) => page::sign_in(chrome, here),
        Err(e) => page::error_page(chrome, e, here),
    }
}

/// The first value of a query string (a detail screen's record).
fn first_value(query: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(_, v)| v.to_owned())
        .find(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn serde_urlencoded_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", page::encode(k), page::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Marks an answer whose access event the runtime recorded.
fn recorded(mut response: Response) -> Response {
    response.extensions_mut().insert(AccessRecorded);
    response
}
