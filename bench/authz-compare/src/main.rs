//! Issue #3: the same row-level decisions taken by Rampart's index, by `cedar-policy` and by
//! `casbin` (RBAC with domains), on the same seeded data set, in one run.
//!
//! `cargo run --release --manifest-path bench/authz-compare/Cargo.toml -- [SCALE] [ENGINES]`
//!
//! SCALE divides the issue's data set (100,000 users, 10,000,000 records, 1,000,000 grants);
//! ENGINES is a comma list of `cedar`, `casbin` (default both). Every engine must agree with
//! Rampart on every request it is timed on before its throughput is reported.
//!
//! How each is modelled (as their documentation teaches):
//! - Cedar: one entity store built once (transitive closure computed once, as
//!   `Entities::from_entities` does). `Org::"k"` nodes form the reports-to tree (parent = the
//!   manager's node); `User::"k"` has parents `Org::"k"`, its groups and its units; units have
//!   their branch as parent. Each record is an entity with `owner: Org`, `read_users`,
//!   `write_users` (sets of users: personal grants do not flow down the reports-to tree) and
//!   `read_shared`, `write_shared` (groups and units: `principal in` them covers membership
//!   and inheritance down the unit tree). Three policies: owner (`resource.owner in
//!   principal.org`), read grant, write grant. Requests have an empty context.
//! - casbin: the RBAC-with-domains model, one domain per rule kind. Domain `owner`: the
//!   role links `g(manager, report, owner)` (a manager inherits what each report holds) and
//!   one policy `p(owner, owner, record, *)` per record. Domain `grants`: `g(user, group)`,
//!   `g(user, unit)`, `g(unit, branch)` and one policy per grant. A decision is the OR of
//!   the two `enforce` calls. The matcher compares the object first, so the role graph is
//!   only walked for the record's own policies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use rampart_authz::acl::{Actions, PrincipalKind};
use rampart_authz::dataset::{DatasetSpec, Request, ENTITY};

/// How many requests each engine is timed on: Rampart and Cedar answer all of them; casbin
/// scans every policy per call, so it gets a prefix.
const REQUESTS: usize = 20_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let scale: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let engines = args.next().unwrap_or_else(|| "cedar,casbin".to_owned());
    let spec = DatasetSpec::scaled(scale);
    println!(
        "data set 1/{scale}: {} users, {} units, {} groups, {} records, {} grants",
        spec.users(),
        spec.units,
        spec.groups,
        spec.records,
        spec.grants
    );
    let owners: Vec<u32> = spec.owners().collect();
    let requests = spec.requests(REQUESTS, 99, &owners);
    let started = Instant::now();
    let acl = spec.build_acl().unwrap();
    println!("rampart index built in {:.2?}", started.elapsed());
    let expected: Vec<bool> = requests
        .iter()
        .map(|r| acl.can(r.user, r.action, ENTITY, r.record))
        .collect();
    println!(
        "{} requests, {} allowed",
        requests.len(),
        expected.iter().filter(|&&a| a).count()
    );

    let mut rows: Vec<(String, usize, f64, f64)> = Vec::new();
    let mut measure = |name: &str, n: usize, f: &dyn Fn(&Request) -> bool| {
        for (r, want) in requests[..n].iter().zip(&expected) {
            assert_eq!(f(r), *want, "{name} disagrees with rampart on {r:?}");
        }
        let rate = |f: &dyn Fn(&Request) -> bool| {
            let mut best = f64::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                black_box(requests[..n].iter().filter(|r| f(black_box(r))).count());
                best = best.min(t.elapsed().as_secs_f64());
            }
            n as f64 / best
        };
        let theirs = rate(f);
        let ours = rate(&|r: &Request| acl.can(r.user, r.action, ENTITY, r.record));
        println!("{name}: agrees on {n} requests; {theirs:.0} decisions/s, rampart {ours:.0}/s");
        rows.push((name.to_owned(), n, theirs, ours));
    };

    if engines.contains("cedar") {
        let started = Instant::now();
        let cedar = cedar::Model::build(&spec, &owners);
        println!("cedar entities built in {:.2?}", started.elapsed());
        measure("cedar-policy 4", REQUESTS, &|r| cedar.is_authorized(r));
    }
    if engines.contains("casbin") {
        let started = Instant::now();
        let casbin = casbin_model::Model::build(&spec, &owners);
        println!("casbin enforcer built in {:.2?}", started.elapsed());
        // A first call tells how many fit in about ten seconds.
        let t = Instant::now();
        casbin.is_authorized(&requests[0]);
        let per = t.elapsed().as_secs_f64().max(1e-6);
        let n = ((10.0 / 3.0 / per) as usize).clamp(20, REQUESTS);
        measure("casbin 2 (RBAC with domains)", n, &|r| {
            casbin.is_authorized(r)
        });
    }

    println!();
    println!("| engine (1/{scale} data set) | requests | its decisions/s | rampart decisions/s (same requests) | rampart / it |");
    println!("|---|---:|---:|---:|---:|");
    for (name, n, theirs, ours) in &rows {
        println!(
            "| {name} | {n} | {theirs:.0} | {ours:.0} | {:.0}× |",
            ours / theirs
        );
    }
}

