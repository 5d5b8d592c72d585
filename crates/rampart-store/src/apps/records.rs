//! Records of an application database: read by the statements `rampart-apps` compiles
//! (the row-level rule inside them), written with their audit events in one transaction.

use rampart_apps::ddl::{quote, Target};
use rampart_apps::list::{bind_of, platform_table, write_placeholder, Bind, Compiled};
use rampart_apps::schema::{Column, Storage, Table, OWNER_NUM};
use rampart_apps::values::Value;
use rampart_core::Error;
use rampart_model::format::AttributeType;
use time::OffsetDateTime;

use super::{outbox, AppConn, AppDatabase};
use crate::audit::NewEvent;
use crate::backend::{db, from_millis, to_millis};
use crate::db::{query, Arg, Ex, Row, Tx};
use crate::Store;

/// A record as stored: its values in the order of the table's live columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record's id.
    pub id: String,
    /// Incremented by every change.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// The live columns' values (sealed ones as their envelopes).
    pub values: Vec<Value>,
}

/// How a change finds the record it changes: the statement selecting it under the writer's
/// row rule (nothing selected: `NotFound`, as if it did not exist), and the version the
/// writer read, if they say (another: `Conflict`).
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// Selects the record if the writer may change it.
    pub visible: &'a Compiled,
    /// The version the writer read (optimistic concurrency), if given.
    pub version: Option<i64>,
}

/// The columns a write sets, each with how it is stored and its value (sealed values and
/// blind indexes as bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowValues(pub Vec<(String, Storage, Value)>);

/// An argument for a value of a column stored as `storage` (nulls typed as the column).
pub(crate) fn arg_of(storage: Storage, bind: &Bind) -> Arg<'static> {
    match bind {
        Bind::Null => match storage {
            Storage::Text | Storage::Decimal => Arg::Text(None),
            Storage::Integer => Arg::Int(None),
            Storage::Boolean => Arg::Bool(None),
            Storage::Sealed => Arg::Blob(None),
        },
        Bind::Int(i) => Arg::from(*i),
        Bind::Text(t) => Arg::from(t.clone()),
        Bind::Bool(b) => Arg::from(*b),
        Bind::Bytes(b) => Arg::from(b.clone()),
    }
}

/// When a write sets the owner column `name` of `table` to the value bound as
/// `placeholder`: the owner's number for the hidden owner-number column, read from the
/// platform's table in the same statement (null if the owner has none).
fn owner_num(target: &Target, table: &Table, name: &str, placeholder: &str) -> Option<String> {
    table.owner_num()?;
    table.owner_column().filter(|c| c.name == name)?;
    Some(format!(
        "(SELECT u.\"num\" FROM {} u WHERE u.\"user_id\" = {placeholder})",
        platform_table(target, "authz_users")
    ))
}

/// The arguments of a compiled statement.
pub(crate) fn args(c: &Compiled) -> Vec<Arg<'static>> {
    c.binds
        .iter()
        .map(|b| match b {
            Bind::Null => Arg::Text(None),
            other => arg_of(Storage::Text, other),
        })
        .collect()
}

/// Column `i` of a row as a value of `column`.
pub(crate) fn read_value(row: &Row, i: usize, column: &Column) -> Result<Value, Error> {
    Ok(match column.storage {
        Storage::Text => row
            .get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::Text),
        // PostgreSQL keeps a NUMERIC's scale (`10.50`): the canonical text drops it.
        Storage::Decimal => match row.get::<Option<String>, _>(i)? {
            None => Value::Null,
            Some(text) => rampart_apps::values::from_text(AttributeType::Decimal, &text)
                .map_err(|reason| Error::Internal(format!("stored decimal {reason}")))?,
        },
        Storage::Integer => row
            .get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::Integer),
        Storage::Boolean => row
            .get::<Option<bool>, _>(i)?
            .map_or(Value::Null, Value::Boolean),
        Storage::Sealed => row
            .get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null, Value::Bytes),
    })
}

/// A row selected with `rampart_apps::list::select_list`.
fn record(table: &Table, row: &Row) -> Result<StoredRecord, Error> {
    let mut values = Vec::new();
    for (i, column) in table.live_columns().enumerate() {
        values.push(read_value(row, 4 + i, column)?);
    }
    Ok(StoredRecord {
        id: row.get(0)?,
        version: row.get(1)?,
        created_at: from_millis(row.get(2)?)?,
        updated_at: from_millis(row.get(3)?)?,
        values,
    })
}

pub(super) async fn fetch(
    tx_or_pool: impl Into<crate::db::Ex<'_>>,
    table: &Table,
    c: &Compiled,
) -> Result<Vec<StoredRecord>, Error> {
    let ex = tx_or_pool.into();
    // On PostgreSQL planned afresh each time unless the compiler says the plan cannot
    // depend on the values (`plan_once`): the collect shape's bounds and attribute filters
    // change the best plan, and a cached generic plan (after five executions) cannot see
    // them. SQLite plans without the bound values (no statistics), so its statements are
    // kept prepared per connection: preparing one costs more than running it.
    let persistent = c.plan_once || matches!(ex, Ex::Sqlite(_) | Ex::SqlitePool(_));
    let rows = query(&c.sql)
        .persistent(persistent)
        .bind_all(args(c))
        .fetch_all(ex)
        .await
        .map_err(db)?;
    rows.iter().map(|r| record(table, r)).collect()
}

