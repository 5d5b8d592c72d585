//! The ACL index against a slow, obvious reference on random data and random changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const USERS: u32 = 24;
const UNITS: u32 = 8;
const GROUPS: u32 = 3;
const RECORDS: u64 = 12;
const REPORTS: HierarchyId = HierarchyId(0);
const UNIT_TREE: HierarchyId = HierarchyId(1);
const E: EntityId = EntityId(0);

/// The reference: plain maps and parent walks, no labels.
#[derive(Debug, Clone, Default)]
struct Reference {
    reports: Vec<Option<u32>>,
    units: Vec<Option<u32>>,
    members: BTreeSet<(u32, u32)>,
    groups: BTreeSet<(u32, u32)>,
    grants: BTreeMap<(u64, Principal), Actions>,
    owners: Vec<Option<u32>>,
    rule: Option<EntityRule>,
}

fn walk_contains(parents: &[Option<u32>], top: u32, node: u32) -> bool {
    let mut cur = Some(node);
    while let Some(c) = cur {
        if c == top {
            return true;
        }
        cur = parents.get(c as usize).copied().flatten();
    }
    false
}

impl Reference {
    fn covered(&self, user: u32, p: Principal) -> bool {
        match p.kind() {
            PrincipalKind::User(u) => u == user,
            PrincipalKind::Group(g) => self.groups.contains(&(user, g)),
            PrincipalKind::Node(_, n) => self
                .members
                .iter()
                .any(|&(u, m)| u == user && walk_contains(&self.units, n, m)),
        }
    }

    fn can(&self, user: u32, action: Actions, record: u64) -> bool {
        let Some(rule) = self.rule else { return false };
        let owner = self.owners[record as usize];
        rule.public.contains(action)
            || (rule.owner.is_some()
                && owner.is_some_and(|o| walk_contains(&self.reports, user, o)))
            || (rule.grants
                && self.grants.iter().any(|(&(r, p), &a)| {
                    r == record && a.contains(action) && self.covered(user, p)
                }))
    }
}

#[derive(Debug, Clone)]
enum Op {
    Report(u32, Option<u32>),
    Unit(u32, Option<u32>),
    Join(u32, u32),
    Leave(u32, u32),
    GroupAdd(u32, u32),
    GroupRemove(u32, u32),
    Grant(u64, u8, u32, u8),
    Rule(u8, bool, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..USERS, proptest::option::weighted(0.9, 0..USERS)).prop_map(|(n, p)| Op::Report(n, p)),
        1 => (0..UNITS, proptest::option::weighted(0.8, 0..UNITS)).prop_map(|(n, p)| Op::Unit(n, p)),
        2 => (0..USERS, 0..UNITS).prop_map(|(u, n)| Op::Join(u, n)),
        1 => (0..USERS, 0..UNITS).prop_map(|(u, n)| Op::Leave(u, n)),
        1 => (0..USERS, 0..GROUPS).prop_map(|(u, g)| Op::GroupAdd(u, g)),
        1 => (0..USERS, 0..GROUPS).prop_map(|(u, g)| Op::GroupRemove(u, g)),
        4 => (0..RECORDS, 0u8..3, 0..USERS, 0u8..4).prop_map(|(r, k, n, a)| Op::Grant(r, k, n, a)),
        1 => (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(p, o, g)| Op::Rule(p, o, g)),
    ]
}

fn principal(kind: u8, n: u32) -> Principal {
    match kind {
        0 => Principal::user(n),
        1 => Principal::group(n % GROUPS),
        _ => Principal::node(UNIT_TREE, n % UNITS),
    }
}

fn rule(public: u8, owner: bool, grants: bool) -> EntityRule {
    EntityRule {
        public: Actions::from_bits(public),
        owner: owner.then_some(REPORTS),
        grants,
    }
}

fn setup(owners: &[Option<u32>]) -> (Acl, Reference) {
    let mut acl = Acl::new();
    acl.define_hierarchy(REPORTS, HierarchyKind::ReportsTo, USERS)
        .unwrap();
    acl.define_hierarchy(UNIT_TREE, HierarchyKind::Units, UNITS)
        .unwrap();
    let r = rule(0, true, true);
    acl.set_entity(E, r).unwrap();
    let reference = Reference {
        reports: vec![None; USERS as usize],
        units: vec![None; UNITS as usize],
        owners: owners.to_vec(),
        rule: Some(r),
        ..Reference::default()
    };
    (acl, reference)
}

