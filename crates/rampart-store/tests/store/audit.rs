//! The audit log in the store: numbering without gaps in commit order under concurrent
//! writers, canonical bodies that hash to their stored leaves, batches, redaction, search.

use rampart_audit::leaf_hash;
use rampart_core::{AuditContext, AuditEvent, Outcome};
use rampart_store::testing::both;
use rampart_store::{EventQuery, NewEvent, Stream};

use crate::{ctx, T0};

fn access(i: u64) -> NewEvent {
    let ctx = AuditContext {
        actor_name: Some(format!("end:user{}", i % 7)),
        request_id: Some(format!("r{i}")),
        node_id: "node-a".into(),
        ..AuditContext::default()
    };
    NewEvent::access(
        &ctx,
        T0,
        Some("sales"),
        &format!("/screens/{}", i % 5),
        "GET",
        !i.is_multiple_of(3),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_gapless_numbers_in_commit_order() {
    for t in both().await {
        let kind = t.kind();
        let store = t.store.clone();
        // Batches and single system events from many tasks at once.
        let mut tasks = Vec::new();
        for w in 0..8u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut last_seen = 0;
                for round in 0..10u64 {
                    let batch: Vec<NewEvent> =
                        (0..5).map(|i| access(w * 1000 + round * 10 + i)).collect();
                    let last = store.append_events(batch).await.unwrap();
                    assert!(last > last_seen, "numbers grow for each writer");
                    last_seen = last;
                    let event = AuditEvent {
                        action: "test.event",
                        target: Some(format!("w{w}")),
                        outcome: Outcome::Success,
                        details: "{\"note\":\"line\\nbreak \\\"quoted\\\"\"}".into(),
                    };
                    store.record_event(&ctx(), &event, T0).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let events = store.events_after(0, 10_000).await.unwrap();
        assert_eq!(events.len(), 8 * 10 * 6, "{kind:?}");
        assert_eq!(store.audit_size().await.unwrap(), 480);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1, "{kind:?}: no gap, no duplicate");
            let body = e.body.as_deref().unwrap();
            assert!(!body.contains('\n'), "one line: {body}");
            assert_eq!(
                leaf_hash(body.as_bytes()),
                e.leaf_hash,
                "{kind:?}: event {}",
                e.seq
            );
            let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(parsed["seq"], e.seq, "the body carries its own number");
        }
        // Leaves come back in order and whole; a range past the end is an error, not a
        // short answer.
        let leaves = store.audit_leaves(0, 480).await.unwrap();
        assert_eq!(leaves.len(), 480);
        assert!(store.audit_leaves(470, 481).await.is_err(), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_keeps_the_leaf_and_is_itself_recorded() {
    for t in both().await {
        let kind = t.kind();
        let store = &t.store;
        store
            .append_events((0..10).map(access).collect())
            .await
            .unwrap();
        let before = store.events_after(2, 1).await.unwrap().remove(0);
        store
            .audit_redact(&ctx(), 3, "erasure request 7", T0)
            .await
            .unwrap();
        let after = store.events_after(2, 1).await.unwrap().remove(0);
        assert_eq!(after.leaf_hash, before.leaf_hash, "{kind:?}");
        assert!(after.body.is_none() && after.actor_name.is_none() && after.target.is_none());
        let last = store.events_after(10, 1).await.unwrap().remove(0);
        assert_eq!(last.action, "audit.redact");
        assert!(last.details.contains("erasure request 7"));
        for (seq, reason, what) in [
            (3, "again", "already redacted"),
            (99, "x", "not found"),
            (4, "  ", "must say why"),
        ] {
            let e = store
                .audit_redact(&ctx(), seq, reason, T0)
                .await
                .unwrap_err();
            assert!(
                e.to_string().contains(what) || format!("{e:?}").contains(what),
                "{kind:?}: {e:?}"
            );
        }
        assert_eq!(
            store.audit_size().await.unwrap(),
            11,
            "{kind:?}: refusals wrote nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_filters_combine_and_page_by_sequence() {
    for t in both().await {
        let kind = t.kind();
        let store = &t.store;
        store
            .append_events((0..60).map(access).collect())
            .await
            .unwrap();
        let q = |f: fn(&mut EventQuery)| {
            let mut q = EventQuery::default();
            f(&mut q);
            q
        };
        let cases: Vec<(&str, EventQuery, usize)> = vec![
            ("all", q(|_| {}), 60),
            ("stream", q(|q| q.stream = Some(Stream::Access)), 60),
            ("other stream", q(|q| q.stream = Some(Stream::System)), 0),
            ("actor", q(|q| q.actor = Some("end:user3".into())), 9),
            ("deny", q(|q| q.outcome = Some("deny".into())), 20),
            (
                "actor and deny",
                q(|q| {
                    q.actor = Some("end:user0".into());
                    q.outcome = Some("deny".into());
                }),
                3,
            ),
            ("target", q(|q| q.target = Some("/screens/4".into())), 12),
            (
                "contains",
                q(|q| q.target_contains = Some("screens/2".into())),
                12,
            ),
            ("literal %", q(|q| q.target_contains = Some("%".into())), 0),
            (
                "application",
                q(|q| q.application = Some("sales".into())),
                60,
            ),
            ("before", q(|q| q.before_seq = Some(11)), 10),
            ("after", q(|q| q.after_seq = Some(50)), 10),
        ];
        for (name, query, expected) in cases {
            let found = store.audit_search(&query, 1000).await.unwrap();
            assert_eq!(found.len(), expected, "{kind:?} {name}");
            assert!(
                found.windows(2).all(|w| w[0].seq > w[1].seq),
                "{kind:?} {name}: newest first"
            );
        }
    }
}
