//! The second factor at the node: who must have one (the `[mfa]` policy), enrolment of a
//! TOTP app with its recovery codes, the second step of a sign-in, step-up for sensitive
//! operations, and an administrator's reset. Passkeys are the other factor
//! ([`super::passkeys`]): a sign-in or step-up takes either. The rules of codes are
//! [`rampart_identity::mfa`]'s; the store spends a code in the transaction that acts on it.
//!
//! **Sign-in.** After the first factor (a password, checked by Rampart or a directory),
//! [`after_first_factor`] opens the session only for a user who has no second factor and
//! is not required to have one. Anyone else gets a pending login (a token valid for
//! `[mfa] pending_login_minutes`, not a session), and [`finish_login`] takes a TOTP code or
//! a recovery code for it. A user the policy requires and who has no factor yet enrols
//! with the pending login ([`enrol_pending`], then `finish_login` with the first code,
//! which also hands out the recovery codes), and gets no session before that.
//!
//! **Failures count.** A wrong, replayed or unknown code at sign-in or step-up is a failed
//! login of the username: the same lockout counters, throttles and `auth.login` failure
//! event as a wrong password, and a locked username is refused before any code is looked
//! at, recovery codes included.
//!
//! **Step-up.** [`require_step_up`] refuses a sensitive operation (`step-up-required`, 403)
//! when the session's last second factor is older than `[mfa] step_up_minutes`, for users
//! who have a factor or must have one; users without one who are not required keep working,
//! since there is nothing to verify.

use rampart_authz::policy::Operation;
use rampart_core::{Error, Provider, Session, SessionId, User, UserId};
use rampart_identity::mfa::{
    self, hash_pending, recovery_digest, PendingToken, RecoveryCodes, TotpSecret, Verdict,
};
use rampart_store::{Ceremony, MfaFactors, Proof, Spent};
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::caller::{Caller, Origin};
use crate::config::mfa::{app_roles, list};
use crate::identity::login::{self, check_throttles, LoggedIn};
use crate::state::AppState;

/// The purpose a TOTP secret is sealed for.
pub(crate) const TOTP: &str = "totp";

/// What a sign-in's first factor led to.
pub enum LoginStep {
    /// Signed in.
    Session(Box<LoggedIn>),
    /// The first factor was right; a second factor must follow (or be enrolled first).
    SecondFactor(Pending),
}

/// A sign-in waiting for its second factor.
#[derive(Debug)]
pub struct Pending {
    /// The token naming it, for the client (once).
    pub token: PendingToken,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
    /// The user has no second factor yet and must enrol one first.
    pub enrol: bool,
    /// What the second step takes for this user: `totp`, `passkey`, `recovery-code`.
    pub methods: Vec<&'static str>,
}

/// A TOTP app to set up: shown once.
pub struct Enrolment {
    /// The secret in base32, to type in by hand.
    pub secret: Zeroizing<String>,
    /// The `otpauth://` URI the QR code holds.
    pub uri: Zeroizing<String>,
    /// The QR code as an inline SVG element.
    pub qr_svg: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(<redacted>)")
    }
}

