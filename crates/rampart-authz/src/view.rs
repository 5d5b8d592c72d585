//! The in-memory index every node keeps: applying changes and choosing list filters.
//!
//! An [`AuthzView`] holds the decision structures ([`Permissions`], [`Acl`], [`Roles`]) with
//! the names they are addressed by. The store builds one from its tables at start-up and
//! writes a [`Change`] list under each revision; every node applies them in revision order
//! with [`AuthzView::apply`], so all nodes hold the same index at the same revision.

use std::collections::HashMap;

use rampart_core::{Error, UserId};

use crate::acl::{
    Acl, Actions, EntityId, EntityRule, HierarchyId, HierarchyKind, Principal, PrincipalKind,
};
use crate::change::{default_environments, parse_kind, Change, EnvironmentDef};
use crate::it::{AppId, EnvId, ItUserId, Level, ModuleId, Permissions, RoleId, Scope, TeamId};
use crate::path::materialised_path;
use crate::roles::{AppNum, RoleNum, Roles};

/// Who or what a grant names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalRef {
    /// A user.
    User(UserId),
    /// A group, by name.
    Group(String),
    /// A unit-like node, by hierarchy name and node key.
    Node {
        /// Hierarchy name.
        hierarchy: String,
        /// Node key (e.g. the unit's name).
        node: String,
    },
}

impl PrincipalRef {
    /// The grantee as audit events and refusals name it: `user:<id>`, `group:<name>`,
    /// `node:<hierarchy>/<key>`.
    pub fn describe(&self) -> String {
        match self {
            PrincipalRef::User(u) => format!("user:{u}"),
            PrincipalRef::Group(g) => format!("group:{g}"),
            PrincipalRef::Node { hierarchy, node } => format!("node:{hierarchy}/{node}"),
        }
    }
}

/// How to ask the database for the records a user may read; chosen by the caller from the
/// in-memory index (which knows subtree sizes) (the store turns it into SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// The entity.
    pub entity: EntityId,
    /// The entity is public for reading: no filter.
    pub public: bool,
    /// Owner rule: the reports-to hierarchy and the user's node in it.
    pub owner: Option<(HierarchyId, u32)>,
    /// Grant rule: the user's grantee principals.
    pub grantees: Vec<Principal>,
    /// Walk the records in key order and test each (large subtrees) instead of collecting
    /// the subtree's records and sorting them (small subtrees).
    pub walk_in_order: bool,
    /// The user's materialised path in the owner hierarchy, as the index derives it from the
    /// parent links (the database holds the same; `None` reads it from the database).
    pub owner_path: Option<Vec<u8>>,
}

/// A node's in-memory index of all authorization data, with the names it is addressed by.
#[derive(Debug, Clone)]
pub struct AuthzView {
    /// IT permissions.
    pub it: Permissions,
    /// The environments with their policies, in promotion order (as `it.environments()`).
    environments: Vec<EnvironmentDef>,
    teams: HashMap<String, u32>,
    modules: HashMap<String, u32>,
    /// The ACL index.
    pub acl: Acl,
    /// Application role grants.
    pub roles: Roles,
    /// The last revision applied.
    pub revision: u64,
    users: HashMap<UserId, u32>,
    /// The reverse of `users`, indexed by number.
    user_ids: Vec<Option<UserId>>,
    groups: HashMap<String, u32>,
    hierarchies: HashMap<String, (HierarchyId, HierarchyKind)>,
    nodes: HashMap<(u16, String), u32>,
    entities: HashMap<String, EntityId>,
    records: HashMap<u32, i64>,
    apps: HashMap<String, AppNum>,
    /// Roles by application, then by name (looked up without allocating).
    app_roles: HashMap<u32, HashMap<String, RoleNum>>,
    /// The database plans the list filter's shape itself (PostgreSQL: from the bound path
    /// range it chooses a key-order scan with a hashed subtree, or a per-owner loop); SQLite
    /// follows the shape [`AuthzView::list_filter`] picks from subtree sizes.
    planner_picks_shape: bool,
}

impl Default for AuthzView {
    fn default() -> Self {
        Self {
            it: Permissions::with_defaults(),
            environments: default_environments(),
            teams: HashMap::new(),
            modules: HashMap::new(),
            acl: Acl::default(),
            roles: Roles::default(),
            revision: 0,
            users: HashMap::new(),
            user_ids: Vec::new(),
            groups: HashMap::new(),
            hierarchies: HashMap::new(),
            nodes: HashMap::new(),
            entities: HashMap::new(),
            records: HashMap::new(),
            apps: HashMap::new(),
            app_roles: HashMap::new(),
            planner_picks_shape: false,
        }
    }
}

