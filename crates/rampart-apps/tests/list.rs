//! List requests: what the query string may say, and that nothing it says reaches the SQL
//! as text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use rampart_apps::ddl::Target;
use rampart_apps::list::{
    compile_get, compile_list, encode_cursor, parse_list, Below, Bind, MemberSet, Op, RowFilter,
    Rule,
};
use rampart_apps::schema::{layouts, Dialect, Table};
use rampart_apps::values::Value;

fn sale() -> Table {
    let m = rampart_model::parse(
        "m.yaml",
        "
module: sales-ui
application: sales
entities:
  - name: Sale
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: region, type: text}
      - {name: won, type: boolean}
      - {name: rep, type: reference, entity: User}
      - {name: vat, type: text, unique: true, sensitive: true}
      - {name: secret, type: text, sensitive: true}
    acl: {owner: rep, hierarchy: reports-to, grants: true}
",
    )
    .unwrap();
    layouts(&[&m])
        .unwrap()
        .remove("main")
        .unwrap()
        .tables
        .remove(0)
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

const SQLITE: Target = Target {
    dialect: Dialect::Sqlite,
    schema: None,
};

#[test]
fn filters_sorts_and_limits_are_read() {
    let t = sale();
    let r = parse_list(
        &t,
        &params(&[
            ("region", "North"),
            ("amount.ge", "100.50"),
            ("sort", "-amount"),
            ("limit", "20"),
        ]),
    )
    .unwrap();
    assert_eq!(r.filters.len(), 2);
    assert_eq!(
        (r.filters[0].op, &r.filters[0].value),
        (Op::Eq, &Value::Text("North".into()))
    );
    assert_eq!(
        (r.filters[1].op, &r.filters[1].value),
        (Op::Ge, &Value::Decimal("100.5".into()))
    );
    assert!(r.sort.descending);
    assert_eq!(
        r.sort.column.as_ref().map(|c| c.name.as_str()),
        Some("amount")
    );
    assert_eq!(r.limit, 20);
    assert_eq!(parse_list(&t, &[]).unwrap().limit, 50);
}

#[test]
fn bad_parameters_are_each_named() {
    let t = sale();
    let cases: &[(&str, &str, &str)] = &[
        ("limit", "0", "limit"),
        ("limit", "501", "limit"),
        ("sort", "nope", "sort"),
        ("sort", "secret", "sort"),
        ("nope", "1", "nope"),
        ("amount.like", "1", "amount.like"),
        ("amount", "lots", "amount"),
        ("won.gt", "true", "won.gt"),
        ("secret", "x", "secret"),
        ("vat.contains", "x", "vat.contains"),
        ("amount.contains", "1", "amount.contains"),
        ("cursor", "zz", "cursor"),
        ("region.is_null", "maybe", "region.is_null"),
    ];
    for (name, value, named) in cases {
        let errors = parse_list(&t, &params(&[(name, value)])).unwrap_err();
        assert_eq!(errors.len(), 1, "{name}={value}: {errors:?}");
        assert_eq!(&errors[0].attribute, named, "{name}={value}");
    }
    // Several problems, several errors.
    let errors = parse_list(&t, &params(&[("limit", "x"), ("nope", "1")])).unwrap_err();
    assert_eq!(errors.len(), 2);
    // `limit`, `sort` and `cursor` are said once; a filter repeated narrows (both hold).
    for name in ["limit", "sort"] {
        let value = if name == "limit" { "5" } else { "amount" };
        let errors = parse_list(&t, &params(&[(name, value), (name, value)])).unwrap_err();
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert!(errors[0].reason.contains("more than once"), "{errors:?}");
    }
    let range = parse_list(&t, &params(&[("amount.ge", "1"), ("amount.le", "5")])).unwrap();
    assert_eq!(range.filters.len(), 2);
}

#[test]
fn injection_attempts_are_bound_or_refused_never_written_into_sql() {
    let t = sale();
    let evil = "x' OR 1=1; DROP TABLE sale; --";
    for (name, value) in [
        ("region", evil),
        ("region.contains", evil),
        ("region.starts_with", evil),
    ] {
        let r = parse_list(&t, &params(&[(name, value)])).unwrap();
        let c = compile_list(&SQLITE, &t, &r, &RowFilter::All);
        assert!(
            !c.sql.contains("DROP") && !c.sql.contains("1=1"),
            "{}",
            c.sql
        );
        assert!(c.binds.contains(&Bind::Text(evil.into())));
    }
    // Names are looked up, not copied: an attribute name carrying SQL is just unknown.
    for name in ["region\" OR 1=1 --", "sort", "amount.gt\"--"] {
        let value = if name == "sort" {
            "region; DROP TABLE sale"
        } else {
            "1"
        };
        assert!(parse_list(&t, &params(&[(name, value)])).is_err(), "{name}");
    }
}

