//! The sign-in page a browser sees outside the console: every application's
//! (`/apps/{environment}/{application}/login`, end users) and the OpenID provider's own
//! (`/oauth2/login`, the users of the client that asked). One page, one flow: the password
//! (or the identity providers offered), then the second factor when the user has one or
//! the policy requires one (a two-factor app's code, a recovery code or a passkey; a user
//! without an app sets one up here and sees its recovery codes once). The rules are the
//! service's (`identity::login`, `identity::mfa`); this room only renders.

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use rampart_core::{Error, Provider};
use rampart_service::idp::authorize::client_of_return;
use rampart_service::providers::oidc::SignInOption;
use rampart_service::AppState;
use rampart_service::{identity, providers};
use serde::Deserialize;

use super::page::{self, Chrome, Visitor};
use crate::auth::RequestContext;
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "apps/login.html")]
struct LoginPage<'a> {
    chrome: &'a Chrome,
    /// The line under the title: what signing in here gives.
    intro: &'a str,
    return_to: &'a str,
    problem: Option<&'a str>,
    /// A sign-in waiting for the code of the user's two-factor app (its pending token).
    pending: Option<&'a str>,
    /// Whether the password form is shown (no identity provider is required of these
    /// users).
    local: bool,
    /// The identity providers offered.
    options: &'a [SignInOption],
    /// The second step offers the user's passkeys, with the console's passkey script.
    passkey: bool,
    /// The first step offers signing in with a passkey alone (beside the password form).
    discover: bool,
    script: &'static str,
    /// The two-factor app to set up first, when the policy requires one of this user and
    /// they have none yet.
    enrolment: Option<&'a identity::mfa::Enrolment>,
}

/// The recovery codes of a two-factor app just set up at sign-in, shown once.
#[derive(Template)]
#[template(path = "apps/recovery_codes.html")]
struct CodesPage<'a> {
    chrome: &'a Chrome,
    codes: Vec<String>,
    return_to: &'a str,
}

/// The fields of the sign-in form.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "return")]
    return_to: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
    /// The second step: the pending sign-in, and the app's code or a recovery code.
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    /// A passkey's answer (JSON) to the pending sign-in's challenge, or to the discovery
    /// named by `ceremony` (a sign-in by a passkey alone).
    #[serde(default)]
    passkey: String,
    #[serde(default)]
    ceremony: String,
}

impl LoginForm {
    /// The form's CSRF field, as `page::from_this_site` reads it.
    pub fn csrf_fields(&self) -> Vec<(String, String)> {
        vec![("_csrf".to_owned(), self.csrf.clone())]
    }

    /// The return address the form carried (to be checked by the page's own rule).
    pub fn return_to(&self) -> &str {
        &self.return_to
    }
}

/// The sign-in form's query.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go once signed in (checked by the page's own rule).
    #[serde(default, rename = "return")]
    pub return_to: Option<String>,
}

/// One sign-in page: its chrome, who signs in on it and where they go once signed in.
pub struct Desk<'a> {
    /// The page's chrome (its form posts to `{base}/login`).
    pub chrome: &'a Chrome,
    /// The line under the title.
    pub intro: String,
    /// Who signs in here.
    pub users: Provider,
    /// The checked return address.
    pub return_to: &'a str,
}

