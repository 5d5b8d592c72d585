//! The node's authorization index and how it stays current.
//!
//! # No stale allow after a revoke (the "new enemy" problem)
//! Every decision first makes sure the index has applied every authorization change that
//! was acknowledged before the request arrived:
//! - On SQLite the store is exclusive to this process and every write goes through
//!   [`AuthzEngine::after_write`], which applies the change before the writer is answered, so
//!   the index is always current.
//! - On PostgreSQL other nodes write too. Before deciding, a node takes the committed
//!   revision from its [`Fence`] and, if it is behind, replays `authz_changes` up to it.
//!   The fence answers from the node's lease (a write is acknowledged only once every node
//!   with a live lease has read the revision since) or, without a valid lease, from a read
//!   shared by concurrent requests, each waiting for the first that *started after it
//!   arrived* (a read barrier).
//!
//! A revision token returned by a write can be passed back as `at_least_as_fresh`; a check
//! with a token from the future is refused rather than answered from older data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use rampart_authz::change::Change;
use rampart_authz::view::AuthzView;
use rampart_core::Error;
use rampart_store::Store;
use tokio::sync::Mutex;

use crate::fence::{Fence, Ticket};

/// The authorization index of one node, kept current with the database.
pub struct AuthzEngine {
    store: Store,
    view: RwLock<AuthzView>,
    /// Revision of the view, readable without the lock.
    revision: AtomicU64,
    loaded: std::sync::atomic::AtomicBool,
    /// Serialises catch-ups.
    catching: Mutex<()>,
    /// The shared reads of the committed revision.
    fence: Arc<Fence>,
}

/// Formats a revision as the opaque token clients pass back.
pub fn token(revision: u64) -> String {
    format!("r{revision}")
}

/// Parses a revision token.
pub fn parse_token(raw: &str, field: &str) -> Result<u64, Error> {
    raw.strip_prefix('r')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            Error::invalid(
                field,
                "is not a revision token (as returned by a write, e.g. \"r42\")",
            )
        })
}

impl AuthzEngine {
    /// An engine that loads its index on first use.
    pub fn new(store: Store, fence: Arc<Fence>) -> Arc<Self> {
        Arc::new(Self {
            store,
            view: RwLock::new(AuthzView::default()),
            revision: AtomicU64::new(0),
            loaded: std::sync::atomic::AtomicBool::new(false),
            catching: Mutex::new(()),
            fence,
        })
    }

    /// The view, for one decision (hold it briefly; never across an `.await`).
    pub fn view(&self) -> RwLockReadGuard<'_, AuthzView> {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Rebuilds the whole index from the tables.
    pub async fn reload(&self) -> Result<(), Error> {
        let _guard = self.catching.lock().await;
        self.reload_locked().await
    }

    async fn reload_locked(&self) -> Result<(), Error> {
        let fresh = self.store.authz_load(&mut |_, _| {}).await?;
        let rev = fresh.revision;
        *self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        self.revision.store(rev, Ordering::Release);
        self.loaded.store(true, Ordering::Release);
        tracing::debug!(revision = rev, "authorization index loaded");
        Ok(())
    }

    /// Makes sure the view includes every change committed before this call (and at least
    /// revision `at_least`); returns the view's revision.
    pub async fn fresh(&self, at_least: Option<u64>) -> Result<u64, Error> {
        self.fresh_since(self.fence.ticket(), at_least).await
    }

    /// Makes sure the view includes every change committed before `arrived` (a request's
    /// ticket, taken when it arrived) and at least revision `at_least`; returns the view's
    /// revision.
    pub async fn fresh_since(&self, arrived: Ticket, at_least: Option<u64>) -> Result<u64, Error> {
        let local = self.revision.load(Ordering::Acquire);
        let loaded = self.loaded.load(Ordering::Acquire);
        if loaded && self.store.is_exclusive() && at_least.is_none_or(|t| t <= local) {
            return Ok(local);
        }
        let latest = self.fence.since(arrived).await?.authz;
        if let Some(t) = at_least {
            if t > latest {
                return Err(Error::invalid(
                    "at_least_as_fresh",
                    format!(
                        "revision {} has not been written (latest is {})",
                        token(t),
                        token(latest)
                    ),
                ));
            }
        }
        if !loaded || latest > self.revision.load(Ordering::Acquire) {
            self.catch_up().await?;
        }
        Ok(self.revision.load(Ordering::Acquire))
    }

    /// Applies every change committed after the view's revision.
    pub async fn catch_up(&self) -> Result<(), Error> {
        let _guard = self.catching.lock().await;
        if !self.loaded.load(Ordering::Acquire) {
            return self.reload_locked().await;
        }
        loop {
            let local = self.revision.load(Ordering::Acquire);
            let batch = self.store.authz_changes_after(local, 1000).await?;
            if batch.is_empty() {
                return Ok(());
            }
            if batch
                .iter()
                .any(|(_, changes)| changes.iter().any(|c| matches!(c, Change::Reload)))
            {
                return self.reload_locked().await;
            }
            if !self.apply_batch(&batch) {
                return self.reload_locked().await;
            }
        }
    }

    /// Applies a batch under the write lock; false if a change could not be applied (the
    /// index no longer matches the tables and must be rebuilt from them).
    fn apply_batch(&self, batch: &[(u64, Vec<Change>)]) -> bool {
        let mut view = self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (rev, changes) in batch {
            for change in changes {
                if let Err(e) = view.apply(change) {
                    tracing::error!(revision = rev, error = %e, "cannot apply an authorization change; reloading");
                    return false;
                }
            }
            view.revision = *rev;
            self.revision.store(*rev, Ordering::Release);
        }
        true
    }

    /// Called after this node committed a write: applies it before the writer is answered.
    pub async fn after_write(&self, revision: u64) -> Result<(), Error> {
        if self.revision.load(Ordering::Acquire) < revision {
            self.catch_up().await?;
        }
        Ok(())
    }

    /// The view's revision.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }
}
