//! The data API of deployed entities: list, get, create, change and delete records.
//!
//! Every call is decided in this order, and nothing about a record is revealed before its
//! step: the environment, application, module and entity must run there (otherwise 404,
//! whatever exists elsewhere); the caller must hold one of the roles the model gives the
//! entity's screens and actions (otherwise 403); then the row-level rule runs inside the
//! statement that reads or writes, so a record the caller may not read answers 404 like one
//! that does not exist. Every call appends an `access` event (allowed or denied, with the
//! record ids read or written); every write appends a `system` event with the record id and
//! the names of the attributes it set, committed with the write.

use std::sync::Arc;

use rampart_api::{GrantRequest, RecordPage, RecordView};
use rampart_apps::access::{data_roles, serving_table, Verb};
use rampart_apps::ddl::Target;
use rampart_apps::list::{compile_get, compile_list, encode_cursor, parse_list, RowFilter};
use rampart_apps::schema::Column;
use rampart_apps::schema::Table;
use rampart_apps::values::{check_record, from_text, FieldError, Value};
use rampart_authz::acl::Actions;
use rampart_core::{AuditEvent, Error, Outcome, UserId};
use rampart_store::{AppDatabase, Expect, NewEvent, RowValues, StoredRecord};
use serde_json::{json, Map, Value as Json};
use time::format_description::well_known::Rfc3339;

pub(super) use super::events::write_event;
use super::events::{access_event, answered, written};
use super::keys::{EnvKeys, Place};
use super::{rows, EnvApps};
use crate::caller::Caller;
use crate::state::AppState;

/// An entity as a URL names it: `/apps/{environment}/{application}/api/{module}/{entity}`.
#[derive(Debug, Clone, Copy)]
pub struct EntityRef<'a> {
    /// The environment.
    pub environment: &'a str,
    /// The application.
    pub application: &'a str,
    /// The module declaring the entity.
    pub module: &'a str,
    /// The entity.
    pub entity: &'a str,
}

/// An entity the caller may use, resolved.
pub(super) struct Resolved {
    pub(super) db: AppDatabase,
    pub(super) table: Table,
    pub(super) target: Target,
    /// The environment's keys, when the entity has sensitive attributes.
    keys: Option<Arc<EnvKeys>>,
}

impl Resolved {
    fn keys(&self) -> Result<&EnvKeys, Error> {
        self.keys.as_deref().ok_or_else(|| {
            Error::Unavailable("the keys of sensitive values are not available".into())
        })
    }

    fn place<'a>(&'a self, column: &'a Column, record: &'a str) -> Place<'a> {
        Place {
            db: &self.db,
            table: &self.table.name,
            attribute: &column.attribute,
            record,
        }
    }
}

/// A page of the records the caller may read: of an entity, filtered and sorted as
/// `params` say; or, when `at.entity` is `queries/{Query}` (as the URL names it), of what
/// a module's structured query finds for its `params`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    params: &[(String, String)],
) -> Result<RecordPage, Error> {
    let page = match at.entity.strip_prefix("queries/") {
        Some(query) => query_page(state, caller, at, query, params).await,
        None => list_page(state, caller, at, params).await,
    };
    answered(state, caller, at, ("GET", None), page).await
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    params: &[(String, String)],
) -> Result<RecordPage, Error> {
    let r = resolve(state, caller, at, Verb::Read).await?;
    let mut request = parse_list(&r.table, params).map_err(invalid)?;
    page_of(state, caller, &r, &mut request).await
}

/// Cuts `records`, fetched one past `request`'s limit, to the page, and answers the next
/// page's cursor: the last record's sort key and id, when there is more.
pub fn cut_page(
    table: &Table,
    request: &rampart_apps::list::ListRequest,
    records: &mut Vec<StoredRecord>,
) -> Option<String> {
    let limit = request.limit as usize;
    if records.len() <= limit {
        return None;
    }
    records.truncate(limit);
    records.last().map(|last| {
        let key = match &request.sort.column {
            Some(c) => table
                .live_columns()
                .position(|x| x.name == c.name)
                .and_then(|i| last.values.get(i).cloned())
                .unwrap_or(Value::Null),
            None => Value::Null,
        };
        encode_cursor(&key, &last.id)
    })
}

