//! `/console/deployments/plans`: the deployment plans the reader may see, newest first, a
//! page at a time, filtered by environment and status: `plans::plans`, the use case of
//! `GET /api/v1/deployment-plans`, which decides who sees which plan (`reference` on each
//! of its applications in its environment), with the API's cursor behind the page's
//! "Older" link. Each row links to the plan's page (`/console/environments/plans/{id}`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{PlanWire, PlansQuery};
use rampart_service::lifecycle::{plans, versions};
use rampart_service::AppState;
use serde::Deserialize;

use super::super::account::stamp;
use super::super::{error_page, Section, Shell};
use crate::console::door::doors::DeploymentsOpen;
use crate::console::door::Page;
use crate::routes::page;

/// The page.
pub const PAGE: &str = "/console/deployments/plans";

/// Plans a page reads.
const PAGE_SIZE: i64 = 50;

/// A plan's row.
struct Row {
    id: i64,
    environment: String,
    /// `application at tag`, each.
    applications: Vec<String>,
    creator: String,
    /// `draft`, `waiting`, `finished` or `aborted`, for the badge's class.
    status: String,
    /// The status in words.
    state: &'static str,
    created: String,
    updated: String,
    runs: i64,
}

/// A status in words.
fn state_words(status: &str) -> &'static str {
    match status {
        "draft" => "Draft, not run",
        "waiting" => "Waiting for a second approver",
        "finished" => "Run",
        "aborted" => "Refused or rejected, may run again",
        _ => "Unknown",
    }
}

impl Row {
    fn of(p: PlanWire) -> Row {
        Row {
            id: p.id,
            environment: p.environment,
            applications: p
                .applications
                .into_iter()
                .map(|a| format!("{} at {}", a.application, a.tag))
                .collect(),
            creator: p.creator,
            state: state_words(&p.status),
            status: p.status,
            created: stamp(p.created_at),
            updated: stamp(p.updated_at),
            runs: p.runs,
        }
    }
}

#[derive(Template)]
#[template(path = "console/plans.html")]
struct PlansPage<'a> {
    shell: &'a Shell,
    rows: &'a [Row],
    /// The environments offered by the filter, and whether it is the one chosen.
    environments: &'a [(String, bool)],
    /// The statuses offered by the filter: value, words, and whether it is the one chosen.
    statuses: &'a [(&'static str, &'static str, bool)],
    environment: &'a str,
    status: &'a str,
    /// A filter is set: the empty state says so.
    filtered: bool,
    /// This is a later page (a cursor was given): the page links back to the newest.
    older_page: bool,
    /// The address of the next (older) page, when there is one.
    older: Option<String>,
    /// The address of the newest page with the same filters.
    newest: String,
}

/// `?environment=&status=&cursor=`: the filters, and the API's cursor of the page after
/// the one that linked here.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// The page's address with `environment`, `status` and `cursor`, empty ones left out.
fn address(environment: &str, status: &str, cursor: Option<&str>) -> String {
    let mut params = Vec::new();
    if !environment.is_empty() {
        params.push(format!("environment={}", page::encode(environment)));
    }
    if !status.is_empty() {
        params.push(format!("status={}", page::encode(status)));
    }
    if let Some(c) = cursor {
        params.push(format!("cursor={}", page::encode(c)));
    }
    if params.is_empty() {
        PAGE.to_owned()
    } else {
        format!("{PAGE}?{}", params.join("&"))
    }
}

/// `GET /console/deployments/plans[?environment=&status=&cursor=]`: a page of plans.
pub async fn show(
    State(state): State<AppState>,
    page: Page<DeploymentsOpen>,
    query: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let Page {
        shell, operator, ..
    } = page;
    let filters = query.map(|q| q.0).unwrap_or_default();
    let environment = filters.environment.unwrap_or_default();
    let status = filters.status.unwrap_or_default();
    let older_page = filters.cursor.is_some();
    let q = PlansQuery {
        environment: (!environment.is_empty()).then(|| environment.clone()),
        status: (!status.is_empty()).then(|| status.clone()),
        limit: Some(PAGE_SIZE),
        cursor: filters.cursor,
    };
    let caller = operator.auth.caller(&state);
    let found = match plans::plans(&state, &caller, q).await {
        Ok(p) => p,
        Err(e) => return shell.finish(error_page(&shell, e, PAGE)),
    };
    let rows: Vec<Row> = found.items.into_iter().map(Row::of).collect();
    let environments: Vec<(String, bool)> = versions::list_environments(&state)
        .into_iter()
        .map(|e| {
            let chosen = e.name == environment;
            (e.name, chosen)
        })
        .collect();
    let statuses: Vec<(&'static str, &'static str, bool)> = plans::PLAN_STATUSES
        .iter()
        .map(|s| (*s, state_words(s), *s == status))
        .collect();
    let html = PlansPage {
        shell: &shell,
        rows: &rows,
        environments: &environments,
        statuses: &statuses,
        environment: &environment,
        status: &status,
        filtered: !environment.is_empty() || !status.is_empty(),
        older_page,
        older: found
            .next_cursor
            .as_deref()
            .map(|c| address(&environment, &status, Some(c))),
        newest: address(&environment, &status, None),
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}
