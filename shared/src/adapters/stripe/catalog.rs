//! [`CatalogSource`] on a connected account: the retrieves that fill the price and
//! discount cache and the charge-owner index. Each is a `GET` to a fixed read path.

use super::path::ReadPath;
use super::reader::AccountReader;
use crate::domain::ids::{StripeChargeId, StripeObjectId};
use crate::ports::catalog::CatalogSource;
use crate::ports::stripe::StripeError;
use crate::stripe::models::{Charge, Coupon, Price, Subscription};

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
