//! One connected account's reads: typed retrieves and auto-paginated lists.

use super::client::StripeClient;
use super::credentials::StripeCredentials;
use super::path::ReadPath;
use crate::domain::ids::{StripeAccountId, StripeCustomerId, StripeEventId, StripeObjectId};
use crate::ports::stripe::{EventQuery, ListFilter, StripeAccount, StripeError, StripeReader};
use crate::stripe::models::{Charge, Customer, Dispute, Event, Invoice, List, Subscription};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::future::Future;

/// Stripe's largest page.
const PAGE_SIZE: &str = "100";

/// Reads one connected account through a [`StripeClient`]. Cheap to clone.
#[derive(Clone)]
pub struct AccountReader {
    client: StripeClient,
    credentials: StripeCredentials,
}

/// An object a list can be paged past: `starting_after` takes its id.
pub(crate) trait Listed {
    /// The object's id.
    fn cursor(&self) -> &str;
}

macro_rules! listed {
    ($($t:ty),*) => {$(
        impl Listed for $t {
            fn cursor(&self) -> &str {
                self.id.as_str()
            }
        }
    )*};
}
listed!(Customer, Subscription, Invoice, Charge, Dispute, Event);

impl AccountReader {
    pub(crate) fn new(client: StripeClient, credentials: StripeCredentials) -> Self {
        Self {
            client,
            credentials,
        }
    }

    /// The credentials this reader uses.
    pub fn credentials(&self) -> &StripeCredentials {
        &self.credentials
    }

    /// The client it reads through (its only request is a `GET` to a [`ReadPath`]).
    pub(crate) fn client(&self) -> &StripeClient {
        &self.client
    }

