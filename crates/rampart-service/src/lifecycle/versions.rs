//! Reading and deleting module versions (list, source, public surface, diff) and what the
//! environments hold (their order, what runs there, their deployment history). Reading a
//! source or a diff is recorded in the `access` stream first.

use rampart_api::{
    DeploymentPage, DiffQuery, EnvironmentWire, HistoryQuery, RunningWire, SurfaceQuery,
    VersionSourceResponse, VersionWire,
};
use rampart_authz::policy::LifecycleOp;
use rampart_core::Error;
use rampart_model::{ModuleDiff, Surface};

use super::{
    deployment_wire, environment, model_of, require_module, surface_of, version_or_404,
    visible_module, wire, Visibility, AUTHORING,
};
use crate::caller::Caller;
use crate::state::AppState;

/// A version number from a path: 1, 2, 3…
pub(super) fn version_param(raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| Error::invalid("version", "a version number: 1, 2, 3…"))
}

/// Records a read of a module's source or diff (`object`) in the `access` stream, under the
/// reader's name and the module's application, before anything is answered: whoever opened
/// a module's source can be named. The source is withheld when the read cannot be recorded.
async fn record_read(
    state: &AppState,
    caller: &Caller,
    module: &str,
    object: String,
) -> Result<(), Error> {
    let application = state
        .authz
        .view()
        .module_application(module)
        .map(str::to_owned);
    let event = rampart_store::NewEvent::access(
        &caller.audit,
        state.clock.now(),
        application.as_deref(),
        &object,
        "GET",
        true,
    );
    state.audit.append(event).await?;
    Ok(())
}

/// The versions of module `name`, newest first.
pub async fn versions(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<Vec<VersionWire>, Error> {
    require_authoring(
        state,
        caller,
        name,
        LifecycleOp::SeeSurface,
        "listing versions",
    )
    .await?;
    let list = state.store.module_versions(name).await?;
    Ok(list.into_iter().map(wire).collect())
}

/// Version `number` (as given in the path) of module `name`, with its source.
pub async fn version(
    state: &AppState,
    caller: &Caller,
    name: &str,
    number: &str,
) -> Result<VersionSourceResponse, Error> {
    let number = version_param(number)?;
    require_authoring(
        state,
        caller,
        name,
        LifecycleOp::ReadSource,
        "reading the source",
    )
    .await?;
    let v = version_or_404(state, name, Some(number)).await?;
    let object = format!("module:{name}@{number}/source");
    super::sealed::refuse_sealed(state, caller, name, &[number], &object).await?;
    record_read(
        state,
        caller,
        name,
        format!("module:{name}@{number}/source"),
    )
    .await?;
    Ok(VersionSourceResponse {
        version: wire(v.info),
        source: v.source,
    })
}

/// Deletes version `number` (as given in the path) of module `name`, which must run nowhere.
pub async fn delete_version(
    state: &AppState,
    caller: &Caller,
    name: &str,
    number: &str,
) -> Result<(), Error> {
    let number = version_param(number)?;
    require_authoring(
        state,
        caller,
        name,
        LifecycleOp::Publish,
        "deleting a version",
    )
    .await?;
    state
        .store
        .delete_version(&caller.audit, state.clock.now(), name, number)
        .await
}

/// The public surface of a version of module `name` (the newest by default).
pub async fn surface(
    state: &AppState,
    caller: &Caller,
    name: &str,
    q: SurfaceQuery,
) -> Result<Surface, Error> {
    require_authoring(
        state,
        caller,
        name,
        LifecycleOp::SeeSurface,
        "seeing public elements",
    )
    .await?;
    let v = version_or_404(state, name, q.version).await?;
    surface_of(&v.surface)
}

/// The structured and line diff between two versions of module `name`.
pub async fn diff(
    state: &AppState,
    caller: &Caller,
    name: &str,
    q: DiffQuery,
) -> Result<ModuleDiff, Error> {
    require_authoring(
        state,
        caller,
        name,
        LifecycleOp::ReadSource,
        "reading a diff",
    )
    .await?;
    let old = version_or_404(state, name, Some(q.from)).await?;
    let new = version_or_404(state, name, Some(q.to)).await?;
    let object = format!("module:{name}@{}..{}/diff", q.from, q.to);
    super::sealed::refuse_sealed(state, caller, name, &[q.from, q.to], &object).await?;
    let d = rampart_model::diff(
        &model_of(&old.model)?,
        &model_of(&new.model)?,
        (&format!("{name} v{}", q.from), &old.source),
        (&format!("{name} v{}", q.to), &new.source),
    );
    record_read(
        state,
        caller,
        name,
        format!("module:{name}@{}..{}/diff", q.from, q.to),
    )
    .await?;
    Ok(d)
}

/// The environments in promotion order, with their policies.
pub fn list_environments(state: &AppState) -> Vec<EnvironmentWire> {
    let view = state.authz.view();
    view.environments()
        .iter()
        .enumerate()
        .map(|(i, e)| EnvironmentWire {
            name: e.name.clone(),
            position: i,
            separation_of_duties: e.separation_of_duties,
            second_approver: e.second_approver,
        })
        .collect()
}

/// What runs in environment `env`, of the modules the caller may see there.
pub async fn running(
    state: &AppState,
    caller: &Caller,
    env: &str,
) -> Result<Vec<RunningWire>, Error> {
    let mut visible = Visibility::new(state, caller, environment(state, env)?);
    let mut out = Vec::new();
    for r in state
        .store
        .running()
        .await?
        .into_iter()
        .filter(|r| r.environment == env)
    {
        if visible.may_see(&r.module).await? {
            out.push(RunningWire {
                module: r.module,
                version: r.number,
            });
        }
    }
    Ok(out)
}

/// A page of the deployment history of environment `env`, newest first, of the modules the
/// caller may see there, with the cursor of the next (older) page. The cursor is the id of
/// the page's last deployment read (shown or hidden from the caller), so every deployment
/// appears on exactly one page however many are added meanwhile.
pub async fn history(
    state: &AppState,
    caller: &Caller,
    env: &str,
    q: HistoryQuery,
) -> Result<DeploymentPage, Error> {
    let mut visible = Visibility::new(state, caller, environment(state, env)?);
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "1 to 1,000"));
    }
    let before = crate::paging::number_cursor(q.cursor.as_deref())?;
    if let Some(m) = &q.module {
        state.authz.fresh(None).await?;
        visible_module(state, caller, m).await?;
    }
    let mut rows = state
        .store
        .deployments(env, q.module.as_deref(), before, limit + 1)
        .await?;
    let next_cursor = if rows.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last().map(|d| d.id.to_string())
    } else {
        None
    };
    let mut items = Vec::with_capacity(rows.len());
    for d in rows {
        if visible.may_see(&d.module).await? {
            items.push(deployment_wire(d));
        }
    }
    Ok(DeploymentPage { items, next_cursor })
}

