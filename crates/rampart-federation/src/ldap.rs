//! The LDAP client: `ldap3` over tokio, TLS by rustls (ring), one connection per operation.
//!
//! Every operation connects (TLS from the first byte, or StartTLS before anything is sent,
//! or plain text to loopback only, as the validated settings say), binds with the service
//! account, searches, and for a login binds again as the user found, on the same
//! connection. The whole operation runs under the provider's timeout. An empty password is
//! refused before connecting: a bind with a DN and no password is an "unauthenticated bind"
//! (RFC 4513 §5.1.2), which servers answer with success.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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

/// An LDAP directory: its settings and the service account's password, read from its secret
/// reference by the caller.
pub struct LdapDirectory {
    settings: LdapSettings,
    bind_password: String,
    tls: Option<Arc<ClientConfig>>,
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
        })
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
        if self.bind_password.is_empty() {
            return Err(DirectoryError::ServiceBind);
        }
        let bound = ldap
            .simple_bind(&self.settings.bind_dn, &self.bind_password)
            .await
            .map_err(unreachable)?;
        match bound.rc {
            0 => Ok(ldap),
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
        self.timed(async {
            let mut ldap = self.connect().await?;
            let user = self
                .find(&mut ldap, username)
                .await?
                .ok_or(DirectoryError::UnknownUser)?;
            if user.dn.trim().is_empty() {
                return Err(DirectoryError::UnknownUser);
            }
            let bound = ldap
                .simple_bind(&user.dn, password)
                .await
                .map_err(unreachable)?;
            let _ = ldap.unbind().await;
            match bound.rc {
                0 => Ok(user),
                INVALID_CREDENTIALS => Err(match bind_refusal(&bound.text) {
                    Some(reason) => DirectoryError::AccountRefused(reason),
                    None => DirectoryError::WrongPassword,
                }),
                rc => Err(DirectoryError::Protocol(format!(
                    "the user's bind answered code {rc} ({})",
                    bound.text
                ))),
            }
        })
        .await
    }

    async fn lookup(&self, username: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        self.timed(async {
            let mut ldap = self.connect().await?;
            let user = self.find(&mut ldap, username).await;
            let _ = ldap.unbind().await;
            user
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<DirectoryUser>, DirectoryError> {
        self.timed(async {
            let mut ldap = self.connect().await?;
            let filter = all_users_filter(&self.settings.user_filter);
            let users = self.search(&mut ldap, &filter).await;
            let _ = ldap.unbind().await;
            users
        })
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

/// An `ldap3` error as a directory error: transport and TLS failures are "unreachable".
fn unreachable(e: LdapError) -> DirectoryError {
    match e {
        LdapError::Io { .. } | LdapError::Timeout { .. } => {
            DirectoryError::Unreachable(e.to_string())
        }
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
