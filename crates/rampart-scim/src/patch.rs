//! PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove`, with or without a path, with
//! value-selection filters (`members[value eq "…"]`, `emails[type eq "work"].value`).
//!
//! [`apply`] works on a copy and answers the resource the operations leave, validated
//! against the schema as a PUT would be; any refusal leaves the caller's resource as it
//! was, so a PATCH applies all of its operations or none. The rules beyond the RFC's text:
//! - `add` or `replace` with `attr[filter].sub` and no matching value, when the filter is
//!   one `eq` (`emails[type eq "work"].value`), adds a value with that sub-attribute (what
//!   directories such as Entra ID send for a first work address); otherwise `replace`
//!   with no match is `noTarget`.
//! - `remove` of `attr` with a `value` list removes the listed values (compared by their
//!   `value` sub-attribute) and leaves the others, as `remove` of `members` with the
//!   members to drop.
//! - `remove` with a filter that matches nothing changes nothing.
//! - readOnly attributes (`id`, `meta`, `groups`) are `mutability`; so is replacing or
//!   removing an immutable sub-attribute of a value already there.
//! - An extension's attributes are written with its URN before their name
//!   (`urn:…:enterprise:2.0:User:department`), or all at once with the URN alone as the
//!   path (or as a member of a value without path) and an object of attributes, which are
//!   merged in as `add` merges a complex value; `remove` of the URN alone removes them all.
//! - A string given for a complex single-valued attribute with a `value` sub-attribute is
//!   that `value` (`"path": "…:manager", "value": "<id>"`, as Entra ID sends a manager).

use serde_json::{Map, Value};

use crate::filter::{get_ci, Filter, Op};
use crate::path::AttrPath;
use crate::schema::{self, find, Attr, Extension, Mutability, Schema, Scope, Type};
use crate::{ScimError, PATCH_URN};

/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// A PATCH path: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (its sub-attribute when no filter is written).
    pub path: AttrPath,
    /// The value filter.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a path of a PATCH operation.
    pub fn parse(text: &str) -> Result<PatchPath, ScimError> {
        let bad = || ScimError::path(format!("{text:?} is not an attribute path"));
        let Some(open) = text.find('[') else {
            return Ok(PatchPath {
                path: AttrPath::parse(text).ok_or_else(bad)?,
                filter: None,
                sub: None,
            });
        };
        let close = text.rfind(']').ok_or_else(bad)?;
        if close < open {
            return Err(bad());
        }
        let path = AttrPath::parse(&text[..open]).ok_or_else(bad)?;
        if path.sub.is_some() {
            return Err(bad());
        }
        let filter = Filter::parse(&text[open + 1..close])?;
        let sub = match &text[close + 1..] {
            "" => None,
            tail => {
                let s = tail.strip_prefix('.').ok_or_else(bad)?;
                if !crate::path::is_name(s) {
                    return Err(bad());
                }
                Some(s.to_owned())
            }
        };
        Ok(PatchPath {
            path,
            filter: Some(filter),
            sub,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies a PATCH request body to `current` (a canonical resource without `id` and `meta`)
/// and answers the canonical resource it leaves.
pub fn apply(
    schema: Schema,
    current: &Map<String, Value>,
    body: &Value,
) -> Result<Map<String, Value>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::syntax("the PATCH body must be a JSON object"));
    };
    let named = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(PATCH_URN)));
    if !named {
        return Err(ScimError::syntax(format!(
            "schemas must be a list naming {PATCH_URN}"
        )));
    }
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| ScimError::syntax("Operations must be a list of one or more operations"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            "tooMany",
            format!("a PATCH may carry at most {MAX_OPERATIONS} operations"),
        ));
    }
    let mut doc = current.clone();
    for (i, op) in ops.iter().enumerate() {
        let kind = match get_ci(op, "op").and_then(Value::as_str) {
            Some(o) if o.eq_ignore_ascii_case("add") => Kind::Add,
            Some(o) if o.eq_ignore_ascii_case("replace") => Kind::Replace,
            Some(o) if o.eq_ignore_ascii_case("remove") => Kind::Remove,
            _ => {
                return Err(ScimError::syntax(format!(
                    "Operations[{i}].op must be add, replace or remove"
                )))
            }
        };
        let path = match get_ci(op, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(match schema.extension(p) {
                Some(ext) => Target::Extension(ext),
                None => Target::Path(PatchPath::parse(p)?),
            }),
            Some(_) => {
                return Err(ScimError::path(format!(
                    "Operations[{i}].path must be a string"
                )))
            }
        };
        let value = get_ci(op, "value");
        match (kind, path) {
            (Kind::Remove, None) => {
                return Err(ScimError::no_target(format!(
                    "Operations[{i}]: remove needs a path"
                )))
            }
            (Kind::Remove, Some(Target::Extension(ext))) => {
                take(&mut doc, ext.urn);
            }
            (Kind::Remove, Some(Target::Path(p))) => remove(schema, &mut doc, &p, value)?,
            (_, None) => {
                let Some(Value::Object(members)) = value else {
                    return Err(ScimError::value(format!(
                        "Operations[{i}]: without a path, value must be an object of attributes"
                    )));
                };
                for (key, v) in members {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    match schema.extension(key) {
                        Some(ext) => set_extension(schema, &mut doc, ext, v, kind)?,
                        None => set(schema, &mut doc, &PatchPath::parse(key)?, v, kind)?,
                    }
                }
            }
            (_, Some(target)) => {
                let Some(v) = value else {
                    return Err(ScimError::value(format!("Operations[{i}] needs a value")));
                };
                match target {
                    Target::Extension(ext) => set_extension(schema, &mut doc, ext, v, kind)?,
                    Target::Path(p) => set(schema, &mut doc, &p, v, kind)?,
                }
            }
        }
    }
    let mut whole = Value::Object(doc);
    if let Some(obj) = whole.as_object_mut() {
        obj.insert("schemas".into(), Value::Array(vec![schema.urn().into()]));
    }
    schema::validate(schema, &whole)
}

