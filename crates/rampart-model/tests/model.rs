//! The module format end to end: the examples parse, every class of error is reported at
//! its file, line and column with a hint, diffs and breaking changes are what they say.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use rampart_model::surface::Surface;
use rampart_model::validate::{is_secret_reference, is_service_url};
use rampart_model::{diff, parse, ErrorClass, Kind, Module};

fn example(name: &str) -> String {
    let path = format!("{}/../../examples/sales/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ok(text: &str) -> Module {
    parse("test.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_examples_parse_and_agree_with_each_other() {
    let core = ok(&example("core-service.yaml"));
    let ui = ok(&example("sales-ui.yaml"));
    let reports = ok(&example("reports.json"));
    assert_eq!(core.module, "core-service");
    assert_eq!(ui.entities[0].attributes.len(), 5);
    assert_eq!(reports.screens[0].name, "RegionReport");
    // Every element a dependant lists is public in the module it depends on.
    let surface = Surface::of(&core);
    for m in [&ui, &reports] {
        for d in &m.dependencies {
            assert_eq!(d.module, "core-service");
            for (kind, names) in [
                (Kind::Role, &d.roles),
                (Kind::Entity, &d.entities),
                (Kind::Query, &d.queries),
                (Kind::Screen, &d.screens),
                (Kind::Action, &d.actions),
            ] {
                for n in names {
                    assert!(surface.has(kind, n), "{}: {n}", m.module);
                }
            }
        }
    }
    // The surface shows public elements only, and no source.
    assert!(surface.roles.contains_key("SalesRep"));
    assert!(!surface.roles.contains_key("CoreAdmin"));
    assert!(!surface.queries.contains_key("CustomersPerRegion"));
    let text = serde_json::to_string(&surface).unwrap();
    assert!(!text.contains("SELECT"), "{text}");
}

/// One broken module per error class: the class, the line and column, and a word of the
/// message and of the hint (when a hint is expected).
#[test]
fn every_error_class_is_placed_with_a_hint() {
    let base = "module: m\napplication: app\n";
    let cases: &[(&str, &str, ErrorClass, (usize, usize), &str, Option<&str>)] = &[
        (
            "syntax: unclosed flow list",
            "module: m\napplication: [app\nroles: []\n",
            ErrorClass::Syntax,
            (3, 6),
            "",
            Some("indentation"),
        ),
        (
            "duplicate key",
            "module: m\napplication: app\nmodule: n\n",
            ErrorClass::DuplicateKey,
            (3, 1),
            "twice",
            Some("remove"),
        ),
        (
            "alias",
            "module: &n m\napplication: app\n",
            ErrorClass::Unsupported,
            (1, 9),
            "anchors",
            Some("write the value out"),
        ),
        (
            "misspelt key",
            "module: m\napplication: app\nentities:\n  - name: A\n    attributes:\n      - name: x\n        tpye: text\n",
            ErrorClass::UnknownField,
            (7, 15),
            "tpye",
            Some("did you mean `type`?"),
        ),
        (
            "missing key",
            "module: m\nentities: []\n",
            ErrorClass::MissingField,
            (1, 1),
            "application",
            Some("add the key"),
        ),
        (
            "site property default of another type",
            "module: m\napplication: app\nproperties:\n  - name: Limit\n    type: integer\n    default: ten\n",
            ErrorClass::WrongType,
            (6, 14),
            "is not integer",
            Some("a value of type integer"),
        ),
        (
            "wrong type",
            "module: m\napplication: app\nroles: SalesRep\n",
            ErrorClass::WrongType,
            (3, 8),
            "invalid type",
            Some("write a list"),
        ),
        (
            "unknown enum value",
            "module: m\napplication: app\nentities:\n  - name: A\n    attributes:\n      - name: x\n        type: strng\n",
            ErrorClass::InvalidValue,
            (7, 15),
            "strng",
            Some("the values allowed here: `text`"),
        ),
        (
            "bad name",
            "module: m\napplication: app\nroles:\n  - name: Sales Rep\n",
            ErrorClass::InvalidValue,
            (4, 11),
            "not a valid name",
            Some("an ASCII letter"),
        ),
        (
            "duplicate name",
            "module: m\napplication: app\nroles:\n  - name: Rep\n  - name: rep\n",
            ErrorClass::DuplicateName,
            (5, 11),
            "declared twice",
            Some("rename"),
        ),
        (
            "unresolved local reference",
            "module: m\napplication: app\nroles:\n  - name: Rep\nscreens:\n  - name: S\n    kind: list\n    roles: [Repp]\n",
            ErrorClass::UnresolvedReference,
            (8, 13),
            "no role named `Repp`",
            Some("did you mean `Rep`?"),
        ),
        (
            "reference to a module not depended on",
            "module: m\napplication: app\nentities:\n  - name: Sale\n    attributes:\n      - name: c\n        type: reference\n        entity: core.Customer\n",
            ErrorClass::UnresolvedReference,
            (8, 17),
            "not among the dependencies",
            Some("- module: core"),
        ),
        (
            "contradiction",
            "module: m\napplication: app\nactions:\n  - name: A\n    anonymous: true\n    roles: [R]\n    steps: [{redirect: {target: x}}]\nroles: [{name: R}]\n",
            ErrorClass::Conflict,
            (5, 16),
            "contradict",
            None,
        ),
        (
            "a redirect off the site",
            "module: m\napplication: app\nroles: [{name: R}]\nscreens:\n  - name: S\n    kind: list\n    roles: [R]\n    on_denied: {redirect: '\"https://evil.example/\"'}\n",
            ErrorClass::InvalidValue,
            (8, 27),
            "off this site",
            None,
        ),
        (
            "an expression that does not parse",
            "module: m\napplication: app\nroles: [{name: R}]\nscreens:\n  - name: S\n    kind: list\n    roles: [R]\n    widgets: [{kind: text, value: 'params.a +'}]\n",
            ErrorClass::InvalidValue,
            (8, 35),
            "missing a term",
            None,
        ),
        (
            "undeclared SQL parameter",
            "module: m\napplication: app\nentities: [{name: E, attributes: [{name: a, type: text}]}]\nqueries:\n  - name: Q\n    entity: E\n    sql: SELECT * FROM e WHERE a = :region\n",
            ErrorClass::UnresolvedReference,
            (7, 10),
            ":region",
            Some("declare"),
        ),
        (
            "hard-coded credential instead of a secret name",
            "module: m\napplication: app\nintegrations:\n  - name: Pay\n    base_url: https://pay.example.com\n    methods: [{name: charge, method: POST, path: /c}]\n    credentials: {secret: 'sk_live 12345 abc'}\n",
            ErrorClass::InvalidValue,
            (7, 27),
            "not the secret itself",
            Some("set per environment"),
        ),
    ];
    for (what, text, class, (line, col), needle, hint) in cases {
        let errors = parse("broken.yaml", text).expect_err(what).0;
        let e = &errors[0];
        assert_eq!(e.class, *class, "{what}: {e}");
        assert_eq!((e.pos.line, e.pos.col), (*line, *col), "{what}: {e}");
        assert_eq!(e.file, "broken.yaml");
        assert!(e.message.contains(needle), "{what}: {e}");
        if let Some(h) = hint {
            assert!(
                e.hint.as_deref().is_some_and(|x| x.contains(h)),
                "{what}: {e}"
            );
        }
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "broken.yaml:{line}:{col}: error[{}]",
                class.as_str()
            )),
            "{shown}"
        );
    }
    // The base is valid: the cases fail for their own reason.
    ok(base);
}

