//! A module's advanced SQL query, compiled for one reader into one statement.
//!
//! The statement is the model's `sql` checked by [`rampart_model::sql`] (one read-only
//! `SELECT`, allowed functions only, no schema-qualified name), with three things put in:
//!
//! - **Each table becomes the reader's view of it.** A reference to an entity's table is
//!   replaced by a subquery reading that table's `id` and its live attributes that are not
//!   `sensitive`, under the names the SQL uses (lower case), with the reader's row rule as
//!   its `WHERE`: so no row the reader may not read, no ciphertext and no blind index is in
//!   reach of the statement. The subquery ends with `OFFSET 0` (PostgreSQL) or
//!   `LIMIT -1 OFFSET 0` (SQLite), which both planners treat as a fence: the statement's own
//!   conditions are not pushed into it, so they see only the rows the rule let through (an
//!   error or a slow function cannot be used to test rows the reader may not see). The
//!   tables a query may read are the entities of its module and those it lists under
//!   `dependencies`, in the database of the query's `entity`; any other name is refused.
//! - **The row rule needs no platform table.** It is the data API's rule (the owner, the
//!   owner's managers up the hierarchy, grants), with "everyone below the reader" given as a
//!   bound list of user ids the authorization index computed, so the statement runs where
//!   nothing but the application's own tables can be read.
//! - **Parameters are bound** (`:name` becomes `CAST($n AS type)`), except `inline` ones,
//!   whose value (checked against the parameter's type) is written into the text before the
//!   text is read, so a value that turns the statement into something else is refused like
//!   a model that says so.
//!
//! The page is `LIMIT`/`OFFSET` on the statement: the query's `limit` (50 by default, 500 at
//! most) or a smaller `limit` from the caller, and a cursor holding the offset of the next
//! page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rampart_model::format::{AttributeType, Query};
use rampart_model::sql::{self, Resolver};
use serde_json::Value as Json;
use sqlparser::ast::{
    Expr, LimitClause, Offset, OffsetRows, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    TableFactor,
};

use crate::ddl::{quote, Target};
use crate::list::{Bind, Compiled, DEFAULT_LIMIT, MAX_LIMIT};
use crate::schema::{Dialect, Storage, Table};
use crate::values::{from_text, param_from_text, FieldError, Value};

/// The row rule of one reader on one table with an ACL (see the module's header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReaderRule {
    /// The reader's user id: rows they own.
    pub owner: Option<String>,
    /// The user ids strictly below the reader in the table's hierarchy: rows they own.
    pub below: Vec<String>,
    /// The reader's grantee principals: rows granted to one of them.
    pub grantees: Vec<i64>,
    /// The action's bit in a grant's `actions`.
    pub action_bit: i64,
}

/// A compiled advanced query: the statement of one page, and what the columns hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The statement and its values (reading `limit + 1` rows, so the caller knows whether
    /// another page follows).
    pub compiled: Compiled,
    /// Rows per page.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
    /// For the result's first columns, the attribute type each one reads directly (`None`
    /// for a computed column): how its values are shown.
    pub hints: Vec<Option<AttributeType>>,
}

/// Why an advanced query does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The model's SQL itself may not run (the first few reasons).
    Model(Vec<String>),
    /// The caller's parameters are wrong, or their inline values make a statement that may
    /// not run; each named.
    Input(Vec<FieldError>),
}

