//! Where a secret the configuration needs is kept.

use std::fmt;
use std::path::PathBuf;

/// Where a secret the configuration needs is kept: the configuration holds this
/// reference, never the secret, so neither the file nor `rampart config show` reveals it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: an environment variable of the server's process.
    Env(String),
    /// `file:/absolute/path`: the file's contents, trailing whitespace removed.
    File(PathBuf),
}

impl SecretRef {
    /// Parses `env:NAME` or `file:/absolute/path`; the error says what is allowed.
    pub fn parse(text: &str) -> Result<Self, String> {
        const ALLOWED: &str = "a reference to where the secret is kept, env:NAME or \
                               file:/absolute/path, never the secret itself";
        if let Some(name) = text.strip_prefix("env:") {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "{ALLOWED}; NAME is letters, digits and '_', not starting with a digit"
                ));
            }
            if name.starts_with("RAMPART_") {
                return Err(format!(
                    "{ALLOWED}; variables named RAMPART_* are configuration keys, so name the \
                     variable otherwise (e.g. METRICS_TOKEN)"
                ));
            }
            return Ok(SecretRef::Env(name.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(format!("{ALLOWED}; the path must be absolute"));
            }
            return Ok(SecretRef::File(path));
        }
        Err(ALLOWED.to_owned())
    }

    /// Reads the secret from `env` (the process's environment, as a lookup) or the file.
    /// The error names the reference, never a value.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        let value = match self {
            SecretRef::Env(name) => {
                env(name).ok_or_else(|| format!("the environment variable {name} is not set"))?
            }
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        };
        let value = value.trim_end().to_owned();
        if value.is_empty() {
            return Err(format!("{self} is empty"));
        }
        Ok(value)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}
