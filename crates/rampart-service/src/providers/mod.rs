//! User providers: administrators configure directories and identity providers that vouch
//! for users (create, show, change, enable or disable, delete, test the connection, sync,
//! status); users sign in through them ([`login`] with a password checked by a directory,
//! [`oidc`] by a redirect to an OpenID provider); a scheduled task keeps directory users in
//! step with the directory ([`sync`]).
//!
//! The protocol clients are `rampart-federation`'s, reached through its `Directory` and
//! `SignInProvider` traits; the decisions (settings, filters, claims, role mappings, what a
//! sync changes) are its pure rules.
//! Permission is checked by the adapters before calling (administrators change, auditors
//! read). The bind password (and a SAML provider's decryption key) is read from its secret
//! reference when it is used, so a rotated file or variable takes effect on the next use,
//! and it appears in no error.

pub mod login;
pub mod oidc;
pub(crate) mod required;
pub mod saml;
pub mod sync;

pub use login::login_via;
pub use sync::{run_scheduled_sync, sync_now};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_api::{
    CreateProviderRequest, ProviderList, ProviderStatusView, ProviderTestResult, ProviderView,
    UpdateProviderRequest,
};
use rampart_core::{Error, Name};
use rampart_federation::saml::validate_saml;
use rampart_federation::settings::{validate_ldap, validate_oidc, GroupMapping, Invalid};
use rampart_federation::{
    Directory, DirectoryError, LdapDirectory, ProviderSettings, SignInProvider as _, Users,
};
use rampart_store::ProviderRecord;
use sha2::{Digest, Sha256};

use crate::caller::Caller;
use crate::config::SecretRef;
use crate::state::AppState;

/// Every user provider.
pub async fn list(state: &AppState) -> Result<ProviderList, Error> {
    let mut items = Vec::new();
    for record in state.store.providers().await? {
        items.push(view(state, record).await?);
    }
    Ok(ProviderList { items })
}

/// One user provider.
pub async fn get(state: &AppState, name: &str) -> Result<ProviderView, Error> {
    let record = record(state, name).await?;
    view(state, record).await
}

/// What the provider's last bind, login and sync found, and how many users it vouches for.
pub async fn status(state: &AppState, name: &str) -> Result<ProviderStatusView, Error> {
    let record = record(state, name).await?;
    status_of(state, &record).await
}

/// Creates a user provider from checked settings.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    body: CreateProviderRequest,
) -> Result<ProviderView, Error> {
    let name = Name::parse("name", &body.name)?;
    let users = Users::parse(&body.users).map_err(|m| Error::invalid("users", m))?;
    let settings = checked(state, name.as_str(), &body.kind, body.settings)?;
    // A provider vouches for users, and its mappings give them roles.
    crate::identity::mfa::require_step_up(state, caller, "adding a user provider").await?;
    let record = state
        .store
        .create_provider(
            name.as_str(),
            settings.kind(),
            users.as_str(),
            &settings.to_value(),
            state.clock.now(),
            &caller.audit,
        )
        .await?;
    state.directories.forget(&record.name);
    view(state, record).await
}

/// Changes a provider's audience or settings (its kind stays).
pub async fn update(
    state: &AppState,
    caller: &Caller,
    name: &str,
    body: UpdateProviderRequest,
) -> Result<ProviderView, Error> {
    let current = record(state, name).await?;
    let users = match body.users.as_deref() {
        Some(u) => Users::parse(u).map_err(|m| Error::invalid("users", m))?,
        None => Users::parse(&current.users).map_err(Error::Internal)?,
    };
    let settings = match body.settings {
        Some(s) => checked(state, &current.name, &current.kind, s)?,
        None => ProviderSettings::from_parts(&current.kind, current.settings.clone())
            .map_err(|e| Error::Internal(format!("stored provider settings: {}", e.message)))?,
    };
    let value = settings.to_value();
    let enabled = body.enabled.unwrap_or(current.enabled);
    let mut changed = Vec::new();
    if users.as_str() != current.users {
        changed.push("users".to_owned());
    }
    if enabled != current.enabled {
        changed.push("enabled".to_owned());
    }
    if let (Some(new), Some(old)) = (value.as_object(), current.settings.as_object()) {
        for (k, v) in new {
            if old.get(k) != Some(v) {
                changed.push(format!("settings.{k}"));
            }
        }
        for k in old.keys().filter(|k| !new.contains_key(*k)) {
            changed.push(format!("settings.{k}"));
        }
    }
    // Turning a provider off lets nobody in, and may be urgent: it alone needs no step-up.
    let only_off = changed == ["enabled"] && !enabled;
    if !only_off {
        crate::identity::mfa::require_step_up(state, caller, "changing a user provider").await?;
    }
    let record = state
        .store
        .update_provider(
            &current.name,
            users.as_str(),
            &value,
            enabled,
            &changed,
            state.clock.now(),
            &caller.audit,
        )
        .await?;
    state.directories.forget(&record.name);
    view(state, record).await
}

