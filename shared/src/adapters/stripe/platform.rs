//! [`StripePlatform`] over the shared [`StripeClient`]: OAuth with the platform
//! key (read from the secret store on each use, so a rotation is picked up
//! through the secret cache) and account readers.

use super::client::StripeClient;
use super::credentials::StripeCredentials;
use super::oauth::StripeOAuth;
use super::reader::AccountReader;
use crate::domain::ids::StripeAccountId;
use crate::domain::secret::Secret;
use crate::ports::oauth::{OAuthGrant, StripePlatform};
use crate::ports::secrets::{SecretError, SecretName, SecretSource};
use crate::ports::stripe::StripeError;
use url::Url;

/// The platform: one Stripe client, the Connect / App client id (`ca_…`) and
/// the secret store holding the platform key.
#[derive(Clone)]
pub struct Platform<K> {
    client: StripeClient,
    client_id: String,
    secrets: K,
}

impl<K> std::fmt::Debug for Platform<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl<K: SecretSource + Send + Sync> Platform<K> {
    /// The platform `client_id` reading through `client`, its key from `secrets`.
    pub fn new(client: StripeClient, client_id: impl Into<String>, secrets: K) -> Self {
        Self {
            client,
            client_id: client_id.into(),
            secrets,
        }
    }

    async fn platform_key(&self) -> Result<Secret, StripeError> {
        self.secrets
            .get(&SecretName::STRIPE_PLATFORM_KEY)
            .await
            .map_err(|e| match e {
                SecretError::Unavailable(m) => {
                    StripeError::Unavailable(format!("platform key: {m}"))
                }
                other => StripeError::Config(other.to_string()),
            })
    }

    async fn oauth(&self) -> Result<StripeOAuth, StripeError> {
        Ok(self
            .client
            .oauth(self.client_id.clone(), self.platform_key().await?))
    }

    /// The OAuth side without a platform key: for building authorize URLs,
    /// which carry only the client id.
    fn urls(&self) -> StripeOAuth {
        self.client
            .oauth(self.client_id.clone(), Secret::new(String::new()))
    }
}

impl<K: SecretSource + Send + Sync> StripePlatform for Platform<K> {
    type Reader = AccountReader;

    fn connect_authorize_url(&self, redirect_uri: &str, state: &str) -> Result<Url, StripeError> {
        self.urls().connect_authorize_url(redirect_uri, state)
    }

    fn app_authorize_url(&self, redirect_uri: &str, state: &str) -> Result<Url, StripeError> {
        self.urls().app_authorize_url(redirect_uri, state)
    }

    async fn connect_exchange(&self, code: &str) -> Result<OAuthGrant, StripeError> {
        self.oauth().await?.connect_exchange(code).await
    }

    async fn app_exchange(&self, code: &str) -> Result<OAuthGrant, StripeError> {
        self.oauth().await?.app_exchange(code).await
    }

    async fn app_refresh(&self, refresh_token: &Secret) -> Result<OAuthGrant, StripeError> {
        self.oauth().await?.app_refresh(refresh_token).await
    }

    async fn connect_deauthorize(&self, account: &StripeAccountId) -> Result<(), StripeError> {
        self.oauth().await?.connect_deauthorize(account).await
    }

    async fn platform_reader(
        &self,
        account: &StripeAccountId,
    ) -> Result<AccountReader, StripeError> {
        Ok(self.client.reader(StripeCredentials::Connect {
            platform_key: self.platform_key().await?,
            account: account.clone(),
        }))
    }

    fn bearer_reader(&self, token: Secret, account: Option<StripeAccountId>) -> AccountReader {
        self.client
            .reader(StripeCredentials::Bearer { token, account })
    }
}
