//! Enrolment links mailed to their holder through a real SMTP server (aiosmtpd on loopback,
//! `kit::smtp`), on SQLite and PostgreSQL: the administrator learns where the link went,
//! never the link; the message holds a link that registers the passkey; who may have one
//! mailed, and to which accounts; and a mail server that does not take the message is a
//! clear error, recorded, with nothing mailed.

use reqwest::StatusCode;
use serde_json::Value;

use crate::enrolment::{challenge, enrol, without_password};
use crate::kit::smtp::{mail_to, with_smtp};
use crate::kit::{on_both, problem_type, Node, USER_PASSWORD};
use crate::passkeys::{passkeys, Authenticator, ORIGIN};

fn passkeys_and_mail(config: &mut rampart_service::Config) {
    passkeys(config);
    with_smtp(config);
}

/// A mail server that answers nobody: a loopback port nothing listens on.
fn passkeys_and_no_mail_server(config: &mut rampart_service::Config) {
    passkeys_and_mail(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.support.smtp_port = listener.local_addr().unwrap().port();
}

async fn mail(node: &Node, token: &str, id: &str) -> (StatusCode, Value) {
    node.post_empty(&format!("/api/v1/users/{id}/enrolment/mail"), token)
        .await
}

fn issued(events: &[rampart_store::StoredEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.action == "user.enrolment.issue")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_link_is_mailed_to_its_holder_alone_and_registers_the_passkey() {
    on_both(passkeys_and_mail, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let address = format!("nora-{name}@example.com");
        let nora = without_password(&node, &admin, "nora", Some(&address)).await;

        // Who may, and for which accounts: nothing is mailed for any of these.
        let ulla = node
            .create_user(rampart_core::Provider::It, "ulla", USER_PASSWORD, false)
            .await;
        let ulla_token = node.login("it", "ulla", USER_PASSWORD).await;
        let (s, _) = mail(&node, &ulla_token, &nora).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}");
        let (s, body) = mail(&node, &admin, &ulla.to_string()).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{name}: an account with a password: {body}"
        );
        let olga = without_password(&node, &admin, "olga", None).await;
        let (s, body) = mail(&node, &admin, &olga).await;
        assert_eq!(s, StatusCode::CONFLICT, "{name}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("no e-mail address"),
            "{name}: {body}"
        );
        let (s, _) = mail(&node, &admin, &uuid::Uuid::now_v7().to_string()).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{name}");
        let (s, _) = mail(&node, &admin, "not-an-id").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(mail_to(&address).is_empty(), "{name}");
        assert_eq!(issued(&node.events().await), 0, "{name}");

        // The administrator learns where it went, and until when; never the link.
        let (s, mailed) = mail(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {mailed}");
        assert_eq!(mailed["mailed_to"], address.as_str(), "{name}: {mailed}");
        assert!(mailed["expires_at"].is_string(), "{name}: {mailed}");
        assert!(!mailed.to_string().contains("rpe_"), "{name}: {mailed}");

        // One message, to her, holding the link.
        let letters = mail_to(&address);
        assert_eq!(letters.len(), 1, "{name}: {letters:?}");
        let (head, body) = &letters[0];
        assert!(
            head.contains("Subject: Set up your passkey"),
            "{name}: {head}"
        );
        assert!(body.contains("the account nora"), "{name}: {body}");
        let token = body
            .split(&format!("{ORIGIN}/enrol#"))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name}: no link in {body}"))
            .to_owned();
        assert!(token.starts_with("rpe_"), "{name}: {token}");

        // The event says where it went, and never holds the token.
        let events = node.events().await;
        assert_eq!(issued(&events), 1, "{name}");
        let event = events
            .iter()
            .find(|e| e.action == "user.enrolment.issue")
            .unwrap();
        assert!(
            event
                .details
                .contains(&format!("\"mailed_to\":\"{address}\"")),
            "{name}: {}",
            event.details
        );
        assert!(
            events.iter().all(|e| !e.details.contains(&token[4..])),
            "{name}: the token is in an event"
        );

        // The mailed link registers her passkey, once.
        let (s, options) = challenge(&node, &token).await;
        assert_eq!(s, StatusCode::OK, "{name}: {options}");
        let key = Authenticator::new(&format!("nora {name}"));
        let credential = key.register(&options["publicKey"]);
        let (s, enrolled) = enrol(&node, &token, credential.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {enrolled}");
        assert_eq!(enrolled["username"], "nora", "{name}");
        let (s, _) = enrol(&node, &token, credential).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: a spent link");

        // A link mailed again is a second message.
        let (s, _) = mail(&node, &admin, &nora).await;
        assert_eq!(s, StatusCode::CREATED, "{name}");
        assert_eq!(mail_to(&address).len(), 2, "{name}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_does_not_take_the_link_is_a_clear_error_and_recorded() {
    on_both(passkeys_and_no_mail_server, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let address = format!("nina-{name}@example.com");
        let nina = without_password(&node, &admin, "nina", Some(&address)).await;
        let (s, body) = mail(&node, &admin, &nina).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::BAD_GATEWAY, "mail-not-sent"),
            "{name}: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(&address),
            "{name}: {body}"
        );
        assert!(!body.to_string().contains("rpe_"), "{name}: {body}");
        let failed = node
            .events()
            .await
            .into_iter()
            .find(|e| e.action == "user.enrolment.mail")
            .unwrap_or_else(|| panic!("{name}: no user.enrolment.mail event"));
        assert_eq!(failed.outcome, "failure", "{name}");
        assert_eq!(
            failed.target.as_deref(),
            Some(format!("user:{nina}").as_str()),
            "{name}"
        );
        assert!(
            failed.details.contains("not-accepted"),
            "{name}: {}",
            failed.details
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailing_a_link_needs_a_recent_second_factor_from_an_administrator_who_has_one() {
    let tweak = |config: &mut rampart_service::Config| {
        passkeys_and_mail(config);
        crate::apps_sensitive::with_master_key(config);
    };
    on_both(tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let address = format!("pia-{name}@example.com");
        let pia = without_password(&node, &admin, "pia", Some(&address)).await;
        let (secret, _) = crate::mfa::enrol(&node, &admin).await;
        node.clock.advance(time::Duration::minutes(11));

        // A stale session: refused, nothing issued, nothing mailed.
        let (s, body) = mail(&node, &admin, &pia).await;
        assert_eq!(
            (s, problem_type(&body)),
            (StatusCode::FORBIDDEN, "step-up-required"),
            "{name}: {body}"
        );
        assert!(mail_to(&address).is_empty(), "{name}");
        assert_eq!(issued(&node.events().await), 0, "{name}");

        // After a step-up it goes out.
        let (s, body) = crate::mfa::call(
            &node,
            reqwest::Method::POST,
            "/api/v1/auth/step-up",
            Some(&admin),
            serde_json::json!({ "code": crate::mfa::code(&node, &secret, 0) }),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{name}: {body}");
        let (s, body) = mail(&node, &admin, &pia).await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(mail_to(&address).len(), 1, "{name}");
    })
    .await;
}
