//! The Merkle tree, proofs and the tree cache against RFC 6962 test vectors and against a
//! slow reference written straight from RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF).

use proptest::prelude::*;
use rampart_audit::{
    consistency_proof_from_leaves, empty_root, from_hex, inclusion_proof_from_leaves, leaf_hash,
    node_hash, verify_consistency, verify_inclusion, Frontier, Hash, NoTiles, ProofError,
    TreeCache,
};
use std::collections::HashMap;

// ---- the slow reference, as the RFC writes it --------------------------------------------

/// The largest power of two strictly smaller than `n`.
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH over leaf hashes.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]).
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

// ---- helpers -------------------------------------------------------------------------------

fn h(text: &str) -> Hash {
    from_hex(text).unwrap()
}

fn leaves_of(n: usize, salt: u64) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| leaf_hash(&(i ^ salt.rotate_left(17)).to_le_bytes()))
        .collect()
}

fn cache_of(k: u32, leaves: &[Hash]) -> TreeCache {
    let mut cache = TreeCache::new(k).unwrap();
    for leaf in leaves {
        cache.push(*leaf);
    }
    cache
}

/// The tiles a cache asks for, fetched from the full list of leaves as a store would.
fn fetch(k: u32, leaves: &[Hash], wanted: &[u64]) -> HashMap<u64, Vec<Hash>> {
    wanted
        .iter()
        .map(|&t| {
            let start = (t as usize) << k;
            let end = (start + (1 << k)).min(leaves.len());
            (t, leaves[start..end].to_vec())
        })
        .collect()
}

// ---- RFC 6962 test vectors (certificate-transparency / Trillian / transparency-dev) -------

fn vector_leaves() -> Vec<Hash> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|hex| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        leaf_hash(&bytes)
    })
    .collect()
}

const VECTOR_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index counted from 1, tree size, proof).
const INCLUSION_VECTORS: [(u64, u64, &[&str]); 4] = [
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof).
const CONSISTENCY_VECTORS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

#[test]
fn roots_of_every_size_match_the_rfc_vectors() {
    let leaves = vector_leaves();
    let mut frontier = Frontier::new();
    let mut caches: Vec<TreeCache> = (1..=3).map(|k| TreeCache::new(k).unwrap()).collect();
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.push(*leaf);
        let want = h(VECTOR_ROOTS[i]);
        assert_eq!(frontier.root(), want, "frontier at size {}", i + 1);
        assert_eq!(mth(&leaves[..=i]), want, "reference at size {}", i + 1);
        for cache in &mut caches {
            cache.push(*leaf);
            assert_eq!(
                cache.root(),
                want,
                "cache k={} size {}",
                cache.tile_height(),
                i + 1
            );
        }
    }
    // Historic roots from the largest tree, fetching the tiles the cache asks for.
    for cache in &caches {
        for size in 1..=8u64 {
            let tiles = fetch(
                cache.tile_height(),
                &leaves,
                &cache.tiles_for_root(size).unwrap(),
            );
            assert_eq!(
                cache.root_at(size, &tiles).unwrap(),
                h(VECTOR_ROOTS[size as usize - 1])
            );
        }
    }
}

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    assert_eq!(Frontier::new().root(), empty_root());
    assert_eq!(TreeCache::new(8).unwrap().root(), empty_root());
    assert_eq!(mth(&[]), empty_root());
}

#[test]
fn inclusion_vectors_are_generated_and_verified() {
    let leaves = vector_leaves();
    for (leaf, size, proof) in INCLUSION_VECTORS {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let index = leaf - 1;
        let root = h(VECTOR_ROOTS[size as usize - 1]);
        assert_eq!(
            inclusion_proof_from_leaves(&leaves, index, size).unwrap(),
            want
        );
        assert_eq!(path(index as usize, &leaves[..size as usize]), want);
        for k in 1..=3 {
            let cache = cache_of(k, &leaves);
            let tiles = fetch(k, &leaves, &cache.tiles_for_inclusion(index, size).unwrap());
            assert_eq!(cache.inclusion_proof(index, size, &tiles).unwrap(), want);
        }
        verify_inclusion(&leaves[index as usize], index, size, &want, &root).unwrap();
        assert_inclusion_probes_fail(&leaves[index as usize], index, size, &want, &root);
    }
}

