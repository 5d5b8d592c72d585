//! The audit log: every event of the three streams, written by [`append_event`] (one event)
//! or [`Store::append_events`] (a batch) inside the transaction of the change it records,
//! so both commit or neither does.
//!
//! This is the one place events are written. Each event gets the next sequence number from
//! `audit_head` in its own transaction: sequence numbers have no gaps and follow commit
//! order on both backends (SQLite has one writer; on PostgreSQL the head row's lock is held
//! until commit, so a later writer waits and then sees the earlier one's number). Event
//! `seq` is leaf `seq − 1` of the log's Merkle tree; its data is the event's canonical JSON
//! (`body`), its hash is stored beside it (`leaf_hash`) so an erasure can clear the body
//! and keep the proof.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use rampart_audit::hash::{leaf_hash, Hash};
use rampart_core::{AuditContext, AuditEvent, Error, UserId};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::backend::{db, from_millis, to_millis};
use crate::db::{query, query_as, query_scalar, Arg, IntoArg as _, Row, Tx};

pub(crate) mod blocks;
mod integrity;
pub(crate) mod keys;
pub use blocks::{decode_block, encode_block, BLOCK_EVENTS};

/// Height of the tiles whose roots and leaves `audit_tiles` stores (256 leaves a tile).
pub const AUDIT_TILE_HEIGHT: u32 = rampart_audit::DEFAULT_TILE_HEIGHT;
const TILE_HEIGHT: u32 = AUDIT_TILE_HEIGHT;
use crate::Store;

/// The three audit streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// IT activity: logins, user, role and permission changes, publish, deploy, overrides.
    System,
    /// Inbound web-service requests and outbound calls.
    Integration,
    /// End users' screen and API accesses, with the decision.
    Access,
}

impl Stream {
    /// Every stream, in a fixed order.
    pub const ALL: [Stream; 3] = [Stream::System, Stream::Integration, Stream::Access];

    /// `system`, `integration` or `access`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::System => "system",
            Stream::Integration => "integration",
            Stream::Access => "access",
        }
    }

    /// Parses a stream name.
    pub fn parse(s: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An event of any stream, before it is numbered.
///
/// `details` is a JSON object text that must never hold a secret: callers put names, ids,
/// reasons, methods, statuses and durations there, never passwords, tokens or hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Which stream it belongs to.
    pub stream: Stream,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// Acting principal, if any.
    pub actor_id: Option<UserId>,
    /// The actor's username at the time.
    pub actor_name: Option<String>,
    /// Dotted action name (`user.create`, `screen.view`, `http.inbound`, …).
    pub action: String,
    /// What it was done to (`user:…`, a screen, an endpoint, a URL).
    pub target: Option<String>,
    /// The application concerned, if any.
    pub application: Option<String>,
    /// The environment concerned, if any.
    pub environment: Option<String>,
    /// `success` / `failure` (system, integration) or `allow` / `deny` (access).
    pub outcome: String,
    /// The request it came from.
    pub request_id: Option<String>,
    /// The request's source address.
    pub source: Option<String>,
    /// The node that recorded it.
    pub node_id: String,
    /// Structured facts, a JSON object text.
    pub details: String,
}

impl NewEvent {
    /// A `system` event from the request context and a core event.
    ///
    /// The application and environment the change concerns are taken from the details'
    /// `application` and `environment` members (when they are names), so every event that
    /// names them there can be found by the search's `application` and `environment`
    /// filters.
    pub fn system(ctx: &AuditContext, event: &AuditEvent, now: OffsetDateTime) -> Self {
        let concerns: Concerns = serde_json::from_str(&event.details).unwrap_or_default();
        NewEvent {
            stream: Stream::System,
            occurred_at: now,
            actor_id: ctx.actor_id,
            actor_name: ctx.actor_name.clone(),
            action: event.action.to_owned(),
            target: event.target.clone(),
            application: concerns.application.and_then(Named::name),
            environment: concerns.environment.and_then(Named::name),
            outcome: event.outcome.as_str().to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.clone(),
            node_id: ctx.node_id.clone(),
            details: event.details.clone(),
        }
    }

