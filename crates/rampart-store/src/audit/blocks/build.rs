//! Building a batch's blocks (bodies, leaf hashes, compression, key packs) on the builder
//! threads, step by step, and inserting each step in order.

use super::*;

/// Blocks per build-and-insert step of an append: the next step's bodies, hashes and
/// compression are made while the database writes this one.
pub(super) const STEP_BLOCKS: usize = 16;

/// A block ready to insert.
pub(crate) struct NewBlock {
    pub(super) first_seq: i64,
    pub(super) count: i64,
    pub(super) first_at: i64,
    pub(super) last_at: i64,
    pub(super) facets: String,
    pub(super) leaves: Vec<u8>,
    pub(super) data: Vec<u8>,
    /// Its events' search keys (see [`encode_pack`]).
    pub(super) pack: Vec<u8>,
}

/// One build-and-insert step of an append: its blocks, with their search keys.
#[derive(Default)]
pub(crate) struct Step {
    pub(crate) blocks: Vec<NewBlock>,
    /// Its distinct targets, for `audit_targets`.
    pub(crate) targets: Vec<String>,
    /// The time of its newest event.
    pub(crate) last_at: i64,
    /// The time of the newest event before it (its events' times are raised to it).
    pub(crate) floor: i64,
}

/// What a step's blocks share while they are built: the text buffer (reused from block
/// to block) and the step's distinct targets.
pub(super) struct Builder<'a> {
    pub(super) text: Vec<u8>,
    /// A block's `(key, place)` pairs, before they become its pack.
    pub(super) pairs: Vec<(i64, u8)>,
    pub(super) targets: BTreeSet<&'a str>,
}

