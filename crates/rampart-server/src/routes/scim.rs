//! `/scim/v2`: the SCIM 2.0 service provider (RFC 7644) a user provider's directory pushes
//! users and groups to, with the provider's bearer token. Not part of the API's OpenAPI
//! document: SCIM is its own protocol, described by its own discovery endpoints
//! (`ServiceProviderConfig`, `ResourceTypes`, `Schemas`). Every answer is
//! `application/scim+json`; every refusal the error body of §3.12 with its `scimType`.
//! Resources carry `meta.version`, which is also their `ETag`; `If-Match` on a write that
//! no longer names it is a 412 that changes nothing, `If-None-Match` on a read that still
//! names it a 304.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rampart_scim::discovery;
use rampart_scim::project::Projection;
use rampart_scim::schema::Schema;
use rampart_scim::ScimError;
use rampart_service::scim::users::Tagged;
use rampart_service::scim::{self, resources, ListQuery, ScimCaller};
use rampart_service::state::AppState;
use serde_json::Value;

use crate::auth::RequestContext;

/// The media type of every answer.
pub const SCIM_JSON: &str = "application/scim+json";

/// The SCIM routes, nested under `/scim/v2`.
pub fn routes() -> Router<AppState> {
    let inner = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/.search", post(search_all))
        .route(
            "/Bulk",
            post(bulk).fallback(|| async {
                error(ScimError {
                    status: 405,
                    scim_type: None,
                    detail: "/Bulk takes POST".into(),
                })
            }),
        )
        // `Users` and `Groups`; another name answers the SCIM 404 (`resources::endpoint`).
        .route("/{resource}", get(list).post(create))
        .route("/{resource}/.search", post(search))
        .route(
            "/{resource}/{id}",
            get(get_one)
                .put(replace_one)
                .patch(patch_one)
                .delete(delete_one),
        )
        .fallback(|| async { error(ScimError::not_found("no such SCIM endpoint")) });
    Router::new().nest("/scim/v2", inner)
}

/// A refusal as §3.12 writes it.
fn error(e: ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, e.body().to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if e.status == 401 {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn json(status: StatusCode, body: &Value, etag: Option<&str>, location: bool) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(header::ETAG, tag);
    }
    if location {
        let at = body
            .pointer("/meta/location")
            .and_then(Value::as_str)
            .and_then(|l| HeaderValue::from_str(l).ok());
        if let Some(at) = at {
            headers.insert(header::LOCATION, at);
        }
    }
    response
}

fn answer(result: Result<Response, ScimError>) -> Response {
    result.unwrap_or_else(error)
}

/// Where `/scim/v2` is, as `meta.location` names it: `public_origin`, else the host the
/// request named (`Host`, or HTTP/2's `:authority`) when it is a plain host name.
pub(crate) fn base(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
) -> String {
    let origin = if state.config.public_origin.is_empty() {
        match crate::auth::named_host(headers, uri) {
            Some(h) => format!("{}://{h}", if ctx.https { "https" } else { "http" }),
            None => String::new(),
        }
    } else {
        state.config.public_origin.trim_end_matches('/').to_owned()
    };
    format!("{origin}/scim/v2")
}

async fn caller(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<ScimCaller, ScimError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
        });
    scim::authenticate(
        state,
        &ctx.origin(state),
        bearer,
        base(state, ctx, headers, uri),
    )
    .await
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|h| h.to_str().ok())
}

fn body(bytes: Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let bytes = bytes.map_err(|e| ScimError {
        status: e.status().as_u16(),
        scim_type: None,
        detail: e.body_text(),
    })?;
    scim::parse_body(&bytes)
}

fn list_query(schema: Schema, q: &HashMap<String, String>) -> Result<ListQuery, ScimError> {
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let number = |k: &str| -> Result<Option<i64>, ScimError> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ScimError::value(format!("{k} must be an integer")))
            })
            .transpose()
    };
    let query = ListQuery {
        filter: get("filter"),
        start_index: number("startIndex")?,
        count: number("count")?,
        sort_by: get("sortBy"),
        sort_order: get("sortOrder"),
        attributes: get("attributes"),
        excluded_attributes: get("excludedAttributes"),
    };
    if let Some(order) = &query.sort_order {
        if !order.eq_ignore_ascii_case("ascending") && !order.eq_ignore_ascii_case("descending") {
            return Err(ScimError::value(
                "sortOrder must be ascending or descending",
            ));
        }
    }
    Projection::parse(
        schema,
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
    )?;
    Ok(query)
}

fn projection(schema: Schema, q: &HashMap<String, String>) -> Result<Projection, ScimError> {
    let q = list_query(schema, q)?;
    Projection::parse(
        schema,
        q.attributes.as_deref(),
        q.excluded_attributes.as_deref(),
    )
}

