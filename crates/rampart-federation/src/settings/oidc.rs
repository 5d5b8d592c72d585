//! An OpenID Connect provider's settings and their rules.
//!
//! The client secret is a reference (`env:NAME`, `file:/path`), never a value. The issuer is
//! an `https://` URL (plain `http://` to a loopback address only), exactly as the provider
//! names itself in its discovery document. The redirect URI, when given, is this server's
//! callback for the provider and nothing else: the provider must have it registered exactly.

use serde::{Deserialize, Serialize};
use url::Url;

use super::{is_loopback, GroupMapping, Invalid};

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}
fn default_username_claim() -> String {
    "preferred_username".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_timeout() -> u32 {
    10
}

/// An OpenID Connect provider's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer, as its discovery document names it (`https://idp.example.com`).
    pub issuer: String,
    /// PEM certificates trusted for the provider's TLS certificate; the system's roots when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    /// This server's client id at the provider.
    pub client_id: String,
    /// Where the client secret is kept (`env:NAME`, `file:/path`).
    pub client_secret: String,
    /// The scopes asked for; `openid` is always among them.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding the username of the local profile.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The claim listing the user's groups (a list of texts, or one text).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The callback the provider sends the browser back to:
    /// `https://HOST/api/v1/providers/NAME/oidc/callback`. Without it, the server's
    /// `public_origin` followed by that path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Whether a first sign-in whose *verified* e-mail is a local user's of the same kind
    /// signs in as that user (and links them to the provider). Off by default; an e-mail the
    /// provider does not mark verified never links.
    #[serde(default)]
    pub link_by_verified_email: bool,
    /// Claim values (groups) to roles, in order (for IT roles the first match wins).
    #[serde(default)]
    pub mappings: Vec<GroupMapping>,
    /// Seconds to wait for the provider (1 to 60).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
}

/// The callback path of the provider `name`.
pub fn callback_path(name: &str) -> String {
    format!("/api/v1/providers/{name}/oidc/callback")
}

