//! Webhook ingest: a verified event → the connection it belongs to → what the
//! payload lacks (tiers, coupons, a disputed charge's owner: cache, else Stripe) →
//! one atomic commit of the event record, the customer's billing state and the
//! matched profile's new score. Failures after acknowledgement are retried on
//! a schedule and end in the failed-event list, from which they can be replayed.

use crate::app::apply::{Applied, ApplyError, Input, apply};
use crate::app::catalog::{CatalogError, dispute_owner, resolve_catalog};
use crate::app::matching::{MatchingStores, contact_of, match_customer, profile_index};
use crate::app::optimistic::{Round, until_committed};
use crate::domain::connection::{Connection, ConnectionStatus, Mode};
use crate::domain::engine::EngineConfig;
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{PaymentRef, StripeCustomerId, StripeEventId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::ports::catalog::{CatalogSources, CatalogStore};
use crate::ports::connections::ConnectionStore;
use crate::ports::events::{
    EventLog, EventRecord, EventStatus, RECORDED_EVENT_VERSION, Recorded, RecordedEvent,
};
use crate::ports::ingest::IngestStore;
use crate::ports::store::{PageSize, StoreError};
use crate::ports::stripe::StripeError;
use crate::stripe::VerifiedEvent;
use crate::stripe::catalog::{Catalog, event_needs};
use crate::stripe::models::event::{Event, EventObject, EventType};
use crate::stripe::models::{Customer, Dispute};
use crate::stripe::observe::{Observed, dispute_payments, observe_event_with};

/// Delays after the first, second … failed attempt: 1 m, 5 m, 30 m, 2 h, 12 h.
/// After the last one, or 24 h after receipt, the event is marked failed.
pub const RETRY_SCHEDULE_SECS: [i64; 5] = [60, 300, 1_800, 7_200, 43_200];
/// No event is retried later than this after it was received.
pub const RETRY_HORIZON_SECS: i64 = 86_400;

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
    /// Stripe failed in a way that passes (rate limit, outage) while reading what the
    /// payload lacks: nothing was stored, and Stripe's redelivery will find it.
    #[error("Stripe: {0}")]
    Stripe(StripeError),
}

/// Ingests one verified event, reading what its payload lacks through `sources`; a
/// customer event also matches the customer to a profile.
/// `Ok` means: acknowledge with 2xx.
pub async fn ingest<S, C>(
    store: &S,
    sources: &C,
    cfg: &EngineConfig,
    now: Timestamp,
    event: VerifiedEvent,
) -> Result<Ingested, IngestError>
where
    S: ConnectionStore + EventLog + IngestStore + CatalogStore + MatchingStores,
    C: CatalogSources,
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
    // A warm process routes from its route cache; the commit carries the route's
    // guard, and every other decision is made on a route read now.
    let mut fresh = false;
    for _ in 0..ROUTE_ATTEMPTS {
        let Some(routed) = store.route_for_account(account, fresh).await? else {
            return Ok(Ingested::Ignored(Ignored::UnknownAccount));
        };
        let connection = &routed.connection;
        let applies = connection.status == ConnectionStatus::Connected
            && Mode::from_livemode(event.livemode) == connection.mode
            && !is_deauth;
        if !applies && routed.cached {
            fresh = true;
            continue;
        }
        if !applies {
            return refuse(store, connection, &event, now).await;
        }
        let observed = observe(store, sources, connection, &event, now).await?;
        let record = EventRecord {
            workspace_id: connection.workspace_id.clone(),
            event: recorded(&event, observed),
            received_at: now,
            status: EventStatus::Applied { at: now },
            attempts: 0,
            last_error: None,
        };
        let mut input = input(connection, record.clone(), 0, now);
        input.route = Some(routed.guard.clone());
        match apply(store, cfg, now, input).await {
            // A duplicate commits nothing, so no guard vouched for the route it was found under.
            Ok(Applied::Duplicate) if routed.cached => fresh = true,
            Ok(applied) => {
                if let (Applied::Done { .. }, EventObject::Customer(c)) =
                    (&applied, &event.data.object)
                {
                    match_on_event(store, cfg, now, &connection.workspace_id, c).await;
                }
                return Ok(ingested(applied));
            }
            Err(ApplyError::RouteChanged) => fresh = true,
            // Deferring writes the record into the routed workspace: only on a route read now.
            Err(_) if routed.cached => fresh = true,
            Err(e) => return defer(store, record, now, &e).await,
        }
    }
    Err(IngestError::Store(StoreError::Unavailable(format!(
        "the route of {account} kept changing while the event was applied"
    ))))
}

