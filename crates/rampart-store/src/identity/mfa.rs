//! The second factor as stored (migrations 0009 and 0015): a user's TOTP factor (its sealed secret,
//! confirmed or waiting for a first code, the last time step accepted), recovery codes by
//! digest, pending logins by token hash, and when a session last verified a second factor.
//!
//! Spending a code is one conditional `UPDATE` inside the transaction that acts on it: a
//! TOTP step only if it is later than the stored one, a recovery code only if it is unused,
//! a pending login only if it is there and unexpired (deleted). Two requests racing with the
//! same code or token get one success between them on both backends (SQLite has one writer;
//! PostgreSQL's row lock makes the second wait and then see the first's change).

use rampart_core::{AuditContext, Error, Session, SessionId, User, UserId};
use serde_json::json;
use time::OffsetDateTime;

use super::sessions::{login_success_in, revoke_all_sessions, SignedInWith};
use super::user_target;
use super::users::{user_from_row, user_select};
use crate::backend::{from_millis, to_millis};
use crate::db::{Arg, Tx};
use crate::{NewSession, Store};

/// A user's TOTP factor as stored.
#[derive(Clone)]
pub struct StoredTotp {
    /// The secret, sealed under the master key.
    pub sealed: Vec<u8>,
    /// Whether a first valid code confirmed it.
    pub confirmed: bool,
    /// The last time step accepted (−1 before any).
    pub last_step: i64,
}

impl std::fmt::Debug for StoredTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTotp")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A user's second factors as stored.
#[derive(Debug, Clone)]
pub struct MfaFactors {
    /// The TOTP factor, confirmed or not.
    pub totp: Option<StoredTotp>,
    /// Unused recovery codes.
    pub recovery_left: u32,
    /// Registered passkeys.
    pub passkeys: u32,
}

impl MfaFactors {
    /// Whether the user has a confirmed second factor: a TOTP app or a passkey.
    pub fn enrolled(&self) -> bool {
        self.totp_enrolled() || self.passkeys > 0
    }

    /// Whether the user has a confirmed TOTP app.
    pub fn totp_enrolled(&self) -> bool {
        self.totp.as_ref().is_some_and(|t| t.confirmed)
    }
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    /// Whose password was verified.
    pub user: User,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
    /// The source address of the password step.
    pub source: Option<String>,
    /// The client's `User-Agent` at the password step.
    pub user_agent: Option<String>,
}

/// What a second-factor step presents, as the service verified it.
#[derive(Debug, Clone)]
pub enum Proof {
    /// A TOTP code, the code of this time step (later than the last accepted one when it
    /// was read).
    Totp {
        /// The step.
        step: i64,
    },
    /// A recovery code, by digest.
    Recovery {
        /// Its digest.
        digest: [u8; 32],
    },
    /// A passkey's verified assertion: its credential, the counter it presented (which must
    /// advance past the stored one unless both are zero) and the credential as it is now.
    Passkey {
        /// The credential id.
        credential_id: Vec<u8>,
        /// The counter presented.
        counter: u32,
        /// The credential brought up to date, to store.
        stored: String,
    },
}

impl Proof {
    /// How audit events name the factor.
    pub fn factor(&self) -> &'static str {
        match self {
            Proof::Totp { .. } => "totp",
            Proof::Recovery { .. } => "recovery-code",
            Proof::Passkey { .. } => "passkey",
        }
    }
}

/// Why a step that presented a verified-looking proof was refused in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// The proof was spent and the step done.
    Done,
    /// The code's step was used meanwhile (a replay racing the first use).
    Replayed,
    /// No unused recovery code has this digest.
    UnknownRecoveryCode,
    /// The pending login is gone: used, expired, or ended by a reset.
    PendingGone,
    /// The passkey's counter did not advance past the stored one (a copied authenticator or
    /// a replay racing the first use), or the passkey is gone.
    CounterNotIncreased,
}

impl Spent {
    /// The reason an audit event gives for a refusal.
    pub fn reason(self) -> &'static str {
        match self {
            Spent::Done => "done",
            Spent::Replayed => "replayed-code",
            Spent::UnknownRecoveryCode => "wrong-recovery-code",
            Spent::PendingGone => "pending-login-gone",
            Spent::CounterNotIncreased => "passkey-counter-not-increased",
        }
    }
}

