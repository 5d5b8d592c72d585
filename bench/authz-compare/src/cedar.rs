//! `cedar-policy` with the organisation as entity parents, two ways its documentation
//! teaches.
//!
//! Entities: `Org::"k"` nodes form the reports-to tree (parent = the manager's node);
//! `User::"k"` has parents `Org::"k"`, its groups and its units (units have their branch as
//! parent) and an attribute `org`; a record has parent `Org::"owner"`, so it is `in` the
//! owner's node and in every node above it, and attributes `read_users`, `write_users`
//! (sets of users: personal grants do not flow down the reports-to tree) and `read_shared`,
//! `write_shared` (groups and units: `principal in` them covers membership and the unit
//! tree). Three policies: the owner rule `resource in principal.org` and one grant rule
//! per action. Empty context.
//!
//! - [`Store`]: one `Entities` store holding every user, node and record, built once
//!   (Cedar computes the transitive closure as it builds). Memory grows with the records:
//!   about 5 GB for a million records, so it stops short of the full data set.
//! - [`Slice`]: the principals are kept, each with its ancestors; per request the
//!   application hands Cedar the user and the record, the record's parents being the
//!   owner's node and the nodes above it (one read of a materialised path), and its grant
//!   sets (one read of its grants). This is how a service with records in a database feeds
//!   Cedar, and what lets it run on the full data set; the slice's build is timed with the
//!   decision.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, RestrictedExpression,
};
use rampart_authz::acl::Actions;
use rampart_authz::dataset::{DatasetSpec, Request};

use crate::grants::{chains, record_grants, RecordGrants, Shared};

const POLICIES: &str = r#"
    // Owner rule: the owner and everyone above them in the reports-to tree.
    permit(principal, action, resource) when { resource in principal.org };
    // Explicit grants: personal, or to a group or unit the user is in (or under).
    permit(principal, action == Action::"read", resource)
        when { resource.read_users.contains(principal) || principal in resource.read_shared };
    permit(principal, action == Action::"write", resource)
        when { resource.write_users.contains(principal) || principal in resource.write_shared };
"#;

/// Entity type names and the fixed parts of a request.
struct Names {
    user: EntityTypeName,
    org: EntityTypeName,
    group: EntityTypeName,
    unit: EntityTypeName,
    record: EntityTypeName,
    read: EntityUid,
    write: EntityUid,
}

fn uid(t: &EntityTypeName, id: impl std::fmt::Display) -> EntityUid {
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id.to_string()))
}

impl Names {
    fn new() -> Self {
        let ty = |s: &str| EntityTypeName::from_str(s).unwrap();
        let action = ty("Action");
        Self {
            user: ty("User"),
            org: ty("Org"),
            group: ty("Group"),
            unit: ty("Unit"),
            record: ty("Record"),
            read: uid(&action, "read"),
            write: uid(&action, "write"),
        }
    }

    /// Users with their parents: their node, groups, units and (when `with_branches`,
    /// for a slice that carries no unit entities) the branches above those units.
    fn users(&self, spec: &DatasetSpec, with_branches: bool) -> Vec<Entity> {
        let unit_parents = spec.unit_parents();
        let mut parents: Vec<HashSet<EntityUid>> = (0..spec.users())
            .map(|u| HashSet::from([uid(&self.org, u)]))
            .collect();
        for (group, user) in spec.memberships() {
            parents[user as usize].insert(uid(&self.group, group));
        }
        for (user, unit) in spec.seats() {
            parents[user as usize].insert(uid(&self.unit, unit));
            if let (true, Some(b)) = (with_branches, unit_parents[unit as usize]) {
                parents[user as usize].insert(uid(&self.unit, b));
            }
        }
        parents
            .into_iter()
            .enumerate()
            .map(|(u, ps)| {
                let attrs = HashMap::from([(
                    "org".to_owned(),
                    RestrictedExpression::new_entity_uid(uid(&self.org, u)),
                )]);
                Entity::new(uid(&self.user, u), attrs, ps).unwrap()
            })
            .collect()
    }

