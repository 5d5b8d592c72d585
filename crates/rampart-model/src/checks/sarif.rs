//! The findings as SARIF 2.1.0 (OASIS's Static Analysis Results Interchange Format), which
//! editors and code-scanning services read: one run of the tool `rampart`, every rule with
//! its help and tags (`security`, `external/cwe/cwe-89`, the OWASP and ASVS ids), and each
//! finding as a result with its rule, level, message, file, line and column, the element
//! path as a logical location, and its identity as a partial fingerprint (so a service
//! matches a finding across versions as acceptances do).

use serde_json::{json, Value};

use super::{rules, Finding, Rule, Severity};

/// Where SARIF's schema is published.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log of `files`: each a file's URI reference (a path, as the caller names it)
/// and its findings. `version` is the tool's.
pub fn sarif(files: &[(String, Vec<Finding>)], version: &str) -> Value {
    let all = rules();
    let rule_list: Vec<Value> = all.iter().map(rule).collect();
    let mut artifacts = Vec::new();
    let mut results = Vec::new();
    for (index, (file, findings)) in files.iter().enumerate() {
        let uri = uri_reference(file);
        artifacts.push(json!({ "location": { "uri": uri } }));
        for f in findings {
            let mut physical = json!({
                "artifactLocation": { "uri": uri, "index": index },
            });
            if let Some(pos) = f.pos.filter(|p| p.line >= 1) {
                physical["region"] = json!({
                    "startLine": pos.line,
                    "startColumn": pos.col.max(1),
                });
            }
            results.push(json!({
                "ruleId": f.rule.id,
                "ruleIndex": all.iter().position(|r| r.id == f.rule.id).unwrap_or(0),
                "level": f.severity.as_str(),
                "message": { "text": format!("{} ({}). Fix: {}", f.message, f.element, f.fix) },
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{
                        "fullyQualifiedName": f.element,
                        "kind": "member",
                    }],
                }],
                "partialFingerprints": { "rampartFinding/v1": f.key() },
            }));
        }
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "rampart",
                    "semanticVersion": version,
                    "rules": rule_list,
                },
            },
            "artifacts": artifacts,
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    })
}

fn rule(r: &Rule) -> Value {
    let tag = |prefix: &str, id: &str| format!("external/{prefix}/{}", id.to_ascii_lowercase());
    json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": { "text": r.summary },
        "fullDescription": {
            "text": format!("{} {} · OWASP {} · ASVS 5.0 {}.", r.summary, r.cwe, r.owasp, r.asvs),
        },
        "help": {
            "text": r.help,
            "markdown": format!(
                "{}\n\n**Fix:** {}\n\n{}, OWASP Top 10 {}, ASVS 5.0 {}",
                r.summary, r.help, r.cwe, r.owasp, r.asvs
            ),
        },
        "defaultConfiguration": { "level": r.severity.as_str() },
        "properties": {
            "tags": [
                "security",
                tag("cwe", r.cwe),
                tag("owasp", &r.owasp.replace(':', "-")),
                tag("asvs", r.asvs),
            ],
            "precision": "high",
            "security-severity": match r.severity {
                Severity::Error => "8.0",
                Severity::Warning => "5.0",
                Severity::Note => "2.0",
            },
        },
    })
}

/// A path as a URI reference: `\` as `/`, and every byte but the unreserved ones and `/`
/// `:` percent-encoded.
fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            uri_reference("examples/sales/ui.yaml"),
            "examples/sales/ui.yaml"
        );
        assert_eq!(uri_reference("my dir\\é.yaml"), "my%20dir/%C3%A9.yaml");
    }
}
