//! Encrypted assertions (XML Encryption, SAML core §2.3.4): the service provider's
//! decryption key, which algorithms are accepted, and one `EncryptedAssertion` decrypted and
//! put back in its place.
//!
//! What is accepted:
//! - the key transport: RSA-OAEP, `xmlenc#rsa-oaep-mgf1p` (MGF1 with SHA-1, the digest SHA-1
//!   or SHA-256) and `xmlenc11#rsa-oaep` (digest and MGF1 each SHA-1 or SHA-256), without
//!   `OAEPparams`. RSA PKCS#1 v1.5 (`xmlenc#rsa-1_5`) is refused: its padding check is the
//!   oracle of Bleichenbacher's attack;
//! - the data: `xmlenc11#aes128-gcm` and `aes256-gcm` always; `xmlenc#aes128-cbc` and
//!   `aes256-cbc` only when a verified signature of the Response covers the ciphertext, since
//!   CBC is not authenticated and decrypting a ciphertext an attacker altered is the padding
//!   oracle of Jager and Somorovsky's attack on XML Encryption.
//!
//! Whatever fails once the algorithms are accepted (the structure, base64, a length, the RSA
//! or AES operation, the plaintext) is one refusal with one message, so a response tells an
//! attacker nothing about which step failed; a key transport that fails goes on with a
//! random key, so it takes the same path as one that succeeds. Every length is checked
//! before the `openssl` primitive is called, and no input panics (property-tested).
//!
//! The decrypted element is put back in the document in place of the `EncryptedAssertion`
//! (so the namespace prefixes it inherits from the Response are in scope again); it must be
//! one element, without a document type declaration, whose name is `Assertion`.

use std::ops::Range;

use base64::Engine as _;
use openssl::md::{Md, MdRef};
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use openssl::x509::X509;
use quick_xml::events::Event;
use quick_xml::NsReader;

use super::response::{attribute, namespace as space};
use super::Refusal;

const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const XENC_NS: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const XENC11_NS: &[u8] = b"http://www.w3.org/2009/xmlenc11#";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";

const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";

/// The algorithms Rampart's metadata offers, in the order it prefers them.
pub const ENCRYPTION_METHODS: &[&str] = &[
    AES256_GCM,
    AES128_GCM,
    AES256_CBC,
    AES128_CBC,
    RSA_OAEP,
    RSA_OAEP_MGF1P,
];

/// The most `EncryptedKey`s read (an assertion encrypted for several recipients).
const MAX_KEYS: usize = 4;
/// The smallest RSA key accepted, in bits.
const MIN_RSA_BITS: u32 = 2048;

/// The reason of every decryption failure.
pub const INVALID: &str = "encrypted-assertion-invalid";
/// The reason of an algorithm that is not accepted.
pub const ALGORITHM_REFUSED: &str = "encryption-algorithm-refused";

fn invalid() -> Refusal {
    Refusal::new(
        INVALID,
        "the encrypted assertion cannot be decrypted with this service provider's decryption key",
    )
}

/// Why a decryption key or its certificate cannot be used. The messages never hold any of
/// the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is not an unencrypted PEM private key.
    #[error("is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")]
    NotAKey,
    /// The key is not RSA, or too small.
    #[error("must be an RSA key of at least 2048 bits")]
    NotRsa,
    /// The certificate cannot be read, is not RSA or is too small.
    #[error("must be one PEM certificate (-----BEGIN CERTIFICATE-----) of an RSA key of at least 2048 bits")]
    Certificate,
    /// The certificate is of another key.
    #[error("the decryption certificate is not the certificate of the decryption key")]
    Mismatch,
}

/// Reads a PEM certificate of an RSA key of at least 2048 bits: its DER in base64, as
/// metadata carries it.
pub fn encryption_certificate(pem: &str) -> Result<String, KeyError> {
    if pem.matches("-----BEGIN CERTIFICATE-----").count() != 1 {
        return Err(KeyError::Certificate);
    }
    let certificate = X509::from_pem(pem.as_bytes()).map_err(|_| KeyError::Certificate)?;
    let public = certificate
        .public_key()
        .map_err(|_| KeyError::Certificate)?;
    if public.rsa().is_err() || public.bits() < MIN_RSA_BITS {
        return Err(KeyError::Certificate);
    }
    let der = certificate.to_der().map_err(|_| KeyError::Certificate)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(der))
}

