//! The signal a factor stands for: one of the billing signals Kustiq computes, or a
//! name an external family (CRM, product usage, …) chose. Stored and sent as the plain
//! name, so `{"signal": "stripe_payment_failure"}` keeps its shape.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Billing factor signal names: the five usage signals, plus pause and dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingSignal {
    /// `stripe_subscription_status`.
    StripeSubscriptionStatus,
    /// `stripe_payment_failure`.
    StripePaymentFailure,
    /// `stripe_downgrade`.
    StripeDowngrade,
    /// `stripe_days_since_charge`.
    StripeDaysSinceCharge,
    /// `stripe_mrr_delta`.
    StripeMrrDelta,
    /// `stripe_subscription_paused`.
    StripeSubscriptionPaused,
    /// `stripe_dispute`.
    StripeDispute,
}

impl BillingSignal {
    /// All of them, in factor-table order.
    pub const ALL: [BillingSignal; 7] = [
        Self::StripeSubscriptionStatus,
        Self::StripePaymentFailure,
        Self::StripeDowngrade,
        Self::StripeDaysSinceCharge,
        Self::StripeMrrDelta,
        Self::StripeSubscriptionPaused,
        Self::StripeDispute,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StripeSubscriptionStatus => "stripe_subscription_status",
            Self::StripePaymentFailure => "stripe_payment_failure",
            Self::StripeDowngrade => "stripe_downgrade",
            Self::StripeDaysSinceCharge => "stripe_days_since_charge",
            Self::StripeMrrDelta => "stripe_mrr_delta",
            Self::StripeSubscriptionPaused => "stripe_subscription_paused",
            Self::StripeDispute => "stripe_dispute",
        }
    }

    /// The billing signal with this wire name, if any.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Longest signal name an external family may use, in characters.
pub const MAX_SIGNAL_NAME_CHARS: usize = 64;

/// A signal name an external family may not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalNameError {
    /// Empty or only whitespace.
    #[error("a signal name may not be empty")]
    Empty,
    /// More than [`MAX_SIGNAL_NAME_CHARS`] characters.
    #[error("a signal name has at most {MAX_SIGNAL_NAME_CHARS} characters")]
    TooLong,
    /// Contains a control character (newline, tab, NUL, …), which would break the
    /// one-line explanations.
    #[error("a signal name may not contain control characters")]
    ControlCharacter,
}

/// An external family's signal name: not blank, at most 64 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SignalName(String);

impl SignalName {
    /// Validates a raw name (kept as given).
    pub fn parse(raw: impl Into<String>) -> Result<Self, SignalNameError> {
        let raw = raw.into();
        if raw.trim().is_empty() {
            return Err(SignalNameError::Empty);
        }
        if raw.chars().count() > MAX_SIGNAL_NAME_CHARS {
            return Err(SignalNameError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(SignalNameError::ControlCharacter);
        }
        Ok(Self(raw))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SignalName {
    type Error = SignalNameError;
    fn try_from(raw: String) -> Result<Self, SignalNameError> {
        Self::parse(raw)
    }
}

impl From<SignalName> for String {
    fn from(n: SignalName) -> String {
        n.0
    }
}

/// A factor's signal: a billing signal, or an external family's name. Serialized as the
/// plain name; a stored name that is a billing signal's reads back as that signal.
/// Two signals are equal when their names are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FactorSignal {
    /// Computed from Stripe.
    Billing(BillingSignal),
    /// Supplied with an external family's factor.
    External(SignalName),
}

impl FactorSignal {
    /// The name as sent and stored.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Billing(b) => b.as_str(),
            Self::External(n) => n.as_str(),
        }
    }

    /// An external family's signal, validated.
    pub fn external(raw: impl Into<String>) -> Result<Self, SignalNameError> {
        SignalName::parse(raw).map(Self::External)
    }

    /// Reads a stored name: a billing signal's name is that signal, anything else must
    /// be a valid external name.
    pub fn parse(raw: impl Into<String>) -> Result<Self, SignalNameError> {
        let raw = raw.into();
        match BillingSignal::parse(&raw) {
            Some(b) => Ok(Self::Billing(b)),
            None => Self::external(raw),
        }
    }
}

impl PartialEq for FactorSignal {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FactorSignal {}

impl std::hash::Hash for FactorSignal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<BillingSignal> for FactorSignal {
    fn eq(&self, other: &BillingSignal) -> bool {
        self.as_str() == other.as_str()
    }
}

impl From<BillingSignal> for FactorSignal {
    fn from(b: BillingSignal) -> Self {
        Self::Billing(b)
    }
}

impl TryFrom<String> for FactorSignal {
    type Error = SignalNameError;
    fn try_from(raw: String) -> Result<Self, SignalNameError> {
        Self::parse(raw)
    }
}

impl From<FactorSignal> for String {
    fn from(s: FactorSignal) -> String {
        match s {
            FactorSignal::Billing(b) => b.as_str().to_owned(),
            FactorSignal::External(n) => n.0,
        }
    }
}

impl fmt::Display for FactorSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_signal_names_are_non_blank_at_most_64_chars_without_control_characters() {
        assert!(SignalName::parse("champion_left").is_ok());
        assert!(SignalName::parse("Ärger über Rechnung").is_ok());
        assert_eq!(SignalName::parse(""), Err(SignalNameError::Empty));
        assert_eq!(SignalName::parse("  "), Err(SignalNameError::Empty));
        assert!(SignalName::parse("é".repeat(64)).is_ok());
        assert_eq!(
            SignalName::parse("x".repeat(65)),
            Err(SignalNameError::TooLong)
        );
        assert_eq!(
            SignalName::parse("a\nb"),
            Err(SignalNameError::ControlCharacter)
        );
        assert_eq!(
            SignalName::parse("a\u{0}"),
            Err(SignalNameError::ControlCharacter)
        );
    }

    #[test]
    fn factor_signals_serialize_as_plain_names() {
        let billing = FactorSignal::Billing(BillingSignal::StripeDispute);
        assert_eq!(
            serde_json::to_value(&billing).unwrap(),
            serde_json::json!("stripe_dispute")
        );
        let back: FactorSignal = serde_json::from_str("\"stripe_dispute\"").unwrap();
        assert!(matches!(
            back,
            FactorSignal::Billing(BillingSignal::StripeDispute)
        ));
        let ext: FactorSignal = serde_json::from_str("\"champion_left\"").unwrap();
        assert_eq!(ext, FactorSignal::external("champion_left").unwrap());
        assert!(serde_json::from_str::<FactorSignal>("\"\"").is_err());
        assert!(serde_json::from_str::<FactorSignal>("\"a\\tb\"").is_err());
    }
}
