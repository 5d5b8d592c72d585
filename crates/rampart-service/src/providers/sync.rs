//! Sync runs: on demand (API, CLI) and scheduled (each provider's `sync_interval_minutes`).
//! A run lists the directory's users, creates the profiles missing (when the provider
//! vouches for one kind of user), updates names, e-mails and mapped roles, and disables the
//! local users the directory no longer lists, ending their sessions. A refused service bind
//! or an unreachable directory is an error, never "no users"; a directory listing nobody
//! while local users are enabled is refused (`rules::plan_sync`). Each run ends with a
//! `provider.sync` event with its counts, or its failure.

use std::time::Duration;

use rampart_api::SyncReport;
use rampart_core::{AuditContext, Error, Provider, Username};
use rampart_federation::rules::{plan_sync, sync_due, LocalUser, SyncRefusal};
use rampart_federation::{Directory, DirectoryUser, ProviderSettings, Users};
use rampart_store::{ProfileChange, ProviderRecord};
use serde_json::json;

use super::login::{apply_roles, profile};
use crate::state::AppState;

/// Runs a sync of the provider `name` now, acting as `ctx`.
pub async fn sync_now(
    state: &AppState,
    ctx: &AuditContext,
    name: &str,
) -> Result<SyncReport, Error> {
    let record = super::record(state, name).await?;
    if record.kind != "ldap" {
        return Err(Error::invalid(
            "name",
            format!(
                "{} is an identity provider, which lists no users to sync: its users are known \
                 from their sign-ins",
                record.name
            ),
        ));
    }
    let now = state.clock.now();
    let listed = match super::directory(state, &record) {
        Ok(dir) => dir.list_users().await,
        Err(e) => Err(e),
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(e) => {
            let summary = json!({ "result": "failed", "reason": e.reason() });
            state
                .store
                .finish_provider_sync(&record.name, &summary, Some(&e.to_string()), now, ctx)
                .await?;
            return Err(super::directory_error(&record.name, &e));
        }
    };
    match run(state, ctx, &record, listed).await {
        Ok(report) => {
            let summary = json!({
                "result": "ok",
                "listed": report.listed,
                "created": report.created,
                "updated": report.updated,
                "disabled": report.disabled,
                "sessions_revoked": report.sessions_revoked,
                "skipped": report.skipped,
            });
            state
                .store
                .finish_provider_sync(&record.name, &summary, None, state.clock.now(), ctx)
                .await?;
            Ok(report)
        }
        Err(error) => {
            let summary = json!({ "result": "refused", "reason": error.to_string() });
            state
                .store
                .finish_provider_sync(
                    &record.name,
                    &summary,
                    Some(&error.to_string()),
                    state.clock.now(),
                    ctx,
                )
                .await?;
            Err(error)
        }
    }
}

/// Applies a listing to the provider's local users.
async fn run(
    state: &AppState,
    ctx: &AuditContext,
    record: &ProviderRecord,
    listed: Vec<DirectoryUser>,
) -> Result<SyncReport, Error> {
    let ProviderSettings::Ldap(settings) =
        ProviderSettings::from_parts(&record.kind, record.settings.clone())
            .map_err(|e| Error::Internal(e.message))?
    else {
        return Err(Error::Internal(format!(
            "{} is not a directory",
            record.name
        )));
    };
    let audience = Users::parse(&record.users).map_err(Error::Internal)?;
    let mut report = SyncReport {
        listed: listed.len() as u64,
        ..SyncReport::default()
    };
    let (holdable, unholdable): (Vec<_>, Vec<_>) = listed
        .into_iter()
        .partition(|u| Username::parse(&u.username).is_ok());
    report.skipped += unholdable.len() as u64;
    let local = state.store.users_of_provider(&record.name).await?;
    let locals: Vec<LocalUser> = local
        .iter()
        .map(|u| LocalUser {
            username_norm: u.username.to_ascii_lowercase(),
            disabled: u.disabled,
        })
        .collect();
    let plan = plan_sync(&locals, &holdable).map_err(|refusal| match refusal {
        SyncRefusal::EmptyDirectory { enabled } => Error::Directory(format!(
            "user provider {}: the directory listed no users while {enabled} local users of \
             it are enabled; nothing was changed (check user_base and user_filter)",
            record.name
        )),
    })?;
    report.skipped += plan.ambiguous.len() as u64;
    let kinds: Vec<Provider> = match audience {
        Users::It => vec![Provider::It],
        Users::End => vec![Provider::End],
        Users::Both => vec![],
    };
    for found in &plan.create {
        // A provider of both kinds cannot tell which a new user is: their first login does.
        let Some(&kind) = kinds.first() else {
            continue;
        };
        match profile(state, kind, &record.name, found, ctx).await {
            Ok((user, _)) => {
                report.created += 1;
                apply_roles(
                    state,
                    &user,
                    &settings.mappings,
                    &found.groups,
                    &record.name,
                )
                .await?;
            }
            Err((_, Error::Conflict(_) | Error::Forbidden(_))) => report.skipped += 1,
            Err((_, e)) => return Err(e),
        }
    }
    for found in &plan.update {
        let norm = found.username.to_ascii_lowercase();
        for kind in local
            .iter()
            .filter(|u| u.username.eq_ignore_ascii_case(&norm))
            .map(|u| u.provider)
        {
            let (user, change) = profile(state, kind, &record.name, found, ctx)
                .await
                .map_err(|(_, e)| e)?;
            let roles = if user.disabled {
                false
            } else {
                apply_roles(
                    state,
                    &user,
                    &settings.mappings,
                    &found.groups,
                    &record.name,
                )
                .await?
            };
            if roles || change != ProfileChange::Unchanged {
                report.updated += 1;
            }
        }
    }
    let now = state.clock.now();
    for gone in &plan.disable {
        for user in local
            .iter()
            .filter(|u| !u.disabled && u.username.eq_ignore_ascii_case(gone))
        {
            let (_, revoked) = state.store.set_disabled(user.id, true, now, ctx).await?;
            report.sessions_revoked += revoked;
            report.disabled += 1;
        }
    }
    Ok(report)
}

/// Runs each provider's scheduled sync when due, until `stop`; checks once a minute.
pub async fn run_scheduled_sync(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if !state.leadership.is_leader() {
            continue;
        }
        let providers = match state.store.providers().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "user providers not read for their scheduled sync");
                continue;
            }
        };
        let now = state.clock.now();
        let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
        for record in providers {
            let interval = ProviderSettings::from_parts(&record.kind, record.settings.clone())
                .map(|s| s.sync_interval_minutes())
                .unwrap_or(0);
            if !sync_due(interval, record.status.last_sync_at.map(ms), ms(now)) {
                continue;
            }
            let ctx = AuditContext {
                actor_name: Some(format!("user-provider:{}", record.name)),
                ..state.system_context()
            };
            match sync_now(&state, &ctx, &record.name).await {
                Ok(r) => {
                    tracing::info!(provider = %record.name, created = r.created, updated = r.updated, disabled = r.disabled, "user provider synced")
                }
                Err(e) => {
                    tracing::warn!(provider = %record.name, error = %e, "user provider sync failed")
                }
            }
        }
    }
}
