//! Signing in through a user provider: the directory checks the password (a bind as the
//! user; the password goes nowhere else), the local profile is made or updated just in
//! time, the provider's group mappings set the user's roles, and the session is the usual
//! one. The throttles and the username's lockout apply as to Rampart's own passwords (the
//! same counters), and every success and refusal is an `auth.login` event naming the user
//! provider and the reason.

use rampart_authz::acl::Principal;
use rampart_authz::view::PrincipalRef;
use rampart_core::{display_text, AuditContext, Email, Error, Provider, User, Username};
use rampart_federation::rules::{managed_app_roles, mapped_roles};
use rampart_federation::{Directory, DirectoryError, DirectoryUser, ProviderSettings, Users};
use rampart_store::{AuthzOp, DirectoryProfile, ProfileChange};

use crate::caller::Origin;
use crate::identity::login::{
    check_throttles, count_failure, record_refusal, unknown_name, LoginStep,
};
use crate::state::AppState;

/// The longest username passed to a directory.
const MAX_USERNAME: usize = 256;

/// Signs `username` in through the user provider `name`: a new session, or the reason there
/// is none. A directory that cannot be reached answers `DirectoryUnreachable` (503), one
/// that fails otherwise `Directory` (502), neither saying more to the person signing in;
/// Rampart's own passwords (a local administrator's) keep working meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn login_via(
    state: &AppState,
    origin: &Origin,
    provider: &str,
    name: &str,
    username: &str,
    password: &str,
    user_agent: Option<String>,
) -> Result<LoginStep, Error> {
    let provider = Provider::parse(provider)?;
    if username.is_empty() || username.len() > MAX_USERNAME || username.contains(char::is_control) {
        return Err(Error::invalid(
            "username",
            format!("must be 1 to {MAX_USERNAME} characters without control characters"),
        ));
    }
    let record = state
        .store
        .provider(name)
        .await?
        .ok_or_else(|| Error::invalid("user_provider", format!("no user provider {name:?}")))?;
    if record.kind != "ldap" {
        return Err(Error::invalid(
            "user_provider",
            format!(
                "the user provider {name} takes no password: sign in through its own page \
                 (GET /api/v1/providers/{name}/{}/{})",
                record.kind,
                if record.kind == "saml" {
                    "login"
                } else {
                    "start"
                }
            ),
        ));
    }
    if !record.enabled {
        return Err(Error::invalid(
            "user_provider",
            format!("the user provider {name} is disabled"),
        ));
    }
    let audience = Users::parse(&record.users).map_err(Error::Internal)?;
    if !audience.serves(provider == Provider::It) {
        return Err(Error::invalid(
            "user_provider",
            format!("the user provider {name} does not vouch for {provider} users"),
        ));
    }
    super::required::check_provider(state, provider, &record.name)?;
    let norm = username.to_ascii_lowercase();
    let _gate = state.credentials.login_gate(provider, &norm).await;
    check_throttles(state, origin, provider, &norm).await?;
    let found = match super::directory(state, &record) {
        Ok(dir) => dir.authenticate(username, password).await,
        Err(e) => Err(e),
    };
    super::noted(state, &record.name, found.as_ref().err()).await?;
    let found = match found {
        Ok(found) => found,
        Err(e) if super::user_fault(&e) => {
            let shown = match e {
                DirectoryError::UnknownUser | DirectoryError::EmptyPassword => {
                    unknown_name(state, &norm)
                }
                _ => username.to_owned(),
            };
            count_failure(
                state,
                origin,
                provider,
                &shown,
                &norm,
                e.reason(),
                Some(&record.name),
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
        Err(e) => {
            tracing::warn!(provider = %record.name, error = %e, "sign-in through a user provider failed");
            refuse_unknown(state, origin, provider, &record.name, &norm, e.reason()).await?;
            state.metrics.login(provider.as_str(), "unavailable");
            // What failed is for administrators (the provider's status, the log), not for
            // whoever is signing in.
            return Err(match super::directory_error(&record.name, &e) {
                Error::DirectoryUnreachable(_) => Error::DirectoryUnreachable(format!(
                    "sign-in through {} is unavailable: its directory cannot be reached; try \
                     again later",
                    record.name
                )),
                _ => Error::Directory(format!(
                    "sign-in through {} failed on the directory's side; its administrators \
                     can see why in the provider's status",
                    record.name
                )),
            });
        }
    };
    let ProviderSettings::Ldap(settings) =
        ProviderSettings::from_parts(&record.kind, record.settings.clone())
            .map_err(|e| Error::Internal(e.message))?
    else {
        return Err(Error::Internal(format!("{name} is not a directory")));
    };
    let user = match profile(state, provider, &record.name, &found, &origin.audit).await {
        Ok((user, _)) => user,
        Err((reason, error)) => {
            refuse_unknown(state, origin, provider, &record.name, &norm, reason).await?;
            return Err(error);
        }
    };
    let user = admitted(
        state,
        origin,
        user,
        &settings.mappings,
        &found.groups,
        &record.name,
    )
    .await?;
    crate::identity::mfa::after_first_factor(state, origin, user, user_agent).await
}

/// What every sign-in through user provider `name` does once the provider said yes and
/// the local profile is found or made: an enabled profile that `name` vouches for gets the
/// roles the mappings give its `groups`; then the profile is read again, and a disabled
/// one is refused (`account-disabled`): the provider's yes does not enable a profile that
/// a sync or an administrator disabled.
pub(crate) async fn admitted(
    state: &AppState,
    origin: &Origin,
    user: User,
    mappings: &[rampart_federation::GroupMapping],
    groups: &[String],
    name: &str,
) -> Result<User, Error> {
    if !user.disabled && user.user_provider.as_deref() == Some(name) {
        apply_roles(state, &user, mappings, groups, name).await?;
    }
    let user = state.store.user(user.id).await?.unwrap_or(user);
    if user.disabled {
        record_refusal(state, origin, &user, "account-disabled").await?;
        state.metrics.login(user.provider.as_str(), "disabled");
        return Err(Error::AccountDisabled);
    }
    Ok(user)
}

/// Creates or updates the local profile of a directory user; a refusal's reason and error.
pub(crate) async fn profile(
    state: &AppState,
    provider: Provider,
    name: &str,
    found: &DirectoryUser,
    ctx: &AuditContext,
) -> Result<(User, ProfileChange), (&'static str, Error)> {
    let username = Username::parse(&found.username).map_err(|_| {
        (
            "username-not-supported",
            Error::Forbidden(format!(
                "the directory's username {:?} is not one Rampart can hold (letters, digits, \
                 '.', '_', '-', '@')",
                found.username
            )),
        )
    })?;
    let p = DirectoryProfile {
        provider,
        user_provider: name.to_owned(),
        username,
        display_name: found
            .display_name
            .clone()
            .filter(|d| display_text("display_name", d, 200).is_ok()),
        email: found.email.as_deref().and_then(|e| Email::parse(e).ok()),
    };
    match state
        .store
        .upsert_directory_user(&p, state.clock.now(), ctx)
        .await
    {
        Ok(done) => Ok(done),
        Err(Error::Conflict(m)) => Err(("username-taken", Error::Conflict(m))),
        Err(e) => Err(("internal", e)),
    }
}

/// Sets the roles the provider's mappings give `user`'s groups. The IT role is the
/// provider's to set when some mapping names one; application roles named by a mapping are
/// granted to members and revoked from the others; roles no mapping names are left alone.
/// A mapped application or role that is not deployed is skipped (and logged).
pub(crate) async fn apply_roles(
    state: &AppState,
    user: &User,
    mappings: &[rampart_federation::GroupMapping],
    groups: &[String],
    name: &str,
) -> Result<bool, Error> {
    let wanted = mapped_roles(mappings, groups);
    let mut ops = Vec::new();
    if user.provider == Provider::It && mappings.iter().any(|m| m.it_role.is_some()) {
        let current = state.store.it_roles_of(user.id).await?;
        let current = current.first().cloned();
        if current != wanted.it_role {
            ops.push(AuthzOp::SetItRole {
                user: user.id,
                role: wanted.it_role.clone(),
            });
        }
    }
    if user.provider == Provider::End {
        state.authz.fresh(None).await?;
        let view = state.authz.view();
        let num = view.user_num(user.id);
        for (app, role) in managed_app_roles(mappings) {
            let (Some(a), want) = (
                view.app(&app),
                wanted.app_roles.contains(&(app.clone(), role.clone())),
            ) else {
                tracing::warn!(provider = name, application = %app, "a mapped application is not deployed");
                continue;
            };
            let Some(r) = view.role(a, &role) else {
                tracing::warn!(provider = name, application = %app, role = %role, "a mapped role does not exist");
                continue;
            };
            let held = num.is_some_and(|n| {
                view.roles
                    .direct(a, Principal::user(n))
                    .iter()
                    .any(|&(x, _)| x == r)
            });
            if want && !held {
                ops.push(AuthzOp::GrantRole {
                    app,
                    role,
                    principal: PrincipalRef::User(user.id),
                    until: None,
                });
            } else if !want && held {
                ops.push(AuthzOp::RevokeRole {
                    app,
                    role,
                    principal: PrincipalRef::User(user.id),
                });
            }
        }
    }
    if ops.is_empty() {
        return Ok(false);
    }
    let ctx = AuditContext {
        actor_name: Some(format!("user-provider:{name}")),
        ..state.system_context()
    };
    crate::authz::commit(state, &ctx, &ops).await?;
    Ok(true)
}

/// Records a refused directory login whose user has no local profile to name.
pub(crate) async fn refuse_unknown(
    state: &AppState,
    origin: &Origin,
    provider: Provider,
    name: &str,
    norm: &str,
    reason: &str,
) -> Result<(), Error> {
    let event = rampart_core::AuditEvent {
        action: "auth.login",
        target: Some(format!("login:{provider}:{}", unknown_name(state, norm))),
        outcome: rampart_core::Outcome::Failure,
        details: serde_json::json!({
            "provider": provider.as_str(),
            "user_provider": name,
            "reason": reason,
        })
        .to_string(),
    };
    state
        .store
        .record_event(&origin.audit, &event, state.clock.now())
        .await
}
