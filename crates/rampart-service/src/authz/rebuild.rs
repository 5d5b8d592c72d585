//! Rebuilding the hierarchy index: every materialised path recomputed from the parent links
//! (`Store::authz_rebuild`, which records `authz.rebuild` in the audit log in the same
//! transaction), then this node's index brought up to date. [`run`] is the rebuild itself,
//! reporting its progress to a callback: `rampart acl rebuild` draws it in the terminal.
//! [`start`] runs it in the background for an administrator (the console's Rebuild button,
//! `POST /api/v1/hierarchies/rebuild`) and [`status`] reads its progress and, once it has
//! ended, its result.
//!
//! **Seen from every node.** A rebuild [`start`] begins is recorded in the store
//! (`Store::rebuild_begin`, one row per rebuild) before it runs, so [`status`] on any node
//! sharing the database shows the cluster's current or latest rebuild, and a second start
//! anywhere is refused while one runs (one running row at a time, the store's unique index
//! deciding between two starts that race). The node running it keeps its progress in memory
//! and, on PostgreSQL, writes it to the row as the store reports it (every few hundred
//! nodes) and at least every [`REPORT_EVERY`]; on SQLite the one process's memory is the
//! only reader (the rebuild holds the only writer), and the row is written when it ends.
//!
//! **A node that died.** Its rebuild's transaction rolled back, but its row still says
//! `running`. The row is *abandoned* when its node's lease in `cluster_nodes` has lapsed or
//! its node has not reported for [`QUIET`] (PostgreSQL), when it is another process's on
//! SQLite (a store has one process), or when it is this process's own but no longer runs
//! here. [`status`] says so, and the next [`start`] records it as abandoned and begins.
//! A node that lost its listening connection gives its lease up while it keeps running:
//! another node may then take its rebuild for abandoned and start a second, which waits for
//! the first's row locks and then finds nothing left to repair.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rampart_authz::policy::Operation;
use rampart_core::{AuditContext, Error, User};
use rampart_store::{Progress, RebuildReport, RebuildRow, RebuildState};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::caller::Caller;
use crate::state::AppState;

/// How often, at least, a node running a rebuild reports to its row (PostgreSQL).
pub const REPORT_EVERY: Duration = Duration::from_secs(5);

/// A running rebuild whose node has not reported for this long is abandoned.
pub const QUIET: Duration = Duration::from_secs(60);

/// Rebuilds every hierarchy's paths (those of the hierarchy entity `entity`'s owner rule
/// uses, when given) as `ctx`'s actor, then makes this node's index current.
pub async fn run(
    state: &AppState,
    ctx: &AuditContext,
    entity: Option<&str>,
    progress: Progress<'_>,
) -> Result<RebuildReport, Error> {
    let report = state
        .store
        .authz_rebuild(ctx, state.clock.now(), entity, progress)
        .await?;
    // Repaired paths come with a `Reload` change, which catching up applies.
    state.authz.catch_up().await?;
    Ok(report)
}

/// The rebuild this node runs, if any: its record's number (once recorded) and progress.
#[derive(Debug, Default)]
pub struct Rebuilds {
    running: Mutex<Option<Running>>,
    /// A rebuild started here takes this before it begins its work: holding it keeps a
    /// started rebuild running without progress (tests watching a rebuild while it runs).
    gate: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    /// `None` while its row is being written.
    id: Option<i64>,
    phase: &'static str,
    done: u64,
}

impl Rebuilds {
    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps the rebuilds started on this node from beginning their work until the guard
    /// is dropped: they are recorded and shown as running, at their first node.
    pub async fn hold(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.gate.lock().await
    }
}

/// A rebuild as [`status`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildStatus {
    /// Its number.
    pub id: i64,
    /// Who started it (`it:admin`).
    pub started_by: String,
    /// When.
    pub started_at: OffsetDateTime,
    /// The node that runs (or ran) it: its `node_id`.
    pub node: String,
    /// The nodes the index held when it started: what `done` counts towards.
    pub total: u64,
    /// The phase running (`starting`, `nodes`; `done` once ended), as the store reports it.
    pub phase: String,
    /// Nodes visited so far (as last reported, from another node).
    pub done: u64,
    /// How it ended; `None` while it runs.
    pub outcome: Option<Outcome>,
    /// When it ended (`None` while it runs, or abandoned and not yet recorded so).
    pub finished_at: Option<OffsetDateTime>,
}

/// How a rebuild ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Rebuilt: what it found and did, and how long it took.
    Rebuilt {
        /// The store's report.
        report: RebuildReport,
        /// From start to an index current again.
        took: Duration,
    },
    /// Failed, nothing changed (the rebuild is one transaction): why.
    Failed(String),
    /// Its node stopped before it ended, nothing changed: what shows it.
    Abandoned(String),
}

