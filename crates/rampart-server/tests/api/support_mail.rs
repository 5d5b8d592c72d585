//! The support desk's mail to a real SMTP server that requires TLS and a password (aiosmtpd
//! with STARTTLS required, and another with TLS from the first byte, both with AUTH),
//! trusting the server's own CA through `[support] smtp_ca_file`; and each way a
//! notification must not get through: plain text where STARTTLS is required, a wrong
//! password, the public roots for a certificate of a private CA. A notification that does
//! not get through stops nothing: the case is kept and the failure counted.

use std::path::PathBuf;
use std::sync::OnceLock;

use rampart_service::Config;
use rampart_store::BackendKind;
use reqwest::StatusCode;

use crate::kit::start;
use crate::support::{address, case_body, desk, mail_in, person, serve_smtp, Smtp};

const USER: &str = "rampart-mailer";
const PASSWORD: &str = "mail-relay-secret-7";

/// The two servers, the CA file that vouches for them and the password files.
struct Peers {
    starttls: Smtp,
    wrapped: Smtp,
    ca_file: PathBuf,
    password_file: PathBuf,
    wrong_password_file: PathBuf,
}

fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let (ca_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&ca_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
        let password_file = dir.join("password");
        std::fs::write(&password_file, PASSWORD).unwrap();
        let wrong_password_file = dir.join("wrong-password");
        std::fs::write(&wrong_password_file, "not-the-relay-secret").unwrap();
        let (cert_path, key_path) = (
            ca_file.display().to_string(),
            key_file.display().to_string(),
        );
        let serve = |mode: &str| {
            serve_smtp(&[
                ("SMTP_TLS", mode),
                ("SMTP_CERT", &cert_path),
                ("SMTP_KEY", &key_path),
                ("SMTP_USER", USER),
                ("SMTP_PASSWORD", PASSWORD),
            ])
        };
        Peers {
            starttls: serve("starttls"),
            wrapped: serve("tls"),
            ca_file,
            password_file,
            wrong_password_file,
        }
    })
}

/// `[support]` for `server` with `tls`, the CA file when `trust_ca`, and `password_file`.
fn mail_settings(
    server: &'static Smtp,
    tls: &'static str,
    trust_ca: bool,
    password_file: &'static std::path::Path,
) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| {
        let s = &mut config.support;
        s.smtp_host = "127.0.0.1".into();
        s.smtp_port = server.port;
        s.smtp_tls = tls.into();
        s.smtp_ca_file = if trust_ca {
            peers().ca_file.display().to_string()
        } else {
            String::new()
        };
        s.smtp_username = USER.into();
        s.smtp_password = format!("file:{}", password_file.display());
        s.smtp_from = "Rampart support <support@rampart.test>".into();
    }
}

/// Opens a suspended case whose administrator has `boss_mail`; answers how many messages
/// `server` then holds for the administrator, and the node's count of mail failures.
async fn notify(tweak: impl FnOnce(&mut Config), server: &Smtp) -> (usize, u64) {
    let node = start(BackendKind::Sqlite, tweak).await;
    let boss_mail = address(&node, "boss");
    let _desk = desk(&node, Some(&boss_mail)).await;
    let (_, otto) = person(&node, "otto", None).await;
    let (status, case) = node
        .post(
            "/api/v1/support/cases",
            &otto,
            case_body("acme", "Login fails"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    assert_eq!(case["status"], "suspended", "{case}");
    let received = mail_in(server, &boss_mail);
    if let Some((head, body)) = received.first() {
        assert!(
            head.contains("Subject: [acme] end:otto asks for support"),
            "{head}"
        );
        assert!(body.contains("/console/support/links/"), "{body}");
    }
    let failures = node.server().state.metrics.support_mail_failures.get();
    (received.len(), failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_a_server_that_requires_tls_and_a_password() {
    let p = peers();
    let starttls = mail_settings(&p.starttls, "starttls", true, &p.password_file);
    assert_eq!(notify(starttls, &p.starttls).await, (1, 0), "STARTTLS");
    let wrapped = mail_settings(&p.wrapped, "tls", true, &p.password_file);
    assert_eq!(
        notify(wrapped, &p.wrapped).await,
        (1, 0),
        "TLS from the first byte"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_notification_goes_in_plain_text_with_a_wrong_password_or_to_an_untrusted_server() {
    let p = peers();
    for (what, tweak) in [
        (
            "plain text where STARTTLS is required",
            mail_settings(&p.starttls, "none", false, &p.password_file),
        ),
        (
            "a wrong password",
            mail_settings(&p.starttls, "starttls", true, &p.wrong_password_file),
        ),
        (
            "a certificate no public root vouches for",
            mail_settings(&p.starttls, "starttls", false, &p.password_file),
        ),
    ] {
        assert_eq!(notify(tweak, &p.starttls).await, (0, 1), "{what}");
    }
}
