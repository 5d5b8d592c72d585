//! Encrypted SAML assertions against the real identity provider of `saml.rs` (pysaml2 and
//! xmlsec1, which encrypts to the encryption certificate of the metadata Rampart publishes):
//! the sign-ins that work, the responses refused (and audited, with nothing created), the
//! metadata, and the decryption key's settings.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::kit::{on_both, problem, Node};
use crate::saml::{
    add_idp, cookie, idp, idp_logins, idp_settings, post, real_time, refusals, start,
};

/// A decryption key (PEM, in a private file) and its certificate.
struct Keys {
    dir: tempfile::TempDir,
    key_pem: String,
    certificate_pem: String,
}

impl Keys {
    fn new() -> Self {
        let made = rampart_federation::saml::SpKey::generate(1_700_000_000).unwrap();
        let pem = String::from_utf8(made.to_pem().unwrap()).unwrap();
        let at = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys {
            dir,
            key_pem: pem[..at].to_owned(),
            certificate_pem: pem[at..].to_owned(),
        };
        std::fs::write(keys.path(), &keys.key_pem).unwrap();
        keys
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("saml-decryption.pem")
    }

    /// The settings that give this key (by reference) and its certificate.
    fn settings(&self) -> Value {
        json!({
            "decryption_key": format!("file:{}", self.path().display()),
            "decryption_certificate": self.certificate_pem,
        })
    }

    /// Whether `text` shows any line of the private key.
    fn shown_in(&self, text: &str) -> bool {
        self.key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .any(|l| text.contains(l))
    }
}

