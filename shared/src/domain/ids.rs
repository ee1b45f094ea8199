//! Identifier newtypes. Each parses and rejects, so a value of the type is always well-formed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A malformed identifier: which kind, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    /// The identifier kind, e.g. `workspace id`.
    pub kind: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

const MAX_ID_LEN: usize = 255;

fn check(kind: &'static str, raw: &str, prefix: Option<&str>) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError {
            kind,
            reason: "empty",
        });
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError {
            kind,
            reason: "longer than 255 bytes",
        });
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(IdError {
            kind,
            reason: "only letters, digits, '_', '-' and '.' are allowed",
        });
    }
    if raw.bytes().all(|b| b == b'.') {
        return Err(IdError {
            kind,
            reason: "'.' and '..' are not identifiers",
        });
    }
    if let Some(p) = prefix
        && (!raw.starts_with(p) || raw.len() == p.len())
    {
        return Err(IdError {
            kind,
            reason: "wrong prefix",
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates a raw identifier.
            pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                check($kind, &raw, $prefix)?;
                Ok(Self(raw))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A Kustiq workspace (tenant). Comes from the JWT authorizer claims.
    WorkspaceId, "workspace id", None
);
id_type!(
    /// A CRM profile inside a workspace.
    ProfileId, "profile id", None
);
id_type!(
    /// A connected Stripe account, `acct_…`.
    StripeAccountId, "Stripe account id", Some("acct_")
);
id_type!(
    /// A Stripe customer, `cus_…`.
    StripeCustomerId, "Stripe customer id", Some("cus_")
);
id_type!(
    /// A Stripe event, `evt_…`.
    StripeEventId, "Stripe event id", Some("evt_")
);
id_type!(
    /// Any other Stripe object id (`sub_…`, `in_…`, `ch_…`, `dp_…`), kept as evidence.
    StripeObjectId, "Stripe object id", None
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_id_requires_its_prefix() {
        assert!(StripeCustomerId::parse("cus_123").is_ok());
        assert!(StripeCustomerId::parse("acct_123").is_err());
        assert!(StripeCustomerId::parse("cus_").is_err());
    }

    #[test]
    fn ids_reject_empty_long_and_odd_characters() {
        assert!(WorkspaceId::parse("").is_err());
        assert!(WorkspaceId::parse("a".repeat(256)).is_err());
        assert!(WorkspaceId::parse("ws#1").is_err());
        assert!(WorkspaceId::parse("ws_1-a.b").is_ok());
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<StripeEventId, _> = serde_json::from_str("\"evt_1\"");
        assert!(ok.is_ok());
        let bad: Result<StripeEventId, _> = serde_json::from_str("\"ch_1\"");
        assert!(bad.is_err());
    }
}
