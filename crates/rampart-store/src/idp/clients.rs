//! Registered clients and the consents users give them.

use rampart_core::{AuditContext, Error, UserId};
use serde_json::json;
use time::OffsetDateTime;

use super::{joined, split};
use crate::backend::to_millis;
use crate::db::Row;
use crate::Store;

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewIdpClient {
    /// The client id.
    pub client_id: String,
    /// What administrators and the consent page call it.
    pub name: String,
    /// SHA-256 of its secret; `None` for a public client.
    pub secret_hash: Option<[u8; 32]>,
    /// Skips consent.
    pub first_party: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// The JOSE algorithm its ID tokens are signed with (`RS256`, `ES256`).
    pub id_token_alg: String,
    /// Who signs in to it: `it` or `end` users.
    pub users: String,
}

/// The settings an update stores: every one a client may change after registration (its
/// id, secret, kind and grant types never change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpClientSettings {
    /// Its name.
    pub name: String,
    /// Skips consent.
    pub first_party: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// The JOSE algorithm its ID tokens are signed with.
    pub id_token_alg: String,
    /// Who signs in to it: `it` or `end` users.
    pub users: String,
}

/// The scopes a grant issued before an update keeps: `None` when the grant must end.
pub type Narrow<'a> = &'a (dyn Fn(&[String]) -> Option<Vec<String>> + Send + Sync);

