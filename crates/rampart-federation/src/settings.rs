//! A user provider's settings, as administrators write them and the store keeps them.
//!
//! The stored form is a `kind` (a column) and one JSON object of that kind's settings, so a
//! new kind (`oidc`, `saml`) or a flavour of a kind (Active Directory is `ldap` with AD's
//! defaults and error codes) adds a variant here and rows of its own, and never rewrites the
//! rows already stored. Secrets are references to where the server reads them (`env:NAME`,
//! `file:/absolute/path`, checked by the caller's rule), never values.

mod oidc;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

pub use oidc::{callback_path, validate_oidc, OidcSettings};

/// Which users a provider vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Users {
    /// IT users only.
    It,
    /// End users only.
    End,
    /// Both: the login says which.
    Both,
}

impl Users {
    /// `it`, `end` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Users::It => "it",
            Users::End => "end",
            Users::Both => "both",
        }
    }

    /// Parses `it`, `end` or `both`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "it" => Ok(Users::It),
            "end" => Ok(Users::End),
            "both" => Ok(Users::Both),
            other => Err(format!("{other:?} is not one of it, end, both")),
        }
    }

    /// Whether users of the kind `it` (`true`) or end users (`false`) may sign in through it.
    pub fn serves(self, it: bool) -> bool {
        match self {
            Users::It => it,
            Users::End => !it,
            Users::Both => true,
        }
    }
}

/// How the connection to the directory is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// TLS from the first byte (`ldaps://`).
    Tls,
    /// A plain connection upgraded by StartTLS before anything is sent (`ldap://`).
    Starttls,
    /// No protection: allowed to a loopback address only.
    None,
}

impl Security {
    /// `tls`, `starttls` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::None => "none",
        }
    }
}

/// Directory groups to roles: one group, and either an IT role or an application's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    /// The group: its DN, or the value of its first RDN (`admins` for `cn=admins,ou=…`),
    /// compared ignoring case.
    pub group: String,
    /// The IT role members get (IT users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub it_role: Option<String>,
    /// The application whose role members get (end users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The application role members get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

fn default_username_attribute() -> String {
    "uid".into()
}
fn default_email_attribute() -> String {
    "mail".into()
}
fn default_display_name_attribute() -> String {
    "cn".into()
}
fn default_group_attribute() -> String {
    "memberOf".into()
}
fn default_timeout() -> u32 {
    10
}

/// An LDAP directory's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// `ldaps://host:port` (with `tls`) or `ldap://host:port` (with `starttls` or `none`).
    pub url: String,
    /// `tls`, `starttls` or `none` (loopback only).
    pub security: Security,
    /// PEM certificates trusted for the directory's TLS certificate; the system's roots
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    /// The service account's DN, which searches for users.
    pub bind_dn: String,
    /// Where the service account's password is kept (`env:NAME`, `file:/path`).
    pub bind_password: String,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// The filter finding one user, with `{username}` where the (escaped) username goes.
    pub user_filter: String,
    /// The attribute holding the username.
    #[serde(default = "default_username_attribute")]
    pub username_attribute: String,
    /// The attribute holding the e-mail.
    #[serde(default = "default_email_attribute")]
    pub email_attribute: String,
    /// The attribute holding the display name.
    #[serde(default = "default_display_name_attribute")]
    pub display_name_attribute: String,
    /// The attribute listing the groups a user is a member of.
    #[serde(default = "default_group_attribute")]
    pub group_attribute: String,
    /// Groups to roles, in order (for IT roles the first match wins).
    #[serde(default)]
    pub mappings: Vec<GroupMapping>,
    /// Seconds to wait for the directory (1 to 60).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Minutes between scheduled syncs; 0 turns them off.
    #[serde(default)]
    pub sync_interval_minutes: u32,
}

/// A provider's kind-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSettings {
    /// An LDAP directory (OpenLDAP and the like).
    Ldap(LdapSettings),
    /// An OpenID Connect provider (a redirect sign-in, see [`crate::oidc`]).
    Oidc(OidcSettings),
    /// A SAML 2.0 identity provider (Rampart the service provider).
    Saml(crate::saml::SamlSettings),
}

