//! Decision links: 256 random bits shown once (in the e-mail), stored only as a SHA-256
//! hash. A link is found by its hash through an index, so the secret itself is never
//! compared; a stolen database holds nothing that can be followed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rampart_core::Error;
use sha2::{Digest, Sha256};

const PREFIX: &str = "rsl_";
const RANDOM_BYTES: usize = 32;
/// `rsl_` followed by 32 bytes in unpadded base64url.
const TOKEN_LEN: usize = PREFIX.len() + 43;

/// What a link decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The requester becomes a member; their suspended cases open.
    Authorize,
    /// The case stays suspended and closes after the configured period.
    Ignore,
}

impl Decision {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Authorize => "authorize",
            Decision::Ignore => "ignore",
        }
    }

    /// The decision named `raw`.
    pub fn parse(raw: &str) -> Option<Decision> {
        [Decision::Authorize, Decision::Ignore]
            .into_iter()
            .find(|d| d.as_str() == raw)
    }
}

/// A freshly drawn link token: the secret for the e-mail and the hash for the store.
pub struct LinkToken {
    secret: String,
    hash: [u8; 32],
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

impl LinkToken {
    /// Draws a new token from the operating system's RNG.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; RANDOM_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("operating system RNG: {e}")))?;
        let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = digest(&secret);
        Ok(Self { secret, hash })
    }

    /// The secret, to put in the e-mail and nowhere else.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The hash to store.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// Hashes a presented token, or `None` if it cannot be one of ours.
pub fn hash_token(presented: &str) -> Option<[u8; 32]> {
    let well_formed = presented.len() == TOKEN_LEN
        && presented.starts_with(PREFIX)
        && presented[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| digest(presented))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
