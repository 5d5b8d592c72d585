//! The data set written into the database as the store lays it out, plus the tables a DBA
//! would add for the baselines: a closure table of the reports-to tree, one of the unit tree,
//! covering membership indexes and, on PostgreSQL, the row-level-security policies.

use std::time::Instant;

use rampart_authz::acl::{HierarchyId, Principal};
use rampart_authz::dataset::DatasetSpec;

use crate::seeding::{paths, people, units_and_groups, GRANT_COLS, RECORD_COLS, V};

/// A direct connection for bulk loading and the baseline queries.
pub enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

macro_rules! on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Pg($c) => $body,
        }
    };
}
pub(crate) use on;

macro_rules! bind_all {
    ($q:expr, $values:expr) => {{
        let mut q = $q;
        for v in $values {
            q = match v {
                V::I(i) => q.bind(i),
                V::T(t) => q.bind(t),
                V::B(b) => q.bind(b),
                V::N => q.bind(Option::<i64>::None),
            };
        }
        q
    }};
}

impl Conn {
    pub async fn exec(&mut self, sql: &str) {
        on!(self, |c| {
            sqlx::query(sql).execute(&mut *c).await.unwrap();
        })
    }

    pub fn is_pg(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }

    /// Inserts `rows` into `table` in multi-row statements inside one transaction.
    pub async fn bulk(&mut self, table: &str, cols: &[&str], rows: impl Iterator<Item = Vec<V>>) {
        let width = cols.len();
        let per = 30_000 / width;
        // SQLite resolves `$N` parameters by name, which costs quadratic time in huge
        // statements: plain `?` there.
        let positional = matches!(self, Conn::Sqlite(_));
        let statement = |n: usize| {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            for r in 0..n {
                sql.push_str(if r == 0 { "(" } else { ",(" });
                for c in 0..width {
                    if c > 0 {
                        sql.push(',');
                    }
                    if positional {
                        sql.push('?');
                    } else {
                        sql.push_str(&format!("${}", r * width + c + 1));
                    }
                }
                sql.push(')');
            }
            sql
        };
        let full = statement(per);
        self.exec("BEGIN").await;
        let mut batch: Vec<V> = Vec::with_capacity(per * width);
        let mut n = 0;
        for row in rows {
            batch.extend(row);
            n += 1;
            if n == per {
                let values = std::mem::take(&mut batch);
                on!(self, |c| {
                    bind_all!(sqlx::query(&full), values)
                        .execute(&mut *c)
                        .await
                        .unwrap();
                });
                n = 0;
            }
        }
        if n > 0 {
            let sql = statement(n);
            on!(self, |c| {
                bind_all!(sqlx::query(&sql), batch)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            });
        }
        self.exec("COMMIT").await;
    }
}

/// The SQL of "the grantee principals of user `$1`" over the DBA's tables: the user, their
/// groups, and the units they sit in with every unit above (the unit closure holds each unit
/// as its own ancestor). Principal numbers are encoded as the grants table stores them.
pub fn principals_sql(units: HierarchyId, user: &str) -> String {
    let group = Principal::group(0).raw();
    let unit = Principal::node(units, 0).raw();
    format!(
        "SELECT CAST({user} AS BIGINT) AS p \
         UNION SELECT {group} + m.group_num FROM authz_group_members m WHERE m.user_num = {user} \
         UNION SELECT {unit} + c.ancestor FROM authz_unit_members s \
         JOIN bench_unit_closure c ON c.descendant = s.node_num \
         WHERE s.hierarchy_num = {h} AND s.user_num = {user}",
        h = units.0,
    )
}

