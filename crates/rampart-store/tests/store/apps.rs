//! Application databases: migrations, records written with their audit events, and lists
//! filtered by the row-level rule inside the statement, checked against a plain reference.

use rampart_apps::list::{compile_get, compile_list, parse_list, Below, RowFilter, Rule};
use rampart_apps::schema::{layouts, Layout, Storage};
use rampart_apps::values::Value;
use rampart_authz::acl::HierarchyKind;
use rampart_authz::path::path_end;
use rampart_core::{Error, Provider, UserId};
use rampart_store::testing::{each_backend, TestStore};
use rampart_store::{AppDatabase, AuthzOp, Expect, NodeRef, RowValues, Store};

use super::{ctx, new_user, T0};

const SALES: &str = "
module: sales-ui
application: sales
entities:
  - name: Sale
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: region, type: text}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep, hierarchy: reports-to}
";

fn layout(yaml: &str) -> Layout {
    let m = rampart_model::parse("m.yaml", yaml).unwrap();
    layouts(&[&m]).unwrap().remove("main").unwrap()
}

async fn user(store: &Store, name: &str) -> UserId {
    store
        .create_user(&new_user(Provider::End, name, None), T0, &ctx())
        .await
        .unwrap()
        .id
}

async fn database(store: &Store, yaml: &str) -> (AppDatabase, Layout) {
    let db = store
        .ensure_app_database(&ctx(), T0, "dev", "sales", "main")
        .await
        .unwrap();
    let m = store
        .migrate_app_database(&db, &layout(yaml), false, &|_, _, _, _, v| Ok(v), T0)
        .await
        .unwrap();
    (db, m.after)
}

fn values(amount: &str, region: &str, rep: UserId) -> RowValues {
    RowValues(vec![
        (
            "amount".into(),
            Storage::Decimal,
            Value::Decimal(amount.into()),
        ),
        ("region".into(), Storage::Text, Value::Text(region.into())),
        ("rep".into(), Storage::Text, Value::Text(rep.to_string())),
    ])
}

fn record_id(i: u32) -> String {
    format!("0190a000-0000-7000-8000-{i:012}")
}