/// Makes the index current, then checks that module `name` exists and that the caller holds
/// the level `op` needs on it in the authoring environment (`doing` names the operation in
/// a refusal).
async fn require_authoring(
    state: &AppState,
    caller: &Caller,
    name: &str,
    op: LifecycleOp,
    doing: &str,
) -> Result<(), Error> {
    state.authz.fresh(None).await?;
    require_module(state, caller, name, AUTHORING, op, doing).await
}

/// The modules the caller may know of (`reference` on them in some environment), with their
/// applications, by name.
pub async fn modules(state: &AppState, caller: &Caller) -> Result<Vec<(String, String)>, Error> {
    state.authz.fresh(None).await?;
    let all = state.authz.view().module_list();
    let mut out = Vec::with_capacity(all.len());
    for (name, application) in all {
        match visible_module(state, caller, &name).await {
            Ok(()) => out.push((name, application)),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Whether the caller may read module `name`'s sources and diffs (what [`version`] and
/// [`diff`] check first), so that a page offers only what will answer.
pub async fn may_read_source(state: &AppState, caller: &Caller, name: &str) -> Result<bool, Error> {
    match require_authoring(
        state,
        caller,
        name,
        LifecycleOp::ReadSource,
        "reading the source",
    )
    .await
    {
        Ok(()) => Ok(true),
        Err(Error::Forbidden(_) | Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the caller holds `deploy` on module `name` in environment `env` (what deploying,
/// staging, rolling back and approving check first), so that a page offers only what may
/// answer.
pub async fn may_deploy(
    state: &AppState,
    caller: &Caller,
    name: &str,
    env: &str,
) -> Result<bool, Error> {
    let env = environment(state, env)?;
    state.authz.fresh(None).await?;
    match require_module(state, caller, name, env, LifecycleOp::Deploy, "deploying").await {
        Ok(()) => Ok(true),
        Err(Error::Forbidden(_) | Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
