//! Sign-in through an LDAP user provider (issue #25), against a real OpenLDAP `slapd` (the
//! one the tests start: `tests/api/slapd.rs`), over HTTPS on loopback:
//!
//! - logins per second: `CLIENTS` clients at once, each `POST /api/v1/auth/login` through
//!   the provider (StartTLS, the service account's search, the bind as the user, the group
//!   read, the just-in-time profile, the session and its audit event);
//! - baseline, in the same run: `ldapwhoami` of the same users over StartTLS (one process,
//!   one connection and one bind per login, which is what a shell script checking passwords
//!   would cost the directory);
//! - the node's resident memory after that load, and its peak: the node runs in a process
//!   of its own (this executable started again, with the product's allocator), so that
//!   its memory is its own, not its clients'.
//!
//! ```text
//! cargo run --release -p rampart-server --example ldap_bench
//! ```
//! Needs Debian's `slapd` and `ldap-utils`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

#[path = "../tests/api/slapd.rs"]
#[allow(dead_code)] // the tests' helper; this benchmark uses part of it
mod slapd;

#[path = "shared/node.rs"]
#[allow(dead_code)] // each benchmark uses part of it
mod node;

use std::process::Command;
use std::time::{Duration, Instant};

use rampart_core::Provider;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "violet-trombone-gravel-71";

// The allocator `rampart` runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
const PEOPLE: usize = 16;
const CLIENTS: usize = 4;
const ROUNDS: usize = 3;
const SPAN: Duration = Duration::from_secs(5);

fn client() -> Client {
    Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// Completions per second of `CLIENTS` workers each running `flow(worker, n)` for `SPAN`.
async fn rate<F, Fut>(flow: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let flow = flow.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < SPAN {
                flow(w, n).await;
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

fn person(w: usize, n: u64) -> String {
    format!("p{}", (w + n as usize * CLIENTS) % PEOPLE)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    node::serve_if_asked(&[("admin", Provider::It, true)], PASSWORD, false).await;
    let ldap = slapd::slapd();
    let people: Vec<String> = (0..PEOPLE).map(|i| format!("p{i}")).collect();
    let entries: Vec<(&str, &str, &str)> =
        people.iter().map(|p| (p.as_str(), PASSWORD, "")).collect();
    let members: Vec<&str> = people.iter().map(String::as_str).collect();
    let ou = format!("bench{}", std::process::id());
    let base = ldap.unit(&ou, &entries, &[("devs", &members)]);

    let server = node::apart();
    let url = server.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let http = client();
    let login = |username: &str, provider: Option<&str>| {
        let mut body = json!({ "username": username, "password": PASSWORD, "provider": "it" });
        if let Some(p) = provider {
            body["user_provider"] = json!(p);
        }
        http.post(format!("{url}/api/v1/auth/login")).json(&body)
    };
    let r = login("admin", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = http
        .post(format!("{url}/api/v1/providers"))
        .bearer_auth(&token)
        .json(&json!({ "name": "corp", "kind": "ldap", "users": "it",
                        "settings": ldap.settings(&base) }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    // Every person signs in once first: profiles made, the provider's connection warm.
    for p in &people {
        let r = login(p, Some("corp")).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{p}: {}",
            r.text().await.unwrap()
        );
    }

    let port = ldap.ldap_port;
    let ca = dir.path().join("ldap-ca.pem");
    std::fs::write(&ca, &ldap.ca_pem).unwrap();
    let mut rampart = Vec::new();
    let mut whoami = Vec::new();
    for _ in 0..ROUNDS {
        let (http, url) = (http.clone(), url.clone());
        rampart.push(
            rate(move |w, n| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let body = json!({ "username": person(w, n), "password": PASSWORD,
                                       "provider": "it", "user_provider": "corp" });
                    let r = http
                        .post(format!("{url}/api/v1/auth/login"))
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::OK);
                }
            })
            .await,
        );
        let (base, ca) = (base.clone(), ca.clone());
        whoami.push(
            rate(move |w, n| {
                let dn = format!("uid={},{base}", person(w, n));
                let ca = ca.clone();
                async move {
                    let out = tokio::task::spawn_blocking(move || {
                        Command::new("ldapwhoami")
                            .env("LDAPTLS_CACERT", &ca)
                            .args(["-x", "-ZZ", "-H", &format!("ldap://127.0.0.1:{port}")])
                            .args(["-D", &dn, "-w", PASSWORD])
                            .output()
                            .expect("ldap-utils must be installed")
                    })
                    .await
                    .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
            .await,
        );
    }
    let (ours, theirs) = (node::median(rampart), node::median(whoami));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("LDAP logins through Rampart ({CLIENTS} clients, {PEOPLE} people, median of {ROUNDS} × {SPAN:?}): {ours:.0}/s");
    println!(
        "ldapwhoami of the same people over StartTLS, same run: {theirs:.0}/s (ratio {:.2})",
        ours / theirs
    );
    let (rss, peak) = server.memory_mib();
    println!("the node's resident memory after the load: {rss:.0} MiB (peak {peak:.0} MiB)");
    println!("load average: {}", load.trim());
    drop(server);
}
