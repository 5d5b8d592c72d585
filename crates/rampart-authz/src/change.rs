//! The change log's entries: what the store writes under each authorization revision and
//! every node applies, in revision order, to its [`AuthzView`](crate::view::AuthzView).
//!
//! A [`Change`] names things by number, as the index does, and is stored as JSON (`op`
//! names the variant in snake case): the JSON form is a stored format, read back by every
//! node of every later version, so a variant or field is only ever added.

use rampart_core::Error;
use serde::{Deserialize, Serialize};

use crate::acl::HierarchyKind;
use crate::it::DEFAULT_ENVIRONMENTS;

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

/// The environments of a new installation: production has both policies.
pub(crate) fn default_environments() -> Vec<EnvironmentDef> {
    DEFAULT_ENVIRONMENTS
        .iter()
        .map(|name| EnvironmentDef {
            name: (*name).to_owned(),
            separation_of_duties: *name == "production",
            second_approver: *name == "production",
        })
        .collect()
}

/// A hierarchy kind as [`Change::Hierarchy`] and the tables store it.
pub fn kind_name(kind: HierarchyKind) -> &'static str {
    match kind {
        HierarchyKind::ReportsTo => "reports_to",
        HierarchyKind::Units => "units",
    }
}

/// A stored hierarchy kind (see [`kind_name`]); anything else is an internal error.
pub fn parse_kind(name: &str) -> Result<HierarchyKind, Error> {
    match name {
        "reports_to" => Ok(HierarchyKind::ReportsTo),
        "units" => Ok(HierarchyKind::Units),
        other => Err(Error::Internal(format!("stored hierarchy kind {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The stored form is read back by every later version: it must not drift.
    #[test]
    fn the_stored_form_of_changes_is_stable() {
        let cases = [
            (
                Change::UserNum {
                    user: "u".into(),
                    num: 3,
                },
                r#"{"op":"user_num","user":"u","num":3}"#,
            ),
            (Change::Reload, r#"{"op":"reload"}"#),
            (
                Change::Node {
                    hierarchy: 1,
                    node: 2,
                    key: "k".into(),
                    parent: None,
                },
                r#"{"op":"node","hierarchy":1,"node":2,"key":"k","parent":null}"#,
            ),
            (
                Change::RoleGrant {
                    app: 1,
                    role: 2,
                    principal: 3,
                    until: Some(4),
                },
                r#"{"op":"role_grant","app":1,"role":2,"principal":3,"until":4}"#,
            ),
        ];
        for (change, json) in cases {
            assert_eq!(serde_json::to_string(&change).unwrap(), json);
            assert_eq!(serde_json::from_str::<Change>(json).unwrap(), change);
        }
    }

    #[test]
    fn hierarchy_kinds_read_back_what_they_write() {
        for kind in [HierarchyKind::ReportsTo, HierarchyKind::Units] {
            assert_eq!(parse_kind(kind_name(kind)).unwrap(), kind);
        }
        assert!(parse_kind("tree").is_err());
    }
}
