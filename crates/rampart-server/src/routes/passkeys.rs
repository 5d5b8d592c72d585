//! Passkeys (WebAuthn) under `/api/v1/auth`: a sign-in by a passkey alone (its discovery
//! and its answer), the challenges of a sign-in's second step and of a step-up, and
//! registering, listing and removing the caller's passkeys. The answers to the second-step
//! and step-up challenges go to `routes::mfa` (`passkey` beside `code`). Each handler calls
//! one use case of `rampart_service::identity::passkeys` or `passkey_sign_in`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rampart_api::{
    PasskeyChallenge, PasskeyDiscovery, PasskeyLoginRequest, PasskeyView, PendingEnrolmentRequest,
    RegisterPasskeyRequest,
};
use rampart_service::identity::{passkey_sign_in, passkeys};
use rampart_service::state::AppState;
use rampart_store::StoredPasskey;
use serde_json::Value;

use crate::auth::{Authenticated, RequestContext};
use crate::error::{ApiError, Json, Problem};

fn challenge(mut options: Value) -> PasskeyChallenge {
    PasskeyChallenge {
        public_key: options["publicKey"].take(),
    }
}

fn view(p: StoredPasskey) -> PasskeyView {
    PasskeyView {
        id: p.id.to_string(),
        name: p.name,
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

/// Begin signing in with a passkey alone.
///
/// No username: the options for `navigator.credentials.get` name no credential, so the
/// browser offers the passkeys it holds for this site, and require user verification (PIN
/// or biometric), so the passkey is both factors. Send the answer with `ceremony` to
/// `POST /api/v1/auth/login/passkey`. Each ceremony works once; one address may keep 16
/// waiting, the server 100,000.
#[utoipa::path(
    post, path = "/api/v1/auth/login/passkey-discovery", tag = "auth",
    responses(
        (status = 200, description = "The ceremony and the options for the browser", body = PasskeyDiscovery),
        (status = 409, description = "Passkeys are unavailable on this server (no `public_origin`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The address is throttled after failed sign-ins; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many passkey sign-ins are waiting (16 from this address, or 100,000 in all), or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn discovery(
    State(state): State<AppState>,
    request: RequestContext,
) -> Result<Json<PasskeyDiscovery>, ApiError> {
    let found = passkey_sign_in::challenge(&state, &request.origin(&state)).await?;
    let mut options = found.options;
    Ok(Json(PasskeyDiscovery {
        ceremony: found.ceremony.secret().to_owned(),
        expires_at: found.expires_at,
        public_key: options["publicKey"].take(),
    }))
}

/// Sign in with a passkey alone.
///
/// The browser's answer to a discovery. A passkey verified with its user is both factors:
/// the session counts as having verified a second factor now. The throttles, the lockout,
/// disabled accounts and `[sign_in]` requirements are those of a password; an account a
/// user provider vouches for signs in through its provider (its passkey is the second
/// step there). Every refusal is an audited failed login.
#[utoipa::path(
    post, path = "/api/v1/auth/login/passkey", tag = "auth",
    request_body = PasskeyLoginRequest,
    responses(
        (status = 200, description = "Signed in; also sets the session cookie", body = rampart_api::LoginResponse),
        (status = 401, description = "The passkey was refused, or the ceremony is unknown, answered already or expired", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled, a user provider's account, or these users must sign in through a user provider", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Passkeys are unavailable on this server", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    request: RequestContext,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<PasskeyLoginRequest>,
) -> Result<Response, ApiError> {
    crate::routes::auth::refuse_other_origin(&state, &request, &uri, &headers)?;
    let done = passkey_sign_in::sign_in(
        &state,
        &request.origin(&state),
        &body.provider,
        &body.ceremony,
        &body.credential,
        crate::routes::auth::user_agent(&headers),
    )
    .await?;
    Ok(crate::routes::auth::logged_in(
        &state, &request, &done, None,
    ))
}

/// A passkey challenge for a sign-in's second step.
///
/// For a `202` from `POST /api/v1/auth/login` whose `methods` include `passkey`: the
/// options for `navigator.credentials.get`, bound to this sign-in. Send the browser's
/// answer as `passkey` to `POST /api/v1/auth/login/second-factor`. Asking again replaces
/// the challenge; each works once.
#[utoipa::path(
    post, path = "/api/v1/auth/login/passkey-challenge", tag = "auth",
    request_body = PendingEnrolmentRequest,
    responses(
        (status = 200, description = "The options for the browser", body = PasskeyChallenge),
        (status = 401, description = "An unknown, finished or expired sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has no passkey, or passkeys are unavailable on this server (no `public_origin`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login_challenge(
    State(state): State<AppState>,
    _request: RequestContext,
    Json(body): Json<PendingEnrolmentRequest>,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let options = passkeys::login_options(&state, &body.pending_token).await?;
    Ok(Json(challenge(options)))
}

/// A passkey challenge for a step-up in this session.
///
/// The options for `navigator.credentials.get`; send the browser's answer as `passkey` to
/// `POST /api/v1/auth/step-up`.
#[utoipa::path(
    post, path = "/api/v1/auth/step-up/passkey-challenge", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The options for the browser", body = PasskeyChallenge),
        (status = 409, description = "The account has no passkey, or passkeys are unavailable on this server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn step_up_challenge(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let options = passkeys::step_up_options(&state, &auth.caller(&state), &auth.session).await?;
    Ok(Json(challenge(options)))
}

/// The caller's passkeys.
#[utoipa::path(
    get, path = "/api/v1/auth/mfa/passkeys", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Oldest first", body = Vec<PasskeyView>),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<PasskeyView>>, ApiError> {
    let all = passkeys::list(&state, &auth.caller(&state)).await?;
    Ok(Json(all.into_iter().map(view).collect()))
}

/// Start registering a passkey (needs a recent second factor when the account has one).
///
/// The options for `navigator.credentials.create`, bound to this session; finish with
/// `POST /api/v1/auth/mfa/passkeys`. An account may hold several passkeys; the ones it has
/// are excluded.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/passkeys/challenge", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The options for the browser", body = PasskeyChallenge),
        (status = 403, description = "`step-up-required`: verify a second factor first", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Passkeys are unavailable on this server (no `public_origin`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register_challenge(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let options =
        passkeys::begin_registration(&state, &auth.caller(&state), auth.session.id).await?;
    Ok(Json(challenge(options)))
}

/// Finish registering a passkey, named.
///
/// The browser's answer to this session's registration challenge. The session counts as
/// having verified a second factor now.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/passkeys", tag = "auth",
    request_body = RegisterPasskeyRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Registered", body = PasskeyView),
        (status = 409, description = "No registration waits in this session, the authenticator's passkey is registered already, or passkeys are unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<RegisterPasskeyRequest>,
) -> Result<(StatusCode, Json<PasskeyView>), ApiError> {
    let added = passkeys::finish_registration(
        &state,
        &auth.caller(&state),
        auth.session.id,
        &body.name,
        &body.credential,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(added))))
}

/// Remove one of the caller's passkeys (needs a recent second factor).
#[utoipa::path(
    delete, path = "/api/v1/auth/mfa/passkeys/{id}", tag = "auth",
    params(("id" = String, Path, description = "Passkey id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "`step-up-required`: verify a second factor first", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no such passkey", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a passkey id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    passkeys::remove(&state, &auth.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