/// Checks an OpenID Connect provider's settings for the provider `name`; `secret` judges the
/// client secret's reference. Answers every rule broken, in field order.
pub fn validate_oidc(
    name: &str,
    s: &OidcSettings,
    secret: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<Invalid> {
    let mut out = Vec::new();
    let mut bad = |field: &str, message: String| out.push(Invalid::new(field, message));
    match Url::parse(&s.issuer) {
        Err(e) => bad("settings.issuer", format!("not a URL: {e}")),
        Ok(url) => {
            if !(url.scheme() == "https" || url.scheme() == "http" && is_loopback(&url)) {
                bad(
                    "settings.issuer",
                    "must be an https:// URL (http:// to a loopback address only)".into(),
                );
            }
            if !url.username().is_empty()
                || url.password().is_some()
                || url.query().is_some()
                || url.fragment().is_some()
            {
                bad(
                    "settings.issuer",
                    "must have no user, query or fragment".into(),
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
    let printable =
        |v: &str| !v.is_empty() && v.len() <= 255 && v.chars().all(|c| c.is_ascii_graphic());
    if !printable(&s.client_id) {
        bad(
            "settings.client_id",
            "must be 1 to 255 printable characters without spaces".into(),
        );
    }
    if let Err(why) = secret(&s.client_secret) {
        bad("settings.client_secret", why);
    }
    if !s.scopes.iter().any(|x| x == "openid")
        || s.scopes.len() > 20
        || !s
            .scopes
            .iter()
            .all(|x| printable(x) && !x.contains('"') && !x.contains('\\'))
    {
        bad(
            "settings.scopes",
            "must include openid; at most 20 scopes of printable characters".into(),
        );
    }
    for (field, value) in [
        ("settings.username_claim", &s.username_claim),
        ("settings.groups_claim", &s.groups_claim),
    ] {
        let ok = !value.is_empty()
            && value.len() <= 100
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'));
        if !ok {
            bad(
                field,
                "must be a claim name (letters, digits, '_', '-', '.', ':', '/')".into(),
            );
        }
    }
    if let Some(uri) = &s.redirect_uri {
        let want = callback_path(name);
        match Url::parse(uri) {
            Ok(url)
                if (url.scheme() == "https" || url.scheme() == "http" && is_loopback(&url))
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url.query().is_none()
                    && url.fragment().is_none()
                    && url.path() == want => {}
            _ => bad(
                "settings.redirect_uri",
                format!(
                    "must be https://HOST{want} (http:// to a loopback address only), with no \
                     query or fragment"
                ),
            ),
        }
    }
    super::check_mappings(&s.mappings, "a claim value", &mut bad);
    if !(1..=60).contains(&s.timeout_seconds) {
        bad("settings.timeout_seconds", "must be 1 to 60".into());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;
    use crate::settings::ProviderSettings;

    fn good() -> OidcSettings {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example.com",
            "client_id": "rampart",
            "client_secret": "env:IDP_SECRET",
            "redirect_uri": "https://rampart.example.com/api/v1/providers/corp/oidc/callback",
            "mappings": [{"group": "rampart-admins", "it_role": "administrator"}]
        }))
        .unwrap()
    }

    fn fields(s: &OidcSettings) -> Vec<String> {
        let secret = |r: &str| {
            if r.starts_with("env:") || r.starts_with("file:/") {
                Ok(())
            } else {
                Err("must be a reference".to_owned())
            }
        };
        validate_oidc("corp", s, &secret)
            .into_iter()
            .map(|i| i.field)
            .collect()
    }

    #[test]
    fn defaults_fill_the_claims_and_good_settings_pass() {
        let s = good();
        assert_eq!(s.scopes, ["openid", "email", "profile"]);
        assert_eq!(s.username_claim, "preferred_username");
        assert_eq!(s.groups_claim, "groups");
        assert!(!s.link_by_verified_email);
        assert!(fields(&s).is_empty(), "{:?}", fields(&s));
        let back =
            ProviderSettings::from_parts("oidc", ProviderSettings::Oidc(s.clone()).to_value());
        assert_eq!(back.unwrap(), ProviderSettings::Oidc(s));
    }

    /// Each case breaks one rule and names exactly its field.
    #[test]
    fn each_broken_rule_names_its_field() {
        type Change = fn(&mut OidcSettings);
        let cases: &[(Change, &str)] = &[
            (
                |s| s.issuer = "http://idp.example.com".into(),
                "settings.issuer",
            ),
            (
                |s| s.issuer = "https://idp.example.com/?x=1".into(),
                "settings.issuer",
            ),
            (|s| s.issuer = "idp.example.com".into(), "settings.issuer"),
            (|s| s.client_id = "two words".into(), "settings.client_id"),
            (
                |s| s.client_secret = "hunter2".into(),
                "settings.client_secret",
            ),
            (|s| s.scopes = vec!["email".into()], "settings.scopes"),
            (
                |s| s.username_claim = "user name".into(),
                "settings.username_claim",
            ),
            (|s| s.groups_claim = String::new(), "settings.groups_claim"),
            (
                |s| {
                    s.redirect_uri = Some(
                        "https://rampart.example.com/api/v1/providers/other/oidc/callback".into(),
                    )
                },
                "settings.redirect_uri",
            ),
            (
                |s| {
                    s.redirect_uri = Some(
                        "https://rampart.example.com/api/v1/providers/corp/oidc/callback/".into(),
                    )
                },
                "settings.redirect_uri",
            ),
            (
                |s| {
                    s.redirect_uri = Some(
                        "http://rampart.example.com/api/v1/providers/corp/oidc/callback".into(),
                    )
                },
                "settings.redirect_uri",
            ),
            (
                |s| s.ca_certificate = Some("hello".into()),
                "settings.ca_certificate",
            ),
            (|s| s.timeout_seconds = 0, "settings.timeout_seconds"),
            (
                |s| s.mappings[0].role = Some("x".into()),
                "settings.mappings[0]",
            ),
        ];
        for (change, field) in cases {
            let mut s = good();
            change(&mut s);
            assert_eq!(fields(&s), vec![field.to_string()], "{s:?}");
        }
    }

    #[test]
    fn plain_http_is_allowed_to_loopback_only() {
        for (issuer, ok) in [
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080", true),
            ("http://[::1]:8080", true),
            ("http://10.0.0.1", false),
            ("https://10.0.0.1", true),
        ] {
            let mut s = good();
            s.issuer = issuer.into();
            assert_eq!(fields(&s).is_empty(), ok, "{issuer}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = ProviderSettings::Oidc(good()).to_value();
        v["client_secret_value"] = "secret".into();
        let e = ProviderSettings::from_parts("oidc", v).unwrap_err();
        assert_eq!(e.field, "settings");
    }
}
