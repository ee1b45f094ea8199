//! The one place errors become HTTP responses: `{"error": {"code", "message"}}`.

use crate::domain::error_code::ErrorCode;
use lambda_http::{Body, Response};
use serde_json::json;

/// An error on its way to the client: a status, a stable code and a message
/// safe to show (never an internal error's Debug text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code:?}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable code.
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `ERR_BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, ErrorCode::ERR_BAD_REQUEST, message)
    }

    /// 401 with `ERR_UNAUTHENTICATED`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, ErrorCode::ERR_UNAUTHENTICATED, message)
    }

    /// 404 with `ERR_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, ErrorCode::ERR_NOT_FOUND, message)
    }

    /// 503 with `ERR_INTERNAL`: a dependency failed; the message stays generic.
    pub fn unavailable() -> Self {
        Self::new(
            503,
            ErrorCode::ERR_INTERNAL,
            "a dependency is unavailable; retry later",
        )
    }

    /// The JSON response.
    pub fn into_response(self) -> Response<Body> {
        json_response(
            self.status,
            &json!({"error": {"code": self.code.as_str(), "message": self.message, "doc": self.code.doc()}}),
        )
    }
}

impl From<crate::ports::store::StoreError> for ApiError {
    fn from(e: crate::ports::store::StoreError) -> Self {
        use crate::ports::store::StoreError as S;
        match e {
            S::BadCursor => Self::bad_request("invalid cursor"),
            S::Conflict | S::TransactionCancelled { .. } => Self::new(
                409,
                ErrorCode::ERR_CONFLICT,
                "the resource changed concurrently; retry",
            ),
            other => {
                tracing::error!(error = %other, "store error");
                Self::unavailable()
            }
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
