//! `rampart backup` and `rampart restore`: one archive of a node's data taken while its
//! server runs, and a restore that verifies it before anything is put in place (see
//! `rampart_service::backup`). Run on the server's machine with its configuration.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use rampart_core::SystemClock;
use rampart_service::backup::{self, Protection, RestoreOptions, Unlock};
use rampart_service::config::SecretRef;
use rampart_service::Loaded;

/// The long help of `rampart backup`.
pub const BACKUP_HELP: &str = "\
Back up the node's data into one archive file, while its server runs.

The archive (rampart-backup/1) holds the platform database (users, sessions, authorization \
data, modules, deployments, the audit log with its signed checkpoints), every application \
database, the audit archive's segments and rampart.toml, each with its SHA-256 in a manifest. \
Each SQLite file is copied as of one commit (VACUUM INTO), the application databases first, \
and a checkpoint of the copied log is signed into the copy, so every event of the backup is \
covered by a signature. The backup is recorded (a backup.create audit event; the posture \
report's backups control reads it).

Keys are left out unless --include-keys: then the audit signing key, the environments' \
sealing keys and the TLS files go in encrypted with age, to the recipients of \
--keys-recipient-file or with the passphrase of --keys-passphrase (a reference, env:NAME or \
file:/path, never the passphrase itself). The master key of sensitive values is never in a \
backup: keep it apart.

Examples:

    rampart backup --output /backups/rampart-$(date +%F).rbk
    rampart backup --output nightly.rbk --include-keys --keys-recipient-file /etc/rampart/backup.pub
    BACKUP_PASSPHRASE=… rampart backup --output b.rbk --include-keys --keys-passphrase env:BACKUP_PASSPHRASE

With PostgreSQL (RAMPART_DATABASE_URL), the database is taken with pg_dump (one consistent \
snapshot, right after a checkpoint is signed, the census counted in the same snapshot; the \
password goes to it in PGPASSWORD, never \
on its command line), so the PostgreSQL client must be installed.";

/// The long help of `rampart restore`.
pub const RESTORE_HELP: &str = "\
Restore a backup into an empty data directory (--data-dir), after checking it.

The restore refuses, and leaves the directory as it found it, when the archive is incomplete \
or altered (every part's SHA-256), a database fails SQLite's integrity check, the keys do not \
decrypt, or the audit log does not verify against its signed checkpoints. The log is checked \
with the verifier key in the backup's manifest, or with --public-key (the key you trust, as \
`rampart audit public-key` printed it) to pin it. The restore is recorded in the restored node \
(a backup.restore audit event).

A PostgreSQL backup is restored with pg_restore into the empty database RAMPART_DATABASE_URL \
names (refused if it holds any table; what a refused restore put there is dropped again), \
its other files into --data-dir.

--drill restores into a scratch directory instead, starts its database and authorization \
index as a server would, compares every table's row count with the backup's census, removes \
the scratch directory and records the drill, with the recovery time, in the node of \
--data-dir: the posture report's backups control reads it. Run it after each backup, or at \
least quarterly. A PostgreSQL backup is drilled with RAMPART_DATABASE_URL naming the live \
database: the drill creates a scratch database rampart_drill_<oid>_<uuid> on the same server \
(the role needs CREATEDB: ALTER ROLE <role> CREATEDB), restores the dump into it with \
pg_restore and drops it again, whether the drill passes or not. A drill killed before it \
could drop its database (SIGKILL, a power cut) leaves it behind; the next drill of the same \
live database drops it first and says so. A drill running meanwhile keeps its own: each \
holds a PostgreSQL advisory lock on its scratch database's name for as long as it lives, \
and only a database whose lock is free is dropped.

Examples:

    rampart restore nightly.rbk --data-dir /var/lib/rampart-new --keys-identity-file backup.key
    rampart restore nightly.rbk --drill --keys-identity-file backup.key
    RAMPART_DATABASE_URL=postgres://rampart@db/rampart rampart restore pg.rbk --drill
    rampart restore b.rbk --data-dir ./restored --public-key \"$(cat audit.pub)\" --without-keys";

/// `rampart backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The archive to write (refused if it exists; written as FILE.partial and renamed when
    /// complete).
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,
    /// Put the data directory's keys in the archive, encrypted with age.
    #[arg(long)]
    include_keys: bool,
    /// A file of age recipients (`age1…`, one a line) to encrypt the keys to.
    #[arg(long, value_name = "FILE", conflicts_with = "keys_passphrase")]
    keys_recipient_file: Option<PathBuf>,
    /// Where the passphrase that encrypts the keys is kept: env:NAME or file:/absolute/path.
    #[arg(long, value_name = "REF")]
    keys_passphrase: Option<String>,
}

