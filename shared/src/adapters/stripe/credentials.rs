//! How a request authenticates for one connected account.

use crate::domain::ids::StripeAccountId;
use crate::domain::secret::Secret;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Live or test mode, which decides the account's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StripeMode {
    /// Live data, 100 requests/s by default.
    Live,
    /// Test data, 25 requests/s by default.
    Test,
}

/// Credentials for one connected account. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub enum StripeCredentials {
    /// Connect: the platform's secret key, acting on the connected account
    /// through the `Stripe-Account` header.
    Connect {
        /// The platform's `sk_…` key.
        platform_key: Secret,
        /// The connected account, `acct_…`.
        account: StripeAccountId,
    },
    /// A bearer token of the account itself: a Stripe Apps OAuth access token
    /// or a restricted key (`rk_…`).
    Bearer {
        /// The token or key.
        token: Secret,
        /// The account, when known (a restricted key learns it from `/v1/account`).
        account: Option<StripeAccountId>,
    },
}

impl StripeCredentials {
    /// The connected account, when known.
    pub fn account(&self) -> Option<&StripeAccountId> {
        match self {
            Self::Connect { account, .. } => Some(account),
            Self::Bearer { account, .. } => account.as_ref(),
        }
    }

    /// The mode, read from the key's prefix (`sk_live_`, `rk_test_` …). A token
    /// without a recognisable prefix counts as test mode: the lower rate limit
    /// is the safe guess.
    pub fn mode(&self) -> StripeMode {
        if self.secret().expose().contains("_live_") {
            StripeMode::Live
        } else {
            StripeMode::Test
        }
    }

    pub(crate) fn secret(&self) -> &Secret {
        match self {
            Self::Connect { platform_key, .. } => platform_key,
            Self::Bearer { token, .. } => token,
        }
    }

    /// The `Stripe-Account` header value, for Connect only.
    pub(crate) fn stripe_account_header(&self) -> Option<&str> {
        match self {
            Self::Connect { account, .. } => Some(account.as_str()),
            Self::Bearer { .. } => None,
        }
    }

    /// What the rate limiter counts against: the account when known, else a
    /// hash of the token (never the token itself).
    pub(crate) fn limiter_key(&self) -> String {
        match self.account() {
            Some(account) => account.as_str().to_owned(),
            None => {
                let mut h = DefaultHasher::new();
                self.secret().expose().hash(&mut h);
                format!("token:{:016x}", h.finish())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_the_key_prefix() {
        let live = StripeCredentials::Bearer {
            token: Secret::new("rk_live_abc"),
            account: None,
        };
        let test = StripeCredentials::Connect {
            platform_key: Secret::new("sk_test_abc"),
            account: StripeAccountId::parse("acct_1").unwrap(),
        };
        assert_eq!(live.mode(), StripeMode::Live);
        assert_eq!(test.mode(), StripeMode::Test);
    }

    #[test]
    fn limiter_key_never_contains_the_token() {
        let c = StripeCredentials::Bearer {
            token: Secret::new("rk_test_secret"),
            account: None,
        };
        assert!(!c.limiter_key().contains("secret"));
        assert!(!format!("{c:?}").contains("secret"));
    }
}
