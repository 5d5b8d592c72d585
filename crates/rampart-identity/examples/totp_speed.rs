//! TOTP verification in process, on one thread: `rampart_identity::mfa::verify` (the codes of
//! three time steps computed and compared in constant time, the replay rule) against the
//! primitive it is made of, one HMAC-SHA-1 of an 8-byte counter, in alternating rounds of
//! the same run. A verification costs three HMACs plus a code's parsing, so about a third
//! of the primitive's rate is the ceiling.
//!
//! `cargo run --release -p rampart-identity --example totp_speed [-- ITERATIONS [ROUNDS]]`
//! (default 1,000,000 verifications per round, 5 rounds; the median round is reported).
//! Half of the codes typed are right (then refused as replays of the step before, so no
//! state changes), half wrong: both paths compute every step.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::hint::black_box;
use std::time::Instant;

use hmac::{Hmac, Mac as _};
use rampart_identity::mfa::{step_of, verify, TotpSecret};
use sha1::Sha1;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let secret = TotpSecret::generate().unwrap();
    let now = 1_780_000_000_i64;
    let step = step_of(now);
    // Typed codes: the current one (a replay, as `last` says it was used) and wrong ones.
    let typed: Vec<String> = (0..64)
        .map(|i| {
            if i % 2 == 0 {
                format!("{:06}", secret.code_at_step(step))
            } else {
                format!("{:06}", (i * 7919) % 1_000_000)
            }
        })
        .collect();
    let key = secret.as_bytes().to_vec();
    let (mut verifies, mut hmacs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        for i in 0..n {
            let code = &typed[(i % 64) as usize];
            black_box(verify(&secret, black_box(code), now, Some(step)));
        }
        verifies.push(n as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        for i in 0..n {
            let mut mac = Hmac::<Sha1>::new_from_slice(&key).unwrap();
            mac.update(&black_box(i).to_be_bytes());
            black_box(mac.finalize().into_bytes());
        }
        hmacs.push(n as f64 / start.elapsed().as_secs_f64());
    }
    let (v, h) = (median(verifies), median(hmacs));
    println!("TOTP verifications/s on one thread: {v:.0} (median of {rounds} rounds of {n})");
    println!("baseline, one HMAC-SHA-1 of a counter/s: {h:.0}");
    println!(
        "verification ÷ HMAC: {:.2} (three HMACs per verification: ceiling about 0.33)",
        v / h
    );
    println!(
        "target ≥ 100,000/s per core: {}",
        if v >= 100_000.0 { "met" } else { "not met" }
    );
}
