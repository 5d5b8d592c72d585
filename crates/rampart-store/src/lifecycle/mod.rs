//! Module versions and deployments (migration 0007).
//!
//! Versions are immutable: a publish inserts a row numbered one past the newest, in the
//! same transaction as its audit event; two publishes racing for one number both reach the
//! primary key and one of them gets a conflict (on SQLite the single writer orders them, and
//! a publish that names the version it was based on — `parent` — is refused when another
//! came first). A deployment replaces what runs in an environment only if what runs there
//! is still what the caller saw (`expected`), so two concurrent deployments of one module
//! to one environment cannot both apply: on PostgreSQL the second `UPDATE` waits for the
//! first's row lock, re-reads the row and finds it changed.
//!
//! This module stores and checks consistency only; who may publish or deploy is decided by
//! the server with `rampart-authz`, and what a module means by `rampart-model`.

use rampart_core::{AuditContext, Error};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{db, from_millis, to_millis};
use crate::db::{query_scalar, Ex, Row, Tx};
use crate::Store;

pub use findings::{Acceptance, NewFinding, StoredFinding};

mod deploy;
mod findings;
pub(crate) mod plans;
pub(crate) mod sealed;
mod tags;
mod versions;

/// A version to store (already parsed, validated and authorised by the caller).
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The module (registered).
    pub module: String,
    /// The source as written.
    pub source: String,
    /// Its content address.
    pub digest: String,
    /// The parsed module, canonical JSON.
    pub model: String,
    /// Its public surface, JSON.
    pub surface: String,
    /// The public elements of other modules it uses, JSON.
    pub uses: String,
    /// The author's message.
    pub message: String,
    /// The version the change was based on (`Some(0)`: the first version); `None` accepts
    /// whatever is newest.
    pub parent: Option<i64>,
    /// Breaking changes the author forced through, for the audit trail.
    pub forced: Vec<String>,
    /// What the security checks found (none of them an error).
    pub findings: Vec<NewFinding>,
}

/// A module name and the application it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleName {
    /// The name.
    pub name: String,
    /// The application it is reserved for, or whose module it is.
    pub application: String,
    /// A registered module (`true`) or a reservation.
    pub registered: bool,
    /// When it was reserved or registered.
    pub since: OffsetDateTime,
}

/// A version's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The module.
    pub module: String,
    /// Its number, from 1.
    pub number: i64,
    /// `sha256:` and the hex digest of the source.
    pub digest: String,
    /// The author's user id.
    pub author_id: String,
    /// The author's name at the time.
    pub author_name: String,
    /// The author's message.
    pub message: String,
    /// When it was published.
    pub created_at: OffsetDateTime,
    /// Environments running it now.
    pub deployed_in: Vec<String>,
}

/// A version with its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Its metadata.
    pub info: VersionInfo,
    /// The source.
    pub source: String,
    /// The parsed module, JSON.
    pub model: String,
    /// The public surface, JSON.
    pub surface: String,
    /// What it uses of other modules, JSON.
    pub uses: String,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A new version.
    Created(VersionInfo),
    /// The same source was already a version of the module: nothing was written.
    Unchanged(VersionInfo),
}

/// How a deployment came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployKind {
    /// A version deployed directly.
    Deploy,
    /// Promoted from the environment before.
    Stage,
    /// Back to the version before.
    Rollback,
}

impl DeployKind {
    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<DeployKind> {
        [DeployKind::Deploy, DeployKind::Stage, DeployKind::Rollback]
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployKind::Deploy => "deploy",
            DeployKind::Stage => "stage",
            DeployKind::Rollback => "rollback",
        }
    }
}

/// One deployment to apply.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    /// Target environment.
    pub environment: String,
    /// The module.
    pub module: String,
    /// The version to run.
    pub number: i64,
    /// What the caller saw running there (`None`: nothing); applied only if still so.
    pub expected: Option<i64>,
    /// Deploy, stage or rollback.
    pub kind: DeployKind,
    /// For staging: where from.
    pub source_env: Option<String>,
}

