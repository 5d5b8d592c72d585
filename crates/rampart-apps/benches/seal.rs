//! What a sensitive attribute costs per value: sealing (write) and opening (read) a 32-byte
//! and a 1 KiB value, and the blind index of a 32-byte value (a `unique` sensitive
//! attribute's write, or a lookup by value). `copy` is the same bytes copied into a new
//! vector, the least a write or read of an unencrypted value costs here.
//!
//! `cargo bench -p rampart-apps --bench seal`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_apps::seal::{Aad, DataKey, IndexKey};
use std::hint::black_box;

fn seal(c: &mut Criterion) {
    let key = DataKey::generate(1).unwrap();
    let aad = Aad::new(
        "crm_production.customer",
        "vat_number",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    );
    for (name, len) in [("32B", 32usize), ("1KiB", 1024)] {
        let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let envelope = key.seal(&value, &aad).unwrap();
        let mut group = c.benchmark_group(format!("value_{name}"));
        group.bench_function("copy", |b| b.iter(|| black_box(&value[..]).to_vec()));
        group.bench_function("seal", |b| {
            b.iter(|| key.seal(black_box(&value), black_box(&aad)).unwrap())
        });
        group.bench_function("open", |b| {
            b.iter(|| key.open(black_box(&envelope), black_box(&aad)).unwrap())
        });
        group.finish();
    }
    let index = IndexKey::generate().unwrap();
    let value = [7u8; 32];
    c.bench_function("blind_index_32B", |b| {
        b.iter(|| {
            index.blind_index(
                black_box("crm_production.customer"),
                black_box("vat_number"),
                black_box(&value),
            )
        })
    });
}

criterion_group!(benches, seal);
criterion_main!(benches);
