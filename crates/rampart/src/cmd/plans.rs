//! `rampart plan …`: deployment plans (applications at tagged versions with the settings an
//! environment needs) created, listed, shown, run and copied; their settings from flags.

use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::Subcommand;
use rampart_client::api;
use serde_json::Value;

use super::env::print_plan;
use super::{connect, fail};

/// Settings of a deployment plan, from flags.
#[derive(Debug, clap::Args)]
pub struct SettingFlags {
    /// A site property: MODULE.PROPERTY=VALUE (VALUE read as JSON when it parses, so
    /// 5000 is a number and true a boolean; else text). Repeatable.
    #[arg(long = "set", value_name = "MODULE.PROPERTY=VALUE")]
    properties: Vec<String>,
    /// An integration's base URL here: MODULE.INTEGRATION=URL. Repeatable.
    #[arg(long = "endpoint", value_name = "MODULE.INTEGRATION=URL")]
    endpoints: Vec<String>,
    /// Where the platform finds an integration's secret here: MODULE.INTEGRATION=REF,
    /// REF being env:NAME, file:/path or vault:path. Never the secret itself. Repeatable.
    #[arg(long = "secret", value_name = "MODULE.INTEGRATION=REF")]
    secrets: Vec<String>,
}

impl SettingFlags {
    /// The settings, or which flag is malformed: `--set module.Property=value` (JSON when it
    /// parses, else text), `--endpoint module.Integration=url`, `--secret
    /// module.Integration=ref`.
    fn settings(&self) -> anyhow::Result<api::PlanSettingsWire> {
        let pairs = |list: &[String], flag: &str| -> anyhow::Result<Vec<(String, String)>> {
            list.iter()
                .map(|item| {
                    let (k, v) = item
                        .split_once('=')
                        .with_context(|| format!("{flag} `{item}`: write module.Name=value"))?;
                    Ok((k.to_owned(), v.to_owned()))
                })
                .collect()
        };
        let mut properties = BTreeMap::new();
        for (k, v) in pairs(&self.properties, "--set")? {
            let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
            properties.insert(k, value);
        }
        Ok(api::PlanSettingsWire {
            properties,
            endpoints: pairs(&self.endpoints, "--endpoint")?.into_iter().collect(),
            secrets: pairs(&self.secrets, "--secret")?.into_iter().collect(),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Create a draft plan for an environment and print its preview. Needs `deploy` there
    /// on every module of the applications.
    Create {
        /// The target environment.
        env: String,
        /// APPLICATION=TAG, one or more.
        #[arg(required = true)]
        applications: Vec<String>,
        #[command(flatten)]
        settings: SettingFlags,
        /// Free text.
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Plans you may see, newest first.
    List {
        /// Only those for this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// A plan with what running it now would do.
    Show {
        /// The plan's id.
        id: i64,
    },
    /// Run a plan: deploy and configure in one step (or wait for a second approver). A
    /// refused run aborts the plan with the reason; run it again once that is fixed.
    Run {
        /// The plan's id.
        id: i64,
        /// Check and show, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy a plan for the next environment (or --env), with that environment's settings.
    Copy {
        /// The plan's id.
        id: i64,
        /// The environment of the copy (default: the one after the plan's).
        #[arg(long)]
        env: Option<String>,
        #[command(flatten)]
        settings: SettingFlags,
    },
}

/// Runs a `plan` command.
pub async fn run(command: &PlanCommand) -> anyhow::Result<()> {
    match command {
        PlanCommand::Create {
            env,
            applications,
            settings,
            notes,
        } => create(env, applications, settings, notes).await,
        PlanCommand::List { env } => list(env.as_deref()).await,
        PlanCommand::Show { id } => show(*id).await,
        PlanCommand::Run { id, dry_run } => run_plan(*id, *dry_run).await,
        PlanCommand::Copy { id, env, settings } => copy(*id, env.as_deref(), settings).await,
    }
}

/// A plan: its applications and status, why its last run was aborted, what running it now
/// would do, and what its run did.
fn print_deployment_plan(p: &api::PlanWire) {
    let apps: Vec<String> = p
        .applications
        .iter()
        .map(|a| format!("{}@{}", a.application, a.tag))
        .collect();
    println!(
        "plan {} → {}: {}  [{}]",
        p.id,
        p.environment,
        apps.join(" "),
        p.status
    );
    if let Some(e) = &p.error {
        println!("  aborted: {e}");
    }
    if let Some(preview) = &p.preview {
        for c in &preview.changes {
            let from = c.from.map_or("nothing".to_owned(), |v| format!("v{v}"));
            println!("  {} {from} → v{}", c.module, c.to);
            for f in &c.pending_findings {
                println!("    pending security finding {f}");
            }
        }
        for s in &preview.settings {
            let from = match &s.from {
                Some(v) if !v.is_null() => v.to_string(),
                _ => "unset".to_owned(),
            };
            println!("  {} {}.{}: {from} → {}", s.kind, s.module, s.name, s.to);
        }
        for m in &preview.missing {
            println!("  missing: {m} (give it with --set)");
        }
        for w in &preview.warnings {
            println!("  warning: {w}");
        }
        if let Some(refused) = &preview.refused {
            println!("  would be refused: {}", refused.detail);
        }
    }
    if let Some(run) = &p.run {
        print_plan(run);
    }
}

/// `rampart plan create ENV APP=TAG…`.
async fn create(
    env: &str,
    apps: &[String],
    settings: &SettingFlags,
    notes: &str,
) -> anyhow::Result<()> {
    let mut applications = Vec::new();
    for item in apps {
        let (application, tag) = item
            .split_once('=')
            .with_context(|| format!("`{item}`: write APPLICATION=TAG, e.g. sales=1.0"))?;
        applications.push(api::PlanApplicationWire {
            application: application.to_owned(),
            tag: tag.to_owned(),
        });
    }
    let client = connect()?;
    let request = api::PlanCreateRequest {
        environment: env.to_owned(),
        applications,
        settings: settings.settings()?,
        notes: notes.to_owned(),
    };
    let p = client.plans().create(&request).await.map_err(fail)?;
    print_deployment_plan(&p);
    Ok(())
}

/// `rampart plan list`.
async fn list(env: Option<&str>) -> anyhow::Result<()> {
    let client = connect()?;
    let mut query = api::PlansQuery {
        environment: env.map(str::to_owned),
        ..api::PlansQuery::default()
    };
    loop {
        let page = client.plans().list(&query).await.map_err(fail)?;
        for p in &page.items {
            print_deployment_plan(p);
        }
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// `rampart plan show ID`.
async fn show(id: i64) -> anyhow::Result<()> {
    let client = connect()?;
    let p = client.plans().get(id).await.map_err(fail)?;
    print_deployment_plan(&p);
    Ok(())
}

/// `rampart plan run ID`.
async fn run_plan(id: i64, dry_run: bool) -> anyhow::Result<()> {
    let client = connect()?;
    let p = client
        .plans()
        .run(id, &api::PlanRunRequest { dry_run })
        .await
        .map_err(fail)?;
    print_deployment_plan(&p);
    Ok(())
}

/// `rampart plan copy ID`.
async fn copy(id: i64, env: Option<&str>, settings: &SettingFlags) -> anyhow::Result<()> {
    let client = connect()?;
    let request = api::PlanCopyRequest {
        environment: env.map(str::to_owned),
        settings: settings.settings()?,
        notes: None,
    };
    let p = client.plans().copy(id, &request).await.map_err(fail)?;
    print_deployment_plan(&p);
    Ok(())
}
