//! Restoring a backup into an empty data directory, and the drill that restores into a
//! scratch directory (and, for a PostgreSQL backup, a scratch database on the live
//! database's server) to prove a backup restores.
//!
//! A restore refuses, and leaves the target as it found it, when: the archive is not a
//! complete `rampart-backup/1` file; the target directory is not empty; a part does not
//! match its SHA-256; a database fails SQLite's integrity check; the keys part does not
//! decrypt (or no way to decrypt it was given and keys were not waived); or the audit log
//! does not verify against its signed checkpoints with the key the operator trusts (the
//! manifest's verifier key unless one is given). Only then are the files moved into place
//! and the restore recorded in the restored node (`backup.restore`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rampart_core::{AuditContext, Clock, Error};
use rampart_store::{BackupRecord, Store};

use super::archive::{Archive, Manifest};
use super::keys::{self, Unlock};
use super::Progress;

/// What to restore, where, and with which keys.
pub struct RestoreOptions<'a> {
    /// The archive.
    pub archive: &'a Path,
    /// The data directory to restore into: missing or empty.
    pub data_dir: &'a Path,
    /// The verifier key to check the audit log with (`<name>+<hash>+<key>`); the
    /// manifest's when `None`.
    pub public_key: Option<&'a str>,
    /// How to open the keys part; `None` restores without keys (refused when the backup
    /// holds some, unless `skip_keys`).
    pub unlock: Option<&'a Unlock>,
    /// Restore without the backup's keys even though it holds some.
    pub skip_keys: bool,
    /// A PostgreSQL backup goes into the empty database at this URL (the configured
    /// `database_url`); `None` for SQLite, whose database goes into `data_dir`.
    pub database_url: Option<&'a str>,
}

/// A finished restore.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Events verified in the audit log, and signed checkpoints checked.
    pub events_verified: u64,
    /// Signed checkpoints the log verified against.
    pub checkpoints_verified: u64,
    /// Key files restored.
    pub keys_restored: usize,
    /// Things the operator should know (missing keys, census differences).
    pub notes: Vec<String>,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// Removes what a failed restore created: the whole directory when the restore created
