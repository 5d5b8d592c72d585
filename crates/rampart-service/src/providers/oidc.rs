//! Signing in through an OpenID Connect provider: the browser is sent to the provider and
//! comes back with a code.
//!
//! - **Start** checks the provider (an enabled `oidc` provider for this kind of user) and
//!   the return address (a path in the console for IT users, in an application for end
//!   users: `rampart_apps::pages::return_address`, as the applications' sign-in page), asks
//!   the client for the authorization request (PKCE S256, `state`, `nonce`), and keeps a
//!   **login transaction** in the store under the SHA-256 of a random 256-bit secret that
//!   only the browser holds (a cookie), for [`LOGIN_MINUTES`].
//! - **Callback** takes (deletes) the transaction the browser's cookie names, so it is used
//!   once whatever happens next; then checks, in order: it exists and has not expired, it
//!   is this provider's, the `state` is the one sent, the provider sent no error, the `iss`
//!   (RFC 9207), when present, is the issuer; then the client exchanges the code with the
//!   PKCE verifier and the exact redirect URI sent, and verifies the ID token (signature,
//!   issuer, audience, expiry, `iat`, nonce). A `state` from the query alone is worth
//!   nothing: without the browser's secret there is no transaction to compare it with.
//! - **Who**: a profile is keyed on the provider's `sub`: a subject's first sign-in makes the
//!   just-in-time profile under the username claim (the shared step of
//!   [`super::login::profile`], which refuses a name a local account or another provider
//!   holds) and links it; later sign-ins find it by `sub`, so a username claim that changes
//!   hands never opens another person's profile. With `link_by_verified_email`, a first
//!   sign-in whose *verified* e-mail is exactly one local user's of the same kind links that
//!   account instead (a `user.link` event).
//! - Roles from the groups claim ([`super::login::admitted`]) and the session
//!   ([`crate::identity::mfa::after_first_factor`]) are the other logins' own steps. Every
//!   success is the usual `auth.login` event; every refusal an `auth.login` failure naming
//!   the user provider and the reason, and nothing else is written.

use rampart_api::OidcCallbackQuery;
use rampart_apps::pages::return_address;
use rampart_core::{AuditEvent, Error, Outcome, Provider, User};
use rampart_federation::oidc::{OidcClient, OidcError, Pending, SignInProvider as _};
use rampart_federation::settings::callback_path;
use rampart_federation::{OidcSettings, ProviderSettings, Users};
use rampart_identity::{hash_token, SessionToken};
use rampart_store::{NewProviderLogin, ProviderRecord};

use super::login::{admitted, profile};
use crate::caller::Origin;
use crate::config::SecretRef;
use crate::identity::LoginStep;
use crate::state::AppState;

/// How long a browser has between start and callback.
pub const LOGIN_MINUTES: i64 = 10;

/// A started sign-in: where to send the browser, and the secret its cookie keeps.
pub struct Started {
    /// The provider's authorization URL.
    pub location: String,
    /// The login transaction's secret, for the browser's cookie only.
    pub secret: String,
    /// The cookie's lifetime in seconds.
    pub max_age: i64,
}

/// A finished sign-in through the provider: the session, or the second step still to take
/// (the user has a second factor, or must set one up), and where the browser goes.
pub struct Finished {
    /// The new session, or the pending sign-in waiting for its second factor.
    pub step: LoginStep,
    /// The checked return address.
    pub return_to: String,
}

/// A provider offered on a sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInOption {
    /// The provider's name.
    pub name: String,
    /// The address that starts the sign-in and comes back to the page's return address.
    pub start: String,
}

/// The enabled identity providers (OpenID Connect and SAML) that serve `provider`'s users,
/// with the address starting a sign-in through each that comes back to `return_to`.
pub async fn sign_in_options(
    state: &AppState,
    provider: Provider,
    return_to: &str,
) -> Result<Vec<SignInOption>, Error> {
    let back: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    Ok(state
        .store
        .providers()
        .await?
        .into_iter()
        .filter(|r| (r.kind == "oidc" || r.kind == "saml") && r.enabled)
        .filter(|r| super::required::provider_allowed(state, provider, &r.name))
        .filter(|r| Users::parse(&r.users).is_ok_and(|u| u.serves(provider == Provider::It)))
        .map(|r| SignInOption {
            start: if r.kind == "saml" {
                format!(
                    "/api/v1/providers/{}/saml/login?user={provider}&return={back}",
                    r.name
                )
            } else {
                format!(
                    "/api/v1/providers/{}/oidc/start?kind={provider}&return={back}",
                    r.name
                )
            },
            name: r.name,
        })
        .collect())
}