impl Store {
    /// The records a compiled list or get statement selects.
    pub async fn app_records(
        &self,
        db: &AppDatabase,
        table: &Table,
        statement: &Compiled,
    ) -> Result<Vec<StoredRecord>, Error> {
        let conn = self.app_conn(db).await?;
        fetch(conn.reader(), table, statement).await
    }

    /// Creates a record with its values, and its audit events, in one transaction.
    pub async fn app_insert(
        &self,
        db: &AppDatabase,
        table: &Table,
        id: &str,
        values: &RowValues,
        now: OffsetDateTime,
        events: Vec<NewEvent>,
    ) -> Result<StoredRecord, Error> {
        let mut w = self.app_write(db).await?;
        let stored = w.insert(table, id, values, now).await?;
        w.commit(self, events).await?;
        Ok(stored)
    }

    /// Changes a record found as `expect` says.
    pub async fn app_update(
        &self,
        db: &AppDatabase,
        table: &Table,
        expect: Expect<'_>,
        values: &RowValues,
        now: OffsetDateTime,
        events: Vec<NewEvent>,
    ) -> Result<StoredRecord, Error> {
        let mut w = self.app_write(db).await?;
        let stored = w.update(table, expect, values, now).await?;
        w.commit(self, events).await?;
        Ok(stored)
    }

    /// Deletes a record found as `expect` says, with its grants; returns it as it was.
    pub async fn app_delete(
        &self,
        db: &AppDatabase,
        table: &Table,
        expect: Expect<'_>,
        events: Vec<NewEvent>,
    ) -> Result<StoredRecord, Error> {
        let mut w = self.app_write(db).await?;
        let stored = w.delete(table, expect).await?;
        w.commit(self, events).await?;
        Ok(stored)
    }

    /// A write transaction on an application database: the steps of one action, or one
    /// change of the data API. Nothing is written unless it is committed.
    pub async fn app_write(&self, db: &AppDatabase) -> Result<AppWrite, Error> {
        let conn = self.app_conn(db).await?;
        let target = self.app_target(db);
        let tx = conn.write().await?;
        Ok(AppWrite {
            conn,
            db: db.clone(),
            target,
            tx,
        })
    }

    /// A change's transaction, begun with the record it changes found as `expect` says.
    pub(crate) async fn begin_change(
        &self,
        db: &AppDatabase,
        table: &Table,
        expect: Expect<'_>,
    ) -> Result<Change, Error> {
        let conn = self.app_conn(db).await?;
        let target = self.app_target(db);
        let mut tx = conn.write().await?;
        let current = checked(&mut tx, table, expect).await?;
        Ok(Change {
            conn,
            target,
            tx,
            current,
        })
    }

    /// Commits a write with its events: on PostgreSQL into the audit log in the same
    /// transaction; on SQLite into the outbox, moved into the log right after the commit
    /// (and by the next start if the node stops first).
    pub(crate) async fn commit_app_write(
        &self,
        conn: &AppConn,
        db: &AppDatabase,
        mut tx: Tx<'static>,
        events: Vec<NewEvent>,
    ) -> Result<(), Error> {
        match conn {
            AppConn::Postgres(_) => {
                if !events.is_empty() {
                    self.head.moved();
                    crate::audit::write_events(&mut tx, events).await?;
                }
                tx.commit().await
            }
            AppConn::Sqlite(_) => {
                let any = !events.is_empty();
                outbox::put(&mut tx, &events).await?;
                tx.commit().await?;
                if any {
                    if let Err(e) = self.flush_app_outbox(db).await {
                        tracing::warn!(database = db.num, error = %e, "audit outbox not moved yet; it will be on the next flush");
                    }
                }
                Ok(())
            }
        }
    }
}

/// A change under way: its connections, where its tables are, its transaction, and the
/// record as it is.
pub(crate) struct Change {
    pub(crate) conn: AppConn,
    pub(crate) target: Target,
    pub(crate) tx: Tx<'static>,
    pub(crate) current: StoredRecord,
}

/// A write transaction on one application database (see [`Store::app_write`]).
pub struct AppWrite {
    conn: AppConn,
    db: AppDatabase,
    target: Target,
    tx: Tx<'static>,
}

impl std::fmt::Debug for AppWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppWrite")
            .field("db", &self.db.num)
            .finish()
    }
}

impl AppWrite {
    /// The database written.
    pub fn database(&self) -> &AppDatabase {
        &self.db
    }

    /// The records a compiled statement selects, as this transaction sees them.
    pub async fn records(
        &mut self,
        table: &Table,
        statement: &Compiled,
    ) -> Result<Vec<StoredRecord>, Error> {
        fetch(&mut self.tx, table, statement).await
    }

