//! Integration calls end to end, on SQLite and PostgreSQL: a module declaring integrations is
//! published and deployed by a plan whose settings replace a base URL and give secret
//! references; calls go to peers on loopback through the runtime's one client, and every
//! call, allowed or refused, is in the audit trail without its secret.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode as Status};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rampart_core::Error;
use rampart_service::apps::integrations::{call, Failure};
use rampart_service::Config;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::kit::{on_both, Node};

/// What a peer saw: how often it was reached, and the credentials of each request.
#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    authorization: Mutex<Vec<Option<String>>>,
    api_keys: Mutex<Vec<Option<String>>>,
}

impl Seen {
    fn note(&self, headers: &HeaderMap) {
        self.hits.fetch_add(1, Ordering::SeqCst);
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        self.authorization
            .lock()
            .unwrap()
            .push(header("authorization"));
        self.api_keys.lock().unwrap().push(header("x-api-key"));
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn last_authorization(&self) -> Option<String> {
        self.authorization.lock().unwrap().last().cloned().flatten()
    }
}

/// Serves `router` on an ephemeral loopback port; answers the port.
async fn serve(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    port
}

/// The three peers: the declared service, an undeclared one a redirect tries to reach, and
/// a declared one a redirect may reach.
struct Peers {
    service: (u16, Arc<Seen>),
    undeclared: (u16, Arc<Seen>),
    landing: (u16, Arc<Seen>),
}

async fn peers() -> Peers {
    let undeclared = Arc::new(Seen::default());
    let u = undeclared.clone();
    let undeclared_port = serve(Router::new().fallback(move |headers: HeaderMap| {
        let u = u.clone();
        async move {
            u.note(&headers);
            "internal secrets"
        }
    }))
    .await;
    let landing = Arc::new(Seen::default());
    let l = landing.clone();
    let landing_port = serve(Router::new().route(
        "/landing",
        get(move |headers: HeaderMap| {
            let l = l.clone();
            async move {
                l.note(&headers);
                Json(json!({ "landed": true }))
            }
        }),
    ))
    .await;
    let service = Arc::new(Seen::default());
    let escape = format!("http://127.0.0.1:{undeclared_port}/steal");
    let hop = format!("http://127.0.0.1:{landing_port}/landing?sig=abc");
    let redirect = |to: String| {
        move |State(seen): State<Arc<Seen>>, headers: HeaderMap| {
            let to = to.clone();
            async move {
                seen.note(&headers);
                (Status::FOUND, [("location", to)])
            }
        }
    };
    let router = Router::new()
        .route(
            "/v1/invoices/{id}",
            get(
                |State(seen): State<Arc<Seen>>,
                 Path(id): Path<String>,
                 RawQuery(query): RawQuery,
                 headers: HeaderMap| async move {
                    seen.note(&headers);
                    Json(json!({ "id": id, "query": query }))
                },
            ),
        )
        .route(
            "/v1/invoices",
            post(
                |State(seen): State<Arc<Seen>>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    seen.note(&headers);
                    Json(json!({ "created": body }))
                },
            ),
        )
        .route("/v1/escape", get(redirect(escape)))
        .route("/v1/hop", get(redirect(hop)))
        .route(
            "/v1/big",
            get(|| async { vec![b'x'; 4096].into_response() }),
        )
        .route(
            "/v1/stream",
            get(|| async {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 512])));
                Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
            }),
        )
        .route(
            "/v1/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "too late"
            }),
        )
        .route("/v1/fail", get(|| async { (Status::SERVICE_UNAVAILABLE, "down") }))
        .route("/v1/text", get(|| async { "plain words" }))
        .with_state(service.clone());
    let service_port = serve(router).await;
    Peers {
        service: (service_port, service),
        undeclared: (undeclared_port, undeclared),
        landing: (landing_port, landing),
    }
}

