//! Row-level ACL: who may read or write which record of an entity.
//!
//! # Principals
//! Users, groups and the nodes of unit-like trees (units, branches) share one 32-bit
//! [`Principal`] space, so an explicit grant is `record × principal × actions` in 16 bytes.
//!
//! # Hierarchies
//! A [`HierarchyKind::ReportsTo`] tree has users as its nodes (node id = user number). A
//! [`HierarchyKind::Units`] tree has its own nodes (units, branches), and users *sit in*
//! nodes, possibly in several. Both are labelled by [`Hierarchy`] for O(1) subtree tests.
//!
//! # The decision rule for `can(user, action, entity, record)`
//! Checked in this order; the first rule that allows decides, and if none allows the answer
//! is a deny that lists what was checked:
//! 1. **public**: the entity's public actions include the action;
//! 2. **owner**: the entity has an owner rule over a reports-to tree and the record's owner
//!    is the user (whether or not they sit in the tree) or anyone below the user in that tree
//!    (a director sees the team's records);
//!    the owner rule allows reading and writing;
//! 3. **grant**: an explicit grant on the record includes the action and its principal is
//!    the user, a group the user belongs to, or a unit/branch node that the user sits in or
//!    that is above a node the user sits in (grants are inherited *down* a unit tree);
//! 4. otherwise deny. An entity with rule `none` (no public actions, no owner rule, no grants)
//!    denies everyone.
//!
//! The same rule, written as a set, is what list filtering asks the database for: records
//! whose owner is in the user's subtree (one label range) or whose grants name one of the
//! user's few *grantee principals* ([`Acl::grantee_principals`]).

use std::collections::BTreeMap;
use std::fmt;

use crate::hierarchy::{Hierarchy, HierarchyError};

/// A user, a group, or a node of a unit-like tree, in one 32-bit space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal(u32);

/// What a [`Principal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An end user (or IT user), by user number.
    User(u32),
    /// A group of users, by group number.
    Group(u32),
    /// A node of a unit-like hierarchy.
    Node(HierarchyId, u32),
}

const KIND_SHIFT: u32 = 30;
const NUM_MASK: u32 = (1 << KIND_SHIFT) - 1;
const NODE_BITS: u32 = 24;
const NODE_MASK: u32 = (1 << NODE_BITS) - 1;

/// Largest user or group number a [`Principal`] can carry.
pub const MAX_NUM: u32 = NUM_MASK;
/// A user number never given to anyone: decisions for it are those for a user who holds
/// nothing (public actions only). Stores assign user numbers below it.
pub const NOBODY: u32 = MAX_NUM;
/// Largest node number of a unit-like hierarchy.
pub const MAX_NODE: u32 = NODE_MASK;
/// Largest hierarchy number.
pub const MAX_HIERARCHY: u16 = (1 << (KIND_SHIFT - NODE_BITS)) - 1;

impl Principal {
    /// User number `n` (at most [`MAX_NUM`]).
    pub fn user(n: u32) -> Self {
        Self(n & NUM_MASK)
    }

    /// Group number `n` (at most [`MAX_NUM`]).
    pub fn group(n: u32) -> Self {
        Self((1 << KIND_SHIFT) | (n & NUM_MASK))
    }

    /// Node `node` of hierarchy `h`.
    pub fn node(h: HierarchyId, node: u32) -> Self {
        let h = u32::from(h.0) & u32::from(MAX_HIERARCHY);
        Self((2 << KIND_SHIFT) | (h << NODE_BITS) | (node & NODE_MASK))
    }

    /// What this principal is.
    pub fn kind(self) -> PrincipalKind {
        match self.0 >> KIND_SHIFT {
            0 => PrincipalKind::User(self.0 & NUM_MASK),
            1 => PrincipalKind::Group(self.0 & NUM_MASK),
            _ => PrincipalKind::Node(
                // Six bits: always fits.
                HierarchyId(((self.0 & NUM_MASK) >> NODE_BITS) as u16),
                self.0 & NODE_MASK,
            ),
        }
    }

    /// The raw 32-bit value (what the store keeps).
    pub fn raw(self) -> u32 {
        self.0
    }

