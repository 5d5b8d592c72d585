//! Screens: what an end user opens in a browser at `/apps/{environment}/{application}/{Screen}`.
//!
//! Opening a screen is decided in this order, and nothing about a record is read before
//! its step: the screen must run in the application (otherwise 404); a screen that is not
//! `anonymous` needs a signed-in user (otherwise the sign-in page, then back) holding one
//! of its roles (otherwise the model's `on_denied` message or redirect, on this site only);
//! then its records are read under the user's row rule, as the data API reads them. Every
//! opening and every form sent appends an `access` event with the records it read or wrote.

use rampart_apps::eval::Scope;
use rampart_apps::list::parse_list;
use rampart_apps::pages::{build, local_target, Links, Page};
use rampart_core::Error;
use rampart_model::format::{AttributeType, Screen, ScreenKind, WidgetKind};
use rampart_model::Module;
use rampart_store::NewEvent;
use serde_json::{json, Map, Value as Json};

use super::actions::{self, checked_params, query_records, read_page, Actor, Place, Ran};
use super::data::{self, EntityRef};
use crate::state::AppState;

/// A screen as its URL names it.
#[derive(Debug, Clone)]
pub struct ScreenRef {
    /// The environment.
    pub environment: String,
    /// The application.
    pub application: String,
    /// The screen.
    pub screen: String,
}

impl ScreenRef {
    /// The application's root path: `/apps/{environment}/{application}`.
    pub fn base(&self) -> String {
        format!("/apps/{}/{}", self.environment, self.application)
    }

    fn path(&self) -> String {
        format!("{}/{}", self.base(), self.screen)
    }
}

/// What opening a screen gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// The page.
    Page(Page),
    /// The user may not open it: the model's message, or the refusal.
    Denied(String),
    /// The user may not open it, and the model sends them here (a path on this site).
    Redirect(String),
    /// The screen needs a signed-in user.
    SignIn,
}

/// Opens screen `at` with the URL's `params` for `actor`; `filled` (a form sent back with a
/// problem) replaces the record's values a form shows.
pub async fn open(
    state: &AppState,
    actor: &Actor,
    at: &ScreenRef,
    params: Map<String, Json>,
    filled: Option<Map<String, Json>>,
) -> Result<Opened, Error> {
    let opened = open_screen(state, actor, at, params, filled).await;
    let (allowed, records) = match &opened {
        Ok((Opened::Page(_), ids)) => (true, ids.clone()),
        Ok(_) => (false, Vec::new()),
        Err(e) => (!matches!(e, Error::Forbidden(_)), Vec::new()),
    };
    recorded(state, actor, at, ("GET", allowed, &records), &opened).await?;
    opened.map(|(o, _)| o)
}

/// Runs the action of a button of screen `at` with the fields of its form (those the
/// action declares as parameters; the others are not the action's).
pub async fn submit(
    state: &AppState,
    actor: &Actor,
    at: &ScreenRef,
    action: &str,
    fields: Map<String, Json>,
) -> Result<Submitted, Error> {
    let (module, screen) = running(state, at).await?;
    if let Err(refused) = may_open(state, actor, at, &screen, &Map::new()).await {
        recorded(state, actor, at, ("POST", false, &[]), &Ok::<_, Error>(())).await?;
        return Ok(Submitted::Refused(refused));
    }
    let found = button_action(state, at, &module, &screen, action).await;
    let (action, params) = match found {
        Ok(target) => {
            let params = fields
                .into_iter()
                .filter(|(k, _)| target.1.contains(k))
                .collect();
            (target.0, params)
        }
        Err(e) => {
            // The run records its own event; a form refused before it, here.
            let outcome = Err::<(), _>(e);
            recorded(state, actor, at, ("POST", true, &[]), &outcome).await?;
            return Err(outcome.err().unwrap_or(Error::NotFound { what: "action" }));
        }
    };
    let ran = actions::run(state, actor, &action, params, (&at.path(), "POST")).await?;
    Ok(Submitted::Ran(ran))
}

