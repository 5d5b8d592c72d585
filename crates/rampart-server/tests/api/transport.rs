//! The transport end to end, on SQLite and PostgreSQL: the data directory's permissions, the
//! HTTP→HTTPS redirect's choice of host, refusals that reach HTTP/1.1 and HTTP/2 clients
//! (reqwest, and Debian's curl) as problem documents, oversized request heads included, and
//! who may read `/metrics`.

use std::path::Path;
use std::process::Command;

use rampart_core::Provider;
use rampart_service::Config;
use rampart_store::BackendKind;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode, Version};
use serde_json::Value;

use crate::kit::{on_both, problem, problem_type, start, Node, USER_PASSWORD};

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

/// A client speaking only HTTP/1.1 or only HTTP/2 (negotiated by ALPN over TLS).
fn client(version: Version) -> Client {
    let builder = Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none());
    let builder = if version == Version::HTTP_2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    builder.build().unwrap()
}

/// What `/usr/bin/curl` (Debian 12's 7.88: `apt-get install curl`) got: its exit code,
/// the status, the HTTP version and the body.
struct Curl {
    exit: i32,
    status: u16,
    version: String,
    headers: String,
    body: String,
}

fn curl(args: &[&str]) -> Curl {
    let dir = tempfile::tempdir().unwrap();
    let (head, body) = (dir.path().join("head"), dir.path().join("body"));
    let output = Command::new("/usr/bin/curl")
        .args([
            "-sk",
            "--max-time",
            "30",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(args)
        .output()
        .expect("curl must be installed (Debian package curl; .ci/run installs it)");
    let written = String::from_utf8_lossy(&output.stdout).into_owned();
    let (status, version) = written.split_once(' ').unwrap_or(("0", ""));
    Curl {
        exit: output.status.code().unwrap_or(-1),
        status: status.parse().unwrap_or(0),
        version: version.to_owned(),
        headers: std::fs::read_to_string(head).unwrap_or_default(),
        body: std::fs::read_to_string(body).unwrap_or_default(),
    }
}

impl Curl {
    /// Asserts a complete problem answer over `version` ("1.1" or "2").
    fn assert_problem(&self, status: u16, kind: &str, version: &str, what: &str) {
        // Over HTTP/2 a server may end a stream whose request it answered in full before
        // the body arrived (RFC 9113 §8.1); curl, still uploading, then exits 92 ("stream
        // not closed cleanly") after receiving the whole answer. The answer is what must
        // reach the client; it is checked in full below, body included.
        let exit = if version == "2" && self.exit == 92 {
            0
        } else {
            self.exit
        };
        assert_eq!(
            (exit, self.status, self.version.as_str()),
            (0, status, version),
            "{what}: curl exit, status, version; headers: {}",
            self.headers
        );
        let headers = self.headers.to_ascii_lowercase();
        assert!(
            headers.contains("content-type: application/problem+json"),
            "{what}: {headers}"
        );
        for name in [
            "x-content-type-options:",
            "content-security-policy:",
            "x-request-id:",
        ] {
            assert!(headers.contains(name), "{what}: no {name} in {headers}");
        }
        let length = headers
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        assert_eq!(length, Some(self.body.len()), "{what}: the whole body");
        let body: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{what}: {e}: {}", self.body));
        assert_eq!(
            body["type"],
            format!("urn:rampart:problem:{kind}"),
            "{what}"
        );
    }
}

/// A request refused before its body is read, and the answer expected.
struct Refusal {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    status: u16,
    kind: &'static str,
    size: usize,
}

/// The refusals of the issue: a body over the limit, a body of the wrong type, a body
/// sent without credentials, a body sent by someone not allowed; each big enough that
/// the client is still sending when the answer is ready.
fn refusal_cases(end_user: &str) -> Vec<Refusal> {
    let json = || vec![("content-type", "application/json".to_owned())];
    let refusal = |path, headers, status, kind, size| Refusal {
        path,
        headers,
        status,
        kind,
        size,
    };
    let mut forbidden = json();
    forbidden.push(("authorization", format!("Bearer {end_user}")));
    vec![
        refusal(
            "/api/v1/auth/login",
            json(),
            413,
            "payload-too-large",
            200_000,
        ),
        refusal(
            "/api/v1/auth/login",
            json(),
            413,
            "payload-too-large",
            3_000_000,
        ),
        refusal(
            "/api/v1/auth/login",
            vec![("content-type", "text/plain".to_owned())],
            415,
            "unsupported-media-type",
            3_000_000,
        ),
        refusal("/api/v1/users", json(), 401, "unauthenticated", 3_000_000),
        refusal("/api/v1/users", forbidden, 403, "forbidden", 3_000_000),
    ]
}

/// The body of a refused request: JSON-looking, so only the limit or the type refuses it.
fn filler(size: usize) -> Vec<u8> {
    let mut body = b"{\"username\":\"".to_vec();
    body.resize(size.saturating_sub(2), b'a');
    body.extend_from_slice(b"\"}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_http2_and_http1_clients_before_the_body_is_read() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let end_user = node.login("end", "erin", USER_PASSWORD).await;
        let files = tempfile::tempdir().unwrap();
        for Refusal {
            path,
            headers,
            status,
            kind,
            size,
        } in refusal_cases(&end_user)
        {
            let body = filler(size);
            for version in [Version::HTTP_2, Version::HTTP_11] {
                let what = format!("{name} {version:?} {path} {status} ({size} bytes), reqwest");
                let mut request = client(version)
                    .post(format!("{}{path}", node.base))
                    .body(body.clone());
                for (header, value) in &headers {
                    request = request.header(*header, value);
                }
                let response = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e:?}"));
                assert_eq!(response.version(), version, "{what}");
                assert_security_headers(response.headers(), true, &what);
                let (got, _, problem) = problem(response).await;
                assert_eq!(got.as_u16(), status, "{what}: {problem}");
                assert_eq!(problem_type(&problem), kind, "{what}");
            }
            let file = files.path().join(format!("{size}"));
            std::fs::write(&file, &body).unwrap();
            let data = format!("@{}", file.display());
            let url = format!("{}{path}", node.base);
            for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
                let mut args = vec![flag, "-X", "POST", url.as_str(), "--data-binary", &data];
                let header_args: Vec<String> =
                    headers.iter().map(|(h, v)| format!("{h}: {v}")).collect();
                for header in &header_args {
                    args.extend(["-H", header.as_str()]);
                }
                let got = tokio::task::block_in_place(|| curl(&args));
                got.assert_problem(
                    status,
                    kind,
                    version,
                    &format!("{name} curl {flag} {path} {size}"),
                );
            }
        }
        node.shutdown().await;
    })
    .await;
}

