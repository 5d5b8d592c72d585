//! Sensitive attributes end to end, on SQLite and PostgreSQL: readers get plain values, the
//! database never holds them, `unique` works through the blind index, retypes re-seal, and a
//! node whose stored keys it cannot unwrap does not start.

use std::sync::Arc;

use rampart_core::{Clock, ManualClock, Provider};
use rampart_server::Server;
use reqwest::StatusCode;
use serde_json::json;
use time::macros::datetime;

use crate::kit::{on_both, Node, USER_PASSWORD};

const CRM: &str = "
module: crm
application: shop
roles: [{name: Rep}]
entities:
  - name: Customer
    attributes:
      - {name: name, type: text, required: true}
      - {name: vat, type: text, unique: true, sensitive: true}
      - {name: notes, type: text, sensitive: true}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep}
screens:
  - {name: Customers, kind: list, entity: Customer, roles: [Rep], widgets: [{kind: table, columns: [record.name]}]}
  - {name: EditCustomer, kind: form, entity: Customer, roles: [Rep], widgets: [{kind: field, value: name}]}
";

const BASE: &str = "/apps/development/shop/api/crm/Customer";
const VAT: &str = "PT-501-964-843";
const NOTE: &str = "prefers-calls-after-lunch";

/// A master key in a private file of this test process (the same for every node of it).
pub(crate) fn with_master_key(config: &mut rampart_service::Config) {
    let path = std::env::temp_dir().join(format!("rampart-test-master-{}.key", std::process::id()));
    if !path.exists() {
        let key = rampart_apps::seal::MasterKey::generate().unwrap();
        std::fs::write(&path, key.encode().as_bytes()).unwrap();
    }
    config.keys.master_key = format!("file:{}", path.display());
}

async fn setup(node: &Node, source: &str) -> (String, String) {
    let admin = node.admin().await;
    let rep = node
        .create_user(Provider::End, "rep", USER_PASSWORD, false)
        .await;
    let ops = json!([
        { "op": "create_application", "name": "shop" },
        { "op": "create_role", "application": "shop", "name": "Rep" },
        { "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": rep } },
    ]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    publish_and_deploy(node, &admin, source, 1).await;
    (admin, node.login("end", "rep", USER_PASSWORD).await)
}

async fn publish_and_deploy(
    node: &Node,
    admin: &str,
    source: &str,
    version: i64,
) -> (StatusCode, serde_json::Value) {
    let (status, body) = node
        .post(
            "/api/v1/modules/crm/versions",
            admin,
            json!({ "source": source, "message": "m" }),
        )
        .await;
    assert!(status.is_success(), "{}: {body}", node.name());
    node.post(
        "/api/v1/environments/development/deployments",
        admin,
        json!({ "modules": [{ "module": "crm", "version": version }] }),
    )
    .await
}

