//! Where each Stripe customer's billing state is kept.

use crate::domain::billing_state::BillingState;
use crate::domain::ids::{StripeCustomerId, WorkspaceId};
use crate::ports::store::StoreError;
use std::future::Future;

/// Loads and saves billing state with optimistic concurrency.
///
/// Contract: `load` of an unknown customer is an empty state at version 0;
/// `save` fails with [`StoreError::Conflict`] when another writer saved
/// since `expected` (the caller reloads, re-applies and saves again — safe
/// because applying observations is idempotent and order-independent).
pub trait BillingStore: Send + Sync {
    /// The customer's state and its version.
    fn load(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> impl Future<Output = Result<(BillingState, u64), StoreError>> + Send;

    /// Saves the state if the stored version is still `expected`; returns the new version.
    fn save(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
        state: &BillingState,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
