//! [`BillingStore`] on the table: one item per Stripe customer, in the compact
//! encoding of [`state_codec`].

use super::{Condition, DynamoStore, keys, state_codec};
use crate::domain::billing_state::BillingState;
use crate::domain::ids::{StripeCustomerId, WorkspaceId};
use crate::ports::billing::BillingStore;
use crate::ports::store::StoreError;

impl BillingStore for DynamoStore {
    async fn load(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> Result<(BillingState, u64), StoreError> {
        match self.get(&keys::billing(workspace, customer)).await? {
            Some(item) => Ok((state_codec::decode_item(&item)?, item.version)),
            None => Ok((BillingState::default(), 0)),
        }
    }

    async fn save(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
        state: &BillingState,
        expected: u64,
    ) -> Result<u64, StoreError> {
        let item = state_codec::item(keys::billing(workspace, customer), state)?;
        let condition = if expected == 0 {
            Condition::Absent
        } else {
            Condition::Version(expected)
        };
        self.put(&item, condition).await
    }
}
