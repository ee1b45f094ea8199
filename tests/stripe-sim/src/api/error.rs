//! Stripe-shaped error bodies and key masking.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Stripe-shaped error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry: bool,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &str,
        code: Option<&str>,
        message: String,
        param: Option<&str>,
    ) -> Self {
        let mut error = json!({"type": kind, "message": message});
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        Self {
            status,
            body: json!({ "error": error }),
            retry: false,
        }
    }

    /// 400 for a bad parameter.
    pub fn invalid(message: String, param: Option<&str>, code: Option<&str>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
            param,
        )
    }

    /// 404 `resource_missing`.
    pub fn missing(what: &str, id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such {what}: '{id}'"),
            Some(param),
        )
    }

    /// 401 for an unknown key.
    pub fn invalid_key(key: &str) -> Self {
        let message = if key.is_empty() {
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".to_owned()
        } else {
            format!("Invalid API Key provided: {}", mask(key))
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            message,
            None,
        )
    }

    /// 401 for an expired OAuth access token.
    pub fn expired_key(key: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("api_key_expired"),
            format!("Expired API Key provided: {}", mask(key)),
            None,
        )
    }

    /// 401 for a key whose access to the account was revoked.
    pub fn revoked(key: &str, account: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("account_invalid"),
            format!(
                "The provided key '{}' does not have access to account '{account}' (or that account does not exist). Application access may have been revoked.",
                mask(key)
            ),
            None,
        )
    }

    /// 403 for a key lacking a permission.
    pub fn permission(key: &str, account: &str, permission: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            None,
            format!(
                "The provided key '{}' does not have the required permissions for this endpoint on account '{account}'. Having the '{permission}' permission would allow this request to continue.",
                mask(key)
            ),
            None,
        )
    }

    /// 403 for a restricted account.
    pub fn restricted(account: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            Some("account_restricted"),
            format!(
                "Account '{account}' is restricted (requirements.disabled_reason: under_review); this request is not allowed until the restriction is resolved."
            ),
            None,
        )
    }

    /// 429 above the rate limit.
    pub fn rate_limited() -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.".to_owned(),
            None,
        );
        e.retry = true;
        e
    }

    /// 405 for any write: the simulator is read-only, like the grant Kustiq asks for.
    pub fn read_only(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). The simulator only serves reads."
            ),
            None,
        )
    }

    /// 404 for an unknown path.
    pub fn unknown_url(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
            None,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        if self.retry {
            resp.headers_mut()
                .insert("stripe-should-retry", HeaderValue::from_static("true"));
        }
        resp
    }
}

/// `sk_test_****abcd`, as Stripe masks keys in errors.
pub fn mask(key: &str) -> String {
    let prefix_end = key.match_indices('_').nth(1).map_or(0, |(i, _)| i + 1);
    let tail = key.len().saturating_sub(4).max(prefix_end);
    format!(
        "{}****{}",
        key.get(..prefix_end).unwrap_or(""),
        key.get(tail..).unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_like_stripe() {
        assert_eq!(mask("sk_test_abcdef123456"), "sk_test_****3456");
        assert_eq!(mask("nope"), "****nope");
    }
}
