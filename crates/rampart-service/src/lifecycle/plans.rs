//! Deployment plans: applications at tagged versions with the settings one
//! environment needs (site properties, integration endpoints, secret references), previewed,
//! run, retried when aborted, and copied to the next environment.
//!
//! | operation | level needed |
//! |---|---|
//! | create a plan, copy one to another environment | `deploy` on each of its modules there |
//! | see a plan, its preview, the settings in force | `reference` on each of its applications there |
//! | run a plan | what deploying its modules needs (`deploy`, and the environment's policies) |
//!
//! A run goes through the same checks as any deployment (see the parent module) with the
//! plan's settings taken into account, and writes those settings in the transaction that
//! applies the deployments. A run refused because of the environment's state (a broken
//! reference, a missing property, a module changed meanwhile) aborts the plan with the
//! reason; it may run again once that is fixed. A finished plan is not run twice: copy it.

use std::collections::{BTreeMap, HashMap};

use rampart_api::{
    DeployResponse, PlanApplicationWire, PlanCopyRequest, PlanCreateRequest, PlanPage,
    PlanRunRequest, PlanSettingsWire, PlanWire, PlannedChange, PlansQuery, SettingChange,
    SettingWire,
};
use rampart_authz::it::{EnvId, Level};
use rampart_authz::policy::{level_needed, LifecycleOp};
use rampart_core::Error;
use rampart_deploy::settings::required_properties;
use rampart_model::Module;
use rampart_store::{
    DeployKind, NewPlan, PlanApplication, PlanSettings, Setting, SettingKind, StoredPlan,
    StoredVersion,
};

use super::deploy::{apply, plan, Deployed, How, Step};
use super::{
    environment, environments, level, model_of, require, visible_application, LifecycleError, On,
    Visibility,
};
use crate::caller::Caller;
use crate::state::AppState;

/// How many applications a plan may hold.
const MAX_APPLICATIONS: usize = 50;

fn settings_of(w: PlanSettingsWire) -> PlanSettings {
    PlanSettings {
        properties: w.properties,
        endpoints: w.endpoints,
        secrets: w.secrets,
    }
}

fn settings_wire(s: PlanSettings) -> PlanSettingsWire {
    PlanSettingsWire {
        properties: s.properties,
        endpoints: s.endpoints,
        secrets: s.secrets,
    }
}

fn wire(p: StoredPlan) -> PlanWire {
    PlanWire {
        id: p.id,
        environment: p.environment,
        status: p.status,
        applications: p
            .applications
            .into_iter()
            .map(|a| PlanApplicationWire {
                application: a.application,
                tag: a.tag,
            })
            .collect(),
        settings: settings_wire(p.settings),
        notes: p.notes,
        based_on: p.based_on,
        creator: p.creator,
        created_at: p.created_at,
        updated_at: p.updated_at,
        runs: p.runs,
        request: p.request,
        error: p.error,
        preview: None,
        run: None,
    }
}

/// The module versions a plan's applications name, with their models: (module → version).
struct Resolved {
    versions: BTreeMap<String, StoredVersion>,
    models: BTreeMap<String, Module>,
}

impl Resolved {
    /// The steps deploying every version, handing the versions read over to the plan.
    fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.versions)
            .into_iter()
            .map(|(m, v)| Step {
                module: m,
                to: v.info.number,
                expected: None,
                version: Some(v),
            })
            .collect()
    }
}

