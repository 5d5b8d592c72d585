//! Blocks: how events appended in batches (the access pipeline) are stored.
//!
//! A block holds up to [`BLOCK_EVENTS`] consecutive events of the log: their canonical
//! bodies, one per line, compressed together, and their leaf hashes side by side (migration
//! 0013). A durable append then writes a sixth of the bytes a row per event wrote, and on a
//! disk that syncs every commit, bytes are what bound ingest. Searches find block events
//! through their search keys (hashed actor, target, stream and action: packed per block in
//! `audit_key_packs`, then merged into `audit_keys`, see [`super::keys`]) and the blocks'
//! `facets`, then check every candidate against its decoded event, so a hash collision or a
//! coarse facet never changes an answer.
//!
//! The format, for anyone who reads the database directly (the tamper tests do):
//! `data` is one format byte, then the lines joined by `\n`: as they are after
//! [`PLAIN`], or as an LZ4 block with its uncompressed length first (little-endian `u32`)
//! after [`LZ4`]. A line is an event's canonical body (it starts with `{"seq":`, the leaf's
//! data), or, once the event is erased, what is left of it (a [`Remains`] object, which starts
//! with `{"redacted_at":`). `leaves` is the 32-byte leaf hashes, in order.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rampart_audit::hash::{leaf_hash, Hash};
use rampart_core::Error;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::keys::Manifest;
use super::{passes, Body, EventQuery, StoredEvent, Stream};
use crate::backend::{db, to_millis};
use crate::db::{query, query_as, query_scalar, Arg, IntoArg as _, Tx};
use crate::Store;

/// Events a block holds at most.
pub const BLOCK_EVENTS: usize = 256;
/// Format byte: the lines as they are.
pub const PLAIN: u8 = 0;
/// Format byte: the lines as an LZ4 block, uncompressed length first.
pub const LZ4: u8 = 1;
/// Lines shorter than this together are stored plain: a lone event barely compresses.
const COMPRESS_FROM: usize = 512;
/// Blocks per build-and-insert step of an append: the next step's bodies, hashes and
/// compression are made while the database writes this one.
const STEP_BLOCKS: usize = 16;
/// Rows per `INSERT` into `audit_keys` (3 values each: under both backends' bind limits).
pub(crate) const KEY_ROWS: usize = 8_000;

/// Encodes lines (bodies or remains, none containing `\n`) as a block's `data`.
pub fn encode_block<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut text = Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 1).sum());
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            text.push(b'\n');
        }
        text.extend_from_slice(l.as_ref().as_bytes());
    }
    encode_text(&text)
}

/// Encodes a block's text (its lines joined by `\n`) as its `data`: a format byte, then the
/// text as it is when short, or LZ4-compressed behind its length (little-endian `u32`).
fn encode_text(text: &[u8]) -> Vec<u8> {
    if text.len() >= COMPRESS_FROM {
        let mut out = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(text.len())];
        out[0] = LZ4;
        out[1..5].copy_from_slice(&(text.len() as u32).to_le_bytes());
        // The bound above is what the compressor needs, so this does not run out of room;
        // were it ever to, the text is stored as it is below, which decodes the same.
        if let Ok(n) = lz4_flex::block::compress_into(text, &mut out[5..]) {
            out.truncate(5 + n);
            return out;
        }
    }
    let mut out = Vec::with_capacity(text.len() + 1);
    out.push(PLAIN);
    out.extend_from_slice(text);
    out
}

/// Decodes a block's `data` into its lines.
pub fn decode_block(data: &[u8]) -> Result<Vec<String>, Error> {
    Ok(decode_text(data)?.split('\n').map(str::to_owned).collect())
}

/// Decodes a block's `data` into the text of its lines.
fn decode_text(data: &[u8]) -> Result<String, Error> {
    let bad = |why: &str| Error::Internal(format!("stored audit block: {why}"));
    let text = match data.split_first() {
        Some((&PLAIN, rest)) => rest.to_vec(),
        Some((&LZ4, rest)) => {
            let text =
                lz4_flex::decompress_size_prepended(rest).map_err(|e| bad(&e.to_string()))?;
            let declared = rest
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if declared != Some(text.len() as u32) {
                return Err(bad("shorter than its declared length"));
            }
            text
        }
        Some((other, _)) => return Err(bad(&format!("unknown format {other}"))),
        None => return Err(bad("empty")),
    };
    String::from_utf8(text).map_err(|_| bad("not UTF-8"))
}

