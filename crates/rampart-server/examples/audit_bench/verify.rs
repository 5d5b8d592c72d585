//! Offline verification of an export that is not in the page cache.
//!
//! The whole log is exported (`export_jsonl`, the format `rampart audit verify` reads) and
//! synced to disk. Before every round the file's pages are dropped from the page cache
//! (`posix_fadvise(POSIX_FADV_DONTNEED)` on the synced file, which drops clean pages) and
//! `fincore` (util-linux) reports how much of it is still resident; a round whose file was
//! not out of the cache fails the run. Three contenders alternate, each on a cold file:
//! - the product's verifier, `rampart_audit::export::verify_reader` on every core (what
//!   `rampart audit verify` runs): every body hashed into the tree, every checkpoint's
//!   signature checked;
//! - the baseline: SHA-256 of the whole file on one thread, once (the verifier's SHA-256
//!   implementation, `sha2`);
//! - the limit: reading the file, nothing else.

use std::io::{BufReader, Read as _};
use std::path::Path;
use std::time::Instant;

use sha2::Digest as _;

use crate::figures::{kps, median, rounds_k, Figure, Load};
use crate::Bench;

/// The goal for offline verification.
const GOAL: f64 = 1_000_000.0;

/// Drops `path` from the page cache; returns the bytes `fincore` still finds resident
/// (`None` when `fincore` is not there to ask).
#[cfg(target_os = "linux")]
fn evict(path: &Path) -> Option<u64> {
    let f = std::fs::File::open(path).unwrap();
    // Dirty pages are not dropped: make them clean first.
    f.sync_all().unwrap();
    rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    resident(path)
}

/// Elsewhere nothing is dropped, and the run says so (`fincore` is Linux's).
#[cfg(not(target_os = "linux"))]
fn evict(_path: &Path) -> Option<u64> {
    None
}

/// Bytes of `path` in the page cache, as `fincore --bytes` reports them.
fn resident(path: &Path) -> Option<u64> {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Exports the log, then verifies it cold against hashing and reading it cold.
pub async fn export_and_verify(b: &mut Bench) {
    let size = b.store.audit_size().await.unwrap();
    let path = b.dir.join("export.jsonl");
    let t = Instant::now();
    {
        let mut out =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        rampart_service::audit::export_jsonl(
            &b.store,
            "bench/audit",
            1,
            size,
            &mut out,
            &mut |_| {},
        )
        .await
        .unwrap();
        let f = out.into_inner().unwrap();
        f.sync_all().unwrap();
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "\nexport of {size} events: {:.1} s, {:.0} MB (synced)",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    let key = rampart_audit::SigningKey::from_seed("bench/audit", [7; 32]).unwrap();
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut rates: [Vec<f64>; 3] = [vec![], vec![], vec![]];
    let mut residents = Vec::new();
    let load = Load::start();
    eprintln!("| round | contender | resident before | time | events/s | MB/s |\n|---|---|---:|---:|---:|---:|");
    for r in 0..b.rounds {
        for j in 0..3 {
            let who = (r + j) % 3;
            let before = evict(&path);
            if let Some(res) = before {
                // A few pages may come back through readahead of a neighbour; anything
                // more and the round would not be cold.
                assert!(
                    res <= bytes / 1000,
                    "{res} bytes of the export stayed in the page cache"
                );
            }
            residents.push(before);
            let t = Instant::now();
            let name = match who {
                0 => {
                    let mut reader =
                        BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
                    let report = rampart_audit::export::verify_reader(
                        &mut reader,
                        key.verifier(),
                        None,
                        workers,
                        &mut |_| {},
                    )
                    .unwrap();
                    assert!(report.is_ok(), "{:?}", report.finding);
                    assert_eq!(report.checkpoints_verified, 1);
                    "verify"
                }
                1 => {
                    let mut f = std::fs::File::open(&path).unwrap();
                    let mut h = sha2::Sha256::new();
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let k = f.read(&mut buf).unwrap();
                        if k == 0 {
                            break;
                        }
                        h.update(&buf[..k]);
                    }
                    std::hint::black_box(h.finalize());
                    "SHA-256 of the file"
                }
                _ => {
                    let mut f = std::fs::File::open(&path).unwrap();
                    let mut buf = vec![0u8; 1 << 20];
                    while f.read(&mut buf).unwrap() > 0 {}
                    "read the file"
                }
            };
            let secs = t.elapsed().as_secs_f64();
            rates[who].push(size as f64 / secs);
            eprintln!(
                "| {} | {name} | {} | {secs:.2} s | {:.0} | {:.0} |",
                r + 1,
                before.map_or("?".into(), |b| format!("{b} B")),
                size as f64 / secs,
                bytes as f64 / 1e6 / secs
            );
        }
    }
    let load = load.end();
    let after = resident(&path);
    let _ = std::fs::remove_file(&path);
    let [verify, hash, read] = [median(&rates[0]), median(&rates[1]), median(&rates[2])];
    let mb = |rate: f64| rate / size as f64 * bytes as f64 / 1e6;
    let cache = match residents.iter().copied().max().flatten() {
        Some(worst) => format!(
            "file dropped from the page cache before each round (fadvise DONTNEED after fsync; fincore: at most {worst} B resident before a round, {} B after the last)",
            after.unwrap_or(0)
        ),
        None => "file dropped from the page cache before each round (fadvise DONTNEED after fsync; fincore unavailable to confirm)".into(),
    };
    Figure {
        figure: format!(
            "offline verify of a cold {size}-event export ({:.0} MB, {workers} workers): {cache}",
            bytes as f64 / 1e6
        ),
        target: "≥ 1,000,000 events/s".into(),
        value: format!(
            "{} = {:.0} MB/s ({:.2}× baseline; rounds {})",
            kps(verify),
            mb(verify),
            verify / hash,
            rounds_k(&rates[0])
        ),
        baseline: format!(
            "{} = {:.0} MB/s (SHA-256 of the file once, one thread, cold)",
            kps(hash),
            mb(hash)
        ),
        limit: format!(
            "{} = {:.0} MB/s (reading the file cold)",
            kps(read),
            mb(read)
        ),
        met: Some(verify >= GOAL),
        rounds: b.rounds,
        load,
    }
    .emit(&b.command);
}
