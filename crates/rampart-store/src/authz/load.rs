//! Building a node's index from the tables, and recomputing materialised paths.

use crate::db::{query, Arg, Row, Tx};

use super::tx::{next_revision, record_changes};
use super::*;
use rampart_authz::view::internal;

impl Store {
    /// Builds a node's whole authorization index from the tables, in one snapshot, at the
    /// revision it returns inside the view. `progress` hears each phase's count.
    pub async fn authz_load(&self, progress: Progress<'_>) -> Result<AuthzView, Error> {
        let mut owned = self.snapshot().await?;
        let tx = &mut owned;
        let mut view = AuthzView::default();
        view.set_planner_picks_shape(self.kind() == crate::BackendKind::Postgres);
        let rev: i64 = tx
            .scalar("SELECT revision FROM authz_revision WHERE id = 1", [])
            .await?;
        view.revision = u64::try_from(rev).unwrap_or(0);
        let rows = tx
            .rows(
                "SELECT name, separation_of_duties, second_approver FROM it_environments \
                 ORDER BY position",
                [],
            )
            .await?;
        let environments = rows
            .iter()
            .map(|row| -> Result<EnvironmentDef, Error> {
                Ok(EnvironmentDef {
                    name: row.get("name")?,
                    separation_of_duties: row.get("separation_of_duties")?,
                    second_approver: row.get("second_approver")?,
                })
            })
            .collect::<Result<_, _>>()?;
        view.load_environments(environments);
        let rows = tx
            .rows(
                "SELECT num, user_id FROM authz_users WHERE user_id IS NOT NULL",
                [],
            )
            .await?;
        for row in &rows {
            let num: i64 = row.get("num")?;
            let id: String = row.get("user_id")?;
            view.load_user(UserId::parse(&id, "user_id")?, n32(num, "user")?);
        }
        progress("users", rows.len() as u64);
        apply_rows(
            tx,
            &mut view,
            "SELECT num, name, kind FROM authz_hierarchies ORDER BY num",
            |row| {
                let num: i64 = row.get("num")?;
                let name: String = row.get("name")?;
                let kind: String = row.get("kind")?;
                Ok(Change::Hierarchy {
                    num: n16(num, "hierarchy")?,
                    name,
                    kind,
                })
            },
        )
        .await?;
        // Nodes: parents in one pass, labelled once per hierarchy.
        let mut parents: HashMap<u16, Vec<Option<u32>>> = HashMap::new();
        let mut nodes = 0u64;
        {
            let mut stream =
                query("SELECT hierarchy_num, node_num, node_key, parent_num FROM authz_nodes")
                    .fetch(&mut *tx);
            while let Some(row) = stream.try_next().await.map_err(db)? {
                let h = n16(row.get("hierarchy_num")?, "hierarchy")?;
                let node = n32(row.get("node_num")?, "node")?;
                let parent: Option<i64> = row.get("parent_num")?;
                let parent = parent.map(|p| n32(p, "node")).transpose()?;
                let list = parents.entry(h).or_default();
                let top = node.max(parent.unwrap_or(0)) as usize;
                if list.len() <= top {
                    list.resize(top + 1, None);
                }
                list[node as usize] = parent;
                if view.acl.hierarchy_kind(HierarchyId(h)).map_err(internal)?
                    == HierarchyKind::Units
                {
                    let key: String = row.get("node_key")?;
                    view.load_unit_node(HierarchyId(h), key, node);
                }
                nodes += 1;
            }
        }
        for (h, list) in &parents {
            view.acl
                .load_parents(HierarchyId(*h), list)
                .map_err(internal)?;
        }
        progress("hierarchy nodes", nodes);
        let n = apply_rows(
            tx,
            &mut view,
            "SELECT hierarchy_num, node_num, user_num FROM authz_unit_members",
            |row| {
                Ok(Change::UnitMember {
                    hierarchy: n16(row.get("hierarchy_num")?, "hierarchy")?,
                    node: n32(row.get("node_num")?, "node")?,
                    user: n32(row.get("user_num")?, "user")?,
                    member: true,
                })
            },
        )
        .await?;
        progress("unit seats", n);
        apply_rows(tx, &mut view, "SELECT num, name FROM authz_groups", |row| {
            Ok(Change::Group {
                num: n32(row.get("num")?, "group")?,
                name: row.get("name")?,
            })
        })
        .await?;
        let rows = tx
            .rows("SELECT group_num, user_num FROM authz_group_members", [])
            .await?;
        for row in &rows {
            view.acl.add_to_group(
                n32(row.get("group_num")?, "group")?,
                n32(row.get("user_num")?, "user")?,
            );
        }
        progress("group members", rows.len() as u64);
        apply_rows(
            tx,
            &mut view,
            "SELECT num, name, public_actions, owner_hierarchy, grants FROM acl_entities",
            |row| {
                let public: i64 = row.get("public_actions")?;
                let owner: Option<i64> = row.get("owner_hierarchy")?;
                Ok(Change::Entity {
                    num: n32(row.get("num")?, "entity")?,
                    name: row.get("name")?,
                    public: u8::try_from(public).unwrap_or(0),
                    owner: owner.map(|o| n16(o, "hierarchy")).transpose()?,
                    grants: row.get("grants")?,
                })
            },
        )
        .await?;
        for e in view.entity_ids() {
            let count: i64 = tx
                .scalar(
                    "SELECT COUNT(*) FROM acl_records WHERE entity_num = $1",
                    [Arg::from(i64::from(e.0))],
                )
                .await?;
            view.load_record_count(e, count);
            let mut grants = Vec::new();
            let mut stream = query(
                "SELECT record_num, principal, actions FROM acl_grants WHERE entity_num = $1",
            )
            .bind(i64::from(e.0))
            .fetch(&mut *tx);
            while let Some(row) = stream.try_next().await.map_err(db)? {
                let r: i64 = row.get("record_num")?;
                let p: i64 = row.get("principal")?;
                let a: i64 = row.get("actions")?;
                grants.push((
                    u64::try_from(r).unwrap_or(0),
                    Principal::from_raw(n32(p, "principal")?),
                    Actions::from_bits(u8::try_from(a).unwrap_or(0)),
                ));
                if grants.len() % 100_000 == 0 {
                    progress("grants", grants.len() as u64);
                }
            }
            progress("grants", grants.len() as u64);
            view.acl.load_grants(e, grants).map_err(internal)?;
        }
        apply_rows(
            tx,
            &mut view,
            "SELECT num, name FROM authz_applications",
            |row| {
                Ok(Change::App {
                    num: n32(row.get("num")?, "application")?,
                    name: row.get("name")?,
                })
            },
        )
        .await?;
        apply_rows(
            tx,
            &mut view,
            "SELECT num, app_num, name FROM authz_app_roles",
            |row| {
                Ok(Change::Role {
                    num: n32(row.get("num")?, "role")?,
                    app: n32(row.get("app_num")?, "application")?,
                    name: row.get("name")?,
                })
            },
        )
        .await?;
        let n = apply_rows(
            tx,
            &mut view,
            "SELECT g.role_num, r.app_num, g.principal, g.until FROM authz_role_grants g \
                 JOIN authz_app_roles r ON r.num = g.role_num",
            |row| {
                Ok(Change::RoleGrant {
                    app: n32(row.get("app_num")?, "application")?,
                    role: n32(row.get("role_num")?, "role")?,
                    principal: n32(row.get("principal")?, "principal")?,
                    until: row.get("until")?,
                })
            },
        )
        .await?;
        progress("role grants", n);
        apply_rows(
            tx,
            &mut view,
            "SELECT a.num, r.role FROM it_role_assignments r \
                 JOIN authz_users a ON a.user_id = r.user_id ORDER BY a.num, r.role DESC",
            |row| {
                Ok(Change::ItDefaultRole {
                    user: n32(row.get("num")?, "user")?,
                    role: Some(row.get("role")?),
                })
            },
        )
        .await?;
        apply_rows(
            tx,
            &mut view,
            "SELECT role, environment, level FROM it_role_levels",
            |row| {
                Ok(Change::ItRoleLevel {
                    role: row.get("role")?,
                    environment: row.get("environment")?,
                    level: row.get("level")?,
                })
            },
        )
        .await?;
        apply_rows(tx, &mut view, "SELECT num, name FROM it_teams", |row| {
            Ok(Change::Team {
                num: n32(row.get("num")?, "team")?,
                name: row.get("name")?,
            })
        })
        .await?;
        apply_rows(
            tx,
            &mut view,
            "SELECT team_num, user_num, role FROM it_team_members",
            |row| {
                Ok(Change::TeamMember {
                    team: n32(row.get("team_num")?, "team")?,
                    user: n32(row.get("user_num")?, "user")?,
                    role: Some(row.get("role")?),
                })
            },
        )
        .await?;
        apply_rows(
            tx,
            &mut view,
            "SELECT num, team_num FROM authz_applications WHERE team_num IS NOT NULL",
            |row| {
                let team: i64 = row.get("team_num")?;
                Ok(Change::AppTeam {
                    app: n32(row.get("num")?, "application")?,
                    team: Some(n32(team, "team")?),
                })
            },
        )
        .await?;
        apply_rows(
            tx,
            &mut view,
            "SELECT num, name, app_num FROM it_modules",
            |row| {
                Ok(Change::Module {
                    num: n32(row.get("num")?, "module")?,
                    name: row.get("name")?,
                    app: n32(row.get("app_num")?, "application")?,
                })
            },
        )
        .await?;
        apply_rows(
            tx,
            &mut view,
            "SELECT user_num, scope, scope_num, environment, level FROM it_overrides",
            |row| {
                let env: String = row.get("environment")?;
                Ok(Change::Override {
                    user: n32(row.get("user_num")?, "user")?,
                    scope: row.get("scope")?,
                    scope_num: n32(row.get("scope_num")?, "scope")?,
                    environment: (env != "*").then_some(env),
                    level: Some(row.get("level")?),
                })
            },
        )
        .await?;
        owned.commit().await?;
        Ok(view)
    }

