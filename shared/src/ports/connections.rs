//! Where a workspace's Stripe connection is kept, and how an incoming event's
//! Stripe account finds its workspace.

use crate::domain::connection::Connection;
use crate::domain::ids::{StripeAccountId, WorkspaceId};
use crate::ports::store::StoreError;
use std::future::Future;

/// Stores connections and the account → workspace route.
///
/// Contract: `save` writes the connection and its account route together or
/// not at all; it fails with [`StoreError::Conflict`] when the Stripe account
/// is already routed to another workspace in this region, or when `expected`
/// no longer matches the stored version. Reads of missing items are `Ok(None)`.
pub trait ConnectionStore: Send + Sync {
    /// The workspace's connection and its stored version.
    fn connection(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Option<(Connection, u64)>, StoreError>> + Send;

    /// The connection an event from `account` belongs to, if any in this region.
    fn connection_for_account(
        &self,
        account: &StripeAccountId,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;

    /// Writes the connection (and its route) if the stored version is still
    /// `expected` (0 = must not exist). Returns the new version.
    fn save_connection(
        &self,
        connection: &Connection,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
