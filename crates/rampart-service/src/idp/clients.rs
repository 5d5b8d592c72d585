//! Client registration and editing by administrators. The adapter checks that the caller
//! administers users (the same permission as user providers); the store writes
//! `idp.client.*` events.
//!
//! One set of rules ([`settings`]) judges a registration and an update alike: an update is
//! the client's current settings with the changes applied, checked whole. An update never
//! changes the id, the secret or the kind (hence the grant types). What the client was
//! issued before follows its new registration at once, in the update's transaction (see
//! `Store::idp_update_client`): a code whose redirect URI was removed is withdrawn, and
//! codes, refresh-token families and consents keep only the scopes still allowed
//! (`rampart_idp::grant::narrowed`; a grant left without `openid` is revoked). The token
//! endpoint applies the same rule to what it is presented, so a code issued while the
//! update committed follows it too.

use rampart_api::idp::{IdpClientCreated, IdpClientInfo, IdpClientUpdate, NewIdpClientRequest};
use rampart_core::{Error, Provider};
use rampart_idp::grant::{self, Kind, Secret};
use rampart_idp::{jwt, SCOPES};
use rampart_store::{IdpClient, IdpClientSettings, NewIdpClient};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;

use crate::caller::Caller;
use crate::state::AppState;

/// The registered clients a node has looked up, kept in memory only on an exclusive store
/// (SQLite: this process is the database's only writer, and every change of a client goes
/// through this module, which forgets the client it changed). On PostgreSQL every lookup
/// reads the database, so a secret rotated on another node stops working at once.
#[derive(Default)]
pub struct ClientCache(std::sync::Mutex<Kept>);

#[derive(Default)]
struct Kept {
    /// Bumped by every forget: a lookup that read the database before a change keeps
    /// nothing it read.
    generation: u64,
    clients: std::collections::HashMap<String, IdpClient>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCache")
    }
}

/// The most clients kept; past it the cache starts again (unknown ids are never kept).
const KEPT: usize = 4096;

/// The client `client_id`, if registered.
pub async fn find(state: &AppState, client_id: &str) -> Result<Option<IdpClient>, Error> {
    if !state.store.is_exclusive() {
        return state.store.idp_client(client_id).await;
    }
    let generation = {
        let Ok(kept) = state.idp_clients.0.lock() else {
            return Err(Error::Internal("the client cache is unusable".into()));
        };
        if let Some(client) = kept.clients.get(client_id) {
            return Ok(Some(client.clone()));
        }
        kept.generation
    };
    let found = state.store.idp_client(client_id).await?;
    if let (Some(client), Ok(mut kept)) = (&found, state.idp_clients.0.lock()) {
        if kept.generation == generation {
            if kept.clients.len() >= KEPT {
                kept.clients.clear();
            }
            kept.clients.insert(client_id.to_owned(), client.clone());
        }
    }
    Ok(found)
}

/// Forgets what is kept of `client_id`, whose stored record changed.
fn forget(state: &AppState, client_id: &str) {
    if let Ok(mut kept) = state.idp_clients.0.lock() {
        kept.generation += 1;
        kept.clients.remove(client_id);
    }
}

/// A client's kind: `public`, `confidential` or `service`.
pub fn kind_of(c: &IdpClient) -> &'static str {
    match (
        &c.secret_hash,
        c.grant_types.iter().any(|g| g == "authorization_code"),
    ) {
        (None, _) => "public",
        (Some(_), true) => "confidential",
        (Some(_), false) => "service",
    }
}

/// The wire form of a client.
pub fn info(c: &IdpClient) -> IdpClientInfo {
    let kind = kind_of(c);
    IdpClientInfo {
        client_id: c.client_id.clone(),
        name: c.name.clone(),
        kind: kind.into(),
        first_party: c.first_party,
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        scopes: c.scopes.clone(),
        grant_types: c.grant_types.clone(),
        id_token_signed_response_alg: c.id_token_alg.clone(),
        users: c.users.clone(),
        created_at: c.created_at.format(&Rfc3339).unwrap_or_default(),
        version: version_of(c),
    }
}

