//! `/api/v1/audit` end to end: every event provable against a signed checkpoint, search
//! filters and paging, exports, who may read, and bad requests.

use rampart_audit::{from_hex, open, verify_consistency, verify_inclusion, VerifierKey};
use rampart_core::Provider;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{no_tweak, on_both, problem_type, USER_PASSWORD};
use rampart_store::BackendKind;

fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| from_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_provable_against_a_signed_checkpoint() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        for i in 0..20 {
            let user = format!("user{i}");
            let (status, _) = node
                .post(
                    "/api/v1/users",
                    &admin,
                    json!({ "provider": "end", "username": user, "password": USER_PASSWORD }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{name}");
        }
        let (status, first) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
        assert_eq!(status, StatusCode::OK, "{name}: {first}");
        let key = VerifierKey::parse(first["verifier_key"].as_str().unwrap()).unwrap();
        let signed = open(first["note"].as_str().unwrap(), &key).unwrap();
        let size = first["size"].as_u64().unwrap();
        assert_eq!(signed.size, size, "{name}");
        assert_eq!(signed.origin, first["origin"].as_str().unwrap());
        assert!(size >= 21, "{name}: admin, its login and 20 users: {size}");
        let root = from_hex(first["root"].as_str().unwrap()).unwrap();
        assert_eq!(signed.root, root, "{name}");

        // Each event's inclusion proof verifies against the signed root, and its leaf hash is
        // the one the search reports.
        let (_, page) = node.get("/api/v1/audit/events?limit=1000", &admin).await;
        let leaves: std::collections::HashMap<u64, String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["seq"].as_u64().unwrap(),
                    e["leaf_hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for seq in 1..=size {
            let (status, p) = node
                .get(
                    &format!("/api/v1/audit/proof/inclusion?seq={seq}&size={size}"),
                    &admin,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{name}: {p}");
            let leaf = from_hex(p["leaf_hash"].as_str().unwrap()).unwrap();
            assert_eq!(
                Some(p["leaf_hash"].as_str().unwrap()),
                leaves.get(&seq).map(String::as_str)
            );
            verify_inclusion(&leaf, seq - 1, size, &hashes(&p["proof"]), &root)
                .unwrap_or_else(|e| panic!("{name}: event {seq}: {e}"));
            // The proof is for this event only.
            if seq > 1 {
                assert!(
                    verify_inclusion(&leaf, seq - 2, size, &hashes(&p["proof"]), &root).is_err()
                );
            }
        }

        // More events, a second checkpoint, and the log is provably an extension of the first.
        node.login("it", "admin", kit_admin_password()).await;
        let (_, second) = node.post_empty("/api/v1/audit/checkpoint", &admin).await;
        let new_size = second["size"].as_u64().unwrap();
        assert!(new_size > size, "{name}");
        let new_root = from_hex(second["root"].as_str().unwrap()).unwrap();
        let (status, c) = node
            .get(
                &format!("/api/v1/audit/proof/consistency?from={size}&to={new_size}"),
                &admin,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {c}");
        verify_consistency(size, new_size, &root, &new_root, &hashes(&c["proof"])).unwrap();
        assert!(
            verify_consistency(size, new_size, &new_root, &root, &hashes(&c["proof"])).is_err()
        );

        // Out-of-range requests are refused with what is allowed.
        for path in [
            "/api/v1/audit/proof/inclusion?seq=0".to_owned(),
            format!("/api/v1/audit/proof/inclusion?seq={}", new_size + 50),
            format!("/api/v1/audit/proof/inclusion?seq=1&size={}", new_size + 50),
            "/api/v1/audit/proof/consistency?from=0".to_owned(),
            "/api/v1/audit/proof/consistency?from=5&to=3".to_owned(),
        ] {
            let (status, body) = node.get(&path, &admin).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name} {path}: {body}"
            );
            assert_eq!(problem_type(&body), "invalid-input");
        }
    })
    .await;
}

