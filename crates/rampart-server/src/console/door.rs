//! Letting a reader in: who is signed in, whether the page's section and operation admit
//! them, and whether a form came from this site.
//!
//! A page names what it needs in its signature: a [`Page`] extractor with a [`Door`] (the
//! section, and the operation beyond opening it, with the API's refusal for it). No handler
//! starts before the check, and none writes it again. A form names it too ([`Sent`]), whose
//! CSRF token is checked first; the few forms that must come back to their own page after
//! signing in (a mailed link's, a case's attachments) call [`posted`] themselves.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use rampart_authz::policy::{self, Operation, Verdict};
use rampart_core::Error;
use rampart_service::identity;
use rampart_service::AppState;

use super::{error_page, fields, here, message, to_sign_in, Section, Shell};
use crate::auth::Authenticated;
use crate::routes::page::{self, Visitor};
use crate::rules::Rule;

/// What opening a console page requires.
pub trait Door {
    /// The section the page belongs to: its mark in the navigation, and who may open it at
    /// all ([`Section::door`]).
    const SECTION: Section;
    /// The operation the reader must also be allowed, with the refusal's words (the API's
    /// 403 for it); `None` for pages whose service call decides with the object.
    const NEEDS: Option<Rule>;
}

/// A console page opened by a reader its [`Door`] `D` lets in: the shell filled in for
/// them, the address to come back to after signing in, and the operator. Otherwise the
/// answer, finished: the sign-in page, or the refusal.
pub struct Page<D> {
    /// Who is visiting.
    pub visitor: Visitor,
    /// The page's path and query.
    pub here: String,
    /// The shell, its navigation filled in for the operator.
    pub shell: Shell,
    /// The signed-in user.
    pub operator: Operator,
    door: PhantomData<fn() -> D>,
}

impl<D: Door> FromRequestParts<AppState> for Page<D> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let here = here(&parts.uri);
        let mut shell = Shell::new(&visitor, D::SECTION);
        let operator = match D::NEEDS {
            Some((op, refusal)) => admitted(state, &visitor, &mut shell, &here, op, refusal).await,
            None => signed_in(state, &visitor, &mut shell, &here).await,
        };
        match operator {
            Ok(operator) => Ok(Page {
                visitor,
                here,
                shell,
                operator,
                door: PhantomData,
            }),
            Err(r) => Err(shell.finish(r)),
        }
    }
}

/// A form sent to a console page by a reader its [`Door`] `D` lets in, from this site (its
/// CSRF token and origin checked): the shell, the operator and the form's fields. Otherwise
/// the answer, finished; a form sent without a session leads to the sign-in page and back
/// to its section's page ([`Section::page`]).
pub struct Sent<D> {
    /// Who is visiting.
    pub visitor: Visitor,
    /// The shell, its navigation filled in for the operator.
    pub shell: Shell,
    /// The signed-in user.
    pub operator: Operator,
    /// The form's fields (none for a body that is no form).
    pub fields: Vec<(String, String)>,
    door: PhantomData<fn() -> D>,
}

impl<D: Door> FromRequest<AppState> for Sent<D> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let form = Form::from_request(Request::from_parts(parts, body), state).await;
        let fields = fields(form);
        let mut shell = Shell::new(&visitor, D::SECTION);
        let sent = (&headers, fields.as_slice());
        let back = D::SECTION.page();
        let operator = match D::NEEDS {
            Some(needs) => posted_admitted(state, &visitor, &mut shell, sent, back, needs).await,
            None => posted(state, &visitor, &mut shell, sent, back).await,
        };
        match operator {
            Ok(operator) => Ok(Sent {
                visitor,
                shell,
                operator,
                fields,
                door: PhantomData,
            }),
            Err(r) => Err(shell.finish(r)),
        }
    }
}

/// The signed-in IT user a console page acts for.
pub struct Operator {
    /// The session and user.
    pub auth: Authenticated,
}

/// The user signed in to the console, with `shell` filled in for them; otherwise the
/// answer: the sign-in page (coming back to `here`) for a visitor without a session, a
/// refusal for an end user on a page of the IT users' ([`Section::door`]).
pub async fn signed_in(
    state: &AppState,
    visitor: &Visitor,
    shell: &mut Shell,
    here: &str,
) -> Result<Operator, Response> {
    let Some(auth) = visitor.signed_in() else {
        return Err(to_sign_in(here));
    };
    let door = shell.section.door();
    match identity::may(state, &auth.user, door).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(message(
                shell,
                StatusCode::FORBIDDEN,
                "Not for end users",
                "This part of the console is for IT users. As a user of the applications \
                 you may use the support desk (/console/support) and your account \
                 (/console/account).",
            ))
        }
        Err(e) => return Err(error_page(shell, e, here)),
    }
    // The navigation: every part the user may open, decided from one read of their roles.
    let who = identity::principal(state, &auth.user).await.ok();
    let allows = |op| who.is_some_and(|w| policy::decide(w, op) == Verdict::Allow);
    shell.it = allows(Operation::OpenConsole);
    shell.user = Some(
        auth.user
            .display_name
            .clone()
            .unwrap_or_else(|| auth.user.username.clone()),
    );
    shell.users = allows(Operation::ReadUsers);
    shell.audit = allows(Operation::ReadAuditLog);
    shell.permissions = allows(Operation::ReadAuthorizationData);
    shell.alerts = allows(Operation::ReadAlertDeliveries);
    Ok(Operator { auth: auth.clone() })
}

