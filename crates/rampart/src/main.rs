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
use rampart_server::Server;
use rampart_service::{Config, Loaded, Overrides};
use rampart_store::NewUser;

mod cmd;
mod demo;

/// mimalloc: see ARCHITECTURE.md, "Choices recorded".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// The tamper-evident audit log: its public key, checkpoints, export and offline
    /// verification.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// The module format, offline: its JSON Schema, and checking files before publishing.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Log in to a running server; later commands (`module`, `env`) use the saved session.
    ///
    ///     rampart login --server https://127.0.0.1:8443 --username alice \
    ///         --ca-cert rampart-data/tls/dev-cert.pem
    ///
    /// The password is prompted for (or read from standard input), then the second
    /// factor's code when the account has one (a TOTP app is set up first when the policy
    /// requires one and there is none yet). The session token goes
    /// to ~/.config/rampart/session.json (RAMPART_SESSION_FILE), readable by you only;
    /// RAMPART_SERVER and RAMPART_TOKEN override it, for scripts.
    Login {
        /// The server's base URL.
        #[arg(long, env = "RAMPART_SERVER", value_name = "URL")]
        server: String,
        /// Your username.
        #[arg(long)]
        username: String,
        /// `it` (developers, operators, administrators) or `end`.
        #[arg(long, default_value = "it")]
        provider: String,
        /// Sign in through this user provider (a directory) instead of Rampart's own
        /// passwords.
        #[arg(long, value_name = "USER_PROVIDER")]
        via: Option<String>,
        /// A PEM certificate to trust besides the system's (the development certificate
        /// is <data-dir>/tls/dev-cert.pem).
        #[arg(long, env = "RAMPART_CA_CERT", value_name = "FILE")]
        ca_cert: Option<PathBuf>,
    },
    /// Module versions on the server: publish, list, show, diff, delete; module names:
    /// names, reserve, transfer, release.
    #[command(subcommand)]
    Module(cmd::modules::ModuleCommand),
    /// Publisher keys for sealed modules: create a signing key; trust, list and revoke
    /// publishers (administrators).
    #[command(subcommand)]
    Publishers(cmd::sealed::PublishersCommand),
    /// Environments: deploy versions, stage from the environment before, roll back, and
    /// read the history. Each checks your `deploy` level in the target environment.
    #[command(subcommand)]
    Env(cmd::env::EnvCommand),
    /// Applications: tag a version (a snapshot of its modules' versions) and list tags.
    #[command(subcommand)]
    App(cmd::apps::AppCommand),
    /// Deployment plans: applications at tagged versions with the settings an environment
    /// needs (site properties, integration endpoints, secret references), previewed, run,
    /// retried when aborted and copied to the next environment.
    ///
    ///     rampart plan create development sales=1.0 --set sales-ui.RegionCode=EU \
    ///         --secret sales-ui.Invoicing=env:INTEGRATION_SECRET_DEVELOPMENT_INVOICING
    ///     rampart plan run 1
    ///     rampart plan copy 1 --set sales-ui.RegionCode=EU     # for quality
    #[command(subcommand)]
    Plan(cmd::plans::PlanCommand),
    /// The master key of sensitive attribute values, and each environment's data keys:
    /// init, rotate (with --reencrypt), reencrypt. Offline, on the server's machine.
    ///
    ///     rampart keys init --out /etc/rampart/master.key
    ///     rampart keys rotate --environment production --reencrypt
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Users of both providers (administrators; auditors list and show): list, show,
    /// create, disable, enable, unlock, reset-password, revoke-sessions, reset-mfa, enrol,
    /// delete. Name a user by id or as `it:alice`; passwords are read from standard input.
    ///
    ///     printf '%s\n' "$PASSWORD" | rampart users create end alice --email alice@example.com
    ///     rampart users create it nora --no-password --email nora@example.com
    ///     rampart users enrol it:nora --mail
    ///     rampart users disable end:alice
    #[command(subcommand, verbatim_doc_comment)]
    Users(cmd::users::UsersCommand),
    /// User providers: directories (LDAP) that vouch for users, so they sign in with the
    /// enterprise's passwords: add, list, show, remove, test, sync, status.
    ///
    ///     rampart providers add corp --url ldaps://ldap.example.com --bind-dn … \
    ///         --bind-password env:CORP_LDAP_PASSWORD --user-base ou=people,dc=example,dc=com
    ///     rampart providers test corp
    ///     rampart providers sync corp
    #[command(subcommand)]
    Providers(cmd::providers::ProvidersCommand),
    /// Applications outside the platform that sign their users in through Rampart, the
    /// OpenID Connect provider: create, list, show, update, delete, rotate-secret.
    ///
    ///     rampart idp-client create wiki --name Wiki --first-party \
    ///         --redirect-uri https://wiki.example.com/oidc/callback
    ///     rampart idp-client update wiki --redirect-uri https://wiki.example.com/callback
    ///     rampart idp-client list
    #[command(subcommand, name = "idp-client", verbatim_doc_comment)]
    IdpClient(cmd::idp::IdpClientCommand),
    /// The OpenID Connect provider's signing keys: list, rotate (a sensitive operation).
    ///
    ///     rampart idp-key rotate
    #[command(subcommand, name = "idp-key", verbatim_doc_comment)]
    IdpKey(cmd::idp::IdpKeyCommand),
    /// A witness of audit logs: a separate process with its own key and state file that
    /// cosigns a log's checkpoints once it has seen each consistent with the last it
    /// cosigned (and refuses a fork).
    ///
    ///     rampart witness init --dir /var/lib/rampart-witness --origin rampart.example.org/audit \
    ///         --log-key "$(rampart audit public-key)"
    ///     rampart witness serve --dir /var/lib/rampart-witness --addr 0.0.0.0:8444 \
    ///         --tls-cert witness.pem --tls-key witness-key.pem
    #[command(subcommand, verbatim_doc_comment)]
    Witness(cmd::witness::WitnessCommand),
    /// The support desk: companies and their members and administrators, cases, comments,
    /// and authorizing or ignoring requesters who are not yet a company's contacts.
    ///
    ///     rampart support open acme --subject "Export stops" --description -
    ///     rampart support cases --status suspended
    ///     rampart support authorize 0190c3e4-…
    ///     rampart support follow - < link.txt    (the e-mailed link, kept out of argv)
    #[command(subcommand, verbatim_doc_comment)]
    Support(cmd::support::SupportCommand),
    /// Back up the node's data into one archive while its server runs.
    #[command(long_about = cmd::backup::BACKUP_HELP)]
    Backup(cmd::backup::BackupArgs),
    /// Restore a verified backup into an empty data directory, or run a restore drill.
    #[command(long_about = cmd::backup::RESTORE_HELP)]
    Restore(cmd::backup::RestoreArgs),
    /// The security posture report; exits 1 when a critical control fails.
    #[command(long_about = cmd::posture::HELP)]
    Posture(cmd::posture::PostureArgs),
    /// Your second factor: set up a TOTP app (its QR code drawn in the terminal), see where
    /// you stand, verify a code again before a sensitive operation, new recovery codes; and
    /// an administrator's reset of someone's factors. `rampart login` asks for the code.
    ///
    ///     rampart mfa enrol
    ///     rampart mfa step-up
    ///     rampart mfa reset 0190c3e4-…
    #[command(subcommand, verbatim_doc_comment)]
    Mfa(cmd::mfa::MfaCommand),
    /// The alert outbox: deliveries of alerts to the webhook and e-mail that wait or gave
    /// up, and delivering one again.
    ///
    ///     rampart alerts deliveries --failed
    ///     rampart alerts retry --alert 1234 --sink webhook
    #[command(subcommand, verbatim_doc_comment, long_about = cmd::alerts::HELP)]
    Alerts(cmd::alerts::AlertsCommand),
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Print the JSON Schema (draft 2020-12) of the module format, for editors:
    ///
    ///     rampart model schema > rampart-module.schema.json
    Schema,
    /// Parse, validate and security-check module files (or directories of them) without a
    /// server. A file that does not parse or validate fails with every error at its file,
    /// line and column and a hint. Then the security checks (rules RS001…, listed in
    /// docs/module-format.md, "Security checks") follow values from parameters, stored
    /// text and integration answers to SQL, HTML, redirects and integration paths, and read
    /// access, transport and secrets; the other files given are the dependencies' models.
    /// Each finding names its rule, severity, place, element and fix. The command fails
    /// (exit code 1) when an error-level finding exists; warnings and notes alone pass.
    ///
    ///     rampart model check examples/sales
    ///     rampart model check sales-ui.yaml core-service.yaml --format json
    ///     rampart model check examples/sales --format sarif > rampart.sarif
    #[command(verbatim_doc_comment)]
    Check {
        /// Files or directories (.yaml, .yml, .json).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// `text` (file:line:column lines), `json`, or `sarif` (SARIF 2.1.0, for editors
        /// and code-scanning services).
        #[arg(long, value_enum, default_value_t)]
        format: cmd::check::Format,
    },
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
enum AuditCommand {
    /// Print the verifier key of the log's first signing key (`<name>+<hash>+<key>`), which
    /// auditors pass to `rampart audit verify --public-key`: rotations are followed from
    /// it. The signing key itself (audit-signing.key in the data directory) is created on
    /// the server's first start.
    PublicKey {
        /// Print the key the log signs with now instead (after rotations).
        #[arg(long)]
        current: bool,
    },
    /// Rotate the signing key: a new key, sealed under [keys] master_key in the database
    /// for every node, signs the next checkpoint together with the old key (the new key's
    /// public half inside what the old key signs); after it only the new key signs. The
    /// rotation is recorded as an audit.key.rotate event. Runs through the service like
    /// the server: with SQLite, stop the server first; with PostgreSQL, the running nodes
    /// sign with the new key from their next checkpoint. On a running server,
    /// administrators use POST /api/v1/audit/keys/rotate (with a recent second factor).
    ///
    ///     rampart audit rotate-key
    #[command(verbatim_doc_comment)]
    RotateKey,
    /// Sign a checkpoint of the log as it is now (the server also signs every
    /// audit.checkpoint_seconds and when it stops), and print it.
    Checkpoint,
    /// Write events FROM..=TO as JSON lines that `rampart audit verify` checks offline
    /// (header with the tree's frontier before FROM, every event with its leaf hash, the
    /// signed checkpoints in the range), or as CSV for reading.
    ///
    ///     rampart audit export --output audit.jsonl
    ///     rampart audit export --from 1000 --to 2000 --format csv > audit.csv
    Export {
        /// First sequence number (default 1).
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// Last sequence number (default: the newest event). End on a checkpoint's size to
        /// have every exported event covered by a signature.
        #[arg(long, value_name = "SEQ")]
        to: Option<u64>,
        /// jsonl (verifiable) or csv (for spreadsheets; not verifiable).
        #[arg(long, value_name = "FORMAT", default_value = "jsonl")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Move the events that happened before a cutoff into a compressed archive segment
    /// (`audit-<from>-<to>.jsonl.gz`, the export format with a checkpoint signed at its last
    /// event, verifiable on its own with `rampart audit verify`), then clear their payloads
    /// from the database. Their leaf hashes stay, so proofs still hold. The server does
    /// this hourly when audit.retention_days is set.
    ///
    ///     rampart audit archive --older-than-days 365
    Archive {
        /// Archive events older than this many days (0: everything up to now).
        #[arg(long, value_name = "DAYS")]
        older_than_days: u32,
        /// Where segments go [key: audit.archive_dir, default <data-dir>/audit-archive].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Erase one event's payload (a lawful erasure or retention), keeping its leaf hash:
    /// every proof still holds and verifiers report the event as redacted. The erasure is
    /// itself recorded, with the reason, as an `audit.redact` event.
    ///
    ///     rampart audit redact 1234 --reason "GDPR erasure request #77"
    Redact {
        /// The event's sequence number.
        seq: i64,
        /// Why (recorded in the log; never put personal data here).
        #[arg(long)]
        reason: String,
    },
    /// Check the log in the database, from its first event, as the server's scheduled check
    /// does: every body against its leaf hash, every search-index column against the body
    /// it was copied from, every erased payload against the later audit.redact or
    /// audit.archive event that records it, every tile and the newest checkpoint against the
    /// tree. Reports the first problem by sequence number and exits with status 1. With
    /// SQLite, stop the server first (it holds the data directory).
    ///
    ///     rampart audit check
    Check,
    /// Verify an export offline: recompute every leaf and the Merkle tree, check every
    /// checkpoint's signature and root, and report the first altered, removed, reordered
    /// or inserted event by sequence number. Needs no server and no database.
    ///
    ///     rampart audit verify audit.jsonl --public-key "$(cat audit.pub)"
    Verify {
        /// The export file (`rampart audit export`).
        export: PathBuf,
        /// The verifier key text, or a file holding it.
        #[arg(long, value_name = "KEY")]
        public_key: String,
        /// Require this log origin (default: the export header's).
        #[arg(long, value_name = "ORIGIN")]
        origin: Option<String>,
        /// A witness's verifier key (or a file holding it), repeatable: the export must
        /// hold a checkpoint cosigned by every one, and no cosignature by them may be bad.
        #[arg(long, value_name = "KEY")]
        witness_key: Vec<String>,
    },
    /// Verify one event's inclusion-proof bundle offline (`rampart-audit-proof/1`, the
    /// "proof bundle" the console's event page offers): the event text against its leaf
    /// hash, the checkpoint's signature by the key you trust, and the path from the leaf
    /// to the signed root. Needs no server and no database; exits with status 1 when the
    /// bundle does not verify.
    ///
    ///     rampart audit verify-proof event-42-proof.json --public-key "$(cat audit.pub)"
    VerifyProof {
        /// The bundle file.
        bundle: PathBuf,
        /// The verifier key text, or a file holding it (never taken from the bundle).
        #[arg(long, value_name = "KEY")]
        public_key: String,
        /// Require this log origin (default: the bundle's).
        #[arg(long, value_name = "ORIGIN")]
        origin: Option<String>,
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
    /// Deploy the sales example to development with a seeded organisation (a director, two
    /// managers, reps with customers and sales) and print its users' logins; loopback only.
    #[arg(long)]
    demo: bool,
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

async fn serve(mut loaded: Loaded, with_demo: bool) -> anyhow::Result<()> {
    // Listening before anything is logged: a stop that comes right after the first line (or
    // right after "ready") must drain and stop the server, not kill it with the signal's
    // default action.
    let stop = shutdown_signal();
    init_logging(&loaded.config)?;
    if with_demo {
        demo::prepare(&mut loaded.config)?;
    }
    let server = Server::start(loaded.config, Arc::new(SystemClock)).await?;
    if with_demo {
        demo::seed(&server).await?;
    }
    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). On Unix both are listened for from this call on,
/// not from the first poll.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::terminate())
            .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
            .ok()
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
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
        bail!("no password on standard input; pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | rampart admin create-it-user --username NAME (or rampart users create …)");
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
    // The same directory `serve` creates: owner-only, like the database made in it.
    rampart_server::serve::prepare_data_dir(&config.data_dir)?;
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    let mut inputs = vec![username.as_str()];
    inputs.extend(display_name.as_deref());
    inputs.extend(email.as_ref().map(Email::as_str));
    state.check_new_password(&password, &inputs, None).await?;
    let password_hash = state.credentials.hash_password(&password).await?;
    let ctx = cli_context(&state);
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
    let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    let ctx = cli_context(&state);
    let started = std::time::Instant::now();
    let bar = progress_bar();
    let mut tick = |phase: &'static str, n: u64| bar.set_message(format!("{phase}: {n}"));
    // The service's rebuild, as the console's Rebuild button runs it: the paths, then the
    // index loaded from the tables.
    let report = rampart_service::authz::rebuild::run(&state, &ctx, entity, &mut tick).await?;
    bar.finish_and_clear();
    let (revision, heap) = {
        let view = state.authz.view();
        (view.revision, view.acl.heap_bytes())
    };
    store.close().await;
    println!(
        "rebuilt {} hierarchies: {} nodes checked, {} paths repaired, {} cycles broken",
        report.hierarchies, report.nodes, report.paths_fixed, report.cycles_broken
    );
    println!(
        "index loaded at revision r{revision}: {} records, {} explicit grants, {:.1} MiB in memory ({:.2?} in all)",
        report.records,
        report.grants,
        heap as f64 / (1024.0 * 1024.0),
        started.elapsed()
    );
    Ok(())
}

/// The audit context of a command run from this terminal: the operating-system user acts.
fn cli_context(state: &rampart_service::AppState) -> AuditContext {
    AuditContext {
        actor_name: Some(format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )),
        ..state.system_context()
    }
}

/// Refuses to go on without the log's signing key: the audit commands must not create one
/// (only the server's first start does).
async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(flags) => serve(load_config(&cli, flags)?, flags.demo).await,
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
        Command::Audit(AuditCommand::Verify {
            export,
            public_key,
            origin,
            witness_key,
        }) => {
            if cmd::audit::audit_verify(export, public_key, origin.as_deref(), witness_key)? {
                Ok(())
            } else {
                bail!("the export did not verify")
            }
        }
        Command::Audit(AuditCommand::VerifyProof {
            bundle,
            public_key,
            origin,
        }) => cmd::proof::verify(
            bundle,
            &cmd::audit::verifier_key(public_key)?,
            origin.as_deref(),
        ),
        Command::Audit(command) => {
            let loaded = load_config(&cli, &ServeFlags::default())?;
            cmd::audit::audit_command(loaded, command).await
        }
        Command::Openapi => {
            println!("{}", rampart_server::openapi_json());
            Ok(())
        }
        Command::Model(ModelCommand::Schema) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&rampart_model::schema::json_schema())?
            );
            Ok(())
        }
        Command::Model(ModelCommand::Check { paths, format }) => cmd::check::run(paths, *format),
        Command::Login {
            server,
            username,
            provider,
            via,
            ca_cert,
        } => {
            cmd::login(
                server,
                username,
                provider,
                via.as_deref(),
                ca_cert.as_deref(),
            )
            .await
        }
        Command::Providers(command) => cmd::providers::run(command).await,
        Command::Users(command) => cmd::users::run(command).await,
        Command::IdpClient(command) => cmd::idp::run_clients(command).await,
        Command::IdpKey(command) => cmd::idp::run_keys(command).await,
        Command::Witness(command) => cmd::witness::run(command).await,
        Command::Module(command) => cmd::modules::run(command).await,
        Command::Env(command) => cmd::env::run(command).await,
        Command::Publishers(command) => cmd::sealed::run(command).await,
        Command::App(command) => cmd::apps::run(command).await,
        Command::Keys(cmd::keys::KeysCommand::Init { out }) => cmd::keys::init(out),
        Command::Keys(command) => {
            let loaded = load_config(&cli, &ServeFlags::default())?;
            cmd::keys::run(loaded, command).await
        }
        Command::Plan(command) => cmd::plans::run(command).await,
        Command::Support(command) => cmd::support::run(command).await,
        Command::Backup(args) => {
            cmd::backup::backup(load_config(&cli, &ServeFlags::default())?, args).await
        }
        Command::Restore(args) => {
            cmd::backup::restore(load_config(&cli, &ServeFlags::default())?, args).await
        }
        Command::Posture(args) => {
            cmd::posture::run(load_config(&cli, &ServeFlags::default())?, args).await
        }
        Command::Mfa(command) => cmd::mfa::run(command).await,
        Command::Alerts(command) => cmd::alerts::run(command).await,
    }
}

