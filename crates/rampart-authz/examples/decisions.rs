//! In-process `can()` on issue #3's data set: build time, index memory, throughput on one
//! thread and per-decision latency, against the obvious implementation (walk up the
//! reports-to tree, scan the record's grants) on the same requests in the same run.
//!
//! `cargo run --release -p rampart-authz --example decisions [-- SCALE [ROUNDS]]` (SCALE divides
//! users, records and grants; 1, the default, is the full data set; ROUNDS, default 5, the
//! alternating rounds of the two engines).
//!
//! The requests are a realistic mix: reps, first-line managers and directors reading and
//! writing random records, drawn until a third of them are allowed (random records alone are
//! 98 % denials, which flatters any engine that answers "no" fast). With `BENCH_JSON=1` the
//! figures are also printed as `scripts/bench` result lines on stdout and the report goes to
//! stderr.

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
    let mut args = std::env::args().skip(1);
    let scale: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let json = std::env::var_os("BENCH_JSON").is_some();
    // The report goes to stdout, or to stderr when stdout carries the result lines.
    macro_rules! say {
        ($($t:tt)*) => { if json { eprintln!($($t)*) } else { println!($($t)*) } };
    }
    let spec = if scale == 1 {
        DatasetSpec::issue()
    } else {
        DatasetSpec::scaled(scale)
    };
    say!(
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
    say!(
        "index built in {build:.2?}: {:.1} MiB in all; reports-to tree {:.1} bytes/user; grants {:.1} bytes/grant",
        heap as f64 / 1048576.0,
        tree_bytes as f64 / f64::from(spec.users()),
        (heap - tree_bytes) as f64 / spec.grants as f64,
    );

    // The requests: reps, first-line managers and directors reading and writing random
    // records, drawn until a third of those kept are allowed; the same list for every engine.
    let requests = {
        let (mut allowed, mut denied) = (Vec::new(), Vec::new());
        let mut seed = 99;
        while allowed.len() < REQUESTS / 3 {
            for r in spec.requests(REQUESTS, seed, &owners) {
                if acl.can(r.user, r.action, ENTITY, r.record) {
                    allowed.push(r);
                } else if denied.len() < REQUESTS - REQUESTS / 3 {
                    denied.push(r);
                }
            }
            seed += 1;
        }
        allowed.truncate(REQUESTS / 3);
        // Interleave so that neither engine sees all the allows, then all the denials.
        let mut mixed = Vec::with_capacity(REQUESTS);
        let mut d = denied.into_iter();
        for a in allowed {
            mixed.push(a);
            mixed.extend(d.by_ref().take(2));
        }
        mixed.extend(d);
        mixed
    };
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
    say!(
        "{} requests, {allows} allowed (both engines agree on every one)",
        requests.len()
    );

    // One pass over the requests, in decisions per second.
    let pass = |f: &dyn Fn(&Request) -> bool| {
        let t = Instant::now();
        let n = requests.iter().filter(|r| f(black_box(r))).count();
        black_box(n);
        requests.len() as f64 / t.elapsed().as_secs_f64()
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
    // Alternating rounds, the median of each engine's.
    let load_before = load1();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(pass(&index));
        theirs.push(pass(&obvious));
    }
    let rows = [
        ("rampart index", median(&mut ours), latencies(&index)),
        (
            "obvious (parent walks)",
            median(&mut theirs),
            latencies(&obvious),
        ),
    ];
    let load = format!("{load_before}–{}", load1());
    say!();
    say!("| engine | decisions/s (1 thread, median of {rounds} rounds) | p50 | p99 |");
    say!("|---|---:|---:|---:|");
    for (name, rate, lat) in &rows {
        say!(
            "| {name} | {rate:.0} | {:?} | {:?} |",
            percentile(lat, 0.5),
            percentile(lat, 0.99)
        );
    }
    say!(
        "\nratio index / obvious throughput: {:.1}; timer overhead per measurement (empty Instant pair): p50 {:?}",
        rows[0].1 / rows[1].1,
        percentile(&timer, 0.5)
    );
    if json {
        let (rate, lat) = (rows[0].1, &rows[0].2);
        let (p50, p99) = (percentile(lat, 0.5), percentile(lat, 0.99));
        let users = f64::from(spec.users());
        let command =
            format!("cargo run --release -p rampart-authz --example decisions -- {scale}");
        let scale_text = if scale == 1 {
            "full data set".to_owned()
        } else {
            format!("1/{scale} of the data set")
        };
        let line = |figure: String, target: &str, value: String, baseline: String, met: bool| {
            serde_json::json!({
                "capability": "Authorization — decisions in process",
                "figure": figure, "target": target, "value": value, "baseline": baseline,
                "limit": "—", "met": met, "rounds": rounds, "load": load, "command": command,
            })
        };
        println!(
            "{}",
            line(
                format!("`can()` on one thread, {scale_text}, a third allowed"),
                "≥ 1 M decisions/s, p50 ≤ 1 µs, p99 ≤ 5 µs",
                format!("{:.2} M/s, p50 {p50:.0?}, p99 {p99:.1?}", rate / 1e6),
                format!(
                    "parent walks and per-record grant lists: {:.2} M/s (index ÷ it {:.2}×)",
                    rows[1].1 / 1e6,
                    rate / rows[1].1
                ),
                rate >= 1e6 && p50 <= Duration::from_micros(1) && p99 <= Duration::from_micros(5),
            )
        );
        let per_user = tree_bytes as f64 / users;
        let per_grant = (heap - tree_bytes) as f64 / spec.grants as f64;
        println!("{}", line(
            format!("index memory, {scale_text}"),
            "≤ 64 bytes per user, ≤ 16 bytes per grant",
            format!("{per_user:.1} B/user, {per_grant:.1} B/grant ({:.1} MiB), built in {build:.0?}", heap as f64 / 1048576.0),
            "—".to_owned(),
            per_user <= 64.0 && per_grant <= 16.0,
        ));
    }
}

/// How many requests each engine answers per round.
const REQUESTS: usize = 200_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The 1-minute load average, as `/proc/loadavg` says it ("?" where there is none).
fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
