#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::sync::OnceLock;

use super::*;
use crate::saml::SpKey;

/// What the responses below are signed with: an identity provider's key (DER) and its
/// certificate (DER).
struct Signer {
    key: Vec<u8>,
    certificate: Vec<u8>,
}

/// Two identity providers' keys, made once.
fn signer(which: usize) -> &'static Signer {
    static SIGNERS: OnceLock<Vec<Signer>> = OnceLock::new();
    let all = SIGNERS.get_or_init(|| {
        (0..2)
            .map(|_| {
                let made = SpKey::generate(time::OffsetDateTime::now_utc().unix_timestamp())
                    .unwrap()
                    .to_pem()
                    .unwrap();
                let key = openssl::pkey::PKey::private_key_from_pem(&made).unwrap();
                let certificate = openssl::x509::X509::from_pem(&made).unwrap();
                Signer {
                    key: key.private_key_to_der().unwrap(),
                    certificate: certificate.to_der().unwrap(),
                }
            })
            .collect()
    });
    &all[which]
}

const SHA256: (&str, &str) = (
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmlenc#sha256",
);
const SHA1: (&str, &str) = (
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
);

/// An enveloped signature template over the element `id`, exclusive canonicalisation.
fn template(id: &str, (method, digest): (&str, &str)) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

/// `xml` with its first signature template signed by `by`, without the XML declaration.
fn sign(xml: &str, by: &Signer) -> String {
    let signed = Crypto::sign_xml(xml, &by.key).unwrap();
    let body = match signed.find("?>") {
        Some(end) if signed.starts_with("<?xml") => &signed[end + 2..],
        _ => &signed[..],
    };
    body.trim().to_owned()
}

/// How a test response is made.
#[derive(Clone, Copy)]
struct Made {
    response_signed: bool,
    assertion_signed: bool,
    algorithms: (&'static str, &'static str),
    name_id: &'static str,
}

const BOTH: Made = Made {
    response_signed: true,
    assertion_signed: true,
    algorithms: SHA256,
    name_id: "alice",
};

/// A Response for `_q` holding one assertion for `made.name_id`, signed by `by` as `made` says.
fn made(made: Made, by: &Signer) -> String {
    let mut assertion = format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" IssueInstant="2026-12-06T12:00:00Z" Version="2.0"><saml:Issuer>idp</saml:Issuer>{}<saml:Subject><saml:NameID>{}</saml:NameID></saml:Subject></saml:Assertion>"#,
        if made.assertion_signed {
            template("_a", made.algorithms)
        } else {
            String::new()
        },
        made.name_id,
    );
    if made.assertion_signed {
        assertion = sign(&assertion, by);
    }
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2026-12-06T12:00:00Z" Destination="https://sp/acs" InResponseTo="_q"><saml:Issuer>idp</saml:Issuer>{}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
        if made.response_signed {
            template("_r", made.algorithms)
        } else {
            String::new()
        },
    );
    if made.response_signed {
        sign(&response, by)
    } else {
        response
    }
}

/// What verifying `xml` with `signer(0)`'s certificate gives: `signed response` or `signed
/// assertion` with the name read, or the refusal's reason.
fn check(xml: &str, expected: &str) {
    let got = match verify_xml(xml, std::slice::from_ref(&signer(0).certificate), None) {
        Ok(v) => {
            let name = v
                .assertion
                .subject
                .and_then(|s| s.name_id)
                .map(|n| n.value)
                .unwrap_or_default();
            let what = if v.response.is_some() {
                "response"
            } else {
                "assertion"
            };
            format!("signed {what} for {name}")
        }
        Err(r) => r.reason.to_owned(),
    };
    assert_eq!(got, expected, "{xml}");
}

