//! Advanced SQL queries: which statements run and which are refused (with the reason), what
//! the statement that runs looks like, and that no inline value makes it anything but one
//! SELECT over the reader's view of the allowed tables.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::ops::ControlFlow;

use proptest::prelude::*;
use rampart_apps::advanced::{compile, render, Cell, ReaderRule, Refused, Statement};
use rampart_apps::ddl::Target;
use rampart_apps::list::Bind;
use rampart_apps::schema::{layouts, Dialect, Table};
use rampart_model::format::{AttributeType, Query};
use serde_json::json;
use sqlparser::ast::{visit_relations, Visit, Visitor};

const MODULE: &str = "
module: sales
application: shop
entities:
  - name: Customer
    database: crm
    attributes:
      - {name: name, type: text, required: true}
      - {name: vat, type: text, unique: true, sensitive: true}
      - {name: active, type: boolean}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep, hierarchy: reports-to, grants: true}
  - name: Sale
    database: crm
    attributes:
      - {name: customer, type: reference, entity: Customer}
      - {name: amount, type: decimal}
      - {name: closed_on, type: date}
  - name: Secret
    database: vault
    attributes: [{name: code, type: text}]
queries:
  - name: Q
    entity: Sale
    parameters:
      - {name: since, type: date, required: false}
      - {name: n, type: integer, required: false}
      - {name: min, type: decimal, required: false}
      - {name: sort, type: text, inline: true, required: false}
    sql: SELECT 1
";

/// The tables of database `crm` as the running model serves them.
fn tables() -> Vec<Table> {
    let m = rampart_model::parse("m.yaml", MODULE).unwrap();
    layouts(&[&m]).unwrap().remove("crm").unwrap().tables
}

fn query(sql: &str) -> Query {
    let m = rampart_model::parse("m.yaml", MODULE).unwrap();
    Query {
        sql: Some(sql.to_owned()),
        ..m.queries[0].clone()
    }
}

fn target(d: Dialect) -> Target {
    Target {
        dialect: d,
        schema: (d == Dialect::Postgres).then(|| "app_7".to_owned()),
    }
}

fn rule(_: &Table) -> ReaderRule {
    ReaderRule {
        owner: Some("0190a000-0000-7000-8000-000000000001".into()),
        below: vec!["0190a000-0000-7000-8000-000000000002".into()],
        grantees: vec![11, 12],
        action_bit: 1,
    }
}

fn run(d: Dialect, sql: &str, params: &[(&str, &str)]) -> Result<Statement, Refused> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    compile(&target(d), &query(sql), &tables(), &mut rule, &params)
}