/// What is left of an erased block event: the fields a row keeps once redacted, never the
/// actor, target, request, source or details.
#[derive(Serialize, Deserialize)]
struct Remains<'a> {
    redacted_at: i64,
    #[serde(borrow)]
    archived_in: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    application: Option<Cow<'a, str>>,
    #[serde(borrow)]
    environment: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Cow<'a, str>,
}

pub(crate) fn is_body(line: &str) -> bool {
    line.starts_with("{\"seq\":")
}

pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| Error::Internal(format!("stored audit time {s:?}: {e}")))
}

/// A field a search key is made from.
#[derive(Clone, Copy)]
enum Field {
    Actor = 1,
    Target = 2,
    Stream = 3,
    Action = 4,
}

/// The search key of a field's value: the first 63 bits of SHA-256 over the field's tag
/// and the value (a collision only adds a candidate, which the decoded event then refuses).
fn key(field: Field, value: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update([field as u8])
        .chain_update(value.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 1) as i64
}

/// The keys an event is found by.
fn keys_of<'a>(
    stream: &str,
    action: &str,
    actor: Option<&'a str>,
    target: Option<&'a str>,
) -> impl Iterator<Item = i64> + 'a {
    let stream_key = (stream != Stream::Access.as_str()).then(|| key(Field::Stream, stream));
    let action_key = (action != "access").then(|| key(Field::Action, action));
    actor
        .map(|a| key(Field::Actor, a))
        .into_iter()
        .chain(target.map(|t| key(Field::Target, t)))
        .chain(stream_key)
        .chain(action_key)
}

/// A facet as stored in `facets` (a JSON string, quotes included).
fn facet(name: &str, value: &str) -> String {
    serde_json::to_string(&format!("{name}:{value}")).unwrap_or_default()
}

/// The `LIKE` pattern that finds a facet in `facets`.
fn facet_pattern(name: &str, value: &str) -> String {
    format!("%{}%", crate::backend::like_escape(&facet(name, value)))
}

/// Bytes of one entry of a key pack: the key (big-endian) and the event's place in its block.
const PACK_ENTRY: usize = 9;

/// Encodes a block's search keys, `(key, place)` pairs, as its pack (see
/// [`crate::audit::keys`]): sorted by key, then place, 9 bytes each.
fn encode_pack(pairs: &mut [(i64, u8)]) -> Vec<u8> {
    pairs.sort_unstable();
    let mut out = Vec::with_capacity(pairs.len() * PACK_ENTRY);
    for &(key, place) in pairs.iter() {
        out.extend_from_slice(&key.to_be_bytes());
        out.push(place);
    }
    out
}

/// The `(key, place)` entries of a stored pack, in its order; an error if its length is
/// not whole entries.
pub(crate) fn pack_entries(
    first_seq: i64,
    pack: &[u8],
) -> Result<impl Iterator<Item = (i64, u8)> + '_, Error> {
    if !pack.len().is_multiple_of(PACK_ENTRY) {
        return Err(Error::Internal(format!(
            "search-key pack of the audit block at {first_seq}: {} bytes",
            pack.len()
        )));
    }
    Ok(pack.chunks_exact(PACK_ENTRY).map(|e| {
        let mut key = [0u8; 8];
        key.copy_from_slice(&e[..8]);
        (i64::from_be_bytes(key), e[8])
    }))
}

/// The sequence numbers in the pack of the block at `first_seq` that have one of `keys`
/// (each looked up by binary search: entries are sorted by key).
pub(crate) fn pack_find(first_seq: i64, pack: &[u8], keys: &[i64]) -> Result<Vec<i64>, Error> {
    let entries: Vec<(i64, u8)> = pack_entries(first_seq, pack)?.collect();
    let mut out = Vec::new();
    for &k in keys {
        let from = entries.partition_point(|&(key, _)| key < k);
        out.extend(
            entries[from..]
                .iter()
                .take_while(|&&(key, _)| key == k)
                .map(|&(_, place)| first_seq + i64::from(place)),
        );
    }
    Ok(out)
}

/// The pack of the block at `first_seq` without the `(key, seq)` entries in `gone`.
pub(crate) fn pack_without(
    first_seq: i64,
    pack: &[u8],
    gone: &BTreeSet<(i64, i64)>,
) -> Result<Vec<u8>, Error> {
    let mut kept: Vec<(i64, u8)> = pack_entries(first_seq, pack)?
        .filter(|&(key, place)| !gone.contains(&(key, first_seq + i64::from(place))))
        .collect();
    Ok(encode_pack(&mut kept))
}