    /// From the raw value.
    pub fn from_raw(raw: u32) -> Self {
        Self(raw)
    }
}

/// A hierarchy, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HierarchyId(pub u16);

/// An entity under ACL, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub u32);

/// What a hierarchy's nodes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HierarchyKind {
    /// Users are the nodes (reports-to).
    ReportsTo,
    /// Units or branches are the nodes; users sit in them.
    Units,
}

/// A set of actions on a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Actions(u8);

impl Actions {
    /// No action.
    pub const NONE: Actions = Actions(0);
    /// Read the record.
    pub const READ: Actions = Actions(1);
    /// Change the record.
    pub const WRITE: Actions = Actions(2);
    /// Read and write.
    pub const ALL: Actions = Actions(3);

    /// Whether every action of `other` is in `self`.
    pub fn contains(self, other: Actions) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub fn union(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Raw bits (what the store keeps): read = 1, write = 2.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From raw bits, ignoring unknown ones.
    pub fn from_bits(bits: u8) -> Actions {
        Actions(bits & 3)
    }

    /// Names of the actions, e.g. `["read", "write"]`.
    pub fn names(self) -> Vec<&'static str> {
        [(Self::READ, "read"), (Self::WRITE, "write")]
            .into_iter()
            .filter(|(a, _)| self.contains(*a))
            .map(|(_, n)| n)
            .collect()
    }
}

impl fmt::Display for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&names.join("+"))
        }
    }
}

/// An entity's ACL rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityRule {
    /// Actions everyone may do on every record (`NONE` unless the entity is public).
    pub public: Actions,
    /// The reports-to hierarchy whose subtrees see their members' records, if any.
    pub owner: Option<HierarchyId>,
    /// Whether explicit grants apply.
    pub grants: bool,
}

impl EntityRule {
    /// The `none` rule: nobody may do anything.
    pub const NONE: EntityRule = EntityRule {
        public: Actions::NONE,
        owner: None,
        grants: false,
    };
}

/// The facts about a record that a decision needs (the store reads them with the record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// The record's number within its entity.
    pub num: u64,
    /// The record's owner (a user number), if it has one.
    pub owner: Option<u32>,
}

