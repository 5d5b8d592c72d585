//! Editing a registered client of the OpenID provider (`PATCH /api/v1/idp/clients/{id}`),
//! on both stores: only the fields sent change, by the rules of a registration, and a
//! refusal changes nothing; only administrators may, and the others learn nothing about
//! the client; what the client was issued follows the new registration at once (a removed
//! redirect URI is refused at `/oauth2/authorize` and its codes at the token endpoint,
//! refresh tokens keep only the scopes still allowed and are refused without `openid`),
//! on the node that made the change and on another sharing its database.

use rampart_core::Provider;
use rampart_idp::pkce::challenge_of;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::idp::{
    authorize, code_request, events, location, param, post_form, register, session, userinfo, RP,
    VERIFIER,
};
use crate::kit::{self, no_tweak, on_both, Node, USER_PASSWORD};

/// A second redirect URI of the same relying party.
const RP2: &str = "https://rp.example/second";

/// The problem's `field`, or `null`.
fn field(problem: &Value) -> &Value {
    &problem["field"]
}

/// The client `id` as an administrator reads it.
async fn read(node: &Node, admin: &str, id: &str) -> Value {
    let (status, client) = node.get(&format!("/api/v1/idp/clients/{id}"), admin).await;
    assert_eq!(status, StatusCode::OK, "{}: {client}", node.name());
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_change_only_what_they_send_and_every_refusal_changes_nothing() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let (id, secret) = register(
            &node,
            &admin,
            json!({ "client_id": "wiki", "name": "Wiki", "first_party": true,
                    "redirect_uris": [RP, RP2],
                    "post_logout_redirect_uris": ["https://rp.example/signed-out"] }),
        )
        .await;
        let secret = secret.unwrap();
        let (svc, _) = register(
            &node,
            &admin,
            json!({ "client_id": "batch", "name": "Batch", "kind": "service" }),
        )
        .await;
        let path = format!("/api/v1/idp/clients/{id}");
        let registered = read(&node, &admin, &id).await;

        // The name alone: everything else as it was, and no secret in the answer.
        let (status, changed) = node
            .patch(&path, &admin, json!({ "name": "Team wiki" }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {changed}");
        assert_eq!(changed["name"], "Team wiki");
        let mut expected = registered.clone();
        expected["name"] = json!("Team wiki");
        assert_ne!(
            changed["version"], registered["version"],
            "{name}: a change is a new version"
        );
        expected["version"] = changed["version"].clone();
        assert_eq!(changed, expected, "{name}: only the name changed");
        assert_eq!(read(&node, &admin, &id).await, expected, "{name}");
        assert!(changed.get("client_secret").is_none(), "{name}: {changed}");
        assert!(!changed.to_string().contains(&secret), "{name}");

        // Several at once, lists replaced as a whole; the id and kind may be sent unchanged.
        let (status, changed) = node
            .patch(
                &path,
                &admin,
                json!({ "client_id": "wiki", "kind": "confidential", "first_party": false,
                        "redirect_uris": [RP], "post_logout_redirect_uris": [],
                        "scopes": ["profile", "openid", "openid"],
                        "id_token_signed_response_alg": "ES256", "users": "it",
                        "name": null }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {changed}");
        assert_eq!(changed["name"], "Team wiki", "{name}: null keeps the value");
        assert_eq!(changed["first_party"], false);
        assert_eq!(changed["redirect_uris"], json!([RP]));
        assert_eq!(changed["post_logout_redirect_uris"], json!([]));
        assert_eq!(changed["scopes"], json!(["openid", "profile"]));
        assert_eq!(changed["id_token_signed_response_alg"], "ES256");
        assert_eq!(changed["users"], "it");
        assert_eq!(changed["kind"], "confidential");
        assert_eq!(changed["grant_types"], registered["grant_types"]);
        assert_eq!(changed["created_at"], registered["created_at"]);

        // Each refusal names its field and changes nothing.
        let before = read(&node, &admin, &id).await;
        let updates = events(&node, "idp.client.update", "success").await.0;
        for (body, at) in [
            (json!({ "name": "  " }), "name"),
            (json!({ "name": "x".repeat(201) }), "name"),
            (json!({ "redirect_uris": [] }), "redirect_uris"),
            (
                json!({ "redirect_uris": ["http://rp.example/cb"] }),
                "redirect_uris",
            ),
            (
                json!({ "redirect_uris": ["https://rp.example/cb#f"] }),
                "redirect_uris",
            ),
            (
                json!({ "post_logout_redirect_uris": ["https://user@rp.example/"] }),
                "post_logout_redirect_uris",
            ),
            (json!({ "scopes": ["openid", "admin"] }), "scopes"),
            (
                json!({ "id_token_signed_response_alg": "HS256" }),
                "id_token_signed_response_alg",
            ),
            (json!({ "users": "everyone" }), "users"),
            (json!({ "kind": "public" }), "kind"),
            (json!({ "client_id": "other" }), "client_id"),
            // A valid change beside an invalid one: neither is made.
            (
                json!({ "name": "Renamed", "redirect_uris": ["ftp://rp.example/"] }),
                "redirect_uris",
            ),
        ] {
            let (status, problem) = node.patch(&path, &admin, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}: {body} → {problem}"
            );
            assert_eq!(field(&problem), at, "{name}: {body} → {problem}");
            assert_eq!(read(&node, &admin, &id).await, before, "{name}: {body}");
        }
        // A service client keeps no redirect URI; a secret is no setting.
        let (status, problem) = node
            .patch(
                &format!("/api/v1/idp/clients/{svc}"),
                &admin,
                json!({ "redirect_uris": [RP] }),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {problem}"
        );
        assert_eq!(field(&problem), "redirect_uris");
        let (status, problem) = node
            .patch(&path, &admin, json!({ "client_secret": "rcs_chosen" }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("client_secret"),
            "{name}: {problem}"
        );
        assert_eq!(read(&node, &admin, &id).await, before, "{name}");
        assert_eq!(
            events(&node, "idp.client.update", "success").await.0,
            updates,
            "{name}: no refusal recorded a change"
        );

        // The secret still authenticates the client: an update never touches it.
        let (status, body) = post_form(
            &node,
            "introspect",
            Some((&id, &secret)),
            &[("token", "rpr_unknown")],
        )
        .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({ "active": false })),
            "{name}"
        );

        // An unknown client, and a change that changes nothing (no event).
        let (status, problem) = node
            .patch("/api/v1/idp/clients/nobody", &admin, json!({ "name": "X" }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {problem}");
        assert!(problem["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:rampart:problem:"));
        let (status, _) = node
            .patch(&path, &admin, json!({ "name": "Team wiki" }))
            .await;
        assert_eq!(status, StatusCode::OK);

        // An edit sent with the version its settings were read with: refused once someone
        // else has changed them (nothing changes, no event), applied while they have not.
        let read_before = read(&node, &admin, &id).await;
        let version = read_before["version"].as_str().unwrap().to_owned();
        let (status, _) = node
            .patch(&path, &admin, json!({ "name": "Their edit" }))
            .await;
        assert_eq!(status, StatusCode::OK);
        let theirs = read(&node, &admin, &id).await;
        assert_ne!(theirs["version"], read_before["version"], "{name}");
        let updates = events(&node, "idp.client.update", "success").await.0;
        let (status, problem) = node
            .patch(
                &path,
                &admin,
                json!({ "name": "My edit", "if_version": version }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {problem}");
        assert_eq!(read(&node, &admin, &id).await, theirs, "{name}");
        assert_eq!(
            events(&node, "idp.client.update", "success").await.0,
            updates,
            "{name}"
        );
        let (status, body) = node
            .patch(
                &path,
                &admin,
                json!({ "name": "My edit", "if_version": theirs["version"] }),
            )
            .await;
        assert_eq!(
            (status, body["name"].as_str()),
            (StatusCode::OK, Some("My edit")),
            "{name}"
        );

        // Two edits read from the same state: the second (stale) one changes nothing.
        let store = &node.server().state.store;
        let stale = store.idp_client(&id).await.unwrap().unwrap();
        let (status, _) = node
            .patch(&path, &admin, json!({ "name": "First edit" }))
            .await;
        assert_eq!(status, StatusCode::OK);
        let settings = rampart_store::IdpClientSettings {
            name: "Second edit".into(),
            first_party: stale.first_party,
            redirect_uris: stale.redirect_uris.clone(),
            post_logout_redirect_uris: stale.post_logout_redirect_uris.clone(),
            scopes: stale.scopes.clone(),
            id_token_alg: stale.id_token_alg.clone(),
            users: stale.users.clone(),
        };
        let keep_all = |s: &[String]| Some(s.to_vec());
        use rampart_core::Clock as _;
        let lost = store
            .idp_update_client(
                &stale,
                &settings,
                &["name"],
                &keep_all,
                node.clock.now(),
                &rampart_core::AuditContext::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            lost, None,
            "{name}: the stale edit finds the client changed"
        );
        assert_eq!(
            read(&node, &admin, &id).await["name"],
            "First edit",
            "{name}"
        );
        let (status, _) = node
            .patch(&path, &admin, json!({ "name": "Team wiki" }))
            .await;
        assert_eq!(status, StatusCode::OK);

        // One event per change, naming the fields changed, never a secret.
        let all = node.events().await;
        let updates: Vec<Value> = all
            .iter()
            .filter(|e| e.action == "idp.client.update" && e.outcome == "success")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert_eq!(updates.len(), 6, "{name}: {updates:?}");
        assert_eq!(updates[0]["changed"], json!(["name"]), "{name}");
        assert_eq!(updates[0]["name"], "Team wiki");
        assert_eq!(
            updates[1]["changed"],
            json!([
                "first_party",
                "redirect_uris",
                "post_logout_redirect_uris",
                "scopes",
                "id_token_signed_response_alg",
                "users"
            ]),
            "{name}"
        );
        let text: String = all.iter().map(|e| e.details.clone()).collect();
        assert!(!text.contains(&secret) && !text.contains("rcs_"), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_edit_clients_and_the_others_learn_nothing_of_them() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let auditor = crate::audit::auditor(&node, &admin).await;
        node.create_user(Provider::It, "ivan", USER_PASSWORD, false)
            .await;
        let it_user = node.login("it", "ivan", USER_PASSWORD).await;
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let end_user = node.login("end", "erin", USER_PASSWORD).await;
        let (id, _) = register(
            &node,
            &admin,
            json!({ "client_id": "wiki", "name": "Wiki", "redirect_uris": [RP] }),
        )
        .await;
        // Who, and what they get for a client that exists and for one that does not: the
        // same answer, so a refusal tells nothing about the client.
        let table: [(&str, Option<&str>, StatusCode); 5] = [
            ("an administrator", Some(&admin), StatusCode::OK),
            ("an auditor", Some(&auditor), StatusCode::FORBIDDEN),
            ("another IT user", Some(&it_user), StatusCode::FORBIDDEN),
            ("an end user", Some(&end_user), StatusCode::FORBIDDEN),
            ("nobody signed in", None, StatusCode::UNAUTHORIZED),
        ];
        for (who, token, expected) in table {
            let before = read(&node, &admin, &id).await;
            for (target, body) in [
                (id.as_str(), json!({ "name": format!("Renamed by {who}") })),
                ("nobody", json!({ "name": "X" })),
                // Even a body that breaks a rule is refused before it is read.
                (
                    id.as_str(),
                    json!({ "redirect_uris": ["http://evil.example/"] }),
                ),
            ] {
                let response = node
                    .request(
                        Method::PATCH,
                        &format!("/api/v1/idp/clients/{target}"),
                        token,
                        Some(body.clone()),
                    )
                    .await;
                let status = response.status();
                let problem: Value = response.json().await.unwrap_or(Value::Null);
                let expected = match (expected, target, body.get("redirect_uris")) {
                    (StatusCode::OK, "nobody", _) => StatusCode::NOT_FOUND,
                    (StatusCode::OK, _, Some(_)) => StatusCode::UNPROCESSABLE_ENTITY,
                    (e, _, _) => e,
                };
                assert_eq!(status, expected, "{name}: {who} on {target}: {problem}");
                if expected != StatusCode::OK {
                    assert!(
                        problem["type"].is_string(),
                        "{name}: {who}: problem+json {problem}"
                    );
                }
                if matches!(expected, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) {
                    assert!(
                        !problem.to_string().contains("Wiki"),
                        "{name}: {who}: {problem}"
                    );
                }
            }
            if expected != StatusCode::OK {
                assert_eq!(read(&node, &admin, &id).await, before, "{name}: {who}");
            }
        }
        assert_eq!(
            read(&node, &admin, &id).await["name"],
            "Renamed by an administrator",
            "{name}"
        );
        assert_eq!(
            events(&node, "idp.client.update", "success").await.0,
            1,
            "{name}"
        );
    })
    .await;
}

/// `POST /oauth2/token` exchanging `code` for `client` at `redirect`.
async fn exchange(
    node: &Node,
    client: (&str, &str),
    code: &str,
    redirect: &str,
) -> (StatusCode, Value) {
    post_form(
        node,
        "token",
        Some(client),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// A code for `client` at `redirect` with `scope`, through the user's session.
async fn code_for(node: &Node, cookie: &str, client: &str, redirect: &str, scope: &str) -> String {
    let challenge = challenge_of(VERIFIER);
    let pairs: Vec<(&str, &str)> = code_request(client, redirect, &challenge)
        .into_iter()
        .map(|(k, v)| (k, if k == "scope" { scope } else { v }))
        .collect();
    let r = authorize(node, Some(cookie), &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", node.name());
    let to = location(&r);
    assert!(to.starts_with(redirect), "{to}");
    param(&to, "code").unwrap()
}

async fn refresh(node: &Node, client: (&str, &str), token: &str) -> (StatusCode, Value) {
    post_form(
        node,
        "token",
        Some(client),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_client_was_issued_follows_its_new_registration_at_once() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let alice = node
            .create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let alice = rampart_core::UserId::parse(&alice, "id").unwrap();
        let (id, secret) = register(
            &node,
            &admin,
            json!({ "client_id": "wiki", "name": "Wiki", "first_party": true,
                    "redirect_uris": [RP, RP2] }),
        )
        .await;
        let secret = secret.unwrap();
        let auth = (id.as_str(), secret.as_str());
        let cookie = session(&node, "alice").await;
        // A grant with every scope, and a code for the second URI not yet redeemed (on
        // SQLite the client is now in the node's memory).
        let code = code_for(&node, &cookie, &id, RP, "openid profile offline_access").await;
        let (status, tokens) = exchange(&node, auth, &code, RP).await;
        assert_eq!(status, StatusCode::OK, "{name}: {tokens}");
        assert_eq!(tokens["scope"], "offline_access openid profile");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        assert!(userinfo(&node, &access).await.1["preferred_username"].is_string());
        // A consent as a third-party client's page would remember it.
        let store = &node.server().state.store;
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        use rampart_core::Clock as _;
        store
            .idp_grant_consent(
                alice,
                &id,
                &scopes(&["offline_access", "openid", "profile"]),
                node.clock.now(),
                &rampart_core::AuditContext::default(),
            )
            .await
            .unwrap();
        let pending = code_for(&node, &cookie, &id, RP2, "openid profile").await;
        let narrowing = code_for(&node, &cookie, &id, RP, "openid profile").await;

        // The second URI goes, and `profile` with it.
        let (status, body) = node
            .patch(
                &format!("/api/v1/idp/clients/{id}"),
                &admin,
                json!({ "redirect_uris": [RP], "scopes": ["openid", "offline_access"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(
            store.idp_consent(alice, &id).await.unwrap(),
            Some(scopes(&["offline_access", "openid"])),
            "{name}: the consent keeps what is still allowed"
        );
        // At once, on this node: the removed URI is refused as a page, redirecting nowhere.
        let challenge = challenge_of(VERIFIER);
        let r = authorize(&node, Some(&cookie), &code_request(&id, RP2, &challenge)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(r.headers().get("location").is_none(), "{name}");
        // The code issued for it is withdrawn.
        let (status, body) = exchange(&node, auth, &pending, RP2).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{name}: {body}"
        );
        // A code for a URI still registered is redeemed for the scopes still allowed.
        let (status, body) = exchange(&node, auth, &narrowing, RP).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["scope"], "openid", "{name}");
        // An access token issued before releases only what the client may still ask for.
        let (status, claims) = userinfo(&node, &access).await;
        assert_eq!(status, StatusCode::OK, "{name}: {claims}");
        assert!(claims["preferred_username"].is_null(), "{name}: {claims}");
        // Introspected, it reports only those scopes too.
        let (status, body) =
            post_form(&node, "introspect", Some(auth), &[("token", &access)]).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(
            (body["active"].as_bool(), body["scope"].as_str()),
            (Some(true), Some("offline_access openid")),
            "{name}: {body}"
        );
        // The refresh token keeps the scopes still allowed.
        let (status, next) = refresh(&node, auth, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {next}");
        assert_eq!(next["scope"], "offline_access openid", "{name}");
        let (_, claims) = userinfo(&node, next["access_token"].as_str().unwrap()).await;
        assert!(claims["preferred_username"].is_null(), "{name}: {claims}");
        // Asking for the removed scope now is refused back to the client.
        let r = authorize(&node, Some(&cookie), &code_request(&id, RP, &challenge)).await;
        assert_eq!(
            param(&location(&r), "error").as_deref(),
            Some("invalid_scope"),
            "{name}"
        );

        // Without `openid` no grant about a user is left: the refresh token is refused.
        let live = next["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = node
            .patch(
                &format!("/api/v1/idp/clients/{id}"),
                &admin,
                json!({ "scopes": ["offline_access"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, body) = refresh(&node, auth, &live).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{name}: {body}"
        );
        assert_eq!(
            store.idp_consent(alice, &id).await.unwrap(),
            None,
            "{name}: a consent without openid is withdrawn"
        );
        let (_, introspected) =
            post_form(&node, "introspect", Some(auth), &[("token", &live)]).await;
        assert_eq!(introspected, json!({ "active": false }), "{name}");

        let (_, details) = events(&node, "idp.client.update", "success").await;
        assert!(
            details.contains("\"codes_withdrawn\":1"),
            "{name}: {details}"
        );
        assert!(
            details.contains("\"scopes_narrowed\":3"),
            "{name}: {details}"
        );
        assert!(
            details.contains("\"families_revoked\":2"),
            "{name}: {details}"
        );
        assert!(
            details.contains("\"consents_withdrawn\":1"),
            "{name}: {details}"
        );
        assert!(!details.contains(&secret), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_who_signs_in_to_a_client_revokes_every_grant_it_holds() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::End, "alice", USER_PASSWORD, false)
            .await;
        let (id, secret) = register(
            &node,
            &admin,
            json!({ "client_id": "wiki", "name": "Wiki", "first_party": true,
                    "redirect_uris": [RP] }),
        )
        .await;
        let secret = secret.unwrap();
        let auth = (id.as_str(), secret.as_str());
        let cookie = session(&node, "alice").await;
        let code = code_for(&node, &cookie, &id, RP, "openid offline_access").await;
        let (status, tokens) = exchange(&node, auth, &code, RP).await;
        assert_eq!(status, StatusCode::OK, "{name}: {tokens}");
        let pending = code_for(&node, &cookie, &id, RP, "openid").await;
        let (status, body) = node
            .patch(
                &format!("/api/v1/idp/clients/{id}"),
                &admin,
                json!({ "users": "it" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        // Even an offline grant ends: it was given by a user the client no longer serves.
        let (status, body) = refresh(&node, auth, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{name}: {body}"
        );
        let (status, _) = userinfo(&node, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (_, body) = exchange(&node, auth, &pending, RP).await;
        assert_eq!(body["error"], "invalid_grant", "{name}: {body}");
        // The end user's session now obtains no code for it.
        let challenge = challenge_of(VERIFIER);
        let r = authorize(&node, Some(&cookie), &code_request(&id, RP, &challenge)).await;
        let to = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(!to.starts_with(RP), "{name}: {to}");
        let (_, details) = events(&node, "idp.client.update", "success").await;
        assert!(
            details.contains("\"families_revoked\":1"),
            "{name}: {details}"
        );
        assert!(
            details.contains("\"codes_withdrawn\":1"),
            "{name}: {details}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_on_the_same_database_sees_an_edit_at_once() {
    let a = kit::start(rampart_store::BackendKind::Postgres, no_tweak).await;
    let b = kit::start_on(
        rampart_store::BackendKind::Postgres,
        a.database_url(),
        no_tweak,
    )
    .await;
    let admin = a.admin().await;
    a.create_user(Provider::End, "alice", USER_PASSWORD, false)
        .await;
    let (id, _) = register(
        &a,
        &admin,
        json!({ "client_id": "wiki", "name": "Wiki", "first_party": true,
                "redirect_uris": [RP, RP2] }),
    )
    .await;
    let cookie = session(&b, "alice").await;
    // Node b serves the second URI, then node a removes it.
    code_for(&b, &cookie, &id, RP2, "openid").await;
    let (status, body) = a
        .patch(
            &format!("/api/v1/idp/clients/{id}"),
            &admin,
            json!({ "redirect_uris": [RP] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let challenge = challenge_of(VERIFIER);
    let r = authorize(&b, Some(&cookie), &code_request(&id, RP2, &challenge)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    code_for(&b, &cookie, &id, RP, "openid").await;
}