/// What an update did to what the client had been issued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Narrowed {
    /// Codes not yet presented, deleted (their redirect URI or every grantable scope went).
    pub codes_withdrawn: u64,
    /// Codes, refresh-token families and consents left with fewer scopes.
    pub scopes_narrowed: u64,
    /// Refresh-token families revoked.
    pub families_revoked: u64,
    /// Consents withdrawn.
    pub consents_withdrawn: u64,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpClient {
    /// The client id.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// SHA-256 of its secret; `None` for a public client.
    pub secret_hash: Option<Vec<u8>>,
    /// Skips consent.
    pub first_party: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// The JOSE algorithm its ID tokens are signed with (`RS256`, `ES256`).
    pub id_token_alg: String,
    /// Who signs in to it: `it` or `end` users.
    pub users: String,
    /// Registration time.
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "client_id, name, secret_hash, first_party, redirect_uris, \
                       post_logout_redirect_uris, scopes, grant_types, id_token_alg, users, created_at";

fn client(row: &Row) -> Result<IdpClient, Error> {
    let list = |name: &str| -> Result<Vec<String>, Error> {
        let text: String = row.get(name)?;
        serde_json::from_str(&text).map_err(|e| Error::Internal(format!("idp_clients.{name}: {e}")))
    };
    let scopes: String = row.get("scopes")?;
    let grants: String = row.get("grant_types")?;
    Ok(IdpClient {
        client_id: row.get("client_id")?,
        name: row.get("name")?,
        secret_hash: row.get("secret_hash")?,
        first_party: row.get("first_party")?,
        redirect_uris: list("redirect_uris")?,
        post_logout_redirect_uris: list("post_logout_redirect_uris")?,
        scopes: split(&scopes),
        grant_types: split(&grants),
        id_token_alg: row.get("id_token_alg")?,
        users: row.get("users")?,
        created_at: crate::backend::from_millis(row.get("created_at")?)?,
    })
}

impl Store {
    /// Registers a client (`idp.client.create`); an id taken is a conflict.
    pub async fn idp_create_client(
        &self,
        new: &NewIdpClient,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let uris = serde_json::to_string(&new.redirect_uris)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let logout = serde_json::to_string(&new.post_logout_redirect_uris)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.write().await?;
        let taken: Option<String> = tx
            .scalar_opt(
                "SELECT client_id FROM idp_clients WHERE client_id = $1",
                [new.client_id.as_str().into()],
            )
            .await?;
        if taken.is_some() {
            return Err(Error::Conflict(format!(
                "a client with id {} is already registered",
                new.client_id
            )));
        }
        tx.exec(
            "INSERT INTO idp_clients (client_id, name, secret_hash, first_party, redirect_uris, \
             post_logout_redirect_uris, scopes, grant_types, created_at, updated_at, \
             id_token_alg, users) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
            [
                new.client_id.as_str().into(),
                new.name.as_str().into(),
                new.secret_hash.map(|h| h.to_vec()).into(),
                new.first_party.into(),
                uris.into(),
                logout.into(),
                joined(&new.scopes).into(),
                joined(&new.grant_types).into(),
                to_millis(now).into(),
                new.id_token_alg.as_str().into(),
                new.users.as_str().into(),
            ],
        )
        .await?;
        let details = json!({
            "client_id": new.client_id,
            "name": new.name,
            "confidential": new.secret_hash.is_some(),
            "first_party": new.first_party,
            "redirect_uris": new.redirect_uris,
            "post_logout_redirect_uris": new.post_logout_redirect_uris,
            "scopes": new.scopes,
            "grant_types": new.grant_types,
            "id_token_signed_response_alg": new.id_token_alg,
            "users": new.users,
        });
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "idp.client.create",
            Some(format!("idp-client:{}", new.client_id)),
            details,
        )
        .await?;
        tx.commit().await
    }

    /// Every registered client, by id.
    pub async fn idp_clients(&self) -> Result<Vec<IdpClient>, Error> {
        let rows = self
            .reader()
            .rows(
                &format!("SELECT {COLUMNS} FROM idp_clients ORDER BY client_id"),
                [],
            )
            .await?;
        rows.iter().map(client).collect()
    }

    /// The client `client_id`, if registered.
    pub async fn idp_client(&self, client_id: &str) -> Result<Option<IdpClient>, Error> {
        let row = self
            .reader()
            .row_opt(
                &format!("SELECT {COLUMNS} FROM idp_clients WHERE client_id = $1"),
                [client_id.into()],
            )
            .await?;
        row.as_ref().map(client).transpose()
    }

    /// Removes a client with its codes, families and consents (`idp.client.delete`);
    /// whether there was one.
    pub async fn idp_delete_client(
        &self,
        client_id: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        // Explicit deletes: SQLite enforces the cascades only with foreign keys on.
        for table in ["idp_consents", "idp_codes"] {
            tx.exec(
                &format!("DELETE FROM {table} WHERE client_id = $1"),
                [client_id.into()],
            )
            .await?;
        }
        tx.exec(
            "DELETE FROM idp_refresh_tokens WHERE family_id IN \
             (SELECT family_id FROM idp_families WHERE client_id = $1)",
            [client_id.into()],
        )
        .await?;
        tx.exec(
            "DELETE FROM idp_families WHERE client_id = $1",
            [client_id.into()],
        )
        .await?;
        let gone = tx
            .exec(
                "DELETE FROM idp_clients WHERE client_id = $1",
                [client_id.into()],
            )
            .await?
            > 0;
        if gone {
            crate::audit::record(
                &mut tx,
                ctx,
                now,
                "idp.client.delete",
                Some(format!("idp-client:{client_id}")),
                json!({ "client_id": client_id }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Replaces a confidential client's secret (`idp.client.rotate-secret`); whether the
    /// client exists and has one.
    pub async fn idp_set_client_secret(
        &self,
        client_id: &str,
        secret_hash: [u8; 32],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let done = tx
            .exec(
                "UPDATE idp_clients SET secret_hash = $2, updated_at = $3 \
                 WHERE client_id = $1 AND secret_hash IS NOT NULL",
                [
                    client_id.into(),
                    secret_hash.to_vec().into(),
                    to_millis(now).into(),
                ],
            )
            .await?
            > 0;
        if done {
            crate::audit::record(
                &mut tx,
                ctx,
                now,
                "idp.client.rotate-secret",
                Some(format!("idp-client:{client_id}")),
                json!({ "client_id": client_id }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Changes `before`'s settings to `after` (`idp.client.update`, naming the `changed`
    /// fields and their new values), provided the stored client still has `before`'s
    /// settings: `None` when it does not (removed, or changed meanwhile), with nothing
    /// changed. In the same transaction, what the client was issued before follows its new
    /// registration: codes not yet presented whose redirect URI is no longer registered
    /// are deleted; codes, live refresh-token families and consents keep the scopes
    /// `narrow` leaves them, and end (deleted, revoked with an `idp.revoke` each) when it
    /// leaves none; when the users it signs in change, every one of them ends.
    pub async fn idp_update_client(
        &self,
        before: &IdpClient,
        after: &IdpClientSettings,
        changed: &[&str],
        narrow: Narrow<'_>,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Option<Narrowed>, Error> {
        let text = |list: &[String]| {
            serde_json::to_string(list).map_err(|e| Error::Internal(e.to_string()))
        };
        let mut tx = self.write().await?;
        // A compare-and-set on every setting: of two updates read from the same state, the
        // second finds the row changed and changes nothing.
        let done = tx
            .exec(
                "UPDATE idp_clients SET name = $2, first_party = $3, redirect_uris = $4, \
                 post_logout_redirect_uris = $5, scopes = $6, id_token_alg = $7, users = $8, \
                 updated_at = $9 \
                 WHERE client_id = $1 AND name = $10 AND first_party = $11 \
                 AND redirect_uris = $12 AND post_logout_redirect_uris = $13 AND scopes = $14 \
                 AND id_token_alg = $15 AND users = $16",
                [
                    before.client_id.as_str().into(),
                    after.name.as_str().into(),
                    after.first_party.into(),
                    text(&after.redirect_uris)?.into(),
                    text(&after.post_logout_redirect_uris)?.into(),
                    joined(&after.scopes).into(),
                    after.id_token_alg.as_str().into(),
                    after.users.as_str().into(),
                    to_millis(now).into(),
                    before.name.as_str().into(),
                    before.first_party.into(),
                    text(&before.redirect_uris)?.into(),
                    text(&before.post_logout_redirect_uris)?.into(),
                    joined(&before.scopes).into(),
                    before.id_token_alg.as_str().into(),
                    before.users.as_str().into(),
                ],
            )
            .await?
            > 0;
        if !done {
            return Ok(None);
        }
        let id = before.client_id.as_str();
        let everyone_else = before.users != after.users;
        let fewer_scopes = before.scopes.iter().any(|s| !after.scopes.contains(s));
        let fewer_uris = before
            .redirect_uris
            .iter()
            .any(|u| !after.redirect_uris.contains(u));
        let reason = if everyone_else {
            "the client now signs in other users"
        } else {
            "the client may no longer ask for these scopes"
        };
        let keep = |scopes: &[String]| {
            if everyone_else {
                None
            } else {
                narrow(scopes)
            }
        };
        let mut n = Narrowed::default();
        if everyone_else || fewer_scopes || fewer_uris {
            let codes: Vec<(Vec<u8>, String, String)> = tx
                .all(
                    "SELECT code_hash, redirect_uri, scopes FROM idp_codes \
                     WHERE client_id = $1 AND used_at IS NULL ORDER BY code_hash",
                    [id.into()],
                )
                .await?;
            for (hash, uri, scopes) in codes {
                let scopes = split(&scopes);
                match keep(&scopes).filter(|_| after.redirect_uris.contains(&uri)) {
                    None => {
                        tx.exec("DELETE FROM idp_codes WHERE code_hash = $1", [hash.into()])
                            .await?;
                        n.codes_withdrawn += 1;
                    }
                    Some(kept) if kept != scopes => {
                        tx.exec(
                            "UPDATE idp_codes SET scopes = $2 WHERE code_hash = $1",
                            [hash.into(), joined(&kept).into()],
                        )
                        .await?;
                        n.scopes_narrowed += 1;
                    }
                    Some(_) => {}
                }
            }
        }
        if everyone_else || fewer_scopes {
            let families: Vec<(String, String)> = tx
                .all(
                    "SELECT family_id, scopes FROM idp_families \
                     WHERE client_id = $1 AND revoked_at IS NULL ORDER BY family_id",
                    [id.into()],
                )
                .await?;
            for (family, scopes) in families {
                let scopes = split(&scopes);
                match keep(&scopes) {
                    None => {
                        super::grants::revoke_family(&mut tx, &family, id, reason, now, ctx)
                            .await?;
                        n.families_revoked += 1;
                    }
                    Some(kept) if kept != scopes => {
                        tx.exec(
                            "UPDATE idp_families SET scopes = $2 WHERE family_id = $1",
                            [family.as_str().into(), joined(&kept).into()],
                        )
                        .await?;
                        n.scopes_narrowed += 1;
                    }
                    Some(_) => {}
                }
            }
            let consents: Vec<(String, String)> = tx
                .all(
                    "SELECT user_id, scopes FROM idp_consents WHERE client_id = $1 \
                     ORDER BY user_id",
                    [id.into()],
                )
                .await?;
            for (user, scopes) in consents {
                let scopes = split(&scopes);
                let kept = keep(&scopes).unwrap_or_default();
                if kept.is_empty() {
                    tx.exec(
                        "DELETE FROM idp_consents WHERE user_id = $1 AND client_id = $2",
                        [user.as_str().into(), id.into()],
                    )
                    .await?;
                    n.consents_withdrawn += 1;
                } else if kept != scopes {
                    tx.exec(
                        "UPDATE idp_consents SET scopes = $3 WHERE user_id = $1 AND client_id = $2",
                        [user.as_str().into(), id.into(), joined(&kept).into()],
                    )
                    .await?;
                    n.scopes_narrowed += 1;
                }
            }
        }
        let mut details = serde_json::Map::new();
        details.insert("client_id".into(), json!(id));
        details.insert("changed".into(), json!(changed));
        for field in changed {
            let value = match *field {
                "name" => json!(after.name),
                "first_party" => json!(after.first_party),
                "redirect_uris" => json!(after.redirect_uris),
                "post_logout_redirect_uris" => json!(after.post_logout_redirect_uris),
                "scopes" => json!(after.scopes),
                "id_token_signed_response_alg" => json!(after.id_token_alg),
                "users" => json!(after.users),
                _ => continue,
            };
            details.insert((*field).to_owned(), value);
        }
        details.insert("codes_withdrawn".into(), json!(n.codes_withdrawn));
        details.insert("scopes_narrowed".into(), json!(n.scopes_narrowed));
        details.insert("families_revoked".into(), json!(n.families_revoked));
        details.insert("consents_withdrawn".into(), json!(n.consents_withdrawn));
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "idp.client.update",
            Some(format!("idp-client:{id}")),
            serde_json::Value::Object(details),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(n))
    }

    /// The scopes `user` granted `client_id`, if they ever consented.
    pub async fn idp_consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, Error> {
        let scopes: Option<String> = self
            .reader()
            .scalar_opt(
                "SELECT scopes FROM idp_consents WHERE user_id = $1 AND client_id = $2",
                [user.to_string().into(), client_id.into()],
            )
            .await?;
        Ok(scopes.as_deref().map(split))
    }

    /// Remembers that `user` granted `client_id` `scopes` (with what they granted before)
    /// (`idp.consent`).
    pub async fn idp_grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let before: Option<String> = tx
            .scalar_opt(
                "SELECT scopes FROM idp_consents WHERE user_id = $1 AND client_id = $2",
                [user.to_string().into(), client_id.into()],
            )
            .await?;
        let mut all = before.as_deref().map(split).unwrap_or_default();
        all.extend(scopes.iter().cloned());
        all.sort();
        all.dedup();
        tx.exec(
            "DELETE FROM idp_consents WHERE user_id = $1 AND client_id = $2",
            [user.to_string().into(), client_id.into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO idp_consents (user_id, client_id, scopes, granted_at) \
             VALUES ($1, $2, $3, $4)",
            [
                user.to_string().into(),
                client_id.into(),
                joined(&all).into(),
                to_millis(now).into(),
            ],
        )
        .await?;
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "idp.consent",
            Some(format!("idp-client:{client_id}")),
            json!({ "client_id": client_id, "scopes": scopes }),
        )
        .await?;
        tx.commit().await
    }
}
