//! `rampart model check`: parse and validate module files offline, then run the security
//! checks over each (with the other files given as its dependencies' models) and print the
//! findings as text (`file:line:column: severity[RS001]: …`, as diagnostics read), JSON or
//! SARIF 2.1.0. An error-level finding makes the command fail (exit code 1); warnings and
//! notes alone do not.

use std::path::PathBuf;

use anyhow::bail;
use rampart_model::checks::{check_source, sarif, Finding, Severity};
use rampart_model::Module;
use serde_json::{json, Value};

/// How the findings are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line a finding, `file:line:column: severity[RULE]: message`, and its fix.
    #[default]
    Text,
    /// One JSON object: every file with its findings.
    Json,
    /// A SARIF 2.1.0 log, for editors and code-scanning services.
    Sarif,
}

/// Checks `paths` and prints what it finds in `format`.
pub fn run(paths: &[PathBuf], format: Format) -> anyhow::Result<()> {
    let files = super::modules::module_files(paths)?;
    let models: Vec<&Module> = files.iter().map(|(_, _, m)| m).collect();
    let mut checked: Vec<(String, &Module, Vec<Finding>)> = Vec::new();
    for (path, text, module) in &files {
        let deps: Vec<&Module> = models
            .iter()
            .copied()
            .filter(|d| module.dependencies.iter().any(|x| x.module == d.module))
            .collect();
        let name = path.display().to_string();
        let findings = check_source(&name, text, &deps).map_err(|d| anyhow::anyhow!("{d}"))?;
        checked.push((name, module, findings));
    }
    match format {
        Format::Text => print!("{}", text(&checked)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&as_json(&checked))?),
        Format::Sarif => {
            let files: Vec<(String, Vec<Finding>)> = checked
                .iter()
                .map(|(name, _, f)| (name.clone(), f.clone()))
                .collect();
            let log = sarif::sarif(&files, env!("CARGO_PKG_VERSION"));
            println!("{}", serde_json::to_string_pretty(&log)?);
        }
    }
    let errors = checked
        .iter()
        .flat_map(|(_, _, f)| f)
        .filter(|f| f.severity == Severity::Error)
        .count();
    if errors > 0 {
        bail!(
            "{errors} error-level security finding{} (fix them before publishing)",
            if errors == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

fn counts(findings: &[Finding]) -> String {
    let n = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let mut parts = Vec::new();
    for (s, word) in [
        (Severity::Error, "error"),
        (Severity::Warning, "warning"),
        (Severity::Note, "note"),
    ] {
        match n(s) {
            0 => {}
            1 => parts.push(format!("1 {word}")),
            k => parts.push(format!("{k} {word}s")),
        }
    }
    parts.join(", ")
}

fn text(checked: &[(String, &Module, Vec<Finding>)]) -> String {
    let mut out = String::new();
    for (file, module, findings) in checked {
        for f in findings {
            let pos = f.pos.unwrap_or_default();
            out.push_str(&format!(
                "{file}:{}:{}: {}[{}]: {} (at `{}`)\n  fix: {}\n",
                pos.line, pos.col, f.severity, f.rule.id, f.message, f.element, f.fix
            ));
        }
        if findings.is_empty() {
            out.push_str(&format!("{file}: module {} is valid\n", module.module));
        } else {
            out.push_str(&format!(
                "{file}: module {} is valid, with security findings: {}\n",
                module.module,
                counts(findings)
            ));
        }
    }
    out
}

fn as_json(checked: &[(String, &Module, Vec<Finding>)]) -> Value {
    let files: Vec<Value> = checked
        .iter()
        .map(|(file, module, findings)| {
            let findings: Vec<Value> = findings
                .iter()
                .map(|f| {
                    json!({
                        "rule": f.rule.id,
                        "name": f.rule.name,
                        "severity": f.severity.as_str(),
                        "element": f.element,
                        "path": f.path,
                        "line": f.pos.map(|p| p.line),
                        "column": f.pos.map(|p| p.col),
                        "message": f.message,
                        "fix": f.fix,
                        "cwe": f.rule.cwe,
                        "owasp": f.rule.owasp,
                        "asvs": f.rule.asvs,
                        "key": f.key(),
                    })
                })
                .collect();
            json!({ "file": file, "module": module.module, "findings": findings })
        })
        .collect();
    json!({ "files": files })
}
