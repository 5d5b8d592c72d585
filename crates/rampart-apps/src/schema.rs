//! The physical layout of an application's databases, and the migration from the layout a
//! database has to the one a deployment needs.
//!
//! Each named `database` of an application's entities is a database of its own (a SQLite file,
//! a PostgreSQL schema). An entity is a table named after it in lower case; an attribute is a
//! column named after it in lower case. Every table also has
//! - `id`: the record's identifier (a UUIDv7, so key order is creation order);
//! - `_version`: a counter every change increments (optimistic concurrency);
//! - `_created_at`, `_updated_at`: milliseconds since the epoch;
//! - `_bi_<column>`: for a `unique` `sensitive` attribute, the keyed blind index of its value
//!   (the ciphertext itself differs every time, so uniqueness is enforced on the index);
//! - `_owner_num`: for an entity whose ACL has an owner, the owner's number in the
//!   authorization index (`authz_users.num`, which never changes for a user), written with
//!   the owner in the same statement, so the row rule tests the hierarchy by integer instead
//!   of looking each owner up by id. It is null when the owner had no number when written
//!   (the rule then looks the owner up by id), and a trigger clears it when the owner changes
//!   without it (a write through a layout older than the column), so it is never another
//!   user's number.
//!
//! An entity whose ACL allows grants has a table `_grants_<table>` beside it: one row per
//! record and principal, with the actions granted as bits.
//!
//! A database keeps what it was given. An attribute removed from the model keeps its column,
//! marked *retained*, until a deployment says `drop_data`; an entity removed keeps its table the
//! same way. Deploying a model that has the attribute again brings the column back with its
//! data, so a rollback loses nothing written meanwhile. A type change (or a change to or from
//! `sensitive`) gets a new column beside the old one, filled by converting each value; the old
//! column is retained.
//!
//! Names come from the model, which allows only ASCII letters, digits and `_` starting with a
//! letter; PostgreSQL cuts identifiers at 63 bytes, so longer names are refused here.

use std::collections::BTreeMap;
use std::fmt;

use rampart_model::format::{AttributeType, Entity};
use rampart_model::Module;
use serde::{Deserialize, Serialize};

/// The longest identifier both databases keep whole.
pub const MAX_IDENTIFIER: usize = 63;

/// The hidden column holding each record's owner as the authorization index numbers users
/// (see the module's header).
pub const OWNER_NUM: &str = "_owner_num";

/// The SQL dialect a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: an application database is a file of its own.
    Sqlite,
    /// PostgreSQL: an application database is a schema of its own.
    Postgres,
}

/// How a column stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Text (also e-mail addresses, references, dates and times in their canonical text).
    Text,
    /// A 64-bit integer.
    Integer,
    /// An exact decimal (PostgreSQL `NUMERIC`; SQLite keeps its canonical text).
    Decimal,
    /// `true` / `false`.
    Boolean,
    /// An encrypted envelope (see [`crate::seal`]): the value never reaches the database in
    /// plain form.
    Sealed,
}

impl Storage {
    /// How an attribute of this type and sensitivity is stored.
    pub fn of(ty: AttributeType, sensitive: bool) -> Storage {
        if sensitive {
            return Storage::Sealed;
        }
        match ty {
            AttributeType::Integer => Storage::Integer,
            AttributeType::Decimal => Storage::Decimal,
            AttributeType::Boolean => Storage::Boolean,
            AttributeType::Text
            | AttributeType::Email
            | AttributeType::Reference
            | AttributeType::Date
            | AttributeType::Datetime => Storage::Text,
        }
    }

    /// The column type in `dialect`.
    pub fn sql_type(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (Storage::Text, _) => "TEXT",
            (Storage::Integer, Dialect::Sqlite) | (Storage::Boolean, Dialect::Sqlite) => "INTEGER",
            (Storage::Integer, Dialect::Postgres) => "BIGINT",
            (Storage::Boolean, Dialect::Postgres) => "BOOLEAN",
            (Storage::Decimal, Dialect::Sqlite) => "TEXT",
            (Storage::Decimal, Dialect::Postgres) => "NUMERIC",
            (Storage::Sealed, Dialect::Sqlite) => "BLOB",
            (Storage::Sealed, Dialect::Postgres) => "BYTEA",
        }
    }
}

