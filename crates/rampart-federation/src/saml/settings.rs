//! A SAML 2.0 identity provider's settings, as administrators write them, and their rules.
//!
//! The identity provider is described by its metadata (a URL fetched over HTTPS and
//! refreshed, or the XML inline); Rampart is the service provider named by `sp_entity_id`,
//! whose assertion consumer service is `acs_url`. Attributes name the user and map to roles
//! as directory groups do for LDAP. Encrypted assertions need `decryption_key`, a reference
//! (`env:NAME`, `file:/path`, judged by the caller's rule) to a PEM RSA private key shared
//! by every node behind the ACS URL, and its certificate `decryption_certificate`, which the
//! service provider's metadata publishes.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::settings::{is_loopback, GroupMapping, Invalid};

/// The allowed clock skew when none is given, in seconds.
pub const DEFAULT_SKEW_SECONDS: u32 = 60;
/// The largest allowed clock skew, in seconds.
pub const MAX_SKEW_SECONDS: u32 = 300;
/// What names the user: the assertion's `NameID`.
pub const NAME_ID: &str = "name_id";

fn default_username() -> String {
    NAME_ID.into()
}
fn default_email_attribute() -> String {
    "email".into()
}
fn default_display_name_attribute() -> String {
    "displayName".into()
}
fn default_groups_attribute() -> String {
    "groups".into()
}
fn default_skew() -> u32 {
    DEFAULT_SKEW_SECONDS
}
fn default_refresh() -> u32 {
    60
}
fn default_timeout() -> u32 {
    10
}

/// A SAML identity provider's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// Where the identity provider's metadata is fetched (`https://`; `http://` to loopback
    /// only). Give this or `idp_metadata_xml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_metadata_url: Option<String>,
    /// The identity provider's metadata itself (an `EntityDescriptor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_metadata_xml: Option<String>,
    /// PEM certificates trusted for the metadata URL's TLS certificate; the system's roots
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    /// Minutes a fetched metadata document is used before it is fetched again (1 to 10080).
    #[serde(default = "default_refresh")]
    pub metadata_refresh_minutes: u32,
    /// Rampart's entity id as this identity provider knows it (the assertions' audience).
    pub sp_entity_id: String,
    /// Rampart's assertion consumer service: the absolute URL of
    /// `/api/v1/providers/{name}/saml/acs` as browsers reach it.
    pub acs_url: String,
    /// The `NameIDPolicy` format asked for (none: the identity provider's choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    /// What names the user: `name_id`, or the name of an attribute.
    #[serde(default = "default_username")]
    pub username: String,
    /// The attribute holding the e-mail.
    #[serde(default = "default_email_attribute")]
    pub email_attribute: String,
    /// The attribute holding the display name.
    #[serde(default = "default_display_name_attribute")]
    pub display_name_attribute: String,
    /// The attribute whose values the mappings match (one value per group).
    #[serde(default = "default_groups_attribute")]
    pub groups_attribute: String,
    /// Attribute values to roles, in order (for IT roles the first match wins).
    #[serde(default)]
    pub mappings: Vec<GroupMapping>,
    /// Seconds of clock difference allowed with the identity provider (0 to 300).
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: u32,
    /// Seconds to wait for the metadata URL (1 to 60).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Where the key that decrypts encrypted assertions is kept (`env:NAME`, `file:/path`):
    /// a PEM RSA private key of at least 2048 bits, the same on every node. Give it with
    /// `decryption_certificate`, or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption_key: Option<String>,
    /// The PEM certificate of `decryption_key` (public): the service provider's metadata
    /// publishes it for the identity provider to encrypt to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption_certificate: Option<String>,
}

