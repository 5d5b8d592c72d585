//! User providers against a real OpenLDAP `slapd` (`slapd.rs`): sign-in through the
//! directory with just-in-time profiles and roles from groups, the refusals (wrong, empty
//! and injected credentials, disabled users), sync, and the directory's failures.

use rampart_core::Provider;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};
use crate::slapd::{slapd, SUFFIX};

/// Creates the user provider `name` over `settings` as the administrator `admin`.
async fn add_provider(node: &Node, admin: &str, name: &str, users: &str, settings: Value) {
    let (status, body) = node
        .post(
            "/api/v1/providers",
            admin,
            json!({ "name": name, "kind": "ldap", "users": users, "settings": settings }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
}

/// A login through the user provider `via`.
async fn login_via(
    node: &Node,
    via: &str,
    kind: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    node.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({
            "provider": kind, "username": username, "password": password, "user_provider": via
        })),
    )
    .await
}

/// The token of a login through `via` that must succeed.
async fn token_via(node: &Node, via: &str, kind: &str, username: &str, password: &str) -> String {
    let response = login_via(node, via, kind, username, password).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}: {username}: {body}",
        node.name()
    );
    body["token"].as_str().unwrap().to_owned()
}

/// The `auth.login` events' details, oldest first.
async fn login_events(node: &Node) -> Vec<(String, Value)> {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login")
        .map(|e| {
            let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
            (e.outcome.clone(), details)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_sign_in_just_in_time_with_roles_from_their_groups() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("jit-{name}"),
            &[("alice", "alice-dir-pass-1", ""), ("dave", "dave-dir-pass-1", "")],
            &[("admins", &["alice"]), ("devs", &["dave"])],
        );
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "it", ldap.settings(&base)).await;

        // Alice's first login makes her profile, with the administrator role of `admins`.
        let token = token_via(&node, "corp", "it", "alice", "alice-dir-pass-1").await;
        let (status, me) = node.get("/api/v1/auth/me", &token).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(me["user"]["username"], "alice", "{name}");
        assert_eq!(me["user"]["user_provider"], "corp", "{name}");
        assert_eq!(me["user"]["email"], format!("alice@jit-{name}.example.com"), "{name}");
        assert_eq!(me["user"]["display_name"], "alice Example", "{name}");
        assert_eq!(me["user"]["administrator"], true, "{name}: {me}");
        // Her password is the directory's: Rampart keeps none.
        assert_eq!(me["user"]["password"], false, "{name}: {me}");
        // The role works: she administers users.
        let (status, users) = node.get("/api/v1/users?provider=it", &token).await;
        assert_eq!(status, StatusCode::OK, "{name}: {users}");
        let listed: Vec<&str> = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(listed, ["admin", "alice"], "{name}");
        // Dave is a developer, not an administrator.
        let dave = token_via(&node, "corp", "it", "dave", "dave-dir-pass-1").await;
        let (_, me) = node.get("/api/v1/auth/me", &dave).await;
        assert_eq!(me["user"]["administrator"], false, "{name}");
        let (status, _) = node.get("/api/v1/users", &dave).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");

        // The directory moves Alice from admins to devs: her next login follows.
        ldap.ldif(
            "ldapmodify",
            &format!(
                "dn: cn=admins,{base}\nchangetype: modify\ndelete: member\nmember: uid=alice,{base}\n\n\
                 dn: cn=devs,{base}\nchangetype: modify\nadd: member\nmember: uid=alice,{base}\n"
            ),
        );
        let token = token_via(&node, "corp", "it", "ALICE", "alice-dir-pass-1").await;
        let (_, me) = node.get("/api/v1/auth/me", &token).await;
        assert_eq!(me["user"]["administrator"], false, "{name}: {me}");
        let roles = node
            .server()
            .state
            .store
            .it_roles_of(rampart_core::UserId::parse(me["user"]["id"].as_str().unwrap(), "id").unwrap())
            .await
            .unwrap();
        assert_eq!(roles, ["developer"], "{name}");

        // Each login is audited with the provider; the directory password is nowhere in
        // the trail.
        let events = login_events(&node).await;
        let through: Vec<_> = events
            .iter()
            .filter(|(outcome, d)| outcome == "success" && d["user_provider"] == "corp")
            .collect();
        assert_eq!(through.len(), 3, "{name}: {events:?}");
        let all = serde_json::to_string(
            &node
                .events()
                .await
                .iter()
                .map(|e| format!("{} {:?} {}", e.action, e.target, e.details))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(!all.contains("alice-dir-pass-1"), "{name}");
        assert!(!all.contains("service-account-secret"), "{name}");
        // A directory user cannot use Rampart's own login, even with the right password.
        let response = node.login_response("it", "alice", "alice-dir-pass-1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_empty_and_injected_credentials_are_refused_counted_and_audited() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("refuse-{name}"),
            &[("bob", "bob-dir-pass-1", ""), ("eve", "eve-dir-pass-1", "")],
            &[("admins", &["bob"])],
        );
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "it", ldap.settings(&base)).await;

        // A wrong password: 401, audited with the provider and the reason.
        let response = login_via(&node, "corp", "it", "bob", "not-bobs-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        // An empty password is refused before any bind (an unauthenticated bind would
        // "succeed").
        let response = login_via(&node, "corp", "it", "eve", "").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        // Filter metacharacters are escaped: the name matches nobody, not everyone.
        for injected in ["*)(uid=*", "*", "bob)(|(uid=*", "*)(objectClass=*"] {
            let response = login_via(&node, "corp", "it", injected, "bob-dir-pass-1").await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{name}: {injected}"
            );
        }
        let events = login_events(&node).await;
        let reasons: Vec<String> = events
            .iter()
            .filter(|(o, d)| o == "failure" && d["user_provider"] == "corp")
            .map(|(_, d)| d["reason"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(
            reasons,
            [
                "wrong-password",
                "empty-password",
                "unknown-user",
                "unknown-user",
                "unknown-user",
                "unknown-user"
            ],
            "{name}: {events:?}"
        );
        // Nobody was made: only the local administrator exists.
        let (_, users) = node.get("/api/v1/users", &admin).await;
        assert_eq!(
            users["items"].as_array().unwrap().len(),
            1,
            "{name}: {users}"
        );

        // Lockout counts directory failures too (threshold 3 in tests): then even the right
        // password waits.
        for _ in 0..2 {
            let response = login_via(&node, "corp", "it", "bob", "still-wrong").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        }
        let response = login_via(&node, "corp", "it", "bob", "bob-dir-pass-1").await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert!(
            node.events()
                .await
                .iter()
                .any(|e| e.action == "auth.lockout"),
            "{name}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_users_do_not_sign_in() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("disabled-{name}"),
            &[
                ("frank", "frank-dir-pass-1", "employeeType: disabled\n"),
                ("gina", "gina-dir-pass-1", ""),
            ],
            &[],
        );
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "it", ldap.settings(&base)).await;
        // Disabled in the directory: not found by the filter, refused, no profile.
        let response = login_via(&node, "corp", "it", "frank", "frank-dir-pass-1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        // Disabled in Rampart: the directory's yes does not enable the profile.
        let token = token_via(&node, "corp", "it", "gina", "gina-dir-pass-1").await;
        let (_, me) = node.get("/api/v1/auth/me", &token).await;
        let id = me["user"]["id"].as_str().unwrap().to_owned();
        let (status, _) = node
            .post_empty(&format!("/api/v1/users/{id}/disable"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let response = login_via(&node, "corp", "it", "gina", "gina-dir-pass-1").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        let (_, users) = node.get("/api/v1/users", &admin).await;
        let names: Vec<&str> = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["admin", "gina"], "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_disables_users_gone_from_the_directory_and_ends_their_sessions() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("sync-{name}"),
            &[
                ("hank", "hank-dir-pass-1", ""),
                ("iris", "iris-dir-pass-1", ""),
                ("jack", "jack-dir-pass-1", ""),
            ],
            &[("admins", &["iris"])],
        );
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "it", ldap.settings(&base)).await;
        let hank = token_via(&node, "corp", "it", "hank", "hank-dir-pass-1").await;

        // The first run makes the profiles not signed in yet, with their roles.
        let (status, report) = node.post_empty("/api/v1/providers/corp/sync", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {report}");
        assert_eq!(report["listed"], 3, "{name}: {report}");
        assert_eq!(report["created"], 2, "{name}: {report}");
        assert_eq!(report["disabled"], 0, "{name}: {report}");

        // Hank leaves the directory: the next run disables him and ends his session.
        ldap.ldif("ldapdelete", &format!("uid=hank,{base}\n"));
        let (status, report) = node.post_empty("/api/v1/providers/corp/sync", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {report}");
        assert_eq!(report["disabled"], 1, "{name}: {report}");
        assert_eq!(report["sessions_revoked"], 1, "{name}: {report}");
        let (status, _) = node.get("/api/v1/auth/me", &hank).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, st) = node.get("/api/v1/providers/corp/status", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(st["users"], 3, "{name}: {st}");
        assert_eq!(st["disabled_users"], 1, "{name}: {st}");
        assert_eq!(st["last_sync"]["disabled"], 1, "{name}: {st}");
        // Each run is audited with its counts.
        let syncs: Vec<Value> = node
            .events()
            .await
            .iter()
            .filter(|e| e.action == "provider.sync")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert_eq!(syncs.len(), 2, "{name}");
        assert_eq!(syncs[1]["disabled"], 1, "{name}: {syncs:?}");
        // Iris got her role from the sync, before ever signing in.
        let (_, users) = node.get("/api/v1/users?prefix=iris", &admin).await;
        assert_eq!(users["items"][0]["administrator"], true, "{name}: {users}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bind_credentials_and_an_unreachable_directory_are_clear_errors() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("fail-{name}"),
            &[("kate", "kate-dir-pass-1", "")],
            &[],
        );
        let admin = node.admin().await;
        let mut wrong = ldap.settings(&base);
        wrong["bind_password"] = format!("file:{}", ldap.wrong_secret.display()).into();
        add_provider(&node, &admin, "wrongbind", "it", wrong).await;
        let mut down = ldap.settings(&base);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        down["url"] = format!("ldap://127.0.0.1:{port}").into();
        add_provider(&node, &admin, "down", "it", down).await;
        let mut tls = ldap.settings(&base);
        tls["url"] = format!("ldaps://127.0.0.1:{}", ldap.ldaps_port).into();
        tls["security"] = "tls".into();
        add_provider(&node, &admin, "corp", "it", tls.clone()).await;
        let mut untrusted = tls;
        untrusted.as_object_mut().unwrap().remove("ca_certificate");
        add_provider(&node, &admin, "untrusted", "it", untrusted).await;

        // The good one (TLS from the first byte) tests fine and signs users in.
        let (status, body) = node.post_empty("/api/v1/providers/corp/test", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        token_via(&node, "corp", "it", "kate", "kate-dir-pass-1").await;
        // A certificate nobody vouches for is refused: no channel, no bind.
        let response = node
            .request(
                Method::POST,
                "/api/v1/providers/untrusted/test",
                Some(&admin),
                None,
            )
            .await;
        let (status, _, body) = crate::kit::problem(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{name}: {body}");
        // A refused service bind is an error on test and on sync, never "0 users".
        for op in ["test", "sync"] {
            let response = node
                .request(
                    Method::POST,
                    &format!("/api/v1/providers/wrongbind/{op}"),
                    Some(&admin),
                    None,
                )
                .await;
            let (status, _, body) = crate::kit::problem(response).await;
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{name}: {op}: {body}");
            assert_eq!(
                crate::kit::problem_type(&body),
                "directory-failed",
                "{name}"
            );
            assert!(
                body["detail"].as_str().unwrap().contains("service account"),
                "{name}: {body}"
            );
        }
        let (_, st) = node.get("/api/v1/providers/wrongbind/status", &admin).await;
        assert!(
            st["last_error"]
                .as_str()
                .unwrap()
                .contains("service account"),
            "{name}: {st}"
        );
        assert_eq!(st["last_sync"]["result"], "failed", "{name}: {st}");
        // A user signing in through it is told the sign-in failed on the directory's side.
        let response = login_via(&node, "wrongbind", "it", "kate", "kate-dir-pass-1").await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{name}");

        // Unreachable: 503 on test, sync and login, with what failed.
        for op in ["test", "sync"] {
            let response = node
                .request(
                    Method::POST,
                    &format!("/api/v1/providers/down/{op}"),
                    Some(&admin),
                    None,
                )
                .await;
            let (status, _, body) = crate::kit::problem(response).await;
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{name}: {op}: {body}"
            );
            assert_eq!(
                crate::kit::problem_type(&body),
                "directory-unreachable",
                "{name}"
            );
        }
        let response = login_via(&node, "down", "it", "kate", "kate-dir-pass-1").await;
        let (status, _, body) = crate::kit::problem(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{name}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("down"),
            "{name}: {body}"
        );
        // The local administrator still signs in.
        let response = node.login_response("it", "admin", ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        // And the refusals are audited with the provider and the reason.
        let events = login_events(&node).await;
        assert!(
            events.iter().any(|(o, d)| o == "failure"
                && d["user_provider"] == "down"
                && d["reason"] == "unreachable"),
            "{name}: {events:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_are_changed_by_administrators_read_by_auditors_and_audited_without_secrets() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = format!("ou=nobody,{SUFFIX}");
        let admin = node.admin().await;
        node.create_user(Provider::It, "olga", USER_PASSWORD, false).await;
        let olga = node.login("it", "olga", USER_PASSWORD).await;
        let audra = crate::audit::auditor(&node, &admin).await;

        // Bad settings: refused with the field named, nothing created.
        let mut plain = ldap.settings(&base);
        plain["url"] = "ldap://ldap.example.com:389".into();
        plain["security"] = "none".into();
        let mut secret_value = ldap.settings(&base);
        secret_value["bind_password"] = "hunter2-the-password".into();
        let mut no_placeholder = ldap.settings(&base);
        no_placeholder["user_filter"] = "(uid=alice)".into();
        let mut bad_role = ldap.settings(&base);
        bad_role["mappings"] = json!([{ "group": "admins", "it_role": "emperor" }]);
        for (settings, field) in [
            (plain, "settings.security"),
            (secret_value, "settings.bind_password"),
            (no_placeholder, "settings.user_filter"),
            (bad_role, "settings.mappings[0].it_role"),
        ] {
            let (status, body) = node
                .post(
                    "/api/v1/providers",
                    &admin,
                    json!({ "name": "corp", "kind": "ldap", "users": "it", "settings": settings }),
                )
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
            assert_eq!(body["field"], field, "{name}: {body}");
            assert!(!body.to_string().contains("hunter2"), "{name}: {body}");
        }
        let (status, body) = node
            .post(
                "/api/v1/providers",
                &admin,
                json!({ "name": "corp", "kind": "kerberos", "users": "it", "settings": {} }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["field"], "kind", "{name}");

        // Only administrators change providers.
        let create = json!({ "name": "corp", "kind": "ldap", "users": "end", "settings": ldap.settings(&base) });
        let (status, _) = node.post("/api/v1/providers", &olga, create.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, _) = node.post("/api/v1/providers", &audra, create.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, _) = node.post("/api/v1/providers", &admin, create).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let (status, _) = node.post("/api/v1/providers", &admin, json!({ "name": "corp", "kind": "ldap", "users": "end", "settings": ldap.settings(&base) })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}");
        let (status, _) = node
            .patch("/api/v1/providers/corp", &audra, json!({ "users": "both" }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, body) = node
            .patch("/api/v1/providers/corp", &admin, json!({ "users": "both" }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["users"], "both", "{name}");
        // Auditors read; other IT users do not.
        let (status, list) = node.get("/api/v1/providers", &audra).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(list["items"][0]["name"], "corp", "{name}");
        let (status, _) = node.get("/api/v1/providers/corp/status", &audra).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let (status, _) = node.get("/api/v1/providers", &olga).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, _) = node.get("/api/v1/providers/nope", &admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        let (status, _) = node.delete("/api/v1/providers/corp", &audra).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, _) = node.delete("/api/v1/providers/corp", &admin).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");

        // Each change is a system event naming the provider, never a secret or its file.
        let events: Vec<_> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action.starts_with("provider."))
            .collect();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["provider.create", "provider.update", "provider.delete"], "{name}");
        for e in &events {
            assert_eq!(e.stream, "system", "{name}");
            assert!(!e.details.contains("password"), "{name}: {}", e.details);
            assert!(!e.details.contains(&ldap.bind_secret.display().to_string()), "{name}");
        }
        assert!(events[1].details.contains("users"), "{name}: {}", events[1].details);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_users_get_the_application_roles_their_groups_map_to() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let ldap = slapd();
        let base = ldap.unit(
            &format!("apps-{name}"),
            &[("lena", "lena-dir-pass-1", "")],
            &[("sales", &["lena"]), ("managers", &[])],
        );
        let admin = node.admin().await;
        let (status, body) = node
            .post(
                "/api/v1/authz/write",
                &admin,
                json!({ "operations": [
                    { "op": "create_application", "name": "crm" },
                    { "op": "create_role", "application": "crm", "name": "rep" },
                    { "op": "create_role", "application": "crm", "name": "director" },
                    { "op": "create_role", "application": "crm", "name": "viewer" },
                ] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let mut settings = ldap.settings(&base);
        settings["mappings"] = json!([
            { "group": "sales", "application": "crm", "role": "rep" },
            { "group": "managers", "application": "crm", "role": "director" },
        ]);
        add_provider(&node, &admin, "corp", "end", settings).await;
        // An end-user provider does not sign IT users in.
        let response = login_via(&node, "corp", "it", "lena", "lena-dir-pass-1").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");

        let holds = |user: String, role: &'static str| {
            let node = &node;
            let admin = admin.clone();
            async move {
                let check = json!({ "kind": "role", "user": user, "application": "crm", "role": role });
                let (status, body) = node
                    .post("/api/v1/authz/check", &admin, json!({ "checks": [check] }))
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body["results"][0]["allowed"].as_bool().unwrap()
            }
        };
        let token = token_via(&node, "corp", "end", "lena", "lena-dir-pass-1").await;
        let (_, me) = node.get("/api/v1/auth/me", &token).await;
        let id = me["user"]["id"].as_str().unwrap().to_owned();
        assert_eq!(me["user"]["provider"], "end", "{name}");
        assert!(holds(id.clone(), "rep").await, "{name}");
        assert!(!holds(id.clone(), "director").await, "{name}");
        // A role no mapping names is the administrators', and stays.
        let (status, body) = node
            .post(
                "/api/v1/authz/write",
                &admin,
                json!({ "operations": [{ "op": "grant_role", "application": "crm", "role": "viewer",
                                         "principal": { "type": "user", "id": id } }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");

        // Lena moves from sales to managers: her next sign-in follows.
        ldap.ldif(
            "ldapmodify",
            &format!(
                "dn: cn=sales,{base}\nchangetype: modify\ndelete: member\nmember: uid=lena,{base}\n\n\
                 dn: cn=managers,{base}\nchangetype: modify\nadd: member\nmember: uid=lena,{base}\n"
            ),
        );
        token_via(&node, "corp", "end", "lena", "lena-dir-pass-1").await;
        assert!(!holds(id.clone(), "rep").await, "{name}");
        assert!(holds(id.clone(), "director").await, "{name}");
        assert!(holds(id.clone(), "viewer").await, "{name}");
        // The grants were made by the provider, and audited as such.
        let by_provider = node
            .events()
            .await
            .iter()
            .filter(|e| {
                e.action.starts_with("authz.role.")
                    && e.actor_name.as_deref() == Some("user-provider:corp")
            })
            .count();
        assert_eq!(by_provider, 3, "{name}");
    })
    .await;
}
