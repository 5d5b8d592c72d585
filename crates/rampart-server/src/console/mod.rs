//! `/console`: the web home of IT users (administrators, developers, operators, auditors),
//! and the support desk and account pages of end users; an adapter over the same service
//! functions as the JSON API, so no rule is written twice.
//!
//! - Pages are rendered on the server from askama templates (`templates/console/`), styled by
//!   one stylesheet embedded in the binary (`static/console/console.css`). Every page works
//!   with plain links and forms; only the passkey pages and a running rebuild's page carry
//!   a script (under the response's nonce). Destructive actions have a confirmation page of
//!   their own.
//! - Signed in with the platform's session cookie (`__Host-rampart_session`), opened by the
//!   console's sign-in page; an end user may open the support desk and their own account
//!   (`Operation::OpenSupportDesk`), and is refused every other page
//!   (`Operation::OpenConsole`).
//! - Every form carries the double-submit CSRF token of the application pages
//!   ([`crate::routes::page`]), checked in constant time with the `Origin`; every page has
//!   a strict CSP (`default-src 'none'`, the stylesheet from this site).
//! - Each page and form names its [`door::Door`] in its signature ([`door::Page`],
//!   [`door::Sent`]): the section and the same rule as its API route
//!   ([`crate::rules`]), checked before the handler reads anything about an object.

pub mod account;
pub mod alerts;
pub mod audit;
pub mod chart;
pub mod deployments;
pub mod door;
pub mod environments;
pub mod event;
pub mod hierarchies;
pub mod idp_clients;
pub mod modules;
pub mod passkeys;
pub mod permissions;
pub mod posture;
pub mod providers;
pub mod roles;
pub mod support;
pub mod two_factor;
pub mod users;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use rampart_api::ListUsersQuery;
use rampart_apps::pages::return_address;
use rampart_authz::policy::Operation;
use rampart_core::{Error, Provider};
use rampart_service::identity;
use rampart_service::providers::oidc::{sign_in_options, SignInOption};
use rampart_service::AppState;
use serde::Deserialize;

use crate::auth::RequestContext;
use crate::error::ApiError;
use crate::routes::page::{self, Tokens, Visitor};

pub use door::{
    admitted, check_form, posted, posted_admitted, require, signed_in, Door, Operator, Page, Sent,
};

/// Where the console lives.
pub const BASE: &str = "/console";

/// The console's stylesheet, served from the binary.
const STYLESHEET: &str = include_str!("../../static/console/console.css");