/// Compiles advanced query `query` for the parameters `params` (its declared parameters by
/// name, plus `limit` and `cursor`). `tables` are the tables it may read (as the running
/// model serves them); `rule` gives the reader's rule for one of them with an ACL.
pub fn compile(
    target: &Target,
    query: &Query,
    tables: &[Table],
    rule: &mut dyn FnMut(&Table) -> ReaderRule,
    params: &[(String, String)],
) -> Result<Statement, Refused> {
    let Some(text) = &query.sql else {
        return Err(Refused::Model(vec!["the query has no `sql`".into()]));
    };
    let given = read_params(query, params).map_err(Refused::Input)?;
    let inline_text = |name: &str| -> Option<String> {
        let p = query
            .parameters
            .iter()
            .find(|p| p.name == name && p.inline)?;
        Some(match given.values.get(p.name.as_str()) {
            Some(v) => inline_value(v),
            None => "NULL".into(),
        })
    };
    let expanded = sql::expand_inline(text, &inline_text).map_err(|e| Refused::Model(vec![e]))?;
    let mut resolve = Resolve {
        target,
        query,
        tables,
        rule,
        given: &given.values,
        c: Compiled::default(),
        bound: BTreeMap::new(),
        top: Vec::new(),
        inline_as_values: false,
    };
    let mut checked = match sql::check(&expanded, &mut resolve) {
        Ok(q) => q,
        Err(problems) => return Err(refusal(target, query, tables, problems)),
    };
    let (limit, offset) = (given.limit, given.offset);
    let mut c = resolve.c;
    let l = bind(&mut c, Bind::Int(i64::from(limit) + 1));
    let o = bind(&mut c, Bind::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    checked.limit_clause = Some(LimitClause::LimitOffset {
        limit: Some(expr(&l)?),
        offset: Some(Offset {
            value: expr(&o)?,
            rows: OffsetRows::None,
        }),
        limit_by: Vec::new(),
    });
    let hints = hints(&checked.body, &resolve.top, tables);
    c.sql = checked.to_string();
    Ok(Statement {
        compiled: c,
        limit,
        offset,
        hints,
    })
}

/// Whose fault a refused statement is: when the model's text with its inline parameters
/// read as values passes, the inline values broke it.
fn refusal(target: &Target, query: &Query, tables: &[Table], problems: Vec<String>) -> Refused {
    let inline: Vec<&str> = query
        .parameters
        .iter()
        .filter(|p| p.inline)
        .map(|p| p.name.as_str())
        .collect();
    if inline.is_empty() {
        return Refused::Model(problems);
    }
    let none = BTreeMap::new();
    let mut plain = Resolve {
        target,
        query,
        tables,
        rule: &mut |_| ReaderRule::default(),
        given: &none,
        c: Compiled::default(),
        bound: BTreeMap::new(),
        top: Vec::new(),
        inline_as_values: true,
    };
    let text = query.sql.as_deref().unwrap_or_default();
    match sql::check(text, &mut plain) {
        Err(model) => Refused::Model(model),
        Ok(_) => Refused::Input(vec![FieldError {
            attribute: inline.join(", "),
            reason: format!(
                "with its value written in (an inline parameter), the statement may not run: {}",
                problems.join("; ")
            ),
        }]),
    }
}

fn expr(text: &str) -> Result<Expr, Refused> {
    sql::parse_expr(text).map_err(|e| Refused::Model(vec![format!("internal: {e}")]))
}

fn bind(c: &mut Compiled, b: Bind) -> String {
    c.binds.push(b);
    format!("${}", c.binds.len())
}

/// The caller's parameters, checked.
struct Given<'q> {
    values: BTreeMap<&'q str, Value>,
    limit: u32,
    offset: u64,
}

fn read_params<'q>(
    query: &'q Query,
    params: &[(String, String)],
) -> Result<Given<'q>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let err = |name: &str, reason: String| FieldError {
        attribute: name.to_owned(),
        reason,
    };
    let max = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut given = Given {
        values: BTreeMap::new(),
        limit: max,
        offset: 0,
    };
    for (name, text) in params {
        match name.as_str() {
            "limit" => match text.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => given.limit = n,
                _ => errors.push(err(name, format!("must be a number from 1 to {max}"))),
            },
            "cursor" => match decode_offset(text) {
                Some(o) => given.offset = o,
                None => errors.push(err(name, "is not a cursor of this query".into())),
            },
            _ => match query.parameters.iter().find(|p| p.name == *name) {
                Some(p) => match param_from_text(p, text) {
                    Ok(v) => {
                        given.values.insert(p.name.as_str(), v);
                    }
                    Err(reason) => errors.push(err(name, reason)),
                },
                None => errors.push(err(
                    name,
                    format!("is not a parameter of query `{}`", query.name),
                )),
            },
        }
    }
    for p in query.parameters.iter().filter(|p| p.required) {
        let named = |e: &FieldError| e.attribute == p.name;
        if !given.values.contains_key(p.name.as_str()) && !errors.iter().any(named) {
            errors.push(err(&p.name, "is required".into()));
        }
    }
    if errors.is_empty() {
        Ok(given)
    } else {
        Err(errors)
    }
}