/// A fingerprint of a client's settings (what an edit may change): an edit sent with the
/// one it was read with (`if_version`) is refused once they have changed.
fn version_of(c: &IdpClient) -> String {
    let mut hash = Sha256::new();
    let mut part = |s: &str| {
        hash.update((s.len() as u64).to_be_bytes());
        hash.update(s.as_bytes());
    };
    part(&c.name);
    part(if c.first_party {
        "first-party"
    } else {
        "third-party"
    });
    for list in [&c.redirect_uris, &c.post_logout_redirect_uris, &c.scopes] {
        part(&list.len().to_string());
        list.iter().for_each(|item| part(item));
    }
    part(&c.id_token_alg);
    part(&c.users);
    hash.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `id` is a client id: 1–64 of `a-z 0-9 - _ .`, starting with a letter or digit.
fn client_id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// Why `uri` cannot be a redirect URI, if it cannot: an absolute `https://` URI, or
/// `http://` on a loopback host (native apps), without fragment, user information or
/// control characters.
pub fn redirect_uri_fault(uri: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(uri) else {
        return Some("is not an absolute URI");
    };
    if url.as_str() != uri {
        return Some("is not in normal form (write it as it is sent: lower-case scheme and host, a / after a bare host)");
    }
    if url.fragment().is_some() {
        return Some("has a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("has user information");
    }
    match url.scheme() {
        "https" if url.host().is_some() => None,
        "http" if matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")) => None,
        _ => Some("must be https:// (or http:// on a loopback address)"),
    }
}

fn check_uris(field: &str, uris: &[String]) -> Result<(), Error> {
    if uris.len() > 20 {
        return Err(Error::invalid(field, "at most 20 URIs"));
    }
    for uri in uris {
        if uri.len() > 2000 {
            return Err(Error::invalid(
                field,
                "a URI is longer than 2000 characters",
            ));
        }
        if let Some(fault) = redirect_uri_fault(uri) {
            return Err(Error::invalid(field, format!("{uri:?} {fault}")));
        }
    }
    Ok(())
}

/// A client's settings as asked, before the rules: a registration's, or a client's current
/// settings with an update's changes applied.
struct Draft<'a> {
    kind: &'a str,
    name: &'a str,
    first_party: bool,
    redirect_uris: &'a [String],
    post_logout_redirect_uris: &'a [String],
    /// `None`: every scope the provider knows.
    scopes: Option<&'a [String]>,
    /// `None`: OpenID Connect's default.
    id_token_alg: Option<&'a str>,
    /// `None`: end users.
    users: Option<&'a str>,
}

/// The rules every client's settings follow, at registration and after each update; the
/// refusal names the field. Answers the settings as stored and the grant types of `kind`.
fn settings(d: &Draft<'_>) -> Result<(IdpClientSettings, Vec<String>), Error> {
    rampart_core::display_text("name", d.name, 200)?;
    let name = d.name.trim().to_owned();
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    let grant_types: Vec<String> = match d.kind {
        "confidential" | "public" => vec!["authorization_code".into(), "refresh_token".into()],
        "service" => vec!["client_credentials".into()],
        _ => return Err(Error::invalid("kind", "confidential, public or service")),
    };
    check_uris("redirect_uris", d.redirect_uris)?;
    check_uris("post_logout_redirect_uris", d.post_logout_redirect_uris)?;
    if d.kind != "service" && d.redirect_uris.is_empty() {
        return Err(Error::invalid(
            "redirect_uris",
            "a client that signs users in needs at least one redirect URI",
        ));
    }
    if d.kind == "service"
        && !(d.redirect_uris.is_empty() && d.post_logout_redirect_uris.is_empty())
    {
        return Err(Error::invalid(
            "redirect_uris",
            "a service client signs no user in: it has no redirect URIs",
        ));
    }
    let scopes = match d.scopes {
        None => SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        Some(list) => {
            let mut list = list.to_vec();
            list.sort();
            list.dedup();
            if let Some(bad) = list.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return Err(Error::invalid(
                    "scopes",
                    format!("unknown scope {bad:?}; known: {}", SCOPES.join(" ")),
                ));
            }
            list
        }
    };
    let id_token_alg = match d.id_token_alg {
        None => jwt::DEFAULT_ID_TOKEN_ALG,
        Some(name) => jwt::Alg::parse(name)
            .ok_or_else(|| Error::invalid("id_token_signed_response_alg", "RS256 or ES256"))?,
    };
    let users = match d.users {
        None | Some("end") => Provider::End,
        Some("it") => Provider::It,
        Some(_) => {
            return Err(Error::invalid(
                "users",
                "end (the applications' end users) or it (IT users)",
            ))
        }
    };
    Ok((
        IdpClientSettings {
            name,
            first_party: d.first_party,
            redirect_uris: d.redirect_uris.to_vec(),
            post_logout_redirect_uris: d.post_logout_redirect_uris.to_vec(),
            scopes,
            id_token_alg: id_token_alg.as_str().to_owned(),
            users: users.as_str().to_owned(),
        },
        grant_types,
    ))
}

