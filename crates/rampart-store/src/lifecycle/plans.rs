//! Deployment plans and the settings in force in each environment (migration 0011).
//!
//! A plan names applications at tagged versions and the settings one environment needs:
//! site properties, integration endpoints and secret references (a reference names where
//! the platform finds a secret, never the secret). Its life: `draft` → `finished` when a run
//! applies it, `waiting` while a run waits for a second approver, `aborted` when a run is
//! refused or its request rejected (an aborted plan may run again). The settings a plan
//! gives are written to `environment_settings` in the transaction that applies its
//! deployments ([`Store::deploy`] with the plan's id), so what runs and how it is configured
//! never disagree. Who may do what is decided by the server.

use std::collections::BTreeMap;

use rampart_core::{AuditContext, Error};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::module_num;
use crate::backend::{from_millis, to_millis};
use crate::db::{Arg, Row, Tx};
use crate::Store;

/// An application at a tagged version, in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanApplication {
    /// The application.
    pub application: String,
    /// Its tag.
    pub tag: String,
}

/// What a plan sets in its environment, each keyed `module.Element`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanSettings {
    /// Site property values.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Integration base URLs replacing the module's.
    pub endpoints: BTreeMap<String, String>,
    /// Integration secret references (`env:NAME`, `file:/path`, `vault:path`).
    pub secrets: BTreeMap<String, String>,
}

impl PlanSettings {
    /// Every setting as (kind, `module.Element`, value as JSON).
    pub fn entries(&self) -> impl Iterator<Item = (SettingKind, &str, serde_json::Value)> {
        let props = self
            .properties
            .iter()
            .map(|(k, v)| (SettingKind::Property, k.as_str(), v.clone()));
        let ends = self
            .endpoints
            .iter()
            .map(|(k, v)| (SettingKind::Endpoint, k.as_str(), json!(v)));
        let secrets = self
            .secrets
            .iter()
            .map(|(k, v)| (SettingKind::Secret, k.as_str(), json!(v)));
        props.chain(ends).chain(secrets)
    }

    /// Every setting as `kind:module.Element`, without its value: what audit events name.
    pub fn keys(&self) -> Vec<String> {
        self.entries()
            .map(|(kind, key, _)| format!("{}:{key}", kind.as_str()))
            .collect()
    }
}

/// What a setting sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SettingKind {
    /// A site property's value.
    Property,
    /// An integration's base URL.
    Endpoint,
    /// An integration's secret reference.
    Secret,
}

impl SettingKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKind::Property => "property",
            SettingKind::Endpoint => "endpoint",
            SettingKind::Secret => "secret",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            SettingKind::Property,
            SettingKind::Endpoint,
            SettingKind::Secret,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A setting in force in an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The module.
    pub module: String,
    /// What it sets.
    pub kind: SettingKind,
    /// The property's or integration's name.
    pub name: String,
    /// The value (JSON).
    pub value: serde_json::Value,
    /// The plan that set it.
    pub plan: i64,
}

