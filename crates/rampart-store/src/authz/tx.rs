//! Lookups and counters inside an authorization transaction, shared by the write families
//! and by other capabilities whose changes concern authorization (deleting a user).

use crate::db::{Arg, Tx};

use super::*;

/// Takes the next authorization revision inside the transaction. On PostgreSQL the row
/// lock serialises authorization writers until commit, so revisions commit in order.
pub(crate) async fn next_revision(tx: &mut Tx<'_>) -> Result<i64, Error> {
    tx.scalar(
        "UPDATE authz_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        [],
    )
    .await
}

/// Appends `changes` under `revision` to the change log every node replays.
pub(crate) async fn record_changes(
    tx: &mut Tx<'_>,
    revision: i64,
    at: i64,
    changes: &[Change],
) -> Result<(), Error> {
    let text = serde_json::to_string(changes)
        .map_err(|e| Error::Internal(format!("encoding changes: {e}")))?;
    tx.exec(
        "INSERT INTO authz_changes (revision, occurred_at, change) VALUES ($1, $2, $3)",
        [revision.into(), at.into(), text.into()],
    )
    .await?;
    Ok(())
}

/// Inside the transaction deleting user `id`: if authorization knows the user, records a
/// revision whose change tells every node to refuse checks for them.
pub(crate) async fn user_deleted(tx: &mut Tx<'_>, id: UserId, at: i64) -> Result<(), Error> {
    let known: Option<i64> = tx
        .scalar_opt(
            "SELECT num FROM authz_users WHERE user_id = $1",
            [id.to_string().into()],
        )
        .await?;
    if known.is_some() {
        let revision = next_revision(tx).await?;
        let change = [Change::UserDeleted {
            user: id.to_string(),
        }];
        record_changes(tx, revision, at, &change).await?;
    }
    Ok(())
}

/// The environment names in order, read once per batch into `cache`; returns a copy.
pub(super) async fn environments_tx(
    tx: &mut Tx<'_>,
    cache: &mut Option<Vec<String>>,
) -> Result<Vec<String>, Error> {
    if let Some(names) = cache {
        return Ok(names.clone());
    }
    let names: Vec<String> = tx
        .scalars("SELECT name FROM it_environments ORDER BY position", [])
        .await?;
    *cache = Some(names.clone());
    Ok(names)
}

/// Replaces the environments (see [`AuthzOp::SetEnvironments`]); returns the names removed.
pub(super) async fn set_environments(
    tx: &mut Tx<'_>,
    defs: &[EnvironmentDef],
    before: &[String],
) -> Result<Vec<String>, Error> {
    if defs.is_empty() {
        return Err(Error::invalid(
            "environments",
            "at least one environment is needed",
        ));
    }
    if defs.len() > usize::from(u16::MAX) {
        return Err(Error::invalid("environments", "too many environments"));
    }
    for (i, d) in defs.iter().enumerate() {
        check_name("environments.name", &d.name)?;
        if defs[..i].iter().any(|e| e.name == d.name) {
            return Err(Error::invalid(
                "environments",
                format!("`{}` is listed twice", d.name),
            ));
        }
    }
    let removed: Vec<String> = before
        .iter()
        .filter(|b| !defs.iter().any(|d| &d.name == *b))
        .cloned()
        .collect();
    for gone in &removed {
        let running: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM deployed WHERE environment = $1",
                [gone.into()],
            )
            .await?;
        let waiting: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM deployment_requests WHERE environment = $1 AND status = \
                 'pending'",
                [gone.into()],
            )
            .await?;
        if running > 0 || waiting > 0 {
            return Err(Error::Conflict(format!(
                "`{gone}` cannot be removed: {running} module(s) run there and \
                 {waiting} deployment request(s) wait for it"
            )));
        }
        for sql in [
            "DELETE FROM it_role_levels WHERE environment = $1",
            "DELETE FROM it_overrides WHERE environment = $1",
        ] {
            tx.exec(sql, [gone.into()]).await?;
        }
    }
    tx.exec("DELETE FROM it_environments", []).await?;
    for (i, d) in defs.iter().enumerate() {
        tx.exec(
            "INSERT INTO it_environments (name, position, separation_of_duties, second_approver) \
             VALUES ($1, $2, $3, $4)",
            [
                Arg::from(&d.name),
                Arg::from(i as i64),
                d.separation_of_duties.into(),
                d.second_approver.into(),
            ],
        )
        .await?;
    }
    Ok(removed)
}

/// Takes the next number from counter `name` inside the transaction.
pub(super) async fn next_num(tx: &mut Tx<'_>, name: &str) -> Result<i64, Error> {
    tx.scalar(
        "INSERT INTO authz_counters (name, next) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET next = authz_counters.next + 1 \
         RETURNING next - 1",
        [name.into()],
    )
    .await
}

