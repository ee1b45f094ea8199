//! Outbound churn events: registering endpoints, deriving events from score
//! changes, delivering them signed, retried and in order.
//!
//! - [`derive`]: score change → events (pure; called inside every score commit).
//! - [`target`]: which URLs may be called (the SSRF guard's rules).
//! - [`endpoints`]: the webhook-endpoints routes' use cases.
//! - [`deliver`]: the worker: outbox → deliveries → signed POSTs with backoff.

pub mod deliver;
pub mod derive;
pub mod endpoints;
pub mod target;

use crate::ports::keys::KeyError;
use crate::ports::outbound::TargetError;
use crate::ports::store::StoreError;

/// Most endpoints one workspace may register (bounds the fan-out transaction).
pub const MAX_ENDPOINTS: usize = 10;

/// Why an outbound use case failed. Mapped to a status in `http/error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The input breaks a documented rule; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The URL is refused by the target policy; nothing was written.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// No such endpoint or delivery in this workspace.
    #[error("{0}")]
    NotFound(String),
    /// A limit or a concurrent change prevents the write; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// Sealing or opening a signing secret failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