/// The action a button of `screen` names, and the names of its parameters.
async fn button_action(
    state: &AppState,
    at: &ScreenRef,
    module: &Module,
    screen: &Screen,
    action: &str,
) -> Result<(actions::ActionRef, Vec<String>), Error> {
    let declared = screen
        .widgets
        .iter()
        .filter(|w| w.kind == WidgetKind::Button)
        .filter_map(|w| w.action.as_deref())
        .find(|a| *a == action || a.rsplit_once('.').is_some_and(|(_, n)| n == action));
    let Some(declared) = declared else {
        return Err(Error::invalid(
            "_action",
            format!(
                "`{action}` is not an action of a button of screen `{}`",
                screen.name
            ),
        ));
    };
    let (m, name) = declared
        .split_once('.')
        .unwrap_or((module.module.as_str(), declared));
    let env = state
        .apps
        .env(state, &at.environment, state.fence.ticket())
        .await?;
    let target = env
        .module(&at.application, m)
        .and_then(|m| m.actions.iter().find(|a| a.name == name))
        .ok_or(Error::NotFound { what: "action" })?;
    let action = actions::ActionRef {
        environment: at.environment.clone(),
        application: at.application.clone(),
        module: m.to_owned(),
        action: name.to_owned(),
    };
    let names = target.parameters.iter().map(|p| p.name.clone()).collect();
    Ok((action, names))
}

/// Whether `application` runs in `environment` (it has a module deployed there).
pub async fn runs(state: &AppState, environment: &str, application: &str) -> Result<bool, Error> {
    if state.authz.view().it.environment(environment).is_none() {
        return Ok(false);
    }
    let env = state
        .apps
        .env(state, environment, state.fence.ticket())
        .await?;
    Ok(!env.screens(application).is_empty() || env.has_application(application))
}

/// Records a form of `path` refused before anything ran (no CSRF token, another site's
/// `Origin`): a trace of the attempt, with who sent it if a session came with it.
pub async fn refused_form(
    state: &AppState,
    actor: &Actor,
    (environment, application, path): (&str, &str, &str),
    reason: &str,
) -> Result<(), Error> {
    let mut event = NewEvent::access(
        &actor.audit,
        state.clock.now(),
        Some(application),
        path,
        "POST",
        false,
    );
    event.environment = Some(environment.to_owned());
    event.details = json!({ "method": "POST", "records": [], "result": reason }).to_string();
    state.audit.append(event).await.map(|_| ())
}

/// The screens of an application `actor` may open from its home page (those needing no
/// parameter), as name and description; `None` when nothing is open to them without
/// signing in.
pub async fn home(
    state: &AppState,
    actor: &Actor,
    environment: &str,
    application: &str,
) -> Result<Option<Vec<(String, String)>>, Error> {
    if state.authz.view().it.environment(environment).is_none() {
        return Err(Error::NotFound {
            what: "application",
        });
    }
    let env = state
        .apps
        .env(state, environment, state.fence.ticket())
        .await?;
    let screens = env.screens(application);
    if screens.is_empty() {
        return Err(Error::NotFound {
            what: "application",
        });
    }
    let open: Vec<(String, String)> = screens
        .into_iter()
        .filter(|s| s.parameters.iter().all(|p| !p.required))
        .filter(|s| actions::may_run(state, actor, application, &s.roles, s.anonymous, "").is_ok())
        .map(|s| (s.name.clone(), s.description.clone()))
        .collect();
    Ok((actor.caller.is_some() || !open.is_empty()).then_some(open))
}

/// What sending a screen's form gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// The action ran.
    Ran(Ran),
    /// The user may not use the screen.
    Refused(Opened),
}

/// The running screen `at` names, with its module.
async fn running(state: &AppState, at: &ScreenRef) -> Result<(Module, Screen), Error> {
    if state.authz.view().it.environment(&at.environment).is_none() {
        return Err(Error::NotFound { what: "screen" });
    }
    let env = state
        .apps
        .env(state, &at.environment, state.fence.ticket())
        .await?;
    env.screen(&at.application, &at.screen)
        .map(|(m, s)| (m.clone(), s.clone()))
        .ok_or(Error::NotFound { what: "screen" })
}

