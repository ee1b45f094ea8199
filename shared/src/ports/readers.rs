//! Readers of a connected account, built from the credentials this deployment holds
//! for the workspace's connection (Connect: platform key + `Stripe-Account`; Stripe
//! Apps: a fresh access token; restricted key: the key itself).

use crate::domain::connection::Connection;
use crate::ports::stripe::{StripeError, StripeReader};
use std::future::Future;

/// Hands out a [`StripeReader`] for one connection.
///
/// Error contract: credentials that Stripe refused or that are gone (disconnected,
/// revoked) are [`StripeError::Unauthorized`] (ERR_ST_401); a key service or secret store
/// that cannot be reached is [`StripeError::Unavailable`] (retryable). Implementations
/// refresh short-lived tokens before they expire; callers never see a token.
pub trait ConnectionReaders: Send + Sync {
    /// The reader type.
    type Reader: StripeReader;

    /// A reader for `connection`'s account and mode.
    fn for_connection(
        &self,
        connection: &Connection,
    ) -> impl Future<Output = Result<Self::Reader, StripeError>> + Send;
}
