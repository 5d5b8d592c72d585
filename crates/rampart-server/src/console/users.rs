//! `/console/users`: IT users and end users. Search and read them with the roles they hold
//! (administrators and auditors, `Operation::ReadUsers`, like `GET /api/v1/users`); create,
//! disable and enable, unlock, reset a password, end every session (administrators,
//! `Operation::AdministerUsers`, like the API's writes). The controls are absent for whoever
//! may not use them, and their URLs refuse.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{CreateUserRequest, ListUsersQuery, RolesQuery, UserView};
use rampart_authz::policy::Operation;
use rampart_core::{Error, Provider};
use rampart_service::authz::decide;
use rampart_service::identity::{self, enrolment, users};
use rampart_service::AppState;
use serde::Deserialize;

use super::account::stamp;
use super::door::doors::{UsersAdmin, UsersRead};
use super::door::{Page, Sent};
use super::{error_page, field, ConfirmPage, Operator, Section, Segments, Shell};
use crate::error::ApiError;
use crate::routes::page;

/// The search form's query.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    cursor: Option<String>,
}

/// One row of the users table.
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    kind: &'static str,
    disabled: bool,
    administrator: bool,
    last_login: String,
}

impl From<&UserView> for UserRow {
    fn from(u: &UserView) -> Self {
        UserRow {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone().unwrap_or_default(),
            kind: provider_label(&u.provider),
            disabled: u.disabled,
            administrator: u.administrator,
            last_login: u.last_login_at.map_or_else(|| "never".into(), stamp),
        }
    }
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct SearchPage<'a> {
    shell: &'a Shell,
    q: &'a str,
    provider: &'a str,
    rows: &'a [UserRow],
    next: Option<String>,
    administrator: bool,
}

