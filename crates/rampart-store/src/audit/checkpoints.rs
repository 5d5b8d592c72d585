//! Signed checkpoints of the audit log as stored: one note per size, and a second note for
//! a size only if it carries the same root (otherwise the store reports a fork).

use super::*;

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it signs.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The whole signed note.
    pub note: String,
    /// When it was signed.
    pub signed_at: OffsetDateTime,
    /// Witnesses' cosignature lines, checked when stored.
    pub cosignatures: Vec<String>,
}

impl StoredCheckpoint {
    /// The note with the witnesses' cosignature lines after the log's own: what the API,
    /// exports and proof bundles show.
    pub fn cosigned_note(&self) -> String {
        let mut note = self.note.clone();
        for line in &self.cosignatures {
            note.push_str(line);
        }
        note
    }
}

fn checkpoint_row(
    size: i64,
    root: Vec<u8>,
    note: String,
    at: i64,
) -> Result<StoredCheckpoint, Error> {
    Ok(StoredCheckpoint {
        size: u64::try_from(size)
            .map_err(|_| Error::Internal(format!("checkpoint size {size}")))?,
        root: root
            .try_into()
            .map_err(|_| Error::Internal(format!("checkpoint {size}: root is not 32 bytes")))?,
        note,
        signed_at: from_millis(at)?,
        cosignatures: Vec::new(),
    })
}

impl Store {
    /// The newest signed checkpoint, if any.
    pub async fn audit_latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, Error> {
        Ok(self.audit_checkpoints(0, u64::MAX, true).await?.pop())
    }

    /// Checkpoints with `lo <= size <= hi`, by size; only the newest one with `newest`.
    pub async fn audit_checkpoints(
        &self,
        lo: u64,
        hi: u64,
        newest: bool,
    ) -> Result<Vec<StoredCheckpoint>, Error> {
        let lo = i64::try_from(lo).unwrap_or(i64::MAX);
        let hi = i64::try_from(hi).unwrap_or(i64::MAX);
        let sql = if newest {
            "SELECT size, root, note, signed_at FROM audit_checkpoints \
             WHERE size >= $1 AND size <= $2 ORDER BY size DESC LIMIT 1"
        } else {
            "SELECT size, root, note, signed_at FROM audit_checkpoints \
             WHERE size >= $1 AND size <= $2 ORDER BY size"
        };
        let rows: Vec<(i64, Vec<u8>, String, i64)> =
            self.reader().all(sql, [lo.into(), hi.into()]).await?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0))
        else {
            return Ok(Vec::new());
        };
        let mut lines = self
            .audit_cosignatures(first.min(last), first.max(last))
            .await?;
        rows.into_iter()
            .map(|(s, r, n, a)| {
                let mut c = checkpoint_row(s, r, n, a)?;
                c.cosignatures = lines.remove(&c.size).unwrap_or_default();
                Ok(c)
            })
            .collect()
    }

    /// Stores a signed checkpoint. Another node may have signed the same size first: then
    /// the stored root must be the same, or the log has forked and this is an error.
    /// `rotation` is the key generation the note introduces (signed by it and the one
    /// before): its `rotation_size` is set in the same transaction, and when another note
    /// already holds this size or the generation was introduced meanwhile, nothing is
    /// stored and the answer is `false` (sign again).
    pub async fn audit_put_checkpoint(
        &self,
        size: u64,
        root: &Hash,
        note: &str,
        now: OffsetDateTime,
        rotation: Option<i64>,
    ) -> Result<bool, Error> {
        let size = i64::try_from(size).map_err(|_| Error::Internal("checkpoint size".into()))?;
        let mut tx = self.write().await?;
        let existing: Option<Vec<u8>> = tx
            .scalar_opt(
                "SELECT root FROM audit_checkpoints WHERE size = $1",
                [size.into()],
            )
            .await?;
        let mut stored = existing.is_none();
        if let (None, Some(generation)) = (&existing, rotation) {
            stored = tx
                .exec(
                    "UPDATE audit_signing_keys SET rotation_size = $1 \
                     WHERE generation = $2 AND rotation_size IS NULL",
                    [size.into(), generation.into()],
                )
                .await?
                == 1;
        }
        if stored {
            tx.exec(
                "INSERT INTO audit_checkpoints (size, root, note, signed_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING",
                [
                    size.into(),
                    Arg::from(&root[..]),
                    note.into(),
                    Arg::from(to_millis(now)),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        match existing {
            Some(r) if r.as_slice() != root.as_slice() => Err(Error::Internal(format!(
                "a checkpoint for size {size} with another root is already stored: the log has forked"
            ))),
            _ => Ok(stored),
        }
    }

    /// Rows of `audit_events` with `seq` in `(after, upto]`, oldest first, at most `limit`:
    /// sequence number, body (`None` when redacted) and leaf hash, for verification and
    /// export.
    pub async fn audit_raw(
        &self,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Option<String>, Hash)>, Error> {
        let rows: Vec<(i64, Option<String>, Vec<u8>)> = self
            .reader()
            .all(
                "SELECT seq, body, leaf_hash FROM audit_events WHERE seq > $1 AND seq <= $2 \
             ORDER BY seq LIMIT $3",
                [after.into(), upto.into(), limit.into()],
            )
            .await?;
        let rows = rows
            .into_iter()
            .map(|(seq, body, leaf)| {
                let leaf: Hash = leaf.try_into().map_err(|_| {
                    Error::Internal(format!("event {seq}: stored leaf hash is not 32 bytes"))
                })?;
                Ok((seq, body, leaf))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let blocks = self.block_raw(after, upto, limit).await?;
        Ok(merge(rows, blocks, |r| r.0, false, limit))
    }
}
