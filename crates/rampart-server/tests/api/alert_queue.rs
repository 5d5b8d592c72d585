//! The alert outbox for operators (`/api/v1/alerts/deliveries`), on SQLite and PostgreSQL,
//! against a real webhook receiver on loopback: a delivery the receiver refuses is listed
//! waiting with its attempts and reason, gives up, is listed failed, is delivered again by
//! an administrator with the same delivery key once the receiver works; bad requests are
//! refused with nothing changed; a request while an attempt is in flight is refused, and a
//! claim left by a dead node holds requests off until its lease runs out, then is taken
//! over; who may read and who may ask again.

use rampart_core::Provider;
use rampart_service::alerts::deliver::CLAIM;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::alert_delivery::{
    brute_force, config, counted, deliveries, is_notification_of, outbox, Hook, PAST_THE_WAIT,
};
use crate::alerts::{SECRET, SECRET_VAR};
use crate::kit::{self, problem, problem_type, Node, USER_PASSWORD};

const LIST: &str = "/api/v1/alerts/deliveries";
const FAILED: &str = "/api/v1/alerts/deliveries?state=failed";
const RETRY: &str = "/api/v1/alerts/deliveries/retry";

/// The items of a listing read by `token`, which must succeed.
async fn listed(node: &Node, path: &str, token: &str) -> Vec<Value> {
    let (status, body) = node.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{}: {path}: {body}", node.name());
    assert!(!body.to_string().contains(SECRET), "{body}");
    body["items"].as_array().unwrap().clone()
}

/// The `alert.delivery_requeued` events, as (actor, details).
async fn requeued(node: &Node) -> Vec<(Option<String>, Value)> {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "alert.delivery_requeued")
        .map(|e| {
            assert_eq!(e.target.as_deref(), Some("webhook"));
            (e.actor_name, serde_json::from_str(&e.details).unwrap())
        })
        .collect()
}

