//! Advanced SQL queries through the data API (`…/api/{module}/queries/{Query}` of a query
//! with `sql`), after `data` has found the query and checked the caller's roles.
//!
//! The query runs in the database of its `entity`, over the tables of its module's entities
//! and of the entities it lists under `dependencies` that live there (a dependency of
//! another application, or an entity of another database, is not a table it can name).
//! Each table is the caller's view of it: the row rule of reading, computed here from the
//! authorization index (`ReaderRule`: the caller, everyone below them in the entity's
//! hierarchy, the caller's grantee principals), is compiled into the statement by
//! `rampart_apps::advanced`, and the store runs it read-only (`Store::app_advanced`).
//! A statement the model's SQL makes that may not run answers 503 (the cause is logged:
//! publishing refuses such SQL, so only versions published before that check have one);
//! wrong parameters, or inline values that make a statement that may not run, answer 422
//! naming them.

use std::sync::Arc;

use rampart_api::RecordPage;
use rampart_apps::access::serving_table;
use rampart_apps::advanced::{compile, encode_offset, render, ReaderRule, Refused};
use rampart_apps::schema::Table;
use rampart_authz::acl::Actions;
use rampart_core::Error;
use rampart_model::format::Query;
use serde_json::Map;

use super::data::EntityRef;
use super::EnvApps;
use crate::caller::Caller;
use crate::state::AppState;

/// A page of what advanced query `query` of module `at.module` finds for `params`, under
/// the caller's row rule on every table it reads.
pub(super) async fn page(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    env: &Arc<EnvApps>,
    query: &Query,
    params: &[(String, String)],
) -> Result<RecordPage, Error> {
    let not_ready = |why: String| {
        Error::Unavailable(format!(
            "query `{}.{}` cannot run in `{}`: {why}",
            at.module, query.name, at.environment
        ))
    };
    let module = env
        .module(at.application, at.module)
        .ok_or(Error::NotFound { what: "query" })?;
    let (entity_module, entity_name) = match query.entity.split_once('.') {
        Some((m, e)) => (m, e),
        None => (at.module, query.entity.as_str()),
    };
    let database = env
        .module(at.application, entity_module)
        .and_then(|m| m.entities.iter().find(|e| e.name == entity_name))
        .map(|e| e.database.clone())
        .ok_or_else(|| not_ready(format!("its entity `{}` does not run", query.entity)))?;
    let (db, layout) = env
        .database(at.application, &database)
        .ok_or_else(|| not_ready("its database has not been migrated".into()))?;
    // The module's entities, then those it lists from its dependencies, in that database.
    let mut readable: Vec<(&str, &str)> = module
        .entities
        .iter()
        .map(|e| (at.module, e.name.as_str()))
        .collect();
    for d in &module.dependencies {
        readable.extend(d.entities.iter().map(|e| (d.module.as_str(), e.as_str())));
    }
    let tables: Vec<Table> = readable
        .into_iter()
        .filter_map(|(m, e)| {
            let entity = env
                .module(at.application, m)?
                .entities
                .iter()
                .find(|x| x.name == e && x.database == database)?;
            serving_table(layout, m, entity)
        })
        .collect();
    let target = state.store.app_target(db);
    let compiled = {
        let view = state.authz.view();
        let mut rule = |table: &Table| reader_rule(&view, table, caller);
        compile(&target, query, &tables, &mut rule, params)
    };
    let statement = match compiled {
        Ok(s) => s,
        Err(Refused::Model(problems)) => return Err(not_ready(problems.join("; "))),
        Err(Refused::Input(errors)) => {
            let field = errors
                .first()
                .map_or_else(|| "query".to_owned(), |e| e.attribute.clone());
            let reason = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::InvalidInput { field, reason });
        }
    };
    let slot = state.apps.advanced_slot().await?;
    let found = state.store.app_advanced(db, &statement.compiled).await;
    drop(slot);
    let found = found?;
    let limit = statement.limit as usize;
    let more = found.rows.len() > limit;
    let rows = found
        .rows
        .iter()
        .take(limit)
        .map(|cells| {
            let mut row = Map::new();
            for (i, (name, cell)) in found.columns.iter().zip(cells).enumerate() {
                let hint = statement.hints.get(i).copied().flatten();
                row.insert(name.clone(), render(cell, hint));
            }
            row
        })
        .collect();
    Ok(RecordPage {
        items: Vec::new(),
        next_cursor: more.then(|| encode_offset(statement.offset + u64::from(statement.limit))),
        rows: Some(rows),
    })
}

/// The caller's rule for reading `table` (which has an ACL): their own rows, those of
/// everyone below them in the table's hierarchy, and those granted to their principals.
fn reader_rule(
    view: &rampart_authz::view::AuthzView,
    table: &Table,
    caller: &Caller,
) -> ReaderRule {
    let user = caller.user.id;
    let num = view.user_num(user);
    let acl = table.acl.as_ref();
    let tree = acl
        .and_then(|a| a.hierarchy.as_deref())
        .and_then(|name| view.hierarchy(name))
        .and_then(|(h, _)| view.acl.hierarchy(h).ok());
    let below = match (num, tree, table.owner_column()) {
        (Some(me), Some(tree), Some(_)) => (0..u32::try_from(tree.len()).unwrap_or(u32::MAX))
            .filter(|&n| n != me && tree.contains(me, n).unwrap_or(false))
            .filter_map(|n| view.user_by_num(n))
            .map(|u| u.to_string())
            .collect(),
        _ => Vec::new(),
    };
    let grantees = match (num, acl.is_some_and(|a| a.grants)) {
        (Some(n), true) => view
            .grantee_principals(n)
            .into_iter()
            .map(|p| i64::from(p.raw()))
            .collect(),
        _ => Vec::new(),
    };
    ReaderRule {
        owner: table.owner_column().map(|_| user.to_string()),
        below,
        grantees,
        action_bit: i64::from(Actions::READ.bits()),
    }
}
