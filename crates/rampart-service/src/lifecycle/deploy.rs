//! Deploying, staging and rolling back: a set of steps (a module to put at a version) is
//! planned against the environment as it would be afterwards and then applied in one
//! transaction, or recorded for a second approver where the environment requires one.
//! Once applied, the roles the deployed versions declare that their applications lack are
//! created ([`super::roles`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use rampart_api::{
    BreakingChange, DeployItem, DeployRequest, DeployResponse, PlannedChange, RollbackRequest,
    StageRequest,
};
use rampart_authz::it::Level;
use rampart_authz::policy::{level_needed, LifecycleOp};
use rampart_core::Error;
use rampart_deploy::roles::Declared;
use rampart_deploy::{compat, policy, Placed};
use rampart_model::Module;
use rampart_store::{DeployKind, NewDeployment, PlanSettings, Running, StoredVersion};

use super::{
    as_seen, breaking_change, deployment_wire, environment, environment_rule, environments,
    highest_level, level, model_of, plans, require_module, roles, running_placed, surface_of,
    uses_of, version_or_404, visible_application, LifecycleError, On,
};
use crate::caller::Caller;
use crate::state::AppState;

/// What a deployment did: applied (or planned, or nothing to do), or `waiting` for a second
/// approver.
pub struct Deployed<T> {
    /// Whether the deployment waits for a second approver (see the answer's `request`).
    pub waiting: bool,
    /// The answer.
    pub answer: T,
}

/// A module to put at a version in the target environment.
pub(super) struct Step {
    pub(super) module: String,
    pub(super) to: i64,
    pub(super) expected: Option<i64>,
    /// Version `to`, when the caller has read it already.
    pub(super) version: Option<StoredVersion>,
}

/// A checked plan: what changes, the deployments that make it so, and the roles declared
/// by the version each step puts in place (whether it runs already or not).
pub(super) struct Plan {
    pub(super) changes: Vec<PlannedChange>,
    pub(super) items: Vec<NewDeployment>,
    pub(super) declared: Vec<Declared>,
}

