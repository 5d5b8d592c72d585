//! Who may do what on the platform itself: the rules that depend on who the caller is, as
//! one table, and the IT level each module-lifecycle operation needs.
//!
//! Two kinds of rule decide an API call:
//! - **Platform rules** ([`Operation`], [`POLICY`]): administering users, reading the audit
//!   log, reporting integration calls, reading and acting on the alert outbox, asking about other users' rights, changing IT roles
//!   or environments. They depend only on the caller's kind (IT user or end user), whether
//!   they are a platform administrator, and whether they hold the `auditor` IT role. Some
//!   name an object the caller must hold `full` on instead ([`Needs::AdministratorOrFull`]),
//!   which [`crate::it::Permissions::check_can_grant`] decides.
//! - **Lifecycle levels** ([`LifecycleOp`], [`level_needed`]): the IT permission level a
//!   module operation needs in its environment; platform administrators hold `full`
//!   everywhere and end users hold nothing ([`platform_level`]).
//!
//! The adapters ask here and word the refusal; no rule is written anywhere else.

use crate::it::Level;

/// The kind of account calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A developer, operator, administrator or service of the platform.
    ItUser,
    /// A user of the applications.
    EndUser,
}

/// What the platform rules know of a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// IT user or end user.
    pub kind: Kind,
    /// A platform administrator (only IT users can be).
    pub administrator: bool,
    /// Holds the `auditor` IT role: reads the audit log and authorization data, changes
    /// nothing.
    pub auditor: bool,
}

/// Who may perform an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any authenticated caller.
    Anyone,
    /// An IT user (not an end user).
    ItUser,
    /// An IT user who is not only an auditor: administrators, and IT users without the
    /// `auditor` role (auditors read, they never add to what they audit).
    ItUserNotAuditor,
    /// An IT administrator or an IT auditor.
    AdministratorOrAuditor,
    /// An IT administrator.
    Administrator,
    /// An IT administrator, or an IT user holding `full` on the object the operation
    /// changes (decided with the object by [`crate::it::Permissions::check_can_grant`]).
    AdministratorOrFull,
}

/// Operations on the platform whose permission depends on who the caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// List, create, change, disable, delete users; reset passwords; end sessions.
    AdministerUsers,
    /// List and read users (and the roles they hold) without changing them.
    ReadUsers,
    /// Search and export the audit log, read checkpoints and proofs.
    ReadAuditLog,
    /// Open the console (its pages then check their own operation).
    OpenConsole,
    /// Open the console's support desk and one's own account pages: end users too, who are
    /// the contacts of the operator's customers (the pages then check their own rules).
    OpenSupportDesk,
    /// Report integration calls into the `integration` stream.
    ReportIntegration,
    /// Ask for decisions, explanations or readable records about oneself.
    AskAboutThemselves,
    /// Ask for decisions about other users.
    AskDecisionsAboutOthers,
    /// Read authorization data about others: the model, grants, explanations, other users'
    /// readable records, roles and IT levels.
    ReadAuthorizationData,
    /// Reserve, transfer and release module names.
    ManageModuleNames,
    /// Assign IT roles to users.
    AssignItRoles,
    /// Change an IT role's level in an environment.
    ChangeRoleLevels,
    /// Change the environments and their policies.
    ChangeEnvironments,
    /// Create or delete teams.
    ManageTeams,
    /// Staff a team, give an application to a team, register a module for an application,
    /// or set a per-application or per-module override.
    GrantOnObject,
    /// Create support companies, and manage any company's members and administrators (a
    /// company's own administrators manage theirs: `rampart_support`).
    ManageSupportCompanies,
    /// Read the alert outbox: deliveries waiting and those that gave up.
    ReadAlertDeliveries,
    /// Ask for an alert's delivery to a sink again.
    RetryAlertDeliveries,
}

impl Operation {
    /// Every operation, for exhaustive tests.
    pub const ALL: [Operation; 18] = [
        Operation::AdministerUsers,
        Operation::ReadUsers,
        Operation::ReadAuditLog,
        Operation::OpenConsole,
        Operation::OpenSupportDesk,
        Operation::ReportIntegration,
        Operation::AskAboutThemselves,
        Operation::AskDecisionsAboutOthers,
        Operation::ReadAuthorizationData,
        Operation::ManageModuleNames,
        Operation::AssignItRoles,
        Operation::ChangeRoleLevels,
        Operation::ChangeEnvironments,
        Operation::ManageTeams,
        Operation::GrantOnObject,
        Operation::ManageSupportCompanies,
        Operation::ReadAlertDeliveries,
        Operation::RetryAlertDeliveries,
    ];
}

