//! What observation needs beyond a payload, per connected Stripe account: the cached
//! [`Catalog`] (tiers of tiered prices, discounts and their coupons), the index of
//! charge owners (a dispute names only its charge), and the Stripe reads that fill both.
//!
//! Error contract:
//! - [`CatalogStore`] returns [`StoreError`]: `Unavailable` is retryable; `Corrupt`
//!   means a cached entry does not decode (never retried); a missing entry is not an
//!   error — it is absent from the answer.
//! - [`CatalogSource`] returns [`StripeError`] with the contract of
//!   [`crate::ports::stripe`]: `NotFound` (the price, coupon or charge is gone),
//!   `PermissionDenied` and `BadRequest` are not retryable, `RateLimited` and
//!   `Unavailable` are. Every method is a `GET`: nothing here can change the account.

use crate::domain::ids::{
    PaymentRef, StripeAccountId, StripeChargeId, StripeCustomerId, StripeObjectId,
};
use crate::ports::store::StoreError;
use crate::ports::stripe::StripeError;
use crate::stripe::catalog::{Catalog, CatalogNeeds};
use crate::stripe::models::{Charge, Coupon, Price, Subscription};
use crate::stripe::observe::ChargeOwner;
use std::future::Future;

/// The catalog cache and the charge-owner index of each connected account.
pub trait CatalogStore: Send + Sync {
    /// The cached entries among `wanted`; entries not cached are absent from the result.
    fn cached(
        &self,
        account: &StripeAccountId,
        wanted: &CatalogNeeds,
    ) -> impl Future<Output = Result<Catalog, StoreError>> + Send;

    /// Caches `entries`, overwriting what was there (a price's tiers and a coupon's
    /// terms never change in Stripe once created, so a re-fetch only refreshes).
    fn remember(
        &self,
        account: &StripeAccountId,
        entries: &Catalog,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The customer that owns a charge or payment intent, when some payload named it.
    fn charge_owner(
        &self,
        account: &StripeAccountId,
        payment: &PaymentRef,
    ) -> impl Future<Output = Result<Option<StripeCustomerId>, StoreError>> + Send;

    /// Records charge owners (idempotent: an owner never changes).
    fn remember_owners(
        &self,
        account: &StripeAccountId,
        owners: &[ChargeOwner],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The Stripe reads that fill the catalog and the owner index, on one account.
pub trait CatalogSource: Send + Sync {
    /// One price with its tiers (`GET /v1/prices/{id}?expand[]=tiers`).
    fn price_with_tiers(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Price, StripeError>> + Send;

    /// One coupon (`GET /v1/coupons/{id}`).
    fn coupon(&self, id: &str) -> impl Future<Output = Result<Coupon, StripeError>> + Send;

    /// A subscription with its discounts and its items' discounts expanded
    /// (`GET /v1/subscriptions/{id}?expand[]=discounts&expand[]=items.data.discounts`):
    /// Stripe has no endpoint for a discount by id.
    fn subscription_discounts(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Subscription, StripeError>> + Send;

    /// One charge (`GET /v1/charges/{id}`), to learn the owner of a disputed charge that
    /// no payload named.
    fn charge_by_id(
        &self,
        id: &StripeChargeId,
    ) -> impl Future<Output = Result<Charge, StripeError>> + Send;
}
