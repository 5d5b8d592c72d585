//! The audit events of the data API: a write's `system` event, and every call's `access`
//! event, committed with a write that succeeded or appended before any other answer.

use rampart_api::{RecordPage, RecordView};
use rampart_apps::schema::Table;
use rampart_core::{AuditEvent, Error, Outcome};
use rampart_store::{NewEvent, RowValues};
use serde_json::{json, Value as Json};

use super::data::EntityRef;
use crate::caller::Caller;
use crate::state::AppState;

/// The `system` event of a write: the record and the names of the attributes set (never
/// their values).
pub(super) fn write_event(
    audit: &rampart_core::AuditContext,
    at: EntityRef<'_>,
    action: &'static str,
    id: &str,
    table: &Table,
    values: &RowValues,
    now: time::OffsetDateTime,
) -> NewEvent {
    let attributes: Vec<&str> = values
        .0
        .iter()
        .filter_map(|(name, _, _)| table.columns.iter().find(|c| c.name == *name))
        .map(|c| c.attribute.as_str())
        .collect();
    let details = json!({
        "application": at.application,
        "environment": at.environment,
        "module": at.module,
        "entity": at.entity,
        "record": id,
        "attributes": attributes,
    });
    NewEvent::system(
        audit,
        &AuditEvent {
            action,
            target: Some(format!("record:{}.{}/{id}", at.module, at.entity)),
            outcome: Outcome::Success,
            details: details.to_string(),
        },
        now,
    )
}

/// What a data API call touched: the records its access event names.
pub(super) trait Touched {
    fn ids(&self) -> Vec<&str>;
}

impl Touched for RecordPage {
    fn ids(&self) -> Vec<&str> {
        // An advanced query's rows name the records they read by an `id` column.
        let rows = self.rows.iter().flatten();
        let row_ids = rows.filter_map(|r| r.get("id").and_then(Json::as_str));
        self.items
            .iter()
            .map(|x| x.id.as_str())
            .chain(row_ids)
            .collect()
    }
}

impl Touched for RecordView {
    fn ids(&self) -> Vec<&str> {
        vec![self.id.as_str()]
    }
}

impl<T> Touched for (String, T) {
    fn ids(&self) -> Vec<&str> {
        vec![self.0.as_str()]
    }
}

impl Touched for String {
    fn ids(&self) -> Vec<&str> {
        vec![self.as_str()]
    }
}

/// Appends the `access` event of a data API call, whatever its outcome (a refusal by role is
/// `deny`; anything else, a 404 included, is `allow` of the request with the records it
/// read or wrote), and waits for it before answering `outcome`: nothing an end user saw or
/// was refused goes unrecorded, and if the event cannot be recorded the answer is withheld.
pub(super) async fn answered<T: Touched>(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    request: (&str, Option<&str>),
    outcome: Result<T, Error>,
) -> Result<T, Error> {
    let records = outcome.as_ref().map_or_else(|_| Vec::new(), Touched::ids);
    let result = outcome.as_ref().map(|_| ());
    state
        .audit
        .append(access_event(state, caller, at, request, &records, result))
        .await?;
    outcome
}

/// The answer to a write: its access event was committed with the change when it succeeded
/// (so a change is never answered 503 for want of its access event after it was made), and
/// is appended here when it failed.
pub(super) async fn written<T>(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    request: (&str, Option<&str>),
    outcome: Result<T, Error>,
) -> Result<T, Error> {
    match outcome {
        Ok(done) => Ok(done),
        Err(e) => {
            let event = access_event(state, caller, at, request, &[], Err(&e));
            state.audit.append(event).await?;
            Err(e)
        }
    }
}

/// The `access` event of a data API call: who asked what of which entity, the records it
/// touched, and the result.
pub(super) fn access_event(
    state: &AppState,
    caller: &Caller,
    at: EntityRef<'_>,
    (method, requested): (&str, Option<&str>),
    records: &[&str],
    result: Result<(), &Error>,
) -> NewEvent {
    let allowed = !matches!(result, Err(Error::Forbidden(_)));
    let result = result.map_or_else(Error::code, |()| "ok");
    let object = format!(
        "/apps/{}/{}/api/{}/{}",
        at.environment, at.application, at.module, at.entity
    );
    let mut event = NewEvent::access(
        &caller.audit,
        state.clock.now(),
        Some(at.application),
        &object,
        method,
        allowed,
    );
    event.environment = Some(at.environment.to_owned());
    // The id asked for is kept even when nothing was found: probing ids leaves a trace.
    let mut details = json!({ "method": method, "records": records, "result": result });
    if let (Some(id), Some(d)) = (requested, details.as_object_mut()) {
        d.insert(
            "requested".into(),
            json!(id.chars().take(64).collect::<String>()),
        );
    }
    event.details = details.to_string();
    event
}
