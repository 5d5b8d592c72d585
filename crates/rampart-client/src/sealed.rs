//! Sealed modules: environments' public keys (`/api/v1/environments/{env}/public-key`),
//! imports of sealed packages and the publishers administrators trust
//! (`/api/v1/publishers`).

use rampart_api::{EnvironmentPublicKey, ImportResponse, PublisherWire, TrustPublisherRequest};
use reqwest::Method;

use crate::{Client, ClientError};

/// The sealed-module operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Sealed<'c> {
    client: &'c Client,
}

impl<'c> Sealed<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET /api/v1/environments/{env}/public-key`: the recipient to seal modules to.
    pub async fn public_key(&self, environment: &str) -> Result<EnvironmentPublicKey, ClientError> {
        self.client
            .get(&["environments", environment, "public-key"])
            .await
    }

    /// `POST /api/v1/environments/{env}/imports`: imports a sealed package, byte for byte.
    pub async fn import(
        &self,
        environment: &str,
        package: Vec<u8>,
    ) -> Result<ImportResponse, ClientError> {
        self.client
            .call(Method::POST, &["environments", environment, "imports"])
            .raw_json(package)
            .json()
            .await
    }

    /// `GET /api/v1/publishers` (administrators).
    pub async fn publishers(&self) -> Result<Vec<PublisherWire>, ClientError> {
        self.client.get(&["publishers"]).await
    }

    /// `POST /api/v1/publishers`: trusts a publisher key (administrators).
    pub async fn trust(
        &self,
        request: &TrustPublisherRequest,
    ) -> Result<PublisherWire, ClientError> {
        self.client.post(&["publishers"], request).await
    }

    /// `POST /api/v1/publishers/{name}/revoke` (administrators).
    pub async fn revoke(&self, name: &str) -> Result<(), ClientError> {
        self.client
            .call(Method::POST, &["publishers", name, "revoke"])
            .empty()
            .await
    }
}
