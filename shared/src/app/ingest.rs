//! Webhook ingest: a verified event → the connection it belongs to → one
//! atomic commit of the event record, the customer's billing state and the
//! matched profile's new score. Failures after acknowledgement are retried on
//! a schedule and end in the failed-event list, from which they can be replayed.

use crate::app::score::score_profile;
use crate::domain::billing_state::{Fact, Observation};
use crate::domain::connection::{Connection, ConnectionStatus, Mode};
use crate::domain::engine::EngineConfig;
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{StripeCustomerId, StripeEventId, WorkspaceId};
use crate::stripe::observe::observe_event;
use crate::domain::time::Timestamp;
use crate::ports::connections::ConnectionStore;
use crate::ports::events::{EventLog, EventRecord, EventStatus, Recorded};
use crate::ports::ingest::{Commit, Committed, IngestStore};
use crate::ports::store::StoreError;
use crate::stripe::VerifiedEvent;
use crate::stripe::models::event::{EventObject, EventType};

/// Delays after the first, second … failed attempt: 1 m, 5 m, 30 m, 2 h, 12 h.
/// After the last one, or 24 h after receipt, the event is marked failed.
pub const RETRY_SCHEDULE_SECS: [i64; 5] = [60, 300, 1_800, 7_200, 43_200];
/// No event is retried later than this after it was received.
pub const RETRY_HORIZON_SECS: i64 = 86_400;
/// Optimistic-concurrency rounds before an apply counts as failed.
const MAX_RACES: usize = 8;

/// Why an event was acknowledged without being applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not one of the types the engine reads.
    EventType(String),
    /// No connection in this region for the event's account (another
    /// region's, disconnected, or never connected); nothing stored.
    UnknownAccount,
    /// The connection no longer feeds scores.
    NotConnected,
    /// The event names no customer.
    NoCustomer,
}

/// What happened to an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Applied: billing state saved and the matched profile (if any) rescored.
    Applied {
        /// The customer.
        customer: StripeCustomerId,
        /// The matched profile's new score, if matched.
        score: Option<f64>,
    },
    /// Already recorded: acknowledged, nothing changed.
    Duplicate,
    /// Acknowledged and ignored.
    Ignored(Ignored),
    /// `livemode` differs from the connection's mode: the status shows ERR_MODE_MISMATCH.
    ModeMismatch,
    /// The grant was revoked: the connection shows ERR_ST_401.
    Deauthorized,
    /// Recorded durably but not applied yet; a retry is due then.
    Deferred {
        /// When the next attempt is due.
        next_attempt_at: Timestamp,
    },
}

/// Ingest could not record the event durably: answer 5xx so Stripe retries.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Why one apply attempt did not commit.
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the dispute's charge {0} is not known yet")]
    UnknownCharge(String),
    #[error("billing state kept changing concurrently")]
    Contended,
}

/// Ingests one verified event. `Ok` means: acknowledge with 2xx.
pub async fn ingest<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    event: VerifiedEvent,
) -> Result<Ingested, IngestError>
where
    S: ConnectionStore + EventLog + IngestStore,
{
    let event = event.into_event();
    let is_deauth = event.kind == EventType::AccountApplicationDeauthorized;
    if !event.kind.is_engine_type() && !is_deauth {
        return Ok(Ingested::Ignored(Ignored::EventType(
            event.kind.to_string(),
        )));
    }
    let Some(account) = &event.account else {
        return Ok(Ingested::Ignored(Ignored::UnknownAccount));
    };
    let Some(connection) = store.connection_for_account(account).await? else {
        return Ok(Ingested::Ignored(Ignored::UnknownAccount));
    };
    if connection.status != ConnectionStatus::Connected {
        return Ok(Ingested::Ignored(Ignored::NotConnected));
    }
    if Mode::from_livemode(event.livemode) != connection.mode {
        flag_connection(
            store,
            &connection.workspace_id,
            now,
            ErrorCode::ERR_MODE_MISMATCH,
            |_| {
                format!(
                    "a {} event ({}) arrived for a {} connection; it was ignored",
                    if event.livemode { "live" } else { "test" },
                    event.id,
                    if connection.mode == Mode::Live {
                        "live"
                    } else {
                        "test"
                    }
                )
            },
        )
        .await?;
        return Ok(Ingested::ModeMismatch);
    }
    if is_deauth {
        revoke(store, &connection.workspace_id, now).await?;
        return Ok(Ingested::Deauthorized);
    }
    let record = EventRecord {
        workspace_id: connection.workspace_id.clone(),
        event,
        received_at: now,
        status: EventStatus::Applied { at: now },
        attempts: 0,
        last_error: None,
    };
    match apply(store, cfg, &connection, now, record.clone(), 0).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => defer(store, record, now, &e).await,
    }
}

