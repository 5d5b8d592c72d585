//! `/api/v1/modules` and `/api/v1/environments` end to end: every IT permission level
//! against every lifecycle operation (the seed's contractor included), breaking changes,
//! deployment checks, staging, rollback, separation of duties, and concurrent publishes and
//! deployments, on SQLite and PostgreSQL.

use rampart_core::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem_type, Node, USER_PASSWORD};

pub(crate) fn example(name: &str) -> String {
    let path = format!("{}/../../examples/sales/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) async fn it_write(node: &Node, admin: &str, ops: Value) {
    let (status, body) = node
        .post("/api/v1/it/write", admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
}

pub(crate) async fn publish(
    node: &Node,
    token: &str,
    module: &str,
    source: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({ "source": source, "message": "test change" });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    node.post(&format!("/api/v1/modules/{module}/versions"), token, body)
        .await
}

pub(crate) async fn deploy(
    node: &Node,
    token: &str,
    env: &str,
    modules: Value,
    dry_run: bool,
) -> (StatusCode, Value) {
    node.post(
        &format!("/api/v1/environments/{env}/deployments"),
        token,
        json!({ "modules": modules, "dry_run": dry_run }),
    )
    .await
}

/// The sales application of `examples/`, with the IT users of the matrix.
pub(crate) struct World {
    pub(crate) admin: String,
    pub(crate) dev: String,
    pub(crate) contractor: String,
    pub(crate) ops: String,
    pub(crate) ops2: String,
    pub(crate) auditor: String,
    pub(crate) nobody: String,
    pub(crate) enduser: String,
}

pub(crate) async fn world(node: &Node) -> World {
    let admin = node.admin().await;
    let mut ids = Vec::new();
    for user in ["dev", "contractor", "ops", "auditor", "nobody", "ops2"] {
        ids.push(
            node.create_user(Provider::It, user, USER_PASSWORD, false)
                .await,
        );
    }
    node.create_user(Provider::End, "enduser", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/authz/write",
            &admin,
            json!({ "operations": [{ "op": "create_application", "name": "sales" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    it_write(
        node,
        &admin,
        json!([
            { "op": "set_it_role", "user": ids[0], "role": "developer" },
            { "op": "set_it_role", "user": ids[1], "role": "contractor" },
            { "op": "set_it_role", "user": ids[2], "role": "operations" },
            { "op": "set_it_role", "user": ids[3], "role": "auditor" },
            { "op": "set_it_role", "user": ids[5], "role": "operations" },
        ]),
    )
    .await;
    // The shared core service comes from the administrator; the UI module is registered for
    // the contractor, who may change it and only reference the core service.
    let (status, body) = publish(
        node,
        &admin,
        "core-service",
        &example("core-service.yaml"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    it_write(node, &admin, json!([
        { "op": "register_module", "name": "sales-ui", "application": "sales" },
        { "op": "set_override", "user": ids[1], "scope": { "type": "module", "name": "sales-ui" }, "environment": "development", "level": "change" },
    ]))
    .await;
    World {
        dev: node.login("it", "dev", USER_PASSWORD).await,
        contractor: node.login("it", "contractor", USER_PASSWORD).await,
        ops: node.login("it", "ops", USER_PASSWORD).await,
        ops2: node.login("it", "ops2", USER_PASSWORD).await,
        auditor: node.login("it", "auditor", USER_PASSWORD).await,
        nobody: node.login("it", "nobody", USER_PASSWORD).await,
        enduser: node.login("end", "enduser", USER_PASSWORD).await,
        admin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_permission_level_against_every_operation() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        // The contractor publishes the UI module that uses core-service's public elements.
        let (status, body) = publish(
            &node,
            &w.contractor,
            "sales-ui",
            &example("sales-ui.yaml"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(body["version"]["version"], 1);
        assert_eq!(body["version"]["author"], "it:contractor");
        let core = example("core-service.yaml");
        let core_v2 = core.replace("Customers and the sales roles", "Customers and roles");
        let (status, _) = publish(&node, &w.admin, "core-service", &core_v2, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");

        // (who, what, expected status). Levels in development: developer deploy, contractor
        // reference (change on sales-ui by override), operations and auditor reference;
        // below `reference` everywhere (nobody, the end user) a module answers 404 as if it
        // did not exist.
        let users = [
            ("admin", &w.admin),
            ("dev", &w.dev),
            ("contractor", &w.contractor),
            ("ops", &w.ops),
            ("auditor", &w.auditor),
            ("nobody", &w.nobody),
            ("enduser", &w.enduser),
        ];
        let reads: &[(&str, &str, [u16; 7])] = &[
            // admin, dev, contractor, ops, auditor, nobody, end user
            (
                "surface",
                "/api/v1/modules/core-service/surface",
                [200, 200, 200, 200, 200, 404, 404],
            ),
            (
                "versions",
                "/api/v1/modules/core-service/versions",
                [200, 200, 200, 200, 200, 404, 404],
            ),
            (
                "source",
                "/api/v1/modules/core-service/versions/1",
                [200, 200, 403, 403, 403, 404, 404],
            ),
            (
                "diff",
                "/api/v1/modules/core-service/diff?from=1&to=2",
                [200, 200, 403, 403, 403, 404, 404],
            ),
            (
                "own module's source",
                "/api/v1/modules/sales-ui/versions/1",
                [200, 200, 200, 403, 403, 404, 404],
            ),
        ];
        for (what, path, expected) in reads {
            for ((who, token), want) in users.iter().zip(expected) {
                let (status, body) = node.get(path, token).await;
                assert_eq!(status.as_u16(), *want, "{name}: {who} {what}: {body}");
                if status == StatusCode::FORBIDDEN {
                    assert_eq!(problem_type(&body), "forbidden");
                }
                if status == StatusCode::NOT_FOUND {
                    // Below `reference`: the answer a module that does not exist gets.
                    assert_eq!(body["detail"], "module not found", "{name}: {who} {what}");
                }
            }
        }
        // What `reference` sees: names and signatures, never the source.
        let (_, surface) = node
            .get("/api/v1/modules/core-service/surface", &w.contractor)
            .await;
        assert!(surface["entities"]["Customer"].is_object(), "{surface}");
        assert!(
            surface["queries"].get("CustomersPerRegion").is_none(),
            "private query shown"
        );
        assert!(!surface.to_string().contains("SELECT"));

        // Writes: publishing (each row a distinct source), and dry-run deployments, which
        // check permissions without changing anything.
        let writes: &[(&str, [u16; 7])] = &[
            ("publish core-service", [201, 201, 403, 403, 403, 404, 404]),
            ("publish sales-ui", [201, 201, 201, 403, 403, 404, 404]),
            ("deploy to development", [200, 200, 403, 403, 403, 404, 404]),
            ("deploy to quality", [200, 403, 403, 200, 403, 404, 404]),
            // The administrator wrote core-service v1: separation of duties stops them.
            ("deploy to production", [403, 403, 403, 200, 403, 404, 404]),
        ];
        for (what, expected) in writes {
            for ((who, token), want) in users.iter().zip(expected) {
                let (status, body) = match *what {
                    "publish core-service" => {
                        let source = core.replace(
                            "Customers and the sales roles",
                            &format!("Customers ({who})"),
                        );
                        publish(&node, token, "core-service", &source, json!({})).await
                    }
                    "publish sales-ui" => {
                        let source = example("sales-ui.yaml")
                            .replace("Sales pipeline screens", &format!("Screens ({who})"));
                        publish(&node, token, "sales-ui", &source, json!({})).await
                    }
                    _ => {
                        let env = what.rsplit(' ').next().unwrap();
                        deploy(
                            &node,
                            token,
                            env,
                            json!([{ "module": "core-service", "version": 1 }]),
                            true,
                        )
                        .await
                    }
                };
                assert_eq!(status.as_u16(), *want, "{name}: {who} {what}: {body}");
            }
        }
        // Nothing was deployed by the dry runs.
        let (_, running) = node
            .get("/api/v1/environments/development/modules", &w.admin)
            .await;
        assert_eq!(running, json!([]), "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaking_changes_deployment_checks_staging_rollback_and_duties() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let (status, _) = publish(&node, &w.contractor, "sales-ui", &example("sales-ui.yaml"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED);

        // A module whose dependency does not run in the environment is refused.
        let (status, body) = deploy(&node, &w.dev, "development", json!([{ "module": "sales-ui", "version": 1 }]), false).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::CONFLICT, "deployment-refused"), "{name}: {body}");
        assert_eq!(body["breaking"][0]["depends_on"], "core-service");
        assert_eq!(body["breaking"][0]["kind"], "module");
        // Together they deploy; the plan previews first.
        let both = json!([{ "module": "core-service", "version": 1 }, { "module": "sales-ui", "version": 1 }]);
        let (status, plan) = deploy(&node, &w.dev, "development", both.clone(), true).await;
        assert_eq!(status, StatusCode::OK, "{name}: {plan}");
        assert_eq!(plan["applied"], false);
        assert_eq!(plan["changes"].as_array().unwrap().len(), 2);
        let (status, done) = deploy(&node, &w.dev, "development", both, false).await;
        assert_eq!((status, done["applied"].clone()), (StatusCode::OK, json!(true)), "{name}: {done}");

        // Removing the public entity sales-ui uses breaks it: refused, and forcing takes `full`.
        let core = example("core-service.yaml");
        let breaking = core.replace("    database: crm\n    public: true\n", "    database: crm\n");
        let (status, body) = publish(&node, &w.dev, "core-service", &breaking, json!({})).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::CONFLICT, "breaking-change"), "{name}: {body}");
        let b = &body["breaking"][0];
        assert_eq!(
            (b["module"].as_str(), b["environment"].as_str(), b["kind"].as_str(), b["element"].as_str()),
            (Some("sales-ui"), Some("development"), Some("entities"), Some("Customer")),
            "{name}: {body}"
        );
        // Someone who may change core-service but holds nothing on sales-ui learns that a
        // deployed module breaks, not which.
        let (_, me) = node.get("/api/v1/auth/me", &w.nobody).await;
        let nobody_id = me["user"]["id"].as_str().unwrap().to_owned();
        it_write(&node, &w.admin, json!([
            { "op": "set_override", "user": nobody_id, "scope": { "type": "module", "name": "core-service" }, "environment": "development", "level": "change" },
        ]))
        .await;
        let (status, body) = publish(&node, &w.nobody, "core-service", &breaking, json!({})).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::CONFLICT, "breaking-change"), "{name}: {body}");
        assert!(!body.to_string().contains("sales-ui"), "{name}: {body}");
        assert_eq!(body["breaking"][0]["module"], "(a module you hold no level on)", "{name}");
        assert_eq!(body["breaking"][0]["element"], "Customer", "{name}: its own element");
        let (status, _) = publish(&node, &w.dev, "core-service", &breaking, json!({ "force": true })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: deploy < full");
        let (status, forced) = publish(&node, &w.admin, "core-service", &breaking, json!({ "force": true })).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {forced}");
        assert_eq!(forced["forced"][0]["element"], "Customer");
        let events = node.events().await;
        let publish_event = events.iter().rev().find(|e| e.action == "module.publish").unwrap();
        assert!(publish_event.details.contains("forced_breaking_changes"), "{}", publish_event.details);
        // ...but deploying the breaking version under a running dependant is refused.
        let (status, body) = deploy(&node, &w.dev, "development", json!([{ "module": "core-service", "version": 2 }]), false).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::CONFLICT, "deployment-refused"), "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("Customer"), "{body}");

        // Staging development → quality by operations.
        let (status, staged) = node
            .post("/api/v1/environments/quality/stage", &w.ops, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {staged}");
        assert_eq!(staged["deployments"].as_array().unwrap().len(), 2);
        assert!(staged["deployments"].as_array().unwrap().iter().all(|d| d["kind"] == "stage" && d["from"] == "development"));
        // Separation of duties in production: the administrator wrote core-service v1.
        let (status, body) = node
            .post("/api/v1/environments/production/stage", &w.admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("separation of duties"), "{body}");
        // Production also needs a second approver: the stage waits as a request.
        let (status, body) = node
            .post("/api/v1/environments/production/stage", &w.ops, json!({}))
            .await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::ACCEPTED, Some("pending-approval")), "{name}: {body}");
        let request = body["request"].as_i64().unwrap();
        let (_, running) = node.get("/api/v1/environments/production/modules", &w.ops).await;
        assert_eq!(running, json!([]), "{name}: nothing applied before approval");
        let approve = format!("/api/v1/environments/production/requests/{request}/approve");
        for (who, token, want) in [
            ("the requester", &w.ops, StatusCode::FORBIDDEN),
            ("the author of core-service v1", &w.admin, StatusCode::FORBIDDEN),
            ("a developer without deploy", &w.dev, StatusCode::FORBIDDEN),
        ] {
            let (status, body) = node.post(&approve, token, json!(null)).await;
            assert_eq!(status, want, "{name}: {who}: {body}");
        }
        let (_, pending) = node.get("/api/v1/environments/production/requests?status=pending", &w.ops2).await;
        assert_eq!(pending[0]["id"], request, "{name}: {pending}");
        assert_eq!(pending[0]["items"].as_array().unwrap().len(), 2);
        let (status, body) = node.post(&approve, &w.ops2, json!(null)).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("applied")), "{name}: {body}");
        let (status, _) = node.post(&approve, &w.ops2, json!(null)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: approved once");
        let (_, running) = node.get("/api/v1/environments/production/modules", &w.ops).await;
        assert_eq!(running, json!([{ "module": "core-service", "version": 1 }, { "module": "sales-ui", "version": 1 }]), "{name}");

        // The newest core-service is the breaking one, so dependants cannot publish against
        // it until a compatible version follows.
        let ui_v2 = example("sales-ui.yaml").replace("Sales pipeline screens", "Pipeline screens");
        let (status, body) = publish(&node, &w.contractor, "sales-ui", &ui_v2, json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("entities `Customer` of `core-service`"), "{body}");
        let fixed = core.replace("Customers and the sales roles", "Customers, again public");
        let (status, _) = publish(&node, &w.admin, "core-service", &fixed, json!({})).await;
        assert_eq!(status, StatusCode::CREATED);

        // Rollback: sales-ui v2 in development, then back to v1.
        let (status, _) = publish(&node, &w.contractor, "sales-ui", &ui_v2, json!({})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = deploy(&node, &w.dev, "development", json!([{ "module": "sales-ui", "version": 2 }]), false).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["changes"][0]["changes"], json!({}), "{name}: only the description changed: {body}");
        let (status, body) = node
            .post("/api/v1/environments/development/rollback", &w.dev, json!({ "module": "sales-ui" }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!((body["changes"][0]["from"].as_i64(), body["changes"][0]["to"].as_i64()), (Some(2), Some(1)));
        let (_, history) = node.get("/api/v1/environments/development/deployments?module=sales-ui", &w.dev).await;
        let kinds: Vec<&str> = history["items"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["rollback", "deploy", "deploy"], "{name}: {history}");
        let (status, body) = node
            .post("/api/v1/environments/quality/rollback", &w.ops, json!({ "module": "sales-ui" }))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: nothing before the first: {body}");
        // A request can be rejected (with a reason, in the audit trail) and then not approved.
        let (status, body) = node
            .post("/api/v1/environments/production/deployments", &w.ops, json!({ "modules": [{ "module": "core-service", "version": 3 }] }))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
        let request = body["request"].as_i64().unwrap();
        let reject = format!("/api/v1/environments/production/requests/{request}/reject");
        let (status, _) = node.post(&reject, &w.ops2, json!({ "reason": "" })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = node.post(&reject, &w.ops2, json!({ "reason": "not in the change window" })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, _) = node
            .post(&format!("/api/v1/environments/production/requests/{request}/approve"), &w.ops2, json!(null))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: rejected requests stay rejected");

        // Versions that run somewhere cannot be deleted; others can, by `change`.
        let (status, body) = node.delete("/api/v1/modules/sales-ui/versions/1", &w.contractor).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("development"), "{body}");
        let (status, _) = node.delete("/api/v1/modules/sales-ui/versions/2", &w.ops).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = node.delete("/api/v1/modules/sales-ui/versions/2", &w.contractor).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, _) = node.get("/api/v1/modules/sales-ui/versions/2", &w.contractor).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Every step is in the audit trail.
        let actions: Vec<String> = node.events().await.into_iter().map(|e| e.action).collect();
        for a in [
            "module.publish",
            "module.deploy",
            "module.stage",
            "module.rollback",
            "module.version.delete",
            "module.deploy.request",
            "module.deploy.approve",
            "module.deploy.reject",
        ] {
            assert!(actions.iter().any(|x| x == a), "{name}: {a} missing");
        }
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_named_and_changes_nothing() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let before = node.events().await.len();
        let broken = "module: sales-ui\napplication: sales\nroles:\n  - name: Rep\nscreens:\n  - name: S\n    kind: list\n    roles: [Repp]\n";
        let (status, body) = publish(&node, &w.admin, "sales-ui", broken, json!({})).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid-module"), "{name}: {body}");
        let e = &body["errors"][0];
        assert_eq!((e["pos"]["line"].as_u64(), e["pos"]["col"].as_u64()), (Some(8), Some(13)), "{body}");
        assert_eq!(e["class"], "unresolved-reference");
        assert_eq!(e["hint"], "did you mean `Rep`?");
        for (path, body, want) in [
            ("/api/v1/modules/other/versions", json!({ "source": example("core-service.yaml"), "message": "m" }), 422),
            ("/api/v1/modules/core-service/versions", json!({ "source": example("core-service.yaml"), "message": "" }), 422),
            ("/api/v1/modules/core-service/versions", json!({ "source": "module: x", "message": "m", "colour": 1 }), 422),
            ("/api/v1/modules/core-service/versions", json!({ "source": example("core-service.yaml").replace("application: sales", "application: nowhere"), "message": "m" }), 422),
            ("/api/v1/environments/moon/deployments", json!({ "modules": [{ "module": "core-service", "version": 1 }] }), 422),
            ("/api/v1/environments/development/deployments", json!({ "modules": [{ "module": "core-service", "version": 9 }] }), 422),
            ("/api/v1/environments/development/deployments", json!({ "modules": [{ "module": "ghost", "version": 1 }] }), 404),
            ("/api/v1/environments/development/deployments", json!({ "modules": [] }), 422),
            ("/api/v1/environments/development/stage", json!({}), 422),
        ] {
            let (status, problem) = node.post(path, &w.admin, body).await;
            assert_eq!(status.as_u16(), want, "{name}: {path}: {problem}");
        }
        for (path, want) in [
            ("/api/v1/modules/core-service/versions/0", 422),
            ("/api/v1/modules/core-service/versions/x", 422),
            ("/api/v1/modules/core-service/versions/7", 404),
            ("/api/v1/modules/ghost/versions", 404),
            ("/api/v1/modules/core-service/diff?from=1", 400),
        ] {
            let (status, problem) = node.get(path, &w.admin).await;
            assert!(status.as_u16() == want || (want == 400 && status == StatusCode::UNPROCESSABLE_ENTITY), "{name}: {path}: {status} {problem}");
        }
        assert_eq!(node.events().await.len(), before, "{name}: nothing was written");
        // Publishing the same source again writes nothing and says so.
        let (status, body) = publish(&node, &w.admin, "core-service", &example("core-service.yaml"), json!({})).await;
        assert_eq!((status, body["created"].clone()), (StatusCode::OK, json!(false)), "{name}: {body}");
        assert_eq!(body["version"]["version"], 1);
        // A module source over `max_body_bytes` (1 MiB) publishes under its own limit
        // (`max_module_bytes`, 16 MiB); any other body that large is refused with 413.
        let padding = "x".repeat(1_200_000);
        let big = example("core-service.yaml").replacen("description: ", &format!("description: {padding} "), 1);
        let (status, body) = publish(&node, &w.admin, "core-service", &big, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {}", body.to_string().chars().take(300).collect::<String>());
        let (status, _) = node
            .post("/api/v1/it/write", &w.admin, json!({ "operations": [{ "op": "create_team", "name": padding }] }))
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_and_deployments_one_wins_the_other_conflicts() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let core = example("core-service.yaml");
        for round in 0..4 {
            let (_, versions) = node.get("/api/v1/modules/core-service/versions", &w.admin).await;
            let parent = versions[0]["version"].as_i64().unwrap();
            let attempts = ["a", "b"].map(|who| {
                let source = core.replace("Customers and the sales roles", &format!("Round {round} by {who}"));
                let body = json!({ "source": source, "message": "race", "parent": parent });
                let (client, url, token) = (node.client.clone(), format!("{}/api/v1/modules/core-service/versions", node.base), w.admin.clone());
                tokio::spawn(async move {
                    let r = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
                    r.status()
                })
            });
            let mut statuses = Vec::new();
            for a in attempts {
                statuses.push(a.await.unwrap().as_u16());
            }
            statuses.sort_unstable();
            assert_eq!(statuses, [201, 409], "{name}: round {round}");
        }
        let (_, versions) = node.get("/api/v1/modules/core-service/versions", &w.admin).await;
        assert_eq!(versions.as_array().unwrap().len(), 5, "{name}: one version per round, plus the first");

        for round in 0..4 {
            let (_, running) = node.get("/api/v1/environments/development/modules", &w.dev).await;
            let current = running.as_array().unwrap().first().map_or(0, |r| r["version"].as_i64().unwrap());
            let targets: Vec<i64> = (1..=5).filter(|v| *v != current).skip(round % 3).take(2).collect();
            let attempts = targets.into_iter().map(|v| {
                let body = json!({ "modules": [{ "module": "core-service", "version": v, "expected": current }] });
                let (client, url, token) = (node.client.clone(), format!("{}/api/v1/environments/development/deployments", node.base), w.dev.clone());
                tokio::spawn(async move {
                    let r = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
                    (r.status().as_u16(), r.text().await.unwrap_or_default())
                })
            }).collect::<Vec<_>>();
            let mut answers = Vec::new();
            for a in attempts {
                answers.push(a.await.unwrap());
            }
            answers.sort_unstable();
            let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
            assert_eq!(statuses, [200, 409], "{name}: round {round}: {answers:?}");
            let (_, history) = node.get("/api/v1/environments/development/deployments", &w.dev).await;
            assert_eq!(history["items"].as_array().unwrap().len(), round + 1, "{name}: nothing half-applied");
        }
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_tags_snapshot_versions_and_deploy_together() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let (status, _) = publish(&node, &w.contractor, "sales-ui", &example("sales-ui.yaml"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED);
        let tags = "/api/v1/applications/sales/tags";
        let (status, _) = node.post(tags, &w.contractor, json!({ "tag": "1.0" })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: reference on the application");
        let (status, tag) = node
            .post(tags, &w.dev, json!({ "tag": "1.0", "notes": "First release." }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {tag}");
        assert_eq!(tag["modules"], json!({ "core-service": 1, "sales-ui": 1 }), "{name}");
        for (body, want) in [
            (json!({ "tag": "1.0" }), 409),
            (json!({ "tag": "has space" }), 422),
            (json!({ "tag": "2.0", "modules": { "core-service": 9 } }), 422),
            (json!({ "tag": "2.0", "modules": {} }), 422),
        ] {
            let (status, problem) = node.post(tags, &w.dev, body.clone()).await;
            assert_eq!(status.as_u16(), want, "{name}: {body}: {problem}");
        }
        let (status, _) = node.post("/api/v1/applications/nowhere/tags", &w.admin, json!({ "tag": "1" })).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, list) = node.get(tags, &w.auditor).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{name}: {list}");
        assert_eq!(list[0]["notes"], "First release.");

        // A tag deploys as one plan; its versions cannot be deleted.
        let deploy_tag = json!({ "application": "sales", "tag": "1.0" });
        let (status, body) = node
            .post("/api/v1/environments/development/deployments", &w.dev, deploy_tag.clone())
            .await;
        assert_eq!((status, body["deployments"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{name}: {body}");
        let ui_v2 = example("sales-ui.yaml").replace("Sales pipeline screens", "Pipeline screens");
        let (status, _) = publish(&node, &w.contractor, "sales-ui", &ui_v2, json!({})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = node
            .post("/api/v1/environments/development/deployments", &w.dev, json!({ "modules": [{ "module": "sales-ui", "version": 2 }] }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, body) = node.delete("/api/v1/modules/sales-ui/versions/1", &w.contractor).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("tag"), "{body}");
        for body in [
            json!({ "application": "sales", "tag": "9.9" }),
            json!({ "application": "sales" }),
            json!({ "application": "sales", "tag": "1.0", "modules": [{ "module": "sales-ui", "version": 1 }] }),
        ] {
            let (status, problem) = node
                .post("/api/v1/environments/development/deployments", &w.dev, body.clone())
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}: {problem}");
        }
        assert!(node.events().await.iter().any(|e| e.action == "application.tag"), "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_are_configurable_in_order_and_policy() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        let names = |list: &Value| -> Vec<String> {
            list.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect()
        };
        let (_, before) = node.get("/api/v1/environments", &w.dev).await;
        assert_eq!(names(&before), ["development", "quality", "production"], "{name}");
        assert_eq!(before[2]["second_approver"], true, "{name}: production has both policies by default");

        // A `test` environment between development and quality, with its levels set in the
        // same batch; production without the second approver.
        let order = json!([
            { "name": "development" },
            { "name": "test" },
            { "name": "quality" },
            { "name": "production", "separation_of_duties": true },
        ]);
        let (status, _) = node
            .post("/api/v1/it/write", &w.ops, json!({ "operations": [{ "op": "set_environments", "environments": order }] }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: administrators only");
        it_write(&node, &w.admin, json!([
            { "op": "set_environments", "environments": order },
            { "op": "set_role_level", "role": "developer", "environment": "test", "level": "deploy" },
        ]))
        .await;
        let (_, after) = node.get("/api/v1/environments", &w.dev).await;
        assert_eq!(names(&after), ["development", "test", "quality", "production"], "{name}");
        assert_eq!((after[3]["separation_of_duties"].clone(), after[3]["second_approver"].clone()), (json!(true), json!(false)), "{name}");

        // Staging follows the new order: development promotes to test (the developer's
        // `deploy` there comes from the level set in the batch; a new environment gives
        // other roles `none`).
        let (status, body) = deploy(&node, &w.dev, "development", json!([{ "module": "core-service", "version": 1 }]), false).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, body) = node.post("/api/v1/environments/test/stage", &w.dev, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (_, running) = node.get("/api/v1/environments/test/modules", &w.dev).await;
        assert_eq!(running[0]["module"], "core-service", "{name}: {running}");
        // An environment where the operations role starts with `none`.
        let (status, _) = node.post("/api/v1/environments/test/stage", &w.ops, json!({ "dry_run": true })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        // Production without a second approver applies at once (separation of duties stays).
        let (status, body) = node.post("/api/v1/environments/production/stage", &w.ops, json!({ "from": "test" })).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");

        // Bad lists change nothing; an environment where modules run cannot be removed.
        for (list, want) in [
            (json!([]), 422),
            (json!([{ "name": "development" }, { "name": "development" }]), 422),
            (json!([{ "name": "has space" }]), 422),
            (json!([{ "name": "development", "colour": "red" }]), 422),
            (json!([{ "name": "development" }, { "name": "quality" }, { "name": "production" }]), 409),
        ] {
            let (status, problem) = node
                .post("/api/v1/it/write", &w.admin, json!({ "operations": [{ "op": "set_environments", "environments": list }] }))
                .await;
            assert_eq!(status.as_u16(), want, "{name}: {list}: {problem}");
        }
        let (_, same) = node.get("/api/v1/environments", &w.dev).await;
        assert_eq!(same, after, "{name}: nothing changed");
        // Quality runs nothing: it can go, and its levels with it.
        it_write(&node, &w.admin, json!([{ "op": "set_environments", "environments": [
            { "name": "development" }, { "name": "test" }, { "name": "production", "second_approver": true },
        ] }]))
        .await;
        let (_, last) = node.get("/api/v1/environments", &w.dev).await;
        assert_eq!(names(&last), ["development", "test", "production"], "{name}");
        let (status, _) = deploy(&node, &w.dev, "quality", json!([{ "module": "core-service", "version": 1 }]), true).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: quality is gone");
        assert!(node.events().await.iter().any(|e| e.action == "it.environments.set"), "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_plans_carry_settings_abort_retry_and_move_to_the_next_environment() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let w = world(&node).await;
        // sales-ui with a site property every environment must give.
        let ui = example("sales-ui.yaml").replace(
            "properties:\n",
            "properties:\n  - name: RegionCode\n    type: text\n    description: The sales region served.\n",
        );
        let (status, body) = publish(&node, &w.contractor, "sales-ui", &ui, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (status, _) = node.post("/api/v1/applications/sales/tags", &w.dev, json!({ "tag": "1.0" })).await;
        assert_eq!(status, StatusCode::CREATED);

        // Without a value for RegionCode nothing deploys, by any path.
        let (status, problem) = node
            .post("/api/v1/environments/development/deployments", &w.dev, json!({ "application": "sales", "tag": "1.0" }))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains("sales-ui.RegionCode"), "{problem}");

        let plans = "/api/v1/deployment-plans";
        let apps = json!([{ "application": "sales", "tag": "1.0" }]);
        let good = json!({
            "properties": { "sales-ui.RegionCode": "EU", "sales-ui.DiscountApprovalThreshold": 2500 },
            "endpoints": { "sales-ui.Invoicing": "https://invoicing.dev.example.com/api/v2" },
            "secrets": { "sales-ui.Invoicing": "env:INTEGRATION_SECRET_DEVELOPMENT_INVOICING" },
        });
        let count_before = node.get(plans, &w.admin).await.1["items"].as_array().unwrap().len();
        for (body, want, says) in [
            (json!({ "environment": "development", "applications": [{ "application": "sales", "tag": "9.9" }] }), 422, "no tag"),
            (json!({ "environment": "moon", "applications": apps }), 422, "moon"),
            (json!({ "environment": "development", "applications": [] }), 422, "1 to 50"),
            (json!({ "environment": "development", "applications": apps, "settings": { "properties": { "sales-ui.RegionCode": 7 } } }), 422, "text"),
            (json!({ "environment": "development", "applications": apps, "settings": { "properties": { "sales-ui.Colour": "red" } } }), 422, "no site property"),
            (json!({ "environment": "development", "applications": apps, "settings": { "properties": { "billing.X": 1 } } }), 422, "not in the plan"),
            (json!({ "environment": "development", "applications": apps, "settings": { "endpoints": { "sales-ui.Invoicing": "ftp://x" } } }), 422, "http(s)"),
            (json!({ "environment": "development", "applications": apps, "settings": { "secrets": { "sales-ui.Invoicing": "hunter2-token" } } }), 422, "never the secret"),
            (json!({ "environment": "development", "applications": apps, "settings": { "colours": {} } }), 422, "colours"),
        ] {
            let (status, problem) = node.post(plans, &w.dev, body.clone()).await;
            assert_eq!(status.as_u16(), want, "{name}: {body}: {problem}");
            let text = problem.to_string();
            assert!(text.contains(says), "{name}: {says} in {text}");
            assert!(!text.contains("hunter2"), "{name}: a pasted secret is never echoed: {text}");
        }
        let (status, _) = node
            .post(plans, &w.contractor, json!({ "environment": "development", "applications": apps, "settings": good }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: the contractor only references core-service");
        assert_eq!(node.get(plans, &w.admin).await.1["items"].as_array().unwrap().len(), count_before, "{name}: nothing stored");

        // Development: the preview shows every change; the run deploys and configures at once.
        let (status, plan) = node
            .post(plans, &w.dev, json!({ "environment": "development", "applications": apps, "settings": good, "notes": "first release" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {plan}");
        let id = plan["id"].as_i64().unwrap();
        assert_eq!(plan["status"], "draft");
        let preview = &plan["preview"];
        assert_eq!(preview["changes"].as_array().unwrap().len(), 2, "{name}: {preview}");
        assert_eq!(preview["settings"].as_array().unwrap().len(), 4, "{name}: {preview}");
        assert_eq!((preview["missing"].clone(), preview["warnings"].clone()), (json!([]), json!([])), "{name}");
        assert!(preview.get("refused").is_none(), "{name}: {preview}");
        let (status, ran) = node.post(&format!("{plans}/{id}/run"), &w.dev, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {ran}");
        assert_eq!((ran["status"].clone(), ran["runs"].clone()), (json!("finished"), json!(1)), "{name}: {ran}");
        assert_eq!(ran["run"]["deployments"].as_array().unwrap().len(), 2);
        let (_, settings) = node.get("/api/v1/environments/development/settings", &w.dev).await;
        let found: Vec<(String, String, Value)> = settings
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["kind"].as_str().unwrap().to_owned(), s["name"].as_str().unwrap().to_owned(), s["value"].clone()))
            .collect();
        assert!(found.contains(&("property".into(), "RegionCode".into(), json!("EU"))), "{name}: {settings}");
        assert!(found.contains(&("secret".into(), "Invoicing".into(), json!("env:INTEGRATION_SECRET_DEVELOPMENT_INVOICING"))), "{name}: {settings}");
        let (status, _) = node.post(&format!("{plans}/{id}/run"), &w.dev, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: a finished plan does not run twice");

        // Quality: the copy carries the applications, not development's settings; without
        // RegionCode there the run is refused, nothing is deployed, and the plan is aborted.
        let (status, _) = node.post(&format!("{plans}/{id}/copy"), &w.dev, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: developers do not deploy to quality");
        let (status, copy) = node.post(&format!("{plans}/{id}/copy"), &w.ops, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {copy}");
        assert_eq!((copy["environment"].clone(), copy["based_on"].clone()), (json!("quality"), json!(id)));
        assert_eq!(copy["preview"]["missing"], json!(["sales-ui.RegionCode"]), "{name}: {copy}");
        assert_eq!(copy["preview"]["refused"]["status"], 409, "{name}: {copy}");
        assert_eq!(copy["preview"]["warnings"].as_array().unwrap().len(), 1, "{name}: no secret reference in quality");
        let qa = copy["id"].as_i64().unwrap();
        let (status, _) = node.post(&format!("{plans}/{qa}/run"), &w.ops, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}");
        let (_, aborted) = node.get(&format!("{plans}/{qa}"), &w.ops).await;
        assert_eq!(aborted["status"], "aborted", "{name}: {aborted}");
        assert!(aborted["error"].as_str().unwrap().contains("RegionCode"), "{name}: {aborted}");
        let (_, running) = node.get("/api/v1/environments/quality/modules", &w.ops).await;
        assert_eq!(running, json!([]), "{name}: nothing half-applied");
        let (status, copy) = node
            .post(&format!("{plans}/{qa}/copy"), &w.ops, json!({ "environment": "quality", "settings": { "properties": { "sales-ui.RegionCode": "EU" } } }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {copy}");
        let qa2 = copy["id"].as_i64().unwrap();
        let (status, ran) = node.post(&format!("{plans}/{qa2}/run"), &w.ops, json!({})).await;
        assert_eq!((status, ran["status"].clone()), (StatusCode::OK, json!("finished")), "{name}: {ran}");

        // Production (next by default) waits for a second approver; a rejection aborts the
        // plan, a retry waits again, and the approval finishes it with its settings.
        let prod_settings = json!({ "properties": { "sales-ui.RegionCode": "EU" }, "secrets": { "sales-ui.Invoicing": "vault:sales/invoicing" } });
        let (status, copy) = node.post(&format!("{plans}/{qa2}/copy"), &w.ops, json!({ "settings": prod_settings })).await;
        assert_eq!((status, copy["environment"].clone()), (StatusCode::CREATED, json!("production")), "{name}: {copy}");
        let prod = copy["id"].as_i64().unwrap();
        let run = format!("{plans}/{prod}/run");
        let (status, waiting) = node.post(&run, &w.ops, json!({})).await;
        assert_eq!((status, waiting["status"].clone()), (StatusCode::ACCEPTED, json!("waiting")), "{name}: {waiting}");
        let request = waiting["request"].as_i64().unwrap();
        let (status, _) = node.post(&run, &w.ops, json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: it waits already");
        let (status, _) = node
            .post(&format!("/api/v1/environments/production/requests/{request}/reject"), &w.ops2, json!({ "reason": "outside the change window" }))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, aborted) = node.get(&format!("{plans}/{prod}"), &w.ops).await;
        assert_eq!(aborted["status"], "aborted", "{name}: {aborted}");
        assert!(aborted["error"].as_str().unwrap().contains("outside the change window"), "{aborted}");
        let (status, retried) = node.post(&run, &w.ops, json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {retried}");
        let request = retried["request"].as_i64().unwrap();
        let (status, body) = node
            .post(&format!("/api/v1/environments/production/requests/{request}/approve"), &w.ops2, json!(null))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (_, done) = node.get(&format!("{plans}/{prod}"), &w.ops).await;
        assert_eq!((done["status"].clone(), done["runs"].clone()), (json!("finished"), json!(2)), "{name}: two runs: {done}");
        let (_, settings) = node.get("/api/v1/environments/production/settings", &w.ops).await;
        assert!(settings.to_string().contains("vault:sales/invoicing"), "{name}: {settings}");
        let (_, visible) = node.get(plans, &w.nobody).await;
        assert_eq!(visible, json!({ "items": [], "next_cursor": null }), "{name}: plans are shown to those who may see their applications");
        let actions: Vec<String> = node.events().await.into_iter().map(|e| e.action.to_string()).collect();
        for a in ["deployment.plan.create", "deployment.plan.finish", "deployment.plan.abort"] {
            assert!(actions.iter().any(|x| x == a), "{name}: {a}");
        }
        node.shutdown().await;
    })
    .await;
}
