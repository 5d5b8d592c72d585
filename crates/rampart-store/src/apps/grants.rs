//! Record grants of an application entity whose ACL allows them: a principal (user, group,
//! unit) and the actions granted, one row per record and principal, beside the records.

use rampart_apps::schema::Table;
use rampart_core::Error;

use super::records::Expect;
use super::AppDatabase;
use crate::audit::NewEvent;
use crate::backend::db as db_error;
use crate::db::query;
use crate::Store;

impl Store {
    /// Sets the actions `principal` holds on a record found as `expect` says (under the
    /// granter's write rule): `actions` 0 removes the grant. With its events, in one
    /// transaction.
    pub async fn app_grant(
        &self,
        db: &AppDatabase,
        table: &Table,
        expect: Expect<'_>,
        (principal, actions): (i64, i64),
        events: Vec<NewEvent>,
    ) -> Result<(), Error> {
        let Some(grants) = table.grants_table() else {
            return Err(Error::invalid(
                "principal",
                format!("the ACL of `{}` does not allow grants", table.entity),
            ));
        };
        let mut change = self.begin_change(db, table, expect).await?;
        let t = change.target.table(&grants);
        let id = change.current.id.clone();
        if actions == 0 {
            change
                .tx
                .exec(
                    &format!("DELETE FROM {t} WHERE \"record_id\" = $1 AND \"principal\" = $2"),
                    [id.into(), principal.into()],
                )
                .await?;
        } else {
            change
                .tx
                .exec(
                    &format!(
                        "INSERT INTO {t} (\"record_id\", \"principal\", \"actions\") VALUES ($1, $2, $3) \
                         ON CONFLICT (\"record_id\", \"principal\") DO UPDATE SET \"actions\" = EXCLUDED.\"actions\""
                    ),
                    [id.into(), principal.into(), actions.into()],
                )
                .await?;
        }
        self.commit_app_write(&change.conn, db, change.tx, events)
            .await
    }

    /// The grants on a record found as `expect` says (under the reader's write rule), as
    /// (principal, actions), by principal.
    pub async fn app_record_grants(
        &self,
        db: &AppDatabase,
        table: &Table,
        expect: Expect<'_>,
    ) -> Result<Vec<(i64, i64)>, Error> {
        let conn = self.app_conn(db).await?;
        let found = super::records::fetch(conn.reader(), table, expect.visible).await?;
        let Some(record) = found.first() else {
            return Err(Error::NotFound { what: "record" });
        };
        let Some(grants) = table.grants_table() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT \"principal\", CAST(\"actions\" AS BIGINT) FROM {} WHERE \"record_id\" = $1 ORDER BY \"principal\"",
            self.app_target(db).table(&grants)
        );
        let rows = query(&sql)
            .bind(record.id.clone())
            .fetch_all(conn.reader())
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| Ok((r.get::<i64, _>(0)?, r.get::<i64, _>(1)?)))
            .collect()
    }
}
