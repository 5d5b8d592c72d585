//! Each control against a table of facts: a healthy node, then one change at a time.

#![allow(clippy::panic)] // test code: failing loudly is the point

use super::*;

/// A node that passes every control.
fn healthy() -> Facts {
    Facts {
        transport: Transport {
            enforce_https: true,
            generated_certificate: false,
            hsts: Some("max-age=31536000; includeSubDomains".into()),
            tls_versions: vec!["TLS 1.3".into(), "TLS 1.2".into()],
        },
        mfa: Mfa {
            available: true,
            required_for_administrators: true,
            administrators: 2,
            administrators_enrolled: 2,
        },
        password: Password {
            min_length: 12,
            min_score: 3,
            history: 5,
            max_age_days: 0,
        },
        lockout: Lockout {
            threshold: 5,
            base_seconds: 1,
            max_seconds: 900,
            address_free_failures: 20,
        },
        keys: Keys {
            audit_key_age_days: Some(10),
            master_key_configured: true,
            environments_with_data_keys: 1,
            oldest_data_key_age_days: Some(10),
        },
        audit: Audit {
            events: 100,
            checkpoint_size: Some(100),
            checkpoint_age_seconds: Some(5),
            checkpoint_verified: Some(true),
            tamper_alert: false,
            checkpoint_interval_seconds: 10,
        },
        backups: Backups {
            last_backup_age_seconds: Some(3600),
            last_restore_test_age_seconds: Some(3600),
            last_restore_test_millis: Some(1200),
        },
        findings: Findings {
            deployed: 3,
            accepted: vec![],
            pending: vec![],
        },
        integrations: Integrations {
            per_environment: true,
            refused_in_force: vec![],
            internal_networks: String::new(),
        },
        administrators: vec![Administrator {
            username: "root".into(),
            last_login_days: Some(1),
            created_days: 200,
            initial_password: false,
        }],
        published_passwords: vec![],
        advisories: Some("cargo-deny 0.16 2026-12-05: ok".into()),
    }
}

fn status_of(facts: &Facts, id: &str) -> Status {
    assess(facts)
        .into_iter()
        .find(|o| o.control.id == id)
        .map(|o| o.status)
        .unwrap_or_else(|| panic!("no control {id}"))
}

#[test]
fn a_healthy_node_passes_every_control() {
    let outcomes = assess(&healthy());
    assert_eq!(outcomes.len(), CONTROLS.len());
    for o in &outcomes {
        assert_eq!(o.status, Status::Pass, "{}: {:?}", o.control.id, o.evidence);
        assert!(!o.evidence.is_empty(), "{} has no evidence", o.control.id);
    }
    assert_eq!(critical_failures(&outcomes), 0);
}

#[test]
fn controls_have_unique_ids_an_owner_and_framework_ids() {
    let mut ids: Vec<&str> = CONTROLS.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CONTROLS.len());
    for c in &CONTROLS {
        assert!(!c.soc2.is_empty() && !c.iso27001.is_empty(), "{}", c.id);
        assert!(c.iso27001.iter().all(|i| i.starts_with("A.")), "{}", c.id);
    }
    // The seed's division: encryption, logging, availability and patching are the
    // platform's; access configuration and application code the customer's.
    let owner = |id: &str| CONTROLS.iter().find(|c| c.id == id).map(|c| c.owner);
    assert_eq!(owner("availability.backups"), Some(Owner::Platform));
    assert_eq!(owner("logging.audit-log"), Some(Owner::Platform));
    assert_eq!(owner("applications.findings"), Some(Owner::Customer));
    assert_eq!(owner("identity.admin-mfa"), Some(Owner::Customer));
}

