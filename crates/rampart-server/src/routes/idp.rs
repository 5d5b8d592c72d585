//! Rampart as an OpenID Connect provider, over HTTP: discovery, the key set, the
//! authorization endpoint (with its consent page), the token, userinfo, introspection and
//! revocation endpoints, and RP-initiated logout. The OAuth endpoints answer errors as
//! RFC 6749 requires (`{"error": …, "error_description": …}`), never as problems; the
//! administrators' API is in [`admin`].
//!
//! The issuer is `public_origin` when configured, otherwise `https://` and the host the
//! request named: set `public_origin` wherever the provider is reachable under more than
//! one name, so every relying party sees one issuer.

pub mod admin;
pub mod login;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use rampart_api::idp::OAuthErrorBody;
use rampart_service::identity;
use rampart_service::idp::authorize::{self, Decision, Step, Visit};
use rampart_service::idp::token::{self, ClientCredentials};
use rampart_service::idp::{access, keys, OAuthError};
use rampart_service::state::AppState;
use serde_json::{json, Value};

use super::page::{self, Tokens, Visitor};
use crate::auth::RequestContext;

/// The provider's routes (outside `/api/v1`, where relying parties expect them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/login", get(login::page).post(login::sign_in))
        .route("/oauth2/token", post(token_endpoint))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/logout", get(logout))
}

/// The issuer this request sees (module header).
pub fn issuer(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let configured = state.config.public_origin.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = crate::auth::named_host(headers, uri);
    format!("https://{}", host.unwrap_or("localhost"))
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Marks an OAuth error answer, which the outer middleware leaves as it is (not a
/// problem: relying-party libraries read `error` and `error_description`).
#[derive(Debug, Clone, Copy)]
pub struct ProtocolAnswer;

/// An OAuth error as RFC 6749 §5.2 (and RFC 6750 §3 for tokens) answers it.
fn oauth_error(e: OAuthError, basic: bool) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let challenge = match e.error {
        "invalid_client" if basic => Some("Basic realm=\"rampart\"".to_owned()),
        "invalid_token" => Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            e.description.replace('"', "'")
        )),
        _ => None,
    };
    let body = OAuthErrorBody {
        error: e.error.to_owned(),
        error_description: e.description,
    };
    let mut response = no_store((status, axum::Json(body)).into_response());
    response.extensions_mut().insert(ProtocolAnswer);
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// `GET /.well-known/openid-configuration`: the provider's metadata (OpenID Connect
/// Discovery 1.0, RFC 8414).
async fn discovery(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let i = issuer(&state, &headers, &uri);
    axum::Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
        "jwks_uri": format!("{i}/oauth2/jwks"),
        "introspection_endpoint": format!("{i}/oauth2/introspect"),
        "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "end_session_endpoint": format!("{i}/oauth2/logout"),
        "scopes_supported": rampart_idp::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": rampart_idp::jwt::Alg::ALL.map(|a| a.as_str()),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp",
                             "name", "preferred_username", "email", "email_verified"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

/// `GET /oauth2/jwks`: the published keys (RFC 7517), the next one included before it
/// signs.
async fn jwks(State(state): State<AppState>) -> Response {
    match keys::current(&state).await {
        Ok(loaded) => {
            let keys: Vec<Value> = loaded.published.iter().map(|k| k.jwk()).collect();
            let mut response = axum::Json(json!({ "keys": keys })).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            );
            response
        }
        Err(e) => oauth_error(e.into(), false),
    }
}

#[derive(Template)]
#[template(path = "idp/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "idp/consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<&'static str>,
    csrf: &'a str,
    fields: &'a [(String, String)],
}

const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

fn message(visitor: &Visitor, status: StatusCode, title: &str, text: &str) -> Response {
    let rendered = MessagePage {
        title,
        message: text,
    }
    .render();
    Tokens::new(visitor).finish(page::html(status, rendered), CSP)
}

/// What a scope lets a client do, in words.
fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "know who you are (your account's identifier)",
        "profile" => "see your username and name",
        "email" => "see your e-mail address",
        "offline_access" => "stay signed in while you are away",
        _ => "an unknown permission",
    }
}

/// The authorization request's parameters, the only fields carried through the consent
/// page.
const CARRIED: [&str; 10] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
];

