//! What observation needs from Stripe beyond the payload itself, resolved and cached:
//! the tiers of tiered prices (sent only when expanded, never in a webhook), and the
//! coupons behind discounts (API ≥ 2025-03-31 sends discounts as ids, even in events).
//!
//! A [`Catalog`] is a plain value: the app fills it from the cache
//! ([`crate::ports::catalog::CatalogStore`]) for what [`needs`] lists, fetches what is
//! missing from Stripe once, and passes it to [`crate::stripe::observe`]. Prices' tiers
//! and coupons' terms cannot change in Stripe once created, so an entry never goes stale;
//! a discount's coupon and end are fixed when it is applied.

use crate::domain::ids::StripeObjectId;
use crate::domain::money::Currency;
use crate::domain::mrr::{CouponDuration, DiscountValue, Pricing, Ratio, Tier};
use crate::domain::time::Timestamp;
use crate::stripe::models as m;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tiered price's tiers, as `GET /v1/prices/{id}?expand[]=tiers` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTiers {
    /// `Graduated` or `Volume`, with the tiers.
    pub pricing: Pricing,
}

impl PriceTiers {
    /// The tiers of an expanded tiered price; `None` for a per-unit price or one sent
    /// without its tiers.
    pub fn from_price(p: &m::Price) -> Option<Self> {
        if p.billing_scheme != Some(m::BillingScheme::Tiered) || p.tiers.is_empty() {
            return None;
        }
        let tiers: Vec<Tier> = p.tiers.iter().map(tier).collect();
        let pricing = match p.tiers_mode {
            Some(m::TiersMode::Volume) => Pricing::Volume { tiers },
            _ => Pricing::Graduated { tiers },
        };
        Some(Self { pricing })
    }
}

/// A wire tier as exact amounts (the decimal forms when Stripe sends them).
pub(crate) fn tier(t: &m::Tier) -> Tier {
    let exact = |decimal: Option<&str>, int: Option<i64>| {
        decimal
            .and_then(|d| Ratio::parse(d).ok())
            .unwrap_or(Ratio::int(int.unwrap_or(0)))
    };
    Tier {
        up_to: t.up_to,
        unit_amount: exact(t.unit_amount_decimal.as_deref(), t.unit_amount),
        flat_amount: exact(t.flat_amount_decimal.as_deref(), t.flat_amount),
    }
}

/// What a coupon takes off and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTerms {
    /// Percent or amount off.
    pub value: DiscountValue,
    /// Forever, once or repeating.
    pub duration: CouponDuration,
}

impl CouponTerms {
    /// A coupon's terms; `None` for a coupon we cannot read (no value, a duration added
    /// after this code). `fallback` is the currency of an amount-off coupon that names
    /// none (the subscription's).
    pub fn from_coupon(c: &m::Coupon, fallback: Option<Currency>) -> Option<Self> {
        let value = match (c.percent_off, c.amount_off) {
            (Some(p), _) => DiscountValue::PercentOff(Ratio::from_f64(p)?),
            (None, Some(a)) => DiscountValue::AmountOff {
                amount: a,
                currency: c.currency.or(fallback)?,
            },
            (None, None) => return None,
        };
        let duration = match c.duration {
            m::CouponDuration::Forever => CouponDuration::Forever,
            m::CouponDuration::Once => CouponDuration::Once,
            m::CouponDuration::Repeating => CouponDuration::Repeating,
            m::CouponDuration::Other(_) => return None,
        };
        Some(Self { value, duration })
    }
}

/// A discount (`di_…`) as applied: its coupon and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountTerms {
    /// The coupon id.
    pub coupon: String,
    /// When it stops applying (`None`: it does not end on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

impl DiscountTerms {
    /// An expanded discount's coupon id and end; `None` when it names no coupon.
    pub fn from_discount(d: &m::Discount) -> Option<Self> {
        let coupon = match (&d.coupon, d.source.as_ref().and_then(|s| s.coupon.as_ref())) {
            (Some(c), _) => c.id.clone(),
            (None, Some(c)) => c.id().clone(),
            (None, None) => return None,
        };
        Some(Self { coupon, end: d.end })
    }
}

/// Resolved prices, discounts and coupons of one Stripe account, as far as known.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// Tiered prices by price id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<StripeObjectId, PriceTiers>,
    /// Discounts by discount id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub discounts: BTreeMap<StripeObjectId, DiscountTerms>,
    /// Coupons by coupon id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub coupons: BTreeMap<String, CouponTerms>,
}

impl Catalog {
    /// Learns everything an expanded object carries: tiers of expanded prices,
    /// discounts sent as objects and their coupons. Returns whether anything was new.
    pub fn learn_from_subscription(&mut self, s: &m::Subscription) -> bool {
        let before = self.clone();
        for item in &s.items.data {
            self.learn_price(&item.price);
            for d in item.discounts.iter().filter_map(m::Expandable::object) {
                self.learn_discount(d, s.currency);
            }
        }
        let expanded = s.discounts.iter().filter_map(m::Expandable::object);
        for d in s.discount.iter().chain(expanded) {
            self.learn_discount(d, s.currency);
        }
        *self != before
    }

