//! Alert delivery is at least once, on SQLite and PostgreSQL: a webhook receiver on loopback
//! that refuses, is down or never accepts. The node's clock is moved past each wait, so the
//! tests wait for what the node did (its metrics, its outbox), never for time to pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use rampart_core::Provider;
use rampart_service::Config;
use rampart_store::BackendKind;
use reqwest::StatusCode;
use serde_json::Value;

use crate::alerts::{alert_events, login_from, verify, watched, SECRET, SECRET_VAR};
use crate::kit::{self, Node};

/// What the receiver got: the headers, the body and what it answered.
type Got = Arc<Mutex<Vec<(HeaderMap, Bytes, StatusCode)>>>;

/// A webhook receiver on a port of its own that can be down, refuse a number of requests
/// with 503, or accept; and hold requests unanswered until told to answer.
pub(crate) struct Hook {
    pub(crate) url: String,
    port: u16,
    got: Got,
    /// Requests still to be refused.
    refuse: Arc<AtomicUsize>,
    /// Whether requests are answered (true) or held until they are.
    answer: tokio::sync::watch::Sender<bool>,
    /// Requests that arrived, answered or not.
    arrived: Arc<AtomicUsize>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Hook {
    /// A receiver that is down (nothing listens on its port) until [`Hook::up`].
    async fn down() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Hook {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            got: Got::default(),
            refuse: Arc::default(),
            answer: tokio::sync::watch::channel(true).0,
            arrived: Arc::default(),
            server: Mutex::new(None),
        }
    }

    /// A receiver that is up and refuses the next `refuse` requests.
    pub(crate) async fn refusing(refuse: usize) -> Hook {
        let hook = Hook::down().await;
        hook.reset(refuse);
        hook.up().await;
        hook
    }

    /// Forgets what was received; answers, refusing the next `refuse` requests.
    pub(crate) fn reset(&self, refuse: usize) {
        self.got.lock().unwrap().clear();
        self.arrived.store(0, Ordering::SeqCst);
        self.refuse.store(refuse, Ordering::SeqCst);
        self.answer.send_replace(true);
    }

