//! The alert outbox for operators: the deliveries of alerts to their sinks that are
//! waiting, those that gave up, and asking for one again
//! (`/api/v1/alerts/deliveries`, `rampart alerts …`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/alerts/deliveries`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertDeliveriesQuery {
    /// `pending` (the outbox: deliveries still to be made, oldest alert first; default) or
    /// `failed` (deliveries that gave up, from their `alert.delivery_failed` events,
    /// newest first).
    #[param(inline, value_type = Option<AlertDeliveryState>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Which deliveries to list (documentation only: the query keeps the text, which the
/// service checks).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AlertDeliveryState {
    /// Waiting in the outbox for their next attempt.
    Pending,
    /// Given up after the last attempt.
    Failed,
}

/// A sink alerts are delivered to (documentation only: requests keep the text, which the
/// service checks).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AlertSink {
    /// The signed webhook (`alerts.webhook_url`).
    Webhook,
    /// E-mail (`alerts.email_to`).
    Email,
}

/// The delivery of one alert to one sink. Never holds a secret or the sink's address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertDeliveryView {
    /// The alert: the sequence number of its `alert.<kind>` event in the audit log, and
    /// the delivery key the sink receives.
    pub alert: i64,
    /// The alert's kind (`brute_force`, `credential_stuffing`, …).
    pub kind: String,
    /// What the alert is about, as its event records it (e.g. `it:bob`).
    pub subject: Option<String>,
    /// When the alert was raised.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub raised_at: OffsetDateTime,
    /// `webhook` or `email`.
    #[schema(value_type = AlertSink)]
    pub sink: String,
    /// `pending` or `failed`.
    #[schema(value_type = AlertDeliveryState)]
    pub state: String,
    /// Attempts made so far (pending), or made before giving up (failed).
    pub attempts: u32,
    /// Pending: when the next attempt may begin (a time in the past: on the next round,
    /// within a second).
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Pending: while an attempt is in flight, when its claim's lease runs out (a request
    /// to deliver again is refused until the attempt ends).
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub in_flight_until: Option<OffsetDateTime>,
    /// Why the last attempt failed (none before the first attempt).
    pub last_error: Option<String>,
    /// Failed: when delivery gave up.
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failed_at: Option<OffsetDateTime>,
    /// Failed: the sequence number of the `alert.delivery_failed` event.
    pub failure_event: Option<i64>,
    /// Failed: when an administrator asked for it again afterwards, if one did.
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub requeued_at: Option<OffsetDateTime>,
    /// Failed: who asked for it again (e.g. `it:admin`).
    pub requeued_by: Option<String>,
}

/// A page of alert deliveries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertDeliveryPage {
    /// The deliveries: pending ones oldest alert first, failed ones newest first.
    pub items: Vec<AlertDeliveryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/alerts/deliveries/retry`: deliver an alert to a sink again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRetryRequest {
    /// The alert's sequence number in the audit log (`alert` in the listing).
    pub alert: i64,
    /// `webhook` or `email`: a sink configured on the node.
    #[schema(value_type = AlertSink)]
    pub sink: String,
}

/// What asking for a delivery again did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertRetryResponse {
    /// `waiting` (it was waiting for a later attempt, which may now begin; its attempts
    /// are kept) or `not-queued` (it was not in the outbox, having given up: it is queued
    /// afresh, its attempts from zero).
    pub was: String,
    /// The delivery as it now waits, due at once.
    pub delivery: AlertDeliveryView,
}
