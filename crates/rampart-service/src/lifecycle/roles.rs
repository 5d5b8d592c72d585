//! The roles a deployment's modules declare become their applications' roles.
//!
//! Right after a deployment commits ([`super::deploy::apply`], [`super::requests::approve`]),
//! every role that the versions it puts in place declare and their application lacks is
//! created through the authorization write path: `AuthzOp::CreateRole` with the model's
//! description, one batch under the caller's audit context (one revision, an
//! `authz.role.create` event per role carrying the deployment's actor and request id),
//! applied to this node's index before the answer. Which roles, by what name, and that
//! existing roles (and their grants) are never changed nor any removed, is
//! `rampart_deploy::roles`. A deployment that finds its modules at the versions asked for
//! already ("nothing to do") still creates what they declare and their applications lack;
//! a dry run and a deployment waiting for a second approver create nothing.
//!
//! **When creating them fails after the deployment committed**, the deployment stands: it
//! committed with its own audit events, and undoing it would be a second change that can
//! fail as well. The answer is still `applied` (an error would tell the client that nothing
//! happened) and lists the roles still missing with the reason (`DeployResponse.roles`);
//! the failure is logged at error level with its cause and counted in
//! `rampart_deployment_role_failures_total`, for alerting. Creation is idempotent, worked
//! out afresh from the index every time, so deploying the same versions again creates what
//! is missing, as does any later deployment of those modules. Until then, granting a
//! missing role is refused as for any role the application does not have: nothing is
//! half-done. Someone creating one of the roles meanwhile (a concurrent deployment, an
//! administrator: the batch then conflicts) is retried, up to three times, after the index
//! has read every change committed since.

use rampart_api::{ApplicationRole, DeclaredRoles};
use rampart_authz::view::AuthzView;
use rampart_core::Error;
use rampart_deploy::roles::{missing, Declared, NewRole};
use rampart_store::AuthzOp;

use crate::caller::Caller;
use crate::state::AppState;

/// How many times a batch that conflicted is worked out and tried again.
const RETRIES: u32 = 3;

/// Creates the roles `declared` (the versions a deployment into `environment` put in
/// place) that their applications lack. Never fails: the deployment has committed, so a
/// failure is logged, counted and reported in the answer. `None` when nothing was missing.
pub(super) async fn create_declared(
    state: &AppState,
    caller: &Caller,
    environment: &str,
    declared: &[Declared],
) -> Option<DeclaredRoles> {
    if declared.iter().all(|d| d.roles.is_empty()) {
        return None;
    }
    let mut conflicts = 0;
    loop {
        // After a conflict, whatever committed since (on this node too, whose own writes
        // may not have reached the index yet) is read before trying again.
        let refreshed = if conflicts > 0 {
            state.authz.catch_up().await
        } else {
            state.authz.fresh(None).await.map(drop)
        };
        let wanted = wanted(&state.authz.view(), declared);
        if let Err(e) = refreshed {
            return failed(state, environment, &wanted, &e);
        }
        if wanted.is_empty() {
            return None;
        }
        let ops: Vec<AuthzOp> = wanted
            .iter()
            .map(|(app, r)| AuthzOp::CreateRole {
                app: app.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
            })
            .collect();
        match state
            .store
            .authz_write(&caller.audit, state.clock.now(), &ops)
            .await
        {
            Ok(revision) => {
                if let Err(e) = state.authz.after_write(revision).await {
                    // The roles exist; this node's index catches up with its next read.
                    tracing::warn!(
                        environment,
                        revision,
                        error = ?e,
                        "the roles a deployment declared were created, but this node's \
                         authorization index has not caught up yet"
                    );
                }
                return Some(DeclaredRoles {
                    created: refs(&wanted),
                    missing: Vec::new(),
                    error: None,
                });
            }
            Err(Error::Conflict(_)) if conflicts < RETRIES => conflicts += 1,
            Err(e) => return failed(state, environment, &wanted, &e),
        }
    }
}

/// The roles to create, with their application: those `declared` by the modules of each
/// application that the index does not have, in the deployment's order.
fn wanted(view: &AuthzView, declared: &[Declared]) -> Vec<(String, NewRole)> {
    let applications = view.applications();
    let mut by_app: Vec<(String, Vec<Declared>)> = Vec::new();
    for d in declared {
        let Some(app) = view.module_application(&d.module) else {
            continue;
        };
        match by_app.iter_mut().find(|(a, _)| a == app) {
            Some((_, list)) => list.push(d.clone()),
            None => by_app.push((app.to_owned(), vec![d.clone()])),
        }
    }
    let mut out = Vec::new();
    for (app, list) in by_app {
        let existing = applications
            .iter()
            .find(|(a, _)| *a == app)
            .map(|(_, roles)| roles.as_slice())
            .unwrap_or_default();
        for role in missing(&list, existing) {
            out.push((app.clone(), role));
        }
    }
    out
}

fn refs(roles: &[(String, NewRole)]) -> Vec<ApplicationRole> {
    roles
        .iter()
        .map(|(app, r)| ApplicationRole {
            application: app.clone(),
            role: r.name.clone(),
        })
        .collect()
}

/// The answer, log line and count of roles that could not be created.
fn failed(
    state: &AppState,
    environment: &str,
    wanted: &[(String, NewRole)],
    e: &Error,
) -> Option<DeclaredRoles> {
    let missing = refs(wanted);
    let names: Vec<String> = missing
        .iter()
        .map(|r| format!("{}/{}", r.application, r.role))
        .collect();
    state.metrics.deployment_role_failures.inc();
    tracing::error!(
        environment,
        roles = %names.join(", "),
        error = ?e,
        "a deployment was applied, but the roles its modules declare could not be created; \
         deploying the same versions again creates them"
    );
    Some(DeclaredRoles {
        created: Vec::new(),
        missing,
        error: Some(format!(
            "creating the declared roles failed ({e}); the deployment stands: deploy the same \
             versions again to create them"
        )),
    })
}
