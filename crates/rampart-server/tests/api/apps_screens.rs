//! Screens, sign-in and actions end to end, on SQLite and PostgreSQL, as a browser and an
//! API client use them: pages under the model's roles and the row rule, the shared sign-in
//! with its return address, CSRF, `on_denied`, escaping, per-screen HTTPS, actions in one
//! transaction, and exposed endpoints.

use std::sync::Arc;

use rampart_core::Provider;
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, Node, USER_PASSWORD};

const SHOP: &str = r#"
module: crm
application: shop
roles: [{name: Rep}, {name: Manager}, {name: Clerk}]
entities:
  - name: Sale
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: note, type: text, max_length: 200}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep, hierarchy: reports-to}
  - name: Visit
    attributes:
      - {name: note, type: text}
      - {name: sale, type: reference, entity: Sale}
  - name: Ticket
    database: desk
    attributes: [{name: subject, type: text, required: true}]
screens:
  - name: Sales
    kind: list
    entity: Sale
    roles: [Rep, Manager]
    widgets:
      - {kind: table, columns: [record.amount, record.note]}
      - {kind: link, label: New, target: '"NewSale"'}
  - name: SaleDetail
    kind: detail
    entity: Sale
    parameters: [{name: sale, type: reference, entity: Sale}]
    roles: [Rep, Manager]
    widgets:
      - {kind: text, label: Note, value: record.note}
      - {kind: text, value: '"<b>bold</b>"', unescaped: true}
  - name: NewSale
    kind: form
    entity: Sale
    roles: [Rep]
    on_denied: {redirect: '"Sales"'}
    widgets:
      - {kind: field, value: amount}
      - {kind: field, value: note}
      - {kind: button, label: Save, action: RecordSale}
      - {kind: button, label: Save and fail, action: RecordAndFail}
      - {kind: button, label: Two databases, action: TwoDatabases}
      - {kind: button, label: Escalate, action: Escalate}
  - name: Secret
    kind: list
    entity: Sale
    roles: [Clerk]
    on_denied: {message: Ask a clerk for this one.}
    widgets: [{kind: table, columns: [record.amount]}]
  - name: Welcome
    kind: list
    entity: Visit
    anonymous: true
    https: false
    parameters: [{name: who, type: text, required: false}]
    widgets:
      - {kind: text, value: '"Hello " + params.who'}
      - {kind: table, columns: [record.note]}
actions:
  - name: RecordSale
    roles: [Rep]
    parameters: [{name: amount, type: decimal}, {name: note, type: text, required: false}]
    returns: Sale
    expose: {method: POST, path: /sales}
    steps:
      - create: {entity: Sale, values: {amount: params.amount, note: params.note, rep: user.id}, into: sale}
      - redirect: {target: '"SaleDetail?sale=" + sale.id'}
  - name: RecordAndFail
    roles: [Rep]
    parameters: [{name: amount, type: decimal}, {name: note, type: text, required: false}]
    steps:
      - create: {entity: Sale, values: {amount: params.amount, rep: user.id}}
      - delete: {entity: Sale, id: '"00000000-0000-4000-8000-000000000000"'}
  - name: TwoDatabases
    roles: [Rep]
    parameters: [{name: amount, type: decimal}, {name: note, type: text, required: false}]
    steps:
      - create: {entity: Visit, values: {note: '"first"'}}
      - create: {entity: Ticket, values: {subject: '"second"'}}
  - name: ManagerOnly
    roles: [Manager]
    steps: [{assign: {x: '1'}}]
  - name: Escalate
    roles: [Rep]
    parameters: [{name: amount, type: decimal}, {name: note, type: text, required: false}]
    steps:
      - create: {entity: Visit, values: {note: '"before"'}}
      - run: {action: ManagerOnly}
  - name: Sign
    anonymous: true
    parameters: [{name: note, type: text}]
    returns: Visit
    expose: {method: POST, path: /visits, https: false}
    steps: [{create: {entity: Visit, values: {note: params.note}}}]
  - name: Copy
    roles: [Rep, Manager]
    parameters: [{name: sale, type: reference, entity: Sale}]
    expose: {method: POST, path: /copies}
    steps: [{create: {entity: Visit, values: {note: params.sale}}}]
  - name: Link
    roles: [Rep, Manager]
    parameters: [{name: sale, type: text}]
    expose: {method: POST, path: /links}
    steps: [{create: {entity: Visit, values: {note: '"linked"', sale: params.sale}}}]
  - name: Ping
    roles: [Rep, Manager]
    parameters: [{name: id, type: text}]
    expose: {method: GET, path: '/ping/{id}'}
    steps: [{assign: {x: params.id}}]
