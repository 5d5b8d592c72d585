//! The page behind an e-mailed decision link and the console's door for end users, on both
//! stores, with the real SMTP server of `crate::kit::smtp`: a company administrator who is
//! an end user is sent to sign in to the support desk, opens the link from the message
//! she received, sees the case and the question, and only her button decides. Opening a
//! link decides nothing; a link used already, sent to someone else, opened by the
//! requester, forged, or sent without the form's token is refused in words, audited, and
//! changes nothing. Everything of the console but the support desk and her account stays
//! closed to her, and no token reaches the audit log. The same path is walked in headless
//! Chromium by `tests/console/support_link.js`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::forms::{csrf_of, Console};
use crate::kit::smtp::{links, mail_to, with_smtp};
use crate::kit::{on_both, Node, USER_PASSWORD};
use crate::{install_harness, run_script, CHROMIUM};

/// An end user with an e-mail address unique to this test and backend; answers (id,
/// address).
async fn end_user(node: &Node, admin: &str, name: &str) -> (String, String) {
    let email = format!(
        "{name}-{}-{}@example.test",
        node.name(),
        uuid::Uuid::new_v4().simple()
    );
    let (status, body) = node
        .post(
            "/api/v1/users",
            admin,
            json!({ "provider": "end", "username": name, "password": USER_PASSWORD,
                    "email": email }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["id"].as_str().unwrap().to_owned(), email)
}

/// The case's status, as the operator's administrator reads it through the API.
async fn status_of(node: &Node, admin: &str, id: &str) -> Value {
    let (_, case) = node
        .get(&format!("/api/v1/support/cases/{id}"), admin)
        .await;
    case["status"].clone()
}

/// What both tests start from: the company `acme` whose administrators are the end users
/// `erin` and `ivan`, and a case the end user `rob`, no contact of acme, opened (suspended).
struct Desk {
    admin: String,
    erin_id: String,
    id: String,
    /// The tokens of the links in erin's message: (authorize, ignore).
    authorize: String,
    ignore: String,
}

async fn desk(node: &Node) -> Desk {
    let name = node.name();
    let admin = node.admin().await;
    let (status, body) = node
        .post(
            "/api/v1/support/companies",
            &admin,
            json!({ "name": "acme" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (erin_id, erin_mail) = end_user(node, &admin, "erin").await;
    let (ivan_id, _) = end_user(node, &admin, "ivan").await;
    end_user(node, &admin, "rob").await;
    for id in [&erin_id, &ivan_id] {
        let (status, body) = node
            .post(
                "/api/v1/support/companies/acme/administrators",
                &admin,
                json!({ "user": id }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let rob = node.login("end", "rob", USER_PASSWORD).await;
    let (status, case) = node
        .post(
            "/api/v1/support/cases",
            &rob,
            json!({ "company": "acme", "subject": "Invoices <b>vanish</b> after export",
                    "description": "since Monday", "severity": "high" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    assert_eq!(case["status"], "suspended", "{name}: {case}");
    let mail = mail_to(&erin_mail);
    assert_eq!(mail.len(), 1, "{name}: one message to erin");
    let (authorize, ignore) = links(&mail[0].1);
    Desk {
        admin,
        erin_id,
        id: case["id"].as_str().unwrap().to_owned(),
        authorize,
        ignore,
    }
}

async fn scenario(node: Node) {
    let name = node.name();
    let Desk {
        admin,
        erin_id,
        id,
        authorize,
        ignore,
    } = desk(&node).await;
    let page = |token: &str| format!("/console/support/links/{token}");

    // Not signed in: the link's page sends to the sign-in page and back; that page offers
    // the support desk's sign-in to users of the applications.
    let browser = Console::visitor(&node);
    let r = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{}", node.base, page(&authorize)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/console/login?return=/console/support/links/rsl_"),
        "{name}: {location}"
    );
    let (_, login) = browser.get(&location).await;
    assert!(login.contains("Sign in to the support desk"), "{login}");
    let (_, desk_login) = browser.get(&format!("{location}&as=end")).await;
    assert!(
        desk_login.contains("name=\"provider\" value=\"end\""),
        "{desk_login}"
    );
    let return_to = format!("/console/support/links/{authorize}");
    let (status, _, to) = browser
        .send(
            "/console/login",
            &[
                ("_csrf", csrf_of(&desk_login).as_str()),
                ("provider", "end"),
                ("return", return_to.as_str()),
                ("username", "erin"),
                ("password", USER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}: erin signs in");
    assert_eq!(to, return_to, "{name}: back to the link's page");
    let erin = browser;

    // Opening the link shows the case and the question, and decides nothing.
    let (status, html) = erin.get(&page(&authorize)).await;
    assert_eq!(status, StatusCode::OK, "{name}: {html}");
    assert!(html.contains("Authorize end:rob for acme?"), "{html}");
    assert!(
        html.contains("Invoices &#60;b&#62;vanish&#60;/b&#62; after export"),
        "{name}: the subject, escaped: {html}"
    );
    assert_eq!(status_of(&node, &admin, &id).await, "suspended", "{name}");
    let (status, html) = erin.get(&page(&ignore)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ignore the request of end:rob?"), "{html}");

    // The end user's console is the support desk and her account; the rest is closed and
    // not in her navigation.
    let (status, _) = erin.get("/console/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{name}: her overview is the desk"
    );
    let (status, inbox) = erin.get("/console/support").await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(
        inbox.contains(&format!("/console/support/cases/{id}")),
        "{inbox}"
    );
    assert!(!inbox.contains("href=\"/console/users\""), "{inbox}");
    assert!(!inbox.contains("href=\"/console/deployments\""), "{inbox}");
    let (status, _) = erin.get("/console/account").await;
    assert_eq!(status, StatusCode::OK, "{name}");
    for closed in [
        "/console/users",
        "/console/deployments",
        "/console/modules",
        "/console/audit",
    ] {
        let (status, html) = erin.get(closed).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name} {closed}");
        assert!(html.contains("Not for end users"), "{closed}: {html}");
    }

    // Someone the link was not sent to, the requester, a forged token and a form without
    // its token are refused in words; nothing changes.
    let ivan = Console::sign_in_as(&node, "end", "ivan", USER_PASSWORD).await;
    let (status, html) = ivan.get(&page(&authorize)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert!(html.contains("another administrator"), "{html}");
    assert!(
        !html.contains("Invoices"),
        "{name}: nothing about the case: {html}"
    );
    let (status, _, _) = ivan.post(&page(&authorize), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    let robin = Console::sign_in_as(&node, "end", "rob", USER_PASSWORD).await;
    let (status, html) = robin.get(&page(&authorize)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert!(html.contains("requester"), "{html}");
    let forged = format!("rsl_{}", "A".repeat(43));
    let (status, _) = erin.get(&page(&forged)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    let (status, html, _) = erin.send(&page(&authorize), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert!(html.contains("Form refused"), "{html}");
    assert_eq!(status_of(&node, &admin, &id).await, "suspended", "{name}");

    // The button decides: rob is authorized, and the case's page says so.
    let (status, _, to) = erin.post(&page(&authorize), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert_eq!(to, format!("/console/support/cases/{id}?done=authorize"));
    let (status, html) = erin.get(&to).await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(html.contains("The requester is authorized"), "{html}");
    assert_eq!(status_of(&node, &admin, &id).await, "open", "{name}");

    // Used: both links of the message are spent.
    for token in [&authorize, &ignore] {
        let (status, html) = erin.get(&page(token)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}");
        assert!(html.contains("used already"), "{html}");
    }

    // The decision and every refusal are in the log; no token is, anywhere.
    let events = node.events().await;
    let decided = events
        .iter()
        .find(|e| e.action == "support.requester.authorize")
        .expect("an authorization event");
    let details: Value = serde_json::from_str(&decided.details).unwrap();
    assert_eq!(details["via"], "link", "{name}");
    assert_eq!(details["decider"], erin_id.as_str(), "{name}");
    let refused: Vec<String> = events
        .iter()
        .filter(|e| e.action == "support.link.use" && e.outcome == "failure")
        .map(|e| serde_json::from_str::<Value>(&e.details).unwrap()["refused"].to_string())
        .collect();
    for why in ["other-person", "requester", "unknown", "used"] {
        assert!(
            refused.iter().any(|r| r.contains(why)),
            "{name}: {why} in {refused:?}"
        );
    }
    assert!(
        events.iter().any(|e| e.stream == "access"
            && e.target.as_deref() == Some("/console/support/links/{token}")),
        "{name}: the end users' access events name the page's route"
    );
    for e in &events {
        for secret in [&authorize, &ignore] {
            let target = e.target.as_deref().unwrap_or_default();
            assert!(!target.contains(secret.as_str()), "{}: {target}", e.action);
            assert!(!e.details.contains(secret.as_str()), "{}", e.action);
        }
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emailed_link_opens_a_page_that_asks_before_it_decides() {
    on_both(with_smtp, scenario).await;
}

async fn browser_scenario(node: Node) {
    let name = node.name();
    let desk = desk(&node).await;
    run_script(
        &node,
        "support_link.js",
        "the link's browser scenarios",
        &[
            ("CONSOLE_USER_PASSWORD", USER_PASSWORD.to_owned()),
            (
                "CONSOLE_LINK",
                format!("/console/support/links/{}", desk.authorize),
            ),
        ],
        4,
    )
    .await;
    // What the browser did went through the service: erin decided through the link.
    assert_eq!(
        status_of(&node, &desk.admin, &desk.id).await,
        "open",
        "{name}"
    );
    let events = node.events().await;
    let decided = events
        .iter()
        .find(|e| e.action == "support.requester.authorize")
        .expect("an authorization event");
    let details: Value = serde_json::from_str(&decided.details).unwrap();
    assert_eq!(details["via"], "link", "{name}");
    assert_eq!(details["decider"], desk.erin_id.as_str(), "{name}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_follows_the_emailed_link_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    on_both(with_smtp, browser_scenario).await;
}
