//! An organisation tree (reports-to, units, branches) labelled for O(1) subtree tests.
//!
//! Every node gets its pre-order position `label` and the largest label in its subtree
//! `last`; then `a` is `b` or an ancestor of `b` exactly when
//! `label(a) <= label(b) <= last(a)`. Stored next to each record's owner, the label turns
//! "records owned by anyone in my subtree" into the range predicate
//! `owner_label BETWEEN label(me) AND last(me)`, which a database answers from an index.
//!
//! Memory: six `u32` per node (parent, first child, next and previous sibling, label, last),
//! 24 bytes. A move checks for cycles in O(1) and relabels in O(n).

const NONE: u32 = u32::MAX;

/// Why a change to the tree was refused; the tree is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HierarchyError {
    /// The change would make a node its own ancestor.
    #[error("node {node} cannot be placed under {parent}: {parent} is in {node}'s own subtree")]
    Cycle {
        /// The node being moved.
        node: u32,
        /// The requested parent.
        parent: u32,
    },
    /// A node id out of range.
    #[error("unknown node {0}")]
    UnknownNode(u32),
}

/// What a move changes above the moved node: the ancestors it leaves and those it joins.
/// Under an owner rule over a reports-to tree, the first lose sight of the records the
/// subtree's people own and the second gain it; in a unit tree, the people seated in the
/// subtree lose and gain what is granted to those units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveEffect {
    /// Ancestors now that are not after the move, nearest first.
    pub leaves: Vec<u32>,
    /// Ancestors after the move that are not now, nearest first.
    pub joins: Vec<u32>,
}

/// A forest of `len()` nodes, identified by `0..len()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hierarchy {
    parent: Vec<u32>,
    first_child: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    label: Vec<u32>,
    last: Vec<u32>,
}

impl Hierarchy {
    /// `n` unconnected roots.
    pub fn new(n: u32) -> Self {
        let n = n as usize;
        let mut h = Self {
            parent: vec![NONE; n],
            first_child: vec![NONE; n],
            next: vec![NONE; n],
            prev: vec![NONE; n],
            label: vec![0; n],
            last: vec![0; n],
        };
        h.relabel();
        h
    }

    /// Builds a forest from each node's parent, refusing cycles and unknown parents.
    pub fn from_parents(parents: &[Option<u32>]) -> Result<Self, HierarchyError> {
        let n = u32::try_from(parents.len()).map_err(|_| HierarchyError::UnknownNode(u32::MAX))?;
        let mut h = Self::new(n);
        for (node, parent) in parents.iter().enumerate().rev() {
            if let Some(p) = *parent {
                if p >= n {
                    return Err(HierarchyError::UnknownNode(p));
                }
                h.attach(node as u32, p);
            }
        }
        let visited = h.relabel();
        if visited < parents.len() {
            // Some nodes are unreachable from any root: they sit on a cycle.
            let node = (0..n).find(|&i| !h.reached(i)).unwrap_or(0);
            return Err(HierarchyError::Cycle {
                node,
                parent: h.parent[node as usize],
            });
        }
        Ok(h)
    }

