//! The controls: what each asks, who owns it, its severity, its SOC 2 (2017 Trust Services
//! Criteria) and ISO/IEC 27001:2022 (Annex A) ids, and the function that decides it.

use crate::{
    Facts, Owner, Severity, Status, ADMIN_IDLE_DAYS, BACKUP_FAIL_SECONDS, BACKUP_WARN_SECONDS,
    CHECKPOINT_STALE_SECONDS, HSTS_MIN_SECONDS, KEY_ROTATION_DAYS, RESTORE_TEST_WARN_SECONDS,
};

/// A control of the posture report.
pub struct Control {
    /// Stable id, e.g. `transport.https`.
    pub id: &'static str,
    /// What it asks, in a sentence.
    pub title: &'static str,
    /// Who is responsible for it.
    pub owner: Owner,
    /// How much a failure matters.
    pub severity: Severity,
    /// SOC 2 Trust Services Criteria.
    pub soc2: &'static [&'static str],
    /// ISO/IEC 27001:2022 Annex A controls.
    pub iso27001: &'static [&'static str],
    /// The decision: status and the evidence lines.
    pub decide: fn(&Facts) -> (Status, Vec<String>),
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("id", &self.id).finish()
    }
}

impl PartialEq for Control {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Control {}

/// Every control, in the order reports list them.
pub static CONTROLS: [Control; 14] = [
    Control {
        id: "transport.https",
        title: "HTTPS is enforced with a trusted certificate",
        owner: Owner::Platform,
        severity: Severity::Critical,
        soc2: &["CC6.1", "CC6.7"],
        iso27001: &["A.8.20", "A.8.24"],
        decide: https,
    },
    Control {
        id: "transport.hsts",
        title: "Browsers are told to use HTTPS only (HSTS)",
        owner: Owner::Platform,
        severity: Severity::Medium,
        soc2: &["CC6.7"],
        iso27001: &["A.8.24", "A.8.26"],
        decide: hsts,
    },
    Control {
        id: "transport.tls-versions",
        title: "Only TLS 1.2 and newer are offered",
        owner: Owner::Platform,
        severity: Severity::High,
        soc2: &["CC6.7"],
        iso27001: &["A.8.24"],
        decide: tls_versions,
    },
    Control {
        id: "identity.admin-mfa",
        title: "Administrators sign in with a second factor",
        owner: Owner::Customer,
        severity: Severity::High,
        soc2: &["CC6.1"],
        iso27001: &["A.8.5"],
        decide: admin_mfa,
    },
    Control {
        id: "identity.password-policy",
        title: "The password policy asks for long, strong, unreused passwords",
        owner: Owner::Customer,
        severity: Severity::Medium,
        soc2: &["CC6.1"],
        iso27001: &["A.5.17", "A.8.5"],
        decide: password_policy,
    },
    Control {
        id: "identity.lockout",
        title: "Repeated failed sign-ins lock the account and slow the source down",
        owner: Owner::Platform,
        severity: Severity::High,
        soc2: &["CC6.1", "CC6.6"],
        iso27001: &["A.8.5"],
        decide: lockout,
    },
    Control {
        id: "crypto.keys",
        title: "Encryption and signing keys are present and not overdue for rotation",
        owner: Owner::Platform,
        severity: Severity::High,
        soc2: &["CC6.1", "CC6.7"],
        iso27001: &["A.8.24"],
        decide: keys,
    },
    Control {
        id: "logging.audit-log",
        title: "The audit log verifies against a recent signed checkpoint",
        owner: Owner::Platform,
        severity: Severity::Critical,
        soc2: &["CC4.1", "CC7.2"],
        iso27001: &["A.8.15"],
        decide: audit_log,
    },
    Control {
        id: "availability.backups",
        title: "Backups are recent and a restore from one was tested",
        owner: Owner::Platform,
        severity: Severity::High,
        soc2: &["A1.2", "A1.3", "CC7.5"],
        iso27001: &["A.8.13", "A.5.30"],
        decide: backups,
    },
    Control {
        id: "applications.findings",
        title: "Deployed modules carry no unaccepted security findings",
        owner: Owner::Customer,
        severity: Severity::High,
        soc2: &["CC7.1", "CC8.1"],
        iso27001: &["A.8.8", "A.8.25", "A.8.28"],
        decide: findings,
    },
    Control {
        id: "applications.integrations",
        title: "Integrations read their own environment's secrets and reach only opened networks",
        owner: Owner::Platform,
        severity: Severity::High,
        soc2: &["CC6.1", "CC6.6"],
        iso27001: &["A.5.17", "A.8.20"],
        decide: integrations,
    },
    Control {
        id: "identity.idle-administrators",
        title: "Every administrator signed in recently",
        owner: Owner::Customer,
        severity: Severity::Medium,
        soc2: &["CC6.2", "CC6.3"],
        iso27001: &["A.5.18", "A.8.2"],
        decide: idle_administrators,
    },
    Control {
        id: "identity.default-credentials",
        title: "No account uses a published or initial password",
        owner: Owner::Customer,
        severity: Severity::Critical,
        soc2: &["CC6.1"],
        iso27001: &["A.5.16", "A.5.17"],
        decide: default_credentials,
    },
    Control {
        id: "vulnerabilities.dependencies",
        title: "Dependencies were checked against an advisory database at build time",
        owner: Owner::Platform,
        severity: Severity::Medium,
        soc2: &["CC7.1"],
        iso27001: &["A.8.8"],
        decide: dependencies,
    },
];

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn https(f: &Facts) -> (Status, Vec<String>) {
    let t = &f.transport;
    let evidence = vec![
        format!("enforce_https: {}", t.enforce_https),
        format!(
            "certificate: {}",
            if t.generated_certificate {
                "generated development certificate (tls_cert not set)"
            } else {
                "configured (tls_cert)"
            }
        ),
    ];
    let status = if !t.enforce_https {
        Status::Fail
    } else if t.generated_certificate {
        Status::Warn
    } else {
        Status::Pass
    };
    (status, evidence)
}

/// The `max-age` and `includeSubDomains` of an HSTS header.
fn hsts_parts(header: &str) -> (Option<u64>, bool) {
    let mut max_age = None;
    let mut subdomains = false;
    for part in header.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("max-age=") {
            max_age = v.trim_matches('"').parse().ok();
        } else if part.eq_ignore_ascii_case("includeSubDomains") {
            subdomains = true;
        }
    }
    (max_age, subdomains)
}

