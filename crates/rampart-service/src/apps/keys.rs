//! The keys of sensitive attribute values: the master key from the configuration (a file or
//! an environment variable, never the database), and each environment's data keys and
//! blind-index key, stored wrapped by it.
//!
//! A value is sealed with the environment's newest data key, bound to its database, table,
//! attribute and record (so a ciphertext copied elsewhere does not open); it names the key
//! that sealed it, so after a rotation old values still open until they are re-encrypted.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rampart_apps::seal::{envelope_key_id, Aad, DataKey, IndexKey, MasterKey};
use rampart_core::{AuditContext, Error};
use rampart_store::{AppDatabase, Store, WrappedKey};
use time::OffsetDateTime;

use crate::config::{Config, SecretRef};

/// The node's keys of sensitive values.
pub struct FieldKeys {
    master: Option<MasterKey>,
    envs: RwLock<HashMap<String, Arc<EnvKeys>>>,
}

impl std::fmt::Debug for FieldKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldKeys")
            .field("master", &self.master.is_some())
            .finish_non_exhaustive()
    }
}

/// One environment's keys, unwrapped.
pub struct EnvKeys {
    /// How many keys were stored when these were read.
    stored: usize,
    current: DataKey,
    data: HashMap<u32, DataKey>,
    index: IndexKey,
}

/// Where a sealed value belongs: its database, table, attribute and record.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The application database.
    pub db: &'a AppDatabase,
    /// The table.
    pub table: &'a str,
    /// The attribute.
    pub attribute: &'a str,
    /// The record's id.
    pub record: &'a str,
}

fn sealing(what: &str) -> impl Fn(rampart_apps::seal::SealError) -> Error + '_ {
    move |e| Error::Internal(format!("{what}: {e}"))
}

impl EnvKeys {
    /// Seals a value's canonical text with the newest data key.
    pub fn seal(&self, at: Place<'_>, plain: &str) -> Result<Vec<u8>, Error> {
        let table = format!("{}/{}", at.db.num, at.table);
        self.current
            .seal(plain.as_bytes(), &Aad::new(&table, at.attribute, at.record))
            .map_err(sealing("sealing a value"))
    }

    /// Opens a sealed value with the key that sealed it. A value that does not open (moved,
    /// altered, or sealed under a key this environment does not have) is an error that
    /// names where, never what.
    pub fn open(&self, at: Place<'_>, envelope: &[u8]) -> Result<String, Error> {
        let table = format!("{}/{}", at.db.num, at.table);
        let key = envelope_key_id(envelope)
            .and_then(|id| self.data.get(&id))
            .ok_or_else(|| {
                Error::Internal(format!(
                    "the value of `{}` in record {} names a data key this environment does not have",
                    at.attribute, at.record
                ))
            })?;
        let plain = key
            .open(envelope, &Aad::new(&table, at.attribute, at.record))
            .map_err(|e| {
                Error::Internal(format!(
                    "the value of `{}` in record {} does not open: {e}",
                    at.attribute, at.record
                ))
            })?;
        String::from_utf8(plain)
            .map_err(|_| Error::Internal(format!("the value of `{}` is not text", at.attribute)))
    }

    /// The blind index of a value's canonical text (equal values, equal indexes).
    pub fn blind_index(
        &self,
        db: &AppDatabase,
        table: &str,
        attribute: &str,
        plain: &str,
    ) -> Vec<u8> {
        let table = format!("{}/{table}", db.num);
        self.index
            .blind_index(&table, attribute, plain.as_bytes())
            .to_vec()
    }

    /// The id of the newest data key.
    pub fn current_id(&self) -> u32 {
        self.current.id()
    }
}

