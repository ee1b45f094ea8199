//! A bounded webhook generator: signed deliveries offered at a fixed rate to a
//! webhook URL, with at most `in_flight` unanswered (a slower receiver makes it
//! wait instead of queueing without bound, so the achieved rate is the receiver's).
//! Used by the load test and the end-to-end bench.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How a flood is offered.
#[derive(Debug, Clone, Copy)]
pub struct Offer {
    /// Deliveries per second offered.
    pub rate: u64,
    /// Stop sending after this long.
    pub secs: u64,
    /// At most this many unanswered.
    pub in_flight: usize,
}

/// One delivery's answer: its index in the input, HTTP status (0: no answer),
/// outcome, and the time from sending to the answer (an `applied` answer comes
/// after the score's commit, so the new score is visible by then).
pub type Delivery = (usize, u16, String, Duration);

/// Sends `signed` (body, `Stripe-Signature`) to `url` in order as `offer` allows;
/// the answers (in input order) and the wall time from the first send.
pub async fn flood(url: &str, signed: Vec<(String, String)>, offer: Offer) -> (Vec<Delivery>, f64) {
    let http = crate::http();
    let slots = Arc::new(Semaphore::new(offer.in_flight));
    let interval = Duration::from_secs_f64(1.0 / offer.rate.max(1) as f64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(offer.secs);
    let mut next = started;
    let mut sending = tokio::task::JoinSet::new();
    for (i, (body, sig)) in signed.into_iter().enumerate() {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Offered rate: at most one delivery per interval, never catching up in a burst.
        tokio::time::sleep_until(next.into()).await;
        let sent_at = Instant::now();
        if sent_at >= deadline {
            break;
        }
        next = next.max(sent_at) + interval;
        let (http, url) = (http.clone(), url.to_owned());
        sending.spawn(async move {
            let resp = http
                .post(url)
                .header("stripe-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let Ok(resp) = resp else {
                return (i, 0, "no answer".to_owned(), sent_at.elapsed());
            };
            let status = resp.status().as_u16();
            let answer: Value = resp.json().await.unwrap_or(Value::Null);
            let outcome = answer["outcome"]
                .as_str()
                .or(answer["error"]["code"].as_str())
                .unwrap_or("?")
                .to_owned();
            let took = sent_at.elapsed();
            drop(slot);
            (i, status, outcome, took)
        });
    }
    let mut answers: Vec<Delivery> = sending.join_all().await;
    let elapsed = started.elapsed().as_secs_f64();
    answers.sort_by_key(|a| a.0);
    (answers, elapsed)
}

/// Each event's body and a `Stripe-Signature` made at `now` with `secret`, ready to send.
pub fn signed(
    events: &[Value],
    secret: &kustiq::domain::secret::Secret,
    now: kustiq::domain::time::Timestamp,
) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let body = e.to_string();
            let sig = kustiq::stripe::signature::sign(body.as_bytes(), secret, now);
            (body, sig)
        })
        .collect()
}

/// What a flood's answers add up to.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Answers by (HTTP status, outcome).
    pub by_outcome: BTreeMap<(u16, String), usize>,
    /// How many were `applied`.
    pub applied: usize,
    /// p50 / p95 / p99 of POST → `applied`, in milliseconds.
    pub applied_ms: [f64; 3],
}

/// Counts `answers` by status and outcome, with the `applied` ones' latency percentiles.
pub fn tally(answers: &[Delivery]) -> Tally {
    let mut by_outcome: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for (_, status, outcome, _) in answers {
        *by_outcome.entry((*status, outcome.clone())).or_default() += 1;
    }
    let applied: Vec<Duration> = answers
        .iter()
        .filter(|a| a.2 == "applied")
        .map(|a| a.3)
        .collect();
    Tally {
        by_outcome,
        applied: applied.len(),
        applied_ms: percentiles(applied),
    }
}

/// p50 / p95 / p99 of `d`, in milliseconds.
pub fn percentiles(mut d: Vec<Duration>) -> [f64; 3] {
    d.sort();
    [0.50, 0.95, 0.99].map(|q| {
        let i = ((d.len() as f64 * q).ceil() as usize).saturating_sub(1);
        d.get(i).map_or(0.0, |v| v.as_secs_f64() * 1e3)
    })
}
