//! Login sessions: created with the successful login that opens them, found by token hash.

use rampart_core::{AuditContext, AuditEvent, Error, Outcome, Session, SessionId, User, UserId};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::users::{user_from_row, user_select};
use crate::backend::{from_millis, from_millis_opt, to_millis};
use crate::db::{Arg, Row, Tx};
use crate::Store;

/// A session to open at login.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the secret token; the token itself is never stored.
    pub token_hash: [u8; 32],
    /// Absolute expiry.
    pub expires_at: OffsetDateTime,
    /// Source address of the login.
    pub source: Option<String>,
    /// The client's `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

/// An open session as its user sees it in a list of their sessions.
#[derive(Debug, Clone)]
pub struct OpenSession {
    /// The session.
    pub session: Session,
    /// Source address of the login.
    pub source: Option<String>,
    /// The client's `User-Agent` at login, truncated.
    pub user_agent: Option<String>,
}

/// Builds a [`Session`] from a row selected with its `session_…` columns.
fn session_from_row(row: &Row) -> Result<Session, Error> {
    let id: String = row.get("session_id")?;
    let user_id: String = row.get("session_user_id")?;
    Ok(Session {
        id: SessionId(
            Uuid::parse_str(&id).map_err(|e| Error::Internal(format!("session id: {e}")))?,
        ),
        user_id: UserId::parse(&user_id, "user_id")?,
        created_at: from_millis(row.get("session_created_at")?)?,
        last_seen_at: from_millis(row.get("last_seen_at")?)?,
        expires_at: from_millis(row.get("expires_at")?)?,
        revoked_at: from_millis_opt(row.get("revoked_at")?)?,
        second_factor_at: from_millis_opt(row.get("second_factor_at")?)?,
    })
}

/// Ends every open session of user `user_id` at `at` (milliseconds) inside the open
/// transaction; returns how many were open. The one definition of "log the user out
/// everywhere", used by revocation, disabling and password changes.
pub(crate) async fn revoke_all_sessions(
    tx: &mut Tx<'_>,
    user_id: UserId,
    at: i64,
) -> Result<u64, Error> {
    tx.exec(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        [at.into(), user_id.to_string().into()],
    )
    .await
}

/// What a sign-in verified, as its session and its `auth.login` event remember.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignedInWith {
    /// A password, or a user provider's sign-in, alone.
    FirstFactor,
    /// A password and this second factor (`totp`, `recovery-code`, `passkey`), which the
    /// session remembers as verified now.
    SecondFactor(&'static str),
    /// A passkey alone, verified with its user (PIN or biometric): both factors at once.
    /// The event says `"method": "passkey"` and names the passkey as the second factor.
    PasskeyAlone,
}

impl SignedInWith {
    fn second_factor(self) -> Option<&'static str> {
        match self {
            SignedInWith::FirstFactor => None,
            SignedInWith::SecondFactor(factor) => Some(factor),
            SignedInWith::PasskeyAlone => Some("passkey"),
        }
    }
}

/// [`Store::record_login_success`] inside the open transaction, for a sign-in that
/// verified `with`.
pub(crate) async fn login_success_in(
    tx: &mut Tx<'_>,
    user: &User,
    new: &NewSession,
    now: OffsetDateTime,
    ctx: &AuditContext,
    with: SignedInWith,
) -> Result<Session, Error> {
    let second_factor = with.second_factor();
    let id = SessionId(Uuid::now_v7());
    let at = to_millis(now);
    let session = Session {
        id,
        user_id: user.id,
        created_at: now,
        last_seen_at: now,
        expires_at: new.expires_at,
        revoked_at: None,
        second_factor_at: second_factor.map(|_| now),
    };
    tx.exec(
        "DELETE FROM login_attempts WHERE provider = $1 AND username_norm = $2",
        [
            user.provider.as_str().into(),
            user.username.to_ascii_lowercase().into(),
        ],
    )
    .await?;
    tx.exec(
        "UPDATE users SET last_login_at = $1 WHERE id = $2",
        [at.into(), user.id.to_string().into()],
    )
    .await?;
    tx.exec(
        "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, \
                 expires_at, source, user_agent, second_factor_at) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
        [
            id.to_string().into(),
            Arg::from(&new.token_hash[..]),
            user.id.to_string().into(),
            at.into(),
            Arg::from(to_millis(new.expires_at)),
            new.source.as_deref().into(),
            new.user_agent.as_deref().into(),
            Arg::from(second_factor.map(|_| at)),
        ],
    )
    .await?;
    let mut details = json!({
        "provider": user.provider.as_str(),
        "username": user.username,
        "session": id.to_string(),
    });
    if let Some(name) = &user.user_provider {
        details["user_provider"] = name.as_str().into();
    }
    if matches!(with, SignedInWith::PasskeyAlone) {
        details["method"] = "passkey".into();
    }
    if let Some(factor) = second_factor {
        details["second_factor"] = factor.into();
    }
    let login = AuditEvent {
        action: "auth.login",
        target: Some(format!("user:{}", user.id)),
        outcome: Outcome::Success,
        details: details.to_string(),
    };
    crate::audit::append_event(tx, ctx, &login, now, None).await?;
    Ok(session)
}

