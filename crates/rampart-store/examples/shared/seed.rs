//! What the benchmark programs share to write the data set straight into a fresh database
//! as the store lays it out: the seeded users' ids, the rows of the platform's tables for
//! the users, the trees and the groups, and a bulk loader for SQLite. Each program includes
//! this file as a module of its own (`#[path]`), so it may use only part of it.
//!
//! Used by `rampart-store`'s `list_filter` and `rampart-server`'s `http_limit` and
//! `apps_bench`.

#![allow(dead_code)]

use rampart_authz::dataset::DatasetSpec;
use rampart_core::UserId;
use uuid::Uuid;

/// A value to bind.
pub enum V {
    I(i64),
    T(String),
    B(Vec<u8>),
    N,
}

/// The data set at `scale`: the issue's at 1 (or 0), else `DatasetSpec::scaled(scale)`.
pub fn spec_at(scale: u32) -> DatasetSpec {
    if scale <= 1 {
        DatasetSpec::issue()
    } else {
        DatasetSpec::scaled(scale)
    }
}

/// The database file a seed writes in data directory `dir`, which must not exist yet, with
/// `out` (where the seed writes what else it produces) created.
pub fn fresh_database(dir: &std::path::Path, out: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(out).unwrap();
    let path = dir.join("rampart.db");
    assert!(
        !path.exists(),
        "{} exists: seed a fresh data directory",
        path.display()
    );
    path
}

/// Seeded user `num`'s id: fixed, so every program and its pools agree on it.
pub fn user_id(num: u32) -> UserId {
    UserId(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(num),
    ))
}

/// Materialised paths as the store writes them: 4 big-endian bytes per level (managers come
/// before their reports: users are numbered level by level).
pub fn paths(managers: &[Option<u32>]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(managers.len());
    for (i, m) in managers.iter().enumerate() {
        let own = (i as u32).to_be_bytes();
        out.push(match m {
            Some(m) => [&out[*m as usize][..], &own].concat(),
            None => own.to_vec(),
        });
    }
    out
}

/// Rows for one table: what a bulk loader needs.
pub struct Load<'a> {
    pub table: &'static str,
    pub cols: &'static [&'static str],
    pub rows: Box<dyn Iterator<Item = Vec<V>> + 'a>,
}

impl<'a> Load<'a> {
    fn new(
        table: &'static str,
        cols: &'static [&'static str],
        rows: impl Iterator<Item = Vec<V>> + 'a,
    ) -> Self {
        Load {
            table,
            cols,
            rows: Box::new(rows),
        }
    }
}

/// The users (end users `u<n>` without a password: they never log in, no PHC string
/// verifies `-`), their authorization numbers (their indexes) and the reports-to tree
/// (hierarchy 0: a node per user, keyed by its id, under its manager, with its path from
/// [`paths`]), in that order. The hierarchies go in first.
pub fn people<'a>(managers: &'a [Option<u32>], paths: &'a [Vec<u8>]) -> Vec<Load<'a>> {
    let users = managers.len() as u32;
    vec![
        Load::new(
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
        ),
        Load::new(
            "authz_users",
            &["num", "user_id"],
            (0..users).map(|u| vec![V::I(i64::from(u)), V::T(user_id(u).to_string())]),
        ),
        Load::new(
            "authz_nodes",
            &NODE_COLS,
            (0..users).map(|u| {
                vec![
                    V::I(0),
                    V::I(i64::from(u)),
                    V::T(user_id(u).to_string()),
                    managers[u as usize].map_or(V::N, |m| V::I(i64::from(m))),
                ]
            }),
        ),
        Load::new(
            "authz_node_paths",
            &PATH_COLS,
            paths
                .iter()
                .enumerate()
                .map(|(u, p)| vec![V::I(0), V::I(u as i64), V::B(p.clone())]),
        ),
    ]
}

