//! Accounts with no password: an administrator creates the account without one and issues
//! an **enrolment link** ([`issue`]); its holder opens it, and their browser registers a
//! discoverable passkey for the account ([`options`], then [`finish`]); from then on the
//! passkey signs them in alone (`identity::passkey_sign_in`), as both factors at once.
//!
//! **The link** is `{public_origin}/enrol#rpe_…`: the token rides in the fragment, which
//! browsers never send, so it reaches no server log and no `Referer`. Only its SHA-256 is
//! stored. It lapses after `[mfa] enrolment_hours`, is replaced by a newer one, and is
//! spent by the registration that uses it. It serves only an account that still has no
//! password and no directory behind it, so it can never become a second way into an
//! account that signs in otherwise; issuing one is a sensitive operation (administrators,
//! after a step-up), audited as `user.enrolment.issue`, and the registration it leads to as
//! `user.mfa.passkey.add` with `"enrolment": true`.
//!
//! **Losing the passkey** is recovered the same way: the administrator issues a new link
//! (the old passkeys stay until removed or reset with the user's factors).

use lettre::AsyncTransport;
use rampart_authz::policy::Operation;
use rampart_core::{AuditEvent, Error, Outcome, User, UserId};
use rampart_identity::passkey::RelyingParty;
use rampart_identity::token::{hash_enrolment_token, SessionToken};
use rampart_store::{Ceremony, StoredPasskey};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::login;
use super::mfa::require_step_up;
use super::passkeys::{passkey_name, registration, relying_party};
use crate::caller::{Caller, Origin};
use crate::state::AppState;

/// An enrolment issued: the secret link, shown once (never in `Debug`).
pub struct Issued {
    /// The link to hand to the account's holder (`…/enrol#rpe_…`).
    pub link: String,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("link", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

fn gone() -> Error {
    Error::Unauthenticated(
        "this enrolment link is unknown, used, replaced or expired: ask your administrator \
         for a new one",
    )
}

/// The user a presented enrolment `token` serves, and its hash. The source address's
/// throttle is checked first, and a token that serves nobody (malformed, or unknown, used,
/// replaced or expired: one lookup cannot tell these apart) is an audited refusal
/// (`user.enrolment.use`, failure, with the reason and never the token) counted against
/// the address, so a script trying tokens is held back as one trying passwords is.
async fn holder(state: &AppState, origin: &Origin, token: &str) -> Result<(User, [u8; 32]), Error> {
    login::check_address(state, origin, None)?;
    let Some(hash) = hash_enrolment_token(token) else {
        return Err(refused(state, origin, "malformed-link").await);
    };
    match state
        .store
        .enrolment_user(&hash.0, state.clock.now())
        .await?
    {
        Some(user) => Ok((user, hash.0)),
        None => Err(refused(state, origin, "unknown-or-expired-link").await),
    }
}

/// Records a presented enrolment token that serves nobody and counts it against the source
/// address; the refusal to give.
async fn refused(state: &AppState, origin: &Origin, reason: &str) -> Error {
    let event = AuditEvent {
        action: "user.enrolment.use",
        target: None,
        outcome: Outcome::Failure,
        details: json!({ "reason": reason }).to_string(),
    };
    match login::refused_unnamed(state, origin, &event).await {
        Ok(()) => gone(),
        Err(e) => e,
    }
}

/// An administrator issues an enrolment link for user `id`, an account with no password
/// (a step-up first); any earlier link of the user stops working.
pub async fn issue(state: &AppState, caller: &Caller, id: &str) -> Result<Issued, Error> {
    let (id, rp) = issuer(state, caller, id).await?;
    require_step_up(state, caller, "issuing an enrolment link").await?;
    let (token, now, expires_at) = new_link(state)?;
    state
        .store
        .enrolment_issue(id, &token.hash().0, expires_at, now, None, &caller.audit)
        .await?;
    Ok(Issued {
        link: link(rp.origin(), &token),
        expires_at,
    })
}

/// The user `id` names, if the caller may issue enrolment links, and the relying party
/// (without one no passkey can be registered: said before anything is issued).
async fn issuer<'s>(
    state: &'s AppState,
    caller: &Caller,
    id: &str,
) -> Result<(UserId, &'s RelyingParty), Error> {
    let id = UserId::parse(id, "id")?;
    if !super::may(state, &caller.user, Operation::AdministerUsers).await? {
        return Err(Error::Forbidden(
            "only administrators issue enrolment links".into(),
        ));
    }
    Ok((id, relying_party(state)?))
}

/// A new link's token, now, and when it lapses (`[mfa] enrolment_hours`).
fn new_link(state: &AppState) -> Result<(SessionToken, OffsetDateTime, OffsetDateTime), Error> {
    let token = SessionToken::generate_enrolment()?;
    let now = state.clock.now();
    Ok((
        token,
        now,
        now + Duration::hours(state.config.mfa.enrolment_hours.into()),
    ))
}

/// The link of `token` on the site at `origin`: the token in the fragment.
fn link(origin: &str, token: &SessionToken) -> String {
    format!("{origin}/enrol#{}", token.secret())
}

/// An enrolment link mailed: to which address, and until when it works.
#[derive(Debug)]
pub struct Mailed {
    /// The account's e-mail address, where the link went.
    pub to: String,
    /// When the link lapses.
    pub expires_at: OffsetDateTime,
}

/// An administrator has an enrolment link for user `id` mailed to the account's address
/// through the platform's mail server (`[support] smtp_host`), so that nobody but its
/// holder ever sees it (a step-up first; any earlier link stops working).
///
/// Answered once the mail server took the message. If it does not, the answer is
/// `mail-not-sent` and a `user.enrolment.mail` failure is recorded: the link was issued
/// (and replaced any earlier one) but reaches nobody, and lapses unused.
pub async fn mail(state: &AppState, caller: &Caller, id: &str) -> Result<Mailed, Error> {
    let (id, rp) = issuer(state, caller, id).await?;
    let mailer = crate::mail::transport(state)
        .map_err(|why| {
            tracing::warn!(error = %why, "an enrolment link cannot be mailed");
            Error::Conflict(
                "the mail server's settings ([support] smtp_*) cannot be used; the log says \
                 why"
                .into(),
            )
        })?
        .ok_or_else(|| {
            Error::Conflict(
                "no mail server is configured ([support] smtp_host): issue the link and hand \
                 it over instead"
                    .into(),
            )
        })?;
    require_step_up(state, caller, "issuing an enrolment link").await?;
    let user = state
        .store
        .user(id)
        .await?
        .ok_or(Error::NotFound { what: "user" })?;
    let Some(to) = user.email.clone() else {
        return Err(Error::Conflict(format!(
            "{} has no e-mail address: set one, or issue the link and hand it over",
            user.username
        )));
    };
    let (token, now, expires_at) = new_link(state)?;
    let letter = crate::mail::message(
        state,
        &to,
        "Set up your passkey".to_owned(),
        enrolment_letter(&user.username, rp.origin(), &token, expires_at),
    )
    .map_err(|why| {
        tracing::warn!(error = %why, "an enrolment link cannot be mailed");
        Error::Conflict(format!(
            "a message to {to} cannot be built (the sender, [support] smtp_from, or the \
             address); the log says why"
        ))
    })?;
    state
        .store
        .enrolment_issue(
            id,
            &token.hash().0,
            expires_at,
            now,
            Some(&to),
            &caller.audit,
        )
        .await?;
    if let Err(why) = mailer.send(letter).await {
        tracing::warn!(error = %why, "an enrolment link was not sent");
        let event = AuditEvent {
            action: "user.enrolment.mail",
            target: Some(format!("user:{id}")),
            outcome: Outcome::Failure,
            details: json!({ "mailed_to": to, "reason": "not-accepted" }).to_string(),
        };
        state
            .store
            .record_event(&caller.audit, &event, state.clock.now())
            .await?;
        return Err(Error::Mail(format!(
            "the mail server did not take the message to {to}, so the link reaches nobody: \
             try again, or issue a link and hand it over"
        )));
    }
    Ok(Mailed { to, expires_at })
}

/// The body of the message that carries an enrolment link.
fn enrolment_letter(
    username: &str,
    origin: &str,
    token: &SessionToken,
    expires_at: OffsetDateTime,
) -> String {
    let until = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "a few days".into());
    format!(
        "An administrator of {origin} created the account {username} for you. It has no \
         password: you sign in with a passkey, kept by this device or your phone.\n\n\
         Open this link to create your passkey:\n  {link}\n\n\
         It works once, until {until}. If you did not expect this message, ignore it: \
         nobody can use the account without the passkey the link creates.\n",
        link = link(origin, token),
    )
}

