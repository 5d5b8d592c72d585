//! The deployment plans in the console (`/console/deployments/plans`) over HTTP, on both
//! stores: each reader's rows are exactly the plans `GET /api/v1/deployment-plans` gives
//! them (the same use case decides), newest first, a page at a time through the "Older"
//! link; an administrator sees every plan, an IT user with `deploy` on one application
//! only its plans, an auditor reads, a contractor (`reference` in development) sees no
//! plan of another environment, an end user is refused; the filters by environment and
//! status, their empty state, and a bad status refused in words.

use std::collections::BTreeSet;

use rampart_core::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::forms::{older, Console};
use crate::kit::{no_tweak, on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};

const PAGE: &str = "/console/deployments/plans";

/// A second application, with a property of its own.
const KIOSK: &str = "module: kiosk\napplication: kiosk\nproperties:\n  - name: Greeting\n    type: text\n    default: hello\nentities:\n  - name: Visit\n    attributes:\n      - {name: note, type: text}\n";

/// The plans' numbers on a page, in the page's order.
fn numbers(html: &str) -> Vec<i64> {
    crate::forms::row_numbers(html, "plan-")
}

/// Every plan a console reader sees, page after page through "Older".
async fn all_rows(console: &Console, first: &str) -> Vec<i64> {
    let mut rows = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(address) = next {
        let (status, html) = console.get(&address).await;
        assert_eq!(status, StatusCode::OK, "{address}: {html}");
        rows.extend(numbers(&html));
        next = older(&html);
    }
    rows
}

/// Every plan the API gives `token`, page after page.
async fn api_rows(node: &Node, token: &str, query: &str) -> Vec<i64> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/deployment-plans?limit=7{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = node.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        rows.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return rows,
        }
    }
}

async fn ok(node: &Node, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = node.post(path, token, body).await;
    assert!(status.is_success(), "{}: {path}: {answer}", node.name());
    answer
}

