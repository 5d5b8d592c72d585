//! The benchmark on PostgreSQL: the data set loaded with `COPY` (the platform's users and
//! tree, then the entity's records), and the set-based row-level-security baseline over the
//! same table (`RAMPART_DATABASE_URL` names the database; `scripts/bench-parts/apps` starts
//! a cluster of its own for it).
//!
//! **The RLS baseline**, as a database administrator would write it over the same data: a
//! closure table of the reports-to tree (`bench_closure`: every `(ancestor, descendant)`
//! pair, each user their own ancestor), a role `bench_rls` that may only select, and one
//! policy on the entity's table for that role,
//!
//! ```sql
//! USING (_owner_num IN (SELECT c.descendant FROM bench_closure c
//!                       WHERE c.ancestor = (SELECT current_setting('rampart.user')::bigint)))
//! ```
//!
//! The benchmark-only route serves the page through it (`x-bench-rls: <user number>`): on a
//! connection of a pool of its own whose connections `SET ROLE bench_rls`, it sets
//! `rampart.user` and runs the statement the route runs without the rule (`SELECT … ORDER BY
//! id LIMIT 51`); PostgreSQL adds the policy. The rows are rendered as the data API renders
//! them.

use std::fmt::Write as _;

use rampart_api::RecordView;
use rampart_apps::ddl::Target;
use rampart_apps::list::{compile_list, ListRequest, RowFilter};
use rampart_apps::schema::{Storage, Table};
use rampart_apps::values::{from_text, Value};
use rampart_model::format::AttributeType;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection as _, Executor as _, PgConnection, Row as _};
use time::format_description::well_known::Rfc3339;

use crate::seeding::V;

/// The role the RLS policy applies to.
pub const RLS_ROLE: &str = "bench_rls";

/// A value in `COPY … FROM STDIN` text format.
fn copy_value(out: &mut String, v: &V) {
    match v {
        V::I(i) => {
            let _ = write!(out, "{i}");
        }
        V::T(t) => {
            for ch in t.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        V::B(b) => {
            out.push_str("\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
        V::N => out.push_str("\\N"),
    }
}

/// Loads `rows` into `table` (`cols` quoted as needed) with one `COPY`, sent in chunks.
pub async fn copy(
    conn: &mut PgConnection,
    table: &str,
    cols: &[&str],
    rows: impl Iterator<Item = Vec<V>>,
) -> u64 {
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {table} ({}) FROM STDIN (FORMAT text)",
            cols.join(", ")
        ))
        .await
        .unwrap();
    let mut buf = String::with_capacity(1 << 20);
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                buf.push('\t');
            }
            copy_value(&mut buf, v);
        }
        buf.push('\n');
        if buf.len() > (1 << 20) {
            copy.send(std::mem::take(&mut buf).into_bytes())
                .await
                .unwrap();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await.unwrap();
    }
    copy.finish().await.unwrap()
}

pub async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap()
}

pub async fn exec(conn: &mut PgConnection, sql: &str) {
    conn.execute(sql).await.unwrap();
}

/// The secondary indexes of `schema.table` (all but the primary key's) as `(name, SQL)`,
/// dropped: the records go in first, the indexes are built afterwards from their own SQL.
pub async fn drop_indexes(conn: &mut PgConnection, schema: &str, table: &str) -> Vec<String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = $1 \
         AND i.tablename = $2 AND i.indexname NOT IN (SELECT conname FROM pg_constraint)",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (name, _) in &rows {
        exec(conn, &format!("DROP INDEX \"{schema}\".\"{name}\"")).await;
    }
    rows.into_iter().map(|(_, sql)| sql).collect()
}

