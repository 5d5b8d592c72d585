//! Sealed modules: each environment's X25519 key (the `age` format), the publisher keys
//! administrators trust, importing a sealed package, and the rule that a sealed version's
//! source never leaves the server.
//!
//! - An environment's secret key is `<data_dir>/sealing/<env>.key` (mode 0600), created the
//!   first time it is needed; its public recipient is readable by IT users.
//! - Trusting and revoking publishers is for IT administrators; each is an audit event.
//! - An import (administrators) is accepted only when the package's encoding and signature
//!   hold, its publisher is trusted and not revoked, it was sealed to this environment's key,
//!   the source decrypts to the digest it names and parses, its public surface is the one
//!   in the clear, and its version is newer than every version of the module (see
//!   `Store::sealed_import`). A refused import writes nothing but its `module.import`
//!   event (outcome `failure`, with the reason the importer was told).
//! - The version keeps the publisher's number, runs only in the environment it was sealed
//!   to ([`check_deployable`]), and its source and diffs are refused to everyone with
//!   `sealed-module`, each refusal an `access` event (outcome `deny`) ([`refuse_sealed`]).

use std::path::{Path, PathBuf};

use rampart_api::{EnvironmentPublicKey, ImportResponse, PublisherWire, TrustPublisherRequest};
use rampart_core::{Error, Provider};
use rampart_model::Surface;
use rampart_sealed::{EnvironmentKey, Package, PublisherId, SealError};
use rampart_store::{AuthzOp, ImportedVersion, SealedPublisher};

use super::{environment, wire};
use crate::caller::Caller;
use crate::state::AppState;

/// Refuses anyone but an IT administrator.
fn administrator(caller: &Caller, doing: &str) -> Result<(), Error> {
    if caller.user.provider == Provider::It && caller.user.is_admin {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("only IT administrators {doing}")))
    }
}

/// Where environment `env`'s secret key is kept.
fn key_path(data_dir: &Path, env: &str) -> Result<PathBuf, Error> {
    if env.is_empty()
        || !env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            "environment",
            "an environment name of letters, digits, `-` and `_`",
        ));
    }
    Ok(data_dir.join("sealing").join(format!("{env}.key")))
}

/// Environment `env`'s key pair, created (mode 0600, atomically: of two nodes or requests
/// creating it at once, one key wins and both use it) the first time it is needed.
pub fn environment_key(data_dir: &Path, env: &str) -> Result<EnvironmentKey, Error> {
    let path = key_path(data_dir, env)?;
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::Internal(format!(
            "the sealing key {} cannot be read: {e}",
            path.display()
        ))
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => return EnvironmentKey::parse(&text).map_err(|e| unreadable(&e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(unreadable(&e)),
    }
    let dir = data_dir.join("sealing");
    let fail = |e: std::io::Error| Error::Internal(format!("cannot write {}: {e}", dir.display()));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(&dir).map_err(fail)?;
    let key = EnvironmentKey::generate();
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| Error::Internal(format!("random generator: {e}")))?;
    let tmp = dir.join(format!(
        ".{env}.{}.tmp",
        tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    crate::files::write_new_private(&tmp, &[key.to_text().as_bytes(), b"\n"]).map_err(fail)?;
    // A hard link fails when the name exists: whoever linked first wins.
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&e))?;
            EnvironmentKey::parse(&text).map_err(|e| unreadable(&e))
        }
        Err(e) => Err(fail(e)),
    }
}

/// `env`'s public recipient, for IT users.
pub fn public_key(
    state: &AppState,
    caller: &Caller,
    env: &str,
) -> Result<EnvironmentPublicKey, Error> {
    if caller.user.provider != Provider::It {
        return Err(Error::Forbidden(
            "environments' keys are for IT users".to_owned(),
        ));
    }
    environment(state, env)?;
    let key = environment_key(&state.config.data_dir, env)?;
    Ok(EnvironmentPublicKey {
        environment: env.to_owned(),
        recipient: key.recipient(),
    })
}

fn publisher_wire(p: SealedPublisher) -> PublisherWire {
    PublisherWire {
        name: p.name,
        public_key: p.public_key,
        trusted_by: p.trusted_by,
        trusted_at: p.trusted_at,
        revoked_at: p.revoked_at,
    }
}

