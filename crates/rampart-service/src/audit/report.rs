//! The one way in for other services: the calls they report to the `integration` stream,
//! checked field by field and appended all or none (never changing what is there).

use rampart_api::{IntegrationCall, IntegrationReportRequest, IntegrationReportResponse};
use rampart_authz::policy::Operation;
use rampart_core::{AuditContext, Error, User};
use time::OffsetDateTime;

use crate::state::AppState;

/// Records the calls `user` reports (IT users and services; an auditor reads the log and
/// reports nothing), with this node's time, once committed.
pub async fn report_integration(
    state: &AppState,
    user: &User,
    ctx: &AuditContext,
    req: &IntegrationReportRequest,
) -> Result<IntegrationReportResponse, Error> {
    if !crate::identity::may(state, user, Operation::ReportIntegration).await? {
        return Err(Error::Forbidden(
            "only IT users and services report integration calls; auditors read the log".into(),
        ));
    }
    if req.events.is_empty() || req.events.len() > MAX_REPORTED {
        return Err(Error::invalid(
            "events",
            format!("give 1 to {MAX_REPORTED} calls"),
        ));
    }
    let now = state.clock.now();
    let events = req
        .events
        .iter()
        .enumerate()
        .map(|(i, call)| integration_event(call, i, ctx, now))
        .collect::<Result<Vec<_>, _>>()?;
    let n = events.len() as i64;
    let last = state.store.append_events(events).await?;
    state.metrics.audit_events.inc_by(n as u64);
    Ok(IntegrationReportResponse {
        first_seq: last - n + 1,
        last_seq: last,
    })
}

/// Calls a report may hold.
const MAX_REPORTED: usize = 1_000;

/// The `integration` event of one reported call (the `index`th), checked field by field.
fn integration_event(
    call: &IntegrationCall,
    index: usize,
    ctx: &AuditContext,
    now: OffsetDateTime,
) -> Result<rampart_store::NewEvent, Error> {
    let field = |name: &str| format!("events[{index}].{name}");
    let inbound = match call.direction.as_str() {
        "inbound" => true,
        "outbound" => false,
        _ => {
            return Err(Error::invalid(
                field("direction"),
                "must be inbound or outbound",
            ))
        }
    };
    let method_ok = (1..=128).contains(&call.method.len())
        && call
            .method
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-'));
    if !method_ok {
        return Err(Error::invalid(
            field("method"),
            "must be 1 to 128 letters, digits or ._:/-",
        ));
    }
    // What is recorded stops before a query string or fragment, and leaves out path
    // parameters (`/api;jsessionid=…`): tokens travel there.
    let target = without_path_parameters(call.target.split(['?', '#']).next().unwrap_or_default());
    let target = target.as_str();
    if target.is_empty() || call.target.len() > 2_048 || call.target.chars().any(char::is_control) {
        return Err(Error::invalid(
            field("target"),
            "must be 1 to 2,048 characters without control characters",
        ));
    }
    // `scheme://user:password@host/…` (or `user:password@host/…`): credentials never
    // enter the log.
    let credentials = match target.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default().contains('@'),
        None => target
            .split('/')
            .next()
            .and_then(|first| first.split_once('@'))
            .is_some_and(|(user, _)| user.contains(':')),
    };
    if credentials {
        return Err(Error::invalid(
            field("target"),
            "must not carry a user name or password; give the URL without them",
        ));
    }
    if !(100..=599).contains(&call.status) {
        return Err(Error::invalid(field("status"), "must be 100 to 599"));
    }
    if call.duration_ms > 86_400_000 {
        return Err(Error::invalid(
            field("duration_ms"),
            "must be at most a day",
        ));
    }
    let mut ctx = ctx.clone();
    if let Some(id) = &call.request_id {
        if !crate::caller::is_request_id(id) {
            return Err(Error::invalid(
                field("request_id"),
                "must be 1 to 64 letters, digits or ._-",
            ));
        }
        ctx.request_id = Some(id.clone());
    }
    Ok(rampart_store::NewEvent::integration(
        &ctx,
        now,
        inbound,
        &call.method,
        target,
        call.status,
        call.duration_ms,
    ))
}

/// `target` with each path segment cut at its first `;` (RFC 3986 path parameters).
fn without_path_parameters(target: &str) -> String {
    target
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("/")
}