#[tokio::test]
async fn records_are_written_with_their_events_and_read_back() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let rep = user(&store, "rep").await;
        let (db, layout) = database(&store, SALES).await;
        let table = &layout.tables[0];
        let before = store.events_after(0, 10_000).await.unwrap().len();
        let event = |action: &str| {
            rampart_store::NewEvent::system(
                &ctx(),
                &rampart_core::AuditEvent {
                    action: "record.create",
                    target: Some(format!("record:sales-ui.Sale/{action}")),
                    outcome: rampart_core::Outcome::Success,
                    details: "{}".into(),
                },
                T0,
            )
        };
        let created = store
            .app_insert(
                &db,
                table,
                &record_id(1),
                &values("10.50", "North", rep),
                T0,
                vec![event("1")],
            )
            .await
            .unwrap();
        assert_eq!(created.version, 1, "{kind}");
        assert_eq!(
            created.values[0],
            Value::Decimal("10.5".into()),
            "{kind}: decimals keep their value"
        );
        // The event is in the audit log once the write returns (SQLite: moved from the outbox).
        let events = store.events_after(0, 10_000).await.unwrap();
        assert_eq!(events.len(), before + 1, "{kind}");
        assert_eq!(
            events.last().unwrap().target.as_deref(),
            Some("record:sales-ui.Sale/1")
        );
        // A second flush moves nothing twice.
        assert_eq!(store.flush_app_outboxes().await.unwrap(), 0, "{kind}");

        // An update at the version read succeeds; a second one at the same version conflicts.
        let target = store.app_target(&db);
        let visible = compile_get(&target, table, &record_id(1), &RowFilter::All);
        let changed = RowValues(vec![(
            "region".into(),
            Storage::Text,
            Value::Text("South".into()),
        )]);
        let updated = store
            .app_update(
                &db,
                table,
                Expect {
                    visible: &visible,
                    version: Some(1),
                },
                &changed,
                T0,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            (updated.version, &updated.values[1]),
            (2, &Value::Text("South".into())),
            "{kind}"
        );
        let stale = store
            .app_update(
                &db,
                table,
                Expect {
                    visible: &visible,
                    version: Some(1),
                },
                &changed,
                T0,
                vec![],
            )
            .await;
        assert!(
            matches!(stale, Err(Error::Conflict(_))),
            "{kind}: {stale:?}"
        );
        // A record the statement does not select is not found, and nothing changes.
        let other = compile_get(&target, table, &record_id(9), &RowFilter::All);
        let missing = store
            .app_delete(
                &db,
                table,
                Expect {
                    visible: &other,
                    version: None,
                },
                vec![],
            )
            .await;
        assert!(matches!(missing, Err(Error::NotFound { .. })), "{kind}");
        let deleted = store
            .app_delete(
                &db,
                table,
                Expect {
                    visible: &visible,
                    version: Some(2),
                },
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(deleted.id, record_id(1));
        assert!(
            store
                .app_records(&db, table, &visible)
                .await
                .unwrap()
                .is_empty(),
            "{kind}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_retype_that_does_not_convert_changes_nothing() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let rep = user(&store, "rep").await;
        let (db, layout) = database(&store, SALES).await;
        store
            .app_insert(
                &db,
                &layout.tables[0],
                &record_id(1),
                &values("1", "North", rep),
                T0,
                vec![],
            )
            .await
            .unwrap();
        let retyped = layout_of_region_as_integer();
        let convert = |_: &str, _: &_, to: &rampart_apps::schema::Column, _: &str, v: Value| {
            rampart_apps::values::convert(&v, to.ty)
        };
        let refused = store
            .migrate_app_database(&db, &retyped, false, &convert, T0)
            .await;
        assert!(
            matches!(&refused, Err(Error::Conflict(m)) if m.contains("region")),
            "{kind}: {refused:?}"
        );
        assert_eq!(
            store.app_layout(&db).await.unwrap(),
            layout,
            "{kind}: the layout is unchanged"
        );
        // A value that converts: the attribute moves to its new column with its data.
        let table = &layout.tables[0];
        let visible = compile_get(
            &store.app_target(&db),
            table,
            &record_id(1),
            &RowFilter::All,
        );
        let numeric = RowValues(vec![(
            "region".into(),
            Storage::Text,
            Value::Text("42".into()),
        )]);
        store
            .app_update(
                &db,
                table,
                Expect {
                    visible: &visible,
                    version: None,
                },
                &numeric,
                T0,
                vec![],
            )
            .await
            .unwrap();
        let m = store
            .migrate_app_database(&db, &retyped, false, &convert, T0)
            .await
            .unwrap();
        let new_table = &m.after.tables[0];
        assert_eq!(
            new_table.column("region").unwrap().name,
            "region_2",
            "{kind}"
        );
        let read = compile_get(
            &store.app_target(&db),
            new_table,
            &record_id(1),
            &RowFilter::All,
        );
        let rows = store.app_records(&db, new_table, &read).await.unwrap();
        assert_eq!(rows[0].values[1], Value::Integer(42), "{kind}");
    })
    .await;
}

fn layout_of_region_as_integer() -> Layout {
    layout(&SALES.replace(
        "{name: region, type: text}",
        "{name: region, type: integer}",
    ))
}