/// What an operation's path names.
enum Target {
    /// An attribute, a sub-attribute or values of one.
    Path(PatchPath),
    /// An extension's attributes, all at once.
    Extension(&'static Extension),
}

/// `add` or `replace` of an extension's attributes, each merged in as its own operation.
fn set_extension(
    schema: Schema,
    doc: &mut Map<String, Value>,
    ext: &'static Extension,
    v: &Value,
    kind: Kind,
) -> Result<(), ScimError> {
    let Value::Object(members) = v else {
        return Err(ScimError::value(format!(
            "{} takes an object of the extension's attributes",
            ext.urn
        )));
    };
    for (name, v) in members {
        if name.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let p = PatchPath::parse(&format!("{}:{name}", ext.urn))?;
        set(schema, doc, &p, v, kind)?;
    }
    Ok(())
}

/// Runs `f` on the object holding `scope`'s attributes in `doc`: the resource itself, or an
/// extension's object, made when missing and dropped when left empty.
fn within<R>(
    doc: &mut Map<String, Value>,
    scope: Scope,
    f: impl FnOnce(&mut Map<String, Value>) -> Result<R, ScimError>,
) -> Result<R, ScimError> {
    let Some(urn) = scope.key() else {
        return f(doc);
    };
    let mut inner = match take(doc, urn) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let r = f(&mut inner);
    if !inner.is_empty() {
        doc.insert(urn.to_owned(), Value::Object(inner));
    }
    r
}

/// The attribute a path names, refused when unknown or readOnly.
fn target(
    schema: Schema,
    p: &PatchPath,
) -> Result<(Scope, &'static Attr, Option<&'static Attr>), ScimError> {
    let scope = schema.scope(&p.path).ok_or_else(|| {
        ScimError::path(format!(
            "{} is not an attribute of {}",
            p.path,
            schema.name()
        ))
    })?;
    let at = scope.attr(&p.path.attr).ok_or_else(|| {
        ScimError::path(format!(
            "{} is not an attribute of {}",
            p.path.attr,
            schema.name()
        ))
    })?;
    if at.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!("{} is read-only", at.name)));
    }
    let sub_name = p.path.sub.as_deref().or(p.sub.as_deref());
    let sub = match sub_name {
        None => None,
        Some(s) => Some(find(at.sub, s).ok_or_else(|| {
            ScimError::path(format!("{s} is not a sub-attribute of {}", at.name))
        })?),
    };
    if p.filter.is_some() && !at.multi {
        return Err(ScimError::path(format!(
            "{}: a value filter applies to multi-valued attributes only",
            at.name
        )));
    }
    Ok((scope, at, sub))
}

