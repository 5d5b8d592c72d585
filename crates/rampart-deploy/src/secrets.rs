//! Where an environment's integration secrets may be read from, as a plan writes them.
//!
//! Whoever may deploy to an environment writes its plans, and the server reads the secrets
//! they name and sends them to the integration's host, which the plan may also choose. So
//! a reference reaches only what the operator set aside for that environment
//! (`[integrations]` of the configuration):
//! - `env:NAME`: NAME starts with the environment's prefix (`secret_env_prefix`, whose
//!   `{ENVIRONMENT}` is the environment's name in upper case, `-` and `.` as `_`), and is
//!   none of the variables the server's own configuration reads;
//! - `file:/path`: inside the environment's directory (`secrets_dir`, whose `{environment}`
//!   is the environment's name), written without `..`, outside the data directory and
//!   `/proc`, `/sys`, `/dev`, and none of the files the server's own configuration reads;
//! - `vault:path`: as it is (the call says whether a vault answers).
//!
//! This is the rule as written; the caller checks the file it would read again, where its
//! links lead (see `service::apps::integrations::secrets`).

use std::path::{Component, Path, PathBuf};

/// The placeholder of `secrets_dir` for the environment's name.
pub const DIR_PLACEHOLDER: &str = "{environment}";
/// The placeholder of `secret_env_prefix` for the environment's name.
pub const PREFIX_PLACEHOLDER: &str = "{ENVIRONMENT}";

/// Places no secret reference names, whatever the directory: the kernel's views of the
/// server's own process and devices.
const NEVER: [&str; 3] = ["/proc", "/sys", "/dev"];

/// `secrets_dir` for environment `env`.
pub fn dir_of(template: &str, env: &str) -> PathBuf {
    PathBuf::from(template.replace(DIR_PLACEHOLDER, env))
}

/// `secret_env_prefix` for environment `env`.
pub fn prefix_of(template: &str, env: &str) -> String {
    let upper: String = env
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    template.replace(PREFIX_PLACEHOLDER, &upper)
}

/// Where one environment's secrets may be read from.
#[derive(Debug, Clone, Copy)]
pub struct SecretPlaces<'a> {
    /// The environment's directory ([`dir_of`]); `None`: no `file:` reference.
    pub dir: Option<&'a Path>,
    /// The environment's variable prefix ([`prefix_of`]).
    pub env_prefix: &'a str,
    /// The data directory (absolute).
    pub data_dir: &'a Path,
    /// The files the server's own configuration reads (the master key, the TLS key, …).
    pub own_files: &'a [PathBuf],
    /// The variables the server's own configuration reads.
    pub own_vars: &'a [String],
}

/// Whether secret `reference` (already of the right shape) names a place `places` allows,
/// as written (see the module's header). The reason names the rule, never the reference.
pub fn secret_place(reference: &str, places: &SecretPlaces<'_>) -> Result<(), String> {
    if let Some(name) = reference.strip_prefix("env:") {
        if name.starts_with(places.env_prefix) && !places.own_vars.iter().any(|v| v == name) {
            return Ok(());
        }
        return Err(format!(
            "an env: reference of this environment names a variable starting with {} \
             ([integrations] secret_env_prefix) that the server's own configuration does \
             not read",
            places.env_prefix
        ));
    }
    if let Some(path) = reference.strip_prefix("file:") {
        let Some(dir) = places.dir else {
            return Err("file: references are not allowed: the server has no \
                        [integrations] secrets_dir"
                .into());
        };
        let path = Path::new(path);
        let plain = path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        let own = places.own_files.iter().any(|f| f == path);
        let never = NEVER.iter().any(|n| path.starts_with(n));
        if !plain
            || !path.starts_with(dir)
            || path == dir
            || path.starts_with(places.data_dir)
            || own
            || never
        {
            return Err(format!(
                "a file: reference of this environment names a file inside {} \
                 ([integrations] secrets_dir), written without .., that is none of the \
                 server's own",
                dir.display()
            ));
        }
        return Ok(());
    }
    Ok(())
}

