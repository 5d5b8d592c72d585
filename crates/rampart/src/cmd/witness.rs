//! `rampart witness …`: a witness of audit logs, a separate process with its own key and
//! state directory (see `rampart_service::witness` and `rampart_server::witness`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Prepare a witness directory to follow a log: create the witness's key (first time)
    /// and record the log's origin and the verifier key it signs with now (its first key,
    /// `rampart audit public-key`, or the current one after rotations). Prints the
    /// witness's verifier key, for `[audit] witnesses` and `rampart audit verify
    /// --witness-key`.
    Init {
        /// The witness's directory (created 0700).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The log's origin, as in its checkpoints.
        #[arg(long)]
        origin: String,
        /// The log's verifier key (text, or a file holding it).
        #[arg(long, value_name = "KEY")]
        log_key: String,
        /// The witness key's name (first time only).
        #[arg(long, default_value = "rampart-witness")]
        name: String,
    },
    /// Serve the witness: POST /add-checkpoint cosigns a checkpoint that extends the last
    /// one it cosigned, and refuses anything else. HTTPS with --tls-cert and --tls-key;
    /// plain HTTP only on a loopback address.
    Serve {
        /// The witness's directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8444")]
        addr: SocketAddr,
        /// PEM certificate chain.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Print the witness's verifier key.
    PublicKey {
        /// The witness's directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

pub async fn run(command: &WitnessCommand) -> anyhow::Result<()> {
    match command {
        WitnessCommand::Init {
            dir,
            origin,
            log_key,
            name,
        } => {
            let key = crate::cmd::audit::verifier_key(log_key)?;
            let witness = rampart_service::witness::init(dir, name, origin, &key.to_text())?;
            println!("{witness}");
            Ok(())
        }
        WitnessCommand::PublicKey { dir } => {
            let witness = rampart_service::witness::Witness::open(dir)?;
            println!("{}", witness.verifier_key());
            Ok(())
        }
        WitnessCommand::Serve {
            dir,
            addr,
            tls_cert,
            tls_key,
        } => {
            let (stop_tx, stop) = tokio::sync::watch::channel(false);
            let signal = crate::shutdown_signal();
            tokio::spawn(async move {
                signal.await;
                let _ = stop_tx.send(true);
            });
            let tls = tls_cert.as_deref().zip(tls_key.as_deref());
            rampart_server::witness::serve(
                dir,
                *addr,
                tls,
                |bound| println!("witness listening on {bound}"),
                stop,
            )
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("witness in {}", dir.display()))?;
            Ok(())
        }
    }
}
