//! The catalog cache on the real store adapter, on DynamoDB Local and on dynoxide: what
//! is remembered is served back per account, what is not is absent, and another account
//! sees nothing of it.

use kustiq::domain::ids::{StripeAccountId, StripeObjectId};
use kustiq::domain::mrr::{CouponDuration, DiscountValue, Pricing, Ratio, Tier};
use kustiq::ports::catalog::CatalogStore;
use kustiq::stripe::catalog::{Catalog, CatalogNeeds, CouponTerms, DiscountTerms, PriceTiers};
use kustiq_tests::{Engine, TestStore};
use std::collections::BTreeMap;

on_both_engines!(remembered_entries_are_served_per_account);

fn oid(s: &str) -> StripeObjectId {
    StripeObjectId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn acct(s: &str) -> StripeAccountId {
    StripeAccountId::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn entries() -> Catalog {
    Catalog {
        prices: BTreeMap::from([(
            oid("price_t"),
            PriceTiers {
                pricing: Pricing::Volume {
                    tiers: vec![Tier {
                        up_to: None,
                        unit_amount: Ratio::parse("12.5").unwrap_or(Ratio::ZERO),
                        flat_amount: Ratio::int(100),
                    }],
                },
            },
        )]),
        discounts: BTreeMap::from([(
            oid("di_1"),
            DiscountTerms {
                coupon: "TWENTY".into(),
                end: None,
            },
        )]),
        coupons: BTreeMap::from([(
            "TWENTY".to_owned(),
            CouponTerms {
                value: DiscountValue::PercentOff(Ratio::int(20)),
                duration: CouponDuration::Forever,
            },
        )]),
    }
}

async fn remembered_entries_are_served_per_account(engine: Engine) {
    let t = TestStore::new(engine, "eu-central-1").await;
    let a = acct("acct_a");
    let wanted = CatalogNeeds {
        prices: vec![oid("price_t"), oid("price_other")],
        discounts: vec![(oid("di_1"), oid("sub_1"))],
        coupons: vec!["TWENTY".into()],
    };
    let empty = t
        .store
        .cached(&a, &wanted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(empty, Catalog::default());
    t.store
        .remember(&a, &entries())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = t
        .store
        .cached(&a, &wanted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, entries());
    let other = t
        .store
        .cached(&acct("acct_b"), &wanted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other, Catalog::default());
}