fn reasons(r: &Refused) -> String {
    match r {
        Refused::Model(p) => format!("model: {}", p.join("; ")),
        Refused::Input(e) => format!(
            "input: {}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

#[test]
fn statements_that_read_run_and_every_other_is_refused_with_its_reason() {
    let accepted = [
        "SELECT id, name FROM customer",
        "SELECT c.name, sum(s.amount) AS total FROM customer c JOIN sale s ON s.customer = c.id \
         WHERE s.closed_on >= :since GROUP BY c.name HAVING count(*) > :n ORDER BY total DESC",
        "WITH big AS (SELECT * FROM sale WHERE amount > :min) SELECT count(*) FROM big",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r",
        "SELECT name FROM customer WHERE id IN (SELECT customer FROM sale) UNION SELECT 'x'",
        "SELECT name, row_number() OVER (ORDER BY name) FROM customer WHERE name LIKE 'A%'",
        "SELECT CASE WHEN active THEN 'yes' ELSE 'no' END, coalesce(name, '') FROM customer;",
        "SELECT * FROM customer c LEFT JOIN sale s ON s.customer = c.id WHERE EXISTS (SELECT 1 FROM sale)",
        "SELECT CAST(amount AS INTEGER), lower(name) FROM sale, customer ORDER BY :sort",
        "SELECT \"name\" AS \"a\"\"b\" FROM \"Customer\"",
    ];
    for sql in accepted {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let r = run(d, sql, &[("sort", "1")]);
            assert!(r.is_ok(), "{d:?}: {sql}: {}", reasons(&r.unwrap_err()));
        }
    }
    let refused: &[(&str, &str)] = &[
        ("UPDATE customer SET name = 'x'", "a UPDATE statement"),
        ("DELETE FROM sale", "a DELETE statement"),
        ("INSERT INTO sale (amount) VALUES (1)", "a INSERT statement"),
        ("PRAGMA query_only = 0", "a PRAGMA statement"),
        ("PRAGMA query_only = OFF", "does not read"),
        ("ATTACH DATABASE 'x.db' AS x", "a ATTACH statement"),
        ("SET ROLE postgres", "a SET statement"),
        ("COPY sale TO '/tmp/x'", "a COPY statement"),
        ("DROP TABLE sale", "a DROP statement"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("SELECT 1; DROP TABLE sale", "2 statements"),
        ("SELECT * FROM users", "table `users` is not an entity"),
        (
            "SELECT * FROM sessions",
            "table `sessions` is not an entity",
        ),
        ("SELECT * FROM secret", "table `secret` is not an entity"),
        ("SELECT * FROM platform.users", "without a schema"),
        ("SELECT * FROM public.users", "without a schema"),
        ("SELECT * FROM app_7.customer", "without a schema"),
        (
            "SELECT * FROM sqlite_master",
            "table `sqlite_master` is not an entity",
        ),
        ("SELECT * FROM pg_catalog.pg_authid", "without a schema"),
        (
            "SELECT * FROM pragma_table_info('users')",
            "a table is read as it is",
        ),
        (
            "SELECT * FROM generate_series(1, 3)",
            "a table is read as it is",
        ),
        ("SELECT vat FROM customer", "`vat` is a sensitive attribute"),
        (
            "SELECT c.vat FROM customer c",
            "`vat` is a sensitive attribute",
        ),
        ("SELECT _bi_vat FROM customer", "names beginning with `_`"),
        ("SELECT * FROM _grants_customer", "names beginning with `_`"),
        ("SELECT * FROM _rampart_layout", "names beginning with `_`"),
        (
            "SELECT load_extension('x')",
            "function `load_extension` is not allowed",
        ),
        (
            "SELECT pg_read_file('/etc/passwd')",
            "function `pg_read_file` is not allowed",
        ),
        (
            "SELECT pg_ls_dir('.')",
            "function `pg_ls_dir` is not allowed",
        ),
        (
            "SELECT lo_import('/etc/passwd')",
            "function `lo_import` is not allowed",
        ),
        (
            "SELECT dblink('x', 'y')",
            "function `dblink` is not allowed",
        ),
        (
            "SELECT current_setting('x')",
            "function `current_setting` is not allowed",
        ),
        (
            "SELECT set_config('x', 'y', false)",
            "function `set_config` is not allowed",
        ),
        ("SELECT pg_sleep(10)", "function `pg_sleep` is not allowed"),
        (
            "SELECT readfile('/etc/passwd')",
            "function `readfile` is not allowed",
        ),
        ("SELECT nextval('s')", "function `nextval` is not allowed"),
        ("SELECT pg_catalog.lower('x')", "without a schema"),
        (
            "SELECT name FROM customer FOR UPDATE",
            "not allowed (FOR UPDATE",
        ),
        (
            "SELECT name INTO copy FROM customer",
            "`SELECT … INTO` writes a table",
        ),
        (
            "SELECT name FROM customer LIMIT 5",
            "the page is the query's `limit`",
        ),
        (
            "SELECT name FROM customer OFFSET 5",
            "the page is the query's `limit`",
        ),
        (
            "SELECT CAST('users' AS regclass)",
            "CAST to `REGCLASS` is not allowed",
        ),
        ("SELECT 'users'::regclass", "CAST(value AS type)"),
        ("SELECT name::text FROM customer", "CAST(value AS type)"),
        ("SELECT `name` FROM customer", "quoted with double quotes"),
        ("SELECT session_user", "not allowed"),
        ("SELECT user FROM customer", "not allowed"),
        ("SELECT current_user", "not allowed"),
        (
            "SELECT [name] FROM customer",
            "of a kind advanced SQL does not allow",
        ),
        (
            "SELECT $1$x$1$ FROM customer",
            "of a form advanced SQL does not allow",
        ),
        (
            "SELECT E'\\x' FROM customer",
            "of a form advanced SQL does not allow",
        ),
        (
            "SELECT name FROM customer WHERE id = $1",
            "parameters are written `:name`",
        ),
        (
            "SELECT name FROM customer WHERE id = ?",
            "parameters are written `:name`",
        ),
        (
            "SELECT name FROM customer WHERE id = :nope",
            "`:nope` is not among the query's parameters",
        ),
        (
            "SELECT name FROM customer WHERE id IN sale",
            "IN takes a list of values or a subquery",
        ),
        (
            "SELECT name FROM customer WHERE name ~ 'a'",
            "operator `~` is not allowed",
        ),
        (
            "SELECT data->>'x' FROM customer",
            "operator `->>` is not allowed",
        ),
        (
            "SELECT * FROM customer CROSS APPLY sale",
            "only INNER, LEFT, RIGHT, FULL and CROSS",
        ),
        ("TABLE customer", "does not read"),
        (
            "WITH x AS (DELETE FROM sale RETURNING *) SELECT * FROM x",
            "only reads",
        ),
        ("SELECT 1 /* unterminated", "does not read"),
    ];
    for (sql, why) in refused {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            match run(d, sql, &[]) {
                Ok(s) => panic!("{d:?}: {sql}: accepted as {}", s.compiled.sql),
                Err(r) => assert!(reasons(&r).contains(why), "{d:?}: {sql}: {}", reasons(&r)),
            }
        }
    }
}

#[test]
fn each_table_becomes_the_readers_view_behind_a_fence() {
    let sql = "SELECT c.name, s.amount FROM customer c JOIN sale s ON s.customer = c.id \
               WHERE s.closed_on >= :since ORDER BY c.name";
    let s = run(Dialect::Sqlite, sql, &[("since", "2026-01-01")]).unwrap();
    assert_eq!(
        s.compiled.sql,
        "SELECT c.name, s.amount FROM (SELECT t.\"id\" AS \"id\", t.\"name\" AS \"name\", \
         t.\"active\" AS \"active\", t.\"rep\" AS \"rep\" FROM \"customer\" AS t WHERE \
         (t.\"rep\" = $1 OR t.\"rep\" IN (SELECT \"value\" FROM json_each($2)) OR EXISTS \
         (SELECT 1 FROM \"_grants_customer\" AS g WHERE g.\"record_id\" = t.\"id\" AND \
         g.\"principal\" IN ($3, $4) AND (g.\"actions\" & $5) = $5)) LIMIT -1 OFFSET 0) AS c \
         JOIN (SELECT t.\"id\" AS \"id\", t.\"customer\" AS \"customer\", CAST(t.\"amount\" AS \
         NUMERIC) AS \"amount\", t.\"closed_on\" AS \"closed_on\" FROM \"sale\" AS t LIMIT -1 \
         OFFSET 0) AS s ON s.customer = c.id WHERE s.closed_on >= CAST($6 AS TEXT) ORDER BY \
         c.name LIMIT $7 OFFSET $8"
    );
    assert_eq!(
        s.compiled.binds,
        [
            Bind::Text("0190a000-0000-7000-8000-000000000001".into()),
            Bind::Text("[\"0190a000-0000-7000-8000-000000000002\"]".into()),
            Bind::Int(11),
            Bind::Int(12),
            Bind::Int(1),
            Bind::Text("2026-01-01".into()),
            Bind::Int(51),
            Bind::Int(0),
        ]
    );
    assert_eq!(
        s.hints,
        [Some(AttributeType::Text), Some(AttributeType::Decimal)]
    );
    // PostgreSQL: the application's schema, the list as JSON, the fence `OFFSET 0`.
    let s = run(Dialect::Postgres, "SELECT * FROM customer", &[]).unwrap();
    assert_eq!(
        s.compiled.sql,
        "SELECT * FROM (SELECT t.\"id\" AS \"id\", t.\"name\" AS \"name\", t.\"active\" AS \
         \"active\", t.\"rep\" AS \"rep\" FROM \"app_7\".\"customer\" AS t WHERE (t.\"rep\" = $1 \
         OR t.\"rep\" IN (SELECT jsonb_array_elements_text(CAST($2 AS JSONB))) OR EXISTS \
         (SELECT 1 FROM \"app_7\".\"_grants_customer\" AS g WHERE g.\"record_id\" = t.\"id\" AND \
         g.\"principal\" IN ($3, $4) AND (g.\"actions\" & $5) = $5)) OFFSET 0) AS customer \
         LIMIT $6 OFFSET $7"
    );
    assert_eq!(
        s.hints,
        [
            Some(AttributeType::Reference),
            Some(AttributeType::Text),
            Some(AttributeType::Boolean),
            Some(AttributeType::Reference)
        ]
    );
}

#[test]
fn with_tables_are_renamed_and_a_reader_with_no_rule_sees_nothing() {
    let sql = "WITH sale AS (SELECT 1 AS amount) SELECT amount FROM sale";
    let quoted = run(
        Dialect::Sqlite,
        "SELECT name AS \"a\"\"b\" FROM customer",
        &[],
    )
    .unwrap();
    assert!(
        quoted
            .compiled
            .sql
            .starts_with("SELECT name AS \"a\"\"b\" FROM"),
        "{}",
        quoted.compiled.sql
    );
    let s = run(Dialect::Sqlite, sql, &[]).unwrap();
    // The WITH table shadows the entity, under a name no real table has.
    assert_eq!(
        s.compiled.sql,
        "WITH _rq_cte_1 AS (SELECT 1 AS amount) SELECT amount FROM _rq_cte_1 AS sale LIMIT $1 OFFSET $2"
    );
    let q = query("SELECT name FROM customer");
    let s = compile(
        &target(Dialect::Sqlite),
        &q,
        &tables(),
        &mut |_| ReaderRule::default(),
        &[],
    )
    .unwrap();
    assert!(
        s.compiled.sql.contains("WHERE (1 = 0)"),
        "{}",
        s.compiled.sql
    );
}

#[test]
fn parameters_are_typed_bound_and_paged() {
    let p = |pairs: &[(&str, &str)]| {
        run(
            Dialect::Postgres,
            "SELECT 1 FROM sale WHERE amount > :min AND :n > 0",
            pairs,
        )
    };
    let s = p(&[("min", "10.50"), ("n", "3"), ("limit", "20")]).unwrap();
    assert!(
        s.compiled.sql.contains("CAST($1 AS NUMERIC)"),
        "{}",
        s.compiled.sql
    );
    assert!(
        s.compiled.sql.contains("CAST($2 AS BIGINT)"),
        "{}",
        s.compiled.sql
    );
    assert_eq!(
        &s.compiled.binds[..2],
        &[Bind::Text("10.5".into()), Bind::Int(3)]
    );
    assert_eq!((s.limit, s.offset), (20, 0));
    let next = rampart_apps::advanced::encode_offset(40);
    let s = p(&[("cursor", &next)]).unwrap();
    assert_eq!(s.offset, 40);
    assert_eq!(
        s.compiled.binds[0],
        Bind::Null,
        "an optional parameter left out is null"
    );
    for (pairs, field) in [
        (&[("n", "three")][..], "`n`"),
        (&[("min", "1e999x")][..], "`min`"),
        (&[("limit", "501")][..], "`limit`"),
        (&[("cursor", "zz")][..], "`cursor`"),
        (&[("other", "1")][..], "`other`: is not a parameter"),
    ] {
        let r = p(pairs).unwrap_err();
        assert!(matches!(r, Refused::Input(_)), "{pairs:?}");
        assert!(reasons(&r).contains(field), "{pairs:?}: {}", reasons(&r));
    }
}

#[test]
fn an_inline_value_is_written_in_and_the_statement_checked_again() {
    let sql = "SELECT name FROM customer ORDER BY :sort";
    let s = run(Dialect::Sqlite, sql, &[("sort", "name DESC")]).unwrap();
    assert!(
        s.compiled.sql.contains("ORDER BY name DESC LIMIT"),
        "{}",
        s.compiled.sql
    );
    let sql = "SELECT name FROM customer WHERE name <> :sort ORDER BY name";
    for (value, why) in [
        ("'x'; DROP TABLE customer; --", "2 statements"),
        (
            "'x' UNION SELECT password_hash FROM users",
            "table `users` is not an entity",
        ),
        (
            "'x' UNION SELECT token FROM sessions",
            "table `sessions` is not an entity",
        ),
        (
            "'x' UNION SELECT code FROM secret",
            "table `secret` is not an entity",
        ),
        (
            "'x' UNION SELECT name FROM platform.users",
            "without a schema",
        ),
        (
            "(SELECT vat FROM customer)",
            "`vat` is a sensitive attribute",
        ),
        (
            "'x' OR pg_sleep(5) IS NULL",
            "function `pg_sleep` is not allowed",
        ),
        ("'x' /* the rest", "does not read"),
    ] {
        let r = run(Dialect::Sqlite, sql, &[("sort", value)]).unwrap_err();
        assert!(matches!(r, Refused::Input(_)), "{value}: {}", reasons(&r));
        assert!(reasons(&r).contains(why), "{value}: {}", reasons(&r));
        assert!(reasons(&r).starts_with("input: `sort`"), "{}", reasons(&r));
    }
    // The model's own text refused is the model's fault, whatever the value.
    let r = run(
        Dialect::Sqlite,
        "DELETE FROM sale WHERE 1 = :sort",
        &[("sort", "1")],
    )
    .unwrap_err();
    assert!(matches!(r, Refused::Model(_)), "{}", reasons(&r));
}

#[test]
fn an_inline_parameter_with_choices_takes_only_those() {
    let mut q = query("SELECT name FROM customer ORDER BY :sort");
    if let Some(p) = q.parameters.iter_mut().find(|p| p.name == "sort") {
        p.choices = vec!["name".into(), "name DESC".into()];
    }
    let params = |v: &str| vec![("sort".to_owned(), v.to_owned())];
    let ok = compile(
        &target(Dialect::Sqlite),
        &q,
        &tables(),
        &mut rule,
        &params("name DESC"),
    )
    .unwrap();
    assert!(
        ok.compiled.sql.contains("ORDER BY name DESC LIMIT"),
        "{}",
        ok.compiled.sql
    );
    for value in ["name; DROP TABLE sale", "active", "NAME"] {
        let r = compile(
            &target(Dialect::Sqlite),
            &q,
            &tables(),
            &mut rule,
            &params(value),
        )
        .unwrap_err();
        assert!(matches!(r, Refused::Input(_)), "{value}: {}", reasons(&r));
        assert!(
            reasons(&r).contains("must be one of `name`, `name DESC`"),
            "{value}: {}",
            reasons(&r)
        );
    }
}

#[test]
fn cells_show_as_the_attribute_they_read() {
    assert_eq!(
        render(&Cell::Integer(1), Some(AttributeType::Boolean)),
        json!(true)
    );
    assert_eq!(
        render(&Cell::Integer(5), Some(AttributeType::Boolean)),
        json!(5)
    );
    assert_eq!(render(&Cell::Integer(5), None), json!(5));
    assert_eq!(
        render(&Cell::Real(10.5), Some(AttributeType::Decimal)),
        json!("10.5")
    );
    assert_eq!(render(&Cell::Real(0.25), None), json!(0.25));
    assert_eq!(
        render(&Cell::Real(10.1 + 20.2), Some(AttributeType::Decimal)),
        json!("30.3")
    );
    assert_eq!(
        render(&Cell::Real(30.0), Some(AttributeType::Integer)),
        json!(30)
    );
    assert_eq!(
        render(&Cell::Decimal("30".into()), Some(AttributeType::Integer)),
        json!(30)
    );
    assert_eq!(render(&Cell::Decimal("10.50".into()), None), json!("10.5"));
    assert_eq!(
        render(&Cell::Text("2026-01-01".into()), Some(AttributeType::Date)),
        json!("2026-01-01")
    );
    assert_eq!(render(&Cell::Boolean(false), None), json!(false));
    assert_eq!(
        render(&Cell::Null, Some(AttributeType::Integer)),
        json!(null)
    );
    assert_eq!(render(&Cell::Bytes(vec![0, 255]), None), json!("AP8="));
}

/// The relations and functions a rendered statement names.
fn names(sql: &str) -> (Vec<String>, Vec<String>) {
    struct Names(Vec<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &sqlparser::ast::Expr) -> ControlFlow<()> {
            if let sqlparser::ast::Expr::Function(f) = e {
                self.0.push(f.name.to_string().to_ascii_lowercase());
            }
            ControlFlow::Continue(())
        }
    }
    let statements =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql).unwrap();
    assert_eq!(statements.len(), 1, "{sql}");
    assert!(
        matches!(statements[0], sqlparser::ast::Statement::Query(_)),
        "{sql}"
    );
    let mut relations = Vec::new();
    let _ = visit_relations(&statements, |r| {
        relations.push(r.to_string());
        ControlFlow::<()>::Continue(())
    });
    let mut functions = Names(Vec::new());
    let _ = statements.visit(&mut functions);
    (relations, functions.0)
}

