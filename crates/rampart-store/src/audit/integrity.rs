//! What keeps the log's search honest about what the log proves: only an event's body is
//! hashed into the tree, so the columns copied from it are an index. The scheduled check
//! compares each row's index columns with its body ([`Store::audit_index_mismatch`]), and
//! an erased payload is lawful only when a later event records the erasure
//! ([`Store::audit_erasure_record`]); both read events from their bodies, so an edited index
//! can neither vouch for an erasure nor hide its own edit from the check.

use rampart_core::Error;

use super::{columns_event, stored_event, EventQuery, StoredEvent, Stream, EVENT_COLUMNS};
use crate::backend::to_millis;
use crate::Store;

/// The first index column of a row that disagrees with its body, or `None`. `columns` is the
/// row read from its columns alone; `event` the same row read from its body.
fn index_mismatch(columns: &StoredEvent, event: &StoredEvent) -> Option<&'static str> {
    [
        ("stream", columns.stream == event.stream),
        (
            "occurred_at",
            to_millis(columns.occurred_at) == to_millis(event.occurred_at),
        ),
        ("actor_id", columns.actor_id == event.actor_id),
        ("actor_name", columns.actor_name == event.actor_name),
        ("action", columns.action == event.action),
        ("target", columns.target == event.target),
        ("application", columns.application == event.application),
        ("environment", columns.environment == event.environment),
        ("outcome", columns.outcome == event.outcome),
        ("node_id", columns.node_id == event.node_id),
    ]
    .into_iter()
    .find(|(_, same)| !same)
    .map(|(name, _)| name)
}

impl Store {
    /// The first row in `(after, upto]` whose index columns disagree with its body, and the
    /// column: an edit that would make search show what the log does not prove, or hide an
    /// event from a search. Redacted rows have no body to compare with.
    pub async fn audit_index_mismatch(
        &self,
        after: i64,
        upto: i64,
    ) -> Result<Option<(i64, &'static str)>, Error> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 AND seq <= $2 \
             AND body IS NOT NULL ORDER BY seq"
        );
        let rows = self
            .reader()
            .rows(&sql, [after.into(), upto.into()])
            .await?;
        for row in &rows {
            let event = stored_event(row)?;
            let columns = columns_event(row, event.seq, event.leaf_hash)?;
            if let Some(column) = index_mismatch(&columns, &event) {
                return Ok(Some((event.seq, column)));
            }
        }
        Ok(None)
    }

    /// The event that records the erasure of event `seq`, if any: a later `audit.redact`
    /// naming it, or a later `audit.archive` whose range holds it. Read from the events'
    /// bodies (a search checks what it finds against them), so an edited index cannot vouch
    /// for an erasure. `archives` caches the archive ranges across calls.
    pub async fn audit_erasure_record(
        &self,
        seq: i64,
        archives: &mut Option<Vec<(i64, i64, i64)>>,
    ) -> Result<Option<i64>, Error> {
        // Archived events are the many: their ranges are read once and kept.
        if archives.is_none() {
            let mut ranges = Vec::new();
            let mut after = 0;
            loop {
                let query = EventQuery {
                    stream: Some(Stream::System),
                    action: Some("audit.archive".into()),
                    after_seq: Some(after),
                    ascending: true,
                    ..EventQuery::default()
                };
                let page = self.audit_search(&query, 1_000).await?;
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                for e in &page {
                    if let (Some(from), Some(to)) =
                        (detail_i64(&e.details, "from"), detail_i64(&e.details, "to"))
                    {
                        ranges.push((from, to, e.seq));
                    }
                }
                after = last;
            }
            *archives = Some(ranges);
        }
        let archived = archives.as_ref().and_then(|ranges| {
            ranges
                .iter()
                .find(|&&(from, to, at)| from <= seq && seq <= to && at > seq)
                .map(|&(_, _, at)| at)
        });
        if archived.is_some() {
            return Ok(archived);
        }
        let query = EventQuery {
            stream: Some(Stream::System),
            action: Some("audit.redact".into()),
            target: Some(format!("audit:{seq}")),
            after_seq: Some(seq),
            ascending: true,
            ..EventQuery::default()
        };
        Ok(self
            .audit_search(&query, 16)
            .await?
            .into_iter()
            .find(|e| detail_i64(&e.details, "seq") == Some(seq))
            .map(|e| e.seq))
    }
}

/// An integer member of an event's details.
fn detail_i64(details: &str, name: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(details)
        .ok()?
        .get(name)?
        .as_i64()
}
