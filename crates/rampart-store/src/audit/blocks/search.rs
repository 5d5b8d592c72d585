//! Searching block events: through the search keys when the query names a keyed field,
//! otherwise by walking blocks and skipping those whose facets lack a value asked for.

use super::*;

/// Which targets a free-text search stands for.
pub(crate) enum TargetText<'a> {
    /// No free-text filter.
    None,
    /// These distinct targets contain the text (few enough to look up by key).
    Among(&'a [String]),
    /// Too many targets contain the text: walk and test each event.
    Walk,
}

impl Store {
    /// Block events matching `q` with `lo <= seq <= hi`, newest first (oldest first with
    /// `q.ascending`), at most `limit`.
    ///
    /// With an actor, a target, a short list of targets, or an action or stream other than
    /// access, candidates come from the search keys (`audit_keys`, and the key packs of level
    /// 0), segment by segment in the order of the page;
    /// otherwise blocks are walked in that order, skipping those whose facets lack a value
    /// asked for. Every candidate is decoded and checked against the whole query.
    pub(crate) async fn block_search(
        &self,
        q: &EventQuery,
        text: TargetText<'_>,
        lo: i64,
        hi: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let keys: Option<Vec<i64>> = if let Some(a) = &q.actor {
            Some(vec![key(Field::Actor, a)])
        } else if let Some(t) = &q.target {
            Some(vec![key(Field::Target, t)])
        } else if let TargetText::Among(list) = text {
            Some(list.iter().map(|t| key(Field::Target, t)).collect())
        } else if let Some(a) = q.action.as_deref().filter(|a| *a != "access") {
            Some(vec![key(Field::Action, a)])
        } else {
            q.stream
                .filter(|s| *s != Stream::Access)
                .map(|s| vec![key(Field::Stream, s.as_str())])
        };
        match keys {
            Some(keys) => self.search_by_keys(q, &keys, lo, hi, limit).await,
            None => self.search_by_walk(q, lo, hi, limit).await,
        }
    }