/// Starts a sign-in through the provider `name` for `kind` users (`it` or `end`; may be
/// left out when the provider serves one kind), coming back to `return_to`.
pub async fn start(
    state: &AppState,
    origin: &Origin,
    name: &str,
    kind: Option<&str>,
    return_to: Option<&str>,
) -> Result<Started, Error> {
    let record = state.store.provider(name).await?.ok_or(Error::NotFound {
        what: "user provider",
    })?;
    let settings = match ProviderSettings::from_parts(&record.kind, record.settings.clone()) {
        Ok(ProviderSettings::Oidc(s)) => s,
        _ => {
            return Err(Error::invalid(
                "name",
                format!("{name} is not an OpenID Connect provider"),
            ))
        }
    };
    let audience = Users::parse(&record.users).map_err(Error::Internal)?;
    let provider = match (kind, audience) {
        (Some(k), _) => Provider::parse(k).map_err(|_| {
            Error::invalid(
                "kind",
                format!("{k:?} is not a kind of user; use it or end"),
            )
        })?,
        (None, Users::It) => Provider::It,
        (None, Users::End) => Provider::End,
        (None, Users::Both) => {
            return Err(Error::invalid(
                "kind",
                format!("{name} serves IT and end users: say which (kind=it or kind=end)"),
            ))
        }
    };
    if !audience.serves(provider == Provider::It) {
        return Err(Error::invalid(
            "kind",
            format!("the user provider {name} does not vouch for {provider} users"),
        ));
    }
    let return_to = checked_return(provider, return_to)?;
    super::required::check_provider(state, provider, name)?;
    if !record.enabled {
        refuse(state, origin, provider, name, "provider-disabled", None).await?;
        return Err(Error::Forbidden(format!(
            "sign-in through {name} is disabled"
        )));
    }
    let redirect_uri = redirect_uri(state, name, &settings);
    let now = state.clock.now();
    let begun = match client(state, &record) {
        Ok(c) => c.begin(&redirect_uri, now.unix_timestamp()).await,
        Err(e) => Err(e),
    };
    noted(state, name, begun.as_ref().err()).await?;
    let begun = match begun {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "a sign-in through an identity provider could not start");
            refuse(state, origin, provider, name, e.reason(), None).await?;
            return Err(sign_in_error(name, &e));
        }
    };
    let token = SessionToken::generate()?;
    state
        .store
        .begin_provider_login(
            &NewProviderLogin {
                id_hash: token.hash().0,
                user_provider: record.name.clone(),
                provider,
                state: begun.state,
                nonce: begun.nonce,
                verifier: begun.verifier,
                redirect_uri,
                return_to,
                expires_at: now + time::Duration::minutes(LOGIN_MINUTES),
            },
            now,
        )
        .await?;
    Ok(Started {
        location: begun.url,
        secret: token.secret().to_owned(),
        max_age: LOGIN_MINUTES * 60,
    })
}

