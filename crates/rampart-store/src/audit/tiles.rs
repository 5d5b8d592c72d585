//! The stored tiles of the log's tree: level-8 roots and their leaves, derived data kept so
//! a node restarts without rehashing.

use super::*;

/// Height of the tiles whose roots and leaves `audit_tiles` stores (256 leaves a tile).
pub const AUDIT_TILE_HEIGHT: u32 = rampart_audit::DEFAULT_TILE_HEIGHT;
const TILE_HEIGHT: u32 = AUDIT_TILE_HEIGHT;

impl Store {
    /// The stored level-8 roots of complete tiles, in order from tile 0.
    pub async fn audit_tiles(&self) -> Result<Vec<Hash>, Error> {
        let rows: Vec<(i64, Vec<u8>)> = self
            .reader()
            .all("SELECT tile, root FROM audit_tiles ORDER BY tile", [])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (i, (tile, root)) in rows.into_iter().enumerate() {
            if tile != i as i64 {
                // A gap: keep the prefix; the caller recomputes the rest from leaves.
                break;
            }
            out.push(
                root.try_into()
                    .map_err(|_| Error::Internal(format!("tile {tile}: not 32 bytes")))?,
            );
        }
        Ok(out)
    }

    /// Stores tile roots `first, first + 1, …` with each tile's leaf hashes (`leaves` holds
    /// 256 per root, in order, or is empty when they are not at hand); idempotent.
    pub async fn audit_put_tiles(
        &self,
        first: u64,
        roots: &[Hash],
        leaves: &[Hash],
    ) -> Result<(), Error> {
        const ROWS: usize = 200;
        if roots.is_empty() {
            return Ok(());
        }
        let per = 1usize << TILE_HEIGHT;
        if !leaves.is_empty() && leaves.len() != roots.len() * per {
            return Err(Error::Internal(format!(
                "{} tile roots with {} leaves",
                roots.len(),
                leaves.len()
            )));
        }
        let first = i64::try_from(first).map_err(|_| Error::Internal("tile number".into()))?;
        let mut tx = self.write().await?;
        let sqlite = tx.is_sqlite();
        for (c, roots) in roots.chunks(ROWS).enumerate() {
            let mut sql = String::from("INSERT INTO audit_tiles (tile, root, leaves) VALUES ");
            push_values(&mut sql, roots.len(), 3, sqlite);
            sql.push_str(" ON CONFLICT (tile) DO NOTHING");
            let mut q = query(&sql);
            for (i, r) in roots.iter().enumerate() {
                let n = c * ROWS + i;
                let blob = leaves
                    .get(n * per..(n + 1) * per)
                    .map(|l| l.iter().flatten().copied().collect::<Vec<u8>>());
                q = q.bind(first + n as i64).bind(&r[..]).bind(blob);
            }
            q.execute(&mut tx).await.map_err(db)?;
        }
        tx.commit().await
    }

    /// The stored leaf hashes of the complete tiles among `tiles` that have them.
    pub async fn audit_tile_leaves(
        &self,
        tiles: &[u64],
    ) -> Result<BTreeMap<u64, Vec<Hash>>, Error> {
        let mut out = BTreeMap::new();
        if tiles.is_empty() {
            return Ok(out);
        }
        let mut sql = String::from(
            "SELECT tile, leaves FROM audit_tiles WHERE leaves IS NOT NULL AND tile IN ",
        );
        let sqlite = self.kind() == crate::BackendKind::Sqlite;
        crate::audit::push_values(&mut sql, 1, tiles.len(), sqlite);
        let mut q = query_as::<(i64, Vec<u8>)>(&sql);
        for t in tiles {
            q = q.bind(i64::try_from(*t).unwrap_or(i64::MAX));
        }
        let rows = q.fetch_all(self.reader()).await.map_err(db)?;
        for (tile, blob) in rows {
            if blob.len() != 32 << TILE_HEIGHT {
                return Err(Error::Internal(format!(
                    "the stored leaves of tile {tile} are {} bytes, not {}",
                    blob.len(),
                    32 << TILE_HEIGHT
                )));
            }
            let leaves = blob
                .chunks_exact(32)
                .map(|c| <Hash>::try_from(c).unwrap_or_default())
                .collect();
            out.insert(tile as u64, leaves);
        }
        Ok(out)
    }
}
