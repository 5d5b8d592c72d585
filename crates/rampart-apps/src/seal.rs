//! The envelope of `sensitive` attribute values: encryption at rest, and the blind index that
//! lets a sensitive attribute be `unique`.
//!
//! Three kinds of key, each 32 random bytes:
//! - the [`MasterKey`] lives outside the database (a key file); it only wraps the other keys,
//!   whose wrapped forms the database keeps;
//! - a [`DataKey`] per environment seals and opens values. It is known by a `u32` key id that
//!   every envelope names, so after a rotation the old keys stay readable until a
//!   re-encryption pass (which asks [`envelope_key_id`] which key sealed a value) has moved
//!   every value to the new one;
//! - an [`IndexKey`] per environment computes blind indexes. Data-key rotation leaves it
//!   alone: changing it would change every index.
//!
//! The AEAD is XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) with a random 24-byte
//! nonce per seal, large enough that random nonces never repeat in practice under one key.
//!
//! # The envelope of a sealed value
//!
//! ```text
//! offset  size  field
//! 0       1     version, 1
//! 1       4     key id of the data key, big-endian
//! 5       24    nonce, random
//! 29      n     ciphertext (n = length of the value)
//! 29+n    16    Poly1305 tag
//! ```
//!
//! 45 bytes more than the value. The AEAD's associated data is
//! `lp("rampart-seal/value/1") ‖ version ‖ key id ‖ lp(table) ‖ lp(attribute) ‖ lp(record)`,
//! where `lp(x)` is the length of `x` as 8 bytes big-endian followed by `x`: the version and
//! key id are authenticated, and a value opens only for the table, attribute and record it
//! was sealed for ([`Aad`]). The length prefixes keep the encoding unambiguous: `("ab", "c")`
//! and `("a", "bc")` are different associated data, as a plain join would not make them.
//!
//! # Wrapped keys
//!
//! A wrapped data key is `1 ‖ key id (4, big-endian) ‖ nonce (24) ‖ ciphertext (32) ‖ tag
//! (16)`, 77 bytes, sealed under the master key with associated data
//! `lp("rampart-seal/data-key/1") ‖ 1 ‖ key id`. A wrapped index key is `1 ‖ nonce ‖
//! ciphertext ‖ tag`, 73 bytes, with `lp("rampart-seal/index-key/1") ‖ 1`. The purpose
//! labels keep the three uses apart: a wrapped key does not open as a value or as the other
//! kind of key, and a data key wrapped under one id does not unwrap under another.
//!
//! # Platform secrets
//!
//! A few secrets of the platform itself (a user's TOTP secret) are sealed directly under the
//! master key: `1 ‖ nonce (24) ‖ ciphertext ‖ tag (16)`, with associated data
//! `lp("rampart-seal/secret/1") ‖ 1 ‖ lp(purpose) ‖ lp(owner)`, so a sealed secret opens only
//! for the purpose and owner it was sealed for (one user's TOTP secret copied to another
//! user's row does not open), and never as a value or a wrapped key.
//!
//! # What this protects, and what it does not
//!
//! Whoever reads the database (a backup, a stolen disk, a replica) without the master key
//! learns of a sensitive value only its length and, through the blind index of a `unique`
//! attribute, which rows hold equal values. Whoever can also write to it can delete values
//! or put back an older value of the same record and attribute (a replay), but cannot make a
//! value open anywhere else nor change it undetected. The server holds the keys while it
//! runs, so none of this protects against whoever controls the running server. Opened
//! values are plain `Vec<u8>`s: keeping them out of logs and audit events is the caller's
//! duty. Key material is zeroed when its owner is dropped (`zeroize`); copies the compiler
//! leaves on the stack are not.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::AeadInPlace as _;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// The length of every key, in bytes.
pub const KEY_LEN: usize = 32;
/// The envelope format this build writes and reads.
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Version and key id.
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// The bytes an envelope adds to its value.
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// What follows a wrapped key's header: nonce, the key's ciphertext, tag.
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

const LABEL_VALUE: &[u8] = b"rampart-seal/value/1";
const LABEL_DATA_KEY: &[u8] = b"rampart-seal/data-key/1";
const LABEL_INDEX_KEY: &[u8] = b"rampart-seal/index-key/1";
const LABEL_BLIND_INDEX: &[u8] = b"rampart-seal/blind-index/1";
const LABEL_SECRET: &[u8] = b"rampart-seal/secret/1";

