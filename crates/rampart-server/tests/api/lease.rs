//! Nodes sharing a PostgreSQL database decide from the marks their lease holds (see
//! `rampart_service::fence`): a change acknowledged through one node is refused by the next
//! request on another, a node whose lease ran out reads the database instead, and a node that
//! died holds a change up by one lease at most.

use std::time::{Duration, Instant};

use rampart_core::Provider;
use rampart_service::fence::{LEASE, MARGIN};
use rampart_store::BackendKind;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::act_on_user;
use crate::kit::{no_tweak, start, start_on, Node, USER_PASSWORD};

/// Waits (bounded) until `node` trusts its lease as `trusting` says.
async fn until_trusting(node: &Node, trusting: bool) {
    let fence = &node.server().state.fence;
    for _ in 0..400 {
        if fence.trusts() == trusting {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the node never came to trust its lease = {trusting}");
}

async fn write(node: &Node, token: &str, ops: Value) {
    let (status, body) = node
        .post("/api/v1/authz/write", token, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn is_rep(node: &Node, token: &str, user: &str) -> bool {
    let check = json!({ "kind": "role", "user": user, "application": "sales", "role": "rep" });
    let (status, body) = node
        .post("/api/v1/authz/check", token, json!({ "checks": [check] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"][0]["allowed"].as_bool().unwrap()
}

fn rep(op: &str, user: &str) -> Value {
    json!([{ "op": op, "application": "sales", "role": "rep", "principal": { "type": "user", "id": user } }])
}

/// A revoke, a role change and a disable through A are refused by the very next request on
/// B while B decides from its lease (no read of the database per request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_node_is_refused_by_the_next_request_on_a_node_trusting_its_lease() {
    let a = start(BackendKind::Postgres, no_tweak).await;
    let b = start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    let admin = a.admin().await;
    let admin_b = b.login("it", "admin", crate::kit::ADMIN_PASSWORD).await;
    let id = a
        .create_user(Provider::End, "ivy", USER_PASSWORD, false)
        .await;
    write(
        &a,
        &admin,
        json!([
            { "op": "create_application", "name": "sales" },
            { "op": "create_role", "application": "sales", "name": "rep" },
        ]),
    )
    .await;
    for round in 0..3 {
        // Revoked sessions.
        let token = a.login("end", "ivy", USER_PASSWORD).await;
        assert_eq!(
            crate::me_status(&b, &token).await,
            StatusCode::OK,
            "round {round}"
        );
        until_trusting(&b, true).await;
        act_on_user(&a, &admin, &id, "revoke-sessions").await;
        assert_eq!(
            crate::me_status(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "revoke, round {round}"
        );
        // A role taken away.
        write(&a, &admin, rep("grant_role", &id)).await;
        until_trusting(&b, true).await;
        assert!(is_rep(&b, &admin_b, &id).await, "round {round}");
        write(&a, &admin, rep("revoke_role", &id)).await;
        assert!(!is_rep(&b, &admin_b, &id).await, "role, round {round}");
        // A disabled user.
        let token = a.login("end", "ivy", USER_PASSWORD).await;
        assert_eq!(
            crate::me_status(&b, &token).await,
            StatusCode::OK,
            "round {round}"
        );
        until_trusting(&b, true).await;
        act_on_user(&a, &admin, &id, "disable").await;
        assert_eq!(
            crate::me_status(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "disable, round {round}"
        );
        act_on_user(&a, &admin, &id, "enable").await;
    }
    // A node that stops gives its lease up: nobody waits for it any more.
    let store = a.server().state.store.clone();
    let instance_b = b.server().state.fence.instance().to_owned();
    assert!(store
        .nodes_live()
        .await
        .unwrap()
        .iter()
        .any(|n| n.0 == instance_b));
    b.shutdown().await;
    assert!(!store
        .nodes_live()
        .await
        .unwrap()
        .iter()
        .any(|n| n.0 == instance_b));
    a.shutdown().await;
}

/// A node that stopped renewing (as a paused or cut-off node does) stops trusting its
/// memory once its lease runs out, decides by reading the database, and still refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_lease_ran_out_reads_the_database_and_still_refuses() {
    let a = start(BackendKind::Postgres, no_tweak).await;
    let b = start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    let admin = a.admin().await;
    let id = a
        .create_user(Provider::End, "ivy", USER_PASSWORD, false)
        .await;
    until_trusting(&b, true).await;
    b.server().state.fence.suspend(true);
    until_trusting(&b, false).await;
    for round in 0..3 {
        let token = a.login("end", "ivy", USER_PASSWORD).await;
        assert_eq!(
            crate::me_status(&b, &token).await,
            StatusCode::OK,
            "round {round}"
        );
        act_on_user(&a, &admin, &id, "revoke-sessions").await;
        assert_eq!(
            crate::me_status(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "round {round}"
        );
        assert!(!b.server().state.fence.trusts(), "round {round}");
    }
    // Renewing again, it trusts its lease again and still refuses.
    b.server().state.fence.suspend(false);
    until_trusting(&b, true).await;
    let token = a.login("end", "ivy", USER_PASSWORD).await;
    assert_eq!(crate::me_status(&b, &token).await, StatusCode::OK);
    let out = a
        .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(crate::me_status(&b, &token).await, StatusCode::UNAUTHORIZED);
    b.shutdown().await;
    a.shutdown().await;
}

/// A node that registered and died (its row left with a live lease, never to see anything
/// again) holds a change up until its lease runs out, then the change is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_holds_a_change_up_by_one_lease_at_most() {
    let a = start(BackendKind::Postgres, no_tweak).await;
    let admin = a.admin().await;
    let id = a
        .create_user(Provider::End, "ivy", USER_PASSWORD, false)
        .await;
    let token = a.login("end", "ivy", USER_PASSWORD).await;
    let store = a.server().state.store.clone();
    let registered = Instant::now();
    store.node_renew("dead/1", "dead", 0, LEASE).await.unwrap();
    assert!(store
        .nodes_live()
        .await
        .unwrap()
        .iter()
        .any(|n| n.0 == "dead/1"));
    let revoked = a
        .request(
            Method::POST,
            &format!("/api/v1/users/{id}/revoke-sessions"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let held = registered.elapsed();
    // Not before the dead node's lease ran out (it could not have seen the change)…
    assert!(held >= LEASE - MARGIN, "acknowledged after {held:?}");
    // …and then without waiting for it any more (a generous bound: one lease and slack).
    assert!(held < LEASE * 10, "acknowledged after {held:?}");
    assert!(!store
        .nodes_live()
        .await
        .unwrap()
        .iter()
        .any(|n| n.0 == "dead/1"));
    assert_eq!(crate::me_status(&a, &token).await, StatusCode::UNAUTHORIZED);
    a.shutdown().await;
}

/// The bearer token `/metrics` asks for in [`acknowledgement_waits_are_measured`].
const METRICS_TOKEN: &str = "lease-metrics-token-for-the-scraper";

/// The value of the sample `name` (without labels) in `node`'s `/metrics`, 0 when absent.
async fn sample(node: &Node, name: &str) -> f64 {
    let text = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(format!("{}/metrics", node.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

const WAITS: &str = "rampart_acknowledgement_wait_seconds_count";
const WAITED: &str = "rampart_acknowledgement_wait_seconds_sum";
const RAN_OUT: &str = "rampart_acknowledgement_lease_ran_out_total";

/// A write through one node of two is held until the other acknowledges it, and measured;
/// one while the other stopped renewing ends when that node's lease runs out, and is
/// counted as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_waits_are_measured() {
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("metrics-token");
    std::fs::write(&token_file, METRICS_TOKEN).unwrap();
    let reference = format!("file:{}", token_file.display());
    let a = start(BackendKind::Postgres, |c| c.metrics.token = reference).await;
    let b = start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    let admin = a.admin().await;
    let id = a
        .create_user(Provider::End, "ivy", USER_PASSWORD, false)
        .await;
    write(
        &a,
        &admin,
        json!([
            { "op": "create_application", "name": "sales" },
            { "op": "create_role", "application": "sales", "name": "rep" },
        ]),
    )
    .await;
    until_trusting(&b, true).await;

    // B renews and hears the change: the wait ends by its acknowledgement.
    let (waits, ran_out) = (sample(&a, WAITS).await, sample(&a, RAN_OUT).await);
    write(&a, &admin, rep("grant_role", &id)).await;
    assert_eq!(sample(&a, WAITS).await, waits + 1.0);
    assert_eq!(sample(&a, RAN_OUT).await, ran_out);

    // B stops renewing with its lease live: the wait ends when that lease runs out.
    let waited = sample(&a, WAITED).await;
    b.server().state.fence.suspend(true);
    write(&a, &admin, rep("revoke_role", &id)).await;
    assert_eq!(sample(&a, WAITS).await, waits + 2.0);
    assert_eq!(sample(&a, RAN_OUT).await, ran_out + 1.0);
    assert!(sample(&a, WAITED).await > waited, "the wait took no time");
    b.server().state.fence.suspend(false);
    b.shutdown().await;
    a.shutdown().await;
}
