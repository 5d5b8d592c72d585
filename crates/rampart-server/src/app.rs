//! The router: every route, its OpenAPI description, and the middleware around them.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tracing::Instrument as _;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{RequestContext, SECURE_COOKIE};
use crate::error::{ApiError, Problem};
use crate::metrics::MetricsAccess;
use crate::routes::{
    alerts, apps, audit as audit_api, auth as auth_routes, authz, findings, it, lifecycle, names,
    plans, posture, providers, sealed, support, users,
};
use crate::tls::ServedNames;
use crate::transport;
use rampart_api::Health;
use rampart_service::metrics::{RequestLabels, RouteLabels};
use rampart_service::state::AppState;

/// Facts about the connection a request arrived on, set by the listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo {
    /// The peer.
    pub peer: SocketAddr,
    /// The address the client connected to (this server's side of the connection).
    pub local: SocketAddr,
    /// Whether the connection is TLS.
    pub https: bool,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart API",
        description = "Identity, authorization and audit for the Rampart platform. Every error is \
                       an RFC 9457 problem (application/problem+json) whose `type` is \
                       `urn:rampart:problem:<code>`."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Login, sessions and passwords"),
        (name = "users", description = "User management (IT administrators)"),
        (name = "idp", description = "Rampart as an OpenID Connect provider: the clients administrators register and the signing keys"),
        (name = "providers", description = "User providers: directories that vouch for users (IT administrators change them, auditors read them)"),
        (name = "authz", description = "Authorization decisions and data: roles, hierarchies, ACL"),
        (name = "it", description = "IT permissions: roles per environment, teams, modules, overrides"),
        (name = "audit", description = "The tamper-evident audit log: search, export, checkpoints, proofs"),
        (name = "apps", description = "The application runtime: the data API of deployed entities"),
        (name = "support", description = "The support desk: companies, members, cases, decisions on requesters"),
        (name = "operations", description = "Health, readiness, metrics, the security posture report and the alert outbox"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SECURE_COOKIE))),
        );
    }
}

/// Process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> crate::error::Json<Health> {
    crate::error::Json(Health {
        status: "ok".to_owned(),
    })
}

/// Ready to serve: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<crate::error::Json<Health>, ApiError> {
    state.store.ping().await?;
    Ok(crate::error::Json(Health {
        status: "ok".to_owned(),
    }))
}

/// Prometheus metrics (OpenMetrics text format).
///
/// Served on this port only when `metrics.token` is configured and `metrics_addr` is not,
/// and then only with the token as a bearer token.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "application/openmetrics-text"),
        (status = 401, description = "The metrics token is missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Metrics are not served on this port (see `metrics_addr` and `metrics.token`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn metrics(
    State(state): State<AppState>,
    Extension(access): Extension<MetricsAccess>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !access.on_https() {
        let mut problem = Problem::for_status(StatusCode::NOT_FOUND);
        problem.detail = "metrics are not served on this port: configure metrics_addr (a \
                          listener of their own) or metrics.token (a bearer token)"
            .into();
        return Err(problem.into());
    }
    access.check(&headers)?;
    Ok(render_metrics(&state))
}

