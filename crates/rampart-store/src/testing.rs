//! Fresh, migrated databases on both backends, for tests.
//!
//! PostgreSQL tests need `RAMPART_TEST_PG_URL`, which `./scripts/test` sets after starting
//! a throw-away cluster on loopback; each test gets a database of its own on it. Without
//! it PostgreSQL tests fail (they are never skipped).
//!
//! Test support only: failures panic, which is how a test reports them.
#![allow(clippy::panic)]

use std::path::PathBuf;

use sqlx::Connection as _;

use crate::{BackendKind, Store};

/// A store for one test, and what keeps its database alive.
pub struct TestStore {
    /// The migrated store.
    pub store: Store,
    /// The SQLite data directory (kept until the last clone drops), if SQLite.
    pub dir: Option<std::sync::Arc<tempfile::TempDir>>,
    /// The connection URL, if PostgreSQL.
    pub url: Option<String>,
}

impl TestStore {
    /// Which backend this is, for assertion messages.
    pub fn kind(&self) -> BackendKind {
        self.store.kind()
    }
}

/// The URL of the throw-away cluster's admin database.
pub fn cluster_url() -> String {
    std::env::var("RAMPART_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "RAMPART_TEST_PG_URL is not set: run the tests with ./scripts/test, which starts a \
             throw-away PostgreSQL on loopback (every test runs on SQLite and PostgreSQL)"
        )
    })
}

/// Creates an empty database on the test cluster and returns its URL.
pub async fn fresh_postgres_url() -> String {
    let admin = cluster_url();
    let name = format!("rampart_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE failed: {e}"));
    let _ = conn.close().await;
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("RAMPART_TEST_PG_URL must end with /database"),
    }
}

/// The store `opened` on `backend`, migrated.
async fn migrated(opened: Result<Store, rampart_core::Error>, backend: &str) -> Store {
    let store = opened.unwrap_or_else(|e| panic!("open {backend}: {e}"));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate {backend}: {e}"));
    store
}

/// A migrated SQLite store in a temporary directory.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path: PathBuf = dir.path().join("rampart.db");
    TestStore {
        store: migrated(Store::open_sqlite(&path).await, "sqlite").await,
        dir: Some(std::sync::Arc::new(dir)),
        url: None,
    }
}

/// A migrated store on a fresh PostgreSQL database.
pub async fn postgres() -> TestStore {
    let url = fresh_postgres_url().await;
    TestStore {
        store: migrated(Store::open_postgres(&url, 5).await, "postgres").await,
        dir: None,
        url: Some(url),
    }
}

/// One fresh store per backend: SQLite, then PostgreSQL.
pub async fn both() -> Vec<TestStore> {
    vec![sqlite().await, postgres().await]
}

/// Runs `body` on a fresh store of each backend. A failure on one backend does not hide the
/// other's result: both run, each failure is printed as it happens, and the call then fails
/// naming the backends that failed.
pub async fn each_backend<F, Fut>(body: F)
where
    F: Fn(TestStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt as _;
    let mut failed = Vec::new();
    for (name, store) in [("sqlite", sqlite().await), ("postgres", postgres().await)] {
        // The body may drop what it does not bind; the data directory lives until it is done.
        let handed = TestStore {
            store: store.store.clone(),
            dir: store.dir.clone(),
            url: store.url.clone(),
        };
        let run = std::panic::AssertUnwindSafe(body(handed))
            .catch_unwind()
            .await;
        drop(store);
        if run.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "failed on {}", failed.join(" and "));
}
