//! The application runtime: what deployed modules serve to end users.
//!
//! - [`migrate`]: before a deployment is applied, each application database of the
//!   environment is migrated to the entities that will run there (a refusal refuses the
//!   deployment, and nothing is deployed);
//! - [`data`]: the data API of each entity: list, get, create, change, delete, with the
//!   model's roles, the row-level rule inside the statement, and an audit trail;
//! - [`rows`]: the row rule of a reader, from the authorization index;
//! - [`keys`]: the keys of sensitive values (the configured master key, each environment's
//!   wrapped data and blind-index keys).
//!
//! What runs in an environment (the models, their databases and layouts) is cached per
//! environment and compared with the environment's deployment revision: on PostgreSQL on
//! every request (another node may have deployed), on SQLite only after a deployment here
//! (this node is the only one).

pub mod actions;
pub mod advanced;
pub mod data;
pub mod demo;
mod events;
pub mod exposed;
pub mod integrations;
pub mod keys;
pub mod migrate;
pub mod openapi;
pub mod rekey;
pub mod rows;
pub mod screens;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rampart_apps::schema::Layout;
use rampart_core::Error;
use rampart_model::Module;
use rampart_store::AppDatabase;

use crate::fence::Ticket;
use crate::state::AppState;

/// What runs in one environment, as the runtime serves it.
#[derive(Debug)]
pub struct EnvApps {
    /// The environment's deployment revision this was read at.
    revision: i64,
    /// The running modules by name.
    modules: HashMap<String, Module>,
    /// The application databases by application and database name, with their layouts.
    databases: HashMap<(String, String), (AppDatabase, Layout)>,
}

impl EnvApps {
    /// A running module of `application`, by name.
    pub fn module(&self, application: &str, name: &str) -> Option<&Module> {
        self.modules
            .get(name)
            .filter(|m| m.application == application)
    }

    /// The environment's deployment revision this was read at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The running modules of `application`, by name.
    pub fn app_modules(&self, application: &str) -> Vec<&Module> {
        let mut modules: Vec<&Module> = self
            .modules
            .values()
            .filter(|m| m.application == application)
            .collect();
        modules.sort_by(|a, b| a.module.cmp(&b.module));
        modules
    }

    /// A running screen of `application`, by name, with its module.
    pub fn screen(
        &self,
        application: &str,
        name: &str,
    ) -> Option<(&Module, &rampart_model::format::Screen)> {
        // Two modules may declare one name: the first module by name serves it.
        self.app_modules(application)
            .into_iter()
            .find_map(|m| m.screens.iter().find(|s| s.name == name).map(|s| (m, s)))
    }

    /// Whether a module of `application` runs here.
    pub fn has_application(&self, application: &str) -> bool {
        self.modules.values().any(|m| m.application == application)
    }

    /// The running screens of `application`, by module then declaration order.
    pub fn screens(&self, application: &str) -> Vec<&rampart_model::format::Screen> {
        self.app_modules(application)
            .into_iter()
            .flat_map(|m| &m.screens)
            .collect()
    }

    /// A `detail` screen of `application` over `entity`, with the parameter naming the record
    /// (one referring to the entity, or `id`).
    pub fn detail_screen(&self, application: &str, entity: &str) -> Option<(String, String)> {
        use rampart_model::format::{AttributeType, ScreenKind};
        let short = |e: &str| e.rsplit_once('.').map_or(e, |(_, n)| n).to_owned();
        self.app_modules(application)
            .iter()
            .flat_map(|m| &m.screens)
            .find_map(|s| {
                let over = s.kind == ScreenKind::Detail
                    && s.entity.as_deref().map(short) == Some(short(entity));
                if !over {
                    return None;
                }
                let param = s.parameters.iter().find(|p| {
                    p.ty == AttributeType::Reference
                        && p.entity.as_deref().map(short) == Some(short(entity))
                });
                Some((
                    s.name.clone(),
                    param.map_or_else(|| "id".to_owned(), |p| p.name.clone()),
                ))
            })
    }

    /// The database of an application's entities named `database`, with its layout.
    pub fn database(&self, application: &str, database: &str) -> Option<&(AppDatabase, Layout)> {
        self.databases
            .get(&(application.to_owned(), database.to_owned()))
    }
}

/// The per-environment cache of what runs.
#[derive(Debug)]
pub struct Runtime {
    envs: RwLock<HashMap<String, Arc<EnvApps>>>,
    /// Bumped by every invalidation: a read that started before one is not cached.
    generation: std::sync::atomic::AtomicU64,
    /// Advanced SQL statements running on this node at once, bounded so that costly ones
    /// cannot take every database connection from everything else.
    advanced: tokio::sync::Semaphore,
    /// Large readers' member sets at the current authorization revision.
    pub member_sets: rows::MemberSets,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            envs: RwLock::default(),
            generation: std::sync::atomic::AtomicU64::default(),
            advanced: tokio::sync::Semaphore::new(ADVANCED_AT_ONCE),
            member_sets: rows::MemberSets::default(),
        }
    }
}

/// How many advanced SQL statements a node runs at once.
const ADVANCED_AT_ONCE: usize = 4;

impl Runtime {
    /// A slot to run an advanced SQL statement in, waiting at most as long as one may run;
    /// `Unavailable` when the node is that busy with them.
    pub(crate) async fn advanced_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        let busy = || {
            Error::Unavailable("every slot for advanced SQL queries stayed taken; try again".into())
        };
        tokio::time::timeout(rampart_store::ADVANCED_TIMEOUT, self.advanced.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }

    /// Forgets what runs in `env` (after a deployment there).
    pub fn invalidate(&self, env: &str) {
        if let Ok(mut envs) = self.envs.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            envs.remove(env);
        }
    }

    /// What this node last read of `env`, without checking it is still what runs.
    pub fn cached(&self, env: &str) -> Option<Arc<EnvApps>> {
        self.envs.read().ok()?.get(env).cloned()
    }

    /// What runs in `env` now.
    pub async fn env(
        &self,
        state: &AppState,
        env: &str,
        arrived: Ticket,
    ) -> Result<Arc<EnvApps>, Error> {
        let cached = self.cached(env);
        if let (Some(c), true) = (&cached, state.store.is_exclusive()) {
            return Ok(c.clone());
        }
        if let Some(c) = &cached {
            if state.fence.since(arrived).await?.deployment(env) == c.revision {
                return Ok(c.clone());
            }
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let (revision, rows) = state.store.running_models(env).await?;
        let mut modules = HashMap::new();
        let mut databases = HashMap::new();
        for (name, _, model) in rows {
            let module: Module = serde_json::from_str(&model)
                .map_err(|e| Error::Internal(format!("stored model of `{name}`: {e}")))?;
            for entity in &module.entities {
                let key = (module.application.clone(), entity.database.clone());
                if databases.contains_key(&key) {
                    continue;
                }
                if let Some(db) = state
                    .store
                    .app_database(env, &module.application, &entity.database)
                    .await?
                {
                    let layout = state.store.app_layout(&db).await?;
                    databases.insert(key, (db, layout));
                }
            }
            modules.insert(name, module);
        }
        let fresh = Arc::new(EnvApps {
            revision,
            modules,
            databases,
        });
        if let Ok(mut envs) = self.envs.write() {
            // A deployment that invalidated meanwhile may have changed what was just read.
            if self.generation.load(std::sync::atomic::Ordering::Acquire) == generation {
                envs.insert(env.to_owned(), fresh.clone());
            }
        }
        Ok(fresh)
    }
}
