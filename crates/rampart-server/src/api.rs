//! Wire types: the JSON bodies of the API. The only serialisable view of domain types, so
//! nothing becomes part of the API by accident.

use rampart_core::{Session, User};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// `POST /api/v1/auth/login`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username (case-insensitive).
    pub username: String,
    /// Password.
    pub password: String,
    /// `it` for IT users, `end` for end users.
    pub provider: String,
}

/// A successful login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for API clients; shown once. Browsers use the session cookie instead.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Absolute expiry of the session.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The session ends after this many seconds without use.
    pub idle_timeout_seconds: u64,
    /// The logged-in user.
    pub user: UserView,
}

/// `POST /api/v1/auth/change-password`: works without a session, so that an expired
/// password can be replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// `it` or `end`.
    pub provider: String,
    /// Username.
    pub username: String,
    /// The current password.
    pub current_password: String,
    /// The new password; must satisfy the password policy.
    pub new_password: String,
}

/// Query of `POST /api/v1/auth/logout`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogoutQuery {
    /// End every session of the user, not only this one.
    #[serde(default)]
    pub all: bool,
}

/// `GET /api/v1/auth/me`
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The authenticated user.
    pub user: UserView,
    /// The session the request was authenticated with.
    pub session: SessionView,
}

/// A session, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// `bearer` or `cookie`.
    pub authenticated_by: &'static str,
    /// Login time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Absolute expiry.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

impl SessionView {
    pub(crate) fn new(session: &Session, authenticated_by: &'static str) -> Self {
        Self {
            id: session.id.to_string(),
            authenticated_by,
            created_at: session.created_at,
            expires_at: session.expires_at,
        }
    }
}

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id (UUID).
    pub id: String,
    /// `it` or `end`.
    pub provider: &'static str,
    /// Username as chosen.
    pub username: String,
    /// Human name.
    pub display_name: Option<String>,
    /// Normalised e-mail.
    pub email: Option<String>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Whether the user is a platform administrator.
    pub administrator: bool,
    /// When the password was last set.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub password_changed_at: OffsetDateTime,
    /// Last successful login.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            provider: u.provider.as_str(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            disabled: u.disabled,
            administrator: u.is_admin,
            password_changed_at: u.password_changed_at,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// `POST /api/v1/users`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// `it` or `end`.
    pub provider: String,
    /// ASCII letters, digits, `.`, `_`, `-`, `@`; unique per provider ignoring case.
    pub username: String,
    /// Initial password; must satisfy the password policy.
    pub password: String,
    /// Human name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// E-mail; normalised, unique per provider.
    #[serde(default)]
    pub email: Option<String>,
    /// Make the user a platform administrator (IT users only).
    #[serde(default)]
    pub administrator: bool,
}

/// `PATCH /api/v1/users/{id}`: absent fields are left alone, `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// New e-mail, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// Distinguishes a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /api/v1/users/{id}/reset-password`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password; must satisfy the password policy.
    pub password: String,
}

/// Query of `GET /api/v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    /// `it` or `end`; both when absent.
    pub provider: Option<String>,
    /// Only usernames starting with this, ignoring case.
    pub prefix: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users, in creation order.
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Result of revoking a user's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    /// How many sessions were open.
    pub revoked: u64,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// One decision to make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Up to 1,000 decisions (explain takes exactly one).
    pub checks: Vec<CheckItem>,
    /// A revision token from a write: decide on data at least this fresh.
    #[serde(default)]
    pub at_least_as_fresh: Option<String>,
}

/// One decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// Whether it is allowed.
    pub allowed: bool,
}

/// The decisions, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    /// Revision the decisions were made at.
    pub revision: String,
    /// One per check.
    pub results: Vec<CheckResult>,
}

/// Why a decision came out as it did.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFilterRequest {
    /// User id.
    pub user: String,
    /// Entity name.
    pub entity: String,
    /// Records after this key (the previous page's `next_cursor`).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Also count every readable record (slow for large subtrees).
    #[serde(default)]
    pub count: bool,
    /// A revision token from a write.
    #[serde(default)]
    pub at_least_as_fresh: Option<String>,
}

/// A record the user may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadableRecord {
    /// Record key.
    pub key: String,
    /// Owner's user id, if any.
    pub owner: Option<String>,
}

