//! `/console/deployments/{env}/history`: an environment's whole deployment history, newest
//! first, a page at a time: `versions::history` (as `GET /api/v1/environments/{env}/deployments`
//! answers it) with the API's cursor behind the page's "Older" link, so every deployment is
//! on exactly one page however long the history grows.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{DeploymentWire, HistoryQuery};
use rampart_service::lifecycle::versions;
use rampart_service::AppState;
use serde::Deserialize;

use super::super::account::stamp;
use super::super::{error_page, Section, Segments, Shell};
use crate::console::door::doors::DeploymentsOpen;
use crate::console::door::Page;
use crate::routes::page;

/// Deployments a page shows.
const PAGE: i64 = 50;

/// A deployment as the history pages show it (this one and the board's latest lines).
pub(super) struct Line {
    pub(super) id: i64,
    pub(super) environment: String,
    pub(super) module: String,
    pub(super) version: i64,
    pub(super) previous: String,
    pub(super) kind: String,
    pub(super) actor: String,
    pub(super) when: String,
}

impl Line {
    /// The line of deployment `d`.
    pub(super) fn of(d: DeploymentWire) -> Line {
        Line {
            id: d.id,
            environment: d.environment,
            module: d.module,
            version: d.version,
            previous: d
                .previous
                .map_or_else(|| "none".into(), |p| format!("v{p}")),
            kind: match d.from {
                Some(from) => format!("{} from {from}", d.kind),
                None => d.kind,
            },
            actor: d.actor,
            when: stamp(d.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/history.html")]
struct HistoryPage<'a> {
    shell: &'a Shell,
    environment: &'a str,
    encoded: &'a str,
    lines: &'a [Line],
    page_size: i64,
    /// This is a later page (a cursor was given): the page links back to the newest.
    older_page: bool,
    /// The cursor of the next (older) page, when there is one.
    older: Option<&'a str>,
}

/// `?cursor=`: the API's cursor of the page after the one that linked here.
#[derive(Debug, Default, Deserialize)]
pub struct Cursor {
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /console/deployments/{env}/history[?cursor=]`: a page of the environment's history.
pub async fn show(
    State(state): State<AppState>,
    Segments(env): Segments<String>,
    page: Page<DeploymentsOpen>,
    query: Result<Query<Cursor>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let cursor = query.map(|q| q.0.cursor).unwrap_or_default();
    let older_page = cursor.is_some();
    let q = HistoryQuery {
        module: None,
        limit: Some(PAGE),
        cursor,
    };
    let caller = operator.auth.caller(&state);
    let found = match versions::history(&state, &caller, &env, q).await {
        Ok(p) => p,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let lines: Vec<Line> = found.items.into_iter().map(Line::of).collect();
    let html = HistoryPage {
        shell: &shell,
        environment: &env,
        encoded: &page::encode(&env),
        lines: &lines,
        page_size: PAGE,
        older_page,
        older: found.next_cursor.as_deref(),
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}
