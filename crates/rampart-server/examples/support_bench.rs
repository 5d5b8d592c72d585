//! The support desk's figures (issue #27), each with a baseline from the same run:
//!
//! 1. cases opened per second over HTTPS by members of one company (8 clients at once,
//!    each `POST /api/v1/support/cases`, which writes the case and its audit event in one
//!    transaction); baseline: an authenticated `GET /api/v1/auth/me` on the same clients;
//! 2. the inbox of a company with 10,000 cases (1 in 10 suspended): the first page of 50,
//!    as the company's administrator, `GET /api/v1/support/cases?company=…` and
//!    `…&status=suspended` (target: p50 ≤ 50 ms); baseline: the same `GET /api/v1/auth/me`;
//! 3. the console's case list of that company, `GET /console/support?company=…` (the HTML
//!    page of the first 50, with the Authorize and Ignore forms), as an operator
//!    administrator (target: p50 ≤ 50 ms); baseline: the API's page of the same 50 cases for
//!    the same administrator.
//!
//! ```text
//! cargo run --release -p rampart-server --example support_bench -- [sqlite|postgres]
//! ```
//! PostgreSQL needs `RAMPART_TEST_PG_URL` (as `scripts/pg-throwaway.sh` exports). With
//! `BENCH_JSON=1` the figures are printed as `scripts/bench` result lines on stdout, and
//! the report goes to stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::{AuditContext, Clock, Provider, SystemClock, UserId, Username};
use rampart_server::Server;
use rampart_service::Config;
use rampart_store::{NewCase, NewUser, PeopleChange};
use rampart_support::RateLimits;
use serde_json::{json, Value};

const PASSWORD: &str = "violet-trombone-gravel-71";
const CASES: usize = 10_000;
const CLIENTS: usize = 8;
const ROUNDS: usize = 3;

