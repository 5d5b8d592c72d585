//! Publish-time security findings: the checks run on every publish (an error refuses it;
//! warnings and notes are stored with the version), reading a version's findings, and
//! accepting a warning with a written justification.
//!
//! | operation | level needed | where |
//! |---|---|---|
//! | read a version's findings | `open` (they describe its source) | authoring environment |
//! | accept a warning | `change` | authoring environment |
//!
//! An acceptance is an audit event (`module.finding.accept`, with its text), travels to
//! each later version that still has the finding, and lapses with the first that does not
//! (the publish event lists lapsed acceptances).

use rampart_api::{AcceptFindingRequest, AcceptanceWire, FindingWire, FindingsResponse};
use rampart_authz::policy::LifecycleOp;
use rampart_core::Error;
use rampart_model::checks::{self, Finding, Severity};
use rampart_model::Module;
use rampart_store::{NewFinding, StoredFinding};

use super::{require_module, version_or_404, LifecycleError, AUTHORING};
use crate::caller::Caller;
use crate::state::AppState;

/// The findings of `source` (module `name`, already parsed), given the models of its
/// dependencies; an error-level finding refuses the publish with every finding.
pub(super) fn of_source(
    name: &str,
    source: &str,
    deps: &[Module],
) -> Result<Vec<NewFinding>, LifecycleError> {
    let found = run(&format!("{name} (request body `source`)"), source, deps)
        .map_err(|d| LifecycleError::InvalidModule { diagnostics: d.0 })?;
    if found.iter().any(|f| f.severity == Severity::Error) {
        return Err(LifecycleError::Findings {
            module: name.to_owned(),
            findings: found.iter().map(checked_wire).collect(),
        });
    }
    Ok(found.iter().map(new_finding).collect())
}

/// The findings of a sealed package's `source` (module `name`), as a publish would find
/// them on this installation: an error-level finding refuses the import, naming the rules
/// only (the source stays sealed); warnings and notes are stored with the version, so the
/// posture report counts them and a warning needs accepting before it deploys, as a
/// published version's does. A finding names an element and a rule, never the source's text.
pub(super) fn of_sealed(
    name: &str,
    source: &str,
    deps: &[Module],
) -> Result<Vec<NewFinding>, Error> {
    let found = run(&format!("{name} (sealed package)"), source, deps).map_err(|d| {
        Error::invalid(
            "package",
            format!(
                "the sealed source does not parse here ({} error(s))",
                d.0.len()
            ),
        )
    })?;
    let mut errors: Vec<&str> = found
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.rule.id)
        .collect();
    errors.sort_unstable();
    errors.dedup();
    if !errors.is_empty() {
        return Err(Error::invalid(
            "package",
            format!(
                "the sealed module fails this installation's publish-time checks with errors \
                 ({}); its publisher must fix them",
                errors.join(", ")
            ),
        ));
    }
    Ok(found.iter().map(new_finding).collect())
}

/// The checks of `source`, read as `file`, with the models of its dependencies.
fn run(
    file: &str,
    source: &str,
    deps: &[Module],
) -> Result<Vec<Finding>, rampart_model::Diagnostics> {
    let deps: Vec<&Module> = deps.iter().collect();
    checks::check_source(file, source, &deps)
}

fn new_finding(f: &Finding) -> NewFinding {
    NewFinding {
        finding: f.key(),
        rule: f.rule.id.to_owned(),
        severity: f.severity.as_str().to_owned(),
        element: f.element.clone(),
        message: f.message.clone(),
        fix: f.fix.clone(),
        line: f.pos.map(|p| i64::try_from(p.line).unwrap_or(i64::MAX)),
        column: f.pos.map(|p| i64::try_from(p.col).unwrap_or(i64::MAX)),
    }
}

fn checked_wire(f: &Finding) -> FindingWire {
    wire(StoredFinding {
        finding: new_finding(f),
        accepted: None,
    })
}

fn wire(s: StoredFinding) -> FindingWire {
    let rule = checks::rule(&s.finding.rule);
    FindingWire {
        finding: s.finding.finding,
        rule: s.finding.rule,
        severity: s.finding.severity,
        element: s.finding.element,
        message: s.finding.message,
        fix: s.finding.fix,
        line: s.finding.line,
        column: s.finding.column,
        cwe: rule.map(|r| r.cwe.to_owned()).unwrap_or_default(),
        owasp: rule.map(|r| r.owasp.to_owned()).unwrap_or_default(),
        asvs: rule.map(|r| r.asvs.to_owned()).unwrap_or_default(),
        accepted: s.accepted.map(|a| AcceptanceWire {
            by_id: a.by,
            by: a.by_name,
            at: a.at,
            version: a.version,
            justification: a.justification,
        }),
    }
}

/// Warnings of `findings` nobody accepted.
pub fn pending(findings: &[FindingWire]) -> usize {
    findings
        .iter()
        .filter(|f| f.severity == "warning" && f.accepted.is_none())
        .count()
}

/// Version number `number` (the path parameter) of module `name`, once the caller is
/// known to hold what `op` needs on the module where it is authored (as of their request).
async fn permitted_version(
    state: &AppState,
    caller: &Caller,
    name: &str,
    number: &str,
    op: LifecycleOp,
    doing: &str,
) -> Result<i64, Error> {
    let number = super::versions::version_param(number)?;
    state.authz.fresh_since(caller.arrived, None).await?;
    require_module(state, caller, name, AUTHORING, op, doing).await?;
    Ok(number)
}

/// The findings of version `number` of module `name`.
pub async fn findings(
    state: &AppState,
    caller: &Caller,
    name: &str,
    number: &str,
) -> Result<FindingsResponse, Error> {
    let number = permitted_version(
        state,
        caller,
        name,
        number,
        LifecycleOp::ReadSource,
        "reading security findings",
    )
    .await?;
    version_or_404(state, name, Some(number)).await?;
    let findings: Vec<FindingWire> = state
        .store
        .version_findings(name, number)
        .await?
        .into_iter()
        .map(wire)
        .collect();
    Ok(FindingsResponse {
        module: name.to_owned(),
        version: number,
        pending: pending(&findings),
        findings,
    })
}

/// The pending warnings of version `number` of `name`, for a caller already allowed to see
/// what is deployed (a deployment plan's preview).
pub async fn pending_of(state: &AppState, name: &str, number: i64) -> Result<Vec<String>, Error> {
    Ok(state
        .store
        .version_findings(name, number)
        .await?
        .into_iter()
        .filter(|f| f.finding.severity == "warning" && f.accepted.is_none())
        .map(|f| f.finding.finding)
        .collect())
}

/// Accepts warning `req.finding` of version `number` of module `name`.
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    name: &str,
    number: &str,
    req: AcceptFindingRequest,
) -> Result<FindingWire, Error> {
    let number = permitted_version(
        state,
        caller,
        name,
        number,
        LifecycleOp::Publish,
        "accepting a security finding",
    )
    .await?;
    let justification = req.justification.trim();
    let chars = justification.chars().count();
    if !(20..=2000).contains(&chars) {
        return Err(Error::invalid(
            "justification",
            "say why the finding is acceptable here, in 20 to 2,000 characters: it travels \
             with the version and is recorded in the audit log",
        ));
    }
    if justification.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(
            "justification",
            "plain text: no control characters but line breaks",
        ));
    }
    version_or_404(state, name, Some(number)).await?;
    let accepted = state
        .store
        .accept_finding(
            &caller.audit,
            state.clock.now(),
            (name, number),
            &req.finding,
            justification,
        )
        .await?;
    Ok(wire(accepted))
}
