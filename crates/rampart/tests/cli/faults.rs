//! Load and faults: three `rampart serve` nodes over one durable PostgreSQL serve the data
//! API to writers while one node is killed with SIGKILL and restarted, PostgreSQL is
//! restarted, and PostgreSQL crashes (stopped without a shutdown checkpoint, so its next
//! start replays the write-ahead log); a SQLite node's disk fills up and frees again. Nothing a client was told was
//! written may be missing afterwards, no answer may be a 5xx outside the outage windows the
//! test states, and every node must recover by itself. The figures (throughput, errors,
//! recovery times) are printed for BENCHMARKS.md; none is asserted.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::backup::{
    client, demo_password, get, seeded_customers, seeded_token, serve_with, token,
};
use super::{create_admin, failure_message, rampart, Running, PASSWORD};

/// A PostgreSQL cluster of the test's own, with the server's durable defaults (fsync and
/// synchronous commit on), so "acknowledged" means what it means in production. As root the
/// cluster runs as the unprivileged `rampart-pg` (made by scripts/pg-throwaway.sh).
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_root: bool,
    url: String,
    /// The server's options (address, port, socket directory, connections).
    options: String,
}

impl Postgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/pg-throwaway.sh installs it)")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("pg_ctl").exists())
            .max()
            .expect("a PostgreSQL bin directory");
        let dir = tempfile::tempdir().unwrap();
        let as_root = is_root();
        if as_root {
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg("rampart-pg")
                .output();
            let status = Command::new("chown")
                .arg("rampart-pg")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster's directory");
        }
        let port = free_port();
        let options = format!(
            "-h 127.0.0.1 -p {port} -k {} -c max_connections=200",
            dir.path().display()
        );
        let pg = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_root,
            options,
        };
        let data = pg.dir.path().join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", failure_text(&out));
        let out = pg
            .ctl(&["start", "-w", "-o", &pg.options])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {}", failure_text(&out));
        pg
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "rampart-pg", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn ctl(&self, args: &[&str]) -> Command {
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(args);
        command
    }

    /// Restarts the cluster the way an operator applying a patch does (`pg_ctl restart -m
    /// fast`: sessions are disconnected, the cluster is down until it is back); returns how
    /// long it took.
    fn restart(&self) -> Duration {
        let began = Instant::now();
        let out = self.ctl(&["restart", "-w", "-m", "fast"]).output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl restart: {}",
            failure_text(&out)
        );
        began.elapsed()
    }

    /// Crashes the cluster and starts it again: `pg_ctl stop -m immediate` ends every
    /// server process at once, without a shutdown checkpoint, as a power cut or an
    /// out-of-memory kill would, so the start recovers from the write-ahead log. Returns how
    /// long the cluster was down, recovery included.
    fn crash_and_start(&self) -> Duration {
        let began = Instant::now();
        let out = self.ctl(&["stop", "-m", "immediate"]).output().unwrap();
        assert!(out.status.success(), "pg_ctl stop: {}", failure_text(&out));
        let out = self
            .ctl(&["start", "-w", "-o", &self.options])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start after the crash: {}",
            failure_text(&out)
        );
        began.elapsed()
    }

    /// Whether the server log says the last start recovered from a crash.
    fn recovered_from_a_crash(&self) -> bool {
        std::fs::read_to_string(self.dir.path().join("server.log"))
            .is_ok_and(|log| log.contains("database system was not properly shut down"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.ctl(&["stop", "-m", "immediate"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn failure_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One answer (or a failure to get one) as a writer saw it.
#[derive(Debug, Clone)]
struct Seen {
    node: usize,
    /// When the request was sent and when its answer (or failure) came.
    sent: Duration,
    at: Duration,
    /// The status, or `None` when no answer came (connection refused or reset).
    status: Option<u16>,
    /// A failure's problem detail, so that one outside the windows explains itself.
    detail: Option<String>,
}

/// What the writers were told: every acknowledged record with its request id, and every
/// answer.
#[derive(Default)]
struct Ledger {
    acknowledged: Vec<(String, String)>,
    seen: Vec<Seen>,
}

/// The addresses of the nodes, which change when a node is restarted.
type Addresses = Arc<Mutex<Vec<String>>>;

/// Writers creating sales through the data API, `per_node` of them on each node, until
/// `stop`. Each names its sale uniquely so nothing is counted twice.
fn writers(
    addresses: &Addresses,
    per_node: usize,
    (rita, rita_id, customer): (&str, &str, &str),
    started: Instant,
    stop: &Arc<AtomicBool>,
    ledger: &Arc<Mutex<Ledger>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let nodes = addresses.lock().unwrap().len();
    let mut handles = Vec::new();
    for w in 0..nodes * per_node {
        let node = w % nodes;
        let (addresses, stop, ledger) = (addresses.clone(), stop.clone(), ledger.clone());
        let (rita, rita_id, customer) = (rita.to_owned(), rita_id.to_owned(), customer.to_owned());
        handles.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let https = addresses.lock().unwrap()[node].clone();
                let sent_at = started.elapsed();
                let sent = client
                    .post(format!(
                        "https://{https}/apps/development/sales/api/sales-ui/Sale"
                    ))
                    .bearer_auth(&rita)
                    .json(&json!({
                        "customer": customer, "amount": format!("{n}.25"),
                        "closed_on": "2026-12-01", "rep": rita_id,
                        "notes": format!("writer {w} sale {n}")
                    }))
                    .send()
                    .await;
                let at = started.elapsed();
                let mut detail = None;
                let status = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let request = r
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body: Value = r.json().await.unwrap_or_default();
                        if status == 201 {
                            let id = body["id"].as_str().expect("a created id").to_owned();
                            let request = request.expect("x-request-id on 201");
                            ledger.lock().unwrap().acknowledged.push((id, request));
                        } else if status >= 500 {
                            detail = body["detail"].as_str().map(str::to_owned);
                        }
                        Some(status)
                    }
                    Err(e) => {
                        detail = Some(e.to_string());
                        // The node is down: back off a little instead of spinning.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        None
                    }
                };
                ledger.lock().unwrap().seen.push(Seen {
                    node,
                    sent: sent_at,
                    at,
                    status,
                    detail,
                });
            }
        }));
    }
    handles
}

