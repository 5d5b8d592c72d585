//! The rules read from the model's settings: data isolation (RS004), anonymous access
//! (RS005, RS006, RS013), sensitive data without an ACL (RS007), owners from parameters
//! (RS008), transport (RS009, RS010, RS011), `GET` endpoints that write (RS014) and
//! credentials in a call's URL (RS015).

use super::rules::{
    ANONYMOUS_DATA, ANONYMOUS_WRITE, ENDPOINT_HTTP, GET_WRITES, INTEGRATION_HTTP, ISOLATION,
    OWNER_FROM_PARAMS, SCREEN_HTTP, SECRET_IN_URL, SENSITIVE_NO_ACL, SYSTEM_DATA,
};
use super::secrets::credential_name;
use super::{Finding, Loc};
use crate::expr::{Expr, Term};
use crate::format::{
    Action, AttributeType, Entity, HttpMethod, Module, Screen, ScreenKind, Step, WidgetKind,
};
use crate::sql;
use crate::validate::USER_ENTITY;

pub(super) fn check(m: &Module, deps: &[&Module], out: &mut Vec<Finding>) {
    let root = Loc::root(m);
    for (i, e) in m.entities.iter().enumerate() {
        if e.acl.is_none() && e.attributes.iter().any(|a| a.sensitive) {
            let names: Vec<&str> = e
                .attributes
                .iter()
                .filter(|a| a.sensitive)
                .map(|a| a.name.as_str())
                .collect();
            out.push(root.named("entities", i, &e.name).finding(
                SENSITIVE_NO_ACL,
                format!(
                    "entity `{}` has sensitive attributes ({}) and no `acl`: every user allowed \
                     onto a screen over it reads every record",
                    e.name,
                    names.join(", ")
                ),
            ));
        }
    }
    for (i, q) in m.queries.iter().enumerate() {
        isolation(m, deps, q, &root.named("queries", i, &q.name), out);
    }
    for (i, s) in m.screens.iter().enumerate() {
        screen(m, deps, s, &root.named("screens", i, &s.name), out);
    }
    for (i, a) in m.actions.iter().enumerate() {
        action(m, deps, a, &root.named("actions", i, &a.name), out);
    }
    for (i, integration) in m.integrations.iter().enumerate() {
        let url = integration.base_url.to_ascii_lowercase();
        if let Some(rest) = url.strip_prefix("http://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            });
            if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") && !host.starts_with("127.") {
                let credentials = if integration.credentials.is_some() {
                    ", its credentials with them"
                } else {
                    ""
                };
                out.push(
                    root.named("integrations", i, &integration.name)
                        .field("base_url")
                        .finding(
                            INTEGRATION_HTTP,
                            format!(
                                "integration `{}` calls `{}` over plain HTTP: requests and \
                                 answers travel in the clear{credentials}",
                                integration.name, integration.base_url
                            ),
                        ),
                );
            }
        }
    }
}

/// The entities of `m` or its given dependencies, by the name `m` uses.
fn entity<'a>(m: &'a Module, deps: &[&'a Module], name: &str) -> Option<(&'a Module, &'a Entity)> {
    match name.split_once('.') {
        Some((dep, e)) => {
            let d = deps.iter().copied().find(|d| d.module == dep)?;
            Some((d, d.entities.iter().find(|x| x.name == e)?))
        }
        None => Some((m, m.entities.iter().find(|x| x.name == name)?)),
    }
}

/// Protected data: records with an owner rule or grants, or sensitive attributes.
fn protected(e: &Entity) -> bool {
    !e.acl.is_none() || e.attributes.iter().any(|a| a.sensitive)
}

fn user_references(e: &Entity) -> Vec<&str> {
    e.attributes
        .iter()
        .filter(|a| a.ty == AttributeType::Reference && a.entity.as_deref() == Some(USER_ENTITY))
        .map(|a| a.name.as_str())
        .collect()
}

