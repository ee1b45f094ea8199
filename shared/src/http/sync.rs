//! The sync and matching routes (`SyncRoutes`): sync now, replay the backfill, the match
//! table, the manual mapping, rematch. Mounted by the API function and the local runner.
//! Sync and backfill only queue work; the sync worker runs it.

use crate::app::cursor;
use crate::app::matching::{MatchingStores, rematch, set_mapping};
use crate::app::sync::request::{Requested, request_backfill, request_sync};
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{ProfileId, StripeCustomerId};
use crate::domain::matching::{AUTO_MATCH_MIN, MatchStatus};
use crate::http::Settings;
use crate::http::auth::{Gate, Identity};
use crate::http::error::{ApiError, json_response, ok};
use crate::http::router::{Reply, Routes, method_not_allowed, once_each};
use crate::ports::clock::Clock;
use crate::ports::matches::MatchRecord;
use crate::ports::secrets::{SecretName, SecretSource};
use crate::ports::store::PageSize;
use crate::ports::sync::SyncStore;
use futures::future::BoxFuture;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Match-table rows per page by default, and at most.
const DEFAULT_PAGE: u16 = 50;
const MAX_PAGE: u16 = 200;

/// What the sync routes need: the store, the secrets (the cursor key), the clock.
pub struct SyncRoutes<S, K> {
    /// The table.
    pub store: S,
    /// Operator secrets (the cursor signing key).
    pub secrets: K,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub settings: Settings,
}

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/integrations/stripe/sync"),
    ("POST", "/api/v1/integrations/stripe/backfill"),
    ("GET", "/api/v1/integrations/stripe/matches"),
    (
        "PATCH",
        "/api/v1/integrations/stripe/customer-mapping/{profile_id}",
    ),
    ("POST", "/api/v1/integrations/stripe/rematch"),
];

