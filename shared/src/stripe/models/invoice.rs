//! The Stripe invoice: dunning (attempts, failures), payments and billing cycles.

use super::common::{Expandable, List, StripeObject, null_as_default, string_enum};
use super::customer::Customer;
use super::subscription::{Plan, Price, Subscription};
use crate::domain::ids::StripeObjectId;
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

string_enum! {
    /// `invoice.status`.
    pub enum InvoiceStatus {
        /// Being prepared.
        Draft = "draft",
        /// Finalized and awaiting payment.
        Open = "open",
        /// Paid.
        Paid = "paid",
        /// Written off.
        Uncollectible = "uncollectible",
        /// Canceled.
        Void = "void",
    }
}

string_enum! {
    /// `invoice.billing_reason`.
    pub enum BillingReason {
        /// First invoice of a subscription.
        SubscriptionCreate = "subscription_create",
        /// A renewal.
        SubscriptionCycle = "subscription_cycle",
        /// A change (plan, quantity) invoiced immediately.
        SubscriptionUpdate = "subscription_update",
        /// A usage threshold was crossed.
        SubscriptionThreshold = "subscription_threshold",
        /// Legacy subscription invoice.
        Subscription = "subscription",
        /// Created by hand.
        Manual = "manual",
        /// A preview of the next invoice.
        Upcoming = "upcoming",
        /// Pending invoice items invoiced automatically.
        AutomaticPendingInvoiceItemInvoice = "automatic_pending_invoice_item_invoice",
        /// From an accepted quote.
        QuoteAccept = "quote_accept",
    }
}

string_enum! {
    /// `invoice_line_item.type` (API versions before 2025-03-31).
    pub enum LineType {
        /// A one-off invoice item.
        InvoiceItem = "invoiceitem",
        /// A subscription charge.
        Subscription = "subscription",
    }
}

/// A Stripe invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// `in_…`.
    pub id: StripeObjectId,
    /// The customer billed.
    #[serde(default)]
    pub customer: Option<Expandable<Customer>>,
    /// The subscription (API versions before 2025-03-31; see [`Invoice::subscription_id`]).
    #[serde(default)]
    pub subscription: Option<Expandable<Subscription>>,
    /// Where the invoice comes from (API 2025-03-31 and later).
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    /// The charge that paid or tried to pay it (API versions before
    /// 2025-03-31). Ingest remembers its owner, because a dispute names only
    /// its charge.
    #[serde(default)]
    pub charge: Option<Expandable<super::charge::Charge>>,
    /// The payment intent collecting it (API versions before 2025-03-31).
    #[serde(default)]
    pub payment_intent: Option<Expandable<super::charge::PaymentIntent>>,
    /// The payments made or tried against it (API 2025-03-31 and later; sent only when
    /// included, e.g. on a retrieve with `expand[]=payments`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub payments: List<InvoicePayment>,
    /// Status (`null` only for upcoming-invoice previews).
    #[serde(default)]
    pub status: Option<InvoiceStatus>,
    /// Payment attempts so far.
    #[serde(default)]
    pub attempt_count: u32,
    /// Whether a payment was attempted.
    #[serde(default)]
    pub attempted: bool,
    /// When Stripe retries next, during dunning.
    #[serde(default)]
    pub next_payment_attempt: Option<Timestamp>,
    /// Amount due, minor units.
    #[serde(default)]
    pub amount_due: i64,
    /// Amount paid, minor units.
    #[serde(default)]
    pub amount_paid: i64,
    /// Amount remaining, minor units.
    #[serde(default)]
    pub amount_remaining: i64,
    /// Currency of the amounts.
    pub currency: Currency,
    /// Start of the billed usage period.
    #[serde(default)]
    pub period_start: Option<Timestamp>,
    /// End of the billed usage period.
    #[serde(default)]
    pub period_end: Option<Timestamp>,
    /// When the invoice was created.
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// Due date (send_invoice collection).
    #[serde(default)]
    pub due_date: Option<Timestamp>,
    /// When the status changed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_transitions: StatusTransitions,
    /// Why it was created.
    #[serde(default)]
    pub billing_reason: Option<BillingReason>,
    /// The first page of line items.
    #[serde(default, deserialize_with = "null_as_default")]
    pub lines: List<InvoiceLine>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

impl StripeObject for Invoice {
    type Id = StripeObjectId;
    fn id(&self) -> &StripeObjectId {
        &self.id
    }
}

impl Invoice {
    /// Every charge and payment intent the invoice names as paying or trying to pay
    /// it: `charge` and `payment_intent` before API 2025-03-31, `payments` after.
    pub fn payment_refs(&self) -> Vec<crate::domain::ids::PaymentRef> {
        use crate::domain::ids::PaymentRef;
        let mut out: Vec<PaymentRef> = Vec::new();
        let targets = self.payments.data.iter().filter_map(|p| p.payment.as_ref());
        let charges = self
            .charge
            .iter()
            .chain(targets.clone().filter_map(|t| t.charge.as_ref()))
            .map(|c| PaymentRef::Charge(c.id().clone()));
        let intents = self
            .payment_intent
            .iter()
            .chain(targets.filter_map(|t| t.payment_intent.as_ref()))
            .map(|p| PaymentRef::PaymentIntent(p.id().clone()));
        for r in charges.chain(intents) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// The subscription id, wherever this API version puts it.
    pub fn subscription_id(&self) -> Option<&StripeObjectId> {
        self.subscription.as_ref().map(Expandable::id).or_else(|| {
            self.parent
                .as_ref()
                .and_then(|p| p.subscription_details.as_ref())
                .and_then(|d| d.subscription.as_ref())
                .map(Expandable::id)
        })
    }
}

/// One payment of an invoice (`invoice.payments.data[]`, API 2025-03-31 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoicePayment {
    /// `inpay_…`.
    pub id: String,
    /// What paid: a payment intent or a charge.
    #[serde(default)]
    pub payment: Option<InvoicePaymentTarget>,
    /// `open`, `paid` or `canceled`.
    #[serde(default)]
    pub status: Option<String>,
}

