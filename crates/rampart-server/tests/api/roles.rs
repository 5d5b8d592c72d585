//! The roles modules declare as their application's roles, end to end on SQLite and
//! PostgreSQL: one module per role name (publishing refuses a second, ignoring case).

use reqwest::StatusCode;
use serde_json::json;

use crate::kit::{no_tweak, on_both, problem_type, Node};
use crate::lifecycle::{example, it_write, publish, world};

async fn user_id(node: &Node, token: &str) -> String {
    let (_, me) = node.get("/api/v1/auth/me", token).await;
    me["user"]["id"].as_str().unwrap().to_owned()
}

/// How many versions have been published.
async fn publishes(node: &Node) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| e.action == "module.publish")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_a_role_another_module_of_the_application_declares_is_refused() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let ui = example("sales-ui.yaml");
        let before = publishes(&node).await;

        // core-service declares SalesRep, SalesDirector and CoreAdmin: sales-ui may not,
        // in any case, and the refusal names the role and the module declaring it.
        for (role, declared) in [("SalesRep", "SalesRep"), ("salesrep", "SalesRep"), ("SALESDIRECTOR", "SalesDirector")] {
            let source = ui.replace("roles:\n  - name: SalesAdmin\n", &format!("roles:\n  - name: {role}\n  - name: SalesAdmin\n"));
            let (status, body) = publish(&node, &w.contractor, "sales-ui", &source, json!({})).await;
            assert_eq!((status, problem_type(&body)), (StatusCode::CONFLICT, "conflict"), "{name}: {role}: {body}");
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains(&format!("role `{role}`")), "{name}: {detail}");
            assert!(detail.contains("module `core-service`") && detail.contains(&format!("`core-service.{declared}`")), "{name}: {detail}");
        }
        let (status, versions) = node.get("/api/v1/modules/sales-ui/versions", &w.contractor).await;
        assert_eq!((status, versions), (StatusCode::OK, json!([])), "{name}: nothing published");

        // A new module is refused before its name is registered.
        let extra = "module: sales-extra\napplication: sales\nroles:\n  - name: CoreAdmin\n";
        let (status, body) = publish(&node, &w.admin, "sales-extra", extra, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("role `CoreAdmin` is declared by module `core-service`, which keeps it to itself"), "{name}: {detail}");
        let (status, _) = node.get("/api/v1/modules/sales-extra/versions", &w.admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: not registered");

        // Someone who holds nothing on core-service learns the role is taken, not by whom.
        let nobody = user_id(&node, &w.nobody).await;
        it_write(&node, &w.admin, json!([
            { "op": "set_override", "user": nobody, "scope": { "type": "module", "name": "sales-ui" }, "environment": "development", "level": "change" },
        ]))
        .await;
        let hidden = "module: sales-ui\napplication: sales\nroles:\n  - name: SalesDirector\n";
        let (status, body) = publish(&node, &w.nobody, "sales-ui", hidden, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("role `SalesDirector`") && detail.contains("another module"), "{name}: {detail}");
        assert!(!detail.contains("core-service"), "{name}: {detail}");
        assert_eq!(publishes(&node).await, before, "{name}: nothing published");

        // What counts: the other modules' newest versions, not the module's own, and only
        // this application's modules.
        let (status, body) = publish(&node, &w.admin, "core-service", &example("core-service.yaml").replace("Customers and the sales roles", "Customers and roles"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: its own roles again: {body}");
        let without = example("core-service.yaml").replace(
            "  - name: CoreAdmin\n    description: Maintains the customer base.\n",
            "",
        );
        let (status, body) = publish(&node, &w.admin, "core-service", &without, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let source = ui.replace("roles:\n  - name: SalesAdmin\n", "roles:\n  - name: coreadmin\n  - name: SalesAdmin\n");
        let (status, body) = publish(&node, &w.contractor, "sales-ui", &source, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: core-service's newest version dropped CoreAdmin: {body}");
        let (status, body) = node
            .post("/api/v1/authz/write", &w.admin, json!({ "operations": [{ "op": "create_application", "name": "billing" }] }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let billing = "module: billing-core\napplication: billing\nroles:\n  - name: SalesRep\n";
        let (status, body) = publish(&node, &w.admin, "billing-core", billing, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: another application's roles are its own: {body}");
        node.shutdown().await;
    })
    .await;
}
