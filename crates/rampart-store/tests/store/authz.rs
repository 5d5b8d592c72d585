//! Authorization data on both backends: the list filter that runs inside the database must
//! agree with the in-memory index, for every user, through moves and grant changes.

use std::collections::BTreeSet;

use rampart_authz::acl::{Actions, HierarchyKind, RecordRef};
use rampart_authz::view::{AuthzView, ListFilter, PrincipalRef};
use rampart_core::{Error, Provider, UserId};
use rampart_store::testing::{each_backend, TestStore};
use rampart_store::{AuthzOp, NodeRef, Store};

use super::{ctx, new_user, T0};

/// A small deterministic generator (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn users(store: &Store, n: usize) -> Vec<UserId> {
    let mut out = Vec::new();
    for i in 0..n {
        let u = store
            .create_user(
                &new_user(Provider::End, &format!("user{i}"), None),
                T0,
                &ctx(),
            )
            .await
            .unwrap();
        out.push(u.id);
    }
    out
}

async fn write(store: &Store, ops: Vec<AuthzOp>) -> Result<u64, Error> {
    store.authz_write(&ctx(), T0, &ops).await
}

async fn view(store: &Store) -> AuthzView {
    store.authz_load(&mut |_, _| {}).await.unwrap()
}

/// Every user's readable set, from the database (both query shapes) and from the index.
async fn assert_filter_agrees(store: &Store, users: &[UserId], keys: &[(String, Option<UserId>)]) {
    let v = view(store).await;
    let e = v.entity("sale").unwrap();
    let rule = v.acl.entity_rule(e).unwrap();
    for &u in users {
        let Some(num) = v.user_num(u) else { continue };
        // The index loaded from the tables names a number's user, as one built from changes
        // does (list pages and explanations name owners through it).
        assert_eq!(v.user_by_num(num), Some(u), "{}", store.kind().as_str());
        let mut expected = BTreeSet::new();
        for (key, owner) in keys {
            let (rec, _) = store.acl_record(e, key).await.unwrap().unwrap();
            let owner = owner.and_then(|o| v.user_num(o));
            if v.acl
                .can(num, Actions::READ, e, RecordRef { num: rec, owner })
            {
                expected.insert(key.clone());
            }
        }
        // The collect shape with the path the index derives, and with the path read back
        // from the database: the two must agree.
        // The filter as the index builds it, and both shapes by hand.
        let chosen = v.list_filter(e, num, 50).unwrap();
        let derived = chosen.owner_path.clone();
        let by_hand =
            [(false, derived), (false, None), (true, None)].map(|(walk, owner_path)| ListFilter {
                entity: e,
                public: rule.public.contains(Actions::READ),
                owner: rule.owner.map(|h| (h, num)),
                grantees: v.acl.grantee_principals(num),
                walk_in_order: walk,
                owner_path,
            });
        for filter in std::iter::once(chosen).chain(by_hand) {
            let walk = filter.walk_in_order;
            // Page through in small pages to exercise the cursor.
            let mut got = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = store
                    .readable_records(&filter, after.as_deref(), 7)
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                after = page.last().map(|(k, _)| k.clone());
                got.extend(page.into_iter().map(|(k, _)| k));
            }
            let sorted: Vec<String> = expected.iter().cloned().collect();
            assert_eq!(
                got,
                sorted,
                "{} user {num} walk={walk}",
                store.kind().as_str()
            );
            assert_eq!(
                store.count_readable(&filter).await.unwrap(),
                expected.len() as i64
            );
        }
    }
}

