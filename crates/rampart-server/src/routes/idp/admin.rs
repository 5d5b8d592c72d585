//! `/api/v1/idp/…`: the clients administrators register with Rampart's OpenID provider,
//! and its signing keys. Changes (registering, editing, rotating a secret, removing) are
//! for IT administrators (the permission that changes user providers); reading is for them
//! and auditors.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::idp::{
    IdpClientCreated, IdpClientInfo, IdpClientList, IdpClientUpdate, IdpKeyInfo, IdpKeyList,
    NewIdpClientRequest,
};
use rampart_service::idp::{clients, keys};
use rampart_service::state::AppState;
use time::format_description::well_known::Rfc3339;

use crate::auth::{ProviderAdministrator, ProviderReader};
use crate::error::{ApiError, Json, Problem};

/// List the registered clients (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/idp/clients", tag = "idp",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every client, by id (never a secret)", body = IdpClientList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: ProviderReader,
) -> Result<Json<IdpClientList>, ApiError> {
    Ok(Json(IdpClientList {
        clients: clients::list(&state).await?,
    }))
}

/// Register a client. The answer shows a confidential or service client's secret, this
/// once: only its hash is kept.
#[utoipa::path(
    post, path = "/api/v1/idp/clients", tag = "idp",
    request_body = NewIdpClientRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Registered; the secret is in the answer, once", body = IdpClientCreated),
        (status = 400, description = "The body is not a client", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator, or `step-up-required`: a recent second factor is needed first", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A client with that id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A setting breaks a rule (`field` names it)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Json(body): Json<NewIdpClientRequest>,
) -> Result<Response, ApiError> {
    let created = clients::create(&state, &admin.caller(&state), &body).await?;
    let location = format!("/api/v1/idp/clients/{}", created.client.client_id);
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One client (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/idp/clients/{client_id}", tag = "idp",
    params(("client_id" = String, Path, description = "The client id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The client", body = IdpClientInfo),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _reader: ProviderReader,
    Path(client_id): Path<String>,
) -> Result<Json<IdpClientInfo>, ApiError> {
    Ok(Json(clients::get(&state, &client_id).await?))
}

/// Change a client's settings: only the fields sent change (absent or `null` keeps the
/// value; a list replaces the registered one). Checked whole by the rules of a
/// registration; a refusal changes nothing. The id, the secret and the kind never change
/// here. What the client was issued follows at once: codes for a removed redirect URI are
/// withdrawn, and codes, refresh tokens and consents keep only the scopes still allowed
/// (one left without `openid` is revoked); changing `users` revokes them all.
#[utoipa::path(
    patch, path = "/api/v1/idp/clients/{client_id}", tag = "idp",
    params(("client_id" = String, Path, description = "The client id")),
    request_body = IdpClientUpdate,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The client as it now is (never its secret)", body = IdpClientInfo),
        (status = 400, description = "The body is not a change of a client", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator, or `step-up-required`: a recent second factor is needed first", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client changed meanwhile; read it again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A setting breaks a rule (`field` names it); nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(client_id): Path<String>,
    Json(body): Json<IdpClientUpdate>,
) -> Result<Json<IdpClientInfo>, ApiError> {
    Ok(Json(
        clients::update(&state, &admin.caller(&state), &client_id, &body).await?,
    ))
}

/// Remove a client, with its codes, refresh tokens and consents.
#[utoipa::path(
    delete, path = "/api/v1/idp/clients/{client_id}", tag = "idp",
    params(("client_id" = String, Path, description = "The client id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    clients::delete(&state, &admin.caller(&state), &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a confidential or service client a new secret, shown once; the old one stops
/// working at once.
#[utoipa::path(
    post, path = "/api/v1/idp/clients/{client_id}/secret", tag = "idp",
    params(("client_id" = String, Path, description = "The client id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The new secret, once", body = IdpClientCreated),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator, or `step-up-required`: a recent second factor is needed first", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A public client has no secret", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
    Path(client_id): Path<String>,
) -> Result<Json<IdpClientCreated>, ApiError> {
    Ok(Json(
        clients::rotate_secret(&state, &admin.caller(&state), &client_id).await?,
    ))
}

fn key_list(loaded: &keys::Loaded) -> IdpKeyList {
    let t = |at: time::OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    IdpKeyList {
        keys: loaded
            .stored
            .iter()
            .map(|k| IdpKeyInfo {
                kid: k.kid.clone(),
                alg: k.alg.clone(),
                published_at: t(k.created_at),
                signs_from: t(k.signs_from),
                retire_at: k.retire_at.map(t),
            })
            .collect(),
    }
}

/// The provider's published signing keys (administrators and auditors).
#[utoipa::path(
    get, path = "/api/v1/idp/keys", tag = "idp",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The published keys, oldest first", body = IdpKeyList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_keys(
    State(state): State<AppState>,
    _reader: ProviderReader,
) -> Result<Json<IdpKeyList>, ApiError> {
    Ok(Json(key_list(&keys::current(&state).await?)))
}

/// Rotate the signing key: a new key is published at once and signs ten minutes later;
/// the old one stays published until the tokens it signed have expired. A sensitive
/// operation: a second factor verified recently, for those who have one.
#[utoipa::path(
    post, path = "/api/v1/idp/keys/rotate", tag = "idp",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The published keys after the rotation", body = IdpKeyList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an IT administrator, or a step-up is needed first", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_key(
    State(state): State<AppState>,
    ProviderAdministrator(admin): ProviderAdministrator,
) -> Result<Json<IdpKeyList>, ApiError> {
    Ok(Json(key_list(
        &keys::rotate(&state, &admin.caller(&state)).await?,
    )))
}
