//! Reading hierarchies for people (administrators and auditors, as the model): one level of
//! a reports-to or unit tree at a time, and what moving a subtree would change before it is
//! moved (`rampart_authz::hierarchy::Hierarchy::move_effect`). Moving is the authorization
//! write `set_parent` ([`crate::authz::acl::write`]).

use rampart_authz::acl::{HierarchyId, HierarchyKind};
use rampart_authz::policy::Operation;
use rampart_authz::view::AuthzView;
use rampart_core::{Error, User, UserId};

use crate::state::AppState;

/// The most children one level shows.
pub const MAX_CHILDREN: usize = 200;

/// A node as people name it: a user id in a reports-to tree, a unit key in a unit tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// The user id or unit key.
    pub name: String,
    /// The user, in a reports-to tree.
    pub user: Option<UserId>,
    /// Nodes directly under it.
    pub children: usize,
    /// Nodes in its subtree, itself included.
    pub subtree: u32,
}

/// One level of a tree: where it is, and what is directly under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// `reports_to` or `units`.
    pub kind: &'static str,
    /// The node shown, from its root down (empty at the top).
    pub path: Vec<NodeView>,
    /// The nodes directly under it (at the top: the roots; in a reports-to tree only those
    /// with someone under them), at most [`MAX_CHILDREN`].
    pub children: Vec<NodeView>,
    /// How many more there are than shown.
    pub more: usize,
}

/// What moving a subtree would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePreview {
    /// `reports_to` or `units`.
    pub kind: &'static str,
    /// The node to move.
    pub node: NodeView,
    /// Its path now, from the root down to its parent.
    pub from: Vec<NodeView>,
    /// Its path after the move, from the root down to the new parent.
    pub to: Vec<NodeView>,
    /// The ancestors it would leave, nearest first.
    pub leaves: Vec<NodeView>,
    /// The ancestors it would join, nearest first.
    pub joins: Vec<NodeView>,
}

async fn may_read(state: &AppState, user: &User) -> Result<(), Error> {
    if crate::identity::may(state, user, Operation::ReadAuthorizationData).await? {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "reading authorization data about others needs an administrator or the `auditor` \
             IT role"
                .into(),
        ))
    }
}

/// A hierarchy by name, or an invalid-input refusal naming `field`.
fn hierarchy(view: &AuthzView, name: &str) -> Result<(HierarchyId, HierarchyKind), Error> {
    view.hierarchy(name)
        .ok_or_else(|| Error::invalid("hierarchy", format!("no hierarchy named `{name}`")))
}

fn kind_name(kind: HierarchyKind) -> &'static str {
    match kind {
        HierarchyKind::ReportsTo => "reports_to",
        HierarchyKind::Units => "units",
    }
}

/// A node's number from its name (`field` names it in a refusal).
fn node_num(
    view: &AuthzView,
    (h, kind): (HierarchyId, HierarchyKind),
    raw: &str,
    field: &str,
) -> Result<u32, Error> {
    let num = match kind {
        HierarchyKind::ReportsTo => view.user_num(UserId::parse(raw, field)?),
        HierarchyKind::Units => view.node_num(h, raw),
    };
    let tree = view
        .acl
        .hierarchy(h)
        .map_err(|e| Error::Internal(e.to_string()))?;
    num.filter(|n| (*n as usize) < tree.len())
        .ok_or_else(|| Error::invalid(field, format!("`{raw}` is not in this hierarchy")))
}

fn node_view(view: &AuthzView, (h, kind): (HierarchyId, HierarchyKind), num: u32) -> NodeView {
    let tree = view.acl.hierarchy(h).ok();
    let (name, user) = match kind {
        HierarchyKind::ReportsTo => match view.user_by_num(num) {
            Some(u) => (u.to_string(), Some(u)),
            None => (format!("#{num}"), None),
        },
        HierarchyKind::Units => (view.node_key(h, num).unwrap_or("?").to_owned(), None),
    };
    NodeView {
        name,
        user,
        children: tree
            .and_then(|t| t.children(Some(num)).ok())
            .map_or(0, |c| c.len()),
        subtree: tree.and_then(|t| t.subtree_size(num).ok()).unwrap_or(1),
    }
}

/// Root first, down to `num`'s parent.
fn path_to(view: &AuthzView, hk: (HierarchyId, HierarchyKind), num: u32) -> Vec<NodeView> {
    let mut up = view
        .acl
        .hierarchy(hk.0)
        .and_then(|t| t.ancestors(num).map_err(Into::into))
        .unwrap_or_default();
    up.reverse();
    up.into_iter().map(|a| node_view(view, hk, a)).collect()
}

/// The level of hierarchy `name` under node `at` (the top without one).
pub async fn level(
    state: &AppState,
    user: &User,
    name: &str,
    at: Option<&str>,
) -> Result<Level, Error> {
    may_read(state, user).await?;
    state.authz.fresh(None).await?;
    let view = state.authz.view();
    let hk = hierarchy(&view, name)?;
    let tree = view
        .acl
        .hierarchy(hk.0)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let at = at.map(|raw| node_num(&view, hk, raw, "at")).transpose()?;
    let mut children: Vec<NodeView> = tree
        .children(at)
        .map_err(|e| Error::Internal(e.to_string()))?
        .into_iter()
        .map(|c| node_view(&view, hk, c))
        .filter(|n| at.is_some() || hk.1 == HierarchyKind::Units || n.children > 0)
        .collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    let more = children.len().saturating_sub(MAX_CHILDREN);
    children.truncate(MAX_CHILDREN);
    let path = match at {
        Some(num) => {
            let mut path = path_to(&view, hk, num);
            path.push(node_view(&view, hk, num));
            path
        }
        None => Vec::new(),
    };
    Ok(Level {
        kind: kind_name(hk.1),
        path,
        children,
        more,
    })
}

/// What moving `node` of hierarchy `name` under `parent` (a root without one) would change,
/// without changing anything; refused as the move itself would be (a cycle, an unknown node).
pub async fn preview_move(
    state: &AppState,
    user: &User,
    name: &str,
    node: &str,
    parent: Option<&str>,
) -> Result<MovePreview, Error> {
    may_read(state, user).await?;
    state.authz.fresh(None).await?;
    let view = state.authz.view();
    let hk = hierarchy(&view, name)?;
    let num = node_num(&view, hk, node, "node")?;
    let to = parent
        .map(|raw| node_num(&view, hk, raw, "parent"))
        .transpose()?;
    let tree = view
        .acl
        .hierarchy(hk.0)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let effect = tree
        .move_effect(num, to)
        .map_err(|e| Error::Conflict(format!("{node} cannot move there: {e}")))?;
    let nodes = |list: Vec<u32>| -> Vec<NodeView> {
        list.into_iter().map(|n| node_view(&view, hk, n)).collect()
    };
    let to_path = match to {
        Some(p) => {
            let mut path = path_to(&view, hk, p);
            path.push(node_view(&view, hk, p));
            path
        }
        None => Vec::new(),
    };
    Ok(MovePreview {
        kind: kind_name(hk.1),
        node: node_view(&view, hk, num),
        from: path_to(&view, hk, num),
        to: to_path,
        leaves: nodes(effect.leaves),
        joins: nodes(effect.joins),
    })
}
