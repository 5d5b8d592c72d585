//! Publishing a module version: the source is parsed and checked, the name registered for
//! its application when it is new, every dependency checked against the newest version of
//! what it uses, its roles checked against those the application's other modules declare
//! (a role is declared by one module: `rampart_deploy::roles`), and the new public surface
//! checked against what is deployed (a change that breaks deployed dependants needs `full`
//! and `force`).

use std::collections::HashMap;

use rampart_api::{BreakingChange, PublishRequest, PublishResponse};
use rampart_authz::it::{Level, ModuleId};
use rampart_authz::policy::{level_needed, LifecycleOp};
use rampart_core::Error;
use rampart_deploy::{compat, roles};
use rampart_model::{Module, Surface};
use rampart_store::{AuthzOp, NewVersion, Published, Running};

use super::{
    as_seen, breaking_change, highest_level, model_of, require, running_placed, surface_of,
    visible_application, visible_module, wire, LifecycleError, On, AUTHORING,
};
use crate::caller::Caller;
use crate::state::AppState;

/// What a publish did: `created` is false when the same source was published already and
/// nothing was written.
pub struct Publication {
    /// Whether a version was written.
    pub created: bool,
    /// The answer.
    pub response: PublishResponse,
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

/// Publishes a version of module `name`.
pub async fn publish(
    state: &AppState,
    caller: &Caller,
    name: String,
    req: PublishRequest,
) -> Result<Publication, LifecycleError> {
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
        .map_err(|d| LifecycleError::InvalidModule { diagnostics: d.0 })?;
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
        Some(_) => highest_level(state, caller, On::Module(&name)).await? >= Level::Reference,
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
                state,
                caller,
                On::Module(&name),
                dev,
                level_needed(LifecycleOp::Publish),
                "publishing",
            )
            .await?
        }
        _ => {
            // A registration under the declared application: the caller must know it and
            // hold `change` on it, and the name must not be another application's.
            visible_application(state, caller, &module.application).await?;
            require(
                state,
                caller,
                On::Application(&module.application),
                dev,
                level_needed(LifecycleOp::Publish),
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
    let mut dep_models = Vec::new();
    for d in &module.dependencies {
        if visible_module(state, caller, &d.module).await.is_err() {
            return Err(Error::invalid(
                "source",
                format!("depends on module `{}`, which does not exist", d.module),
            )
            .into());
        }
        require(
            state,
            caller,
            On::Module(&d.module),
            dev,
            level_needed(LifecycleOp::UseDependency),
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
        missing.extend(compat::missing_elements(d, &surface));
        dep_models.push(model_of(&latest.model)?);
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
    refuse_role_clashes(state, caller, &module).await?;
    // The security checks, with the dependencies' newest models: an error refuses the
    // publish; the rest is stored with the version.
    let findings = super::findings::of_source(&name, &req.source, &dep_models)?;
    let surface = Surface::of(&module);
    let running = state.store.running().await?;
    let breaking = breaks_of_new_surface(&running, &name, &surface)?;
    if !breaking.is_empty() {
        if !req.force {
            let breaking = as_seen(state, caller, breaking).await?;
            return Err(LifecycleError::Breaking {
                module: name,
                breaking,
            });
        }
        require(
            state,
            caller,
            On::Module(&name),
            dev,
            level_needed(LifecycleOp::PublishBreaking),
            "forcing a breaking change",
        )
        .await?;
    }
    let ctx = &caller.audit;
    let now = state.clock.now();
    if registered_app.is_none() {
        let revision = state
            .store
            .authz_write(
                ctx,
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
            ctx,
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
                findings,
            },
        )
        .await?;
    let (info, created) = match published {
        Published::Created(v) => (v, true),
        Published::Unchanged(v) => (v, false),
    };
    Ok(Publication {
        created,
        response: PublishResponse {
            version: wire(info),
            created,
            forced: if created { breaking } else { Vec::new() },
        },
    })
}

/// Refuses `module`'s roles that another module of its application declares in its newest
/// version, naming that module only to a caller who may know it exists.
async fn refuse_role_clashes(
    state: &AppState,
    caller: &Caller,
    module: &Module,
) -> Result<(), Error> {
    if module.roles.is_empty() {
        return Ok(());
    }
    let others: Vec<String> = state
        .authz
        .view()
        .module_list()
        .into_iter()
        .filter(|(m, app)| *app == module.application && *m != module.module)
        .map(|(m, _)| m)
        .collect();
    let mut declared = Vec::with_capacity(others.len());
    for m in others {
        if let Some(newest) = state.store.module_version(&m, None).await? {
            declared.push(roles::Declared {
                roles: model_of(&newest.model)?.roles,
                module: m,
            });
        }
    }
    let clashes = roles::clashes(&module.module, &module.roles, &declared);
    let mut known: HashMap<&str, bool> = HashMap::new();
    for c in &clashes {
        if !known.contains_key(c.module.as_str()) {
            let level = highest_level(state, caller, On::Module(&c.module)).await?;
            known.insert(&c.module, level >= Level::Reference);
        }
    }
    match roles::refusal(&module.application, &clashes, |m| {
        known.get(m).copied().unwrap_or(false)
    }) {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// The stored JSON form of a model, surface or dependency list.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The deployed dependants of `module` that its `new` surface would break, per environment,
/// judged against the surface of the version of `module` running there.
fn breaks_of_new_surface(
    running: &[Running],
    module: &str,
    new: &Surface,
) -> Result<Vec<BreakingChange>, Error> {
    // Only the environments where the module runs matter.
    let mut placed = Vec::new();
    for r in running {
        if running
            .iter()
            .any(|c| c.module == module && c.environment == r.environment)
        {
            placed.push(running_placed(r)?);
        }
    }
    Ok(compat::breaks_of_new_surface(&placed, module, new)
        .into_iter()
        .map(breaking_change)
        .collect())
}