/// Why running rebuild `row` is abandoned, or `None` if its node runs it. `starting`: this
/// node is beginning a rebuild of its own (which has no row yet).
fn abandoned(
    state: &AppState,
    row: &RebuildRow,
    mine: Option<Running>,
    starting: bool,
) -> Option<String> {
    if row.state != RebuildState::Running {
        return None;
    }
    if row.instance == state.fence.instance() {
        let runs_here = match mine.map(|m| m.id) {
            Some(Some(id)) => id == row.id,
            // Writing its row: a row of ours already there is an older one's.
            Some(None) => !starting,
            None => false,
        };
        return (!runs_here).then(|| "this node stopped running it before it ended".to_owned());
    }
    if state.store.is_exclusive() {
        return Some("the process that started it stopped before it ended".to_owned());
    }
    if !row.node_live {
        return Some(format!(
            "node {} stopped before it ended (its lease lapsed)",
            row.node_id
        ));
    }
    (row.quiet_for > QUIET).then(|| {
        format!(
            "node {} has not reported its progress for {} s",
            row.node_id,
            row.quiet_for.as_secs()
        )
    })
}

/// The status of `row`, read after `before` (this node's rebuild as it was just before the
/// row was read). A rebuild of this node that ended, or began, between the two reads is
/// running by one of the two looks, so it is never taken for abandoned.
fn view(state: &AppState, row: RebuildRow, before: Option<Running>) -> RebuildStatus {
    let mine = *state.rebuilds.lock();
    let why = abandoned(state, &row, before, false).and(abandoned(state, &row, mine, false));
    let (phase, done) = match mine {
        Some(m) if m.id == Some(row.id) && row.state == RebuildState::Running => {
            (m.phase.to_owned(), m.done.max(row.checked))
        }
        _ => (row.phase.clone(), row.checked),
    };
    let outcome = match row.state {
        RebuildState::Running => why.map(Outcome::Abandoned),
        RebuildState::Rebuilt => Some(Outcome::Rebuilt {
            report: row.report.clone().unwrap_or_default(),
            took: row.took.unwrap_or_default(),
        }),
        RebuildState::Failed => Some(Outcome::Failed(
            row.error.clone().unwrap_or_else(|| "unknown".into()),
        )),
        RebuildState::Abandoned => Some(Outcome::Abandoned(
            "its node stopped before it ended".to_owned(),
        )),
    };
    RebuildStatus {
        id: row.id,
        started_by: row.started_by,
        started_at: row.started_at,
        node: row.node_id,
        total: row.total,
        phase,
        done,
        outcome,
        finished_at: row.finished_at,
    }
}

fn running_elsewhere(row: &RebuildRow) -> Error {
    Error::Conflict(format!(
        "a rebuild started by {} on node {} is running; wait for it to end",
        row.started_by, row.node_id
    ))
}

/// Starts a rebuild of every hierarchy in the background as `caller`, an IT administrator
/// (after a recent second factor when they have one, as every change of authorization data);
/// its status as recorded. Refused (`Conflict`) while another runs on any node.
pub async fn start(state: &AppState, caller: &Caller) -> Result<RebuildStatus, Error> {
    if !crate::identity::may(state, &caller.user, Operation::AdministerUsers).await? {
        return Err(Error::Forbidden(
            "only IT administrators may rebuild the hierarchy index".into(),
        ));
    }
    crate::identity::mfa::require_step_up(state, caller, "rebuilding the hierarchy index").await?;
    state.authz.fresh(None).await?;
    let total: u64 = state
        .authz
        .view()
        .hierarchies()
        .into_iter()
        .map(|(_, _, nodes)| nodes as u64)
        .sum();
    {
        let mut running = state.rebuilds.lock();
        if running.is_some() {
            return Err(Error::Conflict(
                "a rebuild is running on this node; wait for it to end".into(),
            ));
        }
        *running = Some(Running {
            id: None,
            phase: "starting",
            done: 0,
        });
    }
    let started_by = caller
        .audit
        .actor_name
        .clone()
        .unwrap_or_else(|| caller.user.username.clone());
    let id = match record(state, &started_by, total).await {
        Ok(id) => id,
        Err(e) => {
            *state.rebuilds.lock() = None;
            return Err(e);
        }
    };
    if let Some(m) = state.rebuilds.lock().as_mut() {
        m.id = Some(id);
    }
    tokio::spawn(work(state.clone(), caller.audit.clone(), id));
    let before = *state.rebuilds.lock();
    match state.store.rebuild_latest().await? {
        Some(row) if row.id == id => Ok(view(state, row, before)),
        _ => Err(Error::Internal("the rebuild's record is missing".into())),
    }
}

