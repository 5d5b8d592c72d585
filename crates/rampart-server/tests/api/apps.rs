//! The application runtime's data API end to end, on SQLite and PostgreSQL: a module is
//! published and deployed, its database migrated, and end users read and write records
//! under the model's roles and the row-level rule; abuse gets clear refusals and changes
//! nothing.

use rampart_core::Provider;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem_type, Node, USER_PASSWORD};

const CRM: &str = "
module: crm
application: shop
roles:
  - {name: Rep}
  - {name: Manager}
entities:
  - name: Sale
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: region, type: text, max_length: 20}
      - {name: closed_on, type: date}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep, hierarchy: reports-to, grants: true}
queries:
  - name: BigSales
    entity: Sale
    parameters:
      - {name: min, type: decimal}
      - {name: region, type: text, required: false}
    filter:
      - {attribute: amount, op: ge, parameter: min}
      - {attribute: region, op: eq, parameter: region}
    order_by: [amount desc]
    limit: 100
screens:
  - name: Sales
    kind: list
    entity: Sale
    roles: [Rep, Manager]
    widgets: [{kind: table, columns: [record.amount]}]
  - name: Big
    kind: list
    query: BigSales
    roles: [Manager]
    widgets: [{kind: table, columns: [record.amount]}]
  - name: EditSale
    kind: form
    entity: Sale
    roles: [Rep, Manager]
    widgets: [{kind: field, value: amount}]
actions:
  - name: DropSale
    roles: [Rep, Manager]
    parameters: [{name: sale, type: reference, entity: Sale}]
    steps: [{delete: {entity: Sale, id: params.sale}}]
";

pub(crate) const BASE: &str = "/apps/development/shop/api/crm/Sale";

/// A director above a manager above two reps, an outsider with the role but in no tree,
/// and someone without any role.
pub(crate) struct People {
    admin: String,
    ids: Vec<String>,
    pub(crate) tokens: Vec<String>,
}

const NAMES: [&str; 6] = ["director", "manager", "rep1", "rep2", "outsider", "norole"];

pub(crate) async fn setup(node: &Node) -> People {
    let admin = node.admin().await;
    let mut ids = Vec::new();
    for n in NAMES {
        ids.push(
            node.create_user(Provider::End, n, USER_PASSWORD, false)
                .await,
        );
    }
    let ops = json!([
        { "op": "create_application", "name": "shop" },
        { "op": "create_role", "application": "shop", "name": "Rep" },
        { "op": "create_role", "application": "shop", "name": "Manager" },
        { "op": "create_hierarchy", "name": "reports-to", "kind": "reports_to" },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[1], "parent": ids[0] },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[2], "parent": ids[1] },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[3], "parent": ids[1] },
        { "op": "grant_role", "application": "shop", "role": "Manager", "principal": { "type": "user", "id": ids[0] } },
        { "op": "grant_role", "application": "shop", "role": "Manager", "principal": { "type": "user", "id": ids[1] } },
        { "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": ids[2] } },
        { "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": ids[3] } },
        { "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": ids[4] } },
    ]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    deploy(node, &admin, CRM, 1).await;
    let mut tokens = Vec::new();
    for n in NAMES {
        tokens.push(node.login("end", n, USER_PASSWORD).await);
    }
    People { admin, ids, tokens }
}

/// Publishes `source` as the next version of `crm` and deploys it to development.
async fn deploy(node: &Node, admin: &str, source: &str, version: i64) -> (StatusCode, Value) {
    let (status, body) = node
        .post(
            "/api/v1/modules/crm/versions",
            admin,
            json!({ "source": source, "message": "test" }),
        )
        .await;
    assert!(status.is_success(), "{}: publish: {body}", node.name());
    node.post(
        "/api/v1/environments/development/deployments",
        admin,
        json!({ "modules": [{ "module": "crm", "version": version }] }),
    )
    .await
}

