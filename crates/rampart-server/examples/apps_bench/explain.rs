//! `apps_bench explain`: for each persona, the first-page statement the data API runs (the
//! reader's row rule inside) and the same statement without the rule: `EXPLAIN QUERY PLAN`,
//! and the time of each alone, with no HTTP, session, role or audit around it — through the
//! store (`Store::app_records`, the application database's reader pool, the rows decoded
//! into records) and on a direct connection to the same files (the rows stepped, not
//! decoded). Also the in-process steps around the statement: the rule from the index and the
//! statement's compilation. Prints markdown on stdout.
//!
//! With `APPS_WHAT_IF=1` (it changes the data directory: give it a copy) two experiments
//! follow, on the director's statement on the direct connection: its time while another
//! connection commits a one-row write to the platform's database every 2 ms (as the audit
//! log's appends do under load), with SQLite's default I/O and with memory-mapped I/O
//! (`mmap_size`); and its time and plan once the entity's table has an index on
//! `(id, owner)`.

use std::path::Path;
use std::time::{Duration, Instant};

use rampart_apps::access::serving_table;
use rampart_apps::list::{compile_list, Bind, Compiled, ListRequest, RowFilter, Sort};
use rampart_authz::acl::Actions;
use rampart_model::Module;
use rampart_service::apps::rows::MemberSets;
use rampart_store::Store;
use serde_json::Value as Json;
use sqlx::{Connection as _, Row as _};

use crate::{user_id, APPLICATION, ENTITY, ENVIRONMENT, MODULE_NAME};

