//! Filters (RFC 7644 §3.4.2.2): parsed into a [`Filter`], evaluated against a resource.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! compValue = false / null / true / number / string
//! ```
//!
//! `not` binds tightest, then `and`, then `or`; operators and keywords are matched ignoring
//! case. Inside a value path the paths name the attribute's sub-attributes
//! (`emails[type eq "work" and value co "@example.com"]`). A filter longer than
//! [`MAX_LEN`] bytes or nested deeper than [`MAX_DEPTH`] is refused, so no client can make
//! the parser recurse without bound. Type errors a filter carries in itself (`gt true`,
//! `co 5`) are refused when it is parsed; evaluation cannot fail.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::path::AttrPath;
use crate::schema::{Schema, Scope};
use crate::ScimError;

/// The longest filter accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (strings).
    Co,
    /// Starts with (strings).
    Sw,
    /// Ends with (strings).
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl Op {
    /// Every operator, for tests.
    pub const ALL: [Op; 9] = [
        Op::Eq,
        Op::Ne,
        Op::Co,
        Op::Sw,
        Op::Ew,
        Op::Gt,
        Op::Ge,
        Op::Lt,
        Op::Le,
    ];

    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Co => "co",
            Op::Sw => "sw",
            Op::Ew => "ew",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// It does not hold.
    Not(Box<Filter>),
    /// `attr pr`.
    Present(AttrPath),
    /// `attr op value`.
    Compare(AttrPath, Op, Value),
    /// `attr[filter]`: one of the attribute's values satisfies the inner filter.
    Values(AttrPath, Box<Filter>),
}

impl Filter {
    /// Parses a filter.
    pub fn parse(text: &str) -> Result<Filter, ScimError> {
        if text.len() > MAX_LEN {
            return Err(ScimError::filter(format!(
                "the filter is longer than {MAX_LEN} bytes"
            )));
        }
        let mut p = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        let f = p.or()?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.error("an operator or the end of the filter"));
        }
        Ok(f)
    }

    /// Whether `resource` (a User or Group as JSON) satisfies the filter.
    pub fn matches(&self, schema: Schema, resource: &Value) -> bool {
        eval(self, schema, None, resource)
    }
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start_matches([' ', '\t', '\n', '\r']);
        self.pos = self.text.len() - trimmed.len();
    }

    fn error(&self, wanted: &str) -> ScimError {
        let near: String = self.rest().chars().take(20).collect();
        if near.is_empty() {
            ScimError::filter(format!("expected {wanted} at the end of the filter"))
        } else {
            ScimError::filter(format!(
                "expected {wanted} at byte {} (near {near:?})",
                self.pos
            ))
        }
    }

    /// The next word (a run of characters up to a space, bracket or parenthesis), not
    /// consumed.
    fn peek_word(&self) -> &str {
        let rest = self.rest();
        let end = rest
            .find([' ', '\t', '\n', '\r', '(', ')', '[', ']', '"'])
            .unwrap_or(rest.len());
        &rest[..end]
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        if self.peek_word().eq_ignore_ascii_case(kw) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn punct(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::filter(format!(
                "the filter is nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        self.skip_ws();
        if self.peek_word().eq_ignore_ascii_case("not") {
            let save = self.pos;
            self.pos += 3;
            if self.punct('(') {
                self.enter()?;
                let inner = self.or()?;
                if !self.punct(')') {
                    return Err(self.error("')'"));
                }
                self.depth -= 1;
                return Ok(Filter::Not(Box::new(inner)));
            }
            self.pos = save;
        }
        if self.punct('(') {
            self.enter()?;
            let inner = self.or()?;
            if !self.punct(')') {
                return Err(self.error("')'"));
            }
            self.depth -= 1;
            return Ok(inner);
        }
        let word = self.peek_word();
        let Some(path) = AttrPath::parse(word) else {
            return Err(self.error("an attribute path"));
        };
        self.pos += word.len();
        if self.rest().starts_with('[') {
            self.pos += 1;
            self.enter()?;
            let inner = self.or()?;
            if !self.punct(']') {
                return Err(self.error("']'"));
            }
            self.depth -= 1;
            if path.sub.is_some() {
                return Err(ScimError::filter(format!(
                    "{path}[…]: a value filter applies to an attribute, not a sub-attribute"
                )));
            }
            return Ok(Filter::Values(path, Box::new(inner)));
        }
        self.skip_ws();
        let word = self.peek_word();
        if word.eq_ignore_ascii_case("pr") {
            self.pos += 2;
            return Ok(Filter::Present(path));
        }
        let Some(op) = Op::parse(word) else {
            return Err(self.error("an operator (eq ne co sw ew gt ge lt le pr)"));
        };
        self.pos += 2;
        let value = self.value()?;
        check_operands(&path, op, &value)?;
        Ok(Filter::Compare(path, op, value))
    }

    fn value(&mut self) -> Result<Value, ScimError> {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with('"') {
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            if i >= bytes.len() {
                return Err(ScimError::filter("a string is not closed"));
            }
            let lit = &rest[..=i];
            let v: Value = serde_json::from_str(lit)
                .map_err(|_| ScimError::filter(format!("{lit} is not a valid string")))?;
            self.pos += lit.len();
            return Ok(v);
        }
        let word = self.peek_word();
        let v = match word {
            w if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            w if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            w if w.eq_ignore_ascii_case("null") => Value::Null,
            w => match serde_json::from_str::<Value>(w) {
                Ok(n @ Value::Number(_)) => n,
                _ => return Err(self.error("a value (a string, a number, true, false or null)")),
            },
        };
        self.pos += word.len();
        Ok(v)
    }
}

fn check_operands(path: &AttrPath, op: Op, value: &Value) -> Result<(), ScimError> {
    let ok = matches!(
        (op, value),
        (Op::Eq | Op::Ne, _)
            | (Op::Co | Op::Sw | Op::Ew, Value::String(_))
            | (
                Op::Gt | Op::Ge | Op::Lt | Op::Le,
                Value::String(_) | Value::Number(_)
            )
    );
    if ok {
        Ok(())
    } else {
        Err(ScimError::filter(format!(
            "{path} {} {value}: the operator does not apply to that value",
            op.as_str()
        )))
    }
}

/// The member of `obj` called `name`, ignoring case.
pub fn get_ci<'v>(obj: &'v Value, name: &str) -> Option<&'v Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The values a path names in `node`: a multi-valued attribute's elements, a complex
/// multi-valued attribute's `value`s when no sub-attribute is named. `inside` says `node`
/// is an element a value filter looks at.
fn values<'v>(path: &AttrPath, inside: bool, node: &'v Value) -> Vec<&'v Value> {
    let mut out = Vec::new();
    let Some(top) = get_ci(node, &path.attr) else {
        return out;
    };
    let items: Vec<&Value> = match top {
        Value::Array(xs) => xs.iter().collect(),
        other => vec![other],
    };
    for item in items {
        match (&path.sub, item) {
            (Some(sub), Value::Object(_)) => match get_ci(item, sub) {
                Some(Value::Array(xs)) => out.extend(xs.iter()),
                Some(v) => out.push(v),
                None => {}
            },
            (Some(_), _) => {}
            (None, Value::Object(_)) if !inside => {
                out.extend(get_ci(item, "value"));
            }
            (None, v) => out.push(v),
        }
    }
    out
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(xs) => !xs.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The attribute a value filter looks inside: its scope and name.
type Parent<'p> = Option<(Scope, &'p str)>;

