//! Backups: the records of backups, restores and drills (migration 0010, each written with
//! its `backup.*` audit event), the census a backup's manifest carries, and on SQLite the
//! consistent copy of a database file (`VACUUM INTO`, one read transaction of the source,
//! so a copy taken while the server writes is the database as of one commit). On
//! PostgreSQL: the exported snapshot `pg_dump` takes the database in (the census read in
//! the same snapshot); the scratch database a drill restores into is `drill`'s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_core::{AuditContext, Error};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};
use time::OffsetDateTime;

use crate::backend::{from_millis, to_millis, Backend};
use crate::db::Tx;
use crate::Store;

/// A backup, restore or drill to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    /// This record's id.
    pub id: String,
    /// `backup`, `restore` or `drill`.
    pub kind: String,
    /// The backup's id (its manifest's).
    pub backup_id: String,
    /// When it finished.
    pub at: OffsetDateTime,
    /// The archive's size in bytes.
    pub bytes: i64,
    /// How long it took, in milliseconds.
    pub millis: i64,
    /// A JSON object: the archive's name and hash, what it holds, timings.
    pub details: String,
}

/// The platform tables a backup's census counts, so a restore (and a drill) can compare.
pub const CENSUS_TABLES: [&str; 15] = [
    "users",
    "it_role_assignments",
    "sessions",
    "authz_changes",
    "authz_role_grants",
    "acl_records",
    "acl_grants",
    "it_overrides",
    "it_modules",
    "module_versions",
    "deployed",
    "deployments",
    "app_databases",
    "environment_settings",
    "support_cases",
];

/// A PostgreSQL snapshot held open and exported ([`Store::postgres_export_snapshot`]):
/// `pg_dump --snapshot` dumps the database as this snapshot sees it while it is held.
pub struct ExportedSnapshot {
    tx: Tx<'static>,
    id: String,
    census: Vec<(String, i64)>,
}

impl ExportedSnapshot {
    /// The snapshot's id, for `pg_dump --snapshot`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The census read in the snapshot (as [`Store::backup_census`]).
    pub fn census(&self) -> &[(String, i64)] {
        &self.census
    }

    /// Ends the snapshot (once the dump that imported it is done).
    pub async fn release(self) -> Result<(), Error> {
        self.tx.commit().await
    }
}

/// The census ([`Store::backup_census`]) read in `tx`.
async fn census_in(tx: &mut Tx<'_>) -> Result<Vec<(String, i64)>, Error> {
    let mut out = Vec::with_capacity(CENSUS_TABLES.len() + 1);
    for table in CENSUS_TABLES {
        let n: i64 = tx
            .scalar(&format!("SELECT COUNT(*) FROM {table}"), [])
            .await?;
        out.push((table.to_owned(), n));
    }
    let size: i64 = tx
        .scalar("SELECT size FROM audit_head WHERE id = 1", [])
        .await?;
    out.push(("audit_events".to_owned(), size));
    Ok(out)
}

