//! The second ingress: Stripe's Amazon EventBridge event destination.
//!
//! Stripe puts each event on a partner event source (`aws.partner/stripe.com/…`) in
//! our AWS account; a rule on that partner event bus invokes the `kustiq-events`
//! function with EventBridge's envelope, whose `detail` is the Stripe event. There is
//! no signature to check: only Stripe can put events on its partner source, and only
//! that rule may invoke the function (it has no HTTP route). The event then enters the
//! same pipe as a verified webhook ([`ingest`]): the same account routing, mode
//! checks and idempotency on the Stripe event id, so both ingresses may deliver the
//! same event, even at once, and it is applied once.

use crate::adapters::runtime::ConfigError;
use crate::app::ingest::{IngestError, Ingested, ingest};
use crate::domain::engine::EngineConfig;
use crate::domain::time::Timestamp;
use crate::http::webhook::outcome_label;
use crate::ports::catalog::{CatalogSources, CatalogStore};
use crate::ports::connections::ConnectionStore;
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use crate::stripe::VerifiedEvent;
use crate::stripe::models::{Event, EventParseError};
use crate::telemetry::count;
use lambda_http::lambda_runtime::Diagnostic;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

/// Every Stripe partner event source is named `aws.partner/stripe.com/<id>`.
pub const STRIPE_PARTNER_PREFIX: &str = "aws.partner/stripe.com/";

/// The partner event source this deployment accepts events from
/// (`KUSTIQ_STRIPE_EVENT_SOURCE`, the template's `StripeEventSourceName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceName(String);

impl EventSourceName {
    /// Accepts only a Stripe partner event source name (`aws.partner/stripe.com/<id>`).
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        match name.strip_prefix(STRIPE_PARTNER_PREFIX) {
            Some(id) if !id.is_empty() && !id.contains(char::is_whitespace) => {
                Ok(Self(name.to_owned()))
            }
            _ => Err(ConfigError::Invalid {
                name: "KUSTIQ_STRIPE_EVENT_SOURCE",
                reason: format!(
                    "{name:?} is not a Stripe partner event source ({STRIPE_PARTNER_PREFIX}<id>)"
                ),
            }),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fields of EventBridge's envelope this ingress reads; the rest are ignored.
#[derive(Debug, Deserialize)]
struct Envelope {
    /// EventBridge's id for this delivery (not the Stripe event id).
    id: String,
    /// The partner event source.
    source: String,
    /// The Stripe event.
    detail: Value,
}

/// Why an EventBridge delivery was not ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// The payload is not an EventBridge envelope with a `detail`.
    #[error("not an EventBridge event: {0}")]
    Envelope(#[source] serde_json::Error),
    /// The envelope comes from another source than the configured partner source.
    #[error("event source {0:?} is not this deployment's Stripe partner event source")]
    Source(String),
    /// `detail` is not a Stripe event we can read.
    #[error(transparent)]
    NotAnEvent(#[from] EventParseError),
    /// The pipe could not record the event durably.
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl IngressError {
    /// Whether delivering the same envelope again may succeed: a store or Stripe
    /// outage may pass; a malformed or foreign envelope never will.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Envelope(_) | Self::Source(_) | Self::NotAnEvent(_) => false,
            Self::Ingest(IngestError::Store(e)) => e.retryable(),
            Self::Ingest(IngestError::Stripe(e)) => e.retryable(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Envelope(_) => "Envelope",
            Self::Source(_) => "Source",
            Self::NotAnEvent(_) => "NotAnEvent",
            Self::Ingest(IngestError::Store(_)) => "Store",
            Self::Ingest(IngestError::Stripe(_)) => "Stripe",
        }
    }
}

/// `errorType` is `Retryable.<Kind>` or `NotRetryable.<Kind>`, like the scheduled
/// functions' (`crate::scheduled`): Lambda retries the async invocation either way,
/// then the on-failure destination keeps the envelope for a replay.
impl From<IngressError> for Diagnostic {
    fn from(e: IngressError) -> Self {
        let prefix = if e.retryable() {
            "Retryable"
        } else {
            "NotRetryable"
        };
        count("EventBridgeRejected", ("Reason", e.kind()), 1);
        tracing::error!(error = %e, retryable = e.retryable(), "EventBridge delivery failed");
        Diagnostic {
            error_type: format!("{prefix}.{}", e.kind()),
            error_message: e.to_string(),
        }
    }
}

/// The events function's handler and what it needs: the table, the Stripe reads
/// that fill what a payload lacks, the engine's numbers, the accepted source.
pub struct StripeEvents<S, C> {
    /// The table.
    pub store: S,
    /// Catalog reads per connected account (tiers, coupons, a disputed charge's owner).
    pub sources: C,
    /// The churn engine's numbers.
    pub engine: EngineConfig,
    /// The partner event source accepted.
    pub source: EventSourceName,
}

impl<S, C> StripeEvents<S, C>
where
    S: ConnectionStore
        + EventLog
        + IngestStore
        + CatalogStore
        + crate::app::matching::MatchingStores,
    C: CatalogSources,
{
    /// Ingests one EventBridge delivery at `now`. `Ok` carries the outcome label
    /// (`applied`, `duplicate`, `unknown_account` … as the webhook answers).
    pub async fn receive(&self, payload: Value, now: Timestamp) -> Result<Value, IngressError> {
        let envelope: Envelope = serde_json::from_value(payload).map_err(IngressError::Envelope)?;
        if envelope.source != self.source.as_str() {
            return Err(IngressError::Source(envelope.source));
        }
        let body = serde_json::to_vec(&envelope.detail).map_err(IngressError::Envelope)?;
        let event = Event::parse(&body)?;
        let span = tracing::info_span!(
            "eventbridge",
            delivery_id = %envelope.id,
            event_id = %event.id,
            stripe_account = event.account.as_ref().map(|a| a.as_str()).unwrap_or("-"),
            event_type = %event.kind,
        );
        let event_id = event.id.as_str().to_owned();
        let outcome: Ingested = ingest(
            &self.store,
            &self.sources,
            &self.engine,
            now,
            VerifiedEvent::from_partner_event_source(event),
        )
        .instrument(span)
        .await?;
        let label = outcome_label(&outcome);
        count("EventBridgeAccepted", ("Outcome", label), 1);
        Ok(json!({"received": true, "event_id": event_id, "outcome": label}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::StoreError;

    #[test]
    fn only_a_stripe_partner_event_source_is_accepted_as_configuration() {
        assert!(EventSourceName::parse("aws.partner/stripe.com/ed_61Sx1").is_ok());
        for bad in [
            "",
            "aws.partner/stripe.com/",
            "aws.partner/example.com/ed_1",
            "stripe.com/ed_1",
            "aws.partner/stripe.com/ed 1",
        ] {
            assert!(EventSourceName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn diagnostics_say_whether_redelivery_can_help() {
        let d: Diagnostic = IngressError::Source("aws.partner/other".into()).into();
        assert_eq!(d.error_type, "NotRetryable.Source");
        let d: Diagnostic =
            IngressError::Ingest(IngestError::Store(StoreError::Unavailable("5xx".into()))).into();
        assert_eq!(d.error_type, "Retryable.Store");
        let d: Diagnostic =
            IngressError::Ingest(IngestError::Store(StoreError::Corrupt("bad".into()))).into();
        assert_eq!(d.error_type, "NotRetryable.Store");
    }
}
