//! Arbitrary requests never make the server fail: every answer below 500, and every error
//! a problem document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod kit;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use rampart_core::SystemClock;
use rampart_server::router;
use rampart_service::AppState;
use tower::ServiceExt as _;

fn methods() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PATCH),
        Just(Method::DELETE),
        Just(Method::PUT)
    ]
}

fn paths() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/api/v1/auth/login".to_owned()),
        "/api/v1/auth/login/passkey(-discovery|-challenge)?",
        Just("/api/v1/auth/change-password".to_owned()),
        Just("/api/v1/auth/me".to_owned()),
        "/api/v1/auth/sessions(/[a-z0-9%-]{0,40})?",
        Just("/api/v1/users".to_owned()),
        "/api/v1/users/[a-z0-9%-]{0,40}(/disable|/unlock)?",
        "/api/v1/providers(/[a-z0-9%.-]{0,20}(/test|/sync|/status)?)?",
        "/api/v1/providers/[a-z0-9%.-]{0,20}/saml/(metadata|login|acs)(\\?[a-zA-Z=&%0-9/]{0,30})?",
        "/oauth2/(authorize|token|userinfo|introspect|revoke|logout|jwks)(\\?[a-z_=&%0-9]{0,40})?",
        "/api/v1/idp/(clients(/[a-z0-9%.-]{0,20}(/secret)?)?|keys(/rotate)?)",
        "/api/v1/alerts/deliveries(/retry)?(\\?[a-z=&%0-9.]{0,30})?",
        Just("/.well-known/openid-configuration".to_owned()),
        "/console/(login|logout|account(/password|/logout-everywhere|/sessions/[a-z0-9-]{0,40}/end)?|users(/new|/[a-z0-9%-]{0,40}(/disable|/reset-password|/x)?)?|audit(/[0-9a-z%-]{0,24})?)(\\?[a-z=&%0-9]{0,30})?",
        "/console/(permissions(/cell|/roles(/grant|/revoke)?)?|modules(/[a-z0-9%-]{0,20}(/diff|/versions/[0-9a-z%-]{0,6})?)?|deployments(/plan|/run|/[a-z%]{0,12}/requests/[0-9a-z%-]{0,6}/(approve|reject))?|hierarchies(/[a-z0-9%-]{0,20}(/move)?)?)(\\?[a-z=&%0-9]{0,30})?",
        "/console/(audit/(export|checkpoint|[0-9a-z%-]{0,12}/proof\\.json)|environments(/[a-z0-9%-]{0,12}/settings|/plans/[0-9a-z%-]{0,8}(/run)?)?)(\\?[a-z=&%0-9]{0,30})?",
        "/console/idp-clients(/new|/[a-z0-9%.-]{0,20}/(rotate-secret|delete|x))?(\\?[a-z=&%0-9]{0,30})?",
        "/oauth2/login(\\?return=(/oauth2/authorize%3Fclient_id%3D)?[a-z_=&%0-9]{0,40})?",
        "/console/support(/new|/cases/[0-9a-z%-]{0,40}(/comment|/close|/share|/authorize|/attachments|/x)?|/companies(/[a-z0-9%.-]{0,20}(/members|/administrators|/x)(/[a-z0-9%-]{0,40}/remove)?)?)?(\\?[a-z=&%0-9]{0,30})?",
        "/[ -~]{0,30}".prop_map(|p| p
            .replace(' ', "%20")
            .replace('#', "%23")
            .replace('?', "%3F")),
    ]
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "\\{\"username\": \"[ -~]{0,20}\", \"password\": \"[ -~]{0,20}\", \"provider\": \"(it|end|x)\"\\}"
            .prop_map(String::into_bytes),
        "\\{\"provider\": (1|null|\"end\"|\\[\\]), \"username\": (\"\\\\u0000\"|\"a\"|7)\\}".prop_map(String::into_bytes),
        "\\{\"provider\": \"(it|end)\", \"ceremony\": \"(rpp_[A-Za-z0-9_-]{0,43}|x)\", \"credential\": \\{\"id\": \"[A-Za-z0-9]{0,8}\", \"response\": \\{\"userHandle\": (null|\"[A-Za-z0-9]{0,22}\")\\}\\}\\}".prop_map(String::into_bytes),
        "\\{\"alert\": (-?[0-9]{1,20}|null|\"1\"), \"sink\": (\"webhook\"|\"email\"|\"[ -~]{0,8}\"|7)\\}"
            .prop_map(String::into_bytes),
        "\\{\"username\": \"[ -~]{0,20}\", \"password\": \"[ -~]{0,20}\", \"provider\": \"(it|end)\", \"user_provider\": (\"[ -~]{0,10}\"|null|3)\\}"
            .prop_map(String::into_bytes),
    ]
}