/// The people: a director above a manager above two reps, a third rep straight under the
/// director, and someone outside the tree.
#[tokio::test]
async fn lists_show_each_reader_exactly_the_rows_the_rule_allows() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let names = ["director", "manager", "rep1", "rep2", "rep3", "outsider"];
        let mut people = Vec::new();
        for n in names {
            people.push(user(&store, n).await);
        }
        let (d, m, r1, r2, r3) = (people[0], people[1], people[2], people[3], people[4]);
        let mut ops = vec![AuthzOp::CreateHierarchy {
            name: "reports-to".into(),
            kind: HierarchyKind::ReportsTo,
        }];
        for (node, parent) in [
            (d, None),
            (m, Some(d)),
            (r1, Some(m)),
            (r2, Some(m)),
            (r3, Some(d)),
        ] {
            ops.push(AuthzOp::SetParent {
                hierarchy: "reports-to".into(),
                node: NodeRef::User(node),
                parent: parent.map(NodeRef::User),
            });
        }
        store.authz_write(&ctx(), T0, &ops).await.unwrap();
        let view = store.authz_load(&mut |_, _| {}).await.unwrap();
        let (db, layout) = database(&store, SALES).await;
        let table = &layout.tables[0];
        // 30 sales spread over everyone, the outsider included.
        let mut owners = Vec::new();
        for i in 0..30u32 {
            let owner = people[i as usize % people.len()];
            let region = if i % 3 == 0 { "North" } else { "South" };
            store
                .app_insert(
                    &db,
                    table,
                    &record_id(i),
                    &values(&format!("{i}.5"), region, owner),
                    T0,
                    vec![],
                )
                .await
                .unwrap();
            owners.push((record_id(i), owner, region));
        }
        let (h, _) = view.hierarchy("reports-to").unwrap();
        let below = |reader: UserId| -> Vec<UserId> {
            match reader {
                x if x == d => vec![d, m, r1, r2, r3],
                x if x == m => vec![m, r1, r2],
                x => vec![x],
            }
        };
        for reader in people.clone() {
            let num = view.user_num(reader);
            let shape = num
                .map(|n| view.reader_shape(Some(h), n, 30, 50))
                .unwrap_or_default();
            // Collect; walk searching each owner's path; walk testing the member set.
            for (walk, set) in [(false, false), (true, false), (true, true)] {
                let rule = RowFilter::Rule(Rule {
                    owner: Some(reader.to_string()),
                    below: shape.owner_path.as_ref().map(|p| Below {
                        hierarchy: i64::from(h.0),
                        lo: p.clone(),
                        hi: path_end(p),
                        members: num.filter(|_| set).map(|n| member_set(&view, h, n)),
                    }),
                    grantees: Vec::new(),
                    action_bit: 1,
                    walk,
                });
                for filter in [None, Some("North")] {
                    // Pages of 4 in id order, followed by their cursors, against the reference.
                    let mut seen = Vec::new();
                    let mut cursor: Option<String> = None;
                    loop {
                        let mut params = vec![("limit".to_owned(), "4".to_owned())];
                        if let Some(r) = filter {
                            params.push(("region".into(), r.into()));
                        }
                        if let Some(c) = &cursor {
                            params.push(("cursor".into(), c.clone()));
                        }
                        let request = parse_list(table, &params).unwrap();
                        let statement =
                            compile_list(&store.app_target(&db), table, &request, &rule);
                        let page = store.app_records(&db, table, &statement).await.unwrap();
                        let more = page.len() > 4;
                        for r in page.iter().take(4) {
                            seen.push(r.id.clone());
                        }
                        if !more {
                            break;
                        }
                        cursor = Some(rampart_apps::list::encode_cursor(&Value::Null, &page[3].id));
                    }
                    let allowed = below(reader);
                    let want: Vec<String> = owners
                        .iter()
                        .filter(|(_, o, region)| {
                            allowed.contains(o) && filter.is_none_or(|f| f == *region)
                        })
                        .map(|(id, _, _)| id.clone())
                        .collect();
                    assert_eq!(
                        seen, want,
                        "{kind}: reader {reader}, walk {walk}, set {set}, filter {filter:?}"
                    );
                }
            }
        }
    })
    .await;
}

/// Every record `reader` may see under the owner rule, in one shape, through the statement.
async fn visible_to(
    store: &Store,
    db: &AppDatabase,
    table: &rampart_apps::schema::Table,
    view: &rampart_authz::view::AuthzView,
    reader: UserId,
    (walk, set): (bool, bool),
) -> Vec<String> {
    let (h, _) = view.hierarchy("reports-to").unwrap();
    let num = view.user_num(reader);
    let shape = num
        .map(|n| view.reader_shape(Some(h), n, 30, 50))
        .unwrap_or_default();
    let rule = RowFilter::Rule(Rule {
        owner: Some(reader.to_string()),
        below: shape.owner_path.as_ref().map(|p| Below {
            hierarchy: i64::from(h.0),
            lo: p.clone(),
            hi: path_end(p),
            members: num.filter(|_| set).map(|n| member_set(view, h, n)),
        }),
        grantees: Vec::new(),
        action_bit: 1,
        walk,
    });
    let request = parse_list(table, &[("limit".to_owned(), "500".to_owned())]).unwrap();
    let statement = compile_list(&store.app_target(db), table, &request, &rule);
    let page = store.app_records(db, table, &statement).await.unwrap();
    page.into_iter().map(|r| r.id).collect()
}

