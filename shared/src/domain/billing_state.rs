//! Billing state per Stripe customer, built from observations (webhook events and
//! backfilled objects go through the same [`BillingState::apply`]).
//!
//! The state is a join-semilattice, so applying any permutation of a set of
//! observations, with duplicates, yields the same state:
//! - each Stripe object is a last-writer-wins register whose winner is the maximum of
//!   `(created, status rank, observed at, snapshot, event id)` — a total order, so
//!   "merge" is `max`, which is commutative, associative and idempotent; the status rank
//!   makes a terminal status (canceled, paid, …) win over anything observed later;
//! - plan-amount samples are a grow-only set;
//! - pruning drops entries by a property that is identical in every version of the entry
//!   (an object's `created`, a sample's own time) against a horizon that only grows
//!   (newest observation − retention), so pruning early or late gives the same result.
//!   See `docs/scoring.md` ("Billing state") for the argument.

pub use crate::domain::ids::PaymentId;
use crate::domain::ids::{
    PaymentRef, StripeChargeId, StripeCustomerId, StripeEventId, StripeObjectId,
    StripePaymentIntentId,
};
use crate::domain::money::Currency;
use crate::domain::mrr::{
    Discount, MrrSettings, MrrSubscription, PriceItem, SubscriptionStatus,
    item_is_recurring_licensed, item_period_amount, plan_amount_exact,
};
pub use crate::domain::plan_sample::{PlanLine, PlanSample};
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Charges and disputes created more than this many days before the newest observation
/// are dropped.
pub const CHARGE_RETENTION_DAYS: i64 = 120;
/// Invoices created more than this many days before the newest observation are dropped.
pub const INVOICE_RETENTION_DAYS: i64 = 400;
/// Plan samples older than this are dropped, except the newest such sample per
/// subscription (it still gives the plan amount at any later instant).
pub const SAMPLE_RETENTION_DAYS: i64 = 120;

/// A Stripe customer as the churn engine needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CustomerSnapshot {
    /// The customer.
    pub id: StripeCustomerId,
    /// Email (for matching; not used in scoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When the customer was created.
    pub created: Timestamp,
    /// A default payment method is set (`invoice_settings.default_payment_method` or
    /// `default_source`).
    pub has_payment_method: bool,
    /// The customer's billing currency (Stripe's `customer.currency`), when set: the
    /// main currency of its MRR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// The customer was deleted in Stripe.
    #[serde(default)]
    pub deleted: bool,
}

/// Why a subscription was canceled (Stripe's `cancellation_details.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    /// The customer or merchant asked for it.
    CancellationRequested,
    /// Payment retries were exhausted.
    PaymentFailed,
    /// A dispute ended it.
    PaymentDisputed,
}

/// A subscription item with its item-level discounts.
pub type Item = (PriceItem, Vec<Discount>);

/// A Stripe subscription reduced to what MRR, signals and the billing view need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubscriptionSnapshot {
    /// `sub_…`.
    pub id: StripeObjectId,
    /// Its customer.
    pub customer: StripeCustomerId,
    /// Status.
    pub status: SubscriptionStatus,
    /// When it was created.
    pub created: Timestamp,
    /// Recurring items (one-off and metered ones are kept but excluded from MRR).
    pub items: Vec<Item>,
    /// Subscription-level discounts, in Stripe's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<Discount>,
    /// Cancels when the current period ends.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// A scheduled cancellation instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_at: Option<Timestamp>,
    /// When cancellation was requested / happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_at: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Stripe's cancellation reason, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<CancellationReason>,
    /// `pause_collection` is set.
    #[serde(default)]
    pub collection_paused: bool,
    /// Trial end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_end: Option<Timestamp>,
    /// Subscription-level current period end (Stripe API before 2025-03-31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<Timestamp>,
    /// The subscription has its own default payment method.
    #[serde(default)]
    pub has_payment_method: bool,
}

impl SubscriptionSnapshot {
    /// The view MRR needs.
    pub fn as_mrr(&self) -> MrrSubscription<'_> {
        MrrSubscription {
            status: self.status,
            collection_paused: self.collection_paused,
            items: &self.items,
            discounts: &self.discounts,
        }
    }

    /// Renewal date: the subscription-level current period end when Stripe sends one
    /// (API versions before 2025-03-31), otherwise the earliest item-level one.
    pub fn renewal_date(&self) -> Option<Timestamp> {
        self.current_period_end.or_else(|| {
            self.items
                .iter()
                .filter_map(|(i, _)| i.current_period_end)
                .min()
        })
    }

    /// Paused: status `paused` or collection paused.
    pub fn is_paused(&self) -> bool {
        self.status == SubscriptionStatus::Paused
            || (self.collection_paused && !self.status.is_terminal())
    }

    /// Will cancel at a scheduled instant while still running.
    pub fn scheduled_cancel(&self) -> bool {
        !self.status.is_terminal() && (self.cancel_at_period_end || self.cancel_at.is_some())
    }
}

