//! The Stripe event envelope and its typed `data.object`.

use super::charge::{Charge, Dispute};
use super::common::{List, string_enum};
use super::customer::Customer;
use super::invoice::Invoice;
use super::subscription::{Subscription, SubscriptionItem};
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{StripeAccountId, StripeEventId};
use crate::domain::time::Timestamp;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

string_enum! {
    /// `event.type`: the event types the churn engine reads, plus the Connect
    /// deauthorization. Every other type parses into `Other` and is ignored.
    pub enum EventType {
        /// Churn signal: a subscription ended.
        CustomerSubscriptionDeleted = "customer.subscription.deleted",
        /// Churn or recovery signal: downgrade or upgrade, by `previous_attributes.items`.
        CustomerSubscriptionUpdated = "customer.subscription.updated",
        /// Churn signal: a subscription paused.
        CustomerSubscriptionPaused = "customer.subscription.paused",
        /// Recovery signal: a paused subscription resumed.
        CustomerSubscriptionResumed = "customer.subscription.resumed",
        /// Churn signal: dunning.
        InvoicePaymentFailed = "invoice.payment_failed",
        /// Recovery signal: an invoice was paid.
        InvoicePaymentSucceeded = "invoice.payment_succeeded",
        /// Context: a billing cycle.
        InvoiceFinalized = "invoice.finalized",
        /// Churn signal: a dispute opened.
        ChargeDisputeCreated = "charge.dispute.created",
        /// Context: a new customer.
        CustomerCreated = "customer.created",
        /// Context: a customer changed.
        CustomerUpdated = "customer.updated",
        /// The connected account revoked our access.
        AccountApplicationDeauthorized = "account.application.deauthorized",
    }
}

impl EventType {
    /// The types the churn engine reads (the spec's "11 event types" list
    /// `customer.subscription.updated` twice, so there are ten distinct ones).
    pub const ENGINE_TYPES: [EventType; 10] = [
        EventType::CustomerSubscriptionDeleted,
        EventType::CustomerSubscriptionUpdated,
        EventType::CustomerSubscriptionPaused,
        EventType::CustomerSubscriptionResumed,
        EventType::InvoicePaymentFailed,
        EventType::InvoicePaymentSucceeded,
        EventType::InvoiceFinalized,
        EventType::ChargeDisputeCreated,
        EventType::CustomerCreated,
        EventType::CustomerUpdated,
    ];

    /// Whether the churn engine reads this type.
    pub fn is_engine_type(&self) -> bool {
        Self::ENGINE_TYPES.contains(self)
    }
}

/// The Connect platform application, the object of `account.application.*` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// `ca_…`.
    pub id: String,
    /// The application's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `event.data.object`, typed by its `object` field.
#[derive(Debug, Clone, PartialEq)]
pub enum EventObject {
    /// `"object": "customer"`.
    Customer(Box<Customer>),
    /// `"object": "subscription"`.
    Subscription(Box<Subscription>),
    /// `"object": "invoice"`.
    Invoice(Box<Invoice>),
    /// `"object": "charge"`.
    Charge(Box<Charge>),
    /// `"object": "dispute"`.
    Dispute(Box<Dispute>),
    /// `"object": "application"`.
    Application(Box<Application>),
    /// Any object we do not read, kept as JSON.
    Other(serde_json::Value),
}

impl EventObject {
    /// The `object` field's value for this variant.
    pub fn kind(&self) -> &str {
        match self {
            Self::Customer(_) => "customer",
            Self::Subscription(_) => "subscription",
            Self::Invoice(_) => "invoice",
            Self::Charge(_) => "charge",
            Self::Dispute(_) => "dispute",
            Self::Application(_) => "application",
            Self::Other(v) => v.get("object").and_then(|o| o.as_str()).unwrap_or(""),
        }
    }
}

fn typed<T: DeserializeOwned, E: serde::de::Error>(v: serde_json::Value) -> Result<Box<T>, E> {
    T::deserialize(v).map(Box::new).map_err(E::custom)
}