/// it, else everything in it (it was empty).
struct Undo<'a> {
    dir: &'a Path,
    created: bool,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.created {
            let _ = std::fs::remove_dir_all(self.dir);
        } else if let Ok(entries) = std::fs::read_dir(self.dir) {
            for e in entries.flatten() {
                let path = e.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Unavailable(format!("{}: {e}", path.display()))
}

/// Where a part goes in the data directory; `None` for a part this version does not know.
fn destination(name: &str) -> Option<PathBuf> {
    if name == "platform.db" {
        return Some(PathBuf::from("rampart.db"));
    }
    if name == "rampart.toml" {
        return Some(PathBuf::from(name));
    }
    if let Some(num) = name
        .strip_prefix("apps/")
        .and_then(|n| n.strip_suffix(".db"))
    {
        return num
            .parse::<u64>()
            .ok()
            .map(|n| PathBuf::from(format!("apps/{n}.db")));
    }
    if let Some(file) = name.strip_prefix("audit-archive/") {
        let plain = !file.is_empty()
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !file.starts_with('.');
        return plain.then(|| PathBuf::from(format!("audit-archive/{file}")));
    }
    None
}

/// Restores `options.archive` into `options.data_dir` (see the module's header) and records
/// it there with `ctx` (`backup.restore`).
pub async fn restore(
    options: &RestoreOptions<'_>,
    ctx: &AuditContext,
    clock: &dyn Clock,
    progress: Progress<'_>,
) -> Result<Restored, Error> {
    let started = Instant::now();
    let mut done = unpack(options, progress).await?;
    let store = match options.database_url {
        Some(url) => Store::open_postgres(url, 4).await?,
        None => Store::open_sqlite(&options.data_dir.join("rampart.db")).await?,
    };
    let result = async {
        store.migrate().await?;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        store
            .backup_record(
                ctx,
                &BackupRecord {
                    id: uuid::Uuid::now_v7().to_string(),
                    kind: "restore".into(),
                    backup_id: done.manifest.id.clone(),
                    at: clock.now(),
                    bytes: archive_size(options.archive),
                    millis: i64::try_from(millis).unwrap_or(i64::MAX),
                    details: serde_json::json!({
                        "events_verified": done.events_verified,
                        "keys_restored": done.keys_restored,
                    })
                    .to_string(),
                },
            )
            .await?;
        done.millis = millis;
        Ok::<_, Error>(())
    }
    .await;
    store.close().await;
    result.map(|()| done)
}

fn archive_size(path: &Path) -> i64 {
    std::fs::metadata(path)
        .map(|m| i64::try_from(m.len()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The drill: restores `options.archive` into the scratch directory `options.data_dir`
/// (which must not exist) and, for a PostgreSQL backup, into a scratch database it creates
/// on the server of `options.database_url` (the live database's); starts that database as a
/// node would (migrations, the outboxes moved into the log, the authorization index
/// loaded), compares the census with the manifest, removes the scratch directory and drops
/// the scratch database (whatever the outcome; a drill killed before it could is dropped by
/// [`drop_dead_drills`] before the next), and records the drill in `live` (the node the
/// backup came from) with the time it took. Keys are restored when `options.unlock`
/// opens them, and skipped otherwise.
pub async fn drill(
    live: &Store,
    options: &RestoreOptions<'_>,
    ctx: &AuditContext,
    clock: &dyn Clock,
    progress: Progress<'_>,
) -> Result<Restored, Error> {
    let (archive, scratch) = (options.archive, options.data_dir);
    if scratch.exists() {
        return Err(Error::Conflict(format!(
            "the drill's scratch directory {} exists already",
            scratch.display()
        )));
    }
    let manifest = Archive::open(archive)?.manifest;
    let started = Instant::now();
    let database = match (manifest.database.as_str(), options.database_url) {
        ("sqlite", _) => None,
        ("postgres", None) => {
            return Err(Error::invalid(
                "backup",
                "the backup is of a PostgreSQL node: set RAMPART_DATABASE_URL to the live \
                 database, on whose server the drill creates (and drops) a scratch database",
            ))
        }
        ("postgres", Some(live_url)) => {
            if manifest.census.is_empty() {
                return Err(Error::invalid(
                    "backup",
                    "the backup carries no census to compare with (a PostgreSQL backup of an \
                     earlier version): take a new backup and drill that",
                ));
            }
            // Same user, password, host and parameters; another database.
            let mut url = url::Url::parse(live_url).map_err(|_| {
                Error::invalid(
                    "database_url",
                    "is not a postgres:// URL with a database name",
                )
            })?;
            progress("creating the scratch database", 0, 0);
            let db = live.postgres_create_scratch_database().await?;
            url.set_path(&format!("/{}", db.name()));
            Some((db, String::from(url)))
        }
        (other, _) => {
            return Err(Error::invalid(
                "backup",
                format!("the backup is of a `{other}` database, which this version does not know"),
            ))
        }
    };
    let result = async {
        let url = database.as_ref().map(|(_, url)| url.as_str());
        let options = RestoreOptions {
            skip_keys: options.unlock.is_none(),
            database_url: url,
            ..*options
        };
        let mut done = unpack(&options, progress).await?;
        progress("starting the restored database", 0, 0);
        let store = match url {
            Some(url) => Store::open_postgres(url, 4).await?,
            None => Store::open_sqlite(&scratch.join("rampart.db")).await?,
        };
        let checked = start_and_count(&store, &done.manifest).await;
        store.close().await;
        checked?;
        done.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok::<_, Error>(done)
    }
    .await;
    let _ = std::fs::remove_dir_all(scratch);
    if let Some((db, _)) = database {
        progress("dropping the scratch database", 0, 0);
        let name = db.name().to_owned();
        if let Err(e) = live.postgres_drop_scratch_database(db).await {
            let outcome = match &result {
                Ok(_) => "passed".to_owned(),
                Err(failed) => format!("failed: {}", detail(failed)),
            };
            return Err(Error::Unavailable(format!(
                "the drill's scratch database {name} could not be dropped ({}): the next drill \
                 drops it, or drop it with `DROP DATABASE {name}`; the drill itself {outcome}",
                detail(&e),
            )));
        }
    }
    let done = result?;
    live.backup_record(
        ctx,
        &BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: "drill".into(),
            backup_id: done.manifest.id.clone(),
            at: clock.now(),
            bytes: archive_size(archive),
            millis: i64::try_from(done.millis).unwrap_or(i64::MAX),
            details: serde_json::json!({
                "database": done.manifest.database,
                "events_verified": done.events_verified,
                "checkpoints_verified": done.checkpoints_verified,
            })
            .to_string(),
        },
    )
    .await?;
    Ok(done)
}

/// Drops the scratch databases on the server of `live` (a PostgreSQL node's store) whose
/// drill died before it could drop them, and answers their names: those no living drill
/// holds (see `rampart_store::ScratchDatabase`); a drill running meanwhile keeps its own.
/// Run before a drill of a PostgreSQL backup, and only then. Nothing on SQLite.
pub async fn drop_dead_drills(live: &Store) -> Result<Vec<String>, Error> {
    live.postgres_drop_dead_scratch_databases().await
}

/// An error's cause as the operator should read it (the log's text for storage and
/// internal errors, whose display is generic).
fn detail(e: &Error) -> String {
    match e {
        Error::Unavailable(cause) | Error::Internal(cause) => cause.clone(),
        other => other.to_string(),
    }
}

/// Starts a restored database as a node would (migrations, the outboxes moved into the
/// log, the authorization index loaded) and compares every platform table's row count with
/// the manifest's census (the audit log's size is checked by the restore itself).
async fn start_and_count(store: &Store, manifest: &Manifest) -> Result<(), Error> {
    store.migrate().await?;
    store.flush_app_outboxes().await?;
    store.authz_load(&mut |_, _| {}).await?;
    let census = store.backup_census().await?;
    for (table, n) in census {
        let expected = manifest.census.get(&table).copied();
        if table != "audit_events" && expected != Some(n) {
            return Err(Error::Internal(format!(
                "the restored {table} holds {n} rows, the backup's census says {}",
                expected.map_or("nothing".to_owned(), |e| e.to_string())
            )));
        }
    }
    Ok(())
}

/// Checks the archive and the target, extracts every part into a staging directory inside
/// the target (and, for a PostgreSQL backup, restores the dump into the empty database),
/// verifies them, then moves the files into place. On any refusal the target is left as it
/// was found.
async fn unpack(options: &RestoreOptions<'_>, progress: Progress<'_>) -> Result<Restored, Error> {
    let started = Instant::now();
    let mut archive = Archive::open(options.archive)?;
    let manifest = archive.manifest.clone();
    match (manifest.database.as_str(), options.database_url) {
        ("sqlite", None) | ("postgres", Some(_)) => {}
        ("postgres", None) => {
            return Err(Error::invalid(
                "backup",
                "the backup is of a PostgreSQL node: set RAMPART_DATABASE_URL to an empty \
                 database to restore it into",
            ))
        }
        ("sqlite", Some(_)) => {
            return Err(Error::invalid(
                "backup",
                "the backup is of a SQLite node: unset RAMPART_DATABASE_URL (and database_url) \
                 to restore it into the data directory",
            ))
        }
        (other, _) => {
            return Err(Error::invalid(
                "backup",
                format!("the backup is of a `{other}` database, which this version does not know"),
            ))
        }
    }
    let dir = options.data_dir;
    let created = !dir.exists();
    if !created {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(Error::Conflict(format!(
                "{} is not empty: a backup is restored into an empty (or new) data directory",
                dir.display()
            )));
        }
    }
    // The keys first: a restore that cannot open them stops before writing anything.
    let key_files = match (archive.part("keys.age").cloned(), options.unlock) {
        (None, _) => Vec::new(),
        (Some(_), None) if options.skip_keys => Vec::new(),
        (Some(_), None) => {
            return Err(Error::invalid(
                "keys",
                "the backup holds keys encrypted with age: give --keys-identity-file or \
                 --keys-passphrase to restore them, or --without-keys to restore without them",
            ))
        }
        (Some(part), Some(unlock)) => keys::open(&archive.read(&part)?, unlock)?,
    };
    let key_text = options.public_key.unwrap_or(&manifest.audit.verifier_key);
    let key = rampart_audit::VerifierKey::parse(key_text.trim()).map_err(|e| {
        Error::invalid(
            "public-key",
            format!("is not a verifier key (<name>+<hash>+<key>): {e}"),
        )
    })?;
    if let Some(signing) = key_files.iter().find(|f| f.path == crate::audit::KEY_FILE) {
        let ok = rampart_audit::SigningKey::parse(signing.text.trim())
            .is_ok_and(|k| k.verifier_key() == manifest.audit.verifier_key);
        if !ok {
            return Err(Error::invalid(
                "keys",
                "the backup's audit signing key is not the one its manifest names",
            ));
        }
    }
    // A PostgreSQL target must be an empty database.
    let target = match options.database_url {
        None => None,
        Some(url) => {
            let conn = super::postgres::Conn::parse(url)?;
            let store = Store::open_postgres(url, 4).await?;
            if !store.postgres_is_empty().await? {
                store.close().await;
                return Err(Error::Conflict(
                    "the database of database_url is not empty: a backup is restored into an \
                     empty database"
                        .to_owned(),
                ));
            }
            Some((store, conn))
        }
    };
    let result = unpack_into(
        &mut archive,
        options,
        &manifest,
        &key_files,
        key,
        target.as_ref(),
        progress,
    )
    .await;
    if let Some((store, _)) = &target {
        if result.is_err() {
            if let Err(e) = store.postgres_discard_restore().await {
                tracing::error!(error = %e, "could not drop what a refused restore put into the database");
            }
        }
        store.close().await;
    }
    let (report, mut notes) = result?;
    if manifest.keys.is_none() {
        notes.push(
            "the backup holds no keys: put the audit signing key (audit-signing.key) and the \
             sealing keys back in the data directory before starting the node, or it starts a \
             new audit key whose checkpoints the old ones do not verify with"
                .to_owned(),
        );
    } else if key_files.is_empty() {
        notes.push("the backup's keys were not restored (--without-keys)".to_owned());
    }
    Ok(Restored {
        manifest,
        events_verified: report.events,
        checkpoints_verified: report.checkpoints_verified,
        keys_restored: key_files.len(),
        notes,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The part of [`unpack`] that writes: the data directory (created, or emptied again on a
/// refusal) and, for PostgreSQL, the database (`pg_restore` in one transaction; the caller
/// drops what it restored on a refusal).
async fn unpack_into(
    archive: &mut Archive,
    options: &RestoreOptions<'_>,
    manifest: &Manifest,
    key_files: &[keys::KeyFile],
    key: rampart_audit::VerifierKey,
    target: Option<&(Store, super::postgres::Conn)>,
    progress: Progress<'_>,
) -> Result<(rampart_audit::export::Report, Vec<String>), Error> {
    let dir = options.data_dir;
    let created = !dir.exists();
    crate::files::create_private_dir(dir).map_err(io(dir))?;
    let mut undo = Undo {
        dir,
        created,
        armed: true,
    };
    let staging = dir.join(".restore-staging");
    crate::files::create_private_dir(&staging.join("apps")).map_err(io(&staging))?;
    crate::files::create_private_dir(&staging.join("audit-archive")).map_err(io(&staging))?;

    let total: u64 = manifest.parts.iter().map(|p| p.size).sum();
    let mut extracted = 0u64;
    let mut placed = Vec::new();
    let mut dump = None;
    for part in &manifest.parts {
        if part.name == "keys.age" {
            continue;
        }
        let rel = if part.name == "postgres.dump" && target.is_some() {
            PathBuf::from("postgres.dump")
        } else {
            destination(&part.name).ok_or_else(|| {
                Error::invalid(
                    "backup",
                    format!(
                        "the backup holds a part this version does not know: {:?}",
                        part.name
                    ),
                )
            })?
        };
        let staged = staging.join(&rel);
        let before = extracted;
        archive.extract(part, &staged, &mut |n| {
            progress("extracting", before + n, total)
        })?;
        extracted += part.size;
        if part.name.ends_with(".db") {
            rampart_store::sqlite_integrity(&staged).await?;
        }
        if part.name == "postgres.dump" {
            dump = Some(staged);
        } else {
            placed.push(rel);
        }
    }

    // The audit log must verify against its signed checkpoints.
    let report = match target {
        Some((store, conn)) => {
            let Some(dump) = dump else {
                return Err(Error::invalid(
                    "backup",
                    "the backup holds no PostgreSQL dump",
                ));
            };
            progress("pg_restore", 0, 0);
            super::postgres::restore(conn, &dump).await?;
            store.migrate().await?;
            verify_log(store, &staging, manifest, key, progress).await?
        }
        None => {
            if !placed.iter().any(|p| p == Path::new("rampart.db")) {
                return Err(Error::invalid(
                    "backup",
                    "the backup holds no platform database",
                ));
            }
            let store = Store::open_sqlite(&staging.join("rampart.db")).await?;
            let report = async {
                store.migrate().await?;
                verify_log(&store, &staging, manifest, key, progress).await
            }
            .await;
            store.close().await;
            report?
        }
    };
    if let Some(finding) = &report.finding {
        return Err(Error::invalid(
            "backup",
            format!(
                "the backup's audit log does not verify against its signed checkpoints: {finding}"
            ),
        ));
    }
    // SQLite: the copy holds exactly the manifest's events; a PostgreSQL dump, taken just
    // after its checkpoint, at least those.
    let size_ok = if target.is_some() {
        report.size >= manifest.audit.size
    } else {
        report.size == manifest.audit.size
    };
    if !size_ok || (report.events > 0 && report.checkpoints_verified == 0) {
        return Err(Error::invalid(
            "backup",
            format!(
                "the backup's audit log holds {} events and {} verified checkpoints; its \
                 manifest says {} events",
                report.size, report.checkpoints_verified, manifest.audit.size
            ),
        ));
    }
    let mut notes = Vec::new();
    if report.uncovered_events > 0 {
        notes.push(format!(
            "the last {} events of the log are not covered by a signed checkpoint",
            report.uncovered_events
        ));
    }

    // Everything checked: move the files into place.
    progress("moving into place", 0, 0);
    for rel in &placed {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            crate::files::create_private_dir(parent).map_err(io(parent))?;
        }
        std::fs::rename(staging.join(rel), &to).map_err(io(&to))?;
    }
    for file in key_files {
        let to = dir.join(&file.path);
        if let Some(parent) = to.parent() {
            crate::files::create_private_dir(parent).map_err(io(parent))?;
        }
        crate::files::write_new_private(&to, &[file.text.as_bytes()]).map_err(io(&to))?;
    }
    std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    undo.armed = false;
    Ok((report, notes))
}

/// Exports the restored log into the staging directory and runs the offline verifier over it.
async fn verify_log(
    store: &Store,
    staging: &Path,
    manifest: &Manifest,
    key: rampart_audit::VerifierKey,
    progress: Progress<'_>,
) -> Result<rampart_audit::export::Report, Error> {
    progress("verifying the audit log", 0, manifest.audit.size);
    let export = staging.join("audit-export.jsonl");
    let size = store.audit_size().await?;
    {
        let mut out = std::io::BufWriter::new(
            crate::files::private_file()
                .write(true)
                .create_new(true)
                .open(&export)
                .map_err(io(&export))?,
        );
        crate::audit::export_jsonl(
            store,
            &manifest.audit.origin,
            1,
            size,
            &mut out,
            &mut |seq| progress("exporting the audit log", seq, size),
        )
        .await?;
        std::io::Write::flush(&mut out).map_err(io(&export))?;
    }
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let origin = manifest.audit.origin.clone();
    let report = crate::audit::verify_file_with(&export, key, Some(origin), workers, &mut |n| {
        progress("verifying the audit log", n, size)
    });
    let _ = std::fs::remove_file(&export);
    report
}
