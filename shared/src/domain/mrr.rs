//! Monthly recurring revenue: the exact definition lives in `docs/scoring.md` ("MRR").
//!
//! Everything is computed as an exact fraction of minor units ([`Ratio`], `i128`) and
//! rounded once, at the very end, half to even, to whole minor units of the currency.

use crate::domain::money::{Currency, Money};
pub use crate::domain::ratio::{Ratio, RatioError};
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Add, Mul, Sub};

/// A price's billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Daily.
    Day,
    /// Weekly.
    Week,
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

/// How often a recurring price bills: every `count` `interval`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BillingPeriod {
    /// The unit.
    pub interval: Interval,
    /// How many units per period (Stripe's `interval_count`, ≥ 1).
    pub count: u32,
}

impl BillingPeriod {
    /// The factor that turns one period's amount into a monthly amount:
    /// year ÷ (12·count), month ÷ count, week × 52/12 ÷ count, day × 365/12 ÷ count.
    pub fn monthly_factor(self) -> Ratio {
        let c = i128::from(self.count.max(1));
        match self.interval {
            Interval::Year => Ratio::new(1, 12 * c),
            Interval::Month => Ratio::new(1, c),
            Interval::Week => Ratio::new(52, 12 * c),
            Interval::Day => Ratio::new(365, 12 * c),
        }
    }

    /// Approximate length in days (for "is this billed at least every 45 days").
    pub fn approx_days(self) -> i64 {
        let c = i64::from(self.count.max(1));
        match self.interval {
            Interval::Day => c,
            Interval::Week => 7 * c,
            Interval::Month => 30 * c,
            Interval::Year => 365 * c,
        }
    }
}

/// One tier of a tiered price; amounts in exact minor units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tier {
    /// Inclusive upper bound of units in this tier; `None` = infinity (last tier).
    pub up_to: Option<u64>,
    /// Per-unit amount in this tier.
    pub unit_amount: Ratio,
    /// Flat amount charged once when the tier is reached.
    pub flat_amount: Ratio,
}

/// How a price turns a quantity into an amount per period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum Pricing {
    /// `unit_amount × quantity`.
    PerUnit {
        /// Per-unit amount in exact minor units (`unit_amount_decimal` when present).
        unit_amount: Ratio,
    },
    /// Units in each tier at that tier's rates, plus each reached tier's flat amount.
    Graduated {
        /// Tiers in ascending `up_to` order.
        tiers: Vec<Tier>,
    },
    /// All units at the rate of the tier the total quantity falls into, plus its flat amount.
    Volume {
        /// Tiers in ascending `up_to` order.
        tiers: Vec<Tier>,
    },
    /// The amount is not known yet: MRR is unknown (never 0) until it is.
    Unknown {
        /// What is missing.
        missing: MissingAmount,
    },
}

/// Why an item's amount is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingAmount {
    /// A tiered price whose tiers Stripe did not send (they come only when expanded)
    /// and that the price cache does not hold yet.
    Tiers,
    /// A tax-inclusive price under automatic tax: the tax inside it is not on record.
    InclusiveTax,
}

/// Licensed (quantity-based) or metered (usage-based) recurring price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageType {
    /// Billed for the subscribed quantity; counts toward MRR.
    Licensed,
    /// Billed for reported usage; excluded from MRR.
    Metered,
}

/// A subscription item (or, with `period: None`, a one-off line) reduced to what MRR needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PriceItem {
    /// The price id (`price_…`), kept as evidence.
    pub price_id: Option<String>,
    /// The product (`prod_…`) the price belongs to, when known: a change of billing
    /// interval is judged per product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The price's currency.
    pub currency: Currency,
    /// Amount scheme.
    pub pricing: Pricing,
    /// Billing period; `None` for one-off prices (excluded from MRR).
    pub period: Option<BillingPeriod>,
    /// Licensed or metered.
    pub usage_type: UsageType,
    /// Subscribed quantity.
    pub quantity: u64,
    /// Item-level current period end (Stripe API ≥ 2025-03-31 keeps it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<Timestamp>,
}

