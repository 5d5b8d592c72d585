//! The LDAP client: `ldap3` over tokio, TLS by rustls (ring), with a few connections kept
//! bound as the service account.
//!
//! A connection is made with TLS from the first byte, or StartTLS before anything is sent,
//! or plain text to loopback only, as the validated settings say, and is bound with the
//! service account at once. An operation takes such a connection from the directory's idle
//! ones ([`IDLE`] at most, none older than [`IDLE_FOR`]) or makes one, searches, and for a
//! login binds as the user found on the same connection, then binds again as the service
//! account before the connection goes back: an idle connection is always the service
//! account's, never a user's. A connection that fails, or whose bind back fails, is
//! dropped; an idle connection the directory closed meanwhile is replaced once by a new
//! one. "Test connection" always makes a new connection. The whole operation runs under the
//! provider's timeout. An empty password is refused before connecting: a bind with a DN and
//! no password is an "unauthenticated bind" (RFC 4513 §5.1.2), which servers answer with
//! success.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use url::Url;

use crate::rules::{all_users_filter, bind_refusal, user_filter};
use crate::settings::{LdapSettings, Security};
use crate::{Directory, DirectoryError, DirectoryUser};

/// LDAP result code for invalid credentials.
const INVALID_CREDENTIALS: u32 = 49;

/// The most connections kept idle per directory.
pub const IDLE: usize = 8;

/// How long an idle connection is kept: well below the idle limits directories apply
/// (Active Directory's `MaxConnIdleTime` is 900 s by default, OpenLDAP's `idletimeout` is
/// off unless set).
pub const IDLE_FOR: Duration = Duration::from_secs(60);

/// An LDAP directory: its settings and the service account's password, read from its secret
/// reference by the caller, and its idle connections.
pub struct LdapDirectory {
    settings: LdapSettings,
    bind_password: String,
    tls: Option<Arc<ClientConfig>>,
    idle: Mutex<Vec<(Ldap, Instant)>>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("url", &self.settings.url)
            .field("bind_dn", &self.settings.bind_dn)
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// A client for `settings` (already validated) with the service account's password.
    pub fn new(settings: LdapSettings, bind_password: String) -> Result<Self, DirectoryError> {
        let tls = match settings.security {
            Security::None => None,
            Security::Tls | Security::Starttls => {
                Some(tls_config(settings.ca_certificate.as_deref())?)
            }
        };
        Ok(Self {
            settings,
            bind_password,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// How many connections wait idle now.
    pub fn idle_connections(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    /// An idle connection bound as the service account (`true`), or a new one (`false`).
    async fn take(&self) -> Result<(Ldap, bool), DirectoryError> {
        let kept = self.idle.lock().ok().and_then(|mut idle| {
            idle.retain(|(_, since)| since.elapsed() < IDLE_FOR);
            idle.pop()
        });
        match kept {
            Some((ldap, _)) => Ok((ldap, true)),
            None => Ok((self.connect().await?, false)),
        }
    }

    /// Keeps `ldap`, bound as the service account, for the next operation.
    fn give_back(&self, ldap: Ldap) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE {
                idle.push((ldap, Instant::now()));
            }
        }
    }

    /// Runs `op` on a service connection. `op` answers its result and whether the
    /// connection is still the service account's and usable; only then is it kept. An idle
    /// connection the directory closed meanwhile fails at its first request as unreachable;
    /// `op` then runs once more on a new connection.
    async fn with_service<T, Op>(&self, op: impl Fn(Ldap) -> Op) -> Result<T, DirectoryError>
    where
        Op: Future<Output = (Result<T, DirectoryError>, bool)>,
    {
        let (mut ldap, kept) = self.take().await?;
        let (mut out, mut usable) = op(ldap.clone()).await;
        if kept && matches!(out, Err(DirectoryError::Unreachable(_))) {
            ldap = self.connect().await?;
            (out, usable) = op(ldap.clone()).await;
        }
        if usable {
            self.give_back(ldap);
        }
        out
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.settings.timeout_seconds.max(1)))
    }

    /// Runs `op` under the provider's timeout.
    async fn timed<T>(
        &self,
        op: impl Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        tokio::time::timeout(self.timeout(), op)
            .await
            .map_err(|_| {
                DirectoryError::Unreachable(format!(
                    "no answer within {} seconds",
                    self.settings.timeout_seconds
                ))
            })?
    }

