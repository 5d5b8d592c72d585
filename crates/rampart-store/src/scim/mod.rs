//! SCIM provisioning's storage (migration 0014): each user provider's bearer token (its
//! SHA-256 only), the SCIM attributes and version of provisioned users, and the provider's
//! groups with their members. Every change writes its audit event in its own transaction;
//! a change that disables or deletes a user ends their sessions in the same transaction and
//! moves the credentials epoch, so every node stops accepting them at once.

use rampart_core::{AuditContext, Email, Error, Provider, User, UserId, Username};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{from_millis, to_millis};
use crate::db::{Arg, Row, Tx};
use crate::identity::sessions::revoke_all_sessions;
use crate::identity::users::{user_from_row, user_select};
use crate::providers::users::NO_LOCAL_PASSWORD;
use crate::Store;

/// A provider's user as SCIM sees it: the local profile, the stored SCIM attributes (canonical
/// JSON; `None` for a profile no SCIM client has written yet) and their version.
#[derive(Debug, Clone)]
pub struct ScimUser {
    /// The local profile.
    pub user: User,
    /// The SCIM attributes beyond the profile's columns, as JSON text.
    pub attributes: Option<String>,
    /// Bumped by every SCIM change.
    pub version: i64,
}

/// A user as a SCIM client wrote it, checked by the caller.
#[derive(Debug, Clone)]
pub struct ScimUserWrite {
    /// The user provider.
    pub user_provider: String,
    /// `it` or `end`.
    pub provider: Provider,
    /// userName.
    pub username: Username,
    /// displayName.
    pub display_name: Option<String>,
    /// The primary (or first) e-mail.
    pub email: Option<Email>,
    /// `active = false`.
    pub disabled: bool,
    /// The canonical SCIM attributes as JSON text.
    pub attributes: String,
}

/// A provider's group.
#[derive(Debug, Clone)]
pub struct ScimGroup {
    /// Its id.
    pub id: String,
    /// displayName.
    pub display_name: String,
    /// externalId.
    pub external_id: Option<String>,
    /// Bumped by every change.
    pub version: i64,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
    /// Its members and their usernames, by id.
    pub members: Vec<(UserId, String)>,
}

/// A group as a SCIM client wrote it.
#[derive(Debug, Clone)]
pub struct ScimGroupWrite {
    /// The user provider.
    pub user_provider: String,
    /// displayName.
    pub display_name: String,
    /// externalId.
    pub external_id: Option<String>,
    /// Its members.
    pub members: Vec<UserId>,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone)]
pub enum Written<T> {
    /// Done.
    Done(T),
    /// The resource changed since the version the caller read: nothing was written.
    Stale,
}

fn scim_user_from_row(row: &Row) -> Result<ScimUser, Error> {
    Ok(ScimUser {
        user: user_from_row(row)?,
        attributes: row.get("scim_attributes")?,
        version: row.get::<Option<i64>, _>("scim_version")?.unwrap_or(0),
    })
}

macro_rules! scim_user_select {
    () => {
        concat!(
            user_select!("s.attributes AS scim_attributes, s.version AS scim_version,"),
            "LEFT JOIN scim_users s ON s.user_id = u.id "
        )
    };
}

mod lookup;
mod pages;

pub use pages::{ScimGroupsPage, ScimUsersPage};

fn actor_details(user_provider: &str) -> serde_json::Value {
    json!({ "user_provider": user_provider, "via": "scim" })
}

impl Store {
    /// Sets user provider `name`'s SCIM token (its SHA-256), replacing any earlier one, with
    /// a `scim.token.create` or `scim.token.rotate` event; answers whether one was replaced.
    pub async fn scim_token_set(
        &self,
        name: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<bool, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let exists: Option<String> = tx
            .scalar_opt(
                "SELECT name FROM user_providers WHERE name = $1",
                [name.into()],
            )
            .await?;
        if exists.is_none() {
            return Err(Error::NotFound {
                what: "user provider",
            });
        }
        let replaced = tx
            .exec(
                "DELETE FROM scim_tokens WHERE user_provider = $1",
                [name.into()],
            )
            .await?
            > 0;
        tx.exec(
            "INSERT INTO scim_tokens (user_provider, token_hash, created_at) VALUES ($1, $2, $3)",
            [
                name.into(),
                Arg::from(&token_hash[..]),
                to_millis(now).into(),
            ],
        )
        .await?;
        let action = if replaced {
            "scim.token.rotate"
        } else {
            "scim.token.create"
        };
        crate::audit::record(
            tx,
            ctx,
            now,
            action,
            Some(format!("user-provider:{name}")),
            json!({}),
        )
        .await?;
        owned.commit().await?;
        Ok(replaced)
    }

