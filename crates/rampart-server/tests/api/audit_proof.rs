//! `GET /api/v1/audit/events/{seq}/proof` on both stores: the inclusion-proof bundle an
//! auditor keeps with an event verifies offline against the key the log publishes (and the
//! bundle is for that event only); an event no signed checkpoint covers yet answers 409 with
//! what to do; an unknown or malformed sequence number 404; and only administrators and
//! auditors read bundles (403 for other IT users and end users, 401 without a session).

use rampart_audit::{verify_bundle, ProofBundle, VerifierKey};
use rampart_core::Provider;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::audit::auditor;
use crate::kit::{no_tweak, on_both, problem_type, Node, USER_PASSWORD};

/// The bundle of event `seq` as `token` reads it: status, content type and body text.
async fn bundle_of(node: &Node, seq: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let r = node
        .request(
            Method::GET,
            &format!("/api/v1/audit/events/{seq}/proof"),
            token,
            None,
        )
        .await;
    let status = r.status();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

async fn proof_bundles(node: Node) {
    let name = node.name();
    let admin = node.admin().await;
    let audrey = auditor(&node, &admin).await;
    node.create_user(Provider::It, "ivo", USER_PASSWORD, false)
        .await;
    let ivo = node.login("it", "ivo", USER_PASSWORD).await;
    node.create_user(Provider::End, "erin", USER_PASSWORD, false)
        .await;
    let erin = node.login("end", "erin", USER_PASSWORD).await;
    for i in 0..5 {
        let (status, _) = node
            .post(
                "/api/v1/users",
                &admin,
                json!({ "provider": "end", "username": format!("u{i}"), "password": USER_PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
    }
    let (status, signed) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
    assert_eq!(status, StatusCode::OK, "{name}: {signed}");
    let size = signed["size"].as_u64().unwrap();
    let key = VerifierKey::parse(signed["verifier_key"].as_str().unwrap()).unwrap();

    // Every covered event's bundle verifies with the published key, and names its event.
    for (seq, token) in [(1, &admin), (size / 2, &audrey), (size, &audrey)] {
        let (status, ctype, text) = bundle_of(&node, &seq.to_string(), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{name} {seq}: {text}");
        assert_eq!(ctype, "application/json", "{name}");
        let bundle = ProofBundle::parse(&text).unwrap();
        assert_eq!(bundle.seq, seq, "{name}");
        assert_eq!(bundle.size, size, "{name}: against the newest checkpoint");
        verify_bundle(&bundle, &key, None).unwrap_or_else(|e| panic!("{name} {seq}: {e}"));
        // Moved to another position, the same proof no longer holds.
        let mut moved = bundle.clone();
        moved.seq = if seq == 1 { 2 } else { seq - 1 };
        assert!(verify_bundle(&moved, &key, None).is_err(), "{name} {seq}");
    }

    // An event after the checkpoint: not covered yet, and the answer says what to do.
    let (status, _) = node
        .post(
            "/api/v1/users",
            &admin,
            json!({ "provider": "end", "username": "late", "password": USER_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = node.get("/api/v1/audit/events?limit=1", &admin).await;
    let newest = page["items"][0]["seq"].as_u64().unwrap();
    assert!(newest > size, "{name}");
    let (status, _, text) = bundle_of(&node, &newest.to_string(), Some(&audrey)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{name}: {text}");
    let problem: Value = serde_json::from_str(&text).unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("sign one"),
        "{problem}"
    );
    let (status, _) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = bundle_of(&node, &newest.to_string(), Some(&audrey)).await;
    assert_eq!(status, StatusCode::OK, "{name}: covered once signed");

    // No such event.
    for seq in ["999999", "0", "-3", "abc", "9223372036854775807"] {
        let (status, _, text) = bundle_of(&node, seq, Some(&admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name} {seq}: {text}");
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem_type(&problem), "not-found", "{name} {seq}");
    }

    // Who may read: administrators and auditors only, before anything about the event.
    for (who, token, expected) in [
        ("IT user", Some(ivo.as_str()), StatusCode::FORBIDDEN),
        ("end user", Some(erin.as_str()), StatusCode::FORBIDDEN),
        ("anonymous", None, StatusCode::UNAUTHORIZED),
    ] {
        for seq in ["1", "999999"] {
            let (status, _, text) = bundle_of(&node, seq, token).await;
            assert_eq!(status, expected, "{name}: {who} {seq}: {text}");
            assert!(!text.contains("rampart-audit-proof"), "{name}: {who}");
        }
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_proof_bundle_verifies_offline_and_is_for_auditors_only() {
    on_both(no_tweak, proof_bundles).await;
}
