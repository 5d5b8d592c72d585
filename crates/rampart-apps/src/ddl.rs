//! The SQL of a migration's steps, for either database.
//!
//! Identifiers come from [`crate::schema`] (lower-case ASCII letters, digits and `_`) and are
//! always quoted; index names are derived from what they index, so the same step always
//! names the same index and every statement can say `IF [NOT] EXISTS`.

use crate::schema::{Column, Dialect, Step, Table};

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
        Step::AddGrants { table } => grants_table(target, table),
        Step::DropColumn { table, column } => {
            let t = target.table(table);
            let mut out = vec![format!(
                "ALTER TABLE {t} DROP COLUMN {}",
                quote(&column.name)
            )];
            if let Some(bi) = column.blind_index() {
                out.push(format!("ALTER TABLE {t} DROP COLUMN {}", quote(&bi)));
            }
            out
        }
        Step::DropTable { table } => vec![
            format!(
                "DROP TABLE IF EXISTS {}",
                target.table(&format!("_grants_{table}"))
            ),
            format!("DROP TABLE IF EXISTS {}", target.table(table)),
        ],
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