fn hsts(f: &Facts) -> (Status, Vec<String>) {
    let t = &f.transport;
    let Some(header) = &t.hsts else {
        return (
            Status::Fail,
            vec!["strict-transport-security: not sent".to_owned()],
        );
    };
    let (max_age, subdomains) = hsts_parts(header);
    let evidence = vec![
        format!("strict-transport-security: {header}"),
        format!("enforce_https: {}", t.enforce_https),
    ];
    let status = match max_age {
        Some(age) if age >= HSTS_MIN_SECONDS && subdomains && t.enforce_https => Status::Pass,
        Some(age) if age > 0 => Status::Warn,
        _ => Status::Fail,
    };
    (status, evidence)
}

fn tls_versions(f: &Facts) -> (Status, Vec<String>) {
    let versions = &f.transport.tls_versions;
    let evidence = vec![format!("offered: {}", versions.join(", "))];
    let old = versions
        .iter()
        .any(|v| matches!(v.as_str(), "SSL 3.0" | "TLS 1.0" | "TLS 1.1"));
    let status = if versions.is_empty() || old {
        Status::Fail
    } else if versions.iter().any(|v| v == "TLS 1.3") {
        Status::Pass
    } else {
        Status::Warn
    };
    (status, evidence)
}

fn admin_mfa(f: &Facts) -> (Status, Vec<String>) {
    let m = &f.mfa;
    if !m.available {
        return (
            Status::Fail,
            vec![
                "mfa available: no (this version signs administrators in with a password only)"
                    .to_owned(),
                format!("administrators: {}", m.administrators),
            ],
        );
    }
    let evidence = vec![
        "mfa available: yes".to_owned(),
        format!(
            "required for administrators: {}",
            yes(m.required_for_administrators)
        ),
        format!(
            "administrators enrolled: {} of {}",
            m.administrators_enrolled, m.administrators
        ),
    ];
    let status = if m.required_for_administrators {
        Status::Pass
    } else if m.administrators_enrolled >= m.administrators {
        Status::Warn
    } else {
        Status::Fail
    };
    (status, evidence)
}

fn password_policy(f: &Facts) -> (Status, Vec<String>) {
    let p = &f.password;
    let evidence = vec![
        format!("min_length: {}", p.min_length),
        format!("min_score: {} of 4", p.min_score),
        format!("history: {}", p.history),
        format!("max_age_days: {}", p.max_age_days),
    ];
    let status = if p.min_length >= 12 && p.min_score >= 3 && p.history >= 1 {
        Status::Pass
    } else if p.min_length >= 8 && p.min_score >= 2 {
        Status::Warn
    } else {
        Status::Fail
    };
    (status, evidence)
}

