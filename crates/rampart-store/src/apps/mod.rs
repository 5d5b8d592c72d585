//! Application databases: the catalog of them, their connections, their layout and its
//! migrations, their records, and (on SQLite) the outbox of the audit events their writes
//! commit.
//!
//! Each environment, application and database name of the deployed entities has its own
//! database, apart from the platform's tables: on SQLite the file `apps/<num>.db` beside the
//! platform's, on PostgreSQL the schema `app_<num>`. No statement over one can name another.
//! The platform's authorization tables are reachable from it (read-only use: the row-level
//! rule's hierarchy paths, the owner numbers written with records): on SQLite the platform
//! file is attached read-only to each connection as `platform` (so an application write
//! locks its own file only, never the platform's); on PostgreSQL they are in `public`.
//!
//! SQLite readers map both files into memory (`mmap_size`): every commit to the platform
//! file (audit appends, many a second) makes each reader drop its cached pages of that file
//! at its next statement, and a mapped page is read again without a system call or a copy.
//!
//! **Every write commits with its audit events.** On PostgreSQL they go into the audit log in
//! the write's own transaction. On SQLite the log is in another file, and a transaction
//! across files in WAL mode is atomic per file only; so the events go into the database's
//! outbox in the write's transaction, and [`Store::flush_app_outbox`] moves them into the log
//! in a transaction that also records the last one moved (`app_databases.outbox_done`):
//! each event reaches the log exactly once, also when the node stops in between (the next
//! start moves what is left).

mod advanced;
mod grants;
mod keys;
mod outbox;
mod records;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rampart_apps::ddl::Target;
use rampart_apps::schema::Dialect;
use rampart_core::{AuditContext, Error};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::backend::{to_millis, Backend, Store};
use crate::db::{Db, Tx};

pub use advanced::{QueryRows, ADVANCED_TIMEOUT};
pub use keys::WrappedKey;
pub use records::{AppWrite, Expect, RowValues, StoredRecord};

/// An application database of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDatabase {
    /// Its catalog number (its file or schema is named after it).
    pub num: i64,
    /// The environment.
    pub environment: String,
    /// The application.
    pub application: String,
    /// The database name the entities give.
    pub name: String,
}

/// The connections of the open SQLite application databases, by catalog number.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    open: Mutex<HashMap<i64, AppPools>>,
    /// PostgreSQL schemas known to exist (with their layout table).
    schemas: Mutex<std::collections::HashSet<i64>>,
    /// PostgreSQL: each schema's reader role for advanced SQL, once looked at (`None`: the
    /// platform's user cannot make one).
    readers: Mutex<HashMap<i64, Option<String>>>,
    /// Held while a SQLite application database is opened, so two requests that find it
    /// closed at once (two deployments racing to create it) open it once: two openings of
    /// one new file race for its journal mode, and the loser's request failed.
    opening: tokio::sync::Mutex<()>,
}

/// One SQLite application database: one writer (SQLite has one at a time), a few readers,
/// and the connections advanced SQL runs on (read-only, `query_only`, the platform's file
/// not attached: nothing but the application's own tables in reach).
#[derive(Debug, Clone)]
struct AppPools {
    writer: SqlitePool,
    reader: SqlitePool,
    advanced: SqlitePool,
}

impl Pools {
    fn get(&self, num: i64) -> Option<AppPools> {
        self.open.lock().ok()?.get(&num).cloned()
    }

    fn put(&self, num: i64, pools: AppPools) -> AppPools {
        match self.open.lock() {
            Ok(mut open) => open.entry(num).or_insert(pools).clone(),
            Err(_) => pools,
        }
    }

    /// Closes every open application database.
    pub(crate) async fn close(&self) {
        let all: Vec<AppPools> = match self.open.lock() {
            Ok(mut open) => open.drain().map(|(_, p)| p).collect(),
            Err(_) => Vec::new(),
        };
        for p in all {
            p.advanced.close().await;
            p.reader.close().await;
            p.writer.close().await;
        }
    }
}

/// Where an application database's statements run.
#[derive(Debug, Clone)]
pub(crate) enum AppConn {
    Sqlite(AppPoolsHandle),
    Postgres(PgPool),
}

/// A SQLite application database's pools, held for the length of one use.
#[derive(Debug, Clone)]
pub(crate) struct AppPoolsHandle(AppPools);

impl AppConn {
    /// The pool that serves reads.
    pub(crate) fn reader(&self) -> Db<'_> {
        match self {
            AppConn::Sqlite(p) => Db::Sqlite(&p.0.reader),
            AppConn::Postgres(pool) => Db::Postgres(pool),
        }
    }

    /// Begins a write transaction (SQLite: `BEGIN IMMEDIATE` on the one writer, which locks
    /// the application file only: the platform file is attached read-only), to its end even
    /// if the caller goes away meanwhile (see [`crate::db::begun`]).
    pub(crate) async fn write(&self) -> Result<Tx<'static>, Error> {
        match self {
            AppConn::Sqlite(p) => {
                let writer = p.0.writer.clone();
                crate::db::begun(async move { writer.begin_with("BEGIN IMMEDIATE").await })
                    .await
                    .map(Tx::Sqlite)
            }
            AppConn::Postgres(pool) => {
                let pool = pool.clone();
                crate::db::begun(async move { crate::backend::pg_begin(&pool).await })
                    .await
                    .map(Tx::Postgres)
            }
        }
    }
}

