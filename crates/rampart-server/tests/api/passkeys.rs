//! Passkeys end to end, on SQLite and PostgreSQL, with a software authenticator written
//! here (a P-256 key; `clientDataJSON`, `authenticatorData` and the attestation object
//! built by hand), since a browser never produces the bad answers: registering several,
//! signing in and stepping up with one, removing one after a step-up, an administrator's
//! reset, and every refusal the issue lists (wrong origin, wrong relying-party id, a
//! counter that does not advance, a bad signature, a challenge reused or of another
//! sign-in), each audited, none opening a session, all counting toward the lockout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use rampart_core::Provider;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use time::Duration;

use crate::kit::{on_both, problem_type, Node, USER_PASSWORD};
use crate::mfa::{call, password, pending};

pub(crate) const ORIGIN: &str = "https://rampart.test";
pub(crate) const RP_ID: &str = "rampart.test";

/// Passkeys bound to `https://rampart.test`; a lockout that refusals alone do not reach.
pub(crate) fn passkeys(config: &mut rampart_service::Config) {
    config.public_origin = ORIGIN.into();
    config.lockout.threshold = 1000;
}

/// As [`passkeys`], with the test configuration's lockout after three failures.
pub(crate) fn passkeys_and_lockout(config: &mut rampart_service::Config) {
    config.public_origin = ORIGIN.into();
}

/// What an answer gets wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    Origin,
    RpId,
    Signature,
}

/// A software authenticator holding one P-256 credential, with a signature counter.
pub(crate) struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    pub(crate) counter: u32,
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => out.extend([0x59, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.push(0x60 | text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

impl Authenticator {
    pub(crate) fn new(seed: &str) -> Authenticator {
        let secret = Sha256::digest(seed.as_bytes());
        Authenticator {
            key: SigningKey::from_slice(&secret).unwrap(),
            credential_id: Sha256::digest(format!("credential {seed}").as_bytes()).to_vec(),
            counter: 0,
        }
    }

    /// The public key as a COSE_Key (EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let sec1 = point.as_bytes();
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut out, &sec1[1..33]);
        out.push(0x22);
        cbor_bytes(&mut out, &sec1[33..65]);
        out
    }

    fn authenticator_data(&self, rp_id: &str, flags: u8, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        if attested {
            data.extend([0u8; 16]);
            data.extend((self.credential_id.len() as u16).to_be_bytes());
            data.extend(&self.credential_id);
            data.extend(self.cose_key());
        }
        data
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// The answer to registration options (`publicKey` of a `PasskeyChallenge`): attestation
    /// `none`, user present and verified.
    pub(crate) fn register(&self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.create", challenge, ORIGIN);
        let auth_data = self.authenticator_data(RP_ID, 0x45, true);
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(&attestation),
                "clientDataJSON": B64.encode(&client_data),
            },
            "extensions": {},
        })
    }

    /// The answer to assertion options with the counter advanced by `step` (0: the same
    /// counter again), getting `fault` wrong.
    pub(crate) fn assert(&mut self, options: &Value, step: u32, fault: Fault) -> Value {
        self.answer(options, step, fault, Value::Null)
    }

    /// As [`Authenticator::assert`], for a discoverable sign-in: the answer names the user
    /// the passkey was registered for (`user`, a user id), as `userHandle`.
    pub(crate) fn assert_as(
        &mut self,
        options: &Value,
        step: u32,
        fault: Fault,
        user: &str,
    ) -> Value {
        let handle = uuid::Uuid::parse_str(user).unwrap();
        self.answer(options, step, fault, B64.encode(handle.as_bytes()).into())
    }

    fn answer(&mut self, options: &Value, step: u32, fault: Fault, user_handle: Value) -> Value {
        let challenge = options["challenge"].as_str().unwrap();
        self.counter += step;
        let origin = if fault == Fault::Origin {
            "https://rampart.test.evil.example"
        } else {
            ORIGIN
        };
        let rp_id = if fault == Fault::RpId {
            "evil.example"
        } else {
            RP_ID
        };
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let auth_data = self.authenticator_data(rp_id, 0x05, false);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let mut der = signature.to_der().as_bytes().to_vec();
        if fault == Fault::Signature {
            let last = der.len() - 1;
            der[last] ^= 0x01;
        }
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(&der),
                "userHandle": user_handle,
            },
            "extensions": {},
        })
    }
}