    async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let (got, refuse) = (self.got.clone(), self.refuse.clone());
        let (answer, arrived) = (self.answer.subscribe(), self.arrived.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (got, refuse) = (got.clone(), refuse.clone());
                let (mut answer, arrived) = (answer.clone(), arrived.clone());
                async move {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let _ = answer.wait_for(|yes| *yes).await;
                    let refused = refuse
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if refused {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::NO_CONTENT
                    };
                    got.lock().unwrap().push((headers, body, status));
                    status
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.server.lock().unwrap() = Some(task);
    }

    /// Stops listening.
    async fn stop(&self) {
        let task = self.server.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Holds the requests that arrive from now on unanswered (`false`), or answers them
    /// and those held (`true`).
    pub(crate) fn answering(&self, yes: bool) {
        self.answer.send_replace(yes);
    }

    /// Waits until `n` requests have arrived, answered or held (or 15 s), and says how many.
    pub(crate) async fn arrived(&self, n: usize) -> usize {
        for _ in 0..150 {
            if self.arrived.load(Ordering::SeqCst) >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.arrived.load(Ordering::SeqCst)
    }

    /// What was received, once `n` requests have arrived (or after 15 s, whatever came).
    pub(crate) async fn received(&self, n: usize) -> Vec<(HeaderMap, Bytes, StatusCode)> {
        for _ in 0..150 {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.got.lock().unwrap().clone()
    }
}

/// The node's count of delivery attempts to the webhook with `outcome`.
pub(crate) fn deliveries(node: &Node, outcome: &str) -> u64 {
    let wanted =
        format!("rampart_alert_deliveries_total{{sink=\"webhook\",outcome=\"{outcome}\"}} ");
    node.server()
        .state
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&wanted))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Waits until the node has counted `n` attempts with `outcome` (or 15 s), then checks it
/// counted exactly that many. An attempt is counted once its outcome is in the outbox.
pub(crate) async fn counted(node: &Node, outcome: &str, n: u64) {
    for _ in 0..150 {
        if deliveries(node, outcome) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deliveries(node, outcome), n, "{}: {outcome}", node.name());
}

/// The notifications still waiting in the outbox.
pub(crate) async fn outbox(node: &Node) -> Vec<rampart_store::PendingDelivery> {
    node.server()
        .state
        .store
        .alert_deliveries(None, 100)
        .await
        .unwrap()
}

/// Three wrong passwords on `user`'s account: one `brute_force` alert; its sequence number.
pub(crate) async fn brute_force(node: &Node, user: &str) -> i64 {
    node.create_user(Provider::It, user, kit::USER_PASSWORD, false)
        .await;
    for _ in 0..3 {
        login_from(node, user, "wrong-password-1", "127.0.0.1").await;
    }
    let target = format!("it:{user}");
    let events = alert_events(node, 1).await;
    let alert = events
        .iter()
        .find(|e| e.target.as_deref() == Some(target.as_str()))
        .unwrap_or_else(|| panic!("{}: no alert about {target}: {events:?}", node.name()));
    assert_eq!(alert.action, "alert.brute_force");
    alert.seq
}

/// Checks that a request is a genuine notification of alert `seq`.
pub(crate) fn is_notification_of(request: &(HeaderMap, Bytes, StatusCode), seq: i64) {
    let (headers, body, _) = request;
    assert_eq!(
        headers["rampart-delivery"].to_str().unwrap(),
        seq.to_string()
    );
    verify(headers["rampart-signature"].to_str().unwrap(), body).unwrap();
    let alert: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(alert["delivery"], seq, "{alert}");
    assert_eq!(alert["kind"], "brute_force", "{alert}");
}

pub(crate) fn config(c: &mut Config, url: &str, attempts: u32) {
    watched(c, url);
    c.alerts.admin_networks = String::new();
    c.alerts.delivery_attempts = attempts;
    c.alerts.delivery_backoff_seconds = 1;
    c.alerts.delivery_backoff_max_seconds = 4;
}

/// Longer than any wait between attempts in these tests.
pub(crate) const PAST_THE_WAIT: time::Duration = time::Duration::seconds(5);

#[tokio::test]
async fn an_alert_the_webhook_refuses_is_tried_again_until_it_is_accepted_once() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::refusing(0).await;
    let url = hook.url.clone();
    kit::on_both(
        move |c| config(c, &url, 5),
        |node| {
            let hook = &hook;
            async move {
                let name = node.name();
                hook.reset(2);
                let seq = brute_force(&node, "bob").await;
                // Refused twice: each time it is planned again, and goes once the wait is over.
                for refused in 1..=2 {
                    counted(&node, "retried", refused).await;
                    assert_eq!(outbox(&node).await[0].attempts, refused as u32, "{name}");
                    node.clock.advance(PAST_THE_WAIT);
                }
                counted(&node, "delivered", 1).await;
                let got = hook.received(3).await;
                let answers: Vec<StatusCode> = got.iter().map(|(_, _, s)| *s).collect();
                assert_eq!(
                    answers,
                    [
                        StatusCode::SERVICE_UNAVAILABLE,
                        StatusCode::SERVICE_UNAVAILABLE,
                        StatusCode::NO_CONTENT
                    ],
                    "{name}"
                );
                // Every attempt is the same notification, with its key.
                for request in &got {
                    is_notification_of(request, seq);
                }
                // Accepted once: nothing is left to send, and nothing gave up.
                assert!(outbox(&node).await.is_empty(), "{name}");
                assert_eq!(deliveries(&node, "failed"), 0, "{name}");
                node.shutdown().await;
            }
        },
    )
    .await;
}

#[tokio::test]
async fn an_alert_raised_while_the_webhook_is_down_is_delivered_after_a_restart() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::down().await;
    let url = hook.url.clone();
    kit::on_both(
        move |c| config(c, &url, 10),
        |node| {
            let hook = &hook;
            async move {
                let name = node.name();
                hook.stop().await;
                hook.reset(0);
                let seq = brute_force(&node, "bob").await;
                counted(&node, "retried", 1).await;
                // The node stops with the alert undelivered and starts again; the receiver
                // is back.
                let node = node.restart().await;
                hook.up().await;
                node.clock.advance(PAST_THE_WAIT);
                counted(&node, "delivered", 1).await;
                let got = hook.received(1).await;
                assert_eq!(got.len(), 1, "{name}");
                is_notification_of(&got[0], seq);
                assert!(outbox(&node).await.is_empty(), "{name}");
                // The restarted node watches from the log's size at its start: the alert
                // was not raised again.
                let alerts = node
                    .events()
                    .await
                    .into_iter()
                    .filter(|e| e.action == "alert.brute_force")
                    .count();
                assert_eq!(alerts, 1, "{name}");
                node.shutdown().await;
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_second_node_delivers_what_the_leader_left_undelivered() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::down().await;
    let url = hook.url.clone();
    let first = kit::start(BackendKind::Postgres, |c| config(c, &url, 10)).await;
    assert!(crate::alerts::leads(&first).await, "the first node leads");
    let second = kit::start_on(BackendKind::Postgres, first.database_url(), |c| {
        config(c, &url, 10)
    })
    .await;
    let seq = brute_force(&first, "bob").await;
    counted(&first, "retried", 1).await;
    // The leader stops; the other takes over the outbox with the lease.
    first.shutdown().await;
    assert!(crate::alerts::leads(&second).await, "the survivor leads");
    hook.up().await;
    second.clock.advance(PAST_THE_WAIT);
    counted(&second, "delivered", 1).await;
    let got = hook.received(1).await;
    assert_eq!(got.len(), 1);
    is_notification_of(&got[0], seq);
    assert!(outbox(&second).await.is_empty());
    second.shutdown().await;
}

#[tokio::test]
async fn an_alert_no_attempt_delivers_is_recorded_as_a_delivery_failure() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::refusing(0).await;
    let url = hook.url.clone();
    kit::on_both(
        move |c| config(c, &url, 3),
        |node| {
            let hook = &hook;
            async move {
                let name = node.name();
                hook.reset(usize::MAX);
                let seq = brute_force(&node, "bob").await;
                for refused in 1..=2 {
                    counted(&node, "retried", refused).await;
                    node.clock.advance(PAST_THE_WAIT);
                }
                counted(&node, "failed", 1).await;
                // The third attempt was the last: delivery gave up, in the audit log.
                let failed: Vec<_> = node
                    .events()
                    .await
                    .into_iter()
                    .filter(|e| e.action == "alert.delivery_failed")
                    .collect();
                assert_eq!(failed.len(), 1, "{name}");
                let event = &failed[0];
                assert_eq!(event.outcome, "failure", "{name}");
                assert_eq!(event.target.as_deref(), Some("webhook"), "{name}");
                let details: Value = serde_json::from_str(&event.details).unwrap();
                assert_eq!(details["alert"], seq, "{name}");
                assert_eq!(details["sink"], "webhook", "{name}");
                assert_eq!(details["attempts"], 3, "{name}");
                assert_eq!(
                    details["reason"], "the webhook answered 503 Service Unavailable",
                    "{name}"
                );
                assert!(!event.details.contains(SECRET), "{name}");
                let got = hook.received(3).await;
                assert_eq!(got.len(), 3, "{name}");
                for request in &got {
                    is_notification_of(request, seq);
                }
                assert!(outbox(&node).await.is_empty(), "{name}");
                assert_eq!(deliveries(&node, "delivered"), 0, "{name}");
                node.shutdown().await;
            }
        },
    )
    .await;
}
