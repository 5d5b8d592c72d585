//! Signing-key rotation: a log whose key was rotated verifies from its first key, in an
//! export and in a proof bundle, and every way of breaking the chain of keys is refused.

use rampart_audit::keychain::{rotation_line, sign_rotation, ChainError, KeyChain};
use rampart_audit::{
    checkpoint_line, event_line, inclusion_proof_from_leaves, leaf_hash, verify_bundle,
    verify_export, BundleError, Checkpoint, ExportHeader, Finding, Frontier, ProofBundle,
    SigningKey, VerifierKey,
};

const ORIGIN: &str = "audit.example.com/rampart";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(ORIGIN, [seed; 32]).unwrap()
}

fn events(n: u64) -> Vec<String> {
    (1..=n)
        .map(|seq| format!("{{\"seq\":{seq},\"action\":\"user.create\"}}"))
        .collect()
}

fn root(events: &[String], size: u64) -> [u8; 32] {
    let mut f = Frontier::new();
    for e in &events[..size as usize] {
        f.push(leaf_hash(e.as_bytes()));
    }
    f.root()
}

fn checkpoint(events: &[String], size: u64) -> Checkpoint {
    Checkpoint::new(ORIGIN, size, root(events, size))
}

/// What signs the checkpoint of a size in a test log.
enum Sign<'a> {
    One(&'a SigningKey),
    Rotation(&'a SigningKey, &'a SigningKey),
    Note(String),
}

/// An export of `events` with the given checkpoints, each right after its event.
fn export(events: &[String], checkpoints: Vec<(u64, Sign<'_>)>) -> Vec<u8> {
    let header = ExportHeader {
        origin: ORIGIN.into(),
        from: 1,
        to: events.len() as u64,
        frontier: Frontier::new(),
    };
    let mut out = header.to_line();
    for (i, event) in events.iter().enumerate() {
        let seq = i as u64 + 1;
        out.push_str(&event_line(seq, event).unwrap());
        for (size, sign) in &checkpoints {
            if *size == seq {
                let note = match sign {
                    Sign::One(k) => k.sign(&checkpoint(events, seq)).unwrap(),
                    Sign::Rotation(old, new) => {
                        sign_rotation(checkpoint(events, seq), old, new).unwrap()
                    }
                    Sign::Note(n) => n.clone(),
                };
                out.push_str(&checkpoint_line(&note));
            }
        }
    }
    out.into_bytes()
}

fn verify(export: &[u8], key: &SigningKey) -> rampart_audit::Report {
    verify_export(export, key.verifier(), None)
}

#[test]
fn a_log_spanning_two_rotations_verifies_from_its_first_key() {
    let (k0, k1, k2) = (key(1), key(2), key(3));
    let ev = events(12);
    let bytes = export(
        &ev,
        vec![
            (3, Sign::One(&k0)),
            (5, Sign::Rotation(&k0, &k1)),
            (7, Sign::One(&k1)),
            (9, Sign::Rotation(&k1, &k2)),
            (12, Sign::One(&k2)),
        ],
    );
    let report = verify(&bytes, &k0);
    assert!(report.is_ok(), "{:?}", report.finding);
    assert_eq!(report.checkpoints_verified, 5);
    assert_eq!(
        report.rotations,
        vec![(5, k1.verifier_key()), (9, k2.verifier_key())]
    );
    assert_eq!(report.signing_key, k2.verifier_key());
    // The later key alone does not vouch for what the first key signed.
    let from_later = verify(&bytes, &k2);
    assert_eq!(from_later.finding, Some(Finding::WrongKey { line: 5 }));
}

#[test]
fn a_partial_export_after_a_rotation_verifies_with_the_key_then_current() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(8);
    let mut frontier = Frontier::new();
    for e in &ev[..4] {
        frontier.push(leaf_hash(e.as_bytes()));
    }
    let header = ExportHeader {
        origin: ORIGIN.into(),
        from: 5,
        to: 8,
        frontier,
    };
    let mut out = header.to_line();
    out.push_str(&checkpoint_line(
        &sign_rotation(checkpoint(&ev, 4), &k0, &k1).unwrap(),
    ));
    for seq in 5..=8u64 {
        out.push_str(&event_line(seq, &ev[seq as usize - 1]).unwrap());
    }
    out.push_str(&checkpoint_line(&k1.sign(&checkpoint(&ev, 8)).unwrap()));
    assert!(verify(out.as_bytes(), &k0).is_ok());
    // Without the rotation line, the key current at the start is the new one.
    let without: String = out
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert!(verify(without.as_bytes(), &k1).is_ok());
    assert_eq!(
        verify(without.as_bytes(), &k0).finding,
        Some(Finding::WrongKey { line: 6 })
    );
}