impl<'a> Builder<'a> {
    /// The block of `events`, numbered from `first` with times raised to `floor` (as
    /// [`crate::audit::event_row`]), with its search keys packed. Evaluates to the block and the
    /// time of its newest event.
    fn block(
        &mut self,
        events: &'a [crate::audit::NewEvent],
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
                crate::audit::check_details(&e.details)?;
                checked = Some(&e.details);
            }
            crate::audit::write_checked_body(&mut self.text, seq, e, floor)?;
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
pub(super) struct StepPlan {
    pub(super) seq: i64,
    pub(super) floor: i64,
    pub(super) events: std::ops::Range<usize>,
}

/// Cuts a batch numbered from `seq` into steps of [`STEP_BLOCKS`] blocks (the first is one
/// block, so the database starts inserting early). Each step's floor is the newest time
/// before it (`floor` raised by every earlier event's time), which is what one pass over
/// the batch would have reached there, so steps can be built in any order and on any
/// thread. Also returns the time of the batch's newest event.
pub(super) fn plan_steps(
    events: &[crate::audit::NewEvent],
    mut seq: i64,
    mut floor: i64,
) -> (Vec<StepPlan>, i64) {
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
    /// Numbers, bodies, leaves (as [`crate::audit::event_row`]), blocks and their key packs.
    pub(super) fn build(&self, events: &[crate::audit::NewEvent]) -> Result<Step, Error> {
        let mut step = Step {
            last_at: self.floor,
            floor: self.floor,
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
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// The threads that build steps: started on first use and kept for the life of the
/// process, so their allocator heaps and scratch buffers stay warm from batch to batch
/// (threads started per batch spent about a twentieth of a pipeline's time having the
/// kernel zero fresh pages). As many as there are cores, at least two, at most four.
pub(super) struct Builders {
    pub(super) jobs: std::sync::mpsc::Sender<Job>,
    pub(super) threads: usize,
}

/// The builders, or `None` if not one thread could be started (steps are then built on
/// a blocking thread of the runtime, one after the other).
pub(super) fn builders() -> Option<&'static Builders> {
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
    events: std::sync::Arc<Vec<crate::audit::NewEvent>>,
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
    // The events go with the builders and are dropped by the last holder (on the runtime
    // only when every lane is done before this function returns and the caller kept none).
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
    crate::audit::push_values(&mut sql, step.blocks.len(), 7, sqlite);
    let mut packs = Vec::with_capacity(step.blocks.len());
    let mut args = Vec::with_capacity(step.blocks.len() * 7);
    for b in step.blocks {
        let (b, pack) = b.split_pack();
        packs.extend(pack);
        args.extend(b.into_args());
    }
    tx.exec(&sql, args).await?;
    if !packs.is_empty() {
        let mut sql = format!("{verb} audit_key_packs (first_seq, keys) VALUES ");
        crate::audit::push_values(&mut sql, packs.len(), 2, sqlite);
        let args = packs
            .into_iter()
            .flat_map(|(first_seq, pack)| [first_seq.into_arg(), pack.into_arg()]);
        tx.exec(&sql, args).await?;
    }
    Ok(())
}

/// The one statement of a step on PostgreSQL: the head moved past the step's events, then
/// its blocks, their packs and its new targets, all as arrays so its text never changes and
/// it is prepared once per connection (row-per-placeholder `INSERT`s have a text per batch
/// size, each parsed afresh).
///
/// The head moves only from the size and newest time the step was numbered from (`$13`,
/// `$14`), and nothing is inserted unless it moved: the statement answers 1 when the step
/// is written, 0 when the head was elsewhere and nothing changed. Inside a transaction that
/// holds the head's lock ([`lock_head`]) it always answers 1; alone, autocommitted, it is
/// a whole append in one round trip whose numbers were guessed (see
/// `Store::append_events`): when another writer moved the head first, its `UPDATE` waits
/// for that writer's commit, reads the head again, matches nothing, and the guess fails
/// without writing anything.
const PG_STEP: &str = "WITH head AS (\
     UPDATE audit_head SET size = size + $12, last_at = $11 \
     WHERE id = 1 AND size = $13 AND last_at = $14 RETURNING size), \
     blocks AS (\
     INSERT INTO audit_blocks (first_seq, count, first_at, last_at, facets, leaves, data) \
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], \
     $5::text[], $6::bytea[], $7::bytea[]) WHERE EXISTS (SELECT FROM head)), \
     packs AS (INSERT INTO audit_key_packs (first_seq, keys) \
     SELECT * FROM unnest($8::bigint[], $9::bytea[]) WHERE EXISTS (SELECT FROM head)), \
     targets AS (INSERT INTO audit_targets (target) \
     SELECT t FROM unnest($10::text[]) AS t WHERE EXISTS (SELECT FROM head) \
     ON CONFLICT (target) DO NOTHING) \
     SELECT count(*) FROM head";

/// Takes the head's lock inside `tx` (PostgreSQL) until it ends; returns the log's size and
/// the time of its newest event, from which the next events are numbered.
pub(crate) async fn lock_head(tx: &mut Tx<'_>) -> Result<(i64, i64), Error> {
    tx.one(
        "SELECT size, last_at FROM audit_head WHERE id = 1 FOR UPDATE",
        [],
    )
    .await
}

/// Writes a step on PostgreSQL in one round trip (see [`PG_STEP`]), in `ex`: a transaction
/// or, for a whole append, the pool. Whether it was written (the head was where the step
/// was numbered from).
pub(crate) async fn insert_step_pg<'e>(
    ex: impl Into<crate::db::Ex<'e>>,
    step: Step,
) -> Result<bool, Error> {
    let n = step.blocks.len();
    let (Some(first), events) = (
        step.blocks.first().map(|b| b.first_seq),
        step.blocks.iter().map(|b| b.count).sum::<i64>(),
    ) else {
        return Ok(true);
    };
    let (mut first_seq, mut count, mut first_at, mut block_last_at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut facets, mut leaves, mut data) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut pack_seq, mut pack_keys) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for b in step.blocks {
        let (b, pack) = b.split_pack();
        if let Some((seq, keys)) = pack {
            pack_seq.push(seq);
            pack_keys.push(keys);
        }
        first_seq.push(b.first_seq);
        count.push(b.count);
        first_at.push(b.first_at);
        block_last_at.push(b.last_at);
        facets.push(b.facets);
        leaves.push(b.leaves);
        data.push(b.data);
    }
    let args = [
        Arg::Ints(first_seq),
        Arg::Ints(count),
        Arg::Ints(first_at),
        Arg::Ints(block_last_at),
        Arg::Texts(facets),
        Arg::Blobs(leaves),
        Arg::Blobs(data),
        Arg::Ints(pack_seq),
        Arg::Blobs(pack_keys),
        Arg::Texts(step.targets),
        step.last_at.into_arg(),
        events.into_arg(),
        (first - 1).into_arg(),
        step.floor.into_arg(),
    ];
    let written: i64 = crate::db::query_scalar(PG_STEP)
        .bind_all(args)
        .fetch_one(ex)
        .await
        .map_err(db)?;
    Ok(written == 1)
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
