//! The `rampart` binary as a user runs it: start-up failures with clear messages, the
//! bootstrap command, and a real login against `rampart serve`, on SQLite and PostgreSQL.
//! Also the README's tour, run as written (`tour`), and the crates' layering (`layers`):
//! modules of this binary rather than binaries of their own, which would each cost a link.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "cli/alerts.rs"]
mod alerts;
#[path = "cli/backup.rs"]
mod backup;
#[path = "cli/faults.rs"]
mod faults;
#[path = "cli/idp.rs"]
mod idp;
#[path = "cli/layers.rs"]
mod layers;
#[path = "cli/memory.rs"]
mod memory;
#[path = "cli/mfa.rs"]
mod mfa;
#[path = "cli/proof.rs"]
mod proof;
#[path = "cli/sealed.rs"]
mod sealed;
#[path = "cli/support.rs"]
mod support;
#[path = "cli/tour.rs"]
mod tour;
#[path = "cli/users.rs"]
mod users;
#[path = "cli/witness.rs"]
mod witness;

const PASSWORD: &str = "violet-trombone-gravel-71";

fn rampart(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RAMPART_DATABASE_URL")
        .env("RAMPART_HTTPS_ADDR", "127.0.0.1:0")
        .env("RAMPART_HTTP_ADDR", "127.0.0.1:0")
        .env("RAMPART_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("RAMPART_PASSWORD_HASH__ITERATIONS", "1")
        .env("RAMPART_LOG_FORMAT", "json")
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run rampart")
}

fn failure_message(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected failure; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

struct Running {
    child: Child,
    https: String,
    http: String,
    metrics: Option<String>,
    log: Option<std::thread::JoinHandle<String>>,
}

/// A test that fails midway must not leave its server running (it would hold the test
/// harness's output open).
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn stop(self) -> std::process::ExitStatus {
        self.stop_with_log().0
    }

    /// Stops the server with SIGTERM; returns its exit status and everything it logged
    /// after becoming ready.
    fn stop_with_log(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().expect("wait");
        let log = self.log.take().map(|l| l.join().expect("log reader"));
        (status, log.unwrap_or_default())
    }
}

#[allow(clippy::zombie_processes)] // the child is waited for by `Running::stop`
/// Starts `rampart serve` and waits for its "ready" log line, which names the bound address.
fn serve(command: &mut Command) -> Running {
    let mut child = command
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Ok(event) = serde_json::from_str::<Value>(&line) {
            if event["message"] == "rampart ready" {
                let https = event["https"].as_str().expect("https address").to_owned();
                let http = event["http"].as_str().expect("http address").to_owned();
                let metrics = event["metrics"].as_str().map(str::to_owned);
                let log = std::thread::spawn(move || {
                    lines.map_while(Result::ok).collect::<Vec<_>>().join("\n")
                });
                return Running {
                    child,
                    https,
                    http,
                    metrics,
                    log: Some(log),
                };
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("rampart serve did not become ready");
}

fn create_admin(data_dir: &Path, extra_env: &[(&str, &str)], password: &str) -> Output {
    let mut command = rampart(data_dir);
    command.args(["admin", "create-it-user", "--username", "root-admin"]);
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
    child.wait_with_output().expect("wait")
}

/// `rampart login` as root-admin against the server at `url` (which serves from
/// `data_dir`), the password on standard input, the token kept in `session`.
fn cli_login(data_dir: &Path, url: &str, session: &Path) {
    let mut login = rampart(data_dir);
    login
        .args([
            "login",
            "--server",
            url,
            "--username",
            "root-admin",
            "--ca-cert",
        ])
        .arg(data_dir.join("tls/dev-cert.pem"))
        .env("RAMPART_SESSION_FILE", session)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn login(https: &str, password: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .post(format!("https://{https}/api/v1/auth/login"))
        .json(
            &serde_json::json!({"username": "ROOT-ADMIN", "password": password, "provider": "it"}),
        )
        .send()
        .await
        .unwrap()
}

/// Regression: the stop signals were listened for only after "rampart ready" was logged, so a
/// SIGTERM in between (a supervisor, or this suite under load) killed the server with the
/// signal's default action instead of stopping it. Now a SIGTERM right after the first line
/// the server logs stops it cleanly.
#[test]
fn a_stop_during_start_up_is_a_clean_stop() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = rampart(dir.path())
            .arg("serve")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first = lines.next().expect("a first log line").expect("readable");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().expect("wait");
        assert!(status.success(), "{status}: {first}\n{}", rest.join("\n"));
        assert!(
            rest.iter().any(|l| l.contains("rampart stopped")),
            "stopped cleanly: {first}\n{}",
            rest.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bootstrap_and_login_on_sqlite_and_postgres() {
    let pg_url = rampart_store::testing::fresh_postgres_url().await;
    for database_url in [None, Some(pg_url.as_str())] {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = database_url
            .map(|u| ("RAMPART_DATABASE_URL", u))
            .into_iter()
            .collect();
        let mut command = rampart(dir.path());
        command
            .envs(env.iter().copied())
            .env("RAMPART_LOG_LEVEL", "debug");
        let server = serve(&mut command);

        let weak = create_admin(dir.path(), &env, "password");
        assert!(
            failure_message(&weak).contains("min-length"),
            "{}",
            failure_message(&weak)
        );
        let created = create_admin(dir.path(), &env, PASSWORD);
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        assert!(String::from_utf8_lossy(&created.stdout).contains("administrator"));
        let again = create_admin(dir.path(), &env, PASSWORD);
        assert!(failure_message(&again).contains("already exists"));

        let response = login(&server.https, PASSWORD).await;
        assert_eq!(response.status(), 200, "{database_url:?}");
        let token = response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let wrong = login(&server.https, "not-the-password").await;
        assert_eq!(wrong.status(), 401);
        assert!(dir.path().join("tls/dev-cert.pem").exists());
        if database_url.is_none() {
            assert!(dir.path().join("rampart.db").exists());
        }
        let (status, log) = server.stop_with_log();
        assert!(status.success(), "SIGTERM stops the server cleanly");
        // Even at debug level, no password, token or database password reaches the log.
        assert!(log.contains("login"), "the log was captured: {log}");
        for secret in [PASSWORD, "not-the-password", token.as_str(), &token[4..]] {
            assert!(!log.contains(secret), "secret in the log: {secret}");
        }
        if let Some(url) = database_url {
            assert!(!log.contains(url), "database URL in the log");
        }
    }
}

#[test]
fn a_second_server_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(&mut rampart(dir.path()));
    let second = run(rampart(dir.path()).arg("serve"));
    let message = failure_message(&second);
    assert!(
        message.contains("is in use by another rampart server"),
        "{message}"
    );
    assert!(
        message.contains(&format!("pid {}", first.child.id())),
        "{message}"
    );
    first.stop();
}

#[test]
fn corrupt_or_missing_certificates_stop_start_up_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.pem");
    std::fs::write(
        &corrupt,
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.pem");
    for (cert, expected) in [
        (&corrupt, "not valid PEM"),
        (&missing, "cannot read TLS certificate"),
    ] {
        let output = run(rampart(dir.path())
            .arg("serve")
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(cert));
        let message = failure_message(&output);
        assert!(
            message.contains(expected) && message.contains(&cert.display().to_string()),
            "{message}"
        );
    }
    // A generated certificate that was damaged is not silently replaced.
    let data = tempfile::tempdir().unwrap();
    serve(&mut rampart(data.path())).stop();
    std::fs::write(data.path().join("tls/dev-cert.pem"), "garbage").unwrap();
    let message = failure_message(&run(rampart(data.path()).arg("serve")));
    assert!(message.contains("dev-cert.pem"), "{message}");
}

#[test]
fn an_unreachable_database_stops_start_up_without_leaking_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(rampart(dir.path()).arg("serve").env(
        "RAMPART_DATABASE_URL",
        "postgres://rampart:pa55-secret@127.0.0.1:1/rampart",
    ));
    let message = failure_message(&output);
    assert!(
        message.contains("cannot reach PostgreSQL at 127.0.0.1:1/rampart"),
        "{message}"
    );
    assert!(!message.contains("pa55-secret"), "{message}");
}

#[test]
fn invalid_configuration_names_key_value_and_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "RAMPART_HTTPS_ADDR",
            "everywhere",
            &["https_addr = everywhere", "IP address and port"],
        ),
        (
            "RAMPART_PASSWORD__MIN_LENGTH",
            "4",
            &["password.min_length = 4", "8 to 256"],
        ),
        (
            "RAMPART_SESION__IDLE_MINUTES",
            "5",
            &["sesion.idle_minutes", "known key"],
        ),
    ];
    for (var, value, expected) in cases {
        let message = failure_message(&run(rampart(dir.path()).arg("serve").env(var, value)));
        for part in expected {
            assert!(message.contains(part), "{var}: {message}");
        }
    }
    std::fs::write(
        dir.path().join("rampart.toml"),
        "[session]\nidle_minute = 5\n",
    )
    .unwrap();
    let message = failure_message(&run(rampart(dir.path()).args(["config", "show"])));
    assert!(
        message.contains("session.idle_minute") && message.contains("did you mean `idle_minutes`"),
        "{message}"
    );
}

