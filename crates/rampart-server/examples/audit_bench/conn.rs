//! The benchmark's own connection to the log's database: the block baseline's table, the
//! log's stored blocks read back (to check the baseline writes the same bytes), and the
//! plans of the searches' statements.

use sqlx::Connection as _;

use crate::events::Blocks;

/// Blocks per `INSERT` of the baseline: the store's step (`STEP_BLOCKS`).
const STATEMENT_BLOCKS: usize = 16;

/// A direct connection, outside the store.
pub enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Conn {
    /// A connection to the SQLite database at `path` with the store writer's durability
    /// and cache (WAL, `synchronous = FULL`, 64 MiB page cache, the writer's checkpoint
    /// threshold; the store's own checkpointer runs on the same file), read back and
    /// returned for the report.
    pub async fn sqlite(path: &std::path::Path) -> (Conn, String) {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "16384");
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        let mut settings = Vec::new();
        for p in [
            "journal_mode",
            "synchronous",
            "cache_size",
            "wal_autocheckpoint",
        ] {
            use sqlx::Row as _;
            let row = sqlx::query(&format!("PRAGMA {p}"))
                .fetch_one(&mut c)
                .await
                .unwrap();
            let v = row
                .try_get::<String, _>(0)
                .or_else(|_| row.try_get::<i64, _>(0).map(|i| i.to_string()))
                .unwrap();
            settings.push(format!("{p}={v}"));
        }
        (Conn::Sqlite(c), settings.join(", "))
    }

    pub async fn pg(url: &str) -> Conn {
        Conn::Pg(sqlx::PgConnection::connect(url).await.unwrap())
    }

    fn is_sqlite(&self) -> bool {
        matches!(self, Conn::Sqlite(_))
    }

    pub async fn exec(&mut self, sql: &str) {
        match self {
            Conn::Sqlite(c) => sqlx::query(sql).execute(c).await.map(|_| ()),
            Conn::Pg(c) => sqlx::query(sql).execute(c).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The block baseline's table: a primary key and the block's bytes, nothing else.
    pub async fn create_baseline(&mut self) {
        let sql = if self.is_sqlite() {
            "CREATE TABLE IF NOT EXISTS bench_blocks (first_seq INTEGER PRIMARY KEY, data BLOB NOT NULL)"
        } else {
            "CREATE TABLE IF NOT EXISTS bench_blocks (first_seq BIGINT PRIMARY KEY, data BYTEA NOT NULL)"
        };
        self.exec(sql).await;
    }

    /// The baseline: a batch's blocks inserted in one transaction, 16 rows a statement as the
    /// store's steps (on SQLite `INSERT OR FAIL`, as the store, so neither keeps a statement
    /// journal).
    pub async fn insert_blocks(&mut self, blocks: &Blocks) {
        let sqlite = self.is_sqlite();
        let sql = |n: usize| {
            let mut s = String::from(if sqlite {
                "INSERT OR FAIL INTO bench_blocks (first_seq, data) VALUES "
            } else {
                "INSERT INTO bench_blocks (first_seq, data) VALUES "
            });
            for i in 0..n {
                if i > 0 {
                    s.push(',');
                }
                if sqlite {
                    s.push_str("(?,?)");
                } else {
                    s.push_str(&format!("(${},${})", 2 * i + 1, 2 * i + 2));
                }
            }
            s
        };
        macro_rules! run {
            ($c:expr) => {{
                let mut tx = $c.begin().await.unwrap();
                for chunk in blocks.chunks(STATEMENT_BLOCKS) {
                    let text = sql(chunk.len());
                    let mut q = sqlx::query(&text);
                    for (first, data) in chunk {
                        q = q.bind(*first).bind(&data[..]);
                    }
                    q.execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }};
        }
        match self {
            Conn::Sqlite(c) => run!(c),
            Conn::Pg(c) => run!(c),
        }
    }

    /// The log's stored blocks from `first` to `last` (first sequence numbers), in order.
    pub async fn log_blocks(&mut self, first: i64, last: i64) -> Blocks {
        let sql = if self.is_sqlite() {
            "SELECT first_seq, data FROM audit_blocks WHERE first_seq >= ? AND first_seq <= ? ORDER BY first_seq"
        } else {
            "SELECT first_seq, data FROM audit_blocks WHERE first_seq >= $1 AND first_seq <= $2 ORDER BY first_seq"
        };
        let q = sqlx::query_as::<_, (i64, Vec<u8>)>(sql)
            .bind(first)
            .bind(last);
        match self {
            Conn::Sqlite(c) => q.fetch_all(c).await,
            Conn::Pg(c) => {
                sqlx::query_as::<_, (i64, Vec<u8>)>(sql)
                    .bind(first)
                    .bind(last)
                    .fetch_all(c)
                    .await
            }
        }
        .unwrap()
    }

    pub async fn plan(&mut self, sql: &str) -> Vec<String> {
        match self {
            Conn::Sqlite(c) => {
                sqlx::query_as::<_, (i64, i64, i64, String)>(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(c)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.3)
                    .collect()
            }
            Conn::Pg(c) => sqlx::query_scalar::<_, String>(&format!("EXPLAIN {sql}"))
                .fetch_all(c)
                .await
                .unwrap(),
        }
    }
}
