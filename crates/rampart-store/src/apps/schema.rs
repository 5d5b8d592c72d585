//! An application database's layout, and deploying another one: the migration's statements,
//! the conversions of retyped attributes and the new layout commit together.

use rampart_apps::ddl::{quote, statements, Target};
use rampart_apps::list::{bind_of, write_placeholder};
use rampart_apps::schema::{migrate, Column, Layout, Migration, Step};
use rampart_apps::values::Value;
use rampart_core::Error;
use time::OffsetDateTime;

use super::records::{arg_of, read_value};
use super::AppDatabase;
use crate::backend::to_millis;
use crate::db::{query, Tx};
use crate::Store;

/// Converts one value of a retyped attribute: the table, the old column, the new one, the
/// record id and the value as stored; an error names why the value does not convert (never
/// the value).
pub type Convert<'a> =
    &'a (dyn Fn(&str, &Column, &Column, &str, Value) -> Result<Value, String> + Sync);

impl Store {
    /// The layout an application database has (empty before its first deployment).
    pub async fn app_layout(&self, db: &AppDatabase) -> Result<Layout, Error> {
        let conn = self.app_conn(db).await?;
        let target = self.app_target(db);
        let sql = format!(
            "SELECT \"layout\" FROM {} WHERE \"id\" = 1",
            target.table("_rampart_layout")
        );
        let text: Option<String> = conn.reader().scalar_opt(&sql, []).await?;
        parse_layout(db, text)
    }

    /// Migrates an application database to the layout `wanted` in one transaction: its
    /// statements, each conversion of a retyped attribute (`convert`; one value that does not
    /// convert refuses the whole migration, naming the attribute and how many values fail)
    /// and the new layout. Without `drop_data` nothing holding data is deleted.
    pub async fn migrate_app_database(
        &self,
        db: &AppDatabase,
        wanted: &Layout,
        drop_data: bool,
        convert: Convert<'_>,
        now: OffsetDateTime,
    ) -> Result<Migration, Error> {
        let conn = self.app_conn(db).await?;
        let target = self.app_target(db);
        let mut tx = conn.write().await?;
        super::lock_database(&mut tx, db.num).await?;
        let sql = format!(
            "SELECT \"layout\" FROM {} WHERE \"id\" = 1",
            target.table("_rampart_layout")
        );
        let current = parse_layout(db, tx.scalar_opt(&sql, []).await?)?;
        let migration = migrate(&current, wanted, drop_data);
        if migration.steps.is_empty() && current == migration.after {
            return Ok(migration);
        }
        refuse_unsupported(&migration)?;
        for step in &migration.steps {
            for sql in statements(&target, step) {
                tx.exec(&sql, []).await?;
            }
            if let Step::Convert { table, from, to } = step {
                convert_column(&mut tx, &target, table, from, to, convert).await?;
            }
        }
        let text = serde_json::to_string(&migration.after)
            .map_err(|e| Error::Internal(format!("layout of database {}: {e}", db.num)))?;
        let upsert = format!(
            "INSERT INTO {} (\"id\", \"layout\", \"updated_at\") VALUES (1, $1, $2) \
             ON CONFLICT (\"id\") DO UPDATE SET \"layout\" = EXCLUDED.\"layout\", \"updated_at\" = EXCLUDED.\"updated_at\"",
            target.table("_rampart_layout")
        );
        tx.exec(&upsert, [text.into(), to_millis(now).into()])
            .await?;
        tx.commit().await?;
        Ok(migration)
    }
}

/// What a migration cannot do yet: fill a blind index from existing values (a retype into a
/// unique sensitive attribute, or `unique` added to a sensitive one), which needs the plain
/// values and the index key at once.
fn refuse_unsupported(m: &Migration) -> Result<(), Error> {
    for step in &m.steps {
        let attribute = match step {
            Step::Convert { to, .. } if to.blind_index().is_some() => Some(&to.attribute),
            Step::AddUnique { table, column } if column.starts_with("_bi_") => {
                let added = m.steps.iter().any(|s| {
                    matches!(s, Step::AddColumn { table: t, column: c }
                        if t == table && c.blind_index().as_deref() == Some(column.as_str()))
                });
                if added {
                    None
                } else {
                    Some(column)
                }
            }
            _ => None,
        };
        if let Some(a) = attribute {
            return Err(Error::Conflict(format!(
                "`{a}`: making stored values a unique sensitive attribute is not supported yet; \
                 declare a new attribute instead"
            )));
        }
    }
    Ok(())
}

fn parse_layout(db: &AppDatabase, text: Option<String>) -> Result<Layout, Error> {
    match text {
        None => Ok(Layout::default()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| Error::Internal(format!("layout of database {}: {e}", db.num))),
    }
}

/// Fills `to` from `from`, converting each value; refuses if any does not convert.
async fn convert_column(
    tx: &mut Tx<'_>,
    target: &Target,
    table: &str,
    from: &Column,
    to: &Column,
    convert: Convert<'_>,
) -> Result<(), Error> {
    let t = target.table(table);
    let read = format!(
        "SELECT \"id\", {} FROM {t} WHERE {} IS NOT NULL",
        read_expr(target, from),
        quote(&from.name)
    );
    let rows = query(&read)
        .fetch_all(&mut *tx)
        .await
        .map_err(crate::backend::db)?;
    let mut failed = 0usize;
    let mut first = None;
    let mut converted = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.get(0)?;
        let value = read_value(row, 1, from)?;
        match convert(table, from, to, &id, value) {
            Ok(v) => converted.push((id, v)),
            Err(reason) => {
                failed += 1;
                first.get_or_insert(reason);
            }
        }
    }
    if let Some(reason) = first {
        return Err(Error::Conflict(format!(
            "attribute `{}` of `{table}` cannot change type: {failed} stored value(s) do not convert (the first {reason})",
            to.attribute
        )));
    }
    let p = write_placeholder(target.dialect, to.storage, "$1");
    let update = format!("UPDATE {t} SET {} = {p} WHERE \"id\" = $2", quote(&to.name));
    for (id, value) in converted {
        let arg = arg_of(to.storage, &bind_of(&value));
        tx.exec(&update, [arg, id.into()]).await?;
    }
    // Values that became sensitive leave no plain copy behind in the retained column (a
    // rollback converts the sealed ones back).
    if to.sensitive() && !from.sensitive() {
        tx.exec(&format!("UPDATE {t} SET {} = NULL", quote(&from.name)), [])
            .await?;
    }
    Ok(())
}

/// How a column is read (decimals as text on PostgreSQL).
fn read_expr(target: &Target, c: &Column) -> String {
    use rampart_apps::schema::{Dialect, Storage};
    match (c.storage, target.dialect) {
        (Storage::Decimal, Dialect::Postgres) => format!("CAST({} AS TEXT)", quote(&c.name)),
        _ => quote(&c.name),
    }
}
