//! The node's credential service: the password hasher and its bound on concurrent hashes,
//! the password policy, lockout and per-address throttling, the per-username login gates,
//! and the pseudonyms that stand in for unknown usernames in the audit trail.

use rampart_core::{Error, PasswordRule, Provider, UserId};
use rampart_identity::{
    AddressThrottle, HashParams, LockoutPolicy, PasswordHasher, PasswordPolicy, Pseudonyms,
};
use rampart_store::Store;
use time::Duration;
use tokio::sync::{Mutex, MutexGuard, Semaphore};

use crate::config::Config;

/// How many striped locks serialise password checks per username.
const LOGIN_GATES: usize = 1024;

/// Passwords and the rules around them, as one node applies them.
pub struct Credentials {
    /// argon2id hasher.
    hasher: PasswordHasher,
    /// Bounds concurrent argon2 computations (each takes `memory_kib` of memory), so a
    /// login flood queues instead of exhausting memory.
    hashing: Semaphore,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// Per-username lockout.
    pub lockout: LockoutPolicy,
    /// Per-address slow-down.
    pub address_throttle: AddressThrottle,
    /// Striped locks serialising password checks per username (see [`Credentials::login_gate`]).
    login_gates: Vec<Mutex<()>>,
    /// Keyed pseudonyms of texts the audit trail must not hold (unknown usernames).
    pub pseudonyms: Pseudonyms,
}

impl Credentials {
    /// Builds the service from a validated configuration; `pseudonym_key` keys the
    /// pseudonyms (the node's audit key, so every node of a cluster names a stranger alike).
    pub fn new(config: &Config, pseudonym_key: &[u8]) -> Result<Self, Error> {
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
        Ok(Self {
            hasher,
            hashing: Semaphore::new(parallel * 2),
            password_policy,
            lockout,
            address_throttle,
            login_gates: (0..LOGIN_GATES).map(|_| Mutex::new(())).collect(),
            pseudonyms: Pseudonyms::new(pseudonym_key),
        })
    }

    /// Waits until no other login for the same username is being checked on this node.
    pub async fn login_gate(
        &self,
        provider: Provider,
        username_norm: &str,
    ) -> Option<MutexGuard<'_, ()>> {
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

    /// Runs `work` with the hasher off the async threads, at most `2 ×` the cores at once.
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

    /// Whether a stored hash has the configured cost (see [`PasswordHasher::is_current`]).
    pub fn hash_is_current(&self, phc: &str) -> bool {
        self.hasher.is_current(phc)
    }

    /// Hashes a new password.
    pub async fn hash_password(&self, password: &str) -> Result<String, Error> {
        let password = password.to_owned();
        self.with_hasher(move |hasher| hasher.hash(&password))
            .await?
    }

    /// Checks a new password against the policy and, for an existing user, against the
    /// passwords they used last (read from `store`).
    pub async fn check_new_password(
        &self,
        store: &Store,
        password: &str,
        user_inputs: &[&str],
        user: Option<UserId>,
    ) -> Result<(), Error> {
        self.password_policy.check(password, user_inputs)?;
        let remembered = self.password_policy.history;
        if let (Some(id), true) = (user, remembered > 0) {
            let history = store.password_history(id, remembered).await?;
            for old in &history {
                if self.verify_password(password, Some(old)).await? {
                    return Err(Error::PasswordRejected {
                        rule: PasswordRule::Reused,
                        reason: format!("must differ from your last {remembered} passwords"),
                    });
                }
            }
        }
        Ok(())
    }
}
