//! The audit log's signing keys: generation 0 in the data directory (`audit-signing.key`),
//! later generations made by a rotation and kept in the database sealed under the master
//! key, so that whichever node signs next (the cluster's leader, or a command) signs with
//! the current key.
//!
//! The chain is read from the database before every signature, so a node that takes the
//! lease, or one that was started before a rotation elsewhere, signs with the current key;
//! a private key is unsealed once per node and kept. A rotation is pending until the next
//! checkpoint, which is signed by both the previous and the new key
//! (`rampart_audit::keychain::sign_rotation`); after it, only the new key signs.

use std::sync::Arc;

use rampart_audit::{SigningKey, VerifierKey};
use rampart_core::{AuditContext, Error};

use super::AuditLog;
use crate::state::AppState;

/// The sealing purpose of rotated audit keys under the master key.
const PURPOSE: &str = "audit-signing-key";

/// What signs the next checkpoint.
pub(super) enum Signer {
    /// One key (no rotation pending).
    Plain(Arc<SigningKey>),
    /// A pending rotation: generation `generation` and the key before it sign together.
    Rotation {
        old: Arc<SigningKey>,
        new: Arc<SigningKey>,
        generation: i64,
    },
}

/// One generation of the chain as the node knows it.
#[derive(Clone)]
pub(super) struct Generation {
    pub(super) number: i64,
    pub(super) verifier: VerifierKey,
    /// `None` for a pending rotation; 0 for generation 0.
    pub(super) from_size: Option<u64>,
}

/// A rotation's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The new generation.
    pub generation: i64,
    /// The new verifier key.
    pub verifier_key: String,
    /// The key it replaces.
    pub previous_key: String,
    /// The size of the rotation checkpoint, when it was signed at once.
    pub checkpoint_size: Option<u64>,
}

fn owner(generation: i64) -> String {
    format!("generation-{generation}")
}

impl AuditLog {
    /// Gives the log the node's master key, which opens rotated signing keys.
    pub fn use_keys(&self, keys: Arc<crate::apps::keys::FieldKeys>) {
        let _ = self.master.set(keys);
    }

    /// The chain as stored: generation 0 and every rotation, oldest first.
    pub(super) async fn generations(&self) -> Result<Vec<Generation>, Error> {
        let mut chain = vec![Generation {
            number: 0,
            verifier: self.key.verifier(),
            from_size: Some(0),
        }];
        for row in self.store.audit_signing_keys().await? {
            let verifier = VerifierKey::parse(&row.verifier).map_err(|e| {
                Error::Internal(format!(
                    "stored audit key generation {}: {e}",
                    row.generation
                ))
            })?;
            chain.push(Generation {
                number: row.generation,
                verifier,
                from_size: row.rotation_size,
            });
        }
        Ok(chain)
    }

    /// The verifier key that signs checkpoints of `size`: the newest generation introduced
    /// at or below it.
    pub async fn verifier_at(&self, size: u64) -> Result<VerifierKey, Error> {
        let chain = self.generations().await?;
        Ok(chain
            .iter()
            .rev()
            .find(|g| g.from_size.is_some_and(|s| s <= size))
            .map_or_else(|| self.key.verifier(), |g| g.verifier.clone()))
    }

    /// The verifier key the log signs with now (the newest introduced generation).
    pub async fn current_verifier(&self) -> Result<VerifierKey, Error> {
        self.verifier_at(u64::MAX).await
    }

    /// The rotation checkpoints stored up to `size`, oldest first, for a proof bundle.
    pub async fn rotation_notes(&self, size: u64) -> Result<Vec<String>, Error> {
        let mut notes = Vec::new();
        for g in self.generations().await?.iter().skip(1) {
            if let Some(at) = g.from_size.filter(|s| *s <= size) {
                if let Some(c) = self.store.audit_checkpoints(at, at, false).await?.pop() {
                    notes.push(c.note);
                }
            }
        }
        Ok(notes)
    }

