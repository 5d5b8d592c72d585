//! Actions: a module's server logic, run as the model declares it.
//!
//! An action runs its steps in order over a scope of `params` (checked against the declared
//! parameters), `user` and the variables earlier steps set (`into`, `assign`). Every write
//! of one run goes into one transaction on one application database, committed with the
//! writes' `system` events after the last step; a failing step rolls everything back, and
//! a write to a second database is refused (databases are isolated by construction).
//! Reads (`query` steps) see the run's own writes when they read the database it writes.
//!
//! Who may run what: the action's `roles` (any one, in the application) unless it is
//! `anonymous`; an action run by a `run` step is checked the same way, so a dependency's
//! action never runs for someone its own model would refuse. Row-level rules apply to
//! every read and write as in the data API; an anonymous run sees no row of an entity
//! with an ACL.

use std::collections::BTreeSet;
use std::sync::Arc;

use rampart_apps::eval::{eval_text, text, Scope};
use rampart_apps::list::{compile_get, compile_list, RowFilter, Rule};
use rampart_apps::pages::local_target;
use rampart_apps::values::from_text;
use rampart_authz::acl::Actions;
use rampart_core::{AuditContext, Error, UserId};
use rampart_model::format::{Parameter, Step};
use rampart_model::Module;
use rampart_store::{AppWrite, Expect, NewEvent};
use serde_json::{json, Map, Value as Json};

use super::data::{self, EntityRef, Resolved};
use super::EnvApps;
use crate::caller::Caller;
use crate::state::AppState;

/// How deep `run` steps may nest (a cycle of actions running each other stops here).
const MAX_DEPTH: usize = 8;

/// An action as a URL or a screen names it.
#[derive(Debug, Clone)]
pub struct ActionRef {
    /// The environment.
    pub environment: String,
    /// The application.
    pub application: String,
    /// The module declaring the action.
    pub module: String,
    /// The action.
    pub action: String,
}

/// Who runs an action: a signed-in user, or nobody (an anonymous action), with the
/// request's audit context either way.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The signed-in user, if any.
    pub caller: Option<Caller>,
    /// The audit context of the request (with the user as actor when signed in).
    pub audit: AuditContext,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ran {
    /// What the action returns: the last record of its `returns` entity that it read or
    /// wrote, or `null`.
    pub value: Json,
    /// Where a `redirect` step sends the user (a path on this site).
    pub redirect: Option<String>,
    /// The ids of the records the run wrote.
    pub written: Vec<String>,
}

/// Runs action `at` with `params` for `actor`; `object` and `method` name the request in
/// its `access` event (a screen's form, or an exposed endpoint). The run goes to its end on
/// a task of its own: a client that goes away cannot cut a transaction between steps.
pub async fn run(
    state: &AppState,
    actor: &Actor,
    at: &ActionRef,
    params: Map<String, Json>,
    (object, method): (&str, &str),
) -> Result<Ran, Error> {
    let (task_state, task_actor, task_at) = (state.clone(), actor.clone(), at.clone());
    let ran = data::detached(async move {
        let mut run = Steps::start(&task_state, &task_actor, &task_at).await?;
        let module = run.module(&task_at.module)?;
        let value = run.action(&module, &task_at.action, params, 0).await?;
        run.finish(value).await
    })
    .await;
    let allowed = !matches!(ran, Err(Error::Forbidden(_) | Error::Unauthenticated(_)));
    let mut event = NewEvent::access(
        &actor.audit,
        state.clock.now(),
        Some(&at.application),
        object,
        method,
        allowed,
    );
    event.environment = Some(at.environment.clone());
    event.details = json!({
        "method": method,
        "action": format!("{}.{}", at.module, at.action),
        "records": ran.as_ref().map(|r| r.written.clone()).unwrap_or_default(),
        "result": ran.as_ref().map_or_else(Error::code, |_| "ok"),
    })
    .to_string();
    state.audit.append(event).await?;
    ran
}