/// `GET /console/users`: search by username prefix and provider.
pub async fn search(
    State(state): State<AppState>,
    page: Page<UsersRead>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let query = query.map(|q| q.0).unwrap_or_default();
    let provider = match query.provider.as_str() {
        "it" | "end" => query.provider.clone(),
        _ => String::new(),
    };
    let q = query.q.trim();
    let found = users::list(
        &state,
        ListUsersQuery {
            provider: (!provider.is_empty()).then(|| provider.clone()),
            prefix: (!q.is_empty()).then(|| q.to_owned()),
            cursor: query.cursor.filter(|c| !c.is_empty()),
            limit: Some(50),
        },
    )
    .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let rows: Vec<UserRow> = found.items.iter().map(UserRow::from).collect();
    let next = found.next_cursor.map(|c| {
        format!(
            "/console/users?q={}&provider={}&cursor={}",
            page::encode(q),
            page::encode(&provider),
            page::encode(&c)
        )
    });
    let administrator = may(&state, &operator, Operation::AdministerUsers).await;
    let html = SearchPage {
        shell: &shell,
        q,
        provider: &provider,
        rows: &rows,
        next,
        administrator,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// What went wrong with a form, and at which field.
#[derive(Default)]
pub(super) struct FormProblem {
    field: Option<String>,
    detail: Option<String>,
}

impl FormProblem {
    pub(super) fn of(error: Error, fields: &[&str]) -> (StatusCode, FormProblem) {
        let at = super::field_of(&error)
            .filter(|f| fields.contains(f))
            .map(str::to_owned);
        let problem = ApiError::from(error).0;
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            FormProblem {
                field: at,
                detail: Some(problem.detail),
            },
        )
    }

    /// The problem with field `name`, if it is the one at fault.
    pub(super) fn at(&self, name: &str) -> Option<&str> {
        match &self.field {
            Some(f) if f == name => self.detail.as_deref(),
            _ => None,
        }
    }

    /// The problem that is about no field of the form.
    pub(super) fn other(&self) -> Option<&str> {
        match &self.field {
            Some(_) => None,
            None => self.detail.as_deref(),
        }
    }
}

/// What the new-user form was filled with.
#[derive(Default)]
struct NewUser {
    provider: String,
    username: String,
    display_name: String,
    email: String,
    administrator: bool,
    no_password: bool,
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
struct NewPage<'a> {
    shell: &'a Shell,
    form: &'a NewUser,
    problem: &'a FormProblem,
}

/// `GET /console/users/new`: the form of a new user (administrators).
pub async fn new_form(page: Page<UsersAdmin>) -> Response {
    let Page { shell, .. } = page;
    let form = NewUser {
        provider: "it".into(),
        ..NewUser::default()
    };
    let html = NewPage {
        shell: &shell,
        form: &form,
        problem: &FormProblem::default(),
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/users/new`: creates the user (the API's `POST /api/v1/users`).
pub async fn create(State(state): State<AppState>, sent: Sent<UsersAdmin>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let filled = NewUser {
        provider: field(&fields, "provider").to_owned(),
        username: field(&fields, "username").to_owned(),
        display_name: field(&fields, "display_name").to_owned(),
        email: field(&fields, "email").to_owned(),
        administrator: field(&fields, "administrator") == "on",
        no_password: field(&fields, "no_password") == "on",
    };
    let optional = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    let request = CreateUserRequest {
        provider: filled.provider.clone(),
        username: filled.username.clone(),
        password: optional(field(&fields, "password")),
        no_password: filled.no_password,
        display_name: optional(&filled.display_name),
        email: optional(&filled.email),
        administrator: filled.administrator,
    };
    match users::create(&state, &operator.auth.caller(&state), request).await {
        Ok(user) => shell.finish(page::see_other(&format!(
            "/console/users/{}?done=created",
            user.id
        ))),
        // Creating an administrator needs a fresh second factor: verify one, come back.
        Err(e @ Error::StepUpRequired(_)) => {
            shell.finish(error_page(&shell, e, "/console/users/new"))
        }
        Err(e) => {
            let known = [
                "provider",
                "username",
                "display_name",
                "email",
                "password",
                "no_password",
                "administrator",
            ];
            let (status, problem) = FormProblem::of(e, &known);
            let html = NewPage {
                shell: &shell,
                form: &filled,
                problem: &problem,
            }
            .render();
            shell.finish(page::html(status, html))
        }
    }
}

/// An enrolment link, shown once.
#[derive(Template)]
#[template(path = "console/user_enrolment.html")]
struct LinkPage<'a> {
    shell: &'a Shell,
    username: &'a str,
    link: &'a str,
    expires: String,
    back: &'a str,
}

/// `?done=` on a user's page: what was just done to them.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage<'a> {
    shell: &'a Shell,
    user: &'a UserView,
    kind: &'static str,
    created: String,
    password_changed: String,
    last_login: String,
    it_roles: &'a [String],
    app_roles: &'a [(String, Vec<String>)],
    administrator: bool,
    /// An account with no password: it signs in with passkeys, enrolled through links.
    passwordless: bool,
    /// Its enrolment link can be mailed: it has an address and a mail server is configured.
    mail_enrolment: bool,
    notice: Option<&'a str>,
}

/// `GET /console/users/{id}`: one user, with the roles they hold.
pub async fn show(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    page: Page<UsersRead>,
    query: Result<Query<Done>, QueryRejection>,
) -> Response {
    let Page {
        visitor: _,
        here,
        shell,
        operator,
        ..
    } = page;
    let user = match users::get(&state, &id).await {
        Ok(user) => user,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let it_roles = match identity::it_roles(&state, user.id).await {
        Ok(roles) => roles,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let app_roles = match application_roles(&state, &operator, &id).await {
        Ok(roles) => roles,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let passwordless = user.passwordless();
    let notice = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("created") => Some("User created."),
        Some("disable") => Some("User disabled; every session of theirs has ended."),
        Some("enable") => Some("User enabled; they can sign in again."),
        Some("unlock") => Some("Login lock lifted."),
        Some("reset-password") => Some("Password set; every session of theirs has ended."),
        Some("revoke-sessions") => Some("Every session of theirs has ended."),
        Some("mail-enrolment") => {
            Some("Enrolment link mailed to their address; any earlier link no longer works.")
        }
        _ => None,
    };
    let view = UserView::from(&user);
    let administrator = may(&state, &operator, Operation::AdministerUsers).await;
    let html = UserPage {
        shell: &shell,
        created: stamp(view.created_at),
        password_changed: stamp(view.password_changed_at),
        last_login: view.last_login_at.map_or_else(|| "never".into(), stamp),
        kind: provider_label(&view.provider),
        user: &view,
        it_roles: &it_roles,
        app_roles: &app_roles,
        administrator,
        passwordless,
        mail_enrolment: passwordless
            && view.email.is_some()
            && !state.config.support.smtp_host.is_empty(),
        notice,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// The roles `id` holds in each application (the API's `GET /api/v1/authz/roles`, which
/// checks that the viewer may read authorization data), applications where they hold none
/// left out.
async fn application_roles(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<Vec<(String, Vec<String>)>, Error> {
    let viewer = &operator.auth.user;
    let model = decide::model(state, viewer).await?;
    let mut out = Vec::new();
    for app in model.applications {
        let q = RolesQuery {
            user: id.to_owned(),
            application: app.name.clone(),
        };
        let held = decide::roles(state, viewer, &q).await?;
        if !held.roles.is_empty() {
            out.push((app.name, held.roles));
        }
    }
    Ok(out)
}

/// An action on one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Disable,
    Enable,
    Unlock,
    ResetPassword,
    RevokeSessions,
    Enrolment,
    MailEnrolment,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "disable" => Action::Disable,
            "enable" => Action::Enable,
            "unlock" => Action::Unlock,
            "reset-password" => Action::ResetPassword,
            "revoke-sessions" => Action::RevokeSessions,
            "enrolment" => Action::Enrolment,
            "mail-enrolment" => Action::MailEnrolment,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Unlock => "unlock",
            Action::ResetPassword => "reset-password",
            Action::RevokeSessions => "revoke-sessions",
            Action::Enrolment => "enrolment",
            Action::MailEnrolment => "mail-enrolment",
        }
    }

    /// The confirmation page's question, explanation and button.
    fn words(self, username: &str) -> (String, &'static str, &'static str) {
        match self {
            Action::Disable => (
                format!("Disable {username}?"),
                "They can no longer sign in, and every session of theirs ends now. You can \
                 enable them again later.",
                "Disable",
            ),
            Action::Enable => (
                format!("Enable {username}?"),
                "They can sign in again.",
                "Enable",
            ),
            Action::Unlock => (
                format!("Unlock {username}?"),
                "The lock after repeated failed logins is lifted; they can try again now.",
                "Unlock",
            ),
            Action::ResetPassword => (
                format!("Set a new password for {username}?"),
                "The password policy applies. Every session of theirs ends; tell them the new \
                 password through a safe channel.",
                "Set password",
            ),
            Action::RevokeSessions => (
                format!("End every session of {username}?"),
                "They are signed out everywhere and must sign in again.",
                "End sessions",
            ),
            Action::Enrolment => (
                format!("Issue an enrolment link for {username}?"),
                "For an account with no password: the link lets its holder register a \
                 passkey, which then signs them in alone. It works once, lapses after [mfa] \
                 enrolment_hours, and replaces any earlier link. It is shown once: hand it \
                 over through a safe channel.",
                "Issue link",
            ),
            Action::MailEnrolment => (
                format!("Mail an enrolment link to {username}?"),
                "The link goes to their e-mail address through the platform's mail server, \
                 so nobody else sees it, not even you. It lets them register a passkey, \
                 which then signs them in alone; it works once, lapses after [mfa] \
                 enrolment_hours, and replaces any earlier link.",
                "Mail link",
            ),
        }
    }
}

/// The action and the user it is about, or the answer.
async fn target(
    state: &AppState,
    shell: &Shell,
    id: &str,
    action: &str,
) -> Result<(Action, rampart_core::User), Response> {
    let here = format!("/console/users/{id}/{action}");
    let Some(action) = Action::parse(action) else {
        return Err(error_page(shell, Error::NotFound { what: "page" }, &here));
    };
    let user = users::get(state, id)
        .await
        .map_err(|e| error_page(shell, e, &here))?;
    Ok((action, user))
}

/// `GET /console/users/{id}/{action}`: asks before acting (administrators).
pub async fn confirm(
    State(state): State<AppState>,
    Segments((id, action)): Segments<(String, String)>,
    page: Page<UsersAdmin>,
) -> Response {
    let Page { shell, .. } = page;
    let (action, user) = match target(&state, &shell, &id, &action).await {
        Ok(t) => t,
        Err(r) => return shell.finish(r),
    };
    confirm_page(&shell, &id, action, &user.username, StatusCode::OK, None)
}

fn confirm_page(
    shell: &Shell,
    id: &str,
    action: Action,
    username: &str,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let (heading, explanation, button) = action.words(username);
    let url = format!("/console/users/{id}/{}", action.name());
    let back = format!("/console/users/{id}");
    let html = ConfirmPage {
        shell,
        heading: &heading,
        explanation,
        action: &url,
        button,
        back: &back,
        password: (action == Action::ResetPassword).then_some("New password"),
        problem,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `POST /console/users/{id}/{action}`: does it (administrators), as the API's route of the
/// same name does.
pub async fn act(
    State(state): State<AppState>,
    Segments((id, action)): Segments<(String, String)>,
    sent: Sent<UsersAdmin>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let (action, user) = match target(&state, &shell, &id, &action).await {
        Ok(t) => t,
        Err(r) => return shell.finish(r),
    };
    let caller = operator.auth.caller(&state);
    if action == Action::Enrolment {
        return match enrolment::issue(&state, &caller, &id).await {
            Ok(issued) => {
                let html = LinkPage {
                    shell: &shell,
                    username: &user.username,
                    link: &issued.link,
                    expires: stamp(issued.expires_at),
                    back: &format!("/console/users/{id}"),
                }
                .render();
                shell.finish(page::html(StatusCode::CREATED, html))
            }
            Err(e) => shell.finish(error_page(&shell, e, &format!("/console/users/{id}"))),
        };
    }
    let done = match action {
        Action::Disable => users::set_disabled(&state, &caller, &id, true)
            .await
            .map(drop),
        Action::Enable => users::set_disabled(&state, &caller, &id, false)
            .await
            .map(drop),
        Action::Unlock => users::unlock(&state, &caller, &id).await,
        Action::ResetPassword => {
            users::reset_password(&state, &caller, &id, field(&fields, "password")).await
        }
        Action::RevokeSessions => users::revoke_sessions(&state, &caller, &id).await.map(drop),
        Action::MailEnrolment => enrolment::mail(&state, &caller, &id).await.map(drop),
        Action::Enrolment => Ok(()),
    };
    let here = format!("/console/users/{id}");
    match done {
        Ok(()) => shell.finish(page::see_other(&format!("{here}?done={}", action.name()))),
        Err(e @ (Error::PasswordRejected { .. } | Error::InvalidInput { .. }))
            if action == Action::ResetPassword =>
        {
            let (status, problem) = FormProblem::of(e, &["password"]);
            let detail = problem.detail.unwrap_or_default();
            confirm_page(&shell, &id, action, &user.username, status, Some(&detail))
        }
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}

async fn may(state: &AppState, operator: &Operator, op: Operation) -> bool {
    identity::may(state, &operator.auth.user, op)
        .await
        .unwrap_or(false)
}

/// The provider's words.
fn provider_label(provider: &str) -> &'static str {
    match Provider::parse(provider) {
        Ok(Provider::It) => "IT user",
        Ok(Provider::End) => "End user",
        Err(_) => "unknown",
    }
}