/// `Ok` if `actor` may open `screen`, else what they get instead.
async fn may_open(
    state: &AppState,
    actor: &Actor,
    at: &ScreenRef,
    screen: &Screen,
    params: &Map<String, Json>,
) -> Result<(), Opened> {
    let what = format!("opening `{}`", screen.name);
    match actions::may_run(
        state,
        actor,
        &at.application,
        &screen.roles,
        screen.anonymous,
        &what,
    ) {
        Ok(()) => Ok(()),
        Err(Error::Unauthenticated(_)) => Err(Opened::SignIn),
        Err(refusal) => {
            let denied = screen.on_denied.as_ref();
            if let Some(redirect) = denied.and_then(|d| d.redirect.as_deref()) {
                let mut scope = Scope::new();
                scope.insert("params".into(), Json::Object(params.clone()));
                scope.insert("user".into(), actions::user_scope(actor));
                let target = rampart_apps::eval::eval_text(redirect, &scope)
                    .map(|v| rampart_apps::eval::text(&v))
                    .unwrap_or_default();
                let env = state
                    .apps
                    .env(state, &at.environment, state.fence.ticket())
                    .await;
                let local = env.ok().and_then(|env| {
                    local_target(&target, &at.base(), |s| {
                        env.screen(&at.application, s).is_some()
                    })
                });
                if let Some(path) = local {
                    return Err(Opened::Redirect(path));
                }
            }
            Err(Opened::Denied(
                denied
                    .and_then(|d| d.message.clone())
                    .unwrap_or_else(|| refusal.to_string()),
            ))
        }
    }
}

/// The query parameter a list screen's next-page link carries its cursor in (the
/// leading `_` keeps it apart from the parameters a model declares).
pub const PAGE_CURSOR: &str = "_after";

