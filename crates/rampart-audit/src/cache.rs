//! `TreeCache`: the upper part of a large tree in memory, for serving proofs at any size.
//!
//! Leaves are grouped into tiles of `2^k` leaves: tile `t` holds leaves
//! `[t · 2^k, (t + 1) · 2^k)`. The cache keeps the hash of every perfect aligned subtree at
//! level `k` and above (the roots of complete tiles and everything built from them, about
//! `2 · n / 2^k` hashes: 2.5 MB for 10,000,000 leaves at `k = 8`) plus the leaf hashes of the
//! last, incomplete tile. Everything below level `k` in a complete tile is recomputed from
//! that tile's leaf hashes, which live in the database.
//!
//! Proofs take two steps because reading leaf hashes is asynchronous: [`TreeCache::tiles_for_inclusion`]
//! or [`TreeCache::tiles_for_consistency`] name the tiles (at most three) whose leaf hashes
//! the caller reads, then [`TreeCache::inclusion_proof`] or [`TreeCache::consistency_proof`]
//! builds the proof from them. Supplied tiles are checked against the stored tile roots, so
//! a changed leaf hash in the database yields [`ProofError::TileMismatch`], never a wrong proof.

use crate::frontier::Frontier;
use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::{check_size, consistency_path, inclusion_path, range_hash, Nodes, ProofError};
use std::collections::{BTreeMap, HashMap};
use thiserror::Error;

/// The tile height the server uses unless configured otherwise.
pub const DEFAULT_TILE_HEIGHT: u32 = 8;
/// The largest tile height accepted (a tile of 2^16 leaf hashes is 2 MiB).
pub const MAX_TILE_HEIGHT: u32 = 16;

/// Why a tree cache cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CacheError {
    /// The tile height is outside 1..=16.
    #[error("tile height {k} is outside the accepted range 1..={MAX_TILE_HEIGHT}")]
    TileHeight {
        /// The tile height given.
        k: u32,
    },
    /// The number of tile roots does not match the size.
    #[error("a tree of size {size} with tile height {k} has {expected} complete tiles, but {got} tile roots were given")]
    TileRootCount {
        /// The tree size.
        size: u64,
        /// The tile height.
        k: u32,
        /// The number of complete tiles.
        expected: u64,
        /// The number of tile roots given.
        got: usize,
    },
    /// The number of tail leaf hashes does not match the size.
    #[error("a tree of size {size} with tile height {k} has {expected} leaves in its incomplete last tile, but {got} were given")]
    TailLength {
        /// The tree size.
        size: u64,
        /// The tile height.
        k: u32,
        /// The number of leaves in the incomplete tile.
        expected: u64,
        /// The number of leaf hashes given.
        got: usize,
    },
}

/// Where a proof gets the leaf hashes of tiles it needs.
pub trait TileSource {
    /// The leaf hashes of tile `tile`, if the caller fetched them.
    fn tile(&self, tile: u64) -> Option<&[Hash]>;
}

impl TileSource for HashMap<u64, Vec<Hash>> {
    fn tile(&self, tile: u64) -> Option<&[Hash]> {
        self.get(&tile).map(Vec::as_slice)
    }
}

impl TileSource for BTreeMap<u64, Vec<Hash>> {
    fn tile(&self, tile: u64) -> Option<&[Hash]> {
        self.get(&tile).map(Vec::as_slice)
    }
}

impl TileSource for [(u64, Vec<Hash>)] {
    fn tile(&self, tile: u64) -> Option<&[Hash]> {
        self.iter()
            .find(|(t, _)| *t == tile)
            .map(|(_, leaves)| leaves.as_slice())
    }
}

/// No tiles: enough whenever the `tiles_for_*` list is empty.
pub struct NoTiles;

impl TileSource for NoTiles {
    fn tile(&self, _tile: u64) -> Option<&[Hash]> {
        None
    }
}

/// The in-memory upper part of the tree (see the module documentation).
#[derive(Clone, Debug)]
pub struct TreeCache {
    /// The tile height.
    k: u32,
    /// `levels[i][j]` is the perfect subtree at level `k + i` with index `j`.
    levels: Vec<Vec<Hash>>,
    /// The leaf hashes of the incomplete last tile.
    tail: Vec<Hash>,
    /// The frontier of the incomplete last tile, for the root of the whole tree.
    tail_frontier: Frontier,
}

impl TreeCache {
    /// An empty tree with tiles of `2^k` leaves.
    pub fn new(k: u32) -> Result<Self, CacheError> {
        if !(1..=MAX_TILE_HEIGHT).contains(&k) {
            return Err(CacheError::TileHeight { k });
        }
        Ok(Self {
            k,
            levels: vec![Vec::new()],
            tail: Vec::new(),
            tail_frontier: Frontier::new(),
        })
    }

