//! Proof serving speed of `TreeCache` at a large size: the in-memory work per inclusion and
//! consistency proof (listing tiles, checking fetched tiles against their roots, building
//! the proof), with tile reads simulated by copying from a vector of all leaf hashes.
//!
//! `cargo run --release -p rampart-audit --example proof_speed -- [N] [requests]`
//! (defaults: 10,000,000 leaves, 20,000 requests of each kind).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use rampart_audit::{
    leaf_hash, verify_consistency, verify_inclusion, Hash, TreeCache, DEFAULT_TILE_HEIGHT,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A small deterministic generator, so runs are comparable.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn fetch(leaves: &[Hash], k: u32, wanted: &[u64]) -> HashMap<u64, Vec<Hash>> {
    wanted
        .iter()
        .map(|&t| {
            let start = (t as usize) << k;
            let end = (start + (1 << k)).min(leaves.len());
            (t, leaves[start..end].to_vec())
        })
        .collect()
}

fn percentiles(name: &str, mut times: Vec<Duration>, hashes: usize) {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{name}: p50 {:?}, p99 {:?}, max {:?} (longest proof {hashes} hashes)",
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(10_000_000, |a| a.parse().unwrap());
    let requests: usize = args.next().map_or(20_000, |a| a.parse().unwrap());
    let k = DEFAULT_TILE_HEIGHT;

    let started = Instant::now();
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let hashing = started.elapsed();
    let started = Instant::now();
    let mut cache = TreeCache::new(k).unwrap();
    for leaf in &leaves {
        cache.push(*leaf);
    }
    println!(
        "{n} leaves: hashed in {:.2?}, pushed into the cache in {:.2?} ({:.0} ns a push); {} tile roots kept",
        hashing,
        started.elapsed(),
        started.elapsed().as_nanos() as f64 / n as f64,
        cache.tile_roots().len()
    );
    let started = Instant::now();
    let restored = TreeCache::restore(k, n, cache.tile_roots().to_vec(), cache.tail()).unwrap();
    println!("restore from tile roots: {:.2?}", started.elapsed());
    assert_eq!(restored.root(), cache.root());

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut times = Vec::with_capacity(requests);
    let mut longest = 0;
    let root = cache.root();
    for _ in 0..requests {
        let index = rng.below(n);
        let wanted = cache.tiles_for_inclusion(index, n).unwrap();
        let tiles = fetch(&leaves, k, &wanted);
        let started = Instant::now();
        let wanted_again = cache.tiles_for_inclusion(index, n).unwrap();
        let proof = cache.inclusion_proof(index, n, &tiles).unwrap();
        times.push(started.elapsed());
        assert_eq!(wanted, wanted_again);
        longest = longest.max(proof.len());
        verify_inclusion(&leaves[index as usize], index, n, &proof, &root).unwrap();
    }
    percentiles("inclusion proof at the current size", times, longest);

    let mut times = Vec::with_capacity(requests);
    let mut longest = 0;
    for _ in 0..requests {
        let new = 1 + rng.below(n);
        let old = 1 + rng.below(new);
        let wanted = cache.tiles_for_consistency(old, new).unwrap();
        let tiles = fetch(&leaves, k, &wanted);
        let started = Instant::now();
        let _ = cache.tiles_for_consistency(old, new).unwrap();
        let proof = cache.consistency_proof(old, new, &tiles).unwrap();
        times.push(started.elapsed());
        longest = longest.max(proof.len());
        if times.len() % 100 == 0 {
            let r1 = cache
                .root_at(old, &fetch(&leaves, k, &cache.tiles_for_root(old).unwrap()))
                .unwrap();
            let r2 = cache
                .root_at(new, &fetch(&leaves, k, &cache.tiles_for_root(new).unwrap()))
                .unwrap();
            verify_consistency(old, new, &r1, &r2, &proof).unwrap();
        }
    }
    percentiles("consistency proof between historic sizes", times, longest);
}
