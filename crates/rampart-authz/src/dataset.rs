//! A seeded, deterministic organisation for benchmarks: a reports-to tree of end users,
//! units and branches, groups, records of one owner-ACL entity and explicit grants.
//!
//! [`DatasetSpec::issue`] is issue #3's shape: 100,000 users in a reports-to tree of depth 8
//! (one top, ten directors with about 10,000 people each, first-line managers with a handful
//! of reports), 1,000 units under 10 branches, 200 groups of 50, 10,000,000 records and
//! 1,000,000 grants. Everything streams from the seed, so a database can be filled in order
//! without holding the records in memory.

use crate::acl::{
    Acl, Actions, EntityId, EntityRule, HierarchyId, HierarchyKind, Principal, RecordRef,
};

/// The reports-to hierarchy's number in [`DatasetSpec::build_acl`].
pub const REPORTS: HierarchyId = HierarchyId(0);
/// The unit hierarchy's number.
pub const UNITS: HierarchyId = HierarchyId(1);
/// The entity's number.
pub const ENTITY: EntityId = EntityId(0);

/// A small, fast, seeded generator (splitmix64); not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// The shape of a generated data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Users per level of the reports-to tree, top first.
    pub levels: Vec<u32>,
    /// Branches (roots of the unit tree).
    pub branches: u32,
    /// Units (branches included).
    pub units: u32,
    /// Groups.
    pub groups: u32,
    /// Members per group.
    pub group_size: u32,
    /// Records of the entity.
    pub records: u64,
    /// Explicit grants.
    pub grants: u64,
    /// The seed.
    pub seed: u64,
}

/// One explicit grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Record number.
    pub record: u64,
    /// Grantee.
    pub principal: Principal,
    /// Actions.
    pub actions: Actions,
}

impl DatasetSpec {
    /// Issue #3's data set.
    pub fn issue() -> Self {
        Self {
            levels: vec![1, 10, 50, 250, 1_250, 6_000, 18_000, 74_439],
            branches: 10,
            units: 1_000,
            groups: 200,
            group_size: 50,
            records: 10_000_000,
            grants: 1_000_000,
            seed: 0x5EED,
        }
    }

    /// The same shape scaled down by `factor` in users, records and grants (at least one
    /// user per level).
    pub fn scaled(factor: u32) -> Self {
        let full = Self::issue();
        let f = factor.max(1);
        Self {
            levels: full.levels.iter().map(|&n| (n / f).max(1)).collect(),
            records: full.records / u64::from(f),
            grants: full.grants / u64::from(f),
            units: (full.units / f).max(full.branches * 2),
            ..full
        }
    }

    /// Number of users.
    pub fn users(&self) -> u32 {
        self.levels.iter().sum()
    }

    /// The first user of each level.
    fn level_starts(&self) -> Vec<u32> {
        let mut starts = Vec::with_capacity(self.levels.len());
        let mut at = 0;
        for &n in &self.levels {
            starts.push(at);
            at += n;
        }
        starts
    }

    /// Each user's manager: users are numbered level by level; a user's manager is a random
    /// user of the level above.
    pub fn managers(&self) -> Vec<Option<u32>> {
        let mut rng = Rng::new(self.seed);
        let starts = self.level_starts();
        let mut out = Vec::with_capacity(self.users() as usize);
        for (depth, &n) in self.levels.iter().enumerate() {
            for _ in 0..n {
                out.push(match depth {
                    0 => None,
                    _ => {
                        let above = self.levels[depth - 1];
                        Some(starts[depth - 1] + rng.below(u64::from(above)) as u32)
                    }
                });
            }
        }
        out
    }

    /// Each unit's parent: the first `branches` units are branches, every other unit sits
    /// under a random branch.
    pub fn unit_parents(&self) -> Vec<Option<u32>> {
        let mut rng = Rng::new(self.seed ^ 1);
        (0..self.units)
            .map(|u| (u >= self.branches).then(|| rng.below(u64::from(self.branches)) as u32))
            .collect()
    }

