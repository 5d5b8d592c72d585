//! Logging in, changing one's own password, logging out: the password checks, throttles,
//! lockout and their audit events, whatever protocol carries the request.
//!
//! Every check of a password goes through [`verify_credentials`]: throttles first (per
//! source address, then per username), then the hash (a dummy hash for an unknown username,
//! so both spend the same time), then the failure count. Concurrent guesses at one username
//! queue on this node, so each sees the failures (and the lock) of those before it.

use rampart_core::{AuditEvent, Error, Outcome, Provider, Session, ThrottleScope, User, Username};
use rampart_identity::{ceil_secs, SessionToken};
use rampart_store::{NewSession, NO_PASSWORD};
use time::{Duration, OffsetDateTime};

use crate::caller::{Caller, Origin};
pub use crate::identity::mfa::LoginStep;
use crate::metrics::ScopeLabels;
use crate::state::AppState;

/// A new session: its secret (shown to the client once) and what was stored.
pub struct LoggedIn {
    /// The session's secret.
    pub token: SessionToken,
    /// The stored session.
    pub session: Session,
    /// Who logged in.
    pub user: User,
    /// The session's absolute lifetime.
    pub lifetime: Duration,
}

/// Logs `username` in with `password`: a new session, a sign-in waiting for its second
/// factor (see [`crate::identity::mfa`]), or the reason there is neither.
pub async fn login(
    state: &AppState,
    origin: &Origin,
    provider: &str,
    username: &str,
    password: &str,
    user_agent: Option<String>,
) -> Result<LoginStep, Error> {
    let provider = Provider::parse(provider)?;
    let username = Username::parse(username)?;
    let user = verify_credentials(state, origin, provider, &username, password).await?;
    crate::providers::required::local_allowed(state, origin, &user).await?;
    crate::identity::mfa::after_first_factor(state, origin, user, user_agent).await
}

/// Refuses, with its audit event, a sign-in of a disabled account or an expired password.
/// Every sign-in, whoever verified its first factor, goes on through
/// [`crate::identity::mfa::after_first_factor`], which calls this and then asks for the
/// second factor or opens the session.
pub(crate) async fn admit(state: &AppState, origin: &Origin, user: &User) -> Result<(), Error> {
    let provider = user.provider;
    if user.disabled {
        state.metrics.login(provider.as_str(), "disabled");
        record_refusal(state, origin, user, "account-disabled").await?;
        return Err(Error::AccountDisabled);
    }
    if password_expired(state, user) {
        state.metrics.login(provider.as_str(), "expired");
        record_refusal(state, origin, user, "password-expired").await?;
        return Err(Error::PasswordExpired);
    }
    Ok(())
}

/// A new session's secret and what the store keeps of it, for a request from `origin`.
pub(crate) fn new_session(
    state: &AppState,
    origin: &Origin,
    user_agent: Option<String>,
) -> Result<(SessionToken, NewSession, Duration), Error> {
    let token = SessionToken::generate()?;
    let lifetime = Duration::hours(state.config.session.absolute_hours.into());
    let new = NewSession {
        token_hash: token.hash().0,
        expires_at: state.clock.now() + lifetime,
        source: origin.source.map(|s| s.to_string()),
        user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
    };
    Ok((token, new, lifetime))
}

/// Opens the session of an admitted user (see [`admit`]).
pub(crate) async fn start_session(
    state: &AppState,
    origin: &Origin,
    user: User,
    user_agent: Option<String>,
) -> Result<LoggedIn, Error> {
    let provider = user.provider;
    let now = state.clock.now();
    let (token, new, lifetime) = new_session(state, origin, user_agent)?;
    let session = state
        .store
        .record_login_success(&user, &new, now, &origin.audit_as(&user))
        .await?;
    state.metrics.login(provider.as_str(), "ok");
    tracing::info!(user = %user.id, session = %session.id, "login");
    Ok(LoggedIn {
        token,
        session,
        user,
        lifetime,
    })
}

/// Ends `session`, or with `all` every session of the caller and the refresh tokens outside
/// applications hold from their sign-ins.
pub async fn logout(
    state: &AppState,
    caller: &Caller,
    session: &Session,
    all: bool,
) -> Result<(), Error> {
    let now = state.clock.now();
    if all {
        // Signed out everywhere: the outside applications' refresh tokens of those sign-ins
        // end in the same transaction (those granted `offline_access` stay, as the user
        // consented to that).
        state
            .store
            .revoke_user_sessions(caller.user.id, now, &caller.audit)
            .await?;
    } else {
        state
            .store
            .revoke_session(session, now, &caller.audit)
            .await?;
    }
    Ok(())
}