/// Loading: the store builds a view from its tables with these, in one snapshot, then sets
/// [`AuthzView::revision`]; everything else enters through [`AuthzView::apply`].
impl AuthzView {
    /// Whether the database plans the list filter's shape itself (PostgreSQL), so
    /// [`AuthzView::list_filter`] never asks for the walk shape.
    pub fn set_planner_picks_shape(&mut self, picks: bool) {
        self.planner_picks_shape = picks;
    }

    /// Replaces the environments, in promotion order, and starts the IT permissions afresh
    /// over them (role levels and overrides are loaded after).
    pub fn load_environments(&mut self, environments: Vec<EnvironmentDef>) {
        self.it =
            Permissions::with_environments(environments.iter().map(|e| e.name.clone()).collect());
        self.environments = environments;
    }

    /// Records a user's number both ways, for [`AuthzView::user_num`] and
    /// [`AuthzView::user_by_num`] (as [`Change::UserNum`] does).
    pub fn load_user(&mut self, user: UserId, num: u32) {
        self.users.insert(user, num);
        let i = num as usize;
        if self.user_ids.len() <= i {
            self.user_ids.resize(i + 1, None);
        }
        self.user_ids[i] = Some(user);
    }

    /// Records a unit-like node's key (a reports-to hierarchy's nodes are users).
    pub fn load_unit_node(&mut self, h: HierarchyId, key: String, num: u32) {
        self.nodes.insert((h.0, key), num);
    }

    /// Every entity the index holds.
    pub fn entity_ids(&self) -> Vec<EntityId> {
        self.entities.values().copied().collect()
    }

    /// Sets an entity's number of records (the list planner's estimate).
    pub fn load_record_count(&mut self, e: EntityId, count: i64) {
        self.records.insert(e.0, count);
    }
}

