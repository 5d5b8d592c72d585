//! Issue #5's lifecycle figures, in one run, each with a baseline from the same run:
//!
//! 1. a module of 500 entities and 2,000 screens: parse + validate (baseline: `serde_json`
//!    deserialising the same module from JSON, no positions, no rules), structured + line
//!    diff of two versions (baseline: the line diff alone), and publish over HTTPS to a
//!    node on loopback (baseline: an authenticated `GET /api/v1/auth/me`);
//! 2. an application of 50 modules, each using public elements of up to three others: the
//!    deployment plan (dry run) of all 50 into an empty environment, applying it, and
//!    staging it to the next environment (baseline: the same `GET /api/v1/auth/me`);
//! 3. the same application tagged and put in a stored deployment plan for production with
//!    a setting for each module: creating the plan (settings checked against the 50 tagged
//!    models, preview included), reading its preview, and running it (a request for the
//!    second approver) (baseline: the same `GET /api/v1/auth/me`).
//!
//! ```text
//! cargo run --release -p rampart-server --example lifecycle_bench -- [sqlite|postgres]
//! ```
//! PostgreSQL needs `RAMPART_TEST_PG_URL` (as `scripts/pg-throwaway.sh` exports). With
//! `BENCH_JSON=1` the headline figures are also printed as `scripts/bench` result lines on
//! stdout, and the report goes to stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::{AuditContext, Clock, Provider, SystemClock, Username};
use rampart_server::Server;
use rampart_service::Config;
use rampart_store::NewUser;
use serde_json::{json, Value};

const PASSWORD: &str = "violet-trombone-gravel-71";

/// A module of `entities` entities (8 attributes each, every tenth public) and `screens`
/// screens (4 widgets each), with a query and an action per ten entities.
fn big_module(name: &str, entities: usize, screens: usize, variant: usize) -> String {
    let mut s = format!(
        "module: {name}\napplication: bench\ndescription: A large module (variant {variant}).\nroles:\n  - name: Reader\n  - name: Writer\n    public: true\nentities:\n"
    );
    for e in 0..entities {
        let _ = write!(
            s,
            "  - name: Entity{e}\n    description: Records of kind {e}.\n    public: {}\n    attributes:\n      - name: title\n        type: text\n        required: true\n        max_length: {}\n      - name: amount\n        type: decimal\n      - name: count\n        type: integer\n      - name: active\n        type: boolean\n      - name: opened\n        type: date\n      - name: contact\n        type: email\n        sensitive: true\n      - name: owner\n        type: reference\n        entity: User\n        required: true\n      - name: parent\n        type: reference\n        entity: Entity{}\n    acl:\n      owner: owner\n      hierarchy: reports-to\n      grants: true\n",
            e % 10 == 0,
            if variant > 0 && e % 10 == 0 { 300 } else { 200 },
            e / 2
        );
    }
    s.push_str("queries:\n");
    for e in (0..entities).step_by(10) {
        let _ = write!(
            s,
            "  - name: Active{e}\n    entity: Entity{e}\n    public: true\n    parameters:\n      - name: since\n        type: date\n    filter:\n      - attribute: opened\n        op: ge\n        parameter: since\n      - attribute: active\n        op: eq\n        value: true\n    order_by: [opened desc]\n"
        );
    }
    s.push_str("actions:\n");
    for e in (0..entities).step_by(10) {
        let _ = write!(
            s,
            "  - name: Create{e}\n    roles: [Writer]\n    parameters:\n      - name: title\n        type: text\n    returns: Entity{e}\n    steps:\n      - create:\n          entity: Entity{e}\n          values: {{ title: params.title, owner: user.id }}\n          into: created\n      - redirect:\n          target: '\"Screen{e}\"'\n"
        );
    }
    s.push_str("screens:\n");
    for i in 0..screens + variant * 100 {
        let e = i % entities;
        let _ = write!(
            s,
            "  - name: Screen{i}\n    kind: {}\n    entity: Entity{e}\n    roles: [Reader, Writer]\n    widgets:\n      - kind: text\n        label: Title\n        value: record.title\n      - kind: field\n        value: amount\n      - kind: link\n        label: Back\n        target: '\"Screen0\"'\n      - kind: text\n        value: record.opened\n",
            if i % 3 == 0 { "detail" } else { "form" }
        );
    }
    s
}

