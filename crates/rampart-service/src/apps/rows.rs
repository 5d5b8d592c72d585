//! A reader's row rule for an entity with an ACL, from the authorization index: the rows they
//! own, the rows of everyone below them in the entity's reports-to hierarchy, and the rows
//! granted to them, their groups or their units.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_apps::list::{Below, MemberSet, Rule};
use rampart_apps::schema::Table;
use rampart_authz::acl::Actions;
use rampart_authz::hierarchy::Hierarchy;
use rampart_authz::path::path_end;
use rampart_authz::view::{walk_is_cheaper, AuthzView};
use rampart_core::UserId;

/// An estimate of a table's rows for choosing the query shape: large, so that only readers
/// with small subtrees collect (collecting a large subtree's rows costs more than walking).
const ROWS_ESTIMATE: i64 = 1_000_000;

/// The rule letting `user` do `action` on the rows of `table` (which has an ACL); a member
/// set it needs comes from `sets` when built before at the view's revision.
pub fn rule(
    view: &AuthzView,
    sets: &MemberSets,
    table: &Table,
    user: UserId,
    action: Actions,
    page: i64,
) -> Rule {
    let acl = table.acl.as_ref();
    let num = view.user_num(user);
    let hierarchy = acl
        .and_then(|a| a.hierarchy.as_deref())
        .and_then(|name| view.hierarchy(name))
        .map(|(h, _)| h);
    let shape = match (num, hierarchy) {
        (Some(n), Some(h)) => view.reader_shape(Some(h), n, ROWS_ESTIMATE, page),
        _ => Default::default(),
    };
    let tree = hierarchy.and_then(|h| view.acl.hierarchy(h).ok());
    let size = match (num, tree) {
        (Some(n), Some(t)) => t.subtree_size(n).unwrap_or(1),
        _ => 1,
    };
    // The shape from the subtree's size on both databases: the statement's shape is fixed
    // by its text, so PostgreSQL's planner cannot turn a collect into a walk.
    let walk = shape.owner_path.is_some()
        && tree.is_some_and(|t| walk_is_cheaper(size, t.len(), ROWS_ESTIMATE, page));
    // Nobody below the reader (a leaf, as most readers are): no part of the rule reads the
    // hierarchy, and the page comes straight from the owner index.
    let below = match (hierarchy, &shape.owner_path) {
        (Some(h), Some(path)) if size > 1 => Some(Below {
            hierarchy: i64::from(h.0),
            lo: path.clone(),
            hi: path_end(path),
            members: match (num, tree) {
                (Some(n), Some(t)) if walk && worth_a_set(t, size, page) => {
                    sets.get(view.revision, h.0, n, || t.subtree_bytes(n).ok())
                }
                _ => None,
            },
        }),
        _ => None,
    };
    let grantees = match (num, acl.is_some_and(|a| a.grants)) {
        (Some(n), true) => view
            .grantee_principals(n)
            .into_iter()
            .map(|p| i64::from(p.raw()))
            .collect(),
        _ => Vec::new(),
    };
    Rule {
        owner: table.owner_column().map(|_| user.to_string()),
        below,
        grantees,
        action_bit: i64::from(action.bits()),
        walk,
    }
}

/// Whether a walk should test owners against the reader's member set rather than search
/// each owner's path: the set costs a scan of the hierarchy's labels (about a nanosecond per
/// person in it), a path search (two B-tree descents into the platform's tables, whose
/// cached pages every audit commit drops) about a microsecond per row tested, and a walk
/// tests about `page × people ÷ subtree` rows. A single record (`page` 1) never is.
fn worth_a_set(tree: &Hierarchy, subtree: u32, page: i64) -> bool {
    let people = tree.len().max(1) as f64;
    let tested = page.max(1) as f64 * people / f64::from(subtree.max(1));
    page > 1 && tested * 1000.0 >= people
}

/// The member sets built for readers with large subtrees, kept for the authorization
/// revision they were built at: a director's set (one byte and one bit per user) costs a
/// scan of the hierarchy's labels, and every page they read needs it again. Everything is
/// dropped when the revision moves or the budget is spent.
#[derive(Debug, Default)]
pub struct MemberSets {
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    revision: u64,
    bytes: usize,
    sets: HashMap<(u16, u32), Arc<MemberSet>>,
}

/// The most bytes of member sets a node keeps (about 570 sets of 100,000 users).
const MEMBER_SETS_BUDGET: usize = 64 << 20;

impl MemberSets {
    /// The set of `node` in hierarchy `h` at `revision`: the one kept, or `build`'s, kept.
    fn get(
        &self,
        revision: u64,
        h: u16,
        node: u32,
        build: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Arc<MemberSet>> {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.revision != revision {
            *kept = Kept {
                revision,
                ..Kept::default()
            };
        }
        if let Some(set) = kept.sets.get(&(h, node)) {
            return Some(Arc::clone(set));
        }
        let set = Arc::new(MemberSet::new(build()?));
        if kept.bytes + set.heap_bytes() > MEMBER_SETS_BUDGET {
            kept.sets.clear();
            kept.bytes = 0;
        }
        kept.bytes += set.heap_bytes();
        kept.sets.insert((h, node), Arc::clone(&set));
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_set_is_built_once_per_reader_and_revision() {
        let sets = MemberSets::default();
        let mut built = 0;
        let mut build = |bytes: Vec<u8>| {
            built += 1;
            Some(bytes)
        };
        let a = sets.get(7, 0, 4, || build(vec![0, 1, 1])).unwrap();
        let again = sets.get(7, 0, 4, || build(vec![1, 1, 1])).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(again.bytes(), &[0, 1, 1]);
        // Another reader, another hierarchy: their own sets.
        let other = sets.get(7, 0, 5, || build(vec![1, 0, 0])).unwrap();
        assert_eq!(other.bytes(), &[1, 0, 0]);
        let other_tree = sets.get(7, 1, 4, || build(vec![0, 0, 1])).unwrap();
        assert_eq!(other_tree.bytes(), &[0, 0, 1]);
        // A new revision: built again from the index as it is now.
        let moved = sets.get(8, 0, 4, || build(vec![0, 0, 1])).unwrap();
        assert_eq!(moved.bytes(), &[0, 0, 1]);
        assert_eq!(moved.bits(), &[0b100]);
        assert_eq!(built, 4);
        // A reader the index cannot give a set for gets none, and nothing is kept.
        assert!(sets.get(8, 0, 9, || None).is_none());
        assert!(sets.get(8, 0, 9, || Some(vec![1])).is_some());
    }
}
