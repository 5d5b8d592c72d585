//! The record of each hierarchy rebuild started for an administrator (migration
//! `0022_authz_rebuilds`): who started it, on which node, its progress while it runs and its
//! outcome, so that every node sharing the database shows the same current or latest
//! rebuild, and a second start anywhere is refused while one runs.
//!
//! **One running row at a time.** A partial unique index allows one row whose `state` is
//! `running`: of two starts racing on two nodes, the second insert conflicts. A row left
//! running by a node that died is ended as `abandoned` ([`Store::rebuild_abandon`]) by the
//! next start that finds it so; whether it is, the caller judges from what
//! [`Store::rebuild_latest`] reads (the node's lease, how long since it last reported).

use std::time::Duration;

use rampart_core::Error;
use time::OffsetDateTime;

use crate::backend::{from_millis, from_millis_opt, to_millis};
use crate::db::{Arg, Row};
use crate::{RebuildReport, Store};

/// A rebuild's state as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildState {
    /// Its node runs it (or did until it died: see [`RebuildRow::node_live`]).
    Running,
    /// It ended, rebuilt.
    Rebuilt,
    /// It failed; nothing was changed.
    Failed,
    /// Its node stopped before it ended; nothing was changed.
    Abandoned,
}

impl RebuildState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RebuildState::Running => "running",
            RebuildState::Rebuilt => "rebuilt",
            RebuildState::Failed => "failed",
            RebuildState::Abandoned => "abandoned",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "running" => RebuildState::Running,
            "rebuilt" => RebuildState::Rebuilt,
            "failed" => RebuildState::Failed,
            "abandoned" => RebuildState::Abandoned,
            other => return Err(Error::Internal(format!("unknown rebuild state `{other}`"))),
        })
    }
}

/// A rebuild as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildRow {
    /// Its number.
    pub id: i64,
    /// Who started it (`it:admin`).
    pub started_by: String,
    /// The process that runs it (its row in `cluster_nodes`).
    pub instance: String,
    /// That process's node id (`[server] node_id`).
    pub node_id: String,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// The nodes the index held when it started.
    pub total: u64,
    /// The phase last reported.
    pub phase: String,
    /// Nodes visited, as last reported.
    pub checked: u64,
    /// Its state.
    pub state: RebuildState,
    /// When it ended.
    pub finished_at: Option<OffsetDateTime>,
    /// Rebuilt: what it found and did.
    pub report: Option<RebuildReport>,
    /// Rebuilt: from start to an index current again.
    pub took: Option<Duration>,
    /// Failed: why.
    pub error: Option<String>,
    /// PostgreSQL: whether its node holds a live lease in `cluster_nodes` now (always true
    /// on SQLite, whose one process the caller asks instead).
    pub node_live: bool,
    /// PostgreSQL: how long since its node last reported, by the database's clock (zero on
    /// SQLite).
    pub quiet_for: Duration,
}

fn u(row: &Row, col: &str) -> Result<u64, Error> {
    Ok(u64::try_from(row.get::<i64, _>(col)?).unwrap_or(0))
}

fn u_opt(row: &Row, col: &str) -> Result<u64, Error> {
    Ok(u64::try_from(row.get::<Option<i64>, _>(col)?.unwrap_or(0)).unwrap_or(0))
}

fn rebuild_row(row: &Row) -> Result<RebuildRow, Error> {
    let state = RebuildState::parse(&row.get::<String, _>("state")?)?;
    let report = match state {
        RebuildState::Rebuilt => Some(RebuildReport {
            hierarchies: usize::try_from(u_opt(row, "hierarchies")?).unwrap_or(usize::MAX),
            nodes: u(row, "checked")?,
            paths_fixed: u_opt(row, "paths_fixed")?,
            cycles_broken: u_opt(row, "cycles_broken")?,
            grants: u_opt(row, "grants")?,
            records: u_opt(row, "records")?,
        }),
        _ => None,
    };
    let took = row
        .get::<Option<i64>, _>("took_ms")?
        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    let quiet: i64 = row.get("quiet_ms")?;
    let live: i64 = row.get("node_live")?;
    Ok(RebuildRow {
        id: row.get("id")?,
        started_by: row.get("started_by")?,
        instance: row.get("instance")?,
        node_id: row.get("node_id")?,
        started_at: from_millis(row.get("started_at")?)?,
        total: u(row, "total")?,
        phase: row.get("phase")?,
        checked: u(row, "checked")?,
        state,
        finished_at: from_millis_opt(row.get("finished_at")?)?,
        report,
        took,
        error: row.get("error")?,
        node_live: live != 0,
        quiet_for: Duration::from_millis(u64::try_from(quiet).unwrap_or(0)),
    })
}

const COLUMNS: &str = "r.id, r.started_by, r.instance, r.node_id, r.started_at, r.total, r.phase, \
     r.checked, r.state, r.finished_at, r.hierarchies, r.paths_fixed, r.cycles_broken, r.grants, \
     r.records, r.took_ms, r.error";

