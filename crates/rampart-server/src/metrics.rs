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

use crate::config::{Config, SecretRef};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a served request; `route` is the matched route template, never the raw path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Route template, e.g. `/api/v1/users/{id}`.
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of a request's duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
}

/// Labels of a login attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    /// `it` or `end`.
    pub provider: String,
    /// `ok`, `failed`, `throttled`, `disabled`, `expired`.
    pub outcome: String,
}

/// Labels of a throttling decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    /// `account` or `address`.
    pub scope: String,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Requests served.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency.
    pub latency: Family<RouteLabels, Histogram>,
    /// Login attempts by outcome.
    pub logins: Family<LoginLabels, Counter>,
    /// Usernames locked after repeated failures.
    pub lockouts: Counter,
    /// Logins refused without checking the password because of throttling.
    pub throttled: Family<ScopeLabels, Counter>,
    /// Requests being served now.
    pub in_flight: Gauge,
    /// Audit events committed, all streams.
    pub audit_events: Counter,
    /// Events waiting in the access pipeline.
    pub audit_queue: Gauge,
    /// The size of the newest signed checkpoint.
    pub audit_checkpoint_size: Gauge,
    /// Events re-verified by the scheduled check.
    pub audit_verified: Counter,
    /// 1 once the scheduled check has found the log altered (an alert), else 0.
    pub audit_tamper_alert: Gauge,
    /// Steps of the search-key compaction done (each one transaction).
    pub audit_compaction_steps: Counter,
    /// Merges the search-key compaction has ready or under way.
    pub audit_compaction_backlog: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5,
            ])
        });
        let logins = Family::<LoginLabels, Counter>::default();
        let lockouts = Counter::default();
        let throttled = Family::<ScopeLabels, Counter>::default();
        let in_flight = Gauge::default();
        let audit_events = Counter::default();
        let audit_queue = Gauge::default();
        let audit_checkpoint_size = Gauge::default();
        let audit_verified = Counter::default();
        let audit_tamper_alert = Gauge::default();
        let audit_compaction_steps = Counter::default();
        let audit_compaction_backlog = Gauge::default();
        registry.register(
            "audit_events",
            "Audit events committed through the access pipeline",
            audit_events.clone(),
        );
        registry.register(
            "audit_pipeline_queued",
            "Audit events waiting in the access pipeline",
            audit_queue.clone(),
        );
        registry.register(
            "audit_checkpoint_size",
            "Tree size of the newest signed audit checkpoint",
            audit_checkpoint_size.clone(),
        );
        registry.register(
            "audit_verified_events",
            "Audit events re-verified by the scheduled check",
            audit_verified.clone(),
        );
        registry.register(
            "audit_tamper_alert",
            "1 when the scheduled check found the audit log altered (see the error log)",
            audit_tamper_alert.clone(),
        );
        registry.register(
            "audit_key_compaction_steps",
            "Steps of the audit search-key compaction done (one transaction each)",
            audit_compaction_steps.clone(),
        );
        registry.register(
            "audit_key_compaction_backlog",
            "Merges the audit search-key compaction has ready or under way (0 once caught up; \
             it grows while appends keep the compaction yielding)",
            audit_compaction_backlog.clone(),
        );
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to serve an HTTP request",
            latency.clone(),
        );
        registry.register(
            "logins",
            "Login attempts by provider and outcome",
            logins.clone(),
        );
        registry.register(
            "lockouts",
            "Usernames locked after repeated failed logins",
            lockouts.clone(),
        );
        registry.register(
            "login_throttled",
            "Login attempts refused by throttling, by scope",
            throttled.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being served",
            in_flight.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            logins,
            lockouts,
            throttled,
            in_flight,
            audit_events,
            audit_queue,
            audit_checkpoint_size,
            audit_verified,
            audit_tamper_alert,
            audit_compaction_steps,
            audit_compaction_backlog,
        }
    }
}

impl Metrics {
    /// Counts a login attempt.
    pub fn login(&self, provider: &str, outcome: &str) {
        self.logins
            .get_or_create(&LoginLabels {
                provider: provider.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

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
