//! Reading one connected Stripe account: the lists and retrieves that backfill,
//! nightly sync and event replay need. Read-only: nothing here can change
//! anything on the account.
//!
//! Error contract (every method returns [`StripeError`]):
//! - `Unauthorized` → `ERR_ST_401`: the grant was revoked or the token expired; reconnect.
//! - `PermissionDenied` → `ERR_ST_403`: the grant lacks a read permission.
//! - `AccountRestricted` → `ERR_ACCT_RESTRICTED`: Stripe restricted the account.
//! - `RateLimited` → `ERR_ST_429`: still limited after the client's own retries; retryable later.
//! - `Unavailable` → `ERR_STRIPE_UNAVAILABLE`: network, timeout or 5xx after retries; retryable.
//! - `NotFound`, `BadRequest`, `Decode`: not retryable; the same call fails again.
//!
//! Lists are `Unpin` streams (call `.next().await` directly) that yield every
//! object exactly once, in the server's order, paging
//! transparently; a stream ends at the first error.

use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{StripeAccountId, StripeCustomerId, StripeEventId, StripeObjectId};
use crate::domain::time::Timestamp;
use crate::stripe::models::{Charge, Customer, Dispute, Event, EventType, Invoice, Subscription};
use futures::Stream;
use std::future::Future;
use std::time::Duration;

/// Which objects of a list to read. The default reads all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only objects created at or after this instant (`created[gte]`).
    pub created_gte: Option<Timestamp>,
    /// Only one customer's objects (`customer=`); for subscriptions, invoices and charges.
    pub customer: Option<StripeCustomerId>,
    /// Resume after this object id (`starting_after`): a checkpointed list's cursor.
    pub starting_after: Option<String>,
}

impl ListFilter {
    /// Every object of the list.
    pub fn all() -> Self {
        Self::default()
    }

    /// Objects created at or after `since` (a backfill window).
    pub fn created_since(since: Timestamp) -> Self {
        Self {
            created_gte: Some(since),
            ..Self::default()
        }
    }

    /// The same filter, resuming after the object `id` (`None`: from the start).
    pub fn after(mut self, id: Option<String>) -> Self {
        self.starting_after = id;
        self
    }

    /// One customer's objects.
    pub fn for_customer(customer: StripeCustomerId) -> Self {
        Self {
            customer: Some(customer),
            ..Self::default()
        }
    }
}

/// Which events to list from `/v1/events` (Stripe keeps 30 days of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events created at or after this instant (`created[gte]`).
    pub created_gte: Option<Timestamp>,
    /// Only these types (`types[]`); empty means every type.
    pub types: Vec<EventType>,
    /// Resume after this event id (`starting_after`): a checkpointed listing's cursor.
    pub starting_after: Option<String>,
}

/// The connected account as `/v1/account` describes it: who it is and whether
/// Stripe restricted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeAccount {
    /// `acct_…`.
    pub id: StripeAccountId,
    /// The business name shown to customers, when set.
    pub display_name: Option<String>,
    /// Two-letter country code.
    pub country: Option<String>,
    /// Default currency, lower case.
    pub default_currency: Option<String>,
    /// Whether the account can take charges.
    pub charges_enabled: bool,
    /// `requirements.disabled_reason`: set when Stripe restricted the account.
    pub disabled_reason: Option<String>,
}

