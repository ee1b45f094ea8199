//! Money in integer minor units with an ISO 4217 currency.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A lowercase three-letter ISO 4217 currency code, as Stripe sends it (`usd`, `eur`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Stripe's zero-decimal currencies: amounts are whole units.
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Stripe's three-decimal currencies: amounts are thousandths.
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

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

    /// Decimal places of the currency's minor unit as Stripe counts them: 0 for Stripe's
    /// zero-decimal currencies (`jpy`, `krw`, …), 3 for its three-decimal ones (`bhd`,
    /// `jod`, `kwd`, `omr`, `tnd`), else 2.
    pub fn exponent(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.as_str()) {
            0
        } else if THREE_DECIMAL.contains(&self.as_str()) {
            3
        } else {
            2
        }
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

/// For humans, in major units with the currency's exponent: `1234.50 usd`, `1200 jpy`,
/// `12.345 kwd`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let unit = 10u64.pow(exp);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / unit,
            abs % unit,
            self.currency,
            width = exp as usize
        )
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
    fn money_prints_with_the_currency_exponent() {
        let m = |minor, c: &str| Money::new(minor, Currency::parse(c).unwrap()).to_string();
        assert_eq!(m(123_456, "usd"), "1234.56 usd");
        assert_eq!(m(-5, "usd"), "-0.05 usd");
        assert_eq!(m(1_200, "jpy"), "1200 jpy");
        assert_eq!(m(12_345, "kwd"), "12.345 kwd");
        assert_eq!(m(5, "bhd"), "0.005 bhd");
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
