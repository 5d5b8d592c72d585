//! Publish-time checks of a module's expressions: each parses, and no redirect the model
//! writes as a constant leaves the site (an `on_denied.redirect` or a `redirect` step to
//! `https://elsewhere` would make the application an open redirect's first hop).

use crate::diagnostic::{Diagnostic, ErrorClass};
use crate::expr::{leaves_site, Expr};
use crate::format::{Module, Step, WidgetKind};

/// The diagnostics of every expression in `m`.
pub fn check(m: &Module) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut expression = |path: String, text: &str, redirect: bool| match Expr::parse(text) {
        Err(e) => out.push(Diagnostic::new(
            ErrorClass::InvalidValue,
            &path,
            format!("`{text}` is not an expression: {e}"),
        )),
        Ok(e) if redirect && leaves_site(&e.leading_text()) => out.push(Diagnostic::new(
            ErrorClass::InvalidValue,
            &path,
            format!(
                "`{text}` sends users off this site: a redirect names a screen \
                 (`Screen`, `module.Screen`) or a path on this site (`/apps/…`)"
            ),
        )),
        Ok(_) => {}
    };
    for (i, s) in m.screens.iter().enumerate() {
        let path = format!("screens.{i}");
        if let Some(r) = s.on_denied.as_ref().and_then(|d| d.redirect.as_deref()) {
            expression(format!("{path}.on_denied.redirect"), r, true);
        }
        for (j, w) in s.widgets.iter().enumerate() {
            let at = format!("{path}.widgets.{j}");
            if let (Some(v), false) = (&w.value, w.kind == WidgetKind::Field) {
                expression(format!("{at}.value"), v, false);
            }
            if let Some(t) = &w.target {
                expression(format!("{at}.target"), t, false);
            }
            for (k, c) in w.columns.iter().enumerate() {
                expression(format!("{at}.columns.{k}"), c, false);
            }
        }
    }
    for (i, a) in m.actions.iter().enumerate() {
        for (j, step) in a.steps.iter().enumerate() {
            let at = format!("actions.{i}.steps.{j}");
            let (kind, args, id): (&str, Vec<(&String, &String)>, Option<&String>) = match step {
                Step::Query(q) => ("query", q.args.iter().collect(), None),
                Step::Create(w) => ("create", w.values.iter().collect(), None),
                Step::Update(w) => ("update", w.values.iter().collect(), w.id.as_ref()),
                Step::Delete(d) => ("delete", Vec::new(), Some(&d.id)),
                Step::Call(c) => ("call", c.args.iter().collect(), None),
                Step::Run(r) => ("run", r.args.iter().collect(), None),
                Step::Redirect(r) => {
                    expression(format!("{at}.redirect.target"), &r.target, true);
                    continue;
                }
                Step::Assign(vars) => ("assign", vars.iter().collect(), None),
            };
            let field = match kind {
                "create" | "update" => "values",
                "assign" => "",
                _ => "args",
            };
            for (name, text) in args {
                let path = if field.is_empty() {
                    format!("{at}.{kind}.{name}")
                } else {
                    format!("{at}.{kind}.{field}.{name}")
                };
                expression(path, text, false);
            }
            if let Some(id) = id {
                expression(format!("{at}.{kind}.id"), id, false);
            }
        }
    }
    out
}
