//! `/console/account`: the signed-in user's own account: changing the password (the
//! password policy's answer shown next to the field), the sessions open in their name (end
//! one), and signing out everywhere.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_service::identity;
use rampart_service::AppState;
use rampart_store::OpenSession;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::door::doors::AccountOpen;
use super::door::{Operator, Page, Sent};
use super::{error_page, field, signed_out, ConfirmPage, Section, Segments, Shell};
use crate::auth::RequestContext;
use crate::error::ApiError;
use crate::routes::page;

/// One row of the sessions table.
struct SessionRow {
    id: String,
    started: String,
    last_used: String,
    source: String,
    client: String,
    current: bool,
}

/// What went wrong with the password form, by field.
#[derive(Default)]
struct PasswordProblems {
    current_password: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
    other: Option<String>,
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage<'a> {
    shell: &'a Shell,
    username: &'a str,
    provider: &'a str,
    administrator: bool,
    roles: &'a [String],
    sessions: &'a [SessionRow],
    problems: &'a PasswordProblems,
    notice: Option<&'a str>,
}

/// `?done=` on the account page: what was just done.
#[derive(Debug, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /console/account`.
pub async fn show(
    State(state): State<AppState>,
    page: Page<AccountOpen>,
    query: Result<Query<Done>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let notice = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("session-ended") => Some("The session has ended."),
        _ => None,
    };
    render(
        &state,
        (&shell, &operator),
        &here,
        StatusCode::OK,
        &PasswordProblems::default(),
        notice,
    )
    .await
}

/// The account page of the operator, with `problems` of a password change and a notice.
async fn render(
    state: &AppState,
    (shell, operator): (&Shell, &Operator),
    here: &str,
    status: StatusCode,
    problems: &PasswordProblems,
    notice: Option<&str>,
) -> Response {
    let caller = operator.auth.caller(state);
    let open = match identity::sessions::open_of(state, &caller).await {
        Ok(open) => open,
        Err(e) => return shell.finish(error_page(shell, e, here)),
    };
    let roles = match identity::it_roles(state, caller.user.id).await {
        Ok(roles) => roles,
        Err(e) => return shell.finish(error_page(shell, e, here)),
    };
    let current = operator.auth.session.id;
    let sessions: Vec<SessionRow> = open
        .iter()
        .map(|s: &OpenSession| SessionRow {
            id: s.session.id.to_string(),
            started: stamp(s.session.created_at),
            last_used: stamp(s.session.last_seen_at),
            source: s.source.clone().unwrap_or_else(|| "unknown".into()),
            client: s.user_agent.clone().unwrap_or_else(|| "unknown".into()),
            current: s.session.id == current,
        })
        .collect();
    let user = &operator.auth.user;
    let html = AccountPage {
        shell,
        username: &user.username,
        provider: user.provider.as_str(),
        administrator: user.is_admin,
        roles: &roles,
        sessions: &sessions,
        problems,
        notice,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `POST /console/account/password`: changes the signed-in user's password with the
/// current one (the API's `change-password`), which ends every session of theirs.
pub async fn change_password(
    State(state): State<AppState>,
    context: RequestContext,
    sent: Sent<AccountOpen>,
) -> Response {
    let Sent {
        visitor,
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = "/console/account";
    let new = field(&fields, "password");
    let mut problems = PasswordProblems::default();
    if new != field(&fields, "confirm") {
        problems.confirm = Some("The two new passwords differ; type the same one twice.".into());
        return render(
            &state,
            (&shell, &operator),
            here,
            StatusCode::UNPROCESSABLE_ENTITY,
            &problems,
            None,
        )
        .await;
    }
    let user = &operator.auth.user;
    let changed = identity::change_password(
        &state,
        &context.origin(&state),
        user.provider.as_str(),
        &user.username,
        field(&fields, "current_password"),
        new,
    )
    .await;
    match changed {
        Ok(()) => shell.finish(signed_out("/console/login?changed=1", visitor.https())),
        Err(e) => {
            let at = super::field_of(&e).map(str::to_owned);
            let problem = ApiError::from(e).0;
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let detail = Some(problem.detail);
            match at.as_deref() {
                Some("current_password") => problems.current_password = detail,
                Some("password" | "new_password") => problems.password = detail,
                _ => problems.other = detail,
            }
            render(&state, (&shell, &operator), here, status, &problems, None).await
        }
    }
}

/// `POST /console/account/sessions/{id}/end`: ends one of the user's own sessions (the
/// current one signs them out).
pub async fn end_session(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    sent: Sent<AccountOpen>,
) -> Response {
    let Sent {
        visitor,
        shell,
        operator,
        ..
    } = sent;
    let here = "/console/account";
    let caller = operator.auth.caller(&state);
    match identity::sessions::end_own(&state, &caller, &id).await {
        Ok(()) if operator.auth.session.id.to_string() == id => {
            shell.finish(signed_out("/console/login", visitor.https()))
        }
        Ok(()) => shell.finish(page::see_other("/console/account?done=session-ended")),
        Err(e) => shell.finish(error_page(&shell, e, here)),
    }
}

/// `GET /console/account/logout-everywhere`: asks before ending every session.
pub async fn confirm_logout_everywhere(page: Page<AccountOpen>) -> Response {
    let Page { shell, .. } = page;
    let here = "/console/account/logout-everywhere";
    let html = ConfirmPage {
        shell: &shell,
        heading: "Sign out everywhere?",
        explanation: "Every session in your name ends, on every device, this one included. \
                      You will sign in again.",
        action: here,
        button: "Sign out everywhere",
        back: "/console/account",
        password: None,
        problem: None,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/account/logout-everywhere`: ends every session of the user (the API's
/// `logout?all=true`).
pub async fn logout_everywhere(State(state): State<AppState>, sent: Sent<AccountOpen>) -> Response {
    let Sent {
        visitor,
        shell,
        operator,
        ..
    } = sent;
    let here = "/console/account";
    let auth = &operator.auth;
    match identity::logout(&state, &auth.caller(&state), &auth.session, true).await {
        Ok(()) => shell.finish(signed_out("/console/login", visitor.https())),
        Err(e) => shell.finish(error_page(&shell, e, here)),
    }
}

/// A time as the console shows it (UTC, to the second).
pub(super) fn stamp(at: time::OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .map(|s| s.replace('T', " ").replace('Z', " UTC"))
        .unwrap_or_default()
}
