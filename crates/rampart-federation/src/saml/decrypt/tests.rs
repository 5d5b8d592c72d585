#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::sync::OnceLock;

use base64::Engine as _;
use openssl::rsa::Rsa;
use proptest::prelude::*;

use super::*;

const ASSERTION: &str =
    r#"<saml:Assertion ID="_a"><saml:Issuer>idp</saml:Issuer></saml:Assertion>"#;

/// A key pair and its certificate (PEM), made once.
struct Pair {
    key_pem: String,
    certificate_pem: String,
    key: DecryptionKey,
}

fn pair(which: usize) -> &'static Pair {
    static PAIRS: OnceLock<Vec<Pair>> = OnceLock::new();
    &PAIRS.get_or_init(|| {
        (0..2)
            .map(|_| {
                let made = crate::saml::SpKey::generate(1_700_000_000).unwrap();
                let pem = String::from_utf8(made.to_pem().unwrap()).unwrap();
                let at = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
                let (key_pem, certificate_pem) = (pem[..at].to_owned(), pem[at..].to_owned());
                let key = DecryptionKey::from_pem(&key_pem, &certificate_pem).unwrap();
                Pair {
                    key_pem,
                    certificate_pem,
                    key,
                }
            })
            .collect()
    })[which]
}

/// How a test encrypts: the data algorithm, the key transport's algorithm and its
/// `EncryptionMethod` children.
#[derive(Clone, Copy, Debug)]
struct Way {
    data: &'static str,
    transport: &'static str,
    digest: Option<&'static str>,
    mgf: Option<&'static str>,
}

const fn way(data: &'static str) -> Way {
    Way {
        data,
        transport: RSA_OAEP_MGF1P,
        digest: None,
        mgf: None,
    }
}

fn md(uri: Option<&str>) -> &'static MdRef {
    match uri {
        Some(SHA256 | MGF1_SHA256) => Md::sha256(),
        _ => Md::sha1(),
    }
}

/// `plaintext` encrypted to `to` as `w` says: an `EncryptedAssertion` element.
fn encrypt(plaintext: impl AsRef<[u8]>, w: Way, to: &Pair) -> String {
    let plaintext = plaintext.as_ref();
    let public = X509::from_pem(to.certificate_pem.as_bytes())
        .unwrap()
        .public_key()
        .unwrap();
    let gcm = w.data.contains("gcm");
    let key_len = if w.data.contains("256") { 32 } else { 16 };
    let mut session = vec![0u8; key_len];
    openssl::rand::rand_bytes(&mut session).unwrap();
    let mut ctx = PkeyCtx::new(&public).unwrap();
    ctx.encrypt_init().unwrap();
    if w.transport == RSA_1_5 {
        ctx.set_rsa_padding(Padding::PKCS1).unwrap();
    } else {
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        ctx.set_rsa_oaep_md(md(w.digest)).unwrap();
        ctx.set_rsa_mgf1_md(md(w.mgf)).unwrap();
    }
    let mut wrapped = Vec::new();
    ctx.encrypt_to_vec(&session, &mut wrapped).unwrap();
    let data = if gcm {
        let mut iv = [0u8; 12];
        openssl::rand::rand_bytes(&mut iv).unwrap();
        let cipher = if key_len == 16 {
            Cipher::aes_128_gcm()
        } else {
            Cipher::aes_256_gcm()
        };
        let mut tag = [0u8; 16];
        let body =
            openssl::symm::encrypt_aead(cipher, &session, Some(&iv), &[], plaintext, &mut tag)
                .unwrap();
        [&iv[..], &body, &tag].concat()
    } else {
        let mut iv = [0u8; 16];
        openssl::rand::rand_bytes(&mut iv).unwrap();
        // XML Encryption's padding: random bytes, the last one their count.
        let mut padded = plaintext.to_vec();
        let pad = 16 - padded.len() % 16;
        let mut filler = vec![0u8; pad];
        openssl::rand::rand_bytes(&mut filler).unwrap();
        filler[pad - 1] = pad as u8;
        padded.extend(filler);
        let cipher = if key_len == 16 {
            Cipher::aes_128_cbc()
        } else {
            Cipher::aes_256_cbc()
        };
        let mut c = Crypter::new(cipher, Mode::Encrypt, &session, Some(&iv)).unwrap();
        c.pad(false);
        let mut out = vec![0u8; padded.len() + 16];
        let n = c.update(&padded, &mut out).unwrap();
        let m = c.finalize(&mut out[n..]).unwrap();
        out.truncate(n + m);
        [&iv[..], &out].concat()
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut method = String::new();
    if let Some(d) = w.digest {
        method.push_str(&format!(r#"<ds:DigestMethod Algorithm="{d}"/>"#));
    }
    if let Some(m) = w.mgf {
        method.push_str(&format!(
            r#"<xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="{m}"/>"#
        ));
    }
    format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{data}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport}">{method}</xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        data = w.data,
        transport = w.transport,
        key = b64(&wrapped),
        value = b64(&data),
    )
}

/// A Response around `inner`, declaring the prefixes the assertion uses (as IdPs do: the
/// encrypted element relies on them).
fn response(inner: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r"><saml:Issuer>idp</saml:Issuer>{inner}</samlp:Response>"#
    )
}