    /// Every object of a list endpoint, paging with `limit=100` and
    /// `starting_after` = the last id of the previous page. Stripe defines
    /// `starting_after` relative to the list's own order, so this is right
    /// whether the server lists newest-first (Stripe) or oldest-first
    /// (localstripe). A cursor seen twice means the server is looping: the
    /// stream ends with an error instead of yielding objects again. `after` resumes
    /// a list after that object (a checkpoint).
    pub(crate) fn list<T>(
        &self,
        path: ReadPath,
        params: Vec<(&'static str, String)>,
        after: Option<String>,
    ) -> BoxStream<'static, Result<T, StripeError>>
    where
        T: DeserializeOwned + Listed + Send + 'static,
    {
        struct Cursor {
            after: Option<String>,
            seen: HashSet<String>,
        }
        let reader = self.clone();
        let start = Some(Cursor {
            after,
            seen: HashSet::new(),
        });
        stream::try_unfold(start, move |state| {
            let reader = reader.clone();
            let path = path.clone();
            let mut query = params.clone();
            async move {
                let Some(mut cursor) = state else {
                    return Ok(None);
                };
                query.push(("limit", PAGE_SIZE.to_owned()));
                if let Some(after) = &cursor.after {
                    query.push(("starting_after", after.clone()));
                }
                let page: List<T> = reader
                    .client
                    .get(&reader.credentials, &path, &query)
                    .await?;
                let next = match page.data.last() {
                    Some(last) if page.has_more => {
                        let id = last.cursor().to_owned();
                        if !cursor.seen.insert(id.clone()) {
                            return Err(StripeError::Decode(format!(
                                "{path:?} pagination returned cursor {id} twice"
                            )));
                        }
                        cursor.after = Some(id);
                        Some(cursor)
                    }
                    _ => None,
                };
                Ok(Some((page.data, next)))
            }
        })
        .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn retrieve<T: DeserializeOwned>(&self, path: ReadPath) -> Result<T, StripeError> {
        self.client.get(&self.credentials, &path, &[]).await
    }
}

fn filter_params(filter: &ListFilter, with_customer: bool) -> Vec<(&'static str, String)> {
    // `starting_after` is the list's own cursor: `list` adds it.
    let mut params = Vec::new();
    if let Some(since) = filter.created_gte {
        params.push(("created[gte]", since.unix().to_string()));
    }
    if let (true, Some(customer)) = (with_customer, &filter.customer) {
        params.push(("customer", customer.as_str().to_owned()));
    }
    params
}

/// The parts of `/v1/account` we read.
#[derive(Deserialize)]
struct AccountWire {
    id: StripeAccountId,
    #[serde(default)]
    business_profile: Option<BusinessProfile>,
    #[serde(default)]
    settings: Option<Settings>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    default_currency: Option<String>,
    #[serde(default)]
    charges_enabled: bool,
    #[serde(default)]
    requirements: Option<Requirements>,
}

#[derive(Deserialize)]
struct BusinessProfile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Settings {
    #[serde(default)]
    dashboard: Option<Dashboard>,
}

#[derive(Deserialize)]
struct Dashboard {
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct Requirements {
    #[serde(default)]
    disabled_reason: Option<String>,
}

impl From<AccountWire> for StripeAccount {
    fn from(w: AccountWire) -> Self {
        let display_name = w
            .settings
            .and_then(|s| s.dashboard)
            .and_then(|d| d.display_name)
            .or_else(|| w.business_profile.and_then(|b| b.name));
        Self {
            id: w.id,
            display_name,
            country: w.country,
            default_currency: w.default_currency,
            charges_enabled: w.charges_enabled,
            disabled_reason: w
                .requirements
                .and_then(|r| r.disabled_reason)
                .filter(|r| !r.is_empty()),
        }
    }
}

impl StripeReader for AccountReader {
    async fn account(&self) -> Result<StripeAccount, StripeError> {
        let wire: AccountWire = self.retrieve(ReadPath::Account).await?;
        Ok(StripeAccount::from(wire))
    }

    fn customers(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Customer, StripeError>> + Send + Unpin + '_ {
        self.list(
            ReadPath::Customers,
            filter_params(&filter, false),
            filter.starting_after,
        )
    }

    fn subscriptions(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Subscription, StripeError>> + Send + Unpin + '_ {
        let mut params = filter_params(&filter, true);
        // Without it Stripe omits canceled subscriptions, which churn needs.
        params.push(("status", "all".to_owned()));
        // Discount objects name their coupon: no retrieve per subscription to learn it.
        params.push(("expand[]", "data.discounts".to_owned()));
        self.list(ReadPath::Subscriptions, params, filter.starting_after)
    }

    fn invoices(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Invoice, StripeError>> + Send + Unpin + '_ {
        self.list(
            ReadPath::Invoices,
            filter_params(&filter, true),
            filter.starting_after,
        )
    }

    fn charges(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Charge, StripeError>> + Send + Unpin + '_ {
        self.list(
            ReadPath::Charges,
            filter_params(&filter, true),
            filter.starting_after,
        )
    }

    fn disputes(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Dispute, StripeError>> + Send + Unpin + '_ {
        let mut params = filter_params(&filter, false);
        // The charge names the customer a dispute belongs to.
        params.push(("expand[]", "data.charge".to_owned()));
        self.list(ReadPath::Disputes, params, filter.starting_after)
    }

    fn events(
        &self,
        query: EventQuery,
    ) -> impl Stream<Item = Result<Event, StripeError>> + Send + Unpin + '_ {
        let mut params = Vec::new();
        if let Some(since) = query.created_gte {
            params.push(("created[gte]", since.unix().to_string()));
        }
        for kind in &query.types {
            params.push(("types[]", kind.as_str().to_owned()));
        }
        self.list(ReadPath::Events, params, query.starting_after)
    }

    fn customer(
        &self,
        id: &StripeCustomerId,
    ) -> impl Future<Output = Result<Customer, StripeError>> + Send {
        self.retrieve(ReadPath::Customer(id.clone()))
    }

    fn subscription(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Subscription, StripeError>> + Send {
        self.retrieve(ReadPath::Subscription(id.clone()))
    }

    fn invoice(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Invoice, StripeError>> + Send {
        self.retrieve(ReadPath::Invoice(id.clone()))
    }

    fn charge(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Charge, StripeError>> + Send {
        self.retrieve(ReadPath::Charge(id.clone()))
    }

    fn dispute(
        &self,
        id: &StripeObjectId,
    ) -> impl Future<Output = Result<Dispute, StripeError>> + Send {
        self.retrieve(ReadPath::Dispute(id.clone()))
    }

    fn event(&self, id: &StripeEventId) -> impl Future<Output = Result<Event, StripeError>> + Send {
        self.retrieve(ReadPath::Event(id.clone()))
    }
}