/// A page of `request` under the caller's row rule, the next page's cursor with it.
async fn page_of(
    state: &AppState,
    caller: &Caller,
    r: &Resolved,
    request: &mut rampart_apps::list::ListRequest,
) -> Result<RecordPage, Error> {
    for f in request.filters.iter_mut().filter(|f| f.column.sensitive()) {
        let plain = f.value.text().unwrap_or_default();
        let index = r
            .keys()?
            .blind_index(&r.db, &r.table.name, &f.column.attribute, &plain);
        f.value = Value::Bytes(index);
    }
    let rows = row_filter(
        state,
        caller,
        &r.table,
        Actions::READ,
        i64::from(request.limit),
    );
    let statement = compile_list(&r.target, &r.table, request, &rows);
    let mut records = state.store.app_records(&r.db, &r.table, &statement).await?;
    let next_cursor = cut_page(&r.table, request, &mut records);
    Ok(RecordPage {
        items: records
            .iter()
            .map(|x| view(r, x))
            .collect::<Result<_, _>>()?,
        next_cursor,
        rows: None,
    })
}

/// The records query `name` of module `at.module` finds, under the caller's row rule.
async fn query_page(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    name: &str,
    params: &[(String, String)],
) -> Result<RecordPage, Error> {
    let not_found = || Error::NotFound { what: "query" };
    state.authz.fresh_since(caller.arrived, None).await?;
    if state.authz.view().it.environment(at.environment).is_none() {
        return Err(not_found());
    }
    let env = state
        .apps
        .env(state, at.environment, caller.arrived)
        .await?;
    let module = env
        .module(at.application, at.module)
        .ok_or_else(not_found)?;
    let query = module
        .queries
        .iter()
        .find(|q| q.name == name)
        .ok_or_else(not_found)?
        .clone();
    let roles = rampart_apps::access::query_roles(module, &query.name);
    if !holds_any(state, caller.user.id, at.application, &roles) {
        return Err(Error::Forbidden(format!(
            "running `{}` needs one of the roles {} of application `{}`",
            query.name,
            roles
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", "),
            at.application
        )));
    }
    if query.sql.is_some() {
        return super::advanced::page(state, caller, at, &env, &query, params).await;
    }
    // The query's entity, in its module or a dependency's (`module.Entity`).
    let (entity_module, entity) = match query.entity.split_once('.') {
        Some((m, e)) => (m, e),
        None => (at.module, query.entity.as_str()),
    };
    let r = resolve_entity(state, &env, at, entity_module, entity).await?;
    let mut request =
        rampart_apps::query::compile_query(&r.table, &query, params).map_err(invalid)?;
    page_of(state, caller, &r, &mut request).await
}

/// One record the caller may read.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
) -> Result<RecordView, Error> {
    let found = async {
        let r = resolve(state, caller, at, Verb::Read).await?;
        let id = record_id(id)?;
        let rows = row_filter(state, caller, &r.table, Actions::READ, 1);
        let statement = compile_get(&r.target, &r.table, &id, &rows);
        let found = state.store.app_records(&r.db, &r.table, &statement).await?;
        match found.first() {
            Some(record) => view(&r, record),
            None => Err(Error::NotFound { what: "record" }),
        }
    }
    .await;
    answered(state, caller, at, ("GET", Some(id)), found).await
}

/// Creates a record; the owner (for an entity with an owner rule) is the caller unless the
/// body names someone below them in the hierarchy.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    body: Json,
) -> Result<RecordView, Error> {
    let created = create_record(state, caller, at, body).await;
    written(state, caller, at, ("POST", None), created).await
}

