//! A list request of the data API (`?region=North&amount.gt=100&sort=-amount&limit=20`)
//! checked against a table, and compiled with the reader's row filter into one
//! parameterised statement.
//!
//! Nothing from the request reaches the SQL as text: attribute names are looked up in the
//! table (the SQL names the column the layout gave), operators come from a fixed list, and
//! every value is bound. The row-level rule runs in the same statement that reads the page,
//! in one of two shapes (the same rule):
//! - *walk* (large subtrees): the table in the page's order, each row tested by index probes
//!   of its owner's place in the hierarchy (one search by the owner's number) and of its
//!   grants, stopping after the page;
//! - *collect* (small subtrees): the first page of each part (the reader's own rows, the rows
//!   of each person below, the granted rows), merged; a reader with one part (nobody below
//!   them, no grants) gets that part's page straight from the owner index.
//!
//! Owners are tested by the hidden owner-number column (see [`crate::schema`]) where the
//! table has it; a row whose owner had no number when written, or a table laid out before
//! the column existed, looks its owner up by id. A number is never stale: users keep theirs
//! for good, and the column is cleared when the owner changes without it.

use std::fmt::Write as _;
use std::sync::Arc;

use rampart_model::format::AttributeType;
use serde_json::Value as Json;

use crate::ddl::{quote, Target};
use crate::schema::{Column, Dialect, Storage, Table, OWNER_NUM};
use crate::values::{from_text, FieldError, Value};

/// The page size when the request names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 500;

/// A comparison a filter makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal (null included).
    Ne,
    /// Less than.
    Lt,
    /// At most.
    Le,
    /// Greater than.
    Gt,
    /// At least.
    Ge,
    /// Contains the text (case-sensitive).
    Contains,
    /// Starts with the text (case-sensitive).
    StartsWith,
    /// Is (`true`) or is not (`false`) null.
    IsNull,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "contains" => Op::Contains,
            "starts_with" => Op::StartsWith,
            "is_null" => Op::IsNull,
            _ => return None,
        })
    }
}

/// One condition every listed row meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The attribute's column.
    pub column: Column,
    /// The comparison.
    pub op: Op,
    /// The value compared with. For a sensitive (unique) attribute, only `eq` is allowed and
    /// the caller replaces the plain value by its blind index ([`Value::Bytes`]) before
    /// compiling.
    pub value: Value,
}

/// The order of a page: by an attribute (nulls last), then by id; or by id alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sort {
    /// The attribute's column; `None` sorts by id (creation order).
    pub column: Option<Column>,
    /// Largest first.
    pub descending: bool,
}

/// Where the previous page ended: its last row's sort value and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's value of the sort attribute (null when sorted by id, or in the null
    /// tail).
    pub key: Value,
    /// The last row's id.
    pub id: String,
}

/// A checked list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// Conditions, all of which hold.
    pub filters: Vec<Filter>,
    /// The order.
    pub sort: Sort,
    /// Continue after this row.
    pub after: Option<Cursor>,
    /// Rows per page.
    pub limit: u32,
}