/// Registers a client; the answer carries its secret, this once.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: &NewIdpClientRequest,
) -> Result<IdpClientCreated, Error> {
    if !client_id_ok(&request.client_id) {
        return Err(Error::invalid(
            "client_id",
            "1 to 64 of a-z 0-9 - _ . starting with a letter or digit",
        ));
    }
    let (settings, grant_types) = settings(&Draft {
        kind: &request.kind,
        name: &request.name,
        first_party: request.first_party,
        redirect_uris: &request.redirect_uris,
        post_logout_redirect_uris: &request.post_logout_redirect_uris,
        scopes: request.scopes.as_deref(),
        id_token_alg: request.id_token_signed_response_alg.as_deref(),
        users: request.users.as_deref(),
    })?;
    let secret = if request.kind == "public" {
        None
    } else {
        Some(
            Secret::generate(Kind::ClientSecret)
                .ok_or_else(|| Error::Internal("the random generator failed".into()))?,
        )
    };
    let new = NewIdpClient {
        client_id: request.client_id.clone(),
        name: settings.name,
        secret_hash: secret.as_ref().map(Secret::hash),
        first_party: settings.first_party,
        redirect_uris: settings.redirect_uris,
        post_logout_redirect_uris: settings.post_logout_redirect_uris,
        scopes: settings.scopes,
        grant_types,
        id_token_alg: settings.id_token_alg,
        users: settings.users,
    };
    // A client obtains tokens for the users who sign in to it.
    crate::identity::mfa::require_step_up(state, caller, "registering a client").await?;
    let now = state.clock.now();
    state
        .store
        .idp_create_client(&new, now, &caller.audit)
        .await?;
    forget(state, &new.client_id);
    let client = state
        .store
        .idp_client(&new.client_id)
        .await?
        .ok_or_else(|| Error::Internal("the client just registered is missing".into()))?;
    Ok(IdpClientCreated {
        client: info(&client),
        client_secret: secret.map(|s| s.text().to_owned()),
    })
}

/// The settings of `c` as an update compares them.
fn current(c: &IdpClient) -> IdpClientSettings {
    IdpClientSettings {
        name: c.name.clone(),
        first_party: c.first_party,
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        scopes: c.scopes.clone(),
        id_token_alg: c.id_token_alg.clone(),
        users: c.users.clone(),
    }
}

/// The fields (by their API names) whose values differ between `a` and `b`.
fn changed_fields(a: &IdpClientSettings, b: &IdpClientSettings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut note = |differs: bool, field| {
        if differs {
            out.push(field);
        }
    };
    note(a.name != b.name, "name");
    note(a.first_party != b.first_party, "first_party");
    note(a.redirect_uris != b.redirect_uris, "redirect_uris");
    note(
        a.post_logout_redirect_uris != b.post_logout_redirect_uris,
        "post_logout_redirect_uris",
    );
    note(a.scopes != b.scopes, "scopes");
    note(
        a.id_token_alg != b.id_token_alg,
        "id_token_signed_response_alg",
    );
    note(a.users != b.users, "users");
    out
}

