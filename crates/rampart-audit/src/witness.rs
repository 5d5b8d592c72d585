//! A witness's decisions: whether a checkpoint extends the last one it cosigned for a log,
//! and its cosignature.
//!
//! A witness keeps, per log (by origin), the chain of the log's keys ([`KeyChain`]) and
//! the size and root of the last checkpoint it cosigned. A request
//! ([`AddCheckpoint`], the text of C2SP tlog-witness's `add-checkpoint`):
//!
//! ```text
//! old <size the log believes the witness has>\n
//! <base64 consistency-proof hash>\n ...
//! \n
//! <signed checkpoint note>
//! ```
//!
//! is cosigned only when the checkpoint is for a known log, signed by the log's current key
//! or a valid rotation, the `old` size is the witness's (else [`Refusal::Conflict`], with
//! its size, so the log can send a proof from there), its size is at least that one, and it
//! is consistent with the cosigned root: the same root at the same size, or an RFC 9162
//! consistency proof from the old tree. Anything else is a refusal and changes nothing; a
//! different root at the same size, or a proof that does not lead from the cosigned root,
//! is a fork.
//!
//! A cosignature is the witness key's signature line over the checkpoint's text (the same
//! bytes the log signed), so a cosigned checkpoint is the log's note with one more line and
//! opens with [`crate::open`] under the witness's verifier key.

use crate::hash::Hash;
use crate::keychain::{ChainError, KeyChain};
use crate::note::{split_note, NoteError, SigningKey};
use crate::proof::verify_consistency;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use thiserror::Error;

/// Most proof hashes a request may carry (a proof has at most about 2·log2(size)).
const MAX_PROOF: usize = 128;

/// What a witness remembers of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedLog {
    /// The log's origin.
    pub origin: String,
    /// The log's keys.
    pub chain: KeyChain,
    /// The size of the last checkpoint cosigned (0: none yet).
    pub size: u64,
    /// Its root (the empty tree's before the first).
    pub root: Hash,
}

/// A request to cosign a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the log believes the witness has cosigned.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint.
    pub note: String,
}

/// Why a witness does not cosign.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The request cannot be read.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The witness does not follow this log.
    #[error("this witness does not follow the log {origin:?}")]
    UnknownLog {
        /// The checkpoint's origin.
        origin: String,
    },
    /// The checkpoint is not signed as the log's chain of keys requires.
    #[error("the checkpoint is not signed by the log's keys: {0}")]
    Signature(ChainError),
    /// The log's idea of the witness's size is wrong: send a proof from `size`.
    #[error("this witness has cosigned size {size}, not {claimed}")]
    Conflict {
        /// The witness's size.
        size: u64,
        /// The size the request assumed.
        claimed: u64,
    },
    /// The checkpoint is smaller than one cosigned before.
    #[error("the checkpoint's size {size} is below the size {cosigned} already cosigned")]
    Smaller {
        /// The checkpoint's size.
        size: u64,
        /// The size cosigned.
        cosigned: u64,
    },
    /// The checkpoint does not extend the cosigned one: the log has forked.
    #[error("the checkpoint of size {size} does not extend the one cosigned at size {cosigned}: {reason}")]
    Fork {
        /// The checkpoint's size.
        size: u64,
        /// The size cosigned.
        cosigned: u64,
        /// What differs.
        reason: String,
    },
}

impl Refusal {
    /// Whether the refusal shows two checkpoints of the log that cannot both be true.
    pub fn is_fork(&self) -> bool {
        matches!(self, Self::Fork { .. })
    }
}

impl AddCheckpoint {
    /// The request's text.
    pub fn to_text(&self) -> String {
        let mut text = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.note);
        text
    }

    /// Parses a request's text.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let bad = |reason: &str| Refusal::Malformed(reason.to_owned());
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line between the proof and the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad("the first line is not `old <size>`"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF {
                return Err(bad("the consistency proof is too long"));
            }
            let hash: Hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("a proof line is not the base64 of a 32-byte hash"))?;
            proof.push(hash);
        }
        Ok(Self {
            old_size: old,
            proof,
            note: note.to_owned(),
        })
    }
}

/// Decides a request against what the witness remembers of the checkpoint's log: on
/// success, the log's state to remember (the caller stores it before answering) and the
/// cosignature line. `logs` is looked up by the checkpoint's origin.
pub fn judge<'a>(
    find: impl FnOnce(&str) -> Option<&'a WitnessedLog>,
    request: &AddCheckpoint,
    key: &SigningKey,
) -> Result<(WitnessedLog, String), Refusal> {
    let (text, _) =
        split_note(&request.note).map_err(|e| Refusal::Signature(ChainError::Note(e)))?;
    let origin = text.split('\n').next().unwrap_or_default();
    let log = find(origin).ok_or_else(|| Refusal::UnknownLog {
        origin: origin.to_owned(),
    })?;
    let mut chain = log.chain.clone();
    let accepted = chain.accept(&request.note).map_err(Refusal::Signature)?;
    let checkpoint = accepted.checkpoint;
    if request.old_size != log.size {
        return Err(Refusal::Conflict {
            size: log.size,
            claimed: request.old_size,
        });
    }
    if checkpoint.size < log.size {
        return Err(Refusal::Smaller {
            size: checkpoint.size,
            cosigned: log.size,
        });
    }
    let fork = |reason: String| Refusal::Fork {
        size: checkpoint.size,
        cosigned: log.size,
        reason,
    };
    if checkpoint.size == log.size {
        if checkpoint.root != log.root {
            return Err(fork("the same size with another root".into()));
        }
        if !request.proof.is_empty() {
            return Err(Refusal::Malformed(
                "a checkpoint of the cosigned size needs no proof".into(),
            ));
        }
    } else if log.size > 0 {
        verify_consistency(
            log.size,
            checkpoint.size,
            &log.root,
            &checkpoint.root,
            &request.proof,
        )
        .map_err(|e| fork(e.to_string()))?;
    } else if !request.proof.is_empty() {
        return Err(Refusal::Malformed(
            "the first checkpoint of a log needs no proof".into(),
        ));
    }
    let line = key
        .signature_line(text)
        .map_err(|e: NoteError| Refusal::Signature(ChainError::Note(e)))?;
    Ok((
        WitnessedLog {
            origin: log.origin.clone(),
            chain,
            size: checkpoint.size,
            root: checkpoint.root,
        },
        line,
    ))
}
