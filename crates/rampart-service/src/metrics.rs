//! The node's Prometheus metrics: every counter, gauge and histogram it exports, and their
//! rendering in the OpenMetrics text format. Who may read them is the server's concern.

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

/// Labels of a request refused by a rate limit.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabels {
    /// The route class, e.g. `sign_in` (a fixed set).
    pub class: &'static str,
}

/// Labels of a raised alert.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    /// The alert's kind, e.g. `brute_force` (a fixed set).
    pub kind: String,
}

/// Labels of an attempt to deliver an alert.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `webhook` or `email`.
    pub sink: &'static str,
    /// `delivered` (the sink accepted), `retried` (it did not; another attempt follows) or
    /// `failed` (it did not, and that was the last attempt).
    pub outcome: &'static str,
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
    /// Deployments applied whose declared application roles could not all be created.
    pub deployment_role_failures: Counter,
    /// Support cases opened.
    pub support_cases_opened: Counter,
    /// Support notifications the mail server did not accept.
    pub support_mail_failures: Counter,
    /// 1 once this node found the log not extending its newest signed checkpoint, else 0.
    pub audit_fork_alert: Gauge,
    /// Alerts raised, by kind.
    pub alerts: Family<AlertLabels, Counter>,
    /// Attempts to deliver an alert that a sink did not accept, any sink.
    pub alert_delivery_failures: Counter,
    /// Attempts to deliver an alert, by sink and outcome.
    pub alert_deliveries: Family<DeliveryLabels, Counter>,
    /// Alert notifications not yet accepted by their sink, as the leader last read them.
    pub alert_deliveries_pending: Gauge,
    /// 1 while this node runs the once-per-cluster background work.
    pub cluster_leader: Gauge,
    /// Requests refused by a rate limit, by route class.
    pub rate_limited: Family<RateLimitLabels, Counter>,
    /// How long responses that moved the marks were held until every node acknowledged
    /// them (PostgreSQL).
    pub acknowledgement_wait: Histogram,
    /// Of those waits, the ones that ended because a node's lease ran out rather than the
    /// node acknowledging.
    pub acknowledgement_lease_ran_out: Counter,
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
        let deployment_role_failures = Counter::default();
        let support_cases_opened = Counter::default();
        let support_mail_failures = Counter::default();
        let audit_fork_alert = Gauge::default();
        let alerts = Family::<AlertLabels, Counter>::default();
        let alert_delivery_failures = Counter::default();
        let alert_deliveries = Family::<DeliveryLabels, Counter>::default();
        let alert_deliveries_pending = Gauge::default();
        let cluster_leader = Gauge::default();
        let rate_limited = Family::<RateLimitLabels, Counter>::default();
        let acknowledgement_wait = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
            60.0,
        ]);
        let acknowledgement_lease_ran_out = Counter::default();
        registry.register(
            "acknowledgement_wait_seconds",
            "How long a response whose change other nodes must know (an authorization change, \
             a revoked session, a deployment) was held until every node with a live lease read \
             it or its lease ran out (PostgreSQL)",
            acknowledgement_wait.clone(),
        );
        registry.register(
            "acknowledgement_lease_ran_out",
            "Waits for acknowledgement that ended because a node's lease ran out (a node that \
             died, paused or lost the database) rather than the node acknowledging",
            acknowledgement_lease_ran_out.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with 429 by a rate limit ([rate_limits]), by route class",
            rate_limited.clone(),
        );
        registry.register(
            "cluster_leader",
            "1 while this node runs the background work that runs once per cluster (checkpoints, archiving, compaction, sync, alerts)",
            cluster_leader.clone(),
        );
        registry.register(
            "audit_fork_alert",
            "1 when the audit log does not extend its newest signed checkpoint (see the error log)",
            audit_fork_alert.clone(),
        );
        registry.register(
            "alerts",
            "Security alerts raised, by kind (each also an alert.<kind> audit event)",
            alerts.clone(),
        );
        registry.register(
            "alert_delivery_failures",
            "Attempts to deliver an alert that a sink did not accept, any sink (see the warning log)",
            alert_delivery_failures.clone(),
        );
        registry.register(
            "alert_deliveries",
            "Attempts to deliver an alert, by sink and outcome (delivered, retried, failed)",
            alert_deliveries.clone(),
        );
        registry.register(
            "alert_deliveries_pending",
            "Alert notifications no sink has accepted yet (read by the node leading the cluster)",
            alert_deliveries_pending.clone(),
        );
        registry.register(
            "support_cases_opened",
            "Support cases opened",
            support_cases_opened.clone(),
        );
        registry.register(
            "support_mail_failures",
            "Support notifications the mail server did not accept (see the warning log)",
            support_mail_failures.clone(),
        );
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
        registry.register(
            "deployment_role_failures",
            "Deployments applied whose declared application roles could not all be created \
             (see the error log; deploying the same versions again creates them)",
            deployment_role_failures.clone(),
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
            deployment_role_failures,
            support_cases_opened,
            support_mail_failures,
            audit_fork_alert,
            alerts,
            alert_delivery_failures,
            alert_deliveries,
            alert_deliveries_pending,
            cluster_leader,
            rate_limited,
            acknowledgement_wait,
            acknowledgement_lease_ran_out,
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

    /// Counts a raised alert.
    pub fn alert(&self, kind: &str) {
        self.alerts
            .get_or_create(&AlertLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts an attempt to deliver an alert.
    pub fn alert_delivery(&self, sink: &'static str, outcome: &'static str) {
        self.alert_deliveries
            .get_or_create(&DeliveryLabels { sink, outcome })
            .inc();
        if outcome != "delivered" {
            self.alert_delivery_failures.inc();
        }
    }

    /// Records a wait for acknowledgements of `seconds` that ended as `how`.
    pub fn acknowledgement(&self, seconds: f64, how: crate::fence::Acknowledged) {
        use crate::fence::Acknowledged;
        match how {
            Acknowledged::NotNeeded => {}
            Acknowledged::ByEveryNode => self.acknowledgement_wait.observe(seconds),
            Acknowledged::LeaseRanOut => {
                self.acknowledgement_wait.observe(seconds);
                self.acknowledgement_lease_ran_out.inc();
            }
        }
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