/// The service provider's decryption key (RSA), checked against its certificate.
pub struct DecryptionKey {
    key: PKey<Private>,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey").finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// Reads an unencrypted PEM RSA private key (PKCS#8 or PKCS#1) and checks that
    /// `certificate_pem` is its certificate.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Self, KeyError> {
        if key_pem.contains("-----BEGIN ENCRYPTED") || key_pem.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(KeyError::NotAKey);
        }
        // A callback that gives no passphrase: an encrypted key fails here rather than
        // OpenSSL asking a terminal for one.
        let key = PKey::private_key_from_pem_callback(key_pem.as_bytes(), |_| Ok(0))
            .map_err(|_| KeyError::NotAKey)?;
        if key.rsa().is_err() || key.bits() < MIN_RSA_BITS {
            return Err(KeyError::NotRsa);
        }
        encryption_certificate(certificate_pem)?;
        let certificate =
            X509::from_pem(certificate_pem.as_bytes()).map_err(|_| KeyError::Certificate)?;
        let matches = certificate
            .public_key()
            .map(|p| p.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(KeyError::Mismatch);
        }
        Ok(DecryptionKey { key })
    }

    /// The key's size in bytes (the length of every RSA ciphertext made for it).
    fn size(&self) -> usize {
        self.key.size()
    }
}

/// A data encryption algorithm accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Cbc { key_len: usize },
    Gcm { key_len: usize },
}

impl Data {
    fn key_len(self) -> usize {
        match self {
            Data::Cbc { key_len } | Data::Gcm { key_len } => key_len,
        }
    }
}

/// A key transport accepted: RSA-OAEP with these digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Oaep {
    digest_sha256: bool,
    mgf_sha256: bool,
}

/// What the `EncryptedAssertion` says, read without any meaning given to it yet.
#[derive(Debug, Default)]
struct Encrypted {
    /// The `EncryptedAssertion` element in the document, start tag to end tag.
    span: Range<usize>,
    data_count: usize,
    data_type: Option<String>,
    data_algorithm: Option<String>,
    data_cipher: String,
    keys: Vec<EncryptedKey>,
    /// Something the structure does not allow (a `CipherReference`, a second element where
    /// one is allowed).
    broken: bool,
}

#[derive(Debug, Default)]
struct EncryptedKey {
    algorithm: Option<String>,
    digest: Option<String>,
    mgf: Option<String>,
    params: bool,
    cipher: String,
}

/// Where an element sits within the `EncryptedAssertion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Data,
    DataMethod,
    KeyInfo,
    DataCipherData,
    DataCipherValue,
    Key,
    KeyMethod,
    KeyCipherData,
    KeyCipherValue,
    Other,
}

/// Decrypts the one `EncryptedAssertion` of `xml` with `key` and answers the document with
/// the `Assertion` in its place. `authenticated`: a verified signature of the Response covers
/// the ciphertext (CBC is accepted only then).
pub fn decrypt_in_place(
    xml: &str,
    key: &DecryptionKey,
    authenticated: bool,
) -> Result<String, Refusal> {
    let encrypted = read(xml).ok_or_else(invalid)?;
    let (data, transports) = judge(&encrypted, authenticated)?;
    let plaintext = decrypt(&encrypted, &transports, data, key).ok_or_else(invalid)?;
    let plaintext = String::from_utf8(plaintext).map_err(|_| invalid())?;
    if !one_assertion_element(&plaintext) {
        return Err(invalid());
    }
    let before = xml.get(..encrypted.span.start).ok_or_else(invalid)?;
    let after = xml.get(encrypted.span.end..).ok_or_else(invalid)?;
    Ok(format!("{before}{plaintext}{after}"))
}