/// Whether `actor` may run `action` of an application: `Ok` or the refusal.
pub(super) fn may_run(
    state: &AppState,
    actor: &Actor,
    application: &str,
    roles: &[String],
    anonymous: bool,
    what: &str,
) -> Result<(), Error> {
    if anonymous {
        return Ok(());
    }
    let Some(caller) = &actor.caller else {
        return Err(Error::Unauthenticated("sign in first: this needs a role"));
    };
    let names: BTreeSet<String> = roles
        .iter()
        .map(|r| r.rsplit_once('.').map_or(r.as_str(), |(_, n)| n).to_owned())
        .collect();
    if data::holds_any(state, caller.user.id, application, &names) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "{what} needs one of the roles {} of application `{application}`",
        names
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The `user` an expression sees: id, name and display name, or `null` when anonymous.
pub(super) fn user_scope(actor: &Actor) -> Json {
    actor.caller.as_ref().map_or(Json::Null, |c| {
        json!({
            "id": c.user.id.to_string(),
            "name": c.user.username,
            "display_name": c.user.display_name,
            "email": c.user.email,
        })
    })
}

/// The row filter of `actor` for `action` on `table`: nobody sees rows of an entity with
/// an ACL without signing in.
pub(super) fn rows_of(
    state: &AppState,
    actor: &Actor,
    r: &Resolved,
    action: Actions,
    page: i64,
) -> RowFilter {
    match &actor.caller {
        Some(c) => data::row_filter(state, c, &r.table, action, page),
        None if r.table.acl.is_none() => RowFilter::All,
        None => RowFilter::Rule(Rule {
            owner: None,
            below: None,
            grantees: Vec::new(),
            action_bit: i64::from(action.bits()),
            walk: false,
        }),
    }
}

/// One run of an action and the actions it runs.
struct Steps<'a> {
    state: &'a AppState,
    env: Arc<EnvApps>,
    actor: &'a Actor,
    at: &'a ActionRef,
    /// The run's transaction, opened by its first write.
    write: Option<AppWrite>,
    events: Vec<NewEvent>,
    written: Vec<String>,
    redirect: Option<String>,
    /// The last record of each entity read or written, for `returns`.
    last: Vec<(String, Json)>,
}

