//! The read endpoints: the only paths the API client can request, always with `GET`.

use crate::domain::ids::{StripeCustomerId, StripeEventId, StripeObjectId};
use crate::ports::stripe::StripeError;

/// One Stripe read endpoint. There is no variant for anything that writes,
/// and the transport only ever sends `GET`, so no value of this type can
/// change a Stripe account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadPath {
    /// `/v1/account`.
    Account,
    /// `/v1/customers`.
    Customers,
    /// `/v1/customers/{id}`.
    Customer(StripeCustomerId),
    /// `/v1/subscriptions`.
    Subscriptions,
    /// `/v1/subscriptions/{id}`.
    Subscription(StripeObjectId),
    /// `/v1/invoices`.
    Invoices,
    /// `/v1/invoices/{id}`.
    Invoice(StripeObjectId),
    /// `/v1/charges`.
    Charges,
    /// `/v1/charges/{id}`.
    Charge(StripeObjectId),
    /// `/v1/disputes`.
    Disputes,
    /// `/v1/disputes/{id}`.
    Dispute(StripeObjectId),
    /// `/v1/events`.
    Events,
    /// `/v1/events/{id}`.
    Event(StripeEventId),
    /// `/v1/prices/{id}`.
    Price(StripeObjectId),
    /// `/v1/coupons/{id}`.
    Coupon(StripeObjectId),
}

impl ReadPath {
    /// The endpoint this path is, as Stripe's per-endpoint rate limit counts them: a
    /// list and a retrieve of one collection are two endpoints.
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Customers => "customers",
            Self::Customer(_) => "customers/:id",
            Self::Subscriptions => "subscriptions",
            Self::Subscription(_) => "subscriptions/:id",
            Self::Invoices => "invoices",
            Self::Invoice(_) => "invoices/:id",
            Self::Charges => "charges",
            Self::Charge(_) => "charges/:id",
            Self::Disputes => "disputes",
            Self::Dispute(_) => "disputes/:id",
            Self::Events => "events",
            Self::Event(_) => "events/:id",
            Self::Price(_) => "prices/:id",
            Self::Coupon(_) => "coupons/:id",
        }
    }

    /// The path, e.g. `/v1/customers/cus_1`. Ids are validated to letters,
    /// digits, `_`, `-`, `.`; one starting with a dot is refused so that no
    /// id can form a `.`/`..` segment and reach another path.
    pub(crate) fn to_path(&self) -> Result<String, StripeError> {
        let (collection, id) = match self {
            Self::Account => return Ok("/v1/account".to_owned()),
            Self::Customers => ("customers", None),
            Self::Customer(id) => ("customers", Some(id.as_str())),
            Self::Subscriptions => ("subscriptions", None),
            Self::Subscription(id) => ("subscriptions", Some(id.as_str())),
            Self::Invoices => ("invoices", None),
            Self::Invoice(id) => ("invoices", Some(id.as_str())),
            Self::Charges => ("charges", None),
            Self::Charge(id) => ("charges", Some(id.as_str())),
            Self::Disputes => ("disputes", None),
            Self::Dispute(id) => ("disputes", Some(id.as_str())),
            Self::Events => ("events", None),
            Self::Event(id) => ("events", Some(id.as_str())),
            Self::Price(id) => ("prices", Some(id.as_str())),
            Self::Coupon(id) => ("coupons", Some(id.as_str())),
        };
        match id {
            None => Ok(format!("/v1/{collection}")),
            Some(id) if id.starts_with('.') => Err(StripeError::BadRequest {
                status: 0,
                code: None,
                message: format!("{collection} id may not start with a dot"),
            }),
            Some(id) => Ok(format!("/v1/{collection}/{id}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retrieve_paths_embed_the_id() {
        let id = StripeObjectId::parse("sub_1").unwrap();
        assert_eq!(
            ReadPath::Subscription(id).to_path().unwrap(),
            "/v1/subscriptions/sub_1"
        );
        assert_eq!(ReadPath::Account.to_path().unwrap(), "/v1/account");
    }

    #[test]
    fn dot_segments_cannot_escape_the_collection() {
        // `..` is refused as an id already; were it ever accepted, the path would refuse it.
        let escaped = StripeObjectId::parse("..").map(|id| ReadPath::Charge(id).to_path());
        assert!(!matches!(escaped, Ok(Ok(_))), "{escaped:?}");
    }
}