/// Checks `steps` into `env` for `caller`: permissions, separation of duties, what runs now
/// against what each step expects, and the dependencies of the environment as it would be
/// afterwards. Changes nothing.
pub(super) async fn plan(
    state: &AppState,
    caller: &Caller,
    env: &str,
    steps: Vec<Step>,
    kind: DeployKind,
    source_env: Option<&str>,
    settings: Option<&PlanSettings>,
) -> Result<Plan, LifecycleError> {
    let env_id = environment(state, env)?;
    state.authz.fresh(None).await?;
    let running = state.store.running().await?;
    let now_in_env: HashMap<&str, &Running> = running
        .iter()
        .filter(|r| r.environment == env)
        .map(|r| (r.module.as_str(), r))
        .collect();
    let mut versions: HashMap<String, StoredVersion> = HashMap::new();
    let mut models: HashMap<String, Module> = HashMap::new();
    let mut changes = Vec::new();
    let mut items = Vec::new();
    let mut declared = Vec::new();
    let mut seen = HashSet::new();
    for s in steps {
        if !seen.insert(s.module.clone()) {
            return Err(
                Error::invalid("modules", format!("`{}` is listed twice", s.module)).into(),
            );
        }
        require_module(
            state,
            caller,
            &s.module,
            env_id,
            LifecycleOp::Deploy,
            "deploying",
        )
        .await?;
        let v = match s.version {
            Some(v) => v,
            None => state
                .store
                .module_version(&s.module, Some(s.to))
                .await?
                .ok_or_else(|| {
                    Error::invalid(
                        "version",
                        format!("module `{}` has no version {}", s.module, s.to),
                    )
                })?,
        };
        let sealed = super::sealed::check_deployable(state, &s.module, s.to, env).await?;
        let current = now_in_env.get(s.module.as_str()).map(|r| r.number);
        let expected = policy::expected_running(env, &s.module, current, s.expected)?;
        let model = model_of(&v.model)?;
        declared.push(Declared {
            module: s.module.clone(),
            roles: model.roles.clone(),
        });
        if current == Some(s.to) {
            continue;
        }
        policy::check_author(
            environment_rule(state, env_id, |e| e.separation_of_duties),
            env,
            &s.module,
            s.to,
            &v.info.author_id,
            &caller.user.id.to_string(),
        )?;
        // A sealed version's model is never diffed, nor one replaced by it.
        let sealed = sealed
            || match current {
                Some(n) => state.store.sealed_version(&s.module, n).await?.is_some(),
                None => false,
            };
        let open = !sealed
            && level(state, caller, On::Module(&s.module), env_id).await?
                >= level_needed(LifecycleOp::ReadSource);
        let structural = match (open, current) {
            (true, Some(n)) => {
                let old = version_or_404(state, &s.module, Some(n)).await?;
                let d = rampart_model::diff(&model_of(&old.model)?, &model, ("", ""), ("", ""));
                Some(serde_json::to_value(&d.elements).unwrap_or_default())
            }
            (true, None) => Some(serde_json::json!({})),
            (false, _) => None,
        };
        let pending = super::findings::pending_of(state, &s.module, s.to)
            .await?
            .into_iter()
            .map(|key| match open {
                true => key,
                false => key.split(' ').next().unwrap_or_default().to_owned(),
            })
            .collect();
        changes.push(PlannedChange {
            module: s.module.clone(),
            from: current,
            to: s.to,
            changes: structural,
            pending_findings: pending,
        });
        items.push(NewDeployment {
            environment: env.to_owned(),
            module: s.module.clone(),
            number: s.to,
            expected,
            kind,
            source_env: source_env.map(str::to_owned),
        });
        models.insert(s.module.clone(), model);
        versions.insert(s.module, v);
    }
    // The environment as it would be: every module touched, and every module depending on
    // one touched, must find what it uses.
    let mut now = BTreeMap::new();
    for r in now_in_env.values() {
        now.insert(r.module.clone(), running_placed(r)?);
    }
    let mut changed = BTreeMap::new();
    for (m, v) in &versions {
        changed.insert(
            m.clone(),
            Placed {
                module: m.clone(),
                environment: env.to_owned(),
                number: v.info.number,
                surface: surface_of(&v.surface)?,
                uses: uses_of(&v.uses)?,
            },
        );
    }
    let refused: Vec<BreakingChange> = compat::broken_after(env, &now, &changed)
        .into_iter()
        .map(breaking_change)
        .collect();
    let missing = plans::missing_properties(state, env, &models, settings).await?;
    if !missing.is_empty() {
        return Err(LifecycleError::MissingProperties {
            environment: env.to_owned(),
            missing,
        });
    }
    if !refused.is_empty() {
        let refused = as_seen(state, caller, refused).await?;
        return Err(LifecycleError::BrokenReferences {
            environment: env.to_owned(),
            breaking: refused,
        });
    }
    Ok(Plan {
        changes,
        items,
        declared,
    })
}

/// How a set of steps is to be applied.
pub(super) struct How<'a> {
    pub(super) kind: DeployKind,
    /// For staging: where from.
    pub(super) source_env: Option<&'a str>,
    pub(super) dry_run: bool,
    /// The deployment plan being run, with its settings.
    pub(super) from_plan: Option<(i64, &'a PlanSettings)>,
    /// Delete the data of attributes and entities the deployed models no longer have.
    pub(super) drop_data: bool,
}

impl How<'_> {
    /// A `kind` of deployment by hand: from no other environment, for no plan.
    fn by_hand(kind: DeployKind, dry_run: bool) -> Self {
        How {
            kind,
            source_env: None,
            dry_run,
            from_plan: None,
            drop_data: false,
        }
    }
}

