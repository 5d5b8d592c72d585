//! Signing in with a passkey alone (no username, no password), on SQLite and PostgreSQL,
//! with the software authenticator of `passkeys.rs` answering as a discoverable passkey
//! does (its `userHandle` names the user): the session counts as both factors; each
//! ceremony works once; every bad answer (wrong origin, relying-party id, signature,
//! challenge, a counter that does not advance, an unknown or other-kind passkey, no user
//! handle, no credential at all) is refused, audited and opens no session; and the doors a
//! password passes hold for a passkey too (lockout, disabled accounts, `[sign_in]`
//! requirements and their break-glass administrators, directory accounts).

use rampart_core::{AuditContext, Clock as _, Provider, SessionId, UserId, Username};
use rampart_identity::passkey::RelyingParty;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

use crate::kit::{on_both, problem_type, Node, ADMIN_PASSWORD, USER_PASSWORD};
use crate::mfa::call;
use crate::passkeys::{
    failures, passkeys, passkeys_and_lockout, register, sign_ins, Authenticator, Fault, ORIGIN,
    RP_ID,
};

/// A discovery: its ceremony and the options for the browser.
pub(crate) async fn discovery(node: &Node) -> (String, Value) {
    let (s, body) = call(
        node,
        Method::POST,
        "/api/v1/auth/login/passkey-discovery",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}: {body}", node.name());
    (
        body["ceremony"].as_str().unwrap().to_owned(),
        body["publicKey"].clone(),
    )
}

/// Answers `ceremony` as a `provider` user with `credential`.
pub(crate) async fn answer(
    node: &Node,
    provider: &str,
    ceremony: &str,
    credential: Value,
) -> (StatusCode, Value) {
    let body = json!({ "provider": provider, "ceremony": ceremony, "credential": credential });
    call(node, Method::POST, "/api/v1/auth/login/passkey", None, body).await
}

/// Failed `auth.login` events naming no user, giving `reason`.
async fn failures_of_nobody(node: &Node, reason: &str) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| {
            e.action == "auth.login"
                && e.outcome == "failure"
                && e.target.is_none()
                && e.details.contains(reason)
        })
        .count()
}

/// Registers `authenticator` for user `id` (`username`) straight in the store, as the
/// relying party would have: for accounts that cannot open a session to register one.
async fn register_in_store(node: &Node, id: &str, username: &str, authenticator: &Authenticator) {
    let rp = RelyingParty::new(ORIGIN, "", "Rampart").unwrap();
    let user = UserId(uuid::Uuid::parse_str(id).unwrap());
    let challenge = rp.start_registration(user, username, &[]).unwrap();
    let credential = authenticator.register(&challenge.options["publicKey"]);
    let new = rp
        .finish_registration(&credential, &challenge.state, &[])
        .unwrap()
        .unwrap();
    node.server()
        .state
        .store
        .passkey_add(
            user,
            "key",
            &new.credential_id,
            &new.stored,
            new.counter,
            SessionId(uuid::Uuid::now_v7()),
            node.clock.now(),
            &AuditContext::default(),
        )
        .await
        .unwrap();
}