/// Makes the IT user `audrey` an auditor (as `admin`) and returns her token.
pub(crate) async fn auditor(node: &crate::kit::Node, admin: &str) -> String {
    let id = node
        .create_user(Provider::It, "audrey", USER_PASSWORD, false)
        .await;
    let (status, body) = node
        .post(
            "/api/v1/it/write",
            admin,
            json!({ "operations": [{ "op": "set_it_role", "user": id, "role": "auditor" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", node.name());
    node.login("it", "audrey", USER_PASSWORD).await
}

fn kit_admin_password() -> &'static str {
    crate::kit::ADMIN_PASSWORD
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_search_filter_page_and_export_but_change_nothing() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        let audrey = auditor(&node, &admin).await;
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let erin = node.login("end", "erin", USER_PASSWORD).await;
        for _ in 0..3 {
            node.login_response("end", "erin", "not-her-password").await;
        }
        // An end user's request is recorded in the access stream before it is answered.
        let me = node
            .request(Method::GET, "/api/v1/auth/me", Some(&erin), None)
            .await;
        assert_eq!(me.status(), StatusCode::OK);
        let request_id = me.headers()["x-request-id"].to_str().unwrap().to_owned();
        let denied = node
            .request(Method::GET, "/api/v1/users", Some(&erin), None)
            .await;
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);

        let (status, access) = node
            .get("/api/v1/audit/events?stream=access", &audrey)
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {access}");
        let items = access["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{name}: {access}");
        assert_eq!(items[0]["outcome"], "deny", "newest first");
        assert_eq!(items[0]["target"], "/api/v1/users");
        assert_eq!(items[1]["outcome"], "allow");
        assert_eq!(items[1]["request_id"], request_id.as_str());
        assert_eq!(items[1]["actor"], "end:erin");
        assert_eq!(items[1]["details"]["method"], "GET");

        let (_, failures) = node
            .get(
                "/api/v1/audit/events?stream=system&outcome=failure&action=auth.login",
                &audrey,
            )
            .await;
        assert_eq!(
            failures["items"].as_array().unwrap().len(),
            3,
            "{name}: {failures}"
        );
        let (_, contains) = node.get("/api/v1/audit/events?q=users", &audrey).await;
        assert!(contains["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target"].as_str().unwrap().contains("users")));
        let (_, none) = node.get("/api/v1/audit/events?q=%25", &audrey).await;
        assert_eq!(
            none["items"].as_array().unwrap().len(),
            0,
            "'%' is matched literally"
        );

        // Paging: newest first, a cursor until the end, no event twice.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/audit/events?limit=4&cursor={c}"),
                None => "/api/v1/audit/events?limit=4".to_owned(),
            };
            let (status, page) = node.get(&path, &audrey).await;
            assert_eq!(status, StatusCode::OK, "{name}: {page}");
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["seq"].as_i64().unwrap()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        assert_eq!(seen, sorted, "{name}");
        assert_eq!(*seen.last().unwrap(), 1);

        // Exports stream every match, oldest first.
        let csv = node
            .request(
                Method::GET,
                "/api/v1/audit/events?format=csv&stream=access",
                Some(&audrey),
                None,
            )
            .await;
        assert_eq!(csv.status(), StatusCode::OK);
        assert!(csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = csv.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{name}: {text}");
        assert!(lines[0].starts_with("seq,time,stream,actor"));
        assert!(
            lines[1].contains(",allow,") && lines[2].contains(",deny,"),
            "{text}"
        );
        let jsonl = node
            .request(
                Method::GET,
                "/api/v1/audit/events?format=jsonl",
                Some(&audrey),
                None,
            )
            .await
            .text()
            .await
            .unwrap();
        let seqs: Vec<i64> = jsonl
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{name}");

        // Bad filters are refused, naming the field.
        for (path, status) in [
            ("/api/v1/audit/events?colour=red", StatusCode::BAD_REQUEST),
            (
                "/api/v1/audit/events?stream=billing",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/audit/events?outcome=maybe",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/audit/events?since=yesterday",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/audit/events?limit=0",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/audit/events?cursor=abc",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/audit/events?format=xml",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let (got, body) = node.get(path, &audrey).await;
            assert_eq!(got, status, "{name} {path}: {body}");
        }

        // Auditors read, never change; end users and other IT users do not read the log.
        let (status, _) = node
            .post(
                "/api/v1/users",
                &audrey,
                json!({ "provider": "end", "username": "x", "password": USER_PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        let (status, _) = node.get("/api/v1/audit/events", &erin).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        node.create_user(Provider::It, "dev", USER_PASSWORD, false)
            .await;
        let dev = node.login("it", "dev", USER_PASSWORD).await;
        let (status, _) = node.get("/api/v1/audit/checkpoint", &dev).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    })
    .await;
}

/// A direct connection to the node's database, as someone with file or database access.
pub(crate) enum Db {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Db {
    pub(crate) async fn open(node: &crate::kit::Node) -> Db {
        use sqlx::Connection as _;
        let config = &node.server().state.config;
        if config.database_url.is_empty() {
            let url = format!("sqlite://{}", config.sqlite_path().display());
            Db::Sqlite(sqlx::SqliteConnection::connect(&url).await.unwrap())
        } else {
            Db::Pg(
                sqlx::PgConnection::connect(&config.database_url)
                    .await
                    .unwrap(),
            )
        }
    }
}

/// Runs `sql` on the node's database directly.
pub(crate) async fn tamper(node: &crate::kit::Node, sql: &str) {
    match Db::open(node).await {
        Db::Sqlite(mut c) => sqlx::query(sql).execute(&mut c).await.map(|_| ()),
        Db::Pg(mut c) => sqlx::query(sql).execute(&mut c).await.map(|_| ()),
    }
    .unwrap();
}

/// Rewrites the lines of the audit block starting at `first` directly in the node's
/// database, through the documented block format.
async fn tamper_block(node: &crate::kit::Node, first: i64, edit: impl Fn(&mut Vec<String>)) {
    let read = "SELECT data FROM audit_blocks WHERE first_seq = $1";
    let write = "UPDATE audit_blocks SET data = $1 WHERE first_seq = $2";
    let change = |data: Vec<u8>| {
        let mut lines = rampart_store::decode_block(&data).unwrap();
        edit(&mut lines);
        rampart_store::encode_block(&lines)
    };
    macro_rules! run {
        ($c:expr) => {{
            let data: Vec<u8> = sqlx::query_scalar(read)
                .bind(first)
                .fetch_one(&mut $c)
                .await
                .unwrap();
            sqlx::query(write)
                .bind(change(data))
                .bind(first)
                .execute(&mut $c)
                .await
                .unwrap();
        }};
    }
    match Db::open(node).await {
        Db::Sqlite(mut c) => run!(c),
        Db::Pg(mut c) => run!(c),
    }
}

/// `n` GETs of the `sales` application from a test node at `now`: event `i` reads
/// `target(i)`, allowed when `allow(i)`.
fn accesses(
    now: time::OffsetDateTime,
    n: usize,
    target: impl Fn(usize) -> String,
    allow: impl Fn(usize) -> bool,
) -> Vec<rampart_store::NewEvent> {
    let ctx = rampart_core::AuditContext {
        node_id: "test-node".into(),
        ..Default::default()
    };
    (0..n)
        .map(|i| {
            rampart_store::NewEvent::access(&ctx, now, Some("sales"), &target(i), "GET", allow(i))
        })
        .collect()
}

/// Events appended in batches live in compressed blocks; an event edited inside one, two
/// swapped, or a whole block deleted behind the server's back are each found by the
/// scheduled check and by the offline verifier of an export, at the right number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_inside_a_block_is_found_by_the_check_and_the_offline_verifier() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let state = &node.server().state;
        let now = time::OffsetDateTime::now_utc();
        let events = accesses(now, 600, |i| format!("/s/{i}"), |_| true);
        let last = state.store.append_events(events).await.unwrap();
        let first = last - 599;
        state.audit.checkpoint(now, &state.metrics).await.unwrap();
        state.audit.verify_increment(&state.metrics).await.unwrap();
        let export = |upto: u64| async move {
            let mut out = Vec::new();
            rampart_service::audit::export_jsonl(
                &state.store,
                state.audit.origin(),
                1,
                upto,
                &mut out,
                &mut |_| {},
            )
            .await
            .map(|()| out)
        };
        let verify = |bytes: Vec<u8>| {
            let key = VerifierKey::parse(&state.audit.verifier_key()).unwrap();
            let mut v = rampart_audit::export::Verifier::new(key, None);
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                if v.feed(line).is_err() {
                    break;
                }
            }
            v.finish()
        };
        let size = u64::try_from(last).unwrap();
        assert!(verify(export(size).await.unwrap()).is_ok(), "{name}");

        // The 11th event of the first block says "deny" where it said "allow".
        let edited = first + 10;
        tamper_block(&node, first, |lines| {
            lines[10] = lines[10].replace("\"allow\"", "\"deny\"");
        })
        .await;
        let error = state
            .audit
            .verify_increment(&state.metrics)
            .await
            .unwrap_err();
        assert!(
            format!("{error:?}").contains(&format!("event {edited} ")),
            "{name}: {error:?}"
        );
        let report = verify(export(size).await.unwrap());
        let finding = report.finding.map(|f| f.to_string()).unwrap_or_default();
        assert!(
            finding.contains(&format!("event {edited} ")),
            "{name}: {finding}"
        );
        tamper_block(&node, first, |lines| {
            lines[10] = lines[10].replace("\"deny\"", "\"allow\"");
        })
        .await;
        assert!(
            verify(export(size).await.unwrap()).is_ok(),
            "{name}: restored"
        );

        // Two events swapped inside the block.
        tamper_block(&node, first, |lines| lines.swap(3, 4)).await;
        let report = verify(export(size).await.unwrap());
        let finding = report.finding.map(|f| f.to_string()).unwrap_or_default();
        assert!(
            finding.contains(&format!("event {} ", first + 3)),
            "{name}: {finding}"
        );
        tamper_block(&node, first, |lines| lines.swap(3, 4)).await;

        // The second block gone: reads refuse the gap, and the check names its first event.
        tamper(
            &node,
            &format!("DELETE FROM audit_blocks WHERE first_seq = {}", first + 256),
        )
        .await;
        assert!(
            export(size).await.is_err() || !verify(export(size).await.unwrap()).is_ok(),
            "{name}"
        );
        assert!(
            state.audit.verify_increment(&state.metrics).await.is_err(),
            "{name}"
        );
        assert!(
            state
                .metrics
                .render()
                .contains("rampart_audit_tamper_alert 1"),
            "{name}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_check_finds_an_edit_behind_the_servers_back_and_raises_the_alert() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        for i in 0..5 {
            node.post(
                "/api/v1/users",
                &admin,
                json!({ "provider": "end", "username": format!("u{i}"), "password": USER_PASSWORD }),
            )
            .await;
        }
        let state = &node.server().state;
        let checked = state.audit.verify_increment(&state.metrics).await.unwrap();
        assert!(checked >= 6, "{name}: {checked}");
        let metrics = state.metrics.render();
        assert!(metrics.contains("rampart_audit_tamper_alert 0"), "{name}");
        // An old event, already verified once, edited without its leaf hash: the sweep over
        // earlier events finds it on the next run.
        tamper(&node, "UPDATE audit_events SET body = replace(body, '\"success\"', '\"failure\"') WHERE seq = 3").await;
        let error = state.audit.verify_increment(&state.metrics).await.unwrap_err();
        assert!(format!("{error:?}").contains("event 3"), "{name}: {error:?}");
        assert!(state.metrics.render().contains("rampart_audit_tamper_alert 1"), "{name}");
    })
    .await;
}

/// Complete tiles keep their leaf hashes beside their roots; proofs read them (one row a
/// tile) and give the same answers at every size, and the scheduled check finds them edited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_stored_tile_leaves_verify_and_an_edited_tile_is_found() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let state = &node.server().state;
        let now = time::OffsetDateTime::now_utc();
        let events = accesses(
            now,
            700,
            |i| format!("/apps/sales/screens/s{i}"),
            |i| i % 7 != 0,
        );
        state.store.append_events(events).await.unwrap();
        let metrics = &state.metrics;
        let checkpoint = state.audit.checkpoint(now, metrics).await.unwrap();
        let size = checkpoint.size;
        assert!(size >= 700, "{name}: {size}");
        let stored = state.store.audit_tile_leaves(&[0, 1, 2]).await.unwrap();
        assert_eq!(stored.keys().copied().collect::<Vec<_>>(), [0, 1], "{name}");
        let direct = state.store.audit_leaves(0, size).await.unwrap();
        assert_eq!(stored[&0][..], direct[..256], "{name}");
        assert_eq!(stored[&1][..], direct[256..512], "{name}");
        // Inclusion at the current size and at sizes inside complete tiles (where the stored
        // tile is cut to the size) both verify against the root computed by the log.
        for (seq, at) in [
            (1, size),
            (256, size),
            (257, size),
            (600, size),
            (3, 100),
            (300, 400),
        ] {
            let p = state.audit.inclusion_proof(seq, at).await.unwrap();
            let root = state.audit.root_at(at).await.unwrap();
            assert_eq!(p.leaf, direct[(seq - 1) as usize], "{name}: {seq}");
            verify_inclusion(&p.leaf, seq - 1, at, &p.proof, &root)
                .unwrap_or_else(|e| panic!("{name}: {seq} in {at}: {e}"));
        }
        let (_, proof, _) = state.audit.consistency_proof(300, size).await.unwrap();
        let old = state.audit.root_at(300).await.unwrap();
        verify_consistency(300, size, &old, &checkpoint.root, &proof).unwrap();

        state.audit.verify_increment(metrics).await.unwrap();
        let zeros = if state.config.database_url.is_empty() {
            "UPDATE audit_tiles SET leaves = zeroblob(8192) WHERE tile = 1"
        } else {
            "UPDATE audit_tiles SET leaves = decode(repeat('00', 8192), 'hex') WHERE tile = 1"
        };
        tamper(&node, zeros).await;
        let mut found = None;
        for _ in 0..4 {
            if let Err(e) = state.audit.verify_increment(metrics).await {
                found = Some(format!("{e:?}"));
                break;
            }
        }
        let found = found.unwrap_or_else(|| panic!("{name}: edited tile not found"));
        assert!(
            found.contains("event 257") && found.contains("tile 1"),
            "{name}: {found}"
        );
        assert!(
            metrics.render().contains("rampart_audit_tamper_alert 1"),
            "{name}"
        );
    })
    .await;
}

