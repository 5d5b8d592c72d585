//! Sealed modules (migration 0005): the publisher keys administrators trust, and versions
//! imported from sealed packages.
//!
//! An imported version is a row of `module_versions` like any other (its model, surface and
//! dependencies, as deployments and the runtime read them) with an empty `source`, and a
//! row of `sealed_versions` that keeps the package as it came (its source still encrypted
//! to the environment) and marks the version sealed. Every refusal of an import is decided
//! inside the import's transaction, so nothing is written when one applies.

use super::*;
use crate::db::Arg;

/// A publisher key administrators trust (or trusted, until `revoked_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPublisher {
    /// The name administrators gave it.
    pub name: String,
    /// `ed25519:` and base64.
    pub public_key: String,
    /// Who trusted it.
    pub trusted_by: String,
    /// When.
    pub trusted_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A version to import from a package whose signature, recipient and digest the caller
/// checked, and whose source it parsed.
#[derive(Debug, Clone)]
pub struct ImportedVersion {
    /// The module (registered).
    pub module: String,
    /// The version number the publisher gave it, kept as the number here.
    pub number: i64,
    /// The source's digest.
    pub digest: String,
    /// The parsed module, canonical JSON.
    pub model: String,
    /// Its public surface, JSON.
    pub surface: String,
    /// What it uses of other modules, JSON.
    pub uses: String,
    /// The environment whose key it was sealed to.
    pub environment: String,
    /// The publisher's key, `ed25519:` and base64.
    pub publisher_key: String,
    /// The package as it came.
    pub package: String,
    /// The publish-time checks' findings on this installation (no error among them).
    pub findings: Vec<crate::lifecycle::NewFinding>,
}

/// Where a sealed version may run and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedInfo {
    /// The environment whose key it was sealed to.
    pub environment: String,
    /// The publisher's name here.
    pub publisher: String,
}

const PUBLISHER_COLUMNS: &str = "name, public_key, trusted_by, trusted_at, revoked_at";

fn publisher_row(row: &Row) -> Result<SealedPublisher, Error> {
    let revoked: Option<i64> = row.get("revoked_at")?;
    Ok(SealedPublisher {
        name: row.get("name")?,
        public_key: row.get("public_key")?,
        trusted_by: row.get("trusted_by")?,
        trusted_at: from_millis(row.get("trusted_at")?)?,
        revoked_at: revoked.map(from_millis).transpose()?,
    })
}

impl Store {
    /// Trusts `public_key` under `name`, with its `sealed.publisher.trust` event. A name or
    /// key already known (revoked ones included) is a conflict: a revoked key stays revoked.
    pub async fn sealed_trust(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        name: &str,
        public_key: &str,
    ) -> Result<SealedPublisher, Error> {
        let (_, by) = actor(ctx);
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let known: Option<(String, Option<i64>)> = tx
            .opt(
                "SELECT name, revoked_at FROM sealed_publishers WHERE name = $1 OR public_key = $2",
                [name.into(), public_key.into()],
            )
            .await?;
        if let Some((known, revoked)) = known {
            return Err(Error::Conflict(match revoked {
                Some(_) if known == name => format!(
                    "publisher `{name}` was revoked; a revoked publisher stays revoked: trust \
                     a new key under another name"
                ),
                _ if known == name => format!("a publisher named `{name}` is trusted already"),
                Some(_) => format!(
                    "this key was revoked as publisher `{known}`; a revoked key is never \
                     trusted again"
                ),
                None => format!("this key is trusted already, as publisher `{known}`"),
            }));
        }
        tx.exec(
            "INSERT INTO sealed_publishers (name, public_key, trusted_by, trusted_at) \
             VALUES ($1, $2, $3, $4)",
            [name.into(), public_key.into(), Arg::from(&by), at.into()],
        )
        .await?;
        let details = json!({ "publisher": name, "public_key": public_key });
        let target = format!("publisher:{name}");
        crate::audit::record(tx, ctx, now, "sealed.publisher.trust", target, details).await?;
        owned.commit().await?;
        Ok(SealedPublisher {
            name: name.to_owned(),
            public_key: public_key.to_owned(),
            trusted_by: by,
            trusted_at: from_millis(at)?,
            revoked_at: None,
        })
    }

