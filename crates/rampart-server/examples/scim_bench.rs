//! SCIM provisioning at a directory's size: a provider with `SCIM_USERS` users (10,000
//! unless set) and 20 groups of 50 members, pushed through `POST /scim/v2/Bulk`; then the
//! lookups a directory's provisioning cycle makes before each write, over HTTPS on
//! loopback with 8 connections:
//!
//! 1. `GET /scim/v2/Users?filter=userName eq "…"` (read by the indexed column); baseline:
//!    the same filter written `(F) or (F)`, which names no column, so the whole provider is
//!    read and the filter evaluated on each user (what every filtered list cost before
//!    lookups);
//! 2. `GET /scim/v2/Groups?filter=displayName eq "…"`, and its `(F) or (F)` baseline;
//! 3. `GET /scim/v2/Users/{id}` (a user with two groups); baseline: `GET
//!    /scim/v2/ServiceProviderConfig`, which reads nothing;
//! 4. `GET /scim/v2/Users?startIndex=…&count=100`, pages anywhere in the list (how a
//!    directory imports: no filter, so only the page and its users' groups are read);
//!    baseline: the same page with `filter=id pr`, which matches every user but is no
//!    lookup, so the whole provider is read and the page cut from it.
//!
//! ```text
//! cargo run --release -p rampart-server --example scim_bench
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

#[path = "shared/node.rs"]
#[allow(dead_code)] // each benchmark uses part of it
mod node;

use std::time::{Duration, Instant};

use rampart_core::Provider;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "violet-trombone-gravel-71";
const CLIENTS: usize = 8;
const GROUPS: usize = 20;
const MEMBERS: usize = 50;
const SPAN: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;

// The allocator `rampart` runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn users() -> usize {
    std::env::var("SCIM_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= GROUPS * MEMBERS)
        .unwrap_or(10_000)
}

fn client() -> Client {
    Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .build()
        .unwrap()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Requests per second of [`CLIENTS`] workers each getting `path(i)` in a loop for
/// [`SPAN`], every answer checked to be 200.
async fn rate(
    base: &str,
    token: &str,
    path: impl Fn(usize) -> String + Clone + Send + 'static,
) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let (client, base, token, path) =
            (client(), base.to_owned(), token.to_owned(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while started.elapsed() < SPAN {
                let r = client
                    .get(format!("{base}/scim/v2{}", path(worker * 7919 + done)))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                r.bytes().await.unwrap();
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn post(client: &Client, url: String, token: &str, body: Value) -> Value {
    let r = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[tokio::main]
async fn main() {
    let users = users();
    let (server, _dir, base) = node::start(true).await;
    node::add_user(&server, "admin", Provider::It, true, PASSWORD).await;
    let c = client();
    let login: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": PASSWORD, "provider": "it" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = login["token"].as_str().unwrap().to_owned();
    let secret = server.state.config.data_dir.join("corp-bind");
    std::fs::write(&secret, "unused").unwrap();
    let settings = json!({
        "url": "ldap://127.0.0.1:9", "security": "none",
        "bind_dn": "cn=svc,dc=example,dc=org",
        "bind_password": format!("file:{}", secret.display()),
        "user_base": "ou=people,dc=example,dc=org", "user_filter": "(uid={username})",
    });
    let made = c
        .post(format!("{base}/api/v1/providers"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "corp", "kind": "ldap", "users": "end", "settings": settings }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let issued: Value = c
        .post(format!("{base}/api/v1/providers/corp/scim-token"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();

    // The directory, pushed in bulk requests of 1,000 operations.
    let loaded = Instant::now();
    let mut ids = Vec::with_capacity(users);
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({
                    "method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("user{i:06}@corp.example"),
                        "externalId": format!("ext-{i}"),
                        "displayName": format!("User {i}"),
                        "emails": [{ "value": format!("user{i:06}@corp.example"), "primary": true }],
                    },
                })
            })
            .collect();
        let answer = post(
            &c,
            format!("{base}/scim/v2/Bulk"),
            &token,
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops }),
        )
        .await;
        for op in answer["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            ids.push(location.rsplit('/').next().unwrap().to_owned());
        }
    }
    for g in 0..GROUPS {
        // Group g holds users g·50 … g·50+49; user 0 is in groups 0 and 1 as well.
        let mut members: Vec<Value> = (g * MEMBERS..(g + 1) * MEMBERS)
            .map(|i| json!({ "value": ids[i] }))
            .collect();
        if g == 1 {
            members.push(json!({ "value": ids[0] }));
        }
        post(
            &c,
            format!("{base}/scim/v2/Groups"),
            &token,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("Team {g:02}"), "externalId": format!("team-{g}"),
                "members": members,
            }),
        )
        .await;
    }
    println!(
        "{users} users and {GROUPS} groups of {MEMBERS} pushed in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    let user_filter = move |i: usize| format!("userName eq \"user{:06}@corp.example\"", i % users);
    let group_filter = |i: usize| format!("displayName eq \"team {:02}\"", i % GROUPS);
    let slow = |f: String| format!("({f}) or ({f})");
    let first = ids[0].clone();
    let mut figures: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("Users?filter=userName eq", Vec::new(), Vec::new()),
        ("Groups?filter=displayName eq", Vec::new(), Vec::new()),
        ("Users/{id} (two groups)", Vec::new(), Vec::new()),
        ("Users?startIndex=…&count=100", Vec::new(), Vec::new()),
    ];
    let start = move |i: usize| (i * 100) % users + 1;
    for _ in 0..ROUNDS {
        figures[0].1.push(
            rate(&base, &token, move |i| {
                format!("/Users?filter={}", encode(&user_filter(i)))
            })
            .await,
        );
        figures[0].2.push(
            rate(&base, &token, move |i| {
                format!("/Users?filter={}", encode(&slow(user_filter(i))))
            })
            .await,
        );
        figures[1].1.push(
            rate(&base, &token, move |i| {
                format!("/Groups?filter={}", encode(&group_filter(i)))
            })
            .await,
        );
        figures[1].2.push(
            rate(&base, &token, move |i| {
                format!("/Groups?filter={}", encode(&slow(group_filter(i))))
            })
            .await,
        );
        let user = first.clone();
        figures[2]
            .1
            .push(rate(&base, &token, move |_| format!("/Users/{user}")).await);
        figures[2]
            .2
            .push(rate(&base, &token, |_| "/ServiceProviderConfig".to_owned()).await);
        figures[3].1.push(
            rate(&base, &token, move |i| {
                format!("/Users?startIndex={}&count=100", start(i))
            })
            .await,
        );
        figures[3].2.push(
            rate(&base, &token, move |i| {
                format!("/Users?filter=id%20pr&startIndex={}&count=100", start(i))
            })
            .await,
        );
    }
    println!(
        "{CLIENTS} connections, medians of {ROUNDS} rounds of {} s:",
        SPAN.as_secs()
    );
    for (what, fast, base) in figures {
        let (f, b) = (node::median(fast), node::median(base));
        println!("  {what}: {f:.0}/s; baseline {b:.0}/s; ratio {:.1}", f / b);
    }
    println!("resident memory: {:.1} MiB", node::rss_mib());
}
