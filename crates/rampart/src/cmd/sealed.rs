//! Sealed modules on the command line: `rampart env public-key`, `rampart module seal` and
//! `rampart module import`, and `rampart publishers …` (keygen, trust, list, revoke).
//! Sealing runs here, offline once the version's source is fetched; the signing key never
//! leaves this machine.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Subcommand;
use rampart_client::api;
use rampart_sealed::{Contents, PublisherKey};

use super::{connect, fail, stamp};

#[derive(Debug, Subcommand)]
pub enum PublishersCommand {
    /// Create a publisher signing key (Ed25519) in FILE, readable by you only, and print
    /// its public key, which the installations you ship to trust.
    ///
    ///     rampart publishers keygen -o vendor.key
    Keygen {
        /// Where to write the secret key (refused if it exists).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Trust a publisher's public key (administrators): sealed packages it signs may be
    /// imported.
    ///
    ///     rampart publishers trust ed25519:… --name acme
    Trust {
        /// The public key, `ed25519:` and base64.
        key: String,
        /// The name packages from this key are recorded under.
        #[arg(long)]
        name: String,
    },
    /// The publishers trusted or revoked (administrators).
    List,
    /// Revoke a publisher (administrators): no package it signed is imported afterwards.
    Revoke {
        /// The publisher.
        name: String,
    },
}

/// Runs a `publishers` command.
pub async fn run(command: &PublishersCommand) -> anyhow::Result<()> {
    match command {
        PublishersCommand::Keygen { output } => keygen(output),
        PublishersCommand::Trust { key, name } => {
            let client = connect()?;
            let p = client
                .sealed()
                .trust(&api::TrustPublisherRequest {
                    name: name.clone(),
                    public_key: key.clone(),
                })
                .await
                .map_err(fail)?;
            println!("trusted publisher {} ({})", p.name, p.public_key);
            Ok(())
        }
        PublishersCommand::List => {
            let client = connect()?;
            for p in client.sealed().publishers().await.map_err(fail)? {
                let state = match p.revoked_at {
                    Some(t) => format!("revoked {}", stamp(t)),
                    None => "trusted".to_owned(),
                };
                println!(
                    "{:<20} {}  {} by {} {}",
                    p.name,
                    p.public_key,
                    state,
                    p.trusted_by,
                    stamp(p.trusted_at)
                );
            }
            Ok(())
        }
        PublishersCommand::Revoke { name } => {
            let client = connect()?;
            client.sealed().revoke(name).await.map_err(fail)?;
            println!("revoked publisher {name}");
            Ok(())
        }
    }
}

/// Writes `text` (and a line end) to a new file readable by its owner only.
fn write_new_private(path: &Path, text: &str) -> anyhow::Result<()> {
    rampart_service::files::write_new_private(path, &[text.as_bytes(), b"\n"])
        .with_context(|| format!("cannot create {} (it must not exist)", path.display()))
}

/// `rampart publishers keygen`.
fn keygen(output: &Path) -> anyhow::Result<()> {
    let key = PublisherKey::generate()?;
    write_new_private(output, &key.to_text())?;
    println!("{}", key.public());
    Ok(())
}

/// `rampart env public-key`.
pub async fn public_key(env: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let k = client.sealed().public_key(env).await.map_err(fail)?;
    println!("{}", k.recipient);
    Ok(())
}

/// `NAME@VERSION`.
fn name_at_version(text: &str) -> anyhow::Result<(&str, i64)> {
    let parsed = text
        .split_once('@')
        .and_then(|(n, v)| Some((n, v.parse::<i64>().ok().filter(|v| *v >= 1)?)));
    match parsed {
        Some((n, v)) if !n.is_empty() => Ok((n, v)),
        _ => bail!("`{text}`: expected NAME@VERSION, e.g. crm@3"),
    }
}

/// `rampart module seal`: fetches the version's source (needs `open`), checks it is the
/// version's, and seals it to `recipient` under the signing key in `key_file`.
pub async fn seal(
    version: &str,
    recipient: &str,
    key_file: &Path,
    output: &Path,
) -> anyhow::Result<()> {
    let (name, number) = name_at_version(version)?;
    let recipient = rampart_sealed::parse_recipient(recipient)?;
    let key_text = zeroize::Zeroizing::new(
        std::fs::read_to_string(key_file)
            .with_context(|| format!("cannot read the signing key {}", key_file.display()))?,
    );
    let key = PublisherKey::parse(&key_text)?;
    let client = connect()?;
    let v = client
        .lifecycle()
        .version(name, number)
        .await
        .map_err(fail)?;
    if rampart_sealed::digest(&v.source) != v.version.digest {
        bail!("the source the server sent is not version {number}'s (digest differs)");
    }
    let module = rampart_model::parse(name, &v.source)
        .map_err(|d| anyhow::anyhow!("the version does not parse here: {} error(s)", d.0.len()))?;
    let surface = serde_json::to_string(&rampart_model::Surface::of(&module))?;
    let package = rampart_sealed::seal(
        Contents {
            module: name,
            version: number,
            surface: &surface,
            source: &v.source,
        },
        &recipient,
        &key,
    )?;
    std::fs::write(output, package.encode())
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "sealed {name}@{number} ({}) for {recipient} into {}",
        v.version.digest,
        output.display()
    );
    Ok(())
}

/// `rampart module import`.
pub async fn import(file: &Path, environment: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let client = connect()?;
    let r = client
        .sealed()
        .import(environment, bytes)
        .await
        .map_err(fail)?;
    println!(
        "imported {}@{} ({}) from publisher {} for {}",
        r.version.module, r.version.version, r.version.digest, r.publisher, r.environment
    );
    Ok(())
}