/// Finishes a sign-in through the provider `name`: `secret` is the browser's cookie,
/// `answer` what the provider sent back.
pub async fn finish(
    state: &AppState,
    origin: &Origin,
    name: &str,
    secret: Option<&str>,
    answer: &OidcCallbackQuery,
    user_agent: Option<String>,
) -> Result<Finished, Error> {
    let now = state.clock.now();
    let taken = match secret.and_then(hash_token) {
        Some(hash) => state.store.take_provider_login(&hash.0, now).await?,
        None => None,
    };
    let Some(login) = taken else {
        // No kind of user is known yet: the event says `unknown`.
        refuse_anonymous(state, origin, name, "no-login-in-progress").await?;
        return Err(Error::Forbidden(format!(
            "no sign-in through {name} is under way in this browser (it expired, was already \
             used, or was started elsewhere): start again from the sign-in page"
        )));
    };
    let kind = login.provider;
    let refused = |reason: &'static str, why: String| async move {
        refuse(state, origin, kind, name, reason, None).await?;
        Err::<Finished, Error>(Error::Forbidden(format!(
            "sign-in through {name} refused: {why}"
        )))
    };
    if !super::required::provider_allowed(state, kind, name) {
        return refused(
            "provider-not-required-one",
            format!("{kind} users sign in through another provider on this server"),
        )
        .await;
    }
    if login.user_provider != name {
        return refused(
            "wrong-provider",
            "the sign-in under way is another provider's".into(),
        )
        .await;
    }
    if login.expired {
        return refused(
            "login-expired",
            "it took too long: start again from the sign-in page".into(),
        )
        .await;
    }
    // The transaction is single-use and already gone, so a wrong guess cannot be retried:
    // a plain comparison leaks nothing worth timing.
    if answer.state.as_deref() != Some(login.state.as_str()) {
        return refused(
            "state-mismatch",
            "the answer does not belong to the sign-in under way".into(),
        )
        .await;
    }
    if let Some(error) = &answer.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        refuse(state, origin, kind, name, "provider-refused", Some(&code)).await?;
        return Err(Error::Forbidden(format!(
            "sign-in through {name} refused by the identity provider ({code})"
        )));
    }
    let record = match state.store.provider(name).await? {
        Some(r) if r.enabled => r,
        _ => {
            return refused(
                "provider-disabled",
                "the provider is disabled or gone".into(),
            )
            .await
        }
    };
    let settings = match ProviderSettings::from_parts(&record.kind, record.settings.clone()) {
        Ok(ProviderSettings::Oidc(s)) => s,
        _ => return refused("provider-changed", "the provider changed".into()).await,
    };
    if answer
        .iss
        .as_deref()
        .is_some_and(|iss| iss != settings.issuer)
    {
        return refused("wrong-issuer", "the answer names another issuer".into()).await;
    }
    let Some(code) = answer.code.as_deref().filter(|c| !c.is_empty()) else {
        return refused("no-code", "the answer has no code".into()).await;
    };
    let pending = Pending {
        nonce: login.nonce,
        verifier: login.verifier,
        redirect_uri: login.redirect_uri,
    };
    let verified = match client(state, &record) {
        Ok(c) => c.finish(code, &pending, now.unix_timestamp()).await,
        Err(e) => Err(e),
    };
    noted(state, name, verified.as_ref().err()).await?;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "a sign-in through an identity provider was refused");
            refuse(state, origin, kind, name, e.reason(), None).await?;
            return Err(sign_in_error(name, &e));
        }
    };
    let user = match local_user(state, origin, kind, &record, &settings, &verified.user).await {
        Ok(user) => user,
        Err((reason, error)) => {
            refuse(state, origin, kind, name, reason, None).await?;
            return Err(error);
        }
    };
    let user = admitted(
        state,
        origin,
        user,
        &settings.mappings,
        &verified.user.groups,
        name,
    )
    .await?;
    // The same step as every other sign-in: a user with a second factor (or required to
    // have one) is never signed in by the identity provider alone; the browser is asked for
    // it next, on the sign-in page of where it is going.
    let step = crate::identity::mfa::after_first_factor(state, origin, user, user_agent).await?;
    Ok(Finished {
        step,
        return_to: login.return_to,
    })
}

/// The local user a verified subject is: linked before, linked now by verified e-mail, or a
/// just-in-time profile made and linked now. A refusal's reason and error.
async fn local_user(
    state: &AppState,
    origin: &Origin,
    kind: Provider,
    record: &ProviderRecord,
    settings: &OidcSettings,
    claimed: &rampart_federation::claims::ClaimedUser,
) -> Result<User, (&'static str, Error)> {
    let name = record.name.as_str();
    let internal = |e: Error| ("internal", e);
    let now = state.clock.now();
    let linked = state
        .store
        .provider_subject_user(name, &claimed.subject)
        .await
        .map_err(internal)?;
    if let Some(id) = linked {
        let user = state
            .store
            .user(id)
            .await
            .map_err(internal)?
            .ok_or(("internal", Error::NotFound { what: "user" }))?;
        if user.provider != kind {
            return Err((
                "wrong-kind",
                Error::Forbidden(format!(
                    "your account is an {} user's; sign in on the {} sign-in page",
                    user.provider,
                    if user.provider == Provider::It {
                        "console's"
                    } else {
                        "applications'"
                    }
                )),
            ));
        }
        if user.user_provider.as_deref() != Some(name) {
            // An account linked by e-mail keeps its own profile.
            return Ok(user);
        }
        // The profile keeps the username it was made with; name and e-mail follow.
        let mut found = claimed.to_directory_user();
        found.username = user.username.clone();
        return profile(state, kind, name, &found, &origin.audit)
            .await
            .map(|(u, _)| u);
    }
    if settings.link_by_verified_email {
        if let Some(email) = &claimed.verified_email {
            let existing = state
                .store
                .user_with_email(kind, email)
                .await
                .map_err(internal)?;
            // Only an account of Rampart's own passwords is linked, and only once.
            if let Some(user) = existing.filter(|u| u.user_provider.is_none()) {
                let linked = state
                    .store
                    .provider_subject_of(name, user.id)
                    .await
                    .map_err(internal)?;
                if linked.is_none() {
                    state
                        .store
                        .link_provider_subject(
                            name,
                            &claimed.subject,
                            user.id,
                            true,
                            now,
                            &origin.audit,
                        )
                        .await
                        .map_err(internal)?;
                    return Ok(user);
                }
            }
        }
    }
    // A profile of this provider under the claimed username must be this subject's.
    let norm = claimed.username.to_ascii_lowercase();
    if let Some((existing, _)) = state
        .store
        .user_credentials(kind, &norm)
        .await
        .map_err(internal)?
    {
        if existing.user_provider.as_deref() == Some(name) {
            let other = state
                .store
                .provider_subject_of(name, existing.id)
                .await
                .map_err(internal)?;
            if other.is_some_and(|s| s != claimed.subject) {
                return Err((
                    "subject-mismatch",
                    Error::Conflict(format!(
                        "the username {} belongs to another user of {name}",
                        claimed.username
                    )),
                ));
            }
        }
    }
    let (user, _) = profile(
        state,
        kind,
        name,
        &claimed.to_directory_user(),
        &origin.audit,
    )
    .await?;
    let linked = state
        .store
        .provider_subject_of(name, user.id)
        .await
        .map_err(internal)?;
    if linked.is_none() {
        state
            .store
            .link_provider_subject(name, &claimed.subject, user.id, false, now, &origin.audit)
            .await
            .map_err(internal)?;
    }
    Ok(user)
}

