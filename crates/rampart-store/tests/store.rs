//! Storage behaviour, run on SQLite and on PostgreSQL alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use rampart_core::{AuditContext, Email, Error, Provider, UserId, Username};
use rampart_store::testing::{each_backend, TestStore};
use rampart_store::{NewSession, NewUser, Store, UserPatch, UserQuery};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

#[path = "store/apps.rs"]
mod apps;
#[path = "store/audit.rs"]
mod audit;
#[path = "store/authz.rs"]
mod authz;
#[path = "store/idp.rs"]
mod idp;
#[path = "store/scim.rs"]
mod scim;

const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn ctx() -> AuditContext {
    AuditContext {
        actor_name: Some("tester".into()),
        request_id: Some("req-1".into()),
        node_id: "node-a".into(),
        ..AuditContext::default()
    }
}

fn new_user(provider: Provider, name: &str, email: Option<&str>) -> NewUser {
    NewUser {
        provider,
        username: Username::parse(name).unwrap(),
        display_name: Some(format!("{name} Example")),
        email: email.map(|e| Email::parse(e).unwrap()),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
    }
}

async fn event_actions(store: &Store) -> Vec<String> {
    store
        .events_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.outcome))
        .collect()
}

#[tokio::test]
async fn users_are_unique_per_provider_ignoring_case() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let alice = store
            .create_user(
                &new_user(Provider::It, "Alice", Some("alice@example.org")),
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(alice.username, "Alice", "{kind}");
        assert!(!alice.is_admin);
        let dup = store
            .create_user(&new_user(Provider::It, "ALICE", None), T0, &ctx())
            .await
            .unwrap_err();
        assert!(matches!(dup, Error::Conflict(_)), "{kind}: {dup:?}");
        let same_email = store
            .create_user(
                &new_user(Provider::It, "alice2", Some("ALICE@example.org")),
                T0,
                &ctx(),
            )
            .await
            .unwrap_err();
        assert!(matches!(same_email, Error::Conflict(_)), "{kind}");
        // The other provider has its own namespace.
        store
            .create_user(
                &new_user(Provider::End, "alice", Some("alice@example.org")),
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        let (found, hash) = store
            .user_credentials(Provider::It, "alice")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, alice.id, "{kind}");
        assert_eq!(hash, "$argon2id$fake$Alice");
        assert!(store
            .user_credentials(Provider::It, "bob")
            .await
            .unwrap()
            .is_none());
        // Failed creations wrote no event: the event commits with its change or not at all.
        assert_eq!(
            event_actions(&store).await,
            ["user.create:success", "user.create:success"],
            "{kind}"
        );
    })
    .await;
}

#[tokio::test]
async fn admin_role_and_listing_with_cursor_and_prefix() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let mut admin = new_user(Provider::It, "root", None);
        admin.is_admin = true;
        let admin = store.create_user(&admin, T0, &ctx()).await.unwrap();
        assert!(admin.is_admin, "{kind}");
        for name in ["ann", "anna", "an_x", "bob"] {
            store
                .create_user(&new_user(Provider::End, name, None), T0, &ctx())
                .await
                .unwrap();
        }
        let names = |users: Vec<rampart_core::User>| -> Vec<String> {
            users.into_iter().map(|u| u.username).collect()
        };
        let end = UserQuery {
            provider: Some(Provider::End),
            limit: 10,
            ..UserQuery::default()
        };
        assert_eq!(
            names(store.list_users(&end).await.unwrap()),
            ["ann", "anna", "an_x", "bob"]
        );
        let prefixed = UserQuery {
            prefix: Some("AN_".into()),
            ..end.clone()
        };
        assert_eq!(
            names(store.list_users(&prefixed).await.unwrap()),
            ["an_x"],
            "{kind}: '_' is literal"
        );
        let first = store
            .list_users(&UserQuery {
                limit: 2,
                ..end.clone()
            })
            .await
            .unwrap();
        let rest = store
            .list_users(&UserQuery {
                after: Some(first[1].id),
                ..end.clone()
            })
            .await
            .unwrap();
        assert_eq!(names(rest), ["an_x", "bob"], "{kind}");
        let all = store
            .list_users(&UserQuery {
                limit: 100,
                ..UserQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 5);
        // Many users by id in one call: unknown ids are left out.
        let mut ids: Vec<_> = all.iter().map(|u| u.id).collect();
        ids.push(rampart_core::UserId::new());
        let mut found = names(store.users_by_ids(&ids).await.unwrap());
        found.sort();
        assert_eq!(found, ["an_x", "ann", "anna", "bob", "root"], "{kind}");
        assert!(store.users_by_ids(&[]).await.unwrap().is_empty(), "{kind}");
    })
    .await;
}

