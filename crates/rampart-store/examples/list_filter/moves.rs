//! Moves: a director with about 10,000 people below (a tenth of the full data set; the
//! issue's case), then the largest director, each under another top-level manager, through
//! the store and in the in-memory index, checked against each other afterwards.

use std::time::Instant;

use rampart_authz::acl::{Acl, Actions, EntityId, HierarchyId, RecordRef};
use rampart_authz::dataset::{DatasetSpec, REPORTS};
use rampart_core::AuditContext;
use rampart_store::{AuthzOp, NodeRef, Store};
use time::OffsetDateTime;

use crate::{ms, user_id};

pub async fn run(
    store: &Store,
    spec: &DatasetSpec,
    acl: &Acl,
    largest: u32,
    h: HierarchyId,
    entity: EntityId,
) {
    let ctx = AuditContext {
        node_id: "bench".into(),
        ..AuditContext::default()
    };
    let now = OffsetDateTime::now_utc();
    let tree = acl.hierarchy(REPORTS).unwrap();
    let directors = spec.levels[0]..spec.levels[0] + spec.levels[1];
    let size = |u: u32| tree.subtree_size(u).unwrap() - 1;
    let tenth = directors
        .clone()
        .min_by_key(|&u| size(u).abs_diff(spec.users() / 10))
        .unwrap();
    let mut acl2 = acl.clone();
    for (name, mover) in [
        ("a director with about a tenth of the tree below", tenth),
        ("the largest director", largest),
    ] {
        let tree2 = acl2.hierarchy(REPORTS).unwrap().clone();
        let Some(target) =
            (spec.levels[0]..spec.levels[0] + spec.levels[1] + spec.levels[2]).find(|&u| {
                !tree2.contains(mover, u).unwrap() && Some(u) != tree2.parent(mover).unwrap()
            })
        else {
            eprintln!("no other manager to move {name} under at this scale");
            continue;
        };
        let below = tree2.subtree_size(mover).unwrap() - 1;
        let t = Instant::now();
        store
            .authz_write(
                &ctx,
                now,
                &[AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(user_id(mover)),
                    parent: Some(NodeRef::User(user_id(target))),
                }],
            )
            .await
            .unwrap();
        let moved = t.elapsed();
        let t = Instant::now();
        acl2.set_parent(REPORTS, mover, Some(target)).unwrap();
        let moved_mem = t.elapsed();
        // The database's paths are what a walk of its parent links gives: the rebuild
        // recomputes every path and finds none to repair.
        let check = store
            .authz_rebuild(&ctx, now, None, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(check.paths_fixed, 0, "the moved paths are right");
        let view2 = store.authz_load(&mut |_, _| {}).await.unwrap();
        let size_db = view2
            .acl
            .hierarchy(h)
            .unwrap()
            .subtree_size(target)
            .unwrap();
        let size_mem = acl2
            .hierarchy(REPORTS)
            .unwrap()
            .subtree_size(target)
            .unwrap();
        assert_eq!(
            size_db, size_mem,
            "the database's tree matches the index after the move"
        );
        let f = view2.list_filter(entity, target, 50).unwrap();
        let page = store.readable_records(&f, None, 50).await.unwrap();
        for (key, owner) in &page {
            let num = key.rsplit('-').next().unwrap().parse().unwrap();
            let record = RecordRef { num, owner: *owner };
            assert!(
                acl2.can(target, Actions::READ, entity, record),
                "{key} after the move"
            );
        }
        eprintln!(
            "\nmoving {name} ({below} people below) under another manager: {} through `authz_write` (one UPDATE of the subtree's materialised paths, with its audit event and change-log entry), {} in the in-memory index; afterwards the new manager's subtree is {} people in the database and in the index",
            ms(moved),
            ms(moved_mem),
            size_db - 1,
        );
    }
}
