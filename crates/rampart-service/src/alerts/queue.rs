//! The alert outbox as operators see it and act on it: the deliveries waiting
//! ([`list`], `pending`), those that gave up (`failed`, read from their
//! `alert.delivery_failed` events, so the log stays the one record of them), and asking for
//! one again ([`retry`]). Callers are IT administrators and auditors for reading, IT
//! administrators for asking again (the adapters check that before calling).
//!
//! Asking again never sends from the request: it puts the delivery in the outbox, due now,
//! with an `alert.delivery_requeued` event in the same transaction, and the delivering task
//! ([`super::deliver::run`]) sends it on its next round, signed and with the same delivery
//! key as every earlier attempt. What is listed names the sink (`webhook`, `email`), never
//! its address or secret; a failure's reason is the one the attempt recorded, which
//! names neither.

use std::collections::HashMap;

use rampart_api::{
    AlertDeliveriesQuery, AlertDeliveryPage, AlertDeliveryView, AlertRetryRequest,
    AlertRetryResponse,
};
use rampart_core::Error;
use rampart_store::{EventQuery, NotRequeued, PendingDelivery, Requeued, StoredEvent, Stream};
use time::OffsetDateTime;

use super::deliver::{sinks, EMAIL, WEBHOOK};
use crate::caller::Caller;
use crate::paging::bad_cursor;
use crate::state::AppState;

/// The action of the event recording that a delivery gave up.
const FAILED: &str = "alert.delivery_failed";
/// The action of the event recording that an administrator asked for a delivery again.
const REQUEUED: &str = "alert.delivery_requeued";

/// Events read per statement while looking for later requests to deliver again.
const CHUNK: i64 = 1_000;

/// A page of deliveries: waiting ones (`state` absent or `pending`), oldest alert first, or
/// those that gave up (`failed`), newest first.
pub async fn list(state: &AppState, q: AlertDeliveriesQuery) -> Result<AlertDeliveryPage, Error> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 500"));
    }
    match q.state.as_deref() {
        None | Some("pending") => pending(state, q.cursor.as_deref(), limit).await,
        Some("failed") => failed(state, q.cursor.as_deref(), limit).await,
        Some(_) => Err(Error::invalid("state", "must be pending or failed")),
    }
}

/// The sink named `name`, as the outbox spells it.
fn sink(name: &str) -> Option<&'static str> {
    match name {
        WEBHOOK => Some(WEBHOOK),
        EMAIL => Some(EMAIL),
        _ => None,
    }
}

/// The outbox's cursor: `<alert>.<sink>` of the last delivery of the previous page.
fn pending_cursor(cursor: &str) -> Result<(i64, &'static str), Error> {
    let (seq, name) = cursor.split_once('.').ok_or_else(bad_cursor)?;
    let seq = seq
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(bad_cursor)?;
    Ok((seq, sink(name).ok_or_else(bad_cursor)?))
}

async fn pending(
    state: &AppState,
    cursor: Option<&str>,
    limit: u32,
) -> Result<AlertDeliveryPage, Error> {
    let after = cursor.map(pending_cursor).transpose()?;
    let mut rows = state
        .store
        .alert_deliveries_page(after, i64::from(limit) + 1)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|d| format!("{}.{}", d.seq, d.sink))
    } else {
        None
    };
    let mut alerts = Alerts::default();
    let mut items = Vec::with_capacity(rows.len());
    for d in rows {
        let alert = alerts.get(state, d.seq).await?;
        items.push(pending_view(state, alert, &d));
    }
    Ok(AlertDeliveryPage { items, next_cursor })
}

/// The view of a waiting delivery of `alert`.
fn pending_view(state: &AppState, alert: &StoredEvent, d: &PendingDelivery) -> AlertDeliveryView {
    let now = state.clock.now();
    AlertDeliveryView {
        next_attempt_at: Some(d.next_at),
        in_flight_until: d.claimed_until.filter(|until| *until > now),
        last_error: d.last_error.as_deref().map(|r| reason(state, r)),
        ..view(alert, &d.sink, "pending", d.attempts)
    }
}

/// A recorded failure's reason as listed: the configured webhook address (whose path may
/// be a capability, as some services' hooks are) replaced by its key. Reasons never hold
/// the signing secret, which is read when sending and never put in a message.
fn reason(state: &AppState, text: &str) -> String {
    scrub(&state.config.alerts.webhook_url, text)
}

/// `text` with `url`, and `url` without its query, replaced by `<alerts.webhook_url>`.
fn scrub(url: &str, text: &str) -> String {
    let url = url.trim();
    if url.is_empty() {
        return text.to_owned();
    }
    let bare = url.split(['?', '#']).next().unwrap_or(url);
    text.replace(url, "<alerts.webhook_url>")
        .replace(bare, "<alerts.webhook_url>")
}

