#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use super::*;
use proptest::prelude::*;

/// RFC 4226 appendix D and RFC 6238 appendix B use this ASCII secret for SHA-1.
fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
}

#[test]
fn hotp_and_totp_give_the_rfc_test_vectors() {
    let secret = rfc_secret();
    let hotp = [
        755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
    ];
    for (counter, expected) in hotp.iter().enumerate() {
        assert_eq!(
            secret.hotp(counter as u64, 6),
            *expected,
            "counter {counter}"
        );
    }
    // RFC 6238 appendix B, SHA-1, 8 digits.
    for (unix, expected) in [
        (59, 94287082),
        (1111111109, 7081804),
        (1111111111, 14050471),
        (1234567890, 89005924),
        (2000000000, 69279037),
        (20000000000, 65353130),
    ] {
        let step = u64::try_from(step_of(unix)).unwrap();
        assert_eq!(secret.hotp(step, 8), expected, "time {unix}");
    }
}

#[test]
fn a_code_is_accepted_once_within_one_step_either_side_and_never_again() {
    let secret = rfc_secret();
    let now = 1_700_000_015;
    let step = step_of(now);
    let code = |s: i64| format!("{:06}", secret.code_at_step(s));
    // The step before, now and the one after are accepted; two steps away is wrong.
    for d in [-1, 0, 1] {
        assert_eq!(
            verify(&secret, &code(step + d), now, None),
            Verdict::Accepted { step: step + d }
        );
    }
    for d in [-2, 2] {
        assert_eq!(verify(&secret, &code(step + d), now, None), Verdict::Wrong);
    }
    // Once step is accepted, its code and the one before are replays; the next still works.
    assert_eq!(
        verify(&secret, &code(step), now, Some(step)),
        Verdict::Replayed
    );
    assert_eq!(
        verify(&secret, &code(step - 1), now, Some(step)),
        Verdict::Replayed
    );
    assert_eq!(
        verify(&secret, &code(step + 1), now, Some(step)),
        Verdict::Accepted { step: step + 1 }
    );
    // Spaces between digits are fine; anything else is a wrong code, never an error.
    let spaced = format!("{} {}", &code(step)[..3], &code(step)[3..]);
    assert_eq!(
        verify(&secret, &spaced, now, None),
        Verdict::Accepted { step }
    );
    for typed in ["", "12345", "1234567", "12a456", "１２３４５６", "-12345"] {
        assert_eq!(verify(&secret, typed, now, None), Verdict::Wrong, "{typed}");
    }
}

#[test]
fn the_uri_carries_the_secret_and_escapes_the_label() {
    let secret = rfc_secret();
    let uri = secret.otpauth_uri("Rampart (prod)", "it:alice@example.com");
    assert_eq!(
        uri.as_str(),
        "otpauth://totp/Rampart%20%28prod%29:it%3Aalice%40example.com?\
         secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Rampart%20%28prod%29\
         &algorithm=SHA1&digits=6&period=30"
    );
    assert!(!format!("{secret:?}").contains("GEZD"));
    let fresh = TotpSecret::generate().unwrap();
    assert_eq!(fresh.as_bytes().len(), SECRET_LEN);
    assert_ne!(fresh.as_bytes(), TotpSecret::generate().unwrap().as_bytes());
    assert!(TotpSecret::from_bytes(vec![1; 9]).is_err());
    let back = TotpSecret::from_base32(&fresh.base32().to_ascii_lowercase()).unwrap();
    assert_eq!(back.as_bytes(), fresh.as_bytes());
    assert!(TotpSecret::from_base32("not base32!").is_err());
}

#[test]
fn recovery_codes_are_distinct_and_read_back_however_typed() {
    let codes = RecoveryCodes::generate().unwrap();
    assert_eq!(codes.shown.len(), RECOVERY_CODES);
    let mut digests = codes.digests.clone();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(digests.len(), RECOVERY_CODES);
    for (shown, digest) in codes.shown.iter().zip(&codes.digests) {
        assert_eq!(shown.len(), 19);
        assert_eq!(recovery_digest(shown), Some(*digest));
        let typed = shown.replace('-', " ").to_ascii_uppercase();
        assert_eq!(recovery_digest(&typed), Some(*digest));
    }
    for bad in [
        "",
        "abcd-efgh",
        "abcd-efgh-jkmn-pqr0",
        "abcd-efgh-jkmn-pqrst",
    ] {
        assert_eq!(recovery_digest(bad), None, "{bad}");
    }
    assert!(!format!("{codes:?}").contains(codes.shown[0].as_str()));
}

#[test]
fn pending_tokens_hash_back_and_malformed_ones_are_refused() {
    let token = PendingToken::generate().unwrap();
    assert_eq!(hash_pending(token.secret()), Some(token.hash()));
    let secret = token.secret();
    for bad in [
        String::new(),
        secret[..secret.len() - 1].to_owned(),
        secret.replacen("rpp_", "rps_", 1),
        format!("rpp_{}", "!".repeat(43)),
    ] {
        assert_eq!(hash_pending(&bad), None, "{bad}");
    }
    assert!(!format!("{token:?}").contains(secret));
}

/// RFC 4226's HOTP written out the slow, obvious way: the truncation byte by byte.
fn reference_hotp(secret: &[u8], counter: i64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&(counter as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes().to_vec();
    let offset = (digest[19] % 16) as usize;
    let binary = ((u64::from(digest[offset]) & 0x7f) << 24)
        | (u64::from(digest[offset + 1]) << 16)
        | (u64::from(digest[offset + 2]) << 8)
        | u64::from(digest[offset + 3]);
    (binary % 1_000_000) as u32
}

/// The window rule as a person states it: the code is that of some second within 30 s
/// either side of now, whose step is later than the last one used; the latest such step
/// wins.
fn reference_verify(secret: &[u8], typed: &str, unix: i64, last: Option<i64>) -> Verdict {
    let typed: String = typed.chars().filter(|c| *c != ' ').collect();
    let mut accepted: Option<i64> = None;
    let mut replayed = false;
    for second in unix - 30..=unix + 30 {
        let step = second.div_euclid(30);
        if step < 0 {
            continue;
        }
        if format!("{:06}", reference_hotp(secret, step)) == typed {
            if last.is_none_or(|l| step > l) {
                accepted = accepted.max(Some(step));
            } else {
                replayed = true;
            }
        }
    }
    match (accepted, replayed) {
        (Some(step), _) => Verdict::Accepted { step },
        (None, true) => Verdict::Replayed,
        (None, false) => Verdict::Wrong,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn verify_agrees_with_the_slow_reference(
        bytes in proptest::collection::vec(any::<u8>(), 20),
        unix in 0i64..4_000_000_000,
        offset in -3i64..=3,
        last_offset in proptest::option::of(-3i64..=3),
        random_code in 0u32..1_000_000,
        use_random in proptest::bool::weighted(0.2),
    ) {
        let secret = TotpSecret::from_bytes(bytes.clone()).unwrap();
        let now = step_of(unix);
        let typed = if use_random {
            format!("{random_code:06}")
        } else {
            format!("{:06}", secret.code_at_step(now + offset))
        };
        let last = last_offset.map(|d| now + d);
        prop_assert_eq!(
            verify(&secret, &typed, unix, last),
            reference_verify(&bytes, &typed, unix, last)
        );
    }
}
