//! User administration through the CLI against a live server (`rampart users …`): users
//! created with a password from standard input (refused by the policy with the server's
//! reason) and without one, listed with what they are, named by id or `PROVIDER:USERNAME`,
//! disabled and enabled, their password reset and sessions ended, an enrolment link
//! printed (or, with no mail server, a clear refusal to mail it), and deleted.

use std::io::Write as _;
use std::process::Stdio;

use super::{cli_login, create_admin, rampart, serve, PASSWORD};

#[test]
fn users_are_administered_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    // Passkeys (and so enrolment links) need the origin browsers use, a domain name.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let origin = format!("https://localhost:{port}");
    let server = serve(
        rampart(dir.path())
            .env("RAMPART_HTTPS_ADDR", format!("127.0.0.1:{port}"))
            .env("RAMPART_PUBLIC_ORIGIN", &origin),
    );
    let session = dir.path().join("cli-session.json");
    cli_login(dir.path(), &format!("https://{}", server.https), &session);
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut c = rampart(dir.path());
        c.args(args)
            .env("RAMPART_SESSION_FILE", &session)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            writeln!(input, "{text}").unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Created with the password on standard input; a weak one is the policy's refusal.
    let (ok, out, err) = cli(
        &[
            "users",
            "create",
            "end",
            "alice",
            "--email",
            "alice@example.com",
        ],
        Some("lantern-meadow-copper-58"),
    );
    assert!(ok && out.starts_with("created end:alice ("), "{out}{err}");
    let (ok, _, err) = cli(&["users", "create", "end", "bert"], Some("short"));
    assert!(!ok && err.contains("(422)"), "{err}");
    let (ok, _, err) = cli(&["users", "create", "end", "bert"], None);
    assert!(
        !ok && err.contains("no password on standard input"),
        "{err}"
    );
    let (ok, out, err) = cli(
        &[
            "users",
            "create",
            "it",
            "nora",
            "--no-password",
            "--email",
            "nora@example.com",
        ],
        None,
    );
    assert!(
        ok && out.contains("rampart users enrol it:nora"),
        "{out}{err}"
    );

    // Listed with what they are.
    let (ok, out, err) = cli(&["users", "list"], None);
    assert!(ok, "{err}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{out}"))
            .to_owned()
    };
    assert!(line("root-admin").contains("administrator"), "{out}");
    assert!(
        line("alice").contains("local") && line("alice").contains("never"),
        "{out}"
    );
    assert!(line("nora").ends_with("no password"), "{out}");
    let (ok, out, _) = cli(&["users", "list", "--provider", "end"], None);
    assert!(
        ok && out.lines().count() == 1 && out.contains("alice"),
        "{out}"
    );

    // Named by `PROVIDER:USERNAME` (any case) or by id.
    let (ok, out, err) = cli(&["users", "show", "end:ALICE"], None);
    assert!(ok, "{err}");
    let alice: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = alice["id"].as_str().unwrap().to_owned();
    assert_eq!(alice["password"], true, "{out}");
    let (ok, _, err) = cli(&["users", "show", "end:zed"], None);
    assert!(!ok && err.contains("no end user is named \"zed\""), "{err}");
    let (ok, _, err) = cli(&["users", "show", "staff:alice"], None);
    assert!(!ok && err.contains("it:USERNAME or end:USERNAME"), "{err}");

    // Disabled and enabled again; the password reset; the sessions ended.
    let (ok, out, err) = cli(&["users", "disable", &id], None);
    assert!(ok && out.contains("disabled end:alice"), "{out}{err}");
    let (_, out, _) = cli(&["users", "show", &id], None);
    assert!(out.contains("\"disabled\": true"), "{out}");
    let (ok, out, err) = cli(&["users", "enable", "end:alice"], None);
    assert!(ok && out.contains("enabled end:alice"), "{out}{err}");
    let (ok, out, err) = cli(
        &["users", "reset-password", "end:alice"],
        Some("harbor-quill-tundra-93"),
    );
    assert!(ok && out.contains("password set"), "{out}{err}");
    let (ok, out, err) = cli(&["users", "revoke-sessions", "end:alice"], None);
    assert!(ok && out.contains("ended 0 session(s)"), "{out}{err}");
    let (ok, out, err) = cli(&["users", "unlock", "end:alice"], None);
    assert!(ok && out.contains("unlocked"), "{out}{err}");

    // An enrolment link, printed once; mailing it needs a mail server.
    let (ok, out, err) = cli(&["users", "enrol", "it:nora"], None);
    assert!(ok, "{out}{err}");
    let link = out.lines().last().unwrap();
    assert!(link.starts_with(&format!("{origin}/enrol#rpe_")), "{out}");
    let (ok, _, err) = cli(&["users", "enrol", "it:nora", "--mail"], None);
    assert!(!ok && err.contains("no mail server is configured"), "{err}");
    let (ok, _, err) = cli(&["users", "enrol", "end:alice"], None);
    assert!(!ok && err.contains("has a password"), "{err}");

    // Deleted.
    let (ok, out, err) = cli(&["users", "delete", "end:alice"], None);
    assert!(ok && out.contains("deleted end:alice"), "{out}{err}");
    let (ok, _, err) = cli(&["users", "show", &id], None);
    assert!(!ok && err.contains("(404)"), "{err}");
    server.stop();
}
