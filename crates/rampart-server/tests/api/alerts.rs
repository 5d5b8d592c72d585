//! Intrusion detection end to end, on SQLite and PostgreSQL: attacks on sign-in, an
//! administrator outside the allowed networks, scraping and a deployment outside the
//! allowed hours each raise an `alert.*` audit event, count in the metrics and reach a real
//! webhook receiver on loopback, signed with HMAC-SHA-256 over the timestamp and the body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use rampart_core::{Clock, Provider};
use rampart_service::Config;
use rampart_store::{BackendKind, StoredEvent};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::kit::{self, Node};

pub(crate) const SECRET_VAR: &str = "ALERTS_TEST_WEBHOOK_SECRET";
pub(crate) const SECRET: &str = "a-webhook-secret-only-the-receiver-knows";

/// A webhook receiver: every POST it got, headers and body.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receiver() -> Receiver {
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, got }
}

impl Receiver {
    /// The alerts received, once `n` have arrived (or after 15 s, whatever came).
    async fn alerts(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..150 {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.got.lock().unwrap().clone()
    }
}

/// The node's `alert.*` events, once `n` have been recorded (or after 15 s).
pub(crate) async fn alert_events(node: &Node, n: usize) -> Vec<StoredEvent> {
    let mut found = Vec::new();
    for _ in 0..150 {
        found = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action.starts_with("alert."))
            .collect();
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

fn subjects(events: &[StoredEvent]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.action.clone(), e.target.clone().unwrap_or_default()))
        .collect();
    v.sort();
    v
}

/// Checks a signature header the way a receiver would, with its own HMAC.
pub(crate) fn verify(header: &str, body: &[u8]) -> Result<i64, String> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = Some(x.to_owned()),
            _ => {}
        }
    }
    let (t, v1) = (t.ok_or("no t")?, v1.ok_or("no v1")?);
    let tag: Vec<u8> = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&tag)
        .map_err(|_| "signature mismatch".to_owned())?;
    Ok(t)
}

pub(crate) fn watched(config: &mut Config, url: &str) {
    let a = &mut config.alerts;
    a.brute_force_count = 3;
    a.credential_stuffing_accounts = 3;
    a.password_spraying_accounts = 1000;
    a.denial_burst_count = 5;
    a.admin_networks = "10.0.0.0/8".into();
    a.production_environments = "development".into();
    // The test clock is a Monday morning.
    a.deploy_hours = "Sat-Sun 00:00-24:00".into();
    a.webhook_url = url.to_owned();
    a.webhook_secret = format!("env:{SECRET_VAR}");
    config.trusted_proxies = "127.0.0.1".into();
}