fn apply(acl: &mut Acl, reference: &mut Reference, op: &Op) {
    match *op {
        Op::Report(n, p) => {
            let cycle = p.is_some_and(|p| walk_contains(&reference.reports, n, p));
            let got = acl.set_parent(REPORTS, n, p);
            assert_eq!(got.is_err(), cycle, "{op:?}");
            if !cycle {
                reference.reports[n as usize] = p;
            }
        }
        Op::Unit(n, p) => {
            let cycle = p.is_some_and(|p| walk_contains(&reference.units, n, p));
            assert_eq!(
                acl.set_parents(UNIT_TREE, &[(n, p)]).is_err(),
                cycle,
                "{op:?}"
            );
            if !cycle {
                reference.units[n as usize] = p;
            }
        }
        Op::Join(u, n) => {
            assert_eq!(
                acl.add_member(UNIT_TREE, n, u).unwrap(),
                reference.members.insert((u, n))
            );
        }
        Op::Leave(u, n) => {
            assert_eq!(
                acl.remove_member(UNIT_TREE, n, u).unwrap(),
                reference.members.remove(&(u, n))
            );
        }
        Op::GroupAdd(u, g) => assert_eq!(acl.add_to_group(g, u), reference.groups.insert((u, g))),
        Op::GroupRemove(u, g) => {
            assert_eq!(
                acl.remove_from_group(g, u),
                reference.groups.remove(&(u, g))
            )
        }
        Op::Grant(r, k, n, a) => {
            let p = principal(k, n);
            let a = Actions::from_bits(a);
            acl.set_grant(E, r, p, a).unwrap();
            if a.is_empty() {
                reference.grants.remove(&(r, p));
            } else {
                reference.grants.insert((r, p), a);
            }
        }
        Op::Rule(p, o, g) => {
            let r = rule(p, o, g);
            acl.set_entity(E, r).unwrap();
            reference.rule = Some(r);
        }
    }
}

fn assert_agrees(acl: &Acl, reference: &Reference) {
    assert_eq!(acl.grant_count(E).unwrap(), reference.grants.len());
    for (&(r, p), &a) in &reference.grants {
        assert_eq!(acl.grant(E, r, p).unwrap(), a);
    }
    for user in 0..USERS {
        let grantees: BTreeSet<Principal> = acl.grantee_principals(user).into_iter().collect();
        for record in 0..RECORDS {
            let rec = RecordRef {
                num: record,
                owner: reference.owners[record as usize],
            };
            for action in [Actions::READ, Actions::WRITE, Actions::ALL] {
                let expected = reference.can(user, action, record);
                assert_eq!(
                    acl.can(user, action, E, rec),
                    expected,
                    "user {user} {action} record {record}"
                );
                let why = acl.explain(user, action, E, rec).unwrap();
                assert_eq!(why.allowed(), expected, "explain agrees: {why:?}");
                check_reason(reference, user, rec, &why);
                // The set form used for list filtering gives the same answer.
                let rule = reference.rule.unwrap_or(EntityRule::NONE);
                let by_set = rule.public.contains(action)
                    || (rule.owner.is_some()
                        && rec.owner.is_some_and(|o| {
                            acl.hierarchy(REPORTS).unwrap().contains(user, o).unwrap()
                        }))
                    || (rule.grants
                        && reference.grants.iter().any(|(&(r, p), &a)| {
                            r == record && a.contains(action) && grantees.contains(&p)
                        }));
                assert_eq!(by_set, expected, "set form for user {user} record {record}");
            }
        }
    }
}

/// The explanation's path is a real path in the tree, from the deciding node down.
fn check_reason(reference: &Reference, user: u32, rec: RecordRef, why: &AclReason) {
    match why {
        AclReason::Owner { path, .. } => {
            assert_eq!(path.first(), Some(&user));
            assert_eq!(path.last().copied(), rec.owner);
            for w in path.windows(2) {
                assert_eq!(reference.reports[w[1] as usize], Some(w[0]));
            }
        }
        AclReason::Grant {
            principal, path, ..
        } => {
            assert!(reference.covered(user, *principal));
            if let PrincipalKind::Node(_, n) = principal.kind() {
                assert_eq!(path.first(), Some(&n));
                assert!(reference.members.contains(&(user, *path.last().unwrap())));
                for w in path.windows(2) {
                    assert_eq!(reference.units[w[1] as usize], Some(w[0]));
                }
            }
        }
        AclReason::Public | AclReason::Denied { .. } => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn index_matches_reference_through_random_changes(
        owners in proptest::collection::vec(proptest::option::weighted(0.9, 0..USERS), RECORDS as usize),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let (mut acl, mut reference) = setup(&owners);
        for op in &ops {
            apply(&mut acl, &mut reference, op);
        }
        assert_agrees(&acl, &reference);
    }
}

#[test]
fn grant_overlay_merges_keep_every_grant() {
    // Enough changes to force several merges of the overlay into the sorted vector.
    let mut acl = Acl::new();
    acl.define_hierarchy(REPORTS, HierarchyKind::ReportsTo, 1)
        .unwrap();
    acl.set_entity(E, rule(0, false, true)).unwrap();
    let mut expected = BTreeMap::new();
    let mut x: u64 = 7;
    for _ in 0..30_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let record = (x >> 33) % 5_000;
        let p = Principal::user(((x >> 20) % 7) as u32);
        let a = Actions::from_bits(((x >> 10) % 4) as u8);
        acl.set_grant(E, record, p, a).unwrap();
        if a.is_empty() {
            expected.remove(&(record, p));
        } else {
            expected.insert((record, p), a);
        }
    }
    assert_eq!(acl.grant_count(E).unwrap(), expected.len());
    for record in 0..5_000 {
        for u in 0..7 {
            let p = Principal::user(u);
            let want = expected.get(&(record, p)).copied().unwrap_or_default();
            assert_eq!(acl.grant(E, record, p).unwrap(), want);
            let rec = RecordRef {
                num: record,
                owner: None,
            };
            assert_eq!(
                acl.can(u, Actions::READ, E, rec),
                expected
                    .iter()
                    .any(|(&(r, q), a)| r == record && q == p && a.contains(Actions::READ))
            );
        }
    }
}