/// What every view of a delivery of `alert` to `sink` says.
fn view(alert: &StoredEvent, sink: &str, state: &str, attempts: u32) -> AlertDeliveryView {
    AlertDeliveryView {
        alert: alert.seq,
        kind: kind_of(alert).unwrap_or_default().to_owned(),
        subject: alert.target.clone(),
        raised_at: alert.occurred_at,
        sink: sink.to_owned(),
        state: state.to_owned(),
        attempts,
        next_attempt_at: None,
        in_flight_until: None,
        last_error: None,
        failed_at: None,
        failure_event: None,
        requeued_at: None,
        requeued_by: None,
    }
}

/// The alert's kind when `e` is an alert (an `alert.<kind>` event of a kind the node
/// raises, in the `system` stream); the outbox's own events (`alert.delivery_failed`, …)
/// are not alerts.
fn kind_of(e: &StoredEvent) -> Option<&'static str> {
    if e.stream != Stream::System.as_str() {
        return None;
    }
    rampart_alerts::Kind::ALL
        .iter()
        .find(|k| k.action() == e.action)
        .map(|k| k.as_str())
}

/// The events of the alerts a page names, each read once.
#[derive(Default)]
struct Alerts(HashMap<i64, StoredEvent>);

impl Alerts {
    /// The alert event `seq`; an outbox row or a failure names only alerts the log holds.
    async fn get(&mut self, state: &AppState, seq: i64) -> Result<&StoredEvent, Error> {
        use std::collections::hash_map::Entry;
        match self.0.entry(seq) {
            Entry::Occupied(found) => Ok(found.into_mut()),
            Entry::Vacant(place) => {
                let event = event(state, seq)
                    .await?
                    .filter(|e| kind_of(e).is_some())
                    .ok_or_else(|| {
                        Error::Internal(format!(
                            "alert {seq} of the outbox is not in the audit log"
                        ))
                    })?;
                Ok(place.insert(event))
            }
        }
    }
}

/// The event `seq` of the audit log, if there is one.
async fn event(state: &AppState, seq: i64) -> Result<Option<StoredEvent>, Error> {
    let events = state.store.events_after(seq - 1, 1).await?;
    Ok(events.into_iter().find(|e| e.seq == seq))
}

