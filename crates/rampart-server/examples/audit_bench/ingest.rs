//! Durable ingest: the log grown from empty against the block baseline, million by
//! million; `append_events` against the block baseline and the fsync'd limit on the grown
//! log; and the node's pipeline with many concurrent writers.
//!
//! The three contenders of an append round write the same blocks (checked byte for byte
//! on the first round):
//! - the log, `Store::append_events`: numbering from `audit_head`, canonical bodies, leaf
//!   hashes, LZ4 blocks, search-key packs, the targets list, one durable commit per batch,
//!   with the search-key compaction running beside it as in the server;
//! - the block baseline: the same batches encoded into the same blocks (bodies joined and
//!   LZ4-compressed as the log does, on one thread, inside its time) and inserted into
//!   `bench_blocks (first_seq PRIMARY KEY, data)` in the same database, one transaction
//!   per batch with the same durability, without numbering, hashing or search keys (the
//!   compaction paused meanwhile, so nothing of the log's runs in its time); its inserts
//!   alone, the bytes ready, are reported beside it;
//! - the limit: the same bytes appended to a file, `fdatasync` after each batch.

use std::io::Write as _;
use std::time::Instant;

use rampart_store::NewEvent;

use crate::events::{batches, cpu_seconds, encode_blocks, event, Blocks, BATCH};
use crate::figures::{kps, median, rounds_k, Figure, Load};
use crate::Bench;

/// Events per growth round: 2^18, so four make a (binary) million.
pub const CHUNK: u64 = 1 << 18;

/// Events per append round on the grown log: 16 batches.
const ROUND: u64 = 16 * BATCH as u64;

/// The goal against the block baseline.
const BASELINE_GOAL: f64 = 0.8;
/// The goal against the fsync'd limit.
const LIMIT_GOAL: f64 = 0.5;

/// Encodes `batches` (numbered from `first_seq`) as the baseline's blocks.
fn encode(batches: &[Vec<NewEvent>], first_seq: i64) -> Vec<Blocks> {
    let mut text = Vec::with_capacity(256 * 512);
    let mut seq = first_seq;
    batches
        .iter()
        .map(|b| {
            let out = encode_blocks(b, seq, &mut text);
            seq += b.len() as i64;
            out
        })
        .collect()
}

