//! Rampart as an OpenID Connect provider: registered clients and signing keys
//! (`/api/v1/idp/*`).

use rampart_api::idp::{
    IdpClientCreated, IdpClientInfo, IdpClientList, IdpClientUpdate, IdpKeyList,
    NewIdpClientRequest,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// The OpenID provider operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Idp<'c> {
    client: &'c Client,
}

impl<'c> Idp<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `GET /api/v1/idp/clients` (administrators and auditors).
    pub async fn clients(&self) -> Result<IdpClientList, ClientError> {
        self.client.get(&["idp", "clients"]).await
    }

    /// `POST /api/v1/idp/clients`: registers a client; the answer holds its secret, once.
    pub async fn create(
        &self,
        request: &NewIdpClientRequest,
    ) -> Result<IdpClientCreated, ClientError> {
        self.client.post(&["idp", "clients"], request).await
    }

    /// `GET /api/v1/idp/clients/{id}`.
    pub async fn client(&self, id: &str) -> Result<IdpClientInfo, ClientError> {
        self.client.get(&["idp", "clients", id]).await
    }

    /// `PATCH /api/v1/idp/clients/{id}`: changes the settings `change` has; the client as
    /// it now is.
    pub async fn update(
        &self,
        id: &str,
        change: &IdpClientUpdate,
    ) -> Result<IdpClientInfo, ClientError> {
        self.client
            .send(Method::PATCH, &["idp", "clients", id], change)
            .await
    }

    /// `DELETE /api/v1/idp/clients/{id}`.
    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete(&["idp", "clients", id]).await
    }

    /// `POST /api/v1/idp/clients/{id}/secret`: a new secret, once.
    pub async fn rotate_secret(&self, id: &str) -> Result<IdpClientCreated, ClientError> {
        self.client
            .post_bare(&["idp", "clients", id, "secret"])
            .await
    }

    /// `GET /api/v1/idp/keys`.
    pub async fn keys(&self) -> Result<IdpKeyList, ClientError> {
        self.client.get(&["idp", "keys"]).await
    }

    /// `POST /api/v1/idp/keys/rotate` (a step-up first, for those with a second factor).
    pub async fn rotate_key(&self) -> Result<IdpKeyList, ClientError> {
        self.client.post_bare(&["idp", "keys", "rotate"]).await
    }
}
