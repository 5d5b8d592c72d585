//! Module versions: publishing, reading and deleting them, and the module names taken.

use super::*;
use crate::db::Arg;

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
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let num = module_num(&mut *tx, &v.module).await?;
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM module_versions v \
                 JOIN it_modules m ON m.num = v.module_num \
                 WHERE v.module_num = $1 AND v.digest = $2"
        );
        let existing = tx.row_opt(&sql, [num.into(), Arg::from(&v.digest)]).await?;
        if let Some(row) = existing {
            return Ok(Published::Unchanged(info_row(&row)?));
        }
        let latest: i64 = tx
            .scalar(
                "SELECT coalesce(max(number), 0) FROM module_versions WHERE module_num = $1",
                [num.into()],
            )
            .await?;
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
        tx.exec(
            "INSERT INTO module_versions (module_num, number, digest, source, model, \
                 surface, uses, author_id, author_name, message, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            [
                num.into(),
                number.into(),
                Arg::from(&v.digest),
                Arg::from(&v.source),
                Arg::from(&v.model),
                Arg::from(&v.surface),
                Arg::from(&v.uses),
                Arg::from(&author_id),
                Arg::from(&author_name),
                Arg::from(&v.message),
                at.into(),
            ],
        )
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!(
                "another version of `{}` was published at the same moment; \
                     fetch it and publish again",
                v.module
            )),
            other => other,
        })?;
        let mut details = json!({
            "module": v.module,
            "application": application_of(tx, &v.module).await?,
            "version": number,
            "digest": v.digest,
        });
        if !v.forced.is_empty() {
            details["forced_breaking_changes"] = json!(v.forced);
        }
        let findings = super::findings::insert(tx, num, number, latest, &v.findings).await?;
        details["findings"] = findings;
        let target = format!("module:{}", v.module);
        crate::audit::record(tx, ctx, now, "module.publish", target, details).await?;
        let published = Published::Created(VersionInfo {
            module: v.module.clone(),
            number,
            digest: v.digest.clone(),
            author_id,
            author_name,
            message: v.message.clone(),
            created_at: from_millis(at)?,
            deployed_in: Vec::new(),
        });
        owned.commit().await?;
        Ok(published)
    }

    /// The versions of `module`, newest first, with where each runs.
    pub async fn module_versions(&self, module: &str) -> Result<Vec<VersionInfo>, Error> {
        let pool = self.reader();
        let num = module_num(pool, module).await?;
        let rows = pool.rows(&format!(
                "SELECT {INFO_COLUMNS} FROM module_versions v JOIN it_modules m ON m.num = v.module_num \
                 WHERE v.module_num = $1 ORDER BY v.number DESC"
            ), [num.into()]).await?;
        let running: Vec<(String, i64)> = pool
            .all(
                "SELECT environment, number FROM deployed WHERE module_num = $1 ORDER BY \
                         environment",
                [num.into()],
            )
            .await?;
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
    }

    /// Version `number` of `module` (the newest with `None`), with its contents.
    pub async fn module_version(
        &self,
        module: &str,
        number: Option<i64>,
    ) -> Result<Option<StoredVersion>, Error> {
        let pool = self.reader();
        let num = module_num(pool, module).await?;
        let select = format!(
                "SELECT {INFO_COLUMNS}, v.source, v.model, v.surface, v.uses \
                 FROM module_versions v JOIN it_modules m ON m.num = v.module_num WHERE v.module_num = $1"
            );
        let row = match number {
            Some(n) => {
                pool.row_opt(
                    &format!("{select} AND v.number = $2"),
                    [num.into(), n.into()],
                )
                .await?
            }
            None => {
                pool.row_opt(
                    &format!("{select} ORDER BY v.number DESC LIMIT 1"),
                    [num.into()],
                )
                .await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let mut info = info_row(&row)?;
        info.deployed_in = pool
            .scalars(
                "SELECT environment FROM deployed WHERE module_num = $1 AND number = $2 ORDER \
                         BY environment",
                [num.into(), info.number.into()],
            )
            .await?;
        Ok(Some(StoredVersion {
            info,
            source: row.get("source")?,
            model: row.get("model")?,
            surface: row.get("surface")?,
            uses: row.get("uses")?,
        }))
    }

    /// Deletes a version that runs nowhere, with its `module.version.delete` event.
    pub async fn delete_version(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        module: &str,
        number: i64,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let num = module_num(&mut *tx, module).await?;
        for (holders, held_by) in [
            (
                "SELECT environment FROM deployed WHERE module_num = $1 AND number = $2 \
                 ORDER BY environment",
                "is deployed in {}; deploy another version there first",
            ),
            (
                "SELECT tag FROM application_tag_versions WHERE module_num = $1 AND number = $2 \
                 ORDER BY tag",
                "belongs to application tag(s) {}; tags are immutable",
            ),
        ] {
            let names: Vec<String> = tx.scalars(holders, [num.into(), number.into()]).await?;
            if !names.is_empty() {
                let held_by = held_by.replace("{}", &names.join(", "));
                return Err(Error::Conflict(format!(
                    "version {number} of `{module}` {held_by}"
                )));
            }
        }
        super::findings::delete(tx, num, number).await?;
        let gone = tx
            .exec(
                "DELETE FROM module_versions WHERE module_num = $1 AND number = $2",
                [num.into(), number.into()],
            )
            .await?;
        if gone == 0 {
            return Err(Error::NotFound {
                what: "module version",
            });
        }
        let application_of_module = application_of(tx, module).await?;
        let details =
            json!({ "module": module, "application": application_of_module, "version": number });
        let target = format!("module:{module}");
        crate::audit::record(tx, ctx, now, "module.version.delete", target, details).await?;
        owned.commit().await?;
        Ok(())
    }

    /// The application the module name `name` is reserved for, if it is reserved.
    pub async fn module_name_reservation(&self, name: &str) -> Result<Option<String>, Error> {
        let pool = self.reader();
        pool.scalar_opt(
            "SELECT a.name FROM module_names r \
                 JOIN authz_applications a ON a.num = r.app_num WHERE r.name = $1",
            [name.into()],
        )
        .await
    }

    /// Every module name taken: reserved ones and registered modules, by name.
    pub async fn module_names(&self) -> Result<Vec<ModuleName>, Error> {
        let pool = self.reader();
        let rows: Vec<(String, String, bool, i64)> = pool
            .all(
                "SELECT r.name, a.name, FALSE, r.reserved_at FROM module_names r \
                 JOIN authz_applications a ON a.num = r.app_num \
                 UNION ALL \
                 SELECT m.name, a.name, TRUE, m.created_at FROM it_modules m \
                 JOIN authz_applications a ON a.num = m.app_num \
                 ORDER BY 1",
                [],
            )
            .await?;
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
    }
}
