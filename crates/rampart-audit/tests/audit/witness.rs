//! The witness's decision: it cosigns a checkpoint only when it extends the last one it
//! cosigned for that log, signed by the log's current key or a valid rotation; a refusal
//! changes nothing. A property test checks it against the obvious reference: the new tree's
//! leaves start with the cosigned tree's leaves.

use proptest::prelude::*;
use rampart_audit::keychain::{sign_rotation, KeyChain};
use rampart_audit::witness::{judge, AddCheckpoint, Refusal, WitnessedLog};
use rampart_audit::{
    consistency_proof_from_leaves, empty_root, leaf_hash, open, Checkpoint, Frontier, Hash,
    SigningKey,
};

const ORIGIN: &str = "audit.example.com/rampart";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(ORIGIN, [seed; 32]).unwrap()
}

fn witness_key() -> SigningKey {
    SigningKey::from_seed("witness.example.org", [42; 32]).unwrap()
}

fn leaves(n: u64, fork_at: Option<u64>) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            let tag = if Some(i) == fork_at {
                "forked"
            } else {
                "event"
            };
            leaf_hash(format!("{tag} {i}").as_bytes())
        })
        .collect()
}

fn root(leaves: &[Hash]) -> Hash {
    let mut f = Frontier::new();
    for l in leaves {
        f.push(*l);
    }
    f.root()
}

fn fresh(first: &SigningKey) -> WitnessedLog {
    WitnessedLog {
        origin: ORIGIN.into(),
        chain: KeyChain::new(first.verifier()),
        size: 0,
        root: empty_root(),
    }
}

/// A request for the checkpoint of the first `size` of `leaves`, from the witness's size.
fn request(log: &WitnessedLog, leaves: &[Hash], size: u64, note: String) -> AddCheckpoint {
    let proof = if log.size == 0 || log.size == size || log.size > size {
        Vec::new()
    } else {
        consistency_proof_from_leaves(leaves, log.size, size).unwrap()
    };
    AddCheckpoint {
        old_size: log.size,
        proof,
        note,
    }
}

fn signed(k: &SigningKey, leaves: &[Hash], size: u64) -> String {
    k.sign(&Checkpoint::new(
        ORIGIN,
        size,
        root(&leaves[..size as usize]),
    ))
    .unwrap()
}

fn submit(log: &WitnessedLog, req: &AddCheckpoint) -> Result<(WitnessedLog, String), Refusal> {
    judge(|o| (o == log.origin).then_some(log), req, &witness_key())
}

#[test]
fn a_growing_log_is_cosigned_and_the_cosignature_opens_with_the_witness_key() {
    let k0 = key(1);
    let all = leaves(40, None);
    let mut log = fresh(&k0);
    for size in [3, 3, 17, 40] {
        let note = signed(&k0, &all, size);
        let req = request(&log, &all, size, note.clone());
        // The request survives its text form.
        assert_eq!(AddCheckpoint::parse(&req.to_text()).unwrap(), req);
        let (next, line) = submit(&log, &req).unwrap();
        let cosigned = format!("{note}{line}");
        assert_eq!(
            open(&cosigned, &witness_key().verifier()).unwrap().size,
            size
        );
        assert_eq!(open(&cosigned, &k0.verifier()).unwrap().size, size);
        assert_eq!(next.size, size);
        log = next;
    }
}

