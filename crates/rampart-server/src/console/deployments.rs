//! `/console/deployments`: the environments and what runs in them, under the lifecycle's IT
//! levels.
//!
//! - The board: each module the user may see × each environment (its policies named), the
//!   version running there (`versions::running`), the requests waiting for a second
//!   approver (`requests::requests`), and the recent history (`versions::history`); each
//!   environment's whole history a page at a time ([`history`]); the deployment plans the
//!   user may see, a page at a time ([`plans`]).
//! - Deploy, stage and roll back in two steps: the plan first (the same use case with
//!   `dry_run`, as `POST /api/v1/environments/{env}/deployments|stage|rollback` previews
//!   it), then running it; a deployment into an environment that needs a second approver
//!   becomes a request.
//! - Approve (someone other than the requester) and reject (with a reason, on a page of its
//!   own) a waiting request through `requests::approve` and `requests::reject`.
//!
//! The forms appear only for whoever holds `deploy` somewhere (`versions::may_deploy`); the
//! use cases decide every action as they do for the API, before anything is read.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use rampart_api::{
    DeployItem, DeployRequest, DeployResponse, DeploymentRequestWire, HistoryQuery, RejectRequest,
    RequestsQuery, RollbackRequest, StageRequest,
};
use rampart_core::Error;
use rampart_service::caller::Caller;
use rampart_service::lifecycle::deploy::{self, Deployed};
use rampart_service::lifecycle::{requests, versions, LifecycleError};
use rampart_service::AppState;
use serde::Deserialize;

use super::account::stamp;
use super::door::doors::DeploymentsOpen;
use super::door::{Page, Sent};
use super::{error_page, field, message, Section, Segments, Shell};
use crate::error::ApiError;
use crate::routes::page;

pub mod history;
pub mod plans;

/// The deployment pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/deployments", get(board))
        .route("/console/deployments/plan", get(plan))
        .route("/console/deployments/run", post(run))
        .route("/console/deployments/{env}/history", get(history::show))
        .route(plans::PAGE, get(plans::show))
        .route(
            "/console/deployments/{env}/requests/{id}/approve",
            post(approve),
        )
        .route(
            "/console/deployments/{env}/requests/{id}/reject",
            get(confirm_reject).post(reject),
        )
}

/// An environment's column.
struct EnvColumn {
    name: String,
    policies: String,
}

/// A module's row: the version in each environment.
struct BoardRow {
    module: String,
    running: Vec<Option<i64>>,
}

/// A request waiting for a second approver.
struct RequestRow {
    id: i64,
    environment: String,
    kind: String,
    items: String,
    requester: String,
    requested: String,
    may_decide: bool,
}

#[derive(Template)]
#[template(path = "console/deployments.html")]
struct BoardPage<'a> {
    shell: &'a Shell,
    environments: &'a [EnvColumn],
    rows: &'a [BoardRow],
    pending: &'a [RequestRow],
    history: &'a [history::Line],
    deployer: bool,
    notice: Option<&'a str>,
    /// The address showing more history, when there may be more.
    more: Option<String>,
}

/// History lines the board shows at first, and how many more each "Show older" adds.
const HISTORY_STEP: usize = 20;

/// The most history lines the board shows (the API's bound per environment).
const HISTORY_MAX: usize = 1_000;

/// `?done=` on the board, and `?history=N` (how many history lines to show).
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    request: Option<i64>,
    #[serde(default)]
    history: Option<String>,
}

