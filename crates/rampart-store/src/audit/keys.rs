//! The search keys of block events: a small log-structured merge tree inside the database
//! (migrations 0014 and 0015), whose level 0 is the blocks' key packs (`audit_key_packs`,
//! one row per block) and whose higher levels are segments of `audit_keys (seg, key, seq)`.
//!
//! An append packs each block's keys into one row, so it writes a row per block, not per
//! key. A compaction ([`Store::audit_compact_keys`], run in the background by the server)
//! merges the packs of one level-1 range, and later the complete level-L segments of one
//! level-L+1 range, into a single segment, ordered by key: a rare key then costs one seek
//! per segment, and a log of N events has O(fan-out × levels) segments to probe, plus the
//! packs of the newest level-1 range.
//!
//! Level L ≥ 1 holds the keys of events `[upto(L+1), upto(L))`; level 0 (the packs) holds
//! the rest. A merge copies one key range per transaction into a segment no reader probes
//! yet (its progress is `audit_key_merges.next_key`), then publishes it by raising `upto` of
//! its level; the segments it read are garbage from then on and are deleted one key range
//! per transaction (packs one level-1 segment at a time). Readers probe in one statement
//! with the layout's checksum ([`Manifest::CHECK_SQL`]), reading packs just before, so a
//! search never misses or doubles a key while the compaction works. Erasure deletes a key at
//! every level and holds the head lock, as a merge does, so a merge never copies a key an
//! erasure has just deleted.

use rampart_core::Error;

use crate::audit::blocks::{pack_entries, BLOCK_EVENTS, KEY_ROWS};
use crate::db::{Arg, IntoArg as _, Tx};
use crate::Store;

/// Levels of the tree.
pub(crate) const LEVELS: usize = 8;
/// Keys a merge or a deletion moves in one transaction, about.
const CHUNK_KEYS: u64 = 65_536;
/// Search keys an event has, for sizing (access events have two, the others four).
const KEYS_PER_EVENT: u64 = 3;
/// Keys are the first 63 bits of a hash: all of them are below this.
const KEY_END: u64 = 1 << 63;

/// Takes the log's head lock inside `tx` and returns the log's size. Appends take it first;
/// a merge step and an erasure take it too, so on PostgreSQL they never interleave (SQLite
/// has one writer anyway).
pub(crate) async fn lock_head(tx: &mut Tx<'_>) -> Result<i64, Error> {
    tx.scalar(
        "UPDATE audit_head SET size = size WHERE id = 1 RETURNING size",
        [],
    )
    .await
}

/// Reads the [`Manifest`] inside `tx`.
pub(crate) async fn read_manifest(tx: &mut Tx<'_>) -> Result<Manifest, Error> {
    let rows: Vec<(i64, i64, i64)> = tx.all(Manifest::SQL, []).await?;
    Manifest::from_rows(&rows)
}

/// One segment to probe: its id and the events it covers, `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) id: i64,
    pub(crate) lo: i64,
    pub(crate) hi: i64,
}

/// The published layout of the tree: each level's segment size (as bits) and how far it
/// reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    bits: [u32; LEVELS],
    upto: [i64; LEVELS],
}

impl Manifest {
    pub(crate) const SQL: &'static str =
        "SELECT level, bits, upto FROM audit_key_levels ORDER BY level";
    /// A statement part that evaluates to [`Manifest::check`] of the layout it sees.
    pub(crate) const CHECK_SQL: &'static str =
        "SELECT CAST(-1 - COALESCE(SUM(upto), 0) AS BIGINT) FROM audit_key_levels";