/// An attribute's column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The attribute's name, as the model spells it.
    pub attribute: String,
    /// The column's name.
    pub name: String,
    /// The attribute's type.
    #[serde(rename = "type")]
    pub ty: AttributeType,
    /// How values are stored.
    pub storage: Storage,
    /// For references: the entity referred to (`User` for a platform user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A record must have a value.
    #[serde(default)]
    pub required: bool,
    /// No two records share a value.
    #[serde(default)]
    pub unique: bool,
    /// For text: the longest value, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// No longer in the model: kept with its data until a deployment drops it.
    #[serde(default)]
    pub retained: bool,
}

impl Column {
    /// The value is encrypted at rest.
    pub fn sensitive(&self) -> bool {
        self.storage == Storage::Sealed
    }

    /// The blind index column of a unique sensitive attribute.
    pub fn blind_index(&self) -> Option<String> {
        (self.unique && self.sensitive()).then(|| format!("_bi_{}", self.name))
    }
}

/// The row-level rule of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableAcl {
    /// The column holding the owner's user id (a reference to `User`), when the entity has
    /// an owner rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The reports-to hierarchy along which the owner's managers inherit access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<String>,
    /// Records may be granted one by one (`_grants_<table>`).
    #[serde(default)]
    pub grants: bool,
}

/// An entity's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The module declaring the entity.
    pub module: String,
    /// The entity's name, as the model spells it.
    pub entity: String,
    /// The table's name.
    pub name: String,
    /// The attributes' columns, live ones in the model's order, then retained ones.
    pub columns: Vec<Column>,
    /// The row-level rule, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<TableAcl>,
    /// The database has the grants table (created when the model first allowed grants, kept
    /// when it stops).
    #[serde(default)]
    pub has_grants_table: bool,
    /// The table has the hidden column [`OWNER_NUM`], filled for the ACL's owner column
    /// (added when the table first has an owner rule, refilled whenever the owner column
    /// changes). Tables laid out before it existed lack it until their next deployment; their
    /// rule looks owners up by id.
    #[serde(default)]
    pub has_owner_num: bool,
    /// No longer in the model: kept with its data until a deployment drops it.
    #[serde(default)]
    pub retained: bool,
}

impl Table {
    /// The live column of an attribute, by its exact name.
    pub fn column(&self, attribute: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| !c.retained && c.attribute == attribute)
    }

    /// The columns records are read and written through.
    pub fn live_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.retained)
    }

    /// The table of record grants, when the ACL allows them.
    pub fn grants_table(&self) -> Option<String> {
        self.acl
            .as_ref()
            .filter(|a| a.grants)
            .map(|_| format!("_grants_{}", self.name))
    }

    /// The owner column, when the ACL has an owner rule.
    pub fn owner_column(&self) -> Option<&Column> {
        let owner = self.acl.as_ref()?.owner.as_deref()?;
        self.columns.iter().find(|c| !c.retained && c.name == owner)
    }

    /// The hidden owner-number column, when the ACL has an owner and the table keeps it.
    pub fn owner_num(&self) -> Option<&'static str> {
        (self.has_owner_num && self.owner_column().is_some()).then_some(OWNER_NUM)
    }
}

/// One application database: what it holds, or should hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Layout {
    /// The tables, in the order they were first created.
    pub tables: Vec<Table>,
}

impl Layout {
    /// The live table of a module's entity.
    pub fn table(&self, module: &str, entity: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| !t.retained && t.module == module && t.entity.eq_ignore_ascii_case(entity))
    }
}

