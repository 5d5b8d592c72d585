//! Searching the audit log: the query auditors build, run over event rows and blocks, each
//! candidate checked against the whole query on its signed body.

use super::*;

/// How many distinct targets a free-text search looks up through the target index before
/// it walks the log instead.
const MAX_TARGET_MATCHES: usize = 200;

/// A search over the log. Every field narrows the result; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only this stream.
    pub stream: Option<Stream>,
    /// Only this actor (username as recorded, e.g. `it:admin`).
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this exact target.
    pub target: Option<String>,
    /// Only targets containing this text (case-sensitive, matched literally).
    pub target_contains: Option<String>,
    /// Only this application.
    pub application: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// Only events with a smaller sequence number (newest-first paging).
    pub before_seq: Option<i64>,
    /// Only events with a larger sequence number (oldest-first paging, export).
    pub after_seq: Option<i64>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
}

impl Store {
    /// Events matching `q`, newest first (or oldest first with `ascending`), at most `limit`.
    ///
    /// Each query reads about the rows it returns: a filter on a non-access stream or action
    /// is a partial-index range in sequence order; an actor or target filter probes the
    /// segments of its index (65,536 events each) newest first, 16 segments per statement,
    /// until the page is full; otherwise the log is walked in sequence order.
    pub async fn audit_search(
        &self,
        q: &EventQuery,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let mut binds: Vec<SearchBind> = Vec::new();
        let mut terms: Vec<String> = Vec::new();
        let mut eq = |col: &str, v: Option<&str>, binds: &mut Vec<SearchBind>| {
            if let Some(v) = v {
                binds.push(SearchBind::T(v.to_owned()));
                terms.push(format!("{col} = ${}", binds.len()));
            }
        };
        eq("actor_name", q.actor.as_deref(), &mut binds);
        eq("target", q.target.as_deref(), &mut binds);
        eq("action", q.action.as_deref(), &mut binds);
        eq("application", q.application.as_deref(), &mut binds);
        eq("environment", q.environment.as_deref(), &mut binds);
        eq("outcome", q.outcome.as_deref(), &mut binds);
        // Stream names come from the enum, so they are written as literals: a partial index
        // is usable only when the query states its condition in so many words.
        if let Some(stream) = q.stream {
            terms.push(format!("stream = '{}'", stream.as_str()));
        }
        let non_access = q.stream.is_some_and(|s| s != Stream::Access)
            || q.action.as_deref().is_some_and(|a| a != "access");
        if non_access {
            terms.push("stream <> 'access'".to_owned());
        }
        // Free text on the target: first the distinct targets that contain it (a scan of
        // `audit_targets`, far smaller than the log), then those targets through the
        // segmented target index; with more than `MAX_TARGET_MATCHES` of them, the log is
        // walked instead.
        let mut by_targets = false;
        let mut matching: Vec<String> = Vec::new();
        let mut walk_text = false;
        if let Some(text) = &q.target_contains {
            let pattern = format!("%{}%", crate::backend::like_escape(text));
            matching = self.audit_targets_like(&pattern).await?;
            if matching.is_empty() {
                return Ok(Vec::new());
            }
            if matching.len() <= MAX_TARGET_MATCHES {
                let mut marks = Vec::with_capacity(matching.len());
                for t in &matching {
                    binds.push(SearchBind::T(t.clone()));
                    marks.push(format!("${}", binds.len()));
                }
                terms.push(format!("target IN ({})", marks.join(", ")));
                by_targets = true;
            } else {
                walk_text = true;
                binds.push(SearchBind::T(pattern));
                terms.push(format!("target LIKE ${} ESCAPE '\\'", binds.len()));
            }
        }
        // Times never go backwards along the log (see `event_row`), so a time window is the
        // range of numbers between its first and last event: two probes of the time index.
        let mut before_seq = q.before_seq;
        let mut after_seq = q.after_seq;
        if let Some(t) = q.since {
            match self.seq_at_time(to_millis(t), true).await? {
                Some(first) => after_seq = Some(after_seq.map_or(first - 1, |a| a.max(first - 1))),
                None => return Ok(Vec::new()),
            }
        }
        if let Some(t) = q.until {
            match self.seq_at_time(to_millis(t), false).await? {
                Some(last) => before_seq = Some(before_seq.map_or(last + 1, |b| b.min(last + 1))),
                None => return Ok(Vec::new()),
            }
        }
        if let Some(s) = before_seq {
            binds.push(SearchBind::I(s));
            terms.push(format!("seq < ${}", binds.len()));
        }
        if let Some(s) = after_seq {
            binds.push(SearchBind::I(s));
            terms.push(format!("seq > ${}", binds.len()));
        }
        let size = i64::try_from(self.audit_size().await?).unwrap_or(i64::MAX);
        let hi = before_seq.map_or(size, |b| (b - 1).min(size));
        let lo = after_seq.map_or(1, |a| a + 1).max(1);
        if hi < lo {
            return Ok(Vec::new());
        }
        // Events appended in batches live in blocks: searched apart, then merged.
        let text = if walk_text {
            blocks::TargetText::Walk
        } else if q.target_contains.is_some() {
            blocks::TargetText::Among(&matching)
        } else {
            blocks::TargetText::None
        };
        let in_blocks = self.block_search(q, text, lo, hi, limit).await?;
        let segmented = q.actor.is_some() || q.target.is_some() || by_targets;
        // The columns are an index: each row is read from its body and checked against the
        // whole query. A row whose edited columns matched while its body does not is left
        // out, and the rows are read further until the page is full or the index has no
        // more, so a forged row neither shows nor hides the true events after it.
        let mut row_limit = limit;
        loop {
            let rows = self
                .search_row_index(&terms, &binds, segmented, q.ascending, lo, hi, row_limit)
                .await?;
            let exhausted = (rows.len() as i64) < row_limit;
            let kept: Vec<StoredEvent> = rows.into_iter().filter(|e| passes(q, e)).collect();
            if exhausted || kept.len() as i64 >= limit {
                return Ok(merge(kept, in_blocks, |e| e.seq, !q.ascending, limit));
            }
            row_limit = row_limit.saturating_mul(2);
        }
    }

