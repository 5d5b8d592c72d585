//! Checkpoint bodies in the C2SP tlog-checkpoint format.
//!
//! A checkpoint is the text a log signs to commit to its state:
//!
//! ```text
//! <origin>\n
//! <tree size in decimal>\n
//! <base64 of the 32-byte root hash>\n
//! [<extension line>\n ...]
//! ```
//!
//! The origin names the log (by convention a schema-less URL), the size has no leading zeros,
//! the root uses standard padded base64, and optional extension lines follow; no line is
//! empty and none holds a control character.

use crate::hash::Hash;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use thiserror::Error;

/// The state of a log at one size: its origin, size and root hash, plus extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, which names the log.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 6962 root hash of the first `size` leaves.
    pub root: Hash,
    /// Optional extension lines after the root, without their newlines.
    pub extensions: Vec<String>,
}

/// Why a text is not a valid checkpoint body, or a checkpoint cannot be written as one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointError {
    /// The body does not end with a newline.
    #[error("a checkpoint body ends with a newline")]
    NoFinalNewline,
    /// The body has fewer than three lines.
    #[error(
        "a checkpoint body has at least three lines (origin, size, root), this one has {lines}"
    )]
    TooFewLines {
        /// The number of lines found.
        lines: usize,
    },
    /// The origin is empty.
    #[error("the checkpoint origin is empty")]
    EmptyOrigin,
    /// The size line is not a decimal number without leading zeros that fits in 64 bits.
    #[error("the checkpoint size {text:?} is not a decimal number without leading zeros")]
    Size {
        /// The size line.
        text: String,
    },
    /// The root line is not the base64 of 32 bytes.
    #[error("the checkpoint root {text:?} is not the standard base64 of a 32-byte hash")]
    Root {
        /// The root line.
        text: String,
    },
    /// An extension line is empty (the body has a blank line).
    #[error("extension line {line} of the checkpoint is empty")]
    EmptyExtension {
        /// The line number, counted from 1 over the whole body.
        line: usize,
    },
    /// A line holds a control character (a newline inside a field, for instance).
    #[error("line {line} of the checkpoint holds a control character")]
    ControlCharacter {
        /// The line number, counted from 1 over the whole body.
        line: usize,
    },
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Checks that the origin and extension lines can be written as a valid body.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if self.origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        if has_control(&self.origin) {
            return Err(CheckpointError::ControlCharacter { line: 1 });
        }
        for (i, extension) in self.extensions.iter().enumerate() {
            if extension.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: i + 4 });
            }
            if has_control(extension) {
                return Err(CheckpointError::ControlCharacter { line: i + 4 });
            }
        }
        Ok(())
    }

    /// The body text. It is a valid body exactly when [`Checkpoint::validate`] passes.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        body
    }

    /// Parses a body text.
    pub fn parse(body: &str) -> Result<Self, CheckpointError> {
        let Some(body) = body.strip_suffix('\n') else {
            return Err(CheckpointError::NoFinalNewline);
        };
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(CheckpointError::TooFewLines { lines: lines.len() });
        }
        for (i, line) in lines.iter().enumerate() {
            if has_control(line) {
                return Err(CheckpointError::ControlCharacter { line: i + 1 });
            }
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_size(lines[1]).ok_or_else(|| CheckpointError::Size {
            text: lines[1].to_owned(),
        })?;
        let root_error = || CheckpointError::Root {
            text: lines[2].to_owned(),
        };
        let root_bytes = STANDARD.decode(lines[2]).map_err(|_| root_error())?;
        let root: Hash = root_bytes.try_into().map_err(|_| root_error())?;
        let mut extensions = Vec::with_capacity(lines.len() - 3);
        for (i, line) in lines.iter().enumerate().skip(3) {
            if line.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: i + 1 });
            }
            extensions.push((*line).to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A decimal size without sign or leading zeros.
fn parse_size(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// Whether a line holds a control character (C0, DEL or C1).
fn has_control(line: &str) -> bool {
    line.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn check(body: &str, expected: Result<(), CheckpointError>) {
        assert_eq!(Checkpoint::parse(body).map(|_| ()), expected, "{body:?}");
    }

    #[test]
    fn round_trips_with_extensions() {
        let mut cp = Checkpoint::new("audit.example.com/log", 42, leaf_hash(b"r"));
        assert_eq!(Checkpoint::parse(&cp.to_body()), Ok(cp.clone()));
        cp.extensions.push("— witness extension".into());
        assert_eq!(Checkpoint::parse(&cp.to_body()), Ok(cp));
    }

    #[test]
    fn refuses_malformed_bodies() {
        let root = STANDARD.encode([7u8; 32]);
        check(&format!("o\n1\n{root}\n"), Ok(()));
        check(
            &format!("o\n1\n{root}"),
            Err(CheckpointError::NoFinalNewline),
        );
        check("o\n1\n", Err(CheckpointError::TooFewLines { lines: 2 }));
        check(&format!("\n1\n{root}\n"), Err(CheckpointError::EmptyOrigin));
        for size in ["01", "-1", "+1", "", "1 ", "18446744073709551616"] {
            check(
                &format!("o\n{size}\n{root}\n"),
                Err(CheckpointError::Size { text: size.into() }),
            );
        }
        let short = STANDARD.encode([7u8; 31]);
        check(
            &format!("o\n1\n{short}\n"),
            Err(CheckpointError::Root { text: short }),
        );
        check(
            &format!("o\n1\n{root}\n\nx\n"),
            Err(CheckpointError::EmptyExtension { line: 4 }),
        );
        check(
            &format!("o\t\n1\n{root}\n"),
            Err(CheckpointError::ControlCharacter { line: 1 }),
        );
    }

    #[test]
    fn validate_refuses_fields_that_would_break_the_body() {
        let mut cp = Checkpoint::new("a\nb", 1, [0; 32]);
        assert_eq!(
            cp.validate(),
            Err(CheckpointError::ControlCharacter { line: 1 })
        );
        cp.origin = "a".into();
        cp.extensions.push(String::new());
        assert_eq!(
            cp.validate(),
            Err(CheckpointError::EmptyExtension { line: 4 })
        );
    }
}
