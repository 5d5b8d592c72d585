//! `/console/audit/{seq}`: one event, with its inclusion proof against the newest signed
//! checkpoint verified on the server by `rampart_audit::verify_bundle` (the verifier
//! auditors run offline with `rampart audit verify-proof`), the proof bundle to download,
//! and a form to sign a checkpoint when none covers the event yet (which auditors may ask
//! for, as through `POST /api/v1/audit/checkpoint`: it states what the log holds).

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::{AuditEventView, AuditEventsQuery};
use rampart_audit::{to_hex, ProofBundle};
use rampart_core::Error;
use rampart_service::audit::proof::{self, Proved};
use rampart_service::audit::search;
use rampart_service::AppState;

use super::account::stamp;
use super::door::doors::AuditRead;
use super::door::{Page, Sent};
use super::{error_page, field, message, Section, Segments, Shell};
use crate::routes::page;

/// What the page says of the event's inclusion.
enum Inclusion {
    /// No checkpoint covers it yet.
    NotCovered { newest: Option<u64> },
    /// The proof, shown part by part, and the verifier's answer.
    Proof {
        bundle: Box<ProofBundle>,
        verified: Result<String, String>,
    },
}

#[derive(Template)]
#[template(path = "console/event.html")]
struct EventPage<'a> {
    shell: &'a Shell,
    event: &'a AuditEventView,
    time: String,
    details: String,
    inclusion: Inclusion,
}

/// The event the address numbers (none: the page is the 404 of a missing event).
fn seq_of(seq: &str) -> Option<i64> {
    seq.parse::<i64>().ok().filter(|n| *n > 0 && *n < i64::MAX)
}

/// `GET /console/audit/{seq}`: one event and its inclusion proof.
pub async fn event(
    State(state): State<AppState>,
    Segments(seq): Segments<String>,
    page: Page<AuditRead>,
) -> Response {
    let Page { here, shell, .. } = page;
    let Some(seq) = seq_of(&seq) else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "event" }, &here));
    };
    // The newest event before `seq + 1`: the event itself when it exists.
    let query = AuditEventsQuery {
        cursor: Some((seq + 1).to_string()),
        limit: Some(1),
        ..AuditEventsQuery::default()
    };
    let found = match search::event_query(query) {
        Ok((query, _, limit)) => search::page(&state, query, limit).await,
        Err(e) => Err(e),
    };
    let event = match found {
        Ok(page) => page.items.into_iter().find(|e| e.seq == seq),
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let Some(event) = event else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "event" }, &here));
    };
    let inclusion = match proof::event_proof(&state, seq).await {
        Ok(Proved::NotCovered { newest }) => Inclusion::NotCovered { newest },
        Ok(Proved::Bundle { bundle, result }) => Inclusion::Proof {
            verified: match result {
                Ok(v) => Ok(format!(
                    "Verified: event {} is leaf {} of the tree of {} events whose root {} \
                     the checkpoint signed by {} commits to{}.",
                    v.seq,
                    v.seq - 1,
                    v.size,
                    to_hex(&v.root),
                    bundle.verifier_key.split('+').next().unwrap_or_default(),
                    if v.event_checked {
                        ", and its text hashes to the leaf hash"
                    } else {
                        " (its payload was erased; the leaf hash is what is proved)"
                    }
                )),
                Err(e) => Err(format!("Does not verify: {e}.")),
            },
            bundle,
        },
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let details = serde_json::to_string_pretty(&event.details).unwrap_or_default();
    let html = EventPage {
        shell: &shell,
        time: stamp(event.time),
        event: &event,
        details,
        inclusion,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `GET /console/audit/{seq}/proof.json`: the event's proof bundle, to verify offline.
pub async fn bundle(
    State(state): State<AppState>,
    Segments(seq): Segments<String>,
    page: Page<AuditRead>,
) -> Response {
    let Page { here, shell, .. } = page;
    let Some(seq) = seq_of(&seq) else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "event" }, &here));
    };
    let bundle = match proof::event_proof(&state, seq).await {
        Ok(Proved::Bundle { bundle, .. }) => bundle,
        Ok(Proved::NotCovered { .. }) => {
            return shell.finish(message(
                &shell,
                StatusCode::CONFLICT,
                "Not covered by a checkpoint yet",
                "No signed checkpoint covers this event yet. Sign one from the event's page, \
                 or wait for the next scheduled checkpoint, then download the proof.",
            ))
        }
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let mut response = bundle.to_text().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"event-{seq}-proof.json\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    shell.finish(response)
}

/// `POST /console/audit/checkpoint`: sign a checkpoint of the log as it is now, then back
/// to the event (`seq`) whose proof needed it.
pub async fn sign_checkpoint(State(state): State<AppState>, sent: Sent<AuditRead>) -> Response {
    let Sent { shell, fields, .. } = sent;
    let seq = field(&fields, "seq").parse::<i64>().unwrap_or(0).max(0);
    let back = if seq > 0 {
        format!("/console/audit/{seq}")
    } else {
        "/console/audit".to_owned()
    };
    match state
        .audit
        .checkpoint(state.clock.now(), &state.metrics)
        .await
    {
        Ok(_) => shell.finish(page::see_other(&format!("{back}#proof"))),
        Err(e) => shell.finish(error_page(&shell, e, &back)),
    }
}
