//! Numbering and writing events: one event in its change's transaction
//! ([`append_event`]), or a batch as blocks ([`Store::append_events`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::*;
use crate::backend::Backend;

/// Takes `n` sequence numbers inside `tx`; returns the last one and the time of the newest
/// event before them (the floor for the new events' times).
pub(crate) async fn take_seqs(tx: &mut Tx<'_>, n: usize) -> Result<(i64, i64), Error> {
    tx.one(
        "UPDATE audit_head SET size = size + $1 WHERE id = 1 RETURNING size, last_at",
        [Arg::from(i64::try_from(n).unwrap_or(i64::MAX))],
    )
    .await
}

/// Records the time of the newest event after a batch.
async fn set_last_at(tx: &mut Tx<'_>, at: i64) -> Result<(), Error> {
    tx.exec(
        "UPDATE audit_head SET last_at = $1 WHERE id = 1",
        [at.into()],
    )
    .await?;
    Ok(())
}

/// Adds a batch's distinct targets to `audit_targets`, for free-text search (see
/// `audit_search`), inside `tx`.
async fn insert_targets(tx: &mut Tx<'_>, targets: &[String]) -> Result<(), Error> {
    let sqlite = tx.is_sqlite();
    for chunk in targets.chunks(INSERT_CHUNK) {
        let mut sql = String::from("INSERT INTO audit_targets (target) VALUES ");
        push_values(&mut sql, chunk.len(), 1, sqlite);
        sql.push_str(" ON CONFLICT (target) DO NOTHING");
        tx.exec(&sql, chunk.iter().map(|t| t.as_str().into_arg()))
            .await?;
    }
    Ok(())
}

/// Numbers `events` (not empty) and writes them as blocks (see [`blocks`]) inside `tx`;
/// returns the last sequence number and the time of the newest event.
///
/// The batch is cut into steps whose blocks (bodies, leaf hashes, compression, search keys)
/// are built on the builder threads (see [`blocks::prepare_events`]) while the database
/// inserts the steps before them, in order. Times are raised to the newest before them,
/// which the head keeps.
pub(crate) async fn write_events(
    tx: &mut Tx<'_>,
    events: impl Into<Arc<Vec<NewEvent>>>,
) -> Result<(i64, i64), Error> {
    let events = events.into();
    let n = events.len() as i64;
    if !tx.is_sqlite() {
        // PostgreSQL: each step moves the head and inserts its blocks in one statement
        // (`blocks::insert_step_pg`), under the head's lock taken here.
        let (size, floor) = blocks::lock_head(tx).await?;
        let (steps, last_at) = blocks::prepare_events(events, size + 1, floor);
        for next in steps {
            if !blocks::insert_step_pg(&mut *tx, built(next).await?).await? {
                return Err(Error::Internal(
                    "the audit log's head moved under its lock".into(),
                ));
            }
        }
        return Ok((size + n, last_at));
    }
    // SQLite, whose statements cost no round trip: the numbers first, then each step's
    // blocks and packs, the batch's targets and the head's time.
    let (last, floor) = take_seqs(tx, n as usize).await?;
    let (steps, last_at) = blocks::prepare_events(events, last - n + 1, floor);
    let mut targets = std::collections::BTreeSet::new();
    for next in steps {
        let mut step = built(next).await?;
        targets.extend(std::mem::take(&mut step.targets));
        blocks::insert_step(tx, step).await?;
    }
    let targets: Vec<String> = targets.into_iter().collect();
    insert_targets(tx, &targets).await?;
    set_last_at(tx, last_at).await?;
    Ok((last, last_at))
}

/// A step once its builder has made it.
async fn built(next: blocks::StepReceiver) -> Result<blocks::Step, Error> {
    next.await
        .map_err(|_| Error::Internal("building audit blocks: a builder stopped".into()))?
}

/// Where this node last left the audit log's head (PostgreSQL): the size and newest time its
/// last append committed, and the node's count of write transactions then. The next append
/// is numbered from it and written in one autocommitted statement when no write transaction
/// of the node began since (any of them may have appended an event). The statement checks
/// the head itself, so the count is a hint that saves a round trip bound to fail (another
/// node's appends are not in it), never what keeps the log whole.
#[derive(Debug, Default)]
pub(crate) struct HeadGuess {
    guess: std::sync::Mutex<Option<(i64, i64, u64)>>,
    /// Write transactions begun through the store's handles ([`HeadGuess::moved`]).
    writes: AtomicU64,
    /// Appends written by their guess.
    hits: AtomicU64,
}

