//! List filtering inside the database on issue #3's data set, on SQLite or PostgreSQL: the
//! first page of 50 readable records (sorted by key) for a leaf rep, a first-line manager, a
//! director and the top of the tree, through `Store::readable_records`, against the best
//! queries a DBA would write over the same data in the same run (a closure table queried as
//! a `UNION ALL` of index-friendly branches; on PostgreSQL two set-based row-level-security
//! policies over the same tables: see `baselines.rs`), every answer asserted to be Rampart's
//! page; `EXPLAIN (ANALYZE, BUFFERS)` (SQLite: `EXPLAIN QUERY PLAN`) of every approach at
//! every level; then the count of readable rows, moving a director with about 10,000 people,
//! and rebuilding and loading the index.
//!
//! ```text
//! cargo run --release -p rampart-store --example list_filter -- [SCALE] [sqlite|postgres]
//! ```
//! SCALE divides users, records and grants (1 = the full data set). The report goes to
//! stderr; stdout gets one JSON line per figure (`scripts/bench list`'s format). PostgreSQL
//! needs `RAMPART_TEST_PG_URL` (as `scripts/pg-throwaway.sh` exports); a fresh database is
//! created.
//!
//! Method: per user, `RAMPART_BENCH_ROUNDS` rounds (default 3); in each round every approach
//! runs a batch (one untimed run, then up to 25 timed ones, fewer once the batch has taken a
//! second, at least 3; once, when the untimed run took over half a second), Rampart
//! first in even rounds and last in odd ones; an approach's figure is the median of its
//! per-round medians. On PostgreSQL every statement, Rampart's and the baselines', is an
//! unnamed one (sqlx `persistent(false)`): parsed and planned with its bound values on every
//! run, never a cached generic plan. On SQLite all are prepared statements kept on the
//! connection (SQLite plans at prepare time either way). The baselines run on a direct
//! connection with the store's reader settings (SQLite: read-only, WAL, default cache).
//!
//! Other settings: `RAMPART_BENCH_LIST_ONLY=1` measures the pages and plans only (no count,
//! no moves); `RAMPART_BENCH_MOVES_ONLY=1` loads the trees only and times the moves;
//! `RAMPART_BENCH_NO_ARRAY=1` leaves out the `= ANY (ARRAY(…))` policy; `RAMPART_BENCH_NAIVE=1` adds the seed's recursive CTE (slow: seconds per run at full scale);
//! `RAMPART_BENCH_KEEP=1` keeps the SQLite database; `RAMPART_BENCH_LOCK=FILE` takes an
//! exclusive lock on FILE (as `flock FILE` does) after loading, for the timed part only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

mod baselines;
mod load;
mod moves;
#[path = "../shared/seed.rs"]
mod seeding;

use std::time::{Duration, Instant};

use baselines::Approach;
use load::Conn;
use rampart_authz::acl::{EntityId, HierarchyId};
use rampart_authz::dataset::{DatasetSpec, Personas, UNITS};
use rampart_authz::view::ListFilter;
use rampart_core::AuditContext;
use rampart_store::Store;
pub use seeding::user_id;
use sqlx::Connection as _;
use time::OffsetDateTime;

