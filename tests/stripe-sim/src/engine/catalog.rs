//! The price catalog every account shares, and calendar arithmetic for billing periods.

use super::DAY;
use crate::model::{Cur, Interval, Price, Scheme, Tier, TiersMode};
use chrono::{DateTime, Months, Utc};

/// Adds `count` intervals to `t` on the calendar, as Stripe bills.
pub fn add_interval(t: i64, interval: Interval, count: u8) -> i64 {
    let n = u32::from(count.max(1));
    match interval {
        Interval::Week => t + 7 * DAY * i64::from(n),
        Interval::Month | Interval::Year => {
            let months = if interval == Interval::Year {
                12 * n
            } else {
                n
            };
            DateTime::<Utc>::from_timestamp(t, 0)
                .and_then(|d| d.checked_add_months(Months::new(months)))
                .map_or(t + 30 * DAY * i64::from(months), |d| d.timestamp())
        }
    }
}

/// The recurring prices of every simulated account, in catalog order.
pub(super) fn catalog() -> Vec<Price> {
    let mut prices = Vec::new();
    for currency in Cur::ALL {
        // Same list prices in each currency, as most SaaS price books do.
        for (product, monthly) in [(0u8, 1_900i64), (1, 4_900), (2, 9_900)] {
            for interval in [Interval::Month, Interval::Year] {
                let unit = if interval == Interval::Year {
                    monthly * 10
                } else {
                    monthly
                };
                prices.push(Price {
                    product,
                    currency,
                    interval,
                    interval_count: 1,
                    scheme: Scheme::PerUnit(unit),
                    rank: product,
                    per_seat: false,
                });
            }
        }
        let graduated = vec![
            Tier {
                up_to: Some(5),
                unit_amount: 1_200,
                flat_amount: 0,
            },
            Tier {
                up_to: Some(20),
                unit_amount: 1_000,
                flat_amount: 0,
            },
            Tier {
                up_to: None,
                unit_amount: 800,
                flat_amount: 0,
            },
        ];
        let volume = vec![
            Tier {
                up_to: Some(10),
                unit_amount: 900,
                flat_amount: 0,
            },
            Tier {
                up_to: Some(50),
                unit_amount: 700,
                flat_amount: 2_000,
            },
            Tier {
                up_to: None,
                unit_amount: 500,
                flat_amount: 5_000,
            },
        ];
        prices.push(Price {
            product: 3,
            currency,
            interval: Interval::Month,
            interval_count: 1,
            scheme: Scheme::Tiered(TiersMode::Graduated, graduated.clone()),
            rank: 0,
            per_seat: true,
        });
        prices.push(Price {
            product: 3,
            currency,
            interval: Interval::Year,
            interval_count: 1,
            scheme: Scheme::Tiered(
                TiersMode::Graduated,
                graduated
                    .iter()
                    .map(|t| Tier {
                        unit_amount: t.unit_amount * 10,
                        ..*t
                    })
                    .collect(),
            ),
            rank: 0,
            per_seat: true,
        });
        prices.push(Price {
            product: 4,
            currency,
            interval: Interval::Month,
            interval_count: 1,
            scheme: Scheme::Tiered(TiersMode::Volume, volume),
            rank: 0,
            per_seat: true,
        });
        prices.push(Price {
            product: 5,
            currency,
            interval: Interval::Week,
            interval_count: 1,
            scheme: Scheme::PerUnit(1_500),
            rank: 0,
            per_seat: false,
        });
        prices.push(Price {
            product: 1,
            currency,
            interval: Interval::Month,
            interval_count: 3,
            scheme: Scheme::PerUnit(13_500),
            rank: 1,
            per_seat: false,
        });
    }
    prices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graduated_and_volume_tiers_price_as_stripe_does() {
        let prices = catalog();
        let graduated = prices
            .iter()
            .find(|p| matches!(p.scheme, Scheme::Tiered(TiersMode::Graduated, _)))
            .map(|p| p.amount(22));
        // 5 × 12.00 + 15 × 10.00 + 2 × 8.00
        assert_eq!(graduated, Some(6_000 + 15_000 + 1_600));
        let volume = prices
            .iter()
            .find(|p| matches!(p.scheme, Scheme::Tiered(TiersMode::Volume, _)))
            .map(|p| p.amount(20));
        // all 20 units at the second tier plus its flat fee
        assert_eq!(volume, Some(20 * 700 + 2_000));
    }

    #[test]
    fn months_are_calendar_months() {
        // 2024-01-31 + 1 month = 2024-02-29 (leap year, clamped)
        let jan31 = 1_706_659_200;
        assert_eq!(add_interval(jan31, Interval::Month, 1), 1_709_164_800);
        assert_eq!(add_interval(jan31, Interval::Week, 1), jan31 + 7 * DAY);
    }
}
