//! What this node must know before it trusts its memory, when other nodes share the
//! database (PostgreSQL).
//!
//! A node keeps three things in memory that other nodes can change: the authorization index,
//! sessions it has looked up, and the models running in each environment. A request is
//! decided against the database's [`Marks`] (the authorization revision, the credentials
//! epoch and each environment's latest deployment), and whatever moved past the node's
//! memory is read again. The marks come from one of two places:
//!
//! - **The lease** (the fast path, no database round trip): the node holds marks it read
//!   itself, installed by [`crate::lease`], and trusts them while its lease is valid by its
//!   own monotonic clock and its listening connection is up. A change that moves the marks
//!   is answered to its client only once every node holding a live lease has recorded that
//!   it read the marks after the change committed, or its lease ran out ([`Fence::acknowledge`]).
//! - **A probe** (otherwise): the node reads the marks. Concurrent requests share one read:
//!   a request waits for the first read that *started after it arrived* (a read barrier),
//!   so a change committed before a request arrived is always seen, and the database sees at
//!   most one read in flight per node however many requests arrive.
//!
//! **The guarantee**: once a change that moved the marks has been acknowledged to its
//! client, every request that arrives afterwards, at any node, is decided with it. A node
//! whose lease ran out (paused, cut off from the database, its listener down) probes, and
//! refuses when it cannot. What the lease does *not* order: a change not yet acknowledged
//! may be seen by one node and not yet by another (a client that learns of it some other
//! way than its acknowledgement, say by reading it back, may still meet a node deciding
//! without it for up to one notification delay). Changes made outside a request (directory
//! sync, the command line) are not waited for: nodes read them when the database notifies
//! them at commit, or at their next renewal (a quarter lease) if that is lost.
//!
//! A request takes its [`Ticket`] when it arrives and every decision it makes passes the same
//! ticket, so one request costs at most one wait however many things it checks. On SQLite
//! the store is exclusive to this process and nothing here is read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rampart_core::Error;
use rampart_store::{Marks, Store};
use tokio::sync::{Mutex, Notify};

/// How long a node's lease lasts after the point it took before reading the marks, unless
/// `cluster.lease_ms` says otherwise: a write waits this long at most for a node that died.
pub const LEASE: Duration = Duration::from_secs(2);
/// How much sooner than its lease in the database a node stops trusting its memory, unless
/// `cluster.margin_ms` says otherwise: room for the node's clock and the database's to run
/// at slightly different rates.
pub const MARGIN: Duration = Duration::from_millis(250);
/// How often a node reads the marks and renews its lease without being told to, unless
/// `cluster.renew_ms` says otherwise: a quarter lease.
pub const RENEW: Duration = Duration::from_millis(500);
/// The longest a writer waits between two looks at the other nodes when nobody signals.
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// The lengths a node's lease runs with (`[cluster]`; checked when the configuration is
/// loaded: the margin at most half the lease, two renewals within the lease less the
/// margin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimes {
    /// How long a lease lasts ([`LEASE`] by default).
    pub lease: Duration,
    /// How often it is renewed unasked ([`RENEW`] by default).
    pub renew: Duration,
    /// How much sooner the node stops trusting it ([`MARGIN`] by default).
    pub margin: Duration,
}

impl Default for LeaseTimes {
    fn default() -> Self {
        Self {
            lease: LEASE,
            renew: RENEW,
            margin: MARGIN,
        }
    }
}

/// How a wait for acknowledgements ([`Fence::acknowledge`]) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledged {
    /// Nothing to wait for: the store is this process's alone.
    NotNeeded,
    /// Every node holding a live lease recorded that it read the marks after the change.
    ByEveryNode,
    /// A node's lease ran out before it recorded that (it died, paused or was cut off), or
    /// the nodes could not be asked and their leases were waited out.
    LeaseRanOut,
}

/// When a request arrived, in probes begun: any probe numbered above it started later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ticket(u64);

