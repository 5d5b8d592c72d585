//! Application tags: the immutable versions of applications.

use super::*;
use crate::db::Arg;

impl Store {
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
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let app: Option<i64> = tx
            .scalar_opt(
                "SELECT num FROM authz_applications WHERE name = $1",
                [application.into()],
            )
            .await?;
        let app = app.ok_or(Error::NotFound {
            what: "application",
        })?;
        tx.exec(
            "INSERT INTO application_tags (app_num, tag, modules, notes, created_by, \
                     creator, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                app.into(),
                tag.into(),
                Arg::from(json!(modules).to_string()),
                notes.into(),
                Arg::from(&actor_id),
                Arg::from(&actor_name),
                at.into(),
            ],
        )
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!(
                "application `{application}` already has a tag `{tag}`; tags are immutable"
            )),
            other => other,
        })?;
        for (module, number) in modules {
            let row: Option<(i64, i64)> = tx
                .opt(
                    "SELECT m.num, m.app_num FROM it_modules m JOIN module_versions v ON \
                         v.module_num = m.num WHERE m.name = $1 AND v.number = $2",
                    [module.into(), number.into()],
                )
                .await?;
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
            tx.exec(
                "INSERT INTO application_tag_versions (app_num, tag, module_num, \
                         number) VALUES ($1, $2, $3, $4)",
                [app.into(), tag.into(), module_num.into(), number.into()],
            )
            .await?;
        }
        let details = json!({ "application": application, "tag": tag, "modules": modules });
        let target = format!("application:{application}");
        crate::audit::record(tx, ctx, now, "application.tag", target, details).await?;
        owned.commit().await?;
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
        let pool = self.reader();
        let rows = pool
            .rows(
                "SELECT t.tag, t.modules, t.notes, t.creator, t.created_at FROM \
                         application_tags t JOIN authz_applications a ON a.num = t.app_num \
                         WHERE a.name = $1 AND ($2 = '' OR t.tag = $2) ORDER BY t.created_at \
                         DESC, t.tag DESC",
                [application.into(), Arg::from(tag.unwrap_or(""))],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let modules: String = r.get("modules")?;
                Ok(ApplicationTag {
                    application: application.to_owned(),
                    tag: r.get("tag")?,
                    modules: serde_json::from_str(&modules)
                        .map_err(|e| Error::Internal(format!("stored tag: {e}")))?,
                    notes: r.get("notes")?,
                    creator: r.get("creator")?,
                    created_at: from_millis(r.get("created_at")?)?,
                })
            })
            .collect()
    }
}
