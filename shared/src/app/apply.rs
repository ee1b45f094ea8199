//! The one apply pipe: `observations + snapshot → commit`. Webhooks, replay,
//! the retry sweep, backfill, nightly reconciliation and rematch all enter
//! here; the event record is optional (backfilled objects have none).

use crate::app::optimistic::{Round, until_committed};
use crate::app::outbound::derive::derive;
use crate::app::score::score_profile;
use crate::domain::billing_state::{Fact, Observation};
use crate::domain::engine::EngineConfig;
use crate::domain::ids::{StripeCustomerId, WorkspaceId};
use crate::domain::payments::ChargeOwner;
use crate::domain::profile_history::advance;
use crate::domain::time::Timestamp;
use crate::ports::connections::RouteGuard;
use crate::ports::events::EventRecord;
use crate::ports::ingest::{Commit, Committed, IngestStore};
use crate::ports::store::StoreError;

/// What enters the pipe: one event's or one object's observations for one workspace.
#[derive(Debug, Clone)]
pub struct Input {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// What was observed.
    pub observations: Vec<Observation>,
    /// Charge and payment-intent owners the input named.
    pub charge_owners: Vec<ChargeOwner>,
    /// The event record to commit (status Applied) and its stored version
    /// (0: not recorded yet); `None` for backfilled or synced objects.
    pub record: Option<(EventRecord, u64)>,
    /// Whether the connection feeds scores (the billing family).
    pub feeds_scores: bool,
    /// Why the score changed, for the history (`evt_…`, `backfill`, …).
    pub reason: String,
    /// The account route a webhook was routed by (see [`RouteGuard`]); `None` for
    /// work whose workspace is not in doubt (backfill, sync, replay by workspace).
    pub route: Option<RouteGuard>,
}

/// How a pass through the pipe ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Committed: the customer's state and the matched profile's score (if any).
    Done {
        /// The customer.
        customer: StripeCustomerId,
        /// The matched profile's new score.
        score: Option<f64>,
    },
    /// A new event's record already existed: nothing written.
    Duplicate,
    /// The observations name no customer (and no known charge): nothing written.
    NoCustomer,
}

/// Why the pipe could not commit.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A dispute names a charge whose customer is not known yet.
    #[error("the dispute's charge {0} is not known yet")]
    UnknownCharge(String),
    /// Every optimistic round raced with another writer.
    #[error("billing state kept changing concurrently")]
    Contended,
    /// The account's route changed since the event was routed by it: nothing
    /// written; route the event again.
    #[error("the Stripe account's route changed")]
    RouteChanged,
}

/// The customer observations belong to: named on an observation, or learned
/// from the owner of a disputed charge.
async fn customer_of<S: IngestStore>(
    store: &S,
    workspace: &WorkspaceId,
    observations: &[Observation],
) -> Result<Option<StripeCustomerId>, ApplyError> {
    if let Some(c) = observations.iter().find_map(|o| o.customer.clone()) {
        return Ok(Some(c));
    }
    let disputed = observations.iter().find_map(|o| match &o.fact {
        Fact::Dispute(d) => d.charge.as_ref(),
        _ => None,
    });
    match disputed {
        Some(charge) => match store.charge_owner(workspace, charge.as_str()).await? {
            Some(c) => Ok(Some(c)),
            None => Err(ApplyError::UnknownCharge(charge.as_str().to_owned())),
        },
        None => Ok(None),
    }
}

/// Applies `input`: reads the customer's state, folds the observations in,
/// rescores the matched profile, commits everything in one transaction;
/// retries on races through the one optimistic loop.
pub async fn apply<S: IngestStore>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    mut input: Input,
) -> Result<Applied, ApplyError> {
    let ws = input.workspace.clone();
    let Some(customer) = customer_of(store, &ws, &input.observations).await? else {
        return Ok(Applied::NoCustomer);
    };
    for o in &mut input.observations {
        o.customer.get_or_insert_with(|| customer.clone());
    }
    let input = &input;
    let customer = &customer;
    let outcome = until_committed(|| async {
        let event_id = input.record.as_ref().map(|(r, _)| &r.event.id);
        let snap = store.snapshot(&ws, event_id, customer).await?;
        if matches!(input.record, Some((_, 0))) && snap.recorded.is_some() {
            return Ok(Round::Done(Applied::Duplicate));
        }
        let (mut billing, billing_version) = snap.billing;
        for o in &input.observations {
            billing.apply(o);
        }
        let score = snap.profile.as_ref().map(|p| {
            let s = score_profile(
                p,
                Some(&billing),
                input.feeds_scores,
                now,
                cfg,
                input.reason.as_str(),
            );
            (advance(snap.previous_score.as_ref(), s), snap.score_version)
        });
        let score_value = score.as_ref().map(|(s, _)| s.score.score);
        // The score's version orders a profile's events; they commit with it.
        let outbox = score
            .as_ref()
            .map(|(s, v)| derive(&ws, snap.previous_score.as_ref(), s, v + 1))
            .unwrap_or_default();
        let commit = Commit {
            workspace: ws.clone(),
            event: input.record.clone(),
            customer: customer.clone(),
            billing,
            billing_version,
            charge_owners: input.charge_owners.clone(),
            score,
            outbox,
            route: input.route.clone(),
        };
        let committed = match store.commit(&commit).await {
            Err(StoreError::Conflict) if input.route.is_some() => {
                return Err(ApplyError::RouteChanged);
            }
            other => other?,
        };
        Ok::<_, ApplyError>(Round::from_commit(committed, |c| match c {
            Committed::Duplicate => Applied::Duplicate,
            _ => Applied::Done {
                customer: customer.clone(),
                score: score_value,
            },
        }))
    })
    .await?;
    outcome.ok_or(ApplyError::Contended)
}
