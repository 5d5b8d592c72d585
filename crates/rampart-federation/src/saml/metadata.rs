//! Metadata: the identity provider's (read from XML, fetched over HTTPS) and Rampart's own as
//! a service provider (written for the identity provider to register).

use std::time::Duration;

use base64::Engine as _;
use samael::metadata::{
    EncryptionMethod, EntityDescriptor, IndexedEndpoint, KeyDescriptor, SpSsoDescriptor,
    HTTP_POST_BINDING, HTTP_REDIRECT_BINDING,
};
use samael::traits::ToXml as _;

use super::SamlError;

/// The largest metadata document read.
const MAX_METADATA_BYTES: usize = 1_000_000;

/// What Rampart uses of an identity provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// Its entity id: the `Issuer` its responses and assertions must name.
    pub entity_id: String,
    /// Its single sign-on service for the HTTP-Redirect binding.
    pub sso_url: String,
    /// Its signing certificates (DER), any of which may sign a response.
    pub signing_certificates: Vec<Vec<u8>>,
}

impl IdpMetadata {
    /// Reads an `EntityDescriptor` with an `IDPSSODescriptor`: the entity id, the
    /// HTTP-Redirect single sign-on service and the signing certificates (the key
    /// descriptors marked `signing`, or those without a use).
    pub fn parse(xml: &str) -> Result<Self, SamlError> {
        if xml.len() > MAX_METADATA_BYTES {
            return Err(SamlError::Metadata(
                "the metadata is larger than 1 MB".into(),
            ));
        }
        if xml.contains("<!DOCTYPE") {
            return Err(SamlError::Metadata(
                "the metadata has a document type declaration".into(),
            ));
        }
        let entity: EntityDescriptor = xml
            .parse()
            .map_err(|e| SamlError::Metadata(format!("not SAML metadata: {e}")))?;
        let entity_id = entity
            .entity_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| SamlError::Metadata("the EntityDescriptor has no entityID".into()))?;
        let idp = entity
            .idp_sso_descriptors
            .as_deref()
            .and_then(|d| d.first())
            .ok_or_else(|| SamlError::Metadata("no IDPSSODescriptor in the metadata".into()))?;
        let sso_url = idp
            .single_sign_on_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT_BINDING)
            .map(|s| s.location.clone())
            .ok_or_else(|| {
                SamlError::Metadata(
                    "the identity provider offers no HTTP-Redirect SingleSignOnService".into(),
                )
            })?;
        let certificates = |signing_only: bool| -> Result<Vec<Vec<u8>>, SamlError> {
            let mut out = Vec::new();
            for kd in &idp.key_descriptors {
                let wanted = if signing_only {
                    kd.key_use.as_deref() == Some("signing")
                } else {
                    kd.key_use.as_deref().is_none_or(str::is_empty)
                };
                if !wanted {
                    continue;
                }
                for text in kd.key_info.x509_data.iter().flat_map(|d| &d.certificates) {
                    let compact: String = text.split_whitespace().collect();
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .map_err(|e| {
                            SamlError::Metadata(format!("a signing certificate is not base64: {e}"))
                        })?;
                    out.push(der);
                }
            }
            Ok(out)
        };
        let mut signing_certificates = certificates(true)?;
        if signing_certificates.is_empty() {
            signing_certificates = certificates(false)?;
        }
        if signing_certificates.is_empty() {
            return Err(SamlError::Metadata(
                "the identity provider's metadata names no signing certificate".into(),
            ));
        }
        Ok(IdpMetadata {
            entity_id,
            sso_url,
            signing_certificates,
        })
    }
}

/// Fetches the metadata at `url` (the caller validated it), trusting `ca_pem` when given and
/// the system's roots otherwise, within `timeout`.
pub async fn fetch(
    url: &str,
    ca_pem: Option<&str>,
    timeout: Duration,
) -> Result<IdpMetadata, SamlError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(url.starts_with("https://"));
    if let Some(pem) = ca_pem {
        let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| SamlError::Metadata(format!("the CA certificates cannot be read: {e}")))?;
        builder = builder.tls_built_in_root_certs(false);
        for c in certificates {
            builder = builder.add_root_certificate(c);
        }
    }
    let client = builder
        .build()
        .map_err(|e| SamlError::Unreachable(format!("HTTP client: {e}")))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| SamlError::Unreachable(format!("fetching the metadata: {e}")))?;
    if !response.status().is_success() {
        return Err(SamlError::Unreachable(format!(
            "the metadata URL answered {}",
            response.status()
        )));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_METADATA_BYTES as u64)
    {
        return Err(SamlError::Metadata(
            "the metadata is larger than 1 MB".into(),
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| SamlError::Unreachable(format!("reading the metadata: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| SamlError::Metadata("the metadata is not UTF-8".into()))?;
    IdpMetadata::parse(text)
}

/// Rampart's metadata as the service provider `entity_id`: its assertion consumer service
/// (HTTP-POST), signing certificates (DER, base64) and, when it decrypts assertions, its
/// encryption certificate (DER, base64) with the algorithms it accepts; AuthnRequests
/// signed, assertions wanted signed.
pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    name_id_format: Option<&str>,
    certificates: &[String],
    encryption_certificate: Option<&str>,
) -> Result<String, SamlError> {
    let descriptor = |key_use: &str, der: &str| KeyDescriptor {
        key_use: Some(key_use.into()),
        key_info: samael::key_info::KeyInfo {
            id: None,
            x509_data: Some(samael::key_info::X509Data {
                certificates: vec![der.to_owned()],
            }),
        },
        encryption_methods: None,
    };
    let mut key_descriptors: Vec<KeyDescriptor> = certificates
        .iter()
        .map(|der| descriptor("signing", der))
        .collect();
    if let Some(der) = encryption_certificate {
        key_descriptors.push(KeyDescriptor {
            encryption_methods: Some(
                super::decrypt::ENCRYPTION_METHODS
                    .iter()
                    .map(|a| EncryptionMethod {
                        algorithm: (*a).to_owned(),
                    })
                    .collect(),
            ),
            ..descriptor("encryption", der)
        });
    }
    let sp = SpSsoDescriptor {
        protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
        key_descriptors: Some(key_descriptors),
        authn_requests_signed: Some(true),
        want_assertions_signed: Some(true),
        name_id_formats: name_id_format.map(|f| vec![f.to_owned()]),
        assertion_consumer_services: vec![IndexedEndpoint {
            binding: HTTP_POST_BINDING.into(),
            location: acs_url.into(),
            response_location: None,
            index: 0,
            is_default: Some(true),
        }],
        ..SpSsoDescriptor::default()
    };
    let entity = EntityDescriptor {
        entity_id: Some(entity_id.into()),
        sp_sso_descriptors: Some(vec![sp]),
        ..EntityDescriptor::default()
    };
    entity
        .to_string()
        .map_err(|e| SamlError::Internal(format!("writing the metadata: {e}")))
}