/// What a second-factor step presents.
#[derive(Debug, Clone, Copy)]
pub enum Factor<'a> {
    /// A code of the TOTP app.
    Code(&'a str),
    /// One of the recovery codes.
    RecoveryCode(&'a str),
    /// A passkey's answer to the challenge of this sign-in or step-up
    /// (`PublicKeyCredential` as JSON, byte strings in base64url).
    Passkey(&'a Value),
}

/// A completed sign-in, and the recovery codes to show once when it enrolled the factor.
pub struct Finished {
    /// The session.
    pub logged_in: LoggedIn,
    /// The new recovery codes, when this sign-in enrolled the user's factor.
    pub recovery_codes: Option<RecoveryCodes>,
}

/// Where a user stands with the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// A confirmed second factor: a TOTP app or a passkey.
    pub enrolled: bool,
    /// A confirmed TOTP app.
    pub totp: bool,
    /// Registered passkeys.
    pub passkeys: u32,
    /// An enrolment waits for its first code.
    pub pending_enrolment: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// The policy requires a second factor of this user.
    pub required: bool,
}

/// Whether the `[mfa]` policy requires a second factor of `user`: an IT user as an
/// administrator or through one of the configured IT roles; anyone holding one of the
/// configured application roles (directly or through a group, as authorization sees it now).
pub async fn required(state: &AppState, user: &User) -> Result<bool, Error> {
    let policy = &state.config.mfa;
    if user.provider == Provider::It {
        if policy.required_for_administrators && user.is_admin {
            return Ok(true);
        }
        let wanted: Vec<&str> = list(&policy.required_it_roles).collect();
        if !wanted.is_empty() {
            let roles = state.store.it_roles_of(user.id).await?;
            if roles.iter().any(|r| wanted.contains(&r.as_str())) {
                return Ok(true);
            }
        }
    }
    holds_required_app_role(state, user).await
}

/// Whether `user` holds one of `[mfa] required_app_roles` now.
async fn holds_required_app_role(state: &AppState, user: &User) -> Result<bool, Error> {
    let wanted: Vec<(&str, &str)> = app_roles(&state.config.mfa.required_app_roles).collect();
    if wanted.is_empty() {
        return Ok(false);
    }
    // A grant made on another node counts from this sign-in on.
    state.authz.fresh(None).await?;
    let view = state.authz.view();
    let Some(num) = view.user_num(user.id) else {
        return Ok(false);
    };
    let now = crate::authz::decide::millis(state.clock.now());
    Ok(wanted.into_iter().any(|(app, role)| {
        view.app(app).is_some_and(|app| {
            let held = view.roles.roles_of(&view.acl, num, app, now);
            match role {
                "*" => !held.is_empty(),
                name => view.role(app, name).is_some_and(|r| held.contains(&r)),
            }
        })
    }))
}

/// The step after a verified first factor: admits the user (disabled account, expired
/// password), then opens the session, or starts a pending login when the user has a second
/// factor or must have one.
pub async fn after_first_factor(
    state: &AppState,
    origin: &Origin,
    user: User,
    user_agent: Option<String>,
) -> Result<LoginStep, Error> {
    login::admit(state, origin, &user).await?;
    let factors = state.store.mfa_factors(user.id).await?;
    let enrolled = factors.enrolled();
    if !enrolled && !required(state, &user).await? {
        return Ok(LoginStep::Session(Box::new(
            login::start_session(state, origin, user, user_agent).await?,
        )));
    }
    let token = PendingToken::generate()?;
    let now = state.clock.now();
    let expires_at = now + Duration::minutes(state.config.mfa.pending_login_minutes.into());
    let source = origin.source.map(|s| s.to_string());
    let agent: Option<String> = user_agent.map(|ua| ua.chars().take(256).collect());
    state
        .store
        .mfa_begin_login(
            &user,
            &token.hash(),
            expires_at,
            source.as_deref(),
            agent.as_deref(),
            !enrolled,
            now,
            &origin.audit_as(&user),
        )
        .await?;
    state.metrics.login(user.provider.as_str(), "second-factor");
    Ok(LoginStep::SecondFactor(Pending {
        token,
        expires_at,
        enrol: !enrolled,
        methods: methods(&factors),
    }))
}

/// The ways a user with these factors completes a sign-in (an enrolment takes a TOTP app).
pub fn methods(factors: &MfaFactors) -> Vec<&'static str> {
    if !factors.enrolled() {
        return vec!["totp"];
    }
    let mut methods = Vec::new();
    if factors.totp_enrolled() {
        methods.push("totp");
    }
    if factors.passkeys > 0 {
        methods.push("passkey");
    }
    if factors.recovery_left > 0 {
        methods.push("recovery-code");
    }
    methods
}

/// The ways the pending login named by `pending` may complete (as [`methods`]; a passkey
/// only where this node can use them).
pub async fn pending_methods(state: &AppState, pending: &str) -> Result<Vec<&'static str>, Error> {
    let hash = hash_pending(pending).ok_or_else(pending_gone)?;
    let found = state
        .store
        .mfa_pending_login(&hash, state.clock.now())
        .await?;
    let user = found.ok_or_else(pending_gone)?.user;
    let factors = state.store.mfa_factors(user.id).await?;
    let mut all = methods(&factors);
    if state.passkeys.is_err() {
        all.retain(|m| *m != "passkey");
    }
    Ok(all)
}

