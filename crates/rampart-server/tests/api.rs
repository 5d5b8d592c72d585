//! The HTTP API end to end: a real server over TLS on loopback, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod kit;

#[path = "api/ad.rs"]
mod ad;
#[path = "api/alert_delivery.rs"]
mod alert_delivery;
#[path = "api/alert_queue.rs"]
mod alert_queue;
#[path = "api/alerts.rs"]
mod alerts;
#[path = "api/apps.rs"]
mod apps;
#[path = "api/apps_advanced.rs"]
mod apps_advanced;
#[path = "api/apps_screens.rs"]
mod apps_screens;
#[path = "api/apps_sensitive.rs"]
mod apps_sensitive;
#[path = "api/audit.rs"]
mod audit;
#[path = "api/audit_keys.rs"]
mod audit_keys;
#[path = "api/audit_proof.rs"]
mod audit_proof;
#[path = "api/authz.rs"]
mod authz;
#[path = "api/enrolment.rs"]
mod enrolment;
#[path = "api/enrolment_mail.rs"]
mod enrolment_mail;
#[path = "api/findings.rs"]
mod findings;
#[path = "api/hardening.rs"]
mod hardening;
#[path = "api/history.rs"]
mod history;
#[path = "api/idp.rs"]
mod idp;
#[path = "api/idp_edit.rs"]
mod idp_edit;
#[path = "api/idp_refresh.rs"]
mod idp_refresh;
#[path = "api/idp_sign_in.rs"]
mod idp_sign_in;
#[path = "api/integrations.rs"]
mod integrations;
#[path = "api/ldap_pool.rs"]
mod ldap_pool;
#[path = "api/lease.rs"]
mod lease;
#[path = "api/lifecycle.rs"]
mod lifecycle;
#[path = "api/mfa.rs"]
mod mfa;
#[path = "api/names.rs"]
mod names;
#[path = "api/oidc.rs"]
mod oidc;
#[path = "api/passkey_sign_in.rs"]
mod passkey_sign_in;
#[path = "api/passkeys.rs"]
mod passkeys;
#[path = "api/posture.rs"]
mod posture;
#[path = "api/providers.rs"]
mod providers;
#[path = "api/rebuild.rs"]
mod rebuild;
#[path = "api/reveal.rs"]
mod reveal;
#[path = "api/roles.rs"]
mod roles;
#[path = "api/saml.rs"]
mod saml;
#[path = "api/saml_encrypted.rs"]
mod saml_encrypted;
#[path = "api/scim.rs"]
mod scim;
#[path = "api/scim_bulk.rs"]
mod scim_bulk;
#[path = "api/scim_enterprise.rs"]
mod scim_enterprise;
#[path = "api/scim_lookup.rs"]
mod scim_lookup;
#[path = "api/scim_pages.rs"]
mod scim_pages;
#[path = "api/sealed.rs"]
mod sealed;
#[path = "api/slapd.rs"]
mod slapd;
#[path = "api/step_up.rs"]
mod step_up;
#[path = "api/support.rs"]
mod support;
#[path = "api/support_mail.rs"]
mod support_mail;
#[path = "api/transport.rs"]
mod transport;

use kit::{no_tweak, on_both, problem, problem_type, start, Node, USER_PASSWORD};
use rampart_core::Provider;
use rampart_store::BackendKind;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

async fn me_status(node: &Node, token: &str) -> StatusCode {
    node.request(Method::GET, "/api/v1/auth/me", Some(token), None)
        .await
        .status()
}

