//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format, and who may
//! read them.
//!
//! `/metrics` is closed unless configured, because counts of logins, lockouts and routes
//! tell an attacker how the node is used: with `metrics_addr` it is served on a plain-HTTP
//! listener of its own (meant for loopback or an internal network) and nowhere else; with
//! `metrics.token` every read needs `Authorization: Bearer <token>`, on whichever listener
//! serves it; with `metrics.token` alone it is served on the HTTPS port.

use axum::http::{header, HeaderMap};
use rampart_core::Error;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use rampart_service::config::{Config, SecretRef};

/// Who may read `/metrics`, and whether the HTTPS port serves it: the configuration with
/// the token resolved (kept as its SHA-256, compared in constant time).
#[derive(Clone, Default)]
pub struct MetricsAccess {
    token: Option<[u8; 32]>,
    on_https: bool,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("token", &self.token.map(|_| "<redacted>"))
            .field("on_https", &self.on_https)
            .finish()
    }
}

impl MetricsAccess {
    /// Closed everywhere: what a router built without a configuration gets.
    pub fn closed() -> Self {
        Self::default()
    }

    /// Resolves `metrics.token` (with `env` as the process environment) and decides where
    /// `/metrics` is served. The error names the key and the reference, never the token.
    pub fn from_config(
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let token = if config.metrics.token.is_empty() {
            None
        } else {
            let reference = SecretRef::parse(&config.metrics.token)
                .map_err(|allowed| format!("metrics.token: {allowed}"))?;
            let token = reference
                .resolve(env)
                .map_err(|why| format!("metrics.token = {reference}: {why}"))?;
            if token.len() < 16 {
                return Err(format!(
                    "metrics.token = {reference}: the token is too short (at least 16 \
                     characters; e.g. openssl rand -hex 32)"
                ));
            }
            Some(Sha256::digest(token.as_bytes()).into())
        };
        Ok(Self {
            on_https: config.metrics_addr.is_empty() && token.is_some(),
            token,
        })
    }

    /// Whether the HTTPS port serves `/metrics`.
    pub fn on_https(&self) -> bool {
        self.on_https
    }

    /// Whether a token is required.
    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    /// Checks the request's bearer token when one is required.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Error> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token.trim())
            });
        let Some(given) = given else {
            return Err(Error::Unauthenticated(
                "the metrics token is required: send Authorization: Bearer <metrics token>",
            ));
        };
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        if bool::from(digest.ct_eq(expected)) {
            Ok(())
        } else {
            Err(Error::Unauthenticated("the metrics token is not valid"))
        }
    }
}
