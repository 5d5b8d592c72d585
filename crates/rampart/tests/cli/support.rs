//! The support desk through the CLI against a live server: an administrator creates a
//! company, opens a case for it as someone who is not its contact (suspended, and told
//! why), cannot authorize themselves, comments, reads it back, closes and reopens it; bad
//! input is refused with the server's reason.

use super::{cli_login, create_admin, rampart, run, serve, PASSWORD};

#[test]
fn a_case_is_opened_read_commented_and_closed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    let server = serve(&mut rampart(dir.path()));
    let session = dir.path().join("cli-session.json");
    cli_login(dir.path(), &format!("https://{}", server.https), &session);
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

    let (ok, out, err) = cli(&["support", "company-create", "acme"]);
    assert!(ok && out.contains("created company acme"), "{out}{err}");
    let (ok, _, err) = cli(&["support", "company-create", "acme"]);
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, out, _) = cli(&["support", "companies"]);
    assert!(ok && out.trim() == "acme", "{out}");

    let (ok, out, err) = cli(&[
        "support",
        "open",
        "acme",
        "--subject",
        "Export stops",
        "--description",
        "The export stops at 10,000 rows.",
        "--severity",
        "high",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("suspended") && out.contains("not an authorized contact"),
        "{out}"
    );
    let id = out.split_whitespace().next().unwrap().to_owned();

    let (ok, out, _) = cli(&["support", "cases", "--status", "suspended"]);
    assert!(
        ok && out.contains(&id) && out.contains("Export stops"),
        "{out}"
    );
    let (ok, _, err) = cli(&["support", "authorize", &id]);
    assert!(!ok && err.contains("cannot decide on themselves"), "{err}");

    let (ok, out, err) = cli(&["support", "comment", &id, "Also on Tuesdays."]);
    assert!(ok && out.contains("comment #1"), "{out}{err}");
    let (ok, out, _) = cli(&["support", "show", &id]);
    assert!(
        ok && out.contains("Also on Tuesdays.") && out.contains("10,000 rows"),
        "{out}"
    );
    let log = dir.path().join("export.log");
    std::fs::write(&log, "row 10000: stopped\n").unwrap();
    let (ok, out, err) = cli(&["support", "attach", &id, log.to_str().unwrap()]);
    assert!(
        ok && out.contains("attachment #1 export.log (text/plain"),
        "{out}{err}"
    );
    let saved = dir.path().join("saved.log");
    let (ok, out, err) = cli(&[
        "support",
        "download",
        &id,
        "1",
        "-o",
        saved.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        "row 10000: stopped\n"
    );
    let (ok, _, err) = cli(&[
        "support",
        "download",
        &id,
        "1",
        "-o",
        saved.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("cannot create"), "{err}");
    let (ok, out, _) = cli(&["support", "close", &id]);
    assert!(ok && out.contains("closed"), "{out}");
    let (ok, out, _) = cli(&["support", "reopen", &id]);
    assert!(
        ok && out.contains("suspended"),
        "still not a contact: {out}"
    );

    let (ok, _, err) = cli(&[
        "support",
        "open",
        "acme",
        "--subject",
        "x",
        "--description",
        "y",
        "--severity",
        "urgent",
    ]);
    assert!(!ok && err.contains("severity"), "{err}");
    let (ok, _, err) = cli(&["support", "follow", "rsl_not-a-real-token"]);
    assert!(!ok && err.contains("not found"), "{err}");
    // The link is read from standard input (kept out of the process list) with `-`.
    let follow_stdin = |input: String| {
        let mut follow = rampart(dir.path());
        follow
            .args(["support", "follow", "-"])
            .env("RAMPART_SESSION_FILE", &session)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = follow.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = follow_stdin(String::new());
    assert!(!ok && err.contains("no link given"), "{err}");
    let (ok, err) = follow_stdin(format!(
        "https://{}/console/support/links/rsl_not-a-real-token\n",
        server.https
    ));
    assert!(!ok && err.contains("not found"), "{err}");
    server.stop();
}