/// `Pay`'s base URL is replaced by the plan; `Keyed` and `Vaulted` keep the module's;
/// `Landing` is the declared origin a redirect may go to.
fn module(service: u16, landing: u16) -> String {
    format!(
        r#"
module: billing
application: ledger
integrations:
  - name: Pay
    base_url: https://pay.invalid/v1
    methods:
      - {{name: invoice, method: GET, path: "/invoices/{{id}}"}}
      - {{name: create, method: POST, path: /invoices}}
      - {{name: escape, method: GET, path: /escape}}
      - {{name: hop, method: GET, path: /hop}}
      - {{name: big, method: GET, path: /big}}
      - {{name: stream, method: GET, path: /stream}}
      - {{name: slow, method: GET, path: /slow}}
      - {{name: fail, method: GET, path: /fail}}
      - {{name: text, method: GET, path: /text}}
    credentials: {{secret: pay-token, scheme: bearer}}
  - name: Keyed
    base_url: http://127.0.0.1:{service}/v1
    methods:
      - {{name: invoice, method: GET, path: "/invoices/{{id}}"}}
    credentials: {{secret: keyed, scheme: header, header: X-Api-Key}}
  - name: Vaulted
    base_url: http://127.0.0.1:{service}/v1
    methods:
      - {{name: invoice, method: GET, path: "/invoices/{{id}}"}}
    credentials: {{secret: vaulted, scheme: bearer}}
  - name: Landing
    base_url: http://127.0.0.1:{landing}
    methods:
      - {{name: land, method: GET, path: /landing}}
"#
    )
}

/// The directory secret files of the tests' plans are kept in.
fn secrets_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-test-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Short limits, so a peer that never answers and an oversized answer fail quickly; the
/// peers on loopback opened, secrets read from [`secrets_dir`] and from variables cargo
/// sets.
fn limits(config: &mut Config) {
    config.integrations.timeout_seconds = 2;
    config.integrations.connect_timeout_seconds = 2;
    config.integrations.max_response_bytes = 1024;
    config.integrations.internal_networks = "127.0.0.0/8, ::1/128".into();
    config.integrations.secrets_dir = secrets_dir().display().to_string();
    config.integrations.secret_env_prefix = "CARGO_PKG_".into();
}

