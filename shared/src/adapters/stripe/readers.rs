//! [`ConnectionReaders`] for Connect-method connections: the platform's secret key with
//! the `Stripe-Account` header, over one shared client.

use super::client::StripeClient;
use super::credentials::StripeCredentials;
use super::reader::AccountReader;
use crate::domain::connection::{ConnectMethod, Connection};
use crate::ports::readers::ConnectionReaders;
use crate::ports::secrets::{SecretError, SecretName, SecretSource};
use crate::ports::stripe::StripeError;

/// Readers of Connect-method connections through the platform key
/// ([`SecretName::STRIPE_PLATFORM_KEY`], read on each use so a rotation is picked up).
///
/// Connections made with a restricted key or through Stripe Apps hold credentials of
/// their own; until this deployment reads them (the connect issue's sealed credentials),
/// their reads go through the platform key too, which Stripe accepts only for accounts
/// connected to the platform and otherwise refuses with 401/403 (not retried).
#[derive(Clone)]
pub struct PlatformReaders<K> {
    client: StripeClient,
    secrets: K,
}

impl<K> PlatformReaders<K> {
    /// Reads through `client` with the platform key from `secrets`.
    pub fn new(client: StripeClient, secrets: K) -> Self {
        Self { client, secrets }
    }

    /// The shared client (its request counters).
    pub fn client(&self) -> &StripeClient {
        &self.client
    }
}

impl<K: SecretSource + Send + Sync> ConnectionReaders for PlatformReaders<K> {
    type Reader = AccountReader;

    async fn for_connection(&self, connection: &Connection) -> Result<AccountReader, StripeError> {
        if connection.method != ConnectMethod::Connect {
            tracing::debug!(method = ?connection.method, "no credentials of its own yet; reading with the platform key");
        }
        let platform_key = self
            .secrets
            .get(&SecretName::STRIPE_PLATFORM_KEY)
            .await
            .map_err(|e| match e {
                SecretError::Unavailable(m) => {
                    StripeError::Unavailable(format!("platform key: {m}"))
                }
                other => StripeError::Config(other.to_string()),
            })?;
        Ok(self.client.reader(StripeCredentials::Connect {
            platform_key,
            account: connection.account_id.clone(),
        }))
    }
}
