//! `apps_bench serve`: a node, plus the benchmark-only routes under `/bench/` that read and
//! write the same entity's table without authentication, roles, the row-level rule or
//! audit (see the crate's header). They resolve the entity as the data API does (what runs
//! in the environment, the module, the database and its serving table), then make the same
//! store calls with the same statements, built by the same functions with `RowFilter::All`,
//! and render the same JSON.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rampart_api::{RecordPage, RecordView};
use rampart_apps::access::serving_table;
use rampart_apps::ddl::Target;
use rampart_apps::list::{compile_get, compile_list, encode_cursor, parse_list, RowFilter};
use rampart_apps::schema::Table;
use rampart_apps::values::{check_record, Value};
use rampart_authz::acl::Actions;
use rampart_core::{AuditContext, Clock, Error, SystemClock, UserId};
use rampart_server::Server;
use rampart_service::{AppState, Config, Overrides};
use rampart_store::{AppDatabase, NewEvent, RowValues, StoredRecord};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use time::format_description::well_known::Rfc3339;

/// Starts the node, serves its router and the benchmark routes on `addr`, prints
/// `ready ADDR`, and stops on SIGTERM or SIGINT.
pub async fn serve(dir: &Path, addr: &str) {
    let overrides = Overrides {
        data_dir: Some(dir.to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::load(&overrides, std::env::vars()).unwrap().config;
    // The node's own listeners are not used: everything is served on `addr` below.
    config.https_addr = "127.0.0.1:0".into();
    config.http_addr = "127.0.0.1:0".into();
    let server = Server::start(config, Arc::new(SystemClock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let state = server.state.clone();
    if !state.config.database_url.is_empty() {
        let _ = RLS.set(crate::pg::rls_pool(&state.config.database_url).await);
    }
    let app = rampart_server::router(state.clone()).merge(routes(state.clone()));
    crate::listener::serve_until_signalled(dir, addr, app, state.metrics.clone()).await;
    server.shutdown().await;
}

/// On PostgreSQL, the pool the set-based RLS baseline reads through (see [`crate::pg`]).
static RLS: std::sync::OnceLock<sqlx::PgPool> = std::sync::OnceLock::new();

/// The benchmark-only routes.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/bench/apps/{environment}/{application}/api/{module}/{entity}",
            get(list).post(create),
        )
        .route(
            "/bench/apps/{environment}/{application}/api/{module}/{entity}/{id}",
            get(get_one),
        )
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct EntityPath {
    environment: String,
    application: String,
    module: String,
    entity: String,
}

#[derive(Debug, Deserialize)]
struct RecordPath {
    environment: String,
    application: String,
    module: String,
    entity: String,
    id: String,
}

/// An error as a bare status (these routes are never seen by anyone but the benchmark).
struct Failed(Error);

/// How many failures were reported on standard error (the first few are).
static REPORTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        if REPORTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
            eprintln!("benchmark-only route failed: {:?}", self.0);
        }
        let status = match self.0 {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.0.to_string()).into_response()
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed(e)
    }
}

/// The entity's database, serving table and statement target, found as the data API finds
/// them (without the roles).
struct Resolved {
    db: AppDatabase,
    table: Table,
    target: Target,
}

async fn resolve(
    state: &AppState,
    environment: &str,
    application: &str,
    module: &str,
    entity: &str,
) -> Result<Resolved, Error> {
    let not_found = || Error::NotFound { what: "entity" };
    let env = state
        .apps
        .env(state, environment, state.fence.ticket())
        .await?;
    let m = env.module(application, module).ok_or_else(not_found)?;
    let entity = m
        .entities
        .iter()
        .find(|e| e.name == entity)
        .ok_or_else(not_found)?;
    let (db, layout) = env
        .database(application, &entity.database)
        .ok_or_else(not_found)?;
    let table = serving_table(layout, module, entity).ok_or_else(not_found)?;
    Ok(Resolved {
        db: db.clone(),
        target: state.store.app_target(db),
        table,
    })
}