fn lockout(f: &Facts) -> (Status, Vec<String>) {
    let l = &f.lockout;
    let evidence = vec![
        format!("threshold: {} failures", l.threshold),
        format!(
            "first lock: {} s, longest: {} s",
            l.base_seconds, l.max_seconds
        ),
        format!(
            "source address slowed after: {} failures",
            l.address_free_failures
        ),
    ];
    let status = if l.threshold == 0 || l.base_seconds == 0 {
        Status::Fail
    } else if l.threshold <= 10 {
        Status::Pass
    } else {
        Status::Warn
    };
    (status, evidence)
}

fn integrations(f: &Facts) -> (Status, Vec<String>) {
    let i = &f.integrations;
    let mut evidence = vec![
        if i.per_environment {
            "secrets: each environment reads its own ([integrations] secrets_dir and \
             secret_env_prefix name the environment)"
                .to_owned()
        } else {
            "secrets: environments share them ([integrations] secrets_dir or \
             secret_env_prefix without the environment's placeholder): one environment's \
             plans may send another's"
                .to_owned()
        },
        if i.internal_networks.trim().is_empty() {
            "networks: public addresses only".to_owned()
        } else {
            format!(
                "networks: public addresses and {}",
                i.internal_networks.trim()
            )
        },
    ];
    evidence.extend(
        i.refused_in_force
            .iter()
            .map(|s| format!("in force but refused now, its calls fail: {s}")),
    );
    let status = if !i.refused_in_force.is_empty() {
        Status::Fail
    } else if !i.per_environment {
        Status::Warn
    } else {
        Status::Pass
    };
    (status, evidence)
}

fn keys(f: &Facts) -> (Status, Vec<String>) {
    let k = &f.keys;
    let mut evidence = vec![match k.audit_key_age_days {
        Some(d) => format!("audit signing key: present, {d} days old"),
        None => "audit signing key: missing".to_owned(),
    }];
    evidence.push(format!(
        "master key of sensitive values: {}",
        if k.master_key_configured {
            "configured"
        } else {
            "not configured"
        }
    ));
    evidence.push(format!(
        "environments with data keys: {}",
        k.environments_with_data_keys
    ));
    if let Some(d) = k.oldest_data_key_age_days {
        evidence.push(format!(
            "data keys: the environment rotated longest ago last got a key {d} days ago"
        ));
    }
    let status = if k.audit_key_age_days.is_none()
        || (k.environments_with_data_keys > 0 && !k.master_key_configured)
    {
        Status::Fail
    } else if k.audit_key_age_days.unwrap_or(0) > KEY_ROTATION_DAYS
        || k.oldest_data_key_age_days.unwrap_or(0) > KEY_ROTATION_DAYS
    {
        Status::Warn
    } else {
        Status::Pass
    };
    (status, evidence)
}

fn audit_log(f: &Facts) -> (Status, Vec<String>) {
    let a = &f.audit;
    let mut evidence = vec![format!("events: {}", a.events)];
    match (a.checkpoint_size, a.checkpoint_age_seconds) {
        (Some(size), Some(age)) => {
            evidence.push(format!("newest checkpoint: size {size}, {age} s old"));
        }
        _ => evidence.push("newest checkpoint: none".to_owned()),
    }
    evidence.push(format!(
        "checkpoint verified against the log: {}",
        match a.checkpoint_verified {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "no checkpoint to verify",
        }
    ));
    evidence.push(format!("tamper alert: {}", yes(a.tamper_alert)));
    let unsigned = a.events.saturating_sub(a.checkpoint_size.unwrap_or(0));
    evidence.push(format!("events after the newest checkpoint: {unsigned}"));
    let stale = a.checkpoint_age_seconds.unwrap_or(u64::MAX)
        > CHECKPOINT_STALE_SECONDS.max(a.checkpoint_interval_seconds.saturating_mul(2));
    let status = if a.tamper_alert || a.checkpoint_verified == Some(false) {
        Status::Fail
    } else if a.events == 0 {
        Status::Pass
    } else if a.checkpoint_verified.is_none() || (stale && unsigned > 0) {
        Status::Warn
    } else {
        Status::Pass
    };
    (status, evidence)
}

fn hours(seconds: u64) -> String {
    if seconds >= 48 * 3600 {
        format!("{} days", seconds / 86_400)
    } else {
        format!("{} h {} min", seconds / 3600, seconds % 3600 / 60)
    }
}