fn render_metrics(state: &AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

fn routes(module_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::me))
        .routes(routes!(auth_routes::sessions))
        .routes(routes!(auth_routes::end_session))
        .routes(routes!(auth_routes::change_password))
        .routes(routes!(crate::routes::mfa::second_factor))
        .routes(routes!(crate::routes::mfa::enrol_pending))
        .routes(routes!(crate::routes::mfa::status))
        .routes(routes!(crate::routes::mfa::begin))
        .routes(routes!(crate::routes::mfa::confirm))
        .routes(routes!(crate::routes::mfa::recovery_codes))
        .routes(routes!(crate::routes::mfa::step_up))
        .routes(routes!(crate::routes::mfa::reset))
        .routes(routes!(crate::routes::passkeys::discovery))
        .routes(routes!(crate::routes::passkeys::sign_in))
        .routes(routes!(crate::routes::passkeys::login_challenge))
        .routes(routes!(crate::routes::passkeys::step_up_challenge))
        .routes(routes!(
            crate::routes::passkeys::list,
            crate::routes::passkeys::register
        ))
        .routes(routes!(crate::routes::passkeys::register_challenge))
        .routes(routes!(crate::routes::passkeys::remove))
        .routes(routes!(crate::routes::enrolment::issue))
        .routes(routes!(crate::routes::enrolment::mail))
        .routes(routes!(crate::routes::enrolment::challenge))
        .routes(routes!(crate::routes::enrolment::enrol))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::disable))
        .routes(routes!(users::enable))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::unlock))
        .routes(routes!(users::revoke_sessions))
        .routes(routes!(providers::list, providers::create))
        .routes(routes!(
            providers::get,
            providers::update,
            providers::delete
        ))
        .routes(routes!(providers::test))
        .routes(routes!(providers::sync))
        .routes(routes!(providers::status))
        .routes(routes!(
            providers::scim_token_status,
            providers::issue_scim_token,
            providers::revoke_scim_token
        ))
        .routes(routes!(providers::oidc_start))
        .routes(routes!(providers::oidc_callback))
        .merge(crate::routes::saml::routes())
        .routes(routes!(
            crate::routes::idp::admin::list,
            crate::routes::idp::admin::create
        ))
        .routes(routes!(
            crate::routes::idp::admin::get,
            crate::routes::idp::admin::update,
            crate::routes::idp::admin::delete
        ))
        .routes(routes!(crate::routes::idp::admin::rotate_secret))
        .routes(routes!(crate::routes::idp::admin::list_keys))
        .routes(routes!(crate::routes::idp::admin::rotate_key))
        .routes(routes!(authz::check))
        .routes(routes!(authz::explain))
        .routes(routes!(authz::list_filter))
        .routes(routes!(authz::roles))
        .routes(routes!(authz::write))
        .routes(routes!(authz::model))
        .routes(routes!(authz::grants))
        .routes(routes!(authz::rebuild_status, authz::rebuild_start))
        .routes(routes!(it::write))
        .routes(routes!(it::level_of))
        .merge(
            // Module sources may be larger than other bodies (`max_module_bytes`).
            OpenApiRouter::new()
                .routes(routes!(lifecycle::publish, lifecycle::versions))
                .routes(routes!(sealed::import))
                .layer(DefaultBodyLimit::max(module_limit)),
        )
        .routes(routes!(lifecycle::version, lifecycle::delete_version))
        .routes(routes!(findings::list))
        .routes(routes!(findings::accept))
        .routes(routes!(lifecycle::surface))
        .routes(routes!(lifecycle::diff))
        .routes(routes!(lifecycle::model_schema))
        .routes(routes!(lifecycle::list_environments))
        .routes(routes!(lifecycle::running))
        .routes(routes!(lifecycle::deploy, lifecycle::history))
        .routes(routes!(lifecycle::stage))
        .routes(routes!(lifecycle::rollback))
        .routes(routes!(lifecycle::requests))
        .routes(routes!(lifecycle::tag_application, lifecycle::tags))
        .routes(routes!(names::list, names::reserve))
        .routes(routes!(names::transfer))
        .routes(routes!(names::release))
        .routes(routes!(sealed::public_key))
        .routes(routes!(sealed::publishers, sealed::trust))
        .routes(routes!(sealed::revoke))
        .routes(routes!(lifecycle::approve))
        .routes(routes!(lifecycle::reject))
        .routes(routes!(plans::create_plan, plans::plans))
        .routes(routes!(plans::get_plan))
        .routes(routes!(plans::run_plan))
        .routes(routes!(plans::copy_plan))
        .routes(routes!(plans::settings))
        .routes(routes!(posture::report))
        .routes(routes!(alerts::deliveries))
        .routes(routes!(alerts::retry))
        .routes(routes!(audit_api::events))
        .routes(routes!(audit_api::report_integration))
        .routes(routes!(audit_api::checkpoint, audit_api::sign_checkpoint))
        .routes(routes!(audit_api::rotate_audit_key))
        .routes(routes!(audit_api::inclusion))
        .routes(routes!(audit_api::proof_bundle))
        .routes(routes!(audit_api::consistency))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::get, apps::update, apps::delete))
        .routes(routes!(apps::query))
        .routes(routes!(apps::openapi))
        .routes(routes!(apps::grants, apps::grant))
        .routes(routes!(support::create_company, support::companies))
        .routes(routes!(support::members, support::add_member))
        .routes(routes!(support::remove_member))
        .routes(routes!(support::administrators, support::add_administrator))
        .routes(routes!(support::remove_administrator))
        .routes(routes!(support::open_case, support::list_cases))
        .routes(routes!(support::get_case))
        .routes(routes!(support::comment))
        .routes(routes!(support::share))
        .routes(routes!(support::close))
        .routes(routes!(support::reopen))
        .routes(routes!(support::authorize))
        .routes(routes!(support::ignore))
        .routes(routes!(support::follow_link))
        .routes(routes!(support::attach))
        .routes(routes!(support::download))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The OpenAPI document, generated from the handlers' annotations, with the answers many
