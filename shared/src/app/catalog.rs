//! Filling the catalog an event needs, and routing a dispute to its charge's owner:
//! cache first, Stripe once for what is missing, then the cache again.

use crate::domain::ids::PaymentRef;
use crate::domain::ids::{StripeAccountId, StripeCustomerId};
use crate::domain::time::Timestamp;
use crate::ports::catalog::{CatalogSource, CatalogStore};
use crate::ports::store::StoreError;
use crate::ports::stripe::StripeError;
use crate::stripe::catalog::{Catalog, CatalogNeeds};
use crate::stripe::models::{Dispute, EventObject};
use crate::stripe::observe::{dispute_payments, observe_object_with};

/// Filling the catalog or finding an owner failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The cache failed.
    #[error("catalog cache: {0}")]
    Store(#[from] StoreError),
    /// Stripe failed in a way that may pass (rate limit, outage) or needs a person
    /// (revoked grant): the caller retries or flags the connection.
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeError),
}

impl CatalogError {
    /// Whether the same call may succeed later.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.retryable(),
            Self::Stripe(e) => e.retryable(),
        }
    }
}

/// A Stripe failure that concerns only this entry (gone, refused, unreadable): the
/// entry stays unknown and the rest goes on.
fn skippable(e: &StripeError) -> bool {
    matches!(
        e,
        StripeError::NotFound { .. }
            | StripeError::BadRequest { .. }
            | StripeError::PermissionDenied { .. }
            | StripeError::Decode(_)
    )
}

