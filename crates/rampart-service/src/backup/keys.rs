//! The keys part of a backup (`keys.age`): the data directory's key files (the audit signing
//! key, the environments' sealing keys, the TLS files) as one JSON object, encrypted with
//! `age` to X25519 recipients or a passphrase (scrypt). Written only when asked
//! (`--include-keys`). The master key of sensitive values is never in it: it is kept apart
//! from the data directory and its backups (see `rampart keys init`).

use std::path::{Component, Path};
use std::str::FromStr as _;

use age::secrecy::SecretString;
use rampart_core::Error;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// How the keys part is encrypted.
pub enum Protection {
    /// To these X25519 recipients (`age1…`).
    Recipients(Vec<age::x25519::Recipient>),
    /// With a passphrase (age's scrypt recipient).
    Passphrase(SecretString),
}

/// How the keys part is opened.
pub enum Unlock {
    /// With these X25519 identities (`AGE-SECRET-KEY-1…`).
    Identities(Vec<age::x25519::Identity>),
    /// With the passphrase.
    Passphrase(SecretString),
}

impl Protection {
    /// Reads recipients, one `age1…` a line (`#` comments and blank lines skipped).
    pub fn recipients_from(text: &str) -> Result<Self, Error> {
        let recipients = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                age::x25519::Recipient::from_str(l).map_err(|_| {
                    Error::invalid(
                        "keys-recipient-file",
                        "holds a line that is not an age X25519 recipient (age1…)",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if recipients.is_empty() {
            return Err(Error::invalid(
                "keys-recipient-file",
                "holds no age recipient (age1…)",
            ));
        }
        Ok(Protection::Recipients(recipients))
    }

    /// `age-x25519` or `age-scrypt`, as the manifest says.
    pub fn name(&self) -> &'static str {
        match self {
            Protection::Recipients(_) => "age-x25519",
            Protection::Passphrase(_) => "age-scrypt",
        }
    }
}

impl Unlock {
    /// Reads identities, one `AGE-SECRET-KEY-1…` a line (`#` comments skipped), as
    /// `age-keygen` writes them.
    pub fn identities_from(text: &str) -> Result<Self, Error> {
        let identities = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                age::x25519::Identity::from_str(l).map_err(|_| {
                    Error::invalid(
                        "keys-identity-file",
                        "holds a line that is not an age X25519 identity (AGE-SECRET-KEY-1…)",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if identities.is_empty() {
            return Err(Error::invalid(
                "keys-identity-file",
                "holds no age identity (AGE-SECRET-KEY-1…)",
            ));
        }
        Ok(Unlock::Identities(identities))
    }
}

/// One key file, relative to the data directory.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// `audit-signing.key`, `sealing/<env>.key`, `tls/<file>`.
    pub path: String,
    /// Its text.
    pub text: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    files: Vec<KeyFile>,
}

/// Whether `path` is one a keys part may hold: the audit key, or a file directly under
/// `sealing/` or `tls/`, with no way out of the data directory.
pub fn allowed(path: &str) -> bool {
    let p = Path::new(path);
    let parts: Vec<Component<'_>> = p.components().collect();
    let plain = parts.iter().all(|c| matches!(c, Component::Normal(_)));
    plain
        && match parts.as_slice() {
            [Component::Normal(name)] => *name == crate::audit::KEY_FILE,
            [Component::Normal(dir), Component::Normal(_)] => *dir == "sealing" || *dir == "tls",
            _ => false,
        }
}

/// The key files of `data_dir`, each read as text.
pub fn collect(data_dir: &Path) -> Result<Vec<KeyFile>, Error> {
    let read = |rel: String| -> Result<Option<KeyFile>, Error> {
        let path = data_dir.join(&rel);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(KeyFile { path: rel, text })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Unavailable(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    };
    let mut files = Vec::new();
    files.extend(read(crate::audit::KEY_FILE.to_owned())?);
    for dir in ["sealing", "tls"] {
        let Ok(entries) = std::fs::read_dir(data_dir.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            files.extend(read(format!("{dir}/{name}"))?);
        }
    }
    Ok(files)
}

/// The key files as one part, encrypted.
pub fn seal(files: Vec<KeyFile>, protection: &Protection) -> Result<Vec<u8>, Error> {
    let plain = Zeroizing::new(
        serde_json::to_vec(&Bundle { files })
            .map_err(|e| Error::Internal(format!("keys part: {e}")))?,
    );
    let fail = |e: age::EncryptError| Error::Internal(format!("encrypting the keys: {e}"));
    match protection {
        Protection::Recipients(recipients) => {
            let encryptor = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(fail)?;
            write_encrypted(encryptor, &plain)
        }
        Protection::Passphrase(passphrase) => {
            let encryptor = age::Encryptor::with_user_passphrase(passphrase.clone());
            write_encrypted(encryptor, &plain)
        }
    }
}

fn write_encrypted(encryptor: age::Encryptor, plain: &[u8]) -> Result<Vec<u8>, Error> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| Error::Internal(format!("encrypting the keys: {e}"));
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut writer = encryptor.wrap_output(&mut out).map_err(fail)?;
    writer.write_all(plain).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Decrypts a keys part; every path in it is checked with [`allowed`].
pub fn open(sealed: &[u8], unlock: &Unlock) -> Result<Vec<KeyFile>, Error> {
    use std::io::Read as _;
    let refused = || {
        Error::invalid(
            "keys",
            "the backup's keys do not decrypt with the identity or passphrase given",
        )
    };
    let decryptor = age::Decryptor::new(sealed).map_err(|_| refused())?;
    let scrypt;
    let identities: Vec<&dyn age::Identity> = match unlock {
        Unlock::Identities(ids) => ids.iter().map(|i| i as &dyn age::Identity).collect(),
        Unlock::Passphrase(passphrase) => {
            scrypt = age::scrypt::Identity::new(passphrase.clone());
            vec![&scrypt as &dyn age::Identity]
        }
    };
    let mut reader = decryptor
        .decrypt(identities.into_iter())
        .map_err(|_| refused())?;
    let mut plain = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plain).map_err(|_| refused())?;
    let bundle: Bundle = serde_json::from_slice(&plain)
        .map_err(|e| Error::invalid("keys", format!("the keys part does not read: {e}")))?;
    if let Some(bad) = bundle.files.iter().find(|f| !allowed(&f.path)) {
        return Err(Error::invalid(
            "keys",
            format!("the keys part names a file it may not hold: {:?}", bad.path),
        ));
    }
    Ok(bundle.files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn only_key_files_inside_the_data_directory_are_allowed() {
        for ok in [
            "audit-signing.key",
            "sealing/production.key",
            "tls/dev-key.pem",
        ] {
            assert!(allowed(ok), "{ok}");
        }
        for bad in [
            "../audit-signing.key",
            "/etc/passwd",
            "sealing/../../x",
            "rampart.db",
            "tls/a/b",
            "sealing",
            "",
            "./audit-signing.key",
        ] {
            assert!(!allowed(bad), "{bad}");
        }
    }

    #[test]
    fn keys_round_trip_to_recipients_and_refuse_another_identity() {
        let id = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let files = vec![KeyFile {
            path: "audit-signing.key".into(),
            text: "secret".into(),
        }];
        let sealed = seal(files, &Protection::Recipients(vec![id.to_public()])).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let back = open(&sealed, &Unlock::Identities(vec![id])).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].text, "secret");
        assert!(open(&sealed, &Unlock::Identities(vec![other])).is_err());
    }
}
