//! Sign-in through an external OpenID Connect provider, against a real, certified one:
//! panva's `oidc-provider` started once per test binary by `scripts/peers/oidc.sh` (see
//! docs/peers.md). The browser is a cookie-keeping reqwest client that follows no redirect:
//! each test walks the code flow by hand (Rampart's start, the provider's authorization
//! endpoint, its login form, back to Rampart's callback). Each node registers a client of
//! its own at the provider (its own redirect URI), so tests running at once do not meet.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use rampart_core::Provider;
use rampart_federation::oidc::{Discovery, OidcClient};
use rampart_federation::OidcSettings;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::kit::{on_both, problem, problem_type, Node, ADMIN_PASSWORD, USER_PASSWORD};

struct Peer {
    vars: HashMap<String, String>,
    /// The peer's script: it stops the provider when its standard input closes, that is
    /// when the test process ends.
    _peer: Child,
}

static PEER: OnceLock<Peer> = OnceLock::new();

fn peer() -> &'static Peer {
    PEER.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/peers/oidc.sh");
        let mut peer = Command::new("bash")
            .args([script, "--", "sh", "-c"])
            .arg("env | grep '^RAMPART_TEST_OIDC_'; echo READY; cat >/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/peers/oidc.sh starts");
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
            vars.contains_key("RAMPART_TEST_OIDC_ISSUER"),
            "the OpenID provider peer did not start: {vars:?}"
        );
        Peer { vars, _peer: peer }
    })
}

impl Peer {
    fn var(&self, name: &str) -> &str {
        &self.vars[&format!("RAMPART_TEST_OIDC_{name}")]
    }

    fn issuer(&self) -> &str {
        self.var("ISSUER")
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(path)
            .unwrap()
            .trim_end_matches('\n')
            .to_owned()
    }

    fn password(&self, user: &str) -> String {
        Self::read(&format!("{}/{user}", self.var("PASSWORD_DIR")))
    }

    fn ca(&self) -> String {
        std::fs::read_to_string(self.var("CA")).unwrap()
    }