impl<'a> Steps<'a> {
    async fn start(
        state: &'a AppState,
        actor: &'a Actor,
        at: &'a ActionRef,
    ) -> Result<Steps<'a>, Error> {
        if state.authz.view().it.environment(&at.environment).is_none() {
            return Err(Error::NotFound { what: "action" });
        }
        let arrived = actor
            .caller
            .as_ref()
            .map_or_else(|| state.fence.ticket(), |c| c.arrived);
        let env = state.apps.env(state, &at.environment, arrived).await?;
        Ok(Steps {
            state,
            env,
            actor,
            at,
            write: None,
            events: Vec::new(),
            written: Vec::new(),
            redirect: None,
            last: Vec::new(),
        })
    }

    /// Where this run reads: its environment and application.
    fn place(&self) -> Place<'_> {
        Place {
            env: &self.env,
            environment: &self.at.environment,
            application: &self.at.application,
        }
    }

    fn module(&self, name: &str) -> Result<Module, Error> {
        self.env
            .module(&self.at.application, name)
            .cloned()
            .ok_or(Error::NotFound { what: "action" })
    }

    /// `name` in `module`, or `other.Name` in a module of the same application.
    fn split<'n>(module: &'n str, name: &'n str) -> (&'n str, &'n str) {
        name.split_once('.').unwrap_or((module, name))
    }

    fn entity_ref<'e>(&'e self, module: &'e str, entity: &'e str) -> EntityRef<'e> {
        EntityRef {
            environment: &self.at.environment,
            application: &self.at.application,
            module,
            entity,
        }
    }

    async fn finish(mut self, value: Json) -> Result<Ran, Error> {
        if let Some(w) = self.write.take() {
            w.commit(&self.state.store, std::mem::take(&mut self.events))
                .await?;
        }
        Ok(Ran {
            value,
            redirect: self.redirect,
            written: self.written,
        })
    }

    /// Runs `name` of `module` with `params`; returns what it returns.
    fn action<'s>(
        &'s mut self,
        module: &'s Module,
        name: &'s str,
        params: Map<String, Json>,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Json, Error>> + Send + 's>> {
        Box::pin(async move {
            if depth > MAX_DEPTH {
                return Err(Error::Conflict(format!(
                    "actions run each other more than {MAX_DEPTH} deep"
                )));
            }
            let action = module
                .actions
                .iter()
                .find(|a| a.name == name)
                .ok_or(Error::NotFound { what: "action" })?;
            may_run(
                self.state,
                self.actor,
                &self.at.application,
                &action.roles,
                action.anonymous,
                &format!("running `{}.{}`", module.module, action.name),
            )?;
            let params = checked_params((&action.name, &action.parameters), params)?;
            let place = self.place();
            readable_references(
                self.state,
                self.actor,
                place,
                module,
                &action.parameters,
                &params,
            )
            .await?;
            let mut scope = Scope::new();
            scope.insert("params".into(), Json::Object(params));
            scope.insert("user".into(), user_scope(self.actor));
            for step in &action.steps {
                self.step(module, step, &mut scope, depth).await?;
            }
            Ok(match &action.returns {
                Some(entity) => {
                    let (_, entity) = Self::split(&module.module, entity);
                    self.last
                        .iter()
                        .rev()
                        .find(|(e, _)| e == entity)
                        .map_or(Json::Null, |(_, v)| v.clone())
                }
                None => Json::Null,
            })
        })
    }

    async fn step(
        &mut self,
        module: &Module,
        step: &Step,
        scope: &mut Scope,
        depth: usize,
    ) -> Result<(), Error> {
        let eval = |expr: &str, scope: &Scope| eval_text(expr, scope).map_err(Error::Internal);
        let eval_all = |map: &std::collections::BTreeMap<String, String>, scope: &Scope| {
            map.iter()
                .map(|(k, v)| Ok((k.clone(), eval(v, scope)?)))
                .collect::<Result<Map<String, Json>, Error>>()
        };
        match step {
            Step::Assign(vars) => {
                for (name, expr) in vars {
                    let value = eval(expr, scope)?;
                    scope.insert(name.clone(), value);
                }
            }
            Step::Query(q) => {
                let args = eval_all(&q.args, scope)?;
                let found = self.query(module, &q.query, &args).await?;
                if let Some(into) = &q.into {
                    scope.insert(into.clone(), found);
                }
            }
            Step::Create(w) => {
                let values = eval_all(&w.values, scope)?;
                let record = self.create(module, &w.entity, values).await?;
                if let Some(into) = &w.into {
                    scope.insert(into.clone(), record);
                }
            }
            Step::Update(w) => {
                let id = text(&eval(w.id.as_deref().unwrap_or("null"), scope)?);
                let values = eval_all(&w.values, scope)?;
                let record = self.change(module, &w.entity, &id, Some(values)).await?;
                if let Some(into) = &w.into {
                    scope.insert(into.clone(), record);
                }
            }
            Step::Delete(d) => {
                let id = text(&eval(&d.id, scope)?);
                self.change(module, &d.entity, &id, None).await?;
            }
            Step::Run(r) => {
                let args = eval_all(&r.args, scope)?;
                let (m, name) = Self::split(&module.module, &r.action);
                let target = self.module(m)?;
                let value = self.action(&target, name, args, depth + 1).await?;
                if let Some(into) = &r.into {
                    scope.insert(into.clone(), value);
                }
            }
            Step::Call(c) => {
                let args = eval_all(&c.args, scope)?;
                let answer = super::integrations::call(
                    self.state,
                    &self.actor.audit,
                    &self.at.environment,
                    &module.module,
                    &c.integration,
                    &c.method,
                    &args,
                )
                .await?;
                if let Some(into) = &c.into {
                    scope.insert(into.clone(), answer);
                }
            }
            Step::Redirect(r) => {
                let target = text(&eval(&r.target, scope)?);
                let base = format!("/apps/{}/{}", self.at.environment, self.at.application);
                let env = self.env.clone();
                let app = self.at.application.clone();
                let to = local_target(&target, &base, |s| env.screen(&app, s).is_some())
                    .ok_or_else(|| {
                        Error::invalid(
                            "redirect",
                            "leads off this site or to no screen of the application: \
                             a redirect names a screen or a path on this site",
                        )
                    })?;
                self.redirect = Some(to);
            }
        }
        Ok(())
    }

    /// The records a structured query finds for `args`, under the actor's read rule.
    async fn query(
        &mut self,
        module: &Module,
        name: &str,
        args: &Map<String, Json>,
    ) -> Result<Json, Error> {
        // Borrowed field by field: the run's transaction is lent to the query.
        let place = Place {
            env: &self.env,
            environment: &self.at.environment,
            application: &self.at.application,
        };
        let (entity, found) = query_records(
            self.state,
            self.actor,
            place,
            module,
            name,
            args,
            self.write.as_mut(),
        )
        .await?;
        if let Some(last) = found.last() {
            self.last.push((entity, last.clone()));
        }
        Ok(Json::Array(found))
    }

    /// The run's transaction on `r`'s database (opened now if this is the first write).
    async fn writer(&mut self, r: &Resolved) -> Result<&mut AppWrite, Error> {
        if let Some(w) = &self.write {
            if w.database().num != r.db.num {
                return Err(Error::Conflict(format!(
                    "an action writes one database: `{}` is in database `{}`, and this run \
                     already writes database `{}`",
                    r.table.entity,
                    r.db.name,
                    w.database().name
                )));
            }
        }
        if self.write.is_none() {
            self.write = Some(self.state.store.app_write(&r.db).await?);
        }
        self.write
            .as_mut()
            .ok_or_else(|| Error::Internal("the run's transaction is missing".into()))
    }

    async fn create(
        &mut self,
        module: &Module,
        entity: &str,
        mut values: Map<String, Json>,
    ) -> Result<Json, Error> {
        let (m, e) = Self::split(&module.module, entity);
        let r = data::resolve_entity(self.state, &self.env, self.entity_ref(m, e), m, e).await?;
        let caller = self.signed_in_for_acl(&r)?;
        if let (Some(owner), Some(c)) = (r.table.owner_column(), &caller) {
            values
                .entry(owner.attribute.clone())
                .or_insert_with(|| Json::String(c.user.id.to_string()));
        }
        let place = self.place();
        referable(self.state, self.actor, place, m, &r.table, &values).await?;
        let id = UserId::new().to_string();
        let checked = match &caller {
            Some(c) => data::checked_values(self.state, c, &r, &id, &values, true)?,
            None => data::unowned_values(&r, &id, &values, true)?,
        };
        let now = self.state.clock.now();
        let event = data::write_event(
            &self.actor.audit,
            self.entity_ref(m, e),
            "record.create",
            &id,
            &r.table,
            &checked,
            now,
        );
        let stored = self
            .writer(&r)
            .await?
            .insert(&r.table, &id, &checked, now)
            .await?;
        self.events.push(event);
        self.written.push(id);
        let record = record_json(data::view(&r, &stored)?);
        self.last.push((e.to_owned(), record.clone()));
        Ok(record)
    }

    /// Changes (`values`) or deletes (`None`) record `id`, under the actor's write rule.
    async fn change(
        &mut self,
        module: &Module,
        entity: &str,
        id: &str,
        values: Option<Map<String, Json>>,
    ) -> Result<Json, Error> {
        let (m, e) = Self::split(&module.module, entity);
        let r = data::resolve_entity(self.state, &self.env, self.entity_ref(m, e), m, e).await?;
        let caller = self.signed_in_for_acl(&r)?;
        let id = data::record_id(id)?;
        let now = self.state.clock.now();
        if let Some(v) = &values {
            let place = self.place();
            referable(self.state, self.actor, place, m, &r.table, v).await?;
        }
        let (verb, checked) = match &values {
            Some(v) => (
                "record.update",
                match &caller {
                    Some(c) => data::checked_values(self.state, c, &r, &id, v, false)?,
                    None => data::unowned_values(&r, &id, v, false)?,
                },
            ),
            None => ("record.delete", rampart_store::RowValues::default()),
        };
        let mut rows = rows_of(self.state, self.actor, &r, Actions::WRITE, 1);
        // A step that deletes, or names an owner, touches only records the actor owns or
        // sits above: a grant never takes a record from its owner (see `data::write_rows`).
        if let Some(o) = r.table.owner_column() {
            if values.is_none() || checked.0.iter().any(|(n, _, _)| *n == o.name) {
                rows = rows.without_grants();
            }
        }
        let visible = compile_get(&r.target, &r.table, &id, &rows);
        let expect = Expect {
            visible: &visible,
            version: None,
        };
        let event = data::write_event(
            &self.actor.audit,
            self.entity_ref(m, e),
            verb,
            &id,
            &r.table,
            &checked,
            now,
        );
        let w = self.writer(&r).await?;
        let stored = match values {
            Some(_) => w.update(&r.table, expect, &checked, now).await?,
            None => w.delete(&r.table, expect).await?,
        };
        self.events.push(event);
        self.written.push(id);
        let record = record_json(data::view(&r, &stored)?);
        self.last.push((e.to_owned(), record.clone()));
        Ok(record)
    }

    /// The signed-in caller; an anonymous run may not write an entity with an ACL.
    fn signed_in_for_acl(&self, r: &Resolved) -> Result<Option<Caller>, Error> {
        match (&self.actor.caller, &r.table.acl) {
            (None, Some(_)) => Err(Error::Unauthenticated(
                "sign in first: this entity's records have owners",
            )),
            (c, _) => Ok(c.clone()),
        }
    }
}

