//! Sealed module packages: how a vendor hands a module version to another installation
//! whose people may deploy, run and reference it but never read it.
//!
//! # The format `rampart-sealed/1`
//!
//! A package is one line of compact JSON (UTF-8) followed by a newline, its fields in this
//! order and no others:
//!
//! | field | what |
//! |---|---|
//! | `format` | `rampart-sealed/1` |
//! | `module` | the module's name |
//! | `version` | the version number on the publisher's installation (≥ 1) |
//! | `digest` | `sha256:` and the hex SHA-256 of the source (the version's digest) |
//! | `recipient` | the target environment's `age1…` X25519 recipient |
//! | `publisher` | `ed25519:` and the base64 of the publisher's 32-byte public key |
//! | `surface` | the public surface (`rampart_model::Surface`) as JSON text, in the clear |
//! | `payload` | base64 of the source encrypted to `recipient` (the `age` format, binary) |
//! | `signature` | base64 of the publisher's Ed25519 signature over the signed message |
//!
//! The signed message is the bytes `rampart-sealed/1\n` followed, for each of `module`,
//! `version` (decimal), `digest`, `recipient`, `publisher`, `surface` and the decoded
//! `payload`, by its length as 8 big-endian bytes and its bytes. A package is accepted only
//! when it is exactly the encoding [`Package::encode`] writes of the fields it holds
//! (so no byte of the file can change without the package being refused), the signature
//! verifies (strictly) under the key it names, and — when opened — the environment's key
//! is the recipient's, the payload decrypts and the source has the digest.
//!
//! Whether the publisher is trusted, the environment is the right one and the version is
//! new is for the caller to decide: this crate decides only what the bytes say.

use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret as _;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The format's name and version, the first field of every package.
pub const FORMAT: &str = "rampart-sealed/1";

/// The largest package accepted, in bytes.
pub const MAX_PACKAGE: usize = 8 * 1024 * 1024;

/// The prefix of a publisher's public key in text.
const PUBLIC_PREFIX: &str = "ed25519:";

/// The prefix of a publisher's secret key file.
const SECRET_PREFIX: &str = "RAMPART-PUBLISHER-SECRET-KEY-1:";

/// Why a package, a key or a recipient was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The bytes are not a package of this format (the reason says where).
    #[error("not a sealed package of format {FORMAT}: {0}")]
    Malformed(String),
    /// The signature does not verify: the package was altered after sealing, or was not
    /// signed by the key it names.
    #[error("the publisher's signature does not verify: the package was altered or not signed by the key it names")]
    BadSignature,
    /// The package was sealed to another recipient than this environment's key.
    #[error("the package was sealed for another environment (recipient {0})")]
    WrongRecipient(String),
    /// The payload does not decrypt with the environment's key.
    #[error("the payload does not decrypt with this environment's key")]
    Decrypt,
    /// The decrypted source does not have the digest the package names.
    #[error("the sealed source does not match the digest the package names")]
    DigestMismatch,
    /// A key or recipient text is not one.
    #[error("{0}")]
    Key(String),
    /// The random generator or the encryption failed.
    #[error("sealing failed: {0}")]
    Seal(String),
}

/// A publisher's Ed25519 signing key.
pub struct PublisherKey(SigningKey);

impl PublisherKey {
    /// A new key from the OS random generator.
    pub fn generate() -> Result<Self, SealError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| SealError::Seal(format!("random: {e}")))?;
        Ok(PublisherKey(SigningKey::from_bytes(&seed)))
    }

    /// The key file's text (a secret: write it readable by its owner only).
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{SECRET_PREFIX}{}", B64.encode(self.0.to_bytes())))
    }

    /// Reads a key file's text (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let refused = || {
            SealError::Key(format!(
                "not a publisher secret key (a line `{SECRET_PREFIX}` and base64, written by \
                 `rampart publishers keygen`)"
            ))
        };
        let b64 = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(refused)?;
        let bytes = Zeroizing::new(B64.decode(b64).map_err(|_| refused())?);
        let seed: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| refused())?;
        Ok(PublisherKey(SigningKey::from_bytes(seed)))
    }

    /// Its public key.
    pub fn public(&self) -> PublisherId {
        PublisherId(self.0.verifying_key())
    }
}

