//! Rampart as an OpenID Connect provider: the administrators' API of registered clients and
//! signing keys (`/api/v1/idp/…`), and the protocol endpoints' JSON answers (`/oauth2/…`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/v1/idp/clients`: a client to register.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdpClientRequest {
    /// The client id: 1–64 of `a-z 0-9 - _ .`, starting with a letter or digit.
    pub client_id: String,
    /// What the consent page and administrators call it.
    pub name: String,
    /// `confidential` (a secret, shown once in the answer; `client_secret_basic` or
    /// `client_secret_post`), `public` (no secret: a browser or native app, PKCE only), or
    /// `service` (a secret, `client_credentials` only).
    #[serde(default = "confidential")]
    pub kind: String,
    /// A client of this organisation: users are not asked to consent.
    #[serde(default)]
    pub first_party: bool,
    /// The redirect URIs, matched exactly: `https://` URIs, or `http://127.0.0.1`,
    /// `http://[::1]` and `http://localhost` for native apps; no fragment.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to, matched exactly (same rules).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for, among `openid profile email offline_access`; all of them
    /// when absent.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The algorithm of its ID tokens: `RS256` (OpenID Connect's default, when absent) or
    /// `ES256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// Who signs in to it: `end` (the applications' end users, through the provider's own
    /// sign-in page, `/oauth2/login`; when absent) or `it` (IT users, through the console's
    /// sign-in page). A session of the other population never obtains a code.
    #[serde(default)]
    pub users: Option<String>,
}

/// Body of `PATCH /api/v1/idp/clients/{client_id}`: the settings to change. Only the
/// fields present change (a field absent or `null` keeps its value); lists replace the
/// registered list as a whole. The result is checked by the same rules as a registration,
/// and nothing changes when any of them fails. The client id and its secret never change
/// here (`POST …/secret` rotates the secret); its kind and grant types are fixed at
/// registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpClientUpdate {
    /// The client id, if sent: it must be the client's own (an id never changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The kind, if sent: it must be the client's own (`confidential`, `public` or
    /// `service` is fixed at registration; register a new client to change it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What the consent page and administrators call it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A client of this organisation: users are not asked to consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_party: Option<bool>,
    /// The redirect URIs, replacing the registered ones (same rules as a registration). A
    /// URI removed is refused at once at `/oauth2/authorize`, and codes issued for it are
    /// refused at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// The post-logout redirect URIs, replacing the registered ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// The scopes it may ask for, replacing the registered ones. Grants already issued
    /// (codes, refresh-token families, consents) keep only the scopes still allowed; one
    /// left without `openid` is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The algorithm of its ID tokens: `RS256` or `ES256` (from the next token issued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// Who signs in to it: `end` or `it`. Changing it revokes every grant and consent the
    /// client holds: they were given by users of the other population.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<String>,
    /// The `version` the settings were read with: when they have changed since, the edit
    /// is refused (409) and changes nothing, so an edit made from an old copy never
    /// overwrites someone else's. Absent: the edit applies to the settings as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<String>,
}

fn confidential() -> String {
    "confidential".into()
}

/// A registered client (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdpClientInfo {
    /// The client id.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// `confidential`, `public` or `service`.
    pub kind: String,
    /// Users are not asked to consent.
    pub first_party: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// The algorithm of its ID tokens (`RS256` or `ES256`).
    pub id_token_signed_response_alg: String,
    /// Who signs in to it: `it` or `end` users.
    pub users: String,
    /// Registration time (RFC 3339).
    pub created_at: String,
    /// A fingerprint of the settings (opaque): send it back as `if_version` with an edit.
    pub version: String,
}

/// Answer of `POST /api/v1/idp/clients` and of a secret rotation: the client and, for a
/// confidential or service client, its secret, shown this once (only its hash is kept).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdpClientCreated {
    /// The client.
    pub client: IdpClientInfo,
    /// The secret, shown once; absent for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Answer of `GET /api/v1/idp/clients`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdpClientList {
    /// The clients, by id.
    pub clients: Vec<IdpClientInfo>,
}

/// A published signing key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdpKeyInfo {
    /// The key id (`kid`).
    pub kid: String,
    /// `ES256`.
    pub alg: String,
    /// Published from (RFC 3339).
    pub published_at: String,
    /// Signs from (RFC 3339): a new key is published before it signs.
    pub signs_from: String,
    /// No longer published from (RFC 3339), once replaced: when every token it signed
    /// has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<String>,
}

/// Answer of `GET /api/v1/idp/keys` and `POST /api/v1/idp/keys/rotate`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdpKeyList {
    /// The published keys, oldest first.
    pub keys: Vec<IdpKeyInfo>,
}

/// A token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token (an ES256 JWT, `typ: at+jwt`).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The scopes granted.
    pub scope: String,
    /// The ID token, for grants about a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The next refresh token, for grants about a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// The error code.
    pub error: String,
    /// Why, for the developer.
    pub error_description: String,
}
