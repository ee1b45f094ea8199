//! The Stripe subscription and its prices and discounts: MRR, plan changes,
//! trials, pauses and cancellations are all read from here.

use super::common::{
    Expandable, List, StripeObject, lenient_int, null_as_default, presence, string_enum,
};
use super::customer::Customer;
use crate::domain::ids::StripeObjectId;
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};

string_enum! {
    /// `subscription.status`.
    pub enum SubscriptionStatus {
        /// First payment not yet made.
        Incomplete = "incomplete",
        /// First payment never made within 23 hours.
        IncompleteExpired = "incomplete_expired",
        /// In a trial.
        Trialing = "trialing",
        /// Paid and current.
        Active = "active",
        /// Latest invoice failed; Stripe is retrying (dunning).
        PastDue = "past_due",
        /// Ended.
        Canceled = "canceled",
        /// Retries exhausted, left open.
        Unpaid = "unpaid",
        /// Trial ended without a payment method.
        Paused = "paused",
    }
}

string_enum! {
    /// `price.recurring.interval`.
    pub enum Interval {
        /// Daily.
        Day = "day",
        /// Weekly.
        Week = "week",
        /// Monthly.
        Month = "month",
        /// Yearly.
        Year = "year",
    }
}

string_enum! {
    /// `price.recurring.usage_type`.
    pub enum UsageType {
        /// Billed for the quantity set on the item.
        Licensed = "licensed",
        /// Billed for reported usage.
        Metered = "metered",
    }
}

string_enum! {
    /// `price.billing_scheme`.
    pub enum BillingScheme {
        /// A fixed unit amount.
        PerUnit = "per_unit",
        /// Amounts from `tiers`.
        Tiered = "tiered",
    }
}

string_enum! {
    /// `price.tiers_mode`.
    pub enum TiersMode {
        /// Each unit priced by the tier it falls in.
        Graduated = "graduated",
        /// All units priced by the tier the total falls in.
        Volume = "volume",
    }
}

string_enum! {
    /// `coupon.duration`.
    pub enum CouponDuration {
        /// Applies to every invoice.
        Forever = "forever",
        /// Applies to the first invoice only.
        Once = "once",
        /// Applies for `duration_in_months`.
        Repeating = "repeating",
    }
}

string_enum! {
    /// `price.tax_behavior`.
    pub enum TaxBehavior {
        /// The amount includes tax.
        Inclusive = "inclusive",
        /// Tax is added on top.
        Exclusive = "exclusive",
        /// Not set (treated as exclusive by Stripe Tax).
        Unspecified = "unspecified",
    }
}

string_enum! {
    /// `subscription.cancellation_details.reason`.
    pub enum CancellationReason {
        /// The customer or merchant canceled.
        CancellationRequested = "cancellation_requested",
        /// Canceled because of a dispute.
        PaymentDisputed = "payment_disputed",
        /// Canceled after failed payments.
        PaymentFailed = "payment_failed",
    }
}

string_enum! {
    /// `subscription.pause_collection.behavior`.
    pub enum PauseBehavior {
        /// Invoices stay drafts.
        KeepAsDraft = "keep_as_draft",
        /// Invoices are marked uncollectible.
        MarkUncollectible = "mark_uncollectible",
        /// Invoices are voided.
        Void = "void",
    }
}

string_enum! {
    /// `subscription.collection_method`.
    pub enum CollectionMethod {
        /// Stripe charges the default payment method.
        ChargeAutomatically = "charge_automatically",
        /// Stripe emails an invoice.
        SendInvoice = "send_invoice",
    }
}

