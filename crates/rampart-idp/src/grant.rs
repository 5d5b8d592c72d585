//! Grants: the one-time secrets, the verdicts on what a client presents at the token
//! endpoint, and the claims of the tokens issued.
//!
//! **Secrets.** Client secrets (`rcs_`), authorization codes (`rpc_`) and refresh tokens
//! (`rpr_`) are 256 random bits shown once; the store keeps their SHA-256 (high-entropy
//! secrets need no slow hash) and finds them by it, and a client secret is compared with
//! [`Secret::matches`] in constant time.
//!
//! **Codes.** A code is taken at its first presentation, whatever the outcome. A code
//! presented again is a replay: the family of tokens issued from it is revoked (RFC 6749
//! §4.1.2, RFC 9700 §4.2.4).
//!
//! **Refresh-token families.** A successful code grant starts a family; each refresh
//! rotates it: the presented token's generation must be the family's current one, and the
//! answer is a token of the next generation. A token of an older generation is a replay
//! (the old token was stolen, or the new one was): the whole family is revoked, so both the
//! thief's and the owner's tokens stop working and the user signs in again (RFC 9700 §4.14).
//!
//! **A client's registration as it is now.** Administrators may edit a client after it was
//! issued codes and refresh tokens. What was issued never outlives the registration: a
//! code is refused once its redirect URI is no longer registered ([`judge_code`]), and a
//! code or refresh token grants only the scopes the client may still ask for
//! ([`narrowed`]); one that would no longer include `openid` is refused, since every grant
//! here is about a signed-in user.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

/// What a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client secret.
    ClientSecret,
    /// An authorization code.
    Code,
    /// A refresh token.
    RefreshToken,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::ClientSecret => "rcs_",
            Kind::Code => "rpc_",
            Kind::RefreshToken => "rpr_",
        }
    }
}

/// A new secret: the text for the client, the hash for the store.
pub struct Secret {
    text: String,
    hash: [u8; 32],
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Draws a new secret of `kind`; `None` when the OS random generator fails.
    pub fn generate(kind: Kind) -> Option<Secret> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).ok()?;
        let text = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
        let hash = hash(&text);
        Some(Secret { text, hash })
    }

    /// The text, shown once.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The stored form.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Whether `presented` hashes to `stored`, compared in constant time.
    pub fn matches(presented: &str, stored: &[u8]) -> bool {
        bool::from(hash(presented).ct_eq(stored))
    }
}

/// The stored form of a presented secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A random identifier (a family, a token id, a key id): 128 bits, base64url.
pub fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store knows of a presented code.
#[derive(Debug, Clone)]
pub struct CodeFacts<'a> {
    /// It was presented before.
    pub used: bool,
    /// Its expiry, Unix seconds.
    pub expires_at: i64,
    /// The client it was issued to.
    pub client_id: &'a str,
    /// The redirect URI of its authorization request.
    pub redirect_uri: &'a str,
    /// Its `S256` challenge.
    pub challenge: &'a str,
}

/// The token request presenting a code.
#[derive(Debug, Clone)]
pub struct CodeRequest<'a> {
    /// The authenticated (or public) client.
    pub client_id: &'a str,
    /// `redirect_uri`.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`.
    pub verifier: Option<&'a str>,
    /// The redirect URIs the client has registered now (the code's must still be one).
    pub registered: &'a [String],
}

/// The verdict on a presented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVerdict {
    /// Issue tokens.
    Grant,
    /// A replay: refuse, and revoke what the code's first use issued.
    Replayed,
    /// Refuse (`invalid_grant`) for this reason.
    Refused(&'static str),
}

/// Judges a code request (module rule).
pub fn judge_code(code: &CodeFacts<'_>, request: &CodeRequest<'_>, now: i64) -> CodeVerdict {
    if code.used {
        return CodeVerdict::Replayed;
    }
    if code.client_id != request.client_id {
        return CodeVerdict::Refused("the code was issued to another client");
    }
    if request.redirect_uri != Some(code.redirect_uri) {
        return CodeVerdict::Refused("redirect_uri differs from the authorization request's");
    }
    if !request.registered.iter().any(|u| u == code.redirect_uri) {
        return CodeVerdict::Refused("the redirect URI is no longer registered for the client");
    }
    if code.expires_at <= now {
        return CodeVerdict::Refused("the code has expired");
    }
    match request.verifier {
        None => CodeVerdict::Refused("code_verifier is required (PKCE)"),
        Some(v) if !crate::pkce::verify(v, code.challenge) => {
            CodeVerdict::Refused("code_verifier does not match the code_challenge")
        }
        Some(_) => CodeVerdict::Grant,
    }
}