impl HeadGuess {
    /// Counts a write transaction beginning: it may move the head.
    pub(crate) fn moved(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Takes the guess when no write transaction began since it was made.
    fn take(&self) -> Option<(i64, i64, u64)> {
        let guess = self.guess.lock().ok()?.take()?;
        (guess.2 == self.writes()).then_some(guess)
    }

    fn set(&self, guess: Option<(i64, i64, u64)>) {
        if let Ok(mut g) = self.guess.lock() {
            *g = guess;
        }
    }
}

/// Rows per multi-row `INSERT` (13 values each: well under both backends' bind limits).
pub(crate) const INSERT_CHUNK: usize = 256;

/// The `INSERT` of `n` event rows. SQLite gets anonymous `?` placeholders: for numbered ones
/// the driver looks each name up, and SQLite's lookup walks the list, so a statement with
/// thousands of `$N` spends most of its time there (measured: 78% of an append).
pub(crate) fn insert_sql(n: usize, sqlite: bool) -> String {
    let mut sql = String::from(
        "INSERT INTO audit_events (seq, stream, occurred_at, actor_id, actor_name, action, \
         target, application, environment, outcome, node_id, body, leaf_hash) VALUES ",
    );
    push_values(&mut sql, n, 13, sqlite);
    sql
}

/// Appends `rows` value tuples of `cols` placeholders each: `?` on SQLite (see
/// [`insert_sql`]), `$1, $2, …` on PostgreSQL.
pub(crate) fn push_values(sql: &mut String, rows: usize, cols: usize, sqlite: bool) {
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for j in 1..=cols {
            if j > 1 {
                sql.push(',');
            }
            if sqlite {
                sql.push('?');
            } else {
                let _ = write!(sql, "${}", i * cols + j);
            }
        }
        sql.push(')');
    }
}

impl EventRow<'_> {
    pub(crate) fn target(&self) -> Option<&str> {
        self.event.target.as_deref()
    }
}

impl<'a> EventRow<'a> {
    /// The row's values in the order of [`insert_sql`]'s columns.
    pub(crate) fn args(&'a self) -> [Arg<'a>; 13] {
        let e = self.event;
        [
            self.seq.into_arg(),
            e.stream.as_str().into_arg(),
            self.occurred_at.into_arg(),
            self.actor_id.as_deref().into_arg(),
            e.actor_name.as_deref().into_arg(),
            e.action.as_str().into_arg(),
            e.target.as_deref().into_arg(),
            e.application.as_deref().into_arg(),
            e.environment.as_deref().into_arg(),
            e.outcome.as_str().into_arg(),
            e.node_id.as_str().into_arg(),
            self.body.as_str().into_arg(),
            self.leaf_hash.as_slice().into_arg(),
        ]
    }
}

/// A successful `action` on `target` with its `details` (a JSON object): the event of most
/// changes.
pub(crate) fn success(
    action: &'static str,
    target: impl Into<Option<String>>,
    details: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        action,
        target: target.into(),
        outcome: rampart_core::Outcome::Success,
        details: details.to_string(),
    }
}

/// Appends the [`success`] of `action` on `target` with its `details`, in the change's own
/// transaction: what a change records about itself.
pub(crate) async fn record(
    tx: &mut Tx<'_>,
    ctx: &AuditContext,
    now: OffsetDateTime,
    action: &'static str,
    target: impl Into<Option<String>>,
    details: serde_json::Value,
) -> Result<(), Error> {
    append_event(tx, ctx, &success(action, target, details), now, None).await
}

