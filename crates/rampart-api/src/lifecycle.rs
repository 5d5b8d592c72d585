//! Module lifecycle: versions, diffs, environments, deployments, requests, tags and module
//! names.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /api/v1/modules/{name}/versions`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The module's source (YAML, or JSON), whose `module:` must be the name in the path.
    pub source: String,
    /// What changed and why (1 to 2,000 characters).
    pub message: String,
    /// The version this change was based on (0 for the first); when given, a publish on top of
    /// a newer version is refused with 409 instead of silently replacing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<i64>,
    /// Publish even though it breaks modules deployed somewhere (needs `full` on the module).
    #[serde(default)]
    pub force: bool,
}

/// A module version's metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionWire {
    /// The module.
    pub module: String,
    /// Its number, from 1.
    pub version: i64,
    /// `sha256:` and the hex SHA-256 of the source.
    pub digest: String,
    /// The author's user id.
    pub author_id: String,
    /// The author's name at the time.
    pub author: String,
    /// The author's message.
    pub message: String,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Environments running it now.
    pub deployed_in: Vec<String>,
}

/// What a publish did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublishResponse {
    /// The version (the existing one when the source was already published).
    pub version: VersionWire,
    /// `false` when the same source was already a version: nothing was written.
    pub created: bool,
    /// Breaking changes forced through (`force`), if any.
    pub forced: Vec<BreakingChange>,
}

/// A module deployed somewhere that a change would break.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BreakingChange {
    /// The module that would break (the dependant).
    pub module: String,
    /// Its version running there.
    pub version: i64,
    /// Where it runs.
    pub environment: String,
    /// The module it depends on.
    pub depends_on: String,
    /// `roles`, `entities`, `queries`, `screens` or `actions` (or `module` when the whole
    /// module is missing).
    pub kind: String,
    /// The element used.
    pub element: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A version with its source (`open`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionSourceResponse {
    /// Its metadata.
    #[serde(flatten)]
    pub version: VersionWire,
    /// The source as published.
    pub source: String,
}

/// Query of `GET /api/v1/modules/{name}/diff`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The older version's number.
    pub from: i64,
    /// The newer version's number.
    pub to: i64,
}

/// Query of `GET /api/v1/modules/{name}/surface`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SurfaceQuery {
    /// The version (the newest when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// An environment and its lifecycle policies, as `set_environments` takes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Its name: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The author of a version may not deploy it here.
    #[serde(default)]
    pub separation_of_duties: bool,
    /// Deployments here wait for a second IT user with `deploy` to approve them.
    #[serde(default)]
    pub second_approver: bool,
}

/// An environment in the promotion order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentWire {
    /// Its name.
    pub name: String,
    /// Its place in the order, from 0 (staging promotes to the next).
    pub position: usize,
    /// Whether the author of a version may not deploy it here.
    pub separation_of_duties: bool,
    /// Whether deployments here wait for a second approver.
    pub second_approver: bool,
}

/// One module to deploy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployItem {
    /// The module.
    pub module: String,
    /// The version to run.
    pub version: i64,
    /// The version the caller saw running (0: none); when it no longer runs there, the
    /// deployment is refused with 409. When absent, what runs at the time of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
}

/// Body of `POST /api/v1/environments/{env}/deployments`: `modules`, or an application's
/// tag (every module at the version the tag holds).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The modules, deployed together or not at all.
    #[serde(default)]
    pub modules: Vec<DeployItem>,
    /// Deploy this application's tag instead (with `tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The tag (with `application`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Only preview the plan: check everything, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Delete the stored data of attributes and entities the deployed models no longer
    /// declare (kept otherwise, so a later deployment or a rollback finds it again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_data: bool,
}

/// Body of `POST /api/v1/environments/{env}/stage`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    /// The environment promoted from (the one before in the order when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only these modules (all that run in `from` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<String>>,
    /// Only preview the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// Body of `POST /api/v1/environments/{env}/rollback`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The module put back to the version it ran before its last deployment.
    pub module: String,
    /// Only preview the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// One change of a deployment plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlannedChange {
    /// The module.
    pub module: String,
    /// The version running now, if any.
    pub from: Option<i64>,
    /// The version that will run.
    pub to: i64,
    /// Structural changes between the two, per kind of element (names added, removed,
    /// changed); empty for a first deployment or a redeploy. Shown only to callers with
    /// `open` on the module in the target environment, else omitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub changes: Option<serde_json::Value>,
    /// The version's pending security findings (warnings nobody accepted): each as its
    /// identity (`RS006 sales-ui › screens.Contact`) to callers with `open` on the module in
    /// the target environment, else as its rule id only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_findings: Vec<String>,
}