/// What the store knows of a presented refresh token and its family.
#[derive(Debug, Clone)]
pub struct RefreshFacts<'a> {
    /// The token's generation.
    pub generation: i64,
    /// The family's current generation.
    pub current: i64,
    /// The family was revoked.
    pub revoked: bool,
    /// The family's end, Unix seconds.
    pub expires_at: i64,
    /// The client of the family.
    pub client_id: &'a str,
}

/// The verdict on a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// Rotate: issue the next generation.
    Rotate,
    /// A replay after rotation: revoke the whole family.
    Replayed,
    /// Refuse (`invalid_grant`) for this reason.
    Refused(&'static str),
}

/// Judges a refresh request by `client_id` (module rule).
pub fn judge_refresh(token: &RefreshFacts<'_>, client_id: &str, now: i64) -> RefreshVerdict {
    if token.client_id != client_id {
        return RefreshVerdict::Refused("the refresh token was issued to another client");
    }
    if token.revoked {
        return RefreshVerdict::Refused("the refresh token was revoked");
    }
    if token.generation != token.current {
        return RefreshVerdict::Replayed;
    }
    if token.expires_at <= now {
        return RefreshVerdict::Refused("the refresh token has expired");
    }
    RefreshVerdict::Rotate
}

/// The scopes of a grant (`granted`) that the client may still ask for (`allowed`, its
/// registration now), in `granted`'s order; `None` when `openid` is no longer among them:
/// the grant must then be refused (module rule).
pub fn narrowed(granted: &[String], allowed: &[String]) -> Option<Vec<String>> {
    let kept: Vec<String> = granted
        .iter()
        .filter(|s| allowed.contains(s))
        .cloned()
        .collect();
    kept.iter().any(|s| s == "openid").then_some(kept)
}

/// The user a token speaks of.
#[derive(Debug, Clone)]
pub struct Profile<'a> {
    /// The stable subject (the user id).
    pub sub: &'a str,
    /// `preferred_username`.
    pub username: &'a str,
    /// `name`, if known.
    pub name: Option<&'a str>,
    /// `email`, if known.
    pub email: Option<&'a str>,
}

/// The claims about the user that `scopes` release: `sub` always, `profile` the names,
/// `email` the address (not claimed verified: Rampart does not verify addresses).
pub fn user_claims(profile: &Profile<'_>, scopes: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), json!(profile.sub));
    if scopes.iter().any(|s| s == "profile") {
        out.insert("preferred_username".into(), json!(profile.username));
        out.insert(
            "name".into(),
            json!(profile.name.unwrap_or(profile.username)),
        );
    }
    if scopes.iter().any(|s| s == "email") {
        if let Some(email) = profile.email {
            out.insert("email".into(), json!(email));
            out.insert("email_verified".into(), json!(false));
        }
    }
    out
}

/// The claims of an ID token for `client_id`.
#[allow(clippy::too_many_arguments)]
pub fn id_token_claims(
    issuer: &str,
    client_id: &str,
    profile: &Profile<'_>,
    scopes: &[String],
    nonce: Option<&str>,
    auth_time: i64,
    now: i64,
    lifetime: i64,
) -> Value {
    let mut claims = user_claims(profile, scopes);
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("azp".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + lifetime));
    claims.insert("auth_time".into(), json!(auth_time));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    Value::Object(claims)
}