/// The platform rules: who may perform each operation.
pub const POLICY: [(Operation, Needs); 18] = [
    (Operation::AdministerUsers, Needs::Administrator),
    (Operation::ReadUsers, Needs::AdministratorOrAuditor),
    (Operation::ReadAuditLog, Needs::AdministratorOrAuditor),
    (Operation::OpenConsole, Needs::ItUser),
    (Operation::OpenSupportDesk, Needs::Anyone),
    (Operation::ReportIntegration, Needs::ItUserNotAuditor),
    (Operation::AskAboutThemselves, Needs::Anyone),
    (Operation::AskDecisionsAboutOthers, Needs::ItUser),
    (
        Operation::ReadAuthorizationData,
        Needs::AdministratorOrAuditor,
    ),
    (Operation::ManageModuleNames, Needs::Administrator),
    (Operation::AssignItRoles, Needs::Administrator),
    (Operation::ChangeRoleLevels, Needs::Administrator),
    (Operation::ChangeEnvironments, Needs::Administrator),
    (Operation::ManageTeams, Needs::Administrator),
    (Operation::GrantOnObject, Needs::AdministratorOrFull),
    (Operation::ManageSupportCompanies, Needs::Administrator),
    (
        Operation::ReadAlertDeliveries,
        Needs::AdministratorOrAuditor,
    ),
    (Operation::RetryAlertDeliveries, Needs::Administrator),
];

/// Who may perform `op`.
pub fn needs(op: Operation) -> Needs {
    POLICY
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(Needs::Administrator, |(_, needs)| *needs)
}

/// The answer of the platform rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allow,
    /// Allowed if the caller holds `full` on the object (an IT user who is not an
    /// administrator, for [`Needs::AdministratorOrFull`]).
    IfFullOnObject,
    /// Refused; the caller is not among those `Needs` names.
    Deny(Needs),
}

/// Whether `who` may perform `op`.
pub fn decide(who: Principal, op: Operation) -> Verdict {
    let it = who.kind == Kind::ItUser;
    let admin = it && who.administrator;
    let auditor = it && who.auditor;
    let needs = needs(op);
    let allowed = match needs {
        Needs::Anyone => true,
        Needs::ItUser => it,
        Needs::ItUserNotAuditor => it && (admin || !auditor),
        Needs::AdministratorOrAuditor => admin || auditor,
        Needs::Administrator => admin,
        Needs::AdministratorOrFull if admin => true,
        Needs::AdministratorOrFull if it => return Verdict::IfFullOnObject,
        Needs::AdministratorOrFull => false,
    };
    if allowed {
        Verdict::Allow
    } else {
        Verdict::Deny(needs)
    }
}

/// Module-lifecycle operations, each needing an IT level in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleOp {
    /// See a module's public surface, list its versions (authoring environment).
    SeeSurface,
    /// Read a version's source, diff two versions (authoring environment).
    ReadSource,
    /// Publish a version, delete one that runs nowhere (authoring environment).
    Publish,
    /// Publish a change that breaks deployed dependants (authoring environment).
    PublishBreaking,
    /// Use another module's public elements (authoring environment).
    UseDependency,
    /// Deploy, stage into, roll back (the target environment).
    Deploy,
}

impl LifecycleOp {
    /// Every operation, for exhaustive tests.
    pub const ALL: [LifecycleOp; 6] = [
        LifecycleOp::SeeSurface,
        LifecycleOp::ReadSource,
        LifecycleOp::Publish,
        LifecycleOp::PublishBreaking,
        LifecycleOp::UseDependency,
        LifecycleOp::Deploy,
    ];
}

/// The level each lifecycle operation needs.
pub const LIFECYCLE: [(LifecycleOp, Level); 6] = [
    (LifecycleOp::SeeSurface, Level::Reference),
    (LifecycleOp::ReadSource, Level::Open),
    (LifecycleOp::Publish, Level::Change),
    (LifecycleOp::PublishBreaking, Level::Full),
    (LifecycleOp::UseDependency, Level::Reference),
    (LifecycleOp::Deploy, Level::Deploy),
];

/// The level `op` needs.
pub fn level_needed(op: LifecycleOp) -> Level {
    LIFECYCLE
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(Level::Full, |(_, level)| *level)
}