/// The values a path names, and whether they compare respecting case: at the top level the
/// path's scope says where the attribute lives (an extension's object for its URN); inside a
/// value filter, the element holds it. `None` when the path names no attribute of `schema`.
fn lookup<'v>(
    schema: Schema,
    parent: Parent<'_>,
    path: &AttrPath,
    node: &'v Value,
) -> Option<(Vec<&'v Value>, bool)> {
    let scope = schema.scope(path)?;
    Some(match parent {
        Some((s, p)) => (values(path, true, node), s.case_exact(p, Some(&path.attr))),
        None => (
            scope
                .node(node)
                .map(|n| values(path, false, n))
                .unwrap_or_default(),
            scope.case_exact(&path.attr, path.sub.as_deref()),
        ),
    })
}

fn eval(f: &Filter, schema: Schema, parent: Parent<'_>, node: &Value) -> bool {
    match f {
        Filter::And(a, b) => eval(a, schema, parent, node) && eval(b, schema, parent, node),
        Filter::Or(a, b) => eval(a, schema, parent, node) || eval(b, schema, parent, node),
        Filter::Not(a) => !eval(a, schema, parent, node),
        Filter::Present(path) => lookup(schema, parent, path, node)
            .is_some_and(|(vals, _)| vals.into_iter().any(present)),
        Filter::Compare(path, op, lit) => {
            let Some((vals, exact)) = lookup(schema, parent, path, node) else {
                return *op == Op::Ne;
            };
            match op {
                Op::Ne => !vals.iter().any(|v| compare(v, Op::Eq, lit, exact)),
                Op::Eq if lit.is_null() => !vals.into_iter().any(present),
                _ => vals.iter().any(|v| compare(v, *op, lit, exact)),
            }
        }
        Filter::Values(path, inner) => {
            let Some(scope) = schema.scope(path) else {
                return false;
            };
            let Some(top) = scope.node(node).and_then(|n| get_ci(n, &path.attr)) else {
                return false;
            };
            let items: Vec<&Value> = match top {
                Value::Array(xs) => xs.iter().collect(),
                other => vec![other],
            };
            items
                .into_iter()
                .any(|item| eval(inner, schema, Some((scope, &path.attr)), item))
        }
    }
}

/// One value against a literal, with the attribute's case rule.
pub fn compare(v: &Value, op: Op, lit: &Value, case_exact: bool) -> bool {
    match (v, lit) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            let ord = a.partial_cmp(&b);
            match op {
                Op::Eq => ord == Some(Ordering::Equal),
                Op::Ne => ord != Some(Ordering::Equal),
                Op::Gt => ord == Some(Ordering::Greater),
                Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                Op::Lt => ord == Some(Ordering::Less),
                Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        _ => op == Op::Ne,
    }
}

impl fmt::Display for Filter {
    /// The filter written back, every binary operation in parentheses, so parsing it again
    /// gives the same filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
            Filter::Not(a) => write!(f, "not ({a})"),
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Filter::Values(p, inner) => write!(f, "{p}[{inner}]"),
        }
    }
}