/// The closure table of the tree (`managers[u]`: `u`'s manager), the role, and the policy
/// on the entity's table; then the table is vacuumed and analysed, as autovacuum would after
/// a load this size.
pub async fn rls_setup(
    conn: &mut PgConnection,
    target: &Target,
    table: &Table,
    managers: &[Option<u32>],
) {
    exec(
        conn,
        "CREATE TABLE bench_closure (ancestor BIGINT NOT NULL, descendant BIGINT NOT NULL, \
         PRIMARY KEY (ancestor, descendant))",
    )
    .await;
    let pairs = (0..managers.len() as u32).flat_map(|u| {
        let mut out = Vec::new();
        let mut at = Some(u);
        while let Some(a) = at {
            out.push(vec![V::I(i64::from(a)), V::I(i64::from(u))]);
            at = managers[a as usize];
        }
        out
    });
    let n = copy(conn, "bench_closure", &["ancestor", "descendant"], pairs).await;
    eprintln!("closure table: {n} pairs");
    let schema = target.schema.clone().unwrap();
    let t = target.table(&table.name);
    let num = table.owner_num().expect("the table keeps owner numbers");
    for sql in [
        format!("DROP ROLE IF EXISTS {RLS_ROLE}"),
        format!("CREATE ROLE {RLS_ROLE} NOLOGIN"),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO {RLS_ROLE}"),
        format!("GRANT SELECT ON {t}, bench_closure TO {RLS_ROLE}"),
        format!(
            "CREATE POLICY {RLS_ROLE} ON {t} FOR SELECT TO {RLS_ROLE} USING (\"{num}\" IN \
             (SELECT c.descendant FROM bench_closure c \
              WHERE c.ancestor = (SELECT current_setting('rampart.user')::bigint)))"
        ),
        format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"),
    ] {
        exec(conn, &sql).await;
    }
    for sql in [
        format!("VACUUM (ANALYZE) {t}"),
        "VACUUM (ANALYZE) bench_closure".to_owned(),
        "ANALYZE".to_owned(),
        "CHECKPOINT".to_owned(),
    ] {
        exec(conn, &sql).await;
    }
}

/// How long a statement under the RLS policy may run: a reader with few records makes the
/// policy's plan read most of the table, and statements left running after a round would
/// run into the next one.
pub const RLS_TIMEOUT: &str = "5s";

/// The pool the RLS route reads through: its connections act as [`RLS_ROLE`], with
/// statements cut at [`RLS_TIMEOUT`].
pub async fn rls_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    format!("SET ROLE {RLS_ROLE}; SET statement_timeout = '{RLS_TIMEOUT}'")
                        .as_str(),
                )
                .await
                .map(|_| ())
            })
        })
        .connect(url)
        .await
        .unwrap()
}

/// A page under the RLS policy for user number `user`: `rampart.user` set on a pooled
/// connection, then the statement without any rule of Rampart's.
pub async fn rls_page(
    pool: &PgPool,
    target: &Target,
    table: &Table,
    request: &ListRequest,
    user: i64,
) -> Result<Vec<RecordView>, sqlx::Error> {
    let plain = compile_list(target, table, request, &RowFilter::All);
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT set_config('rampart.user', $1, false)")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    let mut q = sqlx::query(&plain.sql);
    for b in &plain.binds {
        q = match b {
            rampart_apps::list::Bind::Int(i) => q.bind(*i),
            rampart_apps::list::Bind::Text(t) => q.bind(t.clone()),
            other => panic!("unexpected bind {other:?}"),
        };
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let time = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap()
            .format(&Rfc3339)
            .unwrap()
    };
    Ok(rows
        .iter()
        .map(|row| {
            let mut values = serde_json::Map::new();
            for (i, c) in table.live_columns().enumerate() {
                let value = match c.storage {
                    Storage::Integer => row
                        .get::<Option<i64>, _>(4 + i)
                        .map_or(Value::Null, Value::Integer),
                    Storage::Boolean => row
                        .get::<Option<bool>, _>(4 + i)
                        .map_or(Value::Null, Value::Boolean),
                    Storage::Decimal => row
                        .get::<Option<String>, _>(4 + i)
                        .map_or(Value::Null, |t| {
                            from_text(AttributeType::Decimal, &t).unwrap()
                        }),
                    _ => row
                        .get::<Option<String>, _>(4 + i)
                        .map_or(Value::Null, Value::Text),
                };
                values.insert(c.attribute.clone(), value.to_json());
            }
            RecordView {
                id: row.get(0),
                version: row.get(1),
                created_at: time(row.get(2)),
                updated_at: time(row.get(3)),
                values,
            }
        })
        .collect())
}
