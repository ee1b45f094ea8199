//! `GET /api/v1/integrations/stripe` (status) and the failed-event replay route.

use crate::app::connect::method_name;
use crate::app::dashboard::DashboardError;
use crate::app::ingest::{Replayed, replay as replay_event};
use crate::domain::connection::Mode;
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::StripeEventId;
use crate::http::api::ApiRoutes;
use crate::http::auth::{Gate, Plan};
use crate::http::error::{ApiError, ok};
use crate::http::router::Reply;
use crate::ports::connections::{ConnectionStore, Credential, GrantStore};
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use lambda_http::Request;
use serde_json::{Value, json};

fn error_json(code: ErrorCode, message: &str) -> Value {
    json!({"code": code.as_str(), "message": message, "doc": code.doc()})
}

/// The connection's status as the dashboard shows it. Open to every plan: a
/// non-Pro workspace sees `ERR_PLAN_REQUIRED` here, which is why its card is locked.
pub async fn status<S, K>(api: &ApiRoutes<S, K>, req: &Request) -> Reply
where
    S: ConnectionStore + GrantStore + EventLog,
{
    let who = api.caller(req, Gate::AnyPlan)?;
    let failed = api.store.failed(&who.workspace_id).await?;
    let failed_events: Vec<Value> = failed
        .iter()
        .map(|r| {
            json!({
                "event_id": r.event.id,
                "type": r.event.kind.as_str(),
                "attempts": r.attempts,
                "last_error": r.last_error,
            })
        })
        .collect();
    let plan_error = (who.plan != Plan::Pro).then(|| {
        error_json(
            ErrorCode::ERR_PLAN_REQUIRED,
            "the Stripe integration requires the Pro plan",
        )
    });
    let grant = api.store.grant(&who.workspace_id).await?.map(|(g, _)| g);
    let body = match api.store.connection(&who.workspace_id).await? {
        None => json!({
            "connected": false,
            "method": null,
            "mode": null,
            "region": who.region,
            "account_id": null,
            "connected_since": null,
            "cross_region": false,
            "backfill": null,
            "last_sync_at": null,
            "error": plan_error,
            "failed_events": failed_events,
        }),
        Some((c, _)) => json!({
            "connected": c.feeds_scores(),
            "status": c.status,
            "connected_since": c.feeds_scores().then(|| c.connected_at.to_rfc3339()),
            "cross_region": grant.as_ref().is_some_and(|g| g.cross_region),
            "connection_id": grant.as_ref().map(|g| &g.connection_id),
            "webhook_path": grant
                .as_ref()
                .filter(|g| matches!(g.credential, Credential::ApiKey { .. }))
                .map(|g| format!("/webhooks/stripe/c/{}", g.connection_id)),
            "webhook_secrets": grant.as_ref().map_or(0, |g| g.webhook_secrets.len()),
            "window": c.window.as_str(),
            "method": method_name(c.method),
            "mode": if c.mode == Mode::Live { "live" } else { "test" },
            "region": c.region,
            "account_id": c.account_id,
            "backfill": c.backfill,
            "last_sync_at": c.last_sync_at.map(|t| t.to_rfc3339()),
            "error": plan_error.or_else(|| c.error.as_ref().map(|e| error_json(e.code, &e.message))),
            "failed_events": failed_events,
        }),
    };
    Ok(ok(&body))
}

/// `POST …/failed-events/{event_id}/replay`: re-runs one recorded event now.
pub async fn replay<S, K>(api: &ApiRoutes<S, K>, req: &Request, id: &str) -> Reply
where
    S: ConnectionStore + EventLog + IngestStore,
{
    let who = api.caller(req, Gate::Pro)?;
    let id = StripeEventId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = api.clock.now();
    let replayed = replay_event(
        &api.store,
        &api.settings.engine,
        now,
        &who.workspace_id,
        &id,
    )
    .await?;
    let body = match replayed {
        Replayed::Applied => json!({"event_id": id, "replayed": true}),
        Replayed::AlreadyApplied => {
            json!({"event_id": id, "replayed": false, "already_applied": true})
        }
        Replayed::NotFound => {
            return Err(DashboardError::NotFound(format!(
                "no recorded event {id} in this workspace"
            ))
            .into());
        }
        Replayed::FailedAgain(e) => return Err(DashboardError::ReplayFailed(e).into()),
    };
    Ok(ok(&body))
}
