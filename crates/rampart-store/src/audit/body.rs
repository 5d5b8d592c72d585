//! The canonical JSON body of an event (the leaf's data, what auditors hash) and the rows
//! written for it: one fixed field order, escaping that keeps every value on one line.

use super::*;

/// The canonical JSON of an event: the leaf's data, as [`write_body`] writes it. Field
/// order is fixed by this struct; JSON string escaping (control characters, quotes, backslashes) keeps every value on one
/// line, so no field can forge another line of an export.
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(crate) struct Body<'a> {
    pub(crate) seq: i64,
    #[serde(borrow)]
    pub(crate) stream: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) time: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) node: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) request: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) actor: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) actor_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) action: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) target: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) application: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) environment: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) outcome: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) details: &'a RawValue,
}

/// A numbered event ready to insert, borrowing from its [`NewEvent`].
pub(crate) struct EventRow<'a> {
    pub(crate) seq: i64,
    pub(crate) stream: &'static str,
    pub(crate) occurred_at: i64,
    pub(crate) actor_id: Option<String>,
    pub(crate) actor_name: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) target: Option<&'a str>,
    pub(crate) application: Option<&'a str>,
    pub(crate) environment: Option<&'a str>,
    pub(crate) outcome: &'a str,
    pub(crate) node_id: &'a str,
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
        stream: event.stream.as_str(),
        occurred_at,
        actor_id: event.actor_id.map(|a| a.to_string()),
        actor_name: event.actor_name.as_deref(),
        action: &event.action,
        target: event.target.as_deref(),
        application: event.application.as_deref(),
        environment: event.environment.as_deref(),
        outcome: &event.outcome,
        node_id: &event.node_id,
        body,
        leaf_hash,
    })
}

/// Appends the canonical body of `event`, numbered `seq` and timed `at` (milliseconds, the
/// time already raised to its floor), to `out`: one line of JSON, the leaf's data.
///
/// Nothing is allocated per event: the actor's id and the time are formatted on the stack,
/// and the body is written straight into `out` (a block's text, or one body).
pub(crate) fn write_body(
    out: &mut Vec<u8>,
    seq: i64,
    event: &NewEvent,
    at: i64,
) -> Result<(), Error> {
    check_details(&event.details)?;
    write_checked_body(out, seq, event, at)
}

/// Checks an event's `details`: a JSON object, compact (they are copied into the body as
/// they are, and whitespace between their tokens could break the body's line).
pub(crate) fn check_details(details: &str) -> Result<(), Error> {
    let raw: &RawValue = serde_json::from_str(details)
        .map_err(|e| Error::Internal(format!("audit event details are not JSON: {e}")))?;
    if !raw.get().starts_with('{') {
        return Err(Error::Internal(
            "audit event details must be a JSON object".into(),
        ));
    }
    // The whole text is the object (nothing around it), on one line.
    if raw.get().len() != details.len() || details.contains(['\n', '\r']) {
        return Err(Error::Internal(
            "audit event details must be compact JSON, on one line".into(),
        ));
    }
    Ok(())
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
    // The fields of [`Body`], in its order, as `serde_json` writes them (the property test
    // `bodies_are_what_serde_json_writes` holds the two together).
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    let fields: [(&[u8], Option<&str>); 12] = [
        (b",\"stream\":", Some(event.stream.as_str())),
        (b",\"time\":", Some(time)),
        (b",\"node\":", Some(&event.node_id)),
        (b",\"request\":", event.request_id.as_deref()),
        (b",\"source\":", event.source.as_deref()),
        (b",\"actor\":", actor),
        (b",\"actor_name\":", event.actor_name.as_deref()),
        (b",\"action\":", Some(&event.action)),
        (b",\"target\":", event.target.as_deref()),
        (b",\"application\":", event.application.as_deref()),
        (b",\"environment\":", event.environment.as_deref()),
        (b",\"outcome\":", Some(&event.outcome)),
    ];
    for (name, value) in fields {
        out.extend_from_slice(name);
        match value {
            Some(v) => push_json_str(out, v)?,
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"details\":");
    out.extend_from_slice(event.details.as_bytes());
    out.push(b'}');
    Ok(())
}

/// Appends `s` as a JSON string. Most values need no escape and are copied as they are
/// (the check reads every byte without an early exit, which the compiler can run many bytes
/// at a time); the others are escaped by `serde_json`, which keeps every control character,
/// quote and backslash from ending the string or the line.
fn push_json_str(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    let plain = !s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s).map_err(|e| Error::Internal(format!("audit body: {e}")))
    }
}
