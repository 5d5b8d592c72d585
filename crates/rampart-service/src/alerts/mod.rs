//! Intrusion detection: a node watches the audit log as it grows and raises alerts.
//!
//! The facts are the log's own events (failed and successful sign-ins with their source
//! address, refused requests, finished deployments), so every path that audits — the API,
//! the console, the applications, every node — is watched without a hook of its own, and
//! what raised an alert can be found in the log beside it. Two facts are not events: the
//! scheduled check's verdict and a checkpoint that disagrees with the log, read from the
//! node's own alarms. The rules are `rampart_alerts`'s; here they are fed and their
//! alerts delivered:
//!
//! - an `alert.<kind>` event in the `system` stream (subject as target, the evidence as
//!   details), so alerts are searched, exported and verified like everything else;
//! - the `rampart_alerts_total{kind}` counter;
//! - a JSON POST to the configured webhook, signed with HMAC-SHA-256 over the timestamp and
//!   the body ([`sign`]), and an e-mail to the configured addresses, each delivered at
//!   least once through an outbox committed with the event ([`deliver`]).
//!
//! Delivery never blocks detection: notifications are sent by their own task ([`deliver::run`]),
//! tried again with a growing wait until the sink accepts, and a delivery that gives up is
//! itself an audit event (`alert.delivery_failed`).
//!
//! A node watches from the log's size when it started: history is not re-alerted on
//! restart. On PostgreSQL every node follows the shared log and feeds its detector, but
//! only the node that leads the cluster ([`crate::cluster`]) raises, so an alert is raised
//! once, and a node taking over knows the recent past. The node's own integrity alarms
//! are raised by the node that saw them, leader or not.

pub mod deliver;
pub mod queue;

use std::net::IpAddr;
use std::time::Duration as StdDuration;

use rampart_alerts::{Alert, Detector, Kind, Signal};
use rampart_core::{AuditContext, AuditEvent, Outcome, UserId};
use rampart_store::StoredEvent;
use tokio::sync::watch;

use crate::state::AppState;

pub use deliver::{sign, DELIVERY_HEADER, SIGNATURE_HEADER};
pub use rampart_alerts::{client_address, Limiter, Rate};

/// How often the log is read for new events.
pub const POLL: StdDuration = StdDuration::from_millis(500);

/// Events read per step.
const STEP: i64 = 1_000;

/// Where watching starts: the log's size now, read before the node serves requests, so
/// nothing it serves is missed and nothing before it is raised again.
pub async fn start_from(state: &AppState) -> Result<i64, rampart_core::Error> {
    let size = state.store.audit_size().await?;
    Ok(i64::try_from(size).unwrap_or(i64::MAX))
}

/// Watches the log after event `from` and raises alerts until `stop` changes.
pub async fn run(state: AppState, from: i64, mut stop: watch::Receiver<bool>) {
    if !state.config.alerts.enabled {
        return;
    }
    let policy = match state.config.alerts.policy() {
        Ok(p) => p,
        Err(e) => {
            // Validated at start-up; unreachable unless the configuration changed shape.
            tracing::error!(error = %e, "intrusion detection not started");
            return;
        }
    };
    let mut detector = Detector::new(policy);
    let mut cursor = from;
    let mut alarms = Alarms::default();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        for (signal, detail) in alarms.read(&state) {
            let at = state.clock.now();
            let s = match signal {
                Kind::CheckpointFork => Signal::CheckpointForked { detail },
                _ => Signal::AuditCheckFailed { detail },
            };
            for alert in detector.observe(at, &s) {
                raise(&state, &alert).await;
            }
        }
        loop {
            let events = match state.store.events_after(cursor, STEP).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "intrusion detection could not read the audit log");
                    break;
                }
            };
            let full = events.len() as i64 == STEP;
            for event in &events {
                cursor = cursor.max(event.seq);
                let Some(fact) = fact_of(&state, event).await else {
                    continue;
                };
                // Every node follows the log, so whichever leads next knows the recent
                // past; only the leader raises.
                for alert in detector.observe(event.occurred_at, &fact.signal()) {
                    if state.leadership.is_leader() {
                        raise(&state, &alert).await;
                    }
                }
            }
            if !full {
                break;
            }
        }
    }
}

/// The node's own integrity alarms, raised once each.
#[derive(Default)]
struct Alarms {
    verification: bool,
    fork: bool,
}