/// Marks this node read itself, and until when they may be trusted.
#[derive(Default)]
struct Held {
    marks: Arc<Marks>,
    until: Option<Instant>,
    /// Until when the node's row, as last recorded, is surely live in the database (by
    /// this node's clock, less the margin); `None` once it was given up.
    row: Option<Instant>,
}

/// The node's view of the database's marks.
pub struct Fence {
    store: Store,
    /// The lease's lengths.
    times: LeaseTimes,
    /// This process in `cluster_nodes`: its node id and a random part.
    instance: String,
    node_id: String,
    /// The number of the last finished probe and what it read.
    probe: Mutex<(u64, Arc<Marks>)>,
    /// Probes begun.
    started: AtomicU64,
    /// The marks installed by the lease.
    held: RwLock<Held>,
    /// One reading of the marks at a time, so installed marks only move forward.
    reading: Mutex<()>,
    /// Bumped by the listener whenever it connects or loses its connection: odd while it
    /// is connected.
    listening: AtomicU64,
    /// Set to stop renewing (an operator's or a test's hand on the node).
    suspended: AtomicBool,
    /// Asks the lease to read the marks again.
    pub(crate) wake: Notify,
    /// Signals a writer waiting for acknowledgements that a node recorded a newer `seen`.
    pub(crate) seen: Notify,
}

impl Fence {
    /// A fence over `store` for node `node_id`, its lease running with `times`.
    pub fn new(store: Store, node_id: &str, times: LeaseTimes) -> Arc<Self> {
        Arc::new(Self {
            store,
            times,
            instance: format!("{node_id}/{}", uuid::Uuid::now_v7().simple()),
            node_id: node_id.to_owned(),
            probe: Mutex::new((0, Arc::default())),
            started: AtomicU64::new(0),
            held: RwLock::default(),
            reading: Mutex::new(()),
            listening: AtomicU64::new(0),
            suspended: AtomicBool::new(false),
            wake: Notify::new(),
            seen: Notify::new(),
        })
    }

    /// The lengths this node's lease runs with.
    pub fn times(&self) -> LeaseTimes {
        self.times
    }