/// A deployment waiting for (or decided by) a second approver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRequest {
    /// Its id.
    pub id: i64,
    /// The target environment.
    pub environment: String,
    /// `deploy`, `stage` or `rollback`.
    pub kind: DeployKind,
    /// For staging: where from.
    pub source_env: Option<String>,
    /// The plan: (module, version, expected running version).
    pub items: Vec<(String, i64, Option<i64>)>,
    /// Who asked (user id).
    pub requested_by: String,
    /// Their name at the time.
    pub requester: String,
    /// When.
    pub requested_at: OffsetDateTime,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who decided, when decided.
    pub decider: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The deployment plan whose run made it.
    pub plan: Option<i64>,
}

/// An application version: a snapshot of its modules' versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationTag {
    /// The application.
    pub application: String,
    /// The tag, e.g. `2.3.0`.
    pub tag: String,
    /// Module name to version number.
    pub modules: std::collections::BTreeMap<String, i64>,
    /// Release notes.
    pub notes: String,
    /// Who tagged it (name at the time).
    pub creator: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A deployment in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    /// Its id, increasing.
    pub id: i64,
    /// The environment.
    pub environment: String,
    /// The module.
    pub module: String,
    /// The version deployed.
    pub number: i64,
    /// The version it replaced.
    pub previous: Option<i64>,
    /// `deploy`, `stage` or `rollback`.
    pub kind: String,
    /// For staging: where from.
    pub source_env: Option<String>,
    /// Who.
    pub actor_id: String,
    /// Their name at the time.
    pub actor_name: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// What runs in an environment: a module's deployed version with what checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The environment.
    pub environment: String,
    /// The module.
    pub module: String,
    /// The version.
    pub number: i64,
    /// Its public surface, JSON.
    pub surface: String,
    /// What it uses of other modules, JSON.
    pub uses: String,
    /// The version's author.
    pub author_id: String,
}

/// The environment of deployment request `id`, inside the transaction.
async fn request_environment(tx: &mut Tx<'_>, id: i64) -> Result<Option<String>, Error> {
    tx.scalar_opt(
        "SELECT environment FROM deployment_requests WHERE id = $1",
        [id.into()],
    )
    .await
}

/// The name of the application `module` belongs to, inside the transaction (`None` for a
/// module not registered).
async fn application_of(tx: &mut Tx<'_>, module: &str) -> Result<Option<String>, Error> {
    tx.scalar_opt(
        "SELECT a.name FROM it_modules m JOIN authz_applications a ON a.num = m.app_num \
         WHERE m.name = $1",
        [module.into()],
    )
    .await
}

/// The acting user's id and name, as stored beside what they did.
pub(crate) fn actor(ctx: &AuditContext) -> (String, String) {
    (
        ctx.actor_id.map(|u| u.to_string()).unwrap_or_default(),
        ctx.actor_name.clone().unwrap_or_default(),
    )
}

const INFO_COLUMNS: &str =
    "m.name, v.number, v.digest, v.author_id, v.author_name, v.message, v.created_at";

fn info_row(row: &Row) -> Result<VersionInfo, Error> {
    Ok(VersionInfo {
        module: row.get("name")?,
        number: row.get("number")?,
        digest: row.get("digest")?,
        author_id: row.get("author_id")?,
        author_name: row.get("author_name")?,
        message: row.get("message")?,
        created_at: from_millis(row.get("created_at")?)?,
        deployed_in: Vec::new(),
    })
}

/// The number of the registered module `name`, inside a transaction or from the readers.
async fn module_num<'e>(ex: impl Into<Ex<'e>>, name: &str) -> Result<i64, Error> {
    let num: Option<i64> = query_scalar("SELECT num FROM it_modules WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await
        .map_err(db)?;
    num.ok_or(Error::NotFound { what: "module" })
}
