//! Deployments waiting for a second approver: the listing, approval (by someone other than
//! the requester, who re-checks the plan against the environment as it is now and applies
//! it, then creates the roles its modules declare: [`super::roles`]) and rejection (or withdrawal by the requester).

use rampart_api::{
    DeployResponse, DeploymentRequestWire, RejectRequest, RequestItem, RequestsQuery,
};
use rampart_authz::it::EnvId;
use rampart_authz::policy::{level_needed, LifecycleOp};
use rampart_core::Error;
use rampart_deploy::policy;
use rampart_store::DeploymentRequest;

use super::deploy::{plan, Plan, Step};
use super::{deployment_wire, environment, require, roles, LifecycleError, On, Visibility};
use crate::caller::Caller;
use crate::state::AppState;

fn request_wire(r: DeploymentRequest) -> DeploymentRequestWire {
    DeploymentRequestWire {
        id: r.id,
        environment: r.environment,
        kind: r.kind.as_str().to_owned(),
        from: r.source_env,
        items: r
            .items
            .into_iter()
            .map(|(module, version, expected)| RequestItem {
                module,
                version,
                expected,
            })
            .collect(),
        requester: r.requester,
        requested_at: r.requested_at,
        status: r.status,
        decider: r.decider,
        reason: r.reason,
    }
}

/// The deployment request `id` of `env`, when the caller may see it (`reference` in `env` on
/// every module it deploys, as the listing shows it) or made it: otherwise the answer a
/// request that does not exist gets.
async fn request_in(
    state: &AppState,
    caller: &Caller,
    env: &str,
    env_id: EnvId,
    id: i64,
) -> Result<DeploymentRequest, Error> {
    let not_found = || Error::NotFound {
        what: "deployment request",
    };
    let r = state
        .store
        .deployment_request(id)
        .await?
        .filter(|r| r.environment == env)
        .ok_or_else(not_found)?;
    if r.requested_by == caller.user.id.to_string() {
        return Ok(r);
    }
    let mut visible = Visibility::new(state, caller, env_id);
    for (module, _, _) in &r.items {
        if !visible.may_see(module).await? {
            return Err(not_found());
        }
    }
    Ok(r)
}

/// Refuses unless the caller holds `deploy` in the environment on every module of `r`.
async fn require_deploy_all(
    state: &AppState,
    caller: &Caller,
    env_id: EnvId,
    r: &DeploymentRequest,
    what: &str,
) -> Result<(), Error> {
    for (module, _, _) in &r.items {
        require(
            state,
            caller,
            On::Module(module),
            env_id,
            level_needed(LifecycleOp::Deploy),
            what,
        )
        .await?;
    }
    Ok(())
}

/// Refuses a request that was decided already.
fn still_pending(r: &DeploymentRequest) -> Result<(), Error> {
    if r.status != "pending" {
        return Err(Error::Conflict(format!(
            "deployment request {} was already {}",
            r.id, r.status
        )));
    }
    Ok(())
}

/// The deployment requests of environment `env` the caller may see, newest first.
pub async fn requests(
    state: &AppState,
    caller: &Caller,
    env: &str,
    q: RequestsQuery,
) -> Result<Vec<DeploymentRequestWire>, Error> {
    let mut visible = Visibility::new(state, caller, environment(state, env)?);
    if let Some(s) = &q.status {
        if !matches!(s.as_str(), "pending" | "approved" | "rejected") {
            return Err(Error::invalid("status", "pending, approved or rejected"));
        }
    }
    let mut out = Vec::new();
    for r in state
        .store
        .deployment_requests(env, q.status.as_deref())
        .await?
    {
        let mut shown = true;
        for (module, _, _) in &r.items {
            shown &= visible.may_see(module).await?;
        }
        if shown {
            out.push(request_wire(r));
        }
    }
    Ok(out)
}

/// Approves pending deployment request `id` of `env` and applies it: the caller is not the
/// requester, holds `deploy` on every module (and is not their author where separation of
/// duties applies), and the plan is checked again against the environment as it is now.
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    env: String,
    id: i64,
) -> Result<DeployResponse, LifecycleError> {
    let env_id = environment(state, &env)?;
    state.authz.fresh(None).await?;
    let r = request_in(state, caller, &env, env_id, id).await?;
    require_deploy_all(state, caller, env_id, &r, "approving a deployment").await?;
    still_pending(&r)?;
    policy::check_approver(&env, &r.requested_by, &caller.user.id.to_string())?;
    let steps = r
        .items
        .iter()
        .map(|(module, to, expected)| Step {
            module: module.clone(),
            to: *to,
            expected: Some(expected.unwrap_or(0)),
            version: None,
        })
        .collect();
    let settings = match r.plan {
        Some(p) => state.store.plan(p).await?.map(|p| p.settings),
        None => None,
    };
    let Plan {
        changes,
        items,
        declared,
    } = plan(
        state,
        caller,
        &env,
        steps,
        r.kind,
        r.source_env.as_deref(),
        settings.as_ref(),
    )
    .await?;
    super::deploy::step_up(state, caller, &env).await?;
    let modules = crate::apps::migrate::modules_after(state, &env, &items).await?;
    crate::apps::migrate::prepare(state, caller, &env, &modules, false).await?;
    let done = state
        .store
        .deploy(&caller.audit, state.clock.now(), &items, Some(id), None)
        .await?;
    state.apps.invalidate(&env);
    let roles = roles::create_declared(state, caller, &env, &declared).await;
    Ok(DeployResponse {
        environment: env,
        status: "applied".to_owned(),
        changes,
        applied: true,
        request: Some(id),
        deployments: done.into_iter().map(deployment_wire).collect(),
        roles,
    })
}

/// Rejects pending deployment request `id` of `env` (its requester may withdraw it; others
/// need `deploy` on every module in it).
pub async fn reject(
    state: &AppState,
    caller: &Caller,
    env: &str,
    id: i64,
    req: RejectRequest,
) -> Result<(), Error> {
    let env_id = environment(state, env)?;
    if req.reason.trim().is_empty() || req.reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "say why, in 1 to 500 characters"));
    }
    state.authz.fresh(None).await?;
    let r = request_in(state, caller, env, env_id, id).await?;
    if r.requested_by != caller.user.id.to_string() {
        require_deploy_all(state, caller, env_id, &r, "rejecting a deployment").await?;
    }
    still_pending(&r)?;
    state
        .store
        .reject_deployment(&caller.audit, state.clock.now(), id, &req.reason)
        .await
}