/// Data isolation: the tables a query's SQL names, each of the query's database and, when
/// another module's, public there.
fn isolation(
    m: &Module,
    deps: &[&Module],
    q: &crate::format::Query,
    loc: &Loc,
    out: &mut Vec<Finding>,
) {
    let Some(text) = &q.sql else {
        return;
    };
    struct Tables(Vec<String>);
    impl sql::Resolver for Tables {
        fn table(
            &mut self,
            name: &str,
            _: &str,
            _: bool,
        ) -> Result<Box<sqlparser::ast::Query>, String> {
            self.0.push(name.to_owned());
            sql::parse_query("SELECT 1")
        }
        fn parameter(&mut self, _: &str) -> Result<sqlparser::ast::Expr, String> {
            sql::parse_expr("NULL")
        }
        fn column(&mut self, _: &str) -> Result<(), String> {
            Ok(())
        }
    }
    let mut tables = Tables(Vec::new());
    // Inline parameters are read as values here, as publishing reads them.
    let expanded = sql::expand_inline(text, &|name| {
        q.parameters
            .iter()
            .any(|p| p.inline && p.name == name)
            .then(|| "NULL".to_owned())
    })
    .unwrap_or_else(|_| text.clone());
    if sql::check(&expanded, &mut tables).is_err() {
        return;
    }
    let Some((_, own)) = entity(m, deps, &q.entity) else {
        return;
    };
    let mut named = tables.0;
    named.sort();
    named.dedup();
    for table in named {
        if m.entities
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(&table))
        {
            continue;
        }
        for d in &m.dependencies {
            if !d.entities.iter().any(|e| e.eq_ignore_ascii_case(&table)) {
                continue;
            }
            let Some(model) = deps.iter().find(|x| x.module == d.module) else {
                continue;
            };
            let Some(e) = model
                .entities
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(&table))
            else {
                continue;
            };
            let why = if !e.public {
                Some(format!("a private entity of `{}`", d.module))
            } else if e.database != own.database {
                Some(format!(
                    "in database `{}`, not the query's `{}`",
                    e.database, own.database
                ))
            } else {
                None
            };
            if let Some(why) = why {
                out.push(loc.field("sql").finding(
                    ISOLATION,
                    format!(
                        "the SQL of query `{}` reads `{}.{}`, {why}",
                        q.name, d.module, e.name
                    ),
                ));
            }
        }
    }
}

fn screen(m: &Module, deps: &[&Module], s: &Screen, loc: &Loc, out: &mut Vec<Finding>) {
    let shown = match (&s.entity, &s.query) {
        (Some(e), _) => entity(m, deps, e),
        (None, Some(q)) => query_entity(m, deps, q),
        (None, None) => None,
    };
    let form = s.kind == ScreenKind::Form || s.widgets.iter().any(|w| w.kind == WidgetKind::Button);
    if !s.https && (form || !s.anonymous) {
        let why = if form {
            "it sends a form"
        } else {
            "its users' sessions travel with it"
        };
        out.push(loc.field("https").finding(
            SCREEN_HTTP,
            format!("screen `{}` is served over plain HTTP and {why}", s.name),
        ));
    }
    if !s.anonymous {
        return;
    }
    if let Some((_, e)) = shown {
        if protected(e) {
            out.push(loc.field("anonymous").finding(
                ANONYMOUS_DATA,
                format!(
                    "anonymous screen `{}` shows `{}`, whose records are protected (an ACL or \
                     sensitive attributes)",
                    s.name, e.name
                ),
            ));
        }
        let users = user_references(e);
        let shows_user = s.widgets.iter().any(|w| {
            let mut exprs: Vec<&str> = w.columns.iter().map(String::as_str).collect();
            match w.kind {
                WidgetKind::Field => {
                    if let Some(v) = &w.value {
                        if users.contains(&v.as_str()) {
                            return true;
                        }
                    }
                }
                _ => exprs.extend(w.value.as_deref()),
            }
            exprs.into_iter().any(|x| reads_record_attr(x, &users))
        });
        if shows_user {
            out.push(loc.field("anonymous").finding(
                SYSTEM_DATA,
                format!(
                    "anonymous screen `{}` shows `{}` ({}), a platform user's id, to visitors \
                     who are not signed in",
                    s.name,
                    e.name,
                    users.join(", ")
                ),
            ));
        }
        if s.kind == ScreenKind::Form {
            out.push(loc.field("anonymous").finding(
                ANONYMOUS_WRITE,
                format!(
                    "anonymous form `{}` lets visitors who are not signed in write `{}` records",
                    s.name, e.name
                ),
            ));
        }
    }
}

/// The entity query `name` (of `m`, or of a given dependency) reads.
fn query_entity<'a>(
    m: &'a Module,
    deps: &[&'a Module],
    name: &str,
) -> Option<(&'a Module, &'a Entity)> {
    let (owner, query) = match name.split_once('.') {
        Some((dep, q)) => (deps.iter().copied().find(|d| d.module == dep)?, q),
        None => (m, name),
    };
    let q = owner.queries.iter().find(|x| x.name == query)?;
    entity(owner, deps, &q.entity)
}

/// Whether expression `text` reads `record.a` for an `a` of `attrs`.
fn reads_record_attr(text: &str, attrs: &[&str]) -> bool {
    Expr::parse(text).is_ok_and(|e| {
        e.paths().iter().any(|p| {
            p.first().map(String::as_str) == Some("record")
                && p.get(1).is_some_and(|a| attrs.contains(&a.as_str()))
        })
    })
}

