//! `/console/hierarchy-rebuild`: rebuilding the hierarchy index from the console, with its
//! progress shown live (`authz::rebuild`: the same rebuild as `rampart acl rebuild`, audited
//! as `authz.rebuild` under the administrator who pressed the button).
//!
//! - `GET` shows the cluster's current or latest rebuild (running: its progress; ended: what it found and
//!   did, and how long it took) and, for administrators, the button that starts one: this
//!   page is the confirmation, saying what a rebuild does before anyone starts it.
//! - `POST` starts it (administrators, with the page's CSRF token) and leads back to the page.
//! - `GET …/progress` answers the progress as JSON. While a rebuild runs, the page's script
//!   (the nonce of the page's CSP; `static/console/rebuild.js`) reads it twice a second and
//!   moves the page's progress bar, then loads the page again for the result; without
//!   script, the page's Refresh link does the same by hand.
//!
//! Outside `/console/hierarchies/…`, where a hierarchy of any name has its page.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_authz::policy::Operation;
use rampart_service::authz::rebuild::{self, Outcome, RebuildStatus};
use rampart_service::identity;
use rampart_service::AppState;
use serde_json::json;

use super::super::account::stamp;
use super::super::{error_page, Section, Shell};
use crate::console::door::doors::{HierarchiesRead, HierarchyRebuild};
use crate::console::door::{Page, Sent};
use crate::routes::page;

/// The page.
pub const PAGE: &str = "/console/hierarchy-rebuild";

/// What the page's script runs: reads the progress while a rebuild runs.
const SCRIPT: &str = include_str!("../../../static/console/rebuild.js");

#[derive(Template)]
#[template(path = "console/rebuild.html")]
struct RebuildPage<'a> {
    shell: &'a Shell,
    administrator: bool,
    latest: Option<Latest>,
    /// A rebuild runs: the page shows its progress, and its script reads it.
    running: bool,
    script: &'static str,
}

/// The latest rebuild as the page shows it.
struct Latest {
    /// The node that runs or ran it.
    node: String,
    started_by: String,
    started_at: String,
    running: bool,
    done: u64,
    total: u64,
    /// Ended well: the facts, in sentences.
    result: Option<Vec<String>>,
    failed: Option<String>,
}

/// `n` and the noun, singular or plural.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn latest(s: RebuildStatus) -> Latest {
    let (result, failed) = match &s.outcome {
        None => (None, None),
        Some(Outcome::Rebuilt { report, took }) => (
            Some(vec![
                count(report.hierarchies as u64, "hierarchy", "hierarchies") + " rebuilt",
                count(report.nodes, "node", "nodes") + " checked",
                count(report.paths_fixed, "path", "paths") + " repaired",
                count(report.cycles_broken, "cycle", "cycles") + " broken",
                format!(
                    "{} and {}",
                    count(report.records, "record", "records"),
                    count(report.grants, "explicit grant", "explicit grants")
                ),
                format!("in {} ms", took.as_millis()),
            ]),
            None,
        ),
        Some(Outcome::Failed(why)) => (None, Some(why.clone())),
        Some(Outcome::Abandoned(why)) => (None, Some(format!("Abandoned: {why}"))),
    };
    Latest {
        node: s.node,
        started_by: s.started_by,
        started_at: stamp(s.started_at),
        running: s.outcome.is_none(),
        // The index's count when it started; the tables may hold more (a repaired tree).
        total: s.total.max(s.done),
        done: s.done,
        result,
        failed,
    }
}

/// `GET /console/hierarchy-rebuild`: the latest rebuild, and the button (administrators).
pub async fn show(State(state): State<AppState>, page: Page<HierarchiesRead>) -> Response {
    let Page {
        here,
        mut shell,
        operator,
        ..
    } = page;
    let status = match rebuild::status(&state, &operator.auth.user).await {
        Ok(s) => s,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let administrator = identity::may(&state, &operator.auth.user, Operation::AdministerUsers)
        .await
        .unwrap_or(false);
    let latest = status.map(latest);
    let running = latest.as_ref().is_some_and(|l| l.running);
    shell.script = running;
    let html = RebuildPage {
        shell: &shell,
        administrator,
        latest,
        running,
        script: SCRIPT,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/hierarchy-rebuild`: starts a rebuild (administrators), then the page.
pub async fn start(State(state): State<AppState>, sent: Sent<HierarchyRebuild>) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    match rebuild::start(&state, &operator.auth.caller(&state)).await {
        Ok(_) => shell.finish(page::see_other(PAGE)),
        Err(e) => shell.finish(error_page(&shell, e, PAGE)),
    }
}

/// `GET /console/hierarchy-rebuild/progress`: the latest rebuild as JSON (`state`: `none`,
/// `running`, `done`, `failed` or `abandoned`; `done` of `total` nodes; once done, the report).
pub async fn progress(State(state): State<AppState>, page: Page<HierarchiesRead>) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let body = match rebuild::status(&state, &operator.auth.user).await {
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
        Ok(None) => json!({ "state": "none" }),
        Ok(Some(s)) => {
            let mut body = json!({
                "state": match &s.outcome {
                    None => "running",
                    Some(Outcome::Rebuilt { .. }) => "done",
                    Some(Outcome::Failed(_)) => "failed",
                    Some(Outcome::Abandoned(_)) => "abandoned",
                },
                "phase": s.phase,
                "done": s.done,
                "total": s.total,
                "started_by": s.started_by,
            });
            match &s.outcome {
                Some(Outcome::Rebuilt { report, took }) => {
                    body["report"] = json!({
                        "hierarchies": report.hierarchies,
                        "nodes": report.nodes,
                        "paths_fixed": report.paths_fixed,
                        "cycles_broken": report.cycles_broken,
                        "records": report.records,
                        "grants": report.grants,
                        "took_ms": u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                    });
                }
                Some(Outcome::Failed(why) | Outcome::Abandoned(why)) => body["error"] = json!(why),
                None => {}
            }
            body
        }
    };
    shell.finish(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
    )
}
