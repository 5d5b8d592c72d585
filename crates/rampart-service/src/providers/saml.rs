//! Signing in through a SAML 2.0 identity provider (a user provider of kind `saml`).
//!
//! 1. [`begin`]: the browser asks to sign in (`…/saml/login`) through an enabled provider
//!    that `[sign_in]` allows for this kind of user; Rampart issues a signed
//!    AuthnRequest, stores its ID with the validated return address (the RelayState) and
//!    who is signing in, and sends the browser to the identity provider.
//! 2. [`acs`]: the identity provider's answer comes back through the browser (HTTP-POST). Its
//!    XML signatures are checked and only what they sign is read
//!    (`rampart_federation::saml::response`), the pure rules judge it
//!    (`rampart_federation::saml::rules`), then, against the store: the assertion was never
//!    consumed, it answers a request Rampart issued for this provider and nobody consumed,
//!    the RelayState is exactly the return address stored with it, and (for a sign-in
//!    started over HTTPS) it comes back through the browser that started it: the secret of
//!    a cookie set with the redirect (`SameSite=None`, since the identity provider's POST
//!    is cross-site) hashes to the one stored with the request. Consuming the request
//!    and remembering the assertion is one transaction, so a response is used once on every
//!    node. The provider must still be enabled and allowed by `[sign_in]` when the answer
//!    comes. Then the same just-in-time profile, role mapping and `auth.login` event as a
//!    directory sign-in, and the step every sign-in takes after its first factor
//!    ([`crate::identity::mfa::after_first_factor`]): a user with a second factor (or
//!    required to have one) is never signed in by the identity provider alone; the
//!    pending sign-in goes back to the browser, which is asked for the second factor.
//!
//! Every refusal is an `auth.login` failure event naming the user provider and the reason;
//! one before the response is consumed changes nothing else. The signing key lives in the data directory
//! (`saml-sp.pem`, 0600), made on first use, never in the database; its certificate (public)
//! is published in the store so every node's metadata lists every node's certificate. The
//! key that decrypts encrypted assertions is the provider's `decryption_key`, a secret
//! reference shared by every node behind the ACS URL, read at each sign-in and checked
//! against `decryption_certificate` (which the metadata publishes); it is never stored,
//! logged or told. The
//! identity provider's metadata is kept in memory and fetched again after
//! `metadata_refresh_minutes` (a failed refresh keeps the last good copy and shows in the
//! provider's status).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_api::ProviderTestResult;
use rampart_core::{AuditEvent, Error, Outcome, Provider};
use rampart_federation::saml::{
    self, metadata, DecryptionKey, Expected, IdpMetadata, Refusal, RequestParts, SamlError,
    SamlSettings, SpKey,
};
use rampart_federation::{DirectoryUser, ProviderSettings, Users};
use rampart_store::{Consumed, ProviderRecord, SamlRequest};
use time::OffsetDateTime;

use super::login::{admitted, profile};
use crate::caller::Origin;
use crate::config::SecretRef;
use crate::identity::LoginStep;
use crate::state::AppState;

/// The signing key's file in the data directory.
pub const KEY_FILE: &str = "saml-sp.pem";
/// How long an AuthnRequest can be answered.
const REQUEST_MINUTES: i64 = 10;

/// The node's SAML state: its signing key (loaded or made on first use) and the identity
/// providers' metadata.
pub struct SamlState {
    data_dir: PathBuf,
    key: tokio::sync::OnceCell<Arc<SpKey>>,
    metadata: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    source: String,
    fetched_at: OffsetDateTime,
    metadata: Arc<IdpMetadata>,
}

impl std::fmt::Debug for SamlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlState").finish_non_exhaustive()
    }
}

impl SamlState {
    /// The state of a node whose data directory is `data_dir`.
    pub fn new(data_dir: &std::path::Path) -> Self {
        SamlState {
            data_dir: data_dir.to_owned(),
            key: tokio::sync::OnceCell::new(),
            metadata: Mutex::new(HashMap::new()),
        }
    }
}