impl fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublisherKey({})", self.public())
    }
}

/// A publisher's Ed25519 public key, written `ed25519:` and base64.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublisherId(VerifyingKey);

impl PublisherId {
    /// Reads `ed25519:` and the base64 of 32 bytes that are a valid point.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let refused = || {
            SealError::Key(format!(
                "not a publisher public key: `{PUBLIC_PREFIX}` and the base64 of 32 bytes, as \
                 `rampart publishers keygen` prints it"
            ))
        };
        let b64 = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(refused)?;
        let bytes = B64.decode(b64).map_err(|_| refused())?;
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| refused())?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| refused())?;
        if key.is_weak() {
            return Err(refused());
        }
        Ok(PublisherId(key))
    }
}

impl fmt::Display for PublisherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublisherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An environment's X25519 key pair in the `age` format.
pub struct EnvironmentKey(age::x25519::Identity);

impl EnvironmentKey {
    /// A new key pair from the OS random generator.
    pub fn generate() -> Self {
        EnvironmentKey(age::x25519::Identity::generate())
    }

    /// The secret key's text (`AGE-SECRET-KEY-1…`): write it readable by its owner only.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string().expose_secret().to_owned())
    }

    /// Reads a secret key's text.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        age::x25519::Identity::from_str(text.trim())
            .map(EnvironmentKey)
            .map_err(|_| SealError::Key("not an age X25519 secret key".to_owned()))
    }

    /// The public recipient, `age1…`.
    pub fn recipient(&self) -> String {
        self.0.to_public().to_string()
    }
}

impl fmt::Debug for EnvironmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvironmentKey({})", self.recipient())
    }
}

/// Checks that `text` is an `age1…` X25519 recipient and returns its canonical text.
pub fn parse_recipient(text: &str) -> Result<String, SealError> {
    age::x25519::Recipient::from_str(text.trim())
        .map(|r| r.to_string())
        .map_err(|_| {
            SealError::Key(
                "not an age X25519 recipient (`age1…`, as `rampart env public-key` prints it)"
                    .to_owned(),
            )
        })
}

/// `sha256:` and the hex SHA-256 of a source: a version's digest.
pub fn digest(source: &str) -> String {
    rampart_model::digest(source)
}

/// What is sealed: one published version.
#[derive(Debug, Clone, Copy)]
pub struct Contents<'a> {
    /// The module's name.
    pub module: &'a str,
    /// Its version number on the publisher's installation.
    pub version: i64,
    /// Its public surface, JSON text.
    pub surface: &'a str,
    /// Its source.
    pub source: &'a str,
}

/// A package whose encoding and signature have been checked ([`Package::open`]) or that was
/// just sealed ([`seal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    wire: Wire,
    payload: Vec<u8>,
}

/// The JSON form, field order fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    module: String,
    version: i64,
    digest: String,
    recipient: String,
    publisher: String,
    surface: String,
    payload: String,
    signature: String,
}

