//! Advanced SQL: what a query's `sql` may contain, judged on the statement a SQL parser
//! (`sqlparser`) reads from it, never on its text.
//!
//! **The rule.** The text is exactly one `SELECT` (set operations and `WITH`, recursive or
//! not, allowed), with
//! - tables named by one plain identifier (no schema, no table-valued function), each a
//!   `WITH` name in scope or a table the caller resolves (the runtime: an entity of the
//!   module or of its dependencies, in one database);
//! - functions from [`FUNCTIONS`] only, casts to plain types only, and the common
//!   expressions (comparisons, arithmetic, `CASE`, `IN`, `BETWEEN`, `LIKE`, `EXISTS`,
//!   subqueries, windows): no `INTO`, no locking clause, no `FETCH`, no dialect extensions;
//! - no name beginning with `_` (the platform's own columns and tables, and the names this
//!   module gives `WITH` tables, all begin so);
//! - parameters written `:name` only (no `$1`, `?` or `@x`), each resolved by the caller;
//! - no `LIMIT`/`OFFSET` at the top level: the page is the runtime's.
//!
//! **Inline parameters** are written into the text before it is read ([`expand_inline`]), so
//! whatever a value holds, the statement that runs is one that passed this rule.
//!
//! **What comes out** ([`check`]): the statement with every table reference handed to the
//! caller's [`Resolver`] (the runtime puts a subquery with the row rule in its place), every
//! `WITH` table renamed `_rq_cte_<n>` (a name no real table has, so a reference the
//! databases would not resolve to it fails instead of reaching a table), and every parameter
//! replaced by the caller's expression. The runtime renders it with `to_string()`; the text
//! the database sees is the rendering of a checked tree, never the author's text.
//!
//! **Bounds.** At most [`MAX_TEXT`] bytes and [`MAX_TOKENS`] tokens after inline values are
//! written in; the parser nests at most 50 deep. Deeper trees would exhaust the stack of
//! whoever walks, prints or drops them.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident, InTarget,
    JoinOperator, LimitClause, ObjectName, ObjectNamePart, OrderByKind, OrderBySort, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, SetOperator, Statement, TableAlias,
    TableFactor, TableWithJoins, Value, ValueWithSpan, VisitMut, VisitorMut,
    WildcardAdditionalOptions,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

mod allow;

pub use allow::FUNCTIONS;

/// The longest statement, in bytes, once inline values are written in.
pub const MAX_TEXT: usize = 32 * 1024;
/// The most tokens (whitespace and comments aside) a statement may have.
pub const MAX_TOKENS: usize = 2_000;

/// What a statement's tables and parameters become: the caller's side of [`check`].
pub trait Resolver {
    /// The subquery standing for table `name` (lower case), read as `alias`; `top` when the
    /// reference is in the `FROM` of the statement's first `SELECT` (its columns are the
    /// result's). An `Err` names why the table cannot be read.
    fn table(&mut self, name: &str, alias: &str, top: bool) -> Result<Box<Query>, String>;
    /// The expression standing for parameter `:name`.
    fn parameter(&mut self, name: &str) -> Result<Expr, String>;
    /// Whether a column may be named (`name` in lower case); an `Err` says why not.
    fn column(&mut self, name: &str) -> Result<(), String>;
}

/// The text of `sql` with each `:name` for which `inline` gives a value replaced by that
/// value, as it is. Only whole `:name` tokens are replaced (not inside quotes or comments).
pub fn expand_inline(sql: &str, inline: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .with_unescape(false)
        .tokenize()
        .map_err(|e| format!("the SQL does not read: {e}"))?;
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (Token::Colon, Some(Token::Word(w))) = (&tokens[i], tokens.get(i + 1)) {
            if w.quote_style.is_none() {
                if let Some(value) = inline(&w.value) {
                    out.push_str(&value);
                    i += 2;
                    continue;
                }
            }
        }
        out.push_str(&tokens[i].to_string());
        i += 1;
    }
    Ok(out)
}