/// A sign-in started: where to send the browser, and the secret to keep in it.
#[derive(Debug, Clone)]
pub struct Started {
    /// The identity provider's URL with the signed AuthnRequest.
    pub url: String,
    /// The cookie's key ([`browser_key`]) and the secret the response must come back with;
    /// none when the browser is not bound (plain HTTP).
    pub browser: Option<(String, String)>,
}

/// A sign-in finished.
pub struct Finished {
    /// The new session, or the pending sign-in waiting for its second factor.
    pub step: LoginStep,
    /// Where the browser goes now (the return address the sign-in started with).
    pub return_to: String,
    /// The key of the browser's cookie for this sign-in, now spent.
    pub browser_key: String,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finished")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// The key naming the cookie of the sign-in with request `id` (the cookie is
/// `rampart_saml_<key>`, so sign-ins in several tabs do not overwrite each other's).
pub fn browser_key(id: &str) -> String {
    id.trim_start_matches('_').chars().take(16).collect()
}

/// Signs in through the SAML provider `name`, step 1: the identity provider's URL with the
/// signed AuthnRequest, for `user` (`it` or `end`, needed when the provider serves both)
/// going back to `return_to` (a path on this site) afterwards; with `bind_browser` (HTTPS)
/// a secret for the browser's cookie, which the response must come back with.
pub async fn begin(
    state: &AppState,
    origin: &Origin,
    name: &str,
    user: Option<&str>,
    return_to: Option<&str>,
    bind_browser: bool,
) -> Result<Started, Error> {
    let (record, settings) = saml_record(state, name).await?;
    let audience = Users::parse(&record.users).map_err(Error::Internal)?;
    let provider = match (user, audience) {
        (Some(u), _) => Provider::parse(u)?,
        (None, Users::It) => Provider::It,
        (None, Users::End) => Provider::End,
        (None, Users::Both) => {
            return Err(Error::invalid(
                "user",
                format!("{name} vouches for IT users and end users: say which (it or end)"),
            ))
        }
    };
    if !audience.serves(provider == Provider::It) {
        return Err(Error::invalid(
            "user",
            format!("the user provider {name} does not vouch for {provider} users"),
        ));
    }
    super::required::check_provider(state, provider, name)?;
    if !record.enabled {
        let r = Refusal::new(
            "provider-disabled",
            "sign-in through this provider is disabled",
        );
        refuse(state, origin, name, Some(provider), &r).await?;
        return Err(Error::Forbidden(format!(
            "sign-in through {name} is disabled"
        )));
    }
    let relay = match saml::return_address(return_to) {
        Ok(r) => r,
        Err(refusal) => {
            refuse(state, origin, name, Some(provider), &refusal).await?;
            return Err(Error::invalid("return", refusal.detail));
        }
    };
    let idp = idp_metadata(state, &record, &settings).await?;
    let key = sp_key(state).await?;
    let now = state.clock.now();
    let parts = RequestParts {
        sp_entity_id: &settings.sp_entity_id,
        acs_url: &settings.acs_url,
        name_id_format: settings.name_id_format.as_deref(),
        sso_url: &idp.sso_url,
        relay_state: Some(&relay),
    };
    let redirect = saml::signed_redirect(&parts, &key, now).map_err(internal(name))?;
    let binding = if bind_browser {
        Some(saml::browser_binding().map_err(internal(name))?)
    } else {
        None
    };
    state
        .store
        .record_saml_request(
            &SamlRequest {
                id: redirect.id.clone(),
                user_provider: record.name.clone(),
                provider: provider.as_str().to_owned(),
                relay_state: relay,
                browser_hash: binding.as_ref().map(|(_, hash)| hash.clone()),
                expires_at: now + time::Duration::minutes(REQUEST_MINUTES),
                consumed_at: None,
            },
            now,
        )
        .await?;
    Ok(Started {
        url: redirect.url,
        browser: binding.map(|(secret, _)| (browser_key(&redirect.id), secret)),
    })
}

/// Signs in through the SAML provider `name`, step 2: the identity provider's response
/// (`SAMLResponse`, base64) and the `RelayState` posted with it, and the browser's sign-in
/// secrets by cookie key. A new session and the return address, or the refusal.
#[allow(clippy::too_many_arguments)]
pub async fn acs(
    state: &AppState,
    origin: &Origin,
    name: &str,
    posted: &str,
    relay_state: Option<&str>,
    browser: &[(String, String)],
    user_agent: Option<String>,
) -> Result<Finished, Error> {
    let (record, settings) = saml_record(state, name).await?;
    let idp = idp_metadata(state, &record, &settings).await?;
    let now = state.clock.now();
    let expected = Expected {
        idp_entity_id: &idp.entity_id,
        sp_entity_id: &settings.sp_entity_id,
        acs_url: &settings.acs_url,
        skew_seconds: settings.clock_skew_seconds,
        now,
    };
    let key = match decryption_key(name, &settings) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!(provider = name, error = %e, "a SAML provider's decryption key cannot be used");
            state
                .store
                .note_provider_health(
                    &record.name,
                    Some("the decryption key cannot be used; the server's log says why"),
                    now,
                )
                .await?;
            return Err(Error::DirectoryUnreachable(format!(
                "sign-in through {name} is unavailable: its decryption key cannot be used; its \
                 administrators can see why in the server's log"
            )));
        }
    };
    let judged = saml::verify(posted, &idp.signing_certificates, key.as_ref())
        .and_then(|verified| saml::check(&verified, &expected));
    let accepted = match judged {
        Ok(a) => a,
        Err(refusal) => return Err(refused(state, origin, name, None, refusal).await),
    };
    if state
        .store
        .saml_assertion_seen(&record.name, &accepted.assertion_id)
        .await?
    {
        let r = Refusal::new("replayed", "this assertion was used before");
        return Err(refused(state, origin, name, None, r).await);
    }
    let request = state.store.saml_request(&accepted.in_response_to).await?;
    let request = match request {
        Some(r) if r.user_provider == record.name => r,
        _ => {
            let r = Refusal::new(
                "unknown-request",
                "the response answers a request this service provider did not issue",
            );
            return Err(refused(state, origin, name, None, r).await);
        }
    };
    let provider = Provider::parse(&request.provider)?;
    // The provider's standing is judged now, not when the sign-in started: a provider
    // disabled or no longer allowed since then signs nobody in.
    let standing = if !super::required::provider_allowed(state, provider, name) {
        Some(Refusal::new(
            "provider-not-required-one",
            format!("{provider} users sign in through another provider on this server"),
        ))
    } else if !record.enabled {
        Some(Refusal::new(
            "provider-disabled",
            "the provider is disabled",
        ))
    } else {
        None
    };
    if let Some(r) = standing {
        return Err(refused(state, origin, name, Some(provider), r).await);
    }
    let gone = if request.consumed_at.is_some() {
        Some(Refusal::new(
            "request-used",
            "the request this response answers was answered before",
        ))
    } else if request.expires_at <= now {
        Some(Refusal::new(
            "request-expired",
            "the request this response answers has expired; sign in again",
        ))
    } else if relay_state != Some(request.relay_state.as_str()) {
        Some(Refusal::new(
            "relay-state-not-allowed",
            "the RelayState is not the return address this sign-in started with",
        ))
    } else if request.browser_hash.as_ref().is_some_and(|hash| {
        let key = browser_key(&request.id);
        !browser
            .iter()
            .any(|(k, secret)| *k == key && saml::binding_hash(secret) == *hash)
    }) {
        Some(Refusal::new(
            "other-browser",
            "the response came back to another browser than the one that started this \
             sign-in; start again from this browser",
        ))
    } else {
        None
    };
    if let Some(r) = gone {
        return Err(refused(state, origin, name, Some(provider), r).await);
    }
    let Some(username) = accepted.value(&settings.username).map(str::to_owned) else {
        let r = Refusal::new(
            "no-username",
            format!(
                "the assertion has no {} to name the user by",
                settings.username
            ),
        );
        return Err(refused(state, origin, name, Some(provider), r).await);
    };
    match state
        .store
        .consume_saml_response(
            &record.name,
            &request.id,
            &accepted.assertion_id,
            accepted.remember_until,
            now,
        )
        .await?
    {
        Consumed::Done => {}
        Consumed::Replayed => {
            let r = Refusal::new("replayed", "this assertion was used before");
            return Err(refused(state, origin, name, Some(provider), r).await);
        }
        Consumed::RequestGone => {
            let r = Refusal::new(
                "request-used",
                "the request this response answers was answered before",
            );
            return Err(refused(state, origin, name, Some(provider), r).await);
        }
    }
    let found = DirectoryUser {
        dn: accepted.name_id.clone(),
        username,
        email: accepted.value(&settings.email_attribute).map(str::to_owned),
        display_name: accepted
            .value(&settings.display_name_attribute)
            .map(str::to_owned),
        groups: accepted.values(&settings.groups_attribute).to_vec(),
    };
    let user = match profile(state, provider, &record.name, &found, &origin.audit).await {
        Ok((user, _)) => user,
        Err((reason, error)) => {
            let r = Refusal::new(reason, error.to_string());
            refuse(state, origin, name, Some(provider), &r).await?;
            return Err(error);
        }
    };
    let user = admitted(
        state,
        origin,
        user,
        &settings.mappings,
        &found.groups,
        &record.name,
    )
    .await?;
    super::noted(state, &record.name, None).await?;
    // The same step as every other sign-in: a user with a second factor (or required to
    // have one) is never signed in by the identity provider alone; the browser is asked for
    // it next, on the sign-in page of where it is going.
    let step = crate::identity::mfa::after_first_factor(state, origin, user, user_agent).await?;
    Ok(Finished {
        step,
        browser_key: browser_key(&request.id),
        return_to: request.relay_state,
    })
}

