//! SCIM 2.0 provisioning (`/scim/v2`, RFC 7643/7644) end to end: the compliance cases as
//! tests (filters, PATCH, ETags, pagination, errors), the token's reach, deprovisioning that
//! ends sessions at once, groups whose membership changes roles at once, and scim2-tester
//! (PyPI) run against the live server.

use rampart_core::{AuditContext, Clock as _, UserId};
use rampart_store::NewSession;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{on_both, Node};

pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Creates the user provider `name` (an LDAP directory nobody reaches: SCIM needs none),
/// whose group `auditors` maps to the IT role `auditor`.
pub(crate) async fn add_provider(node: &Node, admin: &str, name: &str, users: &str) {
    let secret = node
        .server()
        .state
        .config
        .data_dir
        .join(format!("{name}-bind"));
    std::fs::write(&secret, "unused").unwrap();
    let settings = json!({
        "url": "ldap://127.0.0.1:9",
        "security": "none",
        "bind_dn": "cn=svc,dc=example,dc=org",
        "bind_password": format!("file:{}", secret.display()),
        "user_base": "ou=people,dc=example,dc=org",
        "user_filter": "(uid={username})",
        "mappings": [{ "group": "auditors", "it_role": "auditor" }],
    });
    let (status, body) = node
        .post(
            "/api/v1/providers",
            admin,
            json!({ "name": name, "kind": "ldap", "users": users, "settings": settings }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
}

/// A new SCIM token for provider `name`.
pub(crate) async fn token(node: &Node, admin: &str, name: &str) -> String {
    let (status, body) = node
        .post_empty(&format!("/api/v1/providers/{name}/scim-token"), admin)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", node.name());
    body["token"].as_str().unwrap().to_owned()
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn scim_type(&self) -> &str {
        self.body["scimType"].as_str().unwrap_or("")
    }
    pub(crate) fn etag(&self) -> String {
        self.headers["etag"].to_str().unwrap().to_owned()
    }
}

pub(crate) async fn scim(
    node: &Node,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = node
        .client
        .request(method, format!("{}/scim/v2{path}", node.base))
        .bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let response = req.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    if !text.is_empty() {
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/scim+json"),
            "{status}: {text}"
        );
    }
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
            "{body}"
        );
        assert_eq!(body["status"], status.as_u16().to_string(), "{body}");
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn new_user(name: &str, extra: Value) -> Value {
    let mut u = json!({ "schemas": [USER], "userName": name });
    for (k, v) in extra.as_object().unwrap() {
        u[k] = v.clone();
    }
    u
}

pub(crate) async fn create(node: &Node, token: &str, name: &str, extra: Value) -> Value {
    let a = scim(
        node,
        token,
        Method::POST,
        "/Users",
        Some(new_user(name, extra)),
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}: {}", node.name(), a.body);
    a.body
}

async fn list(node: &Node, token: &str, query: &str) -> Answer {
    scim(
        node,
        token,
        Method::GET,
        &format!("/Users?{query}"),
        None,
        &[],
    )
    .await
}

fn names(a: &Answer) -> Vec<String> {
    a.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH], "Operations": ops })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_shown_once_audited_and_reaches_only_its_provider() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        add_provider(&node, &admin, "other", "end").await;
        let local = node
            .create_user(
                rampart_core::Provider::End,
                "local",
                crate::kit::USER_PASSWORD,
                false,
            )
            .await;
        let olga = {
            node.create_user(
                rampart_core::Provider::It,
                "olga",
                crate::kit::USER_PASSWORD,
                false,
            )
            .await;
            node.login("it", "olga", crate::kit::USER_PASSWORD).await
        };

        // Only administrators make tokens; nobody reads one back.
        let (status, _) = node
            .post_empty("/api/v1/providers/corp/scim-token", &olga)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, body) = node.get("/api/v1/providers/corp/scim-token", &admin).await;
        assert_eq!(
            (status, &body["configured"]),
            (StatusCode::OK, &json!(false)),
            "{name}"
        );
        let (status, _) = node
            .post_empty("/api/v1/providers/nobody/scim-token", &admin)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        let corp = token(&node, &admin, "corp").await;
        assert!(corp.starts_with("rsc_"), "{name}");
        let (_, body) = node.get("/api/v1/providers/corp/scim-token", &admin).await;
        assert_eq!(body["configured"], json!(true), "{name}");
        assert!(!body.to_string().contains(&corp), "{name}");
        let other = token(&node, &admin, "other").await;

        // No token, a wrong one, a session token: 401 with the SCIM error body.
        for bad in [
            "",
            "rsc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            admin.as_str(),
        ] {
            let a = scim(&node, bad, Method::GET, "/Users", None, &[]).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {bad}");
        }
        let refusals: Vec<String> = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "scim.auth" && e.outcome == "failure")
            .map(|e| e.details)
            .collect();
        assert_eq!(refusals.len(), 3, "{name}: {refusals:?}");
        assert!(
            refusals.iter().any(|d| d.contains("unknown-token")),
            "{name}: {refusals:?}"
        );
        // A name that is no endpoint is the SCIM 404 before the token is looked at (no
        // refusal recorded); a request without a token is refused for that (401), whatever
        // its body holds.
        for path in ["/Nope", "/Nope/some-id", "/Nope/.search"] {
            for method in [Method::GET, Method::PUT] {
                let a = scim(&node, "", method.clone(), path, None, &[]).await;
                assert_eq!(a.status, StatusCode::NOT_FOUND, "{name}: {method} {path}");
            }
        }
        // A path that is not percent-encoded UTF-8 is a SCIM 400, not an unknown endpoint.
        let a = scim(&node, "", Method::GET, "/Users/%FF", None, &[]).await;
        assert_eq!(
            (a.status, a.scim_type()),
            (StatusCode::BAD_REQUEST, "invalidValue"),
            "{name}: {}",
            a.body
        );
        // A method an endpoint does not take is the SCIM 405 (the helper checks the body
        // and its media type), before the token too.
        for (method, path) in [
            (Method::DELETE, "/Users"),
            (Method::GET, "/Groups/.search"),
            (Method::POST, "/Users/some-id"),
            (Method::GET, "/.search"),
            (Method::PUT, "/Schemas"),
            (Method::POST, "/ServiceProviderConfig"),
        ] {
            let a = scim(&node, "", method.clone(), path, None, &[]).await;
            assert_eq!(
                a.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{name}: {method} {path}: {}",
                a.body
            );
            assert!(a.headers.contains_key("allow"), "{name}: {method} {path}");
        }
        let a = scim(
            &node,
            "",
            Method::POST,
            "/Users",
            Some(json!("not a user")),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.body);
        let refused = node
            .events()
            .await
            .into_iter()
            .filter(|e| e.action == "scim.auth" && e.outcome == "failure")
            .count();
        assert_eq!(refused, 4, "{name}");
        // A session token is not a SCIM token, and a SCIM token not a session.
        let (status, _) = node.get("/api/v1/auth/me", &corp).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");

        let alice = create(&node, &corp, "alice", json!({})).await;
        let alice_id = alice["id"].as_str().unwrap();
        let bob = create(&node, &other, "bob", json!({})).await;
        // Each token sees its own provider's users only; every other id is a 404.
        assert_eq!(names(&list(&node, &corp, "").await), ["alice"], "{name}");
        assert_eq!(names(&list(&node, &other, "").await), ["bob"], "{name}");
        for id in [bob["id"].as_str().unwrap(), local.as_str(), "not-an-id"] {
            for method in [Method::GET, Method::DELETE] {
                let a = scim(
                    &node,
                    &corp,
                    method.clone(),
                    &format!("/Users/{id}"),
                    None,
                    &[],
                )
                .await;
                assert_eq!(a.status, StatusCode::NOT_FOUND, "{name}: {method} {id}");
            }
            let a = scim(
                &node,
                &corp,
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(patch(
                    json!([{"op": "replace", "path": "active", "value": false}]),
                )),
                &[],
            )
            .await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{name}: {id}");
        }
        // The local account is untouched.
        let local_user = node
            .server()
            .state
            .store
            .user(UserId::parse(&local, "id").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(!local_user.disabled, "{name}");
        // A group may not take another provider's user as a member.
        let a = scim(
            &node,
            &corp,
            Method::POST,
            "/Groups",
            Some(json!({
                "schemas": [GROUP], "displayName": "g", "members": [{"value": bob["id"]}]
            })),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, a.scim_type()),
            (StatusCode::BAD_REQUEST, "invalidValue"),
            "{name}: {}",
            a.body
        );
        // A userName another account holds is a conflict, naming nothing about it.
        let a = scim(
            &node,
            &corp,
            Method::POST,
            "/Users",
            Some(new_user("LOCAL", json!({}))),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, a.scim_type()),
            (StatusCode::CONFLICT, "uniqueness"),
            "{name}"
        );

        // Rotation: the old token stops at once; revocation stops the new one.
        let rotated = token(&node, &admin, "corp").await;
        assert_eq!(
            list(&node, &corp, "").await.status,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        let a = scim(
            &node,
            &rotated,
            Method::GET,
            &format!("/Users/{alice_id}"),
            None,
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}");
        let (status, _) = node
            .delete("/api/v1/providers/corp/scim-token", &admin)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        assert_eq!(
            list(&node, &rotated, "").await.status,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        let (status, _) = node
            .delete("/api/v1/providers/corp/scim-token", &admin)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");

        // Audited, never with a token.
        let events = node.events().await;
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        for action in [
            "scim.token.create",
            "scim.token.rotate",
            "scim.token.revoke",
        ] {
            assert!(actions.contains(&action), "{name}: {action} in {actions:?}");
        }
        let created = events
            .iter()
            .find(|e| {
                e.action == "user.create"
                    && e.target.as_deref() == Some(&format!("user:{alice_id}"))
            })
            .expect("user.create of alice");
        assert_eq!(created.actor_name.as_deref(), Some("scim:corp"), "{name}");
        let details: Value = serde_json::from_str(&created.details).unwrap();
        assert_eq!(details["user_provider"], "corp", "{name}");
        for e in &events {
            let text = format!("{e:?}");
            for t in [&corp, &rotated, &other] {
                assert!(!text.contains(t.as_str()), "{name}: a token in {text}");
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_filters_pagination_projection_and_errors() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        create(
            &node,
            &t,
            "bjensen",
            json!({
                "externalId": "Bj-1", "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "displayName": "Babs Jensen", "title": "Tour Guide",
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                           {"value": "babs@jensen.org", "type": "home"}],
            }),
        )
        .await;
        create(
            &node,
            &t,
            "jsmith",
            json!({
                "name": {"familyName": "Smith"}, "active": false,
                "emails": [{"value": "js@example.org", "type": "work"}],
            }),
        )
        .await;
        create(
            &node,
            &t,
            "akim",
            json!({"userType": "Employee", "title": "Engineer"}),
        )
        .await;
        for (filter, expected) in [
            (r#"userName eq "BJENSEN""#, vec!["bjensen"]),
            (r#"externalId eq "bj-1""#, vec![]),
            (r#"externalId eq "Bj-1""#, vec!["bjensen"]),
            (r#"name.familyName co "mit""#, vec!["jsmith"]),
            (r#"userName sw "j""#, vec!["jsmith"]),
            (r#"emails ew "example.org""#, vec!["jsmith"]),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                vec!["bjensen"],
            ),
            ("title pr", vec!["bjensen", "akim"]),
            ("not (title pr)", vec!["jsmith"]),
            ("active eq false", vec!["jsmith"]),
            (r#"title pr and userType eq "employee""#, vec!["akim"]),
            (
                r#"userType eq "Employee" or emails.type eq "home""#,
                vec!["bjensen", "akim"],
            ),
            (
                r#"meta.created ge "2000-01-01T00:00:00Z""#,
                vec!["bjensen", "jsmith", "akim"],
            ),
            (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, vec![]),
        ] {
            let q = format!("filter={}", urlencode(filter));
            let a = list(&node, &t, &q).await;
            assert_eq!(a.status, StatusCode::OK, "{name}: {filter}: {}", a.body);
            assert_eq!(names(&a), expected, "{name}: {filter}");
            assert_eq!(a.body["totalResults"], expected.len(), "{name}: {filter}");
        }
        for bad in [
            "userName",
            r#"userName zz "a""#,
            "(title pr",
            "active gt true",
            r#"emails[type eq "work""#,
        ] {
            let a = list(&node, &t, &format!("filter={}", urlencode(bad))).await;
            assert_eq!(
                (a.status, a.scim_type()),
                (StatusCode::BAD_REQUEST, "invalidFilter"),
                "{name}: {bad}"
            );
        }
        // Pagination: 1-based startIndex, count, totalResults of the whole set; sorting.
        let a = list(&node, &t, "sortBy=userName&startIndex=2&count=1").await;
        assert_eq!(names(&a), ["bjensen"], "{name}");
        assert_eq!(
            (
                a.body["totalResults"].as_u64(),
                a.body["startIndex"].as_u64(),
                a.body["itemsPerPage"].as_u64()
            ),
            (Some(3), Some(2), Some(1)),
            "{name}"
        );
        let a = list(&node, &t, "sortBy=userName&sortOrder=descending").await;
        assert_eq!(names(&a), ["jsmith", "bjensen", "akim"], "{name}");
        let a = list(&node, &t, "count=0").await;
        assert_eq!(
            (a.body["totalResults"].as_u64(), names(&a).len()),
            (Some(3), 0),
            "{name}"
        );
        let a = list(&node, &t, "startIndex=10").await;
        assert_eq!(names(&a).len(), 0, "{name}");
        let a = list(&node, &t, "count=abc").await;
        assert_eq!(
            (a.status, a.scim_type()),
            (StatusCode::BAD_REQUEST, "invalidValue"),
            "{name}"
        );
        // Projection.
        let a = list(
            &node,
            &t,
            "filter=userName%20eq%20%22bjensen%22&attributes=userName,emails.value",
        )
        .await;
        let r = &a.body["Resources"][0];
        assert!(
            r["id"].is_string() && r["name"].is_null() && r["title"].is_null(),
            "{name}: {r}"
        );
        assert!(
            r["meta"]["version"].is_string(),
            "{name}: meta is always returned: {r}"
        );
        assert_eq!(
            r["emails"],
            json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]),
            "{name}"
        );
        let a = list(&node, &t, "excludedAttributes=emails,name").await;
        assert!(
            a.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["emails"].is_null() && r["name"].is_null() && r["id"].is_string()),
            "{name}"
        );
        // A search by POST, users and groups alike.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "title pr", "sortBy": "userName", "attributes": ["userName"], "count": 1,
            })),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, names(&a), a.body["totalResults"].as_u64()),
            (StatusCode::OK, vec!["akim".to_owned()], Some(2)),
            "{name}: {}",
            a.body
        );
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/.search",
            Some(json!({"filter": "title pr"})),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, a.scim_type()),
            (StatusCode::BAD_REQUEST, "invalidSyntax"),
            "{name}"
        );

        // Bad input: each refused with its scimType, nothing created.
        for (body, status, kind) in [
            (
                json!({"schemas": [USER], "userName": "x1", "favouriteColour": "red"}),
                400,
                "invalidValue",
            ),
            (
                json!({"schemas": [USER], "userName": "x2", "active": "yes"}),
                400,
                "invalidValue",
            ),
            (
                json!({"schemas": [USER], "userName": 42}),
                400,
                "invalidValue",
            ),
            (json!({"schemas": [USER]}), 400, "invalidValue"),
            (json!({"userName": "x3"}), 400, "invalidSyntax"),
            (
                json!({"schemas": [USER], "userName": "bad name!"}),
                400,
                "invalidValue",
            ),
            (
                json!({"schemas": [USER], "userName": "BJensen"}),
                409,
                "uniqueness",
            ),
        ] {
            let a = scim(&node, &t, Method::POST, "/Users", Some(body.clone()), &[]).await;
            assert_eq!(
                (a.status.as_u16(), a.scim_type()),
                (status, kind),
                "{name}: {body}: {}",
                a.body
            );
        }
        let raw = node
            .client
            .post(format!("{}/scim/v2/Users", node.base))
            .bearer_auth(&t)
            .header("content-type", "application/scim+json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), StatusCode::BAD_REQUEST, "{name}");
        let body: Value = raw.json().await.unwrap();
        assert_eq!(body["scimType"], "invalidSyntax", "{name}");
        assert_eq!(list(&node, &t, "").await.body["totalResults"], 3, "{name}");
        let a = scim(&node, &t, Method::GET, "/Nothing", None, &[]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{name}");

        // Discovery.
        let a = scim(&node, &t, Method::GET, "/ServiceProviderConfig", None, &[]).await;
        assert_eq!(
            (
                a.body["patch"]["supported"].as_bool(),
                a.body["etag"]["supported"].as_bool(),
                a.body["bulk"]["supported"].as_bool()
            ),
            (Some(true), Some(true), Some(true)),
            "{name}"
        );
        let a = scim(&node, &t, Method::GET, "/ResourceTypes", None, &[]).await;
        assert_eq!(a.body["totalResults"], 2, "{name}");
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Schemas/{USER}"),
            None,
            &[],
        )
        .await;
        let attrs = a.body["attributes"].as_array().unwrap();
        let user_name = attrs.iter().find(|x| x["name"] == "userName").unwrap();
        assert_eq!(
            (
                user_name["uniqueness"].as_str(),
                user_name["caseExact"].as_bool()
            ),
            (Some("server"), Some(false)),
            "{name}"
        );
    })
    .await;
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_put_and_etags() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        let u = create(&node, &t, "carol", json!({
            "emails": [{"value": "carol@example.com", "type": "work"}, {"value": "c@home.org", "type": "home"}],
        })).await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let a = scim(&node, &t, Method::GET, &path, None, &[]).await;
        let etag = a.etag();
        assert!(etag.starts_with("W/\""), "{name}: {etag}");
        assert_eq!(a.body["meta"]["version"], etag.as_str(), "{name}");
        // If-None-Match with the current version: 304; with another: 200.
        let a = scim(&node, &t, Method::GET, &path, None, &[("if-none-match", &etag)]).await;
        assert_eq!(a.status, StatusCode::NOT_MODIFIED, "{name}");
        let a = scim(&node, &t, Method::GET, &path, None, &[("if-none-match", "W/\"0-0\"")]).await;
        assert_eq!(a.status, StatusCode::OK, "{name}");

        // PATCH: several operations in one request, applied together.
        let a = scim(&node, &t, Method::PATCH, &path, Some(patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "carol@corp.example"},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "add", "path": "name.givenName", "value": "Carol"},
            {"op": "replace", "value": {"displayName": "Carol C", "title": "Lead"}},
        ]))), &[("if-match", &etag)]).await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(a.body["emails"], json!([{"value": "carol@corp.example", "type": "work"}]), "{name}");
        assert_eq!((a.body["name"]["givenName"].as_str(), a.body["displayName"].as_str(), a.body["title"].as_str()),
            (Some("Carol"), Some("Carol C"), Some("Lead")), "{name}");
        let fresh = a.etag();
        assert_ne!(fresh, etag, "{name}");
        // The profile follows: display name and e-mail.
        let id = UserId::parse(u["id"].as_str().unwrap(), "id").unwrap();
        let user = node.server().state.store.user(id).await.unwrap().unwrap();
        assert_eq!((user.display_name.as_deref(), user.email.as_deref()), (Some("Carol C"), Some("carol@corp.example")), "{name}");

        // A stale If-Match: 412, nothing changed (PUT, PATCH, DELETE).
        let a = scim(&node, &t, Method::PUT, &path, Some(new_user("carol", json!({"title": "X"}))), &[("if-match", &etag)]).await;
        assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{name}");
        let a = scim(&node, &t, Method::PATCH, &path, Some(patch(json!([{"op": "replace", "path": "title", "value": "X"}]))), &[("if-match", &etag)]).await;
        assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{name}");
        let a = scim(&node, &t, Method::DELETE, &path, None, &[("if-match", &etag)]).await;
        assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{name}");
        let a = scim(&node, &t, Method::GET, &path, None, &[]).await;
        assert_eq!((a.etag(), a.body["title"].as_str()), (fresh.clone(), Some("Lead")), "{name}");

        // Refused operations change nothing, the first valid one included.
        for (ops, kind) in [
            (json!([{"op": "replace", "path": "title", "value": "Y"}, {"op": "replace", "path": "id", "value": "x"}]), "mutability"),
            (json!([{"op": "replace", "path": "title", "value": "Y"}, {"op": "add", "path": "groups", "value": [{"value": "g"}]}]), "mutability"),
            (json!([{"op": "replace", "path": "title", "value": "Y"}, {"op": "add", "path": "shoeSize", "value": 42}]), "invalidPath"),
            (json!([{"op": "replace", "path": "active", "value": "no"}]), "invalidValue"),
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.org"}}]), "noTarget"),
            (json!([{"op": "replace", "path": "emails[type eq]", "value": "x"}]), "invalidFilter"),
            (json!([{"op": "remove", "path": "userName"}]), "invalidValue"),
        ] {
            let a = scim(&node, &t, Method::PATCH, &path, Some(patch(ops.clone())), &[]).await;
            assert_eq!((a.status, a.scim_type()), (StatusCode::BAD_REQUEST, kind), "{name}: {ops}: {}", a.body);
        }
        let a = scim(&node, &t, Method::GET, &path, None, &[]).await;
        assert_eq!((a.etag(), a.body["title"].as_str()), (fresh.clone(), Some("Lead")), "{name}");

        // PUT replaces the whole resource: what it leaves out is gone.
        let a = scim(&node, &t, Method::PUT, &path, Some(new_user("carol.c", json!({"nickName": "CC"}))), &[("if-match", &fresh)]).await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!((a.body["userName"].as_str(), a.body["nickName"].as_str()), (Some("carol.c"), Some("CC")), "{name}");
        assert!(a.body["title"].is_null() && a.body["emails"].is_null(), "{name}: {}", a.body);
        let user = node.server().state.store.user(id).await.unwrap().unwrap();
        assert_eq!(user.username, "carol.c", "{name}");
        let a = scim(&node, &t, Method::DELETE, &path, None, &[("if-match", &a.etag())]).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{name}");
        assert_eq!(scim(&node, &t, Method::GET, &path, None, &[]).await.status, StatusCode::NOT_FOUND, "{name}");
    })
    .await;
}

