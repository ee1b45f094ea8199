//! [`CatalogStore`] on the table: one item per cached price, discount, coupon and
//! charge owner, each in its own partition under the account (see `keys.rs`).

use super::{Condition, DynamoStore, Item, Key, keys};
use crate::domain::ids::{PaymentRef, StripeAccountId, StripeCustomerId};
use crate::ports::catalog::CatalogStore;
use crate::ports::store::StoreError;
use crate::stripe::catalog::{Catalog, CatalogNeeds, CouponTerms, DiscountTerms, PriceTiers};
use crate::stripe::observe::ChargeOwner;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// DynamoDB reads at most this many keys per batch.
const BATCH: usize = 100;

#[derive(Serialize, Deserialize)]
struct Owner {
    customer: StripeCustomerId,
}

/// Which catalog entry a key stands for.
enum Entry {
    Price(crate::domain::ids::StripeObjectId),
    Discount(crate::domain::ids::StripeObjectId),
    Coupon(String),
}

impl CatalogStore for DynamoStore {
    async fn cached(
        &self,
        account: &StripeAccountId,
        wanted: &CatalogNeeds,
    ) -> Result<Catalog, StoreError> {
        let mut entries: HashMap<Key, Entry> = HashMap::new();
        for p in &wanted.prices {
            entries.insert(keys::catalog_price(account, p), Entry::Price(p.clone()));
        }
        for (d, _) in &wanted.discounts {
            entries.insert(
                keys::catalog_discount(account, d),
                Entry::Discount(d.clone()),
            );
        }
        for c in &wanted.coupons {
            entries.insert(keys::catalog_coupon(account, c), Entry::Coupon(c.clone()));
        }
        let all: Vec<Key> = entries.keys().cloned().collect();
        let mut out = Catalog::default();
        for chunk in all.chunks(BATCH) {
            for item in self.batch_get(chunk).await? {
                match entries.get(&item.key) {
                    Some(Entry::Price(id)) => {
                        out.prices.insert(id.clone(), item.parse::<PriceTiers>()?);
                    }
                    Some(Entry::Discount(id)) => {
                        out.discounts
                            .insert(id.clone(), item.parse::<DiscountTerms>()?);
                    }
                    Some(Entry::Coupon(id)) => {
                        out.coupons.insert(id.clone(), item.parse::<CouponTerms>()?);
                    }
                    None => {}
                }
            }
        }
        Ok(out)
    }

    async fn remember(
        &self,
        account: &StripeAccountId,
        entries: &Catalog,
    ) -> Result<(), StoreError> {
        let mut items = Vec::new();
        for (id, tiers) in &entries.prices {
            items.push(Item::json(keys::catalog_price(account, id), tiers)?);
        }
        for (id, terms) in &entries.discounts {
            items.push(Item::json(keys::catalog_discount(account, id), terms)?);
        }
        for (id, terms) in &entries.coupons {
            items.push(Item::json(keys::catalog_coupon(account, id), terms)?);
        }
        for item in &items {
            self.put(item, Condition::None).await?;
        }
        Ok(())
    }

    async fn charge_owner(
        &self,
        account: &StripeAccountId,
        payment: &PaymentRef,
    ) -> Result<Option<StripeCustomerId>, StoreError> {
        match self.get(&keys::payment_owner(account, payment)).await? {
            Some(item) => Ok(Some(item.parse::<Owner>()?.customer)),
            None => Ok(None),
        }
    }

    async fn remember_owners(
        &self,
        account: &StripeAccountId,
        owners: &[ChargeOwner],
    ) -> Result<(), StoreError> {
        for o in owners {
            let owner = Owner {
                customer: o.customer.clone(),
            };
            let item = Item::json(keys::payment_owner(account, &o.payment), &owner)?;
            self.put(&item, Condition::None).await?;
        }
        Ok(())
    }
}
