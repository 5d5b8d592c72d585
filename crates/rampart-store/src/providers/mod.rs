//! User providers: their records (a kind and that kind's settings, which hold secret
//! references, never secrets), their health, and the local profiles they vouch for.
//!
//! Every change to a provider appends its `provider.*` event in its own transaction; the
//! events name the fields changed, never their values. Health (the last success and error
//! seen) is bookkeeping that changes no one's rights, so it is not an event; a sync run's
//! summary is (`provider.sync`).

pub(crate) mod logins;
pub(crate) mod saml;
pub(crate) mod users;

use rampart_core::{AuditContext, AuditEvent, Error, Outcome};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{from_millis, from_millis_opt, to_millis};
use crate::db::Row;
use crate::identity::sessions::revoke_all_sessions;
use crate::Store;

pub use logins::{NewProviderLogin, ProviderLogin};
pub use users::{DirectoryProfile, ProfileChange};

/// A user provider as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRecord {
    /// The provider's name (a `Name`), unique.
    pub name: String,
    /// `ldap` (later `oidc`, `saml`).
    pub kind: String,
    /// `it`, `end` or `both`.
    pub users: String,
    /// The kind's settings object.
    pub settings: serde_json::Value,
    /// Whether it is offered and accepts sign-ins.
    pub enabled: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change of its record.
    pub updated_at: OffsetDateTime,
    /// Its health.
    pub status: ProviderStatus,
}

/// What the last operations on a provider found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderStatus {
    /// The last time the directory answered as expected (a bind, a login, a sync).
    pub last_success_at: Option<OffsetDateTime>,
    /// The last failure that was the directory's or its configuration's fault.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<OffsetDateTime>,
    /// The last sync run's end.
    pub last_sync_at: Option<OffsetDateTime>,
    /// The last sync run's outcome and counts.
    pub last_sync: Option<serde_json::Value>,
}

const SELECT: &str = "SELECT name, kind, users, settings, enabled, created_at, updated_at, \
     last_success_at, last_error, last_error_at, last_sync_at, last_sync FROM user_providers ";

fn record_from_row(row: &Row) -> Result<ProviderRecord, Error> {
    let settings: String = row.get("settings")?;
    let last_sync: Option<String> = row.get("last_sync")?;
    let json = |text: &str| {
        serde_json::from_str(text)
            .map_err(|e| Error::Internal(format!("a provider's stored JSON is not valid: {e}")))
    };
    Ok(ProviderRecord {
        name: row.get("name")?,
        kind: row.get("kind")?,
        users: row.get("users")?,
        settings: json(&settings)?,
        enabled: row.get("enabled")?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
        status: ProviderStatus {
            last_success_at: from_millis_opt(row.get("last_success_at")?)?,
            last_error: row.get("last_error")?,
            last_error_at: from_millis_opt(row.get("last_error_at")?)?,
            last_sync_at: from_millis_opt(row.get("last_sync_at")?)?,
            last_sync: last_sync.as_deref().map(json).transpose()?,
        },
    })
}

fn target(name: &str) -> Option<String> {
    Some(format!("provider:{name}"))
}