/// An inline parameter's value as it is written into the statement: text as given, other
/// types in their canonical text.
fn inline_value(v: &Value) -> String {
    match v {
        Value::Boolean(true) => "TRUE".into(),
        Value::Boolean(false) => "FALSE".into(),
        other => other.text().unwrap_or_else(|| "NULL".into()),
    }
}

/// The cursor of the page starting at row `offset`.
pub fn encode_offset(offset: u64) -> String {
    let mut out = String::new();
    for b in format!("offset:{offset}").bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn decode_offset(text: &str) -> Option<u64> {
    if !text.len().is_multiple_of(2) || text.len() > 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

/// The runtime's side of the check: tables become the reader's subqueries, parameters
/// become bound values, sensitive attributes cannot be named.
struct Resolve<'a> {
    target: &'a Target,
    query: &'a Query,
    tables: &'a [Table],
    rule: &'a mut dyn FnMut(&Table) -> ReaderRule,
    given: &'a BTreeMap<&'a str, Value>,
    c: Compiled,
    /// Parameters bound so far, by name: their placeholder.
    bound: BTreeMap<String, String>,
    /// The tables of the first `SELECT`'s `FROM`: (alias, index in `tables`).
    top: Vec<(String, usize)>,
    /// Inline parameters are still `:name` in the text: read them as values.
    inline_as_values: bool,
}

impl Resolver for Resolve<'_> {
    fn table(
        &mut self,
        name: &str,
        alias: &str,
        top: bool,
    ) -> Result<Box<sqlparser::ast::Query>, String> {
        let Some(i) = self.tables.iter().position(|t| t.name == name) else {
            return Err(format!(
                "table `{name}` is not an entity this query may read (its module's and those \
                 it lists under `dependencies`, in the database of `{}`)",
                self.query.entity
            ));
        };
        if top {
            self.top.push((alias.to_owned(), i));
        }
        let table = &self.tables[i];
        let text = self.subquery(table);
        sql::parse_query(&text).map_err(|e| format!("internal: {e}"))
    }

    fn parameter(&mut self, name: &str) -> Result<Expr, String> {
        let Some(p) = self.query.parameters.iter().find(|p| p.name == name) else {
            return Err(format!("`:{name}` is not among the query's parameters"));
        };
        if p.inline && self.inline_as_values {
            return sql::parse_expr("NULL");
        }
        if p.inline {
            return Err(format!(
                "`:{name}` is an inline parameter, written into the text, not bound"
            ));
        }
        let placeholder = match self.bound.get(name) {
            Some(ph) => ph.clone(),
            None => {
                let value = self.given.get(name).cloned().unwrap_or(Value::Null);
                let ph = bind(&mut self.c, crate::list::bind_of(&value));
                self.bound.insert(name.to_owned(), ph.clone());
                ph
            }
        };
        let ty = match p.ty {
            AttributeType::Integer => "BIGINT",
            AttributeType::Decimal => "NUMERIC",
            AttributeType::Boolean => "BOOLEAN",
            _ => "TEXT",
        };
        sql::parse_expr(&format!("CAST({placeholder} AS {ty})"))
    }

    fn column(&mut self, name: &str) -> Result<(), String> {
        let sensitive = self
            .tables
            .iter()
            .flat_map(|t| t.live_columns())
            .any(|c| c.sensitive() && c.name == name);
        if sensitive {
            return Err(format!(
                "`{name}` is a sensitive attribute: it is encrypted at rest and SQL cannot read it"
            ));
        }
        Ok(())
    }
}

