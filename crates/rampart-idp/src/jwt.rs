//! ES256 JSON Web Tokens (RFC 7515, 7518, 7519) and the key set (RFC 7517).
//!
//! Signing and verification are `ring`'s (`ECDSA_P256_SHA256_FIXED`); this module only
//! encodes: the protected header `{"alg":"ES256","kid":…,"typ":…}`, the claims as JSON,
//! both in unpadded base64url, and the 64-byte `r ‖ s` signature. Verification accepts
//! ES256 only (no `none`, no algorithm taken from the token), looks the key up by `kid`
//! among the published ones, and requires the header's `typ` the caller expects, so an
//! ID token (`JWT`) is never taken for an access token (`at+jwt`, RFC 9068) or back.
//!
//! Why ES256 by default: OpenID Connect requires providers to support RS256, but an RSA
//! signature costs about a millisecond where a P-256 one costs tens of microseconds, and
//! every grant signs one or two tokens (BENCHMARKS.md, "OpenID provider"). Every
//! certified relying-party library verifies ES256; a client registered with
//! `id_token_signed_response_alg=ES256` accepts it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Map, Value};

/// The one signing algorithm.
pub const ALG: &str = "ES256";
/// The `typ` of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";
/// The `typ` of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Why a key could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    Malformed,
    /// Another algorithm, another `typ`, or a `kid` not published.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// Another issuer.
    WrongIssuer,
    /// Not for this audience.
    WrongAudience,
    /// `exp` passed (or missing).
    Expired,
}

impl TokenError {
    /// A sentence for the error description (no token content).
    pub fn describe(self) -> &'static str {
        match self {
            TokenError::Malformed => "the token is not a JWT",
            TokenError::UnknownKey => "the token is not one this provider signs for this use",
            TokenError::BadSignature => "the token's signature does not verify",
            TokenError::WrongIssuer => "the token was issued by another issuer",
            TokenError::WrongAudience => "the token is for another audience",
            TokenError::Expired => "the token has expired",
        }
    }
}

/// A private signing key with its key id.
pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A new P-256 private key, PKCS#8 DER (what the store keeps).
pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| KeyError("no P-256 key could be generated"))
}

impl SigningKey {
    /// The key of PKCS#8 DER `der`, named `kid`.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| KeyError("the stored signing key is not a P-256 PKCS#8 key"))?;
        Ok(SigningKey {
            kid: kid.to_owned(),
            pair,
            rng,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            point: self.pair.public_key().as_ref().to_vec(),
        }
    }

    /// `claims` signed as a compact JWS with header `typ`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, KeyError> {
        let header = json!({ "alg": ALG, "kid": self.kid, "typ": typ });
        let mut out = URL_SAFE_NO_PAD.encode(header.to_string());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self
            .pair
            .sign(&self.rng, out.as_bytes())
            .map_err(|_| KeyError("signing failed"))?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(out)
    }
}

/// A published verification key: the uncompressed P-256 point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key id.
    pub kid: String,
    /// `0x04 ‖ x ‖ y`, 65 bytes.
    pub point: Vec<u8>,
}

impl PublicKey {
    /// The key as a JWK (RFC 7517, 7518 §6.2).
    pub fn jwk(&self) -> Value {
        let (x, y) = match self.point.get(1..33).zip(self.point.get(33..65)) {
            Some(xy) => xy,
            None => (&[][..], &[][..]),
        };
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
            "kid": self.kid,
            "use": "sig",
            "alg": ALG,
        })
    }
}

/// The claims of `token` if it is an ES256 JWS of header `typ` signed by one of `keys`.
/// The claims are not checked here: see [`check_claims`].
pub fn verify(
    token: &str,
    typ: &str,
    keys: &[PublicKey],
) -> Result<Map<String, Value>, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Malformed)
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some(ALG)
        || header.get("typ").and_then(Value::as_str) != Some(typ)
        || header.keys().any(|k| k == "crit")
    {
        return Err(TokenError::UnknownKey);
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let key = keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == kid)
        .ok_or(TokenError::UnknownKey)?;
    let signed_len = h.len() + 1 + c.len();
    let message = token.get(..signed_len).ok_or(TokenError::Malformed)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
        .verify(message.as_bytes(), &decode(s)?)
        .map_err(|_| TokenError::BadSignature)?;
    serde_json::from_slice(&decode(c)?).map_err(|_| TokenError::Malformed)
}

/// Checks the registered claims: `iss` is `issuer`, `exp` is after `now`, and, when
/// `audience` is given, `aud` is it or an array holding it.
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    audience: Option<&str>,
    now: i64,
) -> Result<(), TokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(TokenError::WrongIssuer);
    }
    if let Some(audience) = audience {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ok {
            return Err(TokenError::WrongAudience);
        }
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => Ok(()),
        _ => Err(TokenError::Expired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str) -> SigningKey {
        SigningKey::from_pkcs8(kid, &generate_pkcs8().unwrap()).unwrap()
    }

    #[test]
    fn signed_tokens_verify_with_their_key_only_and_for_their_use_only() {
        let k1 = key("k1");
        let k2 = key("k2");
        let claims =
            json!({ "iss": "https://idp.example", "aud": "wiki", "exp": 2000, "sub": "u" });
        let token = k1.sign(ID_TOKEN_TYP, &claims).unwrap();
        let keys = [k1.public(), k2.public()];
        let got = verify(&token, ID_TOKEN_TYP, &keys).unwrap();
        assert_eq!(Value::Object(got.clone()), claims);
        assert_eq!(
            check_claims(&got, "https://idp.example", Some("wiki"), 1999),
            Ok(())
        );
        assert_eq!(
            check_claims(&got, "https://idp.example", Some("wiki"), 2000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check_claims(&got, "https://other.example", Some("wiki"), 1),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            check_claims(&got, "https://idp.example", Some("blog"), 1),
            Err(TokenError::WrongAudience)
        );

        // Another use, a key no longer published, a key id pointing at another key.
        assert_eq!(
            verify(&token, ACCESS_TOKEN_TYP, &keys),
            Err(TokenError::UnknownKey)
        );
        assert_eq!(
            verify(&token, ID_TOKEN_TYP, &[k2.public()]),
            Err(TokenError::UnknownKey)
        );
        let mut swapped = k2.public();
        swapped.kid = "k1".into();
        assert_eq!(
            verify(&token, ID_TOKEN_TYP, &[swapped]),
            Err(TokenError::BadSignature)
        );

        // Altered claims, a stripped signature, `alg: none`.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({ "iss": "https://idp.example", "aud": "wiki", "exp": 9999, "sub": "admin" })
                .to_string(),
        );
        let altered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(
            verify(&altered, ID_TOKEN_TYP, &keys),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(&format!("{}.{}.", parts[0], parts[1]), ID_TOKEN_TYP, &keys),
            Err(TokenError::BadSignature)
        );
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1","typ":"JWT"}"#);
        assert_eq!(
            verify(&format!("{none}.{}.", parts[1]), ID_TOKEN_TYP, &keys),
            Err(TokenError::UnknownKey)
        );
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify(bad, ID_TOKEN_TYP, &keys),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_jwk_is_the_public_point() {
        let k = key("k1");
        let jwk = k.public().jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        assert_eq!([&[4u8][..], &x, &y].concat(), k.public().point);
        assert!(SigningKey::from_pkcs8("x", b"not a key").is_err());
    }
}