#[test]
fn a_cursor_continues_after_the_row_it_names() {
    let t = sale();
    let id = "0190a000-0000-7000-8000-000000000001";
    let cursor = encode_cursor(&Value::Decimal("10.5".into()), id);
    let r = parse_list(&t, &params(&[("sort", "amount"), ("cursor", &cursor)])).unwrap();
    let after = r.after.clone().unwrap();
    assert_eq!(
        (after.key, after.id.as_str()),
        (Value::Decimal("10.5".into()), id)
    );
    let c = compile_list(&SQLITE, &t, &r, &RowFilter::All);
    assert!(
        c.sql
            .contains("CAST(t.\"amount\" AS REAL) > CAST($2 AS REAL)"),
        "{}",
        c.sql
    );
    // A cursor made for another order is refused, not misread.
    let by_id = encode_cursor(&Value::Null, id);
    assert!(parse_list(&t, &params(&[("cursor", &by_id)])).is_ok());
    let keyed = encode_cursor(&Value::Text("North".into()), id);
    assert!(parse_list(&t, &params(&[("cursor", &keyed)])).is_err());
}

fn rule(walk: bool) -> RowFilter {
    RowFilter::Rule(Rule {
        owner: Some("0190a000-0000-7000-8000-000000000002".into()),
        below: Some(Below {
            hierarchy: 0,
            lo: vec![0, 0, 0, 1],
            hi: vec![0, 0, 0, 2],
            members: None,
        }),
        grantees: vec![7, 1 << 30],
        action_bit: 1,
        walk,
    })
}