/// Writes the data set as the store would have (users, numbers, trees with paths, seats,
/// groups, the entity, records and grants), then the baselines' tables.
pub async fn fill(conn: &mut Conn, spec: &DatasetSpec, moves_only: bool) {
    if let Conn::Sqlite(_) = conn {
        // Records arrive in random key order: with SQLite's default 2 MB page cache every
        // insert into the key and owner indexes goes to disk. 1 GB keeps them in memory.
        conn.exec("PRAGMA cache_size = -1000000").await;
    }
    let managers = spec.managers();
    let paths = paths(&managers);
    let users = spec.users();
    conn.exec("INSERT INTO authz_hierarchies (num, name, kind, created_at) VALUES (0, 'reports', 'reports_to', 0), (1, 'units', 'units', 0)").await;
    let unit_parents = spec.unit_parents();
    let loads = people(&managers, &paths)
        .into_iter()
        .chain(units_and_groups(spec, &unit_parents));
    for load in loads {
        conn.bulk(load.table, load.cols, load.rows).await;
    }
    let grants_flag = match conn {
        Conn::Sqlite(_) => "1",
        Conn::Pg(_) => "TRUE",
    };
    conn.exec(&format!(
        "INSERT INTO acl_entities (num, name, public_actions, owner_hierarchy, grants, created_at) VALUES (0, 'sale', 0, 0, {grants_flag}, 0)"
    ))
    .await;
    // With `moves_only`, the trees, units and groups only: a move touches no record.
    let t = Instant::now();
    if !moves_only {
        conn.bulk(
            "acl_records",
            &RECORD_COLS,
            spec.owners().enumerate().map(|(r, o)| {
                vec![
                    V::I(0),
                    V::I(r as i64),
                    V::T(spec.record_key(r as u64)),
                    V::I(i64::from(o)),
                ]
            }),
        )
        .await;
        eprintln!("records loaded in {:.1?}", t.elapsed());
        let mut grants: Vec<(u64, u32, u8)> = spec
            .grants()
            .map(|g| (g.record, g.principal.raw(), g.actions.bits()))
            .collect();
        grants.sort_unstable();
        grants.dedup_by_key(|g| (g.0, g.1));
        conn.bulk(
            "acl_grants",
            &GRANT_COLS,
            grants.into_iter().map(|(r, p, a)| {
                vec![
                    V::I(0),
                    V::I(r as i64),
                    V::I(i64::from(p)),
                    V::I(i64::from(a)),
                    V::T(spec.record_key(r)),
                ]
            }),
        )
        .await;
    }
    for counter in [
        ("user", users),
        ("node:1", spec.units),
        ("group", spec.groups),
        ("hierarchy", 2),
        ("entity", 1),
    ] {
        conn.exec(&format!(
            "INSERT INTO authz_counters (name, next) VALUES ('{}', {})",
            counter.0, counter.1
        ))
        .await;
    }
    conn.exec(&format!(
        "INSERT INTO authz_counters (name, next) VALUES ('record:0', {})",
        spec.records
    ))
    .await;
    if !moves_only {
        dba_tables(conn, &managers, &unit_parents).await;
    }
    // Statistics, and on PostgreSQL the visibility map (index-only scans skip the heap).
    conn.exec(match conn {
        Conn::Sqlite(_) => "ANALYZE",
        Conn::Pg(_) => "VACUUM ANALYZE",
    })
    .await;
}

/// What a DBA adds for the baselines: closure tables of both trees (the reports-to one
/// strict, every (manager, person somewhere below) pair; the unit one with each unit as its
/// own ancestor), covering indexes for "the groups and units of one user", and on PostgreSQL
/// two set-based row-level-security policies over them, each for a role of its own.
async fn dba_tables(conn: &mut Conn, managers: &[Option<u32>], unit_parents: &[Option<u32>]) {
    let without_rowid = if conn.is_pg() { "" } else { " WITHOUT ROWID" };
    conn.exec(&format!(
        "CREATE TABLE bench_closure (ancestor BIGINT NOT NULL, descendant BIGINT NOT NULL, \
         depth INTEGER NOT NULL, PRIMARY KEY (ancestor, descendant)){without_rowid}"
    ))
    .await;
    conn.bulk(
        "bench_closure",
        &["ancestor", "descendant", "depth"],
        (0..managers.len() as u32).flat_map(|u| {
            let mut rows = Vec::new();
            let mut at = managers[u as usize];
            let mut depth = 1;
            while let Some(a) = at {
                rows.push(vec![V::I(i64::from(a)), V::I(i64::from(u)), V::I(depth)]);
                at = managers[a as usize];
                depth += 1;
            }
            rows
        }),
    )
    .await;
    conn.exec("CREATE INDEX bench_closure_descendant ON bench_closure (descendant, ancestor)")
        .await;
    conn.exec(&format!(
        "CREATE TABLE bench_unit_closure (descendant BIGINT NOT NULL, ancestor BIGINT NOT NULL, \
         PRIMARY KEY (descendant, ancestor)){without_rowid}"
    ))
    .await;
    conn.bulk(
        "bench_unit_closure",
        &["descendant", "ancestor"],
        (0..unit_parents.len() as u32).flat_map(|u| {
            let mut rows = Vec::new();
            let mut at = Some(u);
            while let Some(a) = at {
                rows.push(vec![V::I(i64::from(u)), V::I(i64::from(a))]);
                at = unit_parents[a as usize];
            }
            rows
        }),
    )
    .await;
    conn.exec("CREATE INDEX bench_group_members_user ON authz_group_members (user_num, group_num)")
        .await;
    conn.exec(
        "CREATE INDEX bench_unit_members_user ON authz_unit_members (user_num, hierarchy_num, node_num)",
    )
    .await;
    if let Conn::Pg(_) = conn {
        for sql in crate::baselines::rls_setup() {
            conn.exec(&sql).await;
        }
    }
}
