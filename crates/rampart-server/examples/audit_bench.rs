//! Issue #4's audit figures on one database, in one run:
//!
//! 1. durable append of `access` events: `Store::append_events` in batches (numbering,
//!    canonical body, SHA-256 leaf, one transaction per batch) against plain batched inserts
//!    of the same rows into a copy of the table without numbering or hashing, alternating;
//!    and through the node's pipeline with thousands of concurrent writers;
//! 2. the log grown to N events, then inclusion and consistency proofs through the node's
//!    `AuditLog` (tree cache plus tile reads from the database), p50 and p99;
//! 3. the first page of filtered searches, p50 and p99, with the plans;
//! 4. `export_jsonl` of the whole log, then the offline verifier against `sha256sum` of the
//!    same file.
//!
//! ```text
//! cargo run --release -p rampart-server --example audit_bench -- [N] [sqlite|postgres]
//! ```
//! N defaults to 1,000,000 (the issue's figure is 10,000,000). PostgreSQL needs
//! `RAMPART_TEST_PG_URL` (as `scripts/pg-throwaway.sh` exports); a fresh database is made.
//!
//! With `AUDIT_BENCH_DIR=DIR` (SQLite only) the database is `DIR/bench.db` and is kept; a
//! later run on a database that already holds N events skips the appends (1) and measures
//! the rest on it, which is how a change to the readers is measured without a rebuild.
//! With `AUDIT_BENCH_APPEND_ONLY=1` the run stops after the appends and the pipeline (1),
//! which is how a change to the writers is measured (and profiled) quickly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

/// The allocator the `rampart` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::{AuditContext, UserId};
use rampart_service::metrics::Metrics;
use rampart_store::{EventQuery, NewEvent, Store, Stream};
use sqlx::Connection as _;
use time::OffsetDateTime;

const BATCH: usize = 16_384;

