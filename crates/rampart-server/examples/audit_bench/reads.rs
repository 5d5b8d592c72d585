//! Reading the grown log: the node's tree, inclusion and consistency proofs through
//! `AuditLog` against the smallest read the store makes, and the first page of filtered
//! searches against the unfiltered first page, with the statements' plans.

use std::time::{Duration, Instant};

use rampart_store::{EventQuery, Stream};

use crate::figures::{median, ms, pct, Figure, Load};
use crate::Bench;

/// Proofs of each kind per round.
const PROOFS: usize = 500;
/// Runs of each search per round.
const SEARCHES: usize = 30;

/// The goals: a proof's p99, a first page's p99.
const PROOF_P99: Duration = Duration::from_millis(1);
const SEARCH_P99: Duration = Duration::from_millis(50);

/// Builds the node's tree (from the stored tile roots), then measures proofs.
pub async fn proofs(b: &mut Bench) {
    let t = Instant::now();
    b.log.load().await.unwrap();
    eprintln!(
        "\ntree built from the leaves and tile roots stored: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    b.log.load().await.unwrap();
    eprintln!(
        "tree restored at start-up from stored tile roots: {}",
        ms(t.elapsed())
    );
    let checkpoint = b.log.checkpoint(b.now, &b.metrics).await.unwrap();
    let size = checkpoint.size;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Per round: p50 and p99 of inclusion, consistency and the floor (one row of one
    // column, the least any proof that reads a tile pays).
    let mut stats: [Vec<(Duration, Duration)>; 3] = [vec![], vec![], vec![]];
    let load = Load::start();
    for _ in 0..b.rounds {
        let mut times: [Vec<Duration>; 3] = [vec![], vec![], vec![]];
        for _ in 0..PROOFS {
            let t = Instant::now();
            b.store.audit_size().await.unwrap();
            times[2].push(t.elapsed());
            let seq = next() % size + 1;
            let t = Instant::now();
            let p = b.log.inclusion_proof(seq, size).await.unwrap();
            times[0].push(t.elapsed());
            rampart_audit::verify_inclusion(&p.leaf, seq - 1, size, &p.proof, &checkpoint.root)
                .unwrap();
            let old = next() % size + 1;
            let t = Instant::now();
            let (_, proof, _) = b.log.consistency_proof(old, size).await.unwrap();
            times[1].push(t.elapsed());
            assert!(proof.len() <= 64);
        }
        for (k, mut v) in times.into_iter().enumerate() {
            v.sort();
            stats[k].push((pct(&v, 0.5), pct(&v, 0.99)));
        }
    }
    let load = load.end();
    let m = |k: usize, p99: bool| {
        let v: Vec<f64> = stats[k]
            .iter()
            .map(|s| if p99 { s.1 } else { s.0 }.as_secs_f64())
            .collect();
        Duration::from_secs_f64(median(&v))
    };
    for (k, name) in [
        (0, "inclusion proof (random event)"),
        (1, "consistency proof (random older size)"),
    ] {
        let p99 = m(k, true);
        Figure {
            figure: format!("{name} at {size} events, p50 / p99"),
            target: format!("p99 ≤ {}", ms(PROOF_P99)),
            value: format!("{} / {}", ms(m(k, false)), ms(p99)),
            baseline: format!(
                "{} / {} (read the log's size: one row)",
                ms(m(2, false)),
                ms(m(2, true))
            ),
            limit: "—".into(),
            met: Some(p99 <= PROOF_P99),
            rounds: b.rounds,
            load: load.clone(),
        }
        .emit(&b.command);
    }
}

/// The first page of 100, newest first, for the filters the benchmark has always reported.
pub async fn searches(b: &mut Bench) {
    let now = b.now;
    let appended = b.appended;
    let searches: Vec<(&str, EventQuery)> = vec![
        ("no filter", EventQuery::default()),
        (
            "stream = access",
            EventQuery {
                stream: Some(Stream::Access),
                ..Default::default()
            },
        ),
        (
            "actor = one user",
            EventQuery {
                actor: Some("end:user4242".into()),
                ..Default::default()
            },
        ),
        (
            "actor = nobody (no match: every segment probed)",
            EventQuery {
                actor: Some("end:nobody".into()),
                ..Default::default()
            },
        ),
        (
            "outcome = deny (1 in 20)",
            EventQuery {
                outcome: Some("deny".into()),
                ..Default::default()
            },
        ),
        (
            "actor and outcome",
            EventQuery {
                actor: Some("end:user4242".into()),
                outcome: Some("allow".into()),
                ..Default::default()
            },
        ),
        (
            "target = one screen",
            EventQuery {
                target: Some("/apps/sales/screens/customer-77".into()),
                ..Default::default()
            },
        ),
        (
            "target contains text",
            EventQuery {
                target_contains: Some("customer-4999".into()),
                ..Default::default()
            },
        ),
        (
            "one hour, an hour ago",
            EventQuery {
                since: Some(now + time::Duration::milliseconds(appended as i64 / 2)),
                until: Some(now + time::Duration::milliseconds(appended as i64 / 2 + 3_600_000)),
                ..Default::default()
            },
        ),
        (
            "stream, application-free, older page (cursor mid-log)",
            EventQuery {
                stream: Some(Stream::Access),
                before_seq: Some(appended as i64 / 2),
                ..Default::default()
            },
        ),
    ];
    eprintln!(
        "\n## searches at {appended} events: first page of 100, {SEARCHES} runs each per round, {} rounds\n",
        b.rounds
    );
    // Per search, per round: p50, p99, rows.
    let mut stats: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); searches.len()];
    let mut rows = vec![0usize; searches.len()];
    let mut worst = vec![Duration::ZERO; searches.len()];
    let load = Load::start();
    for r in 0..b.rounds {
        for j in 0..searches.len() {
            let i = (r + j) % searches.len();
            let mut times = Vec::with_capacity(SEARCHES);
            for _ in 0..SEARCHES {
                let t = Instant::now();
                rows[i] = b
                    .store
                    .audit_search(&searches[i].1, 100)
                    .await
                    .unwrap()
                    .len();
                times.push(t.elapsed());
            }
            times.sort();
            worst[i] = worst[i].max(*times.last().unwrap());
            stats[i].push((pct(&times, 0.5), pct(&times, 0.99)));
        }
    }
    let load = load.end();
    let med = |v: &[(Duration, Duration)], p99: bool| {
        let x: Vec<f64> = v
            .iter()
            .map(|s| if p99 { s.1 } else { s.0 }.as_secs_f64())
            .collect();
        Duration::from_secs_f64(median(&x))
    };
    let base = (med(&stats[0], false), med(&stats[0], true));
    for (i, (name, _)) in searches.iter().enumerate() {
        let (p50, p99) = (med(&stats[i], false), med(&stats[i], true));
        Figure {
            figure: format!("search at {appended} events, first page of 100, p50 / p99: {name}"),
            target: format!("p99 ≤ {}", ms(SEARCH_P99)),
            value: format!(
                "{} / {} ({} rows; slowest run {})",
                ms(p50),
                ms(p99),
                rows[i],
                ms(worst[i])
            ),
            baseline: format!("{} / {} (first page, no filter)", ms(base.0), ms(base.1)),
            limit: "—".into(),
            met: Some(p99 <= SEARCH_P99),
            rounds: b.rounds,
            load: load.clone(),
        }
        .emit(&b.command);
    }
    for sql in [
        "SELECT seq FROM audit_events WHERE (seq >> 16) = 3 AND actor_name = 'end:user4242' AND outcome = 'allow' ORDER BY seq DESC LIMIT 100",
        "SELECT seq FROM audit_events WHERE stream = 'system' AND stream <> 'access' ORDER BY seq DESC LIMIT 100",
        "SELECT target FROM audit_targets WHERE target LIKE '%customer-4999%' ESCAPE '\\' LIMIT 201",
        "SELECT seq FROM audit_keys WHERE seg = 3659174697238533 AND key IN (12345, 67890) AND seq >= 1 AND seq <= 9999999 ORDER BY seq DESC LIMIT 200",
        "SELECT first_seq, count, leaves, data FROM audit_blocks WHERE first_seq > 1000 AND first_seq <= 2000000 AND facets LIKE '%\"outcome:deny\"%' ESCAPE '\\' ORDER BY first_seq DESC LIMIT 8",
        "SELECT first_seq, count, leaves, data FROM audit_blocks WHERE last_at >= 1790000500000 ORDER BY last_at, first_seq LIMIT 1",
    ] {
        eprintln!("\nplan: {sql}");
        for line in b.conn.plan(sql).await {
            eprintln!("    {line}");
        }
    }
}
