use super::*;
use proptest::prelude::*;
use time::macros::datetime;

fn rule(count: u32, secs: i64) -> Rule {
    Rule {
        count,
        window: Duration::seconds(secs),
    }
}

fn policy() -> Policy {
    Policy {
        brute_force: rule(3, 60),
        credential_stuffing: rule(3, 60),
        password_spraying: rule(5, 120),
        denial_burst: rule(4, 10),
        admin_networks: vec!["10.0.0.0/8".parse().unwrap()],
        production: vec!["production".to_owned()],
        deploy_hours: Some("Mon-Fri 08:00-18:00".parse().unwrap()),
    }
}

const T0: OffsetDateTime = datetime!(2026-12-07 10:00 UTC); // a Monday

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn kinds(alerts: &[Alert]) -> Vec<(Kind, String)> {
    alerts.iter().map(|a| (a.kind, a.subject.clone())).collect()
}

#[test]
fn brute_force_is_raised_once_per_window_on_the_account() {
    let mut d = Detector::new(policy());
    let fail = Signal::LoginFailed {
        username: "alice",
        source: ip("203.0.113.1"),
    };
    assert!(d.observe(T0, &fail).is_empty());
    assert!(d.observe(T0 + Duration::seconds(1), &fail).is_empty());
    let third = d.observe(T0 + Duration::seconds(2), &fail);
    assert_eq!(kinds(&third), vec![(Kind::BruteForce, "alice".to_owned())]);
    assert_eq!(third[0].evidence["failures"], 3);
    assert_eq!(third[0].evidence["sources"], json!(["203.0.113.1"]));
    // Held back within the window, raised again after it.
    assert!(d.observe(T0 + Duration::seconds(3), &fail).is_empty());
    for s in [70, 71] {
        assert!(d.observe(T0 + Duration::seconds(s), &fail).is_empty());
    }
    let again = d.observe(T0 + Duration::seconds(72), &fail);
    assert_eq!(kinds(&again), vec![(Kind::BruteForce, "alice".to_owned())]);
}

#[test]
fn failures_spread_over_more_than_the_window_raise_nothing() {
    let mut d = Detector::new(policy());
    let fail = Signal::LoginFailed {
        username: "alice",
        source: None,
    };
    for i in 0..10 {
        assert!(
            d.observe(T0 + Duration::seconds(31 * i), &fail).is_empty(),
            "{i}"
        );
    }
}

#[test]
fn many_accounts_from_one_address_is_stuffing_and_from_many_is_spraying() {
    let mut d = Detector::new(policy());
    let mut all = Vec::new();
    for (i, user) in ["a", "b", "c"].iter().enumerate() {
        all.extend(d.observe(
            T0 + Duration::seconds(i as i64),
            &Signal::LoginFailed {
                username: user,
                source: ip("198.51.100.9"),
            },
        ));
    }
    assert_eq!(
        kinds(&all),
        vec![(Kind::CredentialStuffing, "198.51.100.9".to_owned())]
    );
    assert_eq!(all[0].evidence["accounts"], 3);
    // Two more accounts, each from its own address: five distinct accounts failing.
    let mut more = Vec::new();
    for (i, (user, source)) in [("d", "192.0.2.1"), ("e", "192.0.2.2")].iter().enumerate() {
        more.extend(d.observe(
            T0 + Duration::seconds(10 + i as i64),
            &Signal::LoginFailed {
                username: user,
                source: ip(source),
            },
        ));
    }
    assert_eq!(
        kinds(&more),
        vec![(Kind::PasswordSpraying, "all sources".to_owned())]
    );
}

#[test]
fn an_administrator_outside_the_networks_is_raised_every_time() {
    let mut d = Detector::new(policy());
    let inside = Signal::LoginSucceeded {
        username: "root",
        source: ip("10.1.2.3"),
        administrator: true,
    };
    let outside = Signal::LoginSucceeded {
        username: "root",
        source: ip("203.0.113.7"),
        administrator: true,
    };
    let user_outside = Signal::LoginSucceeded {
        username: "bob",
        source: ip("203.0.113.7"),
        administrator: false,
    };
    assert!(d.observe(T0, &inside).is_empty());
    assert!(d.observe(T0, &user_outside).is_empty());
    for i in 0..2 {
        let a = d.observe(T0 + Duration::seconds(i), &outside);
        assert_eq!(
            kinds(&a),
            vec![(Kind::AdminOutsideNetworks, "root".to_owned())]
        );
        assert_eq!(a[0].evidence["source"], "203.0.113.7");
    }
    let mut anywhere = Detector::new(Policy {
        admin_networks: vec![],
        ..policy()
    });
    assert!(anywhere.observe(T0, &outside).is_empty());
}

#[test]
fn denials_in_a_burst_raise_and_slow_ones_do_not() {
    let mut d = Detector::new(policy());
    let denied = Signal::Denied {
        actor: "end:mallory",
    };
    let mut raised = Vec::new();
    for i in 0..4 {
        raised.extend(d.observe(T0 + Duration::seconds(i), &denied));
    }
    assert_eq!(
        kinds(&raised),
        vec![(Kind::DenialBurst, "end:mallory".to_owned())]
    );
    let mut slow = Detector::new(policy());
    for i in 0..20 {
        assert!(slow
            .observe(T0 + Duration::seconds(4 * i), &denied)
            .is_empty());
    }
}