    /// Rebuilds the cache of a tree of `size` leaves from the roots of its complete tiles (in
    /// order) and the leaf hashes of its incomplete last tile, without rehashing every leaf.
    pub fn restore(
        k: u32,
        size: u64,
        tile_roots: Vec<Hash>,
        tail: &[Hash],
    ) -> Result<Self, CacheError> {
        let mut cache = Self::new(k)?;
        let expected = size >> k;
        if tile_roots.len() as u64 != expected {
            return Err(CacheError::TileRootCount {
                size,
                k,
                expected,
                got: tile_roots.len(),
            });
        }
        let expected_tail = size & cache.tile_mask();
        if tail.len() as u64 != expected_tail {
            return Err(CacheError::TailLength {
                size,
                k,
                expected: expected_tail,
                got: tail.len(),
            });
        }
        cache.levels.clear();
        let mut level = tile_roots;
        loop {
            let next: Vec<Hash> = level
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            cache.levels.push(level);
            if next.is_empty() {
                break;
            }
            level = next;
        }
        for leaf in tail {
            cache.tail.push(*leaf);
            cache.tail_frontier.push(*leaf);
        }
        Ok(cache)
    }

    /// The tile height.
    pub fn tile_height(&self) -> u32 {
        self.k
    }

    /// `2^k - 1`.
    fn tile_mask(&self) -> u64 {
        (1u64 << self.k) - 1
    }

    /// The number of complete tiles.
    pub fn complete_tiles(&self) -> u64 {
        self.levels.first().map_or(0, Vec::len) as u64
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        (self.complete_tiles() << self.k) + self.tail.len() as u64
    }

    /// The roots (level `k`) of all complete tiles, in order.
    pub fn tile_roots(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// The roots of the tiles numbered `first` and up that are complete: what the store
    /// persists after appending (pass the old [`TreeCache::complete_tiles`]).
    pub fn completed_tiles_since(&self, first: u64) -> &[Hash] {
        let roots = self.tile_roots();
        let start = usize::try_from(first)
            .unwrap_or(usize::MAX)
            .min(roots.len());
        &roots[start..]
    }

    /// The leaf hashes of the incomplete last tile.
    pub fn tail(&self) -> &[Hash] {
        &self.tail
    }

    /// Appends a leaf hash: one node hash on average, plus one per level when a tile completes.
    pub fn push(&mut self, leaf: Hash) {
        self.tail.push(leaf);
        self.tail_frontier.push(leaf);
        if (self.tail.len() as u64) <= self.tile_mask() {
            return;
        }
        let mut hash = self.tail_frontier.root();
        self.tail.clear();
        self.tail_frontier = Frontier::new();
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            if row.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The frontier of the whole tree.
    pub fn frontier(&self) -> Frontier {
        let mut hashes = Vec::with_capacity(64);
        let tiles = self.complete_tiles();
        for (i, row) in self.levels.iter().enumerate().rev() {
            if (tiles >> i) & 1 == 1 {
                if let Some(h) = row.last() {
                    hashes.push(*h);
                }
            }
        }
        hashes.extend_from_slice(self.tail_frontier.hashes());
        Frontier::from_parts(self.size(), hashes).unwrap_or_default()
    }

    /// The root of the whole tree, in O(log n).
    pub fn root(&self) -> Hash {
        let tiles = self.complete_tiles();
        let mut hash = if self.tail.is_empty() {
            None
        } else {
            Some(self.tail_frontier.root())
        };
        for (i, row) in self.levels.iter().enumerate() {
            if (tiles >> i) & 1 == 1 {
                if let Some(left) = row.last() {
                    hash = Some(match hash {
                        None => *left,
                        Some(right) => node_hash(left, &right),
                    });
                }
            }
        }
        hash.unwrap_or_else(empty_root)
    }

    /// The tiles whose leaf hashes [`TreeCache::inclusion_proof`] needs for these arguments.
    pub fn tiles_for_inclusion(&self, index: u64, size: u64) -> Result<Vec<u64>, ProofError> {
        check_size(size, self.size())?;
        let mut recorder = Recorder::new(self);
        inclusion_path(&mut recorder, index, size)?;
        Ok(recorder.tiles)
    }

    /// The tiles whose leaf hashes [`TreeCache::consistency_proof`] needs for these arguments.
    pub fn tiles_for_consistency(&self, old: u64, new: u64) -> Result<Vec<u64>, ProofError> {
        check_size(new, self.size())?;
        let mut recorder = Recorder::new(self);
        consistency_path(&mut recorder, old, new)?;
        Ok(recorder.tiles)
    }

    /// The tiles whose leaf hashes [`TreeCache::root_at`] needs for this size.
    pub fn tiles_for_root(&self, size: u64) -> Result<Vec<u64>, ProofError> {
        check_size(size, self.size())?;
        let mut recorder = Recorder::new(self);
        range_hash(&mut recorder, 0, size)?;
        Ok(recorder.tiles)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves
    /// (RFC 9162 §2.1.3.1), from the tiles named by [`TreeCache::tiles_for_inclusion`].
    pub fn inclusion_proof<T: TileSource + ?Sized>(
        &self,
        index: u64,
        size: u64,
        tiles: &T,
    ) -> Result<Vec<Hash>, ProofError> {
        check_size(size, self.size())?;
        inclusion_path(&mut CacheNodes::new(self, tiles), index, size)
    }

    /// The consistency proof between the trees of the first `old` and `new` leaves
    /// (RFC 9162 §2.1.4.1), from the tiles named by [`TreeCache::tiles_for_consistency`].
    pub fn consistency_proof<T: TileSource + ?Sized>(
        &self,
        old: u64,
        new: u64,
        tiles: &T,
    ) -> Result<Vec<Hash>, ProofError> {
        check_size(new, self.size())?;
        consistency_path(&mut CacheNodes::new(self, tiles), old, new)
    }

    /// The root of the tree of the first `size` leaves, from the tiles named by
    /// [`TreeCache::tiles_for_root`].
    pub fn root_at<T: TileSource + ?Sized>(
        &self,
        size: u64,
        tiles: &T,
    ) -> Result<Hash, ProofError> {
        check_size(size, self.size())?;
        range_hash(&mut CacheNodes::new(self, tiles), 0, size)
    }

    /// A cached perfect subtree at level `k` or above.
    fn upper(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let row = self.levels.get((level - self.k) as usize);
        row.and_then(|row| row.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(ProofError::SizeBeyondTree {
                size: (index + 1) << level,
                tree_size: self.size(),
            })
    }
}

/// Records which tiles a proof would read, handing out placeholder hashes.
struct Recorder<'a> {
    cache: &'a TreeCache,
    tiles: Vec<u64>,
}

impl<'a> Recorder<'a> {
    fn new(cache: &'a TreeCache) -> Self {
        Self {
            cache,
            tiles: Vec::new(),
        }
    }
}

impl Nodes for Recorder<'_> {
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let k = self.cache.k;
        if level < k {
            let tile = (index << level) >> k;
            if tile != self.cache.complete_tiles() && !self.tiles.contains(&tile) {
                self.tiles.push(tile);
            }
        }
        Ok([0; 32])
    }
}

/// Serves perfect subtrees from the cache and the caller's tiles.
struct CacheNodes<'a, T: ?Sized> {
    cache: &'a TreeCache,
    tiles: &'a T,
    /// The subtree hashes inside each tile used so far: `levels[l][i]` is the perfect subtree
    /// at level `l` with index `i` counted from the start of the tile. At most three tiles.
    pyramids: Vec<(u64, Vec<Vec<Hash>>)>,
}