fn action(m: &Module, deps: &[&Module], a: &Action, loc: &Loc, out: &mut Vec<Finding>) {
    let writes: Vec<&str> = a
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Create(w) | Step::Update(w) => Some(w.entity.as_str()),
            Step::Delete(d) => Some(d.entity.as_str()),
            _ => None,
        })
        .collect();
    let calls_out = a.steps.iter().any(|s| {
        matches!(s, Step::Call(c) if m.integrations.iter().any(|i| i.name == c.integration
            && i.methods.iter().any(|x| x.name == c.method && x.method != HttpMethod::Get)))
    });
    if let Some(expose) = &a.expose {
        let el = loc.field("expose");
        if !expose.https {
            out.push(el.field("https").finding(
                ENDPOINT_HTTP,
                format!(
                    "action `{}` is exposed at `{}` over plain HTTP",
                    a.name, expose.path
                ),
            ));
        }
        if expose.method == HttpMethod::Get && (!writes.is_empty() || calls_out) {
            let what = if writes.is_empty() {
                "calls a service that changes things".to_owned()
            } else {
                format!("writes `{}`", writes.join("`, `"))
            };
            out.push(el.field("method").finding(
                GET_WRITES,
                format!("action `{}` is exposed with `GET` and {what}", a.name),
            ));
        }
    }
    for (j, step) in a.steps.iter().enumerate() {
        let (Step::Create(w) | Step::Update(w)) = step else {
            continue;
        };
        let Some((_, e)) = entity(m, deps, &w.entity) else {
            continue;
        };
        let Some(owner) = &e.acl.owner else {
            continue;
        };
        if let Some(text) = w.values.get(owner) {
            let from_params = Expr::parse(text).is_ok_and(|x| {
                x.0.iter().any(|t| matches!(t, Term::Path(p) if p.first().map(String::as_str) == Some("params")))
            });
            if from_params {
                let kind = if matches!(step, Step::Create(_)) {
                    "create"
                } else {
                    "update"
                };
                out.push(
                    loc.item("steps", j)
                        .field(kind)
                        .item("values", owner)
                        .finding(
                            OWNER_FROM_PARAMS,
                            format!(
                                "the owner `{owner}` of a `{}` record is `{text}`, a parameter, \
                                 not `user.id`",
                                e.name
                            ),
                        ),
                );
            }
        }
    }
    for (j, step) in a.steps.iter().enumerate() {
        let Step::Call(c) = step else {
            continue;
        };
        let Some(method) = m
            .integrations
            .iter()
            .find(|i| i.name == c.integration)
            .and_then(|i| i.methods.iter().find(|x| x.name == c.method))
        else {
            continue;
        };
        let in_url = |name: &str| {
            method.path.contains(&format!("{{{name}}}"))
                || matches!(method.method, HttpMethod::Get | HttpMethod::Delete)
        };
        for name in c.args.keys() {
            if credential_name(name) && in_url(name) {
                out.push(
                    loc.item("steps", j)
                        .field("call")
                        .item("args", name)
                        .finding(
                            SECRET_IN_URL,
                            format!(
                                "argument `{name}` of `{}.{}` looks like a credential and goes \
                                 into the URL",
                                c.integration, c.method
                            ),
                        ),
                );
            }
        }
    }
    if !a.anonymous {
        return;
    }
    let mut touched: Vec<(&Module, &Entity)> = a
        .returns
        .iter()
        .filter_map(|r| entity(m, deps, r))
        .collect();
    touched.extend(writes.iter().filter_map(|w| entity(m, deps, w)));
    for s in &a.steps {
        if let Step::Query(q) = s {
            touched.extend(query_entity(m, deps, &q.query));
        }
    }
    let mut protected_names: Vec<&str> = touched
        .into_iter()
        .filter(|(_, e)| protected(e))
        .map(|(_, e)| e.name.as_str())
        .collect();
    protected_names.sort();
    protected_names.dedup();
    if !protected_names.is_empty() {
        out.push(loc.field("anonymous").finding(
            ANONYMOUS_DATA,
            format!(
                "anonymous action `{}` reads or writes `{}`, whose records are protected (an ACL \
                 or sensitive attributes)",
                a.name,
                protected_names.join("`, `")
            ),
        ));
    }
    if !writes.is_empty() {
        out.push(loc.field("anonymous").finding(
            ANONYMOUS_WRITE,
            format!(
                "anonymous action `{}` lets visitors who are not signed in write `{}`",
                a.name,
                writes.join("`, `")
            ),
        ));
    }
    if let Some((_, e)) = a.returns.as_deref().and_then(|r| entity(m, deps, r)) {
        let users = user_references(e);
        if !users.is_empty() {
            out.push(loc.field("returns").finding(
                SYSTEM_DATA,
                format!(
                    "anonymous action `{}` returns `{}` records with {}, a platform user's id",
                    a.name,
                    e.name,
                    users.join(", ")
                ),
            ));
        }
    }
}
