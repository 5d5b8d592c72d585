//! `/console/idp-clients`: the clients registered with Rampart's OpenID provider. Reading
//! them is for administrators and auditors (`Operation::ReadUsers`, like
//! `GET /api/v1/idp/clients`); registering, editing, rotating a secret and removing are
//! for administrators (`Operation::AdministerUsers`, like the API's writes), checked before
//! anything is read. Every change is the API's use case (`rampart_service::idp::clients`),
//! so the rules and the `idp.client.*` events are the same.
//!
//! A client's secret is shown once, in the answer to the form that made it (registering or
//! rotating): never in an address, never again afterwards, never logged. The page is not
//! cached (`no-store`, as every console page).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::idp::{IdpClientCreated, IdpClientInfo, IdpClientUpdate, NewIdpClientRequest};
use rampart_authz::policy::Operation;
use rampart_core::Error;
use rampart_service::idp::clients;
use rampart_service::{identity, AppState};
use serde::Deserialize;

use super::door::doors::{IdpClientsAdmin, IdpClientsRead};
use super::door::{Page, Sent};
use super::users::FormProblem;
use super::{error_page, field, ConfirmPage, Section, Segments, Shell};
use crate::routes::page;

/// Where the list is.
const LIST: &str = "/console/idp-clients";

/// The scopes offered on the form, in the order shown.
const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

#[derive(Template)]
#[template(path = "console/idp_clients.html")]
struct ListPage<'a> {
    shell: &'a Shell,
    clients: &'a [IdpClientInfo],
    administrator: bool,
    notice: Option<&'a str>,
}

/// The list's query: what was just done.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /console/idp-clients`: every client (administrators and auditors).
pub async fn list(
    State(state): State<AppState>,
    page: Page<IdpClientsRead>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let administrator = identity::may(&state, &operator.auth.user, Operation::AdministerUsers)
        .await
        .unwrap_or(false);
    let all = match clients::list(&state).await {
        Ok(l) => l,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let notice = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("deleted") => {
            Some("The client is removed, with the codes, refresh tokens and consents issued to it.")
        }
        Some("updated") => Some(
            "The client is changed. Codes, refresh tokens and consents issued to it keep only \
             what it may still do.",
        ),
        _ => None,
    };
    let html = ListPage {
        shell: &shell,
        clients: &all,
        administrator,
        notice,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// What the registration form was filled with.
struct Filled {
    client_id: String,
    name: String,
    kind: String,
    users: String,
    first_party: bool,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: Vec<String>,
    alg: String,
    /// The settings' version the edit form was filled from (empty on the new form).
    version: String,
}

impl Default for Filled {
    fn default() -> Self {
        Filled {
            client_id: String::new(),
            name: String::new(),
            kind: "confidential".into(),
            users: "end".into(),
            first_party: false,
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            alg: "RS256".into(),
            version: String::new(),
        }
    }
}

impl Filled {
    fn of(fields: &[(String, String)]) -> Filled {
        Filled {
            client_id: field(fields, "client_id").trim().to_owned(),
            name: field(fields, "name").to_owned(),
            kind: field(fields, "kind").to_owned(),
            users: field(fields, "users").to_owned(),
            first_party: field(fields, "first_party") == "on",
            redirect_uris: field(fields, "redirect_uris").to_owned(),
            post_logout_redirect_uris: field(fields, "post_logout_redirect_uris").to_owned(),
            scopes: fields
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect(),
            alg: field(fields, "alg").to_owned(),
            version: field(fields, "version").to_owned(),
        }
    }

    /// Whether the form edits a registered client (it was filled from one).
    fn editing(&self) -> bool {
        !self.version.is_empty()
    }

    /// Whether scope `s` is ticked.
    fn has_scope(&self, s: &&str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }

    /// The form filled with a registered client's settings.
    fn from_client(c: &IdpClientInfo) -> Filled {
        Filled {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            kind: c.kind.clone(),
            users: c.users.clone(),
            first_party: c.first_party,
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            scopes: c.scopes.clone(),
            alg: c.id_token_signed_response_alg.clone(),
            version: c.version.clone(),
        }
    }

    /// The API's update for the edit form: every setting it shows, as shown (the id and
    /// the kind are not fields of the edit form), refused if the settings have changed
    /// since the form was filled.
    fn update(&self) -> IdpClientUpdate {
        IdpClientUpdate {
            client_id: None,
            kind: None,
            name: Some(self.name.clone()),
            first_party: Some(self.first_party),
            redirect_uris: Some(lines(&self.redirect_uris)),
            post_logout_redirect_uris: Some(lines(&self.post_logout_redirect_uris)),
            scopes: Some(self.scopes.clone()),
            id_token_signed_response_alg: Some(self.alg.clone()),
            users: Some(self.users.clone()),
            if_version: (!self.version.is_empty()).then(|| self.version.clone()),
        }
    }

    /// The API's request for this form: one URI a line, blank lines ignored.
    fn request(&self) -> NewIdpClientRequest {
        NewIdpClientRequest {
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            first_party: self.first_party,
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            scopes: Some(self.scopes.clone()),
            id_token_signed_response_alg: Some(self.alg.clone()),
            users: Some(self.users.clone()),
        }
    }
}

/// One URI a line, blank lines ignored.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The fields of the forms a refusal may name.
const FIELDS: [&str; 8] = [
    "client_id",
    "name",
    "kind",
    "users",
    "redirect_uris",
    "post_logout_redirect_uris",
    "scopes",
    "id_token_signed_response_alg",
];

#[derive(Template)]
#[template(path = "console/idp_client_new.html")]
struct NewPage<'a> {
    shell: &'a Shell,
    form: &'a Filled,
    problem: &'a FormProblem,
    scopes: &'a [&'a str],
}

