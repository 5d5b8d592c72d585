//! ID-token signing and validation in process: what every grant and every userinfo or
//! introspection call costs in cryptography. ES256 (the provider's algorithm) beside
//! RS256 (RSA-2048, which OpenID Connect requires providers to support) and EdDSA
//! (Ed25519), all through `ring`, over the same header and claims, so the choice of the
//! default is measured rather than assumed. `rsa2048.pk8.der` is a throw-away key made
//! for this bench with `openssl genpkey` and `openssl pkcs8 -topk8 -nocrypt -outform DER` (ring
//! cannot generate RSA keys).
//!
//! ```text
//! cargo bench -p rampart-idp --bench tokens
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use rampart_idp::grant::{id_token_claims, Profile};
use rampart_idp::jwt::{check_claims, generate_pkcs8, verify, Alg, SigningKey, ID_TOKEN_TYP};
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey};

const RSA_KEY: &[u8] = include_bytes!("rsa2048.pk8.der");

fn tokens(c: &mut Criterion) {
    let key =
        SigningKey::from_pkcs8("k1", Alg::Es256, &generate_pkcs8(Alg::Es256).unwrap()).unwrap();
    let keys = [key.public()];
    let profile = Profile {
        sub: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        username: "alice",
        name: Some("Alice"),
        email: Some("alice@example.com"),
    };
    let scopes: Vec<String> = ["email", "openid", "profile"].map(String::from).to_vec();
    let now = 1_780_000_000;
    let claims = id_token_claims(
        "https://rampart.example",
        "wiki",
        &profile,
        &scopes,
        Some("n-0S6_WzA2Mj"),
        now,
        now,
        300,
    );
    let token = key.sign(ID_TOKEN_TYP, &claims).unwrap();
    c.bench_function("id_token_sign_es256", |b| {
        b.iter(|| key.sign(ID_TOKEN_TYP, &claims).unwrap())
    });
    c.bench_function("id_token_validate_es256", |b| {
        b.iter(|| {
            let got = verify(&token, ID_TOKEN_TYP, &keys).unwrap();
            check_claims(&got, "https://rampart.example", Some("wiki"), now + 1).unwrap();
        })
    });

    // The same signing input under the other two algorithms (signature only: encoding and
    // claim checks cost the same for all three).
    let input = token.rsplit_once('.').unwrap().0.as_bytes().to_vec();
    let rng = SystemRandom::new();
    let rsa = RsaKeyPair::from_pkcs8(RSA_KEY).unwrap();
    let mut rsa_sig = vec![0; rsa.public().modulus_len()];
    rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, &input, &mut rsa_sig)
        .unwrap();
    let rsa_public = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        rsa.public().as_ref().to_vec(),
    );
    c.bench_function("sign_rs256", |b| {
        b.iter(|| {
            let mut out = vec![0; rsa.public().modulus_len()];
            rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, &input, &mut out)
                .unwrap();
            URL_SAFE_NO_PAD.encode(out)
        })
    });
    c.bench_function("verify_rs256", |b| {
        b.iter(|| rsa_public.verify(&input, &rsa_sig).unwrap())
    });
    let ed =
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
    let ed_sig = ed.sign(&input);
    let ed_public = UnparsedPublicKey::new(&signature::ED25519, ed.public_key().as_ref().to_vec());
    c.bench_function("sign_eddsa", |b| {
        b.iter(|| URL_SAFE_NO_PAD.encode(ed.sign(&input)))
    });
    c.bench_function("verify_eddsa", |b| {
        b.iter(|| ed_public.verify(&input, ed_sig.as_ref()).unwrap())
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
