//! The catalog side of an account: currencies, prices and their tiers, coupons and discounts.

/// The three currencies the generator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cur {
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
}

impl Cur {
    /// Stripe's lowercase code.
    pub const fn code(self) -> &'static str {
        match self {
            Cur::Usd => "usd",
            Cur::Eur => "eur",
            Cur::Gbp => "gbp",
        }
    }

    /// All currencies, in catalog order.
    pub const ALL: [Cur; 3] = [Cur::Usd, Cur::Eur, Cur::Gbp];
}

/// A recurring price's billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Weekly.
    Week,
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

impl Interval {
    /// Stripe's name.
    pub const fn name(self) -> &'static str {
        match self {
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

/// How tiers combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiersMode {
    /// Each unit is priced by the tier it falls in.
    Graduated,
    /// All units are priced by the tier the total quantity falls in.
    Volume,
}

/// One price tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// Inclusive upper bound; `None` is `inf`.
    pub up_to: Option<u32>,
    /// Per-unit amount in minor units.
    pub unit_amount: i64,
    /// Flat amount for the tier in minor units.
    pub flat_amount: i64,
}

/// A price's billing scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `per_unit` with a unit amount.
    PerUnit(i64),
    /// `tiered` with a mode and tiers.
    Tiered(TiersMode, Vec<Tier>),
}

/// A recurring price in the account's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// Index into [`PRODUCTS`].
    pub product: u8,
    /// Currency.
    pub currency: Cur,
    /// Interval.
    pub interval: Interval,
    /// Interval count.
    pub interval_count: u8,
    /// Scheme.
    pub scheme: Scheme,
    /// Rank within its product line, used for upgrades (higher) and downgrades (lower).
    pub rank: u8,
    /// Whether quantity is a seat count (tiered or per-seat prices).
    pub per_seat: bool,
}

impl Price {
    /// The amount for `quantity` units, in minor units, before discounts.
    pub fn amount(&self, quantity: u32) -> i64 {
        let q = i64::from(quantity);
        match &self.scheme {
            Scheme::PerUnit(unit) => unit * q,
            Scheme::Tiered(TiersMode::Volume, tiers) => tiers
                .iter()
                .find(|t| t.up_to.is_none_or(|u| quantity <= u))
                .map_or(0, |t| t.unit_amount * q + t.flat_amount),
            Scheme::Tiered(TiersMode::Graduated, tiers) => {
                let mut total = 0;
                let mut prev = 0i64;
                for t in tiers {
                    let upper = t.up_to.map_or(q, |u| i64::from(u).min(q));
                    if upper > prev {
                        total += (upper - prev) * t.unit_amount + t.flat_amount;
                    }
                    prev = upper;
                    if prev >= q {
                        break;
                    }
                }
                total
            }
        }
    }

    /// Length of one period in days (calendar months and years are approximated by the engine).
    pub fn period_days(&self) -> i64 {
        let n = i64::from(self.interval_count);
        match self.interval {
            Interval::Week => 7 * n,
            Interval::Month => 30 * n,
            Interval::Year => 365 * n,
        }
    }
}

/// Product names, by index.
pub const PRODUCTS: [&str; 6] = [
    "Starter",
    "Growth",
    "Pro",
    "Team Seats",
    "API Volume",
    "Weekly Box",
];

/// How long a coupon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    /// Every invoice.
    Forever,
    /// The first invoice only.
    Once,
    /// For a number of months.
    Repeating(u8),
}

/// A coupon in the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coupon {
    /// Stripe coupon ids are chosen by the merchant.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Percent off, if a percentage coupon.
    pub percent_off: Option<u8>,
    /// Amount off in minor units of USD, if an amount coupon.
    pub amount_off: Option<i64>,
    /// Duration.
    pub duration: Duration,
}

/// The coupons every account has.
pub const COUPONS: [Coupon; 4] = [
    Coupon {
        id: "SAVE20",
        name: "20% off forever",
        percent_off: Some(20),
        amount_off: None,
        duration: Duration::Forever,
    },
    Coupon {
        id: "WELCOME50",
        name: "Welcome: 50% off first invoice",
        percent_off: Some(50),
        amount_off: None,
        duration: Duration::Once,
    },
    Coupon {
        id: "Q3PROMO",
        name: "25% off for 3 months",
        percent_off: Some(25),
        amount_off: None,
        duration: Duration::Repeating(3),
    },
    Coupon {
        id: "TENOFF",
        name: "$10 off for 6 months",
        percent_off: None,
        amount_off: Some(1000),
        duration: Duration::Repeating(6),
    },
];

/// A coupon applied to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discount {
    /// Index into [`COUPONS`].
    pub coupon: u8,
    /// When it started.
    pub start: i64,
    /// When it ends (repeating coupons).
    pub end: Option<i64>,
    /// Index of the subscription it belongs to, also its `di_` id index.
    pub subscription: u32,
}

impl Discount {
    /// The discount on `subtotal` for an invoice of `currency` dated `at`.
    pub fn amount_off(&self, subtotal: i64, currency: Cur, at: i64) -> i64 {
        if self.end.is_some_and(|e| at >= e) {
            return 0;
        }
        let coupon = COUPONS[usize::from(self.coupon)];
        match (coupon.percent_off, coupon.amount_off) {
            (Some(p), _) => subtotal * i64::from(p) / 100,
            (None, Some(a)) if currency == Cur::Usd => a.min(subtotal),
            _ => 0,
        }
    }
}