/// The plan's applications at their tags. An application that does not exist, or that the
/// caller holds no level on, gets the same answer (404), before anything about its tags.
async fn resolve(
    state: &AppState,
    caller: &Caller,
    apps: &[PlanApplication],
) -> Result<Resolved, Error> {
    if apps.is_empty() || apps.len() > MAX_APPLICATIONS {
        return Err(Error::invalid(
            "applications",
            format!("give 1 to {MAX_APPLICATIONS} applications"),
        ));
    }
    let mut versions = BTreeMap::new();
    let mut models = BTreeMap::new();
    for (i, a) in apps.iter().enumerate() {
        if apps[..i].iter().any(|b| b.application == a.application) {
            return Err(Error::invalid(
                "applications",
                format!("`{}` is listed twice", a.application),
            ));
        }
        visible_application(state, caller, &a.application).await?;
        let tag = state
            .store
            .application_tags(&a.application, Some(&a.tag))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::invalid(
                    "applications",
                    format!("application `{}` has no tag `{}`", a.application, a.tag),
                )
            })?;
        for (module, number) in tag.modules {
            let v = state
                .store
                .module_version(&module, Some(number))
                .await?
                .ok_or_else(|| {
                    Error::Internal(format!("tagged version {module} v{number} is missing"))
                })?;
            models.insert(module.clone(), model_of(&v.model)?);
            versions.insert(module, v);
        }
    }
    Ok(Resolved { versions, models })
}

/// Checks that every setting names a property or integration of a module in the plan and
/// has the right shape: a value of the property's type, an http(s) URL, a secret reference;
/// and that the endpoints and secrets stay where the operator allows (`[integrations]`):
/// an endpoint written as an address is public or in `internal_networks`, a secret is read
/// from the environment's `secrets_dir` or a variable with its `secret_env_prefix`.
fn check_settings(
    state: &AppState,
    environment: &str,
    settings: &PlanSettings,
    models: &BTreeMap<String, Module>,
) -> Result<(), Error> {
    rampart_deploy::settings::check(
        &settings.properties,
        &settings.endpoints,
        &settings.secrets,
        models,
    )?;
    for (key, endpoint) in &settings.endpoints {
        let url = url::Url::parse(endpoint)
            .map_err(|_| Error::invalid("settings.endpoints", format!("`{key}` is not a URL")))?;
        state.outbound.reaches(&url).map_err(|why| {
            Error::invalid(
                "settings.endpoints",
                format!("`{key}` cannot be called: {why}"),
            )
        })?;
    }
    for (key, reference) in &settings.secrets {
        crate::apps::integrations::secrets::check(&state.config, environment, reference)
            .map_err(|why| Error::invalid("settings.secrets", format!("`{key}`: {why}")))?;
    }
    Ok(())
}

/// Those of `required` that neither `settings` nor the settings `in_force` give.
fn unset(
    required: Vec<String>,
    settings: Option<&PlanSettings>,
    in_force: &[Setting],
) -> Vec<String> {
    let set: Vec<(&str, &str)> = in_force
        .iter()
        .filter(|s| s.kind == SettingKind::Property)
        .map(|s| (s.module.as_str(), s.name.as_str()))
        .collect();
    rampart_deploy::settings::unset(required, settings.map(|s| &s.properties), &set)
}

/// The site properties without a default (`module.Property`) of `models` that neither
/// `settings` nor the settings in force in `env` give; reads those only when needed.
pub(super) async fn missing_properties<'m>(
    state: &AppState,
    env: &str,
    models: impl IntoIterator<Item = (&'m String, &'m Module)>,
    settings: Option<&PlanSettings>,
) -> Result<Vec<String>, Error> {
    let required = required_properties(models);
    if required.is_empty() {
        return Ok(required);
    }
    let in_force = state.store.environment_settings(env).await?;
    Ok(unset(required, settings, &in_force))
}

/// What running a plan now would do: the preview of [`PlanView`].
pub struct Preview {
    /// Module versions that would change.
    pub changes: Vec<PlannedChange>,
    /// Settings that would change.
    pub settings: Vec<SettingChange>,
    /// Site properties without a default that nothing gives a value.
    pub missing: Vec<String>,
    /// What would run but not work (an integration without its secret reference).
    pub warnings: Vec<String>,
    /// Why running it now would be refused, if it would.
    pub refused: Option<LifecycleError>,
}