fn open(doc: &str, authenticated: bool) -> Result<String, Refusal> {
    decrypt_in_place(doc, &pair(0).key, authenticated)
}

const ACCEPTED: &[Way] = &[
    way(AES128_GCM),
    way(AES256_GCM),
    way(AES128_CBC),
    way(AES256_CBC),
    Way {
        digest: Some(SHA256),
        ..way(AES128_GCM)
    },
    Way {
        transport: RSA_OAEP,
        ..way(AES256_GCM)
    },
    Way {
        transport: RSA_OAEP,
        digest: Some(SHA256),
        mgf: Some(MGF1_SHA256),
        ..way(AES128_CBC)
    },
];

#[test]
fn every_accepted_algorithm_decrypts_the_assertion_into_its_place() {
    let plain = response(ASSERTION);
    for w in ACCEPTED {
        let doc = response(&encrypt(ASSERTION, *w, pair(0)));
        assert_eq!(open(&doc, true).unwrap(), plain, "{w:?}");
        if w.data.contains("gcm") {
            assert_eq!(open(&doc, false).unwrap(), plain, "{w:?}");
        }
    }
}

#[test]
fn an_encrypted_key_beside_the_encrypted_data_is_read_too() {
    let doc = response(&encrypt(ASSERTION, way(AES128_GCM), pair(0)));
    let start = doc.find("<ds:KeyInfo").unwrap();
    let end = doc.find("</ds:KeyInfo>").unwrap() + "</ds:KeyInfo>".len();
    let key_info = &doc[start..end];
    let key = key_info
        .replace(
            "<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
            "",
        )
        .replace("</ds:KeyInfo>", "")
        .replace(
            "<xenc:EncryptedKey>",
            "<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\">",
        );
    let moved = doc.replace(key_info, "").replace(
        "</xenc:EncryptedData>",
        &format!("</xenc:EncryptedData>{key}"),
    );
    assert_eq!(open(&moved, false).unwrap(), response(ASSERTION));
}