/// A plan to store.
#[derive(Debug, Clone)]
pub struct NewPlan {
    /// The target environment.
    pub environment: String,
    /// Applications at tags.
    pub applications: Vec<PlanApplication>,
    /// Settings for the environment.
    pub settings: PlanSettings,
    /// Free text.
    pub notes: String,
    /// The plan it was copied from.
    pub based_on: Option<i64>,
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPlan {
    /// Its id.
    pub id: i64,
    /// The target environment.
    pub environment: String,
    /// `draft`, `waiting`, `finished` or `aborted`.
    pub status: String,
    /// Applications at tags.
    pub applications: Vec<PlanApplication>,
    /// Settings for the environment.
    pub settings: PlanSettings,
    /// Free text.
    pub notes: String,
    /// The plan it was copied from.
    pub based_on: Option<i64>,
    /// Who made it (name at the time).
    pub creator: String,
    /// Their user id.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// Last change of status.
    pub updated_at: OffsetDateTime,
    /// How many times it ran (a run that waits for approval counts once).
    pub runs: i64,
    /// The deployment request while it waits (or last waited).
    pub request: Option<i64>,
    /// Why the last run was aborted.
    pub error: Option<String>,
}

/// The audit target that names plan `id`.
pub(crate) fn plan_target(id: i64) -> String {
    format!("deployment-plan:{id}")
}

const PLAN_COLUMNS: &str = "id, environment, status, applications, settings, notes, based_on, \
     created_by, creator, created_at, updated_at, runs, request_id, error";

fn plan_row(r: &Row) -> Result<StoredPlan, Error> {
    let apps: String = r.get("applications")?;
    let settings: String = r.get("settings")?;
    let stored = |e: serde_json::Error| Error::Internal(format!("stored deployment plan: {e}"));
    Ok(StoredPlan {
        id: r.get("id")?,
        environment: r.get("environment")?,
        status: r.get("status")?,
        applications: serde_json::from_str(&apps).map_err(stored)?,
        settings: serde_json::from_str(&settings).map_err(stored)?,
        notes: r.get("notes")?,
        based_on: r.get("based_on")?,
        created_by: r.get("created_by")?,
        creator: r.get("creator")?,
        created_at: from_millis(r.get("created_at")?)?,
        updated_at: from_millis(r.get("updated_at")?)?,
        runs: r.get("runs")?,
        request: r.get("request_id")?,
        error: r.get("error")?,
    })
}

/// Writes the settings of plan `plan` into `environment_settings` and marks it finished
/// (refused unless it was a draft, aborted or waiting): part of [`Store::deploy`]'s
/// transaction.
pub(crate) async fn finish_plan(
    tx: &mut Tx<'_>,
    ctx: &AuditContext,
    now: OffsetDateTime,
    plan: i64,
) -> Result<(), Error> {
    let at = to_millis(now);
    let row: Option<(String, String)> = tx
        .opt(
            "SELECT environment, settings FROM deployment_plans WHERE id = $1",
            [plan.into()],
        )
        .await?;
    let (environment, settings) = row.ok_or(Error::NotFound {
        what: "deployment plan",
    })?;
    let settings: crate::lifecycle::plans::PlanSettings = serde_json::from_str(&settings)
        .map_err(|e| Error::Internal(format!("stored deployment plan: {e}")))?;
    let finished = tx
        .exec(
            "UPDATE deployment_plans SET status = 'finished', runs = runs + CASE WHEN \
             status = 'waiting' THEN 0 ELSE 1 END, error = NULL, updated_at = $1 WHERE id = \
             $2 AND status IN ('draft', 'aborted', 'waiting')",
            [at.into(), plan.into()],
        )
        .await?;
    if finished != 1 {
        return Err(Error::Conflict(format!(
            "deployment plan {plan} has already finished; copy it to deploy it again"
        )));
    }
    // Settings name few modules each: look each one's number up once.
    let mut nums: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for (kind, key, value) in settings.entries() {
        let (module, name) = key
            .split_once('.')
            .ok_or_else(|| Error::Internal(format!("stored setting `{key}` names no module")))?;
        let num = match nums.get(module) {
            Some(n) => *n,
            None => {
                let n = module_num(&mut *tx, module).await?;
                nums.insert(module, n);
                n
            }
        };
        tx.exec(
            "INSERT INTO environment_settings (environment, module_num, kind, name, value, \
                 plan_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (environment, module_num, \
                 kind, name) DO UPDATE SET value = excluded.value, plan_id = excluded.plan_id",
            [
                Arg::from(&environment),
                num.into(),
                kind.as_str().into(),
                name.into(),
                value.to_string().into(),
                plan.into(),
            ],
        )
        .await?;
    }
    let details = json!({
        "plan": plan,
        "environment": environment,
        "settings": settings.keys(),
    });
    crate::audit::record(
        tx,
        ctx,
        now,
        "deployment.plan.finish",
        plan_target(plan),
        details,
    )
    .await?;
    Ok(())
}

impl Store {
    /// Stores a draft plan with its `deployment.plan.create` event; returns its id.
    pub async fn create_plan(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        plan: &NewPlan,
    ) -> Result<i64, Error> {
        let at = to_millis(now);
        let apps = serde_json::to_string(&plan.applications)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let settings =
            serde_json::to_string(&plan.settings).map_err(|e| Error::Internal(e.to_string()))?;
        let (actor_id, actor_name) = crate::lifecycle::actor(ctx);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let id: i64 = tx
            .scalar(
                "INSERT INTO deployment_plans (environment, status, applications, settings, \
                     notes, based_on, created_by, creator, created_at, updated_at) VALUES ($1, \
                     'draft', $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                [
                    Arg::from(&plan.environment),
                    Arg::from(&apps),
                    Arg::from(&settings),
                    Arg::from(&plan.notes),
                    plan.based_on.into(),
                    Arg::from(&actor_id),
                    Arg::from(&actor_name),
                    at.into(),
                ],
            )
            .await?;
        let details = json!({
            "plan": id,
            "environment": plan.environment,
            "applications": plan.applications,
            "based_on": plan.based_on,
            "settings": plan.settings.keys(),
        });
        let target = plan_target(id);
        crate::audit::record(tx, ctx, now, "deployment.plan.create", target, details).await?;
        owned.commit().await?;
        Ok(id)
    }

