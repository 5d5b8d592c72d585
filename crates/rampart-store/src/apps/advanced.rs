//! Advanced SQL statements (compiled by `rampart_apps::advanced`), run where they can only
//! read their application's own tables, and stopped after [`ADVANCED_TIMEOUT`].
//!
//! The statement that arrives here is already one checked `SELECT` with the row rule inside;
//! these are the database's own defences, should that check ever be wrong:
//! - **SQLite:** a connection of its own, opened read-only on the application's file with
//!   `PRAGMA query_only`, with no other database attached (the platform's file, attached to
//!   the other connections for the data API's row rule, is not there); a progress handler
//!   interrupts the statement at the deadline.
//! - **PostgreSQL:** a `READ ONLY` transaction, `search_path` set to the application's schema
//!   alone, `statement_timeout`, and, where the platform's database user may create roles, a
//!   per-schema reader role (`SET LOCAL ROLE`) holding only `USAGE` on the schema and
//!   `SELECT` on its tables, so even a statement naming `public.users` is refused by the
//!   database. Where roles cannot be created this is logged once and the other measures
//!   hold. The extended protocol also refuses more than one statement.

use std::time::{Duration, Instant};

use rampart_apps::advanced::Cell;
use rampart_apps::list::Compiled;
use rampart_core::Error;
use sqlx::postgres::PgPool;
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};
use time::format_description::well_known::Rfc3339;

use super::records::args;
use super::{lock_database, schema_name, AppConn, AppDatabase};
use crate::backend::db;
use crate::db::{query, Ex, Row, Tx};
use crate::Store;

/// How long an advanced statement may run.
pub const ADVANCED_TIMEOUT: Duration = Duration::from_secs(5);

/// The rows an advanced statement gave: its column names, and each row's cells in that order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryRows {
    /// The columns' names, as the statement gives them.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

/// Whether a missing reader role was already reported (once per process).
static NO_ROLE_LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Store {
    /// Runs a compiled advanced statement on application database `db` (see the module's
    /// header for where and how).
    pub async fn app_advanced(
        &self,
        database: &AppDatabase,
        statement: &Compiled,
    ) -> Result<QueryRows, Error> {
        match self.app_conn(database).await? {
            AppConn::Sqlite(pools) => {
                let mut conn = pools.0.advanced.acquire().await.map_err(|e| match e {
                    sqlx::Error::PoolTimedOut => Error::Limit(
                        "too many advanced queries are running on this application database; \
                         try again shortly"
                            .into(),
                    ),
                    e => db(e),
                })?;
                let deadline = Instant::now() + ADVANCED_TIMEOUT;
                conn.lock_handle()
                    .await
                    .map_err(db)?
                    .set_progress_handler(1_000, move || Instant::now() < deadline);
                let rows = query(&statement.sql)
                    .persistent(false)
                    .bind_all(args(statement))
                    .fetch_all(Ex::Sqlite(&mut conn))
                    .await;
                conn.lock_handle()
                    .await
                    .map_err(db)?
                    .remove_progress_handler();
                rows_of(rows.map_err(|e| failed(e, false))?)
            }
            AppConn::Postgres(pool) => {
                let role = self.reader_role(&pool, database.num).await;
                let mut tx = crate::backend::pg_begin(&pool)
                    .await
                    .map(Tx::Postgres)
                    .map_err(db)?;
                tx.exec("SET TRANSACTION READ ONLY", []).await?;
                let schema = schema_name(database.num);
                tx.exec(&format!("SET LOCAL search_path TO \"{schema}\""), [])
                    .await?;
                tx.exec(
                    &format!(
                        "SET LOCAL statement_timeout = {}",
                        ADVANCED_TIMEOUT.as_millis()
                    ),
                    [],
                )
                .await?;
                if let Some(role) = role {
                    tx.exec(&format!("SET LOCAL ROLE \"{role}\""), []).await?;
                }
                let rows = query(&statement.sql)
                    .persistent(false)
                    .bind_all(args(statement))
                    .fetch_all(&mut tx)
                    .await;
                // Read-only: nothing to keep; dropping the transaction rolls it back.
                drop(tx);
                rows_of(rows.map_err(|e| failed(e, true))?)
            }
        }
    }

    /// The reader role of schema `app_<num>`, made on first use in this process; `None` when
    /// the platform's database user may not make roles (reported once).
    async fn reader_role(&self, pool: &PgPool, num: i64) -> Option<String> {
        if let Some(known) = self.apps.readers.lock().ok()?.get(&num) {
            return known.clone();
        }
        let made = make_reader_role(pool, num).await;
        let role = match made {
            Ok(role) => Some(role),
            Err(e) => {
                if !NO_ROLE_LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        cause = %e,
                        "advanced SQL queries run without a per-schema reader role: the \
                         platform's database user cannot create one (a read-only transaction, \
                         the schema's search_path and the statement timeout still hold)"
                    );
                }
                None
            }
        };
        if let Ok(mut readers) = self.apps.readers.lock() {
            readers.insert(num, role.clone());
        }
        role
    }
}

