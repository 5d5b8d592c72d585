//! SAML 2.0: Rampart as a service provider of an identity provider that vouches for users
//! (Web Browser SSO profile: a signed AuthnRequest over HTTP-Redirect, the response over
//! HTTP-POST).
//!
//! - [`settings`] (pure): a SAML provider's settings and their rules.
//! - [`metadata`]: the identity provider's metadata (parsed, fetched over HTTPS) and Rampart's
//!   own as a service provider.
//! - [`request`]: the service provider's signing key and the signed AuthnRequest.
//! - [`response`]: the response's XML signatures checked by xmlsec (`samael` over Debian's
//!   libxmlsec1) and reduced to what they sign, so only signed content is ever read.
//! - [`decrypt`]: encrypted assertions: the service provider's decryption key, the
//!   algorithms accepted (RSA-OAEP; AES-GCM, and AES-CBC only under the Response's verified
//!   signature) and the decryption (OpenSSL's primitives, every length checked first).
//! - [`rules`] (pure): what a signed assertion must say (issuer, audience, recipient,
//!   destination, time windows with the allowed skew, the request it answers), the return
//!   address a sign-in may go back to, and the user it names.
//!
//! **Architecture Invariant:** no element is read from a response unless an XML signature
//! made by one of the identity provider's signing certificates covers it: the verifier
//! hands back only the signed elements (never "a signature is present somewhere"), and a
//! response holding more than one assertion (plain or encrypted) is refused before that. An
//! encrypted assertion is decrypted only under a verified signature of the Response, or, in
//! an unsigned Response, with authenticated encryption and then verified by its own
//! signature like a plain one. XML canonicalisation and signature checks are xmlsec's, the
//! ciphers OpenSSL's; nothing here re-implements them.

pub mod decrypt;
pub mod metadata;
pub mod request;
pub mod response;
pub mod rules;
pub mod settings;

pub use decrypt::{encryption_certificate, DecryptionKey, KeyError};
pub use metadata::IdpMetadata;
pub use request::{binding_hash, browser_binding, signed_redirect, Redirect, RequestParts, SpKey};
pub use response::{verify, Verified};
pub use rules::{check, return_address, Accepted, Expected};
pub use settings::{validate_saml, SamlSettings};

/// Why an identity provider or its metadata could not be used (not a refused response, see
/// [`Refusal`]).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    /// The metadata URL cannot be reached or answered an error.
    #[error("the identity provider's metadata cannot be fetched: {0}")]
    Unreachable(String),
    /// The metadata is not usable SAML metadata.
    #[error("the identity provider's metadata is not usable: {0}")]
    Metadata(String),
    /// Something of Rampart's own failed (the signing key, writing XML).
    #[error("{0}")]
    Internal(String),
}

impl SamlError {
    /// A stable short reason, for audit events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            SamlError::Unreachable(_) => "metadata-unreachable",
            SamlError::Metadata(_) => "metadata-invalid",
            SamlError::Internal(_) => "internal",
        }
    }
}

/// Why a response was refused: a stable `reason` for the audit trail and a sentence for
/// whoever is signing in (which names no secret and no more of the response than its
/// reason needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `signature-invalid`, `expired`, `replayed`…
    pub reason: &'static str,
    /// What was wrong, in a sentence.
    pub detail: String,
}

impl Refusal {
    /// A refusal for `reason`, told as `detail`.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Refusal {
            reason,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.reason)
    }
}

/// `t` as the time type of the SAML object model.
pub fn chrono_time(t: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}
