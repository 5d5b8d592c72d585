//! `rampart backup`, `rampart restore` (and its drill) and `rampart posture`, as an operator
//! runs them: a backup taken while the server serves writes, restored into a fresh data
//! directory, a server started on it and compared with the original; the refusals; the
//! posture report reading what was recorded.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{create_admin, failure_message, rampart, run, Running, PASSWORD};

/// `rampart serve --demo` on `data_dir` with `env`, once ready.
#[allow(clippy::zombie_processes)] // waited for by `Running::stop`
pub(super) fn serve_with(data_dir: &Path, args: &[&str], env: &[(&str, String)]) -> Running {
    use std::io::BufRead as _;
    let mut command = rampart(data_dir);
    command
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Ok(event) = serde_json::from_str::<Value>(&line) {
            if event["message"] == "rampart ready" {
                let https = event["https"].as_str().expect("https").to_owned();
                let http = event["http"].as_str().expect("http").to_owned();
                let log = std::thread::spawn(move || {
                    lines.map_while(Result::ok).collect::<Vec<_>>().join("\n")
                });
                return Running {
                    child,
                    https,
                    http,
                    metrics: None,
                    log: Some(log),
                };
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("rampart serve did not become ready");
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

pub(super) async fn token(https: &str, provider: &str, username: &str, password: &str) -> String {
    let r = client()
        .post(format!("https://{https}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password, "provider": provider}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login {username}");
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `rampart serve --demo` is ready before its people are seeded: signs in once they are.
pub(super) async fn seeded_token(https: &str, username: &str, password: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = client()
            .post(format!("https://{https}/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password, "provider": "end"}))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            return r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert!(Instant::now() < deadline, "the demo was not seeded");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The demo's customers as `token` sees them, once the demo is seeded to the end (its people
/// can sign in before their roles and the records are written).
pub(super) async fn seeded_customers(https: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = client()
            .get(format!(
                "https://{https}/apps/development/sales/api/core-service/Customer?limit=500"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let page: Value = r.json().await.unwrap();
            if page["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
            {
                return page;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the demo's customers were not seeded"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub(super) async fn get(https: &str, path: &str, token: &str) -> Value {
    let r = client()
        .get(format!("https://{https}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

/// What the comparison covers: users, each demo person's roles in `sales`, the modules'
/// versions, and the records each person sees.
async fn state_of(https: &str, admin: &str) -> (Value, Value, Value, Value) {
    let users = get(https, "/api/v1/users?limit=200", admin).await;
    let mut roles = serde_json::Map::new();
    let mut records = serde_json::Map::new();
    for item in users["items"].as_array().unwrap() {
        let (id, name) = (
            item["id"].as_str().unwrap(),
            item["username"].as_str().unwrap(),
        );
        if item["provider"] == "end" {
            let mut r = get(
                https,
                &format!("/api/v1/authz/roles?user={id}&application=sales"),
                admin,
            )
            .await;
            r.as_object_mut().unwrap().remove("revision");
            roles.insert(name.to_owned(), r);
        }
    }
    for person in ["dana", "rita", "ravi"] {
        let t = token(https, "end", person, demo_password(person)).await;
        let sales = get(
            https,
            "/apps/development/sales/api/sales-ui/Sale?limit=500",
            &t,
        )
        .await;
        let customers = get(
            https,
            "/apps/development/sales/api/core-service/Customer?limit=500",
            &t,
        )
        .await;
        records.insert(
            person.to_owned(),
            json!({"sales": sales["items"], "customers": customers["items"]}),
        );
    }
    let mut modules = serde_json::Map::new();
    for m in ["core-service", "sales-ui", "sales-reports"] {
        modules.insert(
            m.to_owned(),
            get(https, &format!("/api/v1/modules/{m}/versions"), admin).await,
        );
    }
    let mut users = users;
    // Sign-ins during the comparison itself change last-login times; the rest must match.
    for item in users["items"].as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("last_login_at");
    }
    (
        users,
        Value::Object(roles),
        Value::Object(modules),
        Value::Object(records),
    )
}

pub(super) fn demo_password(person: &str) -> &'static str {
    match person {
        "dana" => "quartz-meadow-lantern-58",
        "rita" => "amber-falcon-orchard-26",
        "ravi" => "cobalt-thistle-canyon-93",
        other => panic!("no demo password for {other}"),
    }
}

/// A new age X25519 identity file and its recipient file.
fn age_key_files(dir: &Path) -> (PathBuf, PathBuf) {
    let id = age::x25519::Identity::generate();
    let identity = dir.join("backup.key");
    let recipient = dir.join("backup.pub");
    use age::secrecy::ExposeSecret as _;
    std::fs::write(&identity, format!("{}\n", id.to_string().expose_secret())).unwrap();
    std::fs::write(&recipient, format!("{}\n", id.to_public())).unwrap();
    (identity, recipient)
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn posture(data_dir: &Path, env: &[(&str, String)]) -> (bool, Value, String) {
    let mut command = rampart(data_dir);
    command.args(["posture", "--format", "json"]);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = run(&mut command);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "posture printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.success(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn control<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_into_a_node_with_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    let created = create_admin(&node, &[], PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    let server = serve_with(&node, &["--demo"], &[]);
    let https = server.https.clone();
    let admin = token(&https, "it", "root-admin", PASSWORD).await;

    // Writes while the backup runs: sales recorded by rita through the data API, and
    // sign-ins (sessions, audit events).
    let rita = seeded_token(&https, "rita", demo_password("rita")).await;
    let rita_id = get(&https, "/api/v1/auth/me", &rita).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let customers = seeded_customers(&https, &rita).await;
    let customer = customers["items"][0]["id"].as_str().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, https, rita) = (stop.clone(), https.clone(), rita.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let r = client()
                    .post(format!(
                        "https://{https}/apps/development/sales/api/sales-ui/Sale"
                    ))
                    .bearer_auth(&rita)
                    .json(&json!({
                        "customer": customer, "amount": format!("{n}.50"),
                        "closed_on": "2026-11-30", "rep": rita_id,
                        "notes": format!("written under backup {n}")
                    }))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: Value = r.json().await.unwrap_or_default();
                assert_eq!(status, 201, "a sale is recorded: {body}");
                acknowledged.push(body["id"].as_str().unwrap().to_owned());
                token(&https, "end", "ravi", demo_password("ravi")).await;
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (identity, recipient) = age_key_files(dir.path());
    let archive = dir.path().join("node.rbk");
    let backup_out = {
        let mut command = rampart(&node);
        command
            .args(["backup", "--output"])
            .arg(&archive)
            .args(["--include-keys", "--keys-recipient-file"])
            .arg(&recipient);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    };
    let printed = ok(&backup_out);
    assert!(printed.contains("audit log:"), "{printed}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let acknowledged = writer.await.unwrap();
    assert!(acknowledged.len() >= 2, "writes ran during the backup");
    let partial = PathBuf::from(format!("{}.partial", archive.display()));
    assert!(archive.is_file() && !partial.exists());

    // Source: what it holds now (a superset of the backup, which ended earlier).
    let (users, roles, modules, records) = state_of(&https, &admin).await;
    let public_key = ok(&run(rampart(&node).args(["audit", "public-key"])));

    // Restore into a fresh directory and start a server there.
    let restored = dir.path().join("restored");
    let restore_out = run(rampart(&restored)
        .args(["restore"])
        .arg(&archive)
        .arg("--keys-identity-file")
        .arg(&identity));
    let printed = ok(&restore_out);
    assert!(printed.contains("audit events verified"), "{printed}");
    let master_key = dir.path().join("node.demo-master.key");
    let env = [(
        "RAMPART_KEYS__MASTER_KEY",
        format!("file:{}", master_key.display()),
    )];
    let copy = serve_with(&restored, &[], &env);
    let admin2 = token(&copy.https, "it", "root-admin", PASSWORD).await;
    let (users2, roles2, modules2, records2) = state_of(&copy.https, &admin2).await;
    assert_eq!(users2, users, "users");
    assert_eq!(roles2, roles, "roles of every end user");
    assert_eq!(modules2, modules, "module versions");
    // Sales: every one the restored node has is the source's, unchanged; those
    // acknowledged before the backup started are all there; later ones may be missing.
    for person in ["dana", "rita", "ravi"] {
        assert_eq!(
            records2[person]["customers"], records[person]["customers"],
            "{person}"
        );
        let source: Vec<&Value> = records[person]["sales"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        for sale in records2[person]["sales"].as_array().unwrap() {
            assert!(source.contains(&sale), "{person}: {sale} is the source's");
        }
    }
    let restored_sales: Vec<&str> = records2["rita"]["sales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        restored_sales.contains(&acknowledged[0].as_str()),
        "a sale acknowledged before the backup is restored"
    );
    // The restored log verifies with the source's key, and says it was restored.
    let _ = copy.stop();
    let export = dir.path().join("restored-audit.jsonl");
    ok(&run(rampart(&restored)
        .env("RAMPART_KEYS__MASTER_KEY", &env[0].1)
        .args(["audit", "export", "--output"])
        .arg(&export)));
    let verified = ok(&run(rampart(&restored)
        .args(["audit", "verify"])
        .arg(&export)
        .args(["--public-key", public_key.trim()])));
    assert!(verified.starts_with("verified:"), "{verified}");
    let log = std::fs::read_to_string(&export).unwrap();
    assert!(
        log.contains("\"backup.restore\""),
        "the restore is in the log"
    );

    // The drill, recorded in the source node; the posture report reads it.
    let drill = ok(&run(rampart(&node)
        .args(["restore"])
        .arg(&archive)
        .args(["--drill", "--keys-identity-file"])
        .arg(&identity)));
    assert!(drill.contains("drill passed"), "{drill}");
    assert!(!PathBuf::from(format!("{}.drill", archive.display())).exists());
    let (passed, report, stderr) = posture(&node, &[]);
    assert_eq!(
        control(&report, "availability.backups")["status"],
        "pass",
        "{report}"
    );
    assert!(control(&report, "availability.backups")["evidence"]
        .to_string()
        .contains("recovered in"));
    // The demo's people sign in with passwords the README publishes: a critical failure,
    // and the exit status says so.
    assert_eq!(
        control(&report, "identity.default-credentials")["status"],
        "fail"
    );
    assert!(!passed && stderr.contains("critical control"), "{stderr}");
    let _ = server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_refuse_altered_backups_busy_directories_and_logs_that_do_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    assert!(create_admin(&node, &[], PASSWORD).status.success());
    let server = serve_with(&node, &[], &[]);
    token(&server.https, "it", "root-admin", PASSWORD).await;
    let _ = server.stop();
    let archive = dir.path().join("a.rbk");
    ok(&run(rampart(&node)
        .args(["backup", "--output"])
        .arg(&archive)));
    // Never over an existing file.
    let again = run(rampart(&node).args(["backup", "--output"]).arg(&archive));
    assert!(failure_message(&again).contains("exists already"));
    // Keys need a way to encrypt them, given as a reference, never on the command line.
    let keys = run(rampart(&node)
        .args(["backup", "--include-keys", "--output"])
        .arg(dir.path().join("k.rbk")));
    assert!(failure_message(&keys).contains("--keys-recipient-file"));
    let literal = run(rampart(&node)
        .args([
            "backup",
            "--include-keys",
            "--keys-passphrase",
            "hunter2",
            "--output",
        ])
        .arg(dir.path().join("k.rbk")));
    assert!(failure_message(&literal).contains("never the secret itself"));

    // A busy target.
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("something"), "x").unwrap();
    let refused = run(rampart(&busy).arg("restore").arg(&archive));
    assert!(failure_message(&refused).contains("is not empty"));
    assert_eq!(
        std::fs::read_dir(&busy).unwrap().count(),
        1,
        "left as it was"
    );

    // One byte changed inside a part.
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0x55;
    let altered = dir.path().join("altered.rbk");
    std::fs::write(&altered, &bytes).unwrap();
    let target = dir.path().join("t1");
    let refused = run(rampart(&target).arg("restore").arg(&altered));
    let message = failure_message(&refused);
    // Caught by the part's length, its gzip framing or its SHA-256, whichever comes first.
    assert!(message.contains("is not a usable backup"), "{message}");
    assert!(!target.exists(), "nothing left behind");
    // Cut short.
    let short = dir.path().join("short.rbk");
    std::fs::write(
        &short,
        &std::fs::read(&archive).unwrap()[..bytes.len() - 100],
    )
    .unwrap();
    let refused = run(rampart(&dir.path().join("t2")).arg("restore").arg(&short));
    assert!(failure_message(&refused).contains("incomplete"));

    // A log edited in the database behind the checkpoints: the backup is taken (its
    // hashes are of what it copied), the restore refuses it.
    super::tamper(
        &node,
        &["UPDATE audit_events SET body = replace(body, 'root-admin', 'someone-else') WHERE seq = (SELECT MIN(seq) FROM audit_events WHERE body LIKE '%root-admin%')"],
    )
    .await;
    let tampered = dir.path().join("tampered.rbk");
    ok(&run(rampart(&node)
        .args(["backup", "--output"])
        .arg(&tampered)));
    let target = dir.path().join("t3");
    let refused = run(rampart(&target).arg("restore").arg(&tampered));
    let message = failure_message(&refused);
    assert!(message.contains("does not verify"), "{message}");
    assert!(!target.exists(), "nothing left behind");
    // The untampered backup restores, and says its keys are not in it.
    let target = dir.path().join("t4");
    let printed = ok(&run(rampart(&target).arg("restore").arg(&archive)));
    assert!(printed.contains("holds no keys"), "{printed}");
    assert!(target.join("rampart.db").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_and_backups_on_sqlite_and_postgres() {
    let pg_url = rampart_store::testing::fresh_postgres_url().await;
    for database_url in [None, Some(pg_url)] {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(&str, String)> = database_url
            .iter()
            .map(|u| ("RAMPART_DATABASE_URL", u.clone()))
            .collect();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = serve_with(dir.path(), &[], &env);
        assert!(create_admin(dir.path(), &pairs, PASSWORD).status.success());
        token(&server.https, "it", "root-admin", PASSWORD).await;
        let (passed, report, stderr) = posture(dir.path(), &env);
        let kind = if database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        };
        assert_eq!(report["database"], kind);
        assert_eq!(report["controls"].as_array().unwrap().len(), 14);
        // No critical control fails on a fresh node: HTTPS with the development
        // certificate only warns.
        assert!(passed, "{stderr}\n{report}");
        assert_eq!(control(&report, "transport.https")["status"], "warn");
        assert_eq!(control(&report, "transport.tls-versions")["status"], "pass");
        assert_eq!(control(&report, "identity.admin-mfa")["status"], "fail");
        assert_eq!(control(&report, "availability.backups")["status"], "fail");
        assert_eq!(
            control(&report, "identity.default-credentials")["status"],
            "warn"
        );
        assert_eq!(
            control(&report, "applications.findings")["status"],
            "not-applicable"
        );
        assert_eq!(
            control(&report, "vulnerabilities.dependencies")["status"],
            "warn"
        );
        let text = ok(&run(rampart(dir.path())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("posture")));
        assert!(
            text.contains("PLATFORM") && text.contains("CUSTOMER"),
            "{text}"
        );
        assert!(text.contains("ISO 27001:2022 A.8.13"), "{text}");
        if let Some(url) = &database_url {
            // PostgreSQL: pg_dump of the running node, restored into an empty database.
            let archive = dir.path().join("pg.rbk");
            ok(&run(rampart(dir.path())
                .env("RAMPART_DATABASE_URL", url)
                .args(["backup", "--output"])
                .arg(&archive)));
            let busy = run(rampart(&dir.path().join("again"))
                .env("RAMPART_DATABASE_URL", url)
                .arg("restore")
                .arg(&archive));
            assert!(failure_message(&busy).contains("is not empty"));
            assert!(!dir.path().join("again").exists());
            let target = rampart_store::testing::fresh_postgres_url().await;
            let restored = dir.path().join("restored");
            let printed = ok(&run(rampart(&restored)
                .env("RAMPART_DATABASE_URL", &target)
                .arg("restore")
                .arg(&archive)));
            assert!(printed.contains("audit events verified"), "{printed}");
            // Into a SQLite directory it is refused, naming why.
            let refused = run(rampart(&dir.path().join("sqlite"))
                .arg("restore")
                .arg(&archive));
            assert!(failure_message(&refused).contains("PostgreSQL"));
            std::fs::copy(
                dir.path().join("audit-signing.key"),
                restored.join("audit-signing.key"),
            )
            .unwrap();
            let copy = serve_with(&restored, &[], &[("RAMPART_DATABASE_URL", target.clone())]);
            token(&copy.https, "it", "root-admin", PASSWORD).await;
            let _ = copy.stop();
            let (_, report, _) = posture(dir.path(), &env);
            assert_eq!(control(&report, "availability.backups")["status"], "warn");
        } else {
            ok(&run(rampart(dir.path())
                .args(["backup", "--output"])
                .arg(dir.path().join("b.rbk"))));
            let (_, report, _) = posture(dir.path(), &env);
            // A backup, but no restore tested yet.
            let backups = control(&report, "availability.backups");
            assert_eq!(backups["status"], "warn", "{backups}");
            assert!(backups["evidence"]
                .to_string()
                .contains("newest verified restore: none"));
        }
        let _ = server.stop();
    }
}

/// The drill's scratch databases (`rampart_drill_…`) on the test PostgreSQL server owned by
/// `owner`: none should outlive a drill, whether it passed or not.
async fn scratch_databases(owner: &str) -> Vec<String> {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(&rampart_store::testing::cluster_url())
        .await
        .unwrap();
    let names = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database \
         WHERE datname LIKE 'rampart\\_drill\\_%' AND pg_get_userbyid(datdba) = $1",
    )
    .bind(owner)
    .fetch_all(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    names
}

/// Runs `statements` on the PostgreSQL database at `url`.
async fn pg_exec(url: &str, statements: &[&str]) {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_drills_in_a_scratch_database_dropped_whatever_the_outcome() {
    let pg_url = rampart_store::testing::fresh_postgres_url().await;
    let env = [("RAMPART_DATABASE_URL", pg_url.clone())];
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    let created = create_admin(&node, &[("RAMPART_DATABASE_URL", &pg_url)], PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    // Data in every part of the database: the demo's people and roles, its modules and
    // deployments, application records (in their `app_<num>` schemas), sign-ins in the log.
    let server = serve_with(&node, &["--demo"], &env);
    let https = server.https.clone();
    token(&https, "it", "root-admin", PASSWORD).await;
    let rita = seeded_token(&https, "rita", demo_password("rita")).await;
    seeded_customers(&https, &rita).await;
    let archive = dir.path().join("pg.rbk");
    ok(&run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &pg_url)
        .args(["backup", "--output"])
        .arg(&archive)));
    // No drill yet: the backups control wants a verified restore.
    let (_, report, _) = posture(&node, &env);
    assert_eq!(control(&report, "availability.backups")["status"], "warn");

    // Without the live database named, the drill says what it needs, and creates nothing.
    let refused = run(rampart(&node).arg("restore").arg(&archive).arg("--drill"));
    let message = failure_message(&refused);
    assert!(message.contains("RAMPART_DATABASE_URL"), "{message}");
    assert!(!node.join("rampart.db").exists());

    // The drill, while the node serves: restored into a scratch database, started, counted,
    // dropped, and recorded in the live database.
    let drill = ok(&run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &pg_url)
        .arg("restore")
        .arg(&archive)
        .arg("--drill")));
    assert!(drill.contains("drill passed"), "{drill}");
    assert!(
        drill.contains("every table's count as the backup says"),
        "{drill}"
    );
    assert!(!PathBuf::from(format!("{}.drill", archive.display())).exists());
    assert_eq!(scratch_databases("postgres").await, Vec::<String>::new());
    let (_, report, _) = posture(&node, &env);
    let backups = control(&report, "availability.backups");
    assert_eq!(backups["status"], "pass", "{backups}");
    assert!(
        backups["evidence"].to_string().contains("recovered in"),
        "{backups}"
    );
    let store = rampart_store::Store::open_postgres(&pg_url, 2)
        .await
        .unwrap();
    let drills = store.backup_records(Some("drill"), 10).await.unwrap();
    assert_eq!(drills.len(), 1, "{drills:?}");
    assert!(drills[0].details.contains("\"database\":\"postgres\""));
    store.close().await;

    // An altered archive: refused while extracting, after the scratch database was made.
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let altered = dir.path().join("altered.rbk");
    std::fs::write(&altered, &bytes).unwrap();
    let refused = run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &pg_url)
        .arg("restore")
        .arg(&altered)
        .arg("--drill"));
    let message = failure_message(&refused);
    assert!(message.contains("is not a usable backup"), "{message}");
    assert_eq!(scratch_databases("postgres").await, Vec::<String>::new());
    assert!(!PathBuf::from(format!("{}.drill", altered.display())).exists());

    // A log edited behind its checkpoints: refused once the dump is restored into the
    // scratch database and the log exported and verified; dropped all the same.
    let _ = server.stop();
    pg_exec(
        &pg_url,
        &[
            "UPDATE audit_events SET body = replace(body, 'root-admin', 'someone-else') \
           WHERE seq = (SELECT MIN(seq) FROM audit_events WHERE body LIKE '%root-admin%')",
        ],
    )
    .await;
    let tampered = dir.path().join("tampered.rbk");
    ok(&run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &pg_url)
        .args(["backup", "--output"])
        .arg(&tampered)));
    let refused = run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &pg_url)
        .arg("restore")
        .arg(&tampered)
        .arg("--drill"));
    let message = failure_message(&refused);
    assert!(message.contains("does not verify"), "{message}");
    assert_eq!(scratch_databases("postgres").await, Vec::<String>::new());
    // Only the drill that passed is recorded.
    let store = rampart_store::Store::open_postgres(&pg_url, 2)
        .await
        .unwrap();
    assert_eq!(
        store.backup_records(Some("drill"), 10).await.unwrap().len(),
        1
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_drill_by_a_role_that_may_not_create_databases_says_what_to_grant() {
    // A node whose role owns its database and nothing more, with a password.
    let fresh = rampart_store::testing::fresh_postgres_url().await;
    let (base, database) = fresh.rsplit_once('/').unwrap();
    let role = database.replace("rampart_test_", "rampart_node_");
    let password = "drill-pass-word-7391";
    let cluster = rampart_store::testing::cluster_url();
    pg_exec(
        &cluster,
        &[
            &format!("CREATE ROLE {role} LOGIN PASSWORD '{password}' NOCREATEDB"),
            &format!("ALTER DATABASE {database} OWNER TO {role}"),
        ],
    )
    .await;
    let host = base.rsplit_once('@').unwrap().1;
    let url = format!("postgres://{role}:{password}@{host}/{database}");
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    let created = create_admin(&node, &[("RAMPART_DATABASE_URL", &url)], PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    let archive = dir.path().join("b.rbk");
    ok(&run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &url)
        .args(["backup", "--output"])
        .arg(&archive)));
    let drill = || {
        run(rampart(&node)
            .env("RAMPART_DATABASE_URL", &url)
            .arg("restore")
            .arg(&archive)
            .arg("--drill"))
    };
    let refused = drill();
    let message = failure_message(&refused);
    assert!(message.contains("may not create databases"), "{message}");
    assert!(
        message.contains(&format!("ALTER ROLE \"{role}\" CREATEDB")),
        "{message}"
    );
    assert!(!message.contains(password), "{message}");
    assert_eq!(scratch_databases(&role).await, Vec::<String>::new());
    assert!(!PathBuf::from(format!("{}.drill", archive.display())).exists());

    // Granted, the drill runs as that role (the password to pg_restore in PGPASSWORD).
    pg_exec(&cluster, &[&format!("ALTER ROLE {role} CREATEDB")]).await;
    let passed = ok(&drill());
    assert!(passed.contains("drill passed"), "{passed}");
    assert_eq!(scratch_databases(&role).await, Vec::<String>::new());
}

/// A `pg_restore` in `dir` that, when `RAMPART_TEST_DRILL_GATE` names a file, writes its
/// process id to that name plus `.waiting` and waits until the file exists before it runs
/// the real one: a drill stopped there has created its scratch database and not yet
/// restored into it.
fn gated_pg_restore(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var("PATH").unwrap();
    let real = std::env::split_paths(&path)
        .map(|d| d.join("pg_restore"))
        .find(|p| p.is_file())
        .expect("pg_restore on PATH");
    let script = dir.join("pg_restore");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             if [ -n \"$RAMPART_TEST_DRILL_GATE\" ]; then\n\
             \techo $$ > \"$RAMPART_TEST_DRILL_GATE.tmp\"\n\
             \tmv \"$RAMPART_TEST_DRILL_GATE.tmp\" \"$RAMPART_TEST_DRILL_GATE.waiting\"\n\
             \twhile [ ! -e \"$RAMPART_TEST_DRILL_GATE\" ]; do sleep 0.02; done\n\
             fi\n\
             exec '{}' \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::join_paths(std::iter::once(dir.to_owned()).chain(std::env::split_paths(&path)))
        .unwrap()
        .into_string()
        .unwrap()
}

/// Waits (bounded) until `file` exists and answers what it holds.
fn wait_for_file(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(file) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", file.display());
}

/// The sessions of `role` that hold a drill's lock (`rampart drill` connections).
async fn drill_sessions(role: &str) -> i64 {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(&rampart_store::testing::cluster_url())
        .await
        .unwrap();
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = $2",
    )
    .bind(role)
    .bind(rampart_store::DRILL_APPLICATION)
    .fetch_one(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_drill_leaves_a_scratch_database_the_next_drill_drops_and_a_live_one_keeps() {
    // A node whose role owns its database and may create others (so the scratch databases
    // of this test are told apart from other tests' by their owner).
    let fresh = rampart_store::testing::fresh_postgres_url().await;
    let (base, database) = fresh.rsplit_once('/').unwrap();
    let role = database.replace("rampart_test_", "rampart_drill_role_");
    let cluster = rampart_store::testing::cluster_url();
    pg_exec(
        &cluster,
        &[
            &format!("CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}' CREATEDB"),
            &format!("ALTER DATABASE {database} OWNER TO {role}"),
        ],
    )
    .await;
    let host = base.rsplit_once('@').unwrap().1;
    let url = format!("postgres://{role}:pw-{role}@{host}/{database}");
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node");
    let created = create_admin(&node, &[("RAMPART_DATABASE_URL", &url)], PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    let archive = dir.path().join("b.rbk");
    ok(&run(rampart(&node)
        .env("RAMPART_DATABASE_URL", &url)
        .args(["backup", "--output"])
        .arg(&archive)));
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let path = gated_pg_restore(&bin);
    let drill = |scratch: &str, gate: Option<&Path>| {
        let mut command = rampart(&node);
        command
            .env("RAMPART_DATABASE_URL", &url)
            .env("PATH", &path)
            .arg("restore")
            .arg(&archive)
            .arg("--drill")
            .arg("--scratch")
            .arg(dir.path().join(scratch))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(gate) = gate {
            command.env("RAMPART_TEST_DRILL_GATE", gate);
        }
        command
    };
    let waiting = |gate: &Path| PathBuf::from(format!("{}.waiting", gate.display()));

    // A drill SIGKILLed (with its pg_restore) once its scratch database exists: the
    // database stays behind.
    let gate_a = dir.path().join("gate-a");
    let mut a = drill("scratch-a", Some(&gate_a)).spawn().unwrap();
    let restore_a = wait_for_file(&waiting(&gate_a));
    let stale = scratch_databases(&role).await;
    assert_eq!(stale.len(), 1, "{stale:?}");
    let stale = stale[0].clone();
    a.kill().unwrap();
    a.wait().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", restore_a.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    // PostgreSQL ends the dead drill's session (and its lock) once it sees the connection
    // closed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while drill_sessions(&role).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the dead drill's session never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(scratch_databases(&role).await, std::slice::from_ref(&stale));

    // The next drill drops it before it makes its own; held at its pg_restore, its own
    // database is the only one.
    let gate_b = dir.path().join("gate-b");
    let b = drill("scratch-b", Some(&gate_b)).spawn().unwrap();
    wait_for_file(&waiting(&gate_b));
    let live = scratch_databases(&role).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_ne!(live[0], stale);

    // A drill that starts and ends meanwhile passes and leaves the running one's database.
    let c = drill("scratch-c", None).output().unwrap();
    let c_out = ok(&c);
    assert!(c_out.contains("drill passed"), "{c_out}");
    assert!(!c_out.contains("removed"), "{c_out}");
    assert_eq!(scratch_databases(&role).await, live);

    // Let go, the held drill passes, says what it removed, and drops its own.
    std::fs::write(&gate_b, "").unwrap();
    let b = b.wait_with_output().unwrap();
    let b_out = ok(&b);
    assert!(b_out.contains("drill passed"), "{b_out}");
    assert!(
        b_out.contains(&format!(
            "removed the scratch database {stale}, left behind by a drill that did not finish"
        )),
        "{b_out}"
    );
    assert_eq!(scratch_databases(&role).await, Vec::<String>::new());
    let store = rampart_store::Store::open_postgres(&url, 2).await.unwrap();
    assert_eq!(
        store.backup_records(Some("drill"), 10).await.unwrap().len(),
        2
    );
    store.close().await;
}