impl Store {
    /// Records a rebuild started at `now` by `started_by` on process `instance` (of node
    /// `node_id`), counting towards `total` nodes; its number. A `Conflict` while another
    /// is recorded as running (whatever its node's health: the caller ends an abandoned one
    /// first).
    pub async fn rebuild_begin(
        &self,
        started_by: &str,
        instance: &str,
        node_id: &str,
        now: OffsetDateTime,
        total: u64,
    ) -> Result<i64, Error> {
        let mut tx = self.write().await?;
        let id: i64 = tx
            .scalar(
                "INSERT INTO authz_rebuilds (started_by, instance, node_id, started_at, total, \
                 phase, checked, state) VALUES ($1, $2, $3, $4, $5, 'starting', 0, 'running') \
                 RETURNING id",
                [
                    Arg::from(started_by),
                    Arg::from(instance),
                    Arg::from(node_id),
                    Arg::from(to_millis(now)),
                    Arg::from(i64::try_from(total).unwrap_or(i64::MAX)),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records the progress of running rebuild `id`: `phase`, `checked` nodes visited, and
    /// that its node reported now (the database's clock on PostgreSQL; `now` on SQLite).
    /// Nothing when it is no longer running.
    pub async fn rebuild_progress(
        &self,
        id: i64,
        phase: &str,
        checked: u64,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let checked = i64::try_from(checked).unwrap_or(i64::MAX);
        let mut tx = self.write().await?;
        if self.is_exclusive() {
            tx.exec(
                "UPDATE authz_rebuilds SET phase = $2, checked = $3, reported_at = $4 \
                 WHERE id = $1 AND state = 'running'",
                [
                    Arg::from(id),
                    Arg::from(phase),
                    Arg::from(checked),
                    Arg::from(to_millis(now)),
                ],
            )
            .await?;
        } else {
            tx.exec(
                "UPDATE authz_rebuilds SET phase = $2, checked = $3, reported_at = now() \
                 WHERE id = $1 AND state = 'running'",
                [Arg::from(id), Arg::from(phase), Arg::from(checked)],
            )
            .await?;
        }
        tx.commit().await
    }

    /// Records how rebuild `id` ended at `now`: rebuilt (`Ok`: the report and how long it
    /// took) or failed (`Err`: why).
    pub async fn rebuild_end(
        &self,
        id: i64,
        now: OffsetDateTime,
        outcome: Result<(&RebuildReport, Duration), &str>,
    ) -> Result<(), Error> {
        let n = |v: u64| Arg::from(i64::try_from(v).unwrap_or(i64::MAX));
        let mut tx = self.write().await?;
        match outcome {
            Ok((report, took)) => {
                tx.exec(
                    "UPDATE authz_rebuilds SET state = 'rebuilt', phase = 'done', finished_at = $2, \
                     checked = $3, hierarchies = $4, paths_fixed = $5, cycles_broken = $6, \
                     grants = $7, records = $8, took_ms = $9, error = NULL WHERE id = $1",
                    [
                        Arg::from(id),
                        Arg::from(to_millis(now)),
                        n(report.nodes),
                        n(report.hierarchies as u64),
                        n(report.paths_fixed),
                        n(report.cycles_broken),
                        n(report.grants),
                        n(report.records),
                        n(u64::try_from(took.as_millis()).unwrap_or(u64::MAX)),
                    ],
                )
                .await?;
            }
            Err(why) => {
                tx.exec(
                    "UPDATE authz_rebuilds SET state = 'failed', phase = 'done', finished_at = $2, \
                     error = $3 WHERE id = $1",
                    [Arg::from(id), Arg::from(to_millis(now)), Arg::from(why)],
                )
                .await?;
            }
        }
        tx.commit().await
    }

    /// Ends running rebuild `id` as abandoned at `now` (its node stopped before it ended);
    /// whether it was still running.
    pub async fn rebuild_abandon(&self, id: i64, now: OffsetDateTime) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let changed = tx
            .exec(
                "UPDATE authz_rebuilds SET state = 'abandoned', finished_at = $2 \
                 WHERE id = $1 AND state = 'running'",
                [Arg::from(id), Arg::from(to_millis(now))],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// The latest rebuild recorded (a running one is always the latest), with its node's
    /// health on PostgreSQL.
    pub async fn rebuild_latest(&self) -> Result<Option<RebuildRow>, Error> {
        let sql = if self.is_exclusive() {
            format!(
                "SELECT {COLUMNS}, 1 AS node_live, 0 AS quiet_ms FROM authz_rebuilds r \
                 ORDER BY r.id DESC LIMIT 1"
            )
        } else {
            format!(
                "SELECT {COLUMNS}, \
                 CAST(CASE WHEN EXISTS (SELECT 1 FROM cluster_nodes c WHERE c.instance = \
                 r.instance AND c.lease_until > now()) THEN 1 ELSE 0 END AS BIGINT) AS node_live, \
                 CAST(GREATEST(EXTRACT(EPOCH FROM now() - r.reported_at), 0) * 1000 AS BIGINT) \
                 AS quiet_ms FROM authz_rebuilds r ORDER BY r.id DESC LIMIT 1"
            )
        };
        let row = self.reader().row_opt(&sql, []).await?;
        row.as_ref().map(rebuild_row).transpose()
    }
}