/// Checks a SAML provider's settings; `secret` judges the decryption key's reference.
/// Answers every rule broken, in field order. Whether the reference can be read, and is the
/// key of the certificate, is the caller's to check where the key is read.
pub fn validate_saml(
    s: &SamlSettings,
    secret: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<Invalid> {
    let mut out = Vec::new();
    let mut bad = |field: &str, message: String| out.push(Invalid::new(field, message));
    match (&s.idp_metadata_url, &s.idp_metadata_xml) {
        (Some(_), Some(_)) | (None, None) => bad(
            "settings.idp_metadata_url",
            "give either idp_metadata_url or idp_metadata_xml (not both, not neither)".into(),
        ),
        (Some(url), None) => {
            if let Err(why) = web_url(url) {
                bad("settings.idp_metadata_url", why);
            }
        }
        (None, Some(xml)) => {
            if xml.len() > 1_000_000 || !xml.contains("EntityDescriptor") {
                bad(
                    "settings.idp_metadata_xml",
                    "must be SAML metadata (an EntityDescriptor) of at most 1,000,000 bytes".into(),
                );
            } else if let Err(e) = super::metadata::IdpMetadata::parse(xml) {
                bad("settings.idp_metadata_xml", e.to_string());
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
    if !(1..=10_080).contains(&s.metadata_refresh_minutes) {
        bad(
            "settings.metadata_refresh_minutes",
            "must be 1 to 10080 (a week)".into(),
        );
    }
    if s.sp_entity_id.trim().is_empty()
        || s.sp_entity_id.len() > 1024
        || s.sp_entity_id.contains(char::is_control)
        || s.sp_entity_id.contains(char::is_whitespace)
    {
        bad(
            "settings.sp_entity_id",
            "must be a URI of 1 to 1024 characters without spaces".into(),
        );
    }
    match web_url(&s.acs_url) {
        Err(why) => bad("settings.acs_url", why),
        Ok(url) if !url.path().ends_with("/saml/acs") => bad(
            "settings.acs_url",
            "must be the URL of /api/v1/providers/{name}/saml/acs".into(),
        ),
        Ok(_) => {}
    }
    if let Some(format) = &s.name_id_format {
        if !format.starts_with("urn:oasis:names:tc:SAML:") || format.len() > 200 {
            bad(
                "settings.name_id_format",
                "must be a SAML NameID format URI (urn:oasis:names:tc:SAML:…)".into(),
            );
        }
    }
    for (field, value) in [
        ("settings.username", &s.username),
        ("settings.email_attribute", &s.email_attribute),
        ("settings.display_name_attribute", &s.display_name_attribute),
        ("settings.groups_attribute", &s.groups_attribute),
    ] {
        if value.trim().is_empty() || value.len() > 256 || value.contains(char::is_control) {
            bad(
                field,
                "must be an attribute name of 1 to 256 characters".into(),
            );
        }
    }
    crate::settings::check_mappings(&s.mappings, "a value", &mut bad);
    if s.clock_skew_seconds > MAX_SKEW_SECONDS {
        bad(
            "settings.clock_skew_seconds",
            format!("must be 0 to {MAX_SKEW_SECONDS}"),
        );
    }
    if !(1..=60).contains(&s.timeout_seconds) {
        bad("settings.timeout_seconds", "must be 1 to 60".into());
    }
    match (&s.decryption_key, &s.decryption_certificate) {
        (Some(key), Some(certificate)) => {
            if let Err(why) = secret(key) {
                bad("settings.decryption_key", why);
            }
            if let Err(why) = super::decrypt::encryption_certificate(certificate) {
                bad("settings.decryption_certificate", why.to_string());
            }
        }
        (Some(_), None) => bad(
            "settings.decryption_certificate",
            "give the decryption key's certificate with decryption_key (both or neither)".into(),
        ),
        (None, Some(_)) => bad(
            "settings.decryption_key",
            "give decryption_key, the reference to the key, with decryption_certificate (both \
             or neither)"
                .into(),
        ),
        (None, None) => {}
    }
    out
}

/// An absolute `https://` URL (or `http://` to loopback) without user information or a
/// fragment.
fn web_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    let ok_scheme = match url.scheme() {
        "https" => true,
        "http" => is_loopback(&url),
        _ => false,
    };
    if !ok_scheme {
        return Err("must be an https:// URL (http:// only to a loopback address)".into());
    }
    if url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
        || raw.len() > 2048
    {
        return Err("must name a host, without user information or a fragment".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    fn good() -> SamlSettings {
        serde_json::from_value(serde_json::json!({
            "idp_metadata_url": "https://idp.example.com/metadata",
            "sp_entity_id": "https://rampart.example.com/saml",
            "acs_url": "https://rampart.example.com/api/v1/providers/corp/saml/acs",
            "mappings": [{"group": "admins", "it_role": "administrator"}]
        }))
        .unwrap()
    }

    fn fields(s: &SamlSettings) -> Vec<String> {
        let secret = |r: &str| {
            if r.starts_with("env:") || r.starts_with("file:/") {
                Ok(())
            } else {
                Err("a reference".to_string())
            }
        };
        validate_saml(s, &secret)
            .into_iter()
            .map(|i| i.field)
            .collect()
    }

    #[test]
    fn defaults_fill_in_and_good_settings_pass() {
        let s = good();
        assert_eq!(s.username, "name_id");
        assert_eq!(s.groups_attribute, "groups");
        assert_eq!(s.clock_skew_seconds, 60);
        assert_eq!(s.metadata_refresh_minutes, 60);
        assert!(fields(&s).is_empty(), "{:?}", fields(&s));
    }

    /// Each case breaks one rule and names exactly its field.
    #[test]
    fn each_broken_rule_names_its_field() {
        type Change = fn(&mut SamlSettings);
        let cases: &[(Change, &str)] = &[
            (
                |s| s.idp_metadata_url = Some("http://idp.example.com/metadata".into()),
                "settings.idp_metadata_url",
            ),
            (
                |s| s.idp_metadata_url = Some("ftp://idp.example.com/".into()),
                "settings.idp_metadata_url",
            ),
            (
                |s| s.idp_metadata_xml = Some("<x/>".into()),
                "settings.idp_metadata_url",
            ),
            (
                |s| {
                    s.idp_metadata_url = None;
                    s.idp_metadata_xml = Some("<md:EntityDescriptor".into());
                },
                "settings.idp_metadata_xml",
            ),
            (|s| s.idp_metadata_url = None, "settings.idp_metadata_url"),
            (
                |s| s.ca_certificate = Some("hello".into()),
                "settings.ca_certificate",
            ),
            (
                |s| s.metadata_refresh_minutes = 0,
                "settings.metadata_refresh_minutes",
            ),
            (|s| s.sp_entity_id = "a b".into(), "settings.sp_entity_id"),
            (
                |s| s.acs_url = "https://rampart.example.com/elsewhere".into(),
                "settings.acs_url",
            ),
            (
                |s| s.acs_url = "http://rampart.example.com/saml/acs".into(),
                "settings.acs_url",
            ),
            (
                |s| s.name_id_format = Some("persistent".into()),
                "settings.name_id_format",
            ),
            (|s| s.username = String::new(), "settings.username"),
            (
                |s| s.clock_skew_seconds = 301,
                "settings.clock_skew_seconds",
            ),
            (|s| s.timeout_seconds = 0, "settings.timeout_seconds"),
            (|s| s.mappings[0].it_role = None, "settings.mappings[0]"),
            (
                |s| s.decryption_key = Some("env:SAML_KEY".into()),
                "settings.decryption_certificate",
            ),
            (
                |s| s.decryption_certificate = Some(certificate()),
                "settings.decryption_key",
            ),
            (
                |s| {
                    s.decryption_key = Some("-----BEGIN PRIVATE KEY-----".into());
                    s.decryption_certificate = Some(certificate());
                },
                "settings.decryption_key",
            ),
            (
                |s| {
                    s.decryption_key = Some("file:/etc/rampart/saml-decryption.pem".into());
                    s.decryption_certificate = Some("-----BEGIN CERTIFICATE-----\nAAAA\n".into());
                },
                "settings.decryption_certificate",
            ),
        ];
        for (change, field) in cases {
            let mut s = good();
            change(&mut s);
            assert_eq!(fields(&s), vec![field.to_string()], "{s:?}");
        }
    }

    /// A certificate of a new RSA 2048 key.
    fn certificate() -> String {
        let key = crate::saml::SpKey::generate(1_700_000_000).unwrap();
        let pem = String::from_utf8(key.to_pem().unwrap()).unwrap();
        let at = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
        pem[at..].to_owned()
    }

    #[test]
    fn a_decryption_key_reference_with_its_certificate_passes_and_is_kept_as_written() {
        let mut s = good();
        s.decryption_key = Some("file:/etc/rampart/saml-decryption.pem".into());
        s.decryption_certificate = Some(certificate());
        assert!(fields(&s).is_empty(), "{:?}", fields(&s));
        let stored = serde_json::to_value(&s).unwrap();
        assert_eq!(
            stored["decryption_key"],
            "file:/etc/rampart/saml-decryption.pem"
        );
        assert!(good().decryption_key.is_none());
        assert!(serde_json::to_value(good())
            .unwrap()
            .get("decryption_key")
            .is_none());
    }

    #[test]
    fn plain_http_is_allowed_to_loopback_only() {
        let mut s = good();
        s.acs_url = "http://127.0.0.1:8443/api/v1/providers/corp/saml/acs".into();
        s.idp_metadata_url = Some("http://localhost:9000/metadata".into());
        assert!(fields(&s).is_empty(), "{:?}", fields(&s));
    }
}
