//! The console's second factor: the second step of signing in (a code of the TOTP app or a
//! recovery code; enrolling the app first when the policy sends the user to enrolment),
//! "my account → two-factor" (set up an app with its QR code, confirm it, new recovery
//! codes) and the step-up page a sensitive action sends to; a passkey serves the second
//! step and the step-up wherever the user has one (`static/console/passkeys.js` asks the
//! API for the challenge and posts the browser's answer to these forms). Each calls the same use case
//! as the API (`rampart_service::identity::mfa`).

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use rampart_apps::pages::return_address;
use rampart_core::Error;
use rampart_identity::mfa::RecoveryCodes;
use rampart_service::identity::mfa::{self, Enrolment, Factor, Pending};
use rampart_service::AppState;
use serde::Deserialize;

use super::door::doors::AccountOpen;
use super::door::{Operator, Page, Sent};
use super::{error_page, field, fields, Section, Shell, BASE};
use crate::auth::RequestContext;
use crate::error::ApiError;
use crate::routes::page::{self, Visitor};

/// The second step of signing in.
#[derive(Template)]
#[template(path = "console/two_factor_sign_in.html")]
struct SignInCodePage<'a> {
    shell: &'a Shell,
    pending: &'a str,
    return_to: &'a str,
    /// The app to set up first, when the policy sent the user to enrolment.
    enrolment: Option<&'a Enrolment>,
    problem: Option<&'a str>,
    /// The ways offered: a code, a passkey, a recovery code.
    totp: bool,
    passkey: bool,
    recovery: bool,
    script: &'static str,
}

/// The console's passkey script (`static/console/passkeys.js`), inlined with the nonce.
pub(crate) const PASSKEY_SCRIPT: &str = include_str!("../../static/console/passkeys.js");

/// The second step's page for pending sign-in `pending`, offering its user's methods.
async fn code_page(
    state: &AppState,
    shell: &Shell,
    pending: &str,
    return_to: &str,
    enrolment: Option<&Enrolment>,
    problem: Option<&str>,
) -> askama::Result<String> {
    let methods = mfa::pending_methods(state, pending)
        .await
        .unwrap_or_else(|_| vec!["totp", "recovery-code"]);
    SignInCodePage {
        shell,
        pending,
        return_to,
        enrolment,
        problem,
        totp: methods.contains(&"totp"),
        passkey: methods.contains(&"passkey"),
        recovery: methods.contains(&"recovery-code"),
        script: PASSKEY_SCRIPT,
    }
    .render()
}

/// Recovery codes, shown once.
#[derive(Template)]
#[template(path = "console/two_factor_codes.html")]
struct CodesPage<'a> {
    shell: &'a Shell,
    codes: Vec<String>,
    next: &'a str,
}

/// "My account → two-factor".
#[derive(Template)]
#[template(path = "console/two_factor.html")]
struct AccountPage<'a> {
    shell: &'a Shell,
    enrolled: bool,
    required: bool,
    recovery_left: u32,
    /// The app being set up, after "Set up".
    enrolment: Option<&'a Enrolment>,
    problem: Option<&'a str>,
}

/// The step-up page.
#[derive(Template)]
#[template(path = "console/two_factor_step_up.html")]
struct StepUpPage<'a> {
    shell: &'a Shell,
    return_to: &'a str,
    problem: Option<&'a str>,
    /// The ways offered: a code, a passkey.
    totp: bool,
    passkey: bool,
    script: &'static str,
}

/// Which factors the step-up page offers `caller`: (a code, a passkey).
async fn step_up_offers(state: &AppState, caller: &rampart_service::Caller) -> (bool, bool) {
    match mfa::status(state, caller).await {
        Ok(s) => (
            s.totp || s.passkeys == 0,
            s.passkeys > 0 && rampart_service::identity::passkeys::available(state),
        ),
        Err(_) => (true, false),
    }
}

