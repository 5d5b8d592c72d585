//! The audit outbox: every change's event is inserted by [`append_event!`] inside the
//! transaction of the change itself, so both commit or neither does.
//!
//! This is the one place events are written. The tamper-evident log (Merkle tree, signed
//! checkpoints) is built from this outbox in order of `id`.

use rampart_core::{Error, UserId};
use time::OffsetDateTime;

use crate::backend::{db, from_millis};
use crate::Store;

pub(crate) const INSERT_EVENT: &str = "INSERT INTO audit_outbox \
    (stream, occurred_at, actor_id, actor_name, action, target, outcome, request_id, source, node_id, details) \
    VALUES ('system', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Appends one `system` event inside the open transaction `$tx`.
///
/// Arguments: the transaction, the [`rampart_core::AuditContext`], the
/// [`rampart_core::AuditEvent`] and the time.
macro_rules! append_event {
    ($tx:expr, $ctx:expr, $event:expr, $now:expr) => {{
        let ctx: &rampart_core::AuditContext = $ctx;
        let event: &rampart_core::AuditEvent = $event;
        sqlx::query($crate::audit::INSERT_EVENT)
            .bind($crate::backend::to_millis($now))
            .bind(ctx.actor_id.map(|id| id.to_string()))
            .bind(ctx.actor_name.as_deref())
            .bind(event.action)
            .bind(event.target.as_deref())
            .bind(event.outcome.as_str())
            .bind(ctx.request_id.as_deref())
            .bind(ctx.source.as_deref())
            .bind(ctx.node_id.as_str())
            .bind(event.details.as_str())
            .execute(&mut *$tx)
            .await
            .map_err($crate::backend::db)?;
    }};
}

/// An event as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the outbox; increases with every event.
    pub id: i64,
    /// Stream name (`system` for now).
    pub stream: String,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// Acting principal, if any.
    pub actor_id: Option<UserId>,
    /// Acting principal's username at the time.
    pub actor_name: Option<String>,
    /// Dotted action name.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Request it came from.
    pub request_id: Option<String>,
    /// Source address.
    pub source: Option<String>,
    /// Node that served it.
    pub node_id: String,
    /// Structured details (JSON object text).
    pub details: String,
}

impl Store {
    /// Records an event that accompanies no stored change (e.g. a refused request).
    pub async fn record_event(
        &self,
        ctx: &rampart_core::AuditContext,
        event: &rampart_core::AuditEvent,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        write_tx!(self, |tx| {
            append_event!(tx, ctx, event, now);
        });
        Ok(())
    }

    /// Events with `id > after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, Error> {
        const SQL: &str = "SELECT id, stream, occurred_at, actor_id, actor_name, action, target, \
            outcome, request_id, source, node_id, details FROM audit_outbox \
            WHERE id > $1 ORDER BY id LIMIT $2";
        read!(self, |pool| {
            let rows = sqlx::query(SQL)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(db)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let actor: Option<String> = col!(row, "actor_id");
                out.push(StoredEvent {
                    id: col!(row, "id"),
                    stream: col!(row, "stream"),
                    occurred_at: from_millis(col!(row, "occurred_at"))?,
                    actor_id: actor.map(|a| UserId::parse(&a, "actor_id")).transpose()?,
                    actor_name: col!(row, "actor_name"),
                    action: col!(row, "action"),
                    target: col!(row, "target"),
                    outcome: col!(row, "outcome"),
                    request_id: col!(row, "request_id"),
                    source: col!(row, "source"),
                    node_id: col!(row, "node_id"),
                    details: col!(row, "details"),
                });
            }
            Ok(out)
        })
    }
}
