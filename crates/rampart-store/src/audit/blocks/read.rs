//! Reading block events back: by range (export, the scheduled check, `events_after`), leaf
//! hashes, and the time probes of a search.

use super::*;

/// How many blocks to read for `events` more events, when blocks have held `per_block`
/// events on average so far (full blocks until any is read): enough if the next ones hold
/// as many; the caller reads again when they do not (a block may hold a single event).
pub(super) fn blocks_for(events: i64, per_block: i64) -> i64 {
    events / per_block.max(1) + 2
}

impl Store {
    /// Blocks with events in `(after, upto]`, oldest first, at most `limit` blocks.
    async fn blocks_in(&self, after: i64, upto: i64, limit: i64) -> Result<Vec<Block>, Error> {
        let sql = format!(
            "SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_seq > $1 AND first_seq <= $2 \
             AND first_seq + count > $3 ORDER BY first_seq LIMIT $4"
        );
        // The range bound finds the blocks by their key; the overlap test keeps a block that
        // ends before the range from taking a place under the limit.
        let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = self
            .reader()
            .all(
                &sql,
                [
                    Arg::from(after - BLOCK_EVENTS as i64),
                    upto.into(),
                    Arg::from(after + 1),
                    limit.into(),
                ],
            )
            .await?;
        rows.into_iter()
            .filter(|(first, count, ..)| first + count > after + 1)
            .map(|(f, c, l, d)| read_block(f, c, l, d))
            .collect()
    }

    /// What `take` makes of each block event in `(after, upto]`, oldest first, skipping
    /// those it makes nothing of, at most `limit`. Blocks are read as many at a time as the
    /// rest of the page needs.
    async fn walk_blocks<T>(
        &self,
        after: i64,
        upto: i64,
        limit: i64,
        mut take: impl FnMut(&Block, i64) -> Result<Option<T>, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut from = after;
        // Blocks written by small batches (a PostgreSQL node's, under light load) hold few
        // events: the next read asks for as many blocks as the ones read so far suggest.
        let (mut seen_blocks, mut seen_events) = (0i64, 0i64);
        while (out.len() as i64) < limit {
            let per_block = if seen_blocks == 0 {
                BLOCK_EVENTS as i64
            } else {
                seen_events / seen_blocks
            };
            let want = blocks_for(limit - out.len() as i64, per_block);
            let blocks = self.blocks_in(from, upto, want).await?;
            let Some(last) = blocks.last().map(Block::last_seq) else {
                break;
            };
            seen_blocks += blocks.len() as i64;
            seen_events += blocks.iter().map(|b| b.leaves.len() as i64).sum::<i64>();
            for b in blocks {
                for seq in b.first_seq.max(from + 1)..=b.last_seq().min(upto) {
                    if out.len() as i64 >= limit {
                        return Ok(out);
                    }
                    out.extend(take(&b, seq)?);
                }
            }
            from = last;
        }
        Ok(out)
    }

    /// Block events in `(after, upto]`, oldest first, at most `limit`: sequence number,
    /// body (`None` once erased) and leaf.
    pub(crate) async fn block_raw(
        &self,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Option<String>, Hash)>, Error> {
        self.walk_blocks(after, upto, limit, |b, seq| {
            Ok(b.raw(seq)
                .map(|(body, leaf)| (seq, body.map(str::to_owned), leaf)))
        })
        .await
    }

    /// Block events with `seq > after`, oldest first, at most `limit`.
    pub(crate) async fn block_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, Error> {
        self.walk_blocks(after, i64::MAX, limit, |b, seq| b.event(seq).map(Some))
            .await
    }

    /// The leaves of block events in `(lo, hi]`, by sequence number.
    pub(crate) async fn block_leaves(&self, lo: i64, hi: i64) -> Result<Vec<(i64, Hash)>, Error> {
        let rows: Vec<(i64, i64, Vec<u8>)> = self
            .reader()
            .all(
                "SELECT first_seq, count, leaves FROM audit_blocks \
             WHERE first_seq > $1 AND first_seq <= $2 ORDER BY first_seq",
                [Arg::from(lo - BLOCK_EVENTS as i64), hi.into()],
            )
            .await?;
        let mut out = Vec::new();
        for (first, count, leaves) in rows {
            for (i, leaf) in rampart_audit::block::leaves_of(first, count, &leaves)
                .map_err(block_error)?
                .into_iter()
                .enumerate()
            {
                let seq = first + i as i64;
                if seq > lo && seq <= hi {
                    out.push((seq, leaf));
                }
            }
        }
        Ok(out)
    }

    /// The first block event at or after `at_ms` (`first`), or the last one before it.
    pub(crate) async fn block_seq_at_time(
        &self,
        at_ms: i64,
        first: bool,
    ) -> Result<Option<i64>, Error> {
        let sql = if first {
            format!(
                "SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE last_at >= $1 \
                 ORDER BY last_at, first_seq LIMIT 1"
            )
        } else {
            format!(
                "SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_at < $1 \
                 ORDER BY first_at DESC, first_seq DESC LIMIT 1"
            )
        };
        let row: Option<(i64, i64, Vec<u8>, Vec<u8>)> =
            self.reader().opt(&sql, [at_ms.into()]).await?;
        let Some((f, c, l, d)) = row else {
            return Ok(None);
        };
        let block = read_block(f, c, l, d)?;
        let n = block.len();
        if first {
            for i in 0..n {
                if block.time_ms(i)? >= at_ms {
                    return Ok(Some(block.first_seq + i as i64));
                }
            }
        } else {
            for i in (0..n).rev() {
                if block.time_ms(i)? < at_ms {
                    return Ok(Some(block.first_seq + i as i64));
                }
            }
        }
        Ok(None)
    }
}
