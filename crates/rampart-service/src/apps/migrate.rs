//! Migrating an environment's application databases for a deployment, before it applies.
//!
//! The layout each database needs is computed from every module that will run in the
//! environment once the deployment applies; each database is migrated in a transaction of
//! its own. Migrations only add (a removed attribute or entity keeps its column or table), so
//! a deployment refused afterwards (a concurrent change) leaves databases that serve the
//! version still running: the runtime reads each entity through the columns its running
//! model declares.

use std::collections::{BTreeMap, HashMap};

use rampart_apps::schema::{layouts, Column, Step};
use rampart_apps::values::{convert, from_text, Value};
use rampart_core::Error;
use rampart_model::Module;
use rampart_store::{AppDatabase, NewDeployment};

use super::keys::{EnvKeys, Place};

use crate::caller::Caller;
use crate::state::AppState;

/// What a deployment did to one application database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The application.
    pub application: String,
    /// The database name.
    pub database: String,
    /// How many changes it made (tables, columns, indexes, conversions).
    pub steps: usize,
}

/// The modules that will run in `env` once `items` apply: what runs there now, with each
/// item's version instead.
pub async fn modules_after(
    state: &AppState,
    env: &str,
    items: &[NewDeployment],
) -> Result<Vec<Module>, Error> {
    let (_, running) = state.store.running_models(env).await?;
    let mut models: BTreeMap<String, String> = running
        .into_iter()
        .map(|(name, _, model)| (name, model))
        .collect();
    for item in items.iter().filter(|i| i.environment == env) {
        let v = state
            .store
            .module_version(&item.module, Some(item.number))
            .await?
            .ok_or(Error::NotFound {
                what: "module version",
            })?;
        models.insert(item.module.clone(), v.model);
    }
    models
        .into_iter()
        .map(|(name, json)| {
            serde_json::from_str(&json)
                .map_err(|e| Error::Internal(format!("stored model of `{name}`: {e}")))
        })
        .collect()
}

/// Migrates every application database of `env` to what `modules` need. A model that cannot
/// be laid out (two entities of one database with one table name, a name too long for a
/// database) or a retyped attribute whose stored values do not convert refuses (409) before
/// the database it concerns changes.
pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    env: &str,
    modules: &[Module],
    drop_data: bool,
) -> Result<Vec<Migrated>, Error> {
    let mut by_app: HashMap<&str, Vec<&Module>> = HashMap::new();
    for m in modules {
        by_app.entry(m.application.as_str()).or_default().push(m);
    }
    // Every application is laid out first: a refusal changes no database.
    let mut planned = Vec::new();
    for (app, mods) in by_app {
        let wanted =
            layouts(&mods).map_err(|r| Error::Conflict(format!("application `{app}`: {r}")))?;
        planned.push((app, wanted));
    }
    let now = state.clock.now();
    // Sensitive attributes need the environment's keys, created with the first of them.
    let sensitive = planned
        .iter()
        .flat_map(|(_, w)| w.values())
        .flat_map(|l| &l.tables)
        .any(|t| t.columns.iter().any(Column::sensitive));
    // Without a master key the layout is still made (sealed columns need no key to exist);
    // the entity is unavailable until one is configured, and a conversion that must seal or
    // open values refuses.
    let keys = if sensitive && state.keys.configured() {
        Some(
            state
                .keys
                .ensure(&state.store, &caller.audit, now, env)
                .await?,
        )
    } else {
        None
    };
    let mut done = Vec::new();
    for (app, wanted) in planned {
        for (name, layout) in wanted {
            let db = state
                .store
                .ensure_app_database(&caller.audit, now, env, app, &name)
                .await?;
            let convert = |table: &str, from: &Column, to: &Column, id: &str, value: Value| {
                convert_value(keys.as_deref(), &db, table, (from, to), id, value)
            };
            let m = state
                .store
                .migrate_app_database(&db, &layout, drop_data, &convert, now)
                .await?;
            let steps = m
                .steps
                .iter()
                .filter(|s| !matches!(s, Step::OwnerIndex { .. }))
                .count();
            done.push(Migrated {
                application: app.to_owned(),
                database: name,
                steps,
            });
        }
    }
    state.apps.invalidate(env);
    Ok(done)
}

/// A stored value of a retyped attribute as a value of its new type: opened first if it was
/// sealed, sealed afterwards if the attribute is sensitive now.
fn convert_value(
    keys: Option<&EnvKeys>,
    db: &AppDatabase,
    table: &str,
    (from, to): (&Column, &Column),
    id: &str,
    value: Value,
) -> Result<Value, String> {
    fn place<'a>(
        db: &'a AppDatabase,
        table: &'a str,
        column: &'a Column,
        id: &'a str,
    ) -> Place<'a> {
        Place {
            db,
            table,
            attribute: &column.attribute,
            record: id,
        }
    }
    let no_keys = || "is sensitive, and the environment has no keys".to_owned();
    let plain = match (&value, from.sensitive()) {
        (Value::Bytes(envelope), true) => {
            let text = keys
                .ok_or_else(no_keys)?
                .open(place(db, table, from, id), envelope)
                .map_err(|e| e.to_string())?;
            from_text(from.ty, &text)?
        }
        _ => value,
    };
    let converted = convert(&plain, to.ty)?;
    match (converted.text(), to.sensitive()) {
        (Some(text), true) => {
            let sealed = keys
                .ok_or_else(no_keys)?
                .seal(place(db, table, to, id), &text)
                .map_err(|e| e.to_string())?;
            Ok(Value::Bytes(sealed))
        }
        _ => Ok(converted),
    }
}
