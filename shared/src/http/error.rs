//! The one place errors become HTTP responses: every boundary error enum maps
//! to an [`ErrorCode`] here, and every code maps to its status in [`status`].
//! Nowhere else in `http/` picks a status code.

use crate::app::connect::ConnectError;
use crate::app::dashboard::DashboardError;
use crate::app::ingest::IngestError;
use crate::app::matching::MatchError;
use crate::app::sync::request::RequestError;
use crate::domain::error_code::ErrorCode;
use crate::http::auth::AuthError;
use crate::ports::store::StoreError;
use crate::stripe::webhook::WebhookError;
use lambda_http::{Body, Response};
use serde_json::json;

/// An error on its way to the client: a stable code and a message safe to show
/// (never an internal error's Debug text, never the caller's input echoed back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// Stable code; decides the status.
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
}

/// The HTTP status of each code: the API's contract, in one table.
pub fn status(code: ErrorCode) -> u16 {
    use ErrorCode as C;
    match code {
        C::ERR_BAD_REQUEST
        | C::ERR_WEBHOOK_SIG
        | C::ERR_WEBHOOK_STALE
        | C::ERR_MATCH_LOW
        | C::ERR_MODE_MISMATCH
        | C::ERR_OAUTH_STATE
        | C::ERR_OAUTH_DENIED
        | C::ERR_SECRET_KEY_REFUSED => 400,
        C::ERR_UNAUTHENTICATED => 401,
        C::ERR_PLAN_REQUIRED | C::ERR_ST_403 | C::ERR_ACCT_RESTRICTED | C::ERR_METHOD_DISABLED => {
            403
        }
        C::ERR_NOT_FOUND => 404,
        C::ERR_METHOD_NOT_ALLOWED => 405,
        C::ERR_CONFLICT | C::ERR_ST_401 | C::ERR_ACCOUNT_ALREADY_CONNECTED => 409,
        C::ERR_PAYLOAD_TOO_LARGE => 413,
        C::ERR_URI_TOO_LONG => 414,
        C::ERR_REGION_MISMATCH => 421,
        C::ERR_ST_429 => 429,
        C::ERR_HEADERS_TOO_LARGE => 431,
        C::ERR_CONFIG => 500,
        C::ERR_STRIPE_UNAVAILABLE => 502,
        C::ERR_INTERNAL => 503,
        C::ERR_TIMEOUT => 408,
    }
}

impl ApiError {
    /// A new error with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `ERR_BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ERR_BAD_REQUEST, message)
    }

    /// `ERR_UNAUTHENTICATED`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ERR_UNAUTHENTICATED, message)
    }

    /// `ERR_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ERR_NOT_FOUND, message)
    }

    /// `ERR_PAYLOAD_TOO_LARGE`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ERR_PAYLOAD_TOO_LARGE, message)
    }

    /// `ERR_INTERNAL`: a dependency failed; the message stays generic.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ERR_INTERNAL,
            "a dependency is unavailable; retry later",
        )
    }

    /// The status this error answers with.
    pub fn status(&self) -> u16 {
        status(self.code)
    }

    /// The JSON response.
    pub fn into_response(self) -> Response<Body> {
        json_response(
            self.status(),
            &json!({"error": {"code": self.code.as_str(), "message": self.message, "doc": self.code.doc()}}),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => Self::bad_request("invalid cursor"),
            StoreError::Conflict | StoreError::TransactionCancelled { .. } => Self::new(
                ErrorCode::ERR_CONFLICT,
                "the resource changed concurrently; retry",
            ),
            other => {
                tracing::error!(error = %other, retryable = other.retryable(), "store error");
                Self::unavailable()
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::Missing => ErrorCode::ERR_UNAUTHENTICATED,
            AuthError::BadClaim(_) => ErrorCode::ERR_BAD_REQUEST,
            AuthError::WrongRegion { .. } => ErrorCode::ERR_REGION_MISMATCH,
            AuthError::PlanRequired => ErrorCode::ERR_PLAN_REQUIRED,
        };
        Self::new(code, e.to_string())
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Signature(_) => Self::new(e.code(), e.to_string()),
            WebhookError::Parse(_) => Self::bad_request("the signed body is not a Stripe event"),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Store(s) => {
                tracing::error!(error = %s, retryable = s.retryable(), "event not recorded; asking Stripe to retry");
                Self::unavailable()
            }
            IngestError::Stripe(s) => {
                tracing::warn!(error = %s, "Stripe unavailable while reading what the event lacks; asking Stripe to retry");
                Self::unavailable()
            }
        }
    }
}

