//! No answer before the permission check: every lifecycle and deployment-plan route, asked
//! by an end user, an IT user holding nothing, a contractor (`reference` in development) and
//! the application's owner (`full`), about an object that exists and one that does not, on
//! SQLite and PostgreSQL. A caller with no level on the object gets the same status and
//! problem for both, so nothing tells them it exists or what state it is in.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use rampart_core::Provider;

use crate::kit::{no_tweak, on_both, Node, USER_PASSWORD};

fn example(name: &str) -> String {
    let path = format!("{}/../../examples/sales/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn call(
    node: &Node,
    method: &Method,
    path: &str,
    token: &str,
    body: &Option<Value>,
) -> (StatusCode, Value) {
    let response = node
        .request(method.clone(), path, Some(token), body.clone())
        .await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ok(node: &Node, method: Method, path: &str, token: &str, body: Value) -> Value {
    let (status, body) = call(node, &method, path, token, &Some(body)).await;
    assert!(
        status.is_success(),
        "{}: {method} {path}: {status} {body}",
        node.name()
    );
    body
}

/// One route asked about an object that exists and about one that does not.
struct Row {
    what: &'static str,
    method: Method,
    existing: (String, Option<Value>),
    missing: (String, Option<Value>),
    /// (existing, missing) for the end user, the IT user with nothing, the contractor and
    /// the owner.
    want: [(u16, u16); 4],
}

fn row(
    what: &'static str,
    method: Method,
    existing: (&str, Option<Value>),
    missing: (&str, Option<Value>),
    want: [(u16, u16); 4],
) -> Row {
    Row {
        what,
        method,
        existing: (existing.0.to_owned(), existing.1),
        missing: (missing.0.to_owned(), missing.1),
        want,
    }
}

/// What a caller with no level may compare: the status and the problem's type, and the
/// detail of a "not found" (other details may name what the request itself named, such as
/// an environment), or the whole body of a success.
fn seen(status: StatusCode, body: &Value) -> (u16, Value, Value) {
    if status.is_success() {
        (status.as_u16(), body.clone(), Value::Null)
    } else if status == StatusCode::NOT_FOUND {
        (
            status.as_u16(),
            body["type"].clone(),
            body["detail"].clone(),
        )
    } else {
        (status.as_u16(), body["type"].clone(), Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_a_level_learn_nothing_before_the_permission_check() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let mut ids = Vec::new();
        for user in ["owner", "contractor", "nobody", "ops"] {
            ids.push(node.create_user(Provider::It, user, USER_PASSWORD, false).await);
        }
        node.create_user(Provider::End, "enduser", USER_PASSWORD, false).await;
        ok(&node, Method::POST, "/api/v1/authz/write", &admin, json!({ "operations": [{ "op": "create_application", "name": "sales" }] })).await;
        // `archive` comes last: nothing runs there, and only the owner and administrators
        // hold a level in it.
        ok(&node, Method::POST, "/api/v1/it/write", &admin, json!({ "operations": [
            { "op": "set_environments", "environments": [
                { "name": "development" }, { "name": "quality" },
                { "name": "production", "separation_of_duties": true, "second_approver": true },
                { "name": "archive" },
            ] },
            { "op": "set_it_role", "user": ids[1], "role": "contractor" },
            { "op": "set_it_role", "user": ids[3], "role": "operations" },
            { "op": "set_override", "user": ids[0], "scope": { "type": "application", "name": "sales" }, "level": "full" },
        ] }))
        .await;
        let core = example("core-service.yaml");
        let v2 = core.replace("Customers and the sales roles", "Customers and roles");
        for source in [&core, &v2] {
            ok(&node, Method::POST, "/api/v1/modules/core-service/versions", &admin, json!({ "source": source, "message": "m" })).await;
        }
        let owner = node.login("it", "owner", USER_PASSWORD).await;
        let contractor = node.login("it", "contractor", USER_PASSWORD).await;
        let nobody = node.login("it", "nobody", USER_PASSWORD).await;
        let ops = node.login("it", "ops", USER_PASSWORD).await;
        let enduser = node.login("end", "enduser", USER_PASSWORD).await;
        for v in [1, 2] {
            ok(&node, Method::POST, "/api/v1/environments/development/deployments", &owner, json!({ "modules": [{ "module": "core-service", "version": v }] })).await;
        }
        ok(&node, Method::POST, "/api/v1/applications/sales/tags", &owner, json!({ "tag": "1.0" })).await;
        let apps = json!([{ "application": "sales", "tag": "1.0" }]);
        let draft = ok(&node, Method::POST, "/api/v1/deployment-plans", &owner, json!({ "environment": "development", "applications": apps })).await;
        let draft = draft["id"].as_i64().unwrap();
        let finished = ok(&node, Method::POST, "/api/v1/deployment-plans", &owner, json!({ "environment": "quality", "applications": apps })).await;
        let finished = finished["id"].as_i64().unwrap();
        ok(&node, Method::POST, &format!("/api/v1/deployment-plans/{finished}/run"), &owner, json!({})).await;
        // Production: one request approved by operations (v1 runs there since), one pending.
        let approved = ok(&node, Method::POST, "/api/v1/environments/production/deployments", &owner, json!({ "modules": [{ "module": "core-service", "version": 1 }] })).await;
        let approved = approved["request"].as_i64().unwrap();
        ok(&node, Method::POST, &format!("/api/v1/environments/production/requests/{approved}/approve"), &ops, json!(null)).await;
        let pending = ok(&node, Method::POST, "/api/v1/environments/production/deployments", &owner, json!({ "modules": [{ "module": "core-service", "version": 2 }] })).await;
        let pending = pending["request"].as_i64().unwrap();

        let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
        let m = "/api/v1/modules";
        let e = "/api/v1/environments";
        let p = "/api/v1/deployment-plans";
        let dry = |module: &str, version: i64| Some(json!({ "modules": [{ "module": module, "version": version }], "dry_run": true }));
        // A copy of core-service under another name declares roles of its own: each role of an
        // application is declared by one module.
        let new_source = |module: &str| {
            let mut source = v2.replace("module: core-service", &format!("module: {module}")).replace("Customers and roles", "Customers, roles");
            if module != "core-service" {
                source = source.replace("SalesRep", "CopyRep").replace("SalesDirector", "CopyDirector").replace("CoreAdmin", "CopyAdmin");
            }
            Some(json!({ "source": source, "message": "m" }))
        };
        // end user, nobody, contractor, owner: (existing, missing)
        let rows = [
            row("list versions", get.clone(), (&format!("{m}/core-service/versions"), None), (&format!("{m}/ghost/versions"), None), [(404, 404), (404, 404), (200, 404), (200, 404)]),
            row("read a version's source", get.clone(), (&format!("{m}/core-service/versions/1"), None), (&format!("{m}/ghost/versions/1"), None), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("see the public surface", get.clone(), (&format!("{m}/core-service/surface"), None), (&format!("{m}/ghost/surface"), None), [(404, 404), (404, 404), (200, 404), (200, 404)]),
            row("diff two versions", get.clone(), (&format!("{m}/core-service/diff?from=1&to=2"), None), (&format!("{m}/ghost/diff?from=1&to=2"), None), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("delete a version that runs", delete.clone(), (&format!("{m}/core-service/versions/1"), None), (&format!("{m}/ghost/versions/1"), None), [(404, 404), (404, 404), (403, 404), (409, 404)]),
            row("deploy a module", post.clone(), (&format!("{e}/development/deployments"), dry("core-service", 1)), (&format!("{e}/development/deployments"), dry("ghost", 1)), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("deploy a tag", post.clone(), (&format!("{e}/development/deployments"), Some(json!({ "application": "sales", "tag": "1.0", "dry_run": true }))), (&format!("{e}/development/deployments"), Some(json!({ "application": "ghost-app", "tag": "1.0", "dry_run": true }))), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("a module's deployment history", get.clone(), (&format!("{e}/production/deployments?module=core-service"), None), (&format!("{e}/production/deployments?module=ghost"), None), [(404, 404), (404, 404), (200, 404), (200, 404)]),
            row("stage named modules", post.clone(), (&format!("{e}/quality/stage"), Some(json!({ "modules": ["core-service"], "dry_run": true }))), (&format!("{e}/quality/stage"), Some(json!({ "modules": ["ghost"], "dry_run": true }))), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("stage everything", post.clone(), (&format!("{e}/archive/stage"), Some(json!({ "from": "production", "dry_run": true }))), (&format!("{e}/development/stage"), Some(json!({ "from": "archive", "dry_run": true }))), [(422, 422), (422, 422), (403, 422), (200, 422)]),
            row("roll back", post.clone(), (&format!("{e}/development/rollback"), Some(json!({ "module": "core-service", "dry_run": true }))), (&format!("{e}/development/rollback"), Some(json!({ "module": "ghost", "dry_run": true }))), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("roll back the first version", post.clone(), (&format!("{e}/production/rollback"), Some(json!({ "module": "core-service", "dry_run": true }))), (&format!("{e}/production/rollback"), Some(json!({ "module": "ghost", "dry_run": true }))), [(404, 404), (404, 404), (403, 404), (409, 404)]),
            row("roll back where it never ran", post.clone(), (&format!("{e}/archive/rollback"), Some(json!({ "module": "core-service", "dry_run": true }))), (&format!("{e}/archive/rollback"), Some(json!({ "module": "ghost", "dry_run": true }))), [(404, 404), (404, 404), (403, 404), (409, 404)]),
            row("approve one's own request", post.clone(), (&format!("{e}/production/requests/{pending}/approve"), None), (&format!("{e}/production/requests/999999/approve"), None), [(404, 404), (404, 404), (404, 404), (403, 404)]),
            row("approve an approved request", post.clone(), (&format!("{e}/production/requests/{approved}/approve"), None), (&format!("{e}/production/requests/999999/approve"), None), [(404, 404), (404, 404), (404, 404), (409, 404)]),
            row("reject an approved request", post.clone(), (&format!("{e}/production/requests/{approved}/reject"), Some(json!({ "reason": "no" }))), (&format!("{e}/production/requests/999999/reject"), Some(json!({ "reason": "no" }))), [(404, 404), (404, 404), (404, 404), (409, 404)]),
            row("tag an application", post.clone(), ("/api/v1/applications/sales/tags", Some(json!({ "tag": "1.0" }))), ("/api/v1/applications/ghost-app/tags", Some(json!({ "tag": "1.0" }))), [(404, 404), (404, 404), (403, 404), (409, 404)]),
            row("list an application's tags", get.clone(), ("/api/v1/applications/sales/tags", None), ("/api/v1/applications/ghost-app/tags", None), [(404, 404), (404, 404), (200, 404), (200, 404)]),
            row("see a plan", get.clone(), (&format!("{p}/{draft}"), None), (&format!("{p}/999999"), None), [(404, 404), (404, 404), (200, 404), (200, 404)]),
            row("run a plan (dry)", post.clone(), (&format!("{p}/{draft}/run"), Some(json!({ "dry_run": true }))), (&format!("{p}/999999/run"), Some(json!({ "dry_run": true }))), [(404, 404), (404, 404), (403, 404), (200, 404)]),
            row("run a finished plan", post.clone(), (&format!("{p}/{finished}/run"), Some(json!({}))), (&format!("{p}/999999/run"), Some(json!({}))), [(404, 404), (404, 404), (404, 404), (409, 404)]),
            row("copy a plan", post.clone(), (&format!("{p}/{draft}/copy"), Some(json!({ "environment": "development" }))), (&format!("{p}/999999/copy"), Some(json!({ "environment": "development" }))), [(404, 404), (404, 404), (403, 404), (201, 404)]),
            row("create a plan", post.clone(), (p, Some(json!({ "environment": "development", "applications": apps }))), (p, Some(json!({ "environment": "development", "applications": [{ "application": "ghost-app", "tag": "1.0" }] }))), [(404, 404), (404, 404), (403, 404), (201, 404)]),
            // Listings: an environment where something runs against one where nothing does.
            row("what runs", get.clone(), (&format!("{e}/production/modules"), None), (&format!("{e}/archive/modules"), None), [(200, 200); 4]),
            row("deployment history", get.clone(), (&format!("{e}/production/deployments"), None), (&format!("{e}/archive/deployments"), None), [(200, 200); 4]),
            row("deployment requests", get.clone(), (&format!("{e}/production/requests"), None), (&format!("{e}/archive/requests"), None), [(200, 200); 4]),
            row("settings in force", get.clone(), (&format!("{e}/quality/settings"), None), (&format!("{e}/archive/settings"), None), [(200, 200); 4]),
            row("deployment plans", get.clone(), (&format!("{p}?environment=development"), None), (&format!("{p}?environment=archive"), None), [(200, 200); 4]),
            // Publishing: under a registered name, and under a new one of the application.
            row("publish", post.clone(), (&format!("{m}/core-service/versions"), new_source("core-service")), (&format!("{m}/ghost-new/versions"), new_source("ghost-new")), [(404, 404), (404, 404), (403, 403), (201, 201)]),
        ];
        let callers = [("end user", &enduser), ("IT user with nothing", &nobody), ("contractor", &contractor), ("owner", &owner)];
        let mut wrong = Vec::new();
        for r in &rows {
            for (i, (who, token)) in callers.iter().enumerate() {
                let (s1, b1) = call(&node, &r.method, &r.existing.0, token, &r.existing.1).await;
                let (s2, b2) = call(&node, &r.method, &r.missing.0, token, &r.missing.1).await;
                let got = (s1.as_u16(), s2.as_u16());
                if got != r.want[i] {
                    wrong.push(format!("{who} / {}: got {got:?}, want {:?}: {b1} | {b2}", r.what, r.want[i]));
                }
                if i < 2 && seen(s1, &b1) != seen(s2, &b2) {
                    wrong.push(format!("{who} / {}: existing and missing differ: {b1} | {b2}", r.what));
                }
                for b in [&b1, &b2] {
                    // The path it was asked about aside (`instance`).
                    let text = if b.is_object() { format!("{} {}", b["title"], b["detail"]) } else { b.to_string() };
                    if i < 2 && (text.contains("core-service") || text.contains("`sales`") || text.contains("approved")) {
                        wrong.push(format!("{who} / {}: the answer names the object or its state: {text}", r.what));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
        node.shutdown().await;
    })
    .await;
}
