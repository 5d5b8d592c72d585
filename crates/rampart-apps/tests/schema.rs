//! Laying out a model's entities and migrating a database between layouts: what each
//! deployment does to the tables, and that nothing holding data goes without `drop_data`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use rampart_apps::ddl::{statements, Target};
use rampart_apps::schema::{layouts, migrate, Dialect, Layout, Refusal, Step, Storage};
use rampart_model::Module;

fn module(yaml: &str) -> Module {
    rampart_model::parse("m.yaml", yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

const V1: &str = "
module: sales-ui
application: sales
entities:
  - name: Sale
    database: crm
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: notes, type: text}
      - {name: rep, type: reference, entity: User}
      - {name: vat, type: text, unique: true, sensitive: true}
    acl: {owner: rep, hierarchy: reports-to, grants: true}
  - name: Log
    attributes:
      - {name: line, type: text}
";

fn crm(yaml: &str) -> Layout {
    layouts(&[&module(yaml)]).unwrap().remove("crm").unwrap()
}

#[test]
fn each_database_gets_its_entities_tables() {
    let all = layouts(&[&module(V1)]).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["crm", "main"]);
    let sale = &all["crm"].tables[0];
    assert_eq!(sale.name, "sale");
    let names: Vec<&str> = sale.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["amount", "notes", "rep", "vat"]);
    assert_eq!(sale.columns[3].storage, Storage::Sealed);
    assert_eq!(sale.columns[3].blind_index().as_deref(), Some("_bi_vat"));
    assert_eq!(sale.owner_column().map(|c| c.name.as_str()), Some("rep"));
    assert_eq!(sale.grants_table().as_deref(), Some("_grants_sale"));
    assert_eq!(all["main"].tables[0].name, "log");
}

#[test]
fn two_entities_cannot_share_a_table() {
    let other = module(
        "module: other\napplication: sales\nentities:\n  - name: SALE\n    database: crm\n    attributes: [{name: x, type: text}]\n",
    );
    let refused = layouts(&[&module(V1), &other]).unwrap_err();
    assert!(
        matches!(refused, Refusal::SameTable { ref table, .. } if table == "sale"),
        "{refused:?}"
    );
}

#[test]
fn a_name_postgresql_would_cut_is_refused() {
    let long = "a".repeat(64);
    let m = module(&format!(
        "module: m\napplication: sales\nentities:\n  - name: T\n    attributes: [{{name: {long}, type: text}}]\n"
    ));
    assert!(matches!(layouts(&[&m]), Err(Refusal::NameTooLong { .. })));
}

#[test]
fn a_first_deployment_creates_the_tables() {
    let wanted = crm(V1);
    let m = migrate(&Layout::default(), &wanted, false);
    assert_eq!(m.steps.len(), 1);
    assert!(matches!(&m.steps[0], Step::CreateTable { table } if table.name == "sale"));
    assert_eq!(m.after, wanted);
    // Deploying the same layout again changes nothing.
    assert!(migrate(&m.after, &wanted, false).steps.is_empty());
}

#[test]
fn a_removed_attribute_keeps_its_column_until_drop_data() {
    let v1 = migrate(&Layout::default(), &crm(V1), false).after;
    let v2 = crm(&V1.replace("      - {name: notes, type: text}\n", ""));
    let kept = migrate(&v1, &v2, false);
    assert!(kept.steps.is_empty(), "{:?}", kept.steps);
    let notes = kept.after.tables[0]
        .columns
        .iter()
        .find(|c| c.name == "notes")
        .unwrap();
    assert!(notes.retained);
    assert!(kept.after.tables[0].column("notes").is_none());
    // Deploying v1 again (a rollback) brings the column back with its data.
    let back = migrate(&kept.after, &crm(V1), false);
    assert!(back.steps.is_empty(), "{:?}", back.steps);
    assert!(back.after.tables[0].column("notes").is_some());
    // With drop_data the column goes.
    let dropped = migrate(&kept.after, &v2, true);
    assert!(
        matches!(&dropped.steps[..], [Step::DropColumn { column, .. }] if column.name == "notes")
    );
}

