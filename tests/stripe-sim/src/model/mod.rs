//! The simulator's compact internal representation of a Stripe account.
//!
//! Objects are stored as small structs holding indices, never JSON or id strings, so a
//! 10,000-customer, 5-year account fits in a few tens of megabytes and generates in seconds;
//! `render` turns them into Stripe-shaped JSON on demand. Every vector is in creation order
//! (the lifecycle engine only ever creates objects "now"), so index order is `created` order.

mod catalog;

pub use catalog::{
    COUPONS, Coupon, Cur, Discount, Duration, Interval, PRODUCTS, Price, Scheme, Tier, TiersMode,
};

/// What a customer's metadata carries for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// Nothing.
    None,
    /// `metadata.kustiq_profile_id`.
    ProfileId(u32),
    /// `metadata.domain`: the company domain.
    Domain,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Creation time.
    pub created: i64,
    /// Index into the first-name list.
    pub first: u16,
    /// Index into the last-name list.
    pub last: u16,
    /// The customer's company (business domain index).
    pub company: u32,
    /// Whether the email is at a personal provider; `Some(i)` indexes the provider list.
    pub personal: Option<u8>,
    /// Whether the customer has no email at all.
    pub no_email: bool,
    /// Bumped by each email change, so the address differs.
    pub email_version: u8,
    /// Matching metadata.
    pub meta: Meta,
    /// Billing currency.
    pub currency: Cur,
    /// Whether a default payment method is on file.
    pub has_payment_method: bool,
    /// Chance in percent that any given payment fails.
    pub risk: u8,
    /// Whether any invoice is past due (Stripe's `delinquent`).
    pub delinquent: bool,
}

/// Subscription statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// In a trial.
    Trialing,
    /// Paid up.
    Active,
    /// Latest invoice failed, retries under way.
    PastDue,
    /// Retries exhausted, kept open.
    Unpaid,
    /// Ended.
    Canceled,
    /// Trial ended without a payment method.
    Paused,
}

impl SubStatus {
    /// Stripe's name.
    pub const fn name(self) -> &'static str {
        match self {
            SubStatus::Trialing => "trialing",
            SubStatus::Active => "active",
            SubStatus::PastDue => "past_due",
            SubStatus::Unpaid => "unpaid",
            SubStatus::Canceled => "canceled",
            SubStatus::Paused => "paused",
        }
    }

    /// Parses Stripe's name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "trialing" => SubStatus::Trialing,
            "active" => SubStatus::Active,
            "past_due" => SubStatus::PastDue,
            "unpaid" => SubStatus::Unpaid,
            "canceled" => SubStatus::Canceled,
            "paused" => SubStatus::Paused,
            _ => return None,
        })
    }
}

/// A subscription item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Index for the `si_` id.
    pub index: u32,
    /// Price index.
    pub price: u16,
    /// Quantity.
    pub quantity: u32,
    /// Creation time.
    pub created: i64,
}

/// Why a subscription was canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The customer asked.
    Requested,
    /// Payment retries failed.
    PaymentFailed,
    /// The trial ended without a payment method.
    TrialNoPaymentMethod,
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Customer index.
    pub customer: u32,
    /// Creation time.
    pub created: i64,
    /// Status.
    pub status: SubStatus,
    /// Items.
    pub items: Vec<Item>,
    /// Current period start.
    pub period_start: i64,
    /// Current period end.
    pub period_end: i64,
    /// Trial bounds.
    pub trial: Option<(i64, i64)>,
    /// Whether the trial cancels (rather than pauses) without a payment method.
    pub trial_cancels: bool,
    /// Cancels at the end of the current period.
    pub cancel_at_period_end: bool,
    /// When cancellation was requested or happened.
    pub canceled_at: Option<i64>,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// Why it was canceled.
    pub cancel_reason: Option<CancelReason>,
    /// `pause_collection.resumes_at` when collection is paused.
    pub pause_resumes_at: Option<i64>,
    /// Applied coupon.
    pub discount: Option<Discount>,
    /// Latest invoice index.
    pub latest_invoice: Option<u32>,
    /// Failed attempts on the open invoice.
    pub failed_attempts: u8,
}

impl Subscription {
    /// Currency of the first item's price (all items share one).
    pub fn currency(&self, prices: &[Price]) -> Cur {
        self.items
            .first()
            .and_then(|i| prices.get(usize::from(i.price)))
            .map_or(Cur::Usd, |p| p.currency)
    }
}

/// Invoice statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Awaiting payment.
    Open,
    /// Paid.
    Paid,
    /// Voided (paused collection).
    Void,
    /// Given up on.
    Uncollectible,
}

