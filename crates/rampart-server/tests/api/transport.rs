//! The transport end to end, on SQLite and PostgreSQL: the data directory's permissions and
//! the HTTP→HTTPS redirect's choice of host.

use std::path::Path;

use rampart_store::BackendKind;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::kit::{on_both, problem, problem_type, start, Node};

/// Asserts the security headers every answer carries (HSTS over TLS only).
fn assert_security_headers(headers: &HeaderMap, tls: bool, what: &str) {
    for name in [
        "x-content-type-options",
        "content-security-policy",
        "x-frame-options",
        "referrer-policy",
        "x-request-id",
    ] {
        assert!(
            headers.contains_key(name),
            "{what}: no {name} in {headers:?}"
        );
    }
    assert_eq!(
        headers.contains_key("strict-transport-security"),
        tls,
        "{what}: HSTS over TLS only"
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_directory_and_its_secrets_are_private() {
    on_both(
        |c| c.data_dir = c.data_dir.join("fresh/data"),
        |node| async move {
            let name = node.name();
            let dir = node.server().state.config.data_dir.clone();
            // Writes, so SQLite has its WAL and shared-memory files.
            node.admin().await;
            let mut expected = vec![
                (dir.clone(), 0o700),
                (dir.join("rampart.lock"), 0o600),
                (dir.join("audit-signing.key"), 0o600),
                (dir.join("tls"), 0o700),
                (dir.join("tls/dev-key.pem"), 0o600),
            ];
            if node.kind == BackendKind::Sqlite {
                for file in ["rampart.db", "rampart.db-wal", "rampart.db-shm"] {
                    expected.push((dir.join(file), 0o600));
                }
            }
            for (path, want) in expected {
                assert_eq!(mode(&path), want, "{name}: {}", path.display());
            }
            assert!(
                rampart_server::serve::permission_findings(&dir).is_empty(),
                "{name}"
            );
            node.shutdown().await;
        },
    )
    .await;
}

#[cfg(unix)]
#[test]
fn wider_data_directories_and_files_are_reported_with_their_modes() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("tls")).unwrap();
    std::fs::write(data.join("rampart.db"), "").unwrap();
    std::fs::write(data.join("tls/dev-cert.pem"), "").unwrap();
    std::fs::write(data.join("tls/dev-key.pem"), "").unwrap();
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(&data, 0o755);
    set(&data.join("rampart.db"), 0o644);
    set(&data.join("tls"), 0o700);
    set(&data.join("tls/dev-cert.pem"), 0o644);
    set(&data.join("tls/dev-key.pem"), 0o640);
    assert_eq!(
        rampart_server::serve::permission_findings(&data),
        vec![
            (data.clone(), 0o755),
            (data.join("rampart.db"), 0o644),
            (data.join("tls/dev-key.pem"), 0o640),
        ],
        "the certificate is public; everything else is reported"
    );
}

/// Writes a certificate and key for `names` into `dir`; returns their paths.
fn certificate(dir: &Path, names: &[&str]) -> (String, String) {
    let generated = rcgen::generate_simple_self_signed(
        names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
    )
    .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

async fn redirect(node: &Node, host: &str) -> reqwest::Response {
    node.client
        .post(format!("{}/api/v1/auth/login?x=1", node.http_base))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redirect_to_https_names_only_hosts_this_server_answers_for() {
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = certificate(
            certs.path(),
            &["*.example.org", "rampart.internal", "192.0.2.7"],
        );
        let node = start(kind, move |c| {
            c.tls_cert = cert;
            c.tls_key = key;
        })
        .await;
        let name = node.name();
        let port = node.server().https_addr.port();
        let cases = [
            ("evil.example", None),
            ("evil.example:8080", None),
            ("a.b.example.org", None),
            ("example.org", None),
            ("192.0.2.8", None),
            ("app.example.org", Some("app.example.org")),
            ("rampart.internal:80", Some("rampart.internal")),
            ("192.0.2.7", Some("192.0.2.7")),
            // Over loopback: the address connected to, and localhost.
            ("127.0.0.1", Some("127.0.0.1")),
            ("localhost", Some("localhost")),
        ];
        for (host, expected) in cases {
            let response = redirect(&node, host).await;
            match expected {
                Some(target) => {
                    assert_eq!(
                        response.status(),
                        StatusCode::PERMANENT_REDIRECT,
                        "{name} {host}"
                    );
                    assert_eq!(
                        response.headers()["location"],
                        format!("https://{target}:{port}/api/v1/auth/login?x=1"),
                        "{name} {host}"
                    );
                }
                None => {
                    assert!(
                        !response.headers().contains_key("location"),
                        "{name} {host}"
                    );
                    assert_security_headers(response.headers(), false, host);
                    let (status, _, body) = problem(response).await;
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{name} {host}");
                    assert_eq!(problem_type(&body), "unknown-host", "{name} {host}");
                    assert!(
                        !body.to_string().contains("evil"),
                        "the host is not echoed: {body}"
                    );
                }
            }
        }
        node.shutdown().await;

        // A configured public origin is the only target, whatever the request names.
        let node = start(kind, |c| {
            c.public_origin = "https://rampart.example.net".into();
        })
        .await;
        for host in ["evil.example", "localhost"] {
            let response = redirect(&node, host).await;
            assert_eq!(
                response.status(),
                StatusCode::PERMANENT_REDIRECT,
                "{name} {host}"
            );
            assert_eq!(
                response.headers()["location"],
                "https://rampart.example.net/api/v1/auth/login?x=1"
            );
        }
        node.shutdown().await;
    }
}
