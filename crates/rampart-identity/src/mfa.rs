//! The second factor: time-based one-time passwords (TOTP, RFC 6238), recovery codes, and
//! the pending-login token that carries a sign-in from its password to its second factor.
//!
//! # TOTP
//! A secret is 20 random bytes (160 bits, the HMAC-SHA-1 block the RFC recommends), shown
//! once to the user as base32 inside an `otpauth://totp/…` URI, the form authenticator apps
//! read from a QR code. The code of time step `T = ⌊unix time / 30⌋` is RFC 4226's HOTP of
//! `T`: HMAC-SHA-1 of `T` as 8 bytes big-endian, dynamic truncation, 6 decimal digits.
//!
//! [`verify`] accepts the code of the current step or of the one either side (±30 s of
//! clock drift), compared in constant time, and **only for a step later than the last one
//! accepted for the user**: a code, once used, is refused for the rest of its window, and so
//! is any older code. The caller keeps the last accepted step and must store the new one
//! only if it is still later than the stored one (a conditional update), so two requests
//! racing with one code cannot both pass.
//!
//! # Recovery codes
//! Ten codes of 80 random bits each, written as four groups of four base32 letters
//! (`abcd-efgh-jkmn-pqrs`), shown once. Being high-entropy, each is stored as a SHA-256
//! digest of its normal form (lower case, no separators) and found by digest, like session
//! tokens; a code is spent by the conditional update that marks it used.
//!
//! # Pending login
//! After a correct password, a user with a second factor gets a [`PendingToken`] (`rpp_`
//! and 256 random bits), not a session: it names the sign-in waiting for its second factor,
//! is stored as SHA-256, and is consumed by the step that completes the sign-in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use rampart_core::Error;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Seconds per time step.
pub const PERIOD: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const WINDOW: i64 = 1;
/// Bytes of a TOTP secret.
pub const SECRET_LEN: usize = 20;
/// Recovery codes issued at once.
pub const RECOVERY_CODES: usize = 10;

/// The 32 symbols of recovery codes: lower-case letters and digits without those people
/// confuse (`l`, `o`, `0`, `1`). The TOTP secret uses RFC 4648's base32, which
/// authenticator apps expect.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A TOTP secret. Its bytes are zeroed when it is dropped; `Debug` never shows them.
#[derive(Clone)]
pub struct TotpSecret {
    bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new secret from the operating system's random generator.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("operating system RNG: {e}")))?;
        Ok(Self { bytes })
    }

    /// A secret of these bytes (as opened from the store); at least 10 bytes (80 bits, RFC
    /// 4226's minimum).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < 10 {
            return Err(Error::Internal(
                "a TOTP secret is shorter than 80 bits".into(),
            ));
        }
        Ok(Self { bytes })
    }

    /// A secret written in base32 (RFC 4648, padding optional, case ignored), as an
    /// authenticator app takes it by hand.
    pub fn from_base32(text: &str) -> Result<Self, Error> {
        let upper: Zeroizing<String> =
            Zeroizing::new(text.trim().trim_end_matches('=').to_ascii_uppercase());
        let bytes = data_encoding::BASE32_NOPAD
            .decode(upper.as_bytes())
            .map_err(|_| Error::invalid("secret", "not base32 (A-Z and 2-7)"))?;
        Self::from_bytes(bytes)
    }

    /// The secret's bytes, to seal for the store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The secret in unpadded base32 (RFC 4648), as typed into an app by hand.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.bytes))
    }

    /// The `otpauth://totp/` URI authenticator apps read from a QR code: the label
    /// `issuer:account`, the secret, the issuer, SHA1, 6 digits, 30 s.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
            percent_encode(issuer),
            percent_encode(account),
            self.base32().as_str(),
            percent_encode(issuer),
        ))
    }

    /// The HOTP value (RFC 4226) of `counter` with `digits` digits.
    pub fn hotp(&self, counter: u64, digits: u32) -> u32 {
        hotp(&self.bytes, counter, digits)
    }

    /// The 6-digit code of time step `step` (no step before 1970 has one: `u32::MAX`,
    /// which no typed code equals).
    pub fn code_at_step(&self, step: i64) -> u32 {
        match u64::try_from(step) {
            Ok(counter) => self.hotp(counter, DIGITS),
            Err(_) => u32::MAX,
        }
    }
}

/// The time step of `unix` seconds.
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(PERIOD)
}

/// RFC 4226 §5.3: HMAC-SHA-1 of the counter, dynamic truncation, modulo `10^digits`.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let word = u32::from_be_bytes([
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) & 0x7fff_ffff;
    word % 10u32.pow(digits.min(9))
}

/// What [`verify`] decided of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The code of step `step`, later than the last one accepted: store `step` as the
    /// last accepted one (only if it is still later than the stored one).
    Accepted {
        /// The step whose code it is.
        step: i64,
    },
    /// The code of a step in the window that was already used (or an earlier one).
    Replayed,
    /// Not the code of any step in the window.
    Wrong,
}

