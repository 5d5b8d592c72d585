//! Application roles for end users: declared per application, granted at run time to users
//! or groups, optionally until a given time.
//!
//! `check(user, app, role, now)` allows when an unexpired grant of that role in that
//! application names the user or a group the user belongs to. A grant whose `until` is at or
//! before `now` no longer counts (expiry needs no clean-up to take effect).

use std::collections::HashMap;

use crate::acl::{Acl, Principal, PrincipalKind};

/// An application (dense number assigned by the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppNum(pub u32);

/// An application role (dense number assigned by the store, unique across applications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleNum(pub u32);

/// Why a role check allowed: the grant that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleGrantRef {
    /// The grantee: the user or one of their groups.
    pub principal: Principal,
    /// When the grant ends (UTC milliseconds), if it does.
    pub until: Option<i64>,
}

/// One grantee's roles in one application, each with its optional end.
type Held = Vec<(RoleNum, Option<i64>)>;

/// Every role grant, keyed by application and grantee.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    grants: HashMap<(AppNum, Principal), Held>,
}

fn live(until: Option<i64>, now: i64) -> bool {
    until.is_none_or(|u| now < u)
}

impl Roles {
    /// No grants.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants `role` in `app` to a user or group, until `until` (replacing an earlier grant of
    /// the same role to the same grantee). Returns false for a principal that is not a user
    /// or group.
    pub fn grant(&mut self, app: AppNum, role: RoleNum, to: Principal, until: Option<i64>) -> bool {
        if matches!(to.kind(), PrincipalKind::Node(..)) {
            return false;
        }
        let list = self.grants.entry((app, to)).or_default();
        match list.iter_mut().find(|(r, _)| *r == role) {
            Some(entry) => entry.1 = until,
            None => list.push((role, until)),
        }
        true
    }

    /// Removes a grant; false if there was none.
    pub fn revoke(&mut self, app: AppNum, role: RoleNum, from: Principal) -> bool {
        let Some(list) = self.grants.get_mut(&(app, from)) else {
            return false;
        };
        let before = list.len();
        list.retain(|(r, _)| *r != role);
        let removed = list.len() != before;
        if list.is_empty() {
            self.grants.remove(&(app, from));
        }
        removed
    }

    /// Removes every grant of `role` (the role was deleted).
    pub fn drop_role(&mut self, role: RoleNum) {
        self.grants.retain(|_, list| {
            list.retain(|(r, _)| *r != role);
            !list.is_empty()
        });
    }

    /// Removes every grant to `principal` (the user or group was deleted).
    pub fn drop_principal(&mut self, principal: Principal) {
        self.grants.retain(|(_, p), _| *p != principal);
    }

    fn grantees(acl: &Acl, user: u32) -> impl Iterator<Item = Principal> {
        std::iter::once(Principal::user(user))
            .chain(acl.groups_of(user).into_iter().map(Principal::group))
    }

    /// The grant that lets `user` act as `role` in `app` at `now`, if any.
    pub fn check(
        &self,
        acl: &Acl,
        user: u32,
        app: AppNum,
        role: RoleNum,
        now: i64,
    ) -> Option<RoleGrantRef> {
        // The direct grant first: the common case costs one lookup and no allocation.
        let find = |p: Principal| {
            self.grants.get(&(app, p)).and_then(|list| {
                list.iter()
                    .find(|&&(r, until)| r == role && live(until, now))
                    .map(|&(_, until)| RoleGrantRef {
                        principal: p,
                        until,
                    })
            })
        };
        find(Principal::user(user)).or_else(|| {
            acl.groups_iter(user)
                .find_map(|g| find(Principal::group(g)))
        })
    }

