//! Authorization data: groups, hierarchies, ACL entities, records, grants, applications and
//! their roles, and the one change path that keeps every node's in-memory index current.
//!
//! # The change path
//! [`Store::authz_write`] runs a batch of [`AuthzOp`]s in one transaction that
//! 1. takes the next revision (`UPDATE authz_revision … RETURNING`; on PostgreSQL the row lock
//!    serialises authorization writers, so revisions commit in order),
//! 2. validates and applies each operation to the tables,
//! 3. appends the resulting [`Change`]s to `authz_changes` under that revision, and
//! 4. appends one audit event per operation.
//!
//! Every node holds an [`AuthzView`] and applies `authz_changes` in revision order
//! ([`Store::authz_changes_after`], [`AuthzView::apply`]); [`Store::authz_load`] rebuilds a
//! view from the tables. The revision is the token handed back to writers.

use std::collections::HashMap;

use rampart_authz::acl::{
    Acl, Actions, EntityId, EntityRule, HierarchyId, HierarchyKind, Principal, PrincipalKind,
};
use rampart_authz::it::{
    AppId, EnvId, ItUserId, Level, ModuleId, Permissions, RoleId, Scope, TeamId,
};
use rampart_authz::roles::{AppNum, RoleNum, Roles};
use rampart_core::{AuditContext, AuditEvent, Error, Outcome, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{db, to_millis};
use crate::Store;

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
    fn describe(&self) -> String {
        match self {
            PrincipalRef::User(u) => format!("user:{u}"),
            PrincipalRef::Group(g) => format!("group:{g}"),
            PrincipalRef::Node { hierarchy, node } => format!("node:{hierarchy}/{node}"),
        }
    }
}

/// A node of a hierarchy: a user in a reports-to tree, a key (unit name) in a unit tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRef {
    /// A user (reports-to hierarchies).
    User(UserId),
    /// A unit or branch (unit-like hierarchies).
    Key(String),
}

impl NodeRef {
    fn describe(&self) -> String {
        match self {
            NodeRef::User(u) => u.to_string(),
            NodeRef::Key(k) => k.clone(),
        }
    }
}

/// An environment and its lifecycle policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentDef {
    /// Its name.
    pub name: String,
    /// Whether the author of a version may not deploy it here.
    pub separation_of_duties: bool,
    /// Whether deployments here wait for a second approver.
    pub second_approver: bool,
}

/// One authorization change, as requested (by names).
#[derive(Debug, Clone, PartialEq)]
pub enum AuthzOp {
    /// Create a group.
    CreateGroup {
        /// Unique name.
        name: String,
        /// Free text.
        description: Option<String>,
    },
    /// Delete a group, its memberships and every grant to it.
    DeleteGroup {
        /// Group name.
        name: String,
    },
    /// Put a user in a group.
    AddGroupMember {
        /// Group name.
        group: String,
        /// The user.
        user: UserId,
    },
    /// Take a user out of a group.
    RemoveGroupMember {
        /// Group name.
        group: String,
        /// The user.
        user: UserId,
    },
    /// Create a hierarchy.
    CreateHierarchy {
        /// Unique name.
        name: String,
        /// What its nodes are.
        kind: HierarchyKind,
    },
    /// Delete a hierarchy with its nodes and seats. Refused (409) while an entity's owner
    /// rule or a grant names it: change those first.
    DeleteHierarchy {
        /// Name.
        name: String,
    },
    /// Place a node under a parent (or make it a root), creating nodes as needed; moving a
    /// node moves its whole subtree.
    SetParent {
        /// Hierarchy name.
        hierarchy: String,
        /// The node.
        node: NodeRef,
        /// Its new parent; `None` makes it a root.
        parent: Option<NodeRef>,
    },
    /// Seat a user in a unit-like node (creating the node as a root if new).
    AddUnitMember {
        /// Hierarchy name.
        hierarchy: String,
        /// Unit key.
        unit: String,
        /// The user.
        user: UserId,
    },
    /// Remove a user from a unit-like node.
    RemoveUnitMember {
        /// Hierarchy name.
        hierarchy: String,
        /// Unit key.
        unit: String,
        /// The user.
        user: UserId,
    },
    /// Create or change an entity's ACL rule.
    PutEntity {
        /// Entity name.
        name: String,
        /// The rule; `owner` names a reports-to hierarchy.
        public: Actions,
        /// Reports-to hierarchy for the owner rule.
        owner_hierarchy: Option<String>,
        /// Whether explicit grants apply.
        grants: bool,
    },
    /// Create or update records (key and owner).
    PutRecords {
        /// Entity name.
        entity: String,
        /// `(record key, owner)`.
        records: Vec<(String, Option<UserId>)>,
    },
    /// Delete a record and its grants.
    DeleteRecord {
        /// Entity name.
        entity: String,
        /// Record key.
        key: String,
    },
    /// Grant actions on a record; refused if the principal already has a grant there.
    AddGrant {
        /// Entity name.
        entity: String,
        /// Record key.
        record: String,
        /// Grantee.
        principal: PrincipalRef,
        /// What may be done.
        actions: Actions,
    },
    /// Remove a principal's grant on a record.
    RemoveGrant {
        /// Entity name.
        entity: String,
        /// Record key.
        record: String,
        /// Grantee.
        principal: PrincipalRef,
    },
    /// Create an application (for its roles).
    CreateApplication {
        /// Unique name.
        name: String,
        /// Free text.
        description: Option<String>,
    },
    /// Declare a role in an application.
    CreateRole {
        /// Application name.
        app: String,
        /// Role name, unique in the application.
        name: String,
        /// Free text.
        description: Option<String>,
    },
    /// Delete a role and its grants.
    DeleteRole {
        /// Application name.
        app: String,
        /// Role name.
        name: String,
    },
    /// Grant a role to a user or group, optionally until a time.
    GrantRole {
        /// Application name.
        app: String,
        /// Role name.
        role: String,
        /// A user or group.
        principal: PrincipalRef,
        /// When the grant ends.
        until: Option<OffsetDateTime>,
    },
    /// Revoke a role grant.
    RevokeRole {
        /// Application name.
        app: String,
        /// Role name.
        role: String,
        /// A user or group.
        principal: PrincipalRef,
    },
    /// Set (or clear) an IT user's default IT role.
    SetItRole {
        /// The IT user.
        user: UserId,
        /// Role name; `None` removes it.
        role: Option<String>,
    },
    /// Replace the environments: their promotion order (the first is where modules are
    /// authored) and lifecycle policies. An environment left out is removed with its role
    /// levels and overrides, refused while modules run there or deployments wait for it.
    SetEnvironments {
        /// Every environment, in promotion order.
        environments: Vec<EnvironmentDef>,
    },
    /// Set an IT role's level in one environment.
    SetRoleLevel {
        /// Role name.
        role: String,
        /// Environment name.
        environment: String,
        /// The level.
        level: Level,
    },
    /// Create a team.
    CreateTeam {
        /// Unique name.
        name: String,
    },
    /// Delete a team with its memberships. Refused (409) while applications belong to it.
    DeleteTeam {
        /// Name.
        name: String,
    },
    /// Put an IT user in a team with a role (on all the team's applications), or take
    /// them out (`None`).
    SetTeamMember {
        /// Team name.
        team: String,
        /// The IT user.
        user: UserId,
        /// Role name.
        role: Option<String>,
    },
    /// Give an application to a team (or to none).
    SetApplicationTeam {
        /// Application name.
        app: String,
        /// Team name.
        team: Option<String>,
    },
    /// Register a module of an application. Refused when the name is reserved for another
    /// application; a reservation for this one is consumed.
    RegisterModule {
        /// Unique module name.
        name: String,
        /// Application name.
        app: String,
    },
    /// Reserve a module name, not registered yet, for an application: only that
    /// application may then register it.
    ReserveModuleName {
        /// The module name.
        name: String,
        /// Application name.
        app: String,
    },
    /// Give a module name to another application: a reservation moves, and a registered
    /// module moves with its versions, deployments and module overrides.
    TransferModuleName {
        /// The module name.
        name: String,
        /// The application receiving it.
        app: String,
    },
    /// Release a reserved name, so any application may register it. A registered module's
    /// name is not released (transfer it).
    ReleaseModuleName {
        /// The module name.
        name: String,
    },
    /// Set (or remove, with `None`) a user's override on a module or application, for one
    /// environment or all.
    SetOverride {
        /// The IT user.
        user: UserId,
        /// Module or application.
        scope: ItScope,
        /// One environment, or all with `None`.
        environment: Option<String>,
        /// The level; `None` removes the override.
        level: Option<Level>,
    },
}

/// Where an IT override applies, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItScope {
    /// A module.
    Module(String),
    /// An application (all its modules).
    Application(String),
}

