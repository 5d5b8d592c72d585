//! Signing in with a passkey alone: no username, no password. The browser asks for a
//! discovery ([`challenge`]), lets the user pick one of the passkeys it holds for this site
//! and verify themselves to it (PIN or biometric, which the challenge requires), and sends
//! the answer with the ceremony's token ([`sign_in`]). A passkey verified with its user is
//! both factors at once: the session counts as having verified a second factor now, so the
//! `[mfa]` policy is met and no step-up follows at once.
//!
//! **The same doors as a password.** The source address's throttle is checked before
//! anything; once the answer names its user, that username's lock is checked (a locked
//! account signs in with nothing), then the answer is verified, and only then the sign-in
//! rules (so only the passkey's holder learns of them): a disabled account, a kind of
//! user that must sign in through a user provider (`[sign_in]`, break-glass administrators
//! aside), and an account a user provider vouches for (its directory decides who may sign
//! in, so its passkeys are only a second step after the directory's password) are refused
//! and audited. A refused answer is a failed login of its user (lockout, throttle, audit);
//! an answer that names no passkey Rampart holds for a user of this kind is a failed login
//! of nobody (the address throttle and the audit trail, with no username to lock).
//!
//! **Ceremonies** wait server-side under the SHA-256 of a random token the browser holds,
//! lapse after `[mfa] pending_login_minutes`, and are taken by the first answer whatever
//! its fate. One source address may keep [`WAITING_PER_SOURCE`] waiting at once, and the
//! node [`WAITING_IN_ALL`].

use rampart_core::{AuditEvent, Error, Outcome, Provider, User};
use rampart_identity::mfa::{hash_pending, PendingToken};
use rampart_identity::passkey::Refusal;
use rampart_store::{Proof, Waiting};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::login::{self, LoggedIn};
use super::passkeys::relying_party;
use crate::caller::Origin;
use crate::state::AppState;

/// How many discoveries one source address may keep waiting at once.
pub const WAITING_PER_SOURCE: u32 = 16;

/// How many discoveries the node keeps waiting at once, from every source together (each
/// row is about a kilobyte).
pub const WAITING_IN_ALL: u32 = 100_000;

/// A discovery's first half: the token naming it, and the options for the browser's
/// `navigator.credentials.get` (no credentials listed: the browser offers its own).
#[derive(Debug)]
pub struct Discovery {
    /// Sent back with the answer.
    pub ceremony: PendingToken,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
    /// For the browser (`publicKey`).
    pub options: Value,
}

fn gone() -> Error {
    Error::Unauthenticated(
        "this passkey sign-in is unknown, answered already or expired; start again",
    )
}

fn refused() -> Error {
    Error::Unauthenticated(
        "the passkey was refused: use a passkey registered for your account on this site, \
         or sign in with your password",
    )
}

/// Starts a sign-in by a passkey the browser discovers, for a request from `origin`.
pub async fn challenge(state: &AppState, origin: &Origin) -> Result<Discovery, Error> {
    let rp = relying_party(state)?;
    login::check_address(state, origin, None)?;
    let challenge = rp.start_discovery()?;
    let ceremony = PendingToken::generate()?;
    let now = state.clock.now();
    let expires_at = now + Duration::minutes(state.config.mfa.pending_login_minutes.into());
    let source = origin
        .source
        .map_or_else(|| "-".to_owned(), |s| s.to_string());
    let kept = state
        .store
        .passkey_discovery_put(
            &ceremony.hash(),
            &source,
            &challenge.state,
            expires_at,
            now,
            WAITING_PER_SOURCE,
            WAITING_IN_ALL,
        )
        .await?;
    let minutes = state.config.mfa.pending_login_minutes;
    match kept {
        Ok(()) => {}
        Err(Waiting::FromThisSource) => {
            return Err(Error::Limit(format!(
                "this address has {WAITING_PER_SOURCE} passkey sign-ins waiting already: \
                 answer one, or start again once they lapse ({minutes} minutes)"
            )))
        }
        Err(Waiting::InAll) => {
            tracing::warn!(
                waiting = WAITING_IN_ALL,
                "passkey sign-ins refused: the node keeps no more waiting"
            );
            return Err(Error::Limit(format!(
                "too many passkey sign-ins are waiting on this server: sign in with your \
                 password, or try a passkey again within {minutes} minutes"
            )));
        }
    }
    Ok(Discovery {
        ceremony,
        expires_at,
        options: challenge.options,
    })
}

