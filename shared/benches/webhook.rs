//! Verify + parse of a realistic ~3 KB Stripe event (goal ≤ 20 µs), next to two
//! baselines measured in the same run: the raw HMAC-SHA256 of the same bytes,
//! and `serde_json::from_slice` into an untyped `Value`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::stripe::models::Event;
use kustiq::stripe::signature::{sign, verify};
use kustiq::stripe::verify_and_parse;
use sha2::Sha256;
use std::hint::black_box;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/stripe/subscription_paused_2025-03-31.json"
);

fn event_body() -> Vec<u8> {
    let raw = std::fs::read(FIXTURE).expect("fixture");
    let value: serde_json::Value = serde_json::from_slice(&raw).expect("fixture is JSON");
    serde_json::to_vec(&value).expect("serializes")
}

fn bench_webhook(c: &mut Criterion) {
    let body = event_body();
    let secrets = [Secret::new("whsec_bench_endpoint_secret_0123456789")];
    let now = Timestamp::from_unix(1_745_020_800);
    let header = sign(&body, &secrets[0], now);
    assert!(verify_and_parse(&header, &body, &secrets, now, 300).is_ok());

    let mut g = c.benchmark_group(format!("webhook_{}B", body.len()));
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("verify_and_parse", |b| {
        b.iter(|| verify_and_parse(black_box(&header), black_box(&body), &secrets, now, 300))
    });
    g.bench_function("verify", |b| {
        b.iter(|| verify(black_box(&header), black_box(&body), &secrets, now, 300))
    });
    g.bench_function("parse", |b| b.iter(|| Event::parse(black_box(&body))));
    g.bench_function("baseline_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secrets[0].expose().as_bytes())
                .expect("any key length");
            mac.update(black_box(&body));
            mac.finalize().into_bytes()
        })
    });
    g.bench_function("baseline_serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)))
    });
    g.finish();
}

criterion_group!(benches, bench_webhook);
criterion_main!(benches);
