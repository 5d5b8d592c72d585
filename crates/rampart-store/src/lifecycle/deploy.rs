//! Deployments: what runs where, applying deployments, and deployment requests.

use crate::db::{Arg, IntoArg as _};

use super::plans::finish_plan;
use super::*;

impl Store {
    /// Everything deployed, in every environment, with what the checks need.
    pub async fn running(&self) -> Result<Vec<Running>, Error> {
        let rows: Vec<(String, String, i64, String, String, String)> = self
            .reader()
            .all(
                "SELECT d.environment, m.name, d.number, v.surface, v.uses, v.author_id \
                 FROM deployed d JOIN it_modules m ON m.num = d.module_num \
                 JOIN module_versions v ON v.module_num = d.module_num AND v.number = d.number \
                 ORDER BY d.environment, m.name",
                [],
            )
            .await?;
        let running = |(environment, module, number, surface, uses, author_id)| Running {
            environment,
            module,
            number,
            surface,
            uses,
            author_id,
        };
        Ok(rows.into_iter().map(running).collect())
    }

    /// What runs in environment `env`: each module's name, version and parsed model (JSON),
    /// by name, with the environment's deployment revision (see
    /// [`Store::deployment_revision`]) read in the same statement's snapshot.
    pub async fn running_models(
        &self,
        env: &str,
    ) -> Result<(i64, Vec<(String, i64, String)>), Error> {
        let mut tx = self.snapshot().await?;
        let revision = deployment_revision(&mut tx, env).await?;
        let rows: Vec<(String, i64, String)> = tx
            .all(
                "SELECT m.name, d.number, v.model \
                 FROM deployed d JOIN it_modules m ON m.num = d.module_num \
                 JOIN module_versions v ON v.module_num = d.module_num AND v.number = d.number \
                 WHERE d.environment = $1 ORDER BY m.name",
                [env.into()],
            )
            .await?;
        Ok((revision, rows))
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
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let mut plan = plan;
        if let Some(id) = approving {
            let requested_by: Option<i64> = tx
                .scalar_opt(
                    "SELECT plan_id FROM deployment_requests WHERE id = $1",
                    [id.into()],
                )
                .await?
                .flatten();
            plan = plan.or(requested_by);
            decide_request(
                tx,
                id,
                "UPDATE deployment_requests SET status = 'approved', decided_by = $1, \
                 decider = $2, decided_at = $3 WHERE id = $4 AND status = 'pending'",
                [
                    Arg::from(&actor_id),
                    Arg::from(&actor_name),
                    at.into(),
                    id.into(),
                ],
            )
            .await?;
            let environment_of_request = request_environment(tx, id).await?;
            let details = json!({ "request": id, "environment": environment_of_request });
            let target = format!("deployment-request:{id}");
            crate::audit::record(tx, ctx, now, "module.deploy.approve", target, details).await?;
        }
        let mut done = Vec::with_capacity(items.len());
        for d in items {
            let num = module_num(&mut *tx, &d.module).await?;
            let exists: Option<i64> = tx
                .scalar_opt(
                    "SELECT number FROM module_versions WHERE module_num = $1 AND number = $2",
                    [num.into(), d.number.into()],
                )
                .await?;
            if exists.is_none() {
                return Err(Error::invalid(
                    "version",
                    format!("module `{}` has no version {}", d.module, d.number),
                ));
            }
            let id: i64 = tx
                .scalar(
                    "INSERT INTO deployments (environment, module_num, number, previous, \
                         kind, source_env, actor_id, actor_name, created_at) VALUES ($1, $2, \
                         $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    [
                        Arg::from(&d.environment),
                        num.into(),
                        d.number.into(),
                        d.expected.into(),
                        d.kind.as_str().into(),
                        Arg::from(&d.source_env),
                        Arg::from(&actor_id),
                        Arg::from(&actor_name),
                        at.into(),
                    ],
                )
                .await?;
            let conflict = |what: String| {
                Error::Conflict(format!(
                    "`{}` in {} changed meanwhile ({what}); review what runs there and try again",
                    d.module, d.environment
                ))
            };
            match d.expected {
                Some(expected) => {
                    let changed = tx
                        .exec(
                            "UPDATE deployed SET number = $1, deployment = $2 \
                             WHERE environment = $3 AND module_num = $4 AND number = $5",
                            [
                                d.number.into(),
                                id.into(),
                                Arg::from(&d.environment),
                                num.into(),
                                expected.into(),
                            ],
                        )
                        .await?;
                    if changed != 1 {
                        return Err(conflict(format!("version {expected} no longer runs there")));
                    }
                }
                None => {
                    tx.exec(
                        "INSERT INTO deployed (environment, module_num, number, \
                                 deployment) VALUES ($1, $2, $3, $4)",
                        [
                            Arg::from(&d.environment),
                            num.into(),
                            d.number.into(),
                            id.into(),
                        ],
                    )
                    .await
                    .map_err(|e| match e {
                        Error::Conflict(_) => {
                            conflict("it was deployed there by someone else".into())
                        }
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
                "application": application_of(tx, &d.module).await?,
                "environment": d.environment,
                "version": d.number,
                "previous": d.expected,
                "deployment": id,
            });
            if let Some(from) = &d.source_env {
                details["from"] = json!(from);
            }
            let e = crate::audit::success(action, format!("module:{}", d.module), details);
            crate::audit::append_event(tx, ctx, &e, now, None).await?;
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
            finish_plan(tx, ctx, now, p).await?;
        }
        owned.commit().await?;
        self.marks_committed();
        Ok(done)
    }

    /// The deployment history of `environment` (of one module with `module`), newest first:
    /// at most `limit` deployments, only those older than deployment `before` when given (a
    /// page after the one that ended with it). Ids only grow, so a page's last id is a stable
    /// cursor; the `(environment, id)` and `(module_num, environment, id)` indexes serve
    /// both forms.
    pub async fn deployments(
        &self,
        environment: &str,
        module: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeploymentInfo>, Error> {
        let pool = self.reader();
        let base = "SELECT d.id, d.environment, m.name, d.number, d.previous, d.kind, d.source_env, \
                        d.actor_id, d.actor_name, d.created_at \
                        FROM deployments d JOIN it_modules m ON m.num = d.module_num WHERE d.environment = $1 \
                        AND d.id < $2";
        let before = before.unwrap_or(i64::MAX);
        let rows = match module {
            Some(name) => {
                let num = module_num(pool, name).await?;
                pool.rows(
                    &format!("{base} AND d.module_num = $3 ORDER BY d.id DESC LIMIT $4"),
                    [environment.into(), before.into(), num.into(), limit.into()],
                )
                .await?
            }
            None => {
                pool.rows(
                    &format!("{base} ORDER BY d.id DESC LIMIT $3"),
                    [environment.into(), before.into(), limit.into()],
                )
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(DeploymentInfo {
                    id: r.get("id")?,
                    environment: r.get("environment")?,
                    module: r.get("name")?,
                    number: r.get("number")?,
                    previous: r.get("previous")?,
                    kind: r.get("kind")?,
                    source_env: r.get("source_env")?,
                    actor_id: r.get("actor_id")?,
                    actor_name: r.get("actor_name")?,
                    created_at: from_millis(r.get("created_at")?)?,
                })
            })
            .collect()
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
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let id: i64 = tx
            .scalar(
                "INSERT INTO deployment_requests (environment, kind, source_env, items, \
                     requested_by, requester, requested_at, status, plan_id) VALUES ($1, $2, $3, \
                     $4, $5, $6, $7, 'pending', $8) RETURNING id",
                [
                    environment.into(),
                    kind.as_str().into(),
                    Arg::from(&source_env),
                    items_json.to_string().into(),
                    Arg::from(&actor_id),
                    Arg::from(&actor_name),
                    Arg::from(to_millis(now)),
                    plan.into(),
                ],
            )
            .await?;
        if let Some(p) = plan {
            let waiting = tx.exec(
                    "UPDATE deployment_plans SET status = 'waiting', runs = runs + 1, request_id = \
                         $1, updated_at = $2 WHERE id = $3 AND status IN ('draft', 'aborted')",
                    [id.into(), Arg::from(to_millis(now)), p.into()],
                ).await?;
            if waiting != 1 {
                return Err(Error::Conflict(format!(
                    "deployment plan {p} is no longer a draft"
                )));
            }
        }
        let details = json!({
            "request": id,
            "environment": environment,
            "kind": kind.as_str(),
            "items": items_json,
            "plan": plan,
        });
        let target = format!("deployment-request:{id}");
        crate::audit::record(tx, ctx, now, "module.deploy.request", target, details).await?;
        owned.commit().await?;
        Ok(id)
    }

    /// Deployment request `id`.
    pub async fn deployment_request(&self, id: i64) -> Result<Option<DeploymentRequest>, Error> {
        let rows = self
            .deployment_requests_where("id = $1", vec![id.into_arg()])
            .await?;
        Ok(rows.into_iter().next())
    }

    /// The requests of `environment` (only `status` ones when given), newest first.
    pub async fn deployment_requests(
        &self,
        environment: &str,
        status: Option<&str>,
    ) -> Result<Vec<DeploymentRequest>, Error> {
        match status {
            Some(s) => {
                self.deployment_requests_where(
                    "environment = $1 AND status = $2",
                    vec![environment.into_arg(), s.into_arg()],
                )
                .await
            }
            None => {
                self.deployment_requests_where("environment = $1", vec![environment.into_arg()])
                    .await
            }
        }
    }

    async fn deployment_requests_where(
        &self,
        filter: &str,
        binds: Vec<Arg<'_>>,
    ) -> Result<Vec<DeploymentRequest>, Error> {
        let sql = format!(
            "SELECT id, environment, kind, source_env, items, requested_by, requester, requested_at, status, \
             decider, reason, plan_id FROM deployment_requests WHERE {filter} ORDER BY id DESC LIMIT 200"
        );
        let pool = self.reader();
        let rows = pool.rows(&sql, binds).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get("kind")?;
                let items: String = r.get("items")?;
                let items: Vec<serde_json::Value> = serde_json::from_str(&items)
                    .map_err(|e| Error::Internal(format!("stored deployment request: {e}")))?;
                Ok(DeploymentRequest {
                    id: r.get("id")?,
                    environment: r.get("environment")?,
                    kind: DeployKind::parse(&kind)
                        .ok_or_else(|| Error::Internal(format!("stored kind {kind}")))?,
                    source_env: r.get("source_env")?,
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
                    requested_by: r.get("requested_by")?,
                    requester: r.get("requester")?,
                    requested_at: from_millis(r.get("requested_at")?)?,
                    status: r.get("status")?,
                    decider: r.get("decider")?,
                    reason: r.get("reason")?,
                    plan: r.get("plan_id")?,
                })
            })
            .collect()
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
        let mut owned = self.write().await?;
        let tx = &mut owned;
        decide_request(
            tx,
            id,
            "UPDATE deployment_requests SET status = 'rejected', decided_by = $1, \
             decider = $2, decided_at = $3, reason = $4 WHERE id = $5 AND status = 'pending'",
            [
                Arg::from(&actor_id),
                Arg::from(&actor_name),
                Arg::from(to_millis(now)),
                reason.into(),
                id.into(),
            ],
        )
        .await?;
        // A plan waiting for this request is aborted: it may be changed and run again.
        tx.exec(
            "UPDATE deployment_plans SET status = 'aborted', updated_at = $1, \
                 error = $2 WHERE request_id = $3 AND status = 'waiting'",
            [
                Arg::from(to_millis(now)),
                Arg::from(format!(
                    "deployment request {id} was rejected by {actor_name}: {reason}"
                )),
                id.into(),
            ],
        )
        .await?;
        let environment_of_request = request_environment(tx, id).await?;
        let details =
            json!({ "request": id, "environment": environment_of_request, "reason": reason });
        let target = format!("deployment-request:{id}");
        crate::audit::record(tx, ctx, now, "module.deploy.reject", target, details).await?;
        owned.commit().await?;
        Ok(())
    }
}

/// Marks pending request `id` decided with `decide` (an update that matches only while it
/// is pending); a request already decided is a conflict.
async fn decide_request<'q>(
    tx: &mut Tx<'_>,
    id: i64,
    decide: &'q str,
    args: impl crate::db::Args<'q>,
) -> Result<(), Error> {
    if tx.exec(decide, args).await? != 1 {
        return Err(Error::Conflict(format!(
            "deployment request {id} is no longer pending"
        )));
    }
    Ok(())
}

const REVISION_SQL: &str =
    "SELECT COALESCE(MAX(deployment), 0) FROM deployed WHERE environment = $1";

async fn deployment_revision(tx: &mut Tx<'_>, env: &str) -> Result<i64, Error> {
    tx.scalar(REVISION_SQL, [env.into()]).await
}
