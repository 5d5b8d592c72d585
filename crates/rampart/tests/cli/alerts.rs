//! The alert outbox through the CLI against a live server: an alert whose only attempt the
//! webhook misses (nothing listens yet) is listed as given up with the command that
//! delivers it again; the administrator runs it once a receiver listens, which gets the
//! alert with its delivery key, and the outbox is empty. Bad input is refused with the
//! server's reason.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::{cli_login, create_admin, login, rampart, run, serve, PASSWORD};

const SECRET_VAR: &str = "CLI_ALERTS_WEBHOOK_SECRET";

/// Accepts one request on `listener` (within 30 s), answers 204 and returns the request's
/// text.
fn receive_one(listener: &TcpListener) -> String {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no request came");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                stream
                    .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .unwrap();
                return text;
            }
        }
        assert!(n > 0, "the request ended early: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_that_gave_up_is_listed_and_delivered_again_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    assert!(create_admin(dir.path(), &[], PASSWORD).status.success());
    // A port nothing listens on yet: the webhook's only attempt fails at once.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let configured = |c: &mut std::process::Command| {
        c.env("RAMPART_ALERTS__WEBHOOK_URL", &url)
            .env(
                "RAMPART_ALERTS__WEBHOOK_SECRET",
                format!("env:{SECRET_VAR}"),
            )
            .env(SECRET_VAR, "a-secret-the-receiver-shares")
            .env("RAMPART_ALERTS__DELIVERY_ATTEMPTS", "1")
            .env("RAMPART_ALERTS__BRUTE_FORCE_COUNT", "3");
    };
    let mut command = rampart(dir.path());
    configured(&mut command);
    let server = serve(&mut command);
    let session = dir.path().join("cli-session.json");
    cli_login(dir.path(), &format!("https://{}", server.https), &session);
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

    // The help teaches what the outbox is and how to act on it.
    let (ok, out, _) = cli(&["alerts", "--help"]);
    assert!(ok && out.contains("alert.delivery_failed"), "{out}");
    assert!(out.contains("rampart alerts retry --alert"), "{out}");

    // Three wrong passwords: a brute_force alert, whose delivery gives up.
    for _ in 0..3 {
        let answer = login(&server.https, "not-the-password").await;
        assert_eq!(answer.status().as_u16(), 401);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let (ok, out, err) = cli(&["alerts", "deliveries", "--failed", "--format", "json"]);
        assert!(ok, "{err}");
        let items: serde_json::Value = serde_json::from_str(&out).unwrap();
        if !items.as_array().unwrap().is_empty() || Instant::now() > deadline {
            break items;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let failed = &failed[0];
    assert_eq!(failed["kind"], "brute_force", "{failed}");
    assert_eq!(failed["sink"], "webhook", "{failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");
    let seq = failed["alert"].as_i64().unwrap().to_string();
    let (ok, out, _) = cli(&["alerts", "deliveries", "--failed"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "rampart alerts retry --alert {seq} --sink webhook"
        )),
        "{out}"
    );
    assert!(
        out.contains("last error: the webhook did not answer"),
        "{out}"
    );
    let (ok, out, _) = cli(&["alerts", "deliveries"]);
    assert!(ok && out.contains("no alert delivery is waiting"), "{out}");

    // Refused with the server's reason: a sink not configured, a number not an alert's.
    let (ok, _, err) = cli(&["alerts", "retry", "--alert", &seq, "--sink", "email"]);
    assert!(
        !ok && err.contains("not configured") && err.contains("(409)"),
        "{err}"
    );
    let (ok, _, err) = cli(&["alerts", "retry", "--alert", "1", "--sink", "webhook"]);
    assert!(
        !ok && err.contains("not an alert") && err.contains("(422)"),
        "{err}"
    );
    let (ok, _, err) = cli(&["alerts", "retry", "--alert", &seq, "--sink", "sms"]);
    assert!(!ok && err.contains("invalid value 'sms'"), "{err}");

    // A receiver listens now; delivered again, with the alert's number as its key.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (ok, out, err) = cli(&["alerts", "retry", "--alert", &seq, "--sink", "webhook"]);
    assert!(ok, "{err}");
    assert!(out.contains("queued again"), "{out}");
    let request = receive_one(&listener);
    assert!(request.starts_with("POST /hook "), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("rampart-delivery: {seq}\r\n")),
        "{request}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out, err) = cli(&["alerts", "deliveries"]);
        assert!(ok, "{err}");
        if out.contains("no alert delivery is waiting") {
            break;
        }
        assert!(Instant::now() < deadline, "still waiting: {out}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, out, _) = cli(&["alerts", "deliveries", "--failed"]);
    assert!(ok && out.contains("delivered again at"), "{out}");
    assert!(out.contains("by it:root-admin"), "{out}");
    server.stop();
}
