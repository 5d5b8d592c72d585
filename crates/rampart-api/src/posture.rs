//! The security posture report (`GET /api/v1/posture`, `rampart posture --format json`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `GET /api/v1/posture`: every control with its live status and the evidence that decided
/// it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostureReport {
    /// When the facts were gathered.
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// The node that gathered them (`node_id`).
    pub node: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// How many controls are in each status.
    pub summary: PostureSummary,
    /// How many critical controls fail; `rampart posture` exits non-zero when this is not 0.
    pub critical_failures: u64,
    /// The controls, in a fixed order.
    pub controls: Vec<PostureControl>,
}

/// How many controls are in each status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PostureSummary {
    /// Controls that pass.
    pub pass: u64,
    /// Controls that meet the minimum only, or could not be checked.
    pub warn: u64,
    /// Controls that fail.
    pub fail: u64,
    /// Controls with nothing to guard.
    pub not_applicable: u64,
}

/// One control.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostureControl {
    /// Stable id, e.g. `transport.https`.
    pub id: String,
    /// What it asks.
    pub title: String,
    /// `platform` or `customer`: who is responsible for it (shared responsibility).
    pub owner: String,
    /// `pass`, `warn`, `fail` or `not-applicable`.
    pub status: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The facts that decided the status, `name: value`.
    pub evidence: Vec<String>,
    /// SOC 2 Trust Services Criteria (2017).
    pub soc2: Vec<String>,
    /// ISO/IEC 27001:2022 Annex A controls.
    pub iso27001: Vec<String>,
}

impl PostureReport {
    /// The report of `outcomes`, gathered at `generated_at` by `node` on `database`.
    pub fn new(
        outcomes: &[rampart_posture::Outcome],
        generated_at: OffsetDateTime,
        node: String,
        database: String,
    ) -> Self {
        let mut summary = PostureSummary::default();
        for o in outcomes {
            match o.status {
                rampart_posture::Status::Pass => summary.pass += 1,
                rampart_posture::Status::Warn => summary.warn += 1,
                rampart_posture::Status::Fail => summary.fail += 1,
                rampart_posture::Status::NotApplicable => summary.not_applicable += 1,
            }
        }
        PostureReport {
            generated_at,
            node,
            database,
            summary,
            critical_failures: rampart_posture::critical_failures(outcomes) as u64,
            controls: outcomes.iter().map(PostureControl::from).collect(),
        }
    }
}

impl From<&rampart_posture::Outcome> for PostureControl {
    fn from(o: &rampart_posture::Outcome) -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        PostureControl {
            id: o.control.id.to_owned(),
            title: o.control.title.to_owned(),
            owner: o.control.owner.as_str().to_owned(),
            status: o.status.as_str().to_owned(),
            severity: o.control.severity.as_str().to_owned(),
            evidence: o.evidence.clone(),
            soc2: strings(o.control.soc2),
            iso27001: strings(o.control.iso27001),
        }
    }
}