    /// This process's row in `cluster_nodes`.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The ticket of something arriving now.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.started.load(Ordering::Acquire))
    }

    /// The marks to decide a request that arrived at `ticket` with: those the lease holds
    /// while it is valid, otherwise as read by a probe that started after `ticket` was taken.
    pub async fn since(&self, ticket: Ticket) -> Result<Arc<Marks>, Error> {
        if let Some(marks) = self.trusted() {
            return Ok(marks);
        }
        let mut probe = self.probe.lock().await;
        if probe.0 > ticket.0 {
            return Ok(probe.1.clone());
        }
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let marks = Arc::new(self.store.marks().await?);
        *probe = (number, marks.clone());
        Ok(marks)
    }

    /// The marks as [`Fence::since`] gives them to something arriving now.
    pub async fn now(&self) -> Result<Arc<Marks>, Error> {
        self.since(self.ticket()).await
    }

    /// Whether this node decides from the marks its lease holds (no read per request).
    pub fn trusts(&self) -> bool {
        self.trusted().is_some()
    }

    fn trusted(&self) -> Option<Arc<Marks>> {
        let held = self
            .held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match held.until {
            Some(until) if Instant::now() < until => Some(held.marks.clone()),
            _ => None,
        }
    }

    /// Stops trusting the marks held until the next renewal.
    pub(crate) fn distrust(&self) {
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.until = None;
    }

    /// Stops (`true`) or resumes (`false`) renewing the lease: while stopped, the node
    /// decides by probing once its lease runs out, and writers stop waiting for it then.
    pub fn suspend(&self, suspended: bool) {
        self.suspended.store(suspended, Ordering::Release);
        if !suspended {
            self.wake.notify_one();
        }
    }

    /// Records that the listening connection is up (`true`) or lost (`false`).
    pub(crate) fn set_listening(&self, up: bool) {
        let now = self.listening.load(Ordering::Acquire);
        if (now & 1 == 1) != up {
            self.listening.fetch_add(1, Ordering::AcqRel);
        }
        if !up {
            self.distrust();
        }
    }

    /// Reads the marks, installs them, and (while listening and not suspended) records the
    /// point read in the node's row with a renewed lease, then trusts them until the lease,
    /// counted from before the point was taken, less the margin.
    pub(crate) async fn renew(&self) -> Result<(), Error> {
        let _one = self.reading.lock().await;
        let listening = self.listening.load(Ordering::Acquire);
        let sent = Instant::now();
        let point = self.store.marks_point().await?;
        let marks = Arc::new(self.store.marks().await?);
        self.held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .marks = marks;
        if listening & 1 == 0 || self.suspended.load(Ordering::Acquire) {
            return Ok(());
        }
        self.store
            .node_renew(&self.instance, &self.node_id, point, self.times.lease)
            .await?;
        let recorded = Instant::now();
        // Trusted only if the connection stayed up throughout (a notification lost while it
        // was down may concern a change this read missed).
        if self.listening.load(Ordering::Acquire) == listening
            && !self.suspended.load(Ordering::Acquire)
        {
            let mut held = self
                .held
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Only if the row was live all along, too: a writer that looked while it was
            // absent (a node joining, or back after its lease lapsed or it gave it up) did
            // not wait for this node, and this read may precede that writer's commit. The
            // next renewal, whose read follows this record, is trusted.
            let continuous = held.row.is_some_and(|row| recorded < row);
            let until = sent + self.times.lease - self.times.margin;
            held.row = Some(until);
            if continuous {
                held.until = Some(until);
            }
        }
        Ok(())
    }

    /// Removes this node's row, so writers stop waiting for it at once.
    pub(crate) async fn release(&self) {
        self.distrust();
        self.held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .row = None;
        if let Err(e) = self.store.node_release(&self.instance).await {
            tracing::warn!(error = %e, "this node's lease was not released; writers wait for it until it runs out");
        }
    }

    /// Returns once every node is sure to decide with the changes this node committed
    /// before the call: every node holding a live lease has read the marks after them, or
    /// its lease has run out; says which. Bounded by the lease whatever the other nodes
    /// do, and sound by the clock alone when the database cannot be asked: a lease trusted
    /// by a node on marks read before the commit ends within one lease of the commit.
    pub async fn acknowledge(&self) -> Acknowledged {
        if self.store.is_exclusive() {
            return Acknowledged::NotNeeded;
        }
        let deadline = Instant::now() + self.times.lease;
        let point = match self.store.marks_announce().await {
            Ok(point) => point,
            Err(e) => {
                tracing::warn!(error = %e, "a change could not be announced; waiting out the nodes' leases");
                tokio::time::sleep_until(deadline.into()).await;
                return Acknowledged::LeaseRanOut;
            }
        };
        // This node reads at once rather than when its own announcement comes back.
        if let Err(e) = self.renew().await {
            tracing::debug!(error = %e, "reading the marks after a change failed");
        }
        // The nodes found behind so far: one whose lease ran out before it saw the point is
        // how the wait ended, if it ends with none behind.
        let mut watched: Vec<String> = Vec::new();
        loop {
            let signal = self.seen.notified();
            tokio::pin!(signal);
            signal.as_mut().enable();
            let wait = match self.store.nodes_behind(point, &watched).await {
                Ok(behind) if behind.live.is_empty() => {
                    return if behind.lapsed {
                        Acknowledged::LeaseRanOut
                    } else {
                        Acknowledged::ByEveryNode
                    };
                }
                Ok(behind) => {
                    let left = behind.live.iter().map(|(_, left)| *left).min();
                    for (instance, _) in behind.live {
                        if !watched.contains(&instance) {
                            watched.push(instance);
                        }
                    }
                    left.unwrap_or(LOOK_AGAIN).min(LOOK_AGAIN)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the nodes could not be asked whether they saw a change; waiting out their leases");
                    deadline.saturating_duration_since(Instant::now())
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Acknowledged::LeaseRanOut;
            }
            tokio::select! {
                () = &mut signal => {}
                () = tokio::time::sleep(wait.min(left)) => {}
            }
        }
    }
}