fn bound<'q>(
    sql: &'q str,
    c: &'q Compiled,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let mut q = sqlx::query(sql);
    for b in &c.binds {
        q = match b {
            Bind::Null => q.bind(Option::<String>::None),
            Bind::Int(i) => q.bind(*i),
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Bool(v) => q.bind(*v),
            Bind::Bytes(v) => q.bind(v.as_slice()),
        };
    }
    q
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub async fn run(dir: &Path, info: &Path) {
    let bench: Json =
        serde_json::from_str(&std::fs::read_to_string(info.join("bench.json")).unwrap()).unwrap();
    let store = Store::open_sqlite(&dir.join("rampart.db")).await.unwrap();
    let view = store.authz_load(&mut |_, _| {}).await.unwrap();
    let (_, models) = store.running_models(ENVIRONMENT).await.unwrap();
    let (_, _, model) = models.iter().find(|(n, _, _)| n == MODULE_NAME).unwrap();
    let module: Module = serde_json::from_str(model).unwrap();
    let entity = module.entities.iter().find(|e| e.name == ENTITY).unwrap();
    let db = store
        .app_database(ENVIRONMENT, APPLICATION, &entity.database)
        .await
        .unwrap()
        .unwrap();
    let layout = store.app_layout(&db).await.unwrap();
    let table = serving_table(&layout, MODULE_NAME, entity).unwrap();
    let target = store.app_target(&db);
    let file = dir.join("apps").join(format!("{}.db", db.num));
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display()))
        .await
        .unwrap();
    sqlx::query("ATTACH DATABASE $1 AS platform")
        .bind(dir.join("rampart.db").to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .unwrap();
    let request = ListRequest {
        filters: Vec::new(),
        sort: Sort::default(),
        after: None,
        limit: rampart_apps::list::DEFAULT_LIMIT,
    };
    let plain = compile_list(&target, &table, &request, &RowFilter::All);
    println!("## The first page's statement alone, in process\n");
    println!(
        "Each statement {} times through the store (`Store::app_records`: the reader pool, rows \
         decoded into records) and {} times on a direct read-only connection (rows stepped), \
         p50; the rule from the authorization index and the statement's compilation, p50 of \
         10,000.\n",
        RUNS, RUNS
    );
    println!(
        "| reader | people below | shape | rule + compile | through the store | direct | without the rule: store | direct | store ÷ without |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut plans = String::new();
    for role in ["rep", "manager", "director"] {
        let p = &bench["personas"][role];
        let user = user_id(p["num"].as_u64().unwrap() as u32);
        let mut prep = Vec::new();
        let mut ruled = None;
        let mut walk = false;
        for _ in 0..10_000 {
            let t = Instant::now();
            let rule = rampart_service::apps::rows::rule(
                &view,
                &MemberSets::default(),
                &table,
                user,
                Actions::READ,
                50,
            );
            walk = rule.walk;
            let c = compile_list(&target, &table, &request, &RowFilter::Rule(rule));
            prep.push(t.elapsed());
            ruled = Some(c);
        }
        let ruled = ruled.unwrap();
        let (store_ruled, direct_ruled) = time(&store, &db, &table, &mut conn, &ruled, p).await;
        let (store_plain, direct_plain) = time(&store, &db, &table, &mut conn, &plain, p).await;
        println!(
            "| {role} | {} | {} | {} | {} | {} | {} | {} | {:.2}× |",
            p["below"],
            if walk { "walk" } else { "collect" },
            us(p50(prep)),
            us(store_ruled),
            us(direct_ruled),
            us(store_plain),
            us(direct_plain),
            store_ruled.as_secs_f64() / store_plain.as_secs_f64()
        );
        plans.push_str(&format!(
            "### {role} ({} people below): {}\n\n```sql\n{}\n```\n\n```text\n{}```\n\n",
            p["below"],
            if walk {
                "walk (the table in id order, each row's owner probed)"
            } else {
                "collect (each part's first page, merged)"
            },
            ruled.sql,
            explain(&mut conn, &ruled).await
        ));
    }
    plans.push_str(&format!(
        "### without the rule (the benchmark-only route)\n\n```sql\n{}\n```\n\n```text\n{}```\n",
        plain.sql,
        explain(&mut conn, &plain).await
    ));
    println!("\n## Query plans (`EXPLAIN QUERY PLAN`)\n\n{plans}");
    store.close().await;
    if std::env::var("APPS_WHAT_IF").as_deref() == Ok("1") {
        let director = &bench["personas"]["director"];
        let user = user_id(director["num"].as_u64().unwrap() as u32);
        let rule = rampart_service::apps::rows::rule(
            &view,
            &MemberSets::default(),
            &table,
            user,
            Actions::READ,
            50,
        );
        let ruled = compile_list(&target, &table, &request, &RowFilter::Rule(rule));
        let rep = &bench["personas"]["rep"];
        let leaf = leaf_statement(&target, &table, rep);
        what_if(dir, &file, &table, (&ruled, &leaf), &plain).await;
    }
}

/// The rep's page as a statement could read it for a reader nobody reports to: their own
/// rows in id order through the owner index, without the platform's tables.
fn leaf_statement(
    target: &rampart_apps::ddl::Target,
    table: &rampart_apps::schema::Table,
    rep: &Json,
) -> Compiled {
    let owner = table.owner_column().unwrap();
    Compiled {
        sql: format!(
            "SELECT {} FROM {} t WHERE t.\"{}\" = $1 ORDER BY t.\"id\" LIMIT $2",
            rampart_apps::list::select_list(target.dialect, table, "t"),
            target.table(&table.name),
            owner.name
        ),
        binds: vec![
            Bind::Text(user_id(rep["num"].as_u64().unwrap() as u32).to_string()),
            Bind::Int(51),
        ],
        plan_once: true,
    }
}

/// p50 of `RUNS` runs of `c` on `conn`, and the `pread` calls of this process meanwhile.
async fn direct_p50(conn: &mut sqlx::SqliteConnection, c: &Compiled) -> (Duration, u64) {
    bound(&c.sql, c).fetch_all(&mut *conn).await.unwrap();
    let before = syscr();
    let mut t = Vec::new();
    for _ in 0..RUNS {
        let s = Instant::now();
        bound(&c.sql, c).fetch_all(&mut *conn).await.unwrap();
        t.push(s.elapsed());
    }
    (p50(t), (syscr() - before) / RUNS as u64)
}

/// Read calls of this process so far (`/proc/self/io`'s `syscr`: `read` and `pread`).
fn syscr() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("syscr: ")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn connect(file: &Path, platform: &Path, mmap: bool) -> sqlx::SqliteConnection {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display()))
        .await
        .unwrap();
    if mmap {
        sqlx::query("PRAGMA mmap_size = 1073741824")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("ATTACH DATABASE $1 AS platform")
        .bind(platform.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn what_if(
    dir: &Path,
    file: &Path,
    table: &rampart_apps::schema::Table,
    (ruled, leaf): (&Compiled, &Compiled),
    plain: &Compiled,
) {
    let platform = dir.join("rampart.db");
    {
        let mut conn = connect(file, &platform, false).await;
        let (l, lr) = direct_p50(&mut conn, leaf).await;
        let (p, _) = direct_p50(&mut conn, plain).await;
        println!(
            "## What if: the rep's page as their own rows only (they have nobody below)\n\n\
             `{}`: {} ({lr} read calls per run), against {} without any rule (direct connection, \
             p50 of {RUNS}; plan: {}).\n",
            leaf.sql,
            us(l),
            us(p),
            explain(&mut conn, leaf).await.trim().replace('\n', "; ")
        );
    }
    println!("## What if (the director's statement, direct connection, p50 of {RUNS})\n");
    println!("| experiment | with the rule | read calls per run | without the rule | read calls per run |");
    println!("|---|---:|---:|---:|---:|");
    // Platform commits every 2 ms from another connection, as the audit log's appends.
    let url = format!("sqlite://{}", platform.display());
    let mut writer = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_tick (n INTEGER)")
        .execute(&mut writer)
        .await
        .unwrap();
    let mut ticker: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<i64>,
    )> = None;
    for (label, mmap, tick) in [
        ("quiet platform database, default I/O", false, false),
        ("a platform commit every 2 ms, default I/O", false, true),
        (
            "a platform commit every 2 ms, mmap_size = 1 GiB",
            true,
            true,
        ),
        ("quiet platform database, mmap_size = 1 GiB", true, false),
    ] {
        if tick && ticker.is_none() {
            let (stop, mut stopped) = tokio::sync::watch::channel(false);
            let mut w = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let task = tokio::spawn(async move {
                let mut n = 0i64;
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        () = tokio::time::sleep(Duration::from_millis(2)) => {}
                    }
                    n += 1;
                    sqlx::query("INSERT INTO bench_tick (n) VALUES ($1)")
                        .bind(n)
                        .execute(&mut w)
                        .await
                        .unwrap();
                }
                n
            });
            ticker = Some((stop, task));
        }
        if !tick {
            if let Some((stop, task)) = ticker.take() {
                let _ = stop.send(true);
                eprintln!("{} platform commits", task.await.unwrap());
            }
        }
        let mut conn = connect(file, &platform, mmap).await;
        let (r, rr) = direct_p50(&mut conn, ruled).await;
        let (p, pr) = direct_p50(&mut conn, plain).await;
        println!("| {label} | {} | {rr} | {} | {pr} |", us(r), us(p));
    }
    drop(writer);
    // An index on (id, owner): the walk reads the owner from the index instead of the row.
    let owner = table.owner_column().unwrap().name.clone();
    let mut w = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let t = Instant::now();
    sqlx::query(&format!(
        "CREATE INDEX bench_id_owner ON \"{}\" (\"id\", \"{owner}\")",
        table.name
    ))
    .execute(&mut w)
    .await
    .unwrap();
    let built = t.elapsed();
    drop(w);
    let mut conn = connect(file, &platform, false).await;
    let (r, rr) = direct_p50(&mut conn, ruled).await;
    let (p, pr) = direct_p50(&mut conn, plain).await;
    println!(
        "| an index on (id, {owner}) (built in {built:.1?}), quiet, default I/O | {} | {rr} | {} | {pr} |",
        us(r),
        us(p)
    );
    println!(
        "\nThe director's plan with that index:\n\n```text\n{}```",
        explain(&mut conn, ruled).await
    );
}