/// Signs a `provider` user in with the browser's `credential`, the answer to the discovery
/// named by `ceremony`: a new session, or the reason there is none.
pub async fn sign_in(
    state: &AppState,
    origin: &Origin,
    provider: &str,
    ceremony: &str,
    credential: &Value,
    user_agent: Option<String>,
) -> Result<LoggedIn, Error> {
    let provider = Provider::parse(provider)?;
    let rp = relying_party(state)?;
    login::check_address(state, origin, Some(provider))?;
    let hash = hash_pending(ceremony).ok_or_else(gone)?;
    let now = state.clock.now();
    let Some(waiting) = state.store.passkey_discovery_take(&hash, now).await? else {
        return Err(gone());
    };
    let discovered = match rp.identify(credential) {
        Ok(discovered) => discovered,
        Err(refusal) => return Err(unidentified(state, origin, provider, refusal).await),
    };
    let user = state
        .store
        .user(discovered.user)
        .await?
        .filter(|u| u.provider == provider);
    let stored = match &user {
        Some(user) => state
            .store
            .passkeys(user.id)
            .await?
            .into_iter()
            .find(|p| p.credential_id == discovered.credential_id),
        None => None,
    };
    let (Some(user), Some(stored)) = (user, stored) else {
        return Err(unidentified(state, origin, provider, Refusal::UnknownCredential).await);
    };
    let norm = user.username.to_ascii_lowercase();
    let _gate = state.credentials.login_gate(user.provider, &norm).await;
    login::check_throttles(state, origin, user.provider, &norm).await?;
    // The answer is verified before anything about the account is said: only the holder
    // of the passkey learns that it is disabled or must sign in elsewhere.
    let assertion = match rp.finish_discovery(credential, &waiting, &stored.credential)? {
        Ok(assertion) => assertion,
        Err(refusal) => return Err(failed(state, origin, &user, refusal.reason()).await),
    };
    admit(state, origin, &user).await?;
    let proof = Proof::Passkey {
        credential_id: assertion.credential_id,
        counter: assertion.counter,
        stored: assertion.stored,
    };
    let (token, new, lifetime) = login::new_session(state, origin, user_agent)?;
    let session = match state
        .store
        .passkey_sign_in(&user, proof, &new, now, &origin.audit_as(&user))
        .await?
    {
        Ok(session) => session,
        Err(spent) => return Err(failed(state, origin, &user, spent.reason()).await),
    };
    state.metrics.login(user.provider.as_str(), "ok");
    tracing::info!(user = %user.id, session = %session.id, "login with a passkey alone");
    Ok(LoggedIn {
        token,
        session,
        user,
        lifetime,
    })
}

/// The sign-in rules a passkey alone must pass, each refusal an audited `auth.login`
/// failure: an enabled account, not one a user provider vouches for, of a kind of user
/// that may sign in here (see the module's header). A password's age does not matter: no
/// password is used.
async fn admit(state: &AppState, origin: &Origin, user: &User) -> Result<(), Error> {
    if user.disabled {
        state.metrics.login(user.provider.as_str(), "disabled");
        login::record_refusal(state, origin, user, "account-disabled").await?;
        return Err(Error::AccountDisabled);
    }
    if let Some(name) = &user.user_provider {
        state.metrics.login(user.provider.as_str(), "failed");
        login::record_refusal(state, origin, user, "user-provider-account").await?;
        return Err(Error::Forbidden(format!(
            "this account signs in through {name}; a passkey is its second step there, not a \
             sign-in alone"
        )));
    }
    crate::providers::required::local_allowed(state, origin, user).await
}

/// Counts a refused answer of `user` as a failed login of theirs and gives the refusal.
async fn failed(state: &AppState, origin: &Origin, user: &User, reason: &str) -> Error {
    match login::count_failure_of(state, origin, user, reason).await {
        Ok(()) => refused(),
        Err(e) => e,
    }
}

/// Records an answer that names no passkey of a `provider` user Rampart holds (or cannot be
/// read): a failed login of nobody, counted against the source address.
async fn unidentified(
    state: &AppState,
    origin: &Origin,
    provider: Provider,
    refusal: Refusal,
) -> Error {
    let event = AuditEvent {
        action: "auth.login",
        target: None,
        outcome: Outcome::Failure,
        details: json!({
            "provider": provider.as_str(),
            "method": "passkey",
            "reason": refusal.reason(),
        })
        .to_string(),
    };
    if let Err(e) = login::refused_unnamed(state, origin, &event).await {
        return e;
    }
    state.metrics.login(provider.as_str(), "failed");
    refused()
}
