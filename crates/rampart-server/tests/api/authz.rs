//! `/api/v1/authz` end to end: writes, checks, explanations, list filtering, freshness.

use rampart_core::Provider;
use rampart_store::BackendKind;
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

use crate::kit::{no_tweak, on_both, start, start_on, Node, USER_PASSWORD};

const CHECK: &str = "/api/v1/authz/check";
const WRITE: &str = "/api/v1/authz/write";

async fn write(node: &Node, token: &str, ops: Value) -> String {
    let (status, body) = node.post(WRITE, token, json!({ "operations": ops })).await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    body["revision"].as_str().unwrap().to_owned()
}

async fn allowed(node: &Node, token: &str, checks: Value) -> Vec<bool> {
    let (status, body) = node.post(CHECK, token, json!({ "checks": checks })).await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["allowed"].as_bool().unwrap())
        .collect()
}

fn record(user: &str, key: &str, action: &str) -> Value {
    json!({ "kind": "record", "user": user, "entity": "sale", "record": key, "action": action })
}

fn role(user: &str, role: &str) -> Value {
    json!({ "kind": "role", "user": user, "application": "sales", "role": role })
}

/// The seed's sales team: director → manager → two reps, a rep elsewhere, units, a group.
struct Team {
    director: String,
    manager: String,
    rep: String,
    peer: String,
    outsider: String,
}

