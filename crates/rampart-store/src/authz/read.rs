//! Reads outside the change path: the change log, grants, records and list filters.

use crate::db::{query, query_scalar, Arg, IntoArg as _};

use super::*;

impl Store {
    /// The latest committed authorization revision.
    pub async fn authz_revision(&self) -> Result<u64, Error> {
        let pool = self.reader();
        let r: i64 = pool
            .scalar("SELECT revision FROM authz_revision WHERE id = 1", [])
            .await?;
        Ok(u64::try_from(r).unwrap_or(0))
    }

    /// Changes committed after `revision`, in order, at most `limit` revisions.
    pub async fn authz_changes_after(
        &self,
        revision: u64,
        limit: i64,
    ) -> Result<Vec<(u64, Vec<Change>)>, Error> {
        let after = i64::try_from(revision).unwrap_or(i64::MAX);
        let pool = self.reader();
        let rows = pool
            .rows(
                "SELECT revision, change FROM authz_changes WHERE revision > $1 \
             ORDER BY revision LIMIT $2",
                [after.into(), limit.into()],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let rev: i64 = row.get("revision")?;
            let text: String = row.get("change")?;
            let changes: Vec<Change> = serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("stored change {rev}: {e}")))?;
            out.push((u64::try_from(rev).unwrap_or(0), changes));
        }
        Ok(out)
    }
}

