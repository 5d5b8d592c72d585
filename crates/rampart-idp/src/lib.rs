//! Rampart as an OpenID Connect provider: what it decides, without I/O.
//!
//! Applications outside the platform share Rampart's sign-on through the authorization code
//! flow with PKCE (OpenID Connect Core 1.0, RFC 6749, RFC 7636), refresh tokens and client
//! credentials. This crate holds the rules; `rampart-service::idp` applies them to stored
//! clients, codes and refresh-token families, and `rampart-server::routes::idp` speaks HTTP.
//!
//! - [`authorize`]: an authorization request checked against its client: the redirect URI
//!   matched exactly (never by prefix), `response_type=code` only, PKCE with `S256` only,
//!   scopes, `prompt` and `max_age`; whether the user must sign in (again) and whether they
//!   must consent.
//! - [`pkce`]: the code challenge and verifier (RFC 7636, `S256` only).
//! - [`jwt`]: ES256 and RS256 signing keys, the JWKS, compact JWS signing and verification (the `ring`
//!   crate signs and verifies; this crate only encodes), and the checks of a token's
//!   registered claims.
//! - [`grant`]: the one-time secrets (client secrets, codes, refresh tokens: shown once,
//!   stored as SHA-256), the verdicts on a presented code or refresh token (a reused code or
//!   a refresh token presented after rotation revokes its whole family), and the claims of
//!   ID and access tokens.
//!
//! **Architecture Invariant:** pure functions of their inputs plus the OS random generator
//! (through `ring`); the caller passes the time, in Unix seconds.

pub mod authorize;
pub mod grant;
pub mod jwt;
pub mod pkce;

/// The scopes the provider knows; a client is registered with a subset of them.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// A space-separated scope parameter as a sorted set without duplicates.
pub fn parse_scope(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether every scope of `asked` is in `granted`.
pub fn covered(asked: &[String], granted: &[String]) -> bool {
    asked.iter().all(|s| granted.contains(s))
}
