//! Time as UTC seconds since the Unix epoch, the unit Stripe uses everywhere.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A UTC instant with one-second resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// Seconds in one day.
pub const DAY: i64 = 86_400;

impl Timestamp {
    /// From Unix seconds.
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Unix seconds.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This instant plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// This instant plus `days` days (saturating).
    pub const fn plus_days(self, days: i64) -> Self {
        self.plus_secs(days.saturating_mul(DAY))
    }

    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn secs_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 in UTC, e.g. `2026-11-22T15:04:05Z`.
    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::<chrono::Utc>::from_timestamp(self.0, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| self.0.to_string())
    }

    /// The calendar date in UTC, e.g. `2026-11-22`.
    pub fn to_date(self) -> String {
        chrono::DateTime::<chrono::Utc>::from_timestamp(self.0, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_utc() {
        let t = Timestamp::from_unix(1_700_000_000);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(t.to_date(), "2023-11-14");
        assert_eq!(t.plus_days(1).secs_since(t), DAY);
    }
}