/// Rampart's metadata as the service provider of the SAML provider `name`.
pub async fn sp_metadata(state: &AppState, name: &str) -> Result<String, Error> {
    let (_, settings) = saml_record(state, name).await?;
    sp_key(state).await?;
    let certificates = state.store.saml_certificates().await?;
    let encryption = settings
        .decryption_certificate
        .as_deref()
        .map(saml::encryption_certificate)
        .transpose()
        .map_err(|e| {
            Error::Internal(format!("user provider {name}: decryption_certificate {e}"))
        })?;
    metadata::sp_metadata(
        &settings.sp_entity_id,
        &settings.acs_url,
        settings.name_id_format.as_deref(),
        &certificates,
        encryption.as_deref(),
    )
    .map_err(internal(name))
}

/// The decryption key of the SAML provider `name`, read from its reference now (so a
/// rotated file or variable takes effect on the next sign-in) and checked against its
/// certificate; none when it has none. The error names the setting at fault, never the key;
/// why a reference cannot be read (which names the variable or file) goes to the log only.
pub(crate) fn decryption_key(
    name: &str,
    settings: &SamlSettings,
) -> Result<Option<DecryptionKey>, Error> {
    let (Some(reference), Some(certificate)) =
        (&settings.decryption_key, &settings.decryption_certificate)
    else {
        return Ok(None);
    };
    let unreadable = || {
        Error::invalid(
            "settings.decryption_key",
            "cannot be read on this node; the server's log says why",
        )
    };
    let reference = SecretRef::parse(reference).map_err(|_| unreadable())?;
    let pem = reference.resolve(|n| std::env::var(n).ok()).map_err(|why| {
        tracing::warn!(provider = name, reason = %why, "a SAML provider's decryption key cannot be read");
        unreadable()
    })?;
    DecryptionKey::from_pem(&pem, certificate)
        .map(Some)
        .map_err(|e| match e {
            saml::KeyError::Certificate | saml::KeyError::Mismatch => {
                Error::invalid("settings.decryption_certificate", e.to_string())
            }
            saml::KeyError::NotAKey | saml::KeyError::NotRsa => {
                Error::invalid("settings.decryption_key", format!("the key it names {e}"))
            }
        })
}