#[test]
fn consistency_vectors_are_generated_and_verified() {
    let leaves = vector_leaves();
    for (old, new, proof) in CONSISTENCY_VECTORS {
        let want: Vec<Hash> = proof.iter().map(|p| h(p)).collect();
        let (r1, r2) = (
            h(VECTOR_ROOTS[old as usize - 1]),
            h(VECTOR_ROOTS[new as usize - 1]),
        );
        assert_eq!(
            consistency_proof_from_leaves(&leaves, old, new).unwrap(),
            want
        );
        assert_eq!(subproof(old as usize, &leaves[..new as usize], true), want);
        for k in 1..=3 {
            let cache = cache_of(k, &leaves);
            let tiles = fetch(k, &leaves, &cache.tiles_for_consistency(old, new).unwrap());
            assert_eq!(cache.consistency_proof(old, new, &tiles).unwrap(), want);
        }
        verify_consistency(old, new, &r1, &r2, &want).unwrap();
        if !want.is_empty() {
            assert_consistency_probes_fail(old, new, &r1, &r2, &want);
        }
    }
}

/// The corruptions of the transparency-dev verifier tests: each must fail.
fn assert_inclusion_probes_fail(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) {
    let some = leaf_hash(b"some other hash");
    let mut probes: Vec<(String, Hash, u64, u64, Vec<Hash>, Hash)> = vec![
        (
            "index - 1".into(),
            *leaf,
            index.wrapping_sub(1),
            size,
            proof.to_vec(),
            *root,
        ),
        (
            "index + 1".into(),
            *leaf,
            index + 1,
            size,
            proof.to_vec(),
            *root,
        ),
        (
            "index ^ 2".into(),
            *leaf,
            index ^ 2,
            size,
            proof.to_vec(),
            *root,
        ),
        (
            "size * 2".into(),
            *leaf,
            index,
            size * 2,
            proof.to_vec(),
            *root,
        ),
        (
            "size / 2".into(),
            *leaf,
            index,
            size / 2,
            proof.to_vec(),
            *root,
        ),
        (
            "wrong leaf".into(),
            some,
            index,
            size,
            proof.to_vec(),
            *root,
        ),
        (
            "empty root".into(),
            *leaf,
            index,
            size,
            proof.to_vec(),
            empty_root(),
        ),
        (
            "other root".into(),
            *leaf,
            index,
            size,
            proof.to_vec(),
            some,
        ),
        (
            "trailing root".into(),
            *leaf,
            index,
            size,
            [proof, &[*root]].concat(),
            *root,
        ),
        (
            "preceding root".into(),
            *leaf,
            index,
            size,
            [&[*root], proof].concat(),
            *root,
        ),
    ];
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i][0] ^= 8;
        probes.push((
            format!("flipped bit in proof[{i}]"),
            *leaf,
            index,
            size,
            p,
            *root,
        ));
    }
    if !proof.is_empty() {
        let p = proof[..proof.len() - 1].to_vec();
        probes.push(("removed hash".into(), *leaf, index, size, p, *root));
    }
    for (what, leaf, index, size, proof, root) in probes {
        assert!(
            verify_inclusion(&leaf, index, size, &proof, &root).is_err(),
            "{what} verified"
        );
    }
}