async fn create_record(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    body: Json,
) -> Result<RecordView, Error> {
    let r = resolve(state, caller, at, Verb::Create).await?;
    let mut body = object(body)?;
    // The owner is the caller unless the body names one.
    if let Some(owner) = r.table.owner_column() {
        body.entry(owner.attribute.clone())
            .or_insert_with(|| Json::String(caller.user.id.to_string()));
    }
    referable(state, caller, at, &r.table, &body).await?;
    let id = UserId::new().to_string();
    let values = checked_values(state, caller, &r, &id, &body, true)?;
    let now = state.clock.now();
    let event = write_event(
        &caller.audit,
        at,
        "record.create",
        &id,
        &r.table,
        &values,
        now,
    );
    let access = access_event(state, caller, at, ("POST", None), &[&id], Ok(()));
    let (store, db, table, key) = (
        state.store.clone(),
        r.db.clone(),
        r.table.clone(),
        id.clone(),
    );
    let stored = detached(async move {
        store
            .app_insert(&db, &table, &key, &values, now, vec![event, access])
            .await
    })
    .await?;
    view(&r, &stored)
}

/// Changes the attributes the body gives, if the caller may write the record (otherwise
/// 404) and, with `if_match`, nobody changed it since that version (otherwise 409).
pub async fn update(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
    if_match: Option<i64>,
    body: Json,
) -> Result<RecordView, Error> {
    let updated = update_record(state, caller, at, id, if_match, body).await;
    written(state, caller, at, ("PATCH", Some(id)), updated).await
}

async fn update_record(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
    if_match: Option<i64>,
    body: Json,
) -> Result<RecordView, Error> {
    let r = resolve(state, caller, at, Verb::Update).await?;
    let id = record_id(id)?;
    let body = object(body)?;
    referable(state, caller, at, &r.table, &body).await?;
    let values = checked_values(state, caller, &r, &id, &body, false)?;
    let rows = write_rows(state, caller, &r, &id, &values).await?;
    let visible = compile_get(&r.target, &r.table, &id, &rows);
    let now = state.clock.now();
    let event = write_event(
        &caller.audit,
        at,
        "record.update",
        &id,
        &r.table,
        &values,
        now,
    );
    let access = access_event(state, caller, at, ("PATCH", Some(&id)), &[&id], Ok(()));
    let (store, db, table) = (state.store.clone(), r.db.clone(), r.table.clone());
    let stored = detached(async move {
        let expect = Expect {
            visible: &visible,
            version: if_match,
        };
        store
            .app_update(&db, &table, expect, &values, now, vec![event, access])
            .await
    })
    .await?;
    view(&r, &stored)
}

/// Deletes a record the caller may write (otherwise 404), at `if_match` if given.
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), Error> {
    let deleted = delete_record(state, caller, at, id, if_match).await;
    written(state, caller, at, ("DELETE", Some(id)), deleted)
        .await
        .map(|_| ())
}

async fn delete_record(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
    if_match: Option<i64>,
) -> Result<String, Error> {
    let r = resolve(state, caller, at, Verb::Delete).await?;
    let id = record_id(id)?;
    let rows = delete_rows(state, caller, &r, &id).await?;
    let visible = compile_get(&r.target, &r.table, &id, &rows);
    let now = state.clock.now();
    let event = write_event(
        &caller.audit,
        at,
        "record.delete",
        &id,
        &r.table,
        &RowValues::default(),
        now,
    );
    let access = access_event(state, caller, at, ("DELETE", Some(&id)), &[&id], Ok(()));
    let (store, db, table) = (state.store.clone(), r.db.clone(), r.table.clone());
    detached(async move {
        let expect = Expect {
            visible: &visible,
            version: if_match,
        };
        store
            .app_delete(&db, &table, expect, vec![event, access])
            .await
    })
    .await?;
    Ok(id)
}

/// Sets what one principal may do with a record the caller may change (otherwise 404):
/// `read`, `write`, or nothing (the grant removed). The entity's ACL must allow grants.
pub async fn grant(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
    req: GrantRequest,
) -> Result<(), Error> {
    let granted = grant_record(state, caller, at, id, req).await;
    written(state, caller, at, ("PUT", Some(id)), granted)
        .await
        .map(|_| ())
}

