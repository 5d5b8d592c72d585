//! `/api/v1/deployment-plans`: applications at tagged versions with the settings one
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

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_authz::it::{EnvId, Level};
use rampart_core::Error;
use rampart_model::format::PropertyType;
use rampart_model::validate::{is_secret_reference, is_service_url};
use rampart_model::Module;
use rampart_store::{
    DeployKind, NewPlan, PlanApplication, PlanSettings, Setting, SettingKind, StoredPlan,
    StoredVersion,
};

use super::{
    apply, environment, environments, level, model_of, plan, require, visible_application, How, On,
    Step, Visibility,
};
use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    DeployResponse, PlanApplicationWire, PlanCopyRequest, PlanCreateRequest, PlanPreview,
    PlanRunRequest, PlanSettingsWire, PlanWire, PlansQuery, SettingChange, SettingWire,
};
use rampart_service::state::AppState;

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
    auth: &Authenticated,
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
        visible_application(state, auth, &a.application).await?;
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
/// has the right shape: a value of the property's type, an http(s) URL, a secret reference.
fn check_settings(settings: &PlanSettings, models: &BTreeMap<String, Module>) -> Result<(), Error> {
    let split = |field: &str, key: &str| -> Result<(String, &Module), Error> {
        let (module, name) = key.split_once('.').ok_or_else(|| {
            Error::invalid(
                format!("settings.{field}"),
                format!("`{key}` is not `module.Name`"),
            )
        })?;
        let m = models.get(module).ok_or_else(|| {
            Error::invalid(
                format!("settings.{field}"),
                format!("`{key}`: module `{module}` is not in the plan's applications"),
            )
        })?;
        Ok((name.to_owned(), m))
    };
    for (key, value) in &settings.properties {
        let (name, m) = split("properties", key)?;
        let p = m
            .properties
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::invalid(
                    "settings.properties",
                    format!(
                        "`{key}`: module `{}` declares no site property `{name}`",
                        m.module
                    ),
                )
            })?;
        if !p.ty.admits(value) {
            return Err(Error::invalid(
                "settings.properties",
                format!("`{key}` is {}, not {value}", p.ty.as_str()),
            ));
        }
        if p.ty == PropertyType::Text && value.as_str().is_some_and(|t| t.len() > 10_000) {
            return Err(Error::invalid(
                "settings.properties",
                format!("`{key}` is longer than 10,000 bytes"),
            ));
        }
    }
    for (key, url) in &settings.endpoints {
        let (name, m) = split("endpoints", key)?;
        if !m.integrations.iter().any(|g| g.name == name) {
            return Err(Error::invalid(
                "settings.endpoints",
                format!(
                    "`{key}`: module `{}` declares no integration `{name}`",
                    m.module
                ),
            ));
        }
        if !is_service_url(url) {
            return Err(Error::invalid(
                "settings.endpoints",
                format!(
                    "`{key}` is not an http(s) URL with a host (credentials never go in the URL)"
                ),
            ));
        }
    }
    for (key, reference) in &settings.secrets {
        let (name, m) = split("secrets", key)?;
        let g = m
            .integrations
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| {
                Error::invalid(
                    "settings.secrets",
                    format!(
                        "`{key}`: module `{}` declares no integration `{name}`",
                        m.module
                    ),
                )
            })?;
        if g.credentials.is_none() {
            return Err(Error::invalid(
                "settings.secrets",
                format!("`{key}`: integration `{name}` declares no credentials"),
            ));
        }
        // Never echo the value: someone may have pasted the secret itself.
        if !is_secret_reference(reference) {
            return Err(Error::invalid(
                "settings.secrets",
                format!(
                    "`{key}` must be a reference to a secret (`env:NAME`, `file:/path` or \
                     `vault:path`), never the secret itself"
                ),
            ));
        }
    }
    Ok(())
}

/// The site properties without a default of `models`, as `module.Property`.
fn required_properties<'m>(
    models: impl IntoIterator<Item = (&'m String, &'m Module)>,
) -> Vec<String> {
    models
        .into_iter()
        .flat_map(|(module, m)| {
            m.properties
                .iter()
                .filter(|p| p.default.is_none())
                .map(move |p| format!("{module}.{}", p.name))
        })
        .collect()
}

