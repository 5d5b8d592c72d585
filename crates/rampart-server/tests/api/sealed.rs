//! Sealed modules between two installations (two data directories, two databases), on
//! SQLite and PostgreSQL: a vendor publishes a module on installation A and seals it to an
//! environment of installation B; B trusts the vendor, imports, deploys, runs it (an end
//! user reads a record) and references it from a module of its own; nobody on B, an
//! administrator included, reads its source or a diff, and each attempt is refused and
//! audited; every bad package is refused and stores nothing.

use rampart_core::Provider;
use rampart_sealed::{Contents, PublisherKey};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem_type, start, Node, USER_PASSWORD};

const NOTES: &str = "
module: notes
application: shop
roles:
  - {name: Reader, public: true}
entities:
  - name: Note
    public: true
    attributes:
      - {name: title, type: text, required: true}
screens:
  - name: Notes
    kind: list
    entity: Note
    roles: [Reader]
    widgets: [{kind: table, columns: [record.title]}]
  - name: EditNote
    kind: form
    entity: Note
    roles: [Reader]
    widgets: [{kind: field, value: title}]
";

const PORTAL: &str = "
module: portal
application: shop
screens:
  - name: Home
    kind: list
    entity: notes.Note
    roles: [notes.Reader]
    widgets: [{kind: table, columns: [record.title]}]
dependencies:
  - module: notes
    roles: [Reader]
    entities: [Note]
";

