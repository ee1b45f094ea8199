//! Which churn events one score change makes: a pure function of the previous
//! stored score and the new one. Every path that commits a score (the apply
//! pipe — webhooks, replay, retries, backfill, nightly rescore — and profile
//! updates) calls [`derive`] and writes its result in the same transaction.

use crate::domain::factors::Factor;
use crate::domain::ids::WorkspaceId;
use crate::domain::lifecycle::Lifecycle;
use crate::domain::profile::StoredScore;
use crate::domain::time::{DAY, Timestamp};
use crate::ports::outbound::{EventType, OutboundEvent};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// `profile.renewal_due` fires once per renewal, when it falls within this many days.
pub const RENEWAL_NOTICE_DAYS: i64 = 7;

/// Factors shown in an event's `top_factors`.
const TOP_FACTORS: usize = 3;

/// The billing factor whose evidence lists failed payments.
const PAYMENT_FAILURE_SIGNAL: &str = "stripe_payment_failure";

/// The events `new` (stored at version `new_version`) makes, given the score it
/// replaces (`None`: the profile's first score). In a stable order; ids and
/// `seq` are derived from the workspace, profile and version, so the same commit
/// always names the same events.
pub fn derive(
    workspace: &WorkspaceId,
    previous: Option<&StoredScore>,
    new: &StoredScore,
    new_version: u64,
) -> Vec<OutboundEvent> {
    let mut types = Vec::new();
    let was_at_risk = previous.is_some_and(|p| p.score.at_risk);
    match (was_at_risk, new.score.at_risk) {
        (false, true) => types.push(EventType::EnteredAtRisk),
        (true, false) => types.push(EventType::LeftAtRisk),
        _ => {}
    }
    let lifecycle_before = previous.and_then(lifecycle);
    if let (Some(before), Some(now)) = (lifecycle_before, lifecycle(new))
        && before != now
    {
        types.push(EventType::LifecycleChanged);
    }
    let renewal = renewal_due(previous, new);
    if renewal.is_some() {
        types.push(EventType::RenewalDue);
    }
    let failed: Vec<&String> = {
        let before: BTreeSet<&String> = previous.map(failures).unwrap_or_default();
        failures(new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect()
    };
    if !failed.is_empty() {
        types.push(EventType::PaymentFailed);
    }
    types
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let seq = format!("{new_version:012}.{i}");
            let mut data = base_data(previous, new);
            match t {
                EventType::LifecycleChanged => {
                    data["previous_lifecycle"] = json!(lifecycle_before);
                }
                EventType::RenewalDue => {
                    data["renewal_date"] = json!(renewal.map(Timestamp::to_date));
                }
                EventType::PaymentFailed => data["failed_payments"] = json!(failed),
                _ => {}
            }
            OutboundEvent {
                id: event_id(workspace, new, &seq),
                event_type: t,
                created: new.computed_at,
                workspace_id: workspace.clone(),
                profile_id: new.profile_id.clone(),
                seq,
                data,
            }
        })
        .collect()
}

fn lifecycle(s: &StoredScore) -> Option<Lifecycle> {
    s.billing
        .as_ref()
        .map(|b| b.lifecycle)
        .filter(|l| *l != Lifecycle::None)
}

/// The renewal date when it just came within the notice window: in the future,
/// at most [`RENEWAL_NOTICE_DAYS`] away, and not already inside the window
/// when the previous score was computed (so each renewal fires once).
fn renewal_due(previous: Option<&StoredScore>, new: &StoredScore) -> Option<Timestamp> {
    let within = |renewal: Timestamp, at: Timestamp| {
        let ahead = renewal.secs_since(at);
        ahead > 0 && ahead <= RENEWAL_NOTICE_DAYS * DAY
    };
    let renewal = new.billing.as_ref()?.renewal_date?;
    if !within(renewal, new.computed_at) {
        return None;
    }
    let announced = previous.is_some_and(|p| {
        p.billing.as_ref().and_then(|b| b.renewal_date) == Some(renewal)
            && within(renewal, p.computed_at)
    });
    (!announced).then_some(renewal)
}

/// Ids of the failed payments behind the payment-failure factor.
fn failures(s: &StoredScore) -> BTreeSet<&String> {
    s.score
        .families
        .values()
        .flat_map(|f| f.factors.iter())
        .filter(|f| f.signal.as_str() == PAYMENT_FAILURE_SIGNAL)
        .flat_map(|f| f.evidence.iter())
        .collect()
}

/// The contract's `data`: profile, score, previous score, lifecycle, top factors.
fn base_data(previous: Option<&StoredScore>, new: &StoredScore) -> Value {
    let mut factors: Vec<&Factor> = new
        .score
        .families
        .values()
        .flat_map(|c| c.factors.iter())
        .collect();
    factors.sort_by(|a, b| b.impact.abs().total_cmp(&a.impact.abs()));
    factors.truncate(TOP_FACTORS);
    json!({
        "profile_id": new.profile_id,
        "score": new.score.score,
        "previous_score": previous.map(|p| p.score.score),
        "at_risk": new.score.at_risk,
        "lifecycle": lifecycle(new),
        "top_factors": factors,
    })
}

/// `kev_` and 24 hex digits of SHA-256 over workspace, profile and `seq`.
fn event_id(workspace: &WorkspaceId, new: &StoredScore, seq: &str) -> String {
    let mut h = Sha256::new();
    for part in [workspace.as_str(), new.profile_id.as_str(), seq] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("kev_{}", &hex::encode(h.finalize())[..24])
}

#[cfg(test)]
mod tests;
