//! What every use case shares: the node's store, configuration, clock and metrics, and its
//! services (credentials, sessions, the authorization index, the audit log).

use std::sync::Arc;

use rampart_core::{AuditContext, Clock, Error};
use rampart_store::Store;

use crate::audit::AuditLog;
use crate::authz::engine::AuthzEngine;
use crate::config::Config;
use crate::fence::Fence;
use crate::identity::credentials::Credentials;
use crate::identity::sessions::{LastUse, SessionCache};
use crate::metrics::Metrics;

/// Shared state of one node: the few services it is made of, behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The services behind [`AppState`].
pub struct Inner {
    /// The database.
    pub store: Store,
    /// The effective configuration.
    pub config: Config,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Passwords, lockout, throttling and login gates.
    pub credentials: Credentials,
    /// Live sessions, checked against the credentials epoch before use.
    pub sessions: SessionCache,
    /// Sessions' last use, recorded by requests and written every few seconds.
    pub last_use: Arc<LastUse>,
    /// The shared reads of what other nodes changed (PostgreSQL).
    pub fence: Arc<Fence>,
    /// The authorization index, kept current with the database.
    pub authz: Arc<AuthzEngine>,
    /// The hierarchy rebuild this node runs, and its progress.
    pub rebuilds: Arc<crate::authz::rebuild::Rebuilds>,
    /// The tamper-evident audit log: tree, checkpoints, proofs, the access pipeline.
    pub audit: Arc<AuditLog>,
    /// What runs in each environment, as the application runtime serves it.
    pub apps: crate::apps::Runtime,
    /// The keys of sensitive attribute values.
    pub keys: Arc<crate::apps::keys::FieldKeys>,
    /// The one outbound HTTP client: integrations' calls.
    pub outbound: crate::apps::integrations::Client,
    /// SAML sign-in: the signing key and identity providers' metadata.
    pub saml: crate::providers::saml::SamlState,
    /// Whether this node runs the work that must run once per cluster.
    pub leadership: Arc<crate::cluster::Leadership>,
    /// `trusted_proxies`, parsed once.
    pub trusted_proxies: Vec<rampart_alerts::Cidr>,
    /// The discovery documents and keys of the identity providers users sign in through.
    pub oidc: Arc<rampart_federation::oidc::Discovery>,
    /// The directories of LDAP user providers, with their idle connections.
    pub directories: crate::providers::Directories,
    /// Rampart as an OpenID Connect provider: its signing keys, cached.
    pub idp: crate::idp::keys::KeyCache,
    /// The provider's registered clients, cached on an exclusive store.
    pub idp_clients: crate::idp::clients::ClientCache,
    /// This node as a WebAuthn relying party (`public_origin`, `[mfa] passkey_rp_id`), or
    /// why passkeys are unavailable here.
    pub passkeys: Result<Arc<rampart_identity::passkey::RelyingParty>, String>,
    /// The witnesses the leader sends checkpoints to, each with its own HTTP client.
    pub witnesses: Vec<crate::audit::cosign::Cosigner>,
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
        let key = crate::audit::load_or_create_key(&config.data_dir, &config.audit.origin)?;
        let origin = crate::audit::origin_of(&config.audit.origin, &key);
        let credentials = Credentials::new(&config, key.to_text().as_bytes())?;
        let keys = Arc::new(crate::apps::keys::FieldKeys::from_config(&config)?);
        let outbound = crate::apps::integrations::Client::new(&config.integrations)?;
        let audit = AuditLog::new(
            store.clone(),
            key,
            origin,
            config.audit.pipeline_capacity as usize,
            config.audit.batch_max as usize,
        )?;
        audit.use_keys(keys.clone());
        let fence = Fence::new(store.clone(), &config.node_id, config.cluster.lease_times());
        let saml = crate::providers::saml::SamlState::new(&config.data_dir);
        let leadership = crate::cluster::Leadership::new(&store, &config.node_id);
        let passkeys = rampart_identity::passkey::RelyingParty::new(
            &config.public_origin,
            &config.mfa.passkey_rp_id,
            &config.mfa.issuer,
        )
        .map(Arc::new);
        let trusted_proxies = crate::config::address_ranges(&config.trusted_proxies)
            .map_err(|e| Error::invalid("trusted_proxies", e))?;
        let witnesses = crate::audit::cosign::Cosigner::all(&config.audit.witnesses)?;
        Ok(Self {
            inner: Arc::new(Inner {
                authz: AuthzEngine::new(store.clone(), fence.clone()),
                rebuilds: Arc::default(),
                fence,
                store,
                config,
                clock,
                metrics: Arc::new(Metrics::default()),
                credentials,
                sessions: SessionCache::new(100_000),
                last_use: Arc::default(),
                audit,
                apps: crate::apps::Runtime::default(),
                keys,
                outbound,
                saml,
                leadership,
                trusted_proxies,
                oidc: Arc::default(),
                directories: crate::providers::Directories::default(),
                idp: crate::idp::keys::KeyCache::default(),
                idp_clients: crate::idp::clients::ClientCache::default(),
                passkeys,
                witnesses,
            }),
        })
    }

    /// An audit context for the system itself (no actor).
    pub fn system_context(&self) -> AuditContext {
        AuditContext {
            node_id: self.config.node_id.clone(),
            ..AuditContext::default()
        }
    }

    /// Checks a new password against the policy and the user's recent passwords.
    pub async fn check_new_password(
        &self,
        password: &str,
        user_inputs: &[&str],
        user: Option<rampart_core::UserId>,
    ) -> Result<(), Error> {
        self.credentials
            .check_new_password(&self.store, password, user_inputs, user)
            .await
    }
}
