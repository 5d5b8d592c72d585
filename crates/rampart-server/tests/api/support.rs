//! The support desk through the API on both stores: companies and their people, cases that
//! start open or suspended, who sees them (a case one may not see is a 404), decisions by
//! session and by the link a real SMTP server received (aiosmtpd on loopback, started once
//! for this test binary by `scripts/peers/smtp.sh --serve`), and each refusal.

use rampart_core::{AuditContext, Clock as _, Email, Provider, Username};
use rampart_service::Config;
use rampart_store::NewUser;
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

pub(crate) use crate::kit::smtp::{links, mail_in, mail_to, serve_smtp, with_smtp, Smtp};
use crate::kit::{on_both, problem_type, Node, USER_PASSWORD};

fn with_small_limits(config: &mut Config) {
    config.support.per_requester = 2;
    config.support.per_company = 3;
    config.support.max_attachment_bytes = 1000;
}

/// Sends `content` as `media_type`, named `name`, to case `id`.
async fn upload(
    node: &Node,
    token: &str,
    id: &str,
    name: &str,
    media_type: &str,
    content: &[u8],
) -> (StatusCode, Value) {
    let response = node
        .client
        .post(format!(
            "{}/api/v1/support/cases/{id}/attachments",
            node.base
        ))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", media_type)
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A unique address for this test and backend, so parallel tests read their own mail.
pub(crate) fn address(node: &Node, who: &str) -> String {
    format!(
        "{who}-{}-{}@example.test",
        node.name(),
        uuid::Uuid::new_v4().simple()
    )
}

/// An end user with an e-mail address; returns (id, token).
pub(crate) async fn person(node: &Node, name: &str, email: Option<&str>) -> (String, String) {
    let state = &node.server().state;
    let hash = state
        .credentials
        .hash_password(USER_PASSWORD)
        .await
        .unwrap();
    let user = state
        .store
        .create_user(
            &NewUser {
                provider: Provider::End,
                username: Username::parse(name).unwrap(),
                display_name: None,
                email: email.map(|e| Email::parse(e).unwrap()),
                password_hash: hash,
                is_admin: false,
            },
            node.clock.now(),
            &AuditContext {
                node_id: "test".into(),
                ..AuditContext::default()
            },
        )
        .await
        .unwrap();
    let token = node.login("end", name, USER_PASSWORD).await;
    (user.id.to_string(), token)
}

pub(crate) fn case_body(company: &str, subject: &str) -> Value {
    json!({
        "company": company,
        "subject": subject,
        "description": "The export stops at 10,000 rows.\nSteps: open, export.",
        "severity": "high",
    })
}

/// The number of cases stored, whoever opened them.
async fn case_count(node: &Node, admin: &str) -> usize {
    let (status, body) = node.get("/api/v1/support/cases?limit=200", admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["cases"].as_array().unwrap().len()
}

/// A company `acme` with administrator `boss` (with e-mail `boss_mail`) and member `mia`.
pub(crate) struct Desk {
    pub(crate) admin: String,
    pub(crate) boss: (String, String),
    pub(crate) mia: (String, String),
}

pub(crate) async fn desk(node: &Node, boss_mail: Option<&str>) -> Desk {
    let admin = node.admin().await;
    let (status, body) = node
        .post(
            "/api/v1/support/companies",
            &admin,
            json!({ "name": "acme" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let boss = person(node, "boss", boss_mail).await;
    let mia = person(node, "mia", None).await;
    let (status, body) = node
        .post(
            "/api/v1/support/companies/acme/administrators",
            &admin,
            json!({ "user": boss.0 }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The company's administrator adds members.
    let (status, body) = node
        .post(
            "/api/v1/support/companies/acme/members",
            &boss.1,
            json!({ "user": mia.0 }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    Desk { admin, boss, mia }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_authorizes_a_requester_with_the_link_the_mail_server_received() {
    on_both(with_smtp, |node| async move {
        let name = node.name();
        let boss_mail = address(&node, "boss");
        let otto_mail = address(&node, "otto");
        let d = desk(&node, Some(&boss_mail)).await;
        let (otto_id, otto) = person(&node, "otto", Some(&otto_mail)).await;

        // A member's case opens at once; nobody is asked.
        let (status, open) = node
            .post(
                "/api/v1/support/cases",
                &d.mia.1,
                case_body("acme", "Export stops"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {open}");
        assert_eq!(open["status"], "open");
        assert!(open.get("reason").is_none());

        // Anyone else's waits, says why, and every administrator is asked by e-mail.
        let (status, first) = node
            .post(
                "/api/v1/support/cases",
                &otto,
                case_body("acme", "Login fails"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {first}");
        assert_eq!(first["status"], "suspended");
        let reason = first["reason"].as_str().unwrap();
        assert!(
            reason.contains("not an authorized contact of acme"),
            "{reason}"
        );
        assert!(reason.contains("administrators"), "{reason}");
        let (_, second) = node
            .post(
                "/api/v1/support/cases",
                &otto,
                case_body("acme", "Second question"),
            )
            .await;
        assert_eq!(second["status"], "suspended");

        let to_boss = mail_to(&boss_mail);
        assert_eq!(to_boss.len(), 2, "{name}: one message per suspended case");
        let (head, body) = &to_boss[0];
        assert!(
            head.contains("Subject: [acme] end:otto asks for support"),
            "{head}"
        );
        assert!(body.contains("Login fails"), "{body}");
        let (authorize, ignore) = links(body);
        assert!(authorize.starts_with("rsl_") && ignore.starts_with("rsl_"));
        assert_ne!(authorize, ignore);
        let (_, told) = &mail_to(&otto_mail)[0];
        assert!(told.contains("suspended"), "{told}");

        // The administrator's inbox holds the suspended cases.
        let (status, inbox) = node
            .get("/api/v1/support/cases?status=suspended", &d.boss.1)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(inbox["cases"].as_array().unwrap().len(), 2, "{inbox}");

        let follow = |token: &str| format!("/api/v1/support/links/{token}");
        // The requester cannot authorize themselves, another person cannot use the link,
        // and a forged one is not found; none of them changes anything.
        let (status, p) = node.post_empty(&follow(&authorize), &otto).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("requester"), "{p}");
        let (status, p) = node.post_empty(&follow(&authorize), &d.mia.1).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("another administrator"),
            "{p}"
        );
        let forged = format!("rsl_{}", "A".repeat(43));
        let (status, p) = node.post_empty(&follow(&forged), &d.boss.1).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        let (status, p) = node.post_empty(&follow("rsl_short"), &d.boss.1).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        let (_, still) = node
            .get(
                &format!("/api/v1/support/cases/{}", first["id"].as_str().unwrap()),
                &otto,
            )
            .await;
        assert_eq!(still["status"], "suspended");

        // The administrator follows it: both of the requester's suspended cases open.
        let (status, decided) = node.post_empty(&follow(&authorize), &d.boss.1).await;
        assert_eq!(status, StatusCode::OK, "{name}: {decided}");
        assert_eq!(decided["decision"], "authorize");
        assert_eq!(decided["case"]["status"], "open");
        assert_eq!(decided["opened"].as_array().unwrap().len(), 2);
        let (_, other) = node
            .get(
                &format!("/api/v1/support/cases/{}", second["id"].as_str().unwrap()),
                &otto,
            )
            .await;
        assert_eq!(other["status"], "open");
        let (_, told) = mail_to(&otto_mail).pop().unwrap();
        assert!(told.contains("authorized you"), "{told}");

        // Used once; its sibling Ignore link and the second case's links are spent too.
        let (status, p) = node.post_empty(&follow(&authorize), &d.boss.1).await;
        assert_eq!(status, StatusCode::CONFLICT, "{p}");
        assert!(
            p["detail"].as_str().unwrap().contains("used already"),
            "{p}"
        );
        let (status, _) = node.post_empty(&follow(&ignore), &d.boss.1).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (second_authorize, _) = links(&to_boss[1].1);
        let (status, _) = node.post_empty(&follow(&second_authorize), &d.boss.1).await;
        assert_eq!(status, StatusCode::CONFLICT);

        // The requester is now a member: the next case opens at once.
        let (_, third) = node
            .post("/api/v1/support/cases", &otto, case_body("acme", "Third"))
            .await;
        assert_eq!(third["status"], "open", "{third}");
        let (_, members) = node
            .get("/api/v1/support/companies/acme/members", &d.boss.1)
            .await;
        assert!(members["people"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["user"] == otto_id.as_str()));

        // Every step is in the system stream, naming company, case, requester and decider;
        // no token is anywhere in the log.
        let events = node.events().await;
        let authorized = events
            .iter()
            .find(|e| e.action == "support.requester.authorize")
            .expect("authorize event");
        let details: Value = serde_json::from_str(&authorized.details).unwrap();
        assert_eq!(details["company"], "acme");
        assert_eq!(details["case"], first["id"]);
        assert_eq!(details["requester"], otto_id.as_str());
        assert_eq!(details["decider"], d.boss.0.as_str());
        assert_eq!(details["via"], "link");
        assert_eq!(authorized.stream, "system");
        let refused: Vec<String> = events
            .iter()
            .filter(|e| e.action == "support.link.use" && e.outcome == "failure")
            .map(|e| serde_json::from_str::<Value>(&e.details).unwrap()["refused"].to_string())
            .collect();
        for why in ["requester", "other-person", "unknown", "used"] {
            assert!(
                refused.iter().any(|r| r.contains(why)),
                "{name}: {why} in {refused:?}"
            );
        }
        for e in &events {
            for secret in [&authorize, &ignore, &second_authorize] {
                assert!(!e.details.contains(secret.as_str()), "{}", e.action);
                let target = e.target.as_deref().unwrap_or_default();
                assert!(!target.contains(secret.as_str()), "{}: {target}", e.action);
                let body = e.body.as_deref().unwrap_or_default();
                assert!(!body.contains(secret.as_str()), "{}: {body}", e.action);
            }
        }
        // The end users' access events name the route of a link, not its token.
        assert!(events.iter().any(|e| e.stream == "access"
            && e.target.as_deref() == Some("/api/v1/support/links/{token}")));
        for action in [
            "support.company.create",
            "support.case.open",
            "support.case.notify",
        ] {
            assert!(events.iter().any(|e| e.action == action), "{action}");
        }
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_is_refused_and_an_ignored_case_stays_suspended_then_closes() {
    on_both(with_smtp, |node| async move {
        let name = node.name();
        let boss_mail = address(&node, "boss");
        let d = desk(&node, Some(&boss_mail)).await;
        let (_, otto) = person(&node, "otto", None).await;
        let (_, case) = node
            .post(
                "/api/v1/support/cases",
                &otto,
                case_body("acme", "Old question"),
            )
            .await;
        let id = case["id"].as_str().unwrap().to_owned();
        let (authorize, _) = links(&mail_to(&boss_mail)[0].1);

        // Three days later the link has expired (sessions too: sign in again).
        node.clock.advance(Duration::hours(73));
        let boss = node.login("end", "boss", USER_PASSWORD).await;
        let otto = node.login("end", "otto", USER_PASSWORD).await;
        let (status, p) = node
            .post_empty(&format!("/api/v1/support/links/{authorize}"), &boss)
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");

        // By session the requester cannot decide, a member who cannot see the case is told
        // it does not exist, and the administrator ignores it.
        let (status, _) = node
            .post_empty(&format!("/api/v1/support/cases/{id}/ignore"), &otto)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let mia = node.login("end", "mia", USER_PASSWORD).await;
        let (status, _) = node
            .post_empty(&format!("/api/v1/support/cases/{id}/authorize"), &mia)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, ignored) = node
            .post_empty(&format!("/api/v1/support/cases/{id}/ignore"), &boss)
            .await;
        assert_eq!(status, StatusCode::OK, "{ignored}");
        assert_eq!(ignored["case"]["status"], "suspended");
        assert!(ignored["case"]["reason"]
            .as_str()
            .unwrap()
            .contains("did not authorize you"));
        let (_, seen) = node
            .get(&format!("/api/v1/support/cases/{id}"), &otto)
            .await;
        assert_eq!(seen["status"], "suspended");
        assert!(seen["reason"]
            .as_str()
            .unwrap()
            .contains("did not authorize"));

        // After the configured period it closes.
        node.clock.advance(Duration::days(15));
        let closed = rampart_service::support::cases::close_ignored(&node.server().state)
            .await
            .unwrap();
        assert_eq!(closed, 1);
        let admin = node.login("it", "admin", crate::kit::ADMIN_PASSWORD).await;
        let (_, seen) = node
            .get(&format!("/api/v1/support/cases/{id}"), &admin)
            .await;
        assert_eq!(seen["status"], "closed", "{name}: {seen}");

        let events = node.events().await;
        let ignore = events
            .iter()
            .find(|e| e.action == "support.requester.ignore")
            .unwrap();
        let details: Value = serde_json::from_str(&ignore.details).unwrap();
        assert_eq!(details["decider"], d.boss.0.as_str());
        assert_eq!(details["via"], "session");
        assert!(events
            .iter()
            .any(|e| e.action == "support.link.use" && e.details.contains("expired")));
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_are_hidden_from_those_who_may_not_see_them_and_a_removed_member_loses_them() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        let d = desk(&node, None).await;
        let (_, mia_case) = node
            .post(
                "/api/v1/support/cases",
                &d.mia.1,
                case_body("acme", "<b>bold</b> & co"),
            )
            .await;
        let id = mia_case["id"].as_str().unwrap().to_owned();
        assert_eq!(mia_case["subject"], "<b>bold</b> & co", "stored as written");
        let path = format!("/api/v1/support/cases/{id}");

        // Another member, an outsider and a missing case all answer the same 404.
        let (_, max) = person(&node, "max", None).await;
        let (status, p) = node.get(&path, &max).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {p}");
        let missing = format!("/api/v1/support/cases/{}", uuid::Uuid::now_v7());
        let (status, q) = node.get(&missing, &max).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(p["detail"], q["detail"]);
        let (status, _) = node.get("/api/v1/support/cases/not-a-case", &max).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = node
            .post(&format!("{path}/comments"), &max, json!({ "body": "hi" }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, list) = node.get("/api/v1/support/cases", &max).await;
        assert_eq!(status, StatusCode::OK);
        assert!(list["cases"].as_array().unwrap().is_empty());
        // Nor may they read the company's people.
        let (status, _) = node
            .get("/api/v1/support/companies/acme/members", &max)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = node
            .post("/api/v1/support/companies", &max, json!({ "name": "evil" }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Shared with another member, the case is theirs to see and comment on (not to
        // close); only while they are a member.
        let max_id = {
            let (_, people) = node
                .get("/api/v1/support/companies/acme/members", &d.boss.1)
                .await;
            assert_eq!(people["people"].as_array().unwrap().len(), 2, "{people}");
            let users: Value = node.get("/api/v1/users?prefix=max", &d.admin).await.1;
            users["items"][0]["id"].as_str().unwrap().to_owned()
        };
        let share = format!("{path}/shares");
        let (status, p) = node.post(&share, &d.mia.1, json!({ "user": max_id })).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a member yet: {p}"
        );
        let (status, _) = node
            .post(
                "/api/v1/support/companies/acme/members",
                &d.boss.1,
                json!({ "user": max_id }),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = node.get(&path, &max).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a member, but not shared with"
        );
        let (status, p) = node.post(&share, &d.mia.1, json!({ "user": max_id })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{p}");
        let (status, _) = node.post(&share, &d.mia.1, json!({ "user": max_id })).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = node.get(&path, &max).await;
        assert_eq!(status, StatusCode::OK);
        let (_, list) = node.get("/api/v1/support/cases", &max).await;
        assert_eq!(list["cases"].as_array().unwrap().len(), 1, "{list}");
        let (status, _) = node.post_empty(&format!("{path}/close"), &max).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = node.post(&share, &max, json!({ "user": d.boss.0 })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only the requester shares");
        let (status, _) = node
            .delete(
                &format!("/api/v1/support/companies/acme/members/{max_id}"),
                &d.boss.1,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = node.get(&path, &max).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "removed: the share no longer opens it"
        );
        let (_, list) = node.get("/api/v1/support/cases", &max).await;
        assert!(list["cases"].as_array().unwrap().is_empty(), "{list}");

        // The operator's support staff (IT role `support`) see and work on every case, and
        // decide on nobody; an IT user without the role sees nothing.
        let sam = node
            .create_user(Provider::It, "sam", USER_PASSWORD, false)
            .await;
        let (status, body) = node
            .post(
                "/api/v1/it/write",
                &d.admin,
                json!({ "operations": [{ "op": "set_it_role", "user": sam, "role": "support" }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        node.create_user(Provider::It, "ivy", USER_PASSWORD, false)
            .await;
        let sam = node.login("it", "sam", USER_PASSWORD).await;
        let ivy = node.login("it", "ivy", USER_PASSWORD).await;
        let (status, _) = node.get(&path, &sam).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let (_, list) = node.get("/api/v1/support/cases", &sam).await;
        assert_eq!(list["cases"].as_array().unwrap().len(), 1, "{list}");
        let (status, _) = node.get(&path, &ivy).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = node
            .post(
                &format!("{path}/comments"),
                &sam,
                json!({ "body": "Looking into it." }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);

        // The requester comments, closes and reopens; the administrator sees it all.
        let (status, c) = node
            .post(
                &format!("{path}/comments"),
                &d.mia.1,
                json!({ "body": "<script>x</script>" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        assert_eq!(c["number"], 2);
        let (status, closed) = node.post_empty(&format!("{path}/close"), &d.mia.1).await;
        assert_eq!(status, StatusCode::OK, "{closed}");
        assert_eq!(closed["status"], "closed");
        let (status, _) = node.post_empty(&format!("{path}/close"), &d.mia.1).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, reopened) = node.post_empty(&format!("{path}/reopen"), &d.boss.1).await;
        assert_eq!(reopened["status"], "open");
        let (_, seen) = node.get(&path, &d.boss.1).await;
        assert_eq!(seen["comments"][1]["body"], "<script>x</script>");
        let (status, _) = node
            .post_empty(&format!("{path}/authorize"), &d.boss.1)
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "an open case has nobody to decide on"
        );

        // Removing the member hides the company's cases from her and stops her new ones.
        let (status, p) = node
            .delete(
                &format!("/api/v1/support/companies/acme/members/{}", d.mia.0),
                &d.boss.1,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{p}");
        let (status, _) = node.get(&path, &d.mia.1).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, list) = node.get("/api/v1/support/cases", &d.mia.1).await;
        assert!(list["cases"].as_array().unwrap().is_empty(), "{list}");
        let before = case_count(&node, &d.admin).await;
        let (status, p) = node
            .post(
                "/api/v1/support/cases",
                &d.mia.1,
                case_body("acme", "again"),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("removed"), "{p}");
        assert_eq!(case_count(&node, &d.admin).await, before);
        // An administrator is removed from the administrators before the members.
        let (status, _) = node
            .delete(
                &format!("/api/v1/support/companies/acme/members/{}", d.boss.0),
                &d.admin,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        let events = node.events().await;
        assert!(events
            .iter()
            .any(|e| e.action == "support.member.remove" && e.details.contains(&d.mia.0)));
        assert!(events.iter().any(|e| e.action == "support.case.share"));
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_rate_limits_are_refused_and_store_nothing() {
    on_both(with_small_limits, |node| async move {
        let name = node.name();
        let d = desk(&node, None).await;
        let bad = [
            (json!({"company": "acme", "subject": "Hi\r\nBcc: victim@example.test", "description": "x", "severity": "low"}), "subject"),
            (json!({"company": "acme", "subject": "", "description": "x", "severity": "low"}), "subject"),
            (json!({"company": "acme", "subject": "ok", "description": "a\u{0}b", "severity": "low"}), "description"),
            (json!({"company": "acme", "subject": "ok", "description": "", "severity": "low"}), "description"),
            (json!({"company": "acme", "subject": "ok", "description": "x", "severity": "urgent!"}), "severity"),
            (json!({"company": "no such/company", "subject": "ok", "description": "x", "severity": "low"}), "company"),
        ];
        for (body, field) in bad {
            let (status, p) = node.post("/api/v1/support/cases", &d.mia.1, body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {p}");
            assert_eq!(p["field"], field, "{p}");
        }
        let (status, _) = node
            .post("/api/v1/support/cases", &d.mia.1, case_body("nobody", "x"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, p) = node.get("/api/v1/support/cases?status=pending", &d.mia.1).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let (status, p) = node.get("/api/v1/support/cases?colour=red", &d.mia.1).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let (status, p) = node
            .post("/api/v1/support/companies/acme/members", &d.boss.1, json!({ "user": "bob" }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(case_count(&node, &d.admin).await, 0);

        // Two cases per requester in the window, three per company.
        for i in 0..2 {
            let (status, _) = node
                .post("/api/v1/support/cases", &d.mia.1, case_body("acme", &format!("m{i}")))
                .await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, p) = node
            .post("/api/v1/support/cases", &d.mia.1, case_body("acme", "m3"))
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{p}");
        assert_eq!(problem_type(&p), "limit-reached");
        assert!(p["detail"].as_str().unwrap().contains("you opened 2"), "{p}");
        let (status, _) = node
            .post("/api/v1/support/cases", &d.boss.1, case_body("acme", "b1"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, p) = node
            .post("/api/v1/support/cases", &d.boss.1, case_body("acme", "b2"))
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(p["detail"].as_str().unwrap().contains("company received 3"), "{p}");
        assert_eq!(case_count(&node, &d.admin).await, 3);
        // The window passes.
        node.clock.advance(Duration::minutes(61));
        let mia = node.login("end", "mia", USER_PASSWORD).await;
        let (status, _) = node
            .post("/api/v1/support/cases", &mia, case_body("acme", "later"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        node.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_checked_hashed_and_served_only_as_downloads() {
    on_both(with_small_limits, |node| async move {
        let name = node.name();
        let d = desk(&node, None).await;
        let (_, case) = node
            .post(
                "/api/v1/support/cases",
                &d.mia.1,
                case_body("acme", "Screenshot"),
            )
            .await;
        let id = case["id"].as_str().unwrap().to_owned();
        let png = b"\x89PNG\r\n\x1a\n-not-really-an-image";
        let (status, a) = upload(&node, &d.mia.1, &id, "résumé <1>.png", "image/png", png).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {a}");
        assert_eq!(a["number"], 1);
        assert_eq!(a["size"], png.len());
        assert_eq!(
            a["sha256"],
            rampart_support::attachment::content_hash(png).as_str()
        );

        // Refused: a type not accepted, content that is not the type it claims, too large,
        // a name with a path; nothing is stored.
        let refusals: [(&str, &str, &[u8], &str); 4] = [
            (
                "page.html",
                "text/html",
                b"<script>alert(1)</script>",
                "type",
            ),
            (
                "fake.png",
                "image/png",
                b"<html><script>x</script>",
                "content",
            ),
            ("big.txt", "text/plain", &[b'a'; 1001], "content"),
            ("../../x.txt", "text/plain", b"x", "name"),
        ];
        for (file, media_type, content, field) in refusals {
            let (status, p) = upload(&node, &d.mia.1, &id, file, media_type, content).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{file}: {p}");
            assert_eq!(p["field"], field, "{p}");
        }
        // Someone who may not see the case cannot add to it or read it.
        let (_, max) = person(&node, "max", None).await;
        let (status, _) = upload(&node, &max, &id, "x.txt", "text/plain", b"x").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let download = format!("{}/api/v1/support/cases/{id}/attachments/1", node.base);
        let denied = node
            .client
            .get(&download)
            .bearer_auth(&max)
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), StatusCode::NOT_FOUND);

        let (_, seen) = node
            .get(&format!("/api/v1/support/cases/{id}"), &d.boss.1)
            .await;
        assert_eq!(seen["attachments"].as_array().unwrap().len(), 1, "{seen}");
        let got = node
            .client
            .get(&download)
            .bearer_auth(&d.boss.1)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        let h = got.headers().clone();
        assert_eq!(h["content-type"], "image/png");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let disposition = h["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"r_sum_ <1>.png\""),
            "{disposition}"
        );
        assert!(
            disposition.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%3C1%3E.png"),
            "{disposition}"
        );
        assert_eq!(got.bytes().await.unwrap().as_ref(), png);
        let missing = node
            .client
            .get(format!(
                "{}/api/v1/support/cases/{id}/attachments/2",
                node.base
            ))
            .bearer_auth(&d.boss.1)
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);

        let events = node.events().await;
        let attached: Vec<_> = events
            .iter()
            .filter(|e| e.action == "support.case.attach")
            .collect();
        assert_eq!(attached.len(), 1);
        assert!(attached[0].details.contains(a["sha256"].as_str().unwrap()));
        node.shutdown().await;
    })
    .await;
}

/// The `_csrf` value of the first form of a console page.
fn csrf_of(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with a CSRF token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_authorizes_a_requester_from_the_console_inbox() {
    on_both(crate::kit::no_tweak, |node| async move {
        let name = node.name();
        desk(&node, None).await;
        let (_, otto) = person(&node, "otto", None).await;
        let (_, case) = node
            .post(
                "/api/v1/support/cases",
                &otto,
                case_body("acme", "<img src=x onerror=alert(1)> broken"),
            )
            .await;
        let id = case["id"].as_str().unwrap().to_owned();

        // The platform's administrator signs in to the console like a browser would.
        let browser = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = browser
            .get(format!("{}/console/login", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let signed_in = browser
            .post(format!("{}/console/login", node.base))
            .header("origin", &node.base)
            .form(&[
                ("_csrf", csrf_of(&login).as_str()),
                ("return", "/console/support"),
                ("username", "admin"),
                ("password", crate::kit::ADMIN_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "{name}");

        let inbox = browser
            .get(format!("{}/console/support", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(inbox.status(), StatusCode::OK);
        let html = inbox.text().await.unwrap();
        // The case's text is escaped where it is shown.
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62; broken"),
            "{html}"
        );
        assert!(!html.contains("<img src=x"), "{html}");
        let action = format!("/console/support/cases/{id}/authorize");
        assert!(html.contains(&action), "{html}");

        // A forged form (no token) changes nothing.
        let forged = browser
            .post(format!("{}{action}", node.base))
            .header("origin", &node.base)
            .form(&[("_csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let (_, still) = node
            .get(&format!("/api/v1/support/cases/{id}"), &otto)
            .await;
        assert_eq!(still["status"], "suspended");

        let done = browser
            .post(format!("{}{action}", node.base))
            .header("origin", &node.base)
            .form(&[("_csrf", csrf_of(&html).as_str()), ("from", "list")])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(
            done.headers()["location"],
            "/console/support?done=authorize"
        );
        let (_, now) = node
            .get(&format!("/api/v1/support/cases/{id}"), &otto)
            .await;
        assert_eq!(now["status"], "open", "{name}: {now}");
        let after = browser
            .get(format!("{}/console/support?done=authorize", node.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(after.contains("The requester is authorized"), "{after}");
        assert!(!after.contains(&action), "nothing left to decide: {after}");

        // Deciding again is refused with the API's reason.
        let again = browser
            .post(format!("{}{action}", node.base))
            .header("origin", &node.base)
            .form(&[("_csrf", csrf_of(&after).as_str()), ("from", "list")])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);

        let events = node.events().await;
        let decided = events
            .iter()
            .find(|e| e.action == "support.requester.authorize")
            .unwrap();
        assert_eq!(decided.actor_name.as_deref(), Some("it:admin"));
        node.shutdown().await;
    })
    .await;
}
