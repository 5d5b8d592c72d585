//! Bulk requests (RFC 7644 §3.7) as data: a request read into its operations, the
//! `bulkId:` references between them, the order they can run in, and the response.
//!
//! Each operation is one POST, PUT, PATCH or DELETE of `/Users` or `/Groups`, run as that
//! request would be run alone (its own transaction and audit event): a bulk request is not
//! all-or-none, as the RFC says. The rules beyond the RFC's text:
//! - An operation runs once every `bulkId` it references (in its data, or in its path as
//!   `/Groups/bulkId:…`) names a resource created earlier in the request, so a reference
//!   to a later POST waits for it. References that can never resolve (a `bulkId` no POST
//!   declares, one whose POST failed, or a cycle) fail the operation with 409, which the
//!   RFC allows instead of breaking cycles.
//! - Operations that are not well formed (an unknown method, a path that is not a resource
//!   endpoint, a POST without `bulkId`) fail alone with 400; a request whose body is not a
//!   bulk request, that repeats a `bulkId`, or that carries more than [`MAX_OPERATIONS`]
//!   operations is refused whole.
//! - Results are listed in the order the operations ran.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::filter::get_ci;
use crate::schema::Schema;
use crate::ScimError;

/// The `schemas` URN of a bulk request.
pub const REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The `schemas` URN of a bulk response.
pub const RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// The most operations one bulk request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// An operation's HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Create a resource.
    Post,
    /// Replace one.
    Put,
    /// Modify one.
    Patch,
    /// Delete one.
    Delete,
}

impl Method {
    /// As the response writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A well-formed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// What it does.
    pub method: Method,
    /// The resource type its path names.
    pub kind: Schema,
    /// The resource's id (`None` for a POST); may be a `bulkId:` reference.
    pub id: Option<String>,
    /// The client's name for the resource a POST creates.
    pub bulk_id: Option<String>,
    /// The version the resource must still be at (`If-Match`).
    pub version: Option<String>,
    /// The resource or PATCH body (`Null` for a DELETE).
    pub data: Value,
}

/// One entry of `Operations`: well formed, or the reason it is not.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The method as the client wrote it.
    pub method: String,
    /// The `bulkId` as the client wrote it.
    pub bulk_id: Option<String>,
    /// The operation, or why it cannot run.
    pub op: Result<Op, ScimError>,
}

/// A bulk request read.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The errors after which the service provider stops (`failOnErrors`).
    pub fail_on_errors: Option<usize>,
    /// The operations, in the order written.
    pub entries: Vec<Entry>,
}

/// Reads a bulk request body.
pub fn parse(body: &Value) -> Result<Request, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::syntax("the bulk request must be a JSON object"));
    };
    let named = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(REQUEST_URN)));
    if !named {
        return Err(ScimError::syntax(format!(
            "schemas must be a list naming {REQUEST_URN}"
        )));
    }
    let fail_on_errors = match get_ci(body, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n > 0 => Some(n),
            _ => {
                return Err(ScimError::value(
                    "failOnErrors must be an integer of at least 1",
                ))
            }
        },
    };
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::syntax("Operations must be a list of operations"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError {
            status: 413,
            scim_type: None,
            detail: format!(
                "the bulk request carries {} operations; maxOperations is {MAX_OPERATIONS}",
                ops.len()
            ),
        });
    }
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let text = |k: &str| get_ci(op, k).and_then(Value::as_str).map(str::to_owned);
        let bulk_id = text("bulkId");
        if let Some(b) = &bulk_id {
            if !seen.insert(b.clone()) {
                return Err(ScimError::value(format!(
                    "Operations[{i}]: bulkId {b:?} is used by an earlier operation"
                )));
            }
        }
        entries.push(Entry {
            method: text("method").unwrap_or_default(),
            bulk_id: bulk_id.clone(),
            op: operation(i, op, bulk_id),
        });
    }
    Ok(Request {
        fail_on_errors,
        entries,
    })
}

