//! Arbitrary requests never make the server fail: every answer below 500, and every error
//! a problem document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod kit;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use rampart_core::SystemClock;
use rampart_server::{router, AppState};
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
        Just("/api/v1/auth/change-password".to_owned()),
        Just("/api/v1/auth/me".to_owned()),
        Just("/api/v1/users".to_owned()),
        "/api/v1/users/[a-z0-9%-]{0,40}(/disable|/unlock)?",
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
                    prop_assert_eq!(
                        content_type,
                        "application/problem+json",
                        "{} {}",
                        path,
                        status
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