impl<'de> Deserialize<'de> for EventObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let kind = match value.get("object") {
            Some(serde_json::Value::String(kind)) => kind.as_str(),
            _ => return Err(D::Error::custom("data.object has no \"object\" field")),
        };
        Ok(match kind {
            "customer" => Self::Customer(typed(value)?),
            "subscription" => Self::Subscription(typed(value)?),
            "invoice" => Self::Invoice(typed(value)?),
            "charge" => Self::Charge(typed(value)?),
            "dispute" => Self::Dispute(typed(value)?),
            "application" => Self::Application(typed(value)?),
            _ => Self::Other(value),
        })
    }
}

fn tagged<T: Serialize, E: serde::ser::Error>(kind: &str, obj: &T) -> Result<serde_json::Value, E> {
    let mut v = serde_json::to_value(obj).map_err(E::custom)?;
    if let serde_json::Value::Object(map) = &mut v {
        map.insert(
            "object".to_owned(),
            serde_json::Value::String(kind.to_owned()),
        );
    }
    Ok(v)
}

impl Serialize for EventObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let kind = self.kind();
        let v = match self {
            Self::Customer(o) => tagged(kind, o)?,
            Self::Subscription(o) => tagged(kind, o)?,
            Self::Invoice(o) => tagged(kind, o)?,
            Self::Charge(o) => tagged(kind, o)?,
            Self::Dispute(o) => tagged(kind, o)?,
            Self::Application(o) => tagged(kind, o)?,
            Self::Other(v) => return v.serialize(s),
        };
        v.serialize(s)
    }
}

/// `event.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// The object after the change.
    pub object: EventObject,
    /// For `*.updated` events: the changed fields' previous values, reduced to
    /// the fields our models read (see [`sanitize_previous`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "previous_attributes"
    )]
    pub previous_attributes: Option<serde_json::Value>,
}

fn previous_attributes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    Ok(Option::<serde_json::Value>::deserialize(d)?.map(sanitize_previous))
}

/// Previous values whose scalar value we may keep as sent.
const SCALAR_KEYS: &[&str] = &[
    "status",
    "quantity",
    "cancel_at_period_end",
    "cancel_at",
    "canceled_at",
    "trial_start",
    "trial_end",
    "current_period_start",
    "current_period_end",
    "ended_at",
    "collection_method",
    "email",
    "name",
    "attempt_count",
    "attempted",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "currency",
    "due_date",
    "next_payment_attempt",
    "billing_reason",
    "paid",
    "refunded",
    "amount",
    "amount_refunded",
    "disputed",
    "failure_code",
    "reason",
];

/// Reduces `previous_attributes` to what our models would keep: scalar fields
/// we read as sent, structured fields re-rendered through their typed model
/// (so an old payment method is a presence flag and only our two metadata
/// keys survive), everything else (addresses, phone, payment details) dropped.
/// A field whose shape is unexpected is dropped rather than failing the event.
pub fn sanitize_previous(raw: serde_json::Value) -> serde_json::Value {
    use super::customer::{CustomerMetadata, InvoiceSettings};
    use super::invoice::StatusTransitions;
    use super::subscription::{CancellationDetails, Discount, PauseCollection};
    use serde_json::Value;

    fn through<T: DeserializeOwned + Serialize>(v: Value) -> Option<Value> {
        serde_json::from_value::<T>(v)
            .ok()
            .and_then(|t| serde_json::to_value(t).ok())
    }

    let Value::Object(map) = raw else {
        return Value::Object(serde_json::Map::new());
    };
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        let kept = match key.as_str() {
            "items" => through::<List<SubscriptionItem>>(value),
            "metadata" => through::<CustomerMetadata>(value),
            "invoice_settings" => through::<InvoiceSettings>(value),
            "cancellation_details" => through::<Option<CancellationDetails>>(value),
            "pause_collection" => through::<Option<PauseCollection>>(value),
            "discount" => through::<Option<Discount>>(value),
            "discounts" => through::<Vec<super::common::Expandable<Discount>>>(value),
            "status_transitions" => through::<StatusTransitions>(value),
            "default_payment_method" | "default_source" => Some(Value::Bool(match value {
                Value::Null => false,
                Value::Bool(b) => b,
                Value::String(id) => !id.is_empty(),
                _ => true,
            })),
            k if SCALAR_KEYS.contains(&k) => match value {
                Value::Array(_) | Value::Object(_) => None,
                scalar => Some(scalar),
            },
            _ => None,
        };
        if let Some(v) = kept {
            out.insert(key, v);
        }
    }
    Value::Object(out)
}

