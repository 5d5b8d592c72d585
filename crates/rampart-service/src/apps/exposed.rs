//! Actions served as REST endpoints (`expose: {method, path}`), under
//! `/apps/{environment}/{application}/api/{module}`.
//!
//! An endpoint runs its action exactly as a screen's button does (roles, row rules, one
//! transaction), with its parameters from the path's `{name}` segments, the query string
//! and a JSON object body. Each inbound call appends an `integration` event (method, path,
//! status, duration) beside the run's `access` event.

use std::time::Instant;

use rampart_apps::access::exposed;
use rampart_core::{AuditContext, Error};
use rampart_model::format::HttpMethod;
use rampart_store::NewEvent;
use serde_json::{Map, Value as Json};

use super::actions::{self, ActionRef, Actor, Ran};
use crate::state::AppState;

/// An exposed action a request names.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The action.
    pub action: ActionRef,
    /// The values of the path's `{name}` segments.
    pub path_params: Vec<(String, String)>,
    /// Served over HTTPS only.
    pub https: bool,
    /// Needs no session.
    pub anonymous: bool,
}

/// The endpoint at `method` and `path` (below `…/api/{module}`) of `module`, if one runs.
pub async fn find(
    state: &AppState,
    (environment, application, module): (&str, &str, &str),
    method: &str,
    path: &str,
) -> Result<Option<Endpoint>, Error> {
    let method = match method {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => return Ok(None),
    };
    if state.authz.view().it.environment(environment).is_none() {
        return Ok(None);
    }
    // Most requests here are the data API's: what this node last read of the environment
    // tells them apart without a round trip (on PostgreSQL, a deployment by another node is
    // seen by the first request that reads the environment afresh).
    if let Some(cached) = state.apps.cached(environment) {
        let exposes = cached
            .module(application, module)
            .is_some_and(|m| m.actions.iter().any(|a| a.expose.is_some()));
        if !exposes {
            return Ok(None);
        }
    }
    let env = state
        .apps
        .env(state, environment, state.fence.ticket())
        .await?;
    let Some(m) = env.module(application, module) else {
        return Ok(None);
    };
    Ok(exposed(m, method, path).map(|(a, path_params)| Endpoint {
        action: ActionRef {
            environment: environment.to_owned(),
            application: application.to_owned(),
            module: module.to_owned(),
            action: a.name.clone(),
        },
        path_params,
        https: a.expose.as_ref().is_none_or(|x| x.https),
        anonymous: a.anonymous,
    }))
}

/// Runs `endpoint` for `actor` with `params` (query string and body, the path's segments
/// win), appending the inbound call's `integration` event.
pub async fn call(
    state: &AppState,
    actor: &Actor,
    endpoint: &Endpoint,
    mut params: Map<String, Json>,
    (method, path): (&str, &str),
) -> Result<Ran, Error> {
    let started = Instant::now();
    for (k, v) in &endpoint.path_params {
        params.insert(k.clone(), Json::String(v.clone()));
    }
    let ran = actions::run(state, actor, &endpoint.action, params, (path, method)).await;
    let status = match &ran {
        Ok(_) => 200,
        Err(e) => e.status(),
    };
    inbound(
        state,
        &actor.audit,
        endpoint,
        (method, path, status),
        started,
    )
    .await?;
    ran
}

/// Records an inbound call refused before its action ran (no session, plain HTTP), with the
/// status it was answered.
pub async fn refused(
    state: &AppState,
    audit: &AuditContext,
    endpoint: &Endpoint,
    (method, path, status): (&str, &str, u16),
) -> Result<(), Error> {
    inbound(
        state,
        audit,
        endpoint,
        (method, path, status),
        Instant::now(),
    )
    .await
}

async fn inbound(
    state: &AppState,
    audit: &AuditContext,
    endpoint: &Endpoint,
    (method, path, status): (&str, &str, u16),
    started: Instant,
) -> Result<(), Error> {
    let mut event = NewEvent::integration(
        audit,
        state.clock.now(),
        true,
        method,
        path,
        status,
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    event.application = Some(endpoint.action.application.clone());
    event.environment = Some(endpoint.action.environment.clone());
    state.audit.append(event).await.map(|_| ())
}
