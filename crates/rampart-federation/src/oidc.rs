//! The OpenID Connect client (`openidconnect` over reqwest with rustls): discovery, the
//! authorization request (code flow, PKCE S256, `state`, `nonce`), the code exchange and
//! the ID token's validation.
//!
//! - **Discovery** is fetched on first use and kept for [`METADATA_SECONDS`] in a
//!   [`Discovery`] cache the node holds, with the provider's JWKS. The discovery document
//!   must name exactly the configured issuer (the library checks it).
//! - **Keys rotate**: a token signed with a `kid` the cached JWKS lacks makes the client
//!   fetch the JWKS again once and verify again; at most [`REFETCHES_PER_MINUTE`] such
//!   re-fetches per provider and minute, so tokens with made-up `kid`s cannot make the
//!   server hammer the provider.
//! - **Validation**: the signature against the JWKS with an asymmetric algorithm the
//!   provider announces (never `none`, never HMAC with the client secret), the issuer, the
//!   audience (this client, and no other untrusted audience), the expiry against the
//!   caller's clock, `iat` within [`crate::claims::check_issued_at`], and the nonce of the
//!   login transaction.
//! - HTTP: no redirects followed, no cookies, the provider's timeout; its TLS certificate
//!   checked against the configured CA (or the system's roots).
//!
//! The client knows nothing of the store, sessions or audit: the service keeps the login
//! transaction (state, nonce, PKCE verifier) and decides what a verified user becomes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IdTokenVerifier,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse as _,
};
use serde_json::Value;

use crate::claims::{check_issued_at, claimed_user, ClaimedUser};
use crate::settings::OidcSettings;

/// How long discovery (and the JWKS with it) is kept, in seconds.
pub const METADATA_SECONDS: i64 = 3600;
/// How many JWKS re-fetches an unknown `kid` may cause per provider and minute.
pub const REFETCHES_PER_MINUTE: usize = 10;

/// Why a sign-in through an OpenID provider did not go through.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    /// The client secret's reference cannot be read.
    #[error("the client secret cannot be read: {0}")]
    Secret(String),
    /// The provider cannot be reached (no connection, no answer in time, no secure channel).
    #[error("the identity provider cannot be reached: {0}")]
    Unreachable(String),
    /// The provider answered something unusable (discovery, keys, the token endpoint).
    #[error("the identity provider answered an error: {0}")]
    Provider(String),
    /// What the provider sent is refused: a code it would not exchange, an ID token that
    /// fails validation. `reason` is stable, for the audit trail.
    #[error("{message}")]
    Refused {
        /// A stable short reason.
        reason: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl OidcError {
    /// A stable short reason, for audit events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::Secret(_) => "secret-unreadable",
            OidcError::Unreachable(_) => "unreachable",
            OidcError::Provider(_) => "provider-error",
            OidcError::Refused { reason, .. } => reason,
        }
    }

    fn refused(reason: &'static str, message: impl Into<String>) -> Self {
        OidcError::Refused {
            reason,
            message: message.into(),
        }
    }
}

/// The start of a sign-in: where to send the browser, and what the callback must find
/// again (kept by the caller, bound to the browser, used once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begun {
    /// The provider's authorization URL with every parameter.
    pub url: String,
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE code verifier whose S256 challenge was sent.
    pub verifier: String,
}

/// What a sign-in's callback checks the provider's answer against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The redirect URI sent (the token request repeats it exactly).
    pub redirect_uri: String,
}

/// A verified ID token: its claims, and the user they describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Every claim of the token.
    pub claims: Value,
    /// The user, read with the configured claims.
    pub user: ClaimedUser,
}

/// A provider that signs users in by sending their browser to it and back: what the service
/// layer asks of an OpenID provider (and, later, of a SAML identity provider).
pub trait SignInProvider: Send + Sync {
    /// Prepares the authorization request to send the browser to, coming back to
    /// `redirect_uri`; `now` is seconds since the epoch.
    fn begin(
        &self,
        redirect_uri: &str,
        now: i64,
    ) -> impl Future<Output = Result<Begun, OidcError>> + Send;

    /// Exchanges the `code` the browser brought back and verifies the ID token against
    /// `pending`.
    fn finish(
        &self,
        code: &str,
        pending: &Pending,
        now: i64,
    ) -> impl Future<Output = Result<Verified, OidcError>> + Send;

    /// Fetches discovery and the JWKS again: the "test connection" of a provider.
    fn check(&self, now: i64) -> impl Future<Output = Result<(), OidcError>> + Send;
}

/// Discovery documents, JWKS and HTTP clients of the providers a node talks to, by their
/// settings (a changed setting is a new entry).
#[derive(Default)]
pub struct Discovery {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone)]
struct Entry {
    http: reqwest::Client,
    metadata: Option<(CoreProviderMetadata, i64)>,
    refetches: Vec<i64>,
}