#[tokio::test]
async fn update_disable_delete_and_not_found() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let u = store
            .create_user(
                &new_user(Provider::End, "carol", Some("carol@example.org")),
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        let later = T0 + Duration::minutes(5);
        let patched = store
            .update_user(
                u.id,
                &UserPatch {
                    display_name: Some(Some("Carol C.".into())),
                    email: Some(None),
                },
                later,
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(patched.display_name.as_deref(), Some("Carol C."), "{kind}");
        assert_eq!(patched.email, None);
        assert_eq!(patched.updated_at, later);
        let (disabled, _) = store.set_disabled(u.id, true, later, &ctx()).await.unwrap();
        assert!(disabled.disabled, "{kind}");
        let missing = UserId::new();
        for err in [
            store
                .set_disabled(missing, true, later, &ctx())
                .await
                .unwrap_err(),
            store
                .update_user(missing, &UserPatch::default(), later, &ctx())
                .await
                .unwrap_err(),
            store.delete_user(missing, later, &ctx()).await.unwrap_err(),
            store.unlock(missing, later, &ctx()).await.unwrap_err(),
            store
                .revoke_user_sessions(missing, later, &ctx())
                .await
                .unwrap_err(),
        ] {
            assert!(
                matches!(err, Error::NotFound { what: "user" }),
                "{kind}: {err:?}"
            );
        }
        store.delete_user(u.id, later, &ctx()).await.unwrap();
        assert!(store.user(u.id).await.unwrap().is_none(), "{kind}");
        assert_eq!(
            event_actions(&store).await,
            [
                "user.create:success",
                "user.update:success",
                "user.disable:success",
                "user.delete:success"
            ],
            "{kind}"
        );
    })
    .await;
}

#[tokio::test]
async fn sessions_open_with_login_and_are_revoked_by_password_change() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let u = store
            .create_user(&new_user(Provider::It, "dave", None), T0, &ctx())
            .await
            .unwrap();
        let hash = [7u8; 32];
        let session = store
            .record_login_success(
                &u,
                &NewSession {
                    token_hash: hash,
                    expires_at: T0 + Duration::hours(8),
                    source: Some("127.0.0.1".into()),
                    user_agent: Some("test".into()),
                },
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        let (found, user) = store.session_by_token(&hash).await.unwrap().unwrap();
        assert_eq!(found, session, "{kind}");
        assert_eq!(user.last_login_at, Some(T0), "{kind}");
        assert!(store.session_by_token(&[8u8; 32]).await.unwrap().is_none());

        store
            .touch_sessions(&[(session.id, T0 + Duration::minutes(3))])
            .await
            .unwrap();
        let (touched, _) = store.session_by_token(&hash).await.unwrap().unwrap();
        assert_eq!(touched.last_seen_at, T0 + Duration::minutes(3), "{kind}");

        store
            .set_password(
                u.id,
                "$argon2id$fake$new",
                3,
                "user.password.reset",
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        let (revoked, _) = store.session_by_token(&hash).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(T0), "{kind}");
    })
    .await;
}