#[test]
fn config_show_reports_sources_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rampart.toml"),
        "[password]\nmin_length = 14\n",
    )
    .unwrap();
    let output = run(rampart(dir.path())
        .args(["config", "show", "--node-id", "edge-7"])
        .env(
            "RAMPART_DATABASE_URL",
            "postgres://rampart:pa55-secret@db.internal:5432/rampart",
        ));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(!shown.contains("pa55-secret"), "{shown}");
    assert!(
        shown.contains("postgres://rampart:<redacted>@db.internal:5432/rampart"),
        "{shown}"
    );
    assert!(
        shown.contains("node_id = \"edge-7\"  # flag --node-id"),
        "{shown}"
    );
    assert!(shown.contains("min_length = 14  # file"), "{shown}");
}

/// The metrics token lives outside the configuration: `config show` prints where, never
/// what.
#[test]
fn config_show_names_the_metrics_token_s_reference_only() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(rampart(dir.path())
        .args(["config", "show"])
        .env("RAMPART_METRICS__TOKEN", "env:SCRAPE_TOKEN")
        .env("SCRAPE_TOKEN", "the-scrape-token-itself-0123456789"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("token = \"env:SCRAPE_TOKEN\""), "{shown}");
    assert!(!shown.contains("the-scrape-token-itself"), "{shown}");
    // The token itself in the configuration is refused, and not echoed.
    let output = run(rampart(dir.path()).args(["config", "show"]).env(
        "RAMPART_METRICS__TOKEN",
        "the-scrape-token-itself-0123456789",
    ));
    let message = failure_message(&output);
    assert!(
        message.contains("metrics.token") && message.contains("env:NAME"),
        "{message}"
    );
    assert!(!message.contains("the-scrape-token-itself"), "{message}");
}