/// Changes one's own password with the current one (no session needed, so an expired
/// password can be replaced). Ends every session of the user.
pub async fn change_password(
    state: &AppState,
    origin: &Origin,
    provider: &str,
    username: &str,
    current_password: &str,
    new_password: &str,
) -> Result<(), Error> {
    let provider = Provider::parse(provider)?;
    let username = Username::parse(username)?;
    let user = verify_credentials(state, origin, provider, &username, current_password).await?;
    if user.disabled {
        return Err(Error::AccountDisabled);
    }
    replace_password(
        state,
        &user,
        new_password,
        "user.password.change",
        &origin.audit_as(&user),
    )
    .await
}

/// The user's own words, refused inside their password.
pub fn user_inputs(user: &User) -> Vec<String> {
    let mut inputs = vec![user.username.clone()];
    inputs.extend(user.display_name.clone());
    inputs.extend(user.email.clone());
    inputs
}

/// Gives `user` a new password after checking it against the policy and their recent
/// passwords; the store keeps the history the policy asks for and appends `action`.
pub(crate) async fn replace_password(
    state: &AppState,
    user: &User,
    password: &str,
    action: &'static str,
    ctx: &rampart_core::AuditContext,
) -> Result<(), Error> {
    let inputs = user_inputs(user);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    state
        .check_new_password(password, &inputs, Some(user.id))
        .await?;
    let hash = state.credentials.hash_password(password).await?;
    state
        .store
        .set_password(
            user.id,
            &hash,
            state.credentials.password_policy.history,
            action,
            state.clock.now(),
            ctx,
        )
        .await
}

fn password_expired(state: &AppState, user: &User) -> bool {
    let days = state.config.password.max_age_days;
    // A directory keeps its users' passwords and their age.
    user.user_provider.is_none()
        && days > 0
        && state.clock.now() - user.password_changed_at >= Duration::days(days.into())
}

/// Records a refused login of a known user (disabled, expired, no mapped role…).
pub(crate) async fn record_refusal(
    state: &AppState,
    origin: &Origin,
    user: &User,
    reason: &str,
) -> Result<(), Error> {
    let mut details = serde_json::json!({ "provider": user.provider.as_str(), "username": user.username, "reason": reason });
    if let Some(name) = &user.user_provider {
        details["user_provider"] = name.as_str().into();
    }
    let event = AuditEvent {
        action: "auth.login",
        target: Some(format!("user:{}", user.id)),
        outcome: Outcome::Failure,
        details: details.to_string(),
    };
    state
        .store
        .record_event(&origin.audit, &event, state.clock.now())
        .await
}

/// Checks throttles, then the password; counts failures. Shared by login and password change.
/// A user a user provider vouches for has no local password, nor has an account created
/// without one: the dummy hash runs instead.
async fn verify_credentials(
    state: &AppState,
    origin: &Origin,
    provider: Provider,
    username: &Username,
    password: &str,
) -> Result<User, Error> {
    let _gate = state
        .credentials
        .login_gate(provider, username.normalized())
        .await;
    check_throttles(state, origin, provider, username.normalized()).await?;
    let found = state
        .store
        .user_credentials(provider, username.normalized())
        .await?;
    // An account a directory vouches for, or one with no password (it signs in with a
    // passkey alone), has no hash to verify: the dummy hash runs instead, in the same time.
    let local = found
        .as_ref()
        .filter(|(u, hash)| u.user_provider.is_none() && hash != NO_PASSWORD);
    let has_local = local.is_some();
    let verified = state
        .credentials
        .verify_password(password, local.map(|(_, hash)| hash.as_str()))
        .await?;
    match found {
        Some((user, hash)) if verified && has_local => {
            if !state.credentials.hash_is_current(&hash) {
                upgrade_hash(state, &user, &hash, password).await;
            }
            Ok(user)
        }
        found => {
            let reason = match &found {
                Some((u, _)) if u.user_provider.is_some() => "user-provider-account",
                Some((_, hash)) if hash == NO_PASSWORD => "no-password",
                Some(_) => "wrong-password",
                None => "unknown-user",
            };
            let shown = if found.is_some() {
                username.as_str().to_owned()
            } else {
                unknown_name(state, username.normalized())
            };
            count_failure(
                state,
                origin,
                provider,
                &shown,
                username.normalized(),
                reason,
                None,
            )
            .await?;
            Err(Error::InvalidCredentials)
        }
    }
}

