//! The support desk in the console, on both stores: the browser scenario of
//! `tests/console/support.js` (a requester who is not a member opens a case and is told why
//! it is suspended; the company's administrator authorizes them from the case page; they
//! comment; the administrator removes them and the company's cases vanish for them; a
//! `<script>` subject is shown as text), and each form's refusals sent as a browser would:
//! without the CSRF token, by someone who may not act, with bad input. A refused form
//! changes nothing, which the API confirms.

use rampart_core::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::forms::Console;
use crate::kit::{no_tweak, on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};
use crate::{install_harness, run_script, CHROMIUM};

/// A company `acme` whose administrator is the IT user `boss`, and the IT users `rhea` (a
/// requester, in no company) and `mallory` (in no company, never a requester here).
struct Desk {
    admin: String,
    boss: String,
    rhea: String,
    rhea_id: String,
    mallory: String,
}

async fn desk(node: &Node) -> Desk {
    let admin = node.admin().await;
    let (status, body) = node
        .post(
            "/api/v1/support/companies",
            &admin,
            json!({ "name": "acme" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let boss_id = node
        .create_user(Provider::It, "boss", USER_PASSWORD, false)
        .await;
    let rhea_id = node
        .create_user(Provider::It, "rhea", USER_PASSWORD, false)
        .await;
    node.create_user(Provider::It, "mallory", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/support/companies/acme/administrators",
            &admin,
            json!({ "user": boss_id }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    Desk {
        admin,
        boss: node.login("it", "boss", USER_PASSWORD).await,
        rhea: node.login("it", "rhea", USER_PASSWORD).await,
        rhea_id,
        mallory: node.login("it", "mallory", USER_PASSWORD).await,
    }
}

async fn browser_scenario(node: Node) {
    let name = node.name();
    let desk = desk(&node).await;
    run_script(
        &node,
        "support.js",
        "the support desk's browser scenarios",
        &[("CONSOLE_USER_PASSWORD", USER_PASSWORD.to_owned())],
        5,
    )
    .await;
    // What the browser did went through the service: boss authorized rhea (a `system`
    // event naming the decider), rhea's comment is on her case, and she is no longer a
    // member, so the API hides the company's cases from her too.
    let events = node.events().await;
    let decided = events
        .iter()
        .find(|e| e.action == "support.requester.authorize")
        .expect("an authorization event");
    assert_eq!(decided.actor_name.as_deref(), Some("it:boss"), "{name}");
    let (_, all) = node
        .get("/api/v1/support/cases?company=acme", &desk.admin)
        .await;
    let cases = all["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{name}: {all}");
    assert!(cases.iter().all(|c| c["status"] == "open"), "{name}: {all}");
    let first = cases
        .iter()
        .find(|c| c["subject"] == "The export stops at 10,000 rows")
        .unwrap();
    let (_, case) = node
        .get(
            &format!("/api/v1/support/cases/{}", first["id"].as_str().unwrap()),
            &desk.admin,
        )
        .await;
    assert_eq!(case["comments"][0]["author"], "it:rhea", "{name}: {case}");
    let (_, hers) = node.get("/api/v1/support/cases", &desk.rhea).await;
    assert_eq!(hers["cases"], json!([]), "{name}: {hers}");
    let (_, people) = node
        .get("/api/v1/support/companies/acme/members", &desk.boss)
        .await;
    assert!(
        !people["people"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["user"] == desk.rhea_id.as_str()),
        "{name}: {people}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_support_desk_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    on_both(no_tweak, browser_scenario).await;
}

/// A form's field and its value, as sent.
type Field<'a> = (&'a str, &'a str);

/// What the API says of the desk now: the case (as its requester reads it), acme's people,
/// the companies, every case; a refused form must leave all of it as it was.
async fn snapshot(node: &Node, desk: &Desk, case: &str) -> Value {
    let (_, case) = node
        .get(&format!("/api/v1/support/cases/{case}"), &desk.admin)
        .await;
    let (_, people) = node
        .get("/api/v1/support/companies/acme/members", &desk.admin)
        .await;
    let (_, companies) = node.get("/api/v1/support/companies", &desk.admin).await;
    let (_, cases) = node
        .get("/api/v1/support/cases?limit=200", &desk.admin)
        .await;
    json!({ "case": case, "people": people, "companies": companies, "cases": cases })
}

async fn forms_refuse(node: Node) {
    let name = node.name();
    let desk = desk(&node).await;
    let (status, case) = node
        .post(
            "/api/v1/support/cases",
            &desk.rhea,
            json!({ "company": "acme", "subject": "<script>alert(1)</script> login loops",
                    "description": "after <b>sign-in</b>", "severity": "normal" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    assert_eq!(case["status"], "suspended");
    let id = case["id"].as_str().unwrap().to_owned();
    let rhea = Console::sign_in(&node, "rhea", USER_PASSWORD).await;
    let boss = Console::sign_in(&node, "boss", USER_PASSWORD).await;
    let mallory = Console::sign_in(&node, "mallory", USER_PASSWORD).await;
    let admin = Console::sign_in(&node, "admin", ADMIN_PASSWORD).await;
    let before = snapshot(&node, &desk, &id).await;

    // Case text is escaped on the list and on the case page.
    for path in [
        "/console/support".to_owned(),
        format!("/console/support/cases/{id}"),
    ] {
        let (status, html) = rhea.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{name} {path}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62; login loops"),
            "{name} {path}: {html}"
        );
        assert!(!html.contains("<script>"), "{name} {path}");
        assert!(!html.contains("<b>sign-in"), "{name} {path}");
    }
    // The requester is told why the case is suspended.
    let (_, page) = rhea.get(&format!("/console/support/cases/{id}")).await;
    assert!(
        page.contains("not an authorized contact of acme"),
        "{name}: {page}"
    );
    assert!(
        !page.contains("/authorize\""),
        "{name}: the requester decides nothing"
    );

    // Every form without its CSRF token is refused and changes nothing.
    let user = desk.rhea_id.as_str();
    let remove = format!("/console/support/companies/acme/members/{user}/remove");
    let forms: Vec<(String, Vec<Field>, &Console)> = vec![
        (
            "/console/support/new".into(),
            vec![
                ("company", "acme"),
                ("subject", "forged"),
                ("description", "forged"),
                ("severity", "low"),
            ],
            &rhea,
        ),
        (
            format!("/console/support/cases/{id}/comment"),
            vec![("body", "forged")],
            &rhea,
        ),
        (format!("/console/support/cases/{id}/close"), vec![], &rhea),
        (
            format!("/console/support/cases/{id}/share"),
            vec![("user", "boss")],
            &rhea,
        ),
        (
            format!("/console/support/cases/{id}/authorize"),
            vec![],
            &boss,
        ),
        (format!("/console/support/cases/{id}/ignore"), vec![], &boss),
        (
            "/console/support/companies".into(),
            vec![("name", "forged")],
            &admin,
        ),
        (
            "/console/support/companies/acme/members".into(),
            vec![("user", "mallory")],
            &boss,
        ),
        (
            "/console/support/companies/acme/administrators".into(),
            vec![("user", "mallory")],
            &boss,
        ),
        (remove.clone(), vec![], &boss),
    ];
    for (path, fields, who) in &forms {
        let mut forged = vec![("_csrf", "forged")];
        forged.extend_from_slice(fields);
        let (status, html, _) = who.send(path, &forged).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name} {path}");
        assert!(
            html.contains("did not come from this site"),
            "{name} {path}"
        );
        let (status, _, _) = who.send(path, fields).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{name} {path} without a token"
        );
    }
    assert_eq!(snapshot(&node, &desk, &id).await, before, "{name}");

    // Someone who may not see the case gets the page of a missing case, for reading it and
    // for every form on it.
    let (missing_status, missing) = mallory
        .get("/console/support/cases/6f1c2a5e-0000-4000-8000-000000000000")
        .await;
    assert_eq!(missing_status, StatusCode::NOT_FOUND, "{name}");
    let (status, hidden) = mallory.get(&format!("/console/support/cases/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    let main = |html: &str| html.split("<main").nth(1).unwrap_or_default().to_owned();
    assert_eq!(main(&hidden), main(&missing), "{name}: the same page");
    assert!(!hidden.contains("login loops"), "{name}");
    for action in ["comment", "close", "reopen", "share", "authorize", "ignore"] {
        let (status, html, _) = mallory
            .post(
                &format!("/console/support/cases/{id}/{action}"),
                &[("body", "mine now"), ("user", "mallory")],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name} {action}");
        assert_eq!(main(&html), main(&missing), "{name} {action}");
    }
    let (status, list) = mallory.get("/console/support").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.contains("login loops"), "{name}: not listed");
    // The requester may not decide on herself: refused with the API's reason.
    let (status, html, _) = rhea
        .post(&format!("/console/support/cases/{id}/authorize"), &[])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {html}");
    // Company management: creating is refused (403) to anyone but the platform's
    // administrators; a company someone does not manage is the 404 of a missing one, and
    // no name they send is looked up.
    let (status, html, _) = mallory
        .post("/console/support/companies", &[("name", "mallory-inc")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {html}");
    assert!(
        html.contains("only the platform&#39;s administrators")
            || html.contains("only the platform"),
        "{name}: {html}"
    );
    let (status, _) = mallory.get("/console/support/companies/acme").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    for (path, fields) in [
        (
            "/console/support/companies/acme/members",
            vec![("user", "mallory")],
        ),
        (
            "/console/support/companies/acme/administrators",
            vec![("user", "nobody-at-all")],
        ),
        (remove.as_str(), vec![]),
    ] {
        let (status, html, _) = mallory.post(path, &fields).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name} {path}");
        assert!(!html.contains("no user named"), "{name} {path}");
    }
    let (status, _) = mallory.get(&remove).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    let (_, companies) = mallory.get("/console/support/companies").await;
    assert!(
        !companies.contains("/console/support/companies/acme\""),
        "{name}"
    );
    assert!(!companies.contains("Create the company"), "{name}");
    assert_eq!(snapshot(&node, &desk, &id).await, before, "{name}");

    // Bad input: the form comes back with what was typed and the problem beside its field.
    let bad_cases: [(&[Field], &str, &str); 5] = [
        (
            &[
                ("company", "acme"),
                ("subject", "  "),
                ("description", "d"),
                ("severity", "low"),
            ],
            "subject-problem",
            "must not be empty",
        ),
        (
            &[
                ("company", "nowhere"),
                ("subject", "s"),
                ("description", "d"),
                ("severity", "low"),
            ],
            "company-problem",
            "no company of that name",
        ),
        (
            &[
                ("company", "bad name!"),
                ("subject", "s"),
                ("description", "d"),
                ("severity", "low"),
            ],
            "company-problem",
            "",
        ),
        (
            &[
                ("company", "acme"),
                ("subject", "s"),
                ("description", ""),
                ("severity", "low"),
            ],
            "description-problem",
            "must not be empty",
        ),
        (
            &[
                ("company", "acme"),
                ("subject", "s"),
                ("description", "d"),
                ("severity", "urgent"),
            ],
            "severity-problem",
            "must be one of low, normal, high, critical",
        ),
    ];
    for (fields, at, says) in bad_cases {
        let (status, html, _) = rhea.post("/console/support/new", fields).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name} {fields:?}: {html}"
        );
        assert!(
            html.contains(&format!("id=\"{at}\"")),
            "{name} {fields:?}: {html}"
        );
        assert!(html.contains(says), "{name} {fields:?}: {html}");
    }
    let (status, html, _) = rhea
        .post(
            &format!("/console/support/cases/{id}/comment"),
            &[("body", " \n ")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    assert!(html.contains("id=\"body-problem\""), "{name}: {html}");
    let (status, html, _) = rhea
        .post(
            &format!("/console/support/cases/{id}/share"),
            &[("user", "mallory")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {html}");
    assert!(html.contains("id=\"user-problem\""), "{name}: {html}");
    assert!(
        html.contains("value=\"mallory\""),
        "{name}: what was typed comes back"
    );
    let (status, html, _) = boss
        .post(
            "/console/support/companies/acme/members",
            &[("user", "nobody-at-all")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    assert!(
        html.contains("no user named `nobody-at-all`"),
        "{name}: {html}"
    );
    assert!(html.contains("id=\"member-problem\""), "{name}: {html}");
    let (status, html, _) = admin
        .post(
            "/console/support/companies",
            &[("name", "no spaces please")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    assert!(html.contains("id=\"name-problem\""), "{name}: {html}");
    let (status, html, _) = admin
        .post("/console/support/companies", &[("name", "acme")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{name}: {html}");
    // Removing an administrator from the members asks to remove them from the
    // administrators first.
    let (_, people) = node
        .get("/api/v1/support/companies/acme/administrators", &desk.admin)
        .await;
    let boss_id = people["people"][0]["user"].as_str().unwrap().to_owned();
    let (status, html, _) = boss
        .post(
            &format!("/console/support/companies/acme/members/{boss_id}/remove"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{name}: {html}");
    assert_eq!(
        snapshot(&node, &desk, &id).await,
        before,
        "{name}: bad input changed nothing"
    );

    // A file the desk does not take opens no case; nor does a forged form with a good one;
    // nor is a file attached to a case by someone who may not see it, or without a file.
    let new_case = [
        ("company", "acme"),
        ("subject", "with a file"),
        ("description", "see the file"),
        ("severity", "low"),
    ];
    let (status, html, _) = rhea
        .upload(
            "/console/support/new",
            None,
            &new_case,
            Some(("screen.png", "image/png", b"not a picture at all")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {html}");
    assert!(html.contains("id=\"file-problem\""), "{name}: {html}");
    assert!(
        html.contains("value=\"with a file\""),
        "{name}: what was typed comes back"
    );
    let (status, _, _) = rhea
        .upload(
            "/console/support/new",
            Some("forged"),
            &new_case,
            Some(("log.txt", "text/plain", b"line 1\n")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    let attach = format!("/console/support/cases/{id}/attachments");
    let (status, _, _) = mallory
        .upload(
            &attach,
            None,
            &[],
            Some(("log.txt", "text/plain", b"line 1\n")),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    let (status, _, _) = rhea
        .upload(
            &attach,
            Some("forged"),
            &[],
            Some(("log.txt", "text/plain", b"line 1\n")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    let (status, html, _) = rhea.upload(&attach, None, &[], None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    assert!(html.contains("choose a file to attach"), "{name}: {html}");
    assert_eq!(
        snapshot(&node, &desk, &id).await,
        before,
        "{name}: no file changed anything"
    );

    // A case opened with a file: the file is listed on its page and downloads from the
    // API's route as an attachment, never shown in place.
    let (status, html, to) = rhea
        .upload(
            "/console/support/new",
            None,
            &new_case,
            Some(("orders.csv", "text/csv", b"id,total\n1,10\n")),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}: {html}");
    let (_, page) = rhea.get(&to).await;
    assert!(page.contains("orders.csv"), "{name}: {page}");
    let href = page
        .split("href=\"/api/v1/support/cases/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|rest| format!("/api/v1/support/cases/{rest}"))
        .expect("a download link");
    let download = rhea
        .client
        .get(format!("{}{href}", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK, "{name}");
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment"),
        "{name}: {disposition}"
    );
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        download.bytes().await.unwrap().as_ref(),
        b"id,total\n1,10\n"
    );
    let (status, _) = mallory.get(&href).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{name}: not for someone who may not see it"
    );

    // And the forms work: the platform's administrator creates a company, boss adds
    // mallory by name, and rhea's case can be shared with her.
    let (status, _, to) = admin
        .post("/console/support/companies", &[("name", "globex")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert_eq!(to, "/console/support/companies/globex?done=created");
    let (status, _, to) = boss
        .post(
            "/console/support/companies/acme/members",
            &[("user", "it:mallory")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert_eq!(to, "/console/support/companies/acme?done=members");
    let (status, _, _) = boss
        .post(&format!("/console/support/cases/{id}/authorize"), &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    let (status, html, to) = rhea
        .post(
            &format!("/console/support/cases/{id}/share"),
            &[("user", "mallory")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}: {html}");
    assert_eq!(to, format!("/console/support/cases/{id}?done=share"));
    let (status, page) = mallory.get(&format!("/console/support/cases/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{name}: shared with her now");
    assert!(page.contains("id=\"body\""), "{name}: she may comment");
    assert!(!page.contains("/close\""), "{name}: and not close");
    let (_, mallory_api) = node
        .get(&format!("/api/v1/support/cases/{id}"), &desk.mallory)
        .await;
    assert_eq!(mallory_api["status"], "open", "{name}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_forms_need_the_token_refuse_others_and_explain_bad_input() {
    on_both(no_tweak, forms_refuse).await;
}

async fn list_pages(node: Node) {
    let name = node.name();
    let desk = desk(&node).await;
    // 53 cases of acme from rhea (who is in no company, so suspended), written through
    // the store as the benchmark seeds them; two of them then closed through the API.
    let state = &node.server().state;
    let company = state.store.support_company("acme").await.unwrap().unwrap();
    let requester = rampart_core::UserId::parse(&desk.rhea_id, "user").unwrap();
    let limits = rampart_support::RateLimits {
        window: time::Duration::minutes(1),
        per_requester: u32::MAX,
        per_company: u32::MAX,
    };
    let mut ids = Vec::new();
    for i in 0..53 {
        node.clock.advance(time::Duration::seconds(1));
        let opened = state
            .store
            .support_open_case(
                &rampart_core::AuditContext::default(),
                rampart_core::Clock::now(&*node.clock),
                &company,
                rampart_store::NewCase {
                    requester,
                    requester_name: "it:rhea".into(),
                    subject: format!("Case number {i:02}"),
                    description: "Seeded.".into(),
                    severity: "normal".into(),
                },
                limits,
            )
            .await
            .unwrap();
        ids.push(opened.case.id);
    }
    for id in &ids[..2] {
        let (status, body) = node
            .post_empty(&format!("/api/v1/support/cases/{id}/close"), &desk.rhea)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let boss = Console::sign_in(&node, "boss", USER_PASSWORD).await;
    let rows = |html: &str| html.matches("href=\"/console/support/cases/").count();

    // Newest first, 50 a page, then the rest; the next page keeps the filters.
    let (status, first) = boss.get("/console/support?company=acme").await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert_eq!(rows(&first), 50, "{name}");
    assert!(first.contains("Case number 52"), "{name}");
    assert!(!first.contains("Case number 02<"), "{name}");
    let next = first
        .split("<a href=\"/console/support?")
        .find(|part| part.contains("after="))
        .and_then(|part| part.split('"').next())
        .map(|query| {
            format!(
                "/console/support?{}",
                query.replace("&#38;", "&").replace("&amp;", "&")
            )
        })
        .expect("a next page");
    assert!(next.contains("company=acme"), "{name}: {next}");
    let (status, second) = boss.get(&next).await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert_eq!(rows(&second), 3, "{name}");
    assert!(second.contains("Case number 00"), "{name}");
    assert!(second.contains("First page"), "{name}");
    assert!(!second.contains("Next page"), "{name}");

    // Filtered by status: the closed ones, and the suspended ones (each decidable by boss).
    let (_, closed) = boss
        .get("/console/support?status=closed&company=acme")
        .await;
    assert_eq!(rows(&closed), 2, "{name}");
    assert!(
        !closed.contains("/authorize\""),
        "{name}: nothing to decide"
    );
    let (_, suspended) = boss.get("/console/support?status=suspended").await;
    assert_eq!(rows(&suspended), 50, "{name}");
    assert_eq!(suspended.matches("/authorize\"").count(), 50, "{name}");

    // A filter that is not one is explained beside its field; nothing is listed.
    let (status, html) = boss.get("/console/support?status=pending").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    assert!(html.contains("id=\"status-problem\""), "{name}: {html}");
    assert_eq!(rows(&html), 0, "{name}");
    let (status, html) = boss.get("/console/support?company=nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    assert!(html.contains("id=\"company-problem\""), "{name}: {html}");
    let (status, html) = boss.get("/console/support?after=not-a-case").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    assert!(html.contains("must be a case id"), "{name}: {html}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_case_list_pages_and_filters() {
    on_both(no_tweak, list_pages).await;
}
