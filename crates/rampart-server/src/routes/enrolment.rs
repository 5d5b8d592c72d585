//! Accounts with no password (`rampart_service::identity::enrolment`): an administrator
//! issues an enrolment link (`POST /api/v1/users/{id}/enrolment`) or has it mailed to the
//! account's address (`POST /api/v1/users/{id}/enrolment/mail`), its holder opens it
//! (`GET /enrol`, the page that registers the passkey in the browser), and the page's
//! script asks for the challenge (`POST /api/v1/auth/enrolment/passkey-challenge`) and
//! posts the answer back to the page (`POST /enrol`); an API client answers with `POST
//! /api/v1/auth/enrolment/passkey` instead. Each handler calls one use case.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rampart_api::{
    EnrolPasskeyRequest, EnrolledPasskey, EnrolmentChallenge, EnrolmentChallengeRequest,
    EnrolmentLink, EnrolmentMailed, PasskeyView,
};
use rampart_core::Error;
use rampart_service::identity::enrolment;
use rampart_service::state::AppState;
use serde::Deserialize;

use super::page::{self, Chrome, Visitor};
use crate::auth::{Administrator, RequestContext};
use crate::error::{ApiError, Json, Problem};

/// Issue an enrolment link for an account with no password (needs a recent second factor).
///
/// The link (`{public_origin}/enrol#rpe_…`) lets the account's holder register its first
/// passkey, which then signs them in alone. It is shown once, lapses after `[mfa]
/// enrolment_hours`, replaces any earlier link of the user, and is spent by the
/// registration that uses it. Also the way back in for a holder who lost their passkey.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/enrolment", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The link, shown once", body = EnrolmentLink),
        (status = 403, description = "Not an IT administrator, or `step-up-required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has a password or a user provider vouches for it, or passkeys are unavailable on this server (no `public_origin`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EnrolmentLink>), ApiError> {
    let issued = enrolment::issue(&state, &admin.caller(&state), &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentLink {
            link: issued.link,
            expires_at: issued.expires_at,
        }),
    ))
}

/// Mail an enrolment link to an account with no password (needs a recent second factor).
///
/// The link goes to the account's e-mail address through the platform's mail server
/// (`[support] smtp_host`), so nobody but its holder sees it; otherwise it is the link
/// `POST /api/v1/users/{id}/enrolment` shows, and it replaces any earlier one. Answered
/// once the mail server took the message.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/enrolment/mail", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The link was mailed; where, and until when it works", body = EnrolmentMailed),
        (status = 403, description = "Not an IT administrator, or `step-up-required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has a password, a user provider vouches for it, or it has no e-mail address; or no mail server is configured, or its settings or sender (`[support] smtp_*`) cannot be used, or passkeys are unavailable on this server (no `public_origin`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`mail-not-sent`: the mail server did not take the message (recorded as a `user.enrolment.mail` failure); the link reaches nobody", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn mail(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EnrolmentMailed>), ApiError> {
    let mailed = enrolment::mail(&state, &admin.caller(&state), &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentMailed {
            mailed_to: mailed.to,
            expires_at: mailed.expires_at,
        }),
    ))
}

/// Begin enrolling a passkey with an enrolment link's token.
///
/// No session: the token is the credential. The options for `navigator.credentials.create`
/// ask for a discoverable passkey with user verification. Send the answer to `POST
/// /api/v1/auth/enrolment/passkey`.
#[utoipa::path(
    post, path = "/api/v1/auth/enrolment/passkey-challenge", tag = "auth",
    request_body = EnrolmentChallengeRequest,
    responses(
        (status = 200, description = "The account and the options for the browser", body = EnrolmentChallenge),
        (status = 401, description = "The link is unknown, used, replaced or expired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Passkeys are unavailable on this server", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled (too many unknown links from this address); see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn challenge(
    State(state): State<AppState>,
    request: RequestContext,
    Json(body): Json<EnrolmentChallengeRequest>,
) -> Result<Json<EnrolmentChallenge>, ApiError> {
    let origin = request.origin(&state);
    let (user, mut options) = enrolment::options(&state, &origin, &body.token).await?;
    Ok(Json(EnrolmentChallenge {
        username: user.username,
        provider: user.provider.as_str().to_owned(),
        public_key: options["publicKey"].take(),
    }))
}

/// Enrol a passkey with an enrolment link's token.
///
/// Registers the passkey and spends the link, in one step; the account then signs in with
/// the passkey alone (`POST /api/v1/auth/login/passkey`). Audited as
/// `user.mfa.passkey.add` with `"enrolment": true`.
#[utoipa::path(
    post, path = "/api/v1/auth/enrolment/passkey", tag = "auth",
    request_body = EnrolPasskeyRequest,
    responses(
        (status = 201, description = "Registered", body = EnrolledPasskey),
        (status = 401, description = "The link is unknown, used, replaced or expired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No challenge is waiting for this link, the passkey is registered already, or passkeys are unavailable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing name, or the authenticator's answer was refused", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled (too many unknown links from this address); see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    request: RequestContext,
    Json(body): Json<EnrolPasskeyRequest>,
) -> Result<(StatusCode, Json<EnrolledPasskey>), ApiError> {
    let origin = request.origin(&state);
    let (user, passkey) =
        enrolment::finish(&state, &origin, &body.token, &body.name, &body.credential).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledPasskey {
            username: user.username,
            provider: user.provider.as_str().to_owned(),
            passkey: PasskeyView {
                id: passkey.id.to_string(),
                name: passkey.name,
                created_at: passkey.created_at,
                last_used_at: passkey.last_used_at,
            },
        }),
    ))
}

