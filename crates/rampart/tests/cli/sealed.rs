//! Publish-time findings and sealed modules through the CLI, against two live servers (a
//! vendor's installation and a client's): a pending warning is listed, refused an
//! acceptance without a real justification and accepted with one; the vendor seals the
//! version to the client's environment; the client refuses it from an untrusted publisher,
//! trusts the publisher, imports and deploys it, and cannot read its source.

use std::path::{Path, PathBuf};

use super::{cli_login, create_admin, rampart, run, serve, Running, PASSWORD};

const NOTES: &str = "module: notes
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
    parameters: [{name: next, type: text}]
    widgets:
      - {kind: table, columns: [record.title]}
      - {kind: link, target: params.next}
";

/// One installation: its data directory, its server and the CLI's session file for it.
struct Installation {
    dir: tempfile::TempDir,
    session: PathBuf,
    server: Running,
}

impl Installation {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
        let server = serve(&mut rampart(dir.path()));
        let session = dir.path().join("cli-session.json");
        let url = format!("https://{}", server.https);
        cli_login(dir.path(), &url, &session);
        let me = Installation {
            dir,
            session,
            server,
        };
        me.create_application("shop").await;
        me
    }

    /// Runs the CLI against this installation: success, stdout, stderr.
    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let mut c = rampart(self.dir.path());
        c.args(args)
            .env("RAMPART_SESSION_FILE", &self.session)
            .env("NO_COLOR", "1");
        let out = run(&mut c);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn create_application(&self, name: &str) {
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&self.session).unwrap()).unwrap();
        let created = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap()
            .post(format!("https://{}/api/v1/authz/write", self.server.https))
            .bearer_auth(saved["token"].as_str().unwrap())
            .json(&serde_json::json!({ "operations": [{ "op": "create_application", "name": name }] }))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success());
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_are_accepted_and_sealed_modules_imported_from_the_cli() {
    let vendor = Installation::start().await;
    let client = Installation::start().await;

    // The vendor publishes a version with a warning: published, and pending.
    let source = vendor.path("notes.yaml");
    std::fs::write(&source, NOTES).unwrap();
    let (ok, out, err) = vendor.cli(&["module", "publish", text(&source), "-m", "first"]);
    assert!(ok && out.contains("notes version 1"), "{out}{err}");
    let (ok, out, err) = vendor.cli(&["module", "findings", "notes", "1"]);
    assert!(ok, "{err}");
    // A pending warning says how to accept it; `>` stands for `›` when typed.
    let command = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("rampart module accept notes 1 \""))
        .unwrap_or_else(|| panic!("a pending warning names its acceptance: {out}"));
    let finding = command.split('"').next().unwrap().to_owned();
    assert_eq!(finding, "RS003 notes › screens.Notes › widgets.1", "{out}");
    let typed = finding.replace(" › ", " > ");
    // An acceptance needs a real justification; a refused one changes nothing.
    let (ok, _, err) = vendor.cli(&[
        "module",
        "accept",
        "notes",
        "1",
        &finding,
        "--because",
        "fine",
    ]);
    assert!(!ok && err.contains("justification"), "{err}");
    let (_, out, _) = vendor.cli(&["module", "findings", "notes", "1"]);
    assert!(out.contains("PENDING"), "{out}");
    let why = "Links only to our own help pages, which the screen's parameter names.";
    let (ok, out, err) = vendor.cli(&["module", "accept", "notes", "1", &typed, "--because", why]);
    assert!(ok, "{out}{err}");
    let (_, out, _) = vendor.cli(&["module", "findings", "notes", "1"]);
    assert!(!out.contains("PENDING") && out.contains(why), "{out}");

    // The vendor seals version 1 to the client's development environment.
    let (ok, recipient, err) = client.cli(&["env", "public-key", "development"]);
    let recipient = recipient.trim().to_owned();
    assert!(ok && recipient.starts_with("age1"), "{recipient}{err}");
    let key = vendor.path("vendor.key");
    let (ok, publisher, err) = vendor.cli(&["publishers", "keygen", "-o", text(&key)]);
    let publisher = publisher.trim().to_owned();
    assert!(ok && publisher.starts_with("ed25519:"), "{publisher}{err}");
    let package = vendor.path("notes-1.rampart-sealed");
    let (ok, out, err) = vendor.cli(&[
        "module",
        "seal",
        "notes@1",
        "--for",
        &recipient,
        "--sign-with",
        text(&key),
        "-o",
        text(&package),
    ]);
    assert!(ok, "{out}{err}");
    let sealed = std::fs::read(&package).unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("params.next"),
        "the source is not in the package in the clear"
    );

    // The client refuses an unknown publisher, then trusts it and imports.
    let (ok, _, err) = client.cli(&[
        "module",
        "import",
        text(&package),
        "--environment",
        "development",
    ]);
    assert!(!ok && err.contains("publisher"), "{err}");
    let (ok, out, err) = client.cli(&["publishers", "trust", &publisher, "--name", "acme"]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = client.cli(&["publishers", "list"]);
    assert!(ok && out.contains("acme"), "{out}");
    let (ok, out, err) = client.cli(&[
        "module",
        "import",
        text(&package),
        "--environment",
        "development",
    ]);
    assert!(ok, "{out}{err}");

    // It deploys and its public surface shows; its source, to anyone, never.
    let (ok, out, err) = client.cli(&["env", "deploy", "development", "notes=1"]);
    assert!(ok && out.contains("applied"), "{out}{err}");
    let (ok, out, err) = client.cli(&["module", "show", "notes", "--surface"]);
    assert!(ok && out.contains("\"Note\""), "{out}{err}");
    let (ok, out, err) = client.cli(&["module", "show", "notes"]);
    assert!(!ok && !out.contains("params.next"), "{out}");
    assert!(err.contains("sealed"), "{err}");

    vendor.server.stop();
    client.server.stop();
}