/// One applied change, as every node replays it (by numbers). Stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A user got a number.
    UserNum {
        /// User id.
        user: String,
        /// Number.
        num: u32,
    },
    /// A group was created.
    Group {
        /// Number.
        num: u32,
        /// Name.
        name: String,
    },
    /// A group was deleted (with memberships and grants).
    GroupDeleted {
        /// Number.
        num: u32,
    },
    /// A membership was added or removed.
    GroupMember {
        /// Group number.
        group: u32,
        /// User number.
        user: u32,
        /// Added (true) or removed.
        member: bool,
    },
    /// A hierarchy was created.
    Hierarchy {
        /// Number.
        num: u16,
        /// Name.
        name: String,
        /// `reports_to` or `units`.
        kind: String,
    },
    /// A hierarchy was deleted (its nodes and seats with it).
    HierarchyDeleted {
        /// Its number.
        num: u16,
    },
    /// A node was created or moved.
    Node {
        /// Hierarchy.
        hierarchy: u16,
        /// Node number.
        node: u32,
        /// Node key.
        key: String,
        /// New parent.
        parent: Option<u32>,
    },
    /// A unit seat was added or removed.
    UnitMember {
        /// Hierarchy.
        hierarchy: u16,
        /// Node.
        node: u32,
        /// User number.
        user: u32,
        /// Added (true) or removed.
        member: bool,
    },
    /// An entity rule was set.
    Entity {
        /// Number.
        num: u32,
        /// Name.
        name: String,
        /// Public action bits.
        public: u8,
        /// Owner hierarchy.
        owner: Option<u16>,
        /// Grants apply.
        grants: bool,
    },
    /// Records were added (positive) or removed (negative): the planner's row estimate.
    Records {
        /// Entity.
        entity: u32,
        /// Change in the number of records.
        delta: i64,
    },
    /// A grant was set (`actions` 0 removes it).
    Grant {
        /// Entity.
        entity: u32,
        /// Record number.
        record: u64,
        /// Raw principal.
        principal: u32,
        /// Action bits.
        actions: u8,
    },
    /// An application was created.
    App {
        /// Number.
        num: u32,
        /// Name.
        name: String,
    },
    /// A role was declared.
    Role {
        /// Number.
        num: u32,
        /// Application.
        app: u32,
        /// Name.
        name: String,
    },
    /// A role was deleted.
    RoleDeleted {
        /// Number.
        num: u32,
        /// Application.
        app: u32,
    },
    /// A role grant was set.
    RoleGrant {
        /// Application.
        app: u32,
        /// Role.
        role: u32,
        /// Raw principal.
        principal: u32,
        /// End, UTC milliseconds.
        until: Option<i64>,
    },
    /// A user was deleted: checks for them are refused from now on.
    UserDeleted {
        /// User id.
        user: String,
    },
    /// The tables were repaired (`rampart acl rebuild`): rebuild the index from them.
    Reload,
    /// An IT user's default role was set or cleared.
    ItDefaultRole {
        /// User number.
        user: u32,
        /// Role name.
        role: Option<String>,
    },
    /// An IT role's level in an environment was set.
    ItRoleLevel {
        /// Role name.
        role: String,
        /// Environment name.
        environment: String,
        /// Level name.
        level: String,
    },
    /// A team was created.
    Team {
        /// Number.
        num: u32,
        /// Name.
        name: String,
    },
    /// A team was deleted (its memberships went first, as `TeamMember` changes).
    TeamDeleted {
        /// Number.
        num: u32,
    },
    /// A team membership was set or removed.
    TeamMember {
        /// Team.
        team: u32,
        /// User number.
        user: u32,
        /// Role name; `None` removed.
        role: Option<String>,
    },
    /// An application's owning team was set.
    AppTeam {
        /// Application.
        app: u32,
        /// Team.
        team: Option<u32>,
    },
    /// A module was registered.
    Module {
        /// Number.
        num: u32,
        /// Name.
        name: String,
        /// Application.
        app: u32,
    },
    /// An override was set or removed.
    Override {
        /// User number.
        user: u32,
        /// `module` or `application`.
        scope: String,
        /// Module or application number.
        scope_num: u32,
        /// Environment name; `None` for every environment.
        environment: Option<String>,
        /// Level name; `None` removed.
        level: Option<String>,
    },
    /// A role grant was removed.
    RoleRevoke {
        /// Application.
        app: u32,
        /// Role.
        role: u32,
        /// Raw principal.
        principal: u32,
    },
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

fn it_role(p: &Permissions, name: &str) -> Result<RoleId, Error> {
    p.role(name).ok_or_else(|| {
        let known: Vec<&str> = p.roles().iter().map(|r| r.name.as_str()).collect();
        Error::invalid(
            "role",
            format!("no IT role `{name}` (roles: {})", known.join(", ")),
        )
    })
}

/// The environments of a new installation: production has both policies.
fn default_environments() -> Vec<EnvironmentDef> {
    rampart_authz::it::DEFAULT_ENVIRONMENTS
        .iter()
        .map(|name| EnvironmentDef {
            name: (*name).to_owned(),
            separation_of_duties: *name == "production",
            second_approver: *name == "production",
        })
        .collect()
}

fn it_env(p: &Permissions, name: &str) -> Result<EnvId, Error> {
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

fn it_scope(scope: &str, num: u32) -> Result<Scope, Error> {
    match scope {
        "module" => Ok(Scope::Module(ModuleId(num))),
        "application" => Ok(Scope::Application(AppId(num))),
        other => Err(Error::Internal(format!("stored override scope {other:?}"))),
    }
}

fn kind_name(kind: HierarchyKind) -> &'static str {
    match kind {
        HierarchyKind::ReportsTo => "reports_to",
        HierarchyKind::Units => "units",
    }
}

fn parse_kind(name: &str) -> Result<HierarchyKind, Error> {
    match name {
        "reports_to" => Ok(HierarchyKind::ReportsTo),
        "units" => Ok(HierarchyKind::Units),
        other => Err(Error::Internal(format!("stored hierarchy kind {other:?}"))),
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("authorization index: {e}"))
}

impl AuthzView {
    /// Applies one change; changes must come in revision order.
    pub fn apply(&mut self, change: &Change) -> Result<(), Error> {
        match change {
            Change::UserNum { user, num } => {
                let id = UserId::parse(user, "user")?;
                self.users.insert(id, *num);
                let i = *num as usize;
                if self.user_ids.len() <= i {
                    self.user_ids.resize(i + 1, None);
                }
                self.user_ids[i] = Some(id);
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
        self.groups
            .iter()
            .find_map(|(g, &n)| (n == num).then_some(g.as_str()))
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
        self.teams
            .iter()
            .find_map(|(t, &n)| (n == num).then_some(t.as_str()))
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
        self.modules
            .iter()
            .find_map(|(m, &n)| (n == num).then_some(m.as_str()))
    }

    /// An application's name.
    pub fn app_name(&self, app: AppNum) -> Option<&str> {
        self.apps
            .iter()
            .find_map(|(a, &n)| (n == app).then_some(a.as_str()))
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
        let mut walk_in_order = false;
        let mut owner_path = None;
        if let Some(h) = rule.owner {
            if let Ok(tree) = self.acl.hierarchy(h) {
                owner_path = materialised_path(tree, user);
                let users = tree.len().max(1) as f64;
                let subtree = f64::from(tree.subtree_size(user).unwrap_or(1));
                let collect = subtree * self.record_count(e).max(0) as f64 / users;
                let walk = 2.0 * page.max(1) as f64 * users / subtree;
                walk_in_order = walk < collect && !self.planner_picks_shape;
            }
        }
        Ok(ListFilter {
            entity: e,
            public: rule.public.contains(Actions::READ),
            owner: rule.owner.map(|h| (h, user)),
            grantees: if rule.grants {
                self.acl.grantee_principals(user)
            } else {
                Vec::new()
            },
            walk_in_order,
            owner_path,
        })
    }
}

/// `node`'s path as the database materialises it: its ancestors' segments from the root down.
fn materialised_path(tree: &rampart_authz::hierarchy::Hierarchy, node: u32) -> Option<Vec<u8>> {
    let mut chain = vec![node];
    let mut at = node;
    while let Some(parent) = tree.parent(at).ok()? {
        if chain.len() > tree.len() {
            return None; // a cycle: cannot happen in an index, let the database answer
        }
        chain.push(parent);
        at = parent;
    }
    Some(chain.iter().rev().flat_map(|&n| segment(n)).collect())
}

/// Narrows a stored number to the index's 32 bits.
fn n32(v: i64, what: &str) -> Result<u32, Error> {
    u32::try_from(v).map_err(|_| Error::Internal(format!("stored {what} number {v} out of range")))
}

fn n16(v: i64, what: &str) -> Result<u16, Error> {
    u16::try_from(v).map_err(|_| Error::Internal(format!("stored {what} number {v} out of range")))
}

/// Fixed-width path segment: the number in 4 big-endian bytes, so byte order is numeric order.
pub(crate) fn segment(num: u32) -> [u8; 4] {
    num.to_be_bytes()
}

/// A bound above every path strictly below `path`: a child's segment is at most
/// `MAX_NODE`, so `path` followed by four 0xff bytes sorts after all of them.
pub(crate) fn path_end(path: &[u8]) -> Vec<u8> {
    const _: () = assert!(rampart_authz::acl::MAX_NODE < u32::MAX);
    let mut end = path.to_vec();
    end.extend_from_slice(&[0xff; 4]);
    end
}

fn authz_event(action: &'static str, target: String, details: serde_json::Value) -> AuditEvent {
    AuditEvent {
        action,
        target: Some(target),
        outcome: Outcome::Success,
        details: details.to_string(),
    }
}

/// A page of records a user may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// The record's key.
    pub key: String,
    /// Its owner, if any.
    pub owner: Option<UserId>,
}

/// How to ask the database for the records a user may read; chosen by the caller from the
/// in-memory index (which knows subtree sizes) — see [`Store::readable_records`].
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

/// Takes the next authorization revision inside the transaction. On PostgreSQL the row
/// lock serialises authorization writers until commit, so revisions commit in order.
macro_rules! next_revision {
    ($tx:expr) => {{
        let revision: i64 = sqlx::query_scalar(
            "UPDATE authz_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        )
        .fetch_one(&mut *$tx)
        .await
        .map_err($crate::backend::db)?;
        revision
    }};
}

/// Appends `$changes` under `$revision` to the change log every node replays.
macro_rules! record_changes {
    ($tx:expr, $revision:expr, $at:expr, $changes:expr) => {{
        let text = serde_json::to_string($changes)
            .map_err(|e| Error::Internal(format!("encoding changes: {e}")))?;
        sqlx::query(
            "INSERT INTO authz_changes (revision, occurred_at, change) VALUES ($1, $2, $3)",
        )
        .bind($revision)
        .bind($at)
        .bind(text)
        .execute(&mut *$tx)
        .await
        .map_err($crate::backend::db)?;
    }};
}

/// Inside the transaction deleting user `$id`: if authorization knows the user, records a
/// revision whose change tells every node to refuse checks for them.
macro_rules! authz_user_deleted {
    ($tx:expr, $id:expr, $at:expr) => {{
        let known: Option<i64> =
            sqlx::query_scalar("SELECT num FROM authz_users WHERE user_id = $1")
                .bind($id.to_string())
                .fetch_optional(&mut *$tx)
                .await
                .map_err($crate::backend::db)?;
        if known.is_some() {
            let revision = next_revision!($tx);
            let change = [$crate::authz::Change::UserDeleted {
                user: $id.to_string(),
            }];
            record_changes!($tx, revision, $at, &change);
        }
    }};
}

/// Runs `sqlx::query` built from `$sql`, binding `$binds` in order, with `$method` on `$conn`.
macro_rules! bound {
    ($sql:expr, [$($b:expr),* $(,)?]) => {{
        let q = sqlx::query($sql);
        $(let q = q.bind($b);)*
        q
    }};
}

/// Binds a list-filter query's values in order.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(t) => q.bind(t.as_str()),
                Bind::Bytes(b) => q.bind(b.as_slice()),
            };
        }
        q
    }};
}