const RUNS: usize = 300;

/// The statement's p50 through the store and on the direct connection; the first run's
/// page checked against the expected one when the statement has the rule.
async fn time(
    store: &Store,
    db: &rampart_store::AppDatabase,
    table: &rampart_apps::schema::Table,
    conn: &mut sqlx::SqliteConnection,
    c: &Compiled,
    persona: &Json,
) -> (Duration, Duration) {
    let records = store.app_records(db, table, c).await.unwrap();
    if c.sql.contains("platform") {
        let want: Vec<&str> = persona["first_page"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let got: Vec<&str> = records.iter().take(50).map(|r| r.id.as_str()).collect();
        assert_eq!(got, want, "the statement gives the expected page");
    }
    let (mut through, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        store.app_records(db, table, c).await.unwrap();
        through.push(t.elapsed());
        let t = Instant::now();
        let rows = bound(&c.sql, c).fetch_all(&mut *conn).await.unwrap();
        direct.push(t.elapsed());
        assert!(!rows.is_empty());
    }
    (p50(through), p50(direct))
}

async fn explain(conn: &mut sqlx::SqliteConnection, c: &Compiled) -> String {
    let sql = format!("EXPLAIN QUERY PLAN {}", c.sql);
    let rows = bound(&sql, c).fetch_all(&mut *conn).await.unwrap();
    // id, parent, detail: indent each line by its depth.
    let mut depth: Vec<(i64, usize)> = Vec::new();
    let mut out = String::new();
    for r in rows {
        let (id, parent, detail): (i64, i64, String) = (r.get(0), r.get(1), r.get(3));
        let d = depth
            .iter()
            .find(|(i, _)| *i == parent)
            .map_or(0, |(_, d)| d + 1);
        depth.push((id, d));
        out.push_str(&format!("{}{detail}\n", "  ".repeat(d)));
    }
    out
}
