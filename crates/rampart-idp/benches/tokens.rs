//! ID-token signing and validation in process: what every grant and every userinfo or
//! introspection call costs in cryptography.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_idp::grant::{id_token_claims, Profile};
use rampart_idp::jwt::{check_claims, generate_pkcs8, verify, SigningKey, ID_TOKEN_TYP};

fn tokens(c: &mut Criterion) {
    let key = SigningKey::from_pkcs8("k1", &generate_pkcs8().unwrap()).unwrap();
    let keys = [key.public()];
    let profile = Profile {
        sub: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        username: "alice",
        name: Some("Alice"),
        email: Some("alice@example.com"),
    };
    let scopes: Vec<String> = ["email", "openid", "profile"].map(String::from).to_vec();
    let claims = id_token_claims(
        "https://rampart.example",
        "wiki",
        &profile,
        &scopes,
        Some("n-0S6_WzA2Mj"),
        1_780_000_000,
        1_780_000_000,
        300,
    );
    let token = key.sign(ID_TOKEN_TYP, &claims).unwrap();
    c.bench_function("id_token_sign_es256", |b| {
        b.iter(|| key.sign(ID_TOKEN_TYP, &claims).unwrap())
    });
    c.bench_function("id_token_validate_es256", |b| {
        b.iter(|| {
            let got = verify(&token, ID_TOKEN_TYP, &keys).unwrap();
            check_claims(&got, "https://rampart.example", Some("wiki"), 1_780_000_001).unwrap();
        })
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
