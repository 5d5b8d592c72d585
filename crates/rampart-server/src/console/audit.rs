//! `/console/audit`: the audit log for administrators and auditors (`Operation::ReadAuditLog`,
//! like `GET /api/v1/audit/events`): search with the API's filters, a chart of the matching
//! events over time by stream and one of failed sign-ins and denials (SVG drawn on the
//! server), and the export of a search as CSV or JSON lines (the API's streamed export, same
//! filters). An event's page, with its inclusion proof, is `event.rs`.

use askama::Template;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::{AuditEventView, AuditEventsQuery};
use rampart_core::Error;
use rampart_service::audit::search;
use rampart_service::AppState;
use serde::Deserialize;
use time::OffsetDateTime;

use super::account::stamp;
use super::chart::{self, Chart};
use super::door::doors::AuditRead;
use super::door::Page;
use super::{error_page, Section, Shell};
use crate::error::ApiError;
use crate::routes::page;

/// Events a search shows (and the chart plots).
const PAGE: u32 = 200;

/// The search form: the API's filters, as text.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    #[serde(default)]
    stream: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    application: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: String,
    /// The export's format (`csv` or `jsonl`); the search page ignores it.
    #[serde(default)]
    format: String,
}

impl Filters {
    pub(super) fn query(&self, limit: u32) -> AuditEventsQuery {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        AuditEventsQuery {
            stream: some(&self.stream),
            actor: some(&self.actor),
            action: some(&self.action),
            target: None,
            q: some(&self.q),
            application: some(&self.application),
            environment: some(&self.environment),
            outcome: some(&self.outcome),
            since: some(&self.since),
            until: some(&self.until),
            cursor: some(&self.cursor),
            limit: Some(limit),
            format: None,
        }
    }

    /// The query string of these filters without the cursor.
    fn encoded(&self) -> String {
        [
            ("stream", &self.stream),
            ("actor", &self.actor),
            ("action", &self.action),
            ("q", &self.q),
            ("application", &self.application),
            ("environment", &self.environment),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", page::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// One row of the events table.
struct Row {
    seq: i64,
    time: String,
    stream: String,
    actor: String,
    action: String,
    target: String,
    outcome: String,
}

const STREAMS: [&str; 3] = ["system", "access", "integration"];

/// At most this many failed sign-ins, and as many denials, are plotted (the newest).
const FAILURES: u32 = 1_000;

/// The chart of `events` by stream.
fn by_stream(events: &[AuditEventView]) -> Option<Chart> {
    let series: Vec<(&'static str, Vec<OffsetDateTime>)> = STREAMS
        .iter()
        .map(|s| {
            let times = events.iter().filter(|e| e.stream == *s).map(|e| e.time);
            (*s, times.collect())
        })
        .collect();
    chart::plot("chart-streams", "Events over time by stream", &series)
}

/// The chart of failed sign-ins (`auth.login` with outcome `failure`) and denials (outcome
/// `deny`) within the search's time, actor, target, application and environment filters:
/// two more searches of the same service function, the newest [`FAILURES`] of each.
async fn failures(state: &AppState, filters: &Filters) -> Result<Option<Chart>, Error> {
    let mut series = Vec::new();
    let mut capped = false;
    for (name, action, outcome) in [
        ("failed-login", "auth.login", "failure"),
        ("denial", "", "deny"),
    ] {
        let narrowed = Filters {
            stream: String::new(),
            action: action.to_owned(),
            outcome: outcome.to_owned(),
            cursor: String::new(),
            ..filters.clone()
        };
        let (query, _, limit) = search::event_query(narrowed.query(FAILURES))?;
        let page = search::page(state, query, limit).await?;
        capped |= page.next_cursor.is_some();
        series.push((name, page.items.iter().map(|e| e.time).collect()));
    }
    let Some(mut chart) = chart::plot("chart-failures", "Failed sign-ins and denials", &series)
    else {
        return Ok(None);
    };
    chart.hint = format!(
        "{} sign-ins that failed and requests refused, from {} to {}, within this search's \
         times, actor, target, application and environment, in {} equal spans of time.",
        if capped {
            "The newest 1,000 of each:"
        } else {
            "Every"
        },
        chart.from,
        chart.to,
        chart::BUCKETS
    );
    Ok(Some(chart))
}

/// `GET /console/audit/export?format=csv|jsonl&…`: every event the search's filters match,
/// oldest first, streamed as an attachment: the API's export (`search::export`), under the
/// same permission as the search.
pub async fn export(
    State(state): State<AppState>,
    page: Page<AuditRead>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let Page { here, shell, .. } = page;
    let filters = filters.map(|f| f.0).unwrap_or_default();
    let mut query = filters.query(PAGE);
    query.cursor = None;
    query.format = Some(filters.format.clone());
    let (query, format) = match search::event_query(query) {
        Ok((query, Some(format), _)) if format != "json" => (query, format),
        Ok(_) => {
            let e = Error::invalid("format", "must be csv or jsonl");
            return shell.finish(error_page(&shell, e, &here));
        }
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let csv = format == "csv";
    let body = Body::from_stream(search::export(state.store.clone(), query, csv));
    let (ctype, name) = if csv {
        ("text/csv; charset=utf-8", "audit.csv")
    } else {
        ("application/jsonl", "audit.jsonl")
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    shell.finish(response)
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    shell: &'a Shell,
    filters: &'a Filters,
    rows: &'a [Row],
    charts: Vec<Chart>,
    next: Option<String>,
    export: String,
    problem: Option<String>,
}

/// `GET /console/audit`: search the audit log.
pub async fn search(
    State(state): State<AppState>,
    page: Page<AuditRead>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let Page { here, shell, .. } = page;
    let filters = filters.map(|f| f.0).unwrap_or_default();
    let found = match search::event_query(filters.query(PAGE)) {
        Ok((query, _, limit)) => search::page(&state, query, limit).await,
        Err(e) => Err(e),
    };
    let (status, events, next, problem) = match found {
        Ok(page) => (StatusCode::OK, page.items, page.next_cursor, None),
        Err(e @ Error::InvalidInput { .. }) => {
            let problem = ApiError::from(e).0;
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Vec::new(),
                None,
                Some(problem.detail),
            )
        }
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let rows: Vec<Row> = events
        .iter()
        .map(|e| Row {
            seq: e.seq,
            time: stamp(e.time),
            stream: e.stream.clone(),
            actor: e.actor.clone().unwrap_or_default(),
            action: e.action.clone(),
            target: e.target.clone().unwrap_or_default(),
            outcome: e.outcome.clone(),
        })
        .collect();
    let next = next.map(|c| format!("/console/audit?{}&cursor={c}", filters.encoded()));
    let mut charts = Vec::new();
    if let Some(mut c) = by_stream(&events) {
        c.hint = format!(
            "The events listed below, from {} to {}, in {} equal spans of time.",
            c.from,
            c.to,
            chart::BUCKETS
        );
        charts.push(c);
    }
    if problem.is_none() {
        match failures(&state, &filters).await {
            Ok(Some(c)) => charts.push(c),
            Ok(None) => {}
            Err(e) => return shell.finish(error_page(&shell, e, &here)),
        }
    }
    let html = AuditPage {
        shell: &shell,
        filters: &filters,
        rows: &rows,
        charts,
        next,
        export: filters.encoded(),
        problem,
    }
    .render();
    shell.finish(page::html(status, html))
}