impl Store {
    /// Every user provider, by name.
    pub async fn providers(&self) -> Result<Vec<ProviderRecord>, Error> {
        let rows = self
            .reader()
            .rows(&format!("{SELECT}ORDER BY name"), [])
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// The user provider `name`.
    pub async fn provider(&self, name: &str) -> Result<Option<ProviderRecord>, Error> {
        let row = self
            .reader()
            .row_opt(&format!("{SELECT}WHERE name = $1"), [name.into()])
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Creates a provider with its `provider.create` event; a taken name is a conflict.
    pub async fn create_provider(
        &self,
        name: &str,
        kind: &str,
        users: &str,
        settings: &serde_json::Value,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<ProviderRecord, Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "INSERT INTO user_providers (name, kind, users, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
            [
                name.into(),
                kind.into(),
                users.into(),
                settings.to_string().into(),
                at.into(),
            ],
        )
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!("a user provider named {name} exists")),
            other => other,
        })?;
        let details = json!({ "name": name, "kind": kind, "users": users });
        crate::audit::record(tx, ctx, now, "provider.create", target(name), details).await?;
        owned.commit().await?;
        self.provider(name).await?.ok_or(Error::NotFound {
            what: "user provider",
        })
    }

    /// Replaces a provider's audience, settings and whether it is enabled (its kind stays);
    /// `provider.update` names the fields that changed.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_provider(
        &self,
        name: &str,
        users: &str,
        settings: &serde_json::Value,
        enabled: bool,
        changed: &[String],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<ProviderRecord, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let n = tx
            .exec(
                "UPDATE user_providers SET users = $1, settings = $2, updated_at = $3, \
                 enabled = $5 WHERE name = $4",
                [
                    users.into(),
                    settings.to_string().into(),
                    to_millis(now).into(),
                    name.into(),
                    enabled.into(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(Error::NotFound {
                what: "user provider",
            });
        }
        let details = json!({ "name": name, "changed": changed });
        crate::audit::record(tx, ctx, now, "provider.update", target(name), details).await?;
        owned.commit().await?;
        self.provider(name).await?.ok_or(Error::NotFound {
            what: "user provider",
        })
    }

    /// Deletes a provider; the users it vouched for are disabled and their sessions end, in
    /// the same transaction (`provider.delete` counts them).
    pub async fn delete_provider(
        &self,
        name: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let n = tx
            .exec("DELETE FROM user_providers WHERE name = $1", [name.into()])
            .await?;
        if n == 0 {
            return Err(Error::NotFound {
                what: "user provider",
            });
        }
        tx.exec(
            "DELETE FROM provider_logins WHERE user_provider = $1",
            [name.into()],
        )
        .await?;
        tx.exec(
            "DELETE FROM provider_subjects WHERE user_provider = $1",
            [name.into()],
        )
        .await?;
        let ids: Vec<String> = tx
            .scalars(
                "SELECT id FROM users WHERE user_provider = $1 AND NOT disabled",
                [name.into()],
            )
            .await?;
        let mut revoked = 0;
        for id in &ids {
            let uid = rampart_core::UserId::parse(id, "id")?;
            tx.exec(
                "UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3",
                [true.into(), at.into(), id.as_str().into()],
            )
            .await?;
            revoked += revoke_all_sessions(tx, uid, at).await?;
            let why = "the user provider was removed";
            crate::idp::end_user_families(tx, uid, true, why, now, ctx).await?;
        }
        let details = json!({
            "name": name,
            "users_disabled": ids.len(),
            "sessions_revoked": revoked,
        });
        crate::audit::record(tx, ctx, now, "provider.delete", target(name), details).await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(())
    }

    /// Notes what an operation on the provider found: a success, or the error (a text that
    /// holds no secret).
    pub async fn note_provider_health(
        &self,
        name: &str,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        match error {
            None => {
                owned
                    .exec(
                        "UPDATE user_providers SET last_success_at = $1 WHERE name = $2",
                        [at.into(), name.into()],
                    )
                    .await?
            }
            Some(e) => {
                owned
                    .exec(
                        "UPDATE user_providers SET last_error = $1, last_error_at = $2 \
                         WHERE name = $3",
                        [e.into(), at.into(), name.into()],
                    )
                    .await?
            }
        };
        owned.commit().await
    }

    /// Records a sync run's end: its outcome and counts in the provider's status and a
    /// `provider.sync` event (a failure when `error` is set).
    pub async fn finish_provider_sync(
        &self,
        name: &str,
        summary: &serde_json::Value,
        error: Option<&str>,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        tx.exec(
            "UPDATE user_providers SET last_sync_at = $1, last_sync = $2 WHERE name = $3",
            [at.into(), summary.to_string().into(), name.into()],
        )
        .await?;
        match error {
            None => {
                tx.exec(
                    "UPDATE user_providers SET last_success_at = $1 WHERE name = $2",
                    [at.into(), name.into()],
                )
                .await?;
            }
            Some(e) => {
                tx.exec(
                    "UPDATE user_providers SET last_error = $1, last_error_at = $2 \
                     WHERE name = $3",
                    [e.into(), at.into(), name.into()],
                )
                .await?;
            }
        }
        let event = AuditEvent {
            action: "provider.sync",
            target: target(name),
            outcome: if error.is_some() {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            details: summary.to_string(),
        };
        crate::audit::append_event(tx, ctx, &event, now, None).await?;
        owned.commit().await
    }
}