/// Why the ACL refused a change; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// Unknown hierarchy.
    #[error("unknown hierarchy {0}")]
    UnknownHierarchy(u16),
    /// Unknown entity.
    #[error("unknown entity {0}")]
    UnknownEntity(u32),
    /// The hierarchy is of the other kind.
    #[error("hierarchy {0} is not a {1} hierarchy")]
    WrongKind(u16, &'static str),
    /// A tree change was refused.
    #[error(transparent)]
    Tree(#[from] HierarchyError),
    /// A record number beyond what the grant index holds.
    #[error("record number {0} is beyond the index's limit of 4,294,967,295 per entity")]
    RecordOutOfRange(u64),
    /// A number too large for the principal space.
    #[error("{0} number {1} is out of range")]
    OutOfRange(&'static str, u32),
}

/// One explicit grant, 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct GrantRow {
    record: u32,
    principal: u32,
    actions: u8,
}

/// Records per bucket of the grant directory (a power of two).
const BUCKET_SHIFT: u32 = 6;

/// Largest record number the grant index holds.
pub const MAX_RECORD: u64 = u32::MAX as u64;

/// The explicit grants of one entity: a sorted vector, a directory that maps each bucket of
/// 64 consecutive record numbers to its slice of the vector (so a lookup touches two cache
/// lines instead of binary-searching a million rows), and a small sorted overlay of recent
/// changes (a removed grant is an overlay entry with no actions), merged when it grows.
#[derive(Debug, Clone, Default)]
struct Grants {
    main: Vec<GrantRow>,
    /// `starts[b]` is the index in `main` of the first grant whose record is in bucket `b`
    /// or later; one entry past the last bucket.
    starts: Vec<u32>,
    overlay: BTreeMap<(u64, u32), u8>,
    len: usize,
}

impl Grants {
    fn from_sorted(main: Vec<GrantRow>) -> Self {
        let mut g = Grants {
            len: main.len(),
            main,
            starts: Vec::new(),
            overlay: BTreeMap::new(),
        };
        g.index();
        g
    }

    /// Rebuilds the bucket directory from `main`.
    fn index(&mut self) {
        let buckets = self
            .main
            .last()
            .map_or(0, |g| (g.record >> BUCKET_SHIFT) as usize + 1);
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut at = 0usize;
        for b in 0..=buckets {
            while at < self.main.len() && ((self.main[at].record >> BUCKET_SHIFT) as usize) < b {
                at += 1;
            }
            starts.push(at as u32);
        }
        self.starts = starts;
    }

    /// The rows of `main` for `record`.
    fn rows(&self, record: u64) -> &[GrantRow] {
        let Ok(r) = u32::try_from(record) else {
            return &[];
        };
        let b = (r >> BUCKET_SHIFT) as usize;
        let (Some(&lo), Some(&hi)) = (self.starts.get(b), self.starts.get(b + 1)) else {
            return &[];
        };
        let bucket = &self.main[lo as usize..hi as usize];
        let first = bucket.partition_point(|g| g.record < r);
        let rest = &bucket[first..];
        let n = rest.iter().take_while(|g| g.record == r).count();
        &rest[..n]
    }

    fn merge_threshold(&self) -> usize {
        (self.main.len() / 16).max(4096)
    }

    fn get(&self, record: u64, principal: u32) -> u8 {
        if let Some(&a) = self.overlay.get(&(record, principal)) {
            return a;
        }
        self.rows(record)
            .iter()
            .find(|g| g.principal == principal)
            .map_or(0, |g| g.actions)
    }

    fn set(&mut self, record: u64, principal: u32, actions: u8) {
        let before = self.get(record, principal);
        match (before != 0, actions != 0) {
            (false, true) => self.len += 1,
            (true, false) => self.len -= 1,
            _ => {}
        }
        self.overlay.insert((record, principal), actions);
        if self.overlay.len() > self.merge_threshold() {
            self.merge();
        }
    }

    fn merge(&mut self) {
        let mut over = std::mem::take(&mut self.overlay).into_iter().peekable();
        let mut merged = Vec::with_capacity(self.len);
        // Records were checked against MAX_RECORD when set.
        let row = |((record, principal), actions): ((u64, u32), u8)| GrantRow {
            record: record as u32,
            principal,
            actions,
        };
        for g in std::mem::take(&mut self.main) {
            let key = (u64::from(g.record), g.principal);
            // Overlay entries before this row are new grants (or removals of nothing).
            while let Some(entry) = over.next_if(|(k, _)| *k < key) {
                if entry.1 != 0 {
                    merged.push(row(entry));
                }
            }
            match over.next_if(|(k, _)| *k == key) {
                Some((_, 0)) => {}
                Some((_, a)) => merged.push(GrantRow { actions: a, ..g }),
                None => merged.push(g),
            }
        }
        merged.extend(over.filter(|(_, a)| *a != 0).map(row));
        self.main = merged;
        self.index();
    }

    /// Calls `f(principal, actions)` for each live grant on `record` until it returns true.
    fn any_on(&self, record: u64, mut f: impl FnMut(u32, u8) -> bool) -> bool {
        let overlay_empty = self.overlay.is_empty();
        for g in self.rows(record) {
            if !overlay_empty && self.overlay.contains_key(&(record, g.principal)) {
                continue;
            }
            if f(g.principal, g.actions) {
                return true;
            }
        }
        !overlay_empty
            && self
                .overlay
                .range((record, 0)..=(record, u32::MAX))
                .any(|(&(_, p), &a)| a != 0 && f(p, a))
    }

    fn heap_bytes(&self) -> usize {
        self.main.capacity() * std::mem::size_of::<GrantRow>()
            + self.starts.capacity() * 4
            + self.overlay.len() * (std::mem::size_of::<(u64, u32)>() + 1 + 16)
    }
}

#[derive(Debug, Clone)]
struct Tree {
    kind: HierarchyKind,
    tree: Hierarchy,
    /// `(user, node)` pairs, sorted: where users sit (unit-like trees only).
    members: Vec<(u32, u32)>,
}

/// The decision and the rule that made it: what [`Acl::explain`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclReason {
    /// The entity is public for the action.
    Public,
    /// The record's owner is the user or below the user; `path` runs from the user down to
    /// the owner (user numbers).
    Owner {
        /// The hierarchy.
        hierarchy: HierarchyId,
        /// From the deciding user down to the owner.
        path: Vec<u32>,
    },
    /// An explicit grant to `principal` with `actions`; for a unit node, `path` runs from the
    /// granted node down to the node the user sits in.
    Grant {
        /// The grantee.
        principal: Principal,
        /// The granted actions.
        actions: Actions,
        /// For a node grantee: granted node down to the user's node.
        path: Vec<u32>,
    },
    /// Nothing allowed it; `checked` names the rules that were tried.
    Denied {
        /// Rules tried, in order (`public`, `owner`, `grants`).
        checked: Vec<&'static str>,
    },
}

