//! The delivery worker. One run:
//!
//! 1. fan-out: each outbox event (written with its score) becomes one
//!    [`Delivery`] per endpoint subscribed to its type, in the profile's `seq`
//!    order, atomically with its removal from the outbox;
//! 2. delivery: for each lane (endpoint, profile) with a due delivery, walk the
//!    lane in `seq` order and send pending deliveries until one fails or is not
//!    due yet — so event n+1 never leaves before event n is delivered or has
//!    failed for good. A failed attempt is retried with exponential backoff and
//!    jitter; after [`Backoff::max_tries`] the delivery is `failed` (replayable).
//!
//! At least once: a delivery is marked delivered only after a 2xx, so a crash
//! between the POST and the write sends it again (receivers deduplicate on the
//! event `id`).

use crate::app::outbound::OutboundError;
use crate::app::outbound::endpoints::secret_context;
use crate::domain::ids::WorkspaceId;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::ports::keys::{KeyError, Sealer};
use crate::ports::outbound::{
    Attempt, Delivery, DeliveryStatus, Endpoint, EndpointId, EndpointStore, Lane, OutboundEvent,
    OutboxStore, Sender, Sent,
};
use crate::ports::store::Committed;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Attempts kept on a delivery (the oldest are dropped beyond this).
pub const ATTEMPTS_KEPT: usize = 20;

/// Lanes delivered concurrently in one run.
const CONCURRENT_LANES: usize = 8;

/// Exponential backoff with jitter between attempts of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure, in seconds.
    pub base_secs: i64,
    /// The longest delay, in seconds.
    pub cap_secs: i64,
    /// Attempts before a delivery is `failed`.
    pub max_tries: u32,
}

impl Default for Backoff {
    /// 30 s doubling to at most an hour, 10 attempts: about 3.5 hours in all.
    fn default() -> Self {
        Self {
            base_secs: 30,
            cap_secs: 3_600,
            max_tries: 10,
        }
    }
}

impl Backoff {
    /// The pause after the `tries`-th failed attempt (1-based): half the
    /// exponential delay plus `jitter` (0..1) of the other half, so lanes that
    /// failed together do not retry together.
    pub fn delay_secs(&self, tries: u32, jitter: f64) -> i64 {
        let exp = self
            .base_secs
            .saturating_mul(1_i64 << tries.saturating_sub(1).min(30));
        let d = exp.min(self.cap_secs).max(1);
        d / 2 + ((d - d / 2) as f64 * jitter.clamp(0.0, 1.0)).round() as i64
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// Outbox events fanned out.
    pub fanned_out: usize,
    /// Deliveries answered 2xx.
    pub delivered: usize,
    /// Attempts that failed (retried later or given up).
    pub failed_attempts: usize,
    /// Deliveries given up (retry budget spent or endpoint deleted).
    pub given_up: usize,
}

/// The worker's dependencies.
pub struct Worker<'a, S, K, H> {
    /// The table.
    pub store: &'a S,
    /// Opens endpoint secrets.
    pub sealer: &'a K,
    /// Sends over HTTP.
    pub sender: &'a H,
    /// Retry pacing.
    pub backoff: Backoff,
    /// Profiles fanned out and lanes delivered per run, at most.
    pub batch: u16,
    /// No attempt starts after this long into a run (what is left waits for the
    /// next run), so a run ends inside its function's timeout.
    pub budget: Duration,
}

