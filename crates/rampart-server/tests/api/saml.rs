//! SAML sign-in against a real identity provider: our pysaml2 + xmlsec1 IdP
//! (`tests/peers/saml/idp.py`), started once per test binary by `scripts/peers/saml.sh`.
//! Rampart publishes its metadata, which the IdP registers (so it checks our AuthnRequests'
//! signatures); a good login goes through the IdP's own login form; every bad case is one the
//! IdP makes on purpose through its admin API for a request Rampart really issued, and is
//! posted to the assertion consumer service as a browser would.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use reqwest::header::{HeaderMap, ACCEPT, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::kit::{on_both, problem, problem_type, Node};

pub(crate) struct Idp {
    vars: HashMap<String, String>,
    client: Client,
    /// The peer's script: it stops the IdP when its standard input closes, that is when the
    /// test process ends.
    _peer: Child,
}

static IDP: OnceLock<Idp> = OnceLock::new();

pub(crate) fn idp() -> &'static Idp {
    IDP.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/peers/saml.sh");
        let mut peer = Command::new("bash")
            .args([script, "--", "sh", "-c"])
            .arg("env | grep '^RAMPART_TEST_SAML_'; echo READY; cat >/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/peers/saml.sh starts");
        let mut vars = HashMap::new();
        for line in BufReader::new(peer.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if line == "READY" {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        assert!(
            vars.contains_key("RAMPART_TEST_SAML_METADATA_URL"),
            "the SAML peer did not start: {vars:?}"
        );
        let ca = std::fs::read(&vars["RAMPART_TEST_SAML_CA"]).unwrap();
        // Each test has its own runtime: a connection kept by the pool would die with the
        // test that opened it, so none is kept.
        let client = Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Idp {
            vars,
            client,
            _peer: peer,
        }
    })
}

impl Idp {
    pub(crate) fn var(&self, name: &str) -> String {
        self.vars[&format!("RAMPART_TEST_SAML_{name}")].clone()
    }

