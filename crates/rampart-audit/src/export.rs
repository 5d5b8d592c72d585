//! The JSON-lines export of the audit log, its writer helpers and the offline verifier.
//!
//! This file is the format's header and the writer's lines; `verify.rs` the [`Verifier`],
//! which checks an export line by line; `reader.rs` runs it over a reader on several threads
//! ([`verify_reader`]).
//!
//! The format is described exactly in the crate documentation. [`Verifier`] checks an export
//! line by line in constant memory (a frontier plus pending checkpoints), so it runs over a
//! log of any length at the speed of JSON scanning and SHA-256.

use crate::frontier::Frontier;
use crate::hash::{from_hex, from_hex_bytes, leaf_hash, to_hex, Hash};
use crate::keychain::{ChainError, KeyChain};
use crate::note::{open_text, split_note, NoteError, VerifierKey};
use crate::Checkpoint;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// The value of the header's `format` member.
pub const FORMAT: &str = "rampart-audit-export/1";

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportHeader {
    /// The log's origin (as in its checkpoints).
    pub origin: String,
    /// The sequence number of the first event in the export (from 1).
    pub from: u64,
    /// The sequence number of the last event in the export.
    pub to: u64,
    /// The frontier of the tree of the `from - 1` events before the export.
    pub frontier: Frontier,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderWire<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    #[serde(borrow)]
    origin: Cow<'a, str>,
    from: u64,
    to: u64,
    frontier: FrontierWire,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontierWire {
    size: u64,
    hashes: Vec<String>,
}

impl ExportHeader {
    /// The header line, with its final newline.
    pub fn to_line(&self) -> String {
        let wire = HeaderWire {
            format: Cow::Borrowed(FORMAT),
            origin: Cow::Borrowed(&self.origin),
            from: self.from,
            to: self.to,
            frontier: FrontierWire {
                size: self.frontier.size(),
                hashes: self.frontier.hashes().iter().map(to_hex).collect(),
            },
        };
        let mut line = serde_json::to_string(&wire).unwrap_or_default();
        line.push('\n');
        line
    }

    /// Parses a header line (without its newline).
    pub fn parse(line: &[u8]) -> Result<Self, HeaderError> {
        Self::parse_wire(line).map_err(HeaderError)
    }

    fn parse_wire(line: &[u8]) -> Result<Self, String> {
        let wire: HeaderWire<'_> =
            serde_json::from_slice(line).map_err(|e| format!("invalid header: {e}"))?;
        if wire.format != FORMAT {
            return Err(format!(
                "unknown export format {:?} (this verifier reads {FORMAT:?})",
                wire.format
            ));
        }
        if wire.from == 0 {
            return Err("the header's from is 0; sequence numbers start at 1".into());
        }
        if wire.to < wire.from - 1 {
            return Err(format!(
                "the header's to ({}) is before its from ({})",
                wire.to, wire.from
            ));
        }
        if wire.frontier.size != wire.from - 1 {
            return Err(format!(
                "the header's frontier has size {}, but an export from event {} needs size {}",
                wire.frontier.size,
                wire.from,
                wire.from - 1
            ));
        }
        let hashes = wire
            .frontier
            .hashes
            .iter()
            .map(|h| from_hex(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid frontier hash: {e}"))?;
        let frontier = Frontier::from_parts(wire.frontier.size, hashes)
            .map_err(|e| format!("invalid frontier: {e}"))?;
        Ok(Self {
            origin: wire.origin.into_owned(),
            from: wire.from,
            to: wire.to,
            frontier,
        })
    }
}

/// Why a header line cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct HeaderError(pub String);

/// Why an event cannot be written to an export.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExportError {
    /// The event text is not one JSON object with a numeric `seq` member.
    #[error("event {seq} is not a JSON object with a numeric \"seq\" member: {reason}")]
    NotAnEvent {
        /// The sequence number the event was to be written under.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The event's own `seq` differs from the sequence number it is written under.
    #[error("event written under seq {seq} says its seq is {inner}")]
    SeqMismatch {
        /// The sequence number the event was to be written under.
        seq: u64,
        /// The `seq` member of the event.
        inner: u64,
    },
    /// The event text holds a raw line break, which JSON serialisation never produces.
    #[error("event {seq} holds a raw line break")]
    LineBreak {
        /// The sequence number of the event.
        seq: u64,
    },
}

#[derive(Deserialize)]
struct EventSeq {
    seq: u64,
}

/// Reads the `seq` member of an event's JSON text, which must be one JSON object (the whole
/// text is parsed, so it is also checked to be valid JSON with a single `seq`).
fn event_seq(event: &[u8]) -> Result<u64, String> {
    if event.first() != Some(&b'{') || event.last() != Some(&b'}') {
        return Err("the event is not a JSON object".into());
    }
    serde_json::from_slice::<EventSeq>(event)
        .map(|e| e.seq)
        .map_err(|e| e.to_string())
}

/// The leaf hash of an event: `leaf_hash` of the exact bytes of its JSON text.
pub fn event_leaf(event_json: &str) -> Hash {
    leaf_hash(event_json.as_bytes())
}

/// The line of an event whose payload is kept, with its final newline. `event_json` is the
/// event's JSON text exactly as it was hashed into the log.
pub fn event_line(seq: u64, event_json: &str) -> Result<String, ExportError> {
    if event_json.contains(['\n', '\r']) {
        return Err(ExportError::LineBreak { seq });
    }
    let inner = event_seq(event_json.as_bytes())
        .map_err(|reason| ExportError::NotAnEvent { seq, reason })?;
    if inner != seq {
        return Err(ExportError::SeqMismatch { seq, inner });
    }
    let leaf = to_hex(&event_leaf(event_json));
    Ok(format!(
        "{{\"seq\":{seq},\"leaf\":\"{leaf}\",\"event\":{event_json}}}\n"
    ))
}

/// The line of an event whose payload was erased, with its final newline.
pub fn redacted_line(seq: u64, leaf: &Hash) -> String {
    format!(
        "{{\"seq\":{seq},\"leaf\":\"{}\",\"redacted\":true}}\n",
        to_hex(leaf)
    )
}

/// The line of an event whose payload was erased and whose erasure is recorded by event
/// `recorded_by`, after the export's last event, with its final newline.
pub fn redacted_line_recorded_by(seq: u64, leaf: &Hash, recorded_by: u64) -> String {
    format!(
        "{{\"seq\":{seq},\"leaf\":\"{}\",\"redacted\":true,\"recorded_by\":{recorded_by}}}\n",
        to_hex(leaf)
    )
}

/// The line of a signed checkpoint, with its final newline.
pub fn checkpoint_line(note: &str) -> String {
    let mut line = serde_json::json!({ "checkpoint": note }).to_string();
    line.push('\n');
    line
}

mod reader;
mod verify;

pub use reader::{verify_reader, verify_reader_in_chunks, verify_reader_with, CHUNK_LINES};
use verify::{prepare, Prepared};
pub use verify::{verify_export, Finding, Report, Verifier};
