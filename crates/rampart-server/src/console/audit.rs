//! `/console/audit`: the audit log for administrators and auditors (`Operation::ReadAuditLog`,
//! like `GET /api/v1/audit/events`): search with the API's filters, a chart of the matching
//! events over time by stream (SVG drawn on the server), and each event's detail.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rampart_api::{AuditEventView, AuditEventsQuery};
use rampart_authz::policy::Operation;
use rampart_core::Error;
use rampart_service::audit::search;
use rampart_service::AppState;
use serde::Deserialize;

use super::account::stamp;
use super::{admitted, error_page, here, Section, Segments, Shell};
use crate::error::ApiError;
use crate::routes::page::{self, Visitor};

const NOT_READER: &str = "only IT administrators and auditors may read the audit log";

/// Events a search shows (and the chart plots).
const PAGE: u32 = 200;

/// The search form: the API's filters, as text.
#[derive(Debug, Default, Deserialize)]
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
}

impl Filters {
    fn query(&self, limit: u32) -> AuditEventsQuery {
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

/// One bar segment of the chart.
struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    stream: &'static str,
    label: String,
}

/// The chart of events over time by stream, laid out for the template.
struct Chart {
    bars: Vec<Bar>,
    from: String,
    to: String,
    max: usize,
    totals: Vec<(&'static str, usize)>,
}

const STREAMS: [&str; 3] = ["system", "access", "integration"];
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const BUCKETS: usize = 24;

/// Stacked bars of `events` in [`BUCKETS`] equal spans of time between the oldest and the
/// newest, one colour per stream.
fn chart(events: &[AuditEventView]) -> Option<Chart> {
    let first = events.iter().map(|e| e.time).min()?;
    let last = events.iter().map(|e| e.time).max()?;
    let span = (last - first).whole_milliseconds().max(1);
    let mut counts = vec![[0usize; 3]; BUCKETS];
    for e in events {
        let at = (e.time - first).whole_milliseconds();
        let bucket = usize::try_from(at * (BUCKETS as i128) / (span + 1)).unwrap_or(0);
        let stream = STREAMS.iter().position(|s| *s == e.stream).unwrap_or(0);
        counts[bucket.min(BUCKETS - 1)][stream] += 1;
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let step = WIDTH / BUCKETS as f64;
    let mut bars = Vec::new();
    for (i, bucket) in counts.iter().enumerate() {
        let mut top = HEIGHT;
        for (s, &n) in bucket.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let height = HEIGHT * n as f64 / max as f64;
            top -= height;
            bars.push(Bar {
                x: i as f64 * step + 2.0,
                y: top,
                width: step - 4.0,
                height,
                stream: STREAMS[s],
                label: format!("{n} {} event{}", STREAMS[s], if n == 1 { "" } else { "s" }),
            });
        }
    }
    let totals = STREAMS
        .iter()
        .enumerate()
        .map(|(s, name)| (*name, counts.iter().map(|c| c[s]).sum()))
        .collect();
    Some(Chart {
        bars,
        from: stamp(first),
        to: stamp(last),
        max,
        totals,
    })
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    shell: &'a Shell,
    filters: &'a Filters,
    rows: &'a [Row],
    chart: Option<Chart>,
    next: Option<String>,
    problem: Option<String>,
}

/// `GET /console/audit`: search the audit log.
pub async fn search(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let here = here(&uri);
    let mut shell = Shell::new(&visitor, Section::Audit);
    if let Err(r) = admitted(
        &state,
        &visitor,
        &mut shell,
        &here,
        Operation::ReadAuditLog,
        NOT_READER,
    )
    .await
    {
        return shell.finish(r);
    }
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
    let html = AuditPage {
        shell: &shell,
        filters: &filters,
        rows: &rows,
        chart: chart(&events),
        next,
        problem,
    }
    .render();
    shell.finish(page::html(status, html))
}

#[derive(Template)]
#[template(path = "console/event.html")]
struct EventPage<'a> {
    shell: &'a Shell,
    event: &'a AuditEventView,
    time: String,
    details: String,
}

/// `GET /console/audit/{seq}`: one event.
pub async fn event(
    State(state): State<AppState>,
    Segments(seq): Segments<String>,
    visitor: Visitor,
    uri: Uri,
) -> Response {
    let here = here(&uri);
    let mut shell = Shell::new(&visitor, Section::Audit);
    if let Err(r) = admitted(
        &state,
        &visitor,
        &mut shell,
        &here,
        Operation::ReadAuditLog,
        NOT_READER,
    )
    .await
    {
        return shell.finish(r);
    }
    let Some(seq) = seq.parse::<i64>().ok().filter(|n| *n > 0 && *n < i64::MAX) else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "event" }, &here));
    };
    // The newest event before `seq + 1`: the event itself when it exists.
    let filters = Filters {
        cursor: (seq + 1).to_string(),
        ..Filters::default()
    };
    let found = match search::event_query(filters.query(1)) {
        Ok((query, _, limit)) => search::page(&state, query, limit).await,
        Err(e) => Err(e),
    };
    let event = match found {
        Ok(page) => page.items.into_iter().find(|e| e.seq == seq),
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let Some(event) = event else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "event" }, &here));
    };
    let details = serde_json::to_string_pretty(&event.details).unwrap_or_default();
    let html = EventPage {
        shell: &shell,
        time: stamp(event.time),
        event: &event,
        details,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn event(minute: i64, stream: &str) -> AuditEventView {
        AuditEventView {
            seq: minute + 1,
            stream: stream.to_owned(),
            time: datetime!(2026-06-01 09:00 UTC) + time::Duration::minutes(minute),
            actor_id: None,
            actor: None,
            action: "user.create".to_owned(),
            target: None,
            application: None,
            environment: None,
            outcome: "success".to_owned(),
            request_id: None,
            source: None,
            node: "n".to_owned(),
            details: serde_json::Value::Null,
            redacted: false,
            leaf_hash: String::new(),
        }
    }

    #[test]
    fn the_chart_stacks_every_event_in_its_span_of_time() {
        assert!(chart(&[]).is_none());
        let events = [
            event(0, "system"),
            event(0, "access"),
            event(0, "access"),
            event(239, "integration"),
        ];
        let c = chart(&events).unwrap();
        assert_eq!(
            c.totals,
            vec![("system", 1), ("access", 2), ("integration", 1)]
        );
        // The first span holds three events (the tallest: full height), the last one.
        assert_eq!(c.max, 3);
        let first: Vec<&Bar> = c.bars.iter().filter(|b| b.x < WIDTH / 24.0).collect();
        assert_eq!(first.len(), 2);
        let height: f64 = first.iter().map(|b| b.height).sum();
        assert!((height - HEIGHT).abs() < 1e-9);
        let last = c.bars.last().unwrap();
        assert_eq!(last.stream, "integration");
        assert!(last.x > WIDTH - WIDTH / 24.0);
        assert!((last.height - HEIGHT / 3.0).abs() < 1e-9);
        // One event, or several at one instant, is one full bar.
        let one = chart(&[event(5, "system")]).unwrap();
        assert_eq!(one.bars.len(), 1);
        assert!((one.bars[0].height - HEIGHT).abs() < 1e-9);
    }
}
