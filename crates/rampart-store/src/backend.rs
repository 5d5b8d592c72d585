//! Connecting, migrating, and running one query text on either backend.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rampart_core::Error;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection as _, Postgres};
use time::OffsetDateTime;

/// The SQLite writer's page cache by default, in MiB (`sqlite_cache_mib`). Under a sign-in
/// or token load the cache fills with the pages writes touch and stays full: at 64 MiB it
/// was most of a node's memory (BENCHMARKS.md, "OpenID provider — over HTTPS").
pub const DEFAULT_SQLITE_CACHE_MIB: u32 = 16;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite file in the data directory.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl BackendKind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// SQLite allows one writer at a time: writes go through a single connection (so they
    /// queue in the pool instead of failing with SQLITE_BUSY), reads through several
    /// read-only connections that WAL lets run beside the writer.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        /// Set by [`Store::close`]; the checkpointer also stops when the last handle goes.
        closed: Arc<AtomicBool>,
        /// Writes grouped into shared commits on `writer` ([`crate::group`]).
        grouped: crate::group::Queue,
        /// The database file (application databases are files beside it).
        path: std::path::PathBuf,
    },
    Postgres(PgPool),
}

/// The handle to Rampart's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// Bumped after every committed change that can end a session or change what a
    /// session's user looks like; see [`Store::credentials_epoch`].
    pub(crate) epoch: Arc<AtomicU64>,
    /// Bumped after every committed change that moved the marks; see [`Store::marks_moved`].
    pub(crate) moved: Arc<AtomicU64>,
    /// Events appended in blocks through this handle's clones; see [`Store::audit_appended`].
    pub(crate) appended: Arc<AtomicU64>,
    /// Where this node's last append left the audit log's head (PostgreSQL's one-statement
    /// appends; see [`Store::append_events`]).
    pub(crate) head: Arc<crate::audit::HeadGuess>,
    /// The open application databases (SQLite: their pools, by catalog number).
    pub(crate) apps: Arc<crate::apps::Pools>,
}

/// Whether a pooled SQLite connection may be handed out again. When a COMMIT fails because
/// the disk is full or an I/O error struck, SQLite has already rolled the transaction back;
/// the ROLLBACK sqlx then sends fails ("no transaction is active") and sqlx keeps counting
/// the connection as inside a transaction, so every later BEGIN on it would fail. Such a
/// connection is closed (and a new one opened) instead of reused: a node whose disk filled
/// and freed writes again without a restart.
pub(crate) fn sqlite_reusable(
    conn: &mut sqlx::SqliteConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    let reusable = !conn.is_in_transaction();
    if !reusable {
        tracing::warn!("a database connection left inside a failed transaction is closed");
    }
    Box::pin(std::future::ready(Ok(reusable)))
}

/// When a connection to PostgreSQL was last found lost, in milliseconds of [`loss_clock`]
/// (0: never). A lost connection means the server restarted or the network dropped, so every
/// connection opened before it is suspect, whichever pool it is in: the mark is the process's.
static LAST_LOSS_MS: AtomicU64 = AtomicU64::new(0);

/// How long after a loss connections older than it are pinged before use. Past the pools'
/// idle timeout (60 s), an old connection still pooled has been used since, successfully.
const SUSPECT_FOR: Duration = Duration::from_secs(65);

fn loss_clock() -> Duration {
    static BEGAN: OnceLock<Instant> = OnceLock::new();
    BEGAN.get_or_init(Instant::now).elapsed()
}

/// Whether `e` says the connection itself is gone (the server restarted or shut down, the
/// network dropped it), as opposed to the statement failing on a live connection.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

fn note_loss(e: &sqlx::Error) {
    if connection_lost(e) {
        let now = u64::try_from(loss_clock().as_millis()).unwrap_or(u64::MAX);
        LAST_LOSS_MS.store(now.max(1), Ordering::Relaxed);
    }
}

/// Whether a pooled PostgreSQL connection may be handed out. Pools do not ping before each
/// use (a round trip per query); but after PostgreSQL restarts, every pooled connection is
/// dead and would fail one request each, long after the server is back if it sat idle. So
/// for a while after a loss was seen, a connection opened before it is pinged first and
/// closed (a new one opened) if the ping fails.
fn pg_reusable(
    conn: &mut PgConnection,
    meta: PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    let lost = LAST_LOSS_MS.load(Ordering::Relaxed);
    let since = loss_clock().saturating_sub(Duration::from_millis(lost));
    let suspect = lost != 0 && since < SUSPECT_FOR && meta.age >= since;
    Box::pin(async move {
        if !suspect {
            return Ok(true);
        }
        let alive = conn.ping().await.is_ok();
        if !alive {
            tracing::info!("a database connection opened before the server went away is closed");
        }
        Ok(alive)
    })
}

