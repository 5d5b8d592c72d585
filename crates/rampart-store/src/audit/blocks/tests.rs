//! Block encoding, bodies and key packs against plain references.

use super::*;
use rampart_core::UserId;

/// Regression: `time`'s `format_into` under-counts a fraction's bytes (0.001 s counted
/// as one), so a body cut its time to `…:20.0` and the stored event no longer parsed.
#[test]
fn bodies_keep_their_time_to_the_millisecond() {
    let base = 1_790_000_000_000_i64;
    for ms in [0, 1, 10, 100, 123, 999, 59_999] {
        let at = base + ms;
        let event = super::super::NewEvent::access(
            &rampart_core::AuditContext {
                actor_id: Some(UserId(uuid::Uuid::from_u128(0xfeed))),
                node_id: "node-1".into(),
                ..Default::default()
            },
            crate::backend::from_millis(at).unwrap(),
            None,
            "/screens/a",
            "GET",
            true,
        );
        let mut out = Vec::new();
        super::super::write_body(&mut out, 7, &event, at).unwrap();
        let body: Body = serde_json::from_slice(&out).unwrap();
        let time = OffsetDateTime::parse(&body.time, &Rfc3339).unwrap();
        assert_eq!(to_millis(time), at, "{}", body.time);
        assert_eq!(
            body.actor.as_deref(),
            Some("00000000-0000-0000-0000-00000000feed")
        );
        let row = super::super::event_row(7, &event, at).unwrap();
        assert_eq!(row.body.as_bytes(), &out[..]);
    }
}

/// Any text (with quotes, backslashes, control characters, non-ASCII) or none.
fn text() -> impl proptest::strategy::Strategy<Value = Option<String>> {
    proptest::option::of("(\\PC|[\"\\\\\u{0}-\u{1f}\u{7f}\u{2028}]){0,24}")
}

proptest::proptest! {
    /// The hand-written body writer against the slow, obvious one: `serde_json`
    /// serialising [`Body`]. Any difference would change what a leaf hashes.
    #[test]
    fn bodies_are_what_serde_json_writes(
        seq in 1i64..i64::MAX,
        at in 0i64..253_402_300_799_999,
        actor in proptest::option::of(proptest::num::u128::ANY),
        strings in proptest::collection::vec(text(), 10),
        detail in text(),
    ) {
        let [actor_name, action, target, application, environment, outcome, request, source, node, key] =
            <[Option<String>; 10]>::try_from(strings).unwrap();
        let details = serde_json::json!({
            key.unwrap_or_default(): detail, "n": seq, "ok": at % 2 == 0,
        })
        .to_string();
        let event = super::super::NewEvent {
            stream: Stream::ALL[(seq % 3) as usize],
            occurred_at: crate::backend::from_millis(at).unwrap(),
            actor_id: actor.map(|a| UserId(uuid::Uuid::from_u128(a))),
            actor_name,
            action: action.unwrap_or_default(),
            target,
            application,
            environment,
            outcome: outcome.unwrap_or_default(),
            request_id: request,
            source,
            node_id: node.unwrap_or_default(),
            details,
        };
        let mut written = Vec::new();
        super::super::write_body(&mut written, seq, &event, at).unwrap();

        let time = crate::backend::from_millis(at).unwrap().format(&Rfc3339).unwrap();
        let actor = event.actor_id.map(|a| a.0.hyphenated().to_string());
        let reference = serde_json::to_vec(&Body {
            seq,
            stream: event.stream.as_str().into(),
            time: time.into(),
            node: event.node_id.as_str().into(),
            request: event.request_id.as_deref().map(Into::into),
            source: event.source.as_deref().map(Into::into),
            actor: actor.as_deref().map(Into::into),
            actor_name: event.actor_name.as_deref().map(Into::into),
            action: event.action.as_str().into(),
            target: event.target.as_deref().map(Into::into),
            application: event.application.as_deref().map(Into::into),
            environment: event.environment.as_deref().map(Into::into),
            outcome: event.outcome.as_str().into(),
            details: serde_json::from_str(&event.details).unwrap(),
        })
        .unwrap();
        proptest::prop_assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&reference)
        );
        proptest::prop_assert!(!written.contains(&b'\n'));
    }
}

#[test]
fn keys_differ_by_field_and_value_and_are_not_negative() {
    let a = key(Field::Actor, "it:admin");
    assert_ne!(a, key(Field::Target, "it:admin"));
    assert_ne!(a, key(Field::Actor, "it:admin2"));
    assert_eq!(a, key(Field::Actor, "it:admin"));
    assert!(a >= 0);
}

#[test]
fn facet_patterns_escape_like_wildcards() {
    assert_eq!(
        facet_pattern("application", "a_b%"),
        "%\"application:a\\_b\\%\"%"
    );
}