impl AuthzView {
    /// Applies one change; changes must come in revision order.
    pub fn apply(&mut self, change: &Change) -> Result<(), Error> {
        match change {
            Change::UserNum { user, num } => {
                self.load_user(UserId::parse(user, "user")?, *num);
            }
            Change::UserDeleted { user } => {
                if let Some(num) = self.users.remove(&UserId::parse(user, "user")?) {
                    if let Some(slot) = self.user_ids.get_mut(num as usize) {
                        *slot = None;
                    }
                    self.roles.drop_principal(Principal::user(num));
                }
            }
            // The caller reloads the whole view from the tables.
            Change::Reload => {}
            Change::ItDefaultRole { user, role } => match role {
                Some(r) => {
                    let r = it_role(&self.it, r)?;
                    self.it.set_default_role(ItUserId(*user), r);
                }
                None => self.it.clear_default_role(ItUserId(*user)),
            },
            Change::ItRoleLevel {
                role,
                environment,
                level,
            } => {
                let (r, e) = (it_role(&self.it, role)?, it_env(&self.it, environment)?);
                let level = Level::parse(level)
                    .ok_or_else(|| Error::Internal(format!("stored level {level:?}")))?;
                self.it.set_role_level(r, e, level);
            }
            Change::Team { num, name } => {
                self.teams.insert(name.clone(), *num);
            }
            Change::TeamDeleted { num } => {
                self.teams.retain(|_, t| t != num);
            }
            Change::TeamMember { team, user, role } => match role {
                Some(r) => {
                    let r = it_role(&self.it, r)?;
                    self.it.set_team_role(TeamId(*team), ItUserId(*user), r);
                }
                None => self.it.remove_team_role(TeamId(*team), ItUserId(*user)),
            },
            Change::AppTeam { app, team } => {
                self.it.set_app_team(AppId(*app), team.map(TeamId));
            }
            Change::Module { num, name, app } => {
                self.modules.insert(name.clone(), *num);
                self.it.set_module_app(ModuleId(*num), AppId(*app));
            }
            Change::Override {
                user,
                scope,
                scope_num,
                environment,
                level,
            } => {
                let scope = it_scope(scope, *scope_num)?;
                let env = environment
                    .as_deref()
                    .map(|e| it_env(&self.it, e))
                    .transpose()?;
                match level {
                    Some(l) => {
                        let l = Level::parse(l)
                            .ok_or_else(|| Error::Internal(format!("stored level {l:?}")))?;
                        self.it.set_override(ItUserId(*user), scope, env, l);
                    }
                    None => self.it.remove_override(ItUserId(*user), scope, env),
                }
            }
            Change::Group { num, name } => {
                self.groups.insert(name.clone(), *num);
            }
            Change::GroupDeleted { num } => {
                self.groups.retain(|_, n| n != num);
                self.acl.drop_group(*num);
                self.roles.drop_principal(Principal::group(*num));
                // Grants to the group were deleted by their own `Grant` changes.
            }
            Change::GroupMember {
                group,
                user,
                member,
            } => {
                if *member {
                    self.acl.add_to_group(*group, *user);
                } else {
                    self.acl.remove_from_group(*group, *user);
                }
            }
            Change::Hierarchy { num, name, kind } => {
                let kind = parse_kind(kind)?;
                self.acl
                    .define_hierarchy(HierarchyId(*num), kind, 0)
                    .map_err(internal)?;
                self.hierarchies
                    .insert(name.clone(), (HierarchyId(*num), kind));
            }
            Change::HierarchyDeleted { num } => {
                self.acl.drop_hierarchy(HierarchyId(*num));
                self.hierarchies.retain(|_, (h, _)| h.0 != *num);
                self.nodes.retain(|(h, _), _| h != num);
            }
            Change::Node {
                hierarchy,
                node,
                key,
                parent,
            } => {
                let h = HierarchyId(*hierarchy);
                if self.acl.hierarchy_kind(h).map_err(internal)? == HierarchyKind::Units {
                    self.nodes.insert((*hierarchy, key.clone()), *node);
                }
                self.acl.set_parent(h, *node, *parent).map_err(internal)?;
            }
            Change::UnitMember {
                hierarchy,
                node,
                user,
                member,
            } => {
                let h = HierarchyId(*hierarchy);
                if *member {
                    self.acl.add_member(h, *node, *user).map_err(internal)?;
                } else {
                    self.acl.remove_member(h, *node, *user).map_err(internal)?;
                }
            }
            Change::Entity {
                num,
                name,
                public,
                owner,
                grants,
            } => {
                let rule = EntityRule {
                    public: Actions::from_bits(*public),
                    owner: owner.map(HierarchyId),
                    grants: *grants,
                };
                self.acl
                    .set_entity(EntityId(*num), rule)
                    .map_err(internal)?;
                self.entities.insert(name.clone(), EntityId(*num));
            }
            Change::Records { entity, delta } => {
                *self.records.entry(*entity).or_default() += delta;
            }
            Change::Grant {
                entity,
                record,
                principal,
                actions,
            } => self
                .acl
                .set_grant(
                    EntityId(*entity),
                    *record,
                    Principal::from_raw(*principal),
                    Actions::from_bits(*actions),
                )
                .map_err(internal)?,
            Change::App { num, name } => {
                self.apps.insert(name.clone(), AppNum(*num));
            }
            Change::Role { num, app, name } => {
                self.app_roles
                    .entry(*app)
                    .or_default()
                    .insert(name.clone(), RoleNum(*num));
            }
            Change::RoleDeleted { num, app } => {
                if let Some(names) = self.app_roles.get_mut(app) {
                    names.retain(|_, r| r.0 != *num);
                }
                self.roles.drop_role(RoleNum(*num));
            }
            Change::RoleGrant {
                app,
                role,
                principal,
                until,
            } => {
                self.roles.grant(
                    AppNum(*app),
                    RoleNum(*role),
                    Principal::from_raw(*principal),
                    *until,
                );
            }
            Change::RoleRevoke {
                app,
                role,
                principal,
            } => {
                self.roles.revoke(
                    AppNum(*app),
                    RoleNum(*role),
                    Principal::from_raw(*principal),
                );
            }
        }
        Ok(())
    }

    /// The environments with their policies, in promotion order.
    pub fn environments(&self) -> &[EnvironmentDef] {
        &self.environments
    }

    /// An environment's definition.
    pub fn environment_def(&self, env: EnvId) -> Option<&EnvironmentDef> {
        self.environments.get(usize::from(env.0))
    }

    /// The user's number, if the user is known to authorization.
    pub fn user_num(&self, user: UserId) -> Option<u32> {
        self.users.get(&user).copied()
    }