async fn grant_record(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
    req: GrantRequest,
) -> Result<String, Error> {
    let r = resolve(state, caller, at, Verb::Update).await?;
    let id = record_id(id)?;
    let mut bits = 0u8;
    for a in &req.actions {
        bits |= match a.as_str() {
            "read" => Actions::READ.bits(),
            "write" => Actions::WRITE.bits(),
            other => {
                return Err(Error::invalid(
                    "actions",
                    format!("`{other}` is not an action (read, write)"),
                ))
            }
        };
    }
    let (principal, described) = {
        let view = state.authz.view();
        let named = crate::authz::acl::principal(&req.principal, "principal")?;
        let p = view.principal(&named).ok_or_else(|| {
            Error::invalid(
                "principal",
                "is unknown to authorization: a user must sit in a hierarchy, belong to a group \
                 or hold a role before records are granted to them",
            )
        })?;
        (i64::from(p.raw()), view.describe(p))
    };
    let rows = row_filter(state, caller, &r.table, Actions::WRITE, 1);
    let visible = compile_get(&r.target, &r.table, &id, &rows);
    let now = state.clock.now();
    let details = json!({
        "application": at.application,
        "environment": at.environment,
        "module": at.module,
        "entity": at.entity,
        "record": id,
        "principal": described,
        "actions": req.actions,
    });
    let event = NewEvent::system(
        &caller.audit,
        &AuditEvent {
            action: "record.grant",
            target: Some(format!("record:{}.{}/{id}", at.module, at.entity)),
            outcome: Outcome::Success,
            details: details.to_string(),
        },
        now,
    );
    let access = access_event(state, caller, at, ("PUT", Some(&id)), &[&id], Ok(()));
    let (store, db, table) = (state.store.clone(), r.db.clone(), r.table.clone());
    detached(async move {
        let expect = Expect {
            visible: &visible,
            version: None,
        };
        store
            .app_grant(
                &db,
                &table,
                expect,
                (principal, i64::from(bits)),
                vec![event, access],
            )
            .await
    })
    .await?;
    Ok(id)
}

/// Who holds grants on a record the caller may change (otherwise 404, as one that does not
/// exist): whoever may grant sees the grants.
pub async fn grants(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    id: &str,
) -> Result<rampart_api::RecordGrants, Error> {
    let found = async {
        let r = resolve(state, caller, at, Verb::Update).await?;
        let id = record_id(id)?;
        let rows = row_filter(state, caller, &r.table, Actions::WRITE, 1);
        let visible = compile_get(&r.target, &r.table, &id, &rows);
        let expect = Expect {
            visible: &visible,
            version: None,
        };
        let held = state
            .store
            .app_record_grants(&r.db, &r.table, expect)
            .await?;
        let view = state.authz.view();
        let grants = held
            .into_iter()
            .filter_map(|(principal, bits)| {
                let p = rampart_authz::acl::Principal::from_raw(u32::try_from(principal).ok()?);
                let bits = u8::try_from(bits).ok()?;
                let actions = [(Actions::READ, "read"), (Actions::WRITE, "write")]
                    .into_iter()
                    .filter(|(a, _)| bits & a.bits() != 0)
                    .map(|(_, n)| n.to_owned())
                    .collect();
                Some(rampart_api::RecordGrant {
                    principal: view.describe(p),
                    actions,
                })
            })
            .collect();
        Ok((id, rampart_api::RecordGrants { grants }))
    }
    .await;
    answered(state, caller, at, ("GET", Some(id)), found)
        .await
        .map(|(_, g)| g)
}

/// The records a body's references name must be ones the caller may read.
async fn referable(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    table: &Table,
    body: &Map<String, Json>,
) -> Result<(), Error> {
    if !table
        .columns
        .iter()
        .any(|c| c.reference.as_deref().is_some_and(|r| r != "User"))
    {
        return Ok(());
    }
    let env = state
        .apps
        .env(state, at.environment, caller.arrived)
        .await?;
    let actor = super::actions::Actor {
        caller: Some(caller.clone()),
        audit: caller.audit.clone(),
    };
    let place = super::actions::Place {
        env: &env,
        environment: at.environment,
        application: at.application,
    };
    super::actions::referable(state, &actor, place, at.module, table, body).await
}

/// Runs a write to its end on a task of its own: a client that goes away mid-request must
/// not cancel a transaction between its statements (an application database has one
/// writer connection, which a cancelled transaction could leave unusable).
pub(super) async fn detached<T: Send + 'static>(
    write: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    tokio::spawn(write)
        .await
        .map_err(|e| Error::Internal(format!("a write task stopped: {e}")))?
}

