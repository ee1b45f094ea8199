//! Region pinning: a workspace's data lives only in its region's AWS region.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A workspace's data region. EU lives only in eu-central-1, US only in us-east-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// Frankfurt, eu-central-1.
    Eu,
    /// Virginia, us-east-1.
    Us,
}

/// A region name that is neither `eu` nor `us`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {0:?}: expected eu or us")]
pub struct RegionError(pub String);

impl Region {
    /// Parses `eu` / `us` (case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, RegionError> {
        match raw.to_ascii_lowercase().as_str() {
            "eu" => Ok(Self::Eu),
            "us" => Ok(Self::Us),
            _ => Err(RegionError(raw.to_owned())),
        }
    }

    /// The AWS region this workspace region is pinned to.
    pub fn aws_region(self) -> &'static str {
        match self {
            Self::Eu => "eu-central-1",
            Self::Us => "us-east-1",
        }
    }

    /// The short name, `eu` or `us`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "eu",
            Self::Us => "us",
        }
    }
}

/// ISO 3166-1 alpha-2 codes of the European Economic Area: the 27 EU member
/// states (since 2020-02-01) plus Iceland, Liechtenstein and Norway. Their
/// Stripe accounts belong to the EU region; every other country to the US one.
pub const EEA_COUNTRIES: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
];

impl Region {
    /// The region a Stripe account of `country` (two letters, any case)
    /// belongs to: EU/EEA countries → [`Region::Eu`], others → [`Region::Us`].
    pub fn of_country(country: &str) -> Self {
        let code = country.trim().to_ascii_uppercase();
        // Stripe (and ISO 3166-1) name Greece GR; EU statistics use EL.
        if code == "EL" || EEA_COUNTRIES.contains(&code.as_str()) {
            Self::Eu
        } else {
            Self::Us
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_pin_to_their_aws_region() {
        assert_eq!(Region::Eu.aws_region(), "eu-central-1");
        assert_eq!(Region::Us.aws_region(), "us-east-1");
        assert_eq!(Region::parse("EU"), Ok(Region::Eu));
        assert!(Region::parse("ap").is_err());
    }

    #[test]
    fn eu_and_eea_accounts_belong_to_eu_others_to_us() {
        for eu in ["DE", "fr", "IE", "NO", "IS", "LI", "GR"] {
            assert_eq!(Region::of_country(eu), Region::Eu, "{eu}");
        }
        for us in ["US", "GB", "CH", "CA", "AU", "JP", ""] {
            assert_eq!(Region::of_country(us), Region::Us, "{us}");
        }
    }
}
