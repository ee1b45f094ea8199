//! The platform's side of Stripe: the OAuth flows (Connect and Stripe Apps) and
//! readers built from credentials the connect use case holds in plaintext only
//! for the length of one call.
//!
//! Error contract: every method returns [`StripeError`]. An OAuth refusal is
//! [`StripeError::OAuth`] (`invalid_grant`: the code or refresh token is used,
//! expired or revoked → ERR_ST_401); a platform key that cannot be read now is
//! [`StripeError::Unavailable`] (retryable); a missing one is [`StripeError::Config`].

use crate::domain::ids::StripeAccountId;
use crate::domain::secret::Secret;
use crate::ports::stripe::{StripeError, StripeReader};
use std::future::Future;
use std::time::Duration;
use url::Url;

/// Tokens granted by an OAuth exchange or refresh. `Debug` shows no token.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    /// The connected account (`stripe_user_id`).
    pub account: StripeAccountId,
    /// The access token: for Connect, use the platform key with
    /// `Stripe-Account` instead; for Stripe Apps, the bearer for one hour.
    pub access_token: Secret,
    /// The refresh token. Stripe Apps rotate it on every refresh: store the
    /// new one and forget the old one, which no longer works.
    pub refresh_token: Option<Secret>,
    /// Whether the grant is for live mode.
    pub livemode: bool,
    /// The granted scope, e.g. `read_only`.
    pub scope: Option<String>,
    /// How long the access token lives, when Stripe says (Apps: one hour).
    pub expires_in: Option<Duration>,
}

/// The Stripe platform Kustiq is: OAuth and account readers.
pub trait StripePlatform: Send + Sync {
    /// The reader type.
    type Reader: StripeReader;

    /// Where to send the user to grant Connect `read_only` access.
    fn connect_authorize_url(&self, redirect_uri: &str, state: &str) -> Result<Url, StripeError>;

    /// The Stripe Apps install link.
    fn app_authorize_url(&self, redirect_uri: &str, state: &str) -> Result<Url, StripeError>;

    /// Exchanges a Connect authorization code.
    fn connect_exchange(
        &self,
        code: &str,
    ) -> impl Future<Output = Result<OAuthGrant, StripeError>> + Send;

    /// Exchanges a Stripe Apps authorization code.
    fn app_exchange(
        &self,
        code: &str,
    ) -> impl Future<Output = Result<OAuthGrant, StripeError>> + Send;

    /// Refreshes a Stripe Apps grant; the answer's refresh token replaces `refresh_token`.
    fn app_refresh(
        &self,
        refresh_token: &Secret,
    ) -> impl Future<Output = Result<OAuthGrant, StripeError>> + Send;

    /// Revokes the platform's Connect access to `account`.
    fn connect_deauthorize(
        &self,
        account: &StripeAccountId,
    ) -> impl Future<Output = Result<(), StripeError>> + Send;

    /// A reader of a Connect account: the platform key with `Stripe-Account`.
    fn platform_reader(
        &self,
        account: &StripeAccountId,
    ) -> impl Future<Output = Result<Self::Reader, StripeError>> + Send;

    /// A reader authenticated by the account's own bearer (an Apps access token
    /// or a restricted key).
    fn bearer_reader(&self, token: Secret, account: Option<StripeAccountId>) -> Self::Reader;
}