/// Module `i` of the 50-module application: two public entities, a public action, and
/// dependencies on up to three earlier modules.
fn app_module(i: usize) -> String {
    let mut s = format!(
        "module: app-{i:02}\napplication: bench\nroles:\n  - name: User{i}\n    public: true\nentities:\n  - name: Thing\n    public: true\n    attributes:\n      - name: title\n        type: text\n        required: true\n  - name: Other\n    public: true\n    attributes:\n      - name: note\n        type: text\nactions:\n  - name: Make\n    public: true\n    roles: [User{i}]\n    parameters:\n      - name: title\n        type: text\n    steps:\n      - create:\n          entity: Thing\n          values: {{ title: params.title }}\nproperties:\n  - name: Limit\n    type: integer\n    default: 10\n"
    );
    let deps: Vec<usize> = [i / 2, i / 3, i.saturating_sub(1)]
        .into_iter()
        .filter(|d| *d < i)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !deps.is_empty() {
        s.push_str("dependencies:\n");
        for d in deps {
            let _ = write!(
                s,
                "  - module: app-{d:02}\n    entities: [Thing, Other]\n    actions: [Make]\n    roles: [User{d}]\n"
            );
        }
    }
    s
}

/// The report: stdout, or stderr when stdout carries `scripts/bench` result lines.
macro_rules! say {
    ($($t:tt)*) => {
        if std::env::var_os("BENCH_JSON").is_some() { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

/// One `scripts/bench` result line (printed only with `BENCH_JSON`): a step's median against
/// its same-run baseline. The lifecycle has no targets; the figures say what a step costs.
fn result(
    backend: &str,
    figure: &str,
    value: Duration,
    baseline: &str,
    base: Duration,
    rounds: usize,
) {
    if std::env::var_os("BENCH_JSON").is_none() {
        return;
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    println!(
        "{}",
        json!({
            "capability": "Module lifecycle",
            "figure": format!("{figure} ({backend})"),
            "target": "—",
            "value": ms(value),
            "baseline": format!("{baseline}: {} ({:.1}×)", ms(base), value.as_secs_f64() / base.as_secs_f64()),
            "limit": "—",
            "met": null,
            "rounds": rounds,
            "load": load,
            "command": format!("cargo run --release -p rampart-server --example lifecycle_bench -- {backend}"),
        })
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
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

    /// Median of `n` authenticated `GET /api/v1/auth/me`.
    async fn baseline(&self, n: usize) -> Duration {
        let mut t = Vec::new();
        for _ in 0..n {
            let start = Instant::now();
            let (s, _) = self
                .call(reqwest::Method::GET, "/api/v1/auth/me", None)
                .await;
            assert_eq!(s, 200);
            t.push(start.elapsed());
        }
        median(t)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "sqlite".into());
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
        max_body_bytes: 64 * 1024 * 1024,
        ..Config::default()
    };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    let server = Server::start(config, Arc::new(SystemClock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let state = &server.state;
    let hash = state.credentials.hash_password(PASSWORD).await.unwrap();
    for name in ["admin", "operator"] {
        state
            .store
            .create_user(
                &NewUser {
                    provider: Provider::It,
                    username: Username::parse(name).unwrap(),
                    display_name: None,
                    email: None,
                    password_hash: hash.clone(),
                    is_admin: true,
                },
                state.clock.now(),
                &AuditContext::default(),
            )
            .await
            .unwrap();
    }
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let base = format!("https://{}", server.https_addr);
    let login = |user: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r: Value = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({ "username": user, "password": PASSWORD, "provider": "it" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            Api {
                client,
                base,
                token: r["token"].as_str().unwrap().to_owned(),
            }
        }
    };
    let api = login("admin").await;
    let operator = login("operator").await;
    let (s, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/authz/write",
            Some(json!({ "operations": [{ "op": "create_application", "name": "bench" }] })),
        )
        .await;
    assert_eq!(s, 200);

    // 1. The large module.
    let v1 = big_module("big", 500, 2000, 0);
    let v2 = big_module("big", 500, 2000, 1);
    let m1 = rampart_model::parse("big.yaml", &v1).unwrap();
    let m2 = rampart_model::parse("big.yaml", &v2).unwrap();
    let as_json = serde_json::to_string(&m1).unwrap();
    say!(
        "## lifecycle on {backend}\n\nmodule: {} entities, {} screens, {} KiB of YAML ({} lines)\n",
        m1.entities.len(),
        m1.screens.len(),
        v1.len() / 1024,
        v1.lines().count()
    );
    let (mut parse, mut plain, mut diff, mut lines) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        let m = rampart_model::parse("big.yaml", &v1).unwrap();
        parse.push(t.elapsed());
        assert_eq!(m.entities.len(), 500);
        let t = Instant::now();
        let m: rampart_model::Module = serde_json::from_str(&as_json).unwrap();
        plain.push(t.elapsed());
        assert_eq!(m.screens.len(), 2000);
        let t = Instant::now();
        let d = rampart_model::diff(&m1, &m2, ("v1", &v1), ("v2", &v2));
        diff.push(t.elapsed());
        assert_eq!(d.elements["screens"].added.len(), 100);
        assert_eq!(d.elements["entities"].changed.len(), 50);
        let t = Instant::now();
        let text = similar::TextDiff::from_lines(v1.as_str(), v2.as_str());
        let n = text.unified_diff().context_radius(3).to_string().len();
        lines.push(t.elapsed());
        assert!(n > 0);
    }
    let (parse, plain, diff, lines) = (median(parse), median(plain), median(diff), median(lines));
    result(
        &backend,
        "parse + validate a 976 KiB module (500 entities, 2,000 screens)",
        parse,
        "`serde_json` of the same module",
        plain,
        15,
    );
    result(
        &backend,
        "structured + line diff of two versions",
        diff,
        "the line diff alone",
        lines,
        15,
    );
    say!("| step | median | baseline (same run) | ratio |\n|---|---:|---:|---:|");
    say!(
        "| parse + validate (YAML, positions, every rule) | {} | serde_json of the same module: {} | {:.1}× |",
        ms(parse),
        ms(plain),
        parse.as_secs_f64() / plain.as_secs_f64()
    );
    say!(
        "| structured + line diff, v1 → v2 | {} | line diff alone: {} | {:.1}× |",
        ms(diff),
        ms(lines),
        diff.as_secs_f64() / lines.as_secs_f64()
    );
    let me = api.baseline(50).await;
    let mut publish = Vec::new();
    let mut api_diff = Vec::new();
    for round in 0..6 {
        let source = if round % 2 == 0 { &v1 } else { &v2 };
        let source = source.replace("A large module", &format!("A large module, round {round}"));
        let t = Instant::now();
        let (s, body) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/modules/big/versions",
                Some(json!({ "source": source, "message": format!("round {round}") })),
            )
            .await;
        publish.push(t.elapsed());
        assert_eq!(s, 201, "{body}");
        if round > 0 {
            let t = Instant::now();
            let (s, body) = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/modules/big/diff?from={round}&to={}", round + 1),
                    None,
                )
                .await;
            api_diff.push(t.elapsed());
            assert_eq!(s, 200);
            assert_eq!(
                body["elements"]["entities"]["changed"]
                    .as_array()
                    .unwrap()
                    .len(),
                50
            );
        }
    }
    let (publish, api_diff) = (median(publish), median(api_diff));
    result(
        &backend,
        "publish the large module over HTTPS",
        publish,
        "`GET /api/v1/auth/me`",
        me,
        6,
    );
    say!(
        "| publish over HTTPS (parse, checks, store, audit) | {} | GET /api/v1/auth/me: {} | {:.0}× |",
        ms(publish),
        ms(me),
        publish.as_secs_f64() / me.as_secs_f64()
    );
    say!(
        "| diff over HTTPS (two versions read, diffed, sent) | {} | GET /api/v1/auth/me: {} | {:.0}× |",
        ms(api_diff),
        ms(me),
        api_diff.as_secs_f64() / me.as_secs_f64()
    );

    // 2. The application of 50 modules.
    for i in 0..50 {
        let (s, body) = api
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/modules/app-{i:02}/versions"),
                Some(json!({ "source": app_module(i), "message": "first" })),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    let all: Vec<Value> = (0..50)
        .map(|i| json!({ "module": format!("app-{i:02}"), "version": 1 }))
        .collect();
    let me = api.baseline(50).await;
    let mut plan = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let (s, body) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/environments/development/deployments",
                Some(json!({ "modules": all, "dry_run": true })),
            )
            .await;
        plan.push(t.elapsed());
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["changes"].as_array().unwrap().len(), 50);
    }
    let plan = median(plan);
    let t = Instant::now();
    let (s, body) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/environments/development/deployments",
            Some(json!({ "modules": all })),
        )
        .await;
    let applied = t.elapsed();
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["deployments"].as_array().unwrap().len(), 50);
    let mut stage_plan = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let (s, body) = operator
            .call(
                reqwest::Method::POST,
                "/api/v1/environments/quality/stage",
                Some(json!({ "dry_run": true })),
            )
            .await;
        stage_plan.push(t.elapsed());
        assert_eq!(s, 200, "{body}");
    }
    let stage_plan = median(stage_plan);
    let t = Instant::now();
    let (s, body) = operator
        .call(
            reqwest::Method::POST,
            "/api/v1/environments/quality/stage",
            Some(json!({})),
        )
        .await;
    let staged = t.elapsed();
    result(
        &backend,
        "deployment plan (dry run) of a 50-module application",
        plan,
        "`GET /api/v1/auth/me`",
        me,
        9,
    );
    result(
        &backend,
        "apply it: 50 deployments and their audit events, one transaction",
        applied,
        "`GET /api/v1/auth/me`",
        me,
        1,
    );
    result(
        &backend,
        "staging plan (dry run), development → quality",
        stage_plan,
        "`GET /api/v1/auth/me`",
        me,
        9,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["deployments"].as_array().unwrap().len(), 50);
    say!(
        "\n| 50-module application | time | ÷ GET /api/v1/auth/me ({}) |\n|---|---:|---:|",
        ms(me)
    );
    for (what, d) in [
        (
            "deployment plan (dry run), 50 modules into an empty environment",
            plan,
        ),
        (
            "apply it (50 deployments and audit events, one transaction)",
            applied,
        ),
        ("staging plan (dry run), development → quality", stage_plan),
        ("stage it", staged),
    ] {
        say!(
            "| {what} | {} | {:.0}× |",
            ms(d),
            d.as_secs_f64() / me.as_secs_f64()
        );
    }

    // 3. A stored deployment plan of the tagged application, with a setting per module.
    let (s, body) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/applications/bench/tags",
            Some(json!({ "tag": "1.0" })),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let properties: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("app-{i:02}.Limit"), json!(20)))
        .collect();
    let me = api.baseline(50).await;
    let t = Instant::now();
    let (s, plan_body) = operator
        .call(
            reqwest::Method::POST,
            "/api/v1/deployment-plans",
            Some(json!({
                "environment": "production",
                "applications": [{ "application": "bench", "tag": "1.0" }],
                "settings": { "properties": properties },
            })),
        )
        .await;
    let created = t.elapsed();
    assert_eq!(s, 201, "{plan_body}");
    // The tag holds the 50 modules and the big module of part 1 (same application).
    assert_eq!(
        plan_body["preview"]["changes"].as_array().unwrap().len(),
        51
    );
    assert_eq!(
        plan_body["preview"]["settings"].as_array().unwrap().len(),
        50
    );
    let id = plan_body["id"].as_i64().unwrap();
    let mut previews = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let (s, body) = operator
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/deployment-plans/{id}"),
                None,
            )
            .await;
        previews.push(t.elapsed());
        assert_eq!(s, 200, "{body}");
    }
    let preview = median(previews);
    let t = Instant::now();
    let (s, body) = operator
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/deployment-plans/{id}/run"),
            Some(json!({})),
        )
        .await;
    let ran = t.elapsed();
    result(
        &backend,
        "stored plan of 51 modules and 50 settings, read with its preview",
        preview,
        "`GET /api/v1/auth/me`",
        me,
        9,
    );
    assert_eq!(s, 202, "{body}");
    say!(
        "\n| stored deployment plan, 51 modules (the 50 and the big one), 50 settings | time | ÷ GET /api/v1/auth/me ({}) |\n|---|---:|---:|",
        ms(me)
    );
    for (what, d) in [
        ("create (settings checked, preview included)", created),
        ("read it with its preview", preview),
        (
            "run it (production: a request for the second approver)",
            ran,
        ),
    ] {
        say!(
            "| {what} | {} | {:.0}× |",
            ms(d),
            d.as_secs_f64() / me.as_secs_f64()
        );
    }
    server.shutdown().await;
}
