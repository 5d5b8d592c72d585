//! The rules a well-typed module must also follow: names, uniqueness, references that
//! resolve, and settings that do not contradict each other. Every rule reports the path of
//! the offending value; the parser turns paths into lines and columns.
//!
//! References to another module (`module.Element`) must name an element listed under that
//! module in `dependencies`; whether it exists and is public there is checked at publish
//! time against the other module's stored versions (see [`crate::surface`]).

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{closest, Diagnostic, ErrorClass};
use crate::format::*;

mod parameters;
mod references;

pub use references::{is_secret_reference, is_service_url};

/// The built-in entity every `reference` to a platform user names.
pub const USER_ENTITY: &str = "User";

/// Every rule broken by `m`, in document order.
pub fn validate(m: &Module) -> Vec<Diagnostic> {
    let mut v = Validator {
        m,
        out: Vec::new(),
        deps: m
            .dependencies
            .iter()
            .map(|d| (d.module.as_str(), d))
            .collect(),
    };
    v.module();
    v.out.extend(crate::expressions::check(m));
    v.out
}

/// What kind of element a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A role.
    Role,
    /// An entity.
    Entity,
    /// A query.
    Query,
    /// A screen.
    Screen,
    /// An action.
    Action,
}

impl Kind {
    /// The plural used as the key of the module's list and of a dependency's list.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Role => "roles",
            Kind::Entity => "entities",
            Kind::Query => "queries",
            Kind::Screen => "screens",
            Kind::Action => "actions",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::Entity => "entity",
            Kind::Query => "query",
            Kind::Screen => "screen",
            Kind::Action => "action",
        }
    }
}

/// Is `name` an identifier: an ASCII letter, then letters, digits or `_`, at most 64?
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// Is `name` a valid module name: 1 to 100 ASCII letters, digits, `-` and `_`?
pub fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

struct Validator<'a> {
    m: &'a Module,
    out: Vec<Diagnostic>,
    deps: HashMap<&'a str, &'a Dependency>,
}

impl<'a> Validator<'a> {
    fn error(&mut self, class: ErrorClass, path: String, message: String) -> &mut Diagnostic {
        self.out.push(Diagnostic::new(class, &path, message));
        let last = self.out.len() - 1;
        &mut self.out[last]
    }

    fn module(&mut self) {
        let m = self.m;
        if m.format != FORMAT {
            self.error(
                ErrorClass::InvalidValue,
                "format".into(),
                format!("unknown format `{}`", m.format),
            )
            .hint = Some(format!("this version reads `{FORMAT}`"));
        }
        if !is_module_name(&m.module) {
            self.error(
                ErrorClass::InvalidValue,
                "module".into(),
                format!("`{}` is not a valid module name", m.module),
            )
            .hint = Some("1 to 100 ASCII letters, digits, `-` and `_`".into());
        }
        let app_ok = !m.application.is_empty()
            && m.application.len() <= 100
            && m.application
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !app_ok {
            self.error(
                ErrorClass::InvalidValue,
                "application".into(),
                format!("`{}` is not a valid application name", m.application),
            )
            .hint = Some("1 to 100 ASCII letters, digits, `-`, `_` and `.`".into());
        }
        self.dependencies();
        self.names("roles", m.roles.iter().map(|r| r.name.as_str()));
        self.names("entities", m.entities.iter().map(|e| e.name.as_str()));
        self.names("queries", m.queries.iter().map(|q| q.name.as_str()));
        self.names("screens", m.screens.iter().map(|s| s.name.as_str()));
        self.names("actions", m.actions.iter().map(|a| a.name.as_str()));
        self.names(
            "integrations",
            m.integrations.iter().map(|i| i.name.as_str()),
        );
        for (i, e) in m.entities.iter().enumerate() {
            self.entity(i, e);
        }
        for (i, q) in m.queries.iter().enumerate() {
            self.query(i, q);
        }
        for (i, s) in m.screens.iter().enumerate() {
            self.screen(i, s);
        }
        let mut endpoints = HashSet::new();
        for (i, a) in m.actions.iter().enumerate() {
            self.action(i, a);
            if let Some(x) = &a.expose {
                if !endpoints.insert((x.method, x.path.as_str())) {
                    self.error(
                        ErrorClass::DuplicateName,
                        format!("actions.{i}.expose.path"),
                        format!(
                            "another action is already exposed at {:?} {}",
                            x.method, x.path
                        ),
                    );
                }
            }
        }
        for (i, g) in m.integrations.iter().enumerate() {
            self.integration(i, g);
        }
        self.names("properties", m.properties.iter().map(|p| p.name.as_str()));
        for (i, p) in m.properties.iter().enumerate() {
            if let Some(d) = &p.default {
                if !p.ty.admits(d) {
                    self.error(
                        ErrorClass::WrongType,
                        format!("properties.{i}.default"),
                        format!("the default of `{}` is not {}", p.name, p.ty.as_str()),
                    )
                    .hint = Some(format!(
                        "a value of type {}, or no default so that every deployment plan gives one",
                        p.ty.as_str()
                    ));
                }
            }
        }
    }

