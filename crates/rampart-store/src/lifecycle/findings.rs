//! The security checks' findings of module versions (migration 0004), and their
//! acceptances: stored with the version in its publish transaction, an acceptance carried
//! from the newest version before it to each finding it still has, and recorded with its
//! audit event in one transaction.

use super::*;
use crate::db::Arg;

/// A finding to store with a new version.
#[derive(Debug, Clone)]
pub struct NewFinding {
    /// Its identity across versions: rule id and element path.
    pub finding: String,
    /// The rule's id.
    pub rule: String,
    /// `warning` or `note` (an error is never published).
    pub severity: String,
    /// The element path.
    pub element: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// Where in the source, when known.
    pub line: Option<i64>,
    /// The column.
    pub column: Option<i64>,
}

/// Who accepted a finding, when, why, and for which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    /// The user id.
    pub by: String,
    /// Their name at the time.
    pub by_name: String,
    /// When.
    pub at: OffsetDateTime,
    /// The version the acceptance was written for.
    pub version: i64,
    /// The written justification.
    pub justification: String,
}

/// A stored finding.
#[derive(Debug, Clone)]
pub struct StoredFinding {
    /// What was found.
    pub finding: NewFinding,
    /// Its acceptance, if any.
    pub accepted: Option<Acceptance>,
}

const COLUMNS: &str = "finding, rule, severity, element, message, fix, line, col, accepted_by, \
     accepted_by_name, accepted_at, accepted_in, justification";

fn stored(row: &Row) -> Result<StoredFinding, Error> {
    let at: Option<i64> = row.get("accepted_at")?;
    let accepted = match at {
        Some(at) => Some(Acceptance {
            by: row.get("accepted_by")?,
            by_name: row.get("accepted_by_name")?,
            at: from_millis(at)?,
            version: row.get("accepted_in")?,
            justification: row.get("justification")?,
        }),
        None => None,
    };
    Ok(StoredFinding {
        finding: NewFinding {
            finding: row.get("finding")?,
            rule: row.get("rule")?,
            severity: row.get("severity")?,
            element: row.get("element")?,
            message: row.get("message")?,
            fix: row.get("fix")?,
            line: row.get("line")?,
            column: row.get("col")?,
        },
        accepted,
    })
}

async fn of_version(tx: &mut Tx<'_>, num: i64, number: i64) -> Result<Vec<StoredFinding>, Error> {
    let rows = tx
        .rows(
            &format!(
                "SELECT {COLUMNS} FROM version_findings WHERE module_num = $1 AND number = $2 \
                 ORDER BY finding"
            ),
            [num.into(), number.into()],
        )
        .await?;
    rows.iter().map(stored).collect()
}

/// Stores the findings of version `number`, each carrying the acceptance the same finding
/// had in version `previous` (the newest before it); returns what the publish event says
/// of them: how many are pending and accepted, and which acceptances lapsed.
pub(super) async fn insert(
    tx: &mut Tx<'_>,
    num: i64,
    number: i64,
    previous: i64,
    findings: &[NewFinding],
) -> Result<serde_json::Value, Error> {
    let before = of_version(tx, num, previous).await?;
    let mut accepted = 0;
    for f in findings {
        let carried = before
            .iter()
            .find(|b| b.finding.finding == f.finding)
            .and_then(|b| b.accepted.clone());
        let a = carried.as_ref();
        if a.is_some() {
            accepted += 1;
        }
        tx.exec(
            &format!(
                "INSERT INTO version_findings (module_num, number, {COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ),
            [
                num.into(),
                number.into(),
                Arg::from(&f.finding),
                Arg::from(&f.rule),
                Arg::from(&f.severity),
                Arg::from(&f.element),
                Arg::from(&f.message),
                Arg::from(&f.fix),
                Arg::from(f.line),
                Arg::from(f.column),
                Arg::from(a.map(|a| a.by.as_str())),
                Arg::from(a.map(|a| a.by_name.as_str())),
                Arg::from(a.map(|a| to_millis(a.at))),
                Arg::from(a.map(|a| a.version)),
                Arg::from(a.map(|a| a.justification.as_str())),
            ],
        )
        .await?;
    }
    let lapsed: Vec<&str> = before
        .iter()
        .filter(|b| b.accepted.is_some())
        .filter(|b| findings.iter().all(|f| f.finding != b.finding.finding))
        .map(|b| b.finding.finding.as_str())
        .collect();
    let pending = findings.iter().filter(|f| f.severity == "warning").count() - accepted;
    Ok(json!({ "pending": pending, "accepted": accepted, "lapsed_acceptances": lapsed }))
}

/// Forgets the findings of a version being deleted.
pub(super) async fn delete(tx: &mut Tx<'_>, num: i64, number: i64) -> Result<(), Error> {
    tx.exec(
        "DELETE FROM version_findings WHERE module_num = $1 AND number = $2",
        [num.into(), number.into()],
    )
    .await?;
    Ok(())
}

impl Store {
    /// The findings of version `number` of `module`, in key order.
    pub async fn version_findings(
        &self,
        module: &str,
        number: i64,
    ) -> Result<Vec<StoredFinding>, Error> {
        let mut tx = self.snapshot().await?;
        let num = module_num(&mut tx, module).await?;
        of_version(&mut tx, num, number).await
    }

    /// Records the acceptance of warning `finding` of version `number` of `module`, with its
    /// `module.finding.accept` event. A finding that is not a pending warning of that
    /// version is refused and nothing is written.
    pub async fn accept_finding(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        (module, number): (&str, i64),
        finding: &str,
        justification: &str,
    ) -> Result<StoredFinding, Error> {
        let (by, by_name) = actor(ctx);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let num = module_num(&mut *tx, module).await?;
        let current = of_version(tx, num, number)
            .await?
            .into_iter()
            .find(|f| f.finding.finding == finding)
            .ok_or(Error::NotFound { what: "finding" })?;
        if current.finding.severity != "warning" {
            return Err(Error::invalid(
                "finding",
                format!(
                    "`{finding}` is a {}: only warnings are accepted (an error blocks \
                     publishing; a note needs nothing)",
                    current.finding.severity
                ),
            ));
        }
        if let Some(a) = &current.accepted {
            return Err(Error::Conflict(format!(
                "`{finding}` was accepted by {} for version {}",
                a.by_name, a.version
            )));
        }
        tx.exec(
            "UPDATE version_findings SET accepted_by = $1, accepted_by_name = $2, \
             accepted_at = $3, accepted_in = $4, justification = $5 \
             WHERE module_num = $6 AND number = $7 AND finding = $8",
            [
                Arg::from(&by),
                Arg::from(&by_name),
                to_millis(now).into(),
                number.into(),
                Arg::from(justification),
                num.into(),
                number.into(),
                Arg::from(finding),
            ],
        )
        .await?;
        let details = json!({
            "module": module,
            "application": application_of(tx, module).await?,
            "version": number,
            "finding": finding,
            "rule": current.finding.rule,
            "justification": justification,
        });
        crate::audit::record(
            tx,
            ctx,
            now,
            "module.finding.accept",
            format!("module:{module}"),
            details,
        )
        .await?;
        let accepted = StoredFinding {
            accepted: Some(Acceptance {
                by,
                by_name,
                at: from_millis(to_millis(now))?,
                version: number,
                justification: justification.to_owned(),
            }),
            ..current
        };
        owned.commit().await?;
        Ok(accepted)
    }
}