/// How long a coupon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponDuration {
    /// Every invoice, for ever: always subtracted from MRR.
    Forever,
    /// First invoice only: subtracted only with [`MrrSettings::include_limited_coupons`].
    Once,
    /// A number of months: subtracted only with [`MrrSettings::include_limited_coupons`].
    Repeating,
    /// Not known yet (the discount's coupon is not resolved).
    Unknown,
}

/// What a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountValue {
    /// A percentage (exact, e.g. `25/2` for 12.5 %).
    PercentOff(Ratio),
    /// A fixed amount per invoice, in minor units of `currency`.
    AmountOff {
        /// Amount in minor units.
        amount: i64,
        /// Its currency; ignored when it differs from the subscription's.
        currency: Currency,
    },
    /// A discount Stripe sent only as an id (API ≥ 2025-03-31) whose coupon is not known
    /// yet: MRR is unknown until it is.
    Unresolved,
}

/// A discount applied to a subscription (or one item).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Discount {
    /// The coupon id, kept as evidence (the discount id `di_…` while unresolved).
    pub coupon_id: String,
    /// Percent or amount off.
    pub value: DiscountValue,
    /// Forever, once or repeating.
    pub duration: CouponDuration,
    /// When the discount stops applying, if Stripe says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

impl Discount {
    /// Whether this discount is subtracted from MRR at `now` under `settings`.
    pub fn counts(&self, settings: &MrrSettings, now: Timestamp) -> bool {
        let active = self.end.is_none_or(|end| end > now);
        match self.duration {
            CouponDuration::Forever | CouponDuration::Unknown => active,
            CouponDuration::Once | CouponDuration::Repeating => {
                settings.include_limited_coupons && active
            }
        }
    }

    /// Whether its terms are known.
    pub fn is_resolved(&self) -> bool {
        self.value != DiscountValue::Unresolved
    }
}

/// Knobs of the MRR definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MrrSettings {
    /// Also subtract `once` and `repeating` coupons while they apply (default: no).
    pub include_limited_coupons: bool,
}

/// Stripe subscription status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// In a free trial.
    Trialing,
    /// Paid up.
    Active,
    /// First payment not yet made.
    Incomplete,
    /// First payment never made within 23 h; terminal.
    IncompleteExpired,
    /// Latest invoice unpaid, retries running (dunning).
    PastDue,
    /// Retries exhausted, left open.
    Unpaid,
    /// Paused (trial ended without a payment method, or paused by the merchant).
    Paused,
    /// Ended; terminal.
    Canceled,
}

impl SubscriptionStatus {
    /// Statuses whose subscriptions count toward MRR.
    pub fn counts_toward_mrr(self) -> bool {
        matches!(self, Self::Active | Self::PastDue)
    }

    /// Statuses a subscription never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Canceled | Self::IncompleteExpired)
    }

    /// Stripe's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::PastDue => "past_due",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
        }
    }
}

/// The amount one period of `item` bills before discounts, exactly; `None` when the
/// price's amount is not known ([`Pricing::Unknown`]).
pub fn item_period_amount(item: &PriceItem) -> Option<Ratio> {
    let q = item.quantity;
    Some(match &item.pricing {
        Pricing::Unknown { .. } => return None,
        Pricing::PerUnit { unit_amount } => unit_amount.scale(i128::from(q), 1),
        Pricing::Graduated { tiers } => {
            if q == 0 {
                return Some(Ratio::ZERO);
            }
            let mut total = Ratio::ZERO;
            let mut lower = 0u64;
            for tier in tiers {
                let upper = tier.up_to.unwrap_or(u64::MAX);
                let units = q.min(upper).saturating_sub(lower);
                if units > 0 {
                    total = total
                        .add(tier.unit_amount.scale(i128::from(units), 1))
                        .add(tier.flat_amount);
                }
                if q <= upper {
                    break;
                }
                lower = upper;
            }
            total
        }
        Pricing::Volume { tiers } => {
            if q == 0 {
                return Some(Ratio::ZERO);
            }
            tiers
                .iter()
                .find(|t| t.up_to.is_none_or(|u| q <= u))
                .map(|t| t.unit_amount.scale(i128::from(q), 1).add(t.flat_amount))
                .unwrap_or(Ratio::ZERO)
        }
    })
}

