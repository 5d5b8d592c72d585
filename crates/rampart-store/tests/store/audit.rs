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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_never_go_backwards_so_a_time_window_is_a_range() {
    use time::Duration;
    for t in both().await {
        let kind = t.kind();
        let store = &t.store;
        let minutes = [0, 10, 5, 20, 15, 30];
        let events = minutes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut e = access(i as u64);
                e.occurred_at = T0 + Duration::minutes(*m);
                e
            })
            .collect();
        store.append_events(events).await.unwrap();
        // A single event from a slow clock is raised to the newest time too.
        let late = AuditEvent {
            action: "test.late",
            target: None,
            outcome: Outcome::Success,
            details: "{}".into(),
        };
        store.record_event(&ctx(), &late, T0).await.unwrap();
        let times: Vec<i64> = store
            .events_after(0, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| (e.occurred_at - T0).whole_minutes())
            .collect();
        assert_eq!(times, [0, 10, 10, 20, 20, 30, 30], "{kind:?}");
        let window = |from: i64, to: i64| EventQuery {
            since: Some(T0 + Duration::minutes(from)),
            until: Some(T0 + Duration::minutes(to)),
            ..EventQuery::default()
        };
        for (from, to, expected) in [
            (10, 20, vec![3, 2]),
            (0, 11, vec![3, 2, 1]),
            (20, 31, vec![7, 6, 5, 4]),
            (31, 40, vec![]),
            (-10, 0, vec![]),
        ] {
            let found: Vec<i64> = store
                .audit_search(&window(from, to), 100)
                .await
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect();
            assert_eq!(found, expected, "{kind:?}: [{from}, {to})");
        }
        let mut with_actor = window(0, 40);
        with_actor.actor = Some("end:user2".into());
        let found = store.audit_search(&with_actor, 100).await.unwrap();
        assert_eq!(
            found.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3],
            "{kind:?}"
        );
    }
}

/// Free-text search on targets goes through the list of distinct targets and the segmented
/// target index; checked against the obvious reference (every event, filtered by
/// `contains`), over random targets, batches, redactions and page sizes, on both stores,
/// both under and over the number of matching targets where the search walks the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_target_search_matches_a_plain_scan() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for t in both().await {
        let kind = t.kind();
        let store = &t.store;
        let mut targets: Vec<Option<String>> = Vec::new();
        for batch in 0..6 {
            // Few distinct targets in early batches, hundreds later (past the lookup limit).
            let alphabet = if batch < 3 { 3 } else { 12 };
            let events: Vec<NewEvent> = (0..120)
                .map(|_| {
                    let len = 1 + next(4);
                    let target: String = (0..len)
                        .map(|_| char::from(b'a' + u8::try_from(next(alphabet)).unwrap()))
                        .collect();
                    let target = format!("/s/{target}");
                    targets.push(Some(target.clone()));
                    NewEvent::access(
                        &AuditContext::default(),
                        T0,
                        Some("app"),
                        &target,
                        "GET",
                        true,
                    )
                })
                .collect();
            store.append_events(events).await.unwrap();
        }
        // A few lawful erasures.
        for _ in 0..5 {
            let seq = 1 + next(targets.len() as u64);
            if store
                .audit_redact(&ctx(), seq as i64, "erasure request", T0)
                .await
                .is_ok()
            {
                targets[seq as usize - 1] = None;
            }
        }
        for round in 0..60 {
            let needle: String = match round {
                0 => "/s/".into(),
                1 => "zzz".into(),
                _ => (0..1 + next(3))
                    .map(|_| char::from(b'a' + u8::try_from(next(12)).unwrap()))
                    .collect(),
            };
            let reference: Vec<i64> = targets
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, t)| t.as_deref().is_some_and(|t| t.contains(&needle)))
                .map(|(i, _)| i as i64 + 1)
                .collect();
            let limit = [1, 7, 1000][round % 3];
            let q = EventQuery {
                target_contains: Some(needle.clone()),
                stream: Some(Stream::Access),
                ..EventQuery::default()
            };
            let mut found = Vec::new();
            let mut page = store.audit_search(&q, limit).await.unwrap();
            while !page.is_empty() {
                let last = page.last().map(|e| e.seq);
                found.extend(page.iter().map(|e| e.seq));
                page = store
                    .audit_search(
                        &EventQuery {
                            before_seq: last,
                            ..q.clone()
                        },
                        limit,
                    )
                    .await
                    .unwrap();
            }
            assert_eq!(found, reference, "{kind:?}: `{needle}` in pages of {limit}");
        }
    }
}