/// The algorithms of `e`, when accepted.
fn judge(e: &Encrypted, authenticated: bool) -> Result<(Data, Vec<Oaep>), Refusal> {
    let refused = |detail: &str| Refusal::new(ALGORITHM_REFUSED, detail);
    let data = match e.data_algorithm.as_deref() {
        Some(AES128_GCM) => Data::Gcm { key_len: 16 },
        Some(AES256_GCM) => Data::Gcm { key_len: 32 },
        Some(AES128_CBC) => Data::Cbc { key_len: 16 },
        Some(AES256_CBC) => Data::Cbc { key_len: 32 },
        None => return Err(invalid()),
        Some(_) => {
            return Err(refused(
                "the assertion is encrypted with an algorithm that is not accepted; configure \
                 the identity provider to encrypt with AES-GCM (aes128-gcm or aes256-gcm)",
            ))
        }
    };
    let mut transports = Vec::new();
    for k in &e.keys {
        let sha = |uri: Option<&str>, sha1: &str, sha256: &str| match uri {
            None => Some(false),
            Some(u) if u == sha1 => Some(false),
            Some(u) if u == sha256 => Some(true),
            Some(_) => None,
        };
        let transport =
            match k.algorithm.as_deref() {
                Some(RSA_1_5) => return Err(refused(
                    "the assertion's key is encrypted with RSA PKCS#1 v1.5 (rsa-1_5), which is \
                     refused (its padding check allows Bleichenbacher's attack); configure the \
                     identity provider to use RSA-OAEP (rsa-oaep-mgf1p)",
                )),
                Some(RSA_OAEP_MGF1P) if k.mgf.is_none() => sha(k.digest.as_deref(), SHA1, SHA256)
                    .map(|d| Oaep {
                        digest_sha256: d,
                        mgf_sha256: false,
                    }),
                Some(RSA_OAEP) => sha(k.digest.as_deref(), SHA1, SHA256)
                    .zip(sha(k.mgf.as_deref(), MGF1_SHA1, MGF1_SHA256))
                    .map(|(d, m)| Oaep {
                        digest_sha256: d,
                        mgf_sha256: m,
                    }),
                None => return Err(invalid()),
                Some(_) => None,
            };
        match transport {
            Some(t) if !k.params => transports.push(t),
            _ => {
                return Err(refused(
                    "the assertion's key is encrypted with an algorithm that is not accepted; \
                     configure the identity provider to use RSA-OAEP (rsa-oaep-mgf1p)",
                ))
            }
        }
    }
    if matches!(data, Data::Cbc { .. }) && !authenticated {
        return Err(refused(
            "the assertion is encrypted with AES-CBC in a response whose own signature does not \
             cover it: AES-CBC is not authenticated, so it is accepted only inside a signed \
             Response; configure the identity provider to sign the Response, or to encrypt \
             with AES-GCM",
        ));
    }
    if transports.is_empty() {
        return Err(invalid());
    }
    Ok((data, transports))
}

/// The plaintext of `e`, or nothing (whatever failed).
fn decrypt(e: &Encrypted, transports: &[Oaep], data: Data, key: &DecryptionKey) -> Option<Vec<u8>> {
    let mut session = None;
    for (k, t) in e.keys.iter().zip(transports) {
        if let Some(s) = unwrap_key(&k.cipher, *t, key).filter(|s| s.len() == data.key_len()) {
            session = Some(s);
            break;
        }
    }
    // No key opened: go on with a random key, so the work done does not say so.
    let opened = session.is_some();
    let session = match session {
        Some(s) => s,
        None => {
            let mut random = vec![0u8; data.key_len()];
            openssl::rand::rand_bytes(&mut random).ok()?;
            random
        }
    };
    let ciphertext = base64_of(&e.data_cipher)?;
    let plaintext = match data {
        Data::Gcm { key_len } => gcm(&session, key_len, &ciphertext),
        Data::Cbc { key_len } => cbc(&session, key_len, &ciphertext),
    };
    plaintext.filter(|_| opened)
}