/// Begins a PostgreSQL transaction, on another connection when the one taken was lost: a
/// BEGIN that failed that way started nothing on the server, so it is safe to send again.
/// Requests that reach a node just after its database restarted then succeed instead of
/// failing once per dead pooled connection.
pub(crate) async fn pg_begin(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    let mut attempts = 0;
    loop {
        match pool.begin().await {
            Err(e) if connection_lost(&e) && attempts < 3 => {
                note_loss(&e);
                attempts += 1;
            }
            done => return done,
        }
    }
}

/// Converts a database error: unique violations become conflicts, connection trouble
/// becomes `Unavailable`, anything else `Internal`. Causes go to the log, not the client.
pub(crate) fn db(e: sqlx::Error) -> Error {
    note_loss(&e);
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict("an entry with the same unique key already exists".into())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            Error::Conflict("the entry refers to something that does not exist".into())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::Unavailable(e.to_string())
        }
        sqlx::Error::Database(d) if d.code().is_some_and(|c| unavailable_code(&c)) => {
            Error::Unavailable(format!("database: {e}"))
        }
        _ => Error::Internal(format!("database: {e}")),
    }
}

/// Whether a database's error code says the storage cannot serve for now rather than that
/// the statement is wrong: the disk or the memory is full, or the server is shutting down,
/// starting up or has dropped the connection (PostgreSQL restarting under the node). Such
/// a failure answers 503 and changes nothing; the same request succeeds once the cause is
/// gone.
fn unavailable_code(code: &str) -> bool {
    // SQLite's primary codes (extended codes carry them in their low byte): SQLITE_NOMEM 7,
    // SQLITE_IOERR 10, SQLITE_FULL 13, SQLITE_CANTOPEN 14.
    if let Ok(n) = code.parse::<u32>() {
        return matches!(n & 0xff, 7 | 10 | 13 | 14);
    }
    // PostgreSQL's SQLSTATE classes: 08 connection exception, 53 insufficient resources
    // (disk full, out of memory, too many connections), 57P01–57P05 operator intervention
    // (shutdown, crash shutdown, cannot connect now, idle session timeout).
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
}

/// Escapes `%`, `_` and `\` so text is matched literally by `LIKE … ESCAPE '\'`.
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_millis(ms: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| Error::Internal(format!("stored time {ms} out of range: {e}")))
}