fn assert_consistency_probes_fail(old: u64, new: u64, r1: &Hash, r2: &Hash, proof: &[Hash]) {
    let wrong = leaf_hash(b"wrong root");
    let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = vec![
        ("old - 1".into(), old - 1, new, *r1, *r2, proof.to_vec()),
        ("old + 1".into(), old + 1, new, *r1, *r2, proof.to_vec()),
        ("old ^ 2".into(), old ^ 2, new, *r1, *r2, proof.to_vec()),
        ("new * 2".into(), old, new * 2, *r1, *r2, proof.to_vec()),
        ("new / 2".into(), old, new / 2, *r1, *r2, proof.to_vec()),
        (
            "wrong old root".into(),
            old,
            new,
            wrong,
            *r2,
            proof.to_vec(),
        ),
        (
            "wrong new root".into(),
            old,
            new,
            *r1,
            wrong,
            proof.to_vec(),
        ),
        ("swapped roots".into(), old, new, *r2, *r1, proof.to_vec()),
        ("empty proof".into(), old, new, *r1, *r2, vec![]),
        (
            "trailing root".into(),
            old,
            new,
            *r1,
            *r2,
            [proof, &[*r2]].concat(),
        ),
        (
            "preceding root".into(),
            old,
            new,
            *r1,
            *r2,
            [&[*r1], proof].concat(),
        ),
        (
            "preceding proof[0]".into(),
            old,
            new,
            *r1,
            *r2,
            [&proof[..1], proof].concat(),
        ),
        (
            "truncated".into(),
            old,
            new,
            *r1,
            *r2,
            proof[..proof.len() - 1].to_vec(),
        ),
    ];
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i][0] ^= 16;
        probes.push((format!("flipped bit in proof[{i}]"), old, new, *r1, *r2, p));
    }
    for (what, old, new, r1, r2, proof) in probes {
        assert!(
            verify_consistency(old, new, &r1, &r2, &proof).is_err(),
            "{what} verified"
        );
    }
}

#[test]
fn consistency_edge_cases() {
    let r = leaf_hash(b"r");
    // Equal sizes: an empty proof and equal roots.
    verify_consistency(5, 5, &r, &r, &[]).unwrap();
    assert_eq!(
        verify_consistency(5, 5, &r, &empty_root(), &[]),
        Err(ProofError::SameSizeDifferentRoots { size: 5 })
    );
    assert!(verify_consistency(5, 5, &r, &r, &[r]).is_err());
    // From the empty tree: an empty proof and the empty root.
    verify_consistency(0, 9, &empty_root(), &r, &[]).unwrap();
    assert!(verify_consistency(0, 9, &r, &r, &[]).is_err());
    assert!(verify_consistency(0, 9, &empty_root(), &r, &[r]).is_err());
    // Backwards.
    assert_eq!(
        verify_consistency(3, 2, &r, &r, &[r]),
        Err(ProofError::OldAfterNew { old: 3, new: 2 })
    );
}

#[test]
fn out_of_range_requests_name_the_values() {
    let leaves = leaves_of(20, 1);
    let cache = cache_of(2, &leaves);
    let err = cache.inclusion_proof(20, 20, &NoTiles).unwrap_err();
    assert_eq!(
        err,
        ProofError::IndexOutOfRange {
            index: 20,
            size: 20
        }
    );
    assert_eq!(
        err.to_string(),
        "leaf index 20 is out of range for a tree of size 20"
    );
    assert_eq!(
        cache.inclusion_proof(0, 21, &NoTiles),
        Err(ProofError::SizeBeyondTree {
            size: 21,
            tree_size: 20
        })
    );
    assert_eq!(
        cache.tiles_for_inclusion(5, 3),
        Err(ProofError::IndexOutOfRange { index: 5, size: 3 })
    );
    assert_eq!(
        cache.consistency_proof(9, 8, &NoTiles),
        Err(ProofError::OldAfterNew { old: 9, new: 8 })
    );
    assert_eq!(
        cache.consistency_proof(0, 8, &NoTiles),
        Err(ProofError::OldSizeZero)
    );
    assert_eq!(
        cache.consistency_proof(3, 30, &NoTiles),
        Err(ProofError::SizeBeyondTree {
            size: 30,
            tree_size: 20
        })
    );
    assert_eq!(
        verify_inclusion(&leaves[0], 4, 4, &[], &leaves[0]),
        Err(ProofError::IndexOutOfRange { index: 4, size: 4 })
    );
    // A proof that needs a tile the caller did not fetch says which.
    assert_eq!(
        cache.inclusion_proof(1, 20, &NoTiles),
        Err(ProofError::TileMissing { tile: 0 })
    );
}