/// Whether the file a reference led to, at `real` (links resolved), is still a place
/// `places` allows: inside `dir` (resolved too), outside `data` (resolved), none of the
/// server's own files, not in `/proc`, `/sys` or `/dev`.
pub fn resolved_place(real: &Path, dir: &Path, data: &Path, own_files: &[PathBuf]) -> bool {
    real.starts_with(dir)
        && real != dir
        && !real.starts_with(data)
        && !own_files.iter().any(|f| f == real)
        && !NEVER.iter().any(|n| real.starts_with(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_environment_has_its_own_directory_and_prefix() {
        let dir = "/etc/rampart/secrets/{environment}";
        assert_eq!(
            dir_of(dir, "qa-eu"),
            Path::new("/etc/rampart/secrets/qa-eu")
        );
        assert_eq!(dir_of("/etc/shared", "qa"), Path::new("/etc/shared"));
        let prefix = "INTEGRATION_SECRET_{ENVIRONMENT}_";
        assert_eq!(prefix_of(prefix, "qa-eu.2"), "INTEGRATION_SECRET_QA_EU_2_");
        assert_eq!(prefix_of("APP_", "qa"), "APP_");
    }

    #[test]
    fn secret_references_reach_only_the_places_the_operator_gave_the_environment() {
        let data = Path::new("/var/lib/rampart");
        let dir = dir_of("/etc/rampart/secrets/{environment}", "development");
        let prefix = prefix_of("INTEGRATION_SECRET_{ENVIRONMENT}_", "development");
        let own_files = [PathBuf::from("/etc/rampart/secrets/development/master.key")];
        let own_vars = ["INTEGRATION_SECRET_DEVELOPMENT_MASTER".to_owned()];
        let places = SecretPlaces {
            dir: Some(&dir),
            env_prefix: &prefix,
            data_dir: data,
            own_files: &own_files,
            own_vars: &own_vars,
        };
        let no_dir = SecretPlaces {
            dir: None,
            ..places
        };
        let root = PathBuf::from("/");
        let everywhere = SecretPlaces {
            dir: Some(&root),
            ..places
        };
        let cases: &[(&SecretPlaces, &str, bool)] = &[
            (&places, "env:INTEGRATION_SECRET_DEVELOPMENT_CRM", true),
            (&places, "env:INTEGRATION_SECRET_PRODUCTION_CRM", false),
            (&places, "env:INTEGRATION_SECRET_DEVELOPMENT_MASTER", false),
            (&places, "env:DATABASE_PASSWORD", false),
            (
                &places,
                "file:/etc/rampart/secrets/development/crm-token",
                true,
            ),
            (
                &places,
                "file:/etc/rampart/secrets/development/crm/token",
                true,
            ),
            (&places, "file:/etc/rampart/secrets/development", false),
            (
                &places,
                "file:/etc/rampart/secrets/production/crm-token",
                false,
            ),
            (
                &places,
                "file:/etc/rampart/secrets/development/../production/x",
                false,
            ),
            (
                &places,
                "file:/etc/rampart/secrets/development/master.key",
                false,
            ),
            (&places, "file:/etc/shadow", false),
            (&places, "file:/var/lib/rampart/master.key", false),
            (
                &no_dir,
                "file:/etc/rampart/secrets/development/crm-token",
                false,
            ),
            (&everywhere, "file:/etc/hostname", true),
            (&everywhere, "file:/proc/self/environ", false),
            (&everywhere, "file:/dev/zero", false),
            (
                &everywhere,
                "file:/var/lib/rampart/audit-signing.key",
                false,
            ),
            (&places, "vault:crm/token", true),
        ];
        for (places, reference, allowed) in cases {
            let got = secret_place(reference, places);
            assert_eq!(got.is_ok(), *allowed, "{reference}: {got:?}");
            if let Err(reason) = got {
                assert!(!reason.contains(reference), "{reason} echoes {reference}");
            }
        }
    }

    #[test]
    fn a_file_is_judged_again_where_its_links_lead() {
        let dir = Path::new("/etc/rampart/secrets/qa");
        let data = Path::new("/var/lib/rampart");
        let own = [PathBuf::from("/etc/rampart/secrets/qa/tls.key")];
        let cases = [
            ("/etc/rampart/secrets/qa/crm", true),
            ("/etc/rampart/secrets/qa", false),
            ("/etc/rampart/secrets/production/crm", false),
            ("/var/lib/rampart/master.key", false),
            ("/etc/rampart/secrets/qa/tls.key", false),
            ("/proc/1/environ", false),
        ];
        for (real, allowed) in cases {
            assert_eq!(
                resolved_place(Path::new(real), dir, data, &own),
                allowed,
                "{real}"
            );
        }
    }
}