#[test]
fn cbc_outside_a_signed_response_rsa_1_5_and_unknown_algorithms_are_refused_by_name() {
    let refused = |w: Way, authenticated: bool| {
        let doc = response(&encrypt(ASSERTION, w, pair(0)));
        open(&doc, authenticated).unwrap_err()
    };
    let r = refused(way(AES128_CBC), false);
    assert_eq!(r.reason, ALGORITHM_REFUSED);
    assert!(r.detail.contains("sign the Response"), "{r}");
    assert!(r.detail.contains("AES-GCM"), "{r}");
    assert_eq!(refused(way(AES256_CBC), false).reason, ALGORITHM_REFUSED);
    for authenticated in [true, false] {
        let r = refused(
            Way {
                transport: RSA_1_5,
                ..way(AES128_GCM)
            },
            authenticated,
        );
        assert_eq!(r.reason, ALGORITHM_REFUSED);
        assert!(r.detail.contains("rsa-1_5"), "{r}");
    }
    let doc = response(&encrypt(ASSERTION, way(AES128_GCM), pair(0)));
    for (from, to) in [
        (AES128_GCM, "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
        (RSA_OAEP_MGF1P, "http://www.w3.org/2001/04/xmlenc#kw-aes128"),
        (
            "</xenc:EncryptionMethod>",
            "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#md5\"/></xenc:EncryptionMethod>",
        ),
        (
            "</xenc:EncryptionMethod>",
            "<xenc:OAEPparams>AAAA</xenc:OAEPparams></xenc:EncryptionMethod>",
        ),
    ] {
        let changed = doc.replacen(from, to, 1);
        assert_ne!(changed, doc);
        assert_eq!(
            open(&changed, true).unwrap_err().reason,
            ALGORITHM_REFUSED,
            "{to}"
        );
    }
}

/// Every failure after the algorithms are accepted is one refusal with one message.
#[test]
fn every_decryption_failure_is_the_same_refusal() {
    let one = |doc: &str, authenticated: bool| {
        let r = open(doc, authenticated).unwrap_err();
        assert_eq!(r, invalid(), "{doc}");
    };
    // To another key.
    one(
        &response(&encrypt(ASSERTION, way(AES128_GCM), pair(1))),
        false,
    );
    one(
        &response(&encrypt(ASSERTION, way(AES128_CBC), pair(1))),
        true,
    );
    // A ciphertext altered: GCM's tag; CBC's first block (the plaintext is then not XML).
    let doc = response(&encrypt(ASSERTION, way(AES128_GCM), pair(0)));
    let at = doc.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    for (i, c) in doc[at..at + 8].char_indices() {
        let other = if c == 'A' { 'B' } else { 'A' };
        let mut altered = doc.clone();
        altered.replace_range(at + i..at + i + 1, &other.to_string());
        one(&altered, false);
    }
    let doc = response(&encrypt(ASSERTION, way(AES128_CBC), pair(0)));
    let at = doc.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let mut altered = doc.clone();
    altered.replace_range(at..at + 1, if &doc[at..at + 1] == "A" { "B" } else { "A" });
    one(&altered, true);
    // Not what an encrypted assertion decrypts to.
    for plaintext in [
        "<saml:Attribute Name=\"x\"/>",
        "<saml:Assertion ID=\"_a\"/><saml:Assertion ID=\"_b\"/>",
        "</saml:EncryptedAssertion><saml:Assertion ID=\"_a\">",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><saml:Assertion ID=\"_a\"/>",
        "text<saml:Assertion ID=\"_a\"/>",
        "",
    ] {
        one(
            &response(&encrypt(plaintext, way(AES128_GCM), pair(0))),
            false,
        );
    }
    let not_utf8 = [b"\xff\xfe".as_slice(), ASSERTION.as_bytes()].concat();
    one(
        &response(&encrypt(not_utf8, way(AES128_GCM), pair(0))),
        false,
    );
    // The structure: two EncryptedData, a CipherReference, the wrong Type, no key, an
    // empty EncryptedAssertion, a cipher value not base64.
    let doc = response(&encrypt(ASSERTION, way(AES128_GCM), pair(0)));
    let data_start = doc.find("<xenc:EncryptedData").unwrap();
    let data_end = doc.find("</xenc:EncryptedData>").unwrap() + "</xenc:EncryptedData>".len();
    let data = &doc[data_start..data_end];
    for broken in [
        doc.replace(data, &format!("{data}{data}")),
        doc.replacen(
            "<xenc:CipherValue>",
            "<xenc:CipherReference URI=\"https://evil.example/\"/><xenc:CipherValue>",
            1,
        ),
        doc.replace(
            "http://www.w3.org/2001/04/xmlenc#Element",
            "http://www.w3.org/2001/04/xmlenc#Content",
        ),
        doc.replace(
            &doc[doc.find("<ds:KeyInfo").unwrap()..doc.find("</ds:KeyInfo>").unwrap() + 13],
            "",
        ),
        response("<saml:EncryptedAssertion/>"),
        response("<saml:EncryptedAssertion></saml:EncryptedAssertion>"),
        doc.replacen("<xenc:CipherValue>", "<xenc:CipherValue>%%", 2),
        doc.replace(
            "<saml:Issuer>idp</saml:Issuer>",
            "<saml:Issuer>idp</saml:Issuer><saml:EncryptedAssertion/>",
        ),
    ] {
        let r = open(&broken, true).unwrap_err();
        assert!(r == invalid(), "{r}: {broken}");
    }
}

#[test]
fn a_key_is_checked_against_its_certificate_and_no_error_shows_the_key() {
    let (a, b) = (pair(0), pair(1));
    assert_eq!(
        DecryptionKey::from_pem(&a.key_pem, &b.certificate_pem).unwrap_err(),
        KeyError::Mismatch
    );
    assert_eq!(
        DecryptionKey::from_pem(&a.certificate_pem, &a.certificate_pem).unwrap_err(),
        KeyError::NotAKey
    );
    assert_eq!(
        DecryptionKey::from_pem(&a.key_pem, &a.key_pem).unwrap_err(),
        KeyError::Certificate
    );
    let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let small = String::from_utf8(small.private_key_to_pem_pkcs8().unwrap()).unwrap();
    assert_eq!(
        DecryptionKey::from_pem(&small, &a.certificate_pem).unwrap_err(),
        KeyError::NotRsa
    );
    let locked = PKey::private_key_from_pem(a.key_pem.as_bytes())
        .unwrap()
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_128_cbc(), b"secret")
        .unwrap();
    let locked = String::from_utf8(locked).unwrap();
    assert_eq!(
        DecryptionKey::from_pem(&locked, &a.certificate_pem).unwrap_err(),
        KeyError::NotAKey
    );
    let debug = format!("{:?}", a.key);
    for e in [
        KeyError::NotAKey,
        KeyError::NotRsa,
        KeyError::Certificate,
        KeyError::Mismatch,
    ] {
        let told = format!("{e} {debug}");
        for line in a.key_pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!told.contains(line), "{told}");
        }
    }
    assert!(encryption_certificate(&a.certificate_pem).is_ok());
    assert_eq!(
        encryption_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        Err(KeyError::Certificate)
    );
}