/// Every publisher, trusted or revoked.
pub async fn publishers(state: &AppState, caller: &Caller) -> Result<Vec<PublisherWire>, Error> {
    administrator(caller, "see publishers")?;
    Ok(state
        .store
        .sealed_publishers()
        .await?
        .into_iter()
        .map(publisher_wire)
        .collect())
}

/// Trusts a publisher's key under a name.
pub async fn trust(
    state: &AppState,
    caller: &Caller,
    req: TrustPublisherRequest,
) -> Result<PublisherWire, Error> {
    administrator(caller, "trust publishers")?;
    let name = rampart_core::Name::parse("name", &req.name)?;
    let key = PublisherId::parse(&req.public_key)
        .map_err(|e| Error::invalid("public_key", e.to_string()))?;
    let p = state
        .store
        .sealed_trust(
            &caller.audit,
            state.clock.now(),
            name.as_str(),
            &key.to_string(),
        )
        .await?;
    Ok(publisher_wire(p))
}

/// Revokes a publisher: none of its packages is imported afterwards.
pub async fn revoke(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    administrator(caller, "revoke publishers")?;
    state
        .store
        .sealed_revoke(&caller.audit, state.clock.now(), name)
        .await
}

/// Imports a sealed package into environment `env`; a refusal is recorded (a
/// `module.import` event with outcome `failure` and the reason) and writes nothing else.
pub async fn import(
    state: &AppState,
    caller: &Caller,
    env: &str,
    package: &[u8],
) -> Result<ImportResponse, Error> {
    administrator(caller, "import sealed modules")?;
    let result = import_checked(state, caller, env, package).await;
    if let Err(e) = &result {
        // What was refused and why, for auditors: the reason the importer was told (which
        // names a publisher or an environment, never key material); a failure of the
        // platform itself only by its code, its cause being for the log.
        let reason = match e {
            Error::Unavailable(_) | Error::Internal(_) => e.title().to_owned(),
            other => other.to_string(),
        };
        let event = rampart_core::AuditEvent {
            action: "module.import",
            target: Some(format!("environment:{env}/imports")),
            outcome: rampart_core::Outcome::Failure,
            details: serde_json::json!({
                "environment": env,
                "code": e.code(),
                "reason": reason,
            })
            .to_string(),
        };
        let event = rampart_store::NewEvent::system(&caller.audit, &event, state.clock.now());
        state.audit.append(event).await?;
    }
    result
}

fn refused(e: SealError) -> Error {
    match e {
        SealError::WrongRecipient(_) => Error::invalid(
            "environment",
            format!("{e}; ask the vendor to seal it to this environment's public key"),
        ),
        other => Error::invalid("package", other.to_string()),
    }
}