/// The claims of an access token (RFC 9068): for this provider (`aud` is the issuer, whose
/// userinfo and introspection endpoints accept it), naming the client, the scopes, the
/// subject (the user, or the client itself for client credentials), a token id and, for
/// tokens of a refresh family, the family (`gid`), so revoking the family revokes them.
#[allow(clippy::too_many_arguments)]
pub fn access_token_claims(
    issuer: &str,
    client_id: &str,
    sub: &str,
    scopes: &[String],
    jti: &str,
    family: Option<&str>,
    now: i64,
    lifetime: i64,
) -> Value {
    let mut claims = json!({
        "iss": issuer,
        "aud": issuer,
        "sub": sub,
        "client_id": client_id,
        "scope": scopes.join(" "),
        "jti": jti,
        "iat": now,
        "exp": now + lifetime,
    });
    if let (Some(family), Some(map)) = (family, claims.as_object_mut()) {
        map.insert("gid".into(), json!(family));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::challenge_of;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn secrets_are_random_prefixed_and_matched_by_hash() {
        let a = Secret::generate(Kind::ClientSecret).unwrap();
        let b = Secret::generate(Kind::ClientSecret).unwrap();
        assert!(a.text().starts_with("rcs_") && a.text().len() == 47);
        assert_ne!(a.text(), b.text());
        assert!(Secret::matches(a.text(), &a.hash()));
        assert!(!Secret::matches(b.text(), &a.hash()));
        assert!(!Secret::matches("", &a.hash()));
        assert!(Secret::generate(Kind::Code)
            .unwrap()
            .text()
            .starts_with("rpc_"));
        assert!(Secret::generate(Kind::RefreshToken)
            .unwrap()
            .text()
            .starts_with("rpr_"));
        assert!(!format!("{a:?}").contains(a.text()));
    }

    #[test]
    fn a_code_grants_once_to_its_client_redirect_and_verifier() {
        let challenge = challenge_of(VERIFIER);
        let code = CodeFacts {
            used: false,
            expires_at: 100,
            client_id: "wiki",
            redirect_uri: "https://wiki.example/cb",
            challenge: &challenge,
        };
        let registered = ["https://wiki.example/cb".to_owned()];
        let ok = CodeRequest {
            client_id: "wiki",
            redirect_uri: Some("https://wiki.example/cb"),
            verifier: Some(VERIFIER),
            registered: &registered,
        };
        assert_eq!(judge_code(&code, &ok, 99), CodeVerdict::Grant);
        assert!(matches!(
            judge_code(&code, &ok, 100),
            CodeVerdict::Refused(_)
        ));
        let used = CodeFacts {
            used: true,
            ..code.clone()
        };
        assert_eq!(judge_code(&used, &ok, 1), CodeVerdict::Replayed);
        for bad in [
            CodeRequest {
                client_id: "blog",
                ..ok.clone()
            },
            CodeRequest {
                redirect_uri: Some("https://wiki.example/cb/"),
                ..ok.clone()
            },
            CodeRequest {
                redirect_uri: None,
                ..ok.clone()
            },
            CodeRequest {
                verifier: None,
                ..ok.clone()
            },
            CodeRequest {
                verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
                ..ok.clone()
            },
            CodeRequest {
                verifier: Some(&challenge),
                ..ok.clone()
            },
            // The redirect URI was removed from the client after the code was issued.
            CodeRequest {
                registered: &[],
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(judge_code(&code, &bad, 1), CodeVerdict::Refused(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_refresh_token_rotates_once_and_a_replay_revokes_the_family() {
        let current = RefreshFacts {
            generation: 3,
            current: 3,
            revoked: false,
            expires_at: 100,
            client_id: "wiki",
        };
        assert_eq!(judge_refresh(&current, "wiki", 1), RefreshVerdict::Rotate);
        let older = RefreshFacts {
            generation: 2,
            ..current.clone()
        };
        assert_eq!(judge_refresh(&older, "wiki", 1), RefreshVerdict::Replayed);
        let revoked = RefreshFacts {
            revoked: true,
            ..current.clone()
        };
        assert!(matches!(
            judge_refresh(&revoked, "wiki", 1),
            RefreshVerdict::Refused(_)
        ));
        assert!(matches!(
            judge_refresh(&current, "blog", 1),
            RefreshVerdict::Refused(_)
        ));
        assert!(matches!(
            judge_refresh(&current, "wiki", 100),
            RefreshVerdict::Refused(_)
        ));
    }

    #[test]
    fn a_grant_keeps_only_the_scopes_the_client_may_still_ask_for() {
        let list = |s: &str| crate::parse_scope(s);
        let check = |granted: &str, allowed: &str, expected: Option<&str>| {
            assert_eq!(
                narrowed(&list(granted), &list(allowed)),
                expected.map(list),
                "{granted} within {allowed}"
            );
        };
        check(
            "openid profile",
            "openid profile email",
            Some("openid profile"),
        );
        check("email openid profile", "openid email", Some("email openid"));
        check("offline_access openid", "openid", Some("openid"));
        check("openid profile", "profile email", None);
        check("openid", "", None);
    }

    #[test]
    fn claims_release_what_the_scopes_say() {
        let p = Profile {
            sub: "u1",
            username: "alice",
            name: None,
            email: Some("a@example.com"),
        };
        let openid = vec!["openid".to_owned()];
        assert_eq!(
            Value::Object(user_claims(&p, &openid)),
            json!({ "sub": "u1" })
        );
        let all: Vec<String> = ["email", "openid", "profile"].map(String::from).to_vec();
        let c = user_claims(&p, &all);
        assert_eq!(c["preferred_username"], "alice");
        assert_eq!(c["email"], "a@example.com");
        let id = id_token_claims("https://i", "wiki", &p, &openid, Some("n"), 5, 10, 300);
        assert_eq!(id["aud"], "wiki");
        assert_eq!(id["exp"], 310);
        assert_eq!(id["nonce"], "n");
        let at = access_token_claims("https://i", "wiki", "u1", &all, "j", Some("f"), 10, 60);
        assert_eq!(at["aud"], "https://i");
        assert_eq!(at["scope"], "email openid profile");
        assert_eq!(at["gid"], "f");
    }
}
