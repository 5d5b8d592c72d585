//! `/console/alerts`: the alert outbox for operators, the page of `GET
//! /api/v1/alerts/deliveries` and `POST /api/v1/alerts/deliveries/retry`. It lists the
//! deliveries waiting for their next attempt (the alert, the sink, the attempts, the next
//! attempt or the attempt in flight, the last reason) and those that gave up (with who asked
//! for them again, and when), 50 of each a page, and, for IT administrators, a Retry form on
//! each row.
//!
//! The API's rules, checked before anything is read: reading is for administrators and
//! auditors (`ReadAlertDeliveries`), asking again for administrators
//! (`RetryAlertDeliveries`); both call the API's use cases (`alerts::queue::{list, retry}`),
//! so a retry is the same `alert.delivery_requeued` event, and a refusal (an attempt in
//! flight, an unknown alert, a sink not configured) is the same refusal, shown above the
//! lists with its status, nothing changed. Sinks are named (`webhook`, `email`), never their
//! address: a reason that held the webhook's address shows `<alerts.webhook_url>`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{AlertDeliveriesQuery, AlertDeliveryView, AlertRetryRequest};
use rampart_authz::policy::Operation;
use rampart_core::Error;
use rampart_service::alerts::queue;
use rampart_service::{identity, AppState};
use serde::Deserialize;
use time::OffsetDateTime;

use super::door::doors::{AlertsRead, AlertsRetry};
use super::door::{Page, Sent};
use super::{error_page, field, Section, Shell};
use crate::error::ApiError;
use crate::routes::page;

/// Where the page lives.
const PAGE: &str = "/console/alerts";

/// Rows of each list a page.
const ROWS: u32 = 50;

/// One delivery as the page shows it.
struct Row {
    alert: i64,
    kind: String,
    subject: String,
    raised: String,
    sink: String,
    attempts: u32,
    /// Pending: the next attempt, or the attempt in flight. Failed: when it gave up.
    when: String,
    reason: String,
    /// Failed: who asked for it again, and when.
    requeued: String,
}

impl Row {
    fn of(d: AlertDeliveryView) -> Row {
        let when = match (d.in_flight_until, d.next_attempt_at, d.failed_at) {
            (Some(until), _, _) => format!("in flight (lease until {})", stamp(until)),
            (None, Some(next), _) => stamp(next),
            (None, None, Some(failed)) => stamp(failed),
            (None, None, None) => String::new(),
        };
        let requeued = match (d.requeued_at, d.requeued_by) {
            (Some(at), Some(by)) => format!("{by} at {}", stamp(at)),
            (Some(at), None) => stamp(at),
            (None, _) => "no".to_owned(),
        };
        Row {
            alert: d.alert,
            kind: d.kind,
            subject: d.subject.unwrap_or_default(),
            raised: stamp(d.raised_at),
            sink: d.sink,
            attempts: d.attempts,
            when,
            reason: d.last_error.unwrap_or_else(|| "none".to_owned()),
            requeued,
        }
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "console/alerts.html")]
struct AlertsPage<'a> {
    shell: &'a Shell,
    pending: &'a [Row],
    failed: &'a [Row],
    /// The Retry forms are shown (an administrator).
    retry: bool,
    notice: Option<String>,
    problem: Option<String>,
    /// The addresses of the next page of each list, and of their first pages.
    next_pending: Option<String>,
    next_failed: Option<String>,
    first: Option<String>,
}

/// The page's query: the pages of each list, and what was just done.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The cursor of the page of waiting deliveries.
    #[serde(default)]
    pending: Option<String>,
    /// The cursor of the page of deliveries that gave up.
    #[serde(default)]
    failed: Option<String>,
    /// What a retry found: `waiting` or `not-queued`.
    #[serde(default)]
    done: Option<String>,
    /// The alert a retry was for.
    #[serde(default)]
    alert: Option<i64>,
    /// The sink a retry was for.
    #[serde(default)]
    sink: Option<String>,
}

/// The address of the page with these cursors.
fn address(pending: Option<&str>, failed: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(p) = pending {
        parts.push(format!("pending={}", page::encode(p)));
    }
    if let Some(f) = failed {
        parts.push(format!("failed={}", page::encode(f)));
    }
    if parts.is_empty() {
        PAGE.to_owned()
    } else {
        format!("{PAGE}?{}", parts.join("&"))
    }
}