    fn password(&self, user: &str) -> String {
        std::fs::read_to_string(format!("{}/{user}", self.var("PASSWORD_DIR"))).unwrap()
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.var("ADMIN_TOKEN_FILE"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Registers a service provider's metadata.
    pub(crate) async fn register(&self, metadata: &str) {
        let r = self
            .client
            .put(format!("{}/sp-metadata", self.var("ADMIN_URL")))
            .bearer_auth(self.token())
            .body(metadata.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert_eq!(status, StatusCode::OK, "{}", r.text().await.unwrap());
    }

    /// A response made bad as `spec` says, for the request at `redirect`.
    pub(crate) async fn response(&self, mut spec: Value, redirect: Option<&str>) -> Value {
        if let Some(r) = redirect {
            spec["request"] = r.into();
        }
        let r = self
            .client
            .post(format!("{}/response", self.var("ADMIN_URL")))
            .bearer_auth(self.token())
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{spec}");
        r.json().await.unwrap()
    }

    /// Signs `user` in on the IdP's own form for the request at `redirect`: the response its
    /// page would post.
    async fn login(&self, redirect: &str, user: &str) -> Value {
        let page = self.client.get(redirect).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the IdP refused our request");
        let page = page.text().await.unwrap();
        let key = page
            .split("name=\"key\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the IdP's login form has a key")
            .to_owned();
        let base = redirect.split("/sso/").next().unwrap();
        let r = self
            .client
            .post(format!("{base}/sso/login"))
            .header(ACCEPT, "application/json")
            .form(&[
                ("key", key.as_str()),
                ("username", user),
                ("password", &self.password(user)),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

pub(crate) const ACS: &str = "/api/v1/providers/idp/saml/acs";

/// The node's clock set to the real time, which the IdP signs with (the test clock stands
/// still, so before each response).
pub(crate) fn real_time(node: &Node) {
    use rampart_core::Clock as _;
    let now = time::OffsetDateTime::now_utc();
    node.clock.advance(now - node.clock.now());
}

/// The settings of the SAML provider `idp` on `node` with `extra` settings.
pub(crate) fn idp_settings(node: &Node, extra: Value) -> Value {
    let idp = idp();
    let mut settings = json!({
        "idp_metadata_url": idp.var("METADATA_URL"),
        "ca_certificate": std::fs::read_to_string(idp.var("CA")).unwrap(),
        "sp_entity_id": format!("{}/saml/{}", node.base, node.name()),
        "acs_url": format!("{}{ACS}", node.base),
        "mappings": [
            { "group": "rampart-admins", "it_role": "administrator" },
            { "group": "sales", "application": "crm", "role": "rep" },
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    settings
}

/// Creates the SAML provider `idp` for `users` with `extra` settings, and registers its
/// metadata with the IdP. Answers the SP entity id.
pub(crate) async fn add_idp(node: &Node, admin: &str, users: &str, extra: Value) -> String {
    let idp = idp();
    let settings = idp_settings(node, extra);
    let entity = settings["sp_entity_id"].as_str().unwrap().to_owned();
    let (status, body) = node
        .post(
            "/api/v1/providers",
            admin,
            json!({ "name": "idp", "kind": "saml", "users": users, "settings": settings }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    let metadata = node
        .client
        .get(format!("{}/api/v1/providers/idp/saml/metadata", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    assert_eq!(
        metadata.headers()["content-type"],
        "application/samlmetadata+xml"
    );
    let metadata = metadata.text().await.unwrap();
    assert!(
        metadata.contains("AuthnRequestsSigned=\"true\""),
        "{metadata}"
    );
    assert!(metadata.contains("X509Certificate"), "{metadata}");
    idp.register(&metadata).await;
    entity
}

/// Starts a sign-in: the URL Rampart sends the browser to, and the sign-in's cookie.
pub(crate) async fn start(node: &Node, query: &str) -> (String, String) {
    let r = node
        .client
        .get(format!(
            "{}/api/v1/providers/idp/saml/login?{query}",
            node.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", node.name());
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&idp().var("SSO_URL"))
            && location.contains("SAMLRequest=")
            && location.contains("&SigAlg=")
            && location.contains("&Signature="),
        "{location}"
    );
    let cookie = cookie(r.headers()).expect("the sign-in's cookie");
    assert!(cookie.starts_with("__Host-rampart_saml_"), "{cookie}");
    (location, cookie)
}

/// Posts a response to the ACS as a browser would, with its cookie (`accept` says what it
/// wants back).
pub(crate) async fn post(
    node: &Node,
    answer: &Value,
    relay: Option<&str>,
    accept: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![(
        "SAMLResponse",
        answer["SAMLResponse"].as_str().unwrap().to_owned(),
    )];
    let relay = relay
        .map(str::to_owned)
        .or(answer["RelayState"].as_str().map(str::to_owned));
    if let Some(r) = relay {
        form.push(("RelayState", r));
    }
    let mut request = node
        .client
        .post(format!("{}{ACS}", node.base))
        .header(ACCEPT, accept);
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    request.form(&form).send().await.unwrap()
}

/// How many sign-ins through the provider `idp` succeeded.
pub(crate) async fn idp_logins(node: &Node) -> usize {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login" && e.outcome == "success")
        .filter(|e| e.details.contains("\"user_provider\":\"idp\""))
        .count()
}

/// The `auth.login` failures that name the SAML provider: their reasons, oldest first.
pub(crate) async fn refusals(node: &Node) -> Vec<String> {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login" && e.outcome == "failure")
        .filter_map(|e| {
            let d: Value = serde_json::from_str(&e.details).ok()?;
            (d["user_provider"] == "idp" && d["protocol"] == "saml")
                .then(|| d["reason"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// Whether a response sets a session cookie (with a value).
fn opens_session(headers: &HeaderMap) -> bool {
    headers.get_all(SET_COOKIE).iter().any(|c| {
        let c = c.to_str().unwrap();
        c.contains("rampart_session=") && !c.contains("rampart_session=;")
    })
}

pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SET_COOKIE)
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_users_sign_in_just_in_time_with_roles_from_their_attributes() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        let (status, body) = node
            .post(
                "/api/v1/authz/write",
                &admin,
                json!({ "operations": [
                    { "op": "create_application", "name": "crm" },
                    { "op": "create_role", "application": "crm", "name": "rep" },
                ] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        add_idp(&node, &admin, "both", json!({ "username": "email" })).await;

        // Alice, an IT user: the IdP's login form, then the browser's post to the ACS, which
        // sets the session cookie and goes back where the sign-in started.
        let (redirect, bound) = start(&node, "user=it&return=/console/users").await;
        let answer = idp().login(&redirect, "alice").await;
        real_time(&node);
        assert_eq!(answer["acs_url"], format!("{}{ACS}", node.base));
        let r = post(&node, &answer, None, "text/html", Some(&bound)).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{name}: {:?}",
            r.text().await
        );
        assert_eq!(r.headers()[LOCATION], "/console/users");
        let session = cookie(r.headers()).expect("a session cookie");
        assert!(session.contains("rampart_session"), "{session}");
        let me = node
            .client
            .get(format!("{}/api/v1/auth/me", node.base))
            .header("cookie", session)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK, "{name}");
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["user"]["username"], "alice@rampart.test", "{name}: {me}");
        assert_eq!(me["user"]["provider"], "it", "{name}");
        assert_eq!(me["user"]["administrator"], true, "{name}: {me}");

        // Bob, an end user: his group maps to the application role, the IT mapping to nothing.
        let (redirect, bound) = start(&node, "user=end").await;
        let answer = idp().login(&redirect, "bob").await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["user"]["username"], "bob@rampart.test",
            "{name}: {body}"
        );
        assert_eq!(body["user"]["provider"], "end");
        let id = body["user"]["id"].as_str().unwrap();
        let check = json!({ "kind": "role", "user": id, "application": "crm", "role": "rep" });
        let (status, body) = node
            .post("/api/v1/authz/check", &admin, json!({ "checks": [check] }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["allowed"], true, "{name}: {body}");

        // An IdP whose clock is 30 s ahead is within the default 60 s margin.
        let (redirect, bound) = start(&node, "user=end").await;
        let answer = idp()
            .response(
                json!({ "case": "skewed", "seconds": 30, "user": "bob" }),
                Some(&redirect),
            )
            .await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}: {:?}", r.text().await);

        // Each success is audited with the provider; nobody signs in with a password here.
        let (status, _) = node
            .post(
                "/api/v1/auth/login",
                &admin,
                json!({ "provider": "end", "username": "bob@rampart.test", "password": "x",
                        "user_provider": "idp" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let logins = idp_logins(&node).await;
        assert_eq!(logins, 3, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_response_is_refused_audited_and_changes_nothing() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        let entity = add_idp(&node, &admin, "it", json!({})).await;
        let cases: &[(Value, StatusCode, &str)] = &[
            (
                json!({ "case": "tampered" }),
                StatusCode::FORBIDDEN,
                "signature-invalid",
            ),
            (
                json!({ "case": "wrapped" }),
                StatusCode::FORBIDDEN,
                "several-assertions",
            ),
            (
                json!({ "case": "unsigned" }),
                StatusCode::FORBIDDEN,
                "unsigned",
            ),
            (
                json!({ "case": "other-key" }),
                StatusCode::FORBIDDEN,
                "signature-invalid",
            ),
            (
                json!({ "case": "expired", "seconds": 300 }),
                StatusCode::FORBIDDEN,
                "expired",
            ),
            (
                json!({ "case": "skewed", "seconds": 600 }),
                StatusCode::FORBIDDEN,
                "not-yet-valid",
            ),
            (
                json!({ "case": "skewed", "seconds": -600 }),
                StatusCode::FORBIDDEN,
                "expired",
            ),
            (
                json!({ "case": "not-yet-valid", "seconds": 600 }),
                StatusCode::FORBIDDEN,
                "not-yet-valid",
            ),
            (
                json!({ "case": "wrong-audience" }),
                StatusCode::FORBIDDEN,
                "wrong-audience",
            ),
            (
                json!({ "case": "wrong-recipient" }),
                StatusCode::FORBIDDEN,
                "wrong-recipient",
            ),
            (
                json!({ "case": "wrong-destination" }),
                StatusCode::FORBIDDEN,
                "wrong-destination",
            ),
            (
                json!({ "case": "wrong-issuer" }),
                StatusCode::FORBIDDEN,
                "wrong-issuer",
            ),
            (
                json!({ "case": "wrong-in-response-to" }),
                StatusCode::FORBIDDEN,
                "unknown-request",
            ),
        ];
        let mut expected = Vec::new();
        for (spec, status, reason) in cases {
            let (redirect, bound) = start(&node, "return=/console").await;
            let answer = idp().response(spec.clone(), Some(&redirect)).await;
            real_time(&node);
            let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
            assert!(cookie(r.headers()).is_none(), "{name}: {spec}");
            let (got, _, body) = problem(r).await;
            assert_eq!(got, *status, "{name}: {spec}: {body}");
            assert!(body["detail"].as_str().unwrap().len() > 10, "{body}");
            expected.push(reason.to_string());
            assert_eq!(refusals(&node).await, expected, "{name}: {spec}");
        }

        // A response nobody asked for (IdP-initiated) is refused.
        let answer = idp()
            .response(json!({ "case": "valid", "sp": entity }), None)
            .await;
        let (got, _, _) = problem(post(&node, &answer, None, "application/json", None).await).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{name}");
        expected.push("unsolicited".into());

        // The return address: off-site at the start, or changed on the way back.
        let r = node
            .client
            .get(format!(
                "{}/api/v1/providers/idp/saml/login?return=https://evil.example/",
                node.base
            ))
            .send()
            .await
            .unwrap();
        let (got, _, body) = problem(r).await;
        assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(body["field"], "return", "{body}");
        expected.push("relay-state-not-allowed".into());
        let (redirect, bound) = start(&node, "return=/console").await;
        let answer = idp()
            .response(json!({ "case": "valid" }), Some(&redirect))
            .await;
        real_time(&node);
        let r = post(
            &node,
            &answer,
            Some("https://evil.example/"),
            "application/json",
            Some(&bound),
        )
        .await;
        let (got, _, body) = problem(r).await;
        assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(problem_type(&body), "invalid-input");
        assert_eq!(body["field"], "RelayState", "{body}");
        expected.push("relay-state-not-allowed".into());

        // The right response in another browser (without the sign-in's cookie, or with
        // another sign-in's) is refused: nobody is signed in as someone else by a link.
        let (_, other) = start(&node, "return=/console").await;
        for cookie in [None, Some(other.as_str())] {
            let r = post(&node, &answer, None, "application/json", cookie).await;
            let (got, _, body) = problem(r).await;
            assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
            expected.push("other-browser".into());
        }

        // Not a response at all; and a browser gets a page, not a problem.
        let garbage = json!({ "SAMLResponse": "bm90IFhNTA==" });
        let r = post(&node, &garbage, Some("/"), "text/html", None).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let page = r.text().await.unwrap();
        assert!(page.contains("<p id=\"error\">"), "{page}");
        expected.push("malformed".into());
        assert_eq!(refusals(&node).await, expected, "{name}");

        // Nothing of the refused responses was made: no user, no session.
        let users = node
            .server()
            .state
            .store
            .users_of_provider("idp")
            .await
            .unwrap();
        assert!(users.is_empty(), "{name}: {users:?}");

        // The response refused above for its RelayState and browser was not consumed: with
        // both right it signs alice in, once; the same response again is a replay.
        real_time(&node);
        let good = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert_eq!(
            good.status(),
            StatusCode::OK,
            "{name}: {:?}",
            good.text().await
        );
        let again = post(&node, &answer, None, "application/json", Some(&bound)).await;
        let (got, _, body) = problem(again).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
        expected.push("replayed".into());
        assert_eq!(refusals(&node).await, expected, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_used_on_one_node_is_a_replay_on_another() {
    let a = crate::kit::start(rampart_store::BackendKind::Postgres, crate::kit::no_tweak).await;
    let b = crate::kit::start_on(
        rampart_store::BackendKind::Postgres,
        a.database_url(),
        crate::kit::no_tweak,
    )
    .await;
    real_time(&a);
    real_time(&b);
    let admin = a.admin().await;
    add_idp(&a, &admin, "it", json!({})).await;
    let (redirect, bound) = start(&a, "return=/").await;
    let answer = idp().login(&redirect, "bob").await;
    real_time(&a);
    real_time(&b);
    let r = post(&a, &answer, None, "application/json", Some(&bound)).await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    // Node b reads the same provider, and remembers what node a consumed.
    let r = b
        .client
        .post(format!("{}{ACS}", b.base))
        .header(ACCEPT, "application/json")
        .header("cookie", &bound)
        .form(&[
            ("SAMLResponse", answer["SAMLResponse"].as_str().unwrap()),
            ("RelayState", "/"),
        ])
        .send()
        .await
        .unwrap();
    let (got, _, body) = problem(r).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("used before"),
        "{body}"
    );
    // Both nodes publish their signing certificate; either serves both.
    b.client
        .get(format!("{}/api/v1/providers/idp/saml/login", b.base))
        .send()
        .await
        .unwrap();
    let metadata = a
        .client
        .get(format!("{}/api/v1/providers/idp/saml/metadata", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metadata.matches("<ds:X509Certificate>").count(),
        2,
        "{metadata}"
    );
}

/// The console's sign-in page as a browser without a session sees it.
async fn console_login_page(node: &Node) -> String {
    Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(format!("{}/console/login", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saml_sign_in_never_skips_a_second_factor_and_a_disabled_provider_signs_nobody_in() {
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_idp(&node, &admin, "it", json!({})).await;

        // The console's sign-in page offers the provider.
        let page = console_login_page(&node).await;
        assert!(
            page.contains("/api/v1/providers/idp/saml/login?user=it"),
            "{name}: {page}"
        );

        // Alice signs in through the IdP, then enrols a TOTP app.
        let (redirect, bound) = start(&node, "user=it&return=/console/").await;
        let answer = idp().login(&redirect, "alice").await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let body: Value = r.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        let (secret, _) = crate::mfa::enrol(&node, &token).await;

        // The IdP's word alone no longer signs her in: no session, the second factor next.
        // A client of the API gets the pending sign-in (202), completed with her code.
        let (redirect, bound) = start(&node, "user=it&return=/console/").await;
        let answer = idp().login(&redirect, "alice").await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert!(!opens_session(r.headers()), "{name}");
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{name}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["methods"].as_array().unwrap().contains(&json!("totp")),
            "{name}: {body}"
        );
        let pending = body["pending_token"].as_str().unwrap().to_owned();
        // Her code of the next time step: the one of her enrolment is spent.
        node.clock.advance(time::Duration::seconds(30));
        let (status, wrong) = crate::mfa::call(
            &node,
            reqwest::Method::POST,
            "/api/v1/auth/login/second-factor",
            None,
            json!({ "pending_token": pending, "code": "000000" }),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {wrong}");
        let (status, done) = crate::mfa::call(
            &node,
            reqwest::Method::POST,
            "/api/v1/auth/login/second-factor",
            None,
            json!({ "pending_token": pending, "code": crate::mfa::code(&node, &secret, 0) }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {done}");
        assert_eq!(
            done["user"]["display_name"], "Alice Example",
            "{name}: {done}"
        );

        // A browser gets the console's second step, a form that completes it there.
        let (redirect, bound) = start(&node, "user=it&return=/console/").await;
        let answer = idp().login(&redirect, "alice").await;
        real_time(&node);
        let r = post(&node, &answer, None, "text/html", Some(&bound)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let set: Vec<String> = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        assert!(
            !opens_session(r.headers()),
            "{name}: no session yet: {set:?}"
        );
        let csrf = set
            .iter()
            .find(|c| c.starts_with("__Host-rampart_csrf="))
            .unwrap_or_else(|| panic!("{name}: a CSRF cookie: {set:?}"))
            .clone();
        let page = r.text().await.unwrap();
        let field = crate::idp_sign_in::hidden;
        assert!(
            page.contains("action=\"/console/login/code\""),
            "{name}: {page}"
        );
        let pending = field(&page, "pending");
        node.clock.advance(time::Duration::seconds(60));
        let r = node
            .client
            .post(format!("{}/console/login/code", node.base))
            .header("cookie", &csrf)
            .header("origin", &node.base)
            .form(&[
                ("_csrf", field(&page, "_csrf").as_str()),
                ("pending", pending.as_str()),
                ("return", "/console/"),
                ("code", crate::mfa::code(&node, &secret, 0).as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(r.headers()["location"], "/console/", "{name}");
        assert!(opens_session(r.headers()), "{name}");

        // Bob's sign-in starts; the provider is disabled before his answer comes back: it
        // is refused and consumes nothing.
        let (redirect, bound) = start(&node, "user=it&return=/console/").await;
        let answer = idp().login(&redirect, "bob").await;
        let disable = |enabled: bool| {
            let node = &node;
            let admin = admin.clone();
            async move {
                let (status, body) = node
                    .patch(
                        "/api/v1/providers/idp",
                        &admin,
                        json!({ "enabled": enabled }),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        };
        disable(false).await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert!(cookie(r.headers()).is_none(), "{name}");
        let (got, _, body) = problem(r).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
        assert_eq!(
            refusals(&node).await.last().map(String::as_str),
            Some("provider-disabled"),
            "{name}"
        );
        // A disabled provider starts no sign-in and is not offered.
        let r = node
            .client
            .get(format!(
                "{}/api/v1/providers/idp/saml/login?user=it",
                node.base
            ))
            .send()
            .await
            .unwrap();
        let (got, _, body) = problem(r).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
        let page = console_login_page(&node).await;
        assert!(!page.contains("/api/v1/providers/idp/saml/login"), "{name}");
        // Enabled again, Bob's answer (not consumed by the refusal) signs him in.
        disable(true).await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}: {:?}", r.text().await);
    })
    .await;
}

fn require_idp_for_it_and_another_for_end(config: &mut rampart_service::Config) {
    config.sign_in.it_provider = "idp".into();
    config.sign_in.end_provider = "elsewhere".into();
    config.sign_in.break_glass = "admin".into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_required_provider_rules_hold_for_saml_sign_ins() {
    on_both(require_idp_for_it_and_another_for_end, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_idp(&node, &admin, "both", json!({})).await;

        // IT users must sign in through idp: the page offers it instead of the password.
        let page = console_login_page(&node).await;
        assert!(!page.contains("name=\"password\""), "{name}: {page}");
        assert!(
            page.contains("/api/v1/providers/idp/saml/login?user=it"),
            "{name}: {page}"
        );
        let (redirect, bound) = start(&node, "user=it&return=/console/").await;
        let answer = idp().login(&redirect, "bob").await;
        real_time(&node);
        let r = post(&node, &answer, None, "application/json", Some(&bound)).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}: {:?}", r.text().await);

        // End users must sign in through another provider: idp starts no sign-in for them.
        let r = node
            .client
            .get(format!(
                "{}/api/v1/providers/idp/saml/login?user=end",
                node.base
            ))
            .send()
            .await
            .unwrap();
        let (got, _, body) = problem(r).await;
        assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("elsewhere"),
            "{body}"
        );
    })
    .await;
}
