//! Backups and verified restores of a node's data: `rampart backup`, `rampart restore` and
//! the disaster-recovery drill (`rampart restore --drill`).
//!
//! **What a backup holds** (`archive::Manifest`): the platform's database (users, sessions,
//! authorization data, modules and deployments, the audit log with its signed checkpoints),
//! every application database, the audit archive's segments, `rampart.toml` when the data
//! directory has one, and — only with `--include-keys` — the data directory's key files,
//! encrypted with age (`keys`). Never the master key of sensitive values.
//!
//! **Consistency while the server runs** (SQLite): each database file is copied with
//! `VACUUM INTO`, one read transaction, so each copy is that file as of one commit. The
//! application databases are copied first and the platform's last: an application write's
//! audit events wait in its database's outbox until they are moved into the log with the
//! watermark `app_databases.outbox_done` (see `rampart_store::apps`), so every event of a
//! write in the copied application database is either in the copied log (at or below the
//! copied watermark) or still in the copied outbox (above it), and the restored node's
//! start moves those, exactly once. The log may also hold the events of application writes
//! made while the backup ran, after their database was copied: the log is at most the
//! backup's duration ahead of the application data, never behind. (An application
//! database first created while a backup runs, after the application databases were copied,
//! is in the copied catalog without its file, and starts empty on the restored node.)
//!
//! **PostgreSQL** (`postgres.rs`): a checkpoint is signed on the live log, then a snapshot
//! is exported and the census read in it, and `pg_dump` takes the whole database as that
//! snapshot (so it holds at least the events the checkpoint covers, and the rows the census
//! counts); a restore runs `pg_restore` in one transaction into an empty database and drops
//! what it restored when the checks that follow refuse it. The drill restores into a
//! scratch database it creates on the live database's server and always drops again; one
//! its drill could not drop (killed midway) is dropped before the next drill, found by the
//! drill lock no living drill holds on it.
//!
//! **Every event is covered by a signature** (SQLite): after copying, the backup signs a checkpoint
//! of the copy's log with the node's audit key, into the copy (the same root the live log
//! has at that size, since the copy is its prefix). A restore refuses a backup whose log
//! does not verify against its checkpoints (`restore`).

pub mod archive;
pub mod keys;
mod postgres;
pub mod restore;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_core::{AuditContext, Error};
use rampart_store::{BackupRecord, Store};
use time::OffsetDateTime;

use crate::AppState;
use archive::{AuditSummary, KeysSummary, Manifest, Writer};

pub use age::secrecy::SecretString;
pub use keys::{Protection, Unlock};
pub use restore::{drill, drop_dead_drills, restore, RestoreOptions, Restored};

/// What a long step reports: its phase, and bytes done of a total (0 when unknown).
pub type Progress<'a> = &'a mut (dyn FnMut(&str, u64, u64) + Send);

/// A finished backup.
#[derive(Debug, Clone)]
pub struct BackupDone {
    /// Its manifest.
    pub manifest: Manifest,
    /// Where it was written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// A directory for the parts while they are prepared, next to the output (so renames stay
/// on one file system), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(path: PathBuf) -> Result<Self, Error> {
        crate::files::create_private_dir(&path)
            .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", path.display())))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The milliseconds since `started`, by the node's clock.
fn millis_since(state: &AppState, started: OffsetDateTime) -> u64 {
    u64::try_from((state.clock.now() - started).whole_milliseconds()).unwrap_or(0)
}

/// Takes a backup of the node `state` opened (its configuration and database) into the new
/// file `output`, while its server may run; records it (a `backup.create` event and the
/// record the posture report reads) with `ctx`.
pub async fn create(
    state: &AppState,
    ctx: &AuditContext,
    output: &Path,
    keys: Option<&Protection>,
    progress: Progress<'_>,
) -> Result<BackupDone, Error> {
    let store = &state.store;
    let started = state.clock.now();
    let id = uuid::Uuid::now_v7().to_string();
    let scratch = Scratch::new(PathBuf::from(format!("{}.parts-{id}", output.display())))?;
    let mut writer = Writer::create(output)?;
    let result = async {
        let (mut files, audit, census, schema_version) = match store.sqlite_file() {
            Some(platform) => sqlite_parts(state, &platform, &scratch.0, progress).await?,
            None => postgres_parts(state, &scratch.0, progress).await?,
        };
        let archive_dir = crate::audit::archive_dir(&state.config);
        if let Ok(entries) = std::fs::read_dir(&archive_dir) {
            let mut segments: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            segments.sort();
            for path in segments {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((format!("audit-archive/{name}"), path, false));
            }
        }
        let config_file = state.config.data_dir.join("rampart.toml");
        if config_file.is_file() {
            files.push(("rampart.toml".to_owned(), config_file, true));
        }

        let total: u64 = files.iter().map(|(_, p, _)| file_size(p)).sum();
        let mut done = 0u64;
        for (name, path, gzip) in &files {
            let before = done;
            writer.add_file(name, path, *gzip, &mut |n| {
                progress("writing the archive", before + n, total)
            })?;
            done += file_size(path);
        }
        let keys_summary = match keys {
            None => None,
            Some(protection) => {
                let files = keys::collect(&state.config.data_dir)?;
                let names = files.iter().map(|f| f.path.clone()).collect();
                let sealed = keys::seal(files, protection)?;
                writer.add_bytes("keys.age", &sealed)?;
                Some(KeysSummary {
                    encryption: protection.name().to_owned(),
                    files: names,
                })
            }
        };
        Ok::<_, Error>(Manifest {
            format: archive::FORMAT.to_owned(),
            id: id.clone(),
            created_at: started,
            rampart_version: env!("CARGO_PKG_VERSION").to_owned(),
            database: store.kind().as_str().to_owned(),
            node_id: state.config.node_id.clone(),
            schema_version,
            audit,
            census,
            keys: keys_summary,
            parts: Vec::new(),
        })
    }
    .await;
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            writer.abandon();
            return Err(e);
        }
    };
    let (manifest, bytes) = writer.finish(manifest)?;
    drop(scratch);
    let millis = millis_since(state, started);
    let details = serde_json::json!({
        "file": output.file_name().map(|n| n.to_string_lossy().into_owned()),
        "parts": manifest.parts.len(),
        "audit_size": manifest.audit.size,
        "keys": manifest.keys.is_some(),
    });
    store
        .backup_record(
            ctx,
            &BackupRecord {
                id: uuid::Uuid::now_v7().to_string(),
                kind: "backup".into(),
                backup_id: manifest.id.clone(),
                at: state.clock.now(),
                bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                millis: i64::try_from(millis).unwrap_or(i64::MAX),
                details: details.to_string(),
            },
        )
        .await?;
    Ok(BackupDone {
        manifest,
        path: output.to_owned(),
        bytes,
        millis,
    })
}

