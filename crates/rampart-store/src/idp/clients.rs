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