    /// An `access` event: an end user reached (or was refused) a screen or API; the target
    /// is the object reached (for the HTTP API, the request's path with its ids).
    pub fn access(
        ctx: &AuditContext,
        now: OffsetDateTime,
        application: Option<&str>,
        object: &str,
        method: &str,
        allowed: bool,
    ) -> Self {
        NewEvent {
            stream: Stream::Access,
            occurred_at: now,
            actor_id: ctx.actor_id,
            actor_name: ctx.actor_name.clone(),
            action: "access".to_owned(),
            target: Some(object.to_owned()),
            application: application.map(str::to_owned),
            environment: None,
            outcome: if allowed { "allow" } else { "deny" }.to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.clone(),
            node_id: ctx.node_id.clone(),
            details: serde_json::json!({ "method": method }).to_string(),
        }
    }

    /// An `access` event of the HTTP API: the object is the request's path, and the route
    /// template it matched (`/api/v1/deployment-plans/{id}`) is kept in the details when it
    /// differs from the path.
    #[allow(clippy::too_many_arguments)]
    pub fn access_via_route(
        ctx: &AuditContext,
        now: OffsetDateTime,
        application: Option<&str>,
        object: &str,
        route: &str,
        method: &str,
        allowed: bool,
    ) -> Self {
        let mut event = Self::access(ctx, now, application, object, method, allowed);
        if object != route {
            event.details = serde_json::json!({ "method": method, "route": route }).to_string();
        }
        event
    }

    /// An `integration` event: an inbound web-service request or an outbound call.
    #[allow(clippy::too_many_arguments)]
    pub fn integration(
        ctx: &AuditContext,
        now: OffsetDateTime,
        inbound: bool,
        method: &str,
        target: &str,
        status: u16,
        duration_ms: u64,
    ) -> Self {
        NewEvent {
            stream: Stream::Integration,
            occurred_at: now,
            actor_id: ctx.actor_id,
            actor_name: ctx.actor_name.clone(),
            action: if inbound {
                "http.inbound"
            } else {
                "http.outbound"
            }
            .to_owned(),
            target: Some(target.to_owned()),
            application: None,
            environment: None,
            outcome: if status < 400 { "success" } else { "failure" }.to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.clone(),
            node_id: ctx.node_id.clone(),
            details: serde_json::json!({
                "method": method, "status": status, "duration_ms": duration_ms,
            })
            .to_string(),
        }
    }
}

/// Takes `n` sequence numbers inside `tx`; returns the last one and the time of the newest
/// event before them (the floor for the new events' times).
async fn take_seqs(tx: &mut Tx<'_>, n: usize) -> Result<(i64, i64), Error> {
    query_as("UPDATE audit_head SET size = size + $1 WHERE id = 1 RETURNING size, last_at")
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)
}