    pub(crate) fn from_rows(rows: &[(i64, i64, i64)]) -> Result<Manifest, Error> {
        let broken =
            || Error::Internal("audit_key_levels is not the table migration 0014 made".into());
        if rows.len() != LEVELS {
            return Err(broken());
        }
        let mut m = Manifest {
            bits: [0; LEVELS],
            upto: [0; LEVELS],
        };
        for (i, (level, bits, upto)) in rows.iter().enumerate() {
            if *level != i as i64 || !(1..63).contains(bits) {
                return Err(broken());
            }
            m.bits[i] = *bits as u32;
            m.upto[i] = *upto;
        }
        if m.bits.windows(2).any(|w| w[0] >= w[1]) {
            return Err(broken());
        }
        Ok(m)
    }

    /// The checksum of the layout: it grows with every published merge, so it tells a
    /// reader whether the layout it probed is the one it planned for. Always negative.
    pub(crate) fn check(&self) -> i64 {
        -1 - self.upto.iter().sum::<i64>()
    }

    /// The level of the segment `id`.
    pub(crate) fn level_of(&self, id: i64) -> usize {
        15usize.saturating_sub((id >> 48) as usize)
    }

    /// The id of the level-`level` segment holding `seq`.
    pub(crate) fn seg(&self, level: usize, seq: i64) -> i64 {
        ((15 - level as i64) << 48) | (seq >> self.bits[level])
    }

    /// The ids of the segments of every level above 0 (level 0 is the packs) that could
    /// hold `seq` (published, garbage or being built): where an erasure deletes a key.
    pub(crate) fn every_seg(&self, seq: i64) -> Vec<i64> {
        (1..LEVELS).map(|l| self.seg(l, seq)).collect()
    }

    /// How many merges are ready or under way in a log of `size` events: for each level,
    /// the whole segments of the level above that its events fill from where it starts
    /// (level 0 reaches the head, a higher level its `upto`). 0 once the compaction has
    /// caught up.
    pub(crate) fn pending_merges(&self, size: i64) -> u64 {
        (0..LEVELS - 1)
            .map(|level| {
                let filled = self
                    .end(level, size)
                    .saturating_sub(self.floor(level))
                    .max(0);
                (filled >> self.bits[level + 1]) as u64
            })
            .sum()
    }

    /// Where level `level`'s events end (exclusive) in a log of `size` events: the head for
    /// level 0, the level's `upto` above it.
    fn end(&self, level: usize, size: i64) -> i64 {
        if level == 0 {
            size.saturating_add(1)
        } else {
            self.upto[level]
        }
    }

    /// Where level `level` starts: `upto` of the level above (0 for the top).
    pub(crate) fn floor(&self, level: usize) -> i64 {
        self.upto.get(level + 1).copied().unwrap_or(0)
    }

    /// The published segments holding events of `lo..=hi`, oldest first.
    pub(crate) fn segments(&self, lo: i64, hi: i64) -> Vec<Segment> {
        let mut out = Vec::new();
        if lo > hi {
            return out;
        }
        for level in (0..LEVELS).rev() {
            let (start, end) = if level == 0 {
                (self.floor(0), i64::MAX)
            } else {
                (self.floor(level), self.upto[level])
            };
            let (from, to) = (start.max(lo), end.saturating_sub(1).min(hi));
            if from > to {
                continue;
            }
            let bits = self.bits[level];
            for idx in (from >> bits)..=(to >> bits) {
                out.push(Segment {
                    id: self.seg(level, idx << bits),
                    lo: idx << bits,
                    hi: ((idx + 1) << bits) - 1,
                });
            }
        }
        out
    }
}

/// How many transactions a merge into (or a deletion of) a segment of 2^`bits` events takes,
/// and the width of the key range each moves.
fn key_span(bits: u32) -> u64 {
    let keys = KEYS_PER_EVENT.saturating_mul(1u64 << bits);
    let chunks = (keys / CHUNK_KEYS).clamp(1, 1 << 20);
    KEY_END / chunks
}

/// The end of the key range `[k0, k0 + span)`, or `None` for the last one.
fn range_end(k0: i64, span: u64) -> Option<i64> {
    let end = (k0 as u64).saturating_add(span);
    (end < KEY_END).then_some(end as i64)
}

