//! A reader's row rule for an entity with an ACL, from the authorization index: the rows they
//! own, the rows of everyone below them in the entity's reports-to hierarchy, and the rows
//! granted to them, their groups or their units.

use rampart_apps::list::{Below, Rule};
use rampart_apps::schema::Table;
use rampart_authz::acl::Actions;
use rampart_authz::path::path_end;
use rampart_authz::view::AuthzView;
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
    // Nobody below the reader (a leaf, as most readers are): no part of the rule reads the
    // hierarchy, and the page comes straight from the owner index.
    let leaf = match (num, hierarchy) {
        (Some(n), Some(h)) => view
            .acl
            .hierarchy(h)
            .ok()
            .and_then(|tree| tree.subtree_size(n).ok())
            .is_none_or(|size| size <= 1),
        _ => true,
    };
    let below = match (hierarchy, &shape.owner_path) {
        (Some(h), Some(path)) if !leaf => Some(Below {
            hierarchy: i64::from(h.0),
            lo: path.clone(),
            hi: path_end(path),
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
        walk: shape.walk_in_order,
    }
}