#[test]
fn a_changed_leaf_hash_in_a_fetched_tile_is_refused() {
    let leaves = leaves_of(40, 2);
    let cache = cache_of(3, &leaves);
    let wanted = cache.tiles_for_inclusion(9, 40).unwrap();
    assert_eq!(wanted, vec![1]);
    let mut tiles = fetch(3, &leaves, &wanted);
    tiles.get_mut(&1).unwrap()[2][7] ^= 1;
    assert_eq!(
        cache.inclusion_proof(9, 40, &tiles),
        Err(ProofError::TileMismatch { tile: 1 })
    );
    tiles.get_mut(&1).unwrap().pop();
    assert_eq!(
        cache.inclusion_proof(9, 40, &tiles),
        Err(ProofError::TileLength {
            tile: 1,
            expected: 8,
            got: 7
        })
    );
}

#[test]
fn restore_rejects_counts_that_do_not_match_the_size() {
    let h = leaf_hash(b"x");
    assert!(TreeCache::restore(2, 9, vec![h, h], &[h]).is_ok());
    assert!(TreeCache::restore(2, 9, vec![h], &[h]).is_err());
    assert!(TreeCache::restore(2, 9, vec![h, h], &[]).is_err());
    assert!(TreeCache::new(0).is_err());
    assert!(TreeCache::new(17).is_err());
}

#[test]
fn proofs_stay_logarithmic_in_a_large_tree() {
    // 2^17 + 12345 leaves: proofs are at most 18 hashes and need at most three tiles.
    let n = (1u64 << 17) + 12345;
    let leaves = leaves_of(n as usize, 3);
    let cache = cache_of(8, &leaves);
    assert_eq!(
        cache.root(),
        Frontier::from_parts(n, cache.frontier().hashes().to_vec())
            .unwrap()
            .root()
    );
    for (index, size) in [(0, n), (n - 1, n), (77_777, 100_001), (5, 1 << 17)] {
        let wanted = cache.tiles_for_inclusion(index, size).unwrap();
        assert!(wanted.len() <= 2, "{wanted:?}");
        let tiles = fetch(8, &leaves, &wanted);
        let proof = cache.inclusion_proof(index, size, &tiles).unwrap();
        assert!(proof.len() <= 18);
        let root = cache
            .root_at(
                size,
                &fetch(8, &leaves, &cache.tiles_for_root(size).unwrap()),
            )
            .unwrap();
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
    }
    for (old, new) in [
        (1, n),
        (n - 1, n),
        (99_999, 100_001),
        (256, 1 << 17),
        (300, 70_000),
    ] {
        let wanted = cache.tiles_for_consistency(old, new).unwrap();
        assert!(wanted.len() <= 3, "{wanted:?}");
        let proof = cache
            .consistency_proof(old, new, &fetch(8, &leaves, &wanted))
            .unwrap();
        assert!(proof.len() <= 36);
        let r1 = cache
            .root_at(old, &fetch(8, &leaves, &cache.tiles_for_root(old).unwrap()))
            .unwrap();
        let r2 = cache
            .root_at(new, &fetch(8, &leaves, &cache.tiles_for_root(new).unwrap()))
            .unwrap();
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();
    }
}

