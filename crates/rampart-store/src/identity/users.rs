//! Users of both providers, their password history and per-username login throttling.

use rampart_core::{
    AuditContext, AuditEvent, Email, Error, Outcome, Provider, User, UserId, Username,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::sessions::revoke_all_sessions;
use super::user_target;
use crate::backend::{db, from_millis, from_millis_opt, to_millis};
use crate::db::{query, Arg, Row, Tx};
use crate::idp::end_user_families;
use crate::Store;

/// Columns of a [`User`], with `is_admin` derived from the IT role assignments and
/// `has_password` from the stored hash: an argon2 PHC string, never one of the marks that
/// begin with `!` ([`NO_PASSWORD`](crate::NO_PASSWORD),
/// [`NO_LOCAL_PASSWORD`](crate::NO_LOCAL_PASSWORD)).
macro_rules! user_select {
    () => {
        user_select!("")
    };
    ($extra:literal) => {
        concat!(
            "SELECT u.id, u.provider, u.username, u.display_name, u.email, u.disabled, \
         u.password_changed_at, u.last_login_at, u.created_at, u.updated_at, u.user_provider, \
         CASE WHEN u.password_hash LIKE '!%' THEN 0 ELSE 1 END AS has_password, ",
            $extra,
            " CASE WHEN EXISTS (SELECT 1 FROM it_role_assignments r \
           WHERE r.user_id = u.id AND r.role = 'administrator') THEN 1 ELSE 0 END AS is_admin \
         FROM users u "
        )
    };
}
pub(crate) use user_select;

/// Builds a [`User`] from a row selected with `user_select!`.
pub(crate) fn user_from_row(row: &Row) -> Result<User, Error> {
    let id: String = row.get("id")?;
    let provider: String = row.get("provider")?;
    let is_admin: i32 = row.get("is_admin")?;
    let has_password: i32 = row.get("has_password")?;
    Ok(User {
        id: UserId::parse(&id, "id")?,
        provider: Provider::parse(&provider)?,
        username: row.get("username")?,
        display_name: row.get("display_name")?,
        email: row.get("email")?,
        disabled: row.get("disabled")?,
        is_admin: is_admin != 0,
        user_provider: row.get("user_provider")?,
        has_password: has_password != 0,
        password_changed_at: from_millis(row.get("password_changed_at")?)?,
        last_login_at: from_millis_opt(row.get("last_login_at")?)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

/// Reads back the user `id` inside the open transaction, as the change left it.
async fn user_in_tx(tx: &mut Tx<'_>, id: UserId) -> Result<User, Error> {
    let row = query(concat!(user_select!(), "WHERE u.id = $1"))
        .bind(id.to_string())
        .fetch_one(tx)
        .await
        .map_err(db)?;
    user_from_row(&row)
}

/// A user to create. The password is already hashed and checked against the policy.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Provider.
    pub provider: Provider,
    /// Validated username.
    pub username: Username,
    /// Human name.
    pub display_name: Option<String>,
    /// Normalised e-mail.
    pub email: Option<Email>,
    /// argon2id PHC string, or [`NO_PASSWORD`](crate::NO_PASSWORD) for an account that
    /// signs in with a passkey alone.
    pub password_hash: String,
    /// Grant the platform administrator role (IT users only).
    pub is_admin: bool,
}

/// Fields to change on a user; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<Option<String>>,
    /// New e-mail.
    pub email: Option<Option<Email>>,
}

/// A page of users.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only usernames starting with this (case-insensitive).
    pub prefix: Option<String>,
    /// Keyset cursor: users created after this one.
    pub after: Option<UserId>,
    /// Page size.
    pub limit: i64,
}

/// The state of a username after a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    /// Consecutive failures within the window.
    pub failures: u32,
    /// Set when this failure locked the username.
    pub locked_until: Option<OffsetDateTime>,
}

/// The `LIKE … ESCAPE '\'` pattern for text that starts with `text`, matched literally.
fn like_prefix(text: &str) -> String {
    format!("{}%", crate::backend::like_escape(text))
}