#[tokio::test]
async fn password_history_keeps_the_newest_entries() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let u = store
            .create_user(&new_user(Provider::End, "erin", None), T0, &ctx())
            .await
            .unwrap();
        for i in 1..=5 {
            store
                .set_password(
                    u.id,
                    &format!("hash-{i}"),
                    3,
                    "user.password.change",
                    T0 + Duration::seconds(i),
                    &ctx(),
                )
                .await
                .unwrap();
        }
        assert_eq!(
            store.password_history(u.id, 10).await.unwrap(),
            ["hash-5", "hash-4", "hash-3"],
            "{kind}"
        );
        let (_, current) = store
            .user_credentials(Provider::End, "erin")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current, "hash-5");
    })
    .await;
}

#[tokio::test]
async fn login_failures_count_lock_and_reset() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let lock = |n: u32| (n >= 3).then(|| Duration::seconds(30 * i64::from(n - 2)));
        let window = Duration::hours(1);
        let mut last = None;
        for i in 0..4 {
            last = Some(
                store
                    .record_login_failure(
                        Provider::It,
                        "Ghost",
                        "ghost",
                        "invalid-credentials",
                        None,
                        window,
                        &lock,
                        T0 + Duration::seconds(i),
                        &ctx(),
                    )
                    .await
                    .unwrap(),
            );
        }
        let last = last.unwrap();
        assert_eq!(last.failures, 4, "{kind}");
        assert_eq!(last.locked_until, Some(T0 + Duration::seconds(3 + 60)));
        assert_eq!(
            store
                .login_locked_until(Provider::It, "ghost")
                .await
                .unwrap(),
            last.locked_until,
            "{kind}: an unknown username is throttled like a real one"
        );
        // After a quiet window the count starts again.
        let fresh = store
            .record_login_failure(
                Provider::It,
                "Ghost",
                "ghost",
                "invalid-credentials",
                None,
                window,
                &lock,
                T0 + Duration::hours(2),
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(fresh.failures, 1, "{kind}");
        let actions = event_actions(&store).await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "auth.lockout:success")
                .count(),
            2,
            "{kind}"
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "auth.login:failure")
                .count(),
            5
        );

        let u = store
            .create_user(&new_user(Provider::It, "ghost", None), T0, &ctx())
            .await
            .unwrap();
        store.unlock(u.id, T0, &ctx()).await.unwrap();
        assert_eq!(
            store
                .login_locked_until(Provider::It, "ghost")
                .await
                .unwrap(),
            None,
            "{kind}"
        );
    })
    .await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_stores_reopen() {
    each_backend(|test| async move {
        let kind = test.kind().as_str();
        test.store.migrate().await.unwrap();
        test.store
            .create_user(&new_user(Provider::It, "frank", None), T0, &ctx())
            .await
            .unwrap();
        test.store.close().await;
        let reopened = match (&test.dir, &test.url) {
            (Some(dir), _) => Store::open_sqlite(&dir.path().join("rampart.db"))
                .await
                .unwrap(),
            (_, Some(url)) => Store::open_postgres(url, 2).await.unwrap(),
            _ => unreachable!(),
        };
        reopened.migrate().await.unwrap();
        assert_eq!(
            reopened.count_users(Provider::It).await.unwrap(),
            1,
            "{kind}"
        );
        reopened.ping().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn unreachable_postgres_fails_with_a_clear_message_without_the_password() {
    let err = Store::open_postgres("postgres://rampart:s3cret-pw@127.0.0.1:1/rampart", 1)
        .await
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("cannot reach PostgreSQL at 127.0.0.1:1/rampart"),
        "{text}"
    );
    assert!(!text.contains("s3cret-pw"), "{text}");
    let bad = Store::open_postgres("mysql://nope", 1).await.unwrap_err();
    assert_eq!(bad.code(), "invalid-input");
}

#[tokio::test]
async fn the_credentials_epoch_moves_with_every_change_that_can_end_a_session() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        assert_eq!(
            store.is_exclusive(),
            store.kind() == rampart_store::BackendKind::Sqlite
        );
        let u = store
            .create_user(&new_user(Provider::End, "ivy", None), T0, &ctx())
            .await
            .unwrap();
        let session = store
            .record_login_success(
                &u,
                &NewSession {
                    token_hash: [1u8; 32],
                    expires_at: T0 + Duration::hours(1),
                    source: None,
                    user_agent: None,
                },
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        store
            .touch_sessions(&[(session.id, T0 + Duration::minutes(2))])
            .await
            .unwrap();
        let quiet = store.credentials_epoch();
        assert_eq!(
            quiet, 0,
            "{kind}: creating, logging in and touching end no session"
        );
        let mut last = quiet;
        let mut expect_moved = |what: &str, store: &Store| {
            let now = store.credentials_epoch();
            assert!(now > last, "{kind}: {what} must move the epoch");
            last = now;
        };
        store.revoke_session(&session, T0, &ctx()).await.unwrap();
        expect_moved("logout", &store);
        store.revoke_user_sessions(u.id, T0, &ctx()).await.unwrap();
        expect_moved("revoke all", &store);
        store
            .update_user(u.id, &UserPatch::default(), T0, &ctx())
            .await
            .unwrap();
        expect_moved("profile change", &store);
        store.set_disabled(u.id, true, T0, &ctx()).await.unwrap();
        expect_moved("disable", &store);
        store
            .set_password(u.id, "h2", 3, "user.password.reset", T0, &ctx())
            .await
            .unwrap();
        expect_moved("password change", &store);
        store.delete_user(u.id, T0, &ctx()).await.unwrap();
        expect_moved("delete", &store);
    })
    .await;
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_or_is_released() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let ttl = Duration::seconds(15);
        assert!(
            store.lease_take("background", "a", T0, ttl).await.unwrap(),
            "{kind}"
        );
        // Held: another node is refused, the holder renews.
        assert!(
            !store
                .lease_take("background", "b", T0 + Duration::seconds(14), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
        assert!(
            store
                .lease_take("background", "a", T0 + Duration::seconds(10), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
        assert!(
            !store
                .lease_take("background", "b", T0 + Duration::seconds(24), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
        assert_eq!(
            store.lease_holder("background").await.unwrap(),
            Some(("a".to_owned(), T0 + Duration::seconds(25))),
            "{kind}"
        );
        // Other leases are apart.
        assert!(
            store.lease_take("other", "b", T0, ttl).await.unwrap(),
            "{kind}"
        );
        // The holder died: once its renewal ran out, another node takes it.
        assert!(
            store
                .lease_take("background", "b", T0 + Duration::seconds(25), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
        assert!(
            !store
                .lease_take("background", "a", T0 + Duration::seconds(26), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
        // Released by a node that does not hold it: nothing changes; by its holder: free.
        store.lease_release("background", "a").await.unwrap();
        assert!(
            !store
                .lease_take("background", "c", T0 + Duration::seconds(27), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
        store.lease_release("background", "b").await.unwrap();
        assert!(
            store
                .lease_take("background", "c", T0 + Duration::seconds(27), ttl)
                .await
                .unwrap(),
            "{kind}"
        );
    })
    .await;
}

#[tokio::test]
async fn of_nodes_racing_for_a_free_lease_exactly_one_gets_it() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let ttl = Duration::seconds(15);
        let tries = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .lease_take("background", &format!("node-{i}"), T0, ttl)
                    .await
                    .unwrap()
            })
        });
        let mut granted = 0;
        for t in tries {
            granted += usize::from(t.await.unwrap());
        }
        assert_eq!(granted, 1, "{kind}");
    })
    .await;
}

/// An `alert.brute_force` event with deliveries to `sinks`, recorded at `at`.
async fn alert_with_deliveries(store: &Store, at: OffsetDateTime, sinks: &[&str]) -> i64 {
    let alert = rampart_core::AuditEvent {
        action: "alert.brute_force",
        target: Some("it:bob".into()),
        outcome: rampart_core::Outcome::Success,
        details: r#"{"kind":"brute_force"}"#.into(),
    };
    store.record_alert(&ctx(), &alert, at, sinks).await.unwrap()
}

/// The delivery of alert `seq` to `sink`, which must be waiting.
async fn waiting(store: &Store, seq: i64, sink: &str) -> rampart_store::PendingDelivery {
    store.alert_delivery(seq, sink).await.unwrap().unwrap()
}

#[tokio::test]
async fn an_alert_and_its_deliveries_commit_together_and_each_attempt_is_claimed_once() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let seq = alert_with_deliveries(&store, T0, &["webhook", "email"]).await;
        let events = store.events_after(seq - 1, 10).await.unwrap();
        assert_eq!(events.len(), 1, "{kind}");
        assert_eq!(
            (events[0].seq, events[0].action.as_str()),
            (seq, "alert.brute_force"),
            "{kind}"
        );
        let due = store.alert_deliveries(Some(T0), 10).await.unwrap();
        let sinks: Vec<(i64, &str, u32)> = due
            .iter()
            .map(|d| (d.seq, d.sink.as_str(), d.attempts))
            .collect();
        assert_eq!(sinks, [(seq, "email", 0), (seq, "webhook", 0)], "{kind}");
        assert!(due.iter().all(|d| d.claimed_until.is_none()), "{kind}");
        // Nodes racing for the same attempt, each with its own token: one makes it.
        let webhook = due.iter().find(|d| d.sink == "webhook").unwrap().clone();
        let lease = T0 + Duration::minutes(2);
        let tries = (0..8).map(|i| {
            let (store, webhook) = (store.clone(), webhook.clone());
            tokio::spawn(async move {
                let token = format!("node-{i}/attempt");
                let won = store
                    .alert_delivery_claim(&webhook, &token, T0, lease)
                    .await
                    .unwrap();
                won.then_some(token)
            })
        });
        let mut winners = Vec::new();
        for t in tries {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "{kind}: {winners:?}");
        let (winner, loser) = (
            winners[0].as_str(),
            if winners[0] == "node-0/attempt" {
                "node-1/attempt"
            } else {
                "node-0/attempt"
            },
        );
        let claimed = waiting(&store, seq, "webhook").await;
        assert_eq!(
            (claimed.attempts, claimed.claimed_until),
            (1, Some(lease)),
            "{kind}"
        );
        // Claimed, it is not due until the claim runs out or its attempt is answered.
        let due = store.alert_deliveries(Some(T0), 10).await.unwrap();
        assert_eq!(due.len(), 1, "{kind}: only the e-mail is due");
        // An attempt that lost the race records nothing.
        assert!(
            !store
                .alert_delivery_retry(seq, "webhook", loser, T0, "lost")
                .await
                .unwrap(),
            "{kind}"
        );
        assert!(
            !store
                .alert_delivery_done(seq, "webhook", loser)
                .await
                .unwrap(),
            "{kind}"
        );
        assert_eq!(waiting(&store, seq, "webhook").await, claimed, "{kind}");
        // The winner's failure plans the next attempt and releases the claim.
        assert!(
            store
                .alert_delivery_retry(seq, "webhook", winner, T0 + Duration::seconds(1), "503")
                .await
                .unwrap(),
            "{kind}"
        );
        let due = store
            .alert_deliveries(Some(T0 + Duration::seconds(1)), 10)
            .await
            .unwrap();
        let webhook = due.iter().find(|d| d.sink == "webhook").unwrap().clone();
        assert_eq!(
            (
                webhook.attempts,
                webhook.last_error.as_deref(),
                webhook.claimed_until
            ),
            (1, Some("503"), None),
            "{kind}"
        );
        // A claim on what was read before the attempt is refused.
        let stale = rampart_store::PendingDelivery {
            attempts: 0,
            ..webhook.clone()
        };
        assert!(
            !store
                .alert_delivery_claim(&stale, "node-9/late", T0 + Duration::seconds(1), lease)
                .await
                .unwrap(),
            "{kind}"
        );
        // Accepted: gone, under the token that claimed it. Given up: gone with its event,
        // recorded once.
        let email = waiting(&store, seq, "email").await;
        assert!(
            store
                .alert_delivery_claim(&email, "node-1/mail", T0, lease)
                .await
                .unwrap(),
            "{kind}"
        );
        assert!(
            store
                .alert_delivery_done(seq, "email", "node-1/mail")
                .await
                .unwrap(),
            "{kind}"
        );
        let now = T0 + Duration::seconds(1);
        assert!(
            store
                .alert_delivery_claim(&webhook, "node-2/last", now, now + Duration::minutes(2))
                .await
                .unwrap(),
            "{kind}"
        );
        let failed = rampart_core::AuditEvent {
            action: "alert.delivery_failed",
            target: Some("webhook".into()),
            outcome: rampart_core::Outcome::Failure,
            details: format!(r#"{{"alert":{seq}}}"#),
        };
        for (token, recorded) in [
            ("node-1/other", false),
            ("node-2/last", true),
            ("node-2/last", false),
        ] {
            assert_eq!(
                store
                    .alert_delivery_give_up(seq, "webhook", token, &ctx(), &failed, now)
                    .await
                    .unwrap(),
                recorded,
                "{kind}: {token}"
            );
        }
        assert!(
            store.alert_deliveries(None, 10).await.unwrap().is_empty(),
            "{kind}"
        );
        assert_eq!(store.alert_deliveries_waiting().await.unwrap(), 0, "{kind}");
        let actions = event_actions(&store).await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| a.as_str() == "alert.delivery_failed:failure")
                .count(),
            1,
            "{kind}: {actions:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_claim_fences_a_delivery_until_its_attempt_ends_or_its_lease_runs_out() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let seq = alert_with_deliveries(&store, T0, &["webhook"]).await;
        let requeued = |store: Store| async move {
            event_actions(&store)
                .await
                .iter()
                .filter(|a| a.starts_with("alert.delivery_requeued"))
                .count()
        };
        // Due and not held: asking again finds nothing to do.
        assert_eq!(
            store
                .alert_delivery_requeue(seq, "webhook", T0, &ctx())
                .await
                .unwrap(),
            Err(rampart_store::NotRequeued::AlreadyDue),
            "{kind}"
        );
        // An attempt holds it for two minutes: asking again is refused and changes nothing,
        // and no other attempt takes it.
        let lease = T0 + Duration::minutes(2);
        let first = waiting(&store, seq, "webhook").await;
        assert!(
            store
                .alert_delivery_claim(&first, "node-a/1", T0, lease)
                .await
                .unwrap(),
            "{kind}"
        );
        let held = waiting(&store, seq, "webhook").await;
        for at in [T0, T0 + Duration::seconds(119)] {
            assert_eq!(
                store
                    .alert_delivery_requeue(seq, "webhook", at, &ctx())
                    .await
                    .unwrap(),
                Err(rampart_store::NotRequeued::InFlight),
                "{kind}"
            );
            assert!(
                !store
                    .alert_delivery_claim(&held, "node-b/1", at, at + Duration::minutes(2))
                    .await
                    .unwrap(),
                "{kind}"
            );
        }
        assert_eq!(waiting(&store, seq, "webhook").await, held, "{kind}");
        assert_eq!(requeued(store.clone()).await, 0, "{kind}");
        // Its node died: once the lease has run out, another attempt takes it over, and
        // the attempt that held it records nothing any more.
        assert!(
            store
                .alert_delivery_claim(&held, "node-b/1", lease, lease + Duration::minutes(2))
                .await
                .unwrap(),
            "{kind}"
        );
        assert!(
            !store
                .alert_delivery_done(seq, "webhook", "node-a/1")
                .await
                .unwrap(),
            "{kind}"
        );
        let taken = waiting(&store, seq, "webhook").await;
        assert_eq!(
            (taken.attempts, taken.claimed_until),
            (2, Some(lease + Duration::minutes(2))),
            "{kind}"
        );
        // The attempt that took over fails: released, its next attempt later; asking again
        // makes it due at once, recorded.
        let later = lease + Duration::minutes(1);
        assert!(
            store
                .alert_delivery_retry(seq, "webhook", "node-b/1", later, "503")
                .await
                .unwrap(),
            "{kind}"
        );
        assert_eq!(
            store
                .alert_delivery_requeue(seq, "webhook", lease, &ctx())
                .await
                .unwrap(),
            Ok(rampart_store::Requeued::MadeDue),
            "{kind}"
        );
        assert_eq!(
            waiting(&store, seq, "webhook").await.next_at,
            lease,
            "{kind}"
        );
        assert_eq!(requeued(store.clone()).await, 1, "{kind}");
    })
    .await;
}

