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
    // A benchmark may compare page caches (`BENCH_SQLITE_CACHE_MIB`); the default otherwise.
    if let Some(mib) = std::env::var("BENCH_SQLITE_CACHE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.sqlite_cache_mib = mib;
    }
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
    status_mib("self", "VmRSS:")
}

/// A line of `/proc/<pid>/status` in MiB (`VmRSS:` resident now, `VmHWM:` its peak).
fn status_mib(pid: &str, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A node in a process of its own: this benchmark's executable started again with `serve`
/// (see [`serve_if_asked`]), so that its resident memory is the node's alone, not its
/// clients' too. Stopped when dropped.
pub struct Apart {
    child: std::process::Child,
    /// Its `https://` base.
    pub base: String,
}

/// The allocator settings `rampart serve` runs with (its `ALLOCATOR_SETTINGS`), which a
/// node apart gets too unless the environment sets them.
const ALLOCATOR_SETTINGS: [(&str, &str); 2] = [
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
    ("MIMALLOC_PURGE_DELAY", "0"),
];

/// Starts this executable again as a node (see [`serve_if_asked`]) and waits until it
/// serves. Its allocator runs with the settings `rampart serve` applies, unless the
/// environment already names them.
pub fn apart() -> Apart {
    use std::io::BufRead as _;
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    for (name, value) in ALLOCATOR_SETTINGS {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    let mut child = command
        .arg("serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut base = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut base)
        .unwrap();
    assert!(
        base.starts_with("https://"),
        "the node did not start: {base:?}"
    );
    Apart {
        child,
        base: base.trim().to_owned(),
    }
}

impl Apart {
    /// The node's resident memory now and its peak so far, in MiB.
    pub fn memory_mib(&self) -> (f64, f64) {
        let pid = self.child.id().to_string();
        (status_mib(&pid, "VmRSS:"), status_mib(&pid, "VmHWM:"))
    }
}

impl Drop for Apart {
    fn drop(&mut self) {
        // Its standard input closing is its signal to stop.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// In the process [`apart`] started (first argument `serve`): starts a node as [`start`]
/// does with the local `users` (name, provider, administrator) and `password`, prints its
/// base, serves until standard input closes, then exits. Otherwise returns at once.
pub async fn serve_if_asked(users: &[(&str, Provider, bool)], password: &str, cheap_hashes: bool) {
    if std::env::args().nth(1).as_deref() != Some("serve") {
        return;
    }
    let (server, dir, base) = start(cheap_hashes).await;
    for (name, provider, admin) in users {
        add_user(&server, name, *provider, *admin, password).await;
    }
    println!("{base}");
    tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read_line(&mut String::new());
    })
    .await
    .unwrap();
    server.shutdown().await;
    drop(dir);
    std::process::exit(0);
}