/// Why a model cannot be laid out, or a database cannot be migrated to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A name is longer than PostgreSQL keeps.
    NameTooLong {
        /// The element (`module.Entity` or `module.Entity.attribute`).
        what: String,
    },
    /// Two entities of one database have the same table name.
    SameTable {
        /// The table.
        table: String,
        /// The two entities (`module.Entity`).
        first: String,
        /// The second.
        second: String,
    },
    /// The ACL names an owner attribute that is not a reference to `User`.
    BadOwner {
        /// `module.Entity`.
        entity: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NameTooLong { what } => write!(
                f,
                "`{what}` is longer than {MAX_IDENTIFIER} characters, which a database cannot name"
            ),
            Refusal::SameTable {
                table,
                first,
                second,
            } => write!(
                f,
                "`{first}` and `{second}` would both be table `{table}` of one database"
            ),
            Refusal::BadOwner { entity } => write!(
                f,
                "the ACL owner of `{entity}` is not a reference attribute to `User`"
            ),
        }
    }
}

/// The layouts the entities of an application's deployed modules need, by database name.
/// Tables come in the modules' order, then the entities' order.
pub fn layouts(modules: &[&Module]) -> Result<BTreeMap<String, Layout>, Refusal> {
    let mut out: BTreeMap<String, Layout> = BTreeMap::new();
    for module in modules {
        for entity in &module.entities {
            let table = table_of(&module.module, entity)?;
            let layout = out.entry(entity.database.clone()).or_default();
            if let Some(other) = layout.tables.iter().find(|t| t.name == table.name) {
                return Err(Refusal::SameTable {
                    table: table.name,
                    first: format!("{}.{}", other.module, other.entity),
                    second: format!("{}.{}", module.module, entity.name),
                });
            }
            layout.tables.push(table);
        }
    }
    Ok(out)
}

fn table_of(module: &str, entity: &Entity) -> Result<Table, Refusal> {
    let what = format!("{module}.{}", entity.name);
    let name = identifier(&entity.name, &what)?;
    let mut columns = Vec::with_capacity(entity.attributes.len());
    for a in &entity.attributes {
        let column_name = identifier(&a.name, &format!("{what}.{}", a.name))?;
        if a.unique && a.sensitive && format!("_bi_{column_name}").len() > MAX_IDENTIFIER {
            return Err(Refusal::NameTooLong {
                what: format!("{what}.{}", a.name),
            });
        }
        columns.push(Column {
            attribute: a.name.clone(),
            name: column_name,
            ty: a.ty,
            storage: Storage::of(a.ty, a.sensitive),
            reference: a.entity.clone(),
            required: a.required,
            unique: a.unique,
            max_length: a.max_length,
            retained: false,
        });
    }
    if entity.acl.grants && format!("_grants_{name}").len() > MAX_IDENTIFIER {
        return Err(Refusal::NameTooLong { what });
    }
    let acl = if entity.acl.is_none() {
        None
    } else {
        let owner = match &entity.acl.owner {
            Some(o) => {
                let column = columns
                    .iter()
                    .find(|c| c.attribute.eq_ignore_ascii_case(o))
                    .filter(|c| {
                        c.ty == AttributeType::Reference
                            && !c.sensitive()
                            && c.reference.as_deref() == Some("User")
                    })
                    .ok_or_else(|| Refusal::BadOwner {
                        entity: what.clone(),
                    })?;
                Some(column.name.clone())
            }
            None => None,
        };
        Some(TableAcl {
            owner,
            hierarchy: entity.acl.hierarchy.clone(),
            grants: entity.acl.grants,
        })
    };
    Ok(Table {
        module: module.to_owned(),
        entity: entity.name.clone(),
        name,
        columns,
        has_grants_table: entity.acl.grants,
        has_owner_num: acl.as_ref().is_some_and(|a| a.owner.is_some()),
        acl,
        retained: false,
    })
}

/// The lower-case SQL name of a model identifier.
fn identifier(name: &str, what: &str) -> Result<String, Refusal> {
    if name.len() > MAX_IDENTIFIER {
        return Err(Refusal::NameTooLong {
            what: what.to_owned(),
        });
    }
    Ok(name.to_ascii_lowercase())
}

