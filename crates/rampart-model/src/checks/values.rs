//! The values the data-flow rules follow: where a text may come from (its *parts*, each a
//! source and the encodings it went through), what decides a target's destination (its
//! *lead*), and how an expression's value is worked out in a screen's or action's scope.

use std::collections::BTreeMap;

use super::rules::{Rule, INTEGRATION_PATH, REDIRECT, SQL_INJECTION, XSS};
use crate::expr::{leaves_site, Expr, Func, Term};
use crate::format::{AttributeType, Entity, Module, Parameter, Query, ScreenKind, Step};

/// Where a text may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// What a request or a user sent, described for the message.
    Input(String),
    /// A parameter of the action being summarised.
    Param(String),
}

/// One source a value may carry, and the encodings it went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    pub(super) source: Source,
    pub(super) html: bool,
    pub(super) sql: bool,
    pub(super) site: bool,
}

/// What a value may carry: its parts, and those that decide where a target goes.
#[derive(Debug, Clone, Default)]
pub(super) struct Val {
    pub(super) parts: Vec<Part>,
    pub(super) lead: Vec<Part>,
}

impl Val {
    pub(super) fn from(source: Source) -> Val {
        let part = Part {
            source,
            html: false,
            sql: false,
            site: false,
        };
        Val {
            parts: vec![part.clone()],
            lead: vec![part],
        }
    }

    pub(super) fn map(self, f: impl Fn(Part) -> Part) -> Val {
        Val {
            parts: self.parts.into_iter().map(&f).collect(),
            lead: self.lead.into_iter().map(&f).collect(),
        }
    }

    /// The parts a sink of `kind` is not protected from.
    pub(super) fn exposed(&self, kind: Sink) -> Vec<&Part> {
        let (list, safe): (&[Part], fn(&Part) -> bool) = match kind {
            Sink::Sql => (&self.parts, |p| p.sql),
            Sink::Html => (&self.parts, |p| p.html),
            Sink::Target => (&self.lead, |p| p.site),
            Sink::Path => (&self.parts, |_| false),
        };
        list.iter().filter(|p| !safe(p)).collect()
    }
}

/// The kinds of sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sink {
    Sql,
    Html,
    Target,
    Path,
}

impl Sink {
    pub(super) fn rule(self) -> &'static Rule {
        match self {
            Sink::Sql => SQL_INJECTION,
            Sink::Html => XSS,
            Sink::Target => REDIRECT,
            Sink::Path => INTEGRATION_PATH,
        }
    }
}

/// What a variable holds.
#[derive(Clone)]
pub(super) enum Binding<'a> {
    Value(Val),
    Record {
        entity: Option<Ent<'a>>,
        written: BTreeMap<String, Val>,
    },
}

/// An entity, with the module that declares it.
#[derive(Clone, Copy)]
pub(super) struct Ent<'a> {
    pub(super) module: &'a Module,
    pub(super) entity: &'a Entity,
}

/// The models the checks can see: the module and the dependencies given.
#[derive(Clone, Copy)]
pub(super) struct World<'a> {
    pub(super) deps: &'a [&'a Module],
}

impl<'a> World<'a> {
    pub(super) fn dep(&self, name: &str) -> Option<&'a Module> {
        self.deps.iter().copied().find(|d| d.module == name)
    }

    /// `name` (`Element` of `m`, or `module.Element`) split into its module and element.
    fn split<'n>(&self, m: &'a Module, name: &'n str) -> Option<(&'a Module, &'n str)> {
        match name.split_once('.') {
            Some((module, element)) => self.dep(module).map(|d| (d, element)),
            None => Some((m, name)),
        }
    }

    pub(super) fn entity(&self, m: &'a Module, name: &str) -> Option<Ent<'a>> {
        let (module, name) = self.split(m, name)?;
        let entity = module.entities.iter().find(|e| e.name == name)?;
        Some(Ent { module, entity })
    }

    pub(super) fn query(&self, m: &'a Module, name: &str) -> Option<(&'a Module, &'a Query)> {
        let (module, name) = self.split(m, name)?;
        Some((module, module.queries.iter().find(|q| q.name == name)?))
    }
}

/// Whether a value of this parameter can carry text someone chose (the runtime checks the
/// other types, and a parameter with `choices` takes listed values only).
pub(super) fn carries_text(p: &Parameter) -> bool {
    matches!(p.ty, AttributeType::Text | AttributeType::Email) && p.choices.is_empty()
}

/// Whether users write records of `e` (a form over it, a `create` or `update` step of it,
/// or, for a public entity, other modules' steps).
pub(super) fn written_by_users(e: Ent<'_>) -> bool {
    let name = e.entity.name.as_str();
    e.entity.public
        || e.module
            .screens
            .iter()
            .any(|s| s.kind == ScreenKind::Form && s.entity.as_deref() == Some(name))
        || e.module.actions.iter().any(|a| {
            a.steps
                .iter()
                .any(|st| matches!(st, Step::Create(w) | Step::Update(w) if w.entity == name))
        })
}

/// Where the parameters of the expressions being read come from.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// A request's: the module's own screens and actions.
    Request,
    /// The action's caller's: a dependency's action being summarised.
    Summary,
}

/// What one screen or action's expressions may read.
pub(super) struct Scope<'a> {
    pub(super) of: &'a str,
    pub(super) params: &'a [Parameter],
    pub(super) mode: Mode,
    pub(super) record: Option<Ent<'a>>,
    pub(super) vars: BTreeMap<String, Binding<'a>>,
}

