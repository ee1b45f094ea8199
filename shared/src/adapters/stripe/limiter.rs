//! Per-account pacing, as Stripe limits reads today: a GCRA rate limit (governor) per
//! account (100 requests/s live, 25 test), a second one per endpoint of that account
//! (25 requests/s by default), and a cap on requests in flight (tokio semaphore).
//! A request passes only when both its endpoint's and its account's budgets allow it,
//! so our own pacing never exceeds either limit.

use super::credentials::StripeMode;
use crate::ports::stripe::StripeError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The gates of every account this process talks to.
pub(crate) struct Gates {
    live: NonZeroU32,
    test: NonZeroU32,
    endpoint: NonZeroU32,
    max_in_flight: usize,
    clock: DefaultClock,
    by_account: Mutex<HashMap<String, Arc<Gate>>>,
}

/// One account's gate.
pub(crate) struct Gate {
    rate: DefaultDirectRateLimiter,
    endpoint_quota: Quota,
    endpoints: Mutex<HashMap<&'static str, Arc<DefaultDirectRateLimiter>>>,
    in_flight: Semaphore,
    clock: DefaultClock,
}

/// Requests spaced evenly at `rate`, with a burst of 1/20 s worth (at least 2):
/// without it every timer wake-up that lands a little late (tokio's timer has 1 ms
/// ticks) would be lost for good, costing several percent of the budget at 100/s.
fn quota(rate: NonZeroU32) -> Quota {
    let burst = NonZeroU32::new((rate.get() / 20).max(2)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Gates {
    /// Gates of `live` / `test` requests per second per account and `endpoint`
    /// requests per second per endpoint of an account.
    pub(crate) fn new(
        live: NonZeroU32,
        test: NonZeroU32,
        endpoint: NonZeroU32,
        max_in_flight: usize,
    ) -> Self {
        Self {
            live,
            test,
            endpoint,
            max_in_flight: max_in_flight.max(1),
            clock: DefaultClock::default(),
            by_account: Mutex::new(HashMap::new()),
        }
    }

    /// The gate for `key`, created on first use.
    pub(crate) fn gate(&self, key: &str, mode: StripeMode) -> Arc<Gate> {
        let mut map = self
            .by_account
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(gate) = map.get(key) {
            return gate.clone();
        }
        let rate = match mode {
            StripeMode::Live => self.live,
            StripeMode::Test => self.test,
        };
        let gate = Arc::new(Gate {
            rate: RateLimiter::direct_with_clock(quota(rate), self.clock.clone()),
            // An endpoint never gets more than its account.
            endpoint_quota: quota(self.endpoint.min(rate)),
            endpoints: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(self.max_in_flight),
            clock: self.clock.clone(),
        });
        map.insert(key.to_owned(), gate.clone());
        gate
    }
}

impl Gate {
    /// The limiter of one endpoint (`customers`, `subscriptions` …), created on first use.
    fn endpoint(&self, endpoint: &'static str) -> Arc<DefaultDirectRateLimiter> {
        let mut map = self
            .endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(endpoint)
            .or_insert_with(|| {
                Arc::new(RateLimiter::direct_with_clock(
                    self.endpoint_quota,
                    self.clock.clone(),
                ))
            })
            .clone()
    }

    /// Waits for a free slot, the endpoint's next cell, then the account's next cell.
    /// Hold the permit until the response body is read. The endpoint goes first: a
    /// request waiting on a busy endpoint holds no account cell, so other endpoints
    /// keep the account's budget.
    pub(crate) async fn admit(
        &self,
        endpoint: &'static str,
    ) -> Result<SemaphorePermit<'_>, StripeError> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| StripeError::Unavailable("request gate closed".into()))?;
        let endpoint = self.endpoint(endpoint);
        for limiter in [&*endpoint, &self.rate] {
            loop {
                match limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
                    }
                }
            }
        }
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn requests_are_spaced_at_the_rate() {
        let gates = Gates::new(
            NonZeroU32::new(100).unwrap(),
            NonZeroU32::new(50).unwrap(),
            NonZeroU32::new(1000).unwrap(),
            4,
        );
        let gate = gates.gate("acct_1", StripeMode::Test);
        let start = Instant::now();
        for _ in 0..11 {
            drop(gate.admit("customers").await.unwrap());
        }
        // 50/s in test mode, burst 2: the 11th request waits for 9 intervals of 20 ms.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(175), "{elapsed:?}");
        // Generous: only a grossly wrong rate (or a stall) should fail this.
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[tokio::test]
    async fn accounts_do_not_share_a_budget() {
        let two = NonZeroU32::new(2).unwrap();
        let gates = Gates::new(two, two, two, 4);
        let a = gates.gate("acct_a", StripeMode::Live);
        let b = gates.gate("acct_b", StripeMode::Live);
        let start = Instant::now();
        // Each account's burst of two passes at once …
        for gate in [&a, &a, &b, &b] {
            drop(gate.admit("customers").await.unwrap());
        }
        assert!(start.elapsed() < Duration::from_millis(100));
        // … and a third request on `a` waits for its own budget (500 ms at 2/s).
        let third = tokio::time::timeout(Duration::from_millis(100), a.admit("customers")).await;
        assert!(third.is_err(), "account a's budget is spent");
        assert!(Arc::ptr_eq(&a, &gates.gate("acct_a", StripeMode::Live)));
    }

    #[tokio::test]
    async fn in_flight_requests_are_capped() {
        let k = NonZeroU32::new(1000).unwrap();
        let gates = Gates::new(k, k, k, 2);
        let gate = gates.gate("acct_1", StripeMode::Live);
        let _one = gate.admit("customers").await.unwrap();
        let _two = gate.admit("customers").await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), gate.admit("customers")).await;
        assert!(third.is_err(), "a third request must wait for a slot");
    }

    #[tokio::test]
    async fn one_endpoint_is_held_to_its_own_rate_while_others_pass() {
        let gates = Gates::new(
            NonZeroU32::new(100).unwrap(),
            NonZeroU32::new(100).unwrap(),
            NonZeroU32::new(4).unwrap(),
            8,
        );
        let gate = gates.gate("acct_1", StripeMode::Live);
        // The endpoint's burst (2) passes, then a third `customers` request waits 250 ms …
        for _ in 0..2 {
            drop(gate.admit("customers").await.unwrap());
        }
        let third = tokio::time::timeout(Duration::from_millis(100), gate.admit("customers")).await;
        assert!(third.is_err(), "the customers endpoint's budget is spent");
        // … while another endpoint of the same account is not held back.
        let start = Instant::now();
        for _ in 0..2 {
            drop(gate.admit("charges").await.unwrap());
        }
        assert!(start.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn an_endpoint_never_gets_more_than_its_account() {
        let gates = Gates::new(
            NonZeroU32::new(4).unwrap(),
            NonZeroU32::new(4).unwrap(),
            NonZeroU32::new(1000).unwrap(),
            8,
        );
        let gate = gates.gate("acct_1", StripeMode::Live);
        let start = Instant::now();
        for _ in 0..4 {
            drop(gate.admit("customers").await.unwrap());
        }
        // Burst 2, then 250 ms apart: the fourth passes after ~500 ms, not at once.
        assert!(
            start.elapsed() >= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
    }
}