/// Registers `authenticator` for the holder of `token`, named `name`.
pub(crate) async fn register(
    node: &Node,
    token: &str,
    authenticator: &Authenticator,
    name: &str,
) -> Value {
    let (s, options) = node
        .post_empty("/api/v1/auth/mfa/passkeys/challenge", token)
        .await;
    assert_eq!(s, StatusCode::OK, "{}: {options}", node.name());
    assert_eq!(options["publicKey"]["rp"]["id"], RP_ID, "{}", node.name());
    let credential = authenticator.register(&options["publicKey"]);
    let (s, added) = node
        .post(
            "/api/v1/auth/mfa/passkeys",
            token,
            json!({ "name": name, "credential": credential }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}: {added}", node.name());
    added
}

/// The assertion options of pending sign-in `p`.
async fn login_challenge(node: &Node, p: &str) -> Value {
    let (s, options) = call(
        node,
        Method::POST,
        "/api/v1/auth/login/passkey-challenge",
        None,
        json!({ "pending_token": p }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}: {options}", node.name());
    options["publicKey"].clone()
}

async fn answer(node: &Node, p: &str, credential: Value) -> (StatusCode, Value) {
    call(
        node,
        Method::POST,
        "/api/v1/auth/login/second-factor",
        None,
        json!({ "pending_token": p, "passkey": credential }),
    )
    .await
}

/// Sessions opened so far: successful `auth.login` events.
pub(crate) async fn sign_ins(node: &Node) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| e.action == "auth.login" && e.outcome == "success")
        .count()
}