fn event(i: u64, now: OffsetDateTime) -> NewEvent {
    let user = i.wrapping_mul(2_654_435_761) % 100_000;
    let ctx = AuditContext {
        actor_id: Some(UserId(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(user),
        ))),
        actor_name: Some(format!("end:user{user}")),
        request_id: Some(format!("0193a{i:027x}")),
        source: Some(format!("10.0.{}.{}", (i / 256) % 256, i % 256)),
        node_id: format!("node-{}", i % 3),
    };
    NewEvent::access(
        &ctx,
        now + time::Duration::milliseconds(i as i64),
        Some(["sales", "payroll", "crm"][(i % 3) as usize]),
        &format!("/apps/sales/screens/customer-{}", i % 5_000),
        "GET",
        !i.is_multiple_of(20),
    )
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`; 0 where
/// there is no such file.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A direct connection for the baseline table and the plans.
enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Conn {
    async fn exec(&mut self, sql: &str) {
        match self {
            Conn::Sqlite(c) => sqlx::query(sql).execute(c).await.map(|_| ()),
            Conn::Pg(c) => sqlx::query(sql).execute(c).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Plain batched insert of rows shaped like the log's, in one transaction per batch:
    /// the same columns, indexes and body text, a constant leaf hash, numbers given.
    async fn plain_batch(&mut self, first: i64, rows: &[(String, String, String)]) {
        let sqlite = matches!(self, Conn::Sqlite(_));
        // The same statement shape as the store's (`?` on SQLite, `$N` on PostgreSQL).
        let values = |n: usize| {
            let mut sql = String::from(
                "INSERT INTO bench_plain (seq, stream, occurred_at, actor_id, actor_name, action, target, \
                 application, environment, outcome, node_id, body, leaf_hash) VALUES ",
            );
            for i in 0..n {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for j in 1..=13 {
                    if j > 1 {
                        sql.push(',');
                    }
                    if sqlite {
                        sql.push('?');
                    } else {
                        sql.push_str(&format!("${}", i * 13 + j));
                    }
                }
                sql.push(')');
            }
            sql
        };
        let zero = [0u8; 32];
        macro_rules! run {
            ($c:expr) => {{
                let mut tx = $c.begin().await.unwrap();
                for (chunk_no, chunk) in rows.chunks(256).enumerate() {
                    let text = values(chunk.len());
                    let mut q = sqlx::query(&text);
                    for (i, (actor, target, body)) in chunk.iter().enumerate() {
                        let seq = first + (chunk_no * 256 + i) as i64;
                        q = q
                            .bind(seq)
                            .bind("access")
                            .bind(1_790_000_000_000i64 + seq)
                            .bind(actor.as_str())
                            .bind(actor.as_str())
                            .bind("access")
                            .bind(target.as_str())
                            .bind("sales")
                            .bind(Option::<&str>::None)
                            .bind("allow")
                            .bind("node-1")
                            .bind(body.as_str())
                            .bind(&zero[..]);
                    }
                    q.execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }};
        }
        match self {
            Conn::Sqlite(c) => run!(c),
            Conn::Pg(c) => run!(c),
        }
    }

    async fn plan(&mut self, sql: &str) -> Vec<String> {
        match self {
            Conn::Sqlite(c) => {
                sqlx::query_as::<_, (i64, i64, i64, String)>(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(c)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.3)
                    .collect()
            }
            Conn::Pg(c) => sqlx::query_scalar::<_, String>(&format!("EXPLAIN {sql}"))
                .fetch_all(c)
                .await
                .unwrap(),
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).map_or(1_000_000, |s| s.parse().unwrap());
    let backend = args.get(2).map_or("sqlite", String::as_str).to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("AUDIT_BENCH_DIR").map(std::path::PathBuf::from);
    let mut reuse = false;
    let (store, mut conn) = if backend == "postgres" {
        let admin = std::env::var("RAMPART_TEST_PG_URL").expect("RAMPART_TEST_PG_URL");
        let name = format!("rampart_audit_bench_{}", std::process::id());
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap();
        let url = match admin.rfind('/') {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("RAMPART_TEST_PG_URL has no database"),
        };
        let store = Store::open_postgres(&url, 16).await.unwrap();
        store.migrate().await.unwrap();
        (
            store,
            Conn::Pg(sqlx::PgConnection::connect(&url).await.unwrap()),
        )
    } else {
        let path = match &kept {
            Some(dir) => {
                std::fs::create_dir_all(dir).unwrap();
                dir.join("bench.db")
            }
            None => tmp.path().join("bench.db"),
        };
        reuse = path.exists();
        let store = Store::open_sqlite(&path).await.unwrap();
        store.migrate().await.unwrap();
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut c)
            .await
            .unwrap();
        // The same page cache as the store's writer connection.
        sqlx::query("PRAGMA cache_size = -65536")
            .execute(&mut c)
            .await
            .unwrap();
        (store, Conn::Sqlite(c))
    };
    if reuse && store.audit_size().await.unwrap() < n {
        panic!("the kept database holds fewer than {n} events: remove it or ask for fewer");
    }
    println!("## audit on {backend}: {n} events, batches of {BATCH}, durable commits (SQLite synchronous=FULL; PostgreSQL as configured)\n");

    let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let key = rampart_audit::SigningKey::from_seed("bench/audit", [7; 32]).unwrap();
    let log = rampart_service::audit::AuditLog::new(
        store.clone(),
        rampart_audit::SigningKey::from_seed("bench/audit", [7; 32]).unwrap(),
        "bench/audit".into(),
        20_000,
        BATCH,
    )
    .unwrap();
    let metrics = Arc::new(Metrics::default());
    let mut appended = store.audit_size().await.unwrap();
    // The search-key compaction runs beside the appends, as in the server: its cost is in
    // every append figure below.
    let (compaction_stop, compaction_stopped) = tokio::sync::watch::channel(false);
    let compaction = tokio::spawn(rampart_service::audit::run_key_compaction(
        store.clone(),
        metrics.clone(),
        compaction_stopped,
    ));
    if !reuse {
        // The baseline table: the log's columns and indexes, nothing else.
        for sql in [
            "CREATE TABLE bench_plain AS SELECT * FROM audit_events WHERE 1 = 0",
            "CREATE UNIQUE INDEX bench_plain_seq ON bench_plain (seq)",
            "CREATE INDEX bench_plain_stream ON bench_plain (stream, seq) WHERE stream <> 'access'",
            "CREATE INDEX bench_plain_action ON bench_plain (action, seq) WHERE stream <> 'access'",
            "CREATE INDEX bench_plain_actor ON bench_plain ((seq >> 16), actor_name, seq)",
            "CREATE INDEX bench_plain_target ON bench_plain ((seq >> 16), target, seq)",
            "CREATE INDEX bench_plain_time ON bench_plain (occurred_at)",
        ] {
            conn.exec(sql).await;
        }

        // 1. Append: rounds alternating the log and the baseline, same rows.
        let round = 200_000u64;
        let mut plain_next = 1i64;
        println!("| round | log: append_events (events/s) | plain batched inserts (events/s) | ratio |\n|---|---:|---:|---:|");
        for r in 0..3 {
            let events: Vec<NewEvent> = (0..round).map(|i| event(appended + i, now)).collect();
            let rows: Vec<(String, String, String)> = events
            .iter()
            .map(|e| {
                let body = format!(
                    "{{\"seq\":0,\"stream\":\"access\",\"actor\":{:?},\"target\":{:?},\"details\":{}}}",
                    e.actor_name.as_deref().unwrap_or(""),
                    e.target.as_deref().unwrap_or(""),
                    e.details
                );
                // Pad to the log's body length so both write the same bytes.
                (e.actor_name.clone().unwrap_or_default(), e.target.clone().unwrap_or_default(), format!("{body:<340}"))
            })
            .collect();
            let t = Instant::now();
            let mut it = events.into_iter();
            loop {
                let batch: Vec<NewEvent> = it.by_ref().take(BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                store.append_events(batch).await.unwrap();
            }
            let log_rate = round as f64 / t.elapsed().as_secs_f64();
            let t = Instant::now();
            for chunk in rows.chunks(BATCH) {
                conn.plain_batch(plain_next, chunk).await;
                plain_next += chunk.len() as i64;
            }
            let plain_rate = round as f64 / t.elapsed().as_secs_f64();
            appended += round;
            println!(
                "| {} | {:.0} | {:.0} | {:.2} |",
                r + 1,
                log_rate,
                plain_rate,
                log_rate / plain_rate
            );
        }
        let sample = store.events_after(0, 10_000).await.unwrap();
        let body_len = sample
            .iter()
            .map(|e| e.body.as_deref().map_or(0, str::len))
            .sum::<usize>()
            / sample.len().max(1);
        println!("\n(average canonical body: {body_len} bytes)");

        // Through the pipeline: many writers, each waiting for its own commit.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let pipeline = tokio::spawn(log.clone().run_pipeline(metrics.clone(), stopped));
        for writers in [256u64, 4096, 16_384, 32_768] {
            let per = (100_000 / writers).max(8);
            // A request builds its event anyway: the clock measures the pipeline.
            let work: Vec<Vec<NewEvent>> = (0..writers)
                .map(|w| {
                    (0..per)
                        .map(|i| event(appended + w * per + i, now))
                        .collect()
                })
                .collect();
            let t = Instant::now();
            let cpu = cpu_seconds();
            let mut tasks = Vec::new();
            for events in work {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    for e in events {
                        log.append(e).await.unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            appended += writers * per;
            let wall = t.elapsed().as_secs_f64();
            println!(
                "pipeline, {writers} concurrent writers each awaiting its commit: {:.0} events/s ({:.2} cores busy)",
                (writers * per) as f64 / wall,
                (cpu_seconds() - cpu) / wall
            );
        }
        let _ = stop.send(true);
        pipeline.await.unwrap();
        if std::env::var_os("AUDIT_BENCH_APPEND_ONLY").is_some() {
            let _ = compaction_stop.send(true);
            compaction.await.unwrap();
            return;
        }

        // 2. Grow the log to n events.
        let t = Instant::now();
        while appended < n {
            let k = (n - appended).min(BATCH as u64 * 4);
            let batch: Vec<NewEvent> = (0..k).map(|i| event(appended + i, now)).collect();
            store.append_events(batch).await.unwrap();
            appended += k;
        }
        println!(
            "\nlog grown to {appended} events ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
    }
    // What the compaction had left when the appends stopped, done now.
    let _ = compaction_stop.send(true);
    compaction.await.unwrap();
    let done_before = metrics.audit_compaction_steps.get();
    let t = Instant::now();
    let mut steps = 0u64;
    while store.audit_compact_keys().await.unwrap() {
        steps += 1;
    }
    println!(
        "search-key compaction: {done_before} steps beside the appends; {steps} left, done in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    log.load().await.unwrap();
    println!(
        "tree built from the leaves and tile roots stored: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    log.load().await.unwrap();
    println!(
        "tree restored at start-up from stored tile roots: {}",
        ms(t.elapsed())
    );
    let checkpoint = log.checkpoint(now, &metrics).await.unwrap();
    let size = checkpoint.size;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut inc = Vec::new();
    let mut con = Vec::new();
    // Baseline in the same run: the smallest read the store makes (one row of one column),
    // which is the floor of any proof that reads a tile.
    let mut floor = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        store.audit_size().await.unwrap();
        floor.push(t.elapsed());
        let seq = next() % size + 1;
        let t = Instant::now();
        let p = log.inclusion_proof(seq, size).await.unwrap();
        inc.push(t.elapsed());
        rampart_audit::verify_inclusion(&p.leaf, seq - 1, size, &p.proof, &checkpoint.root)
            .unwrap();
        let old = next() % size + 1;
        let t = Instant::now();
        let (_, proof, _) = log.consistency_proof(old, size).await.unwrap();
        con.push(t.elapsed());
        assert!(proof.len() <= 64);
    }
    inc.sort();
    con.sort();
    floor.sort();
    println!(
        "\n| proof at {size} events | p50 | p99 |\n|---|---:|---:|\n| inclusion (random event) | {} | {} |\n| consistency (random older size) | {} | {} |\n| baseline: read the log's size (one row) | {} | {} |",
        ms(pct(&inc, 0.5)), ms(pct(&inc, 0.99)), ms(pct(&con, 0.5)), ms(pct(&con, 0.99)),
        ms(pct(&floor, 0.5)), ms(pct(&floor, 0.99))
    );

    // 3. Search: first page of 100, newest first.
    let searches: Vec<(&str, EventQuery)> = vec![
        ("no filter", EventQuery::default()),
        (
            "stream = access",
            EventQuery {
                stream: Some(Stream::Access),
                ..Default::default()
            },
        ),
        (
            "actor = one user",
            EventQuery {
                actor: Some("end:user4242".into()),
                ..Default::default()
            },
        ),
        (
            "actor = nobody (no match: every segment probed)",
            EventQuery {
                actor: Some("end:nobody".into()),
                ..Default::default()
            },
        ),
        (
            "outcome = deny (1 in 20)",
            EventQuery {
                outcome: Some("deny".into()),
                ..Default::default()
            },
        ),
        (
            "actor and outcome",
            EventQuery {
                actor: Some("end:user4242".into()),
                outcome: Some("allow".into()),
                ..Default::default()
            },
        ),
        (
            "target = one screen",
            EventQuery {
                target: Some("/apps/sales/screens/customer-77".into()),
                ..Default::default()
            },
        ),
        (
            "target contains text",
            EventQuery {
                target_contains: Some("customer-4999".into()),
                ..Default::default()
            },
        ),
        (
            "one hour, an hour ago",
            EventQuery {
                since: Some(now + time::Duration::milliseconds(appended as i64 / 2)),
                until: Some(now + time::Duration::milliseconds(appended as i64 / 2 + 3_600_000)),
                ..Default::default()
            },
        ),
        (
            "stream, application-free, older page (cursor mid-log)",
            EventQuery {
                stream: Some(Stream::Access),
                before_seq: Some(appended as i64 / 2),
                ..Default::default()
            },
        ),
    ];
    println!("\n| search (first page of 100) | p50 | p99 | rows |\n|---|---:|---:|---:|");
    for (name, q) in &searches {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..30 {
            let t = Instant::now();
            rows = store.audit_search(q, 100).await.unwrap().len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "| {name} | {} | {} | {rows} |",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99))
        );
    }
    for sql in [
        "SELECT seq FROM audit_events WHERE (seq >> 16) = 3 AND actor_name = 'end:user4242' AND outcome = 'allow' ORDER BY seq DESC LIMIT 100",
        "SELECT seq FROM audit_events WHERE stream = 'system' AND stream <> 'access' ORDER BY seq DESC LIMIT 100",
        "SELECT target FROM audit_targets WHERE target LIKE '%customer-4999%' ESCAPE '\\' LIMIT 201",
        "SELECT seq FROM audit_keys WHERE seg = 3659174697238533 AND key IN (12345, 67890) AND seq >= 1 AND seq <= 9999999 ORDER BY seq DESC LIMIT 200",
        "SELECT first_seq, count, leaves, data FROM audit_blocks WHERE first_seq > 1000 AND first_seq <= 2000000 AND facets LIKE '%\"outcome:deny\"%' ESCAPE '\\' ORDER BY first_seq DESC LIMIT 8",
        "SELECT first_seq, count, leaves, data FROM audit_blocks WHERE last_at >= 1790000500000 ORDER BY last_at, first_seq LIMIT 1",
    ] {
        println!("\nplan: {sql}");
        for line in conn.plan(sql).await {
            println!("    {line}");
        }
    }

    // 4. Export and offline verification against sha256sum of the same file.
    let path = tmp.path().join("export.jsonl");
    let t = Instant::now();
    {
        let mut out =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        rampart_service::audit::export_jsonl(&store, "bench/audit", 1, size, &mut out, &mut |_| {})
            .await
            .unwrap();
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "\nexport of {size} events: {:.1} s, {:.0} MB",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    // The verifier fed line by line on this thread, then the product's reader (`rampart
    // audit verify`), which hashes and parses on every core.
    let t = Instant::now();
    let mut verifier = rampart_audit::export::Verifier::new(key.verifier(), None);
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        verifier.feed(&line).unwrap();
    }
    let report = verifier.finish();
    let one_thread = t.elapsed();
    assert!(report.is_ok(), "{:?}", report.finding);
    let t = Instant::now();
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
    let report = rampart_audit::export::verify_reader(
        &mut reader,
        key.verifier(),
        None,
        workers,
        &mut |_| {},
    )
    .unwrap();
    let verify = t.elapsed();
    assert!(report.is_ok(), "{:?}", report.finding);
    assert_eq!(report.checkpoints_verified, 1);
    let t = Instant::now();
    let status = std::process::Command::new("sha256sum")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let sha = t.elapsed();
    println!(
        "offline verify ({workers} workers): {:.2} s = {:.0} events/s ({:.0} MB/s); one thread: {:.2} s = {:.0} events/s; sha256sum of the same file: {:.2} s ({:.0} MB/s); verify takes {:.2}× sha256sum's time",
        verify.as_secs_f64(),
        size as f64 / verify.as_secs_f64(),
        bytes as f64 / 1e6 / verify.as_secs_f64(),
        one_thread.as_secs_f64(),
        size as f64 / one_thread.as_secs_f64(),
        sha.as_secs_f64(),
        bytes as f64 / 1e6 / sha.as_secs_f64(),
        verify.as_secs_f64() / sha.as_secs_f64()
    );
    std::io::stdout().flush().unwrap();
    store.close().await;
}