/// Plans `steps` and, unless `dry_run`, applies them, or records them for a second approver
/// where the environment requires one.
pub(super) async fn apply(
    state: &AppState,
    caller: &Caller,
    env: &str,
    steps: Vec<Step>,
    how: How<'_>,
) -> Result<Deployed<DeployResponse>, LifecycleError> {
    let How {
        kind,
        source_env,
        dry_run,
        from_plan,
        drop_data,
    } = how;
    let Plan {
        changes,
        items,
        declared,
    } = plan(
        state,
        caller,
        env,
        steps,
        kind,
        source_env,
        from_plan.map(|(_, s)| s),
    )
    .await?;
    let answer = |waiting, status: &str, applied, request, deployments, roles| Deployed {
        waiting,
        answer: DeployResponse {
            environment: env.to_owned(),
            status: status.to_owned(),
            changes,
            applied,
            request,
            deployments,
            roles,
        },
    };
    if dry_run {
        let status = if items.is_empty() && from_plan.is_none() {
            "nothing-to-do"
        } else {
            "plan"
        };
        return Ok(answer(false, status, false, None, Vec::new(), None));
    }
    step_up(state, caller, env).await?;
    if items.is_empty() && from_plan.is_none() {
        // The modules run these versions already; what they declare may still be missing
        // (its creation failed after an earlier deployment), and is created now; so are
        // their databases' tables and columns (a migration interrupted before), and data
        // the deployment says to drop.
        let modules = crate::apps::migrate::modules_after(state, env, &items).await?;
        crate::apps::migrate::prepare(state, caller, env, &modules, drop_data).await?;
        let roles = roles::create_declared(state, caller, env, &declared).await;
        return Ok(answer(
            false,
            "nothing-to-do",
            false,
            None,
            Vec::new(),
            roles,
        ));
    }
    if environment_rule(state, environment(state, env)?, |e| e.second_approver) {
        let id = state
            .store
            .request_deployment(
                &caller.audit,
                state.clock.now(),
                env,
                &items,
                from_plan.map(|(id, _)| id),
            )
            .await?;
        return Ok(answer(
            true,
            "pending-approval",
            false,
            Some(id),
            Vec::new(),
            None,
        ));
    }
    // The application databases first: a model they cannot take refuses the deployment
    // before anything is deployed.
    let modules = crate::apps::migrate::modules_after(state, env, &items).await?;
    crate::apps::migrate::prepare(state, caller, env, &modules, drop_data).await?;
    let done = state
        .store
        .deploy(
            &caller.audit,
            state.clock.now(),
            &items,
            None,
            from_plan.map(|(id, _)| id),
        )
        .await?;
    state.apps.invalidate(env);
    let roles = roles::create_declared(state, caller, env, &declared).await;
    Ok(answer(
        false,
        "applied",
        true,
        None,
        done.into_iter().map(deployment_wire).collect(),
        roles,
    ))
}

/// Refuses a deployment to a step-up environment (`[mfa] step_up_environments`) when the
/// caller must verify a second factor again first; checked after the permission checks of
/// [`plan`], before anything is requested or applied.
pub(super) async fn step_up(state: &AppState, caller: &Caller, env: &str) -> Result<(), Error> {
    if crate::identity::mfa::steps_up_environment(state, env) {
        let what = format!("deploying to {env}");
        crate::identity::mfa::require_step_up(state, caller, &what).await?;
    }
    Ok(())
}

/// Deploys module versions (or an application's tag) to environment `env`, all or none, or
/// previews the plan.
pub async fn deploy(
    state: &AppState,
    caller: &Caller,
    env: &str,
    req: DeployRequest,
) -> Result<Deployed<DeployResponse>, LifecycleError> {
    let modules = match (&req.application, &req.tag, req.modules.is_empty()) {
        (Some(app), Some(tag), true) => {
            state.authz.fresh(None).await?;
            visible_application(state, caller, app).await?;
            let found = state.store.application_tags(app, Some(tag)).await?;
            let Some(t) = found.into_iter().next() else {
                return Err(Error::invalid(
                    "tag",
                    format!("application `{app}` has no tag `{tag}`"),
                )
                .into());
            };
            t.modules
                .into_iter()
                .map(|(module, version)| DeployItem {
                    module,
                    version,
                    expected: None,
                })
                .collect()
        }
        (None, None, false) => req.modules,
        _ => {
            return Err(Error::invalid(
                "modules",
                "give `modules`, or `application` and `tag`, not both",
            )
            .into())
        }
    };
    if modules.is_empty() || modules.len() > 500 {
        return Err(Error::invalid("modules", "give 1 to 500 modules").into());
    }
    let steps: Vec<Step> = modules
        .into_iter()
        .map(
            |DeployItem {
                 module,
                 version,
                 expected,
             }| Step {
                module,
                to: version,
                expected,
                version: None,
            },
        )
        .collect();
    // Deleting stored data is beyond deploying: it needs `full` on every module deployed.
    if req.drop_data {
        let env_id = environment(state, env)?;
        state.authz.fresh(None).await?;
        for step in &steps {
            super::require(
                state,
                caller,
                On::Module(&step.module),
                env_id,
                Level::Full,
                "deleting the stored data the model dropped",
            )
            .await?;
        }
    }
    let how = How {
        drop_data: req.drop_data,
        ..How::by_hand(DeployKind::Deploy, req.dry_run)
    };
    apply(state, caller, env, steps, how).await
}