/// One log, one key: a second node with its own key does not sign beside the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_signing_key_refuses_to_sign_for_the_log() {
    let a = crate::kit::start(BackendKind::Postgres, no_tweak).await;
    let admin = a.admin().await;
    let (status, first) = a.post_empty("/api/v1/audit/checkpoint", &admin).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // The second node's data directory is its own, so it generated another key.
    let b = crate::kit::start_on(BackendKind::Postgres, a.database_url(), no_tweak).await;
    a.create_user(Provider::End, "more", USER_PASSWORD, false)
        .await;
    let state = &b.server().state;
    let error = state
        .audit
        .checkpoint(state.clock.now(), &state.metrics)
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("does not open with this node's audit key"),
        "{error:?}"
    );
    // The first node goes on signing.
    let (status, second) = a.post_empty("/api/v1/audit/checkpoint", &admin).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert!(second["size"].as_u64() > first["size"].as_u64());
}

/// The search-key compaction yields to appends without being starved by them: it merges
/// while events keep coming, and once they stop it catches up on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_compaction_works_beside_appends_and_catches_up_after_them() {
    use rampart_service::{audit::run_key_compaction, metrics::Metrics};
    use std::sync::Arc;
    let (_dir, store) = crate::kit::bare_sqlite_store().await;
    // Segments of 16 events, 4 to a merge: a few thousand events make several levels.
    store.audit_key_geometry(4, 2).await.unwrap();
    let metrics = Arc::new(Metrics::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_key_compaction(
        store.clone(),
        metrics.clone(),
        || true,
        stopped,
    ));
    let ctx = rampart_core::AuditContext {
        actor_name: Some("end:ann".into()),
        node_id: "node-1".into(),
        ..Default::default()
    };
    let now = time::OffsetDateTime::now_utc();
    let mut merged_while_appending = 0;
    let mut backlog_seen = 0;
    for round in 0..2_000 {
        let batch = (0..40)
            .map(|i| {
                rampart_store::NewEvent::access(&ctx, now, None, &format!("/s/{i}"), "GET", true)
            })
            .collect();
        store.append_events(batch).await.unwrap();
        backlog_seen = backlog_seen.max(store.audit_key_backlog().await.unwrap());
        merged_while_appending = metrics.audit_compaction_steps.get();
        if round >= 50 && merged_while_appending > 0 {
            break;
        }
    }
    assert!(
        merged_while_appending > 0,
        "no merge step while events were being appended"
    );
    assert!(backlog_seen > 0, "appends never made a merge ready");
    // No more appends: the task finishes the backlog (it looks again every second).
    loop {
        let before = metrics.audit_compaction_steps.get();
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        if metrics.audit_compaction_steps.get() == before {
            break;
        }
    }
    let _ = stop.send(true);
    task.await.unwrap();
    assert!(
        !store.audit_compact_keys().await.unwrap(),
        "the compaction left work after the appends stopped"
    );
    assert_eq!(store.audit_key_backlog().await.unwrap(), 0);
    assert_eq!(metrics.audit_compaction_backlog.get(), 0);
}

