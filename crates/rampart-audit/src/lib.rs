//! Tamper-evident audit log (placeholder doc, rewritten below).

pub mod cache;
pub mod checkpoint;
pub mod escape;
pub mod export;
pub mod frontier;
pub mod hash;
pub mod note;
pub mod proof;

pub use cache::{CacheError, NoTiles, TileSource, TreeCache, DEFAULT_TILE_HEIGHT};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use escape::escape_text;
pub use export::{
    checkpoint_line, event_leaf, event_line, redacted_line, verify_export, ExportError,
    ExportHeader, Finding, HeaderError, Report, Verifier,
};
pub use frontier::{Frontier, FrontierError};
pub use hash::{empty_root, from_hex, leaf_hash, node_hash, to_hex, Hash, HexError};
pub use note::{open, open_for, open_text, KeyError, NoteError, SigningKey, VerifierKey};
pub use proof::{
    consistency_proof_from_leaves, inclusion_proof_from_leaves, verify_consistency,
    verify_inclusion, ProofError,
};