/// The service provider's metadata of `node`.
async fn metadata(node: &Node) -> String {
    let r = node
        .client
        .get(format!("{}/api/v1/providers/idp/saml/metadata", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// The XML of a response the IdP made.
fn xml_of(answer: &Value) -> String {
    let b64 = answer["SAMLResponse"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_assertions_sign_in_under_a_signed_response_or_their_own_signature() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        let keys = Keys::new();
        add_idp(&node, &admin, "it", keys.settings()).await;

        // The metadata offers the encryption certificate and what is accepted.
        let md = metadata(&node).await;
        assert!(md.contains("use=\"encryption\""), "{name}: {md}");
        let der: String = keys
            .certificate_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(md.contains(&der), "{name}: {md}");
        for algorithm in [
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        ] {
            assert!(
                md.contains(&format!("EncryptionMethod Algorithm=\"{algorithm}\"")),
                "{name}: {algorithm}: {md}"
            );
        }
        assert!(!md.contains("rsa-1_5"), "{name}: {md}");

        let cases = [
            // The Response signed over the ciphertext; the assertion inside has no
            // signature of its own: the Response's covers it.
            json!({ "case": "response-only-signed", "encrypt": { "data": "aes128-cbc" } }),
            json!({ "case": "response-only-signed", "encrypt": { "data": "aes256-gcm" } }),
            json!({ "case": "valid", "encrypt": { "data": "aes256-cbc" } }),
            // The Response unsigned: AES-GCM, and the assertion's own signature.
            json!({ "case": "assertion-only-signed", "encrypt": { "data": "aes128-gcm" } }),
            json!({ "case": "assertion-only-signed", "encrypt": { "data": "aes256-gcm" } }),
        ];
        for (i, spec) in cases.iter().enumerate() {
            let user = if i % 2 == 0 { "alice" } else { "bob" };
            let mut spec = spec.clone();
            spec["user"] = user.into();
            let (redirect, bound) = start(&node, "return=/console").await;
            let answer = idp().response(spec.clone(), Some(&redirect)).await;
            let xml = xml_of(&answer);
            assert!(xml.contains("EncryptedAssertion"), "{name}: {spec}");
            assert!(!xml.contains("rampart.test"), "{name}: {spec}: {xml}");
            real_time(&node);
            let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            assert_eq!(status, StatusCode::OK, "{name}: {spec}: {body}");
            assert_eq!(
                body["user"]["email"],
                format!("{user}@rampart.test"),
                "{name}: {spec}: {body}"
            );
        }
        assert!(refusals(&node).await.is_empty(), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_encrypted_responses_are_refused_audited_and_change_nothing() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        let keys = Keys::new();
        add_idp(&node, &admin, "it", keys.settings()).await;
        let cases: &[(Value, &str)] = &[
            // CBC is not authenticated: never outside a signed Response.
            (
                json!({ "case": "assertion-only-signed", "encrypt": { "data": "aes128-cbc" } }),
                "encryption-algorithm-refused",
            ),
            // Encrypted to a key this service provider does not hold.
            (
                json!({ "case": "valid", "encrypt": { "to": "other" } }),
                "encrypted-assertion-invalid",
            ),
            (
                json!({ "case": "assertion-only-signed", "encrypt": { "to": "other" } }),
                "encrypted-assertion-invalid",
            ),
            // The ciphertext altered: GCM's tag refuses it; under a signed Response the
            // signature does, before anything is decrypted.
            (
                json!({ "case": "assertion-only-signed",
                        "encrypt": { "data": "aes128-gcm", "tamper": true } }),
                "encrypted-assertion-invalid",
            ),
            (
                json!({ "case": "valid", "encrypt": { "data": "aes128-cbc", "tamper": true } }),
                "signature-invalid",
            ),
            // RSA PKCS#1 v1.5 key transport (Bleichenbacher).
            (
                json!({ "case": "valid", "encrypt": { "key": "rsa-1_5" } }),
                "encryption-algorithm-refused",
            ),
            (
                json!({ "case": "assertion-only-signed",
                        "encrypt": { "key": "rsa-1_5", "data": "aes256-gcm" } }),
                "encryption-algorithm-refused",
            ),
            // Nothing signed at all once decrypted.
            (
                json!({ "case": "unsigned", "encrypt": { "data": "aes128-gcm" } }),
                "unsigned",
            ),
            // Signature wrapping: an unsigned plain assertion beside the encrypted signed one.
            (
                json!({ "case": "wrapped", "encrypt": { "data": "aes128-gcm" } }),
                "several-assertions",
            ),
        ];
        let mut expected = Vec::new();
        let mut invalid_details = Vec::new();
        for (spec, reason) in cases {
            let (redirect, bound) = start(&node, "return=/console").await;
            let answer = idp().response(spec.clone(), Some(&redirect)).await;
            assert!(xml_of(&answer).contains("EncryptedAssertion"), "{spec}");
            real_time(&node);
            let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
            assert!(cookie(r.headers()).is_none(), "{name}: {spec}");
            let (got, _, body) = problem(r).await;
            assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {spec}: {body}");
            let detail = body["detail"].as_str().unwrap().to_owned();
            assert!(!keys.shown_in(&body.to_string()), "{name}: {body}");
            match *reason {
                "encrypted-assertion-invalid" => invalid_details.push(detail),
                "encryption-algorithm-refused" if spec["encrypt"]["data"] == "aes128-cbc" => {
                    assert!(detail.contains("sign the Response"), "{detail}");
                    assert!(detail.contains("AES-GCM"), "{detail}");
                }
                "encryption-algorithm-refused" => {
                    assert!(detail.contains("rsa-1_5"), "{detail}")
                }
                _ => {}
            }
            expected.push(reason.to_string());
            assert_eq!(refusals(&node).await, expected, "{name}: {spec}");
        }
        // Whatever failed inside the decryption, the same words: no oracle.
        assert_eq!(invalid_details.len(), 3, "{name}");
        assert!(
            invalid_details.iter().all(|d| *d == invalid_details[0]),
            "{name}: {invalid_details:?}"
        );

        // Nothing of the refused responses was made.
        let users = node
            .server()
            .state
            .store
            .users_of_provider("idp")
            .await
            .unwrap();
        assert!(users.is_empty(), "{name}: {users:?}");
        let logins = idp_logins(&node).await;
        assert_eq!(logins, 0, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_decryption_key_encrypted_assertions_are_refused_and_none_is_offered() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_idp(&node, &admin, "it", json!({})).await;
        let md = metadata(&node).await;
        assert!(!md.contains("use=\"encryption\""), "{name}: {md}");
        assert!(!md.contains("EncryptionMethod"), "{name}: {md}");

        let (redirect, bound) = start(&node, "return=/console").await;
        let answer = idp()
            .response(
                json!({ "case": "valid", "encrypt": { "to": "other" } }),
                Some(&redirect),
            )
            .await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        let (got, _, body) = problem(r).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("decryption_key"),
            "{name}: {body}"
        );
        assert_eq!(refusals(&node).await, vec!["encrypted-assertion"], "{name}");
        let users = node
            .server()
            .state
            .store
            .users_of_provider("idp")
            .await
            .unwrap();
        assert!(users.is_empty(), "{name}: {users:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decryption_key_is_checked_with_its_certificate_and_never_shown() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let (ours, other) = (Keys::new(), Keys::new());
        let create = |extra: Value| {
            let node = &node;
            let admin = admin.clone();
            async move {
                let settings = idp_settings(node, extra);
                node.post(
                    "/api/v1/providers",
                    &admin,
                    json!({ "name": "idp", "kind": "saml", "users": "it", "settings": settings }),
                )
                .await
            }
        };
        let not_a_key = ours.dir.path().join("certificate.pem");
        std::fs::write(&not_a_key, &ours.certificate_pem).unwrap();
        let reference = |p: &std::path::Path| format!("file:{}", p.display());
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({ "decryption_key": reference(&ours.path()) }),
                "settings.decryption_certificate",
                "both or neither",
            ),
            (
                json!({ "decryption_certificate": ours.certificate_pem }),
                "settings.decryption_key",
                "both or neither",
            ),
            (
                json!({ "decryption_key": reference(&ours.path()),
                        "decryption_certificate": other.certificate_pem }),
                "settings.decryption_certificate",
                "not the certificate of the decryption key",
            ),
            (
                json!({ "decryption_key": ours.key_pem,
                        "decryption_certificate": ours.certificate_pem }),
                "settings.decryption_key",
                "reference",
            ),
            (
                json!({ "decryption_key": "env:SAML_DECRYPTION_KEY_NOT_SET",
                        "decryption_certificate": ours.certificate_pem }),
                "settings.decryption_key",
                "cannot be read",
            ),
            (
                json!({ "decryption_key": reference(&not_a_key),
                        "decryption_certificate": ours.certificate_pem }),
                "settings.decryption_key",
                "private key",
            ),
            (
                json!({ "decryption_key": reference(&ours.path()),
                        "decryption_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }),
                "settings.decryption_certificate",
                "certificate",
            ),
        ];
        for (extra, field, says) in &cases {
            let (status, body) = create(extra.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {extra}: {body}"
            );
            assert_eq!(body["field"], *field, "{name}: {body}");
            let text = body.to_string();
            assert!(text.contains(says), "{name}: {says}: {body}");
            assert!(!ours.shown_in(&text), "{name}: {body}");
        }
        let (status, list) = node.get("/api/v1/providers", &admin).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["items"], json!([]), "{name}: nothing was created");

        // Good settings: stored as the reference, never the key; the test reads the key.
        let (status, body) = create(ours.settings()).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(
            body["settings"]["decryption_key"],
            reference(&ours.path()),
            "{name}"
        );
        assert!(!ours.shown_in(&body.to_string()), "{name}");
        let (status, body) = node
            .post_empty("/api/v1/providers/idp/test", &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("decryption key"),
            "{name}: {body}"
        );
        // The file now holds another key: the test says so, without showing either.
        std::fs::write(ours.path(), &other.key_pem).unwrap();
        let (status, body) = node
            .post_empty("/api/v1/providers/idp/test", &admin)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["field"], "settings.decryption_certificate", "{body}");
        assert!(!other.shown_in(&body.to_string()), "{name}: {body}");
        for e in node.events().await {
            assert!(
                !ours.shown_in(&e.details) && !other.shown_in(&e.details),
                "{name}: {}",
                e.details
            );
        }
    })
    .await;
}
