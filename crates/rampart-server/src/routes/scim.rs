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
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rampart_core::Error;
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

/// The SCIM routes, nested under `/scim/v2`. A method an endpoint does not take is the
/// SCIM 405 (after the 404 of a name that is no endpoint), like every other answer here.
pub fn routes() -> Router<AppState> {
    let inner = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(service_provider_config).fallback(takes("GET")),
        )
        .route("/ResourceTypes", get(resource_types).fallback(takes("GET")))
        .route(
            "/ResourceTypes/{id}",
            get(resource_type).fallback(takes("GET")),
        )
        .route("/Schemas", get(schemas).fallback(takes("GET")))
        .route("/Schemas/{id}", get(schema).fallback(takes("GET")))
        .route("/.search", post(search_all).fallback(takes("POST")))
        .route("/Bulk", post(bulk).fallback(takes("POST")))
        // `Users` and `Groups`; another name answers the SCIM 404 (`resources::endpoint`).
        .route(
            "/{resource}",
            get(list)
                .post(create)
                .fallback(resource_takes("GET and POST")),
        )
        .route(
            "/{resource}/.search",
            post(search).fallback(resource_takes("POST")),
        )
        .route(
            "/{resource}/{id}",
            get(get_one)
                .put(replace_one)
                .patch(patch_one)
                .delete(delete_one)
                .fallback(resource_takes("GET, PUT, PATCH and DELETE")),
        )
        .fallback(|| async { error(ScimError::not_found("no such SCIM endpoint")) });
    Router::new().nest("/scim/v2", inner)
}

/// The SCIM 405 of an endpoint that takes only `methods`.
fn method_refused(methods: &str) -> Response {
    error(ScimError {
        status: 405,
        scim_type: None,
        detail: format!("this endpoint takes {methods}"),
    })
}

/// The handler of the methods a fixed endpoint does not take.
fn takes(methods: &'static str) -> impl Fn() -> std::future::Ready<Response> + Clone {
    move || std::future::ready(method_refused(methods))
}

/// The handler of the methods a resource endpoint does not take; a name that is no
/// endpoint stays the SCIM 404.
fn resource_takes(methods: &'static str) -> impl Fn(Kind) -> std::future::Ready<Response> + Clone {
    move |_: Kind| std::future::ready(method_refused(methods))
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

/// The authenticated SCIM client (a user provider's bearer token) and where `/scim/v2` is:
/// extracted before the body is read, so nothing about a request is looked at for a caller
/// without a token.
struct Scim(ScimCaller);

impl FromRequestParts<AppState> for Scim {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let ctx = RequestContext::from_request_parts(parts, state)
            .await
            .map_err(|_| scim::internal(Error::Internal("request context missing".into())))?;
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token.trim())
            });
        let base = base(state, &ctx, &parts.headers, &parts.uri);
        Ok(Scim(
            scim::authenticate(state, &ctx.origin(state), bearer, base).await?,
        ))
    }
}

/// The resource type the `{resource}` segment names (`Users`, `Groups`): another name is
/// the SCIM 404, answered before anything else is looked at (this extractor comes first).
struct Kind(Schema);

impl FromRequestParts<AppState> for Kind {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let Path(segments) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ScimError::value("the path is not valid percent-encoded UTF-8"))?;
        let name = segments.get("resource").map_or("", String::as_str);
        Ok(Kind(resources::endpoint(name)?))
    }
}

/// A SCIM refusal as an answer (§3.12).
struct Refused(ScimError);

impl From<ScimError> for Refused {
    fn from(e: ScimError) -> Self {
        Refused(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error(self.0)
    }
}

/// What a SCIM handler answers.
type Answer = Result<Response, Refused>;

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|h| h.to_str().ok())
}

