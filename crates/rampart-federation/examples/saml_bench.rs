//! SAML response validations per second in process (issue #25, target ≥ 2,000/s per core),
//! against `xmlsec1 --verify` of the same responses in the same run.
//!
//! The responses are the real identity provider's (`scripts/peers/saml.sh`: pysaml2 and
//! xmlsec1 sign them; RSA-2048, SHA-256, the Response and its Assertion each signed, the
//! certificate in `KeyInfo`). A validation here is what the assertion consumer service does
//! before it reaches the store: base64, the outline pass, both signatures checked by xmlsec
//! and the document reduced to what they sign, the object model read, and every rule of
//! `saml::rules` (issuer, audience, recipient, destination, time windows). The baseline runs
//! Debian's `xmlsec1 --verify` twice per response (one run per signature, as
//! `--node-xpath` picks it), each a process of its own, as an operator's script would.
//!
//! ```text
//! scripts/peers/saml.sh -- cargo run --release -p rampart-federation --example saml_bench
//! ```
//! With `BENCH_JSON=1` the figures are printed as `scripts/bench` result lines on stdout, and
//! the report goes to stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rampart_federation::saml::{self, metadata, Expected, IdpMetadata, SpKey};
use serde_json::json;

const RESPONSES: usize = 200;
const ROUNDS: usize = 3;
const ENTITY: &str = "https://bench.rampart.test/saml";
const ACS: &str = "https://127.0.0.1:1/api/v1/providers/bench/saml/acs";