impl AclReason {
    /// Whether the decision allows.
    pub fn allowed(&self) -> bool {
        !matches!(self, AclReason::Denied { .. })
    }
}

/// The ACL index: hierarchies, memberships, groups, entity rules and explicit grants.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    trees: Vec<Option<Tree>>,
    /// `(user, group)` pairs, sorted.
    groups: Vec<(u32, u32)>,
    entities: Vec<Option<(EntityRule, Grants)>>,
}

fn insert_sorted(v: &mut Vec<(u32, u32)>, pair: (u32, u32)) -> bool {
    match v.binary_search(&pair) {
        Ok(_) => false,
        Err(i) => {
            v.insert(i, pair);
            true
        }
    }
}

fn remove_sorted(v: &mut Vec<(u32, u32)>, pair: (u32, u32)) -> bool {
    match v.binary_search(&pair) {
        Ok(i) => {
            v.remove(i);
            true
        }
        Err(_) => false,
    }
}

fn of_user(v: &[(u32, u32)], user: u32) -> &[(u32, u32)] {
    let start = v.partition_point(|&(u, _)| u < user);
    let end = v.partition_point(|&(u, _)| u <= user);
    &v[start..end]
}

impl Acl {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn tree(&self, h: HierarchyId) -> Result<&Tree, AclError> {
        self.trees
            .get(usize::from(h.0))
            .and_then(Option::as_ref)
            .ok_or(AclError::UnknownHierarchy(h.0))
    }

    fn tree_mut(&mut self, h: HierarchyId) -> Result<&mut Tree, AclError> {
        self.trees
            .get_mut(usize::from(h.0))
            .and_then(Option::as_mut)
            .ok_or(AclError::UnknownHierarchy(h.0))
    }

    /// Creates (or replaces) hierarchy `h` of `kind` with `nodes` unconnected nodes.
    pub fn define_hierarchy(
        &mut self,
        h: HierarchyId,
        kind: HierarchyKind,
        nodes: u32,
    ) -> Result<(), AclError> {
        if h.0 > MAX_HIERARCHY {
            return Err(AclError::OutOfRange("hierarchy", u32::from(h.0)));
        }
        let i = usize::from(h.0);
        if self.trees.len() <= i {
            self.trees.resize_with(i + 1, || None);
        }
        self.trees[i] = Some(Tree {
            kind,
            tree: Hierarchy::new(nodes),
            members: Vec::new(),
        });
        Ok(())
    }

    /// Removes hierarchy `h` (entities whose owner rule names it then deny by owner).
    pub fn drop_hierarchy(&mut self, h: HierarchyId) {
        if let Some(t) = self.trees.get_mut(usize::from(h.0)) {
            *t = None;
        }
    }

    /// The hierarchy's kind.
    pub fn hierarchy_kind(&self, h: HierarchyId) -> Result<HierarchyKind, AclError> {
        Ok(self.tree(h)?.kind)
    }

    /// The labelled tree of hierarchy `h`.
    pub fn hierarchy(&self, h: HierarchyId) -> Result<&Hierarchy, AclError> {
        Ok(&self.tree(h)?.tree)
    }