/// `invoice_payment.payment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoicePaymentTarget {
    /// Set when `type` is `charge`.
    #[serde(default)]
    pub charge: Option<Expandable<super::charge::Charge>>,
    /// Set when `type` is `payment_intent`.
    #[serde(default)]
    pub payment_intent: Option<Expandable<super::charge::PaymentIntent>>,
}

/// `invoice.status_transitions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusTransitions {
    /// When it was finalized.
    #[serde(default)]
    pub finalized_at: Option<Timestamp>,
    /// When it was paid.
    #[serde(default)]
    pub paid_at: Option<Timestamp>,
    /// When it was voided.
    #[serde(default)]
    pub voided_at: Option<Timestamp>,
    /// When it was marked uncollectible.
    #[serde(default)]
    pub marked_uncollectible_at: Option<Timestamp>,
}

/// `invoice.parent` (API 2025-03-31 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceParent {
    /// Set when a subscription generated the invoice.
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

/// `invoice.parent.subscription_details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionDetails {
    /// The subscription, as an id or expanded.
    #[serde(default)]
    pub subscription: Option<Expandable<Subscription>>,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "InvoiceLineWire")]
pub struct InvoiceLine {
    /// `il_…`.
    pub id: StripeObjectId,
    /// Amount in minor units (negative for credits and prorations back).
    pub amount: i64,
    /// Currency.
    pub currency: Option<Currency>,
    /// Quantity.
    pub quantity: Option<u64>,
    /// The price (API versions before 2025-03-31; read from the legacy `plan` when absent).
    pub price: Option<Price>,
    /// Pricing (API 2025-03-31 and later): the price id only.
    pub pricing: Option<LinePricing>,
    /// The service period.
    pub period: Option<Period>,
    /// Whether this is a proration (API versions before 2025-03-31).
    pub proration: Option<bool>,
    /// What generated the line (API 2025-03-31 and later).
    pub parent: Option<LineParent>,
    /// Line type (API versions before 2025-03-31).
    #[serde(rename = "type")]
    pub kind: Option<LineType>,
}

/// An invoice line as sent: older API versions and some emulators send the
/// legacy `plan` instead of `price`.
#[derive(Deserialize)]
struct InvoiceLineWire {
    id: StripeObjectId,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    currency: Option<Currency>,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default)]
    price: Option<Price>,
    #[serde(default)]
    plan: Option<Plan>,
    #[serde(default)]
    pricing: Option<LinePricing>,
    #[serde(default)]
    period: Option<Period>,
    #[serde(default)]
    proration: Option<bool>,
    #[serde(default)]
    parent: Option<LineParent>,
    #[serde(default, rename = "type")]
    kind: Option<LineType>,
}

impl From<InvoiceLineWire> for InvoiceLine {
    fn from(w: InvoiceLineWire) -> Self {
        Self {
            id: w.id,
            amount: w.amount,
            currency: w.currency,
            quantity: w.quantity,
            price: w.price.or_else(|| w.plan.map(Price::from)),
            pricing: w.pricing,
            period: w.period,
            proration: w.proration,
            parent: w.parent,
            kind: w.kind,
        }
    }
}

impl InvoiceLine {
    /// The price id, wherever this API version puts it.
    pub fn price_id(&self) -> Option<&StripeObjectId> {
        self.price.as_ref().map(|p| &p.id).or_else(|| {
            self.pricing
                .as_ref()
                .and_then(|p| p.price_details.as_ref())
                .map(|d| &d.price)
        })
    }

    /// Whether the line is a proration, wherever this API version says so.
    pub fn is_proration(&self) -> bool {
        self.proration.unwrap_or_else(|| {
            self.parent
                .as_ref()
                .and_then(|p| {
                    p.subscription_item_details
                        .as_ref()
                        .or(p.invoice_item_details.as_ref())
                })
                .is_some_and(|d| d.proration)
        })
    }
}

/// A time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
}

/// `line.pricing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinePricing {
    /// Price details when the line is priced by a Price.
    #[serde(default)]
    pub price_details: Option<PriceDetails>,
    /// Unit amount as a decimal string.
    #[serde(default)]
    pub unit_amount_decimal: Option<String>,
}

/// `line.pricing.price_details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceDetails {
    /// The price id.
    pub price: StripeObjectId,
}

/// `line.parent` (API 2025-03-31 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineParent {
    /// Set when a subscription item generated the line.
    #[serde(default)]
    pub subscription_item_details: Option<ParentDetails>,
    /// Set when an invoice item generated the line.
    #[serde(default)]
    pub invoice_item_details: Option<ParentDetails>,
}

/// The proration flag carried by `line.parent.*_details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentDetails {
    /// Whether the line is a proration.
    #[serde(default)]
    pub proration: bool,
    /// The subscription, when known.
    #[serde(default)]
    pub subscription: Option<StripeObjectId>,
}
