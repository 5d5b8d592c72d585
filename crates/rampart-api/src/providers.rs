//! User providers: directories that vouch for users besides Rampart's own passwords, as
//! administrators configure them, and what their last bind, login and sync found.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// `POST /api/v1/providers`: a new user provider.
///
/// `settings` of kind `ldap`: `url` (`ldaps://host:port` with `security: tls`, or
/// `ldap://host:port` with `starttls`, or `none` to a loopback address only),
/// `ca_certificate` (PEM, optional: the system's roots otherwise), `bind_dn`,
/// `bind_password` (a secret reference, `env:NAME` or `file:/absolute/path`, never the
/// password), `user_base`, `user_filter` (with `{username}` once, e.g.
/// `(&(objectClass=inetOrgPerson)(uid={username}))`), `username_attribute` (`uid`),
/// `email_attribute` (`mail`), `display_name_attribute` (`cn`), `group_attribute`
/// (`memberOf`), `mappings` (a list of `{group, it_role}` or `{group, application, role}`;
/// `group` is a DN or its first RDN's value), `timeout_seconds` (10), and
/// `sync_interval_minutes` (0: no scheduled sync).
///
/// `settings` of kind `oidc` (an OpenID Connect provider; users sign in through
/// `GET /api/v1/providers/{name}/oidc/start`): `issuer` (`https://…`, exactly as its
/// discovery document names it), `ca_certificate` (PEM, optional), `client_id`,
/// `client_secret` (a secret reference), `scopes` (`["openid", "email", "profile"]`),
/// `username_claim` (`preferred_username`), `groups_claim` (`groups`), `redirect_uri`
/// (`https://HOST/api/v1/providers/{name}/oidc/callback`, registered exactly at the provider;
/// the server's `public_origin` and that path when absent), `link_by_verified_email`
/// (false), `mappings` (as for `ldap`, `group` being a value of the groups claim), and
/// `timeout_seconds` (10).
///
/// `settings` of kind `saml` (a SAML 2.0 identity provider, Rampart the service provider;
/// users sign in through `GET /api/v1/providers/{name}/saml/login`): `idp_metadata_url`
/// (`https://…`) or `idp_metadata_xml`, `ca_certificate` (PEM, optional),
/// `metadata_refresh_minutes` (60), `sp_entity_id`, `acs_url`
/// (`https://HOST/api/v1/providers/{name}/saml/acs`), `name_id_format` (optional),
/// `username` (`name_id` or an attribute), `email_attribute` (`email`),
/// `display_name_attribute` (`displayName`), `groups_attribute` (`groups`), `mappings` (as
/// for `ldap`, `group` being a value of the groups attribute), `clock_skew_seconds` (60),
/// `timeout_seconds` (10), and, to accept encrypted assertions, `decryption_key` (a secret
/// reference to a PEM RSA private key of at least 2048 bits, the same on every node, never
/// the key) with `decryption_certificate` (its PEM certificate, published in the service
/// provider's metadata): both or neither.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProviderRequest {
    /// The provider's name: what a login names it by (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// `ldap`, `oidc` or `saml`.
    pub kind: String,
    /// Whom it vouches for: `it`, `end` or `both`.
    pub users: String,
    /// The kind's settings (see above).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

/// `PATCH /api/v1/providers/{name}`: absent fields are left alone; `settings` replaces the
/// settings whole.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProviderRequest {
    /// `it`, `end` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<String>,
    /// The kind's settings, whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// Whether the provider is offered on the sign-in pages and accepts sign-ins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A user provider as the API shows it: its settings hold secret references, never secrets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderView {
    /// Name.
    pub name: String,
    /// Kind (`ldap`, `oidc`).
    pub kind: String,
    /// `it`, `end` or `both`.
    pub users: String,
    /// The kind's settings.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Whether it is offered on the sign-in pages and accepts sign-ins.
    pub enabled: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Its health.
    pub status: ProviderStatusView,
}

/// What the last bind, login and sync of a provider found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderStatusView {
    /// The provider's name.
    pub name: String,
    /// The last time the directory answered as expected.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success_at: Option<OffsetDateTime>,
    /// The last failure of the directory or of the configuration.
    pub last_error: Option<String>,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<OffsetDateTime>,
    /// The last sync run's end.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_sync_at: Option<OffsetDateTime>,
    /// The last sync run's outcome and counts.
    #[schema(value_type = Option<Object>)]
    pub last_sync: Option<serde_json::Value>,
    /// Local users it vouches for.
    pub users: u64,
    /// Of them, disabled.
    pub disabled_users: u64,
}

/// Every user provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderList {
    /// By name.
    pub items: Vec<ProviderView>,
}

/// A successful connection test: the service account bound.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderTestResult {
    /// Always true (a failure answers a problem).
    pub ok: bool,
    /// What was checked.
    pub message: String,
}

/// What a sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncReport {
    /// Users the directory listed.
    pub listed: u64,
    /// Local profiles created.
    pub created: u64,
    /// Local profiles whose name, e-mail or roles changed.
    pub updated: u64,
    /// Users gone from the directory, disabled.
    pub disabled: u64,
    /// Their sessions, ended.
    pub sessions_revoked: u64,
    /// Directory users left alone: a username Rampart cannot hold, one listed twice, or
    /// one a local account already has.
    pub skipped: u64,
}

/// Query of `GET /api/v1/providers/{name}/oidc/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OidcStartQuery {
    /// `it` (the console) or `end` (the applications); may be left out when the provider
    /// vouches for one kind only.
    #[serde(default)]
    pub kind: Option<String>,
    /// Where to go after signing in: a path in the console (`/console/…`) for IT users, in
    /// an application (`/apps/{environment}/{application}/…`) for end users.
    #[serde(default, rename = "return")]
    pub return_to: Option<String>,
}

/// Query of `GET /api/v1/providers/{name}/oidc/callback`: the provider's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
pub struct OidcCallbackQuery {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The `state` sent with the authorization request.
    #[serde(default)]
    pub state: Option<String>,
    /// The issuer (RFC 9207), when the provider sends it.
    #[serde(default)]
    pub iss: Option<String>,
    /// The provider's error code (`access_denied`, …).
    #[serde(default)]
    pub error: Option<String>,
    /// The provider's description of its error.
    #[serde(default)]
    pub error_description: Option<String>,
    /// The `session_state` some providers add.
    #[serde(default)]
    pub session_state: Option<String>,
}
