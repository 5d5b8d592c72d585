//! Every change that lets someone in needs a recent second factor from an administrator
//! who has one, on SQLite and PostgreSQL: creating an administrator, setting another
//! user's password, registering, changing or re-keying an OpenID client, adding or
//! changing a user provider, and issuing its SCIM token. A stale session is refused each
//! with `step-up-required` and changes nothing; after a step-up each goes through.
//! (Permission changes, production deployments and key rotations are in `mfa.rs`.)

use rampart_core::Provider;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

use crate::kit::{on_both, problem_type, ADMIN_PASSWORD, USER_PASSWORD};
use crate::mfa::{call, code, enrol};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_that_let_someone_in_need_a_recent_second_factor() {
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
            .await;
        let plain = node
            .create_user(Provider::It, "plain", USER_PASSWORD, false)
            .await;
        let root = node.login("it", "root", ADMIN_PASSWORD).await;
        crate::idp::wiki(&node, &root).await;
        crate::scim::add_provider(&node, &root, "corp", "end").await;
        let (secret, _) = enrol(&node, &root).await;
        node.clock.advance(Duration::minutes(11));

        let bind = node.server().state.config.data_dir.join("other-bind");
        std::fs::write(&bind, "unused").unwrap();
        let provider = json!({ "name": "other", "kind": "ldap", "users": "it", "settings": {
            "url": "ldap://127.0.0.1:9", "security": "none",
            "bind_dn": "cn=svc,dc=example,dc=org",
            "bind_password": format!("file:{}", bind.display()),
            "user_base": "ou=people,dc=example,dc=org", "user_filter": "(uid={username})",
            "mappings": [{ "group": "admins", "it_role": "administrator" }] } });
        let cases: Vec<(Method, String, Value)> = vec![
            (
                Method::POST,
                "/api/v1/users".into(),
                json!({ "provider": "it", "username": "sneaky", "password": USER_PASSWORD,
                        "administrator": true }),
            ),
            (
                Method::POST,
                format!("/api/v1/users/{plain}/reset-password"),
                json!({ "password": "juniper-anvil-harbor-27" }),
            ),
            (
                Method::POST,
                "/api/v1/idp/clients".into(),
                json!({ "client_id": "blog", "name": "Blog", "first_party": true,
                        "redirect_uris": ["https://blog.example/cb"] }),
            ),
            (
                Method::PATCH,
                "/api/v1/idp/clients/wiki".into(),
                json!({ "redirect_uris": ["https://attacker.example/cb"] }),
            ),
            (
                Method::POST,
                "/api/v1/idp/clients/wiki/secret".into(),
                Value::Null,
            ),
            (Method::POST, "/api/v1/providers".into(), provider),
            (
                Method::PATCH,
                "/api/v1/providers/corp".into(),
                json!({ "users": "both" }),
            ),
            (
                Method::POST,
                "/api/v1/providers/corp/scim-token".into(),
                Value::Null,
            ),
        ];
        let before = node.events().await.len();
        for (method, path, body) in &cases {
            let (s, answer) = call(&node, method.clone(), path, Some(&root), body.clone()).await;
            assert_eq!(
                (s, problem_type(&answer)),
                (StatusCode::FORBIDDEN, "step-up-required"),
                "{name}: {method} {path}: {answer}"
            );
        }
        // Nothing changed, and nothing was recorded as done.
        let (_, users) = node.get("/api/v1/users?prefix=sneaky", &root).await;
        assert_eq!(users["items"], json!([]), "{name}");
        let (_, wiki) = node.get("/api/v1/idp/clients/wiki", &root).await;
        assert_eq!(
            wiki["redirect_uris"],
            json!([crate::idp::RP]),
            "{name}: {wiki}"
        );
        let (s, _) = node.get("/api/v1/providers/other", &root).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{name}");
        let done: Vec<String> = node.events().await[before..]
            .iter()
            .filter(|e| e.outcome == "success")
            .map(|e| e.action.clone())
            .collect();
        assert!(done.is_empty(), "{name}: {done:?}");
        // Turning a provider off lets nobody in, and may be urgent: no step-up.
        let (s, body) = call(
            &node,
            Method::PATCH,
            "/api/v1/providers/corp",
            Some(&root),
            json!({ "enabled": false }),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        // A user who is no administrator needs no step-up to be created.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/users",
            Some(&root),
            json!({ "provider": "end", "username": "erin", "password": USER_PASSWORD }),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {body}");

        // After a step-up, each goes through.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/step-up",
            Some(&root),
            json!({ "code": code(&node, &secret, 0) }),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}: {body}");
        for (method, path, body) in cases {
            let (s, answer) = call(&node, method.clone(), &path, Some(&root), body).await;
            assert!(s.is_success(), "{name}: {method} {path}: {s} {answer}");
        }
    })
    .await;
}
