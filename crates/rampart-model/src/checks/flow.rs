//! The data-flow rules: SQL injection (RS001), cross-site scripting (RS002), unvalidated
//! redirects (RS003) and user-chosen integration paths (RS016).
//!
//! **Values.** An expression's value is the list of its *parts*: each a source whose text it
//! may carry (a text parameter, a stored text attribute users write, an integration's
//! answer) with the encodings it went through. Constants, `user.*`, record ids and typed
//! values (numbers, booleans, dates, references: the runtime checks them) carry no part;
//! `one_of` and a query parameter's `choices` leave none either. A value also has a *lead*:
//! the parts that decide where a target goes, empty when constant text at its start fixes
//! the destination (`"SaleDetail?sale=" + sale.id`, `"/apps/…"`).
//!
//! **Sinks.** An `inline` text parameter (parts not through `encode_sql`), an `unescaped`
//! text widget (parts not through `encode_html`), a link, `redirect` or `on_denied.redirect`
//! target (lead parts not through `same_site`), an argument an integration method's path
//! names (any part).
//!
//! **Actions.** Steps are followed in order: `into` binds a query's records, a written
//! record (with the values written), an integration's answer or what a `run` returns;
//! `assign` binds a value. A `run` of a dependency's action whose model is given follows the
//! arguments into it: the dependency's action is summarised (which of its parameters reach
//! which sink) and a tainted argument is reported at the `run` step of this module. This
//! module's own actions take requests' parameters directly, so their sinks are reported
//! where they are.

use std::collections::BTreeMap;

use super::values::{carries_text, Binding, Mode, Scope, Sink, Source, Val, World};
use super::{Finding, Loc};
use crate::format::{Action, Module, Query, Screen, ScreenKind, Step, WidgetKind};

/// How deep summaries of dependencies' actions follow `run` steps.
const MAX_DEPTH: usize = 8;

/// A source reaching a sink.
struct Hit {
    sink: Sink,
    loc: Loc,
    /// The sink, for the message: "the inline parameter `sort` of query `Q`".
    what: String,
    sources: Vec<Source>,
}

/// The findings of the data-flow rules in `m`.
pub(super) fn check(m: &Module, deps: &[&Module], out: &mut Vec<Finding>) {
    let world = World { deps };
    let root = Loc::root(m);
    let mut hits = Vec::new();
    for (i, q) in m.queries.iter().enumerate() {
        if !reachable(m, q) {
            continue;
        }
        let ql = root.named("queries", i, &q.name);
        for (k, p) in q.parameters.iter().enumerate() {
            if p.inline && carries_text(p) {
                hits.push(Hit {
                    sink: Sink::Sql,
                    loc: ql.named("parameters", k, &p.name),
                    what: format!("the inline parameter `{}` of query `{}`", p.name, q.name),
                    sources: vec![Source::Input(format!(
                        "what callers of the data API send (`…/queries/{}?{}=…`)",
                        q.name, p.name
                    ))],
                });
            }
        }
    }
    for (i, s) in m.screens.iter().enumerate() {
        screen(world, m, s, &root.named("screens", i, &s.name), &mut hits);
    }
    for (i, a) in m.actions.iter().enumerate() {
        let loc = root.named("actions", i, &a.name);
        action(world, m, a, &loc, Mode::Request, 0, &mut hits);
    }
    for h in hits {
        let sources: Vec<String> = h
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Input(d) => Some(d.clone()),
                Source::Param(_) => None,
            })
            .collect();
        if sources.is_empty() {
            continue;
        }
        let rule = h.sink.rule();
        let how = match h.sink {
            Sink::Sql => "without `encode_sql` or a fixed list",
            Sink::Html => "without `encode_html`",
            Sink::Target => "at its start, without `same_site` or a fixed list",
            Sink::Path => "without a fixed list",
        };
        out.push(h.loc.finding(
            rule,
            format!("{} takes {} {how}", h.what, dedup(sources).join(", ")),
        ));
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}

