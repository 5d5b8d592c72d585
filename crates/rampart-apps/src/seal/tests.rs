use super::*;
use proptest::prelude::*;

const TABLE: &str = "crm_production.customer";
const RECORD: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

fn place() -> Aad<'static> {
    Aad::new(TABLE, "vat_number", RECORD)
}

/// A data key with known bytes, so tests can look for them.
fn data_key(id: u32, bytes: [u8; KEY_LEN]) -> DataKey {
    DataKey {
        id,
        key: Zeroizing::new(bytes),
    }
}

fn counting(from: u8) -> [u8; KEY_LEN] {
    std::array::from_fn(|i| from.wrapping_add(i as u8))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_sealed_value_opens_to_itself_with_its_key_id_in_front() {
    let key = DataKey::generate(7).unwrap();
    for value in [&b""[..], b"BE0123456789", &[0xa5; 1024]] {
        let envelope = key.seal(value, &place()).unwrap();
        assert_eq!(envelope.len(), value.len() + ENVELOPE_OVERHEAD);
        assert_eq!(envelope[..HEADER_LEN], [1, 0, 0, 0, 7]);
        if !value.is_empty() {
            // The value does not appear in the envelope.
            assert!(!envelope.windows(value.len()).any(|w| w == value));
        }
        assert_eq!(key.open(&envelope, &place()).unwrap(), value);
    }
}

#[test]
fn a_value_does_not_open_for_another_table_attribute_or_record() {
    let key = DataKey::generate(1).unwrap();
    let envelope = key.seal(b"BE0123456789", &place()).unwrap();
    let elsewhere = [
        Aad::new(TABLE, "vat_number", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"),
        Aad::new(TABLE, "iban", RECORD),
        Aad::new("crm_staging.customer", "vat_number", RECORD),
        Aad::new("", "", ""),
        // The same bytes with the boundaries moved: length prefixes tell them apart.
        Aad::new("crm_production.customervat_number", "", RECORD),
        Aad::new(TABLE, "vat_number0190a1b2", "-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
    ];
    for aad in elsewhere {
        assert_eq!(
            key.open(&envelope, &aad),
            Err(SealError::Authentication),
            "{aad:?}"
        );
    }
}

#[test]
fn every_flipped_bit_of_an_envelope_is_refused() {
    let key = DataKey::generate(3).unwrap();
    let envelope = key.seal(b"a sensitive value", &place()).unwrap();
    for byte in 0..envelope.len() {
        for bit in 0..8 {
            let mut altered = envelope.clone();
            altered[byte] ^= 1 << bit;
            let expected = match byte {
                0 => SealError::UnknownVersion {
                    version: 1 ^ (1 << bit),
                },
                1..HEADER_LEN => SealError::WrongKeyId {
                    found: envelope_key_id(&altered).unwrap(),
                    expected: 3,
                },
                _ => SealError::Authentication,
            };
            assert_eq!(
                key.open(&altered, &place()),
                Err(expected),
                "byte {byte} bit {bit}"
            );
        }
    }
}

#[test]
fn a_truncated_envelope_is_refused_without_panicking() {
    let key = DataKey::generate(3).unwrap();
    let envelope = key.seal(b"a sensitive value", &place()).unwrap();
    for len in 0..envelope.len() {
        let result = key.open(&envelope[..len], &place());
        if len < ENVELOPE_OVERHEAD {
            let error = result.unwrap_err();
            assert_eq!(
                error,
                SealError::Malformed {
                    what: "sealed value",
                    len
                }
            );
            assert_eq!(
                error.to_string(),
                format!("malformed sealed value: {len} bytes cannot be one")
            );
        } else {
            // Long enough to parse, but the tag is not where it was.
            assert_eq!(result, Err(SealError::Authentication), "{len}");
        }
    }
}

#[test]
fn sealing_the_same_value_twice_gives_different_envelopes() {
    let key = DataKey::generate(1).unwrap();
    let one = key.seal(b"BE0123456789", &place()).unwrap();
    let two = key.seal(b"BE0123456789", &place()).unwrap();
    assert_ne!(
        one[HEADER_LEN..HEADER_LEN + NONCE_LEN],
        two[HEADER_LEN..HEADER_LEN + NONCE_LEN]
    );
    assert_ne!(one[HEADER_LEN + NONCE_LEN..], two[HEADER_LEN + NONCE_LEN..]);
    assert_eq!(key.open(&one, &place()), key.open(&two, &place()));
}

#[test]
fn the_key_id_is_read_back_and_a_key_of_another_id_or_bytes_refuses() {
    for id in [0, 7, 0x0102_0304, u32::MAX] {
        let key = DataKey::generate(id).unwrap();
        let envelope = key.seal(b"x", &place()).unwrap();
        assert_eq!(envelope_key_id(&envelope), Some(id));
        assert_eq!(key.id(), id);
        let other = DataKey::generate(id.wrapping_add(1)).unwrap();
        assert_eq!(
            other.open(&envelope, &place()),
            Err(SealError::WrongKeyId {
                found: id,
                expected: id.wrapping_add(1)
            })
        );
        // Another key that claims the same id: the tag does not verify.
        let impostor = DataKey::generate(id).unwrap();
        assert_eq!(
            impostor.open(&envelope, &place()),
            Err(SealError::Authentication)
        );
    }
    let envelope = DataKey::generate(9).unwrap().seal(b"", &place()).unwrap();
    assert_eq!(envelope_key_id(&envelope[..ENVELOPE_OVERHEAD - 1]), None);
    let mut future = envelope.clone();
    future[0] = 2;
    assert_eq!(envelope_key_id(&future), None);
    assert_eq!(envelope_key_id(&[]), None);
}

#[test]
fn wrapped_keys_unwrap_to_the_same_keys_under_their_master_key_only() {
    let master = MasterKey::generate().unwrap();
    let data = DataKey::generate(42).unwrap();
    let index = IndexKey::generate().unwrap();

    let wrapped = master.wrap_data_key(&data).unwrap();
    assert_eq!(wrapped.len(), 77);
    assert_eq!(wrapped[..HEADER_LEN], [1, 0, 0, 0, 42]);
    assert!(!wrapped.windows(KEY_LEN).any(|w| w == &data.key[..]));
    let unwrapped = master.unwrap_data_key(&wrapped).unwrap();
    assert_eq!((unwrapped.id, *unwrapped.key), (data.id, *data.key));
    let envelope = data.seal(b"BE0123456789", &place()).unwrap();
    assert_eq!(
        unwrapped.open(&envelope, &place()).unwrap(),
        b"BE0123456789"
    );

    let wrapped_index = master.wrap_index_key(&index).unwrap();
    assert_eq!(wrapped_index.len(), 73);
    let unwrapped = master.unwrap_index_key(&wrapped_index).unwrap();
    assert_eq!(*unwrapped.key, *index.key);

    let other = MasterKey::generate().unwrap();
    assert_eq!(
        other.unwrap_data_key(&wrapped).unwrap_err(),
        SealError::Authentication
    );
    assert_eq!(
        other.unwrap_index_key(&wrapped_index).unwrap_err(),
        SealError::Authentication
    );

    // The key id is bound: a wrapped key relabelled with another id does not unwrap.
    let mut relabelled = wrapped.clone();
    relabelled[HEADER_LEN - 1] = 43;
    assert_eq!(
        master.unwrap_data_key(&relabelled).unwrap_err(),
        SealError::Authentication
    );

    // One kind of wrapped key is not the other.
    assert!(matches!(
        master.unwrap_index_key(&wrapped),
        Err(SealError::Malformed {
            what: "wrapped index key",
            len: 77
        })
    ));
    assert!(matches!(
        master.unwrap_data_key(&wrapped_index),
        Err(SealError::Malformed {
            what: "wrapped data key",
            len: 73
        })
    ));
}

#[test]
fn a_damaged_wrapped_key_is_refused_without_panicking() {
    let master = MasterKey::generate().unwrap();
    let wrapped = master
        .wrap_data_key(&DataKey::generate(1).unwrap())
        .unwrap();
    for len in 0..wrapped.len() {
        assert_eq!(
            master.unwrap_data_key(&wrapped[..len]).unwrap_err(),
            SealError::Malformed {
                what: "wrapped data key",
                len
            }
        );
    }
    let mut longer = wrapped.clone();
    longer.push(0);
    assert!(matches!(
        master.unwrap_data_key(&longer),
        Err(SealError::Malformed { .. })
    ));
    for byte in 1..wrapped.len() {
        let mut altered = wrapped.clone();
        altered[byte] ^= 0x10;
        assert_eq!(
            master.unwrap_data_key(&altered).unwrap_err(),
            SealError::Authentication,
            "{byte}"
        );
    }
    let mut future = wrapped;
    future[0] = 2;
    assert_eq!(
        master.unwrap_data_key(&future).unwrap_err(),
        SealError::UnknownVersion { version: 2 }
    );
}

#[test]
fn wrapped_keys_and_values_do_not_open_as_each_other_even_under_one_key() {
    // A sealed 32-byte value has exactly the layout of a wrapped data key. Were the same key
    // bytes ever used as master and data key, their associated data would still keep them
    // apart.
    let bytes = counting(0x10);
    let master = MasterKey {
        key: Zeroizing::new(bytes),
    };
    let data = data_key(5, bytes);
    let envelope = data.seal(&counting(0x80), &place()).unwrap();
    assert_eq!(envelope.len(), 77);
    assert_eq!(
        master.unwrap_data_key(&envelope).unwrap_err(),
        SealError::Authentication
    );
    let wrapped = master.wrap_data_key(&data).unwrap();
    assert_eq!(
        data.open(&wrapped, &place()),
        Err(SealError::Authentication)
    );
}

/// The formats written at the top of `seal.rs`, computed independently with libsodium
/// (PyNaCl's `crypto_aead_xchacha20poly1305_ietf_encrypt`) and Python's `hmac`: the
/// documentation is enough to read what this module writes, and stored values stay
/// readable.
#[test]
fn the_stored_formats_are_those_documented() {
    let key = data_key(0x0102_0304, counting(0));
    let nonce: [u8; NONCE_LEN] = counting(0x40)[..NONCE_LEN].try_into().unwrap();
    let header = header(key.id);
    let value = b"BE0123456789";
    let envelope = "0101020304404142434445464748494a4b4c4d4e4f5051525354555657\
                    967c3541e2d34d23b9c3bf879ad529dce104ba1955ed4022e9e3b87c";
    let sealed = seal_with_nonce(&key.key, &header, &nonce, &place().encode(&header), value);
    assert_eq!(hex(&sealed.unwrap()), envelope);
    assert_eq!(key.open(&unhex(envelope), &place()).unwrap(), value);

    let master = MasterKey {
        key: Zeroizing::new(counting(0xa0)),
    };
    let wrapped_data = "0101020304606162636465666768696a6b6c6d6e6f7071727374757677\
                        435a414fbc5498a8d79961877def465d729d4296799570f5b8bc16e5f3d9e873\
                        eb0e0aa385a372739086b95ffce17ef3";
    let unwrapped = master.unwrap_data_key(&unhex(wrapped_data)).unwrap();
    assert_eq!((unwrapped.id, *unwrapped.key), (key.id, counting(0)));
    let wrapped_index = "01606162636465666768696a6b6c6d6e6f7071727374757677\
                         435a414fbc5498a8d79961877def465d729d4296799570f5b8bc16e5f3d9e873\
                         544438a8752f4f9df6e8934688cfac5d";
    let unwrapped = master.unwrap_index_key(&unhex(wrapped_index)).unwrap();
    assert_eq!(*unwrapped.key, counting(0));

    let index = IndexKey {
        key: Zeroizing::new(counting(0)),
    };
    assert_eq!(
        hex(&index.blind_index(TABLE, "vat_number", value)),
        "a9875aea15618c8c19927ce6944641e9f82a3b39c4bda5a079277677a2d9989b"
    );
}

#[test]
fn a_master_key_text_is_32_bytes_of_standard_base64() {
    let key = MasterKey::generate().unwrap();
    let text = key.encode();
    assert_eq!(text.len(), 44);
    let read = MasterKey::parse(&format!("\n  {}\t\r\n", *text)).unwrap();
    assert_eq!(*read.key, *key.key);

    let secret_looking = "correct horse battery staple";
    let cases = [
        ("", SealError::MasterKeyLength),
        ("   \n", SealError::MasterKeyLength),
        (&STANDARD.encode([7u8; 31])[..], SealError::MasterKeyLength),
        (&STANDARD.encode([7u8; 33])[..], SealError::MasterKeyLength),
        (&STANDARD.encode([7u8; 64])[..], SealError::MasterKeyLength),
        (&STANDARD.encode([7u8; 16])[..], SealError::MasterKeyLength),
        (secret_looking, SealError::MasterKeyEncoding),
        // Unpadded, URL-safe alphabet, a space inside: not the standard form.
        (text.trim_end_matches('='), SealError::MasterKeyEncoding),
        (
            "_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-8=",
            SealError::MasterKeyEncoding,
        ),
        (
            &format!("{} {}", &text[..20], &text[20..]),
            SealError::MasterKeyEncoding,
        ),
    ];
    for (input, expected) in cases {
        let error = MasterKey::parse(input).unwrap_err();
        assert_eq!(error, expected, "{input:?}");
        let shown = format!("{error} {error:?}");
        let input = input.trim();
        assert!(input.is_empty() || !shown.contains(input), "{shown}");
    }
}

#[test]
fn debug_shows_no_key_bytes() {
    let bytes = counting(0x21);
    let renderings = [
        STANDARD.encode(bytes),
        hex(&bytes),
        format!("{bytes:?}"),
        format!("{:?}", &bytes[..4])
            .trim_end_matches(']')
            .to_owned(),
    ];
    let master = MasterKey {
        key: Zeroizing::new(bytes),
    };
    let data = data_key(12, bytes);
    let index = IndexKey {
        key: Zeroizing::new(bytes),
    };
    let shown = [
        format!("{master:?}"),
        format!("{data:?}"),
        format!("{index:?}"),
    ];
    assert_eq!(
        shown,
        [
            "MasterKey(<redacted>)",
            "DataKey { id: 12, .. }",
            "IndexKey(<redacted>)"
        ]
    );
    for text in &shown {
        for rendering in &renderings {
            assert!(!text.contains(rendering.as_str()), "{text}");
        }
    }
}

#[test]
fn blind_indexes_are_equal_exactly_for_the_same_key_table_attribute_and_value() {
    let key = IndexKey::generate().unwrap();
    let same = key.clone();
    let index = key.blind_index(TABLE, "vat_number", b"BE0123456789");
    assert_eq!(
        same.blind_index(TABLE, "vat_number", b"BE0123456789"),
        index
    );
    let others = [
        key.blind_index(TABLE, "vat_number", b"BE0123456780"),
        key.blind_index(TABLE, "vat_number", b""),
        key.blind_index(TABLE, "iban", b"BE0123456789"),
        key.blind_index("crm_staging.customer", "vat_number", b"BE0123456789"),
        // The boundaries moved between attribute and value.
        key.blind_index(TABLE, "vat_numberBE", b"0123456789"),
        IndexKey::generate()
            .unwrap()
            .blind_index(TABLE, "vat_number", b"BE0123456789"),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(*other, index, "{i}");
    }
}

#[test]
fn the_padded_hmac_key_is_hmac_with_the_key_itself() {
    let key = IndexKey {
        key: Zeroizing::new(counting(0x33)),
    };
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&counting(0x33)).unwrap();
    for part in [LABEL_BLIND_INDEX, b"t", b"a", b"v"] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    let expected: [u8; 32] = mac.finalize().into_bytes().into();
    assert_eq!(key.blind_index("t", "a", b"v"), expected);
}

/// Three fields, short and from any script, so that empty and repeated fields come up.
fn any_place() -> impl Strategy<Value = (String, String, String)> {
    ("\\PC{0,12}", "\\PC{0,12}", "\\PC{0,12}")
}

proptest! {
    #[test]
    fn a_value_opens_where_it_was_sealed_and_nowhere_else(
        value in proptest::collection::vec(any::<u8>(), 0..2000),
        (table, attribute, record) in any_place(),
        (table2, attribute2, record2) in any_place(),
    ) {
        let key = DataKey::generate(1).unwrap();
        let aad = Aad::new(&table, &attribute, &record);
        let envelope = key.seal(&value, &aad).unwrap();
        prop_assert_eq!(key.open(&envelope, &aad).unwrap(), value);
        let other = Aad::new(&table2, &attribute2, &record2);
        prop_assume!(other != aad);
        prop_assert_eq!(key.open(&envelope, &other), Err(SealError::Authentication));
    }

    /// Two places whose fields join to the same text: only the same split opens.
    #[test]
    fn moving_a_boundary_between_fields_is_another_place(
        joined in "[ab]{0,6}",
        cuts in (0..=6usize, 0..=6usize, 0..=6usize, 0..=6usize),
    ) {
        let split = |i: usize, j: usize| {
            let (i, j) = (i.min(joined.len()), j.min(joined.len()));
            let (i, j) = (i.min(j), i.max(j));
            Aad::new(&joined[..i], &joined[i..j], &joined[j..])
        };
        let (one, two) = (split(cuts.0, cuts.1), split(cuts.2, cuts.3));
        let key = DataKey::generate(1).unwrap();
        let envelope = key.seal(b"value", &one).unwrap();
        let opened = key.open(&envelope, &two);
        if one == two {
            prop_assert_eq!(opened.unwrap(), b"value");
        } else {
            prop_assert_eq!(opened, Err(SealError::Authentication));
        }
    }
}

#[test]
fn a_platform_secret_opens_only_for_its_purpose_and_owner_under_its_master_key() {
    let master = MasterKey::generate().unwrap();
    let sealed = master
        .seal_secret("totp", "user-1", b"twenty bytes secret!")
        .unwrap();
    assert_eq!(sealed.len(), 1 + 24 + 20 + 16);
    assert_eq!(
        master
            .open_secret("totp", "user-1", &sealed)
            .unwrap()
            .as_slice(),
        b"twenty bytes secret!"
    );
    for (purpose, owner) in [("totp", "user-2"), ("other", "user-1"), ("totpuser-1", "")] {
        assert_eq!(
            master.open_secret(purpose, owner, &sealed).err(),
            Some(SealError::Authentication),
            "{purpose}/{owner}"
        );
    }
    let other = MasterKey::generate().unwrap();
    assert!(other.open_secret("totp", "user-1", &sealed).is_err());
    for cut in 0..sealed.len() {
        assert!(master
            .open_secret("totp", "user-1", &sealed[..cut])
            .is_err());
    }
    // Neither a value envelope nor a wrapped key opens as a secret.
    let key = data_key(1, counting(0));
    let wrapped = master.wrap_data_key(&key).unwrap();
    assert!(master.open_secret("totp", "user-1", &wrapped).is_err());
}