/// Grants of one record, split the way both models need them.
#[derive(Default)]
struct RecordGrants {
    read_users: Vec<u32>,
    write_users: Vec<u32>,
    read_shared: Vec<Shared>,
    write_shared: Vec<Shared>,
}

#[derive(Clone, Copy)]
enum Shared {
    Group(u32),
    Unit(u32),
}

fn record_grants(spec: &DatasetSpec) -> HashMap<u64, RecordGrants> {
    let mut out: HashMap<u64, RecordGrants> = HashMap::new();
    for g in spec.grants() {
        let entry = out.entry(g.record).or_default();
        let write = g.actions.contains(Actions::WRITE);
        let read = g.actions.contains(Actions::READ);
        match g.principal.kind() {
            PrincipalKind::User(u) => {
                if read {
                    entry.read_users.push(u);
                }
                if write {
                    entry.write_users.push(u);
                }
            }
            PrincipalKind::Group(n) | PrincipalKind::Node(_, n) => {
                let s = match g.principal.kind() {
                    PrincipalKind::Group(_) => Shared::Group(n),
                    _ => Shared::Unit(n),
                };
                if read {
                    entry.read_shared.push(s);
                }
                if write {
                    entry.write_shared.push(s);
                }
            }
        }
    }
    out
}

mod cedar {
    use super::*;
    use cedar_policy::{
        Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
        PolicySet, RestrictedExpression,
    };

    const POLICIES: &str = r#"
        // Owner rule: the owner and everyone above them in the reports-to tree.
        permit(principal, action, resource) when { resource.owner in principal.org };
        // Explicit grants: personal, or to a group or unit the user is in (or under).
        permit(principal, action == Action::"read", resource)
            when { resource.read_users.contains(principal) || principal in resource.read_shared };
        permit(principal, action == Action::"write", resource)
            when { resource.write_users.contains(principal) || principal in resource.write_shared };
    "#;

    pub struct Model {
        entities: Entities,
        policies: PolicySet,
        authorizer: Authorizer,
        read: EntityUid,
        write: EntityUid,
        user_type: EntityTypeName,
        record_type: EntityTypeName,
    }

    fn uid(t: &EntityTypeName, id: impl std::fmt::Display) -> EntityUid {
        EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id.to_string()))
    }

    impl Model {
        pub fn build(spec: &DatasetSpec, owners: &[u32]) -> Self {
            let ty = |s: &str| EntityTypeName::from_str(s).unwrap();
            let (user_t, org_t, group_t, unit_t, record_t) =
                (ty("User"), ty("Org"), ty("Group"), ty("Unit"), ty("Record"));
            let mut parents: Vec<HashSet<EntityUid>> = (0..spec.users())
                .map(|u| HashSet::from([uid(&org_t, u)]))
                .collect();
            for (group, user) in spec.memberships() {
                parents[user as usize].insert(uid(&group_t, group));
            }
            for (user, unit) in spec.seats() {
                parents[user as usize].insert(uid(&unit_t, unit));
            }
            let mut entities: Vec<Entity> = Vec::new();
            for (u, ps) in parents.into_iter().enumerate() {
                let attrs = HashMap::from([(
                    "org".to_owned(),
                    RestrictedExpression::new_entity_uid(uid(&org_t, u)),
                )]);
                entities.push(Entity::new(uid(&user_t, u), attrs, ps).unwrap());
            }
            for (u, manager) in spec.managers().into_iter().enumerate() {
                entities.push(Entity::new_no_attrs(
                    uid(&org_t, u),
                    manager.map(|m| uid(&org_t, m)).into_iter().collect(),
                ));
            }
            for g in 0..spec.groups {
                entities.push(Entity::new_no_attrs(uid(&group_t, g), HashSet::new()));
            }
            for (n, parent) in spec.unit_parents().into_iter().enumerate() {
                entities.push(Entity::new_no_attrs(
                    uid(&unit_t, n),
                    parent.map(|p| uid(&unit_t, p)).into_iter().collect(),
                ));
            }
            let mut grants = record_grants(spec);
            let users = |l: &[u32]| {
                RestrictedExpression::new_set(
                    l.iter()
                        .map(|&u| RestrictedExpression::new_entity_uid(uid(&user_t, u))),
                )
            };
            let shared = |l: &[Shared]| {
                RestrictedExpression::new_set(l.iter().map(|s| {
                    RestrictedExpression::new_entity_uid(match *s {
                        Shared::Group(g) => uid(&group_t, g),
                        Shared::Unit(n) => uid(&unit_t, n),
                    })
                }))
            };
            for (r, &owner) in owners.iter().enumerate() {
                let g = grants.remove(&(r as u64)).unwrap_or_default();
                let attrs = HashMap::from([
                    (
                        "owner".to_owned(),
                        RestrictedExpression::new_entity_uid(uid(&org_t, owner)),
                    ),
                    ("read_users".to_owned(), users(&g.read_users)),
                    ("write_users".to_owned(), users(&g.write_users)),
                    ("read_shared".to_owned(), shared(&g.read_shared)),
                    ("write_shared".to_owned(), shared(&g.write_shared)),
                ]);
                entities.push(Entity::new(uid(&record_t, r), attrs, HashSet::new()).unwrap());
            }
            let action_t = ty("Action");
            Self {
                entities: Entities::from_entities(entities, None).unwrap(),
                policies: PolicySet::from_str(POLICIES).unwrap(),
                authorizer: Authorizer::new(),
                read: uid(&action_t, "read"),
                write: uid(&action_t, "write"),
                user_type: user_t,
                record_type: record_t,
            }
        }

        pub fn is_authorized(&self, r: &Request) -> bool {
            let action = if r.action == Actions::WRITE {
                &self.write
            } else {
                &self.read
            };
            let request = cedar_policy::Request::new(
                uid(&self.user_type, r.user),
                action.clone(),
                uid(&self.record_type, r.record.num),
                Context::empty(),
                None,
            )
            .unwrap();
            let response = self
                .authorizer
                .is_authorized(&request, &self.policies, &self.entities);
            response.decision() == Decision::Allow
        }
    }
}

