//! The wrapped keys of sensitive values, per environment, and re-encryption batches.

use rampart_apps::ddl::quote;
use rampart_apps::schema::{Column, Table};
use rampart_core::{AuditContext, Error};
use time::OffsetDateTime;

use super::AppDatabase;
use crate::backend::to_millis;
use crate::db::{query, Arg};
use crate::Store;

/// A wrapped key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// `data` or `index`.
    pub kind: String,
    /// The key's id (data keys: the id values name; the index key: 0).
    pub id: i64,
    /// The key, wrapped by the master key.
    pub wrapped: Vec<u8>,
}

impl Store {
    /// The wrapped keys of an environment, by kind and id.
    pub async fn app_keys(&self, environment: &str) -> Result<Vec<WrappedKey>, Error> {
        let rows: Vec<(String, i64, Vec<u8>)> = self
            .reader()
            .all(
                "SELECT kind, id, wrapped FROM app_keys WHERE environment = $1 ORDER BY kind, id",
                [environment.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, id, wrapped)| WrappedKey { kind, id, wrapped })
            .collect())
    }

    /// How many keys an environment has (a node caching them compares this: another node
    /// may have rotated).
    pub async fn app_key_count(&self, environment: &str) -> Result<i64, Error> {
        self.reader()
            .scalar(
                "SELECT COUNT(*) FROM app_keys WHERE environment = $1",
                [environment.into()],
            )
            .await
    }

    /// Whether any environment has keys (then a master key must be configured).
    pub async fn app_keys_exist(&self) -> Result<bool, Error> {
        let n: i64 = self
            .reader()
            .scalar("SELECT COUNT(*) FROM app_keys", [])
            .await?;
        Ok(n > 0)
    }

    /// Stores new wrapped keys in one transaction, each with its `keys.create` event (kind
    /// and id, never key material). A key of a kind and id already there is a conflict, and
    /// then none is stored.
    pub async fn add_app_keys(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        environment: &str,
        keys: &[WrappedKey],
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        for key in keys {
            tx.exec(
            "INSERT INTO app_keys (environment, kind, id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)",
            [
                environment.into(),
                key.kind.as_str().into(),
                key.id.into(),
                Arg::from(key.wrapped.as_slice()),
                to_millis(now).into(),
            ],
        )
        .await?;
            let details =
                serde_json::json!({ "environment": environment, "kind": key.kind, "id": key.id });
            crate::audit::record(
                &mut tx,
                ctx,
                now,
                "keys.create",
                format!("keys:{environment}"),
                details,
            )
            .await?;
        }
        tx.commit().await
    }

    /// One batch of a re-encryption: up to `limit` rows of `table` whose sealed `column`
    /// holds a value, after record `after` in id order, with the value.
    pub async fn app_sealed_batch(
        &self,
        db: &AppDatabase,
        table: &Table,
        column: &Column,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let conn = self.app_conn(db).await?;
        let target = self.app_target(db);
        let sql = format!(
            "SELECT \"id\", {c} FROM {t} WHERE \"id\" > $1 AND {c} IS NOT NULL ORDER BY \"id\" LIMIT $2",
            c = quote(&column.name),
            t = target.table(&table.name)
        );
        conn.reader().all(&sql, [after.into(), limit.into()]).await
    }

    /// Writes re-sealed values in one transaction, each only if the row still holds the
    /// value it was read with (a concurrent change wins, and is sealed with the new key
    /// already). Returns how many were written.
    pub async fn app_reseal(
        &self,
        db: &AppDatabase,
        table: &Table,
        column: &Column,
        values: &[(String, Vec<u8>, Vec<u8>)],
    ) -> Result<u64, Error> {
        let conn = self.app_conn(db).await?;
        let target = self.app_target(db);
        let sql = format!(
            "UPDATE {t} SET {c} = $1 WHERE \"id\" = $2 AND {c} = $3",
            c = quote(&column.name),
            t = target.table(&table.name)
        );
        let mut tx = conn.write().await?;
        let mut n = 0;
        for (id, old, new) in values {
            n += query(&sql)
                .bind(new.as_slice())
                .bind(id.as_str())
                .bind(old.as_slice())
                .execute(&mut tx)
                .await
                .map_err(crate::backend::db)?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}
