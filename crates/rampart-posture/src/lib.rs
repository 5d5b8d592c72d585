//! The security posture of a node, as pure functions of the facts the service gathered:
//! each control's owner, severity and framework ids ([`CONTROLS`]), and its status with the
//! evidence that decided it ([`assess`]).
//!
//! # Shared responsibility
//!
//! Each control has an **owner**. The platform (Rampart and whoever operates it) owns
//! platform security, identity integration, hardening, intrusion protection, logging,
//! vulnerability and patch management, encryption and availability (backups and tested
//! restores). The customer (whoever builds and runs applications on it) owns their data,
//! the access configuration (who is an administrator, which password and MFA rules apply)
//! and their application code (the modules they deploy and the findings they accept).
//!
//! # The rule, in words
//!
//! A control **passes** when the facts meet what it asks, **warns** when they meet the
//! minimum but not the recommendation (or when the fact could not be checked, so the
//! report never claims more than it knows), **fails** when they do not meet the minimum,
//! and is **not applicable** when what it guards does not exist (no module deployed). The
//! evidence names every fact that decided, as `name: value` lines. A report whose
//! **critical** controls include a failure makes `rampart posture` exit non-zero
//! ([`critical_failures`]), so a pipeline can stop on it.
//!
//! Thresholds are the constants below; each is written beside the control it decides.

mod controls;

pub use controls::{Control, CONTROLS};

/// Who is responsible for a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The platform and its operator.
    Platform,
    /// The customer: data, access configuration, application code.
    Customer,
}

impl Owner {
    /// `platform` or `customer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Platform => "platform",
            Owner::Customer => "customer",
        }
    }
}

/// How much a failure of the control matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Should be fixed.
    Medium,
    /// Fix soon.
    High,
    /// Fix now: a pipeline stops on it.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A control's live status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Meets the control.
    Pass,
    /// Meets the minimum only, or could not be checked.
    Warn,
    /// Does not meet the minimum.
    Fail,
    /// Nothing the control guards exists.
    NotApplicable,
}

impl Status {
    /// `pass`, `warn`, `fail` or `not-applicable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::NotApplicable => "not-applicable",
        }
    }
}

/// One control's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The control.
    pub control: &'static Control,
    /// Its status now.
    pub status: Status,
    /// The facts that decided it, `name: value`.
    pub evidence: Vec<String>,
}

/// What is served on the wire: read from the server's own settings, not assumed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    /// Plain HTTP only redirects to HTTPS (`enforce_https`).
    pub enforce_https: bool,
    /// The certificate is the generated development one (no `tls_cert` configured).
    pub generated_certificate: bool,
    /// The `Strict-Transport-Security` header sent over HTTPS, if any.
    pub hsts: Option<String>,
    /// The TLS protocol versions offered, e.g. `TLS 1.3`.
    pub tls_versions: Vec<String>,
}

/// Multi-factor authentication, as the identity capability reports it. While the platform
/// has no MFA, `available` is false and the rest is zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mfa {
    /// Whether this version can ask for a second factor at all.
    pub available: bool,
    /// Whether sign-in requires a second factor of IT administrators.
    pub required_for_administrators: bool,
    /// Enabled IT administrators.
    pub administrators: u64,
    /// Of those, how many have a second factor enrolled.
    pub administrators_enrolled: u64,
}

/// The password rules in force (`[password]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Password {
    /// Minimum length in characters.
    pub min_length: u32,
    /// Minimum zxcvbn score, 0 to 4.
    pub min_score: u32,
    /// Previous passwords that cannot be reused.
    pub history: u32,
    /// Days before a password must change; 0 for never.
    pub max_age_days: u32,
}

/// Failed sign-in throttling (`[lockout]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockout {
    /// Failures of one username before it is locked; 0 is off.
    pub threshold: u32,
    /// First lock in seconds.
    pub base_seconds: u32,
    /// Longest lock in seconds.
    pub max_seconds: u32,
    /// Failures one source address may make before it is slowed down.
    pub address_free_failures: u32,
}

/// Where integrations read their secrets, and what they may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Integrations {
    /// Whether each environment reads its own secrets: `secret_env_prefix` holds
    /// `{ENVIRONMENT}`, and `secrets_dir` is empty or holds `{environment}`.
    pub per_environment: bool,
    /// The settings in force the rules now refuse (`environment: module.Name`, and which).
    pub refused_in_force: Vec<String>,
    /// The internal networks opened (`[integrations] internal_networks`), as configured.
    pub internal_networks: String,
}

