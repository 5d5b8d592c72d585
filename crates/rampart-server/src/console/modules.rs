//! `/console/modules`: applications and their modules, under the lifecycle's IT levels.
//!
//! - The list: the modules the signed-in user may know of (`versions::modules`: `reference`
//!   somewhere), by application.
//! - A module: its versions (author, message, where each runs), a version's public surface
//!   (`versions::surface`, `reference`), its application's tags with their release notes
//!   (`tags::tags`). Links to a version's source and the comparison form appear only for
//!   whoever holds `open` (`versions::may_read_source`).
//! - A version's source (`versions::version`) and a side-by-side diff of two versions
//!   (`versions::diff`: the structured changes and the line diff), each refused exactly as
//!   `GET /api/v1/modules/{name}/versions/{version}` and `…/diff` refuse (403 to a
//!   `reference` holder, 404 to whoever may not know the module), and recorded in the
//!   `access` stream by the same use case.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{DiffQuery, SurfaceQuery, TagWire, VersionWire};
use rampart_core::Error;
use rampart_model::surface::Field;
use rampart_model::Surface;
use rampart_service::lifecycle::{tags, versions};
use rampart_service::AppState;
use serde::Deserialize;

use super::account::stamp;
use super::door::doors::ModulesOpen;
use super::door::Page;
use super::{error_page, Section, Segments, Shell};
use crate::routes::page;

/// A module in the list.
struct ModuleRow {
    name: String,
    application: String,
}

#[derive(Template)]
#[template(path = "console/modules.html")]
struct ListPage<'a> {
    shell: &'a Shell,
    modules: &'a [ModuleRow],
    /// Where the list starts (1-based) and how many there are in all.
    first: usize,
    total: usize,
    previous: Option<usize>,
    next: Option<usize>,
}

/// Modules a page of the list shows.
const MODULES_PAGE: usize = 50;

/// `?page=N` of the modules list (from 1).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<String>,
}

