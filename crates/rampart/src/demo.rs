//! `rampart serve --demo`: the sales example deployed to development with a seeded
//! organisation (see `rampart_service::apps::demo`), and how to log in as its people.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rampart_server::Server;
use rampart_service::apps::demo::{self, PEOPLE};
use rampart_service::apps::keys::FieldKeys;
use rampart_service::Config;

/// The example application's modules, built into the binary.
const SOURCES: [(&str, &str); 3] = [
    (
        "core-service",
        include_str!("../../../examples/sales/core-service.yaml"),
    ),
    (
        "sales-ui",
        include_str!("../../../examples/sales/sales-ui.yaml"),
    ),
    (
        "sales-reports",
        include_str!("../../../examples/sales/reports.json"),
    ),
];

/// Prepares the configuration of a demo node: loopback only (its passwords are public), and
/// a master key for the customers' sensitive VAT numbers, kept beside the data directory
/// (not in it) unless one is configured.
pub fn prepare(config: &mut Config) -> anyhow::Result<()> {
    let addr: SocketAddr = config
        .https_addr
        .parse()
        .with_context(|| format!("https_addr {} is not an address", config.https_addr))?;
    if !addr.ip().is_loopback() {
        bail!(
            "--demo serves loopback only (its users' passwords are in the README): \
             https_addr {addr} is not a loopback address"
        );
    }
    if config.keys.master_key.is_empty() {
        let path = demo_key_path(&config.data_dir)?;
        if !path.exists() {
            FieldKeys::write_new_master_key(&path)?;
        }
        config.keys.master_key = format!("file:{}", path.display());
    }
    Ok(())
}

fn demo_key_path(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(data_dir).context("the data directory's path")?;
    let name = absolute.file_name().map_or_else(
        || "rampart-data".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    Ok(parent.join(format!("{name}.demo-master.key")))
}

/// Seeds the demo on a started node and says how to use it.
pub async fn seed(server: &Server) -> anyhow::Result<()> {
    let seeded = demo::seed(&server.state, &SOURCES).await?;
    let origin = format!("https://{}", server.https_addr);
    if seeded.fresh {
        println!("demo: the sales application is deployed to development, with its people:");
    } else {
        println!("demo: already set up; its people:");
    }
    for p in PEOPLE {
        let manager = p
            .manager
            .map(|m| format!(", reports to {m}"))
            .unwrap_or_default();
        println!(
            "  {:<5} {:<26} {}{manager} ({})",
            p.username,
            p.password,
            p.role,
            p.roles.join(", ")
        );
    }
    if let Some((admin, password)) = seeded.admin {
        println!("  IT administrator: {admin} {password} (shown once)");
    }
    println!(
        "open {origin}/apps/development/sales/ in a browser and sign in as one of them, or\n\
         log in as an end user and list the sales you may see:\n  \
         TOKEN=$(curl -sk -X POST {origin}/api/v1/auth/login -H 'content-type: application/json' \\\n    \
         -d '{{\"provider\":\"end\",\"username\":\"dana\",\"password\":\"quartz-meadow-lantern-58\"}}' | jq -r .token)\n  \
         curl -sk {origin}/apps/development/sales/api/sales-ui/Sale -H \"authorization: Bearer $TOKEN\" | jq '.items | length'"
    );
    Ok(())
}
