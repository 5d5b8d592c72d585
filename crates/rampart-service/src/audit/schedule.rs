//! The audit log's background work: the periodic checkpoint signer (and its witnesses) and
//! re-verifier, and the
//! compaction of the search keys, which yields to appends until its backlog reaches a bound.

use std::time::Duration;

use super::*;

/// Runs the periodic checkpoint signer and re-verifier until `stop` flips.
pub async fn run_schedule(
    state: crate::state::AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let sign_every = Duration::from_secs(u64::from(state.config.audit.checkpoint_seconds));
    let witnesses = &state.witnesses;
    let verify_every = Duration::from_secs(u64::from(state.config.audit.verify_seconds));
    let mut archive = tokio::time::interval(Duration::from_secs(3_600));
    archive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sign = tokio::time::interval(sign_every);
    let mut verify = tokio::time::interval(verify_every);
    sign.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    verify.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // Leadership is asked at each tick, not as the branch's condition: a condition is
            // read when the select starts, so a node that took the lease meanwhile would not
            // sign until another branch woke the loop (up to verify_seconds later).
            _ = sign.tick() => {
                if !state.leadership.is_leader() {
                    continue;
                }
                if let Err(e) = state.audit.checkpoint(state.clock.now(), &state.metrics).await {
                    tracing::warn!(error = %e, "audit checkpoint not signed");
                }
                if let Err(e) = state.audit.cosign(witnesses, state.clock.now(), &state.metrics).await {
                    tracing::warn!(error = %e, "audit checkpoint not sent to the witnesses");
                }
            }
            _ = verify.tick() => {
                match state.audit.verify_increment(&state.metrics).await {
                    Ok(n) => tracing::debug!(events = n, "audit log re-verified"),
                    Err(e) => tracing::warn!(error = %e, "audit log re-verification failed"),
                }
            }
            _ = archive.tick(), if state.config.audit.retention_days > 0 => {
                if !state.leadership.is_leader() {
                    continue;
                }
                let now = state.clock.now();
                let cutoff = now - time::Duration::days(i64::from(state.config.audit.retention_days));
                let dir = archive_dir(&state.config);
                match state.audit.archive(cutoff, &dir, &state.system_context(), now, &state.metrics).await {
                    Ok(Some(r)) => tracing::info!(from = r.from, to = r.to, segment = %r.path.display(), "audit events archived"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "audit archiving failed; nothing was removed"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// Runs the search-key compaction (see `Store::audit_compact_keys`) until `stop` flips.
/// Each step is one short transaction, so appends wait at most one step for the writer.
/// While events are being appended the compaction yields (see `compaction_pause`); when
/// appends stop it runs a step after another until it has caught up, then looks every
/// second.
/// It works only while `leads()` says this node runs the once-per-cluster work
/// ([`crate::cluster`]).
pub async fn run_key_compaction(
    store: Store,
    metrics: Arc<Metrics>,
    leads: impl Fn() -> bool + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut seen = store.audit_appended();
    loop {
        if !leads() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                _ = stop.changed() => break,
            }
        }
        let started = std::time::Instant::now();
        let pause = match store.audit_compact_keys().await {
            Ok(true) => {
                metrics.audit_compaction_steps.inc();
                let took = started.elapsed();
                // Unknown counts as over the bound: the compaction then keeps its share.
                let backlog = store.audit_key_backlog().await.unwrap_or(u64::MAX);
                metrics
                    .audit_compaction_backlog
                    .set(i64::try_from(backlog).unwrap_or(i64::MAX));
                let appended = store.audit_appended();
                let busy = appended != seen;
                seen = appended;
                compaction_pause(took, busy, backlog)
            }
            Ok(false) => {
                // Nothing ready and nothing under way.
                metrics.audit_compaction_backlog.set(0);
                Duration::from_secs(1)
            }
            Err(e) => {
                tracing::warn!(error = %e, "audit search-key compaction step failed; retrying");
                Duration::from_secs(5)
            }
        };
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => break,
        }
    }
}

/// How long the compaction waits after a step that took `took`, with `backlog` merges
/// ready or under way:
/// - nothing when no event was appended since the step before: it catches up at full speed;
/// - while appends go on, [`YIELD`] times the step, so it holds the writer at most a fifth
///   of the time and appends keep most of it;
/// - but once the backlog reaches [`BACKLOG_BOUND`], only as long as the step: the
///   compaction then takes half the writer's time, appends slow down, and the backlog
///   stops growing, however long the ingest goes on.
///
/// Below the bound, searches stay exact meanwhile (they read more packs) and
/// the rest is worked off at the next lull.
fn compaction_pause(took: Duration, busy: bool, backlog: u64) -> Duration {
    if !busy {
        Duration::ZERO
    } else if backlog >= BACKLOG_BOUND {
        took
    } else {
        took.saturating_mul(YIELD)
    }
}

/// See [`compaction_pause`].
const YIELD: u32 = 4;

/// Merges ready or under way past which the compaction stops yielding most of the writer to
/// appends (see [`compaction_pause`]). A level-1 merge gathers the packs of 2^18 events
/// (1,024 blocks), so 8 of them leave a search about 8,000 more packs to read than a
/// compacted log would.
const BACKLOG_BOUND: u64 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compaction_yields_to_appends_until_its_backlog_reaches_the_bound() {
        let step = Duration::from_millis(10);
        // (appends since the last step, backlog) → pause
        let table = [
            (false, 0, Duration::ZERO),
            (false, BACKLOG_BOUND * 10, Duration::ZERO),
            (true, 0, step * YIELD),
            (true, BACKLOG_BOUND - 1, step * YIELD),
            (true, BACKLOG_BOUND, step),
            (true, u64::MAX, step),
        ];
        for (busy, backlog, pause) in table {
            assert_eq!(
                compaction_pause(step, busy, backlog),
                pause,
                "busy {busy}, backlog {backlog}"
            );
        }
    }
}
