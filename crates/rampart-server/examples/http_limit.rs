//! What the HTTP benchmarks (`scripts/bench-parts/checks` and `identity`) need besides the
//! `rampart` binary:
//!
//! ```text
//! http_limit serve DATA_DIR ADDR        a handler that answers 204 over Rampart's own stack
//! http_limit seed DATA_DIR SCALE POOLS  the authorization data set in DATA_DIR/rampart.db,
//!                                       and pools of check requests with their answers
//! ```
//!
//! **`serve`: the physical limit.** The same listener loop as every node's
//! (`rampart_server::serve::accept_loop`: TLS from `rampart_server::tls::server_config`, the
//! development certificate in DATA_DIR, HTTP/1.1 and HTTP/2, the head limits and refusal
//! rewriting) in front of a router whose one handler reads the request body and answers
//! `204 No Content`. Only the handler and Rampart's middleware differ from a node, so a
//! benchmark that sends the same requests with the same load generator to both learns what
//! fraction of the transport's ceiling an endpoint reaches. It prints `ready ADDR` on
//! standard output once it accepts connections and stops on SIGTERM or SIGINT.
//!
//! **`seed`: the issue's data set, written the way the store lays it out.**
//! `DatasetSpec::issue()` (SCALE 1: 100,000 users, 1,000 units, 200 groups, 10,000,000
//! records, 1,000,000 grants) or `DatasetSpec::scaled(SCALE)`. The database is created by the
//! store (`Store::open_sqlite` and its migrations); then the rows go in through one
//! connection, in multi-row inserts, with SQLite's page cache at 1 GB. Two things make it fast
//! without changing what the server opens:
//! - records are numbered in key order, so the table, its primary key and its key index are
//!   appended to instead of updated at random (a server numbers records in the order they
//!   are created; this is the order of a data set created sorted). Grants follow their
//!   records' new numbers;
//! - the two secondary indexes that would take random inserts (`acl_records_owner`,
//!   `acl_grants_principal`) are dropped first and created again afterwards from their own
//!   stored SQL (a sort instead of ten million random inserts); the schema ends identical.
//!
//! POOLS receives request bodies for `POST /api/v1/authz/check`, one JSON object a line
//! (`record1.txt`: 20,000 single record checks; `record100.txt`: 1,000 batches of 100), and
//! for each the expected answers (`record1.answers`, `record100.answers`: one line of `0`/`1`
//! per body), decided by the index the data set's generator builds (`build_acl`, in the
//! generator's own record numbering), not by the server. About half the checks are built to
//! be allowed (a record's owner or someone above the owner, or a user a grant names) and the
//! rest are random users reading or writing random records; `stats.json` gives the share
//! allowed. Users are drawn from 100,000 and records from 10,000,000, so the pools hold
//! tens of thousands of distinct users and records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

/// The allocator the `rampart` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "shared/listener.rs"]
mod listener;
#[path = "../../rampart-store/examples/shared/seed.rs"]
mod seeding;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::Router;
use rampart_authz::acl::{Actions, Principal, PrincipalKind, RecordRef};
use rampart_authz::dataset::{DatasetSpec, Rng, ENTITY};
use rampart_service::metrics::Metrics;
use seeding::{
    bulk, exec, fresh_database, loading_connection, paths, people, spec_at, units_and_groups,
    user_id, GRANT_COLS, RECORD_COLS, V,
};
use sqlx::Connection as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("serve") if args.len() == 3 => runtime.block_on(serve(Path::new(&args[1]), &args[2])),
        Some("seed") if args.len() == 4 => runtime.block_on(seed(
            Path::new(&args[1]),
            args[2].parse().expect("SCALE is a number"),
            Path::new(&args[3]),
        )),
        _ => {
            eprintln!(
                "usage: http_limit serve DATA_DIR ADDR | http_limit seed DATA_DIR SCALE POOLS"
            );
            std::process::exit(2);
        }
    }
}

/// The 204 handler on the node's listener loop.
async fn serve(dir: &Path, addr: &str) {
    rampart_server::serve::prepare_data_dir(dir).unwrap();
    let app = Router::new().fallback(|_body: Bytes| async { StatusCode::NO_CONTENT });
    listener::serve_until_signalled(dir, addr, app, Arc::new(Metrics::default())).await;
}