/// Amounts MRR needs that are not known yet: the prices and discounts (ids) to resolve.
/// Until they are, the MRR is unknown — never 0 — and no MRR-based factor fires.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnknownAmounts {
    /// Price ids (tiers not expanded, or inclusive tax not on record).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<String>,
    /// Discount ids whose coupon is not resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<String>,
}

impl UnknownAmounts {
    /// Nothing missing.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty() && self.discounts.is_empty()
    }

    fn merge(&mut self, other: UnknownAmounts) {
        for p in other.prices {
            if !self.prices.contains(&p) {
                self.prices.push(p);
            }
        }
        for d in other.discounts {
            if !self.discounts.contains(&d) {
                self.discounts.push(d);
            }
        }
    }

    fn check_discounts<'a>(&mut self, discounts: impl IntoIterator<Item = &'a Discount>) {
        for d in discounts {
            if !d.is_resolved() && !self.discounts.contains(&d.coupon_id) {
                self.discounts.push(d.coupon_id.clone());
            }
        }
    }
}

impl std::fmt::Display for UnknownAmounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self
            .prices
            .iter()
            .chain(&self.discounts)
            .map(String::as_str)
            .collect();
        write!(f, "amounts not known yet: {}", ids.join(", "))
    }
}

/// Whether an item counts toward MRR at all: recurring and licensed.
pub fn item_is_recurring_licensed(item: &PriceItem) -> bool {
    item.period.is_some() && item.usage_type == UsageType::Licensed
}

/// Applies `discounts` in order to a per-period amount: percentages multiply what is
/// left, amounts subtract (converted to monthly by `period`), never below zero.
fn apply_discounts(
    mut monthly: Ratio,
    currency: Currency,
    period: Option<BillingPeriod>,
    discounts: &[Discount],
    settings: &MrrSettings,
    now: Timestamp,
) -> Ratio {
    for d in discounts.iter().filter(|d| d.counts(settings, now)) {
        monthly = match &d.value {
            DiscountValue::PercentOff(p) => {
                let keep = Ratio::int(100).sub(*p).at_least_zero();
                monthly.mul(keep).scale(1, 100)
            }
            DiscountValue::AmountOff {
                amount,
                currency: c,
            } if *c == currency => {
                // An amount off is taken per invoice, so it is normalised like the price.
                let per_month = period
                    .map(BillingPeriod::monthly_factor)
                    .unwrap_or(Ratio::int(1));
                monthly.sub(Ratio::int(*amount).mul(per_month))
            }
            DiscountValue::AmountOff { .. } | DiscountValue::Unresolved => monthly,
        }
        .at_least_zero();
    }
    monthly
}

/// The exact monthly plan amount of one subscription's items with its discounts, per
/// currency, ignoring its status. Item-level discounts apply first, then the
/// subscription's, in the order given. `Err` names what is not known yet (a price's
/// tiers, a discount's coupon) among the items that count.
pub fn plan_amount_exact(
    items: &[(PriceItem, Vec<Discount>)],
    discounts: &[Discount],
    settings: &MrrSettings,
    now: Timestamp,
) -> Result<BTreeMap<Currency, Ratio>, UnknownAmounts> {
    let mut by_currency: BTreeMap<Currency, Ratio> = BTreeMap::new();
    let mut period_of: BTreeMap<Currency, BillingPeriod> = BTreeMap::new();
    let mut unknown = UnknownAmounts::default();
    let counted = || items.iter().filter(|(i, _)| item_is_recurring_licensed(i));
    for (item, item_discounts) in counted() {
        unknown.check_discounts(item_discounts.iter().filter(|d| d.counts(settings, now)));
        if item_period_amount(item).is_none() {
            unknown.prices.extend(item.price_id.clone());
        }
    }
    if counted().next().is_some() {
        unknown.check_discounts(discounts.iter().filter(|d| d.counts(settings, now)));
    }
    if !unknown.is_empty() {
        return Err(unknown);
    }
    for (item, item_discounts) in counted() {
        let (Some(period), Some(amount)) = (item.period, item_period_amount(item)) else {
            continue;
        };
        let monthly = amount.mul(period.monthly_factor());
        let monthly = apply_discounts(
            monthly,
            item.currency,
            Some(period),
            item_discounts,
            settings,
            now,
        );
        let slot = by_currency.entry(item.currency).or_insert(Ratio::ZERO);
        *slot = slot.add(monthly);
        period_of.entry(item.currency).or_insert(period);
    }
    for (currency, amount) in by_currency.iter_mut() {
        *amount = apply_discounts(
            *amount,
            *currency,
            period_of.get(currency).copied(),
            discounts,
            settings,
            now,
        );
    }
    Ok(by_currency)
}