pub(crate) async fn login_from(node: &Node, user: &str, password: &str, from: &str) -> StatusCode {
    node.client
        .post(format!("{}/api/v1/auth/login", node.base))
        .header("x-forwarded-for", from)
        .json(&json!({ "provider": "it", "username": user, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn sign_in_attacks_are_recorded_counted_and_sent_signed() {
    std::env::set_var(SECRET_VAR, SECRET);
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let hook = receiver().await;
        let url = hook.url.clone();
        let node = kit::start(kind, move |c| watched(c, &url)).await;
        let name = node.name();
        // An administrator signing in from loopback, outside 10.0.0.0/8.
        node.admin().await;
        node.create_user(Provider::It, "bob", kit::USER_PASSWORD, false)
            .await;
        // Three wrong passwords on one account, from the proxy itself.
        for _ in 0..3 {
            assert_eq!(
                login_from(&node, "bob", "wrong-password-1", "127.0.0.1").await,
                StatusCode::UNAUTHORIZED
            );
        }
        // Three accounts tried from one address behind the trusted proxy.
        for user in ["carol", "dave", "erin"] {
            login_from(&node, user, "wrong-password-2", "198.51.100.4, 203.0.113.9").await;
        }
        let events = alert_events(&node, 3).await;
        assert_eq!(
            subjects(&events),
            vec![
                ("alert.admin_outside_networks".into(), "it:admin".into()),
                ("alert.brute_force".into(), "it:bob".into()),
                ("alert.credential_stuffing".into(), "203.0.113.9".into()),
            ],
            "{name}"
        );
        let stuffing = events
            .iter()
            .find(|e| e.action == "alert.credential_stuffing")
            .unwrap();
        let details: Value = serde_json::from_str(&stuffing.details).unwrap();
        assert_eq!(details["severity"], "high", "{name}");
        assert_eq!(details["evidence"]["accounts"], 3, "{name}");
        // The failed sign-ins themselves carry the address the proxy forwarded.
        let sources: Vec<Option<String>> = node
            .events()
            .await
            .iter()
            .filter(|e| e.action == "auth.login" && e.outcome == "failure")
            .map(|e| e.source.clone())
            .collect();
        assert_eq!(sources.len(), 6, "{name}");
        assert_eq!(
            sources
                .iter()
                .filter(|s| s.as_deref() == Some("203.0.113.9"))
                .count(),
            3,
            "{name}: {sources:?}"
        );
        // Counted.
        let metrics = node.server().state.metrics.render();
        assert!(
            metrics.contains("rampart_alerts_total{kind=\"brute_force\"} 1"),
            "{name}: {metrics}"
        );
        // Sent, signed over the timestamp and the body; an altered body does not verify.
        let got = hook.alerts(3).await;
        let mut kinds: Vec<String> = got
            .iter()
            .map(|(headers, body)| {
                let signature = headers["rampart-signature"].to_str().unwrap();
                let t = verify(signature, body).unwrap();
                assert_eq!(t, node.clock.now().unix_timestamp(), "{name}");
                let mut altered = body.to_vec();
                altered[1] ^= 1;
                assert!(verify(signature, &altered).is_err(), "{name}");
                let alert: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(alert["node"], "test-node", "{name}");
                alert["kind"].as_str().unwrap().to_owned()
            })
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                "admin_outside_networks",
                "brute_force",
                "credential_stuffing"
            ],
            "{name}"
        );
        // The same attack going on within the window raises nothing new.
        login_from(&node, "bob", "wrong-password-3", "127.0.0.1").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(alert_events(&node, 4).await.len(), 3, "{name}");
        node.shutdown().await;
    }
}

#[tokio::test]
async fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
    let node = kit::start(BackendKind::Sqlite, |c| {
        c.alerts.credential_stuffing_accounts = 3;
    })
    .await;
    for user in ["carol", "dave", "erin"] {
        login_from(&node, user, "wrong-password-2", "203.0.113.9").await;
    }
    let events = alert_events(&node, 1).await;
    assert_eq!(
        subjects(&events),
        vec![("alert.credential_stuffing".into(), "127.0.0.1".into())]
    );
    let sources: Vec<Option<String>> = node
        .events()
        .await
        .iter()
        .filter(|e| e.action == "auth.login")
        .map(|e| e.source.clone())
        .collect();
    assert!(
        sources.iter().all(|s| s.as_deref() == Some("127.0.0.1")),
        "{sources:?}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn scraping_and_a_deployment_outside_hours_raise_alerts() {
    std::env::set_var(SECRET_VAR, SECRET);
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let hook = receiver().await;
        let url = hook.url.clone();
        let soc = format!("soc-{}@rampart.test", kind.as_str());
        let to = soc.clone();
        let node = kit::start(kind, move |c| {
            watched(c, &url);
            c.alerts.admin_networks = String::new();
            crate::support::with_smtp(c);
            c.alerts.email_to = to;
        })
        .await;
        let name = node.name();
        // Deploys `crm` to development, watched as production here, on a Monday.
        let people = crate::apps::setup(&node).await;
        // Someone without a role reads the data API again and again.
        let norole = &people.tokens[5];
        for _ in 0..5 {
            let r = node
                .request(Method::GET, crate::apps::BASE, Some(norole), None)
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        }
        let events = alert_events(&node, 2).await;
        assert_eq!(
            subjects(&events),
            vec![
                ("alert.denial_burst".into(), "end:norole".into()),
                ("alert.deploy_outside_hours".into(), "development".into()),
            ],
            "{name}"
        );
        let deploy = events
            .iter()
            .find(|e| e.action == "alert.deploy_outside_hours")
            .unwrap();
        let details: Value = serde_json::from_str(&deploy.details).unwrap();
        assert_eq!(details["evidence"]["actor"], "it:admin", "{name}");
        assert_eq!(details["evidence"]["weekday"], "Monday", "{name}");
        assert_eq!(hook.alerts(2).await.len(), 2, "{name}");
        // And by e-mail, through the real SMTP server.
        let mut mail = Vec::new();
        for _ in 0..150 {
            mail = crate::support::mail_to(&soc);
            if mail.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut subjects: Vec<String> = mail
            .iter()
            .filter_map(|(head, _)| {
                head.lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .map(str::to_owned)
            })
            .collect();
        subjects.sort();
        assert_eq!(
            subjects,
            [
                "Rampart alert: denial_burst (end:norole)",
                "Rampart alert: deploy_outside_hours (development)"
            ],
            "{name}"
        );
        assert!(
            mail.iter()
                .any(|(_, body)| body.contains("\"allowed_hours\": \"Sat-Sun 00:00-24:00\"")),
            "{name}: {mail:?}"
        );
        node.shutdown().await;
    }
}

/// Waits until `node` leads the cluster (or 15 s).
pub(crate) async fn leads(node: &Node) -> bool {
    for _ in 0..150 {
        if node.server().state.leadership.is_leader() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn two_nodes_raise_an_alert_once_and_the_survivor_takes_over() {
    let tweak = |c: &mut Config| c.alerts.brute_force_count = 3;
    let first = kit::start(BackendKind::Postgres, tweak).await;
    assert!(leads(&first).await, "the first node leads");
    let second = kit::start_on(BackendKind::Postgres, first.database_url(), tweak).await;
    first
        .create_user(Provider::It, "bob", kit::USER_PASSWORD, false)
        .await;
    // A brute force through the node that does not lead: raised once, by the leader.
    for _ in 0..3 {
        login_from(&second, "bob", "wrong-password-1", "127.0.0.1").await;
    }
    let events = alert_events(&first, 1).await;
    assert_eq!(
        subjects(&events),
        vec![("alert.brute_force".into(), "it:bob".into())]
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(alert_events(&first, 2).await.len(), 1, "one node raised it");
    assert!(!second.server().state.leadership.is_leader());
    // The leader stops: the other takes over and raises the next one.
    first.shutdown().await;
    assert!(leads(&second).await, "the survivor leads");
    second
        .create_user(Provider::It, "carol", kit::USER_PASSWORD, false)
        .await;
    for _ in 0..3 {
        login_from(&second, "carol", "wrong-password-1", "127.0.0.1").await;
    }
    let events = alert_events(&second, 2).await;
    assert_eq!(
        subjects(&events),
        vec![
            ("alert.brute_force".into(), "it:bob".into()),
            ("alert.brute_force".into(), "it:carol".into()),
        ]
    );
    let metrics = second.server().state.metrics.render();
    assert!(metrics.contains("rampart_cluster_leader 1"), "{metrics}");
    second.shutdown().await;
}

/// `[rate_limits]`: a client address over its route class's rate gets 429 problem+json with
/// `Retry-After` before any handler runs; another address, another class and the exempt
/// routes are not affected; each refusal is counted.
#[tokio::test]
async fn rate_limits_refuse_an_address_over_its_class_rate_before_any_handler() {
    let node = kit::start(BackendKind::Sqlite, |c| {
        c.rate_limits.api = "3/min burst 3".into();
        c.rate_limits.sign_in = "2/min burst 2".into();
        c.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let me = |from: &'static str| {
        node.client
            .get(format!("{}/api/v1/auth/me", node.base))
            .header("x-forwarded-for", from)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(me("198.51.100.1").await.unwrap().status(), 401);
    }
    let refused = me("198.51.100.1").await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["type"] == "urn:rampart:problem:rate-limited",
        "{problem}"
    );
    // Another address has its own allowance; the exempt routes answer whatever the rate.
    assert_eq!(me("198.51.100.2").await.unwrap().status(), 401);
    for _ in 0..5 {
        let health = node
            .client
            .get(format!("{}/healthz", node.base))
            .header("x-forwarded-for", "198.51.100.1")
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
    // Sign-in is a class of its own: two attempts reach the handler, the third does not
    // (no `auth.login` event for it).
    for expected in [401, 401, 429] {
        let status = login_from(&node, "mallory", "wrong-password-1", "198.51.100.1").await;
        assert_eq!(status.as_u16(), expected);
    }
    let attempts = node
        .events()
        .await
        .iter()
        .filter(|e| e.action == "auth.login")
        .count();
    assert_eq!(attempts, 2, "a refused request never reached the handler");
    let metrics = node.server().state.metrics.render();
    assert!(
        metrics.contains("rampart_rate_limited_total{class=\"api\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_rate_limited_total{class=\"sign_in\"} 1"));
    node.shutdown().await;
}