macro_rules! say {
    ($($t:tt)*) => {
        if std::env::var_os("BENCH_JSON").is_some() { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

fn result(backend: &str, figure: &str, target: &str, value: String, baseline: String, met: Value) {
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
            "capability": "Support desk",
            "figure": format!("{figure} ({backend})"),
            "target": target,
            "value": value,
            "baseline": baseline,
            "limit": "—",
            "met": met,
            "rounds": ROUNDS,
            "load": load,
            "command": format!("cargo run --release -p rampart-server --example support_bench -- {backend}"),
        })
    );
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn user(state: &rampart_service::AppState, name: &str, admin: bool) -> UserId {
    let hash = state.credentials.hash_password(PASSWORD).await.unwrap();
    state
        .store
        .create_user(
            &NewUser {
                provider: if admin { Provider::It } else { Provider::End },
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
        .unwrap()
        .id
}

async fn login(client: &reqwest::Client, base: &str, name: &str, provider: &str) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": name, "password": PASSWORD, "provider": provider }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_owned()
}

/// Requests per second of `CLIENTS` clients each sending `request(i)` for `span`.
async fn rate<F, Fut>(span: Duration, request: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while started.elapsed() < span {
                request(c, n).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// p50 of `n` sequential GETs of `path`.
async fn p50(client: &reqwest::Client, base: &str, token: &str, path: &str, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.bytes().await.unwrap();
        times.push(t.elapsed());
    }
    median(times)
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
        ..Config::default()
    };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    config.support.per_requester = 1_000_000;
    config.support.per_company = 1_000_000;
    let server = Server::start(config, Arc::new(SystemClock) as Arc<dyn Clock>)
        .await
        .unwrap();
    let state = server.state.clone();
    let ctx = AuditContext::default();
    let now = state.clock.now();
    user(&state, "admin", true).await;
    let company = state
        .store
        .support_create_company(&ctx, now, "acme")
        .await
        .unwrap();
    let boss = user(&state, "boss", false).await;
    state
        .store
        .support_change_people(
            &ctx,
            now,
            &company,
            (boss, "end:boss"),
            PeopleChange::AddAdministrator,
        )
        .await
        .unwrap();
    let mut members = Vec::new();
    for i in 0..CLIENTS {
        let id = user(&state, &format!("member{i}"), false).await;
        state
            .store
            .support_change_people(&ctx, now, &company, (id, "member"), PeopleChange::AddMember)
            .await
            .unwrap();
        members.push(format!("member{i}"));
    }
    let outsider = user(&state, "outsider", false).await;
    say!("seeding {CASES} cases of acme …");
    let limits = RateLimits {
        window: time::Duration::minutes(1),
        per_requester: u32::MAX,
        per_company: u32::MAX,
    };
    let seeded = Instant::now();
    for i in 0..CASES {
        let requester = if i % 10 == 0 { outsider } else { boss };
        state
            .store
            .support_open_case(
                &ctx,
                now,
                &company,
                NewCase {
                    requester,
                    requester_name: "end:seed".into(),
                    subject: format!("Case {i}"),
                    description: "Seeded for the inbox figure.".into(),
                    severity: "normal".into(),
                },
                limits,
            )
            .await
            .unwrap();
    }
    say!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());

    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let base = format!("https://{}", server.https_addr);
    let boss_token = login(&client, &base, "boss", "end").await;
    let mut tokens = Vec::new();
    for m in &members {
        tokens.push(login(&client, &base, m, "end").await);
    }
    let tokens = Arc::new(tokens);

    // 1. Cases opened per second, alternating with the baseline.
    let span = Duration::from_secs(5);
    let (mut opened, mut me) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (c, b, t) = (client.clone(), base.clone(), tokens.clone());
        me.push(
            rate(span, move |i, _| {
                let (c, b, t) = (c.clone(), b.clone(), t.clone());
                async move {
                    let r = c
                        .get(format!("{b}/api/v1/auth/me"))
                        .bearer_auth(&t[i])
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                }
            })
            .await,
        );
        let (c, b, t) = (client.clone(), base.clone(), tokens.clone());
        opened.push(
            rate(span, move |i, n| {
                let (c, b, t) = (c.clone(), b.clone(), t.clone());
                async move {
                    let r = c
                        .post(format!("{b}/api/v1/support/cases"))
                        .bearer_auth(&t[i])
                        .json(&json!({
                            "company": "acme",
                            "subject": format!("Load {i}-{n}"),
                            "description": "Opened by the benchmark.",
                            "severity": "low",
                        }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
                }
            })
            .await,
        );
    }
    let (opened, me_rate) = (median(opened), median(me));
    say!("cases opened: {opened:.0}/s (GET /api/v1/auth/me: {me_rate:.0}/s)");
    result(
        &backend,
        "cases opened per second, 8 members of one company at once over HTTPS",
        "—",
        format!("{opened:.0} cases/s"),
        format!("GET /api/v1/auth/me: {me_rate:.0} req/s"),
        Value::Null,
    );

    // 2. The inbox's first page, 10,000 cases and more.
    for (figure, path) in [
        (
            "inbox first page of 50, a company with 10,000+ cases",
            "/api/v1/support/cases?company=acme&limit=50",
        ),
        (
            "inbox first page of 50 suspended, a company with 10,000+ cases (1 in 10 suspended)",
            "/api/v1/support/cases?company=acme&status=suspended&limit=50",
        ),
    ] {
        let (mut page, mut base_line) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            base_line.push(p50(&client, &base, &boss_token, "/api/v1/auth/me", 50).await);
            page.push(p50(&client, &base, &boss_token, path, 50).await);
        }
        let (page, base_line) = (median(page), median(base_line));
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        say!(
            "{figure}: p50 {} (GET /api/v1/auth/me: {})",
            ms(page),
            ms(base_line)
        );
        result(
            &backend,
            figure,
            "p50 ≤ 50 ms",
            format!("p50 {}", ms(page)),
            format!("GET /api/v1/auth/me: p50 {}", ms(base_line)),
            json!(page <= Duration::from_millis(50)),
        );
    }

    // 3. The console's case list: the same first page, as HTML with its forms.
    let admin_token = login(&client, &base, "admin", "it").await;
    let api = "/api/v1/support/cases?company=acme&limit=50";
    // The page measured is the list itself (not a sign-in page it redirected to).
    let html = client
        .get(format!("{base}/console/support?company=acme"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = html.matches("href=\"/console/support/cases/").count();
    assert_eq!(rows, 50, "the console's first page lists 50 cases");
    assert!(html.contains("Next page"), "and links to the next");
    let (mut page, mut base_line) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        base_line.push(p50(&client, &base, &admin_token, api, 50).await);
        page.push(
            p50(
                &client,
                &base,
                &admin_token,
                "/console/support?company=acme",
                50,
            )
            .await,
        );
    }
    let (page, base_line) = (median(page), median(base_line));
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let figure = "console case list, first page of 50, a company with 10,000+ cases";
    say!(
        "{figure}: p50 {} (the API's page: {})",
        ms(page),
        ms(base_line)
    );
    result(
        &backend,
        figure,
        "p50 ≤ 50 ms",
        format!("p50 {}", ms(page)),
        format!("GET {api}: p50 {}", ms(base_line)),
        json!(page <= Duration::from_millis(50)),
    );
    server.shutdown().await;
}
