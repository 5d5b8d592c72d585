//! `rampart keys …`: the master key of sensitive values, and rotating each environment's
//! data keys. Run on the server's machine with its configuration (offline: it opens the
//! database itself).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;
use rampart_core::SystemClock;
use rampart_service::apps::keys::FieldKeys;
use rampart_service::Loaded;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new master key (32 random bytes, base64) to a file readable by its owner
    /// only; point `[keys] master_key = "file:PATH"` at it. Keep it apart from the data
    /// directory and its backups: whoever holds both reads every sensitive value.
    ///
    ///     rampart keys init --out /etc/rampart/master.key
    Init {
        /// The file to create (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Add a new data key to an environment: values are sealed with it from now on, older
    /// ones still open with theirs. With --reencrypt, every older value is then sealed
    /// again with the new key (a batch per transaction; interrupt and run `reencrypt` to
    /// continue, nothing is lost).
    ///
    ///     rampart keys rotate --environment production --reencrypt
    Rotate {
        /// The environment.
        #[arg(long)]
        environment: String,
        /// Re-seal every value an older key sealed.
        #[arg(long)]
        reencrypt: bool,
    },
    /// Seal again with the newest data key every value an older key sealed (continues an
    /// interrupted rotation).
    Reencrypt {
        /// The environment.
        #[arg(long)]
        environment: String,
    },
}

/// `rampart keys init`: needs no configuration.
pub fn init(out: &Path) -> anyhow::Result<()> {
    FieldKeys::write_new_master_key(out)?;
    println!(
        "wrote a master key to {}; configure it with [keys] master_key = \"file:{}\"",
        out.display(),
        out.display()
    );
    Ok(())
}

/// `rampart keys rotate` and `rampart keys reencrypt`.
pub async fn run(loaded: Loaded, command: &KeysCommand) -> anyhow::Result<()> {
    let config = loaded.config;
    if config.keys.master_key.is_empty() {
        bail!("no master key is configured: set [keys] master_key (rampart keys init writes one)");
    }
    // On SQLite the server caches the keys for good: it must not run meanwhile.
    let _lock = if config.database_url.is_empty() {
        let lock = rampart_server::serve::DataDirLock::acquire(&config.data_dir)
            .map_err(|e| anyhow::anyhow!(e.0))?;
        Some(lock)
    } else {
        None
    };
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    state.authz.reload().await?;
    let keys: &FieldKeys = &state.keys;
    let environments = state.authz.view().it.environments().to_vec();
    keys.check(&store, &environments).await?;
    let (env, reencrypt) = match command {
        KeysCommand::Rotate {
            environment,
            reencrypt,
        } => {
            if !environments.contains(environment) {
                bail!(
                    "no environment `{environment}` (environments: {})",
                    environments.join(", ")
                );
            }
            let ctx = super::super::cli_context(&state);
            let id = keys
                .rotate(&store, &ctx, state.clock.now(), environment)
                .await?;
            println!("environment {environment}: new data key {id}");
            (environment, *reencrypt)
        }
        KeysCommand::Reencrypt { environment } => (environment, true),
        KeysCommand::Init { .. } => bail!("`keys init` runs without a configuration"),
    };
    if reencrypt {
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {pos} values read",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let mut tick = |n: u64| bar.set_position(n);
        let done = rampart_service::apps::rekey::reencrypt(&state, env, &mut tick).await?;
        bar.finish_and_clear();
        println!(
            "environment {env}: {} sealed values read, {} sealed again with the newest key",
            done.read, done.resealed
        );
    }
    store.close().await;
    Ok(())
}