    /// Revokes publisher `name`, with its `sealed.publisher.revoke` event: no package it
    /// signed is imported afterwards (versions imported before stay).
    pub async fn sealed_revoke(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        name: &str,
    ) -> Result<(), Error> {
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let revoked: Option<Option<i64>> = tx
            .scalar_opt(
                "SELECT revoked_at FROM sealed_publishers WHERE name = $1",
                [name.into()],
            )
            .await?;
        match revoked {
            None => return Err(Error::NotFound { what: "publisher" }),
            Some(Some(_)) => {
                return Err(Error::Conflict(format!(
                    "publisher `{name}` is revoked already"
                )))
            }
            Some(None) => {}
        }
        tx.exec(
            "UPDATE sealed_publishers SET revoked_at = $1 WHERE name = $2",
            [to_millis(now).into(), name.into()],
        )
        .await?;
        let target = format!("publisher:{name}");
        let details = json!({ "publisher": name });
        crate::audit::record(tx, ctx, now, "sealed.publisher.revoke", target, details).await?;
        owned.commit().await?;
        Ok(())
    }

    /// Every publisher, trusted or revoked, by name.
    pub async fn sealed_publishers(&self) -> Result<Vec<SealedPublisher>, Error> {
        let rows = self
            .reader()
            .rows(
                &format!("SELECT {PUBLISHER_COLUMNS} FROM sealed_publishers ORDER BY name"),
                [],
            )
            .await?;
        rows.iter().map(publisher_row).collect()
    }

    /// The publisher holding `public_key`, trusted or revoked.
    pub async fn sealed_publisher_by_key(
        &self,
        public_key: &str,
    ) -> Result<Option<SealedPublisher>, Error> {
        let row = self
            .reader()
            .row_opt(
                &format!("SELECT {PUBLISHER_COLUMNS} FROM sealed_publishers WHERE public_key = $1"),
                [public_key.into()],
            )
            .await?;
        row.as_ref().map(publisher_row).transpose()
    }

    /// Whether version `number` of `module` is sealed, and where it may run.
    pub async fn sealed_version(
        &self,
        module: &str,
        number: i64,
    ) -> Result<Option<SealedInfo>, Error> {
        let found: Option<(String, String)> = self
            .reader()
            .opt(
                "SELECT s.environment, s.publisher_name FROM sealed_versions s \
                 JOIN it_modules m ON m.num = s.module_num WHERE m.name = $1 AND s.number = $2",
                [module.into(), number.into()],
            )
            .await?;
        Ok(found.map(|(environment, publisher)| SealedInfo {
            environment,
            publisher,
        }))
    }

    /// Whether any version of `module` is sealed.
    pub async fn sealed_module(&self, module: &str) -> Result<bool, Error> {
        let n: i64 = self
            .reader()
            .scalar(
                "SELECT count(*) FROM sealed_versions s JOIN it_modules m ON m.num = s.module_num \
                 WHERE m.name = $1",
                [module.into()],
            )
            .await?;
        Ok(n > 0)
    }

