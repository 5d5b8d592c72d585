//! Sign-in through an external OpenID Connect provider (issue #25), against the real
//! `oidc-provider` of `scripts/peers/oidc.sh`, over HTTPS on loopback:
//!
//! 1. code-flow completions per second: `CLIENTS` browsers at once, each a whole sign-in
//!    (Rampart's `…/oidc/start`, the provider's `/auth`, its login form, `/auth/UID`,
//!    Rampart's callback: code exchange, ID-token validation, profile, session);
//!    baseline: the provider's part of the same flow alone, with the code redeemed at its
//!    token endpoint by the client itself (what any relying party costs the provider);
//! 2. the node's resident memory after that load: the node runs in a process of its own
//!    (this executable again, with `serve`), on the allocator and settings `rampart serve`
//!    uses, so the figure is the node's alone.
//!
//! ```text
//! scripts/peers/oidc.sh -- cargo run --release -p rampart-server --example federation_bench
//! ```
//! It needs the `RAMPART_TEST_OIDC_*` variables the peer's script exports. With
//! `BENCH_JSON=1` the figures are printed as `scripts/bench` result lines on stdout, and
//! the report goes to stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

#[path = "shared/node.rs"]
#[allow(dead_code)] // each benchmark uses part of it
mod node;

use std::time::{Duration, Instant};

use base64::Engine as _;
use rampart_core::Provider;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::Digest as _;

const PASSWORD: &str = "violet-trombone-gravel-71";

// The allocator `rampart` runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
const CLIENTS: usize = 4;
const ROUNDS: usize = 3;
const SPAN: Duration = Duration::from_secs(5);