/// A bare store and its audit log with the pipeline running (a queue of `capacity` events,
/// batches of up to `batch_max`).
struct Piped {
    _dir: Option<tempfile::TempDir>,
    store: rampart_store::Store,
    log: std::sync::Arc<rampart_service::audit::AuditLog>,
    metrics: std::sync::Arc<rampart_service::metrics::Metrics>,
    stop: tokio::sync::watch::Sender<bool>,
    pipeline: tokio::task::JoinHandle<()>,
}

async fn piped(kind: BackendKind, capacity: usize, batch_max: usize) -> Piped {
    let (_dir, store) = match kind {
        BackendKind::Sqlite => {
            let (dir, store) = crate::kit::bare_sqlite_store().await;
            (Some(dir), store)
        }
        BackendKind::Postgres => {
            let url = rampart_store::testing::fresh_postgres_url().await;
            let store = rampart_store::Store::open_postgres(&url, 8).await.unwrap();
            store.migrate().await.unwrap();
            (None, store)
        }
    };
    let key = rampart_audit::SigningKey::from_seed("test/audit", [3; 32]).unwrap();
    let log = rampart_service::audit::AuditLog::new(
        store.clone(),
        key,
        "test/audit".into(),
        capacity,
        batch_max,
    )
    .unwrap();
    log.load().await.unwrap();
    let metrics = std::sync::Arc::new(rampart_service::metrics::Metrics::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pipeline = tokio::spawn(log.clone().run_pipeline(metrics.clone(), stopped));
    Piped {
        _dir,
        store,
        log,
        metrics,
        stop,
        pipeline,
    }
}

/// An allowed `access` event of the orders screen, from request `request`, now.
fn order_view(
    request: &str,
    actor: Option<String>,
    application: Option<&str>,
) -> rampart_store::NewEvent {
    let ctx = rampart_core::AuditContext {
        actor_name: actor,
        request_id: Some(request.to_owned()),
        node_id: "node-1".into(),
        ..Default::default()
    };
    rampart_store::NewEvent::access(
        &ctx,
        time::OffsetDateTime::now_utc(),
        application,
        "/apps/sales/screens/orders",
        "GET",
        true,
    )
}

/// Each acknowledged `(number, request id)` is the event stored at that number.
fn assert_each_in_place(events: &[rampart_store::StoredEvent], acknowledged: &[(i64, String)]) {
    let by_seq: std::collections::HashMap<i64, Option<&str>> = events
        .iter()
        .map(|e| (e.seq, e.request_id.as_deref()))
        .collect();
    for (seq, request) in acknowledged {
        assert_eq!(
            by_seq.get(seq).copied().flatten(),
            Some(request.as_str()),
            "event {seq}"
        );
    }
}

/// `system` events committed between the pipeline's batches (each in a change's own
/// transaction) take numbers the batches must skip: every writer still gets its own event's
/// number, nothing is lost, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_stays_exact_when_system_events_come_between_its_batches() {
    on_each_store(stays_exact_between_system_events).await;
}

