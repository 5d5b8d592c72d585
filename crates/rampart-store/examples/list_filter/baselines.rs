//! The baselines, as a DBA would write them over the same data: their SQL and how each runs.
//!
//! - **Closure table, `UNION ALL`** (both backends): index-friendly branches, each in key
//!   order under its own `LIMIT 50` — the user's own records (`acl_records_owner`), the
//!   records of everyone below them (`bench_closure` joined to `acl_records_owner`, left to
//!   the planner to run per owner or as a key-order walk), and the records granted to the
//!   user, their groups and their units with every unit above (the principals looked up in
//!   SQL; on PostgreSQL a `LATERAL` top-50 per principal over `acl_grants_principal`) —
//!   merged, de-duplicated and limited, with no `OR` across branches; the page's 50 owners
//!   joined at the end.
//! - **Row-level security** (PostgreSQL): the query is just
//!   `SELECT … FROM acl_records WHERE entity_num = 0 ORDER BY record_key LIMIT 50`, the
//!   policy a set-based predicate over the same closure and grant tables, the user read once
//!   per statement from a setting (an `InitPlan`). A policy is a filter on the table's scan,
//!   so the planner has two ways to use it, and each policy form allows one:
//!   `IN (subquery)` becomes hashed sub-plans tested while the records are walked in key
//!   order (cheap when many records qualify); `= ANY (ARRAY(subquery))` becomes a `BitmapOr`
//!   of the owner and primary-key indexes followed by a sort (cheap when few do). Both are
//!   measured, each as the only policy of a role of its own.
//! - **Recursive CTE** (optional, `RAMPART_BENCH_NAIVE=1`): the seed's naive form, the tree
//!   walked on every request and `owner IN (…) OR record IN (…)` in one predicate.
//!
//! Every statement returns the page as one JSON text, as Rampart's does, so no approach pays
//! the driver's per-row cost that another does not.

use rampart_authz::acl::HierarchyId;
use rampart_authz::view::ListFilter;

use crate::load::principals_sql;

/// The approaches measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approach {
    /// `Store::readable_records` with the filter the index chooses.
    Rampart,
    /// Closure table, `UNION ALL` of index-friendly branches.
    Closure,
    /// Row-level security, `IN (subquery)` policy (hashed sub-plans).
    RlsIn,
    /// Row-level security, `= ANY (ARRAY(subquery))` policy (bitmap index scans).
    RlsArray,
    /// The seed's recursive CTE with an `OR`.
    Naive,
}

impl Approach {
    pub fn label(self) -> &'static str {
        match self {
            Approach::Rampart => "Rampart",
            Approach::Closure => "closure table, UNION ALL",
            Approach::RlsIn => "RLS policy, IN (subquery)",
            Approach::RlsArray => "RLS policy, = ANY (ARRAY(subquery))",
            Approach::Naive => "recursive CTE with OR (naive)",
        }
    }

    /// The role whose only policy this is (row-level security only).
    pub fn role(self) -> Option<&'static str> {
        match self {
            Approach::RlsIn => Some("rampart_bench_rls_in"),
            Approach::RlsArray => Some("rampart_bench_rls_array"),
            _ => None,
        }
    }
}

/// Wraps a page query (`record_key, owner_num` rows) so the page comes back as one JSON text.
pub fn as_json(pg: bool, page: &str) -> String {
    if pg {
        format!(
            "SELECT COALESCE(json_agg(json_build_array(record_key, owner_num)), '[]')::text FROM ({page}) AS page"
        )
    } else {
        format!("SELECT json_group_array(json_array(record_key, owner_num)) FROM ({page}) AS page")
    }
}

