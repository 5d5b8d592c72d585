//! Client registration by administrators. The adapter checks that the caller administers
//! users (the same permission as user providers); the store writes `idp.client.*` events.

use rampart_api::idp::{IdpClientCreated, IdpClientInfo, NewIdpClientRequest};
use rampart_core::{Error, Provider};
use rampart_idp::grant::{Kind, Secret};
use rampart_idp::{jwt, SCOPES};
use rampart_store::{IdpClient, NewIdpClient};
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

/// The wire form of a client.
pub fn info(c: &IdpClient) -> IdpClientInfo {
    let kind = match (
        &c.secret_hash,
        c.grant_types.iter().any(|g| g == "authorization_code"),
    ) {
        (None, _) => "public",
        (Some(_), true) => "confidential",
        (Some(_), false) => "service",
    };
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
    }
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
    rampart_core::display_text("name", &request.name, 200)?;
    let name = request.name.trim().to_owned();
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    let grant_types: Vec<String> = match request.kind.as_str() {
        "confidential" | "public" => vec!["authorization_code".into(), "refresh_token".into()],
        "service" => vec!["client_credentials".into()],
        _ => return Err(Error::invalid("kind", "confidential, public or service")),
    };
    check_uris("redirect_uris", &request.redirect_uris)?;
    check_uris(
        "post_logout_redirect_uris",
        &request.post_logout_redirect_uris,
    )?;
    if request.kind != "service" && request.redirect_uris.is_empty() {
        return Err(Error::invalid(
            "redirect_uris",
            "a client that signs users in needs at least one redirect URI",
        ));
    }
    if request.kind == "service"
        && !(request.redirect_uris.is_empty() && request.post_logout_redirect_uris.is_empty())
    {
        return Err(Error::invalid(
            "redirect_uris",
            "a service client signs no user in: it has no redirect URIs",
        ));
    }
    let scopes = match &request.scopes {
        None => SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        Some(list) => {
            let mut list = list.clone();
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
    let id_token_alg = match request.id_token_signed_response_alg.as_deref() {
        None => jwt::DEFAULT_ID_TOKEN_ALG,
        Some(name) => jwt::Alg::parse(name)
            .ok_or_else(|| Error::invalid("id_token_signed_response_alg", "RS256 or ES256"))?,
    };
    let users = match request.users.as_deref() {
        None | Some("end") => Provider::End,
        Some("it") => Provider::It,
        Some(_) => {
            return Err(Error::invalid(
                "users",
                "end (the applications' end users) or it (IT users)",
            ))
        }
    };
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
        name,
        secret_hash: secret.as_ref().map(Secret::hash),
        first_party: request.first_party,
        redirect_uris: request.redirect_uris.clone(),
        post_logout_redirect_uris: request.post_logout_redirect_uris.clone(),
        scopes,
        grant_types,
        id_token_alg: id_token_alg.as_str().to_owned(),
        users: users.as_str().to_owned(),
    };
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