/// Creates (if missing) the role that may read schema `app_<num>` and nothing else, and lets
/// the platform's user take it. Roles are the cluster's, so the name carries a hash of the
/// database's name.
async fn make_reader_role(pool: &PgPool, num: i64) -> Result<String, Error> {
    let mut tx = crate::backend::pg_begin(pool)
        .await
        .map(Tx::Postgres)
        .map_err(db)?;
    lock_database(&mut tx, num).await?;
    let database: String = tx.scalar("SELECT current_database()::text", []).await?;
    let mut h: u32 = 0x811c_9dc5;
    for b in database.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let role = format!("rampart_{h:08x}_app_{num}_reader");
    let schema = schema_name(num);
    let exists: Option<i32> = tx
        .scalar_opt(
            "SELECT 1 FROM pg_roles WHERE rolname = $1",
            [role.as_str().into()],
        )
        .await?;
    if exists.is_none() {
        tx.exec(&format!("CREATE ROLE \"{role}\" NOLOGIN"), [])
            .await?;
    }
    for sql in [
        format!("GRANT \"{role}\" TO CURRENT_USER"),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\""),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA \"{schema}\" TO \"{role}\""),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA \"{schema}\" GRANT SELECT ON TABLES TO \"{role}\""
        ),
    ] {
        tx.exec(&sql, []).await?;
    }
    tx.commit().await?;
    Ok(role)
}

/// A database's refusal of an advanced statement: a timeout said as such, anything else with
/// its cause for the log.
fn failed(e: sqlx::Error, pg: bool) -> Error {
    let text = e.to_string();
    let timed_out = match &e {
        sqlx::Error::Database(d) => {
            d.code().as_deref() == Some("57014") || d.code().as_deref() == Some("9")
        }
        _ => false,
    } || text.contains("interrupted");
    if timed_out {
        return Error::Limit(format!(
            "an advanced query ran longer than {} s and was stopped",
            ADVANCED_TIMEOUT.as_secs()
        ));
    }
    if statement_fault(&e, pg) {
        // The statement, as the model wrote it or as an inline value made it, cannot run
        // here: the caller's request (or the model) is at fault, not the database. What the
        // database said stays in the log (at most once a second: anyone can cause it), as
        // it would tell an injection attempt how to go on.
        if log_allowed() {
            tracing::warn!(cause = %text, "an advanced query could not run");
        }
        return Error::invalid(
            "query",
            "the query cannot run with these parameters in this database (a function may \
             exist in one database only); the server's log says why",
        );
    }
    Error::Unavailable(format!("an advanced query failed in the database: {text}"))
}

/// The second (since the first refusal) in which the last refused statement was logged.
static LAST_LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// Whether a refused statement may be logged now: one a second.
fn log_allowed() -> bool {
    static SINCE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let second = SINCE.get_or_init(Instant::now).elapsed().as_secs();
    LAST_LOGGED.swap(second, std::sync::atomic::Ordering::Relaxed) != second
}

/// PostgreSQL's refusals of a statement as written (SQLSTATE): its syntax, a column,
/// function, collation or type it names that is not there or not meant so, a grouping or
/// a reference that is ambiguous. Not among them: a privilege the reader role lacks
/// (`42501`) or a table that is not there (`42P01`), which mean the platform's database is
/// not as the model says: an outage, answered 503.
const PG_STATEMENT: &[&str] = &[
    "42601", "42703", "42883", "42704", "42804", "42803", "42846", "42725", "42702", "42P10",
    "42P18", "42611", "42622", "42939",
];

/// Whether the database refused the statement itself rather than failing to run it:
/// PostgreSQL's data exceptions (class 22), cardinality violations (21), features not
/// supported (0A) and the statement refusals above; SQLite's `SQLITE_ERROR` and
/// `SQLITE_MISMATCH` (with their extended codes), which is how it answers an unknown
/// column, function or collation, a column count that differs, or an integer overflow.
fn statement_fault(e: &sqlx::Error, pg: bool) -> bool {
    let sqlx::Error::Database(d) = e else {
        return matches!(e, sqlx::Error::ColumnDecode { .. });
    };
    let Some(code) = d.code() else {
        return false;
    };
    if pg {
        ["21", "22", "0A"].iter().any(|c| code.starts_with(c)) || PG_STATEMENT.contains(&&*code)
    } else {
        code.parse::<i32>()
            .is_ok_and(|n| matches!(n & 0xff, 1 | 20))
    }
}

fn rows_of(rows: Vec<Row>) -> Result<QueryRows, Error> {
    let mut out = QueryRows::default();
    for (n, row) in rows.iter().enumerate() {
        let cells = match row {
            Row::Sqlite(r) => {
                if n == 0 {
                    out.columns = r.columns().iter().map(|c| c.name().to_owned()).collect();
                }
                (0..r.len())
                    .map(|i| sqlite_cell(r, i))
                    .collect::<Result<_, _>>()?
            }
            Row::Postgres(r) => {
                if n == 0 {
                    out.columns = r.columns().iter().map(|c| c.name().to_owned()).collect();
                }
                (0..r.len())
                    .map(|i| pg_cell(r, i))
                    .collect::<Result<_, _>>()?
            }
        };
        out.rows.push(cells);
    }
    Ok(out)
}