async fn authorize_any(
    state: &AppState,
    visitor: &Visitor,
    context: &RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
    pairs: Vec<(String, String)>,
    decision: Decision,
) -> Response {
    let issuer = issuer(state, headers, uri);
    let audit = match visitor.signed_in() {
        Some(auth) => auth.audit(state),
        None => context.audit(state),
    };
    let visit = Visit {
        session: visitor.signed_in().map(|a| (&a.user, &a.session)),
        audit: &audit,
    };
    let step = match authorize::authorize(state, &issuer, &pairs, &visit, decision).await {
        Ok(step) => step,
        Err(e) => {
            tracing::error!(error = %e, "an authorization request failed");
            return message(
                visitor,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "The sign-in could not be completed. Try again.",
            );
        }
    };
    match step {
        Step::Page(why) => message(
            visitor,
            StatusCode::BAD_REQUEST,
            "This sign-in request is not valid",
            &why,
        ),
        Step::Redirect(to) => page::see_other(&to),
        Step::SignIn(users) => {
            // Back to the same request once signed in, without `prompt=login`, which the
            // fresh sign-in has answered.
            let back: Vec<(String, String)> = pairs
                .into_iter()
                .filter(|(k, v)| !(k == "prompt" && v.split(' ').any(|p| p == "login")))
                .collect();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&back)
                .finish();
            let here = format!("/oauth2/authorize?{query}");
            // IT users sign in on the console's page; end users on the provider's own.
            let desk = match users {
                rampart_core::Provider::It => "/console/login",
                rampart_core::Provider::End => "/oauth2/login",
            };
            page::see_other(&format!("{desk}?return={}", page::encode(&here)))
        }
        Step::Consent {
            client_name,
            scopes,
        } => {
            let Some(auth) = visitor.signed_in() else {
                return message(
                    visitor,
                    StatusCode::UNAUTHORIZED,
                    "Sign in first",
                    "Start again from the application.",
                );
            };
            let tokens = Tokens::new(visitor);
            let fields: Vec<(String, String)> = pairs
                .into_iter()
                .filter(|(k, _)| CARRIED.contains(&k.as_str()))
                .collect();
            let rendered = ConsentPage {
                client_name: &client_name,
                username: &auth.user.username,
                scopes: scopes.iter().map(|s| describe(s)).collect(),
                csrf: &tokens.csrf,
                fields: &fields,
            }
            .render();
            let mut response = tokens.finish(page::html(StatusCode::OK, rendered), CSP);
            response
                .headers_mut()
                .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            response
        }
    }
}

/// `GET /oauth2/authorize`: the authorization endpoint.
async fn authorize_get(
    State(state): State<AppState>,
    visitor: Visitor,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    authorize_any(
        &state,
        &visitor,
        &context,
        &headers,
        &uri,
        pairs,
        Decision::None,
    )
    .await
}

/// `POST /oauth2/authorize`: the consent page's answer (a form of this site, CSRF-checked).
async fn authorize_post(
    State(state): State<AppState>,
    visitor: Visitor,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    if !page::from_this_site(&state, &visitor, &headers, &fields) {
        let audit = context.audit(&state);
        rampart_service::idp::refused(
            &state,
            &audit,
            "idp.consent",
            None,
            json!({ "reason": "the consent form did not come from this site" }),
        )
        .await;
        return message(
            &visitor,
            StatusCode::FORBIDDEN,
            "Refused",
            "This form did not come from this site. Start again from the application.",
        );
    }
    let decision = match fields
        .iter()
        .find(|(k, _)| k == "decision")
        .map(|(_, v)| v.as_str())
    {
        Some("allow") => Decision::Allow,
        _ => Decision::Deny,
    };
    let pairs: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(k, _)| CARRIED.contains(&k.as_str()))
        .collect();
    authorize_any(&state, &visitor, &context, &headers, &uri, pairs, decision).await
}

/// The client credentials of a request: `Authorization: Basic` (RFC 6749 §2.3.1: each
/// part form-encoded) or `client_id`/`client_secret` fields, never both.
fn credentials(
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Result<ClientCredentials, OAuthError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    match basic {
        Some(encoded) => {
            if field("client_secret").is_some() {
                return Err(OAuthError::bad(
                    "invalid_request",
                    "use one client authentication method, not two",
                ));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    OAuthError::client("the Basic credentials are not base64 of id:secret")
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                OAuthError::client("the Basic credentials are not base64 of id:secret")
            })?;
            let unform = |s: &str| -> String {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let id = unform(id);
            if field("client_id").is_some_and(|f| f != id) {
                return Err(OAuthError::bad(
                    "invalid_request",
                    "client_id differs from the Basic credentials",
                ));
            }
            Ok(ClientCredentials {
                client_id: Some(id),
                secret: Some(unform(secret)),
                basic: true,
            })
        }
        None => Ok(ClientCredentials {
            client_id: field("client_id"),
            secret: field("client_secret"),
            basic: false,
        }),
    }
}