/// A SCIM request's body as sent: JSON (`application/scim+json`, or `application/json`
/// as RFC 7644 §3.1 allows), read whole; another media type is refused with 415 before
/// anything is read or done.
struct Body(Result<Bytes, ScimError>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if !matches!(
            media.as_deref(),
            Some("application/scim+json" | "application/json")
        ) {
            return Ok(Body(Err(ScimError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16(),
                scim_type: None,
                detail: "the body must be JSON: Content-Type application/scim+json (or \
                         application/json)"
                    .into(),
            })));
        }
        let bytes = Bytes::from_request(req, state).await;
        Ok(Body(bytes.map_err(|e: BytesRejection| ScimError {
            status: e.status().as_u16(),
            scim_type: None,
            detail: e.body_text(),
        })))
    }
}

fn body(bytes: Body) -> Result<Value, ScimError> {
    scim::parse_body(&bytes.0?)
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

async fn service_provider_config(State(state): State<AppState>, Scim(c): Scim) -> Answer {
    let config = discovery::service_provider_config(&c.base, state.config.max_body_bytes);
    Ok(json(StatusCode::OK, &config, None, false))
}

async fn resource_types(Scim(c): Scim) -> Answer {
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

async fn resource_type(Scim(c): Scim, Path(id): Path<String>) -> Answer {
    let s = Schema::ALL
        .into_iter()
        .find(|s| s.name() == id)
        .ok_or_else(|| ScimError::not_found("no such resource type"))?;
    let document = discovery::resource_type(&c.base, s);
    Ok(json(StatusCode::OK, &document, None, false))
}

async fn schemas(Scim(c): Scim) -> Answer {
    let all = discovery::schemas(&c.base);
    let total = all.len();
    Ok(json(
        StatusCode::OK,
        &discovery::list(all, total, 1),
        None,
        false,
    ))
}

async fn schema(Scim(c): Scim, Path(id): Path<String>) -> Answer {
    let document =
        discovery::schema(&c.base, &id).ok_or_else(|| ScimError::not_found("no such schema"))?;
    Ok(json(StatusCode::OK, &document, None, false))
}

async fn list(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let q = list_query(kind, &q)?;
    let found = resources::list(&state, &c, kind, &q).await?;
    Ok(json(StatusCode::OK, &found, None, false))
}

async fn create(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    bytes: Body,
) -> Answer {
    let t = resources::create(&state, &c, kind, &body(bytes)?).await?;
    Ok(json(StatusCode::CREATED, &t.resource, Some(&t.etag), true))
}

async fn get_one(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let p = projection(kind, &q)?;
    let found = resources::get(&state, &c, kind, &id, &p).await?;
    Ok(read(found, &headers))
}

async fn replace_one(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    bytes: Body,
) -> Answer {
    let if_match = header_text(&headers, header::IF_MATCH);
    let t = resources::replace(&state, &c, kind, &id, &body(bytes)?, if_match).await?;
    Ok(json(StatusCode::OK, &t.resource, Some(&t.etag), false))
}

async fn patch_one(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    bytes: Body,
) -> Answer {
    let if_match = header_text(&headers, header::IF_MATCH);
    let t = resources::patch(&state, &c, kind, &id, &body(bytes)?, if_match).await?;
    Ok(json(StatusCode::OK, &t.resource, Some(&t.etag), false))
}

async fn delete_one(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
) -> Answer {
    let if_match = header_text(&headers, header::IF_MATCH);
    resources::delete(&state, &c, kind, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn search(
    State(state): State<AppState>,
    Kind(kind): Kind,
    Scim(c): Scim,
    bytes: Body,
) -> Answer {
    let q = scim::search_query(&body(bytes)?)?;
    let found = resources::list(&state, &c, kind, &q).await?;
    Ok(json(StatusCode::OK, &found, None, false))
}

async fn search_all(State(state): State<AppState>, Scim(c): Scim, bytes: Body) -> Answer {
    let q = scim::search_query(&body(bytes)?)?;
    let found = scim::search_all(&state, &c, &q).await?;
    Ok(json(StatusCode::OK, &found, None, false))
}

async fn bulk(State(state): State<AppState>, Scim(c): Scim, bytes: Body) -> Answer {
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
