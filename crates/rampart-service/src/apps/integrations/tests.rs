use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn limits() -> IntegrationsConfig {
    IntegrationsConfig {
        connect_timeout_seconds: 5,
        timeout_seconds: 15,
        max_response_bytes: 1024,
        ..IntegrationsConfig::default()
    }
}

fn record() -> Record {
    Record {
        target: String::new(),
        method: None,
        status: None,
        redirects: Vec::new(),
        application: None,
    }
}

/// A peer on loopback answering every request with `{"ok":true}`, counting connections.
async fn peer() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                              content-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}";
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, hits)
}

fn get(url: &str) -> Call {
    Call {
        method: HttpMethod::Get,
        url: url.parse().unwrap(),
        body: None,
    }
}

#[tokio::test]
async fn an_internal_address_the_operator_did_not_list_is_refused_before_connecting() {
    let (port, hits) = peer().await;
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let table: HashMap<String, Vec<IpAddr>> = [
        ("peer.test".to_owned(), vec![loopback]),
        (
            "mixed.test".to_owned(),
            vec![
                "93.184.215.14".parse().unwrap(),
                "10.0.0.1".parse().unwrap(),
            ],
        ),
        (
            "metadata.test".to_owned(),
            vec!["::ffff:169.254.169.254".parse().unwrap()],
        ),
    ]
    .into();
    let lookup = Lookup::Fixed(Arc::new(table));
    let client = Client::with_lookup(&limits(), lookup.clone()).unwrap();
    let urls = [
        format!("http://peer.test:{port}/x"),
        format!("http://mixed.test:{port}/x"),
        format!("http://metadata.test:{port}/x"),
        format!("http://localhost:{port}/x"),
    ];
    let allow: AllowList = urls
        .iter()
        .map(|u| Origin::of(&u.parse().unwrap()).unwrap())
        .collect();
    for (url, address) in [
        (&urls[0], "127.0.0.1"),
        (&urls[1], "10.0.0.1"),
        (&urls[2], "::ffff:169.254.169.254"),
    ] {
        let got = client.send(get(url), None, &allow, &mut record()).await;
        match got {
            Err(Failure::Refused(why)) => {
                assert!(
                    why.contains(&format!("resolves to {address}")),
                    "{url}: {why}"
                )
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // Loopback written as such is not public either, unless listed.
    let written = format!("http://127.0.0.1:{port}/x");
    let allow_written: AllowList = [Origin::of(&written.parse().unwrap()).unwrap()]
        .into_iter()
        .collect();
    for (url, allow) in [(&urls[3], &allow), (&written, &allow_written)] {
        let got = client.send(get(url), None, allow, &mut record()).await;
        match got {
            Err(Failure::Refused(why)) => {
                assert!(why.contains("internal_networks"), "{url}: {why}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no connection was made");
    // With loopback listed, `localhost` is loopback by definition, and the peer answers;
    // the other internal addresses stay closed.
    let listed = IntegrationsConfig {
        internal_networks: "127.0.0.0/8".into(),
        ..limits()
    };
    let client = Client::with_lookup(&listed, lookup).unwrap();
    let got = client
        .send(get(&urls[1]), None, &allow, &mut record())
        .await;
    assert!(matches!(got, Err(Failure::Refused(_))), "{got:?}");
    let mut r = record();
    let got = client.send(get(&urls[3]), None, &allow, &mut r).await;
    assert_eq!(got.unwrap(), json!({ "ok": true }));
    assert_eq!(r.status, Some(200));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // An origin outside the allow-list is refused before anything is resolved.
    let got = client
        .send(
            get(&format!("http://127.0.0.1:{port}/x")),
            None,
            &allow,
            &mut record(),
        )
        .await;
    assert!(matches!(got, Err(Failure::Refused(_))), "{got:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn answers_are_json_text_or_null() {
    let cases: &[(&[u8], Option<Value>)] = &[
        (b"{\"a\":[1,2]}", Some(json!({"a": [1, 2]}))),
        (b" 42\n", Some(json!(42))),
        (b"hello", Some(json!("hello"))),
        (b"{broken", Some(json!("{broken"))),
        (b"", Some(Value::Null)),
        (b" \r\n", Some(Value::Null)),
        (b"\xff\xfe", None),
    ];
    for (bytes, want) in cases {
        assert_eq!(answer(bytes.to_vec()).ok(), *want, "{bytes:?}");
    }
}

/// A configuration whose secrets directory is `dir` and data directory `data`.
fn places(dir: &std::path::Path, data: &std::path::Path) -> crate::config::Config {
    let mut config = crate::config::Config::default();
    config.integrations.secrets_dir = dir.display().to_string();
    config.data_dir = data.to_owned();
    config
}

fn credentials(scheme: CredentialScheme, header: Option<&str>) -> Credentials {
    Credentials {
        secret: "peer-token".into(),
        scheme,
        header: header.map(str::to_owned),
    }
}

#[test]
fn credentials_are_read_from_the_reference_when_called_and_sent_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let reference = format!("file:{}", file.display());
    std::fs::write(&file, "s3cret-value\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = places(dir.path(), data.path());
    let bearer = credential(
        &config,
        &credentials(CredentialScheme::Bearer, None),
        Some(&reference),
        "qa",
    );
    match bearer {
        Ok(Credential::Header(name, value)) => {
            assert_eq!(name, AUTHORIZATION);
            assert_eq!(value, "Bearer s3cret-value");
            assert!(value.is_sensitive());
        }
        _ => panic!("bearer"),
    }
    let header = credential(
        &config,
        &credentials(CredentialScheme::Header, Some("X-Api-Key")),
        Some(&reference),
        "qa",
    );
    assert!(
        matches!(&header, Ok(Credential::Header(n, v)) if n == "x-api-key" && v == "s3cret-value")
    );
    // The file is read at each call: a rotated secret is used at once.
    std::fs::write(&file, "alice:pa:ss").unwrap();
    let basic = credential(
        &config,
        &credentials(CredentialScheme::Basic, None),
        Some(&reference),
        "qa",
    );
    assert!(matches!(&basic, Ok(Credential::Basic(u, p)) if u == "alice" && p == "pa:ss"));

    let missing = format!("file:{}", dir.path().join("nothing").display());
    let cases: Vec<(Credentials, Option<&str>, &str)> = vec![
        (
            credentials(CredentialScheme::Bearer, None),
            None,
            "no secret is set for it in qa",
        ),
        (
            credentials(CredentialScheme::Bearer, None),
            Some("vault:sales/token"),
            "no vault is configured",
        ),
        (
            credentials(CredentialScheme::Bearer, None),
            Some("env:with-dash"),
            "cannot be read",
        ),
        (
            credentials(CredentialScheme::Bearer, None),
            Some("env:HOME"),
            "cannot be read",
        ),
        (
            credentials(CredentialScheme::Bearer, None),
            Some("file:/etc/hostname"),
            "cannot be read",
        ),
        (
            credentials(CredentialScheme::Bearer, None),
            Some(&missing),
            "cannot be read",
        ),
        (
            credentials(CredentialScheme::Header, Some("Host")),
            Some(&reference),
            "header",
        ),
        (
            credentials(CredentialScheme::Header, Some("Proxy-Authorization")),
            Some(&reference),
            "header",
        ),
        (
            credentials(CredentialScheme::Header, Some("bad header")),
            Some(&reference),
            "header",
        ),
    ];
    for (c, reference, says) in cases {
        match credential(&config, &c, reference, "qa") {
            Err(Failure::NotConfigured(why)) => {
                assert!(why.contains(says), "{reference:?}: {why}");
                assert!(!why.contains("s3cret") && !why.contains("pa:ss"), "{why}");
                assert!(!why.contains(&dir.path().display().to_string()), "{why}");
            }
            _ => panic!("{reference:?}: refused"),
        }
    }
    std::fs::write(&file, "no-colon").unwrap();
    let basic = credential(
        &config,
        &credentials(CredentialScheme::Basic, None),
        Some(&reference),
        "qa",
    );
    assert!(
        matches!(basic, Err(Failure::NotConfigured(why)) if why.contains("user:password") && !why.contains("no-colon"))
    );
    std::fs::write(&file, "line\rbreak").unwrap();
    let bad = credential(
        &config,
        &credentials(CredentialScheme::Bearer, None),
        Some(&reference),
        "qa",
    );
    assert!(matches!(bad, Err(Failure::NotConfigured(why)) if why.contains("header")));
}

#[test]
fn failures_become_errors_a_caller_renders_without_secrets() {
    let e = |failure| {
        Error::from(CallError {
            call: "billing.Pay.charge".into(),
            failure,
        })
    };
    assert!(matches!(
        e(Failure::Undeclared("integration")),
        Error::NotFound {
            what: "integration"
        }
    ));
    let arg = e(Failure::Argument(ArgumentError {
        argument: "id".into(),
        reason: "is required".into(),
    }));
    assert!(matches!(arg, Error::InvalidInput { field, .. } if field == "args.id"));
    let cases = [
        (
            Failure::Refused(
                "a redirect to http://127.0.0.1:9, which no integration of the environment calls"
                    .into(),
            ),
            "the call to billing.Pay.charge was refused: a redirect to http://127.0.0.1:9",
        ),
        (Failure::Timeout, "got no complete answer in time"),
        (Failure::Status(503), "was answered with status 503"),
        (Failure::TooLarge(1024), "more than 1024 bytes"),
    ];
    for (failure, says) in cases {
        match e(failure) {
            Error::Integration(m) => assert!(m.contains(says), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

/// Files of this crate other than this module that name the HTTP client library: none.
#[test]
fn only_the_integrations_client_makes_outbound_calls() {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains("reqwest") {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    walk(&src, &mut found);
    let client = src.join("apps/integrations.rs").display().to_string();
    assert!(
        found.contains(&client),
        "the walk reads the sources: {found:?}"
    );
    let own = src.join("apps/integrations/").display().to_string();
    // The alert webhook: the operator's own address from the node's configuration, never
    // an address a module or a request chose.
    let alerts = src.join("alerts/deliver.rs").display().to_string();
    // The audit witnesses: likewise the operator's `[audit] witnesses`, nothing else.
    let witnesses = src.join("audit/cosign.rs").display().to_string();
    found.retain(|f| *f != client && *f != alerts && *f != witnesses && !f.starts_with(&own));
    assert!(
        found.is_empty(),
        "outbound HTTP outside the integrations client: {found:?}"
    );
}