/// The refusal of an unknown, used or lapsed pending login.
pub(crate) fn pending_gone() -> Error {
    Error::Unauthenticated(
        "this sign-in is unknown, finished or expired; sign in again with your password",
    )
}

/// The refusal of a code that is wrong, already used or not the user's.
fn wrong_code() -> Error {
    Error::InvalidSecondFactor("the code is wrong or was already used")
}

/// Starts enrolling a TOTP app for the user of a pending login the policy sent to
/// enrolment: a new secret (any earlier unconfirmed one is replaced). A user who has a
/// factor already is refused.
pub async fn enrol_pending(
    state: &AppState,
    origin: &Origin,
    pending: &str,
) -> Result<Enrolment, Error> {
    let hash = hash_pending(pending).ok_or_else(pending_gone)?;
    let now = state.clock.now();
    let found = state.store.mfa_pending_login(&hash, now).await?;
    let user = found.ok_or_else(pending_gone)?.user;
    begin(state, &user, &origin.audit_as(&user)).await
}

/// Starts enrolling a TOTP app for the signed-in caller.
pub async fn begin_enrolment(state: &AppState, caller: &Caller) -> Result<Enrolment, Error> {
    begin(state, &caller.user, &caller.audit).await
}

async fn begin(
    state: &AppState,
    user: &User,
    ctx: &rampart_core::AuditContext,
) -> Result<Enrolment, Error> {
    let secret = TotpSecret::generate()?;
    let sealed = seal(state, user.id, &secret)?;
    state
        .store
        .mfa_begin_totp(user.id, &sealed, state.clock.now(), ctx)
        .await?;
    let uri = secret.otpauth_uri(&state.config.mfa.issuer, &user.username);
    Ok(Enrolment {
        secret: secret.base32(),
        qr_svg: mfa::qr_svg(&uri, 200)?,
        uri,
    })
}

/// Confirms the caller's waiting enrolment with a first code; the recovery codes to show
/// once. The session counts as having verified a second factor now.
pub async fn confirm_enrolment(
    state: &AppState,
    caller: &Caller,
    session: SessionId,
    code: &str,
) -> Result<RecoveryCodes, Error> {
    let factors = state.store.mfa_factors(caller.user.id).await?;
    let Some(totp) = factors.totp.filter(|t| !t.confirmed) else {
        return Err(Error::Conflict(
            "no enrolment is waiting for a code: start one first".into(),
        ));
    };
    let secret = open(state, caller.user.id, &totp.sealed)?;
    let now = state.clock.now();
    let Verdict::Accepted { step } = mfa::verify(&secret, code, now.unix_timestamp(), None) else {
        return Err(Error::InvalidSecondFactor(
            "the code is wrong: check that the app's clock is right and type its newest code",
        ));
    };
    let codes = RecoveryCodes::generate()?;
    let spent = state
        .store
        .mfa_confirm_totp(
            caller.user.id,
            step,
            &codes.digests,
            Some(session),
            now,
            &caller.audit,
        )
        .await?;
    match spent {
        Spent::Done => Ok(codes),
        _ => Err(wrong_code()),
    }
}

/// New recovery codes for the caller in place of the old ones (a step-up first).
pub async fn new_recovery_codes(state: &AppState, caller: &Caller) -> Result<RecoveryCodes, Error> {
    if !state.store.mfa_factors(caller.user.id).await?.enrolled() {
        return Err(Error::Conflict(
            "recovery codes belong to a two-factor app: set one up first".into(),
        ));
    }
    require_step_up(state, caller, "replacing recovery codes").await?;
    let codes = RecoveryCodes::generate()?;
    state
        .store
        .mfa_replace_recovery_codes(
            caller.user.id,
            &codes.digests,
            state.clock.now(),
            &caller.audit,
        )
        .await?;
    Ok(codes)
}

/// Where the caller stands with the second factor.
pub async fn status(state: &AppState, caller: &Caller) -> Result<Status, Error> {
    let factors = state.store.mfa_factors(caller.user.id).await?;
    Ok(Status {
        enrolled: factors.enrolled(),
        totp: factors.totp_enrolled(),
        passkeys: factors.passkeys,
        pending_enrolment: factors.totp.as_ref().is_some_and(|t| !t.confirmed),
        recovery_codes_left: factors.recovery_left,
        required: required(state, &caller.user).await?,
    })
}