async fn sale(node: &Node, token: &str, amount: &str, region: &str) -> Value {
    let (status, body) = node
        .post(BASE, token, json!({ "amount": amount, "region": region }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    body
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reader_lists_exactly_what_the_hierarchy_lets_them_see() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let t = &p.tokens;
        // Two sales per person with the role; the owner is the creator.
        let mut by = vec![Vec::new(); NAMES.len()];
        for (i, token) in t.iter().enumerate().take(5) {
            for n in 0..2 {
                let s = sale(
                    &node,
                    token,
                    &format!("{i}{n}.50"),
                    if n == 0 { "North" } else { "South" },
                )
                .await;
                assert_eq!(
                    s["values"]["rep"],
                    json!(p.ids[i]),
                    "{}: the owner defaults to the creator",
                    node.name()
                );
                by[i].push(s["id"].as_str().unwrap().to_owned());
            }
        }
        let sees = |who: &[usize]| {
            let mut v: Vec<String> = who.iter().flat_map(|&i| by[i].clone()).collect();
            v.sort();
            v
        };
        for (reader, want) in [
            (0, sees(&[0, 1, 2, 3])),
            (1, sees(&[1, 2, 3])),
            (2, sees(&[2])),
            (4, sees(&[4])),
        ] {
            let (status, page) = node.get(BASE, &t[reader]).await;
            assert_eq!(status, StatusCode::OK, "{}: {page}", node.name());
            let mut got = ids_of(&page);
            got.sort();
            assert_eq!(got, want, "{}: {}", node.name(), NAMES[reader]);
        }
        // Filters and pages: the manager's North sales, two a page.
        let (_, first) = node
            .get(&format!("{BASE}?region=North&limit=2"), &t[1])
            .await;
        assert_eq!(ids_of(&first).len(), 2, "{}", node.name());
        let cursor = first["next_cursor"].as_str().unwrap();
        let (_, second) = node
            .get(
                &format!("{BASE}?region=North&limit=2&cursor={cursor}"),
                &t[1],
            )
            .await;
        assert_eq!(ids_of(&second).len(), 1, "{}: {second}", node.name());
        assert!(second.get("next_cursor").is_none(), "{}", node.name());
        // Sorted by amount, largest first.
        let (_, sorted) = node.get(&format!("{BASE}?sort=-amount"), &t[0]).await;
        let amounts: Vec<f64> = sorted["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["values"]["amount"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(
            amounts.windows(2).all(|w| w[0] >= w[1]),
            "{}: {amounts:?}",
            node.name()
        );
        // Someone without a role is refused, with an access event that says so.
        let (status, body) = node.get(BASE, &t[5]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: {body}", node.name());
        let events = node.events().await;
        let denied = events
            .iter()
            .filter(|e| {
                e.stream == "access" && e.outcome == "deny" && e.target.as_deref() == Some(BASE)
            })
            .count();
        assert_eq!(denied, 1, "{}", node.name());
        let writes = events
            .iter()
            .filter(|e| e.action == "record.create")
            .count();
        assert_eq!(
            writes,
            10,
            "{}: one system event per record created",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_others_may_not_see_are_not_found_on_every_verb() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let t = &p.tokens;
        let theirs = sale(&node, &t[3], "10", "North").await;
        let id = theirs["id"].as_str().unwrap();
        let path = format!("{BASE}/{id}");
        // rep1 and the outsider do not see rep2's sale: 404 on every verb, nothing changed.
        for token in [&t[2], &t[4]] {
            assert_eq!(
                node.get(&path, token).await.0,
                StatusCode::NOT_FOUND,
                "{}",
                node.name()
            );
            assert_eq!(
                node.patch(&path, token, json!({ "amount": "1" })).await.0,
                StatusCode::NOT_FOUND,
                "{}",
                node.name()
            );
            assert_eq!(
                node.delete(&path, token).await.0,
                StatusCode::NOT_FOUND,
                "{}",
                node.name()
            );
        }
        // The probes left a trace: the id asked for, and what came of it.
        let probes = node
            .events()
            .await
            .into_iter()
            .filter(|e| {
                e.stream == "access"
                    && e.details.contains(id)
                    && e.details.contains("\"result\":\"not-found\"")
            })
            .count();
        assert_eq!(probes, 6, "{}: two callers × three verbs", node.name());
        // Their manager sees and changes it; the version moves on.
        let (status, read) = node.get(&path, &t[1]).await;
        assert_eq!(
            (status, &read["values"]["amount"]),
            (StatusCode::OK, &json!("10")),
            "{}",
            node.name()
        );
        let (status, changed) = node.patch(&path, &t[1], json!({ "amount": "12.5" })).await;
        assert_eq!(status, StatusCode::OK, "{}: {changed}", node.name());
        assert_eq!(changed["version"], json!(2));
        // A change at a stale version conflicts (optimistic concurrency).
        let response = node
            .client_request(
                Method::PATCH,
                &path,
                &t[3],
                Some(json!({ "amount": "13" })),
                Some("\"1\""),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{}", node.name());
        let response = node
            .client_request(
                Method::PATCH,
                &path,
                &t[3],
                Some(json!({ "amount": "13" })),
                Some("\"2\""),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{}", node.name());
        assert_eq!(response.headers()["etag"], "\"3\"", "{}", node.name());
        // The owner of what they create must be themselves or someone below them.
        let (status, body) = node
            .post(BASE, &t[2], json!({ "amount": "1", "rep": p.ids[3] }))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            node.name()
        );
        let (status, body) = node
            .post(BASE, &t[1], json!({ "amount": "1", "rep": p.ids[3] }))
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}: a manager assigns a sale to a rep: {body}",
            node.name()
        );
        // Deleting: the owner may.
        assert_eq!(
            node.delete(&path, &t[3]).await.0,
            StatusCode::NO_CONTENT,
            "{}",
            node.name()
        );
        assert_eq!(
            node.get(&path, &t[1]).await.0,
            StatusCode::NOT_FOUND,
            "{}",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let t = &p.tokens[2];
        let evil = "x' OR '1'='1";
        for (body, named) in [
            (json!({ "amount": "lots" }), "amount"),
            (json!({ "amount": "1", "region": "x".repeat(21) }), "region"),
            (json!({ "amount": "1", "nope": 1 }), "nope"),
            (
                json!({ "amount": "1", "id": "0190a000-0000-7000-8000-000000000001" }),
                "id",
            ),
            (json!({ "region": "North" }), "amount"),
            (
                json!({ "amount": "1", "closed_on": "2026-02-30" }),
                "closed_on",
            ),
            (json!(["not", "an", "object"]), "body"),
        ] {
            let (status, problem) = node.post(BASE, t, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {body} {problem}",
                node.name()
            );
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(named)
                    || problem["field"].as_str() == Some(named),
                "{}: {problem}",
                node.name()
            );
        }
        for query in [
            format!("region={evil}"),
            format!("region.contains={evil}"),
            "sort=region;DROP".into(),
            "amount.gt=1;DROP TABLE sale".into(),
            "limit=0".into(),
            "limit=501".into(),
            "nope=1".into(),
            "cursor=zz".into(),
            "region.regex=x".into(),
        ] {
            let (status, body) = node.get(&format!("{BASE}?{query}"), t).await;
            let ok =
                status == StatusCode::OK && body["items"].as_array().is_some_and(Vec::is_empty);
            assert!(
                ok || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {query}: {status} {body}",
                node.name()
            );
        }
        let (status, page) = node.get(BASE, t).await;
        assert_eq!(
            (status, ids_of(&page).len()),
            (StatusCode::OK, 0),
            "{}: nothing was written",
            node.name()
        );
        // Unknown environment, application, module or entity: 404, whatever exists elsewhere.
        for path in [
            "/apps/nowhere/shop/api/crm/Sale",
            "/apps/development/other/api/crm/Sale",
            "/apps/development/shop/api/other/Sale",
            "/apps/development/shop/api/crm/sale",
        ] {
            let (status, body) = node.get(path, t).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{}: {path}: {body}",
                node.name()
            );
            assert!(
                problem_type(&body).ends_with("not-found"),
                "{}: {body}",
                node.name()
            );
        }
        // A malformed record id or If-Match.
        assert_eq!(
            node.get(&format!("{BASE}/1%20OR%201=1"), t).await.0,
            StatusCode::NOT_FOUND
        );
        let before = node
            .events()
            .await
            .iter()
            .filter(|e| e.stream == "access")
            .count();
        let response = node
            .client_request(
                Method::DELETE,
                &format!("{BASE}/0190a000-0000-7000-8000-000000000001"),
                t,
                None,
                Some("yesterday"),
            )
            .await;
        let after = node
            .events()
            .await
            .iter()
            .filter(|e| e.stream == "access")
            .count();
        assert_eq!(
            after,
            before + 1,
            "{}: a request refused before the use case is recorded too",
            node.name()
        );
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            node.name()
        );
        // No session: 401.
        let response = node.request(Method::GET, BASE, None, None).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            node.name()
        );
        // A body over the limit: 413, nothing written.
        let big = json!({ "amount": "1", "region": "x".repeat(20_000) });
        assert_eq!(
            node.post(BASE, t, big).await.0,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            node.name()
        );
        // A role revoked between two requests: the next one is refused.
        let (status, _) = node.get(BASE, t).await;
        assert_eq!(status, StatusCode::OK, "{}", node.name());
        let revoke = json!([{ "op": "revoke_role", "application": "shop", "role": "Rep",
            "principal": { "type": "user", "id": p.ids[2] } }]);
        let (status, body) = node
            .post(
                "/api/v1/authz/write",
                &p.admin,
                json!({ "operations": revoke }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            node.get(BASE, t).await.0,
            StatusCode::FORBIDDEN,
            "{}",
            node.name()
        );
        // A session ended between two requests: the next one is refused.
        let manager = &p.tokens[1];
        assert_eq!(
            node.get(BASE, manager).await.0,
            StatusCode::OK,
            "{}",
            node.name()
        );
        let response = node
            .request(Method::POST, "/api/v1/auth/logout", Some(manager), None)
            .await;
        assert!(response.status().is_success(), "{}", node.name());
        assert_eq!(
            node.get(BASE, manager).await.0,
            StatusCode::UNAUTHORIZED,
            "{}",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_migrate_the_data_and_keep_what_a_rollback_needs() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let rep = &p.tokens[2];
        let created = sale(&node, rep, "5", "North").await;
        let id = created["id"].as_str().unwrap().to_owned();
        // v2 drops `region` and adds `notes`: the region's data stays in its column.
        let v2 = CRM
            .replace(
                "      - {name: region, type: text, max_length: 20}\n",
                "      - {name: notes, type: text}\n",
            )
            .replace(
                "      - {attribute: region, op: eq, parameter: region}\n",
                "",
            );
        let (status, body) = deploy(&node, &p.admin, &v2, 2).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        let (_, read) = node.get(&format!("{BASE}/{id}"), rep).await;
        assert!(
            read["values"].get("region").is_none() && read["values"]["notes"].is_null(),
            "{}: {read}",
            node.name()
        );
        // Rolling back brings the region back with its value.
        let (status, body) = node
            .post(
                "/api/v1/environments/development/rollback",
                &p.admin,
                json!({ "module": "crm" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        let (_, read) = node.get(&format!("{BASE}/{id}"), rep).await;
        assert_eq!(
            read["values"]["region"],
            json!("North"),
            "{}: {read}",
            node.name()
        );
        // A retype whose data does not convert is refused, and nothing is deployed.
        let v3 = CRM
            .replace(
                "{name: region, type: text, max_length: 20}",
                "{name: region, type: integer}",
            )
            .replace(
                "{name: region, type: text, required: false}",
                "{name: region, type: integer, required: false}",
            );
        let (status, body) = deploy(&node, &p.admin, &v3, 3).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", node.name());
        let (_, running) = node
            .get("/api/v1/environments/development/modules", &p.admin)
            .await;
        assert!(
            running.to_string().contains("\"version\":1")
                || running.to_string().contains("\"number\":1"),
            "{}: {running}",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_structured_query_runs_with_its_parameters_under_the_row_rule() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let t = &p.tokens;
        for (i, amount, region) in [
            (2, "5", "North"),
            (2, "50", "North"),
            (3, "70", "South"),
            (4, "90", "North"),
        ] {
            sale(&node, &t[i], amount, region).await;
        }
        let q = "/apps/development/shop/api/crm/queries/BigSales";
        // The manager sees their reps' sales of at least 10, largest first; not the outsider's.
        let (status, page) = node.get(&format!("{q}?min=10"), &t[1]).await;
        assert_eq!(status, StatusCode::OK, "{}: {page}", node.name());
        let amounts: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["values"]["amount"].as_str().unwrap())
            .collect();
        assert_eq!(amounts, ["70", "50"], "{}", node.name());
        // An optional parameter narrows it; left out, its condition is dropped.
        let (_, north) = node.get(&format!("{q}?min=10&region=North"), &t[1]).await;
        assert_eq!(ids_of(&north).len(), 1, "{}: {north}", node.name());
        // Only the roles of the screens that run it: a rep is refused.
        assert_eq!(
            node.get(&format!("{q}?min=10"), &t[2]).await.0,
            StatusCode::FORBIDDEN,
            "{}",
            node.name()
        );
        // A missing required parameter, an unknown one, a wrong type: 422, each named.
        for (query, named) in [
            ("", "min"),
            ("?min=1&max=2", "max"),
            ("?min=lots", "min"),
            ("?min=1&limit=101", "limit"),
        ] {
            let (status, body) = node.get(&format!("{q}{query}"), &t[1]).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {query}: {body}",
                node.name()
            );
            assert!(body.to_string().contains(named), "{}: {body}", node.name());
        }
        assert_eq!(
            node.get("/apps/development/shop/api/crm/queries/Nope", &t[1])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_changes_at_one_version_one_wins_and_one_conflicts() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let token = p.tokens[2].clone();
        let created = sale(&node, &token, "1", "North").await;
        let url = format!("{}{BASE}/{}", node.base, created["id"].as_str().unwrap());
        for round in 0..5 {
            let (_, read) = node.get(&url[node.base.len()..], &token).await;
            let version = read["version"].as_i64().unwrap();
            let attempts: Vec<_> = (0..2)
                .map(|i| {
                    let (client, url, token) = (node.client.clone(), url.clone(), token.clone());
                    tokio::spawn(async move {
                        client
                            .patch(url)
                            .bearer_auth(token)
                            .header("if-match", format!("\"{version}\""))
                            .json(&json!({ "amount": format!("{round}{i}") }))
                            .send()
                            .await
                            .unwrap()
                            .status()
                            .as_u16()
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for a in attempts {
                statuses.push(a.await.unwrap());
            }
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "{}: round {round}", node.name());
        }
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_stored_data_needs_full_on_the_module() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let ops_id = node.create_user(Provider::It, "ops", USER_PASSWORD, false).await;
        let (status, body) = node
            .post(
                "/api/v1/it/write",
                &p.admin,
                json!({ "operations": [{ "op": "set_override", "user": ops_id,
                    "scope": { "type": "module", "name": "crm" }, "environment": "development", "level": "deploy" }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let ops = node.login("it", "ops", USER_PASSWORD).await;
        let deploy = |drop_data: bool| {
            json!({ "modules": [{ "module": "crm", "version": 1 }], "drop_data": drop_data })
        };
        let url = "/api/v1/environments/development/deployments";
        let (status, body) = node.post(url, &ops, deploy(false)).await;
        assert_eq!(status, StatusCode::OK, "{}: operations may deploy: {body}", node.name());
        let (status, body) = node.post(url, &ops, deploy(true)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: {body}", node.name());
        let (status, body) = node.post(url, &p.admin, deploy(true)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_granted_to_someone_is_theirs_to_read_until_taken_back() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let t = &p.tokens;
        let theirs = sale(&node, &t[3], "10", "North").await;
        let id = theirs["id"].as_str().unwrap();
        let one = format!("{BASE}/{id}");
        let grants = format!("{one}/grants");
        let to_rep1 = |actions: Value| json!({ "principal": { "type": "user", "id": p.ids[2] }, "actions": actions });
        assert_eq!(node.get(&one, &t[2]).await.0, StatusCode::NOT_FOUND, "{}", node.name());
        // Someone who may not write the record cannot grant it (404, as for a missing one).
        let response = node.request(Method::PUT, &grants, Some(&t[2]), Some(to_rep1(json!(["read"])))).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{}", node.name());
        // Its owner grants rep1 reading: rep1 now reads it and lists it, and cannot change it.
        let response = node.request(Method::PUT, &grants, Some(&t[3]), Some(to_rep1(json!(["read"])))).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", node.name());
        assert_eq!(node.get(&one, &t[2]).await.0, StatusCode::OK, "{}", node.name());
        let (_, page) = node.get(BASE, &t[2]).await;
        assert!(ids_of(&page).contains(&id.to_owned()), "{}: {page}", node.name());
        assert_eq!(node.patch(&one, &t[2], json!({ "amount": "1" })).await.0, StatusCode::NOT_FOUND, "{}", node.name());
        // Writing too; then taken back.
        // Who holds what: read by those who may change the record, a 404 for the others.
        let (status, listed) = node.get(&grants, &t[3]).await;
        assert_eq!(status, StatusCode::OK, "{}: {listed}", node.name());
        assert_eq!(listed, json!({ "grants": [{ "principal": format!("user:{}", p.ids[2]), "actions": ["read"] }] }), "{}", node.name());
        assert_eq!(node.get(&grants, &t[2]).await.0, StatusCode::NOT_FOUND, "{}: a reader", node.name());
        assert_eq!(node.get(&grants, &t[4]).await.0, StatusCode::NOT_FOUND, "{}: an outsider", node.name());
        node.request(Method::PUT, &grants, Some(&t[3]), Some(to_rep1(json!(["read", "write"])))).await;
        assert_eq!(node.get(&grants, &t[1]).await.1["grants"][0]["actions"], json!(["read", "write"]), "{}: the manager above", node.name());
        assert_eq!(node.patch(&one, &t[2], json!({ "amount": "2" })).await.0, StatusCode::OK, "{}", node.name());
        // A grant to write changes values, never whose the record is: taking it would shut
        // out its owner and those above them. The owner still may.
        let (status, body) = node.patch(&one, &t[2], json!({ "rep": p.ids[2] })).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("owner")), "{}: {body}", node.name());
        assert!(body["detail"].as_str().unwrap().contains("only the record's owner"), "{}: {body}", node.name());
        assert_eq!(node.get(&one, &t[3]).await.1["values"]["rep"], json!(p.ids[3]), "{}", node.name());
        let (status, body) = node.patch(&one, &t[3], json!({ "rep": p.ids[3], "amount": "3" })).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        // Nor does it delete the record.
        let response = node.request(Method::DELETE, &one, Some(&t[2]), None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{}", node.name());
        assert_eq!(node.get(&one, &t[3]).await.0, StatusCode::OK, "{}: still there", node.name());
        let response = node.request(Method::PUT, &grants, Some(&t[3]), Some(to_rep1(json!([])))).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", node.name());
        assert_eq!(node.get(&one, &t[2]).await.0, StatusCode::NOT_FOUND, "{}", node.name());
        assert_eq!(node.get(&grants, &t[3]).await.1, json!({ "grants": [] }), "{}", node.name());
        // An unknown action, or a principal authorization does not know: 422.
        let response = node.request(Method::PUT, &grants, Some(&t[3]), Some(to_rep1(json!(["own"])))).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", node.name());
        let stranger = node.create_user(Provider::End, "stranger", USER_PASSWORD, false).await;
        let body = json!({ "principal": { "type": "user", "id": stranger }, "actions": ["read"] });
        let response = node.request(Method::PUT, &grants, Some(&t[3]), Some(body)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", node.name());
        let events = node.events().await;
        assert_eq!(events.iter().filter(|e| e.action == "record.grant").count(), 3, "{}", node.name());
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_all_commit_with_their_events() {
    on_both(no_tweak, |node| async move {
        let p = setup(&node).await;
        let token = p.tokens[2].clone();
        let attempts: Vec<_> = (0..16)
            .map(|i| {
                let (client, url, token) = (
                    node.client.clone(),
                    format!("{}{BASE}", node.base),
                    token.clone(),
                );
                tokio::spawn(async move {
                    client
                        .post(url)
                        .bearer_auth(token)
                        .json(&json!({ "amount": format!("{i}") }))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        for a in attempts {
            assert_eq!(a.await.unwrap(), 201, "{}", node.name());
        }
        let (_, page) = node.get(&format!("{BASE}?limit=100"), &token).await;
        assert_eq!(ids_of(&page).len(), 16, "{}", node.name());
        let events = node.events().await;
        assert_eq!(
            events
                .iter()
                .filter(|e| e.action == "record.create")
                .count(),
            16,
            "{}",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

/// Two nodes on one PostgreSQL database: a move made through one node holds at once for a
/// reader served by the other (the member set a walk binds comes from that node's index,
/// which replays the change before deciding), and so does a role revoked there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_through_another_node_holds_at_once() {
    use rampart_store::BackendKind;
    let a = crate::kit::start(BackendKind::Postgres, no_tweak).await;
    let p = setup(&a).await;
    let t = &p.tokens;
    let sold = sale(&a, &t[2], "10", "North").await;
    let rep1 = vec![sold["id"].as_str().unwrap().to_owned()];
    let b = crate::kit::start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    let (status, page) = b.get(BASE, &t[1]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        ids_of(&page),
        rep1,
        "the manager sees rep1's sale through the other node"
    );
    // rep1 moves from under the manager to straight under the director, through node a.
    let ops = json!([{ "op": "set_parent", "hierarchy": "reports-to", "node": p.ids[2], "parent": p.ids[0] }]);
    let (status, body) = a
        .post(
            "/api/v1/authz/write",
            &p.admin,
            json!({ "operations": ops }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = b.get(BASE, &t[1]).await;
    assert!(ids_of(&page).is_empty(), "node b knows at once: {page}");
    let (_, page) = b.get(BASE, &t[0]).await;
    assert_eq!(ids_of(&page), rep1, "the director still sees it: {page}");
    // The manager's role revoked through node a: node b refuses them at once.
    let ops = json!([{ "op": "revoke_role", "application": "shop", "role": "Manager", "principal": { "type": "user", "id": p.ids[1] } }]);
    let (status, body) = a
        .post(
            "/api/v1/authz/write",
            &p.admin,
            json!({ "operations": ops }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(b.get(BASE, &t[1]).await.0, StatusCode::FORBIDDEN);
    // A version deployed through node a is what node b serves at once (b has the previous
    // one in memory from the reads above).
    let v2 = CRM.replace(
        "      - {name: region, type: text, max_length: 20}\n",
        "      - {name: region, type: text, max_length: 20}\n      - {name: notes, type: text}\n",
    );
    let (status, body) = deploy(&a, &p.admin, &v2, 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, read) = b.get(&format!("{BASE}/{}", rep1[0]), &t[0]).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert!(
        read["values"]["notes"].is_null() && read["values"].get("notes").is_some(),
        "node b serves version 2 at once: {read}"
    );
    b.shutdown().await;
    a.shutdown().await;
}