/// The personas measured, by the name the report gives them, from the bottom of the tree up.
fn named(who: &Personas) -> [(&'static str, u32); 4] {
    [
        ("rep", who.rep),
        ("first-line manager", who.manager),
        ("director", who.director),
        ("top of the tree", who.top),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    // The mean of the two middle ones for an even count.
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A page as every approach returns it: keys in byte order with their owners.
type Page = Vec<(String, Option<i64>)>;

fn parse_page(json: &str) -> Page {
    let mut rows: Page = serde_json::from_str(json).unwrap();
    // Keys compare byte-wise, as the database's binary ("C") collation orders them.
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The store under test and the baselines' connections.
struct Runner {
    store: Store,
    conn: Conn,
    /// One connection per row-level-security role, its role set (PostgreSQL).
    rls: Vec<(Approach, sqlx::PgConnection)>,
    entity: EntityId,
    reports: HierarchyId,
    closure: String,
}

impl Runner {
    fn pg(&self) -> bool {
        self.conn.is_pg()
    }

    fn rls_conn(&mut self, a: Approach) -> &mut sqlx::PgConnection {
        &mut self.rls.iter_mut().find(|(r, _)| *r == a).unwrap().1
    }

    /// Sets the user the row-level-security policies filter for (not timed: an application
    /// sets it once per transaction).
    async fn set_user(&mut self, user: u32) {
        for (_, c) in &mut self.rls {
            sqlx::query("SELECT set_config('rampart.user', $1, false)")
                .bind(user.to_string())
                .execute(&mut *c)
                .await
                .unwrap();
        }
    }

    /// The statement and its binds for a baseline.
    fn baseline_sql(&self, a: Approach, f: &ListFilter) -> String {
        match a {
            Approach::Closure => self.closure.clone(),
            Approach::RlsIn | Approach::RlsArray => baselines::rls_sql(),
            Approach::Naive => baselines::naive_sql(self.pg(), f, self.reports),
            Approach::Rampart => unreachable!(),
        }
    }

    /// One run of approach `a` for `f`'s user: the page.
    async fn page(&mut self, a: Approach, f: &ListFilter, user: u32) -> Page {
        if a == Approach::Rampart {
            let page = self.store.readable_records(f, None, 50).await.unwrap();
            return page
                .into_iter()
                .map(|(k, o)| (k, o.map(i64::from)))
                .collect();
        }
        let sql = self.baseline_sql(a, f);
        let binds: &[i64] = if a.role().is_some() {
            &[]
        } else {
            &[i64::from(user), i64::from(self.entity.0)]
        };
        let json = if a.role().is_some() {
            let c = self.rls_conn(a);
            sqlx::query_scalar::<_, String>(&sql)
                .persistent(false)
                .fetch_one(&mut *c)
                .await
                .unwrap()
        } else {
            let persistent = !self.pg();
            load::on!(&mut self.conn, |c| {
                let mut q = sqlx::query_scalar::<_, String>(&sql).persistent(persistent);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_one(&mut *c).await.unwrap()
            })
        };
        parse_page(&json)
    }

    /// The plan of approach `a` for `f`'s user, one line per row.
    async fn explain(&mut self, a: Approach, f: &ListFilter, user: u32) -> Vec<String> {
        // Warm, as in the timed runs.
        self.page(a, f, user).await;
        if a == Approach::Rampart {
            return self.store.explain_readable(f).await.unwrap();
        }
        let prefix = if self.pg() {
            "EXPLAIN (ANALYZE, BUFFERS) "
        } else {
            "EXPLAIN QUERY PLAN "
        };
        let sql = format!("{prefix}{}", self.baseline_sql(a, f));
        if a.role().is_some() {
            let c = self.rls_conn(a);
            return sqlx::query_scalar::<_, String>(&sql)
                .persistent(false)
                .fetch_all(&mut *c)
                .await
                .unwrap();
        }
        let binds = [i64::from(user), i64::from(self.entity.0)];
        match &mut self.conn {
            Conn::Pg(c) => sqlx::query_scalar::<_, String>(&sql)
                .persistent(false)
                .bind(binds[0])
                .bind(binds[1])
                .fetch_all(&mut *c)
                .await
                .unwrap(),
            Conn::Sqlite(c) => {
                use sqlx::Row as _;
                let rows = sqlx::query(&sql)
                    .bind(binds[0])
                    .bind(binds[1])
                    .fetch_all(&mut *c)
                    .await
                    .unwrap();
                rows.iter().map(|r| r.get::<String, _>("detail")).collect()
            }
        }
    }

    /// The cost of a one-row query through the store (its reader pool) and through the
    /// baselines' direct connection: what every page pays before its own work.
    async fn floor(&mut self) {
        // Prepared and kept, as the store's own statement is.
        let sql = "SELECT revision FROM authz_revision WHERE id = 1";
        let persistent = true;
        let (mut store, mut direct) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let t = Instant::now();
            self.store.authz_revision().await.unwrap();
            store.push(t.elapsed());
            let t = Instant::now();
            load::on!(&mut self.conn, |c| {
                sqlx::query_scalar::<_, i64>(sql)
                    .persistent(persistent)
                    .fetch_one(&mut *c)
                    .await
                    .unwrap();
            });
            direct.push(t.elapsed());
        }
        eprintln!(
            "floor: a one-row query takes {} through the store's reader pool, {} on the direct connection (p50 of 200 each)",
            ms(median(&store)),
            ms(median(&direct))
        );
    }

    /// A batch of runs of `a`, each checked against `expected`: the timings.
    async fn batch(
        &mut self,
        a: Approach,
        f: &ListFilter,
        user: u32,
        expected: &Page,
    ) -> Vec<Duration> {
        // One untimed run first: another approach may just have pushed this one's pages out of
        // the caches (a bitmap scan of half the records does).
        let t = Instant::now();
        let page = self.page(a, f, user).await;
        assert_eq!(&page, expected, "{} gives Rampart's page", a.label());
        // A baseline that takes over half a second cannot be the fastest: timed once a round.
        let runs = if t.elapsed() > Duration::from_millis(500) {
            1
        } else {
            3
        };
        let started = Instant::now();
        let mut out = Vec::new();
        while out.len() < 25 && (out.len() < runs || started.elapsed() < Duration::from_secs(1)) {
            let t = Instant::now();
            let page = self.page(a, f, user).await;
            out.push(t.elapsed());
            assert_eq!(&page, expected, "{} gives Rampart's page", a.label());
        }
        out.sort_unstable();
        out
    }
}

/// One user's results: per approach, the per-round medians.
struct Measured {
    name: &'static str,
    below: u32,
    walk: bool,
    rounds: Vec<(Approach, Vec<Duration>)>,
    p99: Duration,
    load: (String, String),
}

impl Measured {
    fn of(&self, a: Approach) -> Duration {
        median(&self.rounds.iter().find(|(b, _)| *b == a).unwrap().1)
    }

    /// Per round, baseline ÷ Rampart: the lowest and the highest.
    fn round_ratios(&self, a: Approach) -> (f64, f64) {
        let ours = &self.rounds[0].1;
        let theirs = &self.rounds.iter().find(|(b, _)| *b == a).unwrap().1;
        let r: Vec<f64> = ours
            .iter()
            .zip(theirs)
            .map(|(o, t)| t.as_secs_f64() / o.as_secs_f64())
            .collect();
        (
            r.iter().copied().fold(f64::INFINITY, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        )
    }

    /// The fastest DBA-written baseline (the naive CTE is not one).
    fn best(&self) -> Approach {
        self.rounds
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| !matches!(a, Approach::Rampart | Approach::Naive))
            .min_by_key(|a| self.of(*a))
            .unwrap()
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let scale: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let backend = args.next().unwrap_or_else(|| "sqlite".into());
    let env = |name: &str| std::env::var_os(name).is_some();
    let rounds: usize = std::env::var("RAMPART_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let list_only = env("RAMPART_BENCH_LIST_ONLY");
    let moves_only = env("RAMPART_BENCH_MOVES_ONLY");
    let spec = if scale == 1 {
        DatasetSpec::issue()
    } else {
        DatasetSpec::scaled(scale)
    };
    let tmp = tempfile::tempdir().unwrap();
    let (db_dir, _removed_on_exit) = if env("RAMPART_BENCH_KEEP") {
        (tmp.keep(), None)
    } else {
        (tmp.path().to_owned(), Some(tmp))
    };
    let pg = backend == "postgres";
    let (store, mut loader, url) = if pg {
        let admin = std::env::var("RAMPART_TEST_PG_URL").expect("RAMPART_TEST_PG_URL");
        let name = format!("rampart_bench_{}", std::process::id());
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let store = Store::open_postgres(&url, 8).await.unwrap();
        store.migrate().await.unwrap();
        let conn = Conn::Pg(sqlx::PgConnection::connect(&url).await.unwrap());
        (store, conn, url)
    } else {
        let path = db_dir.join("bench.db");
        eprintln!("SQLite database: {}", path.display());
        let store = Store::open_sqlite(&path).await.unwrap();
        store.migrate().await.unwrap();
        store.close().await;
        let url = format!("sqlite://{}", path.display());
        let conn = Conn::Sqlite(sqlx::SqliteConnection::connect(&url).await.unwrap());
        (Store::open_sqlite(&path).await.unwrap(), conn, url)
    };
    let kind = store.kind().as_str();
    eprintln!(
        "## {kind} — {} users, {} units, {} records, {} grants (scale 1/{scale})\n",
        spec.users(),
        spec.units,
        spec.records,
        spec.grants
    );
    let started = Instant::now();
    load::fill(&mut loader, &spec, moves_only).await;
    let load_time = started.elapsed();
    eprintln!("bulk load with indexes (and the baselines' tables): {load_time:.1?}");

    let ctx = AuditContext {
        node_id: "bench".into(),
        ..AuditContext::default()
    };
    let t = Instant::now();
    let rebuilt = store
        .authz_rebuild(&ctx, OffsetDateTime::now_utc(), None, &mut |_, _| {})
        .await
        .unwrap();
    let rebuild_time = t.elapsed();
    let t = Instant::now();
    let view = store.authz_load(&mut |_, _| {}).await.unwrap();
    eprintln!(
        "rebuild (recompute and compare {} materialised paths, {} repaired): {rebuild_time:.2?}; index load from the tables: {:.2?} ({:.1} MiB of index)",
        rebuilt.nodes,
        rebuilt.paths_fixed,
        t.elapsed(),
        view.acl.heap_bytes() as f64 / 1048576.0
    );
    let acl = spec.build_acl().unwrap();
    let who: Personas = spec.personas(&acl);
    let entity = view.entity("sale").unwrap();
    let (h, _) = view.hierarchy("reports").unwrap();
    let tree = view.acl.hierarchy(h).unwrap();
    if moves_only {
        moves::run(&store, &spec, &acl, who.director, h, entity).await;
        return;
    }

    // RAMPART_BENCH_LOCK=FILE: the timed part waits for an exclusive lock on FILE (as
    // `flock FILE` would take it), so loading can run beside other benchmarks.
    let _lock = std::env::var_os("RAMPART_BENCH_LOCK").map(|path| {
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        eprintln!("waiting for the benchmark lock …");
        file.lock().unwrap();
        file
    });
    // The baselines' connection: a fresh one with the store's reader settings.
    drop(loader);
    let conn = if pg {
        Conn::Pg(sqlx::PgConnection::connect(&url).await.unwrap())
    } else {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
        use std::str::FromStr as _;
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .journal_mode(SqliteJournalMode::Wal)
            .read_only(true);
        Conn::Sqlite(
            sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap(),
        )
    };
    let mut rls = Vec::new();
    if pg {
        for a in [Approach::RlsIn, Approach::RlsArray] {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(&format!("SET ROLE {}", a.role().unwrap()))
                .execute(&mut c)
                .await
                .unwrap();
            rls.push((a, c));
        }
    }
    let mut approaches = vec![Approach::Rampart, Approach::Closure];
    if pg {
        approaches.push(Approach::RlsIn);
        // The array policy's plan reads every readable record for a director or the top
        // (seconds per run on the full data set): RAMPART_BENCH_NO_ARRAY=1 leaves it out.
        if !env("RAMPART_BENCH_NO_ARRAY") {
            approaches.push(Approach::RlsArray);
        }
    }
    if env("RAMPART_BENCH_NAIVE") {
        approaches.push(Approach::Naive);
    }
    let mut runner = Runner {
        store,
        conn,
        rls,
        entity,
        reports: h,
        closure: baselines::closure_sql(pg, UNITS),
    };

    let mut results = Vec::new();
    for (name, user) in named(&who) {
        let f = view.list_filter(entity, user, 50).unwrap();
        let below = tree.subtree_size(user).unwrap() - 1;
        eprintln!("\n### {name} (user {user}, {below} people below)\n");
        runner.set_user(user).await;
        // A first run of each: the expected page, and every cache warm.
        let expected = runner.page(Approach::Rampart, &f, user).await;
        for &a in &approaches[1..] {
            assert_eq!(
                runner.page(a, &f, user).await,
                expected,
                "{} gives Rampart's page",
                a.label()
            );
        }
        if name == "rep" {
            runner.floor().await;
        }
        let load_start = load1();
        let mut per_round: Vec<(Approach, Vec<Duration>)> =
            approaches.iter().map(|&a| (a, Vec::new())).collect();
        let mut all_ours = Vec::new();
        for round in 0..rounds {
            let mut order: Vec<usize> = (0..approaches.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let timings = runner.batch(approaches[i], &f, user, &expected).await;
                if i == 0 {
                    all_ours.extend_from_slice(&timings);
                }
                per_round[i].1.push(percentile(&timings, 0.5));
            }
        }
        all_ours.sort_unstable();
        let m = Measured {
            name,
            below,
            walk: f.walk_in_order,
            rounds: per_round,
            p99: percentile(&all_ours, 0.99),
            load: (load_start, load1()),
        };
        for (a, r) in &m.rounds {
            let list: Vec<String> = r.iter().map(|d| ms(*d)).collect();
            eprintln!(
                "{:<40} p50 {:>10}   (rounds: {})",
                a.label(),
                ms(m.of(*a)),
                list.join(", ")
            );
        }
        for &a in &approaches {
            eprintln!("\nplan, {} — {name}:", a.label());
            for line in runner.explain(a, &f, user).await {
                eprintln!("    {line}");
            }
        }
        results.push(m);
    }

    report(&results, pg, scale, &spec, rounds, load_time);

    if !list_only {
        eprintln!();
        for (name, user) in named(&who) {
            let f = view.list_filter(entity, user, 50).unwrap();
            let t = Instant::now();
            let count = runner.store.count_readable(&f).await.unwrap();
            eprintln!(
                "readable rows for the {name}: {count} (counted in {})",
                ms(t.elapsed())
            );
        }
        moves::run(&runner.store, &spec, &acl, who.director, h, entity).await;
        let hwm = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM"))
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        eprintln!("peak memory of this process: {hwm}");
    }
}

/// The summary table (stderr) and one JSON line per figure (stdout).
fn report(
    results: &[Measured],
    pg: bool,
    scale: u32,
    spec: &DatasetSpec,
    rounds: usize,
    load_time: Duration,
) {
    let backend = if pg { "PostgreSQL" } else { "SQLite" };
    let data = format!(
        "{backend}, 1/{scale} scale: {} users, {} records, {} grants (loaded in {:.0} s)",
        spec.users(),
        spec.records,
        spec.grants,
        load_time.as_secs_f64()
    );
    let command = format!(
        "RAMPART_BENCH_LIST_ONLY=1 list_filter {scale} {}",
        if pg { "postgres" } else { "sqlite" }
    );
    let approaches: Vec<Approach> = results[0].rounds.iter().map(|(a, _)| *a).collect();
    eprintln!("\n## Summary — {data}\n");
    let mut head = String::from("| user | people below | Rampart p50 | p99 |");
    let mut rule = String::from("|---|---:|---:|---:|");
    for a in &approaches[1..] {
        head.push_str(&format!(" {} p50 (÷ Rampart) |", a.label()));
        rule.push_str("---:|");
    }
    eprintln!("{head}\n{rule}");
    for m in results {
        let ours = m.of(Approach::Rampart);
        let mut row = format!(
            "| {}{} | {} | {} | {} |",
            m.name,
            if m.walk { " (walk)" } else { "" },
            m.below,
            ms(ours),
            ms(m.p99)
        );
        for a in &approaches[1..] {
            let theirs = m.of(*a);
            row.push_str(&format!(
                " {} ({:.2}×) |",
                ms(theirs),
                theirs.as_secs_f64() / ours.as_secs_f64()
            ));
        }
        eprintln!("{row}");
    }
    for m in results {
        let ours = m.of(Approach::Rampart);
        let best = m.best();
        let theirs = m.of(best);
        let (lo, hi) = m.round_ratios(best);
        let line = serde_json::json!({
            "capability": "Authorization — list filtering",
            "figure": format!("first page of 50, {} ({} people below), {backend} 1/{scale}", m.name, m.below),
            "target": "Rampart's p50 ≤ the best DBA-written baseline's",
            "value": format!("{} (p99 {})", ms(ours), ms(m.p99)),
            "baseline": format!(
                "{}: {} — baseline ÷ Rampart {:.2}× (per round {lo:.2}–{hi:.2})",
                best.label(), ms(theirs), theirs.as_secs_f64() / ours.as_secs_f64()
            ),
            "limit": ms(theirs),
            "met": ours <= theirs,
            "rounds": rounds,
            "load": format!("{}–{}", m.load.0, m.load.1),
            "command": command,
        });
        println!("{line}");
    }
    if pg {
        if let Some(m) = results.iter().find(|m| m.name == "director") {
            let ours = m.of(Approach::Rampart);
            let rls = m
                .rounds
                .iter()
                .map(|(a, _)| *a)
                .filter(|a| a.role().is_some())
                .min_by_key(|a| m.of(*a))
                .unwrap();
            let theirs = m.of(rls);
            let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
            let (lo, hi) = m.round_ratios(rls);
            let line = serde_json::json!({
                "capability": "Authorization — list filtering",
                "figure": format!("director ({} people below) against the set-based RLS policy, {backend} 1/{scale}", m.below),
                "target": "≥ 2× faster than the RLS policy",
                "value": format!("{ratio:.2}× (per round {lo:.2}–{hi:.2})"),
                "baseline": format!("{}: {}; Rampart {}", rls.label(), ms(theirs), ms(ours)),
                "limit": "2×",
                "met": ratio >= 2.0,
                "rounds": rounds,
                "load": format!("{}–{}", m.load.0, m.load.1),
                "command": command,
            });
            println!("{line}");
        }
    }
}