    /// Replaces the whole tree of `h` from each node's parent (a rebuild), keeping members.
    pub fn load_parents(
        &mut self,
        h: HierarchyId,
        parents: &[Option<u32>],
    ) -> Result<(), AclError> {
        let tree = Hierarchy::from_parents(parents)?;
        self.tree_mut(h)?.tree = tree;
        Ok(())
    }

    /// Places `node` under `parent` (or makes it a root), growing the tree to hold both.
    pub fn set_parent(
        &mut self,
        h: HierarchyId,
        node: u32,
        parent: Option<u32>,
    ) -> Result<(), AclError> {
        let t = self.tree_mut(h)?;
        let limit = match t.kind {
            HierarchyKind::ReportsTo => MAX_NUM,
            HierarchyKind::Units => MAX_NODE,
        };
        let top = node.max(parent.unwrap_or(0));
        if top > limit {
            return Err(AclError::OutOfRange("node", top));
        }
        t.tree.ensure_len(top + 1);
        t.tree.set_parent(node, parent)?;
        Ok(())
    }

    /// Applies many moves in `h` at once (one relabel); all-or-nothing.
    pub fn set_parents(
        &mut self,
        h: HierarchyId,
        moves: &[(u32, Option<u32>)],
    ) -> Result<(), AclError> {
        let t = self.tree_mut(h)?;
        let limit = match t.kind {
            HierarchyKind::ReportsTo => MAX_NUM,
            HierarchyKind::Units => MAX_NODE,
        };
        let top = moves
            .iter()
            .map(|&(n, p)| n.max(p.unwrap_or(0)))
            .max()
            .unwrap_or(0);
        if top > limit {
            return Err(AclError::OutOfRange("node", top));
        }
        t.tree.ensure_len(top + 1);
        t.tree.set_parents(moves)?;
        Ok(())
    }

    /// Records that `user` sits in `node` of unit-like hierarchy `h`; false if already so.
    pub fn add_member(&mut self, h: HierarchyId, node: u32, user: u32) -> Result<bool, AclError> {
        let t = self.tree_mut(h)?;
        if t.kind != HierarchyKind::Units {
            return Err(AclError::WrongKind(h.0, "unit"));
        }
        if node > MAX_NODE {
            return Err(AclError::OutOfRange("node", node));
        }
        t.tree.ensure_len(node + 1);
        Ok(insert_sorted(&mut t.members, (user, node)))
    }

    /// Removes `user` from `node`; false if they were not there.
    pub fn remove_member(
        &mut self,
        h: HierarchyId,
        node: u32,
        user: u32,
    ) -> Result<bool, AclError> {
        Ok(remove_sorted(&mut self.tree_mut(h)?.members, (user, node)))
    }

    /// The nodes of `h` that `user` sits in.
    pub fn nodes_of(&self, h: HierarchyId, user: u32) -> Result<Vec<u32>, AclError> {
        Ok(of_user(&self.tree(h)?.members, user)
            .iter()
            .map(|&(_, n)| n)
            .collect())
    }

    /// Adds `user` to group `group`; false if already a member.
    pub fn add_to_group(&mut self, group: u32, user: u32) -> bool {
        insert_sorted(&mut self.groups, (user, group))
    }

    /// Removes `user` from `group`; false if they were not a member.
    pub fn remove_from_group(&mut self, group: u32, user: u32) -> bool {
        remove_sorted(&mut self.groups, (user, group))
    }

    /// Removes every membership of `group`.
    pub fn drop_group(&mut self, group: u32) {
        self.groups.retain(|&(_, g)| g != group);
    }

    /// Whether `user` is in `group`.
    pub fn in_group(&self, user: u32, group: u32) -> bool {
        self.groups.binary_search(&(user, group)).is_ok()
    }

