//! SCIM provisioning's administration: a user provider's SCIM bearer token, made, rotated
//! and revoked by administrators. The SCIM endpoints themselves (`/scim/v2`) speak RFC 7644's
//! own JSON, not these types.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /api/v1/providers/{name}/scim-token`: the new token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScimTokenIssued {
    /// The bearer token (`rsc_…`) the directory presents to `/scim/v2`. Rampart keeps only
    /// its SHA-256: it cannot be shown again.
    pub token: String,
    /// Whether it replaced an earlier token (which stopped working at once).
    pub rotated: bool,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The SCIM base URL the directory is configured with (`…/scim/v2`).
    pub base_url: String,
}

/// `GET /api/v1/providers/{name}/scim-token`: whether the provider has a token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScimTokenStatus {
    /// Whether a token is in force.
    pub configured: bool,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<OffsetDateTime>,
}
