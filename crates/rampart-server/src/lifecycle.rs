//! `/api/v1/modules` and `/api/v1/environments`: the module lifecycle under IT permissions.
//!
//! | operation | level needed | where |
//! |---|---|---|
//! | see a module's public surface, list its versions | `reference` | authoring environment |
//! | read a version's source, diff two versions | `open` | authoring environment |
//! | publish a version, delete one that runs nowhere | `change` | authoring environment |
//! | publish a change that breaks deployed dependants | `full` | authoring environment |
//! | use another module's public elements | `reference` on it | authoring environment |
//! | deploy, stage into, roll back | `deploy` | the target environment |
//!
//! The authoring environment is the first of the promotion order (`development` by
//! default): versions are written there, then deployed and staged onward. Platform
//! administrators hold `full` everywhere; end users hold nothing.
//!
//! **Permission first.** Every route checks the caller's level before it reads or reveals
//! anything about the object (whether it runs, was deployed, is approved, whose it is). A
//! caller below `reference` on a module or application in every environment may not know it
//! exists: they get exactly the answer an object that does not exist gets (404, `not-found`),
//! and 403 is only for callers who may know it. A deployment request is known to its
//! requester and to those who may see each of its modules in its environment (as the listing
//! shows it). Staging everything from an environment stages the modules the caller may know.
//!
//! **Module names.** A publish under a name nobody registered registers it for the
//! application the source declares, which the caller must hold `change` on, unless the name
//! is reserved for another application. A name registered (or reserved) for another
//! application, or a module of the same application the caller holds no level on, is refused
//! with 409 without naming the owner. Administrators reserve, transfer and release names
//! ([`names`]).
//!
//! Deployment checks the environment as it would be afterwards: every module deployed or
//! depending on one deployed must find each module it depends on running there, with each
//! public element it uses still present and compatible, and every site property without a
//! default given a value; otherwise nothing is applied. Each environment's policies
//! (production's by default) may forbid the author of a version to deploy it (separation of
//! duties) and make deployments wait for a second approver. Deployment plans
//! ([`plans`]) deploy applications at tagged versions with their per-environment settings.

pub mod names;
pub mod plans;

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_authz::it::{AppId, EnvId, ItUserId, Level, ModuleId};
use rampart_core::{Error, Provider};
use rampart_model::format::Dependency;
use rampart_model::{Kind, Module, Surface};
use rampart_store::{
    AuthzOp, DeployKind, DeploymentInfo, NewDeployment, NewVersion, PlanSettings, Published,
    Running, StoredVersion, VersionInfo,
};

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    BreakingChange, DeployItem, DeployRequest, DeployResponse, DeploymentRequestWire,
    DeploymentWire, DiffQuery, EnvironmentWire, HistoryQuery, PlannedChange, PublishRequest,
    PublishResponse, RejectRequest, RequestItem, RequestsQuery, RollbackRequest, RunningWire,
    StageRequest, SurfaceQuery, TagRequest, TagWire, VersionSourceResponse, VersionWire,
};
use rampart_service::state::AppState;

/// What a permission is checked on.
#[derive(Clone, Copy)]
enum On<'a> {
    /// A registered module.
    Module(&'a str),
    /// An application (for a module not registered yet, and for tags).
    Application(&'a str),
}

/// The caller's IT level on `on` in `environment`.
async fn level(
    state: &AppState,
    auth: &Authenticated,
    on: On<'_>,
    environment: EnvId,
) -> Result<Level, Error> {
    if auth.user.is_admin {
        return Ok(Level::Full);
    }
    if auth.user.provider != Provider::It {
        return Ok(Level::None);
    }
    {
        let view = state.authz.view();
        if let Some(num) = view.user_num(auth.user.id) {
            let user = ItUserId(num);
            return Ok(match on {
                On::Module(name) => match view.module(name) {
                    Some(m) => view.it.effective_level(user, ModuleId(m), environment),
                    None => Level::None,
                },
                On::Application(app) => match view.app(app) {
                    Some(a) => {
                        view.it
                            .application_level(user, AppId(a.0), environment)
                            .level
                    }
                    None => Level::None,
                },
            });
        }
    }
    // A user the index has no number for holds only their default roles (read only then).
    let defaults = state.store.it_roles_of(auth.user.id).await?;
    Ok(state
        .authz
        .view()
        .it
        .default_roles_level(defaults.iter().map(String::as_str), environment)
        .map_or(Level::None, |(level, _)| level))
}

/// Which modules a listing may show the caller (`reference` in the environment), each
/// module's level computed once per request however many rows name it.
struct Visibility<'a> {
    state: &'a AppState,
    auth: &'a Authenticated,
    environment: EnvId,
    seen: HashMap<String, bool>,
}

impl<'a> Visibility<'a> {
    fn new(state: &'a AppState, auth: &'a Authenticated, environment: EnvId) -> Self {
        Self {
            state,
            auth,
            environment,
            seen: HashMap::new(),
        }
    }

    async fn may_see(&mut self, module: &str) -> Result<bool, Error> {
        if let Some(v) = self.seen.get(module) {
            return Ok(*v);
        }
        let v = level(self.state, self.auth, On::Module(module), self.environment).await?
            >= Level::Reference;
        self.seen.insert(module.to_owned(), v);
        Ok(v)
    }
}

/// Refuses unless the caller holds at least `needed` on `module` in `environment`.
async fn require(
    state: &AppState,
    auth: &Authenticated,
    on: On<'_>,
    environment: EnvId,
    needed: Level,
    what: &str,
) -> Result<(), Error> {
    let (name, kind) = match &on {
        On::Module(m) => (m.to_string(), "module"),
        On::Application(a) => (a.to_string(), "application"),
    };
    let held = level(state, auth, on, environment).await?;
    if held >= needed {
        return Ok(());
    }
    if highest_level(state, auth, on).await? < Level::Reference {
        return Err(hidden(on));
    }
    let env = state
        .authz
        .view()
        .it
        .environments()
        .get(usize::from(environment.0))
        .cloned()
        .unwrap_or_default();
    Err(Error::Forbidden(format!(
        "{what} needs `{needed}` on {kind} `{name}` in {env}; you hold `{held}`"
    )))
}

