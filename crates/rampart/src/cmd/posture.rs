//! `rampart posture`: the security posture report, gathered offline on the server's machine
//! from its configuration, data directory and database (the same facts and decisions as
//! `GET /api/v1/posture` and the console's Posture page). Exits non-zero when a critical
//! control fails, so a pipeline can stop on it.

use std::sync::Arc;

use anyhow::bail;
use clap::{Args, ValueEnum};
use rampart_api::PostureReport;
use rampart_core::SystemClock;
use rampart_service::Loaded;

/// The long help of `rampart posture`.
pub const HELP: &str = "\
The security posture report: each control with its owner under shared responsibility \
(platform or customer), live status (pass, warn, fail, not-applicable), the evidence that \
decided it, its severity, and its SOC 2 and ISO 27001:2022 control ids.

Controls: HTTPS enforced, HSTS, TLS versions, MFA for administrators, password policy, \
lockout, keys present and their age, the audit log against its newest signed checkpoint, \
backups recent and restore-tested (`rampart backup`, `rampart restore --drill`), security \
findings of deployed modules, administrators without a recent sign-in, published or \
initial passwords, dependency advisories recorded at build time.

Run on the server's machine with its configuration (it reads the data directory and the \
database, like `rampart audit check`; the server may run). The exit status is 1 when a \
critical control fails, so a pipeline can stop on it. Administrators and auditors read the \
same report at GET /api/v1/posture and on the console's Posture page.

Examples:

    rampart posture
    rampart posture --format json | jq '.controls[] | select(.status == \"fail\")'";

/// Output formats.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Format {
    /// Lines for people.
    #[default]
    Text,
    /// The API's JSON (`PostureReport`).
    Json,
}

/// `rampart posture`.
#[derive(Debug, Args)]
pub struct PostureArgs {
    /// `text` or `json` (the API's report).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

fn text(report: &PostureReport) -> String {
    let mut out = format!(
        "Security posture of node {} ({}) at {}: {} pass, {} warn, {} fail, {} not applicable\n",
        report.node,
        report.database,
        report
            .generated_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        report.summary.pass,
        report.summary.warn,
        report.summary.fail,
        report.summary.not_applicable
    );
    for (owner, heading) in [("platform", "PLATFORM"), ("customer", "CUSTOMER")] {
        out.push_str(&format!("\n{heading}\n"));
        for c in report.controls.iter().filter(|c| c.owner == owner) {
            out.push_str(&format!(
                "  [{}] {} ({}): {}\n      SOC 2 {}; ISO 27001:2022 {}\n",
                c.status,
                c.id,
                c.severity,
                c.title,
                c.soc2.join(", "),
                c.iso27001.join(", ")
            ));
            for e in &c.evidence {
                out.push_str(&format!("      - {e}\n"));
            }
        }
    }
    out
}

/// `rampart posture`.
pub async fn run(loaded: Loaded, args: &PostureArgs) -> anyhow::Result<()> {
    let config = loaded.config;
    super::super::require_audit_key(&config)?;
    let transport = rampart_server::routes::posture::transport(&config);
    let store = rampart_server::open_store(&config).await?;
    let state = rampart_service::AppState::new(store.clone(), config, Arc::new(SystemClock))?;
    let result = async {
        state.audit.load().await?;
        rampart_service::posture::report(&state, transport).await
    }
    .await;
    store.close().await;
    let report = result?;
    match args.format {
        Format::Text => print!("{}", text(&report)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.critical_failures > 0 {
        bail!(
            "{} critical control{} fail{}",
            report.critical_failures,
            if report.critical_failures == 1 {
                ""
            } else {
                "s"
            },
            if report.critical_failures == 1 {
                "s"
            } else {
                ""
            }
        );
    }
    Ok(())
}