    /// Up to `limit` rows of `audit_events` whose index columns match `terms`, in page order.
    #[allow(clippy::too_many_arguments)]
    async fn search_row_index(
        &self,
        terms: &[String],
        binds: &[SearchBind],
        segmented: bool,
        ascending: bool,
        lo: i64,
        hi: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let order = if ascending { "ASC" } else { "DESC" };
        if !segmented {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events{}{} ORDER BY seq {order} LIMIT {limit}",
                if terms.is_empty() { "" } else { " WHERE " },
                terms.join(" AND "),
            );
            return self.search_rows(&sql, binds).await;
        }
        // Segments of the actor/target index, in the order the page is read.
        let (first, last) = (lo >> SEGMENT_BITS, hi >> SEGMENT_BITS);
        let segments: Vec<i64> = if ascending {
            (first..=last).collect()
        } else {
            (first..=last).rev().collect()
        };
        let mut out: Vec<StoredEvent> = Vec::new();
        for group in segments.chunks(16) {
            let want = limit - out.len() as i64;
            if want <= 0 {
                break;
            }
            let parts: Vec<String> = group
                .iter()
                .map(|seg| {
                    format!(
                        "SELECT * FROM (SELECT {EVENT_COLUMNS} FROM audit_events \
                         WHERE (seq >> {SEGMENT_BITS}) = {seg} AND {} ORDER BY seq {order} LIMIT {want}) s{}",
                        terms.join(" AND "),
                        seg.unsigned_abs()
                    )
                })
                .collect();
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM ({}) u ORDER BY seq {order} LIMIT {want}",
                parts.join(" UNION ALL ")
            );
            out.extend(self.search_rows(&sql, binds).await?);
        }
        Ok(out)
    }

    /// The distinct targets matching the `LIKE` pattern, at most one more than
    /// `MAX_TARGET_MATCHES`.
    async fn audit_targets_like(&self, pattern: &str) -> Result<Vec<String>, Error> {
        let limit = i64::try_from(MAX_TARGET_MATCHES + 1).unwrap_or(i64::MAX);
        self.reader()
            .scalars(
                "SELECT target FROM audit_targets WHERE target LIKE $1 ESCAPE '\\' LIMIT $2",
                [pattern.into(), limit.into()],
            )
            .await
    }

    /// The first event at or after `at_ms` (`first`), or the last event before it.
    pub(crate) async fn seq_at_time(&self, at_ms: i64, first: bool) -> Result<Option<i64>, Error> {
        let sql = if first {
            "SELECT seq FROM audit_events WHERE occurred_at >= $1 ORDER BY occurred_at, seq LIMIT 1"
        } else {
            "SELECT seq FROM audit_events WHERE occurred_at < $1 \
             ORDER BY occurred_at DESC, seq DESC LIMIT 1"
        };
        let row: Option<i64> = self.reader().scalar_opt(sql, [at_ms.into()]).await?;
        let block = self.block_seq_at_time(at_ms, first).await?;
        Ok(match (row, block) {
            (Some(a), Some(b)) => Some(if first { a.min(b) } else { a.max(b) }),
            (a, b) => a.or(b),
        })
    }

    async fn search_rows(
        &self,
        sql: &str,
        binds: &[SearchBind],
    ) -> Result<Vec<StoredEvent>, Error> {
        let mut query = query(sql);
        for b in binds {
            query = match b {
                SearchBind::T(t) => query.bind(t.as_str()),
                SearchBind::I(i) => query.bind(*i),
            };
        }
        let rows = query.fetch_all(self.reader()).await.map_err(db)?;
        rows.iter().map(stored_event).collect()
    }
}

/// Events per segment of the actor and target indexes, as a shift (see migration 0005).
const SEGMENT_BITS: u32 = 16;

/// Whether `e` passes every filter of `q` but the sequence range: the whole query checked
/// against what the event records, whatever index found it.
pub(crate) fn passes(q: &EventQuery, e: &StoredEvent) -> bool {
    let eq =
        |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| got == Some(w));
    q.stream.is_none_or(|s| s.as_str() == e.stream)
        && eq(&q.actor, e.actor_name.as_deref())
        && eq(&q.action, Some(&e.action))
        && eq(&q.target, e.target.as_deref())
        && eq(&q.application, e.application.as_deref())
        && eq(&q.environment, e.environment.as_deref())
        && eq(&q.outcome, Some(&e.outcome))
        && q.target_contains
            .as_deref()
            .is_none_or(|t| e.target.as_deref().is_some_and(|x| x.contains(t)))
}

/// A value bound in a search.
enum SearchBind {
    T(String),
    I(i64),
}