/// A page of readable records, in key order.
#[derive(Debug, Serialize, ToSchema)]
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
    pub strategy: &'static str,
}

/// A grantee.
#[derive(Debug, Clone, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWire {
    /// Record key, unique in the entity.
    pub key: String,
    /// Owner's user id.
    #[serde(default)]
    pub owner: Option<String>,
}

/// One authorization change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum WriteOp {
    /// Create a group.
    CreateGroup {
        /// Name.
        name: String,
        /// Free text.
        #[serde(default)]
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
        #[serde(default)]
        description: Option<String>,
    },
    /// Declare a role in an application.
    CreateRole {
        /// Application.
        application: String,
        /// Role name.
        name: String,
        /// Free text.
        #[serde(default)]
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
        #[serde(default, with = "time::serde::rfc3339::option")]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    /// 1 to 100 operations.
    pub operations: Vec<WriteOp>,
}

/// The revision the changes were written at.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteResponse {
    /// Revision token: pass as `at_least_as_fresh` to read your writes anywhere.
    pub revision: String,
}

/// Query of `GET /api/v1/authz/roles`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RolesQuery {
    /// User id.
    pub user: String,
    /// Application name.
    pub application: String,
}

/// The roles a user holds in an application now.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolesResponse {
    /// Revision.
    pub revision: String,
    /// Role names, sorted.
    pub roles: Vec<String>,
}

/// Where an IT override applies.
#[derive(Debug, Clone, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItWriteOp {
    /// Set (null: clear) an IT user's default IT role. Administrators only.
    SetItRole {
        /// IT user id.
        user: String,
        /// `administrator`, `developer`, `tester`, `operations`, `auditor`, `contractor`.
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItWriteRequest {
    /// 1 to 100 operations, applied together or not at all.
    pub operations: Vec<ItWriteOp>,
}

/// Query of `GET /api/v1/it/level`.
#[derive(Debug, Deserialize, IntoParams)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelResponse {
    /// Revision.
    pub revision: String,
    /// `none` … `full`.
    pub level: &'static str,
    /// `module_override`, `application_override`, `team_role`, `default_role` or `none`.
    pub decided_by: &'static str,
    /// The deciding grant in words.
    pub reason: String,
}

/// An application and its roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    /// Name.
    pub name: String,
    /// Role names.
    pub roles: Vec<String>,
}

/// A hierarchy.
#[derive(Debug, Serialize, ToSchema)]
pub struct HierarchyView {
    /// Name.
    pub name: String,
    /// `reports_to` or `units`.
    pub kind: &'static str,
    /// Number of nodes.
    pub nodes: usize,
}

/// An entity under ACL.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntityView {
    /// Name.
    pub name: String,
    /// Public actions.
    pub public: Vec<&'static str>,
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
#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleView {
    /// Module name.
    pub name: String,
    /// Application name.
    pub application: String,
}

/// `GET /api/v1/authz/model`: what authorization knows, by name.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantsQuery {
    /// Entity name.
    pub entity: String,
    /// Record key.
    pub record: String,
}

/// One explicit grant on a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// `user:<id>`, `group:<name>` or `node:<hierarchy>/<unit>`.
    pub principal: String,
    /// `read`, `write`.
    pub actions: Vec<&'static str>,
}

/// The explicit grants of a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantsResponse {
    /// Revision.
    pub revision: String,
    /// Grants.
    pub grants: Vec<GrantView>,
}

/// Query of `GET /api/v1/audit/events`. Every filter narrows the result.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditEventsQuery {
    /// `system`, `integration` or `access`.
    pub stream: Option<String>,
    /// The actor as recorded, e.g. `it:admin` or `end:alice`.
    pub actor: Option<String>,
    /// A dotted action, e.g. `user.create`.
    pub action: Option<String>,
    /// An exact target, e.g. `user:0190…`.
    pub target: Option<String>,
    /// Free text the target must contain (matched literally).
    pub q: Option<String>,
    /// An application name.
    pub application: Option<String>,
    /// An environment name.
    pub environment: Option<String>,
    /// `success`, `failure`, `allow` or `deny`.
    pub outcome: Option<String>,
    /// RFC 3339 time: only events at or after it.
    pub since: Option<String>,
    /// RFC 3339 time: only events before it.
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100). Ignored by the `csv` and `jsonl` exports.
    pub limit: Option<u32>,
    /// `json` (a page, newest first; default), or `csv` / `jsonl`: every match, oldest
    /// first, streamed.
    #[param(inline, value_type = Option<AuditFormat>)]
    pub format: Option<String>,
}

