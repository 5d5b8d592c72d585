//! Signing-key rotation: the chain of keys a log signs its checkpoints with, and the one
//! rule that lets a verifier holding only the first public key follow it.
//!
//! A rotation is a checkpoint with one extension line
//!
//! ```text
//! rampart-key-rotation <old verifier key> <new verifier key>
//! ```
//!
//! signed by **both** keys: the old key signs the new key's public half (so the old key
//! introduces it) and the new key signs too (so the rotation cannot name a key nobody
//! holds). From that checkpoint on, every checkpoint is signed by the new key, and the old
//! key is retired: a checkpoint it signs later is refused, and so is a rotation that would
//! bring it (or any retired key) back.
//!
//! [`KeyChain`] is that rule applied to checkpoints in size order; the export verifier, the
//! proof bundle's verifier and the witness all feed it.
//!
//! **Invariant:** every checkpoint after a rotation is signed by a key the previous key
//! introduced.

use crate::checkpoint::Checkpoint;
use crate::note::{open_text, split_note, NoteError, SigningKey, VerifierKey};
use thiserror::Error;

/// The first word of a rotation's extension line.
pub const ROTATION: &str = "rampart-key-rotation";

/// Why a checkpoint does not continue the chain of keys.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// The note is not a well-formed signed checkpoint.
    #[error("{0}")]
    Note(NoteError),
    /// No signature by the key the log signs with at this point.
    #[error("not signed by the log's current key {current}")]
    WrongKey {
        /// The current key, as `<name>+<hex8>`.
        current: String,
    },
    /// Signed by a key that a rotation retired, and not by the current key.
    #[error("signed by the retired key {retired}, not by the current key {current}: a retired key signs nothing after its rotation")]
    RetiredKey {
        /// The retired key.
        retired: String,
        /// The current key.
        current: String,
    },
    /// The current key's signature is there but does not verify.
    #[error("the signature by key {key} does not verify: the note was altered after signing")]
    BadSignature {
        /// The key.
        key: String,
    },
    /// A rotation line that cannot be read.
    #[error("malformed key rotation line: {reason}")]
    MalformedRotation {
        /// What is wrong.
        reason: String,
    },
    /// A rotation away from a key that is not the current one.
    #[error("a rotation from key {from}, but the log's current key is {current}")]
    NotFromCurrent {
        /// The key the rotation says it retires.
        from: String,
        /// The current key.
        current: String,
    },
    /// A rotation that is not signed by the key it retires.
    #[error("the rotation to key {new} is not signed by the key it retires, {old}")]
    RotationNotSignedByOld {
        /// The old key.
        old: String,
        /// The new key.
        new: String,
    },
    /// A rotation that is not signed by the key it introduces.
    #[error("the rotation to key {new} is not signed by that new key")]
    RotationNotSignedByNew {
        /// The new key.
        new: String,
    },
    /// A rotation to the current key or to a key already retired.
    #[error("the rotation introduces key {key}, which the log used before: a retired key is never brought back")]
    KeyReused {
        /// The key.
        key: String,
    },
}

/// `<name>+<hex8>`, how errors name a key.
pub fn key_label(key: &VerifierKey) -> String {
    format!("{}+{:08x}", key.name(), key.key_hash())
}

/// The extension line of a rotation from `old` to `new`.
pub fn rotation_line(old: &VerifierKey, new: &VerifierKey) -> String {
    format!("{ROTATION} {} {}", old.to_text(), new.to_text())
}

/// The rotation a checkpoint records, as `(old, new)`; `None` for an ordinary checkpoint.
/// A checkpoint with more than one rotation line, or one that cannot be read, is refused.
pub fn rotation_of(
    checkpoint: &Checkpoint,
) -> Result<Option<(VerifierKey, VerifierKey)>, ChainError> {
    let mut found = None;
    for line in &checkpoint.extensions {
        let Some(rest) = line
            .strip_prefix(ROTATION)
            .and_then(|r| r.strip_prefix(' '))
        else {
            continue;
        };
        if found.is_some() {
            return Err(ChainError::MalformedRotation {
                reason: "more than one rotation in a checkpoint".into(),
            });
        }
        let mut parts = rest.split(' ');
        let (Some(old), Some(new), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ChainError::MalformedRotation {
                reason: "expected the old and the new verifier key".into(),
            });
        };
        let parse = |text: &str| {
            VerifierKey::parse(text).map_err(|e| ChainError::MalformedRotation {
                reason: e.to_string(),
            })
        };
        found = Some((parse(old)?, parse(new)?));
    }
    Ok(found)
}