    fn reached(&self, node: u32) -> bool {
        let mut cur = node;
        for _ in 0..=self.parent.len() {
            match self.parent[cur as usize] {
                NONE => return true,
                p => cur = p,
            }
        }
        false
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    fn check(&self, node: u32) -> Result<usize, HierarchyError> {
        let i = node as usize;
        if i < self.parent.len() {
            Ok(i)
        } else {
            Err(HierarchyError::UnknownNode(node))
        }
    }

    /// The node's parent.
    pub fn parent(&self, node: u32) -> Result<Option<u32>, HierarchyError> {
        let i = self.check(node)?;
        Ok(Some(self.parent[i]).filter(|&p| p != NONE))
    }

    /// The node's pre-order label.
    pub fn label(&self, node: u32) -> Result<u32, HierarchyError> {
        Ok(self.label[self.check(node)?])
    }

    /// The labels of the node's subtree (itself included): `label..=last`.
    pub fn subtree_range(&self, node: u32) -> Result<(u32, u32), HierarchyError> {
        let i = self.check(node)?;
        Ok((self.label[i], self.last[i]))
    }

    /// Whether `node` is `ancestor` or below it.
    pub fn contains(&self, ancestor: u32, node: u32) -> Result<bool, HierarchyError> {
        let (a, n) = (self.check(ancestor)?, self.check(node)?);
        Ok(self.label[a] <= self.label[n] && self.label[n] <= self.last[a])
    }

    /// One byte per node, 1 for `node` and everyone below it and 0 elsewhere: the subtree
    /// as a set a database statement can test a node against by one byte. O(nodes), a
    /// sequential scan of the labels.
    pub fn subtree_bytes(&self, node: u32) -> Result<Vec<u8>, HierarchyError> {
        let (lo, hi) = self.subtree_range(node)?;
        Ok(self
            .label
            .iter()
            .map(|&l| u8::from(lo <= l && l <= hi))
            .collect())
    }

    /// Grows the forest to `n` nodes; the new nodes are unconnected roots. Labels stay valid:
    /// a full relabel would give the new roots, which come last, exactly these labels.
    pub fn ensure_len(&mut self, n: u32) {
        let old = self.parent.len();
        let n = n as usize;
        if n <= old {
            return;
        }
        for v in [
            &mut self.parent,
            &mut self.first_child,
            &mut self.next,
            &mut self.prev,
        ] {
            v.resize(n, NONE);
        }
        self.label.extend((old..n).map(|i| i as u32));
        self.last.extend((old..n).map(|i| i as u32));
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        [
            &self.parent,
            &self.first_child,
            &self.next,
            &self.prev,
            &self.label,
            &self.last,
        ]
        .iter()
        .map(|v| v.capacity() * 4)
        .sum()
    }

    /// The children of `node` in sibling order; with `None`, the roots by id.
    pub fn children(&self, node: Option<u32>) -> Result<Vec<u32>, HierarchyError> {
        let Some(node) = node else {
            return Ok((0..self.parent.len())
                .filter(|&i| self.parent.get(i) == Some(&NONE))
                .filter_map(|i| u32::try_from(i).ok())
                .collect());
        };
        let mut out = Vec::new();
        let mut cur = self
            .first_child
            .get(self.check(node)?)
            .copied()
            .unwrap_or(NONE);
        while cur != NONE {
            out.push(cur);
            cur = self.next.get(cur as usize).copied().unwrap_or(NONE);
        }
        Ok(out)
    }

    /// `node`'s ancestors, its parent first.
    pub fn ancestors(&self, node: u32) -> Result<Vec<u32>, HierarchyError> {
        let mut out = Vec::new();
        let mut cur = self.parent.get(self.check(node)?).copied().unwrap_or(NONE);
        while cur != NONE {
            out.push(cur);
            cur = self.parent.get(cur as usize).copied().unwrap_or(NONE);
        }
        Ok(out)
    }

    /// What moving `node` (with its subtree) under `parent` changes above it, without
    /// moving it: the ancestors it would leave and those it would join, nearest first.
    /// Refuses what [`Hierarchy::set_parent`] refuses.
    pub fn move_effect(
        &self,
        node: u32,
        parent: Option<u32>,
    ) -> Result<MoveEffect, HierarchyError> {
        self.check(node)?;
        let joined = match parent {
            Some(p) => {
                if self.contains(node, p)? {
                    return Err(HierarchyError::Cycle { node, parent: p });
                }
                let mut up = vec![p];
                up.extend(self.ancestors(p)?);
                up
            }
            None => Vec::new(),
        };
        let before = self.ancestors(node)?;
        Ok(MoveEffect {
            leaves: before
                .iter()
                .copied()
                .filter(|a| !joined.contains(a))
                .collect(),
            joins: joined
                .iter()
                .copied()
                .filter(|a| !before.contains(a))
                .collect(),
        })
    }

    /// Number of nodes in `node`'s subtree, itself included.
    pub fn subtree_size(&self, node: u32) -> Result<u32, HierarchyError> {
        let (lo, hi) = self.subtree_range(node)?;
        Ok(hi - lo + 1)
    }

    /// Applies many moves and relabels once: O(moves × depth + n) instead of
    /// O(moves × n). All-or-nothing: on a refused move nothing changes.
    pub fn set_parents(&mut self, moves: &[(u32, Option<u32>)]) -> Result<(), HierarchyError> {
        let before = self.clone();
        for &(node, parent) in moves {
            if let Err(e) = self.move_unlabelled(node, parent) {
                *self = before;
                return Err(e);
            }
        }
        self.relabel();
        Ok(())
    }

    /// Re-links without relabelling; cycles are found by walking up from the new parent.
    fn move_unlabelled(&mut self, node: u32, parent: Option<u32>) -> Result<(), HierarchyError> {
        self.check(node)?;
        if let Some(p) = parent {
            self.check(p)?;
            let mut cur = p;
            loop {
                if cur == node {
                    return Err(HierarchyError::Cycle { node, parent: p });
                }
                match self.parent[cur as usize] {
                    NONE => break,
                    up => cur = up,
                }
            }
        }
        self.detach(node);
        if let Some(p) = parent {
            self.attach(node, p);
        }
        Ok(())
    }

    /// Moves `node` (with its subtree) under `parent`, or makes it a root with `None`.
    pub fn set_parent(&mut self, node: u32, parent: Option<u32>) -> Result<(), HierarchyError> {
        self.check(node)?;
        if let Some(p) = parent {
            self.check(p)?;
            if self.contains(node, p)? {
                return Err(HierarchyError::Cycle { node, parent: p });
            }
        }
        self.detach(node);
        if let Some(p) = parent {
            self.attach(node, p);
        }
        self.relabel();
        Ok(())
    }

    fn detach(&mut self, node: u32) {
        let i = node as usize;
        let (p, prev, next) = (self.parent[i], self.prev[i], self.next[i]);
        if p == NONE {
            return;
        }
        if prev == NONE {
            self.first_child[p as usize] = next;
        } else {
            self.next[prev as usize] = next;
        }
        if next != NONE {
            self.prev[next as usize] = prev;
        }
        self.parent[i] = NONE;
        self.prev[i] = NONE;
        self.next[i] = NONE;
    }

    fn attach(&mut self, node: u32, parent: u32) {
        let (i, p) = (node as usize, parent as usize);
        let head = self.first_child[p];
        self.parent[i] = parent;
        self.prev[i] = NONE;
        self.next[i] = head;
        if head != NONE {
            self.prev[head as usize] = node;
        }
        self.first_child[p] = node;
    }

    /// Recomputes every label by an iterative pre-order walk from the roots; returns how
    /// many nodes were reached.
    fn relabel(&mut self) -> usize {
        let mut counter: u32 = 0;
        let mut stack: Vec<u32> = Vec::new();
        for root in 0..self.parent.len() {
            if self.parent[root] != NONE {
                continue;
            }
            // Each node is labelled when first reached, and its `last` is set once all of
            // its children are done (when the walk climbs back past it).
            let mut cur = root as u32;
            loop {
                self.label[cur as usize] = counter;
                counter += 1;
                stack.push(cur);
                let child = self.first_child[cur as usize];
                if child != NONE {
                    cur = child;
                    continue;
                }
                // Climb until a node with a next sibling is found.
                let mut next = NONE;
                while let Some(done) = stack.pop() {
                    self.last[done as usize] = counter - 1;
                    if done as usize == root {
                        break;
                    }
                    let sibling = self.next[done as usize];
                    if sibling != NONE {
                        next = sibling;
                        break;
                    }
                }
                if next == NONE {
                    break;
                }
                cur = next;
            }
        }
        counter as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The slow, obvious answer: walk up from `node` looking for `ancestor`.
    fn reference_contains(parents: &[Option<u32>], ancestor: u32, node: u32) -> bool {
        let mut cur = Some(node);
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            cur = parents[c as usize];
        }
        false
    }

    /// (node, new parent, ancestors it leaves, ancestors it joins)
    type Case = (u32, Option<u32>, &'static [u32], &'static [u32]);

    #[test]
    fn children_ancestors_and_the_effect_of_a_move() {
        // 0 ─ 1 ─ 3          5
        //   └ 2 ─ 4
        let h = Hierarchy::from_parents(&[None, Some(0), Some(0), Some(1), Some(2), None]).unwrap();
        assert_eq!(h.children(None).unwrap(), [0, 5]);
        let mut kids = h.children(Some(0)).unwrap();
        kids.sort_unstable();
        assert_eq!(kids, [1, 2]);
        assert_eq!(h.children(Some(4)).unwrap(), Vec::<u32>::new());
        assert_eq!(h.ancestors(4).unwrap(), [2, 0]);
        assert_eq!(h.ancestors(0).unwrap(), Vec::<u32>::new());
        // (node, new parent, leaves, joins)
        let table: [Case; 5] = [
            (3, Some(2), &[1], &[2]),
            (3, Some(4), &[1], &[4, 2]),
            (1, Some(5), &[0], &[5]),
            (4, None, &[2, 0], &[]),
            (3, Some(1), &[], &[]),
        ];
        for (node, parent, leaves, joins) in table {
            let effect = h.move_effect(node, parent).unwrap();
            assert_eq!(
                (effect.leaves.as_slice(), effect.joins.as_slice()),
                (leaves, joins),
                "{node} under {parent:?}"
            );
        }
        assert_eq!(
            h.move_effect(0, Some(4)),
            Err(HierarchyError::Cycle { node: 0, parent: 4 })
        );
        assert_eq!(h.move_effect(9, None), Err(HierarchyError::UnknownNode(9)));
    }

    proptest! {
        /// The effect of a move is the difference of the ancestor sets before and after it.
        #[test]
        fn a_moves_effect_is_what_the_move_does(parents in forest(), node in 0u32..40, parent in proptest::option::of(0u32..40)) {
            let n = parents.len() as u32;
            let (node, parent) = (node % n, parent.map(|p| p % n));
            let h = Hierarchy::from_parents(&parents).unwrap();
            let mut moved = h.clone();
            match (h.move_effect(node, parent), moved.set_parent(node, parent)) {
                (Ok(effect), Ok(())) => {
                    let before = h.ancestors(node).unwrap();
                    let after = moved.ancestors(node).unwrap();
                    prop_assert_eq!(effect.leaves, before.iter().copied().filter(|a| !after.contains(a)).collect::<Vec<_>>());
                    prop_assert_eq!(effect.joins, after.iter().copied().filter(|a| !before.contains(a)).collect::<Vec<_>>());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "effect {:?} but move {:?}", a, b),
            }
        }
    }

    fn forest() -> impl Strategy<Value = Vec<Option<u32>>> {
        (1usize..40).prop_flat_map(|n| {
            proptest::collection::vec(proptest::option::weighted(0.8, 0u32..n as u32), n).prop_map(
                |mut parents| {
                    // Only parents with a smaller id: acyclic by construction.
                    for (i, p) in parents.iter_mut().enumerate() {
                        if p.is_some_and(|p| p as usize >= i) {
                            *p = None;
                        }
                    }
                    parents
                },
            )
        })
    }

    fn assert_matches(h: &Hierarchy, parents: &[Option<u32>]) {
        let n = parents.len() as u32;
        for a in 0..n {
            assert_eq!(h.parent(a).unwrap(), parents[a as usize]);
            for b in 0..n {
                assert_eq!(
                    h.contains(a, b).unwrap(),
                    reference_contains(parents, a, b),
                    "{a} ⊇ {b}?"
                );
            }
        }
        for a in 0..n {
            let want: Vec<u8> = (0..n)
                .map(|b| u8::from(reference_contains(parents, a, b)))
                .collect();
            assert_eq!(h.subtree_bytes(a).unwrap(), want, "the subtree of {a}");
        }
        let mut labels: Vec<u32> = (0..n).map(|i| h.label(i).unwrap()).collect();
        labels.sort_unstable();
        assert_eq!(
            labels,
            (0..n).collect::<Vec<_>>(),
            "labels are a permutation"
        );
    }

    proptest! {
        #[test]
        fn index_matches_parent_walks_through_random_moves(
            parents in forest(),
            moves in proptest::collection::vec((0u32..40, proptest::option::of(0u32..40)), 0..30),
        ) {
            let mut parents = parents;
            let n = parents.len() as u32;
            let mut h = Hierarchy::from_parents(&parents).unwrap();
            assert_matches(&h, &parents);
            for (node, parent) in moves {
                let (node, parent) = (node % n, parent.map(|p| p % n));
                let would_cycle = parent.is_some_and(|p| reference_contains(&parents, node, p));
                let before = h.clone();
                match h.set_parent(node, parent) {
                    Ok(()) => {
                        prop_assert!(!would_cycle);
                        parents[node as usize] = parent;
                    }
                    Err(HierarchyError::Cycle { .. }) => {
                        prop_assert!(would_cycle);
                        prop_assert_eq!(&h, &before, "a refused move changes nothing");
                    }
                    Err(other) => prop_assert!(false, "{other}"),
                }
                assert_matches(&h, &parents);
            }
        }
    }

    #[test]
    fn cycles_and_unknown_nodes_are_refused() {
        assert_eq!(
            Hierarchy::from_parents(&[Some(1), Some(0), None]),
            Err(HierarchyError::Cycle { node: 0, parent: 1 })
        );
        assert_eq!(
            Hierarchy::from_parents(&[Some(5)]),
            Err(HierarchyError::UnknownNode(5))
        );
        assert!(matches!(
            Hierarchy::from_parents(&[Some(0)]),
            Err(HierarchyError::Cycle { .. })
        ));
        let mut h = Hierarchy::from_parents(&[None, Some(0), Some(1)]).unwrap();
        assert_eq!(
            h.set_parent(0, Some(2)),
            Err(HierarchyError::Cycle { node: 0, parent: 2 })
        );
        assert_eq!(
            h.set_parent(0, Some(0)),
            Err(HierarchyError::Cycle { node: 0, parent: 0 })
        );
        assert_eq!(h.set_parent(7, None), Err(HierarchyError::UnknownNode(7)));
        assert_eq!(h.contains(0, 9), Err(HierarchyError::UnknownNode(9)));
    }

    #[test]
    fn subtree_ranges_are_contiguous_label_ranges() {
        // 0 ─┬─ 1 ─── 3
        //    └─ 2
        let h = Hierarchy::from_parents(&[None, Some(0), Some(0), Some(1)]).unwrap();
        let (lo, hi) = h.subtree_range(1).unwrap();
        let inside: Vec<u32> = (0..4)
            .filter(|&n| (lo..=hi).contains(&h.label(n).unwrap()))
            .collect();
        assert_eq!(inside, [1, 3]);
        assert_eq!(h.subtree_range(0).unwrap(), (0, 3));
    }
}
