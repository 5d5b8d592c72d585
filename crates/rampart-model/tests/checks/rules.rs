//! Each rule on a small module: where the finding is placed and what it says, and the
//! look-alike it must leave alone. (The corpus measures every rule on many more.)

use super::{findings, ids};

const DEP: &str = include_str!("../corpus/deps/corpusdep.yaml");

fn with(blocks: &str) -> String {
    format!(
        "module: m\napplication: a\nroles:\n  - {{name: Rep}}\nentities:\n  - name: Note\n    \
         attributes: [{{name: body, type: text}}, {{name: n, type: integer}}]\n{blocks}"
    )
}

/// One table: a module's blocks, the findings expected as `(rule, element)`.
#[test]
fn every_rule_is_placed_on_its_element() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "screens:\n  - name: Show\n    kind: detail\n    entity: Note\n    roles: [Rep]\n    \
             parameters: [{name: x, type: text}]\n    widgets:\n      - {kind: text, value: params.x, unescaped: true}\n",
            &[("RS002", "m › screens.Show › widgets.0")],
        ),
        (
            "screens:\n  - name: Show\n    kind: detail\n    entity: Note\n    roles: [Rep]\n    \
             parameters: [{name: x, type: text}]\n    widgets:\n      - {kind: text, value: 'encode_html(params.x)', unescaped: true}\n",
            &[],
        ),
        (
            "actions:\n  - name: Go\n    roles: [Rep]\n    parameters: [{name: next, type: text}]\n    \
             steps:\n      - assign: {a: params.next}\n      - redirect: {target: a}\n",
            &[("RS003", "m › actions.Go › steps.1")],
        ),
        (
            "screens:\n  - name: Show\n    kind: list\n    entity: Note\n    roles: [Rep]\n    \
             parameters: [{name: b, type: text}]\n    on_denied: {redirect: params.b}\n",
            &[("RS003", "m › screens.Show › on_denied.redirect")],
        ),
        (
            "actions:\n  - name: Hop\n    anonymous: true\n    parameters: [{name: n, type: text}]\n    \
             steps:\n      - run: {action: corpusdep.ShowPub, args: {next: params.n}}\n\
             dependencies:\n  - {module: corpusdep, actions: [ShowPub]}\n",
            &[("RS003", "m › actions.Hop › steps.0 › args.next")],
        ),
        (
            "actions:\n  - name: Hop\n    anonymous: true\n    parameters: [{name: n, type: text}]\n    \
             steps:\n      - run: {action: corpusdep.ShowPub, args: {next: '\"Notes\"'}}\n\
             dependencies:\n  - {module: corpusdep, actions: [ShowPub]}\n",
            &[],
        ),
        (
            "integrations:\n  - name: S\n    base_url: http://s.example.com\n    \
             methods: [{name: p, method: GET, path: /p}]\n",
            &[("RS011", "m › integrations.S")],
        ),
        (
            "properties:\n  - {name: ClientSecret, type: text, default: abc}\n",
            &[("RS012", "m › properties.ClientSecret")],
        ),
        (
            "actions:\n  - name: Api\n    roles: [Rep]\n    expose: {method: GET, path: /x, https: false}\n    \
             steps:\n      - create: {entity: Note, values: {n: '1'}}\n",
            &[("RS010", "m › actions.Api"), ("RS014", "m › actions.Api")],
        ),
    ];
    for (blocks, want) in cases {
        let text = with(blocks);
        let got: Vec<(&str, String)> = findings(&text, &[DEP])
            .into_iter()
            .map(|f| (f.rule.id, f.element))
            .collect();
        let want: Vec<(&str, String)> = want.iter().map(|(r, e)| (*r, (*e).to_owned())).collect();
        assert_eq!(got, want, "{blocks}");
    }
}

#[test]
fn a_secret_is_named_by_its_kind_never_repeated() {
    let key = "AKIAIOSFODNN7EXAMPLE";
    let text = with(&format!(
        "properties:\n  - {{name: Sync, type: text, default: {key}}}\n"
    ));
    let found = findings(&text, &[]);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].message.contains("an AWS access key id"),
        "{}",
        found[0].message
    );
    assert!(!found[0].message.contains(key) && !found[0].element.contains(key));
}

#[test]
fn without_the_dependency_model_a_flow_into_it_is_not_claimed() {
    let blocks = "actions:\n  - name: Hop\n    anonymous: true\n    parameters: [{name: n, type: text}]\n    \
                  steps:\n      - run: {action: corpusdep.ShowPub, args: {next: params.n}}\n\
                  dependencies:\n  - {module: corpusdep, actions: [ShowPub]}\n";
    assert_eq!(ids(&with(blocks), &[]), Vec::<&str>::new());
    assert_eq!(ids(&with(blocks), &[DEP]), vec!["RS003"]);
}

#[test]
fn choices_are_for_text_parameters_of_queries() {
    let bad = [
        "screens:\n  - name: S\n    kind: list\n    entity: Note\n    roles: [Rep]\n    parameters: [{name: x, type: text, choices: [a]}]\n",
        "queries:\n  - name: Q\n    entity: Note\n    parameters: [{name: x, type: integer, choices: ['1']}]\n    filter: [{attribute: n, op: eq, parameter: x}]\n",
        "queries:\n  - name: Q\n    entity: Note\n    parameters: [{name: x, type: text, choices: [a, a]}]\n    filter: [{attribute: body, op: eq, parameter: x}]\n",
    ];
    for blocks in bad {
        let e = rampart_model::parse("t.yaml", &with(blocks)).unwrap_err();
        assert!(e.to_string().contains("choices"), "{e}");
    }
}

#[test]
fn findings_are_in_a_stable_order() {
    let blocks = "screens:\n  - name: S\n    kind: list\n    entity: Note\n    roles: [Rep]\n    https: false\n    \
                  parameters: [{name: x, type: text}]\n    widgets:\n"
        .to_owned()
        + &(0..12)
            .map(|i| format!("      - {{kind: link, label: l{i}, target: params.x}}\n"))
            .collect::<String>();
    let found = findings(&with(&blocks), &[]);
    let elements: Vec<String> = found.iter().map(|f| f.element.clone()).collect();
    let mut want = vec!["m › screens.S".to_owned()];
    want.extend((0..12).map(|i| format!("m › screens.S › widgets.{i}")));
    assert_eq!(elements, want);
    assert_eq!(found[0].rule.id, "RS009");
}
