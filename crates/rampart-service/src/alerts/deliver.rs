//! Sending alerts to the configured sinks, a signed webhook and e-mail, at least once.
//!
//! **Outbox.** An alert's `alert.<kind>` event is recorded with one delivery row per
//! configured sink in the same transaction ([`Store::record_alert`]), so a notification
//! exists exactly when its alert does, whatever happens to the node afterwards. The node
//! that leads the cluster ([`crate::cluster`]; on SQLite, the node) reads the rows that are
//! due every [`super::POLL`] ([`run`]), claims each before its attempt, and sends. The
//! **claim is the fence**: one conditional UPDATE takes a row only when it is due and no
//! live claim holds it, counts the attempt, and writes the attempt's token with a lease of
//! [`CLAIM`] ([`Store::alert_delivery_claim`]), so two attempts, on this node or on any
//! other sharing the database, never send one delivery at once; a claim whose node died
//! is taken over when its lease runs out. The outcome is written under the token, which
//! releases the claim:
//!
//! - accepted (a 2xx answer; the mail server took the message): the row goes;
//! - not accepted: tried again after a wait doubling from `delivery_backoff_seconds` up to
//!   `delivery_backoff_max_seconds` ([`rampart_alerts::Retry`]); after `delivery_attempts`
//!   attempts the row goes with an `alert.delivery_failed` event in the same transaction
//!   (the sink, the alert, the attempts and the last reason; never the secret).
//!
//! An administrator's request to deliver again ([`super::queue::retry`]) is refused while a
//! claim holds the delivery, so it never starts an attempt beside the one under way.
//!
//! Every attempt counts in `rampart_alert_deliveries_total{sink,outcome}`. A sink may
//! receive one alert more than once (an attempt whose answer was lost, a node that died
//! between the answer and the row's deletion), never none while attempts remain: each
//! notification carries its **delivery key**, the alert event's sequence number in the
//! audit log, in the [`DELIVERY_HEADER`] header and the signed body (`"delivery"`), and as
//! the e-mail's `Message-ID`, so a receiver drops what it already has. Notifications are
//! not sent in order; each has its time (`"at"`).
//!
//! **Signature.** The webhook receives the alert as JSON with a [`SIGNATURE_HEADER`] of
//! `t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">` under the configured secret, so
//! a receiver checks the signature (in constant time) and refuses an old timestamp, and a
//! captured request cannot be replayed later or altered. The secret is read when sending,
//! from its reference, and never logged.
//!
//! [`Store::record_alert`]: rampart_store::Store::record_alert
//! [`Store::alert_delivery_claim`]: rampart_store::Store::alert_delivery_claim

use std::time::Duration as StdDuration;

use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncTransport, Message};
use rampart_alerts::{Alert, Next};
use rampart_core::{AuditContext, AuditEvent, Outcome};
use rampart_store::{PendingDelivery, StoredEvent};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::config::{list_items, AlertsConfig, SecretRef};
use crate::state::AppState;

/// The header carrying the webhook's signature.
pub const SIGNATURE_HEADER: &str = "rampart-signature";

/// The header carrying the delivery key: the alert's sequence number in the audit log.
pub const DELIVERY_HEADER: &str = "rampart-delivery";

/// The webhook sink.
pub const WEBHOOK: &str = "webhook";
/// The e-mail sink.
pub const EMAIL: &str = "email";

/// How long one webhook request may take.
const TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// How long one message to the mail server may take, the whole conversation.
const MAIL_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// The lease of a claimed attempt, how long it keeps every other attempt off: longer
/// than any attempt may take ([`TIMEOUT`], [`MAIL_TIMEOUT`]), so only an attempt whose node
/// died is taken over.
pub const CLAIM: time::Duration = time::Duration::minutes(2);

/// Deliveries attempted at once.
const BATCH: i64 = 16;

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).map_err(|e| format!("the webhook secret: {e}"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("t={timestamp},v1={hex}"))
}

/// The sinks an alert raised now is sent to.
pub(super) fn sinks(config: &AlertsConfig) -> Vec<&'static str> {
    let mut sinks = Vec::new();
    if !config.webhook_url.is_empty() {
        sinks.push(WEBHOOK);
    }
    if list_items(&config.email_to).next().is_some() {
        sinks.push(EMAIL);
    }
    sinks
}

/// What the sinks receive about one alert.
struct Notice {
    /// The delivery key; none for an alert the log could not record.
    delivery: Option<i64>,
    kind: String,
    severity: String,
    subject: String,
    at: OffsetDateTime,
    node: String,
    evidence: serde_json::Value,
}

impl Notice {
    /// The notice of an alert as its event records it.
    fn of_event(e: &StoredEvent) -> Self {
        let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
        let text = |key: &str| details[key].as_str().map(str::to_owned);
        Notice {
            delivery: Some(e.seq),
            kind: text("kind").unwrap_or_else(|| {
                e.action
                    .strip_prefix("alert.")
                    .unwrap_or(&e.action)
                    .to_owned()
            }),
            severity: text("severity").unwrap_or_default(),
            subject: e.target.clone().unwrap_or_default(),
            at: e.occurred_at,
            node: e.node_id.clone(),
            evidence: details["evidence"].clone(),
        }
    }

    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "at": self.at.format(&Rfc3339).unwrap_or_default(),
            "node": self.node,
            "evidence": self.evidence,
        });
        if let Some(seq) = self.delivery {
            body["delivery"] = seq.into();
        }
        body
    }
}

