//! Session tokens: 256 random bits shown once to the client, stored only as a SHA-256 hash.
//!
//! A token is high-entropy, so a fast hash is enough to make a stolen database useless for
//! logging in; lookups go by hash through an index, so no secret is ever compared.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rampart_core::Error;
use sha2::{Digest, Sha256};

const PREFIX: &str = "rps_";
/// The prefix of SCIM bearer tokens, as long as [`PREFIX`].
const SCIM_PREFIX: &str = "rsc_";
/// The prefix of enrolment tokens (the link that lets an account with no password
/// register its first passkey), as long as [`PREFIX`].
const ENROLMENT_PREFIX: &str = "rpe_";
const RANDOM_BYTES: usize = 32;
/// `rps_` followed by 32 bytes in unpadded base64url.
const TOKEN_LEN: usize = PREFIX.len() + 43;

/// The stored form of a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// A freshly issued token: the secret for the client and the hash for the store.
pub struct SessionToken {
    secret: String,
    hash: TokenHash,
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    /// Draws a new token from the operating system's RNG.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_prefixed(PREFIX)
    }

    /// Draws a new SCIM bearer token (`rsc_`, the same 256 random bits), which a user
    /// provider's directory presents to `/scim/v2`.
    pub fn generate_scim() -> Result<Self, Error> {
        Self::generate_prefixed(SCIM_PREFIX)
    }

    /// Draws a new enrolment token (`rpe_`, the same 256 random bits), for the link an
    /// administrator hands to the holder of an account with no password.
    pub fn generate_enrolment() -> Result<Self, Error> {
        Self::generate_prefixed(ENROLMENT_PREFIX)
    }

    fn generate_prefixed(prefix: &str) -> Result<Self, Error> {
        let mut bytes = [0u8; RANDOM_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("operating system RNG: {e}")))?;
        let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = digest(&secret);
        Ok(Self { secret, hash })
    }

    /// The secret, to hand to the client exactly once.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The hash to store.
    pub fn hash(&self) -> TokenHash {
        self.hash
    }
}

/// Hashes a token presented by a client, or `None` if it cannot be one of ours.
pub fn hash_token(presented: &str) -> Option<TokenHash> {
    hash_prefixed(presented, PREFIX)
}

/// Hashes a SCIM bearer token presented by a directory, or `None` if it cannot be one.
pub fn hash_scim_token(presented: &str) -> Option<TokenHash> {
    hash_prefixed(presented, SCIM_PREFIX)
}

/// Hashes an enrolment token presented by a browser, or `None` if it cannot be one.
pub fn hash_enrolment_token(presented: &str) -> Option<TokenHash> {
    hash_prefixed(presented, ENROLMENT_PREFIX)
}

impl TokenHash {
    /// Whether `stored` is this hash, compared in constant time.
    pub fn matches(&self, stored: &[u8]) -> bool {
        use subtle::ConstantTimeEq as _;
        stored.len() == self.0.len() && bool::from(self.0.ct_eq(stored))
    }
}

fn hash_prefixed(presented: &str, prefix: &str) -> Option<TokenHash> {
    let well_formed = presented.len() == TOKEN_LEN
        && presented.starts_with(prefix)
        && presented[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| digest(presented))
}

/// Keyed pseudonyms: a short, stable stand-in for a text that must not be recorded (an
/// unknown "username" may be a password typed in the wrong field), so failed attempts with
/// the same text can be correlated in logs and audit events. The first 16 hex digits of
/// HMAC-SHA-256 under a secret key: without the key, nobody holding the log can test
/// guesses against a pseudonym offline, as they could against an unkeyed hash.
#[derive(Clone)]
pub struct Pseudonyms {
    key: Vec<u8>,
}

impl Pseudonyms {
    /// Pseudonyms under `secret` (any length; the server passes its audit signing key, which
    /// every node of one log shares, so a pseudonym is the same on every node).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: secret.to_vec(),
        }
    }

    /// The pseudonym of `text`.
    pub fn of(&self, text: &str) -> String {
        use hmac::Mac as _;
        // HMAC takes keys of any length, so this cannot fail; an empty key would still mix.
        let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(b"rampart-pseudonym/1\n");
        mac.update(text.as_bytes());
        mac.finalize().into_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms(<key redacted>)")
    }
}

fn digest(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_hash_back_to_their_stored_hash() {
        let token = SessionToken::generate().unwrap();
        assert_eq!(token.secret().len(), TOKEN_LEN);
        assert_eq!(hash_token(token.secret()), Some(token.hash()));
        assert_ne!(SessionToken::generate().unwrap().hash(), token.hash());
        assert!(!format!("{token:?}").contains(token.secret()));
    }

    #[test]
    fn scim_tokens_are_not_session_tokens() {
        let scim = SessionToken::generate_scim().unwrap();
        assert!(scim.secret().starts_with("rsc_"));
        assert_eq!(hash_scim_token(scim.secret()), Some(scim.hash()));
        assert_eq!(hash_token(scim.secret()), None);
        let session = SessionToken::generate().unwrap();
        assert_eq!(hash_scim_token(session.secret()), None);
        assert!(scim.hash().matches(&scim.hash().0));
        assert!(!scim.hash().matches(&session.hash().0));
        assert!(!scim.hash().matches(&scim.hash().0[..31]));
    }

    #[test]
    fn enrolment_tokens_are_neither_session_nor_scim_tokens() {
        let enrolment = SessionToken::generate_enrolment().unwrap();
        assert!(enrolment.secret().starts_with("rpe_"));
        assert_eq!(
            hash_enrolment_token(enrolment.secret()),
            Some(enrolment.hash())
        );
        assert_eq!(hash_token(enrolment.secret()), None);
        assert_eq!(hash_scim_token(enrolment.secret()), None);
        let session = SessionToken::generate().unwrap();
        assert_eq!(hash_enrolment_token(session.secret()), None);
    }

    #[test]
    fn malformed_tokens_are_refused_before_hashing() {
        let good = SessionToken::generate().unwrap();
        let secret = good.secret();
        let cases = [
            String::new(),
            "rps_".to_owned(),
            secret[..secret.len() - 1].to_owned(),
            format!("{secret}A"),
            secret.replacen("rps_", "xyz_", 1),
            format!("rps_{}", "!".repeat(43)),
            format!("rps_{}", "é".repeat(21)),
        ];
        for case in cases {
            assert_eq!(hash_token(&case), None, "{case:?}");
        }
    }
}

#[cfg(test)]
mod pseudonym_tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_under_one_key_and_differ_under_another() {
        let a = Pseudonyms::new(b"key one");
        let b = Pseudonyms::new(b"key two");
        let p = a.of("alice");
        assert_eq!(p.len(), 16);
        assert!(p.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(p, a.of("alice"));
        assert_ne!(p, a.of("alicf"));
        assert_ne!(p, b.of("alice"));
        // Not the unkeyed hash anyone could recompute.
        let unkeyed: String = Sha256::digest(b"alice")[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(p, unkeyed);
        assert!(!format!("{a:?}").contains("key one"));
    }
}