/// The user's number inside the transaction, assigning one (and recording the change) if new.
pub(super) async fn user_num_tx(
    tx: &mut Tx<'_>,
    user: UserId,
    changes: &mut Vec<Change>,
) -> Result<u32, Error> {
    let found: Option<i64> = tx
        .scalar_opt(
            "SELECT num FROM authz_users WHERE user_id = $1",
            [user.to_string().into()],
        )
        .await?;
    if let Some(n) = found {
        return n32(n, "user");
    }
    let exists: i64 = tx
        .scalar(
            "SELECT COUNT(*) FROM users WHERE id = $1",
            [user.to_string().into()],
        )
        .await?;
    if exists == 0 {
        return Err(Error::invalid("user", format!("no user with id {user}")));
    }
    let n = next_num(tx, "user").await?;
    if n >= i64::from(rampart_authz::acl::NOBODY) {
        return Err(Error::Unavailable(
            "no user number left for authorization".into(),
        ));
    }
    tx.exec(
        "INSERT INTO authz_users (num, user_id) VALUES ($1, $2)",
        [n.into(), user.to_string().into()],
    )
    .await?;
    let num = n32(n, "user")?;
    changes.push(Change::UserNum {
        user: user.to_string(),
        num,
    });
    // An IT user's default role, which the index learns with the number.
    let role: Option<String> = tx
        .scalar_opt(
            "SELECT role FROM it_role_assignments WHERE user_id = $1 ORDER BY role LIMIT 1",
            [user.to_string().into()],
        )
        .await?;
    if role.is_some() {
        changes.push(Change::ItDefaultRole { user: num, role });
    }
    Ok(num)
}

/// A named row's number inside the transaction, or a clear error naming what is missing.
pub(super) async fn num_by_name(
    tx: &mut Tx<'_>,
    sql: &str,
    name: &str,
    what: &'static str,
) -> Result<i64, Error> {
    let found: Option<i64> = tx.scalar_opt(sql, [name.into()]).await?;
    found.ok_or_else(|| Error::invalid(what, format!("no {what} named `{name}`")))
}

/// Hierarchy `(number, kind)` by name inside the transaction.
pub(super) async fn hierarchy_tx(
    tx: &mut Tx<'_>,
    name: &str,
) -> Result<(u16, HierarchyKind), Error> {
    let row = tx
        .row_opt(
            "SELECT num, kind FROM authz_hierarchies WHERE name = $1",
            [name.into()],
        )
        .await?
        .ok_or_else(|| Error::invalid("hierarchy", format!("no hierarchy named `{name}`")))?;
    let num: i64 = row.get("num")?;
    let kind: String = row.get("kind")?;
    Ok((n16(num, "hierarchy")?, parse_kind(&kind)?))
}

/// The node's `(number, path)` inside the transaction, creating it as a root if new.
pub(super) async fn node_tx(
    tx: &mut Tx<'_>,
    h: u16,
    kind: HierarchyKind,
    node: &NodeRef,
    changes: &mut Vec<Change>,
) -> Result<(u32, Vec<u8>), Error> {
    let (num, key) = match (kind, node) {
        (HierarchyKind::ReportsTo, NodeRef::User(u)) => {
            (Some(user_num_tx(tx, *u, changes).await?), u.to_string())
        }
        (HierarchyKind::Units, NodeRef::Key(k)) => {
            rampart_core::Key::parse("node", k)?;
            (None, k.clone())
        }
        (HierarchyKind::ReportsTo, NodeRef::Key(_)) => {
            return Err(Error::invalid(
                "node",
                "the nodes of a reports-to hierarchy are users: give a user id",
            ))
        }
        (HierarchyKind::Units, NodeRef::User(_)) => {
            return Err(Error::invalid(
                "node",
                "the nodes of a unit hierarchy are units: give a unit key",
            ))
        }
    };
    let row = tx
        .row_opt(
            "SELECT n.node_num, p.path FROM authz_nodes n \
         JOIN authz_node_paths p ON p.hierarchy_num = n.hierarchy_num AND p.node_num = n.node_num \
         WHERE n.hierarchy_num = $1 AND n.node_key = $2",
            [Arg::from(i64::from(h)), Arg::from(&key)],
        )
        .await?;
    if let Some(row) = row {
        let n: i64 = row.get("node_num")?;
        let path: Vec<u8> = row.get("path")?;
        return Ok((n32(n, "node")?, path));
    }
    let num = match num {
        Some(n) => n,
        None => {
            let n = n32(next_num(tx, &format!("node:{h}")).await?, "node")?;
            if n > rampart_authz::acl::MAX_NODE {
                return Err(Error::invalid("node", "too many units in this hierarchy"));
            }
            n
        }
    };
    let path = segment(num).to_vec();
    tx.exec(
        "INSERT INTO authz_nodes (hierarchy_num, node_num, node_key, parent_num) \
         VALUES ($1, $2, $3, NULL)",
        [
            Arg::from(i64::from(h)),
            Arg::from(i64::from(num)),
            Arg::from(&key),
        ],
    )
    .await?;
    tx.exec(
        "INSERT INTO authz_node_paths (hierarchy_num, node_num, path) VALUES ($1, $2, $3)",
        [
            Arg::from(i64::from(h)),
            Arg::from(i64::from(num)),
            Arg::from(&path),
        ],
    )
    .await?;
    changes.push(Change::Node {
        hierarchy: h,
        node: num,
        key,
        parent: None,
    });
    Ok((num, path))
}