/// Rounds of routing an event before answering 5xx (Stripe redelivers): a route
/// changes between read and commit only during a connect or disconnect.
const ROUTE_ATTEMPTS: usize = 4;

/// Acknowledges an event its (freshly read) route does not apply: not connected,
/// the other mode (flagged on the status), or the grant's revocation.
async fn refuse<S>(
    store: &S,
    connection: &Connection,
    event: &Event,
    now: Timestamp,
) -> Result<Ingested, IngestError>
where
    S: ConnectionStore,
{
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
    // Connected and of its mode, yet not applied: the grant's revocation.
    revoke(store, &connection.workspace_id, now).await?;
    Ok(Ingested::Deauthorized)
}

/// A new or changed customer is matched as it arrives. A failure is logged, not
/// returned: the event is applied, and rematch or the next sync decides again.
async fn match_on_event<S: MatchingStores>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    customer: &Customer,
) {
    let result = async {
        let mut index = profile_index(store, ws).await?;
        match_customer(store, cfg, now, ws, &mut index, contact_of(customer)).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, customer = %customer.id, "matching a customer event failed");
    }
}

/// What `event` tells, with what its payload lacks read from the catalog cache or
/// Stripe: the tiers and coupons its amounts need, the owner of a disputed charge no
/// stored payload named. A Stripe failure that may pass is an error (nothing is stored;
/// Stripe redelivers); one that will not (gone, refused, no credentials) leaves the gap:
/// the amount stays unknown, the dispute is deferred until an owner is known.
async fn observe<S, C>(
    store: &S,
    sources: &C,
    connection: &Connection,
    event: &Event,
    now: Timestamp,
) -> Result<Observed, IngestError>
where
    S: IngestStore + CatalogStore,
    C: CatalogSources,
{
    let account = &connection.account_id;
    let needs = event_needs(event);
    let mut catalog = Catalog::default();
    if !needs.is_empty()
        && let Some(source) = tolerated(sources.for_account(account).await, "credentials")?
    {
        let resolved = match resolve_catalog(store, &source, account, &needs).await {
            Ok(c) => Ok(c),
            Err(CatalogError::Store(e)) => return Err(e.into()),
            Err(CatalogError::Stripe(e)) => Err(e),
        };
        catalog = tolerated(resolved, "catalog")?.unwrap_or_default();
    }
    let mut observed = observe_event_with(event, &catalog);
    if let EventObject::Dispute(dispute) = &event.data.object
        && observed.observations.iter().all(|o| o.customer.is_none())
    {
        route_dispute(store, sources, connection, dispute, now, &mut observed).await?;
    }
    Ok(observed)
}

/// Names the customer of a dispute whose payload does not: the stored owner of its
/// charge or payment intent, else the charge retrieved from Stripe, whose owners are
/// then committed with the dispute (the one owner index is the workspace's).
async fn route_dispute<S, C>(
    store: &S,
    sources: &C,
    connection: &Connection,
    dispute: &Dispute,
    now: Timestamp,
    observed: &mut Observed,
) -> Result<(), IngestError>
where
    S: IngestStore,
    C: CatalogSources,
{
    let mut customer = None;
    for payment in dispute_payments(dispute) {
        customer = store
            .charge_owner(&connection.workspace_id, payment.as_str())
            .await?;
        if customer.is_some() {
            break;
        }
    }
    if customer.is_none()
        && let Some(source) = tolerated(
            sources.for_account(&connection.account_id).await,
            "credentials",
        )?
        && let Some(owners) = tolerated(dispute_owner(&source, dispute, now).await, "charge")?
    {
        let charge = PaymentRef::Charge(dispute.charge.id().clone());
        customer = owners
            .iter()
            .find(|o| o.payment == charge)
            .map(|o| o.customer.clone());
        observed.charge_owners.extend(owners);
    }
    if let Some(customer) = customer {
        for o in &mut observed.observations {
            o.customer.get_or_insert_with(|| customer.clone());
        }
    }
    Ok(())
}

