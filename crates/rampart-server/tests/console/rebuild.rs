//! Rebuilding the hierarchy index from the console (`/console/hierarchy-rebuild`) over HTTP,
//! on both stores: refused to an IT user who may not read authorization data and to an
//! auditor's forged form, nothing started; an administrator starts it with the page's token,
//! the progress endpoint runs to `done` with the index's node count, the page shows the
//! result, and the audit log holds `authz.rebuild` under the administrator's name. A path
//! damaged in the database is repaired and counted.

use rampart_core::Provider;
use rampart_store::BackendKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::forms::Console;
use crate::kit::{no_tweak, on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};

const PAGE: &str = "/console/hierarchy-rebuild";
const PROGRESS: &str = "/console/hierarchy-rebuild/progress";

async fn progress(console: &Console) -> Value {
    let (status, body) = console.get(PROGRESS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Reads the progress until the rebuild has ended (a bounded number of reads); its last
/// answer.
async fn until_ended(console: &Console) -> Value {
    for _ in 0..400 {
        let p = progress(console).await;
        if p["state"] != "running" {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the rebuild did not end");
}

/// Shortens one node's materialised path behind the server's back, as a direct edit of the
/// database would (a path no walk of the tree produces).
async fn damage_one_path(node: &Node) {
    use sqlx::Connection as _;
    const SQL: &str = "UPDATE authz_node_paths SET path = substr(path, 1, 2) WHERE node_num = \
                       (SELECT MAX(node_num) FROM authz_node_paths)";
    let changed = if node.kind == BackendKind::Postgres {
        let url = node.database_url();
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(SQL)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected()
    } else {
        let file = node.server().state.config.sqlite_path();
        let url = format!("sqlite://{}", file.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(SQL)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected()
    };
    assert_eq!(changed, 1, "{}", node.name());
}

async fn rebuild_with_progress(node: Node) {
    let name = node.name();
    node.create_user(Provider::It, "admin", ADMIN_PASSWORD, true)
        .await;
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let mut roles = Vec::new();
    for (user, role) in [("audrey", "auditor"), ("olga", "operations")] {
        let id = node
            .create_user(Provider::It, user, USER_PASSWORD, false)
            .await;
        roles.push(json!({ "op": "set_it_role", "user": id, "role": role }));
    }
    let (status, body) = node
        .post("/api/v1/it/write", &admin, json!({ "operations": roles }))
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    // A unit tree of 40 units: 4 regions of 9 teams under one company.
    let mut ops = vec![json!({ "op": "create_hierarchy", "name": "units", "kind": "units" })];
    for r in 0..4 {
        ops.push(json!({ "op": "set_parent", "hierarchy": "units", "node": format!("region-{r}"), "parent": "company" }));
        for t in 0..9 {
            ops.push(json!({ "op": "set_parent", "hierarchy": "units", "node": format!("team-{r}-{t}"), "parent": format!("region-{r}") }));
        }
    }
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let (_, model) = node.get("/api/v1/authz/model", &admin).await;
    let nodes: u64 = model["hierarchies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["nodes"].as_u64().unwrap())
        .sum();
    assert_eq!(nodes, 41, "{name}: {model}");

    // Olga (operations) may not read authorization data: the page and its progress refuse.
    let olga = Console::sign_in(&node, "olga", USER_PASSWORD).await;
    let (status, _) = olga.get(PAGE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    let (status, _) = olga.get(PROGRESS).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    let (status, _, _) = olga.post(PAGE, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    // The auditor reads the page, without the button; her forged form starts nothing.
    let audrey = Console::sign_in(&node, "audrey", USER_PASSWORD).await;
    let (status, page) = audrey.get(PAGE).await;
    assert_eq!(status, StatusCode::OK, "{name}: {page}");
    assert!(!page.contains("Rebuild now"), "{name}: {page}");
    let (status, refused, _) = audrey.post(PAGE, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {refused}");
    assert!(
        refused.contains("only IT administrators may rebuild"),
        "{name}: {refused}"
    );
    assert_eq!(
        progress(&audrey).await,
        json!({ "state": "none" }),
        "{name}"
    );

    // The administrator: a form without the page's token starts nothing.
    let console = Console::sign_in(&node, "admin", ADMIN_PASSWORD).await;
    let (status, page) = console.get(PAGE).await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(page.contains("Rebuild now"), "{name}: {page}");
    let (status, _, _) = console.send(PAGE, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert_eq!(progress(&console).await["state"], "none", "{name}");

    // A path damaged in the database, which the rebuild repairs.
    damage_one_path(&node).await;

    let (status, _, to) = console.post(PAGE, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert_eq!(to, PAGE, "{name}");
    let ended = until_ended(&console).await;
    assert_eq!(ended["state"], "done", "{name}: {ended}");
    assert_eq!(ended["done"], nodes, "{name}: {ended}");
    assert_eq!(ended["total"], nodes, "{name}: {ended}");
    assert_eq!(ended["report"]["nodes"], nodes, "{name}: {ended}");
    assert_eq!(ended["report"]["hierarchies"], 1, "{name}: {ended}");
    assert_eq!(ended["report"]["paths_fixed"], 1, "{name}: {ended}");
    assert_eq!(ended["started_by"], "it:admin", "{name}: {ended}");
    // The page shows the result, and the auditor sees it too.
    let (_, page) = console.get(PAGE).await;
    assert!(
        page.contains("The latest rebuild is done"),
        "{name}: {page}"
    );
    assert!(
        page.contains("1 hierarchy rebuilt, 41 nodes checked, 1 path repaired"),
        "{name}: {page}"
    );
    assert!(
        !page.contains("<script"),
        "{name}: no script once it has ended"
    );
    assert_eq!(progress(&audrey).await["state"], "done", "{name}");

    // The audit log: the rebuild under the administrator's name, with what it did.
    let (_, found) = node
        .get("/api/v1/audit/events?action=authz.rebuild", &admin)
        .await;
    let events = found["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{name}: {found}");
    assert_eq!(events[0]["actor"], "it:admin", "{name}: {found}");
    assert_eq!(events[0]["details"]["nodes"], nodes, "{name}: {found}");
    assert_eq!(events[0]["details"]["paths_fixed"], 1, "{name}: {found}");
    // A second rebuild finds nothing left to repair.
    let (status, _, _) = console.post(PAGE, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    let ended = until_ended(&console).await;
    assert_eq!(ended["report"]["paths_fixed"], 0, "{name}: {ended}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hierarchy_rebuild_from_the_console_with_its_progress() {
    on_both(no_tweak, rebuild_with_progress).await;
}