impl Store {
    /// The explicit grants on one record: raw principal and actions.
    pub async fn record_grants(
        &self,
        entity: EntityId,
        record: u64,
    ) -> Result<Vec<(Principal, Actions)>, Error> {
        let pool = self.reader();
        let rows = pool
            .rows(
                "SELECT principal, actions FROM acl_grants \
             WHERE entity_num = $1 AND record_num = $2 ORDER BY principal",
                [
                    Arg::from(i64::from(entity.0)),
                    Arg::from(i64::try_from(record).unwrap_or(i64::MAX)),
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let p: i64 = row.get("principal")?;
            let a: i64 = row.get("actions")?;
            out.push((
                Principal::from_raw(n32(p, "principal")?),
                Actions::from_bits(u8::try_from(a).unwrap_or(0)),
            ));
        }
        Ok(out)
    }

    /// The IT roles assigned to a user (normally one), for users the index has no number for.
    pub async fn it_roles_of(&self, user: UserId) -> Result<Vec<String>, Error> {
        let pool = self.reader();
        pool.scalars(
            "SELECT role FROM it_role_assignments WHERE user_id = $1 ORDER BY role",
            [user.to_string().into()],
        )
        .await
    }

    /// The facts about a record that a decision needs: its number and owner.
    pub async fn acl_record(
        &self,
        entity: EntityId,
        key: &str,
    ) -> Result<Option<(u64, Option<u32>)>, Error> {
        let pool = self.reader();
        let row = pool
            .row_opt(
                "SELECT record_num, owner_num FROM acl_records \
             WHERE entity_num = $1 AND record_key = $2",
                [Arg::from(i64::from(entity.0)), key.into()],
            )
            .await?;
        match row {
            Some(row) => {
                let r: i64 = row.get("record_num")?;
                let o: Option<i64> = row.get("owner_num")?;
                Ok(Some((
                    u64::try_from(r).unwrap_or(0),
                    o.map(|o| n32(o, "user")).transpose()?,
                )))
            }
            None => Ok(None),
        }
    }

    /// The facts of many records of one entity at once (one query per 500 keys): key →
    /// (number, owner). Unknown keys are absent.
    pub async fn acl_records(
        &self,
        entity: EntityId,
        keys: &[&str],
    ) -> Result<HashMap<String, (u64, Option<u32>)>, Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT record_key, record_num, owner_num FROM acl_records \
                 WHERE entity_num = $1 AND record_key IN ({})",
                list.join(", ")
            );
            let mut q = query(&sql).bind(i64::from(entity.0));
            for k in chunk {
                q = q.bind(*k);
            }
            let rows = q.fetch_all(self.reader()).await.map_err(db)?;
            for row in &rows {
                let r: i64 = row.get("record_num")?;
                let o: Option<i64> = row.get("owner_num")?;
                out.insert(
                    row.get("record_key")?,
                    (
                        u64::try_from(r).unwrap_or(0),
                        o.map(|o| n32(o, "user")).transpose()?,
                    ),
                );
            }
        }
        Ok(out)
    }

    /// The filter's user's materialised path in the owner hierarchy, when the collect shape
    /// needs it (`None` when the user sits in no tree: then only their own records count).
    async fn owner_path(&self, filter: &ListFilter) -> Result<Option<Vec<u8>>, Error> {
        let Some((h, user)) = filter.owner.filter(|_| !filter.public) else {
            return Ok(None);
        };
        if let Some(path) = &filter.owner_path {
            return Ok(Some(path.clone()));
        }
        let pool = self.reader();
        pool.scalar_opt(
            "SELECT path FROM authz_node_paths WHERE hierarchy_num = $1 AND node_num = $2",
            [Arg::from(i64::from(h.0)), Arg::from(i64::from(user))],
        )
        .await
    }

    /// One page of the records `filter` lets its user read, in key order after `after`.
    /// The rule runs inside the database as index range scans and semi-joins: the owner rule
    /// as a range over materialised paths, grants as a lookup by the user's few grantee
    /// principals. Owners are returned as user numbers.
    pub async fn readable_records(
        &self,
        filter: &ListFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, Option<u32>)>, Error> {
        let path = self.owner_path(filter).await?;
        let (sql, binds) = readable_sql(filter, path.as_deref(), after, limit, false);
        // The page comes back as one JSON row: the drivers cost microseconds per row.
        let sql = match self.kind() {
            crate::BackendKind::Sqlite => format!(
                "SELECT json_group_array(json_array(record_key, owner_num)) FROM ({sql}) AS page"
            ),
            crate::BackendKind::Postgres => format!(
                "SELECT COALESCE(json_agg(json_build_array(record_key, owner_num)), '[]')::text FROM ({sql}) AS page"
            ),
        };
        // Planned afresh with the bound values every time (an unnamed statement): a cached
        // generic plan cannot see how wide the user's subtree is, and PostgreSQL switches to
        // one after five executions.
        let persistent = self.kind() == crate::BackendKind::Sqlite;
        let json: String = query_scalar(&sql)
            .persistent(persistent)
            .bind_all(binds.iter().map(Bind::arg))
            .fetch_one(self.reader())
            .await
            .map_err(db)?;
        let rows: Vec<(String, Option<i64>)> = serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("list filter page: {e}")))?;
        let mut out = Vec::with_capacity(rows.len());
        for (key, owner) in rows {
            out.push((key, owner.map(|o| n32(o, "user")).transpose()?));
        }
        // Keys compare byte-wise, as the database's binary ("C") collation orders them.
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// How many records `filter` lets its user read (a full count: slow for large subtrees).
    pub async fn count_readable(&self, filter: &ListFilter) -> Result<i64, Error> {
        let path = self.owner_path(filter).await?;
        let (sql, binds) = readable_sql(filter, path.as_deref(), None, 0, true);
        let persistent = self.kind() == crate::BackendKind::Sqlite;
        let pool = self.reader();
        let q = query_scalar(&sql)
            .persistent(persistent)
            .bind_all(binds.iter().map(Bind::arg));
        q.fetch_one(pool).await.map_err(db)
    }

    /// The query plan the database chooses for a list filter, one line per row: on PostgreSQL
    /// run and timed (`EXPLAIN (ANALYZE, BUFFERS)`: planning and execution time), on SQLite
    /// `EXPLAIN QUERY PLAN`.
    pub async fn explain_readable(&self, filter: &ListFilter) -> Result<Vec<String>, Error> {
        let path = self.owner_path(filter).await?;
        let (sql, binds) = readable_sql(filter, path.as_deref(), None, 50, false);
        let prefix = match self.kind() {
            crate::BackendKind::Sqlite => "EXPLAIN QUERY PLAN ",
            crate::BackendKind::Postgres => "EXPLAIN (ANALYZE, BUFFERS) ",
        };
        let sql = format!("{prefix}{sql}");
        let pool = self.reader();
        let q = query(&sql).bind_all(binds.iter().map(Bind::arg));
        let rows = q.fetch_all(pool).await.map_err(db)?;
        let mut out = Vec::new();
        for row in &rows {
            let line: String = match self.kind() {
                crate::BackendKind::Sqlite => row.get("detail")?,
                crate::BackendKind::Postgres => row.get(0)?,
            };
            out.push(line);
        }
        Ok(out)
    }
}