// ---- property tests against the reference ---------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn frontier_and_cache_roots_match_the_reference(n in 0usize..300, k in 1u32..5, salt in any::<u64>()) {
        let leaves = leaves_of(n, salt);
        let mut frontier = Frontier::new();
        let mut cache = TreeCache::new(k).unwrap();
        for (i, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            cache.push(*leaf);
            if i % 7 == 0 || i + 1 == n {
                let want = mth(&leaves[..=i]);
                prop_assert_eq!(frontier.root(), want);
                prop_assert_eq!(cache.root(), want);
            }
        }
        prop_assert_eq!(cache.frontier(), frontier.clone());
        let rebuilt = Frontier::from_parts(frontier.size(), frontier.hashes().to_vec()).unwrap();
        prop_assert_eq!(rebuilt.root(), mth(&leaves));
        // Restoring from tile roots and the tail gives the same tree.
        let restored = TreeCache::restore(k, n as u64, cache.tile_roots().to_vec(), cache.tail()).unwrap();
        prop_assert_eq!(restored.root(), cache.root());
        prop_assert_eq!(restored.frontier(), cache.frontier());
        prop_assert_eq!(restored.completed_tiles_since(0), cache.tile_roots());
    }

    #[test]
    fn inclusion_proofs_match_the_reference_and_verify(
        n in 1usize..400, k in 1u32..5, salt in any::<u64>(), a in any::<u64>(), b in any::<u64>(), flip in any::<u64>(),
    ) {
        let leaves = leaves_of(n, salt);
        let cache = cache_of(k, &leaves);
        let size = 1 + (a % n as u64);
        let index = b % size;
        let want = path(index as usize, &leaves[..size as usize]);
        let wanted = cache.tiles_for_inclusion(index, size).unwrap();
        prop_assert!(wanted.len() <= 2);
        let tiles = fetch(k, &leaves, &wanted);
        let proof = cache.inclusion_proof(index, size, &tiles).unwrap();
        prop_assert_eq!(&proof, &want);
        let root = mth(&leaves[..size as usize]);
        prop_assert_eq!(cache.root_at(size, &fetch(k, &leaves, &cache.tiles_for_root(size).unwrap())).unwrap(), root);
        let leaf = leaves[index as usize];
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        // Tampering with the proof, the root, the leaf or the index fails.
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = (flip as usize) % bad.len();
            bad[i][(flip >> 8) as usize % 32] ^= 1 << ((flip >> 16) % 8);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        let mut bad_root = root;
        bad_root[(flip % 32) as usize] ^= 1;
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &bad_root).is_err());
        prop_assert!(verify_inclusion(&leaf_hash(b"forged"), index, size, &proof, &root).is_err());
        let other = (index + 1 + flip % size) % size;
        if other != index {
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_and_verify(
        n in 1usize..400, k in 1u32..5, salt in any::<u64>(), a in any::<u64>(), b in any::<u64>(), flip in any::<u64>(),
    ) {
        let leaves = leaves_of(n, salt);
        let cache = cache_of(k, &leaves);
        let new = 1 + (a % n as u64);
        let old = 1 + (b % new);
        let want = subproof(old as usize, &leaves[..new as usize], true);
        let wanted = cache.tiles_for_consistency(old, new).unwrap();
        prop_assert!(wanted.len() <= 3);
        let proof = cache.consistency_proof(old, new, &fetch(k, &leaves, &wanted)).unwrap();
        prop_assert_eq!(&proof, &want);
        prop_assert_eq!(&consistency_proof_from_leaves(&leaves, old, new).unwrap(), &want);
        let (r1, r2) = (mth(&leaves[..old as usize]), mth(&leaves[..new as usize]));
        prop_assert_eq!(verify_consistency(old, new, &r1, &r2, &proof), Ok(()));
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = (flip as usize) % bad.len();
            bad[i][(flip >> 8) as usize % 32] ^= 1 << ((flip >> 16) % 8);
            prop_assert!(verify_consistency(old, new, &r1, &r2, &bad).is_err());
            prop_assert!(verify_consistency(old, new, &r1, &r2, &proof[1..]).is_err());
        }
        let mut bad_root = r2;
        bad_root[(flip % 32) as usize] ^= 1;
        prop_assert!(verify_consistency(old, new, &r1, &bad_root, &proof).is_err());
        if old < new {
            let mut bad_old = r1;
            bad_old[(flip % 32) as usize] ^= 1;
            prop_assert!(verify_consistency(old, new, &bad_old, &r2, &proof).is_err());
        }
    }
}
