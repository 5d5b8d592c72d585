//! Rampart's OpenID provider in headless Chromium, on both stores:
//! `tests/console/idp_clients.js` (the console's OpenID clients page: register, edit, a secret
//! shown once, rotate, remove; refused to whoever may not) and `tests/console/idp_sign_in.js`
//! (an end user signs in on the provider's page, and an IT user on the console's page for a
//! client of IT users, and the browser really arrives at the client's redirect URI, a
//! loopback receiver started here, whose codes this test redeems with its PKCE verifier).

use std::sync::{Arc, Mutex};

use rampart_core::{Clock as _, Provider};
use rampart_idp::jwt;
use rampart_idp::pkce::challenge_of;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::kit::{no_tweak, on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};
use crate::{install_harness, CHROMIUM};

/// Runs the node scenario `script` with `env`; its output, once every scenario passed
/// (`expected` of them).
async fn scenarios(node: &Node, script: &'static str, env: Vec<(&str, String)>, expected: usize) {
    let mut env = env;
    env.push(("CONSOLE_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()));
    env.push(("CONSOLE_USER_PASSWORD", USER_PASSWORD.to_owned()));
    crate::run_script(node, script, script, &env, expected).await;
}

/// Whether `secret` authenticates client `id` at the introspection endpoint (a token that
/// is no token is inactive for a client that authenticated, refused for one that did not).
async fn secret_works(node: &Node, id: &str, secret: &str) -> bool {
    let response = node
        .client
        .post(format!("{}/oauth2/introspect", node.base))
        .basic_auth(id, Some(secret))
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    match status {
        StatusCode::OK => {
            assert_eq!(body["active"], false, "{body}");
            true
        }
        StatusCode::UNAUTHORIZED => {
            assert_eq!(body["error"], "invalid_client", "{body}");
            false
        }
        other => panic!("introspection answered {other}: {body}"),
    }
}

async fn console_page(node: Node) {
    let name = node.name();
    node.create_user(Provider::It, "root", ADMIN_PASSWORD, true)
        .await;
    let root = node.login("it", "root", ADMIN_PASSWORD).await;
    let audrey = node
        .create_user(Provider::It, "audrey", USER_PASSWORD, false)
        .await;
    node.create_user(Provider::It, "olga", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/it/write",
            &root,
            json!({ "operations": [{ "op": "set_it_role", "user": audrey, "role": "auditor" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let before = node.events().await.len();

    let out = tempfile::tempdir().unwrap();
    let env = vec![("CONSOLE_OUT", out.path().display().to_string())];
    scenarios(&node, "idp_clients.js", env, 7).await;

    // What the browser did went through the API's use cases: the clients it registered are
    // the API's, with what the form said (the one with the longest id too); the one it
    // removed is gone.
    let (_, list) = node.get("/api/v1/idp/clients", &root).await;
    let clients = list["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2, "{name}: {list}");
    let long = "customerportal".repeat(4) + "01234567";
    assert!(
        clients
            .iter()
            .any(|c| c["client_id"] == long.as_str() && c["name"] == "Long"),
        "{name}: {list}"
    );
    let portal = clients.iter().find(|c| c["client_id"] == "portal").unwrap();
    assert_eq!(portal["client_id"], "portal", "{name}: {portal}");
    assert_eq!(portal["users"], "end", "{name}: {portal}");
    assert_eq!(portal["kind"], "confidential", "{name}: {portal}");
    assert_eq!(portal["first_party"], false, "{name}: {portal}");
    assert_eq!(portal["id_token_signed_response_alg"], "ES256", "{name}");
    assert_eq!(
        portal["redirect_uris"],
        json!(["https://portal.example/callback"]),
        "{name}"
    );
    // The secret the page showed after rotating is the client's; the first one no longer
    // works.
    let text = std::fs::read_to_string(out.path().join("secrets.json")).unwrap();
    let secrets: Value = serde_json::from_str(&text).unwrap();
    let first = secrets["first"].as_str().unwrap();
    let rotated = secrets["rotated"].as_str().unwrap();
    assert!(!secret_works(&node, "portal", first).await, "{name}");
    assert!(secret_works(&node, "portal", rotated).await, "{name}");
    // Each change is in the audit trail once, under the administrator's name; no event
    // holds a secret, and the refused forms changed nothing.
    let events = node.events().await;
    let changes: Vec<(String, Option<String>)> = events[before..]
        .iter()
        .filter(|e| e.action.starts_with("idp.client.") && e.outcome == "success")
        .map(|e| (e.action.clone(), e.actor_name.clone()))
        .collect();
    let root_did = |a: &str| (a.to_owned(), Some("it:root".to_owned()));
    assert_eq!(
        changes,
        vec![
            root_did("idp.client.create"),
            root_did("idp.client.create"),
            root_did("idp.client.rotate-secret"),
            root_did("idp.client.create"),
            root_did("idp.client.update"),
            root_did("idp.client.delete"),
        ],
        "{name}"
    );
    for e in &events {
        let all = format!("{e:?}");
        assert!(
            !all.contains(first) && !all.contains(rotated),
            "{name}: {}",
            e.action
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_clients_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    on_both(no_tweak, console_page).await;
}

/// A relying party's redirect URI on loopback: it answers every request with a short page
/// and keeps each request's target (path and query).
struct Receiver {
    uri: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/callback", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0_u8; 2048];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
                    kept.lock().unwrap().push(target);
                    let body = "<!doctype html><html lang=\"en\"><title>Shop</title><p>received</p></html>";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Receiver { uri, seen, task }
    }

    /// The requests for the redirect URI itself (not the browser's favicon), parsed.
    fn callbacks(&self) -> Vec<Vec<(String, String)>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|t| t.strip_prefix("/callback?"))
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .collect()
    }
}

const VERIFIER: &str = "browser-test-verifier-7Qm2vXk9PzR4tLw8NcJ5hYb3";

fn authorize(node: &Node, client: &str, redirect: &str, state: &str) -> String {
    let challenge = challenge_of(VERIFIER);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", state),
            ("nonce", "n-browser"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    format!("{}/oauth2/authorize?{query}", node.base)
}

async fn provider_sign_in(node: Node) {
    let name = node.name();
    let admin = node.admin().await;
    let erin = node
        .create_user(Provider::End, "erin", USER_PASSWORD, false)
        .await;
    let receiver = Receiver::start().await;
    let (status, created) = node
        .post(
            "/api/v1/idp/clients",
            &admin,
            json!({ "client_id": "shop", "name": "Shop", "users": "end", "first_party": true,
                    "redirect_uris": [receiver.uri] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    // A client of IT users, whose people sign in on the console's page.
    let ivan = node
        .create_user(Provider::It, "ivan", USER_PASSWORD, false)
        .await;
    let (status, ops) = node
        .post(
            "/api/v1/idp/clients",
            &admin,
            json!({ "client_id": "ops", "name": "Ops board", "users": "it", "first_party": true,
                    "redirect_uris": [receiver.uri] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{name}: {ops}");
    let ops_secret = ops["client_secret"].as_str().unwrap().to_owned();

    let env = vec![
        ("CONSOLE_RECEIVER", receiver.uri.clone()),
        (
            "CONSOLE_AUTHORIZE_REFUSED",
            authorize(&node, "shop", &receiver.uri, "refused-1"),
        ),
        (
            "CONSOLE_AUTHORIZE",
            authorize(&node, "shop", &receiver.uri, "granted-1"),
        ),
        (
            "CONSOLE_AUTHORIZE_IT",
            authorize(&node, "ops", &receiver.uri, "it-1"),
        ),
    ];
    scenarios(&node, "idp_sign_in.js", env, 3).await;

    // The receiver was sent one code per request whose sign-in succeeded; the refused one
    // never reached it.
    let callbacks = receiver.callbacks();
    receiver.task.abort();
    assert_eq!(callbacks.len(), 2, "{name}: {callbacks:?}");
    let param = |state: &str, k: &str| {
        callbacks
            .iter()
            .find(|c| c.iter().any(|(key, v)| key == "state" && v == state))
            .and_then(|c| c.iter().find(|(key, _)| key == k))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        param("granted-1", "iss").as_deref(),
        Some(node.base.as_str()),
        "{name}"
    );
    let code = param("granted-1", "code").unwrap();

    // The IT users' client redeems its code: an ID token for ivan.
    let it_code = param("it-1", "code").unwrap();
    let (status, tokens) = redeem(&node, "ops", &ops_secret, &it_code, &receiver.uri).await;
    assert_eq!(status, StatusCode::OK, "{name}");
    let claims = id_claims(&node, &tokens).await;
    assert_eq!(claims["sub"], ivan.as_str(), "{name}: {claims:?}");
    assert_eq!(claims["aud"], "ops", "{name}: {claims:?}");

    // The client redeems it with the verifier: an ID token for erin, signed by the provider.
    let (status, tokens) = redeem(&node, "shop", &secret, &code, &receiver.uri).await;
    assert_eq!(status, StatusCode::OK, "{name}");
    let claims = id_claims(&node, &tokens).await;
    jwt::check_claims(
        &claims,
        &node.base,
        Some("shop"),
        node.clock.now().unix_timestamp(),
    )
    .unwrap();
    assert_eq!(claims["sub"], erin.as_str(), "{name}: {claims:?}");
    assert_eq!(claims["preferred_username"], "erin", "{name}: {claims:?}");
    assert_eq!(claims["nonce"], "n-browser", "{name}: {claims:?}");
    // A code is redeemed once.
    let (status, _) = redeem(&node, "shop", &secret, &code, &receiver.uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
}

/// Exchanges `code` at the token endpoint as `client` with the test's PKCE verifier.
async fn redeem(
    node: &Node,
    client: &str,
    secret: &str,
    code: &str,
    redirect: &str,
) -> (StatusCode, Value) {
    let response = node
        .client
        .post(format!("{}/oauth2/token", node.base))
        .basic_auth(client, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The claims of the ID token in `tokens`, its signature checked with the published keys.
async fn id_claims(node: &Node, tokens: &Value) -> serde_json::Map<String, Value> {
    let keys = rampart_service::idp::keys::current(&node.server().state)
        .await
        .unwrap();
    jwt::verify(
        tokens["id_token"].as_str().unwrap(),
        jwt::ID_TOKEN_TYP,
        &keys.published,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_and_it_users_sign_in_to_clients_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    on_both(no_tweak, provider_sign_in).await;
}