impl ProviderSettings {
    /// The stored `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderSettings::Ldap(_) => "ldap",
            ProviderSettings::Oidc(_) => "oidc",
            ProviderSettings::Saml(_) => "saml",
        }
    }

    /// Reads a stored or submitted `kind` and its settings object.
    pub fn from_parts(kind: &str, settings: serde_json::Value) -> Result<Self, Invalid> {
        match kind {
            "ldap" => serde_json::from_value(settings)
                .map(ProviderSettings::Ldap)
                .map_err(|e| Invalid::new("settings", e.to_string())),
            "oidc" => serde_json::from_value(settings)
                .map(ProviderSettings::Oidc)
                .map_err(|e| Invalid::new("settings", e.to_string())),
            "saml" => serde_json::from_value(settings)
                .map(ProviderSettings::Saml)
                .map_err(|e| Invalid::new("settings", e.to_string())),
            other => Err(Invalid::new(
                "kind",
                format!(
                    "{other:?} is not a provider kind; \"ldap\", \"oidc\" and \"saml\" are available"
                ),
            )),
        }
    }

    /// The settings object as stored.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            ProviderSettings::Ldap(s) => serde_json::to_value(s).unwrap_or_default(),
            ProviderSettings::Oidc(s) => serde_json::to_value(s).unwrap_or_default(),
            ProviderSettings::Saml(s) => serde_json::to_value(s).unwrap_or_default(),
        }
    }

    /// Minutes between scheduled syncs (0: none).
    pub fn sync_interval_minutes(&self) -> u32 {
        match self {
            ProviderSettings::Ldap(s) => s.sync_interval_minutes,
            // An identity provider lists nobody: its users are known from their sign-ins.
            ProviderSettings::Oidc(_) => 0,
            ProviderSettings::Saml(_) => 0,
        }
    }
}

/// A rule a provider's settings break: the field and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field, as the API names it (`settings.url`).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Invalid {
    pub(crate) fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether `url`'s host is a loopback address (or `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => a.is_loopback(),
        // `ldap:` is not a special scheme, so the URL parser leaves addresses as text.
        Some(Host::Domain(d)) => {
            let bare = d.trim_start_matches('[').trim_end_matches(']');
            d.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback())
        }
        None => false,
    }
}

/// Checks a provider's group mappings: at most 200, each a group (`what`: how the provider
/// names one) of 1 to 1,000 characters mapped to an IT role or to an application's role.
pub(crate) fn check_mappings(
    mappings: &[GroupMapping],
    what: &str,
    bad: &mut impl FnMut(&str, String),
) {
    if mappings.len() > 200 {
        bad("settings.mappings", "at most 200 mappings".into());
    }
    for (i, m) in mappings.iter().enumerate() {
        let field = format!("settings.mappings[{i}]");
        if m.group.trim().is_empty() || m.group.len() > 1000 || m.group.contains(char::is_control) {
            bad(
                &field,
                format!("group must be {what} of 1 to 1000 characters"),
            );
        }
        match (&m.it_role, &m.application, &m.role) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            _ => bad(
                &field,
                "give either it_role, or application and role (not both, not neither)".into(),
            ),
        }
    }
}