impl Store {
    /// Where an application database's tables are, for the statements of `rampart-apps`.
    pub fn app_target(&self, db: &AppDatabase) -> Target {
        match self.backend {
            Backend::Sqlite { .. } => Target {
                dialect: Dialect::Sqlite,
                schema: None,
            },
            Backend::Postgres(_) => Target {
                dialect: Dialect::Postgres,
                schema: Some(schema_name(db.num)),
            },
        }
    }

    /// The application database of an environment, application and name, if it exists.
    pub async fn app_database(
        &self,
        environment: &str,
        application: &str,
        name: &str,
    ) -> Result<Option<AppDatabase>, Error> {
        let row: Option<(i64,)> = self
            .reader()
            .opt(
                "SELECT num FROM app_databases WHERE environment = $1 AND application = $2 AND name = $3",
                [environment.into(), application.into(), name.into()],
            )
            .await?;
        Ok(row.map(|(num,)| AppDatabase {
            num,
            environment: environment.to_owned(),
            application: application.to_owned(),
            name: name.to_owned(),
        }))
    }

    /// Every application database of the catalog, by number.
    pub async fn app_databases(&self) -> Result<Vec<AppDatabase>, Error> {
        let rows: Vec<(i64, String, String, String)> = self
            .reader()
            .all(
                "SELECT num, environment, application, name FROM app_databases ORDER BY num",
                [],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(num, environment, application, name)| AppDatabase {
                num,
                environment,
                application,
                name,
            })
            .collect())
    }

    /// The application database of an environment, application and name, created (in the
    /// catalog, with its file or schema) if it does not exist yet.
    pub async fn ensure_app_database(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        environment: &str,
        application: &str,
        name: &str,
    ) -> Result<AppDatabase, Error> {
        if let Some(db) = self.app_database(environment, application, name).await? {
            return Ok(db);
        }
        // Two deployments may create the same database at once: the loser of the insert
        // finds the winner's row.
        let mut attempts = 0;
        let num = loop {
            if let Some(db) = self.app_database(environment, application, name).await? {
                break db.num;
            }
            attempts += 1;
            let mut tx = self.write().await?;
            let created: Option<(i64,)> = tx
                .opt(
                    "INSERT INTO app_databases (num, environment, application, name, created_at) \
                     SELECT COALESCE(MAX(num), 0) + 1, $1, $2, $3, $4 FROM app_databases WHERE TRUE \
                     ON CONFLICT DO NOTHING RETURNING num",
                    [
                        environment.into(),
                        application.into(),
                        name.into(),
                        to_millis(now).into(),
                    ],
                )
                .await?;
            let Some((num,)) = created else {
                if attempts >= 5 {
                    return Err(Error::Conflict(format!(
                        "application database `{name}` of `{application}` in `{environment}` is being created concurrently; retry"
                    )));
                }
                continue;
            };
            let details = serde_json::json!({
                "environment": environment,
                "application": application,
                "database": name,
                "num": num,
            });
            crate::audit::record(
                &mut tx,
                ctx,
                now,
                "app.database.create",
                format!("app-database:{num}"),
                details,
            )
            .await?;
            tx.commit().await?;
            break num;
        };
        let db = AppDatabase {
            num,
            environment: environment.to_owned(),
            application: application.to_owned(),
            name: name.to_owned(),
        };
        // The file or schema, with the layout and outbox tables: idempotent.
        self.app_conn(&db).await?;
        Ok(db)
    }

    /// The connections of an application database, opened on first use.
    pub(crate) async fn app_conn(&self, db: &AppDatabase) -> Result<AppConn, Error> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let known = self.apps.schemas.lock().is_ok_and(|s| s.contains(&db.num));
                if known {
                    return Ok(AppConn::Postgres(pool.clone()));
                }
                let schema = schema_name(db.num);
                let begin = pool.clone();
                let mut tx =
                    crate::db::begun(async move { crate::backend::pg_begin(&begin).await })
                        .await
                        .map(Tx::Postgres)?;
                // `IF NOT EXISTS` is not safe against a concurrent creation on PostgreSQL:
                // the database's own lock serialises them.
                lock_database(&mut tx, db.num).await?;
                tx.exec(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""), [])
                    .await?;
                tx.exec(&layout_table_sql(&format!("\"{schema}\".")), [])
                    .await?;
                tx.commit().await?;
                if let Ok(mut s) = self.apps.schemas.lock() {
                    s.insert(db.num);
                }
                Ok(AppConn::Postgres(pool.clone()))
            }
            Backend::Sqlite { path, .. } => {
                if let Some(p) = self.apps.get(db.num) {
                    return Ok(AppConn::Sqlite(AppPoolsHandle(p)));
                }
                let _opening = self.apps.opening.lock().await;
                // Opened by another request while this one waited.
                if let Some(p) = self.apps.get(db.num) {
                    return Ok(AppConn::Sqlite(AppPoolsHandle(p)));
                }
                let pools = open_sqlite_app(path, db.num).await?;
                Ok(AppConn::Sqlite(AppPoolsHandle(
                    self.apps.put(db.num, pools),
                )))
            }
        }
    }
}