    /// Imports a sealed version with its `module.import` event, or refuses it and writes
    /// nothing: a publisher no longer trusted, a module whose versions were published here
    /// or imported from another publisher, a version number not above every version of the
    /// module and every one imported from this publisher before, a digest already present.
    pub async fn sealed_import(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        v: ImportedVersion,
    ) -> Result<VersionInfo, Error> {
        let (author_id, author_name) = actor(ctx);
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let publisher: Option<(String, Option<i64>)> = tx
            .opt(
                "SELECT name, revoked_at FROM sealed_publishers WHERE public_key = $1",
                [Arg::from(&v.publisher_key)],
            )
            .await?;
        let publisher = match publisher {
            Some((name, None)) => name,
            Some((name, Some(_))) => {
                return Err(Error::Forbidden(format!(
                    "publisher `{name}` was revoked: its packages are not imported"
                )))
            }
            None => {
                return Err(Error::Forbidden(
                    "the package's publisher key is not trusted here; an administrator trusts \
                     it with `rampart publishers trust`"
                        .to_owned(),
                ))
            }
        };
        let num = module_num(&mut *tx, &v.module).await?;
        let (versions, sealed_by_others, local): (i64, i64, i64) = tx
            .one(
                "SELECT coalesce(max(v.number), 0), \
                 count(CASE WHEN s.publisher_key IS NOT NULL AND s.publisher_key <> $2 THEN 1 END), \
                 count(CASE WHEN s.module_num IS NULL THEN 1 END) \
                 FROM module_versions v LEFT JOIN sealed_versions s \
                 ON s.module_num = v.module_num AND s.number = v.number WHERE v.module_num = $1",
                [num.into(), Arg::from(&v.publisher_key)],
            )
            .await?;
        if local > 0 {
            return Err(Error::Conflict(format!(
                "module `{}` has versions published on this installation; a sealed package \
                 does not replace them",
                v.module
            )));
        }
        if sealed_by_others > 0 {
            return Err(Error::Conflict(format!(
                "module `{}` was imported from another publisher; a package from this one \
                 does not replace it",
                v.module
            )));
        }
        let watermark: Option<i64> = tx
            .scalar_opt(
                "SELECT last_version FROM sealed_watermarks WHERE module_num = $1 \
                 AND publisher_key = $2",
                [num.into(), Arg::from(&v.publisher_key)],
            )
            .await?;
        let floor = watermark.unwrap_or(0).max(versions);
        if v.number <= floor {
            return Err(Error::Conflict(format!(
                "version {} of `{}` is not newer than version {floor}, already imported: an \
                 older or repeated package is not imported again",
                v.number, v.module
            )));
        }
        let present: Option<i64> = tx
            .scalar_opt(
                "SELECT number FROM module_versions WHERE module_num = $1 AND digest = $2",
                [num.into(), Arg::from(&v.digest)],
            )
            .await?;
        if let Some(n) = present {
            return Err(Error::Conflict(format!(
                "this source is version {n} of `{}` already",
                v.module
            )));
        }
        let message = format!(
            "sealed package from publisher `{publisher}`, for environment `{}`",
            v.environment
        );
        tx.exec(
            "INSERT INTO module_versions (module_num, number, digest, source, model, \
                 surface, uses, author_id, author_name, message, created_at) \
                 VALUES ($1, $2, $3, '', $4, $5, $6, $7, $8, $9, $10)",
            [
                num.into(),
                v.number.into(),
                Arg::from(&v.digest),
                Arg::from(&v.model),
                Arg::from(&v.surface),
                Arg::from(&v.uses),
                Arg::from(&author_id),
                Arg::from(&author_name),
                Arg::from(&message),
                at.into(),
            ],
        )
        .await?;
        tx.exec(
            "INSERT INTO sealed_versions (module_num, number, environment, publisher_key, \
             publisher_name, package, imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                num.into(),
                v.number.into(),
                Arg::from(&v.environment),
                Arg::from(&v.publisher_key),
                Arg::from(&publisher),
                Arg::from(&v.package),
                at.into(),
            ],
        )
        .await?;
        let updated = tx
            .exec(
                "UPDATE sealed_watermarks SET last_version = $3 WHERE module_num = $1 \
                 AND publisher_key = $2",
                [num.into(), Arg::from(&v.publisher_key), v.number.into()],
            )
            .await?;
        if updated == 0 {
            tx.exec(
                "INSERT INTO sealed_watermarks (module_num, publisher_key, last_version) \
                 VALUES ($1, $2, $3)",
                [num.into(), Arg::from(&v.publisher_key), v.number.into()],
            )
            .await?;
        }
        let findings = super::findings::insert(tx, num, v.number, versions, &v.findings).await?;
        let details = json!({
            "module": v.module,
            "application": application_of(tx, &v.module).await?,
            "version": v.number,
            "digest": v.digest,
            "publisher": publisher,
            "environment": v.environment,
            "findings": findings,
        });
        let target = format!("module:{}", v.module);
        crate::audit::record(tx, ctx, now, "module.import", target, details).await?;
        owned.commit().await?;
        Ok(VersionInfo {
            module: v.module,
            number: v.number,
            digest: v.digest,
            author_id,
            author_name,
            message,
            created_at: from_millis(at)?,
            deployed_in: Vec::new(),
        })
    }
}