/// Records the time of the newest event after a batch.
async fn set_last_at(tx: &mut Tx<'_>, at: i64) -> Result<(), Error> {
    query("UPDATE audit_head SET last_at = $1 WHERE id = 1")
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
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
        query(&sql)
            .bind_all(chunk.iter().map(|t| t.as_str().into_arg()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Numbers `events` (not empty) and writes them as blocks (see [`blocks`]) inside `tx`;
/// returns the last sequence number.
///
/// The batch is cut into steps whose blocks (bodies, leaf hashes, compression, search keys)
/// are built on the builder threads (see [`blocks::prepare_events`]) while the database
/// inserts the steps before them, in order. Times are raised to the newest before them,
/// which the head keeps.
async fn write_events(tx: &mut Tx<'_>, events: Vec<NewEvent>) -> Result<i64, Error> {
    let n = events.len();
    let (last, floor) = take_seqs(tx, n).await?;
    let (steps, last_at) = blocks::prepare_events(events, last - n as i64 + 1, floor);
    let mut targets = std::collections::BTreeSet::new();
    for next in steps {
        let mut step = next
            .await
            .map_err(|_| Error::Internal("building audit blocks: a builder stopped".into()))??;
        targets.extend(std::mem::take(&mut step.targets));
        blocks::insert_step(tx, step).await?;
    }
    let targets: Vec<String> = targets.into_iter().collect();
    insert_targets(tx, &targets).await?;
    set_last_at(tx, last_at).await?;
    Ok(last)
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
        self.target
    }
}

impl<'a> EventRow<'a> {
    /// The row's values in the order of [`insert_sql`]'s columns.
    pub(crate) fn args(&'a self) -> [Arg<'a>; 13] {
        [
            self.seq.into_arg(),
            self.stream.into_arg(),
            self.occurred_at.into_arg(),
            self.actor_id.as_deref().into_arg(),
            self.actor_name.into_arg(),
            self.action.into_arg(),
            self.target.into_arg(),
            self.application.into_arg(),
            self.environment.into_arg(),
            self.outcome.into_arg(),
            self.node_id.into_arg(),
            self.body.as_str().into_arg(),
            self.leaf_hash.as_slice().into_arg(),
        ]
    }
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
    let (seq, at): (i64, i64) = query_as(
        "UPDATE audit_head SET size = size + 1, \
         last_at = CASE WHEN last_at > $1 THEN last_at ELSE $1 END \
         WHERE id = 1 RETURNING size, last_at",
    )
    .bind(to_millis(event.occurred_at))
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let row = event_row(seq, &event, at)?;
    let sql = insert_sql(1, tx.is_sqlite());
    query(&sql)
        .bind_all(row.args())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    // Its target joins the list free-text search reads (see `audit_search`).
    if let Some(t) = row.target() {
        query("INSERT INTO audit_targets (target) VALUES ($1) ON CONFLICT (target) DO NOTHING")
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// The application and environment a system event's details name.
#[derive(Default, serde::Deserialize)]
struct Concerns {
    application: Option<Named>,
    environment: Option<Named>,
}

/// A details member that is a name when it is a string (numbers and lists are not).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Named {
    Name(String),
    Other(serde::de::IgnoredAny),
}

impl Named {
    fn name(self) -> Option<String> {
        match self {
            Named::Name(n) => Some(n),
            Named::Other(_) => None,
        }
    }
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Sequence number: the event's leaf is `seq − 1`.
    pub seq: i64,
    /// Stream name.
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
    /// Application concerned.
    pub application: Option<String>,
    /// Environment concerned.
    pub environment: Option<String>,
    /// `success` / `failure` / `allow` / `deny`.
    pub outcome: String,
    /// Request it came from.
    pub request_id: Option<String>,
    /// Source address.
    pub source: Option<String>,
    /// Node that served it.
    pub node_id: String,
    /// Structured details (JSON object text; `{}` once redacted).
    pub details: String,
    /// The canonical JSON the leaf hashes; `None` once redacted.
    pub body: Option<String>,
    /// The leaf hash.
    pub leaf_hash: Hash,
}

/// Columns of `audit_events` as [`stored_event`] reads them.
pub(crate) const EVENT_COLUMNS: &str = "seq, stream, occurred_at, actor_id, actor_name, action, \
    target, application, environment, outcome, node_id, body, leaf_hash";

/// Reads a row selected with [`EVENT_COLUMNS`]. An event with its body is read from the body
/// alone: the leaf hashes the body, so the body is what the log proves, and the columns
/// copied from it are only an index (see [`index_mismatch`] for how an edit of them is
/// found). A redacted row has only its columns left.
pub(crate) fn stored_event(row: &Row) -> Result<StoredEvent, Error> {
    let seq: i64 = row.get("seq")?;
    let body: Option<String> = row.get("body")?;
    let leaf: Vec<u8> = row.get("leaf_hash")?;
    let leaf_hash: Hash = leaf
        .try_into()
        .map_err(|_| Error::Internal(format!("event {seq}: stored leaf hash is not 32 bytes")))?;
    match body {
        Some(body) => event_from_body(seq, &body, leaf_hash),
        None => columns_event(row, seq, leaf_hash),
    }
}

/// A row as its index columns say (all a redacted row has).
fn columns_event(row: &Row, seq: i64, leaf_hash: Hash) -> Result<StoredEvent, Error> {
    let actor: Option<String> = row.get("actor_id")?;
    Ok(StoredEvent {
        seq,
        stream: row.get("stream")?,
        occurred_at: from_millis(row.get("occurred_at")?)?,
        actor_id: actor.map(|a| UserId::parse(&a, "actor_id")).transpose()?,
        actor_name: row.get("actor_name")?,
        action: row.get("action")?,
        target: row.get("target")?,
        application: row.get("application")?,
        environment: row.get("environment")?,
        outcome: row.get("outcome")?,
        request_id: None,
        source: None,
        node_id: row.get("node_id")?,
        details: "{}".to_owned(),
        body: None,
        leaf_hash,
    })
}

/// The event a body records (its every field), refusing a body that names another number.
pub(crate) fn event_from_body(seq: i64, body: &str, leaf: Hash) -> Result<StoredEvent, Error> {
    let p: Body = serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("stored audit event {seq}: {e}")))?;
    if p.seq != seq {
        return Err(Error::Internal(format!(
            "stored audit event {seq} says it is {}",
            p.seq
        )));
    }
    Ok(StoredEvent {
        seq,
        stream: p.stream.into_owned(),
        occurred_at: blocks::parse_time(&p.time)?,
        actor_id: p.actor.map(|a| UserId::parse(&a, "actor_id")).transpose()?,
        actor_name: p.actor_name.map(Cow::into_owned),
        action: p.action.into_owned(),
        target: p.target.map(Cow::into_owned),
        application: p.application.map(Cow::into_owned),
        environment: p.environment.map(Cow::into_owned),
        outcome: p.outcome.into_owned(),
        request_id: p.request.map(Cow::into_owned),
        source: p.source.map(Cow::into_owned),
        node_id: p.node.into_owned(),
        details: p.details.get().to_owned(),
        body: Some(body.to_owned()),
        leaf_hash: leaf,
    })
}

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
    pub async fn append_events(&self, events: Vec<NewEvent>) -> Result<i64, Error> {
        if events.is_empty() {
            return Ok(0);
        }
        let n = events.len() as u64;
        let mut tx = self.write().await?;
        let last = write_events(&mut tx, events).await?;
        tx.commit().await?;
        self.appended
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(last)
    }

    /// How many events [`Store::append_events`] has committed through this handle and its
    /// clones since it was opened: work in the background (the search-key compaction) reads
    /// it to yield to appends.
    pub fn audit_appended(&self) -> u64 {
        self.appended.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Events with `seq > after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, Error> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        let rows = query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db)?
            .iter()
            .map(stored_event)
            .collect::<Result<Vec<_>, Error>>()?;
        let blocks = self.block_events_after(after, limit).await?;
        Ok(merge(rows, blocks, |e| e.seq, false, limit))
    }

    /// The number of events in the log (the tree's size).
    pub async fn audit_size(&self) -> Result<u64, Error> {
        let n: i64 = query_scalar("SELECT size FROM audit_head WHERE id = 1")
            .fetch_one(self.reader())
            .await
            .map_err(db)?;
        u64::try_from(n).map_err(|_| Error::Internal(format!("audit size {n}")))
    }

    /// Leaf hashes of leaves `[start, end)` (leaf `i` is event `seq = i + 1`).
    pub async fn audit_leaves(&self, start: u64, end: u64) -> Result<Vec<Hash>, Error> {
        let (lo, hi) = (seq_of(start)?, seq_of(end)?);
        // One row for the whole range (hex, in sequence order): a proof reads up to three
        // tiles of 256 leaves, and per-row overhead in the driver would be most of its time.
        let sql = match self.kind() {
            crate::BackendKind::Sqlite => {
                "SELECT count(*), coalesce(group_concat(hex(leaf_hash), '' ORDER BY seq), '') \
                 FROM audit_events WHERE seq > $1 AND seq <= $2"
            }
            crate::BackendKind::Postgres => {
                "SELECT count(*), coalesce(string_agg(encode(leaf_hash, 'hex'), '' ORDER BY seq), '') \
                 FROM audit_events WHERE seq > $1 AND seq <= $2"
            }
        };
        let (count, hex): (i64, String) = query_as(sql)
            .bind(lo)
            .bind(hi)
            .fetch_one(self.reader())
            .await
            .map_err(db)?;
        let in_blocks = self.block_leaves(lo, hi).await?;
        let found = count + in_blocks.len() as i64;
        let missing = || {
            Error::Internal(format!(
                "the audit log has {found} of events {} to {hi}: events are missing",
                lo + 1
            ))
        };
        if found != hi - lo {
            return Err(missing());
        }
        if hex.len() != 64 * count as usize {
            return Err(Error::Internal(format!(
                "a stored leaf hash among events {} to {hi} is not 32 bytes",
                lo + 1
            )));
        }
        // Rows fill the numbers blocks do not hold, in order.
        let mut rows = hex.as_bytes().chunks(64).map(|h| {
            rampart_audit::hash::from_hex_bytes(h)
                .map_err(|e| Error::Internal(format!("stored leaf hash: {e}")))
        });
        let mut out = Vec::with_capacity((hi - lo) as usize);
        let mut blocks = in_blocks.into_iter().peekable();
        for seq in lo + 1..=hi {
            match blocks.next_if(|(s, _)| *s == seq) {
                Some((_, leaf)) => out.push(leaf),
                None => out.push(rows.next().ok_or_else(missing)??),
            }
        }
        Ok(out)
    }

    /// The stored level-8 roots of complete tiles, in order from tile 0.
    pub async fn audit_tiles(&self) -> Result<Vec<Hash>, Error> {
        let rows: Vec<(i64, Vec<u8>)> =
            query_as("SELECT tile, root FROM audit_tiles ORDER BY tile")
                .fetch_all(self.reader())
                .await
                .map_err(db)?;
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
            "SELECT tile, leaves FROM audit_tiles WHERE leaves IS NOT NULL AND tile IN (",
        );
        let sqlite = self.kind() == crate::BackendKind::Sqlite;
        for i in 0..tiles.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", i + 1));
            }
        }
        sql.push(')');
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

/// The first `limit` of two lists of events with disjoint numbers, each already in order
/// (newest first with `desc`).
fn merge<T>(a: Vec<T>, b: Vec<T>, seq: impl Fn(&T) -> i64, desc: bool, limit: i64) -> Vec<T> {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity((a.len() + b.len()).min(limit));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (seq(x) < seq(y)) != desc,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

impl Store {
    /// Erases event `seq`'s payload (a lawful erasure): its body and the columns copied from
    /// it are cleared, its leaf hash stays, so every proof still holds and verifiers report
    /// the event as redacted. Recorded as an `audit.redact` event with the reason, in the
    /// same transaction. Refuses an event already redacted or unknown.
    pub async fn audit_redact(
        &self,
        ctx: &AuditContext,
        seq: i64,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        if reason.trim().is_empty() || reason.len() > 500 {
            return Err(Error::invalid(
                "reason",
                "must say why, in at most 500 characters",
            ));
        }
        let mut tx = self.write().await?;
        // The head lock first, as appends and compaction steps take it: the key layout read
        // here stays the one in force until the commit.
        let size = keys::lock_head(&mut tx).await?;
        let layout = keys::read_manifest(&mut tx).await?;
        let found: Option<Option<i64>> =
            query_scalar("SELECT redacted_at FROM audit_events WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&mut tx)
                .await
                .map_err(db)?;
        let already = || Error::Conflict(format!("event {seq} is already redacted"));
        let target: Option<String> = match found {
            Some(Some(_)) => return Err(already()),
            Some(None) => {
                let target: Option<String> =
                    query_scalar("SELECT target FROM audit_events WHERE seq = $1")
                        .bind(seq)
                        .fetch_one(&mut tx)
                        .await
                        .map_err(db)?;
                query(
                    "UPDATE audit_events SET body = NULL, actor_id = NULL, \
                     actor_name = NULL, target = NULL, redacted_at = $1 WHERE seq = $2",
                )
                .bind(to_millis(now))
                .bind(seq)
                .execute(&mut tx)
                .await
                .map_err(db)?;
                target
            }
            // Not a row: a block event, or no event at all.
            None => {
                match blocks::erase_in_blocks(&mut tx, &layout, seq, seq, to_millis(now), None)
                    .await?
                {
                    (0, _, _) => {
                        return Err(Error::NotFound {
                            what: "audit event",
                        })
                    }
                    (_, 0, _) => return Err(already()),
                    (_, _, targets) => targets.into_iter().next(),
                }
            }
        };
        // The erased target leaves the search list too, unless another event has it.
        let target = match target {
            Some(t) if blocks::target_in_packs(&mut tx, &t, &layout).await? => None,
            t => t,
        };
        if let Some(t) = target {
            let sql = format!(
                "DELETE FROM audit_targets WHERE target = $1 \
                 AND NOT EXISTS (SELECT 1 FROM audit_events WHERE target = $1) AND NOT {}",
                blocks::target_in_blocks(&t, &layout, size)
            );
            query(&sql).bind(t).execute(&mut tx).await.map_err(db)?;
        }
        let event = AuditEvent {
            action: "audit.redact",
            target: Some(format!("audit:{seq}")),
            outcome: rampart_core::Outcome::Success,
            details: serde_json::json!({ "seq": seq, "reason": reason }).to_string(),
        };
        append_event(&mut tx, ctx, &event, now, None).await?;
        tx.commit().await
    }
}

impl Store {
    /// The last event archived so far (0 when none).
    pub async fn audit_archived_upto(&self) -> Result<i64, Error> {
        query_scalar("SELECT archived_upto FROM audit_head WHERE id = 1")
            .fetch_one(self.reader())
            .await
            .map_err(db)
    }

    /// The last event that happened before `at` (times never go backwards along the log).
    pub async fn audit_last_before(&self, at: OffsetDateTime) -> Result<Option<i64>, Error> {
        self.seq_at_time(to_millis(at), false).await
    }

    /// Records that events `from..=to` now live in archive `segment`: their payloads are
    /// cleared (leaf hashes stay, so every proof holds) and an `audit.archive` event says
    /// where they went, in one transaction. `from` must follow the last archived event.
    pub async fn audit_mark_archived(
        &self,
        ctx: &AuditContext,
        from: i64,
        to: i64,
        segment: &str,
        checkpoint_root: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        keys::lock_head(&mut tx).await?;
        let layout = keys::read_manifest(&mut tx).await?;
        let upto: i64 = query_scalar("SELECT archived_upto FROM audit_head WHERE id = 1")
            .fetch_one(&mut tx)
            .await
            .map_err(db)?;
        if from != upto + 1 || to < from {
            return Err(Error::Conflict(format!(
                "events up to {upto} are archived; a segment must start at {}",
                upto + 1
            )));
        }
        query(
            "UPDATE audit_events SET body = NULL, actor_id = NULL, actor_name = NULL, \
             target = NULL, redacted_at = $1, archived_in = $2 \
             WHERE seq >= $3 AND seq <= $4",
        )
        .bind(to_millis(now))
        .bind(segment)
        .bind(from)
        .bind(to)
        .execute(&mut tx)
        .await
        .map_err(db)?;
        blocks::erase_in_blocks(&mut tx, &layout, from, to, to_millis(now), Some(segment)).await?;
        query("UPDATE audit_head SET archived_upto = $1 WHERE id = 1")
            .bind(to)
            .execute(&mut tx)
            .await
            .map_err(db)?;
        let event = AuditEvent {
            action: "audit.archive",
            target: Some(format!("audit:{from}-{to}")),
            outcome: rampart_core::Outcome::Success,
            details: serde_json::json!({
                "from": from, "to": to, "segment": segment, "root": checkpoint_root,
            })
            .to_string(),
        };
        append_event(&mut tx, ctx, &event, now, None).await?;
        tx.commit().await
    }
}

/// The sequence number of the event at leaf position `leaf` (as a bound: `seq > leaf`).
fn seq_of(leaf: u64) -> Result<i64, Error> {
    i64::try_from(leaf).map_err(|_| Error::invalid("seq", "is out of range"))
}

mod body;
mod checkpoints;
mod search;
pub(crate) use body::*;
pub use checkpoints::StoredCheckpoint;
pub use search::EventQuery;
