//! Deployment plans (`/api/v1/deployment-plans/*`): applications at tagged versions with the
//! settings an environment needs, previewed, run, copied to the next environment; and the
//! settings in force in an environment.

use rampart_api::{
    PlanCopyRequest, PlanCreateRequest, PlanPage, PlanRunRequest, PlanWire, PlansQuery, SettingWire,
};

use crate::{Client, ClientError};

/// The deployment-plan operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Plans<'c> {
    client: &'c Client,
}

impl<'c> Plans<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /api/v1/deployment-plans`: a draft, with what running it now would do.
    pub async fn create(&self, request: &PlanCreateRequest) -> Result<PlanWire, ClientError> {
        self.client.post(&["deployment-plans"], request).await
    }

    /// `GET /api/v1/deployment-plans`: a page of the plans the caller may see, newest
    /// first; pass its `next_cursor` as the query's `cursor` for the next.
    pub async fn list(&self, query: &PlansQuery) -> Result<PlanPage, ClientError> {
        self.client.get_query(&["deployment-plans"], query).await
    }

    /// `GET /api/v1/deployment-plans/{id}`: a plan and its preview.
    pub async fn get(&self, id: i64) -> Result<PlanWire, ClientError> {
        self.client
            .get(&["deployment-plans", &id.to_string()])
            .await
    }

    /// `POST /api/v1/deployment-plans/{id}/run`: deploys and configures in one step (or
    /// waits for a second approver); with `dry_run`, what would happen.
    pub async fn run(&self, id: i64, request: &PlanRunRequest) -> Result<PlanWire, ClientError> {
        self.client
            .post(&["deployment-plans", &id.to_string(), "run"], request)
            .await
    }

    /// `POST /api/v1/deployment-plans/{id}/copy`: a new draft for the next environment (or
    /// the one given), with that environment's settings.
    pub async fn copy(&self, id: i64, request: &PlanCopyRequest) -> Result<PlanWire, ClientError> {
        self.client
            .post(&["deployment-plans", &id.to_string(), "copy"], request)
            .await
    }

    /// `GET /api/v1/environments/{env}/settings`: the settings in force there (secret
    /// references, never secrets).
    pub async fn settings(&self, environment: &str) -> Result<Vec<SettingWire>, ClientError> {
        self.client
            .get(&["environments", environment, "settings"])
            .await
    }
}
