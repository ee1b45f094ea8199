//! Stripe's error bodies, turned into [`StripeError`].

use crate::ports::stripe::StripeError;
use serde::Deserialize;
use std::time::Duration;

/// `{"error": {"type", "code", "message"}}`, every field optional.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ApiError,
}

#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Stripe error codes that mean the account itself is restricted or closed.
const RESTRICTED_CODES: [&str; 4] = [
    "account_closed",
    "account_restricted",
    "account_rejected",
    "account_under_review",
];

/// Stripe error codes that mean our access to the account is gone.
const REVOKED_CODES: [&str; 2] = ["account_invalid", "api_key_expired"];

/// Longest Stripe message kept in an error (they can quote request parameters).
const MAX_MESSAGE: usize = 300;

/// Maps a non-2xx API answer to the error the caller sees.
pub(crate) fn api_error(
    status: u16,
    body: &[u8],
    attempts: u32,
    retry_after: Option<Duration>,
) -> StripeError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = parsed.error.code;
    let message = truncate(
        parsed
            .error
            .message
            .unwrap_or_else(|| format!("HTTP {status}")),
    );
    let code_is = |list: &[&str]| code.as_deref().is_some_and(|c| list.contains(&c));
    let lower = message.to_ascii_lowercase();

    if code_is(&RESTRICTED_CODES)
        || lower.contains("account is restricted")
        || lower.contains("account has been restricted")
    {
        return StripeError::AccountRestricted {
            reason: code.unwrap_or(message),
        };
    }
    if status == 401 || code_is(&REVOKED_CODES) || lower.contains("access may have been revoked") {
        return StripeError::Unauthorized { message };
    }
    match status {
        403 => StripeError::PermissionDenied { message },
        404 => StripeError::NotFound { message },
        429 => StripeError::RateLimited {
            attempts,
            retry_after,
        },
        409 | 500.. => StripeError::Unavailable(format!("HTTP {status}: {message}")),
        _ => StripeError::BadRequest {
            status,
            code,
            message,
        },
    }
}

/// `{"error": "invalid_grant", "error_description": "…"}` from an OAuth endpoint.
#[derive(Debug, Default, Deserialize)]
struct OAuthErrorBody {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Maps a non-2xx OAuth answer to the error the caller sees.
pub(crate) fn oauth_error(status: u16, body: &[u8]) -> StripeError {
    let parsed: OAuthErrorBody = serde_json::from_slice(body).unwrap_or_default();
    match parsed.error {
        Some(serde_json::Value::String(error)) => StripeError::OAuth {
            error,
            description: truncate(parsed.error_description.unwrap_or_default()),
        },
        // Stripe Apps' /v1/oauth/token answers with the API's error shape.
        _ if status >= 500 => StripeError::Unavailable(format!("OAuth HTTP {status}")),
        _ => api_error(status, body, 1, None),
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error_code::ErrorCode;

    fn code_of(status: u16, body: &str) -> ErrorCode {
        api_error(status, body.as_bytes(), 1, None).code()
    }

    #[test]
    fn invalid_key_is_err_st_401() {
        let body = r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****abcd"}}"#;
        assert_eq!(code_of(401, body), ErrorCode::ERR_ST_401);
    }

    #[test]
    fn revoked_connect_access_is_err_st_401() {
        let body = r#"{"error":{"code":"account_invalid","type":"invalid_request_error","message":"The provided key 'sk_test_***' does not have access to account 'acct_1' (or that account does not exist). Application access may have been revoked."}}"#;
        assert_eq!(code_of(403, body), ErrorCode::ERR_ST_401);
    }

    #[test]
    fn missing_permission_is_err_st_403() {
        let body = r#"{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_***' does not have the required permissions for this endpoint on account 'acct_1'."}}"#;
        assert_eq!(code_of(403, body), ErrorCode::ERR_ST_403);
    }

    #[test]
    fn restricted_account_is_err_acct_restricted() {
        let body =
            r#"{"error":{"code":"account_restricted","message":"This account is restricted."}}"#;
        assert_eq!(code_of(403, body), ErrorCode::ERR_ACCT_RESTRICTED);
        assert_eq!(code_of(400, body), ErrorCode::ERR_ACCT_RESTRICTED);
    }

    #[test]
    fn throttling_and_outages_map_to_retryable_errors() {
        let limited = api_error(429, b"{}", 6, Some(Duration::from_secs(1)));
        assert_eq!(limited.code(), ErrorCode::ERR_ST_429);
        assert!(limited.retryable());
        let down = api_error(503, b"<html>", 6, None);
        assert_eq!(down.code(), ErrorCode::ERR_STRIPE_UNAVAILABLE);
        assert!(down.retryable());
    }

    #[test]
    fn oauth_invalid_grant_is_err_st_401() {
        let err = oauth_error(
            400,
            br#"{"error":"invalid_grant","error_description":"expired"}"#,
        );
        assert_eq!(err.code(), ErrorCode::ERR_ST_401);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let body = format!(r#"{{"error":{{"message":"{}"}}}}"#, "é".repeat(400));
        let StripeError::BadRequest { message, .. } = api_error(400, body.as_bytes(), 1, None)
        else {
            panic!("expected a bad request");
        };
        assert!(message.len() <= MAX_MESSAGE);
    }
}