#[tokio::test]
async fn list_filter_in_the_database_agrees_with_the_index() {
    each_backend(|TestStore { store, .. }| async move {
        let people = users(&store, 16).await;
        let mut rng = Rng(42);
        let mut ops = vec![
            AuthzOp::CreateHierarchy {
                name: "reports".into(),
                kind: HierarchyKind::ReportsTo,
            },
            AuthzOp::CreateHierarchy {
                name: "units".into(),
                kind: HierarchyKind::Units,
            },
            AuthzOp::CreateGroup {
                name: "auditors".into(),
                description: None,
            },
            AuthzOp::PutEntity {
                name: "sale".into(),
                public: Actions::NONE,
                owner_hierarchy: Some("reports".into()),
                grants: true,
            },
        ];
        for i in 1..people.len() {
            ops.push(AuthzOp::SetParent {
                hierarchy: "reports".into(),
                node: NodeRef::User(people[i]),
                parent: Some(NodeRef::User(people[rng.below(i)])),
            });
        }
        for (unit, parent) in [
            ("emea", None),
            ("france", Some("emea")),
            ("paris", Some("france")),
            ("us", None),
        ] {
            ops.push(AuthzOp::SetParent {
                hierarchy: "units".into(),
                node: NodeRef::Key(unit.into()),
                parent: parent.map(|p: &str| NodeRef::Key(p.into())),
            });
        }
        for (i, &u) in people.iter().enumerate() {
            ops.push(AuthzOp::AddUnitMember {
                hierarchy: "units".into(),
                unit: ["emea", "france", "paris", "us"][i % 4].into(),
                user: u,
            });
        }
        ops.push(AuthzOp::AddGroupMember {
            group: "auditors".into(),
            user: people[3],
        });
        write(&store, ops).await.unwrap();
        let keys: Vec<(String, Option<UserId>)> = (0..60)
            .map(|i| {
                (
                    format!("sale-{:03}", (i * 37) % 100),
                    (i % 9 != 0).then(|| people[rng.below(people.len())]),
                )
            })
            .collect();
        write(
            &store,
            vec![AuthzOp::PutRecords {
                entity: "sale".into(),
                records: keys.clone(),
            }],
        )
        .await
        .unwrap();
        let mut grants = Vec::new();
        for i in 0..25 {
            let principal = match i % 4 {
                0 | 1 => PrincipalRef::User(people[rng.below(people.len())]),
                2 => PrincipalRef::Group("auditors".into()),
                _ => PrincipalRef::Node {
                    hierarchy: "units".into(),
                    node: ["emea", "france", "paris", "us"][rng.below(4)].into(),
                },
            };
            let op = AuthzOp::AddGrant {
                entity: "sale".into(),
                record: keys[rng.below(keys.len())].0.clone(),
                principal,
                actions: [Actions::READ, Actions::WRITE, Actions::ALL][rng.below(3)],
            };
            // Duplicates are refused one by one; keep the others.
            if write(&store, vec![op.clone()]).await.is_ok() {
                grants.push(op);
            }
        }
        assert_filter_agrees(&store, &people, &keys).await;
        // Move a subtree and a unit, then check again.
        write(
            &store,
            vec![
                AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(people[5]),
                    parent: None,
                },
                AuthzOp::SetParent {
                    hierarchy: "units".into(),
                    node: NodeRef::Key("france".into()),
                    parent: Some(NodeRef::Key("us".into())),
                },
            ],
        )
        .await
        .unwrap();
        assert_filter_agrees(&store, &people, &keys).await;
    })
    .await;
}