/// A deployment plan: what would change, and what became of it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeployResponse {
    /// The target environment.
    pub environment: String,
    /// `applied`, `pending-approval` (the environment needs a second approver: see
    /// `request`), `plan` (a dry run) or `nothing-to-do`.
    pub status: String,
    /// What changes (modules already at the version are left out).
    pub changes: Vec<PlannedChange>,
    /// Whether it was applied.
    pub applied: bool,
    /// The request waiting for a second approver, when `pending-approval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<i64>,
    /// The history entries written.
    pub deployments: Vec<DeploymentWire>,
    /// The application roles the modules' versions declare that their applications lacked:
    /// created now, or left `missing` when creating them failed after the deployment
    /// committed. Absent when every declared role existed, and for dry runs and deployments
    /// waiting for a second approver (which create nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<DeclaredRoles>,
}

/// What became of the application roles a deployment's modules declare and their
/// applications lacked. Roles that existed are never changed, nor their grants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeclaredRoles {
    /// The roles this deployment created, each recorded in the audit trail
    /// (`authz.role.create`) under the deployment's actor and request.
    pub created: Vec<ApplicationRole>,
    /// Declared roles still missing because creating them failed after the deployment had
    /// committed: the deployment stands, and deploying the same versions again (which then
    /// has nothing else to do) creates them.
    pub missing: Vec<ApplicationRole>,
    /// Why they are missing, when some are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A role of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationRole {
    /// The application.
    pub application: String,
    /// The role's name, as the module declares it.
    pub role: String,
}

/// A deployment waiting for, or decided by, a second approver.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentRequestWire {
    /// Its id.
    pub id: i64,
    /// The target environment.
    pub environment: String,
    /// `deploy`, `stage` or `rollback`.
    pub kind: String,
    /// For staging: where from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The plan: each module, the version to run and the version expected running.
    pub items: Vec<RequestItem>,
    /// Who asked.
    pub requester: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decider: Option<String>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One module of a deployment request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestItem {
    /// The module.
    pub module: String,
    /// The version to run.
    pub version: i64,
    /// The version expected running (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
}

/// Body of `POST /api/v1/environments/{env}/requests/{id}/reject`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why (1 to 500 characters; recorded in the audit trail).
    pub reason: String,
}

/// Query of `GET /api/v1/environments/{env}/requests`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    /// Only `pending`, `approved` or `rejected` ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A deployment in an environment's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentWire {
    /// Increasing id.
    pub id: i64,
    /// The environment.
    pub environment: String,
    /// The module.
    pub module: String,
    /// The version deployed.
    pub version: i64,
    /// The version it replaced.
    pub previous: Option<i64>,
    /// `deploy`, `stage` or `rollback`.
    pub kind: String,
    /// For staging: where from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Who.
    pub actor: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Query of `GET /api/v1/environments/{env}/deployments`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The most entries (1 to 1,000; 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page: the deployments older than its last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of an environment's deployment history, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentPage {
    /// The deployments of the modules the caller may reference there. A page may hold
    /// fewer than `limit` of them (those of modules hidden from the caller are left out)
    /// and still have a next page.
    pub items: Vec<DeploymentWire>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What runs in an environment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunningWire {
    /// The module.
    pub module: String,
    /// The version.
    pub version: i64,
}

/// Body of `POST /api/v1/applications/{app}/tags`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    /// The tag: 1 to 64 letters, digits, `.`, `_`, `-` (e.g. `2.3.0`).
    pub tag: String,
    /// Release notes (up to 10,000 characters).
    #[serde(default)]
    pub notes: String,
    /// Module name to version; by default the newest version of every module of the
    /// application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<std::collections::BTreeMap<String, i64>>,
}

/// An application version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TagWire {
    /// The application.
    pub application: String,
    /// The tag.
    pub tag: String,
    /// Module name to version.
    pub modules: std::collections::BTreeMap<String, i64>,
    /// Release notes.
    pub notes: String,
    /// Who tagged it.
    pub creator: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

// Module names.

/// Body of `POST /api/v1/module-names`: reserve a module name for an application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveNameRequest {
    /// The module name (1 to 100 ASCII letters, digits, `-` and `_`), not registered yet.
    pub name: String,
    /// The application that alone may register it.
    pub application: String,
}

/// Body of `POST /api/v1/module-names/{name}/transfer`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferNameRequest {
    /// The application receiving the name (and the module, if one is registered).
    pub application: String,
}

/// A module name and the application it belongs to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleNameWire {
    /// The name.
    pub name: String,
    /// The application it is reserved for, or whose module it is.
    pub application: String,
    /// `reserved` (no module yet) or `registered` (a module of the application).
    pub status: String,
    /// When it was reserved or registered.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
}
