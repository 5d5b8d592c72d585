//! The SARIF log's shape, as code-scanning services read it. (Its validity against the
//! SARIF 2.1.0 JSON Schema is checked by scripts/sarif/run with the `jsonschema` package.)

use rampart_model::checks::{rules, sarif::sarif};

use super::findings;

#[test]
fn results_carry_rule_level_place_and_identity() {
    let text = include_str!("../corpus/rs002-bad-1.yaml");
    let found = findings(text, &[]);
    let log = sarif(
        &[("corpus/rs002 bad.yaml".to_owned(), found.clone())],
        "9.9.9",
    );
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "rampart");
    assert_eq!(driver["semanticVersion"], "9.9.9");
    assert_eq!(driver["rules"].as_array().unwrap().len(), rules().len());
    let xss = &driver["rules"][1];
    assert_eq!(xss["id"], "RS002");
    assert_eq!(xss["defaultConfiguration"]["level"], "warning");
    let tags: Vec<&str> = xss["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "security",
            "external/cwe/cwe-79",
            "external/owasp/a03-2021",
            "external/asvs/v1.2.1"
        ]
    );
    assert!(xss["help"]["text"]
        .as_str()
        .unwrap()
        .contains("encode_html"));
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "RS002");
    assert_eq!(result["ruleIndex"], 1);
    assert_eq!(result["level"], "warning");
    let place = &result["locations"][0]["physicalLocation"];
    assert_eq!(place["artifactLocation"]["uri"], "corpus/rs002%20bad.yaml");
    let pos = found[0].pos.unwrap();
    assert_eq!(place["region"]["startLine"], pos.line);
    assert_eq!(place["region"]["startColumn"], pos.col);
    assert_eq!(
        result["partialFingerprints"]["rampartFinding/v1"],
        found[0].key()
    );
    assert_eq!(
        result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        found[0].element
    );
}