/// Promotes what runs in the environment before `env` (or in `from`) into `env`.
pub async fn stage(
    state: &AppState,
    caller: &Caller,
    env: &str,
    req: StageRequest,
) -> Result<Deployed<DeployResponse>, LifecycleError> {
    let target = environment(state, env)?;
    let from = match req.from {
        Some(f) => {
            environment(state, &f)?;
            f
        }
        None => {
            let names = environments(state);
            let i = usize::from(target.0);
            if i == 0 {
                return Err(Error::invalid(
                    "from",
                    format!("{env} is the first environment; name `from`"),
                )
                .into());
            }
            names[i - 1].clone()
        }
    };
    if from == env {
        return Err(Error::invalid("from", "an environment cannot be staged into itself").into());
    }
    state.authz.fresh(None).await?;
    if let Some(list) = &req.modules {
        // Permission first: whether a module runs in `from` is for those who may stage it.
        for m in list {
            require_module(state, caller, m, target, LifecycleOp::Deploy, "staging").await?;
        }
    }
    let running = state.store.running().await?;
    let source: Vec<&Running> = running.iter().filter(|r| r.environment == from).collect();
    let steps: Vec<Step> = match &req.modules {
        Some(list) => {
            let mut out = Vec::new();
            for m in list {
                let r = source.iter().find(|r| &r.module == m).ok_or_else(|| {
                    Error::invalid("modules", format!("`{m}` does not run in {from}"))
                })?;
                out.push(Step {
                    module: m.clone(),
                    to: r.number,
                    expected: None,
                    version: None,
                });
            }
            out
        }
        None => {
            // Everything the caller may know of: modules they hold no level on are neither
            // staged nor named.
            let mut out = Vec::new();
            for r in source {
                if highest_level(state, caller, On::Module(&r.module)).await? >= Level::Reference {
                    out.push(Step {
                        module: r.module.clone(),
                        to: r.number,
                        expected: None,
                        version: None,
                    });
                }
            }
            out
        }
    };
    if steps.is_empty() {
        return Err(
            Error::invalid("from", format!("nothing that you may stage runs in {from}")).into(),
        );
    }
    let how = How {
        source_env: Some(&from),
        ..How::by_hand(DeployKind::Stage, req.dry_run)
    };
    apply(state, caller, env, steps, how).await
}

/// Puts a module back to the version it ran before its last deployment in `env`.
pub async fn rollback(
    state: &AppState,
    caller: &Caller,
    env: &str,
    req: RollbackRequest,
) -> Result<Deployed<DeployResponse>, LifecycleError> {
    let env_id = environment(state, env)?;
    state.authz.fresh(None).await?;
    require_module(
        state,
        caller,
        &req.module,
        env_id,
        LifecycleOp::Deploy,
        "rolling back",
    )
    .await?;
    let last = state
        .store
        .deployments(env, Some(&req.module), None, 1)
        .await?
        .into_iter()
        .next();
    let Some(last) = last else {
        return Err(
            Error::Conflict(format!("`{}` was never deployed in {env}", req.module)).into(),
        );
    };
    let Some(previous) = last.previous else {
        return Err(Error::Conflict(format!(
            "`{}` ran nothing in {env} before version {}; there is nothing to roll back to",
            req.module, last.number
        ))
        .into());
    };
    let steps = vec![Step {
        module: req.module,
        to: previous,
        expected: Some(last.number),
        version: None,
    }];
    let how = How::by_hand(DeployKind::Rollback, req.dry_run);
    apply(state, caller, env, steps, how).await
}
