//! The one way to turn a webhook request into an [`Event`]: verify the
//! signature over the raw bytes, then parse them.

use super::models::{Event, EventParseError};
use super::signature::{self, SignatureError};
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::StripeAccountId;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;

/// An event whose body passed signature verification (or that was read from
/// Stripe's API with our own credentials). Only this module can build one.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvent {
    event: Event,
    secret_index: Option<usize>,
}

impl VerifiedEvent {
    /// An event retrieved from Stripe's API (`GET /v1/events`) over TLS with our
    /// own credentials, which authenticates it as well as a signature would.
    pub fn from_stripe_api(event: Event) -> Self {
        Self {
            event,
            secret_index: None,
        }
    }

    /// An event delivered by Stripe's Amazon EventBridge event destination: AWS
    /// authenticates the partner event source, and only its rule can invoke the
    /// function that calls this (`crate::events_ingress`).
    pub fn from_partner_event_source(event: Event) -> Self {
        Self {
            event,
            secret_index: None,
        }
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event attributed to `account`: an event delivered to a connection's
    /// own endpoint (restricted key) and verified with that connection's secret
    /// carries no `account`, but belongs to the connection's. `None` when it
    /// names another account.
    pub fn for_account(mut self, account: &StripeAccountId) -> Option<Self> {
        match &self.event.account {
            Some(a) if a != account => None,
            _ => {
                self.event.account = Some(account.clone());
                Some(self)
            }
        }
    }

    /// The event, consuming the wrapper.
    pub fn into_event(self) -> Event {
        self.event
    }

    /// Which of the endpoint secrets matched (index into the slice given to
    /// [`verify_and_parse`]); `None` for events read from the API or EventBridge.
    pub fn secret_index(&self) -> Option<usize> {
        self.secret_index
    }
}

impl std::ops::Deref for VerifiedEvent {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

/// Why a webhook request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The signature did not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The signed body is not a readable event.
    #[error(transparent)]
    Parse(#[from] EventParseError),
}

impl WebhookError {
    /// The API error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Signature(e) => e.code(),
            Self::Parse(e) => e.code(),
        }
    }
}

/// Verifies `header` over the raw `body` with any of `secrets`, then parses it.
pub fn verify_and_parse(
    header: &str,
    body: &[u8],
    secrets: &[Secret],
    now: Timestamp,
    tolerance_secs: u64,
) -> Result<VerifiedEvent, WebhookError> {
    let index = signature::verify_matching(header, body, secrets, now, tolerance_secs)?;
    let event = Event::parse(body)?;
    Ok(VerifiedEvent {
        event,
        secret_index: Some(index),
    })
}