/// A list-filter query's value, kept until the query runs.
enum Bind {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Bind {
    /// The value as an argument borrowing from it.
    fn arg(&self) -> crate::db::Arg<'_> {
        match self {
            Bind::Int(i) => i.into_arg(),
            Bind::Text(t) => t.into_arg(),
            Bind::Bytes(b) => b.into_arg(),
        }
    }
}

/// Builds the list-filter query. Two shapes, the same rule:
/// - *collect* (small subtrees): the union of the subtree's records (index on
///   `(entity, owner, key)`) and the granted records (index on `(entity, principal)`), sorted;
/// - *walk* (large subtrees): the records in key order, each tested by a primary-key probe of
///   its owner's path and of its grants, stopping after `limit` hits.
fn readable_sql(
    filter: &ListFilter,
    path: Option<&[u8]>,
    after: Option<&str>,
    limit: i64,
    count: bool,
) -> (String, Vec<Bind>) {
    let mut binds = vec![Bind::Int(i64::from(filter.entity.0))];
    let next = |b: Bind, binds: &mut Vec<Bind>| {
        binds.push(b);
        format!("${}", binds.len())
    };
    let after_sql = match after {
        Some(a) => format!(
            " AND r.record_key > {}",
            next(Bind::Text(a.to_owned()), &mut binds)
        ),
        None => String::new(),
    };
    let tail = if count {
        String::new()
    } else {
        format!(
            " ORDER BY record_key LIMIT {}",
            next(Bind::Int(limit), &mut binds)
        )
    };
    let wrap = |inner: String| {
        if count {
            format!("SELECT COUNT(*) FROM ({inner}) AS visible")
        } else {
            format!("SELECT record_key, owner_num FROM ({inner}) AS visible{tail}")
        }
    };
    if filter.public {
        return (
            wrap(format!(
                "SELECT r.record_key, r.owner_num FROM acl_records r WHERE r.entity_num = $1{after_sql}"
            )),
            binds,
        );
    }
    let grantee_params: Vec<String> = filter
        .grantees
        .iter()
        .map(|p| next(Bind::Int(i64::from(p.raw())), &mut binds))
        .collect();
    let grantees = (!grantee_params.is_empty()).then(|| grantee_params.join(", "));
    let owner = filter.owner.map(|(h, user)| {
        let h = next(Bind::Int(i64::from(h.0)), &mut binds);
        let u = next(Bind::Int(i64::from(user)), &mut binds);
        (h, u)
    });
    // Everyone strictly below the user: a range over materialised paths whose bounds are
    // bound as values, so the planner sees how narrow the range is.
    let below = path.map(|path| {
        let lo = next(Bind::Bytes(path.to_vec()), &mut binds);
        let hi = next(Bind::Bytes(path_end(path)), &mut binds);
        (lo, hi)
    });
    let mut parts: Vec<String> = Vec::new();
    if filter.walk_in_order {
        let mut tests = Vec::new();
        if let Some((h, u)) = &owner {
            tests.push(format!("r.owner_num = {u}"));
            if let Some((lo, hi)) = &below {
                tests.push(format!(
                    "EXISTS (SELECT 1 FROM authz_node_paths n WHERE n.hierarchy_num = {h} \
                     AND n.node_num = r.owner_num AND n.path > {lo} AND n.path < {hi})"
                ));
            }
        }
        if let Some(list) = &grantees {
            tests.push(format!(
                "EXISTS (SELECT 1 FROM acl_grants g WHERE g.entity_num = r.entity_num AND g.record_num = r.record_num \
                 AND g.principal IN ({list}) AND (g.actions & 1) = 1)"
            ));
        }
        if tests.is_empty() {
            tests.push("1 = 0".into());
        }
        let inner = format!(
            "SELECT r.record_key, r.owner_num FROM acl_records r WHERE r.entity_num = $1{after_sql} AND ({})",
            tests.join(" OR ")
        );
        if count {
            return (wrap(inner), binds);
        }
        return (
            format!("{inner} ORDER BY r.record_key LIMIT {}", tail_limit(&tail)),
            binds,
        );
    }
    if let Some((h, u)) = &owner {
        // The user's own records (also when they sit in no tree), then those of everyone
        // strictly below them.
        parts.push(format!(
            "SELECT r.record_key FROM acl_records r \
             WHERE r.entity_num = $1 AND r.owner_num = {u}{after_sql}"
        ));
        if let Some((lo, hi)) = &below {
            parts.push(format!(
                "SELECT r.record_key FROM authz_node_paths n \
                 JOIN acl_records r ON r.entity_num = $1 AND r.owner_num = n.node_num \
                 WHERE n.hierarchy_num = {h} AND n.path > {lo} AND n.path < {hi}{after_sql}"
            ));
        }
    }
    // Grants: one ordered index range per grantee principal (few of them), keys only; the
    // owners of the page's records are joined at the end.
    for p in &grantee_params {
        let after_g = after_sql.replace("r.record_key", "g.record_key");
        parts.push(format!(
            "SELECT g.record_key FROM acl_grants g \
             WHERE g.entity_num = $1 AND g.principal = {p} AND (g.actions & 1) = 1{after_g}"
        ));
    }
    if parts.is_empty() {
        parts.push("SELECT r.record_key FROM acl_records r WHERE 1 = 0".into());
    }
    if !count {
        // Only the first page of each part can reach the first page of the union: each part
        // stops after `limit` rows in key order (for one owner or one grantee, straight from
        // an index).
        let limit = tail_limit(&tail).to_owned();
        parts = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let key = if p.starts_with("SELECT g.") {
                    "g.record_key"
                } else {
                    "r.record_key"
                };
                format!("SELECT * FROM ({p} ORDER BY {key} LIMIT {limit}) AS part{i}")
            })
            .collect();
    }
    let keys = if count {
        parts.join(" UNION ")
    } else {
        // Each part is in key order and has no key twice, so the page is a merge of the
        // parts that stops at `limit` distinct keys (PostgreSQL: `Merge Append` and `Unique`);
        // a `UNION` would read and hash every part's rows first. The page's keys first, then
        // their owners: only `limit` lookups.
        format!(
            "SELECT DISTINCT record_key FROM ({}) AS u ORDER BY record_key LIMIT {}",
            parts.join(" UNION ALL "),
            tail_limit(&tail)
        )
    };
    let joined = format!(
        "SELECT v.record_key, r.owner_num FROM ({keys}) AS v \
         JOIN acl_records r ON r.entity_num = $1 AND r.record_key = v.record_key"
    );
    (wrap(joined), binds)
}

/// The `$N` of the limit inside an ` ORDER BY … LIMIT $N` tail.
fn tail_limit(tail: &str) -> &str {
    tail.rsplit(' ').next().unwrap_or("50")
}