/// A Stripe read's result while filling what a payload lacks: a failure that may pass
/// fails the delivery (Stripe redelivers); any other leaves the gap.
fn tolerated<T>(result: Result<T, StripeError>, what: &str) -> Result<Option<T>, IngestError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.retryable() => Err(IngestError::Stripe(e)),
        Err(e) => {
            tracing::warn!(error = %e, read = what, "Stripe read failed; going on without it");
            Ok(None)
        }
    }
}

/// Our record of a verified event observed from its payload alone: amounts the
/// payload lacks stay unknown (the webhook path fills them first, see [`ingest`]).
pub fn recorded_event(event: &Event) -> RecordedEvent {
    recorded(event, observe_event_with(event, &Catalog::default()))
}

/// Our record of a verified event: its identity and what it was observed to tell.
fn recorded(event: &Event, observed: Observed) -> RecordedEvent {
    RecordedEvent {
        version: RECORDED_EVENT_VERSION,
        id: event.id.clone(),
        kind: event.kind.as_str().to_owned(),
        account: event.account.clone(),
        livemode: event.livemode,
        created: event.created,
        observations: observed.observations,
        charge_owners: observed.charge_owners,
    }
}

/// The pipe's input for a recorded event at `version`, to be committed as applied at `now`.
fn input(connection: &Connection, mut record: EventRecord, version: u64, now: Timestamp) -> Input {
    record.status = EventStatus::Applied { at: now };
    Input {
        workspace: connection.workspace_id.clone(),
        observations: record.event.observations.clone(),
        charge_owners: record.event.charge_owners.clone(),
        reason: record.event.id.as_str().to_owned(),
        feeds_scores: connection.feeds_scores(),
        record: Some((record, version)),
        route: None,
    }
}

fn ingested(applied: Applied) -> Ingested {
    match applied {
        Applied::Done { customer, score } => Ingested::Applied { customer, score },
        Applied::Duplicate => Ingested::Duplicate,
        Applied::NoCustomer => Ingested::Ignored(Ignored::NoCustomer),
    }
}

/// Re-runs recorded events whose retry is due. Returns how many were applied.
pub async fn retry_due<S>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    limit: PageSize,
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
    match apply(
        store,
        cfg,
        now,
        input(&connection, record.clone(), version, now),
    )
    .await
    {
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

async fn flag_connection<S: ConnectionStore>(
    store: &S,
    workspace: &WorkspaceId,
    now: Timestamp,
    code: ErrorCode,
    message: impl Fn(&Connection) -> String,
) -> Result<(), StoreError> {
    let message = &message;
    until_committed(|| async {
        let Some((mut conn, version)) = store.connection(workspace).await? else {
            return Ok(Round::Done(()));
        };
        // One write per error state, not per event.
        if conn.error.as_ref().is_some_and(|e| e.code == code) {
            return Ok(Round::Done(()));
        }
        let text = message(&conn);
        conn.set_error(code, text, now);
        saved(store.save_connection(&conn, version).await)
    })
    .await
    .map(|_| ())
}

async fn revoke<S: ConnectionStore>(
    store: &S,
    workspace: &WorkspaceId,
    now: Timestamp,
) -> Result<(), StoreError> {
    until_committed(|| async {
        let Some((mut conn, version)) = store.connection(workspace).await? else {
            return Ok(Round::Done(()));
        };
        conn.status = ConnectionStatus::Revoked;
        conn.set_error(
            ErrorCode::ERR_ST_401,
            "the Stripe account revoked Kustiq's access (account.application.deauthorized); reconnect to resume",
            now,
        );
        saved(store.save_connection(&conn, version).await)
    })
    .await
    .map(|_| ())
}

/// A conditional connection write as an optimistic round.
fn saved<T>(result: Result<T, StoreError>) -> Result<Round<()>, StoreError> {
    match result {
        Ok(_) => Ok(Round::Done(())),
        Err(StoreError::Conflict) | Err(StoreError::TransactionCancelled { .. }) => {
            Ok(Round::Raced)
        }
        Err(e) => Err(e),
    }
}