async fn seed(dir: &Path, scale: u32, pools: &Path) {
    let spec = spec_at(scale);
    let started = Instant::now();
    rampart_server::serve::prepare_data_dir(dir).unwrap();
    let path = fresh_database(dir, pools);
    rampart_service::files::private_file()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    // The random-order indexes are built by a sort afterwards.
    let mut conn = loading_connection(&path).await;
    let mut recreate = Vec::new();
    for index in ["acl_records_owner", "acl_grants_principal"] {
        let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = ?")
            .bind(index)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        exec(&mut conn, &format!("DROP INDEX {index}")).await;
        recreate.push(sql);
    }

    let users = spec.users();
    let managers = spec.managers();
    let user_paths = paths(&managers);
    eprintln!(
        "seeding {users} users, {} units, {} groups, {} records, {} grants",
        spec.units, spec.groups, spec.records, spec.grants
    );
    exec(
        &mut conn,
        "INSERT INTO authz_hierarchies (num, name, kind, created_at) VALUES \
         (0, 'reports', 'reports_to', 0), (1, 'units', 'units', 0)",
    )
    .await;
    let unit_parents = spec.unit_parents();
    let loads = people(&managers, &user_paths)
        .into_iter()
        .chain(units_and_groups(&spec, &unit_parents));
    for load in loads {
        bulk(&mut conn, load.table, load.cols, load.rows).await;
    }
    exec(
        &mut conn,
        "INSERT INTO acl_entities (num, name, public_actions, owner_hierarchy, grants, created_at) \
         VALUES (0, 'sale', 0, 0, 1, 0)",
    )
    .await;
    eprintln!("trees, units and groups in {:.1?}", started.elapsed());

    // Records in key order: (the key's 48-bit hex prefix, the generator's number), the
    // rare equal prefixes ordered by the rest of the key as SQLite compares text.
    let t = Instant::now();
    let owners: Vec<u32> = spec.owners().collect();
    let mut order: Vec<(u64, u32)> = (0..spec.records)
        .map(|r| {
            let key = spec.record_key(r);
            (u64::from_str_radix(&key[..12], 16).unwrap(), r as u32)
        })
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
    });
    let mut rank = vec![0u32; order.len()];
    for (i, &(_, r)) in order.iter().enumerate() {
        rank[r as usize] = i as u32;
    }
    let n = bulk(
        &mut conn,
        "acl_records",
        &RECORD_COLS,
        order.iter().enumerate().map(|(i, &(_, r))| {
            vec![
                V::I(0),
                V::I(i as i64),
                V::T(spec.record_key(u64::from(r))),
                V::I(i64::from(owners[r as usize])),
            ]
        }),
    )
    .await;
    drop(order);
    eprintln!("{n} records in {:.1?}", t.elapsed());
    let t = Instant::now();
    let mut grants: Vec<(u32, u32, u8, u32)> = spec
        .grants()
        .map(|g| {
            (
                rank[g.record as usize],
                g.principal.raw(),
                g.actions.bits(),
                g.record as u32,
            )
        })
        .collect();
    grants.sort_unstable();
    // Two grants of one record to one principal are one row with both actions, as the
    // index merges them.
    grants.dedup_by(|b, a| {
        let same = (a.0, a.1) == (b.0, b.1);
        if same {
            a.2 |= b.2;
        }
        same
    });
    let n = bulk(
        &mut conn,
        "acl_grants",
        &GRANT_COLS,
        grants.iter().map(|&(num, p, a, r)| {
            vec![
                V::I(0),
                V::I(i64::from(num)),
                V::I(i64::from(p)),
                V::I(i64::from(a)),
                V::T(spec.record_key(u64::from(r))),
            ]
        }),
    )
    .await;
    eprintln!("{n} grants in {:.1?}", t.elapsed());
    let t = Instant::now();
    for sql in &recreate {
        exec(&mut conn, sql).await;
    }
    eprintln!("secondary indexes built in {:.1?}", t.elapsed());
    for (name, next) in [
        ("user", u64::from(users)),
        ("node:1", u64::from(spec.units)),
        ("group", u64::from(spec.groups)),
        ("hierarchy", 2),
        ("entity", 1),
        ("record:0", spec.records),
    ] {
        sqlx::query("INSERT INTO authz_counters (name, next) VALUES (?, ?)")
            .bind(name)
            .bind(next as i64)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    exec(&mut conn, "ANALYZE").await;
    exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    conn.close().await.unwrap();
    eprintln!("database written in {:.1?}", started.elapsed());

    write_pools(&spec, &owners, &managers, &grants, pools);
    eprintln!("seeded in {:.1?}", started.elapsed());
}

