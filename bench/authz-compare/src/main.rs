//! Issues #3 and #21: the same row-level decisions taken by Rampart's index and by its
//! peers as their users model them — `cedar-policy` (entity parents, one store or a slice
//! per request), `casbin` (role hierarchies) and SpiceDB (its schema language, through its
//! gRPC API) — on the same seeded data set and the same requests, in one run.
//!
//! `cargo run --release --manifest-path bench/authz-compare/Cargo.toml -- [SCALE] [ENGINES]
//! [--requests N] [--rounds R] [--json]`
//!
//! SCALE divides the data set (100,000 users, 10,000,000 records, 1,000,000 grants;
//! `1` is all of it); ENGINES is a comma list of `cedar` (one entity store), `cedar-slice`
//! (entities per request), `casbin`, `spicedb` (default `cedar-slice,casbin`). The requests
//! come from `DatasetSpec::mixed_requests` (about half allowed). Every engine must agree
//! with Rampart on every request it is timed on before anything is timed. Each engine runs
//! R rounds (default 3), each a pass over the requests followed by Rampart's passes over
//! the same requests; the figures are the medians. `--json` prints one JSON line per
//! figure on stdout for `scripts/bench peers` (the table goes to stderr).
//! How each peer is modelled is at the top of its module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

mod casbin_model;
mod cedar;
mod grants;
mod report;
mod spicedb;

use std::hint::black_box;
use std::time::Instant;

use rampart_authz::acl::Acl;
use rampart_authz::dataset::{DatasetSpec, Request, ENTITY};

use report::{Figures, Rounds};

struct Args {
    scale: u32,
    engines: String,
    requests: usize,
    rounds: usize,
    json: bool,
}

fn args() -> Args {
    let mut a = Args {
        scale: 100,
        engines: "cedar-slice,casbin".to_owned(),
        requests: 20_000,
        rounds: 3,
        json: false,
    };
    let mut positional = 0;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--requests" => a.requests = it.next().and_then(|s| s.parse().ok()).unwrap(),
            "--rounds" => a.rounds = it.next().and_then(|s| s.parse().ok()).unwrap(),
            "--json" => a.json = true,
            _ if positional == 0 => {
                a.scale = arg.parse().expect("SCALE is a number");
                positional += 1;
            }
            _ => a.engines = arg,
        }
    }
    a.rounds = a.rounds.max(1);
    a
}

/// Decisions per second of `f` over `requests`, passes repeated for at least `min` seconds.
pub fn rate(requests: &[Request], min: f64, f: &dyn Fn(&Request) -> bool) -> f64 {
    let t = Instant::now();
    let mut n = 0usize;
    loop {
        black_box(requests.iter().filter(|r| f(black_box(r))).count());
        n += requests.len();
        let s = t.elapsed().as_secs_f64();
        if s >= min {
            return n as f64 / s;
        }
    }
}

/// Rampart's side of every comparison.
pub struct Rampart {
    pub acl: Acl,
    pub build_s: f64,
}

impl Rampart {
    pub fn can(&self, r: &Request) -> bool {
        self.acl.can(r.user, r.action, ENTITY, r.record)
    }

    /// One timed pass of Rampart over `requests` (repeated to at least 0.2 s).
    pub fn rate(&self, requests: &[Request]) -> f64 {
        rate(requests, 0.2, &|r| self.can(r))
    }
}

fn main() {
    let a = args();
    let spec = DatasetSpec::scaled(a.scale);
    let scale = if a.scale <= 1 {
        "full data set".to_owned()
    } else {
        format!("1/{} data set", a.scale)
    };
    eprintln!(
        "{scale}: {} users, {} units, {} groups, {} records, {} grants",
        spec.users(),
        spec.units,
        spec.groups,
        spec.records,
        spec.grants
    );
    let owners: Vec<u32> = spec.owners().collect();
    let requests = spec.mixed_requests(a.requests, 99, &owners);
    let started = Instant::now();
    let rampart = Rampart {
        acl: spec.build_acl().unwrap(),
        build_s: 0.0,
    };
    let rampart = Rampart {
        build_s: started.elapsed().as_secs_f64(),
        ..rampart
    };
    let expected: Vec<bool> = requests.iter().map(|r| rampart.can(r)).collect();
    let allowed = expected.iter().filter(|&&x| x).count();
    eprintln!(
        "rampart index built in {:.2} s; {} requests, {allowed} allowed ({:.0} %)",
        rampart.build_s,
        requests.len(),
        100.0 * allowed as f64 / requests.len() as f64
    );
    let mut figures = Figures::new(&spec, &scale, a.scale, requests.len(), allowed);

    let check = |name: &str, f: &dyn Fn(&Request) -> bool| {
        for (r, want) in requests.iter().zip(&expected) {
            assert_eq!(f(r), *want, "{name} disagrees with rampart on {r:?}");
        }
        eprintln!(
            "{name}: agrees with rampart on all {} requests",
            requests.len()
        );
    };
    let alternate = |name: &str, f: &dyn Fn(&Request) -> bool| {
        let mut rounds = Rounds::start();
        for _ in 0..a.rounds {
            let theirs = rate(&requests, 0.0, f);
            let ours = rampart.rate(&requests);
            eprintln!("  {name}: {theirs:.0}/s, rampart {ours:.0}/s");
            rounds.push(theirs, ours);
        }
        rounds.finish()
    };

    for engine in a.engines.split(',') {
        let started = Instant::now();
        match engine {
            "cedar" => {
                let m = cedar::Store::build(&spec, &owners);
                let build = started.elapsed().as_secs_f64();
                eprintln!("cedar entity store built in {build:.2} s");
                let f = |r: &Request| m.is_authorized(r);
                check("cedar-policy (one entity store)", &f);
                let rounds = alternate("cedar", &f);
                figures.engine("cedar-policy 4, one entity store", build, &rampart, rounds);
            }
            "cedar-slice" => {
                let m = cedar::Slice::build(&spec);
                let build = started.elapsed().as_secs_f64();
                eprintln!("cedar principals built in {build:.2} s");
                let f = |r: &Request| m.is_authorized(r);
                check("cedar-policy (entities per request)", &f);
                let rounds = alternate("cedar-slice", &f);
                figures.engine(
                    "cedar-policy 4, user and record entities per request",
                    build,
                    &rampart,
                    rounds,
                );
            }
            "casbin" => {
                let m = casbin_model::Model::build(&spec);
                let build = started.elapsed().as_secs_f64();
                eprintln!("casbin enforcer built in {build:.2} s");
                let f = |r: &Request| m.is_authorized(r);
                check("casbin", &f);
                let rounds = alternate("casbin", &f);
                figures.engine(
                    "casbin 2, role hierarchies (g, g2)",
                    build,
                    &rampart,
                    rounds,
                );
            }
            "spicedb" => spicedb::run(
                &spec,
                &owners,
                &requests,
                &expected,
                &rampart,
                a.rounds,
                &mut figures,
            ),
            other => panic!("unknown engine {other}"),
        }
    }
    figures.print(a.json);
}