async fn sales_team(node: &Node, token: &str) -> Team {
    let mut ids = Vec::new();
    for name in ["director", "manager", "rep", "peer", "outsider"] {
        ids.push(
            node.create_user(Provider::End, name, USER_PASSWORD, false)
                .await,
        );
    }
    let t = Team {
        director: ids[0].clone(),
        manager: ids[1].clone(),
        rep: ids[2].clone(),
        peer: ids[3].clone(),
        outsider: ids[4].clone(),
    };
    write(node, token, json!([
        { "op": "create_hierarchy", "name": "reports", "kind": "reports_to" },
        { "op": "create_hierarchy", "name": "branches", "kind": "units" },
        { "op": "set_parent", "hierarchy": "reports", "node": t.manager, "parent": t.director },
        { "op": "set_parent", "hierarchy": "reports", "node": t.rep, "parent": t.manager },
        { "op": "set_parent", "hierarchy": "reports", "node": t.peer, "parent": t.manager },
        { "op": "set_parent", "hierarchy": "branches", "node": "lisbon", "parent": "europe" },
        { "op": "add_unit_member", "hierarchy": "branches", "unit": "lisbon", "user": t.outsider },
        { "op": "create_group", "name": "auditors" },
        { "op": "put_entity", "name": "sale", "owner_hierarchy": "reports", "grants": true },
        { "op": "put_records", "entity": "sale", "records": [
            { "key": "s-rep", "owner": t.rep },
            { "key": "s-peer", "owner": t.peer },
            { "key": "s-outsider", "owner": t.outsider },
            { "key": "s-none" },
        ]},
        { "op": "add_grant", "entity": "sale", "record": "s-none",
          "principal": { "type": "unit", "hierarchy": "branches", "unit": "europe" }, "actions": ["read"] },
        { "op": "add_grant", "entity": "sale", "record": "s-peer",
          "principal": { "type": "group", "name": "auditors" }, "actions": ["read"] },
        { "op": "create_application", "name": "sales" },
        { "op": "create_role", "application": "sales", "name": "rep" },
        { "op": "create_role", "application": "sales", "name": "director" },
        { "op": "grant_role", "application": "sales", "role": "director", "principal": { "type": "user", "id": t.director } },
        { "op": "grant_role", "application": "sales", "role": "rep", "principal": { "type": "group", "name": "auditors" } },
        { "op": "add_group_member", "group": "auditors", "user": t.outsider },
    ]))
    .await;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_follow_roles_hierarchy_and_grants() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let t = sales_team(&node, &admin).await;
        // (user, record, action, allowed): the permission matrix of the seed's sales team.
        let table = [
            (&t.rep, "s-rep", "read", true),
            (&t.rep, "s-peer", "read", false),
            (&t.manager, "s-rep", "write", true),
            (&t.manager, "s-peer", "read", true),
            (&t.director, "s-rep", "read", true),
            (&t.director, "s-outsider", "read", false),
            (&t.outsider, "s-outsider", "read", true),
            (&t.outsider, "s-none", "read", true), // via the europe branch, above lisbon
            (&t.outsider, "s-none", "write", false),
            (&t.outsider, "s-peer", "read", true), // via the auditors group
            (&t.rep, "s-none", "read", false),
        ];
        let checks: Vec<Value> = table.iter().map(|(u, r, a, _)| record(u, r, a)).collect();
        let expected: Vec<bool> = table.iter().map(|(_, _, _, e)| *e).collect();
        assert_eq!(allowed(&node, &admin, json!(checks)).await, expected, "{name}");
        let roles = [
            (role(&t.director, "director"), true),
            (role(&t.rep, "director"), false),
            (role(&t.outsider, "rep"), true),
            (role(&t.rep, "rep"), false),
        ];
        let got = allowed(&node, &admin, json!(roles.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>())).await;
        assert_eq!(got, roles.iter().map(|(_, e)| *e).collect::<Vec<_>>(), "{name}");

        // Explanations name the rule and the path.
        let (_, why) = node.post("/api/v1/authz/explain", &admin, json!({ "checks": [record(&t.director, "s-rep", "read")] })).await;
        assert_eq!(why["rule"], "owner", "{name}: {why}");
        assert_eq!(why["path"], json!([format!("user:{}", t.director), format!("user:{}", t.manager), format!("user:{}", t.rep)]));
        let (_, why) = node.post("/api/v1/authz/explain", &admin, json!({ "checks": [record(&t.outsider, "s-none", "read")] })).await;
        assert_eq!(why["rule"], "grant", "{name}: {why}");
        assert_eq!(why["principal"], "node:branches/europe");
        assert_eq!(why["path"], json!(["node:branches/europe", "node:branches/lisbon"]));
        let (_, why) = node.post("/api/v1/authz/explain", &admin, json!({ "checks": [record(&t.rep, "s-peer", "read")] })).await;
        assert_eq!((why["allowed"].as_bool(), why["rule"].as_str()), (Some(false), Some("none")), "{name}: {why}");
        assert_eq!(why["checked"], json!(["public", "owner", "grants"]));
        let (_, why) = node.post("/api/v1/authz/explain", &admin, json!({ "checks": [role(&t.outsider, "rep")] })).await;
        assert_eq!(why["principal"], "group:auditors", "{name}: {why}");

        // List filtering, paged.
        let (status, page) = node.post("/api/v1/authz/list-filter", &admin, json!({ "user": t.manager, "entity": "sale", "limit": 1, "count": true })).await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        assert_eq!(page["items"][0]["key"], "s-peer");
        assert_eq!(page["total"], 2);
        let (_, page2) = node.post("/api/v1/authz/list-filter", &admin, json!({ "user": t.manager, "entity": "sale", "cursor": page["next_cursor"] })).await;
        assert_eq!(page2["items"], json!([{ "key": "s-rep", "owner": t.rep }]), "{name}");
        assert_eq!(page2["next_cursor"], Value::Null);

        // What authorization knows, and a record's grants, read back by name.
        let response = node.request(reqwest::Method::GET, "/api/v1/authz/model", Some(&admin), None).await;
        let model: Value = response.json().await.unwrap();
        assert_eq!(model["applications"], json!([{ "name": "sales", "roles": ["director", "rep"] }]), "{name}");
        assert_eq!(model["groups"], json!(["auditors"]));
        assert_eq!(model["hierarchies"][0], json!({ "name": "branches", "kind": "units", "nodes": 2 }));
        assert_eq!(model["hierarchies"][1]["kind"], "reports_to");
        assert_eq!(model["entities"], json!([{ "name": "sale", "public": [], "owner_hierarchy": "reports",
            "grants": true, "records": 4, "explicit_grants": 2 }]), "{name}");
        let response = node.request(reqwest::Method::GET, "/api/v1/authz/grants?entity=sale&record=s-none", Some(&admin), None).await;
        let grants: Value = response.json().await.unwrap();
        assert_eq!(grants["grants"], json!([{ "principal": "node:branches/europe", "actions": ["read"] }]), "{name}");

        // Time-limited role grants end on their own.
        write(&node, &admin, json!([{ "op": "grant_role", "application": "sales", "role": "rep",
            "principal": { "type": "user", "id": t.rep },
            "until": "2026-06-01T10:00:00Z" }])).await;
        assert_eq!(allowed(&node, &admin, json!([role(&t.rep, "rep")])).await, [true]);
        let (_, roles) = node.post("/api/v1/authz/explain", &admin, json!({ "checks": [role(&t.rep, "rep")] })).await;
        assert!(roles["reason"].as_str().unwrap().contains("until 2026-06-01T10:00:00Z"), "{roles}");
        node.clock.advance(Duration::hours(2));
        // The admin's session idled out too: log in again.
        let admin = node.login("it", "admin", crate::kit::ADMIN_PASSWORD).await;
        assert_eq!(allowed(&node, &admin, json!([role(&t.rep, "rep")])).await, [false], "{name}");

        // Moving the manager under nobody: the director loses the team at once.
        write(&node, &admin, json!([{ "op": "set_parent", "hierarchy": "reports", "node": t.manager, "parent": null }])).await;
        assert_eq!(allowed(&node, &admin, json!([record(&t.director, "s-rep", "read")])).await, [false], "{name}");

        // Every change is an audit event.
        let events = node.events().await;
        for action in ["authz.hierarchy.create", "authz.hierarchy.set_parent", "authz.grant.add", "authz.role.grant", "authz.records.put"] {
            assert!(events.iter().any(|e| e.action == action), "{name}: {action}");
        }
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_authorization_input_is_refused_and_changes_nothing() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let t = sales_team(&node, &admin).await;
        let (_, before) = node.post(CHECK, &admin, json!({ "checks": [role(&t.director, "director")] })).await;
        let revision = before["revision"].clone();
        let cases = [
            (json!([{ "op": "set_parent", "hierarchy": "reports", "node": t.director, "parent": t.rep }]), 409, "conflict"),
            (json!([{ "op": "add_grant", "entity": "sale", "record": "s-rep", "principal": { "type": "group", "name": "ghosts" }, "actions": ["read"] }]), 422, "invalid-input"),
            (json!([{ "op": "add_grant", "entity": "sale", "record": "s-peer", "principal": { "type": "group", "name": "auditors" }, "actions": ["read"] }]), 409, "conflict"),
            (json!([{ "op": "add_grant", "entity": "sale", "record": "s-rep", "principal": { "type": "user", "id": t.rep }, "actions": ["delete"] }]), 422, "invalid-input"),
            (json!([{ "op": "create_hierarchy", "name": "x", "kind": "circle" }]), 422, "invalid-input"),
            (json!([{ "op": "set_parent", "hierarchy": "reports", "node": "not-a-user", "parent": null }]), 422, "invalid-input"),
            (json!([{ "op": "create_group", "name": "fresh" }, { "op": "create_group", "name": "auditors" }]), 409, "conflict"),
        ];
        for (ops, status, code) in cases {
            let (got, body) = node.post(WRITE, &admin, json!({ "operations": ops })).await;
            assert_eq!(got.as_u16(), status, "{name} {ops}: {body}");
            assert_eq!(body["type"], format!("urn:rampart:problem:{code}"), "{name}: {body}");
        }
        let (_, after) = node.post(CHECK, &admin, json!({ "checks": [role(&t.director, "director")] })).await;
        assert_eq!(after["revision"], revision, "{name}: nothing written");
        // `fresh` was refused with the rest of its batch.
        let (_, body) = node.post(WRITE, &admin, json!({ "operations": [{ "op": "delete_group", "name": "fresh" }] })).await;
        assert_eq!(body["type"], "urn:rampart:problem:invalid-input", "{name}: {body}");

        // A hierarchy an entity's owner rule names cannot be deleted; an unused one goes with
        // its nodes and seats, and is then unknown.
        let (status, body) = node.post(WRITE, &admin, json!({ "operations": [{ "op": "delete_hierarchy", "name": "reports" }] })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap_or_default().contains("`sale`"), "{name}: {body}");
        let (status, body) = node.post(WRITE, &admin, json!({ "operations": [{ "op": "delete_hierarchy", "name": "ghost" }] })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        write(&node, &admin, json!([
            { "op": "create_hierarchy", "name": "spare", "kind": "units" },
            { "op": "add_unit_member", "hierarchy": "spare", "unit": "north", "user": t.rep },
        ])).await;
        let (_, model) = node.get("/api/v1/authz/model", &admin).await;
        assert!(model.to_string().contains("spare"), "{name}: {model}");
        write(&node, &admin, json!([{ "op": "delete_hierarchy", "name": "spare" }])).await;
        let (_, model) = node.get("/api/v1/authz/model", &admin).await;
        assert!(!model.to_string().contains("spare"), "{name}: {model}");
        let (status, body) = node.post(WRITE, &admin, json!({ "operations": [{ "op": "add_unit_member", "hierarchy": "spare", "unit": "north", "user": t.rep }] })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert!(node.events().await.iter().any(|e| e.action == "authz.hierarchy.delete"), "{name}");

        // Checks naming unknown things, a token from the future, a deleted user.
        let bad_checks = [
            json!({ "checks": [role(&t.rep, "emperor")] }),
            json!({ "checks": [record(&t.rep, "no-such-record", "read")] }),
            json!({ "checks": [role(&t.rep, "rep")], "at_least_as_fresh": "r999999" }),
            json!({ "checks": [role(&t.rep, "rep")], "at_least_as_fresh": "yesterday" }),
            json!({ "checks": [] }),
        ];
        for body in bad_checks {
            let (status, problem) = node.post(CHECK, &admin, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name} {body}: {problem}");
        }
        let response = node.request(reqwest::Method::DELETE, &format!("/api/v1/users/{}", t.rep), Some(&admin), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{name}");
        // A deleted user holds nothing: a deny, not an error.
        assert_eq!(allowed(&node, &admin, json!([record(&t.rep, "s-rep", "read")])).await, [false], "{name}");

        // Only administrators write; end users ask about themselves only.
        let user = node.login("end", "director", USER_PASSWORD).await;
        let (status, _) = node.post(WRITE, &user, json!({ "operations": [{ "op": "create_group", "name": "mine" }] })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, _) = node.post(CHECK, &user, json!({ "checks": [role(&t.manager, "director")] })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, body) = node.post(CHECK, &user, json!({ "checks": [role(&t.director, "director")] })).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        node.shutdown().await;
    })
    .await;
}

/// Zanzibar's "new enemy": a revoke on one node is seen by the very next request on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_is_seen_by_the_next_request_on_another_node() {
    let a = start(BackendKind::Postgres, no_tweak).await;
    let b = start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    let admin = a.admin().await;
    let admin_b = b.login("it", "admin", kit_admin_password()).await;
    let t = sales_team(&a, &admin).await;
    for round in 0..5 {
        let granted = write(&a, &admin, json!([{ "op": "grant_role", "application": "sales", "role": "rep", "principal": { "type": "user", "id": t.rep } }])).await;
        // Read-your-writes on the other node with the token.
        let (_, body) = b
            .post(
                CHECK,
                &admin_b,
                json!({ "checks": [role(&t.rep, "rep")], "at_least_as_fresh": granted }),
            )
            .await;
        assert_eq!(body["results"][0]["allowed"], true, "round {round}: {body}");
        write(&a, &admin, json!([{ "op": "revoke_role", "application": "sales", "role": "rep", "principal": { "type": "user", "id": t.rep } }])).await;
        // No token: the very next request on B must not allow.
        assert_eq!(
            allowed(&b, &admin_b, json!([role(&t.rep, "rep")])).await,
            [false],
            "round {round}"
        );
        // Same for a record grant.
        write(&a, &admin, json!([{ "op": "add_grant", "entity": "sale", "record": "s-outsider", "principal": { "type": "user", "id": t.rep }, "actions": ["read"] }])).await;
        assert_eq!(
            allowed(&b, &admin_b, json!([record(&t.rep, "s-outsider", "read")])).await,
            [true],
            "round {round}"
        );
        write(&a, &admin, json!([{ "op": "remove_grant", "entity": "sale", "record": "s-outsider", "principal": { "type": "user", "id": t.rep } }])).await;
        assert_eq!(
            allowed(&b, &admin_b, json!([record(&t.rep, "s-outsider", "read")])).await,
            [false],
            "round {round}"
        );
    }
    b.shutdown().await;
    a.shutdown().await;
}

