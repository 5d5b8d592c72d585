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
//! Every node holds an [`AuthzView`] (the pure index, in `rampart_authz::view`) and applies
//! `authz_changes` in revision order ([`Store::authz_changes_after`], [`AuthzView::apply`]);
//! [`Store::authz_load`] builds a view from the tables. The revision is the token handed
//! back to writers. The list filter the index chooses ([`ListFilter`]) becomes SQL here
//! (`read.rs`).

use std::collections::HashMap;

use rampart_authz::acl::{Actions, EntityId, HierarchyId, HierarchyKind, Principal};
use rampart_authz::change::{kind_name, parse_kind, Change, EnvironmentDef};
use rampart_authz::it::{Level, Permissions};
use rampart_authz::path::{path_end, segment};
use rampart_authz::view::{it_env, it_role, AuthzView, ListFilter, PrincipalRef};
use rampart_core::{AuditContext, Error, UserId};
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{db, to_millis};
use crate::Store;

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

/// Narrows a stored number to the index's 32 bits.
fn n32(v: i64, what: &str) -> Result<u32, Error> {
    u32::try_from(v).map_err(|_| Error::Internal(format!("stored {what} number {v} out of range")))
}

fn n16(v: i64, what: &str) -> Result<u16, Error> {
    u16::try_from(v).map_err(|_| Error::Internal(format!("stored {what} number {v} out of range")))
}

/// A page of records a user may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// The record's key.
    pub key: String,
    /// Its owner, if any.
    pub owner: Option<UserId>,
}

/// Maps a conflict (a unique-key violation, as [`db`] maps it) to one saying what already
/// exists; other errors pass.
fn unique(message: impl FnOnce() -> String) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Conflict(_) => Error::Conflict(message()),
        other => other,
    }
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

/// [`Store::authz_rebuild`] reports its progress every this many nodes (and at the end of
/// each hierarchy).
pub const PROGRESS_EVERY: u64 = 500;

mod load;
mod read;
pub(crate) mod rebuilds;
pub(crate) mod tx;
mod write;
