//! `POST /Bulk` (RFC 7644 §3.7): a directory's many writes in one request. Each operation
//! runs as the same request alone would (`resources`: its checks, its transaction, its
//! audit event), after the `bulkId:` references it makes are replaced by the ids the
//! request's POSTs created; the order, the references and the response are
//! `rampart_scim::bulk`'s.

use std::collections::{HashMap, HashSet};

use rampart_scim::bulk::{self, Method, Op, Readiness};
use rampart_scim::ScimError;
use serde_json::Value;

use super::{resources, ScimCaller};
use crate::state::AppState;

/// What a successful operation answers besides its status.
struct Done {
    status: u16,
    id: String,
    version: Option<String>,
}

fn location(caller: &ScimCaller, op: &Op, id: Option<&str>) -> Option<String> {
    id.map(|id| format!("{}/{}/{id}", caller.base, op.kind.endpoint()))
}

async fn run_one(state: &AppState, caller: &ScimCaller, op: &Op) -> Result<Done, ScimError> {
    let id = op.id.as_deref().unwrap_or_default();
    let version = op.version.as_deref();
    let tagged = match op.method {
        Method::Post => resources::create(state, caller, op.kind, &op.data).await?,
        Method::Put => resources::replace(state, caller, op.kind, id, &op.data, version).await?,
        Method::Patch => resources::patch(state, caller, op.kind, id, &op.data, version).await?,
        Method::Delete => {
            resources::delete(state, caller, op.kind, id, version).await?;
            return Ok(Done {
                status: 204,
                id: id.to_owned(),
                version: None,
            });
        }
    };
    let id = tagged
        .resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(id)
        .to_owned();
    Ok(Done {
        status: if op.method == Method::Post { 201 } else { 200 },
        id,
        version: Some(tagged.etag),
    })
}

/// Runs a bulk request and answers its `BulkResponse`.
pub async fn run(state: &AppState, caller: &ScimCaller, body: &Value) -> Result<Value, ScimError> {
    let request = bulk::parse(body)?;
    let entries = &request.entries;
    let mut declared = HashSet::new();
    let mut failed = HashSet::new();
    for e in entries {
        match (&e.op, &e.bulk_id) {
            (Ok(op), Some(b)) if op.method == Method::Post => declared.insert(b.clone()),
            (Err(_), Some(b)) => failed.insert(b.clone()),
            _ => false,
        };
    }
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0;
    let mut pending: Vec<usize> = (0..entries.len()).collect();
    // Whether the last pass ran nothing: what still waits then waits on itself, in a
    // cycle. The first such operation fails, and what waited on it fails after it.
    let mut stuck = false;
    while !pending.is_empty() {
        let mut waiting = Vec::new();
        for (n, &i) in pending.iter().enumerate() {
            let e = &entries[i];
            let (outcome, op) = match &e.op {
                Err(err) => (Err(err.clone()), None),
                Ok(op) => match bulk::readiness(op, &declared, &ids, &failed) {
                    Readiness::Waiting if !(stuck && n == 0) => {
                        waiting.push(i);
                        continue;
                    }
                    Readiness::Waiting => (
                        Err(bulk::conflict(
                            "the bulkId references of this request form a cycle".into(),
                        )),
                        Some(op.clone()),
                    ),
                    Readiness::Ready => {
                        let resolved = bulk::resolve(op, &ids);
                        (run_one(state, caller, &resolved).await, Some(resolved))
                    }
                    Readiness::Unresolvable(why) => (Err(bulk::conflict(why)), Some(op.clone())),
                },
            };
            match outcome {
                Ok(done) => {
                    if let (Some(b), Some(Method::Post)) =
                        (&e.bulk_id, op.as_ref().map(|o| o.method))
                    {
                        ids.insert(b.clone(), done.id.clone());
                    }
                    let at = op
                        .as_ref()
                        .and_then(|o| location(caller, o, Some(&done.id)));
                    results.push(bulk::result(
                        &e.method,
                        e.bulk_id.as_deref(),
                        at.as_deref(),
                        done.version.as_deref(),
                        done.status,
                        None,
                    ));
                }
                Err(err) => {
                    if let Some(b) = &e.bulk_id {
                        failed.insert(b.clone());
                    }
                    errors += 1;
                    let at = op
                        .as_ref()
                        .and_then(|o| location(caller, o, o.id.as_deref()));
                    results.push(bulk::result(
                        &e.method,
                        e.bulk_id.as_deref(),
                        at.as_deref(),
                        None,
                        err.status,
                        Some(&err),
                    ));
                    if request.fail_on_errors.is_some_and(|n| errors >= n) {
                        return Ok(bulk::response(results));
                    }
                }
            }
        }
        stuck = waiting.len() == pending.len();
        pending = waiting;
    }
    Ok(bulk::response(results))
}
