//! The example application under the checks.

use super::findings;

const CORE: &str = include_str!("../../../../examples/sales/core-service.yaml");
const UI: &str = include_str!("../../../../examples/sales/sales-ui.yaml");
const REPORTS: &str = include_str!("../../../../examples/sales/reports.json");

#[test]
fn print_examples() {
    for (name, text, deps) in [
        ("core", CORE, vec![]),
        ("ui", UI, vec![CORE]),
        ("reports", REPORTS, vec![CORE, UI]),
    ] {
        for f in findings(text, &deps) {
            println!(
                "{name}: {:?} {} {} {}",
                f.pos, f.rule.id, f.element, f.message
            );
        }
    }
}