/// `POST /api/v1/users/{id}/{action}` as `admin` (`disable`, `enable`, `revoke-sessions`),
/// which must succeed.
async fn act_on_user(node: &Node, admin: &str, id: &str, action: &str) {
    let answer = node
        .request(
            Method::POST,
            &format!("/api/v1/users/{id}/{action}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK, "{action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_me_logout_with_bearer_and_cookie() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        node.create_user(Provider::End, "Alice", USER_PASSWORD, false)
            .await;
        // Usernames are case-insensitive at login.
        let response = node.login_response("end", "ALICE", USER_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        for attribute in [
            "__Host-rampart_session=rps_",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
        ] {
            assert!(
                cookie.contains(attribute),
                "{name}: {cookie} lacks {attribute}"
            );
        }
        assert!(!cookie.contains("Domain"), "host-only cookie: {cookie}");
        let body: Value = response.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["user"]["username"], "Alice");
        assert!(body["user"].get("password_hash").is_none());

        let me: Value = node
            .request(Method::GET, "/api/v1/auth/me", Some(&token), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["user"]["provider"], "end", "{name}");
        assert_eq!(me["session"]["authenticated_by"], "bearer");

        // The cookie alone authenticates a browser's GET.
        let cookie_pair = cookie.split(';').next().unwrap().to_owned();
        let via_cookie: Value = node
            .client
            .get(format!("{}/api/v1/auth/me", node.base))
            .header("cookie", &cookie_pair)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            via_cookie["session"]["authenticated_by"], "cookie",
            "{name}"
        );

        let logout = node
            .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
            .await;
        assert_eq!(logout.status(), StatusCode::NO_CONTENT, "{name}");
        assert!(logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        let (status, headers, body) = problem(
            node.request(Method::GET, "/api/v1/auth/me", Some(&token), None)
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(problem_type(&body), "unauthenticated");
        assert!(headers.contains_key("www-authenticate"));

        let actions: Vec<(String, String)> = node
            .events()
            .await
            .into_iter()
            .map(|e| (e.action, e.outcome))
            .collect();
        assert!(
            actions.contains(&("auth.login".into(), "success".into())),
            "{name}: {actions:?}"
        );
        assert!(
            actions.contains(&("auth.logout".into(), "success".into())),
            "{name}: {actions:?}"
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    on_both(no_tweak, |node| async move {
        node.create_user(Provider::It, "carol", USER_PASSWORD, false)
            .await;
        let (s1, _, wrong) = problem(
            node.login_response("it", "carol", "not-her-password-at-all")
                .await,
        )
        .await;
        let (s2, _, unknown) = problem(
            node.login_response("it", "nobody", "not-her-password-at-all")
                .await,
        )
        .await;
        assert_eq!(s1, StatusCode::UNAUTHORIZED, "{}", node.name());
        assert_eq!(s1, s2);
        for key in ["type", "title", "detail", "status"] {
            assert_eq!(wrong[key], unknown[key], "{key}");
        }
        // The audit trail tells them apart for the auditor; the client cannot.
        let reasons: Vec<String> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "auth.login")
            .map(|e| {
                serde_json::from_str::<Value>(&e.details).unwrap()["reason"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(reasons, ["wrong-password", "unknown-user"]);
        // An unknown username (perhaps a password typed in the wrong field) is recorded as
        // a fingerprint only.
        assert!(
            node.events()
                .await
                .iter()
                .all(|e| !e.details.contains("nobody")
                    && !e.target.as_deref().unwrap_or("").contains("nobody")),
            "unknown usernames are not written to the audit trail"
        );
        assert!(
            node.events()
                .await
                .iter()
                .all(|e| !e.details.contains("not-her-password")),
            "no password in the audit trail"
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_account_with_backoff_until_unlocked() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let dave = node
            .create_user(Provider::End, "dave", USER_PASSWORD, false)
            .await;
        for _ in 0..3 {
            let (status, _, _) = problem(
                node.login_response("end", "dave", "wrong-password-xyz")
                    .await,
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        }
        // Locked now: even the right password is refused, without being checked.
        let (status, headers, body) =
            problem(node.login_response("end", "dave", USER_PASSWORD).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert_eq!(problem_type(&body), "login-throttled");
        assert_eq!(headers["retry-after"].to_str().unwrap(), "30", "{name}");
        assert_eq!(body["retry_after"], 30);
        // An unknown username locks the same way: lockout reveals nothing.
        for _ in 0..3 {
            node.login_response("end", "ghost", "wrong-password-xyz")
                .await;
        }
        let (status, _, _) = problem(
            node.login_response("end", "ghost", "wrong-password-xyz")
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{name}");

        // After the lock, one more failure doubles it.
        node.clock.advance(Duration::seconds(31));
        problem(
            node.login_response("end", "dave", "wrong-password-xyz")
                .await,
        )
        .await;
        let (_, headers, _) =
            problem(node.login_response("end", "dave", USER_PASSWORD).await).await;
        assert_eq!(headers["retry-after"].to_str().unwrap(), "60", "{name}");

        let unlock = node
            .request(
                Method::POST,
                &format!("/api/v1/users/{dave}/unlock"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(unlock.status(), StatusCode::NO_CONTENT, "{name}");
        node.login("end", "dave", USER_PASSWORD).await;
        let metrics = node.server().state.metrics.render();
        assert!(
            metrics.contains("rampart_lockouts_total 3"),
            "{name}: {metrics}"
        );
        assert!(
            metrics.contains("rampart_logins_total{provider=\"end\",outcome=\"failed\"} 7"),
            "{metrics}"
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_guesses_cannot_outrun_the_lock() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        node.create_user(Provider::End, "mia", USER_PASSWORD, false).await;
        let url = format!("{}/api/v1/auth/login", node.base);
        let guesses: Vec<_> = (0..10)
            .map(|i| {
                let (client, url) = (node.client.clone(), url.clone());
                tokio::spawn(async move {
                    let body = json!({"username": "mia", "password": format!("wrong-guess-{i}-xyz"), "provider": "end"});
                    client.post(url).json(&body).send().await.unwrap().status()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for guess in guesses {
            statuses.push(guess.await.unwrap());
        }
        // Checks are serialised per username: exactly `threshold` (3) guesses are checked,
        // every later one meets the lock.
        let failed = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((failed, throttled), (3, 7), "{name}: {statuses:?}");
        let (status, _, _) = problem(node.login_response("end", "mia", USER_PASSWORD).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{name}: the right password waits too");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_usernames_is_slowed_down() {
    let node = start(BackendKind::Sqlite, |c| {
        c.lockout.address_free_failures = 5;
        c.lockout.address_base_seconds = 2;
    })
    .await;
    for i in 0..5 {
        let (status, _, _) = problem(
            node.login_response("end", &format!("user{i}"), "guess-guess-guess")
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The sixth failure imposes a wait on the address, whatever the username.
    problem(
        node.login_response("end", "user5", "guess-guess-guess")
            .await,
    )
    .await;
    let (status, headers, body) =
        problem(node.login_response("end", "someone-else", "guess").await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"].to_str().unwrap(), "2");
    assert!(body["detail"].as_str().unwrap().contains("retry"));
    node.clock.advance(Duration::seconds(2));
    let (status, _, _) = problem(node.login_response("end", "someone-else", "guess").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_common_personal_and_reused_passwords_are_rejected_by_name() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let create = |username: &str, password: &str| {
            json!({ "provider": "end", "username": username, "password": password, "email": "erin.smith@example.org" })
        };
        let cases = [
            ("short-pw", "min-length"),
            ("password1234", "guessable"),
            ("qwertyuiop123", "guessable"),
            ("erin.smith-2024!", "contains-user-info"),
        ];
        for (password, rule) in cases {
            let response = node.request(Method::POST, "/api/v1/users", Some(&admin), Some(create("erin", password))).await;
            let (status, _, body) = problem(response).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {password}");
            assert_eq!(problem_type(&body), "password-rejected");
            assert_eq!(body["rule"], rule, "{name}: {password}: {body}");
        }
        let creations = node.events().await.iter().filter(|e| e.action == "user.create").count();
        assert_eq!(creations, 1, "{name}: only the administrator exists; rejected users left no trace");
        let created = node.request(Method::POST, "/api/v1/users", Some(&admin), Some(create("erin", USER_PASSWORD))).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{name}");
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let user: Value = created.json().await.unwrap();
        assert_eq!(location, format!("/api/v1/users/{}", user["id"].as_str().unwrap()));
        assert_eq!(user["email"], "erin.smith@example.org");

        // Reuse of the current or a recent password is refused; a new one is fine.
        let reset = |password: &str| json!({ "password": password });
        let path = format!("{location}/reset-password");
        let (status, _, body) = problem(node.request(Method::POST, &path, Some(&admin), Some(reset(USER_PASSWORD))).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(body["rule"], "reused");
        let second = "cobalt-meadow-tangent-55";
        assert_eq!(node.request(Method::POST, &path, Some(&admin), Some(reset(second))).await.status(), StatusCode::NO_CONTENT);
        let (_, _, body) = problem(node.request(Method::POST, &path, Some(&admin), Some(reset(USER_PASSWORD))).await).await;
        assert_eq!(body["rule"], "reused", "{name}: the previous password is remembered");
        node.login("end", "erin", second).await;
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problems_and_change_nothing() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let events_before = node.events().await.len();
        let url = format!("{}/api/v1/users", node.base);
        let send = |content_type: &'static str, body: Vec<u8>| {
            node.client
                .post(&url)
                .bearer_auth(&admin)
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
            ("application/json", b"{\"provider\": \"end\", ".to_vec(), StatusCode::BAD_REQUEST, "malformed-json"),
            ("application/json", b"not json at all".to_vec(), StatusCode::BAD_REQUEST, "malformed-json"),
            ("text/plain", b"{}".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type"),
            ("application/x-www-form-urlencoded", b"a=b".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type"),
            (
                "application/json",
                serde_json::to_vec(&json!({"provider": "end", "username": "x1", "password": USER_PASSWORD, "role": "god"})).unwrap(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            ("application/json", b"{\"provider\": 7}".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid-input"),
            (
                "application/json",
                serde_json::to_vec(&json!({"provider": "martian", "username": "x2", "password": USER_PASSWORD})).unwrap(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            (
                "application/json",
                serde_json::to_vec(&json!({"provider": "end", "username": "bad name", "password": USER_PASSWORD})).unwrap(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            (
                "application/json",
                serde_json::to_vec(&json!({"provider": "end", "username": "x3", "password": USER_PASSWORD, "email": "nope"})).unwrap(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            ("application/json", vec![b' '; 64 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
        ];
        for (content_type, body, expected, code) in cases {
            let (status, _, problem_body) = problem(send(content_type, body).await.unwrap()).await;
            assert_eq!((status, problem_type(&problem_body)), (expected, code), "{name}: {problem_body}");
        }
        let (_, _, unknown) = problem(
            send(
                "application/json",
                serde_json::to_vec(&json!({"provider": "end", "username": "x", "password": USER_PASSWORD, "role": "god"})).unwrap(),
            )
            .await
            .unwrap(),
        )
        .await;
        assert!(unknown["detail"].as_str().unwrap().contains("unknown field `role`"), "{unknown}");

        // Duplicate usernames differ only in case.
        node.create_user(Provider::End, "Frank", USER_PASSWORD, false).await;
        let dup = json!({"provider": "end", "username": "FRANK", "password": "cobalt-meadow-tangent-55"});
        let (status, _, body) = problem(node.request(Method::POST, "/api/v1/users", Some(&admin), Some(dup)).await).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::CONFLICT, "conflict"), "{name}");

        let missing = "01a20320-0ac9-76f2-8e96-9dfa6b625588";
        for (method, path) in [
            (Method::GET, format!("/api/v1/users/{missing}")),
            (Method::DELETE, format!("/api/v1/users/{missing}")),
            (Method::POST, format!("/api/v1/users/{missing}/disable")),
        ] {
            let (status, _, _) = problem(node.request(method, &path, Some(&admin), None).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {path}");
        }
        let (status, _, body) = problem(node.request(Method::GET, "/api/v1/users/not-a-uuid", Some(&admin), None).await).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("id")));
        let (status, _, body) = problem(node.request(Method::GET, "/api/v1/users?limit=0", Some(&admin), None).await).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")), "{name}");
        let (status, _, body) = problem(node.request(Method::GET, "/api/v1/users?limit=abc", Some(&admin), None).await).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::BAD_REQUEST, "invalid-input"), "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
        let (status, _, _) = problem(node.request(Method::POST, "/api/v1/auth/logout?all=yes", Some(&admin), None).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, body) = problem(node.request(Method::GET, "/api/v1/nowhere", None, None).await).await;
        assert_eq!((status, problem_type(&body)), (StatusCode::NOT_FOUND, "route-not-found"));
        let (status, _, _) = problem(node.request(Method::PUT, "/api/v1/auth/login", None, None).await).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

        // Only the one successful direct creation was recorded.
        let after: Vec<String> = node.events().await.into_iter().skip(events_before).map(|e| e.action).collect();
        assert_eq!(after, ["user.create"], "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_revoked_and_forged_tokens_are_refused() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        node.create_user(Provider::End, "gina", USER_PASSWORD, false)
            .await;
        let token = node.login("end", "gina", USER_PASSWORD).await;
        let mut forged = token.clone();
        forged.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
        for bad in [forged.as_str(), "rps_short", "", "Basic dXNlcjpwYXNz"] {
            let (status, _, body) = problem(
                node.request(Method::GET, "/api/v1/auth/me", Some(bad), None)
                    .await,
            )
            .await;
            assert_eq!(
                (status, problem_type(&body)),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{name}: {bad:?}"
            );
        }
        let basic = node
            .client
            .get(format!("{}/api/v1/auth/me", node.base))
            .header("authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

        // Idle expiry: 30 minutes without use ends the session; use keeps it alive.
        node.clock.advance(Duration::minutes(29));
        assert_eq!(me_status(&node, &token).await, StatusCode::OK, "{name}");
        node.clock.advance(Duration::minutes(29));
        assert_eq!(
            me_status(&node, &token).await,
            StatusCode::OK,
            "{name}: activity was recorded"
        );
        node.clock.advance(Duration::minutes(31));
        assert_eq!(
            me_status(&node, &token).await,
            StatusCode::UNAUTHORIZED,
            "{name}: idle"
        );

        // Absolute expiry: 12 hours after login, however active.
        let token = node.login("end", "gina", USER_PASSWORD).await;
        for _ in 0..25 {
            node.clock.advance(Duration::minutes(29));
            if me_status(&node, &token).await != StatusCode::OK {
                break;
            }
        }
        let (_, _, body) = problem(
            node.request(Method::GET, "/api/v1/auth/me", Some(&token), None)
                .await,
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("expired"),
            "{name}: {body}"
        );
        node.shutdown().await;
    })
    .await;
}

/// Nodes sharing a PostgreSQL database keep the sessions they looked up in memory: a
/// logout, a revocation, a disable or a password change made through one node ends the
/// session on every other node by the very next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_through_one_node_end_on_every_node_at_once() {
    let a = start(BackendKind::Postgres, no_tweak).await;
    let b = kit::start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    let admin = a.admin().await;
    let id = a
        .create_user(Provider::End, "ivy", USER_PASSWORD, false)
        .await;
    for round in 0..3 {
        // Logout through a.
        let token = a.login("end", "ivy", USER_PASSWORD).await;
        assert_eq!(me_status(&b, &token).await, StatusCode::OK, "round {round}");
        assert_eq!(
            me_status(&b, &token).await,
            StatusCode::OK,
            "cached, round {round}"
        );
        let out = a
            .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
            .await;
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            me_status(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "logout, round {round}"
        );
        // Revocation by an administrator through a.
        let token = a.login("end", "ivy", USER_PASSWORD).await;
        assert_eq!(me_status(&b, &token).await, StatusCode::OK);
        act_on_user(&a, &admin, &id, "revoke-sessions").await;
        assert_eq!(
            me_status(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "revoke, round {round}"
        );
        // Disabled through a.
        let token = a.login("end", "ivy", USER_PASSWORD).await;
        assert_eq!(me_status(&b, &token).await, StatusCode::OK);
        act_on_user(&a, &admin, &id, "disable").await;
        assert_eq!(
            me_status(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "disable, round {round}"
        );
        act_on_user(&a, &admin, &id, "enable").await;
    }
    // A session another node never saw is looked up there and works.
    let token = a.login("end", "ivy", USER_PASSWORD).await;
    assert_eq!(me_status(&b, &token).await, StatusCode::OK);
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_all_sessions_and_disabling_end_every_session() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let id = node
            .create_user(Provider::End, "hank", USER_PASSWORD, false)
            .await;
        let a = node.login("end", "hank", USER_PASSWORD).await;
        let b = node.login("end", "hank", USER_PASSWORD).await;
        let logout_all = node
            .request(Method::POST, "/api/v1/auth/logout?all=true", Some(&a), None)
            .await;
        assert_eq!(logout_all.status(), StatusCode::NO_CONTENT, "{name}");
        assert_eq!(
            me_status(&node, &b).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );

        let c = node.login("end", "hank", USER_PASSWORD).await;
        let revoked: Value = node
            .request(
                Method::POST,
                &format!("/api/v1/users/{id}/revoke-sessions"),
                Some(&admin),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(revoked["revoked"], 1, "{name}");
        assert_eq!(me_status(&node, &c).await, StatusCode::UNAUTHORIZED);

        let d = node.login("end", "hank", USER_PASSWORD).await;
        let disabled: Value = node
            .request(
                Method::POST,
                &format!("/api/v1/users/{id}/disable"),
                Some(&admin),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(disabled["disabled"], true);
        assert_eq!(
            me_status(&node, &d).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        let (status, _, body) =
            problem(node.login_response("end", "hank", USER_PASSWORD).await).await;
        assert_eq!(
            (status, problem_type(&body)),
            (StatusCode::FORBIDDEN, "account-disabled"),
            "{name}"
        );
        let (status, _, _) = problem(
            node.login_response("end", "hank", "not-the-password-1")
                .await,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a wrong password learns nothing about the account state"
        );
        node.request(
            Method::POST,
            &format!("/api/v1/users/{id}/enable"),
            Some(&admin),
            None,
        )
        .await;
        node.login("end", "hank", USER_PASSWORD).await;
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_management_is_for_it_administrators_only() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let admin_id = node
            .request(Method::GET, "/api/v1/auth/me", Some(&admin), None)
            .await
            .json::<Value>()
            .await
            .unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        node.create_user(Provider::It, "ivan", USER_PASSWORD, false)
            .await;
        node.create_user(Provider::End, "root", USER_PASSWORD, false)
            .await;
        for (provider, user) in [("it", "ivan"), ("end", "root")] {
            let token = node.login(provider, user, USER_PASSWORD).await;
            let (status, _, body) = problem(
                node.request(Method::GET, "/api/v1/users", Some(&token), None)
                    .await,
            )
            .await;
            assert_eq!(
                (status, problem_type(&body)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{name}: {user}"
            );
        }
        let (status, _, _) =
            problem(node.request(Method::GET, "/api/v1/users", None, None).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // Listing, paging and filtering.
        let page: Value = node
            .request(
                Method::GET,
                "/api/v1/users?provider=it&limit=1",
                Some(&admin),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{name}");
        let cursor = page["next_cursor"].as_str().unwrap();
        let next: Value = node
            .request(
                Method::GET,
                &format!("/api/v1/users?provider=it&limit=1&cursor={cursor}"),
                Some(&admin),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(next["items"][0]["username"], "ivan", "{name}");
        assert!(next["next_cursor"].is_null());

        // Update: absent fields stay, null clears.
        let ivan = next["items"][0]["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/users/{ivan}");
        let updated: Value = node
            .request(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(json!({"display_name": "Ivan I.", "email": "IVAN@Example.org"})),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (updated["display_name"].as_str(), updated["email"].as_str()),
            (Some("Ivan I."), Some("ivan@example.org"))
        );
        let cleared: Value = node
            .request(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(json!({"email": null})),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (cleared["display_name"].as_str(), cleared["email"].as_str()),
            (Some("Ivan I."), None),
            "{name}"
        );

        // Administrators cannot lock themselves out.
        for action in ["disable"] {
            let (status, _, _) = problem(
                node.request(
                    Method::POST,
                    &format!("/api/v1/users/{admin_id}/{action}"),
                    Some(&admin),
                    None,
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::CONFLICT);
        }
        let (status, _, _) = problem(
            node.request(
                Method::DELETE,
                &format!("/api/v1/users/{admin_id}"),
                Some(&admin),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}");
        let deleted = node
            .request(Method::DELETE, &path, Some(&admin), None)
            .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let (status, _, _) =
            problem(node.request(Method::GET, &path, Some(&admin), None).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Every change names its actor in the audit trail.
        let deletes: Vec<_> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "user.delete")
            .collect();
        assert_eq!(deletes.len(), 1);
        assert_eq!(deletes[0].actor_name.as_deref(), Some("it:admin"), "{name}");
        assert_eq!(deletes[0].node_id, "test-node");
        assert!(deletes[0].request_id.is_some());
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_requests_that_change_state_must_come_from_this_origin() {
    let node = start(BackendKind::Sqlite, no_tweak).await;
    node.create_user(Provider::End, "jane", USER_PASSWORD, false)
        .await;
    let response = node.login_response("end", "jane", USER_PASSWORD).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let logout = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = node
            .client
            .post(format!("{}/api/v1/auth/logout", node.base))
            .header("cookie", &cookie);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        req.send()
    };
    for (origin, site) in [
        (None, None),
        (Some("https://evil.example"), None),
        (Some("null"), None),
    ] {
        let (status, _, body) = problem(logout(origin, site).await.unwrap()).await;
        assert_eq!(
            (status, problem_type(&body)),
            (StatusCode::FORBIDDEN, "csrf-rejected"),
            "{origin:?}"
        );
    }
    let own: &'static str = Box::leak(node.base.clone().into_boxed_str());
    // Over HTTP/2 there is no Host header: the `:authority` stands for it.
    let h2_login = node.login_response("end", "jane", USER_PASSWORD).await;
    assert_eq!(
        h2_login.version(),
        reqwest::Version::HTTP_2,
        "the client negotiated h2"
    );
    let h2_cookie = h2_login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let h2_logout = node
        .client
        .post(format!("{}/api/v1/auth/logout", node.base))
        .header("cookie", &h2_cookie)
        .header("origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (h2_logout.version(), h2_logout.status()),
        (reqwest::Version::HTTP_2, StatusCode::NO_CONTENT)
    );
    let (status, _, _) = problem(logout(Some(own), Some("cross-site")).await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "Sec-Fetch-Site: cross-site is refused"
    );
    assert_eq!(
        logout(Some(own), Some("same-origin"))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );

    // A login posted from another origin (login CSRF) is refused too.
    let cross_login = node
        .client
        .post(format!("{}/api/v1/auth/login", node.base))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "jane", "password": USER_PASSWORD, "provider": "end"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_login.status(), StatusCode::FORBIDDEN);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_password_must_be_changed_before_login() {
    let node = start(BackendKind::Sqlite, |c| c.password.max_age_days = 90).await;
    node.create_user(Provider::End, "kim", USER_PASSWORD, false)
        .await;
    node.login("end", "kim", USER_PASSWORD).await;
    node.clock.advance(Duration::days(91));
    let (status, _, body) = problem(node.login_response("end", "kim", USER_PASSWORD).await).await;
    assert_eq!(
        (status, problem_type(&body)),
        (StatusCode::FORBIDDEN, "password-expired")
    );
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("/api/v1/auth/change-password"));
    let change = |current: &str, new: &str| json!({"provider": "end", "username": "kim", "current_password": current, "new_password": new});
    let (status, _, body) = problem(
        node.request(
            Method::POST,
            "/api/v1/auth/change-password",
            None,
            Some(change(USER_PASSWORD, USER_PASSWORD)),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reused"))
    );
    let (status, _, _) = problem(
        node.request(
            Method::POST,
            "/api/v1/auth/change-password",
            None,
            Some(change("wrong-current-pw", "cobalt-meadow-tangent-55")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ok = node
        .request(
            Method::POST,
            "/api/v1/auth/change-password",
            None,
            Some(change(USER_PASSWORD, "cobalt-meadow-tangent-55")),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    node.login("end", "kim", "cobalt-meadow-tangent-55").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_security_headers_and_http_redirects_to_https() {
    let node = start(BackendKind::Sqlite, no_tweak).await;
    let ok = node.request(Method::GET, "/healthz", None, None).await;
    let missing = node.request(Method::GET, "/nowhere", None, None).await;
    for response in [&ok, &missing] {
        let h = response.headers();
        assert_eq!(
            h["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.contains_key("x-request-id"));
    }
    let traced = node
        .client
        .get(format!("{}/healthz", node.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "trace-me-42");
    // Invented methods are answered with a problem and counted as OTHER, never as a new label.
    let odd = node
        .client
        .request(
            Method::from_bytes(b"FROBNICATE").unwrap(),
            format!("{}/healthz", node.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), StatusCode::METHOD_NOT_ALLOWED);
    let metrics = node.server().state.metrics.render();
    assert!(
        !metrics.contains("FROBNICATE") && metrics.contains("method=\"OTHER\""),
        "{metrics}"
    );

    let redirect = node
        .client
        .post(format!("{}/api/v1/auth/login?x=1", node.http_base))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    let port = node.server().https_addr.port();
    assert_eq!(
        redirect.headers()["location"],
        format!("https://127.0.0.1:{port}/api/v1/auth/login?x=1")
    );
    assert!(
        !redirect.headers().contains_key("strict-transport-security"),
        "no HSTS over plain HTTP"
    );
    assert!(node
        .request(Method::GET, "/readyz", None, None)
        .await
        .status()
        .is_success());
    node.shutdown().await;

    // With enforce_https = false, plain HTTP serves the API (and the cookie drops Secure).
    let node = start(BackendKind::Sqlite, |c| c.enforce_https = false).await;
    node.create_user(Provider::End, "lee", USER_PASSWORD, false)
        .await;
    let plain = node
        .client
        .post(format!("{}/api/v1/auth/login", node.http_base))
        .json(&json!({"username": "lee", "password": USER_PASSWORD, "provider": "end"}))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let cookie = plain.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("rampart_session=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    node.shutdown().await;
}

/// Runs `openssl s_client` against the node with extra flags; returns its combined output
/// and whether the handshake succeeded.
fn s_client(node: &Node, flags: &[&str]) -> (String, bool) {
    let output = std::process::Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(node.server().https_addr.to_string())
        .args(flags)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client (Debian package openssl) must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let handshake = text.contains("Cipher is") && !text.contains("Cipher is (NONE)");
    (text, handshake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_below_1_2_is_refused_and_h2_is_offered() {
    let node = start(BackendKind::Sqlite, no_tweak).await;
    for old in ["-tls1", "-tls1_1"] {
        let (text, ok) = tokio::task::block_in_place(|| {
            s_client(&node, &[old, "-cipher", "DEFAULT@SECLEVEL=0"])
        });
        assert!(!ok, "{old} must be refused: {text}");
    }
    for (version, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (text, ok) =
            tokio::task::block_in_place(|| s_client(&node, &[version, "-alpn", "h2,http/1.1"]));
        assert!(ok && text.contains(name), "{version}: {text}");
        assert!(text.contains("ALPN protocol: h2"), "{version}: {text}");
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_matches_the_committed_one() {
    let node = start(BackendKind::Sqlite, no_tweak).await;
    let served = node
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .text()
        .await
        .unwrap();
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
    assert!(
        served.trim() == committed.trim(),
        "docs/openapi.json is stale: regenerate it with `cargo run -q -- openapi > docs/openapi.json`"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/auth/change-password",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/disable",
        "/api/v1/users/{id}/enable",
        "/api/v1/users/{id}/reset-password",
        "/api/v1/users/{id}/unlock",
        "/api/v1/users/{id}/revoke-sessions",
        "/api/v1/alerts/deliveries",
        "/api/v1/alerts/deliveries/retry",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    node.shutdown().await;
}

/// A user lists their own open sessions (the current one marked) and ends one of them; the
/// ended session stops working at once; another user's session, or an ended one, is not
/// found; nothing of it without a session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lists_and_ends_their_own_sessions() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        node.create_user(Provider::End, "sam", USER_PASSWORD, false)
            .await;
        node.create_user(Provider::End, "tess", USER_PASSWORD, false)
            .await;
        let laptop = node.login("end", "sam", USER_PASSWORD).await;
        let phone = node.login("end", "sam", USER_PASSWORD).await;
        let tess = node.login("end", "tess", USER_PASSWORD).await;

        let list = |token: String| {
            let node = &node;
            async move {
                let r = node
                    .request(Method::GET, "/api/v1/auth/sessions", Some(&token), None)
                    .await;
                assert_eq!(r.status(), StatusCode::OK);
                r.json::<Value>().await.unwrap()["sessions"]
                    .as_array()
                    .unwrap()
                    .clone()
            }
        };
        let seen = list(laptop.clone()).await;
        assert_eq!(seen.len(), 2, "{name}: {seen:?}");
        let current: Vec<_> = seen
            .iter()
            .filter(|s| s["current"] == json!(true))
            .collect();
        assert_eq!(current.len(), 1, "{name}");
        let other = seen.iter().find(|s| s["current"] == json!(false)).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(seen
            .iter()
            .all(|s| s.get("token").is_none() && s.get("token_hash").is_none()));
        let tess_id = list(tess.clone()).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Tess cannot end Sam's session, nor Sam hers: not found, and both still work.
        let path = format!("/api/v1/auth/sessions/{other}");
        let r = node.request(Method::DELETE, &path, Some(&tess), None).await;
        let (status, _, body) = problem(r).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(problem_type(&body), "not-found", "{name}");
        let r = node
            .request(
                Method::DELETE,
                &format!("/api/v1/auth/sessions/{tess_id}"),
                Some(&laptop),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{name}");
        assert_eq!(me_status(&node, &phone).await, StatusCode::OK, "{name}");
        assert_eq!(me_status(&node, &tess).await, StatusCode::OK, "{name}");

        // Sam ends the phone's session from the laptop: it stops at once, the laptop's stays.
        let r = node
            .request(Method::DELETE, &path, Some(&laptop), None)
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{name}");
        assert_eq!(
            me_status(&node, &phone).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        assert_eq!(me_status(&node, &laptop).await, StatusCode::OK, "{name}");
        assert_eq!(list(laptop.clone()).await.len(), 1, "{name}");
        let again = node
            .request(Method::DELETE, &path, Some(&laptop), None)
            .await;
        assert_eq!(again.status(), StatusCode::NOT_FOUND, "{name}");
        let r = node
            .request(
                Method::DELETE,
                "/api/v1/auth/sessions/not-a-session",
                Some(&laptop),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{name}");

        // Without a session: 401 for both.
        let r = node
            .request(Method::GET, "/api/v1/auth/sessions", None, None)
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        let r = node.request(Method::DELETE, &path, None, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
    })
    .await;
}