/// operations share declared once (see [`crate::openapi`]).
pub fn openapi() -> OpenApiDoc {
    let (_, mut doc) = routes(0).split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    crate::openapi::declare_shared_answers(&mut doc);
    doc
}

/// The OpenAPI document as pretty JSON (what `/api/v1/openapi.json` serves).
pub fn openapi_json() -> String {
    serde_json::to_string_pretty(&openapi()).unwrap_or_default()
}

/// The full application router, `/metrics` closed.
pub fn router(state: AppState) -> Router {
    router_with(state, MetricsAccess::closed())
}

/// The full application router, with `/metrics` served as `metrics` says.
pub fn router_with(state: AppState, metrics: MetricsAccess) -> Router {
    let limit = usize::try_from(state.config.max_body_bytes).unwrap_or(usize::MAX);
    let module_limit = usize::try_from(state.config.max_module_bytes).unwrap_or(usize::MAX);
    let (router, _) = routes(module_limit).split_for_parts();
    let document = openapi_json();
    router
        .merge(screen_routes())
        .merge(crate::routes::idp::routes())
        .merge(crate::routes::scim::routes())
        .merge(crate::console::routes())
        .route(
            "/enrol",
            get(crate::routes::enrolment::page).post(crate::routes::enrolment::submit),
        )
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .fallback(|| async { ApiError::from(Problem::for_status(StatusCode::NOT_FOUND)) })
        .layer(DefaultBodyLimit::max(limit))
        .layer(Extension(metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::routes::exposed::dispatch,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), acknowledged))
        .layer(middleware::from_fn_with_state(
            crate::limits::Limits::new(&state.config.rate_limits, state.metrics.clone()),
            crate::limits::limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The applications' pages (HTML, not part of the API's document).
fn screen_routes() -> Router<AppState> {
    use crate::routes::screens;
    Router::new()
        .route("/apps/{environment}/{application}/", get(screens::home))
        .route(
            "/apps/{environment}/{application}/login",
            get(screens::login_page).post(screens::login),
        )
        .route(
            "/apps/{environment}/{application}/logout",
            axum::routing::post(screens::logout),
        )
        .route(
            "/apps/{environment}/{application}/{screen}",
            get(screens::open).post(screens::submit),
        )
}

/// The router of the `metrics_addr` listener: `/metrics` and nothing else.
pub fn metrics_router(state: AppState, access: MetricsAccess) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                move |State(state): State<AppState>, headers: HeaderMap| async move {
                    access.check(&headers).map_err(ApiError::from)?;
                    Ok::<_, ApiError>(render_metrics(&state))
                },
            ),
        )
        .fallback(|| async { ApiError::from(Problem::for_status(StatusCode::NOT_FOUND)) })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The plain-HTTP router when HTTPS is enforced: every request is redirected, to