/// Takes the next number from counter `$name` inside the transaction.
/// The environment names in order, read once per batch into `$cache`; evaluates to a copy.
macro_rules! environments_tx {
    ($tx:ident, $cache:ident) => {{
        if $cache.is_none() {
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM it_environments ORDER BY position")
                    .fetch_all(&mut *$tx)
                    .await
                    .map_err(db)?;
            $cache = Some(names);
        }
        $cache.clone().unwrap_or_default()
    }};
}

/// Replaces the environments (see [`AuthzOp::SetEnvironments`]); evaluates to the names
/// removed.
macro_rules! set_environments {
    ($tx:ident, $defs:expr, $before:expr) => {{
        let defs: &[EnvironmentDef] = $defs;
        let before: &[String] = $before;
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
            let running: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM deployed WHERE environment = $1")
                    .bind(gone)
                    .fetch_one(&mut *$tx)
                    .await
                    .map_err(db)?;
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM deployment_requests WHERE environment = $1 AND status = 'pending'",
            )
            .bind(gone)
            .fetch_one(&mut *$tx)
            .await
            .map_err(db)?;
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
                sqlx::query(sql)
                    .bind(gone)
                    .execute(&mut *$tx)
                    .await
                    .map_err(db)?;
            }
        }
        sqlx::query("DELETE FROM it_environments")
            .execute(&mut *$tx)
            .await
            .map_err(db)?;
        for (i, d) in defs.iter().enumerate() {
            sqlx::query(
                "INSERT INTO it_environments (name, position, separation_of_duties, second_approver) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&d.name)
            .bind(i as i64)
            .bind(d.separation_of_duties)
            .bind(d.second_approver)
            .execute(&mut *$tx)
            .await
            .map_err(db)?;
        }
        removed
    }};
}

macro_rules! next_num {
    ($tx:expr, $name:expr) => {{
        let v: i64 = sqlx::query_scalar(
            "INSERT INTO authz_counters (name, next) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET next = authz_counters.next + 1 \
             RETURNING next - 1",
        )
        .bind($name)
        .fetch_one(&mut *$tx)
        .await
        .map_err(db)?;
        v
    }};
}

/// The user's number inside the transaction, assigning one (and recording the change) if new.
macro_rules! user_num_tx {
    ($tx:expr, $user:expr, $changes:expr) => {{
        let user: UserId = $user;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT num FROM authz_users WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db)?;
        match found {
            Some(n) => n32(n, "user")?,
            None => {
                let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1")
                    .bind(user.to_string())
                    .fetch_one(&mut *$tx)
                    .await
                    .map_err(db)?;
                if exists == 0 {
                    return Err(Error::invalid("user", format!("no user with id {user}")));
                }
                let n = next_num!($tx, "user");
                if n >= i64::from(rampart_authz::acl::NOBODY) {
                    return Err(Error::Unavailable(
                        "no user number left for authorization".into(),
                    ));
                }
                sqlx::query("INSERT INTO authz_users (num, user_id) VALUES ($1, $2)")
                    .bind(n)
                    .bind(user.to_string())
                    .execute(&mut *$tx)
                    .await
                    .map_err(db)?;
                let num = n32(n, "user")?;
                $changes.push(Change::UserNum {
                    user: user.to_string(),
                    num,
                });
                // An IT user's default role, which the index learns with the number.
                let role: Option<String> = sqlx::query_scalar(
                    "SELECT role FROM it_role_assignments WHERE user_id = $1 ORDER BY role LIMIT 1",
                )
                .bind(user.to_string())
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db)?;
                if role.is_some() {
                    $changes.push(Change::ItDefaultRole { user: num, role });
                }
                num
            }
        }
    }};
}

/// A named row's number inside the transaction, or a clear error naming what is missing.
macro_rules! num_by_name {
    ($tx:expr, $sql:expr, $name:expr, $what:expr) => {{
        let found: Option<i64> = sqlx::query_scalar($sql)
            .bind($name)
            .fetch_optional(&mut *$tx)
            .await
            .map_err(db)?;
        found.ok_or_else(|| Error::invalid($what, format!("no {} named `{}`", $what, $name)))?
    }};
}

/// Hierarchy `(number, kind)` by name inside the transaction.
macro_rules! hierarchy_tx {
    ($tx:expr, $name:expr) => {{
        let row = sqlx::query("SELECT num, kind FROM authz_hierarchies WHERE name = $1")
            .bind($name)
            .fetch_optional(&mut *$tx)
            .await
            .map_err(db)?
            .ok_or_else(|| {
                Error::invalid("hierarchy", format!("no hierarchy named `{}`", $name))
            })?;
        let num: i64 = col!(&row, "num");
        let kind: String = col!(&row, "kind");
        (n16(num, "hierarchy")?, parse_kind(&kind)?)
    }};
}

/// The node's `(number, path)` inside the transaction, creating it as a root if new.
macro_rules! node_tx {
    ($tx:expr, $h:expr, $kind:expr, $node:expr, $changes:expr) => {{
        let h: u16 = $h;
        let (num, key) = match ($kind, $node) {
            (HierarchyKind::ReportsTo, NodeRef::User(u)) => {
                (Some(user_num_tx!($tx, *u, $changes)), u.to_string())
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
        let row = sqlx::query(
            "SELECT n.node_num, p.path FROM authz_nodes n \
             JOIN authz_node_paths p ON p.hierarchy_num = n.hierarchy_num AND p.node_num = n.node_num \
             WHERE n.hierarchy_num = $1 AND n.node_key = $2",
        )
        .bind(i64::from(h))
        .bind(&key)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(db)?;
        match row {
            Some(row) => {
                let n: i64 = col!(&row, "node_num");
                let path: Vec<u8> = col!(&row, "path");
                (n32(n, "node")?, path)
            }
            None => {
                let num = match num {
                    Some(n) => n,
                    None => {
                        let n = n32(next_num!($tx, format!("node:{h}")), "node")?;
                        if n > rampart_authz::acl::MAX_NODE {
                            return Err(Error::invalid("node", "too many units in this hierarchy"));
                        }
                        n
                    }
                };
                let path = segment(num).to_vec();
                bound!(
                    "INSERT INTO authz_nodes (hierarchy_num, node_num, node_key, parent_num) \
                     VALUES ($1, $2, $3, NULL)",
                    [i64::from(h), i64::from(num), &key]
                )
                .execute(&mut *$tx)
                .await
                .map_err(db)?;
                bound!(
                    "INSERT INTO authz_node_paths (hierarchy_num, node_num, path) VALUES ($1, $2, $3)",
                    [i64::from(h), i64::from(num), &path]
                )
                .execute(&mut *$tx)
                .await
                .map_err(db)?;
                $changes.push(Change::Node {
                    hierarchy: h,
                    node: num,
                    key,
                    parent: None,
                });
                (num, path)
            }
        }
    }};
}

/// Resolves a grantee inside the transaction; groups and nodes must exist.
macro_rules! principal_tx {
    ($tx:expr, $p:expr, $changes:expr) => {{
        match $p {
            PrincipalRef::User(u) => Principal::user(user_num_tx!($tx, *u, $changes)),
            PrincipalRef::Group(g) => {
                let n = num_by_name!($tx, "SELECT num FROM authz_groups WHERE name = $1", g, "group");
                Principal::group(n32(n, "group")?)
            }
            PrincipalRef::Node { hierarchy, node } => {
                let (h, kind) = hierarchy_tx!($tx, hierarchy);
                if kind != HierarchyKind::Units {
                    return Err(Error::invalid(
                        "principal",
                        "grants name units or branches, not reports-to nodes: grant to the user instead",
                    ));
                }
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT node_num FROM authz_nodes WHERE hierarchy_num = $1 AND node_key = $2",
                )
                .bind(i64::from(h))
                .bind(node)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db)?;
                let n = found.ok_or_else(|| {
                    Error::invalid("principal", format!("no unit `{node}` in hierarchy `{hierarchy}`"))
                })?;
                Principal::node(HierarchyId(h), n32(n, "node")?)
            }
        }
    }};
}

/// Application number by name inside the transaction.
macro_rules! app_tx {
    ($tx:expr, $name:expr) => {{
        num_by_name!(
            $tx,
            "SELECT num FROM authz_applications WHERE name = $1",
            $name,
            "application"
        )
    }};
}

/// Entity number by name inside the transaction.
macro_rules! entity_tx {
    ($tx:expr, $name:expr) => {{
        n32(
            num_by_name!(
                $tx,
                "SELECT num FROM acl_entities WHERE name = $1",
                $name,
                "entity"
            ),
            "entity",
        )?
    }};
}

/// Record number by key inside the transaction.
macro_rules! record_tx {
    ($tx:expr, $entity:expr, $key:expr) => {{
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT record_num FROM acl_records WHERE entity_num = $1 AND record_key = $2",
        )
        .bind(i64::from($entity))
        .bind($key)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(db)?;
        let n = found.ok_or_else(|| Error::invalid("record", format!("no record `{}`", $key)))?;
        u64::try_from(n).map_err(|_| Error::Internal("negative record number".into()))?
    }};
}

/// `(application, role)` numbers by name inside the transaction.
macro_rules! role_tx {
    ($tx:expr, $app:expr, $role:expr) => {{
        let app = app_tx!($tx, $app);
        let found: Option<i64> =
            sqlx::query_scalar("SELECT num FROM authz_app_roles WHERE app_num = $1 AND name = $2")
                .bind(app)
                .bind($role)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db)?;
        let role = found.ok_or_else(|| {
            Error::invalid(
                "role",
                format!("application `{}` has no role `{}`", $app, $role),
            )
        })?;
        (n32(app, "application")?, n32(role, "role")?)
    }};
}

/// Maps a unique-key violation to a conflict saying what already exists; other errors as
/// [`db`] does.
fn unique(message: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| match db(e) {
        Error::Conflict(_) => Error::Conflict(message()),
        other => other,
    }
}

/// `(num, application name)` of the module registered as `$name`, inside the transaction.
macro_rules! registered_module {
    ($tx:expr, $name:expr) => {{
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT m.num, a.name FROM it_modules m \
             JOIN authz_applications a ON a.num = m.app_num WHERE m.name = $1",
        )
        .bind($name)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(db)?;
        row
    }};
}

/// The application a module name is reserved for, inside the transaction.
macro_rules! reserved_name {
    ($tx:expr, $name:expr) => {{
        let app: Option<String> = sqlx::query_scalar(
            "SELECT a.name FROM module_names r \
             JOIN authz_applications a ON a.num = r.app_num WHERE r.name = $1",
        )
        .bind($name)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(db)?;
        app
    }};
}

