//! Rampart's side of the start of a sign-in: its signing key, and the signed `AuthnRequest`
//! sent to the identity provider with the HTTP-Redirect binding (SAML bindings §3.4.4.1: the
//! request DEFLATEd and base64-encoded, the query `SAMLRequest=…&RelayState=…&SigAlg=…`
//! signed with RSA-SHA256 as sent, by `samael::crypto::sign_url` over OpenSSL).

use std::io::Write as _;

use base64::Engine as _;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use samael::metadata::HTTP_POST_BINDING;
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use samael::traits::ToXml as _;
use url::Url;

use super::SamlError;

/// The service provider's signing key and its self-signed certificate.
pub struct SpKey {
    key: PKey<Private>,
    certificate: X509,
}

impl std::fmt::Debug for SpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKey").finish_non_exhaustive()
    }
}

fn ssl(what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> SamlError {
    move |e| SamlError::Internal(format!("{what}: {e}"))
}

impl SpKey {
    /// A new RSA 2048 key and a certificate for it valid for ten years from `now_unix`
    /// (seconds), named `Rampart SAML service provider`.
    pub fn generate(now_unix: i64) -> Result<Self, SamlError> {
        let rsa = Rsa::generate(2048).map_err(ssl("generating the SAML signing key"))?;
        let key = PKey::from_rsa(rsa).map_err(ssl("the SAML signing key"))?;
        let mut name = X509NameBuilder::new().map_err(ssl("certificate name"))?;
        name.append_entry_by_text("CN", "Rampart SAML service provider")
            .map_err(ssl("certificate name"))?;
        let name = name.build();
        let mut serial = BigNum::new().map_err(ssl("certificate serial"))?;
        serial
            .rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)
            .map_err(ssl("certificate serial"))?;
        let serial = Asn1Integer::from_bn(&serial).map_err(ssl("certificate serial"))?;
        let mut b = X509Builder::new().map_err(ssl("certificate"))?;
        b.set_version(2).map_err(ssl("certificate"))?;
        b.set_serial_number(&serial).map_err(ssl("certificate"))?;
        b.set_subject_name(&name).map_err(ssl("certificate"))?;
        b.set_issuer_name(&name).map_err(ssl("certificate"))?;
        b.set_pubkey(&key).map_err(ssl("certificate"))?;
        let from = Asn1Time::from_unix(now_unix - 60).map_err(ssl("certificate validity"))?;
        let until = Asn1Time::from_unix(now_unix + 10 * 366 * 86_400)
            .map_err(ssl("certificate validity"))?;
        b.set_not_before(&from)
            .map_err(ssl("certificate validity"))?;
        b.set_not_after(&until)
            .map_err(ssl("certificate validity"))?;
        b.sign(&key, MessageDigest::sha256())
            .map_err(ssl("signing the certificate"))?;
        Ok(SpKey {
            key,
            certificate: b.build(),
        })
    }

    /// Reads the key (PKCS#8 PEM) and its certificate (PEM) from one text, as
    /// [`SpKey::to_pem`] wrote it.
    pub fn from_pem(text: &str) -> Result<Self, SamlError> {
        let key = PKey::private_key_from_pem(text.as_bytes())
            .map_err(|_| SamlError::Internal("the SAML signing key cannot be read".into()))?;
        let certificate = X509::from_pem(text.as_bytes()).map_err(|_| {
            SamlError::Internal("the SAML signing key's certificate cannot be read".into())
        })?;
        let matches = certificate
            .public_key()
            .map(|p| p.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(SamlError::Internal(
                "the SAML signing key's certificate is for another key".into(),
            ));
        }
        Ok(SpKey { key, certificate })
    }

    /// The key (PKCS#8) and the certificate, PEM, one after the other: a secret.
    pub fn to_pem(&self) -> Result<Vec<u8>, SamlError> {
        let mut out = self
            .key
            .private_key_to_pem_pkcs8()
            .map_err(ssl("writing the SAML signing key"))?;
        out.extend(
            self.certificate
                .to_pem()
                .map_err(ssl("writing the certificate"))?,
        );
        Ok(out)
    }

    /// The certificate, DER in base64, as metadata carries it.
    pub fn certificate_base64(&self) -> Result<String, SamlError> {
        let der = self.certificate.to_der().map_err(ssl("the certificate"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(der))
    }

    /// The certificate's SHA-256 fingerprint, hex.
    pub fn fingerprint(&self) -> Result<String, SamlError> {
        let der = self.certificate.to_der().map_err(ssl("the certificate"))?;
        Ok(openssl::sha::sha256(&der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

/// A secret for the browser that starts a sign-in (32 random bytes, base64url), kept in a
/// cookie, and its SHA-256 (hex), kept with the request: the response must come back through
/// the same browser.
pub fn browser_binding() -> Result<(String, String), SamlError> {
    let mut random = [0u8; 32];
    openssl::rand::rand_bytes(&mut random).map_err(ssl("random generator"))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    let hash = binding_hash(&secret);
    Ok((secret, hash))
}

/// The SHA-256 (hex) of a browser's secret.
pub fn binding_hash(secret: &str) -> String {
    openssl::sha::sha256(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A signed AuthnRequest on its way: the URL to send the browser to, and the request's ID,
/// which the response's `InResponseTo` must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The request's ID.
    pub id: String,
    /// The identity provider's single sign-on URL with the signed query.
    pub url: String,
}

/// What an AuthnRequest says.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    /// Rampart's entity id.
    pub sp_entity_id: &'a str,
    /// Where the response goes.
    pub acs_url: &'a str,
    /// The NameID format asked for.
    pub name_id_format: Option<&'a str>,
    /// The identity provider's HTTP-Redirect single sign-on URL.
    pub sso_url: &'a str,
    /// The RelayState (a validated return address).
    pub relay_state: Option<&'a str>,
}

/// Writes, encodes and signs an AuthnRequest issued at `now`.
pub fn signed_redirect(
    parts: &RequestParts<'_>,
    key: &SpKey,
    now: time::OffsetDateTime,
) -> Result<Redirect, SamlError> {
    let mut random = [0u8; 20];
    openssl::rand::rand_bytes(&mut random).map_err(ssl("random generator"))?;
    let id: String = std::iter::once("_".to_owned())
        .chain(random.iter().map(|b| format!("{b:02x}")))
        .collect();
    let request = AuthnRequest {
        id: id.clone(),
        version: "2.0".into(),
        issue_instant: super::chrono_time(now),
        destination: Some(parts.sso_url.to_owned()),
        issuer: Some(Issuer {
            format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:entity".into()),
            value: Some(parts.sp_entity_id.to_owned()),
            ..Issuer::default()
        }),
        name_id_policy: Some(NameIdPolicy {
            allow_create: Some(true),
            format: parts.name_id_format.map(str::to_owned),
            ..NameIdPolicy::default()
        }),
        assertion_consumer_service_url: Some(parts.acs_url.to_owned()),
        protocol_binding: Some(HTTP_POST_BINDING.to_owned()),
        ..AuthnRequest::default()
    };
    let xml = request
        .to_string()
        .map_err(|e| SamlError::Internal(format!("writing the AuthnRequest: {e:?}")))?;
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
    deflate
        .write_all(xml.as_bytes())
        .map_err(|e| SamlError::Internal(format!("compressing the AuthnRequest: {e}")))?;
    let compressed = deflate
        .finish()
        .map_err(|e| SamlError::Internal(format!("compressing the AuthnRequest: {e}")))?;
    let mut url = Url::parse(parts.sso_url)
        .map_err(|e| SamlError::Metadata(format!("the single sign-on URL is not a URL: {e}")))?;
    url.query_pairs_mut().append_pair(
        "SAMLRequest",
        &base64::engine::general_purpose::STANDARD.encode(compressed),
    );
    if let Some(relay) = parts.relay_state {
        url.query_pairs_mut().append_pair("RelayState", relay);
    }
    let signed = samael::crypto::sign_url(url, &key.key)
        .map_err(|e| SamlError::Internal(format!("signing the AuthnRequest: {e}")))?;
    Ok(Redirect {
        id,
        url: signed.to_string(),
    })
}
