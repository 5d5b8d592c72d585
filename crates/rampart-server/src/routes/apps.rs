//! `/apps/{environment}/{application}/api/{module}/{entity}`: the data API of the entities
//! deployed modules declare. The rules (roles from the model, the row-level rule inside each
//! statement, the audit trail) are `rampart_service::apps::data`'s; a record the caller may
//! not read answers 404, as one that does not exist.
//!
//! Versions travel as HTTP validators: a record's `ETag` is `"<version>"`, and a change or a
//! deletion with `If-Match: "<version>"` applies only if nobody changed the record since
//! (otherwise 409).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::{GrantRequest, RecordGrants, RecordPage, RecordView};
use rampart_core::Error;
use rampart_service::apps::data::{self, EntityRef};
use rampart_service::AppState;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};

/// Marks a response whose access event the runtime's use case recorded (the middleware
/// records the others).
#[derive(Debug, Clone, Copy)]
pub struct AccessRecorded;

/// The answer of a use case that recorded its access event, marked so.
fn recorded<T: IntoResponse>(answer: Result<T, ApiError>) -> Response {
    let mut response = answer.into_response();
    response.extensions_mut().insert(AccessRecorded);
    response
}

/// An entity's place in the URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntityPath {
    /// The environment.
    environment: String,
    /// The application.
    application: String,
    /// The module declaring the entity.
    module: String,
    /// The entity.
    entity: String,
}

/// A record's place in the URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RecordPath {
    /// The environment.
    environment: String,
    /// The application.
    application: String,
    /// The module declaring the entity.
    module: String,
    /// The entity.
    entity: String,
    /// The record's id.
    id: String,
}

/// A query's place in the URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct QueryPath {
    /// The environment.
    environment: String,
    /// The application.
    application: String,
    /// The module declaring the query.
    module: String,
    /// The query.
    query: String,
}

fn entity_ref<'a>(e: &'a str, a: &'a str, m: &'a str, n: &'a str) -> EntityRef<'a> {
    EntityRef {
        environment: e,
        application: a,
        module: m,
        entity: n,
    }
}

/// The record with its version as `ETag`.
fn with_etag(status: StatusCode, record: RecordView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", record.version)).ok();
    let mut response = (status, Json(record)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The version `If-Match` names (`"3"`), if the request has one.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let bare = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ApiError::from(Error::invalid(
            "If-Match",
            "must be a record's ETag, a version in quotes such as \"3\"",
        ))
    })
}

