//! An in-memory cache of live sessions, so that authenticating a request costs a hash and a
//! map lookup instead of a database round trip.
//!
//! Correctness rests on two facts. Only an exclusive store (SQLite, whose data directory one
//! server locks) uses the cache: every change to sessions and users then goes through this
//! process. And every such change bumps [`Store::credentials_epoch`] before it is
//! acknowledged; an entry remembers the epoch read *before* its row was loaded and is
//! ignored once the epoch has moved. So a logout, revocation, password change or disable is
//! seen by the very next request. On PostgreSQL, which several nodes share, every request
//! reads the session from the database.
//!
//! [`Store::credentials_epoch`]: rampart_store::Store::credentials_epoch

use std::collections::HashMap;
use std::sync::RwLock;

use rampart_core::{Session, User};
use rampart_identity::TokenHash;
use time::OffsetDateTime;

/// Live sessions by token hash.
#[derive(Debug)]
pub struct SessionCache {
    entries: RwLock<HashMap<TokenHash, Entry>>,
    capacity: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    epoch: u64,
    session: Session,
    user: User,
}

impl SessionCache {
    /// A cache holding at most `capacity` sessions (emptied when full).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The cached session for `hash`, if it was loaded while the epoch was `epoch`.
    pub fn get(&self, hash: &TokenHash, epoch: u64) -> Option<(Session, User)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|e| e.epoch == epoch)
            .map(|e| (e.session.clone(), e.user.clone()))
    }

    /// Remembers a session loaded while the epoch was `epoch`.
    pub fn put(&self, hash: TokenHash, epoch: u64, session: Session, user: User) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(
            hash,
            Entry {
                epoch,
                session,
                user,
            },
        );
    }

    /// Records activity on a cached session.
    pub fn touch(&self, hash: &TokenHash, at: OffsetDateTime) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.get_mut(hash) {
            entry.session.last_seen_at = at;
        }
    }
}