#[test]
fn only_what_a_valid_signature_covers_is_read() {
    let by = signer(0);
    let assertion_only = Made {
        response_signed: false,
        ..BOTH
    };
    let response_only = Made {
        assertion_signed: false,
        ..BOTH
    };
    check(&made(BOTH, by), "signed response for alice");
    check(&made(response_only, by), "signed response for alice");
    check(&made(assertion_only, by), "signed assertion for alice");
    // Another key, a change after signing, SHA-1: refused whichever signature it is.
    check(&made(BOTH, signer(1)), "signature-invalid");
    check(&made(assertion_only, signer(1)), "signature-invalid");
    check(
        &made(BOTH, by).replace(">alice<", ">mallory<"),
        "signature-invalid",
    );
    check(
        &made(response_only, by).replace(">alice<", ">mallory<"),
        "signature-invalid",
    );
    check(
        &made(
            Made {
                algorithms: SHA1,
                ..BOTH
            },
            by,
        ),
        "signature-invalid",
    );
    // A comment inside a signed name is not part of what is signed (exclusive
    // canonicalisation without comments): the whole name is read, never its first half.
    let commented = Made {
        name_id: "alice@evil.test<!---->.example.com",
        ..BOTH
    };
    check(
        &made(commented, by),
        "signed response for alice@evil.test.example.com",
    );
    let commented = Made {
        response_signed: false,
        ..commented
    };
    check(
        &made(commented, by),
        "signed assertion for alice@evil.test.example.com",
    );
}

#[test]
fn the_pre_digest_reading_agrees_with_the_reduced_document() {
    // What the signatures digested, read as the object model, is what samael's reduction of
    // the document to its verified nodes reads, for each way a response is signed.
    let by = signer(0);
    let certificates = [CertificateDer::from(by.certificate.clone())];
    for m in [
        BOTH,
        Made {
            assertion_signed: false,
            ..BOTH
        },
        Made {
            response_signed: false,
            ..BOTH
        },
    ] {
        let xml = made(m, by);
        let verified = verify_xml(&xml, std::slice::from_ref(&by.certificate), None).unwrap();
        let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &xml,
            &certificates,
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(ALGORITHMS),
        )
        .unwrap();
        match root_name(&reduced) {
            Some(Root::Response) => {
                let response: Response = reduced.parse().unwrap();
                assert_eq!(verified.response.as_ref(), Some(&response));
                assert_eq!(Some(&verified.assertion), response.assertion.as_ref());
            }
            _ => {
                let assertion: Assertion = reduced.parse().unwrap();
                assert!(verified.response.is_none());
                assert_eq!(verified.assertion, assertion);
            }
        }
    }
}

const RESPONSE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Destination="https://sp/acs" InResponseTo="_q"><saml:Issuer>idp</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a"><saml:Issuer>idp</saml:Issuer></saml:Assertion></samlp:Response>"#;

#[test]
fn the_outline_counts_assertions_and_reads_the_envelope() {
    let o = outline(RESPONSE).unwrap();
    assert_eq!(o.destination.as_deref(), Some("https://sp/acs"));
    assert_eq!(o.in_response_to.as_deref(), Some("_q"));
    assert_eq!(
        o.status.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:status:Success")
    );
    assert_eq!((o.assertions, o.signatures), (1, 0));
}

#[test]
fn unsigned_wrapped_doctype_and_foreign_documents_are_refused_before_any_signature_check() {
    let reason = |xml: &str| verify_xml(xml, &[], None).unwrap_err().reason;
    assert_eq!(reason(RESPONSE), "unsigned");
    let wrapped = RESPONSE.replace(
        "<saml:Assertion ID=\"_a\">",
        "<saml:Assertion ID=\"_evil\"></saml:Assertion><saml:Assertion ID=\"_a\">",
    );
    assert_eq!(reason(&wrapped), "several-assertions");
    let hidden = RESPONSE.replace(
        "<samlp:Status>",
        "<samlp:Extensions><saml:Assertion ID=\"_x\"/></samlp:Extensions><samlp:Status>",
    );
    assert_eq!(reason(&hidden), "several-assertions");
    assert_eq!(
        reason(&format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{RESPONSE}")),
        "malformed"
    );
    assert_eq!(
        reason("<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>"),
        "malformed"
    );
    assert_eq!(reason("<samlp:Response"), "malformed");
    assert_eq!(verify("%%%", &[], None).unwrap_err().reason, "malformed");
    let encrypted = RESPONSE.replace("saml:Assertion", "saml:EncryptedAssertion");
    assert_eq!(reason(&encrypted), "encrypted-assertion");
}
