//! `attributes` and `excludedAttributes` (RFC 7644 §3.9): which attributes an answer
//! carries. `id`, `schemas` and `meta` are always returned: `meta.version` is the ETag a
//! client sends back, so no projection takes it away.

use serde_json::{Map, Value};

use crate::path::AttrPath;
use crate::schema::Schema;
use crate::ScimError;

/// What a request asked to see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// Only these (empty: all by default).
    pub attributes: Vec<AttrPath>,
    /// All but these.
    pub excluded: Vec<AttrPath>,
}

fn paths(schema: Schema, list: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            AttrPath::parse(s)
                .filter(|p| p.in_schema(schema))
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
            let v = if self.attributes.is_empty() {
                Some(v)
            } else {
                keep(&self.attributes, &k, v)
            };
            let v = v.and_then(|v| drop(&self.excluded, &k, v));
            if let Some(v) = v {
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }
}

/// The part of attribute `k` the listed paths name.
fn keep(list: &[AttrPath], k: &str, v: Value) -> Option<Value> {
    let named: Vec<&AttrPath> = list
        .iter()
        .filter(|p| p.attr.eq_ignore_ascii_case(k))
        .collect();
    if named.is_empty() {
        return None;
    }
    if named.iter().any(|p| p.sub.is_none()) {
        return Some(v);
    }
    let subs: Vec<&str> = named.iter().filter_map(|p| p.sub.as_deref()).collect();
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
fn drop(list: &[AttrPath], k: &str, v: Value) -> Option<Value> {
    let named: Vec<&AttrPath> = list
        .iter()
        .filter(|p| p.attr.eq_ignore_ascii_case(k))
        .collect();
    if named.iter().any(|p| p.sub.is_none()) {
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
                        .any(|p| p.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(sk)))
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
