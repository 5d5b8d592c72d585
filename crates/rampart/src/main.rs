//! `rampart`: one binary to serve, configure and administer the platform.
//!
//! This crate only parses arguments and wires the library crates together.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use rampart_core::{AuditContext, Email, Provider, SystemClock, Username};
use rampart_server::{Config, Loaded, Overrides, Server};
use rampart_store::NewUser;

/// Rampart: identity, authorization and a tamper-evident audit trail for your applications,
/// in one binary.
///
/// Start with `rampart serve`: it creates ./rampart-data (SQLite database, development TLS
/// certificate) and serves HTTPS on 127.0.0.1:8443. Then create the first administrator
/// with `rampart admin create-it-user --username admin` (the password is read from stdin).
///
/// Configuration is layered: defaults < rampart.toml in the data directory (or --config) <
/// RAMPART_* environment variables (RAMPART_HTTPS_ADDR, RAMPART_PASSWORD__MIN_LENGTH, ...) <
/// flags. `rampart config show` prints the result and where each value came from.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, propagate_version = true)]
struct Cli {
    /// Directory for the SQLite database, generated certificate and lock file.
    #[arg(long, global = true, env = "RAMPART_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Configuration file to use instead of <data-dir>/rampart.toml.
    #[arg(long, global = true, env = "RAMPART_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: HTTPS on --https-addr, and a redirect to it on --http-addr.
    ///
    /// The database is SQLite in the data directory unless RAMPART_DATABASE_URL (or
    /// database_url in the configuration file) names a PostgreSQL server. The database URL
    /// is never taken from a flag, so its password cannot leak through the process list.
    Serve(ServeFlags),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administrative tasks run directly against the database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Row-level ACL maintenance.
    #[command(subcommand)]
    Acl(AclCommand),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum AclCommand {
    /// Recompute the materialised hierarchy paths from the parent links (the "reset"
    /// action), repairing any that are wrong, then build the whole authorization index from
    /// the tables to check it loads. Idempotent: a second run changes nothing.
    ///
    /// With PostgreSQL, running servers pick the repair up on their next request. With
    /// SQLite, stop the server first (it holds the data directory).
    ///
    ///     rampart acl rebuild              # every hierarchy
    ///     rampart acl rebuild --entity sale  # only what entity `sale` uses
    Rebuild {
        /// Only the hierarchy used by this entity's owner rule.
        #[arg(long, value_name = "ENTITY")]
        entity: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted), noting where each
    /// non-default value came from.
    Show(ServeFlags),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an IT user, an administrator unless --no-admin. The password is read from
    /// standard input (prompted twice on a terminal), never from the command line:
    ///
    ///     printf '%s\n' "$PASSWORD" | rampart admin create-it-user --username admin
    CreateItUser {
        /// The username (ASCII letters, digits, '.', '_', '-', '@').
        #[arg(long)]
        username: String,
        /// Human name.
        #[arg(long)]
        display_name: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Create a plain IT user instead of an administrator.
        #[arg(long)]
        no_admin: bool,
    },
}

/// Flags that override configuration keys.
#[derive(Debug, Args, Default)]
struct ServeFlags {
    /// HTTPS listen address [key: https_addr, default 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR")]
    https_addr: Option<String>,
    /// Plain-HTTP listen address, which redirects to HTTPS [key: http_addr, default 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    http_addr: Option<String>,
    /// PEM certificate chain [key: tls_cert; default: a generated development certificate].
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<String>,
    /// PEM private key [key: tls_key].
    #[arg(long, value_name = "FILE")]
    tls_key: Option<String>,
    /// Name of this node in logs and audit events [key: node_id].
    #[arg(long, value_name = "NAME")]
    node_id: Option<String>,
    /// Log format: auto, json or text [key: log_format].
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Log filter, e.g. info or rampart_server=debug [key: log_level].
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
}

impl ServeFlags {
    fn overrides(&self) -> Vec<(String, String, String)> {
        let pairs = [
            ("https_addr", &self.https_addr),
            ("http_addr", &self.http_addr),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
            ("node_id", &self.node_id),
            ("log_format", &self.log_format),
            ("log_level", &self.log_level),
        ];
        pairs
            .into_iter()
            .filter_map(|(key, value)| {
                value.as_ref().map(|v| {
                    (
                        key.to_owned(),
                        v.clone(),
                        format!("--{}", key.replace('_', "-")),
                    )
                })
            })
            .collect()
    }
}

fn load_config(cli: &Cli, flags: &ServeFlags) -> anyhow::Result<Loaded> {
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        config_file: cli.config.clone(),
        flags: flags.overrides(),
    };
    Ok(Config::load(&overrides, std::env::vars())?)
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives),
        _ => EnvFilter::try_new(&config.log_level),
    }
    .with_context(|| {
        format!(
            "invalid configuration: log_level = {} is not a tracing filter",
            config.log_level
        )
    })?;
    let json = match config.log_format.as_str() {
        "json" => true,
        "text" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    init_logging(&loaded.config)?;
    let server = Server::start(loaded.config, Arc::new(SystemClock)).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input; pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | rampart admin create-it-user --username NAME");
    }
    Ok(password)
}