/// Failed `auth.login` events giving `reason`.
pub(crate) async fn failures(node: &Node, reason: &str) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| {
            e.action == "auth.login" && e.outcome == "failure" && e.details.contains(reason)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_are_registered_sign_in_step_up_and_are_removed_after_a_step_up() {
    on_both(passkeys, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "ada", USER_PASSWORD, false)
            .await;
        let token = node.login("it", "ada", USER_PASSWORD).await;
        let (_, status) = node.get("/api/v1/auth/mfa", &token).await;
        assert_eq!(status["passkeys_available"], true, "{name}: {status}");
        assert_eq!(status["passkeys"], 0, "{name}");
        let mut laptop = Authenticator::new(&format!("laptop {name}"));
        let first = register(&node, &token, &laptop, "laptop").await;
        assert_eq!(first["name"], "laptop", "{name}");

        // A second passkey needs a recent second factor; the registration counted as one.
        let phone = Authenticator::new(&format!("phone {name}"));
        register(&node, &token, &phone, "phone").await;
        // The same authenticator twice is refused.
        let (s, options) = node
            .post_empty("/api/v1/auth/mfa/passkeys/challenge", &token)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert_eq!(
            options["publicKey"]["excludeCredentials"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "{name}: {options}"
        );
        let again = phone.register(&options["publicKey"]);
        let (s, body) = node
            .post(
                "/api/v1/auth/mfa/passkeys",
                &token,
                json!({ "name": "again", "credential": again }),
            )
            .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
        let (_, list) = node.get("/api/v1/auth/mfa/passkeys", &token).await;
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["laptop", "phone"], "{name}");

        // Signing in now takes a passkey: the second step offers it, and nothing else.
        let (s, first_step) = password(&node, "ada", USER_PASSWORD).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{name}: {first_step}");
        assert_eq!(first_step["methods"], json!(["passkey"]), "{name}");
        let p = first_step["pending_token"].as_str().unwrap().to_owned();
        let options = login_challenge(&node, &p).await;
        assert_eq!(options["rpId"], RP_ID, "{name}");
        assert_eq!(
            options["allowCredentials"].as_array().map(Vec::len),
            Some(2),
            "{name}"
        );
        let before = sign_ins(&node).await;
        let (s, session) = answer(&node, &p, laptop.assert(&options, 1, Fault::None)).await;
        assert_eq!(s, StatusCode::OK, "{name}: {session}");
        assert_eq!(sign_ins(&node).await, before + 1, "{name}");
        let events = node.events().await;
        let login = events
            .iter()
            .rev()
            .find(|e| e.action == "auth.login")
            .unwrap();
        assert!(
            login.details.contains("passkey"),
            "{name}: {}",
            login.details
        );
        let signed_in = session["token"].as_str().unwrap().to_owned();

        // Step-up with a passkey, in a session more than the window old.
        node.clock.advance(Duration::minutes(11));
        let target = first["id"].as_str().unwrap();
        let (s, body) = node
            .delete(&format!("/api/v1/auth/mfa/passkeys/{target}"), &signed_in)
            .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "step-up-required"),
            "{name}: {body}"
        );
        let (s, options) = node
            .post_empty("/api/v1/auth/step-up/passkey-challenge", &signed_in)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}: {options}");
        let credential = laptop.assert(&options["publicKey"], 1, Fault::None);
        let (s, body) = node
            .post(
                "/api/v1/auth/step-up",
                &signed_in,
                json!({ "passkey": credential }),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}: {body}");
        let (s, body) = node
            .delete(&format!("/api/v1/auth/mfa/passkeys/{target}"), &signed_in)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}: {body}");
        let (_, list) = node.get("/api/v1/auth/mfa/passkeys", &signed_in).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{name}");
        let (s, _) = node
            .delete(&format!("/api/v1/auth/mfa/passkeys/{target}"), &signed_in)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{name}");
        let (s, body) = node
            .delete("/api/v1/auth/mfa/passkeys/not-an-id", &signed_in)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        let events = node.events().await;
        for action in [
            "user.mfa.passkey.add",
            "user.mfa.passkey.remove",
            "auth.step-up",
        ] {
            assert!(
                events.iter().any(|e| e.action == action),
                "{name}: {action}"
            );
        }

        // An administrator's reset removes the passkeys too, audited; the password alone
        // then signs in again.
        let admin = node.admin().await;
        let id = node
            .events()
            .await
            .iter()
            .find(|e| e.action == "user.mfa.passkey.add")
            .and_then(|e| e.target.clone())
            .unwrap();
        let id = id.trim_start_matches("user:").to_owned();
        // The administrator has no factor and is not required to: no step-up needed.
        let (s, body) = node
            .delete(&format!("/api/v1/users/{id}/mfa"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let reset = node
            .events()
            .await
            .into_iter()
            .rev()
            .find(|e| e.action == "user.mfa.reset")
            .unwrap();
        assert!(
            reset.details.contains("\"passkeys_removed\":1"),
            "{name}: {}",
            reset.details
        );
        let (s, _) = password(&node, "ada", USER_PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_passkey_assertions_are_refused_audited_and_open_no_session() {
    on_both(passkeys, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "bo", USER_PASSWORD, false)
            .await;
        let token = node.login("it", "bo", USER_PASSWORD).await;
        let mut key = Authenticator::new(&format!("bo {name}"));
        register(&node, &token, &key, "key").await;
        let opened = sign_ins(&node).await;

        // Each fault against a fresh challenge of one sign-in.
        let p = pending(&node, "bo", USER_PASSWORD).await;
        for (fault, reason) in [
            (Fault::Origin, "passkey-wrong-origin"),
            (Fault::RpId, "passkey-wrong-rp-id"),
            (Fault::Signature, "passkey-bad-signature"),
        ] {
            let options = login_challenge(&node, &p).await;
            let (s, body) = answer(&node, &p, key.assert(&options, 1, fault)).await;
            assert_eq!(
                (s, problem_type(&body)),
                (StatusCode::UNAUTHORIZED, "invalid-second-factor"),
                "{name}: {fault:?}: {body}"
            );
            assert_eq!(failures(&node, reason).await, 1, "{name}: {reason}");
        }
        // The challenge a refused answer used is gone: the right answer to it is refused.
        let options = login_challenge(&node, &p).await;
        let (s, _) = answer(&node, &p, key.assert(&options, 1, Fault::Origin)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        let (s, body) = answer(&node, &p, key.assert(&options, 1, Fault::None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(failures(&node, "passkey-no-challenge").await, 1, "{name}");

        // A challenge of another sign-in is refused.
        let other = pending(&node, "bo", USER_PASSWORD).await;
        let theirs = login_challenge(&node, &other).await;
        login_challenge(&node, &p).await;
        let (s, _) = answer(&node, &p, key.assert(&theirs, 1, Fault::None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            failures(&node, "passkey-wrong-challenge").await,
            1,
            "{name}"
        );

        assert_eq!(
            sign_ins(&node).await,
            opened,
            "{name}: no session from a refusal"
        );

        // The right answer signs in once; the same answer again finds the sign-in finished.
        let options = login_challenge(&node, &p).await;
        let good = key.assert(&options, 1, Fault::None);
        let (s, body) = answer(&node, &p, good.clone()).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        let (s, _) = answer(&node, &p, good.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(sign_ins(&node).await, opened + 1, "{name}");

        // On a new sign-in, a counter that does not advance past the one just accepted (a
        // copy of the authenticator) is refused, and so is the old answer replayed (its
        // challenge was another sign-in's).
        let p2 = pending(&node, "bo", USER_PASSWORD).await;
        let options = login_challenge(&node, &p2).await;
        let (s, _) = answer(&node, &p2, key.assert(&options, 0, Fault::None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            failures(&node, "passkey-counter-not-increased").await,
            1,
            "{name}"
        );
        login_challenge(&node, &p2).await;
        let (s, _) = answer(&node, &p2, good).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            failures(&node, "passkey-wrong-challenge").await,
            2,
            "{name}"
        );
        assert_eq!(sign_ins(&node).await, opened + 1, "{name}");
        // Malformed answers are refused the same way, never a crash.
        login_challenge(&node, &p2).await;
        let (s, body) = answer(&node, &p2, json!({ "id": 7 })).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {body}");
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/login/second-factor",
            None,
            json!({ "pending_token": p2, "code": "123456", "passkey": {} }),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_passkeys_count_toward_the_lockout_and_a_locked_username_tries_none() {
    on_both(passkeys_and_lockout, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "cy", USER_PASSWORD, false)
            .await;
        let token = node.login("it", "cy", USER_PASSWORD).await;
        let mut key = Authenticator::new(&format!("cy {name}"));
        register(&node, &token, &key, "key").await;
        let p = pending(&node, "cy", USER_PASSWORD).await;
        // The test configuration locks after three failures.
        for _ in 0..3 {
            let options = login_challenge(&node, &p).await;
            let (s, _) = answer(&node, &p, key.assert(&options, 1, Fault::Signature)).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        }
        let options = login_challenge(&node, &p).await;
        let (s, body) = answer(&node, &p, key.assert(&options, 1, Fault::None)).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "login-throttled"),
            "{name}: {body}"
        );
        // Once the lock lapses the right passkey works.
        node.clock.advance(Duration::minutes(1));
        let options = login_challenge(&node, &p).await;
        let (s, body) = answer(&node, &p, key.assert(&options, 1, Fault::None)).await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_origin_passkeys_are_unavailable_and_say_why() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let token = node.admin().await;
        let (s, body) = node
            .post_empty("/api/v1/auth/mfa/passkeys/challenge", &token)
            .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("public_origin"),
            "{name}: {body}"
        );
        let (_, status) = node.get("/api/v1/auth/mfa", &token).await;
        assert_eq!(status["passkeys_available"], false, "{name}");
        // Nor can anyone sign in with a passkey alone.
        let (s, body) = call(
            &node,
            Method::POST,
            "/api/v1/auth/login/passkey-discovery",
            None,
            Value::Null,
        )
        .await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: {body}"
        );
    })
    .await;
}
