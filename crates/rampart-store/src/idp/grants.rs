//! Authorization codes, refresh-token families and revoked access tokens.

use rampart_core::{AuditContext, Error, User, UserId};
use serde_json::json;
use time::OffsetDateTime;

use super::{joined, split};
use crate::backend::{from_millis, to_millis};
use crate::db::Tx;
use crate::group::Grouped;
use crate::identity::users::{user_from_row, user_select};
use crate::Store;

/// A code to keep.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// SHA-256 of the code.
    pub code_hash: [u8; 32],
    /// The client.
    pub client_id: String,
    /// The user who signed in.
    pub user_id: UserId,
    /// The request's redirect URI.
    pub redirect_uri: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// The `S256` challenge.
    pub challenge: String,
    /// When the user signed in.
    pub auth_time: OffsetDateTime,
    /// Its end.
    pub expires_at: OffsetDateTime,
}

/// A code taken at the token endpoint.
#[derive(Debug, Clone)]
pub struct TakenCode {
    /// It had been taken before (a replay).
    pub used: bool,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: UserId,
    /// The request's redirect URI.
    pub redirect_uri: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// The challenge.
    pub challenge: String,
    /// When the user signed in.
    pub auth_time: OffsetDateTime,
    /// Its end.
    pub expires_at: OffsetDateTime,
    /// The family its grant started, if it was granted.
    pub family_id: Option<String>,
}

/// A family to start.
#[derive(Debug, Clone)]
pub struct NewFamily {
    /// Its id.
    pub family_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: UserId,
    /// The scopes.
    pub scopes: Vec<String>,
    /// When the user signed in.
    pub auth_time: OffsetDateTime,
    /// Its end (no refresh after).
    pub expires_at: OffsetDateTime,
    /// SHA-256 of its first refresh token.
    pub refresh_hash: [u8; 32],
}

/// A presented refresh token and its family.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    /// The family.
    pub family_id: String,
    /// The token's generation.
    pub generation: i64,
    /// The family's current generation.
    pub current: i64,
    /// Whether the family was revoked.
    pub revoked: bool,
    /// The family's end.
    pub expires_at: OffsetDateTime,
    /// The client.
    pub client_id: String,
    /// The user's account as it is now.
    pub user: User,
    /// The scopes.
    pub scopes: Vec<String>,
    /// When the user signed in.
    pub auth_time: OffsetDateTime,
}

impl Store {
    /// Keeps a code for the authorization it answers (`idp.authorize`).
    pub async fn idp_issue_code(
        &self,
        code: &IssuedCode,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let issued = (code.clone(), now, ctx.clone());
        self.grouped(issued, |tx, (code, now, ctx)| {
            Box::pin(issue_code(tx, code, *now, ctx))
        })
        .await
    }

