//! A benchmark's own Rampart node on loopback, its users, and the figures the benchmarks
//! share (median, resident memory).

use std::sync::Arc;

use rampart_core::{AuditContext, Clock, Provider, SystemClock, Username};
use rampart_server::Server;
use rampart_service::Config;
use rampart_store::NewUser;

/// A node over SQLite in a temporary data directory, HTTPS on a free loopback port; with
/// `cheap_hashes`, passwords are hashed with the lowest argon2 cost (benchmarks of other
/// work than password hashing). Answers the server, its directory and its `https://` base.
pub async fn start(cheap_hashes: bool) -> (Server, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        https_addr: "127.0.0.1:0".into(),
        http_addr: "127.0.0.1:0".into(),
        node_id: "bench".into(),
        ..Config::default()
    };
    if cheap_hashes {
        config.password_hash.memory_kib = 64;
        config.password_hash.iterations = 1;
    }
    let server = Server::start(config, Arc::new(SystemClock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let base = format!("https://{}", server.https_addr);
    (server, dir, base)
}

/// Creates the local user `name` of `provider` with `password`.
pub async fn add_user(
    server: &Server,
    name: &str,
    provider: Provider,
    admin: bool,
    password: &str,
) {
    let state = &server.state;
    let hash = state.credentials.hash_password(password).await.unwrap();
    state
        .store
        .create_user(
            &NewUser {
                provider,
                username: Username::parse(name).unwrap(),
                display_name: None,
                email: None,
                password_hash: hash,
                is_admin: admin,
            },
            state.clock.now(),
            &AuditContext::default(),
        )
        .await
        .unwrap();
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// This process's resident memory, in MiB.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
