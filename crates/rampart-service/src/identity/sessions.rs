//! An in-memory cache of live sessions, so that authenticating a request costs a hash and a
//! map lookup instead of a database round trip.
//!
//! Correctness rests on the credentials epoch: every change to sessions and users that can
//! end a session or change its user bumps it before it is acknowledged, and an entry
//! remembers the epoch read *before* its row was loaded and is ignored once the epoch has
//! moved. So a logout, revocation, password change or disable is seen by the very next
//! request. On SQLite (an exclusive store, every change goes through this process) the epoch
//! is [`Store::credentials_epoch`], in memory. On PostgreSQL, which several nodes share, it
//! is the database's `credentials_epoch`, bumped in the changing transaction and taken from
//! the node's [`Fence`](crate::fence::Fence): from its lease (the change is acknowledged
//! only once every node with a live lease has read the epoch since), or else from one read
//! shared by concurrent requests that started after the request arrived.

//! A session's last use, which idle expiry is judged from, is recorded in memory on the
//! request path ([`LastUse`]) and written to the database in one transaction every few
//! seconds ([`run_last_use`]), never by the request itself: with thousands of sessions in
//! use, a durable write per session and minute queued every request behind the one writer.
//! A session this node loads from the database takes the newer of the stored and the
//! pending last use, so idle expiry on this node is what it was. Another node sharing a
//! PostgreSQL database sees a last use up to [`LAST_USE_FLUSH`] late (a cached session that
//! looks idle is read again before it is refused), and a crash forgets that much: either can
//! end a session that many seconds early, never keep one alive.
//!
//! [`Store::credentials_epoch`]: rampart_store::Store::credentials_epoch

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use rampart_core::{Error, Session, SessionId, User};
use rampart_identity::TokenHash;
use rampart_store::{OpenSession, Store};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::caller::Caller;
use crate::fence::Ticket;
use crate::state::AppState;

/// The caller's open sessions (not revoked, not expired, not idle), newest first, each with
/// its last use as this node knows it.
pub async fn open_of(state: &AppState, caller: &Caller) -> Result<Vec<OpenSession>, Error> {
    let now = state.clock.now();
    let idle = time::Duration::minutes(state.config.session.idle_minutes.into());
    let mut open = state.store.open_sessions_of(caller.user.id, now).await?;
    for s in &mut open {
        state.last_use.merge(&mut s.session);
    }
    open.retain(|s| now - s.session.last_seen_at < idle);
    Ok(open)
}

/// Ends one of the caller's own sessions, named by its id; another user's session, or one
/// already ended, is not found.
pub async fn end_own(state: &AppState, caller: &Caller, id: &str) -> Result<(), Error> {
    let open = open_of(state, caller).await?;
    let Some(found) = open.iter().find(|s| s.session.id.to_string() == id) else {
        return Err(Error::NotFound { what: "session" });
    };
    state
        .store
        .revoke_session(&found.session, state.clock.now(), &caller.audit)
        .await
}

/// The session presented as `hash` and its user, from the cache when what it holds is
/// still current for a request that arrived at `arrived`, else from the database (then
/// cached). `None`: no such session. Expiry, revocation and a disabled user are the
/// caller's to judge from what is returned.
pub async fn lookup(
    state: &AppState,
    hash: TokenHash,
    arrived: Ticket,
) -> Result<Option<(Session, User)>, Error> {
    // The epoch is read before the row: a change committed after this read invalidates
    // what is about to be cached.
    let exclusive = state.store.is_exclusive();
    let epoch = if exclusive {
        state.store.credentials_epoch()
    } else {
        state.fence.since(arrived).await?.credentials
    };
    if let Some(found) = state.sessions.get(&hash, epoch) {
        // Another node may have used the session since it was cached: one that looks idle
        // here is judged from the database's last use.
        let idle = time::Duration::minutes(state.config.session.idle_minutes.into());
        if exclusive || state.clock.now() - found.0.last_seen_at < idle {
            return Ok(Some(found));
        }
    }
    let mut loaded = state.store.session_by_token(&hash.0).await?;
    if let Some((session, user)) = &mut loaded {
        state.last_use.merge(session);
        state
            .sessions
            .put(hash, epoch, session.clone(), user.clone());
    }
    Ok(loaded)
}

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

/// How often pending last uses are written.
pub const LAST_USE_FLUSH: Duration = Duration::from_secs(5);

/// Last uses recorded on the request path and not yet written.
#[derive(Debug, Default)]
pub struct LastUse {
    pending: Mutex<HashMap<SessionId, OffsetDateTime>>,
}

impl LastUse {
    /// Records that `id` was used at `at` (the newest use wins).
    pub fn record(&self, id: SessionId, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let last = pending.entry(id).or_insert(at);
        if *last < at {
            *last = at;
        }
    }

    /// Brings a session read from the database up to the last use recorded here.
    pub fn merge(&self, session: &mut Session) {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&at) = pending.get(&session.id) {
            if session.last_seen_at < at {
                session.last_seen_at = at;
            }
        }
    }

    /// The pending uses, leaving none.
    pub fn take(&self) -> Vec<(SessionId, OffsetDateTime)> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.drain().collect()
    }

    /// Puts back uses whose write failed, unless a newer use came meanwhile.
    fn restore(&self, uses: Vec<(SessionId, OffsetDateTime)>) {
        for (id, at) in uses {
            self.record(id, at);
        }
    }

    /// Writes the pending uses in one transaction; on failure they stay pending.
    pub async fn flush(&self, store: &Store) -> Result<(), rampart_core::Error> {
        let uses = self.take();
        if uses.is_empty() {
            return Ok(());
        }
        if let Err(e) = store.touch_sessions(&uses).await {
            self.restore(uses);
            return Err(e);
        }
        Ok(())
    }
}

/// Writes pending last uses every [`LAST_USE_FLUSH`] until `stop` changes, then once more.
pub async fn run_last_use(
    store: Store,
    last_use: std::sync::Arc<LastUse>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(LAST_USE_FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if let Err(e) = last_use.flush(&store).await {
            tracing::warn!(error = %e, "sessions' last use not written; kept for the next try");
        }
    }
    if let Err(e) = last_use.flush(&store).await {
        tracing::warn!(error = %e, "sessions' last use not written at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    /// What `take` gives, in a fixed order.
    fn taken(uses: &LastUse) -> Vec<(SessionId, OffsetDateTime)> {
        let mut taken = uses.take();
        taken.sort_by_key(|(id, _)| id.0);
        taken
    }

    #[test]
    fn the_newest_use_wins_and_take_leaves_none() {
        let uses = LastUse::default();
        let (a, b) = (SessionId(Uuid::from_u128(1)), SessionId(Uuid::from_u128(2)));
        uses.record(a, datetime!(2026-01-01 10:05 UTC));
        uses.record(a, datetime!(2026-01-01 10:01 UTC));
        uses.record(b, datetime!(2026-01-01 10:02 UTC));
        let first = taken(&uses);
        assert_eq!(
            first,
            [
                (a, datetime!(2026-01-01 10:05 UTC)),
                (b, datetime!(2026-01-01 10:02 UTC))
            ]
        );
        assert!(uses.take().is_empty());
        // A failed write puts its uses back, but never over a newer one.
        uses.record(a, datetime!(2026-01-01 10:09 UTC));
        uses.restore(first);
        assert_eq!(
            taken(&uses),
            [
                (a, datetime!(2026-01-01 10:09 UTC)),
                (b, datetime!(2026-01-01 10:02 UTC))
            ]
        );
    }
}