/// The enrolment page.
#[derive(Template)]
#[template(path = "enrol/page.html")]
struct EnrolPage<'a> {
    chrome: &'a Chrome,
    /// Empty on the first visit: the script takes it from the link's fragment.
    token: &'a str,
    name: &'a str,
    problem: Option<&'a str>,
    script: &'static str,
}

/// The fields of the enrolment form (its token never in `Debug`).
#[derive(Default, Deserialize)]
pub struct EnrolForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    passkey: String,
}

impl std::fmt::Debug for EnrolForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolForm")
            .field("token", &"<redacted>")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn form_page(
    chrome: &Chrome,
    status: StatusCode,
    form: &EnrolForm,
    problem: Option<&str>,
) -> Response {
    let rendered = EnrolPage {
        chrome,
        token: &form.token,
        name: if form.name.is_empty() {
            "passkey"
        } else {
            &form.name
        },
        problem,
        script: crate::console::two_factor::PASSKEY_SCRIPT,
    }
    .render();
    chrome.finish_scripted(page::html(status, rendered))
}

/// `GET /enrol`: the page an enrolment link opens (its token stays in the fragment until
/// the page's script reads it).
pub async fn page(State(state): State<AppState>, visitor: Visitor) -> Response {
    let chrome = Chrome::provider(&visitor);
    if let Some(refused) = super::sign_in::plain_refused(&state, &visitor, &chrome) {
        return refused;
    }
    form_page(&chrome, StatusCode::OK, &EnrolForm::default(), None)
}

/// `POST /enrol`: registers the passkey the page's script created.
pub async fn submit(
    State(state): State<AppState>,
    context: RequestContext,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<EnrolForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let chrome = Chrome::provider(&visitor);
    let fields = [("_csrf".to_owned(), form.csrf.clone())];
    if !page::from_this_site(&state, &visitor, &headers, &fields) {
        return chrome.finish(page::foreign_form(
            &chrome,
            "Open the enrolment link again.",
        ));
    }
    if let Some(refused) = super::sign_in::plain_refused(&state, &visitor, &chrome) {
        return refused;
    }
    let credential = match serde_json::from_str(&form.passkey) {
        Ok(credential) => credential,
        Err(_) => {
            let why = "the browser sent no passkey: create it with the button below";
            return form_page(&chrome, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(why));
        }
    };
    let origin = context.origin(&state);
    match enrolment::finish(&state, &origin, &form.token, &form.name, &credential).await {
        Ok((user, _)) => {
            let at = match user.provider {
                rampart_core::Provider::It => "the console's sign-in page (/console/login)",
                rampart_core::Provider::End => "your application's sign-in page",
            };
            chrome.finish(page::message(
                &chrome,
                StatusCode::CREATED,
                "Your passkey is ready",
                &format!(
                    "The passkey of {} is registered. Sign in with it at {at}: choose \
                     “Sign in with a passkey”.",
                    user.username
                ),
            ))
        }
        Err(e @ Error::Internal(_)) | Err(e @ Error::Unavailable(_)) => {
            tracing::error!(error = %e, "an enrolment failed");
            form_page(
                &chrome,
                StatusCode::SERVICE_UNAVAILABLE,
                &form,
                Some("the server could not register the passkey now; try again shortly"),
            )
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            form_page(&chrome, status, &form, Some(&e.to_string()))
        }
    }
}