/// Every byte the node's databases hold for application data, as text: the SQLite files
/// (with their write-ahead logs), or on PostgreSQL each application table's rows as text.
async fn stored_bytes(node: &Node) -> String {
    let state = &node.server().state;
    if node.kind == rampart_store::BackendKind::Sqlite {
        let mut all = Vec::new();
        let apps = state.config.data_dir.join("apps");
        for entry in std::fs::read_dir(apps).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        for f in ["rampart.db", "rampart.db-wal"] {
            if let Ok(b) = std::fs::read(state.config.data_dir.join(f)) {
                all.extend(b);
            }
        }
        return String::from_utf8_lossy(&all).into_owned();
    }
    use sqlx::{Connection as _, Row as _};
    let mut conn = sqlx::PgConnection::connect(&state.config.database_url)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT t::text FROM app_1.customer t")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut out: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    let events =
        sqlx::query("SELECT COALESCE(details, '') || COALESCE(body, '') FROM audit_events")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    out.extend(events.iter().map(|r| r.get::<String, _>(0)));
    out.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_values_are_plain_to_readers_and_never_stored_plain() {
    on_both(with_master_key, |node| async move {
        let (_, rep) = setup(&node, CRM).await;
        let (status, created) = node
            .post(
                BASE,
                &rep,
                json!({ "name": "Acme", "vat": VAT, "notes": NOTE }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", node.name());
        assert_eq!(
            (
                created["values"]["vat"].as_str(),
                created["values"]["notes"].as_str()
            ),
            (Some(VAT), Some(NOTE))
        );
        let id = created["id"].as_str().unwrap();
        let (_, read) = node.get(&format!("{BASE}/{id}"), &rep).await;
        assert_eq!(read["values"]["vat"], json!(VAT), "{}", node.name());
        // Equality through the blind index: the filter finds it, and a second record with the
        // same value is refused.
        let (status, found) = node.get(&format!("{BASE}?vat={VAT}"), &rep).await;
        assert_eq!(
            (status, found["items"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(1)),
            "{}: {found}",
            node.name()
        );
        let (status, body) = node
            .post(BASE, &rep, json!({ "name": "Copy", "vat": VAT }))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", node.name());
        // Not sortable, and only equality on a unique one.
        assert_eq!(
            node.get(&format!("{BASE}?sort=vat"), &rep).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            node.get(&format!("{BASE}?notes={NOTE}"), &rep).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // Neither the application database nor the audit trail holds the plain values.
        let stored = stored_bytes(&node).await;
        assert!(
            stored.contains("Acme"),
            "{}: the check reads the data",
            node.name()
        );
        assert!(
            !stored.contains(VAT) && !stored.contains(NOTE),
            "{}: a plain sensitive value is stored",
            node.name()
        );
        let events = node.events().await;
        assert!(
            events
                .iter()
                .all(|e| !e.details.contains(VAT) && !e.details.contains(NOTE)),
            "{}",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn making_an_attribute_sensitive_reseals_what_is_stored() {
    on_both(with_master_key, |node| async move {
        let plain = CRM.replace(
            "{name: notes, type: text, sensitive: true}",
            "{name: notes, type: text}",
        );
        let (admin, rep) = setup(&node, &plain).await;
        let (_, created) = node
            .post(BASE, &rep, json!({ "name": "Acme", "notes": NOTE }))
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(
            stored_bytes(&node).await.contains(NOTE),
            "{}: plain before",
            node.name()
        );
        let (status, body) = publish_and_deploy(&node, &admin, CRM, 2).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        let (_, read) = node.get(&format!("{BASE}/{id}"), &rep).await;
        assert_eq!(
            read["values"]["notes"],
            json!(NOTE),
            "{}: {read}",
            node.name()
        );
        // The old plain column is retained until a deployment drops the data.
        let v3 = CRM.replace(
            "      - {name: name, type: text, required: true}\n",
            "      - {name: name, type: text, required: true}\n      - {name: city, type: text}\n",
        );
        let (status, body) = node
            .post(
                "/api/v1/modules/crm/versions",
                &admin,
                json!({ "source": v3, "message": "m" }),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let (status, body) = node
            .post(
                "/api/v1/environments/development/deployments",
                &admin,
                json!({ "modules": [{ "module": "crm", "version": 3 }], "drop_data": true }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        if node.kind == rampart_store::BackendKind::Postgres {
            assert!(
                !stored_bytes(&node).await.contains(NOTE),
                "{}: dropped with the data",
                node.name()
            );
        }
        let (_, read) = node.get(&format!("{BASE}/{id}"), &rep).await;
        assert_eq!(
            read["values"]["notes"],
            json!(NOTE),
            "{}: {read}",
            node.name()
        );
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_master_key_a_node_with_sensitive_data_does_not_start() {
    on_both(with_master_key, |mut node| async move {
        setup(&node, CRM).await;
        let server = node.server.take().unwrap();
        let mut config = server.state.config.clone();
        server.shutdown().await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 09:00 UTC))) as Arc<dyn Clock>;
        config.keys.master_key = String::new();
        let refused = Server::start(config.clone(), clock.clone()).await;
        let message = refused.err().map(|e| e.0).unwrap_or_default();
        assert!(message.contains("master key"), "{}: {message}", node.name());
        // Another key does not unwrap the stored ones either.
        let other =
            std::env::temp_dir().join(format!("rampart-test-other-{}.key", std::process::id()));
        std::fs::write(
            &other,
            rampart_apps::seal::MasterKey::generate()
                .unwrap()
                .encode()
                .as_bytes(),
        )
        .unwrap();
        config.keys.master_key = format!("file:{}", other.display());
        let refused = Server::start(config, clock).await;
        let message = refused.err().map(|e| e.0).unwrap_or_default();
        assert!(
            message.contains("does not unwrap"),
            "{}: {message}",
            node.name()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_reencrypts_every_older_value_and_can_be_run_again() {
    on_both(with_master_key, |node| async move {
        let (_, rep) = setup(&node, CRM).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let (status, c) = node
                .post(BASE, &rep, json!({ "name": format!("c{i}"), "vat": format!("V{i}"), "notes": format!("n{i}") }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_str().unwrap().to_owned());
        }
        let state = node.server().state.clone();
        let ctx = state.system_context();
        let id = state.keys.rotate(&state.store, &ctx, state.clock.now(), "development").await.unwrap();
        assert_eq!(id, 2, "{}", node.name());
        // Written after the rotation: sealed with the new key already.
        let (_, late) = node.post(BASE, &rep, json!({ "name": "late", "vat": "V9", "notes": "n9" })).await;
        let mut read = 0;
        let done = rampart_service::apps::rekey::reencrypt(&state, "development", &mut |n| read = n)
            .await
            .unwrap();
        // Two sealed attributes × four records read; the three older records' two each resealed.
        assert_eq!((done.read, done.resealed, read), (8, 6, 8), "{}", node.name());
        let again = rampart_service::apps::rekey::reencrypt(&state, "development", &mut |_| {})
            .await
            .unwrap();
        assert_eq!(again.resealed, 0, "{}: nothing left for a second run", node.name());
        for id in ids.iter().chain([&late["id"].as_str().unwrap().to_owned()]) {
            let (status, r) = node.get(&format!("{BASE}/{id}"), &rep).await;
            assert_eq!(status, StatusCode::OK, "{}: {r}", node.name());
            assert!(r["values"]["vat"].as_str().unwrap().starts_with('V'), "{}: {r}", node.name());
        }
        // The blind index did not change with the data key: equality still finds them.
        let (_, found) = node.get(&format!("{BASE}?vat=V1"), &rep).await;
        assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{}: {found}", node.name());
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_organisation_sees_what_the_hierarchy_allows() {
    on_both(with_master_key, |node| async move {
        let file = |f: &str| {
            std::fs::read_to_string(format!(
                "{}/../../examples/sales/{f}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let (core, ui, reports) = (
            file("core-service.yaml"),
            file("sales-ui.yaml"),
            file("reports.json"),
        );
        let sources = [
            ("core-service", core.as_str()),
            ("sales-ui", ui.as_str()),
            ("sales-reports", reports.as_str()),
        ];
        let state = node.server().state.clone();
        let seeded = rampart_service::apps::demo::seed(&state, &sources)
            .await
            .unwrap();
        assert!(seeded.fresh && seeded.admin.is_some(), "{}", node.name());
        let again = rampart_service::apps::demo::seed(&state, &sources)
            .await
            .unwrap();
        assert!(!again.fresh, "{}: seeded once", node.name());
        let sales = "/apps/development/sales/api/sales-ui/Sale?limit=500";
        let customers = "/apps/development/sales/api/core-service/Customer?limit=500";
        for (who, want_sales, want_customers) in [
            ("dana", 18, 9),
            ("mike", 12, 6),
            ("mia", 6, 3),
            ("rita", 6, 3),
        ] {
            let person = rampart_service::apps::demo::PEOPLE
                .iter()
                .find(|p| p.username == who)
                .unwrap();
            let token = node.login("end", who, person.password).await;
            let (status, page) = node.get(sales, &token).await;
            assert_eq!(status, StatusCode::OK, "{}: {who}: {page}", node.name());
            assert_eq!(
                page["items"].as_array().unwrap().len(),
                want_sales,
                "{}: {who}'s sales",
                node.name()
            );
            let (_, page) = node.get(customers, &token).await;
            let items = page["items"].as_array().unwrap();
            assert_eq!(
                items.len(),
                want_customers,
                "{}: {who}'s customers",
                node.name()
            );
            assert!(
                items.iter().all(|c| c["values"]["vat_number"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("PT"))),
                "{}: {page}",
                node.name()
            );
        }
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_sensitive_attribute_can_be_added_but_not_made_from_stored_values() {
    on_both(with_master_key, |node| async move {
        let (admin, rep) = setup(&node, CRM).await;
        let (status, _) = node.post(BASE, &rep, json!({ "name": "Acme", "vat": "V1" })).await;
        assert_eq!(status, StatusCode::CREATED);
        // A new unique sensitive attribute: added with its blind index, enforced at once.
        let v2 = CRM.replace(
            "      - {name: notes, type: text, sensitive: true}\n",
            "      - {name: notes, type: text, sensitive: true}\n      - {name: iban, type: text, unique: true, sensitive: true}\n",
        );
        let (status, body) = publish_and_deploy(&node, &admin, &v2, 2).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
        let (status, body) = node.post(BASE, &rep, json!({ "name": "B", "iban": "PT50" })).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
        let (status, _) = node.post(BASE, &rep, json!({ "name": "C", "iban": "PT50" })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}", node.name());
        let (_, found) = node.get(&format!("{BASE}?iban=PT50"), &rep).await;
        assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{}: {found}", node.name());
        // Making stored values unique and sensitive is refused (their blind index cannot be
        // filled yet), and nothing is deployed.
        let v3 = v2.replace("{name: notes, type: text, sensitive: true}", "{name: notes, type: text, unique: true, sensitive: true}");
        let (status, body) = publish_and_deploy(&node, &admin, &v3, 3).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", node.name());
        let (status, _) = node.post(BASE, &rep, json!({ "name": "D", "notes": "same" })).await;
        assert_eq!(status, StatusCode::CREATED, "{}", node.name());
        node.shutdown().await;
    })
    .await;
}