/// Whether the data API runs query `q` for some caller (as the runtime decides): the roles
/// of the screens that list it and the actions that run it open it, or, when those give
/// none, the roles that read its entity (a screen over it, an action returning it).
/// Anonymous screens and actions open nothing in the data API.
fn reachable(m: &Module, q: &Query) -> bool {
    let is = |n: &str| n.eq_ignore_ascii_case(&q.name);
    let opened = m
        .screens
        .iter()
        .any(|s| !s.roles.is_empty() && s.query.as_deref().is_some_and(is))
        || m.actions.iter().any(|a| {
            !a.roles.is_empty()
                && a.steps
                    .iter()
                    .any(|st| matches!(st, Step::Query(x) if is(&x.query)))
        });
    let entity = q.entity.as_str();
    opened
        || m.screens
            .iter()
            .any(|s| !s.roles.is_empty() && s.entity.as_deref() == Some(entity))
        || m.actions
            .iter()
            .any(|a| !a.roles.is_empty() && a.returns.as_deref() == Some(entity))
}

fn screen<'a>(world: World<'a>, m: &'a Module, s: &'a Screen, loc: &Loc, hits: &mut Vec<Hit>) {
    let mut scope = Scope {
        of: &s.name,
        params: &s.parameters,
        mode: Mode::Request,
        record: None,
        vars: BTreeMap::new(),
    };
    if let Some(target) = s.on_denied.as_ref().and_then(|d| d.redirect.as_deref()) {
        let v = scope.eval(target);
        sink(
            &v,
            Sink::Target,
            loc.key("on_denied.redirect"),
            "the redirect of `on_denied`",
            hits,
        );
    }
    if s.kind != ScreenKind::List {
        scope.record = s.entity.as_deref().and_then(|e| world.entity(m, e));
    }
    // A list screen hands its parameters to its query by name.
    if let Some((_, query)) = s.query.as_deref().and_then(|q| world.query(m, q)) {
        for (k, p) in s.parameters.iter().enumerate() {
            let inline = query
                .parameters
                .iter()
                .any(|qp| qp.name == p.name && qp.inline && carries_text(qp));
            if inline {
                let v = scope.eval(&format!("params.{}", p.name));
                let what = format!(
                    "the inline parameter `{}` of query `{}`, which the screen lists",
                    p.name, query.name
                );
                sink(
                    &v,
                    Sink::Sql,
                    loc.named("parameters", k, &p.name),
                    &what,
                    hits,
                );
            }
        }
    }
    for (j, w) in s.widgets.iter().enumerate() {
        let wl = loc.item("widgets", j);
        match w.kind {
            WidgetKind::Text if w.unescaped => {
                let v = scope.eval(w.value.as_deref().unwrap_or("null"));
                let what = "the unescaped text widget";
                sink(&v, Sink::Html, wl.field("value"), what, hits);
            }
            WidgetKind::Link => {
                let v = scope.eval(w.target.as_deref().unwrap_or("null"));
                sink(
                    &v,
                    Sink::Target,
                    wl.field("target"),
                    "the link's target",
                    hits,
                );
            }
            _ => {}
        }
    }
}

fn sink(v: &Val, kind: Sink, loc: Loc, what: &str, hits: &mut Vec<Hit>) {
    let exposed = v.exposed(kind);
    if !exposed.is_empty() {
        hits.push(Hit {
            sink: kind,
            loc,
            what: what.to_owned(),
            sources: exposed.into_iter().map(|p| p.source.clone()).collect(),
        });
    }
}