/// Puts `v` under `key` of `obj`, replacing a member whose name differs only in case.
fn put(obj: &mut Map<String, Value>, key: &str, v: Value) {
    obj.retain(|k, _| !k.eq_ignore_ascii_case(key));
    obj.insert(key.to_owned(), v);
}

fn take(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let found = obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()?;
    obj.remove(&found)
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(xs) => xs.clone(),
        other => vec![other.clone()],
    }
}

/// Merges the members of `from` into the object `into` (sub-attributes of a complex value).
fn merge(into: &mut Value, from: &Value) -> Result<(), ScimError> {
    let Value::Object(src) = from else {
        return Err(ScimError::value("a complex value must be an object"));
    };
    if !into.is_object() {
        *into = Value::Object(Map::new());
    }
    if let Value::Object(dst) = into {
        for (k, v) in src {
            put(dst, k, v.clone());
        }
    }
    Ok(())
}

fn matching(at: &Attr, f: &Filter, schema: Schema, items: &[Value]) -> Vec<usize> {
    let wrapper = |item: &Value| {
        let mut m = Map::new();
        m.insert(at.name.to_owned(), Value::Array(vec![item.clone()]));
        Value::Object(m)
    };
    let outer = Filter::Values(AttrPath::new(at.name, None), Box::new(f.clone()));
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| outer.matches(schema, &wrapper(item)))
        .map(|(i, _)| i)
        .collect()
}

fn immutable_check(
    at: &Attr,
    sub: Option<&Attr>,
    exists: bool,
    kind: Kind,
) -> Result<(), ScimError> {
    let which = sub.unwrap_or(at);
    if which.mutability == Mutability::Immutable && exists && kind != Kind::Add {
        return Err(ScimError::mutability(format!(
            "{} is immutable",
            sub.map_or(at.name.to_owned(), |s| format!("{}.{}", at.name, s.name))
        )));
    }
    Ok(())
}

fn set(
    schema: Schema,
    doc: &mut Map<String, Value>,
    p: &PatchPath,
    v: &Value,
    kind: Kind,
) -> Result<(), ScimError> {
    let (scope, at, sub) = target(schema, p)?;
    within(doc, scope, |doc| set_in(schema, doc, p, (at, sub), v, kind))
}