    /// `(user, unit)` seats: every user sits in a random non-branch unit, one in twenty in a
    /// second one.
    pub fn seats(&self) -> Vec<(u32, u32)> {
        let mut rng = Rng::new(self.seed ^ 2);
        let leaves = u64::from(self.units - self.branches).max(1);
        let mut out = Vec::with_capacity(self.users() as usize * 21 / 20);
        for user in 0..self.users() {
            let first = self.branches + rng.below(leaves) as u32;
            out.push((user, first));
            if rng.below(20) == 0 {
                let second = self.branches + rng.below(leaves) as u32;
                if second != first {
                    out.push((user, second));
                }
            }
        }
        out
    }

    /// `(group, user)` memberships.
    pub fn memberships(&self) -> Vec<(u32, u32)> {
        let mut rng = Rng::new(self.seed ^ 3);
        let users = u64::from(self.users());
        let mut out = Vec::with_capacity((self.groups * self.group_size) as usize);
        for g in 0..self.groups {
            for _ in 0..self.group_size {
                out.push((g, rng.below(users) as u32));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Each record's owner, in record order (a uniformly random user).
    pub fn owners(&self) -> impl Iterator<Item = u32> {
        let mut rng = Rng::new(self.seed ^ 4);
        let users = u64::from(self.users());
        (0..self.records).map(move |_| rng.below(users) as u32)
    }

    /// A record's key: random-looking, so key order is unrelated to owners.
    pub fn record_key(&self, record: u64) -> String {
        let mut r = Rng::new(self.seed ^ record.wrapping_mul(0x2545_F491_4F6C_DD1D));
        format!("{:012x}-{record}", r.next_u64() >> 16)
    }

    /// The grants: a random record each; 70% to a user, 10% to a group, 20% to a unit or
    /// branch; 70% read, 30% read and write.
    pub fn grants(&self) -> impl Iterator<Item = Grant> {
        let mut rng = Rng::new(self.seed ^ 5);
        let (records, users, groups, units) = (
            self.records.max(1),
            u64::from(self.users()),
            u64::from(self.groups.max(1)),
            u64::from(self.units.max(1)),
        );
        (0..self.grants).map(move |_| {
            let record = rng.below(records);
            let kind = rng.below(10);
            let principal = match kind {
                0..=6 => Principal::user(rng.below(users) as u32),
                7 => Principal::group(rng.below(groups) as u32),
                _ => Principal::node(UNITS, rng.below(units) as u32),
            };
            let actions = if rng.below(10) < 7 {
                Actions::READ
            } else {
                Actions::ALL
            };
            Grant {
                record,
                principal,
                actions,
            }
        })
    }

    /// The whole ACL index: both trees, seats, groups, the entity (owner rule over the
    /// reports-to tree, grants on) and every grant.
    pub fn build_acl(&self) -> Result<Acl, crate::acl::AclError> {
        let mut acl = Acl::new();
        acl.define_hierarchy(REPORTS, HierarchyKind::ReportsTo, 0)?;
        acl.define_hierarchy(UNITS, HierarchyKind::Units, 0)?;
        acl.load_parents(REPORTS, &self.managers())?;
        acl.load_parents(UNITS, &self.unit_parents())?;
        for (user, unit) in self.seats() {
            acl.add_member(UNITS, unit, user)?;
        }
        for (group, user) in self.memberships() {
            acl.add_to_group(group, user);
        }
        acl.set_entity(
            ENTITY,
            EntityRule {
                public: Actions::NONE,
                owner: Some(REPORTS),
                grants: true,
            },
        )?;
        acl.load_grants(
            ENTITY,
            self.grants().map(|g| (g.record, g.principal, g.actions)),
        )?;
        Ok(acl)
    }

    /// Named users: a leaf rep, a first-line manager (reports, no second level), a
    /// director (a top-level report, about a tenth of everyone below), and the top.
    pub fn personas(&self, acl: &Acl) -> Personas {
        let starts = self.level_starts();
        let depth = self.levels.len();
        let tree = acl.hierarchy(REPORTS).ok();
        let size = |u: u32| tree.and_then(|t| t.subtree_size(u).ok()).unwrap_or(1);
        let rep = starts[depth - 1];
        let manager = (starts[depth - 2]..starts[depth - 1])
            .find(|&u| size(u) > 1)
            .unwrap_or(starts[depth - 2]);
        let director = (starts[1]..starts[1] + self.levels[1].min(1_000))
            .max_by_key(|&u| size(u))
            .unwrap_or(0);
        Personas {
            rep,
            manager,
            director,
            top: 0,
        }
    }
}

/// One decision to take: may `user` do `action` on `record`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The user asking.
    pub user: u32,
    /// Read or write.
    pub action: Actions,
    /// The record, with its owner.
    pub record: RecordRef,
}

impl DatasetSpec {
    /// `n` seeded requests, the same for every engine compared: 40% from reps, 30% from
    /// first-line managers, 20% from the levels between, 10% from anywhere; random records
    /// (`owners` from [`DatasetSpec::owners`]); one in four a write.
    pub fn requests(&self, n: usize, seed: u64, owners: &[u32]) -> Vec<Request> {
        let mut rng = Rng::new(seed);
        let starts = self.level_starts();
        let depth = self.levels.len() as u64;
        (0..n)
            .map(|_| {
                let level = match rng.below(10) {
                    0..=3 => depth - 1,
                    4..=6 => depth - 2,
                    7 | 8 => 1 + rng.below(depth.saturating_sub(3).max(1)),
                    _ => rng.below(depth),
                } as usize;
                let user = starts[level] + rng.below(u64::from(self.levels[level])) as u32;
                let num = rng.below(self.records.max(1));
                Request {
                    user,
                    action: if rng.below(4) == 0 {
                        Actions::WRITE
                    } else {
                        Actions::READ
                    },
                    record: RecordRef {
                        num,
                        owner: owners.get(num as usize).copied(),
                    },
                }
            })
            .collect()
    }
}

impl DatasetSpec {
    /// `n` seeded requests of which about half are allowed, the same for every engine
    /// compared. A third ask about a record owned by the user or by someone below them (the
    /// record drawn first, the user then the owner or one of the owner's managers); a sixth
    /// ask about a record granted to a principal the user belongs to (the user themselves, a
    /// member of the group, or someone seated in the unit or in a unit under the branch),
    /// for the grant's action or, one time in four, for writing; the rest are
    /// [`DatasetSpec::requests`]' random draws, nearly all denied.
    pub fn mixed_requests(&self, n: usize, seed: u64, owners: &[u32]) -> Vec<Request> {
        let mut rng = Rng::new(seed ^ 0x00AB_1E55);
        let managers = self.managers();
        let (members, seated) = self.members_by_principal();
        // A sample of the grants, spread over the whole stream.
        let want = n / 6 + 1;
        let step = (self.grants / want as u64).max(1);
        let sample: Vec<Grant> = self.grants().step_by(step as usize).take(want).collect();
        let mut random = self.requests(n, seed, owners).into_iter();
        let owner_of = |num: u64| owners.get(num as usize).copied();
        // User `user` asks to read record `num`, or to write it.
        let ask = |user: u32, write: bool, num: u64| Request {
            user,
            action: if write { Actions::WRITE } else { Actions::READ },
            record: RecordRef {
                num,
                owner: owner_of(num),
            },
        };
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let roll = rng.below(6);
            let request = match roll {
                0 | 1 if self.records > 0 => {
                    let num = rng.below(self.records);
                    let Some(mut user) = owner_of(num) else {
                        continue;
                    };
                    for _ in 0..rng.below(4) {
                        match managers.get(user as usize).copied().flatten() {
                            Some(m) => user = m,
                            None => break,
                        }
                    }
                    ask(user, rng.below(4) == 0, num)
                }
                2 if !sample.is_empty() => {
                    let g = sample[rng.below(sample.len() as u64) as usize];
                    let pool: &[u32] = match g.principal.kind() {
                        crate::acl::PrincipalKind::User(u) => &[u][..],
                        crate::acl::PrincipalKind::Group(k) => {
                            members.get(k as usize).map_or(&[][..], Vec::as_slice)
                        }
                        crate::acl::PrincipalKind::Node(_, k) => {
                            seated.get(k as usize).map_or(&[][..], Vec::as_slice)
                        }
                    };
                    if pool.is_empty() {
                        continue;
                    }
                    let user = pool[rng.below(pool.len() as u64) as usize];
                    let write = rng.below(4) == 0 || !g.actions.contains(Actions::READ);
                    ask(user, write, g.record)
                }
                _ => match random.next() {
                    Some(r) => r,
                    None => break,
                },
            };
            out.push(request);
        }
        out
    }

    /// Each group's members, and the users seated in each unit or anywhere under it.
    fn members_by_principal(&self) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let mut members = vec![Vec::new(); self.groups as usize];
        for (group, user) in self.memberships() {
            members[group as usize].push(user);
        }
        let parents = self.unit_parents();
        let mut seated = vec![Vec::new(); self.units as usize];
        for (user, unit) in self.seats() {
            let mut cur = Some(unit);
            while let Some(u) = cur {
                seated[u as usize].push(user);
                cur = parents.get(u as usize).copied().flatten();
            }
        }
        (members, seated)
    }
}

