//! The frontier of a tree (a compact range from leaf 0): one hash per perfect subtree.
//!
//! A tree of `size` leaves splits, left to right, into perfect subtrees whose sizes are the
//! set bits of `size` from the highest down. The frontier keeps just their roots, which is
//! enough to append leaves and to compute the RFC 6962 root, in O(log n) memory.

use crate::hash::{empty_root, node_hash, Hash};
use thiserror::Error;

/// The roots of the perfect subtrees that make up a tree, left to right.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// Why a size and a list of hashes do not form a frontier.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrontierError {
    /// The number of hashes is not the number of set bits of the size.
    #[error(
        "a frontier of size {size} has {expected} hashes (one per set bit of the size), not {got}"
    )]
    HashCount {
        /// The tree size.
        size: u64,
        /// The number of set bits of the size.
        expected: u32,
        /// The number of hashes given.
        got: usize,
    },
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its size and its subtree roots (left to right), checking their count.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, FrontierError> {
        let expected = size.count_ones();
        if usize::try_from(expected).ok() != Some(hashes.len()) {
            return Err(FrontierError::HashCount {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, left to right (largest first).
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash. Costs one node hash on average (one per trailing set bit of size).
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            match self.hashes.pop() {
                Some(left) => hash = node_hash(&left, &hash),
                None => break,
            }
            size >>= 1;
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// The RFC 6962 root of all leaves appended (the empty tree's root when there are none).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn from_parts_checks_the_count() {
        let h = leaf_hash(b"a");
        assert!(Frontier::from_parts(0, vec![]).is_ok());
        assert!(Frontier::from_parts(5, vec![h, h]).is_ok());
        assert_eq!(
            Frontier::from_parts(5, vec![h]),
            Err(FrontierError::HashCount {
                size: 5,
                expected: 2,
                got: 1
            })
        );
    }

    #[test]
    fn push_keeps_one_hash_per_set_bit() {
        let mut f = Frontier::new();
        for i in 0u64..100 {
            f.push(leaf_hash(&i.to_be_bytes()));
            assert_eq!(f.hashes().len() as u32, f.size().count_ones());
        }
    }
}
