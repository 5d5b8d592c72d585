//! An environment's deployment history in the console (`/console/deployments/{env}/history`)
//! over HTTP, on both stores: more deployments than a page holds, the "Older" link carrying
//! the API's cursor to the rest, every deployment on exactly one page, newest first; the
//! board links to each environment's history; a forged cursor is refused in words.

use rampart_core::Provider;
use reqwest::StatusCode;
use serde_json::json;

use crate::forms::{older, Console};
use crate::kit::{no_tweak, on_both, Node, ADMIN_PASSWORD};

/// The deployments' numbers on a page, in the page's order.
fn numbers(html: &str) -> Vec<i64> {
    crate::forms::row_numbers(html, "deployment-")
}

async fn deployments_page_by_page(node: Node) {
    let name = node.name();
    node.create_user(Provider::It, "admin", ADMIN_PASSWORD, true)
        .await;
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let (status, body) = node
        .post(
            "/api/v1/authz/write",
            &admin,
            json!({ "operations": [{ "op": "create_application", "name": "shop" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    for (version, limit) in [(1, 200), (2, 300)] {
        let source = crate::SHOP.replace("max_length: 200", &format!("max_length: {limit}"));
        let mut body = json!({ "source": source, "message": "the shop" });
        if version > 1 {
            body["parent"] = json!(version - 1);
        }
        let (status, answer) = node
            .post("/api/v1/modules/crm/versions", &admin, body)
            .await;
        assert!(status.is_success(), "{name}: publish v{version}: {answer}");
    }
    // 55 deployments in development, versions 1 and 2 in turn: more than a page (50).
    for n in 0..55 {
        let (status, body) = node
            .post(
                "/api/v1/environments/development/deployments",
                &admin,
                json!({ "modules": [{ "module": "crm", "version": 1 + n % 2 }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: deployment {n}: {body}");
    }
    let (_, all) = node
        .get(
            "/api/v1/environments/development/deployments?limit=1000",
            &admin,
        )
        .await;
    let everything: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(everything.len(), 55, "{name}: {all}");

    let console = Console::sign_in(&node, "admin", ADMIN_PASSWORD).await;
    let (status, board) = console.get("/console/deployments").await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(
        board.contains("href=\"/console/deployments/development/history\""),
        "{name}: the board links to the environment's history"
    );
    let (status, first) = console
        .get("/console/deployments/development/history")
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {first}");
    assert_eq!(numbers(&first), everything[..50], "{name}: the newest 50");
    assert!(
        !first.contains(">Newest</a>"),
        "{name}: the first page is the newest"
    );
    let link = older(&first).expect("an Older link");
    let (status, second) = console.get(&link).await;
    assert_eq!(status, StatusCode::OK, "{name}: {link}: {second}");
    assert_eq!(numbers(&second), everything[50..], "{name}: the other 5");
    assert!(older(&second).is_none(), "{name}: nothing older: {second}");
    assert!(second.contains(">Newest</a>"), "{name}");

    // A cursor the API did not return: the page says so, and shows nothing.
    let (status, refused) = console
        .get("/console/deployments/development/history?cursor=yesterday")
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{name}: {refused}"
    );
    assert!(
        refused.contains("is not a cursor this API returned"),
        "{name}: {refused}"
    );
    assert!(numbers(&refused).is_empty(), "{name}");
    // An environment that does not exist is named.
    let (status, refused) = console.get("/console/deployments/nowhere/history").await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{name}: {refused}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_history_pages_through_older_links() {
    on_both(no_tweak, deployments_page_by_page).await;
}
