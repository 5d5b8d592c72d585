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
//! The format, for anyone who reads the database directly (the tamper tests do):
//! `data` is one format byte, then the lines joined by `\n`: as they are after
//! [`PLAIN`], or as an LZ4 block with its uncompressed length first (little-endian `u32`)
//! after [`LZ4`]. A line is an event's canonical body (it starts with `{"seq":`, the leaf's
//! data), or, once the event is erased, what is left of it (a [`Remains`] object, which starts
//! with `{"redacted_at":`). `leaves` is the 32-byte leaf hashes, in order.
//!
//! The room: this file is the block format (encoding, decoding, an erased event's remains,
//! reading a stored block); `build.rs` builds a batch's blocks on the builder threads and
//! inserts them; `packs.rs` the search keys and their per-block packs; `erase.rs` erasing
//! block events; `read.rs` reading block events back; `search.rs` searching them.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rampart_audit::hash::{leaf_hash, Hash};
use rampart_core::Error;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::keys::Manifest;
use super::{passes, Body, EventQuery, StoredEvent, Stream};
use crate::backend::{db, to_millis};
use crate::db::{query, query_as, query_scalar, Arg, IntoArg as _, Tx};
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

/// Events a block holds at most.
pub const BLOCK_EVENTS: usize = 256;
/// Format byte: the lines as they are.
pub const PLAIN: u8 = 0;
/// Format byte: the lines as an LZ4 block, uncompressed length first.
pub const LZ4: u8 = 1;
/// Lines shorter than this together are stored plain: a lone event barely compresses.
const COMPRESS_FROM: usize = 512;

/// Encodes lines (bodies or remains, none containing `\n`) as a block's `data`.
pub fn encode_block<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut text = Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 1).sum());
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            text.push(b'\n');
        }
        text.extend_from_slice(l.as_ref().as_bytes());
    }
    encode_text(&text)
}

/// Encodes a block's text (its lines joined by `\n`) as its `data`: a format byte, then the
/// text as it is when short, or LZ4-compressed behind its length (little-endian `u32`).
fn encode_text(text: &[u8]) -> Vec<u8> {
    if text.len() >= COMPRESS_FROM {
        let mut out = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(text.len())];
        out[0] = LZ4;
        out[1..5].copy_from_slice(&(text.len() as u32).to_le_bytes());
        // The bound above is what the compressor needs, so this does not run out of room;
        // were it ever to, the text is stored as it is below, which decodes the same.
        if let Ok(n) = lz4_flex::block::compress_into(text, &mut out[5..]) {
            out.truncate(5 + n);
            return out;
        }
    }
    let mut out = Vec::with_capacity(text.len() + 1);
    out.push(PLAIN);
    out.extend_from_slice(text);
    out
}

/// Decodes a block's `data` into its lines.
pub fn decode_block(data: &[u8]) -> Result<Vec<String>, Error> {
    Ok(decode_text(data)?.split('\n').map(str::to_owned).collect())
}

/// Decodes a block's `data` into the text of its lines.
fn decode_text(data: &[u8]) -> Result<String, Error> {
    let bad = |why: &str| Error::Internal(format!("stored audit block: {why}"));
    let text = match data.split_first() {
        Some((&PLAIN, rest)) => rest.to_vec(),
        Some((&LZ4, rest)) => {
            let text =
                lz4_flex::decompress_size_prepended(rest).map_err(|e| bad(&e.to_string()))?;
            let declared = rest
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if declared != Some(text.len() as u32) {
                return Err(bad("shorter than its declared length"));
            }
            text
        }
        Some((other, _)) => return Err(bad(&format!("unknown format {other}"))),
        None => return Err(bad("empty")),
    };
    String::from_utf8(text).map_err(|_| bad("not UTF-8"))
}

/// What is left of an erased block event: the fields a row keeps once redacted, never the
/// actor, target, request, source or details.
#[derive(Serialize, Deserialize)]
struct Remains<'a> {
    redacted_at: i64,
    #[serde(borrow)]
    archived_in: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    application: Option<Cow<'a, str>>,
    #[serde(borrow)]
    environment: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Cow<'a, str>,
}

pub(crate) fn is_body(line: &str) -> bool {
    line.starts_with("{\"seq\":")
}

pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| Error::Internal(format!("stored audit time {s:?}: {e}")))
}

/// The leaf hashes of the block at `first` holding `count` events, checked for length.
fn leaves_of(first: i64, count: i64, bytes: &[u8]) -> Result<Vec<Hash>, Error> {
    if i64::try_from(bytes.len()).ok() != count.checked_mul(32) {
        return Err(Error::Internal(format!(
            "audit block at {first}: {} bytes of leaf hashes for {count}",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| <Hash>::try_from(c).unwrap_or_default())
        .collect())
}

/// A block as read: where it starts, its leaves and its lines (one text, split where read).
pub(crate) struct Block {
    pub(crate) first_seq: i64,
    pub(crate) leaves: Vec<Hash>,
    text: String,
    /// Where each line starts in `text`.
    starts: Vec<usize>,
}

/// Columns of `audit_blocks` as [`Block::read`] takes them.
const BLOCK_COLUMNS: &str = "first_seq, count, leaves, data";

impl Block {
    pub(crate) fn read(
        first_seq: i64,
        count: i64,
        leaves: Vec<u8>,
        data: Vec<u8>,
    ) -> Result<Block, Error> {
        let bad = |why: String| Error::Internal(format!("audit block at {first_seq}: {why}"));
        let leaves = leaves_of(first_seq, count, &leaves)?;
        let n = leaves.len();
        let text = decode_text(&data)?;
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        if starts.len() != n {
            return Err(bad(format!("{} lines for {n} events", starts.len())));
        }
        Ok(Block {
            first_seq,
            leaves,
            text,
            starts,
        })
    }

    /// How many events the block holds.
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// Line `i`.
    fn line(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).map_or(self.text.len(), |s| s - 1);
        &self.text[self.starts[i]..end]
    }

    /// Every line, to edit.
    pub(crate) fn lines(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.line(i).to_owned()).collect()
    }

    /// The last sequence number in the block.
    pub(crate) fn last_seq(&self) -> i64 {
        self.first_seq + self.len() as i64 - 1
    }

    /// The body of event `seq` when it has one (`None` once erased), and its leaf.
    pub(crate) fn raw(&self, seq: i64) -> Option<(Option<&str>, Hash)> {
        let i = usize::try_from(seq - self.first_seq)
            .ok()
            .filter(|i| *i < self.len())?;
        let line = self.line(i);
        Some((is_body(line).then_some(line), self.leaves[i]))
    }

    /// Event `seq` as stored.
    pub(crate) fn event(&self, seq: i64) -> Result<StoredEvent, Error> {
        let i = usize::try_from(seq - self.first_seq)
            .ok()
            .filter(|i| *i < self.len())
            .ok_or_else(|| Error::Internal(format!("event {seq} is not in its block")))?;
        stored_from_line(seq, self.line(i), self.leaves[i])
    }

    /// The time of event `seq`, in milliseconds.
    fn time_ms(&self, i: usize) -> Result<i64, Error> {
        #[derive(Deserialize)]
        struct T<'a> {
            #[serde(borrow)]
            time: Cow<'a, str>,
        }
        let t: T = serde_json::from_str(self.line(i))
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
