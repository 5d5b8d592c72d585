//! `rampart app …`: an application's tags, each a snapshot of its modules' versions.

use std::collections::BTreeMap;

use clap::Subcommand;
use rampart_client::api;

use super::{connect, fail, module_version};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Tag the application's modules at their newest versions (or those given) with
    /// release notes. Tags are immutable; needs `change` on the application.
    ///
    ///     rampart app tag sales 1.0 --notes "First release"
    Tag {
        /// The application.
        app: String,
        /// The tag, e.g. 1.0.
        tag: String,
        /// Release notes.
        #[arg(long, default_value = "")]
        notes: String,
        /// MODULE=VERSION to tag instead of the newest (repeatable).
        #[arg(long = "module")]
        modules: Vec<String>,
    },
    /// The application's tags, newest first.
    Tags {
        /// The application.
        app: String,
    },
}

/// Runs an `app` command.
pub async fn run(command: &AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Tag {
            app,
            tag,
            notes,
            modules,
        } => tag_application(app, tag, notes, modules).await,
        AppCommand::Tags { app } => tags(app).await,
    }
}

/// `rampart app tag APP TAG`.
async fn tag_application(
    app: &str,
    tag: &str,
    notes: &str,
    items: &[String],
) -> anyhow::Result<()> {
    let client = connect()?;
    let mut modules = None;
    if !items.is_empty() {
        let mut versions = BTreeMap::new();
        for item in items {
            let (module, version) = module_version(item)?;
            versions.insert(module.to_owned(), version);
        }
        modules = Some(versions);
    }
    let request = api::TagRequest {
        tag: tag.to_owned(),
        notes: notes.to_owned(),
        modules,
    };
    let t = client.lifecycle().tag(app, &request).await.map_err(fail)?;
    println!("{app} {tag}: {}", modules_text(&t.modules));
    Ok(())
}

/// `module=version` pairs, by module name.
fn modules_text(modules: &BTreeMap<String, i64>) -> String {
    modules
        .iter()
        .map(|(m, v)| format!("{m}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `rampart app tags APP`.
async fn tags(app: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let list = client.lifecycle().tags(app).await.map_err(fail)?;
    for t in list {
        println!("{:<12}  {}  {}", t.tag, modules_text(&t.modules), t.notes);
    }
    Ok(())
}
