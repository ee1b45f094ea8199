//! Control endpoints under `/_sim` (no auth): drive the clock, emit events, flip account states.

use crate::sim::{Flag, Simulator};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

fn bad(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": {"type": "invalid_request_error", "message": message}})),
    )
        .into_response()
}

/// `?days=N` for `/_sim/advance`.
#[derive(Debug, Deserialize)]
pub struct AdvanceQuery {
    days: Option<u32>,
}

/// `POST /_sim/advance?days=N` (default 1): runs the lifecycle and delivers webhooks.
pub async fn advance(State(sim): State<Simulator>, Query(q): Query<AdvanceQuery>) -> Response {
    let report = sim.advance_days(q.days.unwrap_or(1)).await;
    axum::Json(report).into_response()
}

/// Parameters of `/_sim/emit`.
#[derive(Debug, Deserialize)]
pub struct EmitQuery {
    account: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    customer: String,
}

/// `POST /_sim/emit?type=T&customer=cus_…[&account=acct_…]`: one event now.
pub async fn emit(State(sim): State<Simulator>, Query(q): Query<EmitQuery>) -> Response {
    let account = q
        .account
        .or_else(|| sim.accounts().first().map(|a| a.id.clone()))
        .unwrap_or_default();
    match sim.emit(&account, &q.kind, &q.customer).await {
        Ok(ids) => axum::Json(json!({"events": ids})).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

/// `?enabled=false` clears a toggle; it is set otherwise.
#[derive(Debug, Deserialize)]
pub struct ToggleQuery {
    enabled: Option<bool>,
}

/// `POST /_sim/accounts/{id}/{revoke|restrict|permission_denied}[?enabled=false]`.
pub async fn toggle(
    State(sim): State<Simulator>,
    Path((id, what)): Path<(String, String)>,
    Query(q): Query<ToggleQuery>,
) -> Response {
    let flag = match what.as_str() {
        "revoke" => Flag::Revoked,
        "restrict" => Flag::Restricted,
        "permission_denied" => Flag::PermissionDenied,
        other => {
            return bad(format!(
                "unknown toggle {other}: use revoke, restrict or permission_denied"
            ));
        }
    };
    let on = q.enabled.unwrap_or(true);
    if sim.set_flag(&id, flag, on) {
        axum::Json(json!({"account": id, "toggle": what, "enabled": on})).into_response()
    } else {
        (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"type": "invalid_request_error", "message": format!("no such account {id}")}}))).into_response()
    }
}

/// `POST /_sim/tokens/expire`: every Apps access token is now expired.
pub async fn expire_tokens(State(sim): State<Simulator>) -> Response {
    sim.expire_access_tokens();
    axum::Json(json!({"expired": true})).into_response()
}

/// `GET /_sim/stats`: clock, counters, per-account counts and webhook results.
pub async fn stats(State(sim): State<Simulator>) -> Response {
    let accounts: Vec<_> = sim
        .accounts()
        .into_iter()
        .map(|a| json!({"id": a.id, "counts": sim.counts(&a.id)}))
        .collect();
    let deliveries = sim.deliveries();
    axum::Json(json!({
        "now": sim.now().unix(),
        "requests": sim.requests(),
        "non_get_requests": sim.non_get_requests(),
        "rate_limited": sim.rate_limited(),
        "accounts": accounts,
        "deliveries": {
            "total": deliveries.len(),
            "ok": deliveries.iter().filter(|d| d.ok()).count(),
            "failed": deliveries.iter().filter(|d| !d.ok()).count()
        }
    }))
    .into_response()
}

/// `GET /_sim/deliveries`: every webhook delivery with its result.
pub async fn deliveries(State(sim): State<Simulator>) -> Response {
    axum::Json(sim.deliveries()).into_response()
}
