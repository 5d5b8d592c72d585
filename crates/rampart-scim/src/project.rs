//! `attributes` and `excludedAttributes` (RFC 7644 §3.9): which attributes an answer
//! carries. `id`, `schemas` and `meta` are always returned: `meta.version` is the ETag a
//! client sends back, so no projection takes it away.

use serde_json::{Map, Value};

use crate::path::AttrPath;
use crate::schema::Schema;
use crate::ScimError;

/// One entry of `attributes` or `excludedAttributes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Named {
    /// The extension whose object holds the attribute; `None` for the top level.
    pub extension: Option<&'static str>,
    /// The attribute; `None` names an extension's whole object.
    pub attr: Option<String>,
    /// The sub-attribute, if any.
    pub sub: Option<String>,
}

/// What a request asked to see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// Only these (empty: all by default).
    pub attributes: Vec<Named>,
    /// All but these.
    pub excluded: Vec<Named>,
}

fn paths(schema: Schema, list: Option<&str>) -> Result<Vec<Named>, ScimError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(ext) = schema.extension(s) {
                return Ok(Named {
                    extension: Some(ext.urn),
                    attr: None,
                    sub: None,
                });
            }
            AttrPath::parse(s)
                .and_then(|p| {
                    let scope = schema.scope(&p)?;
                    Some(Named {
                        extension: scope.key(),
                        attr: Some(p.attr),
                        sub: p.sub,
                    })
                })
                .ok_or_else(|| {
                    ScimError::path(format!(
                        "{s:?} is not an attribute path of {}",
                        schema.name()
                    ))
                })
        })
        .collect()
}

impl Projection {
    /// Reads the two query parameters' values.
    pub fn parse(
        schema: Schema,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        Ok(Projection {
            attributes: paths(schema, attributes)?,
            excluded: paths(schema, excluded)?,
        })
    }

    /// The resource as the request asked to see it.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(obj) = resource else {
            return resource;
        };
        let always = |k: &str| k == "id" || k == "schemas" || k == "meta";
        let mut out = Map::new();
        for (k, v) in obj {
            if always(&k) {
                out.insert(k, v);
                continue;
            }
            let extension = self
                .attributes
                .iter()
                .chain(&self.excluded)
                .filter_map(|n| n.extension)
                .find(|e| e.eq_ignore_ascii_case(&k));
            let v = if k.to_ascii_lowercase().starts_with("urn:") {
                match (extension, v) {
                    (Some(ext), Value::Object(members)) => self.apply_in(ext, members),
                    // An extension no entry names: kept unless other attributes are asked.
                    (_, v) => self.attributes.is_empty().then_some(v),
                }
            } else {
                self.pick(&k, v)
            };
            if let Some(v) = v {
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }

    /// An extension's object, its attributes picked as the entries under it say.
    fn apply_in(&self, ext: &'static str, members: Map<String, Value>) -> Option<Value> {
        let ext = Some(ext);
        let whole = |list: &[Named]| list.iter().any(|n| n.extension == ext && n.attr.is_none());
        let asked = self.attributes.iter().any(|n| n.extension == ext);
        if whole(&self.excluded) || (!self.attributes.is_empty() && !asked) {
            return None;
        }
        let keep_all = self.attributes.is_empty() || whole(&self.attributes);
        let mut out = Map::new();
        for (k, v) in members {
            let v = if keep_all {
                Some(v)
            } else {
                keep(&scoped(&self.attributes, ext), &k, v)
            };
            if let Some(v) = v.and_then(|v| drop(&scoped(&self.excluded, ext), &k, v)) {
                out.insert(k, v);
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    /// A top-level attribute, picked as the entries without an extension say.
    fn pick(&self, k: &str, v: Value) -> Option<Value> {
        let v = if self.attributes.is_empty() {
            Some(v)
        } else {
            keep(&scoped(&self.attributes, None), k, v)
        };
        v.and_then(|v| drop(&scoped(&self.excluded, None), k, v))
    }
}

/// The entries naming attributes of one scope, as (attribute, sub-attribute).
fn scoped(list: &[Named], ext: Option<&str>) -> Vec<(String, Option<String>)> {
    list.iter()
        .filter(|n| match (n.extension, ext) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        })
        .filter_map(|n| Some((n.attr.clone()?, n.sub.clone())))
        .collect()
}

/// The part of attribute `k` the listed paths name.
fn keep(list: &[(String, Option<String>)], k: &str, v: Value) -> Option<Value> {
    let named: Vec<&Option<String>> = list
        .iter()
        .filter(|(a, _)| a.eq_ignore_ascii_case(k))
        .map(|(_, s)| s)
        .collect();
    if named.is_empty() {
        return None;
    }
    if named.iter().any(|s| s.is_none()) {
        return Some(v);
    }
    let subs: Vec<&str> = named.iter().filter_map(|s| s.as_deref()).collect();
    let pick = |item: Value| match item {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(sk, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(sk)))
                .collect(),
        ),
        other => other,
    };
    Some(match v {
        Value::Array(xs) => Value::Array(xs.into_iter().map(pick).collect()),
        other => pick(other),
    })
}

/// Attribute `k` without the listed paths.
fn drop(list: &[(String, Option<String>)], k: &str, v: Value) -> Option<Value> {
    let named: Vec<&Option<String>> = list
        .iter()
        .filter(|(a, _)| a.eq_ignore_ascii_case(k))
        .map(|(_, s)| s)
        .collect();
    if named.iter().any(|s| s.is_none()) {
        return None;
    }
    if named.is_empty() {
        return Some(v);
    }
    let strip = |item: Value| match item {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(sk, _)| {
                    !named
                        .iter()
                        .any(|s| s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(sk)))
                })
                .collect(),
        ),
        other => other,
    };
    Some(match v {
        Value::Array(xs) => Value::Array(xs.into_iter().map(strip).collect()),
        other => strip(other),
    })
}