/// Where a run or a screen reads: what runs in the environment, and the names.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub(super) env: &'a Arc<EnvApps>,
    pub(super) environment: &'a str,
    pub(super) application: &'a str,
}

/// The records query `name` (of `module`, or `other.Query`) finds for `args` under the
/// actor's read rule, with the name of their entity; inside `write` when it is open on the
/// query's database, so a run reads its own writes.
pub(super) async fn query_records(
    state: &AppState,
    actor: &Actor,
    place: Place<'_>,
    module: &Module,
    name: &str,
    args: &Map<String, Json>,
    write: Option<&mut AppWrite>,
) -> Result<(String, Vec<Json>), Error> {
    let (m, q) = name.split_once('.').unwrap_or((&module.module, name));
    let owner = place
        .env
        .module(place.application, m)
        .ok_or(Error::NotFound { what: "query" })?;
    let query = owner
        .queries
        .iter()
        .find(|x| x.name == q)
        .ok_or(Error::NotFound { what: "query" })?;
    let (em, entity) = query
        .entity
        .split_once('.')
        .unwrap_or((&owner.module, &query.entity));
    let params: Vec<(String, String)> = args
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    if query.sql.is_some() {
        // Advanced SQL reads the caller's view of its tables, in a read-only connection of
        // its own (a run's writes are not in it until the run commits).
        let Some(caller) = &actor.caller else {
            return Err(Error::Unauthenticated(
                "sign in first: this query reads records with owners",
            ));
        };
        let at = EntityRef {
            environment: place.environment,
            application: place.application,
            module: &owner.module,
            entity: q,
        };
        let page = super::advanced::page(state, caller, at, place.env, query, &params).await?;
        let rows = page
            .rows
            .unwrap_or_default()
            .into_iter()
            .map(Json::Object)
            .collect();
        return Ok((entity.to_owned(), rows));
    }
    let at = EntityRef {
        environment: place.environment,
        application: place.application,
        module: em,
        entity,
    };
    let r = data::resolve_entity(state, place.env, at, em, entity).await?;
    let request =
        rampart_apps::query::compile_query(&r.table, query, &params).map_err(data::invalid)?;
    let found = read(state, actor, &r, &request, write).await?;
    Ok((entity.to_owned(), found))
}