/// Publishes `source`, tags the application and deploys it to development with a plan
/// carrying `settings`.
async fn deploy(node: &Node, admin: &str, source: &str, settings: Value) {
    let name = node.name();
    let (status, body) = node
        .post(
            "/api/v1/authz/write",
            admin,
            json!({ "operations": [{ "op": "create_application", "name": "ledger" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let (status, body) = node
        .post(
            "/api/v1/modules/billing/versions",
            admin,
            json!({ "source": source, "message": "integrations" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    let (status, body) = node
        .post(
            "/api/v1/applications/ledger/tags",
            admin,
            json!({ "tag": "1.0" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    let (status, plan) = node
        .post(
            "/api/v1/deployment-plans",
            admin,
            json!({
                "environment": "development",
                "applications": [{ "application": "ledger", "tag": "1.0" }],
                "settings": settings,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{name}: {plan}");
    let id = plan["id"].as_i64().unwrap();
    let (status, ran) = node
        .post(
            &format!("/api/v1/deployment-plans/{id}/run"),
            admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {ran}");
}

/// Calls `integration`'s `method` of module `billing` in development with arguments `a`.
async fn in_development(
    state: rampart_service::AppState,
    ctx: rampart_core::AuditContext,
    integration: &'static str,
    method: &'static str,
    a: Value,
) -> Result<Value, rampart_service::apps::integrations::CallError> {
    call(
        &state,
        &ctx,
        "development",
        "billing",
        integration,
        method,
        &args(a),
    )
    .await
}

fn args(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_calls_go_only_where_the_environment_declares_with_their_credentials() {
    on_both(limits, |node| async move {
        let name = node.name();
        let peers = peers().await;
        let (port, service) = &peers.service;
        let (undeclared_port, undeclared) = &peers.undeclared;
        let (landing_port, landing) = &peers.landing;
        let admin = node.admin().await;
        // The bearer token is a variable the test process has (cargo sets it): setting one
        // here would race with other threads reading the environment.
        let env_token = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME");
        let key_file = secrets_dir().join(format!("keyed-token-{name}"));
        std::fs::write(&key_file, "file-secret-7f3a9c\n").unwrap();
        deploy(
            &node,
            &admin,
            &module(*port, *landing_port),
            json!({
                "endpoints": { "billing.Pay": format!("http://127.0.0.1:{port}/v1") },
                "secrets": {
                    "billing.Pay": "env:CARGO_PKG_NAME",
                    "billing.Keyed": format!("file:{}", key_file.display()),
                    "billing.Vaulted": "vault:ledger/token",
                },
            }),
        )
        .await;
        let state = node.server().state.clone();
        let mut ctx = state.system_context();
        ctx.actor_name = Some("it:admin".into());
        let run = |integration: &'static str, method: &'static str, a: Value| {
            in_development(state.clone(), ctx.clone(), integration, method, a)
        };

        // A declared call: the path argument is one segment, the rest the query string,
        // and the peer sees the bearer token read from the environment.
        let answer = run("Pay", "invoice", json!({ "id": "A/7?x", "expand": true }))
            .await
            .unwrap();
        assert_eq!(
            answer,
            json!({ "id": "A/7?x", "query": "expand=true" }),
            "{name}"
        );
        assert_eq!(
            service.last_authorization(),
            Some(format!("Bearer {env_token}")),
            "{name}"
        );
        let answer = run("Pay", "create", json!({ "amount": 10 })).await.unwrap();
        assert_eq!(answer, json!({ "created": { "amount": 10 } }), "{name}");
        assert_eq!(
            run("Pay", "text", json!({})).await.unwrap(),
            json!("plain words")
        );

        // A header credential read from a file at each call: a rotated file counts at once.
        run("Keyed", "invoice", json!({ "id": 1 })).await.unwrap();
        std::fs::write(&key_file, "file-secret-rotated-2b41\n").unwrap();
        run("Keyed", "invoice", json!({ "id": 2 })).await.unwrap();
        let keys = service.api_keys.lock().unwrap().clone();
        assert_eq!(
            keys[keys.len() - 2..],
            [
                Some("file-secret-7f3a9c".to_owned()),
                Some("file-secret-rotated-2b41".to_owned())
            ],
            "{name}"
        );

        // These tests share one secrets directory and the variables cargo sets between
        // environments: the posture report warns.
        assert_eq!(integrations_posture(&node, &admin).await, "warn", "{name}");

        // A vault reference is not configured, and nothing is sent.
        let before = service.hits();
        let e = run("Vaulted", "invoice", json!({ "id": 1 }))
            .await
            .unwrap_err();
        assert!(
            matches!(&e.failure, Failure::NotConfigured(why) if why.contains("vault")),
            "{name}: {e}"
        );
        assert_eq!(service.hits(), before, "{name}");

        // Server-side request forgery: the declared peer redirects to another port on
        // loopback, which no integration declares. Refused, and never contacted.
        let e = run("Pay", "escape", json!({})).await.unwrap_err();
        match &e.failure {
            Failure::Refused(why) => assert!(
                why.contains(&format!("http://127.0.0.1:{undeclared_port}")),
                "{name}: {why}"
            ),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(
            undeclared.hits(),
            0,
            "{name}: the undeclared peer was never reached"
        );
        let shown = Error::from(e).to_string();
        assert!(
            shown.contains("billing.Pay.escape was refused")
                && shown.contains(&format!("127.0.0.1:{undeclared_port}")),
            "{shown}"
        );
        assert!(!shown.contains(&env_token), "{shown}");

        // A redirect to a declared origin is followed, without the credentials.
        let answer = run("Pay", "hop", json!({})).await.unwrap();
        assert_eq!(answer, json!({ "landed": true }), "{name}");
        assert_eq!(landing.hits(), 1);
        assert_eq!(
            landing.last_authorization(),
            None,
            "{name}: credentials stay with their origin"
        );

        // Undeclared modules, integrations and methods; arguments that cannot be placed.
        let e = run("Pay", "refund", json!({})).await.unwrap_err();
        assert!(
            matches!(e.failure, Failure::Undeclared("integration method")),
            "{name}: {e}"
        );
        let e = run("Payroll", "invoice", json!({})).await.unwrap_err();
        assert!(
            matches!(e.failure, Failure::Undeclared("integration")),
            "{name}: {e}"
        );
        let e = call(
            &state,
            &ctx,
            "development",
            "ghost",
            "Pay",
            "invoice",
            &Map::new(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e.failure, Failure::Undeclared("module")),
            "{name}: {e}"
        );
        let e = call(
            &state,
            &ctx,
            "production",
            "billing",
            "Pay",
            "invoice",
            &Map::new(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e.failure, Failure::Undeclared("module")),
            "{name}: not running there: {e}"
        );
        let e = run("Pay", "invoice", json!({ "id": ".." }))
            .await
            .unwrap_err();
        assert!(
            matches!(&e.failure, Failure::Argument(a) if a.argument == "id"),
            "{name}: {e}"
        );
        assert!(matches!(Error::from(e), Error::InvalidInput { field, .. } if field == "args.id"));

        // Oversized answers (announced, or streamed without a length), a peer that never
        // answers, and an error status.
        for method in ["big", "stream"] {
            let e = run("Pay", method, json!({})).await.unwrap_err();
            assert!(
                matches!(e.failure, Failure::TooLarge(1024)),
                "{name}: {method}: {e}"
            );
        }
        let e = run("Pay", "slow", json!({})).await.unwrap_err();
        assert!(matches!(e.failure, Failure::Timeout), "{name}: {e}");
        let e = run("Pay", "fail", json!({})).await.unwrap_err();
        assert!(matches!(e.failure, Failure::Status(503)), "{name}: {e}");
        assert!(matches!(Error::from(e), Error::Integration(m) if m.contains("status 503")));

        // Every call is in the trail once: target without query string, method, status,
        // duration, result; never a secret, a query string or a body.
        let events = node.events().await;
        let calls: Vec<_> = events
            .iter()
            .filter(|e| e.action == "http.outbound")
            .collect();
        assert_eq!(calls.len(), 17, "{name}: one event per call");
        let details = |i: usize| -> Value { serde_json::from_str(&calls[i].details).unwrap() };
        let first = calls[0];
        assert_eq!(first.stream, "integration");
        assert_eq!(
            first.target.as_deref(),
            Some(format!("http://127.0.0.1:{port}/v1/invoices/A%2F7%3Fx").as_str()),
            "{name}"
        );
        assert_eq!(
            (
                first.outcome.as_str(),
                first.application.as_deref(),
                first.environment.as_deref()
            ),
            ("success", Some("ledger"), Some("development"))
        );
        assert_eq!(first.actor_name.as_deref(), Some("it:admin"));
        let d = details(0);
        assert_eq!(
            (
                d["integration"].clone(),
                d["method"].clone(),
                d["status"].clone(),
                d["result"].clone()
            ),
            (
                json!("billing.Pay.invoice"),
                json!("GET"),
                json!(200),
                json!("ok")
            ),
            "{name}: {d}"
        );
        assert!(d["duration_ms"].is_u64(), "{name}: {d}");
        let escape = calls
            .iter()
            .position(|e| e.details.contains("billing.Pay.escape"))
            .unwrap();
        let d = details(escape);
        assert_eq!(
            (
                calls[escape].outcome.as_str(),
                d["result"].clone(),
                d["status"].clone()
            ),
            ("failure", json!("refused"), json!(302)),
            "{name}: {d}"
        );
        assert_eq!(
            d["redirects"],
            json!([format!("http://127.0.0.1:{undeclared_port}/steal")]),
            "{name}: {d}"
        );
        assert!(
            d["reason"]
                .as_str()
                .unwrap()
                .contains("no integration of the environment calls"),
            "{d}"
        );
        let hop = calls
            .iter()
            .position(|e| e.details.contains("billing.Pay.hop"))
            .unwrap();
        assert_eq!(
            details(hop)["redirects"],
            json!([format!("http://127.0.0.1:{landing_port}/landing")]),
            "{name}: no query string"
        );
        let results: Vec<String> = (0..calls.len())
            .map(|i| details(i)["result"].as_str().unwrap().to_owned())
            .collect();
        for r in [
            "not-configured",
            "undeclared",
            "invalid-argument",
            "too-large",
            "timeout",
            "peer-error",
        ] {
            assert!(results.iter().any(|x| x == r), "{name}: {r} in {results:?}");
        }
        for e in &events {
            let body = e.body.clone().unwrap_or_default();
            for secret in [
                env_token.as_str(),
                "file-secret",
                "expand=true",
                "sig=abc",
                "amount",
            ] {
                assert!(!body.contains(secret), "{name}: {secret} in {body}");
            }
        }
        node.shutdown().await;
    })
    .await;
}

/// An action's `call` step: its answer feeds later steps, and a failing call undoes the
/// run's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actions_call_step_reaches_the_peer_and_a_failed_call_undoes_the_run() {
    on_both(limits, |node| async move {
        let name = node.name();
        let peers = peers().await;
        let service = peers.service.0;
        let source = format!(
            r#"
module: billing
application: ledger
entities:
  - name: Charge
    attributes: [{{name: amount, type: decimal}}, {{name: invoice, type: text}}]
screens:
  - name: Charges
    kind: list
    entity: Charge
    anonymous: true
    widgets: [{{kind: table, columns: [record.amount, record.invoice]}}]
actions:
  - name: Charge
    anonymous: true
    parameters: [{{name: amount, type: decimal}}]
    expose: {{method: POST, path: /charges}}
    steps:
      - call: {{integration: Pay, method: create, args: {{amount: params.amount}}, into: invoice}}
      - create: {{entity: Charge, values: {{amount: params.amount, invoice: invoice.created.amount}}}}
  - name: Broken
    anonymous: true
    parameters: [{{name: amount, type: decimal}}]
    expose: {{method: POST, path: /broken}}
    steps:
      - create: {{entity: Charge, values: {{amount: params.amount}}}}
      - call: {{integration: Pay, method: fail}}
integrations:
  - name: Pay
    base_url: http://127.0.0.1:{service}/v1
    methods:
      - {{name: create, method: POST, path: /invoices}}
      - {{name: fail, method: GET, path: /fail}}
"#
        );
        let admin = node.admin().await;
        deploy(&node, &admin, &source, json!({})).await;
        let post = |path: &'static str, amount: &'static str| {
            let node = &node;
            async move {
                node.request(
                    reqwest::Method::POST,
                    &format!("/apps/development/ledger/api/billing{path}"),
                    None,
                    Some(json!({ "amount": amount })),
                )
                .await
            }
        };
        let r = post("/charges", "9.5").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{name}: {}", r.text().await.unwrap());
        let r = post("/broken", "7").await;
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{name}: {}", r.text().await.unwrap());
        let page = node
            .request(reqwest::Method::GET, "/apps/development/ledger/Charges", None, None)
            .await
            .text()
            .await
            .unwrap();
        let rows = page.matches("<tr><td>").count();
        assert_eq!(rows, 1, "{name}: the failed run left nothing: {page}");
        assert!(page.contains("<td>9.5</td><td>9.5</td>"), "{name}: the answer fed the create: {page}");
        assert_eq!(peers.service.1.hits(), 1, "{name}: the peer saw the good call");
        let events = node.events().await;
        let outbound = events.iter().filter(|e| e.action == "http.outbound").count();
        assert_eq!(outbound, 2, "{name}");
        node.shutdown().await;
    })
    .await;
}

/// The posture report's status for integrations.
async fn integrations_posture(node: &Node, admin: &str) -> String {
    let (status, report) = node.get("/api/v1/posture", admin).await;
    assert_eq!(status, StatusCode::OK, "{}: {report}", node.name());
    let control = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "applications.integrations")
        .cloned()
        .unwrap_or_else(|| panic!("no integrations control: {report}"));
    control["status"].as_str().unwrap().to_owned()
}

/// Each environment's secrets from its own directory under [`secrets_dir`] and its own
/// `INTEGRATION_SECRET_<ENVIRONMENT>_*` variables (the default); no internal network opened.
fn closed(config: &mut Config) {
    config.integrations.timeout_seconds = 2;
    config.integrations.connect_timeout_seconds = 2;
    config.integrations.secrets_dir = format!("{}/{{environment}}", secrets_dir().display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_reach_only_the_secrets_and_networks_the_operator_opened() {
    on_both(closed, |node| async move {
        let name = node.name();
        let peers = peers().await;
        let (port, service) = &peers.service;
        let admin = node.admin().await;
        let data_dir = node.server().state.config.data_dir.clone();
        // In development's directory: a link to a file of the data directory, and a second
        // name (a hard link) of another.
        let development = secrets_dir().join("development");
        std::fs::create_dir_all(&development).unwrap();
        let target = data_dir.join(format!("planted-{name}"));
        std::fs::write(&target, "a file of the data directory").unwrap();
        let link = development.join(format!("leads-out-{name}"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let other = data_dir.join(format!("other-{name}"));
        std::fs::write(&other, "another file of the data directory").unwrap();
        let second_name = development.join(format!("second-name-{name}"));
        let _ = std::fs::remove_file(&second_name);
        let hard_linked = std::fs::hard_link(&other, &second_name).is_ok();
        deploy(
            &node,
            &admin,
            &module(*port, *port),
            json!({ "secrets": {
                "billing.Keyed": format!("file:{}", link.display()),
                "billing.Vaulted": format!("file:{}", second_name.display()),
            } }),
        )
        .await;

        // Plans naming the server's own files, other variables, or internal addresses are
        // refused when they are made, without echoing the reference.
        let outside = [
            (
                "secrets",
                format!("file:{}", data_dir.join("master.key").display()),
            ),
            ("secrets", "file:/etc/passwd".to_owned()),
            (
                "secrets",
                format!("file:{}/../passwd", development.display()),
            ),
            (
                "secrets",
                format!("file:{}/production/token", secrets_dir().display()),
            ),
            ("secrets", "env:HOME".to_owned()),
            (
                "secrets",
                "env:INTEGRATION_SECRET_PRODUCTION_CRM".to_owned(),
            ),
            ("endpoints", "http://2130706433/".to_owned()),
            ("endpoints", "http://0.0.0.0/".to_owned()),
            ("endpoints", "http://[::ffff:169.254.169.254]/".to_owned()),
            ("endpoints", "http://169.254.169.254/latest".to_owned()),
            ("endpoints", format!("http://127.0.0.1:{port}/v1")),
            ("endpoints", "http://localhost:1".to_owned()),
            ("endpoints", "http://[::1]:1".to_owned()),
        ];
        for (kind, value) in &outside {
            let key = if *kind == "secrets" {
                "billing.Keyed"
            } else {
                "billing.Pay"
            };
            let (status, body) = node
                .post(
                    "/api/v1/deployment-plans",
                    &admin,
                    json!({
                        "environment": "development",
                        "applications": [{ "application": "ledger", "tag": "1.0" }],
                        "settings": { *kind: { key: value } },
                    }),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {value}: {body}"
            );
            assert_eq!(body["field"], format!("settings.{kind}"), "{name}: {body}");
            assert!(
                !body.to_string().contains(value.as_str()),
                "{name}: echoed: {body}"
            );
        }

        // At the call: a loopback base URL the model declares is refused before connecting,
        // and the link out of the secrets directory is never read.
        let state = node.server().state.clone();
        let ctx = state.system_context();
        let run = |integration: &'static str, method: &'static str| {
            let a = if method == "land" {
                json!({})
            } else {
                json!({ "id": 1 })
            };
            in_development(state.clone(), ctx.clone(), integration, method, a)
        };
        let e = run("Landing", "land").await.unwrap_err();
        assert!(
            matches!(&e.failure, Failure::Refused(why) if why.contains("internal_networks")),
            "{name}: {e}"
        );
        // The link out of development's directory, and the file with a second name.
        let unread: &[&'static str] = if hard_linked {
            &["Keyed", "Vaulted"]
        } else {
            &["Keyed"]
        };
        for integration in unread {
            let e = run(integration, "invoice").await.unwrap_err();
            assert!(
                matches!(&e.failure, Failure::NotConfigured(why) if why.contains("cannot be read")),
                "{name}: {integration}: {e}"
            );
            assert!(!e.to_string().contains("data directory"), "{name}: {e}");
        }
        assert_eq!(service.hits(), 0, "{name}: nothing reached the peer");
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_file(&second_name);

        // The posture report: each environment reads its own secrets, and what is in
        // force is allowed.
        assert_eq!(integrations_posture(&node, &admin).await, "pass", "{name}");
    })
    .await;
}