/// Why a module name cannot be registered, in the same words whether it is registered
/// already or reserved for another application: neither the owner nor which is said.
fn taken_message(name: &str) -> String {
    format!("the module name `{name}` is taken: registered, or reserved for another application")
}

fn taken(name: &str) -> Error {
    Error::Conflict(taken_message(name))
}

/// A module name as the module format accepts it: 1 to 100 ASCII letters, digits, `-` and
/// `_`, so a reserved name can be published.
fn check_module_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "module names are 1 to 100 ASCII letters, digits, '-' and '_'",
        ))
    }
}

fn check_name(field: &str, name: &str) -> Result<(), Error> {
    rampart_core::Name::parse(field, name).map(drop)
}

impl Store {
    /// The latest committed authorization revision.
    pub async fn authz_revision(&self) -> Result<u64, Error> {
        read!(self, |pool| {
            let r: i64 = sqlx::query_scalar("SELECT revision FROM authz_revision WHERE id = 1")
                .fetch_one(pool)
                .await
                .map_err(db)?;
            Ok(u64::try_from(r).unwrap_or(0))
        })
    }

    /// Changes committed after `revision`, in order, at most `limit` revisions.
    pub async fn authz_changes_after(
        &self,
        revision: u64,
        limit: i64,
    ) -> Result<Vec<(u64, Vec<Change>)>, Error> {
        let after = i64::try_from(revision).unwrap_or(i64::MAX);
        read!(self, |pool| {
            let rows = sqlx::query(
                "SELECT revision, change FROM authz_changes WHERE revision > $1 \
                 ORDER BY revision LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(db)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let rev: i64 = col!(row, "revision");
                let text: String = col!(row, "change");
                let changes: Vec<Change> = serde_json::from_str(&text)
                    .map_err(|e| Error::Internal(format!("stored change {rev}: {e}")))?;
                out.push((u64::try_from(rev).unwrap_or(0), changes));
            }
            Ok(out)
        })
    }