/// Whether `operator` may do `op`; otherwise the refusal page (the API's 403, in words).
pub async fn require(
    state: &AppState,
    shell: &Shell,
    operator: &Operator,
    op: Operation,
    refusal: &str,
    here: &str,
) -> Result<(), Response> {
    match identity::may(state, &operator.auth.user, op).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(error_page(shell, Error::Forbidden(refusal.into()), here)),
        Err(e) => Err(error_page(shell, e, here)),
    }
}

/// [`signed_in`], then [`require`]: the operator, if they may do `op` (otherwise the page
/// to answer with).
pub async fn admitted(
    state: &AppState,
    visitor: &Visitor,
    shell: &mut Shell,
    here: &str,
    op: Operation,
    refusal: &str,
) -> Result<Operator, Response> {
    let operator = signed_in(state, visitor, shell, here).await?;
    require(state, shell, &operator, op, refusal, here).await?;
    Ok(operator)
}

/// A form sent by a signed-in operator from this site: [`check_form`], then [`signed_in`].
pub async fn posted(
    state: &AppState,
    visitor: &Visitor,
    shell: &mut Shell,
    (headers, fields): (&HeaderMap, &[(String, String)]),
    here: &str,
) -> Result<Operator, Response> {
    if let Some(refused) = check_form(state, visitor, shell, headers, fields) {
        return Err(refused);
    }
    signed_in(state, visitor, shell, here).await
}

/// [`posted`], then [`require`]: the operator of a form from this site, if they may do
/// `op` (otherwise the page to answer with).
pub async fn posted_admitted(
    state: &AppState,
    visitor: &Visitor,
    shell: &mut Shell,
    form: (&HeaderMap, &[(String, String)]),
    here: &str,
    (op, refusal): (Operation, &str),
) -> Result<Operator, Response> {
    let operator = posted(state, visitor, shell, form, here).await?;
    require(state, shell, &operator, op, refusal, here).await?;
    Ok(operator)
}

/// The refusal page of a form that does not come from this site; `None` when it does.
pub fn check_form(
    state: &AppState,
    visitor: &Visitor,
    shell: &Shell,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Option<Response> {
    if page::from_this_site(state, visitor, headers, fields) {
        None
    } else {
        Some(message(
            shell,
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form did not come from this site (its security token is missing or out \
             of date). Open the page again and send it from there.",
        ))
    }
}

/// The console's doors: each page's section, and what its reader must be allowed beyond
/// opening the section ([`crate::rules`], the API's rule and refusal for the same data).
pub mod doors {
    use super::{Door, Section};
    use crate::rules::{self, Rule};

    /// Declares door types: `name: section, rule;`.
    macro_rules! doors {
        ($($(#[$doc:meta])* $name:ident: $section:ident, $needs:expr;)*) => {$(
            $(#[$doc])*
            pub struct $name;
            impl Door for $name {
                const SECTION: Section = Section::$section;
                const NEEDS: Option<Rule> = $needs;
            }
        )*};
    }

    doors! {
        /// One's own account: every signed-in user.
        AccountOpen: Account, None;
        /// The support desk: every signed-in user (the service decides per case).
        SupportOpen: Support, None;
        /// Modules: IT users (the lifecycle decides per module).
        ModulesOpen: Modules, None;
        /// Deployments: IT users (the lifecycle decides per environment).
        DeploymentsOpen: Deployments, None;
        /// Environments: IT users (a change needs an administrator; the write decides).
        EnvironmentsOpen: Environments, None;
        /// Permission changes: IT users (the write decides with the object).
        PermissionsOpen: Permissions, None;
        /// Reading users.
        UsersRead: Users, Some(rules::READ_USERS);
        /// Managing users.
        UsersAdmin: Users, Some(rules::MANAGE_USERS);
        /// Reading user providers.
        ProvidersRead: Providers, Some(rules::READ_PROVIDERS);
        /// Changing user providers.
        ProvidersAdmin: Providers, Some(rules::CHANGE_PROVIDERS);
        /// Reading the OpenID provider's clients.
        IdpClientsRead: IdpClients, Some(rules::READ_PROVIDERS);
        /// Registering and changing the OpenID provider's clients.
        IdpClientsAdmin: IdpClients, Some(rules::CHANGE_PROVIDERS);
        /// Reading the alert outbox.
        AlertsRead: Alerts, Some(rules::READ_ALERTS);
        /// Asking for an alert's delivery again.
        AlertsRetry: Alerts, Some(rules::RETRY_ALERTS);
        /// Reading the audit log.
        AuditRead: Audit, Some(rules::READ_AUDIT_LOG);
        /// Reading the security posture.
        PostureRead: Posture, Some(rules::READ_POSTURE);
        /// Reading authorization data: the matrix and roles.
        PermissionsRead: Permissions, Some(rules::READ_AUTHORIZATION);
        /// Granting and revoking application roles.
        PermissionsAdmin: Permissions, Some(rules::MANAGE_USERS);
        /// Reading hierarchies and explanations.
        HierarchiesRead: Hierarchies, Some(rules::READ_AUTHORIZATION);
        /// Moving subtrees.
        HierarchiesAdmin: Hierarchies, Some(rules::MANAGE_USERS);
        /// Rebuilding the hierarchy index.
        HierarchyRebuild: Hierarchies, Some(rules::REBUILD_HIERARCHIES);
    }
}
