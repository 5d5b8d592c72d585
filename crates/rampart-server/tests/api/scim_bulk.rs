//! SCIM bulk requests (`POST /scim/v2/Bulk`, RFC 7644 §3.7) end to end: `bulkId`
//! references resolved whatever order they are written in, each operation run and audited
//! as alone, `failOnErrors`, stale versions, cycles, and the request's limits.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::on_both;
use crate::scim::{add_provider, patch, scim, session_of, token, urlencode, GROUP, USER};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk(ops: Value) -> Value {
    json!({ "schemas": [BULK], "Operations": ops })
}

fn user(name: &str) -> Value {
    json!({ "schemas": [USER], "userName": name })
}

/// The result of the operation with `bulk_id`, or the one at `location`'s end.
fn result<'a>(body: &'a Value, key: &str) -> &'a Value {
    body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["bulkId"] == key
                || r["location"]
                    .as_str()
                    .is_some_and(|l| l.ends_with(&format!("/{key}")))
        })
        .unwrap_or_else(|| panic!("no result for {key}: {body}"))
}

fn id_of(r: &Value) -> String {
    r["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

async fn count(node: &crate::kit::Node, t: &str, filter: &str) -> u64 {
    let a = scim(
        node,
        t,
        Method::GET,
        &format!("/Users?filter={}", urlencode(filter)),
        None,
        &[],
    )
    .await;
    a.body["totalResults"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_requests_resolve_references_and_report_each_operation() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "it").await;
        let t = token(&node, &admin, "corp").await;

        // No token: refused before anything is read.
        let a = scim(&node, "", Method::POST, "/Bulk", Some(bulk(json!([]))), &[]).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}");
        let a = scim(&node, &t, Method::GET, "/Bulk", None, &[]).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{name}");

        // References written before the POSTs they name wait for them: the group's
        // PATCH comes first, the group second, its members last.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Bulk",
            Some(bulk(json!([
                {"method": "PATCH", "path": "/Groups/bulkId:g", "data": patch(json!([
                    {"op": "add", "path": "members", "value": [{"value": "bulkId:u2"}]}
                ]))},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP], "displayName": "Auditors",
                          "members": [{"value": "bulkId:u1"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("una")},
                {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("uwe")},
                {"method": "DELETE", "path": "/Users/0190d6a6-0000-7000-8000-000000000001"},
                {"method": "PUT", "path": "/Users/bulkId:nobody", "data": user("x")},
                {"method": "GET", "path": "/Users"},
            ]))),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(
            a.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]),
            "{name}"
        );
        let statuses: Vec<&str> = a.body["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        // In the order they ran: u1, u2, the 404, the 409, the bad method; then the group;
        // then its PATCH.
        assert_eq!(
            statuses,
            ["201", "201", "404", "409", "400", "201", "200"],
            "{name}: {}",
            a.body
        );
        let u1 = id_of(result(&a.body, "u1"));
        let u2 = id_of(result(&a.body, "u2"));
        let g = result(&a.body, "g");
        assert!(g["version"].as_str().unwrap().starts_with("W/"), "{name}");
        let gid = id_of(g);
        let nobody = &a.body["Operations"][3];
        assert_eq!(nobody["response"]["scimType"], "invalidValue", "{name}");
        assert!(
            nobody["response"]["detail"]
                .as_str()
                .unwrap()
                .contains("bulkId:nobody"),
            "{name}: {nobody}"
        );
        let group = scim(&node, &t, Method::GET, &format!("/Groups/{gid}"), None, &[]).await;
        let mut members: Vec<&str> = group.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        members.sort_unstable();
        let mut want = [u1.as_str(), u2.as_str()];
        want.sort_unstable();
        assert_eq!(members, want, "{name}: {}", group.body);
        // The group's mapping gave its members their role at once.
        let session = session_of(&node, &u2).await;
        let (status, _) = node.get("/api/v1/audit/events?limit=1", &session).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        // Each operation is audited as alone, by the provider.
        let created: Vec<_> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "user.create" && e.outcome == "success")
            .filter(|e| e.actor_name.as_deref() == Some("scim:corp"))
            .collect();
        assert_eq!(created.len(), 2, "{name}: {created:?}");

        // failOnErrors: the run stops at the first error, and what follows never runs.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Bulk",
            Some(json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "bad",
                 "data": {"schemas": [USER], "userName": "bad", "shoeSize": 9}},
                {"method": "POST", "path": "/Users", "bulkId": "late", "data": user("late")},
            ]})),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(a.body["Operations"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(a.body["Operations"][0]["status"], "400", "{name}");
        assert_eq!(count(&node, &t, "userName eq \"late\"").await, 0, "{name}");

        // A stale version is that operation's 412; the others run.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Bulk",
            Some(bulk(json!([
                {"method": "PATCH", "path": format!("/Users/{u1}"), "version": "W/\"0-0\"",
                 "data": patch(json!([{"op": "replace", "path": "title", "value": "Stale"}]))},
                {"method": "PATCH", "path": format!("/Users/{u2}"),
                 "data": patch(json!([{"op": "replace", "path": "title", "value": "Fresh"}]))},
            ]))),
            &[],
        )
        .await;
        assert_eq!(result(&a.body, &u1)["status"], "412", "{name}: {}", a.body);
        assert_eq!(result(&a.body, &u2)["status"], "200", "{name}");
        assert_eq!(count(&node, &t, "title eq \"Stale\"").await, 0, "{name}");
        assert_eq!(count(&node, &t, "title eq \"Fresh\"").await, 1, "{name}");

        // Two groups naming each other: a cycle, refused with 409; neither is made.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Bulk",
            Some(bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "a",
                 "data": {"schemas": [GROUP], "displayName": "A", "members": [{"value": "bulkId:b"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "b",
                 "data": {"schemas": [GROUP], "displayName": "B", "members": [{"value": "bulkId:a"}]}},
            ]))),
            &[],
        )
        .await;
        assert_eq!(result(&a.body, "a")["status"], "409", "{name}: {}", a.body);
        assert_eq!(result(&a.body, "b")["status"], "409", "{name}");
        let groups = scim(&node, &t, Method::GET, "/Groups", None, &[]).await;
        assert_eq!(groups.body["totalResults"], 1, "{name}: {}", groups.body);

        // Limits: more than maxOperations, or a body over maxPayloadSize, is refused whole.
        let config = scim(&node, &t, Method::GET, "/ServiceProviderConfig", None, &[]).await;
        let limits = &config.body["bulk"];
        assert_eq!(limits["supported"], true, "{name}");
        let max_ops = limits["maxOperations"].as_u64().unwrap() as usize;
        let max_payload = limits["maxPayloadSize"].as_u64().unwrap() as usize;
        let many: Vec<Value> = (0..=max_ops)
            .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("m{i}"), "data": user(&format!("m{i}"))}))
            .collect();
        let a = scim(&node, &t, Method::POST, "/Bulk", Some(bulk(Value::Array(many))), &[]).await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{name}: {}", a.body);
        assert_eq!(count(&node, &t, "userName sw \"m\"").await, 0, "{name}");
        let big = bulk(json!([
            {"method": "POST", "path": "/Users", "bulkId": "big",
             "data": {"schemas": [USER], "userName": "big", "title": "x".repeat(max_payload)}},
        ]));
        let a = scim(&node, &t, Method::POST, "/Bulk", Some(big), &[]).await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{name}: {}", a.body);
        assert!(
            a.body["detail"].as_str().unwrap().contains("maxPayloadSize"),
            "{name}: {}",
            a.body
        );
        assert_eq!(count(&node, &t, "userName eq \"big\"").await, 0, "{name}");
    })
    .await;
}
