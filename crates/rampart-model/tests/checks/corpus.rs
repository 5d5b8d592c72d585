//! The corpus (tests/corpus, written by its generate.py): small vulnerable modules and safe
//! look-alikes, each naming the rules it breaks in its first line. Precision and recall per
//! rule must both be at least 0.95, and every rule must have several modules that break it
//! and several that come close without breaking it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rampart_model::checks::{check_source, rules};
use rampart_model::{parse, Module};

const MIN: f64 = 0.95;

fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every corpus module: its name, its text and the rule ids it expects.
fn corpus() -> Vec<(String, String, BTreeSet<String>)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        let expect = first
            .strip_prefix("# expect: ")
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
        let expect: BTreeSet<String> = expect
            .split_whitespace()
            .filter(|w| *w != "none")
            .map(str::to_owned)
            .collect();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        out.push((name, text, expect));
    }
    out
}

fn deps() -> Vec<Module> {
    let dir = corpus_dir().join("deps");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        out.push(parse(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}")));
    }
    out
}

#[derive(Default)]
struct Tally {
    tp: u32,
    fp: u32,
    fn_: u32,
    positives: u32,
    negatives: u32,
}

#[test]
fn precision_and_recall_per_rule_are_at_least_95_percent() {
    let deps = deps();
    let all: Vec<&Module> = deps.iter().collect();
    let mut tally: BTreeMap<&str, Tally> =
        rules().iter().map(|r| (r.id, Tally::default())).collect();
    let mut mistakes = Vec::new();
    let cases = corpus();
    let (mut bad, mut good) = (0, 0);
    for (name, text, expect) in &cases {
        if name.contains("-bad-") {
            bad += 1;
        } else {
            good += 1;
        }
        let findings = match check_source(&format!("{name}.yaml"), text, &all) {
            Ok(f) => f,
            Err(e) => {
                mistakes.push(format!("{name}: does not parse: {e}"));
                continue;
            }
        };
        let found: BTreeSet<String> = findings.iter().map(|f| f.rule.id.to_owned()).collect();
        // The rule a module is named after: it is a positive or a near miss for that rule.
        let named = name.get(..5).unwrap_or("").to_ascii_uppercase();
        for r in rules() {
            let t = tally.get_mut(r.id).unwrap();
            let (e, f) = (expect.contains(r.id), found.contains(r.id));
            match (e, f) {
                (true, true) => t.tp += 1,
                (false, true) => t.fp += 1,
                (true, false) => t.fn_ += 1,
                (false, false) => {}
            }
            if e {
                t.positives += 1;
            } else if named == r.id {
                t.negatives += 1;
            }
        }
        if found != *expect {
            let detail: Vec<String> = findings
                .iter()
                .map(|f| format!("{} {}: {}", f.rule.id, f.element, f.message))
                .collect();
            mistakes.push(format!(
                "{name}: expected {expect:?}, found {found:?}\n    {}",
                detail.join("\n    ")
            ));
        }
    }
    println!(
        "corpus: {} modules, {bad} vulnerable, {good} safe",
        cases.len()
    );
    println!("rule   positives  near-misses  tp  fp  fn  precision  recall");
    let mut failing = Vec::new();
    for (id, t) in &tally {
        let precision = if t.tp + t.fp == 0 {
            1.0
        } else {
            f64::from(t.tp) / f64::from(t.tp + t.fp)
        };
        let recall = if t.tp + t.fn_ == 0 {
            1.0
        } else {
            f64::from(t.tp) / f64::from(t.tp + t.fn_)
        };
        println!(
            "{id}  {:>9}  {:>11}  {:>2}  {:>2}  {:>2}  {precision:>9.3}  {recall:>6.3}",
            t.positives, t.negatives, t.tp, t.fp, t.fn_
        );
        if precision < MIN || recall < MIN || t.positives < 3 || t.negatives < 3 {
            failing.push(*id);
        }
    }
    for m in &mistakes {
        println!("{m}");
    }
    assert!(
        mistakes.iter().all(|m| !m.contains("does not parse")),
        "every module parses"
    );
    assert!(
        bad >= 60 && good >= 60,
        "the corpus needs 60 of each: {bad} and {good}"
    );
    assert!(
        failing.is_empty(),
        "rules below {MIN} or without 3 positives and 3 near misses: {failing:?}"
    );
}
