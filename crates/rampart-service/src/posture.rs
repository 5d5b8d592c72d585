//! The security posture report: gathers the facts (configuration, the data directory's
//! keys, the database, the audit log, backup records) and hands them to `rampart-posture`,
//! which decides. What is served on the wire (`Transport`) is the adapter's to say: the
//! server reads it from its own listeners' settings.
//!
//! The API route and the console page serve it to administrators and auditors; `rampart
//! posture` gathers the same facts offline, on the server's machine.

use rampart_api::PostureReport;
use rampart_core::{Error, Username};
use rampart_posture::{Administrator, Facts, Mfa, Transport};
use rampart_store::SettingKind;
use time::OffsetDateTime;

use crate::AppState;

/// What the build's dependency-advisory check found, recorded at build time by setting
/// `RAMPART_ADVISORIES` (e.g. `cargo-deny 0.16 2026-12-05: ok`, or `…: 2 advisories`);
/// absent when no check ran.
pub const ADVISORIES: Option<&str> = option_env!("RAMPART_ADVISORIES");

/// The MFA fact of the report: whether sign-in requires a second factor of administrators
/// (`[mfa] required_for_administrators`), and how many enabled administrators have one.
pub async fn mfa_fact(state: &AppState, administrators: u64) -> Result<Mfa, Error> {
    Ok(Mfa {
        available: true,
        required_for_administrators: state.config.mfa.required_for_administrators,
        administrators,
        administrators_enrolled: state.store.posture_administrators_enrolled().await?,
    })
}

/// Whole days from `then` to `now` (0 when `then` is later).
fn days(now: OffsetDateTime, then: OffsetDateTime) -> u64 {
    u64::try_from((now - then).whole_days()).unwrap_or(0)
}

/// Whole seconds from `then` to `now` (0 when `then` is later).
fn seconds(now: OffsetDateTime, then: OffsetDateTime) -> u64 {
    u64::try_from((now - then).whole_seconds()).unwrap_or(0)
}

/// Gathers every fact of the report.
pub async fn facts(state: &AppState, transport: Transport) -> Result<Facts, Error> {
    let now = state.clock.now();
    let config = &state.config;
    let store = &state.store;

    let admins = store.posture_administrators().await?;
    let administrators: Vec<Administrator> = admins
        .iter()
        .map(|a| Administrator {
            username: a.username.clone(),
            last_login_days: a.last_login_at.map(|t| days(now, t)),
            created_days: days(now, a.created_at),
            // An account with no password has none to keep from its creation.
            initial_password: a.password_changed_at == a.created_at
                && a.password_hash != rampart_store::NO_PASSWORD,
        })
        .collect();
    let mfa = mfa_fact(state, administrators.len() as u64).await?;

    // Accounts whose password is one Rampart publishes (the demo's people, whose passwords
    // are in the README): each tested against its hash, a handful of verifications.
    let mut published_passwords = Vec::new();
    for person in crate::apps::demo::PEOPLE {
        let Ok(name) = Username::parse(person.username) else {
            continue;
        };
        for account in store.posture_accounts_named(&name).await? {
            if state
                .credentials
                .verify_password(person.password, Some(&account.password_hash))
                .await?
            {
                published_passwords.push(format!("{} ({})", account.username, account.provider));
            }
        }
    }

    let key_path = config.data_dir.join(crate::audit::KEY_FILE);
    // The current key's age: the newest rotation's, else the key file's.
    let rotated = store
        .audit_signing_keys()
        .await?
        .pop()
        .map(|k| k.created_at);
    let audit_key_age_days = match rotated {
        Some(at) => Some(days(now, at)),
        None => std::fs::metadata(&key_path)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| days(now, OffsetDateTime::from(t))),
    };
    let data_keys = store.posture_data_keys().await?;
    let keys = rampart_posture::Keys {
        audit_key_age_days,
        master_key_configured: !config.keys.master_key.is_empty(),
        environments_with_data_keys: data_keys.len() as u64,
        oldest_data_key_age_days: data_keys.iter().map(|(_, at)| days(now, *at)).max(),
    };

    let events = state.audit.catch_up().await?;
    let latest = store.audit_latest_checkpoint().await?;
    let checkpoint_verified = match &latest {
        None => None,
        Some(c) => {
            let key = state.audit.verifier_at(c.size).await?;
            let signed = rampart_audit::open_for(state.audit.origin(), &c.note, &key).is_ok();
            let root = state.audit.root_at(c.size).await?;
            Some(signed && root == c.root)
        }
    };
    let audit = rampart_posture::Audit {
        events,
        checkpoint_size: latest.as_ref().map(|c| c.size),
        checkpoint_age_seconds: latest.as_ref().map(|c| seconds(now, c.signed_at)),
        checkpoint_verified,
        tamper_alert: state.metrics.audit_tamper_alert.get() != 0,
        checkpoint_interval_seconds: u64::from(config.audit.checkpoint_seconds),
    };

    let last_backup = store.backup_records(Some("backup"), 1).await?;
    let mut tests = store.backup_records(Some("drill"), 1).await?;
    tests.extend(store.backup_records(Some("restore"), 1).await?);
    let last_test = tests.into_iter().max_by_key(|r| r.at);
    let backups = rampart_posture::Backups {
        last_backup_age_seconds: last_backup.first().map(|r| seconds(now, r.at)),
        last_restore_test_age_seconds: last_test.as_ref().map(|r| seconds(now, r.at)),
        last_restore_test_millis: last_test
            .as_ref()
            .map(|r| u64::try_from(r.millis).unwrap_or(0)),
    };

    let (deployed, counts) = store.posture_findings().await?;
    let by = |accepted: bool| -> Vec<(String, u64)> {
        counts
            .iter()
            .filter(|c| c.accepted == accepted && c.count > 0)
            .map(|c| (c.severity.clone(), u64::try_from(c.count).unwrap_or(0)))
            .collect()
    };
    let findings = rampart_posture::Findings {
        deployed: u64::try_from(deployed).unwrap_or(0),
        accepted: by(true),
        pending: by(false),
    };

    let integrations = integrations_fact(state).await?;

    Ok(Facts {
        transport,
        integrations,
        mfa,
        password: rampart_posture::Password {
            min_length: config.password.min_length,
            min_score: config.password.min_score,
            history: config.password.history,
            max_age_days: config.password.max_age_days,
        },
        lockout: rampart_posture::Lockout {
            threshold: config.lockout.threshold,
            base_seconds: config.lockout.base_seconds,
            max_seconds: config.lockout.max_seconds,
            address_free_failures: config.lockout.address_free_failures,
        },
        keys,
        audit,
        backups,
        findings,
        administrators,
        published_passwords,
        advisories: ADVISORIES.map(str::to_owned),
    })
}

