//! The churn engine: seven signal families plus the classifier's churn_risk factor.
//!
//! score = clamp(baseline + Σ family impacts (each clamped to its own ±max) +
//! classifier weight × churn_risk, 0, 100); at risk when score ≥ 65. Every number is in
//! [`EngineConfig`]; the rules are written down in `docs/scoring.md`.

use crate::domain::factors::{BillingRules, Factor, billing_factors, billing_impact};
use crate::domain::signals::UsageSignals;
use crate::domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A signal family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// From Stripe (computed here).
    Billing,
    /// CRM signals (supplied through the profile API).
    Crm,
    /// Product usage.
    ProductUsage,
    /// Support tickets.
    Support,
    /// Engagement (email, meetings).
    Engagement,
    /// Sentiment.
    Sentiment,
    /// Contract terms and renewals.
    Contract,
}

impl Family {
    /// All seven, billing first.
    pub const ALL: [Family; 7] = [
        Family::Billing,
        Family::Crm,
        Family::ProductUsage,
        Family::Support,
        Family::Engagement,
        Family::Sentiment,
        Family::Contract,
    ];

    /// The six families supplied from outside.
    pub const EXTERNAL: [Family; 6] = [
        Family::Crm,
        Family::ProductUsage,
        Family::Support,
        Family::Engagement,
        Family::Sentiment,
        Family::Contract,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Crm => "crm",
            Self::ProductUsage => "product_usage",
            Self::Support => "support",
            Self::Engagement => "engagement",
            Self::Sentiment => "sentiment",
            Self::Contract => "contract",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Family> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }
}

/// Each family's maximum absolute impact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyLimits {
    /// Billing: 30 (spec).
    pub billing: f64,
    /// CRM: 20.
    pub crm: f64,
    /// Product usage: 25.
    pub product_usage: f64,
    /// Support: 15.
    pub support: f64,
    /// Engagement: 15.
    pub engagement: f64,
    /// Sentiment: 10.
    pub sentiment: f64,
    /// Contract: 20.
    pub contract: f64,
}

impl Default for FamilyLimits {
    fn default() -> Self {
        Self {
            billing: 30.0,
            crm: 20.0,
            product_usage: 25.0,
            support: 15.0,
            engagement: 15.0,
            sentiment: 10.0,
            contract: 20.0,
        }
    }
}

impl FamilyLimits {
    /// The limit of `family`.
    pub fn of(&self, family: Family) -> f64 {
        match family {
            Family::Billing => self.billing,
            Family::Crm => self.crm,
            Family::ProductUsage => self.product_usage,
            Family::Support => self.support,
            Family::Engagement => self.engagement,
            Family::Sentiment => self.sentiment,
            Family::Contract => self.contract,
        }
    }
}

/// Every number the engine uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Score with no factors at all: 50.
    pub baseline: f64,
    /// At risk from this score up (inclusive): 65. A subscription in dunning with a
    /// second failed charge (50 + 10 + 6 = 66) is at risk; one failure alone (60, or 56
    /// without dunning) is not.
    pub at_risk_threshold: f64,
    /// Per-family impact limits.
    pub limits: FamilyLimits,
    /// Classifier weight by number of behavioural families with signals:
    /// 0 → 1.0, 1 → 0.7, 2 → 0.4, ≥ 3 → 0.25.
    pub classifier_weights: [f64; 4],
    /// The classifier's churn_risk is clamped to ± this before weighting: 50.
    pub classifier_max_abs: f64,
    /// The billing factor table.
    pub billing: BillingRules,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            baseline: 50.0,
            at_risk_threshold: 65.0,
            limits: FamilyLimits::default(),
            classifier_weights: [1.0, 0.7, 0.4, 0.25],
            classifier_max_abs: 50.0,
            billing: BillingRules::default(),
        }
    }
}