#[test]
fn production_deployments_outside_hours_are_raised() {
    let mut d = Detector::new(policy());
    let prod = Signal::Deployed {
        environment: "production",
        actor: Some("it:dora"),
    };
    let test = Signal::Deployed {
        environment: "test",
        actor: Some("it:dora"),
    };
    assert!(d.observe(T0, &prod).is_empty());
    let night = datetime!(2026-12-07 23:00 UTC);
    assert!(d.observe(night, &test).is_empty());
    let a = d.observe(night, &prod);
    assert_eq!(
        kinds(&a),
        vec![(Kind::DeployOutsideHours, "production".to_owned())]
    );
    assert_eq!(a[0].evidence["actor"], "it:dora");
    // The deployment's next module, then one much later.
    assert!(d.observe(night + Duration::seconds(1), &prod).is_empty());
    let later = d.observe(night + Duration::minutes(6), &prod);
    assert_eq!(
        kinds(&later),
        vec![(Kind::DeployOutsideHours, "production".to_owned())]
    );
}

#[test]
fn integrity_failures_are_always_raised_as_critical() {
    let mut d = Detector::new(policy());
    let a = d.observe(T0, &Signal::AuditCheckFailed { detail: "leaf 7" });
    assert_eq!(a[0].kind.severity(), "critical");
    let b = d.observe(T0, &Signal::CheckpointForked { detail: "size 9" });
    assert_eq!(b[0].kind, Kind::CheckpointFork);
}

/// The slow, obvious reading of the counting rules: for each failure, look back over every
/// earlier fact; an alert is held back while an earlier alert of the same rule and subject
/// is younger than the window.
fn reference(p: &Policy, facts: &[(i64, String, Option<IpAddr>)]) -> Vec<(Kind, String, i64)> {
    let mut raised: Vec<(Kind, String, i64)> = Vec::new();
    let quiet = |raised: &Vec<(Kind, String, i64)>, kind: Kind, subject: &str, t: i64, w: i64| {
        raised
            .iter()
            .any(|(k, s, at)| *k == kind && s == subject && *at + w > t)
    };
    for (i, (t, user, source)) in facts.iter().enumerate() {
        let within = |w: i64| facts[..=i].iter().filter(move |(tj, _, _)| *tj > t - w);
        let w = p.brute_force.window.whole_seconds();
        let n = within(w).filter(|(_, u, _)| u == user).count();
        if n >= p.brute_force.count as usize && !quiet(&raised, Kind::BruteForce, user, *t, w) {
            raised.push((Kind::BruteForce, user.clone(), *t));
        }
        if let Some(src) = source {
            let w = p.credential_stuffing.window.whole_seconds();
            let mut accounts: Vec<&String> = within(w)
                .filter(|(_, _, s)| s == source)
                .map(|(_, u, _)| u)
                .collect();
            accounts.sort();
            accounts.dedup();
            let key = src.to_string();
            if accounts.len() >= p.credential_stuffing.count as usize
                && !quiet(&raised, Kind::CredentialStuffing, &key, *t, w)
            {
                raised.push((Kind::CredentialStuffing, key, *t));
            }
        }
        let w = p.password_spraying.window.whole_seconds();
        let mut accounts: Vec<&String> = within(w).map(|(_, u, _)| u).collect();
        accounts.sort();
        accounts.dedup();
        if accounts.len() >= p.password_spraying.count as usize
            && !quiet(&raised, Kind::PasswordSpraying, "all sources", *t, w)
        {
            raised.push((Kind::PasswordSpraying, "all sources".to_owned(), *t));
        }
    }
    raised
}

proptest! {
    #[test]
    fn the_detector_raises_what_the_slow_reading_raises(
        steps in prop::collection::vec((0i64..40, 0usize..6, prop::option::of(0u8..4)), 0..200),
        brute in 1u32..6, stuff in 1u32..5, spray in 1u32..7,
        w1 in 1i64..90, w2 in 1i64..90, w3 in 1i64..200,
    ) {
        let p = Policy {
            brute_force: rule(brute, w1),
            credential_stuffing: rule(stuff, w2),
            password_spraying: rule(spray, w3),
            ..policy()
        };
        let users = ["ann", "ben", "cat", "dan", "eve", "fay"];
        let mut t = 0;
        let facts: Vec<(i64, String, Option<IpAddr>)> = steps
            .iter()
            .map(|(dt, u, s)| {
                t += dt;
                (t, users[*u].to_owned(), s.map(|s| IpAddr::from([192, 0, 2, s])))
            })
            .collect();
        let mut d = Detector::new(p.clone());
        let mut got = Vec::new();
        for (t, user, source) in &facts {
            let at = T0 + Duration::seconds(*t);
            for a in d.observe(at, &Signal::LoginFailed { username: user, source: *source }) {
                got.push((a.kind, a.subject, (a.at - T0).whole_seconds()));
            }
        }
        prop_assert_eq!(got, reference(&p, &facts));
    }
}
