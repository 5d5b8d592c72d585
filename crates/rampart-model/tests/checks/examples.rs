//! The example application under the checks: its `CustomerRevenue` inline `sort` was a SQL
//! injection until the parameter listed its choices, as the documentation teaches.

use super::{findings, ids};

const CORE: &str = include_str!("../../../../examples/sales/core-service.yaml");
const UI: &str = include_str!("../../../../examples/sales/sales-ui.yaml");
const REPORTS: &str = include_str!("../../../../examples/sales/reports.json");

#[test]
fn the_examples_have_no_findings() {
    assert_eq!(ids(CORE, &[]), Vec::<&str>::new());
    assert_eq!(ids(UI, &[CORE]), Vec::<&str>::new());
    assert_eq!(ids(REPORTS, &[CORE, UI]), Vec::<&str>::new());
}

#[test]
fn customer_revenue_without_its_choices_is_a_sql_injection() {
    let choices = "        choices: [revenue DESC, revenue, c.name, c.name DESC]\n";
    assert!(UI.contains(choices));
    let before = UI.replace(choices, "");
    let found = findings(&before, &[CORE]);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.rule.id, "RS001");
    assert_eq!(
        f.element,
        "sales-ui › queries.CustomerRevenue › parameters.sort"
    );
    assert_eq!(f.path, "queries.1.parameters.1");
    let line = before
        .lines()
        .position(|l| l.trim_start() == "- name: sort")
        .unwrap();
    let pos = f.pos.unwrap();
    assert_eq!((pos.line, pos.col), (line + 1, 9));
    assert!(
        f.message.contains("`…/queries/CustomerRevenue?sort=…`"),
        "{}",
        f.message
    );
    assert!(f.fix.contains("choices"), "{}", f.fix);
    assert_eq!(
        f.key(),
        "RS001 sales-ui › queries.CustomerRevenue › parameters.sort"
    );
}
