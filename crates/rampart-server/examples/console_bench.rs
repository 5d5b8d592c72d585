//! The console's heaviest pages: page weight and time to first byte, each against baselines
//! from the same run, alternating round by round.
//!
//! 1. The audit search (`GET /console/audit`: the newest 200 events, the chart by stream,
//!    and the two searches of the failed sign-ins and denials chart) on a log of `N` events
//!    (default 1,000,000: `access` events of 100,000 users, one in twenty denied, appended
//!    in batches as the audit benchmark does, plus a few failed sign-ins through the API).
//!    Baselines: `GET /healthz` and the JSON calls of the searches the page makes,
//!    `GET /api/v1/audit/events?limit=200` and the chart's two (failed sign-ins, denials).
//! 2. The permission matrix (`GET /console/permissions`: a page of 20 users × 10 modules ×
//!    every environment, each cell with its deciding grant) with 200 IT users holding roles
//!    and overrides, 50 modules and 3 environments. Baselines: `GET /healthz` and
//!    `GET /api/v1/auth/me` (the matrix has no JSON counterpart).
//!
//! Time to first byte is until the answer's head arrives; the whole answer is until its last
//! byte is read; weight is the HTML's bytes as served (the stylesheet is one cached file).
//!
//! ```text
//! cargo run --release -p rampart-server --example console_bench -- [EVENTS] [sqlite|postgres]
//! ```
//! With `BENCH_JSON=1` the figures are printed as `scripts/bench` result lines on stdout and
//! the report goes to stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::{AuditContext, Clock, Provider, SystemClock, UserId, Username};
use rampart_server::Server;
use rampart_service::Config;
use rampart_store::{NewEvent, NewUser};
use serde_json::{json, Value};

const PASSWORD: &str = "violet-trombone-gravel-71";
const ROUNDS: usize = 11;