/// Spends `proof` for `user` inside the open transaction; `enrolling` spends a TOTP code
/// on the factor still waiting for its first code (and confirms it), otherwise only on a
/// confirmed one.
pub(super) async fn spend(
    tx: &mut Tx<'_>,
    user: UserId,
    proof: &Proof,
    enrolling: bool,
    now: OffsetDateTime,
) -> Result<Spent, Error> {
    let at = to_millis(now);
    let changed = match proof {
        &Proof::Totp { step } if enrolling => {
            tx.exec(
                "UPDATE mfa_totp SET last_step = $1, confirmed_at = $3 \
                 WHERE user_id = $2 AND last_step < $1 AND confirmed_at IS NULL",
                [step.into(), user.to_string().into(), at.into()],
            )
            .await?
        }
        &Proof::Totp { step } => {
            tx.exec(
                "UPDATE mfa_totp SET last_step = $1 \
                 WHERE user_id = $2 AND last_step < $1 AND confirmed_at IS NOT NULL",
                [step.into(), user.to_string().into()],
            )
            .await?
        }
        Proof::Recovery { digest } => {
            tx.exec(
                "UPDATE mfa_recovery_codes SET used_at = $1 \
                 WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
                [at.into(), user.to_string().into(), Arg::from(&digest[..])],
            )
            .await?
        }
        Proof::Passkey {
            credential_id,
            counter,
            stored,
        } => {
            // The counter rule of `rampart_identity::passkey::counter_advances`, again
            // under the row's lock.
            tx.exec(
                "UPDATE webauthn_credentials SET sign_count = $1, credential = $2, \
                 last_used_at = $3 WHERE user_id = $4 AND credential_id = $5 \
                 AND (sign_count < $1 OR ($1 = 0 AND sign_count = 0))",
                [
                    i64::from(*counter).into(),
                    stored.as_str().into(),
                    at.into(),
                    user.to_string().into(),
                    Arg::from(credential_id.as_slice()),
                ],
            )
            .await?
        }
    };
    Ok(match (changed, proof) {
        (1.., _) => Spent::Done,
        (0, Proof::Totp { .. }) => Spent::Replayed,
        (0, Proof::Recovery { .. }) => Spent::UnknownRecoveryCode,
        (0, Proof::Passkey { .. }) => Spent::CounterNotIncreased,
    })
}