    /// Learns an expanded tiered price.
    pub fn learn_price(&mut self, p: &m::Price) {
        if let Some(t) = PriceTiers::from_price(p) {
            self.prices.insert(p.id.clone(), t);
        }
    }

    /// Learns a discount object and, when it carries it, its coupon.
    pub fn learn_discount(&mut self, d: &m::Discount, fallback: Option<Currency>) {
        if let Some(terms) = DiscountTerms::from_discount(d) {
            self.discounts.insert(d.id.clone(), terms);
        }
        if let Some(c) = d.coupon() {
            self.learn_coupon(c, fallback);
        }
    }

    /// Learns a coupon.
    pub fn learn_coupon(&mut self, c: &m::Coupon, fallback: Option<Currency>) {
        if let Some(terms) = CouponTerms::from_coupon(c, fallback) {
            self.coupons.insert(c.id.clone(), terms);
        }
    }

    /// Adds every entry of `other` (newer entries win).
    pub fn extend(&mut self, other: Catalog) {
        self.prices.extend(other.prices);
        self.discounts.extend(other.discounts);
        self.coupons.extend(other.coupons);
    }
}

/// What a payload refers to that the catalog must hold for observation to know every
/// amount: tiered prices sent without tiers, discounts sent as ids, coupons named only
/// by id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CatalogNeeds {
    /// Tiered prices whose tiers were not sent.
    pub prices: Vec<StripeObjectId>,
    /// Discounts sent as ids, with the subscription to retrieve them through (Stripe has
    /// no discount endpoint: `GET /v1/subscriptions/{id}?expand[]=discounts`).
    pub discounts: Vec<(StripeObjectId, StripeObjectId)>,
    /// Coupons named by id (a discount's `source.coupon`, API ≥ 2025-09-30).
    pub coupons: Vec<String>,
}

impl CatalogNeeds {
    /// Nothing needed.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty() && self.discounts.is_empty() && self.coupons.is_empty()
    }

    /// What of this `catalog` does not hold yet.
    pub fn missing_from(&self, catalog: &Catalog) -> CatalogNeeds {
        CatalogNeeds {
            prices: self
                .prices
                .iter()
                .filter(|p| !catalog.prices.contains_key(*p))
                .cloned()
                .collect(),
            discounts: self
                .discounts
                .iter()
                .filter(|(d, _)| !catalog.discounts.contains_key(d))
                .cloned()
                .collect(),
            coupons: self
                .coupons
                .iter()
                .filter(|c| !catalog.coupons.contains_key(*c))
                .cloned()
                .collect(),
        }
    }

    fn add_price(&mut self, p: &m::Price) {
        let tiered_without_tiers =
            p.billing_scheme == Some(m::BillingScheme::Tiered) && p.tiers.is_empty();
        if tiered_without_tiers && !self.prices.contains(&p.id) {
            self.prices.push(p.id.clone());
        }
    }

    fn add_discount(&mut self, d: &m::Expandable<m::Discount>, sub: &StripeObjectId) {
        match d {
            m::Expandable::Id(id) => {
                let entry = (id.clone(), sub.clone());
                if !self.discounts.contains(&entry) {
                    self.discounts.push(entry);
                }
            }
            m::Expandable::Object(obj) => {
                let coupon_id = obj
                    .source
                    .as_ref()
                    .and_then(|s| s.coupon.as_ref())
                    .filter(|c| c.object().is_none())
                    .map(|c| c.id().clone());
                if let (None, Some(c)) = (&obj.coupon, coupon_id)
                    && !self.coupons.contains(&c)
                {
                    self.coupons.push(c);
                }
            }
        }
    }
}

/// What `object` (and, for an event, its previous items) needs from the catalog.
pub fn needs(
    object: &m::EventObject,
    previous: Option<&m::List<m::SubscriptionItem>>,
) -> CatalogNeeds {
    let mut out = CatalogNeeds::default();
    if let m::EventObject::Subscription(s) = object {
        for item in s
            .items
            .data
            .iter()
            .chain(previous.iter().flat_map(|l| &l.data))
        {
            out.add_price(&item.price);
            for d in &item.discounts {
                out.add_discount(d, &s.id);
            }
        }
        for d in &s.discounts {
            out.add_discount(d, &s.id);
        }
    }
    out
}

/// What an event needs from the catalog ([`needs`] of its object and previous items).
pub fn event_needs(event: &m::Event) -> CatalogNeeds {
    let previous = event.previous_items().and_then(Result::ok);
    needs(&event.data.object, previous.as_ref())
}