/// Users at four levels of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Personas {
    /// A leaf.
    pub rep: u32,
    /// A first-line manager.
    pub manager: u32,
    /// A director with about a tenth of the tree below.
    pub director: u32,
    /// The root.
    pub top: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_scaled_shape_holds() {
        let spec = DatasetSpec::scaled(100);
        let acl = spec.build_acl().unwrap();
        let tree = acl.hierarchy(REPORTS).unwrap();
        assert_eq!(tree.len() as u32, spec.users());
        // One root, everyone reachable from it, depth as many levels as given.
        assert_eq!(tree.subtree_size(0).unwrap(), spec.users());
        let managers = spec.managers();
        let depth = |mut u: u32| {
            let mut d = 0;
            while let Some(m) = managers[u as usize] {
                u = m;
                d += 1;
            }
            d
        };
        assert_eq!(depth(spec.users() - 1), spec.levels.len() - 1);
        assert_eq!(spec.owners().count() as u64, spec.records);
        assert!(acl.grant_count(ENTITY).unwrap() as u64 <= spec.grants);
        let p = spec.personas(&acl);
        assert_eq!(tree.subtree_size(p.rep).unwrap(), 1);
        assert!(tree.subtree_size(p.manager).unwrap() > 1);
        assert!(tree.subtree_size(p.director).unwrap() > spec.users() / 20);
        // Deterministic: the same seed gives the same data.
        assert_eq!(spec.managers(), DatasetSpec::scaled(100).managers());
        assert_eq!(spec.record_key(7), spec.record_key(7));
        assert_ne!(spec.record_key(7), spec.record_key(8));
    }

    #[test]
    fn mixed_requests_allow_at_least_a_third() {
        let spec = DatasetSpec::scaled(100);
        let acl = spec.build_acl().unwrap();
        let owners: Vec<u32> = spec.owners().collect();
        let requests = spec.mixed_requests(3_000, 7, &owners);
        assert_eq!(requests.len(), 3_000);
        let allowed = requests
            .iter()
            .filter(|r| acl.can(r.user, r.action, ENTITY, r.record))
            .count();
        assert!(allowed * 3 >= requests.len(), "{allowed} allowed");
        assert!(allowed < requests.len(), "some denied");
        assert_eq!(requests, spec.mixed_requests(3_000, 7, &owners));
    }
}