/// Where the provider sends the browser back: the configured redirect URI, or the
/// server's `public_origin` and the provider's callback path.
fn redirect_uri(state: &AppState, name: &str, settings: &OidcSettings) -> String {
    settings
        .redirect_uri
        .clone()
        .unwrap_or_else(|| format!("{}{}", state.config.public_origin, callback_path(name)))
}

/// The return address of a sign-in: a path in the console (IT users; the console's home
/// when none is given), in an application (end users), or an authorization request of the
/// OpenID provider, never elsewhere.
pub fn checked_return(provider: Provider, asked: Option<&str>) -> Result<String, Error> {
    // An authorization request of this site's OpenID provider, whose sign-in page offers
    // the identity providers too: back to it, whoever signs in (the request checks its
    // client's users again).
    if let Some(asked) = asked.filter(|a| crate::idp::authorize::is_return_address(a)) {
        return Ok(asked.to_owned());
    }
    let base = match provider {
        Provider::It => "/console".to_owned(),
        Provider::End => match asked.and_then(app_base) {
            Some(base) => base,
            None => {
                return Err(Error::invalid(
                    "return",
                    "give a path in the application to return to \
                     (/apps/{environment}/{application}/…)",
                ))
            }
        },
    };
    let Some(asked) = asked else {
        return Ok(format!("{base}/"));
    };
    if return_address(Some(asked), &base) == asked {
        Ok(asked.to_owned())
    } else {
        Err(Error::invalid(
            "return",
            format!("must be a path on this site under {base}/"),
        ))
    }
}

/// `/apps/{environment}/{application}` of a path under it.
fn app_base(path: &str) -> Option<String> {
    app_of(path).map(|(env, app)| format!("/apps/{env}/{app}"))
}

/// The environment and application of a path under `/apps/{environment}/{application}/`.
pub fn app_of(path: &str) -> Option<(&str, &str)> {
    let mut parts = path.strip_prefix("/apps/")?.splitn(3, '/');
    let environment = parts.next().filter(|s| !s.is_empty())?;
    let application = parts.next().filter(|s| !s.is_empty())?;
    Some((environment, application))
}

/// The client of a provider record, with its client secret read now.
pub(crate) fn client(state: &AppState, record: &ProviderRecord) -> Result<OidcClient, OidcError> {
    let Ok(ProviderSettings::Oidc(settings)) =
        ProviderSettings::from_parts(&record.kind, record.settings.clone())
    else {
        return Err(OidcError::Provider(format!(
            "{} is not an OpenID Connect provider",
            record.name
        )));
    };
    let reference = SecretRef::parse(&settings.client_secret)
        .map_err(|_| OidcError::Secret("not a secret reference".into()))?;
    // The reason names the variable or file, which the server's log may show and a client
    // may not.
    let secret = reference.resolve(|n| std::env::var(n).ok()).map_err(|why| {
        tracing::warn!(provider = %record.name, reason = %why, "an identity provider's client secret cannot be read");
        OidcError::Secret("the server's log says why".into())
    })?;
    OidcClient::new(settings, secret, state.oidc.clone())
}

