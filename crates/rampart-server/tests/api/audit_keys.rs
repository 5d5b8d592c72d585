//! Rotating the audit signing key through the API: administrators only, with a recent
//! second factor when they have one, only with a master key; the rotation checkpoint is
//! signed by the old and the new key, later ones by the new key, and the proof bundle of an
//! event verifies from the first key across the rotation.

use rampart_audit::keychain::KeyChain;
use rampart_audit::{open, VerifierKey};
use rampart_core::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem_type, USER_PASSWORD};

fn key(v: &Value) -> VerifierKey {
    VerifierKey::parse(v.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_rotate_the_audit_key_with_a_step_up_and_the_chain_verifies() {
    use rampart_core::Clock as _;
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "root", crate::kit::ADMIN_PASSWORD, true)
            .await;
        node.create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        let root = node.login("it", "root", crate::kit::ADMIN_PASSWORD).await;
        let dev = node.login("it", "dev", USER_PASSWORD).await;
        let (status, first) = node.post_empty("/api/v1/audit/checkpoint", &root).await;
        assert_eq!(status, StatusCode::OK, "{name}: {first}");
        let first_key = key(&first["verifier_key"]);
        assert_eq!(first["signing_key"], first["verifier_key"], "{name}");

        let (status, _) = node.post_empty("/api/v1/audit/keys/rotate", &dev).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{name}: not an administrator"
        );
        let (secret, _) = crate::mfa::enrol(&node, &root).await;
        node.clock.advance(time::Duration::minutes(11));
        let (status, body) = node.post_empty("/api/v1/audit/keys/rotate", &root).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert_eq!(problem_type(&body), "step-up-required", "{name}");
        let (_, unchanged) = node.post_empty("/api/v1/audit/checkpoint", &root).await;
        assert_eq!(
            unchanged["signing_key"], first["verifier_key"],
            "{name}: nothing rotated"
        );

        let now = node.clock.now().unix_timestamp();
        let code = format!(
            "{:06}",
            secret.code_at_step(rampart_identity::mfa::step_of(now))
        );
        let (status, _) = node
            .post("/api/v1/auth/step-up", &root, json!({ "code": code }))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, rotated) = node.post_empty("/api/v1/audit/keys/rotate", &root).await;
        assert_eq!(status, StatusCode::OK, "{name}: {rotated}");
        assert_eq!(rotated["generation"], 1, "{name}");
        assert_eq!(rotated["previous_key"], first["verifier_key"], "{name}");
        let new_key = key(&rotated["verifier_key"]);
        let at = rotated["checkpoint_size"].as_u64().expect("signed at once");

        // The rotation checkpoint: both keys signed it, and the chain moves to the new key.
        let (_, c) = node.get("/api/v1/audit/checkpoint", &root).await;
        assert_eq!(c["size"].as_u64(), Some(at), "{name}");
        let note = c["note"].as_str().unwrap();
        assert!(
            open(note, &first_key).is_ok() && open(note, &new_key).is_ok(),
            "{name}"
        );
        let mut chain = KeyChain::new(first_key.clone());
        assert_eq!(
            chain.accept(note).unwrap().rotated_to,
            Some(new_key.clone())
        );
        // Later checkpoints: the new key only.
        node.create_user(Provider::End, "later", USER_PASSWORD, false)
            .await;
        let (_, later) = node.post_empty("/api/v1/audit/checkpoint", &root).await;
        let later_note = later["note"].as_str().unwrap();
        assert!(later["size"].as_u64().unwrap() > at, "{name}");
        assert_eq!(key(&later["signing_key"]), new_key, "{name}");
        assert!(
            open(later_note, &first_key).is_err(),
            "{name}: the old key retired"
        );
        assert!(chain.accept(later_note).is_ok(), "{name}");

        // The event records both public keys and nothing secret.
        let (_, events) = node
            .get("/api/v1/audit/events?action=audit.key.rotate", &root)
            .await;
        let event = &events["items"][0];
        assert_eq!(event["details"]["generation"], 1, "{name}: {events}");
        assert_eq!(
            event["details"]["verifier_key"], rotated["verifier_key"],
            "{name}"
        );
        assert!(!events.to_string().contains("PRIVATE"), "{name}");

        // A second rotation, once the first is signed; generation 2 signs from then on.
        let (status, again) = node.post_empty("/api/v1/audit/keys/rotate", &root).await;
        assert_eq!(status, StatusCode::OK, "{name}: {again}");
        assert_eq!(again["generation"], 2, "{name}");
        assert_eq!(again["previous_key"], rotated["verifier_key"], "{name}");

        // An event's proof bundle (from before the rotations) verifies from the first key,
        // through the rotations it carries.
        let state = &node.server().state;
        let proved = rampart_service::audit::proof::event_proof(state, 1)
            .await
            .unwrap();
        let rampart_service::audit::proof::Proved::Bundle { bundle, result } = proved else {
            panic!("{name}: event 1 is covered");
        };
        assert!(result.is_ok(), "{name}: {result:?}");
        assert_eq!(bundle.rotations.len(), 2, "{name}");
        assert!(
            rampart_audit::verify_bundle(&bundle, &first_key, None).is_ok(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_master_key_the_audit_key_is_not_rotated() {
    on_both(no_tweak, |node| async move {
        let admin = node.admin().await;
        let (status, body) = node.post_empty("/api/v1/audit/keys/rotate", &admin).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", node.name());
        assert!(body.to_string().contains("master_key"), "{body}");
        let (_, events) = node
            .get("/api/v1/audit/events?action=audit.key.rotate", &admin)
            .await;
        assert!(events["items"].as_array().unwrap().is_empty());
    })
    .await;
}

/// Archive segments across a rotation: a segment that ends before the rotation ends at a
/// checkpoint the retired key signed (it signs nothing new), and one that spans the
/// rotation verifies from the key that signed at its start, through the rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_segments_before_and_across_a_rotation_verify() {
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let state = &node.server().state;
        let ctx = rampart_core::AuditContext::default();
        node.create_user(Provider::End, "early", USER_PASSWORD, false)
            .await;
        let (_, early) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
        let signed_early = early["size"].as_u64().unwrap();
        // One more event after that checkpoint, still before the cutoff.
        node.create_user(Provider::End, "unsigned", USER_PASSWORD, false)
            .await;
        use rampart_core::Clock as _;
        let cutoff = node.clock.now() + time::Duration::hours(1);
        node.clock.advance(time::Duration::days(2));
        let admin = node.login("it", "admin", crate::kit::ADMIN_PASSWORD).await;
        let (status, rotated) = node.post_empty("/api/v1/audit/keys/rotate", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {rotated}");
        let first_key = VerifierKey::parse(&state.audit.verifier_key()).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let before = state
            .audit
            .archive(cutoff, dir.path(), &ctx, node.clock.now(), &state.metrics)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: nothing archived"));
        assert_eq!(before.checkpoint_size, signed_early, "{name}: {before:?}");
        let segment = rampart_service::audit::verify_file_with(
            &before.path,
            first_key.clone(),
            None,
            2,
            &mut |_| {},
        )
        .unwrap();
        assert!(segment.is_ok(), "{name}: {:?}", segment.finding);

        node.create_user(Provider::End, "late", USER_PASSWORD, false)
            .await;
        let across = state
            .audit
            .archive(
                node.clock.now() + time::Duration::hours(1),
                dir.path(),
                &ctx,
                node.clock.now(),
                &state.metrics,
            )
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: nothing archived"));
        assert_eq!(across.from, before.to + 1, "{name}");
        let segment =
            rampart_service::audit::verify_file_with(&across.path, first_key, None, 2, &mut |_| {})
                .unwrap();
        assert!(segment.is_ok(), "{name}: {:?}", segment.finding);
        assert_eq!(segment.rotations.len(), 1, "{name}");
    })
    .await;
}