impl InvoiceStatus {
    /// Stripe's name.
    pub const fn name(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
            InvoiceStatus::Uncollectible => "uncollectible",
        }
    }

    /// Parses Stripe's name (`draft` is valid but never used here).
    pub fn parse(s: &str) -> Option<Option<Self>> {
        Some(match s {
            "draft" => None,
            "open" => Some(InvoiceStatus::Open),
            "paid" => Some(InvoiceStatus::Paid),
            "void" => Some(InvoiceStatus::Void),
            "uncollectible" => Some(InvoiceStatus::Uncollectible),
            _ => return None,
        })
    }
}

/// Why an invoice was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingReason {
    /// First invoice.
    Create,
    /// Renewal.
    Cycle,
    /// Plan change.
    Update,
}

/// An invoice line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Subscription item index.
    pub item: u32,
    /// Price index.
    pub price: u16,
    /// Quantity.
    pub quantity: u32,
    /// Amount in minor units.
    pub amount: i64,
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Customer index.
    pub customer: u32,
    /// Subscription index.
    pub subscription: u32,
    /// Creation (and finalization) time.
    pub created: i64,
    /// Period start.
    pub period_start: i64,
    /// Period end.
    pub period_end: i64,
    /// Status.
    pub status: InvoiceStatus,
    /// Payment attempts so far.
    pub attempt_count: u8,
    /// Sum of lines.
    pub subtotal: i64,
    /// Discount applied.
    pub discount: i64,
    /// The subscription discount that produced `discount`, kept because a one-time coupon
    /// leaves the subscription once it has been used.
    pub discount_source: Option<Discount>,
    /// Currency.
    pub currency: Cur,
    /// Billing reason.
    pub reason: BillingReason,
    /// Lines.
    pub lines: Box<[Line]>,
    /// Latest charge index.
    pub charge: Option<u32>,
    /// Next retry time.
    pub next_payment_attempt: Option<i64>,
    /// When it was paid, voided or marked uncollectible.
    pub closed_at: Option<i64>,
    /// Sequence number within the customer, for `number`.
    pub number: u32,
}

impl Invoice {
    /// Total after discount.
    pub fn total(&self) -> i64 {
        self.subtotal - self.discount
    }
}

/// Card failure codes the generator uses.
pub const FAILURE_CODES: [(&str, &str); 4] = [
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
    (
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
];

/// A charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// Customer index.
    pub customer: u32,
    /// Invoice index.
    pub invoice: u32,
    /// Creation time.
    pub created: i64,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: Cur,
    /// `None` when it succeeded, else an index into [`FAILURE_CODES`].
    pub failure: Option<u8>,
    /// Refunded amount.
    pub amount_refunded: i64,
    /// Dispute index.
    pub dispute: Option<u32>,
}

/// Dispute reasons the generator uses.
pub const DISPUTE_REASONS: [&str; 4] = [
    "fraudulent",
    "subscription_canceled",
    "product_not_received",
    "unrecognized",
];

/// A dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispute {
    /// Charge index.
    pub charge: u32,
    /// Creation time.
    pub created: i64,
    /// Amount.
    pub amount: i64,
    /// Currency.
    pub currency: Cur,
    /// Index into [`DISPUTE_REASONS`].
    pub reason: u8,
    /// Whether it is decided in the merchant's favour once closed.
    pub won: bool,
}

impl Dispute {
    /// Status as of `now`: disputes move on by age.
    pub fn status(&self, now: i64) -> &'static str {
        let age_days = (now - self.created) / 86_400;
        match (age_days, self.won) {
            (d, _) if d < 7 => "needs_response",
            (d, _) if d < 30 => "under_review",
            (_, true) => "won",
            (_, false) => "lost",
        }
    }
}

/// A copy of an object as it was when an event happened; rendered to JSON only when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// A customer and its index.
    Customer(u32, Customer),
    /// A subscription and its index.
    Subscription(u32, Box<Subscription>),
    /// An invoice and its index.
    Invoice(u32, Box<Invoice>),
    /// A charge and its index.
    Charge(u32, Charge),
    /// A dispute and its index.
    Dispute(u32, Dispute),
    /// The platform's Connect application (`account.application.*` events).
    Application,
}

/// `data.previous_attributes`, kept compact until rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum Previous {
    /// Literal attributes.
    Json(serde_json::Value),
    /// A renewal: the subscription before its period moved.
    Renewal(Box<Subscription>),
    /// A plan change: the subscription before its item changed.
    PlanChange(Box<Subscription>),
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Creation time.
    pub created: i64,
    /// Event type.
    pub kind: &'static str,
    /// `data.object` as of `created`.
    pub object: Snapshot,
    /// `data.previous_attributes`.
    pub previous: Option<Previous>,
}