/// `public_origin` when it is configured, otherwise to the host the request named if
/// this server answers for it (see [`redirect_host`]); any other host gets a 400.
pub fn redirect_router(state: AppState, https_port: u16, names: ServedNames) -> Router {
    Router::new()
        .fallback(
            move |State(state): State<AppState>, request: Request| async move {
                redirect_to_https(&state, &request, https_port, &names)
            },
        )
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

pub(crate) fn redirect_to_https(
    state: &AppState,
    request: &Request,
    https_port: u16,
    names: &ServedNames,
) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = if state.config.public_origin.starts_with("https://") {
        format!("{}{path}", state.config.public_origin)
    } else {
        let Some(host) = request_host(request) else {
            return ApiError::from(Problem::new(
                StatusCode::BAD_REQUEST,
                "https-required",
                "HTTPS required",
                "this server only answers over HTTPS; send a Host header to be redirected",
            ))
            .into_response();
        };
        let local = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|c| c.local.ip());
        if !redirect_host(&host, local, names) {
            // Redirecting to whatever the client named would make this port an open
            // redirect (and a cache-poisoning aid); the host is not echoed either.
            return ApiError::from(Problem::new(
                StatusCode::BAD_REQUEST,
                "unknown-host",
                "Unknown host",
                "this server only answers over HTTPS, and not for the host this request \
                 named; use the server's own name, or ask its operator to set public_origin",
            ))
            .into_response();
        }
        if https_port == 443 {
            format!("https://{host}{path}")
        } else {
            format!("https://{host}:{https_port}{path}")
        }
    };
    match HeaderValue::from_str(&target) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => ApiError::from(Problem::for_status(StatusCode::BAD_REQUEST)).into_response(),
    }
}

/// Whether a redirect may name `host` (from the request, port removed; IPv6 in brackets):
/// a name or address the TLS certificate is valid for, the address the client connected
/// to, or `localhost` when it connected over loopback.
fn redirect_host(host: &str, local: Option<std::net::IpAddr>, names: &ServedNames) -> bool {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let (Ok(ip), Some(local)) = (literal.parse::<std::net::IpAddr>(), local) {
        if ip == local {
            return true;
        }
    }
    if host.eq_ignore_ascii_case("localhost") && local.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    names.answers_for(literal)
}

/// The host the request named (`Host`, or the HTTP/2 `:authority`) without its port, if
/// it is a plausible host name.
fn request_host(request: &Request) -> Option<String> {
    let raw = match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok()?,
        None => request.uri().authority()?.as_str(),
    };
    let host = if let Some(rest) = raw.strip_prefix('[') {
        format!("[{}]", rest.split(']').next()?)
    } else {
        raw.split(':').next()?.to_owned()
    };
    let plausible = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    plausible.then_some(host)
}

/// The client's address: the peer's, or the one a trusted proxy forwarded
/// (`trusted_proxies`; see [`rampart_service::alerts::client_address`]).
fn client_address(
    state: &AppState,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
) -> std::net::IpAddr {
    let trusted = &state.trusted_proxies;
    if trusted.is_empty() {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    rampart_service::alerts::client_address(peer, &forwarded, trusted)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| rampart_service::caller::is_request_id(id))
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned)
}

