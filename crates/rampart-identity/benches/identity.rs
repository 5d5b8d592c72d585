//! Costs of the credential primitives on the login and request paths.
//!
//! `cargo bench -p rampart-identity`. The token lookup hash runs on every authenticated
//! request; argon2id at the default (OWASP) cost runs once per login. The ratio between
//! the two is what the `Authorization` header costs compared with a login.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_identity::{hash_token, HashParams, PasswordHasher, PasswordPolicy, SessionToken};

fn credentials(c: &mut Criterion) {
    let token = SessionToken::generate().expect("rng");
    c.bench_function("token/hash_presented", |b| {
        b.iter(|| hash_token(std::hint::black_box(token.secret())))
    });
    let hasher = PasswordHasher::new(HashParams::default()).expect("params");
    let phc = hasher.hash("violet-trombone-gravel-71").expect("hash");
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("argon2id_verify_owasp_default", |b| {
        b.iter(|| hasher.verify(std::hint::black_box("violet-trombone-gravel-71"), &phc))
    });
    group.bench_function("policy_check", |b| {
        let policy = PasswordPolicy::default();
        b.iter(|| {
            policy.check(
                std::hint::black_box("violet-trombone-gravel-71"),
                &["jsmith"],
            )
        })
    });
    group.finish();
}

criterion_group!(benches, credentials);
criterion_main!(benches);
