//! The audit log in the store: numbering without gaps in commit order under concurrent
//! writers, canonical bodies that hash to their stored leaves, batches, redaction, search.

use rampart_audit::leaf_hash;
use rampart_core::{AuditContext, AuditEvent, Outcome};
use rampart_store::testing::each_backend;
use rampart_store::{EventQuery, NewEvent, Stream};

use crate::{ctx, T0};

/// A small seeded generator: `next(n)` is in `0..n`.
fn xorshift(mut state: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    }
}

/// Up to `steps` steps of the search-key compaction; whether work remains.
async fn compact(store: &rampart_store::Store, steps: u64) -> bool {
    for _ in 0..steps {
        if !store.audit_compact_keys().await.unwrap() {
            return false;
        }
    }
    true
}

/// Evaluates `$body` with `$c` a connection of its own to the test's database, on either
/// backend (as an older version, or an attacker, would reach it).
macro_rules! direct {
    ($t:expr, |$c:ident| $body:expr) => {{
        use sqlx::Connection as _;
        match (&$t.dir, &$t.url) {
            (Some(dir), _) => {
                let path = dir.path().join("rampart.db");
                let url = format!("sqlite://{}", path.display());
                let mut $c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                $body
            }
            (_, Some(url)) => {
                let mut $c = sqlx::PgConnection::connect(url).await.unwrap();
                $body
            }
            _ => panic!("no database"),
        }
    }};
}

/// The key packs, as stored: `(first_seq, keys)`.
const PACKS: &str = "SELECT first_seq, keys FROM audit_key_packs";

/// How many search keys each event has in the database, by sequence number: rows of
/// `audit_keys`, and entries of the key packs of blocks no merge has reached yet (9 bytes
/// each: the key, then the event's place in its block).
async fn key_rows(t: &rampart_store::testing::TestStore) -> std::collections::BTreeMap<i64, i64> {
    key_rows_and_merged_packs(t).await.0
}

/// [`key_rows`], and the pack entries of events a merge has copied already (a pack straddling
/// the merged mark, or not yet deleted), by sequence number.
async fn key_rows_and_merged_packs(
    t: &rampart_store::testing::TestStore,
) -> (
    std::collections::BTreeMap<i64, i64>,
    std::collections::BTreeMap<i64, i64>,
) {
    const ROWS: &str = "SELECT seq, COUNT(*) FROM audit_keys GROUP BY seq";
    const MERGED: &str = "SELECT upto FROM audit_key_levels WHERE level = 1";
    type Packs = Vec<(i64, Vec<u8>)>;
    let (rows, packs, merged): (Vec<(i64, i64)>, Packs, i64) = direct!(t, |c| (
        sqlx::query_as(ROWS).fetch_all(&mut c).await.unwrap(),
        sqlx::query_as(PACKS).fetch_all(&mut c).await.unwrap(),
        sqlx::query_scalar(MERGED).fetch_one(&mut c).await.unwrap(),
    ));
    let mut out: std::collections::BTreeMap<i64, i64> = rows.into_iter().collect();
    let mut copied = std::collections::BTreeMap::new();
    for (first_seq, pack) in packs {
        assert_eq!(pack.len() % 9, 0, "whole entries");
        for entry in pack.chunks(9) {
            let seq = first_seq + i64::from(entry[8]);
            // Below the merged mark a pack's keys are rows already (the pack is garbage).
            if seq >= merged {
                *out.entry(seq).or_default() += 1;
            } else {
                *copied.entry(seq).or_default() += 1;
            }
        }
    }
    (out, copied)
}

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
    each_backend(|t| async move {
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
    })
    .await;
}