/// One change to a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create a table with its live columns (and its grants table).
    CreateTable {
        /// The table as created.
        table: Table,
    },
    /// Add a column to a table.
    AddColumn {
        /// The table.
        table: String,
        /// The column.
        column: Column,
    },
    /// Fill a new column from an old one of another type, converting each value; a value
    /// that does not convert refuses the deployment.
    Convert {
        /// The table.
        table: String,
        /// The column read.
        from: Column,
        /// The column written (added by an earlier [`Step::AddColumn`]).
        to: Column,
    },
    /// Create the unique index of a column (fails if two records share a value).
    AddUnique {
        /// The table.
        table: String,
        /// The column (for a sensitive one, its blind index).
        column: String,
    },
    /// Drop the unique index of a column.
    DropUnique {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// Create the grants table of a table whose ACL now allows grants.
    AddGrants {
        /// The table.
        table: String,
    },
    /// Index the owner column (the ACL reads a user's own records through it).
    OwnerIndex {
        /// The table.
        table: String,
        /// The owner column.
        column: String,
    },
    /// Fill the hidden owner-number column ([`OWNER_NUM`]) from the owner column, adding it
    /// first when `add`; index it; and (re)create the trigger that clears a number the
    /// owner column no longer matches.
    OwnerNumbers {
        /// The table.
        table: String,
        /// The owner column.
        column: String,
        /// The column does not exist yet.
        add: bool,
    },
    /// Drop the trigger of the owner-number column (the ACL no longer has an owner; the
    /// column stays, unused, until an owner rule fills it again).
    DropOwnerTrigger {
        /// The table.
        table: String,
    },
    /// Delete a retained column with its data.
    DropColumn {
        /// The table.
        table: String,
        /// The column.
        column: Column,
    },
    /// Delete a retained table with its data (and its grants).
    DropTable {
        /// The table.
        table: String,
    },
}

/// What deploying a layout does to a database: the steps, in order, and the layout the
/// database has afterwards (what the catalog records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The changes, in order.
    pub steps: Vec<Step>,
    /// The database's layout after them.
    pub after: Layout,
}

/// The migration from the layout a database has (`current`) to the one the deployed model
/// needs (`wanted`). Without `drop_data`, nothing holding data is deleted: what the model no
/// longer has is retained; with it, retained columns and tables are dropped.
pub fn migrate(current: &Layout, wanted: &Layout, drop_data: bool) -> Migration {
    let mut steps = Vec::new();
    let mut after = Layout::default();
    // Tables the database has: kept in place, live again, or retained.
    for have in &current.tables {
        match wanted.tables.iter().find(|w| w.name == have.name) {
            Some(want) => after
                .tables
                .push(migrate_table(have, want, drop_data, &mut steps)),
            None if drop_data => steps.push(Step::DropTable {
                table: have.name.clone(),
            }),
            None => after.tables.push(Table {
                retained: true,
                ..have.clone()
            }),
        }
    }
    for want in &wanted.tables {
        if !current.tables.iter().any(|h| h.name == want.name) {
            steps.push(Step::CreateTable {
                table: want.clone(),
            });
            after.tables.push(want.clone());
        }
    }
    Migration { steps, after }
}

