//! The local profiles of users a provider vouches for: made just in time at their first
//! login (or by a sync), updated from the directory afterwards. Such a profile has no usable
//! password: its hash column holds a marker no password verifies against, so Rampart's own
//! login never admits it.

use rampart_core::{AuditContext, Email, Error, Provider, User, Username};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::to_millis;
use crate::db::{Arg, Tx};
use crate::identity::users::{user_from_row, user_select};
use crate::Store;

/// What stands in the password hash column of a directory user: not a PHC string, so no
/// password ever verifies against it.
pub const NO_LOCAL_PASSWORD: &str = "!user-provider";

/// A user as a directory describes them, checked by the caller.
#[derive(Debug, Clone)]
pub struct DirectoryProfile {
    /// `it` or `end`.
    pub provider: Provider,
    /// The user provider's name.
    pub user_provider: String,
    /// The username.
    pub username: Username,
    /// Human name.
    pub display_name: Option<String>,
    /// E-mail.
    pub email: Option<Email>,
}

/// What writing a profile did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileChange {
    /// A new local profile.
    Created,
    /// The display name or e-mail changed.
    Updated,
    /// Nothing changed.
    Unchanged,
}

impl Store {
    /// Creates or updates the local profile of a directory user, with its `user.create` or
    /// `user.update` event. A local user of the same name that another provider (or
    /// Rampart's own passwords) vouches for is a conflict: a directory never takes over an
    /// account it did not make. An e-mail another user has is left out.
    pub async fn upsert_directory_user(
        &self,
        p: &DirectoryProfile,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(User, ProfileChange), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let current = tx
            .row_opt(
                concat!(
                    user_select!(),
                    "WHERE u.provider = $1 AND u.username_norm = $2"
                ),
                [p.provider.as_str().into(), p.username.normalized().into()],
            )
            .await?
            .map(|row| user_from_row(&row))
            .transpose()?;
        let email = match &p.email {
            Some(e) if !email_taken(tx, p, e).await? => Some(e.as_str().to_owned()),
            _ => None,
        };
        let (id, change) = match current {
            Some(user) if user.user_provider.as_deref() != Some(p.user_provider.as_str()) => {
                return Err(Error::Conflict(format!(
                    "the username {} belongs to a {} user that the user provider {} did not make",
                    p.username.as_str(),
                    p.provider,
                    p.user_provider
                )));
            }
            Some(user) => {
                if user.display_name == p.display_name && user.email == email {
                    (user.id, ProfileChange::Unchanged)
                } else {
                    tx.exec(
                        "UPDATE users SET display_name = $1, email = $2, updated_at = $3 \
                         WHERE id = $4",
                        [
                            p.display_name.as_deref().into(),
                            email.as_deref().into(),
                            at.into(),
                            user.id.to_string().into(),
                        ],
                    )
                    .await?;
                    let details = json!({
                        "changed": ["display_name", "email"],
                        "user_provider": p.user_provider,
                    });
                    crate::audit::record(
                        tx,
                        ctx,
                        now,
                        "user.update",
                        Some(format!("user:{}", user.id)),
                        details,
                    )
                    .await?;
                    crate::fence::credentials_changed(tx).await?;
                    (user.id, ProfileChange::Updated)
                }
            }
            None => {
                let id = rampart_core::UserId::new();
                tx.exec(
                    "INSERT INTO users (id, provider, username, username_norm, display_name, \
                     email, password_hash, password_changed_at, disabled, created_at, \
                     updated_at, user_provider) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8, $10)",
                    [
                        id.to_string().into(),
                        p.provider.as_str().into(),
                        p.username.as_str().into(),
                        p.username.normalized().into(),
                        p.display_name.as_deref().into(),
                        email.as_deref().into(),
                        Arg::from(NO_LOCAL_PASSWORD),
                        at.into(),
                        false.into(),
                        p.user_provider.as_str().into(),
                    ],
                )
                .await?;
                let details = json!({
                    "provider": p.provider.as_str(),
                    "username": p.username.as_str(),
                    "administrator": false,
                    "user_provider": p.user_provider,
                });
                crate::audit::record(
                    tx,
                    ctx,
                    now,
                    "user.create",
                    Some(format!("user:{id}")),
                    details,
                )
                .await?;
                (id, ProfileChange::Created)
            }
        };
        let row = tx
            .row_opt(
                concat!(user_select!(), "WHERE u.id = $1"),
                [id.to_string().into()],
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let user = user_from_row(&row)?;
        owned.commit().await?;
        if change == ProfileChange::Updated {
            self.credentials_changed();
        }
        Ok((user, change))
    }

    /// The one user of the kind `provider` whose e-mail is `email` (ignoring ASCII case);
    /// `None` when nobody, or more than one user, has it.
    pub async fn user_with_email(
        &self,
        provider: Provider,
        email: &str,
    ) -> Result<Option<User>, Error> {
        let rows = self
            .reader()
            .rows(
                concat!(
                    user_select!(),
                    "WHERE u.provider = $1 AND lower(u.email) = lower($2) LIMIT 2"
                ),
                [provider.as_str().into(), email.into()],
            )
            .await?;
        match rows.as_slice() {
            [one] => Ok(Some(user_from_row(one)?)),
            _ => Ok(None),
        }
    }

    /// Every local user that the user provider `name` vouches for.
    pub async fn users_of_provider(&self, name: &str) -> Result<Vec<User>, Error> {
        let rows = self
            .reader()
            .rows(
                concat!(user_select!(), "WHERE u.user_provider = $1 ORDER BY u.id"),
                [name.into()],
            )
            .await?;
        rows.iter().map(user_from_row).collect()
    }
}

/// Whether another user of the provider kind already has `email`.
async fn email_taken(tx: &mut Tx<'_>, p: &DirectoryProfile, email: &Email) -> Result<bool, Error> {
    let other: Option<String> = tx
        .scalar_opt(
            "SELECT username_norm FROM users WHERE provider = $1 AND email = $2",
            [p.provider.as_str().into(), email.as_str().into()],
        )
        .await?;
    Ok(other.is_some_and(|n| n != p.username.normalized()))
}