/// On PostgreSQL a batch is numbered from where the node's last append left the log and
/// written in one statement; when anything moved the head since, it is written in a
/// transaction instead, after whatever moved it, and nothing of the guess remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_numbered_from_a_stale_guess_is_written_after_what_moved_the_head() {
    each_backend(|t| async move {
        let store = t.store.clone();
        let pg = t.url.is_some();
        let batch = |from: u64| (from..from + 4).map(access).collect::<Vec<_>>();
        // The first append has no guess; the second has, and it holds.
        assert_eq!(store.append_events(batch(0)).await.unwrap(), 4);
        assert_eq!(store.append_events(batch(4)).await.unwrap(), 8);
        assert_eq!(store.audit_guessed_appends(), u64::from(pg));
        // A change's own event moves the head: the next batch is not guessed, the one
        // after it is again.
        let event = AuditEvent {
            action: "test.event",
            target: None,
            outcome: Outcome::Success,
            details: "{}".into(),
        };
        store.record_event(&ctx(), &event, T0).await.unwrap();
        assert_eq!(store.append_events(batch(8)).await.unwrap(), 13);
        assert_eq!(store.audit_guessed_appends(), u64::from(pg));
        assert_eq!(store.append_events(batch(12)).await.unwrap(), 17);
        assert_eq!(store.audit_guessed_appends(), 2 * u64::from(pg));
        // Every event so far: gapless, each body its own number and hash.
        let events = store.events_after(0, 100).await.unwrap();
        assert_eq!(events.len(), 17);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1);
            let body = e.body.as_deref().unwrap();
            assert_eq!(leaf_hash(body.as_bytes()), e.leaf_hash, "event {}", e.seq);
        }
        let Some(url) = &t.url else { return };
        // A writer this process cannot see (another node) moves the head: the guessed
        // statement writes nothing and the batch follows that writer's numbers.
        let mut other = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_head SET size = size + 2, last_at = last_at + 1 WHERE id = 1")
            .execute(&mut other)
            .await
            .unwrap();
        assert_eq!(store.append_events(batch(16)).await.unwrap(), 23);
        assert_eq!(
            store.audit_guessed_appends(),
            2,
            "the stale guess wrote nothing"
        );
        let blocks: Vec<(i64, i64)> =
            sqlx::query_as("SELECT first_seq, count FROM audit_blocks ORDER BY first_seq")
                .fetch_all(&mut other)
                .await
                .unwrap();
        assert_eq!(blocks.last(), Some(&(20, 4)), "{blocks:?}");
        assert!(blocks.iter().all(|b| b.0 != 18), "{blocks:?}");
        // From there, guessed again.
        assert_eq!(store.append_events(batch(20)).await.unwrap(), 27);
        assert_eq!(store.audit_guessed_appends(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_keeps_the_leaf_and_is_itself_recorded() {
    each_backend(|t| async move {
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_filters_combine_and_page_by_sequence() {
    each_backend(|t| async move {
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_never_go_backwards_so_a_time_window_is_a_range() {
    use time::Duration;
    each_backend(|t| async move {
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
    })
    .await;
}

/// Free-text search on targets goes through the list of distinct targets and the segmented
/// target index; checked against the obvious reference (every event, filtered by
/// `contains`), over random targets, batches, redactions and page sizes, on both stores,
/// both under and over the number of matching targets where the search walks the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_target_search_matches_a_plain_scan() {
    each_backend(|t| async move {
        // The same sequence on each backend.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d_u64);
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
    })
    .await;
}

/// What the test appended, as the obvious reference for search: one entry per event.
#[derive(Clone)]
struct Model {
    stream: Stream,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    application: Option<String>,
    outcome: String,
    at_ms: i64,
}

/// Search over a log of rows (events of a change's own transaction) and blocks (batches,
/// some longer than a block, one longer than a key segment), with erasures in both, checked
/// against a plain filter of what was appended, for random filters, orders, time windows,
/// cursors and page sizes, paging to the end, on both stores.
///
/// The search-key tree has small segments here (16 events at level 0, four times more a
/// level), so the log reaches six levels, and random numbers of compaction steps run between
/// appends, erasures and queries: searches see merges half done, published but not yet
/// deleted, and finished. For a while the compaction runs concurrently with the queries.
/// Once it is done, every event has exactly the keys it should (none for an erased actor or
/// target, no copy left behind by a merge).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_over_rows_and_blocks_matches_a_plain_scan() {
    let actors = ["end:ann", "end:bob", "it:cy", "end:rare"];
    let apps = [Some("sales"), Some("crm"), None];
    each_backend(|t| async move {
        // The same sequence on each backend.
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15_u64);
        let kind = t.kind();
        let store = &t.store;
        store.audit_key_geometry(4, 2).await.unwrap();
        let mut model: Vec<Option<Model>> = Vec::new();
        let mut ms = 0i64;
        for round in 0..14 {
            compact(store, next(60)).await;
            if round % 3 == 1 {
                // A row: a system event recorded on its own.
                let actor = actors[next(3) as usize];
                let event = AuditEvent {
                    action: ["user.create", "module.publish"][next(2) as usize],
                    target: Some(format!("user:{}", next(4))),
                    outcome: if next(2) == 0 {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    },
                    details: "{}".into(),
                };
                ms += 1;
                let ctx = AuditContext {
                    actor_name: Some(actor.into()),
                    ..ctx()
                };
                store
                    .record_event(&ctx, &event, T0 + time::Duration::milliseconds(ms))
                    .await
                    .unwrap();
                model.push(Some(Model {
                    stream: Stream::System,
                    actor: Some(actor.into()),
                    action: event.action.into(),
                    target: event.target.clone(),
                    application: None,
                    outcome: event.outcome.as_str().into(),
                    at_ms: ms,
                }));
                continue;
            }
            // A batch: mostly access events, some integration calls; one batch crosses a
            // segment of the key index (16,384 events).
            let n = match round {
                6 => 17_000,
                _ => 1 + next(600),
            };
            let mut batch = Vec::with_capacity(n as usize);
            for _ in 0..n {
                if next(4) != 0 {
                    ms += i64::from(next(3) == 0);
                }
                let at = T0 + time::Duration::milliseconds(ms);
                let actor = if next(500) == 0 {
                    actors[3]
                } else {
                    actors[next(3) as usize]
                };
                let ctx = AuditContext {
                    actor_name: Some(actor.into()),
                    node_id: "node-b".into(),
                    ..AuditContext::default()
                };
                let target = format!("/s/{}", next(9));
                let (e, m) = if next(10) == 0 {
                    let status = [200u16, 503][next(2) as usize];
                    let e =
                        NewEvent::integration(&ctx, at, next(2) == 0, "POST", &target, status, 5);
                    let m = Model {
                        stream: Stream::Integration,
                        actor: Some(actor.into()),
                        action: e.action.clone(),
                        target: Some(target),
                        application: None,
                        outcome: e.outcome.clone(),
                        at_ms: ms,
                    };
                    (e, m)
                } else {
                    let app = apps[next(3) as usize];
                    let allow = next(5) != 0;
                    let e = NewEvent::access(&ctx, at, app, &target, "GET", allow);
                    let m = Model {
                        stream: Stream::Access,
                        actor: Some(actor.into()),
                        action: "access".into(),
                        target: Some(target),
                        application: app.map(str::to_owned),
                        outcome: if allow { "allow" } else { "deny" }.into(),
                        at_ms: ms,
                    };
                    (e, m)
                };
                batch.push(e);
                model.push(Some(m));
            }
            store.append_events(batch).await.unwrap();
        }
        // Erasures among rows and blocks keep the rest of the event but not actor or target
        // (a redaction is itself a row, which the model records too).
        for _ in 0..12 {
            compact(store, next(30)).await;
            let seq = 1 + next(model.len() as u64) as usize;
            if store
                .audit_redact(&ctx(), seq as i64, "erasure request", T0)
                .await
                .is_ok()
            {
                if let Some(m) = model[seq - 1].as_mut() {
                    m.actor = None;
                    m.target = None;
                }
                model.push(Some(Model {
                    stream: Stream::System,
                    actor: ctx().actor_name,
                    action: "audit.redact".into(),
                    target: Some(format!("audit:{seq}")),
                    application: None,
                    outcome: "success".into(),
                    at_ms: ms,
                }));
            }
        }
        let all = store.events_after(0, 100_000).await.unwrap();
        assert_eq!(all.len(), model.len(), "{kind:?}");
        let mut background = None;
        for round in 0..100 {
            match round {
                30 => {
                    let store = store.clone();
                    background = Some(tokio::spawn(
                        async move { while compact(&store, 1).await {} },
                    ));
                }
                50 => background.take().unwrap().await.unwrap(),
                70 => {
                    while compact(store, 1000).await {}
                    let (keys, copied) = key_rows_and_merged_packs(&t).await;
                    for (i, m) in model.iter().enumerate() {
                        let m = m.as_ref().unwrap();
                        let erased = i64::from(m.actor.is_none());
                        let want = match m.stream {
                            Stream::System => 0,
                            Stream::Access => 2 - 2 * erased,
                            Stream::Integration => 4 - 2 * erased,
                        };
                        let seq = i as i64 + 1;
                        assert_eq!(
                            keys.get(&seq).copied().unwrap_or(0),
                            want,
                            "{kind:?}: keys of {seq}"
                        );
                        // A pack left behind a merge holds the event's keys as they are
                        // now, or none: never an erased actor's or target's.
                        let left = copied.get(&seq).copied().unwrap_or(0);
                        assert!(left == 0 || left == want, "{kind:?}: pack keys of {seq}");
                    }
                }
                _ => {
                    compact(store, next(8)).await;
                }
            }
            let pick = |n: u64, next: &mut dyn FnMut(u64) -> u64| next(n) == 0;
            let mut q = EventQuery {
                ascending: next(2) == 0,
                ..EventQuery::default()
            };
            if pick(3, &mut next) {
                q.stream = Some(Stream::ALL[next(3) as usize]);
            }
            if pick(3, &mut next) {
                q.actor = Some(actors[next(4) as usize].into());
            }
            if pick(5, &mut next) {
                q.action = Some(["access", "http.inbound", "user.create"][next(3) as usize].into());
            }
            if pick(4, &mut next) {
                q.target = Some(format!("/s/{}", next(9)));
            } else if pick(6, &mut next) {
                q.target_contains = Some(["/s/", "user:", "3", "audit"][next(4) as usize].into());
            }
            if pick(4, &mut next) {
                q.application = Some(["sales", "crm"][next(2) as usize].into());
            }
            if pick(4, &mut next) {
                q.outcome = Some(["allow", "deny", "success", "failure"][next(4) as usize].into());
            }
            let (mut lo, mut hi) = (i64::MIN, i64::MAX);
            if pick(4, &mut next) {
                lo = next(ms as u64 + 1) as i64;
                hi = lo + next(3000) as i64;
                q.since = Some(T0 + time::Duration::milliseconds(lo));
                q.until = Some(T0 + time::Duration::milliseconds(hi));
            }
            let reference: Vec<i64> = model
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.as_ref().map(|m| (i as i64 + 1, m)))
                .filter(|(_, m)| {
                    let eq = |w: &Option<String>, g: Option<&str>| {
                        w.as_deref().is_none_or(|w| g == Some(w))
                    };
                    q.stream.is_none_or(|s| s == m.stream)
                        && eq(&q.actor, m.actor.as_deref())
                        && eq(&q.action, Some(&m.action))
                        && eq(&q.target, m.target.as_deref())
                        && q.target_contains
                            .as_deref()
                            .is_none_or(|c| m.target.as_deref().is_some_and(|t| t.contains(c)))
                        && eq(&q.application, m.application.as_deref())
                        && eq(&q.outcome, Some(&m.outcome))
                        && m.at_ms >= lo
                        && m.at_ms < hi
                })
                .map(|(s, _)| s)
                .collect();
            let reference: Vec<i64> = if q.ascending {
                reference
            } else {
                reference.into_iter().rev().collect()
            };
            // At most about 40 pages a query.
            let limit = [1, 9, 250, 5000][round % 4].max(reference.len() as i64 / 40 + 1);
            let mut found = Vec::new();
            let mut cursor = q.clone();
            loop {
                let page = store.audit_search(&cursor, limit).await.unwrap();
                assert!(page.len() as i64 <= limit);
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                found.extend(page.iter().map(|e| e.seq));
                if q.ascending {
                    cursor.after_seq = Some(last);
                } else {
                    cursor.before_seq = Some(last);
                }
            }
            if found != reference {
                let first = found.iter().zip(&reference).position(|(a, b)| a != b);
                panic!(
                    "{kind:?}: {q:?} in pages of {limit}: {} found, {} expected, first difference at {first:?} (found {:?}, expected {:?})",
                    found.len(),
                    reference.len(),
                    first.map(|i| found[i]).or(found.get(reference.len()).copied()),
                    first.map(|i| reference[i]).or(reference.get(found.len()).copied()),
                );
            }
        }
    })
    .await;
}

/// Searches find events through the blocks' key packs before any merge, and the compaction
/// then moves every key into rows, none lost or doubled, where searches find the same events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_are_found_before_and_after_they_are_merged() {
    each_backend(|t| async move {
        let kind = t.kind();
        let store = &t.store;
        // Level-0 segments of 16 events, level 1 of 64.
        store.audit_key_geometry(4, 2).await.unwrap();
        for b in 0..3u64 {
            let batch: Vec<NewEvent> = (0..300).map(|i| access(b * 300 + i)).collect();
            store.append_events(batch).await.unwrap();
        }
        let keys = key_rows(&t).await;
        assert_eq!(keys.len(), 900, "{kind:?}: every event has keys");
        let found = |store: rampart_store::Store| async move {
            let mut out = Vec::new();
            for actor in 0..7 {
                let q = EventQuery {
                    actor: Some(format!("end:user{actor}")),
                    ..EventQuery::default()
                };
                let seqs: Vec<i64> = store
                    .audit_search(&q, 1000)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.seq)
                    .collect();
                out.push(seqs);
            }
            out
        };
        let before = found(store.clone()).await;
        assert_eq!(before.iter().map(Vec::len).sum::<usize>(), 900, "{kind:?}");

        // New packs, then everything merged.
        let batch: Vec<NewEvent> = (900..1200).map(access).collect();
        store.append_events(batch).await.unwrap();
        let mut keys = keys;
        keys.extend((901..=1200).map(|seq| (seq, 2)));
        let with_new = found(store.clone()).await;
        assert_eq!(
            with_new.iter().map(Vec::len).sum::<usize>(),
            1200,
            "{kind:?}"
        );
        while compact(store, 1000).await {}
        assert_eq!(
            key_rows(&t).await,
            keys,
            "{kind:?}: merged, none lost or doubled"
        );
        assert_eq!(
            found(store.clone()).await,
            with_new,
            "{kind:?}: found once merged"
        );
    })
    .await;
}

/// `events_after` pages through a log of blocks of every size (a single event, small
/// batches, full blocks) and change events between them exactly as a slow reference does:
/// the next `limit` numbers after `after`, in order, none missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_after_any_event_through_blocks_of_any_size_agrees_with_the_reference() {
    each_backend(|t| async move {
        let store = t.store.clone();
        let mut next = 0u64;
        for size in [1u64, 1, 2, 3, 5, 8, 13, 21, 300, 1, 34, 2, 256, 7] {
            store
                .append_events((next..next + size).map(access).collect())
                .await
                .unwrap();
            next += size;
            let event = AuditEvent {
                action: "test.event",
                target: None,
                outcome: Outcome::Success,
                details: "{}".into(),
            };
            store.record_event(&ctx(), &event, T0).await.unwrap();
        }
        let size = i64::try_from(store.audit_size().await.unwrap()).unwrap();
        assert_eq!(size, i64::try_from(next).unwrap() + 14);
        for after in (0..=size).step_by(17).chain([size - 1, size]) {
            for limit in [1, 2, 9, 40, 333, 1000] {
                let got: Vec<i64> = store
                    .events_after(after, limit)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.seq)
                    .collect();
                let want: Vec<i64> = (after + 1..=size).take(limit as usize).collect();
                assert_eq!(got, want, "after {after}, limit {limit}");
            }
        }
    })
    .await;
}
