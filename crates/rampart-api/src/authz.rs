//! Authorization: decisions, explanations, list filters, the ACL and IT-permission writes,
//! application roles, the model and grants.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::lifecycle::EnvironmentSpec;

/// One decision to make.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckItem {
    /// Does the user hold `role` in `application` (directly or through a group, unexpired)?
    Role {
        /// User id.
        user: String,
        /// Application name.
        application: String,
        /// Role name.
        role: String,
    },
    /// May the user do `action` (`read` or `write`) on the record?
    Record {
        /// User id.
        user: String,
        /// Entity name.
        entity: String,
        /// Record key.
        record: String,
        /// `read` or `write`.
        action: String,
    },
}

/// `POST /api/v1/authz/check` and `/explain`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Up to 1,000 decisions (explain takes exactly one).
    pub checks: Vec<CheckItem>,
    /// A revision token from a write: decide on data at least this fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least_as_fresh: Option<String>,
}

/// One decision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    /// Whether it is allowed.
    pub allowed: bool,
}

/// The decisions, in request order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    /// Revision the decisions were made at.
    pub revision: String,
    /// One per check.
    pub results: Vec<CheckResult>,
}

/// Why a decision came out as it did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExplainResponse {
    /// Revision the decision was made at.
    pub revision: String,
    /// Whether it is allowed.
    pub allowed: bool,
    /// The deciding rule: `public`, `owner`, `grant`, `role_grant`, or `none`.
    pub rule: String,
    /// A sentence saying why.
    pub reason: String,
    /// For `owner`: users from the deciding user down to the owner; for a unit `grant`: units
    /// from the granted one down to the user's.
    pub path: Vec<String>,
    /// The grantee that decided (`user:…`, `group:…`, `node:hierarchy/unit`), if any.
    pub principal: Option<String>,
    /// Rules tried when nothing allowed.
    pub checked: Vec<String>,
}

/// `POST /api/v1/authz/list-filter`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFilterRequest {
    /// User id.
    pub user: String,
    /// Entity name.
    pub entity: String,
    /// Records after this key (the previous page's `next_cursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Also count every readable record (slow for large subtrees).
    #[serde(default)]
    pub count: bool,
    /// A revision token from a write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least_as_fresh: Option<String>,
}

/// A record the user may read.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReadableRecord {
    /// Record key.
    pub key: String,
    /// Owner's user id, if any.
    pub owner: Option<String>,
}

/// A page of readable records, in key order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListFilterResponse {
    /// Revision the filter was evaluated at.
    pub revision: String,
    /// The page.
    pub items: Vec<ReadableRecord>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
    /// Total readable records, when asked.
    pub total: Option<i64>,
    /// Query shape used: `collect` (small subtrees) or `walk` (large ones).
    pub strategy: String,
}

/// A grantee.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrincipalWire {
    /// A user by id.
    User {
        /// User id.
        id: String,
    },
    /// A group by name.
    Group {
        /// Group name.
        name: String,
    },
    /// A unit or branch.
    Unit {
        /// Hierarchy name.
        hierarchy: String,
        /// Unit key.
        unit: String,
    },
}

