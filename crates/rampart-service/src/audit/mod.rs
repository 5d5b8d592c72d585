//! The node's side of the tamper-evident audit log: the in-memory upper tree (kept current
//! with the database), the signing key, signed checkpoints, proofs, the `access` append
//! pipeline and the scheduled re-verification.
//!
//! Events themselves are written by the store in the transaction of the change they record;
//! this module only reads them back in sequence order. The one rule it enforces on
//! checkpoints: a node signs a size only after checking that the newest stored checkpoint's
//! root is its own tree's root at that size, so no two signed checkpoints can disagree.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rampart_audit::cache::TreeCache;
use rampart_audit::hash::{leaf_hash, Hash};
use rampart_audit::SigningKey;
use rampart_core::Error;
use rampart_store::{NewEvent, Store, StoredCheckpoint};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::metrics::Metrics;

/// Tile height of the in-memory tree: level-8 roots are kept (and stored), leaves below are
/// read from the database when a proof needs them (at most a few tiles of 256).
/// The store keeps each complete tile's root and its 256 leaf hashes.
pub const TILE_HEIGHT: u32 = rampart_store::AUDIT_TILE_HEIGHT;

/// Leaves read per query when catching up or verifying.
const CHUNK: u64 = 16_384;

/// Events re-verified per scheduled run from those verified before.
const SWEEP: i64 = 65_536;

/// The key file in the data directory.
pub const KEY_FILE: &str = "audit-signing.key";

/// An inclusion proof with what it proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The tree size it is for.
    pub size: u64,
    /// The audit path, bottom up.
    pub proof: Vec<Hash>,
    /// The event's leaf hash.
    pub leaf: Hash,
    /// The root at `size`.
    pub root: Hash,
}

/// Where the writers of one pipeline batch learn its fate: the first sequence number the
/// batch got (a writer adds its place in the batch), or that it failed. One per batch, so
/// a writer allocates nothing to wait and the pipeline wakes a whole batch at once.
#[derive(Default)]
struct Committed {
    outcome: std::sync::OnceLock<Result<i64, ()>>,
    notify: tokio::sync::Notify,
}

impl Committed {
    /// Settles the batch (the first answer stands) and wakes its writers.
    fn settle(&self, outcome: Result<i64, ()>) {
        let _ = self.outcome.set(outcome);
        self.notify.notify_waiters();
    }

    /// Waits until the batch is settled; `place` is the writer's event's place in it.
    async fn wait(&self, place: usize) -> Result<i64, Error> {
        loop {
            let settled = self.notify.notified();
            tokio::pin!(settled);
            // Registered before the check, so a settle between the two still wakes it.
            settled.as_mut().enable();
            if let Some(outcome) = self.outcome.get() {
                return outcome
                    .map(|first| first + place as i64)
                    .map_err(|()| Error::Unavailable("the audit log could not be written".into()));
            }
            settled.await;
        }
    }
}

/// A batch being filled by writers (at most `batch_max` events).
struct Pending {
    events: Vec<NewEvent>,
    committed: Arc<Committed>,
}

impl Drop for Pending {
    /// A batch dropped unwritten (the pipeline task cancelled, the node going away) fails
    /// its writers rather than leaving them waiting; a written batch is settled already.
    fn drop(&mut self) {
        self.committed.settle(Err(()));
    }
}

/// Whether the pipeline runs: before it starts, events are written directly; once it has
/// stopped, they are refused.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Direct,
    Running,
    Stopped,
}

/// The pipeline's queue: batches in commit order.
struct Queue {
    stage: Stage,
    batches: std::collections::VecDeque<Pending>,
}

