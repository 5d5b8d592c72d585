//! Reading events back: each from its body (the columns are an index), rows and blocks
//! merged in sequence order.

use super::*;

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
pub(crate) fn columns_event(row: &Row, seq: i64, leaf_hash: Hash) -> Result<StoredEvent, Error> {
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

impl Store {
    /// Events with `seq > after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, Error> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        let rows = self
            .reader()
            .rows(&sql, [after.into(), limit.into()])
            .await?
            .iter()
            .map(stored_event)
            .collect::<Result<Vec<_>, Error>>()?;
        let blocks = self.block_events_after(after, limit).await?;
        Ok(merge(rows, blocks, |e| e.seq, false, limit))
    }

    /// The number of events in the log (the tree's size).
    pub async fn audit_size(&self) -> Result<u64, Error> {
        let n: i64 = self
            .reader()
            .scalar("SELECT size FROM audit_head WHERE id = 1", [])
            .await?;
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
        let (count, hex): (i64, String) = self.reader().one(sql, [lo.into(), hi.into()]).await?;
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
}

/// The first `limit` of two lists of events with disjoint numbers, each already in order
/// (newest first with `desc`).
pub(crate) fn merge<T>(
    a: Vec<T>,
    b: Vec<T>,
    seq: impl Fn(&T) -> i64,
    desc: bool,
    limit: i64,
) -> Vec<T> {
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

/// The sequence number of the event at leaf position `leaf` (as a bound: `seq > leaf`).
pub(crate) fn seq_of(leaf: u64) -> Result<i64, Error> {
    i64::try_from(leaf).map_err(|_| Error::invalid("seq", "is out of range"))
}