/// Serialises changes to one application database's schema on PostgreSQL (creation,
/// migrations), for the length of the transaction.
pub(crate) async fn lock_database(tx: &mut Tx<'_>, num: i64) -> Result<(), Error> {
    if tx.is_sqlite() {
        return Ok(());
    }
    // A key space of its own: the high bits spell "RA" (Rampart Applications).
    let key = 0x5241_0000_0000_0000_i64 | num;
    tx.exec("SELECT pg_advisory_xact_lock($1)", [key.into()])
        .await?;
    Ok(())
}

/// The PostgreSQL schema of an application database.
pub(crate) fn schema_name(num: i64) -> String {
    format!("app_{num}")
}

/// The table holding a database's layout (one row).
fn layout_table_sql(prefix: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {prefix}\"_rampart_layout\" (\"id\" INTEGER PRIMARY KEY, \
         \"layout\" TEXT NOT NULL, \"updated_at\" BIGINT NOT NULL)"
    )
}

/// The SQLite file of an application database: `apps/<num>.db` beside the platform's file,
/// created private (0600, in a 0700 directory).
fn app_file(platform: &Path, num: i64) -> Result<PathBuf, Error> {
    let dir = platform
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("apps");
    let io = |e: std::io::Error| Error::Unavailable(format!("application database {num}: {e}"));
    if !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
    }
    let file = dir.join(format!("{num}.db"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(&file).map_err(io)?;
    Ok(file)
}

async fn open_sqlite_app(platform: &Path, num: i64) -> Result<AppPools, Error> {
    let file = app_file(platform, num)?;
    let cannot_open = |e: sqlx::Error| {
        Error::Unavailable(format!(
            "cannot open application database {}: {e}",
            file.display()
        ))
    };
    let base = SqliteConnectOptions::new()
        .filename(&file)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Deleted content (a dropped column, a deleted record) is overwritten, not left in
        // free pages of the file.
        .pragma("secure_delete", "ON")
        .busy_timeout(Duration::from_secs(5));
    let platform = read_only_uri(platform);
    let (for_writer, for_readers) = (platform.clone(), platform);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .before_acquire(crate::backend::sqlite_reusable)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| attach(conn, for_writer.clone(), false))
        .connect_with(base.clone())
        .await
        .map_err(cannot_open)?;
    for sql in [layout_table_sql(""), outbox::TABLE_SQL.to_owned()] {
        sqlx::query(&sql)
            .execute(&writer)
            .await
            .map_err(cannot_open)?;
    }
    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| attach(conn, for_readers.clone(), true))
        .connect_with(base.clone().read_only(true).pragma("mmap_size", MMAP_SIZE))
        .await
        .map_err(cannot_open)?;
    let advanced = SqlitePoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(base.read_only(true).pragma("query_only", "ON"));
    Ok(AppPools {
        writer,
        reader,
        advanced,
    })
}

/// How much of each database file a reader maps into memory: SQLite's largest
/// (`SQLITE_MAX_MMAP_SIZE`, just under 2 GiB); pages past it are read as usual.
const MMAP_SIZE: &str = "2147418112";

/// The platform's file as a URI that opens it read-only (`?`, `#` and `%` escaped).
fn read_only_uri(platform: &Path) -> String {
    let mut uri = String::from("file:");
    for ch in platform.to_string_lossy().chars() {
        match ch {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

/// Attaches the platform's database read-only as `platform` (the row-level rule reads its
/// hierarchy paths; writes read owners' numbers), mapped into memory for readers.
fn attach(
    conn: &mut sqlx::SqliteConnection,
    platform: String,
    mmap: bool,
) -> futures_util::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        // Read-only: a statement of the runtime reads the platform's hierarchy tables and
        // can write nothing there, and a write transaction here never holds the platform's
        // write lock (which would stall the audit log behind an application write).
        let mut uri = String::from("file:");
        for c in platform.chars() {
            match c {
                '?' | '#' | '%' => uri.push_str(&format!("%{:02X}", u32::from(c))),
                c => uri.push(c),
            }
        }
        uri.push_str("?mode=ro");
        sqlx::query("ATTACH DATABASE $1 AS platform")
            .bind(platform)
            .execute(&mut *conn)
            .await?;
        if mmap {
            sqlx::query(&format!("PRAGMA platform.mmap_size = {MMAP_SIZE}"))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    })
}