impl Discovery {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A client made from discovery: an authorization endpoint, maybe a token and a userinfo
/// endpoint.
type DiscoveredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// One OpenID provider, as its settings describe it, with the client secret read now.
pub struct OidcClient {
    settings: OidcSettings,
    secret: String,
    key: String,
    discovery: Arc<Discovery>,
}

impl OidcClient {
    /// A client of the provider `settings` describe; the HTTP client (its trusted roots and
    /// timeout) is made once per settings and kept in `discovery`.
    pub fn new(
        settings: OidcSettings,
        secret: String,
        discovery: Arc<Discovery>,
    ) -> Result<Self, OidcError> {
        let key = format!(
            "{}\n{}\n{}\n{}",
            settings.issuer,
            settings.client_id,
            settings.ca_certificate.as_deref().unwrap_or(""),
            settings.timeout_seconds
        );
        let known = discovery.lock().contains_key(&key);
        if !known {
            let http = http_client(&settings)?;
            discovery.lock().entry(key.clone()).or_insert(Entry {
                http,
                metadata: None,
                refetches: Vec::new(),
            });
        }
        Ok(Self {
            settings,
            secret,
            key,
            discovery,
        })
    }

    fn entry(&self) -> Result<Entry, OidcError> {
        self.discovery
            .lock()
            .get(&self.key)
            .cloned()
            .ok_or_else(|| OidcError::Provider("the provider's client is gone".into()))
    }

