//! The inclusion-proof bundle `rampart-audit-proof/1`: one event, its inclusion proof and
//! the signed checkpoint the proof leads to, in one JSON object an auditor verifies offline
//! (`rampart audit verify-proof`), and that the console shows verified by the same
//! [`verify_bundle`].
//!
//! # Format
//!
//! One JSON object with exactly these members (writers emit them in this order):
//!
//! ```text
//! {"format":"rampart-audit-proof/1","origin":"<log origin>","seq":N,
//!  "event":"<the event's stored JSON text>" | null,"leaf":"<hex leaf hash>",
//!  "size":S,"path":["<hex>",...],"checkpoint":"<signed note>","verifier_key":"<key text>"}
//! ```
//!
//! `event` is the exact text whose leaf hash the log holds, as a JSON string (null when the
//! payload was lawfully erased: the leaf hash alone is then proved); `path` is the RFC 9162
//! inclusion proof of leaf `N − 1` in the tree of `S` leaves; `checkpoint` the C2SP signed
//! note of size `S`. `verifier_key` says which key the server signed with; a verifier takes
//! the key it trusts from elsewhere and never from the bundle.
//!
//! When the log's signing key was rotated, a last member `"rotations":["<signed note>",...]`
//! holds the rotation checkpoints up to `S`, oldest first (see [`crate::keychain`]): the
//! verifier follows them from the key it trusts to the key that signed `checkpoint`. It is
//! absent when there was no rotation.
//!
//! # What verification proves
//!
//! A bundle verifies when the event text hashes to `leaf` and names `"seq":N`, the
//! checkpoint carries a valid signature by the trusted key for the expected origin and size
//! `S`, and `path` leads from `leaf` at index `N − 1` to the checkpoint's root. Given that
//! the key is the log's, that proves the log committed, at position `N`, to this event text,
//! in the tree whose root it signed. It says nothing of events other than `N`, nor that the
//! log signed no other, inconsistent checkpoint (see [`crate::verify_consistency`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::hash::{from_hex, leaf_hash, to_hex, Hash};
use crate::keychain::{ChainError, KeyChain};
use crate::note::{open_for, NoteError, VerifierKey};
use crate::proof::{verify_inclusion, ProofError};

/// The value of the bundle's `format` member.
pub const BUNDLE_FORMAT: &str = "rampart-audit-proof/1";

/// An inclusion-proof bundle (see the module documentation for the format).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// The event's sequence number (leaf `seq − 1`).
    pub seq: u64,
    /// The event's stored JSON text; `None` when its payload was erased.
    pub event: Option<String>,
    /// The event's leaf hash, hex.
    pub leaf: String,
    /// The tree size of the checkpoint.
    pub size: u64,
    /// The inclusion proof, hex hashes from the leaf upwards.
    pub path: Vec<String>,
    /// The signed checkpoint of `size` (a C2SP signed note).
    pub checkpoint: String,
    /// The key the server signed with (information only).
    pub verifier_key: String,
    /// The rotation checkpoints up to `size`, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<String>,
}

impl ProofBundle {
    /// A bundle of the given parts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        origin: &str,
        seq: u64,
        event: Option<String>,
        leaf: &Hash,
        size: u64,
        path: &[Hash],
        checkpoint: &str,
        verifier_key: &str,
    ) -> Self {
        ProofBundle {
            format: BUNDLE_FORMAT.to_owned(),
            origin: origin.to_owned(),
            seq,
            event,
            leaf: to_hex(leaf),
            size,
            path: path.iter().map(to_hex).collect(),
            checkpoint: checkpoint.to_owned(),
            verifier_key: verifier_key.to_owned(),
            rotations: Vec::new(),
        }
    }

    /// The bundle with the log's rotation checkpoints up to its size, oldest first.
    pub fn with_rotations(mut self, rotations: Vec<String>) -> Self {
        self.rotations = rotations;
        self
    }

    /// The bundle as pretty-printed JSON text with a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a bundle from its JSON text.
    pub fn parse(text: &str) -> Result<Self, BundleError> {
        let bundle: ProofBundle =
            serde_json::from_str(text).map_err(|e| BundleError::Malformed {
                reason: e.to_string(),
            })?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(BundleError::Format {
                found: bundle.format,
            });
        }
        Ok(bundle)
    }
}