impl Alarms {
    fn read(&mut self, state: &AppState) -> Vec<(Kind, &'static str)> {
        let mut new = Vec::new();
        if state.metrics.audit_tamper_alert.get() != 0 && !self.verification {
            self.verification = true;
            new.push((
                Kind::AuditVerificationFailed,
                "the scheduled check found the audit log altered (see the error log)",
            ));
        }
        if state.metrics.audit_fork_alert.get() != 0 && !self.fork {
            self.fork = true;
            new.push((
                Kind::CheckpointFork,
                "the audit log does not extend its newest signed checkpoint",
            ));
        }
        new
    }
}

/// A signal with owned parts, read from one event.
enum Fact {
    Failed(String, Option<IpAddr>),
    Succeeded(String, Option<IpAddr>, bool),
    Denied(String),
    Deployed(String, Option<String>),
}

impl Fact {
    fn signal(&self) -> Signal<'_> {
        match self {
            Fact::Failed(u, s) => Signal::LoginFailed {
                username: u,
                source: *s,
            },
            Fact::Succeeded(u, s, admin) => Signal::LoginSucceeded {
                username: u,
                source: *s,
                administrator: *admin,
            },
            Fact::Denied(a) => Signal::Denied { actor: a },
            Fact::Deployed(e, a) => Signal::Deployed {
                environment: e,
                actor: a.as_deref(),
            },
        }
    }
}

/// Refusals that say nothing about guessing: the account exists and the password was
/// right, or the directory could not be asked.
const NOT_GUESSES: [&str; 4] = [
    "account-disabled",
    "password-expired",
    "no-mapped-role",
    "directory-unreachable",
];

async fn fact_of(state: &AppState, e: &StoredEvent) -> Option<Fact> {
    let source = e.source.as_deref().and_then(|s| s.parse::<IpAddr>().ok());
    let details = || serde_json::from_str::<serde_json::Value>(&e.details).ok();
    match (e.action.as_str(), e.outcome.as_str()) {
        ("auth.login", "failure") => {
            let d = details()?;
            let reason = d["reason"].as_str().unwrap_or_default();
            if NOT_GUESSES.contains(&reason) {
                return None;
            }
            let provider = d["provider"].as_str().unwrap_or("it");
            let username = d["username"].as_str()?;
            Some(Fact::Failed(format!("{provider}:{username}"), source))
        }
        ("auth.login", "success") => {
            let name = e.actor_name.clone()?;
            let admin = match e.actor_id {
                Some(id) if name.starts_with("it:") => is_administrator(state, id).await,
                _ => false,
            };
            Some(Fact::Succeeded(name, source, admin))
        }
        ("access", "deny") => Some(Fact::Denied(e.actor_name.clone()?)),
        ("module.deploy" | "module.stage" | "module.rollback", "success") => {
            let environment = e
                .environment
                .clone()
                .or_else(|| details()?["environment"].as_str().map(str::to_owned))?;
            Some(Fact::Deployed(environment, e.actor_name.clone()))
        }
        _ => None,
    }
}

async fn is_administrator(state: &AppState, user: UserId) -> bool {
    match state.store.user(user).await {
        Ok(found) => found.is_some_and(|u| u.is_admin),
        Err(e) => {
            tracing::warn!(error = %e, "intrusion detection could not read an IT user");
            false
        }
    }
}

/// Records and counts one alert, and leaves its notifications in the outbox.
async fn raise(state: &AppState, alert: &Alert) {
    let kind = alert.kind;
    tracing::warn!(
        alert = kind.as_str(),
        severity = kind.severity(),
        subject = %alert.subject,
        "security alert"
    );
    state.metrics.alert(kind.as_str());
    let ctx = AuditContext {
        actor_id: None,
        actor_name: None,
        request_id: None,
        source: None,
        node_id: state.config.node_id.clone(),
    };
    let event = AuditEvent {
        action: kind.action(),
        target: Some(alert.subject.clone()),
        outcome: Outcome::Success,
        details: serde_json::json!({
            "kind": kind.as_str(),
            "severity": kind.severity(),
            "evidence": alert.evidence,
        })
        .to_string(),
    };
    // The event and its deliveries commit together: a recorded alert is delivered.
    let sinks = deliver::sinks(&state.config.alerts);
    if let Err(e) = state
        .store
        .record_alert(&ctx, &event, state.clock.now(), &sinks)
        .await
    {
        tracing::error!(error = %e, alert = kind.as_str(), "an alert could not be recorded in the audit log");
        deliver::send_unrecorded(state, alert);
    }
}
