//! The application runtime's sections of the configuration: `[keys]` (the master key of
//! sensitive values) and `[integrations]` (the limits of outbound calls).

use serde::{Deserialize, Serialize};

/// `[integrations]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationsConfig {
    /// Longest wait for a connection to an integration's service (TCP and TLS).
    pub connect_timeout_seconds: u32,
    /// Longest a call may take in all: connecting, redirects and reading the answer.
    pub timeout_seconds: u32,
    /// Largest answer a call reads; a larger one fails the call and nothing of it is kept.
    pub max_response_bytes: u64,
}

/// `[keys]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Where the master key that wraps each environment's keys of sensitive values is kept:
    /// `env:NAME` or `file:/absolute/path` (32 bytes, standard base64; `rampart keys init`
    /// writes one), never the key itself and never beside the data; empty for none, which
    /// leaves entities with sensitive attributes unavailable.
    pub master_key: String,
}

impl Default for IntegrationsConfig {
    fn default() -> Self {
        IntegrationsConfig {
            connect_timeout_seconds: 5,
            timeout_seconds: 15,
            max_response_bytes: 1024 * 1024,
        }
    }
}
