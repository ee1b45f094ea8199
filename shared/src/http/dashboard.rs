//! Profile routes the dashboard reads: put a profile (and rescore it), its
//! churn explanation, and the at-risk segment.

use crate::app::score::score_profile;
use crate::domain::engine::Family;
use crate::domain::factors::{Factor, FactorSignal};
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::http::app::App;
use crate::http::auth::Identity;
use crate::http::error::{ApiError, json_response};
use crate::ports::billing::BillingStore;
use crate::ports::connections::ConnectionStore;
use crate::ports::profiles::ProfileStore;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Largest page of the at-risk segment.
const MAX_PAGE: i32 = 200;
/// History entries shown with a score.
const HISTORY_SHOWN: i32 = 50;

#[derive(Debug, Deserialize)]
struct ExternalFactor {
    signal: String,
    impact: f64,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    evidence: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ProfileBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    stripe_customer_id: Option<String>,
    #[serde(default)]
    families: BTreeMap<String, Vec<ExternalFactor>>,
    #[serde(default)]
    classifier_churn_risk: Option<f64>,
}

fn parse_profile(id: ProfileId, body: &[u8]) -> Result<Profile, ApiError> {
    let b: ProfileBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid profile JSON: {e}")))?;
    let mut families = BTreeMap::new();
    for (name, factors) in b.families {
        let family = Family::parse(&name)
            .filter(|f| *f != Family::Billing)
            .ok_or_else(|| ApiError::bad_request(format!("unknown family {name:?}: expected one of crm, product_usage, support, engagement, sentiment, contract")))?;
        let mut out = Vec::with_capacity(factors.len());
        for f in factors {
            if !f.impact.is_finite() || f.signal.trim().is_empty() {
                return Err(ApiError::bad_request(format!(
                    "family {name}: every factor needs a signal and a finite impact"
                )));
            }
            out.push(Factor {
                signal: FactorSignal::external(f.signal)
                    .map_err(|e| ApiError::bad_request(format!("family {name}: {e}")))?,
                impact: f.impact,
                explanation: f.explanation,
                evidence: f.evidence,
                evidence_dates: Vec::new(),
            });
        }
        families.insert(family, out);
    }
    if b.classifier_churn_risk.is_some_and(|r| !r.is_finite()) {
        return Err(ApiError::bad_request(
            "classifier_churn_risk must be a finite number",
        ));
    }
    let stripe_customer_id = b
        .stripe_customer_id
        .map(StripeCustomerId::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let clean = |s: Option<String>| s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(Profile {
        profile_id: id,
        email: clean(b.email).map(|e| e.to_ascii_lowercase()),
        domain: clean(b.domain).map(|d| d.to_ascii_lowercase()),
        name: clean(b.name),
        stripe_customer_id,
        families,
        classifier_churn_risk: b.classifier_churn_risk,
    })
}

fn profile_id(raw: &str) -> Result<ProfileId, ApiError> {
    ProfileId::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn identity(app: &App, req: &Request) -> Result<Identity, ApiError> {
    let who = Identity::from_request(req)?;
    who.require_region(app.settings.region)?;
    Ok(who)
}

/// `PUT /api/v1/profiles/{id}`: stores the profile and rescores it.
pub async fn put_profile(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let who = identity(app, req)?;
    let profile = parse_profile(profile_id(id)?, req.body().as_ref())?;
    let ws = &who.workspace_id;
    app.store.put_profile(ws, &profile).await?;
    let now = app.clock.now();
    let connected = app
        .store
        .connection(ws)
        .await?
        .is_some_and(|(c, _)| c.feeds_scores());
    let billing = match &profile.stripe_customer_id {
        Some(c) => Some(app.store.load(ws, c).await?.0).filter(|b| b.newest.is_some()),
        None => None,
    };
    for _ in 0..5 {
        let version = app
            .store
            .score(ws, &profile.profile_id)
            .await?
            .map(|(_, v)| v)
            .unwrap_or(0);
        let score = score_profile(
            &profile,
            billing.as_ref(),
            connected,
            now,
            &app.settings.engine,
            "profile update",
        );
        match app.store.put_score(ws, &score, version).await {
            Ok(()) => {
                let history = app
                    .store
                    .history(ws, &profile.profile_id, HISTORY_SHOWN)
                    .await?;
                return Ok(json_response(200, &churn_json(&score, &history)));
            }
            Err(crate::ports::store::StoreError::TransactionCancelled { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::from(crate::ports::store::StoreError::Conflict))
}

/// `GET /api/v1/profiles/{id}`.
pub async fn get_profile(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let who = identity(app, req)?;
    let id = profile_id(id)?;
    let p = app
        .store
        .profile(&who.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no profile {id}")))?;
    let body = serde_json::to_value(&p).map_err(|_| ApiError::unavailable())?;
    Ok(json_response(200, &body))
}

/// `GET /api/v1/profiles/{id}/churn`: score, family contributions, factors with evidence, billing view, history.
pub async fn churn(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let who = identity(app, req)?;
    let id = profile_id(id)?;
    let (score, _) = app
        .store
        .score(&who.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("profile {id} has no score yet")))?;
    let history = app
        .store
        .history(&who.workspace_id, &id, HISTORY_SHOWN)
        .await?;
    Ok(json_response(200, &churn_json(&score, &history)))
}

fn billing_json(s: &StoredScore) -> Value {
    match &s.billing {
        None => Value::Null,
        Some(b) => json!({
            "stripe_customer_id": s.stripe_customer_id,
            "mrr": b.mrr,
            "mrr_by_currency": b.mrr_by_currency,
            "lifecycle": b.lifecycle,
            "renewal_date": b.renewal_date.map(|t| t.to_date()),
            "churn_type": b.churn_type,
            "scheduled_cancel": b.scheduled_cancel,
            "trial_end": b.trial_end.map(|t| t.to_date()),
            "trial_ending_without_payment_method": b.trial_ending_without_payment_method,
            "open_invoices": b.open_invoices,
            "active_discounts": b.active_discounts,
        }),
    }
}

fn churn_json(s: &StoredScore, history: &[HistoryEntry]) -> Value {
    let families: serde_json::Map<String, Value> = s
        .score
        .families
        .iter()
        .map(|(family, c)| {
            (
                family.as_str().to_owned(),
                json!({"impact": c.impact, "raw_impact": c.raw_impact, "max_abs": c.max_abs, "factors": c.factors}),
            )
        })
        .collect();
    json!({
        "profile_id": s.profile_id,
        "score": s.score.score,
        "at_risk": s.score.at_risk,
        "families": families,
        "classifier": {"churn_risk": s.score.classifier.churn_risk, "weight": s.score.classifier.weight},
        "explanation": s.score.explanation,
        "billing": billing_json(s),
        "computed_at": s.computed_at.to_rfc3339(),
        "history": history.iter().map(|h| json!({"at": h.at.to_rfc3339(), "score": h.score, "reason": h.reason})).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/churn/at-risk?limit=&cursor=`: highest score first.
pub async fn at_risk(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = identity(app, req)?;
    let query = req.query_string_parameters();
    let limit = match query.first("limit") {
        None => 50,
        Some(l) => l
            .parse::<i32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be between 1 and {MAX_PAGE}"))
            })?,
    };
    let cursor = query.first("cursor").map(str::to_owned);
    let threshold = app
        .settings
        .engine
        .at_risk_threshold
        .ceil()
        .clamp(0.0, 100.0) as u8;
    let page = app
        .store
        .at_risk(&who.workspace_id, threshold, limit, cursor)
        .await?;
    let data: Vec<Value> = page
        .items
        .iter()
        // The index sorts on the rounded score; the exact threshold is checked here.
        .filter(|s| s.score.at_risk)
        .map(|s| {
            let mut factors: Vec<&Factor> = s.score.families.values().flat_map(|c| c.factors.iter()).collect();
            factors.sort_by(|a, b| b.impact.abs().total_cmp(&a.impact.abs()));
            factors.truncate(3);
            json!({
                "profile_id": s.profile_id,
                "score": s.score.score,
                "top_factors": factors,
                "mrr": s.billing.as_ref().and_then(|b| b.mrr),
                "lifecycle": s.billing.as_ref().map(|b| b.lifecycle),
                "renewal_date": s.billing.as_ref().and_then(|b| b.renewal_date).map(|t| t.to_date()),
            })
        })
        .collect();
    Ok(json_response(
        200,
        &json!({"data": data, "next_cursor": page.next_cursor}),
    ))
}