/// A page of `request` under the actor's read rule, each record as an expression sees it.
pub(super) async fn read(
    state: &AppState,
    actor: &Actor,
    r: &Resolved,
    request: &rampart_apps::list::ListRequest,
    write: Option<&mut AppWrite>,
) -> Result<Vec<Json>, Error> {
    Ok(read_page(state, actor, r, request, write).await?.0)
}

/// [`read`], with the cursor of the next page if there is one.
pub(super) async fn read_page(
    state: &AppState,
    actor: &Actor,
    r: &Resolved,
    request: &rampart_apps::list::ListRequest,
    write: Option<&mut AppWrite>,
) -> Result<(Vec<Json>, Option<String>), Error> {
    let rows = rows_of(state, actor, r, Actions::READ, i64::from(request.limit));
    let statement = compile_list(&r.target, &r.table, request, &rows);
    let mut records = match write {
        Some(w) if w.database().num == r.db.num => w.records(&r.table, &statement).await?,
        _ => state.store.app_records(&r.db, &r.table, &statement).await?,
    };
    let next = data::cut_page(&r.table, request, &mut records);
    let page = records
        .iter()
        .map(|stored| data::view(r, stored).map(record_json))
        .collect::<Result<_, _>>()?;
    Ok((page, next))
}

/// `Ok` if every record a `reference` parameter names is one the actor may read (otherwise
/// `NotFound`, as if it did not exist): a parameter can never carry an id the caller could
/// not have seen into an action's steps.
pub(super) async fn readable_references(
    state: &AppState,
    actor: &Actor,
    place: Place<'_>,
    module: &Module,
    parameters: &[Parameter],
    values: &Map<String, Json>,
) -> Result<(), Error> {
    for p in parameters {
        let (Some(entity), Some(Json::String(id))) = (&p.entity, values.get(&p.name)) else {
            continue;
        };
        if p.ty != rampart_model::format::AttributeType::Reference || entity == "User" {
            continue;
        }
        let (m, e) = entity.split_once('.').unwrap_or((&module.module, entity));
        let at = EntityRef {
            environment: place.environment,
            application: place.application,
            module: m,
            entity: e,
        };
        let r = data::resolve_entity(state, place.env, at, m, e).await?;
        read_one(state, actor, &r, id).await?;
    }
    Ok(())
}

