//! A `SAMLResponse` as the browser posts it, down to what its XML signatures cover.
//!
//! 1. The outline of the document as received is read (a streaming pass, no signature
//!    meaning): its root must be a protocol `Response`, without a document type declaration,
//!    holding exactly one `Assertion` or `EncryptedAssertion`. A second assertion is how
//!    signature wrapping hides an unsigned one beside a signed one, so it is refused before
//!    anything else.
//! 2. An encrypted assertion (see [`super::decrypt`] for the algorithms):
//!    - in a Response that carries its own signature: that signature is verified first, on
//!      the document as received, so it covers the ciphertext, and the document is reduced
//!      to the nodes the verified references cover (`samael`'s `ValidateAndMarkNoAncestors`:
//!      the signed Response, re-serialised); the assertion is then decrypted inside it
//!      (AES-GCM or AES-CBC), where the Response's namespace declarations are in scope;
//!    - in a Response without its own signature: the data must be AES-GCM (authenticated),
//!      and the decrypted `Assertion` is put back in place of the `EncryptedAssertion` in
//!      the document as received, which then goes through step 3 as if it had come so: it
//!      must reduce to the assertion's own signature.
//!
//!    Without a decryption key, an encrypted assertion is refused.
//! 3. xmlsec checks every `Signature` in the document against the identity provider's
//!    signing certificates, with RSA or ECDSA over SHA-2 only, and what is kept is the
//!    pre-digest of a verified reference (`samael`'s `ReduceMode::PreDigest`): the exact
//!    canonical bytes xmlsec digested, of the signed `Response` with its assertion when the
//!    Response is signed, else of the signed `Assertion` alone (several verified references
//!    are accepted only when exactly one of them is a `Response`). Every check after this
//!    reads those bytes only. Reading what was digested, rather than matching it back to the
//!    received tree and re-serialising that (as step 2 still does, after the same signature
//!    checks), is what samael calls its strictest mode, and is cheaper: the matching and the
//!    re-serialisation were over 40 % of a validation's CPU time. A comment inside signed
//!    text is not in the pre-digest (exclusive canonicalisation without comments), so the
//!    whole signed text is read, never the part before the comment.
//! 4. Those bytes are read with `samael`'s SAML object model.

use base64::Engine as _;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider as _, ReduceMode,
};
use samael::schema::{Assertion, Response};

use super::decrypt::{self, DecryptionKey};
use super::Refusal;

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
/// The largest decoded response read.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// The signature algorithms accepted: RSA and ECDSA over SHA-2 (never SHA-1).
const ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What the document says outside the signatures: only ever compared with signed values,
/// never trusted alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// The `Response`'s `Destination`.
    pub destination: Option<String>,
    /// The `Response`'s `InResponseTo`.
    pub in_response_to: Option<String>,
    /// The top-level `StatusCode`'s `Value`.
    pub status: Option<String>,
    pub(crate) assertions: usize,
    pub(crate) encrypted: usize,
    pub(crate) signatures: usize,
    /// Signatures that are children of the `Response` (its own).
    pub(crate) response_signatures: usize,
}

/// A response whose signatures verified, reduced to what they sign.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The `Response` when its own signature verified (with the signed assertion in it).
    pub response: Option<Response>,
    /// The signed assertion (the Response's, or the one signed by itself).
    pub assertion: Assertion,
    /// The unsigned outline of the document as received.
    pub outline: Outline,
}

