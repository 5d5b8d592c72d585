//! The SQL of a migration's steps, for either database.
//!
//! Identifiers come from [`crate::schema`] (lower-case ASCII letters, digits and `_`) and are
//! always quoted; index names are derived from what they index, so the same step always
//! names the same index and every statement can say `IF [NOT] EXISTS`.

use crate::schema::{Column, Dialect, Step, Table, OWNER_NUM};

/// Where an application database's tables are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The dialect.
    pub dialect: Dialect,
    /// The PostgreSQL schema (`None` on SQLite, where the database is a file of its own).
    pub schema: Option<String>,
}

impl Target {
    /// A table's qualified, quoted name.
    pub fn table(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(name)),
            None => quote(name),
        }
    }

    /// An index's qualified, quoted name (PostgreSQL names indexes per schema).
    fn index(&self, name: &str) -> String {
        self.table(name)
    }
}

/// A quoted identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The statements of one step, in order. [`Step::Convert`] has none: its values are
/// rewritten one by one by the store.
pub fn statements(target: &Target, step: &Step) -> Vec<String> {
    let d = target.dialect;
    match step {
        Step::CreateTable { table } => create_table(target, table),
        Step::AddColumn { table, column } => {
            let t = target.table(table);
            let mut out = vec![format!(
                "ALTER TABLE {t} ADD COLUMN {} {}",
                quote(&column.name),
                column.storage.sql_type(d)
            )];
            if let Some(bi) = column.blind_index() {
                out.push(format!(
                    "ALTER TABLE {t} ADD COLUMN {} {}",
                    quote(&bi),
                    blob(d)
                ));
            }
            out
        }
        Step::Convert { .. } => Vec::new(),
        Step::AddUnique { table, column } => vec![format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
            quote(&index_name("ux", table, column)),
            target.table(table),
            quote(column)
        )],
        Step::DropUnique { table, column } => vec![format!(
            "DROP INDEX IF EXISTS {}",
            target.index(&index_name("ux", table, column))
        )],
        Step::OwnerIndex { table, column } => vec![owner_index(target, table, column)],
        Step::OwnerNumbers { table, column, add } => owner_numbers(target, table, column, *add),
        Step::DropOwnerTrigger { table } => drop_owner_trigger(target, table),
        Step::AddGrants { table } => grants_table(target, table),
        Step::DropColumn { table, column } => {
            let t = target.table(table);
            // SQLite refuses to drop an indexed column: its owner index goes first.
            let mut out = vec![
                format!(
                    "DROP INDEX IF EXISTS {}",
                    target.index(&index_name("ix", table, &column.name))
                ),
                format!("ALTER TABLE {t} DROP COLUMN {}", quote(&column.name)),
            ];
            if let Some(bi) = column.blind_index() {
                out.push(format!("ALTER TABLE {t} DROP COLUMN {}", quote(&bi)));
            }
            out
        }
        Step::DropTable { table } => {
            let mut out = vec![
                format!(
                    "DROP TABLE IF EXISTS {}",
                    target.table(&format!("_grants_{table}"))
                ),
                format!("DROP TABLE IF EXISTS {}", target.table(table)),
            ];
            if d == Dialect::Postgres {
                out.push(format!(
                    "DROP FUNCTION IF EXISTS {}()",
                    target.table(&index_name("tf", table, OWNER_NUM))
                ));
            }
            out
        }
    }
}

fn blob(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "BLOB",
        Dialect::Postgres => "BYTEA",
    }
}

fn column_sql(d: Dialect, c: &Column) -> Vec<String> {
    let mut out = vec![format!("{} {}", quote(&c.name), c.storage.sql_type(d))];
    if let Some(bi) = c.blind_index() {
        out.push(format!("{} {}", quote(&bi), blob(d)));
    }
    out
}

fn create_table(target: &Target, table: &Table) -> Vec<String> {
    let d = target.dialect;
    let mut cols = vec![
        "\"id\" TEXT PRIMARY KEY".to_owned(),
        "\"_version\" BIGINT NOT NULL".to_owned(),
        "\"_created_at\" BIGINT NOT NULL".to_owned(),
        "\"_updated_at\" BIGINT NOT NULL".to_owned(),
    ];
    for c in &table.columns {
        cols.extend(column_sql(d, c));
    }
    if table.has_owner_num {
        cols.push(format!("{} {}", quote(OWNER_NUM), bigint(d)));
    }
    let mut out = vec![format!(
        "CREATE TABLE {} ({})",
        target.table(&table.name),
        cols.join(", ")
    )];
    for c in table.columns.iter().filter(|c| c.unique) {
        let column = c.blind_index().unwrap_or_else(|| c.name.clone());
        out.extend(statements(
            target,
            &Step::AddUnique {
                table: table.name.clone(),
                column,
            },
        ));
    }
    if let Some(owner) = table.acl.as_ref().and_then(|a| a.owner.as_ref()) {
        out.push(owner_index(target, &table.name, owner));
        if table.has_owner_num {
            out.extend(owner_numbers(target, &table.name, owner, false));
        }
    }
    if table.has_grants_table {
        out.extend(grants_table(target, &table.name));
    }
    out
}

