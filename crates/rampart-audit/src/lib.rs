//! The tamper-evident audit log of Rampart: a Merkle tree over every audit event, signed
//! checkpoints, inclusion and consistency proofs, and the offline verifier of exports.
//!
//! Pure code: no I/O, no clock, no randomness (key generation takes 32 seed bytes from the
//! caller). The store appends events and keeps leaf hashes and tile roots; the server signs
//! checkpoints and serves proofs; `rampart audit verify` feeds an export to [`Verifier`].
//!
//! # Hashing (RFC 6962 §2.1, RFC 9162 §2.1.1)
//!
//! Event number `seq` (counted from 1) is leaf `seq − 1` of one append-only Merkle tree.
//!
//! - Leaf hash: `SHA-256(0x00 ‖ E)`, where `E` is the exact bytes of the event's JSON text as
//!   stored. The text is never re-serialised before hashing.
//! - Node hash: `SHA-256(0x01 ‖ left ‖ right)`.
//! - The root of `n > 1` leaves is the node hash of the root of the first `k` leaves and the
//!   root of the remaining `n − k`, where `k` is the largest power of two smaller than `n`.
//!   The root of one leaf is its leaf hash; the root of the empty tree is `SHA-256("")`.
//!
//! Proofs are those of RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency) and verify with
//! any RFC 6962 implementation. [`Frontier`] appends in O(1) amortised; [`TreeCache`] serves
//! proofs for any size up to the current one from memory plus at most three tiles of leaf
//! hashes read from the database.
//!
//! # Checkpoints and keys
//!
//! A checkpoint is a C2SP tlog-checkpoint body, `<origin>\n<size>\n<base64 root>\n`, signed
//! as a C2SP signed note with Ed25519 ([`note`]). The public key an auditor needs is the
//! verifier key text `<name>+<hex8 key hash>+<base64(0x01 ‖ public key)>`; key texts and
//! signatures are byte-for-byte those of Go's `golang.org/x/mod/sumdb/note`.
//!
//! # The export format `rampart-audit-export/1`
//!
//! Auditors rely on this format; it changes only under a new `format` value.
//!
//! 1. The export is UTF-8 text of lines, each ending with one line feed (0x0A), the last
//!    included. Every line is one JSON object and nothing else.
//! 2. The first line is the header, with exactly these members:
//!    `{"format":"rampart-audit-export/1","origin":"<log origin>","from":F,"to":T,"frontier":{"size":S,"hashes":["<hex>",...]}}`.
//!    `F ≥ 1` is the first event exported and `T ≥ F − 1` the last. `S = F − 1`, and `hashes`
//!    are the roots of the perfect subtrees that make up the tree of the first `F − 1` events,
//!    left to right (largest first), one per set bit of `S`, as 64 hex digits (empty when
//!    exporting from the start).
//! 3. Then one line per event, for `seq` from `F` to `T` in order, either
//!    `{"seq":N,"leaf":"<hex leaf hash>","event":E}`, where `E` is the event's stored JSON
//!    text (an object with a member `"seq":N`) and the leaf hash is `SHA-256(0x00 ‖ E)` over
//!    the exact bytes of `E` as they appear on the line, or, for an event whose payload was
//!    lawfully erased, `{"seq":N,"leaf":"<hex leaf hash>","redacted":true}`, with a last
//!    member `"recorded_by":M` when the event that records the erasure (see below) comes
//!    after the export's last event `T` (`M > T`).
//!    Writers emit exactly these members in this order with no spaces (the verifier reads
//!    that shape fastest); readers accept any valid JSON object with the same members.
//! 4. Checkpoint lines `{"checkpoint":"<signed note>"}` (the note as a JSON string) may come
//!    anywhere after the header, but no later than just after the event whose `seq` equals
//!    the checkpoint's size: writers put each right after that event, and a checkpoint of
//!    size `F − 1` right after the header. Checkpoints for sizes above `T` cannot be checked
//!    and are reported as not covered.
//!
//! Hashes are lowercase hex when written; readers accept either case.
//!
//! # What verification proves, and what it does not
//!
//! [`Verifier`] recomputes every leaf hash from the event text, rebuilds the tree from the
//! header's frontier, checks each checkpoint's signature by the given key, its origin, and
//! its root against the tree at its size, and reports the first problem ([`Finding`]).
//!
//! Given that the public key really is the log's (obtain it out of band, for example from
//! `rampart audit public-key` on the server), a clean report proves that every event up to
//! the last verified checkpoint is byte for byte the event the log committed to at that
//! position: none was altered, removed, inserted or reordered, and a redacted event had the
//! committed leaf hash. A partial export is bound to the signed root through its frontier,
//! so a forged frontier fails at the first checkpoint. Problems are located as follows:
//! a changed payload is `Altered { seq }`; a gap is `Missing`; a moved, renumbered or
//! inserted event is `OutOfOrder` or `Duplicate` (each event carries its own `seq`, so
//! renumbered rows are caught too); events rewritten together with their leaf hashes are
//! consistent line by line and only fail as `RootMismatch` at the next checkpoint, which
//! locates the rewrite to the events after the previous verified checkpoint.
//!
//! An erased payload (a redacted line) is lawful only when a later event records the
//! erasure: an `audit.redact` event whose `details.seq` names it, or an `audit.archive`
//! event whose `details.from`..=`details.to` holds it. When that record is in the export,
//! the verifier confirms it; otherwise the first such event is reported as
//! `UnrecordedErasure`, so a payload deleted behind the log's back cannot pass for a
//! redaction. A line may say its erasure is recorded beyond the export's end
//! (`recorded_by`, as in an archive segment of old events redacted since): such erasures
//! cannot be confirmed by this export and are listed apart
//! (`Report::erasures_recorded_later`), for the auditor to check in a later export; in an
//! export that runs to the newest event no erasure can be recorded later, so none is listed
//! there unless someone wrote it in.
//!
//! It does not prove:
//! - completeness after the last signed checkpoint: events there (`uncovered_events`) are
//!   checked against their leaf hashes only, and an export cut after that checkpoint, with
//!   `to` edited, looks complete;
//! - anything about events before `F` in a partial export, beyond the frontier's binding;
//! - that the log never signed two inconsistent checkpoints (a fork): auditors detect that
//!   by keeping checkpoints and checking [`verify_consistency`] proofs between them;
//! - what a redacted payload said, or that an event's content is true: only that it is
//!   what the log recorded.
//!
//! # Event bodies and stored blocks
//!
//! `E`, the leaf's data, is the event's canonical body: one line of JSON with a fixed field
//! order, written by [`body::write_checked_body`] (see [`body::Body`]). Events appended in batches
//! are stored in blocks of consecutive events, their bodies compressed together and their
//! leaf hashes side by side; [`block`] encodes and decodes that format, so what is hashed and
//! how it is stored are defined beside the verifier.
//!
//! # Log injection
//!
//! Event text fields are JSON strings, so no field can end a line or start another; see
//! [`escape`] for the argument and for escaping in non-JSON renderings.

pub mod block;
pub mod body;
pub mod bundle;
pub mod cache;
pub mod checkpoint;
pub mod escape;
pub mod export;
pub mod frontier;
pub mod hash;
pub mod keychain;
pub mod note;
pub mod proof;
pub mod witness;

pub use bundle::{verify_bundle, BundleError, ProofBundle, Verified, BUNDLE_FORMAT};
pub use cache::{CacheError, NoTiles, TileSource, TreeCache, DEFAULT_TILE_HEIGHT};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use escape::escape_text;
pub use export::{
    checkpoint_line, event_leaf, event_line, redacted_line, verify_export, ExportError,
    ExportHeader, Finding, HeaderError, Report, Verifier,
};
pub use frontier::{Frontier, FrontierError};
pub use hash::{empty_root, from_hex, leaf_hash, node_hash, to_hex, Hash, HexError};
pub use keychain::{ChainError, KeyChain};
pub use note::{
    open, open_for, open_text, split_note, KeyError, NoteError, SigningKey, VerifierKey,
};
pub use proof::{
    consistency_proof_from_leaves, inclusion_proof_from_leaves, verify_consistency,
    verify_inclusion, ProofError,
};