/// The unit tree (hierarchy 1: `unit-<n>` under its parent, with its path), the seats in
/// it, the groups (`group-<n>`) and their members, in that order.
pub fn units_and_groups<'a>(
    spec: &'a DatasetSpec,
    unit_parents: &'a [Option<u32>],
) -> Vec<Load<'a>> {
    vec![
        Load::new(
            "authz_nodes",
            &NODE_COLS,
            unit_parents.iter().enumerate().map(|(u, p)| {
                vec![
                    V::I(1),
                    V::I(u as i64),
                    V::T(format!("unit-{u}")),
                    p.map_or(V::N, |p| V::I(i64::from(p))),
                ]
            }),
        ),
        Load::new(
            "authz_node_paths",
            &PATH_COLS,
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
        ),
        Load::new(
            "authz_unit_members",
            &["hierarchy_num", "node_num", "user_num"],
            spec.seats()
                .into_iter()
                .map(|(u, n)| vec![V::I(1), V::I(i64::from(n)), V::I(i64::from(u))]),
        ),
        Load::new(
            "authz_groups",
            &["num", "name", "created_at"],
            (0..spec.groups).map(|g| vec![V::I(i64::from(g)), V::T(format!("group-{g}")), V::I(0)]),
        ),
        Load::new(
            "authz_group_members",
            &["group_num", "user_num"],
            spec.memberships()
                .into_iter()
                .map(|(g, u)| vec![V::I(i64::from(g)), V::I(i64::from(u))]),
        ),
    ]
}

/// The columns of `acl_records` a seed writes: the entity's number, the record's, its key
/// and its owner's number.
pub const RECORD_COLS: [&str; 4] = ["entity_num", "record_num", "record_key", "owner_num"];
/// The columns of `acl_grants` a seed writes: the record's entity and number, the principal,
/// the actions' bits and the record's key.
pub const GRANT_COLS: [&str; 5] = [
    "entity_num",
    "record_num",
    "principal",
    "actions",
    "record_key",
];

const NODE_COLS: [&str; 4] = ["hierarchy_num", "node_num", "node_key", "parent_num"];
const PATH_COLS: [&str; 3] = ["hierarchy_num", "node_num", "path"];

/// `sql` with `values` bound in order.
fn bound(
    sql: &str,
    values: Vec<V>,
) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
    let mut q = sqlx::query(sql);
    for v in values {
        q = match v {
            V::I(i) => q.bind(i),
            V::T(t) => q.bind(t),
            V::B(b) => q.bind(b),
            V::N => q.bind(Option::<i64>::None),
        };
    }
    q
}

/// Inserts `rows` into `table` in multi-row statements (anonymous `?` placeholders: SQLite
/// looks numbered ones up in a list) inside one transaction; returns how many.
pub async fn bulk(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    cols: &[&str],
    rows: impl Iterator<Item = Vec<V>>,
) -> u64 {
    let width = cols.len();
    let per = 30_000 / width;
    let statement = |n: usize| {
        let one = format!("({})", vec!["?"; width].join(","));
        format!(
            "INSERT INTO {table} ({}) VALUES {}",
            cols.join(", "),
            vec![one; n].join(",")
        )
    };
    let full = statement(per);
    exec(conn, "BEGIN").await;
    let mut batch: Vec<V> = Vec::with_capacity(per * width);
    let (mut n, mut total) = (0, 0);
    for row in rows {
        batch.extend(row);
        n += 1;
        total += 1;
        if n == per {
            bound(&full, std::mem::take(&mut batch))
                .execute(&mut *conn)
                .await
                .unwrap();
            n = 0;
        }
    }
    if n > 0 {
        let sql = statement(n);
        bound(&sql, batch).execute(&mut *conn).await.unwrap();
    }
    exec(conn, "COMMIT").await;
    total
}

/// The SQLite database at `path` with the store's schema (its migrations), then a direct
/// connection to it for loading: one writer on a fresh file, so no fsync per statement, and
/// a 1 GB page cache that keeps the B-trees in memory.
pub async fn loading_connection(path: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let store = rampart_store::Store::open_sqlite(path).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    exec(&mut conn, "PRAGMA cache_size = -1000000").await;
    exec(&mut conn, "PRAGMA synchronous = OFF").await;
    conn
}

/// Runs one statement.
pub async fn exec(conn: &mut sqlx::SqliteConnection, sql: &str) {
    sqlx::query(sql).execute(&mut *conn).await.unwrap();
}