/// The form of the answer of `GET /api/v1/audit/events` (documentation only: the query
/// keeps the text, which the handler checks).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AuditFormat {
    /// A page of events, newest first (`application/json`).
    Json,
    /// Every match, oldest first, as CSV (`text/csv`).
    Csv,
    /// Every match, oldest first, one JSON event per line (`application/jsonl`).
    Jsonl,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Sequence number (the event's leaf is `seq − 1`).
    pub seq: i64,
    /// `system`, `integration` or `access`.
    pub stream: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: OffsetDateTime,
    /// Acting principal's id.
    pub actor_id: Option<String>,
    /// Acting principal as recorded (`it:admin`).
    pub actor: Option<String>,
    /// Dotted action name.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Application concerned.
    pub application: Option<String>,
    /// Environment concerned.
    pub environment: Option<String>,
    /// `success`, `failure`, `allow` or `deny`.
    pub outcome: String,
    /// The request it came from.
    pub request_id: Option<String>,
    /// The request's source address.
    pub source: Option<String>,
    /// The node that recorded it.
    pub node: String,
    /// Structured facts (method, status, duration_ms, reason, …).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// True when the payload was erased; the leaf hash still proves its place.
    pub redacted: bool,
    /// The leaf hash (hex).
    pub leaf_hash: String,
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    /// The events.
    pub items: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/audit/integration`: calls a service made or received, to record in the
/// `integration` stream under the reporting service's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationReportRequest {
    /// 1 to 1,000 calls, recorded in this order in one transaction (all or none).
    pub events: Vec<IntegrationCall>,
}

/// One call, as the service saw it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationCall {
    /// `inbound` (a request the service received) or `outbound` (a call it made).
    pub direction: String,
    /// The method called: an HTTP method or an operation name (`GET`, `GetCustomer`), at
    /// most 128 characters of letters, digits and `._:/-`.
    pub method: String,
    /// What was called: a URL or an endpoint, at most 2,048 characters. Its query string
    /// and fragment are not recorded (they often carry tokens); a URL with a user name or
    /// password in it is refused.
    pub target: String,
    /// The call's status (HTTP 100–599); 400 and up record a failure.
    pub status: u16,
    /// How long the call took, in milliseconds (at most a day).
    pub duration_ms: u64,
    /// The call's request id, to correlate with the service's own logs (at most 64 of
    /// `A-Z a-z 0-9 . _ -`); this request's id when absent.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Where the reported calls sit in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationReportResponse {
    /// The sequence number of the first call.
    pub first_seq: i64,
    /// The sequence number of the last call.
    pub last_seq: i64,
}

/// The query of a route that takes no parameters: any parameter is refused (a client
/// that sends `fresh=true` to a read learns that reading never signs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// A signed checkpoint of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// The log's name (the note's origin line).
    pub origin: String,
    /// Number of events the checkpoint covers.
    pub size: u64,
    /// Root hash at that size (hex).
    pub root: String,
    /// The C2SP signed note, verifiable with `verifier_key`.
    pub note: String,
    /// When it was signed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub signed_at: OffsetDateTime,
    /// The verifier key (`<name>+<hash>+<key>`), as `rampart audit public-key` prints it.
    pub verifier_key: String,
}

/// Query of `GET /api/v1/audit/proof/inclusion`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The event's sequence number.
    pub seq: u64,
    /// Tree size to prove against (default: the current size).
    pub size: Option<u64>,
}

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProofView {
    /// The event's sequence number; its leaf index is `seq − 1`.
    pub seq: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The event's leaf hash (hex).
    pub leaf_hash: String,
    /// The audit path, bottom up (hex).
    pub proof: Vec<String>,
    /// The root at `size` (hex).
    pub root: String,
}

/// Query of `GET /api/v1/audit/proof/consistency`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size (default: the current size).
    pub to: Option<u64>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProofView {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// Root at `from` (hex).
    pub from_root: String,
    /// Root at `to` (hex).
    pub to_root: String,
    /// The proof nodes (hex).
    pub proof: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Module lifecycle: versions, diffs, deployments.

/// Body of `POST /api/v1/modules/{name}/versions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The module's source (YAML, or JSON), whose `module:` must be the name in the path.
    pub source: String,
    /// What changed and why (1 to 2,000 characters).
    pub message: String,
    /// The version this change was based on (0 for the first); when given, a publish on top of
    /// a newer version is refused with 409 instead of silently replacing it.
    #[serde(default)]
    pub parent: Option<i64>,
    /// Publish even though it breaks modules deployed somewhere (needs `full` on the module).
    #[serde(default)]
    pub force: bool,
}