fn base64_of(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

/// The session key of one `EncryptedKey`'s `CipherValue`.
fn unwrap_key(cipher: &str, t: Oaep, key: &DecryptionKey) -> Option<Vec<u8>> {
    let wrapped = base64_of(cipher)?;
    if wrapped.len() != key.size() {
        return None;
    }
    let md = |sha256: bool| -> &'static MdRef {
        if sha256 {
            Md::sha256()
        } else {
            Md::sha1()
        }
    };
    let mut ctx = PkeyCtx::new(&key.key).ok()?;
    ctx.decrypt_init().ok()?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
    ctx.set_rsa_oaep_md(md(t.digest_sha256)).ok()?;
    ctx.set_rsa_mgf1_md(md(t.mgf_sha256)).ok()?;
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&wrapped, &mut out).ok()?;
    Some(out)
}

/// AES-GCM: a 12-byte IV, the ciphertext, a 16-byte tag.
fn gcm(key: &[u8], key_len: usize, data: &[u8]) -> Option<Vec<u8>> {
    const IV: usize = 12;
    const TAG: usize = 16;
    if key.len() != key_len || data.len() < IV + TAG {
        return None;
    }
    let cipher = if key_len == 16 {
        Cipher::aes_128_gcm()
    } else {
        Cipher::aes_256_gcm()
    };
    let (iv, rest) = data.split_at(IV);
    let (body, tag) = rest.split_at(rest.len() - TAG);
    openssl::symm::decrypt_aead(cipher, key, Some(iv), &[], body, tag).ok()
}

/// AES-CBC: a 16-byte IV, whole blocks, XML Encryption's padding (the last byte says how
/// many bytes to drop, 1 to 16; the others may be anything).
fn cbc(key: &[u8], key_len: usize, data: &[u8]) -> Option<Vec<u8>> {
    const BLOCK: usize = 16;
    if key.len() != key_len || data.len() < 2 * BLOCK || !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let cipher = if key_len == 16 {
        Cipher::aes_128_cbc()
    } else {
        Cipher::aes_256_cbc()
    };
    let (iv, body) = data.split_at(BLOCK);
    let mut crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).ok()?;
    crypter.pad(false);
    let mut out = vec![0u8; body.len() + BLOCK];
    let n = crypter.update(body, &mut out).ok()?;
    let rest = out.get_mut(n..)?;
    let m = crypter.finalize(rest).ok()?;
    out.truncate(n + m);
    let pad = usize::from(*out.last()?);
    if pad == 0 || pad > BLOCK || pad > out.len() {
        return None;
    }
    out.truncate(out.len() - pad);
    Some(out)
}

