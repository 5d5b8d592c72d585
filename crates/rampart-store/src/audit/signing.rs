//! The audit log's rotated signing keys and the witnesses' cosignatures (migration 0016).
//!
//! Generation 0 is the key file in the data directory; each rotation adds the next
//! generation, its private key sealed by the caller under the master key, with its
//! `audit.key.rotate` event in the same transaction. A generation is pending until the
//! checkpoint signed by it and the one before is stored: `audit_put_checkpoint` records that
//! size in the same transaction as the note.

use super::*;

/// A rotated signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// 1 for the first rotation, and so on (0 is the data directory's key file).
    pub generation: i64,
    /// The verifier key text.
    pub verifier: String,
    /// The private key text, sealed under the master key.
    pub sealed: Vec<u8>,
    /// When the rotation was made.
    pub created_at: OffsetDateTime,
    /// The size of the checkpoint that introduced it; `None` while the rotation is pending.
    pub rotation_size: Option<u64>,
}

/// A row of `audit_signing_keys`: generation, verifier, sealed key, created at, rotation size.
type KeyRow = (i64, String, Vec<u8>, i64, Option<i64>);

impl Store {
    /// Every rotated key, oldest generation first.
    pub async fn audit_signing_keys(&self) -> Result<Vec<StoredSigningKey>, Error> {
        let rows: Vec<KeyRow> = self
            .reader()
            .all(
                "SELECT generation, verifier, sealed, created_at, rotation_size \
                 FROM audit_signing_keys ORDER BY generation",
                std::iter::empty(),
            )
            .await?;
        rows.into_iter()
            .map(|(generation, verifier, sealed, at, size)| {
                Ok(StoredSigningKey {
                    generation,
                    verifier,
                    sealed,
                    created_at: from_millis(at)?,
                    rotation_size: size.and_then(|s| u64::try_from(s).ok()),
                })
            })
            .collect()
    }

    /// Adds generation `generation` (the newest stored one plus one), with its
    /// `audit.key.rotate` event naming the previous and the new verifier key. Refused
    /// (`Conflict`) while the previous rotation is pending or when another rotation got
    /// there first.
    #[allow(clippy::too_many_arguments)]
    pub async fn audit_add_signing_key(
        &self,
        generation: i64,
        previous: &str,
        verifier: &str,
        sealed: &[u8],
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let newest: Option<(i64, Option<i64>)> = tx
            .opt(
                "SELECT generation, rotation_size FROM audit_signing_keys \
                 ORDER BY generation DESC LIMIT 1",
                std::iter::empty(),
            )
            .await?;
        match newest {
            Some((_, None)) => {
                return Err(Error::Conflict(
                    "the previous rotation of the audit signing key is not signed yet: \
                     wait for the next checkpoint"
                        .into(),
                ))
            }
            Some((g, Some(_))) if g + 1 != generation => {
                return Err(Error::Conflict(
                    "another rotation of the audit signing key was made meanwhile".into(),
                ))
            }
            None if generation != 1 => {
                return Err(Error::Conflict(
                    "another rotation of the audit signing key was made meanwhile".into(),
                ))
            }
            _ => {}
        }
        tx.exec(
            "INSERT INTO audit_signing_keys (generation, verifier, sealed, created_at) \
             VALUES ($1, $2, $3, $4)",
            [
                generation.into(),
                verifier.into(),
                Arg::from(sealed),
                Arg::from(to_millis(now)),
            ],
        )
        .await?;
        record(
            &mut tx,
            ctx,
            now,
            "audit.key.rotate",
            Some(format!("audit-key:{generation}")),
            serde_json::json!({
                "generation": generation,
                "previous_key": previous,
                "verifier_key": verifier,
            }),
        )
        .await?;
        tx.commit().await
    }

    /// Stores a witness's cosignature line of the checkpoint of `size` (a second one for
    /// the same witness and size is ignored).
    pub async fn audit_put_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let size = i64::try_from(size).map_err(|_| Error::Internal("checkpoint size".into()))?;
        let mut tx = self.write().await?;
        tx.exec(
            "INSERT INTO audit_cosignatures (size, witness, line, cosigned_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (size, witness) DO NOTHING",
            [
                size.into(),
                witness.into(),
                line.into(),
                Arg::from(to_millis(now)),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// The newest size each witness cosigned, by witness key label.
    pub async fn audit_cosigned_sizes(&self) -> Result<BTreeMap<String, u64>, Error> {
        let rows: Vec<(String, i64)> = self
            .reader()
            .all(
                "SELECT witness, MAX(size) FROM audit_cosignatures GROUP BY witness",
                std::iter::empty(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(w, s)| (w, u64::try_from(s).unwrap_or(0)))
            .collect())
    }

    /// The cosignature lines of checkpoints with `lo <= size <= hi`, by size.
    pub(super) async fn audit_cosignatures(
        &self,
        lo: i64,
        hi: i64,
    ) -> Result<BTreeMap<u64, Vec<String>>, Error> {
        let rows: Vec<(i64, String)> = self
            .reader()
            .all(
                "SELECT size, line FROM audit_cosignatures WHERE size >= $1 AND size <= $2 \
                 ORDER BY size, witness",
                [lo.into(), hi.into()],
            )
            .await?;
        let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (size, line) in rows {
            out.entry(u64::try_from(size).unwrap_or(0))
                .or_default()
                .push(line);
        }
        Ok(out)
    }
}
