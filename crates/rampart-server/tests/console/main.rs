//! The console in a real browser: a server on each store (SQLite and PostgreSQL), seeded
//! through the API, and the scenarios of `tests/console/run.js` driving Debian's headless
//! Chromium through playwright-core, with axe-core checking every page it opens. One
//! scenario is an application's: end users sign in to its screens, record a sale through
//! a form and see only their own.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`; `.ci/run` installs it) and Node
//! with npm: the harness runs `npm ci` in `tests/console` when its `node_modules` is missing.
//! With `RAMPART_CONSOLE_SCREENSHOTS=1` the SQLite run writes the screenshots of
//! `docs/console/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod alerts;
mod forms;
mod history;
mod idp;
mod idp_edit;
#[path = "../kit/mod.rs"]
mod kit;
mod passkeys;
mod plans;
mod rebuild;
mod support;
mod support_link;
mod two_factor;

use std::path::{Path, PathBuf};
use std::process::Command;

use kit::{no_tweak, on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};
use rampart_core::Provider;
use rampart_store::BackendKind;
use reqwest::StatusCode;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";

fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/console")
}

/// `npm ci` in the harness when its dependencies are not installed yet. The browser tests run
/// on several threads at once; one lock makes the first install the only one (two `npm ci` in
/// one directory remove each other's files).
fn install_harness() {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _only_one = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = harness();
    if dir.join("node_modules/playwright-core").is_dir()
        && dir.join("node_modules/axe-core").is_dir()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .unwrap_or_else(|e| panic!("npm is needed for the console's browser tests: {e}"));
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

/// Runs the Node script `script` of the harness against `node` in headless Chromium, with
/// `env` besides the base address and the browser (and the screenshot directory when
/// `RAMPART_CONSOLE_SCREENSHOTS=1`, on SQLite); asserts that it succeeded with `expected`
/// scenarios passed (`what` names them in a failure) and returns what it printed.
pub(crate) async fn run_script(
    node: &kit::Node,
    script: &str,
    what: &str,
    env: &[(&str, String)],
    expected: usize,
) -> String {
    let name = node.name();
    let mut command = Command::new("node");
    command
        .arg(script)
        .current_dir(harness())
        .env("CONSOLE_BASE", &node.base)
        .env("CONSOLE_CHROMIUM", CHROMIUM);
    for (key, value) in env {
        command.env(key, value);
    }
    if std::env::var("RAMPART_CONSOLE_SCREENSHOTS").is_ok_and(|v| v == "1")
        && node.kind == rampart_store::BackendKind::Sqlite
    {
        command.env(
            "CONSOLE_SCREENSHOTS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console"),
        );
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("--- {name} ---\n{stdout}");
    assert!(
        output.status.success(),
        "{name}: {what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, expected, "{name}:\n{stdout}");
    stdout
}

/// Users the scenarios need, made through the API as an administrator would, and a day of
/// events spread over the hours (for the audit page's chart).
async fn seed(node: &Node) {
    node.create_user(Provider::It, "admin", ADMIN_PASSWORD, true)
        .await;
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let audrey = node
        .create_user(Provider::It, "audrey", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/it/write",
            &admin,
            json!({ "operations": [{ "op": "set_it_role", "user": audrey, "role": "auditor" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    for (provider, name) in [("it", "carol"), ("end", "dana"), ("end", "erin")] {
        node.clock.advance(time::Duration::minutes(50));
        let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
        let (status, body) = node
            .post(
                "/api/v1/users",
                &admin,
                json!({ "provider": provider, "username": name, "password": USER_PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    }
    // End users at work (the access stream) and a mistyped password now and then.
    for hour in 0..8 {
        node.clock.advance(time::Duration::minutes(40));
        let erin = node.login("end", "erin", USER_PASSWORD).await;
        for _ in 0..(hour % 4) {
            let (status, _) = node.get("/api/v1/auth/me", &erin).await;
            assert_eq!(status, StatusCode::OK);
        }
        if hour % 4 == 0 {
            node.login_response("end", "dana", "not-her-password").await;
        }
    }
    // An application for the end users' scenario: dana and erin are its reps.
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let ops = json!([{ "op": "create_application", "name": "shop" }]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    let (status, body) = node
        .post(
            "/api/v1/modules/crm/versions",
            &admin,
            json!({ "source": SHOP, "message": "the shop" }),
        )
        .await;
    assert!(status.is_success(), "{}: publish: {body}", node.name());
    let (status, body) = node
        .post(
            "/api/v1/environments/development/deployments",
            &admin,
            json!({ "modules": [{ "module": "crm", "version": 1 }] }),
        )
        .await;
    assert!(status.is_success(), "{}: deploy: {body}", node.name());
    let mut grants = Vec::new();
    for rep in ["dana", "erin"] {
        let (_, page) = node
            .get(&format!("/api/v1/users?prefix={rep}"), &admin)
            .await;
        let id = page["items"][0]["id"].as_str().unwrap().to_owned();
        grants.push(json!({ "op": "grant_role", "application": "shop", "role": "Rep", "principal": { "type": "user", "id": id } }));
    }
    let (status, body) = node
        .post(
            "/api/v1/authz/write",
            &admin,
            json!({ "operations": grants }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    // A second version of the module, for the diff; IT users for the lifecycle's pages: two
    // operators (one deploys, the other approves) and a contractor holding `reference`.
    let (status, body) = node
        .post(
            "/api/v1/modules/crm/versions",
            &admin,
            json!({ "source": SHOP.replace("max_length: 200", "max_length: 300")
                .replace("      - {name: rep,", "      - {name: channel, type: text}\n      - {name: rep,")
                .replace("  - name: Sale\n", "  - name: Sale\n    public: true\n    description: A sale a rep made\n"),
                "message": "longer notes, a sales channel", "parent": 1 }),
        )
        .await;
    assert!(status.is_success(), "{}: publish v2: {body}", node.name());
    let mut roles = Vec::new();
    for (name, role) in [
        ("olga", "operations"),
        ("oscar", "operations"),
        ("connie", "contractor"),
    ] {
        let id = node
            .create_user(Provider::It, name, USER_PASSWORD, false)
            .await;
        roles.push(json!({ "op": "set_it_role", "user": id, "role": role }));
    }
    let (status, body) = node
        .post("/api/v1/it/write", &admin, json!({ "operations": roles }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    // A reports-to tree (mia ← dana ← erin; nick ← owen) and an entity whose owner rule
    // follows it, with a record erin owns: mia sees it, through dana.
    let mut ids = std::collections::HashMap::new();
    for name in ["mia", "nick", "owen"] {
        node.create_user(Provider::End, name, USER_PASSWORD, false)
            .await;
    }
    for name in ["mia", "nick", "owen", "dana", "erin"] {
        let (_, page) = node
            .get(&format!("/api/v1/users?prefix={name}&provider=end"), &admin)
            .await;
        ids.insert(name, page["items"][0]["id"].as_str().unwrap().to_owned());
    }
    let ops = json!([
        { "op": "create_hierarchy", "name": "reports", "kind": "reports_to" },
        { "op": "set_parent", "hierarchy": "reports", "node": ids["dana"], "parent": ids["mia"] },
        { "op": "set_parent", "hierarchy": "reports", "node": ids["erin"], "parent": ids["dana"] },
        { "op": "set_parent", "hierarchy": "reports", "node": ids["owen"], "parent": ids["nick"] },
        { "op": "put_entity", "name": "Deal", "owner_hierarchy": "reports" },
        { "op": "put_records", "entity": "Deal", "records": [{ "key": "d-1", "owner": ids["erin"] }] },
    ]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    // A session of the administrator's elsewhere, open now, for "my sessions" to end.
    node.login("it", "admin", ADMIN_PASSWORD).await;
}

/// The application the end users' scenario signs in to: sales each rep owns.
const SHOP: &str = r#"
module: crm
application: shop
roles: [{name: Rep}]
entities:
  - name: Sale
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: note, type: text, max_length: 200}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep}
screens:
  - name: Sales
    kind: list
    entity: Sale
    roles: [Rep]
    widgets:
      - {kind: table, columns: [record.amount, record.note]}
      - {kind: link, label: New sale, target: '"NewSale"'}
  - name: SaleDetail
    kind: detail
    entity: Sale
    parameters: [{name: sale, type: reference, entity: Sale}]
    roles: [Rep]
    widgets:
      - {kind: text, label: Note, value: record.note}
  - name: NewSale
    kind: form
    entity: Sale
    roles: [Rep]
    widgets:
      - {kind: field, value: amount}
      - {kind: field, value: note}
      - {kind: button, label: Save, action: RecordSale}
actions:
  - name: RecordSale
    roles: [Rep]
    parameters: [{name: amount, type: decimal}, {name: note, type: text, required: false}]
    returns: Sale
    steps:
      - create: {entity: Sale, values: {amount: params.amount, note: params.note, rep: user.id}, into: sale}
      - redirect: {target: '"SaleDetail?sale=" + sale.id'}
"#;

async fn run_scenarios(node: Node) {
    let name = node.name();
    seed(&node).await;
    let screenshots = std::env::var("RAMPART_CONSOLE_SCREENSHOTS").is_ok_and(|v| v == "1")
        && node.kind == BackendKind::Sqlite;
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new("node");
    command
        .env("CONSOLE_OUT", out.path())
        .arg("run.js")
        .current_dir(harness())
        .env("CONSOLE_BASE", &node.base)
        .env("CONSOLE_CHROMIUM", CHROMIUM)
        .env("CONSOLE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CONSOLE_USER_PASSWORD", USER_PASSWORD)
        .env("CONSOLE_STORE", name);
    if screenshots {
        command.env(
            "CONSOLE_SCREENSHOTS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console"),
        );
    }
    // The scenarios block this thread; the server runs on the runtime's other worker.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- {name} ---\n{stdout}");
    if !stderr.is_empty() {
        eprintln!("{stderr}");
    }
    assert!(
        output.status.success(),
        "{name}: the console's browser scenarios failed:\n{stdout}\n{stderr}"
    );
    // Every scenario ran and passed: the harness prints one line per scenario.
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(
        passed >= 30,
        "{name}: only {passed} scenarios passed:\n{stdout}"
    );
    assert!(!stdout.contains("not ok"), "{name}:\n{stdout}");
    // The proof bundle the browser downloaded verifies with the log's key as auditors check
    // it (`rampart audit verify-proof` runs this function), and a tampered copy does not.
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let (_, checkpoint) = node.get("/api/v1/audit/checkpoint", &admin).await;
    let key =
        rampart_audit::VerifierKey::parse(checkpoint["verifier_key"].as_str().unwrap()).unwrap();
    let text = std::fs::read_to_string(out.path().join("proof.json")).unwrap();
    let bundle = rampart_audit::ProofBundle::parse(&text).unwrap();
    let verified = rampart_audit::verify_bundle(&bundle, &key, None).unwrap();
    assert_eq!(verified.seq, bundle.seq, "{name}");
    assert!(verified.event_checked, "{name}");
    let mut tampered = bundle.clone();
    tampered.event = tampered
        .event
        .map(|e| e.replacen("user.create", "user.delete", 1));
    assert!(
        matches!(
            rampart_audit::verify_bundle(&tampered, &key, None),
            Err(rampart_audit::BundleError::Altered { .. })
        ),
        "{name}"
    );
    // What the browser did went through the service layer: the user the administrator made
    // in the console exists and is enabled again, and the auditor's forged disable changed
    // nothing.
    let admin = node.login("it", "admin", ADMIN_PASSWORD).await;
    let (_, page) = node.get("/api/v1/users?prefix=frank", &admin).await;
    assert_eq!(page["items"][0]["username"], "frank", "{name}: {page}");
    assert_eq!(page["items"][0]["disabled"], false, "{name}: {page}");
    let (_, page) = node.get("/api/v1/users?prefix=dana", &admin).await;
    assert_eq!(page["items"][0]["disabled"], false, "{name}: {page}");
    // The override set in the matrix is carol's level through the API; what the operators
    // deployed and approved runs in production; the auditor's forged override changed
    // nothing.
    let (_, page) = node.get("/api/v1/users?prefix=carol", &admin).await;
    let carol = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, level) = node
        .get(
            &format!("/api/v1/it/level?user={carol}&module=crm&environment=development"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {level}");
    assert_eq!(level["level"], "open", "{name}: {level}");
    assert_eq!(level["decided_by"], "module_override", "{name}: {level}");
    let (_, level) = node
        .get(
            &format!("/api/v1/it/level?user={carol}&module=crm&environment=quality"),
            &admin,
        )
        .await;
    assert_eq!(level["level"], "reference", "{name}: {level}");
    let (_, running) = node
        .get("/api/v1/environments/production/modules", &admin)
        .await;
    assert_eq!(
        running,
        json!([{ "module": "crm", "version": 2 }]),
        "{name}"
    );
    // The console's reads and refusals are in the audit trail as the API's are: carol's
    // reading of a source in the `access` stream under her name, and the end user's refused
    // console pages as denied accesses.
    let (_, found) = node
        .get(
            "/api/v1/audit/events?stream=access&actor=it:carol&q=module:crm@1/source",
            &admin,
        )
        .await;
    assert!(
        !found["items"].as_array().unwrap().is_empty(),
        "{name}: {found}"
    );
    let (_, found) = node
        .get(
            "/api/v1/audit/events?stream=access&actor=end:erin&outcome=deny&q=/console/",
            &admin,
        )
        .await;
    let denied = found["items"].as_array().unwrap();
    assert!(denied.len() >= 3, "{name}: {found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}: \
         apt-get install chromium (.ci/run installs it)"
    );
    install_harness();
    on_both(no_tweak, run_scenarios).await;
}