/// A Stripe subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// `sub_…`.
    pub id: StripeObjectId,
    /// The customer, as an id or expanded.
    pub customer: Expandable<Customer>,
    /// Lifecycle status.
    pub status: SubscriptionStatus,
    /// The priced items (one per price).
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: List<SubscriptionItem>,
    /// Three-letter currency of the subscription.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// The single discount (older API versions; `null` when none).
    #[serde(default)]
    pub discount: Option<Discount>,
    /// The discounts (ids unless expanded).
    #[serde(default, deserialize_with = "null_as_default")]
    pub discounts: Vec<Expandable<Discount>>,
    /// Tax rates applied to items that set none of their own.
    #[serde(default, deserialize_with = "null_as_default")]
    pub default_tax_rates: Vec<TaxRate>,
    /// Stripe Tax settings.
    #[serde(default)]
    pub automatic_tax: Option<AutomaticTax>,
    /// Trial start.
    #[serde(default)]
    pub trial_start: Option<Timestamp>,
    /// Trial end.
    #[serde(default)]
    pub trial_end: Option<Timestamp>,
    /// Whether it ends at the end of the current period.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// A scheduled cancellation time.
    #[serde(default)]
    pub cancel_at: Option<Timestamp>,
    /// When cancellation was requested.
    #[serde(default)]
    pub canceled_at: Option<Timestamp>,
    /// Why it was canceled.
    #[serde(default)]
    pub cancellation_details: Option<CancellationDetails>,
    /// Set while payment collection is paused.
    #[serde(default)]
    pub pause_collection: Option<PauseCollection>,
    /// How invoices are collected.
    #[serde(default)]
    pub collection_method: Option<CollectionMethod>,
    /// Current period start (API versions before 2025-03-31; see items after).
    #[serde(default)]
    pub current_period_start: Option<Timestamp>,
    /// Current period end (API versions before 2025-03-31; see items after).
    #[serde(default)]
    pub current_period_end: Option<Timestamp>,
    /// When the subscription was created.
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// Start date (may precede `created` for backdated subscriptions).
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    /// When it ended, if it has.
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    /// Whether a default payment method is set (we never keep which one).
    #[serde(default, deserialize_with = "presence")]
    pub default_payment_method: bool,
    /// Whether a default source is set (the older kind of payment method; never which).
    #[serde(default, deserialize_with = "presence")]
    pub default_source: bool,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

/// `subscription.automatic_tax`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomaticTax {
    /// Stripe Tax computes the tax.
    #[serde(default)]
    pub enabled: bool,
}

/// A tax rate (`txr_…`) as subscriptions and their items carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxRate {
    /// `txr_…`.
    pub id: String,
    /// The rate in percent, e.g. `19.0`.
    #[serde(default)]
    pub percentage: Option<f64>,
    /// Whether prices already include it.
    #[serde(default)]
    pub inclusive: bool,
}

impl StripeObject for Subscription {
    type Id = StripeObjectId;
    fn id(&self) -> &StripeObjectId {
        &self.id
    }
}

impl Subscription {
    /// The end of the current period wherever this API version puts it: on the
    /// subscription before 2025-03-31, on each item since (earliest item wins).
    pub fn period_end(&self) -> Option<Timestamp> {
        self.current_period_end.or_else(|| {
            self.items
                .data
                .iter()
                .filter_map(|i| i.current_period_end)
                .min()
        })
    }

    /// Every discount whose coupon was sent, from `discount` and expanded `discounts`.
    pub fn coupons(&self) -> Vec<&Coupon> {
        let mut out: Vec<&Coupon> = Vec::new();
        let expanded = self.discounts.iter().filter_map(Expandable::object);
        for c in self
            .discount
            .iter()
            .chain(expanded)
            .filter_map(Discount::coupon)
        {
            if !out.iter().any(|seen| seen.id == c.id) {
                out.push(c);
            }
        }
        out
    }
}

/// One item of a subscription: a price and a quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SubscriptionItemWire")]
pub struct SubscriptionItem {
    /// `si_…`.
    pub id: StripeObjectId,
    /// The price billed (read from the legacy `plan` when `price` is absent).
    pub price: Price,
    /// Quantity (absent for metered prices).
    pub quantity: Option<u64>,
    /// Current period start (API 2025-03-31 and later).
    pub current_period_start: Option<Timestamp>,
    /// Current period end (API 2025-03-31 and later).
    pub current_period_end: Option<Timestamp>,
    /// When the item was added.
    pub created: Option<Timestamp>,
    /// Item-level discounts (ids unless expanded).
    pub discounts: Vec<Expandable<Discount>>,
    /// Item-level tax rates (override the subscription's default ones).
    pub tax_rates: Vec<TaxRate>,
}