/// The console's routes (HTML, not part of the API's document).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { page::see_other("/console/") }))
        .route("/console/", get(home))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/login", get(login_page).post(login))
        .route("/console/login/code", post(two_factor::sign_in_code))
        .route("/console/logout", post(logout))
        .route("/console/account", get(account::show))
        .route("/console/account/password", post(account::change_password))
        .route("/console/account/two-factor", get(two_factor::show))
        .route("/console/account/two-factor/start", post(two_factor::start))
        .route(
            "/console/account/two-factor/confirm",
            post(two_factor::confirm),
        )
        .route(
            "/console/account/two-factor/recovery-codes",
            post(two_factor::new_codes),
        )
        .route(
            "/console/account/passkeys",
            get(passkeys::show).post(passkeys::register),
        )
        .route("/console/account/passkeys/remove", post(passkeys::remove))
        .route(
            "/console/account/step-up",
            get(two_factor::step_up_page).post(two_factor::step_up),
        )
        .route(
            "/console/account/sessions/{id}/end",
            post(account::end_session),
        )
        .route(
            "/console/account/logout-everywhere",
            get(account::confirm_logout_everywhere).post(account::logout_everywhere),
        )
        .route("/console/audit", get(audit::search))
        .route("/console/audit/export", get(audit::export))
        .route("/console/audit/checkpoint", post(event::sign_checkpoint))
        .route("/console/audit/{seq}", get(event::event))
        .route("/console/audit/{seq}/proof.json", get(event::bundle))
        .route("/console/permissions", get(permissions::matrix))
        .route(
            "/console/permissions/cell",
            get(permissions::cell).post(permissions::set_cell),
        )
        .route("/console/permissions/row", post(permissions::set_row))
        .route("/console/permissions/roles", get(roles::roles))
        .route("/console/permissions/roles/grant", post(roles::grant_role))
        .route(
            "/console/permissions/roles/revoke",
            get(roles::confirm_revoke).post(roles::revoke),
        )
        .merge(deployments::routes())
        .route(
            "/console/environments",
            get(environments::list).post(environments::set_order),
        )
        .route(
            "/console/environments/{env}/settings",
            post(environments::new_setting),
        )
        .route("/console/environments/plans/{id}", get(environments::plan))
        .route(
            "/console/environments/plans/{id}/run",
            post(environments::run),
        )
        .merge(hierarchies::routes())
        .route("/console/modules", get(modules::list))
        .route("/console/modules/{name}", get(modules::show))
        .route(
            "/console/modules/{name}/versions/{version}",
            get(modules::source),
        )
        .route("/console/modules/{name}/diff", get(modules::diff))
        .route("/console/users", get(users::search))
        .route(
            "/console/users/new",
            get(users::new_form).post(users::create),
        )
        .route("/console/users/{id}", get(users::show))
        .route(
            "/console/users/{id}/{action}",
            get(users::confirm).post(users::act),
        )
        .route("/console/posture", get(posture::show))
        .route("/console/alerts", get(alerts::show))
        .route("/console/alerts/retry", post(alerts::retry))
        .route("/console/providers", get(providers::list))
        .route(
            "/console/providers/{name}/enabled",
            post(providers::set_enabled),
        )
        .route("/console/idp-clients", get(idp_clients::list))
        .route(
            "/console/idp-clients/new",
            get(idp_clients::new_form).post(idp_clients::create),
        )
        .route(
            "/console/idp-clients/{id}/edit",
            get(idp_clients::edit_form).post(idp_clients::edit),
        )
        .route(
            "/console/idp-clients/{id}/{action}",
            get(idp_clients::confirm).post(idp_clients::act),
        )
        .route("/console/support", get(support::list))
        .route(
            "/console/support/new",
            get(support::new_form).post(support::open),
        )
        .route(
            "/console/support/links/{token}",
            get(support::link::show).post(support::link::follow),
        )
        .route("/console/support/cases/{id}", get(support::case::show))
        .route(
            "/console/support/cases/{id}/attachments",
            post(support::case::attach),
        )
        .route(
            "/console/support/cases/{id}/{action}",
            post(support::case::act),
        )
        .route(
            "/console/support/companies",
            get(support::companies::list).post(support::companies::create),
        )
        .route(
            "/console/support/companies/{company}",
            get(support::companies::show),
        )
        .route(
            "/console/support/companies/{company}/{list}",
            post(support::companies::add),
        )
        .route(
            "/console/support/companies/{company}/{list}/{user}/remove",
            get(support::companies::confirm_remove).post(support::companies::remove),
        )
        .route("/console/{*rest}", axum::routing::any(not_found))
}

/// A console address's parameters: like axum's `Path`, but an address it cannot read (a
/// segment that is not UTF-8 once decoded) answers the console's 404 page, not a problem.
pub struct Segments<T>(pub T);

impl<T> axum::extract::FromRequestParts<AppState> for Segments<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(Segments(t)),
            Err(_) => {
                let visitor = Visitor::from_request_parts(parts, state)
                    .await
                    .map_err(IntoResponse::into_response)?;
                let shell = Shell::new(&visitor, Section::None);
                Err(shell.finish(message(
                    &shell,
                    StatusCode::NOT_FOUND,
                    "Page not found",
                    "There is no console page at this address. Use the navigation to find \
                     your way.",
                )))
            }
        }
    }
}

/// The part of the console a page belongs to (the navigation marks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The overview.
    Home,
    /// Users.
    Users,
    /// The signed-in user's own account.
    Account,
    /// The audit log.
    Audit,
    /// IT permissions and application roles.
    Permissions,
    /// Hierarchies and ACL explanations.
    Hierarchies,
    /// Applications and modules.
    Modules,
    /// Environments and deployments.
    Deployments,
    /// Environments and their settings.
    Environments,
    /// The security posture report.
    Posture,
    /// The alert outbox: deliveries waiting and given up.
    Alerts,
    /// User providers and their health.
    Providers,
    /// The clients of Rampart's OpenID provider.
    IdpClients,
    /// The support desk: cases and companies.
    Support,
    /// Signing in, refusals, pages that belong nowhere.
    None,
}

