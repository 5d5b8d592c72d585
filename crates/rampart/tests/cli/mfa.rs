//! Two-factor authentication through the CLI against a live server whose policy requires
//! administrators to use a TOTP app: `rampart login` enrols the app (the secret and QR code
//! in the terminal), takes its code from the prompt and prints the recovery codes once;
//! `rampart mfa status` shows it; a second login asks for a code and takes a recovery
//! code; `rampart mfa reset` (within the step-up window of the enrolment) removes the
//! factors and ends the sessions.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;

use rampart_core::{Clock as _, SystemClock};
use rampart_identity::mfa::{step_of, TotpSecret};

use super::{create_admin, rampart, run, serve, PASSWORD};

#[test]
fn login_enrols_a_totp_app_then_asks_for_its_code_and_mfa_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("master.key");
    assert!(run(rampart(dir.path())
        .args(["keys", "init", "--out"])
        .arg(&key))
    .status
    .success());
    let master = format!("file:{}", key.display());
    let env = [
        ("RAMPART_KEYS__MASTER_KEY", master.as_str()),
        ("RAMPART_MFA__REQUIRED_FOR_ADMINISTRATORS", "true"),
    ];
    let created = create_admin(dir.path(), &env, PASSWORD);
    assert!(created.status.success());
    // "created IT user root-admin (<id>), administrator"
    let created = String::from_utf8_lossy(&created.stdout).into_owned();
    let id = created
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("{created}"));
    let mut server = rampart(dir.path());
    server.envs(env);
    let server = serve(&mut server);
    let url = format!("https://{}", server.https);
    let session = dir.path().join("cli-session.json");
    let login = || {
        let mut c = rampart(dir.path());
        c.args([
            "login",
            "--server",
            url.as_str(),
            "--username",
            "root-admin",
            "--ca-cert",
        ])
        .arg(dir.path().join("tls/dev-cert.pem"))
        .env("RAMPART_SESSION_FILE", &session)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        c.spawn().unwrap()
    };

    // First sign-in: the app is enrolled from what the terminal shows.
    let mut child = login();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PASSWORD}").unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut shown = String::new();
    while let Some(Ok(line)) = err.next() {
        if line.contains("type this secret into it") {
            shown = err.next().unwrap().unwrap().trim().to_owned();
            break;
        }
    }
    let secret = TotpSecret::from_base32(&shown).unwrap();
    let now = SystemClock.now().unix_timestamp();
    writeln!(stdin, "{:06}", secret.code_at_step(step_of(now))).unwrap();
    drop(stdin);
    let rest: Vec<String> = err.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", rest.join("\n"));
    let codes: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(codes.len(), 10, "{stdout}");

    let cli = |args: &[&str]| {
        let mut c = rampart(dir.path());
        c.args(args).env("RAMPART_SESSION_FILE", &session);
        let out = run(&mut c);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = cli(&["mfa", "status"]);
    assert!(
        ok && out.contains("set up") && out.contains("10 unused"),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&["mfa", "enrol"]);
    assert!(!ok && err.contains("already set up"), "{err}");

    // Second sign-in: the prompt takes a recovery code.
    let mut child = login();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{PASSWORD}").unwrap();
    writeln!(stdin, "{}", codes[0]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, out, _) = cli(&["mfa", "status"]);
    assert!(ok && out.contains("9 unused"), "{out}");

    // A session that verified a second factor counts as stepped up for ten minutes: the
    // reset goes through and ends the sessions, this one included.
    let (ok, out, err) = cli(&["mfa", "reset", &id]);
    assert!(ok && out.contains("session(s) ended"), "{out}{err}");
    let (ok, _, err) = cli(&["mfa", "status"]);
    assert!(!ok && err.contains("401"), "{err}");
    drop(server);
}
