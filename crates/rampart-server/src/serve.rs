//! Starting a node: data directory and its lock, store, migrations, TLS, listeners, and a
//! graceful stop that lets requests in flight finish.
//!
//! The data directory holds the SQLite database (password and session hashes, the audit
//! log), the audit signing key and the development certificate's key: it is created
//! 0700 and every file the server creates in it 0600 (SQLite gives its `-wal` and `-shm`
//! files the database's mode). A directory or file found wider at start is reported with
//! a warning naming its path and mode, and left as it is: an operator may have widened it
//! on purpose (a backup group), and the warning says what to run.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rampart_core::Clock;
use rampart_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::app::{self, ConnectionInfo};
use crate::metrics::MetricsAccess;
use crate::{tls, transport};
use rampart_service::config::{redact_url, Config};
use rampart_service::metrics::Metrics;
use rampart_service::state::AppState;

/// Why the server could not start; the message says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// A running node.
pub struct Server {
    /// Where HTTPS is served.
    pub https_addr: SocketAddr,
    /// Where plain HTTP is served (redirects unless HTTPS is not enforced).
    pub http_addr: SocketAddr,
    /// Where `/metrics` is served on a listener of its own (`metrics_addr`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// The node's shared state.
    pub state: AppState,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    /// The audit pipeline and the checkpoint/verify schedule, stopped after the listeners.
    background: Vec<JoinHandle<()>>,
    background_stop: watch::Sender<bool>,
    _lock: DataDirLock,
}

/// An exclusive lock on the data directory: two servers on one data directory would
/// corrupt each other's certificate, keys and (with SQLite) database. Offline commands that
/// change what a running server caches (`rampart keys`) take it too.
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock, or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, StartError> {
        let path = dir.join("rampart.lock");
        let mut file = rampart_service::files::private_file()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| StartError(format!("cannot open lock file {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(StartError(format!(
                    "the data directory {} is in use by another rampart server{}; stop it, or give \
                     this one its own --data-dir",
                    dir.display(),
                    if holder.is_empty() { String::new() } else { format!(" (pid {holder})") }
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StartError(format!("cannot lock {}: {e}", path.display())))
            }
        }
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        let _ = file.sync_all();
        Ok(Self { _file: file })
    }
}

/// Creates the data directory (mode 0700) if it does not exist yet.
pub fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    rampart_service::files::create_private_dir(dir).map_err(|e| {
        StartError(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}

/// Creates an empty SQLite database file readable by its owner only, unless one exists:
/// SQLite would create it 0644, and gives its `-wal` and `-shm` files the same mode.
fn create_private_database(path: &Path) -> Result<(), StartError> {
    match rampart_service::files::private_file()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A missing directory is the store's to report, with its own message.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StartError(format!(
            "cannot create the database {}: {e}",
            path.display()
        ))),
    }
}

/// Paths in the data directory that others than the server's user may read, write or
/// enter, with their modes: the directory itself, and every file and directory in it
/// and in its subdirectories (`tls`, `audit-archive`), except the development
/// certificate, which is public.
pub fn permission_findings(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut findings = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut visit = vec![(dir.to_owned(), 0)];
        while let Some((path, depth)) = visit.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let public = path.file_name().is_some_and(|n| n == "dev-cert.pem");
            let mode = meta.permissions().mode() & 0o7777;
            if (meta.is_dir() || meta.is_file()) && mode & 0o077 != 0 && !public {
                findings.push((path.clone(), mode));
            }
            if meta.is_dir() && depth < 2 {
                if let Ok(entries) = std::fs::read_dir(&path) {
                    visit.extend(entries.flatten().map(|e| (e.path(), depth + 1)));
                }
            }
        }
        findings.sort();
    }
    #[cfg(not(unix))]
    let _ = dir;
    findings
}

/// Logs a warning for each path [`permission_findings`] reports (the first 20, then how
/// many more).
fn warn_about_permissions(dir: &Path) {
    let findings = permission_findings(dir);
    for (path, mode) in findings.iter().take(20) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:04o}"),
            "{} in the data directory is open to other users (it may hold password and \
             session hashes, the audit log or keys); expected 0700 for a directory and 0600 \
             for a file: run chmod go-rwx on it",
            path.display()
        );
    }
    if findings.len() > 20 {
        tracing::warn!(
            more = findings.len() - 20,
            "more paths in the data directory are open to other users"
        );
    }
}

