//! `/console/hierarchies`: reports-to and unit trees, and why someone may see a record.
//!
//! - The hierarchies (`decide::model`), then one level of a tree at a time
//!   (`tree::level`), administrators and auditors (`Operation::ReadAuthorizationData`).
//! - Moving a subtree: the new parent first, then the preview of what changes above it
//!   (`tree::preview_move`: the ancestors it leaves and joins, which under an owner rule lose
//!   and gain sight of the moved people's records), then the move itself through
//!   `acl::write`'s `set_parent` (administrators, as `POST /api/v1/authz/write`).
//! - "Why can X see record Y?": `decide::explain` (`POST /api/v1/authz/explain`), with the
//!   path that decided.
//! - Rebuilding the index with its progress shown live ([`rebuild`]).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rampart_api::{CheckItem, CheckRequest, WriteOp};
use rampart_authz::policy::Operation;
use rampart_core::{Error, UserId};
use rampart_service::authz::tree::{self, NodeView};
use rampart_service::authz::{acl, decide};
use rampart_service::identity::{self, users};
use rampart_service::AppState;
use serde::Deserialize;

use super::door::doors::{HierarchiesAdmin, HierarchiesRead};
use super::door::{Page, Sent};
use super::{error_page, field, user_named, Section, Segments, Shell};
use crate::routes::page;

pub mod rebuild;

/// The hierarchy pages' routes, the rebuild's among them.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/hierarchies", get(list))
        .route("/console/hierarchies/{name}", get(show))
        .route(
            "/console/hierarchies/{name}/move",
            get(confirm_move).post(do_move),
        )
        .route(rebuild::PAGE, get(rebuild::show).post(rebuild::start))
        .route(
            "/console/hierarchy-rebuild/progress",
            get(rebuild::progress),
        )
}

/// A node as a page shows it: its name for people and the name the API uses.
struct Node {
    label: String,
    name: String,
    encoded: String,
    children: usize,
    subtree: u32,
}

/// The usernames of a reports-to tree's nodes, the keys of a unit tree's.
async fn nodes(state: &AppState, list: Vec<NodeView>) -> Vec<Node> {
    let mut out = Vec::with_capacity(list.len());
    for n in list {
        let label = match n.user {
            Some(id) => users::get(state, &id.to_string())
                .await
                .map_or_else(|_| n.name.clone(), |u| u.username),
            None => n.name.clone(),
        };
        out.push(Node {
            label,
            encoded: page::encode(&n.name),
            name: n.name,
            children: n.children,
            subtree: n.subtree,
        });
    }
    out
}

struct HierarchyRow {
    name: String,
    kind: String,
    nodes: usize,
}

#[derive(Template)]
#[template(path = "console/hierarchies.html")]
struct ListPage<'a> {
    shell: &'a Shell,
    hierarchies: &'a [HierarchyRow],
    entities: &'a [String],
    explain: Option<&'a Explained>,
    asked: &'a ExplainQuery,
    problem: Option<&'a str>,
}

/// "Why can X see record Y?"
#[derive(Debug, Default, Deserialize)]
pub struct ExplainQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    record: String,
    #[serde(default)]
    action: String,
}

/// An explanation as the page shows it.
struct Explained {
    allowed: bool,
    rule: String,
    reason: String,
    path: Vec<String>,
    principal: String,
    checked: String,
}

/// `GET /console/hierarchies`: the hierarchies, and the explain form (with its answer when
/// asked).
pub async fn list(
    State(state): State<AppState>,
    page: Page<HierarchiesRead>,
    query: Result<Query<ExplainQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let model = match decide::model(&state, &operator.auth.user).await {
        Ok(m) => m,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let asked = query.map(|q| q.0).unwrap_or_default();
    let (explained, problem, status) = if asked.user.is_empty() {
        (None, None, StatusCode::OK)
    } else {
        match explain(&state, &operator.auth.user, &asked).await {
            Ok(e) => (Some(e), None, StatusCode::OK),
            Err(e) => {
                let problem = crate::error::ApiError::from(e).0;
                let status = StatusCode::from_u16(problem.status)
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                (None, Some(problem.detail), status)
            }
        }
    };
    let hierarchies: Vec<HierarchyRow> = model
        .hierarchies
        .into_iter()
        .map(|h| HierarchyRow {
            name: h.name,
            kind: if h.kind == "reports_to" {
                "reports-to".into()
            } else {
                "units".into()
            },
            nodes: h.nodes,
        })
        .collect();
    let entities: Vec<String> = model.entities.into_iter().map(|e| e.name).collect();
    let html = ListPage {
        shell: &shell,
        hierarchies: &hierarchies,
        entities: &entities,
        explain: explained.as_ref(),
        asked: &asked,
        problem: problem.as_deref(),
    }
    .render();
    shell.finish(page::html(status, html))
}

/// The explanation of `asked`, its user named by username, its path's users too.
async fn explain(
    state: &AppState,
    viewer: &rampart_core::User,
    asked: &ExplainQuery,
) -> Result<Explained, Error> {
    let user = user_named(state, asked.user.trim(), "user").await?;
    let action = if asked.action.is_empty() {
        "read"
    } else {
        asked.action.as_str()
    };
    let req = CheckRequest {
        checks: vec![CheckItem::Record {
            user,
            entity: asked.entity.clone(),
            record: asked.record.trim().to_owned(),
            action: action.to_owned(),
        }],
        at_least_as_fresh: None,
    };
    let answer = decide::explain(state, viewer, &req).await?;
    let mut path = Vec::with_capacity(answer.path.len());
    for step in answer.path {
        // A user is named `user:<id>`: shown by username.
        let id = step.strip_prefix("user:").unwrap_or(&step);
        let name = match UserId::parse(id, "path") {
            Ok(_) => users::get(state, id)
                .await
                .map_or_else(|_| step.clone(), |u| u.username),
            Err(_) => step.clone(),
        };
        path.push(name);
    }
    Ok(Explained {
        allowed: answer.allowed,
        rule: answer.rule,
        reason: answer.reason,
        path,
        principal: answer.principal.unwrap_or_default(),
        checked: answer.checked.join(", "),
    })
}

#[derive(Template)]
#[template(path = "console/hierarchy.html")]
struct TreePage<'a> {
    shell: &'a Shell,
    name: &'a str,
    kind: &'a str,
    path: &'a [Node],
    children: &'a [Node],
    more: usize,
    administrator: bool,
    notice: Option<&'a str>,
}