#[test]
fn the_row_rule_is_part_of_the_statement_in_both_shapes() {
    let t = sale();
    let r = parse_list(&t, &params(&[("region", "North")])).unwrap();
    let walk = compile_list(&SQLITE, &t, &r, &rule(true));
    assert!(walk.sql.contains("t.\"rep\" = $"), "{}", walk.sql);
    assert!(
        walk.sql.contains("\"platform\".\"authz_node_paths\""),
        "{}",
        walk.sql
    );
    assert!(
        walk.sql
            .contains("\"_grants_sale\" g WHERE g.\"record_id\" = t.\"id\""),
        "{}",
        walk.sql
    );
    // The walk tests an owner below by their number, looked up by id only without one.
    assert!(
        walk.sql
            .contains("n.\"node_num\" = COALESCE(t.\"_owner_num\", (SELECT u.\"num\""),
        "{}",
        walk.sql
    );
    let collect = compile_list(&SQLITE, &t, &r, &rule(false));
    // Own rows, rows below by owner number, rows below whose owner had no number, and one
    // part per grantee principal (two).
    assert_eq!(
        collect.sql.matches("UNION ALL").count(),
        4,
        "{}",
        collect.sql
    );
    assert!(
        collect.sql.contains("t.\"_owner_num\" = n.\"node_num\"")
            && collect.sql.contains("t.\"_owner_num\" IS NULL"),
        "{}",
        collect.sql
    );
    // Every part keeps the request's filter.
    assert_eq!(
        collect.sql.matches("t.\"region\" = $1").count(),
        5,
        "{}",
        collect.sql
    );
    // A walk given the reader's member set tests a row's owner number by one byte of it,
    // and searches the hierarchy only for a row without a number.
    let with_set = |members: Vec<u8>| {
        RowFilter::Rule(Rule {
            owner: Some("0190a000-0000-7000-8000-000000000002".into()),
            below: Some(Below {
                hierarchy: 0,
                lo: vec![0, 0, 0, 1],
                hi: vec![0, 0, 0, 2],
                members: Some(std::sync::Arc::new(MemberSet::new(members))),
            }),
            grantees: vec![],
            action_bit: 1,
            walk: true,
        })
    };
    let set = compile_list(&SQLITE, &t, &r, &with_set(vec![0, 1, 0, 1]));
    assert!(
        set.sql
            .contains("CASE WHEN t.\"_owner_num\" IS NULL THEN (t.\"rep\" = $")
            && set.sql.contains("substr($")
            && set.sql.contains(", t.\"_owner_num\" + 1, 1) = X'01'"),
        "{}",
        set.sql
    );
    assert!(set.binds.contains(&Bind::Bytes(vec![0, 1, 0, 1])));
    let on_pg = compile_list(
        &Target {
            dialect: Dialect::Postgres,
            schema: Some("app_3".into()),
        },
        &t,
        &r,
        &with_set(vec![1]),
    );
    // PostgreSQL reads bits: eight people a byte, the first in the lowest bit.
    assert!(on_pg.sql.contains("get_bit($"), "{}", on_pg.sql);
    let on_pg = compile_list(
        &Target {
            dialect: Dialect::Postgres,
            schema: Some("app_3".into()),
        },
        &t,
        &r,
        &with_set(vec![0, 1, 0, 1, 0, 0, 0, 0, 1]),
    );
    assert!(on_pg.binds.contains(&Bind::Bytes(vec![0b1010, 1])));
    // A table laid out before owner numbers: owners looked up by id, in both shapes.
    let older = Table {
        has_owner_num: false,
        ..t.clone()
    };
    let collect = compile_list(&SQLITE, &older, &r, &rule(false));
    assert!(!collect.sql.contains("_owner_num"), "{}", collect.sql);
    assert_eq!(collect.sql.matches("UNION ALL").count(), 3);
    assert!(
        collect
            .sql
            .contains("JOIN \"sale\" t ON t.\"rep\" = u.\"user_id\""),
        "{}",
        collect.sql
    );
    let walk = compile_list(&SQLITE, &older, &r, &rule(true));
    assert!(
        !walk.sql.contains("_owner_num") && walk.sql.contains("n.\"node_num\" = (SELECT u.\"num\""),
        "{}",
        walk.sql
    );
    // A reader with nobody below and no grants: their own rows straight from the owner
    // index, without the platform's tables.
    let leaf = RowFilter::Rule(Rule {
        owner: Some("0190a000-0000-7000-8000-000000000002".into()),
        below: None,
        grantees: vec![],
        action_bit: 1,
        walk: false,
    });
    let own = compile_list(&SQLITE, &t, &r, &leaf);
    assert_eq!(
        own.sql,
        format!(
            "SELECT {} FROM \"sale\" t WHERE t.\"rep\" = $2 AND t.\"region\" = $1 ORDER BY t.\"id\" LIMIT $3",
            rampart_apps::list::select_list(Dialect::Sqlite, &t, "t")
        )
    );
    let pg = Target {
        dialect: Dialect::Postgres,
        schema: Some("app_3".into()),
    };
    let on_pg = compile_list(&pg, &t, &r, &rule(false));
    assert!(
        on_pg.sql.contains("\"public\".\"authz_users\"")
            && on_pg.sql.contains("\"app_3\".\"sale\"")
    );
    // No rule: the table alone.
    let all = compile_list(&SQLITE, &t, &r, &RowFilter::All);
    assert!(!all.sql.contains("authz") && !all.sql.contains("_grants_"));
    // A rule with nothing to go by lets nothing through.
    let nothing = RowFilter::Rule(Rule {
        owner: None,
        below: None,
        grantees: vec![],
        action_bit: 1,
        walk: true,
    });
    assert!(compile_get(&SQLITE, &t, "x", &nothing)
        .sql
        .contains("1 = 0"));
}

/// Only statements whose best plan cannot depend on their values may keep a generic plan:
/// a get by id, a walk in id order, a reader's own rows; not the collect shape (its path
/// bounds) and not a list filtered or sorted by an attribute (their selectivity).
#[test]
fn only_value_independent_statements_are_planned_once() {
    let t = sale();
    let plain = parse_list(&t, &[]).unwrap();
    let filtered = parse_list(&t, &params(&[("region", "North")])).unwrap();
    let sorted = parse_list(&t, &params(&[("sort", "-amount")])).unwrap();
    let leaf = RowFilter::Rule(Rule {
        owner: Some("0190a000-0000-7000-8000-000000000002".into()),
        below: None,
        grantees: vec![],
        action_bit: 1,
        walk: false,
    });
    let cases = [
        ("no rule", &plain, RowFilter::All, true),
        ("no rule, filtered", &filtered, RowFilter::All, false),
        ("no rule, sorted", &sorted, RowFilter::All, false),
        ("walk", &plain, rule(true), true),
        ("walk, filtered", &filtered, rule(true), false),
        ("walk, sorted", &sorted, rule(true), false),
        ("own rows", &plain, leaf.clone(), true),
        ("own rows, filtered", &filtered, leaf.clone(), false),
        ("collect", &plain, rule(false), false),
    ];
    for (name, request, rows, once) in cases {
        assert_eq!(
            compile_list(&SQLITE, &t, request, &rows).plan_once,
            once,
            "{name}"
        );
    }
    for rows in [RowFilter::All, rule(true), rule(false), leaf] {
        assert!(compile_get(&SQLITE, &t, "x", &rows).plan_once);
    }
}
