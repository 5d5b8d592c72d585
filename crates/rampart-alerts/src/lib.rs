//! Intrusion detection as pure functions of what happened: the node feeds a [`Detector`]
//! the security-relevant facts it reads from the audit log, in order ([`Signal`]), and gets
//! back the [`Alert`]s they add up to.
//!
//! # The rules, in words
//!
//! | alert | raised when, within the rule's window | subject |
//! |---|---|---|
//! | `brute_force` | one account's failed sign-ins reach the count | the account |
//! | `credential_stuffing` | failed sign-ins from one address reach the count of *distinct* accounts | the address |
//! | `password_spraying` | failed sign-ins, from anywhere, reach the count of distinct accounts | all sources |
//! | `admin_outside_networks` | an IT administrator signs in from an address outside the allowed networks (when networks are configured) | the account |
//! | `denial_burst` | one user's refused requests reach the count (scraping, probing) | the user |
//! | `deploy_outside_hours` | a deployment to a production environment finishes outside the allowed hours (when hours are configured) | the environment |
//! | `audit_verification_failed` | the audit log's scheduled check fails | the log |
//! | `checkpoint_fork` | a checkpoint is found that disagrees with the log it claims | the log |
//!
//! One alert per rule and subject per window: a brute force that goes on is raised once
//! per window, not per attempt. Memory is bounded: subjects whose last fact left the window
//! are forgotten, and at most [`MAX_SUBJECTS`] are tracked per rule (beyond that the oldest
//! are dropped first, so a flood of distinct names cannot exhaust memory; it still trips
//! the spraying rule, which needs no per-subject state).

mod hours;
mod limits;
mod net;
mod retry;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde_json::json;
use time::{Duration, OffsetDateTime};

pub use hours::{Hours, HoursError};
pub use limits::{Limiter, Rate, RateError};
pub use net::{client_address, Cidr, CidrError};
pub use retry::{Next, Retry};

/// After a production deployment outside hours is raised, further ones in the same
/// environment within this time are part of it (a deployment moves several modules).
pub const DEPLOYMENT_QUIET: Duration = Duration::minutes(5);

/// Subjects tracked per rule at most.
pub const MAX_SUBJECTS: usize = 100_000;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Many failed sign-ins on one account.
    BruteForce,
    /// Failed sign-ins on many accounts from one address.
    CredentialStuffing,
    /// Failed sign-ins on many accounts from anywhere.
    PasswordSpraying,
    /// An IT administrator signed in from outside the allowed networks.
    AdminOutsideNetworks,
    /// Many refused requests by one user.
    DenialBurst,
    /// A production deployment outside the allowed hours.
    DeployOutsideHours,
    /// The audit log's scheduled check failed.
    AuditVerificationFailed,
    /// A checkpoint disagrees with the log.
    CheckpointFork,
}

impl Kind {
    /// Every kind, in the order of the table above.
    pub const ALL: [Kind; 8] = [
        Kind::BruteForce,
        Kind::CredentialStuffing,
        Kind::PasswordSpraying,
        Kind::AdminOutsideNetworks,
        Kind::DenialBurst,
        Kind::DeployOutsideHours,
        Kind::AuditVerificationFailed,
        Kind::CheckpointFork,
    ];

    /// The name in audit events (`alert.<name>`), metrics and notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BruteForce => "brute_force",
            Kind::CredentialStuffing => "credential_stuffing",
            Kind::PasswordSpraying => "password_spraying",
            Kind::AdminOutsideNetworks => "admin_outside_networks",
            Kind::DenialBurst => "denial_burst",
            Kind::DeployOutsideHours => "deploy_outside_hours",
            Kind::AuditVerificationFailed => "audit_verification_failed",
            Kind::CheckpointFork => "checkpoint_fork",
        }
    }

    /// The audit action of an alert of this kind.
    pub fn action(self) -> &'static str {
        match self {
            Kind::BruteForce => "alert.brute_force",
            Kind::CredentialStuffing => "alert.credential_stuffing",
            Kind::PasswordSpraying => "alert.password_spraying",
            Kind::AdminOutsideNetworks => "alert.admin_outside_networks",
            Kind::DenialBurst => "alert.denial_burst",
            Kind::DeployOutsideHours => "alert.deploy_outside_hours",
            Kind::AuditVerificationFailed => "alert.audit_verification_failed",
            Kind::CheckpointFork => "alert.checkpoint_fork",
        }
    }

    /// How urgent it is: `critical` for the log's integrity, `high` for attacks on
    /// accounts, `medium` for the rest.
    pub fn severity(self) -> &'static str {
        match self {
            Kind::AuditVerificationFailed | Kind::CheckpointFork => "critical",
            Kind::BruteForce
            | Kind::CredentialStuffing
            | Kind::PasswordSpraying
            | Kind::AdminOutsideNetworks => "high",
            Kind::DenialBurst | Kind::DeployOutsideHours => "medium",
        }
    }
}

