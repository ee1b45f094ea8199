//! The at-risk segment: which profiles are in it, and in what order the dashboard lists
//! them (`GET /api/v1/churn/at-risk`, default sort).
//!
//! In it: every profile whose score is at risk (`score ≥ at_risk_threshold`, 65).
//! Order: customers who can still be saved first (a churned customer stays listed, after
//! every live one), then the highest score, then the most recent evidence (the newest
//! problem first among equal scores), then the profile id. So a customer who hits
//! `invoice.payment_failed` twice inside 14 days (66) comes before every live customer
//! with an older problem of the same weight, and before every churned one.

use crate::domain::engine::ChurnScore;
use crate::domain::lifecycle::Lifecycle;
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