/// What an `alert.delivery_failed` event says: the alert, the sink, the attempts, the
/// reason. `None` for an event whose details were erased.
fn failure(e: &StoredEvent) -> Option<(i64, String, u32, Option<String>)> {
    let d: serde_json::Value = serde_json::from_str(&e.details).ok()?;
    Some((
        d["alert"].as_i64()?,
        d["sink"].as_str()?.to_owned(),
        d["attempts"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        d["reason"].as_str().map(str::to_owned),
    ))
}

async fn failed(
    state: &AppState,
    cursor: Option<&str>,
    limit: u32,
) -> Result<AlertDeliveryPage, Error> {
    let before_seq = crate::paging::number_cursor(cursor)?;
    let query = EventQuery {
        stream: Some(Stream::System),
        action: Some(FAILED.to_owned()),
        before_seq,
        ..EventQuery::default()
    };
    let mut events = state
        .store
        .audit_search(&query, i64::from(limit) + 1)
        .await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = if more {
        events.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    let requeued = match events.last() {
        Some(oldest) => requests_after(state, oldest.seq).await?,
        None => Vec::new(),
    };
    let mut alerts = Alerts::default();
    let mut items = Vec::with_capacity(events.len());
    for e in &events {
        let Some((seq, sink, attempts, why)) = failure(e) else {
            continue;
        };
        let alert = alerts.get(state, seq).await?;
        let again = requeued
            .iter()
            .find(|r| r.seq > e.seq && r.alert == seq && r.sink == sink);
        items.push(AlertDeliveryView {
            last_error: why.map(|r| reason(state, &r)),
            failed_at: Some(e.occurred_at),
            failure_event: Some(e.seq),
            requeued_at: again.map(|r| r.at),
            requeued_by: again.and_then(|r| r.by.clone()),
            ..view(alert, &sink, "failed", attempts)
        });
    }
    Ok(AlertDeliveryPage { items, next_cursor })
}

/// An administrator's request to deliver again, as its event records it.
struct Request {
    seq: i64,
    alert: i64,
    sink: String,
    at: OffsetDateTime,
    by: Option<String>,
}

/// Every request to deliver again recorded after event `after`, oldest first. They are
/// administrators' acts, so few; read in chunks through the action's index.
async fn requests_after(state: &AppState, after: i64) -> Result<Vec<Request>, Error> {
    let mut query = EventQuery {
        stream: Some(Stream::System),
        action: Some(REQUEUED.to_owned()),
        after_seq: Some(after),
        ascending: true,
        ..EventQuery::default()
    };
    let mut found = Vec::new();
    loop {
        let events = state.store.audit_search(&query, CHUNK).await?;
        let last = events.len() < CHUNK as usize;
        query.after_seq = events.last().map(|e| e.seq).or(query.after_seq);
        for e in events {
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
            let (Some(alert), Some(sink)) = (d["alert"].as_i64(), d["sink"].as_str()) else {
                continue;
            };
            found.push(Request {
                seq: e.seq,
                alert,
                sink: sink.to_owned(),
                at: e.occurred_at,
                by: e.actor_name,
            });
        }
        if last {
            return Ok(found);
        }
    }
}

/// Delivers alert `req.alert` to `req.sink` again: a delivery waiting for a later attempt
/// becomes due now, one that gave up is queued afresh (attempts from zero), audited as
/// `alert.delivery_requeued` with the caller. Refused when the event is not there or not
/// an alert, when the sink is not configured on this node, when an attempt is in flight
/// (its claim holds the delivery: asking again would send it twice at once), and when the
/// delivery is already waiting and due (it goes within a second anyway); a refusal changes
/// nothing.
pub async fn retry(
    state: &AppState,
    caller: &Caller,
    req: AlertRetryRequest,
) -> Result<AlertRetryResponse, Error> {
    let name = sink(&req.sink).ok_or_else(|| Error::invalid("sink", "must be webhook or email"))?;
    if req.alert < 1 {
        return Err(Error::invalid(
            "alert",
            "must be an alert's sequence number in the audit log (1 or more)",
        ));
    }
    let seq = req.alert;
    let Some(alert) = event(state, seq).await? else {
        return Err(Error::NotFound {
            what: "alert (no event with that sequence number in the audit log)",
        });
    };
    if kind_of(&alert).is_none() {
        return Err(Error::invalid(
            "alert",
            format!("event {seq} is a `{}` event, not an alert", alert.action),
        ));
    }
    if !sinks(&state.config.alerts).contains(&name) {
        let key = if name == WEBHOOK {
            "alerts.webhook_url"
        } else {
            "alerts.email_to"
        };
        return Err(Error::Conflict(format!(
            "the {name} sink is not configured on this node ({key} is empty): there is \
             nowhere to deliver to"
        )));
    }
    let before = state.store.alert_delivery(seq, name).await?;
    let now = state.clock.now();
    let done = match state
        .store
        .alert_delivery_requeue(seq, name, now, &caller.audit)
        .await?
    {
        Ok(done) => done,
        Err(NotRequeued::AlreadyDue) => {
            return Err(Error::Conflict(format!(
                "alert {seq} is already waiting for the {name} sink and due: it is tried on \
                 the next round, within a second (GET /api/v1/alerts/deliveries shows it)"
            )))
        }
        Err(NotRequeued::InFlight) => {
            return Err(Error::Conflict(format!(
                "alert {seq} to the {name} sink: an attempt is in flight; try again after it \
                 ends (nothing was changed)"
            )))
        }
    };
    let (attempts, last_error) = match (done, before) {
        (Requeued::MadeDue, Some(b)) => (b.attempts, b.last_error),
        _ => (0, None),
    };
    let delivery = AlertDeliveryView {
        next_attempt_at: Some(now),
        last_error: last_error.map(|r| reason(state, &r)),
        ..view(&alert, name, "pending", attempts)
    };
    Ok(AlertRetryResponse {
        was: done.as_str().to_owned(),
        delivery,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn only_cursors_the_outbox_returns_are_read() {
        assert_eq!(pending_cursor("12.webhook").unwrap(), (12, WEBHOOK));
        assert_eq!(pending_cursor("7.email").unwrap(), (7, EMAIL));
        for bad in [
            "",
            "12",
            "12.",
            ".webhook",
            "0.webhook",
            "-1.email",
            "x.webhook",
            "12.sms",
        ] {
            assert!(pending_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_webhook_address_is_not_listed_in_reasons() {
        let url = "https://hooks.example.com/services/T0/B0/capability?token=t";
        assert_eq!(
            scrub(url, &format!("the webhook did not answer: {url}")),
            "the webhook did not answer: <alerts.webhook_url>"
        );
        assert_eq!(
            scrub(
                url,
                "error sending https://hooks.example.com/services/T0/B0/capability"
            ),
            "error sending <alerts.webhook_url>"
        );
        assert_eq!(
            scrub(url, "the webhook answered 503 Service Unavailable"),
            "the webhook answered 503 Service Unavailable"
        );
        assert_eq!(scrub("", "anything"), "anything");
    }
}
