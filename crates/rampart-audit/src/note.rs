//! C2SP signed notes with Ed25519 keys: key texts, signing and opening checkpoints.
//!
//! A signed note is a text (ending in a newline), a blank line, then one or more signature
//! lines `— <key name> <base64(key hash ‖ signature)>`, where the dash is U+2014. The key
//! hash is the first four bytes, big-endian, of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key),
//! 0x01 being the Ed25519 algorithm byte, and the signature covers the text including its
//! final newline. Key names are non-empty and hold neither Unicode spaces nor `+`.
//!
//! Key texts are those of Go's `golang.org/x/mod/sumdb/note`: a verifier key is
//! `<name>+<hex8 key hash>+<base64(0x01 ‖ public key)>` and a signing key is
//! `PRIVATE+KEY+<name>+<hex8 key hash>+<base64(0x01 ‖ 32-byte seed)>`.

use crate::checkpoint::{Checkpoint, CheckpointError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _};
use sha2::{Digest, Sha256};
use std::fmt;
use thiserror::Error;

/// The algorithm byte of Ed25519 keys.
const ALG_ED25519: u8 = 0x01;
/// The start of a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// The most signature lines a note may carry.
const MAX_SIGNATURES: usize = 100;

/// Why a key text cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The key name is empty or holds a space or `+`.
    #[error("key name {name:?} is invalid: it must be non-empty without spaces or '+'")]
    Name {
        /// The name given.
        name: String,
    },
    /// The key text does not have the expected fields.
    #[error("malformed key text: {reason}")]
    Format {
        /// What is wrong.
        reason: &'static str,
    },
    /// The key is not an Ed25519 key.
    #[error("key algorithm {alg} is not supported (only 1, Ed25519)")]
    Algorithm {
        /// The algorithm byte found.
        alg: u8,
    },
    /// The key hash in the text does not match the name and key.
    #[error("the key hash {written} in the key text does not match its name and key (which give {computed})")]
    KeyHash {
        /// The hash written in the text.
        written: String,
        /// The hash computed from the name and key.
        computed: String,
    },
    /// The public key bytes are not a valid Ed25519 point.
    #[error("the public key is not a valid Ed25519 key")]
    PublicKey,
}

/// Why a signed note cannot be opened or made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    /// The text is not a well-formed signed note.
    #[error("malformed signed note: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The note carries no signature by the expected key.
    #[error("the note carries no signature by key {key} (signed by another key, or not signed by this log)")]
    UnknownKey {
        /// The key, as `<name>+<hex8 key hash>`.
        key: String,
    },
    /// The signature by the expected key does not verify.
    #[error("the signature by key {key} does not verify: the note was altered after signing")]
    BadSignature {
        /// The key, as `<name>+<hex8 key hash>`.
        key: String,
    },
    /// The signed text is not a valid checkpoint.
    #[error("the signed note is not a valid checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint is from another log.
    #[error("the checkpoint is for log {found:?}, not the expected {expected:?}")]
    WrongOrigin {
        /// The origin the caller expected.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

/// Whether `name` is a valid key name.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The key hash of an Ed25519 public key under `name`.
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// `<name>+<hex8 key hash>+<base64(algorithm ‖ key bytes)>`: the shared shape of signer and
/// verifier key texts.
fn key_text(name: &str, hash: u32, key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(ALG_ED25519);
    bytes.extend_from_slice(key);
    format!("{name}+{hash:08x}+{}", STANDARD.encode(&bytes))
}

/// An Ed25519 signing key with its name. Its `Debug` never shows the secret.
pub struct SigningKey {
    name: String,
    hash: u32,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.hash))
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// The key derived from 32 seed bytes, which the caller draws from a secure random source.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::Name { name: name.into() });
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let hash = key_hash(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.into(),
            hash,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim_end_matches(['\n', '\r']);
        let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(KeyError::Format {
            reason: "a signing key starts with PRIVATE+KEY+",
        })?;
        let (name, written, bytes) = split_key_text(rest)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format {
            reason: "the seed is not 32 bytes",
        })?;
        let key = Self::from_seed(name, seed)?;
        check_written_hash(written, key.hash)?;
        Ok(key)
    }

    /// The key text, as Go's `note.GenerateKey` writes it. It holds the secret.
    pub fn to_text(&self) -> String {
        format!(
            "PRIVATE+KEY+{}",
            key_text(&self.name, self.hash, self.key.as_bytes())
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    /// The text of the matching verifier key, for `rampart audit public-key`.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_text()
    }

    /// Signs any note text (well-formed: non-empty UTF-8 ending in a newline, no blank line
    /// at its end, no control character other than newlines) and returns the whole note.
    pub fn sign_text(&self, text: &str) -> Result<String, NoteError> {
        Ok(format!("{text}\n{}", self.signature_line(text)?))
    }

    /// The signature line (`— <name> <base64(key hash ‖ signature)>` and its newline) of
    /// this key over a note text, to add to a note another key signed: a second signature
    /// of a key rotation, or a witness's cosignature.
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        check_note_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.hash.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(&blob)
        ))
    }

    /// Adds this key's signature over the note's text to a signed note.
    pub fn add_signature(&self, note: &str) -> Result<String, NoteError> {
        let (text, _) = split_note(note)?;
        Ok(format!("{note}{}", self.signature_line(text)?))
    }

    /// Signs a checkpoint and returns the whole signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        checkpoint.validate()?;
        self.sign_text(&checkpoint.to_body())
    }
}