    /// Plan `id`.
    pub async fn plan(&self, id: i64) -> Result<Option<StoredPlan>, Error> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM deployment_plans WHERE id = $1");
        let pool = self.reader();
        let row = pool.row_opt(&sql, [id.into()]).await?;
        row.as_ref().map(plan_row).transpose()
    }

    /// Plans, newest first, at most `limit`: of one environment and in one status when
    /// given, older than plan `before` when given (ids only grow, so pages never repeat or
    /// skip).
    pub async fn plans(
        &self,
        environment: Option<&str>,
        status: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredPlan>, Error> {
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM deployment_plans WHERE ($1 = '' OR environment = $1) \
             AND ($2 = '' OR status = $2) AND id < $3 ORDER BY id DESC LIMIT $4"
        );
        let pool = self.reader();
        let rows = pool
            .rows(
                &sql,
                [
                    Arg::from(environment.unwrap_or("")),
                    Arg::from(status.unwrap_or("")),
                    Arg::from(before.unwrap_or(i64::MAX)),
                    limit.into(),
                ],
            )
            .await?;
        rows.iter().map(plan_row).collect()
    }

    /// Marks a run of plan `id` aborted with `error` (what refused it) and its
    /// `deployment.plan.abort` event; the plan may run again.
    pub async fn abort_plan(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        id: i64,
        error: &str,
    ) -> Result<(), Error> {
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let changed = tx
            .exec(
                "UPDATE deployment_plans SET status = 'aborted', runs = runs + 1, error = $1, \
                     updated_at = $2 WHERE id = $3 AND status IN ('draft', 'aborted')",
                [error.into(), at.into(), id.into()],
            )
            .await?;
        if changed != 1 {
            return Err(Error::Conflict(format!(
                "deployment plan {id} is no longer a draft"
            )));
        }
        let details = json!({ "plan": id, "error": error });
        let target = plan_target(id);
        crate::audit::record(tx, ctx, now, "deployment.plan.abort", target, details).await?;
        owned.commit().await?;
        Ok(())
    }

    /// The settings in force in `environment`.
    pub async fn environment_settings(&self, environment: &str) -> Result<Vec<Setting>, Error> {
        let pool = self.reader();
        let rows = pool
            .rows(
                "SELECT m.name AS module, s.kind, s.name, s.value, s.plan_id FROM \
                         environment_settings s JOIN it_modules m ON m.num = s.module_num WHERE \
                         s.environment = $1 ORDER BY m.name, s.kind, s.name",
                [environment.into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get("kind")?;
                let value: String = r.get("value")?;
                Ok(Setting {
                    module: r.get("module")?,
                    kind: SettingKind::parse(&kind)
                        .ok_or_else(|| Error::Internal(format!("stored setting kind {kind}")))?,
                    name: r.get("name")?,
                    value: serde_json::from_str(&value)
                        .map_err(|e| Error::Internal(format!("stored setting: {e}")))?,
                    plan: r.get("plan_id")?,
                })
            })
            .collect()
    }
}