    /// The groups of `user`, without allocating.
    pub fn groups_iter(&self, user: u32) -> impl Iterator<Item = u32> + '_ {
        of_user(&self.groups, user).iter().map(|&(_, g)| g)
    }

    /// The groups of `user`.
    pub fn groups_of(&self, user: u32) -> Vec<u32> {
        of_user(&self.groups, user)
            .iter()
            .map(|&(_, g)| g)
            .collect()
    }

    /// Creates or changes entity `e`'s rule, keeping its grants.
    pub fn set_entity(&mut self, e: EntityId, rule: EntityRule) -> Result<(), AclError> {
        if let Some(h) = rule.owner {
            if self.tree(h)?.kind != HierarchyKind::ReportsTo {
                return Err(AclError::WrongKind(h.0, "reports-to"));
            }
        }
        let i = e.0 as usize;
        if self.entities.len() <= i {
            self.entities.resize_with(i + 1, || None);
        }
        match &mut self.entities[i] {
            Some((r, _)) => *r = rule,
            slot @ None => *slot = Some((rule, Grants::default())),
        }
        Ok(())
    }

    /// Removes entity `e` and its grants.
    pub fn drop_entity(&mut self, e: EntityId) {
        if let Some(slot) = self.entities.get_mut(e.0 as usize) {
            *slot = None;
        }
    }

    /// The entity's rule.
    pub fn entity_rule(&self, e: EntityId) -> Result<EntityRule, AclError> {
        Ok(self.entity(e)?.0)
    }

    fn entity(&self, e: EntityId) -> Result<&(EntityRule, Grants), AclError> {
        self.entities
            .get(e.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(AclError::UnknownEntity(e.0))
    }

    /// Sets the actions granted to `principal` on a record (`Actions::NONE` removes it).
    pub fn set_grant(
        &mut self,
        e: EntityId,
        record: u64,
        principal: Principal,
        actions: Actions,
    ) -> Result<(), AclError> {
        if record > MAX_RECORD {
            return Err(AclError::RecordOutOfRange(record));
        }
        let (_, grants) = self
            .entities
            .get_mut(e.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(AclError::UnknownEntity(e.0))?;
        grants.set(record, principal.0, actions.0);
        Ok(())
    }

    /// Loads many grants at once (a rebuild): sorts once instead of inserting one by one.
    pub fn load_grants(
        &mut self,
        e: EntityId,
        rows: impl IntoIterator<Item = (u64, Principal, Actions)>,
    ) -> Result<(), AclError> {
        let (_, grants) = self
            .entities
            .get_mut(e.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(AclError::UnknownEntity(e.0))?;
        let mut main: Vec<GrantRow> = Vec::new();
        for (record, p, a) in rows {
            if a.is_empty() {
                continue;
            }
            let record = u32::try_from(record).map_err(|_| AclError::RecordOutOfRange(record))?;
            main.push(GrantRow {
                record,
                principal: p.0,
                actions: a.0,
            });
        }
        main.sort_unstable();
        main.dedup_by(|b, a| {
            let same = (a.record, a.principal) == (b.record, b.principal);
            if same {
                a.actions |= b.actions;
            }
            same
        });
        main.shrink_to_fit();
        *grants = Grants::from_sorted(main);
        Ok(())
    }

    /// The actions granted directly to `principal` on the record.
    pub fn grant(
        &self,
        e: EntityId,
        record: u64,
        principal: Principal,
    ) -> Result<Actions, AclError> {
        Ok(Actions(self.entity(e)?.1.get(record, principal.0)))
    }

    /// Number of explicit grants of the entity.
    pub fn grant_count(&self, e: EntityId) -> Result<usize, AclError> {
        Ok(self.entity(e)?.1.len)
    }

    /// Whether `user` is `principal` or, through groups and unit trees, covered by it; for a
    /// node, the node the user sits in under it.
    fn covered_by(&self, user: u32, principal: u32) -> Option<Option<(HierarchyId, u32, u32)>> {
        match Principal(principal).kind() {
            PrincipalKind::User(u) => (u == user).then_some(None),
            PrincipalKind::Group(g) => self.in_group(user, g).then_some(None),
            PrincipalKind::Node(h, node) => {
                let t = self.tree(h).ok()?;
                of_user(&t.members, user)
                    .iter()
                    .find(|&&(_, m)| t.tree.contains(node, m).unwrap_or(false))
                    .map(|&(_, m)| Some((h, node, m)))
            }
        }
    }

    fn owner_covers(&self, h: HierarchyId, user: u32, owner: u32) -> bool {
        // Everyone sees their own records, in the tree or not.
        owner == user
            || self
                .tree(h)
                .map(|t| t.tree.contains(user, owner).unwrap_or(false))
                .unwrap_or(false)
    }

    /// Whether `user` may do `action` on the record. Unknown entities deny.
    pub fn can(&self, user: u32, action: Actions, e: EntityId, record: RecordRef) -> bool {
        let Ok((rule, grants)) = self.entity(e) else {
            return false;
        };
        if rule.public.contains(action) {
            return true;
        }
        if let (Some(h), Some(owner)) = (rule.owner, record.owner) {
            if self.owner_covers(h, user, owner) {
                return true;
            }
        }
        rule.grants
            && grants.any_on(record.num, |p, a| {
                Actions(a).contains(action) && self.covered_by(user, p).is_some()
            })
    }

    /// The decision with the rule and path that made it.
    pub fn explain(
        &self,
        user: u32,
        action: Actions,
        e: EntityId,
        record: RecordRef,
    ) -> Result<AclReason, AclError> {
        let (rule, grants) = self.entity(e)?;
        let mut checked = vec!["public"];
        if rule.public.contains(action) {
            return Ok(AclReason::Public);
        }
        if let Some(h) = rule.owner {
            checked.push("owner");
            if let Some(owner) = record.owner {
                if self.owner_covers(h, user, owner) {
                    return Ok(AclReason::Owner {
                        hierarchy: h,
                        path: self.path_down(h, user, owner)?,
                    });
                }
            }
        }
        if rule.grants {
            checked.push("grants");
            let mut found = None;
            grants.any_on(record.num, |p, a| {
                if !Actions(a).contains(action) {
                    return false;
                }
                match self.covered_by(user, p) {
                    Some(via) => {
                        found = Some((p, a, via));
                        true
                    }
                    None => false,
                }
            });
            if let Some((p, a, via)) = found {
                let path = match via {
                    Some((h, top, m)) => self.path_down(h, top, m)?,
                    None => Vec::new(),
                };
                return Ok(AclReason::Grant {
                    principal: Principal(p),
                    actions: Actions(a),
                    path,
                });
            }
        }
        Ok(AclReason::Denied { checked })
    }

    /// Nodes from `top` down to `node` (inclusive), where `top` contains `node`.
    fn path_down(&self, h: HierarchyId, top: u32, node: u32) -> Result<Vec<u32>, AclError> {
        if top == node {
            return Ok(vec![node]);
        }
        let t = &self.tree(h)?.tree;
        let mut path = vec![node];
        let mut cur = node;
        while cur != top {
            match t.parent(cur)? {
                Some(p) => {
                    path.push(p);
                    cur = p;
                }
                None => break,
            }
        }
        path.reverse();
        Ok(path)
    }

    /// The principals whose grants reach `user`: the user, their groups, and every node at or
    /// above a node they sit in, in every unit-like hierarchy. Few, whatever the data size;
    /// list filtering hands them to the database as a literal list.
    pub fn grantee_principals(&self, user: u32) -> Vec<Principal> {
        let mut out = vec![Principal::user(user)];
        out.extend(self.groups_of(user).into_iter().map(Principal::group));
        for (i, t) in self.trees.iter().enumerate() {
            let Some(t) = t else { continue };
            if t.kind != HierarchyKind::Units {
                continue;
            }
            let h = HierarchyId(i as u16);
            for &(_, node) in of_user(&t.members, user) {
                let mut cur = Some(node);
                while let Some(c) = cur {
                    out.push(Principal::node(h, c));
                    cur = t.tree.parent(c).ok().flatten();
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Bytes held on the heap by the index (hierarchies, memberships, groups and grants).
    pub fn heap_bytes(&self) -> usize {
        let trees: usize = self
            .trees
            .iter()
            .flatten()
            .map(|t| t.tree.heap_bytes() + t.members.capacity() * 8)
            .sum();
        let grants: usize = self
            .entities
            .iter()
            .flatten()
            .map(|(_, g)| g.heap_bytes())
            .sum();
        trees + self.groups.capacity() * 8 + grants
    }
}

#[cfg(test)]
mod tests;