/// A page of the records the caller may read.
#[utoipa::path(
    get, path = "/apps/{environment}/{application}/api/{module}/{entity}", tag = "apps",
    params(
        EntityPath,
        ("limit" = Option<u32>, Query, description = "Records per page, 1 to 500 (default 50)"),
        ("sort" = Option<String>, Query, description = "`attribute` or `-attribute` (largest first; nulls last), then by id; default: by id (creation order)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
        ("filters" = Option<String>, Query, description = "Any other parameter filters: `attribute=value` (equal) or `attribute.op=value` with op one of eq ne lt le gt ge contains starts_with is_null"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of records, filtered by the row-level rule inside the query", body = RecordPage),
        (status = 403, description = "The caller holds none of the roles the model gives the entity's screens and actions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entity running in this environment and application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter, sort, limit or cursor, each named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<EntityPath>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let caller = auth.caller(&state);
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    recorded(
        data::list(&state, &caller, at, &params)
            .await
            .map(Json)
            .map_err(ApiError::from),
    )
}

/// Run a module's query: its parameters by name, a page at a time. A structured query answers
/// records (`items`); an advanced SQL query answers its statement's rows (`rows`), each over
/// the caller's view of its tables.
#[utoipa::path(
    get, path = "/apps/{environment}/{application}/api/{module}/queries/{query}", tag = "apps",
    params(
        QueryPath,
        ("limit" = Option<u32>, Query, description = "Records per page, up to the query's own limit"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
        ("parameters" = Option<String>, Query, description = "The query's declared parameters, by name (`?region=North`)"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of what the query finds among the records the caller may read (`items`, or `rows` for advanced SQL)", body = RecordPage),
        (status = 403, description = "The caller holds none of the roles of the screens and actions that run the query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such query running in this environment and application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter missing, unknown or of the wrong type, each named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn query(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<QueryPath>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let caller = auth.caller(&state);
    let name = format!("queries/{}", p.query);
    let at = entity_ref(&p.environment, &p.application, &p.module, &name);
    recorded(
        data::list(&state, &caller, at, &params)
            .await
            .map(Json)
            .map_err(ApiError::from),
    )
}

/// Create a record.
#[utoipa::path(
    post, path = "/apps/{environment}/{application}/api/{module}/{entity}", tag = "apps",
    params(EntityPath),
    request_body(content = Object, description = "The attributes by name; the owner defaults to the caller"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it and `ETag` is its version", body = RecordView),
        (status = 403, description = "The caller holds none of the entity's roles", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entity running in this environment and application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A unique attribute's value is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown attributes, wrong types, values too long, a required attribute missing, or an owner who does not report to the caller", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<EntityPath>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let caller = auth.caller(&state);
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    let created = data::create(&state, &caller, at, body).await.map(|record| {
        let location = format!(
            "/apps/{}/{}/api/{}/{}/{}",
            p.environment, p.application, p.module, p.entity, record.id
        );
        let mut response = with_etag(StatusCode::CREATED, record);
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    });
    recorded(created.map_err(ApiError::from))
}

/// One record the caller may read.
#[utoipa::path(
    get, path = "/apps/{environment}/{application}/api/{module}/{entity}/{id}", tag = "apps",
    params(RecordPath),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The record; `ETag` is its version", body = RecordView),
        (status = 403, description = "The caller holds none of the entity's roles", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record, or one the caller may not read (indistinguishable)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<RecordPath>,
) -> Response {
    let caller = auth.caller(&state);
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    let read = data::get(&state, &caller, at, &p.id).await;
    recorded(
        read.map(|r| with_etag(StatusCode::OK, r))
            .map_err(ApiError::from),
    )
}

/// Change the attributes the body gives.
#[utoipa::path(
    patch, path = "/apps/{environment}/{application}/api/{module}/{entity}/{id}", tag = "apps",
    params(RecordPath, ("If-Match" = Option<String>, Header, description = "The ETag read: change only if nobody changed the record since")),
    request_body(content = Object, description = "The attributes to change, by name"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The changed record; `ETag` is its new version", body = RecordView),
        (status = 403, description = "The caller holds none of the entity's roles", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record, or one the caller may not write", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed since the `If-Match` version, or a unique value taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown attributes, wrong types, a required attribute emptied, a malformed `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<RecordPath>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let caller = auth.caller(&state);
    let version = if_match(&headers)?;
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    let changed = data::update(&state, &caller, at, &p.id, version, body).await;
    Ok(recorded(
        changed
            .map(|r| with_etag(StatusCode::OK, r))
            .map_err(ApiError::from),
    ))
}

/// Grant a user, a group or a unit actions on a record (or, with no actions, take them
/// back). Needs a role that may change the entity, and write access to the record.
#[utoipa::path(
    put, path = "/apps/{environment}/{application}/api/{module}/{entity}/{id}/grants", tag = "apps",
    params(RecordPath),
    request_body = GrantRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "The principal now holds exactly these actions on the record"),
        (status = 403, description = "The caller holds none of the roles that may change the entity", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record, or one the caller may not write", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The entity's ACL allows no grants, an unknown action, or a principal authorization does not know", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn grant(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<RecordPath>,
    Json(body): Json<GrantRequest>,
) -> Response {
    let caller = auth.caller(&state);
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    let granted = data::grant(&state, &caller, at, &p.id, body).await;
    recorded(
        granted
            .map(|()| StatusCode::NO_CONTENT)
            .map_err(ApiError::from),
    )
}

/// Who holds grants on a record: principals and their actions. Only callers who may
/// change the record see them.
#[utoipa::path(
    get, path = "/apps/{environment}/{application}/api/{module}/{entity}/{id}/grants", tag = "apps",
    params(RecordPath),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The record's grants, by principal", body = RecordGrants),
        (status = 403, description = "The caller holds none of the roles that may change the entity", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record, or one the caller may not write", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn grants(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<RecordPath>,
) -> Response {
    let caller = auth.caller(&state);
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    recorded(
        data::grants(&state, &caller, at, &p.id)
            .await
            .map(Json)
            .map_err(ApiError::from),
    )
}

/// Delete a record.
#[utoipa::path(
    delete, path = "/apps/{environment}/{application}/api/{module}/{entity}/{id}", tag = "apps",
    params(RecordPath, ("If-Match" = Option<String>, Header, description = "The ETag read: delete only if nobody changed the record since")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted, with its grants"),
        (status = 403, description = "The caller holds none of the entity's roles", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record, or one the caller may not write", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<RecordPath>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = auth.caller(&state);
    let version = if_match(&headers)?;
    let at = entity_ref(&p.environment, &p.application, &p.module, &p.entity);
    let deleted = data::delete(&state, &caller, at, &p.id, version).await;
    Ok(recorded(
        deleted
            .map(|()| StatusCode::NO_CONTENT)
            .map_err(ApiError::from),
    ))
}

/// An application's place in the URL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApplicationPath {
    /// The environment.
    environment: String,
    /// The application.
    application: String,
}

/// The OpenAPI 3.1 document of an application as it runs in an environment, for the caller:
/// the entities, queries and exposed actions their roles open, with the model's types and
/// the concrete paths (what the caller may not use is not described).
#[utoipa::path(
    get, path = "/apps/{environment}/{application}/api/openapi.json", tag = "apps",
    params(ApplicationPath),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The document (OpenAPI 3.1)", body = Object),
        (status = 401, description = "No session", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application running in this environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn openapi(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(p): Path<ApplicationPath>,
) -> Response {
    let caller = auth.caller(&state);
    rampart_service::apps::openapi::document(&state, &caller, &p.environment, &p.application)
        .await
        .map(Json)
        .map_err(ApiError::from)
        .into_response()
}