fn new_page(shell: &Shell, status: StatusCode, form: &Filled, problem: &FormProblem) -> Response {
    let html = NewPage {
        shell,
        form,
        problem,
        scopes: &SCOPES,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `GET /console/idp-clients/new`: the registration form (administrators).
pub async fn new_form(page: Page<IdpClientsAdmin>) -> Response {
    let Page { shell, .. } = page;
    new_page(
        &shell,
        StatusCode::OK,
        &Filled::default(),
        &FormProblem::default(),
    )
}

/// The page showing a client's secret, this once.
#[derive(Template)]
#[template(path = "console/idp_client_secret.html")]
struct SecretPage<'a> {
    shell: &'a Shell,
    heading: &'a str,
    client: &'a IdpClientInfo,
    secret: Option<&'a str>,
}

fn secret_page(
    shell: &Shell,
    status: StatusCode,
    heading: &str,
    done: &IdpClientCreated,
) -> Response {
    let html = SecretPage {
        shell,
        heading,
        client: &done.client,
        secret: done.client_secret.as_deref(),
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `POST /console/idp-clients/new`: registers the client (the API's
/// `POST /api/v1/idp/clients`) and shows its secret, once.
pub async fn create(State(state): State<AppState>, sent: Sent<IdpClientsAdmin>) -> Response {
    let Sent {
        visitor: _,
        shell,
        operator,
        fields,
        ..
    } = sent;
    let filled = Filled::of(&fields);
    match clients::create(&state, &operator.auth.caller(&state), &filled.request()).await {
        Ok(done) => secret_page(&shell, StatusCode::CREATED, "Client registered", &done),
        Err(e @ Error::StepUpRequired(_)) => {
            shell.finish(error_page(&shell, e, &format!("{LIST}/new")))
        }
        Err(e) => {
            let (status, problem) = FormProblem::of(e, &FIELDS);
            new_page(&shell, status, &filled, &problem)
        }
    }
}

/// What an administrator does to a client from its confirmation page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    RotateSecret,
    Delete,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s {
            "rotate-secret" => Some(Action::RotateSecret),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Action::RotateSecret => "rotate-secret",
            Action::Delete => "delete",
        }
    }

    /// The confirmation's heading, explanation and button.
    fn words(self, client: &str) -> (String, &'static str, &'static str) {
        match self {
            Action::RotateSecret => (
                format!("Give {client} a new secret?"),
                "A new secret is made and shown once. The current secret stops working at \
                 once: the client cannot redeem codes or refresh tokens with it until it is \
                 given the new one.",
                "Rotate the secret",
            ),
            Action::Delete => (
                format!("Remove {client}?"),
                "The client is removed with every code, refresh token and consent issued to \
                 it. Its users can no longer sign in to it through Rampart.",
                "Remove the client",
            ),
        }
    }
}

/// The client and action an address names (asked once the door has let an administrator
/// in); otherwise the 404 of an unknown action or client.
async fn target(
    state: &AppState,
    shell: &Shell,
    (id, action): (&str, &str),
) -> Result<(Action, IdpClientInfo), Response> {
    let Some(action) = Action::parse(action) else {
        return Err(error_page(shell, Error::NotFound { what: "page" }, LIST));
    };
    let client = clients::get(state, id)
        .await
        .map_err(|e| error_page(shell, e, LIST))?;
    Ok((action, client))
}

/// `GET /console/idp-clients/{id}/{action}`: the confirmation of rotating a secret or
/// removing the client (administrators).
pub async fn confirm(
    State(state): State<AppState>,
    Segments((id, action)): Segments<(String, String)>,
    page: Page<IdpClientsAdmin>,
) -> Response {
    let Page { shell, .. } = page;
    let (action, client) = match target(&state, &shell, (&id, &action)).await {
        Ok(t) => t,
        Err(r) => return shell.finish(r),
    };
    let (heading, explanation, button) = action.words(&client.name);
    let url = format!(
        "{LIST}/{}/{}",
        page::encode(&client.client_id),
        action.name()
    );
    let html = ConfirmPage {
        shell: &shell,
        heading: &heading,
        explanation,
        action: &url,
        button,
        back: LIST,
        password: None,
        problem: None,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/idp-clients/{id}/{action}`: rotates the secret (shown once) or removes
/// the client, as the API's routes do.
pub async fn act(
    State(state): State<AppState>,
    Segments((id, action)): Segments<(String, String)>,
    sent: Sent<IdpClientsAdmin>,
) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    let (action, client) = match target(&state, &shell, (&id, &action)).await {
        Ok(t) => t,
        Err(r) => return shell.finish(r),
    };
    let caller = operator.auth.caller(&state);
    match action {
        Action::RotateSecret => {
            match clients::rotate_secret(&state, &caller, &client.client_id).await {
                Ok(done) => secret_page(&shell, StatusCode::OK, "New secret", &done),
                Err(e) => shell.finish(error_page(&shell, e, LIST)),
            }
        }
        Action::Delete => match clients::delete(&state, &caller, &client.client_id).await {
            Ok(()) => shell.finish(page::see_other(&format!("{LIST}?done=deleted"))),
            Err(e) => shell.finish(error_page(&shell, e, LIST)),
        },
    }
}

#[derive(Template)]
#[template(path = "console/idp_client_edit.html")]
struct EditPage<'a> {
    shell: &'a Shell,
    form: &'a Filled,
    problem: &'a FormProblem,
    scopes: &'a [&'a str],
    action: &'a str,
}

fn edit_page(shell: &Shell, status: StatusCode, form: &Filled, problem: &FormProblem) -> Response {
    let action = format!("{LIST}/{}/edit", page::encode(&form.client_id));
    let html = EditPage {
        shell,
        form,
        problem,
        scopes: &SCOPES,
        action: &action,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// `GET /console/idp-clients/{id}/edit`: the form that changes a client's settings
/// (administrators; checked before the client is read).
pub async fn edit_form(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    page: Page<IdpClientsAdmin>,
) -> Response {
    let Page { shell, .. } = page;
    match clients::get(&state, &id).await {
        Ok(client) => edit_page(
            &shell,
            StatusCode::OK,
            &Filled::from_client(&client),
            &FormProblem::default(),
        ),
        Err(e) => shell.finish(error_page(&shell, e, LIST)),
    }
}

/// `POST /console/idp-clients/{id}/edit`: changes the client (the API's
/// `PATCH /api/v1/idp/clients/{id}` with every setting the form shows); a refusal shows
/// the form again as sent, the problem beside its field, with nothing changed.
pub async fn edit(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    sent: Sent<IdpClientsAdmin>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let client = match clients::get(&state, &id).await {
        Ok(c) => c,
        Err(e) => return shell.finish(error_page(&shell, e, LIST)),
    };
    let filled = Filled {
        client_id: client.client_id.clone(),
        kind: client.kind.clone(),
        ..Filled::of(&fields)
    };
    match clients::update(
        &state,
        &operator.auth.caller(&state),
        &client.client_id,
        &filled.update(),
    )
    .await
    {
        Ok(_) => shell.finish(page::see_other(&format!("{LIST}?done=updated"))),
        // Changed by someone else since the form was filled: the form again, with the
        // settings as they are now, so nothing of theirs is overwritten unseen.
        Err(e @ Error::Conflict(_)) => match clients::get(&state, &id).await {
            Ok(now) => {
                let stale = Error::Conflict(
                    "someone changed this client while you were editing it: the form now \
                     shows its current settings; make your change again"
                        .into(),
                );
                let (status, problem) = FormProblem::of(stale, &FIELDS);
                edit_page(&shell, status, &Filled::from_client(&now), &problem)
            }
            Err(_) => shell.finish(error_page(&shell, e, LIST)),
        },
        Err(e @ Error::StepUpRequired(_)) => {
            let here = format!("{LIST}/{}/edit", client.client_id);
            shell.finish(error_page(&shell, e, &here))
        }
        Err(e) => {
            let (status, problem) = FormProblem::of(e, &FIELDS);
            edit_page(&shell, status, &filled, &problem)
        }
    }
}