async fn open_screen(
    state: &AppState,
    actor: &Actor,
    at: &ScreenRef,
    params: Map<String, Json>,
    filled: Option<Map<String, Json>>,
) -> Result<(Opened, Vec<String>), Error> {
    let (module, screen) = running(state, at).await?;
    if let Err(instead) = may_open(state, actor, at, &screen, &params).await {
        return Ok((instead, Vec::new()));
    }
    // A list's later page: the cursor the previous page's link carried.
    let after = params
        .get(PAGE_CURSOR)
        .and_then(Json::as_str)
        .map(str::to_owned);
    // A link may carry more than the screen declares (a campaign tag, say): only what it
    // declares is read, and checked.
    let params: Map<String, Json> = params
        .into_iter()
        .filter(|(k, _)| screen.parameters.iter().any(|p| &p.name == k))
        .collect();
    let params = checked_params((&screen.name, &screen.parameters), params)?;
    let env = state
        .apps
        .env(state, &at.environment, state.fence.ticket())
        .await?;
    let place = Place {
        env: &env,
        environment: &at.environment,
        application: &at.application,
    };
    let entity_name = screen.entity.as_deref();
    let entity = entity_name.and_then(|e| {
        let (m, n) = e.split_once('.').unwrap_or((&module.module, e));
        env.module(&at.application, m)
            .and_then(|m| m.entities.iter().find(|x| x.name == n))
            .map(|x| (m.to_owned(), x.clone()))
    });
    let mut next = None;
    let mut records: Vec<Json> = match (screen.kind, &screen.query, &entity) {
        (ScreenKind::List, Some(query), _) => {
            query_records(state, actor, place, &module, query, &params, None)
                .await?
                .1
        }
        (ScreenKind::List, None, Some((m, e))) => {
            let r = resolve(state, place, m, &e.name).await?;
            let cursor: Vec<(String, String)> = after
                .iter()
                .map(|c| ("cursor".to_owned(), c.clone()))
                .collect();
            let request = parse_list(&r.table, &cursor).map_err(|errors| {
                match errors.iter().any(|e| e.attribute == "cursor") {
                    true => Error::invalid(
                        PAGE_CURSOR,
                        "this page's link is not one the list gave; go back to its first page",
                    ),
                    false => data::invalid(errors),
                }
            })?;
            let (page, more) = read_page(state, actor, &r, &request, None).await?;
            next = more;
            page
        }
        (_, _, Some((m, e))) => match record_param(&screen, &params) {
            Some(id) => {
                let r = resolve(state, place, m, &e.name).await?;
                let id = data::record_id(&id)?;
                vec![actions::read_one(state, actor, &r, &id).await?]
            }
            None if screen.kind == ScreenKind::Detail => {
                return Err(Error::invalid(
                    "params",
                    format!("screen `{}` shows one record: give its id", screen.name),
                ))
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let place = Place {
        env: &env,
        environment: &at.environment,
        application: &at.application,
    };
    actions::readable_references(state, actor, place, &module, &screen.parameters, &params).await?;
    let ids = records
        .iter()
        .filter_map(|r| r.get("id").and_then(Json::as_str).map(str::to_owned))
        .collect();
    // A new record's form starts from the parameters named like its attributes.
    let filled = match (screen.kind, &entity, filled) {
        (ScreenKind::Form, Some((_, e)), None) if records.is_empty() => {
            let given: Map<String, Json> = params
                .iter()
                .filter(|(k, v)| !v.is_null() && e.attributes.iter().any(|a| &a.name == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (!given.is_empty()).then_some(given)
        }
        (_, _, filled) => filled,
    };
    if let (Some(values), ScreenKind::Form) = (filled, screen.kind) {
        let mut record = records
            .pop()
            .and_then(|r| r.as_object().cloned())
            .unwrap_or_default();
        record.extend(values);
        records = vec![Json::Object(record)];
    }
    let mut scope = Scope::new();
    scope.insert("params".into(), Json::Object(params));
    scope.insert("user".into(), actions::user_scope(actor));
    let objects: Vec<Map<String, Json>> = records
        .into_iter()
        .filter_map(|r| r.as_object().cloned())
        .collect();
    let base = at.base();
    let is_screen = |s: &str| env.screen(&at.application, s).is_some();
    // A list over a query links its rows as a list over the query's entity would.
    let listed = match (&entity, &screen.query) {
        (Some((_, e)), _) => Some(e.name.clone()),
        (None, Some(q)) => {
            let (m, name) = q.split_once('.').unwrap_or((&module.module, q));
            env.module(&at.application, m)
                .and_then(|m| m.queries.iter().find(|x| x.name == name))
                .map(|x| x.entity.clone())
        }
        (None, None) => None,
    };
    let detail = listed
        .and_then(|e| env.detail_screen(&at.application, &e))
        .map(|(screen, param)| format!("{base}/{screen}?{param}="));
    let links = Links {
        base: &base,
        is_screen: &is_screen,
        detail,
    };
    let mut page = build(
        &screen,
        entity.as_ref().map(|(_, e)| e),
        &scope,
        &objects,
        &links,
    );
    // The pager keeps the screen's own parameters.
    let link = |cursor: Option<&str>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(Json::Object(params)) = scope.get("params") {
            for (k, v) in params {
                match v {
                    Json::Null => {}
                    Json::String(s) => {
                        query.append_pair(k, s);
                    }
                    other => {
                        query.append_pair(k, &other.to_string());
                    }
                }
            }
        }
        if let Some(c) = cursor {
            query.append_pair(PAGE_CURSOR, c);
        }
        let query = query.finish();
        let name = &screen.name;
        match query.is_empty() {
            true => format!("{base}/{name}"),
            false => format!("{base}/{name}?{query}"),
        }
    };
    page.next = next.as_deref().map(|c| link(Some(c)));
    page.first = after.is_some().then(|| link(None));
    Ok((Opened::Page(page), ids))
}

/// The id of the record a detail or form screen shows: its parameter referring to the
/// screen's entity, or one named `id`.
fn record_param(screen: &Screen, params: &Map<String, Json>) -> Option<String> {
    let entity = screen.entity.as_deref()?;
    let short = entity.rsplit_once('.').map_or(entity, |(_, n)| n);
    screen
        .parameters
        .iter()
        .find(|p| {
            p.ty == AttributeType::Reference
                && p.entity.as_deref().is_some_and(|e| {
                    e == entity || e.rsplit_once('.').map_or(e, |(_, n)| n) == short
                })
        })
        .map(|p| p.name.as_str())
        .or_else(|| params.contains_key("id").then_some("id"))
        .and_then(|name| params.get(name))
        .and_then(Json::as_str)
        .map(str::to_owned)
}

async fn resolve(
    state: &AppState,
    place: Place<'_>,
    module: &str,
    entity: &str,
) -> Result<data::Resolved, Error> {
    let at = EntityRef {
        environment: place.environment,
        application: place.application,
        module,
        entity,
    };
    data::resolve_entity(state, place.env, at, module, entity).await
}

/// Appends the `access` event of a screen opened or sent.
async fn recorded<T>(
    state: &AppState,
    actor: &Actor,
    at: &ScreenRef,
    (method, allowed, records): (&str, bool, &[String]),
    outcome: &Result<T, Error>,
) -> Result<(), Error> {
    let mut event = NewEvent::access(
        &actor.audit,
        state.clock.now(),
        Some(&at.application),
        &at.path(),
        method,
        allowed,
    );
    event.environment = Some(at.environment.clone());
    event.details = json!({
        "method": method,
        "screen": at.screen,
        "records": records,
        "result": outcome.as_ref().map_or_else(Error::code, |_| "ok"),
    })
    .to_string();
    state.audit.append(event).await.map(|_| ())
}
