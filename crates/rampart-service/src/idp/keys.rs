//! The provider's signing keys, one of each algorithm (`jwt::Alg`): the first made at first
//! use, cached per node, rotated by an administrator (a rotation replaces the key of every
//! algorithm).
//!
//! Rotation publishes the new key at once and lets it sign only [`PUBLISH_AHEAD`] later, so
//! relying parties (and the other nodes, whose caches live [`CACHE_FOR`]) have fetched it
//! before they meet a token it signed; the old key goes on signing until then and stays
//! published until every token it signed has expired ([`RETIRE_AFTER`] past the switch).

use std::sync::{Arc, RwLock};

use rampart_core::{AuditContext, Error};
use rampart_idp::jwt::{generate_pkcs8, Alg, PublicKey, SigningKey};
use rampart_store::StoredKey;
use time::{Duration, OffsetDateTime};

use crate::caller::Caller;
use crate::state::AppState;

/// How long a node keeps the keys it read.
pub const CACHE_FOR: Duration = Duration::seconds(60);
/// How long a new key is published before it signs.
pub const PUBLISH_AHEAD: Duration = Duration::minutes(10);
/// How long a replaced key stays published after it stopped signing: longer than any
/// token it signed lives.
pub const RETIRE_AFTER: Duration = Duration::hours(1);

/// The keys as last read.
#[derive(Clone)]
pub struct Loaded {
    /// When they were read.
    pub at: OffsetDateTime,
    /// The keys that sign now, one per algorithm (in `Alg::ALL` order).
    signers: Arc<Vec<SigningKey>>,
    /// Every published key.
    pub published: Arc<Vec<PublicKey>>,
    /// The stored rows (for the administrators' list).
    pub stored: Arc<Vec<StoredKey>>,
}

impl Loaded {
    /// The key of `alg` that signs now.
    pub fn signer(&self, alg: Alg) -> Result<&SigningKey, Error> {
        self.signers
            .iter()
            .find(|k| k.alg() == alg)
            .ok_or_else(|| Error::Internal(format!("no {} key signs yet", alg.as_str())))
    }
}

/// A node's cache of the keys.
#[derive(Default)]
pub struct KeyCache {
    loaded: RwLock<Option<Loaded>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

fn key_error(e: rampart_idp::jwt::KeyError) -> Error {
    Error::Internal(format!("signing key: {e}"))
}

/// The current keys, read again when the cache is older than [`CACHE_FOR`]; the first key
/// is made when there is none.
pub async fn current(state: &AppState) -> Result<Loaded, Error> {
    let now = state.clock.now();
    if let Ok(guard) = state.idp.loaded.read() {
        if let Some(l) = guard
            .as_ref()
            .filter(|l| now - l.at < CACHE_FOR && now >= l.at)
        {
            return Ok(l.clone());
        }
    }
    reload(state, now).await
}

/// Reads the keys from the store now (after a rotation on this node); the first key of an
/// algorithm is made when there is none.
pub async fn reload(state: &AppState, now: OffsetDateTime) -> Result<Loaded, Error> {
    let mut stored = state.store.idp_keys(now).await?;
    for alg in Alg::ALL {
        if !stored.iter().any(|k| k.alg == alg.as_str()) {
            let kid = new_kid()?;
            let (private, sealed) = new_key(state, &kid, alg)?;
            let ctx = state.system_context();
            state
                .store
                .idp_add_key(
                    &kid,
                    alg.as_str(),
                    &private,
                    sealed,
                    now,
                    now + RETIRE_AFTER,
                    true,
                    now,
                    &ctx,
                )
                .await?;
            stored = state.store.idp_keys(now).await?;
        }
    }
    let mut published = Vec::with_capacity(stored.len());
    let mut signers: Vec<SigningKey> = Vec::new();
    for key in &stored {
        let alg = Alg::parse(&key.alg)
            .ok_or_else(|| Error::Internal(format!("a stored key of algorithm {}", key.alg)))?;
        let der = if key.sealed {
            state
                .keys
                .open_secret(PURPOSE, &key.kid, &key.private)
                .unwrap_or_else(|| {
                    Err(Error::Internal(
                        "the provider's signing keys are sealed under a master key, and none \
                         is configured ([keys] master_key)"
                            .into(),
                    ))
                })?
        } else {
            zeroize::Zeroizing::new(key.private.clone())
        };
        let signing = SigningKey::from_pkcs8(&key.kid, alg, &der).map_err(key_error)?;
        published.push(signing.public());
        // The newest key of its algorithm whose time to sign has come (rows are in
        // `signs_from` order).
        if key.signs_from <= now {
            signers.retain(|k| k.alg() != alg);
            signers.push(signing);
        }
    }
    signers.sort_by_key(|k| Alg::ALL.iter().position(|a| *a == k.alg()));
    let loaded = Loaded {
        at: now,
        signers: Arc::new(signers),
        published: Arc::new(published),
        stored: Arc::new(stored),
    };
    for alg in Alg::ALL {
        loaded.signer(alg)?;
    }
    if let Ok(mut guard) = state.idp.loaded.write() {
        *guard = Some(loaded.clone());
    }
    Ok(loaded)
}

/// What sealed signing keys are sealed for (the key id is the owner).
const PURPOSE: &str = "idp-signing-key";

/// A new private key of `alg` named `kid`, as stored: sealed under the master key when one is
/// configured (and whether it is), plain PKCS#8 otherwise.
fn new_key(state: &AppState, kid: &str, alg: Alg) -> Result<(Vec<u8>, bool), Error> {
    let der = zeroize::Zeroizing::new(generate_pkcs8(alg).map_err(key_error)?);
    match state.keys.seal_secret(PURPOSE, kid, &der) {
        Some(sealed) => Ok((sealed?, true)),
        None => Ok((der.to_vec(), false)),
    }
}

fn new_kid() -> Result<String, Error> {
    rampart_idp::grant::random_id()
        .ok_or_else(|| Error::Internal("the random generator failed".into()))
}

/// Rotates the signing key (`idp.key.rotate`): an administrator, after a step-up (a
/// sensitive operation). The adapter checks the administrator.
pub async fn rotate(state: &AppState, caller: &Caller) -> Result<Loaded, Error> {
    crate::identity::mfa::require_step_up(state, caller, "rotating the provider's signing key")
        .await?;
    rotate_as(state, &caller.audit).await
}

/// Rotates the signing keys under `ctx` (the offline CLI's system context, or a caller's):
/// a new key of each algorithm.
pub async fn rotate_as(state: &AppState, ctx: &AuditContext) -> Result<Loaded, Error> {
    let now = state.clock.now();
    // Make sure keys exist first, so the new ones have ones to replace.
    reload(state, now).await?;
    let signs_from = now + PUBLISH_AHEAD;
    for alg in Alg::ALL {
        let kid = new_kid()?;
        let (private, sealed) = new_key(state, &kid, alg)?;
        state
            .store
            .idp_add_key(
                &kid,
                alg.as_str(),
                &private,
                sealed,
                signs_from,
                signs_from + RETIRE_AFTER,
                false,
                now,
                ctx,
            )
            .await?;
    }
    reload(state, now).await
}
