//! The node's lease on the marks it holds in memory (PostgreSQL; see [`crate::fence`] for
//! what it guarantees).
//!
//! Two loops run until the node stops:
//!
//! - **Listening**: one connection of its own `LISTEN`s for changes that moved the marks
//!   (announced by database triggers at their commit, and by writers waiting for
//!   acknowledgements) and for other nodes recording what they saw. A change asks the
//!   renewing loop to read the marks at once; a lost connection ends the node's trust at
//!   once (and removes the node's row, so writers stop waiting for it), and the node trusts
//!   again only after it has listened anew *and* read the marks since (a notification lost
//!   while the connection was down is then covered).
//! - **Renewing**: every `cluster.renew_ms` ([`RENEW`](crate::fence::RENEW), a quarter
//!   lease, by default), and whenever asked, the node takes a point, reads the marks,
//!   installs them, and records the point as seen with a lease renewed by the database's
//!   clock (`cluster.lease_ms`, [`LEASE`](crate::fence::LEASE) by default, from `now()`). It trusts them until the lease counted
//!   by its own monotonic clock from *before* it took the point, less a margin, so its
//!   trust ends before the database's record of its lease does. Every renewal reads the
//!   marks, so a node holding a live lease in the database has either seen a change or
//!   will within one renewal, or its lease runs out: a writer never waits longer than
//!   one lease, even for a node that died. A node whose row was absent (joining, or back
//!   after its lease lapsed or it gave it up) trusts only from the renewal after the one
//!   that records its row again: a writer that looked meanwhile did not wait for it.
//!
//! When the node stops it removes its row, so writers stop waiting for it at once.

use std::sync::Arc;

use rampart_store::Heard;
use tokio::sync::watch;

use crate::fence::Fence;
use crate::state::AppState;

/// Listens and renews until `stop` changes, then gives the lease up.
pub async fn run(state: AppState, stop: watch::Receiver<bool>) {
    if state.store.is_exclusive() {
        return;
    }
    let fence = state.fence.clone();
    tokio::join!(
        listen(&state, &fence, stop.clone()),
        renew(&fence, stop.clone())
    );
    fence.release().await;
}

async fn listen(state: &AppState, fence: &Arc<Fence>, mut stop: watch::Receiver<bool>) {
    loop {
        let connected = tokio::select! {
            c = state.store.listen_marks() => c,
            _ = stop.changed() => return,
        };
        match connected {
            Ok(mut listener) => {
                fence.set_listening(true);
                fence.wake.notify_one();
                loop {
                    let heard = tokio::select! {
                        h = listener.recv() => h,
                        _ = stop.changed() => return,
                    };
                    match heard {
                        Ok(Some(Heard::Marks)) => fence.wake.notify_one(),
                        Ok(Some(Heard::Seen)) => fence.seen.notify_waiters(),
                        Ok(None) => {
                            tracing::warn!("the connection listening for other nodes' changes was lost; deciding by reading the database until it is back");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "listening for other nodes' changes failed; deciding by reading the database until it is back");
                            break;
                        }
                    }
                }
                fence.set_listening(false);
                // Writers stop waiting for a node that cannot hear them.
                fence.release().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' changes; deciding by reading the database");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(fence.times().renew) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn renew(fence: &Arc<Fence>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(fence.times().renew);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = fence.wake.notified() => {}
            _ = stop.changed() => return,
        }
        match fence.renew().await {
            Ok(()) => failing = false,
            Err(e) => {
                // The lease runs out by itself; say so once, not every quarter lease.
                if !failing {
                    tracing::warn!(error = %e, "the marks could not be read; this node decides by reading the database once its lease runs out");
                }
                failing = true;
            }
        }
    }
}