/// One fact the detector is told, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal<'a> {
    /// A sign-in was refused for a wrong password or an unknown account (`username` as
    /// typed, normalised).
    LoginFailed {
        /// The account tried.
        username: &'a str,
        /// Where it came from, when known.
        source: Option<IpAddr>,
    },
    /// Someone signed in.
    LoginSucceeded {
        /// Who.
        username: &'a str,
        /// From where, when known.
        source: Option<IpAddr>,
        /// Whether they are an IT administrator.
        administrator: bool,
    },
    /// A request by `actor` was refused by authorization.
    Denied {
        /// Who was refused.
        actor: &'a str,
    },
    /// A deployment plan finished in `environment`.
    Deployed {
        /// Where.
        environment: &'a str,
        /// Who ran it.
        actor: Option<&'a str>,
    },
    /// The audit log's check failed.
    AuditCheckFailed {
        /// What the check said.
        detail: &'a str,
    },
    /// A checkpoint disagrees with the log.
    CheckpointForked {
        /// What disagrees.
        detail: &'a str,
    },
}

/// A count within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// How many (failures, distinct accounts, refusals) raise the alert.
    pub count: u32,
    /// Over how long.
    pub window: Duration,
}

/// The thresholds and allowances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Failed sign-ins on one account.
    pub brute_force: Rule,
    /// Distinct accounts with failed sign-ins from one address.
    pub credential_stuffing: Rule,
    /// Distinct accounts with failed sign-ins from anywhere.
    pub password_spraying: Rule,
    /// Refused requests by one user.
    pub denial_burst: Rule,
    /// Where IT administrators may sign in from; empty: anywhere.
    pub admin_networks: Vec<Cidr>,
    /// Environments whose deployments are watched.
    pub production: Vec<String>,
    /// When production deployments are expected; `None`: any time.
    pub deploy_hours: Option<Hours>,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What it is about.
    pub kind: Kind,
    /// The account, address, user, environment or log it concerns.
    pub subject: String,
    /// When the fact that raised it happened.
    pub at: OffsetDateTime,
    /// The facts that decided it (counts, window, addresses, accounts).
    pub evidence: serde_json::Value,
}

/// The detector's memory of recent facts.
#[derive(Debug)]
pub struct Detector {
    policy: Policy,
    by_account: Tallies,
    by_source: Tallies,
    everywhere: Tally,
    denials: Tallies,
    /// (kind, subject) → until when another alert of it is held back.
    quiet_until: HashMap<(Kind, String), OffsetDateTime>,
}

