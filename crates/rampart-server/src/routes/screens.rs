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
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use rampart_apps::pages::{return_address, Block, Page};
use rampart_core::{Error, Provider};
use rampart_model::format::ScreenKind;
use rampart_service::apps::screens::{self, Opened, ScreenRef, Submitted};
use rampart_service::identity;
use rampart_service::AppState;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::apps::AccessRecorded;
use super::page::{self, Chrome, Visitor};
use super::sign_in::{Desk, LoginForm, LoginQuery};

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
    if let Some(refused) = super::sign_in::plain_refused(&state, &visitor, &chrome) {
        return refused;
    }
    let return_to = return_address(query.return_to.as_deref(), &chrome.base);
    desk(&chrome, &return_to).first_page(&state).await
}

/// The sign-in page of the applications of `chrome`'s environment, for end users.
fn desk<'a>(chrome: &'a Chrome, return_to: &'a str) -> Desk<'a> {
    Desk {
        chrome,
        intro: super::sign_in::application_intro(chrome),
        users: Provider::End,
        return_to,
    }
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
    if !page::from_this_site(&state, &visitor, &headers, &form.csrf_fields()) {
        let path = format!("{}/login", chrome.base);
        return recorded(chrome.finish(page::refused_form(&state, &visitor, &chrome, &path).await));
    }
    let return_to = return_address(Some(form.return_to()), &chrome.base);
    desk(&chrome, &return_to)
        .answer(&state, &context, &headers, &form)
        .await
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