/// The node's audit log service.
pub struct AuditLog {
    store: Store,
    /// Generation 0 of the signing key (the data directory's file), the chain's root.
    key: Arc<SigningKey>,
    /// The master key, which opens the rotated keys stored in the database.
    master: std::sync::OnceLock<Arc<crate::apps::keys::FieldKeys>>,
    /// Rotated keys this node has unsealed, by generation.
    unsealed: Mutex<std::collections::HashMap<i64, Arc<SigningKey>>>,
    /// What the configured witnesses last cosigned, as this node believes.
    witnessed: Mutex<BTreeMap<String, u64>>,
    origin: String,
    tree: Mutex<TreeCache>,
    /// Serialises signing on this node (several nodes are serialised by the store).
    signing: Mutex<()>,
    queue: std::sync::Mutex<Queue>,
    /// One permit per event the queue may hold: a writer takes one before queueing (and
    /// waits while there is none: back-pressure), the pipeline returns a batch's permits
    /// when it takes the batch.
    room: tokio::sync::Semaphore,
    capacity: usize,
    /// Wakes the pipeline when events arrive.
    arrived: tokio::sync::Notify,
    /// Set once the pipeline has started (its stage is then `Running` or `Stopped`): a
    /// lock-free mirror of the stage's one change that matters before queueing. Deciding
    /// under the queue's lock alone was tried and measured slower at 16,384 writers (five
    /// of six alternating runs; docs/benchmarks-history.md).
    piped: std::sync::atomic::AtomicBool,
    batch_max: usize,
    /// The last event the scheduled check has verified.
    verified_upto: Mutex<i64>,
    /// Where the sweep over events verified before goes on.
    sweep_at: Mutex<i64>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Reads the signing key from the data directory, creating it (mode 0600) on first start.
pub fn load_or_create_key(data_dir: &Path, origin: &str) -> Result<SigningKey, Error> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => SigningKey::parse(text.trim()).map_err(|e| {
            Error::Internal(format!(
                "the audit signing key {} cannot be read: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)
                .map_err(|e| Error::Internal(format!("random generator: {e}")))?;
            let name = if origin.is_empty() {
                let mut tag = [0u8; 6];
                getrandom::fill(&mut tag)
                    .map_err(|e| Error::Internal(format!("random generator: {e}")))?;
                let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
                format!("rampart-{tag}/audit")
            } else {
                origin.to_owned()
            };
            let key = SigningKey::from_seed(&name, seed)
                .map_err(|e| Error::Internal(format!("audit signing key: {e}")))?;
            write_private(&path, &key.to_text())?;
            Ok(key)
        }
        Err(e) => Err(Error::Internal(format!(
            "cannot read the audit signing key {}: {e}",
            path.display()
        ))),
    }
}

/// The log's origin: the configured one, else the signing key's name.
pub fn origin_of(configured: &str, key: &SigningKey) -> String {
    if configured.is_empty() {
        key.name().to_owned()
    } else {
        configured.to_owned()
    }
}

/// Writes a secret file readable by its owner only, atomically.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let fail = |e: std::io::Error| Error::Internal(format!("cannot write {}: {e}", path.display()));
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Fetches the leaves of `tiles` (tile `t` = leaves `[t·256, (t+1)·256)` clipped to `size`).
async fn fetch_tiles(store: &Store, tiles: &[u64]) -> Result<BTreeMap<u64, Vec<Hash>>, Error> {
    // Tiles are fetched whole (the tree checks each against its root, whatever size the proof
    // is for): from their stored leaves, one row each, or from the events for a tile stored
    // before schema 6.
    let mut out = store.audit_tile_leaves(tiles).await?;
    for &t in tiles {
        if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(t) {
            let start = t << TILE_HEIGHT;
            slot.insert(
                store
                    .audit_leaves(start, start + (1 << TILE_HEIGHT))
                    .await?,
            );
        }
    }
    Ok(out)
}

/// A failed write of an export (to a file or an answer).
fn export_write_failed(e: std::io::Error) -> Error {
    Error::Internal(format!("writing the export: {e}"))
}

fn proof_error(e: impl std::fmt::Display) -> Error {
    Error::invalid("size", e.to_string())
}

impl AuditLog {
    /// A log service over `store`, signing with `key`; call [`AuditLog::load`] before use.
    pub fn new(
        store: Store,
        key: SigningKey,
        origin: String,
        capacity: usize,
        batch_max: usize,
    ) -> Result<Arc<Self>, Error> {
        let tree =
            TreeCache::new(TILE_HEIGHT).map_err(|e| Error::Internal(format!("audit tree: {e}")))?;
        Ok(Arc::new(Self {
            store,
            key: Arc::new(key),
            master: std::sync::OnceLock::new(),
            unsealed: Mutex::default(),
            witnessed: Mutex::default(),
            origin,
            tree: Mutex::new(tree),
            signing: Mutex::new(()),
            queue: std::sync::Mutex::new(Queue {
                stage: Stage::Direct,
                batches: std::collections::VecDeque::new(),
            }),
            room: tokio::sync::Semaphore::new(capacity.max(1)),
            capacity: capacity.max(1),
            arrived: tokio::sync::Notify::new(),
            piped: std::sync::atomic::AtomicBool::new(false),
            batch_max: batch_max.max(1),
            verified_upto: Mutex::new(0),
            sweep_at: Mutex::new(0),
        }))
    }

    /// The log's origin (its name in checkpoints).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key of the chain's first key (generation 0), which auditors use
    /// (`rampart audit public-key`): rotations are followed from it.
    pub fn verifier_key(&self) -> String {
        self.key.verifier_key()
    }

    /// Restores the tree from the stored tile roots and the last tile's leaves, then catches
    /// up with the database (computing and storing tile roots that are missing).
    pub async fn load(&self) -> Result<(), Error> {
        let size = self.store.audit_size().await?;
        let mut roots = self.store.audit_tiles().await?;
        roots.truncate(usize::try_from(size >> TILE_HEIGHT).unwrap_or(usize::MAX));
        let start = (roots.len() as u64) << TILE_HEIGHT;
        let complete = (size >> TILE_HEIGHT) << TILE_HEIGHT;
        // With every complete tile's root stored, only the last tile's leaves are read;
        // otherwise the tree starts after the stored roots and catches up from the leaves.
        let tree = if start == complete {
            let tail = self.store.audit_leaves(start, size).await?;
            TreeCache::restore(TILE_HEIGHT, size, roots, &tail)
        } else {
            TreeCache::restore(TILE_HEIGHT, start, roots, &[])
        }
        .map_err(|e| Error::Internal(format!("audit tree: {e}")))?;
        *self.tree.lock().await = tree;
        self.catch_up().await.map(|_| ())
    }

    /// The tree's size when it already holds `size` leaves (a proof for a size the node has
    /// seen needs no read of the database's head), else the size after catching up.
    async fn size_covering(&self, size: u64) -> Result<u64, Error> {
        let known = self.tree.lock().await.size();
        if size != 0 && size <= known {
            return Ok(known);
        }
        self.catch_up().await
    }

    /// Pushes the events committed since the tree was last current; returns the size.
    pub async fn catch_up(&self) -> Result<u64, Error> {
        let mut tree = self.tree.lock().await;
        let size = self.store.audit_size().await?;
        // The leaves of the tile being filled, from its first: when it completes, its root
        // and leaves are stored together.
        let mut filling = tree.tail().to_vec();
        while tree.size() < size {
            let tiles_before = tree.complete_tiles();
            let end = (tree.size() + CHUNK).min(size);
            for leaf in self.store.audit_leaves(tree.size(), end).await? {
                tree.push(leaf);
                filling.push(leaf);
            }
            let new = tree.completed_tiles_since(tiles_before);
            if !new.is_empty() {
                let whole = new.len() << TILE_HEIGHT;
                self.store
                    .audit_put_tiles(tiles_before, new, &filling[..whole])
                    .await?;
                filling.drain(..whole);
            }
        }
        Ok(tree.size())
    }

    /// The newest checkpoint, signing one first when the log has grown since.
    pub async fn checkpoint(
        &self,
        now: OffsetDateTime,
        metrics: &Metrics,
    ) -> Result<StoredCheckpoint, Error> {
        let _signing = self.signing.lock().await;
        let size = self.catch_up().await?;
        let latest = self.store.audit_latest_checkpoint().await?;
        if let Some(latest) = &latest {
            if latest.size >= size {
                metrics.audit_checkpoint_size.set(latest.size as i64);
                return Ok(latest.clone());
            }
            // One log, one chain of keys: a node with another key (or origin) must not sign
            // beside the others, or auditors would hold checkpoints they cannot verify
            // together.
            let signer = self.verifier_at(latest.size).await?;
            if let Err(e) = rampart_audit::open_for(&self.origin, &latest.note, &signer) {
                tracing::error!(
                    error = %e,
                    "the newest audit checkpoint was not signed by this node's key and origin; refusing to sign"
                );
                return Err(Error::Internal(format!(
                    "the newest checkpoint (size {}) does not open with this node's audit key and \
                     origin ({e}); every node of one log needs the same audit-signing.key and audit.origin",
                    latest.size
                )));
            }
            // Never sign a tree that does not extend what was signed before.
            let ours = self.root_at(latest.size).await?;
            if ours != latest.root {
                metrics.audit_tamper_alert.set(1);
                metrics.audit_fork_alert.set(1);
                tracing::error!(
                    size = latest.size,
                    "the audit log no longer matches its newest signed checkpoint; refusing to sign"
                );
                return Err(Error::Internal(format!(
                    "the audit log does not extend the checkpoint signed at size {}",
                    latest.size
                )));
            }
        }
        let signed = self.sign_and_store(size, now).await?;
        metrics.audit_checkpoint_size.set(size as i64);
        Ok(signed)
    }

    /// Fetches in one round the tiles `needed` names and those the root at `size` needs,
    /// then runs `compute` on the tree and those tiles under one lock; returns what it
    /// computed and that root.
    async fn with_tiles<T>(
        &self,
        size: u64,
        needed: impl FnOnce(&TreeCache) -> Result<Vec<u64>, rampart_audit::ProofError>,
        compute: impl FnOnce(
            &TreeCache,
            &BTreeMap<u64, Vec<Hash>>,
        ) -> Result<T, rampart_audit::ProofError>,
    ) -> Result<(T, Hash), Error> {
        let tiles = {
            let tree = self.tree.lock().await;
            needed(&tree).and_then(|mut tiles| {
                tiles.extend(tree.tiles_for_root(size)?);
                Ok(tiles)
            })
        };
        let mut tiles = tiles.map_err(proof_error)?;
        tiles.sort_unstable();
        tiles.dedup();
        let fetched = fetch_tiles(&self.store, &tiles).await?;
        let tree = self.tree.lock().await;
        let computed = compute(&tree, &fetched).map_err(proof_error)?;
        let root = tree.root_at(size, &fetched).map_err(proof_error)?;
        Ok((computed, root))
    }

    /// The root of the tree at `size` (≤ the current size).
    pub async fn root_at(&self, size: u64) -> Result<Hash, Error> {
        let ((), root) = self
            .with_tiles(size, |_| Ok(Vec::new()), |_, _| Ok(()))
            .await?;
        Ok(root)
    }

    /// The inclusion proof of event `seq` in the tree of `size` leaves (`size` 0 = now),
    /// with the size, the event's leaf hash and the root the proof leads to.
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<InclusionProof, Error> {
        let current = self.size_covering(size).await?;
        let size = if size == 0 { current } else { size };
        if seq == 0 || seq > size || size > current {
            return Err(Error::invalid(
                "seq",
                format!("must be 1 to {size}, in a tree of at most {current} events"),
            ));
        }
        let index = seq - 1;
        let tile = index >> TILE_HEIGHT;
        let within = usize::try_from(index - (tile << TILE_HEIGHT)).unwrap_or(usize::MAX);
        let ((proof, known), root) = self
            .with_tiles(
                size,
                |tree| tree.tiles_for_inclusion(index, size),
                |tree, tiles| {
                    // The leaf itself comes from its fetched tile or the in-memory last tile.
                    let known = match tiles.get(&tile) {
                        Some(leaves) => leaves.get(within).copied(),
                        None if tile == tree.complete_tiles() => tree.tail().get(within).copied(),
                        None => None,
                    };
                    Ok((tree.inclusion_proof(index, size, tiles)?, known))
                },
            )
            .await?;
        let leaf = match known {
            Some(leaf) => leaf,
            None => self
                .store
                .audit_leaves(index, index + 1)
                .await?
                .first()
                .copied()
                .ok_or_else(|| Error::Internal(format!("no leaf for event {seq}")))?,
        };
        Ok(InclusionProof {
            size,
            proof,
            leaf,
            root,
        })
    }

    /// The consistency proof between sizes `old` and `new` (`new` 0 = now), with the new
    /// size and its root.
    pub async fn consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<(u64, Vec<Hash>, Hash), Error> {
        let current = self.size_covering(new).await?;
        let new = if new == 0 { current } else { new };
        if old == 0 || old > new || new > current {
            return Err(Error::invalid(
                "from",
                format!("sizes must satisfy 1 ≤ from ≤ to ≤ {current}; got from {old}, to {new}"),
            ));
        }
        let (proof, root) = self
            .with_tiles(
                new,
                |tree| tree.tiles_for_consistency(old, new),
                |tree, tiles| tree.consistency_proof(old, new, tiles),
            )
            .await?;
        Ok((new, proof, root))
    }

    /// Appends an `access` (or any) event through the batched pipeline and waits until it
    /// is committed; returns its sequence number. When the pipeline is full this waits
    /// (back-pressure) instead of dropping the event.
    pub async fn append(&self, event: NewEvent) -> Result<i64, Error> {
        let stopped = || Error::Unavailable("the audit pipeline has stopped".into());
        // Without a running pipeline (a router under test, a CLI command) write directly.
        if !self.piped.load(std::sync::atomic::Ordering::Acquire) {
            return self.store.append_events(vec![event]).await;
        }
        let permit = self.room.acquire().await.map_err(|_| stopped())?;
        let (committed, place) = {
            let mut queue = self.lock_queue()?;
            if queue.stage != Stage::Running {
                return Err(stopped());
            }
            let batch_max = self.batch_max;
            let fresh = queue
                .batches
                .back()
                .is_none_or(|b| b.events.len() >= batch_max);
            if fresh {
                queue.batches.push_back(Pending {
                    // Sized once (pages are touched only as events arrive): growing it
                    // would copy megabytes a batch.
                    events: Vec::with_capacity(batch_max.min(self.capacity)),
                    committed: Arc::default(),
                });
            }
            let Some(batch) = queue.batches.back_mut() else {
                return Err(stopped());
            };
            batch.events.push(event);
            (batch.committed.clone(), batch.events.len() - 1)
        };
        // The pipeline gives the permit back when it takes the batch.
        permit.forget();
        self.arrived.notify_one();
        committed.wait(place).await
    }

    /// Appends an event that is all its request writes (a client-credentials grant) and
    /// waits until it is committed. On SQLite it joins the store's grouped writes, on their
    /// thread of their own: the pipeline gathers its batches among the request handlers'
    /// tasks, so with few requests in flight each such request waited for a worker's turn
    /// at every statement of its batch. On PostgreSQL, where a grouped write is its own
    /// transaction on the log's head row, it goes through the pipeline.
    pub async fn append_alone(&self, event: NewEvent) -> Result<(), Error> {
        if self.store.is_exclusive() && self.piped.load(std::sync::atomic::Ordering::Acquire) {
            // Refused, as the pipeline's, once the node stops taking events.
            if self.lock_queue()?.stage != Stage::Running {
                return Err(Error::Unavailable("the audit pipeline has stopped".into()));
            }
            self.store.append_grouped(event).await
        } else {
            self.append(event).await.map(|_| ())
        }
    }

    fn lock_queue(&self) -> Result<std::sync::MutexGuard<'_, Queue>, Error> {
        self.queue
            .lock()
            .map_err(|_| Error::Internal("the audit queue's lock is poisoned".into()))
    }

    /// Events queued (taken from the room and not yet handed to the store).
    fn queued(&self) -> usize {
        self.capacity - self.room.available_permits().min(self.capacity)
    }

    /// Takes the oldest batch off the queue, once the writers still arriving have joined
    /// it, and returns its room; `None` when the queue is empty.
    async fn next_batch(&self) -> Result<Option<Pending>, Error> {
        // The writers the last commit woke are still queueing: let them run, a round at a
        // time, while the oldest batch grows, so one commit carries the wave instead of
        // its first few events.
        let mut seen = 0;
        loop {
            let len = match self.lock_queue()?.batches.front() {
                Some(b) => b.events.len(),
                None => return Ok(None),
            };
            if len == seen || len >= self.batch_max {
                break;
            }
            seen = len;
            tokio::task::yield_now().await;
        }
        let batch = self.lock_queue()?.batches.pop_front();
        if let Some(b) = &batch {
            self.room.add_permits(b.events.len());
        }
        Ok(batch)
    }

    /// The pipeline, to spawn: it runs until `stop` flips, then refuses new events and
    /// drains those queued: batches of up to `batch_max` events, each batch one
    /// transaction, every waiter answered after the commit.
    ///
    /// Appends queue for it from this call on (not from when the task first runs); a
    /// second pipeline over the same log does nothing.
    pub fn run_pipeline(
        self: Arc<Self>,
        metrics: Arc<Metrics>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let first = match self.lock_queue() {
            Ok(mut queue) if queue.stage == Stage::Direct => {
                queue.stage = Stage::Running;
                true
            }
            _ => false,
        };
        self.piped.store(true, std::sync::atomic::Ordering::Release);
        async move {
            if first {
                self.pipeline(&metrics, stop).await;
            }
        }
    }

    async fn pipeline(&self, metrics: &Metrics, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut stopping = false;
        loop {
            // Registered before looking, so an event queued meanwhile still wakes us.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            // Looked at before every batch: under a load that never pauses, the queue is
            // never empty, and the stop must still come. A dropped sender stops it too.
            if !stopping && (*stop.borrow() || stop.has_changed().is_err()) {
                self.refuse_new();
                stopping = true;
            }
            let batch = match self.next_batch().await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "the audit pipeline stopped");
                    return;
                }
            };
            metrics.audit_queue.set(self.queued() as i64);
            if let Some(batch) = batch {
                self.write_batch(batch, metrics).await;
                continue;
            }
            if stopping {
                break;
            }
            // Either wakes the loop; a stop is acted on at its top.
            tokio::select! {
                _ = arrived => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// From here on new events are refused (and writers waiting for room are told at
    /// once); those queued are still written.
    fn refuse_new(&self) {
        if let Ok(mut queue) = self.lock_queue() {
            queue.stage = Stage::Stopped;
        }
        self.room.close();
    }

    async fn write_batch(&self, mut batch: Pending, metrics: &Metrics) {
        let events = std::mem::take(&mut batch.events);
        let n = events.len() as i64;
        match self.store.append_events(events).await {
            Ok(last) => {
                metrics.audit_events.inc_by(n as u64);
                batch.committed.settle(Ok(last - n + 1));
            }
            Err(e) => {
                tracing::error!(error = %e, events = n, "audit batch failed; its requests fail too");
                batch.committed.settle(Err(()));
            }
        }
    }

    /// Re-verifies the events committed since the last run: each body against its stored
    /// leaf hash, each complete tile against the tree's tile root, and the newest checkpoint
    /// against the tree. Returns the number of events checked; a mismatch raises the alert
    /// metric and is logged with the first sequence number found wrong.
    pub async fn verify_increment(&self, metrics: &Metrics) -> Result<u64, Error> {
        let size = self.catch_up().await?;
        let upto = i64::try_from(size).unwrap_or(i64::MAX);
        let mut from = self.verified_upto.lock().await;
        let mut checked = self.check_range(*from, upto, metrics).await?;
        let old = *from;
        *from = upto;
        drop(from);
        // Events verified before are swept again a slice per run, round and round, so an
        // edit of an old row is found too (within size / SWEEP runs).
        let mut sweep = self.sweep_at.lock().await;
        if old > 0 {
            let start = if *sweep >= old { 0 } else { *sweep };
            let end = (start + SWEEP).min(old);
            checked += self.check_range(start, end, metrics).await?;
            *sweep = end;
        }
        drop(sweep);
        self.check_newest_checkpoint(size, metrics).await?;
        metrics.audit_verified.inc_by(checked);
        Ok(checked)
    }

    /// Checks the whole log in the database as [`AuditLog::verify_increment`] checks new
    /// events: every body against its leaf hash, every row's index columns against its body,
    /// every erased payload against the event that records its erasure, every complete tile
    /// against the tree, and the newest checkpoint against the tree. `progress` is called
    /// with the last event checked. Returns how many events were checked; the first problem
    /// is an error naming the event (and raises the alert metric, as the scheduled check).
    pub async fn check_all(
        &self,
        metrics: &Metrics,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, Error> {
        let size = self.catch_up().await?;
        let upto = i64::try_from(size).unwrap_or(i64::MAX);
        let mut checked = 0;
        let mut from = 0;
        while from < upto {
            let end = (from + (1 << 16)).min(upto);
            checked += self.check_range(from, end, metrics).await?;
            progress(u64::try_from(end).unwrap_or(0));
            from = end;
        }
        self.check_newest_checkpoint(size, metrics).await?;
        Ok(checked)
    }

    /// The newest signed checkpoint against the tree, when the tree has reached its size.
    async fn check_newest_checkpoint(&self, size: u64, metrics: &Metrics) -> Result<(), Error> {
        if let Some(latest) = self.store.audit_latest_checkpoint().await? {
            if latest.size <= size && self.root_at(latest.size).await? != latest.root {
                self.alarm(
                    metrics,
                    i64::try_from(latest.size).unwrap_or(i64::MAX),
                    "is not covered by the signed checkpoint any more",
                )?;
            }
        }
        Ok(())
    }

    /// Checks events `(from, upto]`, starting at the tile boundary at or below `from` so
    /// every complete tile is recomputed whole: each body against its stored leaf hash, each
    /// complete tile's root against the tree's.
    async fn check_range(&self, from: i64, upto: i64, metrics: &Metrics) -> Result<u64, Error> {
        let mut checked = 0u64;
        let mut after = (from >> TILE_HEIGHT) << TILE_HEIGHT;
        let mut tile_leaves: Vec<Hash> = Vec::with_capacity(1 << TILE_HEIGHT);
        let mut archives = None;
        while after < upto {
            let rows = self.store.audit_raw(after, upto, CHUNK as i64).await?;
            // The index columns of the chunk's rows against their bodies.
            if let Some(last) = rows.last().map(|r| r.0) {
                if let Some((seq, column)) = self.store.audit_index_mismatch(after, last).await? {
                    return self.alarm(
                        metrics,
                        seq,
                        &format!("has an index column ({column}) that disagrees with its body"),
                    );
                }
            }
            // The stored leaves of the complete tiles this chunk covers, checked as each
            // tile is recomputed (proofs are served from them).
            let stored = match (rows.first(), rows.last()) {
                (Some((a, ..)), Some((b, ..))) => {
                    let tiles: Vec<u64> =
                        ((*a - 1) as u64 >> TILE_HEIGHT..=(*b - 1) as u64 >> TILE_HEIGHT).collect();
                    self.store.audit_tile_leaves(&tiles).await?
                }
                _ => BTreeMap::new(),
            };
            if rows.is_empty() {
                return self.alarm(metrics, after + 1, "is missing");
            }
            for (seq, body, leaf) in rows {
                if seq != after + 1 {
                    return self.alarm(metrics, after + 1, "is missing or out of order");
                }
                match body {
                    Some(body) => {
                        if leaf_hash(body.as_bytes()) != leaf {
                            return self.alarm(metrics, seq, "does not match its leaf hash");
                        }
                    }
                    // An erased payload is lawful only when the log records the erasure.
                    None => {
                        if self
                            .store
                            .audit_erasure_record(seq, &mut archives)
                            .await?
                            .is_none()
                        {
                            return self.alarm(
                                metrics,
                                seq,
                                "has no payload, and no later audit.redact or audit.archive \
                                 event records its erasure",
                            );
                        }
                    }
                }
                tile_leaves.push(leaf);
                if tile_leaves.len() == 1 << TILE_HEIGHT {
                    let tile = (seq - 1) as u64 >> TILE_HEIGHT;
                    let mut f = rampart_audit::Frontier::new();
                    for l in &tile_leaves {
                        f.push(*l);
                    }
                    let root = f.root();
                    let cached = {
                        let tree = self.tree.lock().await;
                        tree.tile_roots().get(tile as usize).copied()
                    };
                    if cached != Some(root) {
                        return self.alarm(metrics, seq, "changed the tile it belongs to");
                    }
                    if stored.get(&tile).is_some_and(|l| *l != tile_leaves) {
                        let first = i64::try_from(tile << TILE_HEIGHT).unwrap_or(0) + 1;
                        return self.alarm(
                            metrics,
                            first,
                            &format!("starts tile {tile}, whose stored leaf hashes were changed"),
                        );
                    }
                    tile_leaves.clear();
                }
                after = seq;
                checked += 1;
            }
        }
        Ok(checked)
    }

    pub(super) fn alarm(&self, metrics: &Metrics, seq: i64, what: &str) -> Result<u64, Error> {
        metrics.audit_tamper_alert.set(1);
        tracing::error!(seq, "audit log verification failed: event {seq} {what}");
        Err(Error::Internal(format!(
            "audit log verification failed: event {seq} {what}"
        )))
    }
}

mod archive;
pub mod cosign;
pub mod keys;
pub mod proof;
pub mod report;
mod schedule;
pub mod search;

pub use archive::*;
pub use cosign::ADD_CHECKPOINT;
pub use keys::{rotate, rotate_as, Rotated};
pub use schedule::*;
