//! Application tags: immutable snapshots of an application's module versions with release
//! notes, which deployments and deployment plans name.

use std::collections::BTreeMap;

use rampart_api::{TagRequest, TagWire};
use rampart_authz::it::{Level, ModuleId};
use rampart_core::Error;
use rampart_store::ApplicationTag;

use super::{highest_level, require, visible_application, On, AUTHORING};
use crate::caller::Caller;
use crate::state::AppState;

fn tag_wire(t: ApplicationTag) -> TagWire {
    TagWire {
        application: t.application,
        tag: t.tag,
        modules: t.modules,
        notes: t.notes,
        creator: t.creator,
        created_at: t.created_at,
    }
}

/// Tags a version of application `app`: the named modules at the named versions, or every
/// module of the application at its newest version.
pub async fn tag_application(
    state: &AppState,
    caller: &Caller,
    app: &str,
    req: TagRequest,
) -> Result<TagWire, Error> {
    rampart_core::Name::parse_max("tag", &req.tag, 64)?;
    if req.notes.chars().count() > 10_000 {
        return Err(Error::invalid("notes", "at most 10,000 characters"));
    }
    on_application(state, caller, app, Level::Change, "tagging an application").await?;
    let module_names: Vec<String> = {
        let view = state.authz.view();
        let Some(app_num) = view.app(app) else {
            return Err(Error::NotFound {
                what: "application",
            });
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
                    || highest_level(state, caller, On::Module(name)).await? < Level::Reference
                {
                    return Err(Error::invalid(
                        "modules",
                        format!("`{name}` is not a module of application `{app}`"),
                    ));
                }
            }
            m
        }
        Some(_) => return Err(Error::invalid("modules", "name at least one module")),
        None => {
            let mut m = BTreeMap::new();
            for name in module_names {
                if let Some(v) = state.store.module_version(&name, None).await? {
                    m.insert(name, v.info.number);
                }
            }
            if m.is_empty() {
                return Err(Error::invalid(
                    "modules",
                    format!("application `{app}` has no published module"),
                ));
            }
            m
        }
    };
    let t = state
        .store
        .tag_application(
            &caller.audit,
            state.clock.now(),
            app,
            &req.tag,
            &modules,
            &req.notes,
        )
        .await?;
    Ok(tag_wire(t))
}

/// The tags of application `app`, newest first.
pub async fn tags(state: &AppState, caller: &Caller, app: &str) -> Result<Vec<TagWire>, Error> {
    on_application(state, caller, app, Level::Reference, "listing tags").await?;
    let list = state.store.application_tags(app, None).await?;
    Ok(list.into_iter().map(tag_wire).collect())
}

/// Refuses unless the caller sees application `app` and holds `level` on it in the
/// authoring environment (for `what`), judged on an index holding every committed change.
async fn on_application(
    state: &AppState,
    caller: &Caller,
    app: &str,
    level: Level,
    what: &str,
) -> Result<(), Error> {
    state.authz.fresh(None).await?;
    visible_application(state, caller, app).await?;
    require(state, caller, On::Application(app), AUTHORING, level, what).await
}
