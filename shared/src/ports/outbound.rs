//! Outbound churn events: the endpoints a workspace registers, the outbox the
//! score transaction writes, the per-endpoint deliveries, and the HTTP sender.
//!
//! Flow (see `docs/architecture.md`): score change → [`OutboundEvent`] written in
//! the same transaction as the score → fan-out to one [`Delivery`] per subscribed
//! endpoint → signed POST, retried with backoff, in order per (endpoint, profile).

use crate::domain::ids::{IdError, ProfileId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::ports::keys::SealedBlob;
use crate::ports::store::{Committed, StoreError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;

/// The kinds of outbound churn events (contract names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// The profile's score reached the at-risk threshold.
    #[serde(rename = "profile.entered_at_risk")]
    EnteredAtRisk,
    /// The profile's score fell below the at-risk threshold.
    #[serde(rename = "profile.left_at_risk")]
    LeftAtRisk,
    /// Trial → customer → churned (or back).
    #[serde(rename = "profile.lifecycle_changed")]
    LifecycleChanged,
    /// A renewal falls within the notice window (once per renewal).
    #[serde(rename = "profile.renewal_due")]
    RenewalDue,
    /// A new failed payment.
    #[serde(rename = "profile.payment_failed")]
    PaymentFailed,
}

impl EventType {
    /// Every type, in contract order.
    pub const ALL: [EventType; 5] = [
        Self::EnteredAtRisk,
        Self::LeftAtRisk,
        Self::LifecycleChanged,
        Self::RenewalDue,
        Self::PaymentFailed,
    ];

    /// The contract name, `profile.…`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EnteredAtRisk => "profile.entered_at_risk",
            Self::LeftAtRisk => "profile.left_at_risk",
            Self::LifecycleChanged => "profile.lifecycle_changed",
            Self::RenewalDue => "profile.renewal_due",
            Self::PaymentFailed => "profile.payment_failed",
        }
    }

    /// Parses a contract name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// A registered endpoint's id, `we_` and 24 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndpointId(String);

