//! Key rotation and witness costs, in one run: the witness's decision per checkpoint
//! (`witness::judge`: the log's signature through its chain of keys, the consistency proof,
//! its own signature; no HTTP), and the offline verification of one export with and without
//! rotations, each checkpoint cosigned and checked against the witness key.
//!
//! `cargo run --release -p rampart-audit --example rotation_speed -- [N] [checkpoint-every] [rotate-every]`
//! (defaults: 200,000 events, a checkpoint every 1,000 events, a rotation every 20
//! checkpoints).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::time::{Duration, Instant};

use rampart_audit::keychain::{sign_rotation, KeyChain};
use rampart_audit::witness::{judge, AddCheckpoint, WitnessedLog};
use rampart_audit::{
    checkpoint_line, consistency_proof_from_leaves, empty_root, event_leaf, event_line, Checkpoint,
    ExportHeader, Frontier, Hash, SigningKey, Verifier,
};

const ORIGIN: &str = "audit.example.com/rampart";

fn event(seq: u64) -> String {
    format!(
        "{{\"seq\":{seq},\"stream\":\"access\",\"time\":{},\"actor\":\"user{}\",\"action\":\"http.inbound\",\"outcome\":\"allow\"}}",
        1_790_000_000_000u64 + seq,
        seq % 1_000
    )
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(ORIGIN, [seed; 32]).unwrap()
}

/// The export, the checkpoint notes by size, and the time the witness spent cosigning them.
fn build(n: u64, every: u64, rotate_every: Option<u64>) -> (Vec<u8>, Duration, u64) {
    let witness = SigningKey::from_seed("witness.example.org", [99; 32]).unwrap();
    let mut keys = vec![key(1)];
    let mut log = WitnessedLog {
        origin: ORIGIN.into(),
        chain: KeyChain::new(keys[0].verifier()),
        size: 0,
        root: empty_root(),
    };
    let header = ExportHeader {
        origin: ORIGIN.into(),
        from: 1,
        to: n,
        frontier: Frontier::new(),
    };
    let mut out = header.to_line().into_bytes();
    let mut leaves: Vec<Hash> = Vec::with_capacity(n as usize);
    let mut frontier = Frontier::new();
    let mut judging = Duration::ZERO;
    let mut checkpoints = 0u64;
    for seq in 1..=n {
        let e = event(seq);
        out.extend_from_slice(event_line(seq, &e).unwrap().as_bytes());
        let leaf = event_leaf(&e);
        leaves.push(leaf);
        frontier.push(leaf);
        if !seq.is_multiple_of(every) {
            continue;
        }
        checkpoints += 1;
        let body = Checkpoint::new(ORIGIN, seq, frontier.root());
        let note = match rotate_every {
            Some(r) if checkpoints.is_multiple_of(r) => {
                keys.push(key(keys.len() as u8 + 1));
                let (old, new) = (&keys[keys.len() - 2], &keys[keys.len() - 1]);
                sign_rotation(body, old, new).unwrap()
            }
            _ => keys.last().unwrap().sign(&body).unwrap(),
        };
        let proof = if log.size == 0 {
            Vec::new()
        } else {
            consistency_proof_from_leaves(&leaves, log.size, seq).unwrap()
        };
        let request = AddCheckpoint {
            old_size: log.size,
            proof,
            note: note.clone(),
        };
        let started = Instant::now();
        let (next, line) = judge(|_| Some(&log), &request, &witness).unwrap();
        judging += started.elapsed();
        log = next;
        out.extend_from_slice(checkpoint_line(&format!("{note}{line}")).as_bytes());
    }
    (out, judging, checkpoints)
}

fn verify(export: &[u8]) -> Duration {
    let witness = SigningKey::from_seed("witness.example.org", [99; 32]).unwrap();
    let started = Instant::now();
    let report = Verifier::new(key(1).verifier(), None)
        .with_witnesses(vec![witness.verifier()])
        .feed_all(export);
    let took = started.elapsed();
    assert!(report.is_ok(), "{:?}", report.finding);
    took
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let n = args.first().copied().unwrap_or(200_000);
    let every = args.get(1).copied().unwrap_or(1_000);
    let rotate_every = args.get(2).copied().unwrap_or(20);
    // Alternated twice, so neither configuration always runs first.
    let runs = [None, Some(rotate_every), None, Some(rotate_every)];
    for rotation in runs {
        let label = if rotation.is_some() {
            "rotations"
        } else {
            "no rotation"
        };
        let (export, judging, checkpoints) = build(n, every, rotation);
        let rotations = rotation.map_or(0, |r| checkpoints / r);
        let verified = (0..3).map(|_| verify(&export)).min().unwrap();
        println!(
            "{label}: {n} events, {checkpoints} cosigned checkpoints, {rotations} rotations: \
             witness decision {:.1} µs per checkpoint; verify {:.0} ms ({:.0} MB/s)",
            judging.as_secs_f64() * 1e6 / checkpoints as f64,
            verified.as_secs_f64() * 1e3,
            export.len() as f64 / verified.as_secs_f64() / 1e6,
        );
    }
}
