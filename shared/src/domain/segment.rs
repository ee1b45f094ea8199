//! The at-risk segment: which profiles are in it, and in what order the dashboard lists
//! them (`GET /api/v1/churn/at-risk`, default sort).
//!
//! In it: every profile whose score is at risk (`score ≥ at_risk_threshold`, 65).
//! Order: customers who can still be saved first (a churned customer stays listed, after
//! every live one), then the highest score, then the most recent evidence (the newest
//! problem first among equal scores), then the profile id. So a customer who hits
//! `invoice.payment_failed` twice inside 14 days (66) comes before every live customer
//! with an older problem of the same weight, and before every churned one.

use crate::domain::engine::{ChurnScore, Family};
use crate::domain::lifecycle::{ChurnType, Lifecycle};
use crate::domain::profile::StoredScore;
use crate::domain::time::Timestamp;
use std::cmp::Reverse;

/// A profile's place in the at-risk segment: sorting ascending lists the segment top
/// first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentRank {
    churned: bool,
    score_tenths: Reverse<i64>,
    newest_evidence: Reverse<Option<Timestamp>>,
    profile: String,
}

impl SegmentRank {
    /// Whether the customer has churned (listed after every live one).
    pub fn churned(&self) -> bool {
        self.churned
    }

    /// The score in tenths of a point, 0 to 1,000.
    pub fn score_tenths(&self) -> u16 {
        self.score_tenths.0.clamp(0, 1_000) as u16
    }

    /// The newest evidence's time, epoch seconds (0 when there is none).
    pub fn newest_evidence_unix(&self) -> i64 {
        self.newest_evidence.0.map(|t| t.unix().max(0)).unwrap_or(0)
    }
}

/// Whether a score belongs in the at-risk segment.
pub fn in_segment(score: &ChurnScore) -> bool {
    score.at_risk
}

/// The rank of one profile's `score` (with its billing `lifecycle`, when matched).
pub fn segment_rank(
    profile: &str,
    score: &ChurnScore,
    lifecycle: Option<Lifecycle>,
) -> SegmentRank {
    let newest = score
        .families
        .values()
        .flat_map(|f| f.factors.iter())
        .flat_map(|f| f.evidence_dates.iter().map(|e| e.at))
        .max();
    SegmentRank {
        churned: lifecycle == Some(Lifecycle::Churned),
        // Scores carry one decimal.
        score_tenths: Reverse((score.score * 10.0).round() as i64),
        newest_evidence: Reverse(newest),
        profile: profile.to_owned(),
    }
}

/// How the at-risk segment is listed (`sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentOrder {
    /// The segment's order above (`sort=score`, the default).
    #[default]
    Score,
    /// The largest rise over the last 7 days first (`sort=rising`); profiles
    /// whose score did not rise in that window are not listed.
    Rising,
}

impl SegmentOrder {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Score => "score",
            Self::Rising => "rising",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Score, Self::Rising]
            .into_iter()
            .find(|o| o.as_str() == raw)
    }
}

/// The at-risk filters (`lifecycle=`, `min_score=`, `involuntary=true`); all
/// given ones must hold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SegmentFilter {
    /// Only this billing lifecycle (a profile with no matched customer has none).
    pub lifecycle: Option<Lifecycle>,
    /// Only scores at or above this (0–100); the segment's threshold still applies.
    pub min_score: Option<f64>,
    /// Only involuntary churn risk ([`involuntary`]).
    pub involuntary: bool,
}

impl SegmentFilter {
    /// Whether `s` passes every given filter.
    pub fn admits(&self, s: &StoredScore) -> bool {
        let lifecycle = s.billing.as_ref().map(|b| b.lifecycle);
        self.lifecycle.is_none_or(|want| lifecycle == Some(want))
            && self.min_score.is_none_or(|m| s.score.score >= m)
            && (!self.involuntary || involuntary(s))
    }

    /// A canonical description, for binding cursors to the filters.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        if let Some(l) = self.lifecycle {
            out.push_str(&format!(":lifecycle={}", l.as_str()));
        }
        if let Some(m) = self.min_score {
            out.push_str(&format!(":min_score={m}"));
        }
        if self.involuntary {
            out.push_str(":involuntary");
        }
        out
    }
}

/// Whether a profile's risk is involuntary churn: it churned involuntarily, or
/// payments are failing or disputed now (a billing factor that raises the score).
pub fn involuntary(s: &StoredScore) -> bool {
    let churned_involuntarily = s
        .billing
        .as_ref()
        .is_some_and(|b| b.churn_type == Some(ChurnType::Involuntary));
    let failing = s.score.families.get(&Family::Billing).is_some_and(|c| {
        c.factors.iter().any(|f| {
            f.impact > 0.0
                && matches!(
                    f.signal.as_str(),
                    "stripe_payment_failure" | "stripe_dispute"
                )
        })
    });
    churned_involuntarily || failing
}