#[test]
fn several_errors_are_all_reported_in_one_pass() {
    let text = "module: m\napplication: app\nroles: [{name: R}]\nscreens:\n  - name: A\n    kind: list\n    roles: [X]\n  - name: B\n    kind: detail\n    roles: [Y]\n";
    let errors = parse("m.yaml", text).unwrap_err().0;
    let lines: Vec<usize> = errors.iter().map(|e| e.pos.line).collect();
    assert_eq!(lines, [7, 8, 10], "{errors:?}");
}

#[test]
fn empty_and_non_mapping_files_are_refused() {
    for text in ["", "# only a comment\n", "- a\n- b\n", "just text"] {
        let e = parse("x.yaml", text).unwrap_err().0;
        assert_eq!(e[0].class, ErrorClass::WrongType, "{text:?}");
    }
}

#[test]
fn yaml_and_json_forms_of_one_module_are_equal() {
    let yaml = example("core-service.yaml");
    let m = ok(&yaml);
    let json = serde_json::to_string_pretty(&m).unwrap();
    assert_eq!(ok(&json), m);
}

#[test]
fn the_diff_names_what_changed_field_by_field() {
    let old_text = example("core-service.yaml");
    let new_text = old_text
        .replace("        max_length: 200\n", "        max_length: 300\n")
        .replace(
            "  - name: CoreAdmin\n    description: Maintains the customer base.\n",
            "",
        )
        .replace(
            "queries:\n",
            "queries:\n  - name: AllCustomers\n    entity: Customer\n",
        );
    let (old, new) = (ok(&old_text), ok(&new_text));
    let d = diff(&old, &new, ("v1", &old_text), ("v2", &new_text));
    assert!(d.module.is_empty());
    assert_eq!(d.elements["roles"].removed, ["CoreAdmin"]);
    assert_eq!(d.elements["queries"].added, ["AllCustomers"]);
    let changed = &d.elements["entities"].changed;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].name, "Customer");
    assert_eq!(changed[0].fields.len(), 1);
    assert_eq!(changed[0].fields[0].path, "attributes.name.max_length");
    assert_eq!(changed[0].fields[0].from, Some(serde_json::json!(200)));
    assert_eq!(changed[0].fields[0].to, Some(serde_json::json!(300)));
    assert_eq!((d.lines.added, d.lines.removed), (3, 3));
    assert!(d.lines.unified.starts_with("--- v1\n+++ v2\n"));
    let plain = d.render(false);
    assert!(
        plain.contains("- CoreAdmin") && plain.contains("+ AllCustomers"),
        "{plain}"
    );
    assert!(!plain.contains('\x1b'));
    assert!(d.render(true).contains("\x1b[32m"));
    // Reordering elements is no structural change.
    let mut reordered = old.clone();
    reordered.roles.reverse();
    let d = diff(&old, &reordered, ("a", "x"), ("b", "x"));
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn breaking_changes_are_those_that_fail_a_dependant() {
    let core = ok(&example("core-service.yaml"));
    let before = Surface::of(&core);
    let used = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let cases: &[(&str, fn(&mut Module), Kind, &str, Option<&str>)] = &[
        (
            "description only",
            |m| m.entities[0].description = "Changed".into(),
            Kind::Entity,
            "Customer",
            None,
        ),
        (
            "new optional attribute",
            |m| {
                let mut a = m.entities[0].attributes[2].clone();
                a.name = "phone".into();
                m.entities[0].attributes.push(a);
            },
            Kind::Entity,
            "Customer",
            None,
        ),
        (
            "new required attribute",
            |m| {
                let mut a = m.entities[0].attributes[0].clone();
                a.name = "segment".into();
                m.entities[0].attributes.push(a);
            },
            Kind::Entity,
            "Customer",
            Some("new required attribute `segment`"),
        ),
        (
            "attribute removed",
            |m| {
                m.entities[0].attributes.remove(1);
            },
            Kind::Entity,
            "Customer",
            Some("attribute `region` removed"),
        ),
        (
            "attribute retyped",
            |m| m.entities[0].attributes[1].ty = rampart_model::format::AttributeType::Integer,
            Kind::Entity,
            "Customer",
            Some("changed from text to integer"),
        ),
        (
            "entity made private",
            |m| m.entities[0].public = false,
            Kind::Entity,
            "Customer",
            Some("no longer public"),
        ),
        (
            "role removed",
            |m| {
                m.roles.remove(0);
            },
            Kind::Role,
            "SalesRep",
            Some("removed"),
        ),
        (
            "parameter became required",
            |m| m.actions[1].parameters[2].required = true,
            Kind::Action,
            "CreateCustomer",
            Some("`email` became required"),
        ),
        (
            "return changed",
            |m| m.actions[0].returns = None,
            Kind::Action,
            "GetCustomer",
            Some("now returns nothing"),
        ),
        (
            "unused element removed",
            |m| {
                m.queries.remove(0);
            },
            Kind::Action,
            "GetCustomer",
            None,
        ),
    ];
    for (what, change, kind, name, expected) in cases {
        let mut m = core.clone();
        change(&mut m);
        let after = Surface::of(&m);
        let breaks = before.breaks(&after, *kind, &used(&[name]));
        match expected {
            None => assert!(breaks.is_empty(), "{what}: {breaks:?}"),
            Some(reason) => {
                assert_eq!(breaks.len(), 1, "{what}: {breaks:?}");
                assert_eq!(breaks[0].0, *name, "{what}");
                assert!(breaks[0].1.contains(reason), "{what}: {}", breaks[0].1);
            }
        }
    }
}