/// The page of a sign-in waiting for its second factor (the console's answer to a right
/// password when a second factor must follow).
pub async fn second_step(
    state: &AppState,
    context: &RequestContext,
    shell: &Shell,
    pending: &Pending,
    return_to: &str,
) -> Response {
    let enrolment = if pending.enrol {
        match mfa::enrol_pending(state, &context.origin(state), pending.token.secret()).await {
            Ok(e) => Some(e),
            Err(e) => return error_page(shell, e, &format!("{BASE}/login")),
        }
    } else {
        None
    };
    let html = code_page(
        state,
        shell,
        pending.token.secret(),
        return_to,
        enrolment.as_ref(),
        None,
    )
    .await;
    page::html(StatusCode::OK, html)
}

/// `POST /console/login/code`: completes a sign-in with a code or a recovery code.
pub async fn sign_in_code(
    State(state): State<AppState>,
    context: RequestContext,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let fields = fields(form);
    let mut shell = Shell::new(&visitor, Section::None);
    shell.script = true;
    if let Some(refused) = super::check_form(&state, &visitor, &shell, &headers, &fields) {
        return shell.finish(refused);
    }
    let return_to = super::sign_in_return(Some(field(&fields, "return")));
    let shell = shell.returning_to(&state, &return_to).await;
    let pending = field(&fields, "pending");
    let answer = passkey_answer(&fields);
    let factor = posted_factor(&fields, &answer);
    let done = mfa::finish_login(
        &state,
        &context.origin(&state),
        pending,
        factor,
        crate::routes::auth::user_agent(&headers),
    )
    .await;
    match done {
        Ok(done) => {
            let token = done.logged_in.token.secret();
            let age = done.logged_in.lifetime.whole_seconds();
            let Some(codes) = done.recovery_codes else {
                return shell.finish(page::with_session(&return_to, token, age, context.https));
            };
            let mut response = codes_page(&shell, &codes, &return_to);
            if let Some(cookie) = crate::auth::session_cookie(token, age, context.https) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            shell.finish(response)
        }
        Err(e @ (Error::InvalidSecondFactor(_) | Error::LoginThrottled { .. })) => {
            let problem = ApiError::from(e).0;
            let html = code_page(
                &state,
                &shell,
                pending,
                &return_to,
                None,
                Some(&problem.detail),
            )
            .await;
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut response = page::html(status, html);
            if let Some(retry) = problem.retry_after {
                if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            shell.finish(response)
        }
        // A sign-in that is gone (`Unauthenticated`) starts again at the sign-in page.
        Err(e) => shell.finish(error_page(&shell, e, &return_to)),
    }
}

/// A passkey's answer posted in the `passkey` field (not JSON: `null`, which is refused
/// as malformed and counted like any wrong answer).
fn passkey_answer(fields: &[(String, String)]) -> Option<serde_json::Value> {
    let text = field(fields, "passkey");
    (!text.is_empty()).then(|| serde_json::from_str(text).unwrap_or(serde_json::Value::Null))
}

/// The factor a second-step or step-up form posted: a passkey's answer, a recovery code,
/// or a code.
fn posted_factor<'a>(
    fields: &'a [(String, String)],
    answer: &'a Option<serde_json::Value>,
) -> Factor<'a> {
    let recovery = field(fields, "recovery_code");
    match answer {
        Some(answer) => Factor::Passkey(answer),
        None if !recovery.is_empty() => Factor::RecoveryCode(recovery),
        None => Factor::Code(field(fields, "code")),
    }
}

fn codes_page(shell: &Shell, codes: &RecoveryCodes, next: &str) -> Response {
    let html = CodesPage {
        shell,
        codes: codes.shown.iter().map(|c| c.to_string()).collect(),
        next,
    }
    .render();
    page::html(StatusCode::OK, html)
}

const ACCOUNT: &str = "/console/account/two-factor";

/// `GET /console/account/two-factor`.
pub async fn show(State(state): State<AppState>, page: Page<AccountOpen>) -> Response {
    let Page {
        shell, operator, ..
    } = page;
    account(&state, (&shell, &operator), None, None, StatusCode::OK).await
}