/// A read's answer, or a 304 when `If-None-Match` still names its version.
fn read(tagged: Tagged, headers: &HeaderMap) -> Response {
    if header_text(headers, header::IF_NONE_MATCH)
        .is_some_and(|h| scim::etag_listed(h, &tagged.etag))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = HeaderValue::from_str(&tagged.etag) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        return response;
    }
    json(StatusCode::OK, &tagged.resource, Some(&tagged.etag), false)
}

async fn service_provider_config(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            Ok(json(
                StatusCode::OK,
                &discovery::service_provider_config(&c.base, state.config.max_body_bytes),
                None,
                false,
            ))
        }
        .await,
    )
}

async fn resource_types(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let all = Schema::ALL
                .map(|s| discovery::resource_type(&c.base, s))
                .to_vec();
            Ok(json(
                StatusCode::OK,
                &discovery::list(all, 2, 1),
                None,
                false,
            ))
        }
        .await,
    )
}

async fn resource_type(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let s = Schema::ALL
                .into_iter()
                .find(|s| s.name() == id)
                .ok_or_else(|| ScimError::not_found("no such resource type"))?;
            Ok(json(
                StatusCode::OK,
                &discovery::resource_type(&c.base, s),
                None,
                false,
            ))
        }
        .await,
    )
}

async fn schemas(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let all = discovery::schemas(&c.base);
            let total = all.len();
            Ok(json(
                StatusCode::OK,
                &discovery::list(all, total, 1),
                None,
                false,
            ))
        }
        .await,
    )
}

async fn schema(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let document = discovery::schema(&c.base, &id)
                .ok_or_else(|| ScimError::not_found("no such schema"))?;
            Ok(json(StatusCode::OK, &document, None, false))
        }
        .await,
    )
}

/// The resource type of an endpoint name, or the SCIM 404 before anything else.
fn kind(name: &str) -> Result<Schema, ScimError> {
    resources::endpoint(name)
}

async fn list(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    answer(
        async {
            let kind = kind(&name)?;
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let q = list_query(kind, &q)?;
            let found = resources::list(&state, &c, kind, &q).await?;
            Ok(json(StatusCode::OK, &found, None, false))
        }
        .await,
    )
}

async fn create(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    answer(
        async {
            let kind = kind(&name)?;
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let t = resources::create(&state, &c, kind, &body(bytes)?).await?;
            Ok(json(StatusCode::CREATED, &t.resource, Some(&t.etag), true))
        }
        .await,
    )
}

async fn get_one(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    answer(
        async {
            let kind = kind(&name)?;
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let p = projection(kind, &q)?;
            Ok(read(
                resources::get(&state, &c, kind, &id, &p).await?,
                &headers,
            ))
        }
        .await,
    )
}

/// `PUT` (`replace`) or `PATCH` of one resource.
async fn write(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
    (name, id): (String, String),
    bytes: Result<Bytes, BytesRejection>,
    replace: bool,
) -> Response {
    answer(
        async {
            let kind = kind(&name)?;
            let c = caller(state, ctx, headers, uri).await?;
            let if_match = header_text(headers, header::IF_MATCH);
            let body = body(bytes)?;
            let t = if replace {
                resources::replace(state, &c, kind, &id, &body, if_match).await?
            } else {
                resources::patch(state, &c, kind, &id, &body, if_match).await?
            };
            Ok(json(StatusCode::OK, &t.resource, Some(&t.etag), false))
        }
        .await,
    )
}

async fn replace_one(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(at): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    write(&state, &ctx, &headers, &uri, at, bytes, true).await
}

async fn patch_one(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(at): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    write(&state, &ctx, &headers, &uri, at, bytes, false).await
}

async fn delete_one(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    answer(
        async {
            let kind = kind(&name)?;
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let if_match = header_text(&headers, header::IF_MATCH);
            resources::delete(&state, &c, kind, &id, if_match).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

async fn search(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    answer(
        async {
            let kind = kind(&name)?;
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let q = scim::search_query(&body(bytes)?)?;
            let found = resources::list(&state, &c, kind, &q).await?;
            Ok(json(StatusCode::OK, &found, None, false))
        }
        .await,
    )
}

async fn search_all(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let q = scim::search_query(&body(bytes)?)?;
            Ok(json(
                StatusCode::OK,
                &scim::search_all(&state, &c, &q).await?,
                None,
                false,
            ))
        }
        .await,
    )
}

async fn bulk(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    answer(
        async {
            let c = caller(&state, &ctx, &headers, &uri).await?;
            let body = body(bytes).map_err(|mut e| {
                if e.status == StatusCode::PAYLOAD_TOO_LARGE.as_u16() {
                    e.detail = format!(
                        "the bulk request is larger than maxPayloadSize ({} bytes)",
                        state.config.max_body_bytes
                    );
                }
                e
            })?;
            let response = scim::bulk::run(&state, &c, &body).await?;
            Ok(json(StatusCode::OK, &response, None, false))
        }
        .await,
    )
}