/// The catalog entries `needs` lists: cached ones from `store`, the others fetched from
/// Stripe once and cached. An entry Stripe cannot give (deleted price, unreadable
/// coupon id) stays absent, so its amount stays unknown.
pub async fn resolve_catalog(
    store: &impl CatalogStore,
    source: &impl CatalogSource,
    account: &StripeAccountId,
    needs: &CatalogNeeds,
) -> Result<Catalog, CatalogError> {
    if needs.is_empty() {
        return Ok(Catalog::default());
    }
    let mut catalog = store.cached(account, needs).await?;
    let missing = needs.missing_from(&catalog);
    let mut fresh = Catalog::default();
    for price in &missing.prices {
        match source.price_with_tiers(price).await {
            Ok(p) => fresh.learn_price(&p),
            Err(e) if skippable(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut subscriptions: Vec<_> = missing.discounts.iter().map(|(_, s)| s).collect();
    subscriptions.sort();
    subscriptions.dedup();
    for sub in subscriptions {
        match source.subscription_discounts(sub).await {
            Ok(s) => {
                fresh.learn_from_subscription(&s);
            }
            Err(e) if skippable(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The coupons of every discount now known (API ≥ 2025-09-30 discounts name theirs
    // by id), and those asked for: from the cache, else from Stripe.
    let mut coupons: Vec<String> = needs.coupons.clone();
    coupons.extend(
        catalog
            .discounts
            .values()
            .chain(fresh.discounts.values())
            .map(|d| d.coupon.clone()),
    );
    coupons.retain(|c| !catalog.coupons.contains_key(c) && !fresh.coupons.contains_key(c));
    coupons.sort();
    coupons.dedup();
    if !coupons.is_empty() {
        let wanted = CatalogNeeds {
            coupons: coupons.clone(),
            ..CatalogNeeds::default()
        };
        catalog.extend(store.cached(account, &wanted).await?);
    }
    for coupon in coupons.iter().filter(|c| !catalog.coupons.contains_key(*c)) {
        match source.coupon(coupon).await {
            Ok(c) => fresh.learn_coupon(&c, None),
            Err(e) if skippable(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if fresh == Catalog::default() {
        return Ok(catalog);
    }
    store.remember(account, &fresh).await?;
    catalog.extend(fresh);
    Ok(catalog)
}

/// The customer a dispute belongs to: the stored owner of its charge or payment
/// intent, else the charge retrieved from Stripe (its `customer`), whose owners are
/// then stored. `None` when the charge has no customer.
pub async fn dispute_owner(
    store: &impl CatalogStore,
    source: &impl CatalogSource,
    account: &StripeAccountId,
    dispute: &Dispute,
    now: Timestamp,
) -> Result<Option<StripeCustomerId>, CatalogError> {
    for payment in dispute_payments(dispute) {
        if let Some(owner) = store.charge_owner(account, &payment).await? {
            return Ok(Some(owner));
        }
    }
    let charge = source.charge_by_id(dispute.charge.id()).await?;
    let observed = observe_object_with(
        &EventObject::Charge(Box::new(charge)),
        now,
        &Catalog::default(),
    );
    store
        .remember_owners(account, &observed.charge_owners)
        .await?;
    let wanted = PaymentRef::Charge(dispute.charge.id().clone());
    Ok(observed
        .charge_owners
        .into_iter()
        .find(|o| o.payment == wanted)
        .map(|o| o.customer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{StripeChargeId, StripeObjectId};
    use crate::stripe::models::{Charge, Coupon, Price, Subscription};
    use crate::stripe::observe::ChargeOwner;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct MemoryStore {
        catalog: Mutex<Catalog>,
        owners: Mutex<BTreeMap<PaymentRef, StripeCustomerId>>,
    }

    impl CatalogStore for MemoryStore {
        async fn cached(
            &self,
            _: &StripeAccountId,
            wanted: &CatalogNeeds,
        ) -> Result<Catalog, StoreError> {
            let all = self
                .catalog
                .lock()
                .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
            let mut out = Catalog::default();
            for p in &wanted.prices {
                out.prices
                    .extend(all.prices.get(p).map(|t| (p.clone(), t.clone())));
            }
            for (d, _) in &wanted.discounts {
                out.discounts
                    .extend(all.discounts.get(d).map(|t| (d.clone(), t.clone())));
            }
            for c in &wanted.coupons {
                out.coupons
                    .extend(all.coupons.get(c).map(|t| (c.clone(), t.clone())));
            }
            Ok(out)
        }
        async fn remember(&self, _: &StripeAccountId, entries: &Catalog) -> Result<(), StoreError> {
            let mut all = self
                .catalog
                .lock()
                .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
            all.extend(entries.clone());
            Ok(())
        }
        async fn charge_owner(
            &self,
            _: &StripeAccountId,
            payment: &PaymentRef,
        ) -> Result<Option<StripeCustomerId>, StoreError> {
            let owners = self
                .owners
                .lock()
                .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
            Ok(owners.get(payment).cloned())
        }
        async fn remember_owners(
            &self,
            _: &StripeAccountId,
            owners: &[ChargeOwner],
        ) -> Result<(), StoreError> {
            let mut all = self
                .owners
                .lock()
                .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
            all.extend(
                owners
                    .iter()
                    .map(|o| (o.payment.clone(), o.customer.clone())),
            );
            Ok(())
        }
    }

    /// A Stripe that knows one tiered price, one subscription with a discount, its
    /// coupon and one charge, and counts every call.
    #[derive(Default)]
    struct FakeStripe {
        calls: AtomicUsize,
    }

    impl CatalogSource for FakeStripe {
        async fn price_with_tiers(&self, id: &StripeObjectId) -> Result<Price, StripeError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if id.as_str() != "price_t" {
                return Err(StripeError::NotFound {
                    message: "no such price".into(),
                });
            }
            serde_json::from_value(json!({
                "id": "price_t", "currency": "usd", "billing_scheme": "tiered", "tiers_mode": "volume",
                "recurring": {"interval": "month"},
                "tiers": [{"up_to": 10, "unit_amount": 900}, {"up_to": "inf", "unit_amount": 700}]
            }))
            .map_err(|e| StripeError::Decode(e.to_string()))
        }
        async fn coupon(&self, id: &str) -> Result<Coupon, StripeError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            serde_json::from_value(json!({"id": id, "percent_off": 20.0, "duration": "forever"}))
                .map_err(|e| StripeError::Decode(e.to_string()))
        }
        async fn subscription_discounts(
            &self,
            _: &StripeObjectId,
        ) -> Result<Subscription, StripeError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            // API ≥ 2025-09-30: the expanded discount names its coupon by id only.
            serde_json::from_value(json!({
                "id": "sub_1", "customer": "cus_1", "status": "active",
                "discounts": [{"id": "di_1", "source": {"type": "coupon", "coupon": "TWENTY"}, "end": null}],
                "items": {"data": []}
            }))
            .map_err(|e| StripeError::Decode(e.to_string()))
        }
        async fn charge_by_id(&self, id: &StripeChargeId) -> Result<Charge, StripeError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            serde_json::from_value(json!({
                "id": id.as_str(), "customer": "cus_7", "status": "succeeded", "created": 1,
                "amount": 100, "currency": "usd", "payment_intent": "pi_7"
            }))
            .map_err(|e| StripeError::Decode(e.to_string()))
        }
    }

    fn acct() -> StripeAccountId {
        StripeAccountId::parse("acct_1").unwrap()
    }

    fn oid(s: &str) -> StripeObjectId {
        StripeObjectId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn tiers_and_coupons_are_fetched_once_then_served_from_the_cache() {
        let (store, stripe) = (MemoryStore::default(), FakeStripe::default());
        let needs = CatalogNeeds {
            prices: vec![oid("price_t"), oid("price_gone")],
            discounts: vec![(oid("di_1"), oid("sub_1"))],
            coupons: vec![],
        };
        let first = resolve_catalog(&store, &stripe, &acct(), &needs)
            .await
            .unwrap();
        assert!(first.prices.contains_key(&oid("price_t")));
        assert_eq!(first.discounts[&oid("di_1")].coupon, "TWENTY");
        assert!(first.coupons.contains_key("TWENTY"));
        // A deleted price stays unknown instead of failing the rest.
        assert!(!first.prices.contains_key(&oid("price_gone")));
        assert_eq!(stripe.calls.load(Ordering::SeqCst), 4);
        let cached_only = CatalogNeeds {
            prices: vec![oid("price_t")],
            ..needs.clone()
        };
        let again = resolve_catalog(&store, &stripe, &acct(), &cached_only)
            .await
            .unwrap();
        assert_eq!(again, first);
        // Only the deleted price is asked for again.
        assert_eq!(stripe.calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_dispute_on_a_charge_nobody_named_is_routed_by_retrieving_the_charge() {
        let (store, stripe) = (MemoryStore::default(), FakeStripe::default());
        let dispute: Dispute = serde_json::from_value(json!({
            "id": "dp_1", "charge": "ch_7", "payment_intent": "pi_7", "amount": 100,
            "currency": "usd", "status": "needs_response", "reason": "fraudulent", "created": 2
        }))
        .unwrap();
        let now = Timestamp::from_unix(3);
        let owner = dispute_owner(&store, &stripe, &acct(), &dispute, now)
            .await
            .unwrap();
        assert_eq!(owner.map(|c| c.to_string()), Some("cus_7".into()));
        // The owner is stored: the next dispute on it needs no Stripe call.
        let again = dispute_owner(&store, &stripe, &acct(), &dispute, now)
            .await
            .unwrap();
        assert_eq!(again.map(|c| c.to_string()), Some("cus_7".into()));
        assert_eq!(stripe.calls.load(Ordering::SeqCst), 1);
    }
}
