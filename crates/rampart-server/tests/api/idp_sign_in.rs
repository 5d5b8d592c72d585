//! The OpenID provider's own sign-in page (`/oauth2/login`), end to end over HTTPS on
//! both stores: an application's end user with no session is sent there by the
//! authorization endpoint, signs in (password, then the two-factor app's code when they
//! have one) and comes back to the request with a code the client redeems. A session of
//! the other population never obtains a code; the page refuses what is not an
//! authorization request of a client of end users, and a form from elsewhere. An end user
//! who signs in through an identity provider gives their second factor on the same page.

use rampart_core::Provider;
use rampart_idp::pkce::challenge_of;
use reqwest::StatusCode;
use serde_json::json;

use crate::apps_screens::{pending_field, Browser, Page};
use crate::idp::{code_request, events, param, post_form, register, userinfo, RP, VERIFIER};
use crate::kit::{on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};

const SESSION: &str = "__Host-rampart_session";

/// The authorization request of `client` as a path on the node.
fn request_path(client: &str) -> String {
    let challenge = challenge_of(VERIFIER);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(code_request(client, RP, &challenge))
        .finish();
    format!("/oauth2/authorize?{query}")
}

/// The value of the hidden field `name` of a page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x3D;", "=")
        .replace("&#61;", "=")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&#37;", "%")
        .replace("&#x25;", "%")
}

