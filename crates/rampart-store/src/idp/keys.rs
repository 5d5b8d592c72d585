//! The provider's signing keys.

use rampart_core::{AuditContext, Error};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{from_millis, to_millis};
use crate::Store;

/// A signing key as stored.
#[derive(Clone)]
pub struct StoredKey {
    /// The key id.
    pub kid: String,
    /// The JOSE algorithm it signs with (`ES256`, `RS256`).
    pub alg: String,
    /// PKCS#8 DER of the private key, or that sealed under the master key.
    pub private: Vec<u8>,
    /// Whether `private` is sealed under the master key.
    pub sealed: bool,
    /// Published from.
    pub created_at: OffsetDateTime,
    /// Signs from.
    pub signs_from: OffsetDateTime,
    /// Unpublished from, once replaced.
    pub retire_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The keys still published at `now`, oldest first.
    pub async fn idp_keys(&self, now: OffsetDateTime) -> Result<Vec<StoredKey>, Error> {
        let rows = self
            .reader()
            .rows(
                "SELECT kid, alg, private, sealed, created_at, signs_from, retire_at FROM idp_keys \
                 WHERE retire_at IS NULL OR retire_at > $1 ORDER BY signs_from, kid",
                [to_millis(now).into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let retire: Option<i64> = row.get("retire_at")?;
                Ok(StoredKey {
                    kid: row.get("kid")?,
                    alg: row.get("alg")?,
                    private: row.get("private")?,
                    sealed: row.get("sealed")?,
                    created_at: from_millis(row.get("created_at")?)?,
                    signs_from: from_millis(row.get("signs_from")?)?,
                    retire_at: retire.map(from_millis).transpose()?,
                })
            })
            .collect()
    }

    /// Adds a key of `alg` that signs from `signs_from`; keys of that algorithm not yet
    /// replaced are retired at `retire_others_at` (when every token they may still sign has
    /// expired). With `only_if_none`, nothing happens when a key of `alg` is already
    /// published (the first key, made by whichever node starts first). `idp.key.create` or
    /// `idp.key.rotate`; whether it was added.
    #[allow(clippy::too_many_arguments)]
    pub async fn idp_add_key(
        &self,
        kid: &str,
        alg: &str,
        private: &[u8],
        sealed: bool,
        signs_from: OffsetDateTime,
        retire_others_at: OffsetDateTime,
        only_if_none: bool,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        if only_if_none {
            let any: Option<String> = tx
                .scalar_opt(
                    "SELECT kid FROM idp_keys WHERE alg = $2 AND (retire_at IS NULL OR retire_at > $1)",
                    [to_millis(now).into(), alg.into()],
                )
                .await?;
            if any.is_some() {
                return Ok(false);
            }
        }
        tx.exec(
            "UPDATE idp_keys SET retire_at = $1 WHERE retire_at IS NULL AND alg = $2",
            [to_millis(retire_others_at).into(), alg.into()],
        )
        .await?;
        tx.exec(
            "DELETE FROM idp_keys WHERE retire_at IS NOT NULL AND retire_at <= $1",
            [to_millis(now).into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO idp_keys (kid, alg, private, created_at, signs_from, sealed) \
             VALUES ($1, $5, $2, $3, $4, $6)",
            [
                kid.into(),
                private.into(),
                to_millis(now).into(),
                to_millis(signs_from).into(),
                alg.into(),
                sealed.into(),
            ],
        )
        .await?;
        let action = if only_if_none {
            "idp.key.create"
        } else {
            "idp.key.rotate"
        };
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            action,
            Some(format!("idp-key:{kid}")),
            json!({
                "kid": kid,
                "alg": alg,
                "sealed": sealed,
                "signs_from": signs_from.unix_timestamp(),
                "previous_retire_at": retire_others_at.unix_timestamp(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