/// `rampart restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The archive (`rampart backup`).
    archive: PathBuf,
    /// Restore into a scratch directory (and, for a PostgreSQL backup, a scratch database
    /// beside the live one, after dropping those a killed drill left), check, remove them
    /// and record the drill in the node of --data-dir, instead of restoring into --data-dir.
    #[arg(long)]
    drill: bool,
    /// The drill's scratch directory (must not exist) [default: FILE.drill beside the
    /// archive].
    #[arg(long, value_name = "DIR", requires = "drill")]
    scratch: Option<PathBuf>,
    /// The audit log's verifier key to trust (text or a file holding it) [default: the
    /// one the backup's manifest names].
    #[arg(long, value_name = "KEY")]
    public_key: Option<String>,
    /// A file of age identities (`AGE-SECRET-KEY-1…`) that open the backup's keys.
    #[arg(long, value_name = "FILE", conflicts_with = "keys_passphrase")]
    keys_identity_file: Option<PathBuf>,
    /// Where the passphrase of the backup's keys is kept: env:NAME or file:/absolute/path.
    #[arg(long, value_name = "REF")]
    keys_passphrase: Option<String>,
    /// Restore without the backup's keys.
    #[arg(long, conflicts_with_all = ["keys_identity_file", "keys_passphrase"])]
    without_keys: bool,
}

fn passphrase(reference: &str) -> anyhow::Result<rampart_service::backup::SecretString> {
    let secret = SecretRef::parse(reference)
        .map_err(|e| anyhow::anyhow!("--keys-passphrase: {e}"))?
        .resolve(|name| std::env::var(name).ok())
        .map_err(|e| anyhow::anyhow!("--keys-passphrase: {e}"))?;
    Ok(rampart_service::backup::SecretString::from(secret))
}

fn read_file(path: &Path, flag: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag}: cannot read {}", path.display()))
}

/// A progress bar over bytes with the phase as its message, on a terminal only.
fn bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:32} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn tick(bar: &indicatif::ProgressBar) -> impl FnMut(&str, u64, u64) + Send + '_ {
    move |phase: &str, done: u64, total: u64| {
        if bar.message() != phase {
            bar.set_message(phase.to_owned());
        }
        bar.set_length(total.max(done));
        bar.set_position(done);
    }
}

