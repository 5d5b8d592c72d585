//! `rampart module …`: publish, list, show, diff and delete module versions; reserve,
//! transfer and release module names. Also the reading of module files, which `model check`
//! shares.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use rampart_client::api;

use super::{connect, fail, fail_in, stamp};

#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Publish new versions of the modules in these files or directories (dependencies
    /// first). Each is checked locally, then on the server: your `change` level, the public
    /// elements it uses, and whether it breaks modules deployed somewhere. A publish racing
    /// another on the same module is refused rather than silently replacing it.
    ///
    ///     rampart module publish examples/sales --message "First release"
    Publish {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// What changed and why.
        #[arg(long, short)]
        message: String,
        /// Publish even if it breaks deployed dependants (needs `full` on the module).
        #[arg(long)]
        force: bool,
    },
    /// List a module's versions, newest first, with where each runs.
    List {
        /// The module.
        name: String,
    },
    /// Print a version's source (needs `open`), or with --surface its public elements
    /// (needs `reference`).
    Show {
        /// The module.
        name: String,
        /// The version (default: the newest).
        #[arg(value_name = "VERSION")]
        number: Option<i64>,
        /// Only the public surface: names, signatures, descriptions.
        #[arg(long)]
        surface: bool,
    },
    /// What changed between two versions: elements added, removed and changed (with each
    /// changed field), then the line diff. Coloured on a terminal (NO_COLOR turns it off).
    Diff {
        /// The module.
        name: String,
        /// The older version.
        from: i64,
        /// The newer version.
        to: i64,
        /// Print the API's JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// The security findings stored with a published version: each with its rule,
    /// element, fix and, for a warning, its acceptance or PENDING (needs `open`).
    ///
    ///     rampart module findings sales-ui 3
    #[command(verbatim_doc_comment)]
    Findings {
        /// The module.
        name: String,
        /// The version.
        #[arg(value_name = "VERSION")]
        number: i64,
        /// As the API gives it.
        #[arg(long)]
        json: bool,
    },
    /// Accept a warning of a version with a written justification (needs `change`): it is
    /// recorded in the audit log, travels to later versions that still have the finding,
    /// and lapses with the first that does not.
    ///
    ///     rampart module accept sales-ui 3 "RS006 sales-ui › screens.Contact" \
    ///         --because "A contact form for visitors; it only creates Lead records."
    #[command(verbatim_doc_comment)]
    Accept {
        /// The module.
        name: String,
        /// The version.
        #[arg(value_name = "VERSION")]
        number: i64,
        /// The finding, as `module findings` names it (rule id and element; `>` may stand for `›`).
        finding: String,
        /// Why it is acceptable here (20 to 2,000 characters).
        #[arg(long, value_name = "TEXT")]
        because: String,
    },
    /// Delete a version that runs in no environment.
    Delete {
        /// The module.
        name: String,
        /// The version.
        #[arg(value_name = "VERSION")]
        number: i64,
    },
    /// Seal a version for another installation's environment: its public surface in the
    /// clear, its source encrypted to the environment's key (`rampart env public-key` there),
    /// signed with your publisher key. Needs `open` on the module.
    ///
    ///     rampart module seal crm@3 --for age1… --sign-with vendor.key -o crm-3.rampart-sealed
    Seal {
        /// `NAME@VERSION`.
        #[arg(value_name = "NAME@VERSION")]
        target: String,
        /// The target environment's recipient, `age1…`.
        #[arg(long = "for", value_name = "AGE_RECIPIENT")]
        recipient: String,
        /// Your publisher signing key (`rampart publishers keygen`).
        #[arg(long, value_name = "KEYFILE")]
        sign_with: PathBuf,
        /// Where to write the package.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Import a sealed package into the environment it was sealed to (administrators): it
    /// can then be deployed there, run and referenced, but its source is never shown.
    ///
    ///     rampart module import crm-3.rampart-sealed --environment production
    Import {
        /// The package file.
        file: PathBuf,
        /// The environment it was sealed to.
        #[arg(long)]
        environment: String,
    },
    /// Every module name taken, reserved or registered, with its application
    /// (administrators).
    Names,
    /// Reserve a module name for an application (administrators): only that application
    /// may then register it by publishing.
    ///
    ///     rampart module reserve payroll --application hr
    Reserve {
        /// The module name.
        name: String,
        /// The application it is reserved for.
        #[arg(long)]
        application: String,
    },
    /// Give a module name to another application (administrators); a registered module
    /// moves with its versions and deployments.
    Transfer {
        /// The module name.
        name: String,
        /// The application receiving it.
        #[arg(long)]
        application: String,
    },
    /// Release a reserved module name (administrators); a registered one is transferred,
    /// not released.
    Release {
        /// The module name.
        name: String,
    },
}

/// Runs a `module` command.
pub async fn run(command: &ModuleCommand) -> anyhow::Result<()> {
    match command {
        ModuleCommand::Publish {
            paths,
            message,
            force,
        } => publish(paths, message, *force).await,
        ModuleCommand::List { name } => list(name).await,
        ModuleCommand::Findings { name, number, json } => {
            super::findings::list(name, *number, *json).await
        }
        ModuleCommand::Accept {
            name,
            number,
            finding,
            because,
        } => super::findings::accept(name, *number, finding, because).await,
        ModuleCommand::Show {
            name,
            number,
            surface,
        } => show(name, *number, *surface).await,
        ModuleCommand::Diff {
            name,
            from,
            to,
            json,
        } => diff(name, *from, *to, *json).await,
        ModuleCommand::Delete { name, number } => delete(name, *number).await,
        ModuleCommand::Seal {
            target,
            recipient,
            sign_with,
            output,
        } => super::sealed::seal(target, recipient, sign_with, output).await,
        ModuleCommand::Import { file, environment } => {
            super::sealed::import(file, environment).await
        }
        ModuleCommand::Names => names().await,
        ModuleCommand::Reserve { name, application } => reserve(name, application).await,
        ModuleCommand::Transfer { name, application } => transfer(name, application).await,
        ModuleCommand::Release { name } => release(name).await,
    }
}

/// The module files under `paths` (directories give their `.yaml`, `.yml` and `.json`
/// files), parsed, in an order where each comes after the modules it depends on.
pub fn module_files(
    paths: &[PathBuf],
) -> anyhow::Result<Vec<(PathBuf, String, rampart_model::Module)>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    matches!(
                        f.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        bail!(
            "no module files (.yaml, .yml, .json) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut parsed = Vec::new();
    let mut failures = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        match rampart_model::parse(&f.display().to_string(), &text) {
            Ok(m) => parsed.push((f, text, m)),
            Err(d) => failures.push(d.to_string()),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    // Dependencies first (a stable topological order; cycles keep file order).
    let mut ordered: Vec<(PathBuf, String, rampart_model::Module)> = Vec::new();
    while !parsed.is_empty() {
        let names: Vec<String> = parsed.iter().map(|(_, _, m)| m.module.clone()).collect();
        let ready = parsed
            .iter()
            .position(|(_, _, m)| m.dependencies.iter().all(|d| !names.contains(&d.module)))
            .unwrap_or(0);
        ordered.push(parsed.remove(ready));
    }
    Ok(ordered)
}

/// `rampart module publish`: each file on top of the newest version (the first of a new
/// module on top of none), so a publish racing another is refused instead of replacing it.
async fn publish(paths: &[PathBuf], message: &str, force: bool) -> anyhow::Result<()> {
    let files = module_files(paths)?;
    let client = connect()?;
    let lifecycle = client.lifecycle();
    for (path, source, module) in files {
        let name = &module.module;
        let parent = match lifecycle.versions(name).await {
            Ok(versions) => versions.first().map_or(0, |v| v.version),
            Err(e) if e.is_not_found() => 0,
            Err(e) => return Err(fail_in(&path, e)),
        };
        let request = api::PublishRequest {
            source,
            message: message.to_owned(),
            parent: Some(parent),
            force,
        };
        let answer = lifecycle
            .publish(name, &request)
            .await
            .map_err(|e| fail_in(&path, e))?;
        let v = &answer.version;
        if answer.created {
            println!("published {name} version {} ({})", v.version, v.digest);
        } else {
            println!("{name}: unchanged, same as version {}", v.version);
        }
        for b in &answer.forced {
            println!(
                "  forced: breaks {} {} in {} ({} `{}`: {})",
                b.module, b.version, b.environment, b.kind, b.element, b.reason
            );
        }
    }
    Ok(())
}

/// `rampart module list`.
async fn list(name: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let versions = client.lifecycle().versions(name).await.map_err(fail)?;
    println!(
        "{:>7}  {:<20}  {:<20}  {:<16}  message",
        "version", "published", "author", "deployed in"
    );
    for v in versions {
        // The version is not padded: the table has always printed it so.
        println!(
            "{}  {:<20}  {:<20}  {:<16}  {}",
            v.version,
            stamp(v.created_at),
            v.author,
            v.deployed_in.join(","),
            v.message.lines().next().unwrap_or("")
        );
    }
    Ok(())
}

/// `rampart module show`: the source (`open`) or the public surface (`reference`).
async fn show(name: &str, version: Option<i64>, surface: bool) -> anyhow::Result<()> {
    let client = connect()?;
    let lifecycle = client.lifecycle();
    if surface {
        let s = lifecycle.surface_json(name, version).await.map_err(fail)?;
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let v = match version {
        Some(v) => v,
        None => lifecycle
            .versions(name)
            .await
            .map_err(fail)?
            .first()
            .map(|v| v.version)
            .context("the module has no versions")?,
    };
    print!("{}", lifecycle.source(name, v).await.map_err(fail)?);
    if let Some(summary) = super::findings::summary(&client, name, v).await {
        eprintln!("{summary}");
    }
    Ok(())
}

/// `rampart module diff`: structured, then lines; colour on a terminal; `--json` as the API
/// gives it.
async fn diff(name: &str, from: i64, to: i64, as_json: bool) -> anyhow::Result<()> {
    let client = connect()?;
    if as_json {
        let d = client
            .lifecycle()
            .diff_json(name, from, to)
            .await
            .map_err(fail)?;
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let d = client
        .lifecycle()
        .diff(name, from, to)
        .await
        .map_err(fail)?;
    print!(
        "{}",
        d.render(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    );
    for line in super::findings::diff(&client, name, from, to).await {
        println!("{line}");
    }
    Ok(())
}

/// `rampart module delete`.
async fn delete(name: &str, version: i64) -> anyhow::Result<()> {
    let client = connect()?;
    client
        .lifecycle()
        .delete_version(name, version)
        .await
        .map_err(fail)?;
    println!("deleted {name} version {version}");
    Ok(())
}

/// `rampart module names`.
async fn names() -> anyhow::Result<()> {
    let client = connect()?;
    let names = client.lifecycle().module_names().await.map_err(fail)?;
    println!(
        "{:<30}  {:<20}  {:<10}  since",
        "name", "application", "status"
    );
    for n in names {
        println!(
            "{:<30}  {:<20}  {:<10}  {}",
            n.name,
            n.application,
            n.status,
            stamp(n.since)
        );
    }
    Ok(())
}

/// `rampart module reserve`.
async fn reserve(name: &str, application: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let n = client
        .lifecycle()
        .reserve_name(&api::ReserveNameRequest {
            name: name.to_owned(),
            application: application.to_owned(),
        })
        .await
        .map_err(fail)?;
    println!("reserved {} for application {}", n.name, n.application);
    Ok(())
}

/// `rampart module transfer`.
async fn transfer(name: &str, application: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let n = client
        .lifecycle()
        .transfer_name(
            name,
            &api::TransferNameRequest {
                application: application.to_owned(),
            },
        )
        .await
        .map_err(fail)?;
    println!(
        "{} ({}) now belongs to application {}",
        n.name, n.status, n.application
    );
    Ok(())
}

/// `rampart module release`.
async fn release(name: &str) -> anyhow::Result<()> {
    let client = connect()?;
    client.lifecycle().release_name(name).await.map_err(fail)?;
    println!("released {name}");
    Ok(())
}
