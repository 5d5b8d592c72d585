//! Sealed modules: environments' public keys, trusted publishers, imports.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::VersionWire;

/// `GET /api/v1/environments/{env}/public-key`: what a vendor seals a module to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentPublicKey {
    /// The environment.
    pub environment: String,
    /// Its X25519 recipient in the `age` format (`age1…`).
    pub recipient: String,
}

/// `POST /api/v1/publishers`: trust a publisher's Ed25519 key under a name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustPublisherRequest {
    /// The name packages from this key are recorded under.
    pub name: String,
    /// `ed25519:` and the base64 of the 32-byte public key (`rampart publishers keygen`
    /// prints it).
    pub public_key: String,
}

/// A publisher key administrators trust, or trusted until it was revoked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublisherWire {
    /// Its name.
    pub name: String,
    /// `ed25519:` and base64.
    pub public_key: String,
    /// Who trusted it.
    pub trusted_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub trusted_at: OffsetDateTime,
    /// When it was revoked (absent while trusted).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/environments/{env}/imports`: the version a sealed package became.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportResponse {
    /// The version (numbered as the publisher numbered it).
    pub version: VersionWire,
    /// The environment it was sealed to: the only one it may be deployed to.
    pub environment: String,
    /// The publisher's name here.
    pub publisher: String,
}
