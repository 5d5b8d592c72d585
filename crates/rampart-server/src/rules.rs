//! The platform rules the adapters check at their doors, each with the words of its
//! refusal. The API's extractors ([`crate::auth`]) and the console's doors
//! ([`crate::console::door`]) take them from here, so a refusal reads the same through
//! either; who may perform an operation is decided by `rampart_authz::policy`.

use rampart_authz::policy::Operation;

/// An operation and the words of its refusal (the detail of the 403).
pub type Rule = (Operation, &'static str);

/// Creating, changing and disabling users, their sessions, roles and hierarchies.
pub const MANAGE_USERS: Rule = (
    Operation::AdministerUsers,
    "only IT administrators may manage users",
);
/// Reading users and the roles they hold.
pub const READ_USERS: Rule = (
    Operation::ReadUsers,
    "only IT administrators and auditors may read users",
);
/// Changing user providers and the OpenID provider's clients.
pub const CHANGE_PROVIDERS: Rule = (
    Operation::AdministerUsers,
    "only IT administrators may change user providers and OpenID clients",
);
/// Reading user providers and the OpenID provider's clients.
pub const READ_PROVIDERS: Rule = (
    Operation::ReadUsers,
    "only IT administrators and auditors may read user providers and OpenID clients",
);
/// Reading the audit log.
pub const READ_AUDIT_LOG: Rule = (
    Operation::ReadAuditLog,
    "only IT administrators and auditors may read the audit log",
);
/// Reading the security posture.
pub const READ_POSTURE: Rule = (
    Operation::ReadAuditLog,
    "only IT administrators and auditors may read the security posture",
);
/// Reading the alert outbox.
pub const READ_ALERTS: Rule = (
    Operation::ReadAlertDeliveries,
    "only IT administrators and auditors may read alert deliveries",
);
/// Asking for an alert's delivery again.
pub const RETRY_ALERTS: Rule = (
    Operation::RetryAlertDeliveries,
    "only IT administrators may ask for an alert's delivery again",
);
/// Reading authorization data about others.
pub const READ_AUTHORIZATION: Rule = (
    Operation::ReadAuthorizationData,
    "reading authorization data about others needs an administrator or the `auditor` IT role",
);
/// Rebuilding the hierarchy index from the stored trees.
pub const REBUILD_HIERARCHIES: Rule = (
    Operation::AdministerUsers,
    "only IT administrators may rebuild the hierarchy index",
);