/// The reader `num` and everyone below them in hierarchy `h`, as member bytes.
fn member_set(
    view: &rampart_authz::view::AuthzView,
    h: rampart_authz::acl::HierarchyId,
    num: u32,
) -> std::sync::Arc<rampart_apps::list::MemberSet> {
    let tree = view.acl.hierarchy(h).unwrap();
    std::sync::Arc::new(rampart_apps::list::MemberSet::new(
        (0..tree.len() as u32)
            .map(|n| u8::from(tree.contains(num, n).unwrap()))
            .collect(),
    ))
}

/// The slow reference: the records whose owner is `reader`, or someone below them in the
/// hierarchy as the authorization index has it now.
fn reference(
    view: &rampart_authz::view::AuthzView,
    owners: &[(String, UserId)],
    reader: UserId,
) -> Vec<String> {
    let (h, _) = view.hierarchy("reports-to").unwrap();
    let tree = view.acl.hierarchy(h).unwrap();
    owners
        .iter()
        .filter(|(_, o)| {
            *o == reader
                || matches!((view.user_num(reader), view.user_num(*o)),
                    (Some(a), Some(n)) if tree.contains(a, n).unwrap_or(false))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// How many records of `table` keep no owner number (their owner is looked up by id).
async fn without_numbers(
    store: &Store,
    db: &AppDatabase,
    table: &rampart_apps::schema::Table,
) -> usize {
    let target = store.app_target(db);
    let sql = format!(
        "SELECT {} FROM {} t WHERE t.\"_owner_num\" IS NULL",
        rampart_apps::list::select_list(target.dialect, table, "t"),
        target.table(&table.name)
    );
    let statement = rampart_apps::list::Compiled {
        sql,
        ..Default::default()
    };
    store
        .app_records(db, table, &statement)
        .await
        .unwrap()
        .len()
}

/// The hidden owner numbers never make the rule see other rows than the reference does:
/// existing rows get theirs when a deployment adds the column, a record whose owner had no
/// number yet is found by id (and once the owner is placed in the tree, by those above),
/// a moved owner moves the number with it (also when written through a layout older than
/// the column, which the trigger guards), and re-parenting needs no rewrite of any row.
#[tokio::test]
async fn owner_numbers_follow_owners_new_users_and_reparenting() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let names = ["director", "manager", "other", "rep1", "rep2", "late"];
        let mut people = Vec::new();
        for n in names {
            people.push(user(&store, n).await);
        }
        let (d, m, m2, r1, r2, late) = (
            people[0], people[1], people[2], people[3], people[4], people[5],
        );
        let mut ops = vec![AuthzOp::CreateHierarchy {
            name: "reports-to".into(),
            kind: HierarchyKind::ReportsTo,
        }];
        for (node, parent) in [
            (d, None),
            (m, Some(d)),
            (m2, Some(d)),
            (r1, Some(m)),
            (r2, Some(m2)),
        ] {
            ops.push(AuthzOp::SetParent {
                hierarchy: "reports-to".into(),
                node: NodeRef::User(node),
                parent: parent.map(NodeRef::User),
            });
        }
        store.authz_write(&ctx(), T0, &ops).await.unwrap();
        // The database as a layout from before owner numbers made it: no hidden column.
        let db = store
            .ensure_app_database(&ctx(), T0, "dev", "sales", "main")
            .await
            .unwrap();
        let mut old = layout(SALES);
        old.tables[0].has_owner_num = false;
        let m0 = store
            .migrate_app_database(&db, &old, false, &|_, _, _, _, v| Ok(v), T0)
            .await
            .unwrap();
        let old_table = m0.after.tables[0].clone();
        assert!(old_table.owner_num().is_none(), "{kind}");
        let mut owners: Vec<(String, UserId)> = Vec::new();
        for (i, owner) in [d, m, r1, r1, r2, late, m2, r2].into_iter().enumerate() {
            let id = record_id(i as u32);
            store
                .app_insert(
                    &db,
                    &old_table,
                    &id,
                    &values("1", "North", owner),
                    T0,
                    vec![],
                )
                .await
                .unwrap();
            owners.push((id, owner));
        }
        // The next deployment adds the column and fills it for the existing rows; only the
        // owner without a number (`late`, in no tree yet) has none.
        let m1 = store
            .migrate_app_database(&db, &layout(SALES), false, &|_, _, _, _, v| Ok(v), T0)
            .await
            .unwrap();
        assert!(
            m1.steps.iter().any(|s| matches!(
                s,
                rampart_apps::schema::Step::OwnerNumbers { add: true, .. }
            )),
            "{kind}: {:?}",
            m1.steps
        );
        let table = m1.after.tables[0].clone();
        assert_eq!(table.owner_num(), Some("_owner_num"), "{kind}");
        assert_eq!(without_numbers(&store, &db, &table).await, 1, "{kind}");
        let check = |step: &'static str, owners: Vec<(String, UserId)>| {
            let store = store.clone();
            let (db, table) = (db.clone(), table.clone());
            let people = people.clone();
            async move {
                let view = store.authz_load(&mut |_, _| {}).await.unwrap();
                for reader in people {
                    let want = reference(&view, &owners, reader);
                    for shape in [(false, false), (true, false), (true, true)] {
                        let got = visible_to(&store, &db, &table, &view, reader, shape).await;
                        assert_eq!(
                            got, want,
                            "{kind}, {step}: reader {reader}, (walk, set) {shape:?}"
                        );
                    }
                }
            }
        };
        check("after the migration", owners.clone()).await;

        // A record created for `late` (no number yet), then `late` placed under the manager:
        // the manager and the director see it, found by id.
        let id = record_id(20);
        store
            .app_insert(&db, &table, &id, &values("2", "South", late), T0, vec![])
            .await
            .unwrap();
        owners.push((id, late));
        assert_eq!(without_numbers(&store, &db, &table).await, 2, "{kind}");
        let place = |node: UserId, parent: UserId| AuthzOp::SetParent {
            hierarchy: "reports-to".into(),
            node: NodeRef::User(node),
            parent: Some(NodeRef::User(parent)),
        };
        store
            .authz_write(&ctx(), T0, &[place(late, m)])
            .await
            .unwrap();
        check("a user placed after their records", owners.clone()).await;

        // A record moved from rep1 (under the manager) to rep2 (under the other manager).
        let target = store.app_target(&db);
        let moved = owners[2].0.clone();
        let set_owner = |t: rampart_apps::schema::Table, owner: UserId| {
            let store = store.clone();
            let (db, target, moved) = (db.clone(), target.clone(), moved.clone());
            async move {
                let visible = compile_get(&target, &t, &moved, &RowFilter::All);
                let owner_value = RowValues(vec![(
                    "rep".into(),
                    Storage::Text,
                    Value::Text(owner.to_string()),
                )]);
                let expect = Expect {
                    visible: &visible,
                    version: None,
                };
                store
                    .app_update(&db, &t, expect, &owner_value, T0, vec![])
                    .await
                    .unwrap();
            }
        };
        set_owner(table.clone(), r2).await;
        owners[2].1 = r2;
        check("an owner moved", owners.clone()).await;
        // Moved back through the older layout, which does not write the number: the trigger
        // clears the one left (rep2's), and the owner is found by id again.
        set_owner(old_table.clone(), r1).await;
        owners[2].1 = r1;
        assert_eq!(without_numbers(&store, &db, &table).await, 3, "{kind}");
        check("an owner moved without its number", owners.clone()).await;

        // Re-parenting: rep1 moves from the manager to the other one; no row changes.
        store
            .authz_write(&ctx(), T0, &[place(r1, m2)])
            .await
            .unwrap();
        check("rep1 re-parented", owners.clone()).await;
        let view = store.authz_load(&mut |_, _| {}).await.unwrap();
        assert!(
            visible_to(&store, &db, &table, &view, m, (true, true))
                .await
                .len()
                < visible_to(&store, &db, &table, &view, m2, (true, true))
                    .await
                    .len(),
            "{kind}: the other manager now has rep1's rows"
        );

        // rep2's account deleted: their place in the tree stays, and so do their records for
        // those above it (as platform records), in both shapes.
        let theirs: Vec<String> = owners
            .iter()
            .filter(|(_, o)| *o == r2)
            .map(|(id, _)| id.clone())
            .collect();
        assert!(!theirs.is_empty());
        store.delete_user(r2, T0, &ctx()).await.unwrap();
        let view = store.authz_load(&mut |_, _| {}).await.unwrap();
        for reader in [m2, d] {
            for shape in [(false, false), (true, false), (true, true)] {
                let seen = visible_to(&store, &db, &table, &view, reader, shape).await;
                assert!(
                    theirs.iter().all(|id| seen.contains(id)),
                    "{kind}: reader {reader}, (walk, set) {shape:?}: {seen:?}"
                );
            }
        }
    })
    .await;
}