/// Runs `body` on each backend; a failure on one does not hide the other's result.
async fn on_each_store<F, Fut>(body: F)
where
    F: Fn(BackendKind) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt as _;
    let mut failed = Vec::new();
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let run = std::panic::AssertUnwindSafe(body(kind))
            .catch_unwind()
            .await;
        if run.is_err() {
            failed.push(kind.as_str());
        }
    }
    assert!(failed.is_empty(), "failed on {}", failed.join(" and "));
}

async fn stays_exact_between_system_events(kind: BackendKind) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let Piped {
        _dir,
        store,
        log,
        metrics,
        stop,
        pipeline,
    } = piped(kind, 1_000, 64).await;

    let writing = Arc::new(AtomicBool::new(true));
    let system = {
        let (store, writing) = (store.clone(), writing.clone());
        tokio::spawn(async move {
            let ctx = rampart_core::AuditContext {
                actor_name: Some("it:admin".into()),
                node_id: "node-1".into(),
                ..Default::default()
            };
            let mut n = 0u32;
            while writing.load(Ordering::Acquire) || n == 0 {
                let event = rampart_core::AuditEvent {
                    action: "config.change",
                    target: Some(format!("setting:{n}")),
                    outcome: rampart_core::Outcome::Success,
                    details: "{}".into(),
                };
                store
                    .record_event(&ctx, &event, time::OffsetDateTime::now_utc())
                    .await
                    .unwrap();
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            n
        })
    };
    let mut writers = Vec::new();
    for w in 0..200 {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..10 {
                let request = format!("w{w}-{i}");
                let e = order_view(&request, Some(format!("end:user{w}")), Some("sales"));
                mine.push((log.append(e).await.unwrap(), request));
            }
            mine
        }));
    }
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    writing.store(false, Ordering::Release);
    let system_events = system.await.unwrap();
    let _ = stop.send(true);
    pipeline.await.unwrap();

    let events = store.events_after(0, 100_000).await.unwrap();
    assert_eq!(events.len(), 2_000 + system_events as usize);
    assert_each_in_place(&events, &acknowledged);
    assert!(
        events.iter().any(|e| e.stream == "system")
            && events.windows(3).any(|w| {
                w[0].stream == "access" && w[1].stream == "system" && w[2].stream == "access"
            }),
        "no system event came between two batches"
    );
    // The tree over every leaf, and every body against its leaf.
    assert_eq!(
        log.verify_increment(&metrics).await.unwrap(),
        events.len() as u64
    );
    assert_eq!(metrics.audit_tamper_alert.get(), 0);
}

