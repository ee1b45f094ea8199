//! Where a workspace's Stripe connection and its sealed credentials ([`Grant`])
//! are kept, and how an incoming event's Stripe account finds its workspace.
//!
//! One connection per workspace: the status route shows one, and live and test
//! are separate connections in the sense that switching mode is a reconnect
//! (the old grant is replaced, history kept). See `docs/stripe.md`.

use crate::domain::connection::Connection;
use crate::domain::ids::{ConnectionId, StripeAccountId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::ports::keys::SealedBlob;
use crate::ports::store::StoreError;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A connection found through its Stripe account's route, and the guard that ties
/// a commit to that route.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The connection the route carries.
    pub connection: Connection,
    /// What a commit made on this route checks.
    pub guard: RouteGuard,
    /// Answered from the process's route cache rather than read now.
    pub cached: bool,
}

/// Proof of the route a decision was made on: a commit carrying it lands only while
/// the account's route is exactly as it was read, so an event decided on a cached
/// route can never write into a workspace the account has left, nor after a
/// disconnect. Opaque outside the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteGuard {
    /// The Stripe account whose route it is.
    pub account: StripeAccountId,
    /// The route as stored, compared whole by the commit.
    pub stamp: String,
}

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

    /// The route of `account` with a guard for the commit it leads to. With `fresh`
    /// false the answer may come from a short-lived cache of connected routes this
    /// process has read (`Routed::cached` says so): a decision made on a cached
    /// route must commit with its guard, and re-read with `fresh` before any other
    /// decision (ignore, flag, defer). Unknown and unconnected routes are never cached.
    fn route_for_account(
        &self,
        account: &StripeAccountId,
        fresh: bool,
    ) -> impl Future<Output = Result<Option<Routed>, StoreError>> + Send;

    /// Writes the connection (and its route) if the stored version is still
    /// `expected` (0 = must not exist). Returns the new version.
    fn save_connection(
        &self,
        connection: &Connection,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// One sealed credential of a connection, by method. Every secret is a
/// [`SealedBlob`] sealed for the workspace, the Stripe account and its
/// [`crate::ports::keys::SealPurpose`]; plaintext never reaches the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Credential {
    /// Connect OAuth: reads use the platform key with `Stripe-Account`; the
    /// grant's refresh token is kept (sealed) only so the grant can be renewed.
    Connect {
        /// The sealed refresh token, when Stripe sent one.
        refresh_token: Option<SealedBlob>,
    },
    /// Stripe Apps OAuth: a one-hour access token and the rotating refresh token.
    App {
        /// The sealed access token.
        access_token: SealedBlob,
        /// When the access token expires.
        expires_at: Timestamp,
        /// The sealed refresh token (replaced on every refresh).
        refresh_token: SealedBlob,
    },
    /// A restricted key pasted by the user.
    ApiKey {
        /// The sealed `rk_…` (or, where allowed, `sk_…`) key.
        key: SealedBlob,
    },
}

impl Credential {
    /// Every sealed blob of the credential (for the re-seal job and the leak tests).
    pub fn blobs(&self) -> Vec<&SealedBlob> {
        match self {
            Self::Connect { refresh_token } => refresh_token.iter().collect(),
            Self::App {
                access_token,
                refresh_token,
                ..
            } => vec![access_token, refresh_token],
            Self::ApiKey { key } => vec![key],
        }
    }
}

/// What the workspace granted us for its connection: the sealed credential,
/// the per-connection webhook secrets, the cross-region consent, and the
/// refresh lease. Stored beside the [`Connection`], never returned by an API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The connection's id (names its own webhook endpoint).
    pub connection_id: ConnectionId,
    /// The Stripe account the credential opens.
    pub account_id: StripeAccountId,
    /// The sealed credential.
    pub credential: Credential,
    /// Sealed endpoint signing secrets for `/webhooks/stripe/c/{connection_id}`
    /// (restricted-key connections; two during a rotation).
    #[serde(default)]
    pub webhook_secrets: Vec<SealedBlob>,
    /// The user accepted a Stripe account of the other region (`cross_region=accept`).
    #[serde(default)]
    pub cross_region: bool,
    /// A refresh of the Apps access token is in progress until then: others wait.
    #[serde(default)]
    pub refreshing_until: Option<Timestamp>,
    /// When the credential was last sealed (connect, refresh or re-seal job).
    pub sealed_at: Timestamp,
}