    /// Each name an identifier, and unique within its list.
    fn names<'n>(&mut self, list: &str, names: impl Iterator<Item = &'n str>) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            let path = format!("{list}.{i}.name");
            if !is_identifier(name) {
                self.error(
                    ErrorClass::InvalidValue,
                    path,
                    format!("`{name}` is not a valid name"),
                )
                .hint = Some("an ASCII letter, then letters, digits or `_`; at most 64".into());
            } else if !seen.insert(name.to_ascii_lowercase()) {
                self.error(
                    ErrorClass::DuplicateName,
                    path,
                    format!("`{name}` is declared twice in `{list}` (names ignore case)"),
                )
                .hint = Some("rename or remove one of them".into());
            }
        }
    }

    fn dependencies(&mut self) {
        let m = self.m;
        let mut seen = HashSet::new();
        for (i, d) in m.dependencies.iter().enumerate() {
            if !is_module_name(&d.module) {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("dependencies.{i}.module"),
                    format!("`{}` is not a valid module name", d.module),
                );
            } else if d.module == m.module {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("dependencies.{i}.module"),
                    "a module cannot depend on itself".into(),
                );
            } else if !seen.insert(d.module.as_str()) {
                self.error(
                    ErrorClass::DuplicateName,
                    format!("dependencies.{i}.module"),
                    format!("`{}` is listed twice; merge the two entries", d.module),
                );
            }
            for (kind, names) in [
                ("roles", &d.roles),
                ("entities", &d.entities),
                ("queries", &d.queries),
                ("screens", &d.screens),
                ("actions", &d.actions),
            ] {
                let list = format!("dependencies.{i}.{kind}");
                self.names_in(&list, names);
            }
        }
    }

    /// Names listed under a dependency: identifiers, each once.
    fn names_in(&mut self, list: &str, names: &[String]) {
        let mut seen = HashSet::new();
        for (j, name) in names.iter().enumerate() {
            if !is_identifier(name) {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{list}.{j}"),
                    format!("`{name}` is not a valid name"),
                );
            } else if !seen.insert(name.as_str()) {
                self.error(
                    ErrorClass::DuplicateName,
                    format!("{list}.{j}"),
                    format!("`{name}` is listed twice"),
                );
            }
        }
    }

    /// Does `name` (local, or `module.Name`) resolve to an element of `kind`? Reports at
    /// `path` when it does not.
    fn resolve(&mut self, path: String, kind: Kind, name: &str) -> bool {
        if let Some((module, element)) = name.split_once('.') {
            let Some(dep) = self.deps.get(module) else {
                self.error(
                    ErrorClass::UnresolvedReference,
                    path,
                    format!(
                        "`{name}` names module `{module}`, which is not among the dependencies"
                    ),
                )
                .hint = Some(format!(
                    "add `- module: {module}` with `{}: [{element}]` under `dependencies`",
                    kind.plural()
                ));
                return false;
            };
            let listed = match kind {
                Kind::Role => &dep.roles,
                Kind::Entity => &dep.entities,
                Kind::Query => &dep.queries,
                Kind::Screen => &dep.screens,
                Kind::Action => &dep.actions,
            };
            if listed.iter().any(|e| e == element) {
                return true;
            }
            self.error(
                ErrorClass::UnresolvedReference,
                path,
                format!(
                    "`{element}` is not listed among the {} used from `{module}`",
                    kind.plural()
                ),
            )
            .hint = Some(format!(
                "add `{element}` to `{}` of the `{module}` dependency",
                kind.plural()
            ));
            return false;
        }
        let m = self.m;
        let local: Vec<&str> = match kind {
            Kind::Role => m.roles.iter().map(|r| r.name.as_str()).collect(),
            Kind::Entity => m.entities.iter().map(|e| e.name.as_str()).collect(),
            Kind::Query => m.queries.iter().map(|q| q.name.as_str()).collect(),
            Kind::Screen => m.screens.iter().map(|s| s.name.as_str()).collect(),
            Kind::Action => m.actions.iter().map(|a| a.name.as_str()).collect(),
        };
        if local.contains(&name) {
            return true;
        }
        let hint = closest(name, local.iter().copied()).map(|c| format!("did you mean `{c}`?"));
        self.error(
            ErrorClass::UnresolvedReference,
            path,
            format!("no {} named `{name}` in this module", kind.singular()),
        )
        .hint = hint;
        false
    }

    fn local_entity(&self, name: &str) -> Option<&'a Entity> {
        self.m.entities.iter().find(|e| e.name == name)
    }

    /// An attribute or parameter type with its `entity`: reference types name a resolvable
    /// entity, other types none.
    fn typed(&mut self, path: &str, ty: AttributeType, entity: Option<&str>) {
        match (ty, entity) {
            (AttributeType::Reference, None) => {
                self.error(
                    ErrorClass::MissingField,
                    path.to_owned(),
                    "a `reference` needs `entity`: the entity it refers to".into(),
                )
                .hint = Some(format!(
                    "`entity: {USER_ENTITY}` for a platform user, `entity: Name` for an entity"
                ));
            }
            (AttributeType::Reference, Some(e)) => {
                if e != USER_ENTITY {
                    self.resolve(format!("{path}.entity"), Kind::Entity, e);
                }
            }
            (_, Some(_)) => {
                self.error(
                    ErrorClass::Conflict,
                    format!("{path}.entity"),
                    format!("only a `reference` names an entity; this is `{ty}`"),
                );
            }
            (_, None) => {}
        }
    }

    /// `roles` or `anonymous`, exactly one, and each role resolving.
    fn access(&mut self, path: &str, roles: &[String], anonymous: bool) {
        match (roles.is_empty(), anonymous) {
            (true, false) => {
                self.error(
                    ErrorClass::MissingField,
                    path.to_owned(),
                    "say who may use it: `roles` (any one suffices) or `anonymous: true`".into(),
                );
            }
            (false, true) => {
                self.error(
                    ErrorClass::Conflict,
                    format!("{path}.anonymous"),
                    "`anonymous` and `roles` contradict each other; keep one".into(),
                );
            }
            _ => {}
        }
        for (i, r) in roles.iter().enumerate() {
            self.resolve(format!("{path}.roles.{i}"), Kind::Role, r);
        }
    }

    fn entity(&mut self, i: usize, e: &Entity) {
        let path = format!("entities.{i}");
        if !is_identifier(&e.database) {
            self.error(
                ErrorClass::InvalidValue,
                format!("{path}.database"),
                format!("`{}` is not a valid database name", e.database),
            );
        }
        if e.attributes.is_empty() {
            self.error(
                ErrorClass::MissingField,
                format!("{path}.attributes"),
                format!("entity `{}` has no attributes", e.name),
            );
        }
        let list = format!("{path}.attributes");
        self.names(&list, e.attributes.iter().map(|a| a.name.as_str()));
        for (j, a) in e.attributes.iter().enumerate() {
            let at = format!("{list}.{j}");
            self.typed(&at, a.ty, a.entity.as_deref());
            if a.max_length.is_some() && a.ty != AttributeType::Text {
                self.error(
                    ErrorClass::Conflict,
                    format!("{at}.max_length"),
                    format!("`max_length` applies to `text`; this is `{}`", a.ty),
                );
            }
            if a.name.eq_ignore_ascii_case("id") {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{at}.name"),
                    "`id` is every record's identifier and cannot be declared".into(),
                );
            }
        }
        let acl = &e.acl;
        if let Some(owner) = &acl.owner {
            match e.attributes.iter().find(|a| &a.name == owner) {
                None => {
                    let hint = closest(owner, e.attributes.iter().map(|a| a.name.as_str()))
                        .map(|c| format!("did you mean `{c}`?"));
                    self.error(
                        ErrorClass::UnresolvedReference,
                        format!("{path}.acl.owner"),
                        format!("entity `{}` has no attribute `{owner}`", e.name),
                    )
                    .hint = hint;
                }
                Some(a)
                    if a.ty != AttributeType::Reference
                        || a.entity.as_deref() != Some(USER_ENTITY) =>
                {
                    self.error(
                        ErrorClass::InvalidValue,
                        format!("{path}.acl.owner"),
                        format!("the owner attribute `{owner}` must be a `reference` to `{USER_ENTITY}`"),
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(h) = &acl.hierarchy {
            if acl.owner.is_none() {
                self.error(
                    ErrorClass::Conflict,
                    format!("{path}.acl.hierarchy"),
                    "a hierarchy passes the owner's access up to their managers; name `owner` too"
                        .into(),
                );
            }
            let ok = !h.is_empty()
                && h.len() <= 100
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{path}.acl.hierarchy"),
                    format!("`{h}` is not a valid hierarchy name"),
                );
            }
        }
    }

    fn query(&mut self, i: usize, q: &Query) {
        let path = format!("queries.{i}");
        let resolved = self.resolve(format!("{path}.entity"), Kind::Entity, &q.entity);
        let sql = q.sql.is_some();
        self.parameters(&path, &q.parameters, sql, true);
        let declared: HashSet<&str> = q.parameters.iter().map(|p| p.name.as_str()).collect();
        let entity = resolved.then(|| self.local_entity(&q.entity)).flatten();
        if sql && !q.filter.is_empty() {
            self.error(
                ErrorClass::Conflict,
                format!("{path}.sql"),
                "a query has a structured `filter` or advanced `sql`, not both".into(),
            );
        }
        if let Some(text) = &q.sql {
            if text.trim().is_empty() {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{path}.sql"),
                    "the SQL is empty".into(),
                );
            }
            if !text.trim().is_empty() {
                for problem in crate::sql::check_query(self.m, q) {
                    self.error(ErrorClass::InvalidValue, format!("{path}.sql"), problem);
                }
            }
            for name in sql_parameters(text) {
                if !declared.contains(name) {
                    self.error(
                        ErrorClass::UnresolvedReference,
                        format!("{path}.sql"),
                        format!("the SQL uses `:{name}`, which is not among the parameters"),
                    )
                    .hint = Some(format!(
                        "declare `- name: {name}` with its type under `parameters`"
                    ));
                }
            }
        }
        for (j, c) in q.filter.iter().enumerate() {
            let at = format!("{path}.filter.{j}");
            if let Some(e) = entity {
                if !e.attributes.iter().any(|a| a.name == c.attribute) && c.attribute != "id" {
                    let hint = closest(&c.attribute, e.attributes.iter().map(|a| a.name.as_str()))
                        .map(|x| format!("did you mean `{x}`?"));
                    self.error(
                        ErrorClass::UnresolvedReference,
                        format!("{at}.attribute"),
                        format!("entity `{}` has no attribute `{}`", e.name, c.attribute),
                    )
                    .hint = hint;
                }
            }
            match (&c.parameter, &c.value, c.op) {
                (None, None, Operator::IsNull) => {}
                (Some(_), _, Operator::IsNull) | (_, Some(_), Operator::IsNull) => {
                    self.error(
                        ErrorClass::Conflict,
                        at,
                        "`is_null` compares with nothing; remove `parameter` and `value`".into(),
                    );
                }
                (Some(p), None, _) => {
                    if !declared.contains(p.as_str()) {
                        self.error(
                            ErrorClass::UnresolvedReference,
                            format!("{at}.parameter"),
                            format!("no parameter `{p}` in this query"),
                        );
                    }
                }
                (None, Some(_), _) => {}
                (Some(_), Some(_), _) => {
                    self.error(
                        ErrorClass::Conflict,
                        at,
                        "compare with a `parameter` or a `value`, not both".into(),
                    );
                }
                (None, None, _) => {
                    self.error(
                        ErrorClass::MissingField,
                        at,
                        "the condition compares with nothing: add `parameter` or `value`".into(),
                    );
                }
            }
        }
        if let Some(e) = entity {
            for (j, o) in q.order_by.iter().enumerate() {
                let attr = o
                    .strip_suffix(" desc")
                    .or_else(|| o.strip_suffix(" asc"))
                    .unwrap_or(o);
                if attr != "id" && !e.attributes.iter().any(|a| a.name == attr) {
                    self.error(
                        ErrorClass::UnresolvedReference,
                        format!("{path}.order_by.{j}"),
                        format!("entity `{}` has no attribute `{attr}`", e.name),
                    );
                }
            }
        }
    }

    fn screen(&mut self, i: usize, s: &Screen) {
        let path = format!("screens.{i}");
        self.access(&path, &s.roles, s.anonymous);
        self.parameters(&path, &s.parameters, false, false);
        if let Some(e) = &s.entity {
            self.resolve(format!("{path}.entity"), Kind::Entity, e);
        }
        if let Some(q) = &s.query {
            if s.kind != ScreenKind::List {
                self.error(
                    ErrorClass::Conflict,
                    format!("{path}.query"),
                    "only a `list` screen lists the records of a query".into(),
                );
            }
            self.resolve(format!("{path}.query"), Kind::Query, q);
        }
        if s.entity.is_none() && s.kind != ScreenKind::List {
            self.error(
                ErrorClass::MissingField,
                path.clone(),
                format!(
                    "a `{}` screen shows one record: name its `entity`",
                    match s.kind {
                        ScreenKind::Detail => "detail",
                        _ => "form",
                    }
                ),
            );
        }
        if let Some(d) = &s.on_denied {
            if d.message.is_some() == d.redirect.is_some() {
                self.error(
                    ErrorClass::Conflict,
                    format!("{path}.on_denied"),
                    "`on_denied` has a `message` or a `redirect`, exactly one".into(),
                );
            }
        }
        let entity = s.entity.as_deref().and_then(|e| self.local_entity(e));
        for (j, w) in s.widgets.iter().enumerate() {
            let at = format!("{path}.widgets.{j}");
            let need = |field: &str| format!("a `{}` widget needs `{field}`", widget_name(w.kind));
            match w.kind {
                WidgetKind::Text if w.value.is_none() => {
                    self.error(ErrorClass::MissingField, at.clone(), need("value"));
                }
                WidgetKind::Field => match (&w.value, entity) {
                    (None, _) => {
                        self.error(ErrorClass::MissingField, at.clone(), need("value"));
                    }
                    (Some(v), Some(e)) if !e.attributes.iter().any(|a| &a.name == v) => {
                        self.error(
                            ErrorClass::UnresolvedReference,
                            format!("{at}.value"),
                            format!("entity `{}` has no attribute `{v}`", e.name),
                        );
                    }
                    _ => {}
                },
                WidgetKind::Link if w.target.is_none() => {
                    self.error(ErrorClass::MissingField, at.clone(), need("target"));
                }
                WidgetKind::Button => match &w.action {
                    None => {
                        self.error(ErrorClass::MissingField, at.clone(), need("action"));
                    }
                    Some(a) => {
                        self.resolve(format!("{at}.action"), Kind::Action, a);
                    }
                },
                WidgetKind::Table if w.columns.is_empty() => {
                    self.error(ErrorClass::MissingField, at.clone(), need("columns"));
                }
                _ => {}
            }
            if w.unescaped && !matches!(w.kind, WidgetKind::Text) {
                self.error(
                    ErrorClass::Conflict,
                    format!("{at}.unescaped"),
                    "only a `text` widget can be written unescaped".into(),
                );
            }
        }
    }

    fn action(&mut self, i: usize, a: &Action) {
        let path = format!("actions.{i}");
        self.access(&path, &a.roles, a.anonymous);
        self.parameters(&path, &a.parameters, false, false);
        if let Some(r) = &a.returns {
            self.resolve(format!("{path}.returns"), Kind::Entity, r);
        }
        if let Some(x) = &a.expose {
            if !x.path.starts_with('/') || x.path.contains(char::is_whitespace) {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{path}.expose.path"),
                    format!(
                        "`{}` is not a path: it starts with `/` and has no spaces",
                        x.path
                    ),
                );
            }
        }
        if a.steps.is_empty() {
            self.error(
                ErrorClass::MissingField,
                format!("{path}.steps"),
                format!("action `{}` has no steps", a.name),
            );
        }
        for (j, step) in a.steps.iter().enumerate() {
            let at = format!("{path}.steps.{j}");
            match step {
                Step::Query(q) => {
                    self.resolve(format!("{at}.query.query"), Kind::Query, &q.query);
                }
                Step::Create(w) | Step::Update(w) => {
                    let verb = if matches!(step, Step::Create(_)) {
                        "create"
                    } else {
                        "update"
                    };
                    let sub = format!("{at}.{verb}");
                    if self.resolve(format!("{sub}.entity"), Kind::Entity, &w.entity) {
                        if let Some(e) = self.local_entity(&w.entity) {
                            for name in w.values.keys() {
                                if !e.attributes.iter().any(|x| &x.name == name) {
                                    self.error(
                                        ErrorClass::UnresolvedReference,
                                        format!("{sub}.values.{name}"),
                                        format!("entity `{}` has no attribute `{name}`", e.name),
                                    );
                                }
                            }
                        }
                    }
                    match (verb, &w.id) {
                        ("update", None) => {
                            self.error(
                                ErrorClass::MissingField,
                                sub,
                                "an `update` needs `id`: which record".into(),
                            );
                        }
                        ("create", Some(_)) => {
                            self.error(
                                ErrorClass::Conflict,
                                format!("{sub}.id"),
                                "a `create` makes a new record; its id is assigned".into(),
                            );
                        }
                        _ => {}
                    }
                }
                Step::Delete(d) => {
                    self.resolve(format!("{at}.delete.entity"), Kind::Entity, &d.entity);
                }
                Step::Call(c) => {
                    let sub = format!("{at}.call");
                    match self.m.integrations.iter().find(|g| g.name == c.integration) {
                        None => {
                            let hint = closest(
                                &c.integration,
                                self.m.integrations.iter().map(|g| g.name.as_str()),
                            )
                            .map(|x| format!("did you mean `{x}`?"));
                            self.error(
                                ErrorClass::UnresolvedReference,
                                format!("{sub}.integration"),
                                format!("no integration named `{}` in this module", c.integration),
                            )
                            .hint = hint;
                        }
                        Some(g) => {
                            if !g.methods.iter().any(|x| x.name == c.method) {
                                self.error(
                                    ErrorClass::UnresolvedReference,
                                    format!("{sub}.method"),
                                    format!(
                                        "integration `{}` has no method `{}`",
                                        g.name, c.method
                                    ),
                                );
                            }
                        }
                    }
                }
                Step::Run(r) => {
                    if r.action == a.name {
                        self.error(
                            ErrorClass::InvalidValue,
                            format!("{at}.run.action"),
                            "an action cannot run itself".into(),
                        );
                    } else {
                        self.resolve(format!("{at}.run.action"), Kind::Action, &r.action);
                    }
                }
                Step::Redirect(_) => {}
                Step::Assign(vars) => {
                    for name in vars.keys() {
                        if !is_identifier(name) {
                            self.error(
                                ErrorClass::InvalidValue,
                                format!("{at}.assign.{name}"),
                                format!("`{name}` is not a valid variable name"),
                            );
                        }
                    }
                }
            }
        }
    }

    fn integration(&mut self, i: usize, g: &Integration) {
        let path = format!("integrations.{i}");
        let url = g.base_url.as_str();
        if !is_service_url(url) {
            self.error(
                ErrorClass::InvalidValue,
                format!("{path}.base_url"),
                format!("`{url}` is not an http(s) URL with a host"),
            )
            .hint = Some(
                "for example `https://payments.example.com/v1`; credentials never go in the URL"
                    .into(),
            );
        }
        if g.methods.is_empty() {
            self.error(
                ErrorClass::MissingField,
                format!("{path}.methods"),
                format!("integration `{}` has no methods", g.name),
            );
        }
        self.names(
            &format!("{path}.methods"),
            g.methods.iter().map(|x| x.name.as_str()),
        );
        for (j, x) in g.methods.iter().enumerate() {
            if !x.path.starts_with('/') {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{path}.methods.{j}.path"),
                    format!("`{}` must start with `/`", x.path),
                );
            }
        }
        if let Some(c) = &g.credentials {
            let ok = !c.secret.is_empty()
                && c.secret.len() <= 100
                && c.secret
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'));
            if !ok {
                self.error(
                    ErrorClass::InvalidValue,
                    format!("{path}.credentials.secret"),
                    "`secret` is the name of a secret held by the platform, not the secret itself".into(),
                )
                .hint = Some("a name of letters, digits, `-`, `_` and `.`, set per environment by an administrator".into());
            }
            match (c.scheme, &c.header) {
                (CredentialScheme::Header, None) => {
                    self.error(
                        ErrorClass::MissingField,
                        format!("{path}.credentials"),
                        "the `header` scheme needs `header`: the header's name".into(),
                    );
                }
                (CredentialScheme::Bearer | CredentialScheme::Basic, Some(_)) => {
                    self.error(
                        ErrorClass::Conflict,
                        format!("{path}.credentials.header"),
                        "`header` applies to the `header` scheme only".into(),
                    );
                }
                _ => {}
            }
        }
    }
}

fn widget_name(k: WidgetKind) -> &'static str {
    match k {
        WidgetKind::Text => "text",
        WidgetKind::Field => "field",
        WidgetKind::Link => "link",
        WidgetKind::Button => "button",
        WidgetKind::Table => "table",
    }
}

/// The `:name` parameters of an SQL text, outside quotes and not `::` casts.
pub fn sql_parameters(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b':' && bytes.get(i + 1) == Some(&b':') => i += 1,
            None if b == b':' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                if end > start && bytes[start].is_ascii_alphabetic() {
                    out.push(&sql[start..end]);
                }
                i = end;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_parameters_skip_quotes_and_casts() {
        assert_eq!(
            sql_parameters("SELECT * FROM t WHERE a = :region AND b = ':no' AND c::text = :x_1 ORDER BY :order"),
            ["region", "x_1", "order"]
        );
        assert!(sql_parameters("SELECT 1").is_empty());
    }

    #[test]
    fn identifiers_and_module_names() {
        assert!(is_identifier("Customer_2"));
        assert!(!is_identifier("2Customer"));
        assert!(!is_identifier("Cust-omer"));
        assert!(!is_identifier(""));
        assert!(is_module_name("core-service"));
        assert!(!is_module_name("core.service"));
    }
}