pub(crate) fn from_millis_opt(ms: Option<i64>) -> Result<Option<OffsetDateTime>, Error> {
    ms.map(from_millis).transpose()
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`.
    ///
    /// WAL journal, `synchronous = FULL` (a commit is on disk before it is acknowledged),
    /// foreign keys on, and a busy timeout for the rare outside reader.
    pub async fn open_sqlite(path: &Path) -> Result<Self, Error> {
        Self::open_sqlite_with(path, DEFAULT_SQLITE_CACHE_MIB).await
    }

    /// [`Store::open_sqlite`] with a writer's page cache of `cache_mib` MiB.
    pub async fn open_sqlite_with(path: &Path, cache_mib: u32) -> Result<Self, Error> {
        let cannot_open = |e: sqlx::Error| {
            Error::Unavailable(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        };
        let base = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // No ping before each use (sqlx's default): for SQLite it is a round trip to the
        // connection's worker thread that can only fail if the file went away, which the
        // query itself reports.
        // The writer gets a page cache of `cache_mib` (SQLite's default is 2 MiB): writes
        // touch the newest part of several indexes, which stay in memory. Memory is used
        // only as pages are, and a cache kept full is most of a busy node's memory
        // (`DEFAULT_SQLITE_CACHE_MIB`).
        // Checkpoints (copying the WAL into the database file, and its fsync) run on a
        // connection of their own, beside the writer, instead of inside whichever commit
        // crosses SQLite's threshold: a commit then waits for its own WAL write only. The
        // writer still checkpoints by itself past 64 MiB of WAL, should the checkpointer
        // fall behind or be gone.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .before_acquire(sqlite_reusable)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .pragma("cache_size", format!("-{}", u64::from(cache_mib) * 1024))
                    .pragma("wal_autocheckpoint", "16384"),
            )
            .await
            .map_err(cannot_open)?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(base.clone())
            .await
            .map_err(cannot_open)?;
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(checkpoints(checkpointer, Arc::downgrade(&closed)));
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true))
            .await
            .map_err(cannot_open)?;
        Ok(Self {
            backend: Backend::Sqlite {
                grouped: crate::group::Queue::start(writer.clone())?,
                writer,
                reader,
                closed,
                path: path.to_owned(),
            },
            epoch: Arc::default(),
            moved: Arc::default(),
            appended: Arc::default(),
            head: Arc::default(),
            apps: Arc::default(),
        })
    }

    /// Connects to PostgreSQL at `url`, failing fast with a message that names the server
    /// (never the password) when it cannot be reached.
    pub async fn open_postgres(url: &str, max_connections: u32) -> Result<Self, Error> {
        let invalid = || {
            Error::invalid(
                "database_url",
                "is not a valid postgres:// URL (postgres://user:password@host:port/database)",
            )
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid());
        }
        let options = PgConnectOptions::from_str(url).map_err(|_| invalid())?;
        let place = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        // One direct connection first: it fails at once when the server is unreachable,
        // where the pool would keep retrying until its acquire timeout.
        let probe = PgConnection::connect_with(&options);
        let pool = match tokio::time::timeout(Duration::from_secs(10), probe).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                // No ping before each use: it is a network round trip per query. A connection
                // that died fails its query, and the pool drops it then; connections idle for
                // a minute are closed anyway. After a loss, older connections are pinged
                // first (`pg_reusable`) and a lost BEGIN is sent again (`pg_begin`).
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .test_before_acquire(false)
                    .before_acquire(pg_reusable)
                    .idle_timeout(Duration::from_secs(60))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        };
        let pool = pool.map_err(|e| {
            let cause = match &e {
                sqlx::Error::Database(d) => d.message().to_owned(),
                sqlx::Error::Io(io) => io.to_string(),
                sqlx::Error::Tls(_) => "TLS handshake failed".to_owned(),
                sqlx::Error::PoolTimedOut => "timed out".to_owned(),
                _ => "connection failed".to_owned(),
            };
            Error::Unavailable(format!("cannot reach PostgreSQL at {place}: {cause}"))
        })?;
        Ok(Self {
            backend: Backend::Postgres(pool),
            epoch: Arc::default(),
            moved: Arc::default(),
            appended: Arc::default(),
            head: Arc::default(),
            apps: Arc::default(),
        })
    }

    /// The backend this store runs on.
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Whether this process is the only writer of the database. True for SQLite, whose
    /// data directory is locked by one server; false for PostgreSQL, which several nodes
    /// share. Only an exclusive store may answer from caches kept in memory.
    pub fn is_exclusive(&self) -> bool {
        matches!(self.backend, Backend::Sqlite { .. })
    }

    /// A counter that grows after every committed change that revokes a session or
    /// changes a user (disable, delete, password, profile, logout). A cache filled while
    /// the counter had one value must not be trusted once it has another. It counts this
    /// process's changes only: see [`Store::is_exclusive`].
    pub fn credentials_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn credentials_changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.marks_committed();
    }

    /// A counter that grows after every change committed through this handle's clones that
    /// moved the [`Marks`](crate::Marks) (an authorization revision, the credentials epoch,
    /// a deployment): whoever sees it grow across a piece of work knows that work may have
    /// changed what other nodes must learn before they decide again.
    pub fn marks_moved(&self) -> u64 {
        self.moved.load(Ordering::Acquire)
    }

    pub(crate) fn marks_committed(&self) {
        self.moved.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies every pending migration; safe to run on every start and from several nodes
    /// at once (PostgreSQL takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), Error> {
        let failed = |e: sqlx::migrate::MigrateError| Error::Internal(format!("migration: {e}"));
        match &self.backend {
            Backend::Sqlite { writer, .. } => sqlx::migrate!("./migrations/sqlite")
                .run(writer)
                .await
                .map_err(failed),
            Backend::Postgres(pool) => sqlx::migrate!("./migrations/postgres")
                .run(pool)
                .await
                .map_err(failed),
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), Error> {
        crate::db::query("SELECT 1")
            .execute(self.reader())
            .await
            .map(|_| ())
            .map_err(db)
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        self.apps.close().await;
        match &self.backend {
            Backend::Sqlite {
                writer,
                reader,
                closed,
                ..
            } => {
                closed.store(true, Ordering::Release);
                reader.close().await;
                // A clean close leaves every committed change in the database file itself,
                // so a copy of the file alone (a backup, an investigation) holds them all.
                // This used to happen by accident: every start wrote once while moving an
                // outbox that no longer exists, and the last writer to close checkpointed.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(writer)
                    .await
                {
                    tracing::warn!(error = %e, "SQLite checkpoint at close failed");
                }
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs passive checkpoints every 50 ms while the store is open and not closed: each copies
/// the frames committed since the one before into the database file without ever waiting
/// for the writer or a reader.
async fn checkpoints(pool: SqlitePool, closed: std::sync::Weak<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if closed.upgrade().is_none_or(|c| c.load(Ordering::Acquire)) {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "SQLite checkpoint failed; the writer checkpoints instead");
        }
    }
    pool.close().await;
}