impl EngineConfig {
    /// The classifier weight for `families_with_signals` behavioural families.
    pub fn classifier_weight(&self, families_with_signals: usize) -> f64 {
        self.classifier_weights[families_with_signals.min(3)]
    }
}

/// Everything one score is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ScoreInput<'a> {
    /// Scoring instant (time windows and dispute decay).
    pub now: Timestamp,
    /// Stripe is connected; when false the billing family does not contribute.
    pub stripe_connected: bool,
    /// The matched Stripe customer's usage signals (`None`: not matched).
    pub billing: Option<&'a UsageSignals>,
    /// The six external families' factors (a `Billing` entry here is ignored).
    pub families: &'a BTreeMap<Family, Vec<Factor>>,
    /// The classifier's churn_risk, in score points.
    pub classifier_churn_risk: Option<f64>,
}

impl<'a> ScoreInput<'a> {
    fn billing_signals(&self) -> Option<&'a UsageSignals> {
        self.billing.filter(|_| self.stripe_connected)
    }

    fn external(&self) -> impl Iterator<Item = (Family, &'a Vec<Factor>)> + 'a {
        self.families
            .iter()
            .filter(|(f, v)| **f != Family::Billing && !v.is_empty())
            .map(|(f, v)| (*f, v))
    }

    /// Behavioural families with signals: billing when connected and matched, and each
    /// external family with at least one factor.
    pub fn families_with_signals(&self) -> usize {
        usize::from(self.billing_signals().is_some()) + self.external().count()
    }
}

/// One family's part of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyContribution {
    /// Clamped impact (what the score uses).
    pub impact: f64,
    /// Sum of factor impacts before clamping.
    pub raw_impact: f64,
    /// The family's limit.
    pub max_abs: f64,
    /// The factors.
    pub factors: Vec<Factor>,
}

/// The classifier's part of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierContribution {
    /// The churn_risk supplied (after clamping), if any.
    pub churn_risk: Option<f64>,
    /// Its weight.
    pub weight: f64,
    /// weight × churn_risk.
    pub impact: f64,
}

/// A churn score with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnScore {
    /// 0–100, one decimal.
    pub score: f64,
    /// `score ≥ at_risk_threshold`.
    pub at_risk: bool,
    /// Families with signals, by name.
    pub families: BTreeMap<Family, FamilyContribution>,
    /// The classifier.
    pub classifier: ClassifierContribution,
    /// How many behavioural families had signals.
    pub families_with_signals: usize,
    /// Multi-line explanation (format in `docs/scoring.md`).
    pub explanation: String,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn family_sum(factors: &[Factor]) -> f64 {
    factors.iter().map(|f| f.impact).sum()
}

/// The score alone, without factors or explanation: the fast path for rescoring from
/// stored signals. Equal to `score(input, cfg).score` / `.at_risk`.
pub fn score_value(input: &ScoreInput<'_>, cfg: &EngineConfig) -> (f64, bool) {
    let mut total = cfg.baseline;
    let mut with_signals = 0;
    if let Some(s) = input.billing_signals() {
        let max = cfg.limits.billing;
        total += billing_impact(s, input.now, &cfg.billing).clamp(-max, max);
        with_signals += 1;
    }
    // One pass over the external families: sum and count together.
    for (family, factors) in input.external() {
        let max = cfg.limits.of(family);
        total += family_sum(factors).clamp(-max, max);
        with_signals += 1;
    }
    let weight = cfg.classifier_weight(with_signals);
    let risk = input
        .classifier_churn_risk
        .map(|r| r.clamp(-cfg.classifier_max_abs, cfg.classifier_max_abs));
    total += weight * risk.unwrap_or(0.0);
    let score = round1(total.clamp(0.0, 100.0));
    (score, score >= cfg.at_risk_threshold)
}