fn when(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `rampart backup`.
pub async fn backup(loaded: Loaded, args: &BackupArgs) -> anyhow::Result<()> {
    let config = loaded.config;
    let protection = match (
        args.include_keys,
        &args.keys_recipient_file,
        &args.keys_passphrase,
    ) {
        (false, None, None) => None,
        (false, _, _) => {
            bail!("--keys-recipient-file and --keys-passphrase encrypt the keys of --include-keys: add --include-keys, or leave them out")
        }
        (true, Some(file), None) => Some(Protection::recipients_from(&read_file(
            file,
            "--keys-recipient-file",
        )?)?),
        (true, None, Some(reference)) => Some(Protection::Passphrase(passphrase(reference)?)),
        (true, _, _) => bail!(
            "--include-keys needs --keys-recipient-file FILE (age recipients) or --keys-passphrase env:NAME to encrypt the keys with"
        ),
    };
    super::audit::require_audit_key(&config)?;
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    let ctx = super::super::cli_context(&state);
    let bar = bar();
    let result = backup::create(
        &state,
        &ctx,
        &args.output,
        protection.as_ref(),
        &mut tick(&bar),
    )
    .await;
    bar.finish_and_clear();
    store.close().await;
    let done = result?;
    let m = &done.manifest;
    let size: u64 = m.parts.iter().map(|p| p.size).sum();
    println!(
        "backup {} written to {}: {} parts, {:.1} MiB of data in {:.1} MiB, in {:.2} s ({:.1} MiB/s)",
        m.id,
        done.path.display(),
        m.parts.len(),
        mib(size),
        mib(done.bytes),
        done.millis as f64 / 1000.0,
        mib(size) / (done.millis.max(1) as f64 / 1000.0),
    );
    println!(
        "audit log: {} events, checkpoint signed at {}; keys: {}",
        m.audit.size,
        m.audit.checkpoint_size,
        match &m.keys {
            Some(k) => format!("{} files, {}", k.files.len(), k.encryption),
            None => "not included".to_owned(),
        }
    );
    Ok(())
}

/// `rampart restore`.
pub async fn restore(loaded: Loaded, args: &RestoreArgs) -> anyhow::Result<()> {
    let config = loaded.config;
    let unlock = match (&args.keys_identity_file, &args.keys_passphrase) {
        (Some(file), None) => Some(Unlock::identities_from(&read_file(
            file,
            "--keys-identity-file",
        )?)?),
        (None, Some(reference)) => Some(Unlock::Passphrase(passphrase(reference)?)),
        _ => None,
    };
    let public_key = match &args.public_key {
        Some(k) if Path::new(k).is_file() => Some(read_file(Path::new(k), "--public-key")?),
        other => other.clone(),
    };
    let bar = bar();
    let clock = SystemClock;
    if args.drill {
        let scratch = args
            .scratch
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.drill", args.archive.display())));
        // Before the live node is opened: a PostgreSQL backup is drilled beside the live
        // PostgreSQL database, and a SQLite database must not be made for nothing.
        let database = backup::archive::Archive::open(&args.archive)?
            .manifest
            .database;
        if database == "postgres" && config.database_url.is_empty() {
            bail!(
                "the backup is of a PostgreSQL node: set RAMPART_DATABASE_URL to the live \
                 database, on whose server the drill creates (and drops) a scratch database"
            );
        }
        super::audit::require_audit_key(&config)?;
        let store = rampart_server::open_store(&config).await?;
        // A PostgreSQL backup is drilled in a scratch database on the live one's server.
        let live_url = config.database_url.clone();
        let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
        let ctx = super::super::cli_context(&state);
        if database == "postgres" {
            let dropped = backup::drop_dead_drills(&store).await;
            if dropped.is_err() {
                store.close().await;
            }
            for name in dropped? {
                println!(
                    "removed the scratch database {name}, left behind by a drill that did not finish"
                );
            }
        }
        let options = RestoreOptions {
            archive: &args.archive,
            data_dir: &scratch,
            public_key: public_key.as_deref(),
            unlock: unlock.as_ref(),
            skip_keys: unlock.is_none(),
            database_url: (!live_url.is_empty()).then_some(live_url.as_str()),
        };
        let result = backup::drill(&store, &options, &ctx, &clock, &mut tick(&bar)).await;
        bar.finish_and_clear();
        store.close().await;
        let done = result?;
        println!(
            "drill passed: backup {} of {} restored, {} audit events verified against {} signed checkpoints, every table's count as the backup says; recovered in {:.2} s (recorded)",
            done.manifest.id,
            when(done.manifest.created_at),
            done.events_verified,
            done.checkpoints_verified,
            done.millis as f64 / 1000.0
        );
        return Ok(());
    }
    let ctx = rampart_core::AuditContext {
        actor_name: Some(format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )),
        node_id: config.node_id.clone(),
        ..Default::default()
    };
    let options = RestoreOptions {
        archive: &args.archive,
        data_dir: &config.data_dir,
        public_key: public_key.as_deref(),
        unlock: unlock.as_ref(),
        skip_keys: args.without_keys,
        database_url: (!config.database_url.is_empty()).then_some(config.database_url.as_str()),
    };
    let result = backup::restore(&options, &ctx, &clock, &mut tick(&bar)).await;
    bar.finish_and_clear();
    let done = result?;
    println!(
        "restored backup {} (taken {} on node {}) into {}: {} audit events verified against {} signed checkpoints, {} key files, in {:.2} s",
        done.manifest.id,
        when(done.manifest.created_at),
        done.manifest.node_id,
        config.data_dir.display(),
        done.events_verified,
        done.checkpoints_verified,
        done.keys_restored,
        done.millis as f64 / 1000.0
    );
    for note in &done.notes {
        println!("note: {note}");
    }
    println!(
        "start it with: rampart serve --data-dir {}",
        config.data_dir.display()
    );
    Ok(())
}