/// mimalloc's settings for a server, which it reads from the environment as the process
/// starts (setting them later would need `unsafe`): freed memory goes back to the system at
/// once, and arenas are committed as they fill rather than whole. Under the OpenID
/// provider's load they keep a node at 93 MiB instead of 130 MiB at the same throughput
/// (BENCHMARKS.md, "OpenID provider — over HTTPS").
const ALLOCATOR_SETTINGS: [(&str, &str); 2] = [
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
    ("MIMALLOC_PURGE_DELAY", "0"),
];

/// `rampart serve` (or `rampart witness serve`) started without [`ALLOCATOR_SETTINGS`] runs
/// itself again in the same process (`exec`: same pid, same open files) with them added; a
/// value the operator set is kept. Returns only when there is nothing to do or the `exec` failed (then the server
/// runs with mimalloc's defaults, and says so).
#[cfg(unix)]
fn with_allocator_settings(cli: &Cli) {
    use std::os::unix::process::CommandExt as _;
    let missing: Vec<_> = ALLOCATOR_SETTINGS
        .iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    let serves = matches!(
        cli.command,
        Command::Serve(_) | Command::Witness(cmd::witness::WitnessCommand::Serve { .. })
    );
    if !serves || missing.is_empty() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut again = std::process::Command::new(exe);
    again.args(std::env::args_os().skip(1));
    for (name, value) in missing {
        again.env(name, value);
    }
    let e = again.exec();
    eprintln!("warning: the server runs with the allocator's default settings: {e}");
}

#[cfg(not(unix))]
fn with_allocator_settings(_: &Cli) {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    with_allocator_settings(&cli);
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
            // The operator at the terminal gets the cause the API keeps for its log (these
            // messages never hold secrets: see SECURITY.md).
            match e.downcast_ref::<rampart_core::Error>() {
                Some(
                    rampart_core::Error::Internal(cause) | rampart_core::Error::Unavailable(cause),
                ) => {
                    eprintln!("error: {e:#}: {cause}");
                }
                _ => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (duplicate names, bad defaults).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
