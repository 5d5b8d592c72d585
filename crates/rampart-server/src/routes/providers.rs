//! `/api/v1/providers`: user providers (directories and identity providers that vouch for
//! users), for IT administrators to change and auditors to read; and the two legs of a
//! browser's sign-in through an OpenID Connect provider (`…/oidc/start`, `…/oidc/callback`).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rampart_api::{
    CreateProviderRequest, OidcCallbackQuery, OidcStartQuery, ProviderList, ProviderStatusView,
    ProviderTestResult, ProviderView, ScimTokenIssued, ScimTokenStatus, SyncReport,
    UpdateProviderRequest,
};
use rampart_service::identity::LoginStep;
use rampart_service::providers;
use rampart_service::state::AppState;

use crate::auth::{cookie, session_cookie, ProviderAdministrator, ProviderReader, RequestContext};
use crate::error::{ApiError, Json, Problem};

/// The cookie holding a sign-in's secret between start and callback, over HTTPS (`__Host-`:
/// this host only, `Secure`, `Path=/`). `SameSite=Lax`: the callback is a top-level
/// navigation from the provider's site, which a `Strict` cookie would not follow.
const SECURE_LOGIN_COOKIE: &str = "__Host-rampart_oidc";
/// The same over plain HTTP (only where HTTPS is not enforced).
const PLAIN_LOGIN_COOKIE: &str = "rampart_oidc";

/// What every route on one provider may answer besides its own outcomes.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes answers in the OpenAPI document; never built
enum OneProvider {
    #[response(
        status = 403,
        description = "Not allowed: changes are for IT administrators, reading for them and auditors; or `step-up-required`: changing a provider or issuing its SCIM token needs a recent second factor",
        content_type = "application/problem+json"
    )]
    NotAllowed(Problem),
    #[response(
        status = 404,
        description = "No such user provider",
        content_type = "application/problem+json"
    )]
    NoSuchProvider(Problem),
}

/// What a route that reaches the directory may answer besides its own outcomes.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes answers in the OpenAPI document; never built
enum ReachesDirectory {
    #[response(
        status = 502,
        description = "The directory refused the service account's bind, answered an error, or a sync would have disabled every user",
        content_type = "application/problem+json"
    )]
    DirectoryFailed(Problem),
    #[response(
        status = 503,
        description = "The directory cannot be reached (or its bind password's reference cannot be read)",
        content_type = "application/problem+json"
    )]
    DirectoryUnreachable(Problem),
}

/// List user providers (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/providers", tag = "providers",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every user provider, by name", body = ProviderList),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: ProviderReader,
) -> Result<Json<ProviderList>, ApiError> {
    Ok(Json(providers::list(&state).await?))
}

/// Create a user provider. Its bind password is a secret reference (`env:NAME`,
/// `file:/absolute/path`), never the password.
#[utoipa::path(
    post, path = "/api/v1/providers", tag = "providers",
    request_body = CreateProviderRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = ProviderView),
        (status = 403, description = "Not an IT administrator, or `step-up-required`: a recent second factor is needed first", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A provider of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A setting breaks a rule (`field` names it)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Json(body): Json<CreateProviderRequest>,
) -> Result<Response, ApiError> {
    let view = providers::create(&state, &admin.caller(&state), body).await?;
    let location = format!("/api/v1/providers/{}", view.name);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One user provider (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The provider", body = ProviderView),
        OneProvider,
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _reader: ProviderReader,
    Path(name): Path<String>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(providers::get(&state, &name).await?))
}

/// Change a user provider's audience or settings (`settings` replaces them whole).
#[utoipa::path(
    patch, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    request_body = UpdateProviderRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The changed provider", body = ProviderView),
        (status = 422, description = "A setting breaks a rule (`field` names it)", body = Problem, content_type = "application/problem+json"),
        OneProvider,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
    Json(body): Json<UpdateProviderRequest>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(
        providers::update(&state, &admin.caller(&state), &name, body).await?,
    ))
}