/// Re-runs recorded events whose retry is due. Returns how many were applied.
pub async fn retry_due<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    limit: i32,
) -> Result<usize, StoreError>
where
    S: ConnectionStore + EventLog + IngestStore,
{
    let mut applied = 0;
    for (record, version) in store.due(now, limit).await? {
        if rerun(store, cfg, now, record, version).await? {
            applied += 1;
        }
    }
    Ok(applied)
}

/// Outcome of replaying one failed event.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    /// Applied now.
    Applied,
    /// Failed again; the error is kept on the record.
    FailedAgain(String),
    /// No such event in this workspace.
    NotFound,
    /// The event was already applied.
    AlreadyApplied,
}

/// Replays one recorded event on request (the failed-events route).
pub async fn replay<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    workspace: &WorkspaceId,
    id: &StripeEventId,
) -> Result<Replayed, StoreError>
where
    S: ConnectionStore + EventLog + IngestStore,
{
    let Some((record, version)) = store.event(workspace, id).await? else {
        return Ok(Replayed::NotFound);
    };
    if matches!(record.status, EventStatus::Applied { .. }) {
        return Ok(Replayed::AlreadyApplied);
    }
    if rerun(store, cfg, now, record, version).await? {
        return Ok(Replayed::Applied);
    }
    let err = store
        .event(workspace, id)
        .await?
        .and_then(|(r, _)| r.last_error)
        .unwrap_or_else(|| "unknown error".to_owned());
    Ok(Replayed::FailedAgain(err))
}

/// One more attempt at a recorded event; reschedules or fails it on error.
async fn rerun<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    mut record: EventRecord,
    version: u64,
) -> Result<bool, StoreError>
where
    S: ConnectionStore + EventLog + IngestStore,
{
    let connection = match &record.event.account {
        Some(a) => store.connection_for_account(a).await?,
        None => None,
    };
    let Some(connection) = connection.filter(|c| c.workspace_id == record.workspace_id) else {
        record.status = EventStatus::Skipped {
            reason: "the connection is gone".into(),
        };
        store.update(&record, version).await?;
        return Ok(false);
    };
    let mut applied = record.clone();
    applied.status = EventStatus::Applied { at: now };
    match apply(store, cfg, &connection, now, applied, version).await {
        Ok(_) => Ok(true),
        Err(e) => {
            record.attempts += 1;
            record.last_error = Some(e.to_string());
            record.status = next_status(&record, now);
            store.update(&record, version).await?;
            Ok(false)
        }
    }
}

fn next_status(record: &EventRecord, now: Timestamp) -> EventStatus {
    let idx = record.attempts.saturating_sub(1) as usize;
    match RETRY_SCHEDULE_SECS.get(idx) {
        Some(delay)
            if now.plus_secs(*delay).secs_since(record.received_at) <= RETRY_HORIZON_SECS =>
        {
            EventStatus::Retrying {
                next_attempt_at: now.plus_secs(*delay),
            }
        }
        _ => EventStatus::Failed,
    }
}

/// The first apply failed after the event was verified: record it durably as
/// retrying and acknowledge; if even that fails, the caller answers 5xx.
async fn defer<S: EventLog>(
    store: &S,
    mut record: EventRecord,
    now: Timestamp,
    err: &ApplyError,
) -> Result<Ingested, IngestError> {
    tracing::warn!(event_id = %record.event.id, error = %err, "apply failed; deferring");
    record.attempts = 1;
    record.last_error = Some(err.to_string());
    record.status = next_status(&record, now);
    let next_attempt_at = match record.status {
        EventStatus::Retrying { next_attempt_at } => next_attempt_at,
        _ => now,
    };
    match store.record(&record).await? {
        Recorded::New => Ok(Ingested::Deferred { next_attempt_at }),
        Recorded::Duplicate => Ok(Ingested::Duplicate),
    }
}