/// Stopping the pipeline while writers keep coming: what was queued is written and
/// acknowledged (the drain), what comes after is refused with a clear error, nobody waits
/// forever, and the log holds exactly the acknowledged events, each at the number its
/// writer was told. The queue is tiny, so writers also wait for room (back-pressure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_drains_what_it_queued_when_stopped_and_refuses_the_rest() {
    on_each_store(drains_when_stopped).await;
}

async fn drains_when_stopped(kind: BackendKind) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let Piped {
        _dir,
        store,
        log,
        metrics,
        stop,
        pipeline,
    } = piped(kind, 32, 16).await;

    let acked = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..400 {
        let (log, acked) = (log.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..5 {
                let request = format!("w{w}-{i}");
                let answer = log.append(order_view(&request, None, None)).await;
                if answer.is_ok() {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                answers.push((request, answer));
            }
            answers
        }));
    }
    while acked.load(Ordering::Relaxed) < 300 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(60), pipeline)
        .await
        .expect("the pipeline drains and stops")
        .unwrap();
    let (mut acknowledged, mut refused) = (Vec::new(), 0);
    for w in writers {
        let answers = tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("no writer waits forever")
            .unwrap();
        for (request, answer) in answers {
            match answer {
                Ok(seq) => acknowledged.push((seq, request)),
                Err(rampart_core::Error::Unavailable(why)) => {
                    assert!(why.contains("stopped"), "{why}");
                    refused += 1;
                }
                Err(other) => panic!("{other}"),
            }
        }
    }
    assert!(
        acknowledged.len() >= 300 && refused > 0,
        "{} / {refused}",
        acknowledged.len()
    );
    assert_eq!(acknowledged.len() + refused, 2_000);
    let events = store.events_after(0, 100_000).await.unwrap();
    assert_eq!(
        events.len(),
        acknowledged.len(),
        "exactly the acknowledged events"
    );
    assert_each_in_place(&events, &acknowledged);
    assert_eq!(metrics.audit_events.get(), acknowledged.len() as u64);
    // After the stop, a writer is told at once.
    let late = log
        .append(rampart_store::NewEvent::access(
            &rampart_core::AuditContext::default(),
            time::OffsetDateTime::now_utc(),
            None,
            "/late",
            "GET",
            true,
        ))
        .await;
    assert!(
        matches!(late, Err(rampart_core::Error::Unavailable(_))),
        "{late:?}"
    );
}

