//! `[sign_in]`: when a kind of user must sign in through one user provider, Rampart's own
//! passwords and every other provider are refused for that kind, except Rampart's password
//! for the break-glass administrators (local IT administrators named in
//! `sign_in.break_glass`), so the platform stays reachable when the provider is not.

use rampart_core::{Error, Provider, User};

use crate::caller::Origin;
use crate::identity::login::record_refusal;
use crate::state::AppState;

/// Whether `user`, whose own password was just verified, may sign in with it; a refusal is
/// an `auth.login` failure (`provider-required`).
pub(crate) async fn local_allowed(
    state: &AppState,
    origin: &Origin,
    user: &User,
) -> Result<(), Error> {
    let Some(required) = state.config.sign_in.required(user.provider) else {
        return Ok(());
    };
    let break_glass = user.provider == Provider::It
        && user.is_admin
        && user.user_provider.is_none()
        && state.config.sign_in.is_break_glass(&user.username);
    if break_glass {
        return Ok(());
    }
    record_refusal(state, origin, user, "provider-required").await?;
    state.metrics.login(user.provider.as_str(), "failed");
    Err(Error::Forbidden(format!(
        "{} users sign in through {required} on this server, not with a password here",
        user.provider
    )))
}

/// Whether `provider` users may sign in through the user provider `name`.
pub(crate) fn provider_allowed(state: &AppState, provider: Provider, name: &str) -> bool {
    state
        .config
        .sign_in
        .required(provider)
        .is_none_or(|required| required == name)
}

/// [`provider_allowed`], as the refusal when not.
pub(crate) fn check_provider(
    state: &AppState,
    provider: Provider,
    name: &str,
) -> Result<(), Error> {
    if provider_allowed(state, provider, name) {
        return Ok(());
    }
    let required = state.config.sign_in.required(provider).unwrap_or_default();
    Err(Error::Forbidden(format!(
        "{provider} users sign in through {required} on this server, not through {name}"
    )))
}