/// The "test connection" of a SAML provider: its metadata read (fetched now when it has a
/// URL).
pub(crate) async fn test(
    state: &AppState,
    record: &ProviderRecord,
) -> Result<ProviderTestResult, Error> {
    let settings = settings_of(record)?;
    if let Ok(mut cache) = state.saml.metadata.lock() {
        cache.remove(&record.name);
    }
    let idp = idp_metadata(state, record, &settings).await?;
    let decrypts = decryption_key(&record.name, &settings)?.is_some();
    Ok(ProviderTestResult {
        ok: true,
        message: format!(
            "read the identity provider's metadata: entity id {}, {} signing certificate(s){}",
            idp.entity_id,
            idp.signing_certificates.len(),
            if decrypts {
                "; read the decryption key, which matches its certificate"
            } else {
                ""
            }
        ),
    })
}

/// The SAML provider `name` and its settings; any other name is not found.
async fn saml_record(
    state: &AppState,
    name: &str,
) -> Result<(ProviderRecord, SamlSettings), Error> {
    let record = state
        .store
        .provider(name)
        .await?
        .filter(|r| r.kind == "saml")
        .ok_or(Error::NotFound {
            what: "SAML user provider",
        })?;
    let settings = settings_of(&record)?;
    Ok((record, settings))
}

