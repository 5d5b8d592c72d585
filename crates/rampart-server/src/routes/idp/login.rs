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

/// The sign-in desk for the authorization request `return_to`, or why there is none.
async fn desk<'a>(
    state: &AppState,
    chrome: &'a Chrome,
    return_to: &'a str,
) -> Result<Desk<'a>, Refusal> {
    const INVALID: &str = "This sign-in request is not valid";
    match client_of_return(state, return_to).await {
        Ok(Some((name, Provider::End))) => Ok(Desk {
            chrome,
            intro: provider_intro(&name),
            users: Provider::End,
            return_to,
        }),
        Ok(Some((_, Provider::It))) => Err((
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
    match desk(&state, &chrome, &return_to).await {
        Ok(desk) => desk.first_page(&state).await,
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
        return chrome.finish(page::message(
            &chrome,
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form did not come from this site (its security token is missing or out of \
             date). Start again from the application.",
        ));
    }
    if let Some(refused) = crate::routes::sign_in::plain_refused(&state, &visitor, &chrome) {
        return refused;
    }
    match desk(&state, &chrome, form.return_to()).await {
        Ok(desk) => desk.answer(&state, &context, &headers, &form).await,
        Err(why) => refused(&chrome, why),
    }
}