/// An IT user `username` who registered a passkey from their session: their id and the
/// authenticator.
async fn with_passkey(node: &Node, username: &str) -> (String, Authenticator) {
    let id = node
        .create_user(Provider::It, username, USER_PASSWORD, false)
        .await;
    let token = node.login("it", username, USER_PASSWORD).await;
    let key = Authenticator::new(&format!("{username} {}", node.name()));
    register(node, &token, &key, "key").await;
    (id, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_alone_signs_in_as_both_factors_and_each_ceremony_works_once() {
    on_both(passkeys, |node| async move {
        let name = node.name();
        let (ada, mut laptop) = with_passkey(&node, "ada").await;

        // The options name no user and no credential, and require user verification.
        let (ceremony, options) = discovery(&node).await;
        assert!(ceremony.starts_with("rpp_"), "{name}: {ceremony}");
        assert_eq!(options["rpId"], RP_ID, "{name}: {options}");
        assert_eq!(options["userVerification"], "required", "{name}");
        assert_eq!(
            options["allowCredentials"].as_array().map_or(0, Vec::len),
            0,
            "{name}: {options}"
        );
        let before = sign_ins(&node).await;
        let credential = laptop.assert_as(&options, 1, Fault::None, &ada);
        let (s, session) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(s, StatusCode::OK, "{name}: {session}");
        assert_eq!(session["user"]["username"], "ada", "{name}");
        assert_eq!(sign_ins(&node).await, before + 1, "{name}");
        let signed_in = session["token"].as_str().unwrap();
        let (_, status) = node.get("/api/v1/auth/mfa", signed_in).await;
        assert!(status["second_factor_at"].is_string(), "{name}: {status}");
        let login = node
            .events()
            .await
            .into_iter()
            .rev()
            .find(|e| e.action == "auth.login" && e.outcome == "success")
            .unwrap();
        assert!(
            login.details.contains("\"method\":\"passkey\"")
                && login.details.contains("\"second_factor\":\"passkey\""),
            "{name}: {}",
            login.details
        );
        // Removing a passkey needs a recent second factor: this sign-in was one.
        let (_, list) = node.get("/api/v1/auth/mfa/passkeys", signed_in).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{name}");

        // The ceremony was taken: the same one again is refused before anything.
        let again = laptop.assert_as(&options, 1, Fault::None, &ada);
        let (s, body) = answer(&node, "it", &ceremony, again).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{name}: {body}"
        );
        for bad in ["", "nope", "rpp_AAAA"] {
            let (s, _) = answer(&node, "it", bad, json!({})).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: `{bad}`");
        }

        // Every bad answer is refused, audited, and opens no session.
        let stranger = Authenticator::new(&format!("stranger {name}"));
        // (reason, what the answer gets wrong, whether it presents the stored counter again)
        let cases = [
            ("passkey-wrong-origin", Fault::Origin, false),
            ("passkey-wrong-rp-id", Fault::RpId, false),
            ("passkey-bad-signature", Fault::Signature, false),
            ("passkey-counter-not-increased", Fault::None, true),
        ];
        for (reason, fault, stale) in cases {
            let (ceremony, options) = discovery(&node).await;
            let was = failures(&node, reason).await;
            let credential = if stale {
                // The counter the sign-in above stored, presented again.
                laptop.counter = 1;
                laptop.assert_as(&options, 0, fault, &ada)
            } else {
                laptop.assert_as(&options, 1, fault, &ada)
            };
            let (s, body) = answer(&node, "it", &ceremony, credential).await;
            assert_eq!(
                (s, problem_type(&body)),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{name}: {reason}: {body}"
            );
            assert_eq!(failures(&node, reason).await, was + 1, "{name}: {reason}");
        }
        // An answer to another ceremony's challenge.
        let (_, old) = discovery(&node).await;
        let (ceremony, _) = discovery(&node).await;
        let was = failures(&node, "passkey-wrong-challenge").await;
        let credential = laptop.assert_as(&old, 1, Fault::None, &ada);
        let (s, _) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            failures(&node, "passkey-wrong-challenge").await,
            was + 1,
            "{name}"
        );
        // Answers that name no passkey Rampart holds for this kind of user: a failure of
        // nobody.
        let mut unknown: Vec<(&str, &str, Value)> = Vec::new();
        let (_, options) = discovery(&node).await;
        let mut stranger = stranger;
        unknown.push((
            "it",
            "passkey-unknown-credential",
            stranger.assert_as(&options, 1, Fault::None, &ada),
        ));
        unknown.push((
            "end",
            "passkey-unknown-credential",
            laptop.assert_as(&options, 1, Fault::None, &ada),
        ));
        unknown.push((
            "it",
            "passkey-unknown-credential",
            laptop.assert(&options, 1, Fault::None),
        ));
        unknown.push(("it", "passkey-malformed", json!({ "id": 1 })));
        for (provider, reason, credential) in unknown {
            let (ceremony, _) = discovery(&node).await;
            let was = failures_of_nobody(&node, reason).await;
            let (s, body) = answer(&node, provider, &ceremony, credential).await;
            assert_eq!(
                (s, problem_type(&body)),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{name}: {provider} {reason}: {body}"
            );
            assert_eq!(
                failures_of_nobody(&node, reason).await,
                was + 1,
                "{name}: {provider} {reason}"
            );
        }
        assert_eq!(sign_ins(&node).await, before + 1, "{name}: no session");

        // The passkey still works after all that.
        let (ceremony, options) = discovery(&node).await;
        let credential = laptop.assert_as(&options, 1, Fault::None, &ada);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_alone_passes_the_doors_a_password_passes() {
    on_both(passkeys_and_lockout, |node| async move {
        let name = node.name();
        let (cy, mut key) = with_passkey(&node, "cy").await;

        // A locked username signs in with nothing: the lock is checked before the answer.
        for _ in 0..3 {
            let (s, _) = crate::mfa::password(&node, "cy", "wrong password").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        }
        let (ceremony, options) = discovery(&node).await;
        let credential = key.assert_as(&options, 1, Fault::None, &cy);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
            "{name}: {body}"
        );
        node.clock.advance(Duration::minutes(1));
        let (ceremony, options) = discovery(&node).await;
        let credential = key.assert_as(&options, 1, Fault::None, &cy);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");

        // Refused passkeys count toward the lockout like wrong passwords.
        for _ in 0..3 {
            let (ceremony, options) = discovery(&node).await;
            let credential = key.assert_as(&options, 1, Fault::Signature, &cy);
            let (s, _) = answer(&node, "it", &ceremony, credential).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        }
        let (s, body) = crate::mfa::password(&node, "cy", USER_PASSWORD).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
            "{name}: {body}"
        );
        node.clock.advance(Duration::minutes(5));

        // A disabled account.
        let admin = node.admin().await;
        let (s, _) = node
            .post_empty(&format!("/api/v1/users/{cy}/disable"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        let was = failures(&node, "account-disabled").await;
        let (ceremony, options) = discovery(&node).await;
        let credential = key.assert_as(&options, 1, Fault::None, &cy);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "account-disabled"),
            "{name}: {body}"
        );
        assert_eq!(failures(&node, "account-disabled").await, was + 1, "{name}");
        // Without the passkey's signature nothing about the account is said.
        let (ceremony, options) = discovery(&node).await;
        let credential = key.assert_as(&options, 1, Fault::Signature, &cy);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{name}: {body}"
        );

        // An account a directory vouches for signs in through its directory.
        let (eve, _) = node
            .server()
            .state
            .store
            .upsert_directory_user(
                &rampart_store::DirectoryProfile {
                    provider: Provider::It,
                    user_provider: "corp".into(),
                    username: Username::parse("eve").unwrap(),
                    display_name: None,
                    email: None,
                },
                node.clock.now(),
                &AuditContext::default(),
            )
            .await
            .unwrap();
        let eve = eve.id.to_string();
        let mut directory_key = Authenticator::new(&format!("eve {name}"));
        register_in_store(&node, &eve, "eve", &directory_key).await;
        let (ceremony, options) = discovery(&node).await;
        let credential = directory_key.assert_as(&options, 1, Fault::None, &eve);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{name}: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("corp"),
            "{name}: {body}"
        );
        assert!(
            failures(&node, "user-provider-account").await >= 1,
            "{name}"
        );

        // One address keeps a bounded number of ceremonies waiting; they lapse.
        let (s, _) = call(
            &node,
            Method::POST,
            "/api/v1/auth/login/passkey-discovery",
            None,
            Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        let mut refused = None;
        for _ in 0..20 {
            let (s, body) = call(
                &node,
                Method::POST,
                "/api/v1/auth/login/passkey-discovery",
                None,
                Value::Null,
            )
            .await;
            if s != StatusCode::OK {
                refused = Some((s, body));
                break;
            }
        }
        let (s, body) = refused.expect("the address's ceremonies are bounded");
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::SERVICE_UNAVAILABLE, "limit-reached"),
            "{name}: {body}"
        );
        node.clock.advance(Duration::minutes(6));
        discovery(&node).await;
    })
    .await;
}

