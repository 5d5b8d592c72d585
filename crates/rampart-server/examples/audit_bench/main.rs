//! The audit log's figures on one database, in one run, each against a baseline measured in
//! the same run (issues #4 and #21):
//!
//! 1. **growth from empty** to N events through `Store::append_events` (batches of 16,384,
//!    the search-key compaction beside, as in the server), in rounds of 2^18 events that
//!    alternate with the **block baseline**: the same blocks (the same bodies, compressed the
//!    same way, 256 events a block) inserted into a table with only a primary key, with the
//!    same durability, one transaction per batch, without numbering, hashing or search keys;
//!    the first and the last million are reported;
//! 2. **append** on the grown log: the log, the block baseline and the **fsync'd limit** (the
//!    same bytes appended to a file, `fdatasync` per batch) in rotating order;
//! 3. the node's **pipeline** (`AuditLog::append`, each writer awaiting its own commit) at
//!    64, 256, 1,024 and 16,384 concurrent writers, against full batches;
//! 4. inclusion and consistency **proofs** through `AuditLog` against a one-row read;
//! 5. the first page of filtered **searches** against the unfiltered first page, with plans;
//! 6. **export**, then offline verification of the file **out of the page cache**, against
//!    SHA-256 of the file and reading it, each cold.
//!
//! Every figure is the median of rounds alternating with its baseline (`AUDIT_BENCH_ROUNDS`,
//! default 3). Each figure is one JSON line on stdout (the fields `scripts/bench` reads);
//! the tables, the per-round numbers and the plans go to stderr.
//!
//! ```text
//! cargo run --release -p rampart-server --example audit_bench -- [N] [sqlite|postgres]
//! ```
//! N defaults to 1,000,000 (`scripts/bench audit` runs 10,000,000). PostgreSQL needs
//! `RAMPART_TEST_PG_URL` (as `scripts/pg-throwaway.sh` exports); a fresh database is made.
//! The database and the files live in a temporary directory, or in `AUDIT_BENCH_DIR` (SQLite
//! only), where they are kept: a later run on a database that already holds N events skips
//! the ingest (1–3) and measures the rest on it. With `AUDIT_BENCH_APPEND_ONLY=1` the run stops
//! after the ingest (1–3). `AUDIT_BENCH_COMMAND` is the command the JSON lines name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

/// The allocator the `rampart` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod conn;
mod events;
mod figures;
mod ingest;
mod reads;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rampart_service::audit::AuditLog;
use rampart_service::metrics::Metrics;
use rampart_store::Store;
use time::OffsetDateTime;

use conn::Conn;

/// The search-key compaction as the server runs it, which the benchmark pauses while a
/// baseline or the limit has its turn.
pub struct Compaction {
    store: Store,
    metrics: Arc<Metrics>,
    running: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Compaction {
    /// Starts it, if it is not running.
    pub fn start(&mut self) {
        if self.running.is_none() {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(rampart_service::audit::run_key_compaction(
                self.store.clone(),
                self.metrics.clone(),
                || true,
                stopped,
            ));
            self.running = Some((stop, task));
        }
    }

    /// Stops it after its current step, if it is running.
    pub async fn pause(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(true);
            task.await.unwrap();
        }
    }
}

/// What every part of the run shares.
pub struct Bench {
    pub store: Store,
    pub conn: Conn,
    pub log: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    pub compaction: Compaction,
    /// The time of event 0.
    pub now: OffsetDateTime,
    /// Events in the log.
    pub appended: u64,
    /// Rounds per figure.
    pub rounds: usize,
    /// Where the database and the files are.
    pub dir: PathBuf,
    /// The command the JSON lines name.
    pub command: String,
    /// CPU time of the whole process per event in the last ingest turn (µs): the builder
    /// threads, SQLite and the compaction included.
    pub turn_cpu: f64,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).map_or(1_000_000, |s| s.parse().unwrap());
    let backend = args.get(2).map_or("sqlite", String::as_str).to_owned();
    let rounds: usize = std::env::var("AUDIT_BENCH_ROUNDS")
        .ok()
        .map_or(3, |s| s.parse().unwrap());
    let command = std::env::var("AUDIT_BENCH_COMMAND").unwrap_or_else(|_| {
        format!("cargo run --release -p rampart-server --example audit_bench -- {n} {backend}")
    });
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("AUDIT_BENCH_DIR").map(PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let mut settings = String::from("as configured");
    let (store, conn) = if backend == "postgres" {
        use sqlx::Connection as _;
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
        (store, Conn::pg(&url).await)
    } else {
        let path = dir.join("bench.db");
        // The writer's page cache: the node's default unless `BENCH_SQLITE_CACHE_MIB` says.
        let cache = std::env::var("BENCH_SQLITE_CACHE_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(rampart_store::DEFAULT_SQLITE_CACHE_MIB);
        let store = Store::open_sqlite_with(&path, cache).await.unwrap();
        store.migrate().await.unwrap();
        let (conn, s) = Conn::sqlite(&path).await;
        settings = s;
        (store, conn)
    };
    let appended = store.audit_size().await.unwrap();
    let reuse = kept.is_some() && appended > 0;
    if reuse && appended < n {
        panic!(
            "the kept database holds {appended} events, fewer than {n}: remove it or ask for fewer"
        );
    }
    eprintln!(
        "# audit on {backend}: {n} events, batches of {}, {rounds} rounds per figure; baseline connection: {settings}",
        events::BATCH
    );
    let metrics = Arc::new(Metrics::default());
    let log = AuditLog::new(
        store.clone(),
        rampart_audit::SigningKey::from_seed("bench/audit", [7; 32]).unwrap(),
        "bench/audit".into(),
        20_000,
        events::BATCH,
    )
    .unwrap();
    let mut b = Bench {
        compaction: Compaction {
            store: store.clone(),
            metrics: metrics.clone(),
            running: None,
        },
        store,
        conn,
        log,
        metrics,
        now: OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap(),
        appended,
        rounds,
        dir,
        command,
        turn_cpu: 0.0,
    };
    if !reuse {
        b.conn.create_baseline().await;
        ingest::growth(&mut b, n).await;
        let limit = ingest::append_vs_limit(&mut b).await;
        ingest::pipeline(&mut b, limit).await;
        if std::env::var_os("AUDIT_BENCH_APPEND_ONLY").is_some() {
            b.compaction.pause().await;
            b.store.close().await;
            eprintln!("\nrun took {:.0} s", started.elapsed().as_secs_f64());
            return;
        }
    }
    // What the compaction had left when the appends stopped, done now.
    b.compaction.pause().await;
    let done_before = b.metrics.audit_compaction_steps.get();
    let t = Instant::now();
    let mut steps = 0u64;
    while b.store.audit_compact_keys().await.unwrap() {
        steps += 1;
    }
    eprintln!(
        "\nsearch-key compaction: {done_before} steps beside the appends; {steps} left, done in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    reads::proofs(&mut b).await;
    reads::searches(&mut b).await;
    verify::export_and_verify(&mut b).await;
    b.store.close().await;
    eprintln!("\nrun took {:.0} s", started.elapsed().as_secs_f64());
}
