//! Principals, sessions and the audit event every change is recorded with.

use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Error;

/// The user provider a principal belongs to.
///
/// IT users work on the platform (console, lifecycle); end users use the applications.
/// The two live in one store but never share a namespace: `alice` can exist in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Developers, operators, administrators and auditors of the platform.
    It,
    /// Users of the applications.
    End,
}

impl Provider {
    /// The provider's stable name (`it` or `end`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::It => "it",
            Provider::End => "end",
        }
    }

    /// Parses `it` or `end`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "it" => Ok(Provider::It),
            "end" => Ok(Provider::End),
            other => Err(Error::invalid(
                "provider",
                format!("{other:?} is not a provider; use \"it\" or \"end\""),
            )),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's identifier: a UUIDv7, so ids sort by creation time and reveal no count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub Uuid);

impl UserId {
    /// A fresh identifier.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses the textual form, naming `field` in the error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, Error> {
        Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| Error::invalid(field, "must be a UUID"))
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored user, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Which provider the user belongs to.
    pub provider: Provider,
    /// The username as chosen.
    pub username: String,
    /// Human name, optional.
    pub display_name: Option<String>,
    /// Normalised e-mail, optional.
    pub email: Option<String>,
    /// Disabled users cannot log in and their sessions are revoked.
    pub disabled: bool,
    /// Whether the user holds the platform administrator role (IT users only).
    pub is_admin: bool,
    /// The user provider (a directory) that vouches for the user, by name; `None` for users
    /// of Rampart's own passwords.
    pub user_provider: Option<String>,
    /// Whether the account has a password of Rampart's own: `false` for a directory's
    /// users (their password is the directory's) and for an account created without one
    /// that has not set one since.
    pub has_password: bool,
    /// When the password was last set.
    pub password_changed_at: OffsetDateTime,
    /// Last successful login.
    pub last_login_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change time.
    pub updated_at: OffsetDateTime,
}

impl User {
    /// An account of Rampart's own with no password: it signs in with its passkeys alone,
    /// enrolled through links (a directory's users have no Rampart password either, but
    /// sign in through their directory).
    pub fn passwordless(&self) -> bool {
        !self.has_password && self.user_provider.is_none()
    }
}

/// A session's identifier (not its secret token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub Uuid);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login session. The secret token is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Identifier, safe to show and log.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last time the session was used (updated at most once a minute).
    pub last_seen_at: OffsetDateTime,
    /// Absolute expiry, whatever the activity.
    pub expires_at: OffsetDateTime,
    /// Set when the session was ended.
    pub revoked_at: Option<OffsetDateTime>,
    /// When a second factor was last verified in this session (at sign-in or a step-up);
    /// `None` for a session opened with a password alone.
    pub second_factor_at: Option<OffsetDateTime>,
}

/// The outcome an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The action happened.
    Success,
    /// The action was attempted and refused or failed.
    Failure,
}

impl Outcome {
    /// `success` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// Who is acting, and on which request: attached to every audit event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditContext {
    /// The acting principal; `None` for anonymous requests and the system itself.
    pub actor_id: Option<UserId>,
    /// The actor's username at the time, for readability of the trail.
    pub actor_name: Option<String>,
    /// The request id the action came from.
    pub request_id: Option<String>,
    /// The source address of the request.
    pub source: Option<String>,
    /// The node that served it.
    pub node_id: String,
}

/// An event of the `system` stream (IT activity), recorded with the change it describes.
///
/// `details` is structured data that must never contain a secret: callers put names,
/// ids and reasons there, never passwords, tokens or hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Dotted action name, e.g. `user.create`, `auth.login`.
    pub action: &'static str,
    /// What the action was done to, e.g. `user:0190…`.
    pub target: Option<String>,
    /// Whether it succeeded.
    pub outcome: Outcome,
    /// Additional structured facts, as a JSON object text.
    pub details: String,
}