    async fn search_by_keys(
        &self,
        q: &EventQuery,
        keys: &[i64],
        mut lo: i64,
        mut hi: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let order = if q.ascending { "ASC" } else { "DESC" };
        let wanted = keys;
        let keys: Vec<String> = keys.iter().map(i64::to_string).collect();
        let keys = keys.join(", ");
        let mut layout = self.key_manifest().await?;
        let mut out = Vec::new();
        // The pack matches read for a range of level 0, kept for the page's later passes
        // over a part of it (their events stay in the log; an erasure since then is caught
        // when each candidate is decoded and checked).
        let mut packs_read: Option<(i64, i64, Vec<i64>)> = None;
        while (out.len() as i64) < limit && lo <= hi {
            // Up to 64 segments per statement, in the order of the page.
            let segments = layout.segments(lo, hi);
            let group: Vec<_> = if q.ascending {
                segments.iter().take(64).collect()
            } else {
                segments.iter().rev().take(64).collect()
            };
            let Some(edge) = group.last().map(|s| **s) else {
                break;
            };
            // As many candidates as the page still needs: each costs a block read.
            let want = (limit - out.len() as i64).clamp(16, 2_000);
            // Level-0 keys are in the blocks' packs. They are read before the probe below,
            // whose check then vouches for them too: a pack goes only once the merge that
            // copied it is published, which changes the check.
            let fresh = group.iter().filter(|s| layout.level_of(s.id) == 0);
            let from = fresh.clone().map(|s| s.lo.max(lo)).min();
            let to = fresh.map(|s| s.hi.min(hi)).max();
            let packed = match (from, to, &packs_read) {
                (Some(from), Some(to), Some((a, b, seqs))) if *a <= from && to <= *b => seqs
                    .iter()
                    .copied()
                    .filter(|s| (from..=to).contains(s))
                    .collect(),
                (Some(from), Some(to), _) => {
                    let seqs = self.search_packs(wanted, from, to).await?;
                    packs_read = Some((from, to, seqs.clone()));
                    seqs
                }
                _ => Vec::new(),
            };
            // Higher levels are rows of `audit_keys`.
            let parts: Vec<String> = group
                .iter()
                .filter(|s| layout.level_of(s.id) > 0)
                .enumerate()
                .map(|(i, s)| {
                    format!(
                        "SELECT * FROM (SELECT seq FROM audit_keys WHERE seg = {} \
                         AND key IN ({keys}) AND seq >= {} AND seq <= {} \
                         ORDER BY seq {order} LIMIT {want}) s{i}",
                        s.id,
                        s.lo.max(lo),
                        s.hi.min(hi)
                    )
                })
                .collect();
            // The layout's check comes back with the candidates (a negative number): if a
            // merge was published since the layout was read, the probe is planned again.
            let sql = if parts.is_empty() {
                crate::audit::keys::Manifest::CHECK_SQL.to_owned()
            } else {
                format!(
                    "SELECT seq FROM (SELECT seq FROM ({}) u ORDER BY seq {order} LIMIT {want}) v \
                     UNION ALL {}",
                    parts.join(" UNION ALL "),
                    crate::audit::keys::Manifest::CHECK_SQL
                )
            };
            let got: Vec<i64> = self.reader().scalars(&sql, []).await?;
            let (mut seqs, check): (Vec<i64>, Vec<i64>) = got.into_iter().partition(|s| *s > 0);
            if check != [layout.check()] {
                layout = self.key_manifest().await?;
                continue;
            }
            seqs.extend(packed);
            if q.ascending {
                seqs.sort_unstable();
            } else {
                seqs.sort_unstable_by(|a, b| b.cmp(a));
            }
            seqs.dedup();
            // The probe gave at most `want` rows in the page's order, the packs all their
            // matches: the first `want` of both are the first `want` candidates.
            let exhausted = (seqs.len() as i64) < want;
            seqs.truncate(want as usize);
            let mut events = self.block_events(&seqs).await?;
            for seq in &seqs {
                if (out.len() as i64) >= limit {
                    break;
                }
                if let Some(e) = events.remove(seq) {
                    if passes(q, &e) {
                        out.push(e);
                    }
                }
            }
            // Continue after the last candidate, or past the segments just read.
            if q.ascending {
                lo = match seqs.last() {
                    Some(s) if !exhausted => s + 1,
                    _ => edge.hi + 1,
                };
            } else {
                hi = match seqs.last() {
                    Some(s) if !exhausted => s - 1,
                    _ => edge.lo - 1,
                };
            }
        }
        Ok(out)
    }

    /// The events of `from..=to` that one of `keys` finds in the blocks' key packs.
    ///
    /// For a few keys the database keeps only the packs whose bytes hold one of them
    /// (`instr` on SQLite, `position` on PostgreSQL; a match across two entries is a false
    /// candidate that [`pack_find`] then drops), so a rare key does not carry every pack of
    /// level 0 out of the database.
    async fn search_packs(&self, keys: &[i64], from: i64, to: i64) -> Result<Vec<i64>, Error> {
        let mut sql = String::from(
            "SELECT first_seq, keys FROM audit_key_packs WHERE first_seq > $1 AND first_seq <= $2",
        );
        let sqlite = self.kind() == crate::BackendKind::Sqlite;
        let prefilter = keys.len() <= 8;
        if prefilter {
            let terms: Vec<String> = (0..keys.len())
                .map(|i| {
                    if sqlite {
                        format!("instr(keys, ${}) > 0", i + 3)
                    } else {
                        format!("position(${} in keys) > 0", i + 3)
                    }
                })
                .collect();
            sql.push_str(&format!(" AND ({})", terms.join(" OR ")));
        }
        let mut q = query_as::<(i64, Vec<u8>)>(&sql)
            .bind(from - BLOCK_EVENTS as i64)
            .bind(to);
        if prefilter {
            for k in keys {
                q = q.bind(k.to_be_bytes().to_vec());
            }
        }
        let rows = q.fetch_all(self.reader()).await.map_err(db)?;
        let mut out = Vec::new();
        for (first_seq, pack) in rows {
            out.extend(
                pack_find(first_seq, &pack, keys)?
                    .into_iter()
                    .filter(|seq| (from..=to).contains(seq)),
            );
        }
        Ok(out)
    }