impl<S, K> Routes for SyncRoutes<S, K>
where
    S: SyncStore + MatchingStores + 'static,
    K: SecretSource + Send + Sync + 'static,
{
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>> {
        let method = req.method().as_str();
        let reply: BoxFuture<'a, Reply> = match path {
            ["api", "v1", "integrations", "stripe", "sync"] => match method {
                "POST" => Box::pin(self.sync(req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "integrations", "stripe", "backfill"] => match method {
                "POST" => Box::pin(self.backfill(req)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "integrations", "stripe", "matches"] => match method {
                "GET" => Box::pin(self.matches(req)),
                _ => return method_not_allowed(req),
            },
            [
                "api",
                "v1",
                "integrations",
                "stripe",
                "customer-mapping",
                id,
            ] => match method {
                "PATCH" => Box::pin(self.mapping(req, id)),
                _ => return method_not_allowed(req),
            },
            ["api", "v1", "integrations", "stripe", "rematch"] => match method {
                "POST" => Box::pin(self.rematch(req)),
                _ => return method_not_allowed(req),
            },
            _ => return None,
        };
        Some(reply)
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingBody {
    stripe_customer_id: Option<String>,
}

fn no_connection() -> ApiError {
    ApiError::not_found("this workspace has no connected Stripe account")
}

/// One match-table row as the dashboard shows it.
fn row(r: &MatchRecord) -> Value {
    let d = &r.decision;
    let error = (d.status == MatchStatus::Review).then(|| {
        json!({
            "code": ErrorCode::ERR_MATCH_LOW.as_str(),
            "message": format!("confidence {} % is below {AUTO_MATCH_MIN} %: review before it feeds a score", d.confidence),
            "doc": ErrorCode::ERR_MATCH_LOW.doc(),
        })
    });
    json!({
        "stripe_customer_id": r.contact.customer,
        "email": r.contact.email,
        "profile_id": d.profile_id,
        "status": d.status.as_str(),
        "method": d.method,
        "confidence": d.confidence,
        "candidates": d.candidates,
        "reason": d.reason,
        "decided_at": r.decided_at.to_rfc3339(),
        "error": error,
    })
}

impl<S, K> SyncRoutes<S, K>
where
    S: SyncStore + MatchingStores,
    K: SecretSource + Send + Sync,
{
    fn caller(&self, req: &Request) -> Result<Identity, ApiError> {
        Ok(Identity::authorize(req, self.settings.region, Gate::Pro)?)
    }

    /// `POST …/sync`: queues a sync (one run at a time).
    async fn sync(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        match request_sync(&self.store, &who.workspace_id).await? {
            Requested::Queued | Requested::AlreadyQueued => {
                Ok(json_response(202, &json!({"sync": {"state": "queued"}})))
            }
            Requested::Running => Err(ApiError::new(
                ErrorCode::ERR_CONFLICT,
                "a sync is already running for this workspace; one run at a time",
            )),
            Requested::NotConnected => Err(no_connection()),
        }
    }

    /// `POST …/backfill`: replays the backfill.
    async fn backfill(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        match request_backfill(&self.store, &who.workspace_id).await? {
            Requested::Queued | Requested::AlreadyQueued | Requested::Running => Ok(json_response(
                202,
                &json!({"backfill": {"state": "pending"}}),
            )),
            Requested::NotConnected => Err(no_connection()),
        }
    }

    /// `GET …/matches?status=matched|review|unmatched&limit=&cursor=`.
    async fn matches(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        once_each(req, &["status", "limit", "cursor"])?;
        let query = req.query_string_parameters();
        let status = match query.first("status") {
            None => MatchStatus::Matched,
            Some(s) => MatchStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request("status must be one of matched, review, unmatched")
            })?,
        };
        let limit = match query.first("limit") {
            None => PageSize::new(DEFAULT_PAGE),
            Some(l) => l
                .parse::<u16>()
                .ok()
                .filter(|l| *l <= MAX_PAGE)
                .and_then(PageSize::new),
        }
        .ok_or_else(|| ApiError::bad_request(format!("limit must be between 1 and {MAX_PAGE}")))?;
        let key = self
            .secrets
            .get(&SecretName::API_CURSOR_KEY)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cursor key unavailable");
                ApiError::new(ErrorCode::ERR_CONFIG, "the API is not configured")
            })?;
        let bound = format!("matches:{}", status.as_str());
        let cursor = query
            .first("cursor")
            .map(|c| cursor::open(&key, &who.workspace_id, &bound, c))
            .transpose()
            .map_err(|_| ApiError::bad_request("invalid cursor"))?;
        let page = self
            .store
            .matches(&who.workspace_id, status, limit, cursor)
            .await?;
        let next_cursor = page
            .next_cursor
            .as_ref()
            .map(|c| cursor::seal(&key, &who.workspace_id, &bound, c));
        let data: Vec<Value> = page.items.iter().map(row).collect();
        Ok(ok(&json!({"data": data, "next_cursor": next_cursor})))
    }

    /// `PATCH …/customer-mapping/{profile_id}` `{"stripe_customer_id": "cus_…" | null}`.
    async fn mapping(&self, req: &Request, id: &str) -> Reply {
        let who = self.caller(req)?;
        let pid = ProfileId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let body: MappingBody = serde_json::from_slice(req.body().as_ref()).map_err(|_| {
            ApiError::bad_request(
                "the body must be {\"stripe_customer_id\": \"cus_…\"} or {\"stripe_customer_id\": null}",
            )
        })?;
        let customer = body
            .stripe_customer_id
            .map(StripeCustomerId::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let now = self.clock.now();
        let profile = set_mapping(
            &self.store,
            &self.settings.engine,
            now,
            &who.workspace_id,
            &pid,
            customer,
        )
        .await?;
        Ok(ok(&json!({
            "profile_id": profile.profile_id,
            "stripe_customer_id": profile.stripe_customer_id,
            "method": "manual",
            "confidence": 100,
        })))
    }

    /// `POST …/rematch`: every customer of the match table decided again.
    async fn rematch(&self, req: &Request) -> Reply {
        let who = self.caller(req)?;
        let now = self.clock.now();
        let counts = rematch(&self.store, &self.settings.engine, now, &who.workspace_id).await?;
        Ok(ok(&json!({
            "matched": counts.matched,
            "review": counts.review,
            "unmatched": counts.unmatched,
        })))
    }
}