    /// The user with number `num`.
    pub fn user_by_num(&self, num: u32) -> Option<UserId> {
        self.user_ids.get(num as usize).copied().flatten()
    }

    /// A group's number.
    pub fn group_num(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }

    /// A group's name.
    pub fn group_name(&self, num: u32) -> Option<&str> {
        name_of(&self.groups, num)
    }

    /// A hierarchy by name.
    pub fn hierarchy(&self, name: &str) -> Option<(HierarchyId, HierarchyKind)> {
        self.hierarchies.get(name).copied()
    }

    /// A hierarchy's name.
    pub fn hierarchy_name(&self, h: HierarchyId) -> Option<&str> {
        self.hierarchies
            .iter()
            .find_map(|(name, &(id, _))| (id == h).then_some(name.as_str()))
    }

    /// A unit-like node's number.
    pub fn node_num(&self, h: HierarchyId, key: &str) -> Option<u32> {
        self.nodes.get(&(h.0, key.to_owned())).copied()
    }

    /// A unit-like node's key.
    pub fn node_key(&self, h: HierarchyId, num: u32) -> Option<&str> {
        self.nodes
            .iter()
            .find_map(|((hh, key), &n)| (*hh == h.0 && n == num).then_some(key.as_str()))
    }

    /// An entity by name.
    pub fn entity(&self, name: &str) -> Option<EntityId> {
        self.entities.get(name).copied()
    }

    /// The number of records of an entity (the list planner's estimate).
    pub fn record_count(&self, e: EntityId) -> i64 {
        self.records.get(&e.0).copied().unwrap_or(0)
    }

    /// An application by name.
    pub fn app(&self, name: &str) -> Option<AppNum> {
        self.apps.get(name).copied()
    }

    /// A role of an application by name.
    pub fn role(&self, app: AppNum, name: &str) -> Option<RoleNum> {
        self.app_roles.get(&app.0)?.get(name).copied()
    }

    /// A role's name.
    pub fn role_name(&self, role: RoleNum) -> Option<&str> {
        self.app_roles
            .values()
            .flatten()
            .find_map(|(name, &r)| (r == role).then_some(name.as_str()))
    }

    /// Application names with their role names, sorted.
    pub fn applications(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .apps
            .iter()
            .map(|(name, app)| {
                let mut roles: Vec<String> = self
                    .app_roles
                    .get(&app.0)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                roles.sort();
                (name.clone(), roles)
            })
            .collect();
        out.sort();
        out
    }