async fn import_checked(
    state: &AppState,
    caller: &Caller,
    env: &str,
    bytes: &[u8],
) -> Result<ImportResponse, Error> {
    environment(state, env)?;
    let package = Package::open(bytes).map_err(refused)?;
    let publisher = match state
        .store
        .sealed_publisher_by_key(package.publisher())
        .await?
    {
        None => {
            return Err(Error::Forbidden(
                "the package's publisher key is not trusted here; an administrator trusts it \
                 with `rampart publishers trust`"
                    .to_owned(),
            ))
        }
        Some(p) if p.revoked_at.is_some() => {
            return Err(Error::Forbidden(format!(
                "publisher `{}` was revoked: its packages are not imported",
                p.name
            )))
        }
        Some(p) => p,
    };
    let key = environment_key(&state.config.data_dir, env)?;
    let source = package.unseal(&key).map_err(refused)?;
    let name = package.module().to_owned();
    let module =
        rampart_model::parse(&format!("{name} (sealed package)"), &source).map_err(|d| {
            Error::invalid(
                "package",
                format!(
                    "the sealed source does not parse here ({} error(s)); this installation may \
                 be older than the publisher's",
                    d.0.len()
                ),
            )
        })?;
    if module.module != name {
        return Err(Error::invalid(
            "package",
            "the sealed source declares another module than the package names",
        ));
    }
    let surface = Surface::of(&module);
    let clear: Surface = serde_json::from_str(package.surface())
        .map_err(|_| Error::invalid("package", "the public surface in the clear is not one"))?;
    if clear != surface {
        return Err(Error::invalid(
            "package",
            "the public surface in the clear is not the sealed source's",
        ));
    }
    let mut deps = Vec::new();
    for d in &module.dependencies {
        // The checks read what the module uses of its dependencies, as a publish's do.
        let Some(latest) = state.store.module_version(&d.module, None).await? else {
            return Err(Error::invalid(
                "package",
                format!(
                    "the module depends on `{}`, which has no version here: import or publish \
                     it first",
                    d.module
                ),
            ));
        };
        deps.push(super::model_of(&latest.model)?);
    }
    let findings = super::findings::of_sealed(&name, &source, &deps)?;
    state.authz.fresh(None).await?;
    let registered = state.authz.view().module(&name).is_some();
    if !registered {
        if state.authz.view().app(&module.application).is_none() {
            return Err(Error::invalid(
                "package",
                format!(
                    "the module belongs to application `{}`, which does not exist here; create \
                     it first",
                    module.application
                ),
            ));
        }
        if state
            .store
            .module_name_reservation(&name)
            .await?
            .is_some_and(|app| app != module.application)
        {
            return Err(Error::Conflict(format!(
                "the module name `{name}` is reserved for another application"
            )));
        }
    }
    let imported = ImportedVersion {
        module: name.clone(),
        number: package.version(),
        digest: package.digest().to_owned(),
        model: to_json(&module),
        surface: to_json(&surface),
        uses: to_json(&module.dependencies),
        environment: env.to_owned(),
        publisher_key: package.publisher().to_owned(),
        package: String::from_utf8_lossy(bytes).into_owned(),
        findings,
    };
    if !registered {
        // A new module has no version an import could replay, so registering it first
        // cannot leave a name behind a refused import but for a failure of the store.
        let revision = state
            .store
            .authz_write(
                &caller.audit,
                state.clock.now(),
                &[AuthzOp::RegisterModule {
                    name: name.clone(),
                    app: module.application.clone(),
                }],
            )
            .await?;
        state.authz.after_write(revision).await?;
    }
    let info = state
        .store
        .sealed_import(&caller.audit, state.clock.now(), imported)
        .await?;
    Ok(ImportResponse {
        version: wire(info),
        environment: env.to_owned(),
        publisher: publisher.name,
    })
}

/// The stored JSON form of a model, surface or dependency list.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Refuses reading `what` (a source or a diff) of module `name` when any of `numbers` is a
/// sealed version: whatever the caller's level, with `sealed-module`, the attempt recorded
/// as an `access` event with outcome `deny` before the answer.
pub(super) async fn refuse_sealed(
    state: &AppState,
    caller: &Caller,
    name: &str,
    numbers: &[i64],
    object: &str,
) -> Result<(), Error> {
    let mut sealed = None;
    for n in numbers {
        if state.store.sealed_version(name, *n).await?.is_some() {
            sealed = Some(*n);
            break;
        }
    }
    let Some(n) = sealed else {
        return Ok(());
    };
    let application = state
        .authz
        .view()
        .module_application(name)
        .map(str::to_owned);
    let event = rampart_store::NewEvent::access(
        &caller.audit,
        state.clock.now(),
        application.as_deref(),
        object,
        "GET",
        false,
    );
    state.audit.append(event).await?;
    Err(Error::Sealed(format!(
        "version {n} of `{name}` is sealed: its source and diffs are not shown to anyone on \
         this installation; its public surface is"
    )))
}

/// Refuses deploying sealed version `number` of `module` to an environment other than the
/// one it was sealed to; answers whether it is sealed (a sealed version's model is never
/// diffed for a preview).
pub(super) async fn check_deployable(
    state: &AppState,
    module: &str,
    number: i64,
    env: &str,
) -> Result<bool, Error> {
    match state.store.sealed_version(module, number).await? {
        None => Ok(false),
        Some(s) if s.environment == env => Ok(true),
        Some(s) => Err(Error::Conflict(format!(
            "version {number} of `{module}` is sealed for environment `{}` and runs only there",
            s.environment
        ))),
    }
}