/// A session of user `id`, opened as a sign-in would, and its token.
pub(crate) async fn session_of(node: &Node, id: &str) -> String {
    let state = &node.server().state;
    let user = state
        .store
        .user(UserId::parse(id, "id").unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = rampart_identity::SessionToken::generate().unwrap();
    state
        .store
        .record_login_success(
            &user,
            &NewSession {
                token_hash: token.hash().0,
                expires_at: node.clock.now() + time::Duration::hours(8),
                source: None,
                user_agent: None,
            },
            node.clock.now(),
            &AuditContext {
                node_id: "test".into(),
                ..AuditContext::default()
            },
        )
        .await
        .unwrap();
    token.secret().to_owned()
}

async fn me_with_cookie(node: &Node, session: &str) -> StatusCode {
    node.client
        .get(format!("{}/api/v1/auth/me", node.base))
        .header("cookie", format!("__Host-rampart_session={session}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprovisioning_ends_sessions_at_once_and_reactivation_works() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        let u = create(&node, &t, "dave", json!({})).await;
        let id = u["id"].as_str().unwrap().to_owned();
        let path = format!("/Users/{id}");
        let cookie = session_of(&node, &id).await;
        // Warm the node's session cache: the cookie works.
        assert_eq!(
            me_with_cookie(&node, &cookie).await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(
            me_with_cookie(&node, &cookie).await,
            StatusCode::OK,
            "{name}"
        );

        // active = false: the very next request with the cookie is refused.
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &path,
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, a.body["active"].as_bool()),
            (StatusCode::OK, Some(false)),
            "{name}: {}",
            a.body
        );
        assert_eq!(
            me_with_cookie(&node, &cookie).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        let user = node
            .server()
            .state
            .store
            .user(UserId::parse(&id, "id").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(user.disabled, "{name}");
        let disabled = node
            .events()
            .await
            .into_iter()
            .find(|e| e.action == "user.disable")
            .expect("user.disable");
        let details: Value = serde_json::from_str(&disabled.details).unwrap();
        assert_eq!(
            (
                details["user_provider"].as_str(),
                details["sessions_revoked"].as_u64()
            ),
            (Some("corp"), Some(1)),
            "{name}"
        );

        // Reactivation: the user may sign in again; the ended session stays ended.
        let a = scim(
            &node,
            &t,
            Method::PUT,
            &path,
            Some(new_user("dave", json!({"active": true}))),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, a.body["active"].as_bool()),
            (StatusCode::OK, Some(true)),
            "{name}"
        );
        let user = node
            .server()
            .state
            .store
            .user(UserId::parse(&id, "id").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(!user.disabled, "{name}");
        assert_eq!(
            me_with_cookie(&node, &cookie).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        assert!(
            node.events()
                .await
                .iter()
                .any(|e| e.action == "user.enable"),
            "{name}"
        );

        // DELETE: a new session ends at once too, and the user is gone.
        let second = session_of(&node, &id).await;
        assert_eq!(
            me_with_cookie(&node, &second).await,
            StatusCode::OK,
            "{name}"
        );
        let a = scim(&node, &t, Method::DELETE, &path, None, &[]).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{name}");
        assert_eq!(
            me_with_cookie(&node, &second).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        assert!(
            node.server()
                .state
                .store
                .user(UserId::parse(&id, "id").unwrap())
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        let deleted = node
            .events()
            .await
            .into_iter()
            .find(|e| e.action == "user.delete")
            .expect("user.delete");
        assert_eq!(deleted.actor_name.as_deref(), Some("scim:corp"), "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_membership_changes_roles_at_once() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "it").await;
        let t = token(&node, &admin, "corp").await;
        let erin = create(&node, &t, "erin", json!({})).await;
        let frank = create(&node, &t, "frank", json!({})).await;
        let erin_id = erin["id"].as_str().unwrap().to_owned();
        let session = session_of(&node, &erin_id).await;
        // An IT user without a role may not read the audit log.
        let (status, _) = node.get("/api/v1/audit/events?limit=1", &session).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");

        // Joining `auditors` (mapped to the IT role auditor) opens it on the next request.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Groups",
            Some(json!({
                "schemas": [GROUP], "displayName": "Auditors", "externalId": "g-1",
                "members": [{"value": erin_id}],
            })),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{name}: {}", a.body);
        assert!(
            a.headers["location"]
                .to_str()
                .unwrap()
                .ends_with(a.body["id"].as_str().unwrap()),
            "{name}"
        );
        let group = format!("/Groups/{}", a.body["id"].as_str().unwrap());
        let (status, _) = node.get("/api/v1/audit/events?limit=1", &session).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        // The user shows the group.
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!("/Users/{erin_id}"),
            None,
            &[],
        )
        .await;
        assert_eq!(a.body["groups"][0]["display"], "Auditors", "{name}");
        let a = scim(
            &node,
            &t,
            Method::GET,
            &format!(
                "/Groups?filter={}",
                urlencode("displayName eq \"auditors\"")
            ),
            None,
            &[],
        )
        .await;
        assert_eq!(a.body["totalResults"], 1, "{name}: {}", a.body);
        // A second group of the same name is a conflict.
        let a = scim(
            &node,
            &t,
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "AUDITORS"})),
            &[],
        )
        .await;
        assert_eq!(
            (a.status, a.scim_type()),
            (StatusCode::CONFLICT, "uniqueness"),
            "{name}"
        );

        // Membership by PATCH: frank in, erin out; erin's access ends at once.
        let a = scim(&node, &t, Method::GET, &group, None, &[]).await;
        let etag = a.etag();
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &group,
            Some(patch(json!([
                {"op": "add", "path": "members", "value": [{"value": frank["id"]}]},
                {"op": "remove", "path": format!("members[value eq \"{erin_id}\"]")},
            ]))),
            &[("if-match", &etag)],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(a.body["members"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(a.body["members"][0]["value"], frank["id"], "{name}");
        let (status, _) = node.get("/api/v1/audit/events?limit=1", &session).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        // The old version is stale now.
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &group,
            Some(patch(json!([
            {"op": "add", "path": "members", "value": [{"value": erin_id}]}]))),
            &[("if-match", &etag)],
        )
        .await;
        assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{name}");
        // Renaming the group out of the mapping takes frank's role away.
        let frank_id = UserId::parse(frank["id"].as_str().unwrap(), "id").unwrap();
        assert_eq!(
            node.server()
                .state
                .store
                .it_roles_of(frank_id)
                .await
                .unwrap(),
            ["auditor"],
            "{name}"
        );
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &group,
            Some(patch(json!([
            {"op": "replace", "path": "displayName", "value": "former-auditors"}]))),
            &[],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert!(
            node.server()
                .state
                .store
                .it_roles_of(frank_id)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );

        let actions: Vec<String> = node.events().await.into_iter().map(|e| e.action).collect();
        for action in ["scim.group.create", "scim.group.update"] {
            assert!(actions.iter().any(|a| a == action), "{name}: {action}");
        }
        let a = scim(&node, &t, Method::DELETE, &group, None, &[]).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{name}");
        assert_eq!(
            scim(&node, &t, Method::GET, &group, None, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{name}"
        );
        assert!(
            node.events()
                .await
                .iter()
                .any(|e| e.action == "scim.group.delete"),
            "{name}"
        );
    })
    .await;
}

/// scim2-tester (PyPI, `scripts/peers/scim.sh`): a SCIM client from outside the project
/// checks discovery, then creates, reads, queries, replaces, patches and deletes Users and
/// Groups as it reads the schemas. Every check must pass; none may be an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_finds_no_error() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/peers/scim.sh");
        let base = format!("{}/scim/v2", node.base);
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg(script)
                .arg(base)
                .env("SCIM_TOKEN", t)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: scim2-tester failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        let results: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let bad: Vec<&Value> = results
            .iter()
            .filter(|r| matches!(r["status"].as_str(), Some("ERROR" | "CRITICAL")))
            .collect();
        assert!(
            bad.is_empty(),
            "{name}: {} of {} checks failed: {bad:#?}\n{}",
            bad.len(),
            results.len(),
            String::from_utf8_lossy(&output.stderr)
        );
        let passed = |kind: &str| {
            results
                .iter()
                .filter(|r| r["resource_type"] == kind && r["status"] == "SUCCESS")
                .count()
        };
        // Both resource types were exercised, not skipped.
        assert!(
            passed("User") >= 5 && passed("Group") >= 5,
            "{name}: {results:#?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_json_and_groups_without_a_name_are_refused() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        add_provider(&node, &admin, "corp", "end").await;
        let t = token(&node, &admin, "corp").await;
        // A valid user, sent as another media type (or none): 415, and nobody is created.
        let user = json!({ "schemas": [USER], "userName": "tess" }).to_string();
        for media in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut request = node
                .client
                .post(format!("{}/scim/v2/Users", node.base))
                .bearer_auth(&t)
                .body(user.clone());
            if let Some(m) = media {
                request = request.header("content-type", m);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {body}");
            assert_eq!(body["status"], "415", "{name}: {body}");
        }
        let a = list(&node, &t, "filter=userName%20eq%20%22tess%22").await;
        assert_eq!(a.body["totalResults"], 0, "{name}: {}", a.body);
        // JSON as `application/json` is SCIM's too.
        let a = node
            .client
            .post(format!("{}/scim/v2/Users", node.base))
            .bearer_auth(&t)
            .header("content-type", "application/json; charset=utf-8")
            .body(user)
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), StatusCode::CREATED, "{name}");

        // A group's name is not empty, nor only spaces.
        const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
        for blank in ["", "   "] {
            let body = json!({ "schemas": [GROUP], "displayName": blank });
            let a = scim(&node, &t, Method::POST, "/Groups", Some(body), &[]).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}: {}", a.body);
            assert_eq!(a.body["scimType"], "invalidValue", "{name}");
        }
        let body = json!({ "schemas": [GROUP], "displayName": "Sales" });
        let a = scim(&node, &t, Method::POST, "/Groups", Some(body), &[]).await;
        assert_eq!(a.status, StatusCode::CREATED, "{name}: {}", a.body);
        let path = format!("/Groups/{}", a.body["id"].as_str().unwrap());
        let etag = a.etag();
        let blank = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "displayName", "value": " " }] });
        let a = scim(&node, &t, Method::PATCH, &path, Some(blank), &[]).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}: {}", a.body);

        // `If-Match` may list several versions; one of them current is enough.
        let listed = format!("W/\"0-1\", {etag}");
        let rename = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "displayName", "value": "Sales EU" }] });
        let a = scim(
            &node,
            &t,
            Method::PATCH,
            &path,
            Some(rename),
            &[("if-match", &listed)],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(a.body["displayName"], "Sales EU", "{name}");
    })
    .await;
}