#[test]
fn forks_smaller_sizes_stale_sizes_and_foreign_keys_are_refused() {
    let (k0, k1) = (key(1), key(2));
    let all = leaves(20, None);
    let forked = leaves(20, Some(4));
    let (log, _) = submit(
        &fresh(&k0),
        &request(&fresh(&k0), &all, 10, signed(&k0, &all, 10)),
    )
    .unwrap();
    // The same size with another root.
    let same = request(&log, &forked, 10, signed(&k0, &forked, 10));
    assert!(submit(&log, &same).unwrap_err().is_fork());
    // A larger tree that rewrote an event the witness has seen.
    let grown = request(&log, &forked, 20, signed(&k0, &forked, 20));
    assert!(submit(&log, &grown).unwrap_err().is_fork());
    // A real extension with a proof from the wrong size: the witness names its own.
    let mut stale = request(&log, &all, 20, signed(&k0, &all, 20));
    stale.old_size = 5;
    assert_eq!(
        submit(&log, &stale).unwrap_err(),
        Refusal::Conflict {
            size: 10,
            claimed: 5
        }
    );
    // Smaller than cosigned.
    let smaller = AddCheckpoint {
        old_size: 10,
        proof: Vec::new(),
        note: signed(&k0, &all, 6),
    };
    assert!(matches!(
        submit(&log, &smaller),
        Err(Refusal::Smaller {
            size: 6,
            cosigned: 10
        })
    ));
    // Signed by a key the log never introduced.
    let foreign = request(&log, &all, 20, signed(&k1, &all, 20));
    assert!(matches!(submit(&log, &foreign), Err(Refusal::Signature(_))));
    // Another log.
    let other = SigningKey::from_seed("other.example/log", [5; 32]).unwrap();
    let note = other
        .sign(&Checkpoint::new("other.example/log", 20, root(&all)))
        .unwrap();
    assert!(matches!(
        submit(&log, &request(&log, &all, 20, note)),
        Err(Refusal::UnknownLog { .. })
    ));
    // Garbage.
    assert!(matches!(
        AddCheckpoint::parse("old x\n\nnote"),
        Err(Refusal::Malformed(_))
    ));
}

#[test]
fn a_rotation_moves_the_witness_to_the_new_key_and_retires_the_old() {
    let (k0, k1) = (key(1), key(2));
    let all = leaves(30, None);
    let log = fresh(&k0);
    let (log, _) = submit(&log, &request(&log, &all, 8, signed(&k0, &all, 8))).unwrap();
    let rotation = sign_rotation(Checkpoint::new(ORIGIN, 12, root(&all[..12])), &k0, &k1).unwrap();
    let (log, _) = submit(&log, &request(&log, &all, 12, rotation)).unwrap();
    assert_eq!(log.chain.current(), &k1.verifier());
    // The old key is retired: its checkpoint of a consistent tree is refused.
    let by_old = request(&log, &all, 20, signed(&k0, &all, 20));
    assert!(matches!(submit(&log, &by_old), Err(Refusal::Signature(_))));
    let by_new = request(&log, &all, 20, signed(&k1, &all, 20));
    assert_eq!(submit(&log, &by_new).unwrap().0.size, 20);
}

proptest! {
    /// Against the reference: a request is cosigned exactly when its tree's leaves start
    /// with the leaves of the tree last cosigned (and it is not smaller); every refusal
    /// leaves the witness where it was.
    #[test]
    fn the_witness_cosigns_exactly_the_extensions_of_what_it_cosigned(
        steps in proptest::collection::vec((1u64..48, proptest::option::of(0u64..48)), 1..12)
    ) {
        let k0 = key(1);
        let mut log = fresh(&k0);
        let mut seen: Vec<Hash> = Vec::new();
        for (size, fork_at) in steps {
            let tree = leaves(48, fork_at);
            let tree = &tree[..size as usize];
            let reference = size as usize >= seen.len() && tree[..seen.len()] == seen[..];
            let req = request(&log, tree, size, signed(&k0, tree, size));
            match submit(&log, &req) {
                Ok((next, _)) => {
                    prop_assert!(reference, "cosigned a tree that does not extend");
                    seen = tree.to_vec();
                    log = next;
                }
                Err(refusal) => {
                    prop_assert!(!reference, "refused an extension: {refusal}");
                    prop_assert_eq!(log.size, seen.len() as u64);
                }
            }
        }
    }
}
