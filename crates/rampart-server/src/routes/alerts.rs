//! `/api/v1/alerts/deliveries`: the alert outbox for operators. Administrators and auditors
//! read what waits and what gave up; administrators ask for a delivery again (audited).

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use rampart_api::{AlertDeliveriesQuery, AlertDeliveryPage, AlertRetryRequest, AlertRetryResponse};
use rampart_service::alerts::queue;
use rampart_service::state::AppState;

use crate::auth::{permitted, Authenticated};
use crate::error::{ApiError, Json, Problem};
use crate::rules;

/// An IT administrator or auditor, who may read the alert outbox.
#[derive(Debug, Clone)]
pub struct DeliveryReader(pub Authenticated);

impl FromRequestParts<AppState> for DeliveryReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::READ_ALERTS)
            .await
            .map(DeliveryReader)
    }
}

/// An IT administrator, who may ask for an alert's delivery again.
#[derive(Debug, Clone)]
pub struct DeliveryRetrier(pub Authenticated);

impl FromRequestParts<AppState> for DeliveryRetrier {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::RETRY_ALERTS)
            .await
            .map(DeliveryRetrier)
    }
}

/// The alert outbox, a page at a time: deliveries waiting for their next attempt (oldest
/// alert first), or with `state=failed` those that gave up after their last attempt (newest
/// first, from their `alert.delivery_failed` events, with any later request to deliver
/// again). Each names the alert (its sequence number, the delivery key), its kind, subject
/// and time, the sink, the attempts and the last failure's reason; never the sink's address
/// or secret. Administrators and auditors.
#[utoipa::path(
    get, path = "/api/v1/alerts/deliveries", tag = "operations",
    params(AlertDeliveriesQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = AlertDeliveryPage),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `state`, `cursor` or `limit`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _reader: DeliveryReader,
    Query(q): Query<AlertDeliveriesQuery>,
) -> Result<Json<AlertDeliveryPage>, ApiError> {
    Ok(Json(queue::list(&state, q).await?))
}

/// Deliver an alert to a sink again: one waiting for a later attempt becomes due now
/// (its attempts kept), one that gave up is queued afresh (attempts from zero). The node
/// that delivers sends it on its next round, with the same delivery key as before.
/// Refused while an attempt holds the delivery (it would be sent twice at once).
/// Recorded as `alert.delivery_requeued` (who, the alert, the sink). IT administrators.
#[utoipa::path(
    post, path = "/api/v1/alerts/deliveries/retry", tag = "operations",
    request_body = AlertRetryRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Queued, due now", body = AlertRetryResponse),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No event with that sequence number in the audit log", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The sink is not configured on this node, an attempt of the delivery is in flight (try again after it ends), or the delivery is already waiting and due; nothing was changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The event is not an alert, or the sink is not `webhook` or `email`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    DeliveryRetrier(admin): DeliveryRetrier,
    Json(req): Json<AlertRetryRequest>,
) -> Result<Json<AlertRetryResponse>, ApiError> {
    Ok(Json(
        queue::retry(&state, &admin.caller(&state), req).await?,
    ))
}
