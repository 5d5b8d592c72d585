//! Passkeys (WebAuthn) as a second factor beside the TOTP app: registering several, named,
//! listing and removing them, and the first half of the ceremonies that sign in or step up
//! with one. The second half is [`super::mfa`]'s: a passkey is one more
//! [`Factor`](super::mfa::Factor) of `finish_login` and `step_up`, verified here by
//! [`verify`], with the same throttles, lockout and failure counting as a code.
//!
//! **The relying party** is this node's `public_origin` (and `[mfa] passkey_rp_id`), built
//! once at start ([`crate::state::Inner::passkeys`]); without a usable origin every passkey
//! operation answers `conflict` saying why, rather than trusting a request's `Host`.
//!
//! **Challenges** are kept server-side (`Store::passkey_challenge_put`), bound to the user
//! and to the pending login (by its token's hash) or the session, lapse after `[mfa]
//! pending_login_minutes`, and are taken once by the answer that uses them: a reused
//! challenge, or one of another sign-in, is refused and counted as a failed login.
//!
//! **Adding** a passkey to an account that has a second factor already needs a step-up, as
//! does **removing** one: a stolen session alone can neither add an attacker's
//! authenticator nor take away the user's.

use rampart_core::{Error, Session, SessionId, User, UserId};
use rampart_identity::mfa::hash_pending;
use rampart_identity::passkey::{NewPasskey, Refusal, RelyingParty};
use rampart_store::{Ceremony, Proof, StoredPasskey};
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::mfa::require_step_up;
use crate::caller::Caller;
use crate::state::AppState;

/// The longest name of a passkey, in characters.
pub const NAME_MAX: usize = 64;

/// This node's relying party, or why passkeys are unavailable.
pub fn relying_party(state: &AppState) -> Result<&RelyingParty, Error> {
    match &state.passkeys {
        Ok(rp) => Ok(rp),
        Err(why) => Err(Error::Conflict(format!(
            "passkeys are unavailable on this server: {why}"
        ))),
    }
}

fn expiry(state: &AppState, now: OffsetDateTime) -> OffsetDateTime {
    now + Duration::minutes(state.config.mfa.pending_login_minutes.into())
}

fn stored(passkeys: &[StoredPasskey]) -> Vec<String> {
    passkeys.iter().map(|p| p.credential.clone()).collect()
}

/// The caller's passkeys.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<StoredPasskey>, Error> {
    state.store.passkeys(caller.user.id).await
}

/// Starts registering a passkey in the caller's `session`: the options for the browser's
/// `navigator.credentials.create`. An account with a second factor already needs a recent
/// one first.
pub async fn begin_registration(
    state: &AppState,
    caller: &Caller,
    session: SessionId,
) -> Result<Value, Error> {
    let rp = relying_party(state)?;
    if state.store.mfa_factors(caller.user.id).await?.enrolled() {
        require_step_up(state, caller, "adding a passkey").await?;
    }
    let existing = state.store.passkeys(caller.user.id).await?;
    let challenge =
        rp.start_registration(caller.user.id, &caller.user.username, &stored(&existing))?;
    let now = state.clock.now();
    state
        .store
        .passkey_challenge_put(
            Ceremony::Register(session),
            caller.user.id,
            &challenge.state,
            expiry(state, now),
            now,
        )
        .await?;
    Ok(challenge.options)
}

/// Finishes a registration started in `session` with the browser's `credential`, naming
/// the passkey `name`; the session counts as having verified a second factor now.
pub async fn finish_registration(
    state: &AppState,
    caller: &Caller,
    session: SessionId,
    name: &str,
    credential: &Value,
) -> Result<StoredPasskey, Error> {
    let rp = relying_party(state)?;
    let name = passkey_name(name)?;
    let now = state.clock.now();
    let Some(ceremony) = state
        .store
        .passkey_challenge_take(Ceremony::Register(session), caller.user.id, now)
        .await?
    else {
        return Err(Error::Conflict(
            "no passkey registration is waiting in this session (or it expired, or was \
             answered already): start one first"
                .into(),
        ));
    };
    let new = registration(state, rp, caller.user.id, credential, &ceremony).await?;
    let added = state
        .store
        .passkey_add(
            caller.user.id,
            name,
            &new.credential_id,
            &new.stored,
            new.counter,
            session,
            now,
            &caller.audit,
        )
        .await?;
    tracing::info!(user = %caller.user.id, passkey = %added.id, "passkey registered");
    Ok(added)
}

/// A passkey's name as given, trimmed: 1 to [`NAME_MAX`] characters of display text.
pub(super) fn passkey_name(name: &str) -> Result<&str, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid(
            "name",
            "name the passkey (for example `laptop`)",
        ));
    }
    rampart_core::display_text("name", name, NAME_MAX)?;
    Ok(name)
}

