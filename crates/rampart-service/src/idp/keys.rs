//! The provider's signing keys: the first made at first use, cached per node, rotated by an
//! administrator.
//!
//! Rotation publishes the new key at once and lets it sign only [`PUBLISH_AHEAD`] later, so
//! relying parties (and the other nodes, whose caches live [`CACHE_FOR`]) have fetched it
//! before they meet a token it signed; the old key goes on signing until then and stays
//! published until every token it signed has expired ([`RETIRE_AFTER`] past the switch).

use std::sync::{Arc, RwLock};

use rampart_core::{AuditContext, Error};
use rampart_idp::jwt::{generate_pkcs8, PublicKey, SigningKey};
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
    /// The key that signs now.
    pub signer: Arc<SigningKey>,
    /// Every published key.
    pub published: Arc<Vec<PublicKey>>,
    /// The stored rows (for the administrators' list).
    pub stored: Arc<Vec<StoredKey>>,
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

/// Reads the keys from the store now (after a rotation on this node).
pub async fn reload(state: &AppState, now: OffsetDateTime) -> Result<Loaded, Error> {
    let mut stored = state.store.idp_keys(now).await?;
    if stored.is_empty() {
        let der = generate_pkcs8().map_err(key_error)?;
        let kid = new_kid()?;
        let ctx = state.system_context();
        state
            .store
            .idp_add_key(&kid, &der, now, now + RETIRE_AFTER, true, now, &ctx)
            .await?;
        stored = state.store.idp_keys(now).await?;
    }
    let mut published = Vec::with_capacity(stored.len());
    let mut signer = None;
    for key in &stored {
        let signing = SigningKey::from_pkcs8(&key.kid, &key.private).map_err(key_error)?;
        published.push(signing.public());
        // The newest key whose time to sign has come (rows are in `signs_from` order).
        if key.signs_from <= now {
            signer = Some(signing);
        }
    }
    let signer = signer.ok_or_else(|| Error::Internal("no signing key signs yet".into()))?;
    let loaded = Loaded {
        at: now,
        signer: Arc::new(signer),
        published: Arc::new(published),
        stored: Arc::new(stored),
    };
    if let Ok(mut guard) = state.idp.loaded.write() {
        *guard = Some(loaded.clone());
    }
    Ok(loaded)
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

/// Rotates the signing key under `ctx` (the offline CLI's system context, or a caller's).
pub async fn rotate_as(state: &AppState, ctx: &AuditContext) -> Result<Loaded, Error> {
    let now = state.clock.now();
    // Make sure a key exists first, so the new one has one to replace.
    reload(state, now).await?;
    let der = generate_pkcs8().map_err(key_error)?;
    let kid = new_kid()?;
    let signs_from = now + PUBLISH_AHEAD;
    state
        .store
        .idp_add_key(
            &kid,
            &der,
            signs_from,
            signs_from + RETIRE_AFTER,
            false,
            now,
            ctx,
        )
        .await?;
    reload(state, now).await
}
