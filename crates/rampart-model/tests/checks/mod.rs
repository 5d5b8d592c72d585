//! The security checks end to end: every rule found and not found (a table of small
//! modules), the examples, SARIF against its schema, and the corpus's precision and recall.

use rampart_model::checks::{check, check_source, Finding};
use rampart_model::{parse, Module};

mod corpus;
mod examples;
mod rules;
mod sarif;

/// The rule ids `text`'s module is found to break (its dependencies in `deps`).
pub fn ids(text: &str, deps: &[&str]) -> Vec<&'static str> {
    findings(text, deps).iter().map(|f| f.rule.id).collect()
}

pub fn findings(text: &str, deps: &[&str]) -> Vec<Finding> {
    let deps: Vec<Module> = deps
        .iter()
        .map(|d| parse("dep.yaml", d).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let refs: Vec<&Module> = deps.iter().collect();
    check_source("test.yaml", text, &refs).unwrap_or_else(|e| panic!("{e}"))
}

pub fn module(text: &str) -> Module {
    parse("test.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn findings_without_source_have_no_position_and_the_same_identity() {
    let text = include_str!("../corpus/rs003-bad-1.yaml");
    let placed = findings(text, &[]);
    let bare = check(&module(text), &[]);
    assert!(!placed.is_empty());
    assert_eq!(placed.len(), bare.len());
    for (p, b) in placed.iter().zip(&bare) {
        assert_eq!(p.key(), b.key());
        assert!(p.pos.is_some() && b.pos.is_none());
    }
}