/// Reads a list request's query parameters: `attr=value` (equal), `attr.op=value`,
/// `sort=attr` or `sort=-attr`, `limit=N` (1 to 500), `cursor=…` (as a page gave it).
/// Every problem is reported, naming the parameter.
pub fn parse_list(
    table: &Table,
    params: &[(String, String)],
) -> Result<ListRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut request = ListRequest {
        filters: Vec::new(),
        sort: Sort::default(),
        after: None,
        limit: DEFAULT_LIMIT,
    };
    let mut cursor = None;
    let err = |name: &str, reason: String| FieldError {
        attribute: name.to_owned(),
        reason,
    };
    for (i, (name, value)) in params.iter().enumerate() {
        let control = matches!(name.as_str(), "limit" | "sort" | "cursor");
        if control && params[..i].iter().any(|(n, _)| n == name) {
            errors.push(err(name, "is given more than once".into()));
            continue;
        }
        match name.as_str() {
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => request.limit = n,
                _ => errors.push(err(name, format!("must be a number from 1 to {MAX_LIMIT}"))),
            },
            "sort" => {
                let (descending, attr) = match value.strip_prefix('-') {
                    Some(a) => (true, a),
                    None => (false, value.as_str()),
                };
                if attr == "id" {
                    request.sort = Sort {
                        column: None,
                        descending,
                    };
                    continue;
                }
                match table.column(attr) {
                    Some(c) if c.sensitive() => {
                        errors.push(err(
                            name,
                            format!("`{attr}` is encrypted and cannot be sorted by"),
                        ));
                    }
                    Some(c) => {
                        request.sort = Sort {
                            column: Some(c.clone()),
                            descending,
                        };
                    }
                    None => errors.push(err(
                        name,
                        format!("`{attr}` is not an attribute of `{}`", table.entity),
                    )),
                }
            }
            "cursor" => cursor = Some(value.clone()),
            _ => match filter(table, name, value) {
                Ok(f) => request.filters.push(f),
                Err(reason) => errors.push(err(name, reason)),
            },
        }
    }
    if let Some(text) = cursor {
        match decode_cursor_for(&request.sort, &text) {
            Some(c) => request.after = Some(c),
            None => errors.push(err(
                "cursor",
                "is not a cursor of this list in this order".into(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(request)
    } else {
        Err(errors)
    }
}

fn filter(table: &Table, name: &str, value: &str) -> Result<Filter, String> {
    let (attr, op) = match name.split_once('.') {
        Some((a, o)) => (
            a,
            Op::parse(o).ok_or_else(|| {
                format!("`{o}` is not an operator (eq ne lt le gt ge contains starts_with is_null)")
            })?,
        ),
        None => (name, Op::Eq),
    };
    let column = table.column(attr).ok_or_else(|| {
        format!(
            "`{attr}` is not an attribute of `{}`, nor `sort`, `limit` or `cursor`",
            table.entity
        )
    })?;
    if column.sensitive() && !(op == Op::Eq && column.unique) {
        return Err(format!(
            "`{attr}` is encrypted: only `{attr}=…` on a unique attribute can be filtered"
        ));
    }
    let value = match op {
        Op::IsNull => match value {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => return Err("is_null takes true or false".into()),
        },
        Op::Contains | Op::StartsWith => {
            if !matches!(column.ty, AttributeType::Text | AttributeType::Email) {
                return Err(format!("`{attr}` is not text"));
            }
            from_text(AttributeType::Text, value)?
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge if column.ty == AttributeType::Boolean => {
            return Err(format!(
                "`{attr}` is a boolean: only eq, ne and is_null apply"
            ));
        }
        _ => from_text(column.ty, value)?,
    };
    Ok(Filter {
        column: column.clone(),
        op,
        value,
    })
}

/// The cursor continuing after a row, for the next page's link.
pub fn encode_cursor(key: &Value, id: &str) -> String {
    let json = serde_json::json!([key.to_json(), id]).to_string();
    let mut out = String::with_capacity(json.len() * 2);
    for b in json.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The cursor `text` (as [`encode_cursor`] made it) for a list in order `sort`.
pub fn decode_cursor_for(sort: &Sort, text: &str) -> Option<Cursor> {
    if !text.len().is_multiple_of(2) || text.len() > 4096 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    let json: Json = serde_json::from_slice(&bytes?).ok()?;
    let [key, Json::String(id)] = json.as_array()?.as_slice() else {
        return None;
    };
    crate::values::from_text(AttributeType::Reference, id).ok()?;
    let key = match (&sort.column, key) {
        (_, Json::Null) => Value::Null,
        (None, _) => return None,
        (Some(c), Json::String(s)) => from_text(c.ty, s).ok()?,
        (Some(c), other) => crate::values::parse(c, other).ok()?,
    };
    Some(Cursor {
        key,
        id: id.to_ascii_lowercase(),
    })
}

/// Which rows of an entity with an ACL a reader may see, as the authorization index says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowFilter {
    /// Every row (no ACL, or the rule lets the reader read all).
    All,
    /// The ACL's rule for one reader.
    Rule(Rule),
}

impl RowFilter {
    /// Whether some rows come through grants.
    pub fn through_grants(&self) -> bool {
        matches!(self, RowFilter::Rule(rule) if !rule.grantees.is_empty())
    }

    /// The rows without those that come through grants only: what their owners and
    /// those above them reach.
    pub fn without_grants(mut self) -> RowFilter {
        if let RowFilter::Rule(rule) = &mut self {
            rule.grantees.clear();
        }
        self
    }
}

/// The row-level rule for one reader and one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The reader's user id: rows they own (owner rule).
    pub owner: Option<String>,
    /// Rows owned by anyone strictly below the reader: the hierarchy's number and the range
    /// of materialised paths below the reader's (exclusive bounds).
    pub below: Option<Below>,
    /// The reader's grantee principals (grant rule), with the action's bit.
    pub grantees: Vec<i64>,
    /// The action's bit in a grant's `actions`.
    pub action_bit: i64,
    /// Walk the table in order (large subtrees) rather than collect the parts.
    pub walk: bool,
}

/// Everyone strictly below a reader in a reports-to hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Below {
    /// The hierarchy's number.
    pub hierarchy: i64,
    /// Paths greater than this…
    pub lo: Vec<u8>,
    /// …and less than this.
    pub hi: Vec<u8>,
    /// For a walk that tests many rows: the reader and everyone below them as the
    /// authorization index has them, so that a row with an owner number is tested in the
    /// statement by one byte (or bit) of it, without reading the hierarchy's tables.
    /// `None`: each owner's path is searched.
    pub members: Option<Arc<MemberSet>>,
}

/// A set of user numbers in the two forms the databases test: one byte per number (SQLite
/// reads a byte of a blob) and one bit per number (PostgreSQL's `get_bit`, an eighth of the
/// bytes to send). Built once per reader and authorization revision and shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSet {
    bytes: Vec<u8>,
    bits: Vec<u8>,
}

impl MemberSet {
    /// The set whose members are the numbers `n` with `bytes[n] != 0`.
    pub fn new(bytes: Vec<u8>) -> Self {
        let bits = bytes
            .chunks(8)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u8, |acc, (i, &b)| acc | (u8::from(b != 0) << i))
            })
            .collect();
        MemberSet { bytes, bits }
    }

    /// One byte per number, 1 for a member.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// One bit per number, least significant bit first (PostgreSQL's `get_bit` order).
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// How many numbers the set covers (members or not).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the set covers no number.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len() + self.bits.len()
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// Null.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A statement and its values, `$1`, `$2`, … in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Compiled {
    /// The SQL.
    pub sql: String,
    /// The values.
    pub binds: Vec<Bind>,
    /// Whether the statement's best plan is the same whatever its values: a primary-key
    /// read, a walk of the table in id order, or a reader's own rows by the owner index,
    /// with no attribute filter or sort whose selectivity would change the plan. Such a
    /// statement may stay prepared on PostgreSQL and run on a generic plan; any other is
    /// planned afresh with its values.
    pub plan_once: bool,
}

