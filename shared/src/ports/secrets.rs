//! Operator secrets (the Stripe platform key, webhook endpoint secrets) read
//! by logical name. In AWS they come from Secrets Manager through a TTL cache;
//! locally from `KUSTIQ_*` environment variables.

use crate::domain::secret::Secret;
use secrecy::zeroize::Zeroizing;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;

/// A logical secret name: lowercase ASCII letters, digits, `-`, `_` and `/`,
/// 1 to 128 bytes. The AWS adapter prefixes it to form the secret id; the
/// local adapter maps it to `KUSTIQ_<NAME>` (upper case, `-` and `/` → `_`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(Cow<'static, str>);

/// A malformed secret name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid secret name {0:?}: use 1-128 of a-z, 0-9, '-', '_', '/'")]
pub struct SecretNameError(pub String);

impl SecretName {
    /// Stripe webhook endpoint signing secrets; several during a rotation.
    pub const STRIPE_WEBHOOK_SECRET: Self = Self(Cow::Borrowed("stripe-webhook-secret"));
    /// The platform's Stripe secret key (Connect and App calls).
    pub const STRIPE_PLATFORM_KEY: Self = Self(Cow::Borrowed("stripe-platform-key"));
    /// The key that seals the API's page cursors (HMAC bound to workspace and query).
    pub const API_CURSOR_KEY: Self = Self(Cow::Borrowed("api-cursor-key"));
    /// The key that signs OAuth `state` values (HMAC bound to workspace, mode, window, method).
    pub const OAUTH_STATE_KEY: Self = Self(Cow::Borrowed("oauth-state-key"));

    /// Parses and validates a name.
    pub fn parse(raw: impl Into<String>) -> Result<Self, SecretNameError> {
        let raw = raw.into();
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'/')
            });
        if ok {
            Ok(Self(Cow::Owned(raw)))
        } else {
            Err(SecretNameError(raw))
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The environment variable the local adapter reads: `KUSTIQ_STRIPE_WEBHOOK_SECRET`.
    pub fn env_var(&self) -> String {
        let mut var = String::from("KUSTIQ_");
        var.extend(self.0.chars().map(|c| match c {
            '-' | '/' => '_',
            c => c.to_ascii_uppercase(),
        }));
        var
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a secret could not be read. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret of that name exists (or it is scheduled for deletion). Not retryable.
    #[error("secret {0} not found")]
    NotFound(SecretName),
    /// The secret service could not be reached or is throttling. Retryable.
    #[error("secret service unavailable: {0}")]
    Unavailable(String),
    /// The secret exists but cannot be used: empty, not UTF-8, not a list,
    /// or access denied. Not retryable until an operator fixes it.
    #[error("secret {name} is unusable: {reason}")]
    Invalid {
        /// Which secret.
        name: SecretName,
        /// What is wrong, without the value.
        reason: String,
    },
}

impl SecretError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Reads secrets by name.
///
/// Error contract: an unknown name is [`SecretError::NotFound`]; an outage or
/// throttling is [`SecretError::Unavailable`] (retryable); a value that exists
/// but is empty or unreadable is [`SecretError::Invalid`]. Values are only ever
/// returned as [`Secret`], so they cannot reach a log line.
pub trait SecretSource: Send + Sync {
    /// The current value of `name`.
    fn get(&self, name: &SecretName) -> impl Future<Output = Result<Secret, SecretError>> + Send;

    /// The value of `name` read as a list (see [`secret_list`]), e.g. the
    /// webhook endpoint secrets accepted during a rotation.
    fn get_list(
        &self,
        name: &SecretName,
    ) -> impl Future<Output = Result<Vec<Secret>, SecretError>> + Send {
        async move {
            let value = self.get(name).await?;
            secret_list(name, &value)
        }
    }
}

/// Splits a secret holding several values: a JSON array of strings
/// (`["whsec_a","whsec_b"]`) or a comma-separated list (`whsec_a,whsec_b`).
/// Entries are trimmed and empty ones dropped; at least one must remain.
pub fn secret_list(name: &SecretName, value: &Secret) -> Result<Vec<Secret>, SecretError> {
    let invalid = |reason: &str| SecretError::Invalid {
        name: name.clone(),
        reason: reason.to_owned(),
    };
    let raw = value.expose().trim();
    let items: Vec<Secret> = if raw.starts_with('[') {
        let parsed: Zeroizing<Vec<String>> = serde_json::from_str(raw)
            .map(Zeroizing::new)
            .map_err(|_| invalid("not a JSON array of strings"))?;
        parsed
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect()
    } else {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect()
    };
    if items.is_empty() {
        return Err(invalid("empty list"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(raw: &str) -> Result<Vec<String>, SecretError> {
        let name = SecretName::STRIPE_WEBHOOK_SECRET;
        secret_list(&name, &Secret::new(raw))
            .map(|v| v.iter().map(|s| s.expose().to_owned()).collect())
    }

    #[test]
    fn lists_come_as_json_arrays_or_commas() {
        assert_eq!(list("whsec_a").unwrap(), ["whsec_a"]);
        assert_eq!(list(" whsec_a , whsec_b,").unwrap(), ["whsec_a", "whsec_b"]);
        assert_eq!(
            list(r#"["whsec_a", " whsec_b "]"#).unwrap(),
            ["whsec_a", "whsec_b"]
        );
    }

    #[test]
    fn empty_or_broken_lists_are_invalid() {
        for raw in ["", " , ", "[]", "[\"a\",", "[1,2]"] {
            assert!(
                matches!(list(raw), Err(SecretError::Invalid { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn names_validate_and_map_to_env_vars() {
        assert_eq!(
            SecretName::STRIPE_WEBHOOK_SECRET.env_var(),
            "KUSTIQ_STRIPE_WEBHOOK_SECRET"
        );
        assert_eq!(
            SecretName::parse("a/b-c").unwrap().env_var(),
            "KUSTIQ_A_B_C"
        );
        assert!(SecretName::parse("").is_err());
        assert!(SecretName::parse("Upper").is_err());
        assert!(SecretName::parse("a b").is_err());
        assert!(SecretName::parse("x".repeat(129)).is_err());
    }
}