impl Section {
    /// What a user must be allowed to open this section's pages: the support desk and
    /// one's own account are open to end users too (the contacts of the operator's
    /// customers); the rest of the console is for IT users.
    pub fn door(self) -> Operation {
        match self {
            Section::Support | Section::Account => Operation::OpenSupportDesk,
            _ => Operation::OpenConsole,
        }
    }

    /// The section's own page, where a form sent without a session comes back to after
    /// signing in.
    pub fn page(self) -> &'static str {
        match self {
            Section::Home | Section::None => "/console/",
            Section::Users => "/console/users",
            Section::Account => "/console/account",
            Section::Audit => "/console/audit",
            Section::Permissions => "/console/permissions",
            Section::Hierarchies => "/console/hierarchies",
            Section::Modules => "/console/modules",
            Section::Deployments => "/console/deployments",
            Section::Environments => "/console/environments",
            Section::Posture => "/console/posture",
            Section::Alerts => "/console/alerts",
            Section::Providers => "/console/providers",
            Section::IdpClients => "/console/idp-clients",
            Section::Support => "/console/support",
        }
    }
}

/// What every console page shows beside its content: the tokens of the response, who is
/// signed in, and which parts of the console they may open.
#[derive(Debug, Clone)]
pub struct Shell {
    /// This response's CSRF token and CSP nonce.
    pub tokens: Tokens,
    /// The signed-in user's name, once known to be allowed in.
    pub user: Option<String>,
    /// The section of this page.
    pub section: Section,
    /// Whether the user may open the whole console, not only the support desk and their
    /// account (the navigation shows the IT users' parts).
    pub it: bool,
    /// Whether the user may read users (the navigation shows Users).
    pub users: bool,
    /// Whether the user may read the audit log (the navigation shows Audit).
    pub audit: bool,
    /// Whether the user may read authorization data (the navigation shows Permissions).
    pub permissions: bool,
    /// Whether the user may read the alert outbox (the navigation shows Alerts).
    pub alerts: bool,
    /// The page runs the passkey script (with the nonce; it calls this site's API).
    pub script: bool,
    /// Where the page's forms may lead besides this site: on the sign-in pages of an
    /// authorization request of a client of IT users, the origin of its redirect URI
    /// (browsers apply `form-action` to the redirects after a form).
    pub form_to: Option<String>,
}

impl Shell {
    /// The shell of a page of `section` for `visitor` (nobody signed in yet).
    pub fn new(visitor: &Visitor, section: Section) -> Shell {
        Shell {
            tokens: Tokens::new(visitor),
            user: None,
            section,
            it: false,
            users: false,
            audit: false,
            permissions: false,
            alerts: false,
            script: false,
            form_to: None,
        }
    }

    /// This shell, its forms allowed to lead on to the redirect URI of the authorization
    /// request `return_to` when it is one of a client of IT users.
    pub async fn returning_to(mut self, state: &AppState, return_to: &str) -> Shell {
        if rampart_service::idp::authorize::is_return_address(return_to) {
            self.form_to =
                match rampart_service::idp::authorize::client_of_return(state, return_to).await {
                    Ok(Some(c)) if c.users == Provider::It => c.redirect_origin,
                    _ => None,
                };
        }
        self
    }

    /// Whether the page is in `section` (for the navigation's `aria-current`).
    pub fn is(&self, section: Section) -> bool {
        self.section == section
    }