/// The log's turn: `batches` through `append_events`, the compaction beside; events/s.
async fn log_turn(b: &mut Bench, batches: Vec<Vec<NewEvent>>) -> f64 {
    b.compaction.start();
    let n: usize = batches.iter().map(Vec::len).sum();
    let cpu = cpu_seconds();
    let t = Instant::now();
    for batch in batches {
        b.store.append_events(batch).await.unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    b.turn_cpu = (cpu_seconds() - cpu) * 1e6 / n as f64;
    b.appended += n as u64;
    rate
}

/// The baseline's turn: each batch encoded (bodies and compression, on this thread) and its
/// blocks inserted into `bench_blocks`, the compaction paused. Returns events/s counting
/// both, and events/s of the inserts alone (the blocks' bytes ready).
async fn baseline_turn(b: &mut Bench, batches: &[Vec<NewEvent>], first_seq: i64) -> (f64, f64) {
    b.compaction.pause().await;
    let n: usize = batches.iter().map(Vec::len).sum();
    let mut text = Vec::with_capacity(256 * 512);
    let mut seq = first_seq;
    let mut inserting = std::time::Duration::ZERO;
    let cpu = cpu_seconds();
    let t = Instant::now();
    for batch in batches {
        let blocks = encode_blocks(batch, seq, &mut text);
        seq += batch.len() as i64;
        let i = Instant::now();
        b.conn.insert_blocks(&blocks).await;
        inserting += i.elapsed();
    }
    let total = t.elapsed().as_secs_f64();
    b.turn_cpu = (cpu_seconds() - cpu) * 1e6 / n as f64;
    (n as f64 / total, n as f64 / inserting.as_secs_f64())
}

/// The limit's turn: each batch's bytes appended to `file`, then `fdatasync`.
async fn limit_turn(
    b: &mut Bench,
    file: &mut std::fs::File,
    bytes: &[Vec<u8>],
    events: usize,
) -> f64 {
    b.compaction.pause().await;
    let t = Instant::now();
    for batch in bytes {
        file.write_all(batch).unwrap();
        file.sync_data().unwrap();
    }
    events as f64 / t.elapsed().as_secs_f64()
}

/// Grows the log from its size to `n` events (rounded up to whole rounds) in rounds of
/// [`CHUNK`], each alternating with the block baseline's insert of the same blocks (the one
/// then the other, their order swapped every round), and reports the first and the last
/// million against the baseline.
pub async fn growth(b: &mut Bench, n: u64) {
    // Whole rounds only, so the first and the last million are alike.
    let n = n.div_ceil(CHUNK) * CHUNK;
    let start = b.appended;
    if start >= n {
        return;
    }
    eprintln!("\n## growth from {start} to {n} events, rounds of {CHUNK} alternating with the block baseline\n");
    eprintln!("| events | log (events/s) | block baseline (events/s) | ratio | baseline's inserts alone | CPU µs/event log / baseline | load |\n|---:|---:|---:|---:|---:|---:|---|");
    struct Round {
        size: u64,
        end: u64,
        log: f64,
        base: f64,
        inserts: f64,
        log_cpu: f64,
        base_cpu: f64,
        load_start: f64,
        load_end: f64,
    }
    let mut rounds: Vec<Round> = Vec::new();
    let t0 = Instant::now();
    let mut i = 0;
    while b.appended < n {
        let k = (n - b.appended).min(CHUNK);
        let work = batches(b.appended, k, b.now);
        let first_seq = b.appended as i64 + 1;
        let theirs = work.clone();
        let load_start = crate::figures::load1();
        let (log, (base, inserts), log_cpu, base_cpu) = if i % 2 == 0 {
            let log = log_turn(b, work).await;
            let log_cpu = b.turn_cpu;
            let base = baseline_turn(b, &theirs, first_seq).await;
            (log, base, log_cpu, b.turn_cpu)
        } else {
            let base = baseline_turn(b, &theirs, first_seq).await;
            let base_cpu = b.turn_cpu;
            (log_turn(b, work).await, base, b.turn_cpu, base_cpu)
        };
        drop(theirs);
        let r = Round {
            size: k,
            end: b.appended,
            log,
            base,
            inserts,
            log_cpu,
            base_cpu,
            load_start,
            load_end: crate::figures::load1(),
        };
        eprintln!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} / {:.2} | {:.1}–{:.1} |",
            r.end,
            r.log,
            r.base,
            r.log / r.base,
            r.inserts,
            r.log_cpu,
            r.base_cpu,
            r.load_start,
            r.load_end
        );
        rounds.push(r);
        i += 1;
    }
    eprintln!(
        "\ngrown by {} events in {:.1} s of wall time (events made, encoded for the baseline, both inserted)",
        b.appended - start,
        t0.elapsed().as_secs_f64()
    );
    // The first and the last million: four rounds each where there are eight or more.
    let k = (rounds.len() / 2).clamp(1, 4);
    let last_start = rounds.len() - k;
    let first = &rounds[..k];
    let last = &rounds[last_start..];
    let first_log = median(&first.iter().map(|r| r.log).collect::<Vec<_>>());
    let last_log = median(&last.iter().map(|r| r.log).collect::<Vec<_>>());
    for (name, part, log) in [
        (
            format!(
                "first {} events (from {start})",
                first.iter().map(|r| r.size).sum::<u64>()
            ),
            first,
            first_log,
        ),
        (
            format!(
                "last {} events (to {})",
                last.iter().map(|r| r.size).sum::<u64>(),
                b.appended
            ),
            last,
            last_log,
        ),
    ] {
        let base = median(&part.iter().map(|r| r.base).collect::<Vec<_>>());
        let inserts = median(&part.iter().map(|r| r.inserts).collect::<Vec<_>>());
        let log_cpu = median(&part.iter().map(|r| r.log_cpu).collect::<Vec<_>>());
        let base_cpu = median(&part.iter().map(|r| r.base_cpu).collect::<Vec<_>>());
        let logs: Vec<f64> = part.iter().map(|r| r.log).collect();
        Figure {
            figure: format!("growth from empty, append_events: {name}"),
            target: format!("≥ {BASELINE_GOAL}× block baseline"),
            value: format!(
                "{} ({:.2}× baseline; rounds {}; last ÷ first million {:.2}; CPU {:.2} µs/event against the baseline's {:.2})",
                kps(log),
                log / base,
                rounds_k(&logs),
                last_log / first_log,
                log_cpu,
                base_cpu
            ),
            baseline: format!(
                "{} (same batches encoded into the same blocks, PK-only table, same durability; its inserts alone {})",
                kps(base),
                kps(inserts)
            ),
            limit: "—".into(),
            met: Some(log >= BASELINE_GOAL * base),
            rounds: part.len(),
            load: format!(
                "{:.1}–{:.1}",
                part[0].load_start,
                part[part.len() - 1].load_end
            ),
        }
        .emit(&b.command);
    }
}

