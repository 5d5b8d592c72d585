//! User providers: the directories and identity providers that vouch for users besides
//! Rampart's own passwords.
//!
//! - [`settings`] (pure): a provider's settings as administrators write them and the store
//!   keeps them (`kind` plus a JSON object per kind), and their validation: every rule
//!   broken is named with its field; secrets are references (`env:`, `file:`), never values;
//!   a plain-text connection is allowed to loopback only.
//! - [`rules`] (pure): the decisions around a directory: the search filter for one username
//!   (the value escaped per RFC 4515 by `ldap3::ldap_escape`), directory groups to IT and
//!   application roles, and what a sync run changes given the local and the directory users.
//! - [`claims`] (pure): the user a verified ID token describes (subject, username claim,
//!   an e-mail only when verified, groups claim) and the time rule of its `iat`.
//! - [`ldap`]: the LDAP client (`ldap3` over tokio and rustls).
//! - [`oidc`]: the OpenID Connect client (`openidconnect` over reqwest and rustls):
//!   discovery and JWKS (fetched again, bounded, for an unknown `kid`), the code flow with
//!   PKCE S256, `state` and `nonce`, the ID token's validation.
//! - [`saml`]: SAML 2.0 sign-in, Rampart as the service provider: metadata, the signed
//!   AuthnRequest, responses' XML signatures checked by xmlsec and reduced to what they
//!   sign, and the pure rules of what a signed assertion must say.
//!
//! **Architecture Invariant:** the service layer reaches a directory only through the
//! [`Directory`] trait and an identity provider only through [`oidc::SignInProvider`], and
//! passes what it reads to the pure rules; the protocol clients know
//! nothing of the store, sessions or the audit log. A user's directory password goes to the
//! directory's bind and nowhere else: it is never stored, logged or put in an error.

pub mod claims;
pub mod ldap;
pub mod oidc;
pub mod rules;
pub mod saml;
pub mod settings;

use std::future::Future;

pub use ldap::LdapDirectory;
pub use oidc::{OidcClient, OidcError, SignInProvider};
pub use settings::{GroupMapping, LdapSettings, OidcSettings, ProviderSettings, Security, Users};

/// What a directory says of one of its users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The entry's distinguished name.
    pub dn: String,
    /// The username, as the directory spells it (the configured username attribute).
    pub username: String,
    /// E-mail, when the directory has one.
    pub email: Option<String>,
    /// Human name, when the directory has one.
    pub display_name: Option<String>,
    /// The groups the entry is a member of (the configured group attribute's values).
    pub groups: Vec<String>,
}

/// Why a directory did not answer what was asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    /// The password was empty: refused before any bind (an LDAP bind with a name and no
    /// password is an "unauthenticated bind", which servers answer with success).
    #[error("an empty password is refused")]
    EmptyPassword,
    /// No entry matches the username.
    #[error("no such user in the directory")]
    UnknownUser,
    /// More than one entry matches the username; the filter does not identify users.
    #[error("more than one directory entry matches the username")]
    Ambiguous,
    /// The directory refused the user's password.
    #[error("the directory refused the password")]
    WrongPassword,
    /// The directory refused the user's bind for a reason of the account's (Active
    /// Directory's `data …` codes, see [`rules::bind_refusal`]): disabled, expired, locked,
    /// a password to change. Told to nobody but the audit trail and the logs.
    #[error("the directory refused the sign-in ({0})")]
    AccountRefused(&'static str),
    /// The directory refused the service account's bind DN or password.
    #[error("the directory refused the service account's credentials (bind DN or password)")]
    ServiceBind,
    /// The bind password's secret reference cannot be read.
    #[error("the bind password cannot be read: {0}")]
    Secret(String),
    /// The directory cannot be reached, or the secure channel cannot be made.
    #[error("the directory cannot be reached: {0}")]
    Unreachable(String),
    /// The directory answered something else than expected.
    #[error("the directory answered an error: {0}")]
    Protocol(String),
}

impl DirectoryError {
    /// A stable short reason, for audit events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DirectoryError::EmptyPassword => "empty-password",
            DirectoryError::UnknownUser => "unknown-user",
            DirectoryError::Ambiguous => "ambiguous-user",
            DirectoryError::WrongPassword => "wrong-password",
            DirectoryError::AccountRefused(reason) => reason,
            DirectoryError::ServiceBind => "service-bind-refused",
            DirectoryError::Secret(_) => "secret-unreadable",
            DirectoryError::Unreachable(_) => "unreachable",
            DirectoryError::Protocol(_) => "directory-error",
        }
    }
}

/// A directory of users: what the service layer asks of an LDAP server (and, later, of an
/// Active Directory domain).
pub trait Directory: Send + Sync {
    /// Checks `password` for `username` by binding as the user; answers what the directory
    /// holds of them. An empty password is refused before connecting.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Result<DirectoryUser, DirectoryError>> + Send;

    /// The user `username`, read with the service account; `None` when absent.
    fn lookup(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<DirectoryUser>, DirectoryError>> + Send;

    /// Every user the configured filter matches, for a sync run.
    fn list_users(&self)
        -> impl Future<Output = Result<Vec<DirectoryUser>, DirectoryError>> + Send;

    /// Connects and binds with the service account: the "test connection" of a provider.
    fn check(&self) -> impl Future<Output = Result<(), DirectoryError>> + Send;
}
