//! `rampart env …`: the environments and their order, deployments, staging, rollbacks,
//! the requests waiting for a second approver, the history and the settings in force.

use anyhow::bail;
use clap::Subcommand;
use rampart_client::{api, ClientError};

use super::{connect, fail, module_version, stamp};

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// The environments in promotion order, with their policies.
    List,
    /// The environment's public key (`age1…`): what a vendor seals modules to for it.
    PublicKey {
        /// The environment.
        env: String,
    },
    /// Replace the promotion order (administrators). An environment keeps its policies
    /// unless a flag lists them anew; one left out is removed (refused while modules run
    /// there). New environments give `full` to administrators, `reference` to auditors and
    /// nothing to other roles until their levels are set.
    ///
    ///     rampart env define development test quality production \
    ///         --separation-of-duties production --second-approver production
    Define {
        /// Every environment, in order; the first is where modules are authored.
        #[arg(required = true)]
        names: Vec<String>,
        /// Comma-separated: where authors may not deploy their own versions.
        #[arg(long, value_name = "ENVS")]
        separation_of_duties: Option<String>,
        /// Comma-separated: where deployments wait for a second approver.
        #[arg(long, value_name = "ENVS")]
        second_approver: Option<String>,
    },
    /// The settings in force in an environment (secret references, never secrets).
    Settings {
        /// The environment.
        env: String,
    },
    /// Deploy module versions to an environment, all together or none.
    ///
    ///     rampart env deploy development core-service=3 sales-ui=7 --dry-run
    Deploy {
        /// The environment.
        env: String,
        /// MODULE=VERSION, one or more.
        #[arg(required = true)]
        items: Vec<String>,
        /// Show the plan (what changes, refusals) without applying it.
        #[arg(long)]
        dry_run: bool,
        /// Delete the stored data of attributes and entities the deployed models no longer
        /// declare (without it they are kept, so a rollback finds them again).
        #[arg(long)]
        drop_data: bool,
    },
    /// Promote what runs in the environment before (or --from) into ENV.
    ///
    ///     rampart env stage quality
    Stage {
        /// The target environment.
        env: String,
        /// The source environment (default: the one before ENV).
        #[arg(long)]
        from: Option<String>,
        /// Only these modules (repeatable; default: all).
        #[arg(long = "module")]
        modules: Vec<String>,
        /// Show the plan without applying it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Put a module back to the version it ran before its last deployment.
    Rollback {
        /// The environment.
        env: String,
        /// The module.
        module: String,
        /// Show the plan without applying it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Deployments waiting for a second approver (environments with that policy:
    /// production by default; see `rampart env list`).
    Requests {
        /// The environment.
        env: String,
        /// Also approved and rejected ones.
        #[arg(long)]
        all: bool,
    },
    /// Approve someone else's deployment request: it is checked again against the
    /// environment as it is now, then applied.
    Approve {
        /// The environment.
        env: String,
        /// The request's id.
        id: i64,
    },
    /// Reject a deployment request (or withdraw your own).
    Reject {
        /// The environment.
        env: String,
        /// The request's id.
        id: i64,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// The deployment history of an environment, newest first: a page of `--limit`
    /// deployments, then the command that shows the next (older) page.
    History {
        /// The environment.
        env: String,
        /// Only this module.
        #[arg(long)]
        module: Option<String>,
        /// The most deployments a page shows (1 to 1,000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Start after the page that printed this cursor (older deployments).
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Every deployment, page after page.
        #[arg(long)]
        all: bool,
    },
}

/// Runs an `env` command.
pub async fn run(command: &EnvCommand) -> anyhow::Result<()> {
    match command {
        EnvCommand::PublicKey { env } => super::sealed::public_key(env).await,
        EnvCommand::Deploy {
            env,
            items,
            dry_run,
            drop_data,
        } => deploy(env, items, *dry_run, *drop_data).await,
        EnvCommand::Stage {
            env,
            from,
            modules,
            dry_run,
        } => stage(env, from.as_deref(), modules, *dry_run).await,
        EnvCommand::Rollback {
            env,
            module,
            dry_run,
        } => rollback(env, module, *dry_run).await,
        EnvCommand::History {
            env,
            module,
            limit,
            cursor,
            all,
        } => history(env, module.as_deref(), *limit, cursor.clone(), *all).await,
        EnvCommand::Requests { env, all } => requests(env, *all).await,
        EnvCommand::Approve { env, id } => approve(env, *id).await,
        EnvCommand::Reject { env, id, reason } => reject(env, *id, reason).await,
        EnvCommand::List => environments().await,
        EnvCommand::Define {
            names,
            separation_of_duties,
            second_approver,
        } => {
            define(
                names,
                separation_of_duties.as_deref(),
                second_approver.as_deref(),
            )
            .await
        }
        EnvCommand::Settings { env } => settings(env).await,
    }
}

/// Prints a deployment's plan (or what it did), or fails with the server's refusal.
fn print_answer(answer: Result<api::DeployResponse, ClientError>) -> anyhow::Result<()> {
    print_plan(&answer.map_err(fail)?);
    Ok(())
}

/// A deployment plan and what became of it: each module's change with the elements added
/// (`+`), removed (`-`) and changed (`~`), whether it was applied, and the application
/// roles it created or could not.
pub fn print_plan(answer: &api::DeployResponse) {
    let env = &answer.environment;
    if answer.changes.is_empty() {
        println!("{env}: nothing to change");
        // What the modules declare may still have been missing, and created now.
        print_roles(answer.roles.as_ref());
        return;
    }
    for c in &answer.changes {
        let from = c.from.map_or("nothing".to_owned(), |v| format!("v{v}"));
        println!("{env}: {} {from} → v{}", c.module, c.to);
        // Per kind of element: `added` and `removed` names, `changed` elements by name.
        if let Some(kinds) = c.changes.as_ref().and_then(serde_json::Value::as_object) {
            for (kind, s) in kinds {
                for (mark, key) in [("+", "added"), ("-", "removed")] {
                    for n in s[key].as_array().into_iter().flatten() {
                        println!("    {mark} {kind} {}", n.as_str().unwrap_or(""));
                    }
                }
                for n in s["changed"].as_array().into_iter().flatten() {
                    println!("    ~ {kind} {}", n["name"].as_str().unwrap_or(""));
                }
            }
        }
        for f in &c.pending_findings {
            println!("    ! pending security finding {f}");
        }
    }
    match answer.status.as_str() {
        "applied" => println!("applied"),
        "pending-approval" => {
            let request = answer.request.map_or("null".to_owned(), |r| r.to_string());
            println!(
                "waiting for a second approver: request {request} (rampart env approve {env} {request})"
            );
        }
        _ => println!("not applied (plan only)"),
    }
    print_roles(answer.roles.as_ref());
}

/// The application roles a deployment created, and those it could not (with why).
fn print_roles(roles: Option<&api::DeclaredRoles>) {
    let Some(roles) = roles else { return };
    for r in &roles.created {
        println!("role created: {}/{}", r.application, r.role);
    }
    for r in &roles.missing {
        eprintln!("role NOT created: {}/{}", r.application, r.role);
    }
    if let Some(e) = &roles.error {
        eprintln!("warning: {e}");
    }
}

/// `rampart env requests ENV`.
async fn requests(env: &str, all: bool) -> anyhow::Result<()> {
    let client = connect()?;
    let query = api::RequestsQuery {
        status: (!all).then(|| "pending".to_owned()),
    };
    let list = client
        .lifecycle()
        .requests(env, &query)
        .await
        .map_err(fail)?;
    for r in list {
        let items: Vec<String> = r
            .items
            .iter()
            .map(|i| format!("{}={}", i.module, i.version))
            .collect();
        // The id is not padded: the table has always printed it so.
        println!(
            "{}  {:<8}  {:<8}  by {:<20}  {}",
            r.id,
            r.status,
            r.kind,
            r.requester,
            items.join(" ")
        );
    }
    Ok(())
}

/// `rampart env approve ENV ID`.
async fn approve(env: &str, id: i64) -> anyhow::Result<()> {
    let client = connect()?;
    print_answer(client.lifecycle().approve(env, id).await)
}

/// `rampart env reject ENV ID --reason`.
async fn reject(env: &str, id: i64, reason: &str) -> anyhow::Result<()> {
    let client = connect()?;
    client
        .lifecycle()
        .reject(
            env,
            id,
            &api::RejectRequest {
                reason: reason.to_owned(),
            },
        )
        .await
        .map_err(fail)?;
    println!("rejected request {id}");
    Ok(())
}

/// `rampart env deploy ENV MODULE=VERSION…`.
async fn deploy(env: &str, items: &[String], dry_run: bool, drop_data: bool) -> anyhow::Result<()> {
    let mut modules = Vec::new();
    for item in items {
        let (module, version) = module_version(item)?;
        modules.push(api::DeployItem {
            module: module.to_owned(),
            version,
            expected: None,
        });
    }
    let client = connect()?;
    let request = api::DeployRequest {
        modules,
        application: None,
        tag: None,
        dry_run,
        drop_data,
    };
    print_answer(client.lifecycle().deploy(env, &request).await)
}

/// `rampart env stage ENV`.
async fn stage(
    env: &str,
    from: Option<&str>,
    modules: &[String],
    dry_run: bool,
) -> anyhow::Result<()> {
    let client = connect()?;
    let request = api::StageRequest {
        from: from.map(str::to_owned),
        modules: (!modules.is_empty()).then(|| modules.to_vec()),
        dry_run,
    };
    print_answer(client.lifecycle().stage(env, &request).await)
}

/// `rampart env rollback ENV MODULE`.
async fn rollback(env: &str, module: &str, dry_run: bool) -> anyhow::Result<()> {
    let client = connect()?;
    let request = api::RollbackRequest {
        module: module.to_owned(),
        dry_run,
    };
    print_answer(client.lifecycle().rollback(env, &request).await)
}

/// `rampart env history ENV [--module M] [--limit N] [--cursor C | --all]`.
async fn history(
    env: &str,
    module: Option<&str>,
    limit: i64,
    mut cursor: Option<String>,
    all: bool,
) -> anyhow::Result<()> {
    let client = connect()?;
    loop {
        let query = api::HistoryQuery {
            module: module.map(str::to_owned),
            limit: Some(limit),
            cursor: cursor.take(),
        };
        let page = client
            .lifecycle()
            .history(env, &query)
            .await
            .map_err(fail)?;
        for d in page.items {
            let previous = d.previous.map_or("nothing".to_owned(), |v| format!("v{v}"));
            // The id is not padded: the table has always printed it so.
            println!(
                "{}  {}  {:<8}  {} {previous} → v{}  by {}",
                d.id,
                stamp(d.created_at),
                d.kind,
                d.module,
                d.version,
                d.actor
            );
        }
        match page.next_cursor {
            Some(next) if all => cursor = Some(next),
            Some(next) => {
                let only = module.map(|m| format!(" --module {m}")).unwrap_or_default();
                println!("older: rampart env history {env}{only} --limit {limit} --cursor {next}");
                return Ok(());
            }
            None => return Ok(()),
        }
    }
}

/// `rampart env list`.
async fn environments() -> anyhow::Result<()> {
    let client = connect()?;
    let list = client.lifecycle().environments().await.map_err(fail)?;
    for e in list {
        let mut policies = Vec::new();
        if e.separation_of_duties {
            policies.push("separation of duties");
        }
        if e.second_approver {
            policies.push("second approver");
        }
        // The position is not padded: the table has always printed it so.
        println!("{}  {:<16}  {}", e.position, e.name, policies.join(", "));
    }
    Ok(())
}

/// `rampart env define NAME… [--separation-of-duties LIST] [--second-approver LIST]`:
/// replaces the order; an environment keeps its policies unless a flag lists them anew.
async fn define(
    names: &[String],
    separation_of_duties: Option<&str>,
    second_approver: Option<&str>,
) -> anyhow::Result<()> {
    let client = connect()?;
    let current = client.lifecycle().environments().await.map_err(fail)?;
    let listed = |list: Option<&str>, name: &str, now: bool| match list {
        Some(l) => l.split(',').map(str::trim).any(|e| e == name),
        None => now,
    };
    for (flag, list) in [
        ("--separation-of-duties", separation_of_duties),
        ("--second-approver", second_approver),
    ] {
        if let Some(unknown) = list
            .into_iter()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .find(|e| !e.is_empty() && !names.iter().any(|n| n == e))
        {
            bail!("{flag}: `{unknown}` is not among the environments given");
        }
    }
    let environments: Vec<api::EnvironmentSpec> = names
        .iter()
        .map(|name| {
            let now = current.iter().find(|e| &e.name == name);
            api::EnvironmentSpec {
                name: name.clone(),
                separation_of_duties: listed(
                    separation_of_duties,
                    name,
                    now.is_some_and(|e| e.separation_of_duties),
                ),
                second_approver: listed(
                    second_approver,
                    name,
                    now.is_some_and(|e| e.second_approver),
                ),
            }
        })
        .collect();
    client
        .authz()
        .it_write_ops(vec![api::ItWriteOp::SetEnvironments { environments }])
        .await
        .map_err(fail)?;
    let list = client.lifecycle().environments().await.map_err(fail)?;
    let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    println!("environments: {}", names.join(" → "));
    Ok(())
}

/// `rampart env settings ENV`.
async fn settings(env: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let list = client.plans().settings(env).await.map_err(fail)?;
    for s in list {
        println!(
            "{:<8}  {}.{} = {}  (plan {})",
            s.kind, s.module, s.name, s.value, s.plan
        );
    }
    Ok(())
}