    /// The provider's metadata and keys: the cached ones while fresh, else fetched.
    async fn metadata(&self, now: i64, fresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let entry = self.entry()?;
        if let (Some((metadata, at)), false) = (&entry.metadata, fresh) {
            if now - at < METADATA_SECONDS && now >= *at {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Provider(format!("the issuer is not a URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &entry.http)
            .await
            .map_err(|e| discovery_error("discovery", &e))?;
        if let Some(e) = self.discovery.lock().get_mut(&self.key) {
            e.metadata = Some((metadata.clone(), now));
        }
        Ok(metadata)
    }

    /// Fetches the JWKS again for a `kid` the cached one lacks, if the bound allows.
    async fn refetch_keys(
        &self,
        metadata: CoreProviderMetadata,
        now: i64,
    ) -> Result<Option<CoreProviderMetadata>, OidcError> {
        {
            let mut entries = self.discovery.lock();
            let Some(e) = entries.get_mut(&self.key) else {
                return Ok(None);
            };
            e.refetches.retain(|t| now - t < 60 && *t <= now);
            if e.refetches.len() >= REFETCHES_PER_MINUTE {
                return Ok(None);
            }
            e.refetches.push(now);
        }
        let http = self.entry()?.http;
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &http)
            .await
            .map_err(|e| discovery_error("the keys (JWKS)", &e))?;
        let metadata = metadata.set_jwks(jwks);
        if let Some(e) = self.discovery.lock().get_mut(&self.key) {
            e.metadata = Some((metadata.clone(), now));
        }
        Ok(Some(metadata))
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<DiscoveredClient, OidcError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OidcError::Provider(format!("the redirect URI is not a URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Verifies an ID token (compact JWS) against the provider's keys, issuer and this
    /// client, at `now` (seconds since the epoch), with `nonce`; a `kid` the cached keys lack
    /// makes one bounded re-fetch of the JWKS. Public for tests that hand it tokens the
    /// provider minted outside a flow.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Verified, OidcError> {
        let metadata = self.metadata(now, false).await?;
        let id_token: CoreIdToken = token
            .parse()
            .map_err(|e| OidcError::refused("malformed-token", format!("not an ID token: {e}")))?;
        let result = self.check_token(&metadata, &id_token, nonce, now);
        let unknown_key = matches!(
            result,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        );
        let result = match (unknown_key, result) {
            (true, first) => match self.refetch_keys(metadata, now).await? {
                Some(metadata) => self.check_token(&metadata, &id_token, nonce, now),
                None => first,
            },
            (false, result) => result,
        };
        result.map_err(token_refusal)?;
        let claims = payload(token)?;
        let user = claimed_user(
            &claims,
            &self.settings.username_claim,
            &self.settings.groups_claim,
        )
        .map_err(|m| OidcError::refused("missing-claim", m))?;
        Ok(Verified { claims, user })
    }

    fn check_token(
        &self,
        metadata: &CoreProviderMetadata,
        id_token: &CoreIdToken,
        nonce: &str,
        now: i64,
    ) -> Result<(), ClaimsVerificationError> {
        let algs: Vec<CoreJwsSigningAlgorithm> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| asymmetric(a))
            .cloned()
            .collect();
        let clock = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        // A public-client verifier: the client secret never verifies an HMAC-signed token.
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            metadata.issuer().clone(),
            metadata.jwks().clone(),
        )
        .set_allowed_algs(algs)
        .set_time_fn(move || clock)
        .set_issue_time_verifier_fn(move |iat| check_issued_at(iat.timestamp(), now));
        id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map(|_| ())
    }
}

impl SignInProvider for OidcClient {
    async fn begin(&self, redirect_uri: &str, now: i64) -> Result<Begun, OidcError> {
        let metadata = self.metadata(now, false).await?;
        let client = self.client(metadata, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    async fn finish(&self, code: &str, pending: &Pending, now: i64) -> Result<Verified, OidcError> {
        let metadata = self.metadata(now, false).await?;
        let http = self.entry()?.http;
        let client = self.client(metadata, &pending.redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => OidcError::refused(
                    "code-refused",
                    format!("the provider refused the code: {answer}"),
                ),
                RequestTokenError::Request(e) => OidcError::Unreachable(chain(&e)),
                RequestTokenError::Parse(e, _) => {
                    OidcError::Provider(format!("the token answer is not readable: {e}"))
                }
                RequestTokenError::Other(e) => OidcError::Provider(e),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::refused("no-id-token", "the token answer has no ID token"))?;
        let text = match serde_json::to_value(id_token) {
            Ok(Value::String(text)) => text,
            _ => return Err(OidcError::refused("malformed-token", "not an ID token")),
        };
        self.verify_id_token(&text, &pending.nonce, now).await
    }

    async fn check(&self, now: i64) -> Result<(), OidcError> {
        self.metadata(now, true).await.map(|_| ())
    }
}

/// The HTTP client of a provider: rustls, its CA or the system's roots, no redirects, no
/// cookies, its timeout.
fn http_client(s: &OidcSettings) -> Result<reqwest::Client, OidcError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(u64::from(s.timeout_seconds)))
        .https_only(!issuer_is_plain(&s.issuer));
    if let Some(pem) = &s.ca_certificate {
        let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| OidcError::Provider(format!("the CA certificate is not PEM: {e}")))?;
        builder = builder.tls_built_in_root_certs(false);
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
    }
    builder
        .build()
        .map_err(|e| OidcError::Provider(format!("no HTTP client: {e}")))
}

fn issuer_is_plain(issuer: &str) -> bool {
    issuer.starts_with("http://")
}

fn asymmetric(alg: &CoreJwsSigningAlgorithm) -> bool {
    use CoreJwsSigningAlgorithm as A;
    matches!(
        alg,
        A::RsaSsaPkcs1V15Sha256
            | A::RsaSsaPkcs1V15Sha384
            | A::RsaSsaPkcs1V15Sha512
            | A::RsaSsaPssSha256
            | A::RsaSsaPssSha384
            | A::RsaSsaPssSha512
            | A::EcdsaP256Sha256
            | A::EcdsaP384Sha384
            | A::EdDsa
    )
}

/// The claims of a token whose signature was verified: its payload's JSON.
fn payload(token: &str) -> Result<Value, OidcError> {
    let part = token
        .split('.')
        .nth(1)
        .ok_or_else(|| OidcError::refused("malformed-token", "not a compact JWS"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| OidcError::refused("malformed-token", format!("payload: {e}")))?;
    let claims: Value = serde_json::from_slice(&bytes)
        .map_err(|e| OidcError::refused("malformed-token", format!("payload: {e}")))?;
    if !claims.is_object() {
        return Err(OidcError::refused(
            "malformed-token",
            "the payload is not a JSON object",
        ));
    }
    Ok(claims)
}

/// A refused token's reason and message.
fn token_refusal(e: ClaimsVerificationError) -> OidcError {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    let reason = match &e {
        C::Expired(m) if m.starts_with("the ID token was issued") => "issued-at-out-of-range",
        C::Expired(_) => "token-expired",
        C::InvalidAudience(_) => "wrong-audience",
        C::InvalidIssuer(_) => "wrong-issuer",
        C::InvalidNonce(_) => "nonce-mismatch",
        C::SignatureVerification(S::NoMatchingKey) => "unknown-key",
        C::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_) | S::NoSignature) => {
            "disallowed-algorithm"
        }
        C::SignatureVerification(_) => "bad-signature",
        _ => "invalid-token",
    };
    OidcError::refused(reason, format!("the ID token is refused: {e}"))
}

/// A discovery or JWKS failure: unreachable when the request did not get an answer.
fn discovery_error<E: std::error::Error + 'static>(
    what: &str,
    e: &openidconnect::DiscoveryError<E>,
) -> OidcError {
    match e {
        openidconnect::DiscoveryError::Request(inner) => {
            OidcError::Unreachable(format!("{what}: {}", chain(inner)))
        }
        other => OidcError::Provider(format!("{what}: {other}")),
    }
}

/// An error and its sources, as one line (reqwest's own message says little).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn only_asymmetric_algorithms_verify() {
        use CoreJwsSigningAlgorithm as A;
        assert!(asymmetric(&A::RsaSsaPkcs1V15Sha256));
        assert!(asymmetric(&A::EcdsaP256Sha256));
        assert!(!asymmetric(&A::HmacSha256));
        assert!(!asymmetric(&A::None));
    }

    #[test]
    fn payloads_are_read_from_the_middle_part() {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"s"}"#);
        let claims = payload(&format!("h.{body}.sig")).unwrap();
        assert_eq!(claims["sub"], "s");
        assert_eq!(payload("nodots").unwrap_err().reason(), "malformed-token");
        let array = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"[1]");
        assert_eq!(
            payload(&format!("h.{array}.s")).unwrap_err().reason(),
            "malformed-token"
        );
    }
}