fn set_in(
    schema: Schema,
    doc: &mut Map<String, Value>,
    p: &PatchPath,
    (at, sub): (&'static Attr, Option<&'static Attr>),
    v: &Value,
    kind: Kind,
) -> Result<(), ScimError> {
    let existing = take(doc, at.name);
    let result = match (&p.filter, sub) {
        (None, None) if at.multi => {
            let mut list = match (&existing, kind) {
                (Some(Value::Array(xs)), Kind::Add) => xs.clone(),
                _ => Vec::new(),
            };
            for item in as_list(v) {
                if !list.contains(&item) {
                    list.push(item);
                }
            }
            Value::Array(list)
        }
        (None, None) if at.ty == Type::Complex => {
            let mut obj = existing.clone().unwrap_or(Value::Object(Map::new()));
            match v {
                Value::String(_) if find(at.sub, "value").is_some() => {
                    let mut m = Map::new();
                    m.insert("value".into(), v.clone());
                    merge(&mut obj, &Value::Object(m))?;
                }
                _ => merge(&mut obj, v)?,
            }
            obj
        }
        (None, None) => v.clone(),
        (None, Some(s)) => {
            if at.multi {
                return Err(ScimError::path(format!(
                    "{}.{}: choose the values with a filter ({}[type eq \"work\"].{})",
                    at.name, s.name, at.name, s.name
                )));
            }
            let mut obj = existing.clone().unwrap_or(Value::Object(Map::new()));
            if let Value::Object(m) = &mut obj {
                immutable_check(
                    at,
                    Some(s),
                    get_ci(&Value::Object(m.clone()), s.name).is_some(),
                    kind,
                )?;
                put(m, s.name, v.clone());
            } else {
                return Err(ScimError::value(format!("{} must be an object", at.name)));
            }
            obj
        }
        (Some(f), sub) => {
            let mut items = match &existing {
                Some(Value::Array(xs)) => xs.clone(),
                _ => Vec::new(),
            };
            let hits = matching(at, f, schema, &items);
            if hits.is_empty() {
                match (sub, simple_eq(f)) {
                    (Some(s), Some((attr, lit))) => {
                        let mut m = Map::new();
                        m.insert(attr, lit);
                        put(&mut m, s.name, v.clone());
                        items.push(Value::Object(m));
                    }
                    _ => {
                        return Err(ScimError::no_target(format!(
                            "no value of {} matches the filter",
                            at.name
                        )))
                    }
                }
            }
            for i in hits {
                let Some(item) = items.get_mut(i) else {
                    continue;
                };
                match sub {
                    Some(s) => {
                        let exists = get_ci(item, s.name).is_some();
                        immutable_check(at, Some(s), exists, kind)?;
                        let Value::Object(m) = item else {
                            return Err(ScimError::value(format!(
                                "{} holds a value that is not an object",
                                at.name
                            )));
                        };
                        put(m, s.name, v.clone());
                    }
                    None if kind == Kind::Replace => *item = v.clone(),
                    None => merge(item, v)?,
                }
            }
            Value::Array(items)
        }
    };
    doc.insert(at.name.to_owned(), result);
    Ok(())
}

/// `sub eq "literal"`: the one sub-attribute a new value would be given.
fn simple_eq(f: &Filter) -> Option<(String, Value)> {
    match f {
        Filter::Compare(p, Op::Eq, lit) if p.sub.is_none() && !lit.is_null() => {
            Some((p.attr.clone(), lit.clone()))
        }
        _ => None,
    }
}

fn remove(
    schema: Schema,
    doc: &mut Map<String, Value>,
    p: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let (scope, at, sub) = target(schema, p)?;
    within(doc, scope, |doc| {
        remove_in(schema, doc, p, (at, sub), value)
    })
}

fn remove_in(
    schema: Schema,
    doc: &mut Map<String, Value>,
    p: &PatchPath,
    (at, sub): (&'static Attr, Option<&'static Attr>),
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(existing) = take(doc, at.name) else {
        return Ok(());
    };
    immutable_check(at, sub, true, Kind::Remove)?;
    let kept = match (&p.filter, sub) {
        (None, None) => match (at.multi, value) {
            (true, Some(v)) if !v.is_null() => {
                let drop: Vec<Value> = as_list(v)
                    .iter()
                    .map(|x| get_ci(x, "value").cloned().unwrap_or_else(|| x.clone()))
                    .collect();
                let items = as_list(&existing)
                    .into_iter()
                    .filter(|x| {
                        let key = get_ci(x, "value").cloned().unwrap_or_else(|| x.clone());
                        !drop.contains(&key)
                    })
                    .collect();
                Some(Value::Array(items))
            }
            _ => None,
        },
        (None, Some(s)) => {
            let mut existing = existing;
            match &mut existing {
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(m) = item {
                            take(m, s.name);
                        }
                    }
                }
                Value::Object(m) => {
                    take(m, s.name);
                }
                _ => {}
            }
            Some(existing)
        }
        (Some(f), sub) => {
            let items = as_list(&existing);
            let hits = matching(at, f, schema, &items);
            let mut out = Vec::new();
            for (i, mut item) in items.into_iter().enumerate() {
                if !hits.contains(&i) {
                    out.push(item);
                    continue;
                }
                if let Some(s) = sub {
                    if let Value::Object(m) = &mut item {
                        take(m, s.name);
                    }
                    out.push(item);
                }
            }
            Some(Value::Array(out))
        }
    };
    if let Some(v) = kept {
        doc.insert(at.name.to_owned(), v);
    }
    Ok(())
}
