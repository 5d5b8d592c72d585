//! `rampart module findings` and `rampart module accept`: the security findings stored with
//! a published version, and the acceptance of a warning.

use rampart_client::api::{AcceptFindingRequest, FindingWire};
use rampart_client::Client;

use super::{connect, fail};

/// One line a finding: severity, rule, element, and its acceptance if any; a pending
/// warning of version `of` says the command that accepts it.
fn line(f: &FindingWire, of: Option<(&str, i64)>) -> String {
    let at = match (f.line, f.column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        _ => String::new(),
    };
    let state = match (&f.accepted, f.severity.as_str()) {
        (Some(a), _) => format!(
            "accepted by {} for version {}: {}",
            a.by, a.version, a.justification
        ),
        (None, "warning") => match of {
            Some((name, version)) => format!(
                "PENDING: fix it, or accept it with a justification:\n    rampart module accept \
                 {name} {version} \"{}\" --because \"…\"",
                f.finding
            ),
            None => "PENDING: accept it with a justification, or fix it".to_owned(),
        },
        (None, _) => String::new(),
    };
    format!(
        "{}[{}] {}{at}\n  {}\n  fix: {}{}",
        f.severity,
        f.rule,
        f.element,
        f.message,
        f.fix,
        if state.is_empty() {
            String::new()
        } else {
            format!("\n  {state}")
        }
    )
}

/// `rampart module findings NAME VERSION`.
pub async fn list(name: &str, version: i64, json: bool) -> anyhow::Result<()> {
    let client = connect()?;
    let found = client.findings().list(name, version).await.map_err(fail)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    for f in &found.findings {
        println!("{}", line(f, Some((name, version))));
    }
    println!(
        "{name} version {version}: {} finding(s), {} pending",
        found.findings.len(),
        found.pending
    );
    Ok(())
}

/// A line for `module show` (on standard error, so the source on standard output can be
/// piped): how many findings are pending and accepted; nothing for a caller who may not
/// read them.
pub async fn summary(client: &Client, name: &str, version: i64) -> Option<String> {
    let found = client.findings().list(name, version).await.ok()?;
    if found.findings.is_empty() {
        return None;
    }
    let accepted = found
        .findings
        .iter()
        .filter(|f| f.accepted.is_some())
        .count();
    Some(format!(
        "security findings of {name} version {version}: {} pending, {accepted} accepted, {} in all \
         (rampart module findings {name} {version})",
        found.pending,
        found.findings.len()
    ))
}

/// For `module diff`: the security findings `to` has that `from` had not (`+`, with their
/// state) and those it no longer has (`-`); nothing for a caller who may not read them.
pub async fn diff(client: &Client, name: &str, from: i64, to: i64) -> Vec<String> {
    let (Ok(old), Ok(new)) = (
        client.findings().list(name, from).await,
        client.findings().list(name, to).await,
    ) else {
        return Vec::new();
    };
    let had = |f: &FindingWire, list: &[FindingWire]| list.iter().any(|g| g.finding == f.finding);
    let mut lines = Vec::new();
    for f in new.findings.iter().filter(|f| !had(f, &old.findings)) {
        let state = match (&f.accepted, f.severity.as_str()) {
            (Some(_), _) => "accepted",
            (None, "warning") => "pending",
            (None, other) => other,
        };
        lines.push(format!("+ security finding {} ({state})", f.finding));
    }
    for f in old.findings.iter().filter(|f| !had(f, &new.findings)) {
        lines.push(format!("- security finding {} (gone)", f.finding));
    }
    lines
}

/// `rampart module accept NAME VERSION FINDING --because TEXT`.
pub async fn accept(name: &str, version: i64, finding: &str, because: &str) -> anyhow::Result<()> {
    let client = connect()?;
    let accepted = client
        .findings()
        .accept(
            name,
            version,
            &AcceptFindingRequest {
                // `>` typed for the `›` between an element's parts.
                finding: finding.replace(" > ", " › "),
                justification: because.to_owned(),
            },
        )
        .await
        .map_err(fail)?;
    println!("{}", line(&accepted, None));
    Ok(())
}