impl EndpointId {
    /// Parses `we_` + 24 lowercase hex digits.
    pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
        let raw = raw.into();
        let ok = raw.strip_prefix("we_").is_some_and(|h| {
            h.len() == 24 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if ok {
            Ok(Self(raw))
        } else {
            Err(IdError {
                kind: "webhook endpoint id",
                reason: "expected `we_` and 24 lowercase hex digits",
            })
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EndpointId {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(raw)
    }
}

impl From<EndpointId> for String {
    fn from(id: EndpointId) -> String {
        id.0
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered endpoint. The signing secret is kept only sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// Where events are POSTed (checked against the target policy).
    pub url: String,
    /// The event types it receives.
    pub events: Vec<EventType>,
    /// The signing secret, sealed for purpose `outbound_signing_secret`.
    pub secret: SealedBlob,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// One derived churn event, as the score transaction writes it to the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEvent {
    /// `kev_…`, stable across retries (receivers deduplicate on it).
    pub id: String,
    /// Its type.
    pub event_type: EventType,
    /// When the score change that caused it was computed.
    pub created: Timestamp,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The profile.
    pub profile_id: ProfileId,
    /// Order within the profile: zero-padded, increasing with every score commit.
    pub seq: String,
    /// The contract's `data` object.
    pub data: serde_json::Value,
}

impl OutboundEvent {
    /// The exact body POSTed: `{"id","type","created","workspace_id","data"}`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "type": self.event_type.as_str(),
            "created": self.created.unix(),
            "workspace_id": self.workspace_id,
            "data": self.data,
        })
        .to_string()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed (or the endpoint was deleted): given up, replayable.
    Failed,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it was made.
    pub at: Timestamp,
    /// The endpoint's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed (our words, never the endpoint's body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One event to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_…`: sorts by creation time.
    pub id: String,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// The profile (deliveries of one profile to one endpoint go in `seq` order).
    pub profile_id: ProfileId,
    /// The event's order within the profile.
    pub seq: String,
    /// The exact body signed and sent.
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far, oldest first (the most recent ones are kept).
    pub attempts: Vec<Attempt>,
    /// Attempts since it was (re)queued: what the retry budget counts.
    #[serde(default)]
    pub tries: u32,
    /// When the next attempt is due (meaningful while pending).
    pub next_at: Timestamp,
    /// When it was fanned out.
    pub created: Timestamp,
}

/// Where the delivery worker finds work: one (endpoint, profile) lane of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lane {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The profile.
    pub profile: ProfileId,
}

/// Registered endpoints of a workspace.
///
/// Contract: reads of missing items are `Ok(None)`/empty; `delete_endpoint`
/// returns whether something was deleted; every call is scoped to `workspace`.
pub trait EndpointStore: Send + Sync {
    /// Stores a new endpoint (its id must be new).
    fn put_endpoint(
        &self,
        workspace: &WorkspaceId,
        endpoint: &Endpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every endpoint of the workspace, oldest first.
    fn endpoints(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Vec<Endpoint>, StoreError>> + Send;

    /// Deletes an endpoint; `false` when there was none.
    fn delete_endpoint(
        &self,
        workspace: &WorkspaceId,
        id: &EndpointId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The outbox and the deliveries.
///
/// Contract: `fan_out` removes the event from the outbox and writes its
/// deliveries atomically (`Committed::Raced` if another worker did it first);
/// `save_delivery` writes only if the stored version is still `expected`
/// (`Committed::Raced` otherwise); queue reads may lag (index), lane reads do not.
pub trait OutboxStore: Send + Sync {
    /// Profiles with events waiting for fan-out, at most `limit`.
    fn queued_profiles(
        &self,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<(WorkspaceId, ProfileId)>, StoreError>> + Send;

    /// A profile's outbox events, in `seq` order.
    fn outbox(
        &self,
        workspace: &WorkspaceId,
        profile: &ProfileId,
    ) -> impl Future<Output = Result<Vec<OutboundEvent>, StoreError>> + Send;

    /// Replaces `event` in the outbox with `deliveries`, all or nothing.
    fn fan_out(
        &self,
        event: &OutboundEvent,
        deliveries: &[Delivery],
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Lanes with a pending delivery due at `now`, at most `limit`.
    fn due_lanes(
        &self,
        now: Timestamp,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<Lane>, StoreError>> + Send;

    /// A lane's deliveries with their versions, in `seq` order.
    fn lane(
        &self,
        lane: &Lane,
    ) -> impl Future<Output = Result<Vec<(Delivery, u64)>, StoreError>> + Send;

    /// Writes a delivery's new state if its version is still `expected`.
    fn save_delivery(
        &self,
        workspace: &WorkspaceId,
        delivery: &Delivery,
        expected: u64,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// An endpoint's deliveries, newest first, at most `limit`.
    fn deliveries(
        &self,
        workspace: &WorkspaceId,
        endpoint: &EndpointId,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// One delivery of an endpoint, with its version.
    fn delivery(
        &self,
        workspace: &WorkspaceId,
        endpoint: &EndpointId,
        id: &str,
    ) -> impl Future<Output = Result<Option<(Delivery, u64)>, StoreError>> + Send;
}

/// Why a target URL is refused (registration or delivery).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute http(s) URL we accept (scheme, credentials, length…).
    #[error("{0}")]
    Invalid(String),
    /// The host does not resolve.
    #[error("the endpoint's host does not resolve")]
    Unresolvable,
    /// The host is or resolves to an address we never call (private,
    /// loopback, link-local, metadata …).
    #[error("the endpoint's host is or resolves to a non-public address")]
    Forbidden,
}

/// How a POST ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The endpoint answered with this status.
    Answered(u16),
    /// No answer: connection refused, timeout, TLS … (our words).
    NoAnswer(String),
    /// The target was refused before connecting (SSRF guard, DNS rebinding).
    Refused(TargetError),
}

/// Sends signed events over HTTP.
///
/// Contract: `check` resolves the URL's host and refuses targets the policy
/// forbids; `post` checks again at connect time (so a host that re-resolves to
/// a forbidden address is refused), follows no redirect, reads at most a few KiB
/// of the answer and never fails: every outcome is a [`Sent`].
pub trait Sender: Send + Sync {
    /// Whether `url` may be called.
    fn check(&self, url: &str) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// POSTs `body` as JSON with the `Kustiq-Signature` header `signature`.
    fn post(&self, url: &str, signature: &str, body: &str) -> impl Future<Output = Sent> + Send;
}
