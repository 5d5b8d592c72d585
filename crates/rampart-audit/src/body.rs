//! The canonical JSON body of an audit event: the leaf's data, what auditors hash.
//!
//! One fixed field order ([`Body`]'s), JSON string escaping that keeps every value on one
//! line, and `details` copied as they are once [`check_details`] has found them one compact
//! JSON object. [`write_checked_body`] writes the bytes by hand, without allocating per event; the
//! store's property test `bodies_are_what_serde_json_writes` holds them to what `serde_json`
//! writes for [`Body`], so the two cannot drift apart.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use thiserror::Error;

/// The canonical JSON of an event: the leaf's data, as [`write_checked_body`] writes it. Field
/// order is fixed by this struct; JSON string escaping (control characters, quotes,
/// backslashes) keeps every value on one line, so no field can forge another line of an
/// export.
#[derive(Serialize, Deserialize)]
pub struct Body<'a> {
    /// Sequence number: the event's leaf is `seq − 1`.
    pub seq: i64,
    /// Stream name.
    #[serde(borrow)]
    pub stream: Cow<'a, str>,
    /// When it happened, RFC 3339 in UTC.
    #[serde(borrow)]
    pub time: Cow<'a, str>,
    /// The node that recorded it.
    #[serde(borrow)]
    pub node: Cow<'a, str>,
    /// The request it came from.
    #[serde(borrow)]
    pub request: Option<Cow<'a, str>>,
    /// The request's source address.
    #[serde(borrow)]
    pub source: Option<Cow<'a, str>>,
    /// The acting principal's id.
    #[serde(borrow)]
    pub actor: Option<Cow<'a, str>>,
    /// The acting principal's username at the time.
    #[serde(borrow)]
    pub actor_name: Option<Cow<'a, str>>,
    /// Dotted action name.
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    /// What it was done to.
    #[serde(borrow)]
    pub target: Option<Cow<'a, str>>,
    /// The application concerned.
    #[serde(borrow)]
    pub application: Option<Cow<'a, str>>,
    /// The environment concerned.
    #[serde(borrow)]
    pub environment: Option<Cow<'a, str>>,
    /// `success` / `failure` / `allow` / `deny`.
    #[serde(borrow)]
    pub outcome: Cow<'a, str>,
    /// Structured facts, one compact JSON object.
    #[serde(borrow)]
    pub details: &'a RawValue,
}

/// The values of a body to write, each as it goes into the text (the time already formatted
/// as RFC 3339, the actor's id hyphenated), in [`Body`]'s order.
#[derive(Clone, Copy, Debug)]
pub struct BodyParts<'a> {
    /// Sequence number.
    pub seq: i64,
    /// Stream name.
    pub stream: &'a str,
    /// When it happened, RFC 3339.
    pub time: &'a str,
    /// The node that recorded it.
    pub node: &'a str,
    /// The request it came from.
    pub request: Option<&'a str>,
    /// The request's source address.
    pub source: Option<&'a str>,
    /// The acting principal's id.
    pub actor: Option<&'a str>,
    /// The acting principal's username at the time.
    pub actor_name: Option<&'a str>,
    /// Dotted action name.
    pub action: &'a str,
    /// What it was done to.
    pub target: Option<&'a str>,
    /// The application concerned.
    pub application: Option<&'a str>,
    /// The environment concerned.
    pub environment: Option<&'a str>,
    /// `success` / `failure` / `allow` / `deny`.
    pub outcome: &'a str,
    /// Structured facts: one compact JSON object (see [`check_details`]).
    pub details: &'a str,
}

/// Why a body could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct BodyError(pub String);

/// Checks an event's `details`: a JSON object, compact (they are copied into the body as
/// they are, and whitespace between their tokens could break the body's line).
pub fn check_details(details: &str) -> Result<(), BodyError> {
    let raw: &RawValue = serde_json::from_str(details)
        .map_err(|e| BodyError(format!("audit event details are not JSON: {e}")))?;
    if !raw.get().starts_with('{') {
        return Err(BodyError(
            "audit event details must be a JSON object".into(),
        ));
    }
    // The whole text is the object (nothing around it), on one line.
    if raw.get().len() != details.len() || details.contains(['\n', '\r']) {
        return Err(BodyError(
            "audit event details must be compact JSON, on one line".into(),
        ));
    }
    Ok(())
}

/// Appends the canonical body of `parts` to `out`, one line of JSON, for `parts` whose
/// `details` [`check_details`] has passed.
///
/// Nothing is allocated: the body is written straight into `out` (a block's text, or one
/// body).
pub fn write_checked_body(out: &mut Vec<u8>, parts: &BodyParts<'_>) -> Result<(), BodyError> {
    // The fields of [`Body`], in its order, as `serde_json` writes them.
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(parts.seq).as_bytes());
    let fields: [(&[u8], Option<&str>); 12] = [
        (b",\"stream\":", Some(parts.stream)),
        (b",\"time\":", Some(parts.time)),
        (b",\"node\":", Some(parts.node)),
        (b",\"request\":", parts.request),
        (b",\"source\":", parts.source),
        (b",\"actor\":", parts.actor),
        (b",\"actor_name\":", parts.actor_name),
        (b",\"action\":", Some(parts.action)),
        (b",\"target\":", parts.target),
        (b",\"application\":", parts.application),
        (b",\"environment\":", parts.environment),
        (b",\"outcome\":", Some(parts.outcome)),
    ];
    for (name, value) in fields {
        out.extend_from_slice(name);
        match value {
            Some(v) => push_json_str(out, v)?,
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"details\":");
    out.extend_from_slice(parts.details.as_bytes());
    out.push(b'}');
    Ok(())
}

/// Appends `s` as a JSON string. Most values need no escape and are copied as they are
/// (the check reads every byte without an early exit, which the compiler can run many bytes
/// at a time); the others are escaped by `serde_json`, which keeps every control character,
/// quote and backslash from ending the string or the line.
fn push_json_str(out: &mut Vec<u8>, s: &str) -> Result<(), BodyError> {
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
        serde_json::to_writer(out, s).map_err(|e| BodyError(format!("audit body: {e}")))
    }
}

/// Whether a stored line is an event's body (it starts with `{"seq":`), not what an erasure
/// left of it.
pub fn is_body(line: &str) -> bool {
    line.starts_with("{\"seq\":")
}
