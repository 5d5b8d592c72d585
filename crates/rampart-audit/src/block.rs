//! The stored format of a block of consecutive audit events, as the store writes it and
//! anyone reading the database directly (the tamper tests, an investigation) decodes it.
//!
//! A block's `data` is one format byte, then its lines joined by `\n`: as they are after
//! [`PLAIN`], or as an LZ4 block with its uncompressed length first (little-endian `u32`)
//! after [`LZ4`]. A line is an event's canonical body ([`crate::body`]; it starts with
//! `{"seq":`, the leaf's data), or, once the event is erased, what is left of it (a
//! [`Remains`] object, which starts with `{"redacted_at":`). Its `leaves` are the 32-byte
//! leaf hashes of its events, side by side, in order.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::body::is_body;
use crate::hash::Hash;

/// Format byte: the lines as they are.
pub const PLAIN: u8 = 0;
/// Format byte: the lines as an LZ4 block, uncompressed length first.
pub const LZ4: u8 = 1;
/// Lines shorter than this together are stored plain: a lone event barely compresses.
const COMPRESS_FROM: usize = 512;

/// A stored block that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct BlockError(pub String);

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
pub fn encode_text(text: &[u8]) -> Vec<u8> {
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
pub fn decode_block(data: &[u8]) -> Result<Vec<String>, BlockError> {
    Ok(decode_text(data)?.split('\n').map(str::to_owned).collect())
}

/// Decodes a block's `data` into the text of its lines.
pub fn decode_text(data: &[u8]) -> Result<String, BlockError> {
    let bad = |why: &str| BlockError(format!("stored audit block: {why}"));
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

/// The leaf hashes of the block at `first` holding `count` events, checked for length.
pub fn leaves_of(first: i64, count: i64, bytes: &[u8]) -> Result<Vec<Hash>, BlockError> {
    if i64::try_from(bytes.len()).ok() != count.checked_mul(32) {
        return Err(BlockError(format!(
            "audit block at {first}: {} bytes of leaf hashes for {count}",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| <Hash>::try_from(c).unwrap_or_default())
        .collect())
}

/// What is left of an erased block event: the fields a row keeps once redacted, never the
/// actor, target, request, source or details.
#[derive(Serialize, Deserialize)]
pub struct Remains<'a> {
    /// When it was erased (UTC milliseconds).
    pub redacted_at: i64,
    /// The archive segment it went to, when archiving erased it.
    #[serde(borrow)]
    pub archived_in: Option<Cow<'a, str>>,
    /// Stream name.
    #[serde(borrow)]
    pub stream: Cow<'a, str>,
    /// When it happened, RFC 3339.
    #[serde(borrow)]
    pub time: Cow<'a, str>,
    /// The node that recorded it.
    #[serde(borrow)]
    pub node: Cow<'a, str>,
    /// Dotted action name.
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    /// The application concerned.
    #[serde(borrow)]
    pub application: Option<Cow<'a, str>>,
    /// The environment concerned.
    #[serde(borrow)]
    pub environment: Option<Cow<'a, str>>,
    /// `success` / `failure` / `allow` / `deny`.
    #[serde(borrow)]
    pub outcome: Cow<'a, str>,
}

/// A block as read: where it starts, its leaves and its lines (one text, split where read).
pub struct Block {
    /// The sequence number of its first event.
    pub first_seq: i64,
    /// Its events' leaf hashes, in order.
    pub leaves: Vec<Hash>,
    text: String,
    /// Where each line starts in `text`.
    starts: Vec<usize>,
}

impl Block {
    /// Decodes the stored block at `first_seq` holding `count` events: its leaf hashes and
    /// its `data`, which must hold one line per event.
    pub fn decode(
        first_seq: i64,
        count: i64,
        leaves: &[u8],
        data: &[u8],
    ) -> Result<Block, BlockError> {
        let leaves = leaves_of(first_seq, count, leaves)?;
        let n = leaves.len();
        let text = decode_text(data)?;
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        if starts.len() != n {
            return Err(BlockError(format!(
                "audit block at {first_seq}: {} lines for {n} events",
                starts.len()
            )));
        }
        Ok(Block {
            first_seq,
            leaves,
            text,
            starts,
        })
    }

    /// How many events the block holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the block holds no event (a decoded block always holds one at least).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Line `i`, if the block has it.
    pub fn line(&self, i: usize) -> Option<&str> {
        let start = *self.starts.get(i)?;
        let end = self.starts.get(i + 1).map_or(self.text.len(), |s| s - 1);
        self.text.get(start..end)
    }

    /// Every line, to edit.
    pub fn lines(&self) -> Vec<String> {
        (0..self.len())
            .filter_map(|i| self.line(i).map(str::to_owned))
            .collect()
    }

    /// The last sequence number in the block.
    pub fn last_seq(&self) -> i64 {
        self.first_seq + self.len() as i64 - 1
    }

    /// The place of event `seq` in the block, if it is there.
    pub fn place(&self, seq: i64) -> Option<usize> {
        usize::try_from(seq - self.first_seq)
            .ok()
            .filter(|i| *i < self.len())
    }

    /// The line and leaf of event `seq`, if it is in the block.
    pub fn entry(&self, seq: i64) -> Option<(&str, Hash)> {
        let i = self.place(seq)?;
        Some((self.line(i)?, *self.leaves.get(i)?))
    }

    /// The body of event `seq` when it has one (`None` once erased), and its leaf.
    pub fn raw(&self, seq: i64) -> Option<(Option<&str>, Hash)> {
        let (line, leaf) = self.entry(seq)?;
        Some((is_body(line).then_some(line), leaf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_plain_and_compressed() {
        for n in [1usize, 3, 256] {
            let lines: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        "{{\"seq\":{i},\"details\":{{\"x\":\"{}\"}}}}",
                        "y".repeat(i % 7)
                    )
                })
                .collect();
            let data = encode_block(&lines);
            assert_eq!(data[0], if n == 256 { LZ4 } else { PLAIN });
            assert_eq!(decode_block(&data).unwrap(), lines);
        }
        assert!(decode_block(&[]).is_err());
        assert!(decode_block(&[9, 1, 2]).is_err());
        assert!(decode_block(&[LZ4, 200, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn blocks_decode_one_line_per_leaf() {
        let lines = ["{\"seq\":7}", "{\"redacted_at\":1}"];
        let data = encode_block(&lines);
        let leaves = [[1u8; 32], [2u8; 32]].concat();
        let b = Block::decode(7, 2, &leaves, &data).unwrap();
        assert_eq!((b.len(), b.last_seq()), (2, 8));
        assert_eq!(b.lines(), lines);
        assert_eq!(b.raw(7), Some((Some(lines[0]), [1u8; 32])));
        assert_eq!(b.raw(8), Some((None, [2u8; 32])));
        assert_eq!(b.raw(9), None);
        assert!(Block::decode(7, 3, &leaves, &data).is_err());
        assert!(Block::decode(7, 1, &leaves[..32], &data).is_err());
    }
}
