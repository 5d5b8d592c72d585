//! Who may use an entity's data API, and the table a running model serves.

use std::collections::BTreeSet;

use rampart_model::format::{Action, Entity, HttpMethod, ScreenKind, Step};
use rampart_model::Module;

use crate::schema::{Layout, Storage, Table};

/// What a data API call does to an entity's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// List or get.
    Read,
    /// Create.
    Create,
    /// Change.
    Update,
    /// Delete.
    Delete,
}

/// The roles that open an entity's data API for `verb`, from what the module's screens and
/// actions do with the entity: reading for a screen over it (any kind) or an action that
/// returns it; creating and changing for a form over it or an action with a `create` or
/// `update` step of it; deleting only for an action with a `delete` step of it. A screen
/// over a *query* of the entity opens that query (see [`query_roles`]), not the whole
/// entity. Role names lose the `module.` of a dependency's role (roles are the
/// application's). Empty: no one may.
pub fn data_roles(module: &Module, entity: &str, verb: Verb) -> BTreeSet<String> {
    let is = |name: &str| name.eq_ignore_ascii_case(entity);
    let mut roles = BTreeSet::new();
    for s in &module.screens {
        let over = s.entity.as_deref().is_some_and(is);
        let opens = match verb {
            Verb::Read => over,
            Verb::Create | Verb::Update => over && s.kind == ScreenKind::Form,
            Verb::Delete => false,
        };
        if opens {
            add_roles(&mut roles, &s.roles);
        }
    }
    for a in &module.actions {
        let opens = match verb {
            Verb::Read => a.returns.as_deref().is_some_and(is),
            Verb::Create => a
                .steps
                .iter()
                .any(|st| matches!(st, Step::Create(w) if is(&w.entity))),
            Verb::Update => a
                .steps
                .iter()
                .any(|st| matches!(st, Step::Update(w) if is(&w.entity))),
            Verb::Delete => a
                .steps
                .iter()
                .any(|st| matches!(st, Step::Delete(d) if is(&d.entity))),
        };
        if opens {
            add_roles(&mut roles, &a.roles);
        }
    }
    roles
}

/// Adds role names, without the `module.` of a dependency's role.
fn add_roles(into: &mut BTreeSet<String>, list: &[String]) {
    for r in list {
        let name = r.rsplit_once('.').map_or(r.as_str(), |(_, n)| n);
        into.insert(name.to_owned());
    }
}

/// The roles that let a caller run a module's query through the data API: those of the
/// module's screens and actions that run it, or, if none does, those that open its entity.
pub fn query_roles(module: &Module, query: &str) -> BTreeSet<String> {
    let is = |name: &str| name.eq_ignore_ascii_case(query);
    let mut roles = BTreeSet::new();
    let mut add = |list: &[String]| {
        for r in list {
            let name = r.rsplit_once('.').map_or(r.as_str(), |(_, n)| n);
            roles.insert(name.to_owned());
        }
    };
    for s in &module.screens {
        if s.query.as_deref().is_some_and(is) {
            add(&s.roles);
        }
    }
    for a in &module.actions {
        if a.steps
            .iter()
            .any(|step| matches!(step, Step::Query(q) if is(&q.query)))
        {
            add(&a.roles);
        }
    }
    if roles.is_empty() {
        if let Some(q) = module.queries.iter().find(|q| is(&q.name)) {
            return data_roles(module, &q.entity, Verb::Read);
        }
    }
    roles
}

/// The table the running `entity` of `module` reads and writes: the layout's table with
/// only the columns of the entity's attributes as the model declares them, in the model's
/// order. `None` when the database has not been migrated to this model (an attribute has
/// no column of its type yet): the runtime then refuses rather than guess.
pub fn serving_table(layout: &Layout, module: &str, entity: &Entity) -> Option<Table> {
    let table = layout.table(module, &entity.name)?;
    let mut columns = Vec::with_capacity(entity.attributes.len());
    for a in &entity.attributes {
        let column = table.columns.iter().find(|c| {
            !c.retained
                && c.attribute == a.name
                && c.ty == a.ty
                && c.storage == Storage::of(a.ty, a.sensitive)
        })?;
        columns.push(column.clone());
    }
    Some(Table {
        columns,
        ..table.clone()
    })
}