impl Store {
    /// The published layout of the search-key tree.
    pub(crate) async fn key_manifest(&self) -> Result<Manifest, Error> {
        let rows: Vec<(i64, i64, i64)> = self.reader().all(Manifest::SQL, []).await?;
        Manifest::from_rows(&rows)
    }

    /// Does one step of the search-key compaction in a transaction of its own: deletes the
    /// key packs of one level-1 range merged already, or one key range of a segment merged
    /// already, or copies one key range of the next merge (from packs at level 0),
    /// publishing the merge with its last range. Lower levels go first. Returns whether
    /// there was anything to do; the server calls it until there is not.
    pub async fn audit_compact_keys(&self) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let size = lock_head(&mut tx).await?;
        let m = read_manifest(&mut tx).await?;
        let worked = compact_step(&mut tx, &m, size).await?;
        tx.commit().await?;
        Ok(worked)
    }
}

/// One step of [`Store::audit_compact_keys`] inside `tx`, which holds the head lock; `m` is
/// the layout read under it and `size` the log's size. Returns whether there was anything
/// to do.
async fn compact_step(tx: &mut Tx<'_>, m: &Manifest, size: i64) -> Result<bool, Error> {
    // Garbage first: packs whose every event a published merge has copied (one
    // level-1 segment's worth at a time), then segments of a level below where
    // the level now starts.
    // A pack below this holds no event at or above the floor (a block holds 256).
    let merged = m.floor(0) - BLOCK_EVENTS as i64 + 1;
    let oldest: Option<i64> = tx
        .scalar_opt(
            "SELECT first_seq FROM audit_key_packs WHERE first_seq < $1 \
         ORDER BY first_seq LIMIT 1",
            [merged.into()],
        )
        .await?;
    if let Some(oldest) = oldest {
        tx.exec(
            "DELETE FROM audit_key_packs WHERE first_seq >= $1 AND first_seq < $2",
            [
                oldest.into(),
                Arg::from(merged.min(oldest.saturating_add(1i64 << m.bits[1]))),
            ],
        )
        .await?;
        return Ok(true);
    }
    for level in 1..LEVELS - 1 {
        let below = m.floor(level);
        if below == 0 {
            continue;
        }
        let first: Option<(i64, i64)> = tx
            .opt(
                "SELECT seg, key FROM audit_keys WHERE seg >= $1 AND seg < $2 \
             ORDER BY seg, key LIMIT 1",
                [Arg::from(m.seg(level, 0)), Arg::from(m.seg(level, below))],
            )
            .await?;
        if let Some((seg, k0)) = first {
            let last = range_end(k0, key_span(m.bits[level])).map_or(i64::MAX, |e| e - 1);
            tx.exec(
                "DELETE FROM audit_keys WHERE seg = $1 AND key >= $2 AND key <= $3",
                [seg.into(), k0.into(), last.into()],
            )
            .await?;
            return Ok(true);
        }
    }
    // Then the lowest merge in progress or ready.
    let merges: Vec<(i64, i64)> = tx
        .all("SELECT level, next_key FROM audit_key_merges", [])
        .await?;
    for level in 0..LEVELS - 1 {
        let start = m.floor(level);
        let end = start + (1i64 << m.bits[level + 1]);
        let progress = merges
            .iter()
            .find(|(l, _)| *l == level as i64)
            .map(|(_, k)| *k);
        let ready = end <= m.end(level, size);
        if progress.is_none() && !ready {
            continue;
        }
        let k0 = progress.unwrap_or(0);
        let k1 = range_end(k0, key_span(m.bits[level + 1]));
        if level == 0 {
            // Level 0 is the blocks' packs.
            let seg = m.seg(1, start);
            let mut rows: Vec<(i64, i64, i64)> = Vec::new();
            let packs: Vec<(i64, Vec<u8>)> = tx
                .all(
                    "SELECT first_seq, keys FROM audit_key_packs \
                 WHERE first_seq > $1 AND first_seq < $2",
                    [Arg::from(start - BLOCK_EVENTS as i64), end.into()],
                )
                .await?;
            for (first_seq, pack) in packs {
                rows.extend(
                    pack_entries(first_seq, &pack)?
                        .filter(|&(key, _)| key >= k0 && k1.is_none_or(|k1| key < k1))
                        .map(|(key, place)| (seg, key, first_seq + i64::from(place)))
                        .filter(|&(_, _, seq)| (start..end).contains(&seq)),
                );
            }
            rows.sort_unstable();
            let sqlite = tx.is_sqlite();
            for chunk in rows.chunks(KEY_ROWS) {
                let mut sql = String::from("INSERT INTO audit_keys (seg, key, seq) VALUES ");
                crate::audit::push_values(&mut sql, chunk.len(), 3, sqlite);
                tx.exec(
                    &sql,
                    chunk.iter().flat_map(|&(seg, key, seq)| {
                        [seg.into_arg(), key.into_arg(), seq.into_arg()]
                    }),
                )
                .await?;
            }
        } else {
            let bits = m.bits[level];
            let sources: Vec<String> = ((start >> bits)..(end >> bits))
                .map(|idx| m.seg(level, idx << bits).to_string())
                .collect();
            let mut sql = format!(
                "INSERT INTO audit_keys (seg, key, seq) SELECT {}, key, seq \
                 FROM audit_keys WHERE seg IN ({}) AND key >= {k0}",
                m.seg(level + 1, start),
                sources.join(", ")
            );
            if let Some(k1) = k1 {
                sql.push_str(&format!(" AND key < {k1}"));
            }
            sql.push_str(" ORDER BY key, seq");
            tx.exec(&sql, []).await?;
        }
        if let Some(k1) = k1 {
            tx.exec(
                "INSERT INTO audit_key_merges (level, next_key) VALUES ($1, $2) \
                 ON CONFLICT (level) DO UPDATE SET next_key = excluded.next_key",
                [Arg::from(level as i64), k1.into()],
            )
            .await?;
        } else {
            // The last range: publish the segment.
            tx.exec(
                "DELETE FROM audit_key_merges WHERE level = $1",
                [Arg::from(level as i64)],
            )
            .await?;
            tx.exec(
                "UPDATE audit_key_levels SET upto = $1 WHERE level = $2",
                [end.into(), Arg::from(level as i64 + 1)],
            )
            .await?;
        }
        return Ok(true);
    }
    Ok(false)
}