/// A plan as a use case answers it: the plan, and what running it now would do or what
/// running it did.
pub struct PlanView {
    /// The plan (its `preview` and `run` are in the fields beside it).
    pub plan: PlanWire,
    /// What running it now would do.
    pub preview: Option<Preview>,
    /// What running it did.
    pub run: Option<DeployResponse>,
}

impl PlanView {
    fn of(p: StoredPlan) -> Self {
        Self {
            plan: wire(p),
            preview: None,
            run: None,
        }
    }
}

async fn preview(
    state: &AppState,
    caller: &Caller,
    p: &StoredPlan,
    mut resolved: Resolved,
) -> Result<Preview, Error> {
    let in_force = state.store.environment_settings(&p.environment).await?;
    let current = |kind: SettingKind, key: &str| {
        in_force
            .iter()
            .find(|s| s.kind == kind && key.split_once('.') == Some((&s.module, &s.name)))
            .map(|s| s.value.clone())
    };
    let mut settings = Vec::new();
    for (kind, key, value) in p.settings.entries() {
        let from = current(kind, key);
        if from.as_ref() == Some(&value) {
            continue;
        }
        let (module, name) = key.split_once('.').unwrap_or((key, ""));
        settings.push(SettingChange {
            module: module.to_owned(),
            kind: kind.as_str().to_owned(),
            name: name.to_owned(),
            from,
            to: value,
        });
    }
    let missing = unset(
        required_properties(&resolved.models),
        Some(&p.settings),
        &in_force,
    );
    let mut warnings = Vec::new();
    for (module, m) in &resolved.models {
        for g in m.integrations.iter().filter(|g| g.credentials.is_some()) {
            let key = format!("{module}.{}", g.name);
            if !p.settings.secrets.contains_key(&key)
                && current(SettingKind::Secret, &key).is_none()
            {
                warnings.push(format!(
                    "integration `{key}` has no secret reference in {}: its calls will fail until one is given",
                    p.environment
                ));
            }
        }
    }
    let (changes, refused) = match plan(
        state,
        caller,
        &p.environment,
        resolved.take_steps(),
        DeployKind::Deploy,
        None,
        Some(&p.settings),
    )
    .await
    {
        Ok(planned) => (planned.changes, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    Ok(Preview {
        changes,
        settings,
        missing,
        warnings,
        refused,
    })
}

/// Refuses unless the caller holds `deploy` on every module of the plan in `env`.
async fn require_deploy(
    state: &AppState,
    caller: &Caller,
    env: EnvId,
    resolved: &Resolved,
) -> Result<(), Error> {
    for module in resolved.versions.keys() {
        require(
            state,
            caller,
            On::Module(module),
            env,
            level_needed(LifecycleOp::Deploy),
            "planning a deployment",
        )
        .await?;
    }
    Ok(())
}

/// The caller's `reference` or better on applications, by (environment, application),
/// each computed once per request however many plans name it.
type Seen = HashMap<(u16, String), bool>;

/// Whether the caller may see `p`: `reference` on each of its applications there.
async fn may_see(
    state: &AppState,
    caller: &Caller,
    p: &StoredPlan,
    seen: &mut Seen,
) -> Result<bool, Error> {
    let Some(env) = state.authz.view().it.environment(&p.environment) else {
        // An environment removed since: only administrators keep seeing its plans.
        return Ok(caller.user.is_admin);
    };
    for a in &p.applications {
        let key = (env.0, a.application.clone());
        let ok = match seen.get(&key) {
            Some(ok) => *ok,
            None => {
                let ok = level(state, caller, On::Application(&a.application), env).await?
                    >= Level::Reference;
                seen.insert(key, ok);
                ok
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn visible_plan(state: &AppState, caller: &Caller, id: i64) -> Result<StoredPlan, Error> {
    let p = state.store.plan(id).await?.ok_or(Error::NotFound {
        what: "deployment plan",
    })?;
    if !may_see(state, caller, &p, &mut Seen::new()).await? {
        // The same answer as a plan that does not exist.
        return Err(Error::NotFound {
            what: "deployment plan",
        });
    }
    Ok(p)
}

async fn store_plan(state: &AppState, caller: &Caller, new: NewPlan) -> Result<PlanView, Error> {
    let env = environment(state, &new.environment)?;
    state.authz.fresh(None).await?;
    let resolved = resolve(state, caller, &new.applications).await?;
    require_deploy(state, caller, env, &resolved).await?;
    check_settings(state, &new.environment, &new.settings, &resolved.models)?;
    if new.notes.len() > 10_000 {
        return Err(Error::invalid("notes", "at most 10,000 bytes"));
    }
    let id = state
        .store
        .create_plan(&caller.audit, state.clock.now(), &new)
        .await?;
    let stored = visible_plan(state, caller, id).await?;
    previewed(state, caller, stored, resolved).await
}

/// Creates a deployment plan (a draft) for an environment, with its preview.
pub async fn create_plan(
    state: &AppState,
    caller: &Caller,
    req: PlanCreateRequest,
) -> Result<PlanView, Error> {
    let new = NewPlan {
        environment: req.environment,
        applications: req
            .applications
            .into_iter()
            .map(|a| PlanApplication {
                application: a.application,
                tag: a.tag,
            })
            .collect(),
        settings: settings_of(req.settings),
        notes: req.notes,
        based_on: None,
    };
    store_plan(state, caller, new).await
}

/// A plan's statuses, as stored and filtered on.
pub const PLAN_STATUSES: [&str; 4] = ["draft", "waiting", "finished", "aborted"];

/// The deployment plans the caller may see, newest first, a page at a time: `limit` plans
/// read (200 by default), those the caller may not see left out; the cursor is the last
/// plan id read, ids only grow, so pages never repeat or skip.
pub async fn plans(state: &AppState, caller: &Caller, q: PlansQuery) -> Result<PlanPage, Error> {
    if let Some(e) = &q.environment {
        environment(state, e)?;
    }
    if let Some(s) = &q.status {
        if !PLAN_STATUSES.contains(&s.as_str()) {
            return Err(Error::invalid(
                "status",
                "one of draft, waiting, finished, aborted",
            ));
        }
    }
    let limit = q.limit.unwrap_or(200);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "1 to 200"));
    }
    let before = crate::paging::number_cursor(q.cursor.as_deref())?;
    let mut rows = state
        .store
        .plans(
            q.environment.as_deref(),
            q.status.as_deref(),
            before,
            limit + 1,
        )
        .await?;
    let next_cursor = if rows.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last().map(|p| p.id.to_string())
    } else {
        None
    };
    let mut items = Vec::with_capacity(rows.len());
    let mut seen = Seen::new();
    for p in rows {
        if may_see(state, caller, &p, &mut seen).await? {
            items.push(wire(p));
        }
    }
    Ok(PlanPage { items, next_cursor })
}

/// Deployment plan `id`, with what running it now would do.
pub async fn get_plan(state: &AppState, caller: &Caller, id: i64) -> Result<PlanView, Error> {
    let p = visible_plan(state, caller, id).await?;
    let resolved = resolve(state, caller, &p.applications).await?;
    previewed(state, caller, p, resolved).await
}

/// Plan `p`'s view with what running it now would do.
async fn previewed(
    state: &AppState,
    caller: &Caller,
    p: StoredPlan,
    resolved: Resolved,
) -> Result<PlanView, Error> {
    let preview = preview(state, caller, &p, resolved).await?;
    let mut view = PlanView::of(p);
    view.preview = Some(preview);
    Ok(view)
}

/// Runs deployment plan `id`: deploys its applications' tagged versions and writes its
/// settings in one transaction (or waits for a second approver where the environment needs
/// one). A run refused by the environment's state aborts the plan with the reason.
pub async fn run_plan(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: PlanRunRequest,
) -> Result<Deployed<PlanView>, LifecycleError> {
    let p = visible_plan(state, caller, id).await?;
    // Permission first: what became of the plan is for those who may run it.
    let env = environment(state, &p.environment)?;
    let mut resolved = resolve(state, caller, &p.applications).await?;
    require_deploy(state, caller, env, &resolved).await?;
    match p.status.as_str() {
        "finished" => {
            return Err(Error::Conflict(format!(
                "deployment plan {id} has already finished; copy it to deploy it again"
            ))
            .into())
        }
        "waiting" => {
            return Err(Error::Conflict(format!(
                "deployment plan {id} waits for the approval of deployment request {}",
                p.request.unwrap_or_default()
            ))
            .into())
        }
        _ => {}
    }
    if req.dry_run {
        // The preview is the dry run: what it would refuse is the answer, else its changes.
        let mut preview = preview(state, caller, &p, resolved).await?;
        if let Some(refused) = preview.refused.take() {
            return Err(refused);
        }
        let run = DeployResponse {
            environment: p.environment.clone(),
            status: "plan".to_owned(),
            changes: preview.changes.clone(),
            applied: false,
            request: None,
            deployments: Vec::new(),
            roles: None,
        };
        let mut view = PlanView::of(p);
        view.preview = Some(preview);
        view.run = Some(run);
        return Ok(Deployed {
            waiting: false,
            answer: view,
        });
    }
    let result = apply(
        state,
        caller,
        &p.environment,
        resolved.take_steps(),
        How {
            kind: DeployKind::Deploy,
            source_env: None,
            dry_run: false,
            from_plan: Some((id, &p.settings)),
            drop_data: false,
        },
    )
    .await;
    let Deployed { waiting, answer } = match result {
        Ok(deployed) => deployed,
        Err(e) => {
            // Refused by the environment's state: the plan records why and may run again.
            if e.is_conflict() {
                state
                    .store
                    .abort_plan(&caller.audit, state.clock.now(), id, &e.to_string())
                    .await?;
            }
            return Err(e);
        }
    };
    let mut view = PlanView::of(visible_plan(state, caller, id).await?);
    view.run = Some(answer);
    Ok(Deployed {
        waiting,
        answer: view,
    })
}

/// Copies deployment plan `id` for another environment (the next one by default): the same
/// applications at the same tags, with settings for that environment.
pub async fn copy_plan(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: PlanCopyRequest,
) -> Result<PlanView, Error> {
    let p = visible_plan(state, caller, id).await?;
    let target = match req.environment {
        Some(e) => e,
        None => {
            let names = environments(state);
            let next = names
                .iter()
                .position(|n| *n == p.environment)
                .and_then(|i| names.get(i + 1))
                .cloned();
            next.ok_or_else(|| {
                Error::invalid(
                    "environment",
                    format!("no environment comes after {}; name one", p.environment),
                )
            })?
        }
    };
    let new = NewPlan {
        environment: target,
        applications: p.applications,
        settings: settings_of(req.settings),
        notes: req.notes.unwrap_or(p.notes),
        based_on: Some(id),
    };
    store_plan(state, caller, new).await
}

/// The settings in force in environment `env` (secret references, never secrets), for the
/// modules the caller may see there.
pub async fn settings(
    state: &AppState,
    caller: &Caller,
    env: &str,
) -> Result<Vec<SettingWire>, Error> {
    let mut visible = Visibility::new(state, caller, environment(state, env)?);
    let mut out = Vec::new();
    for s in state.store.environment_settings(env).await? {
        if visible.may_see(&s.module).await? {
            out.push(SettingWire {
                module: s.module,
                kind: s.kind.as_str().to_owned(),
                name: s.name,
                value: s.value,
                plan: s.plan,
            });
        }
    }
    Ok(out)
}