async fn create_app(node: &Node, admin: &str) {
    let (status, body) = node
        .post(
            "/api/v1/authz/write",
            admin,
            json!({ "operations": [{ "op": "create_application", "name": "shop" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
}

/// Publishes `source` as a version of `notes` on `node`; its number.
async fn publish(node: &Node, admin: &str, module: &str, source: &str) -> i64 {
    let (status, body) = node
        .post(
            &format!("/api/v1/modules/{module}/versions"),
            admin,
            json!({ "source": source, "message": "release" }),
        )
        .await;
    assert!(status.is_success(), "{}: publish: {body}", node.name());
    body["version"]["version"].as_i64().unwrap()
}

async fn recipient(node: &Node, token: &str, env: &str) -> String {
    let (status, body) = node
        .get(&format!("/api/v1/environments/{env}/public-key"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    body["recipient"].as_str().unwrap().to_owned()
}

/// Seals version `number` of `module` on `vendor` (read with the vendor's token, as `rampart
/// module seal` does) for `to` under `key`.
async fn seal(
    vendor: &Node,
    token: &str,
    module: &str,
    number: i64,
    to: &str,
    key: &PublisherKey,
) -> Vec<u8> {
    let (status, v) = vendor
        .get(
            &format!("/api/v1/modules/{module}/versions/{number}"),
            token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {v}", vendor.name());
    let source = v["source"].as_str().unwrap();
    let parsed = rampart_model::parse(module, source).unwrap();
    let surface = serde_json::to_string(&rampart_model::Surface::of(&parsed)).unwrap();
    rampart_sealed::seal(
        Contents {
            module,
            version: number,
            surface: &surface,
            source,
        },
        to,
        key,
    )
    .unwrap()
    .encode()
}

async fn import(node: &Node, token: &str, env: &str, package: Vec<u8>) -> (StatusCode, Value) {
    let response = node
        .client
        .post(format!("{}/api/v1/environments/{env}/imports", node.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(package)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn trust(node: &Node, admin: &str, name: &str, key: &PublisherKey) {
    let (status, body) = node
        .post(
            "/api/v1/publishers",
            admin,
            json!({ "name": name, "public_key": key.public().to_string() }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
}

/// What B stores of `notes`: its versions' numbers.
async fn versions(node: &Node, admin: &str) -> Vec<i64> {
    let (status, body) = node.get("/api/v1/modules/notes/versions", admin).await;
    if status == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    body.as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect()
}

fn denied(events: &[rampart_store::StoredEvent], target: &str) -> usize {
    events
        .iter()
        .filter(|e| {
            e.stream == "access" && e.outcome == "deny" && e.target.as_deref() == Some(target)
        })
        .count()
}

#[tokio::test]
async fn a_sealed_module_runs_at_another_installation_which_never_sees_its_source() {
    on_both(no_tweak, |vendor| async move {
        let client = start(vendor.kind, no_tweak).await;
        let (va, ca) = (vendor.admin().await, client.admin().await);
        create_app(&vendor, &va).await;
        create_app(&client, &ca).await;
        assert_eq!(publish(&vendor, &va, "notes", NOTES).await, 1);
        let key = PublisherKey::generate().unwrap();
        let to = recipient(&client, &ca, "development").await;
        // The key is stable and private to its installation and environment.
        assert_eq!(recipient(&client, &ca, "development").await, to);
        assert_ne!(recipient(&client, &ca, "production").await, to);
        assert_ne!(recipient(&vendor, &va, "development").await, to);
        let package = seal(&vendor, &va, "notes", 1, &to, &key).await;
        assert!(
            !String::from_utf8_lossy(&package).contains("widgets"),
            "the source is encrypted"
        );

        // Untrusted first: refused, nothing stored.
        let (status, body) = import(&client, &ca, "development", package.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: {body}", client.name());
        assert!(versions(&client, &ca).await.is_empty());

        trust(&client, &ca, "acme", &key).await;
        let (status, body) = import(&client, &ca, "development", package.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", client.name());
        assert_eq!(body["version"]["version"], 1);
        assert_eq!(body["publisher"], "acme");

        // Deployed, run: an end user with the role writes and reads a record.
        let (status, body) = client
            .post(
                "/api/v1/environments/development/deployments",
                &ca,
                json!({ "modules": [{ "module": "notes", "version": 1 }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: deploy: {body}", client.name());
        assert!(
            body["changes"][0]["changes"].is_null(),
            "{}: no structural diff of a sealed version: {body}",
            client.name()
        );
        let reader = client
            .create_user(Provider::End, "reader", USER_PASSWORD, false)
            .await;
        let (status, body) = client
            .post(
                "/api/v1/authz/write",
                &ca,
                json!({ "operations": [{ "op": "grant_role", "application": "shop", "role": "Reader",
                    "principal": { "type": "user", "id": reader } }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", client.name());
        let token = client.login("end", "reader", USER_PASSWORD).await;
        let base = "/apps/development/shop/api/notes/Note";
        let (status, body) = client.post(base, &token, json!({ "title": "hello" })).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", client.name());
        let (status, page) = client.get(base, &token).await;
        assert_eq!(status, StatusCode::OK, "{}: {page}", client.name());
        assert_eq!(
            page["items"][0]["values"]["title"],
            "hello",
            "{}",
            client.name()
        );

        // Referenced: a module of B's own uses its public elements, and deploys beside it.
        assert_eq!(publish(&client, &ca, "portal", PORTAL).await, 1);
        let (status, body) = client
            .post(
                "/api/v1/environments/development/deployments",
                &ca,
                json!({ "modules": [{ "module": "portal", "version": 1 }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: deploy portal: {body}", client.name());
        // Its surface is what `reference` shows.
        let (status, surface) = client.get("/api/v1/modules/notes/surface", &ca).await;
        assert_eq!(status, StatusCode::OK, "{}: {surface}", client.name());
        assert!(surface.to_string().contains("Note"));

        // A sealed version never runs in another environment.
        let (status, body) = client
            .post(
                "/api/v1/environments/production/deployments",
                &ca,
                json!({ "modules": [{ "module": "notes", "version": 1 }] }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", client.name());

        // A second version, newer: imported; then no source and no diff, to anyone.
        let v2 = NOTES.replace("required: true}", "required: true}\n      - {name: body, type: text}");
        assert_eq!(publish(&vendor, &va, "notes", &v2).await, 2);
        let package2 = seal(&vendor, &va, "notes", 2, &to, &key).await;
        let (status, body) = import(&client, &ca, "development", package2.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", client.name());
        for (path, target) in [
            ("/api/v1/modules/notes/versions/1", "module:notes@1/source"),
            ("/api/v1/modules/notes/versions/2", "module:notes@2/source"),
            ("/api/v1/modules/notes/diff?from=1&to=2", "module:notes@1..2/diff"),
        ] {
            let before = denied(&client.events().await, target);
            let response = client.request(Method::GET, path, Some(&ca), None).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::FORBIDDEN, "{}: {path}: {body}", client.name());
            assert_eq!(problem_type(&body), "sealed-module", "{body}");
            assert!(!body.to_string().contains("widgets"), "{}: {body}", client.name());
            assert_eq!(
                denied(&client.events().await, target),
                before + 1,
                "{}: {path} refused and audited",
                client.name()
            );
        }
        // The import is an audit event.
        assert!(client
            .events()
            .await
            .iter()
            .any(|e| e.action == "module.import" && e.target.as_deref() == Some("module:notes")));
        // Nothing on B holds the source in the clear.
        let rows: Vec<(String,)> = sqlx_sources(&client).await;
        assert!(rows.iter().all(|(s,)| s.is_empty()), "{}", client.name());

        // The publish-time checks run on the import too: a warning is kept with the version
        // (naming the rule and the element, never the source's text) and waits for an
        // acceptance; an error refuses the package.
        let v3 = v2.replace("kind: form", "kind: form\n    https: false");
        assert_eq!(publish(&vendor, &va, "notes", &v3).await, 3);
        let package3 = seal(&vendor, &va, "notes", 3, &to, &key).await;
        let (status, body) = import(&client, &ca, "development", package3).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", client.name());
        let (status, found) = client.get("/api/v1/modules/notes/versions/3/findings", &ca).await;
        assert_eq!(status, StatusCode::OK, "{}: {found}", client.name());
        assert_eq!(found["pending"], 1, "{}: {found}", client.name());
        assert_eq!(found["findings"][0]["rule"], "RS009", "{}: {found}", client.name());
        let with_secret = v3.replace(
            "roles:\n",
            "properties:\n  - {name: Banner, type: text, default: \"AKIAZ7Q3HX2M4RPLW9TB\"}\nroles:\n",
        );
        let parsed = rampart_model::parse("notes", &with_secret).unwrap();
        let surface = serde_json::to_string(&rampart_model::Surface::of(&parsed)).unwrap();
        let package4 = rampart_sealed::seal(
            Contents { module: "notes", version: 4, surface: &surface, source: &with_secret },
            &to,
            &key,
        )
        .unwrap()
        .encode();
        let (status, body) = import(&client, &ca, "development", package4).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {body}", client.name());
        assert!(body["detail"].as_str().unwrap().contains("RS012"), "{}: {body}", client.name());
        assert!(!body.to_string().contains("AKIA"), "{}: {body}", client.name());
        let mut kept = versions(&client, &ca).await;
        kept.sort_unstable();
        assert_eq!(kept, [1, 2, 3], "{}: nothing of version 4 was kept", client.name());
        client.shutdown().await;
    })
    .await;
}

/// The `source` column of every version of `notes` on `node`.
async fn sqlx_sources(node: &Node) -> Vec<(String,)> {
    let store = &node.server().state.store;
    let mut out = Vec::new();
    for n in [1, 2] {
        if let Some(v) = store.module_version("notes", Some(n)).await.unwrap() {
            out.push((v.source,));
        }
    }
    assert!(!out.is_empty());
    out
}

#[tokio::test]
async fn bad_packages_are_refused_with_a_clear_error_and_store_nothing() {
    on_both(no_tweak, |vendor| async move {
        let client = start(vendor.kind, no_tweak).await;
        let (va, ca) = (vendor.admin().await, client.admin().await);
        create_app(&vendor, &va).await;
        create_app(&client, &ca).await;
        publish(&vendor, &va, "notes", NOTES).await;
        let v2 = NOTES.replace(
            "required: true}",
            "required: true}\n      - {name: body, type: text}",
        );
        publish(&vendor, &va, "notes", &v2).await;
        let key = PublisherKey::generate().unwrap();
        let other_key = PublisherKey::generate().unwrap();
        let dev = recipient(&client, &ca, "development").await;
        let prod = recipient(&client, &ca, "production").await;
        let vendors_own = recipient(&vendor, &va, "development").await;
        trust(&client, &ca, "acme", &key).await;
        trust(&client, &ca, "gone", &other_key).await;
        let (status, body) = client
            .post_empty("/api/v1/publishers/gone/revoke", &ca)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{}: {body}", client.name());
        let untrusted = PublisherKey::generate().unwrap();

        let good = seal(&vendor, &va, "notes", 1, &dev, &key).await;
        let mut tampered = good.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x01;
        let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
            (
                "tampered",
                tampered,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            (
                "not a package",
                b"{\"hello\":1}".to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            (
                "another environment",
                seal(&vendor, &va, "notes", 1, &prod, &key).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            (
                "another installation",
                seal(&vendor, &va, "notes", 1, &vendors_own, &key).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
            ),
            (
                "untrusted publisher",
                seal(&vendor, &va, "notes", 1, &dev, &untrusted).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                "revoked publisher",
                seal(&vendor, &va, "notes", 1, &dev, &other_key).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
        ];
        for (case, package, want, kind) in cases {
            let (status, body) = import(&client, &ca, "development", package).await;
            assert_eq!(status, want, "{}: {case}: {body}", client.name());
            assert_eq!(problem_type(&body), kind, "{case}");
            assert!(
                versions(&client, &ca).await.is_empty(),
                "{}: {case} stored something",
                client.name()
            );
        }
        // Only administrators import.
        client
            .create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        let dev_token = client.login("it", "dev", USER_PASSWORD).await;
        let (status, _) = import(&client, &dev_token, "development", good.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = client.get("/api/v1/publishers", &dev_token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Version 2 first, then the older version 1 and version 2 again: replays, refused.
        let (status, body) = import(
            &client,
            &ca,
            "development",
            seal(&vendor, &va, "notes", 2, &dev, &key).await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", client.name());
        for (case, package) in [
            ("older version", good.clone()),
            (
                "same version again",
                seal(&vendor, &va, "notes", 2, &dev, &key).await,
            ),
        ] {
            let (status, body) = import(&client, &ca, "development", package).await;
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "{}: {case}: {body}",
                client.name()
            );
            assert_eq!(
                versions(&client, &ca).await,
                vec![2],
                "{}: {case}",
                client.name()
            );
        }
        // Deleting the imported version does not open the door to an older one.
        let (status, body) = client.delete("/api/v1/modules/notes/versions/2", &ca).await;
        assert!(status.is_success(), "{}: {body}", client.name());
        let (status, body) = import(&client, &ca, "development", good).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", client.name());
        // Refused imports are audited, each with the reason the importer was told.
        let refused: Vec<_> = client
            .events()
            .await
            .into_iter()
            .filter(|e| {
                e.action == "module.import"
                    && e.outcome == "failure"
                    && e.stream == "system"
                    && e.environment.as_deref() == Some("development")
                    && e.target.as_deref() == Some("environment:development/imports")
            })
            .collect();
        assert!(refused.len() >= 9, "{}: {refused:?}", client.name());
        let reasons: Vec<String> = refused
            .iter()
            .filter_map(|e| {
                let details: Value = serde_json::from_str(&e.details).ok()?;
                details["reason"].as_str().map(str::to_owned)
            })
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains("publisher")),
            "{}: {reasons:?}",
            client.name()
        );
        // Publishers list shows the revoked one.
        let (status, list) = client.get("/api/v1/publishers", &ca).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list[1]["name"], "gone");
        assert!(list[1]["revoked_at"].is_string(), "{list}");
        client.shutdown().await;
    })
    .await;
}