    /// Revokes user provider `name`'s SCIM token, with a `scim.token.revoke` event.
    pub async fn scim_token_revoke(
        &self,
        name: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let gone = tx
            .exec(
                "DELETE FROM scim_tokens WHERE user_provider = $1",
                [name.into()],
            )
            .await?;
        if gone == 0 {
            return Err(Error::NotFound { what: "SCIM token" });
        }
        crate::audit::record(
            tx,
            ctx,
            now,
            "scim.token.revoke",
            Some(format!("user-provider:{name}")),
            json!({}),
        )
        .await?;
        owned.commit().await
    }

    /// When user provider `name`'s SCIM token was made, if it has one.
    pub async fn scim_token_created(&self, name: &str) -> Result<Option<OffsetDateTime>, Error> {
        let at: Option<i64> = self
            .reader()
            .scalar_opt(
                "SELECT created_at FROM scim_tokens WHERE user_provider = $1",
                [name.into()],
            )
            .await?;
        at.map(from_millis).transpose()
    }

    /// The user provider whose SCIM token hashes to `token_hash`, with the stored hash (for
    /// the caller's constant-time comparison).
    pub async fn scim_token_provider(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(String, Vec<u8>)>, Error> {
        self.reader()
            .opt(
                "SELECT user_provider, token_hash FROM scim_tokens WHERE token_hash = $1",
                [Arg::from(&token_hash[..])],
            )
            .await
    }

    /// Every user of provider `name`, with their SCIM attributes, in creation order.
    pub async fn scim_users(&self, name: &str) -> Result<Vec<ScimUser>, Error> {
        let rows = self
            .reader()
            .rows(
                concat!(
                    scim_user_select!(),
                    "WHERE u.user_provider = $1 ORDER BY u.id"
                ),
                [name.into()],
            )
            .await?;
        rows.iter().map(scim_user_from_row).collect()
    }

    /// User `id` if provider `name` vouches for them.
    pub async fn scim_user(&self, name: &str, id: UserId) -> Result<Option<ScimUser>, Error> {
        let row = self
            .reader()
            .row_opt(
                concat!(
                    scim_user_select!(),
                    "WHERE u.id = $1 AND u.user_provider = $2"
                ),
                [id.to_string().into(), name.into()],
            )
            .await?;
        row.as_ref().map(scim_user_from_row).transpose()
    }

    /// Creates a provisioned user, with its `user.create` event (and `user.disable` when it
    /// arrives inactive). A username another user of the same kind holds is a conflict.
    pub async fn scim_create_user(
        &self,
        w: &ScimUserWrite,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<ScimUser, Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        username_free(tx, w, None).await?;
        let email = free_email(tx, w, None).await?;
        let id = UserId::new();
        tx.exec(
            "INSERT INTO users (id, provider, username, username_norm, display_name, email, \
             password_hash, password_changed_at, disabled, created_at, updated_at, \
             user_provider) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8, $10)",
            [
                id.to_string().into(),
                w.provider.as_str().into(),
                w.username.as_str().into(),
                w.username.normalized().into(),
                w.display_name.as_deref().into(),
                email.as_deref().into(),
                Arg::from(NO_LOCAL_PASSWORD),
                at.into(),
                w.disabled.into(),
                w.user_provider.as_str().into(),
            ],
        )
        .await?;
        tx.exec(
            "INSERT INTO scim_users (user_id, attributes, version) VALUES ($1, $2, 1)",
            [id.to_string().into(), w.attributes.as_str().into()],
        )
        .await?;
        let mut details = actor_details(&w.user_provider);
        if let Some(o) = details.as_object_mut() {
            o.insert("provider".into(), w.provider.as_str().into());
            o.insert("username".into(), w.username.as_str().into());
            o.insert("active".into(), (!w.disabled).into());
        }
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.create",
            Some(format!("user:{id}")),
            details,
        )
        .await?;
        let row = tx
            .row_opt(
                concat!(scim_user_select!(), "WHERE u.id = $1"),
                [id.to_string().into()],
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let out = scim_user_from_row(&row)?;
        owned.commit().await?;
        Ok(out)
    }

    /// Replaces provisioned user `id` if it is still at `version` and last changed at
    /// `updated` (what its ETag says), with its `user.update`, `user.disable` or
    /// `user.enable` event; disabling ends every session in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn scim_update_user(
        &self,
        id: UserId,
        version: i64,
        updated: OffsetDateTime,
        w: &ScimUserWrite,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Written<ScimUser>, Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let row = tx
            .row_opt(
                concat!(
                    scim_user_select!(),
                    "WHERE u.id = $1 AND u.user_provider = $2"
                ),
                [id.to_string().into(), w.user_provider.as_str().into()],
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let before = scim_user_from_row(&row)?;
        if before.version != version || before.user.updated_at != updated {
            return Ok(Written::Stale);
        }
        username_free(tx, w, Some(id)).await?;
        let email = free_email(tx, w, Some(id)).await?;
        tx.exec(
            "UPDATE users SET username = $1, username_norm = $2, display_name = $3, email = $4, \
             disabled = $5, updated_at = $6 WHERE id = $7",
            [
                w.username.as_str().into(),
                w.username.normalized().into(),
                w.display_name.as_deref().into(),
                email.as_deref().into(),
                w.disabled.into(),
                at.into(),
                id.to_string().into(),
            ],
        )
        .await?;
        let version = before.version + 1;
        let changed = if before.attributes.is_some() {
            tx.exec(
                "UPDATE scim_users SET attributes = $1, version = $2 WHERE user_id = $3",
                [
                    w.attributes.as_str().into(),
                    version.into(),
                    id.to_string().into(),
                ],
            )
            .await?
        } else {
            tx.exec(
                "INSERT INTO scim_users (user_id, attributes, version) VALUES ($1, $2, $3)",
                [
                    id.to_string().into(),
                    w.attributes.as_str().into(),
                    version.into(),
                ],
            )
            .await?
        };
        if changed != 1 {
            return Err(Error::Internal(
                "a SCIM user's attributes were not written".into(),
            ));
        }
        let mut details = actor_details(&w.user_provider);
        let action = match (before.user.disabled, w.disabled) {
            (false, true) => {
                let revoked = revoke_all_sessions(tx, id, at).await?;
                let why = "the user was deprovisioned";
                crate::idp::end_user_families(tx, id, true, why, now, ctx).await?;
                if let Some(o) = details.as_object_mut() {
                    o.insert("sessions_revoked".into(), revoked.into());
                }
                "user.disable"
            }
            (true, false) => {
                let why = "granted before the user was disabled";
                crate::idp::end_user_families(tx, id, true, why, now, ctx).await?;
                "user.enable"
            }
            _ => "user.update",
        };
        if before.user.username != w.username.as_str() {
            if let Some(o) = details.as_object_mut() {
                o.insert("username".into(), w.username.as_str().into());
            }
        }
        crate::audit::record(tx, ctx, now, action, Some(format!("user:{id}")), details).await?;
        crate::fence::credentials_changed(tx).await?;
        let row = tx
            .row_opt(
                concat!(scim_user_select!(), "WHERE u.id = $1"),
                [id.to_string().into()],
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let out = scim_user_from_row(&row)?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(Written::Done(out))
    }

    /// Deletes provisioned user `id` with their sessions and group memberships, with its
    /// `user.delete` event; `Stale` when `expect` (version, last change) no longer holds.
    pub async fn scim_delete_user(
        &self,
        name: &str,
        id: UserId,
        expect: Option<(i64, OffsetDateTime)>,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Written<()>, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let row = tx
            .row_opt(
                concat!(
                    scim_user_select!(),
                    "WHERE u.id = $1 AND u.user_provider = $2"
                ),
                [id.to_string().into(), name.into()],
            )
            .await?
            .ok_or(Error::NotFound { what: "user" })?;
        let before = scim_user_from_row(&row)?;
        if let Some((version, updated)) = expect {
            if before.version != version || before.user.updated_at != updated {
                return Ok(Written::Stale);
            }
        }
        crate::authz::tx::user_deleted(tx, id, to_millis(now)).await?;
        let revoked = revoke_all_sessions(tx, id, to_millis(now)).await?;
        tx.exec("DELETE FROM users WHERE id = $1", [id.to_string().into()])
            .await?;
        let mut details = actor_details(name);
        if let Some(o) = details.as_object_mut() {
            o.insert("provider".into(), before.user.provider.as_str().into());
            o.insert("username".into(), before.user.username.clone().into());
            o.insert("sessions_revoked".into(), revoked.into());
        }
        crate::audit::record(
            tx,
            ctx,
            now,
            "user.delete",
            Some(format!("user:{id}")),
            details,
        )
        .await?;
        crate::fence::credentials_changed(tx).await?;
        owned.commit().await?;
        self.credentials_changed();
        Ok(Written::Done(()))
    }

    /// Every group of provider `name`, with members, by id.
    pub async fn scim_groups(&self, name: &str) -> Result<Vec<ScimGroup>, Error> {
        let mut db = self.snapshot().await?;
        let rows = db
            .rows(
                "SELECT id, display_name, external_id, version, created_at, updated_at \
                 FROM scim_groups WHERE user_provider = $1 ORDER BY id",
                [name.into()],
            )
            .await?;
        let members = db
            .rows(
                "SELECT m.group_id, u.id, u.username FROM scim_group_members m \
                 JOIN scim_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id \
                 WHERE g.user_provider = $1 ORDER BY m.group_id, u.username",
                [name.into()],
            )
            .await?;
        db.commit().await?;
        with_members(&rows, &members)
    }

    /// Group `id` of provider `name`.
    pub async fn scim_group(&self, name: &str, id: &str) -> Result<Option<ScimGroup>, Error> {
        let mut tx = self.snapshot().await?;
        let group = group_in(&mut tx, name, id).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// The names of the groups of user `id`.
    pub async fn scim_group_names_of(&self, id: UserId) -> Result<Vec<String>, Error> {
        self.reader()
            .scalars(
                "SELECT g.display_name FROM scim_groups g JOIN scim_group_members m \
                 ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.display_name",
                [id.to_string().into()],
            )
            .await
    }

    /// Creates (`id` `None`) or replaces a group, if still at `expect` when given, with its
    /// `scim.group.create` or `scim.group.update` event. Members must be users of the same
    /// provider. Answers the group and the users whose membership changed.
    pub async fn scim_write_group(
        &self,
        id: Option<&str>,
        expect: Option<i64>,
        w: &ScimGroupWrite,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Written<(ScimGroup, Vec<UserId>)>, Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        for m in &w.members {
            let theirs: Option<Option<String>> = tx
                .scalar_opt(
                    "SELECT user_provider FROM users WHERE id = $1",
                    [m.to_string().into()],
                )
                .await?;
            if theirs.flatten().as_deref() != Some(w.user_provider.as_str()) {
                return Err(Error::invalid(
                    "members",
                    format!("{m} is not a user of the provider {}", w.user_provider),
                ));
            }
        }
        let norm = w.display_name.to_lowercase();
        let clash: Option<String> = tx
            .scalar_opt(
                "SELECT id FROM scim_groups WHERE user_provider = $1 AND display_name_norm = $2",
                [w.user_provider.as_str().into(), norm.as_str().into()],
            )
            .await?;
        if clash.is_some_and(|c| Some(c.as_str()) != id) {
            return Err(Error::Conflict(format!(
                "the provider {} already has a group named {}",
                w.user_provider, w.display_name
            )));
        }
        let (gid, before, action) = match id {
            None => {
                let gid = uuid::Uuid::now_v7().to_string();
                tx.exec(
                    "INSERT INTO scim_groups (id, user_provider, display_name, display_name_norm, \
                     external_id, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
                    [
                        gid.as_str().into(),
                        w.user_provider.as_str().into(),
                        w.display_name.as_str().into(),
                        norm.as_str().into(),
                        w.external_id.as_deref().into(),
                        at.into(),
                    ],
                )
                .await?;
                (gid, Vec::new(), "scim.group.create")
            }
            Some(gid) => {
                let Some(current) = group_in(tx, &w.user_provider, gid).await? else {
                    return Err(Error::NotFound { what: "group" });
                };
                if expect.is_some_and(|v| v != current.version) {
                    return Ok(Written::Stale);
                }
                tx.exec(
                    "UPDATE scim_groups SET display_name = $1, display_name_norm = $2, \
                     external_id = $3, version = version + 1, updated_at = $4 WHERE id = $5",
                    [
                        w.display_name.as_str().into(),
                        norm.as_str().into(),
                        w.external_id.as_deref().into(),
                        at.into(),
                        gid.into(),
                    ],
                )
                .await?;
                let before: Vec<UserId> = current.members.iter().map(|(u, _)| *u).collect();
                (gid.to_owned(), before, "scim.group.update")
            }
        };
        let added: Vec<UserId> = w
            .members
            .iter()
            .filter(|m| !before.contains(m))
            .copied()
            .collect();
        let removed: Vec<UserId> = before
            .iter()
            .filter(|m| !w.members.contains(m))
            .copied()
            .collect();
        for m in &removed {
            tx.exec(
                "DELETE FROM scim_group_members WHERE group_id = $1 AND user_id = $2",
                [gid.as_str().into(), m.to_string().into()],
            )
            .await?;
        }
        for m in &added {
            tx.exec(
                "INSERT INTO scim_group_members (group_id, user_id) VALUES ($1, $2)",
                [gid.as_str().into(), m.to_string().into()],
            )
            .await?;
        }
        let details = json!({
            "user_provider": w.user_provider,
            "via": "scim",
            "display_name": w.display_name,
            "added": added.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "removed": removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        crate::audit::record(
            tx,
            ctx,
            now,
            action,
            Some(format!("scim-group:{gid}")),
            details,
        )
        .await?;
        let group = group_in(tx, &w.user_provider, &gid)
            .await?
            .ok_or(Error::NotFound { what: "group" })?;
        owned.commit().await?;
        let mut changed = added;
        changed.extend(removed);
        Ok(Written::Done((group, changed)))
    }

    /// Deletes group `id` of provider `name`, if still at `expect` when given, with its
    /// `scim.group.delete` event; answers its former members.
    pub async fn scim_delete_group(
        &self,
        name: &str,
        id: &str,
        expect: Option<i64>,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Written<Vec<UserId>>, Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let Some(current) = group_in(tx, name, id).await? else {
            return Err(Error::NotFound { what: "group" });
        };
        if expect.is_some_and(|v| v != current.version) {
            return Ok(Written::Stale);
        }
        tx.exec("DELETE FROM scim_groups WHERE id = $1", [id.into()])
            .await?;
        let details = json!({
            "user_provider": name,
            "via": "scim",
            "display_name": current.display_name,
        });
        crate::audit::record(
            tx,
            ctx,
            now,
            "scim.group.delete",
            Some(format!("scim-group:{id}")),
            details,
        )
        .await?;
        owned.commit().await?;
        Ok(Written::Done(
            current.members.into_iter().map(|(u, _)| u).collect(),
        ))
    }
}

/// Groups from their `rows`, with their `members` (rows of `group_id`, the user's `id` and
/// `username`, in the order they are to be listed).
pub(crate) fn with_members(rows: &[Row], members: &[Row]) -> Result<Vec<ScimGroup>, Error> {
    let mut groups = rows
        .iter()
        .map(group_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let at: std::collections::HashMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    for m in members {
        let gid: String = m.get("group_id")?;
        let uid: String = m.get("id")?;
        if let Some(&i) = at.get(&gid) {
            groups[i]
                .members
                .push((UserId::parse(&uid, "id")?, m.get("username")?));
        }
    }
    Ok(groups)
}

fn group_from_row(row: &Row) -> Result<ScimGroup, Error> {
    Ok(ScimGroup {
        id: row.get("id")?,
        display_name: row.get("display_name")?,
        external_id: row.get("external_id")?,
        version: row.get("version")?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
        members: Vec::new(),
    })
}

async fn group_in(tx: &mut Tx<'_>, name: &str, id: &str) -> Result<Option<ScimGroup>, Error> {
    let Some(row) = tx
        .row_opt(
            "SELECT id, display_name, external_id, version, created_at, updated_at \
             FROM scim_groups WHERE id = $1 AND user_provider = $2",
            [id.into(), name.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let mut group = group_from_row(&row)?;
    let members = tx
        .rows(
            "SELECT u.id, u.username FROM scim_group_members m JOIN users u ON u.id = m.user_id \
             WHERE m.group_id = $1 ORDER BY u.username",
            [id.into()],
        )
        .await?;
    for m in &members {
        let uid: String = m.get("id")?;
        group
            .members
            .push((UserId::parse(&uid, "id")?, m.get("username")?));
    }
    Ok(Some(group))
}

/// Refuses a username another user of the same kind (other than `me`) holds.
async fn username_free(
    tx: &mut Tx<'_>,
    w: &ScimUserWrite,
    me: Option<UserId>,
) -> Result<(), Error> {
    let holder: Option<String> = tx
        .scalar_opt(
            "SELECT id FROM users WHERE provider = $1 AND username_norm = $2",
            [w.provider.as_str().into(), w.username.normalized().into()],
        )
        .await?;
    match holder {
        Some(h) if me.is_none_or(|m| m.to_string() != h) => Err(Error::Conflict(format!(
            "the userName {} is taken",
            w.username.as_str()
        ))),
        _ => Ok(()),
    }
}

/// The e-mail to store: left out when another user of the same kind has it.
async fn free_email(
    tx: &mut Tx<'_>,
    w: &ScimUserWrite,
    me: Option<UserId>,
) -> Result<Option<String>, Error> {
    let Some(email) = &w.email else {
        return Ok(None);
    };
    let holder: Option<String> = tx
        .scalar_opt(
            "SELECT id FROM users WHERE provider = $1 AND email = $2",
            [w.provider.as_str().into(), email.as_str().into()],
        )
        .await?;
    Ok(match holder {
        Some(h) if me.is_none_or(|m| m.to_string() != h) => None,
        _ => Some(email.as_str().to_owned()),
    })
}