/// Where integrations read their secrets: whether each environment has its own, and the
/// settings in force (from plans made before the rules or the configuration changed) that
/// the rules now refuse, so their calls fail.
async fn integrations_fact(state: &AppState) -> Result<rampart_posture::Integrations, Error> {
    use rampart_deploy::secrets::{DIR_PLACEHOLDER, PREFIX_PLACEHOLDER};
    let i = &state.config.integrations;
    let mut refused_in_force = Vec::new();
    let environments: Vec<String> = state
        .authz
        .view()
        .environments()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    for env in environments {
        for s in state.store.environment_settings(&env).await? {
            let text = s.value.as_str().unwrap_or_default();
            let allowed = match s.kind {
                SettingKind::Secret => {
                    crate::apps::integrations::secrets::check(&state.config, &env, text).is_ok()
                }
                SettingKind::Endpoint => {
                    url::Url::parse(text).is_ok_and(|u| state.outbound.reaches(&u).is_ok())
                }
                SettingKind::Property => true,
            };
            if !allowed {
                let what = match s.kind {
                    SettingKind::Secret => "its secret",
                    _ => "its endpoint",
                };
                refused_in_force.push(format!("{env}: {}.{} ({what})", s.module, s.name));
            }
        }
    }
    Ok(rampart_posture::Integrations {
        per_environment: i.secret_env_prefix.contains(PREFIX_PLACEHOLDER)
            && (i.secrets_dir.is_empty() || i.secrets_dir.contains(DIR_PLACEHOLDER)),
        refused_in_force,
        internal_networks: i.internal_networks.clone(),
    })
}

/// The report: every control decided on the facts gathered now.
pub async fn report(state: &AppState, transport: Transport) -> Result<PostureReport, Error> {
    let facts = facts(state, transport).await?;
    let outcomes = rampart_posture::assess(&facts);
    Ok(PostureReport::new(
        &outcomes,
        state.clock.now(),
        state.config.node_id.clone(),
        state.store.kind().as_str().to_owned(),
    ))
}
