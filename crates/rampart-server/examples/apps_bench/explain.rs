//! `apps_bench explain`: for each persona, the first-page statement the data API runs (the
//! reader's row rule inside) and the same statement without the rule: `EXPLAIN QUERY PLAN`,
//! and the time of each alone, with no HTTP, session, role or audit around it — through the
//! store (`Store::app_records`, the application database's reader pool, the rows decoded
//! into records) and on a direct connection to the same files (the rows stepped, not
//! decoded). Also the in-process steps around the statement: the rule from the index and the
//! statement's compilation. Prints markdown on stdout.

use std::path::Path;
use std::time::{Duration, Instant};

use rampart_apps::access::serving_table;
use rampart_apps::list::{compile_list, Bind, Compiled, ListRequest, RowFilter, Sort};
use rampart_authz::acl::Actions;
use rampart_model::Module;
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
        for _ in 0..10_000 {
            let t = Instant::now();
            let rule = rampart_service::apps::rows::rule(&view, &table, user, Actions::READ, 50);
            let c = compile_list(&target, &table, &request, &RowFilter::Rule(rule));
            prep.push(t.elapsed());
            ruled = Some(c);
        }
        let ruled = ruled.unwrap();
        let walk = ruled.sql.contains("EXISTS");
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