impl Compiled {
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
}

/// The columns a page reads, in this order: `id`, `_version`, `_created_at`, `_updated_at`,
/// then the live attributes' columns as [`Table::live_columns`] gives them.
/// Decimals are read as their text on PostgreSQL (`NUMERIC` has no lossless Rust type here).
pub fn select_list(d: Dialect, table: &Table, alias: &str) -> String {
    let mut cols = vec![
        format!("{alias}.\"id\""),
        format!("{alias}.\"_version\""),
        format!("{alias}.\"_created_at\""),
        format!("{alias}.\"_updated_at\""),
    ];
    cols.extend(table.live_columns().map(|c| {
        let col = format!("{alias}.{}", quote(&c.name));
        match (c.storage, d) {
            (Storage::Decimal, Dialect::Postgres) => format!("CAST({col} AS TEXT)"),
            _ => col,
        }
    }));
    cols.join(", ")
}

/// A placeholder as a column of `storage` takes it in a write (PostgreSQL's `NUMERIC` takes
/// a decimal's text through a cast).
pub fn write_placeholder(d: Dialect, storage: Storage, placeholder: &str) -> String {
    match (storage, d) {
        (Storage::Decimal, Dialect::Postgres) => format!("CAST({placeholder} AS NUMERIC)"),
        _ => placeholder.to_owned(),
    }
}

