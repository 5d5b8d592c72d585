//! The counter rule and the relying party's configuration, as tables. The ceremonies are
//! tested end to end through the API with a software authenticator
//! (`rampart-server`'s `tests/api/passkeys.rs`) and in Chromium.

use super::*;

#[test]
fn a_counter_must_increase_unless_the_authenticator_keeps_none() {
    for (stored, presented, accepted) in [
        (0, 0, true),
        (0, 1, true),
        (5, 6, true),
        (5, 5, false),
        (5, 4, false),
        (5, 0, false),
        (u32::MAX - 1, u32::MAX, true),
        (u32::MAX, u32::MAX, false),
    ] {
        assert_eq!(
            counter_advances(stored, presented),
            accepted,
            "stored {stored}, presented {presented}"
        );
    }
}

#[test]
fn the_relying_party_comes_from_the_public_origin_and_is_never_guessed() {
    let ok = |origin: &str, id: &str| RelyingParty::new(origin, id, "Rampart");
    let rp = ok("https://rampart.example.org", "").unwrap();
    assert_eq!(
        (rp.id(), rp.origin()),
        ("rampart.example.org", "https://rampart.example.org")
    );
    let rp = ok("https://login.example.org:8443", "example.org").unwrap();
    assert_eq!(
        (rp.id(), rp.origin()),
        ("example.org", "https://login.example.org:8443")
    );
    assert!(ok("http://localhost:8080", "").is_ok());
    for (origin, id, says) in [
        ("", "", "public_origin"),
        ("https://127.0.0.1:8443", "", "IP address"),
        ("http://rampart.example.org", "", "not https"),
        (
            "https://rampart.example.org",
            "example.net",
            "neither the host",
        ),
        (
            "https://rampart.example.org",
            "ample.org",
            "neither the host",
        ),
        ("not a url", "", "public_origin"),
    ] {
        let err = ok(origin, id).unwrap_err();
        assert!(err.contains(says), "{origin} / {id}: {err}");
    }
}

#[test]
fn the_stored_counter_is_read_from_the_credential() {
    assert_eq!(stored_counter(r#"{"cred":{"counter":7}}"#), 7);
    assert_eq!(stored_counter("not json"), 0);
}

#[test]
fn a_registration_offers_the_relying_party_and_excludes_nothing_at_first() {
    let rp = RelyingParty::new("https://rampart.example.org", "", "Rampart").unwrap();
    let c = rp.start_registration(UserId::new(), "ada", &[]).unwrap();
    assert_eq!(c.options["publicKey"]["rp"]["id"], "rampart.example.org");
    assert_eq!(c.options["publicKey"]["user"]["name"], "ada");
    assert!(!c.state.is_empty());
    // A credential that is no credential is refused, not a panic.
    let refused = rp
        .finish_registration(&serde_json::json!({"id": 1}), &c.state, &[])
        .unwrap();
    assert_eq!(refused.unwrap_err(), Refusal::Malformed);
}

#[test]
fn a_registration_asks_for_a_discoverable_passkey_where_the_authenticator_can() {
    let rp = RelyingParty::new("https://rampart.example.org", "", "Rampart").unwrap();
    let c = rp.start_registration(UserId::new(), "ada", &[]).unwrap();
    let selection = &c.options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "preferred", "{selection}");
    assert_eq!(selection["requireResidentKey"], false, "{selection}");
    assert_eq!(selection["userVerification"], "required", "{selection}");
}

#[test]
fn an_enrolment_requires_a_discoverable_passkey() {
    let rp = RelyingParty::new("https://rampart.example.org", "", "Rampart").unwrap();
    let c = rp.start_enrolment(UserId::new(), "ada", &[]).unwrap();
    let selection = &c.options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{selection}");
    assert_eq!(selection["requireResidentKey"], true, "{selection}");
    assert_eq!(selection["userVerification"], "required", "{selection}");
}

#[test]
fn a_discovery_names_no_user_and_requires_user_verification() {
    let rp = RelyingParty::new("https://rampart.example.org", "", "Rampart").unwrap();
    let c = rp.start_discovery().unwrap();
    let options = &c.options["publicKey"];
    assert_eq!(options["rpId"], "rampart.example.org", "{options}");
    assert_eq!(options["userVerification"], "required", "{options}");
    let allowed = options["allowCredentials"].as_array().map_or(0, Vec::len);
    assert_eq!(allowed, 0, "no credential is named: {options}");
    assert!(c.options.get("mediation").is_none(), "{}", c.options);
    assert!(options["challenge"].as_str().is_some_and(|c| c.len() >= 43));
    // Two discoveries never share a challenge.
    let again = rp.start_discovery().unwrap();
    assert_ne!(
        again.options["publicKey"]["challenge"],
        options["challenge"]
    );
}

#[test]
fn an_answer_without_a_user_handle_or_of_another_shape_identifies_nobody() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    let rp = RelyingParty::new("https://rampart.example.org", "", "Rampart").unwrap();
    let answer = |user_handle: serde_json::Value| {
        serde_json::json!({
            "id": B64.encode(b"credential"),
            "rawId": B64.encode(b"credential"),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode([0u8; 37]),
                "clientDataJSON": B64.encode(b"{}"),
                "signature": B64.encode(b"sig"),
                "userHandle": user_handle,
            },
            "extensions": {},
        })
    };
    let user = UserId::new();
    assert_eq!(
        rp.identify(&answer(B64.encode(user.0.as_bytes()).into())),
        Ok(Discovered {
            user,
            credential_id: b"credential".to_vec()
        })
    );
    for (what, handle) in [
        ("no user handle", serde_json::Value::Null),
        ("a handle that is no user id", B64.encode(b"short").into()),
    ] {
        assert_eq!(
            rp.identify(&answer(handle)),
            Err(Refusal::UnknownCredential),
            "{what}"
        );
    }
    assert_eq!(
        rp.identify(&serde_json::json!({"id": 1})),
        Err(Refusal::Malformed)
    );
    // A stored credential that is not the one that answered is refused before anything.
    let c = rp.start_discovery().unwrap();
    assert!(rp
        .finish_discovery(&answer(serde_json::Value::Null), &c.state, "not json")
        .is_err());
}