/// The bytes the publisher signs.
fn signed_message(w: &Wire, payload: &[u8]) -> Vec<u8> {
    let version = w.version.to_string();
    let fields: [&[u8]; 7] = [
        w.module.as_bytes(),
        version.as_bytes(),
        w.digest.as_bytes(),
        w.recipient.as_bytes(),
        w.publisher.as_bytes(),
        w.surface.as_bytes(),
        payload,
    ];
    let mut out =
        Vec::with_capacity(FORMAT.len() + 1 + fields.iter().map(|f| 8 + f.len()).sum::<usize>());
    out.extend_from_slice(FORMAT.as_bytes());
    out.push(b'\n');
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Seals `contents` for `recipient` (an `age1…` recipient) under the publisher's `key`.
pub fn seal(
    contents: Contents<'_>,
    recipient: &str,
    key: &PublisherKey,
) -> Result<Package, SealError> {
    if contents.version < 1 {
        return Err(SealError::Malformed(
            "the version must be 1 or above".to_owned(),
        ));
    }
    serde_json::from_str::<serde_json::Value>(contents.surface)
        .map_err(|e| SealError::Malformed(format!("the surface is not JSON: {e}")))?;
    let to = age::x25519::Recipient::from_str(recipient.trim())
        .map_err(|_| SealError::Key("not an age X25519 recipient (`age1…`)".to_owned()))?;
    let payload = age::encrypt(&to, contents.source.as_bytes())
        .map_err(|e| SealError::Seal(e.to_string()))?;
    let mut wire = Wire {
        format: FORMAT.to_owned(),
        module: contents.module.to_owned(),
        version: contents.version,
        digest: digest(contents.source),
        recipient: to.to_string(),
        publisher: key.public().to_string(),
        surface: contents.surface.to_owned(),
        payload: B64.encode(&payload),
        signature: String::new(),
    };
    let signature = key.0.sign(&signed_message(&wire, &payload));
    wire.signature = B64.encode(signature.to_bytes());
    Ok(Package { wire, payload })
}

impl Package {
    /// The package's bytes: the file a vendor hands over.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.wire).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads a package and verifies its encoding and signature (not who signed it: see
    /// [`Package::publisher`]).
    pub fn open(bytes: &[u8]) -> Result<Package, SealError> {
        if bytes.len() > MAX_PACKAGE {
            return Err(SealError::Malformed(format!(
                "larger than {MAX_PACKAGE} bytes"
            )));
        }
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| SealError::Malformed(format!("{e}")))?;
        if wire.format != FORMAT {
            return Err(SealError::Malformed(format!(
                "format `{}`, expected `{FORMAT}`",
                wire.format.chars().take(40).collect::<String>()
            )));
        }
        let payload = B64
            .decode(&wire.payload)
            .map_err(|_| SealError::Malformed("`payload` is not base64".to_owned()))?;
        let package = Package { wire, payload };
        if package.encode() != bytes {
            return Err(SealError::Malformed(
                "not in the canonical encoding (altered after sealing?)".to_owned(),
            ));
        }
        let w = &package.wire;
        if w.version < 1 {
            return Err(SealError::Malformed(
                "`version` must be 1 or above".to_owned(),
            ));
        }
        let publisher = PublisherId::parse(&w.publisher)
            .map_err(|_| SealError::Malformed("`publisher` is not an Ed25519 key".to_owned()))?;
        let signature = B64
            .decode(&w.signature)
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s.as_slice()).ok())
            .ok_or_else(|| {
                SealError::Malformed("`signature` is not 64 bytes of base64".to_owned())
            })?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        publisher
            .0
            .verify_strict(&signed_message(w, &package.payload), &signature)
            .map_err(|_| SealError::BadSignature)?;
        Ok(package)
    }

    /// The module's name.
    pub fn module(&self) -> &str {
        &self.wire.module
    }

    /// The version number on the publisher's installation.
    pub fn version(&self) -> i64 {
        self.wire.version
    }

    /// The source's digest.
    pub fn digest(&self) -> &str {
        &self.wire.digest
    }

    /// The recipient it was sealed to (`age1…`).
    pub fn recipient(&self) -> &str {
        &self.wire.recipient
    }

    /// The publisher's public key, as written in the package (verified by [`Package::open`]).
    pub fn publisher(&self) -> &str {
        &self.wire.publisher
    }

    /// The public surface, JSON text.
    pub fn surface(&self) -> &str {
        &self.wire.surface
    }

    /// Decrypts the source with the environment's key: refused when the package was sealed
    /// to another recipient, does not decrypt, or the source lacks the digest.
    pub fn unseal(&self, key: &EnvironmentKey) -> Result<Zeroizing<String>, SealError> {
        if key.recipient() != self.wire.recipient {
            return Err(SealError::WrongRecipient(self.wire.recipient.clone()));
        }
        let plain =
            Zeroizing::new(age::decrypt(&key.0, &self.payload).map_err(|_| SealError::Decrypt)?);
        let source = Zeroizing::new(
            std::str::from_utf8(&plain)
                .map_err(|_| SealError::Decrypt)?
                .to_owned(),
        );
        if digest(&source) != self.wire.digest {
            return Err(SealError::DigestMismatch);
        }
        Ok(source)
    }
}

#[cfg(test)]
mod tests;
