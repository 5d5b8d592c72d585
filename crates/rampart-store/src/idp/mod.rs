//! Rampart as an OpenID Connect provider: registered clients, authorization codes,
//! refresh-token families, consents and signing keys (migration `0013_oidc_provider`).
//!
//! Secrets arrive here hashed (SHA-256; `rampart_idp::grant`), never in clear. A code is
//! taken by a conditional `UPDATE … WHERE used_at IS NULL`, and a family rotates by a
//! conditional `UPDATE … WHERE generation = $n`, so of two racing presentations one wins
//! and the other is judged a replay. Mutations write their `idp.*` audit event in their
//! transaction; the details name clients, scopes and reasons, never a secret.

mod clients;
mod grants;
mod keys;

pub use clients::{IdpClient, IdpClientSettings, Narrow, Narrowed, NewIdpClient};
pub(crate) use grants::end_user_families;
pub use grants::{IssuedCode, NewFamily, RefreshRow, TakenCode};
pub use keys::StoredKey;

/// A space-separated list as stored.
fn joined(items: &[String]) -> String {
    items.join(" ")
}

/// A stored space-separated list.
fn split(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
