//! The module lifecycle under IT permissions: publishing, versions, diffs, deployments,
//! staging, rollback, second-approver requests, tags, module names and deployment plans.
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
//! The levels are `rampart_authz::policy::LIFECYCLE` (asked with `level_needed`); tagging
//! an application needs `change` on it, listing its tags `reference`.
//!
//! The authoring environment is the first of the promotion order (`development` by
//! default): versions are written there, then deployed and staged onward. Platform
//! administrators hold `full` everywhere; end users hold nothing.
//!
//! **Permission first.** Every use case checks the caller's level before it reads or reveals
//! anything about the object (whether it runs, was deployed, is approved, whose it is). A
//! caller below `reference` on a module or application in every environment may not know it
//! exists: they get exactly the answer an object that does not exist gets
//! ([`Error::NotFound`]), and [`Error::Forbidden`] is only for callers who may know it. A
//! deployment request is known to its requester and to those who may see each of its
//! modules in its environment (as the listing shows it). Staging everything from an
//! environment stages the modules the caller may know.
//!
//! **Module names.** A publish under a name nobody registered registers it for the
//! application the source declares, which the caller must hold `change` on, unless the name
//! is reserved for another application. A name registered (or reserved) for another
//! application, or a module of the same application the caller holds no level on, is refused
//! as a conflict without naming the owner. Administrators reserve, transfer and release
//! names ([`names`]).
//!
//! Deployment checks the environment as it would be afterwards: every module deployed or
//! depending on one deployed must find each module it depends on running there, with each
//! public element it uses still present and compatible, and every site property without a
//! default given a value; otherwise nothing is applied. Each environment's policies
//! (production's by default) may forbid the author of a version to deploy it (separation of
//! duties) and make deployments wait for a second approver. Deployment plans
//! ([`plans`]) deploy applications at tagged versions with their per-environment settings.
//!
//! The use cases take the node's [`AppState`], a [`Caller`] and typed inputs, and answer
//! wire types or a [`LifecycleError`]; the server maps that to statuses and problems.

pub mod deploy;
pub mod findings;
pub mod names;
pub mod plans;
pub mod publish;
pub mod requests;
mod roles;
pub mod sealed;
pub mod tags;
pub mod versions;

use std::collections::HashMap;
use std::fmt;

use rampart_api::{BreakingChange, DeploymentWire, VersionWire};
use rampart_authz::it::{AppId, EnvId, ItUserId, Level, ModuleId};
use rampart_authz::policy::{level_needed, LifecycleOp};
use rampart_core::{Error, Provider};
use rampart_deploy::{Break, Placed};
use rampart_model::format::Dependency;
use rampart_model::{Diagnostic, Module, Surface};
use rampart_store::{DeploymentInfo, Running, StoredVersion, VersionInfo};

use crate::caller::Caller;
use crate::state::AppState;

/// Why a lifecycle use case refused or failed: a plain [`Error`], or a refusal that carries
/// more than a sentence (the diagnostics of a source, the references a change breaks).
///
/// Its `Display` is the sentence shown to people (for [`LifecycleError::Error`], the
/// error's own).
#[derive(Debug)]
pub enum LifecycleError {
    /// Any other refusal or failure.
    Error(Error),
    /// The source has errors, each at its line and column.
    InvalidModule {
        /// Every error, sorted by position (never empty).
        diagnostics: Vec<Diagnostic>,
    },
    /// Publishing would break deployed dependants, and was not forced.
    Breaking {
        /// The module being published.
        module: String,
        /// What would break, as the caller may see it.
        breaking: Vec<BreakingChange>,
    },
    /// Deploying would leave site properties without a default with no value.
    MissingProperties {
        /// The target environment.
        environment: String,
        /// The properties, as `module.Property`.
        missing: Vec<String>,
    },
    /// Deploying would leave broken references in the environment.
    BrokenReferences {
        /// The target environment.
        environment: String,
        /// What would be broken, as the caller may see it.
        breaking: Vec<BreakingChange>,
    },
    /// The security checks found errors, which block publishing.
    Findings {
        /// The module.
        module: String,
        /// Every finding (the errors and the rest), each at its line.
        findings: Vec<rampart_api::FindingWire>,
    },
}

impl LifecycleError {
    /// Whether this is a conflict with the state of things (a refused deployment, a
    /// concurrent change, something decided already) rather than with the request.
    pub fn is_conflict(&self) -> bool {
        match self {
            LifecycleError::Error(e) => matches!(e, Error::Conflict(_)),
            LifecycleError::InvalidModule { .. } | LifecycleError::Findings { .. } => false,
            LifecycleError::Breaking { .. }
            | LifecycleError::MissingProperties { .. }
            | LifecycleError::BrokenReferences { .. } => true,
        }
    }
}

impl From<Error> for LifecycleError {
    fn from(e: Error) -> Self {
        LifecycleError::Error(e)
    }
}

impl fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleError::Error(e) => e.fmt(f),
            LifecycleError::InvalidModule { diagnostics } => {
                write!(f, "the module has {} error(s)", diagnostics.len())?;
                match diagnostics.first() {
                    Some(first) => write!(f, "; the first: {first}"),
                    None => Ok(()),
                }
            }
            LifecycleError::Breaking { module, breaking } => write!(
                f,
                "this version breaks {} deployed module(s): {}; publish with `force` (needs `full` on `{module}`) or keep the elements compatible",
                breaking.len(),
                summary(breaking)
            ),
            LifecycleError::MissingProperties {
                environment,
                missing,
            } => write!(
                f,
                "site properties without a default need a value in {environment}: {}; give them in a deployment plan",
                missing.join(", ")
            ),
            LifecycleError::Findings { module, findings } => {
                let errors: Vec<&str> = findings
                    .iter()
                    .filter(|f| f.severity == "error")
                    .map(|f| f.finding.as_str())
                    .collect();
                write!(
                    f,
                    "the security checks found {} error(s) in `{module}`, which block \
                     publishing: {}; `rampart model check` shows each with its fix",
                    errors.len(),
                    errors.join("; ")
                )
            }
            LifecycleError::BrokenReferences {
                environment,
                breaking,
            } => write!(
                f,
                "deploying this would leave {} broken reference(s) in {environment}: {}",
                breaking.len(),
                summary(breaking)
            ),
        }
    }
}

