//! The alert outbox's console page (`/console/alerts`) over HTTP, on both stores: what
//! administrators and auditors see, the Retry form for administrators only, refusals (an
//! attempt in flight, an unknown alert, a form without its token, a caller who may not)
//! shown on the page with nothing changed, and a retry that goes through, audited.
//!
//! The outbox is written through the store as the delivering node writes it, at times the
//! node's stopped clock has not reached, so that its delivering task leaves it alone until
//! the test asks for a delivery again.
//!
//! In headless Chromium (`tests/console/alerts.js`): the page checked by axe-core, fitting
//! 1280 px and a phone's width, and an administrator's Retry clicked through to its notice,
//! the request to deliver again then read back from the audit log.

use rampart_core::{AuditContext, AuditEvent, Clock, Outcome, Provider};
use rampart_service::Config;
use rampart_store::{PendingDelivery, Store};
use reqwest::StatusCode;
use serde_json::json;

use crate::forms::Console;
use crate::kit::{on_both, Node, ADMIN_PASSWORD, USER_PASSWORD};
use crate::{install_harness, run_script, CHROMIUM};

/// Where the webhook is configured: a port nothing listens on. The page must never show it.
const HOOK: &str = "http://127.0.0.1:9/hooks/capability-path";
/// The variable holding the webhook's signing secret.
const SECRET_VAR: &str = "RAMPART_CONSOLE_ALERTS_SECRET";
const SECRET: &str = "console-alerts-test-secret";

const PAGE: &str = "/console/alerts";
const RETRY: &str = "/console/alerts/retry";

fn config(c: &mut Config) {
    c.alerts.webhook_url = HOOK.to_owned();
    c.alerts.webhook_secret = format!("env:{SECRET_VAR}");
    c.alerts.delivery_attempts = 3;
}

/// An alert's event with a delivery to the webhook, raised at `at`.
async fn alert(store: &Store, at: time::OffsetDateTime, subject: &str) -> i64 {
    let event = AuditEvent {
        action: "alert.brute_force",
        target: Some(subject.to_owned()),
        outcome: Outcome::Success,
        details: json!({ "kind": "brute_force", "severity": "high" }).to_string(),
    };
    let ctx = AuditContext {
        node_id: "node-test".into(),
        ..AuditContext::default()
    };
    store
        .record_alert(&ctx, &event, at, &["webhook"])
        .await
        .unwrap()
}

async fn delivery(store: &Store, seq: i64) -> PendingDelivery {
    store.alert_delivery(seq, "webhook").await.unwrap().unwrap()
}

/// What a refused form must leave as it was: the outbox and the requests to deliver again.
async fn snapshot(node: &Node) -> (Vec<PendingDelivery>, usize) {
    let store = &node.server().state.store;
    let outbox = store.alert_deliveries(None, 100).await.unwrap();
    let requeued = node
        .events()
        .await
        .iter()
        .filter(|e| e.action == "alert.delivery_requeued")
        .count();
    (outbox, requeued)
}

/// Three deliveries, an hour ahead of the node's clock: one gave up, one waits, and one is
/// held by an attempt in flight; answers their alerts' sequence numbers in that order.
async fn outbox(node: &Node) -> (i64, i64, i64) {
    let store = &node.server().state.store;
    let now = node.clock.now();
    let later = now + time::Duration::hours(1);
    let lease = later + time::Duration::minutes(2);
    let gave_up = alert(store, later, "it:bob").await;
    let row = delivery(store, gave_up).await;
    assert!(store
        .alert_delivery_claim(&row, "node-test/1", later, lease)
        .await
        .unwrap());
    let failed = AuditEvent {
        action: "alert.delivery_failed",
        target: Some("webhook".into()),
        outcome: Outcome::Failure,
        details: json!({
            "sink": "webhook",
            "alert": gave_up,
            "attempts": 1,
            "reason": format!("the webhook did not answer: {HOOK}"),
        })
        .to_string(),
    };
    let ctx = AuditContext {
        node_id: "node-test".into(),
        ..AuditContext::default()
    };
    assert!(store
        .alert_delivery_give_up(gave_up, "webhook", "node-test/1", &ctx, &failed, later)
        .await
        .unwrap());
    let waiting = alert(store, later, "it:carol").await;
    let in_flight = alert(store, later, "it:dave").await;
    let row = delivery(store, in_flight).await;
    assert!(store
        .alert_delivery_claim(&row, "node-test/2", later, lease)
        .await
        .unwrap());
    (gave_up, waiting, in_flight)
}

