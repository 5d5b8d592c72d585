//! One request on its way: query and body added, sent, and the answer read as the API
//! documents it (JSON, nothing, or a stream), an error status becoming a [`ClientError`].

use rampart_api::Problem;
use reqwest::header::RETRY_AFTER;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Client, ClientError};

/// A request being built (see [`Client::call`]).
pub(crate) struct Call<'c> {
    client: &'c Client,
    builder: reqwest::RequestBuilder,
    /// `METHOD /path`, for messages.
    operation: String,
}

impl<'c> Call<'c> {
    pub(crate) fn new(
        client: &'c Client,
        builder: reqwest::RequestBuilder,
        operation: String,
    ) -> Self {
        Self {
            client,
            builder,
            operation,
        }
    }

    /// Adds `query`'s fields as query parameters (absent options are left out).
    pub(crate) fn query<Q: Serialize + ?Sized>(mut self, query: &Q) -> Self {
        self.builder = self.builder.query(query);
        self
    }

    /// Sends `body` as JSON.
    pub(crate) fn body<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    /// Sends `bytes` as the body, as they are, with the JSON content type.
    pub(crate) fn raw_json(mut self, bytes: Vec<u8>) -> Self {
        self.builder = self
            .builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes);
        self
    }

    /// Sends `bytes` as the body, as they are, with `content_type`.
    pub(crate) fn raw(mut self, bytes: Vec<u8>, content_type: &str) -> Self {
        self.builder = self
            .builder
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        self
    }

    /// Sends the request; an error status becomes [`ClientError::Problem`] (or
    /// [`ClientError::Status`] without a problem document).
    pub(crate) async fn send(self) -> Result<reqwest::Response, ClientError> {
        let transport = |source| ClientError::Transport {
            server: self.client.server.clone(),
            source,
        };
        let response = self.builder.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<Problem>(&body) {
            Ok(mut problem) => {
                problem.retry_after = problem.retry_after.or(retry_after);
                Err(ClientError::Problem {
                    status,
                    problem: Box::new(problem),
                })
            }
            Err(_) => Err(ClientError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }

    /// Sends the request and reads the answer's JSON body as a `T`.
    pub(crate) async fn json<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        let server = self.client.server.clone();
        let operation = self.operation.clone();
        let response = self.send().await?;
        let body = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport { server, source })?;
        serde_json::from_slice(&body).map_err(|source| ClientError::Decode { operation, source })
    }

    /// Sends the request, expecting an answer without a body (`204 No Content`); a body, if
    /// any, is read and dropped.
    pub(crate) async fn empty(self) -> Result<(), ClientError> {
        let server = self.client.server.clone();
        let response = self.send().await?;
        response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport { server, source })?;
        Ok(())
    }
}

impl Client {
    /// `GET` of `segments` (see [`Client::call`]), the answer's JSON read as a `T`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<T, ClientError> {
        self.call(Method::GET, segments).json().await
    }

    /// `GET` of `segments` with `query`'s fields as parameters, the answer's JSON read as a `T`.
    pub(crate) async fn get_query<Q: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &Q,
    ) -> Result<T, ClientError> {
        self.call(Method::GET, segments).query(query).json().await
    }

    /// `POST` of `segments` with `body` as JSON, the answer's JSON read as a `T`.
    pub(crate) async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::POST, segments, body).await
    }

    /// `method` of `segments` with `body` as JSON, the answer's JSON read as a `T`.
    pub(crate) async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(method, segments).body(body).json().await
    }

    /// `POST` of `segments` without a body, the answer's JSON read as a `T`.
    pub(crate) async fn post_bare<T: DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<T, ClientError> {
        self.call(Method::POST, segments).json().await
    }

    /// `DELETE` of `segments`, expecting an answer without a body.
    pub(crate) async fn delete(&self, segments: &[&str]) -> Result<(), ClientError> {
        self.call(Method::DELETE, segments).empty().await
    }

    /// `POST` of `segments` with `body` as JSON, expecting an answer without a body.
    pub(crate) async fn post_empty<B: Serialize + ?Sized>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<(), ClientError> {
        self.call(Method::POST, segments).body(body).empty().await
    }
}

#[cfg(test)]
impl Call<'_> {
    /// The URL the request would go to.
    pub(crate) fn url(self) -> Option<reqwest::Url> {
        self.builder.build().ok().map(|r| r.url().clone())
    }
}