#[test]
fn arbitrary_requests_get_answers_not_failures() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = runtime.block_on(async {
        let config = kit::test_config(dir.path(), String::new());
        let store = rampart_server::open_store(&config).await.unwrap();
        router(AppState::new(store, config, Arc::new(SystemClock)).unwrap())
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(methods(), paths(), bodies(), any::<bool>()),
            |(method, path, body, json)| {
                let mut request = Request::builder().method(method).uri(&path);
                if json {
                    request = request.header("content-type", "application/json");
                } else if path.starts_with("/console/support") {
                    // The support desk's forms that carry a file are multipart.
                    request = request.header("content-type", "multipart/form-data; boundary=x");
                }
                // A target that is not a valid URI never reaches the router: hyper refuses it.
                let Ok(request) = request.body(Body::from(body)) else {
                    return Ok(());
                };
                let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
                let status = response.status();
                prop_assert!(status.as_u16() < 500, "{path}: {status}");
                if status.as_u16() >= 400 {
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // The console answers people: its refusals are pages; the API's are
                    // problems, and so is the router's refusal of a method; the OAuth
                    // endpoints answer RFC 6749's JSON, their browser-facing ones pages.
                    let bare = path.split('?').next().unwrap_or("");
                    let page = path.starts_with("/console/")
                        || matches!(
                            bare,
                            "/oauth2/authorize" | "/oauth2/login" | "/oauth2/logout"
                        );
                    let oauth = matches!(
                        bare,
                        "/oauth2/token"
                            | "/oauth2/userinfo"
                            | "/oauth2/introspect"
                            | "/oauth2/revoke"
                    );
                    let expected = if status.as_u16() == 405 {
                        "application/problem+json"
                    } else if page {
                        "text/html; charset=utf-8"
                    } else if oauth {
                        "application/json"
                    } else {
                        "application/problem+json"
                    };
                    prop_assert_eq!(content_type, expected, "{} {}", path, status);
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Authorization writes and checks with random, mostly malformed operations, as an
/// administrator: never a 5xx, every error a problem document.
#[test]
fn arbitrary_authorization_requests_get_answers_not_failures() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let node = runtime.block_on(kit::start(
        rampart_store::BackendKind::Sqlite,
        kit::no_tweak,
    ));
    let token = runtime.block_on(node.admin());
    let word = || {
        prop_oneof![
            Just("reports".to_owned()),
            Just("units".to_owned()),
            Just("sale".to_owned()),
            "[a-z0-9_ -]{0,8}"
        ]
    };
    let value = move || {
        prop_oneof![
            word().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            Just(serde_json::json!(["read"])),
            Just(serde_json::json!({ "type": "group", "name": "g" })),
            Just(serde_json::json!("00000000-0000-7000-8000-000000000000")),
        ]
    };
    let ops = [
        "create_group",
        "delete_group",
        "add_group_member",
        "create_hierarchy",
        "set_parent",
        "add_unit_member",
        "put_entity",
        "put_records",
        "add_grant",
        "remove_grant",
        "create_application",
        "create_role",
        "grant_role",
        "revoke_role",
        "set_override",
        "set_it_role",
        "register_module",
        "bogus",
    ];
    let fields = [
        "name",
        "kind",
        "hierarchy",
        "node",
        "parent",
        "unit",
        "user",
        "group",
        "entity",
        "record",
        "records",
        "principal",
        "actions",
        "public",
        "owner_hierarchy",
        "grants",
        "application",
        "role",
        "until",
        "level",
        "scope",
        "environment",
        "team",
    ];
    // Well-shaped operations (every field present, values random) reach the store's checks.
    let shapes: [(&str, &[&str]); 10] = [
        ("create_hierarchy", &["name", "kind"]),
        ("set_parent", &["hierarchy", "node", "parent"]),
        ("add_unit_member", &["hierarchy", "unit", "user"]),
        ("put_entity", &["name", "owner_hierarchy", "grants"]),
        ("add_grant", &["entity", "record", "principal", "actions"]),
        ("create_role", &["application", "name"]),
        ("grant_role", &["application", "role", "principal"]),
        ("create_group", &["name"]),
        ("add_group_member", &["group", "user"]),
        ("set_override", &["user", "scope", "environment", "level"]),
    ];
    let shaped =
        (0..shapes.len(), proptest::collection::vec(value(), 4)).prop_map(move |(i, values)| {
            let (name, keys) = shapes[i];
            let mut m = serde_json::Map::new();
            m.insert("op".into(), name.into());
            for (k, v) in keys.iter().zip(values) {
                m.insert((*k).into(), v);
            }
            serde_json::Value::Object(m)
        });
    let random = (
        0..ops.len(),
        proptest::collection::vec((0..fields.len(), value()), 0..5),
    )
        .prop_map(move |(o, kv)| {
            let mut m = serde_json::Map::new();
            m.insert("op".into(), ops[o].into());
            for (k, v) in kv {
                m.insert(fields[k].into(), v);
            }
            serde_json::Value::Object(m)
        });
    let op = prop_oneof![random, shaped];
    let paths = prop_oneof![
        Just("/api/v1/authz/write"),
        Just("/api/v1/it/write"),
        Just("/api/v1/authz/check"),
        Just("/api/v1/authz/explain"),
        Just("/api/v1/authz/list-filter"),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 200,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(paths, proptest::collection::vec(op, 0..4), any::<bool>()),
            |(path, ops, as_checks)| {
                let body = if as_checks {
                    serde_json::json!({ "checks": ops, "user": "x", "entity": "sale" })
                } else {
                    serde_json::json!({ "operations": ops })
                };
                let response = runtime.block_on(node.request(
                    reqwest::Method::POST,
                    path,
                    Some(&token),
                    Some(body.clone()),
                ));
                let status = response.status();
                prop_assert!(status.as_u16() < 500, "{path} {body}: {status}");
                if status.as_u16() >= 400 {
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    prop_assert_eq!(
                        content_type,
                        "application/problem+json",
                        "{} {}",
                        path,
                        body
                    );
                }
                Ok(())
            },
        )
        .unwrap();
    runtime.block_on(node.shutdown());
}
