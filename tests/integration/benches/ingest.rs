//! CPU per webhook event, excluding I/O (goal ≤ 20 µs): everything the
//! webhook path computes — verify the signature, parse the event, observe it,
//! fold it into the customer's billing state, derive usage signals and score
//! the matched profile — on the simulator's realistic events and billing
//! states, without the DynamoDB calls. The JSON (de)serialization of the
//! stored items the real path also does is measured on its own.
//!
//! Baseline in the same run: `serde_json::from_slice::<Value>` of the same
//! body (the cheapest thing any webhook receiver must do).
//!
//! Run: `cargo bench -p kustiq-tests --bench ingest` (about 2 minutes).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kustiq::adapters::dynamo::state_codec;
use kustiq::app::score::score_profile;
use kustiq::domain::billing_state::{BillingState, Observation};
use kustiq::domain::engine::EngineConfig;
use kustiq::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use kustiq::domain::profile::{HistoryEntry, Profile, StoredScore};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::events::{EventRecord, EventStatus};
use kustiq::stripe::models::Event;
use kustiq::stripe::observe::observe_event;
use kustiq::stripe::signature::sign;
use kustiq::stripe::verify_and_parse;
use serde_json::Value;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;
use stripe_sim::{SimConfig, Simulator};

/// The event types measured: the most frequent ones of a subscription business.
const TYPES: [&str; 4] = [
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "invoice.finalized",
];

/// One measured event: its body, the customer's state just before it, and
/// the customer's matched profile.
struct Case {
    kind: &'static str,
    body: Vec<u8>,
    state: BillingState,
    profile: Profile,
}

fn customer_of(event: &Value) -> Option<String> {
    let o = &event["data"]["object"];
    match o["object"].as_str() {
        Some("customer") => o["id"].as_str().map(str::to_owned),
        _ => o["customer"].as_str().map(str::to_owned),
    }
}

/// The observations of one event, each attributed to `customer` as the
/// ingest path does.
fn observations(event: &Event, customer: &StripeCustomerId) -> Vec<Observation> {
    let mut obs = observe_event(event);
    for o in &mut obs {
        o.customer.get_or_insert_with(|| customer.clone());
    }
    obs
}

/// A year of a simulated account; for each measured type, its event whose
/// customer has the longest history before it, with that history folded in.
fn cases() -> Vec<Case> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = Simulator::new(SimConfig {
        seed: 23,
        customers: 40,
        years: 1,
        accounts: 1,
        ..SimConfig::default()
    });
    rt.block_on(sim.advance_days(365));
    let account = sim
        .accounts()
        .first()
        .map(|a| a.id.clone())
        .expect("an account");
    let events = sim.events(&account);
    let mut cases = Vec::new();
    for kind in TYPES {
        let mut best: Option<(usize, usize)> = None;
        for (i, e) in events.iter().enumerate() {
            if e["type"] != kind {
                continue;
            }
            let Some(c) = customer_of(e) else { continue };
            let before = events[..i]
                .iter()
                .filter(|p| customer_of(p).as_deref() == Some(c.as_str()))
                .count();
            if best.is_none_or(|(_, n)| before > n) {
                best = Some((i, before));
            }
        }
        let Some((i, _)) = best else {
            eprintln!("no {kind} event in the simulated year; skipped");
            continue;
        };
        let target = &events[i];
        let customer_raw = customer_of(target).expect("customer");
        let customer = StripeCustomerId::parse(customer_raw.as_str()).expect("customer id");
        let mut state = BillingState::default();
        for e in events[..i]
            .iter()
            .filter(|p| customer_of(p).as_deref() == Some(customer_raw.as_str()))
        {
            let parsed = Event::parse(e.to_string().as_bytes()).expect("simulator event parses");
            for o in observations(&parsed, &customer) {
                state.apply(&o);
            }
        }
        let profile = Profile {
            profile_id: ProfileId::parse("p_bench").expect("profile id"),
            email: None,
            domain: None,
            name: None,
            stripe_customer_id: Some(customer),
            families: BTreeMap::new(),
            classifier_churn_risk: Some(10.0),
        };
        cases.push(Case {
            kind,
            body: target.to_string().into_bytes(),
            state,
            profile,
        });
    }
    cases
}

/// The webhook path's computation for one event; returns the new state and score.
fn pipeline(
    case: &Case,
    header: &str,
    secrets: &[Secret],
    now: Timestamp,
    cfg: &EngineConfig,
    mut state: BillingState,
) -> (BillingState, StoredScore) {
    let event = verify_and_parse(header, &case.body, secrets, now, 300)
        .expect("verifies")
        .into_event();
    let customer = case.profile.stripe_customer_id.clone().expect("matched");
    for o in &observations(&event, &customer) {
        state.apply(o);
    }
    let score = score_profile(
        &case.profile,
        Some(&state),
        true,
        now,
        cfg,
        event.id.as_str(),
    );
    (state, score)
}