/// `append_events` against the block baseline and the fsync'd limit, on the log as it
/// is: `b.rounds` rounds of [`ROUND`] events, the three contenders' order rotated every
/// round. Returns the limit's median (events/s), which the pipeline's figures quote.
pub async fn append_vs_limit(b: &mut Bench) -> f64 {
    eprintln!(
        "\n## append on the log at {} events: {} rounds of {ROUND} events in batches of {BATCH}\n",
        b.appended, b.rounds
    );
    let path = b.dir.join("limit.bin");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    let (mut logs, mut bases, mut limits, mut inserts) = (vec![], vec![], vec![], vec![]);
    let (mut log_cpus, mut base_cpus) = (vec![], vec![]);
    let mut block_bytes = 0usize;
    let mut body_bytes = 0usize;
    let load = Load::start();
    eprintln!("| round | order | log | block baseline | fsync'd limit | log ÷ baseline | log ÷ limit |\n|---|---|---:|---:|---:|---:|---:|");
    for r in 0..b.rounds {
        let first_seq = b.appended as i64 + 1;
        let work = batches(b.appended, ROUND, b.now);
        let n = ROUND as usize;
        // The limit's bytes, made before its clock starts (the baseline makes its own).
        let blocks = encode(&work, first_seq);
        let bytes: Vec<Vec<u8>> = blocks
            .iter()
            .map(|bl| bl.iter().flat_map(|(_, d)| d.iter().copied()).collect())
            .collect();
        block_bytes += bytes.iter().map(Vec::len).sum::<usize>();
        if r == 0 {
            let mut text = Vec::new();
            for e in &work[0][..256] {
                text.clear();
                crate::events::encode_blocks(std::slice::from_ref(e), 1, &mut text);
                body_bytes += text.len();
            }
        }
        let order = ["log", "baseline", "limit"];
        let mut rates = [0.0f64; 3];
        let theirs = work.clone();
        let mut work = Some(work);
        for j in 0..3 {
            let who = (r + j) % 3;
            rates[who] = match who {
                0 => {
                    let rate = log_turn(b, work.take().unwrap()).await;
                    log_cpus.push(b.turn_cpu);
                    rate
                }
                1 => {
                    let (all, alone) = baseline_turn(b, &theirs, first_seq).await;
                    inserts.push(alone);
                    base_cpus.push(b.turn_cpu);
                    all
                }
                _ => limit_turn(b, &mut file, &bytes, n).await,
            };
        }
        drop(theirs);
        if r == 0 {
            // The baseline and the limit write exactly the log's blocks.
            let last = blocks.last().and_then(|bl| bl.last()).unwrap().0;
            let stored = b.conn.log_blocks(first_seq, last).await;
            let ours: Vec<&(i64, Vec<u8>)> = blocks.iter().flatten().collect();
            assert_eq!(
                stored.len(),
                ours.len(),
                "block count differs from the log's"
            );
            for (s, o) in stored.iter().zip(ours) {
                assert!(s == o, "block {} differs from the log's", s.0);
            }
            eprintln!(
                "(round 1: the baseline's {} blocks are byte for byte the log's)",
                stored.len()
            );
        }
        let [log, base, limit] = rates;
        eprintln!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            r + 1,
            (0..3)
                .map(|j| order[(r + j) % 3])
                .collect::<Vec<_>>()
                .join(" → "),
            log,
            base,
            limit,
            log / base,
            log / limit
        );
        logs.push(log);
        bases.push(base);
        limits.push(limit);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    let load = load.end();
    let (log, base, limit) = (median(&logs), median(&bases), median(&limits));
    let events = (b.rounds as u64 * ROUND) as f64;
    eprintln!(
        "\ncompressed block bytes: {:.1} per event (canonical body {:.1} bytes)",
        block_bytes as f64 / events,
        body_bytes as f64 / 256.0,
    );
    let baseline = format!(
        "{} (same batches encoded into the same blocks on one thread, PK-only table, same durability; rounds {}; its inserts alone, bytes ready: {}, {:.2}× of that)",
        kps(base),
        rounds_k(&bases),
        kps(median(&inserts)),
        log / median(&inserts)
    );
    let limit_text = format!(
        "{} (the same bytes appended to a file, fdatasync per batch; rounds {})",
        kps(limit),
        rounds_k(&limits)
    );
    let value = format!(
        "{} ({:.2}× baseline, {:.2}× limit; rounds {}; CPU {:.2} µs/event against the baseline's {:.2})",
        kps(log),
        log / base,
        log / limit,
        rounds_k(&logs),
        median(&log_cpus),
        median(&base_cpus)
    );
    Figure {
        figure: format!("append_events, batches of {BATCH}, against like-for-like block inserts"),
        target: format!("≥ {BASELINE_GOAL}× block baseline"),
        value: value.clone(),
        baseline: baseline.clone(),
        limit: limit_text.clone(),
        met: Some(log >= BASELINE_GOAL * base),
        rounds: b.rounds,
        load: load.clone(),
    }
    .emit(&b.command);
    Figure {
        figure: format!("append_events, batches of {BATCH}, against the fsync'd limit"),
        target: format!("≥ {LIMIT_GOAL}× fsync'd limit"),
        value,
        baseline,
        limit: limit_text,
        met: Some(log >= LIMIT_GOAL * limit),
        rounds: b.rounds,
        load,
    }
    .emit(&b.command);
    limit
}