#[tokio::test]
async fn of_nodes_racing_to_claim_a_delivery_and_to_ask_for_it_again_one_claim_wins() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        // Many rounds of one race each: eight claims and a request to deliver again, all at
        // once on a delivery waiting for a later attempt that is due now.
        for round in 0..10 {
            let seq = alert_with_deliveries(&store, T0, &["webhook"]).await;
            let first = waiting(&store, seq, "webhook").await;
            assert!(store
                .alert_delivery_claim(&first, "setup", T0, T0)
                .await
                .unwrap());
            let at = T0 + Duration::seconds(1);
            assert!(store
                .alert_delivery_retry(seq, "webhook", "setup", at, "503")
                .await
                .unwrap());
            let due = waiting(&store, seq, "webhook").await;
            let claims = (0..8).map(|i| {
                let (store, due) = (store.clone(), due.clone());
                tokio::spawn(async move {
                    store
                        .alert_delivery_claim(
                            &due,
                            &format!("node-{i}"),
                            at,
                            at + Duration::minutes(2),
                        )
                        .await
                        .unwrap()
                })
            });
            let ask = {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .alert_delivery_requeue(seq, "webhook", at, &ctx())
                        .await
                        .unwrap()
                })
            };
            let mut won = 0;
            for c in claims {
                won += usize::from(c.await.unwrap());
            }
            assert_eq!(won, 1, "{kind}: round {round}");
            // The row was due: asking again is refused, whoever went first.
            let asked = ask.await.unwrap();
            assert!(
                matches!(
                    asked,
                    Err(rampart_store::NotRequeued::AlreadyDue
                        | rampart_store::NotRequeued::InFlight)
                ),
                "{kind}: round {round}: {asked:?}"
            );
            assert_eq!(waiting(&store, seq, "webhook").await.attempts, 2, "{kind}");
        }
    })
    .await;
}

