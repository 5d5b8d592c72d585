//! The benchmark's events, and the blocks the baseline and the limit write: the same
//! bodies compressed the same way as the log's blocks, without the leaf hashes, facets
//! and search keys (checked byte for byte against the log's stored blocks in the run).

use rampart_core::{AuditContext, UserId};
use rampart_store::{NewEvent, BLOCK_EVENTS};
use time::OffsetDateTime;

/// Events per `append_events` call and per commit, for the log and its baselines alike
/// (the server's `audit.batch_max`).
pub const BATCH: usize = 16_384;

/// Event `i` of the run: an `access` event of one of 100,000 users on one of 5,000
/// screens, timed `i` milliseconds after `now` (so times never go backwards along the log
/// and no time is raised by the log's floor).
pub fn event(i: u64, now: OffsetDateTime) -> NewEvent {
    let user = i.wrapping_mul(2_654_435_761) % 100_000;
    let ctx = AuditContext {
        actor_id: Some(UserId(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(user),
        ))),
        actor_name: Some(format!("end:user{user}")),
        request_id: Some(format!("0193a{i:027x}")),
        source: Some(format!("10.0.{}.{}", (i / 256) % 256, i % 256)),
        node_id: format!("node-{}", i % 3),
    };
    NewEvent::access(
        &ctx,
        now + time::Duration::milliseconds(i as i64),
        Some(["sales", "payroll", "crm"][(i % 3) as usize]),
        &format!("/apps/sales/screens/customer-{}", i % 5_000),
        "GET",
        !i.is_multiple_of(20),
    )
}

/// Events `from .. from + count`, cut into batches of [`BATCH`].
pub fn batches(from: u64, count: u64, now: OffsetDateTime) -> Vec<Vec<NewEvent>> {
    let all: Vec<NewEvent> = (from..from + count).map(|i| event(i, now)).collect();
    let mut out = Vec::with_capacity(all.len().div_ceil(BATCH));
    let mut it = all.into_iter();
    loop {
        let b: Vec<NewEvent> = it.by_ref().take(BATCH).collect();
        if b.is_empty() {
            return out;
        }
        out.push(b);
    }
}

/// A batch's blocks as the baseline inserts them: `(first_seq, data)`.
pub type Blocks = Vec<(i64, Vec<u8>)>;

/// The `data` of the blocks the log writes for `events` numbered from `first_seq`: each
/// event's canonical body (`rampart_audit::body`, as the store writes it) joined by
/// newlines, 256 events a block, compressed by `rampart_audit::block::encode_text`. No
/// number is taken, nothing is hashed, no key is made. `text` is a reused buffer.
pub fn encode_blocks(events: &[NewEvent], first_seq: i64, text: &mut Vec<u8>) -> Blocks {
    let mut out = Vec::with_capacity(events.len().div_ceil(BLOCK_EVENTS));
    for (b, block) in events.chunks(BLOCK_EVENTS).enumerate() {
        let first = first_seq + (b * BLOCK_EVENTS) as i64;
        text.clear();
        for (i, e) in block.iter().enumerate() {
            if i > 0 {
                text.push(b'\n');
            }
            write_body(text, first + i as i64, e);
        }
        out.push((first, rampart_audit::block::encode_text(text)));
    }
    out
}

/// The canonical body of `e` numbered `seq`, as the store writes it (its time, which no
/// floor raises here, formatted on the stack; the actor's id hyphenated).
fn write_body(out: &mut Vec<u8>, seq: i64, e: &NewEvent) {
    let at = e.occurred_at.unix_timestamp_nanos() / 1_000_000;
    let at = OffsetDateTime::from_unix_timestamp_nanos(at * 1_000_000).unwrap();
    let mut time_buf = [0u8; 40];
    let room = time_buf.len();
    let time_len = {
        let mut w: &mut [u8] = &mut time_buf;
        at.format_into(&mut w, &time::format_description::well_known::Rfc3339)
            .unwrap();
        room - w.len()
    };
    let time = std::str::from_utf8(&time_buf[..time_len]).unwrap();
    let mut actor_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let actor = e
        .actor_id
        .map(|a| &*a.0.hyphenated().encode_lower(&mut actor_buf));
    let parts = rampart_audit::body::BodyParts {
        seq,
        stream: e.stream.as_str(),
        time,
        node: &e.node_id,
        request: e.request_id.as_deref(),
        source: e.source.as_deref(),
        actor,
        actor_name: e.actor_name.as_deref(),
        action: &e.action,
        target: e.target.as_deref(),
        application: e.application.as_deref(),
        environment: e.environment.as_deref(),
        outcome: &e.outcome,
        details: &e.details,
    };
    rampart_audit::body::write_checked_body(out, &parts).unwrap();
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`; 0 where
/// there is no such file.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}