/// Where the platform's authorization tables are, from an application database's
/// statements: the attached platform database on SQLite, the platform's schema on
/// PostgreSQL.
pub fn platform_table(target: &Target, name: &str) -> String {
    match target.dialect {
        Dialect::Sqlite => format!("\"platform\".{}", quote(name)),
        Dialect::Postgres => format!("\"public\".{}", quote(name)),
    }
}

/// One page (`limit + 1` rows, so the caller knows whether another follows) of what the
/// reader may see, filtered, in order.
pub fn compile_list(
    target: &Target,
    table: &Table,
    request: &ListRequest,
    rows: &RowFilter,
) -> Compiled {
    let mut c = Compiled::default();
    let t = target.table(&table.name);
    let sk = sort_key(target.dialect, &request.sort);
    let order = order_by(&request.sort, &sk);
    let mut conds = Vec::new();
    for f in &request.filters {
        conds.push(condition(target.dialect, f, &mut c));
    }
    if let Some(after) = &request.after {
        conds.push(cursor_condition(
            target.dialect,
            &request.sort,
            &sk,
            after,
            &mut c,
        ));
    }
    let limit = i64::from(request.limit) + 1;
    let select = select_list(target.dialect, table, "t");
    // Only the order and the row rule shape the plan; the cursor is a range on the order.
    let plain = request.filters.is_empty() && request.sort.column.is_none();
    let rule = match rows {
        RowFilter::Rule(rule) if table.acl.is_some() => rule,
        _ => {
            let limit = c.bind(Bind::Int(limit));
            c.sql = format!(
                "SELECT {select} FROM {t} t{} ORDER BY {order} LIMIT {limit}",
                where_(&conds)
            );
            c.plan_once = plain;
            return c;
        }
    };
    if rule.walk {
        conds.push(rule_condition(target, table, rule, &mut c));
        let limit = c.bind(Bind::Int(limit));
        c.sql = format!(
            "SELECT {select} FROM {t} t{} ORDER BY {order} LIMIT {limit}",
            where_(&conds)
        );
        c.plan_once = plain;
        return c;
    }
    // Collect: the first page of each part, by id; then the page of their union (or the
    // one part's page itself, as for a reader nobody reports to).
    let mut parts: Vec<(String, Vec<String>)> = Vec::new();
    if let (Some(owner), Some(me)) = (table.owner_column(), &rule.owner) {
        let me = c.bind(Bind::Text(me.clone()));
        parts.push((
            format!("{t} t"),
            vec![format!("t.{} = {me}", quote(&owner.name))],
        ));
        if let Some(below) = &rule.below {
            parts.extend(below_parts(target, table, owner, below, &mut c));
        }
    }
    // Grants: one part per principal (a record has at most one grant row per principal, so
    // no part holds a record twice and each part's first page is a true first page).
    if let (Some(grants), false) = (table.grants_table(), rule.grantees.is_empty()) {
        let bit = c.bind(Bind::Int(rule.action_bit));
        for p in &rule.grantees {
            let p = c.bind(Bind::Int(*p));
            parts.push((
                format!(
                    "{} g JOIN {t} t ON t.\"id\" = g.\"record_id\"",
                    target.table(&grants)
                ),
                vec![format!(
                    "g.\"principal\" = {p} AND (g.\"actions\" & {bit}) = {bit}"
                )],
            ));
        }
    }
    let limit = c.bind(Bind::Int(limit));
    let with_conds = |mut part_conds: Vec<String>| {
        part_conds.extend(conds.iter().cloned());
        where_(&part_conds)
    };
    if parts.is_empty() {
        parts.push((format!("{t} t"), vec!["1 = 0".into()]));
    }
    if parts.len() == 1 {
        // A reader's own rows (or one principal's grants): one index range in id order.
        if let Some((from, part_conds)) = parts.pop() {
            c.sql = format!(
                "SELECT {select} FROM {from}{} ORDER BY {order} LIMIT {limit}",
                with_conds(part_conds)
            );
            c.plan_once = plain;
            return c;
        }
    }
    let union = parts
        .into_iter()
        .enumerate()
        .map(|(i, (from, part_conds))| {
            format!(
                "SELECT \"id\" FROM (SELECT t.\"id\" FROM {from}{} ORDER BY {order} LIMIT {limit}) AS p{i}",
                with_conds(part_conds)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    c.sql = format!(
        "SELECT {select} FROM {t} t WHERE t.\"id\" IN ({union}) ORDER BY {order} LIMIT {limit}"
    );
    c
}

/// The collect shape's parts for the rows of everyone strictly below the reader: by owner
/// number from the range of paths (the owner-number index gives each owner's rows in id
/// order), and the rows whose owner had no number when written, each looked up by id; on a
/// table without owner numbers, every owner looked up by id.
fn below_parts(
    target: &Target,
    table: &Table,
    owner: &Column,
    below: &Below,
    c: &mut Compiled,
) -> Vec<(String, Vec<String>)> {
    let t = target.table(&table.name);
    let (h, lo, hi) = (
        c.bind(Bind::Int(below.hierarchy)),
        c.bind(Bind::Bytes(below.lo.clone())),
        c.bind(Bind::Bytes(below.hi.clone())),
    );
    let paths = platform_table(target, "authz_node_paths");
    let users = platform_table(target, "authz_users");
    let range = format!("n.\"hierarchy_num\" = {h} AND n.\"path\" > {lo} AND n.\"path\" < {hi}");
    match table.owner_num() {
        Some(num) => vec![
            (
                format!(
                    "{paths} n JOIN {t} t ON t.{} = n.\"node_num\"",
                    quote(num)
                ),
                vec![range.clone()],
            ),
            (
                format!("{t} t"),
                vec![
                    format!("t.{} IS NULL", quote(num)),
                    format!(
                        "EXISTS (SELECT 1 FROM {paths} n WHERE n.\"node_num\" = {} AND {range})",
                        owner_lookup(target, owner)
                    ),
                ],
            ),
        ],
        None => vec![(
            format!(
                "{paths} n JOIN {users} u ON u.\"num\" = n.\"node_num\" JOIN {t} t ON t.{} = u.\"user_id\"",
                quote(&owner.name)
            ),
            vec![range],
        )],
    }
}

/// Row `t`'s owner's number, looked up by their user id (null if they have none).
fn owner_lookup(target: &Target, owner: &Column) -> String {
    format!(
        "(SELECT u.\"num\" FROM {} u WHERE u.\"user_id\" = t.{})",
        platform_table(target, "authz_users"),
        quote(&owner.name)
    )
}

/// One record by id, if the reader may see it (for writes: `rows` made for the write bit).
pub fn compile_get(target: &Target, table: &Table, id: &str, rows: &RowFilter) -> Compiled {
    let mut c = Compiled::default();
    let t = target.table(&table.name);
    let id = c.bind(Bind::Text(id.to_owned()));
    let mut conds = vec![format!("t.\"id\" = {id}")];
    if let (RowFilter::Rule(rule), Some(_)) = (rows, &table.acl) {
        conds.push(rule_condition(target, table, rule, &mut c));
    }
    c.sql = format!(
        "SELECT {} FROM {t} t{}",
        select_list(target.dialect, table, "t"),
        where_(&conds)
    );
    // One row by its primary key, whatever the rule adds.
    c.plan_once = true;
    c
}

/// The row rule as one condition on row `t`: its owner is the reader, or someone below
/// them (a probe of the owner's path), or a grant names one of the reader's principals;
/// with none of these to go by, nothing passes.
fn rule_condition(target: &Target, table: &Table, rule: &Rule, c: &mut Compiled) -> String {
    let mut tests = Vec::new();
    if let (Some(owner), Some(me)) = (table.owner_column(), &rule.owner) {
        let me = c.bind(Bind::Text(me.clone()));
        let own = format!("t.{} = {me}", quote(&owner.name));
        match &rule.below {
            // A row with an owner number: one byte of the member set; without one, its
            // owner by id, or their path searched.
            Some(
                below @ Below {
                    members: Some(m), ..
                },
            ) if table.owner_num().is_some() => {
                let num = format!("t.{}", quote(OWNER_NUM));
                let len = c.bind(Bind::Int(i64::try_from(m.len()).unwrap_or(i64::MAX)));
                // SQLite reads a byte of a blob; PostgreSQL reads a bit (an eighth of the
                // bytes to send and plan with).
                let byte = match target.dialect {
                    Dialect::Sqlite => {
                        let set = c.bind(Bind::Bytes(m.bytes().to_vec()));
                        format!("substr({set}, {num} + 1, 1) = X'01'")
                    }
                    Dialect::Postgres => {
                        let set = c.bind(Bind::Bytes(m.bits().to_vec()));
                        format!("get_bit({set}, CAST({num} AS INTEGER)) = 1")
                    }
                };
                let probe = below_probe(target, table, owner, below, c);
                tests.push(format!(
                    "(CASE WHEN {num} IS NULL THEN ({own} OR EXISTS ({probe})) \
                     WHEN {num} < {len} THEN {byte} ELSE FALSE END)"
                ));
            }
            Some(below) => {
                tests.push(own);
                tests.push(format!(
                    "EXISTS ({})",
                    below_probe(target, table, owner, below, c)
                ));
            }
            None => tests.push(own),
        }
    }
    if let (Some(grants), false) = (table.grants_table(), rule.grantees.is_empty()) {
        tests.push(format!(
            "EXISTS ({})",
            grant_probe(target, &grants, rule, c)
        ));
    }
    if tests.is_empty() {
        tests.push("1 = 0".into());
    }
    format!("({})", tests.join(" OR "))
}

/// Whether row `t`'s owner is strictly below the reader: one search of the owner's path by
/// their number (from the owner-number column, or looked up by id when it has none).
fn below_probe(
    target: &Target,
    table: &Table,
    owner: &Column,
    below: &Below,
    c: &mut Compiled,
) -> String {
    let (h, lo, hi) = (
        c.bind(Bind::Int(below.hierarchy)),
        c.bind(Bind::Bytes(below.lo.clone())),
        c.bind(Bind::Bytes(below.hi.clone())),
    );
    let num = match table.owner_num() {
        Some(num) => format!(
            "COALESCE(t.{}, {})",
            quote(num),
            owner_lookup(target, owner)
        ),
        None => owner_lookup(target, owner),
    };
    format!(
        "SELECT 1 FROM {} n WHERE n.\"hierarchy_num\" = {h} AND n.\"node_num\" = {num} \
         AND n.\"path\" > {lo} AND n.\"path\" < {hi}",
        platform_table(target, "authz_node_paths"),
    )
}

fn grant_probe(target: &Target, grants: &str, rule: &Rule, c: &mut Compiled) -> String {
    let list = principals(rule, c);
    let bit = c.bind(Bind::Int(rule.action_bit));
    format!(
        "SELECT 1 FROM {} g WHERE g.\"record_id\" = t.\"id\" AND g.\"principal\" IN ({list}) \
         AND (g.\"actions\" & {bit}) = {bit}",
        target.table(grants)
    )
}

fn principals(rule: &Rule, c: &mut Compiled) -> String {
    rule.grantees
        .iter()
        .map(|p| c.bind(Bind::Int(*p)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn where_(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// The expression a sort or comparison reads: decimals compare as numbers on SQLite, which
/// keeps them as text.
fn column_expr(d: Dialect, column: &Column) -> String {
    let col = format!("t.{}", quote(&column.name));
    match (column.storage, d) {
        (Storage::Decimal, Dialect::Sqlite) => format!("CAST({col} AS REAL)"),
        _ => col,
    }
}

/// A bound value as the column compares it.
fn value_expr(d: Dialect, column: &Column, value: &Value, c: &mut Compiled) -> String {
    let p = c.bind(bind_of(value));
    match (column.storage, d) {
        (Storage::Decimal, Dialect::Sqlite) => format!("CAST({p} AS REAL)"),
        (Storage::Decimal, Dialect::Postgres) => format!("CAST({p} AS NUMERIC)"),
        _ => p,
    }
}

/// How a value is bound.
pub fn bind_of(value: &Value) -> Bind {
    match value {
        Value::Null => Bind::Null,
        Value::Text(t) | Value::Decimal(t) => Bind::Text(t.clone()),
        Value::Integer(i) => Bind::Int(*i),
        Value::Boolean(b) => Bind::Bool(*b),
        Value::Bytes(b) => Bind::Bytes(b.clone()),
    }
}

fn condition(d: Dialect, f: &Filter, c: &mut Compiled) -> String {
    if f.column.sensitive() {
        // Equality through the blind index (the caller put the index in `value`).
        let bi = f.column.blind_index().unwrap_or_default();
        let p = c.bind(bind_of(&f.value));
        return format!("t.{} = {p}", quote(&bi));
    }
    let col = column_expr(d, &f.column);
    match f.op {
        Op::IsNull => {
            let negate = if f.value == Value::Boolean(true) {
                ""
            } else {
                " NOT"
            };
            format!("{col} IS{negate} NULL")
        }
        Op::Contains => {
            let p = c.bind(bind_of(&f.value));
            match d {
                Dialect::Sqlite => format!("instr({col}, {p}) > 0"),
                Dialect::Postgres => format!("strpos({col}, {p}) > 0"),
            }
        }
        Op::StartsWith => {
            let p = c.bind(bind_of(&f.value));
            format!("substr({col}, 1, length({p})) = {p}")
        }
        Op::Ne => {
            let v = value_expr(d, &f.column, &f.value, c);
            format!("({col} <> {v} OR {col} IS NULL)")
        }
        op => {
            let v = value_expr(d, &f.column, &f.value, c);
            let sym = match op {
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                Op::Ge => ">=",
                _ => "=",
            };
            format!("{col} {sym} {v}")
        }
    }
}

fn sort_key(d: Dialect, sort: &Sort) -> String {
    match &sort.column {
        Some(column) => column_expr(d, column),
        None => "t.\"id\"".into(),
    }
}

fn order_by(sort: &Sort, sk: &str) -> String {
    let dir = if sort.descending { " DESC" } else { "" };
    match &sort.column {
        Some(_) => format!("({sk} IS NULL), {sk}{dir}, t.\"id\""),
        None => format!("t.\"id\"{dir}"),
    }
}

fn cursor_condition(d: Dialect, sort: &Sort, sk: &str, after: &Cursor, c: &mut Compiled) -> String {
    let id = c.bind(Bind::Text(after.id.clone()));
    let Some(column) = &sort.column else {
        let cmp = if sort.descending { "<" } else { ">" };
        return format!("t.\"id\" {cmp} {id}");
    };
    if after.key == Value::Null {
        return format!("({sk} IS NULL AND t.\"id\" > {id})");
    }
    let a = value_expr(d, column, &after.key, c);
    let cmp = if sort.descending { "<" } else { ">" };
    format!("({sk} {cmp} {a} OR ({sk} = {a} AND t.\"id\" > {id}) OR {sk} IS NULL)")
}
