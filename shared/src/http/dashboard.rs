//! Profile routes the dashboard reads: parse the request, call the use case
//! in `app::dashboard`, map the answer. No status code is chosen here.

use crate::app::cursor;
use crate::app::dashboard::{self as uc, Explained};
use crate::domain::contact::{Domain, Email};
use crate::domain::engine::Family;
use crate::domain::factors::{Factor, FactorSignal};
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::domain::limits::MAX_PROFILE_BYTES;
use crate::domain::profile::{Profile, StoredScore};
use crate::http::api::ApiRoutes;
use crate::http::auth::Gate;
use crate::http::error::{ApiError, ok};
use crate::http::router::{Reply, once_each};
use crate::ports::billing::BillingStore;
use crate::ports::connections::ConnectionStore;
use crate::ports::profiles::ProfileStore;
use crate::ports::secrets::{SecretName, SecretSource};
use crate::ports::store::PageSize;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::domain::limits::{AT_RISK_PAGE_DEFAULT as DEFAULT_PAGE, AT_RISK_PAGE_MAX as MAX_PAGE};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalFactor {
    signal: String,
    impact: f64,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    evidence: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Reads a profile body: a JSON object (never an array read by field
/// position), known fields only. Messages name the rule and the position,
/// never the caller's input or our internal types.
pub fn parse_profile(id: ProfileId, body: &[u8]) -> Result<Profile, ApiError> {
    if body.len() > MAX_PROFILE_BYTES {
        return Err(ApiError::too_large(format!(
            "a profile body is at most {MAX_PROFILE_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let b: ProfileBody = serde_json::from_value(value).map_err(|_| {
        ApiError::bad_request(
            "the profile body has an unknown field or a field of the wrong type; see docs/openapi.yaml",
        )
    })?;
    let mut families = BTreeMap::new();
    for (name, factors) in b.families {
        let family = Family::parse(&name)
            .filter(|f| *f != Family::Billing)
            .ok_or_else(|| ApiError::bad_request("unknown family: expected one of crm, product_usage, support, engagement, sentiment, contract"))?;
        let mut out = Vec::with_capacity(factors.len());
        for (i, f) in factors.into_iter().enumerate() {
            let signal = FactorSignal::external(f.signal).map_err(|e| {
                ApiError::bad_request(format!("families.{}[{i}].signal: {e}", family.as_str()))
            })?;
            out.push(Factor {
                signal,
                impact: f.impact,
                explanation: f.explanation,
                evidence: f.evidence,
                evidence_dates: Vec::new(),
            });
        }
        families.insert(family, out);
    }
    let stripe_customer_id = b
        .stripe_customer_id
        .map(StripeCustomerId::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let clean = |s: Option<String>| s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(Profile {
        profile_id: id,
        email: clean(b.email)
            .map(Email::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        domain: clean(b.domain)
            .map(Domain::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        name: clean(b.name),
        stripe_customer_id,
        families,
        classifier_churn_risk: b.classifier_churn_risk,
    })
}

fn profile_id(raw: &str) -> Result<ProfileId, ApiError> {
    ProfileId::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `PUT /api/v1/profiles/{id}`: stores the profile and its new score together.
pub async fn put_profile<S, K>(api: &ApiRoutes<S, K>, req: &Request, id: &str) -> Reply
where
    S: ProfileStore + ConnectionStore + BillingStore,
{
    let who = api.caller(req, Gate::Pro)?;
    let profile = parse_profile(profile_id(id)?, req.body().as_ref())?;
    let now = api.clock.now();
    let explained = uc::put_profile(
        &api.store,
        &api.settings.engine,
        now,
        &who.workspace_id,
        &profile,
    )
    .await?;
    Ok(ok(&churn_json(&explained)))
}

/// `GET /api/v1/profiles/{id}`.
pub async fn get_profile<S: ProfileStore, K>(
    api: &ApiRoutes<S, K>,
    req: &Request,
    id: &str,
) -> Reply {
    let who = api.caller(req, Gate::Pro)?;
    let p = uc::profile(&api.store, &who.workspace_id, &profile_id(id)?).await?;
    let body = serde_json::to_value(&p).map_err(|_| ApiError::unavailable())?;
    Ok(ok(&body))
}

/// `GET /api/v1/profiles/{id}/churn`: score, family contributions, factors with evidence, billing view, history.
pub async fn churn<S: ProfileStore, K>(api: &ApiRoutes<S, K>, req: &Request, id: &str) -> Reply {
    let who = api.caller(req, Gate::Pro)?;
    let explained = uc::explained(&api.store, &who.workspace_id, &profile_id(id)?).await?;
    Ok(ok(&churn_json(&explained)))
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

fn churn_json(e: &Explained) -> Value {
    let (s, history) = (&e.score, &e.history);
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

/// The query an at-risk cursor is bound to.
const AT_RISK_QUERY: &str = "at-risk:score";

/// `GET /api/v1/churn/at-risk?limit=&cursor=`: highest score first.
pub async fn at_risk<S: ProfileStore, K: SecretSource>(
    api: &ApiRoutes<S, K>,
    req: &Request,
) -> Reply {
    let who = api.caller(req, Gate::Pro)?;
    once_each(req, &["limit", "cursor"])?;
    let query = req.query_string_parameters();
    let limit = match query.first("limit") {
        None => PageSize::new(DEFAULT_PAGE),
        Some(l) => l
            .parse::<u16>()
            .ok()
            .filter(|l| *l <= MAX_PAGE)
            .and_then(PageSize::new),
    }
    .ok_or_else(|| ApiError::bad_request(format!("limit must be between 1 and {MAX_PAGE}")))?;
    let key = api
        .secrets
        .get(&SecretName::API_CURSOR_KEY)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cursor key unavailable");
            ApiError::new(
                crate::domain::error_code::ErrorCode::ERR_CONFIG,
                "the API is not configured",
            )
        })?;
    let cursor = query
        .first("cursor")
        .map(|c| cursor::open(&key, &who.workspace_id, AT_RISK_QUERY, c))
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid cursor"))?;
    let page = uc::at_risk(
        &api.store,
        &api.settings.engine,
        &who.workspace_id,
        limit,
        cursor,
    )
    .await
    .map_err(ApiError::from)?;
    let next_cursor = page
        .next_cursor
        .as_ref()
        .map(|c| cursor::seal(&key, &who.workspace_id, AT_RISK_QUERY, c));
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|s: &StoredScore| {
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
    Ok(ok(&json!({"data": data, "next_cursor": next_cursor})))
}