/// The operator's two-factor page, with an enrolment under way and a problem to show.
async fn account(
    state: &AppState,
    (shell, operator): (&Shell, &Operator),
    enrolment: Option<&Enrolment>,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let current = match mfa::status(state, &operator.auth.caller(state)).await {
        Ok(s) => s,
        Err(e) => return shell.finish(error_page(shell, e, ACCOUNT)),
    };
    let html = AccountPage {
        shell,
        enrolled: current.enrolled,
        required: current.required,
        recovery_left: current.recovery_codes_left,
        enrolment,
        problem,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `POST /console/account/two-factor/start`: a new secret to set up, with its QR code.
pub async fn start(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    match mfa::begin_enrolment(&state, &operator.auth.caller(&state)).await {
        Ok(enrolment) => {
            let done = (&shell, &operator);
            account(&state, done, Some(&enrolment), None, StatusCode::OK).await
        }
        Err(e) => shell.finish(error_page(&shell, e, ACCOUNT)),
    }
}

/// `POST /console/account/two-factor/confirm`: the app's first code; the recovery codes.
pub async fn confirm(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let caller = operator.auth.caller(&state);
    let code = field(&fields, "code");
    match mfa::confirm_enrolment(&state, &caller, operator.auth.session.id, code).await {
        Ok(codes) => shell.finish(codes_page(&shell, &codes, ACCOUNT)),
        Err(e @ Error::InvalidSecondFactor(_)) => {
            let problem = ApiError::from(e).0;
            let detail = format!(
                "{} Set up the app again to get a new QR code.",
                problem.detail
            );
            account(
                &state,
                (&shell, &operator),
                None,
                Some(&detail),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => shell.finish(error_page(&shell, e, ACCOUNT)),
    }
}

/// `POST /console/account/two-factor/recovery-codes`: new recovery codes (a step-up first).
pub async fn new_codes(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    match mfa::new_recovery_codes(&state, &operator.auth.caller(&state)).await {
        Ok(codes) => shell.finish(codes_page(&shell, &codes, ACCOUNT)),
        Err(e) => shell.finish(error_page(&shell, e, ACCOUNT)),
    }
}

/// `?return=` of the step-up page.
#[derive(Debug, Deserialize)]
pub struct ReturnTo {
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// `GET /console/account/step-up`: a code, to go on with a sensitive action.
pub async fn step_up_page(
    State(state): State<AppState>,
    page: Page<AccountOpen>,
    query: Result<Query<ReturnTo>, QueryRejection>,
) -> Response {
    let Page {
        mut shell,
        operator,
        ..
    } = page;
    let return_to = return_address(query.ok().and_then(|q| q.0.return_to).as_deref(), BASE);
    shell.script = true;
    let (totp, passkey) = step_up_offers(&state, &operator.auth.caller(&state)).await;
    let html = StepUpPage {
        shell: &shell,
        return_to: &return_to,
        problem: None,
        totp,
        passkey,
        script: PASSKEY_SCRIPT,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/account/step-up`: verifies a code (or a recovery code) and goes back.
pub async fn step_up(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        mut shell,
        operator,
        fields,
        ..
    } = sent;
    let here = "/console/account/step-up";
    let return_to = return_address(Some(field(&fields, "return")), BASE);
    let answer = passkey_answer(&fields);
    let factor = posted_factor(&fields, &answer);
    let caller = operator.auth.caller(&state);
    match mfa::step_up(&state, &caller, &operator.auth.session, factor).await {
        Ok(()) => shell.finish(page::see_other(&return_to)),
        Err(e @ (Error::InvalidSecondFactor(_) | Error::LoginThrottled { .. })) => {
            let problem = ApiError::from(e).0;
            let (totp, passkey) = step_up_offers(&state, &caller).await;
            shell.script = true;
            let html = StepUpPage {
                shell: &shell,
                return_to: &return_to,
                problem: Some(&problem.detail),
                totp,
                passkey,
                script: PASSKEY_SCRIPT,
            }
            .render();
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
            shell.finish(page::html(status, html))
        }
        Err(e) => shell.finish(error_page(&shell, e, here)),
    }
}