impl Resolve<'_> {
    /// The reader's view of `table`: `id` and the live, non-sensitive attributes, under the
    /// row rule, behind the planners' fence.
    fn subquery(&mut self, table: &Table) -> String {
        let d = self.target.dialect;
        let mut cols = vec!["t.\"id\" AS \"id\"".to_owned()];
        for c in table.live_columns().filter(|c| !c.sensitive()) {
            let col = format!("t.{}", quote(&c.name));
            let read = match (c.storage, d) {
                // SQLite keeps decimals as text: read as numbers, so they compare and add up.
                (Storage::Decimal, Dialect::Sqlite) => format!("CAST({col} AS NUMERIC)"),
                _ => col,
            };
            cols.push(format!("{read} AS {}", quote(&c.name)));
        }
        let condition = match &table.acl {
            Some(_) => {
                let rule = (self.rule)(table);
                format!(" WHERE {}", self.rule_condition(table, &rule))
            }
            None => String::new(),
        };
        let fence = match d {
            Dialect::Sqlite => "LIMIT -1 OFFSET 0",
            Dialect::Postgres => "OFFSET 0",
        };
        format!(
            "SELECT {} FROM {} AS t{condition} {fence}",
            cols.join(", "),
            self.target.table(&table.name)
        )
    }

    fn rule_condition(&mut self, table: &Table, rule: &ReaderRule) -> String {
        let mut tests = Vec::new();
        if let Some(owner) = table.owner_column() {
            let col = format!("t.{}", quote(&owner.name));
            if let Some(me) = &rule.owner {
                let me = bind(&mut self.c, Bind::Text(me.clone()));
                tests.push(format!("{col} = {me}"));
            }
            if !rule.below.is_empty() {
                let list = Json::from(rule.below.clone()).to_string();
                let p = bind(&mut self.c, Bind::Text(list));
                tests.push(match self.target.dialect {
                    Dialect::Sqlite => format!("{col} IN (SELECT \"value\" FROM json_each({p}))"),
                    Dialect::Postgres => {
                        format!("{col} IN (SELECT jsonb_array_elements_text(CAST({p} AS JSONB)))")
                    }
                });
            }
        }
        if let (Some(grants), false) = (table.grants_table(), rule.grantees.is_empty()) {
            let list = rule
                .grantees
                .iter()
                .map(|g| bind(&mut self.c, Bind::Int(*g)))
                .collect::<Vec<_>>()
                .join(", ");
            let bit = bind(&mut self.c, Bind::Int(rule.action_bit));
            tests.push(format!(
                "EXISTS (SELECT 1 FROM {} AS g WHERE g.\"record_id\" = t.\"id\" AND \
                 g.\"principal\" IN ({list}) AND (g.\"actions\" & {bit}) = {bit})",
                self.target.table(&grants)
            ));
        }
        if tests.is_empty() {
            tests.push("1 = 0".into());
        }
        format!("({})", tests.join(" OR "))
    }
}

/// The attribute types of the result's first columns, where a column reads an attribute of
/// a table in the first `SELECT`'s `FROM` directly (`c.amount`, `amount AS total`, `c.*`).
fn hints(body: &SetExpr, top: &[(String, usize)], tables: &[Table]) -> Vec<Option<AttributeType>> {
    let select = match body {
        SetExpr::Select(s) => s,
        SetExpr::SetOperation { left, .. } => return hints(left, top, tables),
        _ => return Vec::new(),
    };
    let table_of = |alias: &str| {
        top.iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(alias))
            .and_then(|(_, i)| tables.get(*i))
    };
    let columns = |t: &Table| {
        let mut v = vec![Some(AttributeType::Reference)];
        v.extend(
            t.live_columns()
                .filter(|c| !c.sensitive())
                .map(|c| Some(c.ty)),
        );
        v
    };
    let mut out = Vec::new();
    for item in &select.projection {
        let e = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                match table_of(&n.to_string()) {
                    Some(t) => {
                        out.extend(columns(t));
                        continue;
                    }
                    None => return out,
                }
            }
            SelectItem::Wildcard(_) => {
                for from in &select.from {
                    let factors = std::iter::once(&from.relation)
                        .chain(from.joins.iter().map(|j| &j.relation));
                    for f in factors {
                        let TableFactor::Derived { alias: Some(a), .. } = f else {
                            return out;
                        };
                        match table_of(&a.name.value) {
                            Some(t) => out.extend(columns(t)),
                            None => return out,
                        }
                    }
                }
                continue;
            }
            _ => return out,
        };
        let hint = expr_hint(e, top, tables);
        out.push(hint);
    }
    out
}