    /// Creates a record with its values.
    pub async fn insert(
        &mut self,
        table: &Table,
        id: &str,
        values: &RowValues,
        now: OffsetDateTime,
    ) -> Result<StoredRecord, Error> {
        let mut cols = vec![
            "\"id\"".to_owned(),
            "\"_version\"".into(),
            "\"_created_at\"".into(),
            "\"_updated_at\"".into(),
        ];
        let mut params = vec!["$1".to_owned(), "1".into(), "$2".into(), "$2".into()];
        let mut binds: Vec<Arg<'static>> = vec![id.to_owned().into(), to_millis(now).into()];
        for (name, storage, value) in &values.0 {
            binds.push(arg_of(*storage, &bind_of(value)));
            let p = format!("${}", binds.len());
            cols.push(quote(name));
            params.push(write_placeholder(self.target.dialect, *storage, &p));
            if let Some(num) = owner_num(&self.target, table, name, &p) {
                cols.push(quote(OWNER_NUM));
                params.push(num);
            }
        }
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.target.table(&table.name),
            cols.join(", "),
            params.join(", ")
        );
        self.tx.exec(&sql, binds).await?;
        reread(&mut self.tx, &self.target, table, id).await
    }

    /// Changes a record found as `expect` says.
    pub async fn update(
        &mut self,
        table: &Table,
        expect: Expect<'_>,
        values: &RowValues,
        now: OffsetDateTime,
    ) -> Result<StoredRecord, Error> {
        let current = checked(&mut self.tx, table, expect).await?;
        let mut sets = vec![
            "\"_version\" = \"_version\" + 1".to_owned(),
            "\"_updated_at\" = $1".into(),
        ];
        let mut binds: Vec<Arg<'static>> = vec![to_millis(now).into()];
        for (name, storage, value) in &values.0 {
            binds.push(arg_of(*storage, &bind_of(value)));
            let p = format!("${}", binds.len());
            sets.push(format!(
                "{} = {}",
                quote(name),
                write_placeholder(self.target.dialect, *storage, &p)
            ));
            if let Some(num) = owner_num(&self.target, table, name, &p) {
                sets.push(format!("{} = {num}", quote(OWNER_NUM)));
            }
        }
        binds.push(current.id.clone().into());
        let sql = format!(
            "UPDATE {} SET {} WHERE \"id\" = ${}",
            self.target.table(&table.name),
            sets.join(", "),
            binds.len()
        );
        self.tx.exec(&sql, binds).await?;
        reread(&mut self.tx, &self.target, table, &current.id).await
    }

    /// Deletes a record found as `expect` says, with its grants; returns it as it was.
    pub async fn delete(
        &mut self,
        table: &Table,
        expect: Expect<'_>,
    ) -> Result<StoredRecord, Error> {
        let current = checked(&mut self.tx, table, expect).await?;
        if table.has_grants_table {
            let grants = self.target.table(&format!("_grants_{}", table.name));
            self.tx
                .exec(
                    &format!("DELETE FROM {grants} WHERE \"record_id\" = $1"),
                    [current.id.clone().into()],
                )
                .await?;
        }
        self.tx
            .exec(
                &format!(
                    "DELETE FROM {} WHERE \"id\" = $1",
                    self.target.table(&table.name)
                ),
                [current.id.clone().into()],
            )
            .await?;
        Ok(current)
    }

    /// Commits what was written, with its audit events.
    pub async fn commit(self, store: &Store, events: Vec<NewEvent>) -> Result<(), Error> {
        store
            .commit_app_write(&self.conn, &self.db, self.tx, events)
            .await
    }
}

/// The record `expect` finds, inside the write.
async fn checked(
    tx: &mut Tx<'_>,
    table: &Table,
    expect: Expect<'_>,
) -> Result<StoredRecord, Error> {
    // PostgreSQL locks the row as it is read (and re-reads it, with the rule, if another
    // transaction changed it meanwhile), so the version and the rule checked here are those
    // the change applies to; SQLite's one writer already serialises writes.
    let locked;
    let statement = if tx.is_sqlite() {
        expect.visible
    } else {
        locked = Compiled {
            sql: format!("{} FOR UPDATE OF t", expect.visible.sql),
            binds: expect.visible.binds.clone(),
            plan_once: expect.visible.plan_once,
        };
        &locked
    };
    let current = fetch(&mut *tx, table, statement)
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound { what: "record" })?;
    if let Some(v) = expect.version {
        if v != current.version {
            return Err(Error::Conflict(format!(
                "the record changed since version {v} was read (it is at version {}); read it again",
                current.version
            )));
        }
    }
    Ok(current)
}

async fn reread(
    tx: &mut Tx<'_>,
    target: &Target,
    table: &Table,
    id: &str,
) -> Result<StoredRecord, Error> {
    let sql = format!(
        "SELECT {} FROM {} t WHERE t.\"id\" = $1",
        rampart_apps::list::select_list(target.dialect, table, "t"),
        target.table(&table.name)
    );
    let row = query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(db)?;
    record(table, &row)
}