async fn plans_page_by_page(node: Node) {
    let name = node.name();
    node.create_user(Provider::It, "admin", ADMIN_PASSWORD, true)
        .await;
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let ops = json!([{ "op": "create_application", "name": "shop" }, { "op": "create_application", "name": "kiosk" }]);
    ok(
        &node,
        "/api/v1/authz/write",
        &admin,
        json!({ "operations": ops }),
    )
    .await;
    ok(
        &node,
        "/api/v1/modules/crm/versions",
        &admin,
        json!({ "source": crate::SHOP, "message": "the shop" }),
    )
    .await;
    ok(
        &node,
        "/api/v1/modules/kiosk/versions",
        &admin,
        json!({ "source": KIOSK, "message": "a kiosk" }),
    )
    .await;
    for app in ["shop", "kiosk"] {
        ok(
            &node,
            &format!("/api/v1/applications/{app}/tags"),
            &admin,
            json!({ "tag": "1.0" }),
        )
        .await;
    }
    let mut ids = Vec::new();
    for user in ["dev", "audrey", "connie"] {
        ids.push(
            node.create_user(Provider::It, user, USER_PASSWORD, false)
                .await,
        );
    }
    node.create_user(Provider::End, "erin", USER_PASSWORD, false)
        .await;
    ok(&node, "/api/v1/it/write", &admin, json!({ "operations": [
        { "op": "set_override", "user": ids[0], "scope": { "type": "application", "name": "shop" }, "level": "deploy" },
        { "op": "set_it_role", "user": ids[1], "role": "auditor" },
        { "op": "set_it_role", "user": ids[2], "role": "contractor" },
    ] }))
    .await;

    // The empty state before any plan.
    let console = Console::sign_in(&node, "admin", ADMIN_PASSWORD).await;
    let (status, html) = console.get(PAGE).await;
    assert_eq!(status, StatusCode::OK, "{name}: {html}");
    assert!(
        html.contains("No deployment plan you may see yet"),
        "{name}: {html}"
    );
    assert!(older(&html).is_none(), "{name}");

    // 56 plans: shop and kiosk in turn, development and quality in turn; the first kiosk
    // plan in development runs (finished).
    let mut made = Vec::new();
    for n in 0..56 {
        let app = if n % 2 == 0 { "shop" } else { "kiosk" };
        let env = if n % 4 < 2 { "development" } else { "quality" };
        let plan = ok(
            &node,
            "/api/v1/deployment-plans",
            &admin,
            json!({ "environment": env, "applications": [{ "application": app, "tag": "1.0" }] }),
        )
        .await;
        made.push((plan["id"].as_i64().unwrap(), app, env));
    }
    let run = made[1].0;
    ok(
        &node,
        &format!("/api/v1/deployment-plans/{run}/run"),
        &admin,
        json!({}),
    )
    .await;
    let newest_first: Vec<i64> = made.iter().rev().map(|m| m.0).collect();

    // The administrator: every plan, newest first, each on exactly one page.
    let (_, first) = console.get(PAGE).await;
    assert_eq!(numbers(&first).len(), 50, "{name}");
    let newest = newest_first[0];
    assert!(
        first.contains(&format!("href=\"/console/environments/plans/{newest}\"")),
        "{name}"
    );
    assert_eq!(all_rows(&console, PAGE).await, newest_first, "{name}");
    assert_eq!(api_rows(&node, &admin, "").await, newest_first, "{name}");
    // The board and the plan page link here.
    let (_, board) = console.get("/console/deployments").await;
    assert!(
        board.contains("href=\"/console/deployments/plans\""),
        "{name}"
    );
    let (_, plan) = console
        .get(&format!("/console/environments/plans/{run}"))
        .await;
    assert!(
        plan.contains("href=\"/console/deployments/plans\""),
        "{name}"
    );

    // Filters: one status, one environment, both; the empty state says the filters match
    // nothing.
    let finished = all_rows(&console, &format!("{PAGE}?status=finished")).await;
    assert_eq!(finished, vec![run], "{name}");
    let quality: Vec<i64> = newest_first
        .iter()
        .copied()
        .filter(|id| made.iter().any(|m| m.0 == *id && m.2 == "quality"))
        .collect();
    assert_eq!(
        all_rows(&console, &format!("{PAGE}?environment=quality")).await,
        quality,
        "{name}"
    );
    assert_eq!(
        all_rows(
            &console,
            &format!("{PAGE}?environment=quality&status=draft")
        )
        .await,
        quality,
        "{name}"
    );
    let (status, html) = console
        .get(&format!("{PAGE}?environment=quality&status=waiting"))
        .await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(
        html.contains("No plan you may see matches these filters"),
        "{name}: {html}"
    );
    // The filters keep their values in the form.
    assert!(
        html.contains("<option value=\"quality\" selected>"),
        "{name}: {html}"
    );
    // A status that is none refuses in words, and lists nothing.
    let (status, html) = console.get(&format!("{PAGE}?status=lost")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {html}");
    assert!(
        html.contains("one of draft, waiting, finished, aborted"),
        "{name}: {html}"
    );
    assert!(numbers(&html).is_empty(), "{name}");

    // Each IT reader sees exactly what the API gives them.
    let shop: Vec<i64> = newest_first
        .iter()
        .copied()
        .filter(|id| made.iter().any(|m| m.0 == *id && m.1 == "shop"))
        .collect();
    for (user, expect) in [("dev", Some(&shop)), ("audrey", None), ("connie", None)] {
        let token = node.login("it", user, USER_PASSWORD).await;
        let reader = Console::sign_in(&node, user, USER_PASSWORD).await;
        let seen = all_rows(&reader, PAGE).await;
        assert_eq!(seen, api_rows(&node, &token, "").await, "{name}: {user}");
        if let Some(expect) = expect {
            assert_eq!(&seen, expect, "{name}: {user}");
        }
        if user == "connie" {
            // `reference` in development only: no plan of quality.
            let shown: BTreeSet<i64> = seen.iter().copied().collect();
            assert!(
                quality.iter().all(|id| !shown.contains(id)),
                "{name}: {seen:?}"
            );
        }
    }
    // An end user is refused the page.
    let erin = Console::sign_in_as(&node, "end", "erin", USER_PASSWORD).await;
    let (status, html) = erin.get(PAGE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {html}");
    assert!(numbers(&html).is_empty(), "{name}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_plans_in_the_console_a_page_at_a_time() {
    on_both(no_tweak, plans_page_by_page).await;
}