/// The closure-table baseline; binds `$1` the user, `$2` the entity.
pub fn closure_sql(pg: bool, units: HierarchyId) -> String {
    let principals = principals_sql(units, "$1");
    let grants = if pg {
        format!(
            "SELECT g.record_key FROM ({principals}) AS p CROSS JOIN LATERAL \
             (SELECT g.record_key FROM acl_grants g WHERE g.entity_num = $2 AND g.principal = p.p \
              AND (g.actions & 1) = 1 ORDER BY g.record_key LIMIT 50) AS g"
        )
    } else {
        // SQLite has no LATERAL: one IN list over the principals' index ranges.
        format!(
            "SELECT * FROM (SELECT g.record_key FROM acl_grants g WHERE g.entity_num = $2 \
             AND g.principal IN ({principals}) AND (g.actions & 1) = 1 \
             ORDER BY g.record_key LIMIT 50) AS granted"
        )
    };
    let page = format!(
        "SELECT v.record_key, r.owner_num FROM (\
           SELECT DISTINCT record_key FROM (\
             SELECT * FROM (SELECT r.record_key FROM acl_records r \
               WHERE r.entity_num = $2 AND r.owner_num = $1 ORDER BY r.record_key LIMIT 50) AS own \
             UNION ALL \
             SELECT * FROM (SELECT r.record_key FROM bench_closure c \
               JOIN acl_records r ON r.entity_num = $2 AND r.owner_num = c.descendant \
               WHERE c.ancestor = $1 ORDER BY r.record_key LIMIT 50) AS below \
             UNION ALL {grants}\
           ) AS branches ORDER BY record_key LIMIT 50\
         ) AS v JOIN acl_records r ON r.entity_num = $2 AND r.record_key = v.record_key"
    );
    as_json(pg, &page)
}

/// The query under row-level security: no filter of its own.
pub fn rls_sql() -> String {
    as_json(
        true,
        "SELECT record_key, owner_num FROM acl_records WHERE entity_num = 0 \
         ORDER BY record_key LIMIT 50",
    )
}

/// The roles and the two policies (PostgreSQL), over the closure tables `load` creates. The
/// user comes from the setting `rampart.user`, read once per statement.
pub fn rls_setup() -> Vec<String> {
    let me = "(SELECT current_setting('rampart.user')::bigint)";
    let principals = principals_sql(rampart_authz::dataset::UNITS, me);
    let mut out = Vec::new();
    for (a, using) in [
        (
            Approach::RlsIn,
            format!(
                "owner_num = {me} \
                 OR owner_num IN (SELECT c.descendant FROM bench_closure c WHERE c.ancestor = {me}) \
                 OR record_num IN (SELECT g.record_num FROM acl_grants g WHERE g.entity_num = 0 \
                   AND (g.actions & 1) = 1 AND g.principal IN ({principals}))"
            ),
        ),
        (
            Approach::RlsArray,
            format!(
                "owner_num = ANY (ARRAY(SELECT {me} UNION ALL \
                   SELECT c.descendant FROM bench_closure c WHERE c.ancestor = {me})) \
                 OR record_num = ANY (ARRAY(SELECT g.record_num FROM acl_grants g WHERE g.entity_num = 0 \
                   AND (g.actions & 1) = 1 AND g.principal IN ({principals})))"
            ),
        ),
    ] {
        let role = a.role().unwrap();
        out.push(format!("DROP ROLE IF EXISTS {role}"));
        out.push(format!("CREATE ROLE {role} NOLOGIN"));
        out.push(format!(
            "GRANT SELECT ON acl_records, acl_grants, bench_closure, bench_unit_closure, \
             authz_group_members, authz_unit_members TO {role}"
        ));
        out.push(format!(
            "CREATE POLICY {role} ON acl_records FOR SELECT TO {role} USING ({using})"
        ));
    }
    out.push("ALTER TABLE acl_records ENABLE ROW LEVEL SECURITY".into());
    out
}

/// The seed's approach: the tree walked with a recursive CTE on every request, one `OR`;
/// binds `$1` the user, `$2` the entity.
pub fn naive_sql(pg: bool, f: &ListFilter, reports: HierarchyId) -> String {
    let grantees: Vec<String> = f.grantees.iter().map(|p| p.raw().to_string()).collect();
    let page = format!(
        "WITH RECURSIVE sub(n) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
         SELECT c.node_num FROM authz_nodes c JOIN sub ON c.hierarchy_num = {h} AND c.parent_num = sub.n) \
         SELECT r.record_key, r.owner_num FROM acl_records r WHERE r.entity_num = $2 AND \
         (r.owner_num IN (SELECT n FROM sub) OR r.record_num IN \
         (SELECT g.record_num FROM acl_grants g WHERE g.entity_num = $2 AND g.principal IN ({list}) AND (g.actions & 1) = 1)) \
         ORDER BY r.record_key LIMIT 50",
        h = reports.0,
        list = if grantees.is_empty() {
            "-1".into()
        } else {
            grantees.join(", ")
        }
    );
    as_json(pg, &page)
}
