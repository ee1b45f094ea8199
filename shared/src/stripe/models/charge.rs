//! Charges and disputes: failed payments, days since the last successful
//! charge, and the dispute signal.

use super::common::{Expandable, StripeObject, string_enum};
use super::customer::Customer;
use super::invoice::Invoice;
use crate::domain::ids::{StripeChargeId, StripeObjectId, StripePaymentIntentId};
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

string_enum! {
    /// `charge.status`.
    pub enum ChargeStatus {
        /// Money moved.
        Succeeded = "succeeded",
        /// Not settled yet.
        Pending = "pending",
        /// Declined or errored.
        Failed = "failed",
    }
}

string_enum! {
    /// `dispute.status`.
    pub enum DisputeStatus {
        /// Inquiry awaiting a response.
        WarningNeedsResponse = "warning_needs_response",
        /// Inquiry response under review.
        WarningUnderReview = "warning_under_review",
        /// Inquiry closed.
        WarningClosed = "warning_closed",
        /// Dispute awaiting evidence.
        NeedsResponse = "needs_response",
        /// Evidence under review.
        UnderReview = "under_review",
        /// Decided for the merchant.
        Won = "won",
        /// Decided for the cardholder.
        Lost = "lost",
        /// Prevented before becoming a dispute.
        Prevented = "prevented",
    }
}

string_enum! {
    /// `dispute.reason`.
    pub enum DisputeReason {
        /// The bank could not process.
        BankCannotProcess = "bank_cannot_process",
        /// A check was returned.
        CheckReturned = "check_returned",
        /// A promised credit was not processed.
        CreditNotProcessed = "credit_not_processed",
        /// The customer initiated it.
        CustomerInitiated = "customer_initiated",
        /// Debit not authorized.
        DebitNotAuthorized = "debit_not_authorized",
        /// Charged twice.
        Duplicate = "duplicate",
        /// Fraud.
        Fraudulent = "fraudulent",
        /// Other.
        General = "general",
        /// Wrong account details.
        IncorrectAccountDetails = "incorrect_account_details",
        /// Not enough funds.
        InsufficientFunds = "insufficient_funds",
        /// Not received.
        ProductNotReceived = "product_not_received",
        /// Not as described.
        ProductUnacceptable = "product_unacceptable",
        /// Charged after canceling.
        SubscriptionCanceled = "subscription_canceled",
        /// Not recognized.
        Unrecognized = "unrecognized",
        /// Network rules not followed.
        Noncompliant = "noncompliant",
    }
}

/// A charge. No payment-method details, billing details or outcome are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    /// `ch_…` (or `py_…`).
    pub id: StripeChargeId,
    /// The customer, if any.
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
    /// Outcome.
    pub status: ChargeStatus,
    /// Whether it succeeded or was authorized.
    #[serde(default)]
    pub paid: bool,
    /// The decline or error code, e.g. `card_declined`.
    #[serde(default)]
    pub failure_code: Option<String>,
    /// When the charge was made.
    pub created: Timestamp,
    /// Whether it was fully refunded.
    #[serde(default)]
    pub refunded: bool,
    /// Amount in minor units.
    pub amount: i64,
    /// Amount refunded so far, minor units.
    #[serde(default)]
    pub amount_refunded: i64,
    /// Currency.
    pub currency: Currency,
    /// Whether it is disputed.
    #[serde(default)]
    pub disputed: bool,
    /// The invoice it pays (API versions before 2025-03-31).
    #[serde(default)]
    pub invoice: Option<Expandable<Invoice>>,
    /// The payment intent it belongs to (how an invoice's payments name it from API
    /// 2025-03-31 on).
    #[serde(default)]
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

impl StripeObject for Charge {
    type Id = StripeChargeId;
    fn id(&self) -> &StripeChargeId {
        &self.id
    }
}

/// A payment intent, read only for its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// `pi_…`.
    pub id: StripePaymentIntentId,
}

impl StripeObject for PaymentIntent {
    type Id = StripePaymentIntentId;
    fn id(&self) -> &StripePaymentIntentId {
        &self.id
    }
}

/// A dispute. Evidence (addresses, documents) is never read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispute {
    /// `dp_…` (or `du_…`).
    pub id: StripeObjectId,
    /// The disputed charge.
    pub charge: Expandable<Charge>,
    /// The payment intent of the disputed charge, when it has one.
    #[serde(default)]
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// Disputed amount, minor units.
    pub amount: i64,
    /// Currency.
    pub currency: Currency,
    /// Status.
    pub status: DisputeStatus,
    /// Reason given by the cardholder's bank.
    pub reason: DisputeReason,
    /// When it was opened.
    pub created: Timestamp,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

impl StripeObject for Dispute {
    type Id = StripeObjectId;
    fn id(&self) -> &StripeObjectId {
        &self.id
    }
}