    /// Group names, sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.groups.keys().cloned().collect();
        out.sort();
        out
    }

    /// Hierarchies: name, kind and number of nodes, sorted by name.
    pub fn hierarchies(&self) -> Vec<(String, HierarchyKind, usize)> {
        let mut out: Vec<(String, HierarchyKind, usize)> = self
            .hierarchies
            .iter()
            .map(|(name, &(h, kind))| {
                let nodes = match kind {
                    HierarchyKind::Units => self.nodes.keys().filter(|(hh, _)| *hh == h.0).count(),
                    HierarchyKind::ReportsTo => self.acl.hierarchy(h).map_or(0, |t| t.len()),
                };
                (name.clone(), kind, nodes)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Entities: name, rule, records and explicit grants, sorted by name.
    pub fn entities(&self) -> Vec<(String, EntityRule, i64, usize)> {
        let mut out: Vec<(String, EntityRule, i64, usize)> = self
            .entities
            .iter()
            .filter_map(|(name, &e)| {
                let rule = self.acl.entity_rule(e).ok()?;
                let grants = self.acl.grant_count(e).unwrap_or(0);
                Some((name.clone(), rule, self.record_count(e), grants))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Team names, sorted.
    pub fn team_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.teams.keys().cloned().collect();
        out.sort();
        out
    }

    /// Modules with their application, sorted.
    pub fn module_list(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .modules
            .iter()
            .map(|(name, &num)| {
                let app = self
                    .it
                    .module_app(ModuleId(num))
                    .and_then(|a| self.app_name(AppNum(a.0)))
                    .unwrap_or("?")
                    .to_owned();
                (name.clone(), app)
            })
            .collect();
        out.sort();
        out
    }

    /// A team's number.
    pub fn team(&self, name: &str) -> Option<u32> {
        self.teams.get(name).copied()
    }

    /// A team's name.
    pub fn team_name(&self, num: u32) -> Option<&str> {
        name_of(&self.teams, num)
    }

    /// A module's number.
    pub fn module(&self, name: &str) -> Option<u32> {
        self.modules.get(name).copied()
    }

    /// The name of the application a module belongs to.
    pub fn module_application(&self, name: &str) -> Option<&str> {
        let num = self.module(name)?;
        let app = self.it.module_app(ModuleId(num))?;
        self.app_name(AppNum(app.0))
    }

    /// Every registered module: name and number.
    pub fn modules(&self) -> impl Iterator<Item = (&str, u32)> {
        self.modules.iter().map(|(m, &n)| (m.as_str(), n))
    }

    /// A module's name.
    pub fn module_name(&self, num: u32) -> Option<&str> {
        name_of(&self.modules, num)
    }

    /// An application's name.
    pub fn app_name(&self, app: AppNum) -> Option<&str> {
        name_of(&self.apps, app)
    }

    /// A principal's readable name: `user:<id>`, `group:<name>`, `node:<hierarchy>/<key>`.
    pub fn describe(&self, p: Principal) -> String {
        match p.kind() {
            PrincipalKind::User(n) => match self.user_by_num(n) {
                Some(u) => format!("user:{u}"),
                None => format!("user#{n}"),
            },
            PrincipalKind::Group(n) => format!("group:{}", self.group_name(n).unwrap_or("?")),
            PrincipalKind::Node(h, n) => format!(
                "node:{}/{}",
                self.hierarchy_name(h).unwrap_or("?"),
                self.node_key(h, n).unwrap_or("?")
            ),
        }
    }

    /// Resolves a grantee by name against this view (for checks; writes resolve in the
    /// database).
    pub fn principal(&self, p: &PrincipalRef) -> Option<Principal> {
        match p {
            PrincipalRef::User(u) => self.user_num(*u).map(Principal::user),
            PrincipalRef::Group(g) => self.group_num(g).map(Principal::group),
            PrincipalRef::Node { hierarchy, node } => {
                let (h, _) = self.hierarchy(hierarchy)?;
                self.node_num(h, node).map(|n| Principal::node(h, n))
            }
        }
    }
}

impl AuthzView {
    /// The list filter of a user the index holds nothing about: public records only.
    pub fn list_filter_for_nobody(&self, e: EntityId) -> Result<ListFilter, Error> {
        let rule = self
            .acl
            .entity_rule(e)
            .map_err(|_| Error::invalid("entity", "unknown entity"))?;
        Ok(ListFilter {
            entity: e,
            public: rule.public.contains(Actions::READ),
            owner: None,
            grantees: Vec::new(),
            walk_in_order: false,
            owner_path: None,
        })
    }

    /// The database filter for what `user` may read of entity `e`, with the query shape
    /// chosen from the index: collecting the subtree's records costs about
    /// `subtree × records / users` rows, walking the records in key order until a page is
    /// full costs about `page × users / subtree` probes (two index lookups each); the
    /// cheaper estimate wins.
    pub fn list_filter(&self, e: EntityId, user: u32, page: i64) -> Result<ListFilter, Error> {
        let rule = self
            .acl
            .entity_rule(e)
            .map_err(|_| Error::invalid("entity", "unknown entity"))?;
        let shape = self.reader_shape(rule.owner, user, self.record_count(e), page);
        Ok(ListFilter {
            entity: e,
            public: rule.public.contains(Actions::READ),
            owner: rule.owner.map(|h| (h, user)),
            grantees: if rule.grants {
                self.acl.grantee_principals(user)
            } else {
                Vec::new()
            },
            walk_in_order: shape.walk_in_order,
            owner_path: shape.owner_path,
        })
    }

    /// Where `user` sits in an owner rule's hierarchy `h` and which query shape reads a page
    /// of `records` for them: the materialised path (`None` outside the tree) and whether to
    /// walk the records in order (large subtrees) rather than collect the subtree's.
    /// Collecting costs about `subtree × records / users` rows, walking about
    /// `page × users / subtree` probes (two index lookups each); the cheaper estimate wins.
    pub fn reader_shape(
        &self,
        h: Option<HierarchyId>,
        user: u32,
        records: i64,
        page: i64,
    ) -> ReaderShape {
        let mut shape = ReaderShape::default();
        if let Some(tree) = h.and_then(|h| self.acl.hierarchy(h).ok()) {
            shape.owner_path = materialised_path(tree, user);
            let subtree = tree.subtree_size(user).unwrap_or(1);
            shape.walk_in_order =
                walk_is_cheaper(subtree, tree.len(), records, page) && !self.planner_picks_shape;
        }
        shape
    }

    /// The principals whose grants reach `user` (`user` itself, their groups, their units and
    /// the units above).
    pub fn grantee_principals(&self, user: u32) -> Vec<Principal> {
        self.acl.grantee_principals(user)
    }
}

/// Whether walking `records` in order costs less than collecting a subtree's, for a reader
/// with `subtree` people (themselves included) of `people`, to fill `page` rows: collecting
/// reads about `subtree × records ÷ people` rows, walking tests about
/// `page × people ÷ subtree` (two index lookups each).
pub fn walk_is_cheaper(subtree: u32, people: usize, records: i64, page: i64) -> bool {
    let people = people.max(1) as f64;
    let subtree = f64::from(subtree.max(1));
    let collect = subtree * records.max(0) as f64 / people;
    let walk = 2.0 * page.max(1) as f64 * people / subtree;
    walk < collect
}

/// A reader's place under an owner rule, and the query shape for them (see
/// [`AuthzView::reader_shape`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderShape {
    /// The reader's materialised path in the hierarchy; `None` outside it.
    pub owner_path: Option<Vec<u8>>,
    /// Walk the records in order instead of collecting the subtree's.
    pub walk_in_order: bool,
}

/// The name `map` holds `value` under (a scan: names are looked up the other way round).
fn name_of<V: PartialEq + Copy>(map: &HashMap<String, V>, value: V) -> Option<&str> {
    map.iter()
        .find_map(|(name, &v)| (v == value).then_some(name.as_str()))
}

/// An IT role by name, or a refusal listing the roles there are.
pub fn it_role(p: &Permissions, name: &str) -> Result<RoleId, Error> {
    p.role(name).ok_or_else(|| {
        let known: Vec<&str> = p.roles().iter().map(|r| r.name.as_str()).collect();
        Error::invalid(
            "role",
            format!("no IT role `{name}` (roles: {})", known.join(", ")),
        )
    })
}

/// An environment by name, or a refusal listing the environments there are.
pub fn it_env(p: &Permissions, name: &str) -> Result<EnvId, Error> {
    p.environment(name).ok_or_else(|| {
        Error::invalid(
            "environment",
            format!(
                "no environment `{name}` (environments: {})",
                p.environments().join(", ")
            ),
        )
    })
}

/// A stored override scope.
fn it_scope(scope: &str, num: u32) -> Result<Scope, Error> {
    match scope {
        "module" => Ok(Scope::Module(ModuleId(num))),
        "application" => Ok(Scope::Application(AppId(num))),
        other => Err(Error::Internal(format!("stored override scope {other:?}"))),
    }
}

/// An error of the index, which holds only what the tables allowed: a bug or a damaged store.
/// An inconsistency of the index (a number it cannot resolve), as an internal error.
pub fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("authorization index: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn applied_changes_are_found_by_name_and_number() {
        let mut v = AuthzView::default();
        let user = UserId::parse("0190f5d2-6b3a-7c4e-8a1b-2c3d4e5f6a7b", "user").unwrap();
        let changes = [
            Change::UserNum {
                user: user.to_string(),
                num: 4,
            },
            Change::Group {
                num: 1,
                name: "sales".into(),
            },
            Change::Hierarchy {
                num: 1,
                name: "org".into(),
                kind: "units".into(),
            },
            Change::Node {
                hierarchy: 1,
                node: 7,
                key: "north".into(),
                parent: None,
            },
        ];
        for c in &changes {
            v.apply(c).unwrap();
        }
        assert_eq!(v.user_num(user), Some(4));
        assert_eq!(v.user_by_num(4), Some(user));
        assert_eq!(v.group_num("sales"), Some(1));
        let (h, kind) = v.hierarchy("org").unwrap();
        assert_eq!(kind, HierarchyKind::Units);
        assert_eq!(v.node_num(h, "north"), Some(7));
        let node = PrincipalRef::Node {
            hierarchy: "org".into(),
            node: "north".into(),
        };
        assert_eq!(v.describe(v.principal(&node).unwrap()), "node:org/north");
        v.apply(&Change::UserDeleted {
            user: user.to_string(),
        })
        .unwrap();
        assert_eq!((v.user_num(user), v.user_by_num(4)), (None, None));
    }
}