    /// `response` with the console's headers: its CSP (the stylesheet from this site, styles
    /// otherwise only with the nonce, no script but the passkey pages' own with the nonce,
    /// which may call this site only, forms only to this site), no caching, and the CSRF
    /// cookie when it is new.
    pub fn finish(&self, response: Response) -> Response {
        let nonce = &self.tokens.nonce;
        let script = if self.script {
            format!("script-src 'nonce-{nonce}'; connect-src 'self'; ")
        } else {
            String::new()
        };
        let form_action = match &self.form_to {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".to_owned(),
        };
        let csp = format!(
            "default-src 'none'; {script}style-src 'self' 'nonce-{nonce}'; img-src 'self'; \
             form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        );
        self.tokens.finish(response, &csp)
    }
}

/// The fields of a sent form; a body that is no form is a form without fields (and so
/// without the CSRF token).
pub fn fields(form: Result<Form<Vec<(String, String)>>, FormRejection>) -> Vec<(String, String)> {
    form.map(|f| f.0).unwrap_or_default()
}

/// The value of field `name` (empty when absent).
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The path and query of `uri`, where a page comes back to after signing in.
pub fn here(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// The sign-in page, to come back to `here`.
pub fn to_sign_in(here: &str) -> Response {
    page::see_other(&format!("{BASE}/login?return={}", page::encode(here)))
}

/// The field an error is about, to show it next to that field.
pub fn field_of(error: &Error) -> Option<&str> {
    match error {
        Error::InvalidInput { field, .. } => Some(field.as_str()),
        Error::PasswordRejected { .. } => Some("password"),
        Error::InvalidCredentials => Some("current_password"),
        _ => None,
    }
}

/// The confirmation page of a destructive action: what it does, and a form that does it
/// (with a password field for a new password).
#[derive(Template)]
#[template(path = "console/confirm.html")]
pub struct ConfirmPage<'a> {
    /// The shell.
    pub shell: &'a Shell,
    /// The question.
    pub heading: &'a str,
    /// What happens.
    pub explanation: &'a str,
    /// Where the form goes.
    pub action: &'a str,
    /// The button's words.
    pub button: &'a str,
    /// Where "Cancel" goes.
    pub back: &'a str,
    /// The label of a new-password field, when the action sets one.
    pub password: Option<&'a str>,
    /// What was wrong with the password sent.
    pub problem: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    shell: &'a Shell,
    heading: &'a str,
    message: &'a str,
}

/// A console page saying `message`.
pub fn message(shell: &Shell, status: StatusCode, heading: &str, message: &str) -> Response {
    page::html(
        status,
        MessagePage {
            shell,
            heading,
            message,
        }
        .render(),
    )
}

/// The page of an error: sign in again for a session that is gone, otherwise the error's
/// status and its problem's `detail` (never more than the API would say).
pub fn error_page(shell: &Shell, error: Error, here: &str) -> Response {
    if matches!(error, Error::Unauthenticated(_)) {
        return to_sign_in(here);
    }
    // A sensitive action needs a fresh second factor: verify one, then come back.
    if matches!(error, Error::StepUpRequired(_)) {
        return page::see_other(&format!(
            "{BASE}/account/step-up?return={}",
            page::encode(here)
        ));
    }
    let problem = ApiError::from(error).0;
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    message(shell, status, &problem.title, &problem.detail)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn not_found(State(state): State<AppState>, visitor: Visitor, uri: Uri) -> Response {
    let mut shell = Shell::new(&visitor, Section::None);
    if visitor.signed_in().is_some() {
        // The navigation of a signed-in IT user; nothing else about them is needed.
        if let Err(refused) = signed_in(&state, &visitor, &mut shell, &here(&uri)).await {
            return shell.finish(refused);
        }
    }
    shell.finish(message(
        &shell,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no console page at this address. Use the navigation to find your way.",
    ))
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage<'a> {
    shell: &'a Shell,
    administrator: bool,
}

/// `GET /console/`: the overview.
async fn home(State(state): State<AppState>, visitor: Visitor, uri: Uri) -> Response {
    let mut shell = Shell::new(&visitor, Section::Home);
    let Some(auth) = visitor.signed_in() else {
        return shell.finish(to_sign_in(&here(&uri)));
    };
    // An end user's console is the support desk and their account.
    if !identity::may(&state, &auth.user, Operation::OpenConsole)
        .await
        .unwrap_or(false)
    {
        return shell.finish(page::see_other(&format!("{BASE}/support")));
    }
    let operator = match signed_in(&state, &visitor, &mut shell, &here(&uri)).await {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let administrator = identity::may(&state, &operator.auth.user, Operation::AdministerUsers)
        .await
        .unwrap_or(false);
    let html = HomePage {
        shell: &shell,
        administrator,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    shell: &'a Shell,
    return_to: &'a str,
    username: &'a str,
    notice: Option<&'a str>,
    problem: Option<&'a str>,
    /// Whether the password form is shown (no provider is required, or the break-glass
    /// page was asked for).
    local: bool,
    /// The identity providers offered.
    options: &'a [SignInOption],
    /// The break-glass page's address.
    local_link: &'a str,
    /// Who signs in here: IT users, or end users (to the support desk and their account).
    provider: Provider,
    /// The same page for the other kind of user.
    other_link: &'a str,
    /// Signing in with a passkey alone is offered (beside the password form), with the
    /// passkey script.
    discover: bool,
    script: &'static str,
}

/// What a sign-in page offers: its providers, whether its password form shows, the
/// break-glass address and the address of the page for the other kind of user.
struct Offer {
    local: bool,
    discover: bool,
    options: Vec<SignInOption>,
    local_link: String,
    other_link: String,
}

impl LoginPage<'_> {
    /// What the page offers `provider`'s users, for `return_to`.
    async fn offer(
        state: &AppState,
        provider: Provider,
        return_to: &str,
        asked_local: bool,
    ) -> Offer {
        let local = asked_local || state.config.sign_in.required(provider).is_none();
        let options = sign_in_options(state, provider, return_to)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sign-in page's providers were not read");
                Vec::new()
            });
        let back = page::encode(return_to);
        let other = match provider {
            Provider::It => "&as=end",
            Provider::End => "",
        };
        let this = match provider {
            Provider::It => "",
            Provider::End => "&as=end",
        };
        Offer {
            local,
            discover: local && identity::passkeys::available(state),
            options,
            local_link: format!("{BASE}/login?local=1{this}&return={back}"),
            other_link: format!("{BASE}/login?return={back}{other}"),
        }
    }
}

/// Who a sign-in page or form is for: `end` (the `as` query parameter, the `provider`
/// field) for end users, anything else for IT users.
fn signing_in(asked: Option<&str>) -> Provider {
    match asked {
        Some("end") => Provider::End,
        _ => Provider::It,
    }
}

/// The sign-in page's query.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default, rename = "return")]
    return_to: Option<String>,
    #[serde(default)]
    changed: Option<String>,
    /// The break-glass page: the password form even where a provider is required.
    #[serde(default)]
    local: Option<String>,
    /// `end`: the page for end users (the support desk and their account).
    #[serde(default, rename = "as")]
    as_user: Option<String>,
}