/// Why a key could not be read, or a value not sealed or opened. No variant carries key or
/// value bytes, nor the text a key was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The master key text is not standard base64.
    #[error("the master key is not standard base64 (A-Z a-z 0-9 + /, with '=' padding)")]
    MasterKeyEncoding,
    /// The master key text decodes to another length than 32 bytes.
    #[error("the master key must decode to exactly 32 bytes (44 characters of standard base64)")]
    MasterKeyLength,
    /// The bytes are too short or too long for what they claim to be.
    #[error("malformed {what}: {len} bytes cannot be one")]
    Malformed {
        /// `sealed value`, `wrapped data key` or `wrapped index key`.
        what: &'static str,
        /// The length found.
        len: usize,
    },
    /// The envelope or wrapped key was written by a format this build does not know.
    #[error("unknown envelope version {version} (this build reads version 1)")]
    UnknownVersion {
        /// The version byte found.
        version: u8,
    },
    /// The envelope names another data key than the one asked to open it.
    #[error("the value was sealed under data key {found}, not under data key {expected}")]
    WrongKeyId {
        /// The key id the envelope names.
        found: u32,
        /// The id of the key asked to open it.
        expected: u32,
    },
    /// The tag does not verify: the bytes were altered, belong to another table, attribute
    /// or record, or were sealed under another key of the same id.
    #[error("authentication failed: altered, sealed for another place, or under another key")]
    Authentication,
    /// The value is beyond what the AEAD can seal (256 GiB).
    #[error("the value is too long to seal")]
    TooLong,
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(getrandom::Error),
}

/// Where a sealed value belongs: the AEAD's associated data. A value sealed for one table,
/// attribute and record does not open for any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    /// The table qualified by its database, as the store names it (e.g.
    /// `crm_production.customer`), so a value does not move between environments either.
    pub table: &'a str,
    /// The attribute's name in its entity.
    pub attribute: &'a str,
    /// The record's id, as text.
    pub record: &'a str,
}

impl<'a> Aad<'a> {
    /// The place `(table, attribute, record)`.
    pub fn new(table: &'a str, attribute: &'a str, record: &'a str) -> Self {
        Self {
            table,
            attribute,
            record,
        }
    }

