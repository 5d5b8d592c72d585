//! `rampart audit …` that runs on the server's machine: the signing key, checkpoints,
//! export, archive, redaction, the self-check and offline verification.

#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) fn require_audit_key(config: &Config) -> anyhow::Result<()> {
    let path = config.data_dir.join(rampart_service::audit::KEY_FILE);
    if !path.exists() {
        bail!(
            "no audit signing key at {}: start the server once (rampart serve) to create it",
            path.display()
        );
    }
    Ok(())
}

/// The log's signing key from the data directory, refusing to create one.
pub(crate) fn audit_key(config: &Config) -> anyhow::Result<rampart_audit::SigningKey> {
    require_audit_key(config)?;
    Ok(rampart_service::audit::load_or_create_key(
        &config.data_dir,
        &config.audit.origin,
    )?)
}

/// The store and the node's state for an audit command, with the log's tree loaded.
pub(crate) async fn audit_state(
    config: Config,
) -> anyhow::Result<(rampart_store::Store, rampart_service::AppState)> {
    require_audit_key(&config)?;
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    state.audit.load().await?;
    Ok((store, state))
}

pub(crate) async fn audit_command(loaded: Loaded, command: &AuditCommand) -> anyhow::Result<()> {
    let config = loaded.config;
    match command {
        AuditCommand::PublicKey { current: false } => {
            let key = audit_key(&config)?;
            println!("{}", key.verifier_key());
            Ok(())
        }
        AuditCommand::PublicKey { current: true } => {
            let (store, state) = audit_state(config).await?;
            let key = state.audit.current_verifier().await;
            store.close().await;
            println!("{}", key?.to_text());
            Ok(())
        }
        AuditCommand::RotateKey => {
            let (store, state) = audit_state(config).await?;
            let ctx = crate::cli_context(&state);
            let rotated = rampart_service::audit::rotate_as(&state, &ctx).await;
            store.close().await;
            let r = rotated?;
            println!("rotated to generation {}: {}", r.generation, r.verifier_key);
            println!("retired: {}", r.previous_key);
            match r.checkpoint_size {
                Some(size) => println!("rotation checkpoint signed by both keys at size {size}"),
                None => println!("the next checkpoint will be the rotation, signed by both keys"),
            }
            Ok(())
        }
        AuditCommand::Checkpoint => {
            let (store, state) = audit_state(config).await?;
            let c = state
                .audit
                .checkpoint(state.clock.now(), &state.metrics)
                .await?;
            store.close().await;
            print!("{}", c.cosigned_note());
            Ok(())
        }
        AuditCommand::Export {
            from,
            to,
            format,
            output,
        } => {
            if format != "jsonl" && format != "csv" {
                bail!("--format must be jsonl or csv, not {format:?}");
            }
            let key = audit_key(&config)?;
            let origin = rampart_service::audit::origin_of(&config.audit.origin, &key);
            let store = rampart_server::open_store(&config).await?;
            let size = store.audit_size().await?;
            let from = from.unwrap_or(1);
            let to = to.unwrap_or(size);
            if from == 0 || to > size || from > to.saturating_add(1) {
                bail!("the log holds events 1 to {size}: --from {from} --to {to} is out of range");
            }
            let mut out: Box<dyn std::io::Write + Send> = match output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let bar = counting_bar(to.saturating_sub(from) + 1, output.is_some());
            let mut tick = |seq: u64| bar.set_position(seq.saturating_sub(from) + 1);
            if format == "jsonl" {
                rampart_service::audit::export_jsonl(
                    &store, &origin, from, to, &mut out, &mut tick,
                )
                .await?;
            } else {
                rampart_service::audit::search::export_csv(&store, from, to, &mut out, &mut tick)
                    .await?;
            }
            bar.finish_and_clear();
            store.close().await;
            Ok(())
        }
        AuditCommand::Archive {
            older_than_days,
            dir,
        } => {
            let dir = dir
                .clone()
                .unwrap_or_else(|| rampart_service::audit::archive_dir(&config));
            let (store, state) = audit_state(config).await?;
            let ctx = cli_context(&state);
            let now = state.clock.now();
            let cutoff = now - time::Duration::days(i64::from(*older_than_days));
            let report = state
                .audit
                .archive(cutoff, &dir, &ctx, now, &state.metrics)
                .await?;
            store.close().await;
            match report {
                Some(r) => println!(
                    "archived events {} to {} in {} (verified; checkpoint at {})",
                    r.from,
                    r.to,
                    r.path.display(),
                    r.checkpoint_size
                ),
                None => println!("nothing to archive"),
            }
            Ok(())
        }
        AuditCommand::Redact { seq, reason } => {
            let store = rampart_server::open_store(&config).await?;
            let state =
                rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
            let ctx = cli_context(&state);
            store
                .audit_redact(&ctx, *seq, reason, state.clock.now())
                .await?;
            store.close().await;
            println!("event {seq} redacted; its leaf hash stays in the log");
            Ok(())
        }
        AuditCommand::Check => {
            let (store, state) = audit_state(config).await?;
            let size = state.audit.catch_up().await?;
            let bar = counting_bar(size, true);
            let started = std::time::Instant::now();
            let result = state
                .audit
                .check_all(&state.metrics, &mut |n| bar.set_position(n))
                .await;
            bar.finish_and_clear();
            store.close().await;
            match result {
                Ok(n) => {
                    println!(
                        "checked: {n} events, index columns, erasures, tiles and the newest checkpoint ({:.2?})",
                        started.elapsed()
                    );
                    Ok(())
                }
                // The check's finding is the cause an internal error keeps for the log.
                Err(rampart_core::Error::Internal(finding)) => bail!("FAILED: {finding}"),
                Err(e) => Err(e.into()),
            }
        }
        AuditCommand::Verify { .. } | AuditCommand::VerifyProof { .. } => {
            bail!("verify runs without a configuration")
        }
    }
}

