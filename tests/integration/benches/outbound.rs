//! Outbound churn events per second: one worker delivering a backlog of events
//! to a loopback endpoint — fan-out of the outbox, one lane read per profile,
//! the secret opened, each body signed (Stripe's scheme) and POSTed, each
//! attempt recorded — on the embedded store (dynoxide, in-process). The outbox
//! is filled by profile PUTs before each measured run (not timed).
//!
//! Run: `cargo bench -p kustiq-tests --bench outbound` (criterion; `--profile dev`
//! measures the debug build, as docs/benchmarks.md records).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kustiq::domain::time::Timestamp;
use kustiq_tests::Engine;
use kustiq_tests::outbound::{OutboundBench, Receiver};
use std::time::{Duration, Instant};

/// Events per measured run: one per profile, so every event is its own lane.
const EVENTS: usize = 200;

fn outbound(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let (b, r) = rt.block_on(async {
        let b = OutboundBench::new(Engine::Dynoxide, Timestamp::from_unix(1_790_000_000)).await;
        let r = Receiver::start().await;
        b.register(
            "ws_bench",
            &r.url,
            &["profile.entered_at_risk", "profile.left_at_risk"],
        )
        .await;
        (b, r)
    });
    let mut round = 0usize;
    let mut group = c.benchmark_group("outbound");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("deliver_200_events_to_a_loopback_endpoint", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Alternate in and out of the segment so every PUT makes one event.
                let risk = if round.is_multiple_of(2) { 30.0 } else { 0.0 };
                round += 1;
                rt.block_on(async {
                    for p in 0..EVENTS {
                        b.score("ws_bench", &format!("p{p}"), risk).await;
                    }
                });
                let want = r.received().len() + EVENTS;
                let start = Instant::now();
                rt.block_on(async {
                    while r.received().len() < want {
                        b.deliver().await;
                    }
                });
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, outbound);
criterion_main!(benches);
