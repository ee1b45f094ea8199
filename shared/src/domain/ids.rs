//! Identifier newtypes. Each parses and rejects, so a value of the type is always well-formed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A malformed identifier: which kind, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    /// The identifier kind, e.g. `workspace id`.
    pub kind: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

const MAX_ID_LEN: usize = 255;

fn check(kind: &'static str, raw: &str, prefixes: &[&str]) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError {
            kind,
            reason: "empty",
        });
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError {
            kind,
            reason: "longer than 255 bytes",
        });
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(IdError {
            kind,
            reason: "only letters, digits, '_', '-' and '.' are allowed",
        });
    }
    if raw.bytes().all(|b| b == b'.') {
        return Err(IdError {
            kind,
            reason: "'.' and '..' are not identifiers",
        });
    }
    if !prefixes.is_empty()
        && !prefixes
            .iter()
            .any(|p| raw.starts_with(p) && raw.len() > p.len())
    {
        return Err(IdError {
            kind,
            reason: "wrong prefix",
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates a raw identifier.
            pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                check($kind, &raw, $prefix)?;
                Ok(Self(raw))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A Kustiq workspace (tenant). Comes from the JWT authorizer claims.
    WorkspaceId, "workspace id", &[]
);
id_type!(
    /// A CRM profile inside a workspace.
    ProfileId, "profile id", &[]
);
id_type!(
    /// A connected Stripe account, `acct_…`.
    StripeAccountId, "Stripe account id", &["acct_"]
);
id_type!(
    /// A workspace's Stripe connection, `kc_…`: names the per-connection webhook
    /// endpoint of a restricted-key connection (`/webhooks/stripe/c/{id}`).
    ConnectionId, "connection id", &["kc_"]
);
id_type!(
    /// A Stripe customer, `cus_…`.
    StripeCustomerId, "Stripe customer id", &["cus_"]
);
id_type!(
    /// A Stripe event, `evt_…`.
    StripeEventId, "Stripe event id", &["evt_"]
);
id_type!(
    /// A Stripe charge, `ch_…` (card and most methods) or `py_…` (some bank debits).
    StripeChargeId, "Stripe charge id", &["ch_", "py_"]
);
id_type!(
    /// A Stripe payment intent, `pi_…`: what basil invoice payments and disputes name.
    StripePaymentIntentId, "Stripe payment intent id", &["pi_"]
);
id_type!(
    /// Any other Stripe object id (`sub_…`, `in_…`, `dp_…`, `price_…`), kept as evidence.
    StripeObjectId, "Stripe object id", &[]
);

/// A payment a dispute or an invoice payment can name: a charge, or the payment intent
/// whose charges they are. Serialized as the plain id; `pi_…` is a payment intent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PaymentRef {
    /// `ch_…`/`py_…`.
    Charge(StripeChargeId),
    /// `pi_…`.
    PaymentIntent(StripePaymentIntentId),
}

impl PaymentRef {
    /// Parses a charge or payment intent id.
    pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        if raw.starts_with("pi_") {
            StripePaymentIntentId::parse(raw).map(Self::PaymentIntent)
        } else {
            StripeChargeId::parse(raw).map(Self::Charge)
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Charge(c) => c.as_str(),
            Self::PaymentIntent(p) => p.as_str(),
        }
    }
}

impl TryFrom<String> for PaymentRef {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(raw)
    }
}

impl From<PaymentRef> for String {
    fn from(p: PaymentRef) -> String {
        p.as_str().to_owned()
    }
}

impl fmt::Display for PaymentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a payment record of the billing state stands for (`ChargeSnapshot::id`). Stored as a string: the
/// charge id, or the invoice id with a `#` suffix for what only the invoice tells.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PaymentId {
    /// A real charge, `ch_…`/`py_…`.
    Charge(StripeChargeId),
    /// The invoice was paid (whatever the amount, out of band included): `in_…#paid`.
    InvoicePaid(StripeObjectId),
    /// One failed payment known only from its `invoice.payment_failed` event (invoices of
    /// API ≥ 2025-03-31 name no charge): `in_…#evt_…`. One event is one failed charge.
    InvoiceFailure {
        /// The invoice.
        invoice: StripeObjectId,
        /// The event that reported the failure.
        event: StripeEventId,
    },
    /// A failed attempt recorded by attempt number, `in_…#attempt-N`: how state written
    /// before failures were counted per charge names them. Read, never written.
    InvoiceAttempt {
        /// The invoice.
        invoice: StripeObjectId,
        /// Stripe's `attempt_count` then.
        attempt: u32,
    },
}

