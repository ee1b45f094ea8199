//! Profile routes the dashboard reads: parse the request, call the use case
//! in `app::dashboard`, map the answer. No status code is chosen here.

use crate::app::cursor;
use crate::app::dashboard::{self as uc, AtRiskQuery, Explained};
use crate::domain::contact::{Domain, Email};
use crate::domain::engine::Family;
use crate::domain::factors::{Factor, FactorSignal};
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::domain::lifecycle::Lifecycle;
use crate::domain::limits::{MAX_BATCH, MAX_BATCH_BYTES, MAX_PROFILE_BYTES};
use crate::domain::profile::{Profile, StoredScore};
use crate::domain::segment::{SegmentFilter, SegmentOrder};
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
    profile_from_value(id, value)
}

/// Reads one profile object (a PUT body, or one entry of a batch without its `id`).
fn profile_from_value(id: ProfileId, value: Value) -> Result<Profile, ApiError> {
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

/// `PUT /api/v1/profiles/{id}`: stores the profile and its new score together, then
/// matches waiting Stripe customers against it.
pub async fn put_profile<S, K>(api: &ApiRoutes<S, K>, req: &Request, id: &str) -> Reply
where
    S: crate::app::matching::MatchingStores,
{
    let who = api.caller(req, Gate::Pro)?;
    let profile = parse_profile(profile_id(id)?, req.body().as_ref())?;
    let now = api.clock.now();
    let explained = uc::put_profile_and_match(
        &api.store,
        &api.settings.engine,
        now,
        &who.workspace_id,
        &profile,
    )
    .await?;
    Ok(ok(&churn_json(&explained)))
}

/// One batch entry's outcome: the status its own `PUT` would have answered,
/// and that answer's error.
fn batch_result(index: usize, id: Option<&ProfileId>, outcome: Result<(), ApiError>) -> Value {
    let mut r = json!({"index": index, "id": id, "status": 200});
    if let Err(e) = outcome {
        r["status"] = json!(e.status());
        r["error"] = json!({"code": e.code.as_str(), "message": e.message});
    }
    r
}

/// Reads one batch entry: its `id`, then the rest as a profile body.
fn batch_entry(entry: Value) -> Result<Profile, (Option<ProfileId>, ApiError)> {
    let Value::Object(mut fields) = entry else {
        return Err((
            None,
            ApiError::bad_request("each entry must be a JSON object"),
        ));
    };
    let id = match fields.remove("id") {
        Some(Value::String(raw)) => profile_id(&raw).map_err(|e| (None, e))?,
        _ => {
            return Err((
                None,
                ApiError::bad_request("each entry needs an id (a string)"),
            ));
        }
    };
    profile_from_value(id.clone(), Value::Object(fields)).map_err(|e| (Some(id), e))
}

/// Profiles of one batch stored at the same time (each is its own transaction).
const BATCH_CONCURRENCY: usize = 8;

/// `POST /api/v1/profiles:batch`: up to [`MAX_BATCH`] profiles, each stored
/// and scored exactly as its own `PUT` would be; one result per entry, in
/// order. A malformed request as a whole is a 400 (413 beyond
/// [`MAX_BATCH_BYTES`]) and stores nothing; a bad entry fails alone.
pub async fn put_batch<S, K>(api: &ApiRoutes<S, K>, req: &Request) -> Reply
where
    S: ProfileStore + ConnectionStore + BillingStore,
{
    use futures::StreamExt;
    let who = api.caller(req, Gate::Pro)?;
    let body = req.body().as_ref();
    if body.len() > MAX_BATCH_BYTES {
        return Err(ApiError::too_large(format!(
            "a batch body is at most {MAX_BATCH_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let entries = match value {
        Value::Object(mut o) if o.len() == 1 => match o.remove("profiles") {
            Some(Value::Array(entries)) => entries,
            _ => return Err(ApiError::bad_request("profiles must be a list")),
        },
        _ => {
            return Err(ApiError::bad_request(
                r#"the body must be {"profiles": [...]}"#,
            ));
        }
    };
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "a batch holds 1 to {MAX_BATCH} profiles"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    let parsed: Vec<_> = entries
        .into_iter()
        .map(|e| match batch_entry(e) {
            // Two entries for one profile would race with each other.
            Ok(p) if !seen.insert(p.profile_id.clone()) => Err((
                Some(p.profile_id),
                ApiError::bad_request("the same id appears earlier in this batch"),
            )),
            other => other,
        })
        .collect();
    let now = api.clock.now();
    let ws = &who.workspace_id;
    let connected = uc::feeds_scores(&api.store, ws).await?;
    let cfg = &api.settings.engine;
    let results: Vec<Value> = futures::stream::iter(parsed.into_iter().enumerate())
        .map(|(i, entry)| async move {
            match entry {
                Err((id, e)) => batch_result(i, id.as_ref(), Err(e)),
                Ok(profile) => {
                    let stored = uc::store_profile(&api.store, cfg, now, ws, &profile, connected)
                        .await
                        .map(|_| ())
                        .map_err(ApiError::from);
                    batch_result(i, Some(&profile.profile_id), stored)
                }
            }
        })
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await;
    Ok(ok(&json!({"results": results})))
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

/// The billing view with every instant as a calendar date, as the dashboard shows them.
fn billing_json(s: &StoredScore) -> Value {
    let date = |t: Option<crate::domain::time::Timestamp>| t.map(|t| t.to_date());
    match &s.billing {
        None => Value::Null,
        Some(b) => json!({
            "stripe_customer_id": s.stripe_customer_id,
            "mrr": b.mrr,
            "mrr_by_currency": b.mrr_by_currency,
            "mrr_unknown": b.mrr_unknown,
            "lifecycle": b.lifecycle,
            "renewal_date": date(b.renewal_date),
            "churn_type": b.churn_type,
            // Live customers too: failing or disputed payments make the risk involuntary.
            "involuntary_risk": crate::domain::segment::involuntary(s),
            "scheduled_cancel": b.scheduled_cancel.iter().map(|c| json!({
                "subscription": c.subscription,
                "at": date(c.at),
            })).collect::<Vec<_>>(),
            "trial_end": date(b.trial_end),
            "trial_ending_without_payment_method": b.trial_ending_without_payment_method,
            "open_invoices": b.open_invoices.iter().map(|i| json!({
                "id": i.id,
                "amount_remaining": i.amount_remaining,
                "since": i.since.to_date(),
                "age_days": i.age_days,
                "bucket": i.bucket,
            })).collect::<Vec<_>>(),
            "active_discounts": b.active_discounts.iter().map(|d| json!({
                "subscription": d.subscription,
                "coupon_id": d.coupon_id,
                "value": d.value,
                "duration": d.duration,
                "end": date(d.end),
            })).collect::<Vec<_>>(),
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
        "classifier": {"churn_risk": s.score.classifier.churn_risk, "weight": s.score.classifier.weight, "impact": s.score.classifier.impact},
        "explanation": s.score.explanation,
        "billing": billing_json(s),
        "computed_at": s.computed_at.to_rfc3339(),
        "reason": s.reason,
        "rise_7d": s.rise_7d,
        "history": history.iter().map(|h| json!({
            "at": h.at.to_rfc3339(),
            "score": h.score,
            "previous_score": h.previous_score,
            "reason": h.reason,
            "changes": h.changes,
        })).collect::<Vec<_>>(),
    })
}

/// The lifecycle named by `raw`, if it is one.
fn lifecycle(raw: &str) -> Option<Lifecycle> {
    [
        Lifecycle::None,
        Lifecycle::Trial,
        Lifecycle::Customer,
        Lifecycle::Churned,
    ]
    .into_iter()
    .find(|l| l.as_str() == raw)
}

/// Reads `sort`, `lifecycle`, `min_score` and `involuntary`.
fn at_risk_query(
    query: &lambda_http::aws_lambda_events::query_map::QueryMap,
) -> Result<AtRiskQuery, ApiError> {
    let order = match query.first("sort") {
        None => SegmentOrder::Score,
        Some(s) => SegmentOrder::parse(s)
            .ok_or_else(|| ApiError::bad_request("sort must be score or rising"))?,
    };
    let lifecycle = query
        .first("lifecycle")
        .map(|l| {
            lifecycle(l).ok_or_else(|| {
                ApiError::bad_request("lifecycle must be one of none, trial, customer, churned")
            })
        })
        .transpose()?;
    let min_score = query
        .first("min_score")
        .map(|m| {
            m.parse::<f64>()
                .ok()
                .filter(|m| (0.0..=100.0).contains(m))
                .ok_or_else(|| ApiError::bad_request("min_score must be a number from 0 to 100"))
        })
        .transpose()?;
    let involuntary = match query.first("involuntary") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("involuntary must be true or false")),
    };
    Ok(AtRiskQuery {
        order,
        filter: SegmentFilter {
            lifecycle,
            min_score,
            involuntary,
        },
    })
}

/// The three factors that move the score most (by absolute impact).
fn top_factors(s: &StoredScore) -> Vec<&Factor> {
    let mut factors: Vec<&Factor> = s
        .score
        .families
        .values()
        .flat_map(|c| c.factors.iter())
        .collect();
    factors.sort_by(|a, b| b.impact.abs().total_cmp(&a.impact.abs()));
    factors.truncate(3);
    factors
}

/// `GET /api/v1/churn/at-risk?limit=&cursor=&sort=score|rising&lifecycle=&min_score=&involuntary=`.
pub async fn at_risk<S: ProfileStore, K: SecretSource>(
    api: &ApiRoutes<S, K>,
    req: &Request,
) -> Reply {
    let who = api.caller(req, Gate::Pro)?;
    once_each(
        req,
        &[
            "limit",
            "cursor",
            "sort",
            "lifecycle",
            "min_score",
            "involuntary",
        ],
    )?;
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
    let wanted = at_risk_query(&query)?;
    // The cursor is bound to the order and filters: another query's cursor is a 400.
    let bound = format!(
        "at-risk:{}{}",
        wanted.order.as_str(),
        wanted.filter.canonical()
    );
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
        .map(|c| cursor::open(&key, &who.workspace_id, &bound, c))
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid cursor"))?;
    let page = uc::at_risk(
        &api.store,
        &api.settings.engine,
        api.clock.now(),
        &who.workspace_id,
        &wanted,
        limit,
        cursor,
    )
    .await
    .map_err(ApiError::from)?;
    let next_cursor = page
        .next_cursor
        .as_ref()
        .map(|c| cursor::seal(&key, &who.workspace_id, &bound, c));
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|row| {
            let s = &row.score;
            json!({
                "profile_id": s.profile_id,
                "score": s.score.score,
                "delta": row.rise,
                "top_factors": top_factors(s),
                "mrr": s.billing.as_ref().and_then(|b| b.mrr),
                "lifecycle": s.billing.as_ref().map(|b| b.lifecycle),
                "renewal_date": s.billing.as_ref().and_then(|b| b.renewal_date).map(|t| t.to_date()),
                "churn_type": s.billing.as_ref().and_then(|b| b.churn_type),
                "computed_at": s.computed_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(ok(&json!({"data": data, "next_cursor": next_cursor})))
}
