//! The secret an integration call sends, read only from the places the operator gave
//! (`[integrations] secrets_dir` and `secret_env_prefix`): whoever may deploy to an
//! environment writes the references of its plans, and the server reads them, so a
//! reference must never reach the server's own secrets (its data directory, the master key,
//! its signing keys) or any other file or variable of its process.
//!
//! The rule is checked as written when a plan is made ([`check`], the pure
//! [`rampart_deploy::settings::secret_place`]) and again before each read ([`read`]), on
//! the file the links lead to: a link placed in the secrets directory cannot lead out of it.

use std::path::{Path, PathBuf};

use rampart_deploy::settings::{secret_place, SecretPlaces};

use crate::config::{Config, SecretRef};

/// The data directory as an absolute path (as given when it cannot be made one).
fn data_dir(config: &Config) -> PathBuf {
    std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone())
}

/// Whether `reference` (of any shape a plan accepts) names a place the configuration
/// allows, as written; the reason never holds the reference.
pub(crate) fn check(config: &Config, reference: &str) -> Result<(), String> {
    if !reference.starts_with("vault:") {
        SecretRef::parse(reference).map_err(|_| {
            "a secret reference is env:NAME or file:/absolute/path (or vault:path)".to_owned()
        })?;
    }
    let i = &config.integrations;
    let data = data_dir(config);
    let places = SecretPlaces {
        dir: (!i.secrets_dir.is_empty()).then(|| Path::new(&i.secrets_dir)),
        env_prefix: &i.secret_env_prefix,
        data_dir: &data,
    };
    secret_place(reference, &places)
}

/// Reads the secret `reference` names, if the configuration allows that place: an
/// `env:` or `file:` reference only (the caller answers `vault:`). A file is read where
/// its links lead, which must still be inside the secrets directory and outside the data
/// directory. The reason may name the reference (it goes to the log, not to a client).
pub(crate) fn read(config: &Config, reference: &str) -> Result<String, String> {
    check(config, reference)?;
    let parsed = SecretRef::parse(reference)?;
    let parsed = match parsed {
        SecretRef::Env(_) => parsed,
        SecretRef::File(path) => {
            let real = |p: &Path| {
                std::fs::canonicalize(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            };
            let file = real(&path)?;
            let dir = real(Path::new(&config.integrations.secrets_dir))?;
            let data = real(&data_dir(config))?;
            if !file.starts_with(&dir) || file.starts_with(&data) {
                return Err(format!(
                    "{} leads to {}, outside [integrations] secrets_dir",
                    path.display(),
                    file.display()
                ));
            }
            SecretRef::File(file)
        }
    };
    parsed.resolve(|n| std::env::var(n).ok())
}
