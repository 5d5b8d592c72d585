//! Audit signing-key rotation and a witness, end to end with real processes: a witness
//! (`rampart witness serve`) cosigns the checkpoints of `rampart serve`, the key is rotated
//! through the API, and the exported log verifies offline from the first public key and the
//! witness's key; a tampered cosignature is refused, and a node whose log forked from what
//! the witness cosigned is refused by it and raises `checkpoint_fork`. On SQLite, and on
//! PostgreSQL with two nodes, where the node that takes the lease after the rotation signs
//! with the new key.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;

const ORIGIN: &str = "witness-test.example/audit";

/// A running witness process.
struct WitnessProcess {
    child: Child,
    url: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rampart witness serve` on loopback, over HTTPS with `tls` (certificate and key files).
#[allow(clippy::zombie_processes)] // waited for in Drop
fn start_witness_with(dir: &Path, tls: Option<(&Path, &Path)>) -> WitnessProcess {
    let mut command = rampart(dir);
    command
        .args(["witness", "serve", "--addr", "127.0.0.1:0", "--dir"])
        .arg(dir);
    if let Some((cert, key)) = tls {
        command
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("witness listening on ")
        .unwrap_or_else(|| panic!("witness did not start: {line:?}"))
        .to_owned();
    let scheme = if tls.is_some() { "https" } else { "http" };
    WitnessProcess {
        child,
        url: format!("{scheme}://{addr}"),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

async fn token(https: &str) -> String {
    let response = login(https, PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get(https: &str, path: &str, token: &str) -> Value {
    let response = client()
        .get(format!("https://{https}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Waits until the newest checkpoint is at least `size` and cosigned by the witness;
/// returns it. Sign-ins keep the log growing meanwhile.
async fn cosigned_checkpoint(https: &str, token: &str, size: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert_eq!(login(https, PASSWORD).await.status(), 200);
        let response = client()
            .get(format!("https://{https}/api/v1/audit/checkpoint"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        // 404 until the first checkpoint is signed.
        let c: Value = match response.status().as_u16() {
            404 => Value::Null,
            200 => response.json().await.unwrap(),
            other => panic!("checkpoint: {other}"),
        };
        let cosigned = c["cosignatures"].as_array().is_some_and(|a| !a.is_empty());
        if cosigned && c["size"].as_u64().unwrap() >= size {
            return c;
        }
        assert!(Instant::now() < deadline, "never cosigned: {c}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn rotate(https: &str, token: &str) -> Value {
    let response = client()
        .post(format!("https://{https}/api/v1/audit/keys/rotate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// The configuration shared by the nodes: origin, a checkpoint a second, the master key
/// and the witness.
fn node_env(master_key: &Path, witness: &str, database_url: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("RAMPART_AUDIT__ORIGIN".to_owned(), ORIGIN.to_owned()),
        ("RAMPART_AUDIT__CHECKPOINT_SECONDS".into(), "1".into()),
        ("RAMPART_AUDIT__WITNESSES".into(), witness.to_owned()),
        (
            "RAMPART_KEYS__MASTER_KEY".into(),
            format!("file:{}", master_key.display()),
        ),
    ];
    if let Some(url) = database_url {
        env.push(("RAMPART_DATABASE_URL".into(), url.to_owned()));
    }
    env
}

fn start(dir: &Path, env: &[(String, String)], node: &str) -> Running {
    let mut command = rampart(dir);
    command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RAMPART_NODE_ID", node);
    serve(&mut command)
}

fn cmd(dir: &Path, env: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let out = run(rampart(dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exports the log and verifies it with the first key and the witness key; returns the
/// export's path and the verifier's output.
fn export_and_verify_witnessed(
    dir: &Path,
    env: &[(String, String)],
    first_key: &str,
    witness_key: &str,
) -> (PathBuf, bool, String) {
    let export = dir.join("witnessed-export.jsonl");
    let (ok, _, err) = cmd(
        dir,
        env,
        &["audit", "export", "--output", export.to_str().unwrap()],
    );
    assert!(ok, "export: {err}");
    let (ok, out, err) = verify(&export, first_key, witness_key);
    (export, ok, format!("{out}{err}"))
}

fn verify(export: &Path, first_key: &str, witness_key: &str) -> (bool, String, String) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["audit", "verify"])
        .arg(export)
        .args(["--public-key", first_key, "--witness-key", witness_key]));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Alters the last witness cosignature in an export (a character of its signature).
fn tamper_cosignature(export: &Path, witness_name: &str) -> PathBuf {
    let text = std::fs::read_to_string(export).unwrap();
    let marker = format!("\\u2014 {witness_name} ");
    let alt = format!("— {witness_name} ");
    let (at, len) = text
        .rfind(&marker)
        .map(|i| (i, marker.len()))
        .or_else(|| text.rfind(&alt).map(|i| (i, alt.len())))
        .expect("a cosignature in the export");
    let mut bytes = text.into_bytes();
    let pos = at + len + 10;
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let tampered = export.with_extension("tampered.jsonl");
    std::fs::write(&tampered, bytes).unwrap();
    tampered
}

/// Sets up the master key, the first node's directory and key, and a witness following
/// the log; returns (master key path, first public key, witness key, witness).
fn prepare(
    root: &Path,
    node: &Path,
    database_url: Option<&str>,
) -> (PathBuf, String, String, WitnessProcess) {
    prepare_with(root, node, database_url, None)
}

/// [`prepare`], the witness serving HTTPS with `tls` (certificate and key files) if given.
fn prepare_with(
    root: &Path,
    node: &Path,
    database_url: Option<&str>,
    tls: Option<(&Path, &Path)>,
) -> (PathBuf, String, String, WitnessProcess) {
    let master_key = root.join("master.key");
    let (ok, _, err) = cmd(
        &root.join("keys"),
        &[],
        &["keys", "init", "--out", master_key.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let env: Vec<(&str, &str)> = database_url
        .map(|u| ("RAMPART_DATABASE_URL", u))
        .into_iter()
        .chain([("RAMPART_AUDIT__ORIGIN", ORIGIN)])
        .collect();
    let created = create_admin(node, &env, PASSWORD);
    assert!(created.status.success(), "{}", failure_message(&created));
    let (ok, first_key, err) = cmd(node, &[], &["audit", "public-key"]);
    assert!(ok, "{err}");
    let first_key = first_key.trim().to_owned();
    let witness_dir = root.join("witness");
    let (ok, witness_key, err) = cmd(
        root,
        &[],
        &[
            "witness",
            "init",
            "--dir",
            witness_dir.to_str().unwrap(),
            "--origin",
            ORIGIN,
            "--log-key",
            &first_key,
            "--name",
            "test-witness",
        ],
    );
    assert!(ok, "{err}");
    let witness = start_witness_with(&witness_dir, tls);
    // A long-running server, it runs with the allocator settings `rampart serve` uses.
    let environ = std::fs::read(format!("/proc/{}/environ", witness.child.id())).unwrap();
    for setting in ["MIMALLOC_ARENA_EAGER_COMMIT=0", "MIMALLOC_PURGE_DELAY=0"] {
        assert!(
            environ.split(|b| *b == 0).any(|e| e == setting.as_bytes()),
            "{setting}"
        );
    }
    (
        master_key,
        first_key,
        witness_key.trim().to_owned(),
        witness,
    )
}

fn witnessed_size(root: &Path) -> u64 {
    let state: Value =
        serde_json::from_slice(&std::fs::read(root.join("witness/witness-state.json")).unwrap())
            .unwrap();
    state["logs"][0]["size"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_and_witnessed_log_verifies_from_its_first_key_on_sqlite() {
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    let (master_key, first_key, witness_key, witness) = prepare(root.path(), &node, None);
    let env = node_env(&master_key, &format!("{} {witness_key}", witness.url), None);
    // A witness follows a log once, and serves plain HTTP on loopback only.
    let witness_dir = root.path().join("witness");
    let (ok, _, err) = cmd(
        root.path(),
        &[],
        &[
            "witness",
            "init",
            "--dir",
            witness_dir.to_str().unwrap(),
            "--origin",
            ORIGIN,
            "--log-key",
            &first_key,
        ],
    );
    assert!(!ok && err.contains("follows the log"), "{err}");
    let (ok, _, err) = cmd(
        root.path(),
        &[],
        &[
            "witness",
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--dir",
            witness_dir.to_str().unwrap(),
        ],
    );
    assert!(!ok && err.contains("not a loopback address"), "{err}");
    let (ok, out, _) = cmd(
        root.path(),
        &[],
        &[
            "witness",
            "public-key",
            "--dir",
            witness_dir.to_str().unwrap(),
        ],
    );
    assert!(ok && out.trim() == witness_key);

    let server = start(&node, &env, "solo");
    let admin = token(&server.https).await;
    let before = cosigned_checkpoint(&server.https, &admin, 1).await;
    assert_eq!(before["signing_key"], first_key.as_str());
    let rotation = rotate(&server.https, &admin).await;
    assert_eq!(rotation["generation"], 1);
    assert_eq!(rotation["previous_key"], first_key.as_str());
    let new_key = rotation["verifier_key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, first_key);
    let rotated_at = rotation["checkpoint_size"]
        .as_u64()
        .expect("signed at once");
    let after = cosigned_checkpoint(&server.https, &admin, rotated_at + 1).await;
    assert_eq!(after["signing_key"], new_key.as_str());
    assert_eq!(after["verifier_key"], first_key.as_str());
    server.stop();

    // The rotation is in the log, naming both keys and no secret.
    let (ok, out, err) = cmd(&node, &env, &["audit", "public-key", "--current"]);
    assert!(ok && out.trim() == new_key, "{out}{err}");
    let (export, ok, out) = export_and_verify_witnessed(&node, &env, &first_key, &witness_key);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("key rotation at checkpoint {rotated_at}")),
        "{out}"
    );
    assert!(out.contains("witnessed: the checkpoint of size"), "{out}");
    let text = std::fs::read_to_string(&export).unwrap();
    let rotate_event = text
        .lines()
        .find(|l| l.contains("\"action\":\"audit.key.rotate\""))
        .expect("the rotation's event");
    assert!(rotate_event.contains(&new_key) && !rotate_event.contains("PRIVATE"));

    // Without the witness's cosignature (another witness key), or with a tampered one, the
    // export does not verify.
    let stranger = rampart_audit::SigningKey::from_seed("other-witness", [9; 32])
        .unwrap()
        .verifier_key();
    let (ok, out, err) = verify(&export, &first_key, &stranger);
    assert!(
        !ok && out.contains("no verified checkpoint is cosigned"),
        "{out}{err}"
    );
    let tampered = tamper_cosignature(&export, "test-witness");
    let (ok, out, _) = verify(&tampered, &first_key, &witness_key);
    assert!(!ok && out.contains("bad cosignature"), "{out}");

    // A copy of the data directory (the same key, the log up to here) that goes on with
    // other events than the original forks the log: the witness, which cosigned the
    // original's larger tree, refuses it, and the copy raises checkpoint_fork.
    let copy = root.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for name in ["rampart.db", "audit-signing.key"] {
        std::fs::copy(node.join(name), copy.join(name)).unwrap();
    }
    let server = start(&node, &env, "solo");
    let admin = token(&server.https).await;
    for _ in 0..3 {
        token(&server.https).await;
    }
    let cosigned = cosigned_checkpoint(&server.https, &admin, after["size"].as_u64().unwrap() + 8)
        .await["size"]
        .as_u64()
        .unwrap();
    server.stop();
    let witnessed = witnessed_size(root.path());
    assert!(witnessed >= cosigned);

    let fork = start(&copy, &env, "fork");
    let fork_admin = token(&fork.https).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let alerts = loop {
        // Other events than the original's, more of them, so the copy's tree is larger.
        token(&fork.https).await;
        let alerts = get(
            &fork.https,
            "/api/v1/audit/events?action=alert.checkpoint_fork",
            &fork_admin,
        )
        .await;
        if !alerts["items"].as_array().unwrap().is_empty() {
            break alerts;
        }
        assert!(Instant::now() < deadline, "no fork alert");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(alerts["items"][0]["action"], "alert.checkpoint_fork");
    // The refused fork changed nothing the witness remembers.
    assert_eq!(witnessed_size(root.path()), witnessed);
    // The copy's checkpoints are refused whatever their size: smaller than what the witness
    // cosigned (no extension), as large with another root, or larger but not a consistent
    // extension; which one the alert came from depends on when the copy's leader signed.
    let forked = get(&fork.https, "/api/v1/audit/checkpoint", &fork_admin).await;
    assert!(forked["size"].as_u64().unwrap() > 0, "{forked}");
    assert!(
        forked["cosignatures"].as_array().unwrap().is_empty(),
        "the fork is never cosigned: {forked}"
    );
    fork.stop();
    drop(witness);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_on_postgres_the_node_that_takes_the_lease_signs_with_the_new_key() {
    let url = rampart_store::testing::fresh_postgres_url().await;
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let (master_key, first_key, witness_key, witness) = prepare(root.path(), &a, Some(&url));
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("audit-signing.key"), b.join("audit-signing.key")).unwrap();
    let env = node_env(
        &master_key,
        &format!("{} {witness_key}", witness.url),
        Some(&url),
    );
    let node_a = start(&a, &env, "node-a");
    let node_b = start(&b, &env, "node-b");
    let admin_a = token(&node_a.https).await;
    cosigned_checkpoint(&node_a.https, &admin_a, 1).await;
    // Rotated through node B, whichever node leads.
    let admin_b = token(&node_b.https).await;
    let rotation = rotate(&node_b.https, &admin_b).await;
    let new_key = rotation["verifier_key"].as_str().unwrap().to_owned();
    let rotated_at = cosigned_checkpoint(&node_a.https, &admin_a, 1).await["size"]
        .as_u64()
        .unwrap();
    // Node A stops (releasing the lease if it held it); node B signs from then on.
    node_a.stop();
    let left = get(&node_b.https, "/api/v1/audit/checkpoint", &admin_b).await["size"]
        .as_u64()
        .unwrap();
    let after = cosigned_checkpoint(&node_b.https, &admin_b, left.max(rotated_at) + 5).await;
    assert_eq!(after["signing_key"], new_key.as_str());
    let (ok, out, err) = cmd(&b, &env, &["audit", "public-key", "--current"]);
    assert!(ok && out.trim() == new_key, "{out}{err}");
    let (_, ok, out) = export_and_verify_witnessed(&b, &env, &first_key, &witness_key);
    assert!(ok, "{out}");
    assert!(out.contains("key rotation at checkpoint"), "{out}");
    node_b.stop();
    drop(witness);
}

/// A certificate authority of its own in `dir/<name>/` and a certificate it issued for
/// 127.0.0.1, as PEM files: (the CA's certificate, the server's certificate, its key).
fn private_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca.self_signed(&ca_key).unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = server.signed_by(&server_key, &ca, &ca_key).unwrap();
    let files = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&files.0, ca.pem()).unwrap();
    std::fs::write(&files.1, server.pem()).unwrap();
    std::fs::write(&files.2, server_key.serialize_pem()).unwrap();
    files
}

/// Waits until two more checkpoints than the one signed now are signed, so the leader's
/// attempt to have the first cosigned is over (each signing is followed by the sending,
/// before the next); returns the newest. Sign-ins keep the log growing meanwhile.
async fn two_checkpoints_later(https: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut sizes: Vec<u64> = Vec::new();
    loop {
        assert_eq!(login(https, PASSWORD).await.status(), 200);
        let response = client()
            .get(format!("https://{https}/api/v1/audit/checkpoint"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let c: Value = response.json().await.unwrap();
            let size = c["size"].as_u64().unwrap();
            if sizes.last() != Some(&size) {
                sizes.push(size);
            }
            if sizes.len() >= 3 {
                return c;
            }
        }
        assert!(Instant::now() < deadline, "checkpoints signed: {sizes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_behind_a_private_ca_is_reached_only_through_its_configured_ca() {
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    let (ca, cert, key) = private_ca(root.path(), "witness");
    let (other_ca, _, _) = private_ca(root.path(), "other");
    let (master_key, first_key, witness_key, witness) =
        prepare_with(root.path(), &node, None, Some((&cert, &key)));
    assert!(
        witness.url.starts_with("https://127.0.0.1:"),
        "{}",
        witness.url
    );
    let with_ca = |ca: &Path| {
        node_env(
            &master_key,
            &format!("{} {witness_key} ca={}", witness.url, ca.display()),
            None,
        )
    };

    // A CA file that cannot be read, or is not PEM: the node does not start, and says which
    // witness and which file.
    let not_pem = root.path().join("not-pem.pem");
    std::fs::write(&not_pem, "this is no certificate\n").unwrap();
    for (file, why) in [
        (root.path().join("missing.pem"), "cannot be read"),
        (not_pem, "holds no PEM certificate"),
    ] {
        let (ok, _, err) = cmd(&node, &with_ca(&file), &["serve"]);
        assert!(!ok, "started with {}", file.display());
        for needed in [
            "audit.witnesses",
            witness.url.as_str(),
            &file.display().to_string(),
            why,
        ] {
            assert!(err.contains(needed), "{needed}: {err}");
        }
    }

    // Another CA: the witness's certificate is refused at TLS, the node logs it, and no
    // cosignature is stored (nor did the witness cosign anything).
    let server = start(&node, &with_ca(&other_ca), "solo");
    let admin = token(&server.https).await;
    let newest = two_checkpoints_later(&server.https, &admin).await;
    assert!(
        newest["cosignatures"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{newest}"
    );
    let (_, log) = server.stop_with_log();
    let refused = log
        .lines()
        .find(|l| l.contains("checkpoint not cosigned") && l.contains(&witness.url))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    assert!(refused.contains("certificate"), "{refused}");
    let state: Value = serde_json::from_slice(
        &std::fs::read(root.path().join("witness/witness-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["logs"][0]["size"].as_u64().unwrap_or(0), 0, "{state}");

    // Its own CA: cosigned, and the export verifies with the witness's key.
    let server = start(&node, &with_ca(&ca), "solo");
    let admin = token(&server.https).await;
    let cosigned = cosigned_checkpoint(&server.https, &admin, 1).await;
    assert!(witnessed_size(root.path()) >= cosigned["size"].as_u64().unwrap());
    server.stop();
    let (_, ok, out) = export_and_verify_witnessed(&node, &with_ca(&ca), &first_key, &witness_key);
    assert!(ok, "{out}");
    assert!(out.contains("witnessed: the checkpoint of size"), "{out}");
}
