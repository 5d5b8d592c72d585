use proptest::prelude::*;

use super::*;

const SURFACE: &str = r#"{"module":"crm","entities":[]}"#;

fn sealed(source: &str, version: i64, to: &EnvironmentKey, by: &PublisherKey) -> Package {
    let contents = Contents {
        module: "crm",
        version,
        surface: SURFACE,
        source,
    };
    match seal(contents, &to.recipient(), by) {
        Ok(p) => p,
        Err(e) => unreachable!("sealing failed: {e}"),
    }
}

#[test]
fn a_package_opens_and_unseals_with_the_environments_key_only() {
    let env = EnvironmentKey::generate();
    let other = EnvironmentKey::generate();
    let publisher = PublisherKey::generate().unwrap();
    let bytes = sealed("module: crm\n", 3, &env, &publisher).encode();
    let opened = Package::open(&bytes).unwrap();
    assert_eq!(opened.module(), "crm");
    assert_eq!(opened.version(), 3);
    assert_eq!(opened.surface(), SURFACE);
    assert_eq!(opened.recipient(), env.recipient());
    assert_eq!(opened.publisher(), publisher.public().to_string());
    assert_eq!(opened.digest(), digest("module: crm\n"));
    assert_eq!(opened.unseal(&env).unwrap().as_str(), "module: crm\n");
    assert_eq!(
        opened.unseal(&other).unwrap_err(),
        SealError::WrongRecipient(env.recipient())
    );
    // The source is nowhere in the clear.
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("module: crm"));
}

#[test]
fn every_single_byte_changed_is_refused() {
    let env = EnvironmentKey::generate();
    let publisher = PublisherKey::generate().unwrap();
    let bytes = sealed("module: crm\nsecret: logic\n", 1, &env, &publisher).encode();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut altered = bytes.clone();
            altered[i] ^= mask;
            assert!(
                Package::open(&altered).is_err(),
                "byte {i} xor {mask:#x} was accepted"
            );
        }
    }
    assert!(Package::open(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(b' ');
    assert!(Package::open(&longer).is_err());
}

#[test]
fn a_field_changed_and_signed_again_by_another_key_names_that_key() {
    let env = EnvironmentKey::generate();
    let vendor = PublisherKey::generate().unwrap();
    let forger = PublisherKey::generate().unwrap();
    let p = sealed("module: crm\n", 1, &env, &vendor);
    // A forger cannot keep the vendor's name: re-signing changes the publisher field.
    let mut wire = p.wire.clone();
    wire.version = 9;
    wire.signature = B64.encode(forger.0.sign(&signed_message(&wire, &p.payload)).to_bytes());
    let forged = Package {
        wire,
        payload: p.payload.clone(),
    };
    assert_eq!(
        Package::open(&forged.encode()).unwrap_err(),
        SealError::BadSignature
    );
}

#[test]
fn a_digest_that_does_not_match_the_source_is_refused_even_when_signed() {
    let env = EnvironmentKey::generate();
    let vendor = PublisherKey::generate().unwrap();
    let p = sealed("module: crm\n", 1, &env, &vendor);
    let mut wire = p.wire.clone();
    wire.digest = digest("something else");
    wire.signature = B64.encode(vendor.0.sign(&signed_message(&wire, &p.payload)).to_bytes());
    let lying = Package::open(
        &Package {
            wire,
            payload: p.payload.clone(),
        }
        .encode(),
    )
    .unwrap();
    assert_eq!(lying.unseal(&env).unwrap_err(), SealError::DigestMismatch);
}

#[test]
fn keys_round_trip_through_their_text_and_bad_texts_are_refused() {
    let k = PublisherKey::generate().unwrap();
    let again = PublisherKey::parse(&k.to_text()).unwrap();
    assert_eq!(again.public(), k.public());
    assert_eq!(
        PublisherId::parse(&k.public().to_string()).unwrap(),
        k.public()
    );
    let e = EnvironmentKey::generate();
    assert_eq!(
        EnvironmentKey::parse(&e.to_text()).unwrap().recipient(),
        e.recipient()
    );
    assert_eq!(parse_recipient(&e.recipient()).unwrap(), e.recipient());
    for bad in [
        "",
        "ed25519:",
        "ed25519:AAAA",
        "age1xyz",
        "RAMPART-PUBLISHER-SECRET-KEY-1:zz",
    ] {
        assert!(PublisherId::parse(bad).is_err(), "{bad}");
        assert!(PublisherKey::parse(bad).is_err(), "{bad}");
        assert!(EnvironmentKey::parse(bad).is_err(), "{bad}");
        assert!(parse_recipient(bad).is_err(), "{bad}");
    }
    // The secret never shows in Debug.
    assert!(!format!("{k:?}").contains(k.to_text().as_str()));
    assert!(!format!("{e:?}").contains("AGE-SECRET"));
}

#[test]
fn other_formats_and_bad_versions_are_refused() {
    assert!(Package::open(b"").is_err());
    assert!(Package::open(b"{}\n").is_err());
    let env = EnvironmentKey::generate();
    let vendor = PublisherKey::generate().unwrap();
    let contents = Contents {
        module: "crm",
        version: 0,
        surface: SURFACE,
        source: "x",
    };
    assert!(seal(contents, &env.recipient(), &vendor).is_err());
    let contents = Contents {
        version: 1,
        surface: "not json",
        ..contents
    };
    assert!(seal(contents, &env.recipient(), &vendor).is_err());
    let text = String::from_utf8(sealed("x", 1, &env, &vendor).encode()).unwrap();
    let other = text.replacen(FORMAT, "rampart-sealed/2", 1);
    assert!(matches!(
        Package::open(other.as_bytes()),
        Err(SealError::Malformed(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_source_round_trips(source in "\\PC{0,300}", version in 1i64..1_000_000) {
        let env = EnvironmentKey::generate();
        let vendor = PublisherKey::generate().unwrap();
        let bytes = sealed(&source, version, &env, &vendor).encode();
        let opened = Package::open(&bytes).unwrap();
        prop_assert_eq!(opened.version(), version);
        let unsealed = opened.unseal(&env).unwrap();
        prop_assert_eq!(unsealed.as_str(), source.as_str());
    }

    #[test]
    fn a_flipped_byte_anywhere_is_refused(at in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let env = EnvironmentKey::generate();
        let vendor = PublisherKey::generate().unwrap();
        let mut bytes = sealed("module: crm\n", 2, &env, &vendor).encode();
        let i = at.index(bytes.len());
        bytes[i] ^= mask;
        prop_assert!(Package::open(&bytes).is_err());
    }
}