#[test]
fn the_content_address_is_the_sources_sha256() {
    let d = rampart_model::digest("module: m\n");
    assert_eq!(d.len(), 7 + 64);
    assert!(d.starts_with("sha256:"));
    assert_ne!(d, rampart_model::digest("module: m \n"));
}

mod never_panics {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any text gets a module or errors, never a panic.
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            let _ = rampart_model::parse("x.yaml", &text);
        }

        /// The example with a slice cut out or a character changed: errors are placed inside
        /// the file.
        #[test]
        fn damaged_example(at in 0usize..4000, len in 0usize..40, ch in proptest::char::any()) {
            let text = super::example("sales-ui.yaml");
            let mut chars: Vec<char> = text.chars().collect();
            let at = at % chars.len();
            let end = (at + len).min(chars.len());
            chars.splice(at..end, [ch]);
            let damaged: String = chars.into_iter().collect();
            if let Err(errors) = rampart_model::parse("x.yaml", &damaged) {
                let lines = damaged.lines().count().max(1);
                for e in errors.0 {
                    prop_assert!(e.pos.line >= 1 && e.pos.line <= lines + 1, "{e}");
                }
            }
        }
    }
}

#[test]
fn secret_references_and_service_urls_are_told_from_secrets_and_junk() {
    for (reference, ok) in [
        ("env:INVOICING_TOKEN", true),
        ("file:/run/secrets/invoicing", true),
        ("vault:sales/invoicing", true),
        ("hunter2", false),
        ("Bearer abc.def", false),
        ("env:", false),
        ("env:9LIVES", false),
        ("env:A B", false),
        ("env:MAIL-TOKEN", false),
        ("env:MAIL.TOKEN", false),
        ("env:RAMPART_METRICS_TOKEN", false),
        ("file:relative/path", false),
        ("file:/run/../etc/shadow", false),
        ("vault:/absolute", false),
        ("aws:secret", false),
    ] {
        assert_eq!(is_secret_reference(reference), ok, "{reference}");
    }
    for (url, ok) in [
        ("https://invoicing.example.com/api/v2", true),
        ("http://10.0.0.7:8080", true),
        ("https://user:pw@invoicing.example.com", false),
        ("ftp://invoicing.example.com", false),
        ("https://", false),
        ("https://host/ with space", false),
        ("invoicing.example.com", false),
        ("https://invoicing.example.com/api?key=hunter2", false),
        ("https://invoicing.example.com/api#top", false),
        ("https://invoicing.example.com:99999", false),
        ("https://invoicing10.0.0.7", false),
        ("http://[::1]:8080/api", true),
    ] {
        assert_eq!(is_service_url(url), ok, "{url}");
    }
}