/// Why an attempt was not accepted.
struct Refused {
    reason: String,
    /// Trying again cannot help (the sink is no longer configured, the alert is gone).
    last: bool,
}

impl From<String> for Refused {
    fn from(reason: String) -> Self {
        Refused {
            reason,
            last: false,
        }
    }
}

fn last(reason: &str) -> Refused {
    Refused {
        reason: reason.to_owned(),
        last: true,
    }
}

/// Sends an alert the log could not record, once, as the sinks would have received it: the
/// best that can be done without the database.
pub(super) fn send_unrecorded(state: &AppState, alert: &Alert) {
    let notice = Notice {
        delivery: None,
        kind: alert.kind.as_str().to_owned(),
        severity: alert.kind.severity().to_owned(),
        subject: alert.subject.clone(),
        at: alert.at,
        node: state.config.node_id.clone(),
        evidence: alert.evidence.clone(),
    };
    let state = state.clone();
    tokio::spawn(async move {
        for sink in sinks(&state.config.alerts) {
            if let Err(refused) = send(&state, sink, &notice).await {
                tracing::warn!(error = %refused.reason, sink, "an unrecorded alert was not delivered");
                state.metrics.alert_delivery(sink, "failed");
            } else {
                state.metrics.alert_delivery(sink, "delivered");
            }
        }
    });
}

/// Delivers the alerts waiting in the outbox, while this node leads, until `stop` changes.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(super::POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if !state.leadership.is_leader() {
            continue;
        }
        // An attempt cut short here was claimed and counted: it is made again once its
        // claim runs out, by this node or the next leader.
        tokio::select! {
            _ = round(&state) => {}
            _ = stop.changed() => break,
        }
    }
}

/// One pass over the deliveries due now.
async fn round(state: &AppState) {
    match state.store.alert_deliveries_waiting().await {
        Ok(n) => {
            state.metrics.alert_deliveries_pending.set(n);
        }
        Err(e) => {
            tracing::warn!(error = %e, "the alert outbox could not be read");
            return;
        }
    }
    let now = state.clock.now();
    let due = match state.store.alert_deliveries(Some(now), BATCH).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "the alert outbox could not be read");
            return;
        }
    };
    let mut attempts = tokio::task::JoinSet::new();
    for delivery in due {
        let token = format!("{}/{}", state.config.node_id, uuid::Uuid::new_v4().simple());
        match state
            .store
            .alert_delivery_claim(&delivery, &token, now, now + CLAIM)
            .await
        {
            Ok(true) => {
                let state = state.clone();
                attempts.spawn(async move { attempt(&state, delivery, &token).await });
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "an alert delivery could not be claimed"),
        }
    }
    while attempts.join_next().await.is_some() {}
}

/// Makes the attempt of `delivery` claimed under `token` and records what came of it,
/// under that token (which releases the claim).
async fn attempt(state: &AppState, delivery: PendingDelivery, token: &str) {
    let made = delivery.attempts.saturating_add(1);
    let seq = delivery.seq;
    let sink: &'static str = match delivery.sink.as_str() {
        WEBHOOK => WEBHOOK,
        EMAIL => EMAIL,
        _ => "unknown",
    };
    let sent = match alert_event(state, seq).await {
        Ok(Some(event)) => send(state, sink, &Notice::of_event(&event)).await,
        Ok(None) => Err(last("the alert's event is not in the audit log")),
        Err(e) => Err(Refused::from(format!("reading the alert's event: {e}"))),
    };
    let refused = match sent {
        Ok(()) => {
            match state
                .store
                .alert_delivery_done(seq, &delivery.sink, token)
                .await
            {
                Ok(true) => {}
                // The lease ran out and another attempt took the delivery over: it sends
                // again, and the key lets the sink drop the repeat.
                Ok(false) => {
                    tracing::warn!(
                        sink,
                        alert = seq,
                        "a delivered alert's claim was taken over"
                    )
                }
                // Delivered again after the claim runs out; the key lets the sink drop it.
                Err(e) => {
                    tracing::warn!(error = %e, sink, "a delivered alert is still in the outbox")
                }
            }
            state.metrics.alert_delivery(sink, "delivered");
            return;
        }
        Err(refused) => refused,
    };
    let next = if refused.last {
        Next::GiveUp
    } else {
        state.config.alerts.retry().after_failure(made)
    };
    let now = state.clock.now();
    match next {
        Next::RetryIn(wait) => {
            tracing::warn!(error = %refused.reason, sink, alert = seq, attempt = made, "an alert was not delivered; it will be tried again");
            match state
                .store
                .alert_delivery_retry(seq, &delivery.sink, token, now + wait, &refused.reason)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(sink, alert = seq, "a failed attempt's claim was taken over")
                }
                Err(e) => {
                    tracing::warn!(error = %e, sink, "an alert's next attempt could not be planned")
                }
            }
            state.metrics.alert_delivery(sink, "retried");
        }
        Next::GiveUp => {
            tracing::error!(error = %refused.reason, sink, alert = seq, attempts = made, "an alert was not delivered; delivery gave up");
            let ctx = AuditContext {
                actor_id: None,
                actor_name: None,
                request_id: None,
                source: None,
                node_id: state.config.node_id.clone(),
            };
            let event = AuditEvent {
                action: "alert.delivery_failed",
                target: Some(delivery.sink.clone()),
                outcome: Outcome::Failure,
                details: serde_json::json!({
                    "sink": delivery.sink,
                    "alert": seq,
                    "attempts": made,
                    "reason": refused.reason,
                })
                .to_string(),
            };
            match state
                .store
                .alert_delivery_give_up(seq, &delivery.sink, token, &ctx, &event, now)
                .await
            {
                Ok(true) => state.metrics.alert_delivery(sink, "failed"),
                // Taken over after its lease: the attempt holding it now decides.
                Ok(false) => {
                    tracing::warn!(sink, alert = seq, "a failed attempt's claim was taken over")
                }
                Err(e) => {
                    tracing::warn!(error = %e, sink, "giving up an alert's delivery could not be recorded")
                }
            }
        }
    }
}

