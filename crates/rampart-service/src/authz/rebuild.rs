//! Rebuilding the hierarchy index: every materialised path recomputed from the parent links
//! (`Store::authz_rebuild`, which records `authz.rebuild` in the audit log in the same
//! transaction), then this node's index brought up to date. [`run`] is the rebuild itself,
//! reporting its progress to a callback: `rampart acl rebuild` draws it in the terminal.
//! [`start`] runs it in the background for an administrator (the console's Rebuild button)
//! and [`status`] reads its progress and, once it has ended, its result.
//!
//! The progress is this node's: a rebuild started on another node of a cluster is not seen
//! here (its audit event is). One rebuild runs at a time on a node; a second is refused while
//! the first runs.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rampart_authz::policy::Operation;
use rampart_core::{AuditContext, Error, User};
use rampart_store::{Progress, RebuildReport};
use time::OffsetDateTime;

use crate::caller::Caller;
use crate::state::AppState;

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

/// The node's latest rebuild started by [`start`], while it runs and after.
#[derive(Debug, Default)]
pub struct Rebuilds {
    latest: Mutex<Option<RebuildStatus>>,
}

impl Rebuilds {
    fn lock(&self) -> MutexGuard<'_, Option<RebuildStatus>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A rebuild as [`status`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildStatus {
    /// Who started it (`it:admin`).
    pub started_by: String,
    /// When.
    pub started_at: OffsetDateTime,
    /// The nodes the index held when it started: what `done` counts towards.
    pub total: u64,
    /// The phase running (`nodes`), as the store reports it.
    pub phase: &'static str,
    /// Nodes visited so far.
    pub done: u64,
    /// How it ended; `None` while it runs.
    pub outcome: Option<Outcome>,
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
}

/// Starts a rebuild of every hierarchy in the background as `caller`, an IT administrator
/// (after a recent second factor when they have one, as every change of authorization data).
/// Refused while another started here runs.
pub async fn start(state: &AppState, caller: &Caller) -> Result<(), Error> {
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
        let mut latest = state.rebuilds.lock();
        if let Some(running) = latest.as_ref().filter(|s| s.outcome.is_none()) {
            return Err(Error::Conflict(format!(
                "a rebuild started by {} is running; wait for it to end",
                running.started_by
            )));
        }
        *latest = Some(RebuildStatus {
            started_by: caller
                .audit
                .actor_name
                .clone()
                .unwrap_or_else(|| caller.user.username.clone()),
            started_at: state.clock.now(),
            total,
            phase: "starting",
            done: 0,
            outcome: None,
        });
    }
    let state = state.clone();
    let ctx = caller.audit.clone();
    tokio::spawn(async move {
        let began = Instant::now();
        let rebuilds: Arc<Rebuilds> = state.rebuilds.clone();
        let mut tick = |phase: &'static str, n: u64| {
            if let Some(s) = rebuilds.lock().as_mut() {
                s.phase = phase;
                s.done = n;
            }
        };
        let outcome = match run(&state, &ctx, None, &mut tick).await {
            Ok(report) => Outcome::Rebuilt {
                report,
                took: began.elapsed(),
            },
            Err(e) => {
                tracing::error!(error = ?e, "the hierarchy rebuild failed");
                Outcome::Failed(e.to_string())
            }
        };
        if let Some(s) = state.rebuilds.lock().as_mut() {
            if let Outcome::Rebuilt { report, .. } = &outcome {
                s.done = report.nodes;
            }
            s.phase = "done";
            s.outcome = Some(outcome);
        }
    });
    Ok(())
}

/// The node's latest rebuild started by [`start`], running or ended (`None`: none since the
/// node started), for administrators and auditors.
pub async fn status(state: &AppState, user: &User) -> Result<Option<RebuildStatus>, Error> {
    if !crate::identity::may(state, user, Operation::ReadAuthorizationData).await? {
        return Err(Error::Forbidden(
            "reading authorization data about others needs an administrator or the `auditor` \
             IT role"
                .into(),
        ));
    }
    Ok(state.rebuilds.lock().clone())
}