/// One check of a pool: who, what, which record (the generator's number), and whether the
/// index allows it.
struct Check {
    user: u32,
    action: Actions,
    record: u64,
    allowed: bool,
}

fn write_pools(
    spec: &DatasetSpec,
    owners: &[u32],
    managers: &[Option<u32>],
    grants: &[(u32, u32, u8, u32)],
    pools: &Path,
) {
    let acl = spec.build_acl().unwrap();
    let user_grants: Vec<(u32, u64)> = grants
        .iter()
        .filter_map(|g| match Principal::from_raw(g.1).kind() {
            PrincipalKind::User(u) if g.2 & Actions::READ.bits() != 0 => Some((u, u64::from(g.3))),
            _ => None,
        })
        .collect();
    let mut starts = Vec::new();
    let mut at = 0;
    for &n in &spec.levels {
        starts.push(at);
        at += n;
    }
    let depth = spec.levels.len() as u64;
    let mut rng = Rng::new(0xC4EC5);
    let mut next = || {
        let kind = rng.below(100);
        let (user, record, action) = if kind < 45 {
            // The owner or someone above the owner.
            let record = rng.below(spec.records);
            let mut user = owners[record as usize];
            for _ in 0..rng.below(depth) {
                match managers[user as usize] {
                    Some(m) => user = m,
                    None => break,
                }
            }
            let action = if rng.below(4) == 0 {
                Actions::WRITE
            } else {
                Actions::READ
            };
            (user, record, action)
        } else if kind < 60 && !user_grants.is_empty() {
            // A user a grant names, reading.
            let (p, record) = user_grants[rng.below(user_grants.len() as u64) as usize];
            (p, record, Actions::READ)
        } else {
            // Anyone (reps and first-line managers most), any record.
            let level = match rng.below(10) {
                0..=3 => depth - 1,
                4..=6 => depth - 2,
                7 | 8 => 1 + rng.below(depth.saturating_sub(3).max(1)),
                _ => rng.below(depth),
            } as usize;
            let user = starts[level] + rng.below(u64::from(spec.levels[level])) as u32;
            let action = if rng.below(4) == 0 {
                Actions::WRITE
            } else {
                Actions::READ
            };
            (user, rng.below(spec.records), action)
        };
        let rec = RecordRef {
            num: record,
            owner: Some(owners[record as usize]),
        };
        Check {
            user,
            action,
            record,
            allowed: acl.can(user, action, ENTITY, rec),
        }
    };
    let mut stats = Vec::new();
    for (name, bodies, per) in [("record1", 20_000, 1), ("record100", 1_000, 100)] {
        let mut out = String::new();
        let mut answers = String::new();
        let (mut allowed, mut total) = (0u64, 0u64);
        let mut users = std::collections::HashSet::new();
        let mut records = std::collections::HashSet::new();
        for _ in 0..bodies {
            out.push_str("{\"checks\":[");
            for i in 0..per {
                let c = next();
                if i > 0 {
                    out.push(',');
                }
                write!(
                    out,
                    "{{\"kind\":\"record\",\"user\":\"{}\",\"entity\":\"sale\",\"record\":\"{}\",\"action\":\"{}\"}}",
                    user_id(c.user),
                    spec.record_key(c.record),
                    if c.action == Actions::WRITE { "write" } else { "read" }
                )
                .unwrap();
                answers.push(if c.allowed { '1' } else { '0' });
                allowed += u64::from(c.allowed);
                total += 1;
                users.insert(c.user);
                records.insert(c.record);
            }
            out.push_str("]}\n");
            answers.push('\n');
        }
        std::fs::write(pools.join(format!("{name}.txt")), out).unwrap();
        std::fs::write(pools.join(format!("{name}.answers")), answers).unwrap();
        stats.push(format!(
            "\"{name}\":{{\"checks\":{total},\"allowed\":{allowed},\"users\":{},\"records\":{}}}",
            users.len(),
            records.len()
        ));
    }
    std::fs::write(
        pools.join("stats.json"),
        format!(
            "{{\"users\":{},\"records\":{},\"grants\":{},{}}}\n",
            spec.users(),
            spec.records,
            spec.grants,
            stats.join(",")
        ),
    )
    .unwrap();
}