/// What a retry that went through says, from the validated query (the sink is one of the
/// two names, the alert a number): never text from the address as it came.
fn notice_of(q: &PageQuery) -> Option<String> {
    let alert = q.alert?;
    let sink = match q.sink.as_deref()? {
        "webhook" => "webhook",
        "email" => "email",
        _ => return None,
    };
    match q.done.as_deref()? {
        "waiting" => Some(format!(
            "Alert {alert} is due now for the {sink} sink: its next attempt begins on the \
             next round, its attempts so far kept."
        )),
        "not-queued" => Some(format!(
            "Alert {alert} is queued again for the {sink} sink, due now, its attempts from \
             zero."
        )),
        _ => None,
    }
}

/// The page for `q`, with `problem` (and its status) when a retry was refused.
async fn render(
    state: &AppState,
    shell: &Shell,
    retry: bool,
    q: &PageQuery,
    problem: Option<(StatusCode, String)>,
) -> Response {
    let here = address(q.pending.as_deref(), q.failed.as_deref());
    let read = |which: &str, cursor: Option<&String>| AlertDeliveriesQuery {
        state: Some(which.to_owned()),
        cursor: cursor.cloned(),
        limit: Some(ROWS),
    };
    let pending = match queue::list(state, read("pending", q.pending.as_ref())).await {
        Ok(p) => p,
        Err(e) => return error_page(shell, e, &here),
    };
    let failed = match queue::list(state, read("failed", q.failed.as_ref())).await {
        Ok(f) => f,
        Err(e) => return error_page(shell, e, &here),
    };
    let next_pending = pending
        .next_cursor
        .as_deref()
        .map(|c| address(Some(c), q.failed.as_deref()));
    let next_failed = failed
        .next_cursor
        .as_deref()
        .map(|c| address(q.pending.as_deref(), Some(c)));
    let first = (q.pending.is_some() || q.failed.is_some()).then(|| PAGE.to_owned());
    let pending: Vec<Row> = pending.items.into_iter().map(Row::of).collect();
    let failed: Vec<Row> = failed.items.into_iter().map(Row::of).collect();
    let (status, problem) = match problem {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    let html = AlertsPage {
        shell,
        pending: &pending,
        failed: &failed,
        retry,
        notice: if problem.is_none() {
            notice_of(q)
        } else {
            None
        },
        problem,
        next_pending,
        next_failed,
        first,
    }
    .render();
    page::html(status, html)
}

/// `GET /console/alerts`.
pub async fn show(
    State(state): State<AppState>,
    page: Page<AlertsRead>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let Page {
        shell, operator, ..
    } = page;
    let Ok(Query(q)) = query else {
        let refused = Error::invalid("query", "is not one this page makes");
        return shell.finish(error_page(&shell, refused, PAGE));
    };
    let retry = identity::may(&state, &operator.auth.user, Operation::RetryAlertDeliveries)
        .await
        .unwrap_or(false);
    shell.finish(render(&state, &shell, retry, &q, None).await)
}

/// `POST /console/alerts/retry`: asks for the delivery of `alert` to `sink` again
/// (administrators). Done, back to the page with what it did; refused, the page with the
/// refusal, nothing changed.
pub async fn retry(State(state): State<AppState>, sent: Sent<AlertsRetry>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let sink = field(&fields, "sink");
    let asked = match field(&fields, "alert").trim().parse::<i64>() {
        Ok(alert) => {
            let request = AlertRetryRequest {
                alert,
                sink: sink.to_owned(),
            };
            queue::retry(&state, &operator.auth.caller(&state), request).await
        }
        Err(_) => Err(Error::invalid(
            "alert",
            "must be an alert's sequence number in the audit log",
        )),
    };
    match asked {
        Ok(done) => shell.finish(page::see_other(&format!(
            "{PAGE}?done={}&alert={}&sink={}",
            page::encode(&done.was),
            done.delivery.alert,
            page::encode(&done.delivery.sink),
        ))),
        Err(Error::Unauthenticated(m)) => {
            shell.finish(error_page(&shell, Error::Unauthenticated(m), PAGE))
        }
        Err(e) => {
            let problem = ApiError::from(e).0;
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = format!("Not retried: {}", problem.detail);
            let first = PageQuery::default();
            let page = render(&state, &shell, true, &first, Some((status, text))).await;
            shell.finish(page)
        }
    }
}
