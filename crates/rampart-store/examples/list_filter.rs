//! List filtering inside the database on issue #3's data set, on SQLite or PostgreSQL:
//! the first page of 50 readable records (sorted by key) for a leaf rep, a first-line
//! manager, a director and the top of the tree, with both query shapes, against the seed's
//! recursive CTE in the same run; the count of readable rows; query plans; moving a director
//! with about 10,000 people; rebuilding and loading the index.
//!
//! ```text
//! cargo run --release -p rampart-store --example list_filter -- [SCALE] [sqlite|postgres]
//! ```
//! SCALE divides users, records and grants (1 = the full data set). With
//! `RAMPART_BENCH_MOVES_ONLY=1` only the trees are loaded and only the moves are timed. PostgreSQL needs
//! `RAMPART_TEST_PG_URL` (as `scripts/pg-throwaway.sh` exports); a fresh database is created.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::time::{Duration, Instant};

use rampart_authz::acl::{Actions, RecordRef};
use rampart_authz::dataset::{DatasetSpec, Personas, REPORTS};
use rampart_authz::view::ListFilter;
use rampart_core::{AuditContext, UserId};
use rampart_store::{AuthzOp, NodeRef, Store};
use sqlx::Connection as _;
use time::OffsetDateTime;
use uuid::Uuid;

fn user_id(num: u32) -> UserId {
    UserId(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(num),
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// A baseline's median and its ratio to ours.
fn versus(baseline: &[Duration], ours: Duration) -> String {
    let p50 = percentile(baseline, 0.5);
    format!(
        "{} ({:.1}×)",
        ms(p50),
        p50.as_secs_f64() / ours.as_secs_f64()
    )
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// A value to bind.
enum V {
    I(i64),
    T(String),
    B(Vec<u8>),
    N,
}

/// A direct connection for bulk loading and the baseline queries.
enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

macro_rules! on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Pg($c) => $body,
        }
    };
}

macro_rules! bind_all {
    ($q:expr, $values:expr) => {{
        let mut q = $q;
        for v in $values {
            q = match v {
                V::I(i) => q.bind(i),
                V::T(t) => q.bind(t),
                V::B(b) => q.bind(b),
                V::N => q.bind(Option::<i64>::None),
            };
        }
        q
    }};
}

impl Conn {
    async fn exec(&mut self, sql: &str) {
        on!(self, |c| {
            sqlx::query(sql).execute(&mut *c).await.unwrap();
        })
    }

    /// Inserts `rows` into `table` in multi-row statements inside one transaction.
    async fn bulk(&mut self, table: &str, cols: &[&str], rows: impl Iterator<Item = Vec<V>>) {
        let width = cols.len();
        let per = 30_000 / width;
        // SQLite resolves `$N` parameters by name, which costs quadratic time in huge
        // statements: plain `?` there.
        let positional = matches!(self, Conn::Sqlite(_));
        let statement = |n: usize| {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            for r in 0..n {
                sql.push_str(if r == 0 { "(" } else { ",(" });
                for c in 0..width {
                    if c > 0 {
                        sql.push(',');
                    }
                    if positional {
                        sql.push('?');
                    } else {
                        sql.push_str(&format!("${}", r * width + c + 1));
                    }
                }
                sql.push(')');
            }
            sql
        };
        let full = statement(per);
        self.exec("BEGIN").await;
        let mut batch: Vec<V> = Vec::with_capacity(per * width);
        let mut n = 0;
        for row in rows {
            batch.extend(row);
            n += 1;
            if n == per {
                let values = std::mem::take(&mut batch);
                on!(self, |c| {
                    bind_all!(sqlx::query(&full), values)
                        .execute(&mut *c)
                        .await
                        .unwrap();
                });
                n = 0;
            }
        }
        if n > 0 {
            let sql = statement(n);
            on!(self, |c| {
                bind_all!(sqlx::query(&sql), batch)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            });
        }
        self.exec("COMMIT").await;
    }