/// A subscription item as sent: Stripe sends both `price` and the legacy
/// `plan`; older API versions and some emulators send only `plan`.
#[derive(Deserialize)]
struct SubscriptionItemWire {
    id: StripeObjectId,
    #[serde(default)]
    price: Option<Price>,
    #[serde(default)]
    plan: Option<Plan>,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default)]
    current_period_start: Option<Timestamp>,
    #[serde(default)]
    current_period_end: Option<Timestamp>,
    #[serde(default)]
    created: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_default")]
    discounts: Vec<Expandable<Discount>>,
    #[serde(default, deserialize_with = "null_as_default")]
    tax_rates: Vec<TaxRate>,
}

impl TryFrom<SubscriptionItemWire> for SubscriptionItem {
    type Error = &'static str;
    fn try_from(w: SubscriptionItemWire) -> Result<Self, Self::Error> {
        let price = w
            .price
            .or_else(|| w.plan.map(Price::from))
            .ok_or("subscription item has neither price nor plan")?;
        Ok(Self {
            id: w.id,
            price,
            quantity: w.quantity,
            current_period_start: w.current_period_start,
            current_period_end: w.current_period_end,
            created: w.created,
            discounts: w.discounts,
            tax_rates: w.tax_rates,
        })
    }
}

/// A legacy plan (`plan_…` or a price id), the predecessor of [`Price`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan id.
    pub id: StripeObjectId,
    /// The product, as an id or expanded.
    #[serde(default)]
    pub product: Option<Expandable<Product>>,
    /// Amount per unit in minor units; `null` for tiered plans.
    #[serde(default, deserialize_with = "lenient_int")]
    pub amount: Option<i64>,
    /// Currency.
    pub currency: Currency,
    /// Billing interval unit.
    pub interval: Interval,
    /// Number of intervals between bills.
    #[serde(default = "one")]
    pub interval_count: u32,
    /// Licensed or metered.
    #[serde(default)]
    pub usage_type: Option<UsageType>,
    /// Per-unit or tiered.
    #[serde(default)]
    pub billing_scheme: Option<BillingScheme>,
    /// Tiers, when sent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tiers: Vec<Tier>,
    /// How tiers apply.
    #[serde(default)]
    pub tiers_mode: Option<TiersMode>,
}

impl From<Plan> for Price {
    fn from(p: Plan) -> Self {
        Price {
            id: p.id,
            product: p.product,
            tax_behavior: None,
            unit_amount: p.amount,
            unit_amount_decimal: None,
            currency: p.currency,
            recurring: Some(Recurring {
                interval: p.interval,
                interval_count: p.interval_count,
                usage_type: p.usage_type,
            }),
            billing_scheme: p.billing_scheme,
            tiers: p.tiers,
            tiers_mode: p.tiers_mode,
        }
    }
}

/// A price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// `price_…` (or `plan_…` ids of legacy plans).
    pub id: StripeObjectId,
    /// The product, as an id or expanded.
    #[serde(default)]
    pub product: Option<Expandable<Product>>,
    /// Whether the amounts include tax.
    #[serde(default)]
    pub tax_behavior: Option<TaxBehavior>,
    /// Amount per unit in minor units; `null` for tiered prices.
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// Sub-minor-unit amount as a decimal string, when set.
    #[serde(default)]
    pub unit_amount_decimal: Option<String>,
    /// Currency.
    pub currency: Currency,
    /// Recurrence; `null` for one-time prices.
    #[serde(default)]
    pub recurring: Option<Recurring>,
    /// Per-unit or tiered.
    #[serde(default)]
    pub billing_scheme: Option<BillingScheme>,
    /// Tiers (sent only when expanded).
    #[serde(default, deserialize_with = "null_as_default")]
    pub tiers: Vec<Tier>,
    /// How tiers apply.
    #[serde(default)]
    pub tiers_mode: Option<TiersMode>,
}