/// Advanced SQL that may not run does not publish: each case with the words of its reason.
#[test]
fn advanced_sql_is_checked_at_publish() {
    let module = |sql: &str, extra: &str| {
        format!(
            "module: m\napplication: app\nentities:\n  - {{name: E, database: one, attributes: [{{name: a, type: text}}, {{name: s, type: text, sensitive: true}}]}}\n  - {{name: F, database: two, attributes: [{{name: b, type: text}}]}}\nqueries:\n  - name: Q\n    entity: E\n    parameters: [{{name: p, type: text, inline: true}}]\n    sql: \"{sql}\"\n{extra}"
        )
    };
    for sql in [
        "SELECT a FROM e ORDER BY :p",
        "WITH x AS (SELECT a FROM e) SELECT count(*) FROM x WHERE a IN (:p)",
        "SELECT e.a, d.c FROM e JOIN d ON d.c = e.a",
    ] {
        let extra = "dependencies: [{module: other, entities: [D]}]\n";
        let m = parse("m.yaml", &module(sql, extra));
        assert!(m.is_ok(), "{sql}: {}", m.unwrap_err());
    }
    for (sql, words) in [
        ("UPDATE e SET a = 'x'", "UPDATE statement"),
        ("DELETE FROM e", "DELETE statement"),
        ("SELECT 1; DROP TABLE e", "2 statements"),
        ("SELECT s FROM e", "sensitive attribute"),
        ("SELECT * FROM users", "not an entity of this module"),
        ("SELECT b FROM f", "several databases"),
        ("SELECT a FROM main.e", "without a schema"),
        ("SELECT pg_sleep(1)", "function `pg_sleep`"),
        (
            "SELECT a FROM e LIMIT 10",
            "the page is the query's `limit`",
        ),
        ("SELECT a FROM :p", "an inline parameter stands where"),
    ] {
        let e = parse("m.yaml", &module(sql, "")).unwrap_err().to_string();
        assert!(e.contains(words), "{sql}: {e}");
        assert!(e.contains("queries.0.sql"), "{sql}: {e}");
    }
}

/// The security checks: a test per rule, the examples, SARIF, and the corpus.
#[path = "checks/mod.rs"]
mod checks;