/// The node's pipeline (`AuditLog::append`, each writer awaiting its own commit) with 64,
/// 256, 1,024 and 16,384 concurrent writers, against `append_events` of full batches (what
/// the pipeline would reach if every batch were full), rounds rotating the order.
pub async fn pipeline(b: &mut Bench, limit: f64) {
    const WRITERS: [u64; 4] = [64, 256, 1_024, 16_384];
    const DIRECT: u64 = 8 * BATCH as u64;
    eprintln!(
        "\n## pipeline on the log at {} events: {} rounds, writers {WRITERS:?} and {DIRECT} events through append_events\n",
        b.appended, b.rounds
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(b.log.clone().run_pipeline(b.metrics.clone(), stopped));
    b.compaction.start();
    let mut rates = vec![Vec::new(); WRITERS.len()];
    let mut cores = vec![Vec::new(); WRITERS.len()];
    let mut direct = Vec::new();
    let load = Load::start();
    for r in 0..b.rounds {
        let mut line = Vec::new();
        for j in 0..=WRITERS.len() {
            let who = (r + j) % (WRITERS.len() + 1);
            if who == WRITERS.len() {
                let work = batches(b.appended, DIRECT, b.now);
                let rate = log_turn(b, work).await;
                line.push(format!("direct {:.0}", rate));
                direct.push(rate);
                continue;
            }
            let writers = WRITERS[who];
            let per = (100_000 / writers).max(8);
            // A request builds its event anyway: the clock measures the pipeline.
            let base = b.appended;
            let work: Vec<Vec<NewEvent>> = (0..writers)
                .map(|w| (0..per).map(|i| event(base + w * per + i, b.now)).collect())
                .collect();
            let t = Instant::now();
            let cpu = cpu_seconds();
            let mut tasks = Vec::with_capacity(work.len());
            for events in work {
                let log = b.log.clone();
                tasks.push(tokio::spawn(async move {
                    for e in events {
                        log.append(e).await.unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let wall = t.elapsed().as_secs_f64();
            b.appended += writers * per;
            let rate = (writers * per) as f64 / wall;
            line.push(format!("{writers}: {rate:.0}"));
            rates[who].push(rate);
            cores[who].push((cpu_seconds() - cpu) / wall);
        }
        eprintln!("round {}: {}", r + 1, line.join(", "));
    }
    let _ = stop.send(true);
    task.await.unwrap();
    let load = load.end();
    let direct_m = median(&direct);
    for (i, writers) in WRITERS.into_iter().enumerate() {
        let rate = median(&rates[i]);
        let (target, met) = match writers {
            256 => ("≥ 150 k/s".to_owned(), Some(rate >= 150_000.0)),
            16_384 => ("— (ceiling)".to_owned(), None),
            _ => ("— (headline shape)".to_owned(), None),
        };
        Figure {
            figure: format!("pipeline, {writers} concurrent writers each awaiting its commit"),
            target,
            value: format!(
                "{} ({:.2}× direct; rounds {}; {:.2} cores busy)",
                kps(rate),
                rate / direct_m,
                rounds_k(&rates[i]),
                median(&cores[i])
            ),
            baseline: format!(
                "{} (append_events, full batches of {BATCH}; rounds {})",
                kps(direct_m),
                rounds_k(&direct)
            ),
            limit: format!("{} (fsync'd append of the blocks' bytes)", kps(limit)),
            met,
            rounds: rates[i].len(),
            load: load.clone(),
        }
        .emit(&b.command);
    }
}