/// Scores one profile, with per-family contributions, factors and an explanation.
pub fn score(input: &ScoreInput<'_>, cfg: &EngineConfig) -> ChurnScore {
    let mut families = BTreeMap::new();
    if let Some(s) = input.billing_signals() {
        families.insert(Family::Billing, billing_factors(s, input.now, &cfg.billing));
    }
    for (family, factors) in input.external() {
        families.insert(family, factors.clone());
    }
    let families: BTreeMap<Family, FamilyContribution> = families
        .into_iter()
        .map(|(family, factors)| {
            let max_abs = cfg.limits.of(family);
            let raw_impact = family_sum(&factors);
            let impact = raw_impact.clamp(-max_abs, max_abs);
            (
                family,
                FamilyContribution {
                    impact,
                    raw_impact,
                    max_abs,
                    factors,
                },
            )
        })
        .collect();
    let n = input.families_with_signals();
    let weight = cfg.classifier_weight(n);
    let churn_risk = input
        .classifier_churn_risk
        .map(|r| r.clamp(-cfg.classifier_max_abs, cfg.classifier_max_abs));
    let classifier = ClassifierContribution {
        churn_risk,
        weight,
        impact: weight * churn_risk.unwrap_or(0.0),
    };
    let total = cfg.baseline + families.values().map(|f| f.impact).sum::<f64>() + classifier.impact;
    let score = round1(total.clamp(0.0, 100.0));
    let at_risk = score >= cfg.at_risk_threshold;
    let explanation = explain(score, at_risk, &families, &classifier, n, input, cfg);
    ChurnScore {
        score,
        at_risk,
        families,
        classifier,
        families_with_signals: n,
        explanation,
    }
}

