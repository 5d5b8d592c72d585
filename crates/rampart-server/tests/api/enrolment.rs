//! Accounts with no password, on SQLite and PostgreSQL: an administrator creates one and
//! issues an enrolment link; the link's token registers a discoverable passkey (the
//! software authenticator of `passkeys.rs`), once; the passkey then signs in alone. A
//! password never opens such an account (refused as `no-password`, in a wrong password's
//! time), and a link stops working once the account has a password, is replaced, or is
//! spent. Issuing is an administrator's, and only for accounts with no password and no
//! directory.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{on_both, problem_type, Node, USER_PASSWORD};
use crate::mfa::call;
use crate::passkey_sign_in::{answer, discovery};
use crate::passkeys::{failures, passkeys, Authenticator, Fault, ORIGIN};

/// Creates an IT user with no password (and `email`, if given) as the administrator
/// `admin`: its id.
pub(crate) async fn without_password(
    node: &Node,
    admin: &str,
    username: &str,
    email: Option<&str>,
) -> String {
    let mut body = json!({ "provider": "it", "username": username, "no_password": true });
    if let Some(email) = email {
        body["email"] = json!(email);
    }
    let (s, user) = node.post("/api/v1/users", admin, body).await;
    assert_eq!(s, StatusCode::CREATED, "{}: {user}", node.name());
    assert_eq!(user["password"], json!(false), "{}: {user}", node.name());
    user["id"].as_str().unwrap().to_owned()
}

/// Issues an enrolment link for user `id`: the status and the body.
async fn issue(node: &Node, admin: &str, id: &str) -> (StatusCode, Value) {
    node.post_empty(&format!("/api/v1/users/{id}/enrolment"), admin)
        .await
}

/// The token of an enrolment link.
fn token_of(link: &Value) -> String {
    let link = link["link"].as_str().unwrap();
    let (base, token) = link.split_once('#').unwrap();
    assert_eq!(base, format!("{ORIGIN}/enrol"), "{link}");
    token.to_owned()
}

pub(crate) async fn challenge(node: &Node, token: &str) -> (StatusCode, Value) {
    let path = "/api/v1/auth/enrolment/passkey-challenge";
    call(node, Method::POST, path, None, json!({ "token": token })).await
}