impl FieldKeys {
    /// The master key the configuration names, read now (from its file or variable); none
    /// when `[keys] master_key` is empty.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let master =
            match config.keys.master_key.as_str() {
                "" => None,
                text => {
                    let reference = SecretRef::parse(text)
                        .map_err(|allowed| Error::invalid("keys.master_key", allowed))?;
                    let value = reference
                        .resolve(|name| std::env::var(name).ok())
                        .map_err(|reason| Error::invalid("keys.master_key", reason))?;
                    Some(MasterKey::parse(&value).map_err(|e| {
                        Error::invalid("keys.master_key", format!("{reference}: {e}"))
                    })?)
                }
            };
        Ok(Self {
            master,
            envs: RwLock::default(),
        })
    }

    /// Writes a new master key (base64 of 32 random bytes) to `path`, readable by its owner
    /// only; an existing file is refused.
    pub fn write_new_master_key(path: &std::path::Path) -> Result<(), Error> {
        let key = MasterKey::generate().map_err(sealing("generating a key"))?;
        let io = |e: std::io::Error| {
            Error::invalid(
                "out",
                format!(
                    "cannot create {} (it must not exist yet): {e}",
                    path.display()
                ),
            )
        };
        let mut file = crate::files::private_file()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        std::io::Write::write_all(&mut file, key.encode().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Whether a master key is configured.
    pub fn configured(&self) -> bool {
        self.master.is_some()
    }

    /// Seals a platform secret (a user's TOTP secret) under the master key for `purpose`
    /// and `owner`; `None` when no master key is configured.
    pub fn seal_secret(
        &self,
        purpose: &str,
        owner: &str,
        plain: &[u8],
    ) -> Option<Result<Vec<u8>, Error>> {
        let master = self.master.as_ref()?;
        Some(
            master
                .seal_secret(purpose, owner, plain)
                .map_err(sealing("sealing a secret")),
        )
    }

    /// Opens a platform secret sealed by [`FieldKeys::seal_secret`]; `None` when no master
    /// key is configured. A secret that does not open is an error naming the purpose only.
    pub fn open_secret(
        &self,
        purpose: &str,
        owner: &str,
        sealed: &[u8],
    ) -> Option<Result<zeroize::Zeroizing<Vec<u8>>, Error>> {
        let master = self.master.as_ref()?;
        Some(master.open_secret(purpose, owner, sealed).map_err(|e| {
            Error::Internal(format!(
                "a sealed {purpose} secret does not open with the configured master key: {e}"
            ))
        }))
    }

    /// Checks at start that the stored keys can be used: with keys stored and no master key,
    /// or a master key that does not unwrap them, the node does not start (nothing is
    /// decrypted or written with the wrong key).
    pub async fn check(&self, store: &Store, environments: &[String]) -> Result<(), Error> {
        if self.master.is_none() {
            if store.app_keys_exist().await? || store.mfa_any_secret().await?.is_some() {
                return Err(Error::invalid(
                    "keys.master_key",
                    "sensitive values or second-factor secrets are stored, and no master key \
                     is configured: set [keys] master_key to the file or variable holding it",
                ));
            }
            return Ok(());
        }
        for env in environments {
            self.load(store, env).await?;
        }
        if let Some((user, sealed)) = store.mfa_any_secret().await? {
            if let Some(Err(_)) =
                self.open_secret(crate::identity::mfa::TOTP, &user.to_string(), &sealed)
            {
                return Err(Error::invalid(
                    "keys.master_key",
                    "the configured master key does not open the stored second-factor secrets",
                ));
            }
        }
        Ok(())
    }

    fn master(&self) -> Result<&MasterKey, Error> {
        self.master.as_ref().ok_or_else(|| {
            Error::Unavailable(
                "no master key is configured ([keys] master_key), so sensitive values can be \
                 neither read nor written"
                    .into(),
            )
        })
    }

    /// The keys of `env` (read and unwrapped once), if it has any. On PostgreSQL the number
    /// of stored keys is compared on every call, so a rotation on another node is seen at
    /// once.
    pub async fn load(&self, store: &Store, env: &str) -> Result<Option<Arc<EnvKeys>>, Error> {
        if let Some(k) = self.envs.read().ok().and_then(|e| e.get(env).cloned()) {
            if store.is_exclusive() || store.app_key_count(env).await? == k.stored as i64 {
                return Ok(Some(k));
            }
        }
        let stored = store.app_keys(env).await?;
        if stored.is_empty() {
            return Ok(None);
        }
        let master = self.master()?;
        let wrong = |_| {
            Error::invalid(
                "keys.master_key",
                format!(
                    "the configured master key does not unwrap the keys of environment `{env}`"
                ),
            )
        };
        let mut data = HashMap::new();
        let mut index = None;
        for k in &stored {
            match k.kind.as_str() {
                "data" => {
                    let key = master.unwrap_data_key(&k.wrapped).map_err(wrong)?;
                    data.insert(key.id(), key);
                }
                _ => index = Some(master.unwrap_index_key(&k.wrapped).map_err(wrong)?),
            }
        }
        let current = data
            .values()
            .max_by_key(|k| k.id())
            .cloned()
            .ok_or_else(|| Error::Internal(format!("environment `{env}` has no data key")))?;
        let index = index.ok_or_else(|| {
            Error::Internal(format!("environment `{env}` has no blind-index key"))
        })?;
        let keys = Arc::new(EnvKeys {
            stored: stored.len(),
            current,
            data,
            index,
        });
        if let Ok(mut envs) = self.envs.write() {
            envs.insert(env.to_owned(), keys.clone());
        }
        Ok(Some(keys))
    }

    /// The keys of `env`, created (a first data key and the blind-index key, audited) if it
    /// has none yet.
    pub async fn ensure(
        &self,
        store: &Store,
        ctx: &AuditContext,
        now: OffsetDateTime,
        env: &str,
    ) -> Result<Arc<EnvKeys>, Error> {
        if let Some(k) = self.load(store, env).await? {
            return Ok(k);
        }
        let master = self.master()?;
        let random = sealing("generating a key");
        let index = IndexKey::generate().map_err(&random)?;
        let data = DataKey::generate(1).map_err(&random)?;
        let keys = [
            ("index", 0, master.wrap_index_key(&index).map_err(&random)?),
            ("data", 1, master.wrap_data_key(&data).map_err(&random)?),
        ]
        .map(|(kind, id, wrapped)| WrappedKey {
            kind: kind.to_owned(),
            id,
            wrapped,
        });
        // Both or neither; another node (or request) creating them first wins, and its keys
        // are the environment's.
        match store.add_app_keys(ctx, now, env, &keys).await {
            Ok(()) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        self.forget(env);
        self.load(store, env)
            .await?
            .ok_or_else(|| Error::Internal(format!("the keys of `{env}` were not stored")))
    }

    /// Adds a new data key to `env` (values are sealed with it from now on; older values
    /// still open with theirs); returns its id.
    pub async fn rotate(
        &self,
        store: &Store,
        ctx: &AuditContext,
        now: OffsetDateTime,
        env: &str,
    ) -> Result<u32, Error> {
        let keys = self.ensure(store, ctx, now, env).await?;
        let master = self.master()?;
        let id = keys.current_id() + 1;
        let random = sealing("generating a key");
        let data = DataKey::generate(id).map_err(&random)?;
        let key = WrappedKey {
            kind: "data".into(),
            id: i64::from(id),
            wrapped: master.wrap_data_key(&data).map_err(&random)?,
        };
        store.add_app_keys(ctx, now, env, &[key]).await?;
        self.forget(env);
        Ok(id)
    }

    /// Forgets the unwrapped keys of `env` (after a change, or another node's).
    pub fn forget(&self, env: &str) {
        if let Ok(mut envs) = self.envs.write() {
            envs.remove(env);
        }
    }
}