/// Stripe invoice status, ordered by how far along the lifecycle it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not finalized.
    Draft,
    /// Finalized, awaiting payment.
    Open,
    /// Marked uncollectible (can still be paid).
    Uncollectible,
    /// Voided; terminal.
    Void,
    /// Paid; terminal.
    Paid,
}

/// An invoice reduced to what dunning and aging need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InvoiceSnapshot {
    /// `in_…`.
    pub id: StripeObjectId,
    /// The subscription it bills, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<StripeObjectId>,
    /// Status.
    pub status: InvoiceStatus,
    /// Created.
    pub created: Timestamp,
    /// Due date (send-invoice collection), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<Timestamp>,
    /// Amount still owed, minor units.
    pub amount_remaining: i64,
    /// Currency.
    pub currency: Currency,
    /// Payment attempts so far.
    #[serde(default)]
    pub attempt_count: u32,
    /// When it was paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<Timestamp>,
    /// The charges and payment intents that paid or tried to pay it (`charge` and
    /// `payment_intent` before API 2025-03-31, `payments` after), when sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<PaymentRef>,
}

/// Outcome of a charge (or of one invoice payment attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// Not settled yet.
    Pending,
    /// Failed.
    Failed,
    /// Succeeded.
    Succeeded,
}

/// A charge, or a payment outcome known only from its invoice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChargeSnapshot {
    /// The charge, or the invoice record standing for it.
    pub id: PaymentId,
    /// When the charge (attempt) happened.
    pub created: Timestamp,
    /// Outcome.
    pub status: ChargeStatus,
    /// Amount, minor units.
    pub amount: i64,
    /// Currency.
    pub currency: Currency,
    /// The invoice it paid, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<StripeObjectId>,
    /// The payment intent it belongs to, if known (how a charge of API ≥ 2025-03-31 is
    /// tied to its invoice, through the invoice's payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<StripePaymentIntentId>,
}

/// A dispute on a charge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DisputeSnapshot {
    /// `dp_…`/`du_…`.
    pub id: StripeObjectId,
    /// The disputed charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<StripeChargeId>,
    /// When the dispute was opened.
    pub created: Timestamp,
    /// Disputed amount, minor units.
    pub amount: i64,
    /// Currency.
    pub currency: Currency,
    /// Stripe's reason (`fraudulent`, `product_not_received`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The plan before a `customer.subscription.updated` event (`previous_attributes`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PreviousPlan {
    /// `previous_attributes.items`.
    pub items: Vec<Item>,
    /// `previous_attributes.status`, when it changed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SubscriptionStatus>,
}

/// What one observation says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fact {
    /// A customer object.
    Customer(CustomerSnapshot),
    /// A subscription object; `previous` when the event carried the previous items.
    Subscription {
        /// The subscription now.
        snapshot: SubscriptionSnapshot,
        /// The plan before this change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<PreviousPlan>,
    },
    /// An invoice object.
    Invoice(InvoiceSnapshot),
    /// A charge or payment attempt.
    Charge(ChargeSnapshot),
    /// A dispute.
    Dispute(DisputeSnapshot),
}

/// One input to the billing state: a fact, when it was true, and the event that said so
/// (`None` for objects read by backfill or sync).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Observation {
    /// Event `created`, or the instant the object was fetched.
    pub at: Timestamp,
    /// The event, if this came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<StripeEventId>,
    /// The Stripe customer whose state this belongs to, when the object names it
    /// (a dispute does not: route it through its charge's customer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<StripeCustomerId>,
    /// What was observed.
    pub fact: Fact,
}

/// A register value stamped with when it was observed and by which event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// When it was observed.
    pub at: Timestamp,
    /// The event that carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<StripeEventId>,
    /// The value.
    pub value: T,
}