fn owner_index(target: &Target, table: &str, column: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} ({}, \"id\")",
        quote(&index_name("ix", table, column)),
        target.table(table),
        quote(column)
    )
}

fn bigint(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "INTEGER",
        Dialect::Postgres => "BIGINT",
    }
}

/// The owner-number column of `table` (added when `add`) filled from `owner`, its index on
/// `(number, id)` (a reader's subtree collected by number), and the trigger that clears a
/// number when the owner changes without it. (On SQLite a trigger cannot read the attached
/// platform database, so the store writes the number and the trigger only guards it.)
fn owner_numbers(target: &Target, table: &str, owner: &str, add: bool) -> Vec<String> {
    let d = target.dialect;
    let t = target.table(table);
    let (num, owner) = (quote(OWNER_NUM), quote(owner));
    let mut out = Vec::new();
    if add {
        out.push(format!("ALTER TABLE {t} ADD COLUMN {num} {}", bigint(d)));
    }
    out.push(format!(
        "UPDATE {t} SET {num} = (SELECT u.\"num\" FROM {} u WHERE u.\"user_id\" = {t}.{owner})",
        crate::list::platform_table(target, "authz_users")
    ));
    out.push(format!(
        "CREATE INDEX IF NOT EXISTS {} ON {t} ({num}, \"id\")",
        quote(&index_name("ix", table, OWNER_NUM))
    ));
    out.extend(drop_owner_trigger(target, table));
    let trigger = quote(&index_name("tr", table, OWNER_NUM));
    match d {
        Dialect::Sqlite => out.push(format!(
            "CREATE TRIGGER {trigger} AFTER UPDATE OF {owner} ON {t} FOR EACH ROW \
             WHEN NEW.{owner} IS NOT OLD.{owner} AND NEW.{num} IS OLD.{num} \
             BEGIN UPDATE {t} SET {num} = NULL WHERE \"id\" = NEW.\"id\"; END"
        )),
        Dialect::Postgres => {
            let function = target.table(&index_name("tf", table, OWNER_NUM));
            out.push(format!(
                "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $f$ \
                 BEGIN IF NEW.{owner} IS DISTINCT FROM OLD.{owner} \
                 AND NEW.{num} IS NOT DISTINCT FROM OLD.{num} THEN NEW.{num} := NULL; END IF; \
                 RETURN NEW; END $f$"
            ));
            out.push(format!(
                "CREATE TRIGGER {trigger} BEFORE UPDATE OF {owner} ON {t} FOR EACH ROW \
                 EXECUTE FUNCTION {function}()"
            ));
        }
    }
    out
}

/// Drops the owner-number trigger of `table`, if it has one.
fn drop_owner_trigger(target: &Target, table: &str) -> Vec<String> {
    let trigger = index_name("tr", table, OWNER_NUM);
    vec![match target.dialect {
        Dialect::Sqlite => format!("DROP TRIGGER IF EXISTS {}", quote(&trigger)),
        Dialect::Postgres => format!(
            "DROP TRIGGER IF EXISTS {} ON {}",
            quote(&trigger),
            target.table(table)
        ),
    }]
}

fn grants_table(target: &Target, table: &str) -> Vec<String> {
    let grants = format!("_grants_{table}");
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\"record_id\" TEXT NOT NULL, \"principal\" BIGINT NOT NULL, \
             \"actions\" INTEGER NOT NULL, PRIMARY KEY (\"record_id\", \"principal\"))",
            target.table(&grants)
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} (\"principal\", \"record_id\")",
            quote(&index_name("ix", &grants, "principal")),
            target.table(&grants)
        ),
    ]
}

/// A short, stable index name for `table.column` (within PostgreSQL's 63 bytes whatever the
/// names' lengths): the kind, then a 64-bit FNV-1a hash of both names.
fn index_name(kind: &str, table: &str, column: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in table.bytes().chain([b'.']).chain(column.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{kind}_{h:016x}")
}