impl StripeAccount {
    /// `Err(AccountRestricted)` when Stripe restricted the account, so a
    /// connect or sync can stop with `ERR_ACCT_RESTRICTED`.
    pub fn ensure_not_restricted(&self) -> Result<(), StripeError> {
        match &self.disabled_reason {
            Some(reason) => Err(StripeError::AccountRestricted {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// A Stripe call failed. See the module docs for the contract.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The credentials were rejected: grant revoked, token expired, key rolled.
    #[error("Stripe rejected the credentials (revoked or expired): {message}")]
    Unauthorized {
        /// Stripe's message (keys in it are already masked by Stripe).
        message: String,
    },
    /// The grant or restricted key lacks a permission for this read.
    #[error("the Stripe grant lacks a permission: {message}")]
    PermissionDenied {
        /// Stripe's message.
        message: String,
    },
    /// Stripe restricted the account (KYC pending, under review, closed).
    #[error("the Stripe account is restricted: {reason}")]
    AccountRestricted {
        /// Stripe's disabled reason, error code or message.
        reason: String,
    },
    /// Stripe still answered 429 after every retry (or asked for a longer wait
    /// than the client may sleep).
    #[error("Stripe still rate-limits after {attempts} attempts")]
    RateLimited {
        /// Requests sent, retries included.
        attempts: u32,
        /// Stripe's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The object does not exist (or not on this account).
    #[error("not found on Stripe: {message}")]
    NotFound {
        /// Stripe's message.
        message: String,
    },
    /// Stripe refused the request as malformed; retrying will not help.
    #[error("Stripe rejected the request ({status}): {message}")]
    BadRequest {
        /// The HTTP status.
        status: u16,
        /// Stripe's `error.code`, when present.
        code: Option<String>,
        /// Stripe's message.
        message: String,
    },
    /// An OAuth endpoint refused: `invalid_grant` (code used, expired or
    /// revoked), `invalid_client`, `access_denied` …
    #[error("Stripe OAuth error {error}: {description}")]
    OAuth {
        /// OAuth's `error` value.
        error: String,
        /// OAuth's `error_description`.
        description: String,
    },
    /// Stripe could not be reached, timed out, or kept failing (5xx, 409).
    #[error("Stripe unavailable: {0}")]
    Unavailable(String),
    /// A response did not have the expected shape.
    #[error("unexpected Stripe response: {0}")]
    Decode(String),
    /// The client could not be built (TLS, bad base URL).
    #[error("Stripe client configuration: {0}")]
    Config(String),
}

impl StripeError {
    /// The API error code this failure surfaces as.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthorized { .. } => ErrorCode::ERR_ST_401,
            Self::PermissionDenied { .. } => ErrorCode::ERR_ST_403,
            Self::AccountRestricted { .. } => ErrorCode::ERR_ACCT_RESTRICTED,
            Self::RateLimited { .. } => ErrorCode::ERR_ST_429,
            Self::NotFound { .. } => ErrorCode::ERR_NOT_FOUND,
            Self::BadRequest { .. } => ErrorCode::ERR_BAD_REQUEST,
            Self::OAuth { error, .. } => match error.as_str() {
                "invalid_grant" => ErrorCode::ERR_ST_401,
                "access_denied" => ErrorCode::ERR_ST_403,
                _ => ErrorCode::ERR_BAD_REQUEST,
            },
            Self::Unavailable(_) | Self::Decode(_) => ErrorCode::ERR_STRIPE_UNAVAILABLE,
            Self::Config(_) => ErrorCode::ERR_INTERNAL,
        }
    }

    /// Whether the same call may succeed later without anyone acting
    /// (rate limits and outages); revoked grants and missing permissions are not.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_))
    }
}

/// Reads one connected Stripe account. Implemented by the reqwest adapter
/// (`adapters::stripe::AccountReader`) and by in-memory fakes in tests.
pub trait StripeReader: Send + Sync {
    /// The account itself (`GET /v1/account`).
    fn account(&self) -> impl Future<Output = Result<StripeAccount, StripeError>> + Send;

    /// Every customer (`GET /v1/customers`); `filter.customer` is ignored.
    fn customers(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Customer, StripeError>> + Send + Unpin + '_;

    /// Every subscription, canceled ones included (`status=all`), with its
    /// discounts expanded.
    fn subscriptions(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Subscription, StripeError>> + Send + Unpin + '_;

    /// Every invoice, drafts included.
    fn invoices(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Invoice, StripeError>> + Send + Unpin + '_;

    /// Every charge.
    fn charges(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Charge, StripeError>> + Send + Unpin + '_;

    /// Every dispute, each with its charge expanded (so it names its customer);
    /// `filter.customer` is ignored (Stripe has no such filter).
    fn disputes(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Dispute, StripeError>> + Send + Unpin + '_;

    /// Events of the last 30 days matching `query`.
    fn events(
        &self,
        query: EventQuery,
    ) -> impl Stream<Item = Result<Event, StripeError>> + Send + Unpin + '_;

    /// One customer.
    fn customer(
        &self,
        id: &StripeCustomerId,
    ) -> impl Future<Output = Result<Customer, StripeError>> + Send;

    /// One subscription (`sub_…`).
    fn subscription(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Subscription, StripeError>> + Send;

    /// One invoice (`in_…`).
    fn invoice(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Invoice, StripeError>> + Send;

    /// One charge (`ch_…` or `py_…`).
    fn charge(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Charge, StripeError>> + Send;

    /// One dispute (`dp_…` or `du_…`).
    fn dispute(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Dispute, StripeError>> + Send;

    /// One event (`evt_…`), e.g. to replay a failed one.
    fn event(&self, id: &StripeEventId) -> impl Future<Output = Result<Event, StripeError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_maps_to_its_spec_code() {
        let cases = [
            (
                StripeError::Unauthorized {
                    message: String::new(),
                },
                ErrorCode::ERR_ST_401,
                false,
            ),
            (
                StripeError::PermissionDenied {
                    message: String::new(),
                },
                ErrorCode::ERR_ST_403,
                false,
            ),
            (
                StripeError::AccountRestricted {
                    reason: "under_review".into(),
                },
                ErrorCode::ERR_ACCT_RESTRICTED,
                false,
            ),
            (
                StripeError::RateLimited {
                    attempts: 5,
                    retry_after: None,
                },
                ErrorCode::ERR_ST_429,
                true,
            ),
            (
                StripeError::Unavailable("503".into()),
                ErrorCode::ERR_STRIPE_UNAVAILABLE,
                true,
            ),
            (
                StripeError::OAuth {
                    error: "invalid_grant".into(),
                    description: String::new(),
                },
                ErrorCode::ERR_ST_401,
                false,
            ),
        ];
        for (err, code, retryable) in cases {
            assert_eq!(err.code(), code, "{err}");
            assert_eq!(err.retryable(), retryable, "{err}");
        }
    }

    #[test]
    fn a_disabled_reason_means_restricted() {
        let mut account = StripeAccount {
            id: StripeAccountId::parse("acct_1").unwrap(),
            display_name: None,
            country: None,
            default_currency: None,
            charges_enabled: true,
            disabled_reason: None,
        };
        assert!(account.ensure_not_restricted().is_ok());
        account.disabled_reason = Some("under_review".into());
        let err = account.ensure_not_restricted().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ERR_ACCT_RESTRICTED);
    }
}