/// The options for the browser's `navigator.credentials.create`, for the holder of the
/// enrolment `token`: a discoverable passkey, user verification required.
pub async fn options(
    state: &AppState,
    origin: &Origin,
    token: &str,
) -> Result<(User, Value), Error> {
    let rp = relying_party(state)?;
    let (user, hash) = holder(state, origin, token).await?;
    let existing: Vec<String> = state
        .store
        .passkeys(user.id)
        .await?
        .into_iter()
        .map(|p| p.credential)
        .collect();
    let challenge = rp.start_enrolment(user.id, &user.username, &existing)?;
    let now = state.clock.now();
    let expires_at = now + Duration::minutes(state.config.mfa.pending_login_minutes.into());
    state
        .store
        .passkey_challenge_put(
            Ceremony::Enrol(&hash),
            user.id,
            &challenge.state,
            expires_at,
            now,
        )
        .await?;
    Ok((user, challenge.options))
}

/// Finishes the enrolment `token` with the browser's `credential`, naming the passkey
/// `name`: the passkey is registered and the link spent, in one transaction. The holder
/// then signs in with the passkey alone.
pub async fn finish(
    state: &AppState,
    origin: &Origin,
    token: &str,
    name: &str,
    credential: &Value,
) -> Result<(User, StoredPasskey), Error> {
    let rp = relying_party(state)?;
    let name = passkey_name(name)?;
    let (user, hash) = holder(state, origin, token).await?;
    let now = state.clock.now();
    let Some(ceremony) = state
        .store
        .passkey_challenge_take(Ceremony::Enrol(&hash), user.id, now)
        .await?
    else {
        return Err(Error::Conflict(
            "no passkey registration is waiting for this enrolment (or it expired, or was \
             answered already): start again from the link"
                .into(),
        ));
    };
    let new = registration(state, rp, user.id, credential, &ceremony).await?;
    let audit = origin.audit_as(&user);
    let passkey = state
        .store
        .enrolment_finish(
            &hash,
            user.id,
            name,
            &new.credential_id,
            &new.stored,
            new.counter,
            now,
            &audit,
        )
        .await?
        .ok_or_else(gone)?;
    tracing::info!(user = %user.id, passkey = %passkey.id, "passkey enrolled");
    Ok((user, passkey))
}
