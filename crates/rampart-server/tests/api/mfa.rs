//! The second factor end to end, on SQLite and PostgreSQL: enrolling a TOTP app, signing in
//! with a code or a recovery code, replays refused, the lockout counting failed codes, the
//! policy sending administrators to enrolment, an administrator's reset ending sessions,
//! and step-up before sensitive operations.

use rampart_core::{Clock as _, Provider};
use rampart_identity::mfa::{step_of, TotpSecret};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

use crate::apps_sensitive::with_master_key;
use crate::kit::{on_both, problem_type, Node, ADMIN_PASSWORD, USER_PASSWORD};

/// The code of `secret` at the node's time, `steps` steps later.
pub(crate) fn code(node: &Node, secret: &TotpSecret, steps: i64) -> String {
    let now = node.clock.now().unix_timestamp();
    format!("{:06}", secret.code_at_step(step_of(now) + steps))
}

/// A JSON call answering its status and body (`Null` when empty).
pub(crate) async fn call(
    node: &Node,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let body = (!body.is_null()).then_some(body);
    let response = node.request(method, path, token, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Signs in with a password: the status and body (a session, or a pending sign-in).
pub(crate) async fn password(node: &Node, username: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({ "username": username, "password": password, "provider": "it" });
    call(node, Method::POST, "/api/v1/auth/login", None, body).await
}

/// The pending token of a sign-in that must go on with a second factor.
pub(crate) async fn pending(node: &Node, username: &str, pw: &str) -> String {
    let (status, body) = password(node, username, pw).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}: {body}", node.name());
    body["pending_token"].as_str().unwrap().to_owned()
}

async fn second(node: &Node, pending: &str, field: &str, value: &str) -> (StatusCode, Value) {
    let body = json!({ "pending_token": pending, field: value });
    call(
        node,
        Method::POST,
        "/api/v1/auth/login/second-factor",
        None,
        body,
    )
    .await
}

/// Enrols a TOTP app for the holder of `token`: its secret and recovery codes.
pub(crate) async fn enrol(node: &Node, token: &str) -> (TotpSecret, Vec<String>) {
    let (status, e) = call(
        node,
        Method::POST,
        "/api/v1/auth/mfa/totp",
        Some(token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {e}", node.name());
    let secret = TotpSecret::from_base32(e["secret"].as_str().unwrap()).unwrap();
    let (status, done) = call(
        node,
        Method::POST,
        "/api/v1/auth/mfa/totp/confirm",
        Some(token),
        json!({ "code": code(node, &secret, 0) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {done}", node.name());
    let codes = done["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn me(node: &Node, token: &str) -> StatusCode {
    call(
        node,
        Method::GET,
        "/api/v1/auth/me",
        Some(token),
        Value::Null,
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_app_is_enrolled_and_signs_in_once_per_code_and_recovery_codes_once_each() {
    on_both(with_master_key, |node| async move {
        let name = node.name();
        let tina = node
            .create_user(Provider::It, "tina", USER_PASSWORD, false)
            .await;
        let token = node.login("it", "tina", USER_PASSWORD).await;
        let (_, status) = call(
            &node,
            Method::GET,
            "/api/v1/auth/mfa",
            Some(&token),
            Value::Null,
        )
        .await;
        assert_eq!(status["enrolled"], false, "{name}");

        // Enrolment: the secret shown once, as a URI and a QR code; a wrong first code is
        // refused and changes nothing.
        let (s, e) = call(
            &node,
            Method::POST,
            "/api/v1/auth/mfa/totp",
            Some(&token),
            Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {e}");
        let shown = e["secret"].as_str().unwrap().to_owned();
        assert!(
            e["otpauth_uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/Rampart:tina?secret="),
            "{name}: {e}"
        );
        assert!(
            e["otpauth_uri"].as_str().unwrap().contains(&shown),
            "{name}"
        );
        assert!(e["qr_svg"].as_str().unwrap().starts_with("<svg"), "{name}");
        let secret = TotpSecret::from_base32(&shown).unwrap();
        let wrong = format!(
            "{:06}",
            (code(&node, &secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000
        );
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/mfa/totp/confirm",
            Some(&token),
            json!({ "code": wrong }),
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "invalid-second-factor"),
            "{name}: {body}"
        );
        let (s, done) = call(
            &node,
            Method::POST,
            "/api/v1/auth/mfa/totp/confirm",
            Some(&token),
            json!({ "code": code(&node, &secret, 0) }),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {done}");
        let recovery: Vec<String> = done["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(recovery.len(), 10, "{name}");
        // A second enrolment is refused while one is set up.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/mfa/totp",
            Some(&token),
            Value::Null,
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );

        // The database holds the secret sealed, never in the clear.
        let id = rampart_core::UserId::parse(&tina, "id").unwrap();
        let stored = node.server().state.store.mfa_factors(id).await.unwrap();
        let sealed = stored.totp.unwrap().sealed;
        assert!(
            !sealed
                .windows(secret.as_bytes().len())
                .any(|w| w == secret.as_bytes()),
            "{name}"
        );

        // A password alone gives no session now: a pending sign-in, then the code. The code
        // that confirmed the enrolment is spent: its step is refused, the next one works.
        let (s, first) = password(&node, "tina", USER_PASSWORD).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{name}: {first}");
        assert!(first.get("token").is_none(), "{name}: {first}");
        assert_eq!(first["enrol"], false, "{name}");
        assert_eq!(first["methods"], json!(["totp", "recovery-code"]), "{name}");
        let p = first["pending_token"].as_str().unwrap();
        let (s, body) = second(&node, p, "code", &code(&node, &secret, 0)).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "invalid-second-factor"),
            "{name}: {body}"
        );
        node.clock.advance(Duration::seconds(30));
        let used = code(&node, &secret, 0);
        let (s, body) = second(&node, p, "code", &used).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let session = body["token"].as_str().unwrap().to_owned();
        assert_eq!(me(&node, &session).await, StatusCode::OK, "{name}");
        // The pending sign-in is spent; the same code on a new one is a replay.
        let (s, body) = second(&node, p, "code", &code(&node, &secret, 1)).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{name}: {body}"
        );
        let p2 = pending(&node, "tina", USER_PASSWORD).await;
        let (s, body) = second(&node, &p2, "code", &used).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "invalid-second-factor"),
            "{name}: {body}"
        );
        // The code of the step before the last one used is a replay too, though in the window.
        let (s, _) = second(&node, &p2, "code", &code(&node, &secret, -1)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        // The next step's code (30 s of drift) works, once.
        let (s, body) = second(&node, &p2, "code", &code(&node, &secret, 1)).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");

        // Two sign-ins racing with one fresh code: exactly one gets a session.
        node.clock.advance(Duration::seconds(60));
        let (a, b) = (
            pending(&node, "tina", USER_PASSWORD).await,
            pending(&node, "tina", USER_PASSWORD).await,
        );
        let fresh = code(&node, &secret, 0);
        let (ra, rb) = tokio::join!(
            second(&node, &a, "code", &fresh),
            second(&node, &b, "code", &fresh)
        );
        let ok = [ra.0, rb.0]
            .iter()
            .filter(|s| **s == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "{name}: {ra:?} {rb:?}");

        // A recovery code signs in once, however it is typed.
        let p3 = pending(&node, "tina", USER_PASSWORD).await;
        let typed = recovery[0].replace('-', " ").to_uppercase();
        let (s, body) = second(&node, &p3, "recovery_code", &typed).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let p4 = pending(&node, "tina", USER_PASSWORD).await;
        let (s, body) = second(&node, &p4, "recovery_code", &recovery[0]).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "invalid-second-factor"),
            "{name}: {body}"
        );
        let (s, body) = second(&node, &p4, "recovery_code", &recovery[1]).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let session = body["token"].as_str().unwrap().to_owned();
        let (_, status) = call(
            &node,
            Method::GET,
            "/api/v1/auth/mfa",
            Some(&session),
            Value::Null,
        )
        .await;
        assert_eq!(status["recovery_codes_left"], 8, "{name}: {status}");
        assert_eq!(status["enrolled"], true, "{name}");

        // Bad input: both factors or neither, an expired or malformed sign-in.
        let p5 = pending(&node, "tina", USER_PASSWORD).await;
        let both = json!({ "pending_token": p5, "code": "123456", "recovery_code": recovery[2] });
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/login/second-factor",
            None,
            both,
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input"),
            "{name}: {body}"
        );
        let (s, _) = second(&node, "rpp_not-a-token", "code", "123456").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        node.clock.advance(Duration::minutes(6));
        let (s, body) = second(&node, &p5, "code", &code(&node, &secret, 0)).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{name}: {body}"
        );

        // Everything is in the audit trail, and no secret or code is.
        let events = node.events().await;
        for action in [
            "user.mfa.totp.begin",
            "user.mfa.enrol",
            "auth.login.pending",
        ] {
            assert!(
                events.iter().any(|e| e.action == action),
                "{name}: {action}"
            );
        }
        assert!(
            events.iter().any(|e| e.action == "auth.login"
                && e.details.contains("\"second_factor\":\"recovery-code\"")),
            "{name}"
        );
        assert!(
            events
                .iter()
                .any(|e| e.action == "auth.login" && e.details.contains("replayed-code")),
            "{name}"
        );
        for e in &events {
            let text = format!("{} {}", e.details, e.body.as_deref().unwrap_or(""));
            assert!(
                !text.contains(&shown) && !text.contains(&recovery[0]),
                "{name}: {text}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_second_factors_lock_the_username_and_recovery_codes_do_not_get_round_it() {
    on_both(with_master_key, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "tina", USER_PASSWORD, false)
            .await;
        let token = node.login("it", "tina", USER_PASSWORD).await;
        let (secret, recovery) = enrol(&node, &token).await;
        node.clock.advance(Duration::seconds(30));
        let p = pending(&node, "tina", USER_PASSWORD).await;
        // The test configuration locks after three failures.
        for typed in ["000000", "111111", "222222"] {
            if typed == code(&node, &secret, 0) {
                continue;
            }
            let (s, body) = second(&node, &p, "code", typed).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {body}");
        }
        let (s, body) = second(&node, &p, "code", &code(&node, &secret, 0)).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
            "{name}: {body}"
        );
        let (s, _) = second(&node, &p, "recovery_code", &recovery[0]).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{name}");
        let (s, _) = password(&node, "tina", USER_PASSWORD).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{name}");
        // Once the lock lapses (30 s) a recovery code works: the refused one was not spent.
        node.clock.advance(Duration::minutes(1));
        let (s, body) = second(&node, &p, "recovery_code", &recovery[0]).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let failures = node
            .events()
            .await
            .into_iter()
            .filter(|e| {
                e.action == "auth.login"
                    && e.outcome == "failure"
                    && e.details.contains("wrong-code")
            })
            .count();
        assert!(failures >= 2, "{name}: {failures}");
    })
    .await;
}

fn administrators_must_enrol(config: &mut rampart_service::Config) {
    with_master_key(config);
    config.mfa.required_for_administrators = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_sends_an_administrator_to_enrolment_before_any_session() {
    on_both(administrators_must_enrol, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
            .await;
        node.create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        // Someone the policy does not name signs in with a password alone.
        let (s, _) = password(&node, "dev", USER_PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        // The administrator gets no session, only the way to enrol.
        let (s, first) = password(&node, "root", ADMIN_PASSWORD).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{name}: {first}");
        assert_eq!(first["enrol"], true, "{name}");
        assert_eq!(first["methods"], json!(["totp"]), "{name}");
        let p = first["pending_token"].as_str().unwrap().to_owned();
        // Nothing to verify before an app is set up.
        let (s, body) = second(&node, &p, "code", "123456").await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
        let (s, e) = call(
            &node,
            Method::POST,
            "/api/v1/auth/login/totp",
            None,
            json!({ "pending_token": p }),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {e}");
        let secret = TotpSecret::from_base32(e["secret"].as_str().unwrap()).unwrap();
        let (s, done) = second(&node, &p, "code", &code(&node, &secret, 0)).await;
        assert_eq!(s, StatusCode::OK, "{name}: {done}");
        assert_eq!(
            done["recovery_codes"].as_array().unwrap().len(),
            10,
            "{name}"
        );
        let session = done["token"].as_str().unwrap();
        assert_eq!(me(&node, session).await, StatusCode::OK, "{name}");
        // From now on the administrator signs in with the app; enrolling again is refused.
        let p = pending(&node, "root", ADMIN_PASSWORD).await;
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/login/totp",
            None,
            json!({ "pending_token": p }),
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
        node.clock.advance(Duration::seconds(30));
        let (s, _) = second(&node, &p, "code", &code(&node, &secret, 0)).await;
        assert_eq!(s, StatusCode::OK, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_a_users_factors_after_a_step_up_and_their_sessions_end() {
    on_both(with_master_key, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
            .await;
        let tina = node
            .create_user(Provider::It, "tina", USER_PASSWORD, false)
            .await;
        let root = node.login("it", "root", ADMIN_PASSWORD).await;
        let (root_secret, _) = enrol(&node, &root).await;
        let tina_token = node.login("it", "tina", USER_PASSWORD).await;
        enrol(&node, &tina_token).await;
        // Enrolling counted as a second factor for the session, for ten minutes.
        let reset = format!("/api/v1/users/{tina}/mfa");
        node.clock.advance(Duration::minutes(11));
        let (s, body) = call(&node, Method::DELETE, &reset, Some(&root), Value::Null).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "step-up-required"),
            "{name}: {body}"
        );
        assert_eq!(me(&node, &tina_token).await, StatusCode::OK, "{name}");
        // Step-up: a wrong code is refused, the right one lets the reset through.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/step-up",
            Some(&root),
            json!({ "code": "000000" }),
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "invalid-second-factor"),
            "{name}: {body}"
        );
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/step-up",
            Some(&root),
            json!({ "code": code(&node, &root_secret, 0) }),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}: {body}");
        let (s, body) = call(&node, Method::DELETE, &reset, Some(&root), Value::Null).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        assert!(body["revoked"].as_u64().unwrap() >= 1, "{name}: {body}");
        assert_eq!(
            me(&node, &tina_token).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        // Tina signs in with her password alone again (nothing requires a factor of her).
        let (s, _) = password(&node, "tina", USER_PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        // Only administrators reset, and an unknown user is not found.
        let tina_token = node.login("it", "tina", USER_PASSWORD).await;
        let (s, _) = call(
            &node,
            Method::DELETE,
            &reset,
            Some(&tina_token),
            Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}");
        let ghost = format!("/api/v1/users/{}/mfa", rampart_core::UserId::new());
        let (s, _) = call(&node, Method::DELETE, &ghost, Some(&root), Value::Null).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{name}");
        let events = node.events().await;
        assert!(
            events.iter().any(|e| e.action == "user.mfa.reset"
                && e.target.as_deref() == Some(format!("user:{tina}").as_str())),
            "{name}"
        );
        assert!(events.iter().any(|e| e.action == "auth.step-up"), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_deployments_and_permission_changes_need_a_recent_second_factor() {
    on_both(with_master_key, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
            .await;
        node.create_user(Provider::It, "plain", ADMIN_PASSWORD, true)
            .await;
        let root = node.login("it", "root", ADMIN_PASSWORD).await;
        let setup = json!({ "operations": [{ "op": "create_application", "name": "sales" }] });
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/authz/write",
            Some(&root),
            setup,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let envs = json!({ "operations": [{ "op": "set_environments", "environments": [
            { "name": "development" }, { "name": "quality" }, { "name": "production" },
        ] }] });
        let (s, body) = call(&node, Method::POST, "/api/v1/it/write", Some(&root), envs).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let source = crate::lifecycle::example("core-service.yaml");
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/modules/core-service/versions",
            Some(&root),
            json!({ "source": source, "message": "m" }),
        )
        .await;
        assert!(s.is_success(), "{name}: {body}");
        let (secret, _) = enrol(&node, &root).await;
        node.clock.advance(Duration::minutes(11));

        let deploy = json!({ "modules": [{ "module": "core-service", "version": 1 }] });
        let grant = json!({ "operations": [{ "op": "create_application", "name": "billing" }] });
        // Development is no step-up environment.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/environments/development/deployments",
            Some(&root),
            deploy.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        // Production, and changes of authorization data, want a fresh second factor.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/environments/production/deployments",
            Some(&root),
            deploy.clone(),
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "step-up-required"),
            "{name}: {body}"
        );
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/authz/write",
            Some(&root),
            grant.clone(),
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "step-up-required"),
            "{name}: {body}"
        );
        let (s, _) = call(
            &node,
            Method::GET,
            "/api/v1/environments/production/modules",
            Some(&root),
            Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: reading needs no step-up");
        // An administrator without a second factor, whom nothing requires to have one,
        // keeps working: there is nothing to verify.
        let plain = node.login("it", "plain", ADMIN_PASSWORD).await;
        let other = json!({ "operations": [{ "op": "create_application", "name": "payroll" }] });
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/authz/write",
            Some(&plain),
            other,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        // After a step-up with the app's code, both go through.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/step-up",
            Some(&root),
            json!({ "code": code(&node, &secret, 0) }),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}: {body}");
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/environments/production/deployments",
            Some(&root),
            deploy,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/authz/write",
            Some(&root),
            grant,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let (_, status) = call(
            &node,
            Method::GET,
            "/api/v1/auth/mfa",
            Some(&root),
            Value::Null,
        )
        .await;
        assert!(status["second_factor_at"].is_string(), "{name}: {status}");
    })
    .await;
}