/// A block ready to insert.
pub(crate) struct NewBlock {
    first_seq: i64,
    count: i64,
    first_at: i64,
    last_at: i64,
    facets: String,
    leaves: Vec<u8>,
    data: Vec<u8>,
    /// Its events' search keys (see [`encode_pack`]).
    pack: Vec<u8>,
}

/// One build-and-insert step of an append: its blocks, with their search keys.
#[derive(Default)]
pub(crate) struct Step {
    pub(crate) blocks: Vec<NewBlock>,
    /// Its distinct targets, for `audit_targets`.
    pub(crate) targets: Vec<String>,
    /// The time of its newest event.
    pub(crate) last_at: i64,
}

/// What a step's blocks share while they are built: the text buffer (reused from block
/// to block) and the step's distinct targets.
struct Builder<'a> {
    text: Vec<u8>,
    /// A block's `(key, place)` pairs, before they become its pack.
    pairs: Vec<(i64, u8)>,
    targets: BTreeSet<&'a str>,
}

impl<'a> Builder<'a> {
    /// The block of `events`, numbered from `first` with times raised to `floor` (as
    /// [`super::event_row`]), with its search keys packed. Evaluates to the block and the
    /// time of its newest event.
    fn block(
        &mut self,
        events: &'a [super::NewEvent],
        first: i64,
        mut floor: i64,
    ) -> Result<NewBlock, Error> {
        let mut facets: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut leaves = Vec::with_capacity(events.len() * 32);
        let mut first_at = None;
        self.text.clear();
        self.pairs.clear();
        // The last `details` checked: events of a block mostly share theirs.
        let mut checked: Option<&str> = None;
        for (i, e) in events.iter().enumerate() {
            let seq = first + i as i64;
            floor = to_millis(e.occurred_at).max(floor);
            first_at.get_or_insert(floor);
            if i > 0 {
                self.text.push(b'\n');
            }
            let start = self.text.len();
            if checked != Some(e.details.as_str()) {
                super::check_details(&e.details)?;
                checked = Some(&e.details);
            }
            super::write_checked_body(&mut self.text, seq, e, floor)?;
            leaves.extend_from_slice(&leaf_hash(&self.text[start..]));
            facets.insert(("stream", e.stream.as_str()));
            facets.insert(("action", &e.action));
            facets.insert(("outcome", &e.outcome));
            if let Some(a) = &e.application {
                facets.insert(("application", a));
            }
            if let Some(v) = &e.environment {
                facets.insert(("environment", v));
            }
            if let Some(t) = &e.target {
                self.targets.insert(t);
            }
            // A block holds at most 256 events, so a place fits in a byte.
            let place = i as u8;
            for k in keys_of(
                e.stream.as_str(),
                &e.action,
                e.actor_name.as_deref(),
                e.target.as_deref(),
            ) {
                self.pairs.push((k, place));
            }
        }
        let facets: Vec<String> = facets.into_iter().map(|(n, v)| facet(n, v)).collect();
        Ok(NewBlock {
            first_seq: first,
            count: events.len() as i64,
            first_at: first_at.unwrap_or(floor),
            last_at: floor,
            facets: format!("[{}]", facets.join(",")),
            leaves,
            data: encode_text(&self.text),
            pack: encode_pack(&mut self.pairs),
        })
    }
}

/// One step of a batch: its events, numbered from `seq`, with the time of the newest event
/// before them.
struct StepPlan {
    seq: i64,
    floor: i64,
    events: std::ops::Range<usize>,
}

/// Cuts a batch numbered from `seq` into steps of [`STEP_BLOCKS`] blocks (the first is one
/// block, so the database starts inserting early). Each step's floor is the newest time
/// before it (`floor` raised by every earlier event's time), which is what one pass over
/// the batch would have reached there, so steps can be built in any order and on any
/// thread. Also returns the time of the batch's newest event.
fn plan_steps(events: &[super::NewEvent], mut seq: i64, mut floor: i64) -> (Vec<StepPlan>, i64) {
    let mut steps = Vec::with_capacity(events.len().div_ceil(STEP_BLOCKS * BLOCK_EVENTS) + 1);
    let mut start = 0;
    let mut size = BLOCK_EVENTS;
    while start < events.len() {
        let end = (start + size).min(events.len());
        steps.push(StepPlan {
            seq,
            floor,
            events: start..end,
        });
        seq += (end - start) as i64;
        floor = events[start..end]
            .iter()
            .map(|e| to_millis(e.occurred_at))
            .fold(floor, i64::max);
        start = end;
        size = STEP_BLOCKS * BLOCK_EVENTS;
    }
    (steps, floor)
}

