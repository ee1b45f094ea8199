//! When to send a failed read again, and how long to wait first.

use std::time::Duration;

/// Retries of 429, 409, 5xx and network failures: exponential backoff with
/// jitter, `Retry-After` honoured, `Stripe-Should-Retry` obeyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests per call, the first one included.
    pub max_attempts: u32,
    /// Wait before the first retry (doubled each time, before jitter).
    pub base_delay: Duration,
    /// Longest wait between two attempts. A `Retry-After` asking for more is
    /// not slept through: the call fails (e.g. `ERR_ST_429`) and the caller
    /// reschedules.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Wait this long, then send again.
    Retry(Duration),
    /// Return the error.
    GiveUp,
}

/// What a failed attempt told us.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Failure {
    /// The HTTP status; `None` for a network failure or timeout.
    pub status: Option<u16>,
    /// `Stripe-Should-Retry`, when sent.
    pub should_retry: Option<bool>,
    /// `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) failed.
    pub(crate) fn verdict(&self, attempt: u32, failure: Failure) -> Verdict {
        if attempt >= self.max_attempts {
            return Verdict::GiveUp;
        }
        // Stripe's header overrides our own reading of the status.
        let retry = match failure.should_retry {
            Some(explicit) => explicit,
            None => match failure.status {
                None => true,
                Some(status) => status == 409 || status == 429 || status >= 500,
            },
        };
        if !retry {
            return Verdict::GiveUp;
        }
        let backoff = self.backoff(attempt);
        match failure.retry_after {
            Some(wait) if wait > self.max_delay => Verdict::GiveUp,
            Some(wait) => Verdict::Retry(wait.max(backoff)),
            None => Verdict::Retry(backoff),
        }
    }

    /// `base · 2^(attempt-1)`, capped at `max_delay`, then scaled by a random
    /// factor in [0.5, 1) so that clients throttled together spread out.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(16);
        let raw = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        raw.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

/// Parses `Retry-After` in its delta-seconds form (what Stripe sends).
pub(crate) fn parse_retry_after(raw: &str) -> Option<Duration> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Parses `Stripe-Should-Retry`.
pub(crate) fn parse_should_retry(raw: &str) -> Option<bool> {
    match raw.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }

    fn status(code: u16) -> Failure {
        Failure {
            status: Some(code),
            ..Failure::default()
        }
    }

    #[test]
    fn rate_limits_conflicts_outages_and_network_failures_are_retried() {
        for failure in [
            status(429),
            status(409),
            status(500),
            status(503),
            Failure::default(),
        ] {
            assert!(
                matches!(policy().verdict(1, failure), Verdict::Retry(_)),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn client_errors_are_not_retried() {
        for code in [400, 401, 403, 404] {
            assert_eq!(policy().verdict(1, status(code)), Verdict::GiveUp, "{code}");
        }
    }

    #[test]
    fn stripe_should_retry_overrides_the_status() {
        let no = Failure {
            should_retry: Some(false),
            ..status(503)
        };
        assert_eq!(policy().verdict(1, no), Verdict::GiveUp);
        let yes = Failure {
            should_retry: Some(true),
            ..status(400)
        };
        assert!(matches!(policy().verdict(1, yes), Verdict::Retry(_)));
    }

    #[test]
    fn attempts_are_bounded() {
        assert!(matches!(
            policy().verdict(3, status(429)),
            Verdict::Retry(_)
        ));
        assert_eq!(policy().verdict(4, status(429)), Verdict::GiveUp);
    }

    #[test]
    fn retry_after_is_honoured_unless_it_exceeds_the_longest_wait() {
        let short = Failure {
            retry_after: Some(Duration::from_millis(1500)),
            ..status(429)
        };
        assert_eq!(
            policy().verdict(1, short),
            Verdict::Retry(Duration::from_millis(1500))
        );
        let long = Failure {
            retry_after: Some(Duration::from_secs(60)),
            ..status(429)
        };
        assert_eq!(policy().verdict(1, long), Verdict::GiveUp);
    }

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let p = policy();
        for attempt in 1..=8u32 {
            let full = (p.base_delay * 2u32.pow(attempt - 1)).min(p.max_delay);
            let d = p.backoff(attempt);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
    }

    #[test]
    fn headers_parse() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_should_retry("false"), Some(false));
        assert_eq!(parse_should_retry("maybe"), None);
    }
}
