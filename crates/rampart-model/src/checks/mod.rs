//! The security checks: what a module lets happen that a security reviewer would stop,
//! found in the model before it is published (no I/O; the caller hands over the module, its
//! source for positions, and the dependencies' models it has).
//!
//! **Data flow, not keywords** ([`flow`]). Values are followed from their sources (screen,
//! action and query parameters, stored text attributes of records users write, integration
//! answers) through `assign`, `args`, `values`, `into` and `run` (into this module's actions
//! and, when their models are given, dependencies' actions) to the sinks: `inline`
//! parameters of advanced SQL, `unescaped` text widgets, link and redirect targets, and the
//! path of an integration call. A constant, a typed value (a number, a date, a record id) or
//! a value from a fixed list reaching a sink is not a finding; the sanitisers
//! (`encode_sql`, `encode_html`, `same_site`, `one_of`, a query parameter's `choices`) clear
//! the sinks they are made for. The other rules read the model's settings ([`access`]) and
//! its literal text ([`secrets`]).
//!
//! **A finding's identity** is its rule id and its element path
//! (`sales-ui › queries.CustomerRevenue › parameters.sort`): names, not positions, for
//! named elements, so it stays the same across versions while the element does, and an
//! acceptance recorded against it lapses when a later version no longer has it.
//! Findings come in a stable order: by place in the module, then by rule.

mod access;
mod flow;
pub mod rules;
pub mod sarif;
mod secrets;
mod values;

use crate::diagnostic::{Diagnostics, Pos};
use crate::format::Module;

pub use rules::{rule, rules, Rule, Severity};

/// One thing the checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: &'static Rule,
    /// Its severity (the rule's).
    pub severity: Severity,
    /// The element, for people and as half of the finding's identity:
    /// `sales-ui › screens.CustomerDetail › widgets.2`.
    pub element: String,
    /// The path of the value in the file (`screens.2.widgets.2.value`), which places it.
    pub path: String,
    /// Where the value starts, when the source was given.
    pub pos: Option<Pos>,
    /// What is wrong, naming where the value comes from.
    pub message: String,
    /// How to fix it in the model.
    pub fix: String,
}

impl Finding {
    /// The finding's identity across versions: `RS001 sales-ui › queries.Q › parameters.p`.
    pub fn key(&self) -> String {
        format!("{} {}", self.rule.id, self.element)
    }
}

/// A place in the module: the value's path and the element's name, built together.
#[derive(Debug, Clone)]
pub(crate) struct Loc {
    path: String,
    element: String,
}

impl Loc {
    fn root(m: &Module) -> Loc {
        Loc {
            path: String::new(),
            element: m.module.clone(),
        }
    }

    /// An element of a named list: `screens.2` in the file, `screens.Customers` for people.
    fn named(&self, list: &str, index: usize, name: &str) -> Loc {
        Loc {
            path: join(&self.path, &format!("{list}.{index}")),
            element: format!("{} › {list}.{name}", self.element),
        }
    }

    /// An element of an unnamed list, or a keyed entry: `widgets.2`, `args.sort`.
    fn item(&self, list: &str, key: impl std::fmt::Display) -> Loc {
        Loc {
            path: join(&self.path, &format!("{list}.{key}")),
            element: format!("{} › {list}.{key}", self.element),
        }
    }

    /// A part of this element named in both: `on_denied.redirect`.
    fn key(&self, key: &str) -> Loc {
        Loc {
            path: join(&self.path, key),
            element: format!("{} › {key}", self.element),
        }
    }

    /// A field of this element: in the path only.
    fn field(&self, field: &str) -> Loc {
        Loc {
            path: join(&self.path, field),
            element: self.element.clone(),
        }
    }

    fn finding(&self, rule: &'static Rule, message: String) -> Finding {
        Finding {
            rule,
            severity: rule.severity,
            element: self.element.clone(),
            path: self.path.clone(),
            pos: None,
            message,
            fix: rule.help.to_owned(),
        }
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_owned()
    } else {
        format!("{a}.{b}")
    }
}

/// The findings of `module`, whose dependencies' models (those the caller has) are `deps`.
pub fn check(module: &Module, deps: &[&Module]) -> Vec<Finding> {
    let mut out = Vec::new();
    flow::check(module, deps, &mut out);
    access::check(module, deps, &mut out);
    secrets::check(module, &mut out);
    let mut keyed: Vec<(Vec<Segment>, Finding)> =
        out.into_iter().map(|f| (segments(&f.path), f)).collect();
    keyed.sort_by(|(a, f), (b, g)| a.cmp(b).then(f.rule.id.cmp(g.rule.id)));
    keyed.dedup_by(|(_, f), (_, g)| f.rule.id == g.rule.id && f.element == g.element);
    keyed.into_iter().map(|(_, f)| f).collect()
}

/// Parses `text` (the module file `file`) and checks it, each finding placed at its line
/// and column. A file that does not parse or validate gives its diagnostics instead.
pub fn check_source(file: &str, text: &str, deps: &[&Module]) -> Result<Vec<Finding>, Diagnostics> {
    let module = crate::parse(file, text)?;
    let mut findings = check(&module, deps);
    if let Ok(doc) = crate::source::read(text) {
        for f in &mut findings {
            f.pos = Some(doc.position(&f.path));
        }
    }
    Ok(findings)
}

/// A path segment, ordered as numbers where it is one (so `widgets.10` follows
/// `widgets.9`).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Index(usize),
    Key(String),
}

fn segments(path: &str) -> Vec<Segment> {
    path.split('.')
        .map(|s| match s.parse() {
            Ok(n) => Segment::Index(n),
            Err(_) => Segment::Key(s.to_owned()),
        })
        .collect()
}