    /// Takes the code hashing to `code_hash`: marks it used and answers what it was,
    /// with `used` set when it had been taken before. `None` when there is no such code.
    pub async fn idp_take_code(
        &self,
        code_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<TakenCode>, Error> {
        self.grouped((*code_hash, now), |tx, (hash, now)| {
            Box::pin(take_code(tx, hash, *now))
        })
        .await
    }

    /// Starts the family a code's grant issues (its first refresh token, generation 1),
    /// links it to the code, and records the grant (`idp.token`).
    pub async fn idp_start_family(
        &self,
        code_hash: &[u8; 32],
        family: &NewFamily,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let started = (*code_hash, family.clone(), now, ctx.clone());
        self.grouped(started, |tx, (code_hash, family, now, ctx)| {
            Box::pin(start_family(tx, code_hash, family, *now, ctx))
        })
        .await
    }

    /// The refresh token hashing to `token_hash` and its family.
    pub async fn idp_refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<RefreshRow>, Error> {
        // The user comes with the token (a family's user is never gone: deleting a user
        // deletes their families): a refresh reads once.
        let row = self
            .reader()
            .row_opt(
                concat!(
                    user_select!(
                        "t.family_id, t.generation, f.generation AS current, f.revoked_at, \
                         f.expires_at, f.client_id, f.scopes, f.auth_time,"
                    ),
                    "JOIN idp_families f ON f.user_id = u.id \
                     JOIN idp_refresh_tokens t ON t.family_id = f.family_id \
                     WHERE t.token_hash = $1"
                ),
                [token_hash.to_vec().into()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let scopes: String = row.get("scopes")?;
        let revoked: Option<i64> = row.get("revoked_at")?;
        Ok(Some(RefreshRow {
            family_id: row.get("family_id")?,
            generation: row.get("generation")?,
            current: row.get("current")?,
            revoked: revoked.is_some(),
            expires_at: from_millis(row.get("expires_at")?)?,
            client_id: row.get("client_id")?,
            user: user_from_row(&row)?,
            scopes: split(&scopes),
            auth_time: from_millis(row.get("auth_time")?)?,
        }))
    }

    /// Rotates `family_id` from generation `from` to the next, with the new token's hash
    /// (`idp.token`); `false` when the family moved on or was revoked meanwhile (the
    /// presentation lost a race and is a replay).
    pub async fn idp_rotate(
        &self,
        family_id: &str,
        client_id: &str,
        from: i64,
        new_hash: &[u8; 32],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<bool, Error> {
        let rotation = Rotation {
            family_id: family_id.to_owned(),
            client_id: client_id.to_owned(),
            from,
            new_hash: *new_hash,
            now,
            ctx: ctx.clone(),
        };
        self.grouped(rotation, |tx, r| Box::pin(rotate(tx, r)))
            .await
    }

    /// Revokes a family: its refresh tokens and the access tokens issued in it stop
    /// working (`idp.revoke`, with `why`). Whether it was live.
    pub async fn idp_revoke_family(
        &self,
        family_id: &str,
        why: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let client: Option<String> = tx
            .scalar_opt(
                "SELECT client_id FROM idp_families WHERE family_id = $1 AND revoked_at IS NULL",
                [family_id.into()],
            )
            .await?;
        let Some(client) = client else {
            return Ok(false);
        };
        revoke_family(&mut tx, family_id, &client, why, now, ctx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes the live families `user` holds with `client` (with every client when `None`)
    /// that were granted without `offline_access`: they belong to the sign-in that ended
    /// (`idp.revoke` each, with `why`). A family granted `offline_access` is the user's
    /// consent to access while signed out, and stays. How many were revoked.
    pub async fn idp_revoke_sign_in_families(
        &self,
        user: UserId,
        client: Option<&str>,
        why: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<u64, Error> {
        let mut tx = self.write().await?;
        let ended = Ended {
            user,
            client,
            offline_too: false,
            why,
        };
        let revoked = revoke_user_families(&mut tx, &ended, now, ctx).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Whether the family `family_id` is live (exists, not revoked).
    pub async fn idp_family_live(&self, family_id: &str) -> Result<bool, Error> {
        let revoked: Option<Option<i64>> = self
            .reader()
            .scalar_opt(
                "SELECT revoked_at FROM idp_families WHERE family_id = $1",
                [family_id.into()],
            )
            .await?;
        Ok(matches!(revoked, Some(None)))
    }

    /// Revokes a familyless access token by its id until it expires (`idp.revoke`).
    pub async fn idp_revoke_token_id(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.exec(
            "DELETE FROM idp_revoked_tokens WHERE expires_at < $1",
            [to_millis(now).into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO idp_revoked_tokens (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
            [jti.into(), to_millis(expires_at).into()],
        )
        .await?;
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "idp.revoke",
            Some(format!("idp-client:{client_id}")),
            json!({ "client_id": client_id, "token": jti, "reason": "revoked by the client" }),
        )
        .await?;
        tx.commit().await
    }

    /// Whether the familyless access token `jti` was revoked.
    pub async fn idp_token_id_revoked(&self, jti: &str) -> Result<bool, Error> {
        let found: Option<String> = self
            .reader()
            .scalar_opt(
                "SELECT jti FROM idp_revoked_tokens WHERE jti = $1",
                [jti.into()],
            )
            .await?;
        Ok(found.is_some())
    }
}

/// Which of a user's refresh-token families end ([`revoke_user_families`]).
pub(crate) struct Ended<'a> {
    /// Whose.
    pub(crate) user: UserId,
    /// Only those of this client; every client's when `None`.
    pub(crate) client: Option<&'a str>,
    /// Also those granted `offline_access` (the user is disabled or deprovisioned), not
    /// only those of the sign-ins that ended.
    pub(crate) offline_too: bool,
    /// The `idp.revoke` events' reason.
    pub(crate) why: &'a str,
}

/// Revokes the live families `ended` names, inside `tx` (`idp.revoke` each); how many.
pub(crate) async fn revoke_user_families(
    tx: &mut Tx<'_>,
    ended: &Ended<'_>,
    now: OffsetDateTime,
    ctx: &AuditContext,
) -> Result<u64, Error> {
    let sql = if ended.offline_too {
        "SELECT family_id, client_id FROM idp_families \
         WHERE user_id = $1 AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL \
         ORDER BY family_id"
    } else {
        "SELECT family_id, client_id FROM idp_families \
         WHERE user_id = $1 AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL \
         AND (' ' || scopes || ' ') NOT LIKE '% offline\\_access %' ESCAPE '\\' \
         ORDER BY family_id"
    };
    let live: Vec<(String, String)> = tx
        .all(
            sql,
            [
                ended.user.to_string().into(),
                ended.client.map(str::to_owned).into(),
            ],
        )
        .await?;
    for (family, client) in &live {
        revoke_family(tx, family, client, ended.why, now, ctx).await?;
    }
    Ok(live.len() as u64)
}

/// Ends the refresh-token families of `user` with every client, inside `tx`: those of
/// its sign-ins, and with `offline_too` those granted `offline_access` as well. How many.
pub(crate) async fn end_user_families(
    tx: &mut Tx<'_>,
    user: UserId,
    offline_too: bool,
    why: &str,
    now: OffsetDateTime,
    ctx: &AuditContext,
) -> Result<u64, Error> {
    let ended = Ended {
        user,
        client: None,
        offline_too,
        why,
    };
    revoke_user_families(tx, &ended, now, ctx).await
}

/// Revokes family `family_id` of `client` in `tx` and records `idp.revoke` with `why`.
pub(super) async fn revoke_family(
    tx: &mut Tx<'_>,
    family_id: &str,
    client: &str,
    why: &str,
    now: OffsetDateTime,
    ctx: &AuditContext,
) -> Result<(), Error> {
    tx.exec(
        "UPDATE idp_families SET revoked_at = $2, revoked_why = $3 WHERE family_id = $1",
        [family_id.into(), to_millis(now).into(), why.into()],
    )
    .await?;
    crate::audit::record(
        tx,
        ctx,
        now,
        "idp.revoke",
        Some(format!("idp-client:{client}")),
        json!({ "client_id": client, "family": family_id, "reason": why }),
    )
    .await
}

/// A rotation waiting for its commit ([`Store::idp_rotate`]).
struct Rotation {
    family_id: String,
    client_id: String,
    from: i64,
    new_hash: [u8; 32],
    now: OffsetDateTime,
    ctx: AuditContext,
}

async fn rotate(g: &mut Grouped, r: &Rotation) -> Result<bool, Error> {
    let moved =
        g.tx.exec(
            "UPDATE idp_families SET generation = generation + 1 \
             WHERE family_id = $1 AND generation = $2 AND revoked_at IS NULL",
            [r.family_id.as_str().into(), r.from.into()],
        )
        .await?
            > 0;
    if !moved {
        return Ok(false);
    }
    g.tx.exec(
        "INSERT INTO idp_refresh_tokens (token_hash, family_id, generation, created_at) \
         VALUES ($1, $2, $3, $4)",
        [
            r.new_hash.to_vec().into(),
            r.family_id.as_str().into(),
            (r.from + 1).into(),
            to_millis(r.now).into(),
        ],
    )
    .await?;
    g.record(
        &r.ctx,
        r.now,
        "idp.token",
        Some(format!("idp-client:{}", r.client_id)),
        json!({ "client_id": r.client_id, "grant_type": "refresh_token", "family": r.family_id }),
    );
    Ok(true)
}

async fn issue_code(
    g: &mut Grouped,
    code: &IssuedCode,
    now: OffsetDateTime,
    ctx: &AuditContext,
) -> Result<(), Error> {
    g.tx.exec(
        "DELETE FROM idp_codes WHERE expires_at < $1",
        [to_millis(now - time::Duration::hours(1)).into()],
    )
    .await?;
    g.tx.exec(
        "INSERT INTO idp_codes (code_hash, client_id, user_id, redirect_uri, scopes, nonce, \
         challenge, auth_time, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            code.code_hash.to_vec().into(),
            code.client_id.as_str().into(),
            code.user_id.to_string().into(),
            code.redirect_uri.as_str().into(),
            joined(&code.scopes).into(),
            code.nonce.clone().into(),
            code.challenge.as_str().into(),
            to_millis(code.auth_time).into(),
            to_millis(now).into(),
            to_millis(code.expires_at).into(),
        ],
    )
    .await?;
    g.record(
        ctx,
        now,
        "idp.authorize",
        Some(format!("idp-client:{}", code.client_id)),
        json!({ "client_id": code.client_id, "scopes": code.scopes }),
    );
    Ok(())
}

async fn start_family(
    g: &mut Grouped,
    code_hash: &[u8; 32],
    family: &NewFamily,
    now: OffsetDateTime,
    ctx: &AuditContext,
) -> Result<(), Error> {
    g.tx.exec(
        "INSERT INTO idp_families (family_id, client_id, user_id, scopes, auth_time, \
         generation, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
        [
            family.family_id.as_str().into(),
            family.client_id.as_str().into(),
            family.user_id.to_string().into(),
            joined(&family.scopes).into(),
            to_millis(family.auth_time).into(),
            to_millis(now).into(),
            to_millis(family.expires_at).into(),
        ],
    )
    .await?;
    g.tx.exec(
        "INSERT INTO idp_refresh_tokens (token_hash, family_id, generation, created_at) \
         VALUES ($1, $2, 1, $3)",
        [
            family.refresh_hash.to_vec().into(),
            family.family_id.as_str().into(),
            to_millis(now).into(),
        ],
    )
    .await?;
    g.tx.exec(
        "UPDATE idp_codes SET family_id = $2 WHERE code_hash = $1",
        [code_hash.to_vec().into(), family.family_id.as_str().into()],
    )
    .await?;
    g.record(
        ctx,
        now,
        "idp.token",
        Some(format!("idp-client:{}", family.client_id)),
        json!({
            "client_id": family.client_id,
            "grant_type": "authorization_code",
            "family": family.family_id,
            "scopes": family.scopes,
        }),
    );
    Ok(())
}

async fn take_code(
    g: &mut Grouped,
    code_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<TakenCode>, Error> {
    let first =
        g.tx.exec(
            "UPDATE idp_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
            [code_hash.to_vec().into(), to_millis(now).into()],
        )
        .await?
            > 0;
    let row =
        g.tx.row_opt(
            "SELECT client_id, user_id, redirect_uri, scopes, nonce, challenge, auth_time, \
             expires_at, family_id FROM idp_codes WHERE code_hash = $1",
            [code_hash.to_vec().into()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let user: String = row.get("user_id")?;
    let scopes: String = row.get("scopes")?;
    Ok(Some(TakenCode {
        used: !first,
        client_id: row.get("client_id")?,
        user_id: UserId::parse(&user, "user_id")?,
        redirect_uri: row.get("redirect_uri")?,
        scopes: split(&scopes),
        nonce: row.get("nonce")?,
        challenge: row.get("challenge")?,
        auth_time: from_millis(row.get("auth_time")?)?,
        expires_at: from_millis(row.get("expires_at")?)?,
        family_id: row.get("family_id")?,
    }))
}