/// A module version's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionWire {
    /// The module.
    pub module: String,
    /// Its number, from 1.
    pub version: i64,
    /// `sha256:` and the hex SHA-256 of the source.
    pub digest: String,
    /// The author's user id.
    pub author_id: String,
    /// The author's name at the time.
    pub author: String,
    /// The author's message.
    pub message: String,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Environments running it now.
    pub deployed_in: Vec<String>,
}

/// What a publish did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishResponse {
    /// The version (the existing one when the source was already published).
    pub version: VersionWire,
    /// `false` when the same source was already a version: nothing was written.
    pub created: bool,
    /// Breaking changes forced through (`force`), if any.
    pub forced: Vec<BreakingChange>,
}

/// A module deployed somewhere that a change would break.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakingChange {
    /// The module that would break (the dependant).
    pub module: String,
    /// Its version running there.
    pub version: i64,
    /// Where it runs.
    pub environment: String,
    /// The module it depends on.
    pub depends_on: String,
    /// `roles`, `entities`, `queries`, `screens` or `actions` (or `module` when the whole
    /// module is missing).
    pub kind: String,
    /// The element used.
    pub element: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A version with its source (`open`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionSourceResponse {
    /// Its metadata.
    #[serde(flatten)]
    pub version: VersionWire,
    /// The source as published.
    pub source: String,
}

/// Query of `GET /api/v1/modules/{name}/diff`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The older version's number.
    pub from: i64,
    /// The newer version's number.
    pub to: i64,
}

/// Query of `GET /api/v1/modules/{name}/surface`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SurfaceQuery {
    /// The version (the newest when absent).
    #[serde(default)]
    pub version: Option<i64>,
}

/// An environment and its lifecycle policies, as `set_environments` takes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Its name: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The author of a version may not deploy it here.
    #[serde(default)]
    pub separation_of_duties: bool,
    /// Deployments here wait for a second IT user with `deploy` to approve them.
    #[serde(default)]
    pub second_approver: bool,
}

/// An environment in the promotion order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentWire {
    /// Its name.
    pub name: String,
    /// Its place in the order, from 0 (staging promotes to the next).
    pub position: usize,
    /// Whether the author of a version may not deploy it here.
    pub separation_of_duties: bool,
    /// Whether deployments here wait for a second approver.
    pub second_approver: bool,
}

/// One module to deploy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployItem {
    /// The module.
    pub module: String,
    /// The version to run.
    pub version: i64,
    /// The version the caller saw running (0: none); when it no longer runs there, the
    /// deployment is refused with 409. When absent, what runs at the time of the request.
    #[serde(default)]
    pub expected: Option<i64>,
}

/// Body of `POST /api/v1/environments/{env}/deployments`: `modules`, or an application's
/// tag (every module at the version the tag holds).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The modules, deployed together or not at all.
    #[serde(default)]
    pub modules: Vec<DeployItem>,
    /// Deploy this application's tag instead (with `tag`).
    #[serde(default)]
    pub application: Option<String>,
    /// The tag (with `application`).
    #[serde(default)]
    pub tag: Option<String>,
    /// Only preview the plan: check everything, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Body of `POST /api/v1/environments/{env}/stage`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    /// The environment promoted from (the one before in the order when absent).
    #[serde(default)]
    pub from: Option<String>,
    /// Only these modules (all that run in `from` when absent).
    #[serde(default)]
    pub modules: Option<Vec<String>>,
    /// Only preview the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// Body of `POST /api/v1/environments/{env}/rollback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The module put back to the version it ran before its last deployment.
    pub module: String,
    /// Only preview the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// One change of a deployment plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlannedChange {
    /// The module.
    pub module: String,
    /// The version running now, if any.
    pub from: Option<i64>,
    /// The version that will run.
    pub to: i64,
    /// Structural changes between the two, per kind of element (names added, removed,
    /// changed); empty for a first deployment or a redeploy. Shown only to callers with
    /// `open` on the module in the target environment, else omitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub changes: Option<serde_json::Value>,
}

