//! The one error type of the platform, with stable codes.
//!
//! Every variant has a [`code`](Error::code) that never changes once released: the HTTP
//! layer turns it into the problem+json `type` (`urn:rampart:problem:<code>`), and clients
//! may match on it. Messages are for people and may change. No variant ever carries a
//! secret: storage failures keep their cause for the log only.

use std::fmt;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which password rule rejected a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    /// Shorter than the configured minimum length.
    MinLength,
    /// Longer than the accepted maximum.
    MaxLength,
    /// Common, or easy to guess according to the strength estimate.
    Guessable,
    /// Contains the user's own name, username or e-mail.
    ContainsUserInfo,
    /// Equal to one of the user's previous passwords.
    Reused,
}

impl PasswordRule {
    /// The rule's stable name, as shown to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordRule::MinLength => "min-length",
            PasswordRule::MaxLength => "max-length",
            PasswordRule::Guessable => "guessable",
            PasswordRule::ContainsUserInfo => "contains-user-info",
            PasswordRule::Reused => "reused",
        }
    }
}

impl fmt::Display for PasswordRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a login was slowed down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// Too many failed logins for this username.
    Account,
    /// Too many failed logins from this source address.
    SourceAddress,
}

/// Everything that can go wrong, as seen by a caller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input failed validation; `field` names the offending part.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, key or parameter at fault.
        field: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A password rule rejected the password.
    #[error("password rejected ({rule}): {reason}")]
    PasswordRejected {
        /// The rule that rejected it.
        rule: PasswordRule,
        /// A sentence explaining the rejection.
        reason: String,
    },
    /// The named thing does not exist (or the caller may not know it exists).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `user`.
        what: &'static str,
    },
    /// The change conflicts with existing state, e.g. a duplicate username.
    #[error("{0}")]
    Conflict(String),
    /// Username or password wrong, or the user unknown: deliberately indistinguishable.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failures; the caller must wait.
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    LoginThrottled {
        /// Seconds until a new attempt is considered.
        retry_after_secs: u64,
        /// Whether the account or the source address is throttled.
        scope: ThrottleScope,
    },
    /// The account is disabled by an administrator.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The password is older than the configured maximum age and must be changed.
    #[error("the password has expired and must be changed")]
    PasswordExpired,
    /// A second factor (a TOTP code or a recovery code) was wrong, already used or not
    /// the user's, or the sign-in waiting for it is unknown or expired; the message says
    /// which of the two, never which code would have worked.
    #[error("{0}")]
    InvalidSecondFactor(&'static str),
    /// The operation needs a second factor verified more recently than the configured
    /// window: verify one with `POST /api/v1/auth/step-up` and try again. The message
    /// names the operation.
    #[error("{0}")]
    StepUpRequired(String),
    /// No valid credentials were presented.
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The module version is sealed: its source and diff are never shown, whatever the
    /// caller's level. The message names the module and version.
    #[error("{0}")]
    Sealed(String),
    /// A call to an outside service that a module's integration declares failed: refused
    /// (an origin, redirect or address outside what the environment declares), no answer in
    /// time, an error status, an answer over the size limit, or credentials the environment
    /// does not configure. The message names the integration and the host, never a secret.
    #[error("{0}")]
    Integration(String),
    /// A limit the platform sets stopped the request: an advanced query ran longer than it
    /// may, or more ran at once than a node allows. The message says which and is shown;
    /// the same request may succeed later.
    #[error("{0}")]
    Limit(String),
    /// A user provider's directory refused or failed an operation that is not the user's
    /// fault: its service account's bind was refused, it answered an error, or a sync would
    /// have disabled everyone. The message names the provider and the reason, never a
    /// secret, and is shown.
    #[error("{0}")]
    Directory(String),
    /// A user provider's directory cannot be reached (no connection, no answer in time, no
    /// secure channel, or its bind password's reference cannot be read). The message names
    /// the provider and is shown; Rampart's own passwords keep working.
    #[error("{0}")]
    DirectoryUnreachable(String),
    /// The platform's mail server did not take a message it was asked to send now (an
    /// enrolment link): no connection, no secure channel, a refused login or recipient.
    /// The message says so and is shown; the cause (never a secret) is for the log.
    #[error("{0}")]
    Mail(String),
    /// The store cannot be reached or refused the operation; the cause is for the log.
    #[error("storage unavailable")]
    Unavailable(String),
    /// A bug or an unexpected condition; the cause is for the log, never for the client.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid-input",
            Error::PasswordRejected { .. } => "password-rejected",
            Error::NotFound { .. } => "not-found",
            Error::Conflict(_) => "conflict",
            Error::InvalidCredentials => "invalid-credentials",
            Error::LoginThrottled { .. } => "login-throttled",
            Error::AccountDisabled => "account-disabled",
            Error::PasswordExpired => "password-expired",
            Error::InvalidSecondFactor(_) => "invalid-second-factor",
            Error::StepUpRequired(_) => "step-up-required",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::Sealed(_) => "sealed-module",
            Error::Integration(_) => "integration-failed",
            Error::Limit(_) => "limit-reached",
            Error::Directory(_) => "directory-failed",
            Error::DirectoryUnreachable(_) => "directory-unreachable",
            Error::Mail(_) => "mail-not-sent",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// A short human title for the kind of error (a problem document's `title`).
    pub fn title(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "Invalid input",
            Error::PasswordRejected { .. } => "Password rejected",
            Error::NotFound { .. } => "Not found",
            Error::Conflict(_) => "Conflict",
            Error::InvalidCredentials => "Invalid credentials",
            Error::LoginThrottled { .. } => "Too many failed logins",
            Error::AccountDisabled => "Account disabled",
            Error::PasswordExpired => "Password expired",
            Error::InvalidSecondFactor(_) => "Invalid second factor",
            Error::StepUpRequired(_) => "Second factor required again",
            Error::Unauthenticated(_) => "Authentication required",
            Error::Forbidden(_) => "Forbidden",
            Error::Sealed(_) => "Sealed module",
            Error::Integration(_) => "Integration failed",
            Error::Limit(_) => "Stopped by a limit",
            Error::Directory(_) => "Directory failed",
            Error::DirectoryUnreachable(_) => "Directory unreachable",
            Error::Mail(_) => "Mail not sent",
            Error::Unavailable(_) => "Service unavailable",
            Error::Internal(_) => "Internal error",
        }
    }

    /// The HTTP status this error answers with, whatever the protocol that carries it.
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidInput { .. } | Error::PasswordRejected { .. } => 422,
            Error::NotFound { .. } => 404,
            Error::Conflict(_) => 409,
            Error::InvalidCredentials
            | Error::InvalidSecondFactor(_)
            | Error::Unauthenticated(_) => 401,
            Error::LoginThrottled { .. } => 429,
            Error::AccountDisabled
            | Error::PasswordExpired
            | Error::Forbidden(_)
            | Error::StepUpRequired(_)
            | Error::Sealed(_) => 403,
            Error::Integration(_) | Error::Directory(_) | Error::Mail(_) => 502,
            Error::Limit(_) | Error::Unavailable(_) | Error::DirectoryUnreachable(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