fn chain_refusal(report: &rampart_audit::Report) -> String {
    match &report.finding {
        Some(Finding::KeyChain { reason, .. }) => reason.clone(),
        other => panic!("expected a key-chain finding, got {other:?}"),
    }
}

#[test]
fn a_checkpoint_signed_by_a_key_no_rotation_introduced_is_refused() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(6);
    let bytes = export(&ev, vec![(2, Sign::One(&k0)), (4, Sign::One(&k1))]);
    // Line 1 header, events 1-2, checkpoint on line 4, events 3-4, checkpoint on line 7.
    assert_eq!(
        verify(&bytes, &k0).finding,
        Some(Finding::WrongKey { line: 7 })
    );
}

#[test]
fn the_old_key_signs_nothing_after_its_rotation() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(6);
    let bytes = export(
        &ev,
        vec![(2, Sign::Rotation(&k0, &k1)), (4, Sign::One(&k0))],
    );
    let reason = chain_refusal(&verify(&bytes, &k0));
    assert!(reason.contains("retired key"), "{reason}");
}

#[test]
fn a_rotation_signed_by_only_one_of_its_keys_is_refused() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(4);
    let mut body = checkpoint(&ev, 2);
    body.extensions
        .push(rotation_line(&k0.verifier(), &k1.verifier()));
    // The old key alone: the new key never agreed.
    let old_only = export(&ev, vec![(2, Sign::Note(k0.sign(&body).unwrap()))]);
    let reason = chain_refusal(&verify(&old_only, &k0));
    assert!(reason.contains("not signed by that new key"), "{reason}");
    // The new key alone: nobody the verifier trusts introduced it.
    let new_only = export(&ev, vec![(2, Sign::Note(k1.sign(&body).unwrap()))]);
    let reason = chain_refusal(&verify(&new_only, &k0));
    assert!(
        reason.contains("not signed by the key it retires"),
        "{reason}"
    );
}

#[test]
fn a_rotation_bringing_back_a_retired_key_is_refused() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(6);
    let bytes = export(
        &ev,
        vec![(2, Sign::Rotation(&k0, &k1)), (4, Sign::Rotation(&k1, &k0))],
    );
    let reason = chain_refusal(&verify(&bytes, &k0));
    assert!(reason.contains("used before"), "{reason}");
    // Rotating to the key itself is the same refusal.
    let same = export(&ev, vec![(2, Sign::Rotation(&k0, &k0))]);
    let mut chain = KeyChain::new(k0.verifier());
    let note = sign_rotation(checkpoint(&ev, 2), &k0, &k0);
    // Signing twice with one key makes a note with the same key twice: malformed already.
    assert!(note.is_err() || chain.accept(&note.unwrap()).is_err());
    assert!(!verify(&same, &k0).is_ok());
}

#[test]
fn a_rotation_from_a_key_that_is_not_current_is_refused() {
    let (k0, k1, k2) = (key(1), key(2), key(3));
    let ev = events(4);
    // k1 (never introduced) rotating to k2, the note also carrying k0's signature.
    let mut body = checkpoint(&ev, 2);
    body.extensions
        .push(rotation_line(&k1.verifier(), &k2.verifier()));
    let note = k2
        .add_signature(&k1.add_signature(&k0.sign(&body).unwrap()).unwrap())
        .unwrap();
    let bytes = export(&ev, vec![(2, Sign::Note(note))]);
    let reason = chain_refusal(&verify(&bytes, &k0));
    assert!(reason.contains("current key is"), "{reason}");
}

#[test]
fn an_altered_rotation_fails_its_signatures() {
    let (k0, k1, k2) = (key(1), key(2), key(3));
    let ev = events(4);
    let note = sign_rotation(checkpoint(&ev, 2), &k0, &k1).unwrap();
    // Swapping the new key for another after signing breaks the old key's signature.
    let swapped = note.replace(&k1.verifier_key(), &k2.verifier_key());
    let bytes = export(&ev, vec![(2, Sign::Note(swapped))]);
    assert!(!verify(&bytes, &k0).is_ok());
    let mut chain = KeyChain::new(k0.verifier());
    assert!(matches!(
        chain.accept(&note.replace(&k1.verifier_key(), &k2.verifier_key())),
        Err(ChainError::BadSignature { .. } | ChainError::RotationNotSignedByNew { .. })
    ));
    assert_eq!(chain.current(), &k0.verifier(), "a refusal moves nothing");
}

