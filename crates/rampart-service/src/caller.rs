//! Who asks, whatever the protocol: what a use case needs to know about a request.

use std::net::IpAddr;

use rampart_core::{AuditContext, User};

/// An unauthenticated request: where it came from and the audit context naming it (request
/// id, source, node), with no actor yet.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The peer address, for per-address throttling.
    pub source: Option<IpAddr>,
    /// The audit context of the request, without an actor.
    pub audit: AuditContext,
}

impl Origin {
    /// The audit context of this request acting as `user`: a successful login is the user's
    /// own act, so its actor is the user (a failed one names the user only as target:
    /// someone else may have typed the name).
    pub fn audit_as(&self, user: &User) -> AuditContext {
        AuditContext {
            actor_id: Some(user.id),
            actor_name: Some(format!("{}:{}", user.provider, user.username)),
            ..self.audit.clone()
        }
    }
}

/// An authenticated caller: the user and the audit context naming them as the actor.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The audit context of the request, with this user as the actor.
    pub audit: AuditContext,
    /// When the request arrived: what other nodes committed before it is seen by its
    /// decisions (see [`crate::fence`]).
    pub arrived: crate::fence::Ticket,
    /// When the caller's session last verified a second factor (`None`: never, or no
    /// session), which step-up judges (see [`crate::identity::mfa::require_step_up`]).
    pub second_factor_at: Option<time::OffsetDateTime>,
}

/// Whether a request id from a client is safe to keep (logs, audit events): 1 to 64 of
/// `A-Z a-z 0-9 . _ -`.
pub fn is_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
