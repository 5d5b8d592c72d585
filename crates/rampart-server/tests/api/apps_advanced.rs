//! Advanced SQL queries end to end, on SQLite and PostgreSQL: the row rule holds inside the
//! statement (a rep sees their rows, a director more, the same as the data API's lists),
//! sensitive attributes are out of reach, bound parameters are values, inline values that
//! would make anything but a read of the module's own tables are refused and change nothing,
//! a statement that writes is refused at publish, and a statement that never ends is stopped.

use rampart_core::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::apps_sensitive::with_master_key;
use crate::kit::{on_both, problem_type, Node, USER_PASSWORD};

const CRM: &str = "
module: crm
application: shop
roles: [{name: Rep}, {name: Director}]
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
      - {name: customer, type: reference, entity: Customer, required: true}
      - {name: amount, type: decimal, required: true}
      - {name: seller, type: reference, entity: User, required: true}
    acl: {owner: seller, hierarchy: reports-to}
  - name: Vault
    database: other
    attributes: [{name: code, type: text}]
queries:
  - name: Mine
    entity: Customer
    sql: SELECT * FROM customer ORDER BY name
  - name: Revenue
    entity: Customer
    parameters: [{name: min, type: decimal}]
    sql: |
      SELECT c.name, sum(s.amount) AS total, count(*) AS n, c.active
      FROM customer c JOIN sale s ON s.customer = c.id
      WHERE s.amount >= :min
      GROUP BY c.name, c.active
      ORDER BY c.name
  - name: Named
    entity: Customer
    parameters: [{name: name, type: text}]
    sql: SELECT id, name FROM customer WHERE name = :name
  - name: Other
    entity: Customer
    parameters: [{name: other, type: text, inline: true}]
    sql: SELECT id, name FROM customer WHERE name <> :other ORDER BY name
  - name: Sorted
    entity: Customer
    parameters: [{name: sort, type: text, inline: true}]
    sql: SELECT id, name FROM customer ORDER BY :sort
  - name: Oracle
    entity: Customer
    sql: |
      SELECT id FROM customer
      WHERE CASE WHEN name = 'Hidden' THEN abs(length(name) - 9223372036854775807 - 7) ELSE 0 END = 0
  - name: Forever
    entity: Customer
    sql: WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r
screens:
  - {name: Customers, kind: list, entity: Customer, roles: [Rep, Director], widgets: [{kind: table, columns: [record.name]}]}
  - {name: EditCustomer, kind: form, entity: Customer, roles: [Rep, Director], widgets: [{kind: field, value: name}]}
  - {name: EditSale, kind: form, entity: Sale, roles: [Rep, Director], widgets: [{kind: field, value: amount}]}
  - {name: Vaults, kind: form, entity: Vault, roles: [Rep, Director], widgets: [{kind: field, value: code}]}
";

const Q: &str = "/apps/development/shop/api/crm/queries";
const CUSTOMERS: &str = "/apps/development/shop/api/crm/Customer";

/// A director above two reps; tokens in that order.
async fn setup(node: &Node) -> (String, Vec<String>, Vec<String>) {
    let admin = node.admin().await;
    let mut ids = Vec::new();
    for n in ["director", "rep1", "rep2"] {
        ids.push(
            node.create_user(Provider::End, n, USER_PASSWORD, false)
                .await,
        );
    }
    let ops = json!([
        { "op": "create_application", "name": "shop" },
        { "op": "create_role", "application": "shop", "name": "Rep" },
        { "op": "create_role", "application": "shop", "name": "Director" },
        { "op": "create_hierarchy", "name": "reports-to", "kind": "reports_to" },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[1], "parent": ids[0] },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[2], "parent": ids[0] },
        { "op": "grant_role", "application": "shop", "role": "Director", "principal": { "type": "user", "id": ids[0] } },
        { "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": ids[1] } },
        { "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": ids[2] } },
    ]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = publish(node, &admin, CRM).await;
    assert!(status.is_success(), "{}: {body}", node.name());
    let (status, body) = node
        .post(
            "/api/v1/environments/development/deployments",
            &admin,
            json!({ "modules": [{ "module": "crm", "version": 1 }] }),
        )
        .await;
    assert!(status.is_success(), "{}: {body}", node.name());
    let mut tokens = Vec::new();
    for n in ["director", "rep1", "rep2"] {
        tokens.push(node.login("end", n, USER_PASSWORD).await);
    }
    (admin, ids, tokens)
}

async fn publish(node: &Node, admin: &str, source: &str) -> (StatusCode, Value) {
    node.post(
        "/api/v1/modules/crm/versions",
        admin,
        json!({ "source": source, "message": "test" }),
    )
    .await
}

