//! The secret an integration call sends, read only from the places the operator set aside
//! for the call's environment (`[integrations] secrets_dir` and `secret_env_prefix`, see
//! [`rampart_deploy::secrets`]): whoever may deploy to an environment writes the references
//! of its plans, and the server reads them, so a reference must never reach another
//! environment's secrets, the server's own (its data directory, the master key, its TLS
//! key, the secrets its configuration names) or any other file or variable of its process.
//!
//! The rule is checked as written when a plan is made ([`check`]) and again before each
//! read ([`read`]): a file is opened, and what was opened (its real path, as the kernel
//! names the open file) must still be a place the rule allows, and have one name only (a
//! hard link is another name for someone else's file). A link placed in the directory
//! cannot lead out of it, and a swap between the check and the read changes nothing.

use std::io::Read as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use rampart_deploy::secrets::{dir_of, prefix_of, resolved_place, secret_place, SecretPlaces};

use crate::config::{Config, SecretRef};

/// The largest secret file read.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// What the server's own configuration reads, which no plan may name.
struct Own {
    data: PathBuf,
    files: Vec<PathBuf>,
    vars: Vec<String>,
}

impl Own {
    fn of(config: &Config) -> Own {
        let mut files = Vec::new();
        let mut vars = Vec::new();
        for reference in [
            &config.keys.master_key,
            &config.metrics.token,
            &config.support.smtp_password,
            &config.alerts.webhook_secret,
        ] {
            match SecretRef::parse(reference) {
                Ok(SecretRef::File(path)) => files.push(path),
                Ok(SecretRef::Env(name)) => vars.push(name),
                Err(_) => {}
            }
        }
        if !config.tls_key.is_empty() {
            files.push(absolute(Path::new(&config.tls_key)));
        }
        Own {
            data: absolute(&config.data_dir),
            files,
            vars,
        }
    }
}

/// `path` made absolute (as given when it cannot be).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Whether `reference` (of any shape a plan accepts) names a place the configuration
/// allows for `environment`, as written; the reason never holds the reference.
pub(crate) fn check(config: &Config, environment: &str, reference: &str) -> Result<(), String> {
    check_with(config, &Own::of(config), environment, reference)
}

/// [`check`], with what the configuration reads already gathered.
fn check_with(
    config: &Config,
    own: &Own,
    environment: &str,
    reference: &str,
) -> Result<(), String> {
    if !reference.starts_with("vault:") {
        SecretRef::parse(reference).map_err(|_| {
            "a secret reference is env:NAME or file:/absolute/path (or vault:path)".to_owned()
        })?;
    }
    let i = &config.integrations;
    let dir = (!i.secrets_dir.is_empty()).then(|| dir_of(&i.secrets_dir, environment));
    let prefix = prefix_of(&i.secret_env_prefix, environment);
    let places = SecretPlaces {
        dir: dir.as_deref(),
        env_prefix: &prefix,
        data_dir: &own.data,
        own_files: &own.files,
        own_vars: &own.vars,
    };
    secret_place(reference, &places)
}

/// Reads the secret `reference` names for a call in `environment`, if the configuration
/// allows that place: an `env:` or `file:` reference only (the caller answers `vault:`).
/// The reason may name the reference (it goes to the log, not to a client).
pub(crate) fn read(config: &Config, environment: &str, reference: &str) -> Result<String, String> {
    let own = Own::of(config);
    check_with(config, &own, environment, reference)?;
    let path = match SecretRef::parse(reference)? {
        env @ SecretRef::Env(_) => return env.resolve(|n| std::env::var(n).ok()),
        SecretRef::File(path) => path,
    };
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(&path).map_err(cannot)?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(cannot)?;
    let resolve = |p: &Path| std::fs::canonicalize(p).map_err(cannot);
    let dir = resolve(&dir_of(&config.integrations.secrets_dir, environment))?;
    let data = resolve(&own.data)?;
    let own_files: Vec<PathBuf> = own
        .files
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .collect();
    if !resolved_place(&real, &dir, &data, &own_files) {
        return Err(format!(
            "{} leads to {}, which is not a place [integrations] allows for {environment}",
            path.display(),
            real.display()
        ));
    }
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(format!(
            "{} is not a plain file with one name (a hard link names another file too)",
            path.display()
        ));
    }
    let mut text = String::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!("{} is larger than 64 KiB", path.display()));
    }
    let value = text.trim_end().to_owned();
    if value.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(value)
}
