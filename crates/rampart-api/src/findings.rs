//! Publish-time security findings of module versions and their acceptances.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A finding of the security checks in a module version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingWire {
    /// Its identity across versions: the rule id and the element path
    /// (`RS003 sales-ui › screens.Go › widgets.0`); what an acceptance names.
    pub finding: String,
    /// The rule's id (`RS001`…).
    pub rule: String,
    /// `error` (blocks publishing), `warning` (pending until accepted) or `note`.
    pub severity: String,
    /// The element: `sales-ui › screens.CustomerDetail › widgets.2`.
    pub element: String,
    /// What is wrong, naming where the value comes from.
    pub message: String,
    /// How to fix it in the model.
    pub fix: String,
    /// The line in the published source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// The column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<i64>,
    /// The rule's CWE (`CWE-89`).
    pub cwe: String,
    /// The rule's OWASP Top 10 2021 category.
    pub owasp: String,
    /// The rule's ASVS 5.0 requirement.
    pub asvs: String,
    /// Its acceptance, if someone accepted it (in this version or an earlier one that had it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<AcceptanceWire>,
}

/// Who accepted a finding, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptanceWire {
    /// The user id.
    pub by_id: String,
    /// Their name at the time.
    pub by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The version the acceptance was written for.
    pub version: i64,
    /// The written justification.
    pub justification: String,
}

/// `GET /api/v1/modules/{name}/versions/{version}/findings`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FindingsResponse {
    /// The module.
    pub module: String,
    /// The version.
    pub version: i64,
    /// Warnings nobody has accepted.
    pub pending: usize,
    /// Every finding, in key order.
    pub findings: Vec<FindingWire>,
}

/// Body of `POST /api/v1/modules/{name}/versions/{version}/findings/accept`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptFindingRequest {
    /// The finding, as `finding` names it.
    pub finding: String,
    /// Why it is acceptable here (20 to 2,000 characters): it travels with the version and
    /// is recorded in the audit log.
    pub justification: String,
}
