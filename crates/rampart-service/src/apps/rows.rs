//! A reader's row rule for an entity with an ACL, from the authorization index: the rows they
//! own, the rows of everyone below them in the entity's reports-to hierarchy, and the rows
//! granted to them, their groups or their units.

use rampart_apps::list::{Below, Rule};
use rampart_apps::schema::Table;
use rampart_authz::acl::Actions;
use rampart_authz::hierarchy::Hierarchy;
use rampart_authz::path::path_end;
use rampart_authz::view::{walk_is_cheaper, AuthzView};
use rampart_core::UserId;

/// An estimate of a table's rows for choosing the query shape: large, so that only readers
/// with small subtrees collect (collecting a large subtree's rows costs more than walking).
const ROWS_ESTIMATE: i64 = 1_000_000;

/// The rule letting `user` do `action` on the rows of `table` (which has an ACL).
pub fn rule(view: &AuthzView, table: &Table, user: UserId, action: Actions, page: i64) -> Rule {
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
                (Some(n), Some(t)) if walk && worth_a_set(t, size, page) => t.subtree_bytes(n).ok(),
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