    /// The associated data of a value whose envelope starts with `header`.
    fn encode(&self, header: &[u8; HEADER_LEN]) -> Vec<u8> {
        let fields = [self.table, self.attribute, self.record];
        let len =
            8 + LABEL_VALUE.len() + HEADER_LEN + fields.iter().map(|f| 8 + f.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        push_prefixed(&mut out, LABEL_VALUE);
        out.extend_from_slice(header);
        for field in fields {
            push_prefixed(&mut out, field.as_bytes());
        }
        out
    }
}

/// The key that wraps the others, read from a key file outside the database.
pub struct MasterKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    /// Reads a key file's text: exactly 32 bytes in standard base64 with padding (44
    /// characters), surrounding whitespace ignored. The error never repeats the text.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        // Decoded in one allocation, zeroed on drop whatever the outcome.
        let mut decoded = Zeroizing::new(Vec::new());
        STANDARD
            .decode_vec(text.trim(), &mut decoded)
            .map_err(|_| SealError::MasterKeyEncoding)?;
        if decoded.len() != KEY_LEN {
            return Err(SealError::MasterKeyLength);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&decoded);
        Ok(Self { key })
    }

    /// A new key from the operating system's random generator.
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self { key: random_key()? })
    }

    /// The text of a new key file, which [`parse`](Self::parse) reads back. Zeroed on drop.
    pub fn encode(&self) -> Zeroizing<String> {
        // Exactly the capacity needed, so encoding never reallocates and leaves no copy.
        let mut text = Zeroizing::new(String::with_capacity(44));
        STANDARD.encode_string(&self.key[..], &mut text);
        text
    }

    /// The wrapped form of `key`, for the database.
    pub fn wrap_data_key(&self, key: &DataKey) -> Result<Vec<u8>, SealError> {
        let header = header(key.id);
        seal_raw(
            &self.key,
            &header,
            &wrap_aad(LABEL_DATA_KEY, &header),
            &*key.key,
        )
    }

    /// The data key whose wrapped form is `wrapped`, with the key id it was wrapped under.
    pub fn unwrap_data_key(&self, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let malformed = SealError::Malformed {
            what: "wrapped data key",
            len: wrapped.len(),
        };
        let (header, sealed) = split_wrapped::<HEADER_LEN>(wrapped, malformed)?;
        let key = self.unwrap_raw(sealed, &wrap_aad(LABEL_DATA_KEY, header), malformed)?;
        Ok(DataKey {
            id: key_id(header),
            key,
        })
    }

    /// The wrapped form of `key`, for the database.
    pub fn wrap_index_key(&self, key: &IndexKey) -> Result<Vec<u8>, SealError> {
        let header = [VERSION];
        seal_raw(
            &self.key,
            &header,
            &wrap_aad(LABEL_INDEX_KEY, &header),
            &*key.key,
        )
    }

    /// The index key whose wrapped form is `wrapped`.
    pub fn unwrap_index_key(&self, wrapped: &[u8]) -> Result<IndexKey, SealError> {
        let malformed = SealError::Malformed {
            what: "wrapped index key",
            len: wrapped.len(),
        };
        let (header, sealed) = split_wrapped::<1>(wrapped, malformed)?;
        let key = self.unwrap_raw(sealed, &wrap_aad(LABEL_INDEX_KEY, header), malformed)?;
        Ok(IndexKey { key })
    }

    /// Seals a platform secret (format at the top of this module) for `purpose` and
    /// `owner` (for a TOTP secret: `totp` and the user's id).
    pub fn seal_secret(
        &self,
        purpose: &str,
        owner: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let header = [VERSION];
        seal_raw(
            &self.key,
            &header,
            &secret_aad(&header, purpose, owner),
            plaintext,
        )
    }

    /// Opens a platform secret sealed for `purpose` and `owner`, into memory zeroed on
    /// drop.
    pub fn open_secret(
        &self,
        purpose: &str,
        owner: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let malformed = SealError::Malformed {
            what: "sealed secret",
            len: sealed.len(),
        };
        check_version(sealed, malformed)?;
        let (header, rest) = sealed.split_first_chunk::<1>().ok_or(malformed)?;
        let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>().ok_or(malformed)?;
        let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(malformed)?;
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        cipher(&self.key)
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &secret_aad(header, purpose, owner),
                &mut plain,
                Tag::from_slice(tag),
            )
            .map_err(|_| SealError::Authentication)?;
        Ok(plain)
    }

    /// Opens `nonce ‖ ciphertext of a key ‖ tag` straight into memory zeroed on drop.
    fn unwrap_raw(
        &self,
        sealed: &[u8],
        aad: &[u8],
        malformed: SealError,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, SealError> {
        let (nonce, rest) = sealed.split_first_chunk::<NONCE_LEN>().ok_or(malformed)?;
        let (ciphertext, tag) = rest.split_first_chunk::<KEY_LEN>().ok_or(malformed)?;
        let mut key = Zeroizing::new(*ciphertext);
        cipher(&self.key)
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                aad,
                &mut *key,
                Tag::from_slice(tag),
            )
            .map_err(|_| SealError::Authentication)?;
        Ok(key)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// An environment's key for sealing values, known by its key id.
#[derive(Clone)]
pub struct DataKey {
    id: u32,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl DataKey {
    /// A new key with id `id` from the operating system's random generator.
    pub fn generate(id: u32) -> Result<Self, SealError> {
        Ok(Self {
            id,
            key: random_key()?,
        })
    }

    /// The id that envelopes sealed under this key carry.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The envelope of `plaintext` for the place `aad` (format at the top of this module).
    pub fn seal(&self, plaintext: &[u8], aad: &Aad<'_>) -> Result<Vec<u8>, SealError> {
        let header = header(self.id);
        seal_raw(&self.key, &header, &aad.encode(&header), plaintext)
    }

    /// The value in `envelope`, if it was sealed under this key for the place `aad` and not
    /// altered since.
    pub fn open(&self, envelope: &[u8], aad: &Aad<'_>) -> Result<Vec<u8>, SealError> {
        let malformed = SealError::Malformed {
            what: "sealed value",
            len: envelope.len(),
        };
        check_version(envelope, malformed)?;
        let (header, rest) = envelope
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(malformed)?;
        let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>().ok_or(malformed)?;
        let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(malformed)?;
        let found = key_id(header);
        if found != self.id {
            return Err(SealError::WrongKeyId {
                found,
                expected: self.id,
            });
        }
        let mut plaintext = ciphertext.to_vec();
        // The tag is checked before anything is decrypted, so a failure leaves no plaintext.
        cipher(&self.key)
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &aad.encode(header),
                &mut plaintext,
                Tag::from_slice(tag),
            )
            .map_err(|_| SealError::Authentication)?;
        Ok(plaintext)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The key id named by an envelope, so a re-encryption pass knows which data key opens it;
/// `None` if the bytes are not an envelope of a version this build knows. Nothing is
/// authenticated here: [`DataKey::open`] does that.
pub fn envelope_key_id(envelope: &[u8]) -> Option<u32> {
    if envelope.len() < ENVELOPE_OVERHEAD {
        return None;
    }
    match envelope {
        [VERSION, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// An environment's key for blind indexes.
///
/// A blind index makes `unique` possible on a sensitive attribute: the database keeps, next
/// to the envelope, a keyed hash of the value, and a unique constraint on that column.
/// **It reveals equality:** whoever reads the database sees which rows of one table and
/// attribute hold equal values (for a `unique` attribute: that a value removed and later
/// written again is the same), and nothing else; without the key, nobody can compute the
/// index of a guess offline, as they could with an unkeyed hash. Equal values in another
/// table or attribute get unrelated indexes. Whoever can make the server try writes learns
/// from a uniqueness conflict whether a guessed value is taken: that is what `unique`
/// means, encrypted or not. Values that should count as equal (an e-mail address in
/// another case) must be normalised before indexing.
#[derive(Clone)]
pub struct IndexKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl IndexKey {
    /// A new key from the operating system's random generator.
    pub fn generate() -> Result<Self, SealError> {
        Ok(Self { key: random_key()? })
    }

    /// HMAC-SHA-256 under this key of
    /// `lp("rampart-seal/blind-index/1") ‖ lp(table) ‖ lp(attribute) ‖ lp(value)`, `lp` being
    /// the 8-byte big-endian length prefix of the envelope's associated data.
    pub fn blind_index(&self, table: &str, attribute: &str, value: &[u8]) -> [u8; 32] {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104), so
        // padding it here is the same function, without the fallible slice constructor.
        let mut block = Zeroizing::new([0u8; 64]);
        block[..KEY_LEN].copy_from_slice(&*self.key);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(GenericArray::from_slice(&*block));
        for part in [
            LABEL_BLIND_INDEX,
            table.as_bytes(),
            attribute.as_bytes(),
            value,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndexKey(<redacted>)")
    }
}

/// `header ‖ nonce ‖ ciphertext ‖ tag` under `key`, with a fresh random nonce.
fn seal_raw(
    key: &[u8; KEY_LEN],
    header: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(SealError::Random)?;
    seal_with_nonce(key, header, &nonce, aad, plaintext)
}

/// [`seal_raw`] with the nonce given, for tests that pin the format.
fn seal_with_nonce(
    key: &[u8; KEY_LEN],
    header: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let start = header.len() + NONCE_LEN;
    let mut out = Vec::with_capacity(start + plaintext.len() + TAG_LEN);
    out.extend_from_slice(header);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher(key)
        .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut out[start..])
        .map_err(|_| SealError::TooLong)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The AEAD under `key`; its copy of the key is zeroed when it is dropped.
fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

/// A wrapped key's header of `H` bytes and the rest, refusing any other length than
/// `H + WRAPPED_LEN`.
fn split_wrapped<const H: usize>(
    wrapped: &[u8],
    malformed: SealError,
) -> Result<(&[u8; H], &[u8]), SealError> {
    check_version(wrapped, malformed)?;
    if wrapped.len() != H + WRAPPED_LEN {
        return Err(malformed);
    }
    wrapped.split_first_chunk::<H>().ok_or(malformed)
}

/// Refuses an empty input or an unknown version byte, before any length check: another
/// version may have another layout.
fn check_version(bytes: &[u8], malformed: SealError) -> Result<(), SealError> {
    match bytes.first() {
        None => Err(malformed),
        Some(&VERSION) => Ok(()),
        Some(&version) => Err(SealError::UnknownVersion { version }),
    }
}

fn header(id: u32) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = id.to_be_bytes();
    [VERSION, a, b, c, d]
}

fn key_id(header: &[u8; HEADER_LEN]) -> u32 {
    let [_, a, b, c, d] = *header;
    u32::from_be_bytes([a, b, c, d])
}

/// The associated data of a wrapped key: its purpose label, then its header.
fn wrap_aad(label: &[u8], header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + label.len() + header.len());
    push_prefixed(&mut out, label);
    out.extend_from_slice(header);
    out
}

/// The associated data of a platform secret: its label, header, purpose and owner.
fn secret_aad(header: &[u8], purpose: &str, owner: &str) -> Vec<u8> {
    let mut out = wrap_aad(LABEL_SECRET, header);
    push_prefixed(&mut out, purpose.as_bytes());
    push_prefixed(&mut out, owner.as_bytes());
    out
}

/// Appends `bytes` after its length as 8 bytes big-endian.
fn push_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, SealError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(&mut *key).map_err(SealError::Random)?;
    Ok(key)
}

#[cfg(test)]
mod tests;