/// Changes a client's settings: the fields `change` has, checked with the others by the
/// rules of a registration ([`settings`]); nothing changes when one fails. What the
/// client was issued follows the new registration (module header). An update that changes
/// nothing records nothing.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    client_id: &str,
    change: &IdpClientUpdate,
) -> Result<IdpClientInfo, Error> {
    let before = state
        .store
        .idp_client(client_id)
        .await?
        .ok_or(Error::NotFound { what: "client" })?;
    if change
        .client_id
        .as_deref()
        .is_some_and(|id| id != before.client_id)
    {
        return Err(Error::invalid(
            "client_id",
            "a client id never changes; register a new client instead",
        ));
    }
    // Read from settings that have changed since: refused, as a change made meanwhile by
    // someone else would be (the write below is conditional on `before` as well).
    if change
        .if_version
        .as_deref()
        .is_some_and(|v| v != version_of(&before))
    {
        return Err(stale());
    }
    let kind = kind_of(&before);
    if change.kind.as_deref().is_some_and(|k| k != kind) {
        return Err(Error::invalid(
            "kind",
            format!("a client's kind is fixed at registration (this one is {kind}); register a new client instead"),
        ));
    }
    let (mut after, _) = settings(&Draft {
        kind,
        name: change.name.as_deref().unwrap_or(&before.name),
        first_party: change.first_party.unwrap_or(before.first_party),
        redirect_uris: change
            .redirect_uris
            .as_deref()
            .unwrap_or(&before.redirect_uris),
        post_logout_redirect_uris: change
            .post_logout_redirect_uris
            .as_deref()
            .unwrap_or(&before.post_logout_redirect_uris),
        scopes: Some(change.scopes.as_deref().unwrap_or(&before.scopes)),
        id_token_alg: Some(
            change
                .id_token_signed_response_alg
                .as_deref()
                .unwrap_or(&before.id_token_alg),
        ),
        users: Some(change.users.as_deref().unwrap_or(&before.users)),
    })?;
    // The rules give scopes sorted; the same set in the stored order is no change.
    let mut stored = before.scopes.clone();
    stored.sort();
    if stored == after.scopes {
        after.scopes = before.scopes.clone();
    }
    let changed = changed_fields(&current(&before), &after);
    if changed.is_empty() {
        return Ok(info(&before));
    }
    crate::identity::mfa::require_step_up(state, caller, "changing a client").await?;
    let allowed = after.scopes.clone();
    let narrow = move |granted: &[String]| grant::narrowed(granted, &allowed);
    let now = state.clock.now();
    let updated = state
        .store
        .idp_update_client(&before, &after, &changed, &narrow, now, &caller.audit)
        .await;
    forget(state, client_id);
    if updated?.is_none() {
        return Err(match state.store.idp_client(client_id).await? {
            None => Error::NotFound { what: "client" },
            Some(_) => stale(),
        });
    }
    get(state, client_id).await
}

/// The refusal of an edit made from settings that have changed since.
fn stale() -> Error {
    Error::Conflict(
        "the client was changed by someone else meanwhile; read it again and retry".into(),
    )
}

/// Every client.
pub async fn list(state: &AppState) -> Result<Vec<IdpClientInfo>, Error> {
    Ok(state.store.idp_clients().await?.iter().map(info).collect())
}

/// One client.
pub async fn get(state: &AppState, client_id: &str) -> Result<IdpClientInfo, Error> {
    state
        .store
        .idp_client(client_id)
        .await?
        .map(|c| info(&c))
        .ok_or(Error::NotFound { what: "client" })
}

/// Removes a client, with everything issued to it.
pub async fn delete(state: &AppState, caller: &Caller, client_id: &str) -> Result<(), Error> {
    let now = state.clock.now();
    let deleted = state
        .store
        .idp_delete_client(client_id, now, &caller.audit)
        .await;
    forget(state, client_id);
    if deleted? {
        Ok(())
    } else {
        Err(Error::NotFound { what: "client" })
    }
}

/// Gives a confidential or service client a new secret (the old one stops working).
pub async fn rotate_secret(
    state: &AppState,
    caller: &Caller,
    client_id: &str,
) -> Result<IdpClientCreated, Error> {
    let client = state
        .store
        .idp_client(client_id)
        .await?
        .ok_or(Error::NotFound { what: "client" })?;
    if client.secret_hash.is_none() {
        return Err(Error::Conflict("a public client has no secret".into()));
    }
    let secret = Secret::generate(Kind::ClientSecret)
        .ok_or_else(|| Error::Internal("the random generator failed".into()))?;
    crate::identity::mfa::require_step_up(state, caller, "rotating a client's secret").await?;
    let now = state.clock.now();
    let set = state
        .store
        .idp_set_client_secret(client_id, secret.hash(), now, &caller.audit)
        .await;
    forget(state, client_id);
    set?;
    Ok(IdpClientCreated {
        client: info(&client),
        client_secret: Some(secret.text().to_owned()),
    })
}