/// The integration events a node holds, newest first.
async fn integration_events(node: &crate::kit::Node, token: &str) -> Vec<Value> {
    let (status, page) = node
        .get("/api/v1/audit/events?stream=integration&limit=1000", token)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_report_integration_calls_and_bad_reports_record_nothing() {
    on_both(no_tweak, |node| async move {
        let name = node.name();
        let admin = node.admin().await;
        node.create_user(Provider::It, "billing-svc", USER_PASSWORD, false)
            .await;
        let svc = node.login("it", "billing-svc", USER_PASSWORD).await;
        let call = |direction: &str, method: &str, target: &str, status: u16| {
            json!({ "direction": direction, "method": method, "target": target,
                    "status": status, "duration_ms": 42 })
        };
        let mut outbound = call(
            "outbound",
            "POST",
            "https://pay.example/v1;jsessionid=A1B2C3/charges;token=t0k?api_key=sk_live_123#frag",
            201,
        );
        outbound["request_id"] = json!("req-7");
        let inbound = call("inbound", "GetCustomer", "/apps/crm/ws/customers", 500);
        let (status, body) = node
            .post(
                "/api/v1/audit/integration",
                &svc,
                json!({ "events": [outbound, inbound] }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let first = body["first_seq"].as_i64().unwrap();
        assert_eq!(body["last_seq"].as_i64().unwrap(), first + 1, "{name}");

        // Who, target, method, status, duration, time and node, in the integration stream.
        let items = integration_events(&node, &admin).await;
        assert_eq!(items.len(), 2, "{name}: {items:?}");
        let (made, received) = (&items[1], &items[0]);
        assert_eq!(made["seq"], first, "{name}");
        assert_eq!(made["action"], "http.outbound");
        assert_eq!(made["actor"], "it:billing-svc");
        assert_eq!(
            made["target"], "https://pay.example/v1/charges",
            "no query, no fragment, no path parameters"
        );
        assert_eq!(made["outcome"], "success");
        assert_eq!(made["request_id"], "req-7");
        assert_eq!(
            made["details"],
            json!({ "method": "POST", "status": 201, "duration_ms": 42 })
        );
        assert!(!made["node"].as_str().unwrap().is_empty());
        assert!(made["time"].is_string());
        assert_eq!(received["action"], "http.inbound");
        assert_eq!(received["outcome"], "failure", "a 500 is a failure");
        assert_eq!(received["details"]["method"], "GetCustomer");
        let all = format!("{items:?}");
        assert!(
            !all.contains("sk_live_123"),
            "{name}: a token from a query string was kept"
        );
        let (_, found) = node
            .get("/api/v1/audit/events?target=/apps/crm/ws/customers", &admin)
            .await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            1,
            "{name}: {found}"
        );

        // Bad reports are refused whole, naming what is wrong; nothing is recorded.
        let good = call("outbound", "GET", "https://crm.example/api", 200);
        let with = |key: &str, value: Value| {
            let mut c = good.clone();
            c[key] = value;
            json!({ "events": [good.clone(), c] })
        };
        for (report, status, field) in [
            (
                json!({ "events": [] }),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events",
            ),
            (
                with("direction", json!("sideways")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].direction",
            ),
            (
                with("method", json!("GET /x")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].method",
            ),
            (
                with("target", json!("")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].target",
            ),
            (
                with("target", json!("?only=query")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].target",
            ),
            (
                with("target", json!("https://bob:hunter2@crm.example/x")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].target",
            ),
            (
                with("target", json!("bob:hunter2@crm.example/x")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].target",
            ),
            (
                with("target", json!("/x\n{\"forged\":1}")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].target",
            ),
            (
                with("target", json!("x".repeat(2_049))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].target",
            ),
            (
                with("status", json!(99)),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].status",
            ),
            (
                with("duration_ms", json!(86_400_001u64)),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].duration_ms",
            ),
            (
                with("request_id", json!("a b")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1].request_id",
            ),
            (
                with("password", json!("x")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "password",
            ),
        ] {
            let (got, body) = node
                .post("/api/v1/audit/integration", &svc, report.clone())
                .await;
            assert_eq!(got, status, "{name} {report}: {body}");
            assert!(
                body.to_string().contains(field),
                "{name}: {body} names {field}"
            );
            assert!(!body.to_string().contains("hunter2"), "{name}: {body}");
        }
        let too_many: Vec<Value> = (0..1_001).map(|_| good.clone()).collect();
        let (got, _) = node
            .post(
                "/api/v1/audit/integration",
                &svc,
                json!({ "events": too_many }),
            )
            .await;
        // Over the count, or over the body limit first: refused either way.
        assert!(
            got == StatusCode::UNPROCESSABLE_ENTITY || got == StatusCode::PAYLOAD_TOO_LARGE,
            "{name}: {got}"
        );
        assert_eq!(
            integration_events(&node, &admin).await.len(),
            2,
            "{name}: nothing recorded"
        );

        // End users and auditors report nothing.
        node.create_user(Provider::End, "erin", USER_PASSWORD, false)
            .await;
        let erin = node.login("end", "erin", USER_PASSWORD).await;
        let audrey = auditor(&node, &admin).await;
        for token in [&erin, &audrey] {
            let (got, body) = node
                .post(
                    "/api/v1/audit/integration",
                    token,
                    json!({ "events": [good.clone()] }),
                )
                .await;
            assert_eq!(got, StatusCode::FORBIDDEN, "{name}: {body}");
        }
        assert_eq!(integration_events(&node, &admin).await.len(), 2, "{name}");
    })
    .await;
}
