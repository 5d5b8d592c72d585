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
    /// The directory (absolute) whose files the `file:` secret references of an
    /// environment's deployment plans may name, links followed; `{environment}` in it is the
    /// environment's name (e.g. `/etc/rampart/secrets/{environment}`), so each environment
    /// reads its own. Empty: no `file:` reference is allowed. The data directory and the
    /// files the configuration itself reads are never allowed, wherever this points.
    pub secrets_dir: String,
    /// What the variables that `env:` secret references of an environment's deployment
    /// plans name must start with; `{ENVIRONMENT}` in it is the environment's name in upper
    /// case (`-` and `.` as `_`). Without it, every environment reads the same variables.
    /// The variables the configuration itself reads (and `RAMPART_*`) are never allowed.
    pub secret_env_prefix: String,
    /// Address ranges besides the public internet that integrations may call,
    /// comma-separated (e.g. `10.20.0.0/16, 127.0.0.1/32`); empty: public addresses only,
    /// so no module or plan reaches loopback, link-local (cloud metadata) or private
    /// services unless the operator lists them here.
    pub internal_networks: String,
}

impl IntegrationsConfig {
    /// Checks the secret places and the internal networks.
    pub(super) fn validate<E>(
        &self,
        data_dir: &std::path::Path,
        fail: &impl Fn(&str, String, &str) -> E,
    ) -> Result<(), E> {
        let dir = std::path::Path::new(&self.secrets_dir);
        let data = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
        let up = dir
            .components()
            .any(|c| c == std::path::Component::ParentDir);
        if !(self.secrets_dir.is_empty()
            || (dir.is_absolute() && dir.parent().is_some() && !up && !data.starts_with(dir)))
        {
            return Err(fail(
                "integrations.secrets_dir",
                self.secrets_dir.clone(),
                "empty, or an absolute directory path without .., not / and not holding the \
                 data directory (e.g. /etc/rampart/secrets/{environment})",
            ));
        }
        let prefix = &self.secret_env_prefix;
        if !prefix
            .replace(rampart_deploy::secrets::PREFIX_PLACEHOLDER, "")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || prefix.starts_with("RAMPART_")
        {
            return Err(fail(
                "integrations.secret_env_prefix",
                prefix.clone(),
                "letters, digits, '_' and {ENVIRONMENT}, not starting with RAMPART_ (empty: \
                 any variable)",
            ));
        }
        if let Err(e) = super::alerts::ranges(&self.internal_networks) {
            return Err(fail(
                "integrations.internal_networks",
                self.internal_networks.clone(),
                &e,
            ));
        }
        Ok(())
    }
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
            secrets_dir: String::new(),
            secret_env_prefix: "INTEGRATION_SECRET_{ENVIRONMENT}_".into(),
            internal_networks: String::new(),
        }
    }
}