fn sqlite_cell(r: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Cell, Error> {
    let raw = r.try_get_raw(i).map_err(db)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => Cell::Integer(r.try_get_unchecked(i).map_err(db)?),
        "REAL" => Cell::Real(r.try_get_unchecked(i).map_err(db)?),
        "BLOB" => Cell::Bytes(r.try_get_unchecked(i).map_err(db)?),
        _ => Cell::Text(r.try_get_unchecked(i).map_err(db)?),
    })
}

fn pg_cell(r: &sqlx::postgres::PgRow, i: usize) -> Result<Cell, Error> {
    let raw = r.try_get_raw(i).map_err(db)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let kind = raw.type_info().name().to_owned();
    let bytes = || {
        raw.as_bytes()
            .map_err(|e| Error::Internal(format!("column {i}: {e}")))
    };
    let days =
        |b: &[u8]| -> Option<i64> { Some(i64::from(i32::from_be_bytes(b.try_into().ok()?))) };
    let micros = |b: &[u8]| -> Option<i64> { Some(i64::from_be_bytes(b.try_into().ok()?)) };
    // PostgreSQL's dates and times count from 2000-01-01.
    let epoch = time::macros::datetime!(2000-01-01 0:00 UTC);
    let unshown = || {
        Error::Internal(format!(
            "column `{}` of an advanced query is of type {kind}, which the API does not show; \
             cast it to text or a number",
            r.columns().get(i).map_or("?", |c| c.name())
        ))
    };
    Ok(match kind.as_str() {
        "INT2" => Cell::Integer(i64::from(r.try_get::<i16, _>(i).map_err(db)?)),
        "INT4" => Cell::Integer(i64::from(r.try_get::<i32, _>(i).map_err(db)?)),
        "INT8" => Cell::Integer(r.try_get(i).map_err(db)?),
        "FLOAT4" => Cell::Real(f64::from(r.try_get::<f32, _>(i).map_err(db)?)),
        "FLOAT8" => Cell::Real(r.try_get(i).map_err(db)?),
        "BOOL" => Cell::Boolean(r.try_get(i).map_err(db)?),
        "BYTEA" => Cell::Bytes(r.try_get(i).map_err(db)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => Cell::Text(r.try_get(i).map_err(db)?),
        "NUMERIC" => Cell::Decimal(numeric_text(bytes()?).ok_or_else(unshown)?),
        "DATE" => {
            let d = days(bytes()?).ok_or_else(unshown)?;
            let date = (epoch + time::Duration::days(d)).date();
            Cell::Text(date.to_string())
        }
        "TIMESTAMP" | "TIMESTAMPTZ" => {
            let us = micros(bytes()?).ok_or_else(unshown)?;
            let at = epoch + time::Duration::microseconds(us);
            Cell::Text(at.format(&Rfc3339).map_err(|_| unshown())?)
        }
        _ => return Err(unshown()),
    })
}

/// The text of a PostgreSQL `NUMERIC` in its binary form: digit count, weight (of the first
/// base-10000 digit), sign and display scale, then the base-10000 digits. `None` for NaN,
/// infinities and malformed input.
pub(crate) fn numeric_text(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    let digits: Vec<u16> = (0..ndigits)
        .map(|k| word(8 + 2 * k))
        .collect::<Option<_>>()?;
    if digits.iter().any(|d| *d > 9999) || !matches!(sign, 0x0000 | 0x4000) {
        return None;
    }
    let at = |pos: i64| -> u16 {
        usize::try_from(pos)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut int = String::new();
    for pos in 0..=weight {
        if int.is_empty() {
            if at(pos) != 0 {
                int = at(pos).to_string();
            }
        } else {
            int.push_str(&format!("{:04}", at(pos)));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut pos = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", at(pos)));
        pos += 1;
    }
    frac.truncate(dscale);
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    out.push_str(&int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::numeric_text;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            b.extend(w.to_be_bytes());
        }
        for d in digits {
            b.extend(d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_read_as_their_text() {
        for (b, want) in [
            (numeric(0, 0, 0, 0, &[]), Some("0")),
            (numeric(1, 0, 0, 2, &[12]), Some("12.00")),
            (numeric(2, 0, 0, 2, &[10, 5000]), Some("10.50")),
            (numeric(2, 1, 0x4000, 0, &[1, 2345]), Some("-12345")),
            (numeric(1, -1, 0, 4, &[25]), Some("0.0025")),
            (numeric(1, -2, 0, 6, &[7]), Some("0.000000")),
            (numeric(1, -2, 0, 8, &[7]), Some("0.00000007")),
            (numeric(3, 2, 0, 0, &[1, 0, 0]), Some("100000000")),
            (numeric(0, 0, 0xC000, 0, &[]), None),
            (vec![0, 1], None),
        ] {
            assert_eq!(numeric_text(&b).as_deref(), want, "{b:?}");
        }
    }
}
