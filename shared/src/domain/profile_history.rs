//! How a profile's score moves: what one write changed (the history point the
//! explained score lists) and how much the score rose over the last 7 days (the
//! at-risk segment's `rising` order). Pure: the previous stored score and the
//! new one in, the new one with its trail, rise and change out.

use crate::domain::engine::Family;
use crate::domain::profile::StoredScore;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rise is measured over this many days.
pub const RISE_WINDOW_DAYS: i64 = 7;

/// Most points a score's trail keeps (a bound on the stored item; when more
/// changes than this happen inside the window, the oldest go first).
pub const TRAIL_MAX: usize = 64;

/// Scores carry one decimal: a smaller difference is no change.
const SCORE_EPSILON: f64 = 0.05;

/// One past score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScorePoint {
    /// When it was computed.
    pub at: Timestamp,
    /// The score then.
    pub score: f64,
}

/// One factor that appeared, went away or changed its impact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorChange {
    /// Its family.
    pub family: Family,
    /// Its signal name.
    pub signal: String,
    /// The impact before (`None`: the factor is new).
    pub before: Option<f64>,
    /// The impact after (`None`: the factor went away).
    pub after: Option<f64>,
}

/// What one write changed: the history point it adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreChange {
    /// The score before (`None`: the first score).
    pub previous_score: Option<f64>,
    /// Factors that appeared, went away or changed.
    pub factors: Vec<FactorChange>,
}

/// Each factor's impact by family and signal (a signal named twice sums).
fn impacts(s: &StoredScore) -> BTreeMap<(Family, String), f64> {
    let mut out = BTreeMap::new();
    for (family, c) in &s.score.families {
        for f in &c.factors {
            *out.entry((*family, f.signal.as_str().to_owned()))
                .or_insert(0.0) += f.impact;
        }
    }
    out
}