/// The action of `module` exposed at `method` and `path` (below `…/api/{module}`), with the
/// values of its `{name}` segments. A segment's value is taken only if it is plain (letters,
/// digits, `-`, `_`, `.`, `~`): anything else matches nothing.
pub fn exposed<'m>(
    module: &'m Module,
    method: HttpMethod,
    path: &str,
) -> Option<(&'m Action, Vec<(String, String)>)> {
    let asked: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    module.actions.iter().find_map(|a| {
        let x = a.expose.as_ref().filter(|x| x.method == method)?;
        let pattern: Vec<&str> = x.path.trim_end_matches('/').split('/').collect();
        if pattern.len() != asked.len() {
            return None;
        }
        let mut values = Vec::new();
        for (p, v) in pattern.iter().zip(&asked) {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    let plain = !v.is_empty()
                        && v.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
                        });
                    if !plain {
                        return None;
                    }
                    values.push((name.to_owned(), (*v).to_owned()));
                }
                None if p == v => {}
                None => return None,
            }
        }
        Some((a, values))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verb_has_the_roles_of_what_does_it() {
        let m = rampart_model::parse(
            "m.yaml",
            "
module: m
application: a
roles: [{name: Rep}, {name: Admin}, {name: Auditor}, {name: Viewer}]
entities:
  - name: Sale
    attributes: [{name: amount, type: decimal}]
queries:
  - name: Big
    entity: Sale
    filter: [{attribute: amount, op: gt, value: 100}]
screens:
  - {name: Big, kind: list, query: Big, roles: [Auditor]}
  - {name: One, kind: detail, entity: Sale, roles: [Viewer]}
  - {name: Edit, kind: form, entity: Sale, roles: [Rep]}
actions:
  - name: Fix
    roles: [Admin]
    steps: [{delete: {entity: Sale, id: params.id}}]
    parameters: [{name: id, type: text}]
",
        )
        .unwrap();
        let names = |v: Verb| data_roles(&m, "Sale", v).into_iter().collect::<Vec<_>>();
        assert_eq!(names(Verb::Read), ["Rep", "Viewer"]);
        assert_eq!(names(Verb::Create), ["Rep"]);
        assert_eq!(names(Verb::Update), ["Rep"]);
        assert_eq!(names(Verb::Delete), ["Admin"]);
        // A screen over a query opens the query, not the entity.
        assert_eq!(
            query_roles(&m, "Big").into_iter().collect::<Vec<_>>(),
            ["Auditor"]
        );
        assert!(data_roles(&m, "Other", Verb::Read).is_empty());
    }

    #[test]
    fn exposed_paths_match_their_segments() {
        let m = rampart_model::parse(
            "m.yaml",
            "
module: m
application: a
roles: [{name: Rep}]
actions:
  - name: Create
    roles: [Rep]
    expose: {method: POST, path: /customers}
    steps: [{assign: {x: '1'}}]
  - name: Pay
    roles: [Rep]
    parameters: [{name: id, type: text}]
    expose: {method: PUT, path: '/invoices/{id}/paid'}
    steps: [{assign: {x: '1'}}]
",
        )
        .unwrap();
        let found =
            |method, path: &str| exposed(&m, method, path).map(|(a, v)| (a.name.clone(), v));
        assert_eq!(
            found(HttpMethod::Post, "/customers"),
            Some(("Create".into(), vec![]))
        );
        assert_eq!(
            found(HttpMethod::Post, "/customers/"),
            Some(("Create".into(), vec![]))
        );
        assert_eq!(found(HttpMethod::Get, "/customers"), None);
        assert_eq!(
            found(HttpMethod::Put, "/invoices/17/paid"),
            Some(("Pay".into(), vec![("id".into(), "17".into())]))
        );
        assert_eq!(found(HttpMethod::Put, "/invoices/%2e%2e/paid"), None);
        assert_eq!(found(HttpMethod::Put, "/invoices//paid"), None);
        assert_eq!(found(HttpMethod::Put, "/invoices/17/paid/x"), None);
    }
}