/// Checks an LDAP provider's settings; `secret` judges the bind password's reference.
/// Answers every rule broken, in field order.
pub fn validate_ldap(
    s: &LdapSettings,
    secret: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<Invalid> {
    let mut out = Vec::new();
    let mut bad = |field: &str, message: String| out.push(Invalid::new(field, message));
    match Url::parse(&s.url) {
        Err(e) => bad("settings.url", format!("not a URL: {e}")),
        Ok(url) => {
            let scheme_ok = match s.security {
                Security::Tls => url.scheme() == "ldaps",
                Security::Starttls | Security::None => url.scheme() == "ldap",
            };
            if !scheme_ok {
                bad(
                    "settings.url",
                    format!(
                        "security {} needs an {} URL",
                        s.security.as_str(),
                        if s.security == Security::Tls {
                            "ldaps://"
                        } else {
                            "ldap://"
                        }
                    ),
                );
            }
            if url.host().is_none() {
                bad("settings.url", "must name a host".into());
            }
            if !url.username().is_empty()
                || url.password().is_some()
                || url.query().is_some()
                || url.fragment().is_some()
                || !matches!(url.path(), "" | "/")
            {
                bad(
                    "settings.url",
                    "must be scheme://host:port only (no user, path, query or fragment)".into(),
                );
            }
            if s.security == Security::None && !is_loopback(&url) {
                bad(
                    "settings.security",
                    "none (no TLS) is allowed only to a loopback address; use tls or starttls"
                        .into(),
                );
            }
        }
    }
    if let Some(pem) = &s.ca_certificate {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            bad(
                "settings.ca_certificate",
                "must be PEM certificates (-----BEGIN CERTIFICATE-----)".into(),
            );
        }
    }
    for (field, value) in [
        ("settings.bind_dn", &s.bind_dn),
        ("settings.user_base", &s.user_base),
    ] {
        if value.trim().is_empty() || value.len() > 1000 || value.contains(char::is_control) {
            bad(field, "must be a DN of 1 to 1000 characters".into());
        }
    }
    if let Err(why) = secret(&s.bind_password) {
        bad("settings.bind_password", why);
    }
    check_filter(&s.user_filter, &mut bad);
    for (field, value) in [
        ("settings.username_attribute", &s.username_attribute),
        ("settings.email_attribute", &s.email_attribute),
        ("settings.display_name_attribute", &s.display_name_attribute),
        ("settings.group_attribute", &s.group_attribute),
    ] {
        let ok = value.len() <= 100
            && value.starts_with(|c: char| c.is_ascii_alphabetic())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            bad(
                field,
                "must be an attribute name (letters, digits, '-', starting with a letter)".into(),
            );
        }
    }
    check_mappings(&s.mappings, "a DN or a name", &mut bad);
    if !(1..=60).contains(&s.timeout_seconds) {
        bad("settings.timeout_seconds", "must be 1 to 60".into());
    }
    if s.sync_interval_minutes > 10_080 {
        bad(
            "settings.sync_interval_minutes",
            "must be 0 (off) to 10080 (a week)".into(),
        );
    }
    out
}