/// A record to register.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWire {
    /// Record key, unique in the entity.
    pub key: String,
    /// Owner's user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// One authorization change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum WriteOp {
    /// Create a group.
    CreateGroup {
        /// Name.
        name: String,
        /// Free text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// Delete a group with its memberships and grants.
    DeleteGroup {
        /// Name.
        name: String,
    },
    /// Add a user to a group.
    AddGroupMember {
        /// Group.
        group: String,
        /// User id.
        user: String,
    },
    /// Remove a user from a group.
    RemoveGroupMember {
        /// Group.
        group: String,
        /// User id.
        user: String,
    },
    /// Create a hierarchy: `reports_to` (users are nodes) or `units` (units/branches).
    CreateHierarchy {
        /// Name.
        name: String,
        /// `reports_to` or `units`.
        kind: String,
    },
    /// Delete a hierarchy with its nodes and seats; refused (409) while an entity's owner
    /// rule or a grant names it.
    DeleteHierarchy {
        /// Name.
        name: String,
    },
    /// Place a node under a parent (null: a root); moves the whole subtree.
    SetParent {
        /// Hierarchy.
        hierarchy: String,
        /// A user id (reports-to) or unit key (units).
        node: String,
        /// The new parent, same form.
        #[serde(default)]
        parent: Option<String>,
    },
    /// Seat a user in a unit.
    AddUnitMember {
        /// Hierarchy.
        hierarchy: String,
        /// Unit key.
        unit: String,
        /// User id.
        user: String,
    },
    /// Remove a user from a unit.
    RemoveUnitMember {
        /// Hierarchy.
        hierarchy: String,
        /// Unit key.
        unit: String,
        /// User id.
        user: String,
    },
    /// Create or change an entity's ACL rule.
    PutEntity {
        /// Entity name.
        name: String,
        /// Actions everyone may do: `[]`, `["read"]`, `["read","write"]`.
        #[serde(default)]
        public: Vec<String>,
        /// Reports-to hierarchy for the owner rule.
        #[serde(default)]
        owner_hierarchy: Option<String>,
        /// Whether explicit grants apply.
        #[serde(default)]
        grants: bool,
    },
    /// Register or update records (at most 1,000 per operation).
    PutRecords {
        /// Entity.
        entity: String,
        /// Records.
        records: Vec<RecordWire>,
    },
    /// Delete a record and its grants.
    DeleteRecord {
        /// Entity.
        entity: String,
        /// Record key.
        key: String,
    },
    /// Grant actions on a record (refused if the grantee already has a grant there).
    AddGrant {
        /// Entity.
        entity: String,
        /// Record key.
        record: String,
        /// Grantee.
        principal: PrincipalWire,
        /// `read` and/or `write`.
        actions: Vec<String>,
    },
    /// Remove a grant.
    RemoveGrant {
        /// Entity.
        entity: String,
        /// Record key.
        record: String,
        /// Grantee.
        principal: PrincipalWire,
    },
    /// Create an application.
    CreateApplication {
        /// Name.
        name: String,
        /// Free text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// Declare a role in an application.
    CreateRole {
        /// Application.
        application: String,
        /// Role name.
        name: String,
        /// Free text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// Delete a role and its grants.
    DeleteRole {
        /// Application.
        application: String,
        /// Role name.
        name: String,
    },
    /// Grant a role to a user or group, optionally until a time.
    GrantRole {
        /// Application.
        application: String,
        /// Role.
        role: String,
        /// A user or group.
        principal: PrincipalWire,
        /// RFC 3339 end of the grant.
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        #[schema(value_type = Option<String>, format = DateTime)]
        until: Option<OffsetDateTime>,
    },
    /// Revoke a role grant.
    RevokeRole {
        /// Application.
        application: String,
        /// Role.
        role: String,
        /// A user or group.
        principal: PrincipalWire,
    },
}

/// `POST /api/v1/authz/write`: changes applied all together or not at all.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    /// 1 to 100 operations.
    pub operations: Vec<WriteOp>,
}

/// The revision the changes were written at.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WriteResponse {
    /// Revision token: pass as `at_least_as_fresh` to read your writes anywhere.
    pub revision: String,
}

/// Query of `GET /api/v1/authz/roles`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RolesQuery {
    /// User id.
    pub user: String,
    /// Application name.
    pub application: String,
}

/// The roles a user holds in an application now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RolesResponse {
    /// Revision.
    pub revision: String,
    /// Role names, sorted.
    pub roles: Vec<String>,
}

/// Where an IT override applies.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItScopeWire {
    /// One module.
    Module {
        /// Module name.
        name: String,
    },
    /// Every module of an application.
    Application {
        /// Application name.
        name: String,
    },
}

/// One change to IT permissions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItWriteOp {
    /// Set (null: clear) an IT user's default IT role. Administrators only.
    SetItRole {
        /// IT user id.
        user: String,
        /// `administrator`, `developer`, `tester`, `operations`, `auditor`, `contractor`, `support` (the support desk's staff: every support case, no module).
        #[serde(default)]
        role: Option<String>,
    },
    /// Replace the environments: every one, in promotion order (the first is where modules
    /// are authored), with its policies. One left out is removed with its role levels and
    /// overrides (409 while modules run there). A new one starts with `full` for
    /// administrators, `reference` for auditors and `none` for other roles: set its levels
    /// in the same batch. Administrators only.
    SetEnvironments {
        /// The environments, in order.
        environments: Vec<EnvironmentSpec>,
    },
    /// Set an IT role's level in one environment. Administrators only.
    SetRoleLevel {
        /// Role.
        role: String,
        /// Environment.
        environment: String,
        /// `none`, `reference`, `open`, `change`, `deploy` or `full`.
        level: String,
    },
    /// Create a team. Administrators only.
    CreateTeam {
        /// Name.
        name: String,
    },
    /// Delete a team with its memberships; refused (409) while applications belong to it.
    /// Administrators only.
    DeleteTeam {
        /// Name.
        name: String,
    },
    /// Put an IT user in a team with a role (null: remove). Needs `full` on every
    /// application of the team.
    SetTeamMember {
        /// Team.
        team: String,
        /// IT user id.
        user: String,
        /// Role.
        #[serde(default)]
        role: Option<String>,
    },
    /// Give an application to a team (null: none). Needs `full` on the application.
    SetApplicationTeam {
        /// Application.
        application: String,
        /// Team.
        #[serde(default)]
        team: Option<String>,
    },
    /// Register a module of an application. Needs `full` on the application.
    RegisterModule {
        /// Module name.
        name: String,
        /// Application.
        application: String,
    },
    /// Set (level null: remove) a user's override. Needs `full` on the target in the
    /// environment(s) concerned: nobody grants what they do not administer.
    SetOverride {
        /// IT user id.
        user: String,
        /// Module or application.
        scope: ItScopeWire,
        /// One environment (null: every environment).
        #[serde(default)]
        environment: Option<String>,
        /// The level (null: remove the override).
        #[serde(default)]
        level: Option<String>,
    },
}