/// A product, read only for its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// `prod_…`.
    pub id: String,
}

impl StripeObject for Product {
    type Id = String;
    fn id(&self) -> &String {
        &self.id
    }
}

impl Price {
    /// The product id, whichever form was sent.
    pub fn product_id(&self) -> Option<&str> {
        self.product.as_ref().map(|p| p.id().as_str())
    }
}

impl StripeObject for Price {
    type Id = StripeObjectId;
    fn id(&self) -> &StripeObjectId {
        &self.id
    }
}

/// `price.recurring`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    /// Billing interval unit.
    pub interval: Interval,
    /// Number of intervals between bills (3 + month = quarterly).
    #[serde(default = "one")]
    pub interval_count: u32,
    /// Licensed or metered.
    #[serde(default)]
    pub usage_type: Option<UsageType>,
}

fn one() -> u32 {
    1
}

/// One price tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Upper bound of units in this tier; `null` (or `"inf"`) for the last tier.
    #[serde(default, deserialize_with = "lenient_int")]
    pub up_to: Option<u64>,
    /// Per-unit amount in this tier.
    #[serde(default, deserialize_with = "lenient_int")]
    pub unit_amount: Option<i64>,
    /// Flat amount for this tier.
    #[serde(default, deserialize_with = "lenient_int")]
    pub flat_amount: Option<i64>,
    /// Per-unit amount with sub-minor-unit precision, as a decimal string.
    #[serde(default)]
    pub unit_amount_decimal: Option<String>,
    /// Flat amount with sub-minor-unit precision, as a decimal string.
    #[serde(default)]
    pub flat_amount_decimal: Option<String>,
}

/// A discount applied to a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    /// `di_…`.
    pub id: StripeObjectId,
    /// The coupon (API versions before 2025-09-30).
    #[serde(default)]
    pub coupon: Option<Coupon>,
    /// Where the discount comes from (API 2025-09-30 and later).
    #[serde(default)]
    pub source: Option<DiscountSource>,
    /// When the discount started.
    #[serde(default)]
    pub start: Option<Timestamp>,
    /// When it ends (`null` for forever).
    #[serde(default)]
    pub end: Option<Timestamp>,
}

impl StripeObject for Discount {
    type Id = StripeObjectId;
    fn id(&self) -> &StripeObjectId {
        &self.id
    }
}

impl Discount {
    /// The coupon, from whichever place this API version puts it.
    pub fn coupon(&self) -> Option<&Coupon> {
        self.coupon.as_ref().or_else(|| {
            self.source
                .as_ref()
                .and_then(|s| s.coupon.as_ref())
                .and_then(Expandable::object)
        })
    }
}

/// `discount.source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscountSource {
    /// The coupon, as an id or expanded.
    #[serde(default)]
    pub coupon: Option<Expandable<Coupon>>,
}

/// A coupon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coupon {
    /// The coupon id (merchant-chosen).
    pub id: String,
    /// Percentage off, e.g. `25.0`.
    #[serde(default)]
    pub percent_off: Option<f64>,
    /// Fixed amount off in minor units of `currency`.
    #[serde(default)]
    pub amount_off: Option<i64>,
    /// Currency of `amount_off`.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// How long it applies.
    pub duration: CouponDuration,
    /// Months, for `repeating`.
    #[serde(default)]
    pub duration_in_months: Option<u32>,
}

impl StripeObject for Coupon {
    type Id = String;
    fn id(&self) -> &String {
        &self.id
    }
}

/// `subscription.cancellation_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancellationDetails {
    /// Why it was canceled.
    #[serde(default)]
    pub reason: Option<CancellationReason>,
    /// The customer's chosen feedback option (e.g. `too_expensive`); free-text comments are not read.
    #[serde(default)]
    pub feedback: Option<String>,
}

/// `subscription.pause_collection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseCollection {
    /// What happens to invoices while paused.
    pub behavior: PauseBehavior,
    /// When collection resumes, if scheduled.
    #[serde(default)]
    pub resumes_at: Option<Timestamp>,
}