/// Answers a request whose work moved the marks (an authorization change, a revoked
/// session, a disabled user, a deployment) only once every node will decide with it: see
/// [`rampart_service::fence`]. A request that raced one that did waits with it, harmlessly.
async fn acknowledged(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.store.is_exclusive() {
        return next.run(request).await;
    }
    let before = state.store.marks_moved();
    let response = next.run(request).await;
    if state.store.marks_moved() != before {
        let started = Instant::now();
        let how = state.fence.acknowledge().await;
        state
            .metrics
            .acknowledgement(started.elapsed().as_secs_f64(), how);
    }
    response
}

/// The outermost middleware: request id, tracing span, problem rendering, security
/// headers and metrics, for every response including errors and redirects.
async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let connection = request.extensions().get::<ConnectionInfo>().copied();
    let https = connection.is_some_and(|c| c.https);
    let context = RequestContext {
        request_id: request_id(request.headers()),
        source: connection.map(|c| client_address(&state, c.peer.ip(), request.headers())),
        https,
        actor: Default::default(),
        arrived: state.fence.ticket(),
    };
    // Only standard methods become label values: a client inventing methods must not be
    // able to grow the metrics without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(context.clone());
    let span = tracing::info_span!("request", request_id = %context.request_id, %method, %route);
    // What the handler leaves of the body comes back here, to be read behind the answer
    // (see `transport`).
    let expects_continue = transport::expects_continue(request.headers());
    let version = request.version();
    let (parts, body) = request.into_parts();
    let (body, mut leftover) = transport::Unread::new(body);
    let request = Request::from_parts(parts, Body::new(body));
    state.metrics.in_flight.inc();
    let mut response = match transport::head_problem(&request) {
        Some(problem) => {
            drop(request);
            ApiError::from(problem).into_response()
        }
        None => next.run(request).instrument(span.clone()).await,
    };
    state.metrics.in_flight.dec();

    let mut status = response.status();
    // An end user's request is answered only once its access is committed to the audit
    // log: nothing an end user saw or was refused goes unrecorded.
    // The application runtime records its own, richer access events (the application,
    // environment and records), for every caller, once its use case runs; a request refused
    // before that (a malformed body, query or header) is recorded here like any other.
    let runtime = response
        .extensions()
        .get::<crate::routes::apps::AccessRecorded>()
        .is_some();
    if let (Some((rampart_core::Provider::End, ctx)), false) = (context.actor.get(), runtime) {
        let allowed = !matches!(status.as_u16(), 401 | 403);
        // The object reached is the path itself (`/deployment-plans/17`), the route template
        // goes in the details; a path is cut at 512 bytes on a character boundary.
        // A path that carries a secret (an e-mailed decision link's token) is recorded as
        // its route template.
        let mut object = if SECRET_PATHS.contains(&route.as_str()) {
            route.as_str()
        } else {
            path.as_str()
        };
        if object.len() > 512 {
            let cut = (0..=512)
                .rev()
                .find(|&i| object.is_char_boundary(i))
                .unwrap_or(0);
            object = &object[..cut];
        }
        let event = rampart_store::NewEvent::access_via_route(
            ctx,
            state.clock.now(),
            None,
            object,
            &route,
            &method,
            allowed,
        );
        if let Err(e) = state.audit.append(event).await {
            tracing::error!(error = %e, "access event not recorded; the response is withheld");
            response = ApiError::from(rampart_core::Error::Unavailable(
                "the access could not be recorded in the audit log".into(),
            ))
            .into_response();
            status = response.status();
        }
    }
    let problem = response.extensions_mut().remove::<Problem>();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    // An application's HTML pages answer errors as pages of their own.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    // The OAuth endpoints answer errors as RFC 6749 says, and SCIM as RFC 7644 §3.12 says,
    // not as problems.
    let is_protocol = response
        .extensions()
        .get::<crate::routes::idp::ProtocolAnswer>()
        .is_some()
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/scim+json"));
    if problem.is_some() || (status.as_u16() >= 400 && !is_problem && !is_page && !is_protocol) {
        let mut problem = match problem {
            Some(problem) => problem,
            // A framework rejection (query string, path parameter, ...): keep its short
            // plain-text explanation as the detail.
            None => {
                let (parts, body) = response.into_parts();
                let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
                response = Response::from_parts(parts, axum::body::Body::empty());
                let mut problem = Problem::for_status(status);
                let text = String::from_utf8_lossy(&text).trim().to_owned();
                if status.is_client_error() && !text.is_empty() {
                    if status == StatusCode::BAD_REQUEST {
                        problem = Problem::new(status, "invalid-input", "Invalid input", text);
                    } else {
                        problem.detail = text;
                    }
                }
                problem
            }
        };
        problem.instance = Some(path);
        problem.request_id = Some(context.request_id.clone());
        let mut rendered = crate::error::render(problem);
        for (name, value) in response.headers() {
            if name != header::CONTENT_LENGTH && !rendered.headers().contains_key(name) {
                rendered.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = rendered;
    }
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&context.request_id) {
        headers.insert("x-request-id", id);
    }
    security_headers(headers, https);

    let elapsed = started.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status: status.as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { method, route })
        .observe(elapsed.as_secs_f64());
    if let Ok(rest) = leftover.try_recv() {
        // HTTP/2 can stop a sender without closing the connection; HTTP/1.1 cannot, so
        // there only time bounds the reading.
        let bound = (version == axum::http::Version::HTTP_2).then(|| {
            state
                .config
                .max_body_bytes
                .max(state.config.max_module_bytes)
        });
        let (body, sent) = transport::Sent::new(std::mem::take(response.body_mut()));
        *response.body_mut() = Body::new(body);
        transport::drain(rest, expects_continue, bound, sent);
    }
    let _entered = span.enter();
    if status.is_server_error() {
        tracing::warn!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "request failed"
        );
    } else {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "request"
        );
    }
    response
}