/// Appends one `system` event inside the open transaction `tx`: the change's own event,
/// committed with it. `application` names the application the change concerns (the
/// event's `application`); without it, what the details name is used.
pub(crate) async fn append_event(
    tx: &mut Tx<'_>,
    ctx: &AuditContext,
    event: &AuditEvent,
    now: OffsetDateTime,
    application: Option<String>,
) -> Result<(), Error> {
    let mut event = NewEvent::system(ctx, event, now);
    if application.is_some() {
        event.application = application;
    }
    // Number and time in one statement: the head keeps the newest time, which is this
    // event's own time raised to the previous event's when it is earlier.
    let (seq, at): (i64, i64) = tx
        .one(
            "UPDATE audit_head SET size = size + 1, \
         last_at = CASE WHEN last_at > $1 THEN last_at ELSE $1 END \
         WHERE id = 1 RETURNING size, last_at",
            [Arg::from(to_millis(event.occurred_at))],
        )
        .await?;
    let row = event_row(seq, &event, at)?;
    let sql = insert_sql(1, tx.is_sqlite());
    tx.exec(&sql, row.args()).await?;
    // Its target joins the list free-text search reads (see `audit_search`).
    if let Some(t) = row.target() {
        tx.exec(
            "INSERT INTO audit_targets (target) VALUES ($1) ON CONFLICT (target) DO NOTHING",
            [t.into()],
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Records an event that accompanies no stored change (e.g. a refused request).
    pub async fn record_event(
        &self,
        ctx: &AuditContext,
        event: &AuditEvent,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        append_event(&mut tx, ctx, event, now, None).await?;
        tx.commit().await
    }

    /// Appends a batch of events of any stream in one transaction, numbered in order;
    /// returns the sequence number of the last one (0 for an empty batch). When this
    /// returns, the batch is committed (on SQLite, on disk: `synchronous = FULL`).
    ///
    /// The batch is stored in blocks (see [`blocks`]): its bodies compressed together, its
    /// leaves side by side, its search keys packed per block in `audit_key_packs`.
    ///
    /// On PostgreSQL a transaction costs four round trips (begin, the head, the blocks,
    /// commit), which every request waiting for its access event waits for. So a batch of
    /// one block is first numbered from where this node's last append left the head and
    /// written in one autocommitted statement (`blocks::insert_step_pg`); when anything
    /// moved the head meanwhile (another node, a change's own event), that statement
    /// writes nothing and the batch is written in a transaction as before.
    pub async fn append_events(&self, events: Vec<NewEvent>) -> Result<i64, Error> {
        if events.is_empty() {
            return Ok(0);
        }
        let n = events.len();
        let events = Arc::new(events);
        let last = match self.append_guessed(&events).await? {
            Some(last) => last,
            None => {
                let mut tx = self.write().await?;
                // Counted after this transaction's own beginning: a later one makes the
                // guess stale.
                let writes = self.head.writes();
                let (last, last_at) = write_events(&mut tx, events).await?;
                tx.commit().await?;
                // Only PostgreSQL guesses (SQLite's statements cost no round trip).
                if self.kind() == crate::BackendKind::Postgres {
                    self.head.set(Some((last, last_at, writes)));
                }
                last
            }
        };
        self.appended.fetch_add(n as u64, Ordering::Relaxed);
        Ok(last)
    }

    /// The guessed append of [`Store::append_events`]: the last sequence number, or `None`
    /// when there is no guess to make or it failed, nothing written.
    async fn append_guessed(&self, events: &Arc<Vec<NewEvent>>) -> Result<Option<i64>, Error> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        if events.len() > BLOCK_EVENTS {
            return Ok(None);
        }
        let Some((size, floor, writes)) = self.head.take() else {
            return Ok(None);
        };
        let (mut steps, last_at) = blocks::prepare_events(events.clone(), size + 1, floor);
        let (Some(step), true) = (steps.pop(), steps.is_empty()) else {
            return Ok(None);
        };
        // An error leaves no guess: whether the statement committed is unknown.
        if !blocks::insert_step_pg(crate::db::Db::Postgres(pool), built(step).await?).await? {
            return Ok(None);
        }
        let last = size + events.len() as i64;
        self.head.set(Some((last, last_at, writes)));
        self.head.hits.fetch_add(1, Ordering::Relaxed);
        Ok(Some(last))
    }

    /// How many of [`Store::append_events`]' batches were written in one statement from
    /// their guessed numbers (PostgreSQL; always 0 on SQLite).
    pub fn audit_guessed_appends(&self) -> u64 {
        self.head.hits.load(Ordering::Relaxed)
    }

    /// How many events [`Store::append_events`] has committed through this handle and its
    /// clones since it was opened: work in the background (the search-key compaction) reads
    /// it to yield to appends.
    pub fn audit_appended(&self) -> u64 {
        self.appended.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts `n` events appended by another path than [`Store::append_events`].
    pub(crate) fn count_appended(&self, n: u64) {
        self.appended.fetch_add(n, Ordering::Relaxed);
    }
}