"#;

const APP: &str = "/apps/development/shop";
const NAMES: [&str; 5] = ["director", "rep1", "rep2", "norole", "clerkless"];

/// A director above two reps, and someone with no role; the module deployed.
async fn setup(node: &Node) -> (String, Vec<String>) {
    let admin = node.admin().await;
    let mut ids = Vec::new();
    for n in NAMES {
        ids.push(
            node.create_user(Provider::End, n, USER_PASSWORD, false)
                .await,
        );
    }
    let ops = json!([
        { "op": "create_application", "name": "shop" },
        { "op": "create_hierarchy", "name": "reports-to", "kind": "reports_to" },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[1], "parent": ids[0] },
        { "op": "set_parent", "hierarchy": "reports-to", "node": ids[2], "parent": ids[0] },
    ]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    let (status, body) = node
        .post(
            "/api/v1/modules/crm/versions",
            &admin,
            json!({ "source": SHOP, "message": "screens" }),
        )
        .await;
    assert!(status.is_success(), "{}: publish: {body}", node.name());
    let (status, body) = node
        .post(
            "/api/v1/environments/development/deployments",
            &admin,
            json!({ "modules": [{ "module": "crm", "version": 1 }] }),
        )
        .await;
    assert!(status.is_success(), "{}: deploy: {body}", node.name());
    let grant = |role: &str, who: &str| json!({ "op": "grant_role", "application": "shop", "role": role, "principal": { "type": "user", "id": who } });
    let ops = json!([
        grant("Manager", &ids[0]),
        grant("Rep", &ids[1]),
        grant("Rep", &ids[2])
    ]);
    let (status, body) = node
        .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    (admin, ids)
}