macro_rules! say {
    ($($t:tt)*) => {
        if std::env::var_os("BENCH_JSON").is_some() { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

fn var(name: &str) -> String {
    std::env::var(format!("RAMPART_TEST_SAML_{name}")).unwrap_or_else(|_| {
        panic!("RAMPART_TEST_SAML_{name} is not set: run under scripts/peers/saml.sh --")
    })
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`): per-core
/// figures hold on a busy machine, where the wall clock also counts other processes' turns.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (idp, responses) = runtime.block_on(fetch());
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = responses
        .iter()
        .enumerate()
        .map(|(i, b64)| {
            let xml = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            let path = dir.path().join(format!("r{i}.xml"));
            std::fs::write(&path, xml).unwrap();
            path
        })
        .collect();

    agrees_with_the_reduced_document(&responses, &idp.signing_certificates);

    let mut ours = Vec::new();
    let mut per_cpu = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..ROUNDS {
        // In process, one thread: every response validated until 2 s have passed.
        let started = Instant::now();
        let cpu = thread_cpu_ns();
        let mut n = 0usize;
        while started.elapsed() < Duration::from_secs(2) {
            let b64 = &responses[n % responses.len()];
            let request = format!("_bench{}", n % responses.len());
            let verified = saml::verify(b64, &idp.signing_certificates, None).unwrap();
            let accepted = saml::check(
                &verified,
                &Expected {
                    idp_entity_id: &idp.entity_id,
                    sp_entity_id: ENTITY,
                    acs_url: ACS,
                    skew_seconds: 60,
                    now: time::OffsetDateTime::now_utc(),
                },
            )
            .unwrap();
            assert_eq!(accepted.in_response_to, request);
            n += 1;
        }
        let per_s = n as f64 / started.elapsed().as_secs_f64();
        let cpu_s = (thread_cpu_ns() - cpu) as f64 / 1e9;
        let per_core = n as f64 / cpu_s;
        ours.push(per_s);
        per_cpu.push(per_core);
        // xmlsec1, one process per signature, over the same responses.
        let started = Instant::now();
        let mut m = 0usize;
        while started.elapsed() < Duration::from_secs(2) {
            let file = &files[m % files.len()];
            for xpath in [
                "/*/*[local-name()='Signature']",
                "/*/*[local-name()='Assertion']/*[local-name()='Signature']",
            ] {
                let out = Command::new("xmlsec1")
                    .args(["--verify", "--pubkey-cert-pem"])
                    .arg(var("IDP_CERT"))
                    .args([
                        "--id-attr:ID",
                        "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                        "--id-attr:ID",
                        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                        "--node-xpath",
                        xpath,
                    ])
                    .arg(file)
                    .output()
                    .expect("xmlsec1 (Debian's xmlsec1 package) runs");
                assert!(out.status.success(), "xmlsec1 refused {}", file.display());
            }
            m += 1;
        }
        let their_s = m as f64 / started.elapsed().as_secs_f64();
        theirs.push(their_s);
        say!(
            "round {}: in process {per_s:.0} validations/s ({per_core:.0} per CPU-second); xmlsec1 --verify (both signatures) {their_s:.1} responses/s",
            round + 1
        );
    }
    let (ours, per_core, theirs) = (median(ours), median(per_cpu), median(theirs));
    say!(
        "median of {ROUNDS}: {ours:.0} validations/s on one thread ({per_core:.0} per CPU-second), xmlsec1 {theirs:.1} responses/s ({:.0}×)",
        ours / theirs
    );
    if std::env::var_os("BENCH_JSON").is_some() {
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "?".to_owned());
        println!(
            "{}",
            json!({
                "capability": "User providers",
                "figure": format!("SAML response validations in process, one thread ({RESPONSES} responses of the pysaml2 IdP, RSA-2048, Response and Assertion signed)"),
                "target": "≥ 2,000/s per core",
                "value": format!("{per_core:.0} validations per CPU-second ({ours:.0}/s by the wall clock)"),
                "baseline": format!("xmlsec1 --verify of the same responses, both signatures: {theirs:.1} responses/s"),
                "limit": "—",
                "met": per_core >= 2000.0,
                "rounds": ROUNDS,
                "load": load,
                "command": "scripts/peers/saml.sh -- cargo run --release -p rampart-federation --example saml_bench",
            })
        );
    }
}

/// Before timing: for every response, what `saml::verify` reads (the pre-digest of the
/// Response's verified reference) is the Response samael's reduction of the document to its
/// verified nodes reads (`ValidateAndMarkNoAncestors`, what was read before).
fn agrees_with_the_reduced_document(responses: &[String], certificates: &[Vec<u8>]) {
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider as _, ReduceMode};
    let certs: Vec<CertificateDer> = certificates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    for b64 in responses {
        let verified = saml::verify(b64, certificates, None).unwrap();
        let xml = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            std::str::from_utf8(&xml).unwrap(),
            &certs,
            ReduceMode::ValidateAndMarkNoAncestors,
            None,
        )
        .unwrap();
        let response: samael::schema::Response = reduced.parse().unwrap();
        assert_eq!(verified.response.as_ref(), Some(&response));
        assert_eq!(response.assertion.as_ref(), Some(&verified.assertion));
    }
    say!(
        "the pre-digest reading agrees with the reduced document on all {} responses",
        responses.len()
    );
}

/// The IdP's metadata, and `RESPONSES` valid responses for a bench service provider, each
/// answering the request `_bench{i}`.
async fn fetch() -> (IdpMetadata, Vec<String>) {
    let ca = std::fs::read_to_string(var("CA")).unwrap();
    let idp = metadata::fetch(&var("METADATA_URL"), Some(&ca), Duration::from_secs(10))
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let token = std::fs::read_to_string(var("ADMIN_TOKEN_FILE")).unwrap();
    let admin = var("ADMIN_URL");
    let key = SpKey::generate(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let sp = metadata::sp_metadata(
        ENTITY,
        ACS,
        None,
        &[key.certificate_base64().unwrap()],
        None,
    )
    .unwrap();
    let r = client
        .put(format!("{admin}/sp-metadata"))
        .bearer_auth(token.trim())
        .body(sp)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let mut out = Vec::new();
    for i in 0..RESPONSES {
        let r = client
            .post(format!("{admin}/response"))
            .bearer_auth(token.trim())
            .json(&json!({
                "case": "valid", "sp": ENTITY, "in_response_to": format!("_bench{i}"),
                "user": if i % 2 == 0 { "alice" } else { "bob" },
            }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        out.push(body["SAMLResponse"].as_str().unwrap().to_owned());
    }
    (idp, out)
}