/// `GET /console/deployments`: the environment board.
pub async fn board(
    State(state): State<AppState>,
    page: Page<DeploymentsOpen>,
    query: Result<Query<Done>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let done = query.map(|q| q.0).unwrap_or_default();
    let notice = match (done.done.as_deref(), done.request) {
        (Some("applied"), _) => Some("Deployed.".to_owned()),
        (Some("nothing"), _) => Some("Nothing to do: every module already runs there.".into()),
        (Some("waiting"), Some(id)) => Some(format!(
            "Waiting for a second approver: request {id}. Someone else holding deploy there \
             approves it below."
        )),
        (Some("approved"), Some(id)) => Some(format!("Request {id} approved and deployed.")),
        (Some("rejected"), Some(id)) => Some(format!("Request {id} rejected.")),
        _ => None,
    };
    let shown = match done.history.as_deref().map(str::parse::<usize>) {
        None => HISTORY_STEP,
        Some(Ok(n)) if (1..=HISTORY_MAX).contains(&n) => n,
        Some(_) => {
            let e = Error::invalid("history", "must be a number of lines from 1 to 1000");
            return shell.finish(error_page(&shell, e, &here));
        }
    };
    match board_page(&state, &shell, &caller, notice.as_deref(), shown).await {
        Ok(html) => shell.finish(page::html(StatusCode::OK, html)),
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}

async fn board_page(
    state: &AppState,
    shell: &Shell,
    caller: &Caller,
    notice: Option<&str>,
    shown: usize,
) -> Result<Result<String, askama::Error>, Error> {
    let environments = versions::list_environments(state);
    let modules = versions::modules(state, caller).await?;
    let mut rows: Vec<BoardRow> = modules
        .iter()
        .map(|(m, _)| BoardRow {
            module: m.clone(),
            running: vec![None; environments.len()],
        })
        .collect();
    let mut pending = Vec::new();
    let mut history = Vec::new();
    let mut deployer = false;
    let mut maybe_more = false;
    for (i, env) in environments.iter().enumerate() {
        for r in versions::running(state, caller, &env.name).await? {
            if let Some(row) = rows.iter_mut().find(|row| row.module == r.module) {
                if let Some(cell) = row.running.get_mut(i) {
                    *cell = Some(r.version);
                }
            }
        }
        for (m, _) in &modules {
            if !deployer && versions::may_deploy(state, caller, m, &env.name).await? {
                deployer = true;
            }
        }
        let q = RequestsQuery {
            status: Some("pending".into()),
        };
        for r in requests::requests(state, caller, &env.name, q).await? {
            pending.push(request_row(state, caller, r).await?);
        }
        let q = HistoryQuery {
            module: None,
            limit: Some(i64::try_from(shown).unwrap_or(1_000)),
            cursor: None,
        };
        let lines = versions::history(state, caller, &env.name, q).await?.items;
        // An environment that filled its share may hold older lines.
        maybe_more |= lines.len() >= shown;
        history.extend(lines.into_iter().map(history::Line::of));
    }
    history.sort_by(|a, b| b.when.cmp(&a.when));
    let more = (maybe_more || history.len() > shown) && shown < HISTORY_MAX;
    history.truncate(shown);
    let more = more.then(|| {
        format!(
            "/console/deployments?history={}#history",
            (shown + HISTORY_STEP).min(HISTORY_MAX)
        )
    });
    let columns: Vec<EnvColumn> = environments
        .iter()
        .map(|e| {
            let mut p = Vec::new();
            if e.separation_of_duties {
                p.push("separation of duties");
            }
            if e.second_approver {
                p.push("second approver");
            }
            EnvColumn {
                name: e.name.clone(),
                policies: p.join(", "),
            }
        })
        .collect();
    Ok(BoardPage {
        shell,
        environments: &columns,
        rows: &rows,
        pending: &pending,
        history: &history,
        deployer,
        notice,
        more,
    }
    .render())
}

async fn request_row(
    state: &AppState,
    caller: &Caller,
    r: DeploymentRequestWire,
) -> Result<RequestRow, Error> {
    let mut may_decide = true;
    for item in &r.items {
        may_decide &= versions::may_deploy(state, caller, &item.module, &r.environment).await?;
    }
    Ok(RequestRow {
        id: r.id,
        kind: match &r.from {
            Some(from) => format!("{} from {from}", r.kind),
            None => r.kind.clone(),
        },
        items: r
            .items
            .iter()
            .map(|i| format!("{} v{}", i.module, i.version))
            .collect::<Vec<_>>()
            .join(", "),
        requester: r.requester,
        requested: stamp(r.requested_at),
        environment: r.environment,
        may_decide,
    })
}

/// What to plan or run: a deployment, a stage or a rollback into `environment`.
#[derive(Debug, Default, Deserialize)]
pub struct Action {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    module: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    from: String,
}

impl Action {
    fn of(fields: &[(String, String)]) -> Action {
        Action {
            kind: field(fields, "kind").to_owned(),
            environment: field(fields, "environment").to_owned(),
            module: field(fields, "module").to_owned(),
            version: field(fields, "version").to_owned(),
            from: field(fields, "from").to_owned(),
        }
    }

    /// Runs the action's use case (a plan when `dry_run`).
    async fn run(
        &self,
        state: &AppState,
        caller: &Caller,
        dry_run: bool,
    ) -> Result<Deployed<DeployResponse>, LifecycleError> {
        let env = self.environment.as_str();
        match self.kind.as_str() {
            "deploy" => {
                let version = self
                    .version
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| Error::invalid("version", "a version number: 1, 2, 3…"))?;
                let req = DeployRequest {
                    modules: vec![DeployItem {
                        module: self.module.clone(),
                        version,
                        expected: None,
                    }],
                    application: None,
                    tag: None,
                    dry_run,
                    drop_data: false,
                };
                deploy::deploy(state, caller, env, req).await
            }
            "stage" => {
                let req = StageRequest {
                    from: (!self.from.is_empty()).then(|| self.from.clone()),
                    modules: (!self.module.is_empty()).then(|| vec![self.module.clone()]),
                    dry_run,
                };
                deploy::stage(state, caller, env, req).await
            }
            "rollback" => {
                let req = RollbackRequest {
                    module: self.module.clone(),
                    dry_run,
                };
                deploy::rollback(state, caller, env, req).await
            }
            _ => Err(Error::invalid("kind", "deploy, stage or rollback").into()),
        }
    }

    /// The action in words.
    fn words(&self) -> String {
        match self.kind.as_str() {
            "deploy" => format!(
                "Deploy {} v{} to {}",
                self.module, self.version, self.environment
            ),
            "stage" => {
                let what = if self.module.is_empty() {
                    "everything"
                } else {
                    self.module.as_str()
                };
                let from = if self.from.is_empty() {
                    "the environment before it".to_owned()
                } else {
                    self.from.clone()
                };
                format!("Stage {what} into {} from {from}", self.environment)
            }
            _ => format!("Roll back {} in {}", self.module, self.environment),
        }
    }
}