fn explain(
    score: f64,
    at_risk: bool,
    families: &BTreeMap<Family, FamilyContribution>,
    classifier: &ClassifierContribution,
    n: usize,
    input: &ScoreInput<'_>,
    cfg: &EngineConfig,
) -> String {
    let mut out = String::new();
    let verdict = if at_risk { "at risk" } else { "not at risk" };
    let family_total: f64 = families.values().map(|f| f.impact).sum();
    let _ = writeln!(
        out,
        "Score {score:.1} ({verdict}, threshold {:.0}) = baseline {:.0} {:+.1} families {:+.1} classifier",
        cfg.at_risk_threshold, cfg.baseline, family_total, classifier.impact
    );
    for (family, c) in families {
        let clamp_note = if c.impact != c.raw_impact {
            format!(", clamped from {:+.1}", c.raw_impact)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {:+.1} (limit ±{:.0}{clamp_note})",
            family.as_str(),
            c.impact,
            c.max_abs
        );
        for f in &c.factors {
            let _ = writeln!(out, "  {:+.1} {}: {}", f.impact, f.signal, f.explanation);
        }
        if c.factors.is_empty() {
            let _ = writeln!(out, "  no factor fires");
        }
    }
    if !input.stripe_connected && input.billing.is_some() {
        let _ = writeln!(out, "billing not scored: Stripe is disconnected");
    }
    match classifier.churn_risk {
        Some(r) => {
            let _ = write!(
                out,
                "classifier {:+.1} (churn_risk {r:+.1} × weight {:.2}, {n} behavioural famil{} with signals)",
                classifier.impact,
                classifier.weight,
                if n == 1 { "y" } else { "ies" }
            );
        }
        None => {
            let _ = write!(
                out,
                "classifier +0.0 (no churn_risk supplied, weight {:.2})",
                classifier.weight
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing_state::fixtures::*;
    use crate::domain::billing_state::{BillingState, ChargeStatus};
    use crate::domain::mrr::SubscriptionStatus::*;
    use crate::domain::signals::usage_signals;
    use proptest::prelude::*;

    fn ext(signal: &str, impact: f64) -> Factor {
        Factor {
            signal: crate::domain::factors::FactorSignal::parse(signal).unwrap(),
            impact,
            explanation: format!("{signal} says so"),
            evidence: vec![],
            evidence_dates: vec![],
        }
    }

    fn dunning_customer() -> UsageSignals {
        let mut s = sub("sub_1", PastDue, 5_000, day(-200));
        s.items[0].0.quantity = 2;
        let obs = [
            sub_obs(day(-4), Some(1), s),
            charge("ch_0", day(-20), ChargeStatus::Succeeded),
            charge("ch_1", day(-10), ChargeStatus::Failed),
            charge("ch_2", day(-7), ChargeStatus::Failed),
            charge("ch_3", day(-4), ChargeStatus::Failed),
            dispute("dp_1", day(-1)),
        ];
        usage_signals(
            &BillingState::from_observations(&obs),
            NOW,
            &BillingRules::default(),
        )
    }

    fn input<'a>(
        billing: Option<&'a UsageSignals>,
        families: &'a BTreeMap<Family, Vec<Factor>>,
        risk: Option<f64>,
    ) -> ScoreInput<'a> {
        ScoreInput {
            now: NOW,
            stripe_connected: true,
            billing,
            families,
            classifier_churn_risk: risk,
        }
    }

    #[test]
    fn billing_family_is_clamped_to_30() {
        // past_due 10 + three failures 12 + dispute 8.57 = 30.57 → 30.
        let signals = dunning_customer();
        let none = BTreeMap::new();
        let s = score(
            &input(Some(&signals), &none, None),
            &EngineConfig::default(),
        );
        let billing = &s.families[&Family::Billing];
        assert!(billing.raw_impact > 30.0);
        assert_eq!(billing.impact, 30.0);
        // 50 + 30 + classifier weight 0.7 × 0
        assert_eq!(s.score, 80.0);
    }

    #[test]
    fn billing_family_is_clamped_to_minus_30() {
        let mut cfg = EngineConfig::default();
        cfg.billing.mrr_growth = -40.0;
        let obs = [
            sub_obs(day(-120), Some(1), sub("sub_1", Active, 10_000, day(-200))),
            sub_obs(day(-10), Some(2), sub("sub_1", Active, 20_000, day(-200))),
            charge("ch_1", day(-5), ChargeStatus::Succeeded),
        ];
        let signals = usage_signals(&BillingState::from_observations(&obs), NOW, &cfg.billing);
        let none = BTreeMap::new();
        let s = score(&input(Some(&signals), &none, None), &cfg);
        assert_eq!(s.families[&Family::Billing].raw_impact, -40.0);
        assert_eq!(s.families[&Family::Billing].impact, -30.0);
        assert_eq!(s.score, 20.0);
    }

    #[test]
    fn each_external_family_is_clamped_to_its_own_limit() {
        let families = BTreeMap::from([
            (
                Family::Crm,
                vec![ext("champion_left", 15.0), ext("no_exec_sponsor", 15.0)],
            ),
            (Family::Sentiment, vec![ext("angry_emails", -25.0)]),
        ]);
        let s = score(&input(None, &families, None), &EngineConfig::default());
        assert_eq!(s.families[&Family::Crm].impact, 20.0);
        assert_eq!(s.families[&Family::Sentiment].impact, -10.0);
        assert_eq!(s.score, 60.0);
    }

    #[test]
    fn classifier_weight_follows_the_number_of_families_with_signals() {
        let signals = dunning_customer();
        let f = |n: usize| -> BTreeMap<Family, Vec<Factor>> {
            Family::EXTERNAL
                .iter()
                .take(n)
                .map(|f| (*f, vec![ext("x", 0.0)]))
                .collect()
        };
        let cfg = EngineConfig::default();
        for (billing, external, weight) in [
            (false, 0, 1.0),
            (false, 1, 0.7),
            (true, 0, 0.7),
            (true, 1, 0.4),
            (false, 2, 0.4),
            (true, 2, 0.25),
            (false, 6, 0.25),
        ] {
            let fam = f(external);
            let s = score(&input(billing.then_some(&signals), &fam, Some(10.0)), &cfg);
            assert_eq!(
                s.classifier.weight, weight,
                "billing={billing} external={external}"
            );
            assert_eq!(s.classifier.impact, 10.0 * weight);
        }
    }

    #[test]
    fn at_risk_from_65_inclusive() {
        let cfg = EngineConfig::default();
        let at = |impact: f64| {
            let fam = BTreeMap::from([(Family::Crm, vec![ext("x", impact)])]);
            score(&input(None, &fam, None), &cfg)
        };
        assert!(at(15.0).at_risk);
        assert_eq!(at(15.0).score, 65.0);
        assert!(!at(14.9).at_risk);
    }

    #[test]
    fn disconnected_stripe_stops_the_billing_family_contributing() {
        let signals = dunning_customer();
        let none = BTreeMap::new();
        let mut i = input(Some(&signals), &none, Some(10.0));
        i.stripe_connected = false;
        let s = score(&i, &EngineConfig::default());
        assert!(!s.families.contains_key(&Family::Billing));
        assert_eq!(s.classifier.weight, 1.0);
        assert_eq!(s.score, 60.0);
        assert!(
            s.explanation
                .contains("billing not scored: Stripe is disconnected")
        );
    }

    #[test]
    fn golden_explanation() {
        let signals = dunning_customer();
        let families = BTreeMap::from([(Family::Crm, vec![ext("champion_left", 6.0)])]);
        let s = score(
            &input(Some(&signals), &families, Some(12.5)),
            &EngineConfig::default(),
        );
        let d = |n: i64| day(n).to_date();
        let want = format!(
            "Score 91.0 (at risk, threshold 65) = baseline 50 +36.0 families +5.0 classifier\n\
             billing +30.0 (limit ±30, clamped from +30.6)\n  \
             +10.0 stripe_subscription_status: Subscription past due (dunning) since {} (sub_1)\n  \
             +12.0 stripe_payment_failure: 3 failed charges in the last 30 days (ch_1, ch_2, ch_3)\n  \
             +8.6 stripe_dispute: Dispute opened on {}, impact decaying to 0 over 7 days (dp_1)\n\
             crm +6.0 (limit ±20)\n  \
             +6.0 champion_left: champion_left says so\n\
             classifier +5.0 (churn_risk +12.5 × weight 0.40, 2 behavioural families with signals)",
            d(-4),
            d(-1)
        );
        assert_eq!(s.explanation, want);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["families"]["billing"]["impact"], 30.0);
        assert_eq!(
            json["families"]["billing"]["factors"][1]["evidence"][2],
            "ch_3"
        );
        assert_eq!(json["classifier"]["weight"], 0.4);
    }

    fn arb_factors() -> impl Strategy<Value = Vec<Factor>> {
        prop::collection::vec((-60.0f64..60.0).prop_map(|i| ext("x", i)), 0..5)
    }

    proptest! {
        #[test]
        fn scores_and_family_impacts_stay_within_their_clamps(
            crm in arb_factors(),
            support in arb_factors(),
            contract in arb_factors(),
            risk in prop::option::of(-200.0f64..200.0),
            with_billing in any::<bool>(),
        ) {
            let cfg = EngineConfig::default();
            let signals = dunning_customer();
            let families = BTreeMap::from([
                (Family::Crm, crm),
                (Family::Support, support),
                (Family::Contract, contract),
            ]);
            let i = input(with_billing.then_some(&signals), &families, risk);
            let s = score(&i, &cfg);
            prop_assert!((0.0..=100.0).contains(&s.score));
            for (family, c) in &s.families {
                prop_assert!(c.impact.abs() <= cfg.limits.of(*family));
            }
            prop_assert!(s.classifier.impact.abs() <= cfg.classifier_max_abs);
            prop_assert_eq!(score_value(&i, &cfg), (s.score, s.at_risk));
        }
    }
}