/// `GET /console/modules`: the modules the user may know of, by application, 50 a page.
pub async fn list(
    State(state): State<AppState>,
    page: Page<ModulesOpen>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let page_number = match query.ok().and_then(|q| q.0.page) {
        None => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                let e = Error::invalid("page", "must be a page number such as 2");
                return shell.finish(error_page(&shell, e, &here));
            }
        },
    };
    let caller = operator.auth.caller(&state);
    let modules = match versions::modules(&state, &caller).await {
        Ok(m) => m,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let mut modules: Vec<ModuleRow> = modules
        .into_iter()
        .map(|(name, application)| ModuleRow { name, application })
        .collect();
    modules.sort_by(|a, b| (&a.application, &a.name).cmp(&(&b.application, &b.name)));
    let total = modules.len();
    let start = (page_number - 1).saturating_mul(MODULES_PAGE).min(total);
    let end = (start + MODULES_PAGE).min(total);
    let html = ListPage {
        shell: &shell,
        modules: modules.get(start..end).unwrap_or_default(),
        first: start + 1,
        total,
        previous: (page_number > 1).then(|| page_number - 1),
        next: (end < total).then_some(page_number + 1),
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// A version as the module page lists it.
struct VersionRow {
    number: i64,
    author: String,
    message: String,
    created: String,
    deployed_in: String,
}

impl From<&VersionWire> for VersionRow {
    fn from(v: &VersionWire) -> Self {
        VersionRow {
            number: v.version,
            author: v.author.clone(),
            message: v.message.clone(),
            created: stamp(v.created_at),
            deployed_in: v.deployed_in.join(", "),
        }
    }
}

/// One public element of a surface.
struct Element {
    kind: &'static str,
    name: String,
    signature: String,
    description: String,
}

/// A field as a signature shows it: `name: type` (`?` when optional).
fn field_text(f: &Field) -> String {
    let ty = serde_json::to_value(f.ty)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let entity = f
        .entity
        .as_deref()
        .map_or_else(String::new, |e| format!(" → {e}"));
    let optional = if f.required { "" } else { "?" };
    format!("{}{optional}: {ty}{entity}", f.name)
}

fn elements(surface: &Surface) -> Vec<Element> {
    let mut out = Vec::new();
    for (name, r) in &surface.roles {
        out.push(Element {
            kind: "role",
            name: name.clone(),
            signature: String::new(),
            description: r.description.clone(),
        });
    }
    for (name, e) in &surface.entities {
        out.push(Element {
            kind: "entity",
            name: name.clone(),
            signature: e
                .attributes
                .iter()
                .map(field_text)
                .collect::<Vec<_>>()
                .join(", "),
            description: e.description.clone(),
        });
    }
    for (kind, map) in [
        ("query", &surface.queries),
        ("screen", &surface.screens),
        ("action", &surface.actions),
    ] {
        for (name, c) in map {
            let params = c
                .parameters
                .iter()
                .map(field_text)
                .collect::<Vec<_>>()
                .join(", ");
            let returns = c
                .returns
                .as_deref()
                .map_or_else(String::new, |r| format!(" → {r}"));
            out.push(Element {
                kind,
                name: name.clone(),
                signature: format!("({params}){returns}"),
                description: c.description.clone(),
            });
        }
    }
    out
}

/// A tag of the module's application, as the page shows it.
struct TagRow {
    tag: String,
    modules: String,
    notes: String,
    creator: String,
    created: String,
}

impl From<TagWire> for TagRow {
    fn from(t: TagWire) -> Self {
        TagRow {
            modules: t
                .modules
                .iter()
                .map(|(m, v)| format!("{m} v{v}"))
                .collect::<Vec<_>>()
                .join(", "),
            tag: t.tag,
            notes: t.notes,
            creator: t.creator,
            created: stamp(t.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/module.html")]
struct ModulePage<'a> {
    shell: &'a Shell,
    name: &'a str,
    application: &'a str,
    description: &'a str,
    versions: &'a [VersionRow],
    shown: Option<i64>,
    elements: &'a [Element],
    tags: &'a [TagRow],
    source: bool,
    from: i64,
    to: i64,
}

/// `?version=` on a module's page: the version whose surface to show.
#[derive(Debug, Default, Deserialize)]
pub struct ModuleQuery {
    #[serde(default)]
    version: Option<i64>,
}

/// `GET /console/modules/{name}`: versions, a version's public surface, tags and notes.
pub async fn show(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    page: Page<ModulesOpen>,
    query: Result<Query<ModuleQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let version = match query {
        Ok(q) => q.0.version,
        Err(_) => {
            let e = Error::invalid("version", "a version number: 1, 2, 3…");
            return shell.finish(error_page(&shell, e, &here));
        }
    };
    // The versions first: the permission check (`reference`) before anything is read.
    let listed = match versions::versions(&state, &caller, &name).await {
        Ok(v) => v,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let surface = if listed.is_empty() {
        None
    } else {
        match versions::surface(&state, &caller, &name, SurfaceQuery { version }).await {
            Ok(s) => Some(s),
            Err(e) => return shell.finish(error_page(&shell, e, &here)),
        }
    };
    let application = state
        .authz
        .view()
        .module_application(&name)
        .unwrap_or_default()
        .to_owned();
    // An application the user holds no level on as a whole shows no tags, as the API would
    // answer them.
    let tags: Vec<TagRow> = tags::tags(&state, &caller, &application)
        .await
        .map(|t| t.into_iter().map(TagRow::from).collect())
        .unwrap_or_default();
    let source = match versions::may_read_source(&state, &caller, &name).await {
        Ok(s) => s,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let rows: Vec<VersionRow> = listed.iter().map(VersionRow::from).collect();
    let newest = listed.first().map_or(0, |v| v.version);
    let shown = version.or((newest > 0).then_some(newest));
    let html = ModulePage {
        shell: &shell,
        name: &name,
        application: &application,
        description: surface.as_ref().map_or("", |s| s.description.as_str()),
        versions: &rows,
        shown,
        elements: &surface.as_ref().map(elements).unwrap_or_default(),
        tags: &tags,
        source,
        from: (newest - 1).max(1),
        to: newest,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

#[derive(Template)]
#[template(path = "console/source.html")]
struct SourcePage<'a> {
    shell: &'a Shell,
    name: &'a str,
    version: &'a VersionRow,
    source: &'a str,
}

/// `GET /console/modules/{name}/versions/{version}`: a version's source (`open`).
pub async fn source(
    State(state): State<AppState>,
    Segments((name, number)): Segments<(String, String)>,
    page: Page<ModulesOpen>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    match versions::version(&state, &caller, &name, &number).await {
        Ok(v) => {
            let html = SourcePage {
                shell: &shell,
                name: &name,
                version: &VersionRow::from(&v.version),
                source: &v.source,
            }
            .render();
            shell.finish(page::html(StatusCode::OK, html))
        }
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}

/// One row of the side-by-side line diff.
struct DiffRow {
    /// `context`, `change` or `hunk`.
    kind: &'static str,
    old: Option<String>,
    new: Option<String>,
}

/// The unified diff as rows of two columns: context on both sides, each run of removed
/// lines beside the run of added lines that follows it.
fn side_by_side(unified: &str) -> Vec<DiffRow> {
    let mut rows = Vec::new();
    let (mut removed, mut added): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<DiffRow>, removed: &mut Vec<String>, added: &mut Vec<String>| {
        let n = removed.len().max(added.len());
        let mut r = removed.drain(..);
        let mut a = added.drain(..);
        for _ in 0..n {
            rows.push(DiffRow {
                kind: "change",
                old: r.next(),
                new: a.next(),
            });
        }
    };
    for line in unified.lines() {
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        if let Some(rest) = line.strip_prefix('-') {
            removed.push(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix('+') {
            added.push(rest.to_owned());
        } else {
            flush(&mut rows, &mut removed, &mut added);
            if line.starts_with("@@") {
                rows.push(DiffRow {
                    kind: "hunk",
                    old: Some(line.to_owned()),
                    new: None,
                });
            } else {
                let text = line.strip_prefix(' ').unwrap_or(line).to_owned();
                rows.push(DiffRow {
                    kind: "context",
                    old: Some(text.clone()),
                    new: Some(text),
                });
            }
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}

/// A structured change as a row: where, what it was, what it is.
struct ChangeRow {
    section: String,
    element: String,
    path: String,
    from: String,
    to: String,
}

fn value_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/diff.html")]
struct DiffPage<'a> {
    shell: &'a Shell,
    name: &'a str,
    from: i64,
    to: i64,
    added: &'a [(String, String)],
    removed: &'a [(String, String)],
    changes: &'a [ChangeRow],
    rows: &'a [DiffRow],
    lines_added: usize,
    lines_removed: usize,
}

/// `?from=&to=` of a diff.
#[derive(Debug, Deserialize)]
pub struct Versions {
    from: i64,
    to: i64,
}

/// `GET /console/modules/{name}/diff?from=&to=`: the two versions side by side (`open`).
pub async fn diff(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    page: Page<ModulesOpen>,
    query: Result<Query<Versions>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let Ok(Query(q)) = query else {
        let e = Error::invalid("from", "give `from` and `to`, two version numbers");
        return shell.finish(error_page(&shell, e, &here));
    };
    let d = match versions::diff(
        &state,
        &caller,
        &name,
        DiffQuery {
            from: q.from,
            to: q.to,
        },
    )
    .await
    {
        Ok(d) => d,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changes: Vec<ChangeRow> = d
        .module
        .iter()
        .map(|f| ChangeRow {
            section: "module".into(),
            element: name.clone(),
            path: f.path.clone(),
            from: value_text(f.from.as_ref()),
            to: value_text(f.to.as_ref()),
        })
        .collect();
    for (section, s) in &d.elements {
        added.extend(s.added.iter().map(|n| (section.clone(), n.clone())));
        removed.extend(s.removed.iter().map(|n| (section.clone(), n.clone())));
        for c in &s.changed {
            for f in &c.fields {
                changes.push(ChangeRow {
                    section: section.clone(),
                    element: c.name.clone(),
                    path: f.path.clone(),
                    from: value_text(f.from.as_ref()),
                    to: value_text(f.to.as_ref()),
                });
            }
        }
    }
    let html = DiffPage {
        shell: &shell,
        name: &name,
        from: q.from,
        to: q.to,
        added: &added,
        removed: &removed,
        changes: &changes,
        rows: &side_by_side(&d.lines.unified),
        lines_added: d.lines.added,
        lines_removed: d.lines.removed,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_becomes_rows_of_two_columns() {
        let unified =
            "--- a\n+++ b\n@@ -1,3 +1,3 @@\n keep\n-old one\n-old two\n+new one\n same\n+tail\n";
        let rows: Vec<(&str, Option<String>, Option<String>)> = side_by_side(unified)
            .into_iter()
            .map(|r| (r.kind, r.old, r.new))
            .collect();
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            rows,
            [
                ("hunk", s("@@ -1,3 +1,3 @@"), None),
                ("context", s("keep"), s("keep")),
                ("change", s("old one"), s("new one")),
                ("change", s("old two"), None),
                ("context", s("same"), s("same")),
                ("change", None, s("tail")),
            ]
        );
    }
}
