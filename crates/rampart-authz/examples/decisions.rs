//! In-process `can()` on issue #3's data set: build time, index memory, throughput on one
//! thread and per-decision latency, against the obvious implementation (walk up the
//! reports-to tree, scan the record's grants) on the same requests in the same run.
//!
//! `cargo run --release -p rampart-authz --example decisions [-- SCALE]` (SCALE divides users,
//! records and grants; 1, the default, is the full data set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rampart_authz::acl::{Actions, PrincipalKind};
use rampart_authz::dataset::{DatasetSpec, Request, ENTITY};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn main() {
    let scale: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let spec = if scale == 1 {
        DatasetSpec::issue()
    } else {
        DatasetSpec::scaled(scale)
    };
    println!(
        "data set: {} users, {} units, {} records, {} grants (scale 1/{scale})",
        spec.users(),
        spec.units,
        spec.records,
        spec.grants
    );
    let started = Instant::now();
    let acl = spec.build_acl().unwrap();
    let build = started.elapsed();
    let owners: Vec<u32> = spec.owners().collect();
    let heap = acl.heap_bytes();
    let tree_bytes = acl
        .hierarchy(rampart_authz::dataset::REPORTS)
        .unwrap()
        .heap_bytes();
    println!(
        "index built in {build:.2?}: {:.1} MiB in all; reports-to tree {:.1} bytes/user; grants {:.1} bytes/grant",
        heap as f64 / 1048576.0,
        tree_bytes as f64 / f64::from(spec.users()),
        (heap - tree_bytes) as f64 / spec.grants as f64,
    );

    // The requests: reps, first-line managers and directors reading and writing random
    // records; the same list for every engine.
    let requests = spec.requests(200_000, 99, &owners);
    let managers = spec.managers();

    // The obvious implementation: parent walks and a per-record grant list.
    let mut by_record: HashMap<u64, Vec<(rampart_authz::acl::Principal, Actions)>> = HashMap::new();
    for g in spec.grants() {
        by_record
            .entry(g.record)
            .or_default()
            .push((g.principal, g.actions));
    }
    let unit_parents = spec.unit_parents();
    let mut seats: HashMap<u32, Vec<u32>> = HashMap::new();
    for (u, n) in spec.seats() {
        seats.entry(u).or_default().push(n);
    }
    let mut groups: HashMap<u32, Vec<u32>> = HashMap::new();
    for (g, u) in spec.memberships() {
        groups.entry(u).or_default().push(g);
    }
    let walk = |parents: &[Option<u32>], top: u32, mut node: u32| loop {
        if node == top {
            return true;
        }
        match parents[node as usize] {
            Some(p) => node = p,
            None => return false,
        }
    };
    let obvious = |r: &Request| -> bool {
        if r.record.owner.is_some_and(|o| walk(&managers, r.user, o)) {
            return true;
        }
        by_record.get(&r.record.num).is_some_and(|gs| {
            gs.iter().any(|(p, a)| {
                a.contains(r.action)
                    && match p.kind() {
                        PrincipalKind::User(u) => u == r.user,
                        PrincipalKind::Group(g) => {
                            groups.get(&r.user).is_some_and(|l| l.contains(&g))
                        }
                        PrincipalKind::Node(_, n) => seats
                            .get(&r.user)
                            .is_some_and(|l| l.iter().any(|&m| walk(&unit_parents, n, m))),
                    }
            })
        })
    };

    // Same answers first.
    let allows = requests
        .iter()
        .filter(|r| acl.can(r.user, r.action, ENTITY, r.record))
        .count();
    let reference = requests.iter().filter(|r| obvious(r)).count();
    assert_eq!(
        allows, reference,
        "the index and the obvious implementation disagree"
    );
    for r in &requests {
        assert_eq!(acl.can(r.user, r.action, ENTITY, r.record), obvious(r));
    }
    println!(
        "{} requests, {allows} allowed (both engines agree on every one)",
        requests.len()
    );

    let throughput = |f: &dyn Fn(&Request) -> bool| {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let n = requests.iter().filter(|r| f(black_box(r))).count();
            black_box(n);
            best = best.min(t.elapsed().as_secs_f64());
        }
        requests.len() as f64 / best
    };
    let latencies = |f: &dyn Fn(&Request) -> bool| {
        let mut out: Vec<Duration> = requests
            .iter()
            .map(|r| {
                let t = Instant::now();
                black_box(f(black_box(r)));
                t.elapsed()
            })
            .collect();
        out.sort_unstable();
        out
    };
    let timer: Vec<Duration> = {
        let mut v: Vec<Duration> = (0..requests.len())
            .map(|_| {
                let t = Instant::now();
                t.elapsed()
            })
            .collect();
        v.sort_unstable();
        v
    };
    let index = |r: &Request| acl.can(r.user, r.action, ENTITY, r.record);
    let rows = [
        ("rampart index", throughput(&index), latencies(&index)),
        (
            "obvious (parent walks)",
            throughput(&obvious),
            latencies(&obvious),
        ),
    ];
    println!();
    println!("| engine | decisions/s (1 thread) | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for (name, rate, lat) in &rows {
        println!(
            "| {name} | {rate:.0} | {:?} | {:?} |",
            percentile(lat, 0.5),
            percentile(lat, 0.99)
        );
    }
    println!(
        "\nratio index / obvious throughput: {:.1}; timer overhead per measurement (empty Instant pair): p50 {:?}",
        rows[0].1 / rows[1].1,
        percentile(&timer, 0.5)
    );
}