/// The second step of a sign-in: the pending login named by `pending` completed with
/// `factor`, in one transaction with the new session. With an enrolment waiting (a user
/// the policy sent to enrol), the first code confirms it and the recovery codes come back.
pub async fn finish_login(
    state: &AppState,
    origin: &Origin,
    pending: &str,
    factor: Factor<'_>,
    user_agent: Option<String>,
) -> Result<Finished, Error> {
    let hash = hash_pending(pending).ok_or_else(pending_gone)?;
    let now = state.clock.now();
    let user = state
        .store
        .mfa_pending_login(&hash, now)
        .await?
        .ok_or_else(pending_gone)?
        .user;
    let norm = user.username.to_ascii_lowercase();
    let _gate = state.credentials.login_gate(user.provider, &norm).await;
    check_throttles(state, origin, user.provider, &norm).await?;
    login::admit(state, origin, &user).await?;
    let factors = state.store.mfa_factors(user.id).await?;
    let ceremony = Ceremony::Login(&hash);
    let (proof, enrolling) = match checked(state, &user, &factors, factor, ceremony, now).await? {
        Ok(found) => found,
        Err(reason) => return Err(failed(state, origin, &user, reason).await),
    };
    let used = proof.factor();
    let recovery = enrolling.then(RecoveryCodes::generate).transpose()?;
    let (token, new, lifetime) = login::new_session(state, origin, user_agent)?;
    let done = state
        .store
        .mfa_finish_login(
            &hash,
            &user,
            proof,
            recovery.as_ref().map(|r| r.digests.as_slice()),
            &new,
            now,
            &origin.audit_as(&user),
        )
        .await?;
    let session = match done {
        Ok(session) => session,
        Err(Spent::PendingGone) => return Err(pending_gone()),
        Err(spent) => return Err(failed(state, origin, &user, spent.reason()).await),
    };
    state.metrics.login(user.provider.as_str(), "ok");
    tracing::info!(user = %user.id, session = %session.id, factor = used, "login");
    Ok(Finished {
        logged_in: LoggedIn {
            token,
            session,
            user,
            lifetime,
        },
        recovery_codes: recovery,
    })
}

/// Verifies a second factor again in the caller's session (a step-up). Throttles, lockout
/// and failure counting are those of a sign-in.
pub async fn step_up(
    state: &AppState,
    caller: &Caller,
    session: &Session,
    factor: Factor<'_>,
) -> Result<(), Error> {
    let user = &caller.user;
    let origin = Origin {
        source: caller.audit.source.as_deref().and_then(|s| s.parse().ok()),
        audit: caller.audit.clone(),
    };
    let norm = user.username.to_ascii_lowercase();
    let _gate = state.credentials.login_gate(user.provider, &norm).await;
    check_throttles(state, &origin, user.provider, &norm).await?;
    let factors = state.store.mfa_factors(user.id).await?;
    if !factors.enrolled() {
        return Err(Error::Conflict(
            "no two-factor app is set up for this account: enrol one first".into(),
        ));
    }
    let now = state.clock.now();
    let ceremony = Ceremony::StepUp(session.id);
    let proof = match checked(state, user, &factors, factor, ceremony, now).await? {
        Ok((proof, _)) => proof,
        Err(reason) => return Err(failed(state, &origin, user, reason).await),
    };
    match state
        .store
        .mfa_step_up(user.id, session.id, proof, now, &caller.audit)
        .await?
    {
        Spent::Done => Ok(()),
        spent => Err(failed(state, &origin, user, spent.reason()).await),
    }
}

/// Refuses `what` when the caller must verify a second factor again first: they have one
/// or must have one, and their session's last one is older than the step-up window.
pub async fn require_step_up(state: &AppState, caller: &Caller, what: &str) -> Result<(), Error> {
    let minutes = state.config.mfa.step_up_minutes;
    let window = Duration::minutes(minutes.into());
    let now = state.clock.now();
    if caller.second_factor_at.is_some_and(|at| now - at < window) {
        return Ok(());
    }
    let enrolled = state.store.mfa_factors(caller.user.id).await?.enrolled();
    if !enrolled && !required(state, &caller.user).await? {
        return Ok(());
    }
    Err(Error::StepUpRequired(format!(
        "{what} needs a second factor verified in the last {minutes} minutes: verify one \
         with POST /api/v1/auth/step-up and try again"
    )))
}