/// Decodes the posted `SAMLResponse` (base64) and verifies it with `certificates` (DER),
/// decrypting an encrypted assertion with `key`.
pub fn verify(
    posted: &str,
    certificates: &[Vec<u8>],
    key: Option<&DecryptionKey>,
) -> Result<Verified, Refusal> {
    let compact: String = posted.split_ascii_whitespace().collect();
    if compact.len() > MAX_RESPONSE_BYTES * 4 / 3 + 4 {
        return Err(Refusal::new("malformed", "the SAMLResponse is too large"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Refusal::new("malformed", "the SAMLResponse is not base64"))?;
    let xml = std::str::from_utf8(&bytes)
        .map_err(|_| Refusal::new("malformed", "the SAMLResponse is not UTF-8 XML"))?;
    verify_xml(xml, certificates, key)
}

/// Verifies a response's XML with `certificates` (DER), decrypting an encrypted assertion
/// with `key`.
pub fn verify_xml(
    xml: &str,
    certificates: &[Vec<u8>],
    key: Option<&DecryptionKey>,
) -> Result<Verified, Refusal> {
    let outline = outline(xml)?;
    let held = outline.assertions + outline.encrypted;
    if held != 1 {
        return Err(Refusal::new(
            "several-assertions",
            format!("the response holds {held} assertions; exactly one is accepted"),
        ));
    }
    if outline.encrypted == 0 {
        return signed(xml, certificates, outline, None);
    }
    let Some(key) = key else {
        return Err(Refusal::new(
            "encrypted-assertion",
            "the assertion is encrypted, and this provider has no decryption key: configure \
             its decryption_key and decryption_certificate, then register the service \
             provider's metadata with the identity provider again",
        ));
    };
    if outline.response_signatures == 0 {
        // Nothing signed covers the ciphertext: AES-GCM only, and the assertion must carry
        // its own signature, checked in the document it came in.
        let clear = decrypt::decrypt_in_place(xml, key, false)?;
        let outline = decrypted_outline(&clear)?;
        return signed(&clear, certificates, outline, Some(Root::Assertion));
    }
    // The Response's own signature first, over the ciphertext as received; then the
    // assertion decrypted inside the signed Response. Here the document is reduced to its
    // verified nodes rather than read from the pre-digest: the decrypted assertion takes the
    // place of the `EncryptedAssertion` and may use the prefixes the Response declares, which
    // the exclusive canonical form declares only on the elements that use them.
    let reduced = reduce(xml, certificates, ReduceMode::ValidateAndMarkNoAncestors)?;
    if !matches!(root_name(&reduced), Some(Root::Response)) {
        return Err(Refusal::new(
            "assertion-not-signed",
            "the response's signature does not cover the response",
        ));
    }
    let clear = decrypt::decrypt_in_place(&reduced, key, true)?;
    decrypted_outline(&clear)?;
    signed_response(&clear, outline)
}

/// A signed `Response` (the reduced document) with the assertion it holds.
fn signed_response(reduced: &str, outline: Outline) -> Result<Verified, Refusal> {
    let response: Response = reduced.parse().map_err(|_| malformed("response"))?;
    let assertion = response.assertion.clone().ok_or_else(|| {
        Refusal::new(
            "assertion-not-signed",
            "the signed response holds no assertion",
        )
    })?;
    Ok(Verified {
        response: Some(response),
        assertion,
        outline,
    })
}

/// The outline of a document whose assertion was decrypted: one assertion, in the
/// assertion namespace, and nothing encrypted left.
fn decrypted_outline(xml: &str) -> Result<Outline, Refusal> {
    match outline(xml) {
        Ok(o) if o.assertions == 1 && o.encrypted == 0 => Ok(o),
        _ => Err(Refusal::new(
            decrypt::INVALID,
            "the encrypted assertion cannot be decrypted with this service provider's \
             decryption key",
        )),
    }
}

fn malformed(what: &str) -> Refusal {
    Refusal::new("malformed", format!("the signed {what} cannot be read"))
}

/// Verifies every signature of `xml` and returns what they cover: with `PreDigest`, what
/// the verified reference of the `Response` (or else the only one) digested, canonical XML;
/// with `ValidateAndMarkNoAncestors`, the document reduced to the verified nodes.
fn reduce(xml: &str, certificates: &[Vec<u8>], mode: ReduceMode) -> Result<String, Refusal> {
    let certs: Vec<CertificateDer> = certificates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(xml, &certs, mode, Some(ALGORITHMS))
        .map_err(|_| {
            Refusal::new(
                "signature-invalid",
                "an XML signature of the response does not verify with the identity provider's \
             signing certificates",
            )
        })
}

/// The signed part of a response holding one plain assertion (`only`: what the signed part
/// must be).
fn signed(
    xml: &str,
    certificates: &[Vec<u8>],
    outline: Outline,
    only: Option<Root>,
) -> Result<Verified, Refusal> {
    if outline.signatures == 0 {
        return Err(Refusal::new(
            "unsigned",
            "the response carries no XML signature",
        ));
    }
    let reduced = reduce(xml, certificates, ReduceMode::PreDigest)?;
    match (root_name(&reduced), only) {
        (Some(Root::Response), None) => signed_response(&reduced, outline),
        (Some(Root::Assertion), _) => {
            let assertion: Assertion = reduced.parse().map_err(|_| malformed("assertion"))?;
            Ok(Verified {
                response: None,
                assertion,
                outline,
            })
        }
        _ => Err(Refusal::new(
            "assertion-not-signed",
            "no signature covers the response or its assertion",
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Response,
    Assertion,
}

fn root_name(xml: &str) -> Option<Root> {
    let mut reader = NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(e) | Event::Empty(e))) => {
                return match (namespace(&ns), e.local_name().as_ref()) {
                    (Some(PROTOCOL_NS), b"Response") => Some(Root::Response),
                    (Some(ASSERTION_NS), b"Assertion") => Some(Root::Assertion),
                    _ => None,
                };
            }
            Ok((_, Event::Eof)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The namespace a resolved name is bound to.
pub(super) fn namespace<'a>(ns: &'a ResolveResult<'_>) -> Option<&'a [u8]> {
    match ns {
        ResolveResult::Bound(n) => Some(n.as_ref()),
        _ => None,
    }
}

/// The value of attribute `name` of element `e`, normalised as XML says.
pub(super) fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::default())
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Reads the document's outline in one streaming pass.
fn outline(xml: &str) -> Result<Outline, Refusal> {
    let malformed = |why: &str| Refusal::new("malformed", format!("the SAMLResponse {why}"));
    let mut reader = NsReader::from_str(xml);
    let mut out = Outline::default();
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut in_status = false;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed("is not well-formed XML"))?;
        let (element, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_status = false;
                }
                continue;
            }
            Event::DocType(_) => return Err(malformed("has a document type declaration")),
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = element else { continue };
        let space = namespace(&ns);
        let local = e.local_name();
        if depth == 0 {
            roots += 1;
            if roots > 1 || space != Some(PROTOCOL_NS) || local.as_ref() != b"Response" {
                return Err(malformed("is not a SAML protocol Response"));
            }
            out.destination = attribute(&e, b"Destination");
            out.in_response_to = attribute(&e, b"InResponseTo");
        }
        match (space, local.as_ref()) {
            (Some(ASSERTION_NS), b"Assertion") => out.assertions += 1,
            (Some(ASSERTION_NS), b"EncryptedAssertion") => out.encrypted += 1,
            (Some(DSIG_NS), b"Signature") => {
                out.signatures += 1;
                if depth == 1 {
                    out.response_signatures += 1;
                }
            }
            (Some(PROTOCOL_NS), b"Status") if depth == 1 => in_status = !empty,
            (Some(PROTOCOL_NS), b"StatusCode") if depth == 2 && in_status => {
                out.status = attribute(&e, b"Value");
            }
            _ => {}
        }
        if !empty {
            depth += 1;
        }
    }
    if roots == 0 {
        return Err(malformed("is empty"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