/// Signs a rotation checkpoint: `checkpoint` gets the rotation line from `old` to `new`,
/// and the note carries both signatures, the old key's first.
pub fn sign_rotation(
    mut checkpoint: Checkpoint,
    old: &SigningKey,
    new: &SigningKey,
) -> Result<String, NoteError> {
    checkpoint
        .extensions
        .push(rotation_line(&old.verifier(), &new.verifier()));
    let note = old.sign(&checkpoint)?;
    new.add_signature(&note)
}

/// What [`KeyChain::accept`] established about a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The key it introduced, when it is a rotation.
    pub rotated_to: Option<VerifierKey>,
}

/// The keys of one log as a verifier follows them: the key it signs with now and the keys
/// rotations retired. Feed it checkpoints in size order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChain {
    current: VerifierKey,
    retired: Vec<VerifierKey>,
}

impl KeyChain {
    /// A chain that trusts `key` as the log's current key.
    pub fn new(key: VerifierKey) -> Self {
        Self {
            current: key,
            retired: Vec::new(),
        }
    }

    /// A chain restored from its parts (a witness's state file).
    pub fn from_parts(current: VerifierKey, retired: Vec<VerifierKey>) -> Self {
        Self { current, retired }
    }

    /// The key the log signs with now.
    pub fn current(&self) -> &VerifierKey {
        &self.current
    }

    /// The keys rotations retired, oldest first.
    pub fn retired(&self) -> &[VerifierKey] {
        &self.retired
    }

    /// Checks a signed checkpoint against the chain and, when it is a valid rotation,
    /// moves the chain to the new key. Nothing changes when it is refused.
    pub fn accept(&mut self, note: &str) -> Result<Accepted, ChainError> {
        let accepted = self.check(note)?;
        if let Some(new) = &accepted.rotated_to {
            let old = std::mem::replace(&mut self.current, new.clone());
            self.retired.push(old);
        }
        Ok(accepted)
    }

    /// [`KeyChain::accept`] without moving the chain.
    pub fn check(&self, note: &str) -> Result<Accepted, ChainError> {
        let (text, _) = split_note(note).map_err(ChainError::Note)?;
        let checkpoint =
            Checkpoint::parse(text).map_err(|e| ChainError::Note(NoteError::Checkpoint(e)))?;
        let rotation = rotation_of(&checkpoint)?;
        if let Some((old, new)) = &rotation {
            if *old != self.current {
                return Err(ChainError::NotFromCurrent {
                    from: key_label(old),
                    current: key_label(&self.current),
                });
            }
            let signed_by_old = self.signed_by_current(note);
            match open_text(note, new) {
                Ok(_) => {}
                Err(NoteError::UnknownKey { .. }) => {
                    signed_by_old?;
                    return Err(ChainError::RotationNotSignedByNew {
                        new: key_label(new),
                    });
                }
                Err(NoteError::BadSignature { key }) => {
                    return Err(ChainError::BadSignature { key })
                }
                Err(e) => return Err(ChainError::Note(e)),
            }
            match signed_by_old {
                Ok(()) => {}
                Err(ChainError::WrongKey { .. } | ChainError::RetiredKey { .. }) => {
                    return Err(ChainError::RotationNotSignedByOld {
                        old: key_label(old),
                        new: key_label(new),
                    })
                }
                Err(e) => return Err(e),
            }
            if *new == self.current || self.retired.contains(new) {
                return Err(ChainError::KeyReused {
                    key: key_label(new),
                });
            }
        } else {
            self.signed_by_current(note)?;
        }
        Ok(Accepted {
            checkpoint,
            rotated_to: rotation.map(|(_, new)| new),
        })
    }

    /// Whether the current key signed the note (and its signature verifies).
    fn signed_by_current(&self, note: &str) -> Result<(), ChainError> {
        match open_text(note, &self.current) {
            Ok(_) => Ok(()),
            Err(NoteError::UnknownKey { .. }) => {
                let current = key_label(&self.current);
                match self.retired.iter().find(|k| open_text(note, k).is_ok()) {
                    Some(retired) => Err(ChainError::RetiredKey {
                        retired: key_label(retired),
                        current,
                    }),
                    None => Err(ChainError::WrongKey { current }),
                }
            }
            Err(NoteError::BadSignature { key }) => Err(ChainError::BadSignature { key }),
            Err(e) => Err(ChainError::Note(e)),
        }
    }

    /// Whether any key of the chain, current or retired, signed the note: for checkpoints
    /// a verifier sets aside unchecked (beyond an export's end).
    pub fn signed_by_any(&self, note: &str) -> bool {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .any(|k| open_text(note, k).is_ok())
    }
}