/// Delete a user provider: the users it vouched for are disabled and their sessions end.
#[utoipa::path(
    delete, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        OneProvider,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    providers::delete(&state, &admin.caller(&state), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Test a user provider: connect and bind with its service account.
#[utoipa::path(
    post, path = "/api/v1/providers/{name}/test", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Connected and bound", body = ProviderTestResult),
        OneProvider,
        ReachesDirectory,
    )
)]
pub async fn test(
    State(state): State<AppState>,
    _admin: ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<Json<ProviderTestResult>, ApiError> {
    Ok(Json(providers::test(&state, &name).await?))
}

/// Sync a user provider now: create and update profiles, disable users gone from the
/// directory and end their sessions.
#[utoipa::path(
    post, path = "/api/v1/providers/{name}/sync", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "What the run did", body = SyncReport),
        OneProvider,
        ReachesDirectory,
    )
)]
pub async fn sync(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<Json<SyncReport>, ApiError> {
    let caller = admin.caller(&state);
    Ok(Json(
        providers::sync_now(&state, &caller.audit, &name).await?,
    ))
}

/// A user provider's health: the last success and error, the last sync, its users.
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/status", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Its status", body = ProviderStatusView),
        OneProvider,
    )
)]
pub async fn status(
    State(state): State<AppState>,
    _reader: ProviderReader,
    Path(name): Path<String>,
) -> Result<Json<ProviderStatusView>, ApiError> {
    Ok(Json(providers::status(&state, &name).await?))
}

/// Start signing in through an OpenID Connect provider: a redirect to the provider's
/// authorization endpoint (code flow, PKCE S256, `state`, `nonce`), with a cookie binding
/// the sign-in to this browser for 10 minutes. No session is needed.
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/oidc/start", tag = "providers",
    params(("name" = String, Path, description = "Provider name"), OidcStartQuery),
    responses(
        (status = 303, description = "To the identity provider; sets the sign-in's cookie"),
        (status = 403, description = "The provider is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user provider", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an OpenID Connect provider, a kind of user it does not serve, or a return address that is not a path in the console or an application", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The identity provider answered an error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The identity provider cannot be reached (or its client secret cannot be read)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn oidc_start(
    State(state): State<AppState>,
    request: RequestContext,
    Path(name): Path<String>,
    Query(query): Query<OidcStartQuery>,
) -> Result<Response, ApiError> {
    let started = providers::oidc::start(
        &state,
        &request.origin(&state),
        &name,
        query.kind.as_deref(),
        query.return_to.as_deref(),
    )
    .await?;
    let location = HeaderValue::from_str(&started.location)
        .map_err(|_| rampart_core::Error::Internal("an authorization URL is no header".into()))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = login_cookie(&started.secret, started.max_age, request.https) {
        headers.append(header::SET_COOKIE, c);
    }
    Ok(response)
}

/// Where an OpenID Connect provider sends the browser back: the sign-in this browser
/// started is taken (it is used once), the answer checked (`state`, `iss`), the code
/// exchanged and the ID token verified; then a session opens (the session cookie) and the
/// browser goes to the return address given at the start. Every refusal is a problem and an
/// audit event, and opens no session.
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/oidc/callback", tag = "providers",
    params(("name" = String, Path, description = "Provider name"), OidcCallbackQuery),
    responses(
        (status = 303, description = "Signed in: to the return address, with the session cookie"),
        (status = 200, description = "The user has a second factor (or must set one up): the sign-in page's second step, completing the pending sign-in", content_type = "text/html"),
        (status = 403, description = "Refused: no sign-in under way in this browser, a state, issuer, code or ID token that is not the one expected, the provider's own refusal, or a disabled account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username belongs to a local account, or to another user of the provider", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The identity provider answered an error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The identity provider cannot be reached", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn oidc_callback(
    State(state): State<AppState>,
    request: RequestContext,
    visitor: Result<super::page::Visitor, ApiError>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(answer): Query<OidcCallbackQuery>,
) -> Response {
    let secret = cookie(&headers, login_cookie_name(request.https));
    let finished = providers::oidc::finish(
        &state,
        &request.origin(&state),
        &name,
        secret.as_deref(),
        &answer,
        super::auth::user_agent(&headers),
    )
    .await;
    let mut response = match finished {
        Ok(providers::oidc::Finished {
            step: LoginStep::Session(done),
            return_to,
        }) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(to) = HeaderValue::from_str(&return_to) {
                response.headers_mut().insert(header::LOCATION, to);
            }
            if let Some(c) = session_cookie(
                done.token.secret(),
                done.lifetime.whole_seconds(),
                request.https,
            ) {
                response.headers_mut().append(header::SET_COOKIE, c);
            }
            response
        }
        // The second factor, asked on the sign-in page of where the browser is going.
        Ok(providers::oidc::Finished {
            step: LoginStep::SecondFactor(pending),
            return_to,
        }) => match visitor {
            Ok(visitor) => {
                super::sign_in::after_provider(&state, &request, &visitor, &pending, &return_to)
                    .await
            }
            Err(e) => refusal(&headers, e),
        },
        Err(e) => refusal(&headers, ApiError::from(e)),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if secret.is_some() {
        if let Some(c) = login_cookie("", 0, request.https) {
            headers.append(header::SET_COOKIE, c);
        }
    }
    response
}

#[derive(askama::Template)]
#[template(path = "providers/refused.html")]
struct RefusedPage<'a> {
    title: &'a str,
    detail: &'a str,
}

/// A refused callback: a page for a browser (which asks for HTML), the problem otherwise.
fn refusal(headers: &HeaderMap, error: ApiError) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !browser {
        return error.into_response();
    }
    let problem = &error.0;
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::FORBIDDEN);
    let page = askama::Template::render(&RefusedPage {
        title: &problem.title,
        detail: &problem.detail,
    });
    super::page::html(status, page)
}

