//! What every handler shares: the store, credential policies, throttles, metrics, clock.

use std::sync::Arc;

use rampart_core::{AuditContext, Clock, Error};
use rampart_identity::{
    AddressThrottle, HashParams, LockoutPolicy, PasswordHasher, PasswordPolicy,
};
use rampart_store::Store;
use time::Duration;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::identity::sessions::SessionCache;
use crate::metrics::Metrics;

/// Shared state of one node.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The fields behind [`AppState`].
pub struct Inner {
    /// The database.
    pub store: Store,
    /// The effective configuration.
    pub config: Config,
    /// argon2id hasher.
    pub hasher: PasswordHasher,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// Per-username lockout.
    pub lockout: LockoutPolicy,
    /// Per-address slow-down.
    pub address_throttle: AddressThrottle,
    /// Bounds concurrent argon2 computations (each takes `memory_kib` of memory), so a
    /// login flood queues instead of exhausting memory.
    pub hashing: Semaphore,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Live sessions, when the store is exclusive to this node.
    pub sessions: SessionCache,
    /// Striped locks serialising password checks per username (see `login_gate`).
    login_gates: Vec<tokio::sync::Mutex<()>>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// The authorization index, kept current with the database.
    pub authz: Arc<crate::authz::engine::AuthzEngine>,
    /// The tamper-evident audit log: tree, checkpoints, proofs, the access pipeline.
    pub audit: Arc<crate::audit::AuditLog>,
    /// Keyed pseudonyms of texts the audit trail must not hold (unknown usernames).
    pub pseudonyms: rampart_identity::Pseudonyms,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl AppState {
    /// Builds the state from a validated configuration.
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let hasher = PasswordHasher::new(HashParams {
            memory_kib: config.password_hash.memory_kib,
            iterations: config.password_hash.iterations,
            parallelism: config.password_hash.parallelism,
        })?;
        let password_policy = PasswordPolicy {
            min_length: config.password.min_length as usize,
            min_score: u8::try_from(config.password.min_score).unwrap_or(4),
            history: config.password.history as usize,
            ..PasswordPolicy::default()
        };
        let l = &config.lockout;
        let lockout = LockoutPolicy {
            threshold: l.threshold,
            base: Duration::seconds(l.base_seconds.into()),
            max: Duration::seconds(l.max_seconds.into()),
            window: Duration::seconds(l.window_seconds.into()),
        };
        let address_throttle = AddressThrottle::new(
            l.address_free_failures,
            Duration::seconds(l.address_base_seconds.into()),
            Duration::seconds(l.address_max_seconds.into()),
            Duration::seconds(l.window_seconds.into()),
        );
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let key = crate::audit::load_or_create_key(&config.data_dir, &config.audit.origin)?;
        let origin = crate::audit::origin_of(&config.audit.origin, &key);
        let pseudonyms = rampart_identity::Pseudonyms::new(key.to_text().as_bytes());
        let audit = crate::audit::AuditLog::new(
            store.clone(),
            key,
            origin,
            config.audit.pipeline_capacity as usize,
            config.audit.batch_max as usize,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                store: store.clone(),
                config,
                hasher,
                password_policy,
                lockout,
                address_throttle,
                hashing: Semaphore::new(parallel * 2),
                metrics: Arc::new(Metrics::default()),
                sessions: SessionCache::new(100_000),
                login_gates: (0..1024).map(|_| tokio::sync::Mutex::new(())).collect(),
                clock,
                authz: crate::authz::engine::AuthzEngine::new(store.clone()),
                audit,
                pseudonyms,
            }),
        })
    }

    /// Waits until no other login for the same username is being checked on this node.
    pub async fn login_gate(
        &self,
        provider: rampart_core::Provider,
        username_norm: &str,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        use std::hash::{Hash as _, Hasher as _};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (provider.as_str(), username_norm).hash(&mut hasher);
        let stripe =
            usize::try_from(hasher.finish() % self.login_gates.len().max(1) as u64).unwrap_or(0);
        match self.login_gates.get(stripe) {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    /// An audit context for the system itself (no actor).
    pub fn system_context(&self) -> AuditContext {
        AuditContext {
            node_id: self.config.node_id.clone(),
            ..AuditContext::default()
        }
    }

    /// Runs `work` with the hasher off the async threads, at most [`Inner::hashing`] at once.
    async fn with_hasher<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| Error::Internal("hashing semaphore closed".into()))?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || work(&hasher))
            .await
            .map_err(|e| Error::Internal(format!("hashing task: {e}")))
    }

    /// Verifies `password` against `phc`; with no hash (unknown user) spends the same time
    /// on a dummy hash and answers `false`.
    pub async fn verify_password(&self, password: &str, phc: Option<&str>) -> Result<bool, Error> {
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        self.with_hasher(move |hasher| match phc {
            Some(phc) => hasher.verify(&password, &phc),
            None => {
                hasher.verify_dummy(&password);
                false
            }
        })
        .await
    }

    /// Hashes a new password.
    pub async fn hash_password(&self, password: &str) -> Result<String, Error> {
        let password = password.to_owned();
        self.with_hasher(move |hasher| hasher.hash(&password))
            .await?
    }

    /// Checks a new password against the policy and the user's recent passwords.
    pub async fn check_new_password(
        &self,
        password: &str,
        user_inputs: &[&str],
        user: Option<rampart_core::UserId>,
    ) -> Result<(), Error> {
        self.password_policy.check(password, user_inputs)?;
        let remembered = self.password_policy.history;
        if let (Some(id), true) = (user, remembered > 0) {
            let history = self.store.password_history(id, remembered).await?;
            for old in &history {
                if self.verify_password(password, Some(old)).await? {
                    return Err(Error::PasswordRejected {
                        rule: rampart_core::PasswordRule::Reused,
                        reason: format!("must differ from your last {remembered} passwords"),
                    });
                }
            }
        }
        Ok(())
    }
}