/// The data directory and the database are private when made by `serve` or by the
/// bootstrap command; one found open to others is reported at start with its mode.
#[cfg(unix)]
#[test]
fn data_directories_are_private_and_wider_ones_are_reported() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let fresh = parent.path().join("made-by-bootstrap");
    let output = create_admin(&fresh, &[], PASSWORD);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("rampart.db")), 0o600);

    let open = parent.path().join("opened");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = rampart(&open)
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut warnings = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if event["message"] == "rampart ready" {
            break;
        }
        if event["level"] == "WARN" && event["path"].is_string() {
            warnings.push(event);
        }
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert!(
        warnings
            .iter()
            .any(|w| w["path"] == open.display().to_string()
                && w["mode"] == "0755"
                && w["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("chmod go-rwx")),
        "{warnings:?}"
    );
    assert_eq!(mode(&open), 0o755, "reported, not changed");
    assert_eq!(
        mode(&open.join("rampart.db")),
        0o600,
        "new files are private all the same"
    );
}

#[test]
fn the_password_is_never_accepted_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(rampart(dir.path()).args([
        "admin",
        "create-it-user",
        "--username",
        "x",
        "--password",
        PASSWORD,
    ]));
    let message = failure_message(&output);
    assert!(
        message.contains("unexpected argument '--password'"),
        "{message}"
    );
    let empty = run(rampart(dir.path()).args(["admin", "create-it-user", "--username", "x"]));
    assert!(failure_message(&empty).contains("no password on standard input"));
}

#[test]
fn acl_rebuild_reports_and_names_unknown_entities() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let ok = run(rampart(dir.path()).args(["acl", "rebuild"]));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("0 paths repaired"), "{stdout}");
    assert!(stdout.contains("index loaded at revision r0"), "{stdout}");
    let bad = run(rampart(dir.path()).args(["acl", "rebuild", "--entity", "nope"]));
    let message = failure_message(&bad);
    assert!(message.contains("no entity named `nope`"), "{message}");
}

/// `rampart audit …` with `args`; returns (success, stdout, stderr).
fn audit(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = run(rampart(data_dir).arg("audit").args(args));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exports the whole log of `data_dir` and verifies it with `key`; returns the verifier's
/// first line of output and whether it succeeded.
fn export_and_verify(data_dir: &Path, key: &Path) -> (bool, String) {
    let export = data_dir.join("export.jsonl");
    let (ok, _, err) = audit(data_dir, &["export", "--output", export.to_str().unwrap()]);
    assert!(ok, "export: {err}");
    let (ok, out, _) = audit(
        data_dir,
        &[
            "verify",
            export.to_str().unwrap(),
            "--public-key",
            key.to_str().unwrap(),
        ],
    );
    (ok, out.lines().next().unwrap_or_default().to_owned())
}

/// Runs `sql` directly on the SQLite database of `data_dir`, as an attacker with file
/// access would.
async fn tamper(data_dir: &Path, sql: &[&str]) {
    use sqlx::Connection as _;
    let mut c = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        data_dir.join("rampart.db").display()
    ))
    .await
    .unwrap();
    for statement in sql {
        sqlx::query(statement).execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();
}