fn settings_of(record: &ProviderRecord) -> Result<SamlSettings, Error> {
    match ProviderSettings::from_parts(&record.kind, record.settings.clone()) {
        Ok(ProviderSettings::Saml(s)) => Ok(s),
        Ok(_) => Err(Error::NotFound {
            what: "SAML user provider",
        }),
        Err(e) => Err(Error::Internal(format!(
            "stored provider settings: {}",
            e.message
        ))),
    }
}

fn internal(name: &str) -> impl Fn(SamlError) -> Error + '_ {
    move |e| Error::Internal(format!("user provider {name}: {e}"))
}

/// The identity provider's metadata: inline, or fetched (again when older than the
/// refresh interval; a failed refresh keeps the last good copy).
async fn idp_metadata(
    state: &AppState,
    record: &ProviderRecord,
    settings: &SamlSettings,
) -> Result<Arc<IdpMetadata>, Error> {
    let now = state.clock.now();
    let source = match (&settings.idp_metadata_url, &settings.idp_metadata_xml) {
        (Some(url), _) => format!("url:{url}"),
        (None, Some(xml)) => format!("xml:{xml}"),
        (None, None) => return Err(Error::Internal("a SAML provider without metadata".into())),
    };
    let cached = state.saml.metadata.lock().ok().and_then(|cache| {
        cache
            .get(&record.name)
            .filter(|c| c.source == source)
            .map(|c| (c.fetched_at, c.metadata.clone()))
    });
    let refresh = time::Duration::minutes(settings.metadata_refresh_minutes.into());
    if let Some((at, metadata)) = &cached {
        if now - *at < refresh {
            return Ok(metadata.clone());
        }
    }
    let read = match (&settings.idp_metadata_url, &settings.idp_metadata_xml) {
        (Some(url), _) => {
            metadata::fetch(
                url,
                settings.ca_certificate.as_deref(),
                Duration::from_secs(settings.timeout_seconds.into()),
            )
            .await
        }
        (None, Some(xml)) => IdpMetadata::parse(xml),
        (None, None) => return Err(Error::Internal("a SAML provider without metadata".into())),
    };
    match read {
        Ok(metadata) => {
            let metadata = Arc::new(metadata);
            if let Ok(mut cache) = state.saml.metadata.lock() {
                cache.insert(
                    record.name.clone(),
                    Cached {
                        source,
                        fetched_at: now,
                        metadata: metadata.clone(),
                    },
                );
            }
            state
                .store
                .note_provider_health(&record.name, None, now)
                .await?;
            Ok(metadata)
        }
        Err(e) => {
            tracing::warn!(provider = %record.name, error = %e, "a SAML identity provider's metadata cannot be read");
            state
                .store
                .note_provider_health(&record.name, Some(&e.to_string()), now)
                .await?;
            match cached {
                Some((_, stale)) => Ok(stale),
                None => Err(Error::DirectoryUnreachable(format!(
                    "sign-in through {} is unavailable: its identity provider's metadata \
                     cannot be read; its administrators can see why in the provider's status",
                    record.name
                ))),
            }
        }
    }
}