/// A deployment plan: what would change, and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeployResponse {
    /// The target environment.
    pub environment: String,
    /// `applied`, `pending-approval` (the environment needs a second approver: see
    /// `request`), `plan` (a dry run) or `nothing-to-do`.
    pub status: &'static str,
    /// What changes (modules already at the version are left out).
    pub changes: Vec<PlannedChange>,
    /// Whether it was applied.
    pub applied: bool,
    /// The request waiting for a second approver, when `pending-approval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<i64>,
    /// The history entries written.
    pub deployments: Vec<DeploymentWire>,
}

/// A deployment waiting for, or decided by, a second approver.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentRequestWire {
    /// Its id.
    pub id: i64,
    /// The target environment.
    pub environment: String,
    /// `deploy`, `stage` or `rollback`.
    pub kind: &'static str,
    /// For staging: where from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The plan: each module, the version to run and the version expected running.
    pub items: Vec<RequestItem>,
    /// Who asked.
    pub requester: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decider: Option<String>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One module of a deployment request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestItem {
    /// The module.
    pub module: String,
    /// The version to run.
    pub version: i64,
    /// The version expected running (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
}

/// Body of `POST /api/v1/environments/{env}/requests/{id}/reject`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why (1 to 500 characters; recorded in the audit trail).
    pub reason: String,
}

/// Query of `GET /api/v1/environments/{env}/requests`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    /// Only `pending`, `approved` or `rejected` ones.
    #[serde(default)]
    pub status: Option<String>,
}

/// A deployment in an environment's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentWire {
    /// Increasing id.
    pub id: i64,
    /// The environment.
    pub environment: String,
    /// The module.
    pub module: String,
    /// The version deployed.
    pub version: i64,
    /// The version it replaced.
    pub previous: Option<i64>,
    /// `deploy`, `stage` or `rollback`.
    pub kind: String,
    /// For staging: where from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Who.
    pub actor: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Query of `GET /api/v1/environments/{env}/deployments`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this module.
    #[serde(default)]
    pub module: Option<String>,
    /// The most entries (1 to 1,000; 100 by default).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// What runs in an environment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunningWire {
    /// The module.
    pub module: String,
    /// The version.
    pub version: i64,
}

/// Body of `POST /api/v1/applications/{app}/tags`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    /// The tag: 1 to 64 letters, digits, `.`, `_`, `-` (e.g. `2.3.0`).
    pub tag: String,
    /// Release notes (up to 10,000 characters).
    #[serde(default)]
    pub notes: String,
    /// Module name to version; by default the newest version of every module of the
    /// application.
    #[serde(default)]
    pub modules: Option<std::collections::BTreeMap<String, i64>>,
}

/// An application version.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagWire {
    /// The application.
    pub application: String,
    /// The tag.
    pub tag: String,
    /// Module name to version.
    pub modules: std::collections::BTreeMap<String, i64>,
    /// Release notes.
    pub notes: String,
    /// Who tagged it.
    pub creator: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

// Module names.

/// Body of `POST /api/v1/module-names`: reserve a module name for an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveNameRequest {
    /// The module name (1 to 100 ASCII letters, digits, `-` and `_`), not registered yet.
    pub name: String,
    /// The application that alone may register it.
    pub application: String,
}

/// Body of `POST /api/v1/module-names/{name}/transfer`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferNameRequest {
    /// The application receiving the name (and the module, if one is registered).
    pub application: String,
}

/// A module name and the application it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleNameWire {
    /// The name.
    pub name: String,
    /// The application it is reserved for, or whose module it is.
    pub application: String,
    /// `reserved` (no module yet) or `registered` (a module of the application).
    pub status: &'static str,
    /// When it was reserved or registered.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
}

// Deployment plans.