impl<'a, T: TileSource + ?Sized> CacheNodes<'a, T> {
    fn new(cache: &'a TreeCache, tiles: &'a T) -> Self {
        Self {
            cache,
            tiles,
            pyramids: Vec::new(),
        }
    }

    /// The subtree hashes inside a tile: from memory for the incomplete tile, otherwise from
    /// the caller's leaf hashes, checked against the stored tile root. Each tile is hashed
    /// once per proof (at most `2^k − 1` node hashes).
    fn pyramid(&mut self, tile: u64) -> Result<&[Vec<Hash>], ProofError> {
        if let Some(i) = self.pyramids.iter().position(|(t, _)| *t == tile) {
            return Ok(&self.pyramids[i].1);
        }
        let leaves: &[Hash] = if tile == self.cache.complete_tiles() {
            &self.cache.tail
        } else {
            let leaves = self
                .tiles
                .tile(tile)
                .ok_or(ProofError::TileMissing { tile })?;
            let expected = 1usize << self.cache.k;
            if leaves.len() != expected {
                return Err(ProofError::TileLength {
                    tile,
                    expected,
                    got: leaves.len(),
                });
            }
            leaves
        };
        let mut levels = vec![leaves.to_vec()];
        while let Some(below) = levels.last().filter(|row| row.len() >= 2) {
            let row: Vec<Hash> = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(row);
        }
        if tile != self.cache.complete_tiles() {
            let top = levels
                .get(self.cache.k as usize)
                .and_then(|row| row.first());
            if top != Some(&self.cache.upper(self.cache.k, tile)?) {
                return Err(ProofError::TileMismatch { tile });
            }
        }
        self.pyramids.push((tile, levels));
        Ok(self
            .pyramids
            .last()
            .map_or(&[], |(_, levels)| levels.as_slice()))
    }
}

impl<T: TileSource + ?Sized> Nodes for CacheNodes<'_, T> {
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let k = self.cache.k;
        if level >= k {
            return self.cache.upper(level, index);
        }
        let first = index << level;
        let tile = first >> k;
        let size = self.cache.size();
        let pyramid = self.pyramid(tile)?;
        let within = (index - (tile << (k - level))) as usize;
        pyramid
            .get(level as usize)
            .and_then(|row| row.get(within))
            .copied()
            .ok_or(ProofError::SizeBeyondTree {
                size: first + (1u64 << level),
                tree_size: size,
            })
    }
}