/// A change of the plan as the page shows it.
struct ChangeRow {
    module: String,
    from: String,
    to: i64,
    changes: String,
    findings: String,
}

#[derive(Template)]
#[template(path = "console/plan.html")]
struct PlanPage<'a> {
    shell: &'a Shell,
    action: &'a Action,
    words: &'a str,
    changes: &'a [ChangeRow],
    second_approver: bool,
}

/// A lifecycle refusal's page: its status and the problem's `detail`.
pub(super) fn refusal(shell: &Shell, error: LifecycleError, here: &str) -> Response {
    if let LifecycleError::Error(e) = error {
        return error_page(shell, e, here);
    }
    let problem = ApiError::from(error).0;
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT);
    message(shell, status, &problem.title, &problem.detail)
}

/// `GET /console/deployments/plan`: what a deployment, stage or rollback would change,
/// with the button that runs it.
pub async fn plan(
    State(state): State<AppState>,
    page: Page<DeploymentsOpen>,
    query: Result<Query<Action>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let action = query.map(|q| q.0).unwrap_or_default();
    let caller = operator.auth.caller(&state);
    let planned = match action.run(&state, &caller, true).await {
        Ok(p) => p.answer,
        Err(e) => return shell.finish(refusal(&shell, e, &here)),
    };
    let changes: Vec<ChangeRow> = planned
        .changes
        .iter()
        .map(|c| ChangeRow {
            module: c.module.clone(),
            from: c.from.map_or_else(|| "nothing".into(), |v| format!("v{v}")),
            to: c.to,
            changes: c.changes.as_ref().map_or_else(String::new, summary),
            findings: c.pending_findings.join("; "),
        })
        .collect();
    let second_approver = versions::list_environments(&state)
        .iter()
        .any(|e| e.name == planned.environment && e.second_approver);
    let html = PlanPage {
        shell: &shell,
        words: &action.words(),
        action: &action,
        changes: &changes,
        second_approver,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// A plan's structural changes in a line: `entities: +Sale −Old ~Item`.
fn summary(changes: &serde_json::Value) -> String {
    let Some(sections) = changes.as_object() else {
        return String::new();
    };
    let names = |v: &serde_json::Value, key: &str, mark: &str| -> Vec<String> {
        v.get(key)
            .and_then(|l| l.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|n| n.as_str().or_else(|| n.get("name")?.as_str()))
                    .map(|n| format!("{mark}{n}"))
                    .collect()
            })
            .unwrap_or_default()
    };
    sections
        .iter()
        .map(|(section, v)| {
            let mut all = names(v, "added", "+");
            all.extend(names(v, "removed", "−"));
            all.extend(names(v, "changed", "~"));
            format!("{section}: {}", all.join(" "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `POST /console/deployments/run`: runs the planned action.
pub async fn run(State(state): State<AppState>, sent: Sent<DeploymentsOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = "/console/deployments";
    let action = Action::of(&fields);
    match action
        .run(&state, &operator.auth.caller(&state), false)
        .await
    {
        Ok(d) => {
            let to = match (d.waiting, d.answer.request, d.answer.status.as_str()) {
                (true, Some(id), _) => format!("{here}?done=waiting&request={id}"),
                (_, _, "nothing-to-do") => format!("{here}?done=nothing"),
                _ => format!("{here}?done=applied"),
            };
            shell.finish(page::see_other(&to))
        }
        Err(e) => shell.finish(refusal(&shell, e, here)),
    }
}

/// `POST /console/deployments/{env}/requests/{id}/approve`: approves and applies a request
/// (someone other than its requester).
pub async fn approve(
    State(state): State<AppState>,
    Segments((env, id)): Segments<(String, String)>,
    sent: Sent<DeploymentsOpen>,
) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    let here = "/console/deployments";
    let id = match request_id(&id) {
        Ok(id) => id,
        Err(e) => return shell.finish(error_page(&shell, e, here)),
    };
    match requests::approve(&state, &operator.auth.caller(&state), env, id).await {
        Ok(_) => shell.finish(page::see_other(&format!(
            "{here}?done=approved&request={id}"
        ))),
        Err(e) => shell.finish(refusal(&shell, e, here)),
    }
}

/// A request's number from the address.
fn request_id(raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| Error::invalid("id", "a request number: 1, 2, 3…"))
}

#[derive(Template)]
#[template(path = "console/reject.html")]
struct RejectPage<'a> {
    shell: &'a Shell,
    environment: &'a str,
    id: i64,
    reason: &'a str,
    problem: Option<&'a str>,
}

/// `GET /console/deployments/{env}/requests/{id}/reject`: asks why before rejecting.
pub async fn confirm_reject(
    State(_state): State<AppState>,
    Segments((env, id)): Segments<(String, String)>,
    page: Page<DeploymentsOpen>,
) -> Response {
    let Page { here, shell, .. } = page;
    let id = match request_id(&id) {
        Ok(id) => id,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let html = RejectPage {
        shell: &shell,
        environment: &env,
        id,
        reason: "",
        problem: None,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/deployments/{env}/requests/{id}/reject`: rejects the request with the
/// reason given.
pub async fn reject(
    State(state): State<AppState>,
    Segments((env, id)): Segments<(String, String)>,
    sent: Sent<DeploymentsOpen>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = format!("/console/deployments/{env}/requests/{id}/reject");
    let id = match request_id(&id) {
        Ok(id) => id,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let reason = field(&fields, "reason");
    let req = RejectRequest {
        reason: reason.to_owned(),
    };
    match requests::reject(&state, &operator.auth.caller(&state), &env, id, req).await {
        Ok(()) => shell.finish(page::see_other(&format!(
            "/console/deployments?done=rejected&request={id}"
        ))),
        Err(e @ Error::InvalidInput { .. }) => {
            let problem = ApiError::from(e).0;
            let html = RejectPage {
                shell: &shell,
                environment: &env,
                id,
                reason,
                problem: Some(&problem.detail),
            }
            .render();
            shell.finish(page::html(StatusCode::UNPROCESSABLE_ENTITY, html))
        }
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}
