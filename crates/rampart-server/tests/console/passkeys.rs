//! Passkeys in the console in headless Chromium with its virtual authenticator
//! (`tests/console/passkeys.js`), on both stores. WebAuthn binds a passkey to the page's
//! origin and will not run on a page with a certificate error, so the browser uses the
//! plain listener as `http://localhost:<port>` (a secure context), which is the node's
//! `public_origin`.

use std::process::Command;

use rampart_core::Provider;

use crate::kit::{on_both, Node, ADMIN_PASSWORD};
use crate::{harness, install_harness, CHROMIUM};

/// The address of the account with no password (one per store: the SMTP server is shared).
fn nia_email(store: &str) -> String {
    format!("nia-{store}@example.com")
}

/// The plain listener on a port chosen now, named as `http://localhost:<port>`, and the
/// test binary's SMTP server, which mails enrolment links.
fn localhost_origin(config: &mut rampart_service::Config) {
    crate::kit::smtp::with_smtp(config);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    config.http_addr = format!("127.0.0.1:{port}");
    config.public_origin = format!("http://localhost:{port}");
    config.enforce_https = false;
}

async fn run(node: Node) {
    let name = node.name();
    node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
        .await;
    let base = node.http_base.replace("127.0.0.1", "localhost");
    let mut command = Command::new("node");
    command
        .arg("passkeys.js")
        .current_dir(harness())
        .env("CONSOLE_BASE", &base)
        .env("CONSOLE_CHROMIUM", CHROMIUM)
        .env("CONSOLE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CONSOLE_NIA_EMAIL", nia_email(name));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("--- {name} ---\n{stdout}");
    assert!(
        output.status.success(),
        "{name}: the passkey scenarios failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, 5, "{name}:\n{stdout}");
    // What the browser did went through the service and its audit trail.
    let events = node.events().await;
    for action in [
        "user.mfa.passkey.add",
        "user.mfa.passkey.remove",
        "user.enrolment.issue",
    ] {
        assert!(
            events.iter().any(|e| e.action == action),
            "{name}: {action}"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e.action == "auth.login" && e.details.contains("\"passkey\"")),
        "{name}: a sign-in with a passkey"
    );
    assert!(
        events.iter().any(|e| e.action == "auth.login"
            && e.outcome == "success"
            && e.details.contains("\"method\":\"passkey\"")),
        "{name}: a sign-in with the passkey alone"
    );
    assert!(
        events.iter().any(|e| e.action == "user.mfa.passkey.add"
            && e.actor_name.as_deref() == Some("it:nia")
            && e.details.contains("\"enrolment\":true")),
        "{name}: the enrolment's passkey"
    );
    // The console's "Mail link" sent her one message, holding a link.
    let letters = crate::kit::smtp::mail_to(&nia_email(name));
    assert_eq!(letters.len(), 1, "{name}: {letters:?}");
    assert!(
        letters[0].1.contains("/enrol#rpe_"),
        "{name}: {:?}",
        letters[0]
    );
    assert!(
        events.iter().any(|e| e.action == "user.enrolment.issue"
            && e.details
                .contains(&format!("\"mailed_to\":\"{}\"", nia_email(name)))),
        "{name}: the mailed link's event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_registration_and_sign_in_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    on_both(localhost_origin, run).await;
}