/// A customer owned by the caller, with a sale of `amount` by them.
async fn customer(node: &Node, token: &str, name: &str, amount: &str) -> String {
    let (status, c) = node
        .post(
            CUSTOMERS,
            token,
            json!({ "name": name, "vat": format!("VAT-{name}"), "active": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {c}", node.name());
    let id = c["id"].as_str().unwrap().to_owned();
    let (status, s) = node
        .post(
            "/apps/development/shop/api/crm/Sale",
            token,
            json!({ "customer": id, "amount": amount }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {s}", node.name());
    id
}

/// Every byte but letters and digits percent-encoded.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn rows(page: &Value) -> Vec<Value> {
    page["rows"].as_array().cloned().unwrap_or_default()
}

fn sorted_ids(list: &[Value], key: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advanced_query_shows_each_reader_what_the_row_rule_allows() {
    on_both(with_master_key, |node| async move {
        let name = node.name();
        let (_, ids, t) = setup(&node).await;
        let a = customer(&node, &t[1], "Acme", "10.50").await;
        let b = customer(&node, &t[1], "Bolt", "20.25").await;
        let c = customer(&node, &t[2], "Hidden", "5").await;
        // Each reader: the same rows as the data API's list, with typed values and no
        // sensitive attribute.
        for (reader, want) in [(1, vec![&a, &b]), (2, vec![&c]), (0, vec![&a, &b, &c])] {
            let (status, page) = node.get(&format!("{Q}/Mine"), &t[reader]).await;
            assert_eq!(status, StatusCode::OK, "{name}: {page}");
            assert!(page["items"].as_array().unwrap().is_empty(), "{name}");
            let got = rows(&page);
            let mut want: Vec<String> = want.into_iter().cloned().collect();
            want.sort();
            assert_eq!(sorted_ids(&got, "id"), want, "{name}: reader {reader}");
            let (_, list) = node.get(CUSTOMERS, &t[reader]).await;
            assert_eq!(
                sorted_ids(list["items"].as_array().unwrap(), "id"),
                want,
                "{name}"
            );
            for row in &got {
                let keys: Vec<&str> = row
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(keys, ["active", "id", "name", "rep"], "{name}: {row}");
                assert_eq!(
                    row["active"],
                    json!(true),
                    "{name}: a boolean on both stores"
                );
            }
        }
        // Aggregates over the reader's rows only, typed the same on both stores.
        let (status, page) = node.get(&format!("{Q}/Revenue?min=0"), &t[0]).await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        assert_eq!(
            rows(&page),
            [
                json!({"name": "Acme", "total": "10.5", "n": 1, "active": true}),
                json!({"name": "Bolt", "total": "20.25", "n": 1, "active": true}),
                json!({"name": "Hidden", "total": "5", "n": 1, "active": true}),
            ],
            "{name}"
        );
        let (_, page) = node.get(&format!("{Q}/Revenue?min=15"), &t[1]).await;
        assert_eq!(
            rows(&page),
            [json!({"name": "Bolt", "total": "20.25", "n": 1, "active": true})],
            "{name}"
        );
        // A record granted to rep2 joins their view.
        let response = node
            .request(
                reqwest::Method::PUT,
                &format!("{CUSTOMERS}/{a}/grants"),
                Some(&t[1]),
                Some(json!({ "principal": { "type": "user", "id": ids[2] }, "actions": ["read"] })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{name}");
        let (_, page) = node.get(&format!("{Q}/Mine"), &t[2]).await;
        let mut want = vec![a.clone(), c.clone()];
        want.sort();
        assert_eq!(sorted_ids(&rows(&page), "id"), want, "{name}");
        // Pages: by the offset the cursor holds.
        let (_, first) = node.get(&format!("{Q}/Mine?limit=2"), &t[0]).await;
        assert_eq!(rows(&first).len(), 2, "{name}");
        let cursor = first["next_cursor"].as_str().unwrap();
        let (_, second) = node
            .get(&format!("{Q}/Mine?limit=2&cursor={cursor}"), &t[0])
            .await;
        assert_eq!(rows(&second).len(), 1, "{name}: {second}");
        assert!(second.get("next_cursor").is_none(), "{name}");
        // The access event names the records read.
        let events = node.events().await;
        let read = events
            .iter()
            .filter(|e| {
                e.stream == "access"
                    && e.target.as_deref() == Some("/apps/development/shop/api/crm/queries/Mine")
            })
            .filter(|e| e.details.contains(&c) && e.details.contains(&a))
            .count();
        assert!(
            read >= 1,
            "{name}: the director's read of Mine names its records"
        );
        // Parameters of the wrong type are named.
        let (status, problem) = node.get(&format!("{Q}/Revenue?min=lots"), &t[0]).await;
        assert_eq!(
            (status, problem_type(&problem)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input"),
            "{name}: {problem}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains("min"),
            "{name}: {problem}"
        );
        // Only the rows the rule lets through reach the statement's own conditions: rep1's
        // query does not fail on rep2's row (the director's, who may read it, does).
        let (status, page) = node.get(&format!("{Q}/Oracle"), &t[1]).await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        assert_eq!(rows(&page).len(), 2, "{name}");
        let (status, problem) = node.get(&format!("{Q}/Oracle"), &t[0]).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("query")),
            "{name}: the condition fails on Hidden: {problem}"
        );
        assert!(
            !problem.to_string().contains("overflow"),
            "{name}: {problem}"
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injections_are_bound_or_refused_and_change_nothing() {
    on_both(with_master_key, |node| async move {
        let name = node.name();
        let (admin, _, t) = setup(&node).await;
        customer(&node, &t[1], "Acme", "10").await;
        let (status, vault) = node
            .post(
                "/apps/development/shop/api/crm/Vault",
                &t[1],
                json!({ "code": "s3cret" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {vault}");
        // Through a bound parameter: a value, nothing more.
        for value in ["x' OR '1'='1", "Acme'; DROP TABLE customer; --", "Acme"] {
            let (status, page) = node
                .get(&format!("{Q}/Named?name={}", enc(value)), &t[1])
                .await;
            assert_eq!(status, StatusCode::OK, "{name}: {page}");
            assert_eq!(
                rows(&page).len(),
                usize::from(value == "Acme"),
                "{name}: {value}"
            );
        }
        // Through an inline parameter: anything but a read of this module's own tables in
        // this database is refused before it runs.
        for (query, param, value) in [
            ("Other", "other", "'x'; DROP TABLE customer; --"),
            ("Other", "other", "'x' UNION SELECT id, username FROM users"),
            (
                "Other",
                "other",
                "'x' UNION SELECT id, token_hash FROM sessions",
            ),
            (
                "Other",
                "other",
                "'x' UNION SELECT id, username FROM platform.users",
            ),
            (
                "Other",
                "other",
                "'x' UNION SELECT id, username FROM public.users",
            ),
            ("Other", "other", "'x' UNION SELECT id, code FROM vault"),
            ("Other", "other", "'x' UNION SELECT id, vat FROM customer"),
            (
                "Other",
                "other",
                "'x' UNION SELECT record_id, record_id FROM _grants_customer",
            ),
            ("Sorted", "sort", "name; UPDATE customer SET name = 'pwned'"),
            ("Sorted", "sort", "(SELECT count(*) FROM sqlite_master)"),
            ("Sorted", "sort", "pg_sleep(10)"),
        ] {
            let (status, problem) = node
                .get(&format!("{Q}/{query}?{param}={}", enc(value)), &t[1])
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {value}: {problem}"
            );
            assert!(
                problem["detail"].as_str().unwrap().contains(param),
                "{name}: {problem}"
            );
        }
        // An inline value the database itself refuses (a column count, a collation, a
        // column that is not there) is the request's fault: 422, and what the database
        // said is not told.
        for value in [
            "'x' UNION SELECT 1, 2, 3",
            "'a' COLLATE nosuch",
            "'x' UNION SELECT nosuch, name FROM customer",
        ] {
            let (status, problem) = node
                .get(&format!("{Q}/Other?other={}", enc(value)), &t[1])
                .await;
            assert_eq!(
                (status, problem["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("query")),
                "{name}: {value}: {problem}"
            );
            assert!(!problem.to_string().contains("nosuch"), "{name}: {problem}");
        }
        // What an inline value may legitimately do, it does.
        let (status, page) = node
            .get(&format!("{Q}/Sorted?sort={}", enc("name DESC")), &t[1])
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        // Nothing changed: the records, the vault, the users.
        let (_, list) = node.get(CUSTOMERS, &t[1]).await;
        assert_eq!(list["items"][0]["values"]["name"], "Acme", "{name}");
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{name}");
        let (_, vaults) = node
            .get("/apps/development/shop/api/crm/Vault", &t[1])
            .await;
        assert_eq!(vaults["items"].as_array().unwrap().len(), 1, "{name}");
        node.login("end", "rep2", USER_PASSWORD).await;
        // A statement that never ends is stopped.
        let stopped = node
            .request(
                reqwest::Method::GET,
                &format!("{Q}/Forever"),
                Some(&t[1]),
                None,
            )
            .await;
        assert_eq!(stopped.status(), StatusCode::SERVICE_UNAVAILABLE, "{name}");
        assert_eq!(stopped.headers()["retry-after"], "5", "{name}");
        let body: Value = stopped.json().await.unwrap();
        assert_eq!(problem_type(&body), "limit-reached", "{name}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("ran longer than 5 s"),
            "{name}: the caller is told what stopped it: {body}"
        );
        let (status, _) = node.get(&format!("{Q}/Mine"), &t[1]).await;
        assert_eq!(status, StatusCode::OK, "{name}: the connection serves on");
        // Statements that write, or read what they may not, do not publish.
        for sql in [
            "UPDATE customer SET name = 'x'",
            "DELETE FROM customer",
            "ATTACH DATABASE '/tmp/x.db' AS x",
            "PRAGMA query_only = 0",
            "SELECT 1; DELETE FROM customer",
            "SELECT vat FROM customer",
            "SELECT code FROM vault",
            "SELECT * FROM users",
            "SELECT load_extension('/tmp/x')",
        ] {
            let source = CRM.replace(
                "sql: SELECT * FROM customer ORDER BY name",
                &format!("sql: \"{sql}\""),
            );
            let (status, body) = publish(&node, &admin, &source).await;
            assert_eq!(
                (status, problem_type(&body)),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid-module"),
                "{name}: {sql}: {body}"
            );
        }
        node.shutdown().await;
    })
    .await;
}
