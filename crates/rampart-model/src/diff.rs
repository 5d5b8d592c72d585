//! The difference between two versions of a module: structured (elements added, removed
//! and changed, with each changed field's old and new value) and line by line (a unified
//! diff of the sources), as JSON or as text for a terminal.
//!
//! Elements are matched by name (dependencies by module), so reordering a list is not a
//! change; inside an element, lists of named things (attributes, parameters, methods) are
//! matched by name too, and other lists compare whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};
use utoipa::ToSchema;

use crate::format::Module;

/// What changed between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModuleDiff {
    /// Changes to the module's own fields (name, application, kind, description, format).
    pub module: Vec<FieldChange>,
    /// Per kind of element (`roles`, `entities`, `queries`, `screens`, `actions`,
    /// `integrations`, `properties`, `dependencies`), only kinds with changes.
    pub elements: BTreeMap<String, SectionDiff>,
    /// The line diff of the sources.
    pub lines: LineDiff,
}

/// The changes within one kind of element.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct SectionDiff {
    /// Names of elements only in the newer version.
    pub added: Vec<String>,
    /// Names of elements only in the older version.
    pub removed: Vec<String>,
    /// Elements in both that differ.
    pub changed: Vec<ElementChange>,
}

/// One element that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ElementChange {
    /// The element's name.
    pub name: String,
    /// Each field that differs.
    pub fields: Vec<FieldChange>,
}

/// One field that differs: its path inside the element (named list items by name, e.g.
/// `attributes.email.required`) and the two values (absent when the field is absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    /// The field's path.
    pub path: String,
    /// The older value: any JSON value (a string, a number, a list, an object…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// The newer value: any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
}

/// A unified diff of the sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LineDiff {
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// The unified diff text (three lines of context).
    pub unified: String,
}

impl ModuleDiff {
    /// No difference at all, structured or textual.
    pub fn is_empty(&self) -> bool {
        self.module.is_empty() && self.elements.is_empty() && self.lines.unified.is_empty()
    }
}

/// The difference from `old` to `new`, whose sources are `old_text` and `new_text`, labelled
/// `old_label` and `new_label` in the line diff.
pub fn diff(
    old: &Module,
    new: &Module,
    (old_label, old_text): (&str, &str),
    (new_label, new_text): (&str, &str),
) -> ModuleDiff {
    let mut module = Vec::new();
    let (a, b) = (to_value(old), to_value(new));
    for key in ["format", "module", "application", "kind", "description"] {
        let (x, y) = (a.get(key), b.get(key));
        if x != y {
            module.push(FieldChange {
                path: key.to_owned(),
                from: x.cloned(),
                to: y.cloned(),
            });
        }
    }
    let mut elements = BTreeMap::new();
    for (section, key) in [
        ("roles", "name"),
        ("entities", "name"),
        ("queries", "name"),
        ("screens", "name"),
        ("actions", "name"),
        ("integrations", "name"),
        ("properties", "name"),
        ("dependencies", "module"),
    ] {
        let s = section_diff(a.get(section), b.get(section), key);
        if s != SectionDiff::default() {
            elements.insert(section.to_owned(), s);
        }
    }
    ModuleDiff {
        module,
        elements,
        lines: line_diff((old_label, old_text), (new_label, new_text)),
    }
}

fn to_value(m: &Module) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

