//! `/api/v1/audit`: search and export for auditors, signed checkpoints, inclusion and
//! consistency proofs, all read-only; and the one way in for other services, the calls they
//! report to the `integration` stream (appended, never changing what is there).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use rampart_audit::hash::to_hex;
use rampart_authz::policy::Operation;
use rampart_core::Error;
use time::OffsetDateTime;

use crate::auth::{AuditReader, Authenticated};
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    AuditEventPage, AuditEventsQuery, CheckpointView, ConsistencyProofView, ConsistencyQuery,
    InclusionProofView, InclusionQuery, IntegrationCall, IntegrationReportRequest,
    IntegrationReportResponse, NoQuery,
};
use rampart_service::state::AppState;

use rampart_service::audit::search::{csv_line, event_query, view, CSV_HEADER, EXPORT_CHUNK};

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
    let (mut query, format, limit) = event_query(q)?;
    match format.as_deref() {
        None | Some("json") => {
            let mut items = state
                .store
                .audit_search(&query, i64::from(limit) + 1)
                .await?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|e| e.seq.to_string())
            } else {
                None
            };
            Ok(Json(AuditEventPage {
                items: items.into_iter().map(view).collect(),
                next_cursor,
            })
            .into_response())
        }
        Some(kind) => {
            let csv = kind == "csv";
            query.ascending = true;
            query.after_seq = None;
            let store = state.store.clone();
            // Pages of the oldest-first result, each rendered as it arrives: memory stays
            // one page whatever the size of the export.
            let stream = futures_util::stream::unfold(
                (query, csv, true, false),
                move |(mut query, csv, first, done)| {
                    let store = store.clone();
                    async move {
                        if done {
                            return None;
                        }
                        let mut out = String::new();
                        if first && csv {
                            out.push_str(CSV_HEADER);
                        }
                        match store.audit_search(&query, EXPORT_CHUNK).await {
                            Ok(rows) => {
                                let last = rows.len() < EXPORT_CHUNK as usize;
                                query.after_seq = rows.last().map(|e| e.seq).or(query.after_seq);
                                for e in rows {
                                    let v = view(e);
                                    if csv {
                                        csv_line(&v, &mut out);
                                    } else if let Ok(line) = serde_json::to_string(&v) {
                                        out.push_str(&line);
                                        out.push('\n');
                                    }
                                }
                                Some((Ok::<_, std::io::Error>(out), (query, csv, false, last)))
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "audit export failed midway");
                                Some((
                                    Err(std::io::Error::other("audit export failed")),
                                    (query, csv, false, true),
                                ))
                            }
                        }
                    }
                },
            );
            let mut response = Body::from_stream(stream).into_response();
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
    }
}

/// Calls a report may hold.
const MAX_REPORTED: usize = 1_000;

/// The `integration` event of one reported call (the `index`th), checked field by field.
fn integration_event(
    call: &IntegrationCall,
    index: usize,
    ctx: &rampart_core::AuditContext,
    now: OffsetDateTime,
) -> Result<rampart_store::NewEvent, Error> {
    let field = |name: &str| format!("events[{index}].{name}");
    let inbound = match call.direction.as_str() {
        "inbound" => true,
        "outbound" => false,
        _ => {
            return Err(Error::invalid(
                field("direction"),
                "must be inbound or outbound",
            ))
        }
    };
    let method_ok = (1..=128).contains(&call.method.len())
        && call
            .method
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-'));
    if !method_ok {
        return Err(Error::invalid(
            field("method"),
            "must be 1 to 128 letters, digits or ._:/-",
        ));
    }
    // What is recorded stops before a query string or fragment, and leaves out path
    // parameters (`/api;jsessionid=…`): tokens travel there.
    let target = without_path_parameters(call.target.split(['?', '#']).next().unwrap_or_default());
    let target = target.as_str();
    if target.is_empty() || call.target.len() > 2_048 || call.target.chars().any(char::is_control) {
        return Err(Error::invalid(
            field("target"),
            "must be 1 to 2,048 characters without control characters",
        ));
    }
    // `scheme://user:password@host/…` (or `user:password@host/…`): credentials never
    // enter the log.
    let credentials = match target.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default().contains('@'),
        None => target
            .split('/')
            .next()
            .and_then(|first| first.split_once('@'))
            .is_some_and(|(user, _)| user.contains(':')),
    };
    if credentials {
        return Err(Error::invalid(
            field("target"),
            "must not carry a user name or password; give the URL without them",
        ));
    }
    if !(100..=599).contains(&call.status) {
        return Err(Error::invalid(field("status"), "must be 100 to 599"));
    }
    if call.duration_ms > 86_400_000 {
        return Err(Error::invalid(
            field("duration_ms"),
            "must be at most a day",
        ));
    }
    let mut ctx = ctx.clone();
    if let Some(id) = &call.request_id {
        if !crate::app::is_request_id(id) {
            return Err(Error::invalid(
                field("request_id"),
                "must be 1 to 64 letters, digits or ._-",
            ));
        }
        ctx.request_id = Some(id.clone());
    }
    Ok(rampart_store::NewEvent::integration(
        &ctx,
        now,
        inbound,
        &call.method,
        target,
        call.status,
        call.duration_ms,
    ))
}

/// `target` with each path segment cut at its first `;` (RFC 3986 path parameters).
fn without_path_parameters(target: &str) -> String {
    target
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("/")
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
    let allowed =
        rampart_service::identity::may(&state, &auth.user, Operation::ReportIntegration).await?;
    if !allowed {
        return Err(Error::Forbidden(
            "only IT users and services report integration calls; auditors read the log".into(),
        )
        .into());
    }
    if req.events.is_empty() || req.events.len() > MAX_REPORTED {
        return Err(Error::invalid("events", format!("give 1 to {MAX_REPORTED} calls")).into());
    }
    let ctx = auth.audit(&state);
    let now = state.clock.now();
    let events = req
        .events
        .iter()
        .enumerate()
        .map(|(i, call)| integration_event(call, i, &ctx, now))
        .collect::<Result<Vec<_>, _>>()?;
    let n = events.len() as i64;
    let last = state.store.append_events(events).await?;
    state.metrics.audit_events.inc_by(n as u64);
    Ok((
        axum::http::StatusCode::CREATED,
        Json(IntegrationReportResponse {
            first_seq: last - n + 1,
            last_seq: last,
        }),
    ))
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
    Ok(Json(checkpoint_view(&state, c)))
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
    Ok(Json(checkpoint_view(&state, c)))
}

fn checkpoint_view(state: &AppState, c: rampart_store::StoredCheckpoint) -> CheckpointView {
    CheckpointView {
        origin: state.audit.origin().to_owned(),
        size: c.size,
        root: to_hex(&c.root),
        note: c.note,
        signed_at: c.signed_at,
        verifier_key: state.audit.verifier_key(),
    }
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