impl Desk<'_> {
    /// The identity providers offered to these users, coming back to the return address.
    async fn options(&self, state: &AppState) -> Vec<SignInOption> {
        providers::oidc::sign_in_options(state, self.users, self.return_to)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sign-in page's providers were not read");
                Vec::new()
            })
    }

    /// Whether the password form is shown: no identity provider is required of these users.
    fn local(&self, state: &AppState) -> bool {
        state.config.sign_in.required(self.users).is_none()
    }

    fn render(&self, state: &AppState, step: Step<'_>) -> Result<String, askama::Error> {
        LoginPage {
            chrome: self.chrome,
            intro: &self.intro,
            return_to: self.return_to,
            problem: step.problem,
            pending: step.pending,
            local: step.local,
            options: step.options,
            passkey: step.passkey,
            discover: step.discovers(state),
            script: crate::console::two_factor::PASSKEY_SCRIPT,
            enrolment: step.enrolment,
        }
        .render()
    }

    /// The first page: the password form and the providers offered.
    pub async fn first_page(&self, state: &AppState) -> Response {
        let options = self.options(state).await;
        let step = Step {
            local: self.local(state),
            options: &options,
            ..Step::default()
        };
        let scripted = step.discovers(state);
        let response = page::html(StatusCode::OK, self.render(state, step));
        if scripted {
            self.chrome.finish_scripted(response)
        } else {
            self.chrome.finish(response)
        }
    }

    /// The answer to a posted form (its CSRF token already checked): the session and the
    /// way on, the second step, or the page again with the refusal.
    pub async fn answer(
        &self,
        state: &AppState,
        context: &RequestContext,
        headers: &HeaderMap,
        form: &LoginForm,
    ) -> Response {
        let origin = context.origin(state);
        let agent = super::auth::user_agent(headers);
        // Not JSON: `null`, refused as malformed and counted like any wrong answer.
        let answer: serde_json::Value =
            serde_json::from_str(&form.passkey).unwrap_or(serde_json::Value::Null);
        let mut recovery = None;
        let done = if !form.ceremony.is_empty() {
            identity::passkey_sign_in::sign_in(
                state,
                &origin,
                self.users.as_str(),
                &form.ceremony,
                &answer,
                agent,
            )
            .await
            .map(|done| identity::LoginStep::Session(Box::new(done)))
        } else if form.pending.is_empty() {
            identity::login(
                state,
                &origin,
                self.users.as_str(),
                &form.username,
                &form.password,
                agent,
            )
            .await
        } else {
            let factor = if !form.passkey.is_empty() {
                identity::mfa::Factor::Passkey(&answer)
            } else if form.recovery_code.is_empty() {
                identity::mfa::Factor::Code(&form.code)
            } else {
                identity::mfa::Factor::RecoveryCode(&form.recovery_code)
            };
            identity::mfa::finish_login(state, &origin, &form.pending, factor, agent)
                .await
                .map(|done| {
                    recovery = done.recovery_codes;
                    identity::LoginStep::Session(Box::new(done.logged_in))
                })
        };
        let done = match done {
            Ok(identity::LoginStep::Session(done)) => done,
            Ok(identity::LoginStep::SecondFactor(pending)) => {
                return self.second_step(state, &origin, &pending).await;
            }
            Err(e) => return self.refused(state, form, e).await,
        };
        let https = context.https;
        let lifetime = done.lifetime.whole_seconds();
        match recovery {
            // A two-factor app was set up by this sign-in: its recovery codes, once, with
            // the session already open.
            Some(codes) => {
                let html = CodesPage {
                    chrome: self.chrome,
                    codes: codes.shown.iter().map(|c| c.to_string()).collect(),
                    return_to: self.return_to,
                }
                .render();
                let mut response = page::html(StatusCode::OK, html);
                if let Some(cookie) =
                    crate::auth::session_cookie(done.token.secret(), lifetime, https)
                {
                    response.headers_mut().insert(header::SET_COOKIE, cookie);
                }
                self.chrome.finish(response)
            }
            None => self.chrome.finish(page::with_session(
                self.return_to,
                done.token.secret(),
                lifetime,
                https,
            )),
        }
    }

    /// The second step: the code (or a passkey), or first the two-factor app to set up.
    async fn second_step(
        &self,
        state: &AppState,
        origin: &rampart_service::caller::Origin,
        pending: &identity::mfa::Pending,
    ) -> Response {
        let enrolment = if pending.enrol {
            match identity::mfa::enrol_pending(state, origin, pending.token.secret()).await {
                Ok(e) => Some(e),
                Err(e) => {
                    return self
                        .chrome
                        .finish(page::error_page(self.chrome, e, self.return_to))
                }
            }
        } else {
            None
        };
        let html = self.render(
            state,
            Step {
                pending: Some(pending.token.secret()),
                local: true,
                passkey: pending.methods.contains(&"passkey")
                    && identity::passkeys::available(state),
                enrolment: enrolment.as_ref(),
                ..Step::default()
            },
        );
        self.chrome
            .finish_scripted(page::html(StatusCode::OK, html))
    }

    /// The page again with the refusal; a wrong code keeps the pending sign-in, so the
    /// page asks for the code again.
    async fn refused(&self, state: &AppState, form: &LoginForm, e: Error) -> Response {
        let retry = matches!(
            &e,
            Error::InvalidSecondFactor(_) | Error::LoginThrottled { .. }
        ) && !form.pending.is_empty();
        let problem = ApiError::from(e).0;
        let options = self.options(state).await;
        let passkey = retry
            && identity::mfa::pending_methods(state, &form.pending)
                .await
                .is_ok_and(|m| m.contains(&"passkey"));
        let html = self.render(
            state,
            Step {
                problem: Some(&problem.detail),
                pending: retry.then_some(form.pending.as_str()),
                local: self.local(state),
                options: &options,
                passkey,
                enrolment: None,
            },
        );
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
        let mut response = page::html(status, html);
        if let Some(retry) = problem.retry_after {
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        self.chrome.finish_scripted(response)
    }
}

