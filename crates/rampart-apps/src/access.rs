//! Who may use an entity's data API, and the table a running model serves.

use std::collections::BTreeSet;

use rampart_model::format::{Entity, Step};
use rampart_model::Module;

use crate::schema::{Layout, Storage, Table};

/// The roles that open an entity's data API: any role a screen or an action of its module
/// requires to work with the entity (a screen over it, or over a query of it; an action
/// that returns it, creates, changes or deletes it), by role name without the `module.`
/// of a dependency's role (roles are the application's). Empty: no end user may use it.
pub fn data_roles(module: &Module, entity: &str) -> BTreeSet<String> {
    let is = |name: &str| name.eq_ignore_ascii_case(entity);
    let query_over = |q: &str| {
        module
            .queries
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(q) && is(&x.entity))
    };
    let mut roles = BTreeSet::new();
    let mut add = |list: &[String]| {
        for r in list {
            let name = r.rsplit_once('.').map_or(r.as_str(), |(_, n)| n);
            roles.insert(name.to_owned());
        }
    };
    for s in &module.screens {
        let over =
            s.entity.as_deref().is_some_and(is) || s.query.as_deref().is_some_and(query_over);
        if over {
            add(&s.roles);
        }
    }
    for a in &module.actions {
        let touches = a.returns.as_deref().is_some_and(is)
            || a.steps.iter().any(|step| match step {
                Step::Create(w) | Step::Update(w) => is(&w.entity),
                Step::Delete(d) => is(&d.entity),
                Step::Query(q) => query_over(&q.query),
                _ => false,
            });
        if touches {
            add(&a.roles);
        }
    }
    roles
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
            return data_roles(module, &q.entity);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entitys_roles_come_from_the_screens_and_actions_that_use_it() {
        let m = rampart_model::parse(
            "m.yaml",
            "
module: m
application: a
roles: [{name: Rep}, {name: Admin}, {name: Auditor}]
entities:
  - name: Sale
    attributes: [{name: amount, type: decimal}]
  - name: Note
    attributes: [{name: text, type: text}]
queries:
  - name: Big
    entity: Sale
    filter: [{attribute: amount, op: gt, value: 100}]
screens:
  - name: Sales
    kind: list
    query: Big
    roles: [Auditor]
  - name: Notes
    kind: list
    query: Big
    entity: Note
    roles: [Rep]
actions:
  - name: Fix
    roles: [Admin]
    steps: [{delete: {entity: Sale, id: params.id}}]
    parameters: [{name: id, type: text}]
",
        )
        .unwrap();
        let sale: Vec<String> = data_roles(&m, "Sale").into_iter().collect();
        assert_eq!(sale, ["Admin", "Auditor", "Rep"]);
        assert_eq!(
            data_roles(&m, "Note").into_iter().collect::<Vec<_>>(),
            ["Rep"]
        );
        assert!(data_roles(&m, "Other").is_empty());
    }
}