    /// Recomputes every materialised path from the parent links (the seed's "reset"): only
    /// wrong paths are rewritten, so a second run changes nothing. Nodes caught in a cycle of
    /// parent links (only possible after a direct edit of the database) become roots.
    /// `entity` limits the work to the hierarchy that entity's owner rule uses.
    pub async fn authz_rebuild(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        entity: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<RebuildReport, Error> {
        let mut report = RebuildReport::default();
        let at = to_millis(now);
        let mut owned = self.write().await?;
        let tx = &mut owned;
        let only: Option<i64> = match entity {
            Some(name) => {
                let row = tx
                    .row_opt(
                        "SELECT owner_hierarchy FROM acl_entities WHERE name = $1",
                        [name.into()],
                    )
                    .await?
                    .ok_or_else(|| Error::invalid("entity", format!("no entity named `{name}`")))?;
                let h: Option<i64> = row.get("owner_hierarchy")?;
                Some(h.unwrap_or(-1))
            }
            None => None,
        };
        let hierarchies: Vec<i64> = tx
            .scalars("SELECT num FROM authz_hierarchies ORDER BY num", [])
            .await?;
        for h in hierarchies
            .into_iter()
            .filter(|h| only.is_none_or(|o| o == *h))
        {
            report.hierarchies += 1;
            let rows = tx
                .rows(
                    "SELECT n.node_num, n.parent_num, p.path FROM authz_nodes n LEFT JOIN \
                         authz_node_paths p ON p.hierarchy_num = n.hierarchy_num AND p.node_num = \
                         n.node_num WHERE n.hierarchy_num = $1",
                    [h.into()],
                )
                .await?;
            let mut parent: HashMap<i64, Option<i64>> = HashMap::with_capacity(rows.len());
            let mut stored: HashMap<i64, Option<Vec<u8>>> = HashMap::with_capacity(rows.len());
            for row in &rows {
                let n: i64 = row.get("node_num")?;
                parent.insert(n, row.get("parent_num")?);
                stored.insert(n, row.get("path")?);
            }
            // Children lists, then a walk from the roots: every reached node gets its path.
            let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
            for (&n, &p) in &parent {
                if let Some(p) = p.filter(|p| parent.contains_key(p)) {
                    children.entry(p).or_default().push(n);
                }
            }
            let mut path: HashMap<i64, Vec<u8>> = HashMap::with_capacity(rows.len());
            let mut stack: Vec<i64> = parent
                .iter()
                .filter(|(_, p)| p.is_none_or(|p| !parent.contains_key(&p)))
                .map(|(&n, _)| n)
                .collect();
            let mut broken: Vec<i64> = Vec::new();
            loop {
                while let Some(n) = stack.pop() {
                    let own = segment(n32(n, "node")?);
                    let p = parent
                        .get(&n)
                        .copied()
                        .flatten()
                        .filter(|_| !broken.contains(&n))
                        .and_then(|p| path.get(&p).cloned());
                    path.insert(n, [p.unwrap_or_default(), own.to_vec()].concat());
                    stack.extend(children.get(&n).into_iter().flatten().copied());
                }
                // Nodes never reached sit on a cycle: make one of them a root and go on.
                match parent.keys().find(|n| !path.contains_key(n)) {
                    Some(&n) => {
                        broken.push(n);
                        report.cycles_broken += 1;
                        tx.exec(
                            "UPDATE authz_nodes SET parent_num = NULL WHERE \
                                     hierarchy_num = $1 AND node_num = $2",
                            [h.into(), n.into()],
                        )
                        .await?;
                        stack.push(n);
                    }
                    None => break,
                }
            }
            for (n, p) in &path {
                report.nodes += 1;
                if stored.get(n).and_then(Option::as_ref) != Some(p) {
                    report.paths_fixed += 1;
                    tx.exec(
                        "INSERT INTO authz_node_paths (hierarchy_num, node_num, path) \
                                 VALUES ($1, $2, $3) ON CONFLICT (hierarchy_num, node_num) DO \
                                 UPDATE SET path = excluded.path",
                        [h.into(), Arg::from(*n), p.into()],
                    )
                    .await?;
                }
                if report.nodes % PROGRESS_EVERY == 0 {
                    progress("nodes", report.nodes);
                }
            }
            progress("nodes", report.nodes);
        }
        let grants: i64 = tx.scalar("SELECT COUNT(*) FROM acl_grants", []).await?;
        let records: i64 = tx.scalar("SELECT COUNT(*) FROM acl_records", []).await?;
        report.grants = u64::try_from(grants).unwrap_or(0);
        report.records = u64::try_from(records).unwrap_or(0);
        if report.paths_fixed > 0 || report.cycles_broken > 0 {
            // Nodes will reload: a revision with no changes tells them to catch up, and
            // servers rebuild from the tables when they see a `Reload`.
            let revision = next_revision(tx).await?;
            record_changes(tx, revision, at, &[Change::Reload]).await?;
        }
        let details = json!({
            "hierarchies": report.hierarchies,
            "nodes": report.nodes,
            "paths_fixed": report.paths_fixed,
            "cycles_broken": report.cycles_broken,
        });
        let target = entity.map_or_else(|| "authz:all".to_owned(), |e| format!("entity:{e}"));
        crate::audit::record(tx, ctx, now, "authz.rebuild", target, details).await?;
        owned.commit().await?;
        self.marks_committed();
        Ok(report)
    }
}

/// Applies to `view` the change `change` reads from each row of `sql`, in the database's
/// order; returns how many rows there were.
async fn apply_rows(
    tx: &mut Tx<'_>,
    view: &mut AuthzView,
    sql: &str,
    change: impl Fn(&Row) -> Result<Change, Error>,
) -> Result<u64, Error> {
    let rows = tx.rows(sql, []).await?;
    for row in &rows {
        view.apply(&change(row)?)?;
    }
    Ok(rows.len() as u64)
}