/// A browser: cookies kept, redirects not followed, the node's self-signed certificate.
pub(crate) struct Browser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Browser {
    pub(crate) fn new(base: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: base.to_owned(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        Page {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    /// Posts a form from this site (or from `origin`).
    pub(crate) async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let origin = origin.map_or_else(|| self.base.clone(), str::to_owned);
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", origin)
            .form(fields)
            .send()
            .await
            .unwrap();
        Page {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore as _;
        let url = self.base.parse().unwrap();
        let all = self.jar.cookies(&url)?;
        all.to_str()
            .unwrap()
            .split("; ")
            .filter_map(|c| c.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    pub(crate) fn csrf(&self) -> String {
        self.cookie("__Host-rampart_csrf").unwrap_or_default()
    }

    /// Signs in through the sign-in page; returns where it sent the browser.
    async fn sign_in(&self, user: &str, back_to: &str) -> Page {
        let page = self.get(&format!("{APP}/login")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = self.csrf();
        self.post(
            &format!("{APP}/login"),
            &[
                ("_csrf", &csrf),
                ("username", user),
                ("password", USER_PASSWORD),
                ("return", back_to),
            ],
            None,
        )
        .await
    }
}

/// The rows of the first table of a page, as their cells' text.
fn rows(html: &str) -> Vec<String> {
    html.split("<tbody>")
        .nth(1)
        .and_then(|t| t.split("</tbody>").next())
        .unwrap_or("")
        .split("<tr>")
        .skip(1)
        .map(|r| {
            r.replace("</td>", " ")
                .replace("<td>", "")
                .replace("</tr>", "")
                .trim()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screens_sign_in_once_and_show_each_user_their_rows() {
    on_both(no_tweak, |node| async move {
        let (_, _) = setup(&node).await;
        let name = node.name();
        // Sales through the API for three owners.
        for (who, amount, note) in [
            ("rep1", "11.00", "<script>alert(1)</script>"),
            ("rep2", "22.00", "second"),
            ("director", "33.00", "third"),
        ] {
            let token = node.login("end", who, USER_PASSWORD).await;
            if who == "director" {
                continue;
            }
            let (status, body) = node
                .post(
                    &format!("{APP}/api/crm/Sale"),
                    &token,
                    json!({ "amount": amount, "note": note }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        }
        let rep1 = Browser::new(&node.base);
        // Not signed in: to the sign-in page, and back after.
        let page = rep1.get(&format!("{APP}/Sales?x=1")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}");
        assert_eq!(
            page.location(),
            format!("{APP}/login?return={APP}/Sales%3Fx%3D1"),
            "{name}"
        );
        // The sign-in form refuses a missing or forged token and another site's Origin.
        rep1.get(&format!("{APP}/login")).await;
        let csrf = rep1.csrf();
        assert_eq!(csrf.len(), 43, "{name}: the CSRF cookie is set");
        for (token, origin) in [
            ("", None),
            ("forged", None),
            (csrf.as_str(), Some("https://evil.example")),
        ] {
            let page = rep1
                .post(
                    &format!("{APP}/login"),
                    &[
                        ("_csrf", token),
                        ("username", "rep1"),
                        ("password", USER_PASSWORD),
                    ],
                    origin,
                )
                .await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{name}: {token:?} {origin:?}"
            );
            assert!(
                rep1.cookie("__Host-rampart_session").is_none(),
                "{name}: no session"
            );
        }
        // A wrong password is a page saying so, not a session.
        let page = rep1
            .post(
                &format!("{APP}/login"),
                &[
                    ("_csrf", &csrf),
                    ("username", "rep1"),
                    ("password", "wrong-password-1"),
                ],
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(page.body.contains("Sign in"), "{name}");
        // Nobody signs in to an application that does not run here.
        let page = rep1.get("/apps/development/nowhere/login").await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{name}");
        // An off-site return address returns to the application instead.
        let page = rep1.sign_in("rep1", "https://evil.example/").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.body);
        assert_eq!(page.location(), format!("{APP}/"), "{name}");
        // The application's home lists the screens open to the user, and no other.
        let home = rep1.get(&format!("{APP}/")).await;
        assert_eq!(home.status, StatusCode::OK, "{name}: {}", home.body);
        assert!(
            home.body.contains(&format!("href=\"{APP}/Sales\"")),
            "{name}"
        );
        assert!(
            home.body.contains(&format!("href=\"{APP}/NewSale\"")),
            "{name}"
        );
        assert!(!home.body.contains("Secret"), "{name}: not a clerk");
        assert!(!home.body.contains("SaleDetail"), "{name}: needs a record");
        let page = rep1
            .sign_in("rep1", &format!("{APP}/%2e%2e/%2E%2E/api/v1/users"))
            .await;
        assert_eq!(
            page.location(),
            format!("{APP}/"),
            "{name}: no climbing out"
        );
        let page = rep1.sign_in("rep1", &format!("{APP}/Sales")).await;
        assert_eq!(page.location(), format!("{APP}/Sales"), "{name}");
        // rep1 sees their own sale, escaped; the director sees both reps'.
        let page = rep1.get(&format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert_eq!(rows(&page.body).len(), 1, "{name}: {}", page.body);
        assert!(
            page.body.contains("&#60;script&#62;alert(1)"),
            "{name}: escaped"
        );
        assert!(!page.body.contains("<script>"), "{name}: never raw");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("style-src 'nonce-") && !csp.contains("unsafe-inline"),
            "{name}: {csp}"
        );
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        assert!(
            page.body.contains(&format!("nonce=\"{nonce}\"")),
            "{name}: the page's nonce"
        );
        let director = Browser::new(&node.base);
        director.sign_in("director", &format!("{APP}/Sales")).await;
        assert_eq!(
            rows(&director.get(&format!("{APP}/Sales")).await.body).len(),
            2,
            "{name}"
        );
        // A detail screen: the model's unescaped text is HTML, the record's note is not;
        // another rep's sale is not found, as if it did not exist.
        let token = node.login("end", "rep1", USER_PASSWORD).await;
        let (_, list) = node.get(&format!("{APP}/api/crm/Sale"), &token).await;
        let mine = list["items"][0]["id"].as_str().unwrap().to_owned();
        let page = rep1.get(&format!("{APP}/SaleDetail?sale={mine}")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert!(
            page.body.contains("<b>bold</b>"),
            "{name}: unescaped as declared"
        );
        let rep2 = Browser::new(&node.base);
        rep2.sign_in("rep2", &format!("{APP}/Sales")).await;
        let page = rep2.get(&format!("{APP}/SaleDetail?sale={mine}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{name}");
        assert!(
            !page.body.contains("alert(1)"),
            "{name}: nothing of the record"
        );
        // on_denied: a message, or a redirect on this site.
        let page = rep1.get(&format!("{APP}/Secret")).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}");
        assert!(page.body.contains("Ask a clerk for this one."), "{name}");
        let page = director.get(&format!("{APP}/NewSale")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}");
        assert_eq!(page.location(), format!("{APP}/Sales"), "{name}");
        // An anonymous screen needs no session.
        let anyone = Browser::new(&node.base);
        let page = anyone.get(&format!("{APP}/Welcome?who=%3Ci%3Eyou")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert!(
            page.body.contains("Hello &#60;i&#62;you"),
            "{name}: {}",
            page.body
        );
        // A post with no form at all (no body, no content type) is a form without the
        // token: refused as a page, and the session lives on.
        let session = rep1.cookie("__Host-rampart_session").unwrap();
        for path in ["logout", "login", "NewSale"] {
            let r = rep1
                .client
                .post(format!("{}{APP}/{path}", rep1.base))
                .header("origin", &rep1.base)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {path}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{name}: {path}"
            );
        }
        let (status, _) = node.get("/api/v1/auth/me", &session).await;
        assert_eq!(status, StatusCode::OK, "{name}: still signed in");
        // Signing out ends the session everywhere: the page and the API alike.
        let page = rep1
            .post(&format!("{APP}/logout"), &[("_csrf", &rep1.csrf())], None)
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}");
        let (status, _) = node.get("/api/v1/auth/me", &session).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{name}: the session is over"
        );
        let page = rep1.get(&format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: sign in again");
        // Refused sign-in forms left their trace.
        let refused = node
            .events()
            .await
            .into_iter()
            .filter(|e| {
                e.stream == "access"
                    && e.outcome == "deny"
                    && e.target.as_deref() == Some(&format!("{APP}/login"))
                    && e.details.contains("csrf-rejected")
            })
            .count();
        assert_eq!(
            refused, 4,
            "{name}: three forged forms and one without a body"
        );
        // Each page view is an access event naming the screen and the records read.
        let events = node.events().await;
        let views: Vec<_> = events
            .iter()
            .filter(|e| {
                e.stream == "access" && e.target.as_deref() == Some(&format!("{APP}/SaleDetail"))
            })
            .collect();
        assert_eq!(views.len(), 2, "{name}");
        assert!(
            views
                .iter()
                .any(|e| e.outcome == "allow" && e.details.contains(&mine)),
            "{name}"
        );
        node.shutdown().await;
    })
    .await;
}

async fn count(node: &Node, token: &str, entity: &str) -> usize {
    let (status, page) = node.get(&format!("{APP}/api/crm/{entity}"), token).await;
    assert_eq!(status, StatusCode::OK, "{}: {page}", node.name());
    page["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_run_their_steps_in_one_transaction() {
    on_both(no_tweak, |node| async move {
        setup(&node).await;
        let name = node.name();
        let rep1 = Browser::new(&node.base);
        rep1.sign_in("rep1", &format!("{APP}/NewSale")).await;
        let token = node.login("end", "rep1", USER_PASSWORD).await;
        let csrf = rep1.csrf();
        let form = |action: &'static str, amount: &'static str| {
            vec![
                ("_csrf", csrf.clone()),
                ("_action", action.to_owned()),
                ("amount", amount.to_owned()),
                ("note", "n".to_owned()),
            ]
        };
        let send = |fields: Vec<(&'static str, String)>| {
            let rep1 = &rep1;
            async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                rep1.post(&format!("{APP}/NewSale"), &fields, None).await
            }
        };
        // The button's action runs and sends the browser where its redirect says.
        let page = send(form("RecordSale", "12.50")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.body);
        assert!(
            page.location()
                .starts_with(&format!("{APP}/SaleDetail?sale=")),
            "{name}"
        );
        assert_eq!(count(&node, &token, "Sale").await, 1, "{name}");
        // A wrong value: the form again, filled as sent, with the reason; nothing written.
        let page = send(form("RecordSale", "lots")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(
            page.body.contains("value=\"lots\"") && page.body.contains("class=\"error\""),
            "{name}"
        );
        // A step failing after a create rolls the create back.
        let page = send(form("RecordAndFail", "5")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{name}: {}", page.body);
        assert_eq!(count(&node, &token, "Sale").await, 1, "{name}: rolled back");
        // One run writes one database: the second is refused, the first write undone.
        let page = send(form("TwoDatabases", "5")).await;
        assert_eq!(page.status, StatusCode::CONFLICT, "{name}: {}", page.body);
        let welcome = rep1.get(&format!("{APP}/Welcome")).await;
        assert_eq!(
            rows(&welcome.body),
            Vec::<String>::new(),
            "{name}: {}",
            welcome.body
        );
        // A run step checks the nested action's roles.
        let page = send(form("Escalate", "5")).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}: {}", page.body);
        // Without the token, or from elsewhere, the form is refused and nothing runs.
        let mut forged = form("RecordSale", "7");
        forged[0].1 = "x".repeat(43);
        assert_eq!(send(forged).await.status, StatusCode::FORBIDDEN, "{name}");
        let fields = form("RecordSale", "7");
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = rep1
            .post(
                &format!("{APP}/NewSale"),
                &fields,
                Some("https://evil.example"),
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}");
        // An action a screen has no button for is not run from it.
        let page = send(form("ManagerOnly", "7")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(count(&node, &token, "Sale").await, 1, "{name}");
        // Each run left an access event; the one write, a system event with its record.
        let events = node.events().await;
        let runs = events
            .iter()
            .filter(|e| {
                e.stream == "access"
                    && e.target.as_deref() == Some(&format!("{APP}/NewSale"))
                    && e.details.contains("\"POST\"")
            })
            .count();
        assert!(runs >= 5, "{name}: {runs}");
        let creates = events
            .iter()
            .filter(|e| e.action == "record.create")
            .count();
        assert_eq!(creates, 1, "{name}");
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_actions_answer_at_their_declared_paths() {
    fn plain_http(config: &mut rampart_service::Config) {
        config.enforce_https = false;
    }
    on_both(plain_http, |node| async move {
        setup(&node).await;
        let name = node.name();
        let token = node.login("end", "rep1", USER_PASSWORD).await;
        // POST /sales runs RecordSale and answers the record it created.
        let (status, body) = node
            .post(
                &format!("{APP}/api/crm/sales"),
                &token,
                json!({ "amount": "3.25" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["amount"], json!("3.25"), "{name}: {body}");
        // Its parameters are checked; without a session it is refused.
        let (status, body) = node
            .post(
                &format!("{APP}/api/crm/sales"),
                &token,
                json!({ "amount": "x", "extra": 1 }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        let r = node
            .request(
                Method::POST,
                &format!("{APP}/api/crm/sales"),
                None,
                Some(json!({ "amount": "1" })),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        // A reference parameter names only a record the caller may see (404 otherwise,
        // before any step runs), and so does a reference attribute an action writes (422).
        let mine = {
            let (_, page) = node.get(&format!("{APP}/api/crm/Sale"), &token).await;
            page["items"][0]["id"].as_str().unwrap().to_owned()
        };
        let other = node.login("end", "rep2", USER_PASSWORD).await;
        let (status, body) = node
            .post(
                &format!("{APP}/api/crm/copies"),
                &other,
                json!({ "sale": mine }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {body}");
        let (status, body) = node
            .post(
                &format!("{APP}/api/crm/links"),
                &other,
                json!({ "sale": mine }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["field"], json!("sale"), "{name}: {body}");
        let (status, _) = node
            .post(
                &format!("{APP}/api/crm/links"),
                &token,
                json!({ "sale": mine }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}: the owner may");
        let (status, _) = node
            .post(
                &format!("{APP}/api/crm/copies"),
                &other,
                json!({ "sale": { "id": mine } }),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: a single value"
        );
        // A path segment is a parameter; an action without a return answers 204.
        let (status, _) = node.get(&format!("{APP}/api/crm/ping/abc"), &token).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        // Over plain HTTP: an endpoint that keeps https refuses, an anonymous one with
        // `https: false` answers; a screen that keeps https redirects to HTTPS.
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = plain
            .post(format!("{}{APP}/api/crm/sales", node.http_base))
            .bearer_auth(&token)
            .json(&json!({ "amount": "1" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let r = plain
            .post(format!("{}{APP}/api/crm/visits", node.http_base))
            .json(&json!({ "note": "hello" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let r = plain
            .get(format!("{}{APP}/Sales", node.http_base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT, "{name}");
        let to = r.headers()[LOCATION].to_str().unwrap();
        assert!(
            to.starts_with("https://") && to.ends_with(&format!("{APP}/Sales")),
            "{name}: {to}"
        );
        let r = plain
            .get(format!("{}{APP}/Welcome", node.http_base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}: an https: false screen");
        // Only the sale needed a role: the anonymous visit was written without one, and
        // every inbound call is an integration event.
        assert_eq!(count(&node, &token, "Sale").await, 1, "{name}");
        let events = node.events().await;
        let inbound = events
            .iter()
            .filter(|e| e.stream == "integration" && e.action == "http.inbound")
            .count();
        assert_eq!(inbound, 10, "{name}: {inbound}");
        let details: Vec<Value> = events
            .iter()
            .filter(|e| e.stream == "integration")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert!(
            details.iter().any(|d| d["status"] == json!(401)),
            "{name}: {details:?}"
        );
        node.shutdown().await;
    })
    .await;
}

/// A list screen longer than a page: "Next page" links walk every row the user may read
/// exactly once, in order, the later pages link back to the first, and a forged cursor is
/// a page saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_screen_pages_through_every_row_once() {
    on_both(no_tweak, |node| async move {
        let _ = setup(&node).await;
        let name = node.name();
        let rep1 = node.login("end", "rep1", USER_PASSWORD).await;
        let rep2 = node.login("end", "rep2", USER_PASSWORD).await;
        for (token, n) in [(&rep1, 0..121), (&rep2, 0..3)] {
            for i in n {
                let (status, body) = node
                    .post(
                        &format!("{APP}/api/crm/Sale"),
                        token,
                        json!({ "amount": "1.00", "note": format!("n{i:03}") }),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
            }
        }
        let browser = Browser::new(&node.base);
        browser.sign_in("rep1", &format!("{APP}/Sales")).await;
        let mut seen = Vec::new();
        let mut path = format!("{APP}/Sales");
        let mut pages = 0;
        loop {
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
            pages += 1;
            seen.extend(rows(&page.body));
            assert_eq!(
                page.body.contains(">First page</a>"),
                pages > 1,
                "{name}: page {pages}"
            );
            let next = page
                .body
                .split("<a rel=\"next\" href=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(|href| href.replace("&#38;", "&").replace("&amp;", "&"));
            match next {
                Some(href) => {
                    assert!(href.starts_with(&format!("{APP}/Sales?_after=")), "{href}");
                    path = href;
                }
                None => break,
            }
            assert!(pages < 10, "{name}: the pager ends");
        }
        assert_eq!(pages, 3, "{name}: 121 rows, 50 a page");
        assert_eq!(seen.len(), 121, "{name}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 121, "{name}: no row twice");
        let notes: Vec<String> = seen
            .iter()
            .filter_map(|row| row.split_whitespace().find(|w| w.starts_with('n')))
            .map(str::to_owned)
            .collect();
        let expected: Vec<String> = (0..121).map(|i| format!("n{i:03}")).collect();
        assert_eq!(
            notes, expected,
            "{name}: every row once, oldest first, none of rep2's"
        );
        let page = browser.get(&format!("{APP}/Sales?_after=forged")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(page.body.contains("go back to its first page"), "{name}");
        node.shutdown().await;
    })
    .await;
}

/// A value of the type a JSON Schema of the application's document gives.
fn sample(schema: &Value) -> Value {
    let ty = match &schema["type"] {
        Value::Array(types) => types[0].clone(),
        t => t.clone(),
    };
    match (ty.as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => json!(7),
        (Some("boolean"), _) => json!(true),
        (Some("string"), Some("date")) => json!("2026-01-02"),
        (Some("string"), _) if schema["pattern"].is_string() => json!("12.50"),
        _ => json!("from the document"),
    }
}

/// The application's OpenAPI document describes what the caller may call, with the
/// model's types, and only that: every list it names answers, a record built from its
/// schema is accepted, an endpoint it leaves out is one the caller is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_s_openapi_document_describes_what_the_caller_may_call() {
    on_both(no_tweak, |node| async move {
        let _ = setup(&node).await;
        let name = node.name();
        let doc_path = format!("{APP}/api/openapi.json");
        let rep1 = node.login("end", "rep1", USER_PASSWORD).await;
        let (status, doc) = node.get(&doc_path, &rep1).await;
        assert_eq!(status, StatusCode::OK, "{name}: {doc}");
        assert_eq!(doc["openapi"], "3.1.0");
        let server = doc["servers"][0]["url"].as_str().unwrap().to_owned();
        assert_eq!(server, format!("{APP}/api"));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/crm/Sale", "get"),
            ("/crm/Sale", "post"),
            ("/crm/Sale/{id}", "get"),
            ("/crm/sales", "post"),
            ("/crm/visits", "post"),
            ("/crm/ping/{id}", "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{name}: {method} {path} in {}",
                doc["paths"]
            );
        }
        // Every list it names answers; a record built from its schema is accepted.
        for (path, item) in paths {
            if item.get("get").is_some() && !path.contains('{') && !path.contains("/queries/") {
                let (status, body) = node.get(&format!("{server}{path}"), &rep1).await;
                assert_eq!(status, StatusCode::OK, "{name}: GET {path}: {body}");
            }
        }
        let values = &doc["components"]["schemas"]["crm.Sale.Values"];
        let mut record = serde_json::Map::new();
        for required in values["required"].as_array().unwrap() {
            let attr = required.as_str().unwrap();
            record.insert(attr.into(), sample(&values["properties"][attr]));
        }
        let (status, created) = node
            .post(&format!("{server}/crm/Sale"), &rep1, Value::Object(record))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
        for field in doc["components"]["schemas"]["crm.Sale"]["required"]
            .as_array()
            .unwrap()
        {
            assert!(
                created.get(field.as_str().unwrap()).is_some(),
                "{name}: {field}"
            );
        }
        // A user holding no role of the application: only the anonymous endpoint, and the
        // data API it leaves out refuses them.
        let norole = node.login("end", "norole", USER_PASSWORD).await;
        let (status, doc) = node.get(&doc_path, &norole).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let described: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        assert_eq!(described, ["/crm/visits"], "{name}");
        let (status, _) = node.get(&format!("{APP}/api/crm/Sale"), &norole).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        // No session: 401; an application that does not run here: 404.
        let response = node.request(Method::GET, &doc_path, None, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        let (status, _) = node
            .get("/apps/development/nowhere/api/openapi.json", &rep1)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        node.shutdown().await;
    })
    .await;
}

/// The value of the first hidden `pending` field of a page.
pub(crate) fn pending_field(html: &str) -> Option<String> {
    let rest = html.split("name=\"pending\" value=\"").nth(1)?;
    rest.split('"').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_with_a_two_factor_app_signs_in_to_an_application_with_its_code() {
    use rampart_core::Clock as _;
    use rampart_identity::mfa::{step_of, TotpSecret};
    on_both(crate::apps_sensitive::with_master_key, |node| async move {
        setup(&node).await;
        let name = node.name();
        let token = node.login("end", "rep1", USER_PASSWORD).await;
        let (status, e) = node.post("/api/v1/auth/mfa/totp", &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {e}");
        let secret = TotpSecret::from_base32(e["secret"].as_str().unwrap()).unwrap();
        let code = |node: &Node| {
            let step = step_of(node.clock.now().unix_timestamp());
            format!("{:06}", secret.code_at_step(step))
        };
        let (status, body) = node
            .post(
                "/api/v1/auth/mfa/totp/confirm",
                &token,
                json!({ "code": code(&node) }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        node.clock.advance(time::Duration::seconds(30));

        // The password alone opens no session: the page asks for the code.
        let rep1 = Browser::new(&node.base);
        let page = rep1.sign_in("rep1", &format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert!(rep1.cookie("__Host-rampart_session").is_none(), "{name}");
        let pending = pending_field(&page.body).unwrap_or_else(|| panic!("{name}: {}", page.body));
        let csrf = rep1.csrf();
        let login = format!("{APP}/login");
        let wrong = rep1
            .post(
                &login,
                &[
                    ("_csrf", &csrf),
                    ("pending", &pending),
                    ("code", "000000"),
                    ("return", &format!("{APP}/Sales")),
                ],
                None,
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            pending_field(&wrong.body).as_deref(),
            Some(pending.as_str()),
            "{name}: asked again"
        );
        assert!(rep1.cookie("__Host-rampart_session").is_none(), "{name}");
        let right = rep1
            .post(
                &login,
                &[
                    ("_csrf", &csrf),
                    ("pending", &pending),
                    ("code", &code(&node)),
                    ("return", &format!("{APP}/Sales")),
                ],
                None,
            )
            .await;
        assert_eq!(
            right.status,
            StatusCode::SEE_OTHER,
            "{name}: {}",
            right.body
        );
        assert_eq!(right.location(), format!("{APP}/Sales"), "{name}");
        let page = rep1.get(&format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}");
    })
    .await;
}

fn managers_must_enrol(config: &mut rampart_service::Config) {
    crate::apps_sensitive::with_master_key(config);
    config.mfa.required_app_roles = "shop/Manager".into();
}

/// The text of the element with `id` (its first text node).
fn text_of(html: &str, id: &str) -> Option<String> {
    let rest = html.split(&format!("id=\"{id}\">")).nth(1)?;
    rest.split('<').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_sends_holders_of_a_named_application_role_to_set_up_an_app_at_sign_in() {
    use rampart_core::Clock as _;
    use rampart_identity::mfa::{step_of, TotpSecret};
    on_both(managers_must_enrol, |node| async move {
        let (admin, ids) = setup(&node).await;
        let name = node.name();
        // A rep (no role the policy names) signs in with the password alone.
        let rep1 = Browser::new(&node.base);
        let page = rep1.sign_in("rep1", &format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.body);
        assert!(rep1.cookie("__Host-rampart_session").is_some(), "{name}");

        // The director holds `Manager`: no session yet, an app to set up instead.
        let director = Browser::new(&node.base);
        let page = director.sign_in("director", &format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert!(
            director.cookie("__Host-rampart_session").is_none(),
            "{name}"
        );
        assert!(
            page.body.contains("<svg"),
            "{name}: a QR code: {}",
            page.body
        );
        let secret = text_of(&page.body, "totp-secret").expect("the secret shown");
        let secret = TotpSecret::from_base32(&secret).unwrap();
        let pending = pending_field(&page.body).expect("the pending sign-in");
        let code = |node: &Node| {
            let step = step_of(node.clock.now().unix_timestamp());
            format!("{:06}", secret.code_at_step(step))
        };
        let csrf = director.csrf();
        let login = format!("{APP}/login");
        let back = format!("{APP}/Sales");
        // A wrong code opens nothing and asks again.
        let wrong = director
            .post(
                &login,
                &[
                    ("_csrf", &csrf),
                    ("pending", &pending),
                    ("code", "000000"),
                    ("return", &back),
                ],
                None,
            )
            .await;
        assert_eq!(
            wrong.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            wrong.body
        );
        assert!(
            director.cookie("__Host-rampart_session").is_none(),
            "{name}"
        );
        // The app's first code confirms it, opens the session and shows the recovery codes.
        let done = director
            .post(
                &login,
                &[
                    ("_csrf", &csrf),
                    ("pending", &pending),
                    ("code", &code(&node)),
                    ("return", &back),
                ],
                None,
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        let codes = done.body.matches("<li><code>").count();
        assert_eq!(codes, 10, "{name}: ten recovery codes: {}", done.body);
        assert!(
            director.cookie("__Host-rampart_session").is_some(),
            "{name}"
        );
        let page = director.get(&back).await;
        assert_eq!(page.status, StatusCode::OK, "{name}");

        // From now on the director's password alone opens nothing; the code does.
        let again = Browser::new(&node.base);
        let page = again.sign_in("director", &back).await;
        assert_eq!(page.status, StatusCode::OK, "{name}");
        assert!(!page.body.contains("totp-secret"), "{name}: no second app");
        assert!(again.cookie("__Host-rampart_session").is_none(), "{name}");

        // A role granted later counts at the next sign-in: rep2 becomes a manager.
        let ops = json!([{ "op": "grant_role", "application": "shop", "role": "Manager",
            "principal": { "type": "user", "id": ids[2] } }]);
        // Changing roles is a sensitive operation: the administrator has no second factor
        // and the policy does not require one of them, so no step-up is asked.
        let (status, body) = node
            .post("/api/v1/authz/write", &admin, json!({ "operations": ops }))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let response = node.login_response("end", "rep2", USER_PASSWORD).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
        assert_eq!(body["enrol"], true, "{name}: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_signs_in_to_an_application_with_a_passkey_alone() {
    use crate::passkeys::{Authenticator, Fault, ORIGIN};
    on_both(crate::passkeys::passkeys, |node| async move {
        let (_, ids) = setup(&node).await;
        let name = node.name();
        let token = node.login("end", "rep1", USER_PASSWORD).await;
        let mut key = Authenticator::new(&format!("rep1 {name}"));
        crate::passkeys::register(&node, &token, &key, "phone").await;

        // The sign-in page offers the passkey beside the password, with its script allowed.
        let rep1 = Browser::new(&node.base);
        let login = format!("{APP}/login");
        let page = rep1.get(&login).await;
        assert_eq!(page.status, StatusCode::OK, "{name}");
        assert!(
            page.body.contains("data-passkey=\"discover\""),
            "{name}: {}",
            page.body
        );
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'nonce-"), "{name}: {csp}");
        let csrf = rep1.csrf();
        let form = |ceremony: &str, answer: &Value| {
            vec![
                ("_csrf".to_owned(), csrf.clone()),
                ("ceremony".to_owned(), ceremony.to_owned()),
                ("passkey".to_owned(), answer.to_string()),
                ("return".to_owned(), format!("{APP}/Sales")),
            ]
        };
        let post = |fields: Vec<(String, String)>| {
            let rep1 = &rep1;
            let login = &login;
            async move {
                let fields: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                rep1.post(login, &fields, Some(ORIGIN)).await
            }
        };

        // A refused passkey: the page again, with the refusal, and no session.
        let (ceremony, options) = crate::passkey_sign_in::discovery(&node).await;
        let bad = key.assert_as(&options, 1, Fault::Signature, &ids[1]);
        let refused = post(form(&ceremony, &bad)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(refused.body.contains("the passkey was refused"), "{name}");
        assert!(rep1.cookie("__Host-rampart_session").is_none(), "{name}");

        let (ceremony, options) = crate::passkey_sign_in::discovery(&node).await;
        let good = key.assert_as(&options, 1, Fault::None, &ids[1]);
        let done = post(form(&ceremony, &good)).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{name}: {}", done.body);
        assert_eq!(done.location(), format!("{APP}/Sales"), "{name}");
        assert!(rep1.cookie("__Host-rampart_session").is_some(), "{name}");
        let page = rep1.get(&format!("{APP}/Sales")).await;
        assert_eq!(page.status, StatusCode::OK, "{name}");
    })
    .await;
}