/// The refusal of a sign-in page asked for over plain HTTP where HTTPS is enforced (a
/// password is never typed into a page that came in clear).
pub fn plain_refused(state: &AppState, visitor: &Visitor, chrome: &Chrome) -> Option<Response> {
    (!visitor.https() && state.config.enforce_https).then(|| {
        chrome.finish(page::message(
            chrome,
            StatusCode::FORBIDDEN,
            "HTTPS required",
            "sign in over HTTPS",
        ))
    })
}

/// The second step of a sign-in an identity provider began (the OpenID Connect callback,
/// the SAML assertion consumer), on the sign-in page of where the browser is going: the
/// console's for a console address or an authorization request of a client of IT users,
/// the provider's own for a client of end users, the application's for a page of it. Its
/// form completes the pending sign-in there and goes on to `return_to`.
pub async fn after_provider(
    state: &AppState,
    context: &RequestContext,
    visitor: &Visitor,
    pending: &identity::mfa::Pending,
    return_to: &str,
) -> Response {
    let origin = context.origin(state);
    if let Some((environment, application)) = providers::oidc::app_of(return_to) {
        let chrome = Chrome::new(state, visitor, environment, application);
        let desk = Desk {
            chrome: &chrome,
            intro: application_intro(&chrome),
            users: Provider::End,
            return_to,
        };
        return desk.second_step(state, &origin, pending).await;
    }
    if !return_to.starts_with("/console") {
        match client_of_return(state, return_to).await {
            Ok(Some(client)) if client.users == Provider::End => {
                let chrome = Chrome::provider(visitor).sending_to(client.redirect_origin);
                let desk = Desk {
                    chrome: &chrome,
                    intro: provider_intro(&client.name),
                    users: Provider::End,
                    return_to,
                };
                return desk.second_step(state, &origin, pending).await;
            }
            Ok(Some(_)) => {}
            // The client was removed while its user was at the identity provider.
            Ok(None) => {
                let chrome = Chrome::provider(visitor);
                return chrome.finish(page::message(
                    &chrome,
                    StatusCode::BAD_REQUEST,
                    "This sign-in request is not valid",
                    "The application is no longer registered with this provider. Start again from the application.",
                ));
            }
            Err(e) => {
                let chrome = Chrome::provider(visitor);
                return chrome.finish(page::error_page(&chrome, e, "/"));
            }
        }
    }
    let mut shell = crate::console::Shell::new(visitor, crate::console::Section::None)
        .returning_to(state, return_to)
        .await;
    shell.script = true;
    let page =
        crate::console::two_factor::second_step(state, context, &shell, pending, return_to).await;
    shell.finish(page)
}

/// The line under the title of an application's sign-in page.
pub fn application_intro(chrome: &Chrome) -> String {
    format!(
        "Signing in here signs you in to every application of {}.",
        chrome.environment
    )
}

/// The line under the title of the OpenID provider's sign-in page for client `name`.
pub fn provider_intro(name: &str) -> String {
    format!("Sign in to continue to {name}.")
}

/// What differs between the page's renderings.
#[derive(Default)]
struct Step<'a> {
    problem: Option<&'a str>,
    pending: Option<&'a str>,
    local: bool,
    options: &'a [SignInOption],
    passkey: bool,
    enrolment: Option<&'a identity::mfa::Enrolment>,
}

impl Step<'_> {
    /// Whether this rendering offers signing in with a passkey alone: the first step, with
    /// the password form, on a server that can use passkeys.
    fn discovers(&self, state: &AppState) -> bool {
        self.pending.is_none() && self.local && identity::passkeys::available(state)
    }
}