    /// Connects and binds with the service account.
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let url = Url::parse(&self.settings.url)
            .map_err(|e| DirectoryError::Protocol(format!("the URL is not valid: {e}")))?;
        let mut conn = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.settings.security == Security::Starttls);
        if let Some(tls) = &self.tls {
            conn = conn.set_config(tls.clone());
        }
        let (driver, mut ldap) = LdapConnAsync::from_url_with_settings(conn, &url)
            .await
            .map_err(unreachable)?;
        tokio::spawn(async move {
            if let Err(e) = driver.drive().await {
                tracing::debug!(error = %e, "the directory connection ended with an error");
            }
        });
        self.service_bind(&mut ldap).await?;
        Ok(ldap)
    }

    /// Binds `ldap` as the service account.
    async fn service_bind(&self, ldap: &mut Ldap) -> Result<(), DirectoryError> {
        if self.bind_password.is_empty() {
            return Err(DirectoryError::ServiceBind);
        }
        let bound = ldap
            .simple_bind(&self.settings.bind_dn, &self.bind_password)
            .await
            .map_err(unreachable)?;
        match bound.rc {
            0 => Ok(()),
            INVALID_CREDENTIALS => Err(DirectoryError::ServiceBind),
            rc => Err(DirectoryError::Protocol(format!(
                "the service account's bind answered code {rc} ({})",
                bound.text
            ))),
        }
    }

    fn attributes(&self) -> Vec<&str> {
        let s = &self.settings;
        vec![
            s.username_attribute.as_str(),
            s.email_attribute.as_str(),
            s.display_name_attribute.as_str(),
            s.group_attribute.as_str(),
        ]
    }

    /// Searches the user base with `filter`; answers the entries as directory users.
    async fn search(
        &self,
        ldap: &mut Ldap,
        filter: &str,
    ) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let found = ldap
            .search(
                &self.settings.user_base,
                Scope::Subtree,
                filter,
                self.attributes(),
            )
            .await
            .map_err(unreachable)?;
        let (entries, result) = (found.0, found.1);
        if result.rc != 0 {
            return Err(DirectoryError::Protocol(format!(
                "the search answered code {} ({})",
                result.rc, result.text
            )));
        }
        // A search from a domain's root also answers references to other partitions
        // (Active Directory's configuration, DNS zones): they are not entries, and
        // `SearchEntry::construct` must not see them.
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .filter_map(|e| self.user_of(SearchEntry::construct(e)))
            .collect())
    }

    /// A directory user from an entry; `None` without a username.
    fn user_of(&self, entry: SearchEntry) -> Option<DirectoryUser> {
        let attrs: HashMap<String, Vec<String>> = entry
            .attrs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let first = |name: &str| {
            attrs
                .get(&name.to_ascii_lowercase())
                .and_then(|v| v.first())
                .filter(|v| !v.trim().is_empty())
                .cloned()
        };
        let s = &self.settings;
        Some(DirectoryUser {
            dn: entry.dn,
            username: first(&s.username_attribute)?,
            email: first(&s.email_attribute),
            display_name: first(&s.display_name_attribute),
            groups: attrs
                .get(&s.group_attribute.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// The one entry matching `username`, with the service account's connection.
    async fn find(
        &self,
        ldap: &mut Ldap,
        username: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        let filter = user_filter(&self.settings.user_filter, username);
        let mut found = self.search(ldap, &filter).await?;
        // The filter names the username attribute, but a directory may match it by
        // another rule (a case, an alias): the entry must carry the name asked for.
        found.retain(|u| u.username.eq_ignore_ascii_case(username));
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(DirectoryError::Ambiguous),
        }
    }
}

impl Directory for LdapDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<DirectoryUser, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        self.timed(self.with_service(|mut ldap: Ldap| async move {
            let user = match self.find(&mut ldap, username).await {
                Ok(Some(user)) if !user.dn.trim().is_empty() => user,
                Ok(_) => return (Err(DirectoryError::UnknownUser), true),
                Err(e) => return kept_unless_channel(Err(e)),
            };
            let bound = match ldap.simple_bind(&user.dn, password).await {
                Ok(bound) => bound,
                Err(e) => return (Err(unreachable(e)), false),
            };
            // Back to the service account before the connection is kept; a connection
            // that cannot go back is dropped, never kept as the user's.
            let back = self.service_bind(&mut ldap).await.is_ok();
            let out = match bound.rc {
                0 => Ok(user),
                INVALID_CREDENTIALS => Err(match bind_refusal(&bound.text) {
                    Some(reason) => DirectoryError::AccountRefused(reason),
                    None => DirectoryError::WrongPassword,
                }),
                rc => Err(DirectoryError::Protocol(format!(
                    "the user's bind answered code {rc} ({})",
                    bound.text
                ))),
            };
            (out, back)
        }))
        .await
    }

    async fn lookup(&self, username: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        self.timed(self.with_service(|mut ldap: Ldap| async move {
            kept_unless_channel(self.find(&mut ldap, username).await)
        }))
        .await
    }

    async fn list_users(&self) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let filter = &all_users_filter(&self.settings.user_filter);
        self.timed(self.with_service(|mut ldap: Ldap| async move {
            kept_unless_channel(self.search(&mut ldap, filter).await)
        }))
        .await
    }

    async fn check(&self) -> Result<(), DirectoryError> {
        self.timed(async {
            let mut ldap = self.connect().await?;
            let _ = ldap.unbind().await;
            Ok(())
        })
        .await
    }
}

/// The TLS client configuration: the given PEM certificates as the only roots, or the
/// system's roots.
fn tls_config(ca_pem: Option<&str>) -> Result<Arc<ClientConfig>, DirectoryError> {
    let mut roots = RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| {
                    DirectoryError::Protocol(format!("the CA certificate cannot be read: {e}"))
                })?;
                roots.add(cert).map_err(|e| {
                    DirectoryError::Protocol(format!("the CA certificate is not usable: {e}"))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(DirectoryError::Protocol(
            "no certificate to trust the directory's TLS certificate with".into(),
        ));
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| DirectoryError::Protocol(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `out`, with whether its connection may be kept: not after an error that may have left
/// it closed, cut or in an unknown state.
fn kept_unless_channel<T>(out: Result<T, DirectoryError>) -> (Result<T, DirectoryError>, bool) {
    let usable = !matches!(
        out,
        Err(DirectoryError::Unreachable(_) | DirectoryError::Protocol(_))
    );
    (out, usable)
}

/// An `ldap3` error as a directory error: transport and TLS failures are "unreachable".
fn unreachable(e: LdapError) -> DirectoryError {
    match e {
        // The connection's channel is gone: closed by the directory, cut, or its driver
        // ended.
        LdapError::Io { .. }
        | LdapError::Timeout { .. }
        | LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. }
        | LdapError::EndOfStream => DirectoryError::Unreachable(e.to_string()),
        other => {
            let text = other.to_string();
            if text.to_ascii_lowercase().contains("tls")
                || text.to_ascii_lowercase().contains("certificate")
            {
                DirectoryError::Unreachable(text)
            } else {
                DirectoryError::Protocol(text)
            }
        }
    }
}