/// A body larger than any route accepts: over HTTP/2 it is read only up to that bound, the
/// answer still arrives whole (the stream is reset after it, as RFC 9113 §8.1 allows) and
/// the connection serves the next request; over HTTP/1.1 it is read to its end behind the
/// answer (time permitting), so the connection too serves the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_beyond_the_drain_bound_gets_its_answer_first() {
    on_both(
        |c| c.max_module_bytes = 64 * 1024,
        |node| async move {
            let name = node.name();
            for version in [Version::HTTP_2, Version::HTTP_11] {
                let client = client(version);
                for _ in 0..3 {
                    let response = client
                        .post(format!("{}/api/v1/auth/login", node.base))
                        .header("content-type", "text/plain")
                        .body(filler(4_000_000))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{name} {version:?}: {e:?}"));
                    let (status, _, body) = problem(response).await;
                    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {body}");
                    let next = client
                        .get(format!("{}/healthz", node.base))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{name} {version:?} next request: {e:?}"));
                    assert_eq!(next.status(), StatusCode::OK, "{name} {version:?}");
                }
            }
            let files = tempfile::tempdir().unwrap();
            let file = files.path().join("body");
            std::fs::write(&file, filler(4_000_000)).unwrap();
            let data = format!("@{}", file.display());
            let url = format!("{}/api/v1/auth/login", node.base);
            for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
                // `Expect:` empty: curl sends at once instead of waiting for 100 Continue.
                let args = [
                    flag,
                    "-X",
                    "POST",
                    &url,
                    "-H",
                    "content-type: text/plain",
                    "-H",
                    "Expect:",
                    "--data-binary",
                    &data,
                ];
                let got = tokio::task::block_in_place(|| curl(&args));
                got.assert_problem(
                    415,
                    "unsupported-media-type",
                    version,
                    &format!("{name} curl {flag}"),
                );
            }
            node.shutdown().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_get_problems_over_http1_and_http2() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let long_query = format!("/healthz?q={}", "a".repeat(10_000));
        let many: Vec<(String, String)> = (0..150)
            .map(|i| (format!("x-field-{i}"), "1".to_owned()))
            .collect();
        let big = vec![("x-big".to_owned(), "b".repeat(60_000))];
        type Case<'a> = (&'a str, &'a [(String, String)], u16, &'a str);
        let cases: [Case; 3] = [
            (&long_query, &[], 414, "uri-too-long"),
            ("/healthz", &big, 431, "header-fields-too-large"),
            ("/healthz", &many, 431, "header-fields-too-large"),
        ];
        for version in [Version::HTTP_2, Version::HTTP_11] {
            let client = client(version);
            for (path, headers, status, kind) in &cases {
                let what = format!(
                    "{name} {version:?} {status} {}",
                    &path[..path.len().min(20)]
                );
                let mut request = client.get(format!("{}{path}", node.base));
                for (header, value) in headers.iter() {
                    request = request.header(header, value);
                }
                let response = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e:?}"));
                assert_security_headers(response.headers(), true, &what);
                let (got, _, body) = problem(response).await;
                assert_eq!(
                    (got.as_u16(), problem_type(&body)),
                    (*status, *kind),
                    "{what}"
                );
                if version == Version::HTTP_2 {
                    // The connection lives on (HTTP/1.1 closes it after a refused head).
                    let ok = client
                        .get(format!("{}/healthz", node.base))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(ok.status(), StatusCode::OK, "{what}");
                }
            }
        }
        // Targets longer than the HTTP libraries represent (64 KiB): curl sends them.
        // Over HTTP/1.1 hyper refuses them itself; its bare answer is rewritten.
        let url = format!("{}/healthz?q={}", node.base, "a".repeat(60_000));
        for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
            let got = tokio::task::block_in_place(|| curl(&[flag, &url]));
            got.assert_problem(
                414,
                "uri-too-long",
                version,
                &format!("{name} {flag} 60 KB"),
            );
        }
        let url = format!("{}/healthz?q={}", node.base, "a".repeat(100_000));
        let got = tokio::task::block_in_place(|| curl(&["--http1.1", &url]));
        got.assert_problem(
            414,
            "uri-too-long",
            "1.1",
            &format!("{name} 100 KB over HTTP/1.1"),
        );
        assert!(
            got.headers.contains("strict-transport-security"),
            "{}",
            got.headers
        );
        // The same on the plain port, over a raw connection, for what hyper alone refuses.
        let plain = node.server().http_addr;
        let heads = [
            (
                format!(
                    "GET /?q={} HTTP/1.1\r\nhost: localhost\r\n\r\n",
                    "a".repeat(100_000)
                ),
                "414",
                "uri-too-long",
            ),
            (
                format!(
                    "GET / HTTP/1.1\r\nhost: localhost\r\n{}\r\n",
                    (0..500)
                        .map(|i| format!("x-{i}: 1\r\n"))
                        .collect::<String>()
                ),
                "431",
                "header-fields-too-large",
            ),
            (
                "GET / HTTP/1.1\r\nhost: localhost\r\nno colon here\r\n\r\n".to_owned(),
                "400",
                "bad-request",
            ),
        ];
        for (head, status, kind) in heads {
            let answer = raw_exchange(plain, head.as_bytes()).await;
            let (head_text, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(
                head_text.starts_with(&format!("HTTP/1.1 {status} ")),
                "{name}: {head_text}"
            );
            let lower = head_text.to_ascii_lowercase();
            assert!(
                lower.contains("content-type: application/problem+json"),
                "{lower}"
            );
            assert!(lower.contains("x-content-type-options: nosniff"), "{lower}");
            assert!(!lower.contains("strict-transport-security"), "{lower}");
            let problem: Value = serde_json::from_str(body).unwrap();
            assert_eq!(problem_type(&problem), kind, "{name}: {problem}");
        }
        node.shutdown().await;
    })
    .await;
}