fn bench_ingest(c: &mut Criterion) {
    let secrets = [Secret::new("whsec_bench_endpoint_secret_0123456789")];
    let cfg = EngineConfig::default();
    for case in cases() {
        let event = Event::parse(&case.body).expect("parses");
        let now = event.created.plus_secs(5);
        let header = sign(&case.body, &secrets[0], now);
        let customer = case.profile.stripe_customer_id.clone().expect("matched");
        let obs = observations(&event, &customer);
        let (after, score) = pipeline(&case, &header, &secrets, now, &cfg, case.state.clone());
        let state_json = serde_json::to_string(&after).expect("state serializes");
        let state_bin = state_codec::encode(&after).expect("state encodes");
        let profile_json = serde_json::to_string(&case.profile).expect("profile serializes");
        let record = EventRecord {
            workspace_id: WorkspaceId::parse("ws_bench").expect("workspace id"),
            event: kustiq::app::ingest::recorded_event(&event),
            received_at: now,
            status: EventStatus::Applied { at: now },
            attempts: 0,
            last_error: None,
        };
        let history = HistoryEntry {
            at: now,
            score: score.score.score,
            reason: event.id.as_str().to_owned(),
            previous_score: None,
            changes: Vec::new(),
        };
        eprintln!(
            "{}: body {} B; state before: {} invoices, {} charges, {} subscriptions, {} plan samples; stored state {} B as JSON, {} B compact",
            case.kind,
            case.body.len(),
            case.state.invoices.len(),
            case.state.charges.len(),
            case.state.subscriptions.len(),
            case.state.plan_samples.len(),
            state_json.len(),
            state_bin.len()
        );

        let mut g = c.benchmark_group(format!("ingest/{}", case.kind));
        g.bench_function("pipeline", |b| {
            b.iter_batched(
                || case.state.clone(),
                |state| pipeline(&case, black_box(&header), &secrets, now, &cfg, state),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("verify_and_parse", |b| {
            b.iter(|| {
                verify_and_parse(
                    black_box(&header),
                    black_box(&case.body),
                    &secrets,
                    now,
                    300,
                )
            })
        });
        g.bench_function("observe", |b| {
            b.iter(|| observations(black_box(&event), &customer))
        });
        g.bench_function("apply", |b| {
            b.iter_batched(
                || case.state.clone(),
                |mut state| {
                    for o in &obs {
                        state.apply(o);
                    }
                    state
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function("signals_and_score", |b| {
            b.iter(|| {
                score_profile(
                    &case.profile,
                    Some(black_box(&after)),
                    true,
                    now,
                    &cfg,
                    event.id.as_str(),
                )
            })
        });
        // What the real path (de)serializes around its store calls: it reads the
        // state and the profile, writes the event record, the state, the score
        // and a history entry. The state as stored now (compact), and as it was
        // (JSON) for the ratio.
        let others = || {
            let profile: Profile = serde_json::from_str(black_box(&profile_json)).expect("profile");
            (
                profile,
                serde_json::to_string(&record).expect("record"),
                serde_json::to_string(&score).expect("score"),
                serde_json::to_string(&history).expect("history"),
            )
        };
        g.bench_function("store_compact", |b| {
            b.iter(|| {
                let state = state_codec::decode(black_box(&state_bin)).expect("state");
                (others(), state_codec::encode(&state).expect("state"))
            })
        });
        g.bench_function("store_json", |b| {
            b.iter(|| {
                let state: BillingState =
                    serde_json::from_str(black_box(&state_json)).expect("state");
                (others(), serde_json::to_string(&state).expect("state"))
            })
        });
        // The state alone, read and written back: compact (now) against JSON (before).
        g.bench_function("state_compact", |b| {
            b.iter(|| {
                let state = state_codec::decode(black_box(&state_bin)).expect("state");
                state_codec::encode(&state).expect("state")
            })
        });
        g.bench_function("state_json", |b| {
            b.iter(|| {
                let state: BillingState =
                    serde_json::from_str(black_box(&state_json)).expect("state");
                serde_json::to_string(&state).expect("state")
            })
        });
        // The whole hot path's CPU: read the stored state, the pipeline, write it all.
        g.bench_function("hot_path", |b| {
            b.iter(|| {
                let state = state_codec::decode(black_box(&state_bin)).expect("state");
                let (state, score) =
                    pipeline(&case, black_box(&header), &secrets, now, &cfg, state);
                (others(), state_codec::encode(&state).expect("state"), score)
            })
        });
        g.bench_function("baseline_serde_json_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&case.body)))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_ingest
}
criterion_main!(benches);
