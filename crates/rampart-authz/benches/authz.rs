//! The hierarchy index against the obvious parent walk, on the issue #3 shape: 100,000
//! users in a reports-to tree of depth 8.
//!
//! `cargo bench -p rampart-authz --bench authz`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rampart_authz::hierarchy::Hierarchy;

/// A deterministic tree: level sizes grow until 100,000 nodes at depth 8.
fn tree() -> Vec<Option<u32>> {
    let sizes = [1usize, 10, 60, 300, 1_200, 5_000, 18_000, 75_429];
    let mut parents: Vec<Option<u32>> = Vec::with_capacity(100_000);
    let mut level_start = 0usize;
    for (depth, &size) in sizes.iter().enumerate() {
        let start = parents.len();
        for i in 0..size {
            if depth == 0 {
                parents.push(None);
            } else {
                let prev_size = sizes[depth - 1];
                parents.push(Some((level_start + (i * 7919) % prev_size) as u32));
            }
        }
        level_start = start;
    }
    assert_eq!(parents.len(), 100_000);
    parents
}

fn walk(parents: &[Option<u32>], ancestor: u32, node: u32) -> bool {
    let mut cur = Some(node);
    while let Some(c) = cur {
        if c == ancestor {
            return true;
        }
        cur = parents[c as usize];
    }
    false
}

fn hierarchy(c: &mut Criterion) {
    let parents = tree();
    let h = Hierarchy::from_parents(&parents).unwrap();
    // Pairs (manager, leaf): a mix of hits and misses.
    let pairs: Vec<(u32, u32)> = (0..1024u32)
        .map(|i| ((i * 37) % 1_571, 24_571 + (i * 65_537) % 75_429))
        .collect();
    let mut group = c.benchmark_group("subtree_test_1024_pairs");
    group.bench_function("interval_index", |b| {
        b.iter(|| {
            pairs
                .iter()
                .filter(|&&(a, n)| h.contains(a, n).unwrap())
                .count()
        })
    });
    group.bench_function("parent_walk_reference", |b| {
        b.iter(|| pairs.iter().filter(|&&(a, n)| walk(&parents, a, n)).count())
    });
    group.finish();
    let mut moves = c.benchmark_group("move_subtree_100k_users");
    moves.sample_size(20);
    moves.bench_function("set_parent_and_relabel", |b| {
        b.iter_batched(
            || h.clone(),
            |mut h| h.set_parent(5, Some(7)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    moves.finish();
}

criterion_group!(benches, hierarchy);
criterion_main!(benches);