/// A caller's level decided by who they are alone: `full` for platform administrators,
/// `none` for end users, and `None` when it depends on their IT permissions.
pub fn platform_level(who: Principal) -> Option<Level> {
    match who.kind {
        Kind::EndUser => Some(Level::None),
        Kind::ItUser if who.administrator => Some(Level::Full),
        Kind::ItUser => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: Principal = Principal {
        kind: Kind::EndUser,
        administrator: false,
        auditor: false,
    };
    const IT: Principal = Principal {
        kind: Kind::ItUser,
        administrator: false,
        auditor: false,
    };
    const AUDITOR: Principal = Principal {
        kind: Kind::ItUser,
        administrator: false,
        auditor: true,
    };
    const ADMIN: Principal = Principal {
        kind: Kind::ItUser,
        administrator: true,
        auditor: false,
    };
    const ADMIN_AUDITOR: Principal = Principal {
        kind: Kind::ItUser,
        administrator: true,
        auditor: true,
    };

    /// Every operation against every kind of caller, written out by hand: `A` allow, `F`
    /// allow with `full` on the object, `-` deny. Columns: end user, IT user, auditor,
    /// administrator, administrator who is also an auditor.
    #[test]
    fn every_operation_against_every_kind_of_caller() {
        let table: [(Operation, &str); 18] = [
            (Operation::AdministerUsers, "---AA"),
            (Operation::ReadUsers, "--AAA"),
            (Operation::ReadAuditLog, "--AAA"),
            (Operation::OpenConsole, "-AAAA"),
            (Operation::OpenSupportDesk, "AAAAA"),
            (Operation::ReportIntegration, "-A-AA"),
            (Operation::AskAboutThemselves, "AAAAA"),
            (Operation::AskDecisionsAboutOthers, "-AAAA"),
            (Operation::ReadAuthorizationData, "--AAA"),
            (Operation::ManageModuleNames, "---AA"),
            (Operation::AssignItRoles, "---AA"),
            (Operation::ChangeRoleLevels, "---AA"),
            (Operation::ChangeEnvironments, "---AA"),
            (Operation::ManageTeams, "---AA"),
            (Operation::GrantOnObject, "-FFAA"),
            (Operation::ManageSupportCompanies, "---AA"),
            (Operation::ReadAlertDeliveries, "--AAA"),
            (Operation::RetryAlertDeliveries, "---AA"),
        ];
        assert_eq!(table.len(), Operation::ALL.len());
        let callers = [END, IT, AUDITOR, ADMIN, ADMIN_AUDITOR];
        for (op, expected) in table {
            for (who, want) in callers.iter().zip(expected.chars()) {
                let got = match decide(*who, op) {
                    Verdict::Allow => 'A',
                    Verdict::IfFullOnObject => 'F',
                    Verdict::Deny(needs) => {
                        assert_eq!(needs, super::needs(op));
                        '-'
                    }
                };
                assert_eq!(got, want, "{op:?} for {who:?}");
            }
        }
    }

    #[test]
    fn an_end_user_flagged_administrator_or_auditor_gains_nothing() {
        let forged = Principal {
            kind: Kind::EndUser,
            administrator: true,
            auditor: true,
        };
        for op in Operation::ALL {
            assert_eq!(decide(forged, op), decide(END, op), "{op:?}");
        }
        assert_eq!(platform_level(forged), Some(Level::None));
    }

    #[test]
    fn every_operation_has_one_rule() {
        for op in Operation::ALL {
            assert_eq!(POLICY.iter().filter(|(o, _)| *o == op).count(), 1, "{op:?}");
        }
        for op in LifecycleOp::ALL {
            assert_eq!(
                LIFECYCLE.iter().filter(|(o, _)| *o == op).count(),
                1,
                "{op:?}"
            );
        }
    }

    #[test]
    fn lifecycle_levels_rise_with_what_the_operation_reveals_or_changes() {
        let table = [
            (LifecycleOp::SeeSurface, "reference"),
            (LifecycleOp::UseDependency, "reference"),
            (LifecycleOp::ReadSource, "open"),
            (LifecycleOp::Publish, "change"),
            (LifecycleOp::Deploy, "deploy"),
            (LifecycleOp::PublishBreaking, "full"),
        ];
        for (op, level) in table {
            assert_eq!(level_needed(op).as_str(), level, "{op:?}");
        }
        assert_eq!(platform_level(ADMIN), Some(Level::Full));
        assert_eq!(platform_level(IT), None);
        assert_eq!(platform_level(END), Some(Level::None));
    }
}