/// Checks `sql` against the rule above and hands its tables and parameters to `resolver`;
/// the statement that may run, or every reason it may not (the first few).
pub fn check(sql: &str, resolver: &mut dyn Resolver) -> Result<Box<Query>, Vec<String>> {
    if sql.len() > MAX_TEXT {
        return Err(vec![format!(
            "the statement is longer than {MAX_TEXT} bytes"
        )]);
    }
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| vec![format!("the SQL does not read: {e}")])?;
    let count = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .count();
    if count > MAX_TOKENS {
        return Err(vec![format!(
            "the statement has more than {MAX_TOKENS} tokens"
        )]);
    }
    let mut statements = Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| vec![format!("the SQL does not read: {e}")])?;
    if statements.len() != 1 {
        return Err(vec![format!(
            "the SQL is {} statements; an advanced query is exactly one SELECT",
            statements.len()
        )]);
    }
    let mut statement = statements.remove(0);
    let Statement::Query(query) = &statement else {
        let word = statement
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        return Err(vec![format!(
            "the SQL is a {word} statement; an advanced query is one SELECT, which only reads"
        )]);
    };
    if let Some(limit) = &query.limit_clause {
        return Err(vec![format!(
            "`{limit}` at the end of the statement: the page is the query's `limit` and the \
             caller's `limit` and `cursor`"
        )]);
    }
    if query.fetch.is_some() {
        return Err(vec![
            "`FETCH` is not allowed; the page is the query's `limit`".into(),
        ]);
    }
    let mut walk = Walk {
        resolver,
        problems: Vec::new(),
        scopes: Vec::new(),
        ctes: 0,
        statements: 0,
        queries: 0,
        top_select: None,
        selects: Vec::new(),
        next_select: 0,
    };
    let _ = statement.visit(&mut walk);
    if !walk.problems.is_empty() {
        walk.problems.truncate(5);
        return Err(walk.problems);
    }
    match statement {
        Statement::Query(query) => Ok(query),
        _ => Err(vec!["the SQL is not a SELECT".into()]),
    }
}