fn migrate_table(have: &Table, want: &Table, drop_data: bool, steps: &mut Vec<Step>) -> Table {
    let name = &have.name;
    let mut columns: Vec<Column> = Vec::new();
    for w in &want.columns {
        let live = have
            .columns
            .iter()
            .find(|c| !c.retained && c.attribute.eq_ignore_ascii_case(&w.attribute));
        // The column of the same attribute and shape, live or retained, is reused with its
        // data; otherwise a new one is added.
        let same = have.columns.iter().find(|c| {
            c.attribute.eq_ignore_ascii_case(&w.attribute) && c.ty == w.ty && c.storage == w.storage
        });
        let column = match same {
            Some(c) => {
                let column = Column {
                    name: c.name.clone(),
                    retained: false,
                    ..w.clone()
                };
                index_change(name, c, &column, steps);
                column
            }
            None => {
                let column = Column {
                    name: free_name(&w.name, have, &columns),
                    unique: false,
                    ..w.clone()
                };
                let unique = Column {
                    unique: w.unique,
                    ..column.clone()
                };
                // Added as it will be (a unique sensitive one with its blind index column),
                // then indexed.
                steps.push(Step::AddColumn {
                    table: name.clone(),
                    column: unique.clone(),
                });
                index_change(name, &column, &unique, steps);
                unique
            }
        };
        // The values of the live column of another shape are what the attribute holds now:
        // they are converted into the column the model wants (a new one, or one it had).
        if let Some(live) = live.filter(|l| l.name != column.name) {
            steps.push(Step::Convert {
                table: name.clone(),
                from: live.clone(),
                to: column.clone(),
            });
        }
        columns.push(column);
    }
    // The owner's steps come before any column is dropped (a trigger on a dropped column
    // would refuse the drop). The model names the owner by its attribute's column, which may
    // have another name here (a retyped attribute's new column).
    let acl = want.acl.as_ref().map(|a| TableAcl {
        owner: a.owner.as_ref().map(|o| {
            want.columns
                .iter()
                .position(|w| &w.name == o)
                .and_then(|i| columns.get(i))
                .map_or_else(|| o.clone(), |c| c.name.clone())
        }),
        ..a.clone()
    });
    let had = have.acl.as_ref().and_then(|a| a.owner.as_ref());
    match acl.as_ref().and_then(|a| a.owner.as_ref()) {
        Some(owner) => {
            if had != Some(owner) {
                steps.push(Step::OwnerIndex {
                    table: name.clone(),
                    column: owner.clone(),
                });
            }
            // After any conversion into the owner column: the numbers follow its values.
            if had != Some(owner) || !have.has_owner_num {
                steps.push(Step::OwnerNumbers {
                    table: name.clone(),
                    column: owner.clone(),
                    add: !have.has_owner_num,
                });
            }
        }
        None if had.is_some() && have.has_owner_num => steps.push(Step::DropOwnerTrigger {
            table: name.clone(),
        }),
        None => {}
    }
    for c in &have.columns {
        if columns.iter().any(|k| k.name == c.name) {
            continue;
        }
        if drop_data {
            if c.unique {
                steps.push(Step::DropUnique {
                    table: name.clone(),
                    column: c.blind_index().unwrap_or_else(|| c.name.clone()),
                });
            }
            steps.push(Step::DropColumn {
                table: name.clone(),
                column: c.clone(),
            });
        } else {
            columns.push(Column {
                retained: true,
                ..c.clone()
            });
        }
    }
    // A grants table is created when the model first allows grants; it stays (with its data,
    // no longer consulted) when the model stops allowing them.
    if want.grants_table().is_some() && !have.has_grants_table {
        steps.push(Step::AddGrants {
            table: name.clone(),
        });
    }
    Table {
        module: want.module.clone(),
        entity: want.entity.clone(),
        name: name.clone(),
        columns,
        has_owner_num: have.has_owner_num || acl.as_ref().is_some_and(|a| a.owner.is_some()),
        acl,
        has_grants_table: have.has_grants_table || want.grants_table().is_some(),
        retained: false,
    }
}

/// The unique index a column gains or loses when only `unique` changed.
fn index_change(table: &str, old: &Column, new: &Column, steps: &mut Vec<Step>) {
    if new.unique && !old.unique {
        steps.push(Step::AddUnique {
            table: table.to_owned(),
            column: new.blind_index().unwrap_or_else(|| new.name.clone()),
        });
    } else if !new.unique && old.unique {
        steps.push(Step::DropUnique {
            table: table.to_owned(),
            column: old.blind_index().unwrap_or_else(|| old.name.clone()),
        });
    }
}

/// `base`, or `base_2`, `base_3`, … : the first name no column of the table has.
fn free_name(base: &str, have: &Table, new: &[Column]) -> String {
    let taken =
        |n: &str| have.columns.iter().any(|c| c.name == n) || new.iter().any(|c| c.name == n);
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_owned())
}