/// The customer an event's observations belong to.
async fn customer_of<S: IngestStore>(
    store: &S,
    workspace: &WorkspaceId,
    observations: &[Observation],
    object: &EventObject,
) -> Result<Option<StripeCustomerId>, ApplyError> {
    if let Some(c) = observations.iter().find_map(|o| o.customer.clone()) {
        return Ok(Some(c));
    }
    if let EventObject::Dispute(d) = object {
        let charge = d.charge.id().as_str().to_owned();
        return match store.charge_owner(workspace, &charge).await? {
            Some(c) => Ok(Some(c)),
            None => Err(ApplyError::UnknownCharge(charge)),
        };
    }
    Ok(None)
}

/// Applies `record`'s event and commits it with status Applied. `event_version`
/// is 0 for an event not recorded yet.
async fn apply<S>(
    store: &S,
    cfg: &EngineConfig,
    connection: &Connection,
    now: Timestamp,
    record: EventRecord,
    event_version: u64,
) -> Result<Ingested, ApplyError>
where
    S: IngestStore,
{
    let ws = &connection.workspace_id;
    let mut observations = observe_event(&record.event);
    let Some(customer) = customer_of(store, ws, &observations, &record.event.data.object).await?
    else {
        return Ok(Ingested::Ignored(Ignored::NoCustomer));
    };
    for o in &mut observations {
        o.customer.get_or_insert_with(|| customer.clone());
    }
    let mut charges: Vec<String> = observations
        .iter()
        .filter_map(|o| match &o.fact {
            Fact::Charge(c) => Some(c.id.to_string()),
            _ => None,
        })
        .collect();
    if let EventObject::Invoice(inv) = &record.event.data.object {
        charges.extend(inv.charge.as_ref().map(|c| c.id().as_str().to_owned()));
    }
    // A failed charge may be both an observed record and the invoice's `charge`: one item each.
    charges.sort();
    charges.dedup();
    for _ in 0..MAX_RACES {
        let snap = store.snapshot(ws, &record.event.id, &customer).await?;
        if event_version == 0 && snap.recorded.is_some() {
            return Ok(Ingested::Duplicate);
        }
        let (mut billing, billing_version) = snap.billing;
        for o in &observations {
            billing.apply(o);
        }
        let score = snap.profile.as_ref().map(|p| {
            let s = score_profile(
                p,
                Some(&billing),
                connection.feeds_scores(),
                now,
                cfg,
                record.event.id.as_str(),
            );
            (s, snap.score_version)
        });
        let score_value = score.as_ref().map(|(s, _)| s.score.score);
        let commit = Commit {
            event: record.clone(),
            event_version,
            customer: customer.clone(),
            billing,
            billing_version,
            charges: charges.clone(),
            score,
        };
        match store.commit(&commit).await? {
            Committed::Done => {
                crate::telemetry::count("EventsApplied", ("Type", record.event.kind.as_str()), 1);
                return Ok(Ingested::Applied {
                    customer,
                    score: score_value,
                });
            }
            Committed::Duplicate => return Ok(Ingested::Duplicate),
            Committed::Raced => continue,
        }
    }
    Err(ApplyError::Contended)
}

async fn flag_connection<S: ConnectionStore>(
    store: &S,
    workspace: &WorkspaceId,
    now: Timestamp,
    code: ErrorCode,
    message: impl Fn(&Connection) -> String,
) -> Result<(), StoreError> {
    for _ in 0..MAX_RACES {
        let Some((mut conn, version)) = store.connection(workspace).await? else {
            return Ok(());
        };
        // One write per error state, not per event.
        if conn.error.as_ref().is_some_and(|e| e.code == code) {
            return Ok(());
        }
        let text = message(&conn);
        conn.set_error(code, text, now);
        match store.save_connection(&conn, version).await {
            Err(StoreError::Conflict) | Err(StoreError::TransactionCancelled { .. }) => continue,
            other => return other.map(|_| ()),
        }
    }
    Ok(())
}

async fn revoke<S: ConnectionStore>(
    store: &S,
    workspace: &WorkspaceId,
    now: Timestamp,
) -> Result<(), StoreError> {
    for _ in 0..MAX_RACES {
        let Some((mut conn, version)) = store.connection(workspace).await? else {
            return Ok(());
        };
        conn.status = ConnectionStatus::Revoked;
        conn.set_error(
            ErrorCode::ERR_ST_401,
            "the Stripe account revoked Kustiq's access (account.application.deauthorized); reconnect to resume",
            now,
        );
        match store.save_connection(&conn, version).await {
            Err(StoreError::Conflict) | Err(StoreError::TransactionCancelled { .. }) => continue,
            other => return other.map(|_| ()),
        }
    }
    Ok(())
}
