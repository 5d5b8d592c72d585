//! The roles modules declare as their application's roles, end to end on SQLite and
//! PostgreSQL: one module per role name (publishing refuses a second, ignoring case), a
//! deployment creates what its modules declare and the application lacks (grantable at
//! once, audited), nothing is duplicated or taken away by later deployments and rollbacks,
//! and a creation that fails after the deployment committed is reported and made good by
//! deploying again.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::audit::{tamper, Db};
use crate::kit::{no_tweak, on_both, problem_type, Node};
use crate::lifecycle::{deploy, example, it_write, publish, world};

/// The roles of application `sales`, sorted, as the authorization model shows them.
async fn sales_roles(node: &Node, admin: &str) -> Vec<String> {
    let (status, model) = node.get("/api/v1/authz/model", admin).await;
    assert_eq!(status, StatusCode::OK, "{}: {model}", node.name());
    let apps = model["applications"].as_array().unwrap();
    let sales = apps.iter().find(|a| a["name"] == "sales").unwrap();
    sales["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// Each role of application `sales` with its description, read from the database (no API
/// shows role descriptions).
async fn sales_role_descriptions(node: &Node) -> Vec<(String, Option<String>)> {
    let sql = "SELECT r.name, r.description FROM authz_app_roles r \
               JOIN authz_applications a ON a.num = r.app_num \
               WHERE a.name = 'sales' ORDER BY r.name";
    match Db::open(node).await {
        Db::Sqlite(mut c) => sqlx::query_as(sql).fetch_all(&mut c).await.unwrap(),
        Db::Pg(mut c) => sqlx::query_as(sql).fetch_all(&mut c).await.unwrap(),
    }
}

async fn user_id(node: &Node, token: &str) -> String {
    let (_, me) = node.get("/api/v1/auth/me", token).await;
    me["user"]["id"].as_str().unwrap().to_owned()
}

/// Grants `role` of `sales` to `user`; answers the status and body.
async fn grant(node: &Node, admin: &str, role: &str, user: &str) -> (StatusCode, Value) {
    let op = json!({ "op": "grant_role", "application": "sales", "role": role,
                     "principal": { "type": "user", "id": user } });
    node.post("/api/v1/authz/write", admin, json!({ "operations": [op] }))
        .await
}

/// Whether `user` holds `role` of `sales`.
async fn holds(node: &Node, admin: &str, role: &str, user: &str) -> bool {
    let check = json!({ "kind": "role", "user": user, "application": "sales", "role": role });
    let (status, body) = node
        .post("/api/v1/authz/check", admin, json!({ "checks": [check] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    body["results"][0]["allowed"].as_bool().unwrap()
}

fn created(roles: &[&str]) -> Value {
    let list: Vec<Value> = roles
        .iter()
        .map(|r| json!({ "application": "sales", "role": r }))
        .collect();
    json!({ "created": list, "missing": [] })
}

/// The audit trail's role creations: `(target, actor id, request id)`.
async fn role_creations(node: &Node) -> Vec<(String, String, String)> {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "authz.role.create")
        .map(|e| {
            (
                e.target.unwrap_or_default(),
                e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                e.request_id.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploying_creates_the_roles_the_modules_declare_once_and_keeps_their_grants() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let (status, body) = publish(&node, &w.contractor, "sales-ui", &example("sales-ui.yaml"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let end_user = user_id(&node, &w.enduser).await;
        let ops2 = user_id(&node, &w.ops2).await;

        // Published but not deployed: the application has no roles, and none is granted.
        assert!(sales_roles(&node, &w.admin).await.is_empty(), "{name}");
        let (status, body) = grant(&node, &w.admin, "SalesRep", &end_user).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        // A dry run, and a deployment waiting for its second approver, create nothing.
        let both = json!([{ "module": "core-service", "version": 1 }, { "module": "sales-ui", "version": 1 }]);
        let (status, plan) = deploy(&node, &w.dev, "development", both.clone(), true).await;
        assert_eq!(status, StatusCode::OK, "{name}: {plan}");
        assert!(plan.get("roles").is_none(), "{name}: {plan}");
        let (status, waiting) = deploy(&node, &w.ops, "production", both.clone(), false).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {waiting}");
        assert!(waiting.get("roles").is_none(), "{name}: {waiting}");
        assert!(sales_roles(&node, &w.admin).await.is_empty(), "{name}");

        // The approval applies it and creates the roles both modules declare, in their order.
        let request = waiting["request"].as_i64().unwrap();
        let (status, done) = node
            .post(&format!("/api/v1/environments/production/requests/{request}/approve"), &w.ops2, json!(null))
            .await;
        assert_eq!((status, done["status"].clone()), (StatusCode::OK, json!("applied")), "{name}: {done}");
        assert_eq!(done["roles"], created(&["SalesRep", "SalesDirector", "CoreAdmin", "SalesAdmin"]), "{name}");
        assert_eq!(sales_roles(&node, &w.admin).await, ["CoreAdmin", "SalesAdmin", "SalesDirector", "SalesRep"], "{name}");
        let described = |n: &str, d: &str| (n.to_owned(), Some(d.to_owned()));
        assert_eq!(
            sales_role_descriptions(&node).await,
            [
                described("CoreAdmin", "Maintains the customer base."),
                described("SalesAdmin", "Corrects sales entered by mistake."),
                described("SalesDirector", "Sees every customer and sale of the reps below them."),
                described("SalesRep", "Sells to the customers they own."),
            ],
            "{name}: the model's descriptions"
        );
        // Each creation is audited like any role change, under the approver and the request.
        let events = node.events().await;
        let approval = events.iter().rev().find(|e| e.action == "module.deploy.approve").unwrap();
        let creations = role_creations(&node).await;
        assert_eq!(
            creations.iter().map(|(t, _, _)| t.as_str()).collect::<Vec<_>>(),
            [
                "application:sales/role:SalesRep",
                "application:sales/role:SalesDirector",
                "application:sales/role:CoreAdmin",
                "application:sales/role:SalesAdmin",
            ],
            "{name}"
        );
        assert!(
            creations.iter().all(|(_, actor, req)| *actor == ops2 && Some(req) == approval.request_id.as_ref()),
            "{name}: {creations:?} vs {:?}",
            approval.request_id
        );

        // An administrator grants SalesRep to an end user at once, without create_role.
        let (status, body) = grant(&node, &w.admin, "SalesRep", &end_user).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(holds(&node, &w.admin, "SalesRep", &end_user).await, "{name}");

        // Deploying the same versions elsewhere, or again, creates nothing and keeps the grant.
        let (status, body) = deploy(&node, &w.dev, "development", both.clone(), false).await;
        assert_eq!((status, body["status"].clone()), (StatusCode::OK, json!("applied")), "{name}: {body}");
        assert!(body.get("roles").is_none(), "{name}: {body}");
        let (status, body) = deploy(&node, &w.dev, "development", both.clone(), false).await;
        assert_eq!((status, body["status"].clone()), (StatusCode::OK, json!("nothing-to-do")), "{name}: {body}");
        assert!(body.get("roles").is_none(), "{name}: {body}");

        // A version declaring one more role creates just that one; rolling it back keeps it.
        let ui_v2 = example("sales-ui.yaml").replace(
            "roles:\n  - name: SalesAdmin\n",
            "roles:\n  - name: SalesCoach\n    description: Coaches new reps.\n  - name: SalesAdmin\n",
        );
        let (status, body) = publish(&node, &w.contractor, "sales-ui", &ui_v2, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (status, body) = deploy(&node, &w.dev, "development", json!([{ "module": "sales-ui", "version": 2 }]), false).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["roles"], created(&["SalesCoach"]), "{name}");
        let (status, body) = node
            .post("/api/v1/environments/development/rollback", &w.dev, json!({ "module": "sales-ui" }))
            .await;
        assert_eq!((status, body["changes"][0]["to"].clone()), (StatusCode::OK, json!(1)), "{name}: {body}");
        assert!(body.get("roles").is_none(), "{name}: {body}");
        assert_eq!(
            sales_roles(&node, &w.admin).await,
            ["CoreAdmin", "SalesAdmin", "SalesCoach", "SalesDirector", "SalesRep"],
            "{name}: no duplicate, nothing removed"
        );
        assert!(holds(&node, &w.admin, "SalesRep", &end_user).await, "{name}: the grant stays");
        assert_eq!(role_creations(&node).await.len(), 5, "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deployments_create_each_declared_role_once() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let core = json!([{ "module": "core-service", "version": 1 }]);
        let url = |env: &str| format!("{}/api/v1/environments/{env}/deployments", node.base);
        for round in 0..6 {
            if round > 0 {
                // The roles go, so both deployments (now with nothing else to do) need them.
                let ops: Vec<Value> = ["SalesRep", "SalesDirector", "CoreAdmin"]
                    .iter()
                    .map(|r| json!({ "op": "delete_role", "application": "sales", "name": r }))
                    .collect();
                let (status, body) = node
                    .post(
                        "/api/v1/authz/write",
                        &w.admin,
                        json!({ "operations": ops }),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{name}: {body}");
            }
            let attempts = [("development", &w.dev), ("quality", &w.ops)].map(|(env, token)| {
                let (client, url, token, body) = (
                    node.client.clone(),
                    url(env),
                    token.clone(),
                    json!({ "modules": core }),
                );
                tokio::spawn(async move {
                    let r = client
                        .post(url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    (r.status(), r.json::<Value>().await.unwrap())
                })
            });
            let mut created = Vec::new();
            for a in attempts {
                let (status, body) = a.await.unwrap();
                assert_eq!(status, StatusCode::OK, "{name}: round {round}: {body}");
                assert!(
                    body["roles"].get("error").is_none()
                        && body["roles"].get("missing").is_none_or(|m| *m == json!([])),
                    "{name}: round {round}: {body}"
                );
                for r in body["roles"]["created"].as_array().into_iter().flatten() {
                    created.push(r["role"].as_str().unwrap().to_owned());
                }
            }
            created.sort();
            assert_eq!(
                created,
                ["CoreAdmin", "SalesDirector", "SalesRep"],
                "{name}: round {round}: created once"
            );
            assert_eq!(
                sales_roles(&node, &w.admin).await,
                ["CoreAdmin", "SalesDirector", "SalesRep"],
                "{name}"
            );
        }
        assert_eq!(
            node.server().state.metrics.deployment_role_failures.get(),
            0,
            "{name}"
        );
        node.shutdown().await;
    })
    .await;
}

/// Makes every insert into the application roles' table fail, or (`false`) stops that.
async fn refuse_role_inserts(node: &Node, refuse: bool) {
    let statements: &[&str] = match (node.server().state.config.database_url.is_empty(), refuse) {
        (true, true) => &[
            "CREATE TRIGGER refuse_roles BEFORE INSERT ON authz_app_roles \
                           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        (true, false) => &["DROP TRIGGER refuse_roles"],
        (false, true) => &[
            "CREATE FUNCTION refuse_roles() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse_roles BEFORE INSERT ON authz_app_roles \
             FOR EACH ROW EXECUTE FUNCTION refuse_roles()",
        ],
        (false, false) => &["DROP TRIGGER refuse_roles ON authz_app_roles"],
    };
    for sql in statements {
        tamper(node, sql).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_a_deployment_failed_to_create_are_reported_and_created_by_deploying_again() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let end_user = user_id(&node, &w.enduser).await;
        let failures = || node.server().state.metrics.deployment_role_failures.get();
        refuse_role_inserts(&node, true).await;

        // The deployment commits; the roles cannot be created. The answer says it was
        // applied, which roles are missing, and what to do.
        let core = json!([{ "module": "core-service", "version": 1 }]);
        let (status, body) = deploy(&node, &w.dev, "development", core.clone(), false).await;
        assert_eq!(
            (status, body["status"].clone()),
            (StatusCode::OK, json!("applied")),
            "{name}: {body}"
        );
        let missing: Vec<&str> = body["roles"]["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            missing,
            ["SalesRep", "SalesDirector", "CoreAdmin"],
            "{name}: {body}"
        );
        assert_eq!(body["roles"]["created"], json!([]), "{name}");
        let error = body["roles"]["error"].as_str().unwrap();
        assert!(
            error.contains("deploy the same versions again"),
            "{name}: {error}"
        );
        assert!(
            !error.contains("refused by the test"),
            "{name}: the cause is for the log: {error}"
        );
        assert_eq!(failures(), 1, "{name}: counted for alerting");
        let metrics = node.server().state.metrics.render();
        assert!(
            metrics.contains("rampart_deployment_role_failures_total 1"),
            "{name}: {metrics}"
        );
        let (_, running) = node
            .get("/api/v1/environments/development/modules", &w.dev)
            .await;
        assert_eq!(
            running,
            json!([{ "module": "core-service", "version": 1 }]),
            "{name}: the deployment stands"
        );
        assert!(
            sales_roles(&node, &w.admin).await.is_empty(),
            "{name}: nothing half-created"
        );
        assert!(role_creations(&node).await.is_empty(), "{name}");
        let (status, _) = grant(&node, &w.admin, "SalesRep", &end_user).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");

        // Deploying the same version again has nothing else to do and creates them.
        refuse_role_inserts(&node, false).await;
        let (status, body) = deploy(&node, &w.dev, "development", core, false).await;
        assert_eq!(
            (status, body["status"].clone()),
            (StatusCode::OK, json!("nothing-to-do")),
            "{name}: {body}"
        );
        assert_eq!(
            body["roles"],
            created(&["SalesRep", "SalesDirector", "CoreAdmin"]),
            "{name}"
        );
        assert_eq!(failures(), 1, "{name}");
        let (status, body) = grant(&node, &w.admin, "SalesRep", &end_user).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(
            holds(&node, &w.admin, "SalesRep", &end_user).await,
            "{name}"
        );
        assert_eq!(role_creations(&node).await.len(), 3, "{name}");
        node.shutdown().await;
    })
    .await;
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