#[tokio::test]
async fn bad_changes_are_refused_and_change_nothing() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let p = users(&store, 3).await;
        let r1 = write(
            &store,
            vec![
                AuthzOp::CreateHierarchy {
                    name: "reports".into(),
                    kind: HierarchyKind::ReportsTo,
                },
                AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[1]),
                    parent: Some(NodeRef::User(p[0])),
                },
                AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[2]),
                    parent: Some(NodeRef::User(p[1])),
                },
                AuthzOp::PutEntity {
                    name: "sale".into(),
                    public: Actions::NONE,
                    owner_hierarchy: Some("reports".into()),
                    grants: true,
                },
                AuthzOp::PutRecords {
                    entity: "sale".into(),
                    records: vec![("s1".into(), Some(p[2]))],
                },
            ],
        )
        .await
        .unwrap();
        let before = store.events_after(0, 10_000).await.unwrap().len();
        let cases: Vec<(Vec<AuthzOp>, &str)> = vec![
            (
                vec![AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[0]),
                    parent: Some(NodeRef::User(p[2])),
                }],
                "conflict",
            ),
            (
                vec![AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[0]),
                    parent: Some(NodeRef::User(p[0])),
                }],
                "conflict",
            ),
            (
                vec![AuthzOp::AddGrant {
                    entity: "sale".into(),
                    record: "s1".into(),
                    principal: PrincipalRef::Group("nobody".into()),
                    actions: Actions::READ,
                }],
                "invalid-input",
            ),
            (
                vec![AuthzOp::AddGrant {
                    entity: "sale".into(),
                    record: "s1".into(),
                    principal: PrincipalRef::User(UserId::new()),
                    actions: Actions::READ,
                }],
                "invalid-input",
            ),
            (
                vec![AuthzOp::AddGrant {
                    entity: "sale".into(),
                    record: "nope".into(),
                    principal: PrincipalRef::User(p[0]),
                    actions: Actions::READ,
                }],
                "invalid-input",
            ),
            (
                vec![AuthzOp::SetParent {
                    hierarchy: "nope".into(),
                    node: NodeRef::User(p[0]),
                    parent: None,
                }],
                "invalid-input",
            ),
            (
                vec![AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::Key("x".into()),
                    parent: None,
                }],
                "invalid-input",
            ),
            // A good operation followed by a duplicate grant: the whole batch is refused.
            (
                vec![
                    AuthzOp::AddGrant {
                        entity: "sale".into(),
                        record: "s1".into(),
                        principal: PrincipalRef::User(p[0]),
                        actions: Actions::READ,
                    },
                    AuthzOp::AddGrant {
                        entity: "sale".into(),
                        record: "s1".into(),
                        principal: PrincipalRef::User(p[0]),
                        actions: Actions::WRITE,
                    },
                ],
                "conflict",
            ),
        ];
        for (ops, code) in cases {
            let err = write(&store, ops.clone()).await.unwrap_err();
            assert_eq!(err.code(), code, "{kind} {ops:?}: {err}");
        }
        assert_eq!(
            store.authz_revision().await.unwrap(),
            r1,
            "{kind}: no revision consumed"
        );
        assert_eq!(
            store.events_after(0, 10_000).await.unwrap().len(),
            before,
            "{kind}: no event"
        );
        let v = view(&store).await;
        let e = v.entity("sale").unwrap();
        assert_eq!(v.acl.grant_count(e).unwrap(), 0);
        // Writes return increasing revisions; the change log replays to the same index.
        let r2 = write(
            &store,
            vec![AuthzOp::AddGrant {
                entity: "sale".into(),
                record: "s1".into(),
                principal: PrincipalRef::User(p[0]),
                actions: Actions::READ,
            }],
        )
        .await
        .unwrap();
        assert!(r2 > r1);
        let mut replayed = AuthzView::default();
        for (rev, changes) in store.authz_changes_after(0, 1000).await.unwrap() {
            for c in &changes {
                replayed.apply(c).unwrap();
            }
            replayed.revision = rev;
        }
        let loaded = view(&store).await;
        assert_eq!(loaded.revision, r2);
        assert_eq!(replayed.revision, r2);
        for u in &p {
            let (a, b) = (loaded.user_num(*u).unwrap(), replayed.user_num(*u).unwrap());
            assert_eq!(a, b);
            let rec = RecordRef {
                num: 0,
                owner: Some(loaded.user_num(p[2]).unwrap()),
            };
            assert_eq!(
                loaded.acl.can(a, Actions::READ, e, rec),
                replayed.acl.can(b, Actions::READ, e, rec)
            );
        }
        // Deleting a user tells every node: the user is gone from the index.
        store.delete_user(p[0], T0, &ctx()).await.unwrap();
        let mut after_delete = replayed.clone();
        for (_, changes) in store.authz_changes_after(r2, 10).await.unwrap() {
            for c in &changes {
                after_delete.apply(c).unwrap();
            }
        }
        assert_eq!(after_delete.user_num(p[0]), None, "{kind}");
        assert_eq!(view(&store).await.user_num(p[0]), None, "{kind}");
    })
    .await;
}

#[tokio::test]
async fn rebuild_repairs_paths_and_is_idempotent() {
    each_backend(|TestStore { store, url, dir }| async move {
        let kind = store.kind().as_str();
        let p = users(&store, 4).await;
        write(
            &store,
            vec![
                AuthzOp::CreateHierarchy {
                    name: "reports".into(),
                    kind: HierarchyKind::ReportsTo,
                },
                AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[1]),
                    parent: Some(NodeRef::User(p[0])),
                },
                AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[2]),
                    parent: Some(NodeRef::User(p[1])),
                },
                AuthzOp::SetParent {
                    hierarchy: "reports".into(),
                    node: NodeRef::User(p[3]),
                    parent: Some(NodeRef::User(p[0])),
                },
            ],
        )
        .await
        .unwrap();
        let first = store
            .authz_rebuild(&ctx(), T0, None, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(
            (first.nodes, first.paths_fixed, first.cycles_broken),
            (4, 0, 0),
            "{kind}"
        );
        // Corrupt the materialised paths behind the server's back.
        corrupt(&url, dir.as_ref().map(|d| d.path().join("rampart.db"))).await;
        let fixed = store
            .authz_rebuild(&ctx(), T0, None, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(fixed.paths_fixed, 4, "{kind}");
        let again = store
            .authz_rebuild(&ctx(), T0, Some("nope"), &mut |_, _| {})
            .await;
        assert_eq!(again.unwrap_err().code(), "invalid-input");
        let again = store
            .authz_rebuild(&ctx(), T0, None, &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(again.paths_fixed, 0, "{kind}: idempotent");
        assert!(store
            .events_after(0, 1000)
            .await
            .unwrap()
            .iter()
            .any(|e| e.action == "authz.rebuild"));
    })
    .await;
}