/// A payment id that is none of the stored forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid payment id {0:?}")]
pub struct PaymentIdError(pub String);

impl PaymentId {
    /// The invoice this record belongs to, when the record itself says.
    pub fn invoice(&self) -> Option<&StripeObjectId> {
        match self {
            Self::Charge(_) => None,
            Self::InvoicePaid(i)
            | Self::InvoiceFailure { invoice: i, .. }
            | Self::InvoiceAttempt { invoice: i, .. } => Some(i),
        }
    }

    /// Parses the stored string form.
    pub fn parse(raw: &str) -> Result<Self, PaymentIdError> {
        let err = || PaymentIdError(raw.to_owned());
        let Some((invoice, what)) = raw.split_once('#') else {
            return StripeChargeId::parse(raw)
                .map(Self::Charge)
                .map_err(|_| err());
        };
        let invoice = StripeObjectId::parse(invoice).map_err(|_| err())?;
        if what == "paid" {
            return Ok(Self::InvoicePaid(invoice));
        }
        if let Some(n) = what.strip_prefix("attempt-") {
            let attempt = n.parse().map_err(|_| err())?;
            return Ok(Self::InvoiceAttempt { invoice, attempt });
        }
        let event = StripeEventId::parse(what).map_err(|_| err())?;
        Ok(Self::InvoiceFailure { invoice, event })
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Charge(c) => write!(f, "{c}"),
            Self::InvoicePaid(i) => write!(f, "{i}#paid"),
            Self::InvoiceFailure { invoice, event } => write!(f, "{invoice}#{event}"),
            Self::InvoiceAttempt { invoice, attempt } => write!(f, "{invoice}#attempt-{attempt}"),
        }
    }
}

impl TryFrom<String> for PaymentId {
    type Error = PaymentIdError;
    fn try_from(raw: String) -> Result<Self, PaymentIdError> {
        Self::parse(&raw)
    }
}

impl From<PaymentId> for String {
    fn from(p: PaymentId) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_id_requires_its_prefix() {
        assert!(StripeCustomerId::parse("cus_123").is_ok());
        assert!(StripeCustomerId::parse("acct_123").is_err());
        assert!(StripeCustomerId::parse("cus_").is_err());
    }

    #[test]
    fn charge_id_is_ch_or_py() {
        assert!(StripeChargeId::parse("ch_3Pq").is_ok());
        assert!(StripeChargeId::parse("py_1Ab").is_ok());
        assert!(StripeChargeId::parse("pi_1Ab").is_err());
        assert!(StripeChargeId::parse("in_1#attempt-1").is_err());
        assert!(StripeChargeId::parse("py_").is_err());
    }

    #[test]
    fn payment_ids_read_every_stored_form() {
        for raw in ["ch_1", "py_2", "in_1#paid", "in_1#evt_9", "in_1#attempt-3"] {
            let id = PaymentId::parse(raw).unwrap();
            assert_eq!(id.to_string(), raw);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<PaymentId>(&json).unwrap(), id);
        }
        assert!(matches!(
            PaymentId::parse("in_1#attempt-3"),
            Ok(PaymentId::InvoiceAttempt { attempt: 3, .. })
        ));
        assert!(PaymentId::parse("in_1").is_err());
        assert!(PaymentId::parse("in_1#nope").is_err());
    }

    #[test]
    fn ids_reject_empty_long_and_odd_characters() {
        assert!(WorkspaceId::parse("").is_err());
        assert!(WorkspaceId::parse("a".repeat(256)).is_err());
        assert!(WorkspaceId::parse("ws#1").is_err());
        assert!(WorkspaceId::parse("ws_1-a.b").is_ok());
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<StripeEventId, _> = serde_json::from_str("\"evt_1\"");
        assert!(ok.is_ok());
        let bad: Result<StripeEventId, _> = serde_json::from_str("\"ch_1\"");
        assert!(bad.is_err());
    }
}