/// Follows action `a` of `m`, pushing every source that reaches a sink.
fn action<'a>(
    world: World<'a>,
    m: &'a Module,
    a: &'a Action,
    loc: &Loc,
    mode: Mode,
    depth: usize,
    hits: &mut Vec<Hit>,
) {
    let mut scope = Scope {
        of: &a.name,
        params: &a.parameters,
        mode,
        record: None,
        vars: BTreeMap::new(),
    };
    for (j, step) in a.steps.iter().enumerate() {
        let sl = loc.item("steps", j);
        match step {
            Step::Query(q) => {
                let found = world.query(m, &q.query);
                for (name, text) in &q.args {
                    let param = found
                        .and_then(|(_, query)| query.parameters.iter().find(|p| &p.name == name));
                    if let (Some((_, query)), Some(p)) = (found, param) {
                        if p.inline && carries_text(p) {
                            let v = scope.eval(text);
                            let what = format!(
                                "the inline parameter `{}` of query `{}`",
                                p.name, query.name
                            );
                            sink(
                                &v,
                                Sink::Sql,
                                sl.field("query").item("args", name),
                                &what,
                                hits,
                            );
                        }
                    }
                }
                if let Some(into) = &q.into {
                    let entity = found.and_then(|(qm, query)| world.entity(qm, &query.entity));
                    scope.vars.insert(
                        into.clone(),
                        Binding::Record {
                            entity,
                            written: BTreeMap::new(),
                        },
                    );
                }
            }
            Step::Create(w) | Step::Update(w) => {
                if let Some(into) = &w.into {
                    let written = w
                        .values
                        .iter()
                        .map(|(k, v)| (k.clone(), scope.eval(v)))
                        .collect();
                    let entity = world.entity(m, &w.entity);
                    scope
                        .vars
                        .insert(into.clone(), Binding::Record { entity, written });
                }
            }
            Step::Delete(_) => {}
            Step::Call(c) => {
                let path = m
                    .integrations
                    .iter()
                    .find(|i| i.name == c.integration)
                    .and_then(|i| i.methods.iter().find(|x| x.name == c.method))
                    .map(|x| x.path.as_str())
                    .unwrap_or("");
                for (name, text) in &c.args {
                    if path.contains(&format!("{{{name}}}")) {
                        let v = scope.eval(text);
                        let what = format!(
                            "the path segment `{{{name}}}` of `{}.{}`",
                            c.integration, c.method
                        );
                        sink(
                            &v,
                            Sink::Path,
                            sl.field("call").item("args", name),
                            &what,
                            hits,
                        );
                    }
                }
                if let Some(into) = &c.into {
                    let answer =
                        Source::Input(format!("the answer of `{}.{}`", c.integration, c.method));
                    scope
                        .vars
                        .insert(into.clone(), Binding::Value(Val::from(answer)));
                }
            }
            Step::Run(r) => {
                let callee = match r.action.split_once('.') {
                    Some((dep, name)) => world
                        .dep(dep)
                        .and_then(|d| d.actions.iter().find(|x| x.name == name).map(|x| (d, x))),
                    None => m
                        .actions
                        .iter()
                        .find(|x| x.name == r.action)
                        .map(|x| (m, x)),
                };
                let follow = matches!(mode, Mode::Summary) || r.action.contains('.');
                if let (Some((cm, ca)), true) = (callee, follow && depth < MAX_DEPTH) {
                    for flow in summary(world, cm, ca, depth + 1) {
                        let Some(text) = r.args.get(&flow.param) else {
                            continue;
                        };
                        let v = scope.eval(text);
                        let what = format!(
                            "{} (in `{}`, through `{}`)",
                            flow.what, flow.element, r.action
                        );
                        let at = sl.field("run").item("args", &flow.param);
                        sink(&v, flow.sink, at, &what, hits);
                    }
                }
                if let Some(into) = &r.into {
                    let entity = callee
                        .and_then(|(cm, ca)| ca.returns.as_deref().map(|e| (cm, e)))
                        .and_then(|(cm, e)| world.entity(cm, e));
                    scope.vars.insert(
                        into.clone(),
                        Binding::Record {
                            entity,
                            written: BTreeMap::new(),
                        },
                    );
                }
            }
            Step::Redirect(r) => {
                let v = scope.eval(&r.target);
                sink(
                    &v,
                    Sink::Target,
                    sl.field("redirect").field("target"),
                    "the redirect",
                    hits,
                );
            }
            Step::Assign(vars) => {
                for (name, text) in vars {
                    let v = scope.eval(text);
                    scope.vars.insert(name.clone(), Binding::Value(v));
                }
            }
        }
    }
}

/// A parameter of a dependency's action that reaches a sink.
struct Flow {
    param: String,
    sink: Sink,
    what: String,
    element: String,
}

/// Which parameters of action `a` (of dependency `m`) reach which sinks.
fn summary<'a>(world: World<'a>, m: &'a Module, a: &'a Action, depth: usize) -> Vec<Flow> {
    let index = m
        .actions
        .iter()
        .position(|x| std::ptr::eq(x, a))
        .unwrap_or(0);
    let loc = Loc::root(m).named("actions", index, &a.name);
    let mut hits = Vec::new();
    action(world, m, a, &loc, Mode::Summary, depth, &mut hits);
    let mut flows = Vec::new();
    for h in hits {
        for s in &h.sources {
            if let Source::Param(p) = s {
                flows.push(Flow {
                    param: p.clone(),
                    sink: h.sink,
                    what: h.what.clone(),
                    element: h.loc.element.clone(),
                });
            }
        }
    }
    flows
}