async fn corrupt(url: &Option<String>, sqlite: Option<std::path::PathBuf>) {
    use sqlx::Connection as _;
    // A path no walk of the tree produces (a segment above any node number).
    const SQL: &str = "UPDATE authz_node_paths SET path = substr(path, 1, 2)";
    match (url, sqlite) {
        (Some(url), _) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(SQL).execute(&mut c).await.unwrap();
        }
        (None, Some(path)) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query(SQL).execute(&mut c).await.unwrap();
        }
        _ => panic!("no database"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_module_name_is_registered_only_by_its_application_and_a_transfer_moves_the_module_everywhere(
) {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let register = |name: &str, app: &str| AuthzOp::RegisterModule {
            name: name.into(),
            app: app.into(),
        };
        let revision = write(
            &store,
            vec![
                AuthzOp::CreateApplication {
                    name: "hr".into(),
                    description: None,
                },
                AuthzOp::CreateApplication {
                    name: "games".into(),
                    description: None,
                },
                AuthzOp::ReserveModuleName {
                    name: "payroll".into(),
                    app: "hr".into(),
                },
                register("benefits", "games"),
            ],
        )
        .await
        .unwrap();
        // A node that loaded the index before the transfer and replays the change log.
        let mut other = view(&store).await;
        assert_eq!(
            store.module_name_reservation("payroll").await.unwrap(),
            Some("hr".into()),
            "{kind}"
        );
        let refused = write(&store, vec![register("payroll", "games")]).await;
        assert!(
            matches!(refused, Err(Error::Conflict(_))),
            "{kind}: {refused:?}"
        );
        for bad in [
            AuthzOp::ReserveModuleName {
                name: "benefits".into(),
                app: "hr".into(),
            },
            AuthzOp::ReserveModuleName {
                name: "payroll".into(),
                app: "games".into(),
            },
            AuthzOp::ReleaseModuleName {
                name: "benefits".into(),
            },
            AuthzOp::TransferModuleName {
                name: "benefits".into(),
                app: "games".into(),
            },
        ] {
            let r = write(&store, vec![bad.clone()]).await;
            assert!(
                matches!(r, Err(Error::Conflict(_))),
                "{kind}: {bad:?}: {r:?}"
            );
        }
        write(
            &store,
            vec![
                register("payroll", "hr"),
                AuthzOp::TransferModuleName {
                    name: "benefits".into(),
                    app: "hr".into(),
                },
            ],
        )
        .await
        .unwrap();
        assert_eq!(
            store.module_name_reservation("payroll").await.unwrap(),
            None,
            "{kind}: consumed"
        );
        let names: Vec<(String, String, bool)> = store
            .module_names()
            .await
            .unwrap()
            .into_iter()
            .map(|n| (n.name, n.application, n.registered))
            .collect();
        assert_eq!(
            names,
            [
                ("benefits".to_owned(), "hr".to_owned(), true),
                ("payroll".to_owned(), "hr".to_owned(), true),
            ],
            "{kind}"
        );
        let moved = [
            ("benefits".to_owned(), "hr".to_owned()),
            ("payroll".to_owned(), "hr".to_owned()),
        ];
        assert_eq!(
            view(&store).await.module_list(),
            moved,
            "{kind}: a fresh load"
        );
        for (_, changes) in store.authz_changes_after(revision, 100).await.unwrap() {
            for c in &changes {
                other.apply(c).unwrap();
            }
        }
        assert_eq!(other.module_list(), moved, "{kind}: a replaying node");

        // Each change is one event naming the application; refusals left none.
        let events: Vec<(String, Option<String>, Option<String>)> = store
            .events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action.starts_with("module.name.") || e.action == "it.module.register")
            .map(|e| (e.action, e.target, e.application))
            .collect();
        let ev =
            |a: &str, t: &str, app: &str| (a.to_owned(), Some(t.to_owned()), Some(app.to_owned()));
        assert_eq!(
            events,
            [
                ev("module.name.reserve", "module:payroll", "hr"),
                ev("it.module.register", "module:benefits", "games"),
                ev("it.module.register", "module:payroll", "hr"),
                ev("module.name.transfer", "module:benefits", "hr"),
            ],
            "{kind}"
        );
    })
    .await;
}
