//! Rampart as an OpenID Connect provider: the use cases behind `/oauth2/…` and
//! `/api/v1/idp/…`. The decisions are `rampart_idp`'s; this module looks up what they
//! judge (clients, codes, families, consents, keys), applies the verdicts through the store
//! (whose mutations write their `idp.*` events) and records every refusal in the audit
//! trail (`outcome: failure`, the reason, never a secret).
//!
//! - [`clients`]: registration by administrators (API and CLI), secrets shown once.
//! - [`authorize`]: the authorization endpoint and the consent decision.
//! - [`token`]: client authentication and the token endpoint's three grants.
//! - [`access`]: userinfo, introspection (RFC 7662), revocation (RFC 7009) and
//!   RP-initiated logout.
//! - [`keys`]: the signing keys, their cache and their rotation.

pub mod access;
pub mod authorize;
pub mod clients;
pub mod keys;
pub mod token;

use rampart_core::{AuditContext, AuditEvent, Error, Outcome};
use rampart_store::NewEvent;
use serde_json::Value;

use crate::state::AppState;

/// How long an authorization code may wait for its token request.
pub const CODE_LIFETIME: i64 = 60;
/// How long ID and access tokens live, seconds.
pub const TOKEN_LIFETIME: i64 = 300;
/// How long a refresh-token family lives from its grant, seconds (30 days).
pub const FAMILY_LIFETIME: i64 = 30 * 24 * 3600;

/// An OAuth error answer (RFC 6749 §5.2): the status, the code and a description that
/// names no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: u16,
    /// `invalid_request`, `invalid_client`, `invalid_grant`, …
    pub error: &'static str,
    /// Why.
    pub description: String,
}

impl OAuthError {
    /// A 400 with `error`.
    pub fn bad(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            error,
            description: description.into(),
        }
    }

    /// A 401 `invalid_client`.
    pub fn client(description: impl Into<String>) -> Self {
        OAuthError {
            status: 401,
            error: "invalid_client",
            description: description.into(),
        }
    }

    /// A 401 `invalid_token` (RFC 6750).
    pub fn token(description: impl Into<String>) -> Self {
        OAuthError {
            status: 401,
            error: "invalid_token",
            description: description.into(),
        }
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unavailable(_) => OAuthError {
                status: 503,
                error: "temporarily_unavailable",
                description: "the provider is unavailable; try again".into(),
            },
            e => {
                tracing::error!(error = %e, "an OpenID provider request failed");
                OAuthError {
                    status: 500,
                    error: "server_error",
                    description: "the provider failed to answer".into(),
                }
            }
        }
    }
}

/// Records a refusal: `action` failed for `client` (when known) because of `reason`.
pub async fn refused(
    state: &AppState,
    ctx: &AuditContext,
    action: &'static str,
    client: Option<&str>,
    mut details: Value,
) {
    if let (Some(c), Some(map)) = (client, details.as_object_mut()) {
        map.insert("client_id".into(), Value::String(c.to_owned()));
    }
    let event = AuditEvent {
        action,
        target: client.map(|c| format!("idp-client:{c}")),
        outcome: Outcome::Failure,
        details: details.to_string(),
    };
    let event = NewEvent::system(ctx, &event, state.clock.now());
    if let Err(e) = state.audit.append(event).await {
        tracing::error!(error = %e, action, "a refusal could not be recorded");
    }
}

/// Records a success that changes nothing stored (a client-credentials grant).
pub async fn recorded(
    state: &AppState,
    ctx: &AuditContext,
    action: &'static str,
    client: &str,
    details: Value,
) -> Result<(), Error> {
    let event = AuditEvent {
        action,
        target: Some(format!("idp-client:{client}")),
        outcome: Outcome::Success,
        details: details.to_string(),
    };
    state
        .audit
        .append_alone(NewEvent::system(ctx, &event, state.clock.now()))
        .await
}
