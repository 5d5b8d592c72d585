//! Sign-ins through identity providers: the login transactions between a browser's start and
//! its callback, and the local profile of each provider subject.
//!
//! A login transaction is found by the SHA-256 of the random secret the browser holds in a
//! cookie, and taken (deleted) by the first callback presenting it, whatever that callback's
//! outcome: it is used once. Taking it is bookkeeping (the audit event is the login's, or
//! its refusal's); linking a subject to an existing account by e-mail is a `user.link`
//! event, in the transaction that links.

use rampart_core::{AuditContext, Error, Provider, UserId};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{from_millis, to_millis};
use crate::Store;

/// A login transaction to keep.
#[derive(Debug, Clone)]
pub struct NewProviderLogin {
    /// SHA-256 of the browser's secret.
    pub id_hash: [u8; 32],
    /// The user provider.
    pub user_provider: String,
    /// Which kind of user signs in.
    pub provider: Provider,
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` sent to the provider.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The redirect URI sent.
    pub redirect_uri: String,
    /// Where the browser goes after signing in (a checked path on this site).
    pub return_to: String,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// A login transaction taken by its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLogin {
    /// The user provider.
    pub user_provider: String,
    /// Which kind of user signs in.
    pub provider: Provider,
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The redirect URI sent.
    pub redirect_uri: String,
    /// Where the browser goes after signing in.
    pub return_to: String,
    /// Whether it had expired when taken.
    pub expired: bool,
}

impl Store {
    /// Keeps a login transaction (and drops the expired ones).
    pub async fn begin_provider_login(
        &self,
        login: &NewProviderLogin,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        owned
            .exec(
                "DELETE FROM provider_logins WHERE expires_at < $1",
                [to_millis(now).into()],
            )
            .await?;
        owned
            .exec(
                "INSERT INTO provider_logins (id_hash, user_provider, provider, state, nonce, \
                 verifier, redirect_uri, return_to, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                [
                    (&login.id_hash[..]).into(),
                    login.user_provider.as_str().into(),
                    login.provider.as_str().into(),
                    login.state.as_str().into(),
                    login.nonce.as_str().into(),
                    login.verifier.as_str().into(),
                    login.redirect_uri.as_str().into(),
                    login.return_to.as_str().into(),
                    to_millis(now).into(),
                    to_millis(login.expires_at).into(),
                ],
            )
            .await?;
        owned.commit().await
    }

    /// Takes the login transaction whose secret hashes to `id_hash`: it is deleted, so no
    /// second callback finds it. `None` when there is none.
    pub async fn take_provider_login(
        &self,
        id_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<ProviderLogin>, Error> {
        let mut owned = self.write().await?;
        let row = owned
            .row_opt(
                "SELECT user_provider, provider, state, nonce, verifier, redirect_uri, \
                 return_to, expires_at FROM provider_logins WHERE id_hash = $1",
                [(&id_hash[..]).into()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        owned
            .exec(
                "DELETE FROM provider_logins WHERE id_hash = $1",
                [(&id_hash[..]).into()],
            )
            .await?;
        owned.commit().await?;
        let provider: String = row.get("provider")?;
        let expires_at = from_millis(row.get("expires_at")?)?;
        Ok(Some(ProviderLogin {
            user_provider: row.get("user_provider")?,
            provider: Provider::parse(&provider)?,
            state: row.get("state")?,
            nonce: row.get("nonce")?,
            verifier: row.get("verifier")?,
            redirect_uri: row.get("redirect_uri")?,
            return_to: row.get("return_to")?,
            expired: expires_at <= now,
        }))
    }

    /// The local profile of the provider's `subject`, if one was linked.
    pub async fn provider_subject_user(
        &self,
        user_provider: &str,
        subject: &str,
    ) -> Result<Option<UserId>, Error> {
        let id: Option<String> = self
            .reader()
            .scalar_opt(
                "SELECT user_id FROM provider_subjects WHERE user_provider = $1 AND subject = $2",
                [user_provider.into(), subject.into()],
            )
            .await?;
        id.map(|id| UserId::parse(&id, "user_id")).transpose()
    }

    /// The subject linked to `user` by the provider, if any.
    pub async fn provider_subject_of(
        &self,
        user_provider: &str,
        user: UserId,
    ) -> Result<Option<String>, Error> {
        self.reader()
            .scalar_opt(
                "SELECT subject FROM provider_subjects WHERE user_provider = $1 AND user_id = $2",
                [user_provider.into(), user.to_string().into()],
            )
            .await
    }

    /// Links the provider's `subject` to the local profile `user`. With `by_email`, an
    /// existing account is being linked by its verified e-mail: a `user.link` event records
    /// it. A subject already linked is a conflict.
    pub async fn link_provider_subject(
        &self,
        user_provider: &str,
        subject: &str,
        user: UserId,
        by_email: bool,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "INSERT INTO provider_subjects (user_provider, subject, user_id, created_at) \
             VALUES ($1, $2, $3, $4)",
            [
                user_provider.into(),
                subject.into(),
                user.to_string().into(),
                to_millis(now).into(),
            ],
        )
        .await?;
        if by_email {
            let details = json!({ "user_provider": user_provider, "by": "verified-email" });
            crate::audit::record(
                tx,
                ctx,
                now,
                "user.link",
                Some(format!("user:{user}")),
                details,
            )
            .await?;
        }
        owned.commit().await
    }
}