impl From<DashboardError> for ApiError {
    fn from(e: DashboardError) -> Self {
        match e {
            DashboardError::Invalid(m) => Self::bad_request(m),
            DashboardError::TooLarge(m) => Self::too_large(m),
            DashboardError::NotFound(m) => Self::not_found(m),
            DashboardError::Contended => Self::new(
                ErrorCode::ERR_CONFLICT,
                "the profile kept changing concurrently; nothing was written, retry",
            ),
            DashboardError::ReplayFailed(m) => {
                Self::new(ErrorCode::ERR_CONFLICT, format!("replay failed again: {m}"))
            }
            DashboardError::Store(s) => s.into(),
        }
    }
}

impl From<ConnectError> for ApiError {
    fn from(e: ConnectError) -> Self {
        use ErrorCode as C;
        let code = match &e {
            ConnectError::MethodDisabled(_) => C::ERR_METHOD_DISABLED,
            ConnectError::Invalid(_) => C::ERR_BAD_REQUEST,
            ConnectError::State(_) => C::ERR_OAUTH_STATE,
            ConnectError::Denied => C::ERR_OAUTH_DENIED,
            ConnectError::ModeMismatch { .. } => C::ERR_MODE_MISMATCH,
            ConnectError::SecretKeyRefused => C::ERR_SECRET_KEY_REFUSED,
            ConnectError::AccountTaken => C::ERR_ACCOUNT_ALREADY_CONNECTED,
            ConnectError::AlreadyConnected => C::ERR_CONFLICT,
            ConnectError::RegionMismatch { .. } => C::ERR_REGION_MISMATCH,
            ConnectError::MissingPermissions(_) => C::ERR_ST_403,
            ConnectError::NotConnected => C::ERR_NOT_FOUND,
            ConnectError::Stripe(s) => {
                let code = s.code();
                // Stripe's own words may name a key's masked tail; ours never carry a secret.
                let message = match code {
                    C::ERR_ST_401 => {
                        "Stripe refused the credentials: the code, token or key is invalid, expired or revoked"
                    }
                    C::ERR_ST_403 => "the Stripe grant or key lacks a read permission",
                    C::ERR_ACCT_RESTRICTED => "Stripe restricted the account",
                    C::ERR_ST_429 => "Stripe rate-limited the request; retry later",
                    C::ERR_BAD_REQUEST => "Stripe refused the request",
                    _ => {
                        tracing::warn!(error = %s, "Stripe failed during connect");
                        "Stripe could not be reached; retry later"
                    }
                };
                return Self::new(code, message);
            }
            ConnectError::Keys(k) => {
                tracing::error!(error = %k, retryable = k.is_retryable(), "key service failed during connect");
                return Self::unavailable();
            }
            ConnectError::Store(s) => {
                return match s {
                    StoreError::Conflict | StoreError::TransactionCancelled { .. } => Self::new(
                        C::ERR_CONFLICT,
                        "the connection changed concurrently; retry",
                    ),
                    other => {
                        tracing::error!(error = %other, "store failed during connect");
                        Self::unavailable()
                    }
                };
            }
            ConnectError::Secrets(s) => {
                tracing::error!(error = %s, "operator secret unavailable during connect");
                return match s {
                    crate::ports::secrets::SecretError::Unavailable(_) => Self::unavailable(),
                    _ => Self::new(C::ERR_CONFIG, "the Stripe integration is not configured"),
                };
            }
        };
        Self::new(code, e.to_string())
    }
}

impl From<MatchError> for ApiError {
    fn from(e: MatchError) -> Self {
        match e {
            MatchError::Store(s) => s.into(),
            MatchError::WriteBack(d) => d.into(),
            MatchError::NoProfile(id) => Self::not_found(format!("no profile {id}")),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Store(s) => s.into(),
            RequestError::Contended => Self::new(
                ErrorCode::ERR_CONFLICT,
                "the sync state kept changing concurrently; retry",
            ),
        }
    }
}

/// A JSON response with `status`.
pub fn json_response(status: u16, body: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// `200` with a JSON body.
pub fn ok(body: &serde_json::Value) -> Response<Body> {
    json_response(200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status() {
        for code in ErrorCode::ALL {
            let s = status(code);
            assert!((400..600).contains(&s), "{code:?} → {s}");
        }
    }

    #[test]
    fn a_missing_configuration_is_a_server_error_not_the_callers_fault() {
        assert_eq!(status(ErrorCode::ERR_CONFIG), 500);
    }
}