/// An application at a tagged version, in a deployment plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanApplicationWire {
    /// The application.
    pub application: String,
    /// Its tag (see `POST /api/v1/applications/{app}/tags`).
    pub tag: String,
}

/// What a plan sets in its environment, each keyed `module.Element`. Values given here
/// replace those in force; anything not given keeps its value in force (or its default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PlanSettingsWire {
    /// Site property values, of the property's type: `{"sales-ui.SupportAddress": "…"}`.
    #[schema(value_type = Object)]
    pub properties: std::collections::BTreeMap<String, serde_json::Value>,
    /// Integration base URLs for this environment: `{"sales-ui.Invoicing": "https://…"}`.
    pub endpoints: std::collections::BTreeMap<String, String>,
    /// Where the platform finds each integration's secret: `env:NAME`, `file:/path` or
    /// `vault:path`. Never the secret itself.
    pub secrets: std::collections::BTreeMap<String, String>,
}

/// Body of `POST /api/v1/deployment-plans`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCreateRequest {
    /// The target environment.
    pub environment: String,
    /// Applications at tagged versions (1 to 50).
    pub applications: Vec<PlanApplicationWire>,
    /// Settings for the environment.
    #[serde(default)]
    pub settings: PlanSettingsWire,
    /// Free text.
    #[serde(default)]
    pub notes: String,
}

/// Body of `POST /api/v1/deployment-plans/{id}/copy`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanCopyRequest {
    /// The environment of the copy: the one after the plan's when absent.
    #[serde(default)]
    pub environment: Option<String>,
    /// Settings for that environment (settings are per environment and are not copied).
    #[serde(default)]
    pub settings: PlanSettingsWire,
    /// Free text; the original's when absent.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Body of `POST /api/v1/deployment-plans/{id}/run`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRunRequest {
    /// Check and show what would happen, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A setting the plan changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingChange {
    /// The module.
    pub module: String,
    /// `property`, `endpoint` or `secret` (a reference, never a secret).
    pub kind: &'static str,
    /// The property's or integration's name.
    pub name: String,
    /// The value in force now (any JSON value), or null.
    pub from: Option<serde_json::Value>,
    /// The value after the plan (any JSON value).
    pub to: serde_json::Value,
}

/// What running a plan now would do, computed at the time of the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanPreview {
    /// Module versions that would change.
    pub changes: Vec<PlannedChange>,
    /// Settings that would change.
    pub settings: Vec<SettingChange>,
    /// Site properties without a default that neither the plan nor the environment gives
    /// (`module.Property`): the plan cannot run until they are given.
    pub missing: Vec<String>,
    /// What would run but deserves attention (an integration without a secret reference).
    pub warnings: Vec<String>,
    /// Why running it now would be refused (broken references, permissions, a module that
    /// changed meanwhile), if it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<crate::error::Problem>,
}

/// A deployment plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanWire {
    /// Its id.
    pub id: i64,
    /// The target environment.
    pub environment: String,
    /// `draft`, `waiting` (for a second approver: see `request`), `finished` or `aborted`
    /// (see `error`; it may run again).
    pub status: String,
    /// Applications at tagged versions.
    pub applications: Vec<PlanApplicationWire>,
    /// Settings for the environment.
    pub settings: PlanSettingsWire,
    /// Free text.
    pub notes: String,
    /// The plan this one was copied from.
    pub based_on: Option<i64>,
    /// Who made it.
    pub creator: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change of status.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// How many times it ran.
    pub runs: i64,
    /// The deployment request of its last run that needed a second approver.
    pub request: Option<i64>,
    /// Why its last run was aborted.
    pub error: Option<String>,
    /// What running it now would do (on `GET` of one plan, and on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<PlanPreview>,
    /// The result of the run (on `run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<DeployResponse>,
}

/// Query of `GET /api/v1/deployment-plans`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlansQuery {
    /// Only plans for this environment.
    #[serde(default)]
    pub environment: Option<String>,
}

/// A setting in force in an environment.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingWire {
    /// The module.
    pub module: String,
    /// `property`, `endpoint` or `secret` (a reference).
    pub kind: &'static str,
    /// The property's or integration's name.
    pub name: String,
    /// Its value: any JSON value (a property's value; a string for an endpoint or a
    /// secret reference).
    pub value: serde_json::Value,
    /// The plan that set it.
    pub plan: i64,
}