/// An Ed25519 verifier key with its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    hash: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex8>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim_end_matches(['\n', '\r']);
        let (name, written, bytes) = split_key_text(text)?;
        if !is_valid_key_name(name) {
            return Err(KeyError::Name { name: name.into() });
        }
        let public: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format {
            reason: "the public key is not 32 bytes",
        })?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| KeyError::PublicKey)?;
        let hash = key_hash(name, &public);
        check_written_hash(written, hash)?;
        Ok(Self {
            name: name.into(),
            hash,
            key,
        })
    }

    /// The key text.
    pub fn to_text(&self) -> String {
        key_text(&self.name, self.hash, self.key.as_bytes())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// `<name>+<hex8>`, how errors name the key.
    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.hash)
    }
}

/// Splits `<name>+<hex8>+<base64(0x01 ‖ 32 bytes)>` and decodes the key bytes.
fn split_key_text(text: &str) -> Result<(&str, &str, Vec<u8>), KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(written), Some(encoded)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::Format {
            reason: "expected <name>+<hex8 key hash>+<base64 key>",
        });
    };
    if !is_valid_key_name(name) {
        return Err(KeyError::Name { name: name.into() });
    }
    let bytes = STANDARD.decode(encoded).map_err(|_| KeyError::Format {
        reason: "the key is not standard base64",
    })?;
    match bytes.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name, written, key.to_vec())),
        Some((&alg, _)) => Err(KeyError::Algorithm { alg }),
        None => Err(KeyError::Format {
            reason: "the key is empty",
        }),
    }
}

/// Checks the eight hex digits written in a key text against the computed key hash.
fn check_written_hash(written: &str, computed: u32) -> Result<(), KeyError> {
    let ok = written.len() == 8
        && written.bytes().all(|b| b.is_ascii_hexdigit())
        && u32::from_str_radix(written, 16).ok() == Some(computed);
    if ok {
        Ok(())
    } else {
        Err(KeyError::KeyHash {
            written: written.into(),
            computed: format!("{computed:08x}"),
        })
    }
}

/// Checks that a text can be signed: non-empty, ends in a newline, holds no blank final
/// line and no control characters other than newlines.
fn check_note_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed {
            reason: "the note text does not end with a newline",
        });
    }
    if text == "\n" || text.ends_with("\n\n") {
        return Err(NoteError::Malformed {
            reason: "the note text ends with a blank line",
        });
    }
    check_characters(text)
}

/// Refuses control characters other than newline.
fn check_characters(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed {
            reason: "the note holds a control character other than newline",
        });
    }
    Ok(())
}

/// Splits a signed note into its text (with its final newline) and its block of signature
/// lines (each with its newline), checking only the shape, not the signatures.
pub fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    check_characters(note)?;
    let split = note.rfind("\n\n").ok_or(NoteError::Malformed {
        reason: "no blank line before the signatures",
    })?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::Malformed {
            reason: "the signature block is empty or does not end with a newline",
        });
    }
    Ok((text, signatures))
}

/// Opens a signed note: finds the signature by `key` (other signatures, such as witness
/// cosignatures, are skipped), verifies it and returns the signed text.
pub fn open_text<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, NoteError> {
    let (text, signatures) = split_note(note)?;
    let mut found: Option<Signature> = None;
    for (count, line) in signatures[..signatures.len() - 1].split('\n').enumerate() {
        if count >= MAX_SIGNATURES {
            return Err(NoteError::Malformed {
                reason: "more than 100 signatures",
            });
        }
        let line = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::Malformed {
                reason: "a signature line does not start with an em dash and a space",
            })?;
        let (name, encoded) = line.split_once(' ').ok_or(NoteError::Malformed {
            reason: "a signature line has no space between key name and signature",
        })?;
        let blob = STANDARD.decode(encoded).ok().filter(|b| b.len() >= 5);
        let Some(blob) = blob.filter(|_| is_valid_key_name(name)) else {
            return Err(NoteError::Malformed {
                reason: "a signature line has an invalid key name or signature encoding",
            });
        };
        let hash = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        if name != key.name || hash != key.hash {
            continue;
        }
        if found.is_some() {
            return Err(NoteError::Malformed {
                reason: "the same key signed twice",
            });
        }
        let bytes: [u8; 64] = blob[4..]
            .try_into()
            .map_err(|_| NoteError::BadSignature { key: key.label() })?;
        found = Some(Signature::from_bytes(&bytes));
    }
    let signature = found.ok_or_else(|| NoteError::UnknownKey { key: key.label() })?;
    key.key
        .verify_strict(text.as_bytes(), &signature)
        .map_err(|_| NoteError::BadSignature { key: key.label() })?;
    Ok(text)
}

/// Opens a signed checkpoint: verifies the signature by `key` and parses the body.
pub fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
    Ok(Checkpoint::parse(open_text(note, key)?)?)
}

/// Like [`open`], and also requires the checkpoint's origin to be `origin`.
pub fn open_for(origin: &str, note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let checkpoint = open(note, key)?;
    if checkpoint.origin != origin {
        return Err(NoteError::WrongOrigin {
            expected: origin.into(),
            found: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}
