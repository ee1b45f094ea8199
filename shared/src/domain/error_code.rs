//! The stable error codes of the API. The ten spec codes keep their names;
//! the rest follow the same `ERR_…` style. See `docs/errors.md`.

use serde::{Deserialize, Serialize};

/// Every error code the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(non_camel_case_types)]
pub enum ErrorCode {
    /// OAuth grant revoked or token expired without a successful refresh.
    ERR_ST_401,
    /// The grant lacks a read permission we need.
    ERR_ST_403,
    /// Event livemode differs from the connection's mode.
    ERR_MODE_MISMATCH,
    /// Stripe still rate-limits after our retries.
    ERR_ST_429,
    /// Customer match confidence under 90 %.
    ERR_MATCH_LOW,
    /// Webhook signature missing or wrong.
    ERR_WEBHOOK_SIG,
    /// Webhook timestamp outside the tolerance.
    ERR_WEBHOOK_STALE,
    /// Workspace region differs from where the request arrived.
    ERR_REGION_MISMATCH,
    /// The Stripe integration needs the Pro plan.
    ERR_PLAN_REQUIRED,
    /// The Stripe account is restricted.
    ERR_ACCT_RESTRICTED,
    /// No or invalid credentials.
    ERR_UNAUTHENTICATED,
    /// A malformed request (bad JSON, bad parameter).
    ERR_BAD_REQUEST,
    /// Body larger than allowed.
    ERR_PAYLOAD_TOO_LARGE,
    /// No such resource.
    ERR_NOT_FOUND,
    /// The request conflicts with current state.
    ERR_CONFLICT,
    /// Stripe could not be reached or answered unexpectedly.
    ERR_STRIPE_UNAVAILABLE,
    /// A dependency (store, KMS, Secrets Manager) failed; retry later.
    ERR_INTERNAL,
    /// The method is not served on this path.
    ERR_METHOD_NOT_ALLOWED,
    /// The request line is too long.
    ERR_URI_TOO_LONG,
    /// The request headers are too large.
    ERR_HEADERS_TOO_LARGE,
    /// The client sent its request too slowly.
    ERR_TIMEOUT,
    /// The deployment is misconfigured (a required secret or setting is missing): our fault, logged once.
    ERR_CONFIG,
    /// The OAuth state is forged, expired, replayed, or another workspace's.
    ERR_OAUTH_STATE,
    /// The user denied access on Stripe's consent screen.
    ERR_OAUTH_DENIED,
    /// The Stripe account is already connected to another workspace.
    ERR_ACCOUNT_ALREADY_CONNECTED,
    /// The operator does not offer this connection method.
    ERR_METHOD_DISABLED,
    /// A secret key was pasted where only restricted keys are accepted.
    ERR_SECRET_KEY_REFUSED,
}

impl ErrorCode {
    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ERR_ST_401 => "ERR_ST_401",
            Self::ERR_ST_403 => "ERR_ST_403",
            Self::ERR_MODE_MISMATCH => "ERR_MODE_MISMATCH",
            Self::ERR_ST_429 => "ERR_ST_429",
            Self::ERR_MATCH_LOW => "ERR_MATCH_LOW",
            Self::ERR_WEBHOOK_SIG => "ERR_WEBHOOK_SIG",
            Self::ERR_WEBHOOK_STALE => "ERR_WEBHOOK_STALE",
            Self::ERR_REGION_MISMATCH => "ERR_REGION_MISMATCH",
            Self::ERR_PLAN_REQUIRED => "ERR_PLAN_REQUIRED",
            Self::ERR_ACCT_RESTRICTED => "ERR_ACCT_RESTRICTED",
            Self::ERR_UNAUTHENTICATED => "ERR_UNAUTHENTICATED",
            Self::ERR_BAD_REQUEST => "ERR_BAD_REQUEST",
            Self::ERR_PAYLOAD_TOO_LARGE => "ERR_PAYLOAD_TOO_LARGE",
            Self::ERR_NOT_FOUND => "ERR_NOT_FOUND",
            Self::ERR_CONFLICT => "ERR_CONFLICT",
            Self::ERR_STRIPE_UNAVAILABLE => "ERR_STRIPE_UNAVAILABLE",
            Self::ERR_INTERNAL => "ERR_INTERNAL",
            Self::ERR_METHOD_NOT_ALLOWED => "ERR_METHOD_NOT_ALLOWED",
            Self::ERR_URI_TOO_LONG => "ERR_URI_TOO_LONG",
            Self::ERR_HEADERS_TOO_LARGE => "ERR_HEADERS_TOO_LARGE",
            Self::ERR_TIMEOUT => "ERR_TIMEOUT",
            Self::ERR_CONFIG => "ERR_CONFIG",
            Self::ERR_OAUTH_STATE => "ERR_OAUTH_STATE",
            Self::ERR_OAUTH_DENIED => "ERR_OAUTH_DENIED",
            Self::ERR_ACCOUNT_ALREADY_CONNECTED => "ERR_ACCOUNT_ALREADY_CONNECTED",
            Self::ERR_METHOD_DISABLED => "ERR_METHOD_DISABLED",
            Self::ERR_SECRET_KEY_REFUSED => "ERR_SECRET_KEY_REFUSED",
        }
    }

    /// Every code, for tables and tests.
    pub const ALL: [Self; 27] = [
        Self::ERR_ST_401,
        Self::ERR_ST_403,
        Self::ERR_MODE_MISMATCH,
        Self::ERR_ST_429,
        Self::ERR_MATCH_LOW,
        Self::ERR_WEBHOOK_SIG,
        Self::ERR_WEBHOOK_STALE,
        Self::ERR_REGION_MISMATCH,
        Self::ERR_PLAN_REQUIRED,
        Self::ERR_ACCT_RESTRICTED,
        Self::ERR_UNAUTHENTICATED,
        Self::ERR_BAD_REQUEST,
        Self::ERR_PAYLOAD_TOO_LARGE,
        Self::ERR_NOT_FOUND,
        Self::ERR_CONFLICT,
        Self::ERR_STRIPE_UNAVAILABLE,
        Self::ERR_INTERNAL,
        Self::ERR_METHOD_NOT_ALLOWED,
        Self::ERR_URI_TOO_LONG,
        Self::ERR_HEADERS_TOO_LARGE,
        Self::ERR_TIMEOUT,
        Self::ERR_CONFIG,
        Self::ERR_OAUTH_STATE,
        Self::ERR_OAUTH_DENIED,
        Self::ERR_ACCOUNT_ALREADY_CONNECTED,
        Self::ERR_METHOD_DISABLED,
        Self::ERR_SECRET_KEY_REFUSED,
    ];

    /// The troubleshooting anchor for the spec codes.
    pub fn doc(self) -> String {
        format!("/docs/stripe#{}", self.as_str())
    }
}