    fn record(&self, num: u64, parents: HashSet<EntityUid>, g: &RecordGrants) -> Entity {
        let users = |l: &[u32]| {
            RestrictedExpression::new_set(
                l.iter()
                    .map(|&u| RestrictedExpression::new_entity_uid(uid(&self.user, u))),
            )
        };
        let shared = |l: &[Shared]| {
            RestrictedExpression::new_set(l.iter().map(|s| {
                RestrictedExpression::new_entity_uid(match *s {
                    Shared::Group(g) => uid(&self.group, g),
                    Shared::Unit(n) => uid(&self.unit, n),
                })
            }))
        };
        let attrs = HashMap::from([
            ("read_users".to_owned(), users(&g.read_users)),
            ("write_users".to_owned(), users(&g.write_users)),
            ("read_shared".to_owned(), shared(&g.read_shared)),
            ("write_shared".to_owned(), shared(&g.write_shared)),
        ]);
        Entity::new(uid(&self.record, num), attrs, parents).unwrap()
    }

    fn request(&self, r: &Request) -> cedar_policy::Request {
        let action = if r.action == Actions::WRITE {
            &self.write
        } else {
            &self.read
        };
        cedar_policy::Request::new(
            uid(&self.user, r.user),
            action.clone(),
            uid(&self.record, r.record.num),
            Context::empty(),
            None,
        )
        .unwrap()
    }
}

/// Every entity in one store.
pub struct Store {
    names: Names,
    entities: Entities,
    policies: PolicySet,
    authorizer: Authorizer,
}

impl Store {
    pub fn build(spec: &DatasetSpec, owners: &[u32]) -> Self {
        let names = Names::new();
        let mut entities = names.users(spec, false);
        for (u, manager) in spec.managers().into_iter().enumerate() {
            entities.push(Entity::new_no_attrs(
                uid(&names.org, u),
                manager.map(|m| uid(&names.org, m)).into_iter().collect(),
            ));
        }
        for g in 0..spec.groups {
            entities.push(Entity::new_no_attrs(uid(&names.group, g), HashSet::new()));
        }
        for (n, parent) in spec.unit_parents().into_iter().enumerate() {
            entities.push(Entity::new_no_attrs(
                uid(&names.unit, n),
                parent.map(|p| uid(&names.unit, p)).into_iter().collect(),
            ));
        }
        let mut grants = record_grants(spec);
        let none = RecordGrants::default();
        for (r, &owner) in owners.iter().enumerate() {
            let g = grants.remove(&(r as u64));
            let parents = HashSet::from([uid(&names.org, owner)]);
            entities.push(names.record(r as u64, parents, g.as_ref().unwrap_or(&none)));
        }
        Self {
            entities: Entities::from_entities(entities, None).unwrap(),
            names,
            policies: PolicySet::from_str(POLICIES).unwrap(),
            authorizer: Authorizer::new(),
        }
    }

    pub fn is_authorized(&self, r: &Request) -> bool {
        let request = self.names.request(r);
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}

/// The principals kept; the user and the record handed over per request.
pub struct Slice {
    names: Names,
    users: Vec<Entity>,
    /// Each user's node and the nodes above it.
    org_paths: Vec<Vec<EntityUid>>,
    grants: HashMap<u64, RecordGrants>,
    policies: PolicySet,
    authorizer: Authorizer,
}

impl Slice {
    pub fn build(spec: &DatasetSpec) -> Self {
        let names = Names::new();
        let users = names.users(spec, true);
        let org_paths = chains(&spec.managers())
            .into_iter()
            .enumerate()
            .map(|(u, chain)| {
                std::iter::once(u as u32)
                    .chain(chain)
                    .map(|k| uid(&names.org, k))
                    .collect()
            })
            .collect();
        Self {
            users,
            org_paths,
            grants: record_grants(spec),
            names,
            policies: PolicySet::from_str(POLICIES).unwrap(),
            authorizer: Authorizer::new(),
        }
    }

    pub fn is_authorized(&self, r: &Request) -> bool {
        static NONE: RecordGrants = RecordGrants {
            read_users: Vec::new(),
            write_users: Vec::new(),
            read_shared: Vec::new(),
            write_shared: Vec::new(),
        };
        let parents: HashSet<EntityUid> = match r.record.owner {
            Some(o) => self.org_paths[o as usize].iter().cloned().collect(),
            None => HashSet::new(),
        };
        let g = self.grants.get(&r.record.num).unwrap_or(&NONE);
        let record = self.names.record(r.record.num, parents, g);
        let user = self.users[r.user as usize].clone();
        let entities = Entities::from_entities([user, record], None).unwrap();
        let request = self.names.request(r);
        self.authorizer
            .is_authorized(&request, &self.policies, &entities)
            .decision()
            == Decision::Allow
    }
}
