//! Rescoring from stored signals: how many profiles per second one core rescores, next
//! to a baseline that only sums the same profiles' stored factor impacts.
//!
//! `cargo bench -p kustiq --bench scoring`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kustiq::domain::engine::{EngineConfig, Family, ScoreInput, score, score_value};
use kustiq::domain::factors::{Factor, FactorSignal};
use kustiq::domain::ids::StripeObjectId;
use kustiq::domain::money::Currency;
use kustiq::domain::mrr::SubscriptionStatus;
use kustiq::domain::signals::{
    CustomerStatus, DaysSinceChargeSignal, DowngradeSignal, Evidence, MrrDeltaSignal,
    PaymentFailureSignal, PlanDrop, StatusSignal, UsageSignals,
};
use kustiq::domain::time::Timestamp;
use std::collections::BTreeMap;
use std::hint::black_box;

const PROFILES: usize = 10_000;
const NOW: Timestamp = Timestamp::from_unix(1_790_000_000);

/// A small deterministic generator so every run scores the same profiles.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

struct Profile {
    signals: UsageSignals,
    families: BTreeMap<Family, Vec<Factor>>,
    churn_risk: Option<f64>,
}

fn evidence(id: String, days_ago: u64) -> Evidence {
    Evidence {
        id,
        at: NOW.plus_days(-(days_ago as i64)),
    }
}

fn profile(r: &mut Lcg) -> Profile {
    let usd = Currency::parse("usd").unwrap_or_else(|e| panic!("{e}"));
    let sub = StripeObjectId::parse("sub_1").unwrap_or_else(|e| panic!("{e}"));
    let status = match r.next(10) {
        0 => CustomerStatus::Canceled,
        1 | 2 => CustomerStatus::PastDue,
        _ => CustomerStatus::Current(SubscriptionStatus::Active),
    };
    let signals = UsageSignals {
        as_of: NOW,
        subscription_status: StatusSignal {
            status,
            evidence: vec![evidence("sub_1".into(), 3)],
        },
        payment_failure: PaymentFailureSignal {
            failed: (0..r.next(5))
                .map(|i| evidence(format!("ch_{i}"), r.next(40)))
                .collect(),
        },
        downgrade: DowngradeSignal {
            drops: (0..r.next(2))
                .map(|_| PlanDrop {
                    subscription: sub.clone(),
                    event: None,
                    at: NOW.plus_days(-(r.next(40) as i64)),
                    currency: usd,
                    from: 10_000,
                    to: 5_000,
                })
                .collect(),
        },
        days_since_charge: DaysSinceChargeSignal {
            first_unpaid: None,
            last_success: None,
            since: Some(NOW.plus_days(-(r.next(90) as i64))),
        },
        mrr_delta: Some(MrrDeltaSignal {
            currency: usd,
            then: 10_000,
            now: 7_000 + r.next(7_000) as i64,
            subscriptions: vec![sub],
        }),
        paused: if r.next(20) == 0 {
            vec![evidence("sub_1".into(), 2)]
        } else {
            vec![]
        },
        disputes: (0..r.next(2))
            .map(|i| evidence(format!("dp_{i}"), r.next(10)))
            .collect(),
    };
    let mut families = BTreeMap::new();
    for family in Family::EXTERNAL.iter().take(r.next(4) as usize) {
        let factors = (0..1 + r.next(3))
            .map(|i| Factor {
                signal: FactorSignal::external(format!("signal_{i}")).expect("a valid name"),
                impact: r.next(41) as f64 - 20.0,
                explanation: String::new(),
                evidence: vec![],
                evidence_dates: vec![],
            })
            .collect();
        families.insert(*family, factors);
    }
    let churn_risk = (r.next(3) > 0).then(|| r.next(61) as f64 - 30.0);
    Profile {
        signals,
        families,
        churn_risk,
    }
}

fn input(p: &Profile) -> ScoreInput<'_> {
    ScoreInput {
        now: NOW,
        stripe_connected: true,
        billing: Some(&p.signals),
        families: &p.families,
        classifier_churn_risk: p.churn_risk,
    }
}

fn bench(c: &mut Criterion) {
    let mut r = Lcg(42);
    let profiles: Vec<Profile> = (0..PROFILES).map(|_| profile(&mut r)).collect();
    let cfg = EngineConfig::default();
    let mut g = c.benchmark_group("rescore");
    g.throughput(Throughput::Elements(PROFILES as u64));
    g.bench_function("baseline_sum_stored_impacts", |b| {
        b.iter(|| {
            let mut total = 0.0f64;
            for p in &profiles {
                let mut s = 50.0 + p.churn_risk.unwrap_or(0.0);
                for factors in p.families.values() {
                    for f in factors {
                        s += f.impact;
                    }
                }
                s += p.signals.payment_failure.failed.len() as f64;
                total += s;
            }
            black_box(total)
        })
    });
    g.bench_function("score_value_from_signals", |b| {
        b.iter(|| {
            let mut at_risk = 0usize;
            for p in &profiles {
                let (score, risk) = score_value(black_box(&input(p)), &cfg);
                at_risk += usize::from(risk);
                black_box(score);
            }
            at_risk
        })
    });
    g.bench_function("score_with_explanation", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for p in &profiles {
                total += score(black_box(&input(p)), &cfg).score;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