/// The attribute type an expression of the first `SELECT` shows: a column of one of its
/// tables (`amount`, `s.amount`), or an aggregate of one (`count` is an integer; `sum`,
/// `total`, `min` and `max` of an attribute are of its type; `avg` of a number a decimal).
fn expr_hint(e: &Expr, top: &[(String, usize)], tables: &[Table]) -> Option<AttributeType> {
    let attribute = |t: &Table, name: &str| {
        if name == "id" {
            return Some(AttributeType::Reference);
        }
        t.live_columns()
            .find(|c| !c.sensitive() && c.name == name)
            .map(|c| c.ty)
    };
    match e {
        Expr::Identifier(i) => {
            let name = i.value.to_ascii_lowercase();
            let mut found = top
                .iter()
                .filter_map(|(_, t)| tables.get(*t))
                .filter_map(|t| attribute(t, &name));
            match (found.next(), found.next()) {
                (Some(ty), None) => Some(ty),
                _ => None,
            }
        }
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => top
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&parts[0].value))
            .and_then(|(_, i)| tables.get(*i))
            .and_then(|t| attribute(t, &parts[1].value.to_ascii_lowercase())),
        Expr::Nested(inner) => expr_hint(inner, top, tables),
        Expr::Function(f) if f.over.is_none() => {
            let name = f.name.to_string().to_ascii_lowercase();
            let arg = match &f.args {
                sqlparser::ast::FunctionArguments::List(l) => match l.args.first() {
                    Some(sqlparser::ast::FunctionArg::Unnamed(
                        sqlparser::ast::FunctionArgExpr::Expr(a),
                    )) => expr_hint(a, top, tables),
                    _ => None,
                },
                _ => None,
            };
            let numeric =
                |t: AttributeType| matches!(t, AttributeType::Integer | AttributeType::Decimal);
            match name.as_str() {
                "count" => Some(AttributeType::Integer),
                "sum" | "total" => arg.filter(|t| numeric(*t)),
                "min" | "max" => arg,
                "avg" => arg.filter(|t| numeric(*t)).map(|_| AttributeType::Decimal),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A value of a result column as the database gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Null.
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// An exact decimal, as text (PostgreSQL `NUMERIC`).
    Decimal(String),
    /// A boolean.
    Boolean(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A cell as the API shows it: as the attribute it reads shows its values when `hint` names
/// one (booleans as `true`/`false` also where SQLite keeps 0 and 1; decimals as strings),
/// otherwise numbers, strings, booleans as the database typed them; bytes in base64.
pub fn render(cell: &Cell, hint: Option<AttributeType>) -> Json {
    use base64::Engine as _;
    let decimal = |text: &str| match from_text(AttributeType::Decimal, text) {
        Ok(v) => v.to_json(),
        Err(_) => Json::String(text.to_owned()),
    };
    match (cell, hint) {
        (Cell::Null, _) => Json::Null,
        (Cell::Integer(i), Some(AttributeType::Boolean)) if *i == 0 || *i == 1 => {
            Json::Bool(*i == 1)
        }
        (Cell::Integer(i), Some(AttributeType::Decimal)) => Json::String(i.to_string()),
        (Cell::Integer(i), _) => Json::from(*i),
        // SQLite computes decimals as 64-bit floats: shown to the 15 significant digits
        // those keep.
        (Cell::Real(f), Some(AttributeType::Decimal)) if f.is_finite() => {
            let whole = if f.abs() >= 1.0 {
                f.abs().log10().floor() as i64 + 1
            } else {
                1
            };
            let places = usize::try_from((15 - whole).clamp(0, 15)).unwrap_or(0);
            decimal(&format!("{f:.places$}"))
        }
        (Cell::Real(f), Some(AttributeType::Integer)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Json::from(*f as i64)
        }
        (Cell::Decimal(t), Some(AttributeType::Integer)) if t.parse::<i64>().is_ok() => {
            Json::from(t.parse::<i64>().unwrap_or_default())
        }
        (Cell::Real(f), _) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        (Cell::Text(t), Some(AttributeType::Decimal)) | (Cell::Decimal(t), _) => decimal(t),
        (Cell::Text(t), _) => Json::String(t.clone()),
        (Cell::Boolean(b), _) => Json::Bool(*b),
        (Cell::Bytes(b), _) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}
