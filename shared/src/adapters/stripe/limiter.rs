//! Per-account pacing: a GCRA rate limit (governor) and a cap on requests in
//! flight (tokio semaphore), one pair per connected account.

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
    max_in_flight: usize,
    clock: DefaultClock,
    by_account: Mutex<HashMap<String, Arc<Gate>>>,
}

/// One account's gate.
pub(crate) struct Gate {
    rate: DefaultDirectRateLimiter,
    in_flight: Semaphore,
    clock: DefaultClock,
}

impl Gates {
    pub(crate) fn new(live: NonZeroU32, test: NonZeroU32, max_in_flight: usize) -> Self {
        Self {
            live,
            test,
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
        // Requests are spaced evenly at `rate`, with a burst of 1/20 s worth
        // (at least 2): without it every timer wake-up that lands a little
        // late (tokio's timer has 1 ms ticks) would be lost for good, costing
        // several percent of the budget at 100 requests/s.
        let burst = NonZeroU32::new((rate.get() / 20).max(2)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(rate).allow_burst(burst);
        let gate = Arc::new(Gate {
            rate: RateLimiter::direct_with_clock(quota, self.clock.clone()),
            in_flight: Semaphore::new(self.max_in_flight),
            clock: self.clock.clone(),
        });
        map.insert(key.to_owned(), gate.clone());
        gate
    }
}

impl Gate {
    /// Waits for a free slot and the next rate-limit cell. Hold the permit
    /// until the response body is read.
    pub(crate) async fn admit(&self) -> Result<SemaphorePermit<'_>, StripeError> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| StripeError::Unavailable("request gate closed".into()))?;
        loop {
            match self.rate.check() {
                Ok(()) => return Ok(permit),
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
                }
            }
        }
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
            4,
        );
        let gate = gates.gate("acct_1", StripeMode::Test);
        let start = Instant::now();
        for _ in 0..11 {
            drop(gate.admit().await.unwrap());
        }
        // 50/s in test mode, burst 2: the 11th request waits for 9 intervals of 20 ms.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(175), "{elapsed:?}");
        // Generous: only a grossly wrong rate (or a stall) should fail this.
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[tokio::test]
    async fn accounts_do_not_share_a_budget() {
        let gates = Gates::new(NonZeroU32::new(2).unwrap(), NonZeroU32::new(2).unwrap(), 4);
        let a = gates.gate("acct_a", StripeMode::Live);
        let b = gates.gate("acct_b", StripeMode::Live);
        let start = Instant::now();
        // Each account's burst of two passes at once …
        for gate in [&a, &a, &b, &b] {
            drop(gate.admit().await.unwrap());
        }
        assert!(start.elapsed() < Duration::from_millis(100));
        // … and a third request on `a` waits for its own budget (500 ms at 2/s).
        let third = tokio::time::timeout(Duration::from_millis(100), a.admit()).await;
        assert!(third.is_err(), "account a's budget is spent");
        assert!(Arc::ptr_eq(&a, &gates.gate("acct_a", StripeMode::Live)));
    }

    #[tokio::test]
    async fn in_flight_requests_are_capped() {
        let gates = Gates::new(
            NonZeroU32::new(1000).unwrap(),
            NonZeroU32::new(1000).unwrap(),
            2,
        );
        let gate = gates.gate("acct_1", StripeMode::Live);
        let _one = gate.admit().await.unwrap();
        let _two = gate.admit().await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), gate.admit()).await;
        assert!(third.is_err(), "a third request must wait for a slot");
    }
}