/// Re-hashes a verified password whose stored hash has an older cost than the configured
/// one. Only the hash changes (not the password, its history or its date), and only if it
/// is still the one verified: a password changed meanwhile stays. A failure leaves the old
/// hash, which still verifies; the next login tries again.
async fn upgrade_hash(state: &AppState, user: &User, old: &str, password: &str) {
    let upgraded = match state.credentials.hash_password(password).await {
        Ok(new) => state.store.upgrade_password_hash(user.id, old, &new).await,
        Err(e) => Err(e),
    };
    match upgraded {
        Ok(true) => tracing::info!(user = %user.id, "password re-hashed with the configured cost"),
        Ok(false) => {}
        Err(e) => tracing::warn!(user = %user.id, error = %e, "re-hashing a password failed"),
    }
}

/// How the audit trail names a username nobody has: an unknown "username" may be a password
/// typed in the wrong field, so the trail gets a keyed pseudonym of it, never the text.
pub(crate) fn unknown_name(state: &AppState, norm: &str) -> String {
    format!("unknown#{}", state.credentials.pseudonyms.of(norm))
}

/// Refuses a login attempt that the address throttle or the username's lock holds back.
pub(crate) async fn check_throttles(
    state: &AppState,
    origin: &Origin,
    provider: Provider,
    norm: &str,
) -> Result<(), Error> {
    let now = state.clock.now();
    check_address(state, origin, Some(provider))?;
    if let Some(until) = state.store.login_locked_until(provider, norm).await? {
        if until > now {
            throttled(state, Some(provider), "account");
            return Err(Error::LoginThrottled {
                retry_after_secs: ceil_secs(until - now),
                scope: ThrottleScope::Account,
            });
        }
    }
    Ok(())
}

/// Refuses a sign-in attempt that the address throttle holds back (a `provider` user's,
/// when it is known yet).
pub(crate) fn check_address(
    state: &AppState,
    origin: &Origin,
    provider: Option<Provider>,
) -> Result<(), Error> {
    let Some(source) = origin.source else {
        return Ok(());
    };
    match state
        .credentials
        .address_throttle
        .check(source, state.clock.now())
    {
        Ok(()) => Ok(()),
        Err(retry_after_secs) => {
            throttled(state, provider, "address");
            Err(Error::LoginThrottled {
                retry_after_secs,
                scope: ThrottleScope::SourceAddress,
            })
        }
    }
}

/// Records `event`, a refused attempt that names no account to lock (an unknown passkey,
/// an enrolment link that serves nobody), and counts it against the source address.
pub(crate) async fn refused_unnamed(
    state: &AppState,
    origin: &Origin,
    event: &AuditEvent,
) -> Result<(), Error> {
    let now = state.clock.now();
    state.store.record_event(&origin.audit, event, now).await?;
    count_address_failure(state, origin, now);
    Ok(())
}

/// Counts a failed sign-in attempt against the source address alone (one that named no
/// username to lock).
pub(crate) fn count_address_failure(state: &AppState, origin: &Origin, now: OffsetDateTime) {
    if let Some(source) = origin.source {
        state
            .credentials
            .address_throttle
            .record_failure(source, now);
    }
}

/// Counts a failed login of `norm` (lockout, address throttle, metrics) and records its
/// `auth.login` failure naming `shown`, the reason and, for a directory login, the user
/// provider.
pub(crate) async fn count_failure(
    state: &AppState,
    origin: &Origin,
    provider: Provider,
    shown: &str,
    norm: &str,
    reason: &str,
    user_provider: Option<&str>,
) -> Result<(), Error> {
    let now = state.clock.now();
    let lockout = state.credentials.lockout;
    let failure = state
        .store
        .record_login_failure(
            provider,
            shown,
            norm,
            reason,
            user_provider,
            lockout.window,
            &move |n| lockout.lock_for(n),
            now,
            &origin.audit,
        )
        .await?;
    if failure.locked_until.is_some() {
        state.metrics.lockouts.inc();
        tracing::warn!(provider = %provider, failures = failure.failures, "username locked after failed logins");
    }
    count_address_failure(state, origin, now);
    state.metrics.login(provider.as_str(), "failed");
    Ok(())
}

/// Counts a refused answer of the known `user` (a second factor, a passkey alone) as a
/// failed login of theirs: [`count_failure`] under their own username.
pub(crate) async fn count_failure_of(
    state: &AppState,
    origin: &Origin,
    user: &User,
    reason: &str,
) -> Result<(), Error> {
    let norm = user.username.to_ascii_lowercase();
    count_failure(
        state,
        origin,
        user.provider,
        &user.username,
        &norm,
        reason,
        user.user_provider.as_deref(),
    )
    .await
}

/// Counts a throttled attempt (of a `provider` user, when it is known).
fn throttled(state: &AppState, provider: Option<Provider>, scope: &str) {
    state
        .metrics
        .throttled
        .get_or_create(&ScopeLabels {
            scope: scope.into(),
        })
        .inc();
    if let Some(provider) = provider {
        state.metrics.login(provider.as_str(), "throttled");
    }
}
