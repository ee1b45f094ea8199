//! Scoring one profile: billing state → usage signals → factors → score.
//! Every path that scores (webhook, backfill, profile update, nightly) calls this.

use crate::domain::billing_state::BillingState;
use crate::domain::engine::{EngineConfig, ScoreInput, score};
use crate::domain::profile::{Profile, StoredScore};
use crate::domain::profile_view::profile_billing_view;
use crate::domain::signals::usage_signals;
use crate::domain::time::Timestamp;

/// Scores `profile` with its matched customer's billing state (if any).
/// `stripe_connected` false keeps the billing family out of the score. The
/// result has no trail yet: `profile_history::advance` carries it on from the
/// score it replaces.
pub fn score_profile(
    profile: &Profile,
    billing: Option<&BillingState>,
    stripe_connected: bool,
    now: Timestamp,
    cfg: &EngineConfig,
    reason: impl Into<String>,
) -> StoredScore {
    let signals = billing.map(|b| usage_signals(b, now, &cfg.billing));
    let input = ScoreInput {
        now,
        stripe_connected,
        billing: signals.as_ref(),
        families: &profile.families,
        classifier_churn_risk: profile.classifier_churn_risk,
    };
    StoredScore {
        profile_id: profile.profile_id.clone(),
        score: score(&input, cfg),
        stripe_customer_id: profile.stripe_customer_id.clone(),
        billing: billing.map(|b| profile_billing_view(b, now)),
        computed_at: now,
        reason: reason.into(),
        trail: Vec::new(),
        rise_7d: 0.0,
        change: None,
    }
}