/// The caller's highest level on `on` in any environment: below `reference` everywhere,
/// they may not know it exists.
async fn highest_level(state: &AppState, auth: &Authenticated, on: On<'_>) -> Result<Level, Error> {
    let count = state.authz.view().it.environments().len();
    let mut best = Level::None;
    for i in 0..count {
        let Ok(env) = u16::try_from(i) else { break };
        best = best.max(level(state, auth, on, EnvId(env)).await?);
        if best >= Level::Reference {
            break;
        }
    }
    Ok(best)
}

/// The answer about an object the caller may not know exists: the very answer a missing
/// one gets.
fn hidden(on: On<'_>) -> Error {
    match on {
        On::Module(_) => Error::NotFound { what: "module" },
        On::Application(_) => Error::NotFound {
            what: "application",
        },
    }
}

/// Refuses, as if it did not exist, a module that does not exist or that the caller holds
/// no level on in any environment.
pub(crate) async fn visible_module(
    state: &AppState,
    auth: &Authenticated,
    name: &str,
) -> Result<(), Error> {
    known_module(state, name)?;
    if highest_level(state, auth, On::Module(name)).await? < Level::Reference {
        return Err(hidden(On::Module(name)));
    }
    Ok(())
}

/// Refuses, as if it did not exist, an application that does not exist or that the caller
/// holds no level on in any environment.
pub(crate) async fn visible_application(
    state: &AppState,
    auth: &Authenticated,
    app: &str,
) -> Result<(), Error> {
    let on = On::Application(app);
    if state.authz.view().app(app).is_none()
        || highest_level(state, auth, on).await? < Level::Reference
    {
        return Err(hidden(on));
    }
    Ok(())
}

/// The environment names, in promotion order.
fn environments(state: &AppState) -> Vec<String> {
    state.authz.view().it.environments().to_vec()
}

/// The authoring environment: the first of the order.
const AUTHORING: EnvId = EnvId(0);

fn environment(state: &AppState, name: &str) -> Result<EnvId, Error> {
    rampart_service::authz::environment(&state.authz.view(), name, "environment")
}

/// Whether the author of a version may not deploy it in `env`.
fn separation_of_duties(state: &AppState, env: EnvId) -> bool {
    state
        .authz
        .view()
        .environment_def(env)
        .is_some_and(|e| e.separation_of_duties)
}

/// Whether deployments to `env` wait for a second approver.
fn second_approver(state: &AppState, env: EnvId) -> bool {
    state
        .authz
        .view()
        .environment_def(env)
        .is_some_and(|e| e.second_approver)
}

fn wire(v: VersionInfo) -> VersionWire {
    VersionWire {
        module: v.module,
        version: v.number,
        digest: v.digest,
        author_id: v.author_id,
        author: v.author_name,
        message: v.message,
        created_at: v.created_at,
        deployed_in: v.deployed_in,
    }
}

fn deployment_wire(d: DeploymentInfo) -> DeploymentWire {
    DeploymentWire {
        id: d.id,
        environment: d.environment,
        module: d.module,
        version: d.number,
        previous: d.previous,
        kind: d.kind,
        from: d.source_env,
        actor: d.actor_name,
        created_at: d.created_at,
    }
}

fn surface_of(json: &str) -> Result<Surface, Error> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored surface: {e}")))
}

fn uses_of(json: &str) -> Result<Vec<Dependency>, Error> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored dependencies: {e}")))
}

fn model_of(json: &str) -> Result<Module, Error> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored model: {e}")))
}

const KINDS: [Kind; 5] = [
    Kind::Role,
    Kind::Entity,
    Kind::Query,
    Kind::Screen,
    Kind::Action,
];

fn used(d: &Dependency, kind: Kind) -> &[String] {
    match kind {
        Kind::Role => &d.roles,
        Kind::Entity => &d.entities,
        Kind::Query => &d.queries,
        Kind::Screen => &d.screens,
        Kind::Action => &d.actions,
    }
}

fn version_param(raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| Error::invalid("version", "a version number: 1, 2, 3…"))
}

async fn version_or_404(
    state: &AppState,
    module: &str,
    number: Option<i64>,
) -> Result<StoredVersion, Error> {
    state
        .store
        .module_version(module, number)
        .await?
        .ok_or(Error::NotFound {
            what: "module version",
        })
}

/// A module name the caller may not know exists gets the same answer as one that does not.
fn known_module(state: &AppState, name: &str) -> Result<(), Error> {
    match state.authz.view().module(name) {
        Some(_) => Ok(()),
        None => Err(Error::NotFound { what: "module" }),
    }
}

/// The refusal of a name that is registered or reserved for another application (or is a
/// module of this one the caller holds no level on): it names neither the owner nor
/// anything about the module.
fn name_taken(name: &str, app: &str) -> Error {
    Error::Conflict(format!(
        "the module name `{name}` is not available to application `{app}`: it belongs to \
         another application, or is reserved for one; an administrator can reserve, transfer \
         or release module names"
    ))
}