fn factor_changes(previous: Option<&StoredScore>, next: &StoredScore) -> Vec<FactorChange> {
    let before = previous.map(impacts).unwrap_or_default();
    let after = impacts(next);
    let mut keys: Vec<&(Family, String)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (b, a) = (before.get(k).copied(), after.get(k).copied());
            let same = matches!((b, a), (Some(x), Some(y)) if (x - y).abs() < SCORE_EPSILON);
            (!same).then(|| FactorChange {
                family: k.0,
                signal: k.1.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}

/// The score `RISE_WINDOW_DAYS` before `at` as the trail knows it: the newest
/// point at or before then, or the oldest point when the trail is younger.
fn baseline(trail: &[ScorePoint], at: Timestamp) -> Option<f64> {
    let start = at.plus_days(-RISE_WINDOW_DAYS);
    trail
        .iter()
        .rev()
        .find(|p| p.at <= start)
        .or_else(|| trail.first())
        .map(|p| p.score)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `next` (fresh from scoring) carried on from `previous` (the stored score it
/// replaces): its trail of recent points, its rise over the window before it,
/// and what it changed (`None` when neither the score nor any factor's impact
/// moved: no history point).
pub fn advance(previous: Option<&StoredScore>, mut next: StoredScore) -> StoredScore {
    let changes = factor_changes(previous, &next);
    let previous_score = previous.map(|p| p.score.score);
    let moved = previous_score.is_none_or(|p| (p - next.score.score).abs() >= SCORE_EPSILON);
    let mut trail = previous.map(|p| p.trail.clone()).unwrap_or_default();
    if moved || trail.is_empty() {
        trail.push(ScorePoint {
            at: next.computed_at,
            score: next.score.score,
        });
    }
    // Keep the window, plus the newest point before it (the baseline).
    let start = next.computed_at.plus_days(-RISE_WINDOW_DAYS);
    let keep_from = trail
        .iter()
        .rposition(|p| p.at <= start)
        .unwrap_or(0)
        .max(trail.len().saturating_sub(TRAIL_MAX));
    trail.drain(..keep_from);
    next.rise_7d = baseline(&trail, next.computed_at)
        .map(|b| round1(next.score.score - b))
        .unwrap_or(0.0);
    next.trail = trail;
    // The billing family appearing or going (connect, disconnect, erase) is a change of
    // its own, even when its factors carried no impact.
    let billing_flipped = previous.is_some_and(|p| {
        p.billing.is_some() != next.billing.is_some()
            || p.score.families.contains_key(&Family::Billing)
                != next.score.families.contains_key(&Family::Billing)
    });
    next.change = (moved || !changes.is_empty() || billing_flipped).then_some(ScoreChange {
        previous_score,
        factors: changes,
    });
    next
}

/// The rise of `s` as of `now`: its rise over the window before its last
/// change, or 0 once that change is older than the window (nothing moved since).
pub fn rise_at(s: &StoredScore, now: Timestamp) -> f64 {
    if now.secs_since(s.computed_at) > RISE_WINDOW_DAYS * crate::domain::time::DAY {
        0.0
    } else {
        s.rise_7d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::score::score_profile;
    use crate::domain::engine::EngineConfig;
    use crate::domain::factors::{Factor, FactorSignal};
    use crate::domain::ids::ProfileId;
    use crate::domain::profile::Profile;
    use crate::domain::time::DAY;

    const T0: i64 = 1_750_000_000;

    fn scored(crm: f64, day: i64) -> StoredScore {
        let factor = Factor {
            signal: FactorSignal::external("champion_left".to_owned())
                .unwrap_or_else(|e| panic!("{e}")),
            impact: crm,
            explanation: String::new(),
            evidence: vec![],
            evidence_dates: vec![],
        };
        let p = Profile {
            profile_id: ProfileId::parse("p1").unwrap_or_else(|e| panic!("{e}")),
            email: None,
            domain: None,
            name: None,
            stripe_customer_id: None,
            families: [(Family::Crm, vec![factor])].into_iter().collect(),
            classifier_churn_risk: None,
        };
        let now = Timestamp::from_unix(T0 + day * DAY);
        score_profile(&p, None, false, now, &EngineConfig::default(), "test")
    }

    #[test]
    fn the_first_score_is_a_change_with_no_rise() {
        let s = advance(None, scored(10.0, 0));
        let change = s
            .change
            .unwrap_or_else(|| panic!("a first score is a change"));
        assert_eq!(change.previous_score, None);
        assert_eq!(change.factors.len(), 1);
        assert_eq!(change.factors[0].before, None);
        assert_eq!(s.rise_7d, 0.0);
        assert_eq!(s.trail.len(), 1);
    }

    #[test]
    fn a_rescore_that_moves_nothing_adds_no_history_point() {
        let first = advance(None, scored(10.0, 0));
        let again = advance(Some(&first), scored(10.0, 1));
        assert_eq!(again.change, None);
        assert_eq!(again.trail, first.trail, "no new point on the trail");
    }

    #[test]
    fn a_changed_factor_names_its_impact_before_and_after() {
        let first = advance(None, scored(10.0, 0));
        let next = advance(Some(&first), scored(25.0, 1));
        let change = next.change.unwrap_or_else(|| panic!("the score moved"));
        assert_eq!(change.previous_score, Some(first.score.score));
        assert_eq!(
            change.factors,
            vec![FactorChange {
                family: Family::Crm,
                signal: "champion_left".into(),
                before: Some(10.0),
                after: Some(25.0),
            }]
        );
    }

    #[test]
    fn the_rise_is_measured_from_the_score_seven_days_before() {
        let d0 = advance(None, scored(0.0, 0));
        let d3 = advance(Some(&d0), scored(10.0, 3));
        assert_eq!(
            d3.rise_7d,
            round1(d3.score.score - d0.score.score),
            "younger than the window: from the first score"
        );
        let d9 = advance(Some(&d3), scored(20.0, 9));
        assert_eq!(
            d9.rise_7d,
            round1(d9.score.score - d0.score.score),
            "from the newest point at or before day 2: day 0"
        );
        let d20 = advance(Some(&d9), scored(5.0, 20));
        assert!(d20.rise_7d < 0.0, "a fall is a negative rise");
    }

    #[test]
    fn a_rise_older_than_the_window_reads_as_zero() {
        let d0 = advance(None, scored(0.0, 0));
        let d1 = advance(Some(&d0), scored(30.0, 1));
        assert!(d1.rise_7d > 0.0);
        assert_eq!(rise_at(&d1, d1.computed_at.plus_days(7)), d1.rise_7d);
        assert_eq!(rise_at(&d1, d1.computed_at.plus_days(8)), 0.0);
    }

    #[test]
    fn the_trail_stays_bounded() {
        let mut s = advance(None, scored(0.0, 0));
        for i in 1..200 {
            let mut n = scored(f64::from(i % 40), 0);
            n.computed_at = n.computed_at.plus_secs(i64::from(i));
            s = advance(Some(&s), n);
        }
        assert!(s.trail.len() <= TRAIL_MAX, "{}", s.trail.len());
    }
}