/// Starts at the authorization request: the sign-in page it sends the browser to, loaded.
async fn to_sign_in(node: &Node, browser: &Browser, client: &str) -> (String, Page) {
    let name = node.name();
    let r = browser.get(&request_path(client)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{name}: {}", r.body);
    let sign_in = r.location().to_owned();
    assert!(
        sign_in.starts_with("/oauth2/login?return="),
        "{name}: {sign_in}"
    );
    let page = browser.get(&sign_in).await;
    assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
    (sign_in, page)
}

/// Posts the first step for `user` from the page.
async fn post_password(browser: &Browser, page: &Page, user: &str, password: &str) -> Page {
    let back = hidden(&page.body, "return");
    browser
        .post(
            "/oauth2/login",
            &[
                ("_csrf", &browser.csrf()),
                ("username", user),
                ("password", password),
                ("return", &back),
            ],
            None,
        )
        .await
}

/// Follows a successful sign-in back to the request: the code at the client.
async fn code_after(node: &Node, browser: &Browser, signed_in: &Page) -> String {
    let name = node.name();
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{name}: {}",
        signed_in.body
    );
    let back = signed_in.location().to_owned();
    assert!(back.starts_with("/oauth2/authorize?"), "{name}: {back}");
    let r = browser.get(&back).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{name}: {}", r.body);
    let to = r.location().to_owned();
    assert!(to.starts_with(RP), "{name}: {to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"), "{name}");
    param(&to, "code").unwrap_or_else(|| panic!("{name}: no code in {to}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_signs_in_on_the_providers_page_and_the_client_redeems_the_code() {
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let (shop, secret) = register(
            &node,
            &admin,
            json!({ "client_id": "shop", "name": "Shop", "first_party": true,
                    "redirect_uris": [RP] }),
        )
        .await;
        let secret = secret.unwrap();
        let (status, shown) = node
            .get(&format!("/api/v1/idp/clients/{shop}"), &admin)
            .await;
        assert_eq!(
            (status, shown["users"].as_str()),
            (StatusCode::OK, Some("end")),
            "{name}: end users by default: {shown}"
        );

        // The page names the client and posts to itself.
        let browser = Browser::new(&node.base);
        let (_, page) = to_sign_in(&node, &browser, &shop).await;
        assert!(
            page.body.contains("Sign in to continue to Shop."),
            "{name}: {}",
            page.body
        );
        assert!(page.body.contains("action=\"/oauth2/login\""), "{name}");

        // A wrong password: the page again, refused and recorded; no session.
        let failures = events(&node, "auth.login", "failure").await.0;
        let wrong = post_password(&browser, &page, "erin", "not-her-password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            wrong.body.contains("role=\"alert\""),
            "{name}: {}",
            wrong.body
        );
        assert!(browser.cookie(SESSION).is_none(), "{name}");
        assert_eq!(
            events(&node, "auth.login", "failure").await.0,
            failures + 1,
            "{name}"
        );
        // An IT user's password is no end user's: the same refusal.
        let it = post_password(&browser, &page, "admin", ADMIN_PASSWORD).await;
        assert_eq!(it.status, StatusCode::UNAUTHORIZED, "{name}: {}", it.body);
        assert!(browser.cookie(SESSION).is_none(), "{name}");

        // The right one: back to the request, a code, tokens for erin.
        let signed_in = post_password(&browser, &page, "erin", USER_PASSWORD).await;
        assert!(browser.cookie(SESSION).is_some(), "{name}");
        let code = code_after(&node, &browser, &signed_in).await;
        let (status, tokens) = post_form(
            &node,
            "token",
            Some((&shop, &secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", RP),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {tokens}");
        let (status, me) = userinfo(&node, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {me}");
        assert_eq!(me["preferred_username"], "erin", "{name}: {me}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_the_other_population_never_obtains_a_code() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let (shop, _) = register(
            &node,
            &admin,
            json!({ "client_id": "shop", "name": "Shop", "users": "end",
                    "first_party": true, "redirect_uris": [RP] }),
        )
        .await;
        let (grafana, _) = register(
            &node,
            &admin,
            json!({ "client_id": "grafana", "name": "Grafana", "users": "it",
                    "first_party": true, "redirect_uris": [RP] }),
        )
        .await;
        let (status, body) = node
            .post(
                "/api/v1/idp/clients",
                &admin,
                json!({ "client_id": "odd", "name": "Odd", "users": "everyone",
                        "redirect_uris": [RP] }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["field"], "users", "{name}: {body}");

        let cookie = |r: reqwest::Response| {
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        };
        let it_session = cookie(node.login_response("it", "admin", ADMIN_PASSWORD).await);
        let end_session = cookie(node.login_response("end", "erin", USER_PASSWORD).await);
        let issued = events(&node, "idp.authorize", "success").await.0;
        for (session, client, desk) in [
            (&it_session, &shop, "/oauth2/login?return="),
            (&end_session, &grafana, "/console/login?return="),
        ] {
            let r = node
                .client
                .get(format!("{}{}", node.base, request_path(client)))
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}: {client}");
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            assert!(to.starts_with(desk), "{name}: {client}: {to}");
            // Without a sign-in page, the client hears that the user must sign in.
            let silent = format!("{}&prompt=none", request_path(client));
            let r = node
                .client
                .get(format!("{}{silent}", node.base))
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            assert_eq!(
                param(&to, "error").as_deref(),
                Some("login_required"),
                "{name}: {client}: {to}"
            );
        }
        // The same sessions with their own population's client: codes.
        for (session, client) in [(&it_session, &grafana), (&end_session, &shop)] {
            let r = node
                .client
                .get(format!("{}{}", node.base, request_path(client)))
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            assert!(param(&to, "code").is_some(), "{name}: {client}: {to}");
        }
        assert_eq!(
            events(&node, "idp.authorize", "success").await.0,
            issued + 2,
            "{name}: two codes, no more"
        );

        // The page itself: only an authorization request of a client of end users.
        let browser = Browser::new(&node.base);
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        for (back, why) in [
            (String::new(), "no return address"),
            ("/console/".to_owned(), "not an authorization request"),
            (
                "https://evil.example/oauth2/authorize?client_id=shop".to_owned(),
                "off-site",
            ),
            (request_path("nobody"), "an unknown client"),
            (request_path(&grafana), "a client of IT users"),
        ] {
            let page = browser
                .get(&format!("/oauth2/login?return={}", encode(&back)))
                .await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name}: {why}");
            assert!(!page.body.contains("name=\"password\""), "{name}: {why}");
        }
        // The right page; then a form sent without its token, or from another site.
        let (_, page) = to_sign_in(&node, &browser, &shop).await;
        let back = hidden(&page.body, "return");
        let refusals = events(&node, "idp.sign_in", "failure").await.0;
        let forged = browser
            .post(
                "/oauth2/login",
                &[
                    ("username", "erin"),
                    ("password", USER_PASSWORD),
                    ("return", &back),
                ],
                None,
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{name}");
        let cross_site = browser
            .post(
                "/oauth2/login",
                &[
                    ("_csrf", &browser.csrf()),
                    ("username", "erin"),
                    ("password", USER_PASSWORD),
                    ("return", &back),
                ],
                Some("https://evil.example"),
            )
            .await;
        assert_eq!(cross_site.status, StatusCode::FORBIDDEN, "{name}");
        assert!(browser.cookie(SESSION).is_none(), "{name}");
        assert_eq!(
            events(&node, "idp.sign_in", "failure").await.0,
            refusals + 2,
            "{name}: both refusals recorded"
        );
        // A return address changed in the form is refused like one in the query.
        let moved = browser
            .post(
                "/oauth2/login",
                &[
                    ("_csrf", &browser.csrf()),
                    ("username", "erin"),
                    ("password", USER_PASSWORD),
                    ("return", "/console/"),
                ],
                None,
            )
            .await;
        assert_eq!(moved.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(browser.cookie(SESSION).is_none(), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_with_a_two_factor_app_gives_its_code_on_the_providers_page() {
    use rampart_identity::mfa::TotpSecret;
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let (shop, _) = register(
            &node,
            &admin,
            json!({ "client_id": "shop", "name": "Shop", "kind": "public",
                    "first_party": true, "redirect_uris": [RP] }),
        )
        .await;
        let token = node.login("end", "erin", USER_PASSWORD).await;
        let (status, e) = node.post("/api/v1/auth/mfa/totp", &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {e}");
        let secret = TotpSecret::from_base32(e["secret"].as_str().unwrap()).unwrap();
        let (status, body) = node
            .post(
                "/api/v1/auth/mfa/totp/confirm",
                &token,
                json!({ "code": crate::mfa::code(&node, &secret, 0) }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        node.clock.advance(time::Duration::seconds(30));

        // The password alone opens no session: the page asks for the code.
        let browser = Browser::new(&node.base);
        let (_, page) = to_sign_in(&node, &browser, &shop).await;
        let back = hidden(&page.body, "return");
        let first = post_password(&browser, &page, "erin", USER_PASSWORD).await;
        assert_eq!(first.status, StatusCode::OK, "{name}: {}", first.body);
        assert!(browser.cookie(SESSION).is_none(), "{name}");
        let pending =
            pending_field(&first.body).unwrap_or_else(|| panic!("{name}: {}", first.body));
        let answer = |code: String| {
            let (browser, pending, back) = (&browser, &pending, &back);
            async move {
                browser
                    .post(
                        "/oauth2/login",
                        &[
                            ("_csrf", &browser.csrf()),
                            ("pending", pending),
                            ("code", &code),
                            ("return", back),
                        ],
                        None,
                    )
                    .await
            }
        };
        let wrong = answer("000000".into()).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            pending_field(&wrong.body).as_deref(),
            Some(pending.as_str()),
            "{name}: asked again"
        );
        assert!(browser.cookie(SESSION).is_none(), "{name}");
        let right = answer(crate::mfa::code(&node, &secret, 0)).await;
        assert!(browser.cookie(SESSION).is_some(), "{name}");
        let code = code_after(&node, &browser, &right).await;
        // A public client redeems it with the verifier alone.
        let (status, tokens) = post_form(
            &node,
            "token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &shop),
                ("code", &code),
                ("redirect_uri", RP),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {tokens}");
        // The pending sign-in is spent: answering it again opens nothing.
        node.clock.advance(time::Duration::seconds(30));
        let again = answer(crate::mfa::code(&node, &secret, 0)).await;
        assert!(again.status.is_client_error(), "{name}: {}", again.body);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_an_identity_provider_the_second_factor_is_asked_on_the_providers_page() {
    use crate::oidc::{add_provider, authorize, browser, location, real_time};
    use rampart_identity::mfa::TotpSecret;
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        let name = node.name();
        real_time(&node);
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end", json!({})).await;
        let (shop, _) = register(
            &node,
            &admin,
            json!({ "client_id": "shop", "name": "Shop", "first_party": true,
                    "redirect_uris": [RP] }),
        )
        .await;
        // From the authorization request to the provider's page, which offers `corp`; then
        // through `corp` as bob; answers the browser and the callback's answer.
        let through_corp = || async {
            let b = browser();
            let r = b
                .get(format!("{}{}", node.base, request_path(&shop)))
                .send()
                .await
                .unwrap();
            let page = b
                .get(format!("{}{}", node.base, location(&r)))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let start = page
                .split("href=\"")
                .map(|rest| {
                    let href = rest.split('"').next().unwrap();
                    href.replace("&amp;", "&").replace("&#38;", "&")
                })
                .find(|href| href.starts_with("/api/v1/providers/corp/oidc/start"))
                .unwrap_or_else(|| panic!("{name}: corp offered: {page}"));
            let r = b.get(format!("{}{start}", node.base)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}: {start}");
            let callback = authorize(&b, &location(&r), "bob").await;
            real_time(&node);
            let answer = b.get(&callback).send().await.unwrap();
            (b, answer)
        };
        // Bob's first sign-in makes his profile and comes back to the request: a code.
        let (b, answer) = through_corp().await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{name}");
        let back = location(&answer);
        assert!(back.starts_with("/oauth2/authorize?"), "{name}: {back}");
        let session = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find_map(|c| c.strip_prefix("__Host-rampart_session=").map(str::to_owned))
            .unwrap_or_else(|| panic!("{name}: a session"));
        let r = b.get(format!("{}{back}", node.base)).send().await.unwrap();
        assert!(param(&location(&r), "code").is_some(), "{name}");

        // He sets up a two-factor app.
        let (status, e) = node
            .post("/api/v1/auth/mfa/totp", &session, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {e}");
        let secret = TotpSecret::from_base32(e["secret"].as_str().unwrap()).unwrap();
        let (status, body) = node
            .post(
                "/api/v1/auth/mfa/totp/confirm",
                &session,
                json!({ "code": crate::mfa::code(&node, &secret, 0) }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");

        // Now `corp`'s word alone opens nothing: the provider's page asks for his code.
        let (b, answer) = through_corp().await;
        assert_eq!(answer.status(), StatusCode::OK, "{name}");
        assert!(
            !answer.headers().get_all("set-cookie").iter().any(|c| c
                .to_str()
                .unwrap()
                .starts_with("__Host-rampart_session=rps")),
            "{name}: no session yet"
        );
        let page = answer.text().await.unwrap();
        assert!(
            page.contains("Sign in to continue to Shop.")
                && page.contains("action=\"/oauth2/login\""),
            "{name}: {page}"
        );
        node.clock.advance(time::Duration::seconds(30));
        let r = b
            .post(format!("{}/oauth2/login", node.base))
            .header("origin", &node.base)
            .form(&[
                ("_csrf", hidden(&page, "_csrf").as_str()),
                ("pending", hidden(&page, "pending").as_str()),
                ("return", hidden(&page, "return").as_str()),
                ("code", crate::mfa::code(&node, &secret, 0).as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        let back = location(&r);
        assert!(back.starts_with("/oauth2/authorize?"), "{name}: {back}");
        let r = b.get(format!("{}{back}", node.base)).send().await.unwrap();
        let to = location(&r);
        assert!(
            to.starts_with(RP) && param(&to, "code").is_some(),
            "{name}: {to}"
        );
    })
    .await;
}

/// The sign-in pages' CSP lets their form lead on to the client's registered redirect URI
/// (browsers apply `form-action` to the redirects after a form: without it the browser
/// never reaches the client), and to no address a request names that is not registered:
/// the provider's own page for a client of end users, the console's for one of IT users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_lets_its_form_lead_to_the_registered_redirect_uri_only() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        register(
            &node,
            &admin,
            json!({ "client_id": "shop", "name": "Shop", "first_party": true,
                    "redirect_uris": [RP] }),
        )
        .await;
        register(
            &node,
            &admin,
            json!({ "client_id": "grafana", "name": "Grafana", "users": "it",
                    "first_party": true, "redirect_uris": ["http://127.0.0.1:3000/login"] }),
        )
        .await;
        let form_action = |page: &'static str, client: &'static str, redirect: &'static str| {
            let node = &node;
            async move {
                let challenge = challenge_of(VERIFIER);
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(code_request(client, redirect, &challenge))
                    .finish();
                let back = format!("/oauth2/authorize?{query}");
                let response = node
                    .client
                    .get(format!(
                        "{}{page}?return={}",
                        node.base,
                        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
                    ))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{page}");
                let csp = response.headers()["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                csp.split("; ")
                    .find_map(|d| d.strip_prefix("form-action "))
                    .unwrap()
                    .to_owned()
            }
        };
        let provider = "/oauth2/login";
        let console = "/console/login";
        assert_eq!(
            form_action(provider, "shop", RP).await,
            "'self' https://rp.example",
            "{name}"
        );
        assert_eq!(
            form_action(provider, "shop", "https://evil.example/callback").await,
            "'self'",
            "{name}"
        );
        assert_eq!(
            form_action(console, "grafana", "http://127.0.0.1:3000/login").await,
            "'self' http://127.0.0.1:3000",
            "{name}"
        );
        assert_eq!(
            form_action(console, "grafana", "http://127.0.0.1:4000/login").await,
            "'self'",
            "{name}"
        );
        // The console's sign-in page does not widen its form for a client of end users.
        assert_eq!(form_action(console, "shop", RP).await, "'self'", "{name}");
    })
    .await;
}
