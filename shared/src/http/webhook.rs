//! `POST /webhooks/stripe`: verify on the raw body first, then ingest.
//! Rejections store nothing and are counted by reason.

use crate::app::ingest::{Ingested, ingest};
use crate::domain::error_code::ErrorCode;
use crate::http::app::App;
use crate::http::error::{ApiError, json_response};
use crate::ports::secrets::{SecretName, SecretSource};
use crate::stripe::verify_and_parse;
use crate::stripe::webhook::WebhookError;
use crate::telemetry::count;
use lambda_http::{Body, Request, Response};
use serde_json::json;

fn reject(reason: &str, err: ApiError) -> Response<Body> {
    count("WebhooksRejected", ("Reason", reason), 1);
    err.into_response()
}

/// Handles one delivery. 2xx only once the event is durably recorded (or
/// deliberately ignored); 5xx when recording failed, so Stripe retries.
pub async fn receive(app: &App, req: &Request) -> Response<Body> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > app.settings.max_webhook_bytes {
        return reject(
            "too_large",
            ApiError::new(
                413,
                ErrorCode::ERR_PAYLOAD_TOO_LARGE,
                "webhook body larger than 1 MiB",
            ),
        );
    }
    let Some(header) = req
        .headers()
        .get("stripe-signature")
        .and_then(|h| h.to_str().ok())
    else {
        return reject(
            "signature",
            ApiError::new(
                400,
                ErrorCode::ERR_WEBHOOK_SIG,
                "missing Stripe-Signature header",
            ),
        );
    };
    let secrets = match app
        .secrets
        .get_list(&SecretName::STRIPE_WEBHOOK_SECRET)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "webhook secrets unavailable");
            return reject("secrets", ApiError::unavailable());
        }
    };
    let now = app.clock.now();
    let event = match verify_and_parse(
        header,
        body,
        &secrets,
        now,
        app.settings.webhook_tolerance_secs,
    ) {
        Ok(e) => e,
        Err(e @ WebhookError::Signature(_)) => {
            let code = e.code();
            let reason = if code == ErrorCode::ERR_WEBHOOK_STALE {
                "stale"
            } else {
                "signature"
            };
            return reject(reason, ApiError::new(400, code, e.to_string()));
        }
        Err(e @ WebhookError::Parse(_)) => {
            return reject(
                "not_an_event",
                ApiError::bad_request(format!("signed body is not a Stripe event: {e}")),
            );
        }
    };
    let span = tracing::info_span!(
        "webhook",
        event_id = %event.id,
        stripe_account = event.account.as_ref().map(|a| a.as_str()).unwrap_or("-"),
        event_type = %event.kind,
    );
    let _enter = span.enter();
    match ingest(&app.store, &app.settings.engine, now, event).await {
        Ok(outcome) => {
            let label = outcome_label(&outcome);
            count("WebhooksAccepted", ("Outcome", label), 1);
            json_response(200, &json!({"received": true, "outcome": label}))
        }
        Err(e) => {
            tracing::error!(error = %e, "event not recorded; asking Stripe to retry");
            count("WebhooksRejected", ("Reason", "store"), 1);
            ApiError::unavailable().into_response()
        }
    }
}

fn outcome_label(outcome: &Ingested) -> &'static str {
    use crate::app::ingest::Ignored;
    match outcome {
        Ingested::Applied { .. } => "applied",
        Ingested::Duplicate => "duplicate",
        Ingested::Ignored(Ignored::EventType(_)) => "ignored_type",
        Ingested::Ignored(Ignored::UnknownAccount) => "unknown_account",
        Ingested::Ignored(Ignored::NotConnected) => "not_connected",
        Ingested::Ignored(Ignored::NoCustomer) => "no_customer",
        Ingested::ModeMismatch => "mode_mismatch",
        Ingested::Deauthorized => "deauthorized",
        Ingested::Deferred { .. } => "deferred",
    }
}