/// What a verified bundle proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The event's sequence number.
    pub seq: u64,
    /// The tree size the checkpoint signed.
    pub size: u64,
    /// The root the checkpoint signed, which the path leads to.
    pub root: Hash,
    /// Whether the event's text was checked against its leaf (false: erased payload, the
    /// leaf hash alone is proved).
    pub event_checked: bool,
}

/// Why a bundle does not verify, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BundleError {
    /// Not a JSON object of the bundle's members.
    #[error("not a proof bundle: {reason}")]
    Malformed {
        /// The parser's message.
        reason: String,
    },
    /// Another format.
    #[error("the bundle's format is {found:?}, not {BUNDLE_FORMAT}")]
    Format {
        /// The format found.
        found: String,
    },
    /// A hash that is not 64 hex digits.
    #[error("the {what} is not a 64-digit hex hash")]
    Hex {
        /// Which hash.
        what: &'static str,
    },
    /// The event text does not hash to the leaf, or names another sequence number.
    #[error("event {seq}: the event text does not hash to the leaf hash (altered)")]
    Altered {
        /// The bundle's sequence number.
        seq: u64,
    },
    /// The event text names another sequence number.
    #[error("the event text is not event {seq}")]
    WrongSeq {
        /// The bundle's sequence number.
        seq: u64,
    },
    /// The checkpoint's signature, key or origin.
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(#[from] NoteError),
    /// The rotations do not lead from the trusted key to the checkpoint's key.
    #[error("the key rotations do not verify: {0}")]
    KeyChain(ChainError),
    /// The checkpoint signs another size than the bundle's.
    #[error("the checkpoint signs size {signed}, the bundle says {size}")]
    Size {
        /// The checkpoint's size.
        signed: u64,
        /// The bundle's size.
        size: u64,
    },
    /// The path does not lead from the leaf to the signed root.
    #[error("the inclusion proof does not lead to the signed root: {0}")]
    Proof(#[from] ProofError),
}

/// Verifies `bundle` with the trusted `key`, requiring `origin` (the bundle's own when
/// `None`).
pub fn verify_bundle(
    bundle: &ProofBundle,
    key: &VerifierKey,
    origin: Option<&str>,
) -> Result<Verified, BundleError> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Format {
            found: bundle.format.clone(),
        });
    }
    let leaf = from_hex(&bundle.leaf).map_err(|_| BundleError::Hex { what: "leaf hash" })?;
    let path = bundle
        .path
        .iter()
        .map(|h| from_hex(h).map_err(|_| BundleError::Hex { what: "path hash" }))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(text) = &bundle.event {
        if leaf_hash(text.as_bytes()) != leaf {
            return Err(BundleError::Altered { seq: bundle.seq });
        }
        let seq = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64));
        if seq != Some(bundle.seq) {
            return Err(BundleError::WrongSeq { seq: bundle.seq });
        }
    }
    let origin = origin.unwrap_or(&bundle.origin);
    let mut chain = KeyChain::new(key.clone());
    let mut last = 0;
    // A trusted key a rotation introduced starts the chain after that rotation.
    let introduces_key = |note: &String| {
        crate::note::split_note(note)
            .ok()
            .and_then(|(text, _)| crate::Checkpoint::parse(text).ok())
            .and_then(|c| crate::keychain::rotation_of(&c).ok().flatten())
            .is_some_and(|(_, new)| new == *key)
    };
    let start = bundle
        .rotations
        .iter()
        .rposition(introduces_key)
        .map_or(0, |i| i + 1);
    for note in &bundle.rotations[start..] {
        let accepted = chain.accept(note).map_err(BundleError::KeyChain)?;
        let size = accepted.checkpoint.size;
        if accepted.rotated_to.is_none() || size < last || size > bundle.size {
            return Err(BundleError::KeyChain(ChainError::MalformedRotation {
                reason: format!(
                    "the checkpoint of size {size} is not a rotation in order up to {}",
                    bundle.size
                ),
            }));
        }
        if accepted.checkpoint.origin != origin {
            return Err(BundleError::Checkpoint(NoteError::WrongOrigin {
                expected: origin.to_owned(),
                found: accepted.checkpoint.origin,
            }));
        }
        last = size;
    }
    let checkpoint = open_for(origin, &bundle.checkpoint, chain.current())?;
    if checkpoint.size != bundle.size {
        return Err(BundleError::Size {
            signed: checkpoint.size,
            size: bundle.size,
        });
    }
    let index = bundle
        .seq
        .checked_sub(1)
        .ok_or(ProofError::IndexOutOfRange {
            index: 0,
            size: bundle.size,
        })?;
    verify_inclusion(&leaf, index, bundle.size, &path, &checkpoint.root)?;
    Ok(Verified {
        seq: bundle.seq,
        size: bundle.size,
        root: checkpoint.root,
        event_checked: bundle.event.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::inclusion_proof_from_leaves;
    use crate::{Checkpoint, SigningKey};

    const ORIGIN: &str = "rampart.test/audit";

    /// A log of `n` events, a signed checkpoint of its size and the bundle of event `seq`.
    fn bundle(n: u64, seq: u64) -> (ProofBundle, VerifierKey) {
        let key = SigningKey::from_seed(ORIGIN, [7; 32]).unwrap();
        let events: Vec<String> = (1..=n)
            .map(|s| format!("{{\"seq\":{s},\"action\":\"user.create\"}}"))
            .collect();
        let leaves: Vec<Hash> = events.iter().map(|e| leaf_hash(e.as_bytes())).collect();
        let mut frontier = crate::Frontier::new();
        for leaf in &leaves {
            frontier.push(*leaf);
        }
        let root = frontier.root();
        let path = inclusion_proof_from_leaves(&leaves, seq - 1, n).unwrap();
        let note = key.sign(&Checkpoint::new(ORIGIN, n, root)).unwrap();
        let index = usize::try_from(seq - 1).unwrap();
        let b = ProofBundle::new(
            ORIGIN,
            seq,
            Some(events[index].clone()),
            &leaves[index],
            n,
            &path,
            &note,
            &key.verifier_key(),
        );
        (b, key.verifier())
    }

    fn check(change: impl Fn(&mut ProofBundle), expected: &str) {
        let (mut b, key) = bundle(13, 6);
        change(&mut b);
        let text = b.to_text();
        let got = match ProofBundle::parse(&text).and_then(|b| verify_bundle(&b, &key, None)) {
            Ok(v) => format!("verified {} in {}", v.seq, v.size),
            Err(e) => e.to_string(),
        };
        assert!(got.starts_with(expected), "{got}");
    }

    #[test]
    fn a_bundle_verifies_and_every_tampering_fails_at_its_step() {
        check(|_| {}, "verified 6 in 13");
        check(|b| b.event = None, "verified 6 in 13");
        check(
            |b| b.event = Some(b.event.clone().unwrap().replace("create", "delete")),
            "event 6: the event text does not hash",
        );
        check(|b| b.seq = 7, "the event text is not event 7");
        check(
            |b| {
                b.event = Some("{\"seq\":8}".into());
                b.leaf = to_hex(&leaf_hash(b"{\"seq\":8}"));
            },
            "the event text is not event 6",
        );
        check(
            |b| {
                b.event = None;
                b.leaf = to_hex(&leaf_hash(b"forged"));
            },
            "the inclusion proof does not lead to the signed root",
        );
        check(
            |b| b.path[0] = to_hex(&leaf_hash(b"x")),
            "the inclusion proof does not lead",
        );
        check(|b| drop(b.path.pop()), "the inclusion proof does not lead");
        check(|b| b.size = 14, "the checkpoint signs size 13");
        check(
            |b| b.checkpoint = b.checkpoint.replace("\n13\n", "\n14\n"),
            "the checkpoint does not verify",
        );
        check(
            |b| b.origin = "elsewhere".into(),
            "the checkpoint does not verify",
        );
        check(|b| b.leaf = "zz".into(), "the leaf hash is not");
        check(|b| b.format = "other/1".into(), "the bundle's format is");
        check(|b| b.seq = 0, "the event text is not event 0");
        check(
            |b| {
                b.seq = 0;
                b.event = None;
            },
            "the inclusion proof does not lead",
        );
    }

    #[test]
    fn another_key_does_not_verify_a_bundle() {
        let (b, _) = bundle(4, 4);
        let other = SigningKey::from_seed(ORIGIN, [8; 32]).unwrap().verifier();
        assert!(matches!(
            verify_bundle(&b, &other, None),
            Err(BundleError::Checkpoint(_))
        ));
        assert!(ProofBundle::parse("{\"format\":1}").is_err());
    }
}