impl std::error::Error for LifecycleError {}

/// The first five broken references, for a sentence.
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
    caller: &Caller,
    on: On<'_>,
    environment: EnvId,
) -> Result<Level, Error> {
    if caller.user.is_admin {
        return Ok(Level::Full);
    }
    if caller.user.provider != Provider::It {
        return Ok(Level::None);
    }
    {
        let view = state.authz.view();
        if let Some(num) = view.user_num(caller.user.id) {
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
    let defaults = state.store.it_roles_of(caller.user.id).await?;
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
    caller: &'a Caller,
    environment: EnvId,
    seen: HashMap<String, bool>,
}

impl<'a> Visibility<'a> {
    fn new(state: &'a AppState, caller: &'a Caller, environment: EnvId) -> Self {
        Self {
            state,
            caller,
            environment,
            seen: HashMap::new(),
        }
    }

    async fn may_see(&mut self, module: &str) -> Result<bool, Error> {
        if let Some(v) = self.seen.get(module) {
            return Ok(*v);
        }
        let v = level(
            self.state,
            self.caller,
            On::Module(module),
            self.environment,
        )
        .await?
            >= Level::Reference;
        self.seen.insert(module.to_owned(), v);
        Ok(v)
    }
}

/// Refuses a module that does not exist, then unless the caller holds the level `op` needs
/// on it in `environment` (`doing` names the operation in a refusal).
async fn require_module(
    state: &AppState,
    caller: &Caller,
    module: &str,
    environment: EnvId,
    op: LifecycleOp,
    doing: &str,
) -> Result<(), Error> {
    known_module(state, module)?;
    require(
        state,
        caller,
        On::Module(module),
        environment,
        level_needed(op),
        doing,
    )
    .await
}

/// Refuses unless the caller holds at least `needed` on `module` in `environment`.
async fn require(
    state: &AppState,
    caller: &Caller,
    on: On<'_>,
    environment: EnvId,
    needed: Level,
    what: &str,
) -> Result<(), Error> {
    let (name, kind) = match &on {
        On::Module(m) => (m.to_string(), "module"),
        On::Application(a) => (a.to_string(), "application"),
    };
    let held = level(state, caller, on, environment).await?;
    if held >= needed {
        return Ok(());
    }
    if highest_level(state, caller, on).await? < Level::Reference {
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
async fn highest_level(state: &AppState, caller: &Caller, on: On<'_>) -> Result<Level, Error> {
    let count = state.authz.view().it.environments().len();
    let mut best = Level::None;
    for i in 0..count {
        let Ok(env) = u16::try_from(i) else { break };
        best = best.max(level(state, caller, on, EnvId(env)).await?);
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
pub async fn visible_module(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    known_module(state, name)?;
    if highest_level(state, caller, On::Module(name)).await? < Level::Reference {
        return Err(hidden(On::Module(name)));
    }
    Ok(())
}

/// Refuses, as if it did not exist, an application that does not exist or that the caller
/// holds no level on in any environment.
async fn visible_application(state: &AppState, caller: &Caller, app: &str) -> Result<(), Error> {
    let on = On::Application(app);
    if state.authz.view().app(app).is_none()
        || highest_level(state, caller, on).await? < Level::Reference
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

/// The environment called `name`, or an invalid-input refusal listing them.
fn environment(state: &AppState, name: &str) -> Result<EnvId, Error> {
    crate::authz::environment(&state.authz.view(), name, "environment")
}

/// Whether `env`'s definition says `rule` (separation of duties: the author of a version
/// may not deploy it there; second approver: deployments there wait for one).
fn environment_rule(
    state: &AppState,
    env: EnvId,
    rule: fn(&rampart_authz::change::EnvironmentDef) -> bool,
) -> bool {
    state.authz.view().environment_def(env).is_some_and(rule)
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

/// A module version running somewhere, as the deployment rules see it.
fn running_placed(r: &Running) -> Result<Placed, Error> {
    Ok(Placed {
        module: r.module.clone(),
        environment: r.environment.clone(),
        number: r.number,
        surface: surface_of(&r.surface)?,
        uses: uses_of(&r.uses)?,
    })
}

/// A broken reference as the API shows it.
fn breaking_change(b: Break) -> BreakingChange {
    BreakingChange {
        module: b.module,
        version: b.version,
        environment: b.environment,
        depends_on: b.depends_on,
        kind: b.kind,
        element: b.element,
        reason: b.reason,
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

/// How a module the caller may not know of is shown in a refusal.
const UNSEEN: &str = "(a module you hold no level on)";

/// Broken references as the caller may see them: a module they hold no level on (in the
/// authoring environment) is not named, nor its version, nor the elements it uses.
async fn as_seen(
    state: &AppState,
    caller: &Caller,
    list: Vec<BreakingChange>,
) -> Result<Vec<BreakingChange>, Error> {
    let mut visibility = Visibility::new(state, caller, AUTHORING);
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
