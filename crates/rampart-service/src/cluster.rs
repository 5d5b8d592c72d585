//! Which node of a cluster runs the background work that must run once: signing audit
//! checkpoints, archiving, the search-key compaction, directory sync, closing ignored
//! support cases and raising alerts.
//!
//! The nodes sharing a PostgreSQL database elect one **leader** with a lease in the
//! database ([`LEASE`]): the leader renews it every [`RENEW`], another node takes it only
//! once it has gone [`TTL`] without renewal (the leader died) or was released (the leader
//! stopped), so the work moves to a surviving node within `TTL + RENEW`. Each task asks
//! [`Leadership::is_leader`] before a run. A node on SQLite holds its data directory alone
//! and is always the leader.
//!
//! A leader that stalls longer than the TTL (a long pause, a partition from the database)
//! can overlap with its successor for at most one run of each task: every such task is
//! safe to run twice (a checkpoint is signed only over a tree that extends the last one,
//! archiving and compaction work in transactions, a sync and the closing of ignored cases
//! converge), so the lease is about not doing the work on every node, not about safety.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use rampart_store::Store;
use tokio::sync::watch;

use crate::state::AppState;

/// The lease's name.
pub const LEASE: &str = "background";
/// How long a lease lasts without renewal.
pub const TTL: time::Duration = time::Duration::seconds(15);
/// How often the leader renews and the others try.
pub const RENEW: StdDuration = StdDuration::from_secs(5);

/// This node's part in the election.
#[derive(Debug)]
pub struct Leadership {
    /// Who this node is in the lease: its node id and a random instance id (two processes
    /// may share a node id).
    holder: String,
    leader: AtomicBool,
}

impl Leadership {
    /// A node that leads from the start when its store is its own (SQLite), and otherwise
    /// once it wins the lease.
    pub fn new(store: &Store, node_id: &str) -> Arc<Self> {
        Arc::new(Self {
            holder: format!("{node_id}/{}", uuid::Uuid::now_v7().simple()),
            leader: AtomicBool::new(store.is_exclusive()),
        })
    }

    /// Whether this node runs the once-per-cluster work now.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// Who this node is in the lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

/// Takes or renews the lease every [`RENEW`] until `stop` changes, then releases it.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    if state.store.is_exclusive() {
        state.metrics.cluster_leader.set(1);
        return;
    }
    let me = state.leadership.clone();
    let mut tick = tokio::time::interval(RENEW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let held = match state
            .store
            .lease_take(LEASE, &me.holder, state.clock.now(), TTL)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                // Unable to renew: stop leading before the lease could pass to another.
                tracing::warn!(error = %e, "the background lease could not be renewed");
                false
            }
        };
        let was = me.leader.swap(held, Ordering::AcqRel);
        if held != was {
            tracing::info!(
                leader = held,
                "background work {}",
                if held {
                    "runs on this node"
                } else {
                    "runs on another node"
                }
            );
        }
        state.metrics.cluster_leader.set(i64::from(held));
    }
    if me.leader.swap(false, Ordering::AcqRel) {
        if let Err(e) = state.store.lease_release(LEASE, &me.holder).await {
            tracing::warn!(error = %e, "the background lease was not released; another node takes it when it expires");
        }
    }
    state.metrics.cluster_leader.set(0);
}