/// Publish a version of a module.
#[utoipa::path(
    post, path = "/api/v1/modules/{name}/versions", tag = "modules",
    params(("name" = String, Path, description = "The module")),
    request_body = PublishRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Published", body = PublishResponse),
        (status = 200, description = "The same source was already published; nothing written", body = PublishResponse),
        (status = 403, description = "The caller lacks `change` (or `reference` on a dependency, or `full` to force)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller holds no level on the module (or there is none) nor on the declared application (or there is none)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It breaks deployed modules (`breaking-change`), another version came first, or the name belongs to (or is reserved for) another application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The source has errors, each with its line and column (`invalid-module`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Json(req): Json<PublishRequest>,
) -> Result<(StatusCode, Json<PublishResponse>), ApiError> {
    if req.message.trim().is_empty() || req.message.chars().count() > 2000 {
        return Err(Error::invalid(
            "message",
            "say what changed and why, in 1 to 2,000 characters",
        )
        .into());
    }
    if req.parent.is_some_and(|p| p < 0) {
        return Err(Error::invalid("parent", "a version number, or 0 for the first").into());
    }
    let module = rampart_model::parse(&format!("{name} (request body `source`)"), &req.source)
        .map_err(|d| {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-module",
                "Invalid module",
                format!(
                    "the module has {} error(s); the first: {}",
                    d.0.len(),
                    d.0[0]
                ),
            );
            p.field = Some("source".into());
            p.errors = Some(d.0);
            ApiError::from(p)
        })?;
    if module.module != name {
        return Err(Error::invalid(
            "source",
            format!(
                "the source declares module `{}`, but the path names `{name}`",
                module.module
            ),
        )
        .into());
    }
    state.authz.fresh(None).await?;
    let dev = AUTHORING;
    let registered_app = {
        let view = state.authz.view();
        view.module(&name).map(|m| {
            view.it
                .module_app(ModuleId(m))
                .and_then(|a| view.app_name(rampart_authz::roles::AppNum(a.0)))
                .unwrap_or_default()
                .to_owned()
        })
    };
    // Whether the caller may know the module: otherwise the name is handled as a new one
    // for them, and nothing tells them whose it is.
    let known = match &registered_app {
        Some(_) => highest_level(&state, &auth, On::Module(&name)).await? >= Level::Reference,
        None => false,
    };
    match &registered_app {
        Some(app) if known => {
            if *app != module.application {
                return Err(Error::invalid(
                    "source",
                    format!(
                        "module `{name}` belongs to application `{app}`, not `{}`",
                        module.application
                    ),
                )
                .into());
            }
            require(
                &state,
                &auth,
                On::Module(&name),
                dev,
                Level::Change,
                "publishing",
            )
            .await?
        }
        _ => {
            // A registration under the declared application: the caller must know it and
            // hold `change` on it, and the name must not be another application's.
            visible_application(&state, &auth, &module.application).await?;
            require(
                &state,
                &auth,
                On::Application(&module.application),
                dev,
                Level::Change,
                "publishing a new module",
            )
            .await?;
            let reserved = state.store.module_name_reservation(&name).await?;
            if registered_app.is_some() || reserved.is_some_and(|app| app != module.application) {
                return Err(name_taken(&name, &module.application).into());
            }
        }
    }
    // Each dependency: registered, published, the caller may reference it, and every element
    // used is public in its newest version.
    let mut missing = Vec::new();
    for d in &module.dependencies {
        if visible_module(&state, &auth, &d.module).await.is_err() {
            return Err(Error::invalid(
                "source",
                format!("depends on module `{}`, which does not exist", d.module),
            )
            .into());
        }
        require(
            &state,
            &auth,
            On::Module(&d.module),
            dev,
            Level::Reference,
            "using another module's elements",
        )
        .await?;
        let Some(latest) = state.store.module_version(&d.module, None).await? else {
            return Err(Error::invalid(
                "source",
                format!(
                    "depends on module `{}`, which has no published version",
                    d.module
                ),
            )
            .into());
        };
        let surface = surface_of(&latest.surface)?;
        for kind in KINDS {
            for element in used(d, kind) {
                if !surface.has(kind, element) {
                    missing.push(format!("{} `{element}` of `{}`", kind.plural(), d.module));
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(Error::invalid(
            "source",
            format!(
                "these are not public elements of the newest versions: {}",
                missing.join(", ")
            ),
        )
        .into());
    }
    let surface = Surface::of(&module);
    let running = state.store.running().await?;
    let breaking = breaks_of_new_surface(&running, &name, &surface)?;
    if !breaking.is_empty() {
        if !req.force {
            let breaking = as_seen(&state, &auth, breaking).await?;
            let mut p = Problem::new(
                StatusCode::CONFLICT,
                "breaking-change",
                "Breaking change",
                format!(
                    "this version breaks {} deployed module(s): {}; publish with `force` (needs `full` on `{name}`) or keep the elements compatible",
                    breaking.len(),
                    summary(&breaking)
                ),
            );
            p.breaking = Some(breaking);
            return Err(p.into());
        }
        require(
            &state,
            &auth,
            On::Module(&name),
            dev,
            Level::Full,
            "forcing a breaking change",
        )
        .await?;
    }
    let ctx = auth.audit(&state);
    let now = state.clock.now();
    if registered_app.is_none() {
        let revision = state
            .store
            .authz_write(
                &ctx,
                now,
                &[AuthzOp::RegisterModule {
                    name: name.clone(),
                    app: module.application.clone(),
                }],
            )
            .await?;
        state.authz.after_write(revision).await?;
    }
    let published = state
        .store
        .publish_version(
            &ctx,
            now,
            NewVersion {
                module: name.clone(),
                digest: rampart_model::digest(&req.source),
                source: req.source,
                model: to_json(&module),
                surface: to_json(&surface),
                uses: to_json(&module.dependencies),
                message: req.message,
                parent: req.parent,
                forced: breaking
                    .iter()
                    .map(|b| {
                        format!(
                            "{} {} in {}: {} {} ({})",
                            b.module, b.version, b.environment, b.kind, b.element, b.reason
                        )
                    })
                    .collect(),
            },
        )
        .await?;
    let (status, info, created) = match published {
        Published::Created(v) => (StatusCode::CREATED, v, true),
        Published::Unchanged(v) => (StatusCode::OK, v, false),
    };
    Ok((
        status,
        Json(PublishResponse {
            version: wire(info),
            created,
            forced: if created { breaking } else { Vec::new() },
        }),
    ))
}

/// The stored JSON form of a model, surface or dependency list.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn summary(b: &[BreakingChange]) -> String {
    b.iter()
        .take(5)
        .map(|b| {
            format!(
                "`{}` {} in {} uses {} `{}` ({})",
                b.module, b.version, b.environment, b.kind, b.element, b.reason
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The deployed dependants of `module` that its `new` surface would break, per environment,
/// judged against the surface of the version of `module` running there.
fn breaks_of_new_surface(
    running: &[Running],
    module: &str,
    new: &Surface,
) -> Result<Vec<BreakingChange>, Error> {
    let mut out = Vec::new();
    for current in running.iter().filter(|r| r.module == module) {
        let old = surface_of(&current.surface)?;
        for dependant in running
            .iter()
            .filter(|r| r.environment == current.environment)
        {
            for d in uses_of(&dependant.uses)?
                .iter()
                .filter(|d| d.module == module)
            {
                for kind in KINDS {
                    for (element, reason) in old.breaks(new, kind, used(d, kind)) {
                        out.push(BreakingChange {
                            module: dependant.module.clone(),
                            version: dependant.number,
                            environment: dependant.environment.clone(),
                            depends_on: module.to_owned(),
                            kind: kind.plural().to_owned(),
                            element,
                            reason,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The versions of a module, newest first.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/versions", tag = "modules",
    params(("name" = String, Path, description = "The module")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Versions, newest first, with where each runs", body = [VersionWire]),
        (status = 403, description = "The caller lacks `reference`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn versions(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<VersionWire>>, ApiError> {
    state.authz.fresh(None).await?;
    known_module(&state, &name)?;
    require(
        &state,
        &auth,
        On::Module(&name),
        AUTHORING,
        Level::Reference,
        "listing versions",
    )
    .await?;
    let list = state.store.module_versions(&name).await?;
    Ok(Json(list.into_iter().map(wire).collect()))
}

/// One version with its source.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/versions/{version}", tag = "modules",
    params(("name" = String, Path, description = "The module"), ("version" = i64, Path, description = "The version number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The version and its source", body = VersionSourceResponse),
        (status = 403, description = "The caller lacks `open`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`version` is not a version number", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((name, number)): Path<(String, String)>,
) -> Result<Json<VersionSourceResponse>, ApiError> {
    let number = version_param(&number)?;
    state.authz.fresh(None).await?;
    known_module(&state, &name)?;
    require(
        &state,
        &auth,
        On::Module(&name),
        AUTHORING,
        Level::Open,
        "reading the source",
    )
    .await?;
    let v = version_or_404(&state, &name, Some(number)).await?;
    record_read(
        &state,
        &auth,
        &name,
        format!("module:{name}@{number}/source"),
    )
    .await?;
    Ok(Json(VersionSourceResponse {
        version: wire(v.info),
        source: v.source,
    }))
}

/// Delete a version that runs nowhere.
#[utoipa::path(
    delete, path = "/api/v1/modules/{name}/versions/{version}", tag = "modules",
    params(("name" = String, Path, description = "The module"), ("version" = i64, Path, description = "The version number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller lacks `change`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version is deployed somewhere", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`version` is not a version number", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((name, number)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let number = version_param(&number)?;
    state.authz.fresh(None).await?;
    known_module(&state, &name)?;
    require(
        &state,
        &auth,
        On::Module(&name),
        AUTHORING,
        Level::Change,
        "deleting a version",
    )
    .await?;
    state
        .store
        .delete_version(&auth.audit(&state), state.clock.now(), &name, number)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public surface of a version: what `reference` shows.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/surface", tag = "modules",
    params(("name" = String, Path, description = "The module"), SurfaceQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Public elements: names, signatures, descriptions; never the source", body = rampart_model::Surface),
        (status = 403, description = "The caller lacks `reference`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn surface(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Query(q): Query<SurfaceQuery>,
) -> Result<Json<Surface>, ApiError> {
    state.authz.fresh(None).await?;
    known_module(&state, &name)?;
    require(
        &state,
        &auth,
        On::Module(&name),
        AUTHORING,
        Level::Reference,
        "seeing public elements",
    )
    .await?;
    let v = version_or_404(&state, &name, q.version).await?;
    Ok(Json(surface_of(&v.surface)?))
}

/// The structured and line diff between two versions.
#[utoipa::path(
    get, path = "/api/v1/modules/{name}/diff", tag = "modules",
    params(("name" = String, Path, description = "The module"), DiffQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "What changed", body = rampart_model::ModuleDiff),
        (status = 403, description = "The caller lacks `open`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment; or no such version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn diff(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<rampart_model::ModuleDiff>, ApiError> {
    state.authz.fresh(None).await?;
    known_module(&state, &name)?;
    require(
        &state,
        &auth,
        On::Module(&name),
        AUTHORING,
        Level::Open,
        "reading a diff",
    )
    .await?;
    let old = version_or_404(&state, &name, Some(q.from)).await?;
    let new = version_or_404(&state, &name, Some(q.to)).await?;
    let d = rampart_model::diff(
        &model_of(&old.model)?,
        &model_of(&new.model)?,
        (&format!("{name} v{}", q.from), &old.source),
        (&format!("{name} v{}", q.to), &new.source),
    );
    record_read(
        &state,
        &auth,
        &name,
        format!("module:{name}@{}..{}/diff", q.from, q.to),
    )
    .await?;
    Ok(Json(d))
}

/// The environments in promotion order.
#[utoipa::path(
    get, path = "/api/v1/environments", tag = "environments",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Environments, in promotion order", body = [EnvironmentWire]))
)]
pub async fn list_environments(
    State(state): State<AppState>,
    _auth: Authenticated,
) -> Result<Json<Vec<EnvironmentWire>>, ApiError> {
    let view = state.authz.view();
    Ok(Json(
        view.environments()
            .iter()
            .enumerate()
            .map(|(i, e)| EnvironmentWire {
                name: e.name.clone(),
                position: i,
                separation_of_duties: e.separation_of_duties,
                second_approver: e.second_approver,
            })
            .collect(),
    ))
}

/// What runs in an environment.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/modules", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Modules and the versions running", body = [RunningWire]),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn running(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
) -> Result<Json<Vec<RunningWire>>, ApiError> {
    let mut visible = Visibility::new(&state, &auth, environment(&state, &env)?);
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
    Ok(Json(out))
}

/// The deployment history of an environment, newest first.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/deployments", tag = "environments",
    params(("env" = String, Path, description = "The environment"), HistoryQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Deployments, newest first (modules the caller may reference)", body = [DeploymentWire]),
        (status = 404, description = "`module` names no module, or one the caller holds no level on", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment, or a bad limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<DeploymentWire>>, ApiError> {
    let mut visible = Visibility::new(&state, &auth, environment(&state, &env)?);
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "1 to 1,000").into());
    }
    if let Some(m) = &q.module {
        state.authz.fresh(None).await?;
        visible_module(&state, &auth, m).await?;
    }
    let mut out = Vec::new();
    for d in state
        .store
        .deployments(&env, q.module.as_deref(), limit)
        .await?
    {
        if visible.may_see(&d.module).await? {
            out.push(deployment_wire(d));
        }
    }
    Ok(Json(out))
}

/// A module to put at a version in the target environment.
struct Step {
    module: String,
    to: i64,
    expected: Option<i64>,
    /// Version `to`, when the caller has read it already.
    version: Option<StoredVersion>,
}

/// A checked plan: what changes, and the deployments that make it so.
struct Plan {
    changes: Vec<PlannedChange>,
    items: Vec<NewDeployment>,
}

/// Checks `steps` into `env` for `auth`: permissions, separation of duties, what runs now
/// against what each step expects, and the dependencies of the environment as it would be
/// afterwards. Changes nothing.
async fn plan(
    state: &AppState,
    auth: &Authenticated,
    env: &str,
    steps: Vec<Step>,
    kind: DeployKind,
    source_env: Option<&str>,
    settings: Option<&PlanSettings>,
) -> Result<Plan, ApiError> {
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
    let mut seen = std::collections::HashSet::new();
    for s in steps {
        if !seen.insert(s.module.clone()) {
            return Err(
                Error::invalid("modules", format!("`{}` is listed twice", s.module)).into(),
            );
        }
        known_module(state, &s.module)?;
        require(
            state,
            auth,
            On::Module(&s.module),
            env_id,
            Level::Deploy,
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
        let current = now_in_env.get(s.module.as_str()).map(|r| r.number);
        let expected = match s.expected {
            Some(0) => None,
            Some(n) => Some(n),
            None => current,
        };
        if expected != current {
            return Err(Error::Conflict(format!(
                "`{}` in {env} runs {} now, not {} as the plan expected; review and try again",
                s.module,
                current.map_or("nothing".to_owned(), |n| format!("version {n}")),
                expected.map_or("nothing".to_owned(), |n| format!("version {n}")),
            ))
            .into());
        }
        if current == Some(s.to) {
            continue;
        }
        if separation_of_duties(state, env_id) && v.info.author_id == auth.user.id.to_string() {
            return Err(Error::Forbidden(format!(
                "separation of duties in {env}: you published version {} of `{}`; someone else must deploy it",
                s.to, s.module
            ))
            .into());
        }
        let model = model_of(&v.model)?;
        let open = level(state, auth, On::Module(&s.module), env_id).await? >= Level::Open;
        let structural = match (open, current) {
            (true, Some(n)) => {
                let old = version_or_404(state, &s.module, Some(n)).await?;
                let d = rampart_model::diff(&model_of(&old.model)?, &model, ("", ""), ("", ""));
                Some(serde_json::to_value(&d.elements).unwrap_or_default())
            }
            (true, None) => Some(serde_json::json!({})),
            (false, _) => None,
        };
        changes.push(PlannedChange {
            module: s.module.clone(),
            from: current,
            to: s.to,
            changes: structural,
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
    let mut after: BTreeMap<String, (i64, Surface, Vec<Dependency>)> = BTreeMap::new();
    for r in now_in_env.values() {
        after.insert(
            r.module.clone(),
            (r.number, surface_of(&r.surface)?, uses_of(&r.uses)?),
        );
    }
    for (m, v) in &versions {
        after.insert(
            m.clone(),
            (v.info.number, surface_of(&v.surface)?, uses_of(&v.uses)?),
        );
    }
    let mut refused = Vec::new();
    for (m, (number, _, uses)) in &after {
        for d in uses {
            let touched = versions.contains_key(m) || versions.contains_key(&d.module);
            if !touched {
                continue;
            }
            let broken = |kind: &str, element: String, reason: String| BreakingChange {
                module: m.clone(),
                version: *number,
                environment: env.to_owned(),
                depends_on: d.module.clone(),
                kind: kind.to_owned(),
                element,
                reason,
            };
            let Some((_, dep_surface, _)) = after.get(&d.module) else {
                refused.push(broken(
                    "module",
                    d.module.clone(),
                    format!("`{}` is not deployed in {env}", d.module),
                ));
                continue;
            };
            // Against the version running now when it stays the dependency's predecessor,
            // so changed signatures are caught; otherwise presence.
            let before = now_in_env
                .get(d.module.as_str())
                .filter(|_| versions.contains_key(&d.module) && !versions.contains_key(m))
                .map(|r| surface_of(&r.surface))
                .transpose()?;
            for kind in KINDS {
                let names = used(d, kind);
                let found = match &before {
                    Some(old) => old.breaks(dep_surface, kind, names),
                    None => names
                        .iter()
                        .filter(|e| !dep_surface.has(kind, e))
                        .map(|e| {
                            (
                                e.clone(),
                                "not a public element of the version deployed".to_owned(),
                            )
                        })
                        .collect(),
                };
                for (element, reason) in found {
                    refused.push(broken(kind.plural(), element, reason));
                }
            }
        }
    }
    let missing = plans::missing_properties(state, env, &models, settings).await?;
    if !missing.is_empty() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "deployment-refused",
            "Deployment refused",
            format!(
                "site properties without a default need a value in {env}: {}; give them in a deployment plan",
                missing.join(", ")
            ),
        )
        .into());
    }
    if !refused.is_empty() {
        let refused = as_seen(state, auth, refused).await?;
        let mut p = Problem::new(
            StatusCode::CONFLICT,
            "deployment-refused",
            "Deployment refused",
            format!(
                "deploying this would leave {} broken reference(s) in {env}: {}",
                refused.len(),
                summary(&refused)
            ),
        );
        p.breaking = Some(refused);
        return Err(p.into());
    }
    Ok(Plan { changes, items })
}

/// How a set of steps is to be applied.
struct How<'a> {
    kind: DeployKind,
    /// For staging: where from.
    source_env: Option<&'a str>,
    dry_run: bool,
    /// The deployment plan being run, with its settings.
    from_plan: Option<(i64, &'a PlanSettings)>,
}

/// Plans `steps` and, unless `dry_run`, applies them, or records them for a second approver
/// where the environment requires one (202).
async fn apply(
    state: &AppState,
    auth: &Authenticated,
    env: &str,
    steps: Vec<Step>,
    how: How<'_>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let How {
        kind,
        source_env,
        dry_run,
        from_plan,
    } = how;
    let Plan { changes, items } = plan(
        state,
        auth,
        env,
        steps,
        kind,
        source_env,
        from_plan.map(|(_, s)| s),
    )
    .await?;
    let answer = |status: &str, applied, request, deployments| {
        Json(DeployResponse {
            environment: env.to_owned(),
            status: status.to_owned(),
            changes,
            applied,
            request,
            deployments,
        })
    };
    if items.is_empty() && from_plan.is_none() {
        return Ok((
            StatusCode::OK,
            answer("nothing-to-do", false, None, Vec::new()),
        ));
    }
    if dry_run {
        return Ok((StatusCode::OK, answer("plan", false, None, Vec::new())));
    }
    if second_approver(state, environment(state, env)?) {
        let id = state
            .store
            .request_deployment(
                &auth.audit(state),
                state.clock.now(),
                env,
                &items,
                from_plan.map(|(id, _)| id),
            )
            .await?;
        return Ok((
            StatusCode::ACCEPTED,
            answer("pending-approval", false, Some(id), Vec::new()),
        ));
    }
    let done = state
        .store
        .deploy(
            &auth.audit(state),
            state.clock.now(),
            &items,
            None,
            from_plan.map(|(id, _)| id),
        )
        .await?;
    Ok((
        StatusCode::OK,
        answer(
            "applied",
            true,
            None,
            done.into_iter().map(deployment_wire).collect(),
        ),
    ))
}

fn request_wire(r: rampart_store::DeploymentRequest) -> DeploymentRequestWire {
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
    auth: &Authenticated,
    env: &str,
    env_id: EnvId,
    id: i64,
) -> Result<rampart_store::DeploymentRequest, Error> {
    let not_found = || Error::NotFound {
        what: "deployment request",
    };
    let r = state
        .store
        .deployment_request(id)
        .await?
        .filter(|r| r.environment == env)
        .ok_or_else(not_found)?;
    if r.requested_by == auth.user.id.to_string() {
        return Ok(r);
    }
    let mut visible = Visibility::new(state, auth, env_id);
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
    auth: &Authenticated,
    env_id: EnvId,
    r: &rampart_store::DeploymentRequest,
    what: &str,
) -> Result<(), Error> {
    for (module, _, _) in &r.items {
        require(state, auth, On::Module(module), env_id, Level::Deploy, what).await?;
    }
    Ok(())
}

/// Refuses a request that was decided already.
fn still_pending(r: &rampart_store::DeploymentRequest) -> Result<(), Error> {
    if r.status != "pending" {
        return Err(Error::Conflict(format!(
            "deployment request {} was already {}",
            r.id, r.status
        )));
    }
    Ok(())
}

/// Deployments waiting for (or decided by) a second approver in an environment.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/requests", tag = "environments",
    params(("env" = String, Path, description = "The environment"), RequestsQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Requests, newest first", body = [DeploymentRequestWire]),
        (status = 422, description = "No such environment or status", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn requests(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Query(q): Query<RequestsQuery>,
) -> Result<Json<Vec<DeploymentRequestWire>>, ApiError> {
    let mut visible = Visibility::new(&state, &auth, environment(&state, &env)?);
    if let Some(s) = &q.status {
        if !matches!(s.as_str(), "pending" | "approved" | "rejected") {
            return Err(Error::invalid("status", "pending, approved or rejected").into());
        }
    }
    let mut out = Vec::new();
    for r in state
        .store
        .deployment_requests(&env, q.status.as_deref())
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
    Ok(Json(out))
}

/// Approve a pending deployment: someone other than the requester, holding `deploy` in the
/// environment (and not the author of what it deploys where separation of duties applies),
/// re-checks the plan against the environment as it is now and applies it.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/requests/{id}/approve", tag = "environments",
    params(("env" = String, Path, description = "The environment"), ("id" = i64, Path, description = "The request")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Approved and applied", body = DeployResponse),
        (status = 403, description = "The requester themself, or no `deploy`, or separation of duties", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request in this environment, or one the caller may not see (they lack `reference` there on one of its modules)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or the environment changed since the request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((env, id)): Path<(String, i64)>,
) -> Result<Json<DeployResponse>, ApiError> {
    let env_id = environment(&state, &env)?;
    state.authz.fresh(None).await?;
    let r = request_in(&state, &auth, &env, env_id, id).await?;
    require_deploy_all(&state, &auth, env_id, &r, "approving a deployment").await?;
    still_pending(&r)?;
    if r.requested_by == auth.user.id.to_string() {
        return Err(Error::Forbidden(format!(
            "{env} needs a second approver: someone other than you, who requested it"
        ))
        .into());
    }
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
    let Plan { changes, items } = plan(
        &state,
        &auth,
        &env,
        steps,
        r.kind,
        r.source_env.as_deref(),
        settings.as_ref(),
    )
    .await?;
    let done = state
        .store
        .deploy(
            &auth.audit(&state),
            state.clock.now(),
            &items,
            Some(id),
            None,
        )
        .await?;
    Ok(Json(DeployResponse {
        environment: env,
        status: "applied".to_owned(),
        changes,
        applied: true,
        request: Some(id),
        deployments: done.into_iter().map(deployment_wire).collect(),
    }))
}

/// Reject a pending deployment (its requester may withdraw it; others need `deploy` on
/// every module in it).
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/requests/{id}/reject", tag = "environments",
    params(("env" = String, Path, description = "The environment"), ("id" = i64, Path, description = "The request")),
    request_body = RejectRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Rejected"),
        (status = 403, description = "The caller lacks `deploy`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request in this environment, or one the caller may not see (they lack `reference` there on one of its modules)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment, or no reason given", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((env, id)): Path<(String, i64)>,
    Json(req): Json<RejectRequest>,
) -> Result<StatusCode, ApiError> {
    let env_id = environment(&state, &env)?;
    if req.reason.trim().is_empty() || req.reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "say why, in 1 to 500 characters").into());
    }
    state.authz.fresh(None).await?;
    let r = request_in(&state, &auth, &env, env_id, id).await?;
    if r.requested_by != auth.user.id.to_string() {
        require_deploy_all(&state, &auth, env_id, &r, "rejecting a deployment").await?;
    }
    still_pending(&r)?;
    state
        .store
        .reject_deployment(&auth.audit(&state), state.clock.now(), id, &req.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deploy module versions to an environment (all or none), or preview the plan.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/deployments", tag = "environments",
    params(("env" = String, Path, description = "The target environment")),
    request_body = DeployRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan, applied unless `dry_run`", body = DeployResponse),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = DeployResponse),
        (status = 403, description = "The caller lacks `deploy`, or separation of duties", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A module or application that does not exist, or that the caller holds no level on", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Broken references (`deployment-refused`), or the environment changed meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment or version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deploy(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Json(req): Json<DeployRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let modules = match (&req.application, &req.tag, req.modules.is_empty()) {
        (Some(app), Some(tag), true) => {
            state.authz.fresh(None).await?;
            visible_application(&state, &auth, app).await?;
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
    let steps = modules
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
    apply(
        &state,
        &auth,
        &env,
        steps,
        How {
            kind: DeployKind::Deploy,
            source_env: None,
            dry_run: req.dry_run,
            from_plan: None,
        },
    )
    .await
}

/// Promote what runs in the environment before (or `from`) into this one.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/stage", tag = "environments",
    params(("env" = String, Path, description = "The target environment")),
    request_body = StageRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan, applied unless `dry_run`", body = DeployResponse),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = DeployResponse),
        (status = 403, description = "The caller lacks `deploy` in the target", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A named module that does not exist, or that the caller holds no level on", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Broken references, or the environment changed meanwhile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment, or nothing before it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stage(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Json(req): Json<StageRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let target = environment(&state, &env)?;
    let from = match req.from {
        Some(f) => {
            environment(&state, &f)?;
            f
        }
        None => {
            let names = environments(&state);
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
            known_module(&state, m)?;
            require(
                &state,
                &auth,
                On::Module(m),
                target,
                Level::Deploy,
                "staging",
            )
            .await?;
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
                if highest_level(&state, &auth, On::Module(&r.module)).await? >= Level::Reference {
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
    apply(
        &state,
        &auth,
        &env,
        steps,
        How {
            kind: DeployKind::Stage,
            source_env: Some(&from),
            dry_run: req.dry_run,
            from_plan: None,
        },
    )
    .await
}

/// Put a module back to the version it ran before its last deployment here.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/rollback", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    request_body = RollbackRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan, applied unless `dry_run`", body = DeployResponse),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = DeployResponse),
        (status = 403, description = "The caller lacks `deploy`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to roll back to, broken references, or a concurrent change", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rollback(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    Json(req): Json<RollbackRequest>,
) -> Result<(StatusCode, Json<DeployResponse>), ApiError> {
    let env_id = environment(&state, &env)?;
    state.authz.fresh(None).await?;
    known_module(&state, &req.module)?;
    require(
        &state,
        &auth,
        On::Module(&req.module),
        env_id,
        Level::Deploy,
        "rolling back",
    )
    .await?;
    let last = state
        .store
        .deployments(&env, Some(&req.module), 1)
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
    apply(
        &state,
        &auth,
        &env,
        steps,
        How {
            kind: DeployKind::Rollback,
            source_env: None,
            dry_run: req.dry_run,
            from_plan: None,
        },
    )
    .await
}

/// The JSON Schema of the module format.
#[utoipa::path(
    get, path = "/api/v1/model/schema", tag = "modules",
    responses((status = 200, description = "JSON Schema (draft 2020-12) of `rampart-module/1`", body = Object))
)]
pub async fn model_schema() -> Json<serde_json::Value> {
    Json(rampart_model::schema::json_schema())
}

fn tag_wire(t: rampart_store::ApplicationTag) -> TagWire {
    TagWire {
        application: t.application,
        tag: t.tag,
        modules: t.modules,
        notes: t.notes,
        creator: t.creator,
        created_at: t.created_at,
    }
}

/// Tag an application version: a snapshot of its modules' versions with release notes.
#[utoipa::path(
    post, path = "/api/v1/applications/{app}/tags", tag = "modules",
    params(("app" = String, Path, description = "The application")),
    request_body = TagRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Tagged", body = TagWire),
        (status = 403, description = "The caller lacks `change` on the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tag exists (tags are immutable)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad tag, or a module that is not the application's or has no such version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tag_application(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(app): Path<String>,
    Json(req): Json<TagRequest>,
) -> Result<(StatusCode, Json<TagWire>), ApiError> {
    rampart_core::Name::parse_max("tag", &req.tag, 64)?;
    if req.notes.chars().count() > 10_000 {
        return Err(Error::invalid("notes", "at most 10,000 characters").into());
    }
    state.authz.fresh(None).await?;
    visible_application(&state, &auth, &app).await?;
    require(
        &state,
        &auth,
        On::Application(&app),
        AUTHORING,
        Level::Change,
        "tagging an application",
    )
    .await?;
    let module_names: Vec<String> = {
        let view = state.authz.view();
        let Some(app_num) = view.app(&app) else {
            return Err(Error::NotFound {
                what: "application",
            }
            .into());
        };
        let mut names: Vec<String> = Vec::new();
        for (name, num) in view.modules() {
            if view.it.module_app(ModuleId(num)).map(|a| a.0) == Some(app_num.0) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        names
    };
    let modules = match req.modules {
        Some(m) if !m.is_empty() => {
            // Only the application's own modules that the caller may know; any other name
            // gets the same answer, whether it exists elsewhere or not.
            for name in m.keys() {
                if !module_names.contains(name)
                    || highest_level(&state, &auth, On::Module(name)).await? < Level::Reference
                {
                    return Err(Error::invalid(
                        "modules",
                        format!("`{name}` is not a module of application `{app}`"),
                    )
                    .into());
                }
            }
            m
        }
        Some(_) => return Err(Error::invalid("modules", "name at least one module").into()),
        None => {
            let mut m = std::collections::BTreeMap::new();
            for name in module_names {
                if let Some(v) = state.store.module_version(&name, None).await? {
                    m.insert(name, v.info.number);
                }
            }
            if m.is_empty() {
                return Err(Error::invalid(
                    "modules",
                    format!("application `{app}` has no published module"),
                )
                .into());
            }
            m
        }
    };
    let t = state
        .store
        .tag_application(
            &auth.audit(&state),
            state.clock.now(),
            &app,
            &req.tag,
            &modules,
            &req.notes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(tag_wire(t))))
}

/// An application's tags, newest first.
#[utoipa::path(
    get, path = "/api/v1/applications/{app}/tags", tag = "modules",
    params(("app" = String, Path, description = "The application")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Tags, newest first", body = [TagWire]),
        (status = 403, description = "The caller lacks `reference` on the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tags(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(app): Path<String>,
) -> Result<Json<Vec<TagWire>>, ApiError> {
    state.authz.fresh(None).await?;
    visible_application(&state, &auth, &app).await?;
    require(
        &state,
        &auth,
        On::Application(&app),
        AUTHORING,
        Level::Reference,
        "listing tags",
    )
    .await?;
    let list = state.store.application_tags(&app, None).await?;
    Ok(Json(list.into_iter().map(tag_wire).collect()))
}

/// Records a read of a module's source or diff (`object`) in the `access` stream, under the
/// reader's name and the module's application, before anything is answered: whoever opened
/// a module's source can be named. The source is withheld when the read cannot be recorded.
async fn record_read(
    state: &AppState,
    auth: &Authenticated,
    module: &str,
    object: String,
) -> Result<(), Error> {
    let application = state
        .authz
        .view()
        .module_application(module)
        .map(str::to_owned);
    let event = rampart_store::NewEvent::access(
        &auth.audit(state),
        state.clock.now(),
        application.as_deref(),
        &object,
        "GET",
        true,
    );
    state.audit.append(event).await?;
    Ok(())
}

/// How a module the caller may not know of is shown in a refusal.
const UNSEEN: &str = "(a module you hold no level on)";

/// Broken references as the caller may see them: a module they hold no level on (in the
/// authoring environment) is not named, nor its version, nor the elements it uses.
async fn as_seen(
    state: &AppState,
    auth: &Authenticated,
    list: Vec<BreakingChange>,
) -> Result<Vec<BreakingChange>, Error> {
    let mut visibility = Visibility::new(state, auth, AUTHORING);
    let mut out = Vec::with_capacity(list.len());
    for mut b in list {
        if !visibility.may_see(&b.module).await? {
            b.module = UNSEEN.into();
            b.version = 0;
        }
        if !visibility.may_see(&b.depends_on).await? {
            b.depends_on = UNSEEN.into();
            b.element = UNSEEN.into();
        }
        out.push(b);
    }
    Ok(out)
}