    async fn strings(&mut self, sql: &str, binds: &[i64]) -> Vec<String> {
        on!(self, |c| {
            let mut q = sqlx::query_scalar::<_, String>(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_all(&mut *c).await.unwrap()
        })
    }
}

/// Materialised paths as the store writes them: 4 big-endian bytes per level.
fn paths(managers: &[Option<u32>]) -> Vec<Vec<u8>> {
    // Managers come before their reports (users are numbered level by level).
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(managers.len());
    for (i, m) in managers.iter().enumerate() {
        let own = (i as u32).to_be_bytes();
        let path = match m {
            Some(m) => [&out[*m as usize][..], &own].concat(),
            None => own.to_vec(),
        };
        out.push(path);
    }
    out
}

/// Writes the data set as the store would have: users, numbers, trees with paths, seats,
/// groups, the entity, records and grants.
async fn fill(conn: &mut Conn, spec: &DatasetSpec, moves_only: bool) {
    if let Conn::Sqlite(_) = conn {
        // Records arrive in random key order: with SQLite's default 2 MB page cache every
        // insert into the key and owner indexes goes to disk. 1 GB keeps them in memory.
        conn.exec("PRAGMA cache_size = -1000000").await;
    }
    let managers = spec.managers();
    let paths = paths(&managers);
    let users = spec.users();
    conn.bulk(
        "users",
        &[
            "id",
            "provider",
            "username",
            "username_norm",
            "password_hash",
            "password_changed_at",
            "created_at",
            "updated_at",
        ],
        (0..users).map(|u| {
            vec![
                V::T(user_id(u).to_string()),
                V::T("end".into()),
                V::T(format!("u{u}")),
                V::T(format!("u{u}")),
                V::T("-".into()),
                V::I(0),
                V::I(0),
                V::I(0),
            ]
        }),
    )
    .await;
    conn.bulk(
        "authz_users",
        &["num", "user_id"],
        (0..users).map(|u| vec![V::I(i64::from(u)), V::T(user_id(u).to_string())]),
    )
    .await;
    conn.exec("INSERT INTO authz_hierarchies (num, name, kind, created_at) VALUES (0, 'reports', 'reports_to', 0), (1, 'units', 'units', 0)").await;
    conn.bulk(
        "authz_nodes",
        &["hierarchy_num", "node_num", "node_key", "parent_num"],
        (0..users).map(|u| {
            vec![
                V::I(0),
                V::I(i64::from(u)),
                V::T(user_id(u).to_string()),
                managers[u as usize].map_or(V::N, |m| V::I(i64::from(m))),
            ]
        }),
    )
    .await;
    conn.bulk(
        "authz_node_paths",
        &["hierarchy_num", "node_num", "path"],
        (0..users).map(|u| vec![V::I(0), V::I(i64::from(u)), V::B(paths[u as usize].clone())]),
    )
    .await;
    let unit_parents = spec.unit_parents();
    conn.bulk(
        "authz_nodes",
        &["hierarchy_num", "node_num", "node_key", "parent_num"],
        unit_parents.iter().enumerate().map(|(u, p)| {
            vec![
                V::I(1),
                V::I(u as i64),
                V::T(format!("unit-{u}")),
                p.map_or(V::N, |p| V::I(i64::from(p))),
            ]
        }),
    )
    .await;
    conn.bulk(
        "authz_node_paths",
        &["hierarchy_num", "node_num", "path"],
        unit_parents.iter().enumerate().map(|(u, p)| {
            let own = (u as u32).to_be_bytes();
            vec![
                V::I(1),
                V::I(u as i64),
                V::B(match p {
                    Some(p) => [&p.to_be_bytes()[..], &own].concat(),
                    None => own.to_vec(),
                }),
            ]
        }),
    )
    .await;
    conn.bulk(
        "authz_unit_members",
        &["hierarchy_num", "node_num", "user_num"],
        spec.seats()
            .into_iter()
            .map(|(u, n)| vec![V::I(1), V::I(i64::from(n)), V::I(i64::from(u))]),
    )
    .await;
    conn.bulk(
        "authz_groups",
        &["num", "name", "created_at"],
        (0..spec.groups).map(|g| vec![V::I(i64::from(g)), V::T(format!("group-{g}")), V::I(0)]),
    )
    .await;
    conn.bulk(
        "authz_group_members",
        &["group_num", "user_num"],
        spec.memberships()
            .into_iter()
            .map(|(g, u)| vec![V::I(i64::from(g)), V::I(i64::from(u))]),
    )
    .await;
    let grants_flag = match conn {
        Conn::Sqlite(_) => "1",
        Conn::Pg(_) => "TRUE",
    };
    conn.exec(&format!(
        "INSERT INTO acl_entities (num, name, public_actions, owner_hierarchy, grants, created_at) VALUES (0, 'sale', 0, 0, {grants_flag}, 0)"
    ))
    .await;
    // With `moves_only`, the trees, units and groups only: a move touches no record.
    let t = Instant::now();
    if !moves_only {
        conn.bulk(
            "acl_records",
            &["entity_num", "record_num", "record_key", "owner_num"],
            spec.owners().enumerate().map(|(r, o)| {
                vec![
                    V::I(0),
                    V::I(r as i64),
                    V::T(spec.record_key(r as u64)),
                    V::I(i64::from(o)),
                ]
            }),
        )
        .await;
        println!("records loaded in {:.1?}", t.elapsed());
        let mut grants: Vec<(u64, u32, u8)> = spec
            .grants()
            .map(|g| (g.record, g.principal.raw(), g.actions.bits()))
            .collect();
        grants.sort_unstable();
        grants.dedup_by_key(|g| (g.0, g.1));
        conn.bulk(
            "acl_grants",
            &[
                "entity_num",
                "record_num",
                "principal",
                "actions",
                "record_key",
            ],
            grants.into_iter().map(|(r, p, a)| {
                vec![
                    V::I(0),
                    V::I(r as i64),
                    V::I(i64::from(p)),
                    V::I(i64::from(a)),
                    V::T(spec.record_key(r)),
                ]
            }),
        )
        .await;
    }
    for counter in [
        ("user", users),
        ("node:1", spec.units),
        ("group", spec.groups),
        ("hierarchy", 2),
        ("entity", 1),
    ] {
        conn.exec(&format!(
            "INSERT INTO authz_counters (name, next) VALUES ('{}', {})",
            counter.0, counter.1
        ))
        .await;
    }
    conn.exec(&format!(
        "INSERT INTO authz_counters (name, next) VALUES ('record:0', {})",
        spec.records
    ))
    .await;
    // The seed's accelerator: per user, the full list of users in their hierarchy.
    conn.exec("CREATE TABLE bench_user_acl (viewer_num BIGINT NOT NULL, member_num BIGINT NOT NULL, PRIMARY KEY (viewer_num, member_num))").await;
    conn.bulk(
        "bench_user_acl",
        &["viewer_num", "member_num"],
        (0..users).flat_map(|u| {
            let mut rows = Vec::new();
            let mut at = Some(u);
            while let Some(a) = at {
                rows.push(vec![V::I(i64::from(a)), V::I(i64::from(u))]);
                at = managers[a as usize];
            }
            rows
        }),
    )
    .await;
    if let Conn::Pg(_) = conn {
        // A row-level-security policy written the fast way: set-based (uncorrelated
        // subqueries, each run once per statement), the user looked up once from a setting.
        for sql in [
            "DROP ROLE IF EXISTS rampart_bench_reader",
            "CREATE ROLE rampart_bench_reader NOLOGIN",
            "GRANT SELECT ON acl_records, acl_grants, bench_user_acl TO rampart_bench_reader",
            "ALTER TABLE acl_records ENABLE ROW LEVEL SECURITY",
            "CREATE POLICY bench_read ON acl_records FOR SELECT TO rampart_bench_reader USING ( \
               owner_num IN (SELECT a.member_num FROM bench_user_acl a \
                             WHERE a.viewer_num = (SELECT current_setting('rampart.user')::bigint)) \
               OR record_num IN (SELECT g.record_num FROM acl_grants g WHERE g.entity_num = 0 \
                             AND g.principal = ANY (current_setting('rampart.grantees')::bigint[]) \
                             AND (g.actions & 1) = 1))",
        ] {
            conn.exec(sql).await;
        }
    }
    // Statistics, and on PostgreSQL the visibility map (index-only scans skip the heap).
    conn.exec(match conn {
        Conn::Sqlite(_) => "ANALYZE",
        Conn::Pg(_) => "VACUUM ANALYZE",
    })
    .await;
}

/// The seed's approach: walk the hierarchy with a recursive CTE on every request.
fn cte_sql(f: &ListFilter) -> String {
    let grantees: Vec<String> = f.grantees.iter().map(|p| p.raw().to_string()).collect();
    format!(
        "WITH RECURSIVE sub(n) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
         SELECT c.node_num FROM authz_nodes c JOIN sub ON c.hierarchy_num = $2 AND c.parent_num = sub.n) \
         SELECT r.record_key FROM acl_records r WHERE r.entity_num = $3 AND \
         (r.owner_num IN (SELECT n FROM sub) OR r.record_num IN \
         (SELECT g.record_num FROM acl_grants g WHERE g.entity_num = $3 AND g.principal IN ({}) AND (g.actions & 1) = 1)) \
         ORDER BY r.record_key LIMIT 50",
        if grantees.is_empty() { "-1".into() } else { grantees.join(", ") }
    )
}

