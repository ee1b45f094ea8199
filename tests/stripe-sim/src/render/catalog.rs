//! Prices, legacy plans, products, discounts and coupons.

use crate::engine::Account;
use crate::ids::Kind;
use crate::model::{
    COUPONS, Coupon, Discount, Duration, Interval, PRODUCTS, Price, Scheme, TiersMode,
};
use serde_json::{Value, json};

impl Account {
    /// A price as Stripe returns it: `tiers` only with `expand[]=tiers` (see [`Self::price_tiers`]).
    pub fn render_price(&self, p: u16) -> Value {
        let Some(price) = self.prices.get(usize::from(p)) else {
            return Value::Null;
        };
        let (scheme, unit, mode) = price_scheme(price);
        json!({
            "id": self.oid(Kind::Price, u32::from(p)),
            "object": "price",
            "active": true,
            "billing_scheme": scheme,
            "created": self.start,
            "currency": price.currency.code(),
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": null,
            "metadata": {},
            "nickname": nickname(price),
            "product": self.oid(Kind::Product, u32::from(price.product)),
            "recurring": {
                "interval": price.interval.name(),
                "interval_count": price.interval_count,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed"
            },
            "tax_behavior": "unspecified",
            "tiers_mode": mode,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": unit,
            "unit_amount_decimal": unit.map(|u| u.to_string())
        })
    }

    /// The `tiers` of a price (`expand[]=tiers`); empty for per-unit prices.
    pub fn price_tiers(&self, p: u16) -> Value {
        let Some(Scheme::Tiered(_, tiers)) = self.prices.get(usize::from(p)).map(|x| &x.scheme)
        else {
            return json!([]);
        };
        tiers
            .iter()
            .map(|t| {
                json!({
                    "flat_amount": if t.flat_amount > 0 { Some(t.flat_amount) } else { None },
                    "flat_amount_decimal": if t.flat_amount > 0 { Some(t.flat_amount.to_string()) } else { None },
                    "unit_amount": t.unit_amount,
                    "unit_amount_decimal": t.unit_amount.to_string(),
                    "up_to": t.up_to
                })
            })
            .collect()
    }

    /// The legacy `plan` object for a price (no `tiers` unless expanded, as for prices).
    pub fn render_plan(&self, p: u16) -> Value {
        let Some(price) = self.prices.get(usize::from(p)) else {
            return Value::Null;
        };
        let (scheme, unit, mode) = price_scheme(price);
        json!({
            "id": self.oid(Kind::Price, u32::from(p)),
            "object": "plan",
            "active": true,
            "amount": unit,
            "amount_decimal": unit.map(|u| u.to_string()),
            "billing_scheme": scheme,
            "created": self.start,
            "currency": price.currency.code(),
            "interval": price.interval.name(),
            "interval_count": price.interval_count,
            "livemode": false,
            "metadata": {},
            "meter": null,
            "nickname": nickname(price),
            "product": self.oid(Kind::Product, u32::from(price.product)),
            "tiers_mode": mode,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        })
    }

    /// A product of the catalog (`expand[]=product`, `GET /v1/products/{id}`).
    pub fn render_product(&self, p: u32) -> Value {
        let Some(name) = PRODUCTS.get(p as usize) else {
            return Value::Null;
        };
        json!({
            "id": self.oid(Kind::Product, p),
            "object": "product",
            "active": true,
            "created": self.start,
            "default_price": null,
            "description": null,
            "images": [],
            "livemode": false,
            "marketing_features": [],
            "metadata": {},
            "name": name,
            "package_dimensions": null,
            "shippable": null,
            "statement_descriptor": null,
            "tax_code": null,
            "type": "service",
            "unit_label": if p == 3 { Some("seat") } else { None },
            "updated": self.start,
            "url": null
        })
    }

    /// A coupon by its index in [`COUPONS`].
    pub fn render_coupon(&self, k: usize) -> Value {
        let Some(coupon) = COUPONS.get(k) else {
            return Value::Null;
        };
        coupon_json(coupon, self.start)
    }

    /// The discount a subscription's coupon created (embedded before basil, `expand[]=discounts`
    /// from basil on).
    pub fn render_discount(&self, d: &Discount, customer: u32) -> Value {
        let coupon = COUPONS
            .get(usize::from(d.coupon))
            .map_or(Value::Null, |c| coupon_json(c, self.start));
        json!({
            "id": self.oid(Kind::Discount, d.subscription),
            "object": "discount",
            "checkout_session": null,
            "coupon": coupon,
            "customer": self.oid(Kind::Customer, customer),
            "end": d.end,
            "invoice": null,
            "invoice_item": null,
            "promotion_code": null,
            "start": d.start,
            "subscription": self.oid(Kind::Subscription, d.subscription),
            "subscription_item": null
        })
    }
}

fn coupon_json(coupon: &Coupon, created: i64) -> Value {
    let (duration, months) = match coupon.duration {
        Duration::Forever => ("forever", None),
        Duration::Once => ("once", None),
        Duration::Repeating(m) => ("repeating", Some(m)),
    };
    json!({
        "id": coupon.id,
        "object": "coupon",
        "amount_off": coupon.amount_off,
        "created": created,
        "currency": coupon.amount_off.map(|_| "usd"),
        "duration": duration,
        "duration_in_months": months,
        "livemode": false,
        "max_redemptions": null,
        "metadata": {},
        "name": coupon.name,
        "percent_off": coupon.percent_off.map(f64::from),
        "redeem_by": null,
        "times_redeemed": 1,
        "valid": true
    })
}

fn nickname(price: &Price) -> String {
    format!(
        "{} {}ly",
        PRODUCTS[usize::from(price.product)],
        match price.interval {
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    )
}

fn price_scheme(price: &Price) -> (&'static str, Option<i64>, Option<&'static str>) {
    match &price.scheme {
        Scheme::PerUnit(u) => ("per_unit", Some(*u), None),
        Scheme::Tiered(mode, _) => {
            let mode = match mode {
                TiersMode::Graduated => "graduated",
                TiersMode::Volume => "volume",
            };
            ("tiered", None, Some(mode))
        }
    }
}