macro_rules! say {
    ($($t:tt)*) => {
        if std::env::var_os("BENCH_JSON").is_some() { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One request's time to first byte, whole time and bytes.
#[derive(Default)]
struct Timings {
    first: Vec<Duration>,
    whole: Vec<Duration>,
    bytes: usize,
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Times one `GET path` into `t`.
    async fn time(&self, path: &str, t: &mut Timings) {
        let start = Instant::now();
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let first = start.elapsed();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body = response.bytes().await.unwrap();
        t.whole.push(start.elapsed());
        t.first.push(first);
        t.bytes = body.len();
    }

    /// `ROUNDS` rounds of `paths`, alternating, after one warm-up round.
    async fn rounds(&self, paths: &[&str]) -> Vec<Timings> {
        let mut out: Vec<Timings> = paths.iter().map(|_| Timings::default()).collect();
        let mut warm = Timings::default();
        for p in paths {
            self.time(p, &mut warm).await;
        }
        for _ in 0..ROUNDS {
            for (p, t) in paths.iter().zip(out.iter_mut()) {
                self.time(p, t).await;
            }
        }
        out
    }
}

/// Prints the table rows (and result lines) of a page against its baselines.
fn report(backend: &str, events: u64, page: &str, scale: &str, paths: &[&str], t: &[Timings]) {
    say!("| request | time to first byte | whole answer | bytes |\n|---|---|---|---|");
    for (p, t) in paths.iter().zip(t) {
        say!(
            "| `GET {p}` | {} | {} | {} |",
            ms(median(t.first.clone())),
            ms(median(t.whole.clone())),
            t.bytes
        );
    }
    if std::env::var_os("BENCH_JSON").is_none() {
        return;
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    let page_first = median(t[0].first.clone());
    let baselines: Vec<String> = paths[1..]
        .iter()
        .zip(&t[1..])
        .map(|(p, b)| format!("`{p}`: {}", ms(median(b.first.clone()))))
        .collect();
    println!(
        "{}",
        json!({
            "capability": "Console",
            "figure": format!("{page}, {scale} ({backend}): time to first byte; page weight {} KiB", t[0].bytes / 1024),
            "target": "—",
            "value": ms(page_first),
            "baseline": baselines.join("; "),
            "limit": "—",
            "met": null,
            "rounds": ROUNDS,
            "load": load,
            "command": format!("cargo run --release -p rampart-server --example console_bench -- {events} {backend}"),
        })
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("EVENTS: a number"));
    let backend = std::env::args().nth(2).unwrap_or_else(|| "sqlite".into());
    let dir = tempfile::tempdir().unwrap();
    let database_url = if backend == "postgres" {
        rampart_store::testing::fresh_postgres_url().await
    } else {
        String::new()
    };
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        database_url,
        https_addr: "127.0.0.1:0".into(),
        http_addr: "127.0.0.1:0".into(),
        node_id: "bench".into(),
        ..Config::default()
    };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    let server = Server::start(config, Arc::new(SystemClock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let state = &server.state;
    let hash = state.credentials.hash_password(PASSWORD).await.unwrap();
    let mut users = Vec::new();
    for i in 0..200 {
        let name = if i == 0 {
            "admin".to_owned()
        } else {
            format!("it{i:03}")
        };
        let user = state
            .store
            .create_user(
                &NewUser {
                    provider: Provider::It,
                    username: Username::parse(&name).unwrap(),
                    display_name: None,
                    email: None,
                    password_hash: hash.clone(),
                    is_admin: i == 0,
                },
                state.clock.now(),
                &AuditContext::default(),
            )
            .await
            .unwrap();
        users.push(user.id.to_string());
    }
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let base = format!("https://{}", server.https_addr);
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": PASSWORD, "provider": "it" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api = Api {
        client: client.clone(),
        base: base.clone(),
        token: r["token"].as_str().unwrap().to_owned(),
    };

    // The matrix: 50 modules of one application, 199 IT users with roles, an override for
    // one user in ten on one module in each environment.
    let (s, body) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/authz/write",
            Some(json!({ "operations": [{ "op": "create_application", "name": "bench" }] })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for m in 0..50 {
        let source = format!(
            "module: m{m:02}\napplication: bench\nentities:\n  - name: Item\n    attributes:\n      - {{name: title, type: text}}\n"
        );
        let (s, body) = api
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/modules/m{m:02}/versions"),
                Some(json!({ "source": source, "message": "v1" })),
            )
            .await;
        assert!(s < 300, "publish m{m:02}: {body}");
    }
    let roles = ["operations", "contractor", "auditor"];
    let mut ops: Vec<Value> = users[1..]
        .iter()
        .enumerate()
        .map(|(i, u)| json!({ "op": "set_it_role", "user": u, "role": roles[i % 3] }))
        .collect();
    for (i, u) in users[1..].iter().enumerate().step_by(10) {
        for env in ["development", "quality", "production"] {
            let scope = json!({ "type": "module", "name": format!("m{:02}", i % 50) });
            ops.push(json!({ "op": "set_override", "user": u, "scope": scope, "environment": env, "level": "open" }));
        }
    }
    for chunk in ops.chunks(100) {
        let (s, body) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/it/write",
                Some(json!({ "operations": chunk })),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }

    // The log: a few failed sign-ins, then `events` access events in batches.
    for _ in 0..5 {
        let r = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "username": "it001", "password": "wrong-password-1", "provider": "it" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let started = Instant::now();
    let now = state.clock.now() - time::Duration::days(1);
    let mut i = 0u64;
    while i < events {
        let n = (events - i).min(16_384);
        let batch: Vec<NewEvent> = (i..i + n).map(|k| event(k, now)).collect();
        state.store.append_events(batch).await.unwrap();
        i += n;
    }
    state.audit.catch_up().await.unwrap();
    say!(
        "## console on {backend}\n\nseeded {events} events in {:.0} s; 200 IT users, 50 modules, 3 environments\n",
        started.elapsed().as_secs_f64()
    );

    let scale = if events == 1_000_000 {
        "1M events".to_owned()
    } else {
        format!("{events} events")
    };
    say!("### audit search at {scale}\n");
    // The JSON calls of the page: its search, and the two searches of the failures chart.
    let paths = [
        "/console/audit",
        "/healthz",
        "/api/v1/audit/events?limit=200",
        "/api/v1/audit/events?action=auth.login&outcome=failure&limit=1000",
        "/api/v1/audit/events?outcome=deny&limit=1000",
    ];
    let t = api.rounds(&paths).await;
    report(&backend, events, "audit search page", &scale, &paths, &t);

    say!("\n### permission matrix, 200 users × 50 modules × 3 environments\n");
    let paths = ["/console/permissions", "/healthz", "/api/v1/auth/me"];
    let t = api.rounds(&paths).await;
    report(
        &backend,
        events,
        "permission matrix page",
        "200 users × 50 modules × 3 environments",
        &paths,
        &t,
    );
}

/// Event `i`: an `access` event of one of 100,000 end users on one of 5,000 screens, one in
/// twenty denied, `i` milliseconds after `now`.
fn event(i: u64, now: time::OffsetDateTime) -> NewEvent {
    let user = i.wrapping_mul(2_654_435_761) % 100_000;
    let ctx = AuditContext {
        actor_id: Some(UserId(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(user),
        ))),
        actor_name: Some(format!("end:user{user}")),
        request_id: Some(format!("0193a{i:027x}")),
        source: Some(format!("10.0.{}.{}", (i / 256) % 256, i % 256)),
        node_id: format!("node-{}", i % 3),
    };
    NewEvent::access(
        &ctx,
        now + time::Duration::milliseconds(i as i64),
        Some(["sales", "payroll", "crm"][(i % 3) as usize]),
        &format!("/apps/sales/screens/customer-{}", i % 5_000),
        "GET",
        !i.is_multiple_of(20),
    )
}
