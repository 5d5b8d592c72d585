//! `/oauth2/login`: the provider's own sign-in page, where the applications' end users sign
//! in to a client registered for them (`users: end`) on their way through the
//! authorization endpoint. The same page and flow as every application's sign-in
//! ([`crate::routes::sign_in`]): password or the identity providers offered to end users,
//! then the second factor. It only ever returns to an authorization request on this site
//! whose client signs in end users; anything else is refused with a page, redirecting
//! nowhere.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rampart_core::Provider;
use rampart_service::idp::authorize::client_of_return;
use rampart_service::state::AppState;
use serde_json::json;

use crate::auth::RequestContext;
use crate::routes::page::{self, Chrome, Visitor};
use crate::routes::sign_in::{provider_intro, Desk, LoginForm, LoginQuery};

/// Where the page is.
const HERE: &str = "/oauth2/login";

/// Why the page refuses a return address: its status, heading and explanation.
type Refusal = (StatusCode, &'static str, &'static str);

/// The name of the client of the authorization request `return_to` and the origin of its
/// redirect URI, or why the page refuses it.
async fn client(state: &AppState, return_to: &str) -> Result<(String, Option<String>), Refusal> {
    const INVALID: &str = "This sign-in request is not valid";
    match client_of_return(state, return_to).await {
        Ok(Some(c)) if c.users == Provider::End => Ok((c.name, c.redirect_origin)),
        Ok(Some(_)) => Err((
            StatusCode::BAD_REQUEST,
            INVALID,
            "This application signs in IT users, on the console's sign-in page. Start again from the application.",
        )),
        Ok(None) => Err((
            StatusCode::BAD_REQUEST,
            INVALID,
            "It does not come from an application registered with this provider. Start again from the application.",
        )),
        Err(e) => {
            tracing::error!(error = %e, "the sign-in page's client was not read");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "The sign-in could not be completed. Try again.",
            ))
        }
    }
}

/// The sign-in desk of the client named `name`, returning to `return_to`.
fn desk<'a>(chrome: &'a Chrome, name: &str, return_to: &'a str) -> Desk<'a> {
    Desk {
        chrome,
        intro: provider_intro(name),
        users: Provider::End,
        return_to,
    }
}

/// The page refusing a return address.
fn refused(chrome: &Chrome, (status, heading, why): Refusal) -> Response {
    chrome.finish(page::message(chrome, status, heading, why))
}

/// `GET /oauth2/login?return=/oauth2/authorize?…`: the page.
pub async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let chrome = Chrome::provider(&visitor);
    if let Some(refused) = crate::routes::sign_in::plain_refused(&state, &visitor, &chrome) {
        return refused;
    }
    let return_to = query.ok().and_then(|q| q.0.return_to).unwrap_or_default();
    match client(&state, &return_to).await {
        Ok((name, origin)) => {
            let chrome = chrome.sending_to(origin);
            desk(&chrome, &name, &return_to).first_page(&state).await
        }
        Err(why) => refused(&chrome, why),
    }
}

/// `POST /oauth2/login`: signs an end user in (both steps) and goes back to the
/// authorization request.
pub async fn sign_in(
    State(state): State<AppState>,
    context: RequestContext,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let chrome = Chrome::provider(&visitor);
    if !page::from_this_site(&state, &visitor, &headers, &form.csrf_fields()) {
        rampart_service::idp::refused(
            &state,
            &context.audit(&state),
            "idp.sign_in",
            None,
            json!({ "reason": "the sign-in form did not come from this site", "path": HERE }),
        )
        .await;
        return chrome.finish(page::foreign_form(
            &chrome,
            "Start again from the application.",
        ));
    }
    if let Some(refused) = crate::routes::sign_in::plain_refused(&state, &visitor, &chrome) {
        return refused;
    }
    match client(&state, form.return_to()).await {
        Ok((name, origin)) => {
            let chrome = chrome.sending_to(origin);
            desk(&chrome, &name, form.return_to())
                .answer(&state, &context, &headers, &form)
                .await
        }
        Err(why) => refused(&chrome, why),
    }
}