/// A write whose caller goes away at any point (a client that disconnects, a timeout)
/// leaves the database's one writer usable: later writes, to the application database and
/// to the platform's, still commit. (A begin cancelled halfway used to leave the writer
/// inside a transaction nobody would end, and every later write failed.)
#[tokio::test]
async fn writes_cancelled_at_any_point_leave_the_writers_usable() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let rep = user(&store, "rep").await;
        let (db, layout) = database(&store, SALES).await;
        let table = &layout.tables[0];
        for i in 0..400u32 {
            let wait = std::time::Duration::from_micros(u64::from(i % 80) * 5);
            let _ = tokio::time::timeout(
                wait,
                store.app_insert(
                    &db,
                    table,
                    &record_id(1000 + i),
                    &values("1", "North", rep),
                    T0,
                    vec![],
                ),
            )
            .await;
            let _ = tokio::time::timeout(
                wait,
                store.create_user(&new_user(Provider::End, &format!("u{i}"), None), T0, &ctx()),
            )
            .await;
        }
        store
            .app_insert(
                &db,
                table,
                &record_id(1),
                &values("1", "North", rep),
                T0,
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{kind}: the application writer: {e:?}"));
        store
            .create_user(&new_user(Provider::End, "after", None), T0, &ctx())
            .await
            .unwrap_or_else(|e| panic!("{kind}: the platform writer: {e:?}"));
    })
    .await;
}

