//! The Stripe customer, read for matching to a Kustiq profile and for tenure.

use super::common::{StripeObject, null_as_default, presence};
use crate::domain::ids::StripeCustomerId;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A Stripe customer. Only what matching and tenure need: no address, phone,
/// shipping, tax ids or payment sources are ever deserialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// `cus_…`.
    pub id: StripeCustomerId,
    /// The billing email, used for matching only.
    #[serde(default)]
    pub email: Option<String>,
    /// The customer's name, used for matching only.
    #[serde(default)]
    pub name: Option<String>,
    /// When the customer was created (absent on deleted customers).
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// The two metadata keys we read; every other key is dropped.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: CustomerMetadata,
    /// Invoice settings: only whether a default payment method exists.
    #[serde(default, deserialize_with = "null_as_default")]
    pub invoice_settings: InvoiceSettings,
    /// Whether a default source (the older kind of payment method) is set; never which.
    #[serde(default, deserialize_with = "presence")]
    pub default_source: bool,
    /// The currency the customer is billed in for recurring billing, once set.
    #[serde(default)]
    pub currency: Option<crate::domain::money::Currency>,
    /// True on the stub Stripe returns for a deleted customer.
    #[serde(default)]
    pub deleted: bool,
    /// Live or test mode (absent on deleted customers).
    #[serde(default)]
    pub livemode: Option<bool>,
}

impl StripeObject for Customer {
    type Id = StripeCustomerId;
    fn id(&self) -> &StripeCustomerId {
        &self.id
    }
}

/// The customer metadata keys Kustiq reads for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMetadata {
    /// A manual override naming the Kustiq profile.
    #[serde(default)]
    pub kustiq_profile_id: Option<String>,
    /// A business domain to match on when the email is personal or missing.
    #[serde(default)]
    pub domain: Option<String>,
}

/// `customer.invoice_settings`, reduced to a presence flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceSettings {
    /// Whether the customer has a default payment method (never which one).
    #[serde(default, deserialize_with = "presence")]
    pub default_payment_method: bool,
}