/// The passkey the browser's `credential` registers for `user`, answering the ceremony
/// whose state is `ceremony`; a conflict when that authenticator's passkey is registered
/// already, invalid input when the answer is refused.
pub(super) async fn registration(
    state: &AppState,
    rp: &RelyingParty,
    user: UserId,
    credential: &Value,
    ceremony: &str,
) -> Result<NewPasskey, Error> {
    let registered: Vec<Vec<u8>> = state
        .store
        .passkeys(user)
        .await?
        .into_iter()
        .map(|p| p.credential_id)
        .collect();
    match rp.finish_registration(credential, ceremony, &registered)? {
        Ok(new) => Ok(new),
        Err(Refusal::AlreadyRegistered) => Err(Error::Conflict(
            "this authenticator's passkey is registered already".into(),
        )),
        Err(refusal) => Err(Error::invalid(
            "credential",
            format!(
                "the authenticator's answer was refused ({})",
                refusal.reason()
            ),
        )),
    }
}

/// Removes the caller's passkey `id` (a step-up first).
pub async fn remove(state: &AppState, caller: &Caller, id: &str) -> Result<(), Error> {
    let id = Uuid::parse_str(id).map_err(|_| Error::invalid("id", "not a passkey id"))?;
    require_step_up(state, caller, "removing a passkey").await?;
    state
        .store
        .passkey_remove(caller.user.id, id, state.clock.now(), &caller.audit)
        .await
}

/// Starts the passkey assertion of the pending login named by `pending`: the options for
/// the browser's `navigator.credentials.get`, bound to this sign-in.
pub async fn login_options(state: &AppState, pending: &str) -> Result<Value, Error> {
    let rp = relying_party(state)?;
    let hash = hash_pending(pending).ok_or_else(super::mfa::pending_gone)?;
    let now = state.clock.now();
    let user = state
        .store
        .mfa_pending_login(&hash, now)
        .await?
        .ok_or_else(super::mfa::pending_gone)?
        .user;
    assertion_options(state, rp, &user, Ceremony::Login(&hash), now).await
}

/// Starts a step-up by passkey in the caller's `session`.
pub async fn step_up_options(
    state: &AppState,
    caller: &Caller,
    session: &Session,
) -> Result<Value, Error> {
    let rp = relying_party(state)?;
    let now = state.clock.now();
    assertion_options(state, rp, &caller.user, Ceremony::StepUp(session.id), now).await
}

async fn assertion_options(
    state: &AppState,
    rp: &RelyingParty,
    user: &User,
    ceremony: Ceremony<'_>,
    now: OffsetDateTime,
) -> Result<Value, Error> {
    let passkeys = state.store.passkeys(user.id).await?;
    if passkeys.is_empty() {
        return Err(Error::Conflict(
            "no passkey is registered for this account".into(),
        ));
    }
    let challenge = rp.start_authentication(&stored(&passkeys))?;
    state
        .store
        .passkey_challenge_put(ceremony, user.id, &challenge.state, expiry(state, now), now)
        .await?;
    Ok(challenge.options)
}

/// Verifies a passkey's answer for `user` against the challenge waiting for `ceremony`
/// (taken, whatever the outcome): the proof to spend, or the reason it is refused (counted
/// as a failed login by the caller).
pub(crate) async fn verify(
    state: &AppState,
    user: &User,
    ceremony: Ceremony<'_>,
    credential: &Value,
    now: OffsetDateTime,
) -> Result<Result<Proof, &'static str>, Error> {
    let rp = relying_party(state)?;
    let passkeys = state.store.passkeys(user.id).await?;
    if passkeys.is_empty() {
        return Err(Error::Conflict(
            "no passkey is registered for this account".into(),
        ));
    }
    let Some(challenge) = state
        .store
        .passkey_challenge_take(ceremony, user.id, now)
        .await?
    else {
        return Ok(Err("passkey-no-challenge"));
    };
    let found = |id: &[u8]| {
        passkeys
            .iter()
            .find(|p| p.credential_id == id)
            .map(|p| p.credential.clone())
    };
    Ok(
        match rp.finish_authentication(credential, &challenge, found)? {
            Ok(assertion) => Ok(Proof::Passkey {
                credential_id: assertion.credential_id,
                counter: assertion.counter,
                stored: assertion.stored,
            }),
            Err(refusal) => Err(refusal.reason()),
        },
    )
}

/// Whether this node can use passkeys at all (the pages offer them only then).
pub fn available(state: &AppState) -> bool {
    state.passkeys.is_ok()
}