impl Detector {
    /// A detector with no memory.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            by_account: Tallies::default(),
            by_source: Tallies::default(),
            everywhere: Tally::default(),
            denials: Tallies::default(),
            quiet_until: HashMap::new(),
        }
    }

    /// The policy it applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Takes in one fact that happened `at`; returns the alerts it raises.
    pub fn observe(&mut self, at: OffsetDateTime, signal: &Signal<'_>) -> Vec<Alert> {
        let mut raised = Vec::new();
        match *signal {
            Signal::LoginFailed { username, source } => {
                let p = self.policy.clone();
                let from = source.map(|s| s.to_string()).unwrap_or_default();
                let failures = self
                    .by_account
                    .add(username, at, &from, p.brute_force.window);
                if failures.len() >= p.brute_force.count as usize {
                    let evidence = json!({
                        "failures": failures.len(),
                        "window_seconds": p.brute_force.window.whole_seconds(),
                        "sources": failures.distinct_values(8),
                    });
                    self.raise(
                        &mut raised,
                        Kind::BruteForce,
                        username,
                        at,
                        p.brute_force,
                        evidence,
                    );
                }
                if let Some(source) = source {
                    let key = source.to_string();
                    let tried =
                        self.by_source
                            .add(&key, at, username, p.credential_stuffing.window);
                    if tried.distinct() >= p.credential_stuffing.count as usize {
                        let evidence = json!({
                            "accounts": tried.distinct(),
                            "failures": tried.len(),
                            "window_seconds": p.credential_stuffing.window.whole_seconds(),
                            "some_accounts": tried.distinct_values(8),
                        });
                        self.raise(
                            &mut raised,
                            Kind::CredentialStuffing,
                            &key,
                            at,
                            p.credential_stuffing,
                            evidence,
                        );
                    }
                }
                let all = &mut self.everywhere;
                all.push(at, username, p.password_spraying.window);
                if all.distinct() >= p.password_spraying.count as usize {
                    let evidence = json!({
                        "accounts": all.distinct(),
                        "failures": all.len(),
                        "window_seconds": p.password_spraying.window.whole_seconds(),
                        "some_accounts": all.distinct_values(8),
                    });
                    self.raise(
                        &mut raised,
                        Kind::PasswordSpraying,
                        "all sources",
                        at,
                        p.password_spraying,
                        evidence,
                    );
                }
            }
            Signal::LoginSucceeded {
                username,
                source,
                administrator,
            } => {
                let networks = &self.policy.admin_networks;
                let outside = match source {
                    Some(ip) => !Cidr::any_contains(networks, ip),
                    None => true,
                };
                if administrator && !networks.is_empty() && outside {
                    let evidence = json!({
                        "source": source.map(|s| s.to_string()),
                        "allowed_networks": networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    });
                    // Every such sign-in is worth an alert: no window holds it back.
                    raised.push(Alert {
                        kind: Kind::AdminOutsideNetworks,
                        subject: username.to_owned(),
                        at,
                        evidence,
                    });
                }
            }
            Signal::Denied { actor } => {
                let rule = self.policy.denial_burst;
                let refused = self.denials.add(actor, at, "", rule.window);
                if refused.len() >= rule.count as usize {
                    let evidence = json!({
                        "refusals": refused.len(),
                        "window_seconds": rule.window.whole_seconds(),
                    });
                    self.raise(&mut raised, Kind::DenialBurst, actor, at, rule, evidence);
                }
            }
            Signal::Deployed { environment, actor } => {
                let watched = self.policy.production.iter().any(|p| p == environment);
                if let (true, Some(hours)) = (watched, &self.policy.deploy_hours) {
                    if !hours.contains(at) {
                        let evidence = json!({
                            "actor": actor,
                            "allowed_hours": hours.to_string(),
                            "weekday": hours.weekday(at).to_string(),
                        });
                        // One deployment moves several modules: one alert for them all.
                        let rule = Rule {
                            count: 1,
                            window: DEPLOYMENT_QUIET,
                        };
                        self.raise(
                            &mut raised,
                            Kind::DeployOutsideHours,
                            environment,
                            at,
                            rule,
                            evidence,
                        );
                    }
                }
            }
            Signal::AuditCheckFailed { detail } => raised.push(Alert {
                kind: Kind::AuditVerificationFailed,
                subject: "audit log".to_owned(),
                at,
                evidence: json!({ "detail": detail }),
            }),
            Signal::CheckpointForked { detail } => raised.push(Alert {
                kind: Kind::CheckpointFork,
                subject: "audit log".to_owned(),
                at,
                evidence: json!({ "detail": detail }),
            }),
        }
        self.quiet_until.retain(|_, until| *until > at);
        raised
    }

    fn raise(
        &mut self,
        raised: &mut Vec<Alert>,
        kind: Kind,
        subject: &str,
        at: OffsetDateTime,
        rule: Rule,
        evidence: serde_json::Value,
    ) {
        let key = (kind, subject.to_owned());
        if self.quiet_until.get(&key).is_some_and(|until| *until > at) {
            return;
        }
        if self.quiet_until.len() >= MAX_SUBJECTS * 4 {
            return;
        }
        self.quiet_until.insert(key, at + rule.window);
        raised.push(Alert {
            kind,
            subject: subject.to_owned(),
            at,
            evidence,
        });
    }
}

/// Facts within a window: each with a value (an account, an address), counted in total
/// and by distinct value.
#[derive(Debug, Default)]
struct Tally {
    facts: VecDeque<(OffsetDateTime, String)>,
    counts: HashMap<String, u32>,
}

impl Tally {
    fn push(&mut self, at: OffsetDateTime, value: &str, window: Duration) {
        self.facts.push_back((at, value.to_owned()));
        *self.counts.entry(value.to_owned()).or_insert(0) += 1;
        self.expire(at - window);
        // Bounded: the oldest facts go first.
        while self.facts.len() > MAX_SUBJECTS {
            self.pop_front();
        }
    }

    fn expire(&mut self, before: OffsetDateTime) {
        while self.facts.front().is_some_and(|(t, _)| *t <= before) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, value)) = self.facts.pop_front() {
            if let Some(n) = self.counts.get_mut(&value) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&value);
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.facts.len()
    }

    fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Up to `n` distinct values, sorted, for evidence.
    fn distinct_values(&self, n: usize) -> Vec<String> {
        let mut v: Vec<String> = self
            .counts
            .keys()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect();
        v.sort();
        v.truncate(n);
        v
    }

    fn last(&self) -> Option<OffsetDateTime> {
        self.facts.back().map(|(t, _)| *t)
    }
}

/// One [`Tally`] per subject.
#[derive(Debug, Default)]
struct Tallies {
    by: HashMap<String, Tally>,
}

impl Tallies {
    fn add(&mut self, subject: &str, at: OffsetDateTime, value: &str, window: Duration) -> &Tally {
        if self.by.len() >= MAX_SUBJECTS && !self.by.contains_key(subject) {
            // Forget subjects whose facts all left the window; if that frees nothing,
            // the subject seen longest ago.
            self.by
                .retain(|_, t| t.last().is_some_and(|last| last > at - window));
            if self.by.len() >= MAX_SUBJECTS {
                if let Some(oldest) = self
                    .by
                    .iter()
                    .min_by_key(|(_, t)| t.last())
                    .map(|(k, _)| k.clone())
                {
                    self.by.remove(&oldest);
                }
            }
        }
        let tally = self.by.entry(subject.to_owned()).or_default();
        tally.push(at, value, window);
        tally
    }
}

#[cfg(test)]
mod tests;