#[test]
fn each_fact_moves_its_control() {
    type Change = fn(&mut Facts);
    let cases: &[(&str, Change, Status)] = &[
        (
            "transport.https",
            |f| f.transport.enforce_https = false,
            Status::Fail,
        ),
        (
            "transport.https",
            |f| f.transport.generated_certificate = true,
            Status::Warn,
        ),
        ("transport.hsts", |f| f.transport.hsts = None, Status::Fail),
        (
            "transport.hsts",
            |f| f.transport.hsts = Some("max-age=300".into()),
            Status::Warn,
        ),
        (
            "transport.hsts",
            |f| f.transport.hsts = Some("max-age=0".into()),
            Status::Fail,
        ),
        (
            "transport.hsts",
            |f| f.transport.enforce_https = false,
            Status::Warn,
        ),
        (
            "transport.tls-versions",
            |f| f.transport.tls_versions.push("TLS 1.1".into()),
            Status::Fail,
        ),
        (
            "transport.tls-versions",
            |f| f.transport.tls_versions = vec!["TLS 1.2".into()],
            Status::Warn,
        ),
        (
            "transport.tls-versions",
            |f| f.transport.tls_versions.clear(),
            Status::Fail,
        ),
        (
            "identity.admin-mfa",
            |f| {
                f.mfa = Mfa {
                    available: false,
                    administrators: 2,
                    ..Mfa::default()
                }
            },
            Status::Fail,
        ),
        (
            "identity.admin-mfa",
            |f| f.mfa.required_for_administrators = false,
            Status::Warn,
        ),
        (
            "identity.admin-mfa",
            |f| {
                f.mfa.required_for_administrators = false;
                f.mfa.administrators_enrolled = 1;
            },
            Status::Fail,
        ),
        (
            "identity.password-policy",
            |f| f.password.min_length = 10,
            Status::Warn,
        ),
        (
            "identity.password-policy",
            |f| f.password.min_score = 2,
            Status::Warn,
        ),
        (
            "identity.password-policy",
            |f| f.password.history = 0,
            Status::Warn,
        ),
        (
            "identity.password-policy",
            |f| f.password.min_length = 6,
            Status::Fail,
        ),
        (
            "identity.password-policy",
            |f| f.password.min_score = 1,
            Status::Fail,
        ),
        (
            "identity.lockout",
            |f| f.lockout.threshold = 0,
            Status::Fail,
        ),
        (
            "identity.lockout",
            |f| f.lockout.base_seconds = 0,
            Status::Fail,
        ),
        (
            "identity.lockout",
            |f| f.lockout.threshold = 50,
            Status::Warn,
        ),
        (
            "applications.integrations",
            |f| f.integrations.per_environment = false,
            Status::Warn,
        ),
        (
            "applications.integrations",
            |f| f.integrations.refused_in_force = vec!["development: crm.Billing secret".into()],
            Status::Fail,
        ),
        (
            "applications.integrations",
            |f| f.integrations.internal_networks = "10.0.0.0/8".into(),
            Status::Pass,
        ),
        (
            "crypto.keys",
            |f| f.keys.audit_key_age_days = None,
            Status::Fail,
        ),
        (
            "crypto.keys",
            |f| f.keys.master_key_configured = false,
            Status::Fail,
        ),
        (
            "crypto.keys",
            |f| {
                f.keys.master_key_configured = false;
                f.keys.environments_with_data_keys = 0;
                f.keys.oldest_data_key_age_days = None;
            },
            Status::Pass,
        ),
        (
            "crypto.keys",
            |f| f.keys.audit_key_age_days = Some(400),
            Status::Warn,
        ),
        (
            "crypto.keys",
            |f| f.keys.oldest_data_key_age_days = Some(400),
            Status::Warn,
        ),
        (
            "logging.audit-log",
            |f| f.audit.tamper_alert = true,
            Status::Fail,
        ),
        (
            "logging.audit-log",
            |f| f.audit.checkpoint_verified = Some(false),
            Status::Fail,
        ),
        (
            "logging.audit-log",
            |f| {
                f.audit.checkpoint_size = None;
                f.audit.checkpoint_age_seconds = None;
                f.audit.checkpoint_verified = None;
            },
            Status::Warn,
        ),
        (
            "logging.audit-log",
            |f| {
                f.audit.checkpoint_size = Some(90);
                f.audit.checkpoint_age_seconds = Some(3 * 86_400);
            },
            Status::Warn,
        ),
        // An old checkpoint of a log that has not grown since is current.
        (
            "logging.audit-log",
            |f| f.audit.checkpoint_age_seconds = Some(3 * 86_400),
            Status::Pass,
        ),
        (
            "logging.audit-log",
            |f| {
                f.audit = Audit {
                    checkpoint_interval_seconds: 10,
                    ..Audit::default()
                };
            },
            Status::Pass,
        ),
        (
            "availability.backups",
            |f| f.backups = Backups::default(),
            Status::Fail,
        ),
        (
            "availability.backups",
            |f| f.backups.last_backup_age_seconds = Some(8 * 86_400),
            Status::Fail,
        ),
        (
            "availability.backups",
            |f| f.backups.last_backup_age_seconds = Some(2 * 86_400),
            Status::Warn,
        ),
        (
            "availability.backups",
            |f| f.backups.last_restore_test_age_seconds = None,
            Status::Warn,
        ),
        (
            "availability.backups",
            |f| f.backups.last_restore_test_age_seconds = Some(100 * 86_400),
            Status::Warn,
        ),
        (
            "applications.findings",
            |f| f.findings.deployed = 0,
            Status::NotApplicable,
        ),
        (
            "applications.findings",
            |f| f.findings.accepted = vec![("warning".into(), 2)],
            Status::Warn,
        ),
        (
            "applications.findings",
            |f| f.findings.pending = vec![("warning".into(), 1)],
            Status::Fail,
        ),
        (
            "applications.findings",
            |f| f.findings.pending = vec![("warning".into(), 0)],
            Status::Pass,
        ),
        (
            "identity.idle-administrators",
            |f| f.administrators[0].last_login_days = Some(91),
            Status::Warn,
        ),
        (
            "identity.idle-administrators",
            |f| f.administrators[0].last_login_days = None,
            Status::Warn,
        ),
        (
            "identity.idle-administrators",
            |f| {
                f.administrators[0].last_login_days = None;
                f.administrators[0].created_days = 3;
            },
            Status::Pass,
        ),
        (
            "identity.default-credentials",
            |f| f.published_passwords = vec!["dana".into()],
            Status::Fail,
        ),
        (
            "identity.default-credentials",
            |f| f.administrators[0].initial_password = true,
            Status::Warn,
        ),
        (
            "vulnerabilities.dependencies",
            |f| f.advisories = None,
            Status::Warn,
        ),
        (
            "vulnerabilities.dependencies",
            |f| f.advisories = Some("cargo-deny 0.16 2026-12-05: 2 advisories".into()),
            Status::Fail,
        ),
        (
            "vulnerabilities.dependencies",
            |f| f.advisories = Some("cargo-deny: not ok".into()),
            Status::Fail,
        ),
    ];
    for (i, (id, change, expected)) in cases.iter().enumerate() {
        let mut facts = healthy();
        change(&mut facts);
        assert_eq!(status_of(&facts, id), *expected, "case {i}: {id}");
        // The other controls are untouched by a change to this one's facts, except where
        // the facts are shared (administrators and HTTPS enforcement).
        for o in assess(&facts) {
            if o.control.id != *id && o.status != Status::Pass {
                let shared = matches!(
                    (o.control.id, *id),
                    ("transport.hsts", "transport.https")
                        | ("transport.https", "transport.hsts")
                        | (
                            "identity.default-credentials",
                            "identity.idle-administrators"
                        )
                        | (
                            "identity.idle-administrators",
                            "identity.default-credentials"
                        )
                );
                assert!(shared, "case {i}: {id} also moved {}", o.control.id);
            }
        }
    }
}