    /// Applies a batch of operations atomically; returns the new revision (the token a
    /// later check may ask to be at least as fresh as). Nothing is written if any fails.
    pub async fn authz_write(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        ops: &[AuthzOp],
    ) -> Result<u64, Error> {
        if ops.is_empty() {
            return Err(Error::invalid("operations", "nothing to do"));
        }
        let at = to_millis(now);
        let revision = write_tx!(self, |tx| {
            let revision = next_revision!(tx);
            let mut changes: Vec<Change> = Vec::new();
            let mut credentials = false;
            // The environments as this batch leaves them (a batch may define one and set
            // its role levels), read only by a batch that names an environment.
            let mut environments: Option<Vec<String>> = None;
            for op in ops {
                // The application the change concerns, for the event's own field.
                let mut application: Option<String> = None;
                let (action, target, details) = match op {
                    AuthzOp::CreateGroup { name, description } => {
                        check_name("name", name)?;
                        let num = next_num!(tx, "group");
                        sqlx::query(
                            "INSERT INTO authz_groups (num, name, description, created_at) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(num)
                        .bind(name)
                        .bind(description)
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| format!("a group named `{name}` already exists")))?;
                        changes.push(Change::Group {
                            num: n32(num, "group")?,
                            name: name.clone(),
                        });
                        ("authz.group.create", format!("group:{name}"), json!({}))
                    }
                    AuthzOp::DeleteGroup { name } => {
                        let num = num_by_name!(
                            tx,
                            "SELECT num FROM authz_groups WHERE name = $1",
                            name,
                            "group"
                        );
                        let p = i64::from(Principal::group(n32(num, "group")?).raw());
                        let grants = sqlx::query(
                            "SELECT entity_num, record_num FROM acl_grants WHERE principal = $1",
                        )
                        .bind(p)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                        for row in &grants {
                            let e: i64 = col!(row, "entity_num");
                            let r: i64 = col!(row, "record_num");
                            changes.push(Change::Grant {
                                entity: n32(e, "entity")?,
                                record: u64::try_from(r).unwrap_or(0),
                                principal: Principal::from_raw(p as u32).raw(),
                                actions: 0,
                            });
                        }
                        for sql in [
                            "DELETE FROM acl_grants WHERE principal = $1",
                            "DELETE FROM authz_role_grants WHERE principal = $1",
                        ] {
                            sqlx::query(sql)
                                .bind(p)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                        }
                        sqlx::query("DELETE FROM authz_groups WHERE num = $1")
                            .bind(num)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        changes.push(Change::GroupDeleted {
                            num: n32(num, "group")?,
                        });
                        (
                            "authz.group.delete",
                            format!("group:{name}"),
                            json!({ "grants_removed": grants.len() }),
                        )
                    }
                    AuthzOp::AddGroupMember { group, user }
                    | AuthzOp::RemoveGroupMember { group, user } => {
                        let add = matches!(op, AuthzOp::AddGroupMember { .. });
                        let g = num_by_name!(
                            tx,
                            "SELECT num FROM authz_groups WHERE name = $1",
                            group,
                            "group"
                        );
                        let u = user_num_tx!(tx, *user, changes);
                        let sql = if add {
                            "INSERT INTO authz_group_members (group_num, user_num) VALUES ($1, $2)"
                        } else {
                            "DELETE FROM authz_group_members WHERE group_num = $1 AND user_num = $2"
                        };
                        let done = sqlx::query(sql)
                            .bind(g)
                            .bind(i64::from(u))
                            .execute(&mut *tx)
                            .await
                            .map_err(unique(|| {
                                format!("user {user} is already a member of `{group}`")
                            }))?;
                        if !add && done.rows_affected() == 0 {
                            return Err(Error::invalid(
                                "user",
                                format!("user {user} is not a member of `{group}`"),
                            ));
                        }
                        changes.push(Change::GroupMember {
                            group: n32(g, "group")?,
                            user: u,
                            member: add,
                        });
                        (
                            if add {
                                "authz.group.member.add"
                            } else {
                                "authz.group.member.remove"
                            },
                            format!("group:{group}"),
                            json!({ "user": user.to_string() }),
                        )
                    }
                    AuthzOp::CreateHierarchy { name, kind } => {
                        check_name("name", name)?;
                        let num = next_num!(tx, "hierarchy");
                        if num > i64::from(rampart_authz::acl::MAX_HIERARCHY) {
                            return Err(Error::invalid("name", "too many hierarchies"));
                        }
                        sqlx::query(
                            "INSERT INTO authz_hierarchies (num, name, kind, created_at) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(num)
                        .bind(name)
                        .bind(kind_name(*kind))
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| {
                            format!("a hierarchy named `{name}` already exists")
                        }))?;
                        changes.push(Change::Hierarchy {
                            num: n16(num, "hierarchy")?,
                            name: name.clone(),
                            kind: kind_name(*kind).into(),
                        });
                        (
                            "authz.hierarchy.create",
                            format!("hierarchy:{name}"),
                            json!({ "kind": kind_name(*kind) }),
                        )
                    }
                    AuthzOp::DeleteHierarchy { name } => {
                        let (h, _) = hierarchy_tx!(tx, name);
                        let entities: Vec<String> = sqlx::query_scalar(
                            "SELECT name FROM acl_entities WHERE owner_hierarchy = $1 ORDER BY name",
                        )
                        .bind(i64::from(h))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                        if !entities.is_empty() {
                            let names: Vec<String> =
                                entities.iter().map(|e| format!("`{e}`")).collect();
                            return Err(Error::Conflict(format!(
                                "hierarchy `{name}` is the owner hierarchy of {}: change their rules first",
                                names.join(", ")
                            )));
                        }
                        let id = HierarchyId(h);
                        let (lo, hi) = (
                            i64::from(Principal::node(id, 0).raw()),
                            i64::from(Principal::node(id, rampart_authz::acl::MAX_NODE).raw()),
                        );
                        let mut granted: i64 = 0;
                        for sql in [
                            "SELECT COUNT(*) FROM acl_grants WHERE principal BETWEEN $1 AND $2",
                            "SELECT COUNT(*) FROM authz_role_grants WHERE principal BETWEEN $1 AND $2",
                        ] {
                            let n: i64 = sqlx::query_scalar(sql)
                                .bind(lo)
                                .bind(hi)
                                .fetch_one(&mut *tx)
                                .await
                                .map_err(db)?;
                            granted += n;
                        }
                        if granted > 0 {
                            return Err(Error::Conflict(format!(
                                "{granted} grant(s) name nodes of hierarchy `{name}`: remove them first"
                            )));
                        }
                        let h64 = i64::from(h);
                        bound!(
                            "DELETE FROM authz_unit_members WHERE hierarchy_num = $1",
                            [h64]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        let nodes =
                            bound!("DELETE FROM authz_nodes WHERE hierarchy_num = $1", [h64])
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?
                                .rows_affected();
                        bound!("DELETE FROM authz_hierarchies WHERE num = $1", [h64])
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        changes.push(Change::HierarchyDeleted { num: h });
                        (
                            "authz.hierarchy.delete",
                            format!("hierarchy:{name}"),
                            json!({ "nodes_removed": nodes }),
                        )
                    }
                    AuthzOp::SetParent {
                        hierarchy,
                        node,
                        parent,
                    } => {
                        let (h, kind) = hierarchy_tx!(tx, hierarchy);
                        let (num, old_path) = node_tx!(tx, h, kind, node, changes);
                        let (parent_num, new_path) = match parent {
                            Some(p) => {
                                let (pn, ppath) = node_tx!(tx, h, kind, p, changes);
                                if ppath.starts_with(&old_path) {
                                    return Err(Error::Conflict(format!(
                                        "`{}` cannot be placed under `{}` in `{hierarchy}`: that would make a cycle",
                                        node.describe(),
                                        p.describe()
                                    )));
                                }
                                (Some(pn), [&ppath[..], &segment(num)].concat())
                            }
                            None => (None, segment(num).to_vec()),
                        };
                        // Re-root the whole subtree's materialised paths in one statement
                        // (SQLite's `||` makes text of two blobs: cast it back).
                        let moved = sqlx::query(match self.kind() {
                            crate::BackendKind::Sqlite => {
                                "UPDATE authz_node_paths SET path = CAST($1 || substr(path, $2) AS BLOB) \
                                 WHERE hierarchy_num = $3 AND path >= $4 AND path < $5"
                            }
                            crate::BackendKind::Postgres => {
                                "UPDATE authz_node_paths SET path = $1 || substr(path, $2) \
                                 WHERE hierarchy_num = $3 AND path >= $4 AND path < $5"
                            }
                        })
                        .bind(&new_path)
                        .bind(i32::try_from(old_path.len() + 1).unwrap_or(i32::MAX))
                        .bind(i64::from(h))
                        .bind(&old_path)
                        .bind(path_end(&old_path))
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?
                        .rows_affected();
                        sqlx::query(
                            "UPDATE authz_nodes SET parent_num = $1 WHERE hierarchy_num = $2 AND node_num = $3",
                        )
                        .bind(parent_num.map(i64::from))
                        .bind(i64::from(h))
                        .bind(i64::from(num))
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        changes.push(Change::Node {
                            hierarchy: h,
                            node: num,
                            key: node.describe(),
                            parent: parent_num,
                        });
                        (
                            "authz.hierarchy.set_parent",
                            format!("hierarchy:{hierarchy}"),
                            json!({
                                "node": node.describe(),
                                "parent": parent.as_ref().map(NodeRef::describe),
                                "subtree_size": moved,
                            }),
                        )
                    }
                    AuthzOp::AddUnitMember {
                        hierarchy,
                        unit,
                        user,
                    }
                    | AuthzOp::RemoveUnitMember {
                        hierarchy,
                        unit,
                        user,
                    } => {
                        let add = matches!(op, AuthzOp::AddUnitMember { .. });
                        let (h, kind) = hierarchy_tx!(tx, hierarchy);
                        if kind != HierarchyKind::Units {
                            return Err(Error::invalid(
                                "hierarchy",
                                format!("`{hierarchy}` is a reports-to hierarchy: users are its nodes, set their parent instead"),
                            ));
                        }
                        let (node, _) = node_tx!(tx, h, kind, &NodeRef::Key(unit.clone()), changes);
                        let u = user_num_tx!(tx, *user, changes);
                        let sql = if add {
                            "INSERT INTO authz_unit_members (hierarchy_num, node_num, user_num) VALUES ($1, $2, $3)"
                        } else {
                            "DELETE FROM authz_unit_members WHERE hierarchy_num = $1 AND node_num = $2 AND user_num = $3"
                        };
                        let done = bound!(sql, [i64::from(h), i64::from(node), i64::from(u)])
                            .execute(&mut *tx)
                            .await
                            .map_err(unique(|| format!("user {user} already sits in `{unit}`")))?;
                        if !add && done.rows_affected() == 0 {
                            return Err(Error::invalid(
                                "user",
                                format!("user {user} does not sit in `{unit}`"),
                            ));
                        }
                        changes.push(Change::UnitMember {
                            hierarchy: h,
                            node,
                            user: u,
                            member: add,
                        });
                        (
                            if add {
                                "authz.unit.member.add"
                            } else {
                                "authz.unit.member.remove"
                            },
                            format!("hierarchy:{hierarchy}/{unit}"),
                            json!({ "user": user.to_string() }),
                        )
                    }
                    AuthzOp::PutEntity {
                        name,
                        public,
                        owner_hierarchy,
                        grants,
                    } => {
                        check_name("name", name)?;
                        let owner = match owner_hierarchy {
                            Some(hname) => {
                                let (h, kind) = hierarchy_tx!(tx, hname);
                                if kind != HierarchyKind::ReportsTo {
                                    return Err(Error::invalid(
                                        "owner_hierarchy",
                                        format!("`{hname}` is a unit hierarchy; the owner rule needs a reports-to hierarchy"),
                                    ));
                                }
                                Some(h)
                            }
                            None => None,
                        };
                        let existing: Option<i64> =
                            sqlx::query_scalar("SELECT num FROM acl_entities WHERE name = $1")
                                .bind(name)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db)?;
                        let num = match existing {
                            Some(n) => {
                                bound!(
                                    "UPDATE acl_entities SET public_actions = $1, owner_hierarchy = $2, grants = $3 WHERE num = $4",
                                    [i64::from(public.bits()), owner.map(i64::from), *grants, n]
                                )
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                                n
                            }
                            None => {
                                let n = next_num!(tx, "entity");
                                bound!(
                                    "INSERT INTO acl_entities (num, name, public_actions, owner_hierarchy, grants, created_at) \
                                     VALUES ($1, $2, $3, $4, $5, $6)",
                                    [n, name, i64::from(public.bits()), owner.map(i64::from), *grants, at]
                                )
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                                n
                            }
                        };
                        changes.push(Change::Entity {
                            num: n32(num, "entity")?,
                            name: name.clone(),
                            public: public.bits(),
                            owner,
                            grants: *grants,
                        });
                        (
                            "authz.entity.put",
                            format!("entity:{name}"),
                            json!({
                                "public": public.names(),
                                "owner_hierarchy": owner_hierarchy,
                                "grants": grants,
                            }),
                        )
                    }
                    AuthzOp::PutRecords { entity, records } => {
                        let e = entity_tx!(tx, entity);
                        let mut added = 0i64;
                        for (key, owner) in records {
                            rampart_core::Key::parse("key", key)?;
                            let owner_num = match owner {
                                Some(u) => Some(i64::from(user_num_tx!(tx, *u, changes))),
                                None => None,
                            };
                            let updated = bound!(
                                "UPDATE acl_records SET owner_num = $1 WHERE entity_num = $2 AND record_key = $3",
                                [owner_num, i64::from(e), key]
                            )
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?
                            .rows_affected();
                            if updated == 0 {
                                let n = next_num!(tx, format!("record:{e}"));
                                bound!(
                                    "INSERT INTO acl_records (entity_num, record_num, record_key, owner_num) VALUES ($1, $2, $3, $4)",
                                    [i64::from(e), n, key, owner_num]
                                )
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                                added += 1;
                            }
                        }
                        changes.push(Change::Records {
                            entity: e,
                            delta: added,
                        });
                        (
                            "authz.records.put",
                            format!("entity:{entity}"),
                            json!({ "records": records.len(), "created": added }),
                        )
                    }
                    AuthzOp::DeleteRecord { entity, key } => {
                        let e = entity_tx!(tx, entity);
                        let r = record_tx!(tx, e, key);
                        let grants: Vec<i64> = sqlx::query_scalar(
                            "SELECT principal FROM acl_grants WHERE entity_num = $1 AND record_num = $2",
                        )
                        .bind(i64::from(e))
                        .bind(r as i64)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                        for p in &grants {
                            changes.push(Change::Grant {
                                entity: e,
                                record: r,
                                principal: n32(*p, "principal")?,
                                actions: 0,
                            });
                        }
                        for sql in [
                            "DELETE FROM acl_grants WHERE entity_num = $1 AND record_num = $2",
                            "DELETE FROM acl_records WHERE entity_num = $1 AND record_num = $2",
                        ] {
                            bound!(sql, [i64::from(e), r as i64])
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                        }
                        changes.push(Change::Records {
                            entity: e,
                            delta: -1,
                        });
                        (
                            "authz.record.delete",
                            format!("entity:{entity}/{key}"),
                            json!({}),
                        )
                    }
                    AuthzOp::AddGrant {
                        entity,
                        record,
                        principal,
                        actions,
                    } => {
                        if actions.is_empty() {
                            return Err(Error::invalid(
                                "actions",
                                "grant at least one of read, write",
                            ));
                        }
                        let e = entity_tx!(tx, entity);
                        let r = record_tx!(tx, e, record);
                        let p = principal_tx!(tx, principal, changes);
                        bound!(
                            "INSERT INTO acl_grants (entity_num, record_num, principal, actions, record_key) VALUES ($1, $2, $3, $4, $5)",
                            [i64::from(e), r as i64, i64::from(p.raw()), i64::from(actions.bits()), record]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| format!(
                                "{} already has a grant on `{record}`; remove it first to change it",
                                principal.describe()
                            )))?;
                        changes.push(Change::Grant {
                            entity: e,
                            record: r,
                            principal: p.raw(),
                            actions: actions.bits(),
                        });
                        (
                            "authz.grant.add",
                            format!("entity:{entity}/{record}"),
                            json!({ "principal": principal.describe(), "actions": actions.names() }),
                        )
                    }
                    AuthzOp::RemoveGrant {
                        entity,
                        record,
                        principal,
                    } => {
                        let e = entity_tx!(tx, entity);
                        let r = record_tx!(tx, e, record);
                        let p = principal_tx!(tx, principal, changes);
                        let done = bound!(
                            "DELETE FROM acl_grants WHERE entity_num = $1 AND record_num = $2 AND principal = $3",
                            [i64::from(e), r as i64, i64::from(p.raw())]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if done.rows_affected() == 0 {
                            return Err(Error::invalid(
                                "principal",
                                format!("{} has no grant on `{record}`", principal.describe()),
                            ));
                        }
                        changes.push(Change::Grant {
                            entity: e,
                            record: r,
                            principal: p.raw(),
                            actions: 0,
                        });
                        (
                            "authz.grant.remove",
                            format!("entity:{entity}/{record}"),
                            json!({ "principal": principal.describe() }),
                        )
                    }
                    AuthzOp::CreateApplication { name, description } => {
                        check_name("name", name)?;
                        let num = next_num!(tx, "application");
                        bound!(
                            "INSERT INTO authz_applications (num, name, description, created_at) VALUES ($1, $2, $3, $4)",
                            [num, name, description, at]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| format!("an application named `{name}` already exists")))?;
                        changes.push(Change::App {
                            num: n32(num, "application")?,
                            name: name.clone(),
                        });
                        (
                            "authz.application.create",
                            format!("application:{name}"),
                            json!({}),
                        )
                    }
                    AuthzOp::CreateRole {
                        app,
                        name,
                        description,
                    } => {
                        check_name("name", name)?;
                        let a = app_tx!(tx, app);
                        let num = next_num!(tx, "role");
                        bound!(
                            "INSERT INTO authz_app_roles (num, app_num, name, description) VALUES ($1, $2, $3, $4)",
                            [num, a, name, description]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| format!("application `{app}` already has a role `{name}`")))?;
                        changes.push(Change::Role {
                            num: n32(num, "role")?,
                            app: n32(a, "application")?,
                            name: name.clone(),
                        });
                        (
                            "authz.role.create",
                            format!("application:{app}/role:{name}"),
                            json!({}),
                        )
                    }
                    AuthzOp::DeleteRole { app, name } => {
                        let (a, r) = role_tx!(tx, app, name);
                        bound!(
                            "DELETE FROM authz_role_grants WHERE role_num = $1",
                            [i64::from(r)]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        bound!("DELETE FROM authz_app_roles WHERE num = $1", [i64::from(r)])
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        changes.push(Change::RoleDeleted { num: r, app: a });
                        (
                            "authz.role.delete",
                            format!("application:{app}/role:{name}"),
                            json!({}),
                        )
                    }
                    AuthzOp::GrantRole {
                        app,
                        role,
                        principal,
                        until,
                    } => {
                        let (a, r) = role_tx!(tx, app, role);
                        if matches!(principal, PrincipalRef::Node { .. }) {
                            return Err(Error::invalid(
                                "principal",
                                "roles are granted to users and groups",
                            ));
                        }
                        let p = principal_tx!(tx, principal, changes);
                        let until_ms = until.map(to_millis);
                        if until_ms.is_some_and(|u| u <= at) {
                            return Err(Error::invalid(
                                "until",
                                "the end of a grant must be in the future",
                            ));
                        }
                        // Re-granting replaces the end date, as in the index.
                        bound!(
                            "INSERT INTO authz_role_grants (role_num, principal, until, created_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (role_num, principal) DO UPDATE SET until = excluded.until",
                            [i64::from(r), i64::from(p.raw()), until_ms, at]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        changes.push(Change::RoleGrant {
                            app: a,
                            role: r,
                            principal: p.raw(),
                            until: until_ms,
                        });
                        (
                            "authz.role.grant",
                            format!("application:{app}/role:{role}"),
                            json!({ "principal": principal.describe(), "until": until_ms }),
                        )
                    }
                    AuthzOp::RevokeRole {
                        app,
                        role,
                        principal,
                    } => {
                        let (a, r) = role_tx!(tx, app, role);
                        let p = principal_tx!(tx, principal, changes);
                        let done = bound!(
                            "DELETE FROM authz_role_grants WHERE role_num = $1 AND principal = $2",
                            [i64::from(r), i64::from(p.raw())]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if done.rows_affected() == 0 {
                            return Err(Error::invalid(
                                "principal",
                                format!(
                                    "{} does not hold `{role}` in `{app}`",
                                    principal.describe()
                                ),
                            ));
                        }
                        changes.push(Change::RoleRevoke {
                            app: a,
                            role: r,
                            principal: p.raw(),
                        });
                        (
                            "authz.role.revoke",
                            format!("application:{app}/role:{role}"),
                            json!({ "principal": principal.describe() }),
                        )
                    }
                    AuthzOp::SetItRole { user, role } => {
                        let defaults = Permissions::with_defaults();
                        if let Some(r) = role {
                            it_role(&defaults, r)?;
                        }
                        let provider: Option<String> =
                            sqlx::query_scalar("SELECT provider FROM users WHERE id = $1")
                                .bind(user.to_string())
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db)?;
                        if provider.as_deref() != Some("it") {
                            return Err(Error::invalid(
                                "user",
                                format!("{user} is not an IT user"),
                            ));
                        }
                        let num = user_num_tx!(tx, *user, changes);
                        bound!(
                            "DELETE FROM it_role_assignments WHERE user_id = $1",
                            [user.to_string()]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if let Some(r) = role {
                            bound!(
                                "INSERT INTO it_role_assignments (user_id, role, created_at) VALUES ($1, $2, $3)",
                                [user.to_string(), r, at]
                            )
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        credentials = true;
                        changes.push(Change::ItDefaultRole {
                            user: num,
                            role: role.clone(),
                        });
                        (
                            "it.role.assign",
                            format!("user:{user}"),
                            json!({ "role": role }),
                        )
                    }
                    AuthzOp::SetEnvironments { environments: defs } => {
                        let before = environments_tx!(tx, environments);
                        let removed = set_environments!(tx, defs, &before);
                        environments = Some(defs.iter().map(|d| d.name.clone()).collect());
                        changes.push(Change::Reload);
                        (
                            "it.environments.set",
                            "environments".to_owned(),
                            json!({ "environments": defs, "removed": removed }),
                        )
                    }
                    AuthzOp::SetRoleLevel {
                        role,
                        environment,
                        level,
                    } => {
                        let defaults =
                            Permissions::with_environments(environments_tx!(tx, environments));
                        it_role(&defaults, role)?;
                        it_env(&defaults, environment)?;
                        bound!(
                            "INSERT INTO it_role_levels (role, environment, level) VALUES ($1, $2, $3) \
                             ON CONFLICT (role, environment) DO UPDATE SET level = excluded.level",
                            [role, environment, level.as_str()]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        changes.push(Change::ItRoleLevel {
                            role: role.clone(),
                            environment: environment.clone(),
                            level: level.as_str().into(),
                        });
                        (
                            "it.role.level",
                            format!("it-role:{role}"),
                            json!({ "environment": environment, "level": level.as_str() }),
                        )
                    }
                    AuthzOp::CreateTeam { name } => {
                        check_name("name", name)?;
                        let num = next_num!(tx, "team");
                        bound!(
                            "INSERT INTO it_teams (num, name, created_at) VALUES ($1, $2, $3)",
                            [num, name, at]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| format!("a team named `{name}` already exists")))?;
                        changes.push(Change::Team {
                            num: n32(num, "team")?,
                            name: name.clone(),
                        });
                        ("it.team.create", format!("team:{name}"), json!({}))
                    }
                    AuthzOp::DeleteTeam { name } => {
                        let t = num_by_name!(
                            tx,
                            "SELECT num FROM it_teams WHERE name = $1",
                            name,
                            "team"
                        );
                        let apps: Vec<String> = sqlx::query_scalar(
                            "SELECT name FROM authz_applications WHERE team_num = $1 ORDER BY name",
                        )
                        .bind(t)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                        if !apps.is_empty() {
                            let names: Vec<String> =
                                apps.iter().map(|a| format!("`{a}`")).collect();
                            return Err(Error::Conflict(format!(
                                "team `{name}` owns {}: give them to another team first",
                                names.join(", ")
                            )));
                        }
                        let members: Vec<i64> = sqlx::query_scalar(
                            "SELECT user_num FROM it_team_members WHERE team_num = $1 ORDER BY user_num",
                        )
                        .bind(t)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                        for u in &members {
                            changes.push(Change::TeamMember {
                                team: n32(t, "team")?,
                                user: n32(*u, "user")?,
                                role: None,
                            });
                        }
                        bound!("DELETE FROM it_team_members WHERE team_num = $1", [t])
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        bound!("DELETE FROM it_teams WHERE num = $1", [t])
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        changes.push(Change::TeamDeleted {
                            num: n32(t, "team")?,
                        });
                        (
                            "it.team.delete",
                            format!("team:{name}"),
                            json!({ "members_removed": members.len() }),
                        )
                    }
                    AuthzOp::SetTeamMember { team, user, role } => {
                        if let Some(r) = role {
                            it_role(&Permissions::with_defaults(), r)?;
                        }
                        let t = num_by_name!(
                            tx,
                            "SELECT num FROM it_teams WHERE name = $1",
                            team,
                            "team"
                        );
                        let u = user_num_tx!(tx, *user, changes);
                        bound!(
                            "DELETE FROM it_team_members WHERE team_num = $1 AND user_num = $2",
                            [t, i64::from(u)]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if let Some(r) = role {
                            bound!(
                                "INSERT INTO it_team_members (team_num, user_num, role) VALUES ($1, $2, $3)",
                                [t, i64::from(u), r]
                            )
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        changes.push(Change::TeamMember {
                            team: n32(t, "team")?,
                            user: u,
                            role: role.clone(),
                        });
                        (
                            "it.team.member",
                            format!("team:{team}"),
                            json!({ "user": user.to_string(), "role": role }),
                        )
                    }
                    AuthzOp::SetApplicationTeam { app, team } => {
                        let a = app_tx!(tx, app);
                        let t = match team {
                            Some(t) => Some(num_by_name!(
                                tx,
                                "SELECT num FROM it_teams WHERE name = $1",
                                t,
                                "team"
                            )),
                            None => None,
                        };
                        bound!(
                            "UPDATE authz_applications SET team_num = $1 WHERE num = $2",
                            [t, a]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        changes.push(Change::AppTeam {
                            app: n32(a, "application")?,
                            team: t.map(|t| n32(t, "team")).transpose()?,
                        });
                        (
                            "it.application.team",
                            format!("application:{app}"),
                            json!({ "team": team }),
                        )
                    }
                    AuthzOp::RegisterModule { name, app } => {
                        check_name("name", name)?;
                        let a = app_tx!(tx, app);
                        let reserved: Option<i64> =
                            sqlx::query_scalar("SELECT app_num FROM module_names WHERE name = $1")
                                .bind(name)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db)?;
                        match reserved {
                            Some(r) if r != a => return Err(taken(name)),
                            Some(_) => {
                                sqlx::query("DELETE FROM module_names WHERE name = $1")
                                    .bind(name)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(db)?;
                            }
                            None => {}
                        }
                        application = Some(app.clone());
                        let num = next_num!(tx, "module");
                        bound!(
                            "INSERT INTO it_modules (num, name, app_num, created_at) VALUES ($1, $2, $3, $4)",
                            [num, name, a, at]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| taken_message(name)))?;
                        changes.push(Change::Module {
                            num: n32(num, "module")?,
                            name: name.clone(),
                            app: n32(a, "application")?,
                        });
                        (
                            "it.module.register",
                            format!("module:{name}"),
                            json!({ "application": app, "reserved": reserved.is_some() }),
                        )
                    }
                    AuthzOp::ReserveModuleName { name, app } => {
                        check_module_name(name)?;
                        let a = app_tx!(tx, app);
                        if let Some((_, owner)) = registered_module!(tx, name) {
                            return Err(Error::Conflict(format!(
                                "module `{name}` is registered to application `{owner}`; transfer it instead"
                            )));
                        }
                        bound!(
                            "INSERT INTO module_names (name, app_num, reserved_at) VALUES ($1, $2, $3)",
                            [name, a, at]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(unique(|| {
                            format!("the module name `{name}` is reserved already; transfer or release it")
                        }))?;
                        application = Some(app.clone());
                        (
                            "module.name.reserve",
                            format!("module:{name}"),
                            json!({ "application": app }),
                        )
                    }
                    AuthzOp::TransferModuleName { name, app } => {
                        let a = app_tx!(tx, app);
                        let (from, registered) =
                            if let Some((num, owner)) = registered_module!(tx, name) {
                                bound!(
                                    "UPDATE it_modules SET app_num = $1 WHERE num = $2",
                                    [a, num]
                                )
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                                changes.push(Change::Module {
                                    num: n32(num, "module")?,
                                    name: name.clone(),
                                    app: n32(a, "application")?,
                                });
                                (owner, true)
                            } else if let Some(owner) = reserved_name!(tx, name) {
                                bound!(
                                    "UPDATE module_names SET app_num = $1 WHERE name = $2",
                                    [a, name]
                                )
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                                (owner, false)
                            } else {
                                return Err(Error::NotFound {
                                    what: "module name",
                                });
                            };
                        if from == *app {
                            return Err(Error::Conflict(format!(
                                "the module name `{name}` belongs to application `{app}` already"
                            )));
                        }
                        application = Some(app.clone());
                        (
                            "module.name.transfer",
                            format!("module:{name}"),
                            json!({ "from": from, "to": app, "registered": registered }),
                        )
                    }
                    AuthzOp::ReleaseModuleName { name } => {
                        let Some(owner) = reserved_name!(tx, name) else {
                            if let Some((_, owner)) = registered_module!(tx, name) {
                                return Err(Error::Conflict(format!(
                                    "module `{name}` is registered to application `{owner}`: a name in use is transferred, not released"
                                )));
                            }
                            return Err(Error::NotFound {
                                what: "module name",
                            });
                        };
                        sqlx::query("DELETE FROM module_names WHERE name = $1")
                            .bind(name)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        application = Some(owner.clone());
                        (
                            "module.name.release",
                            format!("module:{name}"),
                            json!({ "application": owner }),
                        )
                    }
                    AuthzOp::SetOverride {
                        user,
                        scope,
                        environment,
                        level,
                    } => {
                        if let Some(e) = environment {
                            it_env(
                                &Permissions::with_environments(environments_tx!(tx, environments)),
                                e,
                            )?;
                        }
                        let (kind, scope_num, target) = match scope {
                            ItScope::Module(m) => (
                                "module",
                                num_by_name!(
                                    tx,
                                    "SELECT num FROM it_modules WHERE name = $1",
                                    m,
                                    "module"
                                ),
                                format!("module:{m}"),
                            ),
                            ItScope::Application(a) => {
                                ("application", app_tx!(tx, a), format!("application:{a}"))
                            }
                        };
                        let u = user_num_tx!(tx, *user, changes);
                        let env = environment.clone().unwrap_or_else(|| "*".into());
                        let done = bound!(
                            "DELETE FROM it_overrides WHERE user_num = $1 AND scope = $2 AND scope_num = $3 AND environment = $4",
                            [i64::from(u), kind, scope_num, &env]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if let Some(l) = level {
                            bound!(
                                "INSERT INTO it_overrides (user_num, scope, scope_num, environment, level) VALUES ($1, $2, $3, $4, $5)",
                                [i64::from(u), kind, scope_num, &env, l.as_str()]
                            )
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        } else if done.rows_affected() == 0 {
                            return Err(Error::invalid(
                                "level",
                                format!("user {user} has no such override to remove"),
                            ));
                        }
                        changes.push(Change::Override {
                            user: u,
                            scope: kind.into(),
                            scope_num: n32(scope_num, "scope")?,
                            environment: environment.clone(),
                            level: level.map(|l| l.as_str().to_owned()),
                        });
                        (
                            "it.override.set",
                            target,
                            json!({
                                "user": user.to_string(),
                                "application": match scope {
                                    ItScope::Application(a) => Some(a.as_str()),
                                    ItScope::Module(_) => None,
                                },
                                "environment": environment,
                                "level": level.map(Level::as_str),
                            }),
                        )
                    }
                };
                let mut details = details;
                if let Some(obj) = details.as_object_mut() {
                    obj.insert("revision".into(), json!(revision));
                }
                append_event!(
                    tx,
                    ctx,
                    &authz_event(action, target, details),
                    now,
                    application
                );
            }
            record_changes!(tx, revision, at, &changes);
            (revision, credentials)
        });
        let (revision, credentials) = revision;
        if credentials {
            // Cached sessions carry the administrator flag.
            self.credentials_changed();
        }
        Ok(u64::try_from(revision).unwrap_or(0))
    }
}

/// What [`Store::authz_rebuild`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Hierarchies whose paths were recomputed.
    pub hierarchies: usize,
    /// Nodes visited.
    pub nodes: u64,
    /// Materialised paths that were wrong and have been rewritten.
    pub paths_fixed: u64,
    /// Nodes found on a cycle of parent links (made roots).
    pub cycles_broken: u64,
    /// Explicit grants loaded.
    pub grants: u64,
    /// Records counted.
    pub records: u64,
}

/// Progress callback: a phase name and how many items of it are done.
pub type Progress<'a> = &'a mut (dyn FnMut(&'static str, u64) + Send);

/// Runs a read in one consistent snapshot: a read transaction on SQLite, a repeatable-read
/// transaction on PostgreSQL.
macro_rules! snapshot {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.backend {
            $crate::backend::Backend::Sqlite { reader, .. } => {
                let mut $tx = reader.begin().await.map_err(db)?;
                #[allow(clippy::redundant_closure_call)]
                let out = $body;
                $tx.commit().await.map_err(db)?;
                out
            }
            $crate::backend::Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await.map_err(db)?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *$tx)
                    .await
                    .map_err(db)?;
                #[allow(clippy::redundant_closure_call)]
                let out = $body;
                $tx.commit().await.map_err(db)?;
                out
            }
        }
    };
}

impl Store {
    /// Builds a node's whole authorization index from the tables, in one snapshot, at the
    /// revision it returns inside the view. `progress` hears each phase's count.
    pub async fn authz_load(&self, progress: Progress<'_>) -> Result<AuthzView, Error> {
        use futures_util::TryStreamExt as _;
        snapshot!(self, |tx| {
            let mut view = AuthzView {
                planner_picks_shape: self.kind() == crate::BackendKind::Postgres,
                ..AuthzView::default()
            };
            let rev: i64 = sqlx::query_scalar("SELECT revision FROM authz_revision WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            view.revision = u64::try_from(rev).unwrap_or(0);
            let rows = sqlx::query(
                "SELECT name, separation_of_duties, second_approver FROM it_environments \
                 ORDER BY position",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            view.environments = rows
                .iter()
                .map(|row| -> Result<EnvironmentDef, Error> {
                    Ok(EnvironmentDef {
                        name: col!(row, "name"),
                        separation_of_duties: col!(row, "separation_of_duties"),
                        second_approver: col!(row, "second_approver"),
                    })
                })
                .collect::<Result<_, _>>()?;
            view.it = Permissions::with_environments(
                view.environments.iter().map(|e| e.name.clone()).collect(),
            );
            let rows =
                sqlx::query("SELECT num, user_id FROM authz_users WHERE user_id IS NOT NULL")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
            for row in &rows {
                let num: i64 = col!(row, "num");
                let id: String = col!(row, "user_id");
                view.users
                    .insert(UserId::parse(&id, "user_id")?, n32(num, "user")?);
            }
            progress("users", rows.len() as u64);
            let rows = sqlx::query("SELECT num, name, kind FROM authz_hierarchies ORDER BY num")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                let num: i64 = col!(row, "num");
                let name: String = col!(row, "name");
                let kind: String = col!(row, "kind");
                view.apply(&Change::Hierarchy {
                    num: n16(num, "hierarchy")?,
                    name,
                    kind,
                })?;
            }
            // Nodes: parents in one pass, labelled once per hierarchy.
            let mut parents: HashMap<u16, Vec<Option<u32>>> = HashMap::new();
            let mut nodes = 0u64;
            {
                let mut stream = sqlx::query(
                    "SELECT hierarchy_num, node_num, node_key, parent_num FROM authz_nodes",
                )
                .fetch(&mut *tx);
                while let Some(row) = stream.try_next().await.map_err(db)? {
                    let h = n16(col!(&row, "hierarchy_num"), "hierarchy")?;
                    let node = n32(col!(&row, "node_num"), "node")?;
                    let parent: Option<i64> = col!(&row, "parent_num");
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
                        let key: String = col!(&row, "node_key");
                        view.nodes.insert((h, key), node);
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
            let rows =
                sqlx::query("SELECT hierarchy_num, node_num, user_num FROM authz_unit_members")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
            for row in &rows {
                view.apply(&Change::UnitMember {
                    hierarchy: n16(col!(row, "hierarchy_num"), "hierarchy")?,
                    node: n32(col!(row, "node_num"), "node")?,
                    user: n32(col!(row, "user_num"), "user")?,
                    member: true,
                })?;
            }
            progress("unit seats", rows.len() as u64);
            let rows = sqlx::query("SELECT num, name FROM authz_groups")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::Group {
                    num: n32(col!(row, "num"), "group")?,
                    name: col!(row, "name"),
                })?;
            }
            let rows = sqlx::query("SELECT group_num, user_num FROM authz_group_members")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.acl.add_to_group(
                    n32(col!(row, "group_num"), "group")?,
                    n32(col!(row, "user_num"), "user")?,
                );
            }
            progress("group members", rows.len() as u64);
            let rows = sqlx::query(
                "SELECT num, name, public_actions, owner_hierarchy, grants FROM acl_entities",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in &rows {
                let public: i64 = col!(row, "public_actions");
                let owner: Option<i64> = col!(row, "owner_hierarchy");
                view.apply(&Change::Entity {
                    num: n32(col!(row, "num"), "entity")?,
                    name: col!(row, "name"),
                    public: u8::try_from(public).unwrap_or(0),
                    owner: owner.map(|o| n16(o, "hierarchy")).transpose()?,
                    grants: col!(row, "grants"),
                })?;
            }
            for (_, e) in view.entities.clone() {
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM acl_records WHERE entity_num = $1")
                        .bind(i64::from(e.0))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                view.records.insert(e.0, count);
                let mut grants = Vec::new();
                let mut stream = sqlx::query(
                    "SELECT record_num, principal, actions FROM acl_grants WHERE entity_num = $1",
                )
                .bind(i64::from(e.0))
                .fetch(&mut *tx);
                while let Some(row) = stream.try_next().await.map_err(db)? {
                    let r: i64 = col!(&row, "record_num");
                    let p: i64 = col!(&row, "principal");
                    let a: i64 = col!(&row, "actions");
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
            let rows = sqlx::query("SELECT num, name FROM authz_applications")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::App {
                    num: n32(col!(row, "num"), "application")?,
                    name: col!(row, "name"),
                })?;
            }
            let rows = sqlx::query("SELECT num, app_num, name FROM authz_app_roles")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::Role {
                    num: n32(col!(row, "num"), "role")?,
                    app: n32(col!(row, "app_num"), "application")?,
                    name: col!(row, "name"),
                })?;
            }
            let rows = sqlx::query(
                "SELECT g.role_num, r.app_num, g.principal, g.until FROM authz_role_grants g \
                 JOIN authz_app_roles r ON r.num = g.role_num",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in &rows {
                view.apply(&Change::RoleGrant {
                    app: n32(col!(row, "app_num"), "application")?,
                    role: n32(col!(row, "role_num"), "role")?,
                    principal: n32(col!(row, "principal"), "principal")?,
                    until: col!(row, "until"),
                })?;
            }
            progress("role grants", rows.len() as u64);
            let rows = sqlx::query(
                "SELECT a.num, r.role FROM it_role_assignments r JOIN authz_users a ON a.user_id = r.user_id \
                 ORDER BY a.num, r.role DESC",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in &rows {
                view.apply(&Change::ItDefaultRole {
                    user: n32(col!(row, "num"), "user")?,
                    role: Some(col!(row, "role")),
                })?;
            }
            let rows = sqlx::query("SELECT role, environment, level FROM it_role_levels")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::ItRoleLevel {
                    role: col!(row, "role"),
                    environment: col!(row, "environment"),
                    level: col!(row, "level"),
                })?;
            }
            let rows = sqlx::query("SELECT num, name FROM it_teams")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::Team {
                    num: n32(col!(row, "num"), "team")?,
                    name: col!(row, "name"),
                })?;
            }
            let rows = sqlx::query("SELECT team_num, user_num, role FROM it_team_members")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::TeamMember {
                    team: n32(col!(row, "team_num"), "team")?,
                    user: n32(col!(row, "user_num"), "user")?,
                    role: Some(col!(row, "role")),
                })?;
            }
            let rows = sqlx::query(
                "SELECT num, team_num FROM authz_applications WHERE team_num IS NOT NULL",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in &rows {
                let team: i64 = col!(row, "team_num");
                view.apply(&Change::AppTeam {
                    app: n32(col!(row, "num"), "application")?,
                    team: Some(n32(team, "team")?),
                })?;
            }
            let rows = sqlx::query("SELECT num, name, app_num FROM it_modules")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in &rows {
                view.apply(&Change::Module {
                    num: n32(col!(row, "num"), "module")?,
                    name: col!(row, "name"),
                    app: n32(col!(row, "app_num"), "application")?,
                })?;
            }
            let rows = sqlx::query(
                "SELECT user_num, scope, scope_num, environment, level FROM it_overrides",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for row in &rows {
                let env: String = col!(row, "environment");
                view.apply(&Change::Override {
                    user: n32(col!(row, "user_num"), "user")?,
                    scope: col!(row, "scope"),
                    scope_num: n32(col!(row, "scope_num"), "scope")?,
                    environment: (env != "*").then_some(env),
                    level: Some(col!(row, "level")),
                })?;
            }
            Ok::<_, Error>(view)
        })
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
        write_tx!(self, |tx| {
            let only: Option<i64> = match entity {
                Some(name) => {
                    let row =
                        sqlx::query("SELECT owner_hierarchy FROM acl_entities WHERE name = $1")
                            .bind(name)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db)?
                            .ok_or_else(|| {
                                Error::invalid("entity", format!("no entity named `{name}`"))
                            })?;
                    let h: Option<i64> = col!(&row, "owner_hierarchy");
                    Some(h.unwrap_or(-1))
                }
                None => None,
            };
            let hierarchies: Vec<i64> =
                sqlx::query_scalar("SELECT num FROM authz_hierarchies ORDER BY num")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
            for h in hierarchies
                .into_iter()
                .filter(|h| only.is_none_or(|o| o == *h))
            {
                report.hierarchies += 1;
                let rows = sqlx::query(
                    "SELECT n.node_num, n.parent_num, p.path FROM authz_nodes n \
                     LEFT JOIN authz_node_paths p ON p.hierarchy_num = n.hierarchy_num AND p.node_num = n.node_num \
                     WHERE n.hierarchy_num = $1",
                )
                .bind(h)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                let mut parent: HashMap<i64, Option<i64>> = HashMap::with_capacity(rows.len());
                let mut stored: HashMap<i64, Option<Vec<u8>>> = HashMap::with_capacity(rows.len());
                for row in &rows {
                    let n: i64 = col!(row, "node_num");
                    parent.insert(n, col!(row, "parent_num"));
                    stored.insert(n, col!(row, "path"));
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
                            bound!("UPDATE authz_nodes SET parent_num = NULL WHERE hierarchy_num = $1 AND node_num = $2", [h, n])
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                            stack.push(n);
                        }
                        None => break,
                    }
                }
                for (n, p) in &path {
                    report.nodes += 1;
                    if stored.get(n).and_then(Option::as_ref) != Some(p) {
                        report.paths_fixed += 1;
                        bound!(
                            "INSERT INTO authz_node_paths (hierarchy_num, node_num, path) VALUES ($1, $2, $3) \
                             ON CONFLICT (hierarchy_num, node_num) DO UPDATE SET path = excluded.path",
                            [h, *n, p]
                        )
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    if report.nodes % 10_000 == 0 {
                        progress("nodes", report.nodes);
                    }
                }
                progress("nodes", report.nodes);
            }
            let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM acl_grants")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM acl_records")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            report.grants = u64::try_from(grants).unwrap_or(0);
            report.records = u64::try_from(records).unwrap_or(0);
            if report.paths_fixed > 0 || report.cycles_broken > 0 {
                // Nodes will reload: a revision with no changes tells them to catch up, and
                // servers rebuild from the tables when they see a `Reload`.
                let revision = next_revision!(tx);
                record_changes!(tx, revision, at, &[Change::Reload]);
            }
            append_event!(
                tx,
                ctx,
                &authz_event(
                    "authz.rebuild",
                    entity.map_or_else(|| "authz:all".to_owned(), |e| format!("entity:{e}")),
                    json!({
                        "hierarchies": report.hierarchies,
                        "nodes": report.nodes,
                        "paths_fixed": report.paths_fixed,
                        "cycles_broken": report.cycles_broken,
                    })
                ),
                now
            );
        });
        Ok(report)
    }

    /// The explicit grants on one record: raw principal and actions.
    pub async fn record_grants(
        &self,
        entity: EntityId,
        record: u64,
    ) -> Result<Vec<(Principal, Actions)>, Error> {
        read!(self, |pool| {
            let rows = sqlx::query(
                "SELECT principal, actions FROM acl_grants WHERE entity_num = $1 AND record_num = $2 ORDER BY principal",
            )
            .bind(i64::from(entity.0))
            .bind(i64::try_from(record).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
            .map_err(db)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let p: i64 = col!(row, "principal");
                let a: i64 = col!(row, "actions");
                out.push((
                    Principal::from_raw(n32(p, "principal")?),
                    Actions::from_bits(u8::try_from(a).unwrap_or(0)),
                ));
            }
            Ok(out)
        })
    }

    /// The IT roles assigned to a user (normally one), for users the index has no number for.
    pub async fn it_roles_of(&self, user: UserId) -> Result<Vec<String>, Error> {
        read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT role FROM it_role_assignments WHERE user_id = $1 ORDER BY role",
            )
            .bind(user.to_string())
            .fetch_all(pool)
            .await
            .map_err(db)
        })
    }

    /// The facts about a record that a decision needs: its number and owner.
    pub async fn acl_record(
        &self,
        entity: EntityId,
        key: &str,
    ) -> Result<Option<(u64, Option<u32>)>, Error> {
        read!(self, |pool| {
            let row = sqlx::query(
                "SELECT record_num, owner_num FROM acl_records WHERE entity_num = $1 AND record_key = $2",
            )
            .bind(i64::from(entity.0))
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(db)?;
            match row {
                Some(row) => {
                    let r: i64 = col!(&row, "record_num");
                    let o: Option<i64> = col!(&row, "owner_num");
                    Ok(Some((
                        u64::try_from(r).unwrap_or(0),
                        o.map(|o| n32(o, "user")).transpose()?,
                    )))
                }
                None => Ok(None),
            }
        })
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
            read!(self, |pool| {
                let mut q = sqlx::query(&sql).bind(i64::from(entity.0));
                for k in chunk {
                    q = q.bind(*k);
                }
                let rows = q.fetch_all(pool).await.map_err(db)?;
                for row in &rows {
                    let r: i64 = col!(row, "record_num");
                    let o: Option<i64> = col!(row, "owner_num");
                    out.insert(
                        col!(row, "record_key"),
                        (
                            u64::try_from(r).unwrap_or(0),
                            o.map(|o| n32(o, "user")).transpose()?,
                        ),
                    );
                }
                Ok::<_, Error>(())
            })?;
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
        read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT path FROM authz_node_paths WHERE hierarchy_num = $1 AND node_num = $2",
            )
            .bind(i64::from(h.0))
            .bind(i64::from(user))
            .fetch_optional(pool)
            .await
            .map_err(db)
        })
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
        let json: String = read!(self, |pool| {
            let q = bind_all!(sqlx::query_scalar(&sql).persistent(persistent), &binds);
            q.fetch_one(pool).await.map_err(db)
        })?;
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
        read!(self, |pool| {
            let q = bind_all!(sqlx::query_scalar(&sql).persistent(persistent), &binds);
            q.fetch_one(pool).await.map_err(db)
        })
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
        read!(self, |pool| {
            let q = bind_all!(sqlx::query(&sql), &binds);
            let rows = q.fetch_all(pool).await.map_err(db)?;
            let mut out = Vec::new();
            for row in &rows {
                let line: String = match self.kind() {
                    crate::BackendKind::Sqlite => col!(row, "detail"),
                    crate::BackendKind::Postgres => col!(row, 0),
                };
                out.push(line);
            }
            Ok(out)
        })
    }
}

enum Bind {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
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
    let mut keys = parts.join(" UNION ");
    if !count {
        // The page's keys first, then their owners: only `limit` lookups.
        keys = format!(
            "SELECT record_key FROM ({keys}) AS u ORDER BY record_key LIMIT {}",
            tail_limit(&tail)
        );
    }
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