/// `x-bench-as: <user id>`: apply that user's row rule for `action`; otherwise none.
fn rows(
    state: &AppState,
    headers: &HeaderMap,
    table: &Table,
    action: Actions,
    page: i64,
) -> Result<(RowFilter, Option<UserId>), Error> {
    let Some(value) = headers.get("x-bench-as") else {
        return Ok((RowFilter::All, None));
    };
    let user = UserId::parse(value.to_str().unwrap_or_default(), "x-bench-as")?;
    let view = state.authz.view();
    Ok((
        RowFilter::Rule(rampart_service::apps::rows::rule(
            &view,
            &state.apps.member_sets,
            table,
            user,
            action,
            page,
        )),
        Some(user),
    ))
}

/// `x-bench-audit: 1`: append the access event the data API appends, and wait for it.
async fn audited(
    state: &AppState,
    headers: &HeaderMap,
    user: Option<UserId>,
    p: (&str, &str, &str, &str),
    method: &str,
    records: &[&str],
) -> Result<(), Error> {
    if headers.get("x-bench-audit").is_none() {
        return Ok(());
    }
    let ctx = AuditContext {
        actor_id: user,
        actor_name: user.map(|u| format!("end:{u}")),
        node_id: state.config.node_id.clone(),
        ..AuditContext::default()
    };
    let object = format!("/apps/{}/{}/api/{}/{}", p.0, p.1, p.2, p.3);
    let mut event = NewEvent::access(&ctx, state.clock.now(), Some(p.1), &object, method, true);
    event.environment = Some(p.0.to_owned());
    event.details = json!({ "method": method, "records": records }).to_string();
    state.audit.append(event).await.map(|_| ())
}

/// The first page of the table (or the page the parameters ask for), as the data API lists.
async fn list(
    State(state): State<AppState>,
    UrlPath(p): UrlPath<EntityPath>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, Failed> {
    let r = resolve(&state, &p.environment, &p.application, &p.module, &p.entity).await?;
    let request = parse_list(&r.table, &params).map_err(|errors| Error::InvalidInput {
        field: "query".into(),
        reason: format!("{errors:?}"),
    })?;
    // `x-bench-rls: <user number>`: the page under PostgreSQL's RLS policy instead.
    if let Some(user) = headers.get("x-bench-rls") {
        let user: i64 = user
            .to_str()
            .ok()
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| Error::invalid("x-bench-rls", "a user number"))?;
        let pool = RLS
            .get()
            .ok_or_else(|| Error::Unavailable("RLS is PostgreSQL's".into()))?;
        let mut items = crate::pg::rls_page(pool, &r.target, &r.table, &request, user)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let limit = request.limit as usize;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|last| encode_cursor(&Value::Null, &last.id))
        } else {
            None
        };
        let page = RecordPage {
            items,
            next_cursor,
            rows: None,
        };
        return Ok(rampart_server::error::Json(page).into_response());
    }
    let (rows, user) = rows(
        &state,
        &headers,
        &r.table,
        Actions::READ,
        i64::from(request.limit),
    )?;
    let statement = compile_list(&r.target, &r.table, &request, &rows);
    let mut records = state.store.app_records(&r.db, &r.table, &statement).await?;
    let next_cursor = rampart_service::apps::data::cut_page(&r.table, &request, &mut records);
    let ids: Vec<&str> = records.iter().map(|x| x.id.as_str()).collect();
    let at = (
        p.environment.as_str(),
        p.application.as_str(),
        p.module.as_str(),
        p.entity.as_str(),
    );
    audited(&state, &headers, user, at, "GET", &ids).await?;
    let page = RecordPage {
        items: records.iter().map(|x| view(&r.table, x)).collect(),
        next_cursor,
        rows: None,
    };
    Ok(rampart_server::error::Json(page).into_response())
}

