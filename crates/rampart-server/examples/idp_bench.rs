//! Rampart as an OpenID Connect provider under load, over HTTPS on loopback, in process:
//!
//! 1. client-credential grants per second: `IDP_CLIENTS` (8) HTTP/1.1 connections posting
//!    `grant_type=client_credentials` (Basic authentication, an ES256 access token signed,
//!    an `idp.token` event through the audit pipeline);
//! 2. refreshes per second: each connection keeps its own refresh-token family and rotates
//!    it (a conditional update, a new token stored, an `idp.token` event in the same
//!    transaction, two tokens signed), for a client of RS256 ID tokens (the default) and
//!    one of ES256;
//! 3. the same-run baseline: `GET /healthz` on the same stack, alternating with each;
//! 4. token introspection latency (p50, p99) and the node's resident memory: after the
//!    load, and its peak.
//!
//! The node runs in a process of its own (this executable started again, with the
//! product's allocator), so that its memory is its own; the clients share the two cores
//! from this one.
//!
//! ```text
//! cargo run --release -p rampart-server --example idp_bench
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

#[path = "shared/node.rs"]
#[allow(dead_code)] // each benchmark uses part of it
mod node;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::Provider;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "violet-trombone-gravel-71";

// The allocator `rampart` runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrent connections: `IDP_CLIENTS`, 8 unless set.
fn clients() -> usize {
    std::env::var("IDP_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(8)
}
const ROUNDS: usize = 3;
const SPAN: Duration = Duration::from_secs(4);
const RP: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn client() -> Client {
    Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .build()
        .unwrap()
}

/// Requests per second of [`clients`] workers each running `step` (given its index) in a loop.
async fn rate<F, Fut>(step: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients() {
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < SPAN {
                step(i).await;
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users = [
        ("admin", Provider::It, true),
        ("alice", Provider::End, false),
    ];
    node::serve_if_asked(&users, PASSWORD, true).await;
    let server = node::apart();
    let base = server.base.clone();
    let http = client();
    let login = |user: &'static str, provider: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/api/v1/auth/login"))
                .json(&json!({ "username": user, "password": PASSWORD, "provider": provider }))
                .send()
                .await
                .unwrap()
        }
    };
    let admin = login("admin", "it").await.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let register = |body: Value| {
        let (http, base, admin) = (http.clone(), base.clone(), admin.clone());
        async move {
            let answer: Value = http
                .post(format!("{base}/api/v1/idp/clients"))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["client_secret"].as_str().unwrap().to_owned()
        }
    };
    let svc_secret =
        register(json!({ "client_id": "svc", "name": "Service", "kind": "service" })).await;
    let rp_secret = register(
        json!({ "client_id": "rp", "name": "RP", "first_party": true, "redirect_uris": [RP] }),
    )
    .await;
    let cookie = login("alice", "end").await.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let es_secret = register(json!({ "client_id": "rp-es", "name": "RP (ES256)",
        "first_party": true, "redirect_uris": [RP], "id_token_signed_response_alg": "ES256" }))
    .await;

    // One refresh-token family per worker and client.
    let challenge = rampart_idp::pkce::challenge_of(VERIFIER);
    let mut families = Vec::new();
    for (client, secret) in [("rp", &rp_secret), ("rp-es", &es_secret)] {
        let mut of_client = Vec::new();
        for _ in 0..clients() {
            let q = url_query(&[
                ("client_id", client),
                ("redirect_uri", RP),
                ("response_type", "code"),
                ("scope", "openid profile"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ]);
            let r = http
                .get(format!("{base}/oauth2/authorize?{q}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            let code = url::Url::parse(&to)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "code")
                .unwrap()
                .1
                .into_owned();
            let tokens: Value = http
                .post(format!("{base}/oauth2/token"))
                .basic_auth(client, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", RP),
                    ("code_verifier", VERIFIER),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            of_client.push(tokio::sync::Mutex::new(
                tokens["refresh_token"].as_str().unwrap().to_owned(),
            ));
        }
        families.push(Arc::new(of_client));
    }

    let healthz = {
        let (http, base) = (http.clone(), base.clone());
        move |_| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let r = http.get(format!("{base}/healthz")).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
            }
        }
    };
    let grant = {
        let (http, base, secret) = (http.clone(), base.clone(), svc_secret.clone());
        move |_| {
            let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
            async move {
                let r = http
                    .post(format!("{base}/oauth2/token"))
                    .basic_auth("svc", Some(secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let _ = r.bytes().await.unwrap();
            }
        }
    };
    // Refreshes of `client`'s families: rotation and its ID token (RS256 for `rp`, ES256
    // for `rp-es`).
    let refresh =
        |client: &'static str, secret: String, families: Arc<Vec<tokio::sync::Mutex<String>>>| {
            let (http, base) = (http.clone(), base.clone());
            move |i: usize| {
                let (http, base, secret, families) =
                    (http.clone(), base.clone(), secret.clone(), families.clone());
                async move {
                    let mut current = families[i].lock().await;
                    let r = http
                        .post(format!("{base}/oauth2/token"))
                        .basic_auth(client, Some(secret))
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", current.as_str()),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::OK);
                    let body: Value = r.json().await.unwrap();
                    *current = body["refresh_token"].as_str().unwrap().to_owned();
                }
            }
        };
    let refresh_rs = refresh("rp", rp_secret.clone(), families[0].clone());
    let refresh_es = refresh("rp-es", es_secret.clone(), families[1].clone());
    let (mut h, mut g, mut f, mut e) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        h.push(rate(healthz.clone()).await);
        g.push(rate(grant.clone()).await);
        h.push(rate(healthz.clone()).await);
        f.push(rate(refresh_rs.clone()).await);
        h.push(rate(healthz.clone()).await);
        e.push(rate(refresh_es.clone()).await);
        eprintln!(
            "round {round}: healthz {:.0}/s, client credentials {:.0}/s, refresh (RS256 ID token) {:.0}/s, refresh (ES256) {:.0}/s",
            h[h.len() - 1],
            g[round],
            f[round],
            e[round]
        );
    }
    // Introspection latency, one request at a time.
    let token: Value = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth("svc", Some(&svc_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let mut lat = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/oauth2/introspect"))
            .basic_auth("svc", Some(&svc_secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let _ = r.bytes().await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (hz, gr, rf, re) = (
        node::median(h),
        node::median(g),
        node::median(f),
        node::median(e),
    );
    println!("connections                        {}", clients());
    println!("healthz (same run, alternating)    {hz:.0} req/s");
    println!(
        "client-credential grants           {gr:.0}/s ({:.2}× /healthz)",
        gr / hz
    );
    println!(
        "refreshes, RS256 ID token          {rf:.0}/s ({:.2}× /healthz)",
        rf / hz
    );
    println!(
        "refreshes, ES256 ID token          {re:.0}/s ({:.2}× /healthz)",
        re / hz
    );
    println!(
        "introspection, one at a time       p50 {:.3} ms, p99 {:.3} ms",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
    let (rss, peak) = server.memory_mib();
    println!("node's resident memory             {rss:.1} MiB after the load, peak {peak:.1} MiB");
    println!(
        "the clients' process                {:.1} MiB",
        node::rss_mib()
    );
    println!(
        "load average                       {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    drop(server);
}

fn url_query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}