impl StepPlan {
    /// Numbers, bodies, leaves (as [`super::event_row`]), blocks and their key packs.
    fn build(&self, events: &[super::NewEvent]) -> Result<Step, Error> {
        let mut step = Step {
            last_at: self.floor,
            ..Step::default()
        };
        // A block's text is about 100 kB: the thread's buffer, reused by every block.
        let mut text = TEXT.with_borrow_mut(std::mem::take);
        text.reserve(BLOCK_EVENTS * 512);
        let mut builder = Builder {
            text,
            // Access events have two keys; the others up to four.
            pairs: Vec::with_capacity(BLOCK_EVENTS * 4),
            targets: BTreeSet::new(),
        };
        for (b, block) in events[self.events.clone()].chunks(BLOCK_EVENTS).enumerate() {
            let first = self.seq + (b * BLOCK_EVENTS) as i64;
            let built = builder.block(block, first, step.last_at)?;
            step.last_at = built.last_at;
            step.blocks.push(built);
        }
        step.targets = builder.targets.into_iter().map(str::to_owned).collect();
        TEXT.with_borrow_mut(|t| *t = builder.text);
        Ok(step)
    }
}

/// A lane of a batch: the steps one builder thread makes, in order.
type Job = Box<dyn FnOnce() + Send>;

/// The threads that build steps: started on first use and kept for the life of the
/// process, so their allocator heaps and scratch buffers stay warm from batch to batch
/// (threads started per batch spent about a twentieth of a pipeline's time having the
/// kernel zero fresh pages). As many as there are cores, at least two, at most four.
struct Builders {
    jobs: std::sync::mpsc::Sender<Job>,
    threads: usize,
}

/// The builders, or `None` if not one thread could be started (steps are then built on
/// a blocking thread of the runtime, one after the other).
fn builders() -> Option<&'static Builders> {
    static BUILDERS: std::sync::OnceLock<Option<Builders>> = std::sync::OnceLock::new();
    BUILDERS
        .get_or_init(|| {
            let want = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
            let threads = (0..want)
                .filter(|_| {
                    let queue = queue.clone();
                    // Named, for profiles.
                    std::thread::Builder::new()
                        .name("audit-build".into())
                        .spawn(move || loop {
                            let job = match queue.lock() {
                                Ok(q) => q.recv(),
                                Err(_) => return,
                            };
                            // A job that panicked has dropped its senders (its append
                            // fails); the thread goes on serving the next ones.
                            match job {
                                Ok(job) => {
                                    let _ =
                                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                                }
                                Err(_) => return,
                            }
                        })
                        .is_ok()
                })
                .count();
            (threads > 0).then_some(Builders { jobs, threads })
        })
        .as_ref()
}