/// `POST /api/v1/it/write`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItWriteRequest {
    /// 1 to 100 operations, applied together or not at all.
    pub operations: Vec<ItWriteOp>,
}

/// Query of `GET /api/v1/it/level`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LevelQuery {
    /// IT user id.
    pub user: String,
    /// Module name.
    pub module: String,
    /// Environment name.
    pub environment: String,
}

/// An IT user's effective level on a module in an environment, and the grant that decided.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelResponse {
    /// Revision.
    pub revision: String,
    /// `none` … `full`.
    pub level: String,
    /// `module_override`, `application_override`, `team_role`, `default_role` or `none`.
    pub decided_by: String,
    /// The deciding grant in words.
    pub reason: String,
}

/// An application and its roles.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    /// Name.
    pub name: String,
    /// Role names.
    pub roles: Vec<String>,
}

/// A hierarchy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HierarchyView {
    /// Name.
    pub name: String,
    /// `reports_to` or `units`.
    pub kind: String,
    /// Number of nodes.
    pub nodes: usize,
}

/// An entity under ACL.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntityView {
    /// Name.
    pub name: String,
    /// Public actions.
    pub public: Vec<String>,
    /// Owner rule's reports-to hierarchy.
    pub owner_hierarchy: Option<String>,
    /// Whether explicit grants apply.
    pub grants: bool,
    /// Registered records.
    pub records: i64,
    /// Explicit grants.
    pub explicit_grants: usize,
}

/// A module and its application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleView {
    /// Module name.
    pub name: String,
    /// Application name.
    pub application: String,
}

/// `GET /api/v1/authz/model`: what authorization knows, by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthzModel {
    /// Revision.
    pub revision: String,
    /// Applications and their roles.
    pub applications: Vec<ApplicationView>,
    /// Groups.
    pub groups: Vec<String>,
    /// Hierarchies.
    pub hierarchies: Vec<HierarchyView>,
    /// Entities under ACL.
    pub entities: Vec<EntityView>,
    /// IT teams.
    pub teams: Vec<String>,
    /// Modules.
    pub modules: Vec<ModuleView>,
    /// Environments, in order.
    pub environments: Vec<String>,
}

/// Query of `GET /api/v1/authz/grants`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantsQuery {
    /// Entity name.
    pub entity: String,
    /// Record key.
    pub record: String,
}

/// One explicit grant on a record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantView {
    /// `user:<id>`, `group:<name>` or `node:<hierarchy>/<unit>`.
    pub principal: String,
    /// `read`, `write`.
    pub actions: Vec<String>,
}

/// The explicit grants of a record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantsResponse {
    /// Revision.
    pub revision: String,
    /// Grants.
    pub grants: Vec<GrantView>,
}

/// Where a hierarchy rebuild is (`/api/v1/hierarchies/rebuild`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HierarchyRebuildState {
    /// No rebuild has been started from the console or the API yet.
    None,
    /// A node runs it.
    Running,
    /// It ended: every path checked, the wrong ones repaired, the index current again.
    Rebuilt,
    /// It failed; nothing was changed (the rebuild is one transaction).
    Failed,
    /// Its node stopped before it ended (its lease lapsed, or it has not reported its
    /// progress for a minute); nothing was changed, and a new rebuild may start.
    Abandoned,
}

/// What a rebuild found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HierarchyRebuildReport {
    /// Hierarchies whose paths were recomputed.
    pub hierarchies: u64,
    /// Nodes checked.
    pub nodes: u64,
    /// Materialised paths that were wrong and have been rewritten.
    pub paths_fixed: u64,
    /// Nodes found on a cycle of parent links (made roots).
    pub cycles_broken: u64,
    /// Explicit grants counted.
    pub grants: u64,
    /// Records counted.
    pub records: u64,
}

/// The cluster's current or latest hierarchy rebuild: who started it, on which node and
/// when, its progress, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HierarchyRebuild {
    /// Where it is; `none` (and no other field but the counts) before the first rebuild.
    pub state: HierarchyRebuildState,
    /// Its number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<i64>,
    /// Who started it (`it:admin`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started_by: Option<String>,
    /// When it started.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<OffsetDateTime>,
    /// The node that runs or ran it (its `node_id`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<String>,
    /// The phase last reported: `starting`, `nodes`, or `done` once ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phase: Option<String>,
    /// Nodes checked so far (from another node: as last reported, every few hundred
    /// nodes).
    pub checked: u64,
    /// The nodes the index held when it started (the tables may hold more: `checked` may
    /// end above it).
    pub total: u64,
    /// When it ended.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
    /// Rebuilt: milliseconds from its start to an index current again.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_ms: Option<u64>,
    /// Rebuilt: what it found and did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub report: Option<HierarchyRebuildReport>,
    /// Failed or abandoned: why.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}
