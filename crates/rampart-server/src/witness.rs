//! The witness's HTTP(S) face (`rampart witness serve`): `POST /add-checkpoint` with the
//! request text of `rampart_audit::witness` (C2SP tlog-witness's `add-checkpoint`), and
//! `GET /public-key`. Served by the node's own [`crate::serve::accept_loop`]: TLS (rustls)
//! with a certificate and key, or plain HTTP on a loopback address only.
//!
//! Answers: 200 with the cosignature line (`text/plain`); 409 `size <n>` when the log's idea
//! of the witness's size is wrong or its checkpoint is smaller; 422 for a fork; 403 for an
//! unknown log or a checkpoint not signed by the log's keys; 400 for a malformed request;
//! 413 above 64 KiB.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rampart_audit::witness::Refusal;
use rampart_service::witness::{Outcome, Witness};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Largest request the witness reads.
const MAX_BODY: usize = 64 * 1024;

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: String) -> Response {
    match witness.add_checkpoint(&body).await {
        Ok(Outcome::Cosigned(line)) => text(StatusCode::OK, line),
        Ok(Outcome::Refused(refusal)) => {
            let status = match &refusal {
                Refusal::Conflict { size, .. } | Refusal::Smaller { cosigned: size, .. } => {
                    return text(StatusCode::CONFLICT, format!("size {size}\n"))
                }
                Refusal::Fork { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::UnknownLog { .. } | Refusal::Signature(_) => StatusCode::FORBIDDEN,
                Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
            };
            text(status, format!("{refusal}\n"))
        }
        Err(e) => {
            tracing::error!(error = %e, "the witness could not keep its state");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness could not keep its state\n".into(),
            )
        }
    }
}

async fn public_key(State(witness): State<Arc<Witness>>) -> Response {
    text(StatusCode::OK, format!("{}\n", witness.verifier_key()))
}

/// The witness's routes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route(rampart_service::audit::ADD_CHECKPOINT, post(add_checkpoint))
        .route("/public-key", get(public_key))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

/// Serves the witness in `dir` on `addr` until `stop` changes: HTTPS with `tls` (certificate
/// and key files), or plain HTTP when `addr` is a loopback address. Returns the address
/// bound once listening, through `bound`.
pub async fn serve(
    dir: &Path,
    addr: SocketAddr,
    tls: Option<(&Path, &Path)>,
    bound: impl FnOnce(SocketAddr),
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let witness = Arc::new(Witness::open(dir).map_err(|e| e.to_string())?);
    let acceptor = match tls {
        Some((cert, key)) => {
            let (config, _) =
                crate::tls::server_config(dir, Some(cert), Some(key)).map_err(|e| e.to_string())?;
            Some(tokio_rustls::TlsAcceptor::from(config))
        }
        None if addr.ip().is_loopback() => None,
        None => {
            return Err(format!(
                "{addr} is not a loopback address: serve HTTPS with --tls-cert and --tls-key"
            ))
        }
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    bound(local);
    tracing::info!(addr = %local, key = %witness.verifier_key(), https = acceptor.is_some(), "witness serving");
    crate::serve::accept_loop(listener, acceptor, router(witness), Arc::default(), stop).await;
    Ok(())
}