    /// A call of the peer's admin API.
    async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let token = Self::read(self.var("ADMIN_TOKEN_FILE"));
        let response = browser()
            .request(method, format!("{}{path}", self.var("ADMIN_URL")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Registers (or changes) the client `id` with one redirect URI; answers the file
    /// holding its secret.
    async fn client(&self, id: &str, redirect_uri: &str) -> String {
        let answer = self
            .admin(
                Method::PUT,
                &format!("/clients/{id}"),
                json!({ "redirect_uris": [redirect_uri] }),
            )
            .await;
        answer["client_secret_file"].as_str().unwrap().to_owned()
    }
}

/// A browser: keeps cookies, follows no redirect, trusts the test certificates.
pub(crate) fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn absolute(origin: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        location.to_owned()
    }
}

/// The node's clock set to the real time: ID tokens carry the provider's clock.
pub(crate) fn real_time(node: &Node) {
    use rampart_core::Clock as _;
    let now = OffsetDateTime::now_utc();
    node.clock.advance(now - node.clock.now());
}

/// Registers a client for `node` at the provider and creates the user provider `name` on
/// the node for `users`, with `extra` settings; answers the client id.
pub(crate) async fn add_provider(
    node: &Node,
    admin: &str,
    name: &str,
    users: &str,
    extra: Value,
) -> String {
    let p = peer();
    let client_id = format!(
        "rp-{name}-{}-{}",
        node.name(),
        node.base.rsplit(':').next().unwrap()
    );
    let redirect = format!("{}/api/v1/providers/{name}/oidc/callback", node.base);
    let secret_file = p.client(&client_id, &redirect).await;
    let mut settings = json!({
        "issuer": p.issuer(),
        "ca_certificate": p.ca(),
        "client_id": client_id,
        "client_secret": format!("file:{secret_file}"),
        "scopes": ["openid", "email", "profile", "groups"],
        "redirect_uri": redirect,
        "mappings": [
            { "group": "rampart-admins", "it_role": "administrator" },
            { "group": "sales", "it_role": "developer" }
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    let (status, body) = node
        .post(
            "/api/v1/providers",
            admin,
            json!({ "name": name, "kind": "oidc", "users": users, "settings": settings }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    client_id
}

/// Starts a sign-in at the node: the answer of `…/oidc/start` with `query`.
async fn start(node: &Node, browser: &Client, provider: &str, query: &str) -> Response {
    browser
        .get(format!(
            "{}/api/v1/providers/{provider}/oidc/start?{query}",
            node.base
        ))
        .send()
        .await
        .unwrap()
}

/// Walks the provider's side of the flow from its authorization URL: its login form as
/// `user`; answers the callback URL it sends the browser to.
pub(crate) async fn authorize(browser: &Client, auth_url: &str, user: &str) -> String {
    let p = peer();
    let r = browser.get(auth_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{auth_url}");
    let interaction = absolute(p.issuer(), &location(&r));
    let r = browser.get(&interaction).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = browser
        .post(format!("{interaction}/login"))
        .form(&[("username", user), ("password", &p.password(user))])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{user} signs in at the provider"
    );
    let r = browser
        .get(absolute(p.issuer(), &location(&r)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

/// A whole sign-in in a fresh browser: the browser and the callback's answer.
async fn sign_in(
    node: &Node,
    provider: &str,
    query: &str,
    user: &str,
) -> (Client, Response, String) {
    let b = browser();
    let r = start(node, &b, provider, query).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}: start", node.name());
    let callback = authorize(&b, &location(&r), user).await;
    assert!(callback.starts_with(&node.base), "{callback}");
    let answer = b.get(&callback).send().await.unwrap();
    (b, answer, callback)
}

/// The signed-in user as `/api/v1/auth/me` shows them to the browser's session cookie.
async fn me(node: &Node, browser: &Client) -> (StatusCode, Value) {
    let r = browser
        .get(format!("{}/api/v1/auth/me", node.base))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// `auth.login` events: outcome and details, oldest first.
async fn logins(node: &Node) -> Vec<(String, Value)> {
    node.events()
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login")
        .map(|e| {
            (
                e.outcome.clone(),
                serde_json::from_str(&e.details).unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// What a refusal must leave as it was: sessions opened and users made.
async fn unchanged_counts(node: &Node) -> (usize, i64, i64) {
    let store = &node.server().state.store;
    let opened = logins(node)
        .await
        .iter()
        .filter(|(o, _)| o == "success")
        .count();
    (
        opened,
        store.count_users(Provider::It).await.unwrap(),
        store.count_users(Provider::End).await.unwrap(),
    )
}

/// Asserts that `r` is a 403 problem and that the last `auth.login` event is a failure
/// through `provider` for `reason`.
async fn refused(node: &Node, r: Response, provider: &str, reason: &str) {
    let (status, _, body) = problem(r).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}: {reason}: {body}",
        node.name()
    );
    assert_eq!(problem_type(&body), "forbidden", "{body}");
    let last = logins(node).await.pop().unwrap();
    assert_eq!(last.0, "failure", "{}: {reason}", node.name());
    assert_eq!(last.1["user_provider"], provider, "{last:?}");
    assert_eq!(last.1["reason"], reason, "{}: {last:?}", node.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_and_end_users_sign_in_through_the_provider_with_roles_from_its_claims() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let p = peer();
        let admin = node.admin().await;
        add_provider(&node, &admin, "idp", "both", json!({})).await;

        // Both sign-in pages offer it.
        let page = browser()
            .get(format!("{}/console/login", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // askama writes `&` as `&#38;`.
        assert!(
            page.contains("/api/v1/providers/idp/oidc/start?kind=it&#38;return=%2Fconsole%2F"),
            "{name}: {page}"
        );
        assert!(
            page.contains("name=\"password\""),
            "{name}: the local form stays"
        );

        // Alice, an IT user in rampart-admins, signs in to the console as an administrator.
        let (b, answer, _) = sign_in(&node, "idp", "kind=it&return=/console/users", "alice").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(location(&answer), "/console/users", "{name}");
        let cookies: Vec<_> = answer.headers().get_all("set-cookie").iter().collect();
        assert!(
            cookies.iter().any(|c| c
                .to_str()
                .unwrap()
                .starts_with("__Host-rampart_session=rps_")),
            "{name}: {cookies:?}"
        );
        assert!(
            cookies
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("__Host-rampart_oidc=;")),
            "{name}: the sign-in's cookie is cleared: {cookies:?}"
        );
        let (status, who) = me(&node, &b).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(who["user"]["provider"], "it", "{name}");
        assert_eq!(who["user"]["username"], "alice", "{name}");
        assert_eq!(who["user"]["user_provider"], "idp", "{name}");
        assert_eq!(who["user"]["email"], "alice@rampart.test", "{name}");
        assert_eq!(who["user"]["administrator"], true, "{name}: {who}");
        // The console opens for her.
        let console = b
            .get(format!("{}/console/users", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(console.status(), StatusCode::OK, "{name}");
        // The console's providers page shows the provider's health and, to an
        // administrator, the form that disables it.
        let providers = b
            .get(format!("{}/console/providers", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(providers.status(), StatusCode::OK, "{name}");
        let providers = providers.text().await.unwrap();
        assert!(
            providers.contains("id=\"provider-idp\""),
            "{name}: {providers}"
        );
        assert!(providers.contains("aria-label=\"Disable idp\""), "{name}");
        assert!(
            !providers.contains("never</td>"),
            "{name}: a success is shown"
        );

        // Bob signs in to an application as an end user, back where he was going.
        let (b, answer, _) =
            sign_in(&node, "idp", "kind=end&return=/apps/dev/crm/orders", "bob").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(location(&answer), "/apps/dev/crm/orders", "{name}");
        let (_, who) = me(&node, &b).await;
        assert_eq!(who["user"]["provider"], "end", "{name}");
        assert_eq!(who["user"]["username"], "bob", "{name}");

        // The provider takes alice out of rampart-admins: her next sign-in follows.
        p.admin(Method::PATCH, "/users/alice", json!({ "groups": [] }))
            .await;
        let (b, answer, _) = sign_in(&node, "idp", "kind=it", "alice").await;
        p.admin(
            Method::PATCH,
            "/users/alice",
            json!({ "groups": ["rampart-admins"] }),
        )
        .await;
        assert_eq!(location(&answer), "/console/", "{name}");
        let (_, who) = me(&node, &b).await;
        assert_eq!(who["user"]["administrator"], false, "{name}: {who}");

        // The provider rotates its keys: tokens signed with the new key still verify (the
        // JWKS is fetched again for the unknown kid).
        p.admin(Method::POST, "/keys/rotate", json!({})).await;
        let (b, answer, _) = sign_in(&node, "idp", "kind=it", "alice").await;
        assert_eq!(
            answer.status(),
            StatusCode::SEE_OTHER,
            "{name}: after rotation"
        );
        let (_, who) = me(&node, &b).await;
        assert_eq!(who["user"]["administrator"], true, "{name}: {who}");

        // Every sign-in is audited with the provider; one profile per person.
        let through: Vec<_> = logins(&node)
            .await
            .into_iter()
            .filter(|(o, d)| o == "success" && d["user_provider"] == "idp")
            .collect();
        assert_eq!(through.len(), 4, "{name}: {through:?}");
        let store = &node.server().state.store;
        assert_eq!(
            store.users_of_provider("idp").await.unwrap().len(),
            2,
            "{name}"
        );
        // The provider's health: a success, no error.
        let (_, status) = node.get("/api/v1/providers/idp/status", &admin).await;
        assert!(status["last_success_at"].is_string(), "{name}: {status}");
        assert!(status["last_error"].is_null(), "{name}: {status}");
        // No secret reached the trail.
        let secret = Peer::read(
            &node
                .server()
                .state
                .store
                .provider("idp")
                .await
                .unwrap()
                .unwrap()
                .settings["client_secret"]
                .as_str()
                .unwrap()["file:".len()..],
        );
        let all = serde_json::to_string(
            &node
                .events()
                .await
                .iter()
                .map(|e| format!("{} {:?} {}", e.action, e.target, e.details))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(!all.contains(&secret), "{name}");
        assert!(!all.contains(&p.password("alice")), "{name}");

        // Alice, an administrator, disables the provider from the console's page (its
        // form, with the page's CSRF token): it is no longer accepted.
        let page = b
            .get(format!("{}/console/providers", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = page
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        let r = b
            .post(format!("{}/console/providers/idp/enabled", node.base))
            .header("origin", node.base.as_str())
            .form(&[("_csrf", csrf.as_str()), ("enabled", "false")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(location(&r), "/console/providers?done=disabled", "{name}");
        let (_, view) = node.get("/api/v1/providers/idp", &admin).await;
        assert_eq!(view["enabled"], false, "{name}: {view}");
        let r = start(&node, &browser(), "idp", "kind=it").await;
        assert_eq!(problem(r).await.0, StatusCode::FORBIDDEN, "{name}");
        // Without the token the form changes nothing.
        let r = b
            .post(format!("{}/console/providers/idp/enabled", node.base))
            .header("origin", node.base.as_str())
            .form(&[("enabled", "true")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let (_, view) = node.get("/api/v1/providers/idp", &admin).await;
        assert_eq!(view["enabled"], false, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_that_are_not_the_sign_in_under_way_are_refused_audited_and_change_nothing() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_provider(&node, &admin, "idp", "it", json!({})).await;
        let before = unchanged_counts(&node).await;

        // A callback without the browser's sign-in (another browser, or none at all).
        let b = browser();
        let r = start(&node, &b, "idp", "").await;
        let callback = authorize(&b, &location(&r), "bob").await;
        let r = browser().get(&callback).send().await.unwrap();
        refused(&node, r, "idp", "no-login-in-progress").await;
        // A browser asking for a page gets one, saying the same.
        let r = browser()
            .get(&callback)
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("no sign-in through idp is under way"),
            "{name}: {page}"
        );

        // The right browser, a state that is not the one sent: refused, and the sign-in is
        // used up (the right state afterwards finds nothing).
        let tampered = callback.replace("state=", "state=x");
        let r = b.get(&tampered).send().await.unwrap();
        refused(&node, r, "idp", "state-mismatch").await;
        let r = b.get(&callback).send().await.unwrap();
        refused(&node, r, "idp", "no-login-in-progress").await;

        // Without a state at all.
        let b = browser();
        let r = start(&node, &b, "idp", "").await;
        let callback = authorize(&b, &location(&r), "bob").await;
        let stateless: String = callback
            .split(['?', '&'])
            .filter(|part| !part.starts_with("state="))
            .collect::<Vec<_>>()
            .join("&")
            .replacen('&', "?", 1);
        let r = b.get(&stateless).send().await.unwrap();
        refused(&node, r, "idp", "state-mismatch").await;
        assert_eq!(unchanged_counts(&node).await, before, "{name}");

        // The provider's own refusal (the user cancels at its login page).
        let b = browser();
        let r = start(&node, &b, "idp", "").await;
        let p = peer();
        let r = b.get(location(&r)).send().await.unwrap();
        let interaction = absolute(p.issuer(), &location(&r));
        let r = b.post(format!("{interaction}/abort")).send().await.unwrap();
        let r = b
            .get(absolute(p.issuer(), &location(&r)))
            .send()
            .await
            .unwrap();
        let callback = location(&r);
        assert!(callback.contains("error=access_denied"), "{callback}");
        let r = b.get(&callback).send().await.unwrap();
        refused(&node, r, "idp", "provider-refused").await;
        let last = logins(&node).await.pop().unwrap();
        assert_eq!(last.1["provider_error"], "access_denied", "{last:?}");
        assert_eq!(unchanged_counts(&node).await, before, "{name}");

        // A good sign-in, then its callback replayed: the sign-in is gone.
        let (b, answer, callback) = sign_in(&node, "idp", "", "bob").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");
        let after_good = unchanged_counts(&node).await;
        let r = b.get(&callback).send().await.unwrap();
        refused(&node, r, "idp", "no-login-in-progress").await;
        // The used code with a new sign-in's state: the provider refuses the code again.
        let b2 = browser();
        let r = start(&node, &b2, "idp", "").await;
        let fresh = authorize(&b2, &location(&r), "bob").await;
        let state = fresh
            .split(['?', '&'])
            .find(|p| p.starts_with("state="))
            .unwrap();
        let code = callback
            .split(['?', '&'])
            .find(|p| p.starts_with("code="))
            .unwrap();
        let replay = format!(
            "{}/api/v1/providers/idp/oidc/callback?{code}&{state}",
            node.base
        );
        let r = b2.get(&replay).send().await.unwrap();
        refused(&node, r, "idp", "code-refused").await;
        assert_eq!(unchanged_counts(&node).await, after_good, "{name}");
        let (status, _) = me(&node, &b2).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: no session");

        // An ID token that has expired by the time it is checked: the provider issues it
        // for 60 s, and this server's clock is 5 minutes on (the sign-in itself, 10
        // minutes, has not expired).
        let b = browser();
        let r = start(&node, &b, "idp", "").await;
        let callback = authorize(&b, &location(&r), "bob").await;
        p.admin(Method::PUT, "/ttl", json!({ "IdToken": 60 })).await;
        node.clock.advance(time::Duration::minutes(5));
        let r = b.get(&callback).send().await.unwrap();
        p.admin(Method::PUT, "/ttl", json!({ "IdToken": 3600 }))
            .await;
        refused(&node, r, "idp", "token-expired").await;
        assert_eq!(unchanged_counts(&node).await, after_good, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_addresses_and_redirect_uris_must_be_exactly_allowed() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_provider(&node, &admin, "idp", "both", json!({})).await;
        let before = unchanged_counts(&node).await;
        for query in [
            "kind=it&return=https://evil.example/console/",
            "kind=it&return=//evil.example/console/",
            "kind=it&return=/console/../api/v1/users",
            "kind=it&return=/apps/dev/crm/",
            "kind=end&return=/console/",
            "kind=end",
            "kind=root",
            "",
        ] {
            let b = browser();
            let r = start(&node, &b, "idp", query).await;
            assert!(r.headers().get("set-cookie").is_none(), "{name}: {query}");
            let (status, _, body) = problem(r).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {query}: {body}"
            );
        }
        let r = start(&node, &browser(), "nobody", "kind=it").await;
        assert_eq!(problem(r).await.0, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(unchanged_counts(&node).await, before, "{name}");

        // A redirect URI that is not the provider's callback path is refused when
        // configured; one the identity provider has not registered exactly is refused there.
        let p = peer();
        let (status, body) = node
            .patch(
                "/api/v1/providers/idp",
                &admin,
                json!({ "settings": {
                    "issuer": p.issuer(), "client_id": "x", "client_secret": "env:X",
                    "redirect_uri": format!("{}/api/v1/providers/idp/oidc/callback/", node.base)
                }}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["field"], "settings.redirect_uri", "{body}");
        let client_id = format!(
            "rp-idp-{}-{}",
            node.name(),
            node.base.rsplit(':').next().unwrap()
        );
        let stored = node
            .server()
            .state
            .store
            .provider("idp")
            .await
            .unwrap()
            .unwrap();
        let mut settings = stored.settings.clone();
        settings["client_id"] = client_id.into();
        // The provider has registered the callback under 127.0.0.1, not under localhost.
        settings["redirect_uri"] = format!(
            "{}/api/v1/providers/idp/oidc/callback",
            node.base.replace("127.0.0.1", "localhost")
        )
        .into();
        let (status, body) = node
            .patch(
                "/api/v1/providers/idp",
                &admin,
                json!({ "settings": settings }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let b = browser();
        let r = start(&node, &b, "idp", "kind=it").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        let r = b.get(location(&r)).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "{name}: the provider refuses a redirect URI it has not registered"
        );
        assert!(r.headers().get("location").is_none(), "{name}");
        assert_eq!(unchanged_counts(&node).await, before, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_a_clear_problem_and_local_administrators_still_sign_in() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        // A port nothing listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let (status, body) = node
            .post(
                "/api/v1/providers",
                &admin,
                json!({ "name": "down", "kind": "oidc", "users": "it", "settings": {
                    "issuer": format!("https://127.0.0.1:{port}"),
                    "client_id": "rampart", "client_secret": "env:NOT_SET_ANYWHERE",
                    "redirect_uri": format!("{}/api/v1/providers/down/oidc/callback", node.base),
                    "timeout_seconds": 2
                }}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let before = unchanged_counts(&node).await;
        // The client secret's variable is not set: unavailable, without naming it.
        let r = start(&node, &browser(), "down", "").await;
        let (status, _, body) = problem(r).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{name}: {body}");
        assert!(!body.to_string().contains("NOT_SET_ANYWHERE"), "{body}");
        // With a readable secret, the provider itself cannot be reached.
        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), "s3cret").unwrap();
        let (status, body) = node
            .patch(
                "/api/v1/providers/down",
                &admin,
                json!({ "settings": {
                    "issuer": format!("https://127.0.0.1:{port}"),
                    "client_id": "rampart",
                    "client_secret": format!("file:{}", secret.path().display()),
                    "redirect_uri": format!("{}/api/v1/providers/down/oidc/callback", node.base),
                    "timeout_seconds": 2
                }}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let r = start(&node, &browser(), "down", "").await;
        assert!(r.headers().get("set-cookie").is_none(), "{name}");
        let (status, _, body) = problem(r).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{name}: {body}");
        assert_eq!(problem_type(&body), "directory-unreachable", "{body}");
        let last = logins(&node).await.pop().unwrap();
        assert_eq!(last.1["reason"], "unreachable", "{name}: {last:?}");
        assert_eq!(last.1["user_provider"], "down", "{last:?}");
        assert_eq!(unchanged_counts(&node).await, before, "{name}");
        // The status names the error; the test route says it too.
        let (_, status) = node.get("/api/v1/providers/down/status", &admin).await;
        assert!(
            status["last_error"]
                .as_str()
                .unwrap()
                .contains("cannot be reached"),
            "{status}"
        );
        let (code, body) = node.post_empty("/api/v1/providers/down/test", &admin).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{name}: {body}");
        // Rampart's own administrator still signs in.
        node.login("it", "admin", ADMIN_PASSWORD).await;
    })
    .await;
}

fn require_idp(config: &mut rampart_service::Config) {
    config.sign_in.it_provider = "idp".into();
    config.sign_in.end_provider = "idp".into();
    config.sign_in.break_glass = "admin".into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_provider_replaces_the_password_form_except_for_break_glass_administrators() {
    on_both(require_idp, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_provider(&node, &admin, "idp", "both", json!({})).await;
        let other = add_provider(&node, &admin, "other", "both", json!({})).await;
        assert!(!other.is_empty());

        let page = browser()
            .get(format!("{}/console/login", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("name=\"password\""),
            "{name}: no password form"
        );
        assert!(page.contains("/api/v1/providers/idp/oidc/start"), "{name}");
        assert!(
            !page.contains("/api/v1/providers/other/oidc/start"),
            "{name}"
        );
        assert!(
            page.contains("/console/login?local=1"),
            "{name}: the break-glass link"
        );
        let page = browser()
            .get(format!("{}/console/login?local=1", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("name=\"password\""),
            "{name}: the break-glass form"
        );

        // A local IT user who is not a break-glass administrator is refused, audited.
        node.create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        let r = node.login_response("it", "dev", USER_PASSWORD).await;
        let (status, _, body) = problem(r).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("idp"), "{body}");
        let last = logins(&node).await.pop().unwrap();
        assert_eq!(last.1["reason"], "provider-required", "{last:?}");
        node.create_user(Provider::End, "carla", USER_PASSWORD, false)
            .await;
        let r = node.login_response("end", "carla", USER_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        // The break-glass administrator signs in with the password.
        node.login("it", "admin", ADMIN_PASSWORD).await;
        // Another provider is refused for these users; the required one works.
        let r = start(&node, &browser(), "other", "kind=it").await;
        assert_eq!(problem(r).await.0, StatusCode::FORBIDDEN, "{name}");
        let (_, answer, _) = sign_in(&node, "idp", "kind=it", "bob").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");

        // A disabled provider is neither offered nor accepted.
        let (status, body) = node
            .patch("/api/v1/providers/idp", &admin, json!({ "enabled": false }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["enabled"], false, "{body}");
        let r = start(&node, &browser(), "idp", "kind=it").await;
        assert_eq!(problem(r).await.0, StatusCode::FORBIDDEN, "{name}");
        let page = browser()
            .get(format!("{}/console/login", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!page.contains("/api/v1/providers/idp/oidc/start"), "{name}");
        let update = node
            .events()
            .await
            .into_iter()
            .rev()
            .find(|e| e.action == "provider.update")
            .unwrap();
        assert!(update.details.contains("enabled"), "{}", update.details);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_linked_by_a_verified_email_only_when_configured() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_provider(
            &node,
            &admin,
            "idp",
            "end",
            json!({ "link_by_verified_email": true }),
        )
        .await;
        let (status, body) = node
            .post(
                "/api/v1/users",
                &admin,
                json!({ "provider": "end", "username": "alice-local",
                        "password": USER_PASSWORD, "email": "alice@rampart.test" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");

        // Mallory claims alice's address without the provider verifying it: no link, a
        // profile of her own.
        let (b, answer, _) = sign_in(&node, "idp", "return=/apps/dev/crm/", "mallory").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");
        let (_, who) = me(&node, &b).await;
        assert_eq!(who["user"]["username"], "mallory", "{name}: {who}");
        assert!(
            who["user"]["email"].is_null(),
            "{name}: an unverified e-mail is not kept"
        );

        // Alice's verified address links her local account, once.
        for _ in 0..2 {
            let (b, answer, _) = sign_in(&node, "idp", "return=/apps/dev/crm/", "alice").await;
            assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");
            let (_, who) = me(&node, &b).await;
            assert_eq!(who["user"]["username"], "alice-local", "{name}: {who}");
        }
        let links: Vec<_> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "user.link")
            .collect();
        assert_eq!(links.len(), 1, "{name}");
        assert!(
            links[0].details.contains("verified-email"),
            "{}",
            links[0].details
        );
    })
    .await;
}

/// ID tokens handed to the client directly (minted by the provider outside a flow): only a
/// token for this client, from this issuer, signed with a published key and an asymmetric
/// algorithm, fresh, with the nonce sent, is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_are_held_to_the_keys_issuer_audience_time_and_nonce() {
    let p = peer();
    let client_id = p.var("CLIENT_ID").to_owned();
    let settings: OidcSettings = serde_json::from_value(json!({
        "issuer": p.issuer(),
        "ca_certificate": p.ca(),
        "client_id": client_id,
        "client_secret": "env:UNUSED",
    }))
    .unwrap();
    let client = OidcClient::new(
        settings,
        "unused".into(),
        std::sync::Arc::new(Discovery::default()),
    )
    .unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mint = |spec: Value| async move {
        p.admin(Method::POST, "/id-token", spec).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let verify = |token: String, nonce: &'static str| {
        let client = &client;
        async move { client.verify_id_token(&token, nonce, now).await }
    };
    let good = verify(mint(json!({ "nonce": "n-1" })).await, "n-1")
        .await
        .unwrap();
    assert_eq!(good.user.username, "alice");
    assert_eq!(good.claims["aud"], client_id.as_str());
    for (spec, nonce, reason) in [
        (
            json!({ "nonce": "n-1", "aud": "rampart-other" }),
            "n-1",
            "wrong-audience",
        ),
        (
            json!({ "nonce": "n-1", "aud": ["rampart", "stranger"] }),
            "n-1",
            "wrong-audience",
        ),
        (json!({ "nonce": "n-2" }), "n-1", "nonce-mismatch"),
        (json!({}), "n-1", "nonce-mismatch"),
        (
            json!({ "nonce": "n-1", "iat_offset": -7200, "lifetime": 3600 }),
            "n-1",
            "token-expired",
        ),
        (
            json!({ "nonce": "n-1", "iat_offset": 600 }),
            "n-1",
            "issued-at-out-of-range",
        ),
        (
            // Its own lifetime: another test may shorten the shared provider's default.
            json!({ "nonce": "n-1", "iat_offset": -1800, "lifetime": 7200 }),
            "n-1",
            "issued-at-out-of-range",
        ),
        (
            json!({ "nonce": "n-1", "iss": "https://evil.example" }),
            "n-1",
            "wrong-issuer",
        ),
        (
            json!({ "nonce": "n-1", "key": "foreign" }),
            "n-1",
            "unknown-key",
        ),
        (
            json!({ "nonce": "n-1", "alg": "HS256" }),
            "n-1",
            "disallowed-algorithm",
        ),
        (
            json!({ "nonce": "n-1", "omit": ["preferred_username"] }),
            "n-1",
            "missing-claim",
        ),
    ] {
        let token = mint(spec.clone()).await;
        let e = verify(token, nonce).await.unwrap_err();
        assert_eq!(e.reason(), reason, "{spec}: {e}");
    }
    // An unsigned token: refused whether its form or its algorithm is read first.
    let e = verify(mint(json!({ "nonce": "n-1", "alg": "none" })).await, "n-1")
        .await
        .unwrap_err();
    assert!(
        ["disallowed-algorithm", "malformed-token"].contains(&e.reason()),
        "{e}"
    );
    // Not a token at all.
    let e = verify("not.a.token".into(), "n-1").await.unwrap_err();
    assert_eq!(e.reason(), "malformed-token", "{e}");
    // A rotation at the provider: the new key verifies after one fetch of the keys.
    p.admin(Method::POST, "/keys/rotate", json!({})).await;
    let rotated = verify(mint(json!({ "nonce": "n-3", "alg": "ES256" })).await, "n-3").await;
    assert!(rotated.is_ok(), "{rotated:?}");
}
