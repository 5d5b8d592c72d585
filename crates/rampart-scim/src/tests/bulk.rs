//! Bulk requests (RFC 7644 §3.7): what is read, refused whole or refused alone, and how
//! `bulkId:` references resolve.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::bulk::{self, Method, Readiness, MAX_OPERATIONS, REQUEST_URN};
use crate::schema::Schema;

fn request(ops: Value) -> Value {
    json!({"schemas": [REQUEST_URN], "Operations": ops})
}

#[test]
fn requests_are_read_and_malformed_operations_fail_alone() {
    let r = bulk::parse(&json!({
        "schemas": [REQUEST_URN],
        "failOnErrors": 2,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}},
            {"method": "patch", "path": "/Groups/bulkId:g", "version": "W/\"1\"", "data": {}},
            {"method": "DELETE", "path": "/Users/123"},
            {"method": "GET", "path": "/Users/1"},
            {"method": "POST", "path": "/Users", "data": {}},
            {"method": "POST", "path": "/Users/1", "bulkId": "b", "data": {}},
            {"method": "PUT", "path": "/Users", "data": {}},
            {"method": "PUT", "path": "/Users/1/x", "data": {}},
            {"method": "PUT", "path": "/Roles/1", "data": {}},
            {"method": "PUT", "path": "Users/1", "data": {}},
            {"method": "PUT", "path": "/Users/1"},
            "not an object",
        ]
    }))
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(r.fail_on_errors, Some(2));
    let first = r.entries[0]
        .op
        .as_ref()
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(
        (
            first.method,
            first.kind,
            first.id.as_deref(),
            first.bulk_id.as_deref()
        ),
        (Method::Post, Schema::User, None, Some("a"))
    );
    let second = r.entries[1]
        .op
        .as_ref()
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(
        (
            second.method,
            second.kind,
            second.id.as_deref(),
            second.version.as_deref()
        ),
        (
            Method::Patch,
            Schema::Group,
            Some("bulkId:g"),
            Some("W/\"1\"")
        )
    );
    let third = r.entries[2]
        .op
        .as_ref()
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(
        (third.method, third.data.clone()),
        (Method::Delete, Value::Null)
    );
    for (i, e) in r.entries.iter().enumerate().skip(3) {
        let err = e.op.as_ref().expect_err("malformed");
        assert_eq!(
            (err.status, err.scim_type),
            (400, Some("invalidSyntax")),
            "{i}: {err}"
        );
    }
}

#[test]
fn requests_are_refused_whole_when_they_are_no_bulk_request() {
    let too_many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    for (body, status, kind) in [
        (json!([]), 400, Some("invalidSyntax")),
        (json!({"Operations": []}), 400, Some("invalidSyntax")),
        (
            json!({"schemas": [REQUEST_URN]}),
            400,
            Some("invalidSyntax"),
        ),
        (
            json!({"schemas": [REQUEST_URN], "failOnErrors": 0, "Operations": []}),
            400,
            Some("invalidValue"),
        ),
        (
            request(json!([
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {}},
            ])),
            400,
            Some("invalidValue"),
        ),
        (request(Value::Array(too_many)), 413, None),
    ] {
        let err = bulk::parse(&body).expect_err("refused");
        assert_eq!((err.status, err.scim_type), (status, kind), "{err}");
    }
}

#[test]
fn references_wait_resolve_or_fail() {
    let r = bulk::parse(&request(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"displayName": "g", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"x": "bulkId:nobody"}},
        {"method": "POST", "path": "/Users", "bulkId": "self", "data": {"x": "bulkId:self"}},
    ])))
    .unwrap_or_else(|e| unreachable!("{e}"));
    let op = |i: usize| {
        r.entries[i]
            .op
            .clone()
            .unwrap_or_else(|e| unreachable!("{e}"))
    };
    assert_eq!(bulk::references(&op(0)), vec!["u1", "u2"]);
    assert_eq!(bulk::references(&op(1)), vec!["g", "nobody"]);
    let declared: HashSet<String> = ["g", "u1", "u2", "self"].map(String::from).into();
    let mut ids = HashMap::new();
    let none = HashSet::new();
    assert_eq!(
        bulk::readiness(&op(0), &declared, &ids, &none),
        Readiness::Waiting
    );
    ids.insert("u1".to_owned(), "id-1".to_owned());
    assert_eq!(
        bulk::readiness(&op(0), &declared, &ids, &none),
        Readiness::Waiting
    );
    ids.insert("u2".to_owned(), "id-2".to_owned());
    assert_eq!(
        bulk::readiness(&op(0), &declared, &ids, &none),
        Readiness::Ready
    );
    let resolved = bulk::resolve(&op(0), &ids);
    assert_eq!(
        resolved.data["members"],
        json!([{"value": "id-1"}, {"value": "id-2"}])
    );
    // A bulkId no POST declares, one that failed, and one of the operation itself.
    assert!(matches!(
        bulk::readiness(&op(1), &declared, &ids, &none),
        Readiness::Unresolvable(why) if why.contains("nobody")
    ));
    let failed: HashSet<String> = ["u2".to_owned()].into();
    assert!(matches!(
        bulk::readiness(&op(0), &declared, &ids, &failed),
        Readiness::Unresolvable(why) if why.contains("failed")
    ));
    assert!(matches!(
        bulk::readiness(&op(2), &declared, &ids, &none),
        Readiness::Unresolvable(why) if why.contains("itself")
    ));
    // The path's reference resolves too.
    ids.insert("g".to_owned(), "gid".to_owned());
    assert_eq!(bulk::resolve(&op(1), &ids).id.as_deref(), Some("gid"));
}