/// Sends `request` on a fresh plain connection and reads the answer to the end.
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    String::from_utf8(answer).unwrap()
}

/// Reads `/metrics` at `base` with an optional bearer token.
async fn read_metrics(base: &str, token: Option<&str>) -> reqwest::Response {
    let client = client(Version::HTTP_11);
    let mut request = client.request(Method::GET, format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn assert_metrics(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::OK, "{what}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{what}"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("rampart_http_requests"),
        "{what}"
    );
}

async fn assert_refused(response: reqwest::Response, status: StatusCode, what: &str) {
    let (got, headers, body) = problem(response).await;
    assert_eq!(got, status, "{what}: {body}");
    if status == StatusCode::UNAUTHORIZED {
        assert!(headers.contains_key("www-authenticate"), "{what}");
    }
    assert!(!body.to_string().contains(METRICS_TOKEN), "{what}: {body}");
}

const METRICS_TOKEN: &str = "m3trics-t0ken-for-the-scraper-only";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_closed_unless_a_listener_or_a_token_is_configured() {
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let secrets = tempfile::tempdir().unwrap();
        let token_file = secrets.path().join("metrics-token");
        std::fs::write(&token_file, format!("{METRICS_TOKEN}\n")).unwrap();
        let reference = format!("file:{}", token_file.display());

        // Default: not served at all.
        let node = start(kind, |_| {}).await;
        let name = node.name();
        let admin = node.admin().await;
        for token in [None, Some(METRICS_TOKEN), Some(admin.as_str())] {
            let what = format!("{name} default, token {}", token.is_some());
            assert_refused(
                read_metrics(&node.base, token).await,
                StatusCode::NOT_FOUND,
                &what,
            )
            .await;
        }
        assert!(node.server().metrics_addr.is_none());
        node.shutdown().await;

        // A token alone: served on the HTTPS port, to its holder only.
        let with_token = reference.clone();
        let node = start(kind, move |c| c.metrics.token = with_token).await;
        let what = format!("{name} token");
        assert_refused(
            read_metrics(&node.base, None).await,
            StatusCode::UNAUTHORIZED,
            &what,
        )
        .await;
        for wrong in ["m3trics-t0ken-for-the-scraper-onlx", "short", ""] {
            assert_refused(
                read_metrics(&node.base, Some(wrong)).await,
                StatusCode::UNAUTHORIZED,
                &what,
            )
            .await;
        }
        let admin = node.admin().await;
        assert_refused(
            read_metrics(&node.base, Some(&admin)).await,
            StatusCode::UNAUTHORIZED,
            &what,
        )
        .await;
        assert_metrics(read_metrics(&node.base, Some(METRICS_TOKEN)).await, &what).await;
        node.shutdown().await;

        // A listener of its own: served there (plain HTTP) and nowhere else; with a token,
        // the token is required there too.
        for token in [None, Some(reference.clone())] {
            let configured = token.clone();
            let node = start(kind, move |c| {
                c.metrics_addr = "127.0.0.1:0".into();
                c.metrics.token = configured.unwrap_or_default();
            })
            .await;
            let what = format!("{name} metrics_addr, token {}", token.is_some());
            let metrics_base = format!("http://{}", node.server().metrics_addr.unwrap());
            assert_refused(
                read_metrics(&node.base, Some(METRICS_TOKEN)).await,
                StatusCode::NOT_FOUND,
                &what,
            )
            .await;
            if token.is_some() {
                assert_refused(
                    read_metrics(&metrics_base, None).await,
                    StatusCode::UNAUTHORIZED,
                    &what,
                )
                .await;
                assert_metrics(
                    read_metrics(&metrics_base, Some(METRICS_TOKEN)).await,
                    &what,
                )
                .await;
            } else {
                assert_metrics(read_metrics(&metrics_base, None).await, &what).await;
            }
            // Nothing but metrics there: not the API, not health.
            for path in ["/healthz", "/api/v1/auth/me"] {
                let response = client(Version::HTTP_11)
                    .get(format!("{metrics_base}{path}"))
                    .send()
                    .await
                    .unwrap();
                assert_security_headers(response.headers(), false, &what);
                assert_refused(response, StatusCode::NOT_FOUND, &what).await;
            }
            node.shutdown().await;
        }
    }
}

/// A token reference that cannot be resolved stops the start, naming the reference and
/// never a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_metrics_token_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "tiny-secret").unwrap();
    let cases = [
        (
            format!("file:{}", dir.path().join("missing").display()),
            "cannot read",
        ),
        (format!("file:{}", short.display()), "too short"),
        (
            "env:RAMPART_TEST_SURELY_UNSET_VARIABLE_42".to_owned(),
            "configuration keys",
        ),
        ("env:SURELY_UNSET_METRICS_TOKEN_42".to_owned(), "is not set"),
    ];
    for (reference, expected) in cases {
        let data = tempfile::tempdir().unwrap();
        let mut config: Config = crate::kit::test_config(data.path(), String::new());
        config.metrics.token = reference.clone();
        let clock: std::sync::Arc<dyn rampart_core::Clock> = std::sync::Arc::new(
            rampart_core::ManualClock::new(time::macros::datetime!(2026-06-01 09:00 UTC)),
        );
        let error = match rampart_server::Server::start(config, clock).await {
            Ok(_) => panic!("{reference}: started"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains("metrics.token") && error.contains(expected),
            "{reference}: {error}"
        );
        assert!(!error.contains("tiny-secret"), "{error}");
    }
}