#[test]
fn the_seed_sales_director_sees_the_team() {
    // director 0 ── manager 1 ── rep 2
    //            └─ manager 3 ── rep 4
    let mut acl = Acl::new();
    acl.define_hierarchy(REPORTS, HierarchyKind::ReportsTo, 5)
        .unwrap();
    acl.set_parents(
        REPORTS,
        &[(1, Some(0)), (2, Some(1)), (3, Some(0)), (4, Some(3))],
    )
    .unwrap();
    acl.set_entity(E, rule(0, true, false)).unwrap();
    let sale_of = |owner| RecordRef {
        num: 9,
        owner: Some(owner),
    };
    let table = [
        // (user, owner of the sale, may read)
        (2, 2, true),
        (2, 4, false),
        (1, 2, true),
        (1, 4, false),
        (3, 4, true),
        (0, 2, true),
        (0, 4, true),
        (4, 3, false),
    ];
    for (user, owner, allowed) in table {
        assert_eq!(
            acl.can(user, Actions::READ, E, sale_of(owner)),
            allowed,
            "{user} reads a sale of {owner}"
        );
    }
    assert_eq!(
        acl.explain(0, Actions::READ, E, sale_of(4)).unwrap(),
        AclReason::Owner {
            hierarchy: REPORTS,
            path: vec![0, 3, 4]
        }
    );
    assert_eq!(
        acl.explain(4, Actions::READ, E, sale_of(3)).unwrap(),
        AclReason::Denied {
            checked: vec!["public", "owner"]
        }
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut acl = Acl::new();
    acl.define_hierarchy(REPORTS, HierarchyKind::ReportsTo, 3)
        .unwrap();
    acl.define_hierarchy(UNIT_TREE, HierarchyKind::Units, 3)
        .unwrap();
    acl.set_parents(REPORTS, &[(1, Some(0)), (2, Some(1))])
        .unwrap();
    let before = acl.hierarchy(REPORTS).unwrap().clone();
    assert!(matches!(
        acl.set_parent(REPORTS, 0, Some(2)),
        Err(AclError::Tree(HierarchyError::Cycle { .. }))
    ));
    assert!(matches!(
        acl.set_parents(REPORTS, &[(2, None), (0, Some(1))]),
        Err(AclError::Tree(_))
    ));
    assert_eq!(acl.hierarchy(REPORTS).unwrap(), &before);
    assert_eq!(
        acl.add_member(REPORTS, 0, 1),
        Err(AclError::WrongKind(0, "unit"))
    );
    assert_eq!(
        acl.set_entity(
            E,
            EntityRule {
                public: Actions::NONE,
                owner: Some(UNIT_TREE),
                grants: false
            }
        ),
        Err(AclError::WrongKind(1, "reports-to"))
    );
    assert_eq!(
        acl.set_grant(EntityId(5), 0, Principal::user(0), Actions::READ),
        Err(AclError::UnknownEntity(5))
    );
    assert!(!acl.can(
        0,
        Actions::READ,
        EntityId(5),
        RecordRef {
            num: 0,
            owner: Some(0)
        }
    ));
    assert_eq!(
        acl.set_parent(HierarchyId(9), 0, None),
        Err(AclError::UnknownHierarchy(9))
    );
}

#[test]
fn principals_round_trip() {
    for p in [
        Principal::user(0),
        Principal::user(MAX_NUM),
        Principal::group(42),
        Principal::node(HierarchyId(MAX_HIERARCHY), MAX_NODE),
    ] {
        assert_eq!(Principal::from_raw(p.raw()), p);
    }
    assert_eq!(Principal::group(7).kind(), PrincipalKind::Group(7));
    assert_eq!(
        Principal::node(HierarchyId(3), 5).kind(),
        PrincipalKind::Node(HierarchyId(3), 5)
    );
    assert_ne!(Principal::user(5), Principal::group(5));
}