/// Reads `text` as one query (the runtime's own subqueries, never an author's text).
pub fn parse_query(text: &str) -> Result<Box<Query>, String> {
    match Parser::parse_sql(&GenericDialect {}, text) {
        Ok(mut s) if s.len() == 1 => match s.remove(0) {
            Statement::Query(q) => Ok(q),
            other => Err(format!("not a query: {other}")),
        },
        Ok(_) => Err("not one statement".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads `text` as one expression (the runtime's own, never an author's text).
pub fn parse_expr(text: &str) -> Result<Expr, String> {
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| e.to_string())
}

/// The walk over a statement: checks each node as it enters it, replaces tables and
/// parameters as it leaves them (so nothing it puts in is walked again).
struct Walk<'r> {
    resolver: &'r mut dyn Resolver,
    problems: Vec<String>,
    /// The `WITH` names in scope, innermost last: (name in lower case, new name).
    scopes: Vec<Vec<(String, String)>>,
    ctes: usize,
    statements: usize,
    /// Queries entered and not yet left.
    queries: usize,
    /// The number of the statement's first `SELECT` (whose `FROM` makes the result).
    top_select: Option<usize>,
    /// The `SELECT`s entered and not yet left, by number.
    selects: Vec<usize>,
    next_select: usize,
}

impl Walk<'_> {
    fn refuse(&mut self, why: impl Into<String>) {
        let why = why.into();
        if !self.problems.contains(&why) {
            self.problems.push(why);
        }
    }

    fn cte(&self, name: &str) -> Option<&str> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter())
            .find(|(n, _)| n == name)
            .map(|(_, new)| new.as_str())
    }

    fn set_expr(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => {}
            SetExpr::SetOperation {
                left, op, right, ..
            } => {
                if *op == SetOperator::Minus {
                    self.refuse("`MINUS` is not allowed; write `EXCEPT`");
                }
                self.set_expr(left);
                self.set_expr(right);
            }
            SetExpr::Table(_) => self.refuse("`TABLE name` is not allowed; write a SELECT"),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                self.refuse("an advanced query only reads: no INSERT, UPDATE, DELETE or MERGE")
            }
        }
    }

    fn joins(&mut self, from: &[TableWithJoins]) {
        for j in from.iter().flat_map(|t| &t.joins) {
            let ok = matches!(
                j.join_operator,
                JoinOperator::Join(_)
                    | JoinOperator::Inner(_)
                    | JoinOperator::Left(_)
                    | JoinOperator::LeftOuter(_)
                    | JoinOperator::Right(_)
                    | JoinOperator::RightOuter(_)
                    | JoinOperator::FullOuter(_)
                    | JoinOperator::CrossJoin(_)
            ) && !j.global;
            if !ok {
                self.refuse("only INNER, LEFT, RIGHT, FULL and CROSS joins are allowed");
            }
        }
    }

    fn wildcard(&mut self, w: &WildcardAdditionalOptions) {
        if w.opt_ilike.is_some()
            || w.opt_exclude.is_some()
            || w.opt_except.is_some()
            || w.opt_replace.is_some()
            || w.opt_rename.is_some()
            || w.opt_alias.is_some()
        {
            self.refuse("`*` takes no options here");
        }
    }

    fn select(&mut self, s: &Select) {
        let extra = !s.optimizer_hints.is_empty()
            || s.select_modifiers.is_some()
            || s.top.is_some()
            || s.exclude.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || s.qualify.is_some()
            || s.value_table_mode.is_some()
            || s.flavor != sqlparser::ast::SelectFlavor::Standard;
        if s.into.is_some() {
            self.refuse("`SELECT … INTO` writes a table: not allowed");
        }
        if extra {
            self.refuse("the SELECT uses a clause of another SQL dialect");
        }
        match &s.group_by {
            sqlparser::ast::GroupByExpr::Expressions(_, modifiers) if modifiers.is_empty() => {}
            _ => self.refuse("GROUP BY takes expressions only (no ALL, ROLLUP or CUBE)"),
        }
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. } => {}
                SelectItem::ExprWithAliases { .. } => {
                    self.refuse("a column takes one alias");
                }
                SelectItem::Wildcard(w) => self.wildcard(w),
                SelectItem::QualifiedWildcard(kind, w) => {
                    self.wildcard(w);
                    match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(n) if n.0.len() == 1 => {}
                        _ => self.refuse("`name.*` takes one table name"),
                    }
                }
            }
        }
        self.joins(&s.from);
    }

    fn function(&mut self, f: &sqlparser::ast::Function) {
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i.value.to_ascii_lowercase(),
            _ => {
                self.refuse(format!(
                    "function `{}`: functions are named without a schema",
                    f.name
                ));
                return;
            }
        };
        if !FUNCTIONS.contains(&name.as_str()) {
            self.refuse(format!(
                "function `{name}` is not allowed in advanced SQL (allowed: {})",
                FUNCTIONS.join(", ")
            ));
        }
        if f.uses_odbc_syntax
            || !matches!(f.parameters, FunctionArguments::None)
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
        {
            self.refuse(format!("function `{name}`: a form of another SQL dialect"));
        }
        match &f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(_) => {
                self.refuse(format!("function `{name}` takes values, not a query"))
            }
            FunctionArguments::List(list) => {
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(_))
                        | FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => {}
                        _ => self.refuse(format!(
                            "function `{name}`: arguments are values (or `*`), unnamed"
                        )),
                    }
                }
                for c in &list.clauses {
                    if !matches!(c, FunctionArgumentClause::OrderBy(_)) {
                        self.refuse(format!(
                            "function `{name}`: only ORDER BY may follow the arguments"
                        ));
                    }
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Identifier(i) => self.column(i),
            Expr::CompoundIdentifier(parts) => {
                if parts.len() > 2 {
                    self.refuse(format!(
                        "`{}`: a column is named `column` or `table.column`",
                        ObjectName::from(parts.clone())
                    ));
                }
                if let Some(last) = parts.last() {
                    self.column(last);
                }
            }
            Expr::In { target, global, .. } => {
                if *global || !matches!(target, InTarget::List(_) | InTarget::Subquery(_)) {
                    self.refuse("IN takes a list of values or a subquery");
                }
            }
            Expr::BinaryOp { op, .. } => {
                if !allow::binary(op) {
                    self.refuse(format!("operator `{op}` is not allowed in advanced SQL"));
                }
            }
            Expr::UnaryOp { op, .. } => {
                if !allow::unary(op) {
                    self.refuse(format!("operator `{op}` is not allowed in advanced SQL"));
                }
            }
            Expr::Like { any, .. } | Expr::ILike { any, .. } => {
                if *any {
                    self.refuse("LIKE ANY is not allowed");
                }
            }
            Expr::Cast {
                kind,
                data_type,
                format,
                ..
            } => {
                if *kind != sqlparser::ast::CastKind::Cast {
                    self.refuse("write casts as `CAST(value AS type)`");
                }
                if format.is_some() || !allow::data_type(data_type) {
                    self.refuse(format!("CAST to `{data_type}` is not allowed"));
                }
            }
            Expr::TypedString(t) => {
                if !allow::data_type(&t.data_type) {
                    self.refuse(format!(
                        "a literal of type `{}` is not allowed",
                        t.data_type
                    ));
                }
            }
            Expr::Collate { collation, .. } => {
                if collation.0.len() != 1 {
                    self.refuse("a collation is named without a schema");
                }
            }
            Expr::Function(f) => self.function(f),
            Expr::Value(_)
            | Expr::Nested(_)
            | Expr::IsFalse(_)
            | Expr::IsNotFalse(_)
            | Expr::IsTrue(_)
            | Expr::IsNotTrue(_)
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsUnknown(_)
            | Expr::IsNotUnknown(_)
            | Expr::IsDistinctFrom(_, _)
            | Expr::IsNotDistinctFrom(_, _)
            | Expr::Between { .. }
            | Expr::Extract { .. }
            | Expr::Position { .. }
            | Expr::Substring { .. }
            | Expr::Trim { .. }
            | Expr::Case { .. }
            | Expr::Exists { .. }
            | Expr::Subquery(_)
            | Expr::Tuple(_) => {}
            other => {
                let text = other.to_string();
                let shown: String = text.chars().take(40).collect();
                self.refuse(format!(
                    "the expression `{shown}` is of a kind advanced SQL does not allow"
                ));
            }
        }
    }

    fn column(&mut self, i: &Ident) {
        // Names PostgreSQL reads as functions without parentheses (who the session is).
        const SESSION: &[&str] = &[
            "user",
            "current_user",
            "current_role",
            "session_user",
            "system_user",
            "current_schema",
            "current_catalog",
        ];
        let lower = i.value.to_ascii_lowercase();
        if i.quote_style.is_none() && SESSION.contains(&lower.as_str()) {
            self.refuse(format!(
                "`{}` names the database session: not allowed",
                i.value
            ));
        }
        if let Err(why) = self.resolver.column(&lower) {
            self.refuse(why);
        }
    }

    fn table_factor(&mut self, t: &TableFactor) {
        match t {
            TableFactor::Table {
                name,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_directives,
                inheritance,
                ..
            } => {
                if name.0.len() != 1 || !matches!(name.0[0], ObjectNamePart::Identifier(_)) {
                    self.refuse(format!(
                        "table `{name}`: tables are named without a schema or database"
                    ));
                }
                let extra = args.is_some()
                    || !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_directives.is_empty()
                    || inheritance.is_some();
                if extra {
                    self.refuse(format!(
                        "table `{name}`: a table is read as it is (no function, hint or sample)"
                    ));
                }
            }
            TableFactor::Derived { sample, .. } => {
                if sample.is_some() {
                    self.refuse("a subquery takes no sample");
                }
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.joins(std::slice::from_ref(table_with_joins)),
            _ => self.refuse(
                "FROM takes tables, subqueries and joins only (no table functions, UNNEST or PIVOT)",
            ),
        }
    }

    /// The reference to a table replaced: by its `WITH` table's new name, or by the
    /// resolver's subquery.
    fn replace_table(&mut self, t: &mut TableFactor) {
        let TableFactor::Table { name, alias, .. } = t else {
            return;
        };
        let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
            return;
        };
        let ident = ident.clone();
        let lower = ident.value.to_ascii_lowercase();
        let mut alias = alias.clone().unwrap_or(TableAlias {
            explicit: true,
            name: ident.clone(),
            columns: Vec::new(),
            at: None,
        });
        alias.explicit = true;
        if let Some(new) = self.cte(&lower).map(str::to_owned) {
            *name = ObjectName::from(vec![Ident::new(new)]);
            if let TableFactor::Table { alias: a, .. } = t {
                *a = Some(alias);
            }
            return;
        }
        let top = self.queries == 1 && self.selects.last() == self.top_select.as_ref();
        let alias_name = alias.name.value.to_ascii_lowercase();
        match self.resolver.table(&lower, &alias_name, top) {
            Ok(subquery) => {
                *t = TableFactor::Derived {
                    lateral: false,
                    subquery,
                    alias: Some(alias),
                    sample: None,
                };
            }
            Err(why) => self.refuse(why),
        }
    }
}