/// Opens the configured store and applies migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let store = if config.database_url.is_empty() {
        create_private_database(&config.sqlite_path())?;
        Store::open_sqlite_with(&config.sqlite_path(), config.sqlite_cache_mib).await
    } else {
        Store::open_postgres(&config.database_url, config.database_max_connections).await
    }
    .map_err(|e| match e {
        rampart_core::Error::Unavailable(msg) | rampart_core::Error::Internal(msg) => {
            StartError(msg)
        }
        other => StartError(format!(
            "database_url = {}: {other}",
            redact_url(&config.database_url)
        )),
    })?;
    store
        .migrate()
        .await
        .map_err(|e| StartError(format!("cannot migrate the database: {e:?}")))?;
    Ok(store)
}

async fn bind(addr: &str, key: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError(format!("cannot listen on {addr} ({key}): {e}")))
}

impl Server {
    /// Starts a node with `config`: everything that can fail is checked before the first
    /// connection is accepted.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        prepare_data_dir(&config.data_dir)?;
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let metrics_access = MetricsAccess::from_config(&config, |name| std::env::var(name).ok())
            .map_err(StartError)?;
        let (tls_config, served_names) = tls::server_config(
            &config.data_dir,
            (!config.tls_cert.is_empty())
                .then(|| PathBuf::from(&config.tls_cert))
                .as_deref(),
            (!config.tls_key.is_empty())
                .then(|| PathBuf::from(&config.tls_key))
                .as_deref(),
        )
        .map_err(|e| StartError(e.0))?;
        let store = open_store(&config).await?;
        warn_about_permissions(&config.data_dir);
        let backend = store.kind();
        let enforce_https = config.enforce_https;
        let https_listener = bind(&config.https_addr, "https_addr").await?;
        let http_listener = bind(&config.http_addr, "http_addr").await?;
        let metrics_listener = match config.metrics_addr.as_str() {
            "" => None,
            addr => Some(bind(addr, "metrics_addr").await?),
        };
        let metrics_addr = metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
            .map_err(|e| StartError(format!("metrics_addr: {e}")))?;
        if let Some(addr) = metrics_addr {
            if !addr.ip().is_loopback() && !metrics_access.requires_token() {
                tracing::warn!(
                    metrics_addr = %addr,
                    "metrics are served without a token on an address that is not loopback: \
                     anyone who reaches it reads them; set metrics.token or listen on loopback"
                );
            }
        }
        let https_addr = https_listener
            .local_addr()
            .map_err(|e| StartError(format!("https_addr: {e}")))?;
        if !config.support.smtp_host.is_empty() && config.public_origin.is_empty() {
            tracing::warn!(
                https_addr = %config.https_addr,
                "the support desk mails links built from https_addr because public_origin is \
                 not set: set public_origin to the address people reach this server at"
            );
        }
        let http_addr = http_listener
            .local_addr()
            .map_err(|e| StartError(format!("http_addr: {e}")))?;
        let state = AppState::new(store, config, clock).map_err(|e| StartError(e.to_string()))?;
        state
            .authz
            .reload()
            .await
            .map_err(|e| StartError(format!("cannot load the authorization index: {e}")))?;
        state
            .audit
            .load()
            .await
            .map_err(|e| StartError(format!("cannot load the audit log: {e}")))?;
        let environments: Vec<String> = state.authz.view().it.environments().to_vec();
        state
            .keys
            .check(&state.store, &environments)
            .await
            .map_err(|e| StartError(format!("cannot use the keys of sensitive values: {e}")))?;
        // Audit events application writes committed before a stop, not yet in the log.
        state
            .store
            .flush_app_outboxes()
            .await
            .map_err(|e| StartError(format!("cannot move application audit events: {e}")))?;
        let alerts_from = rampart_service::alerts::start_from(&state)
            .await
            .map_err(|e| StartError(format!("cannot read the audit log's size: {e}")))?;
        let (background_stop, background_stopped) = watch::channel(false);
        let background = vec![
            tokio::spawn(
                state
                    .audit
                    .clone()
                    .run_pipeline(state.metrics.clone(), background_stopped.clone()),
            ),
            tokio::spawn(rampart_service::cluster::run(
                state.clone(),
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::lease::run(
                state.clone(),
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::audit::run_key_compaction(
                state.store.clone(),
                state.metrics.clone(),
                {
                    let leadership = state.leadership.clone();
                    move || leadership.is_leader()
                },
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::audit::run_schedule(
                state.clone(),
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::providers::run_scheduled_sync(
                state.clone(),
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::support::cases::run_close_ignored(
                state.clone(),
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::alerts::run(
                state.clone(),
                alerts_from,
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::alerts::deliver::run(
                state.clone(),
                background_stopped.clone(),
            )),
            tokio::spawn(rampart_service::identity::sessions::run_last_use(
                state.store.clone(),
                state.last_use.clone(),
                background_stopped,
            )),
        ];
        let app = app::router_with(state.clone(), metrics_access.clone());
        let plain_app = if enforce_https {
            app::redirect_router(state.clone(), https_addr.port(), served_names)
        } else {
            // Screens that keep `https: true` send plain-HTTP visitors to the HTTPS port.
            app.clone()
                .layer(axum::Extension(crate::routes::page::PlainListener {
                    https_port: https_addr.port(),
                    names: served_names,
                }))
        };
        let (stop, stopped) = watch::channel(false);
        let metrics = state.metrics.clone();
        let mut listeners = vec![
            tokio::spawn(accept_loop(
                https_listener,
                Some(TlsAcceptor::from(tls_config)),
                app,
                metrics.clone(),
                stopped.clone(),
            )),
            tokio::spawn(accept_loop(
                http_listener,
                None,
                plain_app,
                metrics.clone(),
                stopped.clone(),
            )),
        ];
        if let Some(listener) = metrics_listener {
            listeners.push(tokio::spawn(accept_loop(
                listener,
                None,
                app::metrics_router(state.clone(), metrics_access),
                metrics,
                stopped,
            )));
        }
        tracing::info!(
            https = %https_addr,
            http = %http_addr,
            metrics = metrics_addr.map(|a| a.to_string()),
            backend = backend.as_str(),
            node = %state.config.node_id,
            "rampart ready"
        );
        Ok(Self {
            https_addr,
            http_addr,
            metrics_addr,
            state,
            stop,
            listeners,
            background,
            background_stop,
            _lock: lock,
        })
    }

    /// Stops accepting, lets requests in flight finish (up to 10 s), drains the audit
    /// pipeline, signs a last checkpoint, closes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for listener in self.listeners {
            let _ = listener.await;
        }
        let _ = self.background_stop.send(true);
        for task in self.background {
            let _ = task.await;
        }
        if let Err(e) = self
            .state
            .audit
            .checkpoint(self.state.clock.now(), &self.state.metrics)
            .await
        {
            tracing::warn!(error = %e, "no audit checkpoint signed at shutdown");
        }
        self.state.store.close().await;
        tracing::info!("rampart stopped");
    }
}

/// Serves `app` on `listener` until `stop` changes, then lets connections in flight finish
/// (up to 10 s): TLS when `tls` is given (handshakes bounded to 10 s), HTTP/1.1 and HTTP/2
/// on one port, the head limits and the rewriting of hyper's own refusals
/// ([`transport::Rewrite`]). Every listener of a node runs this loop; it is public so that a
/// benchmark can serve another router over exactly the same stack (the `http_limit`
/// example measures a handler that answers 204 with it, the transport's own ceiling).
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's HTTP/2 header-list limit sits above the middleware's (`transport`), so that an
    // oversized head is answered with a problem rather than by h2.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    builder
        .http2()
        .max_header_list_size(transport::H2_MAX_HEADER_LIST);
    let https = tls.is_some();
    let local = listener.local_addr().ok();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let metrics = metrics.clone();
        let local = tcp.local_addr().ok().or(local).unwrap_or(peer);
        tokio::spawn(async move {
            let info = ConnectionInfo { peer, local, https };
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(info);
                    app.clone().oneshot(request.map(Body::new))
                });
            match tls {
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                            .await
                        {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let stream = transport::Rewrite::new(stream, true, metrics);
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                }
                None => {
                    let stream = transport::Rewrite::new(tcp, false, metrics);
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10 s; closing them");
        }
    }
}
