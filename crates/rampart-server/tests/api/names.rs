//! Module names cannot be squatted: administrators reserve, transfer and release them; a
//! publish registers a new name only for an application the publisher holds `change` on and
//! only when it is not reserved for another; every registration, reservation, transfer and
//! release is an audit event naming the application; on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use rampart_core::Provider;

use crate::kit::{no_tweak, on_both, problem_type, Node, USER_PASSWORD};

/// A module with a role of its own (each role of an application is declared by one module).
fn source(module: &str, application: &str, description: &str) -> String {
    let role = format!("Clerk_{}", module.replace('-', "_"));
    format!(
        "module: {module}\napplication: {application}\ndescription: {description}\nroles:\n  - name: {role}\n    description: Works here.\n"
    )
}

async fn publish(
    node: &Node,
    token: &str,
    module: &str,
    application: &str,
    description: &str,
) -> (StatusCode, Value) {
    node.post(
        &format!("/api/v1/modules/{module}/versions"),
        token,
        json!({ "source": source(module, application, description), "message": "m" }),
    )
    .await
}

/// How many `system` events there are (end users' requests add `access` events).
async fn changes(node: &Node) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| e.stream == "system")
        .count()
}

/// The events of `action`, as (target, application, details).
async fn events(node: &Node, action: &str) -> Vec<(String, Option<String>, Value)> {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| {
            (
                e.target.unwrap_or_default(),
                e.application,
                serde_json::from_str(&e.details).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_names_cannot_be_squatted_and_administrators_reserve_transfer_and_release_them() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let mut ids = Vec::new();
        for user in ["gamer", "hrdev", "dev"] {
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
                json!({ "operations": [
                    { "op": "create_application", "name": "hr" },
                    { "op": "create_application", "name": "games" },
                ] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, body) = node
            .post(
                "/api/v1/it/write",
                &admin,
                json!({ "operations": [
                    { "op": "set_override", "user": ids[0], "scope": { "type": "application", "name": "games" }, "level": "full" },
                    { "op": "set_override", "user": ids[1], "scope": { "type": "application", "name": "hr" }, "level": "full" },
                    { "op": "set_it_role", "user": ids[2], "role": "developer" },
                ] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let gamer = node.login("it", "gamer", USER_PASSWORD).await;
        let hrdev = node.login("it", "hrdev", USER_PASSWORD).await;
        let dev = node.login("it", "dev", USER_PASSWORD).await;
        let enduser = node.login("end", "enduser", USER_PASSWORD).await;
        let names = "/api/v1/module-names";

        // Only administrators manage names, and a refusal writes nothing.
        let before = changes(&node).await;
        for token in [&gamer, &hrdev, &dev, &enduser] {
            for (method, path, body) in [
                (Method::GET, names.to_owned(), None),
                (Method::POST, names.to_owned(), Some(json!({ "name": "payroll", "application": "hr" }))),
                (Method::POST, format!("{names}/payroll/transfer"), Some(json!({ "application": "hr" }))),
                (Method::DELETE, format!("{names}/payroll"), None),
            ] {
                let response = node.request(method.clone(), &path, Some(token), body).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                assert_eq!((status, problem_type(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{name}: {method} {path}: {body}");
            }
        }
        assert_eq!(changes(&node).await, before, "{name}: refusals write nothing");

        // Reserved for hr: games cannot take it, and is not told whose it is.
        let (status, reserved) = node
            .post(names, &admin, json!({ "name": "payroll", "application": "hr" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {reserved}");
        assert_eq!((reserved["application"].as_str(), reserved["status"].as_str()), (Some("hr"), Some("reserved")));
        let (status, problem) = publish(&node, &gamer, "payroll", "games", "Payroll").await;
        assert_eq!((status, problem_type(&problem)), (StatusCode::CONFLICT, "conflict"), "{name}: {problem}");
        assert!(!problem["detail"].as_str().unwrap().contains("hr"), "{name}: the owner is not named: {problem}");
        // Declaring the owner's application does not help someone who holds nothing there.
        let (status, problem) = publish(&node, &gamer, "payroll", "hr", "Payroll").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {problem}");
        // Nor does registering it by the IT write API (full on games is enough otherwise).
        let register_payroll = json!({ "operations": [{ "op": "register_module", "name": "payroll", "application": "games" }] });
        let (status, reserved_answer) = node.post("/api/v1/it/write", &gamer, register_payroll.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {reserved_answer}");
        // The rightful owner publishes; the reservation becomes the registration.
        let (status, body) = publish(&node, &hrdev, "payroll", "hr", "Payroll").await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (_, list) = node.get(names, &admin).await;
        assert_eq!(
            list,
            json!([{ "name": "payroll", "application": "hr", "status": "registered", "since": "2026-06-01T09:00:00Z" }]),
            "{name}"
        );
        let registered = events(&node, "it.module.register").await;
        assert_eq!(registered.len(), 1, "{name}: {registered:?}");
        assert_eq!((registered[0].0.as_str(), registered[0].1.as_deref()), ("module:payroll", Some("hr")), "{name}");
        assert_eq!(registered[0].2["reserved"], true, "{name}");
        // Registered now: the refusal reads the same as when it was only reserved.
        let (status, registered_answer) = node.post("/api/v1/it/write", &gamer, register_payroll).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}");
        assert_eq!(registered_answer["detail"], reserved_answer["detail"], "{name}");
        assert!(!registered_answer["detail"].as_str().unwrap().contains("hr"), "{name}: {registered_answer}");

        // An unreserved name is taken by the first publish within the publisher's own
        // application; the administrator hands it to its rightful owner, module and all.
        let (status, _) = publish(&node, &gamer, "benefits", "games", "Squatted").await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let (status, problem) = publish(&node, &hrdev, "benefits", "hr", "Benefits").await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {problem}");
        assert!(!problem["detail"].as_str().unwrap().contains("games"), "{name}: {problem}");
        // Tagging with another application's module tells no more than with no module.
        let mut answers = Vec::new();
        for module in ["benefits", "ghost"] {
            let (status, problem) = node
                .post("/api/v1/applications/hr/tags", &hrdev, json!({ "tag": "1.0", "modules": { module: 1 } }))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {problem}");
            answers.push(problem["detail"].as_str().unwrap().replace(module, "M"));
        }
        assert_eq!(answers[0], answers[1], "{name}");
        let (status, moved) = node
            .post(&format!("{names}/benefits/transfer"), &admin, json!({ "application": "hr" }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {moved}");
        assert_eq!((moved["application"].as_str(), moved["status"].as_str()), (Some("hr"), Some("registered")));
        let (status, body) = publish(&node, &hrdev, "benefits", "hr", "Benefits").await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(body["version"]["version"], 2, "{name}");
        // The squatter holds nothing on it any more: it does not exist for them.
        let (status, _) = node.get("/api/v1/modules/benefits/versions", &gamer).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        let (status, _) = node.get("/api/v1/modules/benefits/versions", &hrdev).await;
        assert_eq!(status, StatusCode::OK, "{name}");

        // Reservations move and go; registered names only move; bad requests change nothing.
        let (status, _) = node.post(names, &admin, json!({ "name": "pension", "application": "hr" })).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let before = changes(&node).await;
        for (method, path, body, want) in [
            (Method::POST, names.to_owned(), Some(json!({ "name": "pension", "application": "games" })), 409),
            (Method::POST, names.to_owned(), Some(json!({ "name": "payroll", "application": "games" })), 409),
            (Method::POST, names.to_owned(), Some(json!({ "name": "a.b", "application": "hr" })), 422),
            (Method::POST, names.to_owned(), Some(json!({ "name": "ledger", "application": "nowhere" })), 422),
            (Method::POST, names.to_owned(), Some(json!({ "name": "ledger", "application": "hr", "colour": 1 })), 422),
            (Method::POST, format!("{names}/pension/transfer"), Some(json!({ "application": "hr" })), 409),
            (Method::POST, format!("{names}/ghost/transfer"), Some(json!({ "application": "hr" })), 404),
            (Method::DELETE, format!("{names}/payroll"), None, 409),
            (Method::DELETE, format!("{names}/ghost"), None, 404),
        ] {
            let response = node.request(method.clone(), &path, Some(&admin), body.clone()).await;
            let status = response.status();
            let problem: Value = response.json().await.unwrap();
            assert_eq!(status.as_u16(), want, "{name}: {method} {path} {body:?}: {problem}");
        }
        assert_eq!(changes(&node).await, before, "{name}: refused changes write nothing");
        let (status, moved) = node
            .post(&format!("{names}/pension/transfer"), &admin, json!({ "application": "games" }))
            .await;
        assert_eq!((status, moved["status"].as_str()), (StatusCode::OK, Some("reserved")), "{name}: {moved}");
        let (status, problem) = publish(&node, &hrdev, "pension", "hr", "Pension").await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {problem}");
        let (status, _) = node.delete(&format!("{names}/pension"), &admin).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, body) = publish(&node, &hrdev, "pension", "hr", "Pension").await;
        assert_eq!(status, StatusCode::CREATED, "{name}: released, anyone may register it: {body}");

        // Every change is in the system stream, naming the application that holds the name
        // (for a release, the one that held it).
        let reserves = events(&node, "module.name.reserve").await;
        assert_eq!(
            reserves.iter().map(|(t, a, _)| (t.as_str(), a.as_deref())).collect::<Vec<_>>(),
            [("module:payroll", Some("hr")), ("module:pension", Some("hr"))],
            "{name}"
        );
        let transfers = events(&node, "module.name.transfer").await;
        assert_eq!(transfers.len(), 2, "{name}: {transfers:?}");
        assert_eq!((transfers[0].1.as_deref(), transfers[0].2["from"].as_str(), transfers[0].2["registered"].as_bool()), (Some("hr"), Some("games"), Some(true)), "{name}");
        assert_eq!((transfers[1].1.as_deref(), transfers[1].2["from"].as_str(), transfers[1].2["registered"].as_bool()), (Some("games"), Some("hr"), Some(false)), "{name}");
        let releases = events(&node, "module.name.release").await;
        assert_eq!((releases.len(), releases[0].1.as_deref()), (1, Some("games")), "{name}");
        let registrations: Vec<_> = events(&node, "it.module.register").await.into_iter().map(|(t, a, _)| (t, a)).collect();
        assert_eq!(
            registrations,
            [
                ("module:payroll".to_owned(), Some("hr".to_owned())),
                ("module:benefits".to_owned(), Some("games".to_owned())),
                ("module:pension".to_owned(), Some("hr".to_owned())),
            ],
            "{name}"
        );
        for e in node.events().await.iter().filter(|e| e.action.starts_with("module.name.")) {
            assert_eq!((e.stream.as_str(), e.actor_name.as_deref()), ("system", Some("it:admin")), "{name}");
        }
        node.shutdown().await;
    })
    .await;
}