fn login_cookie_name(https: bool) -> &'static str {
    if https {
        SECURE_LOGIN_COOKIE
    } else {
        PLAIN_LOGIN_COOKIE
    }
}

/// The sign-in's cookie (`value` empty and `max_age` 0 clear it).
fn login_cookie(value: &str, max_age: i64, https: bool) -> Option<HeaderValue> {
    let name = login_cookie_name(https);
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}{secure}; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

/// Whether a user provider has a SCIM token, and since when (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/providers/{name}/scim-token", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Whether a SCIM token is in force", body = ScimTokenStatus),
        OneProvider,
    )
)]
pub async fn scim_token_status(
    State(state): State<AppState>,
    _reader: ProviderReader,
    Path(name): Path<String>,
) -> Result<Json<ScimTokenStatus>, ApiError> {
    let created_at = rampart_service::scim::token_created(&state, &name).await?;
    Ok(Json(ScimTokenStatus {
        configured: created_at.is_some(),
        created_at,
    }))
}

/// Make or rotate a user provider's SCIM token: the directory presents it to `/scim/v2` to
/// provision this provider's users and groups, and reaches nothing else. Shown once, stored
/// as its SHA-256 only; an earlier token stops working at once.
#[utoipa::path(
    post, path = "/api/v1/providers/{name}/scim-token", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The new token, shown this once", body = ScimTokenIssued),
        OneProvider,
    )
)]
pub async fn issue_scim_token(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    ctx: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let issued = rampart_service::scim::issue_token(&state, &admin.caller(&state), &name).await?;
    let body = ScimTokenIssued {
        token: issued.token,
        rotated: issued.rotated,
        created_at: issued.created_at,
        base_url: crate::routes::scim::base(&state, &ctx, &headers, &uri),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revoke a user provider's SCIM token: its next request is refused.
#[utoipa::path(
    delete, path = "/api/v1/providers/{name}/scim-token", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user provider, or it has no SCIM token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_scim_token(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    rampart_service::scim::revoke_token(&state, &admin.caller(&state), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
