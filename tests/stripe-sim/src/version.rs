//! The Stripe API version the simulator renders: basil by default, or a legacy shape.

use std::fmt;

/// First API version of the basil release, where invoices lose `charge` and subscriptions their
/// `current_period_*`.
pub const BASIL: &str = "2025-03-31.basil";
/// The legacy version the simulator renders for any version before basil.
pub const LEGACY: &str = "2024-06-20";

/// Which payload shape the simulator renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `2025-03-31.basil` and later: periods on subscription items, discounts as ids, invoice
    /// `parent` and `payments` instead of `subscription` and `charge`, line `pricing`.
    #[default]
    Basil,
    /// `2024-06-20`: periods on the subscription, an embedded `discount` with its coupon,
    /// `invoice.charge`, `invoice.subscription`, `charge.invoice`, line `price` and `plan`.
    Legacy,
}

impl ApiVersion {
    /// The version string events carry in `api_version`.
    pub const fn name(self) -> &'static str {
        match self {
            ApiVersion::Basil => BASIL,
            ApiVersion::Legacy => LEGACY,
        }
    }

    /// Reads a `Stripe-Version` value or flag: `YYYY-MM-DD` with an optional `.release`
    /// suffix. Dates from basil on render basil; earlier dates render the legacy shape.
    pub fn parse(s: &str) -> Option<Self> {
        let date = s.split('.').next().unwrap_or("");
        let b = date.as_bytes();
        let well_formed = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !well_formed {
            return None;
        }
        Some(if date >= &BASIL[..10] {
            ApiVersion::Basil
        } else {
            ApiVersion::Legacy
        })
    }

    /// Whether this is basil or later.
    pub const fn basil(self) -> bool {
        matches!(self, ApiVersion::Basil)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_basil_on_render_basil_and_earlier_ones_the_legacy_shape() {
        assert_eq!(
            ApiVersion::parse("2025-03-31.basil"),
            Some(ApiVersion::Basil)
        );
        assert_eq!(
            ApiVersion::parse("2025-09-30.clover"),
            Some(ApiVersion::Basil)
        );
        assert_eq!(ApiVersion::parse("2024-06-20"), Some(ApiVersion::Legacy));
        assert_eq!(ApiVersion::parse("2020-08-27"), Some(ApiVersion::Legacy));
        assert_eq!(ApiVersion::parse("yesterday"), None);
        assert_eq!(ApiVersion::parse("2024-6-20"), None);
    }
}