fn keyed<'v>(list: Option<&'v Value>, key: &str) -> Vec<(String, &'v Value)> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|v| {
                    let name = v.get(key).and_then(Value::as_str).unwrap_or_default();
                    (name.to_owned(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn section_diff(old: Option<&Value>, new: Option<&Value>, key: &str) -> SectionDiff {
    let old = keyed(old, key);
    let new = keyed(new, key);
    let old_map: BTreeMap<&str, &Value> = old.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let new_map: BTreeMap<&str, &Value> = new.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let mut out = SectionDiff::default();
    for (name, _) in &new {
        if !old_map.contains_key(name.as_str()) {
            out.added.push(name.clone());
        }
    }
    for (name, v) in &old {
        match new_map.get(name.as_str()) {
            None => out.removed.push(name.clone()),
            Some(w) if w != v => {
                let mut fields = Vec::new();
                value_diff("", v, w, &mut fields);
                out.changed.push(ElementChange {
                    name: name.clone(),
                    fields,
                });
            }
            Some(_) => {}
        }
    }
    out
}

/// Lists of objects that all carry a `name` are matched by it.
fn named_items(v: &Value) -> Option<BTreeMap<&str, &Value>> {
    let items = v.as_array()?;
    let mut out = BTreeMap::new();
    for item in items {
        let name = item.get("name")?.as_str()?;
        if out.insert(name, item).is_some() {
            return None;
        }
    }
    Some(out)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn value_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<FieldChange>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = join(path, k);
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => value_diff(&p, u, v, out),
                    (u, v) => out.push(FieldChange {
                        path: p,
                        from: u.cloned(),
                        to: v.cloned(),
                    }),
                }
            }
        }
        (Value::Array(_), Value::Array(_)) => match (named_items(a), named_items(b)) {
            (Some(x), Some(y)) if !x.is_empty() || !y.is_empty() => {
                let keys: std::collections::BTreeSet<&&str> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = join(path, k);
                    match (x.get(*k), y.get(*k)) {
                        (Some(u), Some(v)) => value_diff(&p, u, v, out),
                        (u, v) => out.push(FieldChange {
                            path: p,
                            from: u.map(|v| (*v).clone()),
                            to: v.map(|v| (*v).clone()),
                        }),
                    }
                }
            }
            _ => out.push(FieldChange {
                path: path.to_owned(),
                from: Some(a.clone()),
                to: Some(b.clone()),
            }),
        },
        _ => out.push(FieldChange {
            path: path.to_owned(),
            from: Some(a.clone()),
            to: Some(b.clone()),
        }),
    }
}

fn line_diff((old_label, old): (&str, &str), (new_label, new): (&str, &str)) -> LineDiff {
    let d = TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for op in d.ops() {
        for change in d.iter_changes(op) {
            match change.tag() {
                ChangeTag::Insert => added += 1,
                ChangeTag::Delete => removed += 1,
                ChangeTag::Equal => {}
            }
        }
    }
    let unified = if added + removed == 0 {
        String::new()
    } else {
        d.unified_diff()
            .context_radius(3)
            .header(old_label, new_label)
            .to_string()
    };
    LineDiff {
        added,
        removed,
        unified,
    }
}

/// Terminal colours, or none.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

impl ModuleDiff {
    /// The diff as text for a terminal: the structured summary, then the line diff;
    /// `colour` adds ANSI colours (green added, red removed, yellow changed).
    pub fn render(&self, colour: bool) -> String {
        let p = Paint(colour);
        let mut out = String::new();
        if self.is_empty() {
            return "no differences\n".to_owned();
        }
        for c in &self.module {
            let _ = writeln!(
                out,
                "{} module {}: {} → {}",
                p.wrap("33", "~"),
                c.path,
                show(&c.from),
                show(&c.to)
            );
        }
        for (section, s) in &self.elements {
            let _ = writeln!(out, "{}", p.wrap("1", section));
            for name in &s.added {
                let _ = writeln!(out, "  {} {name}", p.wrap("32", "+"));
            }
            for name in &s.removed {
                let _ = writeln!(out, "  {} {name}", p.wrap("31", "-"));
            }
            for c in &s.changed {
                let _ = writeln!(out, "  {} {}", p.wrap("33", "~"), c.name);
                for f in &c.fields {
                    let _ = writeln!(out, "      {}: {} → {}", f.path, show(&f.from), show(&f.to));
                }
            }
        }
        if !self.lines.unified.is_empty() {
            let _ = writeln!(
                out,
                "\n{} lines added, {} removed",
                self.lines.added, self.lines.removed
            );
            for line in self.lines.unified.lines() {
                let styled = if line.starts_with("+++") || line.starts_with("---") {
                    p.wrap("1", line)
                } else if line.starts_with('+') {
                    p.wrap("32", line)
                } else if line.starts_with('-') {
                    p.wrap("31", line)
                } else if line.starts_with("@@") {
                    p.wrap("36", line)
                } else {
                    line.to_owned()
                };
                let _ = writeln!(out, "{styled}");
            }
        }
        out
    }
}