/// Pieces an `EncryptedAssertion` is made of, shuffled by the property test.
fn piece() -> impl Strategy<Value = String> {
    let algorithm = prop::sample::select(vec![
        AES128_GCM,
        AES256_GCM,
        AES128_CBC,
        AES256_CBC,
        RSA_OAEP_MGF1P,
        RSA_OAEP,
        RSA_1_5,
        SHA256,
        "",
    ]);
    let bytes = prop::collection::vec(any::<u8>(), 0..600);
    prop_oneof![
        bytes.prop_map(|b| format!(
            "<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>",
            base64::engine::general_purpose::STANDARD.encode(b)
        )),
        algorithm.prop_map(|a| format!("<xenc:EncryptionMethod Algorithm=\"{a}\"/>")),
        Just("<ds:KeyInfo><xenc:EncryptedKey>".to_owned()),
        Just("</xenc:EncryptedKey></ds:KeyInfo>".to_owned()),
        Just("<xenc:EncryptedData>".to_owned()),
        Just("</xenc:EncryptedData>".to_owned()),
        "[ -~]{0,40}",
    ]
}

proptest! {
    /// Garbage of every kind where the encrypted assertion goes is refused, never a panic.
    #[test]
    fn garbage_encrypted_assertions_are_refused_never_a_panic(
        pieces in prop::collection::vec(piece(), 0..12),
        authenticated in any::<bool>(),
    ) {
        let inner = format!(
            "<saml:EncryptedAssertion xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{}</saml:EncryptedAssertion>",
            pieces.concat()
        );
        prop_assert!(open(&response(&inner), authenticated).is_err());
    }

    /// A well-formed encrypted assertion whose ciphertexts are random bytes of any length
    /// (short, long, the RSA size exactly) is refused, never a panic.
    #[test]
    fn random_ciphertexts_of_every_length_are_refused_never_a_panic(
        key in prop::collection::vec(any::<u8>(), 0..300),
        key_exact in any::<bool>(),
        data in prop::collection::vec(any::<u8>(), 0..200),
        w in prop::sample::select(ACCEPTED.to_vec()),
        authenticated in any::<bool>(),
    ) {
        let doc = response(&encrypt(ASSERTION, w, pair(0)));
        let mut key = key;
        if key_exact {
            key.resize(256, 7);
        }
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let first = doc.find("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
        let first_end = first + doc[first..].find('<').unwrap();
        let last = doc.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
        let last_end = last + doc[last..].find('<').unwrap();
        let altered = format!(
            "{}{}{}{}{}",
            &doc[..first],
            b64(&key),
            &doc[first_end..last],
            b64(&data),
            &doc[last_end..]
        );
        prop_assert!(open(&altered, authenticated).is_err());
    }
}