/// A progress bar over `len` items, drawn only when `visible` (not while writing the
/// result to standard output) and on a terminal.
pub(crate) fn counting_bar(len: u64, visible: bool) -> indicatif::ProgressBar {
    if !visible || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// The verifier key of `--public-key`: its text, or a file holding it.
pub(crate) fn verifier_key(public_key: &str) -> anyhow::Result<rampart_audit::VerifierKey> {
    let key_text = if std::path::Path::new(public_key).is_file() {
        std::fs::read_to_string(public_key)
            .with_context(|| format!("cannot read the public key file {public_key}"))?
    } else {
        public_key.to_owned()
    };
    rampart_audit::VerifierKey::parse(key_text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "--public-key is not a verifier key (<name>+<hash>+<key>, as `rampart audit public-key` prints): {e}"
        )
    })
}

/// `rampart audit verify`: reads the export line by line in constant memory.
pub(crate) fn audit_verify(
    export: &std::path::Path,
    public_key: &str,
    origin: Option<&str>,
    witness_keys: &[String],
) -> anyhow::Result<bool> {
    let key = verifier_key(public_key)?;
    let witnesses = witness_keys
        .iter()
        .map(|k| verifier_key(k).context("--witness-key"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !export.is_file() {
        bail!("cannot open the export {}: no such file", export.display());
    }
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {pos} lines verified ({per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = rampart_service::audit::verify_file_witnessed(
        export,
        key,
        origin.map(str::to_owned),
        witnesses,
        std::thread::available_parallelism().map_or(1, usize::from),
        &mut |lines| bar.set_position(lines),
    )?;
    bar.finish_and_clear();
    let events = report.events;
    match &report.finding {
        None => {
            println!(
                "verified: {events} events ({} redacted), {} checkpoints, tree size {} with root {}",
                report.redacted,
                report.checkpoints_verified,
                report.size,
                rampart_audit::to_hex(&report.root)
            );
            for (size, key) in &report.rotations {
                println!("key rotation at checkpoint {size}: now signed by {key}");
            }
            if let Some(size) = report.witnessed_size {
                println!(
                    "witnessed: the checkpoint of size {size} is cosigned by every given witness"
                );
                if report.size > size {
                    println!(
                        "note: the last {} events are signed by the log but not yet witnessed",
                        report.size - size
                    );
                }
            }
            if report.uncovered_events > 0 {
                println!(
                    "warning: the last {} events are not covered by any signed checkpoint in the export",
                    report.uncovered_events
                );
            }
            if !report.checkpoints_not_covered.is_empty() {
                println!(
                    "note: checkpoints beyond the export's end were not checked (sizes {:?})",
                    report.checkpoints_not_covered
                );
            }
            if !report.erasures_recorded_later.is_empty() {
                let shown: Vec<String> = report
                    .erasures_recorded_later
                    .iter()
                    .take(10)
                    .map(|(erased, by)| format!("{erased} by {by}"))
                    .collect();
                println!(
                    "note: {} erasures are recorded after the export's end and were not confirmed here; check those events in a later export ({}{})",
                    report.erasures_recorded_later.len(),
                    shown.join(", "),
                    if report.erasures_recorded_later.len() > 10 { ", …" } else { "" }
                );
            }
            Ok(true)
        }
        Some(finding) => {
            println!("FAILED: {finding}");
            Ok(false)
        }
    }
}