/// Stores each connection's [`Grant`].
///
/// Contract: every write is conditional on the stored version (`expected`, 0 =
/// must not exist) and fails with [`StoreError::Conflict`] (or
/// `TransactionCancelled`) when it moved, changing nothing. `connect` writes the
/// connection, its account route, the grant and the connection-id route in one
/// transaction, with the account rules of [`ConnectionStore::save_connection`].
/// Reads of missing items are `Ok(None)`; deletes of missing items succeed.
pub trait GrantStore: Send + Sync {
    /// Writes a new or renewed connection together with its grant: `expected`
    /// is the connection's stored version, `grant_expected` the grant's.
    fn connect(
        &self,
        connection: &Connection,
        expected: u64,
        grant: &Grant,
        grant_expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The workspace's grant and its version.
    fn grant(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Option<(Grant, u64)>, StoreError>> + Send;

    /// The grant whose connection id is `id`.
    fn grant_by_id(
        &self,
        id: &ConnectionId,
    ) -> impl Future<Output = Result<Option<(Grant, u64)>, StoreError>> + Send;

    /// Replaces the grant if its version is still `expected`; returns the new version.
    fn save_grant(
        &self,
        grant: &Grant,
        expected: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes the grant and its connection-id route (disconnect).
    fn delete_grant(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every workspace holding a grant in this region (the rotation job's list).
    fn granted_workspaces(
        &self,
    ) -> impl Future<Output = Result<Vec<WorkspaceId>, StoreError>> + Send;

    /// Disconnects: writes `connection` (status `disconnected`) if its version is
    /// still `expected`, and deletes its account route, its grant and the
    /// connection-id route, in one transaction. Events of the account then find
    /// no connection; billing state, scores, matches and history stay.
    fn disconnect(
        &self,
        connection: &Connection,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Remembers that Stripe must still be told to revoke our access to
    /// `account` (a deauthorize that failed at disconnect); a later connect of the
    /// account cancels it.
    fn queue_deauthorization(
        &self,
        account: &StripeAccountId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The accounts whose deauthorization is still owed.
    fn owed_deauthorizations(
        &self,
    ) -> impl Future<Output = Result<Vec<StripeAccountId>, StoreError>> + Send;

    /// Forgets an owed deauthorization (done).
    fn deauthorization_done(
        &self,
        account: &StripeAccountId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Deletes what Stripe told us about a workspace (erase).
///
/// Contract: idempotent; each item is deleted (or rewritten) on its own, so a
/// failure part-way leaves a partly erased workspace that a retry finishes.
/// `StoreError::Conflict` means a profile changed meanwhile: run it again.
pub trait StripeDataEraser: Send + Sync {
    /// Deletes the workspace's billing states, charge owners, customer matches,
    /// recorded events, score-history entries caused by Stripe events, the
    /// catalog cache of `account`, and a connection that no longer feeds
    /// scores; strips `stripe_customer_id` from its profiles. Returns every
    /// profile of the workspace as it is now, for rescoring.
    fn erase_stripe_data(
        &self,
        workspace: &WorkspaceId,
        account: Option<&StripeAccountId>,
    ) -> impl Future<Output = Result<Vec<crate::domain::profile::Profile>, StoreError>> + Send;
}

/// Remembers which OAuth states were used, so each is single-use.
///
/// Contract: `consume` returns `Ok(true)` the first time a nonce is presented
/// and `Ok(false)` every later time (until `expires_at`, after which the state
/// is refused as expired anyway); store failures are [`StoreError`].
pub trait StateLedger: Send + Sync {
    /// Marks `nonce` used; whether this was its first use.
    fn consume(
        &self,
        nonce: &str,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