macro_rules! say {
    ($($t:tt)*) => {
        if std::env::var_os("BENCH_JSON").is_some() { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

fn var(name: &str) -> String {
    std::env::var(format!("RAMPART_TEST_OIDC_{name}"))
        .unwrap_or_else(|_| panic!("RAMPART_TEST_OIDC_{name}: run under scripts/peers/oidc.sh"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .trim_end_matches('\n')
        .to_owned()
}

fn result(figure: &str, target: &str, value: String, baseline: String, met: Value) {
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
            "capability": "Federation",
            "figure": figure,
            "target": target,
            "value": value,
            "baseline": baseline,
            "limit": "—",
            "met": met,
            "rounds": ROUNDS,
            "load": load,
            "command": "scripts/peers/oidc.sh -- cargo run --release -p rampart-server --example federation_bench",
        })
    );
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn absolute(origin: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        location.to_owned()
    }
}

/// The provider's side from its authorization URL: the login form as alice; answers the
/// URL it sends the browser back to.
async fn at_provider(b: &Client, issuer: &str, auth_url: &str, password: &str) -> String {
    let r = b.get(auth_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let interaction = absolute(issuer, &location(&r));
    let r = b.get(&interaction).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = b
        .post(format!("{interaction}/login"))
        .form(&[("username", "alice"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = b.get(absolute(issuer, &location(&r))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

/// Completions per second of `CLIENTS` browsers each running `flow` for `SPAN`.
async fn rate<F, Fut>(flow: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let flow = flow.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < SPAN {
                flow().await;
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

async fn put_client(issuer: &str, id: &str, redirect: &str) -> String {
    let token = read(&var("ADMIN_TOKEN_FILE"));
    let answer: Value = browser()
        .put(format!("{issuer}/admin/clients/{id}"))
        .bearer_auth(token)
        .json(&json!({ "redirect_uris": [redirect] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["client_secret_file"].as_str().unwrap().to_owned()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    node::serve_if_asked(&[("admin", Provider::It, true)], PASSWORD, true).await;
    let issuer = var("ISSUER");
    let password = read(&format!("{}/alice", var("PASSWORD_DIR")));
    let server = node::apart();
    let base = server.base.clone();
    let admin = browser();
    let r = admin
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": PASSWORD, "provider": "it" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let redirect = format!("{base}/api/v1/providers/idp/oidc/callback");
    let port = base.rsplit(':').next().unwrap().to_owned();
    let client_id = format!("bench-{port}");
    let secret_file = put_client(&issuer, &client_id, &redirect).await;
    let r = admin
        .post(format!("{base}/api/v1/providers"))
        .bearer_auth(&token)
        .json(
            &json!({ "name": "idp", "kind": "oidc", "users": "it", "settings": {
                "issuer": issuer,
                "ca_certificate": std::fs::read_to_string(var("CA")).unwrap(),
                "client_id": client_id,
                "client_secret": format!("file:{secret_file}"),
                "scopes": ["openid", "email", "profile", "groups"],
                "redirect_uri": redirect,
                "mappings": [{ "group": "rampart-admins", "it_role": "administrator" }]
            }}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let secret = read(&secret_file);

    // A whole sign-in through Rampart.
    let through_rampart = {
        let (base, issuer, password) = (base.clone(), issuer.clone(), password.clone());
        move || {
            let (base, issuer, password) = (base.clone(), issuer.clone(), password.clone());
            async move {
                let b = browser();
                let r = b
                    .get(format!("{base}/api/v1/providers/idp/oidc/start"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::SEE_OTHER);
                let callback = at_provider(&b, &issuer, &location(&r), &password).await;
                let r = b.get(&callback).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::SEE_OTHER, "{callback}");
            }
        }
    };
    // The provider's part alone, the code redeemed by the client itself.
    let provider_only = {
        let (issuer, password, client_id, secret, redirect) = (
            issuer.clone(),
            password.clone(),
            client_id.clone(),
            secret.clone(),
            redirect.clone(),
        );
        move || {
            let (issuer, password, client_id, secret, redirect) = (
                issuer.clone(),
                password.clone(),
                client_id.clone(),
                secret.clone(),
                redirect.clone(),
            );
            async move {
                let b = browser();
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let verifier = b64.encode(rand_bytes());
                let challenge = b64.encode(sha2::Sha256::digest(verifier.as_bytes()));
                let url = reqwest::Url::parse_with_params(
                    &format!("{issuer}/auth"),
                    &[
                        ("response_type", "code"),
                        ("client_id", client_id.as_str()),
                        ("redirect_uri", redirect.as_str()),
                        ("scope", "openid email profile groups"),
                        ("state", "bench-state"),
                        ("nonce", "bench-nonce"),
                        ("code_challenge", challenge.as_str()),
                        ("code_challenge_method", "S256"),
                    ],
                )
                .unwrap();
                let back = at_provider(&b, &issuer, url.as_str(), &password).await;
                let code = reqwest::Url::parse(&back)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                let r = b
                    .post(format!("{issuer}/token"))
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", redirect.as_str()),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let tokens: Value = r.json().await.unwrap();
                assert!(tokens["id_token"].is_string());
            }
        }
    };

    // Warm up both, then alternate rounds.
    through_rampart().await;
    provider_only().await;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let a = rate(through_rampart.clone()).await;
        let b = rate(provider_only.clone()).await;
        say!("round {round}: {a:.1} sign-ins/s through Rampart, {b:.1} provider-only flows/s");
        ours.push(a);
        theirs.push(b);
    }
    let (ours, theirs) = (node::median(ours), node::median(theirs));
    let (rss, peak) = server.memory_mib();
    say!(
        "OIDC code-flow completions: {ours:.1}/s through Rampart ({:.0} % of the provider-only \
         flow's {theirs:.1}/s); the node's resident memory {rss:.0} MiB (peak {peak:.0} MiB)",
        100.0 * ours / theirs
    );
    result(
        "OIDC code-flow completions per second (4 browsers, HTTPS loopback)",
        "—",
        format!("{ours:.1}/s"),
        format!("{theirs:.1}/s provider-only"),
        Value::Null,
    );
    result(
        "the node's resident memory after the sign-in load",
        "≤ 100 MB",
        format!("{rss:.0} MiB (peak {peak:.0} MiB)"),
        "Keycloak's guidance: 1,250 MB per pod".into(),
        json!(rss <= 100.0 / 1.048_576),
    );
    drop(server);
}

/// 32 random bytes for a PKCE verifier.
fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}