#[test]
fn a_removed_entity_keeps_its_table_until_drop_data() {
    let v1 = migrate(&Layout::default(), &crm(V1), false).after;
    let empty = Layout::default();
    let kept = migrate(&v1, &empty, false);
    assert!(kept.steps.is_empty());
    assert!(kept.after.tables[0].retained);
    let dropped = migrate(&kept.after, &empty, true);
    assert_eq!(
        dropped.steps,
        [Step::DropTable {
            table: "sale".into()
        }]
    );
    assert!(dropped.after.tables.is_empty());
}

#[test]
fn a_retyped_attribute_gets_a_new_column_filled_by_conversion() {
    let v1 = migrate(&Layout::default(), &crm(V1), false).after;
    let v2 = crm(&V1.replace("{name: notes, type: text}", "{name: notes, type: integer}"));
    let m = migrate(&v1, &v2, false);
    assert!(
        matches!(&m.steps[..], [Step::AddColumn { column, .. }, Step::Convert { from, to, .. }]
            if column.name == "notes_2" && from.name == "notes" && to.name == "notes_2"),
        "{:?}",
        m.steps
    );
    let sale = &m.after.tables[0];
    assert_eq!(
        sale.column("notes").map(|c| c.name.as_str()),
        Some("notes_2")
    );
    assert!(sale.columns.iter().any(|c| c.name == "notes" && c.retained));
    // Back to text: the old column returns, filled from what the integer column holds now.
    let back = migrate(&m.after, &crm(V1), false);
    assert!(
        matches!(&back.steps[..], [Step::Convert { from, to, .. }] if from.name == "notes_2" && to.name == "notes"),
        "{:?}",
        back.steps
    );
}

#[test]
fn uniqueness_and_sensitivity_changes_have_their_steps() {
    let v1 = migrate(&Layout::default(), &crm(V1), false).after;
    let plain = crm(&V1.replace("unique: true, sensitive: true", "unique: true"));
    let m = migrate(&v1, &plain, false);
    assert!(
        matches!(&m.steps[..], [Step::AddColumn { column, .. }, Step::AddUnique { column: u, .. }, Step::Convert { .. }]
            if column.name == "vat_2" && u == "vat_2"),
        "{:?}",
        m.steps
    );
    let not_unique = crm(&V1.replace("unique: true, sensitive: true", "sensitive: true"));
    let m = migrate(&v1, &not_unique, false);
    assert_eq!(
        m.steps,
        [Step::DropUnique {
            table: "sale".into(),
            column: "_bi_vat".into()
        }]
    );
}

#[test]
fn the_statements_quote_every_name_and_fit_each_dialect() {
    let wanted = crm(V1);
    let Step::CreateTable { table } = &migrate(&Layout::default(), &wanted, false).steps[0] else {
        panic!("no table");
    };
    let step = Step::CreateTable {
        table: table.clone(),
    };
    let sqlite = statements(
        &Target {
            dialect: Dialect::Sqlite,
            schema: None,
        },
        &step,
    );
    assert!(
        sqlite[0].starts_with("CREATE TABLE \"sale\" (\"id\" TEXT PRIMARY KEY"),
        "{}",
        sqlite[0]
    );
    assert!(sqlite[0].contains("\"amount\" TEXT") && sqlite[0].contains("\"_bi_vat\" BLOB"));
    let pg = statements(
        &Target {
            dialect: Dialect::Postgres,
            schema: Some("app_1".into()),
        },
        &step,
    );
    assert!(
        pg[0].starts_with("CREATE TABLE \"app_1\".\"sale\""),
        "{}",
        pg[0]
    );
    assert!(pg[0].contains("\"amount\" NUMERIC") && pg[0].contains("\"vat\" BYTEA"));
    assert!(
        pg.iter()
            .any(|s| s.starts_with("CREATE UNIQUE INDEX IF NOT EXISTS")
                && s.contains("(\"_bi_vat\")"))
    );
    assert!(pg.iter().any(|s| s.contains("\"app_1\".\"_grants_sale\"")));
    assert!(pg.iter().any(|s| s.contains("(\"rep\", \"id\")")));
}

