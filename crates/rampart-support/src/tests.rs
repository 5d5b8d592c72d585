//! The rule as tables: every viewer against every operation, every standing opening a case,
//! and every way a link is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use time::macros::datetime;

use super::link::{hash_token, LinkToken};
use super::*;

fn viewer(requester: bool, standing: Standing, staff: bool, admin: bool) -> Viewer {
    Viewer {
        requester,
        shared: false,
        standing,
        support_staff: staff,
        operator_admin: admin,
    }
}

#[test]
fn who_may_do_what_to_a_case() {
    use Standing::*;
    // (requester, standing, staff, operator admin) → (see/comment/close/reopen, decide)
    let table = [
        ((true, Outsider, false, false), (true, false)),
        ((true, Member, false, false), (true, false)),
        ((true, Removed, false, false), (false, false)),
        ((true, Administrator, false, false), (true, false)),
        ((false, Administrator, false, false), (true, true)),
        ((false, Member, false, false), (false, false)),
        ((false, Removed, false, false), (false, false)),
        ((false, Outsider, false, false), (false, false)),
        ((false, Outsider, true, false), (true, false)),
        ((false, Outsider, false, true), (true, true)),
        ((true, Outsider, false, true), (true, false)),
        ((false, Member, true, false), (true, false)),
    ];
    for ((requester, standing, staff, admin), (work, decide)) in table {
        let who = viewer(requester, standing, staff, admin);
        for op in CaseOp::ALL {
            let expected = match op {
                CaseOp::Decide => decide,
                // Sharing is the requester's and the deciders', not the support staff's.
                CaseOp::Share => work && (requester || admin || standing == Administrator),
                _ => work,
            };
            assert_eq!(may(who, op), expected, "{who:?} {op:?}");
        }
    }
}

#[test]
fn a_shared_case_is_seen_and_commented_on_by_members_only() {
    use Standing::*;
    for (standing, sees) in [
        (Member, true),
        (Administrator, true),
        (Removed, false),
        (Outsider, false),
    ] {
        let who = Viewer {
            shared: true,
            ..viewer(false, standing, false, false)
        };
        assert_eq!(may(who, CaseOp::See), sees, "{standing:?}");
        assert_eq!(may(who, CaseOp::Comment), sees, "{standing:?}");
        if standing == Member {
            for op in [CaseOp::Close, CaseOp::Reopen, CaseOp::Decide, CaseOp::Share] {
                assert!(!may(who, op), "{op:?}");
            }
        }
    }
}

#[test]
fn members_cases_open_and_others_wait() {
    assert_eq!(opening(Standing::Member), Ok(Status::Open));
    assert_eq!(opening(Standing::Administrator), Ok(Status::Open));
    assert_eq!(opening(Standing::Outsider), Ok(Status::Suspended));
    assert_eq!(opening(Standing::Removed), Err(OpenRefusal::Removed));
}

#[test]
fn statuses_change_only_as_written() {
    assert_eq!(transition(Status::Open, CaseOp::Close), Ok(Status::Closed));
    assert_eq!(
        transition(Status::Suspended, CaseOp::Close),
        Ok(Status::Closed)
    );
    assert!(transition(Status::Closed, CaseOp::Close).is_err());
    assert_eq!(transition(Status::Closed, CaseOp::Reopen), Ok(Status::Open));
    assert!(transition(Status::Open, CaseOp::Reopen).is_err());
    assert!(transition(Status::Suspended, CaseOp::Reopen).is_err());
    assert!(transition(Status::Open, CaseOp::See).is_err());
    assert_eq!(decision_refusal(Status::Suspended), None);
    assert!(decision_refusal(Status::Open).is_some());
    assert!(decision_refusal(Status::Closed).is_some());
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
}

#[test]
fn rate_limits_name_the_one_reached() {
    let limits = RateLimits {
        window: Duration::hours(1),
        per_requester: 3,
        per_company: 10,
    };
    assert_eq!(over_limit(limits, 2, 9), None);
    assert!(over_limit(limits, 3, 0).unwrap().contains("you opened 3"));
    assert!(over_limit(limits, 0, 10)
        .unwrap()
        .contains("company received 10"));
}

#[test]
fn links_are_refused_for_each_reason() {
    let now = datetime!(2026-01-01 12:00 UTC);
    let good = LinkFacts {
        expires_at: now + Duration::hours(1),
        used: false,
        bound_to_follower: true,
        follower_standing: Standing::Administrator,
        follower_is_requester: false,
        status: Status::Suspended,
    };
    assert_eq!(check_link(good, now), Ok(()));
    let cases = [
        (LinkFacts { used: true, ..good }, LinkRefusal::Used),
        (
            LinkFacts {
                expires_at: now,
                ..good
            },
            LinkRefusal::Expired,
        ),
        (
            LinkFacts {
                bound_to_follower: false,
                ..good
            },
            LinkRefusal::OtherPerson,
        ),
        (
            LinkFacts {
                follower_standing: Standing::Member,
                ..good
            },
            LinkRefusal::NotAdministrator,
        ),
        (
            LinkFacts {
                follower_is_requester: true,
                ..good
            },
            LinkRefusal::Requester,
        ),
        (
            LinkFacts {
                status: Status::Open,
                ..good
            },
            LinkRefusal::Decided,
        ),
    ];
    for (facts, refusal) in cases {
        assert_eq!(check_link(facts, now), Err(refusal), "{facts:?}");
        assert!(!refusal.message().is_empty());
    }
}

#[test]
fn tokens_hash_back_and_forgeries_do_not_parse() {
    let token = LinkToken::generate().unwrap();
    assert_eq!(hash_token(token.secret()), Some(token.hash()));
    assert!(token.secret().starts_with("rsl_"));
    assert_ne!(LinkToken::generate().unwrap().hash(), token.hash());
    assert_eq!(hash_token("rsl_short"), None);
    assert_eq!(hash_token(&token.secret().replace("rsl_", "rps_")), None);
    let mut bent = token.secret().to_owned();
    bent.pop();
    bent.push('!');
    assert_eq!(hash_token(&bent), None);
    assert!(!format!("{token:?}").contains(&token.secret()[4..]));
}