/// Deletes a provider: the users it vouched for are disabled and their sessions end.
pub async fn delete(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    let current = record(state, name).await?;
    state
        .store
        .delete_provider(&current.name, state.clock.now(), &caller.audit)
        .await?;
    state.directories.forget(&current.name);
    Ok(())
}

/// Connects and binds with the service account (a directory), or fetches discovery and
/// keys (an identity provider): a clear error when the provider cannot be reached or refuses.
pub async fn test(state: &AppState, name: &str) -> Result<ProviderTestResult, Error> {
    let record = record(state, name).await?;
    if record.kind == "saml" {
        return saml::test(state, &record).await;
    }
    if record.kind == "oidc" {
        let now = state.clock.now().unix_timestamp();
        let result = match oidc::client(state, &record) {
            Ok(client) => client.check(now).await,
            Err(e) => Err(e),
        };
        oidc::noted(state, &record.name, result.as_ref().err()).await?;
        result.map_err(|e| oidc::provider_error(&record.name, &e))?;
        return Ok(ProviderTestResult {
            ok: true,
            message: format!("fetched the discovery document and keys of {}", record.name),
        });
    }
    let result = match directory(state, &record) {
        Ok(dir) => dir.check().await,
        Err(e) => Err(e),
    };
    noted(state, &record.name, result.as_ref().err()).await?;
    result.map_err(|e| directory_error(&record.name, &e))?;
    Ok(ProviderTestResult {
        ok: true,
        message: format!(
            "connected to {} and bound as the service account",
            record.name
        ),
    })
}

/// The provider `name`, or not found.
async fn record(state: &AppState, name: &str) -> Result<ProviderRecord, Error> {
    state.store.provider(name).await?.ok_or(Error::NotFound {
        what: "user provider",
    })
}

/// Reads and checks a kind's settings for the provider `name`: the first rule broken is the
/// error.
fn checked(
    state: &AppState,
    name: &str,
    kind: &str,
    settings: serde_json::Value,
) -> Result<ProviderSettings, Error> {
    let parsed = ProviderSettings::from_parts(kind, settings).map_err(invalid)?;
    let secret = |r: &str| SecretRef::parse(r).map(|_| ());
    let (broken, mappings): (Vec<Invalid>, &[GroupMapping]) = match &parsed {
        ProviderSettings::Ldap(ldap) => (validate_ldap(ldap, &secret), ldap.mappings.as_slice()),
        ProviderSettings::Oidc(o) => {
            let mut broken = validate_oidc(name, o, &secret);
            if o.redirect_uri.is_none() && state.config.public_origin.is_empty() {
                broken.push(Invalid {
                    field: "settings.redirect_uri".into(),
                    message: "give the redirect URI registered at the provider (the server \
                              has no public_origin to make it from)"
                        .into(),
                });
            }
            (broken, o.mappings.as_slice())
        }
        ProviderSettings::Saml(s) => (validate_saml(s, &secret), s.mappings.as_slice()),
    };
    if let Some(first) = broken.into_iter().next() {
        return Err(invalid(first));
    }
    if let ProviderSettings::Saml(s) = &parsed {
        // The decryption key is read now, so a reference this node cannot read or a
        // certificate of another key is told to the administrator configuring it.
        saml::decryption_key(name, s)?;
    }
    let it = state.authz.view().it.clone();
    for (i, m) in mappings.iter().enumerate() {
        if let Some(role) = &m.it_role {
            if it.role(role).is_none() {
                let known: Vec<&str> = it.roles().iter().map(|r| r.name.as_str()).collect();
                return Err(Error::invalid(
                    format!("settings.mappings[{i}].it_role"),
                    format!("no IT role `{role}` (roles: {})", known.join(", ")),
                ));
            }
        }
    }
    Ok(parsed)
}

fn invalid(i: Invalid) -> Error {
    Error::invalid(i.field, i.message)
}

/// The directories of LDAP user providers by name, each with the fingerprint of what it was
/// made from (settings and bind password), so that a changed setting or a rotated password
/// makes a new one and the old one's idle connections go with it.
#[derive(Default)]
pub struct Directories(Mutex<HashMap<String, Kept>>);