impl<'a> Scope<'a> {
    pub(super) fn eval(&self, text: &str) -> Val {
        match Expr::parse(text) {
            Ok(e) => self.expr(&e),
            // Publishing refuses an expression that does not parse; nothing flows.
            Err(_) => Val::default(),
        }
    }

    pub(super) fn expr(&self, e: &Expr) -> Val {
        let mut out = Val::default();
        let mut prefix = String::new();
        let mut decided = false;
        for t in &e.0 {
            let literal = match t {
                Term::Text(s) | Term::Number(s) => Some(s.as_str()),
                Term::Bool(_) | Term::Null => Some(""),
                Term::Path(_) | Term::Call(..) => None,
            };
            if let Some(text) = literal {
                if !decided {
                    prefix.push_str(text);
                    decided = fixes_destination(&prefix);
                }
                continue;
            }
            let v = self.term(t);
            if !decided {
                out.lead = v.lead.clone();
                decided = true;
            }
            out.parts.extend(v.parts);
        }
        out
    }

    pub(super) fn term(&self, t: &Term) -> Val {
        match t {
            Term::Path(p) => self.path(p),
            Term::Call(f, args) => {
                let Some(first) = args.first() else {
                    return Val::default();
                };
                let v = self.expr(first);
                match f {
                    Func::OneOf => Val::default(),
                    Func::EncodeHtml => v.map(|p| Part {
                        html: true,
                        sql: false,
                        ..p
                    }),
                    Func::EncodeSql => v.map(|p| Part {
                        html: false,
                        sql: true,
                        ..p
                    }),
                    Func::SameSite => v.map(|p| Part { site: true, ..p }),
                }
            }
            _ => Val::default(),
        }
    }

    pub(super) fn path(&self, p: &[String]) -> Val {
        let Some((root, rest)) = p.split_first() else {
            return Val::default();
        };
        let field = rest.first().map(String::as_str);
        match root.as_str() {
            "params" => {
                let Some(param) = field.and_then(|f| self.params.iter().find(|p| p.name == f))
                else {
                    return Val::default();
                };
                if !carries_text(param) {
                    return Val::default();
                }
                Val::from(match self.mode {
                    Mode::Request => {
                        Source::Input(format!("parameter `{}` of `{}`", param.name, self.of))
                    }
                    Mode::Summary => Source::Param(param.name.clone()),
                })
            }
            "user" => Val::default(),
            "record" => match (self.record, field) {
                (Some(e), Some(f)) => stored(Some(e), f),
                _ => Val::default(),
            },
            var => match (self.vars.get(var), field) {
                (Some(Binding::Value(v)), _) => v.clone(),
                (Some(Binding::Record { entity, written }), Some(f)) => written
                    .get(f)
                    .cloned()
                    .unwrap_or_else(|| stored(*entity, f)),
                _ => Val::default(),
            },
        }
    }
}

/// The value of attribute `attr` of a stored record of `e` (unknown when the entity's model
/// is not given: then any attribute but `id` may hold text).
pub(super) fn stored(e: Option<Ent<'_>>, attr: &str) -> Val {
    if attr == "id" {
        return Val::default();
    }
    let Some(e) = e else {
        return Val::from(Source::Input(format!("stored attribute `{attr}`")));
    };
    let Some(a) = e.entity.attributes.iter().find(|a| a.name == attr) else {
        return Val::default();
    };
    let text = matches!(a.ty, AttributeType::Text | AttributeType::Email);
    if text && written_by_users(e) {
        Val::from(Source::Input(format!(
            "stored text `{}.{}`, which users write",
            e.entity.name, a.name
        )))
    } else {
        Val::default()
    }
}

/// Whether constant text at a target's start fixes where it goes: a path on this site
/// (`/x`, not `//`), a screen name that cannot turn into `http:`/`https:`, a URL with its
/// host, or a scheme the runtime does not link to.
pub(super) fn fixes_destination(prefix: &str) -> bool {
    let p = prefix.trim_start();
    if let Some(rest) = p.strip_prefix('/') {
        return rest.starts_with(|c: char| c != '/' && c != '\\' && !c.is_control());
    }
    let lower = p.to_ascii_lowercase();
    if leaves_site(p) {
        return match lower.split_once("://") {
            Some((scheme, after)) if scheme == "http" || scheme == "https" => {
                after.find('/').is_some_and(|i| i > 0)
            }
            Some(_) => true,
            None => !(lower.starts_with("http:") || lower.starts_with("https:")),
        };
    }
    p.starts_with(|c: char| c.is_ascii_alphabetic())
        && !"https:".starts_with(&lower)
        && !"http:".starts_with(&lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_starts_fix_a_destination_or_not() {
        for p in [
            "SaleDetail?sale=",
            "Sales",
            "/apps/dev/sales/",
            "/x",
            "https://docs.example/",
            "mailto:",
            "sales-ui.Customers?x=",
        ] {
            assert!(fixes_destination(p), "{p}");
        }
        for p in [
            "",
            "/",
            "//",
            "/\\",
            "h",
            "http",
            "HTTPS:",
            "https://",
            "https://host",
            " ",
        ] {
            assert!(!fixes_destination(p), "{p:?}");
        }
    }
}
