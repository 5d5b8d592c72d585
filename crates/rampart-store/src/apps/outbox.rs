//! The audit outbox of a SQLite application database: events committed with the writes,
//! moved into the audit log exactly once (see the module above).

use rampart_core::{Error, UserId};

use super::AppDatabase;
use crate::audit::{NewEvent, Stream};
use crate::backend::{from_millis, to_millis};
use crate::db::{Arg, Tx};
use crate::Store;

/// The outbox table. `AUTOINCREMENT` never gives a number twice, and SQLite's one writer
/// commits them in order, so "moved up to N" is a watermark.
pub(crate) const TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS \"_rampart_outbox\" (\
    \"seq\" INTEGER PRIMARY KEY AUTOINCREMENT, \"stream\" TEXT NOT NULL, \"occurred_at\" BIGINT NOT NULL, \
    \"actor_id\" TEXT, \"actor_name\" TEXT, \"action\" TEXT NOT NULL, \"target\" TEXT, \
    \"application\" TEXT, \"environment\" TEXT, \"outcome\" TEXT NOT NULL, \"request_id\" TEXT, \
    \"source\" TEXT, \"node_id\" TEXT NOT NULL, \"details\" TEXT NOT NULL)";

const COLUMNS: &str = "\"stream\", \"occurred_at\", \"actor_id\", \"actor_name\", \"action\", \"target\", \
    \"application\", \"environment\", \"outcome\", \"request_id\", \"source\", \"node_id\", \"details\"";

/// Puts events into the outbox, in the write's transaction.
pub(crate) async fn put(tx: &mut Tx<'_>, events: &[NewEvent]) -> Result<(), Error> {
    let sql = format!(
        "INSERT INTO \"_rampart_outbox\" ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    for e in events {
        let args: [Arg<'_>; 13] = [
            e.stream.as_str().into(),
            to_millis(e.occurred_at).into(),
            e.actor_id.map(|a| a.to_string()).into(),
            (&e.actor_name).into(),
            e.action.as_str().into(),
            (&e.target).into(),
            (&e.application).into(),
            (&e.environment).into(),
            e.outcome.as_str().into(),
            (&e.request_id).into(),
            (&e.source).into(),
            e.node_id.as_str().into(),
            e.details.as_str().into(),
        ];
        tx.exec(&sql, args).await?;
    }
    Ok(())
}

/// An outbox row, in `COLUMNS` order after `seq`.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    seq: i64,
    stream: String,
    occurred_at: i64,
    actor_id: Option<String>,
    actor_name: Option<String>,
    action: String,
    target: Option<String>,
    application: Option<String>,
    environment: Option<String>,
    outcome: String,
    request_id: Option<String>,
    source: Option<String>,
    node_id: String,
    details: String,
}

impl Store {
    /// Moves a SQLite application database's outbox into the audit log: the events after
    /// the watermark, with the new watermark, in one transaction of the log; then forgets
    /// them in the outbox. Returns how many moved. Nothing to do on PostgreSQL.
    pub async fn flush_app_outbox(&self, db: &AppDatabase) -> Result<usize, Error> {
        let conn = self.app_conn(db).await?;
        if matches!(conn, super::AppConn::Postgres(_)) {
            return Ok(0);
        }
        let mut moved = 0;
        loop {
            let (done,): (i64,) = self
                .reader()
                .one(
                    "SELECT outbox_done FROM app_databases WHERE num = $1",
                    [db.num.into()],
                )
                .await?;
            let sql = format!(
                "SELECT \"seq\", {COLUMNS} FROM \"_rampart_outbox\" WHERE \"seq\" > $1 ORDER BY \"seq\" LIMIT 1000"
            );
            let rows: Vec<OutboxRow> = conn.reader().all(&sql, [done.into()]).await?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            let mut tx = self.write().await?;
            // Another flush may have moved some meanwhile: the watermark inside the
            // transaction decides.
            let (done,): (i64,) = tx
                .one(
                    "SELECT outbox_done FROM app_databases WHERE num = $1",
                    [db.num.into()],
                )
                .await?;
            let mut events = Vec::new();
            for row in rows.into_iter().filter(|r| r.seq > done) {
                events.push(event(row)?);
            }
            let n = events.len();
            if n > 0 {
                crate::audit::write_events(&mut tx, events).await?;
                tx.exec(
                    "UPDATE app_databases SET outbox_done = $1 WHERE num = $2 AND outbox_done < $1",
                    [last.into(), db.num.into()],
                )
                .await?;
                tx.commit().await?;
                self.appended
                    .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            } else {
                // Another flush moved them: the log's transaction ends here, before the
                // application database's write below (holding one writer while waiting for
                // the other stalled concurrent writes).
                drop(tx);
            }
            moved += n;
            let mut out = conn.write().await?;
            out.exec(
                "DELETE FROM \"_rampart_outbox\" WHERE \"seq\" <= $1",
                [last.into()],
            )
            .await?;
            out.commit().await?;
        }
        Ok(moved)
    }

    /// Moves every application database's outbox (at start, and after a failed move).
    pub async fn flush_app_outboxes(&self) -> Result<usize, Error> {
        let mut moved = 0;
        if self.kind() == crate::BackendKind::Sqlite {
            for db in self.app_databases().await? {
                moved += self.flush_app_outbox(&db).await?;
            }
        }
        Ok(moved)
    }
}

fn event(row: OutboxRow) -> Result<NewEvent, Error> {
    Ok(NewEvent {
        stream: Stream::parse(&row.stream)
            .ok_or_else(|| Error::Internal(format!("outbox: unknown stream `{}`", row.stream)))?,
        occurred_at: from_millis(row.occurred_at)?,
        actor_id: row
            .actor_id
            .map(|a| UserId::parse(&a, "actor_id"))
            .transpose()?,
        actor_name: row.actor_name,
        action: row.action,
        target: row.target,
        application: row.application,
        environment: row.environment,
        outcome: row.outcome,
        request_id: row.request_id,
        source: row.source,
        node_id: row.node_id,
        details: row.details,
    })
}
