//! Passkeys (WebAuthn) under `/api/v1/auth`: the challenges of a sign-in's second step and
//! of a step-up, and registering, listing and removing the caller's passkeys. The answers
//! to the sign-in and step-up challenges go to `routes::mfa` (`passkey` beside `code`).
//! Each handler calls one use case of `rampart_service::identity::passkeys`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_api::{PasskeyChallenge, PasskeyView, PendingEnrolmentRequest, RegisterPasskeyRequest};
use rampart_service::identity::passkeys;
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