/// A part to write: its name in the archive, the file, and whether to compress it.
type PartFile = (String, PathBuf, bool);

/// What the database parts give the manifest.
type Parts = (Vec<PartFile>, AuditSummary, BTreeMap<String, i64>, i64);

/// SQLite: every application database copied, then the platform's (see the module's
/// header), with a checkpoint signed into the copy.
async fn sqlite_parts(
    state: &AppState,
    platform: &Path,
    scratch: &Path,
    progress: Progress<'_>,
) -> Result<Parts, Error> {
    let apps = state.store.app_database_files().await?;
    let mut copies = Vec::new();
    for (i, (num, file)) in apps.iter().enumerate() {
        progress("copying application databases", i as u64, apps.len() as u64);
        let copy = scratch.join(format!("app-{num}.db"));
        rampart_store::sqlite_copy(file, &copy).await?;
        copies.push((format!("apps/{num}.db"), copy, true));
    }
    progress("copying the platform database", 0, 0);
    let platform_copy = scratch.join("platform-copy.db");
    rampart_store::sqlite_copy(platform, &platform_copy).await?;
    let (audit, census, schema_version) = seal_copy(state, &platform_copy).await?;
    // The copy was opened as a store (WAL mode): copied once more, it is one file that
    // stands alone, whatever the store left in its write-ahead log.
    let platform_final = scratch.join("platform.db");
    rampart_store::sqlite_copy(&platform_copy, &platform_final).await?;
    copies.insert(0, ("platform.db".to_owned(), platform_final, true));
    Ok((copies, audit, census, schema_version))
}

/// PostgreSQL: a checkpoint signed on the live log, then a snapshot exported and the census
/// read in it, then `pg_dump` of that snapshot (taken after the checkpoint, so the dump
/// holds at least the events the checkpoint covers, and exactly the rows the census counts).
async fn postgres_parts(
    state: &AppState,
    scratch: &Path,
    progress: Progress<'_>,
) -> Result<Parts, Error> {
    let conn = postgres::Conn::parse(&state.config.database_url)?;
    progress("signing a checkpoint", 0, 0);
    state.audit.load().await?;
    let checkpoint = state
        .audit
        .checkpoint(state.clock.now(), &state.metrics)
        .await?;
    let schema_version = state.store.schema_version().await?;
    let snapshot = state.store.postgres_export_snapshot().await?;
    progress("pg_dump", 0, 0);
    let dump = scratch.join("postgres.dump");
    // The snapshot is held until the dump is done; on a failure, dropping it ends it.
    postgres::dump(&conn, &dump, snapshot.id()).await?;
    let census: BTreeMap<String, i64> = snapshot.census().iter().cloned().collect();
    snapshot.release().await?;
    let audit = AuditSummary {
        origin: state.audit.origin().to_owned(),
        verifier_key: state.audit.verifier_key(),
        size: checkpoint.size,
        checkpoint_size: checkpoint.size,
    };
    Ok((
        vec![("postgres.dump".to_owned(), dump, false)],
        audit,
        census,
        schema_version,
    ))
}

/// Signs a checkpoint of the copied log into the copy with the node's key, and reads what
/// the manifest says of it: the audit summary, the census and the schema version.
async fn seal_copy(
    state: &AppState,
    copy: &Path,
) -> Result<(AuditSummary, BTreeMap<String, i64>, i64), Error> {
    let store = Store::open_sqlite(copy).await?;
    let result = async {
        let key =
            crate::audit::load_or_create_key(&state.config.data_dir, &state.config.audit.origin)?;
        let origin = crate::audit::origin_of(&state.config.audit.origin, &key);
        let log = crate::audit::AuditLog::new(store.clone(), key, origin.clone(), 1, 1)?;
        log.use_keys(state.keys.clone());
        log.load().await?;
        let metrics = crate::metrics::Metrics::default();
        let checkpoint = log.checkpoint(state.clock.now(), &metrics).await?;
        let size = store.audit_size().await?;
        let census: BTreeMap<String, i64> = store.backup_census().await?.into_iter().collect();
        let schema = store.schema_version().await?;
        Ok::<_, Error>((
            AuditSummary {
                origin,
                verifier_key: log.verifier_key(),
                size,
                checkpoint_size: checkpoint.size,
            },
            census,
            schema,
        ))
    }
    .await;
    store.close().await;
    result
}