/// Steps built apart (each from its planned number and floor) make exactly the blocks,
/// leaves, keys, targets and times one pass over the batch would have made, whatever
/// the order of the events' clocks.
#[test]
fn steps_built_apart_match_one_pass_over_the_batch() {
    let start = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let n = STEP_BLOCKS * BLOCK_EVENTS * 2 + 300;
    let mut clock = 0x9e37_79b9_u64;
    let events: Vec<super::super::NewEvent> = (0..n)
        .map(|i| {
            // Clocks that jump back and forth, so floors matter.
            clock = clock
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let ms = (i as i64) * 3 - (clock >> 54) as i64;
            let ctx = rampart_core::AuditContext {
                actor_name: Some(format!("end:user{}", i % 97)),
                node_id: "node-1".into(),
                ..Default::default()
            };
            super::super::NewEvent::access(
                &ctx,
                start + time::Duration::milliseconds(ms),
                Some("sales"),
                &format!("/screens/{}", i % 13),
                "GET",
                i % 5 != 0,
            )
        })
        .collect();
    let floor = to_millis(start) + 50;
    // The reference: one pass, each event's time raised to the one before it.
    let mut at = floor;
    let mut leaves = Vec::new();
    let mut times = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let row = super::super::event_row(41 + i as i64, e, at).unwrap();
        at = row.occurred_at;
        leaves.extend_from_slice(&row.leaf_hash);
        times.push(row.occurred_at);
    }
    let (steps, last_at) = plan_steps(&events, 41, floor);
    assert_eq!(last_at, at);
    assert_eq!(steps.len(), 4, "one small step, then full ones");
    assert_eq!(steps[0].events.len(), BLOCK_EVENTS);
    // Built in reverse order, as parallel builders may finish.
    let mut built: Vec<Step> = steps
        .iter()
        .rev()
        .map(|s| s.build(&events).unwrap())
        .collect();
    built.reverse();
    let mut got_leaves = Vec::new();
    let mut next = 41;
    for b in built.iter().flat_map(|s| &s.blocks) {
        assert_eq!(b.first_seq, next);
        let i = (b.first_seq - 41) as usize;
        let last = i + b.count as usize - 1;
        assert_eq!((b.first_at, b.last_at), (times[i], times[last]));
        next += b.count;
        got_leaves.extend_from_slice(&b.leaves);
    }
    assert_eq!(next, 41 + n as i64);
    assert_eq!(got_leaves, leaves);
    assert_eq!(built.last().unwrap().last_at, at);
    let targets: BTreeSet<&String> = built.iter().flat_map(|s| &s.targets).collect();
    assert_eq!(targets.len(), 13);
    // Each block's pack: an actor key and a target key per access event, sorted, each
    // finding its event.
    for b in built.iter().flat_map(|s| &s.blocks) {
        let entries: Vec<(i64, u8)> = pack_entries(b.first_seq, &b.pack).unwrap().collect();
        assert_eq!(entries.len(), 2 * b.count as usize);
        assert!(entries.windows(2).all(|w| w[0] < w[1]));
        for place in 0..b.count {
            let e = &events[(b.first_seq - 41 + place) as usize];
            let seq = b.first_seq + place;
            for k in [
                key(Field::Actor, e.actor_name.as_deref().unwrap()),
                key(Field::Target, e.target.as_deref().unwrap()),
            ] {
                let found = pack_find(b.first_seq, &b.pack, &[k]).unwrap();
                assert!(found.contains(&seq), "event {seq}");
            }
        }
    }
}

/// `details` are copied into the body as they are: whitespace between their tokens
/// would split the body's line, so only compact JSON is taken.
#[test]
fn bodies_refuse_details_that_are_not_one_line() {
    let ctx = rampart_core::AuditContext {
        node_id: "node-1".into(),
        ..Default::default()
    };
    let at = 1_790_000_000_000_i64;
    let mut event = super::super::NewEvent::access(
        &ctx,
        crate::backend::from_millis(at).unwrap(),
        None,
        "/screens/a",
        "GET",
        true,
    );
    for bad in ["{\"a\":\n1}", "{\r\n}", "[1]", "{", " {}", "{}\n"] {
        event.details = bad.to_owned();
        let mut out = Vec::new();
        assert!(
            super::super::write_body(&mut out, 1, &event, at).is_err(),
            "{bad:?}"
        );
    }
    event.details = "{\"note\":\"a\\nb\"}".to_owned();
    let mut out = Vec::new();
    super::super::write_body(&mut out, 1, &event, at).unwrap();
    assert!(!out.contains(&b'\n'));
}

#[test]
fn packs_find_their_keys_lose_the_erased_and_refuse_broken_lengths() {
    let mut pairs = vec![(9, 0u8), (3, 2), (9, 1), (3, 0), (i64::MAX, 255)];
    let pack = encode_pack(&mut pairs);
    assert_eq!(pack.len(), 5 * PACK_ENTRY);
    assert_eq!(pack_find(100, &pack, &[9]).unwrap(), vec![100, 101]);
    assert_eq!(
        pack_find(100, &pack, &[3, i64::MAX]).unwrap(),
        vec![100, 102, 355]
    );
    assert!(pack_find(100, &pack, &[4]).unwrap().is_empty());
    // Only the entries named go: key 3 of event 102 stays, key 9 of event 100 goes.
    let gone: BTreeSet<(i64, i64)> = [(9, 100), (i64::MAX, 355), (3, 101)].into();
    let kept = pack_without(100, &pack, &gone).unwrap();
    assert_eq!(
        pack_entries(100, &kept).unwrap().collect::<Vec<_>>(),
        vec![(3, 0), (3, 2), (9, 1)]
    );
    assert!(pack_find(100, &pack[..pack.len() - 1], &[9]).is_err());
}
