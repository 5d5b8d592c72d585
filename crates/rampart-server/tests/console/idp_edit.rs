//! The console's Edit form of an OpenID client over plain HTTP, on both stores: an
//! administrator opens it from the list, a form without the CSRF token or with a setting
//! that breaks a rule changes nothing (the problem shown beside its field, the form as
//! sent), a good one changes the client as `PATCH /api/v1/idp/clients/{id}` would; an
//! auditor sees no Edit link, and the form and its POST are refused to them.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::forms::{csrf_of, Console};
use crate::kit::{no_tweak, on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};
use rampart_core::Provider;

const RP: &str = "https://rp.example/callback";
const RP2: &str = "https://rp.example/second";
const EDIT: &str = "/console/idp-clients/wiki/edit";

async fn client(node: &Node, admin: &str) -> Value {
    let (status, body) = node.get("/api/v1/idp/clients/wiki", admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn edits(node: &Node) -> usize {
    node.events()
        .await
        .iter()
        .filter(|e| e.action == "idp.client.update")
        .count()
}

async fn edit_form(node: Node) {
    let name = node.name();
    let admin = node.admin().await;
    let (status, body) = node
        .post(
            "/api/v1/idp/clients",
            &admin,
            json!({ "client_id": "wiki", "name": "Wiki", "redirect_uris": [RP, RP2] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    let audrey = node
        .create_user(Provider::It, "audrey", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/it/write",
            &admin,
            json!({ "operations": [{ "op": "set_it_role", "user": audrey, "role": "auditor" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let registered = client(&node, &admin).await;

    // The administrator: an Edit link on the list, the form filled with the settings.
    let browser = Console::sign_in(&node, "admin", ADMIN_PASSWORD).await;
    let (status, list) = browser.get("/console/idp-clients").await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(list.contains(&format!("href=\"{EDIT}\"")), "{name}: {list}");
    let (status, form) = browser.get(EDIT).await;
    assert_eq!(status, StatusCode::OK, "{name}: {form}");
    assert!(form.contains(&format!("action=\"{EDIT}\"")), "{name}");
    assert!(form.contains("value=\"Wiki\""), "{name}");
    assert!(form.contains(&format!("{RP}\n{RP2}")), "{name}: {form}");
    let csrf = csrf_of(&form);
    let version = registered["version"].as_str().unwrap().to_owned();
    assert!(
        form.contains(&format!("name=\"version\" value=\"{version}\"")),
        "{name}: the form carries the version it was filled from: {form}"
    );

    // Without the token: refused, nothing changed.
    let (status, _, _) = browser
        .send(EDIT, &[("name", "Forged"), ("redirect_uris", RP)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert_eq!(client(&node, &admin).await, registered, "{name}");

    // A bad redirect URI beside a good name: the problem at its field, the form as sent,
    // nothing stored.
    let (status, page, _) = browser
        .send(
            EDIT,
            &[
                ("_csrf", csrf.as_str()),
                ("name", "Team wiki"),
                ("users", "end"),
                ("redirect_uris", "http://rp.example/plain"),
                ("scope", "openid"),
                ("alg", "RS256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {page}");
    let at_field = page
        .split("id=\"redirect_uris-problem\">")
        .nth(1)
        .unwrap_or_else(|| panic!("{name}: no problem at the field: {page}"));
    let at_field = at_field.split("</p>").next().unwrap();
    assert!(
        at_field.contains("http://rp.example/plain") && at_field.contains("must be https://"),
        "{name}: {at_field}"
    );
    assert!(
        page.contains("value=\"Team wiki\""),
        "{name}: the form as sent"
    );
    assert!(page.contains("aria-invalid=\"true\""), "{name}");
    assert_eq!(client(&node, &admin).await, registered, "{name}");
    assert_eq!(edits(&node).await, 0, "{name}");

    // Someone else renames it meanwhile: the form filled before is refused with the
    // current settings shown, and their change stands.
    let (status, body) = node
        .patch(
            "/api/v1/idp/clients/wiki",
            &admin,
            json!({ "name": "Wiki (theirs)" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let theirs = client(&node, &admin).await;
    assert_ne!(theirs["version"], registered["version"], "{name}");
    let (status, page, _) = browser
        .send(
            EDIT,
            &[
                ("_csrf", csrf.as_str()),
                ("version", version.as_str()),
                ("name", "Team wiki"),
                ("users", "end"),
                ("redirect_uris", RP),
                ("scope", "openid"),
                ("alg", "RS256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{name}: {page}");
    assert!(
        page.contains("someone changed this client"),
        "{name}: {page}"
    );
    assert!(page.contains("value=\"Wiki (theirs)\""), "{name}: {page}");
    let fresh = theirs["version"].as_str().unwrap();
    assert!(
        page.contains(&format!("name=\"version\" value=\"{fresh}\"")),
        "{name}: the form is filled anew: {page}"
    );
    assert_eq!(client(&node, &admin).await, theirs, "{name}");
    assert_eq!(edits(&node).await, 1, "{name}: only theirs");

    // A good change, from the form as it is now.
    let (status, _, to) = browser
        .send(
            EDIT,
            &[
                ("_csrf", csrf.as_str()),
                ("version", fresh),
                ("name", "Team wiki"),
                ("users", "end"),
                ("redirect_uris", &format!("{RP}\r\n\r\n")),
                ("post_logout_redirect_uris", ""),
                ("scope", "openid"),
                ("scope", "profile"),
                ("first_party", "on"),
                ("alg", "ES256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert_eq!(to, "/console/idp-clients?done=updated", "{name}");
    let now = client(&node, &admin).await;
    assert_eq!(now["name"], "Team wiki", "{name}");
    assert_eq!(now["redirect_uris"], json!([RP]), "{name}");
    assert_eq!(now["scopes"], json!(["openid", "profile"]), "{name}");
    assert_eq!(now["first_party"], true, "{name}");
    assert_eq!(now["id_token_signed_response_alg"], "ES256", "{name}");
    assert_eq!(now["kind"], registered["kind"], "{name}");
    assert_eq!(edits(&node).await, 2, "{name}");
    let (_, list) = browser.get("/console/idp-clients?done=updated").await;
    assert!(list.contains("The client is changed"), "{name}");

    // The auditor: no Edit link, the form refused, and a POST with their own valid token
    // refused before anything is read or changed.
    let auditor = Console::sign_in(&node, "audrey", USER_PASSWORD).await;
    let (status, list) = auditor.get("/console/idp-clients").await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(list.contains("Team wiki"), "{name}: auditors read the list");
    assert!(!list.contains("/edit\""), "{name}: {list}");
    let (status, page) = auditor.get(EDIT).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert!(!page.contains("Team wiki"), "{name}: nothing of the client");
    let (status, page) = auditor.get("/console/idp-clients/nobody/edit").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{name}: unknown clients alike: {page}"
    );
    let (_, home) = auditor.get("/console/").await;
    let token = csrf_of(&home);
    let (status, _, _) = auditor
        .send(
            EDIT,
            &[
                ("_csrf", token.as_str()),
                ("name", "Audited"),
                ("users", "end"),
                ("redirect_uris", RP),
                ("scope", "openid"),
                ("alg", "RS256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert_eq!(client(&node, &admin).await, now, "{name}");
    assert_eq!(edits(&node).await, 2, "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edit_form_of_an_openid_client_changes_it_for_administrators_only() {
    on_both(no_tweak, edit_form).await;
}