/// One record by id.
async fn get_one(
    State(state): State<AppState>,
    UrlPath(p): UrlPath<RecordPath>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    let r = resolve(&state, &p.environment, &p.application, &p.module, &p.entity).await?;
    let id =
        rampart_apps::values::from_text(rampart_model::format::AttributeType::Reference, &p.id)
            .ok()
            .and_then(|v| v.text())
            .ok_or(Error::NotFound { what: "record" })?;
    let (rows, user) = rows(&state, &headers, &r.table, Actions::READ, 1)?;
    let statement = compile_get(&r.target, &r.table, &id, &rows);
    let found = state.store.app_records(&r.db, &r.table, &statement).await?;
    let record = found.first().ok_or(Error::NotFound { what: "record" })?;
    let at = (
        p.environment.as_str(),
        p.application.as_str(),
        p.module.as_str(),
        p.entity.as_str(),
    );
    audited(&state, &headers, user, at, "GET", &[record.id.as_str()]).await?;
    Ok(with_etag(StatusCode::OK, view(&r.table, record)))
}

/// Creates a record from the body's values (the owner must be in the body, or come from
/// `x-bench-as`).
async fn create(
    State(state): State<AppState>,
    UrlPath(p): UrlPath<EntityPath>,
    headers: HeaderMap,
    rampart_server::error::Json(body): rampart_server::error::Json<Json>,
) -> Result<Response, Failed> {
    let r = resolve(&state, &p.environment, &p.application, &p.module, &p.entity).await?;
    let Json::Object(body) = body else {
        return Err(Error::invalid("body", "must be an object").into());
    };
    let checked = check_record(&r.table, &body, true).map_err(|errors| Error::InvalidInput {
        field: "body".into(),
        reason: format!("{errors:?}"),
    })?;
    let mut values = RowValues(
        checked
            .into_iter()
            .map(|(c, v)| (c.name.clone(), c.storage, v))
            .collect(),
    );
    let (_, user) = rows(&state, &headers, &r.table, Actions::WRITE, 1)?;
    if let (Some(owner), Some(user)) = (r.table.owner_column(), user) {
        if !values.0.iter().any(|(n, _, _)| *n == owner.name) {
            values.0.push((
                owner.name.clone(),
                owner.storage,
                Value::Text(user.to_string()),
            ));
        }
    }
    let id = UserId::new().to_string();
    let now = state.clock.now();
    let at = (
        p.environment.as_str(),
        p.application.as_str(),
        p.module.as_str(),
        p.entity.as_str(),
    );
    let events = if headers.get("x-bench-audit").is_some() {
        let ctx = AuditContext {
            actor_id: user,
            node_id: state.config.node_id.clone(),
            ..AuditContext::default()
        };
        let attributes: Vec<&str> = values.0.iter().map(|(n, _, _)| n.as_str()).collect();
        vec![NewEvent::system(
            &ctx,
            &rampart_core::AuditEvent {
                action: "record.create",
                target: Some(format!("record:{}.{}/{id}", at.2, at.3)),
                outcome: rampart_core::Outcome::Success,
                details: json!({ "record": id, "attributes": attributes }).to_string(),
            },
            now,
        )]
    } else {
        Vec::new()
    };
    let stored = state
        .store
        .app_insert(&r.db, &r.table, &id, &values, now, events)
        .await?;
    audited(&state, &headers, user, at, "POST", &[id.as_str()]).await?;
    let location = format!("/bench/apps/{}/{}/api/{}/{}/{id}", at.0, at.1, at.2, at.3);
    let mut response = with_etag(StatusCode::CREATED, view(&r.table, &stored));
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A record as the data API shows it (this entity has no sensitive attribute).
fn view(table: &Table, record: &StoredRecord) -> RecordView {
    let mut values = serde_json::Map::new();
    for (column, value) in table.live_columns().zip(&record.values) {
        values.insert(column.attribute.clone(), value.to_json());
    }
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    RecordView {
        id: record.id.clone(),
        version: record.version,
        created_at: time(record.created_at),
        updated_at: time(record.updated_at),
        values,
    }
}

fn with_etag(status: StatusCode, record: RecordView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", record.version)).ok();
    let mut response = (status, rampart_server::error::Json(record)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}
