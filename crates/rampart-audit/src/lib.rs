//! Tamper-evident audit log (placeholder doc, rewritten below).

pub mod cache;
pub mod checkpoint;
pub mod frontier;
pub mod hash;
pub mod note;
pub mod proof;

pub use cache::{CacheError, NoTiles, TileSource, TreeCache, DEFAULT_TILE_HEIGHT};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use frontier::{Frontier, FrontierError};
pub use hash::{empty_root, from_hex, leaf_hash, node_hash, to_hex, Hash, HexError};
pub use note::{open, open_for, open_text, KeyError, NoteError, SigningKey, VerifierKey};
pub use proof::{
    consistency_proof_from_leaves, inclusion_proof_from_leaves, verify_consistency,
    verify_inclusion, ProofError,
};