async fn create_it_user(
    loaded: Loaded,
    username: &str,
    display_name: Option<String>,
    email: Option<String>,
    admin: bool,
) -> anyhow::Result<()> {
    let username = Username::parse(username)?;
    let email = email.as_deref().map(Email::parse).transpose()?;
    let password = read_password()?;
    let config = loaded.config;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_server::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    let mut inputs = vec![username.as_str()];
    inputs.extend(display_name.as_deref());
    inputs.extend(email.as_ref().map(Email::as_str));
    state.check_new_password(&password, &inputs, None).await?;
    let password_hash = state.hash_password(&password).await?;
    let ctx = AuditContext {
        actor_name: Some(format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )),
        ..state.system_context()
    };
    let new = NewUser {
        provider: Provider::It,
        username,
        display_name,
        email,
        password_hash,
        is_admin: admin,
    };
    let user = store
        .create_user(&new, state.clock.now(), &ctx)
        .await
        .map_err(|e| match e {
            rampart_core::Error::Conflict(_) => anyhow::anyhow!(
                "an IT user named {} (or with that e-mail) already exists",
                new.username.as_str()
            ),
            other => other.into(),
        })?;
    store.close().await;
    println!(
        "created IT user {} ({}){}",
        user.username,
        user.id,
        if user.is_admin { ", administrator" } else { "" }
    );
    Ok(())
}

/// A spinner that shows the current phase and its count.
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

async fn acl_rebuild(loaded: Loaded, entity: Option<&str>) -> anyhow::Result<()> {
    let config = loaded.config;
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_server::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    let ctx = AuditContext {
        actor_name: Some(format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )),
        ..state.system_context()
    };
    let started = std::time::Instant::now();
    let bar = progress_bar();
    let mut tick = |phase: &'static str, n: u64| bar.set_message(format!("{phase}: {n}"));
    let report = store
        .authz_rebuild(&ctx, state.clock.now(), entity, &mut tick)
        .await?;
    let rebuilt = started.elapsed();
    let view = store.authz_load(&mut tick).await?;
    bar.finish_and_clear();
    store.close().await;
    println!(
        "rebuilt {} hierarchies: {} nodes checked, {} paths repaired, {} cycles broken ({:.2?})",
        report.hierarchies, report.nodes, report.paths_fixed, report.cycles_broken, rebuilt
    );
    println!(
        "index loaded at revision r{}: {} records, {} explicit grants, {:.1} MiB in memory ({:.2?} in all)",
        view.revision,
        report.records,
        report.grants,
        view.acl.heap_bytes() as f64 / (1024.0 * 1024.0),
        started.elapsed()
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(flags) => serve(load_config(&cli, flags)?).await,
        Command::Config(ConfigCommand::Show(flags)) => {
            let loaded = load_config(&cli, flags)?;
            print!("{}", loaded.config.show(&loaded.sources));
            Ok(())
        }
        Command::Admin(AdminCommand::CreateItUser {
            username,
            display_name,
            email,
            no_admin,
        }) => {
            let loaded = load_config(&cli, &ServeFlags::default())?;
            create_it_user(
                loaded,
                username,
                display_name.clone(),
                email.clone(),
                !no_admin,
            )
            .await
        }
        Command::Acl(AclCommand::Rebuild { entity }) => {
            let loaded = load_config(&cli, &ServeFlags::default())?;
            acl_rebuild(loaded, entity.as_deref()).await
        }
        Command::Openapi => {
            println!("{}", rampart_server::openapi_json());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