thread_local! {
    /// A builder thread's block text buffer (about 100 kB), reused by every block it builds.
    static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Starts building `events` (not empty), numbered from `seq` with times raised to `floor`,
/// on the builder threads (needs a Tokio runtime for the fallback). Returns where each step
/// arrives when built, in order, and the time of the batch's newest event. Nothing is
/// written.
pub(crate) fn prepare_events(
    events: Vec<super::NewEvent>,
    seq: i64,
    floor: i64,
) -> (Vec<StepReceiver>, i64) {
    let (plans, last_at) = plan_steps(&events, seq, floor);
    let mut steps = Vec::with_capacity(plans.len());
    let mut work = Vec::with_capacity(plans.len());
    for plan in plans {
        let (tx, rx) = tokio::sync::oneshot::channel();
        steps.push(rx);
        work.push((plan, tx));
    }
    // The events go with the builders and are dropped by the last lane to finish (on the
    // runtime only when every lane is done before this function returns).
    let events = std::sync::Arc::new(events);
    let lane = move |jobs: Vec<(StepPlan, tokio::sync::oneshot::Sender<_>)>| {
        move || {
            for (plan, tx) in jobs {
                // An append that failed or was dropped waits for nothing: the threads move
                // on to the next append's steps.
                if !tx.is_closed() {
                    let _ = tx.send(plan.build(&events));
                }
            }
        }
    };
    let Some(pool) = builders() else {
        let _detached = tokio::task::spawn_blocking(lane(work));
        return (steps, last_at);
    };
    // Lane t builds steps t, t + k, t + 2k, …: each thread's next step is the oldest one
    // nobody builds yet. A lane that cannot be queued drops its steps' senders, and the
    // append fails ("a builder stopped"), writing nothing.
    let k = pool.threads.min(work.len());
    let mut lanes: Vec<Vec<_>> = (0..k).map(|_| Vec::new()).collect();
    for (i, job) in work.into_iter().enumerate() {
        lanes[i % k].push(job);
    }
    for jobs in lanes {
        let _ = pool.jobs.send(Box::new(lane.clone()(jobs)));
    }
    (steps, last_at)
}

/// Where a step of [`prepare_events`] arrives when built.
pub(crate) type StepReceiver = tokio::sync::oneshot::Receiver<Result<Step, Error>>;

/// Inserts a [`Step`] (consumed: its blocks' bytes move into the statement's arguments
/// instead of being copied there) inside `tx`: its blocks, then their key packs (one row per
/// block that has keys).
///
/// On SQLite the statements are `INSERT OR FAIL`: a failed insert fails the append, whose
/// transaction is then rolled back whole, so SQLite need not keep a statement journal (a
/// copy of every reused page the statement writes) to undo the statement alone.
pub(crate) async fn insert_step(tx: &mut Tx<'_>, step: Step) -> Result<(), Error> {
    let sqlite = tx.is_sqlite();
    let verb = if sqlite {
        "INSERT OR FAIL INTO"
    } else {
        "INSERT INTO"
    };
    let mut sql = format!(
        "{verb} audit_blocks (first_seq, count, first_at, last_at, facets, leaves, data) VALUES "
    );
    super::push_values(&mut sql, step.blocks.len(), 7, sqlite);
    let mut packs = Vec::with_capacity(step.blocks.len());
    let mut args = Vec::with_capacity(step.blocks.len() * 7);
    for b in step.blocks {
        let (b, pack) = b.split_pack();
        packs.extend(pack);
        args.extend(b.into_args());
    }
    query(&sql)
        .bind_all(args)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if !packs.is_empty() {
        let mut sql = format!("{verb} audit_key_packs (first_seq, keys) VALUES ");
        super::push_values(&mut sql, packs.len(), 2, sqlite);
        let args = packs
            .into_iter()
            .flat_map(|(first_seq, pack)| [first_seq.into_arg(), pack.into_arg()]);
        query(&sql)
            .bind_all(args)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

impl NewBlock {
    /// The block without its pack, and the pack's row (none when no event has a key).
    pub(crate) fn split_pack(mut self) -> (NewBlock, Option<(i64, Vec<u8>)>) {
        let pack = std::mem::take(&mut self.pack);
        let row = (!pack.is_empty()).then_some((self.first_seq, pack));
        (self, row)
    }

    /// The block's values in the order of [`insert_step`]'s columns, its bytes moved.
    fn into_args(self) -> [Arg<'static>; 7] {
        [
            self.first_seq.into_arg(),
            self.count.into_arg(),
            self.first_at.into_arg(),
            self.last_at.into_arg(),
            self.facets.into_arg(),
            self.leaves.into_arg(),
            self.data.into_arg(),
        ]
    }
}

/// The leaf hashes of the block at `first` holding `count` events, checked for length.
fn leaves_of(first: i64, count: i64, bytes: &[u8]) -> Result<Vec<Hash>, Error> {
    if i64::try_from(bytes.len()).ok() != count.checked_mul(32) {
        return Err(Error::Internal(format!(
            "audit block at {first}: {} bytes of leaf hashes for {count}",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| <Hash>::try_from(c).unwrap_or_default())
        .collect())
}

/// A block as read: where it starts, its leaves and its lines (one text, split where read).
pub(crate) struct Block {
    pub(crate) first_seq: i64,
    pub(crate) leaves: Vec<Hash>,
    text: String,
    /// Where each line starts in `text`.
    starts: Vec<usize>,
}

/// Columns of `audit_blocks` as [`Block::read`] takes them.
const BLOCK_COLUMNS: &str = "first_seq, count, leaves, data";

impl Block {
    pub(crate) fn read(
        first_seq: i64,
        count: i64,
        leaves: Vec<u8>,
        data: Vec<u8>,
    ) -> Result<Block, Error> {
        let bad = |why: String| Error::Internal(format!("audit block at {first_seq}: {why}"));
        let leaves = leaves_of(first_seq, count, &leaves)?;
        let n = leaves.len();
        let text = decode_text(&data)?;
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        if starts.len() != n {
            return Err(bad(format!("{} lines for {n} events", starts.len())));
        }
        Ok(Block {
            first_seq,
            leaves,
            text,
            starts,
        })
    }

    /// How many events the block holds.
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// Line `i`.
    fn line(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).map_or(self.text.len(), |s| s - 1);
        &self.text[self.starts[i]..end]
    }

    /// Every line, to edit.
    pub(crate) fn lines(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.line(i).to_owned()).collect()
    }

    /// The last sequence number in the block.
    pub(crate) fn last_seq(&self) -> i64 {
        self.first_seq + self.len() as i64 - 1
    }

    /// The body of event `seq` when it has one (`None` once erased), and its leaf.
    pub(crate) fn raw(&self, seq: i64) -> Option<(Option<&str>, Hash)> {
        let i = usize::try_from(seq - self.first_seq)
            .ok()
            .filter(|i| *i < self.len())?;
        let line = self.line(i);
        Some((is_body(line).then_some(line), self.leaves[i]))
    }

    /// Event `seq` as stored.
    pub(crate) fn event(&self, seq: i64) -> Result<StoredEvent, Error> {
        let i = usize::try_from(seq - self.first_seq)
            .ok()
            .filter(|i| *i < self.len())
            .ok_or_else(|| Error::Internal(format!("event {seq} is not in its block")))?;
        stored_from_line(seq, self.line(i), self.leaves[i])
    }

    /// The time of event `seq`, in milliseconds.
    fn time_ms(&self, i: usize) -> Result<i64, Error> {
        #[derive(Deserialize)]
        struct T<'a> {
            #[serde(borrow)]
            time: Cow<'a, str>,
        }
        let t: T = serde_json::from_str(self.line(i))
            .map_err(|e| Error::Internal(format!("stored audit event: {e}")))?;
        Ok(to_millis(parse_time(&t.time)?))
    }
}

/// A stored event from a block line (a body, or what an erasure left).
fn stored_from_line(seq: i64, line: &str, leaf: Hash) -> Result<StoredEvent, Error> {
    let bad = |e: serde_json::Error| Error::Internal(format!("stored audit event {seq}: {e}"));
    if is_body(line) {
        return super::event_from_body(seq, line, leaf);
    }
    let r: Remains = serde_json::from_str(line).map_err(bad)?;
    Ok(StoredEvent {
        seq,
        stream: r.stream.into_owned(),
        occurred_at: parse_time(&r.time)?,
        actor_id: None,
        actor_name: None,
        action: r.action.into_owned(),
        target: None,
        application: r.application.map(Cow::into_owned),
        environment: r.environment.map(Cow::into_owned),
        outcome: r.outcome.into_owned(),
        request_id: None,
        source: None,
        node_id: r.node.into_owned(),
        details: "{}".to_owned(),
        body: None,
        leaf_hash: leaf,
    })
}

/// What an erasure of `body` leaves, the search keys it takes away (actor and target) and
/// the erased target.
pub(crate) fn erase(
    body: &str,
    now_ms: i64,
    archived_in: Option<&str>,
) -> Result<(String, Vec<i64>, Option<String>), Error> {
    let p: Body = serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("stored audit event: {e}")))?;
    // The actor and target go; stream and action stay findable, as on a redacted row.
    let keys = p
        .actor_name
        .as_deref()
        .map(|a| key(Field::Actor, a))
        .into_iter()
        .chain(p.target.as_deref().map(|t| key(Field::Target, t)))
        .collect();
    let remains = serde_json::to_string(&Remains {
        redacted_at: now_ms,
        archived_in: archived_in.map(Cow::Borrowed),
        stream: p.stream,
        time: p.time,
        node: p.node,
        action: p.action,
        application: p.application,
        environment: p.environment,
        outcome: p.outcome,
    })
    .map_err(|e| Error::Internal(format!("audit remains: {e}")))?;
    Ok((remains, keys, p.target.map(Cow::into_owned)))
}