/// Resolves a grantee inside the transaction; groups and nodes must exist.
pub(super) async fn principal_tx(
    tx: &mut Tx<'_>,
    p: &PrincipalRef,
    changes: &mut Vec<Change>,
) -> Result<Principal, Error> {
    match p {
        PrincipalRef::User(u) => Ok(Principal::user(user_num_tx(tx, *u, changes).await?)),
        PrincipalRef::Group(g) => Ok(Principal::group(n32(group_tx(tx, g).await?, "group")?)),
        PrincipalRef::Node { hierarchy, node } => {
            let (h, kind) = hierarchy_tx(tx, hierarchy).await?;
            if kind != HierarchyKind::Units {
                return Err(Error::invalid(
                    "principal",
                    "grants name units or branches, not reports-to nodes: grant to the user instead",
                ));
            }
            let found: Option<i64> = tx
                .scalar_opt(
                    "SELECT node_num FROM authz_nodes WHERE hierarchy_num = $1 AND node_key = $2",
                    [Arg::from(i64::from(h)), node.into()],
                )
                .await?;
            let n = found.ok_or_else(|| {
                Error::invalid(
                    "principal",
                    format!("no unit `{node}` in hierarchy `{hierarchy}`"),
                )
            })?;
            Ok(Principal::node(HierarchyId(h), n32(n, "node")?))
        }
    }
}

/// Application number by name inside the transaction.
pub(super) async fn app_tx(tx: &mut Tx<'_>, name: &str) -> Result<i64, Error> {
    num_by_name(
        tx,
        "SELECT num FROM authz_applications WHERE name = $1",
        name,
        "application",
    )
    .await
}

/// Group number by name inside the transaction.
pub(super) async fn group_tx(tx: &mut Tx<'_>, name: &str) -> Result<i64, Error> {
    num_by_name(
        tx,
        "SELECT num FROM authz_groups WHERE name = $1",
        name,
        "group",
    )
    .await
}

/// Team number by name inside the transaction.
pub(super) async fn team_tx(tx: &mut Tx<'_>, name: &str) -> Result<i64, Error> {
    num_by_name(tx, "SELECT num FROM it_teams WHERE name = $1", name, "team").await
}

/// Entity number by name inside the transaction.
pub(super) async fn entity_tx(tx: &mut Tx<'_>, name: &str) -> Result<u32, Error> {
    let n = num_by_name(
        tx,
        "SELECT num FROM acl_entities WHERE name = $1",
        name,
        "entity",
    )
    .await?;
    n32(n, "entity")
}

/// Record number by key inside the transaction.
pub(super) async fn record_tx(tx: &mut Tx<'_>, entity: u32, key: &str) -> Result<u64, Error> {
    let found: Option<i64> = tx
        .scalar_opt(
            "SELECT record_num FROM acl_records WHERE entity_num = $1 AND record_key = $2",
            [Arg::from(i64::from(entity)), key.into()],
        )
        .await?;
    let n = found.ok_or_else(|| Error::invalid("record", format!("no record `{key}`")))?;
    u64::try_from(n).map_err(|_| Error::Internal("negative record number".into()))
}

/// `(application, role)` numbers by name inside the transaction.
pub(super) async fn role_tx(tx: &mut Tx<'_>, app: &str, role: &str) -> Result<(u32, u32), Error> {
    let a = app_tx(tx, app).await?;
    let found: Option<i64> = tx
        .scalar_opt(
            "SELECT num FROM authz_app_roles WHERE app_num = $1 AND name = $2",
            [a.into(), role.into()],
        )
        .await?;
    let r = found.ok_or_else(|| {
        Error::invalid("role", format!("application `{app}` has no role `{role}`"))
    })?;
    Ok((n32(a, "application")?, n32(r, "role")?))
}

/// `(num, application name)` of the module registered as `name`, inside the transaction.
pub(super) async fn registered_module(
    tx: &mut Tx<'_>,
    name: &str,
) -> Result<Option<(i64, String)>, Error> {
    tx.opt(
        "SELECT m.num, a.name FROM it_modules m \
         JOIN authz_applications a ON a.num = m.app_num WHERE m.name = $1",
        [name.into()],
    )
    .await
}

/// The application a module name is reserved for, inside the transaction.
pub(super) async fn reserved_name(tx: &mut Tx<'_>, name: &str) -> Result<Option<String>, Error> {
    tx.scalar_opt(
        "SELECT a.name FROM module_names r \
         JOIN authz_applications a ON a.num = r.app_num WHERE r.name = $1",
        [name.into()],
    )
    .await
}
