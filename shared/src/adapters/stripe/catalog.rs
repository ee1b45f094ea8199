//! [`CatalogSource`] on a connected account: the retrieves that fill the price and
//! discount cache and name a disputed charge's owner. Each is a `GET` to a fixed read
//! path. [`PlatformSources`] hands out one per account.

use super::client::StripeClient;
use super::credentials::StripeCredentials;
use super::path::ReadPath;
use super::reader::AccountReader;
use crate::domain::ids::{StripeAccountId, StripeChargeId, StripeObjectId};
use crate::ports::catalog::{CatalogSource, CatalogSources};
use crate::ports::secrets::{SecretError, SecretName, SecretSource};
use crate::ports::stripe::StripeError;
use crate::stripe::models::{Charge, Coupon, Price, Subscription};

/// Catalog reads on every connected account through the platform's secret key and the
/// `Stripe-Account` header ([`StripeCredentials::Connect`]), over one shared client.
///
/// Used where no sealing key is configured. Where one is, ingest reads through each
/// connection's own credentials instead (`app::connect::SealedReaders`, which falls
/// back to this for connections without stored credentials). Stripe accepts the
/// platform key only for accounts connected to the platform; for any other it refuses
/// (401/403), which is not retried: observation goes on with what the payload tells
/// (amounts unknown, a dispute on an unknown charge deferred).
#[derive(Clone)]
pub struct PlatformSources<K> {
    client: StripeClient,
    secrets: K,
}

impl<K> PlatformSources<K> {
    /// Reads through `client` with the platform key from `secrets`
    /// ([`SecretName::STRIPE_PLATFORM_KEY`], read on each use so a rotation is picked up
    /// through the secret cache).
    pub fn new(client: StripeClient, secrets: K) -> Self {
        Self { client, secrets }
    }

    /// The shared client (its request counters, for metrics and tests).
    pub fn client(&self) -> &StripeClient {
        &self.client
    }
}

impl<K: SecretSource + Send + Sync> CatalogSources for PlatformSources<K> {
    type Source = AccountReader;

    async fn for_account(&self, account: &StripeAccountId) -> Result<AccountReader, StripeError> {
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
            account: account.clone(),
        }))
    }
}

/// An id our path rules refuse (a coupon id may be any merchant string): not fetched.
fn unreadable(kind: &str, e: impl std::fmt::Display) -> StripeError {
    StripeError::BadRequest {
        status: 0,
        code: None,
        message: format!("{kind} id cannot be requested: {e}"),
    }
}

impl CatalogSource for AccountReader {
    async fn price_with_tiers(&self, id: &StripeObjectId) -> Result<Price, StripeError> {
        let expand = [("expand[]", "tiers".to_owned())];
        self.client()
            .get(self.credentials(), &ReadPath::Price(id.clone()), &expand)
            .await
    }

    async fn coupon(&self, id: &str) -> Result<Coupon, StripeError> {
        let id = StripeObjectId::parse(id).map_err(|e| unreadable("coupon", e))?;
        self.client()
            .get(self.credentials(), &ReadPath::Coupon(id), &[])
            .await
    }

    async fn subscription_discounts(
        &self,
        id: &StripeObjectId,
    ) -> Result<Subscription, StripeError> {
        let expand = [
            ("expand[]", "discounts".to_owned()),
            ("expand[]", "items.data.discounts".to_owned()),
        ];
        self.client()
            .get(
                self.credentials(),
                &ReadPath::Subscription(id.clone()),
                &expand,
            )
            .await
    }

    async fn charge_by_id(&self, id: &StripeChargeId) -> Result<Charge, StripeError> {
        let id = StripeObjectId::parse(id.as_str()).map_err(|e| unreadable("charge", e))?;
        self.client()
            .get(self.credentials(), &ReadPath::Charge(id), &[])
            .await
    }
}