/// The database's own defences around advanced SQL, with the checker out of the way: the
/// statement runs where it cannot write, cannot reach the platform's tables, and (on
/// PostgreSQL) resolves names in the application's schema only.
#[tokio::test]
async fn advanced_statements_run_where_they_can_only_read_their_own_tables() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let rep = user(&store, "rep").await;
        let (db, layout) = database(&store, SALES).await;
        store
            .app_insert(
                &db,
                &layout.tables[0],
                &record_id(1),
                &values("1.50", "North", rep),
                T0,
                Vec::new(),
            )
            .await
            .unwrap();
        let run = |sql: String| {
            let (store, db) = (store.clone(), db.clone());
            async move {
                let c = rampart_apps::list::Compiled {
                    sql,
                    ..Default::default()
                };
                store.app_advanced(&db, &c).await
            }
        };
        // Its own table, by its plain name: read, with the column's name and type.
        let found = run("SELECT region, count(*) AS n FROM sale GROUP BY region".into())
            .await
            .unwrap();
        assert_eq!(found.columns, ["region", "n"], "{kind}");
        assert_eq!(
            found.rows,
            [vec![
                rampart_apps::advanced::Cell::Text("North".into()),
                rampart_apps::advanced::Cell::Integer(1)
            ]],
            "{kind}"
        );
        // Writes and the platform's tables are out of reach.
        for sql in [
            "DELETE FROM sale",
            "UPDATE sale SET region = 'x'",
            "CREATE TABLE x (a INTEGER)",
            "SELECT count(*) FROM users",
            "SELECT count(*) FROM platform.users",
            "SELECT count(*) FROM public.users",
            "SELECT count(*) FROM public.sessions",
        ] {
            let r = run(sql.into()).await;
            assert!(r.is_err(), "{kind}: {sql} ran");
        }
        let after = run("SELECT count(*) FROM sale WHERE region = 'North'".into())
            .await
            .unwrap();
        assert_eq!(
            after.rows,
            [vec![rampart_apps::advanced::Cell::Integer(1)]],
            "{kind}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deployments_racing_to_create_one_database_all_get_it() {
    each_backend(|TestStore { store, .. }| async move {
        let kind = store.kind().as_str();
        let store = std::sync::Arc::new(store);
        // Several deployments find the database missing at once: each creates it or finds
        // the winner's, and every one gets a database it can use.
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .ensure_app_database(&ctx(), T0, "dev", "crm", "main")
                        .await
                })
            })
            .collect();
        let mut nums = Vec::new();
        for racer in racers {
            let db = racer
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            nums.push(db.num);
        }
        nums.dedup();
        assert_eq!(nums.len(), 1, "{kind}: one database: {nums:?}");
        let db = store
            .app_database("dev", "crm", "main")
            .await
            .unwrap()
            .unwrap();
        let layout = layout(SALES);
        store
            .migrate_app_database(&db, &layout, false, &|_, _, _, _, v| Ok(v), T0)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    })
    .await;
}
