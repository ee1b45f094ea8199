//! A CRM profile as the churn engine sees it, and the score stored for it.

use crate::domain::contact::{Domain, Email};
use crate::domain::engine::{ChurnScore, Family};
use crate::domain::factors::Factor;
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::domain::profile_history::{FactorChange, ScoreChange, ScorePoint};
use crate::domain::profile_view::ProfileBillingView;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A profile supplied through the profile API: identity for matching, the six
/// external families' factors, and the classifier's churn_risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The profile.
    pub profile_id: ProfileId,
    /// Contact email (matching).
    #[serde(default)]
    pub email: Option<Email>,
    /// Company domain (matching).
    #[serde(default)]
    pub domain: Option<Domain>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The Stripe customer this profile is matched to (manual override or persisted auto-match).
    #[serde(default)]
    pub stripe_customer_id: Option<StripeCustomerId>,
    /// External families' factors (billing is never supplied from outside).
    #[serde(default)]
    pub families: BTreeMap<Family, Vec<Factor>>,
    /// The classifier's churn_risk in score points.
    #[serde(default)]
    pub classifier_churn_risk: Option<f64>,
}

/// The latest score of a profile, with what the dashboard shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredScore {
    /// The profile.
    pub profile_id: ProfileId,
    /// The score and its explanation.
    pub score: ChurnScore,
    /// The matched customer, if any.
    pub stripe_customer_id: Option<StripeCustomerId>,
    /// MRR, lifecycle, renewal date … of the matched customer.
    pub billing: Option<ProfileBillingView>,
    /// When it was computed.
    pub computed_at: Timestamp,
    /// What triggered it (an event id, `backfill`, `profile update` …).
    pub reason: String,
    /// Recent points, oldest first: the window of `profile_history` plus the
    /// point before it. Set by `profile_history::advance`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trail: Vec<ScorePoint>,
    /// The rise over the 7 days before `computed_at` (negative: a fall).
    #[serde(default)]
    pub rise_7d: f64,
    /// What this score changed against the one it replaced (`None`: nothing
    /// moved, so no history point is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ScoreChange>,
}

/// One entry of a profile's score history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// The score then.
    pub score: f64,
    /// Why it changed.
    pub reason: String,
    /// The score before (`None`: the first score, or an entry written before
    /// this was recorded).
    #[serde(default)]
    pub previous_score: Option<f64>,
    /// The factors that appeared, went away or changed their impact.
    #[serde(default)]
    pub changes: Vec<FactorChange>,
}

impl HistoryEntry {
    /// The history point `score` adds, if it changed anything.
    pub fn of(score: &StoredScore) -> Option<Self> {
        score.change.as_ref().map(|c| Self {
            at: score.computed_at,
            score: score.score.score,
            reason: score.reason.clone(),
            previous_score: c.previous_score,
            changes: c.factors.clone(),
        })
    }
}