/// Replaces the user's recovery codes with `digests` inside the open transaction.
async fn replace_recovery_codes(
    tx: &mut Tx<'_>,
    user: UserId,
    digests: &[[u8; 32]],
) -> Result<(), Error> {
    tx.exec(
        "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
        [user.to_string().into()],
    )
    .await?;
    for digest in digests {
        tx.exec(
            "INSERT INTO mfa_recovery_codes (user_id, digest) VALUES ($1, $2)",
            [user.to_string().into(), Arg::from(&digest[..])],
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// One stored TOTP secret and its user, if any: sealed under the master key, which must
    /// then be configured and open it.
    pub async fn mfa_any_secret(&self) -> Result<Option<(UserId, Vec<u8>)>, Error> {
        let pool = self.reader();
        let row = pool
            .row_opt("SELECT user_id, secret FROM mfa_totp LIMIT 1", [])
            .await?;
        match row {
            Some(row) => {
                let id: String = row.get("user_id")?;
                Ok(Some((UserId::parse(&id, "user_id")?, row.get("secret")?)))
            }
            None => Ok(None),
        }
    }

    /// The second factors of `user`.
    pub async fn mfa_factors(&self, user: UserId) -> Result<MfaFactors, Error> {
        let pool = self.reader();
        let totp = pool
            .row_opt(
                "SELECT secret, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1",
                [user.to_string().into()],
            )
            .await?;
        let totp = match totp {
            Some(row) => Some(StoredTotp {
                sealed: row.get("secret")?,
                confirmed: row.get::<Option<i64>, _>("confirmed_at")?.is_some(),
                last_step: row.get("last_step")?,
            }),
            None => None,
        };
        let left: i64 = pool
            .scalar(
                "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                [user.to_string().into()],
            )
            .await?;
        let passkeys: i64 = pool
            .scalar(
                "SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = $1",
                [user.to_string().into()],
            )
            .await?;
        Ok(MfaFactors {
            totp,
            recovery_left: u32::try_from(left).unwrap_or(0),
            passkeys: u32::try_from(passkeys).unwrap_or(0),
        })
    }

    /// Starts enrolling a TOTP factor: stores its sealed secret, waiting for a first code,
    /// in place of any earlier unconfirmed one. A user with a confirmed factor is refused
    /// (an administrator resets it first). Records `user.mfa.totp.begin`.
    pub async fn mfa_begin_totp(
        &self,
        user: UserId,
        sealed: &[u8],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let confirmed = tx
            .row_opt(
                "SELECT 1 AS one FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                [user.to_string().into()],
            )
            .await?;
        if confirmed.is_some() {
            return Err(Error::Conflict(
                "two-factor authentication is already set up for this account; an \
                 administrator can reset it"
                    .into(),
            ));
        }
        tx.exec(
            "DELETE FROM mfa_totp WHERE user_id = $1",
            [user.to_string().into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO mfa_totp (user_id, secret, confirmed_at, last_step, created_at) \
             VALUES ($1, $2, NULL, -1, $3)",
            [
                user.to_string().into(),
                Arg::from(sealed),
                to_millis(now).into(),
            ],
        )
        .await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.totp.begin",
            user_target(user),
            json!({ "factor": "totp" }),
        )
        .await?;
        owned.commit().await
    }

    /// Confirms the waiting TOTP factor with the step of a first valid code and gives the
    /// user these recovery codes; `session` (the signed-in session that enrolled) counts as
    /// having verified a second factor now. `Spent::Replayed` when no factor waits or the
    /// step is not later than the last one. Records `user.mfa.enrol`.
    pub async fn mfa_confirm_totp(
        &self,
        user: UserId,
        step: i64,
        recovery: &[[u8; 32]],
        session: Option<SessionId>,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Spent, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let spent = spend(tx, user, &Proof::Totp { step }, true, now).await?;
        if spent != Spent::Done {
            return Ok(spent);
        }
        replace_recovery_codes(tx, user, recovery).await?;
        if let Some(session) = session {
            tx.exec(
                "UPDATE sessions SET second_factor_at = $1 WHERE id = $2",
                [to_millis(now).into(), session.to_string().into()],
            )
            .await?;
        }
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.enrol",
            user_target(user),
            json!({ "factor": "totp", "recovery_codes": recovery.len() }),
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(Spent::Done)
    }

    /// Gives the enrolled user new recovery codes in place of the old ones. Records
    /// `user.mfa.recovery-codes`.
    pub async fn mfa_replace_recovery_codes(
        &self,
        user: UserId,
        recovery: &[[u8; 32]],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        replace_recovery_codes(tx, user, recovery).await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.recovery-codes",
            user_target(user),
            json!({ "recovery_codes": recovery.len() }),
        )
        .await?;
        owned.commit().await
    }

    /// Records a sign-in whose password was right and which waits for its second factor
    /// (or its enrolment): the pending login by token hash, and `auth.login.pending`.
    /// Pending logins lapsed by `now` are cleared on the way.
    #[allow(clippy::too_many_arguments)] // one transaction's inputs, each named
    pub async fn mfa_begin_login(
        &self,
        user: &User,
        token_hash: &[u8; 32],
        expires_at: OffsetDateTime,
        source: Option<&str>,
        user_agent: Option<&str>,
        enrol: bool,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "DELETE FROM mfa_pending_logins WHERE expires_at <= $1",
            [to_millis(now).into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO mfa_pending_logins (token_hash, user_id, expires_at, source, user_agent) \
             VALUES ($1, $2, $3, $4, $5)",
            [
                Arg::from(&token_hash[..]),
                user.id.to_string().into(),
                to_millis(expires_at).into(),
                source.into(),
                user_agent.into(),
            ],
        )
        .await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "auth.login.pending",
            user_target(user.id),
            json!({
                "provider": user.provider.as_str(),
                "username": user.username,
                "second_factor": if enrol { "enrolment-required" } else { "required" },
            }),
        )
        .await?;
        owned.commit().await
    }

    /// The pending login whose token hashes to `token_hash`, unless it lapsed by `now`.
    pub async fn mfa_pending_login(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PendingLogin>, Error> {
        let pool = self.reader();
        let row = pool
            .row_opt(
                concat!(
                    user_select!(
                        "p.expires_at AS pending_expires_at, p.source AS pending_source, \
                         p.user_agent AS pending_user_agent,"
                    ),
                    "JOIN mfa_pending_logins p ON p.user_id = u.id \
                     WHERE p.token_hash = $1 AND p.expires_at > $2"
                ),
                [Arg::from(&token_hash[..]), to_millis(now).into()],
            )
            .await?;
        match row {
            Some(row) => Ok(Some(PendingLogin {
                user: user_from_row(&row)?,
                expires_at: from_millis(row.get("pending_expires_at")?)?,
                source: row.get("pending_source")?,
                user_agent: row.get("pending_user_agent")?,
            })),
            None => Ok(None),
        }
    }

    /// Completes a pending login with a verified second factor, in one transaction: the
    /// pending login is consumed, the proof spent (with `enrol`, the waiting TOTP factor is
    /// confirmed and these recovery codes given), and the session opened as by
    /// [`Store::record_login_success`], remembering the second factor. Any refusal changes
    /// nothing.
    #[allow(clippy::too_many_arguments)] // one transaction's inputs, each named
    pub async fn mfa_finish_login(
        &self,
        token_hash: &[u8; 32],
        user: &User,
        proof: Proof,
        enrol: Option<&[[u8; 32]]>,
        new: &NewSession,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Result<Session, Spent>, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let consumed = tx
            .exec(
                "DELETE FROM mfa_pending_logins \
                 WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
                [
                    Arg::from(&token_hash[..]),
                    user.id.to_string().into(),
                    to_millis(now).into(),
                ],
            )
            .await?;
        if consumed == 0 {
            return Ok(Err(Spent::PendingGone));
        }
        let spent = spend(tx, user.id, &proof, enrol.is_some(), now).await?;
        if spent != Spent::Done {
            return Ok(Err(spent));
        }
        if let Some(recovery) = enrol {
            replace_recovery_codes(tx, user.id, recovery).await?;
            crate::audit::record(
                tx,
                ctx,
                now,
                "user.mfa.enrol",
                user_target(user.id),
                json!({ "factor": "totp", "recovery_codes": recovery.len() }),
            )
            .await?;
        }
        let with = SignedInWith::SecondFactor(proof.factor());
        let session = login_success_in(tx, user, new, now, ctx, with).await?;
        owned.commit().await?;
        Ok(Ok(session))
    }

    /// Verifies a second factor again in a signed-in session (a step-up): the proof spent
    /// and the session's second-factor time set to `now`, with `auth.step-up`, in one
    /// transaction; every node reloads the session.
    pub async fn mfa_step_up(
        &self,
        user: UserId,
        session: SessionId,
        proof: Proof,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Spent, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let spent = spend(tx, user, &proof, false, now).await?;
        if spent != Spent::Done {
            return Ok(spent);
        }
        tx.exec(
            "UPDATE sessions SET second_factor_at = $1 WHERE id = $2 AND user_id = $3",
            [
                to_millis(now).into(),
                session.to_string().into(),
                user.to_string().into(),
            ],
        )
        .await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "auth.step-up",
            user_target(user),
            json!({ "factor": proof.factor(), "session": session.to_string() }),
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(Spent::Done)
    }

    /// Removes every second factor of `user` (TOTP, recovery codes, passkeys and their waiting
    /// ceremonies, pending logins) and ends
    /// their sessions, with `user.mfa.reset`; returns how many sessions were open.
    pub async fn mfa_reset(
        &self,
        user: UserId,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<u64, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let exists = tx
            .row_opt(
                "SELECT 1 AS one FROM users WHERE id = $1",
                [user.to_string().into()],
            )
            .await?;
        if exists.is_none() {
            return Err(Error::NotFound { what: "user" });
        }
        let passkeys: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = $1",
                [user.to_string().into()],
            )
            .await?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM mfa_totp WHERE user_id = $1",
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
            "DELETE FROM mfa_pending_logins WHERE user_id = $1",
            "DELETE FROM webauthn_credentials WHERE user_id = $1",
            "DELETE FROM webauthn_challenges WHERE user_id = $1",
        ] {
            removed += tx.exec(sql, [user.to_string().into()]).await?;
        }
        let revoked = revoke_all_sessions(tx, user, to_millis(now)).await?;
        let why = "the user's second factors were reset";
        crate::idp::end_user_families(tx, user, false, why, now, ctx).await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.reset",
            user_target(user),
            json!({
                "had_factors": removed > 0,
                "passkeys_removed": passkeys,
                "sessions_revoked": revoked,
            }),
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(revoked)
    }
}
