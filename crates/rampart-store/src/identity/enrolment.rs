//! Accounts with no password (migration 0025): created without one, they sign in with a
//! passkey alone, and enrol their first passkey through a link an administrator issues.
//!
//! Such an account's stored hash is [`NO_PASSWORD`], which no password verifies against
//! (the login runs the dummy hash instead, so its answer takes an unknown user's time). An
//! enrolment is one per user, found by the SHA-256 of its link's token (never the token),
//! lapses at its `expires_at`, and is taken (deleted) by the registration that uses it, in
//! the transaction that stores the passkey. It works only while the account still has no
//! password and no directory vouches for it: an administrator who sets a password ends
//! the way in that the link was.

use rampart_core::{AuditContext, Error, User, UserId};
use serde_json::json;
use time::OffsetDateTime;

use super::passkeys::{insert_passkey, StoredPasskey};
use super::user_target;
use super::users::{user_from_row, user_select};
use crate::backend::to_millis;
use crate::db::Arg;
use crate::Store;

/// The stored hash of an account created with no password: no PHC string, so no password
/// ever verifies against it.
pub const NO_PASSWORD: &str = "!no-password";

impl Store {
    /// Issues an enrolment for `user` under `token_hash` until `expires_at`, in place of any
    /// earlier one (`user.enrolment.issue`, with the address it is mailed to, if it is).
    /// `NotFound` when there is no such user; a
    /// conflict when the account has a password or a directory vouches for it.
    pub async fn enrolment_issue(
        &self,
        user: UserId,
        token_hash: &[u8; 32],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        mailed_to: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let found: Option<(String, Option<String>)> = tx
            .opt(
                "SELECT password_hash, user_provider FROM users WHERE id = $1",
                [user.to_string().into()],
            )
            .await?;
        match found {
            None => return Err(Error::NotFound { what: "user" }),
            Some((_, Some(provider))) => {
                return Err(Error::Conflict(format!(
                    "the user provider `{provider}` vouches for this account: it signs in \
                     through its directory, not with an enrolment link"
                )))
            }
            Some((hash, None)) if hash != NO_PASSWORD => {
                return Err(Error::Conflict(
                    "this account has a password: an enrolment link is for accounts created \
                     without one (its holder can add a passkey after signing in)"
                        .into(),
                ))
            }
            Some(_) => {}
        }
        tx.exec(
            "DELETE FROM enrolments WHERE expires_at <= $1",
            [to_millis(now).into()],
        )
        .await?;
        // In place of the user's earlier one, also when two are issued at once.
        tx.exec(
            "INSERT INTO enrolments (user_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
             token_hash = excluded.token_hash, expires_at = excluded.expires_at, \
             created_at = excluded.created_at",
            [
                user.to_string().into(),
                Arg::from(token_hash.as_slice()),
                to_millis(expires_at).into(),
                to_millis(now).into(),
            ],
        )
        .await?;
        let mut details = json!({ "expires_at": to_millis(expires_at) });
        if let Some(to) = mailed_to {
            details["mailed_to"] = json!(to);
        }
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.enrolment.issue",
            user_target(user),
            details,
        )
        .await?;
        owned.commit().await
    }

    /// The user a live enrolment under `token_hash` serves, if any.
    pub async fn enrolment_user(
        &self,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<User>, Error> {
        let row = self
            .reader()
            .row_opt(
                concat!(
                    user_select!(),
                    "JOIN enrolments e ON e.user_id = u.id \
                     WHERE e.token_hash = $1 AND e.expires_at > $3 \
                     AND u.password_hash = $2 AND u.user_provider IS NULL"
                ),
                [
                    Arg::from(token_hash.as_slice()),
                    NO_PASSWORD.into(),
                    to_millis(now).into(),
                ],
            )
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Takes the enrolment under `token_hash` for `user` and registers the passkey it
    /// enrolled, named `name`, in one transaction (`user.mfa.passkey.add`, with
    /// `"enrolment": true`). `None` when the enrolment is gone (used, replaced, lapsed, or
    /// the account has a password now); a credential id registered already is a conflict.
    #[allow(clippy::too_many_arguments)] // one transaction's inputs, each named
    pub async fn enrolment_finish(
        &self,
        token_hash: &[u8; 32],
        user: UserId,
        name: &str,
        credential_id: &[u8],
        credential: &str,
        sign_count: u32,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Option<StoredPasskey>, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let taken = tx
            .exec(
                "DELETE FROM enrolments WHERE token_hash = $1 AND expires_at > $3 \
                 AND user_id = $4 AND user_id IN (SELECT id FROM users \
                 WHERE password_hash = $2 AND user_provider IS NULL)",
                [
                    Arg::from(token_hash.as_slice()),
                    NO_PASSWORD.into(),
                    to_millis(now).into(),
                    user.to_string().into(),
                ],
            )
            .await?;
        if taken == 0 {
            return Ok(None);
        }
        let added =
            insert_passkey(tx, user, name, credential_id, credential, sign_count, now).await?;
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.mfa.passkey.add",
            user_target(user),
            json!({ "factor": "passkey", "passkey": added.id.to_string(), "name": name,
                    "enrolment": true }),
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(Some(added))
    }
}