/// Reads a form body of an OAuth endpoint and authenticates its client.
async fn client_form(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<(Vec<(String, String)>, rampart_store::IdpClient), (OAuthError, bool)> {
    let Ok(Form(fields)) = form else {
        return Err((
            OAuthError::bad(
                "invalid_request",
                "the body must be application/x-www-form-urlencoded",
            ),
            false,
        ));
    };
    if let Some(name) = token::Form(&fields).repeated() {
        return Err((
            OAuthError::bad(
                "invalid_request",
                format!("the parameter {name} was sent more than once"),
            ),
            false,
        ));
    }
    let presented = credentials(headers, &fields).map_err(|e| (e, false))?;
    let audit = context.audit(state);
    let client = token::authenticate(state, &audit, &presented)
        .await
        .map_err(|e| (e, presented.basic))?;
    Ok((fields, client))
}

/// `POST /oauth2/token`.
async fn token_endpoint(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let (fields, client) = match client_form(&state, &context, &headers, form).await {
        Ok(ok) => ok,
        Err((e, basic)) => return oauth_error(e, basic),
    };
    let issuer = issuer(&state, &headers, &uri);
    let audit = context.audit(&state);
    match token::token(&state, &issuer, &audit, &client, &token::Form(&fields)).await {
        Ok(answer) => no_store(axum::Json(answer).into_response()),
        Err(e) => oauth_error(e, false),
    }
}

/// `GET|POST /oauth2/userinfo` with `Authorization: Bearer`.
async fn userinfo(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let issuer = issuer(&state, &headers, &uri);
    let audit = context.audit(&state);
    match access::userinfo(&state, &issuer, &audit, bearer).await {
        Ok(claims) => no_store(axum::Json(claims).into_response()),
        Err(e) => oauth_error(e, false),
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `POST /oauth2/introspect` (RFC 7662), client-authenticated.
async fn introspect(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let (fields, client) = match client_form(&state, &context, &headers, form).await {
        Ok(ok) => ok,
        Err((e, basic)) => return oauth_error(e, basic),
    };
    let issuer = issuer(&state, &headers, &uri);
    let audit = context.audit(&state);
    match access::introspect(&state, &issuer, &audit, &client, field(&fields, "token")).await {
        Ok(answer) => no_store(axum::Json(answer).into_response()),
        Err(e) => oauth_error(e, false),
    }
}

/// `POST /oauth2/revoke` (RFC 7009), client-authenticated.
async fn revoke(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let (fields, client) = match client_form(&state, &context, &headers, form).await {
        Ok(ok) => ok,
        Err((e, basic)) => return oauth_error(e, basic),
    };
    let issuer = issuer(&state, &headers, &uri);
    let audit = context.audit(&state);
    match access::revoke(&state, &issuer, &audit, &client, field(&fields, "token")).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(e, false),
    }
}

/// `GET /oauth2/logout`: RP-initiated logout. With a valid `id_token_hint` naming the
/// signed-in user, ends their Rampart session, then returns to the registered
/// `post_logout_redirect_uri` (or shows a page).
async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    context: RequestContext,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let issuer = issuer(&state, &headers, &uri);
    let audit = match visitor.signed_in() {
        Some(auth) => auth.audit(&state),
        None => context.audit(&state),
    };
    let request = access::LogoutRequest {
        hint: field(&pairs, "id_token_hint"),
        client_id: field(&pairs, "client_id"),
        post_logout_redirect_uri: field(&pairs, "post_logout_redirect_uri"),
        state: field(&pairs, "state"),
        signed_in: visitor.signed_in().map(|a| a.user.id),
    };
    let checked = access::check_logout(&state, &issuer, &audit, &request).await;
    let logout = match checked {
        Ok(Ok(l)) => l,
        Ok(Err(why)) => {
            return message(
                &visitor,
                StatusCode::BAD_REQUEST,
                "This sign-out request is not valid",
                &why,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "a logout failed");
            return message(
                &visitor,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-out failed",
                "Try again.",
            );
        }
    };
    let mut ended = false;
    if let Some(auth) = visitor.signed_in().filter(|a| a.user.id == logout.user) {
        if let Err(e) = identity::logout(&state, &auth.caller(&state), &auth.session, false).await {
            tracing::error!(error = %e, "a session could not be ended");
            return message(
                &visitor,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-out failed",
                "Try again.",
            );
        }
        ended = true;
    }
    if let Err(e) = access::logged_out(&state, &audit, &logout, ended).await {
        tracing::error!(error = %e, "a logout could not be recorded");
    }
    let https = visitor.https();
    match &logout.redirect {
        Some(to) => page::with_session(to, "", 0, https),
        None => {
            let mut response = message(
                &visitor,
                StatusCode::OK,
                "Signed out",
                "You are signed out.",
            );
            if let Some(cookie) = crate::auth::session_cookie("", 0, https) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}
