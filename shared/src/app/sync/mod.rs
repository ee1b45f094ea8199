//! Backfill and nightly sync: a queue of per-workspace work, run in chunks under a
//! lease, checkpointed after every page, so a worker killed at any point resumes where
//! the last checkpoint left it. Every object and missed event enters the one apply pipe
//! ([`crate::app::apply`]), whose idempotency makes re-reading a page harmless.
//!
//! - Routes and the nightly trigger only mark work: a pending backfill on the
//!   connection, `sync_requested` on the sync state ([`request`]).
//! - A worker ([`worker`]) takes due workspaces, leases each ([`checkpoint`]), and runs
//!   its phases: lists ([`lists`]), missed events ([`events`]), rescore against now
//!   ([`rescore`]), until done, out of time, or paused by Stripe.
//!
//! The request plan is documented in `docs/sync.md`.

pub mod checkpoint;
pub mod events;
pub mod lists;
pub mod request;
pub mod rescore;
pub mod worker;

use crate::app::apply::ApplyError;
use crate::app::catalog::CatalogError;
use crate::app::matching::{MatchError, MatchingStores};
use crate::domain::connection::BackfillWindow;
use crate::domain::time::Timestamp;
use crate::ports::catalog::{CatalogSource, CatalogStore};
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use crate::ports::readers::ConnectionReaders;
use crate::ports::store::StoreError;
use crate::ports::stripe::StripeError;
use crate::ports::sync::SyncStore;

/// Every store port a sync reads or writes.
pub trait SyncStores:
    SyncStore + MatchingStores + IngestStore + CatalogStore + EventLog + 'static
{
}
impl<T> SyncStores for T where
    T: SyncStore + MatchingStores + IngestStore + CatalogStore + EventLog + 'static
{
}

/// Readers whose accounts also fill the catalog (tiers, coupons) subscriptions need.
pub trait SyncReaders: ConnectionReaders<Reader: CatalogSource> {}
impl<T> SyncReaders for T where T: ConnectionReaders<Reader: CatalogSource> {}

/// Stripe keeps events this long: a reconcile cursor older than this needs a full re-list.
pub const EVENT_RETENTION_DAYS: i64 = 30;

/// The lists of invoices, charges and disputes read at least this far back, whatever
/// the window: the signals look back up to 90 days (MRR delta), and days since the
/// last successful charge needs the charge before the last 45 days.
pub const SIGNAL_LOOKBACK_DAYS: i64 = 90;

/// `created[gte]` of the invoice, charge and dispute lists for `window` at `now`
/// (`None`: all time).
pub fn list_since(window: BackfillWindow, now: Timestamp) -> Option<Timestamp> {
    window
        .days()
        .map(|d| now.plus_days(-d.max(SIGNAL_LOOKBACK_DAYS)))
}

/// Why a sync step stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Stripe failed (the caller decides: pause, retry later, or stop).
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeError),
    /// Applying an object kept racing with other writers.
    #[error("apply: {0}")]
    Apply(ApplyError),
    /// Matching failed.
    #[error("matching: {0}")]
    Matching(#[from] MatchError),
    /// Another worker took the lease over (ours lapsed): this one stops at once.
    #[error("the lease was taken over by another worker")]
    LeaseLost,
}

impl From<ApplyError> for SyncError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Store(s) => Self::Store(s),
            other => Self::Apply(other),
        }
    }
}

impl From<CatalogError> for SyncError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Store(s) => Self::Store(s),
            CatalogError::Stripe(s) => Self::Stripe(s),
        }
    }
}

impl SyncError {
    /// Whether running again later may succeed without anyone acting.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.retryable(),
            Self::Stripe(e) => e.retryable(),
            Self::Apply(_) | Self::LeaseLost => true,
            Self::Matching(MatchError::Store(e)) => e.retryable(),
            Self::Matching(_) => true,
        }
    }
}