/// Where the sign-in page returns to: a page of the console, or an authorization request
/// of the OpenID provider (`/oauth2/authorize?…`) waiting for the user to sign in.
pub(crate) fn sign_in_return(asked: Option<&str>) -> String {
    match asked {
        Some(a) if rampart_service::idp::authorize::is_return_address(a) => a.to_owned(),
        _ => return_address(asked, BASE),
    }
}

/// `GET /console/login`: the sign-in page, for IT users or (`?as=end`) end users; a user
/// already signed in goes on.
async fn login_page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let shell = Shell::new(&visitor, Section::None);
    let query = query.map(|q| q.0).unwrap_or(LoginQuery {
        return_to: None,
        changed: None,
        local: None,
        as_user: None,
    });
    let provider = signing_in(query.as_user.as_deref());
    if let Some(refused) = refused_plain(&state, &visitor, &shell) {
        return shell.finish(refused);
    }
    let return_to = sign_in_return(query.return_to.as_deref());
    let shell = shell.returning_to(&state, &return_to).await;
    if let Some(auth) = visitor.signed_in() {
        // An IT user goes on; so does an end user on the end users' page (an end user on
        // the IT users' page may be about to sign in as an IT user).
        let goes_on = provider == Provider::End
            || identity::may(&state, &auth.user, Operation::OpenConsole)
                .await
                .unwrap_or(false);
        if goes_on {
            return shell.finish(page::see_other(&return_to));
        }
    }
    let notice = query.changed.is_some().then_some(
        "Your password has been changed and every session ended. Sign in with the new password.",
    );
    let offer = LoginPage::offer(&state, provider, &return_to, query.local.is_some()).await;
    let mut shell = shell;
    shell.script = offer.discover;
    let html = LoginPage {
        shell: &shell,
        return_to: &return_to,
        username: "",
        notice,
        problem: None,
        local: offer.local,
        options: &offer.options,
        local_link: &offer.local_link,
        provider,
        other_link: &offer.other_link,
        discover: offer.discover,
        script: two_factor::PASSKEY_SCRIPT,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/login`: signs a user in (an IT user, or an end user when the form's
/// `provider` is `end`) and goes where they were going, in the console.
async fn login(
    State(state): State<AppState>,
    context: RequestContext,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let fields = fields(form);
    let shell = Shell::new(&visitor, Section::None);
    if let Some(refused) = check_form(&state, &visitor, &shell, &headers, &fields) {
        return shell.finish(refused);
    }
    if let Some(refused) = refused_plain(&state, &visitor, &shell) {
        return shell.finish(refused);
    }
    let return_to = sign_in_return(Some(field(&fields, "return")));
    let shell = shell.returning_to(&state, &return_to).await;
    let username = field(&fields, "username");
    let provider = signing_in(Some(field(&fields, "provider")));
    let agent = crate::routes::auth::user_agent(&headers);
    let ceremony = field(&fields, "ceremony");
    let done = if ceremony.is_empty() {
        identity::login(
            &state,
            &context.origin(&state),
            provider.as_str(),
            username,
            field(&fields, "password"),
            agent,
        )
        .await
    } else {
        // A passkey alone; an answer that is not JSON is refused as malformed.
        let answer = serde_json::from_str(field(&fields, "passkey")).unwrap_or_default();
        identity::passkey_sign_in::sign_in(
            &state,
            &context.origin(&state),
            provider.as_str(),
            ceremony,
            &answer,
            agent,
        )
        .await
        .map(|done| identity::LoginStep::Session(Box::new(done)))
    };
    match done {
        Ok(identity::LoginStep::Session(done)) => shell.finish(page::with_session(
            &return_to,
            done.token.secret(),
            done.lifetime.whole_seconds(),
            context.https,
        )),
        Ok(identity::LoginStep::SecondFactor(pending)) => {
            let mut shell = shell.clone();
            shell.script = true;
            let page = two_factor::second_step(&state, &context, &shell, &pending, &return_to);
            shell.finish(page.await)
        }
        Err(e) => {
            let problem = ApiError::from(e).0;
            let offer = LoginPage::offer(&state, provider, &return_to, true).await;
            let mut shell = shell;
            shell.script = offer.discover;
            let html = LoginPage {
                shell: &shell,
                return_to: &return_to,
                username,
                notice: None,
                problem: Some(&problem.detail),
                local: true,
                options: &offer.options,
                local_link: &offer.local_link,
                provider,
                other_link: &offer.other_link,
                discover: offer.discover,
                script: two_factor::PASSKEY_SCRIPT,
            }
            .render();
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut response = page::html(status, html);
            if let Some(retry) = problem.retry_after {
                if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            shell.finish(response)
        }
    }
}

/// `POST /console/logout`: ends this session.
async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let fields = fields(form);
    let shell = Shell::new(&visitor, Section::None);
    if let Some(refused) = check_form(&state, &visitor, &shell, &headers, &fields) {
        return shell.finish(refused);
    }
    if let Some(auth) = visitor.signed_in() {
        if let Err(e) = identity::logout(&state, &auth.caller(&state), &auth.session, false).await {
            return shell.finish(error_page(&shell, e, BASE));
        }
    }
    shell.finish(signed_out(&format!("{BASE}/login"), visitor.https()))
}

/// A redirect to `to` that clears the session cookie (of this connection's kind).
pub fn signed_out(to: &str, https: bool) -> Response {
    page::with_session(to, "", 0, https)
}

/// The refusal of signing in over plain HTTP where HTTPS is enforced.
fn refused_plain(state: &AppState, visitor: &Visitor, shell: &Shell) -> Option<Response> {
    (!visitor.https() && state.config.enforce_https).then(|| {
        message(
            shell,
            StatusCode::FORBIDDEN,
            "HTTPS required",
            "Sign in to the console over HTTPS.",
        )
    })
}

/// The id of the user named `name` (an exact username; end users first, as roles and
/// records are theirs), or an invalid-input refusal naming `field`.
pub async fn user_named(state: &AppState, name: &str, field: &str) -> Result<String, Error> {
    for provider in ["end", "it"] {
        let found = identity::users::list(
            state,
            ListUsersQuery {
                provider: Some(provider.into()),
                prefix: Some(name.to_owned()),
                cursor: None,
                limit: Some(10),
            },
        )
        .await?;
        if let Some(u) = found.items.into_iter().find(|u| u.username == name) {
            return Ok(u.id);
        }
    }
    Err(Error::invalid(field, format!("no user named `{name}`")))
}