/// A user filter: one `{username}`, parenthesised, balanced.
fn check_filter(filter: &str, bad: &mut impl FnMut(&str, String)) {
    let field = "settings.user_filter";
    if filter.matches("{username}").count() != 1 {
        bad(field, "must contain {username} exactly once".into());
    }
    if !filter.starts_with('(') || !filter.ends_with(')') || filter.len() > 1000 {
        bad(
            field,
            "must be one parenthesised LDAP filter of at most 1000 characters".into(),
        );
        return;
    }
    let mut depth = 0i32;
    for c in filter.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        bad(field, "has unbalanced parentheses".into());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    fn good() -> LdapSettings {
        serde_json::from_value(serde_json::json!({
            "url": "ldaps://ldap.example.com:636",
            "security": "tls",
            "bind_dn": "cn=rampart,dc=example,dc=com",
            "bind_password": "env:LDAP_BIND",
            "user_base": "ou=people,dc=example,dc=com",
            "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
            "mappings": [{"group": "admins", "it_role": "administrator"}]
        }))
        .unwrap()
    }

    fn fields(s: &LdapSettings) -> Vec<String> {
        let secret = |r: &str| {
            if r.starts_with("env:") || r.starts_with("file:/") {
                Ok(())
            } else {
                Err("must be a reference".to_owned())
            }
        };
        validate_ldap(s, &secret)
            .into_iter()
            .map(|i| i.field)
            .collect()
    }

    #[test]
    fn defaults_fill_the_attributes_and_good_settings_pass() {
        let s = good();
        assert_eq!(s.username_attribute, "uid");
        assert_eq!(s.group_attribute, "memberOf");
        assert_eq!(s.timeout_seconds, 10);
        assert!(fields(&s).is_empty(), "{:?}", fields(&s));
        let back =
            ProviderSettings::from_parts("ldap", ProviderSettings::Ldap(s.clone()).to_value());
        assert_eq!(back.unwrap(), ProviderSettings::Ldap(s));
    }

    /// Each case breaks one rule and names exactly its field.
    #[test]
    fn each_broken_rule_names_its_field() {
        type Change = fn(&mut LdapSettings);
        let cases: &[(Change, &str)] = &[
            (|s| s.url = "ldap://ldap.example.com".into(), "settings.url"),
            (
                |s| s.url = "ldaps://user@ldap.example.com".into(),
                "settings.url",
            ),
            (
                |s| s.url = "ldaps://ldap.example.com/dc=x?uid".into(),
                "settings.url",
            ),
            (|s| s.url = "not a url".into(), "settings.url"),
            (
                |s| {
                    s.url = "ldap://ldap.example.com".into();
                    s.security = Security::None;
                },
                "settings.security",
            ),
            (
                |s| s.bind_password = "hunter2".into(),
                "settings.bind_password",
            ),
            (
                |s| s.user_filter = "(uid=alice)".into(),
                "settings.user_filter",
            ),
            (
                |s| s.user_filter = "uid={username}".into(),
                "settings.user_filter",
            ),
            (
                |s| s.user_filter = "(&(uid={username})".into(),
                "settings.user_filter",
            ),
            (
                |s| s.user_filter = "(|(uid={username})(mail={username}))".into(),
                "settings.user_filter",
            ),
            (|s| s.user_base = " ".into(), "settings.user_base"),
            (
                |s| s.group_attribute = "member of".into(),
                "settings.group_attribute",
            ),
            (
                |s| s.ca_certificate = Some("hello".into()),
                "settings.ca_certificate",
            ),
            (|s| s.timeout_seconds = 0, "settings.timeout_seconds"),
            (
                |s| s.sync_interval_minutes = 20_000,
                "settings.sync_interval_minutes",
            ),
            (
                |s| s.mappings[0].application = Some("crm".into()),
                "settings.mappings[0]",
            ),
            (|s| s.mappings[0].it_role = None, "settings.mappings[0]"),
        ];
        for (change, field) in cases {
            let mut s = good();
            change(&mut s);
            assert_eq!(fields(&s), vec![field.to_string()], "{s:?}");
        }
    }

    #[test]
    fn plain_text_is_allowed_to_loopback_only() {
        for (url, ok) in [
            ("ldap://127.0.0.1:3389", true),
            ("ldap://[::1]:3389", true),
            ("ldap://localhost:3389", true),
            ("ldap://10.0.0.1:389", false),
            ("ldap://ldap.example.com", false),
        ] {
            let mut s = good();
            s.url = url.into();
            s.security = Security::None;
            assert_eq!(fields(&s).is_empty(), ok, "{url}");
        }
    }

    #[test]
    fn kinds_other_than_ldap_are_named_and_unknown_fields_refused() {
        let e = ProviderSettings::from_parts("kerberos", serde_json::json!({})).unwrap_err();
        assert_eq!(e.field, "kind");
        let mut v = ProviderSettings::Ldap(good()).to_value();
        v["password"] = "secret".into();
        let e = ProviderSettings::from_parts("ldap", v).unwrap_err();
        assert_eq!(e.field, "settings");
        assert!(
            e.message.contains("unknown field `password`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn audiences_serve_their_users() {
        assert!(Users::It.serves(true) && !Users::It.serves(false));
        assert!(!Users::End.serves(true) && Users::End.serves(false));
        assert!(Users::Both.serves(true) && Users::Both.serves(false));
        assert_eq!(Users::parse("both"), Ok(Users::Both));
        assert!(Users::parse("all").is_err());
    }
}