/// The node's signing key: read from the data directory, or made and written there (0600)
/// on first use; its certificate published for every node's metadata.
async fn sp_key(state: &AppState) -> Result<Arc<SpKey>, Error> {
    let key = state
        .saml
        .key
        .get_or_try_init(|| async move {
            let path = state.saml.data_dir.join(KEY_FILE);
            let key = match std::fs::read_to_string(&path) {
                Ok(text) => SpKey::from_pem(&text)
                    .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let key = SpKey::generate(state.clock.now().unix_timestamp())
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    let pem = key.to_pem().map_err(|e| Error::Internal(e.to_string()))?;
                    crate::files::write_new_private(&path, &[pem.as_slice()]).map_err(|e| {
                        Error::Internal(format!(
                            "cannot write the SAML signing key {}: {e}",
                            path.display()
                        ))
                    })?;
                    key
                }
                Err(e) => {
                    return Err(Error::Internal(format!(
                        "cannot read the SAML signing key {}: {e}",
                        path.display()
                    )))
                }
            };
            let (fingerprint, der) = key
                .fingerprint()
                .and_then(|f| Ok((f, key.certificate_base64()?)))
                .map_err(|e| Error::Internal(e.to_string()))?;
            state
                .store
                .publish_saml_certificate(&fingerprint, &der, state.clock.now())
                .await?;
            Ok::<_, Error>(Arc::new(key))
        })
        .await?;
    Ok(key.clone())
}

/// Records a refusal and answers the error the person signing in sees.
async fn refused(
    state: &AppState,
    origin: &Origin,
    name: &str,
    provider: Option<Provider>,
    refusal: Refusal,
) -> Error {
    if let Err(e) = refuse(state, origin, name, provider, &refusal).await {
        return e;
    }
    match refusal.reason {
        "malformed" => Error::invalid("SAMLResponse", refusal.detail),
        "relay-state-not-allowed" => Error::invalid("RelayState", refusal.detail),
        _ => Error::Forbidden(format!(
            "sign-in through {name} refused: {}",
            refusal.detail
        )),
    }
}

/// The `auth.login` failure event of a refused SAML sign-in.
async fn refuse(
    state: &AppState,
    origin: &Origin,
    name: &str,
    provider: Option<Provider>,
    refusal: &Refusal,
) -> Result<(), Error> {
    tracing::info!(
        provider = name,
        reason = refusal.reason,
        "a SAML sign-in was refused"
    );
    let mut details = serde_json::json!({
        "user_provider": name,
        "protocol": "saml",
        "reason": refusal.reason,
    });
    if let Some(p) = provider {
        details["provider"] = p.as_str().into();
        state.metrics.login(p.as_str(), "refused");
    }
    let event = AuditEvent {
        action: "auth.login",
        target: Some(format!("provider:{name}")),
        outcome: Outcome::Failure,
        details: details.to_string(),
    };
    state
        .store
        .record_event(&origin.audit, &event, state.clock.now())
        .await
}