/// Those of `required` that neither `settings` nor the settings `in_force` give.
fn unset(
    mut required: Vec<String>,
    settings: Option<&PlanSettings>,
    in_force: &[Setting],
) -> Vec<String> {
    required.retain(|key| {
        let given = settings.is_some_and(|s| s.properties.contains_key(key));
        let set = in_force.iter().any(|s| {
            s.kind == SettingKind::Property && key.split_once('.') == Some((&s.module, &s.name))
        });
        !given && !set
    });
    required
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

async fn preview(
    state: &AppState,
    auth: &Authenticated,
    p: &StoredPlan,
    mut resolved: Resolved,
) -> Result<PlanPreview, Error> {
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
        auth,
        &p.environment,
        resolved.take_steps(),
        DeployKind::Deploy,
        None,
        Some(&p.settings),
    )
    .await
    {
        Ok(planned) => (planned.changes, None),
        Err(e) => (Vec::new(), Some(*e.0)),
    };
    Ok(PlanPreview {
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
    auth: &Authenticated,
    env: EnvId,
    resolved: &Resolved,
) -> Result<(), Error> {
    for module in resolved.versions.keys() {
        require(
            state,
            auth,
            On::Module(module),
            env,
            Level::Deploy,
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
    auth: &Authenticated,
    p: &StoredPlan,
    seen: &mut Seen,
) -> Result<bool, Error> {
    let Some(env) = state.authz.view().it.environment(&p.environment) else {
        // An environment removed since: only administrators keep seeing its plans.
        return Ok(auth.user.is_admin);
    };
    for a in &p.applications {
        let key = (env.0, a.application.clone());
        let ok = match seen.get(&key) {
            Some(ok) => *ok,
            None => {
                let ok = level(state, auth, On::Application(&a.application), env).await?
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

async fn visible_plan(
    state: &AppState,
    auth: &Authenticated,
    id: i64,
) -> Result<StoredPlan, Error> {
    let p = state.store.plan(id).await?.ok_or(Error::NotFound {
        what: "deployment plan",
    })?;
    if !may_see(state, auth, &p, &mut Seen::new()).await? {
        // The same answer as a plan that does not exist.
        return Err(Error::NotFound {
            what: "deployment plan",
        });
    }
    Ok(p)
}

async fn store_plan(
    state: &AppState,
    auth: &Authenticated,
    new: NewPlan,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
    let env = environment(state, &new.environment)?;
    state.authz.fresh(None).await?;
    let resolved = resolve(state, auth, &new.applications).await?;
    require_deploy(state, auth, env, &resolved).await?;
    check_settings(&new.settings, &resolved.models)?;
    if new.notes.len() > 10_000 {
        return Err(Error::invalid("notes", "at most 10,000 bytes").into());
    }
    let id = state
        .store
        .create_plan(&auth.audit(state), state.clock.now(), &new)
        .await?;
    let stored = visible_plan(state, auth, id).await?;
    let preview = preview(state, auth, &stored, resolved).await?;
    let mut w = wire(stored);
    w.preview = Some(preview);
    Ok((StatusCode::CREATED, Json(w)))
}

/// Create a deployment plan (a draft) for an environment, with its preview.
#[utoipa::path(
    post, path = "/api/v1/deployment-plans", tag = "deployment-plans",
    request_body = PlanCreateRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The draft, with what running it now would do", body = PlanWire),
        (status = 403, description = "The caller lacks `deploy` on a module of the plan", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "An application that does not exist, or that the caller holds no level on; or a module of it they hold no level on", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment, application or tag; a setting that names nothing or has the wrong shape", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<PlanCreateRequest>,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
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
    store_plan(&state, &auth, new).await
}

/// Deployment plans the caller may see, newest first.
#[utoipa::path(
    get, path = "/api/v1/deployment-plans", tag = "deployment-plans",
    params(PlansQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Plans, newest first (at most 200)", body = [PlanWire]),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn plans(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<PlansQuery>,
) -> Result<Json<Vec<PlanWire>>, ApiError> {
    if let Some(e) = &q.environment {
        environment(&state, e)?;
    }
    let mut out = Vec::new();
    let mut seen = Seen::new();
    for p in state.store.plans(q.environment.as_deref(), 200).await? {
        if may_see(&state, &auth, &p, &mut seen).await? {
            out.push(wire(p));
        }
    }
    Ok(Json(out))
}

/// One deployment plan, with what running it now would do.
#[utoipa::path(
    get, path = "/api/v1/deployment-plans/{id}", tag = "deployment-plans",
    params(("id" = i64, Path, description = "The plan")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan and its preview", body = PlanWire),
        (status = 404, description = "No such plan, or one the caller may not see (they lack `reference` on one of its applications in its environment)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<PlanWire>, ApiError> {
    let p = visible_plan(&state, &auth, id).await?;
    let resolved = resolve(&state, &auth, &p.applications).await?;
    let preview = preview(&state, &auth, &p, resolved).await?;
    let mut w = wire(p);
    w.preview = Some(preview);
    Ok(Json(w))
}

/// Run a plan: deploy its applications' tagged versions and write its settings, in one
/// transaction (or wait for a second approver where the environment needs one).
#[utoipa::path(
    post, path = "/api/v1/deployment-plans/{id}/run", tag = "deployment-plans",
    params(("id" = i64, Path, description = "The plan")),
    request_body = PlanRunRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Applied (or, with `dry_run`, what would be)", body = PlanWire),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = PlanWire),
        (status = 403, description = "The caller lacks `deploy`, or separation of duties", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or one the caller may not see (they lack `reference` on one of its applications in its environment)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Finished or waiting already; or refused by the environment's state (the plan is then aborted with the reason and may run again)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn run_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<PlanRunRequest>,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
    let p = visible_plan(&state, &auth, id).await?;
    // Permission first: what became of the plan is for those who may run it.
    let env = environment(&state, &p.environment)?;
    let mut resolved = resolve(&state, &auth, &p.applications).await?;
    require_deploy(&state, &auth, env, &resolved).await?;
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
        let preview = preview(&state, &auth, &p, resolved).await?;
        if let Some(problem) = preview.refused.clone() {
            return Err(problem.into());
        }
        let run = DeployResponse {
            environment: p.environment.clone(),
            status: "plan".to_owned(),
            changes: preview.changes.clone(),
            applied: false,
            request: None,
            deployments: Vec::new(),
        };
        let mut w = wire(p);
        w.preview = Some(preview);
        w.run = Some(run);
        return Ok((StatusCode::OK, Json(w)));
    }
    let result = apply(
        &state,
        &auth,
        &p.environment,
        resolved.take_steps(),
        How {
            kind: DeployKind::Deploy,
            source_env: None,
            dry_run: false,
            from_plan: Some((id, &p.settings)),
        },
    )
    .await;
    let (status, run) = match result {
        Ok((status, Json(run))) => (status, run),
        Err(e) => {
            // Refused by the environment's state: the plan records why and may run again.
            if e.0.status == StatusCode::CONFLICT.as_u16() {
                state
                    .store
                    .abort_plan(&auth.audit(&state), state.clock.now(), id, &e.0.detail)
                    .await?;
            }
            return Err(e);
        }
    };
    let mut w = wire(visible_plan(&state, &auth, id).await?);
    w.run = Some(run);
    Ok((status, Json(w)))
}

/// Copy a plan for another environment (the next one by default): the same applications at
/// the same tags, with settings for that environment.
#[utoipa::path(
    post, path = "/api/v1/deployment-plans/{id}/copy", tag = "deployment-plans",
    params(("id" = i64, Path, description = "The plan to copy")),
    request_body = PlanCopyRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The new draft, with its preview", body = PlanWire),
        (status = 403, description = "The caller lacks `deploy` there", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or one the caller may not see (they lack `reference` on one of its applications in its environment)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No environment after the plan's, or a bad setting", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn copy_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<PlanCopyRequest>,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
    let p = visible_plan(&state, &auth, id).await?;
    let target = match req.environment {
        Some(e) => e,
        None => {
            let names = environments(&state);
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
    store_plan(&state, &auth, new).await
}

/// The settings in force in an environment (secret references, never secrets), for the
/// modules the caller may see there.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/settings", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Settings, by module", body = [SettingWire]),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
) -> Result<Json<Vec<SettingWire>>, ApiError> {
    let mut visible = Visibility::new(&state, &auth, environment(&state, &env)?);
    let mut out = Vec::new();
    for s in state.store.environment_settings(&env).await? {
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
    Ok(Json(out))
}