impl Store {
    /// How many merges the search-key compaction has ready or under way (see
    /// [`Store::audit_compact_keys`]): 0 once it has caught up. It grows while appends keep
    /// the compaction yielding, and shrinks at the next lull.
    pub async fn audit_key_backlog(&self) -> Result<u64, Error> {
        let size = i64::try_from(self.audit_size().await?).unwrap_or(i64::MAX);
        Ok(self.key_manifest().await?.pending_merges(size))
    }

    /// Sets the segment sizes of the search-key tree: level L holds segments of
    /// 2^(`l0_bits` + L × `fan_bits`) events. Only while no block event exists (the ids of
    /// stored keys depend on it); tests use it to reach every level with a few thousand
    /// events.
    #[doc(hidden)]
    pub async fn audit_key_geometry(&self, l0_bits: u32, fan_bits: u32) -> Result<(), Error> {
        if l0_bits == 0 || fan_bits == 0 || l0_bits + 7 * fan_bits > 62 {
            return Err(Error::invalid(
                "geometry",
                "levels must grow and stay under 2^62",
            ));
        }
        let mut tx = self.write().await?;
        let used: Option<i64> = tx
            .scalar_opt(
                "SELECT seg FROM audit_keys UNION ALL SELECT first_seq FROM audit_key_packs \
                 LIMIT 1",
                [],
            )
            .await?;
        if used.is_some() {
            return Err(Error::Conflict(
                "the search keys are laid out already".into(),
            ));
        }
        lock_head(&mut tx).await?;
        tx.exec("DELETE FROM audit_key_merges", []).await?;
        for level in 0..LEVELS as i64 {
            tx.exec(
                "UPDATE audit_key_levels SET bits = $1, upto = 0 WHERE level = $2",
                [
                    Arg::from(i64::from(l0_bits) + level * i64::from(fan_bits)),
                    level.into(),
                ],
            )
            .await?;
        }
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(upto: [i64; LEVELS]) -> Manifest {
        let mut bits = [0; LEVELS];
        for (l, b) in bits.iter_mut().enumerate() {
            *b = 4 + 2 * l as u32;
        }
        Manifest { bits, upto }
    }

    #[test]
    fn pending_merges_count_whole_segments_of_the_level_above() {
        // Segments of 16 at level 0, 64 at level 1, 256 at level 2.
        let empty = manifest([0; LEVELS]);
        assert_eq!(empty.pending_merges(0), 0);
        // Events 1..=62 do not fill the first level-1 segment (0..64); 63 does.
        assert_eq!(empty.pending_merges(62), 0);
        assert_eq!(empty.pending_merges(63), 1);
        assert_eq!(empty.pending_merges(200), 3);
        // Level 1 reaches 704 from 512 (three level-1 segments, no whole level-2 one);
        // level 0 holds 704..=800, one whole level-1 segment (704..768).
        let m = manifest([0, 704, 512, 0, 0, 0, 0, 0]);
        assert_eq!(m.pending_merges(800), 1);
        // Level 1 filled to 768 makes a level-2 merge ready (512..768) beside level 0's.
        let m = manifest([0, 768, 512, 0, 0, 0, 0, 0]);
        assert_eq!(m.pending_merges(900), 1 + 2);
        assert_eq!(m.pending_merges(767), 1);
    }

    #[test]
    fn segments_cover_each_event_once_in_order() {
        // Level 2 (256 events a segment) reaches 512, level 1 (64) 704, level 0 (16) the rest.
        let m = manifest([0, 704, 512, 0, 0, 0, 0, 0]);
        let segs = m.segments(1, 800);
        let mut next = 0;
        for s in &segs {
            assert!(s.lo <= next && next <= s.hi, "{s:?} after {next}");
            next = s.hi + 1;
        }
        assert!(next > 800);
        assert_eq!(segs.len(), 2 + 3 + 7);
        assert_eq!(segs[0].id, 13 << 48);
        assert_eq!(segs[2].id, (14 << 48) | (512 >> 6));
        assert_eq!(segs[5].id, (15 << 48) | (704 >> 4));
        // A window inside one level-2 segment probes that segment only.
        assert_eq!(m.segments(300, 310), vec![segs[1]]);
        assert!(m.segments(10, 9).is_empty());
    }

    #[test]
    fn key_ranges_of_a_merge_cover_every_key() {
        for bits in [4, 16, 20, 28, 40] {
            let span = key_span(bits);
            let mut k = 0i64;
            let mut steps = 0;
            while let Some(next) = range_end(k, span) {
                assert!(next > k);
                k = next;
                steps += 1;
            }
            assert!((k as u64) < KEY_END);
            assert!(steps < 1 << 20);
        }
        // 2^20 events of 3 keys: 48 ranges of 65,536 keys.
        assert_eq!(KEY_END / key_span(20), 48);
    }

    #[test]
    fn the_check_grows_with_every_publication() {
        let a = manifest([0, 64, 0, 0, 0, 0, 0, 0]);
        let b = manifest([0, 128, 0, 0, 0, 0, 0, 0]);
        let c = manifest([0, 128, 256, 0, 0, 0, 0, 0]);
        assert!(a.check() > b.check() && b.check() > c.check() && c.check() < 0);
    }
}
