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

use rampart_core::{AuditContext, AuditEvent, Error, Outcome};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{db, from_millis, to_millis};
use crate::Store;

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

/// A bound value of a query assembled at run time.
enum Bind {
    Int(i64),
    Text(String),
}

/// The environment of deployment request `$id`, inside the transaction.
macro_rules! request_environment {
    ($tx:expr, $id:expr) => {{
        let env: Option<String> =
            sqlx::query_scalar("SELECT environment FROM deployment_requests WHERE id = $1")
                .bind($id)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db)?;
        env
    }};
}

/// The name of the application module `$module` belongs to, inside the transaction (`None`
/// for a module not registered).
macro_rules! application_of {
    ($tx:expr, $module:expr) => {{
        let name: Option<String> = sqlx::query_scalar(
            "SELECT a.name FROM it_modules m JOIN authz_applications a ON a.num = m.app_num \
             WHERE m.name = $1",
        )
        .bind($module)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(db)?;
        name
    }};
}

fn event(action: &'static str, target: String, details: serde_json::Value) -> AuditEvent {
    AuditEvent {
        action,
        target: Some(target),
        outcome: Outcome::Success,
        details: details.to_string(),
    }
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

fn info_row<R: sqlx::Row>(row: &R) -> Result<VersionInfo, Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(VersionInfo {
        module: col!(row, "name"),
        number: col!(row, "number"),
        digest: col!(row, "digest"),
        author_id: col!(row, "author_id"),
        author_name: col!(row, "author_name"),
        message: col!(row, "message"),
        created_at: from_millis(col!(row, "created_at"))?,
        deployed_in: Vec::new(),
    })
}

/// `(num)` of a registered module, inside a transaction or on a pool.
macro_rules! module_num {
    ($exec:expr, $name:expr) => {{
        let num: Option<i64> = sqlx::query_scalar("SELECT num FROM it_modules WHERE name = $1")
            .bind($name)
            .fetch_optional($exec)
            .await
            .map_err(db)?;
        num.ok_or(Error::NotFound { what: "module" })?
    }};
}