async fn the_page(node: Node) {
    let name = node.name();
    let admin_token = node.admin().await;
    let audrey_id = node
        .create_user(Provider::It, "audrey", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/it/write",
            &admin_token,
            json!({ "operations": [{ "op": "set_it_role", "user": audrey_id, "role": "auditor" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    node.create_user(Provider::It, "ivan", USER_PASSWORD, false)
        .await;
    node.create_user(Provider::End, "erin", USER_PASSWORD, false)
        .await;

    let (gave_up, waiting, in_flight) = outbox(&node).await;

    // An administrator sees both lists, the attempt in flight, and a Retry form on each.
    let admin = Console::sign_in(&node, "admin", ADMIN_PASSWORD).await;
    let (status, html) = admin.get(PAGE).await;
    assert_eq!(status, StatusCode::OK, "{name}: {html}");
    assert!(
        html.contains("href=\"/console/alerts\" aria-current=\"page\""),
        "{name}"
    );
    for id in [
        format!("id=\"failed-{gave_up}-webhook\""),
        format!("id=\"pending-{waiting}-webhook\""),
        format!("id=\"pending-{in_flight}-webhook\""),
    ] {
        assert!(html.contains(&id), "{name}: {id}: {html}");
    }
    assert!(html.contains("in flight (lease until"), "{name}: {html}");
    assert!(
        html.contains("the webhook did not answer: &#60;alerts.webhook_url&#62;"),
        "{name}: {html}"
    );
    assert!(
        !html.contains("capability-path"),
        "{name}: the address is shown"
    );
    assert!(!html.contains(SECRET), "{name}");
    assert_eq!(
        html.matches("action=\"/console/alerts/retry\"").count(),
        3,
        "{name}"
    );

    // An auditor sees the same lists, without a Retry form; the navigation leads there.
    let audrey = Console::sign_in(&node, "audrey", USER_PASSWORD).await;
    let (status, html) = audrey.get(PAGE).await;
    assert_eq!(status, StatusCode::OK, "{name}: {html}");
    assert!(
        html.contains(&format!("id=\"pending-{waiting}-webhook\"")),
        "{name}"
    );
    assert!(
        html.contains(&format!("id=\"failed-{gave_up}-webhook\"")),
        "{name}"
    );
    assert!(!html.contains("/console/alerts/retry"), "{name}: {html}");
    let (_, home) = audrey.get("/console/").await;
    assert!(home.contains("href=\"/console/alerts\""), "{name}");

    // An IT user without a role and an end user may not read it.
    let ivan = Console::sign_in(&node, "ivan", USER_PASSWORD).await;
    let (status, html) = ivan.get(PAGE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert!(!html.contains(&format!("pending-{waiting}")), "{name}");
    let (_, home) = ivan.get("/console/").await;
    assert!(!home.contains("href=\"/console/alerts\""), "{name}");
    let erin = Console::api_session(&node, "end", "erin", USER_PASSWORD).await;
    let (status, _) = erin.get(PAGE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");

    // Refused forms change nothing.
    let before = snapshot(&node).await;
    let waiting_s = waiting.to_string();
    let retry_waiting = [("alert", waiting_s.as_str()), ("sink", "webhook")];
    // The attempt in flight: 409, said on the page.
    let in_flight_s = in_flight.to_string();
    let (status, html, _) = admin
        .post(
            RETRY,
            &[("alert", in_flight_s.as_str()), ("sink", "webhook")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{name}: {html}");
    assert!(html.contains("id=\"retry-problem\""), "{name}: {html}");
    assert!(
        html.contains("an attempt is in flight; try again after it ends"),
        "{name}: {html}"
    );
    assert!(
        html.contains(&format!("id=\"pending-{waiting}-webhook\"")),
        "{name}"
    );
    // An alert that does not exist: 404, said on the page.
    let (status, html, _) = admin
        .post(RETRY, &[("alert", "999999"), ("sink", "webhook")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {html}");
    assert!(html.contains("id=\"retry-problem\""), "{name}: {html}");
    assert!(
        html.contains("no event with that sequence number"),
        "{name}: {html}"
    );
    // Not a number, or not a sink: 422.
    for fields in [
        [("alert", "twelve"), ("sink", "webhook")],
        [("alert", waiting_s.as_str()), ("sink", "sms")],
    ] {
        let (status, html, _) = admin.post(RETRY, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {html}");
        assert!(html.contains("id=\"retry-problem\""), "{name}: {html}");
    }
    // Without the token, or with another one: refused before anything else.
    let (status, html, _) = admin.send(RETRY, &retry_waiting).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    assert!(html.contains("Form refused"), "{name}: {html}");
    let mut forged = vec![("_csrf", "not-the-token")];
    forged.extend_from_slice(&retry_waiting);
    let (status, _, _) = admin.send(RETRY, &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    // By an auditor, an IT user without a role, an end user: forbidden.
    for (who, console) in [("audrey", &audrey), ("ivan", &ivan), ("erin", &erin)] {
        let (status, html, _) = console.post(RETRY, &retry_waiting).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {who}: {html}");
        // Refused for who they are, not for the form's token.
        let why = if who == "erin" {
            "Not for end users"
        } else {
            "only IT administrators may ask for an alert&#39;s delivery again"
        };
        assert!(html.contains(why), "{name}: {who}: {html}");
    }
    assert_eq!(snapshot(&node).await, before, "{name}");

    // The administrator asks for the waiting one: due now, audited, said on the page.
    let (status, _, to) = admin.post(RETRY, &retry_waiting).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert_eq!(
        to,
        format!("/console/alerts?done=waiting&alert={waiting}&sink=webhook"),
        "{name}"
    );
    let (status, html) = admin.get(&to).await;
    assert_eq!(status, StatusCode::OK, "{name}");
    assert!(
        html.contains(&format!("Alert {waiting} is due now for the webhook sink")),
        "{name}: {html}"
    );
    // And for the one that gave up: queued afresh.
    let gave_up_s = gave_up.to_string();
    let (status, _, to) = admin
        .post(RETRY, &[("alert", gave_up_s.as_str()), ("sink", "webhook")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    assert!(to.contains("done=not-queued"), "{name}: {to}");
    let requests: Vec<(Option<String>, serde_json::Value)> = node
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "alert.delivery_requeued")
        .map(|e| (e.actor_name, serde_json::from_str(&e.details).unwrap()))
        .collect();
    let seen: Vec<(Option<&str>, i64, &str)> = requests
        .iter()
        .map(|(by, d)| {
            (
                by.as_deref(),
                d["alert"].as_i64().unwrap(),
                d["was"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (Some("it:admin"), waiting, "waiting"),
            (Some("it:admin"), gave_up, "not-queued"),
        ],
        "{name}"
    );
    // A notice that names anything else is not shown.
    let (_, html) = admin
        .get("/console/alerts?done=waiting&alert=1&sink=%3Cscript%3E")
        .await;
    assert!(!html.contains("is due now"), "{name}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_outbox_page_lists_for_readers_and_retries_for_administrators_only() {
    std::env::set_var(SECRET_VAR, SECRET);
    on_both(config, the_page).await;
}

async fn in_the_browser(node: Node) {
    let name = node.name();
    node.admin().await;
    let (gave_up, waiting, _) = outbox(&node).await;
    run_script(
        &node,
        "alerts.js",
        "the alerts page's browser scenarios",
        &[
            ("CONSOLE_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("CONSOLE_WAITING", waiting.to_string()),
            ("CONSOLE_GAVE_UP", gave_up.to_string()),
        ],
        3,
    )
    .await;
    // The click went through the service: the request to deliver again, by the
    // administrator, for the waiting delivery, and for nothing else.
    let requests: Vec<(Option<String>, i64)> = node
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "alert.delivery_requeued")
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            (e.actor_name, d["alert"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(requests, [(Some("it:admin".to_owned()), waiting)], "{name}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_outbox_page_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's Chromium at {CHROMIUM}"
    );
    install_harness();
    std::env::set_var(SECRET_VAR, SECRET);
    on_both(config, in_the_browser).await;
}