/// Records the rebuild this node begins, after ending as abandoned a running one whose node
/// no longer runs it; its number.
async fn record(state: &AppState, started_by: &str, total: u64) -> Result<i64, Error> {
    let now = state.clock.now();
    if let Some(row) = state.store.rebuild_latest().await? {
        if row.state == RebuildState::Running {
            let mine = *state.rebuilds.lock();
            match abandoned(state, &row, mine, true) {
                Some(why) => {
                    tracing::warn!(rebuild = row.id, node = %row.node_id, why = %why, "a hierarchy rebuild was abandoned");
                    state.store.rebuild_abandon(row.id, now).await?;
                }
                None => return Err(running_elsewhere(&row)),
            }
        }
    }
    let begun = state
        .store
        .rebuild_begin(
            started_by,
            state.fence.instance(),
            &state.config.node_id,
            now,
            total,
        )
        .await;
    match begun {
        // Another node's start won the race between our read and our insert.
        Err(Error::Conflict(_)) => match state.store.rebuild_latest().await? {
            Some(row) if row.state == RebuildState::Running => Err(running_elsewhere(&row)),
            _ => Err(Error::Conflict(
                "another rebuild started meanwhile; wait for it to end".into(),
            )),
        },
        other => other,
    }
}

/// Runs rebuild `id` as `ctx`'s actor and records how it ended.
async fn work(state: AppState, ctx: AuditContext, id: i64) {
    let rebuilds = state.rebuilds.clone();
    let began = Instant::now();
    let (sent, heard) = watch::channel(("starting", 0u64));
    let reporter =
        (!state.store.is_exclusive()).then(|| tokio::spawn(report(state.clone(), id, heard)));
    let _held = rebuilds.gate.lock().await;
    let result = {
        let mut tick = |phase: &'static str, n: u64| {
            if let Some(m) = rebuilds.lock().as_mut() {
                m.phase = phase;
                m.done = n;
            }
            sent.send_replace((phase, n));
        };
        run(&state, &ctx, None, &mut tick).await
    };
    drop(sent);
    if let Some(reporter) = reporter {
        let _ = reporter.await;
    }
    let now = state.clock.now();
    let ended = match &result {
        Ok(report) => {
            state
                .store
                .rebuild_end(id, now, Ok((report, began.elapsed())))
                .await
        }
        Err(e) => {
            tracing::error!(error = ?e, "the hierarchy rebuild failed");
            state
                .store
                .rebuild_end(id, now, Err(e.to_string().as_str()))
                .await
        }
    };
    if let Err(e) = ended {
        tracing::error!(error = ?e, rebuild = id, "recording how the hierarchy rebuild ended failed");
    }
    *rebuilds.lock() = None;
}

/// Writes the progress of rebuild `id` to its row as it moves, and at least every
/// [`REPORT_EVERY`], until the rebuild drops its sender.
async fn report(state: AppState, id: i64, mut heard: watch::Receiver<(&'static str, u64)>) {
    loop {
        let ended = tokio::select! {
            changed = heard.changed() => changed.is_err(),
            () = tokio::time::sleep(REPORT_EVERY) => false,
        };
        if ended {
            return;
        }
        let (phase, done) = *heard.borrow_and_update();
        if let Err(e) = state
            .store
            .rebuild_progress(id, phase, done, state.clock.now())
            .await
        {
            tracing::warn!(error = %e, rebuild = id, "recording the hierarchy rebuild's progress failed");
        }
    }
}

/// The cluster's current or latest rebuild started by [`start`], running or ended (`None`:
/// none yet), for administrators and auditors.
pub async fn status(state: &AppState, user: &User) -> Result<Option<RebuildStatus>, Error> {
    if !crate::identity::may(state, user, Operation::ReadAuthorizationData).await? {
        return Err(Error::Forbidden(
            "reading authorization data about others needs an administrator or the `auditor` \
             IT role"
                .into(),
        ));
    }
    let before = *state.rebuilds.lock();
    Ok(state
        .store
        .rebuild_latest()
        .await?
        .map(|row| view(state, row, before)))
}

/// `status` as the API answers it.
pub fn wire(status: Option<&RebuildStatus>) -> rampart_api::HierarchyRebuild {
    use rampart_api::{HierarchyRebuild, HierarchyRebuildReport, HierarchyRebuildState as S};
    let Some(s) = status else {
        return HierarchyRebuild {
            state: S::None,
            id: None,
            started_by: None,
            started_at: None,
            node: None,
            phase: None,
            checked: 0,
            total: 0,
            finished_at: None,
            duration_ms: None,
            report: None,
            error: None,
        };
    };
    let (state, report, duration_ms, error) = match &s.outcome {
        None => (S::Running, None, None, None),
        Some(Outcome::Rebuilt { report, took }) => (
            S::Rebuilt,
            Some(HierarchyRebuildReport {
                hierarchies: report.hierarchies as u64,
                nodes: report.nodes,
                paths_fixed: report.paths_fixed,
                cycles_broken: report.cycles_broken,
                grants: report.grants,
                records: report.records,
            }),
            Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX)),
            None,
        ),
        Some(Outcome::Failed(why)) => (S::Failed, None, None, Some(why.clone())),
        Some(Outcome::Abandoned(why)) => (S::Abandoned, None, None, Some(why.clone())),
    };
    HierarchyRebuild {
        state,
        id: Some(s.id),
        started_by: Some(s.started_by.clone()),
        started_at: Some(s.started_at),
        node: Some(s.node.clone()),
        phase: Some(s.phase.clone()),
        checked: s.done,
        total: s.total,
        finished_at: s.finished_at,
        duration_ms,
        report,
        error,
    }
}