/// A code as typed: six digits, spaces allowed between them (`123 456`). `None` for
/// anything else, which is simply a wrong code.
pub fn parse_code(typed: &str) -> Option<u32> {
    let digits: String = typed.chars().filter(|c| *c != ' ').collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Checks `typed` against the codes of the steps around `unix` (±[`WINDOW`]), refusing a
/// step not later than `last_step` (the last one accepted for this secret). Every step of
/// the window is computed and compared, in constant time, whatever matches.
pub fn verify(secret: &TotpSecret, typed: &str, unix: i64, last_step: Option<i64>) -> Verdict {
    let code = parse_code(typed);
    let now = step_of(unix);
    let mut fresh: Option<i64> = None;
    let mut used = false;
    for step in now - WINDOW..=now + WINDOW {
        let expected = secret.code_at_step(step);
        let matches: bool = expected.ct_eq(&code.unwrap_or(u32::MAX)).into();
        if matches && code.is_some() {
            if last_step.is_some_and(|last| step <= last) {
                used = true;
            } else {
                fresh = Some(step);
            }
        }
    }
    match (fresh, used) {
        (Some(step), _) => Verdict::Accepted { step },
        (None, true) => Verdict::Replayed,
        (None, false) => Verdict::Wrong,
    }
}

/// A fresh set of recovery codes: what to show once, and the digests to store.
pub struct RecoveryCodes {
    /// The codes as shown (`abcd-efgh-jkmn-pqrs`).
    pub shown: Vec<Zeroizing<String>>,
    /// Their digests, in the same order.
    pub digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodes")
            .field("count", &self.shown.len())
            .finish_non_exhaustive()
    }
}

impl RecoveryCodes {
    /// [`RECOVERY_CODES`] new codes from the operating system's random generator.
    pub fn generate() -> Result<Self, Error> {
        let mut shown = Vec::with_capacity(RECOVERY_CODES);
        let mut digests = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            // 16 symbols of 5 bits: 80 bits.
            let mut random = Zeroizing::new([0u8; 16]);
            getrandom::fill(&mut *random)
                .map_err(|e| Error::Internal(format!("operating system RNG: {e}")))?;
            let mut code = Zeroizing::new(String::with_capacity(19));
            for (i, byte) in random.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                code.push(char::from(RECOVERY_ALPHABET[usize::from(byte & 0x1f)]));
            }
            let Some(digest) = recovery_digest(&code) else {
                return Err(Error::Internal("a recovery code does not read back".into()));
            };
            digests.push(digest);
            shown.push(code);
        }
        Ok(Self { shown, digests })
    }
}

/// The stored digest of a recovery code as typed (case, spaces and dashes ignored), or
/// `None` if it cannot be one.
pub fn recovery_digest(typed: &str) -> Option<[u8; 32]> {
    let normal: Zeroizing<String> = Zeroizing::new(
        typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    let well_formed = normal.len() == 16 && normal.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    well_formed.then(|| {
        let mut hasher = Sha256::new();
        hasher.update(b"rampart-recovery-code/1\n");
        hasher.update(normal.as_bytes());
        hasher.finalize().into()
    })
}

const PENDING_PREFIX: &str = "rpp_";
/// `rpp_` and 32 random bytes in unpadded base64url.
const PENDING_LEN: usize = PENDING_PREFIX.len() + 43;

/// The token of a sign-in waiting for its second factor: shown once, stored as SHA-256.
pub struct PendingToken {
    secret: String,
    hash: [u8; 32],
}

impl std::fmt::Debug for PendingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingToken(<redacted>)")
    }
}

impl PendingToken {
    /// A new token from the operating system's random generator.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("operating system RNG: {e}")))?;
        let secret = format!("{PENDING_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = Sha256::digest(secret.as_bytes()).into();
        Ok(Self { secret, hash })
    }

    /// The secret, for the client.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// What the store keeps.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// The stored hash of a pending-login token a client presents, or `None` if it cannot be
/// one.
pub fn hash_pending(presented: &str) -> Option<[u8; 32]> {
    let well_formed = presented.len() == PENDING_LEN
        && presented.starts_with(PENDING_PREFIX)
        && presented[PENDING_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| Sha256::digest(presented.as_bytes()).into())
}

/// A QR code of `text` (an `otpauth://` URI) as an SVG element to put inline in a page:
/// black modules on white with the standard quiet zone, `size` pixels wide at least. No
/// script, no style, no link: only a rectangle and a path.
pub fn qr_svg(text: &str, size: u32) -> Result<String, Error> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| Error::Internal(format!("a QR code cannot hold this text: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build();
    // The renderer writes an XML declaration first: an inline element has none.
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    })
}

/// The same QR code as lines of Unicode half blocks, for a terminal (dark on light).
pub fn qr_text(text: &str) -> Result<String, Error> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| Error::Internal(format!("a QR code cannot hold this text: {e}")))?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a URI label or query
/// value).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
