//! Sealed modules over HTTP: environments' public keys, trusted publishers and imports of
//! sealed packages (the rules are in `rampart_service::lifecycle::sealed`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_service::lifecycle::sealed;
use rampart_service::AppState;

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{EnvironmentPublicKey, ImportResponse, PublisherWire, TrustPublisherRequest};

/// The environment's X25519 recipient (`age1…`): what a vendor seals a module to.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/public-key", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The recipient (created with the key pair on first use)", body = EnvironmentPublicKey),
        (status = 403, description = "Not an IT user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn public_key(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
) -> Result<Json<EnvironmentPublicKey>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(sealed::public_key(&state, &caller, &env)?))
}

/// Import a sealed package (the file `rampart module seal` writes, as the body) into the
/// environment it was sealed to.
#[utoipa::path(
    post, path = "/api/v1/environments/{env}/imports", tag = "environments",
    params(("env" = String, Path, description = "The environment the package was sealed to")),
    request_body(content = String, content_type = "application/json", description = "The sealed package, format `rampart-sealed/1`, byte for byte"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Imported: the version, numbered as its publisher numbered it", body = ImportResponse),
        (status = 403, description = "Not an IT administrator, or a publisher not trusted or revoked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not newer than what was imported (replay), a digest present already, or a module published here or by another publisher", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Altered or malformed package, sealed for another environment, or no such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportResponse>), ApiError> {
    let caller = auth.caller(&state);
    let imported = sealed::import(&state, &caller, &env, &body).await?;
    Ok((StatusCode::CREATED, Json(imported)))
}

/// The publisher keys administrators trust or have revoked.
#[utoipa::path(
    get, path = "/api/v1/publishers", tag = "modules",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Publishers, by name", body = [PublisherWire]),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publishers(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<PublisherWire>>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(sealed::publishers(&state, &caller).await?))
}

/// Trust a publisher's Ed25519 key: sealed packages it signs may be imported.
#[utoipa::path(
    post, path = "/api/v1/publishers", tag = "modules",
    request_body = TrustPublisherRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Trusted", body = PublisherWire),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name or key is known already (a revoked key stays revoked)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a name, or not an Ed25519 public key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn trust(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<TrustPublisherRequest>,
) -> Result<(StatusCode, Json<PublisherWire>), ApiError> {
    let caller = auth.caller(&state);
    let p = sealed::trust(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Revoke a publisher: no package it signed is imported afterwards.
#[utoipa::path(
    post, path = "/api/v1/publishers/{name}/revoke", tag = "modules",
    params(("name" = String, Path, description = "The publisher")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such publisher", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Revoked already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.caller(&state);
    sealed::revoke(&state, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