impl Store {
    /// Completes a successful login: forgets the username's failures, stamps the login
    /// time, opens the session and records `auth.login`, all in one transaction.
    pub async fn record_login_success(
        &self,
        user: &User,
        new: &NewSession,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Session, Error> {
        let mut owned = self.write().await?;
        let session =
            login_success_in(&mut owned, user, new, now, ctx, SignedInWith::FirstFactor).await?;
        owned.commit().await?;
        Ok(session)
    }

    /// The session whose token hashes to `token_hash`, with its user, whatever its state:
    /// the caller decides whether it is expired or revoked.
    pub async fn session_by_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(Session, User)>, Error> {
        let pool = self.reader();
        let row = pool.row_opt(concat!(
                user_select!(
                    "s.id AS session_id, s.user_id AS session_user_id, \
                     s.created_at AS session_created_at, s.last_seen_at, s.expires_at, s.revoked_at, \
                     s.second_factor_at,"
                ),
                "JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = $1"
            ), [Arg::from(&token_hash[..])]).await?;
        match row {
            Some(row) => Ok(Some((session_from_row(&row)?, user_from_row(&row)?))),
            None => Ok(None),
        }
    }

    /// The sessions of `user_id` neither revoked nor past their absolute expiry at `now`,
    /// newest first. Idle expiry is the caller's to judge.
    pub async fn open_sessions_of(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<OpenSession>, Error> {
        let pool = self.reader();
        let rows = pool
            .rows(
                "SELECT id AS session_id, user_id AS session_user_id, \
                 created_at AS session_created_at, last_seen_at, expires_at, revoked_at, \
                 second_factor_at, source, user_agent FROM sessions \
                 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                 ORDER BY created_at DESC, id DESC",
                [user_id.to_string().into(), Arg::from(to_millis(now))],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OpenSession {
                    session: session_from_row(row)?,
                    source: row.get("source")?,
                    user_agent: row.get("user_agent")?,
                })
            })
            .collect()
    }

    /// Records the last use of sessions (for idle expiry), in one transaction; a use never
    /// moves a session's last use backwards. Not audited: it changes no right.
    pub async fn touch_sessions(&self, uses: &[(SessionId, OffsetDateTime)]) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        for (id, at) in uses {
            tx.exec(
                "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1",
                [Arg::from(to_millis(*at)), id.to_string().into()],
            )
            .await?;
        }
        owned.commit().await?;
        Ok(())
    }

    /// Ends one session (logout).
    pub async fn revoke_session(
        &self,
        session: &Session,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            [Arg::from(to_millis(now)), session.id.to_string().into()],
        )
        .await?;
        let logout = AuditEvent {
            action: "auth.logout",
            target: Some(format!("user:{}", session.user_id)),
            outcome: Outcome::Success,
            details: json!({ "session": session.id.to_string() }).to_string(),
        };
        crate::audit::append_event(tx, ctx, &logout, now, None).await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(())
    }

    /// Ends every open session of a user, and the refresh-token families of their sign-ins
    /// (not those granted `offline_access`); returns how many sessions were open.
    pub async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<u64, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let exists = tx
            .row_opt(
                "SELECT 1 AS one FROM users WHERE id = $1",
                [user_id.to_string().into()],
            )
            .await?;
        if exists.is_none() {
            return Err(Error::NotFound { what: "user" });
        }
        let revoked = revoke_all_sessions(tx, user_id, to_millis(now)).await?;
        // The outside applications' refresh tokens of the sign-ins that ended end too (those
        // granted `offline_access` stay: the user consented to access while signed out).
        let why = "the user's sessions were ended";
        crate::idp::end_user_families(tx, user_id, false, why, now, ctx).await?;
        let event = AuditEvent {
            action: "user.sessions.revoke",
            target: Some(format!("user:{user_id}")),
            outcome: Outcome::Success,
            details: json!({ "sessions_revoked": revoked }).to_string(),
        };
        crate::audit::append_event(tx, ctx, &event, now, None).await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(revoked)
    }
}