/// Whether deploying to `environment` is a sensitive operation (`[mfa]
/// step_up_environments`).
pub fn steps_up_environment(state: &AppState, environment: &str) -> bool {
    list(&state.config.mfa.step_up_environments).any(|e| e == environment)
}

/// An administrator removes every second factor of user `id` and ends their sessions (a
/// step-up first); how many sessions were open. The adapter checks the administrator.
pub async fn reset(state: &AppState, caller: &Caller, id: &str) -> Result<u64, Error> {
    let id = UserId::parse(id, "id")?;
    if !crate::identity::may(state, &caller.user, Operation::AdministerUsers).await? {
        return Err(Error::Forbidden(
            "only administrators reset a user's second factors".into(),
        ));
    }
    require_step_up(state, caller, "resetting a user's second factors").await?;
    state
        .store
        .mfa_reset(id, state.clock.now(), &caller.audit)
        .await
}

/// The proof a presented factor makes and whether it confirms an enrolment, or the reason
/// it is refused (counted as a failed login). A passkey answers the challenge waiting for
/// `ceremony`.
async fn checked(
    state: &AppState,
    user: &User,
    factors: &MfaFactors,
    factor: Factor<'_>,
    ceremony: Ceremony<'_>,
    now: OffsetDateTime,
) -> Result<Result<(Proof, bool), &'static str>, Error> {
    Ok(match factor {
        Factor::Code(code) => {
            let Some(totp) = &factors.totp else {
                return Err(Error::Conflict(
                    "no two-factor app is set up for this account yet: start its enrolment \
                     first"
                        .into(),
                ));
            };
            let secret = open(state, user.id, &totp.sealed)?;
            let last = (totp.last_step >= 0).then_some(totp.last_step);
            match mfa::verify(&secret, code, now.unix_timestamp(), last) {
                Verdict::Accepted { step } => Ok((Proof::Totp { step }, !totp.confirmed)),
                Verdict::Replayed => Err("replayed-code"),
                Verdict::Wrong => Err("wrong-code"),
            }
        }
        Factor::RecoveryCode(typed) => {
            if !factors.enrolled() {
                return Err(Error::Conflict(
                    "recovery codes come with a two-factor app: set one up first".into(),
                ));
            }
            match recovery_digest(typed) {
                Some(digest) => Ok((Proof::Recovery { digest }, false)),
                None => Err("wrong-recovery-code"),
            }
        }
        Factor::Passkey(credential) => {
            crate::identity::passkeys::verify(state, user, ceremony, credential, now)
                .await?
                .map(|proof| (proof, false))
        }
    })
}

/// Counts a refused second factor as a failed login of the user and gives the refusal.
async fn failed(state: &AppState, origin: &Origin, user: &User, reason: &str) -> Error {
    match login::count_failure_of(state, origin, user, reason).await {
        Ok(()) if reason.starts_with("passkey") => Error::InvalidSecondFactor(
            "the passkey was refused: use one registered for this account, on this site, \
             answering this sign-in's newest challenge",
        ),
        Ok(()) => wrong_code(),
        Err(e) => e,
    }
}

/// The refusal when no master key is configured.
fn no_master_key() -> Error {
    Error::Conflict(
        "two-factor authentication needs the server's master key ([keys] master_key), which \
         is not configured"
            .into(),
    )
}

fn seal(state: &AppState, user: UserId, secret: &TotpSecret) -> Result<Vec<u8>, Error> {
    state
        .keys
        .seal_secret(TOTP, &user.to_string(), secret.as_bytes())
        .unwrap_or_else(|| Err(no_master_key()))
}

fn open(state: &AppState, user: UserId, sealed: &[u8]) -> Result<TotpSecret, Error> {
    let plain = state
        .keys
        .open_secret(TOTP, &user.to_string(), sealed)
        .unwrap_or_else(|| Err(no_master_key()))?;
    TotpSecret::from_bytes(plain.to_vec())
}