/// A window of time (from the start of the load) in which some answers may fail.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Duration,
    to: Duration,
    /// `None`: every node; otherwise only this node.
    node: Option<usize>,
}

impl Window {
    /// Whether the request was in flight during the window: sent before it ended and
    /// answered after it began (one sent just before a node's first success may still have
    /// been waiting for the database that was away).
    fn covers(&self, seen: &Seen) -> bool {
        seen.sent <= self.to && self.from <= seen.at && self.node.is_none_or(|n| n == seen.node)
    }
}

/// The first success on `node` after `after` and before `before`, as time since the load
/// began.
fn first_success_between(
    seen: &[Seen],
    node: usize,
    after: Duration,
    before: Duration,
) -> Option<Duration> {
    seen.iter()
        .filter(|s| s.node == node && s.at >= after && s.at < before && s.status == Some(201))
        .map(|s| s.at)
        .min()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_lose_nothing_acknowledged_through_a_killed_node_a_database_restart_and_crash()
{
    let pg = Arc::new(Postgres::start());
    let dir = tempfile::tempdir().unwrap();
    let master_key = dir.path().join("master.key");
    let out = rampart(&dir.path().join("keys"))
        .args(["keys", "init", "--out"])
        .arg(&master_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure_message(&out));
    let env = vec![
        ("RAMPART_DATABASE_URL", pg.url.clone()),
        (
            "RAMPART_KEYS__MASTER_KEY",
            format!("file:{}", master_key.display()),
        ),
    ];
    let node_dir = |i: usize| dir.path().join(format!("node{i}"));
    let created = create_admin(&node_dir(0), &[("RAMPART_DATABASE_URL", &pg.url)], PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    // Node 0 deploys the demo; the others share its database and its audit signing key
    // (a cluster signs its checkpoints with one key).
    let mut nodes: Vec<Running> = vec![serve_with(&node_dir(0), &["--demo"], &env)];
    for i in 1..3 {
        std::fs::create_dir_all(node_dir(i)).unwrap();
        std::fs::copy(
            node_dir(0).join("audit-signing.key"),
            node_dir(i).join("audit-signing.key"),
        )
        .unwrap();
        nodes.push(serve_with(&node_dir(i), &[], &env));
    }
    let addresses: Addresses =
        Arc::new(Mutex::new(nodes.iter().map(|n| n.https.clone()).collect()));
    let first = nodes[0].https.clone();
    let rita = seeded_token(&first, "rita", demo_password("rita")).await;
    let rita_id = get(&first, "/api/v1/auth/me", &rita).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let customers = seeded_customers(&first, &rita).await;
    let customer = customers["items"][0]["id"].as_str().unwrap().to_owned();
    let before = seeded_sales(&first, &rita).await;

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let handles = writers(
        &addresses,
        4,
        (&rita, &rita_id, &customer),
        started,
        &stop,
        &ledger,
    );
    let mut windows = Vec::new();

    // Fault 1: node 1 is killed (no shutdown, no drain) and started again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let killed_at = started.elapsed();
    nodes[1].child.kill().unwrap();
    nodes[1].child.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restart_began = Instant::now();
    let (dir1, env1) = (node_dir(1), env.clone());
    let restarted = tokio::task::spawn_blocking(move || serve_with(&dir1, &[], &env1))
        .await
        .unwrap();
    let node_start = restart_began.elapsed();
    addresses.lock().unwrap()[1] = restarted.https.clone();
    nodes[1] = restarted;
    let node_back = started.elapsed();
    windows.push(Window {
        from: killed_at,
        to: node_back,
        node: Some(1),
    });

    // Fault 2: PostgreSQL restarts under the three nodes.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pg_began = started.elapsed();
    let pg_down = {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.restart())
            .await
            .unwrap()
    };
    let pg_back = started.elapsed();
    // Fault 3: PostgreSQL crashes under the three nodes and recovers at its start.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let crash_began = started.elapsed();
    let crash_down = {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.crash_and_start())
            .await
            .unwrap()
    };
    let crash_back = started.elapsed();
    assert!(
        pg.recovered_from_a_crash(),
        "PostgreSQL's log shows a recovery from the crash"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    let total = started.elapsed();
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());

    // Every node recovered from the restart, and then from the crash, by itself: it
    // answered 201 again before the next fault, and from that first success on, it answered
    // no 5xx.
    let mut recovered = Vec::new();
    let mut recovered_from_crash = Vec::new();
    for node in 0..3 {
        let back =
            first_success_between(&ledger.seen, node, pg_back, crash_began).unwrap_or_else(|| {
                panic!("node {node} did not write again between PostgreSQL's restart and its crash")
            });
        recovered.push(back.saturating_sub(pg_back));
        windows.push(Window {
            from: pg_began,
            to: back,
            node: Some(node),
        });
        let back = first_success_between(&ledger.seen, node, crash_back, total)
            .unwrap_or_else(|| panic!("node {node} never wrote again after PostgreSQL's crash"));
        recovered_from_crash.push(back.saturating_sub(crash_back));
        windows.push(Window {
            from: crash_began,
            to: back,
            node: Some(node),
        });
    }
    let mut outside = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in &ledger.seen {
        let class = match s.status {
            None => "no answer".to_owned(),
            Some(code) => format!("{code}"),
        };
        *counts.entry(class).or_default() += 1;
        let failed = s.status.is_none_or(|c| c >= 500);
        if failed && !windows.iter().any(|w| w.covers(s)) {
            outside.push(format!(
                "node {} sent at {} answered at {}: {:?} {}",
                s.node,
                ms(s.sent),
                ms(s.at),
                s.status,
                s.detail.as_deref().unwrap_or("")
            ));
        }
    }
    assert!(
        outside.is_empty(),
        "{} failures outside the outage windows {windows:?}: {:?}",
        outside.len(),
        &outside[..outside.len().min(20)]
    );
    assert!(
        ledger.acknowledged.len() > 100,
        "the load ran: {} writes acknowledged",
        ledger.acknowledged.len()
    );

    // Nothing acknowledged is lost: every created sale is there (read through node 2),
    // and every acknowledged request's access event is in the audit log.
    let node2 = addresses.lock().unwrap()[2].clone();
    let after = sale_ids(&node2, &rita).await;
    let lost: Vec<&(String, String)> = ledger
        .acknowledged
        .iter()
        .filter(|(id, _)| !after.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged sales lost: {lost:?}",
        lost.len()
    );
    // A request whose answer never came (its node was killed) or was a 5xx may or may not
    // have been written: only those may account for sales nobody was told of.
    let unknown = ledger
        .seen
        .iter()
        .filter(|s| s.status.is_none_or(|c| c >= 500))
        .count();
    let untold = after.len() - before.len() - ledger.acknowledged.len();
    assert!(
        untold <= unknown,
        "{untold} sales written that no client was told of, but only {unknown} answers were unknown"
    );
    let store = rampart_store::Store::open_postgres(&pg.url, 2)
        .await
        .unwrap();
    let logged: HashSet<String> = store
        .audit_search(
            &rampart_store::EventQuery {
                stream: Some(rampart_store::Stream::Access),
                ..Default::default()
            },
            1_000_000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.request_id)
        .collect();
    store.close().await;
    let unlogged: Vec<&(String, String)> = ledger
        .acknowledged
        .iter()
        .filter(|(_, request)| !logged.contains(request))
        .collect();
    assert!(
        unlogged.is_empty(),
        "{} acknowledged writes without their access event: {unlogged:?}",
        unlogged.len()
    );

    // The log is whole: exported from the cluster, it verifies against the signed
    // checkpoints with the cluster's public key.
    let admin = token(&first, "it", "root-admin", PASSWORD).await;
    let signed = client()
        .post(format!("https://{first}/api/v1/audit/checkpoint"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed.status(),
        200,
        "a checkpoint is signed after the faults"
    );
    let with_db = |args: &[&str]| {
        let mut c = rampart(&node_dir(0));
        c.env("RAMPART_DATABASE_URL", &pg.url).args(args);
        c
    };
    let public = ok_text(&mut with_db(&["audit", "public-key"]));
    let key = dir.path().join("audit.pub");
    std::fs::write(&key, public).unwrap();
    let export = dir.path().join("audit.jsonl");
    ok_text(with_db(&["audit", "export", "--output"]).arg(&export));
    let verified = ok_text(
        rampart(&node_dir(0))
            .args(["audit", "verify"])
            .arg(&export)
            .arg("--public-key")
            .arg(&key),
    );

    // Throughput per phase: before any fault (the same run's baseline), with node 1 down,
    // through the database restart, between the restart and the crash, through the crash,
    // and after every node recovered.
    let all_back = pg_back + recovered.iter().copied().max().unwrap_or_default();
    let all_back_from_crash = crash_back
        + recovered_from_crash
            .iter()
            .copied()
            .max()
            .unwrap_or_default();
    let rate = |from: Duration, to: Duration| {
        let n = ledger
            .seen
            .iter()
            .filter(|s| s.status == Some(201) && from <= s.at && s.at < to)
            .count();
        format!("{:.0}/s", n as f64 / (to - from).as_secs_f64().max(0.001))
    };
    eprintln!(
        "faults phases: before any fault {}; node 1 down {}; PostgreSQL restarting until every \
         node wrote again {}; between {}; PostgreSQL crashed until every node wrote again {}; \
         after {}",
        rate(Duration::ZERO, killed_at),
        rate(killed_at, node_back),
        rate(pg_began, all_back),
        rate(all_back, crash_began),
        rate(crash_began, all_back_from_crash),
        rate(all_back_from_crash, total)
    );
    let acknowledged = ledger.acknowledged.len();
    eprintln!(
        "faults figures: {acknowledged} writes acknowledged in {:.1} s ({:.0}/s over 3 nodes); \
         answers by status {counts:?}; node 1 killed at {} and ready again {} after its \
         start ({} without it); {untold} written without an answer (of {unknown} unknown \
         outcomes); PostgreSQL restart took {} (began at {}); each node's first \
         write after it: {}; PostgreSQL crash and recovery took {} (began at {}); each \
         node's first write after it: {}; audit: {}",
        total.as_secs_f64(),
        acknowledged as f64 / total.as_secs_f64(),
        ms(killed_at),
        ms(node_start),
        ms(node_back.saturating_sub(killed_at)),
        ms(pg_down),
        ms(pg_began),
        recovered
            .iter()
            .map(|d| ms(*d))
            .collect::<Vec<_>>()
            .join(", "),
        ms(crash_down),
        ms(crash_began),
        recovered_from_crash
            .iter()
            .map(|d| ms(*d))
            .collect::<Vec<_>>()
            .join(", "),
        verified.trim()
    );
    drop(nodes);
}

/// Rita's sales once the demo has seeded all six (it writes records one by one after its
/// people can sign in).
async fn seeded_sales(https: &str, rita: &str) -> HashSet<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sales = sale_ids(https, rita).await;
        if sales.len() >= 6 {
            return sales;
        }
        assert!(
            Instant::now() < deadline,
            "the demo's sales were not seeded"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every sale `token` may read, through `https`, page by page.
async fn sale_ids(https: &str, token: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/apps/development/sales/api/sales-ui/Sale?limit=500&cursor={c}"),
            None => "/apps/development/sales/api/sales-ui/Sale?limit=500".to_owned(),
        };
        let page = get(https, &path, token).await;
        for item in page["items"].as_array().unwrap() {
            ids.insert(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

fn ok_text(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", failure_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where a small disk is mounted for a SQLite node: a tmpfs of `mib` MiB when this process
/// may mount one (root with CAP_SYS_ADMIN), unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .ok()?;
        out.status.success().then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).output();
    }
}

/// Fills `dir`'s file system with one file until a write fails; returns the file.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file
        .write_all(&chunk)
        .and_then(|()| file.sync_data())
        .is_ok()
    {}
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_the_node_recovers_when_space_returns() {
    let disk = SmallDisk::mount(96).expect(
        "this test mounts a small tmpfs (root with CAP_SYS_ADMIN, as CI runs): mount failed",
    );
    let node = disk.path().join("node");
    let created = create_admin(&node, &[], PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    let mut server = serve_with(&node, &["--demo"], &[]);
    let https = server.https.clone();
    let rita = seeded_token(&https, "rita", demo_password("rita")).await;
    let rita_id = get(&https, "/api/v1/auth/me", &rita).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let customers = seeded_customers(&https, &rita).await;
    let customer = customers["items"][0]["id"].as_str().unwrap().to_owned();
    let before = seeded_sales(&https, &rita).await;

    let addresses: Addresses = Arc::new(Mutex::new(vec![https.clone()]));
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let handles = writers(
        &addresses,
        4,
        (&rita, &rita_id, &customer),
        started,
        &stop,
        &ledger,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let full_at = started.elapsed();
    let filler = fill(disk.path());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let freed_at = started.elapsed();
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    let total = started.elapsed();
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the node is still running after its disk filled"
    );
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());

    // While the disk was full, writes were refused with 503 (never another 5xx, never an
    // unanswered request); before and after, every write succeeded.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut refused = 0;
    let mut unexpected = Vec::new();
    for s in &ledger.seen {
        *counts
            .entry(s.status.map_or("no answer".to_owned(), |c| c.to_string()))
            .or_default() += 1;
        match s.status {
            Some(201) => {}
            Some(503) if s.at >= full_at => refused += 1,
            other => unexpected.push(format!("{other:?} at {}", ms(s.at))),
        }
    }
    if !unexpected.is_empty() {
        let (_, log) = server.stop_with_log();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR"))
            .take(10)
            .collect();
        panic!(
            "unexpected answers {:?} (disk full from {} to {}); the node's errors: {errors:#?}",
            &unexpected[..unexpected.len().min(10)],
            ms(full_at),
            ms(freed_at)
        );
    }
    assert!(refused > 0, "the full disk refused writes: {counts:?}");
    let Some(back) = first_success_between(&ledger.seen, 0, freed_at, Duration::MAX) else {
        let (_, log) = server.stop_with_log();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        panic!("writes did not succeed again once space returned: {counts:?}; the node's log ends: {tail:#?}");
    };
    // A request sent once writes succeeded again succeeds (one sent while the disk was
    // still full may be answered after another's success: it was in flight in the outage).
    let late_refusals: Vec<String> = ledger
        .seen
        .iter()
        .filter(|s| s.sent > back && s.status != Some(201))
        .map(|s| format!("{:?} sent at {}: {:?}", s.status, ms(s.sent), s.detail))
        .collect();
    assert!(
        late_refusals.is_empty(),
        "no refusal of a write sent after the first that succeeded again ({}): {late_refusals:?}",
        ms(back)
    );

    // Nothing acknowledged is lost, and the audit log is whole.
    let after = sale_ids(&https, &rita).await;
    let lost: Vec<&(String, String)> = ledger
        .acknowledged
        .iter()
        .filter(|(id, _)| !after.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged sales lost: {lost:?}",
        lost.len()
    );
    assert_eq!(after.len(), before.len() + ledger.acknowledged.len());
    server.stop();
    let public = ok_text(rampart(&node).args(["audit", "public-key"]));
    let key = disk.path().join("audit.pub");
    std::fs::write(&key, public).unwrap();
    let export = disk.path().join("audit.jsonl");
    ok_text(
        rampart(&node)
            .args(["audit", "export", "--output"])
            .arg(&export),
    );
    let verified = ok_text(
        rampart(&node)
            .args(["audit", "verify"])
            .arg(&export)
            .arg("--public-key")
            .arg(&key),
    );
    eprintln!(
        "faults figures (disk full): {} writes acknowledged in {:.1} s; answers by status \
         {counts:?}; disk full at {}, freed at {}, first write after it at {} ({} later); \
         audit: {}",
        ledger.acknowledged.len(),
        total.as_secs_f64(),
        ms(full_at),
        ms(freed_at),
        ms(back),
        ms(back.saturating_sub(freed_at)),
        verified.trim()
    );
}