fn operation(i: usize, op: &Value, bulk_id: Option<String>) -> Result<Op, ScimError> {
    if !op.is_object() {
        return Err(ScimError::syntax(format!(
            "Operations[{i}] must be an object"
        )));
    }
    let text = |k: &str| get_ci(op, k).and_then(Value::as_str);
    let method = match text("method") {
        Some(m) if m.eq_ignore_ascii_case("POST") => Method::Post,
        Some(m) if m.eq_ignore_ascii_case("PUT") => Method::Put,
        Some(m) if m.eq_ignore_ascii_case("PATCH") => Method::Patch,
        Some(m) if m.eq_ignore_ascii_case("DELETE") => Method::Delete,
        _ => {
            return Err(ScimError::syntax(format!(
                "Operations[{i}].method must be POST, PUT, PATCH or DELETE"
            )))
        }
    };
    let path = text("path").ok_or_else(|| {
        ScimError::syntax(format!("Operations[{i}].path must be a resource's path"))
    })?;
    let bad_path = || {
        ScimError::syntax(format!(
            "Operations[{i}].path {path:?} is not /Users or /Groups{}",
            if method == Method::Post {
                ""
            } else {
                " followed by a resource's id"
            }
        ))
    };
    let rest = path.strip_prefix('/').ok_or_else(bad_path)?;
    let (endpoint, id) = match rest.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (rest, None),
    };
    let kind = Schema::of_endpoint(endpoint).ok_or_else(bad_path)?;
    match (method, id) {
        (Method::Post, None) => {}
        (Method::Post, Some(_)) => return Err(bad_path()),
        (_, Some(id)) if !id.is_empty() && !id.contains('/') => {}
        _ => return Err(bad_path()),
    }
    if method == Method::Post && bulk_id.is_none() {
        return Err(ScimError::syntax(format!(
            "Operations[{i}]: a POST needs a bulkId"
        )));
    }
    let data = match (method, get_ci(op, "data")) {
        (Method::Delete, _) => Value::Null,
        (_, Some(d @ Value::Object(_))) => d.clone(),
        _ => {
            return Err(ScimError::syntax(format!(
                "Operations[{i}].data must be the resource (or PATCH request) as an object"
            )))
        }
    };
    Ok(Op {
        method,
        kind,
        id: id.map(str::to_owned),
        bulk_id,
        version: text("version").map(str::to_owned),
        data,
    })
}

const PREFIX: &str = "bulkId:";

/// The `bulkId`s an operation references, in its path and anywhere in its data.
pub fn references(op: &Op) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = op.id.as_deref().and_then(|id| id.strip_prefix(PREFIX)) {
        out.push(b.to_owned());
    }
    collect(&op.data, &mut out);
    out.sort();
    out.dedup();
    out
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(b) = s.strip_prefix(PREFIX) {
                out.push(b.to_owned());
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| collect(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect(x, out)),
        _ => {}
    }
}

/// The operation with every `bulkId:` reference replaced by the id it stands for; every
/// reference must be in `ids`.
pub fn resolve(op: &Op, ids: &HashMap<String, String>) -> Op {
    let mut out = op.clone();
    if let Some(b) = op.id.as_deref().and_then(|id| id.strip_prefix(PREFIX)) {
        out.id = ids.get(b).cloned().or(out.id);
    }
    substitute(&mut out.data, ids);
    out
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(PREFIX).and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(xs) => xs.iter_mut().for_each(|x| substitute(x, ids)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

/// What to do with an operation now, given the references resolved and failed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every reference is resolved: run it.
    Ready,
    /// A reference waits for a POST that has not run yet.
    Waiting,
    /// A reference can never resolve: fail it with this reason.
    Unresolvable(String),
}

/// Whether `op` can run, given the `bulkId`s of the request's POSTs (`declared`), those
/// created (`ids`) and those whose POST failed (`failed`).
pub fn readiness(
    op: &Op,
    declared: &HashSet<String>,
    ids: &HashMap<String, String>,
    failed: &HashSet<String>,
) -> Readiness {
    let mut waiting = false;
    for r in references(op) {
        if op.bulk_id.as_deref() == Some(r.as_str()) {
            return Readiness::Unresolvable(format!("bulkId:{r} refers to the operation itself"));
        }
        if failed.contains(&r) {
            return Readiness::Unresolvable(format!("bulkId:{r} names an operation that failed"));
        }
        if !declared.contains(&r) {
            return Readiness::Unresolvable(format!("bulkId:{r} names no POST of this request"));
        }
        if !ids.contains_key(&r) {
            waiting = true;
        }
    }
    if waiting {
        Readiness::Waiting
    } else {
        Readiness::Ready
    }
}

/// The conflict an unresolvable reference answers.
pub fn conflict(detail: String) -> ScimError {
    ScimError {
        status: 409,
        scim_type: Some("invalidValue"),
        detail,
    }
}

/// One result of the response: what ran, where, and its status; `error` when it failed.
pub fn result(
    method: &str,
    bulk_id: Option<&str>,
    location: Option<&str>,
    version: Option<&str>,
    status: u16,
    error: Option<&ScimError>,
) -> Value {
    let mut m = Map::new();
    m.insert("method".into(), method.into());
    if let Some(b) = bulk_id {
        m.insert("bulkId".into(), b.into());
    }
    if let Some(l) = location {
        m.insert("location".into(), l.into());
    }
    if let Some(v) = version {
        m.insert("version".into(), v.into());
    }
    m.insert("status".into(), status.to_string().into());
    if let Some(e) = error {
        m.insert("response".into(), e.body());
    }
    Value::Object(m)
}

/// The response body of the results.
pub fn response(results: Vec<Value>) -> Value {
    json!({ "schemas": [RESPONSE_URN], "Operations": results })
}
