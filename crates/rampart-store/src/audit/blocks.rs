//! Blocks: how events appended in batches (the access pipeline) are stored.
//!
//! A block holds up to [`BLOCK_EVENTS`] consecutive events of the log: their canonical
//! bodies, one per line, compressed together, and their leaf hashes side by side (migration
//! 0013). A durable append then writes a sixth of the bytes a row per event wrote, and on a
//! disk that syncs every commit, bytes are what bound ingest. Searches find block events
//! through their search keys (hashed actor, target, stream and action: packed per block in
//! `audit_key_packs`, then merged into `audit_keys`, see [`super::keys`]) and the blocks'
//! `facets`, then check every candidate against its decoded event, so a hash collision or a
//! coarse facet never changes an answer.
//!
//! The stored format of a block (`data`, `leaves`, an erased event's remains) is defined and
//! encoded in `rampart_audit::block`, beside what auditors hash; the store writes and reads
//! it.
//!
//! The room: this file reads a stored block into events; `build.rs` builds a batch's blocks on the builder threads and
//! inserts them; `packs.rs` the search keys and their per-block packs; `erase.rs` erasing
//! block events; `read.rs` reading block events back; `search.rs` searching them.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

pub use rampart_audit::block::encode_block;
use rampart_audit::block::{encode_text, Block, BlockError, Remains};
use rampart_audit::body::is_body;
use rampart_audit::hash::{leaf_hash, Hash};
use rampart_core::Error;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::keys::Manifest;
use super::{passes, Body, EventQuery, StoredEvent, Stream};
use crate::backend::{db, to_millis};
use crate::db::{query_as, Arg, IntoArg as _, Tx};
use crate::Store;

mod build;
mod erase;
mod packs;
mod read;
mod search;

pub(crate) use build::*;
pub(crate) use erase::*;
pub(crate) use packs::*;
pub(crate) use search::*;

/// Events a block holds at most (a place in a block's key pack is one byte).
pub const BLOCK_EVENTS: usize = 256;

/// Decodes a block's `data` into its lines (see [`rampart_audit::block`]).
pub fn decode_block(data: &[u8]) -> Result<Vec<String>, Error> {
    rampart_audit::block::decode_block(data).map_err(block_error)
}

/// A stored block that does not decode, as the store reports it.
fn block_error(e: BlockError) -> Error {
    Error::Internal(e.0)
}

pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| Error::Internal(format!("stored audit time {s:?}: {e}")))
}

/// Columns of `audit_blocks` as [`read_block`] takes them.
const BLOCK_COLUMNS: &str = "first_seq, count, leaves, data";

/// Decodes a block read with [`BLOCK_COLUMNS`].
pub(crate) fn read_block(
    first_seq: i64,
    count: i64,
    leaves: Vec<u8>,
    data: Vec<u8>,
) -> Result<Block, Error> {
    Block::decode(first_seq, count, &leaves, &data).map_err(block_error)
}

/// What the store reads from a decoded block: its events as stored, and their times.
pub(crate) trait BlockEvents {
    /// Event `seq` as stored.
    fn event(&self, seq: i64) -> Result<StoredEvent, Error>;
    /// The time of the event at place `i`, in milliseconds.
    fn time_ms(&self, i: usize) -> Result<i64, Error>;
}

impl BlockEvents for Block {
    fn event(&self, seq: i64) -> Result<StoredEvent, Error> {
        let (line, leaf) = self
            .entry(seq)
            .ok_or_else(|| Error::Internal(format!("event {seq} is not in its block")))?;
        stored_from_line(seq, line, leaf)
    }

    fn time_ms(&self, i: usize) -> Result<i64, Error> {
        #[derive(Deserialize)]
        struct T<'a> {
            #[serde(borrow)]
            time: Cow<'a, str>,
        }
        let line = self.line(i).ok_or_else(|| {
            Error::Internal(format!("audit block at {}: no line {i}", self.first_seq))
        })?;
        let t: T = serde_json::from_str(line)
            .map_err(|e| Error::Internal(format!("stored audit event: {e}")))?;
        Ok(to_millis(parse_time(&t.time)?))
    }
}

/// A stored event from a block line (a body, or what an erasure left).
fn stored_from_line(seq: i64, line: &str, leaf: Hash) -> Result<StoredEvent, Error> {
    let bad = |e: serde_json::Error| Error::Internal(format!("stored audit event {seq}: {e}"));
    if is_body(line) {
        return super::event_from_body(seq, line, leaf);
    }
    let r: Remains = serde_json::from_str(line).map_err(bad)?;
    Ok(StoredEvent {
        seq,
        stream: r.stream.into_owned(),
        occurred_at: parse_time(&r.time)?,
        actor_id: None,
        actor_name: None,
        action: r.action.into_owned(),
        target: None,
        application: r.application.map(Cow::into_owned),
        environment: r.environment.map(Cow::into_owned),
        outcome: r.outcome.into_owned(),
        request_id: None,
        source: None,
        node_id: r.node.into_owned(),
        details: "{}".to_owned(),
        body: None,
        leaf_hash: leaf,
    })
}

#[cfg(test)]
mod tests;