/// The entity `at` names, if it runs there and the caller holds a role that opens it.
async fn resolve(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    verb: Verb,
) -> Result<Resolved, Error> {
    let not_found = Error::NotFound { what: "entity" };
    // The roles and the row rule decide from the index as of now (PostgreSQL: other nodes'
    // changes replayed first), as every authorization decision does.
    state.authz.fresh_since(caller.arrived, None).await?;
    if state.authz.view().it.environment(at.environment).is_none() {
        return Err(not_found);
    }
    let env = state
        .apps
        .env(state, at.environment, caller.arrived)
        .await?;
    let module = env
        .module(at.application, at.module)
        .ok_or(Error::NotFound { what: "entity" })?;
    let entity = module
        .entities
        .iter()
        .find(|e| e.name == at.entity)
        .ok_or(not_found)?
        .clone();
    let roles = data_roles(module, &entity.name, verb);
    if !holds_any(state, caller.user.id, at.application, &roles) {
        return Err(Error::Forbidden(format!(
            "{} `{}` needs one of the roles {} of application `{}`",
            match verb {
                Verb::Read => "reading",
                Verb::Create => "creating",
                Verb::Update => "changing",
                Verb::Delete => "deleting",
            },
            entity.name,
            if roles.is_empty() {
                "(none: no screen or action of the module does this)".to_owned()
            } else {
                roles
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            at.application
        )));
    }
    resolve_entity(state, &env, at, at.module, &entity.name).await
}

/// The table, database and keys of entity `entity` of module `module` running in `env`.
pub(super) async fn resolve_entity(
    state: &AppState,
    env: &Arc<EnvApps>,
    at: EntityRef<'_>,
    module: &str,
    entity: &str,
) -> Result<Resolved, Error> {
    let entity = env
        .module(at.application, module)
        .and_then(|m| m.entities.iter().find(|e| e.name == entity))
        .ok_or(Error::NotFound { what: "entity" })?
        .clone();
    let not_ready = || {
        Error::Unavailable(format!(
            "the data of `{module}.{}` is not ready in `{}`: its database has not been migrated to the running version",
            entity.name, at.environment
        ))
    };
    let (db, layout) = env
        .database(at.application, &entity.database)
        .ok_or_else(not_ready)?;
    let table = serving_table(layout, module, &entity).ok_or_else(not_ready)?;
    let keys = if table.columns.iter().any(Column::sensitive) {
        if !state.keys.configured() {
            return Err(Error::Unavailable(format!(
                "`{}` has sensitive attributes, and no master key is configured on this node \
                 ([keys] master_key) to encrypt them",
                entity.name
            )));
        }
        Some(
            state
                .keys
                .ensure(
                    &state.store,
                    &state.system_context(),
                    state.clock.now(),
                    at.environment,
                )
                .await?,
        )
    } else {
        None
    };
    let db = db.clone();
    let target = state.store.app_target(&db);
    Ok(Resolved {
        db,
        table,
        target,
        keys,
    })
}

/// Whether `user` holds one of `roles` in `application` now.
pub(super) fn holds_any(
    state: &AppState,
    user: UserId,
    application: &str,
    roles: &std::collections::BTreeSet<String>,
) -> bool {
    let view = state.authz.view();
    let (Some(num), Some(app)) = (view.user_num(user), view.app(application)) else {
        return false;
    };
    let now = state.clock.now().unix_timestamp() * 1000;
    roles.iter().any(|name| {
        view.role(app, name)
            .is_some_and(|role| view.roles.check(&view.acl, num, app, role, now).is_some())
    })
}

/// The row filter of `caller` for `action` on `table`.
pub(super) fn row_filter(
    state: &AppState,
    caller: &Caller,
    table: &Table,
    action: Actions,
    page: i64,
) -> RowFilter {
    if table.acl.is_none() {
        return RowFilter::All;
    }
    let view = state.authz.view();
    RowFilter::Rule(rows::rule(
        &view,
        &state.apps.member_sets,
        table,
        caller.user.id,
        action,
        page,
    ))
}

/// The rows `caller` may write `values` to: those of the write rule, but only those they own
/// or sit above in the hierarchy when `values` give record `id` another owner. A grant of
/// `write` lets its holder change a record's values, never whose it is: the owner and those
/// above them would lose it. A holder of such a grant who tries is told so (the record is
/// theirs to see); the write itself checks the narrower rule again, so a change of owner
/// in between cannot slip through.
pub(super) async fn write_rows(
    state: &AppState,
    caller: &Caller,
    r: &Resolved,
    id: &str,
    values: &RowValues,
) -> Result<RowFilter, Error> {
    let rows = row_filter(state, caller, &r.table, Actions::WRITE, 1);
    let Some((at, owner)) = r.table.owner_column().and_then(|o| {
        let at = r.table.live_columns().position(|c| c.name == o.name)?;
        let (_, _, v) = values.0.iter().find(|(n, _, _)| *n == o.name)?;
        Some((at, v))
    }) else {
        return Ok(rows);
    };
    if !rows.through_grants() {
        return Ok(rows);
    }
    let Some(current) = read_one(state, r, id, &rows).await?.pop() else {
        return Err(Error::NotFound { what: "record" });
    };
    if current.values.get(at) == Some(owner) {
        return Ok(rows);
    }
    owners_rows(state, r, id, rows, || {
        Error::invalid(
            "owner",
            "only the record's owner or someone above them in the hierarchy may give it \
             another owner; a grant lets you change its other values",
        )
    })
    .await
}

/// The rows `caller` may delete: for an entity with owners, those they own or sit above in
/// the hierarchy. A grant of `write` changes a record's values; deleting it would take it
/// from its owner and those above them, so a holder of such a grant is told so (403).
async fn delete_rows(
    state: &AppState,
    caller: &Caller,
    r: &Resolved,
    id: &str,
) -> Result<RowFilter, Error> {
    let rows = row_filter(state, caller, &r.table, Actions::WRITE, 1);
    // Without an owner, records are reached through grants alone, and so deleted.
    if r.table.owner_column().is_none() || !rows.through_grants() {
        return Ok(rows);
    }
    owners_rows(state, r, id, rows, || {
        Error::Forbidden(
            "only the record's owner or someone above them in the hierarchy may delete it; a \
             grant lets you change its values"
                .into(),
        )
    })
    .await
}

/// `rows` without its grants; `refused` when record `id` is writable through a grant only,
/// not found when not at all.
async fn owners_rows(
    state: &AppState,
    r: &Resolved,
    id: &str,
    rows: RowFilter,
    refused: impl FnOnce() -> Error,
) -> Result<RowFilter, Error> {
    let owners = rows.clone().without_grants();
    if !read_one(state, r, id, &owners).await?.is_empty() {
        return Ok(owners);
    }
    if read_one(state, r, id, &rows).await?.is_empty() {
        return Err(Error::NotFound { what: "record" });
    }
    Err(refused())
}

/// Record `id` if `rows` lets it through.
async fn read_one(
    state: &AppState,
    r: &Resolved,
    id: &str,
    rows: &RowFilter,
) -> Result<Vec<StoredRecord>, Error> {
    let statement = compile_get(&r.target, &r.table, id, rows);
    state.store.app_records(&r.db, &r.table, &statement).await
}

/// An owner a caller may give a record: themselves, or someone below them in the entity's
/// hierarchy (so the record stays within what they see).
fn may_own(state: &AppState, caller: &Caller, table: &Table, owner: &Value) -> Result<(), Error> {
    let refuse = || Error::invalid("owner", "must be you or someone who reports to you");
    let Value::Text(owner) = owner else {
        return Err(refuse());
    };
    let me = caller.user.id.to_string();
    if *owner == me {
        return Ok(());
    }
    let view = state.authz.view();
    let owner_id = UserId::parse(owner, "owner")?;
    let (Some(a), Some(o)) = (view.user_num(caller.user.id), view.user_num(owner_id)) else {
        return Err(refuse());
    };
    let tree = table
        .acl
        .as_ref()
        .and_then(|acl| acl.hierarchy.as_deref())
        .and_then(|name| view.hierarchy(name))
        .and_then(|(h, _)| view.acl.hierarchy(h).ok());
    match tree {
        Some(t) if t.contains(a, o).unwrap_or(false) => Ok(()),
        _ => Err(refuse()),
    }
}

/// A body's values for record `id`, checked against the table (every required attribute
/// when `create`, only those given otherwise) and sealed where sensitive; an owner it names
/// must be the caller or someone below them.
pub(super) fn checked_values(
    state: &AppState,
    caller: &Caller,
    r: &Resolved,
    id: &str,
    body: &Map<String, Json>,
    create: bool,
) -> Result<RowValues, Error> {
    let checked = check_record(&r.table, body, !create).map_err(invalid)?;
    let values = row_values(r, id, checked)?;
    if let Some(owner) = r.table.owner_column() {
        if let Some((_, _, v)) = values.0.iter().find(|(n, _, _)| *n == owner.name) {
            may_own(state, caller, &r.table, v)?;
        }
    }
    Ok(values)
}

/// A body's values for record `id` of an entity without owners, checked and sealed like
/// [`checked_values`] (for an anonymous action, which may not write an entity with an ACL).
pub(super) fn unowned_values(
    r: &Resolved,
    id: &str,
    body: &Map<String, Json>,
    create: bool,
) -> Result<RowValues, Error> {
    let checked = check_record(&r.table, body, !create).map_err(invalid)?;
    row_values(r, id, checked)
}

/// The values to write, each column with how it is stored: a sensitive value sealed for
/// its place, with its blind index when the attribute is unique.
fn row_values(r: &Resolved, id: &str, checked: Vec<(&Column, Value)>) -> Result<RowValues, Error> {
    let mut out = Vec::with_capacity(checked.len());
    for (column, value) in checked {
        if !column.sensitive() {
            out.push((column.name.clone(), column.storage, value));
            continue;
        }
        let plain = value.text();
        let sealed = match &plain {
            Some(text) => Value::Bytes(r.keys()?.seal(r.place(column, id), text)?),
            None => Value::Null,
        };
        out.push((column.name.clone(), column.storage, sealed));
        if let Some(bi) = column.blind_index() {
            let index = match &plain {
                Some(text) => Value::Bytes(r.keys()?.blind_index(
                    &r.db,
                    &r.table.name,
                    &column.attribute,
                    text,
                )),
                None => Value::Null,
            };
            out.push((bi, column.storage, index));
        }
    }
    Ok(RowValues(out))
}

/// A record as the API shows it, sensitive values opened.
pub(super) fn view(r: &Resolved, record: &StoredRecord) -> Result<RecordView, Error> {
    let mut values = Map::new();
    for (column, value) in r.table.live_columns().zip(&record.values) {
        let shown = match value {
            Value::Bytes(envelope) if column.sensitive() => {
                let text = r.keys()?.open(r.place(column, &record.id), envelope)?;
                from_text(column.ty, &text)
                    .map_err(|e| Error::Internal(format!("sealed `{}` {e}", column.attribute)))?
                    .to_json()
            }
            other => other.to_json(),
        };
        values.insert(column.attribute.clone(), shown);
    }
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    Ok(RecordView {
        id: record.id.clone(),
        version: record.version,
        created_at: time(record.created_at),
        updated_at: time(record.updated_at),
        values,
    })
}

fn object(body: Json) -> Result<Map<String, Json>, Error> {
    match body {
        Json::Object(map) => Ok(map),
        _ => Err(Error::invalid(
            "body",
            "must be a JSON object of attribute values",
        )),
    }
}

pub(super) fn record_id(id: &str) -> Result<String, Error> {
    rampart_apps::values::from_text(rampart_model::format::AttributeType::Reference, id)
        .ok()
        .and_then(|v| v.text())
        .ok_or(Error::NotFound { what: "record" })
}

/// Field errors as one invalid-input error: the first field named, every reason listed.
pub(super) fn invalid(errors: Vec<FieldError>) -> Error {
    let field = errors
        .first()
        .map_or_else(|| "body".to_owned(), |e| e.attribute.clone());
    let reason = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    Error::InvalidInput { field, reason }
}