/// Reads the one `EncryptedAssertion` of `xml`; nothing when there is not exactly one, or
/// its structure is not the one allowed.
fn read(xml: &str) -> Option<Encrypted> {
    let mut reader = NsReader::from_str(xml);
    let mut out = Encrypted::default();
    let mut found = 0usize;
    // The names of the open elements from the EncryptedAssertion down, each with its place.
    let mut path: Vec<Place> = Vec::new();
    let mut inside = false;
    let mut depth_at_start = 0usize;
    let mut depth = 0usize;
    loop {
        let start = usize::try_from(reader.buffer_position()).ok()?;
        let (ns, event) = reader.read_resolved_event().ok()?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if inside {
                    if depth == depth_at_start {
                        inside = false;
                        out.span.end = usize::try_from(reader.buffer_position()).ok()?;
                    } else {
                        path.pop();
                    }
                }
                continue;
            }
            Event::Text(t) if inside => {
                if matches!(
                    path.last(),
                    Some(Place::DataCipherValue | Place::KeyCipherValue)
                ) {
                    let text = std::str::from_utf8(&t).ok()?;
                    push_text(&mut out, path.last(), text);
                }
                continue;
            }
            Event::CData(t) if inside => {
                let text = std::str::from_utf8(&t).ok()?;
                push_text(&mut out, path.last(), text);
                continue;
            }
            Event::DocType(_) => return None,
            Event::Eof => break,
            _ => continue,
        };
        let local = e.local_name();
        let name = (space(&ns), local.as_ref());
        if !inside {
            if name == (Some(ASSERTION_NS), b"EncryptedAssertion") {
                found += 1;
                if empty {
                    return None;
                }
                inside = true;
                depth_at_start = depth;
                out.span.start = start;
            }
            if !empty {
                depth += 1;
            }
            continue;
        }
        let parent = path.last().copied();
        let xenc = |n: &[u8]| name == (Some(XENC_NS), n);
        let place = match parent {
            _ if xenc(b"CipherReference") => {
                out.broken = true;
                Place::Other
            }
            None if xenc(b"EncryptedData") => {
                out.data_count += 1;
                out.data_type = attribute(&e, b"Type");
                Place::Data
            }
            None | Some(Place::KeyInfo) if xenc(b"EncryptedKey") => {
                if out.keys.len() == MAX_KEYS {
                    return None;
                }
                out.keys.push(EncryptedKey::default());
                Place::Key
            }
            Some(Place::Data) if xenc(b"EncryptionMethod") => {
                out.broken |= out.data_algorithm.is_some();
                out.data_algorithm = attribute(&e, b"Algorithm");
                Place::DataMethod
            }
            Some(Place::Data) if name == (Some(DSIG_NS), b"KeyInfo") => Place::KeyInfo,
            Some(Place::Data) if xenc(b"CipherData") => Place::DataCipherData,
            Some(Place::DataCipherData) if xenc(b"CipherValue") => {
                out.broken |= !out.data_cipher.is_empty();
                Place::DataCipherValue
            }
            Some(Place::Key) if xenc(b"EncryptionMethod") => {
                let k = out.keys.last_mut()?;
                out.broken |= k.algorithm.is_some();
                k.algorithm = attribute(&e, b"Algorithm");
                Place::KeyMethod
            }
            Some(Place::KeyMethod) if name == (Some(DSIG_NS), b"DigestMethod") => {
                out.keys.last_mut()?.digest = attribute(&e, b"Algorithm");
                Place::Other
            }
            Some(Place::KeyMethod) if name == (Some(XENC11_NS), b"MGF") => {
                out.keys.last_mut()?.mgf = attribute(&e, b"Algorithm");
                Place::Other
            }
            Some(Place::KeyMethod) if xenc(b"OAEPparams") => {
                out.keys.last_mut()?.params = true;
                Place::Other
            }
            Some(Place::Key) if xenc(b"CipherData") => Place::KeyCipherData,
            Some(Place::KeyCipherData) if xenc(b"CipherValue") => {
                let k = out.keys.last_mut()?;
                out.broken |= !k.cipher.is_empty();
                Place::KeyCipherValue
            }
            // Only EncryptedData and EncryptedKey belong in an EncryptedAssertion, only a
            // CipherValue in a CipherData, nothing in a CipherValue.
            None
            | Some(
                Place::DataCipherData
                | Place::KeyCipherData
                | Place::DataCipherValue
                | Place::KeyCipherValue,
            ) => {
                out.broken = true;
                Place::Other
            }
            Some(_) => Place::Other,
        };
        if !empty {
            path.push(place);
            depth += 1;
        }
    }
    let good = found == 1
        && !out.broken
        && out.data_count == 1
        && out.span.end > out.span.start
        && out.data_type.as_deref().is_none_or(|t| t == ELEMENT_TYPE);
    good.then_some(out)
}

fn push_text(out: &mut Encrypted, place: Option<&Place>, text: &str) {
    match place {
        Some(Place::DataCipherValue) => out.data_cipher.push_str(text),
        Some(Place::KeyCipherValue) => {
            if let Some(k) = out.keys.last_mut() {
                k.cipher.push_str(text);
            }
        }
        _ => {}
    }
}

/// Whether `xml` is one element named `Assertion` (any prefix: its namespace is judged in
/// the document it goes back into), balanced, with nothing around it but white space and
/// no document type declaration.
fn one_assertion_element(xml: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let Ok(event) = reader.read_event() else {
            return false;
        };
        match event {
            Event::Start(e) | Event::Empty(e)
                if depth == 0 && (roots > 0 || e.local_name().as_ref() != b"Assertion") =>
            {
                return false;
            }
            Event::Start(_) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Event::Empty(_) => roots += usize::from(depth == 0),
            Event::End(_) => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Event::Text(t) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return false;
            }
            Event::DocType(_) | Event::Decl(_) | Event::PI(_) => return false,
            Event::CData(_) | Event::GeneralRef(_) if depth == 0 => return false,
            Event::Eof => return roots == 1 && depth == 0,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