/// A copy of a stopped server's data directory, to tamper with.
fn copy_data_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for name in ["rampart.db", "audit-signing.key"] {
        std::fs::copy(from.join(name), to.path().join(name)).unwrap();
    }
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_export_verify_pinpoints_edits_deletions_reorders_and_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&mut rampart(dir.path()));
    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    for password in [PASSWORD, "wrong-1", "wrong-2", PASSWORD, "wrong-3"] {
        let _ = login(&server.https, password).await;
    }
    assert!(server.stop().success());
    // The server signed a checkpoint as it stopped; the key's verifier comes from the CLI.
    let (ok, public, err) = audit(dir.path(), &["public-key"]);
    assert!(ok, "{err}");
    let key = dir.path().join("audit.pub");
    std::fs::write(&key, &public).unwrap();
    let (ok, line) = export_and_verify(dir.path(), &key);
    assert!(ok, "{line}");
    assert!(line.starts_with("verified: 6 events"), "{line}");

    let cases: &[(&str, &[&str], &str)] = &[
        (
            "an edited event",
            &["UPDATE audit_events SET body = replace(body, 'failure', 'success') WHERE seq = 3"],
            "event 3 was altered",
        ),
        (
            "a deleted event",
            &["DELETE FROM audit_events WHERE seq = 4"],
            "expected event 4, found event 5",
        ),
        (
            "two events swapped",
            &[
                "UPDATE audit_events SET seq = -1 WHERE seq = 3",
                "UPDATE audit_events SET seq = 3 WHERE seq = 5",
                "UPDATE audit_events SET seq = 5 WHERE seq = -1",
            ],
            "out of order: it comes after event 5",
        ),
        (
            "an event copied over another, leaf hash and all",
            &[
                "UPDATE audit_events SET leaf_hash = (SELECT leaf_hash FROM audit_events WHERE seq = 2) WHERE seq = 3",
                "UPDATE audit_events SET body = (SELECT body FROM audit_events WHERE seq = 2) WHERE seq = 3",
            ],
            "event 2 appears twice",
        ),
    ];
    for (what, sql, expected) in cases {
        let copy = copy_data_dir(dir.path());
        tamper(copy.path(), sql).await;
        let (ok, line) = export_and_verify(copy.path(), &key);
        assert!(!ok, "{what} went unnoticed: {line}");
        assert!(line.contains(expected), "{what}: {line}");
    }

    // `audit check` reads the database itself: clean, then an index column edited (which an
    // export, made of bodies, never shows) and a payload deleted without a record, each named.
    let (ok, out, err) = audit(dir.path(), &["check"]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("checked: 6 events"), "{out}");
    for (sql, expected) in [
        (
            "UPDATE audit_events SET actor_name = 'it:nobody' WHERE seq = 5",
            "event 5 has an index column (actor_name)",
        ),
        (
            "UPDATE audit_events SET body = NULL, redacted_at = 1 WHERE seq = 4",
            "event 4 has no payload",
        ),
    ] {
        let copy = copy_data_dir(dir.path());
        tamper(copy.path(), &[sql]).await;
        let (ok, out, err) = audit(copy.path(), &["check"]);
        assert!(!ok, "{sql} went unnoticed: {out}");
        assert!(err.contains(expected), "{sql}: {err}");
    }

    // The strongest edit: a body rewritten with its leaf hash recomputed. Every line is
    // self-consistent; only the signed root catches it, located to the events since the
    // previous verified checkpoint.
    let copy = copy_data_dir(dir.path());
    {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}", copy.path().join("rampart.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let body: String = sqlx::query_scalar("SELECT body FROM audit_events WHERE seq = 3")
            .fetch_one(&mut c)
            .await
            .unwrap();
        let forged = body.replace("failure", "success");
        assert_ne!(forged, body);
        sqlx::query("UPDATE audit_events SET body = $1, leaf_hash = $2 WHERE seq = 3")
            .bind(&forged)
            .bind(&rampart_audit::leaf_hash(forged.as_bytes())[..])
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let (ok, line) = export_and_verify(copy.path(), &key);
    assert!(!ok, "a rewrite with its leaf hash went unnoticed: {line}");
    assert!(
        line.contains("does not match the signed checkpoint"),
        "{line}"
    );

    // A lawful erasure keeps the proof: the export still verifies, with one redacted event.
    let (ok, out, err) = audit(
        dir.path(),
        &["redact", "3", "--reason", "erasure request 77"],
    );
    assert!(ok, "{out}{err}");
    let (ok, _, err) = audit(dir.path(), &["checkpoint"]);
    assert!(ok, "{err}");
    let (ok, line) = export_and_verify(dir.path(), &key);
    assert!(ok, "{line}");
    assert!(line.contains("(1 redacted)"), "{line}");
    let (ok, _, err) = audit(dir.path(), &["redact", "3", "--reason", "again"]);
    assert!(!ok && err.contains("already redacted"), "{err}");

    // Retention: everything so far moves to a compressed segment that verifies on its own;
    // the live log still verifies, the archived events as payload-free leaves.
    let archive = dir.path().join("archive");
    let (ok, out, err) = audit(
        dir.path(),
        &[
            "archive",
            "--older-than-days",
            "0",
            "--dir",
            archive.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("archived events 1 to "), "{out}");
    let segments: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let segment = segments[0].to_str().unwrap().to_owned();
    assert!(segment.ends_with(".jsonl.gz"), "{segment}");
    let (ok, out, _) = audit(
        dir.path(),
        &["verify", &segment, "--public-key", key.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("(1 redacted)"),
        "the earlier erasure stays erased: {out}"
    );
    let (ok, _, err) = audit(dir.path(), &["checkpoint"]);
    assert!(ok, "{err}");
    let (ok, line) = export_and_verify(dir.path(), &key);
    assert!(ok, "{line}");
    let (ok, out, _) = audit(
        dir.path(),
        &[
            "archive",
            "--older-than-days",
            "3650",
            "--dir",
            archive.to_str().unwrap(),
        ],
    );
    assert!(ok && out.contains("nothing to archive"), "{out}");
    // A segment with one altered byte of compressed data is refused.
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let broken = dir.path().join("broken.jsonl.gz");
    std::fs::write(&broken, bytes).unwrap();
    let out = run(rampart(dir.path()).args([
        "audit",
        "verify",
        broken.to_str().unwrap(),
        "--public-key",
        key.to_str().unwrap(),
    ]));
    assert!(!out.status.success(), "a damaged segment verified");

    // Another log's key, a truncated export, a forged header: each named.
    let other = tempfile::tempdir().unwrap();
    let other_server = serve(&mut rampart(other.path()));
    assert!(other_server.stop().success());
    let (_, other_key, _) = audit(other.path(), &["public-key"]);
    let export = dir.path().join("export.jsonl");
    let (ok, out, _) = audit(
        dir.path(),
        &[
            "verify",
            export.to_str().unwrap(),
            "--public-key",
            other_key.trim(),
        ],
    );
    assert!(
        !ok && out.contains("not signed by the given public key"),
        "{out}"
    );
    let text = std::fs::read_to_string(&export).unwrap();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let (ok, out, _) = audit(
        dir.path(),
        &[
            "verify",
            cut.to_str().unwrap(),
            "--public-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        !ok && (out.contains("truncated") || out.contains("malformed")),
        "{out}"
    );
    let (ok, _, err) = audit(
        dir.path(),
        &[
            "verify",
            export.to_str().unwrap(),
            "--public-key",
            "not-a-key",
        ],
    );
    assert!(!ok && err.contains("not a verifier key"), "{err}");
    let (ok, _, err) = audit(dir.path(), &["export", "--from", "0"]);
    assert!(!ok && err.contains("out of range"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_access_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&mut rampart(dir.path()));
    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let admin = login(&server.https, PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = client
        .post(format!("https://{}/api/v1/users", server.https))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"provider": "end", "username": "erin", "password": "amber-lantern-quiver-38"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let end = client
        .post(format!("https://{}/api/v1/auth/login", server.https))
        .json(&serde_json::json!({"provider": "end", "username": "erin", "password": "amber-lantern-quiver-38"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // End users reading their profile as fast as they can; every 200 is an acknowledged
    // access, whose request id must be in the log after the crash.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, https, end, acknowledged) = (
            client.clone(),
            server.https.clone(),
            end.clone(),
            acknowledged.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Ok(r) = client
                    .get(format!("https://{https}/api/v1/auth/me"))
                    .bearer_auth(&end)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() == 200 {
                    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push(id);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no drain
    server.child.wait().unwrap();
    for w in workers {
        let _ = w.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "the load ran: {}",
        acknowledged.len()
    );

    let store = rampart_store::Store::open_sqlite(&dir.path().join("rampart.db"))
        .await
        .unwrap();
    let logged: std::collections::HashSet<String> = store
        .audit_search(
            &rampart_store::EventQuery {
                stream: Some(rampart_store::Stream::Access),
                ..Default::default()
            },
            1_000_000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.request_id)
        .collect();
    store.close().await;
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !logged.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged accesses lost: {lost:?}",
        lost.len()
    );

    // The log is whole: a checkpoint can be signed over it and the export verifies.
    let (ok, _, err) = audit(dir.path(), &["checkpoint"]);
    assert!(ok, "{err}");
    let (_, public, _) = audit(dir.path(), &["public-key"]);
    let key = dir.path().join("audit.pub");
    std::fs::write(&key, public).unwrap();
    let (ok, line) = export_and_verify(dir.path(), &key);
    assert!(ok, "{line}");
}

/// The module lifecycle from the command line against a running server: check offline, log
/// in, publish a directory (dependencies first), diff, show the surface, deploy with a plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_are_checked_published_diffed_and_deployed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sales");
    let session = work.path().join("session.json");
    let cli = |args: &[&str]| {
        let mut c = rampart(dir.path());
        c.args(args)
            .env("RAMPART_SESSION_FILE", &session)
            .env("NO_COLOR", "1");
        let out = run(&mut c);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Offline: the schema and checks need no server.
    let (ok, schema, _) = cli(&["model", "schema"]);
    assert!(ok);
    let schema: Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let (ok, out, err) = cli(&["model", "check", examples.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out.matches("is valid").count(), 3, "{out}");
    let broken = work.path().join("broken.yaml");
    std::fs::write(&broken, "module: m\napplication: app\nroles:\n  - name: Rep\nscreens:\n  - name: S\n    kind: list\n    roles: [Repp]\n").unwrap();
    let (ok, _, err) = cli(&["model", "check", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("broken.yaml:8:13: error[unresolved-reference]: no role named `Repp`"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `Rep`?"), "{err}");
    // The security checks: an error-level finding fails the command, in every format;
    // warnings alone pass.
    let unsafe_ui = work.path().join("unsafe.yaml");
    std::fs::write(
        &unsafe_ui,
        "module: m\napplication: app\nroles:\n  - name: Rep\nentities:\n  - name: Note\n    attributes: [{name: body, type: text}]\nscreens:\n  - name: S\n    kind: detail\n    entity: Note\n    roles: [Rep]\n    parameters: [{name: x, type: text}]\n    widgets:\n      - {kind: text, value: \'\"Pay with sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\'}\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&["model", "check", unsafe_ui.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("unsafe.yaml:15:29: error[RS012]: a Stripe key is written into the model"),
        "{out}"
    );
    assert!(
        out.contains("(at `m › screens.S › widgets.0`)\n  fix: "),
        "{out}"
    );
    assert!(err.contains("1 error-level security finding"), "{err}");
    let (ok, out, _) = cli(&[
        "model",
        "check",
        unsafe_ui.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(!ok);
    let json: Value = serde_json::from_str(&out).unwrap();
    let finding = &json["files"][0]["findings"][0];
    assert_eq!(finding["rule"], "RS012");
    assert_eq!(
        (finding["line"].as_u64(), finding["column"].as_u64()),
        (Some(15), Some(29))
    );
    assert_eq!(finding["cwe"], "CWE-798");
    let (ok, out, _) = cli(&[
        "model",
        "check",
        unsafe_ui.to_str().unwrap(),
        "--format",
        "sarif",
    ]);
    assert!(!ok);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "RS012");
    assert!(
        !out.contains("4eC39HqLyjWDarjtT1zdp7dc"),
        "a finding never repeats the secret"
    );
    let warned = work.path().join("warned.yaml");
    std::fs::write(
        &warned,
        "module: w\napplication: app\nroles:\n  - name: Rep\nentities:\n  - name: Note\n    attributes: [{name: body, type: text}]\nscreens:\n  - name: S\n    kind: list\n    entity: Note\n    roles: [Rep]\n    parameters: [{name: next, type: text}]\n    widgets:\n      - {kind: link, target: params.next}\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&["model", "check", warned.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("warning[RS003]"), "{out}");
    assert!(
        out.contains("module w is valid, with security findings: 1 warning"),
        "{out}"
    );

    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    let server = serve(&mut rampart(dir.path()));
    let url = format!("https://{}", server.https);
    // Login reads the password from standard input and keeps the token in a private file.
    cli_login(dir.path(), &url, &session);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&session).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    let token = saved["token"].as_str().unwrap().to_owned();
    let created = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .post(format!("{url}/api/v1/authz/write"))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({ "operations": [{ "op": "create_application", "name": "sales" }] }),
        )
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    let (ok, out, err) = cli(&[
        "module",
        "publish",
        examples.to_str().unwrap(),
        "-m",
        "First release",
    ]);
    assert!(ok, "{err}");
    let order: Vec<&str> = out
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(order[0], "core-service", "dependencies first: {out}");
    assert_eq!(out.matches("version 1 (sha256:").count(), 3, "{out}");
    let (ok, out, _) = cli(&[
        "module",
        "publish",
        examples.join("core-service.yaml").to_str().unwrap(),
        "-m",
        "again",
    ]);
    assert!(ok && out.contains("unchanged"), "{out}");
    let changed = work.path().join("core-service.yaml");
    std::fs::write(
        &changed,
        std::fs::read_to_string(examples.join("core-service.yaml"))
            .unwrap()
            .replace("        max_length: 200\n", "        max_length: 250\n"),
    )
    .unwrap();
    let (ok, out, err) = cli(&[
        "module",
        "publish",
        changed.to_str().unwrap(),
        "-m",
        "Longer names",
    ]);
    assert!(ok && out.contains("core-service version 2"), "{out}{err}");

    let (ok, out, err) = cli(&["module", "diff", "core-service", "1", "2"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("entities") && out.contains("~ Customer"),
        "{out}"
    );
    assert!(
        out.contains("attributes.name.max_length: 200 → 250"),
        "{out}"
    );
    assert!(
        out.contains("-        max_length: 200") && out.contains("+        max_length: 250"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
    let (ok, out, _) = cli(&["module", "diff", "core-service", "1", "2", "--json"]);
    assert!(ok);
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["elements"]["entities"]["changed"][0]["name"], "Customer");
    let (ok, out, err) = cli(&["module", "show", "core-service", "--surface"]);
    assert!(
        ok && out.contains("\"Customer\"") && !out.contains("SELECT"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&["module", "list", "core-service"]);
    assert!(
        ok && out.contains("Longer names") && out.contains("it:root-admin"),
        "{out}{err}"
    );

    let (ok, out, err) = cli(&[
        "env",
        "deploy",
        "development",
        "core-service=2",
        "sales-ui=1",
        "--dry-run",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("core-service nothing → v2") && out.contains("not applied"),
        "{out}"
    );
    let (ok, _, err) = cli(&["env", "deploy", "development", "sales-ui=1"]);
    assert!(!ok);
    assert!(
        err.contains("core-service") && err.contains("not deployed in development"),
        "{err}"
    );
    let (ok, out, err) = cli(&[
        "env",
        "deploy",
        "development",
        "core-service=2",
        "sales-ui=1",
    ]);
    assert!(ok && out.contains("applied"), "{out}{err}");
    // The roles the two modules declare became the application's.
    for role in ["SalesRep", "SalesDirector", "CoreAdmin", "SalesAdmin"] {
        assert!(
            out.contains(&format!("role created: sales/{role}\n")),
            "{out}"
        );
    }
    let (ok, out, _) = cli(&["env", "history", "development"]);
    assert!(ok && out.matches("deploy").count() == 2, "{out}");
    // A page at a time: the newest, then the command for the older page, which shows the
    // other; `--all` follows the pages itself.
    let (ok, newest, _) = cli(&["env", "history", "development", "--limit", "1"]);
    assert!(ok && newest.matches("deploy").count() == 1, "{newest}");
    let older = newest
        .lines()
        .find_map(|l| l.strip_prefix("older: rampart "))
        .unwrap_or_else(|| panic!("no older page: {newest}"));
    let (ok, rest, _) = cli(&older.split(' ').collect::<Vec<_>>());
    assert!(ok && rest.matches("deploy").count() == 1, "{rest}");
    assert!(!rest.contains("older:"), "{rest}");
    assert_eq!(
        format!("{newest}{rest}")
            .lines()
            .filter(|l| !l.starts_with("older:"))
            .collect::<Vec<_>>(),
        out.lines().collect::<Vec<_>>()
    );
    let (ok, all, _) = cli(&["env", "history", "development", "--limit", "1", "--all"]);
    assert!(ok && all == out, "{all}");
    let (ok, _, err) = cli(&["env", "history", "development", "--cursor", "soon"]);
    assert!(!ok && err.contains("cursor"), "{err}");
    let (ok, _, err) = cli(&["env", "deploy", "development", "core-service"]);
    assert!(!ok && err.contains("MODULE=VERSION"), "{err}");
    // Quality takes the stage directly; production waits for a second approver, who cannot
    // be the one who asked (nor, there, the author: both are root-admin here).
    let (ok, out, err) = cli(&["env", "stage", "quality"]);
    assert!(ok && out.contains("applied"), "{out}{err}");
    let (ok, _, err) = cli(&["env", "stage", "production"]);
    assert!(!ok && err.contains("separation of duties"), "{err}");

    // Application tags and a deployment plan with its settings.
    let (ok, out, err) = cli(&["app", "tag", "sales", "1.0", "--notes", "First release"]);
    assert!(
        ok && out.contains("core-service=2") && out.contains("sales-ui=1"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&["app", "tags", "sales"]);
    assert!(
        ok && out.contains("1.0") && out.contains("First release"),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&[
        "plan",
        "create",
        "development",
        "sales=1.0",
        "--secret",
        "sales-ui.Invoicing=hunter2",
    ]);
    assert!(
        !ok && err.contains("never the secret itself") && !err.contains("hunter2"),
        "{err}"
    );
    let (ok, out, err) = cli(&[
        "plan",
        "create",
        "development",
        "sales=1.0",
        "--set",
        "sales-ui.DiscountApprovalThreshold=2500",
        "--secret",
        "sales-ui.Invoicing=env:INTEGRATION_SECRET_DEVELOPMENT_INVOICING",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("plan 1 → development: sales@1.0  [draft]")
            && out.contains("property sales-ui.DiscountApprovalThreshold: unset → 2500"),
        "{out}"
    );
    let (ok, out, err) = cli(&["plan", "run", "1"]);
    assert!(ok && out.contains("[finished]"), "{out}{err}");
    let (ok, _, err) = cli(&["plan", "run", "1"]);
    assert!(!ok && err.contains("already finished"), "{err}");
    let (ok, out, err) = cli(&["plan", "list"]);
    assert!(
        ok && out.contains("plan 1 → development: sales@1.0  [finished]"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&["env", "settings", "development"]);
    assert!(
        ok && out.contains("sales-ui.DiscountApprovalThreshold = 2500")
            && out.contains("\"env:INTEGRATION_SECRET_DEVELOPMENT_INVOICING\""),
        "{out}{err}"
    );

    // The environments, their order and policies.
    let (ok, out, err) = cli(&["env", "list"]);
    assert!(
        ok && out.contains("production") && out.contains("second approver"),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&[
        "env",
        "define",
        "development",
        "quality",
        "--second-approver",
        "moon",
    ]);
    assert!(!ok && err.contains("`moon`"), "{err}");
    let (ok, out, err) = cli(&[
        "env",
        "define",
        "development",
        "quality",
        "production",
        "staging",
    ]);
    assert!(
        ok && out.contains("development → quality → production → staging"),
        "{out}{err}"
    );
    let (ok, out, _) = cli(&["env", "list"]);
    assert!(
        out.lines()
            .any(|l| l.contains("production") && l.contains("second approver")),
        "policies kept: {out}"
    );
    assert!(
        ok && out
            .lines()
            .any(|l| l.contains("staging") && !l.contains("second")),
        "{out}"
    );

    // Module names: reserved, listed, transferred and released by an administrator.
    let created = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .post(format!("{url}/api/v1/authz/write"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "operations": [{ "op": "create_application", "name": "hr" }] }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let (ok, out, err) = cli(&["module", "reserve", "payroll", "--application", "hr"]);
    assert!(
        ok && out.contains("reserved payroll for application hr"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&["module", "names"]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("payroll") && l.contains("hr") && l.contains("reserved"))
            && out.lines().any(|l| l.contains("core-service")
                && l.contains("sales")
                && l.contains("registered")),
        "{out}"
    );
    let (ok, _, err) = cli(&["module", "reserve", "payroll", "--application", "sales"]);
    assert!(
        !ok && err.contains("reserved already") && err.contains("(409)"),
        "{err}"
    );
    let (ok, out, err) = cli(&["module", "transfer", "payroll", "--application", "sales"]);
    assert!(
        ok && out.contains("payroll (reserved) now belongs to application sales"),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&["module", "release", "core-service"]);
    assert!(!ok && err.contains("transferred, not released"), "{err}");
    let (ok, out, err) = cli(&["module", "release", "payroll"]);
    assert!(ok && out.contains("released payroll"), "{out}{err}");
    server.stop();
}

#[test]
fn publishers_keygen_writes_a_private_key_once_and_prints_its_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("vendor.key");
    let out = run(rampart(dir.path())
        .args(["publishers", "keygen", "-o"])
        .arg(&key));
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let public = rampart_sealed::PublisherId::parse(printed.trim()).unwrap();
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(
        rampart_sealed::PublisherKey::parse(&text).unwrap().public(),
        public
    );
    assert!(!printed.contains(text.trim()), "the secret is not printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An existing key is never overwritten.
    let again = run(rampart(dir.path())
        .args(["publishers", "keygen", "-o"])
        .arg(&key));
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);
}

#[test]
fn module_seal_refuses_a_bad_recipient_or_key_file_before_contacting_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("vendor.key");
    std::fs::write(&key, "not a key").unwrap();
    let valid = rampart_sealed::EnvironmentKey::generate().recipient();
    for (recipient, what) in [
        ("age1nope", "recipient"),
        (valid.as_str(), "publisher secret key"),
    ] {
        let out = run(rampart(dir.path())
            .env("RAMPART_SERVER", "https://127.0.0.1:1")
            .args(["module", "seal", "crm@1", "--for", recipient, "--sign-with"])
            .arg(&key)
            .args(["-o"])
            .arg(dir.path().join("out.rampart-sealed")));
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{what}: {err}");
        assert!(!dir.path().join("out.rampart-sealed").exists());
    }
}
