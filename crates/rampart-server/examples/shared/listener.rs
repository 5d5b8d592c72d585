//! How the benchmark servers (`http_limit serve`, `apps_bench serve`) serve: `app` behind a
//! node's own listener loop until SIGTERM or SIGINT. Each program includes this file as a
//! module of its own (`#[path]`).

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use rampart_service::metrics::Metrics;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Serves `app` on `addr` through `rampart_server::serve::accept_loop` (TLS from the
/// development certificate in `dir`, as a node's), prints `ready ADDR` on standard output
/// once it accepts connections, and returns once a signal stopped it and the loop ended.
pub async fn serve_until_signalled(dir: &Path, addr: &str, app: Router, metrics: Arc<Metrics>) {
    let (tls, _) = rampart_server::tls::server_config(dir, None, None).unwrap();
    let listener = TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let served = tokio::spawn(rampart_server::serve::accept_loop(
        listener,
        Some(TlsAcceptor::from(tls)),
        app,
        metrics,
        stopped,
    ));
    println!("ready {local}");
    std::io::stdout().flush().unwrap();
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = stop.send(true);
    let _ = served.await;
}