/// `?at=` (a node) on a tree's page, and `?done=` after a move.
#[derive(Debug, Default, Deserialize)]
pub struct At {
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /console/hierarchies/{name}`: one level of the tree.
pub async fn show(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    page: Page<HierarchiesRead>,
    query: Result<Query<At>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let q = query.map(|q| q.0).unwrap_or_default();
    let at = q.at.filter(|a| !a.is_empty());
    let level = match tree::level(&state, &operator.auth.user, &name, at.as_deref()).await {
        Ok(l) => l,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let administrator = identity::may(&state, &operator.auth.user, Operation::AdministerUsers)
        .await
        .unwrap_or(false);
    let html = TreePage {
        shell: &shell,
        name: &name,
        kind: level.kind,
        path: &nodes(&state, level.path).await,
        children: &nodes(&state, level.children).await,
        more: level.more,
        administrator,
        notice: q
            .done
            .is_some()
            .then_some("Moved; the tree below is as it is now."),
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// A move: the node, and the new parent once chosen (empty: make it a root).
#[derive(Debug, Default, Deserialize)]
pub struct Move {
    #[serde(default)]
    node: String,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Template)]
#[template(path = "console/move.html")]
struct MovePage<'a> {
    shell: &'a Shell,
    name: &'a str,
    kind: &'a str,
    node: &'a Node,
    from: &'a [Node],
    parent: &'a str,
    preview: Option<&'a Preview>,
    problem: Option<&'a str>,
}

/// What the preview shows once a parent is chosen.
struct Preview {
    to: Vec<Node>,
    leaves: Vec<Node>,
    joins: Vec<Node>,
    parent: String,
}

/// `GET /console/hierarchies/{name}/move?node=[&parent=]`: choose where, then the preview
/// (administrators, who alone may move).
pub async fn confirm_move(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    page: Page<HierarchiesAdmin>,
    query: Result<Query<Move>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let q = query.map(|q| q.0).unwrap_or_default();
    let user = &operator.auth.user;
    // Where it is now (and the refusal of a node that is not in the tree).
    let now = match tree::preview_move(&state, user, &name, &q.node, None).await {
        Ok(p) => p,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let mut problem = None;
    let mut status = StatusCode::OK;
    let mut preview = None;
    if let Some(raw) = q.parent.as_deref() {
        let parent = match parent_name(&state, now.kind, raw).await {
            Ok(p) => p,
            Err(e) => {
                let p = crate::error::ApiError::from(e).0;
                status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
                problem = Some(p.detail);
                None
            }
        };
        if problem.is_none() {
            match tree::preview_move(&state, user, &name, &q.node, parent.as_deref()).await {
                Ok(p) => {
                    preview = Some(Preview {
                        to: nodes(&state, p.to).await,
                        leaves: nodes(&state, p.leaves).await,
                        joins: nodes(&state, p.joins).await,
                        parent: parent.unwrap_or_default(),
                    });
                }
                Err(e) => {
                    let p = crate::error::ApiError::from(e).0;
                    status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::CONFLICT);
                    problem = Some(p.detail);
                }
            }
        }
    }
    let node = nodes(&state, vec![now.node]).await;
    let Some(node) = node.first() else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "node" }, &here));
    };
    let html = MovePage {
        shell: &shell,
        name: &name,
        kind: now.kind,
        node,
        from: &nodes(&state, now.from).await,
        parent: q.parent.as_deref().unwrap_or(""),
        preview: preview.as_ref(),
        problem: problem.as_deref(),
    }
    .render();
    shell.finish(page::html(status, html))
}

/// The new parent as the API names it: a username becomes the user's id in a reports-to
/// tree; empty is no parent (a root).
async fn parent_name(state: &AppState, kind: &str, raw: &str) -> Result<Option<String>, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if kind == "reports_to" {
        return user_named(state, raw, "parent").await.map(Some);
    }
    Ok(Some(raw.to_owned()))
}

/// `POST /console/hierarchies/{name}/move`: moves the subtree (administrators, as
/// `POST /api/v1/authz/write`'s `set_parent`).
pub async fn do_move(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    sent: Sent<HierarchiesAdmin>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let node = field(&fields, "node").to_owned();
    let parent = field(&fields, "parent").to_owned();
    let here = format!(
        "/console/hierarchies/{}/move?node={}",
        page::encode(&name),
        page::encode(&node)
    );
    let op = WriteOp::SetParent {
        hierarchy: name.clone(),
        node,
        parent: (!parent.is_empty()).then(|| parent.clone()),
    };
    match acl::write(&state, &operator.auth.caller(&state), &[op]).await {
        Ok(_) => shell.finish(page::see_other(&format!(
            "/console/hierarchies/{}?at={}&done=moved",
            page::encode(&name),
            page::encode(&parent)
        ))),
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}
