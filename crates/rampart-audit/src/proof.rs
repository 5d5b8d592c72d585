//! Inclusion and consistency proofs: generation over any source of subtree hashes, and
//! verification exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 describe it.
//!
//! Generation follows the recursive definitions of RFC 6962 §2.1.1 (`PATH`) and §2.1.2
//! (`PROOF`/`SUBPROOF`), walked iteratively. Every hash a proof needs is the hash of a range
//! `[start, end)` that starts on a multiple of the smallest power of two at least as large as
//! the range, so it splits into perfect aligned subtrees, which a source of subtree hashes supplies.

use crate::hash::{empty_root, node_hash, Hash};
use thiserror::Error;

/// Why a proof could not be produced or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// The tree size asked for is larger than the tree.
    #[error("tree size {size} is beyond the current tree size {tree_size}")]
    SizeBeyondTree {
        /// The size asked for.
        size: u64,
        /// The number of leaves in the tree.
        tree_size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    OldAfterNew {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// A consistency proof was asked from the empty tree.
    #[error("old tree size is 0: every tree extends the empty tree, so there is nothing to prove")]
    OldSizeZero,
    /// The caller did not supply the leaf hashes of a tile the proof needs.
    #[error("the leaf hashes of tile {tile} are needed but were not supplied")]
    TileMissing {
        /// The tile number.
        tile: u64,
    },
    /// The caller supplied the wrong number of leaf hashes for a complete tile.
    #[error("tile {tile} is complete and has {expected} leaf hashes, but {got} were supplied")]
    TileLength {
        /// The tile number.
        tile: u64,
        /// The number of leaves of a complete tile.
        expected: usize,
        /// The number supplied.
        got: usize,
    },
    /// The supplied leaf hashes of a tile do not hash to the tile root kept in memory.
    #[error("the supplied leaf hashes of tile {tile} do not match its stored root (the stored leaf hashes were changed)")]
    TileMismatch {
        /// The tile number.
        tile: u64,
    },
    /// The proof does not have the number of hashes its sizes call for.
    #[error("the proof has {got} hashes, but these sizes call for {expected}")]
    ProofLength {
        /// The number of hashes the sizes call for.
        expected: usize,
        /// The number of hashes in the proof.
        got: usize,
    },
    /// The proof leads to a different root.
    #[error("the proof does not lead to the given root")]
    RootMismatch,
    /// The consistency proof does not lead to the old root.
    #[error("the consistency proof does not lead to the given old root")]
    OldRootMismatch,
    /// The consistency proof does not lead to the new root.
    #[error("the consistency proof does not lead to the given new root")]
    NewRootMismatch,
    /// A consistency proof between equal sizes with different roots.
    #[error("the two roots of tree size {size} differ")]
    SameSizeDifferentRoots {
        /// The tree size.
        size: u64,
    },
}

/// A source of the hashes of perfect aligned subtrees: the subtree at `level` with `index`
/// covers leaves `[index · 2^level, (index + 1) · 2^level)`.
pub(crate) trait Nodes {
    /// The hash of one perfect aligned subtree.
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

/// The largest power of two strictly below `n` (for `n ≥ 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The RFC 6962 hash of the leaves `[start, end)`, from the perfect subtrees it splits into.
pub(crate) fn range_hash<N: Nodes + ?Sized>(
    nodes: &mut N,
    start: u64,
    end: u64,
) -> Result<Hash, ProofError> {
    let count = end - start;
    if count == 0 {
        return Ok(empty_root());
    }
    let mut pieces = [[0u8; 32]; 64];
    let mut used = 0;
    let mut position = start;
    for level in (0..64u32).rev() {
        if (count >> level) & 1 == 1 {
            pieces[used] = nodes.perfect(level, position >> level)?;
            used += 1;
            position += 1u64 << level;
        }
    }
    let mut iter = pieces[..used].iter().rev();
    let mut hash = iter.next().copied().unwrap_or_else(empty_root);
    for left in iter {
        hash = node_hash(left, &hash);
    }
    Ok(hash)
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (`PATH`).
pub(crate) fn inclusion_path<N: Nodes + ?Sized>(
    nodes: &mut N,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::with_capacity(64);
    let (mut low, mut high) = (0u64, size);
    while high - low > 1 {
        let k = split_point(high - low);
        if index < low + k {
            path.push(range_hash(nodes, low + k, high)?);
            high = low + k;
        } else {
            path.push(range_hash(nodes, low, low + k)?);
            low += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof between the trees of the first `old` and `new` leaves (`PROOF`).
pub(crate) fn consistency_path<N: Nodes + ?Sized>(
    nodes: &mut N,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::OldAfterNew { old, new });
    }
    if old == 0 {
        return Err(ProofError::OldSizeZero);
    }
    let mut path = Vec::with_capacity(64);
    let (mut low, mut high, mut whole) = (0u64, new, true);
    loop {
        let size = high - low;
        if old - low == size {
            if !whole {
                path.push(range_hash(nodes, low, high)?);
            }
            break;
        }
        let k = split_point(size);
        if old - low <= k {
            path.push(range_hash(nodes, low + k, high)?);
            high = low + k;
        } else {
            path.push(range_hash(nodes, low, low + k)?);
            low += k;
            whole = false;
        }
    }
    path.reverse();
    Ok(path)
}

/// A source that hands out leaf hashes from a slice: for tests and small trees.
pub(crate) struct LeafSlice<'a>(pub &'a [Hash]);

impl Nodes for LeafSlice<'_> {
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let start = usize::try_from(index << level).unwrap_or(usize::MAX);
        let count = 1usize << level;
        let leaves =
            self.0
                .get(start..start.saturating_add(count))
                .ok_or(ProofError::SizeBeyondTree {
                    size: (index + 1) << level,
                    tree_size: self.0.len() as u64,
                })?;
        Ok(perfect_root(leaves))
    }
}

/// The root of a perfect subtree from its leaf hashes (their count must be a power of two).
pub(crate) fn perfect_root(leaves: &[Hash]) -> Hash {
    let mut frontier = crate::Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// The inclusion proof of `index` in the tree of the first `size` of `leaves`.
///
/// This keeps every leaf hash in memory; servers use [`crate::TreeCache`] instead.
pub fn inclusion_proof_from_leaves(
    leaves: &[Hash],
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_size(size, leaves.len() as u64)?;
    inclusion_path(&mut LeafSlice(leaves), index, size)
}

/// The consistency proof between the first `old` and `new` of `leaves`.
///
/// This keeps every leaf hash in memory; servers use [`crate::TreeCache`] instead.
pub fn consistency_proof_from_leaves(
    leaves: &[Hash],
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_size(new, leaves.len() as u64)?;
    consistency_path(&mut LeafSlice(leaves), old, new)
}

/// Refuses a size beyond the tree.
pub(crate) fn check_size(size: u64, tree_size: u64) -> Result<(), ProofError> {
    if size > tree_size {
        return Err(ProofError::SizeBeyondTree { size, tree_size });
    }
    Ok(())
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size` leaves.
fn inclusion_length(index: u64, size: u64) -> usize {
    // The path has one hash per level at which the leaf's ancestor has a sibling: the
    // levels below the top of the tree where the leaf's and the last leaf's paths have
    // split, plus those where the last leaf's ancestor is a right child.
    let last = size - 1;
    let inner = (64 - (index ^ last).leading_zeros()) as usize;
    let border = (last >> inner).count_ones() as usize;
    inner + border
}

/// Verifies that `leaf` is leaf `index` of the tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_length(index, size);
    if proof.len() != expected {
        return Err(ProofError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::ProofLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The number of hashes in the consistency proof from `old` to `new` (`0 < old < new`).
fn consistency_length(old: u64, new: u64) -> usize {
    // The proof is the inclusion path of leaf `old - 1` in the new tree, less the levels
    // covered by the largest perfect subtree ending at `old`, plus that subtree's root
    // unless it is the whole old tree.
    let shift = (old.trailing_zeros()) as usize;
    let path = inclusion_length((old - 1) >> shift, ((new - 1) >> shift) + 1);
    if old.is_power_of_two() {
        path
    } else {
        path + 1
    }
}

/// Verifies that the tree of `old_size` leaves with `old_root` is a prefix of the tree of
/// `new_size` leaves with `new_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. Old size 0 needs an empty proof and the
/// empty tree's root as the old root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldAfterNew {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::ProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == 0 {
            return if *old_root == empty_root() {
                Ok(())
            } else {
                Err(ProofError::OldRootMismatch)
            };
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::SameSizeDifferentRoots { size: old_size })
        };
    }
    let expected = consistency_length(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let too_short = ProofError::ProofLength {
        expected,
        got: proof.len(),
    };
    // Step 2: when the old tree is a perfect subtree, its root starts the path.
    let mut iter = proof.iter();
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        *iter.next().ok_or(too_short.clone())?
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in iter {
        if s == 0 {
            return Err(too_short);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(too_short);
    }
    if &fr != old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if &sr != new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}