pub(crate) async fn enrol(node: &Node, token: &str, credential: Value) -> (StatusCode, Value) {
    let body = json!({ "token": token, "name": "laptop", "credential": credential });
    call(
        node,
        Method::POST,
        "/api/v1/auth/enrolment/passkey",
        None,
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_no_password_enrols_a_passkey_by_link_and_signs_in_with_it_alone() {
    on_both(passkeys, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        // No password is asked for, not implied: neither, or both, is refused.
        for body in [
            json!({ "provider": "it", "username": "nora" }),
            json!({ "provider": "it", "username": "nora", "password": null }),
            json!({ "provider": "it", "username": "nora", "no_password": true,
                    "password": USER_PASSWORD }),
        ] {
            let (s, problem) = node.post("/api/v1/users", &admin, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {problem}");
        }
        let nora = without_password(&node, &admin, "nora", None).await;
        // With no mail server, a link cannot be mailed; nothing is issued.
        let (s, body) = node
            .post_empty(&format!("/api/v1/users/{nora}/enrolment/mail"), &admin)
            .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
        let created = node
            .events()
            .await
            .into_iter()
            .rev()
            .find(|e| e.action == "user.create")
            .unwrap();
        assert!(
            created.details.contains("\"password\":false"),
            "{name}: {}",
            created.details
        );

        // No password opens it: refused as a failed login, counted like a wrong password.
        for typed in ["", "anything at all", USER_PASSWORD] {
            let (s, body) = crate::mfa::password(&node, "nora", typed).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {body}");
        }
        assert_eq!(failures(&node, "no-password").await, 3, "{name}");

        // Only an administrator issues a link, and only for an account with no password.
        let ulla = node
            .create_user(rampart_core::Provider::It, "ulla", USER_PASSWORD, false)
            .await;
        let ulla_token = node.login("it", "ulla", USER_PASSWORD).await;
        let (s, user) = node.get(&format!("/api/v1/users/{ulla}"), &admin).await;
        assert_eq!(
            (s, &user["password"]),
            (StatusCode::OK, &json!(true)),
            "{name}: {user}"
        );
        let (s, _) = issue(&node, &ulla_token, &nora).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}");
        let (s, body) = issue(&node, &admin, &ulla).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
        let unknown = uuid::Uuid::now_v7().to_string();
        let (s, _) = issue(&node, &admin, &unknown).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{name}");
        let (s, _) = issue(&node, &admin, "not-an-id").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}");

        // The first link is replaced by the second: only the second works.
        let (s, first) = issue(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {first}");
        let (s, second) = issue(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {second}");
        let issued = node
            .events()
            .await
            .iter()
            .filter(|e| e.action == "user.enrolment.issue")
            .count();
        assert_eq!(issued, 2, "{name}");
        let (old, token) = (token_of(&first), token_of(&second));
        assert!(token.starts_with("rpe_"), "{name}: {token}");
        let (s, _) = challenge(&node, &old).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: the replaced link");
        for bad in ["", "nope", "rpe_AAAA", "rps_AAAA"] {
            let (s, body) = challenge(&node, bad).await;
            assert_eq!(
                (s, problem_type(&body)),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{name}: `{bad}`: {body}"
            );
        }
        // Each is an audited refusal naming the reason, never the token.
        let used: Vec<String> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "user.enrolment.use" && e.outcome == "failure")
            .map(|e| e.details)
            .collect();
        assert_eq!(used.len(), 5, "{name}: {used:?}");
        assert!(
            used.iter().any(|d| d.contains("unknown-or-expired-link")),
            "{name}: {used:?}"
        );
        assert!(
            used.iter().any(|d| d.contains("malformed-link")),
            "{name}: {used:?}"
        );
        assert!(
            !used.iter().any(|d| d.contains(&old[4..])),
            "{name}: {used:?}"
        );

        // The link's challenge asks for a discoverable passkey with user verification.
        let (s, options) = challenge(&node, &token).await;
        assert_eq!(s, StatusCode::OK, "{name}: {options}");
        assert_eq!(options["username"], "nora", "{name}");
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required", "{name}: {selection}");
        assert_eq!(
            selection["userVerification"], "required",
            "{name}: {selection}"
        );

        // A refused answer registers nothing and leaves the link usable.
        let mut key = Authenticator::new(&format!("nora {name}"));
        let (s, body) = enrol(&node, &token, json!({ "id": 1 })).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        let (s, options) = challenge(&node, &token).await;
        assert_eq!(s, StatusCode::OK, "{name}: {options}");

        // The answer registers the passkey and spends the link.
        let credential = key.register(&options["publicKey"]);
        let (s, enrolled) = enrol(&node, &token, credential.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {enrolled}");
        assert_eq!(enrolled["username"], "nora", "{name}");
        assert_eq!(enrolled["passkey"]["name"], "laptop", "{name}");
        let added = node
            .events()
            .await
            .into_iter()
            .rev()
            .find(|e| e.action == "user.mfa.passkey.add")
            .unwrap();
        assert!(
            added.details.contains("\"enrolment\":true"),
            "{name}: {}",
            added.details
        );
        assert_eq!(added.actor_name.as_deref(), Some("it:nora"), "{name}");
        let (s, _) = enrol(&node, &token, credential).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: a spent link");
        let (s, _) = challenge(&node, &token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: a spent link");

        // The passkey signs in alone, as both factors.
        let (ceremony, options) = discovery(&node).await;
        let assertion = key.assert_as(&options, 1, Fault::None, &nora);
        let (s, session) = answer(&node, "it", &ceremony, assertion).await;
        assert_eq!(s, StatusCode::OK, "{name}: {session}");
        assert_eq!(session["user"]["username"], "nora", "{name}");

        // A new link (a lost passkey) works until the account gets a password.
        let (s, link) = issue(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {link}");
        let token = token_of(&link);
        let (s, _) = challenge(&node, &token).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        let (s, _) = node
            .post(
                &format!("/api/v1/users/{nora}/reset-password"),
                &admin,
                json!({ "password": USER_PASSWORD }),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}");
        let (s, _) = challenge(&node, &token).await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{name}: the account has a password now"
        );
        let (s, body) = issue(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CONFLICT, "{name}: {body}");
        let (s, user) = node.get(&format!("/api/v1/users/{nora}"), &admin).await;
        assert_eq!(
            (s, &user["password"]),
            (StatusCode::OK, &json!(true)),
            "{name}: {user}"
        );
        let (s, _) = crate::mfa::password(&node, "nora", USER_PASSWORD).await;
        assert!(s.is_success(), "{name}: {s}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enrolment_page_reads_the_link_in_the_browser_and_refuses_foreign_forms() {
    on_both(passkeys, |node| async move {
        let name = node.name();
        let response = node.request(Method::GET, "/enrol", None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'nonce-"), "{name}: {csp}");
        assert!(csp.contains("connect-src 'self'"), "{name}: {csp}");
        let html = response.text().await.unwrap();
        assert!(html.contains("data-passkey=\"enrol\""), "{name}");
        assert!(
            html.contains("/api/v1/auth/enrolment/passkey-challenge"),
            "{name}"
        );
        // A form without the site's CSRF token is refused before anything.
        let response = node
            .client
            .post(format!("{}/enrol", node.base))
            .form(&[("token", "rpe_x"), ("name", "x"), ("passkey", "{}")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
    })
    .await;
}

/// How many presented enrolment tokens served nobody (`user.enrolment.use` failures).
async fn link_refusals(node: &Node) -> usize {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "user.enrolment.use" && e.outcome == "failure")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trying_enrolment_links_from_one_address_is_slowed_down() {
    let tweak = |c: &mut rampart_service::Config| {
        passkeys(c);
        c.lockout.address_free_failures = 3;
        c.lockout.address_base_seconds = 30;
    };
    on_both(tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let nora = without_password(&node, &admin, "nora", None).await;
        let (s, link) = issue(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {link}");
        for i in 0..4 {
            let (s, body) = challenge(&node, &format!("rpe_{i:043}")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {i}: {body}");
        }
        // Past the free failures the address waits, even with the right link, and the
        // wait is checked before any token is looked up (nothing more is recorded).
        assert_eq!(link_refusals(&node).await, 4, "{name}");
        for token in ["rpe_guess".to_owned(), token_of(&link)] {
            let (s, body) = challenge(&node, &token).await;
            assert_eq!(
                (s, problem_type(&body)),
                (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
                "{name}: {body}"
            );
        }
        assert_eq!(link_refusals(&node).await, 4, "{name}");
    })
    .await;
}
