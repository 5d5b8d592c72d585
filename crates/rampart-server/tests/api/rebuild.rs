//! `/api/v1/hierarchies/rebuild`: the hierarchy rebuild through the API, under the console's
//! rules (`rules::REBUILD_HIERARCHIES` to start, `rules::READ_AUTHORIZATION` to follow), on
//! both stores; and on PostgreSQL, a rebuild started on one node seen, and a second refused,
//! from another, and a rebuild whose node stopped seen as abandoned.
//!
//! A rebuild of a test's small tree ends at once, so the tests that watch one running keep
//! it from beginning its work (`Rebuilds::hold`, taken before it starts): it is recorded and
//! shown as running at its first node until the hold is let go, then runs for real.

use rampart_core::Provider;
use rampart_store::BackendKind;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem, problem_type, start, start_on, Node, USER_PASSWORD};

const REBUILD: &str = "/api/v1/hierarchies/rebuild";

/// A unit tree of 13 nodes (a company, 3 regions of 3 teams); the index's node count.
async fn seed_tree(node: &Node, admin: &str) -> u64 {
    let mut ops = vec![json!({ "op": "create_hierarchy", "name": "units", "kind": "units" })];
    for r in 0..3 {
        ops.push(json!({ "op": "set_parent", "hierarchy": "units", "node": format!("region-{r}"), "parent": "company" }));
        for t in 0..3 {
            ops.push(json!({ "op": "set_parent", "hierarchy": "units", "node": format!("team-{r}-{t}"), "parent": format!("region-{r}") }));
        }
    }
    let (status, body) = node
        .post("/api/v1/authz/write", admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    13
}

/// IT users with `role` each, signed in: their tokens in order.
async fn it_users(node: &Node, admin: &str, users: &[(&str, &str)]) -> Vec<String> {
    let mut ops = Vec::new();
    for (user, role) in users {
        let id = node
            .create_user(Provider::It, user, USER_PASSWORD, false)
            .await;
        ops.push(json!({ "op": "set_it_role", "user": id, "role": role }));
    }
    let (status, body) = node
        .post("/api/v1/it/write", admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    let mut tokens = Vec::new();
    for (user, _) in users {
        tokens.push(node.login("it", user, USER_PASSWORD).await);
    }
    tokens
}

/// The status, read as `token`, which must be allowed.
async fn status(node: &Node, token: &str) -> Value {
    let (status, body) = node.get(REBUILD, token).await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    body
}

/// Reads the status until the rebuild is no longer running (a bounded number of reads).
async fn until_ended(node: &Node, token: &str) -> Value {
    for _ in 0..400 {
        let s = status(node, token).await;
        if s["state"] != "running" {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{}: the rebuild did not end", node.name());
}

/// `POST` as `token` (none: anonymous): the status and the problem's type, or the body.
async fn start_as(node: &Node, token: Option<&str>) -> (StatusCode, Value, Option<String>) {
    let response = node.request(Method::POST, REBUILD, token, None).await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status.is_success() {
        (status, response.json().await.unwrap(), location)
    } else {
        let (_, _, body) = problem(response).await;
        (status, body, location)
    }
}

async fn rebuild_through_the_api(node: Node) {
    let name = node.name();
    let admin = node.admin().await;
    let nodes = seed_tree(&node, &admin).await;
    let tokens = it_users(
        &node,
        &admin,
        &[("olga", "operations"), ("audrey", "auditor")],
    )
    .await;
    node.create_user(Provider::End, "ivy", USER_PASSWORD, false)
        .await;
    let ivy = node.login("end", "ivy", USER_PASSWORD).await;
    assert_eq!(
        status(&node, &admin).await,
        json!({ "state": "none", "checked": 0, "total": 0 }),
        "{name}"
    );

    // Who may read the status and who may start: (who, token, read, start).
    let table: [(&str, Option<&str>, StatusCode, StatusCode); 4] = [
        (
            "anonymous",
            None,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an end user",
            Some(ivy.as_str()),
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
        (
            "an operations IT user",
            Some(tokens[0].as_str()),
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
        (
            "an auditor",
            Some(tokens[1].as_str()),
            StatusCode::OK,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (who, token, read, begin) in table {
        let answer = node.request(Method::GET, REBUILD, token, None).await;
        assert_eq!(answer.status(), read, "{name}: {who} reads");
        let (status, body, _) = start_as(&node, token).await;
        assert_eq!(status, begin, "{name}: {who} starts: {body}");
        if begin == StatusCode::FORBIDDEN && who != "an end user" {
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("only IT administrators may rebuild the hierarchy index"),
                "{name}: {who}: {body}"
            );
        }
    }
    // Nothing was started by anyone refused.
    assert_eq!(status(&node, &admin).await["state"], "none", "{name}");

    // The administrator starts one; while it runs, a second start is refused.
    let rebuilds = node.server().state.rebuilds.clone();
    let held = rebuilds.hold().await;
    let (code, started, location) = start_as(&node, Some(&admin)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{name}: {started}");
    assert_eq!(location.as_deref(), Some(REBUILD), "{name}");
    assert_eq!(started["state"], "running", "{name}: {started}");
    assert_eq!(started["started_by"], "it:admin", "{name}: {started}");
    assert_eq!(started["node"], "test-node", "{name}: {started}");
    assert_eq!(started["total"], nodes, "{name}: {started}");
    assert_eq!(started["checked"], 0, "{name}: {started}");
    let running = status(&node, &tokens[1]).await;
    assert_eq!(running["state"], "running", "{name}: {running}");
    assert_eq!(running["id"], started["id"], "{name}: {running}");
    let (code, refused, _) = start_as(&node, Some(&admin)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{name}: {refused}");
    assert_eq!(problem_type(&refused), "conflict", "{name}: {refused}");
    drop(held);

    let ended = until_ended(&node, &tokens[1]).await;
    assert_eq!(ended["state"], "rebuilt", "{name}: {ended}");
    assert_eq!(ended["id"], started["id"], "{name}: {ended}");
    assert_eq!(ended["checked"], nodes, "{name}: {ended}");
    assert_eq!(ended["report"]["nodes"], nodes, "{name}: {ended}");
    assert_eq!(ended["report"]["hierarchies"], 1, "{name}: {ended}");
    assert_eq!(ended["report"]["paths_fixed"], 0, "{name}: {ended}");
    assert_eq!(ended["phase"], "done", "{name}: {ended}");
    assert!(ended["duration_ms"].is_u64(), "{name}: {ended}");
    assert!(ended["finished_at"].is_string(), "{name}: {ended}");
    // One audit event, under the administrator's name.
    let (_, found) = node
        .get("/api/v1/audit/events?action=authz.rebuild", &admin)
        .await;
    let events = found["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{name}: {found}");
    assert_eq!(events[0]["actor"], "it:admin", "{name}: {found}");

    // Once ended, the next may start.
    let (code, again, _) = start_as(&node, Some(&admin)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{name}: {again}");
    let ended = until_ended(&node, &admin).await;
    assert_eq!(ended["state"], "rebuilt", "{name}: {ended}");
    assert_ne!(ended["id"], started["id"], "{name}: {ended}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_is_started_by_administrators_followed_by_auditors_one_at_a_time() {
    on_both(no_tweak, rebuild_through_the_api).await;
}

/// Two nodes on one PostgreSQL database: a rebuild started on A is seen running on B, B
/// refuses a second, and B sees it end. A rebuild whose node stops before it ends is seen as
/// abandoned, and another may then start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_started_on_one_node_is_seen_and_guarded_on_another() {
    let a = start(BackendKind::Postgres, no_tweak).await;
    let b = start_on(BackendKind::Postgres, a.database_url(), |c| {
        c.node_id = "node-b".into();
    })
    .await;
    let admin_a = a.admin().await;
    let admin_b = b.login("it", "admin", crate::kit::ADMIN_PASSWORD).await;
    let nodes = seed_tree(&a, &admin_a).await;

    let rebuilds_a = a.server().state.rebuilds.clone();
    let held = rebuilds_a.hold().await;
    let (code, started, _) = start_as(&a, Some(&admin_a)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{started}");
    let seen = status(&b, &admin_b).await;
    assert_eq!(seen["state"], "running", "{seen}");
    assert_eq!(seen["id"], started["id"], "{seen}");
    assert_eq!(seen["node"], "test-node", "{seen}");
    assert_eq!(seen["total"], nodes, "{seen}");
    let (code, refused, _) = start_as(&b, Some(&admin_b)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("test-node"),
        "{refused}"
    );
    drop(held);
    let ended = until_ended(&b, &admin_b).await;
    assert_eq!(ended["state"], "rebuilt", "{ended}");
    assert_eq!(ended["checked"], nodes, "{ended}");
    assert_eq!(ended["report"]["nodes"], nodes, "{ended}");

    // A stops while its rebuild is held: its lease is given up, B sees the rebuild
    // abandoned and may start one of its own.
    let held = rebuilds_a.hold().await;
    let (code, started, _) = start_as(&a, Some(&admin_a)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{started}");
    assert_eq!(status(&b, &admin_b).await["state"], "running");
    a.shutdown().await;
    let seen = until_ended(&b, &admin_b).await;
    assert_eq!(seen["state"], "abandoned", "{seen}");
    assert_eq!(seen["id"], started["id"], "{seen}");
    assert!(
        seen["error"].as_str().unwrap().contains("test-node"),
        "{seen}"
    );
    let (code, own, _) = start_as(&b, Some(&admin_b)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{own}");
    assert_eq!(own["node"], "node-b", "{own}");
    let ended = until_ended(&b, &admin_b).await;
    assert_eq!(ended["state"], "rebuilt", "{ended}");
    assert_eq!(ended["id"], own["id"], "{ended}");
    drop(held);
    b.shutdown().await;
}