impl VisitorMut for Walk<'_> {
    type Break = ();

    fn pre_visit_statement(&mut self, _: &mut Statement) -> ControlFlow<()> {
        self.statements += 1;
        if self.statements > 1 {
            self.refuse("an advanced query is one SELECT, with no statement inside it");
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        self.queries += 1;
        self.set_expr(&q.body);
        let extra = q.fetch.is_some()
            || !q.locks.is_empty()
            || q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty();
        if extra {
            self.refuse("the query uses a clause that is not allowed (FOR UPDATE, FETCH, FOR …)");
        }
        if let Some(o) = &q.order_by {
            match &o.kind {
                OrderByKind::Expressions(list) if o.interpolate.is_none() => {
                    for e in list {
                        if e.with_fill.is_some()
                            || matches!(e.options.sort, Some(OrderBySort::Using(_)))
                        {
                            self.refuse("ORDER BY takes expressions with ASC, DESC and NULLS only");
                        }
                    }
                }
                _ => self.refuse("ORDER BY takes expressions (not ALL)"),
            }
        }
        if let Some(LimitClause::LimitOffset { limit_by, .. }) = &q.limit_clause {
            if !limit_by.is_empty() {
                self.refuse("`LIMIT … BY` is not allowed");
            }
        } else if q.limit_clause.is_some() {
            self.refuse("write `LIMIT n OFFSET m`");
        }
        let mut scope = Vec::new();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                if cte.from.is_some() {
                    self.refuse("a WITH table takes no FROM after its name");
                }
                self.ctes += 1;
                scope.push((
                    cte.alias.name.value.to_ascii_lowercase(),
                    format!("_rq_cte_{}", self.ctes),
                ));
            }
        }
        self.scopes.push(scope);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        self.queries = self.queries.saturating_sub(1);
        let scope = self.scopes.pop().unwrap_or_default();
        if let Some(with) = &mut q.with {
            for (cte, (_, new)) in with.cte_tables.iter_mut().zip(scope) {
                cte.alias.name = Ident::new(new);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        self.next_select += 1;
        if self.queries == 1 && self.top_select.is_none() {
            self.top_select = Some(self.next_select);
        }
        self.selects.push(self.next_select);
        self.select(s);
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _: &mut Select) -> ControlFlow<()> {
        self.selects.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        self.table_factor(t);
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        if self.problems.is_empty() {
            self.replace_table(t);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        self.expr(e);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let name = match e {
            Expr::Value(ValueWithSpan {
                value: Value::Placeholder(p),
                ..
            }) => p.strip_prefix(':').map(str::to_owned),
            _ => None,
        };
        if let Some(name) = name {
            match self.resolver.parameter(&name) {
                Ok(replacement) => *e = replacement,
                Err(why) => self.refuse(why),
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, v: &mut ValueWithSpan) -> ControlFlow<()> {
        // Literals both databases read alike (no `$$…$$`, `E'…'` or `N'…'`: their text could
        // read as something else, a parameter included, in the other database).
        let plain = matches!(
            v.value,
            Value::Number(..)
                | Value::SingleQuotedString(_)
                | Value::HexStringLiteral(_)
                | Value::Boolean(_)
                | Value::Null
                | Value::Placeholder(_)
        );
        if !plain {
            self.refuse(format!(
                "the literal `{}` is of a form advanced SQL does not allow; write text in single quotes",
                v.value
            ));
        }
        if let Value::Placeholder(p) = &v.value {
            let named = p.strip_prefix(':').is_some_and(|n| {
                n.starts_with(|c: char| c.is_ascii_alphabetic())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if !named {
                self.refuse(format!(
                    "parameter `{p}`: parameters are written `:name`, declared under `parameters`"
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, i: &mut Ident) -> ControlFlow<()> {
        if i.value.starts_with('_') {
            self.refuse(format!(
                "`{}`: names beginning with `_` are the platform's",
                i.value
            ));
        }
        if !matches!(i.quote_style, None | Some('"')) {
            self.refuse(format!(
                "`{}`: names are quoted with double quotes, if at all",
                i.value
            ));
        }
        if i.quote_style.is_none() && i.value.contains('$') {
            self.refuse(format!("`{}`: a name without quotes has no `$`", i.value));
        }
        ControlFlow::Continue(())
    }
}

/// What publishing checks of query `q` of module `m`: its `sql` follows the rule above, names
/// tables of the module's entities (all in one database) or entities it lists under
/// `dependencies`, and no sensitive attribute of the module. Inline parameters are read as
/// values here (their text comes at run time, and is checked again then).
pub fn check_query(m: &crate::Module, q: &crate::format::Query) -> Vec<String> {
    let Some(sql) = &q.sql else {
        return Vec::new();
    };
    struct Publish<'m> {
        m: &'m crate::Module,
        databases: std::collections::BTreeSet<&'m str>,
    }
    impl Resolver for Publish<'_> {
        fn table(&mut self, name: &str, _: &str, _: bool) -> Result<Box<Query>, String> {
            if let Some(e) = self
                .m
                .entities
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(name))
            {
                self.databases.insert(&e.database);
            } else if !self
                .m
                .dependencies
                .iter()
                .any(|d| d.entities.iter().any(|e| e.eq_ignore_ascii_case(name)))
            {
                return Err(format!(
                    "table `{name}` is not an entity of this module nor one it lists under `dependencies`"
                ));
            }
            parse_query("SELECT 1").map_err(|e| format!("internal: {e}"))
        }
        fn parameter(&mut self, _: &str) -> Result<Expr, String> {
            parse_expr("NULL")
        }
        fn column(&mut self, name: &str) -> Result<(), String> {
            let sensitive = self.m.entities.iter().any(|e| {
                e.attributes
                    .iter()
                    .any(|a| a.sensitive && a.name.eq_ignore_ascii_case(name))
            });
            if sensitive {
                return Err(format!(
                    "`{name}` is a sensitive attribute: it is encrypted at rest and SQL cannot read it"
                ));
            }
            Ok(())
        }
    }
    let mut publish = Publish {
        m,
        databases: Default::default(),
    };
    let own_db = m
        .entities
        .iter()
        .find(|e| e.name == q.entity)
        .map(|e| e.database.as_str());
    let mut problems = match check(sql, &mut publish) {
        Ok(_) => Vec::new(),
        Err(mut problems) => {
            if q.parameters.iter().any(|p| p.inline) {
                for p in problems
                    .iter_mut()
                    .filter(|p| p.starts_with("the SQL does not read"))
                {
                    p.push_str(" (an inline parameter stands where a value or an expression may)");
                }
            }
            problems
        }
    };
    let mut dbs = publish.databases;
    if let Some(db) = own_db {
        dbs.insert(db);
    }
    if dbs.len() > 1 {
        problems.push(format!(
            "the SQL reads entities of several databases ({}): a query reads one",
            dbs.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    problems
}
