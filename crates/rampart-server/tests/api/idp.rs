//! Rampart as an OpenID Connect provider, end to end over HTTPS on loopback, on both
//! stores: two certified relying-party libraries as clients (the npm package
//! `openid-client`, run by `scripts/peers/oidc-rp.sh`, and the Rust `openidconnect` crate),
//! and hand-built requests for what a library would never send (unregistered or
//! prefix-matching redirect URIs, wrong verifiers, replayed codes and refresh tokens, wrong
//! secrets, expired and other-audience tokens). Every refusal must be in the audit trail,
//! change nothing and open no session; no secret may appear in an event.

use std::process::Command;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};
use rampart_core::Provider;
use rampart_idp::jwt::{Alg, SigningKey};
use rampart_idp::pkce::challenge_of;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, Node, USER_PASSWORD};

pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const RP: &str = "https://rp.example/callback";
const RP_LOGOUT: &str = "https://rp.example/signed-out";

/// Registers a client as `admin`; its id and secret (`None` for a public client).
pub(crate) async fn register(node: &Node, admin: &str, body: Value) -> (String, Option<String>) {
    let (status, answer) = node.post("/api/v1/idp/clients", admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {answer}", node.name());
    (
        answer["client"]["client_id"].as_str().unwrap().to_owned(),
        answer["client_secret"].as_str().map(str::to_owned),
    )
}

/// A confidential first-party client of `RP`.
pub(crate) async fn wiki(node: &Node, admin: &str) -> (String, String) {
    let (id, secret) = register(
        node,
        admin,
        json!({ "client_id": "wiki", "name": "Wiki", "first_party": true,
                "redirect_uris": [RP], "post_logout_redirect_uris": [RP_LOGOUT] }),
    )
    .await;
    (id, secret.unwrap())
}

/// Signs `user` in as an end user; the session cookie's `name=value`.
pub(crate) async fn session(node: &Node, user: &str) -> String {
    let response = node.login_response("end", user, USER_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `GET /oauth2/authorize?…` with the session cookie (if any).
pub(crate) async fn authorize(
    node: &Node,
    cookie: Option<&str>,
    pairs: &[(&str, &str)],
) -> Response {
    let mut request = node
        .client
        .get(format!("{}/oauth2/authorize?{}", node.base, query(pairs)));
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    request.send().await.unwrap()
}

pub(crate) fn code_request<'a>(
    client: &'a str,
    redirect: &'a str,
    challenge: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

pub(crate) fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query parameter `name` of URL `url`.
pub(crate) fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A code for `client` through the user's session.
async fn code(node: &Node, cookie: &str, client: &str) -> String {
    let challenge = challenge_of(VERIFIER);
    let r = authorize(node, Some(cookie), &code_request(client, RP, &challenge)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", node.name());
    let to = location(&r);
    assert!(to.starts_with(RP), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&to, "iss").as_deref(), Some(node.base.as_str()));
    param(&to, "code").unwrap()
}

/// `POST /oauth2/<endpoint>` with Basic credentials `auth` and `form`.
pub(crate) async fn post_form(
    node: &Node,
    endpoint: &str,
    auth: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = node
        .client
        .post(format!("{}/oauth2/{endpoint}", node.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(form));
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn userinfo(node: &Node, token: &str) -> (StatusCode, Value) {
    let response = node
        .client
        .get(format!("{}/oauth2/userinfo", node.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The events of `action` with `outcome`, and every event's details as one text.
pub(crate) async fn events(node: &Node, action: &str, outcome: &str) -> (usize, String) {
    let all = node.events().await;
    let n = all
        .iter()
        .filter(|e| e.action == action && e.outcome == outcome)
        .count();
    let text = all
        .iter()
        .map(|e| e.details.clone())
        .collect::<Vec<_>>()
        .join("\n");
    (n, text)
}

/// How many sessions are open.
async fn open_sessions(node: &Node) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| e.action == "auth.login" && e.outcome == "success")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_refreshes_detects_a_replay_and_logs_out() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        node.create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, secret) = wiki(&node, &admin).await;
        let cookie = session(&node, "alice").await;
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("secret");
        let cookie_file = dir.path().join("cookie");
        std::fs::write(&secret_file, &secret).unwrap();
        std::fs::write(&cookie_file, &cookie).unwrap();
        let ca = node.server().state.config.data_dir.join("tls/dev-cert.pem");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/peers/oidc-rp.sh"
        );
        let output = Command::new("bash")
            .arg(script)
            .env("RP_ISSUER", &node.base)
            .env("RP_CA", &ca)
            .env("RP_CLIENT_ID", &id)
            .env("RP_CLIENT_SECRET_FILE", &secret_file)
            .env("RP_REDIRECT_URI", RP)
            .env("RP_LOGOUT_URI", RP_LOGOUT)
            .env("RP_COOKIE_FILE", &cookie_file)
            .output()
            .expect("scripts/peers/oidc-rp.sh runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let seen: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!(
                "{name}: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        assert!(seen.get("failed").is_none(), "{name}: {seen}");
        assert_eq!(seen["discovery"]["issuer"], node.base.as_str());
        assert_eq!(seen["discovery"]["pkce"], json!(["S256"]));
        assert_eq!(seen["authorize"]["status"], 303);
        assert_eq!(seen["authorize"]["to_redirect_uri"], true);
        assert_eq!(seen["id_token"]["aud"], "wiki");
        // The library's default algorithm, which the client was registered with by default.
        assert_eq!(seen["id_token"]["alg"], "RS256", "{name}: {seen}");
        assert_eq!(
            seen["discovery"]["algs"],
            json!(["RS256", "ES256"]),
            "{name}"
        );
        assert_eq!(seen["id_token"]["nonce_ok"], true);
        assert_eq!(seen["id_token"]["preferred_username"], "alice");
        assert_eq!(
            seen["userinfo"]["preferred_username"], "alice",
            "{name}: {seen}"
        );
        assert_eq!(seen["refreshed"]["rotated"], true, "{name}: {seen}");
        assert_eq!(seen["replay"], "invalid_grant", "{name}: {seen}");
        assert_eq!(seen["after_replay"], "invalid_grant", "{name}: {seen}");
        assert!(!seen["userinfo_after_replay"].is_null(), "{name}: {seen}");
        assert_eq!(seen["logout"]["status"], 303, "{name}: {seen}");
        assert_eq!(
            seen["logout"]["location"],
            format!("{RP_LOGOUT}?state=bye"),
            "{name}: {seen}"
        );
        // The logout ended the Rampart session.
        let me = node
            .client
            .get(format!("{}/api/v1/auth/me", node.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "{name}");

        let (tokens, details) = events(&node, "idp.token", "success").await;
        assert_eq!(tokens, 2, "{name}: a code grant and one rotation");
        assert_eq!(events(&node, "idp.authorize", "success").await.0, 1);
        assert_eq!(
            events(&node, "idp.revoke", "success").await.0,
            1,
            "{name}: the family"
        );
        assert!(events(&node, "idp.token", "failure").await.0 >= 2, "{name}");
        assert_eq!(events(&node, "idp.logout", "success").await.0, 1);
        assert_eq!(events(&node, "auth.logout", "success").await.0, 1);
        for s in seen["secrets"].as_array().unwrap() {
            assert!(
                !details.contains(s.as_str().unwrap()),
                "{name}: a token in the audit trail"
            );
        }
        assert!(
            !details.contains(&secret),
            "{name}: the client secret in the audit trail"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openidconnect_crate_signs_in_and_a_service_gets_client_credentials() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        node.create_user(Provider::End, "bob", USER_PASSWORD, false).await;
        // A client registered for ES256 ID tokens (RS256 is the default).
        let (id, secret) = register(
            &node,
            &admin,
            json!({ "client_id": "wiki", "name": "Wiki", "first_party": true,
                    "redirect_uris": [RP], "id_token_signed_response_alg": "ES256" }),
        )
        .await;
        let secret = secret.unwrap();
        let cookie = session(&node, "bob").await;
        let http = Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(node.base.clone()).unwrap(), &http)
            .await
            .unwrap();
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new(id.clone()), Some(ClientSecret::new(secret.clone())))
            .set_redirect_uri(RedirectUrl::new(RP.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let back = http.get(url.as_str()).header("cookie", &cookie).send().await.unwrap();
        let to = location(&back);
        assert_eq!(param(&to, "state").as_deref(), Some(csrf.secret().as_str()), "{name}");
        let tokens = client
            .exchange_code(AuthorizationCode::new(param(&to, "code").unwrap()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        let id_verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        let id_token = tokens.id_token().unwrap();
        let claims = id_token.claims(&id_verifier, &nonce).unwrap();
        assert_eq!(claims.preferred_username().unwrap().as_str(), "bob", "{name}");
        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(info.preferred_username().unwrap().as_str(), "bob");
        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert_ne!(refreshed.refresh_token().unwrap().secret(), tokens.refresh_token().unwrap().secret());

        // A service: client credentials with the same library, then introspection by it.
        let (svc, svc_secret) = register(&node, &admin, json!({ "client_id": "billing", "name": "Billing", "kind": "service", "scopes": ["profile"] })).await;
        let svc_secret = svc_secret.unwrap();
        let service = CoreClient::from_provider_metadata(
            CoreProviderMetadata::discover_async(IssuerUrl::new(node.base.clone()).unwrap(), &http).await.unwrap(),
            ClientId::new(svc.clone()),
            Some(ClientSecret::new(svc_secret.clone())),
        );
        let granted = service.exchange_client_credentials().unwrap().request_async(&http).await.unwrap();
        assert!(granted.refresh_token().is_none() && granted.id_token().is_none());
        let (status, active) = post_form(&node, "introspect", Some((&svc, &svc_secret)), &[("token", granted.access_token().secret())]).await;
        assert_eq!(status, StatusCode::OK, "{name}: {active}");
        assert_eq!(active["active"], true, "{name}: {active}");
        assert_eq!(active["sub"], "billing");
        // A service token speaks of no user: userinfo refuses it.
        assert_eq!(userinfo(&node, granted.access_token().secret()).await.0, StatusCode::UNAUTHORIZED);
        // Revoked (RFC 7009), it is inactive.
        let (status, _) = post_form(&node, "revoke", Some((&svc, &svc_secret)), &[("token", granted.access_token().secret())]).await;
        assert_eq!(status, StatusCode::OK);
        let (_, after) = post_form(&node, "introspect", Some((&svc, &svc_secret)), &[("token", granted.access_token().secret())]).await;
        assert_eq!(after, json!({ "active": false }), "{name}");
        // Another client's token is inactive to the service, and the wiki's own view of it is not.
        let wiki_token = refreshed.access_token().secret();
        let (_, other) = post_form(&node, "introspect", Some((&svc, &svc_secret)), &[("token", wiki_token)]).await;
        assert_eq!(other, json!({ "active": false }), "{name}");
        let (_, own) = post_form(&node, "introspect", Some((&id, &secret)), &[("token", wiki_token)]).await;
        assert_eq!(own["active"], true, "{name}: {own}");
        assert!(events(&node, "idp.introspect", "failure").await.0 >= 2, "{name}");
        let (_, details) = events(&node, "idp.token", "success").await;
        assert!(!details.contains(&svc_secret) && !details.contains(granted.access_token().secret()));
    })
    .await;
}

/// A client-credentials access token.
async fn service_token(node: &Node, id: &str, secret: &str) -> String {
    let (_, body) = post_form(
        node,
        "token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    body["access_token"].as_str().unwrap().to_owned()
}

/// The node's clock set to the real time: relying-party libraries check tokens' times
/// against their own clock.
fn real_time(node: &Node) {
    use rampart_core::Clock as _;
    let now = time::OffsetDateTime::now_utc();
    node.clock.advance(now - node.clock.now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_requests_with_untrusted_redirects_or_without_pkce_are_refused_and_audited() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, _) = wiki(&node, &admin).await;
        let cookie = session(&node, "alice").await;
        let challenge = challenge_of(VERIFIER);
        let sessions = open_sessions(&node).await;
        // Unregistered, prefix-matching and look-alike redirect URIs: an error page, no
        // redirect anywhere.
        for bad in [
            "https://evil.example/callback",
            "https://rp.example/callback/../evil",
            "https://rp.example/callbackx",
            "https://rp.example/callback/more",
            "https://rp.example/callback?next=https://evil.example",
            "https://rp.example/",
        ] {
            let r = authorize(&node, Some(&cookie), &code_request(&id, bad, &challenge)).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}: {bad}");
            assert!(r.headers().get("location").is_none(), "{name}: {bad}");
            let page = r.text().await.unwrap();
            assert!(page.contains("must match exactly"), "{name}: {page}");
        }
        let r = authorize(
            &node,
            Some(&cookie),
            &code_request("nobody", RP, &challenge),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // Without PKCE, with `plain`, or another response type: back to the client with the
        // error, no code.
        let mut no_pkce = code_request(&id, RP, &challenge);
        no_pkce.retain(|(k, _)| !k.starts_with("code_challenge"));
        let mut plain = code_request(&id, RP, &challenge);
        plain.retain(|(k, _)| *k != "code_challenge_method");
        plain.push(("code_challenge_method", "plain"));
        let mut implicit = code_request(&id, RP, &challenge);
        implicit.retain(|(k, _)| *k != "response_type");
        implicit.push(("response_type", "token"));
        // Parameters asked for and not served are errors, not ignored.
        let mut fragment = code_request(&id, RP, &challenge);
        fragment.push(("response_mode", "fragment"));
        let mut object = code_request(&id, RP, &challenge);
        object.push(("request", "eyJhbGciOiJub25lIn0.e30."));
        for (pairs, error) in [
            (no_pkce, "invalid_request"),
            (plain, "invalid_request"),
            (implicit, "unsupported_response_type"),
            (fragment, "invalid_request"),
            (object, "request_not_supported"),
        ] {
            let r = authorize(&node, Some(&cookie), &pairs).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
            let to = location(&r);
            assert!(to.starts_with(RP), "{to}");
            assert_eq!(param(&to, "error").as_deref(), Some(error), "{name}: {to}");
            assert!(param(&to, "code").is_none());
            // The issuer on errors too (RFC 9207), as on a code.
            assert_eq!(
                param(&to, "iss").as_deref(),
                Some(node.base.as_str()),
                "{name}: {to}"
            );
        }
        // No session: to the provider's sign-in page (the client's users are end users),
        // coming back to the same request.
        let r = authorize(&node, None, &code_request(&id, RP, &challenge)).await;
        let to = location(&r);
        assert!(
            to.starts_with("/oauth2/login?return=%2Foauth2%2Fauthorize%3F")
                || to.starts_with("/oauth2/login?return=/oauth2/authorize"),
            "{name}: {to}"
        );
        let mut silent = code_request(&id, RP, &challenge);
        silent.push(("prompt", "none"));
        let to = location(&authorize(&node, None, &silent).await);
        assert_eq!(
            param(&to, "error").as_deref(),
            Some("login_required"),
            "{name}"
        );

        assert_eq!(
            events(&node, "idp.authorize", "success").await.0,
            0,
            "{name}: no code issued"
        );
        assert!(
            events(&node, "idp.authorize", "failure").await.0 >= 11,
            "{name}"
        );
        assert_eq!(
            open_sessions(&node).await,
            sessions,
            "{name}: no session opened"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_refresh_tokens_are_single_use_and_replays_revoke_what_they_issued() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, secret) = wiki(&node, &admin).await;
        let cookie = session(&node, "alice").await;
        let auth = Some((id.as_str(), secret.as_str()));
        let exchange = |code: String, verifier: Option<&'static str>| {
            let node = &node;
            async move {
                let mut form = vec![
                    ("grant_type", "authorization_code".to_owned()),
                    ("code", code),
                    ("redirect_uri", RP.to_owned()),
                ];
                if let Some(v) = verifier {
                    form.push(("code_verifier", v.to_owned()));
                }
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post_form(node, "token", auth, &form).await
            }
        };
        // Missing and wrong verifiers; the code is spent either way.
        for verifier in [None, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK")] {
            let c = code(&node, &cookie, &id).await;
            let (status, body) = exchange(c.clone(), verifier).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(body["error"], "invalid_grant", "{name}: {body}");
            assert!(body["error_description"].is_string());
            assert_eq!(
                exchange(c, Some(VERIFIER)).await.1["error"],
                "invalid_grant"
            );
        }
        // A wrong client secret.
        let c = code(&node, &cookie, &id).await;
        let (status, body) = post_form(
            &node,
            "token",
            Some((&id, "rcs_wrong")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &c),
                ("redirect_uri", RP),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(body["error"], "invalid_client");
        // A good exchange, then the same code again: refused, and what it issued revoked.
        let c = code(&node, &cookie, &id).await;
        let (status, tokens) = exchange(c.clone(), Some(VERIFIER)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {tokens}");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(userinfo(&node, &access).await.0, StatusCode::OK);
        let (status, body) = exchange(c, Some(VERIFIER)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{name}"
        );
        let (status, body) = userinfo(&node, &access).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(body["error"], "invalid_token");
        let (_, body) = post_form(
            &node,
            "token",
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(
            body["error"], "invalid_grant",
            "{name}: the family is revoked"
        );

        // Refresh rotation: the rotated-away token presented again revokes the family.
        let c = code(&node, &cookie, &id).await;
        let (_, tokens) = exchange(c, Some(VERIFIER)).await;
        let first = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (status, next) = post_form(
            &node,
            "token",
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {next}");
        let second = next["refresh_token"].as_str().unwrap().to_owned();
        let (_, replay) = post_form(
            &node,
            "token",
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        )
        .await;
        assert_eq!(replay["error"], "invalid_grant", "{name}");
        let (_, after) = post_form(
            &node,
            "token",
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &second)],
        )
        .await;
        assert_eq!(
            after["error"], "invalid_grant",
            "{name}: the newest token is revoked too"
        );
        assert_eq!(
            userinfo(&node, next["access_token"].as_str().unwrap())
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        let (_, introspected) = post_form(&node, "introspect", auth, &[("token", &second)]).await;
        assert_eq!(introspected, json!({ "active": false }));

        // Expired and other-audience tokens at userinfo and introspection.
        let c = code(&node, &cookie, &id).await;
        let (_, tokens) = exchange(c, Some(VERIFIER)).await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let id_token = tokens["id_token"].as_str().unwrap().to_owned();
        assert_eq!(
            userinfo(&node, &id_token).await.0,
            StatusCode::UNAUTHORIZED,
            "{name}: an ID token is not an access token"
        );
        assert_eq!(
            post_form(&node, "introspect", auth, &[("token", &id_token)])
                .await
                .1,
            json!({ "active": false })
        );
        node.clock.advance(time::Duration::minutes(6));
        let (status, body) = userinfo(&node, &access).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{body}"
        );
        assert_eq!(
            post_form(&node, "introspect", auth, &[("token", &access)])
                .await
                .1,
            json!({ "active": false })
        );

        assert!(events(&node, "idp.token", "failure").await.0 >= 6, "{name}");
        assert_eq!(
            events(&node, "idp.client.auth", "failure").await.0,
            1,
            "{name}"
        );
        assert!(
            events(&node, "idp.userinfo", "failure").await.0 >= 4,
            "{name}"
        );
        assert!(
            events(&node, "idp.revoke", "success").await.0 >= 2,
            "{name}"
        );
        let (_, details) = events(&node, "idp.token", "failure").await;
        assert!(
            !details.contains(&first) && !details.contains(&secret) && !details.contains("rpc_"),
            "{name}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_clients_ask_consent_once_and_administrators_manage_clients_and_keys() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "carol", USER_PASSWORD, false)
            .await;
        let user_token = node.login("end", "carol", USER_PASSWORD).await;
        // Only administrators register clients; bad settings are refused.
        let body = json!({ "client_id": "forum", "name": "Forum", "redirect_uris": [RP] });
        assert_eq!(
            node.post("/api/v1/idp/clients", &user_token, body.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        for bad in [
            json!({ "client_id": "Bad Id", "name": "x", "redirect_uris": [RP] }),
            json!({ "client_id": "x", "name": "x", "redirect_uris": ["http://rp.example/cb"] }),
            json!({ "client_id": "x", "name": "x", "redirect_uris": ["https://rp.example/cb#f"] }),
            json!({ "client_id": "x", "name": "x", "redirect_uris": [] }),
            json!({ "client_id": "x", "name": "x", "redirect_uris": [RP], "scopes": ["admin"] }),
            json!({ "client_id": "x", "name": "x", "redirect_uris": [RP], "kind": "implicit" }),
        ] {
            let (status, problem) = node.post("/api/v1/idp/clients", &admin, bad.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {bad} → {problem}"
            );
        }
        let (id, secret) = register(&node, &admin, body.clone()).await;
        let secret = secret.unwrap();
        assert_eq!(
            node.post("/api/v1/idp/clients", &admin, body).await.0,
            StatusCode::CONFLICT
        );
        let (_, listed) = node.get("/api/v1/idp/clients", &admin).await;
        assert_eq!(listed["clients"][0]["client_id"], "forum", "{name}");
        assert!(
            !listed.to_string().contains(&secret),
            "{name}: the list shows no secret"
        );

        // A third-party client: a consent page, answered once, remembered.
        let cookie = session(&node, "carol").await;
        let challenge = challenge_of(VERIFIER);
        let pairs = code_request(&id, RP, &challenge);
        let page = authorize(&node, Some(&cookie), &pairs).await;
        assert_eq!(page.status(), StatusCode::OK, "{name}");
        let csrf_cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.contains("csrf"))
            .unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains("Allow Forum"), "{html}");
        let csrf = html
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let post = |decision: &'static str, csrf: String| {
            let node = &node;
            let cookies = format!("{cookie}; {csrf_cookie}");
            let mut form: Vec<(&str, String)> =
                pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            form.push(("_csrf", csrf));
            form.push(("decision", decision.to_owned()));
            async move {
                node.client
                    .post(format!("{}/oauth2/authorize", node.base))
                    .header("cookie", cookies)
                    .header("origin", &node.base)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            post("allow", "forged".into()).await.status(),
            StatusCode::FORBIDDEN,
            "{name}: no CSRF token"
        );
        let denied = location(&post("deny", csrf.clone()).await);
        assert_eq!(
            param(&denied, "error").as_deref(),
            Some("access_denied"),
            "{name}"
        );
        let allowed = location(&post("allow", csrf).await);
        assert!(param(&allowed, "code").is_some(), "{name}: {allowed}");
        // Remembered: the next request goes straight back with a code.
        let again = authorize(&node, Some(&cookie), &pairs).await;
        assert_eq!(again.status(), StatusCode::SEE_OTHER, "{name}");
        assert!(param(&location(&again), "code").is_some());
        assert_eq!(events(&node, "idp.consent", "success").await.0, 1, "{name}");
        assert_eq!(
            events(&node, "idp.consent", "failure").await.0,
            2,
            "{name}: the forged form and the refusal"
        );

        // Key rotation: published at once, signing ten minutes later.
        let jwks = |node: &Node| {
            let url = format!("{}/oauth2/jwks", node.base);
            let client = node.client.clone();
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        // One key per algorithm: RS256 for ID tokens by default, ES256 for access tokens.
        let before = jwks(&node).await;
        let algs: Vec<&str> = before["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["alg"].as_str().unwrap())
            .collect();
        assert_eq!(algs.len(), 2, "{name}: {before}");
        assert!(
            algs.contains(&"RS256") && algs.contains(&"ES256"),
            "{name}: {before}"
        );
        let es = |keys: &Value| {
            keys["keys"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["alg"] == "ES256")
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let old_kid = es(&before)[0].clone();
        // Without a master key the private keys are stored as they are (SECURITY.md).
        use rampart_core::Clock as _;
        let stored = node
            .server()
            .state
            .store
            .idp_keys(node.clock.now())
            .await
            .unwrap();
        assert!(stored.iter().all(|k| !k.sealed), "{name}");
        assert_eq!(
            node.post_empty("/api/v1/idp/keys/rotate", &user_token)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (status, rotated) = node.post_empty("/api/v1/idp/keys/rotate", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {rotated}");
        // A new key of each algorithm, published beside the old ones.
        assert_eq!(
            jwks(&node).await["keys"].as_array().unwrap().len(),
            4,
            "{name}"
        );
        let kid_of = |token: &str| {
            use base64::Engine as _;
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap();
            serde_json::from_slice::<Value>(&header).unwrap()["kid"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (svc, svc_secret) = register(
            &node,
            &admin,
            json!({ "client_id": "batch", "name": "Batch", "kind": "service" }),
        )
        .await;
        let svc_secret = svc_secret.unwrap();
        assert_eq!(
            kid_of(&service_token(&node, &svc, &svc_secret).await),
            old_kid,
            "{name}: the old key signs until the new one's time"
        );
        node.clock.advance(time::Duration::minutes(11));
        let new_token = service_token(&node, &svc, &svc_secret).await;
        assert_ne!(kid_of(&new_token), old_kid, "{name}: the new key signs");
        assert_eq!(
            post_form(
                &node,
                "introspect",
                Some((&svc, &svc_secret)),
                &[("token", &new_token)]
            )
            .await
            .1["active"],
            true
        );
        assert_eq!(
            events(&node, "idp.key.rotate", "success").await.0,
            2,
            "{name}: one per algorithm"
        );

        // Secret rotation and removal.
        let (status, rotated) = node
            .post_empty(&format!("/api/v1/idp/clients/{svc}/secret"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(rotated["client_secret"].as_str().unwrap(), svc_secret);
        let (status, body) = post_form(
            &node,
            "token",
            Some((&svc, &svc_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{name}"
        );
        assert_eq!(
            node.delete(&format!("/api/v1/idp/clients/{id}"), &admin)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            node.get(&format!("/api/v1/idp/clients/{id}"), &admin)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (_, details) = events(&node, "idp.client.create", "success").await;
        assert!(
            !details.contains(&secret) && !details.contains(&svc_secret),
            "{name}"
        );
        assert_eq!(events(&node, "idp.client.delete", "success").await.0, 1);
        let _ = node
            .request(Method::GET, "/api/v1/auth/me", Some(&admin), None)
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_an_it_user_signs_in_on_the_consoles_page_and_comes_back_with_a_code() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        // A client of IT users: they sign in on the console's page.
        let (id, _) = register(
            &node,
            &admin,
            json!({ "client_id": "grafana", "name": "Grafana", "users": "it",
                    "first_party": true, "redirect_uris": [RP] }),
        )
        .await;
        let challenge = challenge_of(VERIFIER);
        let r = authorize(&node, None, &code_request(&id, RP, &challenge)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        let sign_in = location(&r);
        // The sign-in page carries the authorization request as its return address.
        let page = node
            .client
            .get(format!("{}{sign_in}", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{name}");
        let csrf_cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.contains("csrf"))
            .unwrap();
        let html = page.text().await.unwrap();
        let field = |name: &str| {
            html.split(&format!("name=\"{name}\" value=\""))
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&")
                .replace("&#38;", "&")
                .replace("&#x3D;", "=")
                .replace("&#61;", "=")
                .replace("&#x2F;", "/")
                .replace("&#47;", "/")
        };
        let back = field("return");
        assert!(
            back.starts_with("/oauth2/authorize?") && !back.contains("&#"),
            "{name}: {back}"
        );
        let signed_in = node
            .client
            .post(format!("{}/console/login", node.base))
            .header("cookie", &csrf_cookie)
            .header("origin", &node.base)
            .form(&[
                ("_csrf", field("_csrf").as_str()),
                ("return", back.as_str()),
                ("username", "admin"),
                ("password", crate::kit::ADMIN_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(location(&signed_in), back, "{name}: back to the request");
        let session = signed_in.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let r = node
            .client
            .get(format!("{}{back}", node.base))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let to = location(&r);
        assert!(
            to.starts_with(RP) && param(&to, "code").is_some(),
            "{name}: {to}"
        );
        // An off-site or console-escaping return address is not followed.
        let evil = node
            .client
            .get(format!(
                "{}/console/login?return=%2Foauth2%2Fauthorizex%2F..%2F..%2Fevil",
                node.base
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!evil.contains("authorizex"), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_signing_key_needs_a_recent_second_factor() {
    use rampart_core::Clock as _;
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        node.create_user(Provider::It, "root", crate::kit::ADMIN_PASSWORD, true)
            .await;
        let root = node.login("it", "root", crate::kit::ADMIN_PASSWORD).await;
        let (secret, _) = crate::mfa::enrol(&node, &root).await;
        // Enrolling counts as a second factor for ten minutes; past them, a step-up first.
        node.clock.advance(time::Duration::minutes(11));
        let (status, body) = node.post_empty("/api/v1/idp/keys/rotate", &root).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert_eq!(
            crate::kit::problem_type(&body),
            "step-up-required",
            "{name}"
        );
        let (_, keys) = node.get("/api/v1/idp/keys", &root).await;
        assert_eq!(
            keys["keys"].as_array().unwrap().len(),
            2,
            "{name}: nothing rotated (one key per algorithm)"
        );
        let now = node.clock.now().unix_timestamp();
        let code = format!(
            "{:06}",
            secret.code_at_step(rampart_identity::mfa::step_of(now))
        );
        let (status, _) = node
            .post("/api/v1/auth/step-up", &root, json!({ "code": code }))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, keys) = node.post_empty("/api/v1/idp/keys/rotate", &root).await;
        assert_eq!(status, StatusCode::OK, "{name}: {keys}");
        assert_eq!(keys["keys"].as_array().unwrap().len(), 4, "{name}");
        // With a master key, the private keys are stored sealed under it: what the database
        // holds is no key, and the provider still signs and publishes with them.
        let stored = node
            .server()
            .state
            .store
            .idp_keys(node.clock.now())
            .await
            .unwrap();
        assert_eq!(stored.len(), 4, "{name}");
        for key in &stored {
            assert!(key.sealed, "{name}: {} sealed", key.kid);
            for alg in [Alg::Es256, Alg::Rs256] {
                assert!(
                    SigningKey::from_pkcs8(&key.kid, alg, &key.private).is_err(),
                    "{name}: a plain key in the database"
                );
            }
        }
        let (status, jwks) = node.get("/oauth2/jwks", "").await;
        assert_eq!(
            (status, jwks["keys"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(4)),
            "{name}"
        );
        assert_eq!(
            events(&node, "idp.key.rotate", "success").await.0,
            2,
            "{name}: one per algorithm"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_refresh_tokens_of_that_sign_in_and_offline_ones_stay() {
    use crate::idp_refresh::refresh;
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, secret) = wiki(&node, &admin).await;
        let auth = (id.as_str(), secret.as_str());
        let grant = |cookie: String, scope: &'static str| {
            let node = &node;
            async move { crate::idp_refresh::grant(node, auth, &cookie, scope).await }
        };
        let cookie = session(&node, "alice").await;
        let online = grant(cookie.clone(), "openid profile").await;
        let offline = grant(cookie.clone(), "openid offline_access").await;
        // Someone else's logout with alice's ID token ends nothing of hers.
        let hint = online["id_token"].as_str().unwrap().to_owned();
        let logout = |cookie: Option<String>| {
            let (node, hint) = (&node, hint.clone());
            async move {
                let q = query(&[
                    ("id_token_hint", hint.as_str()),
                    ("post_logout_redirect_uri", RP_LOGOUT),
                ]);
                let mut request = node.client.get(format!("{}/oauth2/logout?{q}", node.base));
                if let Some(c) = cookie {
                    request = request.header("cookie", c);
                }
                request.send().await.unwrap().status()
            }
        };
        assert_eq!(logout(None).await, StatusCode::SEE_OTHER, "{name}");
        assert_eq!(
            refresh(&node, auth, &online).await.0,
            StatusCode::OK,
            "{name}: still live"
        );
        // Nor does it end another user's session in this browser: a page says why, and
        // the application is not told that its user signed out.
        node.create_user(Provider::End, "bob", USER_PASSWORD, false)
            .await;
        let bob = session(&node, "bob").await;
        assert_eq!(
            logout(Some(bob.clone())).await,
            StatusCode::BAD_REQUEST,
            "{name}"
        );
        let me = node
            .client
            .get(format!("{}/api/v1/auth/me", node.base))
            .header("cookie", &bob)
            .send()
            .await
            .unwrap();
        assert_eq!(
            me.status(),
            StatusCode::OK,
            "{name}: bob is still signed in"
        );

        // Alice signs out from the application: her session and that sign-in's refresh
        // tokens end; the offline grant stays.
        let online = grant(cookie.clone(), "openid profile").await;
        assert_eq!(
            logout(Some(cookie.clone())).await,
            StatusCode::SEE_OTHER,
            "{name}"
        );
        assert_eq!(
            refresh(&node, auth, &online).await.0,
            StatusCode::BAD_REQUEST,
            "{name}"
        );
        let (status, body) = userinfo(&node, online["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        // A refresh rotates the token: the next one is the answer's.
        let (status, offline) = refresh(&node, auth, &offline).await;
        assert_eq!(status, StatusCode::OK, "{name}: offline stays: {offline}");
        let logouts: Vec<Value> = node
            .events()
            .await
            .iter()
            .filter(|e| e.action == "idp.logout" && e.outcome == "success")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        let revoked: Vec<&Value> = logouts.iter().map(|d| &d["grants_revoked"]).collect();
        assert_eq!(revoked, [&json!(0), &json!(2)], "{name}: {logouts:?}");

        // Signing out everywhere ends every sign-in's refresh tokens too.
        let cookie = session(&node, "alice").await;
        let online = grant(cookie.clone(), "openid profile").await;
        let token = node.login("end", "alice", USER_PASSWORD).await;
        let (status, _) = node
            .post_empty("/api/v1/auth/logout?all=true", &token)
            .await;
        assert!(status.is_success(), "{name}: {status}");
        assert_eq!(
            refresh(&node, auth, &online).await.0,
            StatusCode::BAD_REQUEST,
            "{name}"
        );
        let (status, body) = refresh(&node, auth, &offline).await;
        assert_eq!(status, StatusCode::OK, "{name}: offline stays: {body}");
    })
    .await;
}