/// The keys the node holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Age in days of the audit signing key file; `None` when it is missing.
    pub audit_key_age_days: Option<u64>,
    /// Whether a master key of sensitive values is configured.
    pub master_key_configured: bool,
    /// Environments holding data keys (sensitive values exist or can be written).
    pub environments_with_data_keys: u64,
    /// Age in days of the oldest environment's newest data key.
    pub oldest_data_key_age_days: Option<u64>,
}

/// The audit log's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Events in the log.
    pub events: u64,
    /// The newest signed checkpoint's size, if any.
    pub checkpoint_size: Option<u64>,
    /// Its age in seconds.
    pub checkpoint_age_seconds: Option<u64>,
    /// Whether the log's tree has the newest checkpoint's root at its size and the
    /// signature opens with the node's key; `None` when there is no checkpoint.
    pub checkpoint_verified: Option<bool>,
    /// Whether the scheduled re-verification found tampering on this node.
    pub tamper_alert: bool,
    /// `audit.checkpoint_seconds`.
    pub checkpoint_interval_seconds: u64,
}

/// Backups and restores, from the node's records of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backups {
    /// Age in seconds of the newest backup.
    pub last_backup_age_seconds: Option<u64>,
    /// Age in seconds of the newest restore that verified (a drill or a real restore).
    pub last_restore_test_age_seconds: Option<u64>,
    /// How long that restore took, in milliseconds.
    pub last_restore_test_millis: Option<u64>,
}

/// Security findings of the module versions deployed anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Module versions deployed (counted once per environment).
    pub deployed: u64,
    /// Accepted findings of deployed versions, by severity (`warning`, `note`, …).
    pub accepted: Vec<(String, u64)>,
    /// Findings of deployed versions nobody accepted yet, by severity.
    pub pending: Vec<(String, u64)>,
}

/// An enabled IT administrator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Administrator {
    /// The username.
    pub username: String,
    /// Days since their last sign-in; `None` for never.
    pub last_login_days: Option<u64>,
    /// Days since the account was created.
    pub created_days: u64,
    /// The password is still the one the account was created with.
    pub initial_password: bool,
}

/// Everything the controls decide on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// HTTPS, HSTS, TLS versions.
    pub transport: Transport,
    /// Second factors.
    pub mfa: Mfa,
    /// Password rules.
    pub password: Password,
    /// Lockout.
    pub lockout: Lockout,
    /// Keys.
    pub keys: Keys,
    /// The audit log.
    pub audit: Audit,
    /// Backups and restore tests.
    pub backups: Backups,
    /// Findings of deployed modules.
    pub findings: Findings,
    /// Integrations' secrets and networks.
    pub integrations: Integrations,
    /// Enabled IT administrators.
    pub administrators: Vec<Administrator>,
    /// Enabled accounts whose password is one published with Rampart (the demo's people).
    pub published_passwords: Vec<String>,
    /// What the build's dependency-advisory check found (`cargo deny` / `cargo audit`),
    /// as recorded when the binary was built; `None` when no check ran.
    pub advisories: Option<String>,
}

/// A checkpoint older than this (with events after it) warns.
pub const CHECKPOINT_STALE_SECONDS: u64 = 24 * 3600;
/// A backup older than this warns…
pub const BACKUP_WARN_SECONDS: u64 = 26 * 3600;
/// …and older than this fails.
pub const BACKUP_FAIL_SECONDS: u64 = 7 * 24 * 3600;
/// A restore test older than this warns (a quarterly drill).
pub const RESTORE_TEST_WARN_SECONDS: u64 = 92 * 24 * 3600;
/// An administrator without a sign-in for this many days warns.
pub const ADMIN_IDLE_DAYS: u64 = 90;
/// Keys older than this many days warn: rotate them.
pub const KEY_ROTATION_DAYS: u64 = 365;
/// The shortest HSTS `max-age` that passes (one year, as preload lists ask).
pub const HSTS_MIN_SECONDS: u64 = 31_536_000;

/// Every control's outcome, in [`CONTROLS`] order.
pub fn assess(facts: &Facts) -> Vec<Outcome> {
    CONTROLS
        .iter()
        .map(|control| {
            let (status, evidence) = (control.decide)(facts);
            Outcome {
                control,
                status,
                evidence,
            }
        })
        .collect()
}

/// How many critical controls fail.
pub fn critical_failures(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| o.status == Status::Fail && o.control.severity == Severity::Critical)
        .count()
}

#[cfg(test)]
mod tests;