#[test]
fn checkpoints_are_taken_in_size_order_whatever_their_line_order() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(6);
    // The k1 checkpoint of size 6 comes early (allowed), before the rotation at size 4.
    let header = ExportHeader {
        origin: ORIGIN.into(),
        from: 1,
        to: 6,
        frontier: Frontier::new(),
    };
    let mut out = header.to_line();
    out.push_str(&checkpoint_line(&k1.sign(&checkpoint(&ev, 6)).unwrap()));
    for seq in 1..=6u64 {
        out.push_str(&event_line(seq, &ev[seq as usize - 1]).unwrap());
        if seq == 4 {
            out.push_str(&checkpoint_line(
                &sign_rotation(checkpoint(&ev, 4), &k0, &k1).unwrap(),
            ));
        }
    }
    // The early k1 line is signed by a key the chain does not hold yet.
    assert_eq!(
        verify(out.as_bytes(), &k0).finding,
        Some(Finding::WrongKey { line: 2 })
    );
}

#[test]
fn a_proof_bundle_follows_the_rotations_it_carries() {
    let (k0, k1) = (key(1), key(2));
    let ev = events(8);
    let leaves: Vec<_> = ev.iter().map(|e| leaf_hash(e.as_bytes())).collect();
    let path = inclusion_proof_from_leaves(&leaves, 2, 8).unwrap();
    let rotation = sign_rotation(checkpoint(&ev, 5), &k0, &k1).unwrap();
    let signed = k1.sign(&checkpoint(&ev, 8)).unwrap();
    let bundle = ProofBundle::new(
        ORIGIN,
        3,
        Some(ev[2].clone()),
        &leaves[2],
        8,
        &path,
        &signed,
        &k1.verifier_key(),
    );
    // Without the rotation, the first key does not open the checkpoint.
    assert!(matches!(
        verify_bundle(&bundle, &k0.verifier(), None),
        Err(BundleError::Checkpoint(_))
    ));
    let bundle = bundle.with_rotations(vec![rotation.clone()]);
    let parsed = ProofBundle::parse(&bundle.to_text()).unwrap();
    assert_eq!(parsed, bundle);
    assert!(verify_bundle(&parsed, &k0.verifier(), None).is_ok());
    // The current key verifies it too (the rotation that introduced it is skipped); a
    // rotation whose new key did not sign is refused.
    assert!(verify_bundle(
        &bundle,
        &VerifierKey::parse(&k1.verifier_key()).unwrap(),
        None
    )
    .is_ok());
    assert!(verify_bundle(&bundle, &key(3).verifier(), None).is_err());
    let mut body = checkpoint(&ev, 5);
    body.extensions
        .push(rotation_line(&k0.verifier(), &k1.verifier()));
    let half = bundle.clone().with_rotations(vec![k0.sign(&body).unwrap()]);
    assert!(matches!(
        verify_bundle(&half, &k0.verifier(), None),
        Err(BundleError::KeyChain(
            ChainError::RotationNotSignedByNew { .. }
        ))
    ));
}

#[test]
fn witness_keys_require_a_cosigned_checkpoint_and_refuse_a_tampered_cosignature() {
    let k0 = key(1);
    let w = SigningKey::from_seed("witness.example.org", [42; 32]).unwrap();
    let ev = events(6);
    let plain = k0.sign(&checkpoint(&ev, 3)).unwrap();
    let cosigned = w
        .add_signature(&k0.sign(&checkpoint(&ev, 6)).unwrap())
        .unwrap();
    let bytes = export(
        &ev,
        vec![
            (3, Sign::Note(plain.clone())),
            (6, Sign::Note(cosigned.clone())),
        ],
    );
    let witnessed = |bytes: &[u8]| {
        rampart_audit::Verifier::new(k0.verifier(), None)
            .with_witnesses(vec![w.verifier()])
            .feed_all(bytes)
    };
    let report = witnessed(&bytes);
    assert!(report.is_ok(), "{:?}", report.finding);
    assert_eq!(report.witnessed_size, Some(6));
    // Without a cosigned checkpoint, the witness key is not satisfied.
    let unwitnessed = export(&ev, vec![(3, Sign::Note(plain))]);
    assert_eq!(witnessed(&unwitnessed).finding, Some(Finding::Unwitnessed));
    assert!(
        verify(&unwitnessed, &k0).is_ok(),
        "no witness key asked, none required"
    );
    // A cosignature altered (its last signature byte changed) is found.
    let (text, lines) = rampart_audit::split_note(&cosigned).unwrap();
    let witness_line = lines.lines().last().unwrap();
    let mut sig: Vec<char> = witness_line.chars().collect();
    let at = sig.len() - 3;
    sig[at] = if sig[at] == 'A' { 'B' } else { 'A' };
    let tampered_line: String = sig.into_iter().collect();
    let tampered = format!("{text}\n{}", lines.replace(witness_line, &tampered_line));
    let bytes = export(&ev, vec![(6, Sign::Note(tampered))]);
    assert!(matches!(
        witnessed(&bytes).finding,
        Some(Finding::BadCosignature { line: 8, .. })
    ));
}