    /// The private key of generation `number`, unsealed once per node.
    async fn private(&self, number: i64) -> Result<Arc<SigningKey>, Error> {
        if number == 0 {
            return Ok(self.key.clone());
        }
        if let Some(key) = self.unsealed.lock().await.get(&number) {
            return Ok(key.clone());
        }
        let row = self
            .store
            .audit_signing_keys()
            .await?
            .into_iter()
            .find(|r| r.generation == number)
            .ok_or_else(|| Error::Internal(format!("no audit key generation {number}")))?;
        let keys = self.master.get().ok_or_else(|| no_master(number))?;
        let text = keys
            .open_secret(PURPOSE, &owner(number), &row.sealed)
            .ok_or_else(|| no_master(number))??;
        let text = std::str::from_utf8(&text)
            .map_err(|_| Error::Internal(format!("audit key generation {number} is not text")))?;
        let key = Arc::new(
            SigningKey::parse(text)
                .map_err(|e| Error::Internal(format!("audit key generation {number}: {e}")))?,
        );
        if key.verifier()
            != VerifierKey::parse(&row.verifier)
                .map_err(|e| Error::Internal(format!("audit key generation {number}: {e}")))?
        {
            return Err(Error::Internal(format!(
                "audit key generation {number}: the sealed key is not the stored verifier's"
            )));
        }
        self.unsealed.lock().await.insert(number, key.clone());
        Ok(key)
    }

    /// What signs the next checkpoint, read from the database now.
    pub(super) async fn signer(&self) -> Result<Signer, Error> {
        let chain = self.generations().await?;
        let newest = chain.last().map_or(0, |g| g.number);
        match chain.last() {
            Some(g) if g.from_size.is_none() => Ok(Signer::Rotation {
                old: self.private(newest - 1).await?,
                new: self.private(newest).await?,
                generation: newest,
            }),
            _ => Ok(Signer::Plain(self.private(newest).await?)),
        }
    }
}

fn no_master(number: i64) -> Error {
    Error::Unavailable(format!(
        "the audit signing key was rotated (generation {number}) and this node has no master \
         key to open it: configure the same [keys] master_key as the other nodes"
    ))
}

/// Rotates the audit signing key for an administrator (a second factor verified
/// recently, for those who have one), then signs the rotation checkpoint.
pub async fn rotate(state: &AppState, caller: &crate::caller::Caller) -> Result<Rotated, Error> {
    crate::identity::mfa::require_step_up(state, caller, "rotating the audit signing key").await?;
    rotate_as(state, &caller.audit).await
}

/// Rotates the audit signing key under `ctx` (the offline command's system context, or a
/// caller's): a new key is drawn, sealed under the master key and stored with its
/// `audit.key.rotate` event (the old and new verifier keys, no secret); the next checkpoint,
/// signed here at once, carries both signatures.
pub async fn rotate_as(state: &AppState, ctx: &AuditContext) -> Result<Rotated, Error> {
    let log = &state.audit;
    if !state.keys.configured() {
        return Err(Error::Conflict(
            "rotating the audit signing key needs [keys] master_key: the new key is sealed \
             under it in the database, for every node"
                .into(),
        ));
    }
    let chain = log.generations().await?;
    let Some(newest) = chain.last() else {
        return Err(Error::Internal("empty audit key chain".into()));
    };
    if newest.from_size.is_none() {
        return Err(Error::Conflict(
            "the previous rotation of the audit signing key is not signed yet: wait for the \
             next checkpoint"
                .into(),
        ));
    }
    let generation = newest.number + 1;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut seed[..]).map_err(|e| Error::Internal(format!("random: {e}")))?;
    let key = SigningKey::from_seed(log.key.name(), *seed)
        .map_err(|e| Error::Internal(format!("audit signing key: {e}")))?;
    let text = zeroize::Zeroizing::new(key.to_text());
    let sealed = state
        .keys
        .seal_secret(PURPOSE, &owner(generation), text.as_bytes())
        .ok_or_else(|| no_master(generation))??;
    let previous = newest.verifier.to_text();
    let verifier = key.verifier_key();
    let now = state.clock.now();
    state
        .store
        .audit_add_signing_key(generation, &previous, &verifier, &sealed, now, ctx)
        .await?;
    log.unsealed.lock().await.insert(generation, Arc::new(key));
    let checkpoint = match log.checkpoint(now, &state.metrics).await {
        Ok(c) => (c.note.contains(rampart_audit::keychain::ROTATION)).then_some(c.size),
        Err(e) => {
            tracing::warn!(error = %e, "the rotation checkpoint was not signed yet");
            None
        }
    };
    Ok(Rotated {
        generation,
        verifier_key: verifier,
        previous_key: previous,
        checkpoint_size: checkpoint,
    })
}