impl<S, K, H> Worker<'_, S, K, H>
where
    S: EndpointStore + OutboxStore,
    K: Sealer,
    H: Sender,
{
    /// One run at `now`: fan-out, then delivery.
    pub async fn run(&self, now: Timestamp) -> Result<RunReport, OutboundError> {
        let deadline = Instant::now() + self.budget;
        let mut report = RunReport {
            fanned_out: self.fan_out(now).await?,
            ..RunReport::default()
        };
        let lanes = self.store.due_lanes(now, self.batch).await?;
        // Each workspace's endpoints read once, each endpoint's secret opened once per run
        // (one KMS call per endpoint, not per lane).
        let mut endpoints: HashMap<WorkspaceId, Vec<Endpoint>> = HashMap::new();
        let mut secrets: HashMap<EndpointId, Result<Secret, KeyError>> = HashMap::new();
        for lane in &lanes {
            if !endpoints.contains_key(&lane.workspace) {
                let list = self.store.endpoints(&lane.workspace).await?;
                endpoints.insert(lane.workspace.clone(), list);
            }
            let endpoint = endpoints
                .get(&lane.workspace)
                .and_then(|l| l.iter().find(|e| e.id == lane.endpoint));
            if let Some(e) = endpoint
                && !secrets.contains_key(&e.id)
            {
                let opened = self
                    .sealer
                    .open(&secret_context(&lane.workspace), &e.secret)
                    .await;
                secrets.insert(e.id.clone(), opened);
            }
        }
        let (endpoints, secrets) = (&endpoints, &secrets);
        let results: Vec<Result<RunReport, OutboundError>> = futures::stream::iter(lanes)
            .map(|lane| async move {
                let endpoint = endpoints
                    .get(&lane.workspace)
                    .and_then(|l| l.iter().find(|e| e.id == lane.endpoint));
                let target = match endpoint {
                    None => None,
                    Some(e) => match secrets.get(&e.id) {
                        Some(Ok(secret)) => Some((e, secret)),
                        // The secret cannot be opened: leave the lane for a later run.
                        Some(Err(k)) => return Err(OutboundError::Key(k.clone())),
                        None => return Ok(RunReport::default()),
                    },
                };
                self.deliver_lane(&lane, target, now, deadline).await
            })
            .buffer_unordered(CONCURRENT_LANES)
            .collect()
            .await;
        let mut first_error = None;
        for r in results {
            match r {
                Ok(r) => {
                    report.delivered += r.delivered;
                    report.failed_attempts += r.failed_attempts;
                    report.given_up += r.given_up;
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbound lane failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if report.delivered == 0 && report.failed_attempts == 0 => Err(e),
            _ => Ok(report),
        }
    }

    /// Turns queued outbox events into deliveries, profile by profile in `seq` order.
    async fn fan_out(&self, now: Timestamp) -> Result<usize, OutboundError> {
        let mut done = 0;
        let mut endpoints: HashMap<WorkspaceId, Vec<Endpoint>> = HashMap::new();
        for (ws, profile) in self.store.queued_profiles(self.batch).await? {
            if !endpoints.contains_key(&ws) {
                endpoints.insert(ws.clone(), self.store.endpoints(&ws).await?);
            }
            let subscribed = endpoints.get(&ws).map(Vec::as_slice).unwrap_or_default();
            for event in self.store.outbox(&ws, &profile).await? {
                let deliveries: Vec<Delivery> = subscribed
                    .iter()
                    .filter(|e| e.events.contains(&event.event_type))
                    .map(|e| delivery_of(&event, &e.id, now))
                    .collect();
                match self.store.fan_out(&event, &deliveries).await? {
                    Committed::Done => done += 1,
                    // Another run fanned this profile out first: leave the rest to it.
                    _ => break,
                }
            }
        }
        Ok(done)
    }

    /// Walks one lane in order; stops at the first delivery that stays pending.
    async fn deliver_lane(
        &self,
        lane: &Lane,
        target: Option<(&Endpoint, &Secret)>,
        now: Timestamp,
        deadline: Instant,
    ) -> Result<RunReport, OutboundError> {
        let mut report = RunReport::default();
        for (mut d, version) in self.store.lane(lane).await? {
            if d.status != DeliveryStatus::Pending {
                continue;
            }
            let Some((endpoint, key)) = target else {
                d.status = DeliveryStatus::Failed;
                d.attempts.push(Attempt {
                    at: now,
                    status: None,
                    error: Some("the endpoint was deleted".into()),
                });
                self.save(lane, &d, version).await?;
                report.given_up += 1;
                continue;
            };
            if d.next_at > now || Instant::now() >= deadline {
                break;
            }
            let signature = crate::stripe::signature::sign(d.body.as_bytes(), key, now);
            let sent = self.sender.post(&endpoint.url, &signature, &d.body).await;
            d.tries += 1;
            let ok = record(&mut d, &sent, now, &self.backoff);
            if ok {
                report.delivered += 1;
            } else {
                report.failed_attempts += 1;
                if d.status == DeliveryStatus::Failed {
                    report.given_up += 1;
                }
            }
            if !self.save(lane, &d, version).await? || d.status == DeliveryStatus::Pending {
                break;
            }
        }
        Ok(report)
    }

    /// Saves a delivery; `false` when another run changed it first (stop the lane).
    async fn save(&self, lane: &Lane, d: &Delivery, version: u64) -> Result<bool, OutboundError> {
        Ok(self
            .store
            .save_delivery(&lane.workspace, d, version)
            .await?
            == Committed::Done)
    }
}

/// Records an attempt's outcome on `d`; returns whether it was delivered.
fn record(d: &mut Delivery, sent: &Sent, now: Timestamp, backoff: &Backoff) -> bool {
    let (status, error) = match sent {
        Sent::Answered(s) if (200..300).contains(s) => (Some(*s), None),
        Sent::Answered(s) => (Some(*s), Some(format!("the endpoint answered {s}"))),
        Sent::NoAnswer(e) => (None, Some(e.clone())),
        Sent::Refused(e) => (None, Some(format!("refused: {e}"))),
    };
    let ok = error.is_none();
    d.attempts.push(Attempt {
        at: now,
        status,
        error,
    });
    if d.attempts.len() > ATTEMPTS_KEPT {
        let drop = d.attempts.len() - ATTEMPTS_KEPT;
        d.attempts.drain(..drop);
    }
    if ok {
        d.status = DeliveryStatus::Delivered;
    } else if d.tries >= backoff.max_tries {
        d.status = DeliveryStatus::Failed;
    } else {
        d.next_at = now.plus_secs(backoff.delay_secs(d.tries, fastrand::f64()));
    }
    ok
}

/// The delivery of `event` to `endpoint`, fanned out at `now`. Its id starts
/// with the time, so an endpoint's deliveries list newest first by id.
pub fn delivery_of(event: &OutboundEvent, endpoint: &EndpointId, now: Timestamp) -> Delivery {
    let mut h = Sha256::new();
    h.update(event.id.as_bytes());
    h.update([0]);
    h.update(endpoint.as_str().as_bytes());
    let id = format!(
        "dlv_{:010}{}",
        now.unix().max(0),
        &hex::encode(h.finalize())[..16]
    );
    Delivery {
        id,
        workspace_id: event.workspace_id.clone(),
        endpoint: endpoint.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type,
        profile_id: event.profile_id.clone(),
        seq: event.seq.clone(),
        body: event.body(),
        status: DeliveryStatus::Pending,
        attempts: Vec::new(),
        tries: 0,
        next_at: now,
        created: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_an_hour_with_jitter_in_the_upper_half() {
        let b = Backoff::default();
        assert_eq!(b.delay_secs(1, 0.0), 15);
        assert_eq!(b.delay_secs(1, 1.0), 30);
        assert_eq!(b.delay_secs(2, 1.0), 60);
        assert_eq!(b.delay_secs(3, 1.0), 120);
        assert_eq!(b.delay_secs(8, 1.0), 3_600);
        assert_eq!(b.delay_secs(40, 1.0), 3_600);
        for j in [0.0, 0.3, 0.99] {
            let d = b.delay_secs(4, j);
            assert!((120..=240).contains(&d), "{d}");
        }
    }
}