    /// The roles granted in `app` to `principal` itself (not through a group), each with its
    /// end.
    pub fn direct(&self, app: AppNum, principal: Principal) -> &[(RoleNum, Option<i64>)] {
        self.grants
            .get(&(app, principal))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The roles `user` holds in `app` at `now`, directly or through groups, sorted.
    pub fn roles_of(&self, acl: &Acl, user: u32, app: AppNum, now: i64) -> Vec<RoleNum> {
        let mut out: Vec<RoleNum> = Self::grantees(acl, user)
            .filter_map(|p| self.grants.get(&(app, p)))
            .flatten()
            .filter(|(_, until)| live(*until, now))
            .map(|&(r, _)| r)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every grant in `app`, expired ones included (their end says so): grantee, role and
    /// end, sorted by role, then grantee.
    pub fn members(&self, app: AppNum) -> Vec<(RoleNum, Principal, Option<i64>)> {
        let mut out: Vec<(RoleNum, Principal, Option<i64>)> = self
            .grants
            .iter()
            .filter(|((a, _), _)| *a == app)
            .flat_map(|((_, p), list)| list.iter().map(move |&(r, until)| (r, *p, until)))
            .collect();
        out.sort_unstable_by_key(|&(r, p, _)| (r, p));
        out
    }

    /// Number of grants.
    pub fn len(&self) -> usize {
        self.grants.values().map(Vec::len).sum()
    }

    /// Whether there are no grants.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const APP: AppNum = AppNum(1);
    const OTHER_APP: AppNum = AppNum(2);
    const SALES: RoleNum = RoleNum(10);
    const ADMIN: RoleNum = RoleNum(11);

    #[test]
    fn members_are_every_grant_of_one_application_expired_ones_included() {
        let mut roles = Roles::new();
        roles.grant(APP, ADMIN, Principal::group(5), Some(1_000));
        roles.grant(APP, SALES, Principal::user(3), None);
        roles.grant(APP, SALES, Principal::user(1), Some(7));
        roles.grant(OTHER_APP, SALES, Principal::user(2), None);
        assert_eq!(
            roles.members(APP),
            [
                (SALES, Principal::user(1), Some(7)),
                (SALES, Principal::user(3), None),
                (ADMIN, Principal::group(5), Some(1_000)),
            ]
        );
        roles.revoke(APP, SALES, Principal::user(1));
        assert_eq!(roles.members(APP).len(), 2);
        assert_eq!(roles.members(AppNum(9)), []);
    }

    #[test]
    fn grants_to_users_and_groups_with_expiry() {
        let mut acl = Acl::new();
        acl.add_to_group(5, 1); // user 1 in group 5
        let mut roles = Roles::new();
        assert!(roles.grant(APP, SALES, Principal::user(0), None));
        assert!(roles.grant(APP, ADMIN, Principal::group(5), Some(1_000)));
        assert!(!roles.grant(
            APP,
            ADMIN,
            Principal::node(crate::acl::HierarchyId(0), 1),
            None
        ));
        // (user, app, role, now, expected grantee)
        let table = [
            (0, APP, SALES, 0, Some(Principal::user(0))),
            (0, OTHER_APP, SALES, 0, None),
            (0, APP, ADMIN, 0, None),
            (1, APP, ADMIN, 999, Some(Principal::group(5))),
            (1, APP, ADMIN, 1_000, None),
            (2, APP, ADMIN, 0, None),
        ];
        for (user, app, role, now, expected) in table {
            assert_eq!(
                roles.check(&acl, user, app, role, now).map(|g| g.principal),
                expected,
                "user {user} app {app:?} role {role:?} at {now}"
            );
        }
        assert_eq!(roles.roles_of(&acl, 1, APP, 0), [ADMIN]);
        roles.grant(APP, SALES, Principal::user(1), None);
        assert_eq!(roles.roles_of(&acl, 1, APP, 0), [SALES, ADMIN]);
        assert_eq!(roles.roles_of(&acl, 1, APP, 5_000), [SALES]);
        // Leaving the group, revoking and dropping all take effect at once.
        acl.remove_from_group(5, 1);
        assert_eq!(roles.check(&acl, 1, APP, ADMIN, 0), None);
        assert!(roles.revoke(APP, SALES, Principal::user(1)));
        assert!(!roles.revoke(APP, SALES, Principal::user(1)));
        assert_eq!(roles.roles_of(&acl, 1, APP, 0), []);
        roles.drop_role(SALES);
        assert_eq!(roles.check(&acl, 0, APP, SALES, 0), None);
        assert_eq!(roles.len(), 1);
    }

    #[test]
    fn regranting_replaces_the_expiry() {
        let acl = Acl::new();
        let mut roles = Roles::new();
        roles.grant(APP, SALES, Principal::user(3), Some(10));
        roles.grant(APP, SALES, Principal::user(3), None);
        assert_eq!(roles.len(), 1);
        assert!(roles.check(&acl, 3, APP, SALES, 1_000_000).is_some());
    }
}
