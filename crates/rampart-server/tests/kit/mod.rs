//! Test kit: a real server in-process on ephemeral ports, over SQLite or PostgreSQL, with
//! a controllable clock and cheap password hashing.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod smtp;

use std::sync::Arc;

use rampart_core::{AuditContext, Clock, ManualClock, Provider, Username};
use rampart_server::Server;
use rampart_service::Config;
use rampart_store::{BackendKind, NewUser};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use time::macros::datetime;

pub const ADMIN_PASSWORD: &str = "violet-trombone-gravel-71";
pub const USER_PASSWORD: &str = "amber-lantern-quiver-38";

/// A migrated SQLite store in a temporary directory, without a server, for tests of the
/// node's background tasks; the directory lives as long as the returned guard.
pub async fn bare_sqlite_store() -> (tempfile::TempDir, rampart_store::Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = rampart_store::Store::open_sqlite(&dir.path().join("rampart.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

pub struct Node {
    pub server: Option<Server>,
    pub clock: Arc<ManualClock>,
    pub client: Client,
    pub base: String,
    pub http_base: String,
    pub kind: BackendKind,
    _dir: tempfile::TempDir,
}

/// Configuration for a test node: ephemeral ports, cheap argon2, small limits.
pub fn test_config(dir: &std::path::Path, database_url: String) -> Config {
    let mut config = Config {
        data_dir: dir.to_owned(),
        database_url,
        https_addr: "127.0.0.1:0".into(),
        http_addr: "127.0.0.1:0".into(),
        node_id: "test-node".into(),
        max_body_bytes: 16 * 1024,
        ..Config::default()
    };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    config.lockout.threshold = 3;
    config.lockout.address_free_failures = 1000;
    config
}

pub async fn start(kind: BackendKind, tweak: impl FnOnce(&mut Config)) -> Node {
    let url = match kind {
        BackendKind::Sqlite => String::new(),
        BackendKind::Postgres => rampart_store::testing::fresh_postgres_url().await,
    };
    start_on(kind, url, tweak).await
}

/// A node on database `url` (empty for SQLite): several nodes may share a PostgreSQL one.
pub async fn start_on(kind: BackendKind, url: String, tweak: impl FnOnce(&mut Config)) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), url);
    tweak(&mut config);
    let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 09:00 UTC)));
    let server = Server::start(config, clock.clone() as Arc<dyn Clock>)
        .await
        .unwrap();
    let client = Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://{}", server.https_addr);
    let http_base = format!("http://{}", server.http_addr);
    Node {
        server: Some(server),
        clock,
        client,
        base,
        http_base,
        kind,
        _dir: dir,
    }
}

/// Runs `body` against a fresh node on each backend. A failure on one backend does not hide
/// the other's result: both run, each failure is printed as it happens, and the test then
/// fails naming the backends that failed.
pub async fn on_both<F, Fut>(tweak: impl Fn(&mut Config), body: F)
where
    F: Fn(Node) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt as _;
    let mut failed = Vec::new();
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let node = start(kind, &tweak).await;
        let run = std::panic::AssertUnwindSafe(body(node))
            .catch_unwind()
            .await;
        if run.is_err() {
            failed.push(kind.as_str());
        }
    }
    assert!(failed.is_empty(), "failed on {}", failed.join(" and "));
}

pub fn no_tweak(_: &mut Config) {}

impl Node {
    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub fn name(&self) -> &'static str {
        self.kind.as_str()
    }

    pub async fn create_user(
        &self,
        provider: Provider,
        name: &str,
        password: &str,
        admin: bool,
    ) -> String {
        let state = &self.server().state;
        let hash = state.credentials.hash_password(password).await.unwrap();
        let user = state
            .store
            .create_user(
                &NewUser {
                    provider,
                    username: Username::parse(name).unwrap(),
                    display_name: None,
                    email: None,
                    password_hash: hash,
                    is_admin: admin,
                },
                self.clock.now(),
                &AuditContext {
                    node_id: "test".into(),
                    ..AuditContext::default()
                },
            )
            .await
            .unwrap();
        user.id.to_string()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// A request with a token and an `If-Match` header.
    #[allow(dead_code)] // not every test binary sends If-Match
    pub async fn client_request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(v) = if_match {
            req = req.header("if-match", v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    pub async fn login_response(&self, provider: &str, username: &str, password: &str) -> Response {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "username": username, "password": password, "provider": provider })),
        )
        .await
    }

    pub async fn login(&self, provider: &str, username: &str, password: &str) -> String {
        let response = self.login_response(provider, username, password).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}: login {username}",
            self.name()
        );
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// An administrator and their token.
    pub async fn admin(&self) -> String {
        self.create_user(Provider::It, "admin", ADMIN_PASSWORD, true)
            .await;
        self.login("it", "admin", ADMIN_PASSWORD).await
    }

    pub async fn events(&self) -> Vec<rampart_store::StoredEvent> {
        self.server()
            .state
            .store
            .events_after(0, 10_000)
            .await
            .unwrap()
    }

    /// The database URL this node uses (PostgreSQL), for a second node.
    pub fn database_url(&self) -> String {
        self.server().state.config.database_url.clone()
    }

    /// POSTs JSON with a token and returns status and body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, path, token, Some(body)).await
    }

    /// PATCHes JSON with a token and returns status and body.
    #[allow(dead_code)] // not every test binary patches
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::PATCH, path, token, Some(body)).await
    }

    /// POSTs without a body with a token and returns status and body.
    #[allow(dead_code)] // not every test binary posts without a body
    pub async fn post_empty(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::POST, path, token, None).await
    }

    /// GETs with a token and returns status and body.
    #[allow(dead_code)] // not every test binary reads
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::GET, path, token, None).await
    }

    /// DELETEs with a token and returns status and body.
    #[allow(dead_code)] // not every test binary deletes
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.json(Method::DELETE, path, token, None).await
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let response = self.request(method, path, Some(token), body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Stops the node and starts it again on the same data directory and database, with
    /// the same configuration and clock, as an operator restarting it would.
    pub async fn restart(mut self) -> Node {
        let server = self.server.take().unwrap();
        let mut config = server.state.config.clone();
        server.shutdown().await;
        config.https_addr = "127.0.0.1:0".into();
        config.http_addr = "127.0.0.1:0".into();
        let server = Server::start(config, self.clock.clone() as Arc<dyn Clock>)
            .await
            .unwrap();
        self.base = format!("https://{}", server.https_addr);
        self.http_base = format!("http://{}", server.http_addr);
        self.server = Some(server);
        self
    }

    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// Reads a problem response, checking its media type and shape.
pub async fn problem(response: Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "status {status}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"].as_u64(), Some(u64::from(status.as_u16())));
    assert!(body["request_id"].is_string(), "{body}");
    (status, headers, body)
}

pub fn problem_type(body: &Value) -> &str {
    body["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:rampart:problem:")
}