/// `Ok` if every record a `reference` attribute of `values` names (for `table`, of
/// `module`) is one the actor may read: a record cannot be tied to another the writer could
/// not see, or to one that does not exist (422, naming the attribute).
pub(super) async fn referable(
    state: &AppState,
    actor: &Actor,
    place: Place<'_>,
    module: &str,
    table: &rampart_apps::schema::Table,
    values: &Map<String, Json>,
) -> Result<(), Error> {
    for column in table.live_columns() {
        let (Some(target), Some(Json::String(id))) =
            (&column.reference, values.get(&column.attribute))
        else {
            continue;
        };
        if target == "User" {
            continue;
        }
        let (m, e) = target.split_once('.').unwrap_or((module, target));
        let at = EntityRef {
            environment: place.environment,
            application: place.application,
            module: m,
            entity: e,
        };
        let r = data::resolve_entity(state, place.env, at, m, e).await?;
        let id = data::record_id(id).map_err(|_| unknown_reference(&column.attribute, e))?;
        match read_one(state, actor, &r, &id).await {
            Err(Error::NotFound { .. }) => return Err(unknown_reference(&column.attribute, e)),
            other => other?,
        };
    }
    Ok(())
}

fn unknown_reference(attribute: &str, entity: &str) -> Error {
    Error::invalid(attribute, format!("names no `{entity}` record you may see"))
}

/// Record `id` if the actor may read it (otherwise `NotFound`, as if it did not exist).
pub(super) async fn read_one(
    state: &AppState,
    actor: &Actor,
    r: &Resolved,
    id: &str,
) -> Result<Json, Error> {
    let rows = rows_of(state, actor, r, Actions::READ, 1);
    let statement = compile_get(&r.target, &r.table, id, &rows);
    let found = state.store.app_records(&r.db, &r.table, &statement).await?;
    match found.first() {
        Some(stored) => data::view(r, stored).map(record_json),
        None => Err(Error::NotFound { what: "record" }),
    }
}

/// A record as an expression sees it: its attributes, `id` and `version`.
pub(super) fn record_json(view: rampart_api::RecordView) -> Json {
    let mut values = view.values;
    values.insert("id".into(), Json::String(view.id));
    values.insert("version".into(), Json::from(view.version));
    Json::Object(values)
}

/// The declared `parameters` of `of` from `given`, each checked against its type (in
/// canonical form); a missing required one, an unknown one or a wrong type is refused,
/// every problem listed.
pub(super) fn checked_params(
    (of, parameters): (&str, &[Parameter]),
    given: Map<String, Json>,
) -> Result<Map<String, Json>, Error> {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for name in given.keys() {
        if !parameters.iter().any(|p| &p.name == name) {
            problems.push(format!("`{name}` is not a parameter of `{of}`"));
        }
    }
    for p in parameters {
        let value = match given.get(&p.name) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        };
        match value {
            None if p.required => problems.push(format!("`{}` is required", p.name)),
            None => {
                out.insert(p.name.clone(), Json::Null);
            }
            Some(Json::Object(_) | Json::Array(_)) => {
                problems.push(format!("`{}` must be a single value", p.name));
            }
            Some(v) => {
                let as_text = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match from_text(p.ty, &as_text) {
                    Ok(value) => {
                        out.insert(p.name.clone(), value.to_json());
                    }
                    Err(reason) => problems.push(format!("`{}` {reason}", p.name)),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::InvalidInput {
            field: "params".into(),
            reason: problems.join("; "),
        })
    }
}
