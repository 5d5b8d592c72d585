//! Offline verification speed: writes an export of N synthetic events to a temporary file,
//! then times `Verifier` over it against `sha256sum` of the same file, in the same run.
//!
//! `cargo run --release -p rampart-audit --example verify_speed -- [N] [checkpoint-every]`
//! (defaults: 1,000,000 events, a checkpoint every 100,000). The figure is for
//! N = 10,000,000 (about 3.6 GB of export).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use rampart_audit::{
    checkpoint_line, event_leaf, event_line, Checkpoint, ExportHeader, Frontier, SigningKey,
    Verifier,
};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::time::Instant;

const ORIGIN: &str = "audit.example.com/rampart";

/// A realistic `access` event of about 300 bytes (the export line is about 400).
fn event(seq: u64) -> String {
    let ms = 1_790_000_000_000u64 + seq * 3;
    let user = seq.wrapping_mul(2_654_435_761) % 100_000;
    format!(
        concat!(
            "{{\"seq\":{seq},\"stream\":\"access\",\"time\":{ms},\"node\":\"node-{node}\",",
            "\"request_id\":\"0193a{seq:027x}\",",
            "\"principal\":{{\"id\":\"0193b{user:027x}\",\"name\":\"user{user}\"}},",
            "\"application\":\"payroll\",\"target\":\"/payroll/employees/{target}\",",
            "\"decision\":\"allow\",\"duration_ms\":{dur}}}"
        ),
        seq = seq,
        ms = ms,
        node = seq % 3,
        user = user,
        target = seq % 50_000,
        dur = seq % 97,
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let every: u64 = args.next().map_or(100_000, |a| a.parse().unwrap());
    println!(
        "SHA-NI available: {}",
        std::arch::is_x86_feature_detected!("sha")
    );

    let key = SigningKey::from_seed(ORIGIN, [7; 32]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let started = Instant::now();
    {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&path).unwrap());
        let header = ExportHeader {
            origin: ORIGIN.into(),
            from: 1,
            to: n,
            frontier: Frontier::new(),
        };
        out.write_all(header.to_line().as_bytes()).unwrap();
        let mut frontier = Frontier::new();
        for seq in 1..=n {
            let e = event(seq);
            frontier.push(event_leaf(&e));
            out.write_all(event_line(seq, &e).unwrap().as_bytes())
                .unwrap();
            if seq % every == 0 {
                let note = key
                    .sign(&Checkpoint::new(ORIGIN, seq, frontier.root()))
                    .unwrap();
                out.write_all(checkpoint_line(&note).as_bytes()).unwrap();
            }
        }
        out.flush().unwrap();
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "wrote {n} events ({:.2} GB, {:.0} bytes a line) in {:.1} s",
        bytes as f64 / 1e9,
        bytes as f64 / n as f64,
        started.elapsed().as_secs_f64()
    );

    // sha256sum of the same file (it is in the page cache now, as it will be for the verifier).
    let started = Instant::now();
    let output = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .expect("sha256sum runs");
    let sha256sum_secs = started.elapsed().as_secs_f64();
    assert!(output.status.success());

    // The sha2 crate over the same file, to show which SHA-256 implementation is compiled in.
    let started = Instant::now();
    let mut hasher = Sha256::new();
    read_chunks(&path, |chunk| hasher.update(chunk));
    let _ = hasher.finalize();
    let sha2_secs = started.elapsed().as_secs_f64();

    // The verifier.
    let started = Instant::now();
    let mut verifier = Verifier::new(key.verifier(), Some(ORIGIN.into()));
    let mut reader = BufReader::with_capacity(1 << 20, File::open(&path).unwrap());
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        if verifier.feed(&line).is_err() {
            break;
        }
    }
    let report = verifier.finish();
    let verify_secs = started.elapsed().as_secs_f64();
    assert!(report.is_ok(), "{:?}", report.finding);
    assert_eq!(report.events, n);

    let mb = bytes as f64 / 1e6;
    println!(
        "verifier:  {:.2} s, {:.0} events/s, {:.0} MB/s ({} checkpoints verified, {} events uncovered)",
        verify_secs,
        n as f64 / verify_secs,
        mb / verify_secs,
        report.checkpoints_verified,
        report.uncovered_events
    );
    println!(
        "sha256sum: {:.2} s, {:.0} MB/s",
        sha256sum_secs,
        mb / sha256sum_secs
    );
    println!(
        "sha2 crate over the file: {:.2} s, {:.0} MB/s",
        sha2_secs,
        mb / sha2_secs
    );
    println!(
        "ratio verifier / sha256sum time: {:.2} (verifier throughput is {:.0}% of sha256sum's)",
        verify_secs / sha256sum_secs,
        100.0 * sha256sum_secs / verify_secs
    );
}

/// Calls `f` with successive chunks of the file.
fn read_chunks(path: &std::path::Path, mut f: impl FnMut(&[u8])) {
    let mut file = File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 22];
    loop {
        let read = file.read(&mut buf).unwrap();
        if read == 0 {
            break;
        }
        f(&buf[..read]);
    }
}
