//! "My account → Passkeys": the caller's passkeys (name, when registered, when last used)
//! with a Remove button each (a step-up first, through the step-up page), and registering a
//! new one (`static/console/passkeys.js` asks the API for the challenge, lets the browser
//! create the passkey and posts its answer here). Each calls the same use case as the API
//! (`rampart_service::identity::passkeys`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rampart_core::Error;
use rampart_service::identity::passkeys;
use rampart_service::AppState;

use super::account::stamp;
use super::door::doors::AccountOpen;
use super::door::{Operator, Page, Sent};
use super::two_factor::PASSKEY_SCRIPT;
use super::{error_page, field, Section, Shell};
use crate::error::ApiError;
use crate::routes::page;

const HERE: &str = "/console/account/passkeys";

/// A passkey as listed.
struct Row {
    id: String,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "console/passkeys.html")]
struct PasskeysPage<'a> {
    shell: &'a Shell,
    passkeys: Vec<Row>,
    /// Why passkeys are unavailable on this server, if they are.
    unavailable: Option<String>,
    problem: Option<&'a str>,
    script: &'static str,
}

/// `GET /console/account/passkeys`.
pub async fn show(State(state): State<AppState>, page: Page<AccountOpen>) -> Response {
    let Page {
        shell, operator, ..
    } = page;
    render(&state, (shell, &operator), None, StatusCode::OK).await
}

/// The passkeys page of the operator (with its script), with a problem to show.
async fn render(
    state: &AppState,
    (mut shell, operator): (Shell, &Operator),
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    shell.script = true;
    let unavailable = match passkeys::relying_party(state) {
        Ok(_) => None,
        Err(e) => Some(ApiError::from(e).0.detail),
    };
    let list = match passkeys::list(state, &operator.auth.caller(state)).await {
        Ok(list) => list,
        Err(e) => return shell.finish(error_page(&shell, e, HERE)),
    };
    let html = PasskeysPage {
        shell: &shell,
        passkeys: list
            .into_iter()
            .map(|p| Row {
                id: p.id.to_string(),
                name: p.name,
                created: stamp(p.created_at),
                last_used: p.last_used_at.map(stamp).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        unavailable,
        problem,
        script: PASSKEY_SCRIPT,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `POST /console/account/passkeys`: the browser's answer to this session's registration
/// challenge, and the name.
pub async fn register(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let answer: serde_json::Value =
        serde_json::from_str(field(&fields, "passkey")).unwrap_or(serde_json::Value::Null);
    let done = passkeys::finish_registration(
        &state,
        &operator.auth.caller(&state),
        operator.auth.session.id,
        field(&fields, "name"),
        &answer,
    )
    .await;
    match done {
        Ok(_) => shell.finish(page::see_other(HERE)),
        Err(e @ (Error::InvalidInput { .. } | Error::Conflict(_))) => {
            let problem = ApiError::from(e).0;
            render(
                &state,
                (shell, &operator),
                Some(&problem.detail),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => shell.finish(error_page(&shell, e, HERE)),
    }
}

/// `POST /console/account/passkeys/remove`: removes one (a step-up first).
pub async fn remove(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let caller = operator.auth.caller(&state);
    match passkeys::remove(&state, &caller, field(&fields, "id")).await {
        Ok(()) => shell.finish(page::see_other(HERE)),
        Err(e) => shell.finish(error_page(&shell, e, HERE)),
    }
}
