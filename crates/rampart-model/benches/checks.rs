//! What the security checks cost: on a generated module of 2,000 screens (with 500 actions,
//! 200 queries and 20 entities: the publish-time target is under a second), and on the
//! example application's `sales-ui` (a typical module) with `core-service` as its
//! dependency. `check` is the checks over a parsed module; `check_source` adds parsing,
//! validation and placing each finding at its line and column, as `rampart model check`
//! does; `parse` (reading and validating the source, what a publish paid before the
//! checks) is the same-run baseline.
//!
//! `cargo bench -p rampart-model --bench checks`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_model::checks::{check, check_source};
use rampart_model::parse;

/// A module of `screens` screens over 20 entities, with a quarter as many actions and a
/// tenth as many queries: every widget, step and parameter kind the checks follow, some
/// with findings and most without.
fn generated(screens: usize) -> String {
    let mut t = String::from(
        "module: big\napplication: bench\nroles:\n  - {name: Rep}\n  - {name: Boss}\nentities:\n",
    );
    for e in 0..20 {
        let _ = write!(
            t,
            "  - name: E{e}\n    attributes:\n      - {{name: title, type: text}}\n      - {{name: body, type: text, max_length: 2000}}\n      - {{name: amount, type: decimal}}\n      - {{name: rep, type: reference, entity: User}}\n"
        );
        if e % 2 == 0 {
            t.push_str("      - {name: iban, type: text, sensitive: true}\n    acl: {owner: rep, hierarchy: reports-to}\n");
        }
    }
    t.push_str("queries:\n");
    for q in 0..screens / 10 {
        let e = q % 20;
        if q % 2 == 0 {
            let _ = write!(
                t,
                "  - name: Q{q}\n    entity: E{e}\n    parameters:\n      - {{name: since, type: decimal}}\n      - {{name: sort, type: text, inline: true, choices: [title, amount DESC]}}\n    sql: SELECT id, title, amount FROM e{e} WHERE amount >= :since ORDER BY :sort\n"
            );
        } else {
            let _ = write!(
                t,
                "  - name: Q{q}\n    entity: E{e}\n    parameters: [{{name: t, type: text, required: false}}]\n    filter: [{{attribute: title, op: starts_with, parameter: t}}]\n    order_by: [title]\n"
            );
        }
    }
    t.push_str("screens:\n");
    for s in 0..screens {
        let e = s % 20;
        let kind = ["list", "detail", "form"][s % 3];
        let _ = write!(
            t,
            "  - name: S{s}\n    kind: {kind}\n    entity: E{e}\n    roles: [Rep, Boss]\n    parameters: [{{name: next, type: text, required: false}}, {{name: n, type: integer, required: false}}]\n    on_denied: {{redirect: '\"S0\"'}}\n    widgets:\n"
        );
        match kind {
            "list" => t.push_str("      - {kind: table, columns: [record.title, record.amount, record.id]}\n      - {kind: link, label: Next, target: 'same_site(params.next)'}\n"),
            "detail" => t.push_str("      - {kind: text, value: 'encode_html(record.body)', unescaped: true}\n      - {kind: text, value: record.title}\n      - {kind: link, label: Back, target: '\"S0?n=\" + params.n'}\n"),
            _ => {
                let _ = write!(t, "      - {{kind: field, value: title}}\n      - {{kind: field, value: body}}\n      - {{kind: button, label: Save, action: A{}}}\n", s % (screens / 4));
            }
        }
    }
    t.push_str("actions:\n");
    for a in 0..screens / 4 {
        let e = a % 20;
        let q = (a % (screens / 10)) & !1;
        let _ = write!(
            t,
            "  - name: A{a}\n    roles: [Rep]\n    parameters: [{{name: title, type: text}}, {{name: next, type: text, required: false}}, {{name: id, type: reference, entity: E{e}}}]\n    steps:\n      - query: {{query: Q{q}, args: {{since: '0', sort: '\"title\"'}}, into: found}}\n      - assign: {{label: '\"Saved \" + found.title'}}\n      - update: {{entity: E{e}, id: params.id, values: {{title: params.title, rep: user.id}}, into: saved}}\n      - redirect: {{target: '\"S{e}?n=\" + saved.id'}}\n"
        );
    }
    t
}

fn checks(c: &mut Criterion) {
    let big = generated(2_000);
    let module = parse("big.yaml", &big).unwrap();
    assert_eq!(module.screens.len(), 2_000);
    let mut group = c.benchmark_group("checks_2000_screens");
    group.sample_size(10);
    // The same-run baseline: what publishing already paid before the checks (reading and
    // validating the source).
    group.bench_function("parse", |b| {
        b.iter(|| parse("big.yaml", black_box(&big)).unwrap())
    });
    group.bench_function("check", |b| b.iter(|| check(black_box(&module), &[])));
    group.bench_function("check_source", |b| {
        b.iter(|| check_source("big.yaml", black_box(&big), &[]).unwrap())
    });
    group.finish();

    let core_text = include_str!("../../../examples/sales/core-service.yaml");
    let ui_text = include_str!("../../../examples/sales/sales-ui.yaml");
    let core = parse("core-service.yaml", core_text).unwrap();
    let ui = parse("sales-ui.yaml", ui_text).unwrap();
    let mut group = c.benchmark_group("checks_sales_ui");
    group.bench_function("parse", |b| {
        b.iter(|| parse("sales-ui.yaml", black_box(ui_text)).unwrap())
    });
    group.bench_function("check", |b| b.iter(|| check(black_box(&ui), &[&core])));
    group.bench_function("check_source", |b| {
        b.iter(|| check_source("sales-ui.yaml", black_box(ui_text), &[&core]).unwrap())
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