#[tokio::test]
async fn passkey_discoveries_are_bounded_per_source_and_in_all_taken_once_and_lapse() {
    use rampart_store::Waiting;
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let later = T0 + Duration::minutes(5);
        let binding = |i: u8| [i; 32];
        let put = |i: u8, source: &'static str, now: OffsetDateTime| {
            let store = store.clone();
            async move {
                store
                    .passkey_discovery_put(
                        &binding(i),
                        source,
                        &format!("state {i}"),
                        now + Duration::minutes(5),
                        now,
                        2,
                        3,
                    )
                    .await
                    .unwrap()
            }
        };
        assert_eq!(put(1, "10.0.0.1", T0).await, Ok(()), "{kind}");
        assert_eq!(put(2, "10.0.0.1", T0).await, Ok(()), "{kind}");
        assert_eq!(
            put(3, "10.0.0.1", T0).await,
            Err(Waiting::FromThisSource),
            "{kind}"
        );
        assert_eq!(put(4, "10.0.0.2", T0).await, Ok(()), "{kind}");
        assert_eq!(put(5, "10.0.0.3", T0).await, Err(Waiting::InAll), "{kind}");
        // Taken once, with its own state; what was refused was never kept.
        let take = |i: u8, now| {
            let store = store.clone();
            async move {
                store
                    .passkey_discovery_take(&binding(i), now)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(take(2, T0).await.as_deref(), Some("state 2"), "{kind}");
        assert_eq!(take(2, T0).await, None, "{kind}");
        assert_eq!(take(3, T0).await, None, "{kind}");
        // A lapsed one is not given, and lapsed ones free their places.
        assert_eq!(take(1, later).await, None, "{kind}");
        assert_eq!(put(6, "10.0.0.3", later).await, Ok(()), "{kind}");
        assert_eq!(put(7, "10.0.0.3", later).await, Ok(()), "{kind}");
        assert_eq!(put(8, "10.0.0.4", later).await, Ok(()), "{kind}");
    })
    .await;
}
