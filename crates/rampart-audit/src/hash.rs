//! Leaf and node hashing of RFC 6962 / RFC 9162 Merkle trees, and the hex text of hashes.
//!
//! Leaves and interior nodes are hashed with different one-byte prefixes (0x00 and 0x01), so
//! no leaf can ever be passed off as an interior node or the other way round.

use sha2::{Digest, Sha256};
use thiserror::Error;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The prefix of a leaf hash input (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// The prefix of an interior node hash input (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// The hash of a leaf: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 65];
    input[0] = NODE_PREFIX;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    Sha256::digest(input).into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a text is not the hex form of a hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    /// The text does not have the 64 characters of a 32-byte hash.
    #[error("a hash is 64 hex digits, but this text has {len} characters")]
    Length {
        /// The length of the text in bytes.
        len: usize,
    },
    /// A character is not a hex digit.
    #[error("character {position} of the hash is not a hex digit")]
    Digit {
        /// The position of the first offending byte, counted from 0.
        position: usize,
    },
}

/// The lowercase hex text of a hash.
pub fn to_hex(hash: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in hash {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Parses the hex text of a hash (either case).
pub fn from_hex(text: &str) -> Result<Hash, HexError> {
    from_hex_bytes(text.as_bytes())
}

/// Parses the hex text of a hash given as bytes (either case).
pub fn from_hex_bytes(text: &[u8]) -> Result<Hash, HexError> {
    if text.len() != 64 {
        return Err(HexError::Length { len: text.len() });
    }
    // A table lookup per digit, with the error check once at the end: no branch per digit
    // to mispredict, which matters when verifying millions of leaf hashes.
    let mut out = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let high = HEX_VALUES[usize::from(pair[0])];
        let low = HEX_VALUES[usize::from(pair[1])];
        invalid |= (high | low) & 0x80;
        *byte = (high << 4) | (low & 0x0f);
    }
    if invalid != 0 {
        let position = text
            .iter()
            .position(|&c| HEX_VALUES[usize::from(c)] & 0x80 != 0)
            .unwrap_or(0);
        return Err(HexError::Digit { position });
    }
    Ok(out)
}

/// The value of each byte as a hex digit, or 0x80 for bytes that are not hex digits.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            to_hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_of_empty_input_is_the_rfc_value() {
        // RFC 6962 test data: the leaf hash of the empty leaf is SHA-256 of the single byte 0x00.
        assert_eq!(
            to_hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let h = leaf_hash(b"x");
        assert_eq!(from_hex(&to_hex(&h)), Ok(h));
        assert_eq!(from_hex(&to_hex(&h).to_uppercase()), Ok(h));
        assert_eq!(from_hex("abc"), Err(HexError::Length { len: 3 }));
        let mut bad = to_hex(&h);
        bad.replace_range(5..6, "g");
        assert_eq!(from_hex(&bad), Err(HexError::Digit { position: 5 }));
    }
}
