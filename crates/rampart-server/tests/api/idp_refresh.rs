//! Refresh tokens of the OpenID provider, on SQLite and PostgreSQL. What an administrator
//! does to a user reaches the refresh tokens outside applications hold for them: ending
//! the user's sessions (or setting their password) ends the tokens of their sign-ins, while
//! those granted `offline_access` stay; disabling them ends every token, and enabling them
//! again brings none back; introspection answers as the refresh and `userinfo` do. And a
//! refresh's `scope` narrows what it issues, never widens it (RFC 6749 §6).

use rampart_core::Provider;
use rampart_idp::pkce::challenge_of;
use reqwest::StatusCode;
use serde_json::Value;

use crate::idp::{authorize, code_request, location, param, post_form, session, wiki};
use crate::idp::{RP, VERIFIER};
use crate::kit::{no_tweak, on_both, Node, USER_PASSWORD};

/// The tokens of one grant of `scope` to client `auth`, through the session `cookie`.
pub(crate) async fn grant(node: &Node, auth: (&str, &str), cookie: &str, scope: &str) -> Value {
    let challenge = challenge_of(VERIFIER);
    let mut pairs = code_request(auth.0, RP, &challenge);
    pairs.retain(|(k, _)| *k != "scope");
    pairs.push(("scope", scope));
    let r = authorize(node, Some(cookie), &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", node.name());
    let code = param(&location(&r), "code").expect("a code");
    let (status, tokens) = post_form(
        node,
        "token",
        Some(auth),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", RP),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}: {tokens}", node.name());
    tokens
}

/// A refresh with the refresh token of `tokens`: the status and the new tokens.
pub(crate) async fn refresh(
    node: &Node,
    auth: (&str, &str),
    tokens: &Value,
) -> (StatusCode, Value) {
    let token = tokens["refresh_token"].as_str().unwrap();
    post_form(
        node,
        "token",
        Some(auth),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// Asserts that the audit log records a family ended for each of `reasons`.
async fn ended_because(node: &Node, reasons: &[&str]) {
    let recorded: Vec<String> = node
        .events()
        .await
        .iter()
        .filter(|e| e.action == "idp.revoke")
        .map(|e| e.details.clone())
        .collect();
    for why in reasons {
        assert!(
            recorded.iter().any(|d| d.contains(why)),
            "{}: {why}: {recorded:?}",
            node.name()
        );
    }
}

/// Whether introspection calls `token` active.
async fn active(node: &Node, auth: (&str, &str), token: &str) -> bool {
    let (status, answer) = post_form(node, "introspect", Some(auth), &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", node.name());
    answer["active"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_ending_sessions_or_disabling_a_user_ends_their_refresh_tokens() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let alice = node
            .create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, secret) = wiki(&node, &admin).await;
        let auth = (id.as_str(), secret.as_str());
        let cookie = session(&node, "alice").await;
        let online = grant(&node, auth, &cookie, "openid profile").await;
        let offline = grant(&node, auth, &cookie, "openid offline_access").await;
        let online_access = online["access_token"].as_str().unwrap();
        assert!(active(&node, auth, online_access).await, "{name}");

        // An administrator ends her sessions: the tokens of her sign-ins end; the offline
        // grant stays.
        let (s, _) = node
            .post_empty(&format!("/api/v1/users/{alice}/revoke-sessions"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        let (s, body) = refresh(&node, auth, &online).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert!(
            !active(&node, auth, online["refresh_token"].as_str().unwrap()).await,
            "{name}"
        );
        let (s, offline) = refresh(&node, auth, &offline).await;
        assert_eq!(s, StatusCode::OK, "{name}: offline stays: {offline}");

        // A password set by an administrator ends the tokens of her new sign-in too.
        let cookie = session(&node, "alice").await;
        let online = grant(&node, auth, &cookie, "openid profile").await;
        let (s, _) = node
            .post(
                &format!("/api/v1/users/{alice}/reset-password"),
                &admin,
                serde_json::json!({ "password": "quartz-lantern-ember-42" }),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}");
        let (s, _) = refresh(&node, auth, &online).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");

        // Disabled: every token of hers is inactive, the offline grant's too, and stays so
        // once she is enabled again.
        let offline_access = offline["access_token"].as_str().unwrap().to_owned();
        assert!(active(&node, auth, &offline_access).await, "{name}");
        let (s, _) = node
            .post_empty(&format!("/api/v1/users/{alice}/disable"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert!(!active(&node, auth, &offline_access).await, "{name}");
        assert!(
            !active(&node, auth, offline["refresh_token"].as_str().unwrap()).await,
            "{name}"
        );
        let (s, _) = node
            .post_empty(&format!("/api/v1/users/{alice}/enable"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        let (s, body) = refresh(&node, auth, &offline).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}: {body}");

        // Each ended family is on the record, with why.
        ended_because(
            &node,
            &[
                "the user's sessions were ended",
                "the password was changed",
                "the user was disabled",
            ],
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_may_narrow_its_scope_but_never_widen_it() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, secret) = wiki(&node, &admin).await;
        let auth = (id.as_str(), secret.as_str());
        let cookie = session(&node, "alice").await;
        let tokens = grant(&node, auth, &cookie, "openid profile").await;
        let with_scope = |tokens: &Value, scope: &str| {
            let token = tokens["refresh_token"].as_str().unwrap().to_owned();
            let (node, scope) = (&node, scope.to_owned());
            async move {
                post_form(
                    node,
                    "token",
                    Some(auth),
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &token),
                        ("scope", &scope),
                    ],
                )
                .await
            }
        };
        // Wider, unknown or empty: invalid_scope, and the token is not spent.
        for asked in ["openid profile email", "openid admin", ""] {
            let (s, body) = with_scope(&tokens, asked).await;
            assert_eq!(
                (s, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_scope")),
                "{name}: {asked:?}: {body}"
            );
        }
        // Narrower: the access token carries only what was asked.
        let (s, narrow) = with_scope(&tokens, "openid").await;
        assert_eq!(s, StatusCode::OK, "{name}: {narrow}");
        assert_eq!(narrow["scope"], "openid", "{name}: {narrow}");
        let (_, seen) = post_form(
            &node,
            "introspect",
            Some(auth),
            &[("token", narrow["access_token"].as_str().unwrap())],
        )
        .await;
        assert_eq!(seen["scope"], "openid", "{name}: {seen}");
        // The grant keeps what was granted: the next refresh may have all of it again.
        let (s, full) = refresh(&node, auth, &narrow).await;
        assert_eq!(s, StatusCode::OK, "{name}: {full}");
        assert_eq!(full["scope"], "openid profile", "{name}: {full}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_clients_tokens_are_introspected_as_its_own_whatever_its_id() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        // A client id shaped like a user's: its tokens name the client, not a user.
        let client_id = uuid::Uuid::now_v7().to_string();
        let (id, secret) = crate::idp::register(
            &node,
            &admin,
            serde_json::json!({ "client_id": client_id, "name": "Billing", "kind": "service" }),
        )
        .await;
        let auth = (id.as_str(), secret.as_deref().unwrap());
        let (s, tokens) = post_form(
            &node,
            "token",
            Some(auth),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}: {tokens}");
        let token = tokens["access_token"].as_str().unwrap();
        assert!(active(&node, auth, token).await, "{name}");
    })
    .await;
}

/// Whether a refresh with `tokens` is refused (`invalid_grant`).
async fn refused(node: &Node, auth: (&str, &str), tokens: &Value) -> bool {
    let (s, body) = refresh(node, auth, tokens).await;
    match s {
        StatusCode::OK => false,
        StatusCode::BAD_REQUEST => {
            assert_eq!(body["error"], "invalid_grant", "{}: {body}", node.name());
            true
        }
        other => panic!("{}: {other}: {body}", node.name()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factor_reset_deprovisioning_or_a_removed_provider_ends_refresh_tokens() {
    use crate::scim::{add_provider, create, scim, session_of, token, PATCH};
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let (id, secret) = wiki(&node, &admin).await;
        let auth = (id.as_str(), secret.as_str());

        // A factor reset ends the tokens of her sign-ins; her offline grant stays.
        let alice = node
            .create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let cookie = session(&node, "alice").await;
        let online = grant(&node, auth, &cookie, "openid profile").await;
        let offline = grant(&node, auth, &cookie, "openid offline_access").await;
        let (s, body) = node
            .delete(&format!("/api/v1/users/{alice}/mfa"), &admin)
            .await;
        assert!(s.is_success(), "{name}: {s}: {body}");
        assert!(refused(&node, auth, &online).await, "{name}");
        assert!(!refused(&node, auth, &offline).await, "{name}");

        // Two users a directory pushes over SCIM, each with an offline grant.
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        let mut held = Vec::new();
        for who in ["dave", "erin"] {
            let user = create(&node, &t, who, serde_json::json!({})).await;
            let id = user["id"].as_str().unwrap().to_owned();
            let cookie = format!("__Host-rampart_session={}", session_of(&node, &id).await);
            held.push((
                id,
                grant(&node, auth, &cookie, "openid offline_access").await,
            ));
        }
        let [(dave, dave_tokens), (_, erin_tokens)] = <[_; 2]>::try_from(held).unwrap();

        // The directory deprovisions dave: his offline grant ends; erin's does not.
        let a = scim(
            &node,
            &t,
            reqwest::Method::PATCH,
            &format!("/Users/{dave}"),
            Some(serde_json::json!({
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "active", "value": false}],
            })),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert!(refused(&node, auth, &dave_tokens).await, "{name}");
        let (s, erin_tokens) = refresh(&node, auth, &erin_tokens).await;
        assert_eq!(s, StatusCode::OK, "{name}: {erin_tokens}");

        // The provider is removed: erin's offline grant ends with it.
        let (s, _) = node.delete("/api/v1/providers/corp", &admin).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}");
        assert!(refused(&node, auth, &erin_tokens).await, "{name}");

        ended_because(
            &node,
            &[
                "the user's second factors were reset",
                "the user was deprovisioned",
                "the user provider was removed",
            ],
        )
        .await;
    })
    .await;
}