mod casbin_model {
    use super::*;
    use casbin::prelude::*;

    const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.obj == p.obj && r.dom == p.dom && (r.act == p.act || p.act == "*") && g(r.sub, p.sub, r.dom)
"#;

    pub struct Model {
        enforcer: Enforcer,
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    impl Model {
        pub fn build(spec: &DatasetSpec, owners: &[u32]) -> Self {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let model = DefaultModel::from_str(MODEL).await.unwrap();
                let mut e = Enforcer::new(model, MemoryAdapter::default())
                    .await
                    .unwrap();
                let mut links: Vec<Vec<String>> = Vec::new();
                for (u, m) in spec.managers().into_iter().enumerate() {
                    if let Some(m) = m {
                        links.push(v(&[&format!("u{m}"), &format!("u{u}"), "owner"]));
                    }
                }
                for (group, user) in spec.memberships() {
                    links.push(v(&[&format!("u{user}"), &format!("g{group}"), "grants"]));
                }
                for (user, unit) in spec.seats() {
                    links.push(v(&[&format!("u{user}"), &format!("n{unit}"), "grants"]));
                }
                for (n, parent) in spec.unit_parents().into_iter().enumerate() {
                    if let Some(p) = parent {
                        links.push(v(&[&format!("n{n}"), &format!("n{p}"), "grants"]));
                    }
                }
                e.add_grouping_policies(links).await.unwrap();
                let mut policies: Vec<Vec<String>> = owners
                    .iter()
                    .enumerate()
                    .map(|(r, o)| v(&[&format!("u{o}"), "owner", &format!("r{r}"), "*"]))
                    .collect();
                for g in spec.grants() {
                    let sub = match g.principal.kind() {
                        PrincipalKind::User(u) => format!("u{u}"),
                        PrincipalKind::Group(n) => format!("g{n}"),
                        PrincipalKind::Node(_, n) => format!("n{n}"),
                    };
                    let obj = format!("r{}", g.record);
                    if g.actions.contains(Actions::READ) {
                        policies.push(v(&[&sub, "grants", &obj, "read"]));
                    }
                    if g.actions.contains(Actions::WRITE) {
                        policies.push(v(&[&sub, "grants", &obj, "write"]));
                    }
                }
                policies.sort();
                policies.dedup();
                e.add_policies(policies).await.unwrap();
                Self { enforcer: e }
            })
        }

        pub fn is_authorized(&self, r: &Request) -> bool {
            let sub = format!("u{}", r.user);
            let obj = format!("r{}", r.record.num);
            let act = if r.action == Actions::WRITE {
                "write"
            } else {
                "read"
            };
            self.enforcer.enforce((&sub, "owner", &obj, act)).unwrap()
                || self.enforcer.enforce((&sub, "grants", &obj, act)).unwrap()
        }
    }
}
