//! User providers: directories that vouch for users (`/api/v1/providers/*`).

use rampart_api::{
    CreateProviderRequest, ProviderList, ProviderStatusView, ProviderTestResult, ProviderView,
    ScimTokenIssued, ScimTokenStatus, SyncReport, UpdateProviderRequest,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// The user-provider operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Providers<'c> {
    client: &'c Client,
}

impl<'c> Providers<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET /api/v1/providers`: every user provider (administrators and auditors).
    pub async fn list(&self) -> Result<ProviderList, ClientError> {
        self.client.get(&["providers"]).await
    }

    /// `POST /api/v1/providers`: creates a user provider (administrators).
    pub async fn create(
        &self,
        request: &CreateProviderRequest,
    ) -> Result<ProviderView, ClientError> {
        self.client.post(&["providers"], request).await
    }

    /// `GET /api/v1/providers/{name}`.
    pub async fn get(&self, name: &str) -> Result<ProviderView, ClientError> {
        self.client.get(&["providers", name]).await
    }

    /// `PATCH /api/v1/providers/{name}`.
    pub async fn update(
        &self,
        name: &str,
        request: &UpdateProviderRequest,
    ) -> Result<ProviderView, ClientError> {
        self.client
            .send(Method::PATCH, &["providers", name], request)
            .await
    }

    /// `DELETE /api/v1/providers/{name}`: its users are disabled, their sessions end.
    pub async fn delete(&self, name: &str) -> Result<(), ClientError> {
        self.client.delete(&["providers", name]).await
    }

    /// `POST /api/v1/providers/{name}/test`: connects and binds with the service account.
    pub async fn test(&self, name: &str) -> Result<ProviderTestResult, ClientError> {
        self.client.post_bare(&["providers", name, "test"]).await
    }

    /// `POST /api/v1/providers/{name}/sync`: a sync run now.
    pub async fn sync(&self, name: &str) -> Result<SyncReport, ClientError> {
        self.client.post_bare(&["providers", name, "sync"]).await
    }

    /// `GET /api/v1/providers/{name}/status`.
    pub async fn status(&self, name: &str) -> Result<ProviderStatusView, ClientError> {
        self.client.get(&["providers", name, "status"]).await
    }

    /// `GET /api/v1/providers/{name}/scim-token`: whether a SCIM token is in force.
    pub async fn scim_token(&self, name: &str) -> Result<ScimTokenStatus, ClientError> {
        self.client.get(&["providers", name, "scim-token"]).await
    }

    /// `POST /api/v1/providers/{name}/scim-token`: makes or rotates the SCIM token, shown
    /// this once (administrators).
    pub async fn issue_scim_token(&self, name: &str) -> Result<ScimTokenIssued, ClientError> {
        self.client
            .post_bare(&["providers", name, "scim-token"])
            .await
    }

    /// `DELETE /api/v1/providers/{name}/scim-token`: revokes the SCIM token.
    pub async fn revoke_scim_token(&self, name: &str) -> Result<(), ClientError> {
        self.client.delete(&["providers", name, "scim-token"]).await
    }
}
