//! `rampart audit verify-proof`: a proof bundle verifies offline with the log's key, and a
//! tampered bundle (its event text, its path, or another key) fails with status 1.

use std::process::Command;

use rampart_audit::{
    inclusion_proof_from_leaves, leaf_hash, to_hex, Checkpoint, Frontier, ProofBundle, SigningKey,
};

const ORIGIN: &str = "rampart.test/audit";

fn verify_proof(bundle: &str, key: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proof.json");
    std::fs::write(&path, bundle).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["audit", "verify-proof"])
        .arg(&path)
        .args(["--public-key", key])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_proof_bundle_verifies_offline_and_a_tampered_one_fails() {
    let key = SigningKey::from_seed(ORIGIN, [3; 32]).unwrap();
    let events: Vec<String> = (1..=5)
        .map(|s| format!("{{\"seq\":{s},\"action\":\"auth.login\",\"outcome\":\"success\"}}"))
        .collect();
    let leaves: Vec<_> = events.iter().map(|e| leaf_hash(e.as_bytes())).collect();
    let mut frontier = Frontier::new();
    leaves.iter().for_each(|l| frontier.push(*l));
    let note = key
        .sign(&Checkpoint::new(ORIGIN, 5, frontier.root()))
        .unwrap();
    let path = inclusion_proof_from_leaves(&leaves, 2, 5).unwrap();
    let bundle = ProofBundle::new(
        ORIGIN,
        3,
        Some(events[2].clone()),
        &leaves[2],
        5,
        &path,
        &note,
        &key.verifier_key(),
    );
    let (ok, text) = verify_proof(&bundle.to_text(), &key.verifier_key());
    assert!(ok, "{text}");
    assert!(
        text.contains("OK: event 3 is leaf 2 of the tree of 5 events"),
        "{text}"
    );

    let altered = bundle.to_text().replace("success", "failure");
    let (ok, text) = verify_proof(&altered, &key.verifier_key());
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAILED: event 3: event 3: the event text does not hash"),
        "{text}"
    );

    let mut forged = bundle.clone();
    forged.path[0] = to_hex(&leaf_hash(b"forged"));
    let (ok, text) = verify_proof(&forged.to_text(), &key.verifier_key());
    assert!(
        !ok && text.contains("does not lead to the signed root"),
        "{text}"
    );

    let other = SigningKey::from_seed(ORIGIN, [4; 32]).unwrap();
    let (ok, text) = verify_proof(&bundle.to_text(), &other.verifier_key());
    assert!(
        !ok && text.contains("the checkpoint does not verify"),
        "{text}"
    );

    let (ok, text) = verify_proof("{\"format\":\"x\"}", &key.verifier_key());
    assert!(!ok && text.contains("not a proof bundle"), "{text}");
}