/// Keeps the provider's health: a success, or an error that was the provider's or the
/// configuration's fault (a refused token or code is neither: it may be anyone's).
pub(crate) async fn noted(
    state: &AppState,
    name: &str,
    error: Option<&OidcError>,
) -> Result<(), Error> {
    if matches!(error, Some(OidcError::Refused { .. })) {
        return Ok(());
    }
    let error = error.map(ToString::to_string);
    state
        .store
        .note_provider_health(name, error.as_deref(), state.clock.now())
        .await
}

/// A provider's failure as an administrator's operation answers it (with the cause).
pub(crate) fn provider_error(name: &str, e: &OidcError) -> Error {
    match e {
        OidcError::Unreachable(_) | OidcError::Secret(_) => {
            Error::DirectoryUnreachable(format!("user provider {name}: {e}"))
        }
        _ => Error::Directory(format!("user provider {name}: {e}")),
    }
}

/// A provider's failure as the person signing in is told it: what failed is for
/// administrators (the provider's status, the log).
fn sign_in_error(name: &str, e: &OidcError) -> Error {
    match e {
        OidcError::Unreachable(_) | OidcError::Secret(_) => Error::DirectoryUnreachable(format!(
            "sign-in through {name} is unavailable: its identity provider cannot be reached; \
             try again later"
        )),
        OidcError::Provider(_) => Error::Directory(format!(
            "sign-in through {name} failed on the identity provider's side; its administrators \
             can see why in the provider's status"
        )),
        OidcError::Refused { reason, .. } => Error::Forbidden(format!(
            "sign-in through {name} refused: the identity provider's answer is not acceptable \
             ({reason})"
        )),
    }
}

/// Records a refused sign-in through the provider `name` for `kind` users.
async fn refuse(
    state: &AppState,
    origin: &Origin,
    kind: Provider,
    name: &str,
    reason: &str,
    provider_error: Option<&str>,
) -> Result<(), Error> {
    state.metrics.login(kind.as_str(), "failed");
    let mut details = serde_json::json!({
        "provider": kind.as_str(),
        "user_provider": name,
        "reason": reason,
    });
    if let Some(code) = provider_error {
        details["provider_error"] = code.into();
    }
    record(state, origin, name, details).await
}

/// Records a refused callback that no login transaction names (so no kind of user).
async fn refuse_anonymous(
    state: &AppState,
    origin: &Origin,
    name: &str,
    reason: &str,
) -> Result<(), Error> {
    let details = serde_json::json!({
        "provider": "unknown",
        "user_provider": name,
        "reason": reason,
    });
    record(state, origin, name, details).await
}

async fn record(
    state: &AppState,
    origin: &Origin,
    name: &str,
    details: serde_json::Value,
) -> Result<(), Error> {
    let event = AuditEvent {
        action: "auth.login",
        target: Some(format!("provider:{name}")),
        outcome: Outcome::Failure,
        details: details.to_string(),
    };
    state
        .store
        .record_event(&origin.audit, &event, state.clock.now())
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn return_addresses_stay_in_the_console_or_the_application() {
        let it = |a: Option<&str>| checked_return(Provider::It, a);
        let end = |a: Option<&str>| checked_return(Provider::End, a);
        assert_eq!(it(None).unwrap(), "/console/");
        assert_eq!(
            it(Some("/console/users?x=1")).unwrap(),
            "/console/users?x=1"
        );
        assert_eq!(end(Some("/apps/dev/crm/")).unwrap(), "/apps/dev/crm/");
        assert_eq!(
            end(Some("/apps/dev/crm/home")).unwrap(),
            "/apps/dev/crm/home"
        );
        for bad in [
            "https://evil.example/console/",
            "//evil.example/console/",
            "/console/../api/v1/users",
            "/apps/dev/crm/",
            "/console",
        ] {
            assert!(it(Some(bad)).is_err(), "{bad}");
        }
        // The OpenID provider's authorization requests, for either population.
        let request = "/oauth2/authorize?client_id=wiki&state=s%20t";
        assert_eq!(it(Some(request)).unwrap(), request);
        assert_eq!(end(Some(request)).unwrap(), request);
        for bad in [
            "/oauth2/authorizex/../../evil",
            "/oauth2/authorize?x=a\\b",
            "/oauth2/authorize?x=a b",
            "/oauth2/token?x=1",
        ] {
            assert!(it(Some(bad)).is_err(), "{bad}");
            assert!(end(Some(bad)).is_err(), "{bad}");
        }
        for bad in [
            None,
            Some("/apps/dev/crm"),
            Some("/apps/dev/crm/%2e%2e/other/"),
            Some("https://evil.example/apps/dev/crm/"),
            Some("/console/"),
            Some("/apps//crm/"),
        ] {
            assert!(end(bad).is_err(), "{bad:?}");
        }
    }
}