impl Store {
    /// Records a backup, restore or drill with its audit event (`backup.create`,
    /// `backup.restore` or `backup.drill`), in one transaction.
    pub async fn backup_record(
        &self,
        ctx: &AuditContext,
        record: &BackupRecord,
    ) -> Result<(), Error> {
        let action = match record.kind.as_str() {
            "backup" => "backup.create",
            "restore" => "backup.restore",
            "drill" => "backup.drill",
            other => {
                return Err(Error::Internal(format!(
                    "unknown kind of backup record `{other}`"
                )))
            }
        };
        let details: serde_json::Value = serde_json::from_str(&record.details)
            .map_err(|e| Error::Internal(format!("backup record details: {e}")))?;
        let mut tx = self.write().await?;
        tx.exec(
            "INSERT INTO backup_records (id, kind, backup_id, at, bytes, millis, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                record.id.as_str().into(),
                record.kind.as_str().into(),
                record.backup_id.as_str().into(),
                to_millis(record.at).into(),
                record.bytes.into(),
                record.millis.into(),
                record.details.as_str().into(),
            ],
        )
        .await?;
        crate::audit::record(
            &mut tx,
            ctx,
            record.at,
            action,
            format!("backup:{}", record.backup_id),
            details,
        )
        .await?;
        tx.commit().await
    }

    /// The newest records of `kind` (every kind when `None`), newest first.
    pub async fn backup_records(
        &self,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BackupRecord>, Error> {
        type Row = (String, String, String, i64, i64, i64, String);
        let rows: Vec<Row> = self
            .reader()
            .all(
                "SELECT id, kind, backup_id, at, bytes, millis, details FROM backup_records \
                 WHERE ($1 IS NULL OR kind = $1) ORDER BY at DESC, id DESC LIMIT $2",
                [kind.into(), limit.into()],
            )
            .await?;
        rows.into_iter()
            .map(|(id, kind, backup_id, at, bytes, millis, details)| {
                Ok(BackupRecord {
                    id,
                    kind,
                    backup_id,
                    at: from_millis(at)?,
                    bytes,
                    millis,
                    details,
                })
            })
            .collect()
    }

    /// The row count of each of [`CENSUS_TABLES`], and the audit log's size as `audit_events`,
    /// read in one snapshot.
    pub async fn backup_census(&self) -> Result<Vec<(String, i64)>, Error> {
        let mut tx = self.snapshot().await?;
        let census = census_in(&mut tx).await?;
        tx.commit().await?;
        Ok(census)
    }

    /// On PostgreSQL, a repeatable-read snapshot of the database held open and exported
    /// (`pg_export_snapshot`), with the census read in it: `pg_dump --snapshot` then dumps
    /// exactly what the census counted. Refused on SQLite.
    pub async fn postgres_export_snapshot(&self) -> Result<ExportedSnapshot, Error> {
        if self.kind() == crate::BackendKind::Sqlite {
            return Err(Error::Internal(
                "an exported snapshot is PostgreSQL's".to_owned(),
            ));
        }
        let mut tx = self.snapshot().await?;
        // The first statement of a repeatable-read transaction takes its snapshot.
        let id: String = tx.scalar("SELECT pg_export_snapshot()", []).await?;
        let census = census_in(&mut tx).await?;
        Ok(ExportedSnapshot { tx, id, census })
    }

    /// The newest migration applied to the database.
    pub async fn schema_version(&self) -> Result<i64, Error> {
        self.reader()
            .scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations", [])
            .await
    }

    /// On PostgreSQL, whether the database holds no table at all (what a restore into it
    /// needs); always true on SQLite, whose restores go to an empty data directory.
    pub async fn postgres_is_empty(&self) -> Result<bool, Error> {
        if self.kind() == crate::BackendKind::Sqlite {
            return Ok(true);
        }
        let n: i64 = self
            .reader()
            .scalar(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
                [],
            )
            .await?;
        Ok(n == 0)
    }

    /// On PostgreSQL, drops everything a refused restore put into a database that was empty
    /// before it: the application schemas and the public schema's contents.
    pub async fn postgres_discard_restore(&self) -> Result<(), Error> {
        if self.kind() == crate::BackendKind::Sqlite {
            return Ok(());
        }
        let schemas: Vec<String> = self
            .reader()
            .scalars(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'app\\_%'",
                [],
            )
            .await?;
        let mut tx = self.write().await?;
        for schema in schemas {
            let quoted = schema.replace('"', "\"\"");
            tx.exec(&format!("DROP SCHEMA \"{quoted}\" CASCADE"), [])
                .await?;
        }
        tx.exec("DROP SCHEMA public CASCADE", []).await?;
        tx.exec("CREATE SCHEMA public", []).await?;
        tx.commit().await
    }

    /// The SQLite file of the platform's database; `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::Sqlite { path, .. } => Some(path.clone()),
            Backend::Postgres(_) => None,
        }
    }

    /// On SQLite, the application database files of the catalog (`apps/<num>.db`) that
    /// exist, by number.
    pub async fn app_database_files(&self) -> Result<Vec<(i64, PathBuf)>, Error> {
        let Some(platform) = self.sqlite_file() else {
            return Ok(Vec::new());
        };
        let dir = platform
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("apps");
        Ok(self
            .app_databases()
            .await?
            .into_iter()
            .map(|db| (db.num, dir.join(format!("{}.db", db.num))))
            .filter(|(_, path)| path.is_file())
            .collect())
    }
}

/// Copies the SQLite database `source` into the new file `dest` (which must not exist) with
/// `VACUUM INTO`: one read transaction of the source, so the copy is the database as of one
/// commit even while another process writes it (WAL lets readers and the writer run side
/// by side). The copy is compact and holds no WAL of its own.
pub async fn sqlite_copy(source: &Path, dest: &Path) -> Result<(), Error> {
    let fail = |e: sqlx::Error| {
        Error::Unavailable(format!(
            "cannot copy the SQLite database {}: {e}",
            source.display()
        ))
    };
    let options = SqliteConnectOptions::new()
        .filename(source)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = options.connect().await.map_err(fail)?;
    let dest_text = dest.to_string_lossy().into_owned();
    sqlx::query("VACUUM INTO $1")
        .bind(dest_text)
        .execute(&mut conn)
        .await
        .map_err(fail)?;
    conn.close().await.map_err(fail)?;
    Ok(())
}

/// Checks a SQLite file's integrity (`PRAGMA integrity_check`): `Ok` when it answers `ok`.
pub async fn sqlite_integrity(file: &Path) -> Result<(), Error> {
    let fail = |e: sqlx::Error| {
        Error::invalid(
            "backup",
            format!("{} is not a readable SQLite database: {e}", file.display()),
        )
    };
    // Not read-only: a file left in WAL mode needs its shared-memory file made beside it.
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(false);
    let mut conn = options.connect().await.map_err(fail)?;
    let answer: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(fail)?;
    conn.close().await.map_err(fail)?;
    if answer == "ok" {
        Ok(())
    } else {
        Err(Error::invalid(
            "backup",
            format!(
                "{} fails SQLite's integrity check: {answer}",
                file.display()
            ),
        ))
    }
}
