//! Money in integer minor units with an ISO 4217 currency.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A lowercase three-letter ISO 4217 currency code, as Stripe sends it (`usd`, `eur`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// A currency code that is not three ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid currency code {0:?}: expected three letters")]
pub struct CurrencyError(pub String);

impl Currency {
    /// Parses a currency code, case-insensitively; stored lowercase.
    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        let b = raw.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(CurrencyError(raw.to_owned()));
        }
        Ok(Self([
            b[0].to_ascii_lowercase(),
            b[1].to_ascii_lowercase(),
            b[2].to_ascii_lowercase(),
        ]))
    }

    /// The lowercase code.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(raw: String) -> Result<Self, CurrencyError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in the currency's minor unit (cents for usd, yen for jpy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units; negative for credits.
    #[serde(rename = "amount")]
    pub minor: i64,
    /// The currency of `minor`.
    pub currency: Currency,
}

impl Money {
    /// A new amount.
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_is_three_letters_stored_lowercase() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Ok("eur".to_owned())
        );
        assert!(Currency::parse("eu").is_err());
        assert!(Currency::parse("e1r").is_err());
    }

    #[test]
    fn money_serializes_as_amount_and_currency() {
        let m = Money::new(
            1999,
            Currency::parse("usd").unwrap_or_else(|e| panic!("{e}")),
        );
        let json = serde_json::to_value(m).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"amount": 1999, "currency": "usd"}));
    }
}
