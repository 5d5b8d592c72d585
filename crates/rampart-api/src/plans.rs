//! Deployment plans: applications at tagged versions, settings, previews and runs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::lifecycle::{DeployResponse, PlannedChange};

/// An application at a tagged version, in a deployment plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanApplicationWire {
    /// The application.
    pub application: String,
    /// Its tag (see `POST /api/v1/applications/{app}/tags`).
    pub tag: String,
}

/// What a plan sets in its environment, each keyed `module.Element`. Values given here
/// replace those in force; anything not given keeps its value in force (or its default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PlanSettingsWire {
    /// Site property values, of the property's type: `{"sales-ui.SupportAddress": "…"}`.
    #[schema(value_type = Object)]
    pub properties: std::collections::BTreeMap<String, serde_json::Value>,
    /// Integration base URLs for this environment: `{"sales-ui.Invoicing": "https://…"}`.
    pub endpoints: std::collections::BTreeMap<String, String>,
    /// Where the platform finds each integration's secret: `env:NAME`, `file:/path` or
    /// `vault:path`. Never the secret itself.
    pub secrets: std::collections::BTreeMap<String, String>,
}

/// Body of `POST /api/v1/deployment-plans`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCreateRequest {
    /// The target environment.
    pub environment: String,
    /// Applications at tagged versions (1 to 50).
    pub applications: Vec<PlanApplicationWire>,
    /// Settings for the environment.
    #[serde(default)]
    pub settings: PlanSettingsWire,
    /// Free text.
    #[serde(default)]
    pub notes: String,
}

/// Body of `POST /api/v1/deployment-plans/{id}/copy`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCopyRequest {
    /// The environment of the copy: the one after the plan's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Settings for that environment (settings are per environment and are not copied).
    #[serde(default)]
    pub settings: PlanSettingsWire,
    /// Free text; the original's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Body of `POST /api/v1/deployment-plans/{id}/run`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRunRequest {
    /// Check and show what would happen, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A setting the plan changes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettingChange {
    /// The module.
    pub module: String,
    /// `property`, `endpoint` or `secret` (a reference, never a secret).
    pub kind: String,
    /// The property's or integration's name.
    pub name: String,
    /// The value in force now (any JSON value), or null.
    pub from: Option<serde_json::Value>,
    /// The value after the plan (any JSON value).
    pub to: serde_json::Value,
}

/// What running a plan now would do, computed at the time of the request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanPreview {
    /// Module versions that would change.
    pub changes: Vec<PlannedChange>,
    /// Settings that would change.
    pub settings: Vec<SettingChange>,
    /// Site properties without a default that neither the plan nor the environment gives
    /// (`module.Property`): the plan cannot run until they are given.
    pub missing: Vec<String>,
    /// What would run but deserves attention (an integration without a secret reference).
    pub warnings: Vec<String>,
    /// Why running it now would be refused (broken references, permissions, a module that
    /// changed meanwhile), if it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<crate::Problem>,
}

/// A deployment plan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanWire {
    /// Its id.
    pub id: i64,
    /// The target environment.
    pub environment: String,
    /// `draft`, `waiting` (for a second approver: see `request`), `finished` or `aborted`
    /// (see `error`; it may run again).
    pub status: String,
    /// Applications at tagged versions.
    pub applications: Vec<PlanApplicationWire>,
    /// Settings for the environment.
    pub settings: PlanSettingsWire,
    /// Free text.
    pub notes: String,
    /// The plan this one was copied from.
    pub based_on: Option<i64>,
    /// Who made it.
    pub creator: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change of status.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// How many times it ran.
    pub runs: i64,
    /// The deployment request of its last run that needed a second approver.
    pub request: Option<i64>,
    /// Why its last run was aborted.
    pub error: Option<String>,
    /// What running it now would do (on `GET` of one plan, and on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<PlanPreview>,
    /// The result of the run (on `run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<DeployResponse>,
}

/// Query of `GET /api/v1/deployment-plans`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlansQuery {
    /// Only plans for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Only plans in this status: `draft`, `waiting`, `finished` or `aborted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The most plans a page reads (1 to 200; 200 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page: the plans older than its last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of deployment plans, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanPage {
    /// The plans the caller may see (`reference` on each of their applications in their
    /// environment). A page may hold fewer than `limit` of them (those hidden from the
    /// caller are left out) and still have a next page.
    pub items: Vec<PlanWire>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A setting in force in an environment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettingWire {
    /// The module.
    pub module: String,
    /// `property`, `endpoint` or `secret` (a reference).
    pub kind: String,
    /// The property's or integration's name.
    pub name: String,
    /// Its value: any JSON value (a property's value; a string for an endpoint or a
    /// secret reference).
    pub value: serde_json::Value,
    /// The plan that set it.
    pub plan: i64,
}