/// The column names a rendered statement uses.
fn idents(sql: &str) -> Vec<String> {
    struct Idents(Vec<String>);
    impl Visitor for Idents {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &sqlparser::ast::Expr) -> ControlFlow<()> {
            match e {
                sqlparser::ast::Expr::Identifier(i) => self.0.push(i.value.to_ascii_lowercase()),
                // `alias.column`: the column is the last part (a qualifier such as `vat`
                // in `vat.name` names a table or alias, which the reader's view decides).
                sqlparser::ast::Expr::CompoundIdentifier(p) => self
                    .0
                    .extend(p.last().map(|i| i.value.to_ascii_lowercase())),
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let statements =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql).unwrap();
    let mut v = Idents(Vec::new());
    let _ = statements.visit(&mut v);
    v.0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    /// Whatever an inline parameter holds, what runs (if anything) is one SELECT naming only
    /// the allowed tables (each inside the reader's view), renamed WITH tables and the
    /// rule's own list function; never a sensitive column.
    #[test]
    fn no_inline_value_makes_the_statement_anything_else(
        parts in prop::collection::vec(
            prop_oneof![
                Just("; DROP TABLE customer".to_owned()),
                Just(" UNION SELECT * FROM users".to_owned()),
                Just(" UNION SELECT token_hash FROM sessions".to_owned()),
                Just("platform.users".to_owned()),
                Just("\"public\".\"users\"".to_owned()),
                Just("pragma_table_info('users')".to_owned()),
                Just("secret".to_owned()),
                Just("vat".to_owned()),
                Just("_bi_vat".to_owned()),
                Just("load_extension('x')".to_owned()),
                Just("WITH users AS (SELECT 1) ".to_owned()),
                Just("(SELECT * FROM customer)".to_owned()),
                Just("name".to_owned()),
                Just(" FROM ".to_owned()),
                Just(" SELECT ".to_owned()),
                Just(", ".to_owned()),
                Just("(".to_owned()),
                Just(")".to_owned()),
                Just("'".to_owned()),
                Just("\"".to_owned()),
                Just("--".to_owned()),
                Just("/*".to_owned()),
                Just("*/".to_owned()),
                Just(";".to_owned()),
                Just(":since".to_owned()),
                Just("$1".to_owned()),
                "[a-z_]{1,8}",
                "[ -~]{0,6}",
            ],
            0..8,
        ).prop_map(|v| v.concat()),
        dialect in prop_oneof![Just(Dialect::Sqlite), Just(Dialect::Postgres)],
    ) {
        let sql = "SELECT name FROM customer c WHERE c.name = :sort ORDER BY :sort";
        if let Ok(s) = run(dialect, sql, &[("sort", &parts)]) {
            let (relations, functions) = names(&s.compiled.sql);
            for r in &relations {
                let allowed = ["\"customer\"", "\"sale\"", "\"_grants_customer\"", "json_each",
                    "\"app_7\".\"customer\"", "\"app_7\".\"sale\"", "\"app_7\".\"_grants_customer\""];
                prop_assert!(allowed.contains(&r.as_str()) || r.starts_with("_rq_cte_"), "{r} in {}", s.compiled.sql);
            }
            for f in &functions {
                prop_assert!(
                    rampart_model::sql::FUNCTIONS.contains(&f.as_str())
                        || ["json_each", "jsonb_array_elements_text"].contains(&f.as_str()),
                    "{f} in {}", s.compiled.sql
                );
            }
            prop_assert!(!idents(&s.compiled.sql).iter().any(|i| i == "vat" || i.starts_with("_bi")), "{}", s.compiled.sql);
            // Every base table is read inside the reader's view.
            let views = s.compiled.sql.matches(" AS t").count();
            let bases = relations.iter().filter(|r| !r.starts_with("_rq_cte_") && !r.contains("grants") && *r != "json_each").count();
            prop_assert_eq!(views, bases, "{}", s.compiled.sql);
        }
    }
}

/// The longest chain of operators the token bound lets through is checked, rendered and
/// dropped on a 1 MiB stack (tokio's workers have 2 MiB): walking a statement cannot
/// exhaust the stack of the server's threads.
#[test]
fn the_deepest_statement_allowed_fits_a_small_stack() {
    let n = (rampart_model::sql::MAX_TOKENS - 8) / 2;
    let chain = vec!["1"; n].join("+");
    let and_chain = vec!["1 = 1"; (rampart_model::sql::MAX_TOKENS - 12) / 4].join(" AND ");
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            for sql in [
                format!("SELECT {chain} FROM sale"),
                format!("SELECT 1 FROM sale WHERE {and_chain}"),
            ] {
                let s = run(Dialect::Sqlite, &sql, &[]).unwrap();
                assert!(s.compiled.sql.len() > n);
            }
            let too_long = format!("SELECT {chain}+1+1+1+1+1+1 FROM sale");
            assert!(reasons(&run(Dialect::Sqlite, &too_long, &[]).unwrap_err()).contains("tokens"));
        })
        .unwrap()
        .join()
        .unwrap();
}