impl Store {
    /// Creates a user with its first password-history entry, in one transaction with its
    /// `user.create` event. A username or e-mail already taken in the provider (ignoring
    /// case) is a conflict.
    pub async fn create_user(
        &self,
        new: &NewUser,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<User, Error> {
        let id = UserId::new();
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "INSERT INTO users (id, provider, username, username_norm, display_name, email, \
                 password_hash, password_changed_at, disabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8)",
            [
                id.to_string().into(),
                new.provider.as_str().into(),
                new.username.as_str().into(),
                new.username.normalized().into(),
                new.display_name.as_deref().into(),
                new.email.as_ref().map(Email::as_str).into(),
                Arg::from(&new.password_hash),
                at.into(),
                false.into(),
            ],
        )
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!(
                "the username or e-mail is already taken among {} users",
                new.provider
            )),
            other => other,
        })?;
        // An account with no password has no history to keep.
        if new.password_hash != super::enrolment::NO_PASSWORD {
            tx.exec(
                "INSERT INTO password_history (user_id, password_hash, created_at) \
                     VALUES ($1, $2, $3)",
                [
                    id.to_string().into(),
                    Arg::from(&new.password_hash),
                    at.into(),
                ],
            )
            .await?;
        }
        if new.is_admin {
            tx.exec(
                "INSERT INTO it_role_assignments (user_id, role, created_at) \
                     VALUES ($1, 'administrator', $2)",
                [id.to_string().into(), at.into()],
            )
            .await?;
        }
        let details = json!({
            "provider": new.provider.as_str(),
            "username": new.username.as_str(),
            "administrator": new.is_admin,
            "password": new.password_hash != super::enrolment::NO_PASSWORD,
        });
        crate::audit::record(tx, ctx, now, "user.create", user_target(id), details).await?;
        let created = user_in_tx(tx, id).await?;
        owned.commit().await?;
        Ok(created)
    }

    /// The user with this id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, Error> {
        let pool = self.reader();
        let row = pool
            .row_opt(
                concat!(user_select!(), "WHERE u.id = $1"),
                [id.to_string().into()],
            )
            .await?;
        match row {
            Some(row) => Ok(Some(user_from_row(&row)?)),
            None => Ok(None),
        }
    }

    /// The users with these ids that exist, in one query per 500 ids (in no particular
    /// order; an unknown id is left out).
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, Error> {
        let pool = self.reader();
        let mut users = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{}WHERE u.id IN ({})", user_select!(), marks.join(", "));
            let mut query = crate::db::query(&sql).persistent(false);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in &query.fetch_all(pool).await.map_err(db)? {
                users.push(user_from_row(row)?);
            }
        }
        Ok(users)
    }

    /// The user and password hash for a login attempt.
    pub async fn user_credentials(
        &self,
        provider: Provider,
        username_norm: &str,
    ) -> Result<Option<(User, String)>, Error> {
        let pool = self.reader();
        let row = pool
            .row_opt(
                concat!(
                    user_select!("u.password_hash,"),
                    "WHERE u.provider = $1 AND u.username_norm = $2"
                ),
                [provider.as_str().into(), username_norm.into()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = row.get("password_hash")?;
        let user = user_from_row(&row)?;
        Ok(Some((user, hash)))
    }

    /// A page of users in creation order.
    pub async fn list_users(&self, query: &UserQuery) -> Result<Vec<User>, Error> {
        let pool = self.reader();
        let rows = crate::db::query(concat!(
            user_select!(),
            "WHERE ($1 IS NULL OR u.provider = $1) \
                 AND ($2 IS NULL OR u.username_norm LIKE $2 ESCAPE '\\') \
                 AND ($3 IS NULL OR u.id > $3) \
                 ORDER BY u.id LIMIT $4"
        ))
        .bind(query.provider.map(Provider::as_str))
        .bind(
            query
                .prefix
                .as_deref()
                .map(|p| like_prefix(&p.to_lowercase())),
        )
        .bind(query.after.map(|a| a.to_string()))
        .bind(query.limit)
        .fetch_all(pool)
        .await
        .map_err(db)?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(user_from_row(row)?);
        }
        Ok(users)
    }

    /// Changes a user's display name or e-mail.
    pub async fn update_user(
        &self,
        id: UserId,
        patch: &UserPatch,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<User, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let row = tx
            .row_opt(
                concat!(user_select!(), "WHERE u.id = $1"),
                [id.to_string().into()],
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let current = user_from_row(&row)?;
        let display_name = match &patch.display_name {
            Some(v) => v.clone(),
            None => current.display_name.clone(),
        };
        let email = match &patch.email {
            Some(v) => v.as_ref().map(|e| e.as_str().to_owned()),
            None => current.email.clone(),
        };
        tx.exec(
            "UPDATE users SET display_name = $1, email = $2, updated_at = $3 WHERE id = \
                     $4",
            [
                display_name.as_deref().into(),
                email.as_deref().into(),
                Arg::from(to_millis(now)),
                id.to_string().into(),
            ],
        )
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => {
                Error::Conflict("the e-mail is already used by another user".into())
            }
            other => other,
        })?;
        let mut changed = Vec::new();
        if patch.display_name.is_some() {
            changed.push("display_name");
        }
        if patch.email.is_some() {
            changed.push("email");
        }
        let details = json!({ "changed": changed });
        let updated = user_in_tx(tx, id).await?;
        self.commit_user_change(owned, ctx, now, "user.update", id, details)
            .await?;
        Ok(updated)
    }

    /// Ends a change to user `id` that touches their credentials or sessions: records
    /// `action` with `details`, marks the credentials changed (every node drops what it
    /// cached), commits, and drops this node's cache.
    async fn commit_user_change(
        &self,
        mut owned: Tx<'static>,
        ctx: &AuditContext,
        now: OffsetDateTime,
        action: &'static str,
        id: UserId,
        details: serde_json::Value,
    ) -> Result<(), Error> {
        let tx = &mut owned;
        crate::audit::record(tx, ctx, now, action, user_target(id), details).await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(())
    }

    /// Disables or enables a user. Disabling revokes every session of the user and every
    /// refresh-token family of theirs; enabling brings none back (a family still live then,
    /// granted before the user was disabled, ends too). Answers the user as they now are
    /// and how many sessions ended.
    pub async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(User, u64), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let was: Option<bool> = tx
            .scalar_opt(
                "SELECT disabled FROM users WHERE id = $1",
                [id.to_string().into()],
            )
            .await?;
        let Some(was) = was else {
            return Err(Error::NotFound { what: "user" });
        };
        tx.exec(
            "UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3",
            [disabled.into(), at.into(), id.to_string().into()],
        )
        .await?;
        let mut revoked = 0;
        if disabled {
            revoked = revoke_all_sessions(tx, id, at).await?;
            end_user_families(tx, id, true, "the user was disabled", now, ctx).await?;
        } else if was {
            let why = "granted before the user was disabled";
            end_user_families(tx, id, true, why, now, ctx).await?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        let details = json!({ "sessions_revoked": revoked });
        let user = user_in_tx(tx, id).await?;
        self.commit_user_change(owned, ctx, now, action, id, details)
            .await?;
        Ok((user, revoked))
    }

    /// Deletes a user with their sessions and password history.
    pub async fn delete_user(
        &self,
        id: UserId,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let (provider, username, _) = user_names(tx, id).await?;
        crate::authz::tx::user_deleted(tx, id, to_millis(now)).await?;
        tx.exec("DELETE FROM users WHERE id = $1", [id.to_string().into()])
            .await?;
        let details = json!({ "provider": provider, "username": username });
        self.commit_user_change(owned, ctx, now, "user.delete", id, details)
            .await
    }

    /// The user's `limit` most recent password hashes, newest (the current one) first.
    pub async fn password_history(&self, id: UserId, limit: usize) -> Result<Vec<String>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let pool = self.reader();
        let rows = pool
            .rows(
                "SELECT password_hash FROM password_history WHERE user_id = $1 \
                 ORDER BY created_at DESC LIMIT $2",
                [id.to_string().into(), limit.into()],
            )
            .await?;
        let mut hashes = Vec::with_capacity(rows.len());
        for row in &rows {
            hashes.push(row.get("password_hash")?);
        }
        Ok(hashes)
    }

    /// Replaces the stored hash `old` of user `id` with `new`, a hash of the same password
    /// with another cost; whether it was still `old` (a password changed meanwhile is kept).
    /// Not a change of the password: its date, history and sessions stay, and no event is
    /// recorded.
    pub async fn upgrade_password_hash(
        &self,
        id: UserId,
        old: &str,
        new: &str,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let changed = tx
            .exec(
                "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
                [new.into(), id.to_string().into(), old.into()],
            )
            .await?;
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Sets a new password hash, keeps the newest `keep` history entries, revokes every
    /// session of the user, and records `action` (`user.password.change` when users change
    /// their own, `user.password.reset` when an administrator does).
    pub async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        keep: usize,
        action: &'static str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let at = to_millis(now);
        let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let changed = tx
            .exec(
                "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 \
                     WHERE id = $3",
                [password_hash.into(), at.into(), id.to_string().into()],
            )
            .await?;
        if changed == 0 {
            return Err(Error::NotFound { what: "user" });
        }
        tx.exec(
            "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, \
                     $2, $3)",
            [id.to_string().into(), password_hash.into(), at.into()],
        )
        .await?;
        tx.exec(
            "DELETE FROM password_history WHERE user_id = $1 AND created_at < \
                 (SELECT MIN(created_at) FROM (SELECT created_at FROM password_history \
                  WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2) AS newest)",
            [id.to_string().into(), keep.into()],
        )
        .await?;
        let revoked = revoke_all_sessions(tx, id, at).await?;
        end_user_families(tx, id, false, "the password was changed", now, ctx).await?;
        let details = json!({ "sessions_revoked": revoked });
        self.commit_user_change(owned, ctx, now, action, id, details)
            .await
    }

    /// Until when the username is locked, if a lock was ever set (the caller compares with
    /// the current time).
    pub async fn login_locked_until(
        &self,
        provider: Provider,
        username_norm: &str,
    ) -> Result<Option<OffsetDateTime>, Error> {
        let pool = self.reader();
        let row = pool
            .row_opt(
                "SELECT locked_until FROM login_attempts WHERE provider = $1 AND username_norm \
                         = $2",
                [provider.as_str().into(), username_norm.into()],
            )
            .await?;
        match row {
            Some(row) => from_millis_opt(row.get("locked_until")?),
            None => Ok(None),
        }
    }

    /// Counts a failed login for a username (existing or not), locks it when `lock_for`
    /// says so, and records the `auth.login` failure (and `auth.lockout`) events; a login
    /// through a user provider names it (`user_provider`).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_login_failure(
        &self,
        provider: Provider,
        username: &str,
        username_norm: &str,
        reason: &str,
        user_provider: Option<&str>,
        window: Duration,
        lock_for: &(dyn Fn(u32) -> Option<Duration> + Sync),
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<LoginFailure, Error> {
        let at = to_millis(now);
        let target = Some(format!("login:{provider}:{username}"));
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let failure = {
            let row = query(
                "INSERT INTO login_attempts (provider, username_norm, failures, last_failure_at) \
                 VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (provider, username_norm) DO UPDATE SET \
                   failures = CASE WHEN login_attempts.last_failure_at < $4 THEN 1 \
                                   ELSE login_attempts.failures + 1 END, \
                   last_failure_at = $3 \
                 RETURNING failures",
            )
            .bind(provider.as_str())
            .bind(username_norm)
            .bind(at)
            .bind(to_millis(now - window))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let failures: i32 = row.get("failures")?;
            let failures = u32::try_from(failures).unwrap_or(0);
            let locked_until = lock_for(failures).map(|d| now + d);
            if let Some(until) = locked_until {
                tx.exec(
                    "UPDATE login_attempts SET locked_until = $1 WHERE provider = $2 AND \
                         username_norm = $3",
                    [
                        Arg::from(to_millis(until)),
                        provider.as_str().into(),
                        username_norm.into(),
                    ],
                )
                .await?;
            }
            let mut details = json!({
                "provider": provider.as_str(),
                "username": username,
                "reason": reason,
                "failures": failures,
            });
            if let Some(name) = user_provider {
                details["user_provider"] = name.into();
            }
            let failed = AuditEvent {
                action: "auth.login",
                target: target.clone(),
                outcome: Outcome::Failure,
                details: details.to_string(),
            };
            crate::audit::append_event(tx, ctx, &failed, now, None).await?;
            if let Some(until) = locked_until {
                let lockout = crate::audit::success(
                    "auth.lockout",
                    target.clone(),
                    json!({
                        "provider": provider.as_str(),
                        "username": username,
                        "failures": failures,
                        "locked_for_seconds": (until - now).whole_seconds(),
                    }),
                );
                crate::audit::append_event(tx, ctx, &lockout, now, None).await?;
            }
            LoginFailure {
                failures,
                locked_until,
            }
        };
        owned.commit().await?;
        Ok(failure)
    }

    /// Lifts a username's lock and forgets its failures.
    pub async fn unlock(
        &self,
        id: UserId,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let (provider, _, norm) = user_names(tx, id).await?;
        let cleared = tx
            .exec(
                "DELETE FROM login_attempts WHERE provider = $1 AND username_norm = $2",
                [Arg::from(&provider), Arg::from(&norm)],
            )
            .await?;
        let details = json!({ "was_throttled": cleared > 0 });
        crate::audit::record(tx, ctx, now, "user.unlock", user_target(id), details).await?;
        owned.commit().await?;
        Ok(())
    }

    /// Whether any IT user exists (bootstrap creates the first one).
    pub async fn count_users(&self, provider: Provider) -> Result<i64, Error> {
        let pool = self.reader();
        let row = query("SELECT COUNT(*) AS n FROM users WHERE provider = $1")
            .bind(provider.as_str())
            .fetch_one(pool)
            .await
            .map_err(db)?;
        row.get("n")
    }
}

/// User `id`'s provider, username and normalised username, inside the transaction.
async fn user_names(tx: &mut Tx<'_>, id: UserId) -> Result<(String, String, String), Error> {
    tx.opt(
        "SELECT provider, username, username_norm FROM users WHERE id = $1",
        [id.to_string().into()],
    )
    .await?
    .ok_or(Error::NotFound { what: "user" })
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(like_prefix(""), "%");
    }
}