/// A Stripe event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_…`: the idempotency key.
    pub id: StripeEventId,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened.
    pub created: Timestamp,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
    /// The connected account it came from (Connect webhooks only).
    #[serde(default)]
    pub account: Option<StripeAccountId>,
    /// The API version the object was rendered with (`null` for some old events).
    #[serde(default)]
    pub api_version: Option<String>,
    /// The object and the previous values.
    pub data: EventData,
}

/// Just enough of an event to learn its object's kind.
#[derive(Deserialize)]
struct KindPeek<'a> {
    #[serde(borrow)]
    data: DataPeek<'a>,
}

#[derive(Deserialize)]
struct DataPeek<'a> {
    #[serde(borrow)]
    object: ObjectPeek<'a>,
}

#[derive(Deserialize)]
struct ObjectPeek<'a> {
    #[serde(borrow, default)]
    object: Option<std::borrow::Cow<'a, str>>,
}

/// An event whose object is known to be a `T`.
#[derive(Deserialize)]
struct Envelope<T> {
    id: StripeEventId,
    #[serde(rename = "type")]
    kind: EventType,
    created: Timestamp,
    #[serde(default)]
    livemode: bool,
    #[serde(default)]
    account: Option<StripeAccountId>,
    #[serde(default)]
    api_version: Option<String>,
    data: TypedData<T>,
}

#[derive(Deserialize)]
struct TypedData<T> {
    object: T,
    #[serde(default, deserialize_with = "previous_attributes")]
    previous_attributes: Option<serde_json::Value>,
}

fn typed_envelope<T: DeserializeOwned>(
    body: &[u8],
    wrap: fn(Box<T>) -> EventObject,
) -> Result<Event, serde_json::Error> {
    let e: Envelope<T> = serde_json::from_slice(body)?;
    Ok(Event {
        id: e.id,
        kind: e.kind,
        created: e.created,
        livemode: e.livemode,
        account: e.account,
        api_version: e.api_version,
        data: EventData {
            object: wrap(Box::new(e.data.object)),
            previous_attributes: e.data.previous_attributes,
        },
    })
}

/// A body that is not a Stripe event we can read.
#[derive(Debug, thiserror::Error)]
#[error("not a readable Stripe event: {0}")]
pub struct EventParseError(#[source] serde_json::Error);

impl EventParseError {
    /// The API error code: a malformed request.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::ERR_BAD_REQUEST
    }
}

impl Event {
    /// Parses a raw event body. Unknown fields and values are accepted.
    ///
    /// Same result as `serde_json::from_slice::<Event>`, but faster: a first
    /// pass reads only `data.object.object`, then the body is parsed straight
    /// into the matching typed object instead of through a JSON `Value`.
    pub fn parse(body: &[u8]) -> Result<Event, EventParseError> {
        let kind = match serde_json::from_slice::<KindPeek<'_>>(body) {
            Ok(peek) => peek.data.object.object,
            Err(_) => None,
        };
        let parsed = match kind.as_deref() {
            Some("customer") => typed_envelope(body, EventObject::Customer),
            Some("subscription") => typed_envelope(body, EventObject::Subscription),
            Some("invoice") => typed_envelope(body, EventObject::Invoice),
            Some("charge") => typed_envelope(body, EventObject::Charge),
            Some("dispute") => typed_envelope(body, EventObject::Dispute),
            Some("application") => typed_envelope(body, EventObject::Application),
            // Other kinds, and bodies the peek cannot read, take the general path
            // (which also words the error).
            _ => serde_json::from_slice(body),
        };
        // Anything the fast path rejects (e.g. a repeated key, which a JSON
        // `Value` tolerates) gets the general path's answer, so both agree.
        parsed
            .or_else(|_| serde_json::from_slice(body))
            .map_err(EventParseError)
    }

    /// A previous value from `data.previous_attributes`, typed: `None` when the
    /// key did not change, `Some(Err)` when its shape is unexpected.
    pub fn previous<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, serde_json::Error>> {
        let v = self.data.previous_attributes.as_ref()?.get(key)?;
        Some(T::deserialize(v))
    }

    /// The subscription items before a `customer.subscription.updated`, when
    /// they changed: the engine compares them to tell upgrade from downgrade.
    pub fn previous_items(&self) -> Option<Result<List<SubscriptionItem>, serde_json::Error>> {
        self.previous("items")
    }
}
