//! A profile's contact values for matching: an email address and a company
//! domain, each parsed once (lower-cased, shape and length checked against
//! `domain::limits`), so every stored profile holds well-formed values.

use crate::domain::limits::{LimitError, check_domain, check_email};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address, lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// A domain name, lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Email {
    /// Parses an email address (trimmed, lower-cased).
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, LimitError> {
        let v = raw.as_ref().trim().to_ascii_lowercase();
        check_email(&v)?;
        Ok(Self(v))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl Domain {
    /// Parses a domain name (trimmed, lower-cased).
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, LimitError> {
        let v = raw.as_ref().trim().to_ascii_lowercase();
        check_domain(&v)?;
        Ok(Self(v))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_value {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = LimitError;
            fn try_from(raw: String) -> Result<Self, LimitError> {
                Self::parse(raw)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_value!(Email);
string_value!(Domain);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_values_are_trimmed_lower_cased_and_checked() {
        let e = Email::parse("  Ann@ACME.io ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((e.as_str(), e.domain()), ("ann@acme.io", "acme.io"));
        assert!(Email::parse("not an email").is_err());
        assert_eq!(
            Domain::parse("Acme.IO").map(|d| d.to_string()),
            Ok("acme.io".to_owned())
        );
        assert!(Domain::parse("acme").is_err());
        let stored: Result<Email, _> = serde_json::from_str("\"x\"");
        assert!(
            stored.is_err(),
            "a malformed stored value does not read back as an Email"
        );
    }
}
