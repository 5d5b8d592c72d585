//! The rows written for an event and its canonical JSON body (the leaf's data, what
//! auditors hash), which `rampart_audit::body` defines and writes: this file turns a
//! [`NewEvent`] into the body's parts (the time and the actor's id formatted on the stack).

use super::*;

/// The canonical JSON of an event, as `rampart_audit` defines and writes it.
pub(crate) use rampart_audit::body::Body;

/// A numbered event ready to insert, borrowing its index columns from its [`NewEvent`].
pub(crate) struct EventRow<'a> {
    pub(crate) seq: i64,
    pub(crate) event: &'a NewEvent,
    pub(crate) occurred_at: i64,
    pub(crate) actor_id: Option<String>,
    pub(crate) body: String,
    pub(crate) leaf_hash: Hash,
}

/// Numbers `event` as `seq`, writes its canonical body and hashes it. Its time is raised to
/// `floor` (the time of the event before it) when it is earlier, so times never go
/// backwards along the log: a time window is then a range of sequence numbers.
pub(crate) fn event_row(seq: i64, event: &NewEvent, floor: i64) -> Result<EventRow<'_>, Error> {
    let occurred_at = to_millis(event.occurred_at).max(floor);
    let mut body = Vec::with_capacity(512);
    write_body(&mut body, seq, event, occurred_at)?;
    let body =
        String::from_utf8(body).map_err(|_| Error::Internal("audit body: not UTF-8".into()))?;
    let leaf_hash = leaf_hash(body.as_bytes());
    Ok(EventRow {
        seq,
        event,
        occurred_at,
        actor_id: event.actor_id.map(|a| a.to_string()),
        body,
        leaf_hash,
    })
}

/// Appends the canonical body of `event`, numbered `seq` and timed `at` (milliseconds, the
/// time already raised to its floor), to `out`: one line of JSON, the leaf's data.
///
/// Nothing is allocated per event: the actor's id and the time are formatted on the stack,
/// and the body is written straight into `out` (a block's text, or one body) by
/// [`rampart_audit::body::write_checked_body`].
pub(crate) fn write_body(
    out: &mut Vec<u8>,
    seq: i64,
    event: &NewEvent,
    at: i64,
) -> Result<(), Error> {
    check_details(&event.details)?;
    write_checked_body(out, seq, event, at)
}

/// Checks an event's `details`: a JSON object, compact (see
/// [`rampart_audit::body::check_details`]).
pub(crate) fn check_details(details: &str) -> Result<(), Error> {
    rampart_audit::body::check_details(details).map_err(|e| Error::Internal(e.0))
}

/// [`write_body`] for an event whose `details` [`check_details`] has passed.
pub(crate) fn write_checked_body(
    out: &mut Vec<u8>,
    seq: i64,
    event: &NewEvent,
    at: i64,
) -> Result<(), Error> {
    // RFC 3339 with nanoseconds is at most 35 bytes for years 0000–9999.
    let mut time_buf = [0u8; 40];
    let room = time_buf.len();
    let time_len = {
        let mut w: &mut [u8] = &mut time_buf;
        from_millis(at)?
            .format_into(&mut w, &time::format_description::well_known::Rfc3339)
            .map_err(|e| Error::Internal(format!("audit time: {e}")))?;
        // What is left of the buffer says how much was written (the count `format_into`
        // returns leaves out some of the fraction's digits: 0.001 s counts as one byte).
        room - w.len()
    };
    let time = std::str::from_utf8(&time_buf[..time_len])
        .map_err(|_| Error::Internal("audit time: not UTF-8".into()))?;
    let mut actor_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let actor = event
        .actor_id
        .map(|a| &*a.0.hyphenated().encode_lower(&mut actor_buf));
    let parts = rampart_audit::body::BodyParts {
        seq,
        stream: event.stream.as_str(),
        time,
        node: &event.node_id,
        request: event.request_id.as_deref(),
        source: event.source.as_deref(),
        actor,
        actor_name: event.actor_name.as_deref(),
        action: &event.action,
        target: event.target.as_deref(),
        application: event.application.as_deref(),
        environment: event.environment.as_deref(),
        outcome: &event.outcome,
        details: &event.details,
    };
    rampart_audit::body::write_checked_body(out, &parts).map_err(|e| Error::Internal(e.0))
}
