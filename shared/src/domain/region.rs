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
}
