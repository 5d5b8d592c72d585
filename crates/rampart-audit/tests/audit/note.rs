//! Signed notes and checkpoints against the Go `sumdb/note` and C2SP signed-note vectors.

use rampart_audit::{
    leaf_hash, open, open_for, open_text, Checkpoint, KeyError, NoteError, SigningKey, VerifierKey,
};

// The example key and note of golang.org/x/mod/sumdb/note (its documentation and tests).
const GO_SIGNING_KEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

// The example of the C2SP signed-note specification.
const SPEC_VERIFIER_KEY: &str =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

fn test_key(name: &str) -> SigningKey {
    SigningKey::from_seed(name, [42; 32]).unwrap()
}

#[test]
fn go_key_texts_round_trip_and_sign_byte_for_byte() {
    let key = SigningKey::parse(GO_SIGNING_KEY).unwrap();
    assert_eq!(key.name(), "PeterNeumann");
    assert_eq!(key.key_hash(), 0xc74f20a3);
    assert_eq!(key.to_text(), GO_SIGNING_KEY);
    assert_eq!(key.verifier_key(), GO_VERIFIER_KEY);
    // Ed25519 is deterministic, so the signature must be Go's exactly.
    assert_eq!(key.sign_text(GO_TEXT).unwrap(), GO_NOTE);
    let verifier = VerifierKey::parse(GO_VERIFIER_KEY).unwrap();
    assert_eq!(verifier.to_text(), GO_VERIFIER_KEY);
    assert_eq!(open_text(GO_NOTE, &verifier).unwrap(), GO_TEXT);
}

#[test]
fn the_c2sp_example_note_opens() {
    let verifier = VerifierKey::parse(SPEC_VERIFIER_KEY).unwrap();
    assert_eq!(verifier.name(), "example.com/foo");
    assert_eq!(verifier.key_hash(), 0x530d903a);
    assert_eq!(
        open_text(SPEC_NOTE, &verifier).unwrap(),
        "This is an example message.\n"
    );
    // Not a checkpoint, and a distinct error says so.
    assert!(matches!(
        open(SPEC_NOTE, &verifier),
        Err(NoteError::Checkpoint(_))
    ));
}

#[test]
fn debug_of_a_signing_key_hides_the_secret() {
    let key = SigningKey::parse(GO_SIGNING_KEY).unwrap();
    let shown = format!("{key:?}");
    assert!(
        shown.contains("PeterNeumann") && shown.contains("c74f20a3"),
        "{shown}"
    );
    assert!(!shown.contains("AYEKFALV"), "{shown}");
    assert!(!shown.contains("810a"), "{shown}");
}

#[test]
fn checkpoints_sign_and_open() {
    let key = test_key("audit.example.com/log");
    let verifier = VerifierKey::parse(&key.verifier_key()).unwrap();
    let mut cp = Checkpoint::new("audit.example.com/log", 1234, leaf_hash(b"root"));
    cp.extensions.push("time 1700000000".into());
    let note = key.sign(&cp).unwrap();
    assert!(note.starts_with(&cp.to_body()));
    assert_eq!(open(&note, &verifier).unwrap(), cp);
    assert_eq!(
        open_for("audit.example.com/log", &note, &verifier).unwrap(),
        cp
    );
    assert_eq!(
        open_for("other.example.com/log", &note, &verifier),
        Err(NoteError::WrongOrigin {
            expected: "other.example.com/log".into(),
            found: "audit.example.com/log".into()
        })
    );
}

#[test]
fn a_cosigned_note_opens_with_either_key() {
    let log = test_key("log");
    let witness = SigningKey::from_seed("witness", [7; 32]).unwrap();
    let cp = Checkpoint::new("log", 3, leaf_hash(b"x"));
    let note = log.sign(&cp).unwrap();
    let extra = witness.sign(&cp).unwrap();
    let extra_line = extra.rsplit_once("\n\n").unwrap().1;
    let cosigned = format!("{note}{extra_line}");
    assert_eq!(open(&cosigned, &log.verifier()).unwrap(), cp);
    assert_eq!(open(&cosigned, &witness.verifier()).unwrap(), cp);
}

#[test]
fn opening_errors_are_distinct() {
    let key = test_key("log");
    let cp = Checkpoint::new("log", 9, leaf_hash(b"r"));
    let note = key.sign(&cp).unwrap();
    let verifier = key.verifier();

    // Another key, even under the same name: no signature by it.
    let other = SigningKey::from_seed("log", [1; 32]).unwrap().verifier();
    assert!(matches!(
        open(&note, &other),
        Err(NoteError::UnknownKey { .. })
    ));
    // The body changed after signing.
    let altered = note.replacen("\n9\n", "\n10\n", 1);
    assert_eq!(
        open(&altered, &verifier),
        Err(NoteError::BadSignature {
            key: format!("log+{:08x}", key.key_hash())
        })
    );
    // A signature byte changed.
    let (body, sig) = note.rsplit_once(' ').unwrap();
    let mut sig: Vec<u8> = sig.bytes().collect();
    sig[20] = if sig[20] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{body} {}", String::from_utf8(sig).unwrap());
    assert!(matches!(
        open(&tampered, &verifier),
        Err(NoteError::BadSignature { .. })
    ));
    // Malformed notes.
    for bad in [
        "no signature block\n".to_string(),
        note.trim_end().to_string(),
        note.replace('\u{2014}', "-"),
        format!("{note}\u{2014} log\n"),
        note.replace("\n\n", "\n\u{7}\n\n"),
        format!("{note}{}", note.rsplit_once("\n\n").unwrap().1),
    ] {
        assert!(
            matches!(open(&bad, &verifier), Err(NoteError::Malformed { .. })),
            "{bad:?} gave {:?}",
            open(&bad, &verifier)
        );
    }
}

#[test]
fn key_texts_are_checked() {
    assert_eq!(
        SigningKey::from_seed("has space", [0; 32]).unwrap_err(),
        KeyError::Name {
            name: "has space".into()
        }
    );
    assert!(matches!(
        SigningKey::from_seed("a+b", [0; 32]),
        Err(KeyError::Name { .. })
    ));
    assert!(matches!(
        SigningKey::from_seed("", [0; 32]),
        Err(KeyError::Name { .. })
    ));
    // A wrong key hash in the text.
    let wrong = GO_VERIFIER_KEY.replace("c74f20a3", "c74f20a4");
    assert_eq!(
        VerifierKey::parse(&wrong),
        Err(KeyError::KeyHash {
            written: "c74f20a4".into(),
            computed: "c74f20a3".into()
        })
    );
    // A renamed key no longer matches its hash.
    assert!(matches!(
        VerifierKey::parse(&GO_VERIFIER_KEY.replace("PeterNeumann", "PeterN")),
        Err(KeyError::KeyHash { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("nonsense"),
        Err(KeyError::Format { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+c74f20a3+AhpjZA=="),
        Err(KeyError::Algorithm { alg: 2 })
    ));
    // A signing key is not a verifier key, and the other way round.
    assert!(VerifierKey::parse(GO_SIGNING_KEY).is_err());
    assert!(SigningKey::parse(GO_VERIFIER_KEY).is_err());
}

#[test]
fn signing_refuses_checkpoints_that_would_forge_lines() {
    let key = test_key("log");
    let cp = Checkpoint::new("log\n99\nforged", 1, leaf_hash(b"r"));
    assert!(matches!(key.sign(&cp), Err(NoteError::Checkpoint(_))));
    assert!(key.sign_text("no newline").is_err());
    assert!(key.sign_text("blank at end\n\n").is_err());
}