/// A problem answer to `body` posted to the retry route by `token`: its status, type and
/// field.
async fn refused(node: &Node, token: &str, body: Value) -> (StatusCode, String, Value) {
    let response = node
        .request(Method::POST, RETRY, Some(token), Some(body))
        .await;
    let (status, _, problem) = problem(response).await;
    (status, problem_type(&problem).to_owned(), problem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_delivers_again_what_gave_up_and_the_queue_empties() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::refusing(0).await;
    let url = hook.url.clone();
    kit::on_both(
        move |c| config(c, &url, 2),
        |node| {
            let hook = &hook;
            async move {
                let name = node.name();
                let admin = node.admin().await;
                let audrey = crate::audit::auditor(&node, &admin).await;
                hook.reset(usize::MAX);
                // The receiver holds the first attempt unanswered: it is under way.
                hook.answering(false);
                let seq = brute_force(&node, "bob").await;
                assert_eq!(hook.arrived(1).await, 1, "{name}");
                let items = listed(&node, LIST, &audrey).await;
                assert_eq!(items.len(), 1, "{name}: {items:?}");
                let d = &items[0];
                assert_eq!(d["alert"], seq, "{name}: {d}");
                assert_eq!(d["kind"], "brute_force", "{name}: {d}");
                assert_eq!(d["subject"], "it:bob", "{name}: {d}");
                assert_eq!(d["sink"], "webhook", "{name}: {d}");
                assert_eq!(d["state"], "pending", "{name}: {d}");
                assert_eq!(d["attempts"], 1, "{name}: {d}");
                assert!(d["last_error"].is_null(), "{name}: {d}");
                assert!(d["raised_at"].is_string() && d["next_attempt_at"].is_string());

                assert!(d["in_flight_until"].is_string(), "{name}: {d}");

                // Asked again while the attempt is under way: refused, with nothing changed
                // or recorded; the receiver has that one request only.
                let again = json!({ "alert": seq, "sink": "webhook" });
                let before = outbox(&node).await;
                let (status, kind, answer) = refused(&node, &admin, again.clone()).await;
                assert_eq!(
                    (status, kind.as_str()),
                    (StatusCode::CONFLICT, "conflict"),
                    "{name}: {answer}"
                );
                assert!(
                    answer["detail"]
                        .as_str()
                        .unwrap()
                        .contains("an attempt is in flight; try again after it ends"),
                    "{answer}"
                );
                assert_eq!(outbox(&node).await, before, "{name}");
                assert!(requeued(&node).await.is_empty(), "{name}");
                assert_eq!(hook.arrived(1).await, 1, "{name}");

                // The receiver answers 503: the attempt is recorded with its reason and
                // the next is planned after a wait. That request was the only one.
                hook.answering(true);
                counted(&node, "retried", 1).await;
                assert_eq!(hook.received(1).await.len(), 1, "{name}");
                let items = listed(&node, LIST, &audrey).await;
                assert_eq!(items[0]["attempts"], 1, "{name}: {items:?}");
                assert!(items[0]["in_flight_until"].is_null(), "{name}: {items:?}");
                assert_eq!(
                    items[0]["last_error"], "the webhook answered 503 Service Unavailable",
                    "{name}"
                );
                assert!(listed(&node, FAILED, &audrey).await.is_empty(), "{name}");

                // Asked again, the second and last attempt is made now, and gives up.
                let (status, body) = node.post(RETRY, &admin, again.clone()).await;
                assert_eq!(status, StatusCode::OK, "{name}: {body}");
                assert_eq!(body["was"], "waiting", "{name}: {body}");
                counted(&node, "failed", 1).await;
                assert!(listed(&node, LIST, &audrey).await.is_empty(), "{name}");
                let failed = listed(&node, FAILED, &audrey).await;
                assert_eq!(failed.len(), 1, "{name}: {failed:?}");
                let f = &failed[0];
                assert_eq!(f["alert"], seq, "{name}: {f}");
                assert_eq!(f["state"], "failed", "{name}: {f}");
                assert_eq!(f["kind"], "brute_force", "{name}: {f}");
                assert_eq!(f["attempts"], 2, "{name}: {f}");
                assert_eq!(
                    f["last_error"], "the webhook answered 503 Service Unavailable",
                    "{name}"
                );
                assert!(
                    f["failed_at"].is_string() && f["requeued_at"].is_null(),
                    "{f}"
                );
                let failure_event = f["failure_event"].as_i64().unwrap();

                // Bad requests are refused, and change nothing.
                for (body, status, kind, field) in [
                    (
                        json!({ "alert": 999_999, "sink": "webhook" }),
                        StatusCode::NOT_FOUND,
                        "not-found",
                        None,
                    ),
                    (
                        json!({ "alert": failure_event, "sink": "webhook" }),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-input",
                        Some("alert"),
                    ),
                    (
                        json!({ "alert": 0, "sink": "webhook" }),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-input",
                        Some("alert"),
                    ),
                    (
                        json!({ "alert": seq, "sink": "sms" }),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-input",
                        Some("sink"),
                    ),
                    (
                        json!({ "alert": seq, "sink": "email" }),
                        StatusCode::CONFLICT,
                        "conflict",
                        None,
                    ),
                    (
                        json!({ "alert": seq, "sink": "webhook", "now": true }),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-input",
                        Some("body"),
                    ),
                    (
                        json!({ "alert": "x", "sink": "webhook" }),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-input",
                        Some("body"),
                    ),
                ] {
                    let (got, got_kind, answer) = refused(&node, &admin, body.clone()).await;
                    assert_eq!(
                        (got, got_kind.as_str()),
                        (status, kind),
                        "{name}: {body}: {answer}"
                    );
                    assert_eq!(answer["field"].as_str(), field, "{name}: {body}: {answer}");
                }
                assert!(outbox(&node).await.is_empty(), "{name}");
                assert_eq!(requeued(&node).await.len(), 1, "{name}");
                for query in [
                    "?state=sent",
                    "?limit=0",
                    "?limit=501",
                    "?cursor=x",
                    "?state=failed&cursor=x",
                    "?cursor=1.sms",
                    "?other=1",
                ] {
                    let response = node
                        .request(Method::GET, &format!("{LIST}{query}"), Some(&audrey), None)
                        .await;
                    let (status, _, problem) = problem(response).await;
                    assert!(status.is_client_error(), "{name}: {query}: {problem}");
                }

                // The receiver works again; the administrator asks for the delivery again:
                // queued afresh, delivered with the same key, and the outbox is empty.
                hook.reset(0);
                let (status, body) = node.post(RETRY, &admin, again.clone()).await;
                assert_eq!(status, StatusCode::OK, "{name}: {body}");
                assert_eq!(body["was"], "not-queued", "{name}: {body}");
                assert_eq!(body["delivery"]["attempts"], 0, "{name}: {body}");
                counted(&node, "delivered", 1).await;
                let got = hook.received(1).await;
                assert_eq!(got.len(), 1, "{name}");
                assert_eq!(got[0].2, StatusCode::NO_CONTENT, "{name}");
                is_notification_of(&got[0], seq);
                assert!(outbox(&node).await.is_empty(), "{name}");
                assert!(listed(&node, LIST, &audrey).await.is_empty(), "{name}");
                let failed = listed(&node, FAILED, &audrey).await;
                assert_eq!(failed[0]["requeued_by"], "it:admin", "{name}: {failed:?}");
                assert!(failed[0]["requeued_at"].is_string(), "{name}: {failed:?}");

                // Each request is in the audit log with who asked and what it found.
                let events = requeued(&node).await;
                let seen: Vec<(Option<&str>, &Value, &Value)> = events
                    .iter()
                    .map(|(actor, d)| (actor.as_deref(), &d["alert"], &d["was"]))
                    .collect();
                let (seq_v, waiting, fresh) = (json!(seq), json!("waiting"), json!("not-queued"));
                assert_eq!(
                    seen,
                    [
                        (Some("it:admin"), &seq_v, &waiting),
                        (Some("it:admin"), &seq_v, &fresh),
                    ],
                    "{name}"
                );
                assert_eq!(deliveries(&node, "failed"), 1, "{name}");
                node.shutdown().await;
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_and_auditors_read_the_outbox_and_only_administrators_act_on_it() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::refusing(0).await;
    let url = hook.url.clone();
    kit::on_both(
        move |c| config(c, &url, 2),
        |node| async move {
            let name = node.name();
            let admin = node.admin().await;
            let audrey = crate::audit::auditor(&node, &admin).await;
            node.create_user(Provider::It, "ivan", USER_PASSWORD, false)
                .await;
            let ivan = node.login("it", "ivan", USER_PASSWORD).await;
            node.create_user(Provider::End, "erin", USER_PASSWORD, false)
                .await;
            let erin = node.login("end", "erin", USER_PASSWORD).await;
            // A body the administrator's request gets past the rule with, to be refused for
            // itself: nothing is queued by this table.
            let body = json!({ "alert": 1, "sink": "sms" });
            let callers = [
                (
                    "an administrator",
                    Some(admin.as_str()),
                    StatusCode::OK,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                (
                    "an auditor",
                    Some(audrey.as_str()),
                    StatusCode::OK,
                    StatusCode::FORBIDDEN,
                ),
                (
                    "an IT user",
                    Some(ivan.as_str()),
                    StatusCode::FORBIDDEN,
                    StatusCode::FORBIDDEN,
                ),
                (
                    "an end user",
                    Some(erin.as_str()),
                    StatusCode::FORBIDDEN,
                    StatusCode::FORBIDDEN,
                ),
                (
                    "anyone",
                    None,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::UNAUTHORIZED,
                ),
            ];
            for (who, token, read, retry) in callers {
                for path in [LIST, FAILED] {
                    let response = node.request(Method::GET, path, token, None).await;
                    assert_eq!(response.status(), read, "{name}: {who} reads {path}");
                }
                let response = node
                    .request(Method::POST, RETRY, token, Some(body.clone()))
                    .await;
                assert_eq!(response.status(), retry, "{name}: {who} asks again");
            }
            let actions: Vec<String> = node.events().await.into_iter().map(|e| e.action).collect();
            assert!(
                !actions.iter().any(|a| a == "alert.delivery_requeued"),
                "{name}: {actions:?}"
            );
            node.shutdown().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_left_by_a_dead_node_holds_requests_off_until_its_lease_then_is_taken_over() {
    std::env::set_var(SECRET_VAR, SECRET);
    let hook = Hook::refusing(0).await;
    let url = hook.url.clone();
    kit::on_both(
        move |c| config(c, &url, 5),
        |node| {
            let hook = &hook;
            async move {
                let name = node.name();
                let admin = node.admin().await;
                hook.reset(1);
                let seq = brute_force(&node, "bob").await;
                counted(&node, "retried", 1).await;
                // A node that died during the next attempt left its claim, written through
                // the store as that node wrote it.
                let row = outbox(&node).await.remove(0);
                let store = &node.server().state.store;
                let lease = row.next_at + CLAIM;
                assert!(
                    store
                        .alert_delivery_claim(&row, "dead-node/attempt", row.next_at, lease)
                        .await
                        .unwrap(),
                    "{name}"
                );
                // While its lease runs, asking again is refused and changes nothing.
                let before = outbox(&node).await;
                let again = json!({ "alert": seq, "sink": "webhook" });
                let (status, kind, answer) = refused(&node, &admin, again).await;
                assert_eq!(
                    (status, kind.as_str()),
                    (StatusCode::CONFLICT, "conflict"),
                    "{name}: {answer}"
                );
                assert!(
                    answer["detail"].as_str().unwrap().contains("in flight"),
                    "{answer}"
                );
                assert_eq!(outbox(&node).await, before, "{name}");
                assert!(requeued(&node).await.is_empty(), "{name}");
                let items = listed(&node, LIST, &admin).await;
                assert_eq!(items[0]["attempts"], 2, "{name}: {items:?}");
                assert!(items[0]["in_flight_until"].is_string(), "{name}: {items:?}");
                // The lease runs out: the delivering node takes the claim over and delivers.
                node.clock.advance(CLAIM + PAST_THE_WAIT);
                counted(&node, "delivered", 1).await;
                let got = hook.received(2).await;
                let answers: Vec<StatusCode> = got.iter().map(|(_, _, s)| *s).collect();
                assert_eq!(
                    answers,
                    [StatusCode::SERVICE_UNAVAILABLE, StatusCode::NO_CONTENT],
                    "{name}"
                );
                for request in &got {
                    is_notification_of(request, seq);
                }
                assert!(outbox(&node).await.is_empty(), "{name}");
                node.shutdown().await;
            }
        },
    )
    .await;
}