/// Routes whose paths carry a secret: access events record the template, never the path.
const SECRET_PATHS: [&str; 2] = [
    "/api/v1/support/links/{token}",
    "/console/support/links/{token}",
];

/// The `Strict-Transport-Security` header every HTTPS answer carries (the posture report
/// reads it here).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Headers every response carries. The API serves no active content, so the policy is
/// the strictest one; the console will relax it for its own pages only.
pub(crate) fn security_headers(headers: &mut HeaderMap, https: bool) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    if https {
        set(headers, "strict-transport-security", HSTS);
    }
    set(headers, "x-content-type-options", "nosniff");
    // A page sets its own policy (with its nonce); everything else gets the strictest.
    if !headers.contains_key("content-security-policy") {
        set(
            headers,
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        );
    }
    set(headers, "x-frame-options", "DENY");
    // An HTML page says `same-origin` (`Tokens::finish`): under `no-referrer` a browser
    // sends `Origin: null` with the page's own forms, which the CSRF check must refuse.
    if !headers.contains_key("referrer-policy") {
        set(headers, "referrer-policy", "no-referrer");
    }
    set(headers, "cross-origin-opener-policy", "same-origin");
    set(headers, "cross-origin-resource-policy", "same-origin");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_parsing() {
        let cases = [
            ("example.org:8080", Some("example.org")),
            ("example.org", Some("example.org")),
            ("[::1]:8080", Some("[::1]")),
            ("127.0.0.1:80", Some("127.0.0.1")),
            ("evil.org/path", None),
            ("a b", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let request = Request::get("/")
                .header(header::HOST, HeaderValue::from_str(raw).unwrap())
                .body(Body::empty())
                .unwrap();
            assert_eq!(request_host(&request).as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn request_ids_from_clients_are_kept_only_when_safe() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id(&headers), "abc-123_x.y");
        for bad in ["a\"b", "x".repeat(65).as_str(), "a b", ""] {
            headers.insert("x-request-id", HeaderValue::from_str(bad).unwrap());
            let id = request_id(&headers);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32);
        }
    }
}