/// What MRR needs to know about one subscription.
#[derive(Debug, Clone, Copy)]
pub struct MrrSubscription<'a> {
    /// Current status.
    pub status: SubscriptionStatus,
    /// `pause_collection` is set: invoices are not collected.
    pub collection_paused: bool,
    /// Items with their item-level discounts.
    pub items: &'a [(PriceItem, Vec<Discount>)],
    /// Subscription-level discounts.
    pub discounts: &'a [Discount],
}

impl MrrSubscription<'_> {
    /// Whether this subscription contributes at all.
    pub fn counts(&self) -> bool {
        self.status.counts_toward_mrr() && !self.collection_paused
    }
}

/// A customer's MRR: one amount per currency (normally exactly one).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Mrr(pub BTreeMap<Currency, i64>);

impl Mrr {
    /// The main currency's amount: `preferred` (the Stripe customer's own `currency`)
    /// when the MRR has it, else the currency with the largest amount in major units
    /// (minor units scaled by each currency's exponent, so 10 000 jpy does not outweigh
    /// 100.00 usd ten-thousand-fold), ties alphabetical.
    pub fn primary_for(&self, preferred: Option<Currency>) -> Option<Money> {
        main_currency(self.0.iter().map(|(c, m)| (*c, *m)), preferred)
            .map(|c| Money::new(self.in_currency(c), c))
    }

    /// [`Mrr::primary_for`] without a preferred currency.
    pub fn primary(&self) -> Option<Money> {
        self.primary_for(None)
    }

    /// The amount in `currency` (zero when absent).
    pub fn in_currency(&self, currency: Currency) -> i64 {
        self.0.get(&currency).copied().unwrap_or(0)
    }
}

/// The main currency among `amounts` (minor units): `preferred` when present, else the
/// largest in major units (exponent-aware), ties alphabetical.
pub fn main_currency(
    amounts: impl IntoIterator<Item = (Currency, i64)>,
    preferred: Option<Currency>,
) -> Option<Currency> {
    let amounts: Vec<(Currency, i64)> = amounts.into_iter().collect();
    if let Some(p) = preferred.filter(|p| amounts.iter().any(|(c, _)| c == p)) {
        return Some(p);
    }
    let major = |(c, m): &(Currency, i64)| Ratio::new(i128::from(*m), 10i128.pow(c.exponent()));
    amounts
        .iter()
        .max_by(|a, b| major(a).cmp_value(major(b)).then(b.0.cmp(&a.0)))
        .map(|(c, _)| *c)
}

/// The customer's MRR across `subscriptions`: exact sum per currency, then one
/// round-half-even to minor units. Currencies whose exact sum is zero are still listed
/// when a counted subscription bills in them. `Err` when an amount of a counted
/// subscription is not known yet: the MRR is unknown, not 0.
pub fn customer_mrr<'a>(
    subscriptions: impl IntoIterator<Item = MrrSubscription<'a>>,
    settings: &MrrSettings,
    now: Timestamp,
) -> Result<Mrr, UnknownAmounts> {
    let mut exact: BTreeMap<Currency, Ratio> = BTreeMap::new();
    let mut unknown = UnknownAmounts::default();
    for sub in subscriptions.into_iter().filter(MrrSubscription::counts) {
        match plan_amount_exact(sub.items, sub.discounts, settings, now) {
            Ok(amounts) => {
                for (currency, amount) in amounts {
                    let slot = exact.entry(currency).or_insert(Ratio::ZERO);
                    *slot = slot.add(amount);
                }
            }
            Err(missing) => unknown.merge(missing),
        }
    }
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(Mrr(exact
        .into_iter()
        .map(|(c, r)| (c, r.round_half_even()))
        .collect()))
}

#[cfg(test)]
mod tests;