fn backups(f: &Facts) -> (Status, Vec<String>) {
    let b = &f.backups;
    let mut evidence = vec![match b.last_backup_age_seconds {
        Some(s) => format!("newest backup: {} ago", hours(s)),
        None => "newest backup: none recorded".to_owned(),
    }];
    evidence.push(match b.last_restore_test_age_seconds {
        Some(s) => format!(
            "newest verified restore: {} ago{}",
            hours(s),
            b.last_restore_test_millis
                .map(|ms| format!(", recovered in {:.1} s", ms as f64 / 1000.0))
                .unwrap_or_default()
        ),
        None => "newest verified restore: none recorded".to_owned(),
    });
    let status = match b.last_backup_age_seconds {
        None => Status::Fail,
        Some(s) if s > BACKUP_FAIL_SECONDS => Status::Fail,
        Some(s)
            if s > BACKUP_WARN_SECONDS
                || b.last_restore_test_age_seconds
                    .is_none_or(|t| t > RESTORE_TEST_WARN_SECONDS) =>
        {
            Status::Warn
        }
        Some(_) => Status::Pass,
    };
    (status, evidence)
}

fn counts(by: &[(String, u64)]) -> String {
    if by.is_empty() {
        return "none".to_owned();
    }
    by.iter()
        .map(|(severity, n)| format!("{n} {severity}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn findings(f: &Facts) -> (Status, Vec<String>) {
    let x = &f.findings;
    let evidence = vec![
        format!("deployed module versions: {}", x.deployed),
        format!("accepted findings: {}", counts(&x.accepted)),
        format!("findings not accepted: {}", counts(&x.pending)),
    ];
    let status = if x.deployed == 0 {
        Status::NotApplicable
    } else if x.pending.iter().any(|(_, n)| *n > 0) {
        Status::Fail
    } else if x.accepted.iter().any(|(_, n)| *n > 0) {
        Status::Warn
    } else {
        Status::Pass
    };
    (status, evidence)
}

fn idle_administrators(f: &Facts) -> (Status, Vec<String>) {
    let idle: Vec<String> = f
        .administrators
        .iter()
        .filter(|a| match a.last_login_days {
            Some(d) => d > ADMIN_IDLE_DAYS,
            None => a.created_days > ADMIN_IDLE_DAYS,
        })
        .map(|a| match a.last_login_days {
            Some(d) => format!("{} (last sign-in {d} days ago)", a.username),
            None => format!(
                "{} (never signed in, created {} days ago)",
                a.username, a.created_days
            ),
        })
        .collect();
    let mut evidence = vec![format!("administrators: {}", f.administrators.len())];
    if idle.is_empty() {
        evidence.push(format!("without a sign-in in {ADMIN_IDLE_DAYS} days: none"));
        (Status::Pass, evidence)
    } else {
        evidence.push(format!(
            "without a sign-in in {ADMIN_IDLE_DAYS} days: {}",
            idle.join(", ")
        ));
        (Status::Warn, evidence)
    }
}

fn default_credentials(f: &Facts) -> (Status, Vec<String>) {
    let initial: Vec<&str> = f
        .administrators
        .iter()
        .filter(|a| a.initial_password)
        .map(|a| a.username.as_str())
        .collect();
    let evidence = vec![
        format!(
            "accounts with a published password: {}",
            if f.published_passwords.is_empty() {
                "none".to_owned()
            } else {
                f.published_passwords.join(", ")
            }
        ),
        format!(
            "administrators still on the password they were created with: {}",
            if initial.is_empty() {
                "none".to_owned()
            } else {
                initial.join(", ")
            }
        ),
    ];
    let status = if !f.published_passwords.is_empty() {
        Status::Fail
    } else if !initial.is_empty() {
        Status::Warn
    } else {
        Status::Pass
    };
    (status, evidence)
}

fn dependencies(f: &Facts) -> (Status, Vec<String>) {
    match &f.advisories {
        None => (
            Status::Warn,
            vec![
                "advisory check: not checked (no cargo deny or cargo audit result was recorded when this binary was built)"
                    .to_owned(),
            ],
        ),
        Some(record) => {
            // The record ends with `: ok` when the check found nothing (see the crate's
            // `RAMPART_ADVISORIES` in the service).
            let clean = record.trim_end().ends_with(": ok");
            (
                if clean { Status::Pass } else { Status::Fail },
                vec![format!("advisory check at build time: {record}")],
            )
        }
    }
}