/// How a register orders the versions of one object.
pub trait Rank {
    /// The object's creation time. Stripe never changes it; ordering by it first keeps
    /// merge-then-prune a lattice even for inputs where it differs.
    fn created(&self) -> Timestamp;
    /// How far along its lifecycle the version is: 0 for the earliest stage; terminal
    /// stages rank highest, so they never lose to an earlier stage.
    fn rank(&self) -> u8;
}

impl Rank for CustomerSnapshot {
    fn created(&self) -> Timestamp {
        self.created
    }
    fn rank(&self) -> u8 {
        u8::from(self.deleted)
    }
}
impl Rank for SubscriptionSnapshot {
    fn created(&self) -> Timestamp {
        self.created
    }
    fn rank(&self) -> u8 {
        u8::from(self.status.is_terminal())
    }
}
impl Rank for InvoiceSnapshot {
    fn created(&self) -> Timestamp {
        self.created
    }
    fn rank(&self) -> u8 {
        match self.status {
            InvoiceStatus::Draft => 0,
            InvoiceStatus::Open => 1,
            InvoiceStatus::Uncollectible => 2,
            InvoiceStatus::Void | InvoiceStatus::Paid => 3,
        }
    }
}
impl Rank for ChargeSnapshot {
    fn created(&self) -> Timestamp {
        self.created
    }
    fn rank(&self) -> u8 {
        u8::from(self.status != ChargeStatus::Pending)
    }
}
impl Rank for DisputeSnapshot {
    fn created(&self) -> Timestamp {
        self.created
    }
    fn rank(&self) -> u8 {
        0
    }
}

impl<T: Rank + Ord> Versioned<T> {
    fn beats(&self, other: &Self) -> bool {
        let key = |v: &Self| (v.value.created(), v.value.rank(), v.at);
        (key(self), &self.value, &self.event) > (key(other), &other.value, &other.event)
    }
}

fn merge_into<K: Ord, T: Rank + Ord>(map: &mut BTreeMap<K, Versioned<T>>, key: K, v: Versioned<T>) {
    match map.get(&key) {
        Some(cur) if !v.beats(cur) => {}
        _ => {
            map.insert(key, v);
        }
    }
}

/// Everything the engine knows about one Stripe customer's billing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillingState {
    /// The newest observation time seen (drives pruning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<Timestamp>,
    /// The customer object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Versioned<CustomerSnapshot>>,
    /// Subscriptions by id (never pruned: a customer has few).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscriptions: BTreeMap<StripeObjectId, Versioned<SubscriptionSnapshot>>,
    /// Invoices by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invoices: BTreeMap<StripeObjectId, Versioned<InvoiceSnapshot>>,
    /// Charges and payment records by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub charges: BTreeMap<PaymentId, Versioned<ChargeSnapshot>>,
    /// Disputes by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub disputes: BTreeMap<StripeObjectId, Versioned<DisputeSnapshot>>,
    /// Plan-amount history.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub plan_samples: BTreeSet<PlanSample>,
}

fn sample(
    s: &SubscriptionSnapshot,
    at: Timestamp,
    phase: u8,
    event: Option<&StripeEventId>,
) -> PlanSample {
    let amounts = plan_amount_exact(&s.items, &s.discounts, &MrrSettings::default(), at);
    let unknown = amounts.is_err();
    let plan = amounts
        .ok()
        .and_then(|a| a.into_iter().next())
        .map(|(c, r)| (c, r.round_half_even()));
    let lines = s
        .items
        .iter()
        .map(|(item, _)| item)
        .filter(|item| item_is_recurring_licensed(item))
        .filter_map(|item| {
            let period = item.period?;
            Some(PlanLine {
                product: item.product.clone(),
                period,
                quantity: item.quantity,
                monthly: item_period_amount(item)? * period.monthly_factor(),
            })
        })
        .collect();
    PlanSample {
        subscription: s.id.clone(),
        at,
        phase,
        status: s.status,
        collection_paused: s.collection_paused,
        plan,
        event: event.cloned(),
        lines,
        unknown,
    }
}

fn stamp<T>(obs: &Observation, value: T) -> Versioned<T> {
    Versioned {
        at: obs.at,
        event: obs.event.clone(),
        value,
    }
}