#[test]
fn an_owner_rule_keeps_the_owners_numbers_beside_them() {
    let sqlite = Target {
        dialect: Dialect::Sqlite,
        schema: None,
    };
    let pg = Target {
        dialect: Dialect::Postgres,
        schema: Some("app_1".into()),
    };
    // A first deployment: the table with the hidden column, its index and its trigger.
    let wanted = crm(V1);
    assert!(wanted.tables[0].has_owner_num);
    let log = &layouts(&[&module(V1)]).unwrap()["main"].tables[0];
    assert!(!log.has_owner_num, "no owner rule, no numbers");
    let create = Step::CreateTable {
        table: wanted.tables[0].clone(),
    };
    let on_sqlite = statements(&sqlite, &create);
    assert!(
        on_sqlite[0].contains("\"_owner_num\" INTEGER"),
        "{}",
        on_sqlite[0]
    );
    assert!(on_sqlite
        .iter()
        .any(|s| s.contains("(\"_owner_num\", \"id\")")));
    assert!(
        on_sqlite.iter().any(|s| s.starts_with("CREATE TRIGGER")
            && s.contains("AFTER UPDATE OF \"rep\" ON \"sale\"")
            && s.contains("SET \"_owner_num\" = NULL")),
        "{on_sqlite:?}"
    );
    let on_pg = statements(&pg, &create);
    assert!(on_pg[0].contains("\"_owner_num\" BIGINT"));
    assert!(on_pg
        .iter()
        .any(|s| s.starts_with("CREATE OR REPLACE FUNCTION \"app_1\".")));
    assert!(on_pg
        .iter()
        .any(|s| s.contains("BEFORE UPDATE OF \"rep\" ON \"app_1\".\"sale\"")));

    // A table laid out before owner numbers existed: the next deployment adds and fills them.
    let mut old = migrate(&Layout::default(), &wanted, false).after;
    old.tables[0].has_owner_num = false;
    let m = migrate(&old, &wanted, false);
    let add = Step::OwnerNumbers {
        table: "sale".into(),
        column: "rep".into(),
        add: true,
    };
    assert_eq!(m.steps, std::slice::from_ref(&add));
    assert!(m.after.tables[0].has_owner_num);
    let fill = statements(&sqlite, &add);
    assert!(fill[0].starts_with("ALTER TABLE \"sale\" ADD COLUMN \"_owner_num\""));
    assert!(
        fill[1]
            .contains("FROM \"platform\".\"authz_users\" u WHERE u.\"user_id\" = \"sale\".\"rep\""),
        "{}",
        fill[1]
    );
    assert!(migrate(&m.after, &wanted, false).steps.is_empty());

    // The rule loses its owner: the trigger goes, the column stays; the owner comes back:
    // refilled.
    let no_owner = crm(&V1.replace("owner: rep, hierarchy: reports-to, ", ""));
    let m = migrate(&m.after, &no_owner, false);
    assert_eq!(
        m.steps,
        [Step::DropOwnerTrigger {
            table: "sale".into()
        }]
    );
    let back = migrate(&m.after, &wanted, false);
    assert!(
        back.steps.contains(&Step::OwnerNumbers {
            table: "sale".into(),
            column: "rep".into(),
            add: false
        }),
        "{:?}",
        back.steps
    );

    // An owner attribute retyped into a reference: the rule names the new column, whose
    // numbers are filled after its values are converted.
    let text_rep = crm(&V1
        .replace(
            "{name: rep, type: reference, entity: User}",
            "{name: rep, type: text}",
        )
        .replace(
            "acl: {owner: rep, hierarchy: reports-to, grants: true}",
            "acl: {grants: true}",
        ));
    let v0 = migrate(&Layout::default(), &text_rep, false).after;
    let m = migrate(&v0, &wanted, false);
    let sale = &m.after.tables[0];
    assert_eq!(sale.owner_column().map(|c| c.name.as_str()), Some("rep_2"));
    let numbers = m
        .steps
        .iter()
        .position(|s| matches!(s, Step::OwnerNumbers { column, .. } if column == "rep_2"));
    let converted = m
        .steps
        .iter()
        .position(|s| matches!(s, Step::Convert { to, .. } if to.name == "rep_2"));
    assert!(
        matches!((converted, numbers), (Some(c), Some(n)) if c < n),
        "{:?}",
        m.steps
    );
}