    /// The block events numbered `seqs`, by number.
    async fn block_events(&self, seqs: &[i64]) -> Result<BTreeMap<i64, StoredEvent>, Error> {
        let mut out = BTreeMap::new();
        if seqs.is_empty() {
            return Ok(out);
        }
        // The block of each: the last one starting at or before it (400 a statement, under
        // SQLite's limit of terms in a compound SELECT).
        let mut blocks: BTreeMap<i64, Block> = BTreeMap::new();
        for chunk in seqs.chunks(400) {
            let starts: Vec<String> = chunk
                .iter()
                .map(|s| {
                    format!("SELECT max(first_seq) AS f FROM audit_blocks WHERE first_seq <= {s}")
                })
                .collect();
            let sql = format!(
                "SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_seq IN (SELECT f FROM ({}) x)",
                starts.join(" UNION ALL ")
            );
            let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = { self.reader().all(&sql, []).await }?;
            for (f, c, l, d) in rows {
                if let std::collections::btree_map::Entry::Vacant(v) = blocks.entry(f) {
                    v.insert(read_block(f, c, l, d)?);
                }
            }
        }
        for s in seqs {
            if let Some((_, b)) = blocks.range(..=*s).next_back() {
                if *s <= b.last_seq() {
                    out.insert(*s, b.event(*s)?);
                }
            }
        }
        Ok(out)
    }

    async fn search_by_walk(
        &self,
        q: &EventQuery,
        mut lo: i64,
        mut hi: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let mut patterns = Vec::new();
        if let Some(s) = q.stream {
            patterns.push(facet_pattern("stream", s.as_str()));
        }
        for (name, v) in [
            ("action", &q.action),
            ("outcome", &q.outcome),
            ("application", &q.application),
            ("environment", &q.environment),
        ] {
            if let Some(v) = v {
                patterns.push(facet_pattern(name, v));
            }
        }
        let mut sql = format!(
            "SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_seq > $1 AND first_seq <= $2 \
             AND first_seq + count > $3"
        );
        for i in 0..patterns.len() {
            sql.push_str(&format!(" AND facets LIKE ${} ESCAPE '\\'", i + 4));
        }
        let order = if q.ascending { "ASC" } else { "DESC" };
        sql.push_str(&format!(" ORDER BY first_seq {order} LIMIT 8"));
        let mut out = Vec::new();
        while (out.len() as i64) < limit && lo <= hi {
            let mut probe = query_as::<(i64, i64, Vec<u8>, Vec<u8>)>(&sql)
                .bind(lo - BLOCK_EVENTS as i64)
                .bind(hi)
                .bind(lo);
            for p in &patterns {
                probe = probe.bind(p.as_str());
            }
            let rows = probe.fetch_all(self.reader()).await.map_err(db)?;
            if rows.is_empty() {
                break;
            }
            for (f, c, l, d) in rows {
                let block = read_block(f, c, l, d)?;
                let (a, b) = (block.first_seq.max(lo), block.last_seq().min(hi));
                let seqs: Box<dyn Iterator<Item = i64>> = if q.ascending {
                    Box::new(a..=b)
                } else {
                    Box::new((a..=b).rev())
                };
                for seq in seqs {
                    let e = block.event(seq)?;
                    if passes(q, &e) {
                        out.push(e);
                        if out.len() as i64 >= limit {
                            return Ok(out);
                        }
                    }
                }
                if q.ascending {
                    lo = block.last_seq() + 1;
                } else {
                    hi = block.first_seq - 1;
                }
            }
        }
        Ok(out)
    }
}