impl Store {
    /// Stores a version and its `module.publish` event in one transaction.
    pub async fn publish_version(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        v: NewVersion,
    ) -> Result<Published, Error> {
        let (author_id, author_name) = actor(ctx);
        let at = to_millis(now);
        let published = write_tx!(self, |tx| {
            let num = module_num!(&mut *tx, &v.module);
            let existing = sqlx::query(&format!(
                "SELECT {INFO_COLUMNS} FROM module_versions v JOIN it_modules m ON m.num = v.module_num \
                 WHERE v.module_num = $1 AND v.digest = $2"
            ))
            .bind(num)
            .bind(&v.digest)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(row) = existing {
                return Ok(Published::Unchanged(info_row(&row)?));
            }
            let latest: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(number), 0) FROM module_versions WHERE module_num = $1",
            )
            .bind(num)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(parent) = v.parent {
                if parent != latest {
                    return Err(Error::Conflict(format!(
                        "module `{}` is at version {latest}, not {parent}: someone published \
                         meanwhile; diff against version {latest} and publish again",
                        v.module
                    )));
                }
            }
            let number = latest + 1;
            sqlx::query(
                "INSERT INTO module_versions (module_num, number, digest, source, model, surface, uses, \
                 author_id, author_name, message, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(num)
            .bind(number)
            .bind(&v.digest)
            .bind(&v.source)
            .bind(&v.model)
            .bind(&v.surface)
            .bind(&v.uses)
            .bind(&author_id)
            .bind(&author_name)
            .bind(&v.message)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match db(e) {
                Error::Conflict(_) => Error::Conflict(format!(
                    "another version of `{}` was published at the same moment; fetch it and publish again",
                    v.module
                )),
                other => other,
            })?;
            let mut details = json!({
                "module": v.module,
                "application": application_of!(tx, &v.module),
                "version": number,
                "digest": v.digest,
            });
            if !v.forced.is_empty() {
                details["forced_breaking_changes"] = json!(v.forced);
            }
            append_event!(
                tx,
                ctx,
                &event("module.publish", format!("module:{}", v.module), details),
                now
            );
            Published::Created(VersionInfo {
                module: v.module.clone(),
                number,
                digest: v.digest.clone(),
                author_id,
                author_name,
                message: v.message.clone(),
                created_at: from_millis(at)?,
                deployed_in: Vec::new(),
            })
        });
        Ok(published)
    }

    /// The versions of `module`, newest first, with where each runs.
    pub async fn module_versions(&self, module: &str) -> Result<Vec<VersionInfo>, Error> {
        read!(self, |pool| {
            let num = module_num!(pool, module);
            let rows = sqlx::query(&format!(
                "SELECT {INFO_COLUMNS} FROM module_versions v JOIN it_modules m ON m.num = v.module_num \
                 WHERE v.module_num = $1 ORDER BY v.number DESC"
            ))
            .bind(num)
            .fetch_all(pool)
            .await
            .map_err(db)?;
            let running: Vec<(String, i64)> = sqlx::query_as(
                "SELECT environment, number FROM deployed WHERE module_num = $1 ORDER BY environment",
            )
            .bind(num)
            .fetch_all(pool)
            .await
            .map_err(db)?;
            rows.iter()
                .map(|r| {
                    let mut info = info_row(r)?;
                    info.deployed_in = running
                        .iter()
                        .filter(|(_, n)| *n == info.number)
                        .map(|(e, _)| e.clone())
                        .collect();
                    Ok(info)
                })
                .collect()
        })
    }

    /// Version `number` of `module` (the newest with `None`), with its contents.
    pub async fn module_version(
        &self,
        module: &str,
        number: Option<i64>,
    ) -> Result<Option<StoredVersion>, Error> {
        read!(self, |pool| {
            let num = module_num!(pool, module);
            let select = format!(
                "SELECT {INFO_COLUMNS}, v.source, v.model, v.surface, v.uses \
                 FROM module_versions v JOIN it_modules m ON m.num = v.module_num WHERE v.module_num = $1"
            );
            let row = match number {
                Some(n) => sqlx::query(&format!("{select} AND v.number = $2"))
                    .bind(num)
                    .bind(n)
                    .fetch_optional(pool)
                    .await
                    .map_err(db)?,
                None => sqlx::query(&format!("{select} ORDER BY v.number DESC LIMIT 1"))
                    .bind(num)
                    .fetch_optional(pool)
                    .await
                    .map_err(db)?,
            };
            let Some(row) = row else {
                return Ok(None);
            };
            let mut info = info_row(&row)?;
            info.deployed_in = sqlx::query_scalar(
                "SELECT environment FROM deployed WHERE module_num = $1 AND number = $2 ORDER BY environment",
            )
            .bind(num)
            .bind(info.number)
            .fetch_all(pool)
            .await
            .map_err(db)?;
            Ok(Some(StoredVersion {
                info,
                source: col!(&row, "source"),
                model: col!(&row, "model"),
                surface: col!(&row, "surface"),
                uses: col!(&row, "uses"),
            }))
        })
    }

    /// Deletes a version that runs nowhere, with its `module.version.delete` event.
    pub async fn delete_version(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        module: &str,
        number: i64,
    ) -> Result<(), Error> {
        write_tx!(self, |tx| {
            let num = module_num!(&mut *tx, module);
            let running: Vec<String> = sqlx::query_scalar(
                "SELECT environment FROM deployed WHERE module_num = $1 AND number = $2 ORDER BY environment",
            )
            .bind(num)
            .bind(number)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            if !running.is_empty() {
                return Err(Error::Conflict(format!(
                    "version {number} of `{module}` is deployed in {}; deploy another version there first",
                    running.join(", ")
                )));
            }
            let tags: Vec<String> = sqlx::query_scalar(
                "SELECT tag FROM application_tag_versions WHERE module_num = $1 AND number = $2 ORDER BY tag",
            )
            .bind(num)
            .bind(number)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            if !tags.is_empty() {
                return Err(Error::Conflict(format!(
                    "version {number} of `{module}` belongs to application tag(s) {}; tags are immutable",
                    tags.join(", ")
                )));
            }
            let gone =
                sqlx::query("DELETE FROM module_versions WHERE module_num = $1 AND number = $2")
                    .bind(num)
                    .bind(number)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
            if gone == 0 {
                return Err(Error::NotFound {
                    what: "module version",
                });
            }
            append_event!(
                tx,
                ctx,
                &event(
                    "module.version.delete",
                    format!("module:{module}"),
                    json!({ "module": module, "application": application_of!(tx, module), "version": number })
                ),
                now
            );
        });
        Ok(())
    }

    /// The application the module name `name` is reserved for, if it is reserved.
    pub async fn module_name_reservation(&self, name: &str) -> Result<Option<String>, Error> {
        read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT a.name FROM module_names r \
                 JOIN authz_applications a ON a.num = r.app_num WHERE r.name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(db)
        })
    }

    /// Every module name taken: reserved ones and registered modules, by name.
    pub async fn module_names(&self) -> Result<Vec<ModuleName>, Error> {
        read!(self, |pool| {
            let rows: Vec<(String, String, bool, i64)> = sqlx::query_as(
                "SELECT r.name, a.name, FALSE, r.reserved_at FROM module_names r \
                 JOIN authz_applications a ON a.num = r.app_num \
                 UNION ALL \
                 SELECT m.name, a.name, TRUE, m.created_at FROM it_modules m \
                 JOIN authz_applications a ON a.num = m.app_num \
                 ORDER BY 1",
            )
            .fetch_all(pool)
            .await
            .map_err(db)?;
            rows.into_iter()
                .map(|(name, application, registered, since)| {
                    Ok(ModuleName {
                        name,
                        application,
                        registered,
                        since: from_millis(since)?,
                    })
                })
                .collect()
        })
    }

    /// Everything deployed, in every environment, with what the checks need.
    pub async fn running(&self) -> Result<Vec<Running>, Error> {
        read!(self, |pool| {
            let rows = sqlx::query(
                "SELECT d.environment, m.name, d.number, v.surface, v.uses, v.author_id \
                 FROM deployed d JOIN it_modules m ON m.num = d.module_num \
                 JOIN module_versions v ON v.module_num = d.module_num AND v.number = d.number \
                 ORDER BY d.environment, m.name",
            )
            .fetch_all(pool)
            .await
            .map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(Running {
                        environment: col!(r, "environment"),
                        module: col!(r, "name"),
                        number: col!(r, "number"),
                        surface: col!(r, "surface"),
                        uses: col!(r, "uses"),
                        author_id: col!(r, "author_id"),
                    })
                })
                .collect()
        })
    }

    /// Applies deployments all together or not at all, each with its `module.deploy`
    /// (`module.stage`, `module.rollback`) event; a module whose running version is no
    /// longer what the caller expected is a conflict and nothing is applied.
    ///
    /// With `approving`, the pending request of that id is marked approved by the actor in
    /// the same transaction (a request already decided is a conflict).
    pub async fn deploy(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        items: &[NewDeployment],
        approving: Option<i64>,
        plan: Option<i64>,
    ) -> Result<Vec<DeploymentInfo>, Error> {
        let (actor_id, actor_name) = actor(ctx);
        let at = to_millis(now);
        let done = write_tx!(self, |tx| {
            let mut plan = plan;
            if let Some(id) = approving {
                let requested_by: Option<i64> =
                    sqlx::query_scalar("SELECT plan_id FROM deployment_requests WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?
                        .flatten();
                plan = plan.or(requested_by);
                let decided = sqlx::query(
                    "UPDATE deployment_requests SET status = 'approved', decided_by = $1, decider = $2, decided_at = $3 \
                     WHERE id = $4 AND status = 'pending'",
                )
                .bind(&actor_id)
                .bind(&actor_name)
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
                if decided != 1 {
                    return Err(Error::Conflict(format!(
                        "deployment request {id} is no longer pending"
                    )));
                }
                append_event!(
                    tx,
                    ctx,
                    &event(
                        "module.deploy.approve",
                        format!("deployment-request:{id}"),
                        json!({ "request": id, "environment": request_environment!(tx, id) })
                    ),
                    now
                );
            }
            let mut done = Vec::with_capacity(items.len());
            for d in items {
                let num = module_num!(&mut *tx, &d.module);
                let exists: Option<i64> = sqlx::query_scalar(
                    "SELECT number FROM module_versions WHERE module_num = $1 AND number = $2",
                )
                .bind(num)
                .bind(d.number)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                if exists.is_none() {
                    return Err(Error::invalid(
                        "version",
                        format!("module `{}` has no version {}", d.module, d.number),
                    ));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO deployments (environment, module_num, number, previous, kind, source_env, \
                     actor_id, actor_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(&d.environment)
                .bind(num)
                .bind(d.number)
                .bind(d.expected)
                .bind(d.kind.as_str())
                .bind(&d.source_env)
                .bind(&actor_id)
                .bind(&actor_name)
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                let conflict = |what: String| {
                    Error::Conflict(format!(
                        "`{}` in {} changed meanwhile ({what}); review what runs there and try again",
                        d.module, d.environment
                    ))
                };
                match d.expected {
                    Some(expected) => {
                        let changed = sqlx::query(
                            "UPDATE deployed SET number = $1, deployment = $2 \
                             WHERE environment = $3 AND module_num = $4 AND number = $5",
                        )
                        .bind(d.number)
                        .bind(id)
                        .bind(&d.environment)
                        .bind(num)
                        .bind(expected)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?
                        .rows_affected();
                        if changed != 1 {
                            return Err(conflict(format!(
                                "version {expected} no longer runs there"
                            )));
                        }
                    }
                    None => {
                        sqlx::query(
                            "INSERT INTO deployed (environment, module_num, number, deployment) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&d.environment)
                        .bind(num)
                        .bind(d.number)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match db(e) {
                            Error::Conflict(_) => conflict("it was deployed there by someone else".into()),
                            other => other,
                        })?;
                    }
                }
                let action = match d.kind {
                    DeployKind::Deploy => "module.deploy",
                    DeployKind::Stage => "module.stage",
                    DeployKind::Rollback => "module.rollback",
                };
                let mut details = json!({
                    "module": d.module,
                    "application": application_of!(tx, &d.module),
                    "environment": d.environment,
                    "version": d.number,
                    "previous": d.expected,
                    "deployment": id,
                });
                if let Some(from) = &d.source_env {
                    details["from"] = json!(from);
                }
                let e = event(action, format!("module:{}", d.module), details);
                append_event!(tx, ctx, &e, now);
                done.push(DeploymentInfo {
                    id,
                    environment: d.environment.clone(),
                    module: d.module.clone(),
                    number: d.number,
                    previous: d.expected,
                    kind: d.kind.as_str().to_owned(),
                    source_env: d.source_env.clone(),
                    actor_id: actor_id.clone(),
                    actor_name: actor_name.clone(),
                    created_at: from_millis(at)?,
                });
            }
            if let Some(p) = plan {
                finish_plan!(tx, ctx, now, p);
            }
            done
        });
        Ok(done)
    }

    /// The deployment history of `environment` (of one module with `module`), newest first.
    pub async fn deployments(
        &self,
        environment: &str,
        module: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeploymentInfo>, Error> {
        read!(self, |pool| {
            let base = "SELECT d.id, d.environment, m.name, d.number, d.previous, d.kind, d.source_env, \
                        d.actor_id, d.actor_name, d.created_at \
                        FROM deployments d JOIN it_modules m ON m.num = d.module_num WHERE d.environment = $1";
            let rows = match module {
                Some(name) => {
                    let num = module_num!(pool, name);
                    sqlx::query(&format!(
                        "{base} AND d.module_num = $2 ORDER BY d.id DESC LIMIT $3"
                    ))
                    .bind(environment)
                    .bind(num)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(db)?
                }
                None => sqlx::query(&format!("{base} ORDER BY d.id DESC LIMIT $2"))
                    .bind(environment)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(db)?,
            };
            rows.iter()
                .map(|r| {
                    Ok(DeploymentInfo {
                        id: col!(r, "id"),
                        environment: col!(r, "environment"),
                        module: col!(r, "name"),
                        number: col!(r, "number"),
                        previous: col!(r, "previous"),
                        kind: col!(r, "kind"),
                        source_env: col!(r, "source_env"),
                        actor_id: col!(r, "actor_id"),
                        actor_name: col!(r, "actor_name"),
                        created_at: from_millis(col!(r, "created_at"))?,
                    })
                })
                .collect()
        })
    }

    /// Records a checked plan that waits for a second approver, with its
    /// `module.deploy.request` event; returns the request's id.
    pub async fn request_deployment(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        environment: &str,
        items: &[NewDeployment],
        plan: Option<i64>,
    ) -> Result<i64, Error> {
        if items.is_empty() && plan.is_none() {
            return Err(Error::invalid("modules", "nothing to deploy"));
        }
        let kind = items.first().map_or(DeployKind::Deploy, |d| d.kind);
        let source_env = items.first().and_then(|d| d.source_env.clone());
        let (actor_id, actor_name) = actor(ctx);
        let items_json: Vec<serde_json::Value> = items
            .iter()
            .map(|d| json!({ "module": d.module, "number": d.number, "expected": d.expected }))
            .collect();
        let items_json = serde_json::Value::Array(items_json);
        let id = write_tx!(self, |tx| {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO deployment_requests (environment, kind, source_env, items, requested_by, requester, \
                 requested_at, status, plan_id) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) RETURNING id",
            )
            .bind(environment)
            .bind(kind.as_str())
            .bind(&source_env)
            .bind(items_json.to_string())
            .bind(&actor_id)
            .bind(&actor_name)
            .bind(to_millis(now))
            .bind(plan)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(p) = plan {
                let waiting = sqlx::query(
                    "UPDATE deployment_plans SET status = 'waiting', runs = runs + 1, request_id = $1, updated_at = $2 \
                     WHERE id = $3 AND status IN ('draft', 'aborted')",
                )
                .bind(id)
                .bind(to_millis(now))
                .bind(p)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
                if waiting != 1 {
                    return Err(Error::Conflict(format!(
                        "deployment plan {p} is no longer a draft"
                    )));
                }
            }
            append_event!(
                tx,
                ctx,
                &event(
                    "module.deploy.request",
                    format!("deployment-request:{id}"),
                    json!({ "request": id, "environment": environment, "kind": kind.as_str(), "items": items_json, "plan": plan })
                ),
                now
            );
            id
        });
        Ok(id)
    }

    /// Deployment request `id`.
    pub async fn deployment_request(&self, id: i64) -> Result<Option<DeploymentRequest>, Error> {
        let rows = self
            .deployment_requests_where("id = $1", &[Bind::Int(id)])
            .await?;
        Ok(rows.into_iter().next())
    }

    /// The requests of `environment` (only `status` ones when given), newest first.
    pub async fn deployment_requests(
        &self,
        environment: &str,
        status: Option<&str>,
    ) -> Result<Vec<DeploymentRequest>, Error> {
        let env = Bind::Text(environment.to_owned());
        match status {
            Some(s) => {
                self.deployment_requests_where(
                    "environment = $1 AND status = $2",
                    &[env, Bind::Text(s.to_owned())],
                )
                .await
            }
            None => {
                self.deployment_requests_where("environment = $1", &[env])
                    .await
            }
        }
    }

    async fn deployment_requests_where(
        &self,
        filter: &str,
        binds: &[Bind],
    ) -> Result<Vec<DeploymentRequest>, Error> {
        let sql = format!(
            "SELECT id, environment, kind, source_env, items, requested_by, requester, requested_at, status, \
             decider, reason, plan_id FROM deployment_requests WHERE {filter} ORDER BY id DESC LIMIT 200"
        );
        read!(self, |pool| {
            let mut q = sqlx::query(&sql);
            for b in binds {
                q = match b {
                    Bind::Int(i) => q.bind(*i),
                    Bind::Text(t) => q.bind(t.clone()),
                };
            }
            let rows = q.fetch_all(pool).await.map_err(db)?;
            rows.iter()
                .map(|r| {
                    let kind: String = col!(r, "kind");
                    let items: String = col!(r, "items");
                    let items: Vec<serde_json::Value> = serde_json::from_str(&items)
                        .map_err(|e| Error::Internal(format!("stored deployment request: {e}")))?;
                    Ok(DeploymentRequest {
                        id: col!(r, "id"),
                        environment: col!(r, "environment"),
                        kind: DeployKind::parse(&kind)
                            .ok_or_else(|| Error::Internal(format!("stored kind {kind}")))?,
                        source_env: col!(r, "source_env"),
                        items: items
                            .iter()
                            .map(|i| {
                                (
                                    i["module"].as_str().unwrap_or_default().to_owned(),
                                    i["number"].as_i64().unwrap_or_default(),
                                    i["expected"].as_i64(),
                                )
                            })
                            .collect(),
                        requested_by: col!(r, "requested_by"),
                        requester: col!(r, "requester"),
                        requested_at: from_millis(col!(r, "requested_at"))?,
                        status: col!(r, "status"),
                        decider: col!(r, "decider"),
                        reason: col!(r, "reason"),
                        plan: col!(r, "plan_id"),
                    })
                })
                .collect()
        })
    }

    /// Rejects (or, by its requester, withdraws) pending request `id`, with its
    /// `module.deploy.reject` event.
    pub async fn reject_deployment(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        id: i64,
        reason: &str,
    ) -> Result<(), Error> {
        let (actor_id, actor_name) = actor(ctx);
        write_tx!(self, |tx| {
            let decided = sqlx::query(
                "UPDATE deployment_requests SET status = 'rejected', decided_by = $1, decider = $2, decided_at = $3, \
                 reason = $4 WHERE id = $5 AND status = 'pending'",
            )
            .bind(&actor_id)
            .bind(&actor_name)
            .bind(to_millis(now))
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
            if decided != 1 {
                return Err(Error::Conflict(format!(
                    "deployment request {id} is no longer pending"
                )));
            }
            // A plan waiting for this request is aborted: it may be changed and run again.
            sqlx::query(
                "UPDATE deployment_plans SET status = 'aborted', updated_at = $1, \
                 error = $2 WHERE request_id = $3 AND status = 'waiting'",
            )
            .bind(to_millis(now))
            .bind(format!(
                "deployment request {id} was rejected by {actor_name}: {reason}"
            ))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            append_event!(
                tx,
                ctx,
                &event(
                    "module.deploy.reject",
                    format!("deployment-request:{id}"),
                    json!({ "request": id, "environment": request_environment!(tx, id), "reason": reason })
                ),
                now
            );
        });
        Ok(())
    }

    /// Tags `modules` (module name to version) of `application` as `tag`, with its
    /// `application.tag` event. Every module must belong to the application and the version
    /// exist; a tag that exists is a conflict.
    pub async fn tag_application(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        application: &str,
        tag: &str,
        modules: &std::collections::BTreeMap<String, i64>,
        notes: &str,
    ) -> Result<ApplicationTag, Error> {
        let (actor_id, actor_name) = actor(ctx);
        let at = to_millis(now);
        write_tx!(self, |tx| {
            let app: Option<i64> =
                sqlx::query_scalar("SELECT num FROM authz_applications WHERE name = $1")
                    .bind(application)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            let app = app.ok_or(Error::NotFound {
                what: "application",
            })?;
            sqlx::query(
                "INSERT INTO application_tags (app_num, tag, modules, notes, created_by, creator, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(app)
            .bind(tag)
            .bind(json!(modules).to_string())
            .bind(notes)
            .bind(&actor_id)
            .bind(&actor_name)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match db(e) {
                Error::Conflict(_) => Error::Conflict(format!(
                    "application `{application}` already has a tag `{tag}`; tags are immutable"
                )),
                other => other,
            })?;
            for (module, number) in modules {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT m.num, m.app_num FROM it_modules m JOIN module_versions v ON v.module_num = m.num \
                     WHERE m.name = $1 AND v.number = $2",
                )
                .bind(module)
                .bind(number)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                let Some((module_num, module_app)) = row else {
                    return Err(Error::invalid(
                        "modules",
                        format!("module `{module}` has no version {number}"),
                    ));
                };
                if module_app != app {
                    return Err(Error::invalid(
                        "modules",
                        format!("module `{module}` belongs to another application"),
                    ));
                }
                sqlx::query(
                    "INSERT INTO application_tag_versions (app_num, tag, module_num, number) VALUES ($1, $2, $3, $4)",
                )
                .bind(app)
                .bind(tag)
                .bind(module_num)
                .bind(number)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            append_event!(
                tx,
                ctx,
                &event(
                    "application.tag",
                    format!("application:{application}"),
                    json!({ "application": application, "tag": tag, "modules": modules })
                ),
                now
            );
        });
        Ok(ApplicationTag {
            application: application.to_owned(),
            tag: tag.to_owned(),
            modules: modules.clone(),
            notes: notes.to_owned(),
            creator: actor_name,
            created_at: from_millis(at)?,
        })
    }

    /// The tags of `application` (only `tag` when given), newest first.
    pub async fn application_tags(
        &self,
        application: &str,
        tag: Option<&str>,
    ) -> Result<Vec<ApplicationTag>, Error> {
        read!(self, |pool| {
            let rows = sqlx::query(
                "SELECT t.tag, t.modules, t.notes, t.creator, t.created_at FROM application_tags t \
                 JOIN authz_applications a ON a.num = t.app_num \
                 WHERE a.name = $1 AND ($2 = '' OR t.tag = $2) ORDER BY t.created_at DESC, t.tag DESC",
            )
            .bind(application)
            .bind(tag.unwrap_or(""))
            .fetch_all(pool)
            .await
            .map_err(db)?;
            rows.iter()
                .map(|r| {
                    let modules: String = col!(r, "modules");
                    Ok(ApplicationTag {
                        application: application.to_owned(),
                        tag: col!(r, "tag"),
                        modules: serde_json::from_str(&modules)
                            .map_err(|e| Error::Internal(format!("stored tag: {e}")))?,
                        notes: col!(r, "notes"),
                        creator: col!(r, "creator"),
                        created_at: from_millis(col!(r, "created_at"))?,
                    })
                })
                .collect()
        })
    }
}
