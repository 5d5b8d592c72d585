//! What an attacker or a careless client tries first: bodies of the wrong kind, reads with
//! side effects, logins nobody is the actor of, and authorization data read by people who
//! hold nothing. Each test pins a hole found from outside, on both stores.

use rampart_core::{Clock, Provider};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem, problem_type, Node, ADMIN_PASSWORD, USER_PASSWORD};

async fn raw_post(node: &Node, path: &str, token: Option<&str>, body: &str) -> reqwest::Response {
    let mut req = node
        .client
        .post(format!("{}{path}", node.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// serde's derived structs accept the sequence form; a body in that form once logged in,
/// created an administrator and cleared a user's name. Every body must be an object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_body_is_a_json_object() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let dana = node
            .create_user(Provider::End, "dana", USER_PASSWORD, false)
            .await;
        let (status, _) = node
            .patch(
                &format!("/api/v1/users/{dana}"),
                &admin,
                json!({ "display_name": "Dana Scully" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let events_before = node.events().await.len();

        let login = format!(r#"["admin","{ADMIN_PASSWORD}","it"]"#);
        let create = format!(r#"["it","mallory","{ADMIN_PASSWORD}",null,null,true]"#);
        let cases: [(Method, String, Option<&str>, &str); 4] = [
            (Method::POST, "/api/v1/auth/login".into(), None, &login),
            (Method::POST, "/api/v1/users".into(), Some(&admin), &create),
            (
                Method::PATCH,
                format!("/api/v1/users/{dana}"),
                Some(&admin),
                "[null,null]",
            ),
            (
                Method::POST,
                "/api/v1/authz/check".into(),
                Some(&admin),
                "[[]]",
            ),
        ];
        for (method, path, token, body) in &cases {
            let mut req = node
                .client
                .request(method.clone(), format!("{}{path}", node.base))
                .header("content-type", "application/json")
                .body((*body).to_owned());
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let (status, _, problem_body) = problem(req.send().await.unwrap()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {path}");
            assert_eq!(problem_type(&problem_body), "invalid-input", "{name}");
            assert_eq!(problem_body["field"], "body", "{name}");
            assert!(
                problem_body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("must be a JSON object"),
                "{name}: {problem_body}"
            );
        }
        // Other kinds of JSON are refused the same way; malformed JSON stays a 400.
        for (body, status) in [
            ("\"admin\"", StatusCode::UNPROCESSABLE_ENTITY),
            ("42", StatusCode::UNPROCESSABLE_ENTITY),
            ("null", StatusCode::UNPROCESSABLE_ENTITY),
            ("  [1,", StatusCode::BAD_REQUEST),
            ("", StatusCode::BAD_REQUEST),
        ] {
            let response = raw_post(&node, "/api/v1/auth/login", None, body).await;
            assert_eq!(response.status(), status, "{name}: {body:?}");
        }
        // Nothing changed: no user, no session, the name kept, no event.
        let (_, users) = node.get("/api/v1/users?provider=it", &admin).await;
        assert!(!users.to_string().contains("mallory"), "{name}: {users}");
        let (_, user) = node.get(&format!("/api/v1/users/{dana}"), &admin).await;
        assert_eq!(user["display_name"], "Dana Scully", "{name}: {user}");
        assert_eq!(node.events().await.len(), events_before, "{name}");
        node.shutdown().await;
    })
    .await;
}

/// A GET must not sign: a cross-site page could make a browser ask for it. Signing is a
/// POST, under the same-origin rule of every state-changing request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_checkpoint_never_signs_one() {
    // Only the start-up tick of the scheduled signer, which runs before anything here.
    fn rarely(config: &mut rampart_service::Config) {
        config.audit.checkpoint_seconds = 86_400;
    }
    on_both(rarely, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let signed = || async {
            node.server()
                .state
                .store
                .audit_latest_checkpoint()
                .await
                .unwrap()
                .map(|c| c.size)
        };
        // A checkpoint of the log as it is; reads add nothing to the log from here on.
        let (status, body) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let before = signed().await;
        assert_eq!(body["size"].as_u64(), before, "{name}");
        node.create_user(Provider::End, "grows-the-log", USER_PASSWORD, false)
            .await;

        let (status, _, body) = problem(
            node.request(
                Method::GET,
                "/api/v1/audit/checkpoint?fresh=true",
                Some(&admin),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        let (status, read) = node.get("/api/v1/audit/checkpoint", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(read["size"].as_u64(), before, "{name}");
        assert_eq!(signed().await, before, "{name}: a GET signed");

        // A browser's cross-site POST with the session cookie is refused.
        let login = node.login_response("it", "admin", ADMIN_PASSWORD).await;
        let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let response = node
            .client
            .post(format!("{}/api/v1/audit/checkpoint", node.base))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        assert_eq!(signed().await, before, "{name}: a cross-site POST signed");

        let (status, body) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let stored = signed().await;
        assert_eq!(body["size"].as_u64(), stored, "{name}");
        assert!(stored > before, "{name}: {stored:?} after {before:?}");
        node.shutdown().await;
    })
    .await;
}

/// The user who logs in is the actor of their login; a failed login names the user only as
/// its target (anyone may type a name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_the_act_of_the_user_who_logs_in() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let dev = node
            .create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        node.login("it", "dev", USER_PASSWORD).await;
        let failed = node.login_response("it", "dev", "not-the-password").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED, "{name}");

        let (status, page) = node
            .get(
                "/api/v1/audit/events?actor=it:dev&action=auth.login",
                &admin,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        let events = page["items"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{name}: {page}");
        assert_eq!(events[0]["outcome"], "success", "{name}");
        assert_eq!(events[0]["actor_id"], dev.as_str(), "{name}");
        assert_eq!(events[0]["target"], format!("user:{dev}"), "{name}");

        let (_, page) = node
            .get(
                "/api/v1/audit/events?action=auth.login&outcome=failure",
                &admin,
            )
            .await;
        let failures = page["items"].as_array().unwrap();
        assert_eq!(failures.len(), 1, "{name}: {page}");
        assert!(failures[0]["actor"].is_null(), "{name}: {page}");
        node.shutdown().await;
    })
    .await;
}

/// Publishes version 1 of `examples/sales/core-service.yaml` (application `sales` must exist).
async fn publish_core_service(node: &Node, admin: &str) {
    let source = std::fs::read_to_string(format!(
        "{}/../../examples/sales/core-service.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (status, body) = node
        .post(
            "/api/v1/modules/core-service/versions",
            admin,
            json!({ "source": source, "message": "first" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
}

async fn create_sales_and_publish_core_service(node: &Node, admin: &str) {
    authz_write(
        node,
        admin,
        json!([{ "op": "create_application", "name": "sales" }]),
    )
    .await;
    publish_core_service(node, admin).await;
}

async fn authz_write(node: &Node, token: &str, ops: Value) {
    let (status, body) = node
        .post("/api/v1/authz/write", token, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
}

/// A user authorization holds nothing about is denied, not an error: a check, a list and
/// the roles answer as for someone who holds nothing (public records stay readable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_authorization_knows_nothing_about_is_denied_not_an_error() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let owner = node
            .create_user(Provider::End, "owner", USER_PASSWORD, false)
            .await;
        let stranger = node
            .create_user(Provider::End, "stranger", USER_PASSWORD, false)
            .await;
        authz_write(&node, &admin, json!([
            { "op": "create_hierarchy", "name": "reports", "kind": "reports_to" },
            { "op": "put_entity", "name": "sale", "owner_hierarchy": "reports", "grants": true },
            { "op": "put_entity", "name": "notice", "public": ["read"] },
            { "op": "put_records", "entity": "sale", "records": [{ "key": "s-1", "owner": owner }] },
            { "op": "put_records", "entity": "notice", "records": [{ "key": "n-1" }] },
            { "op": "create_application", "name": "sales" },
            { "op": "create_role", "application": "sales", "name": "rep" },
        ]))
        .await;
        let (status, body) = node
            .post(
                "/api/v1/authz/check",
                &admin,
                json!({ "checks": [
                    { "kind": "record", "user": stranger, "entity": "sale", "record": "s-1", "action": "read" },
                    { "kind": "record", "user": stranger, "entity": "notice", "record": "n-1", "action": "read" },
                    { "kind": "record", "user": stranger, "entity": "notice", "record": "n-1", "action": "write" },
                    { "kind": "role", "user": stranger, "application": "sales", "role": "rep" },
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let allowed: Vec<bool> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["allowed"].as_bool().unwrap())
            .collect();
        assert_eq!(allowed, [false, true, false, false], "{name}");

        let (status, body) = node
            .post(
                "/api/v1/authz/explain",
                &admin,
                json!({ "checks": [{ "kind": "record", "user": stranger, "entity": "sale", "record": "s-1", "action": "read" }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["allowed"], false, "{name}");

        for (entity, expected) in [("sale", json!([])), ("notice", json!(["n-1"]))] {
            let (status, body) = node
                .post(
                    "/api/v1/authz/list-filter",
                    &admin,
                    json!({ "user": stranger, "entity": entity }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{name}: {body}");
            let keys: Vec<Value> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["key"].clone())
                .collect();
            assert_eq!(Value::from(keys), expected, "{name}: {entity}");
        }
        let (status, body) = node
            .get(
                &format!("/api/v1/authz/roles?user={stranger}&application=sales"),
                &admin,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["roles"], json!([]), "{name}");
        node.shutdown().await;
    })
    .await;
}

/// Reading how access is built is for administrators and auditors; anyone may ask about
/// their own access; IT users and services may ask for decisions about others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_data_is_read_by_administrators_and_auditors_only() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let audrey = crate::audit::auditor(&node, &admin).await;
        let dev_id = node
            .create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        let dev = node.login("it", "dev", USER_PASSWORD).await;
        let erin_id = node
            .create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let erin = node.login("end", "erin", USER_PASSWORD).await;
        let boss = node
            .create_user(Provider::End, "boss", USER_PASSWORD, false)
            .await;
        authz_write(&node, &admin, json!([
            { "op": "create_hierarchy", "name": "reports", "kind": "reports_to" },
            { "op": "set_parent", "hierarchy": "reports", "node": erin_id, "parent": boss },
            { "op": "put_entity", "name": "sale", "owner_hierarchy": "reports", "grants": true },
            { "op": "put_records", "entity": "sale", "records": [{ "key": "s-1", "owner": erin_id }] },
            { "op": "create_application", "name": "sales" },
            { "op": "create_role", "application": "sales", "name": "rep" },
        ]))
        .await;
        publish_core_service(&node, &admin).await;
        let check = |user: &str| {
            json!({ "checks": [{ "kind": "record", "user": user, "entity": "sale", "record": "s-1", "action": "read" }] })
        };
        // (method, path, body, the status each caller gets: admin, auditor, dev (IT, holds
        // nothing), erin (end user)); 404: dev's own level on a module he may not know of.
        const Y: u16 = 200;
        const N: u16 = 403;
        let routes: Vec<(Method, String, Option<Value>, [u16; 4])> = vec![
            (Method::GET, "/api/v1/authz/model".into(), None, [Y, Y, N, N]),
            (
                Method::GET,
                "/api/v1/authz/grants?entity=sale&record=s-1".into(),
                None,
                [Y, Y, N, N],
            ),
            (
                Method::POST,
                "/api/v1/authz/explain".into(),
                Some(check(&boss)),
                [Y, Y, N, N],
            ),
            (
                Method::POST,
                "/api/v1/authz/list-filter".into(),
                Some(json!({ "user": boss, "entity": "sale" })),
                [Y, Y, N, N],
            ),
            (
                Method::GET,
                format!("/api/v1/authz/roles?user={boss}&application=sales"),
                None,
                [Y, Y, N, N],
            ),
            (
                Method::GET,
                format!("/api/v1/it/level?user={dev_id}&module=core-service&environment=development"),
                None,
                [Y, Y, 404, N],
            ),
            (
                Method::GET,
                format!("/api/v1/it/level?user={erin_id}&module=core-service&environment=development"),
                None,
                [Y, Y, N, N],
            ),
            // Decisions about others: IT users and services.
            (
                Method::POST,
                "/api/v1/authz/check".into(),
                Some(check(&boss)),
                [Y, Y, Y, N],
            ),
            // About oneself: anyone.
            (
                Method::POST,
                "/api/v1/authz/check".into(),
                Some(check(&erin_id)),
                [Y, Y, Y, Y],
            ),
            (
                Method::POST,
                "/api/v1/authz/explain".into(),
                Some(check(&erin_id)),
                [Y, Y, N, Y],
            ),
            (
                Method::POST,
                "/api/v1/authz/list-filter".into(),
                Some(json!({ "user": erin_id, "entity": "sale" })),
                [Y, Y, N, Y],
            ),
        ];
        for (method, path, body, expected) in &routes {
            for (who, token) in [&admin, &audrey, &dev, &erin].into_iter().enumerate() {
                let response = node
                    .request(method.clone(), path, Some(token), body.clone())
                    .await;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                assert_eq!(status, expected[who], "{name}: caller {who} {method} {path}: {text}");
            }
        }
        // Erin's own explanation shows her own path, which is all she may see.
        let (_, body) = node.post("/api/v1/authz/explain", &erin, check(&erin_id)).await;
        assert_eq!(body["allowed"], true, "{name}: {body}");
        node.shutdown().await;
    })
    .await;
}

/// The node's export of the whole log, verified offline.
async fn verify_offline(node: &Node) -> rampart_audit::export::Report {
    let state = &node.server().state;
    let size = state.store.audit_size().await.unwrap();
    let mut out = Vec::new();
    rampart_service::audit::export_jsonl(
        &state.store,
        state.audit.origin(),
        1,
        size,
        &mut out,
        &mut |_| {},
    )
    .await
    .unwrap();
    let key = rampart_audit::VerifierKey::parse(&state.audit.verifier_key()).unwrap();
    let mut v = rampart_audit::export::Verifier::new(key, None);
    for line in out.split_inclusive(|b| *b == b'\n') {
        if v.feed(line).is_err() {
            break;
        }
    }
    v.finish()
}

/// Creates end users `<prefix>0`… and returns the sequence numbers of every `user.create`
/// event, newest first.
async fn create_end_users(node: &Node, admin: &str, prefix: &str, n: usize) -> Vec<i64> {
    for i in 0..n {
        let (status, body) = node
            .post(
                "/api/v1/users",
                admin,
                json!({ "provider": "end", "username": format!("{prefix}{i}"), "password": USER_PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    }
    seqs(&search(node, admin, "action=user.create").await)
}

/// The audit context of a change made by the test itself.
fn test_context() -> rampart_core::AuditContext {
    rampart_core::AuditContext {
        node_id: "test".into(),
        ..Default::default()
    }
}

async fn search(node: &Node, token: &str, query: &str) -> Vec<Value> {
    let (status, page) = node
        .get(&format!("/api/v1/audit/events?{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {page}", node.name());
    page["items"].as_array().unwrap().clone()
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

/// Only the body is signed, so the columns copied from it are an index: search shows each
/// event as its body says, an event whose edited columns match a query is not returned, a
/// forged row does not push true matches off a page, and the scheduled check names the
/// edited event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_index_column_is_not_believed_and_raises_the_alert() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        for _ in 0..3 {
            node.login("it", "dev", USER_PASSWORD).await;
        }
        let state = &node.server().state;
        state.audit.verify_increment(&state.metrics).await.unwrap();
        let dev_logins = seqs(&search(&node, &admin, "actor=it:dev&action=auth.login").await);
        assert_eq!(dev_logins.len(), 3, "{name}");
        let admin_login = seqs(&search(&node, &admin, "actor=it:admin&action=auth.login").await)[0];

        // The newest of dev's logins is rewritten in the index to be nobody's.
        let forged = dev_logins[0];
        crate::audit::tamper(
            &node,
            &format!(
                "UPDATE audit_events SET actor_name = 'it:nobody', target = 'user:x' WHERE seq = {forged}"
            ),
        )
        .await;
        assert!(
            search(&node, &admin, "actor=it:nobody").await.is_empty(),
            "{name}: a forged actor was believed"
        );
        assert!(
            search(&node, &admin, "target=user:x").await.is_empty(),
            "{name}: a forged target was believed"
        );
        let all = search(&node, &admin, "action=auth.login&limit=100").await;
        let shown = all.iter().find(|e| e["seq"] == forged).unwrap();
        assert_eq!(shown["actor"], "it:dev", "{name}: {shown}");

        // Admin's login is dressed up as dev's: a page of two dev logins still holds two
        // true ones, and the forged one is in no page.
        crate::audit::tamper(
            &node,
            &format!("UPDATE audit_events SET actor_name = 'it:dev' WHERE seq = {admin_login}"),
        )
        .await;
        let page = search(&node, &admin, "actor=it:dev&action=auth.login&limit=2").await;
        assert_eq!(seqs(&page), dev_logins[1..], "{name}");
        for e in &page {
            assert_eq!(e["actor"], "it:dev", "{name}");
        }

        // The scheduled check names the first edited event.
        let error = state
            .audit
            .verify_increment(&state.metrics)
            .await
            .unwrap_err();
        let first = forged.min(admin_login);
        assert!(
            format!("{error:?}").contains(&format!("event {first} has an index column")),
            "{name}: {error:?}"
        );
        assert!(
            state.metrics.render().contains("rampart_audit_tamper_alert 1"),
            "{name}"
        );
        node.shutdown().await;
    })
    .await;
}

/// A payload may be erased only lawfully, and the log then records it: a body deleted
/// behind the server's back looks like a redaction, so the check and the offline verifier
/// refuse an erased event that no later audit.redact or audit.archive names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_the_log_does_not_record_is_tampering() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let created = create_end_users(&node, &admin, "u", 4).await;
        let state = &node.server().state;
        assert!(created.len() >= 4, "{name}: {created:?}");
        // A lawful redaction is recorded and verifies.
        let ctx = test_context();
        state
            .store
            .audit_redact(&ctx, created[0], "erasure request 7", node.clock.now())
            .await
            .unwrap();
        state.audit.verify_increment(&state.metrics).await.unwrap();
        let report = verify_offline(&node).await;
        assert!(report.is_ok(), "{name}: {:?}", report.finding);
        assert_eq!(report.redacted, 1, "{name}");

        // A body deleted by hand, made to look redacted.
        let deleted = created[2];
        crate::audit::tamper(
            &node,
            &format!("UPDATE audit_events SET body = NULL, redacted_at = 1 WHERE seq = {deleted}"),
        )
        .await;
        let error = state
            .audit
            .verify_increment(&state.metrics)
            .await
            .unwrap_err();
        assert!(
            format!("{error:?}").contains(&format!("event {deleted} has no payload")),
            "{name}: {error:?}"
        );
        let report = verify_offline(&node).await;
        assert_eq!(
            report.finding,
            Some(rampart_audit::export::Finding::UnrecordedErasure {
                seq: u64::try_from(deleted).unwrap()
            }),
            "{name}"
        );
        node.shutdown().await;
    })
    .await;
}

/// Lifecycle events name the application and environment they concern, so the search's
/// `application` and `environment` filters find them: each filter agrees with a plain scan
/// of the log, and finds the publish, the deployment and the override.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_and_environment_filters_find_lifecycle_events() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let dev = node
            .create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        create_sales_and_publish_core_service(&node, &admin).await;
        let (status, body) = node
            .post(
                "/api/v1/environments/development/deployments",
                &admin,
                json!({ "modules": [{ "module": "core-service", "version": 1 }] }),
            )
            .await;
        assert!(status.is_success(), "{name}: {body}");
        let (status, body) = node
            .post(
                "/api/v1/it/write",
                &admin,
                json!({ "operations": [{ "op": "set_override", "user": dev,
                    "scope": { "type": "application", "name": "sales" },
                    "environment": "quality", "level": "open" }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");

        let all = node.events().await;
        for (filter, value, must) in [
            (
                "application",
                "sales",
                &["module.publish", "module.deploy", "it.override.set"][..],
            ),
            ("environment", "development", &["module.deploy"][..]),
            ("environment", "quality", &["it.override.set"][..]),
        ] {
            let mut scan: Vec<i64> = all
                .iter()
                .filter(|e| match filter {
                    "application" => e.application.as_deref() == Some(value),
                    _ => e.environment.as_deref() == Some(value),
                })
                .map(|e| e.seq)
                .collect();
            scan.reverse();
            let found = search(&node, &admin, &format!("{filter}={value}&limit=500")).await;
            assert_eq!(seqs(&found), scan, "{name}: {filter}={value}");
            for action in must {
                assert!(
                    found.iter().any(|e| e["action"] == *action),
                    "{name}: {filter}={value} lacks {action}: {found:?}"
                );
            }
        }
        node.shutdown().await;
    })
    .await;
}

/// An unknown username is recorded as a keyed pseudonym: stable, so repeated attempts
/// correlate, but not the unkeyed hash anyone holding the log could test guesses against.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_username_is_recorded_as_a_keyed_pseudonym() {
    use sha2::Digest as _;
    on_both(no_tweak, |node| async move {
        let name = node.name();
        for _ in 0..2 {
            let r = node.login_response("end", "ghost", "whatever-it-was").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        }
        let targets: Vec<String> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "auth.login" && e.outcome == "failure")
            .filter_map(|e| e.target)
            .collect();
        assert_eq!(targets.len(), 2, "{name}: {targets:?}");
        assert_eq!(targets[0], targets[1], "{name}");
        assert!(
            targets[0].starts_with("login:end:unknown#"),
            "{name}: {targets:?}"
        );
        let unkeyed: String = sha2::Sha256::digest(b"ghost")[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            !targets[0].contains(&unkeyed),
            "{name}: unkeyed hash recorded"
        );
        assert!(!targets[0].contains("ghost"), "{name}");
        node.shutdown().await;
    })
    .await;
}

/// What an access record shows: the object reached (with its id), not only the route; and
/// an IT user's reading of a module's source or diff, which was not recorded at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_records_name_the_object_and_source_reads_are_recorded() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let erin_id = node
            .create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let erin = node.login("end", "erin", USER_PASSWORD).await;
        let (status, _) = node.get(&format!("/api/v1/users/{erin_id}"), &erin).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let access = search(&node, &admin, "stream=access&actor=end:erin").await;
        let e = access
            .iter()
            .find(|e| e["target"] == format!("/api/v1/users/{erin_id}"))
            .unwrap_or_else(|| panic!("{name}: {access:?}"));
        assert_eq!(e["outcome"], "deny", "{name}");
        assert_eq!(e["details"]["route"], "/api/v1/users/{id}", "{name}: {e}");

        create_sales_and_publish_core_service(&node, &admin).await;
        let (status, _) = node
            .get("/api/v1/modules/core-service/versions/1", &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let (status, _) = node
            .get("/api/v1/modules/core-service/diff?from=1&to=1", &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let reads = search(
            &node,
            &admin,
            "stream=access&actor=it:admin&application=sales",
        )
        .await;
        let targets: Vec<&str> = reads
            .iter()
            .map(|e| e["target"].as_str().unwrap())
            .collect();
        assert_eq!(
            targets,
            [
                "module:core-service@1..1/diff",
                "module:core-service@1/source"
            ],
            "{name}"
        );
        node.shutdown().await;
    })
    .await;
}

/// Names, keys and text that hide or fake what they are: refused at the boundary, with
/// nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_keys_and_display_text_that_hide_what_they_are_are_refused() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        authz_write(&node, &admin, json!([
            { "op": "create_hierarchy", "name": "branches", "kind": "units" },
            { "op": "put_entity", "name": "sale", "grants": true },
        ]))
        .await;
        let revision_before = node.server().state.store.authz_revision().await.unwrap();
        let bad_ops = [
            json!({ "op": "create_application", "name": "." }),
            json!({ "op": "create_application", "name": ".." }),
            json!({ "op": "create_group", "name": ".hidden" }),
            json!({ "op": "put_entity", "name": "..", "grants": true }),
            json!({ "op": "put_records", "entity": "sale", "records": [{ "key": "s\u{0}1" }] }),
            json!({ "op": "put_records", "entity": "sale", "records": [{ "key": "s\u{7}1" }] }),
            json!({ "op": "put_records", "entity": "sale", "records": [{ "key": "s\r\n1" }] }),
            json!({ "op": "put_records", "entity": "sale", "records": [{ "key": "s\u{85}1" }] }),
            json!({ "op": "set_parent", "hierarchy": "branches", "node": "lis\u{202E}bon", "parent": null }),
        ];
        for op in bad_ops {
            let (status, body) = node
                .post("/api/v1/authz/write", &admin, json!({ "operations": [op.clone()] }))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {op} {body}");
        }
        assert_eq!(
            node.server().state.store.authz_revision().await.unwrap(),
            revision_before,
            "{name}"
        );
        let (status, body) = node
            .post(
                "/api/v1/it/write",
                &admin,
                json!({ "operations": [{ "op": "register_module", "name": "..", "application": "x" }] }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        for (field, value) in [
            ("display_name", "Mallory \u{202E}nimda"),
            ("display_name", "ad\u{200B}min"),
            ("email", "..@x.example"),
            ("email", "a\u{202E}@x.example"),
        ] {
            let mut body = json!({ "provider": "end", "username": "mallory", "password": USER_PASSWORD });
            body[field] = json!(value);
            let (status, problem) = node.post("/api/v1/users", &admin, body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {value:?} {problem}");
            assert_eq!(problem["field"], field, "{name}");
        }
        let (_, users) = node.get("/api/v1/users", &admin).await;
        assert!(!users.to_string().contains("mallory"), "{name}");
        node.shutdown().await;
    })
    .await;
}

/// Old events are redacted long after they happened, and archived before the redaction's
/// record: the segment still verifies on its own, naming the erasure it cannot confirm and
/// the event that records it; the live log confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_segment_names_erasures_recorded_after_it() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let old = create_end_users(&node, &admin, "old", 3).await;
        let state = &node.server().state;
        let erased = old[1];
        let cutoff = node.clock.now() + time::Duration::hours(1);
        node.clock.advance(time::Duration::days(2));
        let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
        let ctx = test_context();
        state
            .store
            .audit_redact(&ctx, erased, "erasure request 9", node.clock.now())
            .await
            .unwrap();
        let recorded_by = seqs(&search(&node, &admin, "action=audit.redact").await)[0];
        let dir = tempfile::tempdir().unwrap();
        let report = state
            .audit
            .archive(cutoff, dir.path(), &ctx, node.clock.now(), &state.metrics)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: nothing archived"));
        assert!(report.to < recorded_by, "{name}: {report:?}");
        let key = rampart_audit::VerifierKey::parse(&state.audit.verifier_key()).unwrap();
        let segment =
            rampart_service::audit::verify_file_with(&report.path, key, None, 2, &mut |_| {})
                .unwrap();
        assert!(segment.is_ok(), "{name}: {:?}", segment.finding);
        assert_eq!(
            segment.erasures_recorded_later,
            [(
                u64::try_from(erased).unwrap(),
                u64::try_from(recorded_by).unwrap()
            )],
            "{name}"
        );
        // The live log: archived payloads recorded by the archive, the erasure by its record.
        state.audit.verify_increment(&state.metrics).await.unwrap();
        let whole = verify_offline(&node).await;
        assert!(whole.is_ok(), "{name}: {:?}", whole.finding);
        assert!(whole.erasures_recorded_later.is_empty(), "{name}");
        node.shutdown().await;
    })
    .await;
}

/// A password hash with an older cost than the configured one is re-hashed at the user's next
/// successful login (and only then): the password still works, its date and sessions stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_password_hash_is_upgraded_at_the_next_successful_login() {
    use rampart_identity::{HashParams, PasswordHasher};
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let state = &node.server().state;
        let older = PasswordHasher::new(HashParams {
            memory_kib: 32,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        for user in ["olga", "oscar"] {
            let hash = older.hash(USER_PASSWORD).unwrap();
            let id = node.create_user(Provider::End, user, "unused", false).await;
            let id = rampart_core::UserId::parse(&id, "id").unwrap();
            assert!(state
                .store
                .upgrade_password_hash(id, &stored_hash(&node, user).await, &hash)
                .await
                .unwrap());
        }
        let before = stored_hash(&node, "olga").await;
        assert!(
            before.starts_with("$argon2id$v=19$m=32,t=2,p=1$"),
            "{name}: {before}"
        );
        assert!(!state.credentials.hash_is_current(&before));

        // A wrong password changes nothing.
        let wrong = node.login_response("end", "olga", "not the password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(stored_hash(&node, "olga").await, before, "{name}");

        // The right one signs in and leaves a hash of the configured cost, which verifies.
        let token = node.login("end", "olga", USER_PASSWORD).await;
        let after = stored_hash(&node, "olga").await;
        assert!(
            after.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{name}: {after}"
        );
        assert!(state.credentials.hash_is_current(&after));
        assert!(state
            .credentials
            .verify_password(USER_PASSWORD, Some(&after))
            .await
            .unwrap());
        // The session it made is still good, and the next login does not re-hash again.
        let me = node
            .request(Method::GET, "/api/v1/auth/me", Some(&token), None)
            .await;
        assert_eq!(me.status(), StatusCode::OK, "{name}");
        node.login("end", "olga", USER_PASSWORD).await;
        assert_eq!(stored_hash(&node, "olga").await, after, "{name}");
        // Oscar has not signed in: his hash is as it was.
        assert!(stored_hash(&node, "oscar")
            .await
            .starts_with("$argon2id$v=19$m=32,t=2,p=1$"));
    })
    .await;
}

async fn stored_hash(node: &Node, username: &str) -> String {
    let name = rampart_core::Username::parse(username).unwrap();
    let (_, hash) = node
        .server()
        .state
        .store
        .user_credentials(Provider::End, name.normalized())
        .await
        .unwrap()
        .unwrap();
    hash
}