#[test]
fn only_failing_critical_controls_count_for_the_exit_code() {
    let mut facts = healthy();
    facts.backups = Backups::default(); // high
    facts.mfa.available = false; // high
    assert_eq!(critical_failures(&assess(&facts)), 0);
    facts.transport.enforce_https = false; // critical
    facts.published_passwords = vec!["dana".into()]; // critical
    assert_eq!(critical_failures(&assess(&facts)), 2);
    facts.transport.enforce_https = true;
    facts.transport.generated_certificate = true; // a warning only
    assert_eq!(critical_failures(&assess(&facts)), 1);
}

#[test]
fn evidence_names_the_facts_that_decided() {
    let mut facts = healthy();
    facts.administrators[0].last_login_days = Some(120);
    facts.mfa = Mfa {
        available: false,
        administrators: 1,
        ..Mfa::default()
    };
    facts.advisories = None;
    let outcomes = assess(&facts);
    let evidence = |id: &str| {
        outcomes
            .iter()
            .find(|o| o.control.id == id)
            .map(|o| o.evidence.join("\n"))
            .unwrap_or_default()
    };
    assert!(evidence("identity.idle-administrators").contains("root (last sign-in 120 days ago)"));
    assert!(evidence("identity.admin-mfa").contains("mfa available: no"));
    assert!(evidence("vulnerabilities.dependencies").contains("not checked"));
    assert!(evidence("transport.hsts").contains("max-age=31536000"));
}