/// The `alert.<kind>` event `seq`, if it is one.
async fn alert_event(state: &AppState, seq: i64) -> Result<Option<StoredEvent>, String> {
    let events = state
        .store
        .events_after(seq - 1, 1)
        .await
        .map_err(|e| e.to_string())?;
    Ok(events
        .into_iter()
        .find(|e| e.seq == seq && e.action.starts_with("alert.")))
}

/// One attempt to `sink`.
async fn send(state: &AppState, sink: &str, notice: &Notice) -> Result<(), Refused> {
    let config = &state.config.alerts;
    match sink {
        WEBHOOK if !config.webhook_url.is_empty() => {
            match tokio::time::timeout(TIMEOUT, webhook(state, notice)).await {
                Ok(sent) => sent.map_err(Refused::from),
                Err(_) => Err(Refused::from(
                    "the webhook did not answer in time".to_owned(),
                )),
            }
        }
        WEBHOOK => Err(last("alerts.webhook_url is no longer set")),
        EMAIL if list_items(&config.email_to).next().is_some() => {
            match tokio::time::timeout(MAIL_TIMEOUT, mail(state, notice)).await {
                Ok(sent) => sent.map_err(Refused::from),
                Err(_) => Err(Refused::from(
                    "the mail server did not finish in time".to_owned(),
                )),
            }
        }
        EMAIL => Err(last("alerts.email_to is no longer set")),
        _ => Err(last("an unknown sink")),
    }
}

async fn webhook(state: &AppState, notice: &Notice) -> Result<(), String> {
    let config = &state.config.alerts;
    let secret = SecretRef::parse(&config.webhook_secret)
        .map_err(|_| "alerts.webhook_secret is not a secret reference".to_owned())?
        .resolve(|name| std::env::var(name).ok())?;
    let body = serde_json::to_vec(&notice.body()).map_err(|e| e.to_string())?;
    let timestamp = state.clock.now().unix_timestamp();
    let signature = sign(secret.as_bytes(), timestamp, &body)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the webhook's HTTP client: {e}"))?;
    let mut request = client
        .post(&config.webhook_url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature);
    if let Some(seq) = notice.delivery {
        request = request.header(DELIVERY_HEADER, seq.to_string());
    }
    let answer = request
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the webhook did not answer: {}", e.without_url()))?;
    if !answer.status().is_success() {
        return Err(format!("the webhook answered {}", answer.status()));
    }
    Ok(())
}

/// One message to every address of `email_to`, accepted by the mail server for all of them
/// or for none (a refused recipient fails the whole transaction), so an attempt made again
/// does not send twice to those that had it.
async fn mail(state: &AppState, notice: &Notice) -> Result<(), String> {
    let mailer = crate::mail::transport(state)?
        .ok_or("no mail server is configured ([support] smtp_host)")?;
    let from = crate::mail::sender(state)?;
    let mut message = Message::builder()
        .from(from.clone())
        .subject(format!(
            "Rampart alert: {} ({})",
            notice.kind, notice.subject
        ))
        .header(ContentType::TEXT_PLAIN);
    for to in list_items(&state.config.alerts.email_to) {
        let to: Mailbox = to.parse().map_err(|e| format!("alerts.email_to: {e}"))?;
        message = message.to(to);
    }
    if let Some(seq) = notice.delivery {
        message = message.message_id(Some(format!(
            "<rampart-alert-{seq}@{}>",
            from.email.domain()
        )));
    }
    let text = serde_json::to_string_pretty(&notice.body()).unwrap_or_default();
    let message = message
        .body(format!(
            "Rampart raised a {} alert about {}.\n\n{text}\n",
            notice.severity, notice.subject
        ))
        .map_err(|e| format!("building the message: {e}"))?;
    mailer
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("the mail server: {e}"))
}