/// A directory and the fingerprint of what it was made from.
type Kept = ([u8; 32], Arc<LdapDirectory>);

impl Directories {
    /// Drops what is kept for the provider `name` (changed or deleted here; a change made
    /// on another node is seen by its fingerprint).
    fn forget(&self, name: &str) {
        if let Ok(mut kept) = self.0.lock() {
            kept.remove(name);
        }
    }
}

impl std::fmt::Debug for Directories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Directories")
    }
}

/// The directory a provider record describes, with its bind password read now: the one
/// kept for it while its settings and password are the same, else a new one.
pub(crate) fn directory(
    state: &AppState,
    record: &ProviderRecord,
) -> Result<Arc<LdapDirectory>, DirectoryError> {
    let settings = ProviderSettings::from_parts(&record.kind, record.settings.clone())
        .map_err(|e| DirectoryError::Protocol(format!("stored settings: {}", e.message)))?;
    let ProviderSettings::Ldap(ldap) = settings else {
        return Err(DirectoryError::Protocol(format!(
            "{} is a {} provider, not a directory: its users sign in on its own page",
            record.name, record.kind
        )));
    };
    let reference = SecretRef::parse(&ldap.bind_password)
        .map_err(|_| DirectoryError::Secret("not a secret reference".into()))?;
    // The reason names the variable or file, which the server's log may show and a client
    // may not.
    let password = reference.resolve(|n| std::env::var(n).ok()).map_err(|why| {
        tracing::warn!(provider = %record.name, reason = %why, "a user provider's bind password cannot be read");
        DirectoryError::Secret("the server's log says why".into())
    })?;
    let mut made = Sha256::new();
    made.update(record.settings.to_string().as_bytes());
    made.update([0]);
    made.update(password.as_bytes());
    let made: [u8; 32] = made.finalize().into();
    let mut kept = state
        .directories
        .0
        .lock()
        .map_err(|_| DirectoryError::Protocol("the directory cache is unusable".into()))?;
    if let Some((fingerprint, dir)) = kept.get(&record.name) {
        if *fingerprint == made {
            return Ok(dir.clone());
        }
    }
    let dir = Arc::new(LdapDirectory::new(ldap, password)?);
    kept.insert(record.name.clone(), (made, dir.clone()));
    Ok(dir)
}

/// Keeps the provider's health: a success, or the error that was the directory's or the
/// configuration's fault (a user's wrong password is neither).
pub(crate) async fn noted(
    state: &AppState,
    name: &str,
    error: Option<&DirectoryError>,
) -> Result<(), Error> {
    let error = error.filter(|e| !user_fault(e)).map(ToString::to_string);
    state
        .store
        .note_provider_health(name, error.as_deref(), state.clock.now())
        .await
}

/// Whether the failure is the user's (a wrong password, an unknown name), not the
/// directory's.
pub(crate) fn user_fault(e: &DirectoryError) -> bool {
    matches!(
        e,
        DirectoryError::EmptyPassword
            | DirectoryError::UnknownUser
            | DirectoryError::Ambiguous
            | DirectoryError::WrongPassword
            | DirectoryError::AccountRefused(_)
    )
}

/// A directory's failure as the API answers it: an unreachable directory 503, a refused or
/// failed operation 502.
pub(crate) fn directory_error(name: &str, e: &DirectoryError) -> Error {
    match e {
        DirectoryError::Unreachable(_) | DirectoryError::Secret(_) => {
            Error::DirectoryUnreachable(format!("user provider {name}: {e}"))
        }
        _ => Error::Directory(format!("user provider {name}: {e}")),
    }
}

async fn status_of(state: &AppState, r: &ProviderRecord) -> Result<ProviderStatusView, Error> {
    let users = state.store.users_of_provider(&r.name).await?;
    Ok(ProviderStatusView {
        name: r.name.clone(),
        last_success_at: r.status.last_success_at,
        last_error: r.status.last_error.clone(),
        last_error_at: r.status.last_error_at,
        last_sync_at: r.status.last_sync_at,
        last_sync: r.status.last_sync.clone(),
        users: users.len() as u64,
        disabled_users: users.iter().filter(|u| u.disabled).count() as u64,
    })
}

async fn view(state: &AppState, record: ProviderRecord) -> Result<ProviderView, Error> {
    let status = status_of(state, &record).await?;
    Ok(ProviderView {
        name: record.name,
        kind: record.kind,
        users: record.users,
        settings: record.settings,
        enabled: record.enabled,
        created_at: record.created_at,
        updated_at: record.updated_at,
        status,
    })
}