/// The seed's other approach: the per-user ACL table (every user's whole hierarchy,
/// recomputed on every profile change) joined in.
fn user_acl_sql(f: &ListFilter) -> String {
    cte_sql(f).replace(
        "WITH RECURSIVE sub(n) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
         SELECT c.node_num FROM authz_nodes c JOIN sub ON c.hierarchy_num = $2 AND c.parent_num = sub.n) ",
        "",
    )
    .replace(
        "r.owner_num IN (SELECT n FROM sub)",
        "r.owner_num IN (SELECT a.member_num FROM bench_user_acl a WHERE a.viewer_num = $1 AND $2 >= 0)",
    )
}

/// Times `sql` (bound to the user, the hierarchy and the entity) `reps` times, checking every
/// answer against `expected`; sorted timings.
async fn time_baseline(
    conn: &mut Conn,
    sql: &str,
    binds: &[i64],
    reps: usize,
    expected: &[String],
    what: &str,
) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let rows = conn.strings(sql, binds).await;
        out.push(t.elapsed());
        assert_eq!(rows, expected, "{what} agrees");
    }
    out.sort_unstable();
    out
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let scale: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let backend = args.next().unwrap_or_else(|| "sqlite".into());
    let spec = if scale == 1 {
        DatasetSpec::issue()
    } else {
        DatasetSpec::scaled(scale)
    };
    // RAMPART_BENCH_KEEP=1 keeps the SQLite database for a look with `sqlite3` afterwards.
    let tmp = tempfile::tempdir().unwrap();
    let (db_dir, _removed_on_exit) = if std::env::var_os("RAMPART_BENCH_KEEP").is_some() {
        (tmp.keep(), None)
    } else {
        (tmp.path().to_owned(), Some(tmp))
    };
    let (store, mut conn) = if backend == "postgres" {
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
        (
            store,
            Conn::Pg(sqlx::PgConnection::connect(&url).await.unwrap()),
        )
    } else {
        let path = db_dir.join("bench.db");
        println!("SQLite database: {}", path.display());
        let store = Store::open_sqlite(&path).await.unwrap();
        store.migrate().await.unwrap();
        store.close().await;
        let conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        (Store::open_sqlite(&path).await.unwrap(), Conn::Sqlite(conn))
    };
    println!(
        "## {} — {} users, {} units, {} records, {} grants (scale 1/{scale})\n",
        store.kind().as_str(),
        spec.users(),
        spec.units,
        spec.records,
        spec.grants
    );
    let started = Instant::now();
    // RAMPART_BENCH_MOVES_ONLY=1 times the moves on a quiet machine without the 10 M-record
    // load.
    let moves_only = std::env::var_os("RAMPART_BENCH_MOVES_ONLY").is_some();
    fill(&mut conn, &spec, moves_only).await;
    println!("bulk load with indexes: {:.1?}", started.elapsed());

    let ctx = AuditContext {
        node_id: "bench".into(),
        ..AuditContext::default()
    };
    let now = OffsetDateTime::now_utc();
    let t = Instant::now();
    let rebuilt = store
        .authz_rebuild(&ctx, now, None, &mut |_, _| {})
        .await
        .unwrap();
    let rebuild_time = t.elapsed();
    let t = Instant::now();
    let view = store.authz_load(&mut |_, _| {}).await.unwrap();
    let load_time = t.elapsed();
    println!(
        "rebuild (recompute and compare {} materialised paths, {} repaired): {rebuild_time:.2?}; index load from the tables: {load_time:.2?} ({:.1} MiB of index)",
        rebuilt.nodes,
        rebuilt.paths_fixed,
        view.acl.heap_bytes() as f64 / 1048576.0
    );
    let acl = spec.build_acl().unwrap();
    let who: Personas = spec.personas(&acl);
    let entity = view.entity("sale").unwrap();
    let (h, _) = view.hierarchy("reports").unwrap();
    let tree = view.acl.hierarchy(h).unwrap();

    if !moves_only {
        println!();
        println!("| user | people below | shape chosen | first page p50 | p99 | other shape p50 | recursive CTE p50 (÷ chosen) | per-user ACL table p50 (÷ chosen) | RLS policy p50 (÷ chosen) | readable rows (count time) |");
        println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, user) in [
            ("rep", who.rep),
            ("manager", who.manager),
            ("director", who.director),
            ("top", who.top),
        ] {
            let chosen = view.list_filter(entity, user, 50).unwrap();
            let other = ListFilter {
                walk_in_order: !chosen.walk_in_order,
                ..chosen.clone()
            };
            let mut timings = Vec::new();
            let mut pages = Vec::new();
            for f in [&chosen, &other] {
                let reps = if f.walk_in_order == chosen.walk_in_order {
                    30
                } else {
                    5
                };
                let mut v = Vec::new();
                for i in 0..reps {
                    let t = Instant::now();
                    let page = store.readable_records(f, None, 50).await.unwrap();
                    v.push(t.elapsed());
                    if i == 0 {
                        pages.push(page);
                    }
                }
                v.sort_unstable();
                timings.push(v);
            }
            assert_eq!(pages[0], pages[1], "both shapes give the same page");
            let expected: Vec<String> = pages[0].iter().map(|(k, _)| k.clone()).collect();
            let reps = if user == who.rep || user == who.manager {
                10
            } else {
                3
            };
            let binds = [i64::from(user), i64::from(h.0), i64::from(entity.0)];
            let c = time_baseline(
                &mut conn,
                &cte_sql(&chosen),
                &binds,
                reps,
                &expected,
                "the recursive CTE",
            )
            .await;
            let ua = time_baseline(
                &mut conn,
                &user_acl_sql(&chosen),
                &binds,
                reps,
                &expected,
                "the per-user ACL table",
            )
            .await;
            let rls = match &mut conn {
                Conn::Pg(pg) => {
                    let grantees: Vec<String> = chosen
                        .grantees
                        .iter()
                        .map(|p| p.raw().to_string())
                        .collect();
                    sqlx::query("SELECT set_config('rampart.user', $1, false), set_config('rampart.grantees', $2, false)")
                    .bind(user.to_string())
                    .bind(format!("{{{}}}", grantees.join(",")))
                    .execute(&mut *pg)
                    .await
                    .unwrap();
                    conn.exec("SET ROLE rampart_bench_reader").await;
                    let t = time_baseline(
                    &mut conn,
                    "SELECT record_key FROM acl_records WHERE entity_num = 0 ORDER BY record_key LIMIT 50",
                    &[],
                    reps.max(5),
                    &expected,
                    "the row-level-security policy",
                )
                .await;
                    conn.exec("RESET ROLE").await;
                    Some(t)
                }
                Conn::Sqlite(_) => None,
            };
            let t = Instant::now();
            let count = store
                .count_readable(&ListFilter {
                    walk_in_order: false,
                    ..chosen.clone()
                })
                .await
                .unwrap();
            let count_time = t.elapsed();
            let p50 = percentile(&timings[0], 0.5);
            println!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {count} ({}) |",
                tree.subtree_size(user).unwrap() - 1,
                if chosen.walk_in_order {
                    "walk"
                } else {
                    "collect"
                },
                ms(p50),
                ms(percentile(&timings[0], 0.99)),
                ms(percentile(&timings[1], 0.5)),
                versus(&c, p50),
                versus(&ua, p50),
                rls.as_deref().map_or("—".into(), |t| versus(t, p50)),
                ms(count_time),
            );
        }
        println!();
        for (name, user) in [
            ("rep", who.rep),
            ("manager", who.manager),
            ("director", who.director),
            ("top", who.top),
        ] {
            let f = view.list_filter(entity, user, 50).unwrap();
            println!(
                "plan for the {name} ({}):",
                if f.walk_in_order { "walk" } else { "collect" }
            );
            for line in store.explain_readable(&f).await.unwrap() {
                println!("    {line}");
            }
        }
    }

    // Moves: a director with about 10,000 people below (a tenth of the full data set; the
    // issue's case), then the largest director, each under another top-level manager.
    let directors = spec.levels[0]..spec.levels[0] + spec.levels[1];
    let size = |u: u32| tree.subtree_size(u).unwrap() - 1;
    let tenth = directors
        .clone()
        .min_by_key(|&u| size(u).abs_diff(spec.users() / 10))
        .unwrap();
    let mut acl2 = acl.clone();
    for (name, mover) in [
        ("a director with about a tenth of the tree below", tenth),
        ("the largest director", who.director),
    ] {
        let tree2 = acl2.hierarchy(REPORTS).unwrap().clone();
        let Some(target) =
            (spec.levels[0]..spec.levels[0] + spec.levels[1] + spec.levels[2]).find(|&u| {
                !tree2.contains(mover, u).unwrap() && Some(u) != tree2.parent(mover).unwrap()
            })
        else {
            println!("no other manager to move {name} under at this scale");
            continue;
        };
        let below = tree2.subtree_size(mover).unwrap() - 1;
        let t = Instant::now();
        store
            .authz_write(
                &ctx,
                now,
                &[AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(user_id(mover)),
                    parent: Some(NodeRef::User(user_id(target))),
                }],
            )
            .await
            .unwrap();
        let moved = t.elapsed();
        let t = Instant::now();
        acl2.set_parent(REPORTS, mover, Some(target)).unwrap();
        let moved_mem = t.elapsed();
        // The database's paths are what a walk of its parent links gives: the rebuild
        // recomputes every path and finds none to repair.
        let check = store
            .authz_rebuild(&ctx, now, None, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(check.paths_fixed, 0, "the moved paths are right");
        let view2 = store.authz_load(&mut |_, _| {}).await.unwrap();
        let size_db = view2
            .acl
            .hierarchy(h)
            .unwrap()
            .subtree_size(target)
            .unwrap();
        let size_mem = acl2
            .hierarchy(REPORTS)
            .unwrap()
            .subtree_size(target)
            .unwrap();
        assert_eq!(
            size_db, size_mem,
            "the database's tree matches the index after the move"
        );
        let f = view2.list_filter(entity, target, 50).unwrap();
        let page = store.readable_records(&f, None, 50).await.unwrap();
        for (key, owner) in &page {
            let num = key.rsplit('-').next().unwrap().parse().unwrap();
            let record = RecordRef { num, owner: *owner };
            assert!(
                acl2.can(target, Actions::READ, entity, record),
                "{key} after the move"
            );
        }
        println!(
            "\nmoving {name} ({below} people below) under another manager: {} through `authz_write` (one UPDATE of the subtree's materialised paths, with its audit event and change-log entry), {} in the in-memory index; afterwards the new manager's subtree is {} people in the database and in the index",
            ms(moved),
            ms(moved_mem),
            size_db - 1,
        );
    }
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!("peak memory of this process: {hwm}");
}
