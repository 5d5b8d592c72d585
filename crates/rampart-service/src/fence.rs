//! What this node must re-read before it trusts its memory, when other nodes share the
//! database (PostgreSQL).
//!
//! A node keeps three things in memory that other nodes can change: the authorization index,
//! sessions it has looked up, and the models running in each environment. Before a request
//! is decided, the node reads the database's [`Marks`] (the authorization revision, the
//! credentials epoch and each environment's latest deployment, one statement) and re-reads
//! whatever moved. Concurrent requests share one such read: a request waits for the first
//! read that *started after it arrived* (a read barrier), so a change committed before a
//! request arrived is always seen, and the database sees at most one read in flight per node
//! however many requests arrive.
//!
//! A request takes its [`Ticket`] when it arrives and every decision it makes passes the same
//! ticket, so one request costs at most one wait however many things it checks. On SQLite
//! the store is exclusive to this process and nothing here is read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rampart_core::Error;
use rampart_store::{Marks, Store};
use tokio::sync::Mutex;

/// When a request arrived, in probes begun: any probe numbered above it started later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ticket(u64);

/// The node's shared reads of the database's marks.
pub struct Fence {
    store: Store,
    /// The number of the last finished probe and what it read.
    probe: Mutex<(u64, Arc<Marks>)>,
    /// Probes begun.
    started: AtomicU64,
}

impl Fence {
    /// A fence over `store`.
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store,
            probe: Mutex::new((0, Arc::default())),
            started: AtomicU64::new(0),
        })
    }

    /// The ticket of something arriving now.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.started.load(Ordering::Acquire))
    }

    /// The marks as read by a probe that started after `ticket` was taken.
    pub async fn since(&self, ticket: Ticket) -> Result<Arc<Marks>, Error> {
        let mut probe = self.probe.lock().await;
        if probe.0 > ticket.0 {
            return Ok(probe.1.clone());
        }
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let marks = Arc::new(self.store.marks().await?);
        *probe = (number, marks.clone());
        Ok(marks)
    }

    /// The marks as read by a probe that started after this call.
    pub async fn now(&self) -> Result<Arc<Marks>, Error> {
        self.since(self.ticket()).await
    }
}