/// IT users sign in through the user provider `corp`; `root` is a break-glass
/// administrator.
fn provider_required(config: &mut rampart_service::Config) {
    passkeys(config);
    config.sign_in.it_provider = "corp".into();
    config.sign_in.break_glass = "root".into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_a_provider_is_required_only_break_glass_administrators_use_a_passkey_alone() {
    on_both(provider_required, |node| async move {
        let name = node.name();
        let ada = node
            .create_user(Provider::It, "ada", USER_PASSWORD, false)
            .await;
        let root = node
            .create_user(Provider::It, "root", ADMIN_PASSWORD, true)
            .await;
        let mut ada_key = Authenticator::new(&format!("ada {name}"));
        let mut root_key = Authenticator::new(&format!("root {name}"));
        register_in_store(&node, &ada, "ada", &ada_key).await;
        register_in_store(&node, &root, "root", &root_key).await;

        let was = failures(&node, "provider-required").await;
        let (ceremony, options) = discovery(&node).await;
        let credential = ada_key.assert_as(&options, 1, Fault::None, &ada);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{name}: {body}"
        );
        assert_eq!(
            failures(&node, "provider-required").await,
            was + 1,
            "{name}"
        );

        let (ceremony, options) = discovery(&node).await;
        let credential = root_key.assert_as(&options, 1, Fault::None, &root);
        let (s, body) = answer(&node, "it", &ceremony, credential).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["user"]["username"], "root", "{name}");
    })
    .await;
}