/// Erases the payloads of the block events numbered `from..=to` inside `tx`, which holds
/// the head lock (so no compaction step runs meanwhile): each body becomes its remains (with
/// `archived_in`), its actor and target keys go at every level of `layout` (the key layout,
/// read under that lock). Returns how many block events the range held, how many of them
/// were erased now, and their targets. Events erased already are left as they are. Blocks
/// are read 64 at a time, so a long range never sits in memory whole.
pub(crate) async fn erase_in_blocks(
    tx: &mut Tx<'_>,
    layout: &Manifest,
    from: i64,
    to: i64,
    now_ms: i64,
    archived_in: Option<&str>,
) -> Result<(i64, i64, Vec<String>), Error> {
    let (mut seen, mut erased) = (0i64, 0i64);
    let mut targets: Vec<String> = Vec::new();
    let mut gone: Vec<(i64, i64)> = Vec::new();
    let mut after = from - BLOCK_EVENTS as i64;
    loop {
        let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = query_as(
            "SELECT first_seq, count, leaves, data FROM audit_blocks \
             WHERE first_seq > $1 AND first_seq <= $2 ORDER BY first_seq LIMIT 64",
        )
        .bind(after)
        .bind(to)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let Some(last) = rows.last().map(|r| r.0) else {
            break;
        };
        after = last;
        for (first, count, leaves, data) in rows {
            if first + count <= from {
                continue;
            }
            let mut lines = Block::read(first, count, leaves, data)?.lines();
            // The erased events' actor and target keys, and whether any was erased.
            let mut changed = BTreeSet::new();
            let mut changed_any = false;
            for (i, line) in lines.iter_mut().enumerate() {
                let seq = first + i as i64;
                if seq < from || seq > to {
                    continue;
                }
                seen += 1;
                if !is_body(line) {
                    continue;
                }
                erased += 1;
                let (remains, keys, target) = erase(line, now_ms, archived_in)?;
                *line = remains;
                changed.extend(keys.iter().map(|&k| (k, seq)));
                changed_any = true;
                if to - from < 1024 {
                    gone.extend(keys.into_iter().map(|k| (k, seq)));
                }
                targets.extend(target);
            }
            if changed_any {
                query("UPDATE audit_blocks SET data = $1 WHERE first_seq = $2")
                    .bind(encode_block(&lines))
                    .bind(first)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                // The erased events' keys leave the block's pack (if it has one still).
                let pack: Option<Vec<u8>> =
                    query_scalar("SELECT keys FROM audit_key_packs WHERE first_seq = $1")
                        .bind(first)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                if let Some(pack) = pack {
                    query("UPDATE audit_key_packs SET keys = $1 WHERE first_seq = $2")
                        .bind(pack_without(first, &pack, &changed)?)
                        .bind(first)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
            }
        }
    }
    if to - from < 1024 {
        // At every level: the key may sit in a segment being merged, or merged already.
        for (key, seq) in gone {
            let segs: Vec<String> = layout.every_seg(seq).iter().map(i64::to_string).collect();
            query(&format!(
                "DELETE FROM audit_keys WHERE seg IN ({}) AND key = $1 AND seq = $2",
                segs.join(", ")
            ))
            .bind(key)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
    } else {
        // A long range (retention): whole segments at a time, level by level (level 0 is
        // the packs, edited above).
        for level in 1..super::keys::LEVELS {
            query(
                "DELETE FROM audit_keys WHERE seg >= $1 AND seg <= $2 AND seq >= $3 AND seq <= $4",
            )
            .bind(layout.seg(level, from))
            .bind(layout.seg(level, to))
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
    }
    Ok((seen, erased, targets))
}

/// The condition "some block event still has target `target`" for a `WHERE`, over the
/// rows of the published segments above level 0 of `layout` up to the log's size (the key,
/// an integer, is written into the text); [`target_in_packs`] looks at level 0, the packs.
pub(crate) fn target_in_blocks(target: &str, layout: &Manifest, size: i64) -> String {
    let segs: Vec<String> = layout
        .segments(0, size)
        .iter()
        .filter(|s| layout.level_of(s.id) > 0)
        .map(|s| s.id.to_string())
        .collect();
    if segs.is_empty() {
        // Nothing merged yet: every key is in a pack.
        return "(1 = 0)".to_owned();
    }
    format!(
        "EXISTS (SELECT 1 FROM audit_keys WHERE seg IN ({}) AND key = {})",
        segs.join(", "),
        key(Field::Target, target)
    )
}

/// Whether some block event no merge has reached yet (level 0 of `layout`) still has
/// target `target`, from the blocks' key packs, inside `tx`: the half of "still has this
/// target" that [`target_in_blocks`] cannot say in SQL. Packs are read 1,024 at a time, and
/// the reading stops at the first hit.
pub(crate) async fn target_in_packs(
    tx: &mut Tx<'_>,
    target: &str,
    layout: &Manifest,
) -> Result<bool, Error> {
    let key = target_key(target);
    let mut after = layout.floor(0) - BLOCK_EVENTS as i64;
    loop {
        let rows: Vec<(i64, Vec<u8>)> = query_as(
            "SELECT first_seq, keys FROM audit_key_packs WHERE first_seq > $1 \
             ORDER BY first_seq LIMIT 1024",
        )
        .bind(after)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(false);
        };
        after = last;
        for (first_seq, pack) in rows {
            if !pack_find(first_seq, &pack, &[key])?.is_empty() {
                return Ok(true);
            }
        }
    }
}

/// The search key of a target.
pub(crate) fn target_key(target: &str) -> i64 {
    key(Field::Target, target)
}

/// Which targets a free-text search stands for.
pub(crate) enum TargetText<'a> {
    /// No free-text filter.
    None,
    /// These distinct targets contain the text (few enough to look up by key).
    Among(&'a [String]),
    /// Too many targets contain the text: walk and test each event.
    Walk,
}

/// How many blocks to read for `events` more events: enough when blocks are full; the
/// caller reads again when they are not (a block may hold a single event).
fn blocks_for(events: i64) -> i64 {
    events / BLOCK_EVENTS as i64 + 2
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
        let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = query_as(&sql)
            .bind(after - BLOCK_EVENTS as i64)
            .bind(upto)
            .bind(after + 1)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db)?;
        rows.into_iter()
            .filter(|(first, count, ..)| first + count > after + 1)
            .map(|(f, c, l, d)| Block::read(f, c, l, d))
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
        while (out.len() as i64) < limit {
            let want = blocks_for(limit - out.len() as i64);
            let blocks = self.blocks_in(from, upto, want).await?;
            let Some(last) = blocks.last().map(Block::last_seq) else {
                break;
            };
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
        let rows: Vec<(i64, i64, Vec<u8>)> = query_as(
            "SELECT first_seq, count, leaves FROM audit_blocks \
             WHERE first_seq > $1 AND first_seq <= $2 ORDER BY first_seq",
        )
        .bind(lo - BLOCK_EVENTS as i64)
        .bind(hi)
        .fetch_all(self.reader())
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for (first, count, leaves) in rows {
            for (i, leaf) in leaves_of(first, count, &leaves)?.into_iter().enumerate() {
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
        let row: Option<(i64, i64, Vec<u8>, Vec<u8>)> = query_as(&sql)
            .bind(at_ms)
            .fetch_optional(self.reader())
            .await
            .map_err(db)?;
        let Some((f, c, l, d)) = row else {
            return Ok(None);
        };
        let block = Block::read(f, c, l, d)?;
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
                super::keys::Manifest::CHECK_SQL.to_owned()
            } else {
                format!(
                    "SELECT seq FROM (SELECT seq FROM ({}) u ORDER BY seq {order} LIMIT {want}) v \
                     UNION ALL {}",
                    parts.join(" UNION ALL "),
                    super::keys::Manifest::CHECK_SQL
                )
            };
            let got: Vec<i64> = query_scalar(&sql)
                .fetch_all(self.reader())
                .await
                .map_err(db)?;
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
            let events = self.block_events(&seqs).await?;
            for seq in &seqs {
                if let Some(e) = events.get(seq) {
                    if passes(q, e) && (out.len() as i64) < limit {
                        out.push(e.clone());
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
            let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> =
                { query_as(&sql).fetch_all(self.reader()).await.map_err(db) }?;
            for (f, c, l, d) in rows {
                if let std::collections::btree_map::Entry::Vacant(v) = blocks.entry(f) {
                    v.insert(Block::read(f, c, l, d)?);
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
                let block = Block::read(f, c, l, d)?;
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

#[cfg(test)]
mod tests;
