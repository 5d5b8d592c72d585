//! The alert outbox (`/api/v1/alerts/deliveries`): what waits, what gave up, and asking
//! for a delivery again.

use rampart_api::{AlertDeliveriesQuery, AlertDeliveryPage, AlertRetryRequest, AlertRetryResponse};

use crate::{Client, ClientError};

/// The alert outbox operations of a [`Client`]: reading needs an IT administrator or
/// auditor, asking again an IT administrator.
#[derive(Debug, Clone, Copy)]
pub struct Alerts<'c> {
    client: &'c Client,
}

impl<'c> Alerts<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET /api/v1/alerts/deliveries`: a page of deliveries, waiting (`state` absent or
    /// `pending`) or given up (`failed`).
    pub async fn deliveries(
        &self,
        query: &AlertDeliveriesQuery,
    ) -> Result<AlertDeliveryPage, ClientError> {
        self.client
            .get_query(&["alerts", "deliveries"], query)
            .await
    }

    /// `POST /api/v1/alerts/deliveries/retry`: delivers an alert to a sink again.
    pub async fn retry(
        &self,
        request: &AlertRetryRequest,
    ) -> Result<AlertRetryResponse, ClientError> {
        self.client
            .post(&["alerts", "deliveries", "retry"], request)
            .await
    }
}