impl BillingState {
    /// A state built from `observations` (any order, duplicates allowed).
    pub fn from_observations<'a>(observations: impl IntoIterator<Item = &'a Observation>) -> Self {
        let mut s = Self::default();
        for o in observations {
            s.apply(o);
        }
        s
    }

    /// Folds one observation in. Older information never overwrites newer; applying the
    /// same observation twice changes nothing.
    pub fn apply(&mut self, obs: &Observation) {
        self.newest = self.newest.max(Some(obs.at));
        match &obs.fact {
            Fact::Customer(c) => {
                let v = stamp(obs, c.clone());
                if self.customer.as_ref().is_none_or(|cur| v.beats(cur)) {
                    self.customer = Some(v);
                }
            }
            Fact::Subscription { snapshot, previous } => {
                self.plan_samples
                    .insert(sample(snapshot, obs.at, 1, obs.event.as_ref()));
                if let Some(prev) = previous {
                    let before = SubscriptionSnapshot {
                        items: prev.items.clone(),
                        status: prev.status.unwrap_or(snapshot.status),
                        ..snapshot.clone()
                    };
                    self.plan_samples
                        .insert(sample(&before, obs.at, 0, obs.event.as_ref()));
                }
                merge_into(
                    &mut self.subscriptions,
                    snapshot.id.clone(),
                    stamp(obs, snapshot.clone()),
                );
            }
            Fact::Invoice(i) => merge_into(&mut self.invoices, i.id.clone(), stamp(obs, i.clone())),
            Fact::Charge(c) => merge_into(&mut self.charges, c.id.clone(), stamp(obs, c.clone())),
            Fact::Dispute(d) => merge_into(&mut self.disputes, d.id.clone(), stamp(obs, d.clone())),
        }
        self.prune();
    }

    /// Drops history older than the retention windows, relative to [`Self::newest`].
    fn prune(&mut self) {
        let Some(newest) = self.newest else { return };
        let charge_horizon = newest.plus_days(-CHARGE_RETENTION_DAYS);
        let invoice_horizon = newest.plus_days(-INVOICE_RETENTION_DAYS);
        let sample_horizon = newest.plus_days(-SAMPLE_RETENTION_DAYS);
        // `created` is the same in every version of an object, so this drops whole
        // registers, and a late-arriving older version is dropped the same way.
        self.charges
            .retain(|_, c| c.value.created >= charge_horizon);
        self.disputes
            .retain(|_, d| d.value.created >= charge_horizon);
        self.invoices
            .retain(|_, i| i.value.created >= invoice_horizon);
        // Keep every sample after the horizon and the newest one before it, per subscription.
        let mut keep_before: BTreeMap<&StripeObjectId, &PlanSample> = BTreeMap::new();
        for s in self.plan_samples.iter().filter(|s| s.at < sample_horizon) {
            keep_before.insert(&s.subscription, s); // ascending order: the last one wins
        }
        let drop: Vec<PlanSample> = self
            .plan_samples
            .iter()
            .filter(|s| s.at < sample_horizon && keep_before.get(&s.subscription) != Some(s))
            .cloned()
            .collect();
        for s in drop {
            self.plan_samples.remove(&s);
        }
    }

    /// Current subscriptions.
    pub fn subscriptions(&self) -> impl Iterator<Item = &SubscriptionSnapshot> {
        self.subscriptions.values().map(|v| &v.value)
    }

    /// The subscription register (value + when it was observed).
    pub fn subscription(&self, id: &StripeObjectId) -> Option<&Versioned<SubscriptionSnapshot>> {
        self.subscriptions.get(id)
    }

    /// Charges (and payment attempts), any order.
    pub fn charges(&self) -> impl Iterator<Item = &ChargeSnapshot> {
        self.charges.values().map(|v| &v.value)
    }

    /// Invoices.
    pub fn invoices(&self) -> impl Iterator<Item = &InvoiceSnapshot> {
        self.invoices.values().map(|v| &v.value)
    }

    /// Disputes.
    pub fn disputes(&self) -> impl Iterator<Item = &DisputeSnapshot> {
        self.disputes.values().map(|v| &v.value)
    }

    /// Plan samples of one subscription in time order.
    pub fn samples_of<'a>(
        &'a self,
        sub: &'a StripeObjectId,
    ) -> impl Iterator<Item = &'a PlanSample> {
        self.plan_samples
            .iter()
            .filter(move |s| &s.subscription == sub)
    }

    /// The customer has a default payment method (customer- or subscription-level).
    pub fn has_payment_method(&self, sub: &SubscriptionSnapshot) -> bool {
        sub.has_payment_method
            || self
                .customer
                .as_ref()
                .is_some_and(|c| c.value.has_payment_method)
    }
}

/// Builders shared by the domain tests.
#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests;
