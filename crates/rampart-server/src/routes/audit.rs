//! `/api/v1/audit`: search and export for auditors, signed checkpoints, inclusion and
//! consistency proofs, all read-only; and the one way in for other services, the calls they
//! report to the `integration` stream (appended, never changing what is there).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use rampart_audit::hash::to_hex;
use rampart_core::Error;

use crate::auth::{Administrator, AuditReader, Authenticated};
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    AuditEventPage, AuditEventsQuery, AuditKeyRotation, CheckpointView, ConsistencyProofView,
    ConsistencyQuery, InclusionProofView, InclusionQuery, IntegrationReportRequest,
    IntegrationReportResponse, NoQuery,
};
use rampart_service::state::AppState;

use rampart_service::audit::proof::{self, Proved};
use rampart_service::audit::search::{self, event_query};

/// Search the audit log (a page, newest first) or export every match (CSV or JSON lines,
/// oldest first, streamed).
#[utoipa::path(
    get, path = "/api/v1/audit/events", tag = "audit",
    params(AuditEventsQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of events, or with `format=csv` or `format=jsonl` every match, oldest first, streamed", content(
            (AuditEventPage = "application/json"),
            (String = "text/csv"),
            (String = "application/jsonl"),
        )),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter with a bad value (a stream, outcome, time, cursor, limit or format not among those allowed; text too long or with control characters)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    _reader: AuditReader,
    Query(q): Query<AuditEventsQuery>,
) -> Result<Response, ApiError> {
    let (query, format, limit) = event_query(q)?;
    let csv = match format.as_deref() {
        None | Some("json") => {
            return Ok(Json(search::page(&state, query, limit).await?).into_response())
        }
        Some(kind) => kind == "csv",
    };
    let mut response =
        Body::from_stream(search::export(state.store.clone(), query, csv)).into_response();
    let (ctype, name) = if csv {
        ("text/csv; charset=utf-8", "audit.csv")
    } else {
        ("application/jsonl", "audit.jsonl")
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Record calls a service made or received in the `integration` stream (who: the reporting
/// service; target, method, status, duration; time and node: this node's, on receipt). All
/// or none, acknowledged once committed. For IT users and services; an auditor reads the
/// log and reports nothing.
#[utoipa::path(
    post, path = "/api/v1/audit/integration", tag = "audit",
    request_body = IntegrationReportRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Recorded", body = IntegrationReportResponse),
        (status = 403, description = "An end user or an auditor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A call is not valid; nothing was recorded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report_integration(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<IntegrationReportRequest>,
) -> Result<(axum::http::StatusCode, Json<IntegrationReportResponse>), ApiError> {
    let response = rampart_service::audit::report::report_integration(
        &state,
        &auth.user,
        &auth.audit(&state),
        &req,
    )
    .await?;
    Ok((axum::http::StatusCode::CREATED, Json(response)))
}

/// The newest signed checkpoint (C2SP signed note). Reading never signs: ask for a fresh
/// one with `POST /api/v1/audit/checkpoint`.
#[utoipa::path(
    get, path = "/api/v1/audit/checkpoint", tag = "audit",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The checkpoint", body = CheckpointView),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No checkpoint signed yet", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A query parameter (this operation takes none)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn checkpoint(
    State(state): State<AppState>,
    _reader: AuditReader,
    _query: Query<NoQuery>,
) -> Result<Json<CheckpointView>, ApiError> {
    let Some(c) = state.store.audit_latest_checkpoint().await? else {
        return Err(Error::NotFound {
            what: "checkpoint (none signed yet; sign one with POST /api/v1/audit/checkpoint)",
        }
        .into());
    };
    Ok(Json(checkpoint_view(&state, c).await?))
}

/// Sign a checkpoint of the log as it is now (if it grew since the last) and return it.
/// Auditors may ask: a checkpoint states what the log already holds and changes nothing in
/// it. A cookie-authenticated call must be same-origin, as every state-changing request.
#[utoipa::path(
    post, path = "/api/v1/audit/checkpoint", tag = "audit",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The checkpoint of the log's current size", body = CheckpointView),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A query parameter (this operation takes none)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_checkpoint(
    State(state): State<AppState>,
    _reader: AuditReader,
    _query: Query<NoQuery>,
) -> Result<Json<CheckpointView>, ApiError> {
    let c = state
        .audit
        .checkpoint(state.clock.now(), &state.metrics)
        .await?;
    Ok(Json(checkpoint_view(&state, c).await?))
}

async fn checkpoint_view(
    state: &AppState,
    c: rampart_store::StoredCheckpoint,
) -> Result<CheckpointView, Error> {
    Ok(CheckpointView {
        origin: state.audit.origin().to_owned(),
        size: c.size,
        root: to_hex(&c.root),
        note: c.cosigned_note(),
        signed_at: c.signed_at,
        verifier_key: state.audit.verifier_key(),
        signing_key: state.audit.verifier_at(c.size).await?.to_text(),
        cosignatures: c.cosignatures,
    })
}

/// Rotate the audit log's signing key: a new key is drawn and sealed under the master key,
/// and the next checkpoint (signed at once) is signed by the old and the new key, the new
/// key's public half inside what the old key signs; after it, only the new key signs.
/// Administrators, with a second factor verified recently when they have one; needs
/// `[keys] master_key`.
#[utoipa::path(
    post, path = "/api/v1/audit/keys/rotate", tag = "audit",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The rotation", body = AuditKeyRotation),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator, or a step-up is needed first", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No master key, or the previous rotation is not signed yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_audit_key(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
) -> Result<Json<AuditKeyRotation>, ApiError> {
    let r = rampart_service::audit::rotate(&state, &admin.caller(&state)).await?;
    Ok(Json(AuditKeyRotation {
        generation: r.generation,
        verifier_key: r.verifier_key,
        previous_key: r.previous_key,
        checkpoint_size: r.checkpoint_size,
    }))
}

/// The inclusion proof of an event in the tree of a given size.
#[utoipa::path(
    get, path = "/api/v1/audit/proof/inclusion", tag = "audit",
    params(InclusionQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The proof", body = InclusionProofView),
        (status = 422, description = "Sequence number or size out of range", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inclusion(
    State(state): State<AppState>,
    _reader: AuditReader,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<InclusionProofView>, ApiError> {
    let p = state
        .audit
        .inclusion_proof(q.seq, q.size.unwrap_or(0))
        .await?;
    Ok(Json(InclusionProofView {
        seq: q.seq,
        size: p.size,
        leaf_hash: to_hex(&p.leaf),
        proof: p.proof.iter().map(to_hex).collect(),
        root: to_hex(&p.root),
    }))
}

/// The consistency proof between two tree sizes.
#[utoipa::path(
    get, path = "/api/v1/audit/proof/consistency", tag = "audit",
    params(ConsistencyQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProofView),
        (status = 422, description = "Sizes out of range", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn consistency(
    State(state): State<AppState>,
    _reader: AuditReader,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProofView>, ApiError> {
    let (to, proof, to_root) = state
        .audit
        .consistency_proof(q.from, q.to.unwrap_or(0))
        .await?;
    let from_root = state.audit.root_at(q.from).await?;
    Ok(Json(ConsistencyProofView {
        from: q.from,
        to,
        from_root: to_hex(&from_root),
        to_root: to_hex(&to_root),
        proof: proof.iter().map(to_hex).collect(),
    }))
}

/// One event's inclusion-proof bundle (`rampart-audit-proof/1`) against the newest signed
/// checkpoint, to keep with the event and verify offline (`rampart audit verify-proof`):
/// the event's text, its leaf hash, the audit path, the signed checkpoint and the rotation
/// checkpoints before it.
#[utoipa::path(
    get, path = "/api/v1/audit/events/{seq}/proof", tag = "audit",
    params(("seq" = String, Path, description = "The event's sequence number")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The bundle (`rampart-audit-proof/1`), as `rampart audit verify-proof` reads it", body = Object, content_type = "application/json"),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No event with that sequence number", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No signed checkpoint covers the event yet: sign one (`POST /api/v1/audit/checkpoint`) or wait for the next scheduled one", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn proof_bundle(
    State(state): State<AppState>,
    _reader: AuditReader,
    Path(seq): Path<String>,
) -> Result<Response, ApiError> {
    let seq = seq
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && *n < i64::MAX)
        .ok_or(Error::NotFound { what: "event" })?;
    match proof::event_proof(&state, seq).await? {
        Proved::Bundle { bundle, .. } => {
            let mut response = bundle.to_text().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
        Proved::NotCovered { .. } => Err(Error::Conflict(
            "no signed checkpoint covers this event yet: sign one (POST \
             /api/v1/audit/checkpoint) or wait for the next scheduled one"
                .into(),
        )
        .into()),
    }
}