fn kit_admin_password() -> &'static str {
    crate::kit::ADMIN_PASSWORD
}

async fn level(node: &Node, token: &str, user: &str, module: &str, env: &str) -> (String, String) {
    let response = node
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/it/level?user={user}&module={module}&environment={env}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", node.name());
    let body: Value = response.json().await.unwrap();
    (
        body["level"].as_str().unwrap().to_owned(),
        body["decided_by"].as_str().unwrap().to_owned(),
    )
}

/// The seed's contractor: `reference` on the core-service module, `change` on the UI module
/// that depends on it; an application owner may grant on their application only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_permissions_most_specific_grant_wins_and_nobody_grants_beyond_their_own() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let all = rampart_store::UserQuery { limit: 10, ..Default::default() };
        let admin_id = node.server().state.store.list_users(&all).await.unwrap()[0].id.to_string();
        let mut ids = Vec::new();
        for user in ["dev", "owner", "contractor"] {
            ids.push(node.create_user(Provider::It, user, USER_PASSWORD, false).await);
        }
        let (dev, owner, contractor) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
        write(&node, &admin, json!([
            { "op": "create_application", "name": "core" },
            { "op": "create_application", "name": "shop" },
        ])).await;
        let (status, body) = node.post("/api/v1/it/write", &admin, json!({ "operations": [
            { "op": "set_it_role", "user": dev, "role": "developer" },
            { "op": "set_it_role", "user": owner, "role": "developer" },
            { "op": "set_it_role", "user": contractor, "role": "contractor" },
            { "op": "create_team", "name": "core-team" },
            { "op": "create_team", "name": "shop-team" },
            { "op": "set_application_team", "application": "core", "team": "core-team" },
            { "op": "set_application_team", "application": "shop", "team": "shop-team" },
            { "op": "register_module", "name": "core-service", "application": "core" },
            { "op": "register_module", "name": "shop-ui", "application": "shop" },
            { "op": "set_team_member", "team": "core-team", "user": dev, "role": "operations" },
            { "op": "set_override", "user": owner, "scope": { "type": "application", "name": "shop" }, "level": "full" },
        ]})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        // The application owner grants on their application...
        let owner_token = node.login("it", "owner", USER_PASSWORD).await;
        let (status, body) = node.post("/api/v1/it/write", &owner_token, json!({ "operations": [
            { "op": "set_override", "user": contractor, "scope": { "type": "module", "name": "shop-ui" }, "environment": "development", "level": "change" },
        ]})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        // ...but not on one they do not administer, nor platform-wide settings.
        for op in [
            json!({ "op": "set_override", "user": contractor, "scope": { "type": "module", "name": "core-service" }, "level": "open" }),
            json!({ "op": "set_override", "user": owner, "scope": { "type": "application", "name": "core" }, "level": "full" }),
            json!({ "op": "set_it_role", "user": owner, "role": "administrator" }),
            json!({ "op": "set_team_member", "team": "core-team", "user": owner, "role": "administrator" }),
            json!({ "op": "delete_team", "name": "core-team" }),
        ] {
            let (status, body) = node.post("/api/v1/it/write", &owner_token, json!({ "operations": [op] })).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{name} {op}: {body}");
        }
        // (user, module, environment, level, decided by)
        let table = [
            (&contractor, "core-service", "development", "reference", "default_role"),
            (&contractor, "shop-ui", "development", "change", "module_override"),
            (&contractor, "shop-ui", "production", "none", "default_role"),
            (&dev, "core-service", "production", "deploy", "team_role"),
            (&dev, "shop-ui", "production", "reference", "default_role"),
            (&dev, "shop-ui", "development", "deploy", "default_role"),
            (&owner, "shop-ui", "production", "full", "application_override"),
            (&owner, "core-service", "production", "reference", "default_role"),
            (&admin_id, "core-service", "production", "full", "default_role"),
        ];
        for (user, module, env, want, why) in table {
            let got = level(&node, &admin, user, module, env).await;
            assert_eq!(got, (want.to_owned(), why.to_owned()), "{name}: {user} {module} {env}");
        }
        // The console's matrix is the same answer for every user × module × environment, and
        // says a cell may be granted exactly where the write itself allows it.
        let state = &node.server().state;
        let caller = |id: &str| {
            let id = rampart_core::UserId::parse(id, "user").unwrap();
            async move {
                let user = state.store.user(id).await.unwrap().unwrap();
                rampart_service::caller::Caller {
                    audit: rampart_core::AuditContext { actor_id: Some(user.id), ..Default::default() },
                    user,
                    arrived: state.fence.ticket(),
                    second_factor_at: None,
                }
            }
        };
        let users: Vec<rampart_core::UserId> = [&contractor, &dev, &owner, &admin_id]
            .iter()
            .map(|u| rampart_core::UserId::parse(u, "user").unwrap())
            .collect();
        let modules = ["core-service".to_owned(), "shop-ui".to_owned()];
        let environments = ["development", "quality", "production"];
        let as_admin = caller(&admin_id).await;
        let as_owner = caller(&owner).await;
        let by_admin = rampart_service::authz::it::matrix(state, &as_admin, &users, &modules).await.unwrap();
        let by_owner_self = rampart_service::authz::it::matrix(state, &as_owner, &users[2..3], &modules).await.unwrap();
        for (u, row) in users.iter().zip(&by_admin) {
            for (m, cells) in modules.iter().zip(row) {
                for (e, cell) in environments.iter().zip(cells) {
                    let got = level(&node, &admin, &u.to_string(), m, e).await;
                    let explained = &cell.explained;
                    assert_eq!((explained.level.as_str().to_owned(), explained.decided_by.to_owned()), got, "{name}: {u} {m} {e}");
                    assert!(cell.may_grant, "{name}: an administrator grants anywhere");
                }
            }
        }
        for (m, cells) in modules.iter().zip(&by_owner_self[0]) {
            for cell in cells {
                assert_eq!(cell.may_grant, m == "shop-ui", "{name}: the owner grants on their application only ({m})");
            }
        }
        // Others' levels are for administrators and auditors, as `GET /api/v1/it/level` says.
        let refused = rampart_service::authz::it::matrix(state, &as_owner, &users[..1], &modules).await;
        assert!(matches!(refused, Err(rampart_core::Error::Forbidden(_))), "{name}: {refused:?}");
        // An override may lower access too, and role levels are configurable per environment.
        let (status, _) = node.post("/api/v1/it/write", &admin, json!({ "operations": [
            { "op": "set_override", "user": dev, "scope": { "type": "application", "name": "core" }, "environment": "production", "level": "none" },
            { "op": "set_role_level", "role": "developer", "environment": "production", "level": "open" },
        ]})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(level(&node, &admin, &dev, "core-service", "production").await, ("none".into(), "application_override".into()), "{name}");
        assert_eq!(level(&node, &admin, &dev, "shop-ui", "production").await, ("open".into(), "default_role".into()), "{name}");
        // Bad input names the field.
        for (op, code) in [
            (json!({ "op": "set_override", "user": dev, "scope": { "type": "module", "name": "nope" }, "level": "open" }), 422),
            (json!({ "op": "set_override", "user": dev, "scope": { "type": "module", "name": "shop-ui" }, "level": "godlike" }), 422),
            (json!({ "op": "set_role_level", "role": "developer", "environment": "moon", "level": "open" }), 422),
            (json!({ "op": "set_it_role", "user": dev, "role": "wizard" }), 422),
            (json!({ "op": "create_team", "name": "core-team" }), 409),
            (json!({ "op": "delete_team", "name": "core-team" }), 409),
            (json!({ "op": "delete_team", "name": "ghosts" }), 422),
        ] {
            let (status, body) = node.post("/api/v1/it/write", &admin, json!({ "operations": [op] })).await;
            assert_eq!(status.as_u16(), code, "{name} {op}: {body}");
        }
        // Once it owns nothing, a team goes with its memberships.
        let (status, body) = node.post("/api/v1/it/write", &admin, json!({ "operations": [
            { "op": "set_application_team", "application": "core", "team": null },
            { "op": "delete_team", "name": "core-team" },
        ]})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, _) = node.post("/api/v1/it/write", &admin, json!({ "operations": [
            { "op": "set_team_member", "team": "core-team", "user": dev, "role": "operations" },
        ]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        // The name is free again; the new team starts with no members.
        let (status, _) = node.post("/api/v1/it/write", &admin, json!({ "operations": [
            { "op": "create_team", "name": "core-team" },
            { "op": "set_application_team", "application": "core", "team": "core-team" },
        ]})).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_ne!(level(&node, &admin, &dev, "core-service", "development").await.1, "team_role", "{name}");
        assert!(node.events().await.iter().any(|e| e.action == "it.team.delete"), "{name}");
        assert!(node.events().await.iter().any(|e| e.action == "it.override.set"), "{name}");
        node.shutdown().await;
    })
    .await;
}
